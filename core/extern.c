/* Externs (.kconfig values, __ksym addresses and kfuncs): resolving them into instructions. */
#include <errno.h>

#include "error.h"
#include "internal.h"

int lbpf_extern_apply(lbpf_object *obj, const struct lbpf_extern *ext, struct bpf_insn *insn);

int lbpf_extern_apply(lbpf_object *obj, const struct lbpf_extern *ext, struct bpf_insn *insn)
{
	(void)obj;
	(void)insn;
	return lbpf_err(EOPNOTSUPP, "extern '%s' cannot be resolved: externs are not supported yet",
			ext->name);
}

/* freplace: an extension program (BPF_PROG_TYPE_EXT) replaces a global function of a program
 * already loaded. Its target is that program's fd and the function's BTF id in the program's own
 * BTF, both given to BPF_PROG_LOAD (attach_prog_fd, attach_btf_id), as libbpf does. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "internal.h"

int lbpf_program_set_attach_target(lbpf_program *prog, int target_prog_fd, const char *func)
{
	char *name = NULL;
	int fd;

	if (prog->obj && prog->obj->loaded)
		return lbpf_err(EBUSY, "program '%s' is already loaded", prog->name);
	if (target_prog_fd < 0)
		return lbpf_err(EBADF, "program '%s': the target program is not loaded", prog->name);
	if (func && !(name = strdup(func)))
		return lbpf_err(ENOMEM, "out of memory");
	/* Our own copy: the caller's program may be closed before this one loads. */
	fd = fcntl(target_prog_fd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0) {
		free(name);
		return lbpf_err(errno, "program '%s': duplicating the target's fd: %s", prog->name,
				strerror(errno));
	}
	if (prog->attach_prog_fd > 0)
		close(prog->attach_prog_fd);
	free(prog->attach_func);
	prog->attach_prog_fd = fd;
	prog->attach_func = name;
	return 0;
}

/* attach_btf_id of an extension program: its target function in the target program's BTF. */
int lbpf_freplace_resolve(lbpf_program *prog)
{
	const char *func = prog->attach_func ? prog->attach_func : prog->attach_name;
	struct bpf_prog_info info;
	lbpf_btf *btf;
	int32_t id;
	int ret;

	if (prog->attach_prog_fd <= 0)
		return lbpf_err(EINVAL, "program '%s' (section '%s') replaces a function of another "
				"program: name it first with set_attach_target(program, function)",
				prog->name, prog->sec_name);
	if (!func || !*func)
		return lbpf_err(EINVAL, "program '%s': which function does it replace? Use section "
				"freplace/FUNCTION or set_attach_target(program, function)", prog->name);
	if ((ret = lbpf_prog_fd_get_info(prog->attach_prog_fd, &info)) < 0)
		return ret;
	if (!info.btf_id)
		return lbpf_err(EINVAL, "program '%s': the target program '%s' was loaded without BTF: "
				"its functions cannot be replaced", prog->name, info.name);
	if ((ret = lbpf_btf_from_id(info.btf_id, &btf)) < 0)
		return ret;
	id = lbpf_btf_find(btf, func, BTF_KIND_FUNC);
	lbpf_btf_free(btf);
	if (id < 0)
		return lbpf_err(ENOENT, "program '%s': the target program '%s' has no function '%s'",
				prog->name, info.name, func);
	prog->attach_btf_id = (uint32_t)id;
	return 0;
}

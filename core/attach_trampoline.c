/* fentry / fexit / fmod_ret / lsm / tp_btf / freplace: BPF trampoline links. The target was
 * fixed when the program loaded (attach_btf_id). */
#include <errno.h>
#include <string.h>

#include "attach_int.h"
#include "error.h"
#include "sys.h"

static const char *kind_of(const lbpf_program *prog)
{
	switch ((int)lbpf_program_expected_attach_type(prog)) {
	case BPF_TRACE_FENTRY: return "fentry";
	case BPF_TRACE_FEXIT: return "fexit";
	case BPF_MODIFY_RETURN: return "fmod_ret";
	case BPF_LSM_MAC: return "lsm";
	case BPF_LSM_CGROUP: return "lsm_cgroup";
	case BPF_TRACE_RAW_TP: return "tp_btf";
	default: return lbpf_program_type(prog) == BPF_PROG_TYPE_EXT ? "freplace" : "tracing";
	}
}

int lbpf_program_attach_trampoline(lbpf_program *prog, lbpf_link **out)
{
	const char *kind = kind_of(prog), *sec = lbpf_program_section(prog);
	union bpf_attr attr;
	int prog_fd = attach_prog_fd(prog), fd;

	*out = NULL;
	if (prog_fd < 0)
		return prog_fd;
	/* RAW_TRACEPOINT_OPEN with no name attaches tracing and LSM programs to the BTF target
	 * they were loaded for; it exists since 5.5, before LINK_CREATE learnt tracing. */
	memset(&attr, 0, sizeof(attr));
	attr.raw_tracepoint.prog_fd = prog_fd;
	fd = lbpf_sys_bpf(BPF_RAW_TRACEPOINT_OPEN, &attr, sizeof(attr));
	if (fd == -EINVAL || fd == -EOPNOTSUPP)
		fd = attach_link_create(prog_fd, 0, lbpf_program_expected_attach_type(prog), 0,
					NULL, 0);
	if (fd == -EPERM || fd == -EACCES)
		return lbpf_err(fd, "%s refused by the kernel: %s (BPF trampolines are not allowed "
				"here) attaching program '%s'", kind, fd == -EPERM ? "EPERM" : "EACCES",
				lbpf_program_name(prog));
	if (fd < 0)
		return lbpf_err(fd, "program '%s': attaching %s (%s): %s", lbpf_program_name(prog),
				kind, sec ? sec : "?", strerror(-fd));
	*out = attach_bpf_link_new(fd, "%s %s program %s", kind, sec ? sec : "?",
				   lbpf_program_name(prog));
	return *out ? 0 : -ENOMEM;
}

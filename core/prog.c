/* Programs: loading into the kernel (with the verifier's reasons on failure) and test runs. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "btf_internal.h"
#include "core_reloc.h"
#include "error.h"
#include "internal.h"
#include "sys.h"

#define LOG_BUF_SIZE (4u << 20)   /* kernels ≥ 6.4 keep the log's tail when it overflows */
#define LOG_TAIL_LINES 24

const char *lbpf_program_name(const lbpf_program *prog) { return prog->name; }
const char *lbpf_program_section(const lbpf_program *prog) { return prog->sec_name; }
lbpf_object *lbpf_program_object(const lbpf_program *prog) { return prog->obj; }
int lbpf_program_fd(const lbpf_program *prog) { return prog->fd >= 0 ? prog->fd : -EBADF; }
enum bpf_prog_type lbpf_program_type(const lbpf_program *prog) { return prog->type; }
bool lbpf_program_autoload(const lbpf_program *prog) { return prog->autoload; }
size_t lbpf_program_insn_count(const lbpf_program *prog) { return prog->insn_cnt; }

enum bpf_attach_type lbpf_program_expected_attach_type(const lbpf_program *prog)
{
	return prog->expected_attach_type;
}

static int check_not_loaded(const lbpf_program *prog)
{
	if (prog->obj && prog->obj->loaded)
		return lbpf_err(EBUSY, "program '%s' is already loaded", prog->name);
	return 0;
}

int lbpf_program_set_autoload(lbpf_program *prog, bool autoload)
{
	int ret = check_not_loaded(prog);

	if (!ret)
		prog->autoload = autoload;
	return ret;
}

int lbpf_program_set_type(lbpf_program *prog, enum bpf_prog_type type)
{
	int ret = check_not_loaded(prog);

	if (!ret)
		prog->type = type;
	return ret;
}

int lbpf_program_set_expected_attach_type(lbpf_program *prog, enum bpf_attach_type type)
{
	int ret = check_not_loaded(prog);

	if (!ret)
		prog->expected_attach_type = type;
	return ret;
}

int lbpf_program_set_flags(lbpf_program *prog, uint32_t flags)
{
	int ret = check_not_loaded(prog);

	if (!ret)
		prog->prog_flags = flags;
	return ret;
}

int lbpf_program_set_log_level(lbpf_program *prog, uint32_t level)
{
	int ret = check_not_loaded(prog);

	if (!ret)
		prog->log_level = level;
	return ret;
}

int lbpf_program_set_autoattach(lbpf_program *prog, bool autoattach)
{
	prog->autoattach = autoattach; /* read by obj:attach() in Lua, also after load */
	return 0;
}

uint32_t lbpf_program_flags(const lbpf_program *prog) { return prog->prog_flags; }
uint32_t lbpf_program_log_level(const lbpf_program *prog) { return prog->log_level; }
bool lbpf_program_autoattach(const lbpf_program *prog) { return prog->autoattach; }
const char *lbpf_program_log(const lbpf_program *prog) { return prog->log; }

/* libbpf's bpf_program__set_attach_target: the function a fentry/fexit/freplace program
 * attaches to, in the kernel (attach_prog_fd < 0: by name in vmlinux BTF, at load) or in a
 * loaded BPF program (its BTF, at load). */
int lbpf_program_set_attach_target(lbpf_program *prog, int attach_prog_fd, const char *func_name)
{
	int ret = check_not_loaded(prog), fd = -1;
	char *name = NULL;

	if (ret)
		return ret;
	if (!func_name || !*func_name)
		func_name = prog->attach_name; /* freplace/FUNC: the function its section names */
	if (!func_name || !*func_name)
		return lbpf_err(EINVAL, "program '%s': attach target needs a function name",
				prog->name);
	if (attach_prog_fd >= 0 && (fd = fcntl(attach_prog_fd, F_DUPFD_CLOEXEC, 3)) < 0)
		return lbpf_err(errno, "program '%s': attach target fd %d: %s", prog->name,
				attach_prog_fd, strerror(errno));
	if (!(name = strdup(func_name))) {
		if (fd >= 0)
			close(fd);
		return lbpf_err(ENOMEM, "out of memory");
	}
	if (prog->attach_prog_fd > 0)
		close(prog->attach_prog_fd);
	free(prog->attach_name_owned);
	prog->attach_prog_fd = fd;
	prog->attach_name = prog->attach_name_owned = name;
	prog->attach_btf_kind = 1;
	prog->attach_btf_id = 0;
	return 0;
}

void lbpf_kernel_name(char dst[BPF_OBJ_NAME_LEN], const char *src);

/* The last lines of the verifier log: where it stopped, and why. */
static const char *log_tail(const char *log, int lines)
{
	const char *end = log + strlen(log), *p = end;

	while (p > log && (p[-1] == '\n' || p[-1] == ' '))
		p--;
	while (p > log && lines > 0) {
		p--;
		if (*p == '\n')
			lines--;
	}
	return (p > log) ? p + 1 : log;
}

static void fill_load_attr(const lbpf_program *prog, union bpf_attr *attr)
{
	const lbpf_object *obj = prog->obj;
	int btf_fd = obj->btf ? lbpf_btf_fd(obj->btf) : -1;

	memset(attr, 0, sizeof(*attr));
	attr->prog_type = prog->type;
	attr->expected_attach_type = prog->expected_attach_type;
	attr->insns = lbpf_ptr(prog->insns);
	attr->insn_cnt = (uint32_t)prog->insn_cnt;
	attr->license = lbpf_ptr(obj->license);
	attr->kern_version = obj->kversion;
	attr->prog_flags = prog->prog_flags;
	attr->attach_btf_id = prog->attach_btf_id;
	if (prog->attach_prog_fd > 0)
		attr->attach_prog_fd = (uint32_t)prog->attach_prog_fd;
	if (obj->fd_array_cnt)
		attr->fd_array = lbpf_ptr(obj->fd_array); /* module BTFs of kfunc calls (extern.c) */
	lbpf_kernel_name(attr->prog_name, prog->name);
	if (btf_fd >= 0) {
		attr->prog_btf_fd = (uint32_t)btf_fd;
		if (prog->func_info_cnt) {
			attr->func_info = lbpf_ptr(prog->func_info);
			attr->func_info_cnt = prog->func_info_cnt;
			attr->func_info_rec_size = prog->func_info_rec_size;
		}
		if (prog->line_info_cnt) {
			attr->line_info = lbpf_ptr(prog->line_info);
			attr->line_info_cnt = prog->line_info_cnt;
			attr->line_info_rec_size = prog->line_info_rec_size;
		}
	}
}

/* "unknown#2001000003": reloc.c's mark of a map left uncreated (set_autocreate(false)). */
static void explain_poisoned_map(const lbpf_program *prog, const char *log)
{
	const char *at = strstr(log, "unknown#2001");
	long idx = at ? strtol(at + 8, NULL, 10) - 2001000000 : -1;
	char note[256];

	if (idx < 0 || (size_t)idx >= prog->obj->nmaps)
		return;
	snprintf(note, sizeof(note), "\n(the program uses map '%s', which was not created: its "
		 "autocreate is off)", prog->obj->maps[idx].name);
	lbpf_err_append(note);
}

static int explain_refusal(lbpf_program *prog, int err, const char *log)
{
	const char *why = lbpf_strerror(err);

	if (prog->type == BPF_PROG_TYPE_TRACING || prog->type == BPF_PROG_TYPE_LSM ||
	    prog->type == BPF_PROG_TYPE_EXT) {
		if (err == -EPERM && (!log || !*log))
			return lbpf_err(err, "program '%s' (section '%s'): %s refused by the kernel: "
					"EPERM (BPF trampolines are not permitted on this kernel)",
					prog->name, prog->sec_name,
					prog->type == BPF_PROG_TYPE_LSM ? "lsm" : prog->sec_name);
	}
	if (log && *log) {
		char core[1024];

		lbpf_err(err, "program '%s' (section '%s') rejected by the verifier: %s\n"
			 "verifier log (last lines):\n%s", prog->name, prog->sec_name, why,
			 log_tail(log, LOG_TAIL_LINES));
		if (lbpf_core_explain_log(prog->obj->core_cache, prog->name, log, core, sizeof(core))) {
			lbpf_err_append("\n");
			lbpf_err_append(core);
		}
		explain_poisoned_map(prog, log);
		return -abs(err);
	}
	return lbpf_err(err, "loading program '%s' (section '%s', type %s) failed: %s",
			prog->name, prog->sec_name, lbpf_prog_type_name(prog->type), why);
}

/* set_log_level: one load with the log asked for, kept whatever the outcome. */
static int load_with_log(lbpf_program *prog)
{
	union bpf_attr attr;
	char *log = malloc(LOG_BUF_SIZE);
	int fd;

	if (!log)
		return lbpf_err(ENOMEM, "program '%s': out of memory for its log", prog->name);
	log[0] = '\0';
	fill_load_attr(prog, &attr);
	attr.log_level = prog->log_level;
	attr.log_buf = lbpf_ptr(log);
	attr.log_size = LOG_BUF_SIZE;
	fd = lbpf_sys_bpf(BPF_PROG_LOAD, &attr, sizeof(attr));
	log[LOG_BUF_SIZE - 1] = '\0';
	free(prog->log);
	prog->log = strdup(log);
	if (fd >= 0) {
		free(log);
		prog->fd = fd;
		return 0;
	}
	fd = explain_refusal(prog, fd, log);
	free(log);
	return fd;
}

int lbpf_program_load(lbpf_program *prog)
{
	union bpf_attr attr;
	char *log;
	int fd;

	if (prog->type == BPF_PROG_TYPE_UNSPEC)
		return lbpf_err(EINVAL, "program '%s': section '%s' does not name a program type",
				prog->name, prog->sec_name);
	if (prog->log_level)
		return load_with_log(prog);
	/* First without a log: the verifier runs faster, and most loads succeed. */
	fill_load_attr(prog, &attr);
	fd = lbpf_sys_bpf(BPF_PROG_LOAD, &attr, sizeof(attr));
	if (fd >= 0) {
		prog->fd = fd;
		return 0;
	}
	log = malloc(LOG_BUF_SIZE);
	if (!log)
		return explain_refusal(prog, fd, NULL);
	log[0] = '\0';
	fill_load_attr(prog, &attr);
	attr.log_level = 1;
	attr.log_buf = lbpf_ptr(log);
	attr.log_size = LOG_BUF_SIZE;
	fd = lbpf_sys_bpf(BPF_PROG_LOAD, &attr, sizeof(attr));
	if (fd >= 0) { /* the first failure was transient */
		free(log);
		prog->fd = fd;
		return 0;
	}
	log[LOG_BUF_SIZE - 1] = '\0';
	fd = explain_refusal(prog, fd, log);
	free(log);
	return fd;
}

void lbpf_program_release(lbpf_program *prog)
{
	if (prog->fd >= 0)
		close(prog->fd);
	prog->fd = -1;
	if (prog->attach_prog_fd > 0)
		close(prog->attach_prog_fd);
	free(prog->attach_name_owned);
	free(prog->log);
	free(prog->insns);
	free(prog->func_info);
	free(prog->line_info);
	free(prog->name);
}

int lbpf_program_test_run(lbpf_program *prog, struct lbpf_test_run *run)
{
	union bpf_attr attr;
	int ret;

	if (prog->fd < 0)
		return lbpf_err(EBADF, "program '%s' is not loaded", prog->name);
	memset(&attr, 0, sizeof(attr));
	attr.test.prog_fd = (uint32_t)prog->fd;
	attr.test.data_in = lbpf_ptr(run->data_in);
	attr.test.data_size_in = (uint32_t)run->data_size_in;
	attr.test.data_out = lbpf_ptr(run->data_out);
	attr.test.data_size_out = (uint32_t)run->data_size_out;
	attr.test.ctx_in = lbpf_ptr(run->ctx_in);
	attr.test.ctx_size_in = (uint32_t)run->ctx_size_in;
	attr.test.ctx_out = lbpf_ptr(run->ctx_out);
	attr.test.ctx_size_out = (uint32_t)run->ctx_size_out;
	attr.test.repeat = run->repeat;
	attr.test.flags = run->flags;
	attr.test.cpu = run->cpu;
	ret = lbpf_sys_bpf(BPF_PROG_TEST_RUN, &attr, sizeof(attr));
	if (ret < 0)
		return lbpf_err(ret, "test run of program '%s' (%s) failed: %s", prog->name,
				lbpf_prog_type_name(prog->type), lbpf_strerror(ret));
	run->retval = attr.test.retval;
	run->duration_ns = attr.test.duration;
	run->data_size_out = attr.test.data_size_out;
	run->ctx_size_out = attr.test.ctx_size_out;
	return 0;
}

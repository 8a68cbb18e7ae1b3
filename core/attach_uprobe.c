/* uprobe / uretprobe through the uprobe PMU (the same PMU path serves kprobes). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/perf_event.h>

#include "attach_int.h"
#include "error.h"
#include "sys.h"

/* The bit of `config` a PMU's format file names ("config:0" → 0). */
static int pmu_format_bit(const char *pmu, const char *field)
{
	char path[256], buf[64];
	FILE *f;
	int bit = -1;

	snprintf(path, sizeof(path), "/sys/bus/event_source/devices/%s/format/%s", pmu, field);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	if (fgets(buf, sizeof(buf), f) && sscanf(buf, "config:%d", &bit) != 1)
		bit = -1;
	fclose(f);
	return bit >= 0 && bit < 64 ? bit : -EINVAL;
}

int attach_probe_pmu_open(const char *pmu, bool retprobe, const char *target, uint64_t offset,
			  pid_t pid, uint64_t ref_ctr_offset)
{
	struct perf_event_attr attr;
	char path[256];
	long type;
	int ret;

	snprintf(path, sizeof(path), "/sys/bus/event_source/devices/%s/type", pmu);
	if (attach_read_int_file(path, &type) < 0)
		return -ENODEV;
	memset(&attr, 0, sizeof(attr));
	attr.size = sizeof(attr);
	attr.type = (uint32_t)type;
	attr.config1 = lbpf_ptr(target);  /* uprobe_path / kprobe_func */
	attr.config2 = offset;            /* probe_offset */
	if (retprobe) {
		int bit = pmu_format_bit(pmu, "retprobe");

		if (bit < 0)
			return bit;
		attr.config |= 1ULL << bit;
	}
	if (ref_ctr_offset) {
		/* The semaphore offset sits in config bits 32-63 ("ref_ctr_offset" format). */
		if (pmu_format_bit(pmu, "ref_ctr_offset") != 32)
			return -EOPNOTSUPP;
		attr.config |= ref_ctr_offset << 32;
	}
	attr.sample_period = 1;
	attr.wakeup_events = 1;
	/* Every process: pid -1 needs a CPU, yet the probe still fires on all CPUs. */
	ret = lbpf_sys_perf_event_open(&attr, pid > 0 ? pid : -1, pid > 0 ? -1 : 0, -1, 0);
	return ret;
}

int lbpf_program_attach_uprobe(lbpf_program *prog, const char *binary, const char *func,
			       const struct lbpf_uprobe_opts *opts, lbpf_link **out)
{
	static const struct lbpf_uprobe_opts defaults;
	char path[4096], desc[4400];
	uint64_t offset;
	int ret, pfd;

	*out = NULL;
	if ((ret = attach_prog_fd(prog)) < 0)
		return ret;
	if (!opts)
		opts = &defaults;
	if ((ret = lbpf_resolve_binary_path(binary, path, sizeof(path))) < 0)
		return lbpf_err_prefix(ret, "program '%s': ", lbpf_program_name(prog));
	offset = opts->offset;
	if (func && *func) {
		uint64_t sym;

		if ((ret = lbpf_elf_symbol_offset(path, func, &sym)) < 0)
			return lbpf_err_prefix(ret, "program '%s': ", lbpf_program_name(prog));
		offset += sym;
	}
	snprintf(desc, sizeof(desc), "%s %s:%s+%#llx%s", opts->retprobe ? "uretprobe" : "uprobe",
		 path, func && *func ? func : "", (unsigned long long)offset,
		 opts->pid > 0 ? " (one pid)" : "");
	pfd = attach_probe_pmu_open("uprobe", opts->retprobe, path, offset, opts->pid,
				    opts->ref_ctr_offset);
	if (pfd == -ENODEV)
		return lbpf_err(ENODEV, "program '%s': %s: kernel built without uprobes (no uprobe "
				"PMU in /sys/bus/event_source/devices)", lbpf_program_name(prog), desc);
	if (pfd < 0)
		return lbpf_err(pfd, "program '%s': %s: %s", lbpf_program_name(prog), desc,
				pfd == -ESRCH ? "no such process" : strerror(-pfd));
	return lbpf_program_attach_perf_event_fd(prog, pfd, opts->cookie, desc, out);
}

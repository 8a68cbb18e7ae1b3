/* Shared helpers of the attach_*.c files (internal). */
#ifndef LBPF_ATTACH_INT_H
#define LBPF_ATTACH_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "link.h"
#include "luabpf.h"

/* The program's fd, or -EBADF with "program 'x' is not loaded" recorded. */
int attach_prog_fd(const lbpf_program *prog);

/* BPF_LINK_CREATE. extra (extra_len bytes) overlays the attach-specific union that starts
 * at link_create.target_btf_id (iter_info, perf_event, tcx, netfilter, ...). Returns the link
 * fd or -errno (no message recorded). */
int attach_link_create(int prog_fd, int target, uint32_t attach_type, uint32_t flags,
		       const void *extra, size_t extra_len);

/* Wraps a bpf_link fd: lbpf_link_detach() on it uses BPF_LINK_DETACH, so a detach is real
 * even when the link is also pinned elsewhere. Closes fd on failure. */
lbpf_link *attach_bpf_link_new(int fd, const char *desc_fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Reads a small integer from a sysfs/tracefs file (e.g. a PMU type). -errno on failure. */
int attach_read_int_file(const char *path, long *value);

/* Records "program 'x': <what>: <strerror>" for err and returns -|err|. */
int attach_fail(const lbpf_program *prog, int err, const char *what);

/* The name of network interface ifindex into ifname (IF_NAMESIZE bytes), or -ENODEV with
 * "program 'x': no network interface with index N" recorded (xdp, tc). */
int attach_ifname(const lbpf_program *prog, int ifindex, char *ifname);

/* BPF_PROG_ATTACH to target_fd (cgroup, sockmap); detaching uses PROG_DETACH. */
int attach_prog_attach(lbpf_program *prog, int target_fd, uint32_t attach_type, uint32_t flags,
		       const char *desc, lbpf_link **out);

/* Opens an ELF file for reading with libelf (uprobes, USDT). */
typedef struct Elf Elf;
int lbpf_elf_open_for_read(const char *path, int *fd, Elf **elf);
/* Virtual address -> file offset through the PT_LOAD segment that maps it (exec_only: only an
 * executable one, as for a function). Returns 1, or 0 when no segment maps addr. */
int lbpf_elf_vaddr_to_offset(Elf *elf, uint64_t addr, bool exec_only, uint64_t *offset);

/* perf_event_open on a dynamic PMU (/sys/bus/event_source/devices/<pmu>): "uprobe" with the
 * binary path, or "kprobe" with a function name. Returns the perf fd or -errno (-ENODEV when
 * the PMU does not exist; no message recorded). */
int attach_probe_pmu_open(const char *pmu, bool retprobe, const char *target, uint64_t offset,
			  pid_t pid, uint64_t ref_ctr_offset);

/* The USDT argument-spec map of prog's object (usdt_specs.c): a duplicate of its fd in
 * *map_fd, or -ENOENT (no message) when the object has no such map. */
int usdt_specs_open(lbpf_program *prog, int *map_fd, uint32_t *max_entries);
/* Stores spec in a free slot (marked in use) and returns the slot index, or -errno. */
int usdt_specs_claim(int map_fd, uint32_t max_entries, const struct lbpf_usdt_spec *spec);
/* Marks a slot free again (zeroes it). */
void usdt_specs_release(int map_fd, int id);

/* A program on a perf event fd (taken over): a perf bpf_link (5.15+), else the
 * PERF_EVENT_IOC_SET_BPF ioctl; ioctl_only takes the older path on any kernel. */
int attach_perf_event_fd(lbpf_program *prog, int perf_fd, uint64_t cookie, const char *desc,
			 bool ioctl_only, lbpf_link **out);

#endif

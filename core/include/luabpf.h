/*
 * luabpf — a small eBPF loader (libc + libelf only).
 *
 * Conventions:
 *  - Handles are opaque. Every fallible call returns 0 (or a non-negative count / fd) on success
 *    and a negative errno on failure.
 *  - On failure a human message (what failed, which program/map/relocation, and the tail of the
 *    verifier log where there is one) is kept per thread: read it with lbpf_errmsg().
 *  - The library never prints, never exits, never aborts.
 */
#ifndef LUABPF_H
#define LUABPF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/bpf.h>
#include <linux/btf.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lbpf_object lbpf_object;
typedef struct lbpf_program lbpf_program;
typedef struct lbpf_map lbpf_map;
typedef struct lbpf_link lbpf_link;
typedef struct lbpf_btf lbpf_btf;

/* ---- errors ------------------------------------------------------------------------------- */

/* Message describing the most recent failure on this thread ("" if none). */
const char *lbpf_errmsg(void);
/* Errno of the most recent failure on this thread (positive), 0 if none. */
int lbpf_errno(void);

/* ---- objects ------------------------------------------------------------------------------ */

struct lbpf_open_opts {
	const char *name;         /* object name; default: file name without ".bpf.o"/".o" */
	const char *pin_root;     /* where maps with pinning=by_name live; default /sys/fs/bpf */
	const char *btf_path;     /* target BTF for CO-RE; default: the running kernel's */
	uint32_t kernel_version;  /* overrides the object's "version" section; 0: running kernel */
	uint32_t btf_disable;     /* LBPF_BTF_FEAT_* bits: sanitise these BTF features away */
};

/* BTF features the loader can sanitise away (lbpf_open_opts.btf_disable). */
#define LBPF_BTF_FEAT_DECL_TAG 1u
#define LBPF_BTF_FEAT_TYPE_TAG 2u
#define LBPF_BTF_FEAT_ENUM64 4u
#define LBPF_BTF_FEAT_FLOAT 8u
#define LBPF_BTF_FEAT_FUNC_LINKAGE 16u
#define LBPF_BTF_FEAT_DATASEC 32u

int lbpf_object_open_file(const char *path, const struct lbpf_open_opts *opts, lbpf_object **out);
int lbpf_object_open_mem(const void *data, size_t size, const struct lbpf_open_opts *opts,
			 lbpf_object **out);
/* Creates maps, relocates and loads every program whose autoload is on. */
int lbpf_object_load(lbpf_object *obj);
/* Closes every fd the object owns (maps, programs, BTF) and frees it. NULL is fine. */
void lbpf_object_close(lbpf_object *obj);

const char *lbpf_object_name(const lbpf_object *obj);
bool lbpf_object_is_loaded(const lbpf_object *obj);
const char *lbpf_object_license(const lbpf_object *obj);
uint32_t lbpf_object_kversion(const lbpf_object *obj);
/* Warnings the object collected: steps it skipped or degraded rather than failed (the kernel
 * refused the object's BTF, a map was created without its BTF), oldest first. */
size_t lbpf_object_warning_count(const lbpf_object *obj);
const char *lbpf_object_warning_at(const lbpf_object *obj, size_t index); /* NULL past the end */
/* The object's own BTF (NULL when it has none). Owned by the object. */
const lbpf_btf *lbpf_object_btf(const lbpf_object *obj);

size_t lbpf_object_program_count(const lbpf_object *obj);
lbpf_program *lbpf_object_program_at(lbpf_object *obj, size_t index);
lbpf_program *lbpf_object_program_by_name(lbpf_object *obj, const char *name);
size_t lbpf_object_map_count(const lbpf_object *obj);
lbpf_map *lbpf_object_map_at(lbpf_object *obj, size_t index);
lbpf_map *lbpf_object_map_by_name(lbpf_object *obj, const char *name);

/* Global variables of .data, .rodata, .bss, .data.*, .rodata.* (and .kconfig, read only). */
struct lbpf_global {
	const char *name;
	lbpf_map *map;        /* the internal array map that holds the section */
	uint32_t offset;      /* byte offset inside the map value */
	uint32_t size;        /* byte size of the variable */
	uint32_t btf_type_id; /* type in lbpf_object_btf() (0 when unknown) */
	bool readonly;        /* .rodata/.kconfig: writable only before load */
};
size_t lbpf_object_global_count(const lbpf_object *obj);
int lbpf_object_global_at(lbpf_object *obj, size_t index, struct lbpf_global *out);
int lbpf_object_global_by_name(lbpf_object *obj, const char *name, struct lbpf_global *out);
/* Address of a global's bytes: the initial image before load, the mmapped kernel map after. */
void *lbpf_global_data(const struct lbpf_global *g);

/* ---- programs ----------------------------------------------------------------------------- */

const char *lbpf_program_name(const lbpf_program *prog);
const char *lbpf_program_section(const lbpf_program *prog);
lbpf_object *lbpf_program_object(const lbpf_program *prog);
int lbpf_program_fd(const lbpf_program *prog);           /* -EBADF-like negative before load */
enum bpf_prog_type lbpf_program_type(const lbpf_program *prog);
enum bpf_attach_type lbpf_program_expected_attach_type(const lbpf_program *prog);
size_t lbpf_program_insn_count(const lbpf_program *prog); /* after relocation once loaded */
bool lbpf_program_autoload(const lbpf_program *prog);
int lbpf_program_set_autoload(lbpf_program *prog, bool autoload);            /* before load */
int lbpf_program_set_type(lbpf_program *prog, enum bpf_prog_type type);     /* before load */
int lbpf_program_set_expected_attach_type(lbpf_program *prog, enum bpf_attach_type type);
/* More of libbpf's pre-load setters (-EBUSY once the object is loaded). */
int lbpf_program_set_flags(lbpf_program *prog, uint32_t flags);         /* BPF_F_SLEEPABLE, ... */
uint32_t lbpf_program_flags(const lbpf_program *prog);
/* Load with this verifier log level (1, 2, 4 = stats) and keep the log, success or not. */
int lbpf_program_set_log_level(lbpf_program *prog, uint32_t level);
uint32_t lbpf_program_log_level(const lbpf_program *prog);
const char *lbpf_program_log(const lbpf_program *prog);   /* NULL unless a log level was set */
/* The function a fentry/fexit/fmod_ret/freplace program attaches to: in a loaded BPF program
 * (attach_prog_fd >= 0, dup'ed; found in its BTF at load) or in the kernel (attach_prog_fd < 0).
 * func_name NULL: the function the section names (freplace/FUNC). */
int lbpf_program_set_attach_target(lbpf_program *prog, int attach_prog_fd, const char *func_name);
/* Whether obj:attach() (Lua) attaches it (default true); settable at any time. */
int lbpf_program_set_autoattach(lbpf_program *prog, bool autoattach);
bool lbpf_program_autoattach(const lbpf_program *prog);
/* Name of a program type / attach type / map type / link type ("xdp", "hash", ...). */
const char *lbpf_prog_type_name(enum bpf_prog_type type);
const char *lbpf_map_type_name(enum bpf_map_type type);
const char *lbpf_attach_type_name(enum bpf_attach_type type);
const char *lbpf_link_type_name(enum bpf_link_type type);

struct lbpf_test_run {
	const void *data_in;  size_t data_size_in;
	void *data_out;       size_t data_size_out;  /* in: capacity, out: bytes written */
	const void *ctx_in;   size_t ctx_size_in;
	void *ctx_out;        size_t ctx_size_out;   /* in: capacity, out: bytes written */
	uint32_t repeat;
	uint32_t flags;
	uint32_t cpu;
	uint32_t retval;      /* out */
	uint32_t duration_ns; /* out: average per run */
};
int lbpf_program_test_run(lbpf_program *prog, struct lbpf_test_run *run);

/* ---- programs and maps built from raw parts (prog_build.c, map.c; bpf.asm) ----------------- */

/* Reverse of the *_type_name functions: the value for a name, or -1. */
int lbpf_prog_type_by_name(const char *name);
int lbpf_map_type_by_name(const char *name);
int lbpf_attach_type_by_name(const char *name);

/* A program from instructions with generated BTF. The section name gives type, expected attach
 * type and BTF target as for an object's program (and lets lbpf_program_attach work);
 * prog_type / attach_type (names, may be NULL) override what it gives. */
struct lbpf_prog_build {
	const char *name, *section, *license;
	const char *prog_type, *attach_type;
	uint32_t kern_version, prog_flags;
	bool sleepable;
	const struct bpf_insn *insns;
	size_t insn_cnt;
	const void *btf;       /* raw BTF (NULL: none, and then no func/line info) */
	size_t btf_size;
	const void *func_info; /* struct bpf_func_info[] */
	uint32_t func_info_cnt;
	const void *line_info; /* struct bpf_line_info[] */
	uint32_t line_info_cnt;
	uint32_t log_level;    /* 0, or the verifier log to keep (lbpf_program_log) */
};
/* Loads it as the only program of a new, loaded object (closed with lbpf_object_close). A
 * verifier refusal is reported as for an object's program, log tail included. */
int lbpf_program_build(const struct lbpf_prog_build *spec, lbpf_object **out);
/* The instructions as loaded (after linking and relocation), or the program's own ELF
 * instructions (relocations not applied) before load; NULL/0 when there are none. */
const struct bpf_insn *lbpf_program_insns(const lbpf_program *prog, size_t *count);
int lbpf_program_elf_insns(const lbpf_program *prog, const struct bpf_insn **insns,
			   size_t *count);

/* A standalone map created from a definition, with BTF for its key and value when btf is set. */
struct lbpf_map_build {
	const char *name;
	uint32_t type, key_size, value_size, max_entries, map_flags, numa_node;
	uint64_t map_extra;
	const void *btf;
	size_t btf_size;
	uint32_t btf_key_type_id, btf_value_type_id;
};
int lbpf_map_build(const struct lbpf_map_build *spec, lbpf_map **out);

/* ---- links -------------------------------------------------------------------------------- */

/* Attach according to the program's section name (tracepoint/cat/name, raw_tp/name, ...). */
int lbpf_program_attach(lbpf_program *prog, lbpf_link **out);
int lbpf_program_attach_tracepoint(lbpf_program *prog, const char *category, const char *name,
				   lbpf_link **out);
int lbpf_program_attach_raw_tracepoint(lbpf_program *prog, const char *name, lbpf_link **out);

int lbpf_link_fd(const lbpf_link *link);
/* Human description of what the link attaches ("tracepoint raw_syscalls:sys_enter"). */
const char *lbpf_link_description(const lbpf_link *link);
bool lbpf_link_is_attached(const lbpf_link *link);
/* Detaches now; further calls are no-ops. */
int lbpf_link_detach(lbpf_link *link);
int lbpf_link_pin(lbpf_link *link, const char *path);
/* Detaches (unless pinned) and frees. NULL is fine. */
void lbpf_link_free(lbpf_link *link);

/* ---- maps --------------------------------------------------------------------------------- */

const char *lbpf_map_name(const lbpf_map *map);
int lbpf_map_fd(const lbpf_map *map);   /* negative before load */
enum bpf_map_type lbpf_map_type(const lbpf_map *map);
uint32_t lbpf_map_key_size(const lbpf_map *map);
uint32_t lbpf_map_value_size(const lbpf_map *map);
uint32_t lbpf_map_max_entries(const lbpf_map *map);
uint32_t lbpf_map_flags(const lbpf_map *map);
/* BTF describing key and value (NULL / 0 when the map has none). */
const lbpf_btf *lbpf_map_btf(const lbpf_map *map);
uint32_t lbpf_map_btf_key_type_id(const lbpf_map *map);
uint32_t lbpf_map_btf_value_type_id(const lbpf_map *map);
/* Bytes one lookup writes: value_size, or round_up(value_size, 8) * possible CPUs per-CPU. */
size_t lbpf_map_lookup_value_size(const lbpf_map *map);
bool lbpf_map_is_percpu(const lbpf_map *map);
/* Number of possible CPUs (cached). */
int lbpf_num_possible_cpus(void);

/* Before load only (-EBUSY after): change the definition, as libbpf's bpf_map__set_*. Sizes,
 * type, max_entries and the inner map are fixed for global-data maps (-EINVAL). A key or value
 * size that no longer matches the map's BTF type makes the map go without BTF (a warning). */
int lbpf_map_set_max_entries(lbpf_map *map, uint32_t max_entries);
int lbpf_map_set_key_size(lbpf_map *map, uint32_t size);
int lbpf_map_set_value_size(lbpf_map *map, uint32_t size);
int lbpf_map_set_type(lbpf_map *map, enum bpf_map_type type);
int lbpf_map_set_flags(lbpf_map *map, uint32_t flags);
int lbpf_map_set_numa_node(lbpf_map *map, uint32_t node);  /* also sets BPF_F_NUMA_NODE */
uint32_t lbpf_map_numa_node(const lbpf_map *map);
int lbpf_map_set_map_extra(lbpf_map *map, uint64_t extra);
/* A map of maps' inner map template: an existing map's fd (dup'ed). */
int lbpf_map_set_inner_map_fd(lbpf_map *map, int fd);
/* Global-data maps: the section's bytes (size must equal the value size). */
int lbpf_map_set_initial_value(lbpf_map *map, const void *data, size_t size);
/* false: the map is not created; loads of it in programs are poisoned as libbpf poisons them
 * (an error naming the map if the verifier reaches one). */
int lbpf_map_set_autocreate(lbpf_map *map, bool autocreate);
bool lbpf_map_autocreate(const lbpf_map *map);

int lbpf_map_lookup(const lbpf_map *map, const void *key, void *value, uint64_t flags);
int lbpf_map_update(const lbpf_map *map, const void *key, const void *value, uint64_t flags);
int lbpf_map_delete(const lbpf_map *map, const void *key);
/* key NULL: first key. Returns -ENOENT past the last key. */
int lbpf_map_next_key(const lbpf_map *map, const void *key, void *next_key);
/* BPF_MAP_LOOKUP_BATCH. in_batch NULL starts; *count in: capacity, out: entries read.
 * Returns -ENOENT (with *count possibly > 0) when the map is exhausted. */
int lbpf_map_lookup_batch(const lbpf_map *map, void *in_batch, void *out_batch, void *keys,
			  void *values, uint32_t *count);
/* Queue/stack pop (key NULL), or atomic read-and-remove of a hash element. */
int lbpf_map_lookup_and_delete(const lbpf_map *map, const void *key, void *value);
/* BPF_MAP_UPDATE_BATCH / DELETE_BATCH: *count in: entries, out: entries done. */
int lbpf_map_update_batch(const lbpf_map *map, const void *keys, const void *values,
			  uint32_t *count, uint64_t elem_flags);
int lbpf_map_delete_batch(const lbpf_map *map, const void *keys, uint32_t *count);
int lbpf_map_freeze(const lbpf_map *map);
/* Path the map is pinned at (NULL when not pinned by this process). */
const char *lbpf_map_pin_path(const lbpf_map *map);
int lbpf_map_pin(lbpf_map *map, const char *path);
int lbpf_map_unpin(lbpf_map *map);
/* Wrap an existing map fd (takes ownership) or open a pinned path / id: a standalone map. */
int lbpf_map_from_fd(int fd, lbpf_map **out);
/* Free a standalone map (maps of an object are freed with it). */
void lbpf_map_free(lbpf_map *map);

/* ---- BTF ---------------------------------------------------------------------------------- */
/* Types are the kernel's UAPI structs (linux/btf.h). Ids count from 1; 0 is void. */

int lbpf_btf_open_file(const char *path, lbpf_btf **out);    /* raw BTF or an ELF's .BTF */
int lbpf_btf_open_mem(const void *data, size_t size, lbpf_btf **out);
/* The running kernel's vmlinux BTF (mmap of /sys/kernel/btf/vmlinux); caller frees. */
int lbpf_btf_open_kernel(lbpf_btf **out);
/* Split BTF on top of base (e.g. /sys/kernel/btf/<module> over vmlinux). base must outlive it. */
int lbpf_btf_open_split_file(const char *path, const lbpf_btf *base, lbpf_btf **out);
void lbpf_btf_free(lbpf_btf *btf);

/* Number of type ids (the largest id + 1, base types included). */
uint32_t lbpf_btf_type_count(const lbpf_btf *btf);
/* NULL for id 0 (void) or out of range. */
const struct btf_type *lbpf_btf_type(const lbpf_btf *btf, uint32_t id);
const char *lbpf_btf_str(const lbpf_btf *btf, uint32_t offset);  /* "" when out of range */
const char *lbpf_btf_type_name(const lbpf_btf *btf, uint32_t id); /* "" for anonymous */
/* Id of the first type named name with kind (0 for any kind), or -ENOENT. */
int32_t lbpf_btf_find(const lbpf_btf *btf, const char *name, int kind);
/* Skip typedef/const/volatile/restrict/type_tag/decl_tag to the underlying type id. */
uint32_t lbpf_btf_resolve(const lbpf_btf *btf, uint32_t id);
/* Byte size of a type (arrays multiplied out, typedefs followed); negative errno if sizeless. */
int64_t lbpf_btf_type_size(const lbpf_btf *btf, uint32_t id);
/* Write the type as C ("struct task_struct { ... }" or "unsigned int") into buf. Returns the
 * length it needed (like snprintf) or negative errno. */
int lbpf_btf_type_to_c(const lbpf_btf *btf, uint32_t id, char *buf, size_t size);

static inline uint16_t lbpf_btf_kind(const struct btf_type *t) { return BTF_INFO_KIND(t->info); }
static inline uint16_t lbpf_btf_vlen(const struct btf_type *t) { return BTF_INFO_VLEN(t->info); }
static inline bool lbpf_btf_kflag(const struct btf_type *t) { return BTF_INFO_KFLAG(t->info); }

/* ---- introspection ------------------------------------------------------------------------ */

enum lbpf_id_kind { LBPF_ID_PROG, LBPF_ID_MAP, LBPF_ID_LINK, LBPF_ID_BTF };
/* Next id after start (0: the first). -ENOENT past the last one (no message recorded). */
int lbpf_next_id(enum lbpf_id_kind kind, uint32_t start, uint32_t *next);
/* A new fd for the object with that id (caller closes). */
int lbpf_fd_by_id(enum lbpf_id_kind kind, uint32_t id);
/* A new fd for the object pinned at path (caller closes). */
int lbpf_obj_get(const char *path);
/* BPF_OBJ_GET_INFO_BY_FD into info (struct bpf_prog_info / bpf_map_info / bpf_link_info /
 * bpf_btf_info); *len in: capacity, out: what the kernel filled. */
int lbpf_obj_info(int fd, void *info, uint32_t *len);
/* The BTF object the kernel holds under id, as a parsed BTF (caller frees). */
int lbpf_btf_from_id(uint32_t id, lbpf_btf **out);

/* Disassembler (disasm.c). xlated: the instructions come from the kernel's translated image,
 * whose helper calls hold offsets from __bpf_call_base; they are named from /proc/kallsyms. */
struct lbpf_disasm_opts {
	bool xlated;
};
/* Text of count instructions, one per line ("  12: r1 = *(u32 *)(r2 +8)"), malloc'd into *out.
 * Returns the text length or a negative errno. */
int lbpf_disasm(const struct bpf_insn *insns, size_t count, const struct lbpf_disasm_opts *opts,
		char **out);
/* "bpf_map_lookup_elem" for 1; NULL for an id this build does not know. */
const char *lbpf_helper_name(int id);
int lbpf_helper_count(void); /* ids known: 1 .. count-1 */
/* The translated instructions of a loaded program (malloc'd *insns, caller frees). */
int lbpf_prog_xlated(int prog_fd, struct bpf_insn **insns, size_t *count);
/* The same, disassembled (malloc'd NUL-terminated text). */
int lbpf_prog_xlated_text(int prog_fd, char **out);

/* What an EPERM message adds (once) to say which privilege is missing. */
#define LBPF_PRIVILEGE_HINT "this needs root, or CAP_BPF with CAP_PERFMON for tracing and CAP_NET_ADMIN " \
	"for networking"

/* Feature probing (probe.c): whether this kernel supports a program type, map type, helper
 * (for a program type) or attach kind. 1: yes, 0: no, negative errno: could not tell.
 * Results are cached per process. */
int lbpf_probe_prog_type(enum bpf_prog_type type);
int lbpf_probe_map_type(enum bpf_map_type type);
int lbpf_probe_helper(enum bpf_prog_type type, int helper_id);
/* Whether a program of a BTF-targeted kind (BPF_TRACE_RAW_TP = tp_btf, BPF_TRACE_FENTRY,
 * BPF_TRACE_FEXIT, BPF_MODIFY_RETURN, BPF_LSM_MAC, BPF_TRACE_ITER) loads against a kernel
 * function this kernel always has. */
int lbpf_probe_attach_btf(enum bpf_attach_type type);
/* Whether this kernel creates links of a kind: "kprobe_multi" (5.18+ with CONFIG_FPROBE),
 * "uprobe_multi" (6.6+), "tcx" (6.6+). Asked with links that cannot attach anything (a missing
 * function, a directory, ifindex 0) and told apart by the error, as libbpf probes them. */
int lbpf_probe_link(const char *kind);

#include "luabpf_attach.h"
#include "luabpf_events.h"

#ifdef __cplusplus
}
#endif
#endif

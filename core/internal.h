/* Internal model of an object: what the ELF reader produces and the load pipeline consumes. */
#ifndef LBPF_INTERNAL_H
#define LBPF_INTERNAL_H

#include <gelf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "luabpf.h"

#define LBPF_INSN_SIZE 8
#define LBPF_PSEUDO_MAP_FD 1
#define LBPF_PSEUDO_MAP_VALUE 2
#define LBPF_PSEUDO_CALL 1
#define LBPF_PSEUDO_FUNC 4

/* ---- ELF view ------------------------------------------------------------------------------ */

struct lbpf_elf_sec {
	const char *name;
	GElf_Shdr shdr;
	const void *data;   /* NULL for NOBITS */
	size_t size;
};

struct lbpf_elf {
	Elf *elf;
	void *image;        /* our copy of the file bytes (libelf reads from memory) */
	size_t image_size;
	struct lbpf_elf_sec *secs;
	size_t nsecs;
	Elf_Data *symtab;   /* symbols */
	size_t nsyms;
	size_t strtab_idx;  /* string table of the symbols */
	size_t shstrndx;
	int maps_shndx, legacy_maps_shndx, text_shndx, btf_shndx, btf_ext_shndx;
};

int lbpf_elf_open(const void *data, size_t size, struct lbpf_elf *out);
void lbpf_elf_close(struct lbpf_elf *e);
bool lbpf_elf_sym(const struct lbpf_elf *e, size_t idx, GElf_Sym *sym);
const char *lbpf_elf_sym_name(const struct lbpf_elf *e, const GElf_Sym *sym);
/* The symbol called name, in section shndx and of type (STT_*), each -1 for any; -ENOENT. */
int lbpf_elf_find_sym(const struct lbpf_elf *e, const char *name, int shndx, int type,
		      GElf_Sym *out);

/* ---- code ----------------------------------------------------------------------------------- */

enum lbpf_reloc_kind {
	LBPF_RELO_MAP_FD,     /* ld_imm64 of a map: src = PSEUDO_MAP_FD */
	LBPF_RELO_MAP_VALUE,  /* ld_imm64 of a global: src = PSEUDO_MAP_VALUE, imm2 = offset */
	LBPF_RELO_CALL,       /* bpf-to-bpf call to another section's function */
	LBPF_RELO_FUNC_PTR,   /* ld_imm64 of a function address (callbacks) */
	LBPF_RELO_EXTERN,     /* ld_imm64 / call of an extern (kconfig, ksym) */
};

struct lbpf_reloc {
	enum lbpf_reloc_kind kind;
	size_t insn_idx;       /* in the code section */
	size_t map_idx;        /* MAP_FD / MAP_VALUE */
	uint32_t value_off;    /* MAP_VALUE: byte offset in the map value */
	size_t target_code;    /* CALL / FUNC_PTR: code section index */
	size_t target_insn;    /* CALL / FUNC_PTR: instruction index in that section */
	size_t extern_idx;     /* EXTERN */
};

/* An executable section, copied so relocations can be written into it. */
struct lbpf_code {
	size_t sec_idx;
	const char *name;
	struct bpf_insn *insns;
	size_t insn_cnt;
	struct lbpf_reloc *relocs;  /* sorted by insn_idx */
	size_t nrelocs;
};

/* A function symbol inside a code section: an entry program or a subprogram. */
struct lbpf_func {
	const char *name;
	size_t code_idx;
	size_t insn_off;
	size_t insn_cnt;
	bool global;
};

struct lbpf_extern {
	const char *name;
	bool is_func;
	bool weak;
	bool kconfig;          /* in .kconfig; otherwise a ksym */
	uint32_t btf_id;       /* VAR or FUNC in the object BTF */
	uint32_t offset;       /* kconfig: offset in the .kconfig map */
	uint32_t size;
	uint32_t align;        /* kconfig: of its type (libbpf's layout order) */
	bool resolved;
	uint64_t value;        /* ksym variable address, or kfunc BTF id */
	int btf_fd_idx;        /* kfunc module BTF: its slot in the object's fd_array (0: vmlinux) */
	int btf_obj_fd;        /* typed ksym / kfunc address in a module: its BTF fd (0: vmlinux) */
};

struct lbpf_program {
	lbpf_object *obj;
	char *name;
	const char *sec_name;
	size_t func_idx;
	enum bpf_prog_type type;
	enum bpf_attach_type expected_attach_type;
	uint32_t prog_flags;
	uint32_t attach_btf_id;
	int attach_btf_kind;     /* how to resolve attach_btf_id (section.c) */
	const char *attach_name; /* section text after the prefix's '/' */
	char *attach_name_owned; /* set_attach_target's name (attach_name points at it) */
	int attach_prog_fd;      /* freplace/fentry on a BPF program: its fd (dup'ed, > 2), else 0 */
	uint32_t log_level;      /* set_log_level: load with this log and keep it */
	char *log;               /* that log, after load */
	bool autoload;
	bool autoattach;
	int fd;
	struct bpf_insn *insns;  /* after linking and relocation */
	size_t insn_cnt;
	void *func_info, *line_info;
	uint32_t func_info_cnt, line_info_cnt;
	uint32_t func_info_rec_size, line_info_rec_size;
};

enum lbpf_map_origin { LBPF_MAP_USER, LBPF_MAP_DATA, LBPF_MAP_KCONFIG, LBPF_MAP_STRUCT_OPS };

struct lbpf_map {
	lbpf_object *obj;         /* NULL for standalone maps */
	char *name;
	enum lbpf_map_origin origin;
	size_t sec_idx;           /* DATA: the ELF section it holds; USER: .maps or maps */
	uint32_t sec_off;         /* USER: offset of its definition symbol in that section */
	struct {
		uint32_t type, key_size, value_size, max_entries, map_flags, numa_node, pinning;
		uint64_t map_extra;
	} def;
	struct lbpf_map *inner;   /* map-in-map template */
	int32_t values_off;       /* byte offset of the __array(values) member, -1 if none */
	uint32_t btf_key_type_id, btf_value_type_id;
	const lbpf_btf *btf;
	lbpf_btf *owned_btf;
	void *image;              /* DATA/KCONFIG: initial contents (value_size bytes) */
	void *mmaped;             /* DATA after load */
	int inner_fd;             /* set_inner_map_fd: the inner map template (dup'ed, > 2), else 0 */
	bool skip_create;         /* set_autocreate(false): not created; its loads are poisoned */
	size_t mmap_size;
	bool readonly;
	int fd;
	char *pin_path;
	struct lbpf_struct_ops *st; /* STRUCT_OPS: members, programs, kernel types (struct_ops.c) */
	uint32_t st_size;           /* STRUCT_OPS: size of the variable in its section */
};

struct lbpf_global_sym {
	const char *name;
	size_t map_idx;
	uint32_t offset, size, btf_type_id;
};

/* A slot of a map-in-map or prog_array initialised statically in the object. */
struct lbpf_map_init {
	size_t map_idx;
	uint32_t slot;
	bool is_prog;
	size_t target;            /* map index or program index */
};

struct lbpf_object {
	char *name;
	struct lbpf_elf elf;
	char license[128];
	uint32_t kversion;
	struct lbpf_open_opts opts;
	char *pin_root, *btf_path;
	lbpf_btf *btf;                 /* object BTF (mutable: fix-ups, sanitising) */
	void *btf_ext;                 /* struct lbpf_btf_ext * */
	lbpf_btf *target_btf;          /* vmlinux or opts.btf_path, loaded on demand */
	struct lbpf_code *code;
	size_t ncode;
	struct lbpf_func *funcs;
	size_t nfuncs;
	lbpf_program *progs;
	size_t nprogs;
	lbpf_map *maps;
	size_t nmaps;
	struct lbpf_global_sym *globals;
	size_t nglobals;
	struct lbpf_extern *externs;
	size_t nexterns;
	struct lbpf_map_init *inits;
	size_t ninits;
	struct lbpf_core_cand_cache *core_cache; /* CO-RE results, kept to explain refusals */
	int *fd_array;                 /* module BTF fds kfunc calls name by index ([0] unused) */
	size_t fd_array_cnt;
	char **fd_array_names;         /* the module of each fd_array slot */
	char **warnings;               /* steps skipped or degraded on the way (lbpf_object_warn) */
	size_t nwarnings;
	char *btf_refusal;             /* why the kernel refused the object's BTF, NULL if it did not */
	char *built_sec_name;          /* prog_build.c: the section name of a built program */
	bool loaded;
};

/* ---- pipeline stages ------------------------------------------------------------------------ */

/* section.c: program type of a section name (libbpf conventions). */
struct lbpf_sec_def {
	const char *prefix;
	enum bpf_prog_type type;
	enum bpf_attach_type attach;
	uint32_t flags;
};
#define LBPF_SEC_SLEEPABLE 2u
#define LBPF_SEC_BTF_ID 4u     /* attach_btf_id resolved from vmlinux by name */
#define LBPF_SEC_XDP_FRAGS 8u
const struct lbpf_sec_def *lbpf_sec_def_find(const char *sec_name);

/* maps_def.c: map definitions from .maps (BTF) and the legacy maps section. */
int lbpf_collect_maps(lbpf_object *obj);
/* Static initialisers of map-in-map / prog_array slots (relocations of .maps). */
int lbpf_collect_map_inits(lbpf_object *obj);
int lbpf_apply_map_inits(lbpf_object *obj);
/* globals: data sections become maps, their symbols become globals. */
int lbpf_collect_data_maps(lbpf_object *obj);
/* code.c: code sections, functions, programs. */
int lbpf_collect_code(lbpf_object *obj);
/* Index of the code section holding ELF section sec_idx, or -1. */
int lbpf_code_of_section(const lbpf_object *obj, size_t sec_idx);
/* Index of the function holding instruction insn of code section code_idx, or -1. */
int lbpf_func_containing(const lbpf_object *obj, size_t code_idx, size_t insn);
/* Its name, for messages (the section's name when no function symbol covers it). */
const char *lbpf_func_name_at(const lbpf_object *obj, size_t code_idx, size_t insn);
/* Type, expected attach type, flags and attach name from the program's section name. */
void lbpf_program_apply_sec_def(lbpf_program *prog);
/* object.c: attach_btf_id of a BTF-targeted program (fentry/x, tp_btf/x, ...) from vmlinux. */
int lbpf_program_resolve_attach_btf(lbpf_object *obj, lbpf_program *prog);
/* extern.c: __kconfig / __ksym externs (and the .kconfig map). */
int lbpf_collect_externs(lbpf_object *obj);
/* reloc.c */
int lbpf_collect_relocs(lbpf_object *obj);
int lbpf_link_program(lbpf_object *obj, lbpf_program *prog);
/* map.c */
int lbpf_map_create(lbpf_map *map);
void lbpf_map_release(lbpf_map *map);
/* prog.c */
int lbpf_program_load(lbpf_program *prog);
/* struct_ops.c: maps from .struct_ops(.link) variables (open), their kernel types and the
 * programs' attach points (load, before the programs), program fds into the value (after). */
int lbpf_collect_struct_ops(lbpf_object *obj);
int lbpf_struct_ops_prepare(lbpf_object *obj);
int lbpf_struct_ops_fill(lbpf_object *obj);
uint32_t lbpf_struct_ops_value_type(const lbpf_map *map);
void lbpf_struct_ops_free(lbpf_map *map);
/* freplace.c: attach_btf_id of an extension program, from its target program's BTF. */
int lbpf_freplace_resolve(lbpf_program *prog);
void lbpf_program_release(lbpf_program *prog);
/* object.c: records a warning the object keeps (printf-style; best effort under ENOMEM). */
void lbpf_object_warn(lbpf_object *obj, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* object.c: grows an array by one zeroed element, returning it. */
void *lbpf_array_push(void **array, size_t *count, size_t elem_size);

uint32_t lbpf_running_kversion(void);

#endif

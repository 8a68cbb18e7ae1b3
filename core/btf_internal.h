/* BTF internals: the in-memory model behind lbpf_btf and what the object loader calls. */
#ifndef LBPF_BTF_INTERNAL_H
#define LBPF_BTF_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "luabpf.h"

/* Kinds newer than the 6.1 UAPI header would be defined here; 6.1 already has ENUM64. */
#define LBPF_BTF_MAGIC 0xeB9F
#define LBPF_BTF_MAX_CHAIN 32 /* modifier/array chains longer than this are treated as loops */

/* A section size of an ELF object, kept so .BTF.ext records can be checked against it. */
struct lbpf_btf_elf_sec {
	char *name;
	uint32_t size;
};

struct lbpf_btf {
	uint8_t *data;           /* header + types + strings; malloc'ed or mmapped */
	size_t size;
	bool mapped;             /* data is a read-only mmap (made writable on demand) */
	uint8_t *types;          /* the type section inside data */
	uint32_t types_len;
	const char *strs;        /* the string section inside data */
	uint32_t strs_len;
	uint32_t *offs;          /* offs[i]: offset in types of local type id start_id + i */
	uint32_t nr;             /* local types */
	uint32_t start_id;       /* first local id: 1, or the base's type count for split BTF */
	uint32_t start_str;      /* the base's string section length for split BTF, else 0 */
	const lbpf_btf *base;
	/* Name index, built on the first lbpf_btf_find or candidate search (lazily: open stays
	 * a single pass). Anonymous types are not in it. */
	uint32_t *name_buckets;  /* head local index + 1 per bucket, 0 = empty */
	uint32_t *name_chain;    /* next local index + 1 per local type */
	uint32_t name_mask;
	uint32_t *flavoured;     /* local indexes of names containing "___", ascending */
	uint32_t nflavoured;
	int fd;                  /* after lbpf_btf_load, else -1 */
	/* Only when opened from an ELF object: its .BTF.ext bytes and section sizes. */
	void *ext_data;
	size_t ext_size;
	struct lbpf_btf_elf_sec *elf_secs;
	size_t elf_nsecs;
};

/* ---- btf.c ---------------------------------------------------------------------------------- */

/* Parse data (owned by the new btf on success; freed/unmapped on failure) on top of base. */
int lbpf_btf_parse_owned(uint8_t *data, size_t size, bool mapped, const lbpf_btf *base,
			 lbpf_btf **out);
/* The same; kernel_checked: BTF the kernel itself produced and validated (/sys/kernel/btf/),
 * where the typedef/qualifier loop pass is skipped to keep opening vmlinux fast. */
int lbpf_btf_parse_owned_ex(uint8_t *data, size_t size, bool mapped, const lbpf_btf *base,
			    bool kernel_checked, lbpf_btf **out);
/* Copy an mmapped btf's bytes into writable memory (no-op when already writable). */
int lbpf_btf_make_writable(lbpf_btf *btf);
/* Writable pointer to a local type (NULL when out of range or from the base). */
struct btf_type *lbpf_btf_type_mut(lbpf_btf *btf, uint32_t id);
/* Byte length of a type record including what follows it, from its kind and vlen. */
size_t lbpf_btf_type_rec_size(const struct btf_type *t);
/* Like lbpf_btf_resolve but reports loops/bad ids: 0 and *out set, or -EINVAL with a message. */
int lbpf_btf_resolve_checked(const lbpf_btf *btf, uint32_t id, uint32_t *out);
/* Alignment in bytes a C compiler would give the type (1 for void/unknown). */
int lbpf_btf_type_align(const lbpf_btf *btf, uint32_t id);
/* The same, remembering each record's alignment in memo (lbpf_btf_type_count bytes, zeroed
 * by the caller, shared by calls on the same btf): the C writer asks for every member. */
int lbpf_btf_type_align_memo(const lbpf_btf *btf, uint32_t id, uint8_t *memo);
const char *lbpf_btf_kind_name(unsigned int kind);
/* Length of name without its CO-RE "___flavour" suffix (its essential name). */
size_t lbpf_btf_essential_len(const char *name);
/* Builds the name index now (lbpf_btf_find builds it on first use); 0 or -ENOMEM. */
int lbpf_btf_build_name_index(lbpf_btf *btf);
/* Calls fn for every named type with id >= from_id whose essential name is name[0, len), in
 * ascending id order (base types first), through the name index. A nonzero return of fn stops
 * the walk and is returned; 0 when the walk completes. */
int lbpf_btf_each_essential(const lbpf_btf *btf, uint32_t from_id, const char *name, size_t len,
			    int (*fn)(void *ctx, uint32_t id), void *ctx);
/* Find by kind name string ("struct", "union", "enum", "typedef", ...); -1 if unknown. */
int lbpf_btf_kind_from_name(const char *name);

/* ---- btf_kernel.c -------------------------------------------------------------------------- */

/* The running kernel's vmlinux BTF, parsed and indexed once per process and shared: read-only,
 * never freed by the caller (it lives until the library is unloaded). */
int lbpf_btf_kernel_shared(const lbpf_btf **out);
/* The BTF of every loaded kernel module, split over the shared vmlinux BTF (btf_modules.c). */
int lbpf_btf_kernel_modules(const lbpf_btf *const **out, size_t *count);
/* The name of module BTF number index of that list ("nf_conntrack"), NULL past the end. */
const char *lbpf_btf_kernel_module_name(size_t index);

/* ---- btf_ext.c ----------------------------------------------------------------------------- */

struct lbpf_btf_ext_sec {
	const char *sec_name;
	uint32_t rec_size;
	uint32_t count;
	const void *recs;
};
/* recs: records as in the file; first fields are struct bpf_func_info / bpf_line_info /
 * bpf_core_relo (linux/bpf.h); insn_off in BYTES from the start of the ELF section. */
struct lbpf_btf_ext_table {
	struct lbpf_btf_ext_sec *secs;
	size_t count;
};
struct lbpf_btf_ext {
	struct lbpf_btf_ext_table func_info, line_info, core_relo;
	void *data; /* our copy of the .BTF.ext bytes, which recs point into */
	size_t size;
};

/* Validates header, bounds, record sizes and section-name offsets; copies data. */
int lbpf_btf_ext_parse(const void *data, size_t size, const lbpf_btf *btf,
		       struct lbpf_btf_ext **out);
void lbpf_btf_ext_free(struct lbpf_btf_ext *ext);
const struct lbpf_btf_ext_sec *lbpf_btf_ext_find(const struct lbpf_btf_ext_table *t,
						 const char *sec_name);
/* Deeper checks once the ELF is known: every record's insn_off inside its section (sec_size
 * returns 0 and the size, or negative when there is no such section), func_info types are
 * FUNCs, line_info strings and core_relo type ids / access strings valid. */
int lbpf_btf_ext_check(const struct lbpf_btf_ext *ext, const lbpf_btf *btf,
		       int (*sec_size)(void *ctx, const char *sec, uint32_t *size), void *ctx);

/* The compiler leaves DATASEC sizes and VAR offsets zero in objects: fill them from the ELF. */
int lbpf_btf_fixup_datasecs(lbpf_btf *btf,
			    int (*sec_size)(void *ctx, const char *sec, uint32_t *size),
			    int (*var_offset)(void *ctx, const char *var, uint32_t *off),
			    void *ctx);

/* ---- btf_load.c ---------------------------------------------------------------------------- */

/* Load into the kernel (BPF_BTF_LOAD with a log buffer; the log tail in the error message on
 * failure), sanitising features the kernel lacks (probed once, cached) or that disable_mask
 * (LBPF_BTF_FEAT_*) forces off. The btf itself is not changed: a sanitised copy is loaded, with
 * the same type ids. Returns fd (the btf keeps it; closed with the btf) or -errno. */
int lbpf_btf_load(lbpf_btf *btf, uint32_t disable_mask);
int lbpf_btf_fd(const lbpf_btf *btf);
const void *lbpf_btf_raw_data(const lbpf_btf *btf, uint32_t *size);
/* LBPF_BTF_FEAT_* bits the running kernel lacks (probed once per process). */
uint32_t lbpf_btf_missing_features(void);
/* The sanitised image lbpf_btf_load would send (malloc'ed; caller frees). */
int lbpf_btf_sanitized_copy(const lbpf_btf *btf, uint32_t disable_mask, void **out,
			    uint32_t *size);

/* ---- btf_dump.c ---------------------------------------------------------------------------- */

/* Every named type as C in dependency order, vmlinux.h-style (preserve_access_index). */
int lbpf_btf_dump_c(const lbpf_btf *btf, FILE *out);
/* A declaration of type id named name ("" for none), never expanding named records: "char *p",
 * "struct task_struct", "int (*)(void *)". Like snprintf: returns the length needed. */
int lbpf_btf_decl_to_c(const lbpf_btf *btf, uint32_t id, const char *name, char *buf,
		       size_t size);
/* The same into a malloc'ed NUL-terminated string (caller frees). */
int lbpf_btf_dump_c_str(const lbpf_btf *btf, char **out, size_t *len);

#endif

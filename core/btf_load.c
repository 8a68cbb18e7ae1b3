/* BPF_BTF_LOAD: feature probing, sanitisation of what the kernel lacks, and the load itself. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "btf_internal.h"
#include "error.h"
#include "sys.h"

#define LOG_SIZE (1u << 20)
#define LOG_TAIL 1500
#define ALL_FEATS (LBPF_BTF_FEAT_DECL_TAG | LBPF_BTF_FEAT_TYPE_TAG | LBPF_BTF_FEAT_ENUM64 | \
		   LBPF_BTF_FEAT_FLOAT | LBPF_BTF_FEAT_FUNC_LINKAGE | LBPF_BTF_FEAT_DATASEC)

/* ---- BTF_LOAD ------------------------------------------------------------------------------- */

static int sys_btf_load(const void *data, uint32_t size, char *log, uint32_t log_size)
{
	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.btf = lbpf_ptr(data);
	attr.btf_size = size;
	if (log) {
		attr.btf_log_buf = lbpf_ptr(log);
		attr.btf_log_size = log_size;
		attr.btf_log_level = 1;
	}
	return lbpf_sys_bpf(BPF_BTF_LOAD, &attr, sizeof(attr));
}

/* ---- probing -------------------------------------------------------------------------------- */

/* A tiny BTF image: header, types (u32 words), strings. */
static int probe_load(const uint32_t *types, uint32_t types_len, const char *strs,
		      uint32_t strs_len)
{
	uint8_t buf[256];
	struct btf_header hdr = {
		.magic = LBPF_BTF_MAGIC, .version = BTF_VERSION, .hdr_len = sizeof(hdr),
		.type_off = 0, .type_len = types_len, .str_off = types_len, .str_len = strs_len,
	};
	if (sizeof(hdr) + types_len + strs_len > sizeof(buf))
		return -E2BIG;
	memcpy(buf, &hdr, sizeof(hdr));
	memcpy(buf + sizeof(hdr), types, types_len);
	memcpy(buf + sizeof(hdr) + types_len, strs, strs_len);
	int fd = sys_btf_load(buf, (uint32_t)(sizeof(hdr) + types_len + strs_len), NULL, 0);
	if (fd >= 0)
		close(fd);
	return fd;
}

#define INT_ENC(enc, off, bits) (((uint32_t)(enc) << 24) | ((uint32_t)(off) << 16) | (bits))
#define INFO(kind, kflag, vlen) (((uint32_t)(kflag) << 31) | ((uint32_t)(kind) << 24) | (vlen))
#define PROBE(types) probe_load(types, sizeof(types), probe_strs, sizeof(probe_strs))

/* Offsets: 1 "int", 5 "x", 7 "tag", 11 ".data", 17 "s" */
static const char probe_strs[] = "\0int\0x\0tag\0.data\0s";

static bool has_decl_tag(void)
{
	static const uint32_t t[] = {
		1, INFO(BTF_KIND_INT, 0, 0), 4, INT_ENC(BTF_INT_SIGNED, 0, 32),
		17, INFO(BTF_KIND_STRUCT, 0, 1), 4, 5, 1, 0,
		7, INFO(BTF_KIND_DECL_TAG, 0, 0), 2, (uint32_t)-1,
	};
	return PROBE(t) >= 0;
}

static bool has_type_tag(void)
{
	static const uint32_t t[] = {
		1, INFO(BTF_KIND_INT, 0, 0), 4, INT_ENC(BTF_INT_SIGNED, 0, 32),
		7, INFO(BTF_KIND_TYPE_TAG, 0, 0), 1,
		0, INFO(BTF_KIND_PTR, 0, 0), 2,
	};
	return PROBE(t) >= 0;
}

static bool has_enum64(void)
{
	static const uint32_t t[] = { 17, INFO(BTF_KIND_ENUM64, 0, 1), 8, 5, 1, 1 };
	return PROBE(t) >= 0;
}

static bool has_float(void)
{
	static const uint32_t t[] = { 1, INFO(BTF_KIND_FLOAT, 0, 0), 4 };
	return PROBE(t) >= 0;
}

static bool has_func_linkage(void)
{
	static const uint32_t t[] = {
		0, INFO(BTF_KIND_FUNC_PROTO, 0, 0), 0,
		5, INFO(BTF_KIND_FUNC, 0, BTF_FUNC_GLOBAL), 1,
	};
	return PROBE(t) >= 0;
}

static bool has_datasec(void)
{
	static const uint32_t t[] = {
		1, INFO(BTF_KIND_INT, 0, 0), 4, INT_ENC(BTF_INT_SIGNED, 0, 32),
		5, INFO(BTF_KIND_VAR, 0, 0), 1, BTF_VAR_GLOBAL_ALLOCATED,
		11, INFO(BTF_KIND_DATASEC, 0, 1), 4, 2, 0, 4,
	};
	return PROBE(t) >= 0;
}

/* The features among `wanted` the kernel lacks, each probed once per process (a BTF_LOAD
 * apiece) and only when asked for: a program's BTF that uses none of them costs no probe. */
static uint32_t missing_among(uint32_t wanted)
{
	static const struct { uint32_t feat; bool (*has)(void); } probes[] = {
		{ LBPF_BTF_FEAT_DECL_TAG, has_decl_tag }, { LBPF_BTF_FEAT_TYPE_TAG, has_type_tag },
		{ LBPF_BTF_FEAT_ENUM64, has_enum64 }, { LBPF_BTF_FEAT_FLOAT, has_float },
		{ LBPF_BTF_FEAT_FUNC_LINKAGE, has_func_linkage }, { LBPF_BTF_FEAT_DATASEC, has_datasec },
	};
	static uint32_t probed, missing; /* benign race: every thread computes the same answer */
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		uint32_t f = probes[i].feat;
		if ((wanted & f) && !(probed & f)) {
			if (!probes[i].has())
				missing |= f;
			probed |= f;
		}
	}
	return missing & wanted;
}

uint32_t lbpf_btf_missing_features(void)
{
	return missing_among(ALL_FEATS);
}

/* The features whose absence would change how btf loads (what sanitize_type rewrites). */
static uint32_t features_used(const lbpf_btf *btf)
{
	uint32_t used = 0;
	for (uint32_t i = 0; i < btf->nr; i++) {
		uint32_t info = ((const struct btf_type *)(btf->types + btf->offs[i]))->info;
		switch (BTF_INFO_KIND(info)) {
		case BTF_KIND_DECL_TAG: used |= LBPF_BTF_FEAT_DECL_TAG; break;
		case BTF_KIND_TYPE_TAG: used |= LBPF_BTF_FEAT_TYPE_TAG; break;
		case BTF_KIND_ENUM: /* a signed enum: the kflag came with ENUM64 */
			if (BTF_INFO_KFLAG(info))
				used |= LBPF_BTF_FEAT_ENUM64;
			break;
		case BTF_KIND_ENUM64: used |= LBPF_BTF_FEAT_ENUM64; break;
		case BTF_KIND_FLOAT: used |= LBPF_BTF_FEAT_FLOAT; break;
		case BTF_KIND_FUNC: /* static linkage (0) loads everywhere */
			if (BTF_INFO_VLEN(info))
				used |= LBPF_BTF_FEAT_FUNC_LINKAGE;
			break;
		case BTF_KIND_VAR:
		case BTF_KIND_DATASEC: used |= LBPF_BTF_FEAT_DATASEC; break;
		default: break;
		}
	}
	return used;
}

/* ---- sanitisation --------------------------------------------------------------------------- */

/* Rewrites keep every record's length, so type ids and offsets stay as they are. */
static void int_in_place(struct btf_type *t, uint32_t name_off)
{
	t->name_off = name_off;
	t->info = INFO(BTF_KIND_INT, 0, 0);
	t->size = 1;
	*(uint32_t *)(t + 1) = INT_ENC(0, 0, 8);
}

static void datasec_to_struct(struct btf_type *t, const lbpf_btf *btf)
{
	struct btf_var_secinfo *v = (struct btf_var_secinfo *)(t + 1);
	struct btf_member *m = (struct btf_member *)(t + 1);
	unsigned int vlen = BTF_INFO_VLEN(t->info);
	t->name_off = 0; /* ".data" is no C identifier */
	t->info = INFO(BTF_KIND_STRUCT, 0, vlen);
	for (unsigned int i = 0; i < vlen; i++) {
		struct btf_var_secinfo s = v[i];
		const struct btf_type *var = lbpf_btf_type(btf, s.type); /* the original VAR */
		m[i].name_off = var ? var->name_off : 0;
		m[i].type = s.type; /* that VAR becomes a 1-byte INT */
		m[i].offset = s.offset * 8;
	}
}

static void enum64_to_union(struct btf_type *t, uint32_t placeholder)
{
	struct btf_member *m = (struct btf_member *)(t + 1);
	unsigned int vlen = BTF_INFO_VLEN(t->info);
	t->info = INFO(BTF_KIND_UNION, 0, vlen);
	for (unsigned int i = 0; i < vlen; i++) {
		m[i].type = placeholder; /* name_off stays: btf_enum64 starts with it too */
		m[i].offset = 0;
	}
}

static void sanitize_type(struct btf_type *t, const lbpf_btf *btf, uint32_t missing,
			  uint32_t placeholder)
{
	switch (BTF_INFO_KIND(t->info)) {
	case BTF_KIND_DECL_TAG:
		if (missing & LBPF_BTF_FEAT_DECL_TAG)
			int_in_place(t, 0);
		break;
	case BTF_KIND_TYPE_TAG:
		if (missing & LBPF_BTF_FEAT_TYPE_TAG) {
			t->name_off = 0;
			t->info = INFO(BTF_KIND_CONST, 0, 0);
		}
		break;
	case BTF_KIND_ENUM:
		if (missing & LBPF_BTF_FEAT_ENUM64) /* signedness came with ENUM64 */
			t->info = INFO(BTF_KIND_ENUM, 0, BTF_INFO_VLEN(t->info));
		break;
	case BTF_KIND_ENUM64:
		if (missing & LBPF_BTF_FEAT_ENUM64)
			enum64_to_union(t, placeholder);
		break;
	case BTF_KIND_FLOAT:
		if (missing & LBPF_BTF_FEAT_FLOAT)
			t->info = INFO(BTF_KIND_STRUCT, 0, 0);
		break;
	case BTF_KIND_FUNC:
		if (missing & LBPF_BTF_FEAT_FUNC_LINKAGE)
			t->info = INFO(BTF_KIND_FUNC, 0, 0);
		break;
	case BTF_KIND_VAR:
		if (missing & LBPF_BTF_FEAT_DATASEC)
			int_in_place(t, t->name_off);
		break;
	case BTF_KIND_DATASEC:
		if (missing & LBPF_BTF_FEAT_DATASEC)
			datasec_to_struct(t, btf);
		break;
	default:
		break;
	}
}

static bool has_kind(const lbpf_btf *btf, unsigned int kind)
{
	for (uint32_t i = 0; i < btf->nr; i++)
		if (BTF_INFO_KIND(((const struct btf_type *)(btf->types + btf->offs[i]))->info) == kind)
			return true;
	return false;
}

/* ---- externs -------------------------------------------------------------------------------- */

/* What __ksym externs leave in BTF that the kernel refuses: VARs and FUNCs of extern linkage,
 * and a .ksyms DATASEC of FUNCs. libbpf rewrites them; so does the copy we load. */
struct extern_plan {
	bool any;                /* an extern VAR or FUNC: the placeholder INT is needed */
	bool ksym_funcs;         /* .ksyms lists FUNCs: a placeholder VAR stands in for them */
	uint32_t var_name_off;   /* a valid identifier for that VAR (the first kfunc's name) */
};

static const struct btf_type *local_type(const lbpf_btf *btf, const uint8_t *types, uint32_t id)
{
	return id >= 1 && id - 1 < btf->nr ? (const struct btf_type *)(types + btf->offs[id - 1]) : NULL;
}

static struct extern_plan plan_externs(const lbpf_btf *btf)
{
	struct extern_plan plan = { false, false, 0 };

	for (uint32_t i = 0; i < btf->nr; i++) {
		const struct btf_type *t = (const struct btf_type *)(btf->types + btf->offs[i]);
		unsigned int kind = BTF_INFO_KIND(t->info);

		if (kind == BTF_KIND_VAR && ((const struct btf_var *)(t + 1))->linkage == BTF_VAR_GLOBAL_EXTERN)
			plan.any = true;
		if (kind == BTF_KIND_FUNC && BTF_INFO_VLEN(t->info) == BTF_FUNC_EXTERN) {
			plan.any = true;
			if (!plan.var_name_off)
				plan.var_name_off = t->name_off;
		}
		if (kind == BTF_KIND_DATASEC && !strcmp(lbpf_btf_str(btf, t->name_off), ".ksyms")) {
			const struct btf_var_secinfo *vs = (const struct btf_var_secinfo *)(t + 1);

			for (unsigned int j = 0; j < BTF_INFO_VLEN(t->info); j++) {
				const struct btf_type *e = local_type(btf, btf->types, vs[j].type);

				plan.ksym_funcs |= e && BTF_INFO_KIND(e->info) == BTF_KIND_FUNC;
			}
		}
	}
	plan.ksym_funcs &= plan.var_name_off != 0;
	return plan;
}

/* A kfunc declaration becomes a global function; its unnamed parameters get a name, which the
 * kernel requires of every FUNC's prototype. */
static void extern_func_to_global(struct btf_type *t, const lbpf_btf *btf, uint8_t *types)
{
	struct btf_type *proto = (struct btf_type *)local_type(btf, types, t->type);

	t->info = INFO(BTF_KIND_FUNC, 0, BTF_FUNC_GLOBAL);
	if (!proto || BTF_INFO_KIND(proto->info) != BTF_KIND_FUNC_PROTO)
		return;
	struct btf_param *p = (struct btf_param *)(proto + 1);
	for (unsigned int i = 0; i < BTF_INFO_VLEN(proto->info); i++)
		if (p[i].type && !p[i].name_off)
			p[i].name_off = t->name_off;
}

/* .ksyms entries: one byte each, FUNCs replaced by the placeholder VAR. */
static void ksyms_datasec(struct btf_type *t, const lbpf_btf *btf, uint8_t *types, uint32_t var_id)
{
	struct btf_var_secinfo *vs = (struct btf_var_secinfo *)(t + 1);
	unsigned int vlen = BTF_INFO_VLEN(t->info);

	for (unsigned int j = 0; j < vlen; j++) {
		const struct btf_type *e = local_type(btf, types, vs[j].type);

		if (e && BTF_INFO_KIND(e->info) == BTF_KIND_FUNC)
			vs[j].type = var_id;
		vs[j].offset = j;
		vs[j].size = 1;
	}
	t->size = vlen;
}

static void fix_externs(uint8_t *types, const lbpf_btf *btf, uint32_t int_id, uint32_t var_id)
{
	for (uint32_t i = 0; i < btf->nr; i++) {
		struct btf_type *t = (struct btf_type *)(types + btf->offs[i]);
		unsigned int kind = BTF_INFO_KIND(t->info);

		if (kind == BTF_KIND_VAR && ((struct btf_var *)(t + 1))->linkage == BTF_VAR_GLOBAL_EXTERN) {
			((struct btf_var *)(t + 1))->linkage = BTF_VAR_GLOBAL_ALLOCATED;
			t->type = int_id; /* one byte in .ksyms, whatever the declared type */
		} else if (kind == BTF_KIND_FUNC && BTF_INFO_VLEN(t->info) == BTF_FUNC_EXTERN) {
			extern_func_to_global(t, btf, types);
		} else if (kind == BTF_KIND_DATASEC && !strcmp(lbpf_btf_str(btf, t->name_off), ".ksyms")) {
			ksyms_datasec(t, btf, types, var_id);
		}
	}
}

static bool needs_copy(const lbpf_btf *btf, uint32_t missing)
{
	return (missing & ALL_FEATS) || plan_externs(btf).any;
}

int lbpf_btf_sanitized_copy(const lbpf_btf *btf, uint32_t missing, void **out, uint32_t *size)
{
	/* ENUM64 members become members of a union, extern VARs one-byte integers: both need an
	 * integer type to point at, appended after the last type so no id moves (and after it, a
	 * VAR standing in for kfuncs in .ksyms). */
	struct extern_plan plan = plan_externs(btf);
	bool add_int = ((missing & LBPF_BTF_FEAT_ENUM64) && has_kind(btf, BTF_KIND_ENUM64)) || plan.any;
	uint32_t int_len = sizeof(struct btf_type) + sizeof(uint32_t);
	uint32_t var_len = plan.ksym_funcs ? sizeof(struct btf_type) + sizeof(struct btf_var) : 0;
	uint32_t extra = (add_int ? int_len : 0) + var_len;
	struct btf_header hdr = {
		.magic = LBPF_BTF_MAGIC, .version = BTF_VERSION, .hdr_len = sizeof(hdr),
		.type_off = 0, .type_len = btf->types_len + extra,
		.str_off = btf->types_len + extra, .str_len = btf->strs_len,
	};
	uint32_t total = sizeof(hdr) + hdr.type_len + hdr.str_len;
	uint8_t *buf = malloc(total);
	if (!buf)
		return lbpf_err(ENOMEM, "BTF: out of memory");
	memcpy(buf, &hdr, sizeof(hdr));
	uint8_t *types = buf + sizeof(hdr);
	memcpy(types, btf->types, btf->types_len);
	memcpy(types + hdr.type_len, btf->strs, btf->strs_len);
	uint32_t placeholder = lbpf_btf_type_count(btf);
	if (add_int)
		int_in_place((struct btf_type *)(types + btf->types_len), 0);
	if (var_len) {
		struct btf_type *v = (struct btf_type *)(types + btf->types_len + int_len);

		v->name_off = plan.var_name_off;
		v->info = INFO(BTF_KIND_VAR, 0, 0);
		v->type = placeholder;
		((struct btf_var *)(v + 1))->linkage = BTF_VAR_GLOBAL_ALLOCATED;
	}
	if (plan.any)
		fix_externs(types, btf, placeholder, var_len ? placeholder + 1 : 0);
	for (uint32_t i = 0; i < btf->nr && (missing & ALL_FEATS); i++)
		sanitize_type((struct btf_type *)(types + btf->offs[i]), btf, missing, placeholder);
	*out = buf;
	*size = total;
	return 0;
}

/* ---- load ----------------------------------------------------------------------------------- */

static int load_failed(int err, char *log)
{
	size_t len = log ? strnlen(log, LOG_SIZE) : 0;
	lbpf_err(err, "BTF: BPF_BTF_LOAD failed: %s", strerror(-err));
	if (len) {
		lbpf_err_append("\nkernel log:\n");
		lbpf_err_append(len > LOG_TAIL ? log + len - LOG_TAIL : log);
	}
	return err;
}

int lbpf_btf_load(lbpf_btf *btf, uint32_t disable_mask)
{
	if (btf->fd >= 0)
		return btf->fd;
	if (btf->base)
		return lbpf_err(EINVAL, "BTF: loading split BTF is not supported");
	uint32_t missing = (missing_among(features_used(btf)) | disable_mask) & ALL_FEATS;
	void *data = btf->data;
	uint32_t size = (uint32_t)btf->size;
	void *copy = NULL;
	if (needs_copy(btf, missing)) {
		int err = lbpf_btf_sanitized_copy(btf, missing, &copy, &size);
		if (err)
			return err;
		data = copy;
	}
	int fd = sys_btf_load(data, size, NULL, 0);
	if (fd < 0 && fd != -EPERM) {
		/* Again with a log so the message says why. */
		char *log = calloc(1, LOG_SIZE);
		int fd2 = sys_btf_load(data, size, log, log ? LOG_SIZE : 0);
		if (fd2 >= 0)
			fd = fd2;
		else
			load_failed(fd, log);
		free(log);
	} else if (fd < 0) {
		lbpf_err(fd, "BTF: BPF_BTF_LOAD failed: %s (CAP_BPF or CAP_SYS_ADMIN needed)",
			 strerror(-fd));
	}
	free(copy);
	if (fd >= 0)
		btf->fd = fd;
	return fd;
}

int lbpf_btf_fd(const lbpf_btf *btf)
{
	return btf->fd >= 0 ? btf->fd : -EBADF;
}

const void *lbpf_btf_raw_data(const lbpf_btf *btf, uint32_t *size)
{
	*size = (uint32_t)btf->size;
	return btf->data;
}

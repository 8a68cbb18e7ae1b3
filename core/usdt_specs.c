/* Slots of a BPF object's USDT argument-spec map (__lbpf_usdt_specs, bpf/include/usdt.bpf.h):
 * attach_usdt claims one slot per distinct argument layout and releases it on detach. A slot
 * is free while its in_use word is 0, so the map itself is the allocator and nothing else
 * needs to remember which slots are taken.
 * Objects built on libbpf's usdt.bpf.h have libbpf's map (__bpf_usdt_specs) instead: its
 * slots are written in libbpf's layout and, having no in_use word, tracked per map id here. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attach_int.h"
#include "error.h"
#include "sys.h"

static int elem_op(int map_fd, enum bpf_cmd cmd, uint32_t key, void *value)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.map_fd = (uint32_t)map_fd;
	attr.key = lbpf_ptr(&key);
	attr.value = lbpf_ptr(value);
	attr.flags = cmd == BPF_MAP_UPDATE_ELEM ? BPF_ANY : 0;
	return lbpf_sys_bpf(cmd, &attr, sizeof(attr));
}

/* ---- libbpf's layout (libbpf's usdt.bpf.h, struct __bpf_usdt_spec) ------------------------ */

#define LIBBPF_SPECS_MAP "__bpf_usdt_specs"

struct libbpf_usdt_arg {
	uint64_t val_off;     /* CONST: the value; REG_DEREF: the offset */
	uint32_t arg_type;    /* 0 CONST, 1 REG, 2 REG_DEREF */
	int16_t reg_off;      /* in struct pt_regs */
	uint8_t arg_signed;
	int8_t arg_bitshift;  /* 64 - size in bits: cleared (and sign-extended) on the BPF side */
};

struct libbpf_usdt_spec {
	struct libbpf_usdt_arg args[LBPF_USDT_MAX_ARGS];
	uint64_t usdt_cookie;
	int16_t arg_cnt;
};

static void to_libbpf(const struct lbpf_usdt_spec *spec, struct libbpf_usdt_spec *out)
{
	memset(out, 0, sizeof(*out));
	out->arg_cnt = (int16_t)spec->arg_cnt;
	for (uint32_t i = 0; i < spec->arg_cnt && i < LBPF_USDT_MAX_ARGS; i++) {
		const struct lbpf_usdt_arg *a = &spec->args[i];
		struct libbpf_usdt_arg *b = &out->args[i];

		b->val_off = a->kind == LBPF_USDT_ARG_REG ? 0 : (uint64_t)a->value;
		b->arg_type = (uint32_t)(a->kind - LBPF_USDT_ARG_CONST);
		b->reg_off = (int16_t)a->reg_offset;
		b->arg_signed = a->is_signed;
		b->arg_bitshift = (int8_t)(64 - 8 * a->size);
	}
}

/* Slots in use, per map (kernel map id): libbpf's layout has no word to mark them. */
static pthread_mutex_t libbpf_slots_lock = PTHREAD_MUTEX_INITIALIZER;
static struct { uint32_t map_id; uint8_t *used; } *libbpf_slots;
static size_t nlibbpf_slots;

static uint8_t *slots_of(uint32_t map_id, uint32_t max_entries)
{
	void *grown;

	for (size_t i = 0; i < nlibbpf_slots; i++)
		if (libbpf_slots[i].map_id == map_id)
			return libbpf_slots[i].used;
	grown = realloc(libbpf_slots, (nlibbpf_slots + 1) * sizeof(*libbpf_slots));
	if (!grown)
		return NULL;
	libbpf_slots = grown;
	libbpf_slots[nlibbpf_slots].map_id = map_id;
	libbpf_slots[nlibbpf_slots].used = calloc(max_entries ? max_entries : 1, 1);
	return libbpf_slots[nlibbpf_slots].used ? libbpf_slots[nlibbpf_slots++].used : NULL;
}

static int map_id_and_size(int map_fd, uint32_t *id, uint32_t *value_size)
{
	union bpf_attr attr;
	struct bpf_map_info info;
	int ret;

	memset(&info, 0, sizeof(info));
	memset(&attr, 0, sizeof(attr));
	attr.info.bpf_fd = (uint32_t)map_fd;
	attr.info.info_len = sizeof(info);
	attr.info.info = lbpf_ptr(&info);
	ret = lbpf_sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr, sizeof(attr));
	*id = info.id;
	*value_size = info.value_size;
	return ret;
}

static bool libbpf_layout(int map_fd, uint32_t *map_id)
{
	uint32_t size = 0;

	return map_id_and_size(map_fd, map_id, &size) >= 0 && size == sizeof(struct libbpf_usdt_spec);
}

static int claim_libbpf(int map_fd, uint32_t map_id, uint32_t max_entries,
			const struct lbpf_usdt_spec *spec)
{
	struct libbpf_usdt_spec slot;
	uint8_t *used;
	int ret = -ENOSPC;

	to_libbpf(spec, &slot);
	pthread_mutex_lock(&libbpf_slots_lock);
	used = slots_of(map_id, max_entries);
	for (uint32_t id = 0; used && id < max_entries; id++) {
		if (used[id])
			continue;
		ret = elem_op(map_fd, BPF_MAP_UPDATE_ELEM, id, &slot);
		if (ret >= 0) {
			used[id] = 1;
			ret = (int)id;
		}
		break;
	}
	pthread_mutex_unlock(&libbpf_slots_lock);
	if (!used)
		return lbpf_err(ENOMEM, "out of memory");
	if (ret == -ENOSPC)
		return lbpf_err(ENOSPC, "all %u slots of map %s are in use (define "
				"BPF_USDT_MAX_SPEC_CNT larger before including usdt.bpf.h)", max_entries,
				LIBBPF_SPECS_MAP);
	return ret < 0 ? lbpf_err(ret, "writing USDT spec: %s", strerror(-ret)) : ret;
}

static void release_libbpf(uint32_t map_id, int id)
{
	pthread_mutex_lock(&libbpf_slots_lock);
	for (size_t i = 0; i < nlibbpf_slots; i++)
		if (libbpf_slots[i].map_id == map_id)
			libbpf_slots[i].used[id] = 0;
	pthread_mutex_unlock(&libbpf_slots_lock);
}

/* ---- the map of an object ------------------------------------------------------------------ */

int usdt_specs_open(lbpf_program *prog, int *map_fd, uint32_t *max_entries)
{
	lbpf_object *obj = lbpf_program_object(prog);
	lbpf_map *map = obj ? lbpf_object_map_by_name(obj, LBPF_USDT_SPECS_MAP) : NULL;
	lbpf_map *theirs = obj && !map ? lbpf_object_map_by_name(obj, LIBBPF_SPECS_MAP) : NULL;
	int fd;

	*map_fd = -1;
	if (!map && !theirs)
		return -ENOENT;
	if (theirs && (lbpf_map_type(theirs) != BPF_MAP_TYPE_ARRAY || lbpf_map_key_size(theirs) != 4 ||
		       lbpf_map_value_size(theirs) != sizeof(struct libbpf_usdt_spec)))
		return lbpf_err(EINVAL, "program '%s': map %s is not the array of struct "
				"__bpf_usdt_spec (%zu bytes) libbpf's usdt.bpf.h defines",
				lbpf_program_name(prog), LIBBPF_SPECS_MAP,
				sizeof(struct libbpf_usdt_spec));
	if (theirs)
		map = theirs;
	else if (lbpf_map_type(map) != BPF_MAP_TYPE_ARRAY || lbpf_map_key_size(map) != 4 ||
	    lbpf_map_value_size(map) != sizeof(struct lbpf_usdt_spec))
		return lbpf_err(EINVAL, "program '%s': map %s is not the array of struct "
				"__lbpf_usdt_spec (%zu bytes) usdt.bpf.h defines", lbpf_program_name(prog),
				LBPF_USDT_SPECS_MAP, sizeof(struct lbpf_usdt_spec));
	if (lbpf_map_fd(map) < 0)
		return lbpf_err(EBADF, "program '%s': map %s is not loaded", lbpf_program_name(prog),
				lbpf_map_name(map));
	/* Our own reference: the link may outlive the object's handle on the map. */
	fd = fcntl(lbpf_map_fd(map), F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return lbpf_err(errno, "duplicating the fd of map %s: %s", lbpf_map_name(map),
				strerror(errno));
	*map_fd = fd;
	*max_entries = lbpf_map_max_entries(map);
	return 0;
}

int usdt_specs_claim(int map_fd, uint32_t max_entries, const struct lbpf_usdt_spec *spec)
{
	struct lbpf_usdt_spec slot;
	uint32_t map_id;
	int ret;

	if (libbpf_layout(map_fd, &map_id))
		return claim_libbpf(map_fd, map_id, max_entries, spec);
	for (uint32_t id = 0; id < max_entries; id++) {
		if ((ret = elem_op(map_fd, BPF_MAP_LOOKUP_ELEM, id, &slot)) < 0)
			return lbpf_err(ret, "reading USDT spec slot %u: %s", id, strerror(-ret));
		if (slot.in_use)
			continue;
		slot = *spec;
		slot.in_use = 1;
		if ((ret = elem_op(map_fd, BPF_MAP_UPDATE_ELEM, id, &slot)) < 0)
			return lbpf_err(ret, "writing USDT spec slot %u: %s", id, strerror(-ret));
		return (int)id;
	}
	return lbpf_err(ENOSPC, "all %u slots of map %s are in use (define LBPF_USDT_MAX_SPECS "
			"larger before including usdt.bpf.h)", max_entries, LBPF_USDT_SPECS_MAP);
}

void usdt_specs_release(int map_fd, int id)
{
	struct libbpf_usdt_spec empty; /* the larger of the two layouts */
	uint32_t map_id;

	memset(&empty, 0, sizeof(empty));
	elem_op(map_fd, BPF_MAP_UPDATE_ELEM, (uint32_t)id, &empty);
	if (libbpf_layout(map_fd, &map_id))
		release_libbpf(map_id, id);
}

/* Maps: creation from a definition, element operations, pinning, and standalone maps. */
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "btf_internal.h"
#include "error.h"
#include "internal.h"
#include "sys.h"

/* ---- getters --------------------------------------------------------------------------------- */

const char *lbpf_map_name(const lbpf_map *map) { return map->name; }
int lbpf_map_fd(const lbpf_map *map) { return map->fd >= 0 ? map->fd : -EBADF; }
enum bpf_map_type lbpf_map_type(const lbpf_map *map) { return map->def.type; }
uint32_t lbpf_map_key_size(const lbpf_map *map) { return map->def.key_size; }
uint32_t lbpf_map_value_size(const lbpf_map *map) { return map->def.value_size; }
uint32_t lbpf_map_max_entries(const lbpf_map *map) { return map->def.max_entries; }
uint32_t lbpf_map_flags(const lbpf_map *map) { return map->def.map_flags; }
const lbpf_btf *lbpf_map_btf(const lbpf_map *map) { return map->btf; }
uint32_t lbpf_map_btf_key_type_id(const lbpf_map *map) { return map->btf_key_type_id; }
uint32_t lbpf_map_btf_value_type_id(const lbpf_map *map) { return map->btf_value_type_id; }

bool lbpf_map_is_percpu(const lbpf_map *map)
{
	switch (map->def.type) {
	case BPF_MAP_TYPE_PERCPU_HASH:
	case BPF_MAP_TYPE_PERCPU_ARRAY:
	case BPF_MAP_TYPE_LRU_PERCPU_HASH:
	case BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE:
		return true;
	default:
		return false;
	}
}

int lbpf_num_possible_cpus(void)
{
	static int cached;
	char buf[128];
	int fd, n = 0, lo, hi;
	ssize_t len;
	char *p;

	if (cached > 0)
		return cached;
	/* "0-3" or "0,2-5": the highest id + 1 is what per-CPU values are sized by. */
	fd = open("/sys/devices/system/cpu/possible", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cached = 1;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[len > 0 ? len : 0] = '\0';
	for (p = buf; *p;) {
		if (sscanf(p, "%d-%d", &lo, &hi) == 2 || (sscanf(p, "%d", &lo) == 1 && (hi = lo, 1)))
			n = hi + 1 > n ? hi + 1 : n;
		p = strchr(p, ',');
		if (!p)
			break;
		p++;
	}
	return cached = n > 0 ? n : 1;
}

size_t lbpf_map_lookup_value_size(const lbpf_map *map)
{
	if (lbpf_map_is_percpu(map))
		return (((size_t)map->def.value_size + 7) & ~(size_t)7) * (size_t)lbpf_num_possible_cpus();
	return map->def.value_size;
}

/* ---- pre-load setters (libbpf's bpf_map__set_*) ------------------------------------------ */

static int check_settable(const lbpf_map *map, const char *what)
{
	if (map->fd >= 0 || (map->obj && map->obj->loaded))
		return lbpf_err(EBUSY, "map '%s': %s can only be set before load (the map already "
				"exists in the kernel)", map->name, what);
	return 0;
}

static int check_user_map(const lbpf_map *map, const char *what)
{
	int ret = check_settable(map, what);

	if (!ret && map->origin != LBPF_MAP_USER)
		return lbpf_err(EINVAL, "map '%s' holds global data: its %s is fixed by the object",
				map->name, what);
	return ret;
}

int lbpf_map_set_max_entries(lbpf_map *map, uint32_t max_entries)
{
	int ret = check_user_map(map, "max_entries");

	if (!ret)
		map->def.max_entries = max_entries;
	return ret;
}

/* A key or value size that no longer matches its BTF type: that side goes without BTF (its
 * values become byte strings), said in a warning rather than refused later by the kernel. */
static void drop_mismatched_btf(lbpf_map *map, uint32_t *type_id, uint32_t size, const char *side)
{
	int64_t btf_size = *type_id && map->btf ? lbpf_btf_type_size(map->btf, *type_id) : -1;

	if (btf_size < 0 || (uint64_t)btf_size == size)
		return;
	if (map->obj)
		lbpf_object_warn(map->obj, "map '%s': %s size set to %u, its BTF type has %lld bytes: "
				 "the map goes without BTF, %ss are raw bytes", map->name, side, size,
				 (long long)btf_size, side);
	map->btf_key_type_id = map->btf_value_type_id = 0; /* the kernel takes both or none */
}

int lbpf_map_set_key_size(lbpf_map *map, uint32_t size)
{
	int ret = check_user_map(map, "key size");

	if (ret)
		return ret;
	map->def.key_size = size;
	drop_mismatched_btf(map, &map->btf_key_type_id, size, "key");
	return 0;
}

int lbpf_map_set_value_size(lbpf_map *map, uint32_t size)
{
	int ret = check_user_map(map, "value size");

	if (ret)
		return ret;
	map->def.value_size = size;
	drop_mismatched_btf(map, &map->btf_value_type_id, size, "value");
	return 0;
}

int lbpf_map_set_type(lbpf_map *map, enum bpf_map_type type)
{
	int ret = check_user_map(map, "type");

	if (!ret)
		map->def.type = type;
	return ret;
}

int lbpf_map_set_flags(lbpf_map *map, uint32_t flags)
{
	int ret = check_settable(map, "flags");

	if (!ret)
		map->def.map_flags = flags;
	return ret;
}

int lbpf_map_set_numa_node(lbpf_map *map, uint32_t node)
{
	int ret = check_settable(map, "numa node");

	if (!ret) {
		map->def.numa_node = node;
		map->def.map_flags |= BPF_F_NUMA_NODE; /* the kernel reads numa_node only then */
	}
	return ret;
}

int lbpf_map_set_map_extra(lbpf_map *map, uint64_t extra)
{
	int ret = check_settable(map, "map_extra");

	if (!ret)
		map->def.map_extra = extra;
	return ret;
}

int lbpf_map_set_autocreate(lbpf_map *map, bool autocreate)
{
	int ret = check_settable(map, "autocreate");

	if (!ret)
		map->skip_create = !autocreate;
	return ret;
}

int lbpf_map_set_inner_map_fd(lbpf_map *map, int fd)
{
	int ret = check_user_map(map, "inner map");
	int dup_fd;

	if (ret)
		return ret;
	if (map->def.type != BPF_MAP_TYPE_ARRAY_OF_MAPS && map->def.type != BPF_MAP_TYPE_HASH_OF_MAPS)
		return lbpf_err(EINVAL, "map '%s' is a %s map, not a map of maps: it has no inner map",
				map->name, lbpf_map_type_name(map->def.type));
	dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (dup_fd < 0)
		return lbpf_err(errno, "map '%s': inner map fd %d: %s", map->name, fd, strerror(errno));
	if (map->inner_fd > 0)
		close(map->inner_fd);
	map->inner_fd = dup_fd;
	return 0;
}

int lbpf_map_set_initial_value(lbpf_map *map, const void *data, size_t size)
{
	int ret = check_settable(map, "initial value");

	if (ret)
		return ret;
	if (map->origin != LBPF_MAP_DATA)
		return lbpf_err(EINVAL, "map '%s' holds no global data: only .data, .rodata, .bss "
				"and their .data.* kin have an initial value", map->name);
	if (size != map->def.value_size)
		return lbpf_err(EINVAL, "map '%s': initial value of %zu bytes, the section has %u",
				map->name, size, map->def.value_size);
	memcpy(map->image, data, size);
	return 0;
}

bool lbpf_map_autocreate(const lbpf_map *map) { return !map->skip_create; }
uint32_t lbpf_map_numa_node(const lbpf_map *map) { return map->def.numa_node; }

/* ---- element operations ---------------------------------------------------------------------- */

/* Every operation needs the map to exist in the kernel: -EBADF, with a message, before. */
static int check_loaded(const lbpf_map *map)
{
	return map->fd < 0 ? lbpf_err(EBADF, "map '%s' is not loaded", map->name) : 0;
}

/* Zeroed attributes for a command on the map's fd (element commands, freeze). */
static int map_attr(const lbpf_map *map, union bpf_attr *attr)
{
	int ret = check_loaded(map);

	if (ret)
		return ret;
	memset(attr, 0, sizeof(*attr));
	attr->map_fd = (uint32_t)map->fd;
	return 0;
}

/* Zeroed attributes for a batch command (its map_fd lives elsewhere in the union); the kernel
 * writes back how many entries it processed into attr->batch.count. */
static int batch_attr(const lbpf_map *map, union bpf_attr *attr, const void *keys,
		      const void *values, uint32_t count)
{
	int ret = check_loaded(map);

	if (ret)
		return ret;
	memset(attr, 0, sizeof(*attr));
	attr->batch.map_fd = (uint32_t)map->fd;
	attr->batch.keys = lbpf_ptr(keys);
	attr->batch.values = lbpf_ptr(values);
	attr->batch.count = count;
	return 0;
}

/* Element commands read only map_fd, key, value and flags: sending just those bytes spares the
 * kernel copying and tail-checking the rest of the union on every lookup. */
#define ELEM_ATTR_SIZE (offsetof(union bpf_attr, flags) + sizeof(((union bpf_attr *)0)->flags))

static int elem_op(const lbpf_map *map, enum bpf_cmd cmd, const void *key, void *value,
		   uint64_t flags, const char *what)
{
	union bpf_attr attr;
	int ret = map_attr(map, &attr);

	if (ret)
		return ret;
	attr.key = lbpf_ptr(key);
	attr.value = lbpf_ptr(value);
	attr.flags = flags;
	ret = lbpf_sys_bpf(cmd, &attr, ELEM_ATTR_SIZE);
	if (ret < 0)
		return lbpf_err(ret, "%s on map '%s' failed: %s", what, map->name, lbpf_strerror(ret));
	return ret;
}

int lbpf_map_lookup(const lbpf_map *map, const void *key, void *value, uint64_t flags)
{
	return elem_op(map, BPF_MAP_LOOKUP_ELEM, key, value, flags, "lookup");
}

int lbpf_map_update(const lbpf_map *map, const void *key, const void *value, uint64_t flags)
{
	return elem_op(map, BPF_MAP_UPDATE_ELEM, key, (void *)value, flags, "update");
}

int lbpf_map_delete(const lbpf_map *map, const void *key)
{
	return elem_op(map, BPF_MAP_DELETE_ELEM, key, NULL, 0, "delete");
}

int lbpf_map_next_key(const lbpf_map *map, const void *key, void *next_key)
{
	union bpf_attr attr;
	int ret = map_attr(map, &attr);

	if (ret)
		return ret;
	attr.key = lbpf_ptr(key);
	attr.next_key = lbpf_ptr(next_key);
	ret = lbpf_sys_bpf(BPF_MAP_GET_NEXT_KEY, &attr, sizeof(attr));
	if (ret < 0 && ret != -ENOENT)
		return lbpf_err(ret, "next key of map '%s' failed: %s", map->name, lbpf_strerror(ret));
	return ret;
}

int lbpf_map_lookup_batch(const lbpf_map *map, void *in_batch, void *out_batch, void *keys,
			  void *values, uint32_t *count)
{
	union bpf_attr attr;
	int ret = batch_attr(map, &attr, keys, values, *count);

	if (ret)
		return ret;
	attr.batch.in_batch = lbpf_ptr(in_batch);
	attr.batch.out_batch = lbpf_ptr(out_batch);
	ret = lbpf_sys_bpf(BPF_MAP_LOOKUP_BATCH, &attr, sizeof(attr));
	*count = attr.batch.count;
	if (ret < 0 && ret != -ENOENT)
		return lbpf_err(ret, "batch lookup on map '%s' failed: %s", map->name,
				lbpf_strerror(ret));
	return ret;
}

int lbpf_map_lookup_and_delete(const lbpf_map *map, const void *key, void *value)
{
	return elem_op(map, BPF_MAP_LOOKUP_AND_DELETE_ELEM, key, value, 0, "lookup-and-delete");
}

static int batch_op(const lbpf_map *map, enum bpf_cmd cmd, const void *keys, const void *values,
		    uint32_t *count, uint64_t elem_flags, const char *what)
{
	union bpf_attr attr;
	int ret = batch_attr(map, &attr, keys, values, *count);

	if (ret)
		return ret;
	attr.batch.elem_flags = elem_flags;
	ret = lbpf_sys_bpf(cmd, &attr, sizeof(attr));
	*count = attr.batch.count;
	if (ret < 0)
		return lbpf_err(ret, "%s on map '%s' failed after %u entries: %s", what, map->name,
				*count, lbpf_strerror(ret));
	return 0;
}

int lbpf_map_update_batch(const lbpf_map *map, const void *keys, const void *values,
			  uint32_t *count, uint64_t elem_flags)
{
	return batch_op(map, BPF_MAP_UPDATE_BATCH, keys, values, count, elem_flags, "batch update");
}

int lbpf_map_delete_batch(const lbpf_map *map, const void *keys, uint32_t *count)
{
	return batch_op(map, BPF_MAP_DELETE_BATCH, keys, NULL, count, 0, "batch delete");
}

const char *lbpf_map_pin_path(const lbpf_map *map) { return map->pin_path; }

int lbpf_map_freeze(const lbpf_map *map)
{
	union bpf_attr attr;
	int ret = map_attr(map, &attr);

	if (ret)
		return ret;
	ret = lbpf_sys_bpf(BPF_MAP_FREEZE, &attr, sizeof(attr));
	if (ret < 0)
		return lbpf_err(ret, "freezing map '%s' failed: %s", map->name, lbpf_strerror(ret));
	return 0;
}

/* ---- pinning --------------------------------------------------------------------------------- */

int lbpf_map_pin(lbpf_map *map, const char *path)
{
	union bpf_attr attr;
	int ret = check_loaded(map);

	if (ret)
		return ret;
	memset(&attr, 0, sizeof(attr));
	attr.pathname = lbpf_ptr(path);
	attr.bpf_fd = (uint32_t)map->fd;
	ret = lbpf_sys_bpf(BPF_OBJ_PIN, &attr, sizeof(attr));
	if (ret < 0)
		return lbpf_err(ret, "pinning map '%s' at %s failed: %s", map->name, path,
				lbpf_strerror(ret));
	free(map->pin_path);
	map->pin_path = strdup(path);
	return 0;
}

int lbpf_map_unpin(lbpf_map *map)
{
	if (!map->pin_path)
		return lbpf_err(ENOENT, "map '%s' is not pinned", map->name);
	if (unlink(map->pin_path) < 0)
		return lbpf_err(errno, "unpinning map '%s' from %s failed: %s", map->name,
				map->pin_path, strerror(errno));
	free(map->pin_path);
	map->pin_path = NULL;
	return 0;
}

/* ---- creation -------------------------------------------------------------------------------- */

/* Kernel object names: at most 15 characters of [A-Za-z0-9_.]. */
void lbpf_kernel_name(char dst[BPF_OBJ_NAME_LEN], const char *src)
{
	size_t i;

	for (i = 0; src[i] && i < BPF_OBJ_NAME_LEN - 1; i++) {
		char c = src[i];

		dst[i] = (c == '_' || c == '.' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
			  (c >= 'A' && c <= 'Z')) ? c : '_';
	}
	dst[i] = '\0';
}

/* libbpf's names for global-data maps, so bpftool shows the same either way: a suffix of the
 * section name (at least 7 characters reserved for it, ".bss" included), the object name's
 * head before it ("syscount.rodata", "my_obje.kconfig"); a section with a second dot
 * (".data.counters") goes without the object name. */
static void data_map_kernel_name(const lbpf_map *map, char name[BPF_OBJ_NAME_LEN])
{
	const char *obj_name = map->obj ? map->obj->name : "";
	size_t sfx = strlen(map->name), pfx;
	char full[BPF_OBJ_NAME_LEN];

	if (sfx < 7)
		sfx = 7;
	if (sfx > BPF_OBJ_NAME_LEN - 1)
		sfx = BPF_OBJ_NAME_LEN - 1;
	pfx = strchr(map->name + 1, '.') ? 0 : BPF_OBJ_NAME_LEN - 1 - sfx;
	if (pfx > strlen(obj_name))
		pfx = strlen(obj_name);
	snprintf(full, sizeof(full), "%.*s%.*s", (int)pfx, obj_name, (int)sfx, map->name);
	lbpf_kernel_name(name, full);
}

static int create_fd(lbpf_map *map, int inner_fd)
{
	union bpf_attr attr;
	int btf_fd = map->btf ? lbpf_btf_fd(map->btf) : -1;
	int ret;

	memset(&attr, 0, sizeof(attr));
	attr.map_type = map->def.type;
	attr.key_size = map->def.key_size;
	attr.value_size = map->def.value_size;
	attr.max_entries = map->def.max_entries;
	/* A perf event array without a size gets one slot per CPU, as other loaders do. */
	if (map->def.type == BPF_MAP_TYPE_PERF_EVENT_ARRAY && !attr.max_entries)
		attr.max_entries = map->def.max_entries = (uint32_t)lbpf_num_possible_cpus();
	if (map->def.type == BPF_MAP_TYPE_PERF_EVENT_ARRAY && !attr.key_size)
		attr.key_size = attr.value_size = map->def.key_size = map->def.value_size = 4;
	attr.map_flags = map->def.map_flags;
	attr.numa_node = map->def.numa_node;
	attr.map_extra = map->def.map_extra;
	attr.inner_map_fd = inner_fd > 0 ? (uint32_t)inner_fd : 0;
	attr.btf_vmlinux_value_type_id = lbpf_struct_ops_value_type(map);
	/* The kernel wants the object's BTF with a struct_ops map, though no type of it is used. */
	if (attr.btf_vmlinux_value_type_id && btf_fd >= 0)
		attr.btf_fd = (uint32_t)btf_fd;
	if (map->origin == LBPF_MAP_DATA || map->origin == LBPF_MAP_KCONFIG)
		data_map_kernel_name(map, attr.map_name);
	else
		lbpf_kernel_name(attr.map_name, map->name);
	if (btf_fd >= 0 && (map->btf_key_type_id || map->btf_value_type_id)) {
		attr.btf_fd = (uint32_t)btf_fd;
		attr.btf_key_type_id = map->btf_key_type_id;
		attr.btf_value_type_id = map->btf_value_type_id;
		ret = lbpf_sys_bpf(BPF_MAP_CREATE, &attr, sizeof(attr));
		if (ret >= 0)
			return ret;
		/* The kernel may refuse the types for some map kinds: BTF is a nicety here, but
		 * its loss is said (libbpf retries the same way). */
		if (map->obj)
			lbpf_object_warn(map->obj, "map '%s' created without BTF: the kernel refused "
					 "its key/value types (%s)", map->name, lbpf_strerror(ret));
		attr.btf_fd = attr.btf_key_type_id = attr.btf_value_type_id = 0;
	}
	return lbpf_sys_bpf(BPF_MAP_CREATE, &attr, sizeof(attr));
}

static int fill_data_map(lbpf_map *map)
{
	uint32_t zero = 0;
	int ret;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	int prot = map->readonly ? PROT_READ : PROT_READ | PROT_WRITE;

	ret = lbpf_map_update(map, &zero, map->image, BPF_ANY);
	if (ret)
		return ret;
	if (map->readonly && (ret = lbpf_map_freeze(map)))
		return ret;
	map->mmap_size = ((size_t)map->def.value_size + page - 1) & ~(page - 1);
	map->mmaped = mmap(NULL, map->mmap_size, prot, MAP_SHARED, map->fd, 0);
	if (map->mmaped == MAP_FAILED) {
		map->mmaped = NULL;
		return lbpf_err(errno, "mapping global data '%s' into memory failed: %s", map->name,
				strerror(errno));
	}
	return 0;
}

static int map_info(int fd, struct bpf_map_info *info)
{
	union bpf_attr attr;

	memset(info, 0, sizeof(*info));
	memset(&attr, 0, sizeof(attr));
	attr.info.bpf_fd = (uint32_t)fd;
	attr.info.info_len = sizeof(*info);
	attr.info.info = lbpf_ptr(info);
	return lbpf_sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr, sizeof(attr));
}

static int check_compatible(const lbpf_map *map, int fd, const char *path)
{
	struct bpf_map_info info;
	int ret = map_info(fd, &info);

	if (ret < 0)
		return lbpf_err(ret, "pinned map at %s cannot be inspected: %s", path, lbpf_strerror(ret));
#define SAME(field, def_field, what)                                                            \
	if (info.field != map->def.def_field)                                                   \
		return lbpf_err(EINVAL, "map '%s': the map pinned at %s is incompatible: " what \
				" %u there, %u here", map->name, path, info.field,              \
				map->def.def_field)
	SAME(type, type, "type");
	SAME(key_size, key_size, "key size");
	SAME(value_size, value_size, "value size");
	SAME(max_entries, max_entries, "max_entries");
	SAME(map_flags, map_flags, "map_flags");
#undef SAME
	return 0;
}

/* pinning = by name: reuse the map already pinned under pin_root, or create and pin it. */
static int reuse_or_pin(lbpf_map *map, int (*create)(lbpf_map *))
{
	char path[4096];
	union bpf_attr attr;
	int fd, ret;

	snprintf(path, sizeof(path), "%s/%s", map->obj ? map->obj->pin_root : "/sys/fs/bpf",
		 map->name);
	memset(&attr, 0, sizeof(attr));
	attr.pathname = lbpf_ptr(path);
	fd = lbpf_sys_bpf(BPF_OBJ_GET, &attr, sizeof(attr));
	if (fd >= 0) {
		ret = check_compatible(map, fd, path);
		if (ret) {
			close(fd);
			return ret;
		}
		map->fd = fd;
		map->pin_path = strdup(path);
		return 0;
	}
	if (fd != -ENOENT)
		return lbpf_err(fd, "map '%s': opening the pinned map at %s failed: %s", map->name,
				path, lbpf_strerror(fd));
	ret = create(map);
	return ret ? ret : lbpf_map_pin(map, path);
}

/* A BTF key or value type whose size differs from the map's own size: the kernel would refuse the
 * BTF, and a map created without it would encode and decode values at the wrong size. */
static int check_btf_size(const lbpf_map *map, uint32_t type_id, uint32_t size, const char *what)
{
	int64_t sz;

	if (!map->btf || !type_id)
		return 0;
	sz = lbpf_btf_type_size(map->btf, type_id);
	if (sz < 0 || (uint64_t)sz == size)
		return 0;
	return lbpf_err(EINVAL, "map '%s': its BTF %s type is %lld bytes but its %s_size is %u",
			map->name, what, (long long)sz, what, size);
}

static int check_btf_sizes(const lbpf_map *map)
{
	int ret = check_btf_size(map, map->btf_key_type_id, map->def.key_size, "key");

	return ret ? ret : check_btf_size(map, map->btf_value_type_id, map->def.value_size, "value");
}

static int create_new(lbpf_map *map)
{
	int inner_fd = -1, ret;

	if ((ret = check_btf_sizes(map)) || (map->inner && (ret = check_btf_sizes(map->inner))))
		return ret;
	if (map->inner_fd > 0) {
		inner_fd = fcntl(map->inner_fd, F_DUPFD_CLOEXEC, 3);
		if (inner_fd < 0)
			return lbpf_err(errno, "map '%s': inner map fd: %s", map->name, strerror(errno));
	} else if (map->inner) {
		inner_fd = create_fd(map->inner, -1);
		if (inner_fd < 0)
			return lbpf_err(inner_fd, "creating the inner map template of '%s' failed: %s",
					map->name, lbpf_strerror(inner_fd));
	}
	ret = create_fd(map, inner_fd);
	if (inner_fd >= 0)
		close(inner_fd);
	if (ret < 0)
		return lbpf_err(ret, "creating map '%s' (%s, key %u, value %u, max_entries %u) "
				"failed: %s%s", map->name, lbpf_map_type_name(map->def.type),
				map->def.key_size, map->def.value_size, map->def.max_entries,
				lbpf_strerror(ret), ret == -ENOMEM ? " (map memory is charged to the "
				"memory cgroup; before Linux 5.11 to RLIMIT_MEMLOCK: ulimit -l)" : "");
	map->fd = ret;
	if (map->origin == LBPF_MAP_DATA || map->origin == LBPF_MAP_KCONFIG)
		return fill_data_map(map);
	return 0;
}

#define LBPF_PIN_BY_NAME 1

int lbpf_map_create(lbpf_map *map)
{
	if (map->skip_create)
		return 0; /* the caller said not to (set_autocreate) */
	if (map->def.pinning == LBPF_PIN_BY_NAME)
		return reuse_or_pin(map, create_new);
	return create_new(map);
}

void lbpf_map_release(lbpf_map *map)
{
	if (map->mmaped)
		munmap(map->mmaped, map->mmap_size);
	if (map->fd >= 0)
		close(map->fd);
	if (map->inner) {
		lbpf_map_release(map->inner);
		free(map->inner);
	}
	if (map->inner_fd > 0)
		close(map->inner_fd);
	lbpf_btf_free(map->owned_btf);
	lbpf_struct_ops_free(map);
	free(map->image);
	free(map->name);
	free(map->pin_path);
	memset(map, 0, sizeof(*map));
	map->fd = -1;
}

/* ---- standalone maps -------------------------------------------------------------------------- */

int lbpf_map_from_fd(int fd, lbpf_map **out)
{
	struct bpf_map_info info;
	lbpf_map *map;
	int ret;

	ret = map_info(fd, &info);
	if (ret < 0)
		return lbpf_err(ret, "fd %d is not a BPF map: %s", fd, lbpf_strerror(ret));
	map = calloc(1, sizeof(*map));
	if (!map)
		return lbpf_err(ENOMEM, "out of memory");
	map->name = strdup(info.name);
	map->fd = fd;
	map->def.type = info.type;
	map->def.key_size = info.key_size;
	map->def.value_size = info.value_size;
	map->def.max_entries = info.max_entries;
	map->def.map_flags = info.map_flags;
	map->btf_key_type_id = info.btf_key_type_id;
	map->btf_value_type_id = info.btf_value_type_id;
	map->values_off = -1;
	/* Decode with the types the kernel holds for it; without them, values stay raw. */
	if (info.btf_id && lbpf_btf_from_id(info.btf_id, &map->owned_btf) == 0)
		map->btf = map->owned_btf;
	else
		map->btf_key_type_id = map->btf_value_type_id = 0;
	lbpf_err_clear();
	*out = map;
	return 0;
}

void lbpf_map_free(lbpf_map *map)
{
	if (!map || map->obj)
		return; /* an object's maps die with their object */
	lbpf_map_release(map);
	free(map);
}

/* A standalone map from a definition (bpf.map_create): BTF for its key and value when given,
 * so its elements decode like an object's map. */
static int build_btf(lbpf_map *map, const struct lbpf_map_build *spec)
{
	int ret;

	if (!spec->btf)
		return 0;
	ret = lbpf_btf_open_mem(spec->btf, spec->btf_size, &map->owned_btf);
	if (!ret)
		ret = lbpf_btf_load(map->owned_btf, 0);
	if (ret < 0)
		return lbpf_err_prefix(ret, "map '%s': the BTF of its key and value: ", map->name);
	map->btf = map->owned_btf;
	map->btf_key_type_id = spec->btf_key_type_id;
	map->btf_value_type_id = spec->btf_value_type_id;
	return 0;
}

int lbpf_map_build(const struct lbpf_map_build *spec, lbpf_map **out)
{
	lbpf_map *map;
	int ret;

	*out = NULL;
	lbpf_err_clear();
	map = calloc(1, sizeof(*map));
	if (!map)
		return lbpf_err(ENOMEM, "out of memory");
	map->fd = -1;
	map->values_off = -1;
	map->origin = LBPF_MAP_USER;
	map->name = strdup(spec->name && *spec->name ? spec->name : "map");
	map->def.type = spec->type;
	map->def.key_size = spec->key_size;
	map->def.value_size = spec->value_size;
	map->def.max_entries = spec->max_entries;
	map->def.map_flags = spec->map_flags;
	map->def.numa_node = spec->numa_node;
	map->def.map_extra = spec->map_extra;
	ret = map->name ? build_btf(map, spec) : lbpf_err(ENOMEM, "out of memory");
	if (!ret)
		ret = create_new(map);
	if (ret) {
		lbpf_map_free(map);
		return ret;
	}
	*out = map;
	return 0;
}

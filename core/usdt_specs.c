/* Slots of a BPF object's USDT argument-spec map (__lbpf_usdt_specs, bpf/include/usdt.bpf.h):
 * attach_usdt claims one slot per distinct argument layout and releases it on detach. A slot
 * is free while its in_use word is 0, so the map itself is the allocator and nothing else
 * needs to remember which slots are taken. */
#include <errno.h>
#include <fcntl.h>
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

int usdt_specs_open(lbpf_program *prog, int *map_fd, uint32_t *max_entries)
{
	lbpf_object *obj = lbpf_program_object(prog);
	lbpf_map *map = obj ? lbpf_object_map_by_name(obj, LBPF_USDT_SPECS_MAP) : NULL;
	int fd;

	*map_fd = -1;
	if (!map)
		return -ENOENT;
	if (lbpf_map_type(map) != BPF_MAP_TYPE_ARRAY || lbpf_map_key_size(map) != 4 ||
	    lbpf_map_value_size(map) != sizeof(struct lbpf_usdt_spec))
		return lbpf_err(EINVAL, "program '%s': map %s is not the array of struct "
				"__lbpf_usdt_spec (%zu bytes) usdt.bpf.h defines", lbpf_program_name(prog),
				LBPF_USDT_SPECS_MAP, sizeof(struct lbpf_usdt_spec));
	if (lbpf_map_fd(map) < 0)
		return lbpf_err(EBADF, "program '%s': map %s is not loaded", lbpf_program_name(prog),
				LBPF_USDT_SPECS_MAP);
	/* Our own reference: the link may outlive the object's handle on the map. */
	fd = fcntl(lbpf_map_fd(map), F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return lbpf_err(errno, "duplicating the fd of map %s: %s", LBPF_USDT_SPECS_MAP,
				strerror(errno));
	*map_fd = fd;
	*max_entries = lbpf_map_max_entries(map);
	return 0;
}

int usdt_specs_claim(int map_fd, uint32_t max_entries, const struct lbpf_usdt_spec *spec)
{
	struct lbpf_usdt_spec slot;
	int ret;

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
	struct lbpf_usdt_spec empty;

	memset(&empty, 0, sizeof(empty));
	elem_op(map_fd, BPF_MAP_UPDATE_ELEM, (uint32_t)id, &empty);
}

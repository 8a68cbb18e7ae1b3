/* System-wide introspection: walking the ids of loaded programs, maps, links and BTF objects,
 * opening them by id or pinned path, and reading what the kernel knows about them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "internal.h"
#include "sys.h"

static const char *const kind_names[] = { "program", "map", "link", "BTF object" };
static const enum bpf_cmd next_cmds[] = { BPF_PROG_GET_NEXT_ID, BPF_MAP_GET_NEXT_ID,
					  BPF_LINK_GET_NEXT_ID, BPF_BTF_GET_NEXT_ID };
static const enum bpf_cmd fd_cmds[] = { BPF_PROG_GET_FD_BY_ID, BPF_MAP_GET_FD_BY_ID,
					BPF_LINK_GET_FD_BY_ID, BPF_BTF_GET_FD_BY_ID };

int lbpf_next_id(enum lbpf_id_kind kind, uint32_t start, uint32_t *next)
{
	union bpf_attr attr;
	int ret;

	memset(&attr, 0, sizeof(attr));
	attr.start_id = start;
	ret = lbpf_sys_bpf(next_cmds[kind], &attr, sizeof(attr));
	if (ret == -ENOENT)
		return ret; /* the end of the list, not an error */
	if (ret < 0)
		return lbpf_err(ret, "listing %ss failed: %s", kind_names[kind], lbpf_strerror(ret));
	*next = attr.next_id;
	return 0;
}

int lbpf_fd_by_id(enum lbpf_id_kind kind, uint32_t id)
{
	union bpf_attr attr;
	int ret;

	memset(&attr, 0, sizeof(attr));
	if (kind == LBPF_ID_LINK)
		attr.link_id = id;
	else
		attr.prog_id = id; /* prog_id, map_id and btf_id share this field */
	ret = lbpf_sys_bpf(fd_cmds[kind], &attr, sizeof(attr));
	if (ret < 0)
		return lbpf_err(ret, "opening %s id %u failed: %s", kind_names[kind], id,
				lbpf_strerror(ret));
	return ret;
}

int lbpf_obj_get(const char *path)
{
	union bpf_attr attr;
	int ret;

	memset(&attr, 0, sizeof(attr));
	attr.pathname = lbpf_ptr(path);
	ret = lbpf_sys_bpf(BPF_OBJ_GET, &attr, sizeof(attr));
	if (ret < 0)
		return lbpf_err(ret, "opening pinned object %s failed: %s%s", path, lbpf_strerror(ret),
				ret == -ENOENT ? " (nothing pinned there; is bpffs mounted?)" : "");
	return ret;
}

int lbpf_obj_info(int fd, void *info, uint32_t *len)
{
	union bpf_attr attr;
	int ret;

	memset(&attr, 0, sizeof(attr));
	attr.info.bpf_fd = (uint32_t)fd;
	attr.info.info_len = *len;
	attr.info.info = lbpf_ptr(info);
	ret = lbpf_sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr, sizeof(attr));
	if (ret < 0)
		return lbpf_err(ret, "reading information of fd %d failed: %s", fd, lbpf_strerror(ret));
	*len = attr.info.info_len;
	return 0;
}

int lbpf_btf_from_id(uint32_t id, lbpf_btf **out)
{
	struct bpf_btf_info info;
	uint32_t len = sizeof(info);
	void *raw = NULL;
	int fd, ret;

	fd = lbpf_fd_by_id(LBPF_ID_BTF, id);
	if (fd < 0)
		return fd;
	/* Two calls: the first learns the size, the second fetches the bytes. */
	memset(&info, 0, sizeof(info));
	ret = lbpf_obj_info(fd, &info, &len);
	if (!ret) {
		raw = malloc(info.btf_size ? info.btf_size : 1);
		uint32_t size = info.btf_size;

		memset(&info, 0, sizeof(info));
		info.btf = lbpf_ptr(raw);
		info.btf_size = size;
		len = sizeof(info);
		ret = raw ? lbpf_obj_info(fd, &info, &len) : lbpf_err(ENOMEM, "out of memory");
	}
	close(fd);
	if (!ret)
		ret = lbpf_btf_open_mem(raw, info.btf_size, out);
	free(raw);
	return ret;
}

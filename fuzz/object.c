/* Fuzz target: a BPF object opened from memory through the public API, then every stage that
 * needs no kernel: CO-RE relocation (against the running kernel's BTF, read only), linking each
 * program with stand-in map fds, the sanitised BTF image, globals and each type as C. */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "btf_internal.h"
#include "internal.h"
#include "luabpf.h"

int lbpf_core_relocate_object(lbpf_object *obj);

static void read_globals(lbpf_object *obj)
{
	volatile uint8_t sink = 0;

	for (size_t i = 0; i < lbpf_object_global_count(obj); i++) {
		struct lbpf_global g;
		const uint8_t *p;

		if (lbpf_object_global_at(obj, i, &g) || !(p = lbpf_global_data(&g)))
			continue;
		for (uint32_t b = 0; b < g.size; b++) /* ASan checks each byte lies in the image */
			sink ^= p[b];
	}
	(void)sink;
}

static void types_as_c(const lbpf_btf *btf)
{
	char buf[256];
	uint32_t n = lbpf_btf_type_count(btf);

	for (uint32_t id = 0; id < n && id < 4096; id++)
		lbpf_btf_type_to_c(btf, id, buf, sizeof(buf));
}

/* Link every program as load() would, with stand-in map fds and a stand-in BTF fd so that
 * func/line info is gathered too; the stand-ins are taken back before close. */
static void link_programs(lbpf_object *obj)
{
	int fake_btf_fd = obj->btf ? open("/dev/null", O_RDONLY | O_CLOEXEC) : -1;

	for (size_t i = 0; i < obj->nmaps; i++)
		obj->maps[i].fd = 1000 + (int)i;
	if (obj->btf)
		obj->btf->fd = fake_btf_fd;
	for (size_t i = 0; i < obj->nprogs; i++)
		lbpf_link_program(obj, &obj->progs[i]);
	for (size_t i = 0; i < obj->nmaps; i++)
		obj->maps[i].fd = -1;
	if (obj->btf)
		obj->btf->fd = -1;
	if (fake_btf_fd >= 0)
		close(fake_btf_fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	lbpf_object *obj;
	void *image;
	uint32_t image_size;

	if (lbpf_object_open_mem(data, size, NULL, &obj))
		return 0;
	read_globals(obj);
	if (obj->btf) {
		types_as_c(obj->btf);
		if (!lbpf_btf_sanitized_copy(obj->btf, 0, &image, &image_size))
			free(image);
	}
	if (!lbpf_core_relocate_object(obj))
		link_programs(obj);
	lbpf_object_close(obj);
	return 0;
}

/*
 * CO-RE against synthetic "older kernel" BTFs (spec/core_spec.lua): the spec compiles target
 * files that lay out struct lbpf_core_item and enum lbpf_core_color differently (moved and
 * renamed members, a missing member, members inside anonymous unions, a moved bitfield, other
 * enum values) and loads this object against each with bpf.open(path, {btf = target}).
 * probe() is run with BPF_PROG_TEST_RUN, its context being an item laid out as the target says;
 * it stores the relocated constants and the values it read into globals.
 */
#include <linux/bpf.h>
#include "bpf_helpers.h"
#include "bpf_core_read.h"

struct lbpf_core_inner {
	int y;
} __attribute__((preserve_access_index));

/* The layout this program was "compiled against". */
struct lbpf_core_item {
	int id;
	long value;
	char name[8];
	int arr[4];
	struct lbpf_core_inner inner;
	int nested_x;
	unsigned int flag_a : 3;
	int flag_b : 5;
	unsigned int extra;
} __attribute__((preserve_access_index));

/* An older layout where "id" was called "old_id": a flavour of the same type. */
struct lbpf_core_item___old {
	int old_id;
} __attribute__((preserve_access_index));

enum lbpf_core_color { LBPF_RED = 0, LBPF_GREEN = 1, LBPF_BLUE = 2, LBPF_PURPLE = 3 };

__u64 off_id = 0, off_value = 0, off_name = 0, off_arr2 = 0, off_inner_y = 0, off_nested_x = 0;
__u64 size_value = 0, size_name = 0, type_size = 0, type_exists = 0, type_id_target = 0;
__u64 extra_exists = 0, id_exists = 0, old_id_exists = 0, old_exists = 0;
__s64 green = 0, blue = 0;
__u64 purple_exists = 0, blue_exists = 0;
__u64 flag_b_signed = 0, flag_a_signed = 0;
__s64 id = 0, value = 0, arr2 = 0, inner_y = 0, nested_x = 0, extra = -1;
__s64 flag_a = 0, flag_b = 0, flag_a_direct = 0, flag_b_direct = 0;
char name[8] = {};
/* A copy of the context so the direct (non-probed) bitfield reads have memory to load from. */
char image[256] = {};

SEC("syscall")
int probe(struct lbpf_core_item *ctx)
{
	struct lbpf_core_item *copy = (struct lbpf_core_item *)image;

	if (bpf_core_field_exists(ctx->id))
		off_id = bpf_core_field_offset(struct lbpf_core_item, id);
	off_value = bpf_core_field_offset(ctx->value);
	off_name = bpf_core_field_offset(ctx->name);
	off_arr2 = bpf_core_field_offset(ctx->arr[2]);
	off_inner_y = bpf_core_field_offset(ctx->inner.y);
	off_nested_x = bpf_core_field_offset(ctx->nested_x);
	size_value = bpf_core_field_size(ctx->value);
	size_name = bpf_core_field_size(ctx->name);
	type_size = bpf_core_type_size(struct lbpf_core_item);
	type_exists = bpf_core_type_exists(struct lbpf_core_item);
	type_id_target = bpf_core_type_id_kernel(struct lbpf_core_item);
	id_exists = bpf_core_field_exists(ctx->id);
	old_exists = bpf_core_type_exists(struct lbpf_core_item___old);
	old_id_exists = bpf_core_field_exists(struct lbpf_core_item___old, old_id);
	extra_exists = bpf_core_field_exists(ctx->extra);
	green = bpf_core_enum_value(enum lbpf_core_color, LBPF_GREEN);
	blue_exists = bpf_core_enum_value_exists(enum lbpf_core_color, LBPF_BLUE);
	if (blue_exists)
		blue = bpf_core_enum_value(enum lbpf_core_color, LBPF_BLUE);
	purple_exists = bpf_core_enum_value_exists(enum lbpf_core_color, LBPF_PURPLE);
	flag_a_signed = bpf_core_field_signed(ctx->flag_a);
	flag_b_signed = bpf_core_field_signed(ctx->flag_b);

	if (bpf_core_field_exists(ctx->id))
		id = BPF_CORE_READ(ctx, id);
	else if (bpf_core_field_exists(struct lbpf_core_item___old, old_id))
		id = BPF_CORE_READ((struct lbpf_core_item___old *)ctx, old_id);
	value = BPF_CORE_READ(ctx, value);
	arr2 = BPF_CORE_READ(ctx, arr[2]);
	inner_y = BPF_CORE_READ(ctx, inner.y);
	nested_x = BPF_CORE_READ(ctx, nested_x);
	BPF_CORE_READ_INTO(&name, ctx, name);
	if (bpf_core_field_exists(ctx->extra))
		extra = BPF_CORE_READ(ctx, extra);
	flag_a = BPF_CORE_READ_BITFIELD_PROBED(ctx, flag_a);
	flag_b = BPF_CORE_READ_BITFIELD_PROBED(ctx, flag_b);

	bpf_probe_read_kernel(image, sizeof(image), ctx);
	flag_a_direct = BPF_CORE_READ_BITFIELD(copy, flag_a);
	flag_b_direct = BPF_CORE_READ_BITFIELD(copy, flag_b);
	return 0;
}

char _license[] SEC("license") = "GPL";

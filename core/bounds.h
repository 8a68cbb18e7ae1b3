/* Overflow-safe arithmetic for sizes and offsets read from files (ELF, BTF, .BTF.ext): every
 * "does [off, off + len) fit in size" check goes through here, so none can wrap. */
#ifndef LBPF_BOUNDS_H
#define LBPF_BOUNDS_H

#include <stdbool.h>
#include <stdint.h>

/* Global data and the .kconfig map are copied into memory we allocate: no kernel accepts a map
 * value anywhere near this size (array maps stop at KMALLOC_MAX_SIZE), so a section claiming
 * more is corrupt, not big. */
#define LBPF_MAX_DATA_SIZE (256u << 20)

/* *sum = a + b; false when it wraps. */
static inline bool lbpf_add_ok(uint64_t a, uint64_t b, uint64_t *sum)
{
	return !__builtin_add_overflow(a, b, sum);
}

/* *prod = a * b; false when it wraps. */
static inline bool lbpf_mul_ok(uint64_t a, uint64_t b, uint64_t *prod)
{
	return !__builtin_mul_overflow(a, b, prod);
}

/* [off, off + len) lies inside [0, size), without computing a sum that could wrap. */
static inline bool lbpf_range_ok(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

/* count records of rec_size bytes each, from off, lie inside [0, size). */
static inline bool lbpf_array_ok(uint64_t off, uint64_t count, uint64_t rec_size, uint64_t size)
{
	uint64_t len;

	return lbpf_mul_ok(count, rec_size, &len) && lbpf_range_ok(off, len, size);
}

/* base + delta for a signed delta read from an instruction (imm, off), as a 64-bit index;
 * false when it leaves [0, INT64_MAX]: callers then compare against their own limit. */
static inline bool lbpf_offset_ok(uint64_t base, int64_t delta, uint64_t *out)
{
	int64_t r;

	if (base > INT64_MAX || __builtin_add_overflow((int64_t)base, delta, &r) || r < 0)
		return false;
	*out = (uint64_t)r;
	return true;
}

#endif

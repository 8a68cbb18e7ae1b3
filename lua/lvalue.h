/*
 * Private to the value codec (lvalue.c decodes, lvalue_encode.c encodes): the integer view of a
 * BTF type and the byte/bit access both directions share.
 */
#ifndef LBPF_LVALUE_H
#define LBPF_LVALUE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "lbpf_lua.h"

#define MAX_DEPTH 32

/* Integer description of an INT/ENUM/ENUM64/PTR type: 0 if it is none of those. */
struct int_desc {
	uint32_t size;
	uint32_t bits;
	uint32_t bit_offset;
	bool is_signed;
	bool is_bool;
};

static inline uint64_t load_uint(const uint8_t *data, size_t size)
{
	switch (size) {
	case 1: return data[0];
	case 2: { uint16_t v; memcpy(&v, data, 2); return v; }
	case 4: { uint32_t v; memcpy(&v, data, 4); return v; }
	case 8: { uint64_t v; memcpy(&v, data, 8); return v; }
	}
	return 0;
}

static inline void store_uint(uint8_t *data, size_t size, uint64_t v)
{
	switch (size) {
	case 1: data[0] = (uint8_t)v; break;
	case 2: { uint16_t x = (uint16_t)v; memcpy(data, &x, 2); break; }
	case 4: { uint32_t x = (uint32_t)v; memcpy(data, &x, 4); break; }
	case 8: memcpy(data, &v, 8); break;
	}
}

/* Bits [bit_off, bit_off + nbits) of a little-endian byte range of size bytes. */
static inline uint64_t load_bits(const uint8_t *data, size_t size, uint32_t bit_off, uint32_t nbits)
{
	uint64_t v = 0;
	for (uint32_t i = 0; i < nbits; i++) {
		uint32_t b = bit_off + i;
		if (b / 8 >= size)
			break;
		v |= (uint64_t)((data[b / 8] >> (b % 8)) & 1) << i;
	}
	return v;
}

static inline void store_bits(uint8_t *data, size_t size, uint32_t bit_off, uint32_t nbits, uint64_t v)
{
	for (uint32_t i = 0; i < nbits; i++) {
		uint32_t b = bit_off + i;
		if (b / 8 >= size)
			break;
		uint8_t mask = (uint8_t)(1u << (b % 8));
		if ((v >> i) & 1)
			data[b / 8] |= mask;
		else
			data[b / 8] &= (uint8_t)~mask;
	}
}

uint32_t lbpf_value_resolve(const lbpf_btf *btf, uint32_t id);
int lbpf_value_describe_int(const struct btf_type *t, struct int_desc *d);
bool lbpf_value_is_char_type(const lbpf_btf *btf, uint32_t id);
uint32_t lbpf_value_bounded_size(const lbpf_btf *btf, uint32_t id, size_t avail);

#endif

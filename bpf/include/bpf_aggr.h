/*
 * bpf_aggr.h: bpftrace's aggregations for BPF programs written in C: log2 and linear histogram
 * slots (read back by bpf.hist in Lua), and count / sum by key in hash maps of __u64.
 *
 *   struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 64);
 *            __type(key, __u32); __type(value, __u64); } sizes SEC(".maps");
 *   BPF_HIST_LOG2(sizes, ctx->count);         // @sizes = hist(count)   -> bpf.hist(obj.maps.sizes)
 *   BPF_HIST_LINEAR(lin, v, 0, 1000, 100);     // @lin = lhist(v, 0, 1000, 100)
 *   BPF_COUNT(calls, tgid);                    // @calls[tgid] = count()
 *   BPF_SUM(bytes, tgid, ctx->count);          // @bytes[tgid] = sum(count)
 *
 * Slots follow bpf.hist: log2 slot 0 holds 0, slot k >= 1 holds [2^(k-1), 2^k); linear slot i
 * holds [min + i*step, min + (i+1)*step), values below min count in slot 0 and values at or
 * above max in the last slot, (max - min) / step - 1 (read with bpf.hist.linear{min =, step =}).
 * Updates are atomic (__sync_fetch_and_add), so a plain hash map is exact across CPUs.
 */
#ifndef __BPF_AGGR_H__
#define __BPF_AGGR_H__

#include "bpf_helpers.h"

/* floor(log2(v)) for v >= 1, without loops (the verifier sees straight-line code). */
static __always_inline __u32 bpf_aggr_log2(__u64 v)
{
	__u32 r, shift;

	r = (v > 0xFFFFFFFFULL) << 5;
	v >>= r;
	shift = (v > 0xFFFF) << 4;
	v >>= shift;
	r |= shift;
	shift = (v > 0xFF) << 3;
	v >>= shift;
	r |= shift;
	shift = (v > 0xF) << 2;
	v >>= shift;
	r |= shift;
	shift = (v > 0x3) << 1;
	v >>= shift;
	r |= shift;
	r |= (__u32)(v >> 1);
	return r;
}

/* The log2 slot of v: 0 for 0, k + 1 for [2^k, 2^(k+1)). */
static __always_inline __u32 bpf_log2_slot(__u64 v)
{
	return v ? bpf_aggr_log2(v) + 1 : 0;
}

/* The linear slot of v: (v - min) / step, clamped to [0, (max - min) / step - 1]. */
static __always_inline __u32 bpf_linear_slot(__s64 v, __s64 min, __s64 max, __s64 step)
{
	if (v < min)
		return 0;
	if (v >= max)
		return (__u32)((max - min) / step - 1);
	return (__u32)((v - min) / step);
}

/* *map[key] += n, creating the entry at n; key is any lvalue-able expression of the map's key
 * type. Evaluates to nothing. */
#define BPF_AGGR_ADD(map, key, n)                                                             \
	({                                                                                    \
		typeof(key) __aggr_key = (key);                                               \
		__u64 __aggr_n = (n);                                                         \
		__u64 *__aggr_v = bpf_map_lookup_elem(&(map), &__aggr_key);                  \
		if (__aggr_v) {                                                               \
			__sync_fetch_and_add(__aggr_v, __aggr_n);                             \
		} else if (bpf_map_update_elem(&(map), &__aggr_key, &__aggr_n, BPF_NOEXIST)) { \
			/* another CPU created it first: add to theirs */                     \
			__aggr_v = bpf_map_lookup_elem(&(map), &__aggr_key);                  \
			if (__aggr_v)                                                         \
				__sync_fetch_and_add(__aggr_v, __aggr_n);                     \
		}                                                                             \
	})

#define BPF_COUNT(map, key) BPF_AGGR_ADD(map, key, 1)
#define BPF_SUM(map, key, v) BPF_AGGR_ADD(map, key, v)
#define BPF_HIST_LOG2(map, v) BPF_AGGR_ADD(map, (__u32)bpf_log2_slot(v), 1)
#define BPF_HIST_LINEAR(map, v, min, max, step) \
	BPF_AGGR_ADD(map, (__u32)bpf_linear_slot((v), (min), (max), (step)), 1)

#endif /* __BPF_AGGR_H__ */

/*
 * Structured logging from BPF programs to Lua, the analogue of aya-log:
 *
 *     #include "bpf_helpers.h"
 *     #include "bpf_log.h"
 *     bpf_log_info("exec pid=%d comm=%s task=%p", pid, comm, task);
 *
 * and in Lua:  obj:logs():poll(100, function(msg, level) print(level, msg) end)
 *
 * How it works: each call site stores its format string once, in .rodata, as a variable named
 * __lbpf_fmt_<id> (id unique within the object, from __COUNTER__); the record sent through the
 * ring buffer map `lbpf_log` carries only the id, the level and the arguments. The Lua side
 * finds the format strings among the object's globals and formats records with them.
 *
 * Record layout (little endian, as the CPU writes it):
 *     u32 fmt_id; u8 level; u8 nargs; u16 str_max;
 *     then one slot per argument, in order: 8 bytes (the value as a 64-bit integer, sign
 *     extended) for integers, pointers and chars; str_max bytes (a NUL-terminated copy made with
 *     bpf_probe_read_kernel_str) for arguments of type char * / const char * (arrays decay).
 * Conversions: %d %i %u %x %X %o %c %p %s %% with flags, width, precision and the length
 * modifiers hh h l ll z t j (the value is truncated to the modifier's width like printf does).
 * At most 8 arguments per call. A full ring buffer drops the record and counts it in
 * lbpf_log_dropped (a .bss global Lua can read).
 *
 * Tunables, defined before including this header:
 *     LBPF_LOG_STR_MAX   bytes copied per string argument (default 64, a multiple of 8)
 *     LBPF_LOG_RINGBUF   size of the lbpf_log ring buffer (default 256 KiB, a power of two)
 */
#ifndef LUABPF_BPF_LOG_H
#define LUABPF_BPF_LOG_H

#ifndef LBPF_LOG_STR_MAX
#define LBPF_LOG_STR_MAX 64
#endif
#ifndef LBPF_LOG_RINGBUF
#define LBPF_LOG_RINGBUF (256 * 1024)
#endif

enum lbpf_log_level {
	LBPF_LOG_ERROR = 1,
	LBPF_LOG_WARN = 2,
	LBPF_LOG_INFO = 3,
	LBPF_LOG_DEBUG = 4,
	LBPF_LOG_TRACE = 5,
};

struct lbpf_log_header {
	__u32 fmt_id;
	__u8 level;
	__u8 nargs;
	__u16 str_max;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, LBPF_LOG_RINGBUF);
} lbpf_log SEC(".maps");

/* Records lost because the ring buffer was full. */
__u64 lbpf_log_dropped = 0;

/* ---- argument slots --------------------------------------------------------------------- */

#define __lbpf_log_is_str(a) _Generic((a), char *: 1, const char *: 1, default: 0)
#define __lbpf_log_slot(a) (__lbpf_log_is_str(a) ? LBPF_LOG_STR_MAX : 8)

/* Writes one argument at __p and advances __p past its slot. */
#define __lbpf_log_put(a)                                                                      \
	do {                                                                                   \
		if (__lbpf_log_is_str(a)) {                                                    \
			bpf_probe_read_kernel_str(__p, LBPF_LOG_STR_MAX,                       \
						  (const void *)(unsigned long)(a));           \
			__p += LBPF_LOG_STR_MAX;                                               \
		} else {                                                                       \
			*(__u64 *)__p = (__u64)(long)(a);                                      \
			__p += 8;                                                              \
		}                                                                              \
	} while (0);

/* Applies M to each of up to 8 arguments. */
#define __lbpf_log_each0(M)
#define __lbpf_log_each1(M, a) M(a)
#define __lbpf_log_each2(M, a, ...) M(a) __lbpf_log_each1(M, __VA_ARGS__)
#define __lbpf_log_each3(M, a, ...) M(a) __lbpf_log_each2(M, __VA_ARGS__)
#define __lbpf_log_each4(M, a, ...) M(a) __lbpf_log_each3(M, __VA_ARGS__)
#define __lbpf_log_each5(M, a, ...) M(a) __lbpf_log_each4(M, __VA_ARGS__)
#define __lbpf_log_each6(M, a, ...) M(a) __lbpf_log_each5(M, __VA_ARGS__)
#define __lbpf_log_each7(M, a, ...) M(a) __lbpf_log_each6(M, __VA_ARGS__)
#define __lbpf_log_each8(M, a, ...) M(a) __lbpf_log_each7(M, __VA_ARGS__)
#define __lbpf_log_nargs(...) __lbpf_log_nargs_(0, ##__VA_ARGS__, 8, 7, 6, 5, 4, 3, 2, 1, 0)
#define __lbpf_log_nargs_(_0, _1, _2, _3, _4, _5, _6, _7, _8, N, ...) N
#define __lbpf_log_cat2(a, b) a##b
#define __lbpf_log_cat(a, b) __lbpf_log_cat2(a, b)
#define __lbpf_log_each(M, ...) \
	__lbpf_log_cat(__lbpf_log_each, __lbpf_log_nargs(__VA_ARGS__))(M, ##__VA_ARGS__)

#define __lbpf_log_plus_slot(a) +__lbpf_log_slot(a)

#define __lbpf_log_at(id, lvl, fmt, ...)                                                       \
	({                                                                                     \
		static const char __lbpf_log_cat(__lbpf_fmt_, id)[] __attribute__((used)) = fmt; \
		const unsigned long __size = sizeof(struct lbpf_log_header)                    \
			__lbpf_log_each(__lbpf_log_plus_slot, ##__VA_ARGS__);                  \
		struct lbpf_log_header *__h = bpf_ringbuf_reserve(&lbpf_log, __size, 0);       \
		if (__h) {                                                                     \
			char *__p = (char *)(__h + 1);                                         \
			__h->fmt_id = id;                                                      \
			__h->level = lvl;                                                      \
			__h->nargs = __lbpf_log_nargs(__VA_ARGS__);                            \
			__h->str_max = LBPF_LOG_STR_MAX;                                       \
			__lbpf_log_each(__lbpf_log_put, ##__VA_ARGS__)                         \
			(void)__p;                                                             \
			bpf_ringbuf_submit(__h, 0);                                            \
		} else {                                                                       \
			__sync_fetch_and_add(&lbpf_log_dropped, 1);                            \
		}                                                                              \
	})
#define __lbpf_log_id(id, lvl, fmt, ...) __lbpf_log_at(id, lvl, fmt, ##__VA_ARGS__)

/* bpf_log(LBPF_LOG_INFO, "fmt", args...) */
#define bpf_log(lvl, fmt, ...) __lbpf_log_id(__COUNTER__, lvl, fmt, ##__VA_ARGS__)
#define bpf_log_error(fmt, ...) bpf_log(LBPF_LOG_ERROR, fmt, ##__VA_ARGS__)
#define bpf_log_warn(fmt, ...) bpf_log(LBPF_LOG_WARN, fmt, ##__VA_ARGS__)
#define bpf_log_info(fmt, ...) bpf_log(LBPF_LOG_INFO, fmt, ##__VA_ARGS__)
#define bpf_log_debug(fmt, ...) bpf_log(LBPF_LOG_DEBUG, fmt, ##__VA_ARGS__)
#define bpf_log_trace(fmt, ...) bpf_log(LBPF_LOG_TRACE, fmt, ##__VA_ARGS__)

#endif

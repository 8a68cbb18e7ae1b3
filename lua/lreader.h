/* Internals shared by the event reader files of the binding (lreader*.c, lwriter.c). */
#ifndef LBPF_LREADER_H
#define LBPF_LREADER_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "lbpf_lua.h"

#define LBPF_WRITER_MT "bpf.writer"

enum lreader_field_kind {
	FIELD_UINT, FIELD_SINT, FIELD_BOOL, FIELD_CHARS, FIELD_UINTS, FIELD_SINTS, FIELD_OTHER
};

/* One member of a flat struct, resolved once per reader. */
struct lreader_field {
	uint32_t offset;
	uint32_t size;
	uint32_t type_id; /* FIELD_OTHER: decoded by lbpf_lua_push_value */
	uint32_t count;   /* FIELD_UINTS/SINTS: an array of count integers of elem_size bytes */
	uint8_t elem_size;
	uint8_t kind;
};

/* How records of one source become Lua values. */
struct lreader_decoder {
	const lbpf_btf *btf;
	uint32_t type_id;
	uint32_t size;
	int raw;                      /* byte strings */
	int nfields;                  /* -1: the whole record through lbpf_lua_push_value */
	struct lreader_field *fields; /* nfields entries */
	char type_name[64];
};

struct lreader;

/* One map (ring buffer, perf buffer) of a reader. */
struct lreader_source {
	struct lreader *r;
	struct lreader_decoder dec;
	int index;        /* 1-based, handed to callbacks of multi-map readers */
	int key_base;     /* during a drain: stack index of the first field name */
	int view_idx;     /* view readers, during a drain: stack index of the record view */
	int reuse_idx;    /* reuse readers without batch, during a drain: the reused table */
	struct lreader_view *view;
	const char *what; /* "ring buffer", "perf buffer" */
	char name[64];
};

enum lreader_kind { READER_RING, READER_PERF, READER_TRACE };

struct lreader {
	int kind;
	bool closed;
	bool log;                      /* records are bpf_log records, handed over formatted */
	bool multi;                    /* callbacks also get the source index */
	lbpf_ringbuf *rb;
	lbpf_perfbuf *pb;
	lbpf_trace_pipe *tp;
	struct lreader_source *src;
	int nsrc;
	struct lbpf_lua_object *owner; /* whose BTF the decoders use; checked before each drain */
	int batch;                     /* > 0: hand records over in tables of up to batch */
	bool pointer;                  /* records as (light userdata, size): lreader_view.c */
	bool view;                     /* records as one reused record view: lreader_view.c */
	bool reuse;                    /* decoded tables refilled in place, not made per record */
	/* Pointer readers with batch: one call per run of records held in the ring
	 * (lreader_batch.c); the records of the run, batch entries each. */
	const void **run_data;
	size_t *run_sizes;
	size_t *shown_sizes;           /* what the sizes table holds: only changes are written */
	int iter_ring;                 /* records() of the C iterator: ring being walked */
	/* &lreader_current, taken once per drain: a thread-local access from a shared object is a
	 * __tls_get_addr call, too dear per record. */
	struct lreader_window *window;
	/* State of the drain in progress (valid while active). */
	bool active;
	lua_State *L;
	int fn_idx;
	int batch_idx;                 /* stack index of the batch table being filled */
	int sizes_idx;                 /* pointer batches: stack index of the sizes table */
	int nbatch;
	int fmts_idx;                  /* log readers: stack index of the id -> format table */
	char name[80];
};

/* lreader_decode.c */
/* Sets up s->dec for records of the BTF type named type (NULL or raw: byte strings). Pushes the
 * array of field names the fast path needs (empty when unused). Lua error on a bad type. */
void lreader_decoder_init(lua_State *L, struct lreader_source *s, const lbpf_btf *btf,
			  const char *type, int raw);
/* Decodes through the record type the program declared for the source's map with
 * BPF_RINGBUF_RECORD; false (nothing pushed) when it declared none. Else as above. */
bool lreader_decoder_init_recorded(lua_State *L, struct lreader_source *s, const lbpf_btf *btf);
void lreader_decoder_free(struct lreader_decoder *d);
/* Pushes one field of a record (data: the record's first byte). */
void lreader_push_field(lua_State *L, const struct lreader_decoder *d, const struct lreader_field *f,
			const uint8_t *data);
/* Pushes one record (Lua error when shorter than the decoder's type). */
void lreader_push_record(lua_State *L, struct lreader_source *s, const void *data, size_t size);

/* lreader_view.c */
/* The record the pointer accessors (bpf.peek, bpf.bytes, bpf.string) may read: the current
 * record of the innermost drain or records() loop of this thread. */
struct lreader_window {
	const uint8_t *base;
	size_t size;
	const struct lreader *owner;
	/* A run of records handed to one call (pointer batches), when n > 0: ptrs[0..split) and
	 * ptrs[split..n) are each in ascending address order (the run wraps around the ring at
	 * most once); hint is where the last lookup succeeded. base is NULL then. */
	const void *const *ptrs;
	const size_t *sizes;
	size_t n, split, hint;
};
extern _Thread_local struct lreader_window lreader_current;
/* Clears the window when it is a record of r (r drains again, closes or dies). */
void lreader_window_forget(const struct lreader *r);
/* A record view: one userdata per source, reused for every record, valid during a callback. */
#define LBPF_VIEW_MT "bpf.record_view"
struct lreader_view {
	const uint8_t *data;
	size_t size;
	const struct lreader_source *src;
	bool valid;
};
/* Pushes a new view for s (its uservalue maps field names to field numbers). */
void lreader_view_new(lua_State *L, struct lreader_source *s);

/* reader:records() through lbpf_ringbuf_next: pushes the iterator triple, returns 2. */
int lreader_records_c(lua_State *L, struct lreader *r);
/* Pushes ring's cursor and r's closed flag as light userdata for the FFI path; returns 2. */
int lreader_push_cursor(lua_State *L, struct lreader *r, int ring);
/* Registers bpf.peek, bpf.bytes and bpf.string into the module table on top of the stack. */
void lreader_view_open(lua_State *L);

/* Refills the table at tbl_idx (absolute) with the fields of one record, reusing the tables of
 * integer array members (Lua error when shorter than the decoder's type; fast path only). */
void lreader_fill_record(lua_State *L, struct lreader_source *s, int tbl_idx, const void *data,
			 size_t size);

/* lreader_batch.c: pointer readers with batch = N over ring buffers. Inside the protected
 * drain (r->fn_idx, r->batch_idx, r->sizes_idx set): waits when wait is set, then hands every
 * ring's records to fn(ptrs, sizes, n[, ring]) in runs of up to N held in the ring until the
 * call returns. Returns the records handed over or a negative errno. */
int lreader_drain_pointer_batches(lua_State *L, struct lreader *r, bool wait, int timeout_ms);
/* 1 when the call's result asks to stop the drain (pops it). lreader.c. */
int lreader_stop_requested(lua_State *L);

/* lreader_log.c */
/* Pushes the table id -> format string of the bpf_log call sites of obj. */
void lreader_log_push_formats(lua_State *L, lbpf_object *obj);
/* Pushes message and level name of a bpf_log record; fmts_idx is the table above. */
void lreader_log_push_record(lua_State *L, int fmts_idx, const void *data, size_t size);
void lreader_log_open(lua_State *L);

/* lwriter.c */
void lreader_writer_open(lua_State *L);

/* lreader.c: a reader over the given map handles (stack indexes) with the options table at
 * opts_idx (0: none). Returns the number of Lua results (the reader, or nil, msg, errno). */
int lreader_new_from_maps(lua_State *L, const int *map_idx, int nmaps, int opts_idx, bool log);
/* Registers everything above into the module table on top of the stack (called by luaopen). */
void lbpf_lua_open_reader(lua_State *L);

/* An unaligned 1/2/4/8-byte host-order integer from a record, zero-extended. */
static inline uint64_t lreader_load(const uint8_t *p, unsigned size)
{
	uint8_t b1;
	uint16_t b2;
	uint32_t b4;
	uint64_t b8;

	switch (size) {
	case 1: memcpy(&b1, p, 1); return b1;
	case 2: memcpy(&b2, p, 2); return b2;
	case 4: memcpy(&b4, p, 4); return b4;
	default: memcpy(&b8, p, 8); return b8;
	}
}

#endif

/* Internals shared by the event reader files of the binding (lreader*.c, lwriter.c). */
#ifndef LBPF_LREADER_H
#define LBPF_LREADER_H

#include <stdbool.h>
#include <stdint.h>

#include "lbpf_lua.h"

#define LBPF_WRITER_MT "bpf.writer"

enum lreader_field_kind { FIELD_UINT, FIELD_SINT, FIELD_BOOL, FIELD_CHARS, FIELD_OTHER };

/* One member of a flat struct, resolved once per reader. */
struct lreader_field {
	uint32_t offset;
	uint32_t size;
	uint32_t type_id; /* FIELD_OTHER: decoded by lbpf_lua_push_value */
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
	/* State of the drain in progress (valid while active). */
	bool active;
	lua_State *L;
	int fn_idx;
	int batch_idx;                 /* stack index of the batch table being filled */
	int nbatch;
	int fmts_idx;                  /* log readers: stack index of the id -> format table */
	char name[80];
};

/* lreader_decode.c */
/* Sets up s->dec for records of the BTF type named type (NULL or raw: byte strings). Pushes the
 * array of field names the fast path needs (empty when unused). Lua error on a bad type. */
void lreader_decoder_init(lua_State *L, struct lreader_source *s, const lbpf_btf *btf,
			  const char *type, int raw);
void lreader_decoder_free(struct lreader_decoder *d);
/* Pushes one record (Lua error when shorter than the decoder's type). */
void lreader_push_record(lua_State *L, struct lreader_source *s, const void *data, size_t size);

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

#endif

/*
 * The handle userdata of the binding, shared by lobject.c, lprog.c, lmap.c and llink.c.
 *
 * Ownership: programs and maps are pointers into their object. A program or map handle keeps the
 * object userdata alive through its uservalue and reads the object's `closed` flag before every
 * use, so nothing dereferences a program or map once obj:close() has freed them. Names are copied
 * into the handles so that messages and __tostring still work after close.
 */
#ifndef LBPF_LHANDLE_H
#define LBPF_LHANDLE_H

#include <stdbool.h>
#include <stdint.h>

#include "lbpf_lua.h"

struct lbpf_lua_object {
	lbpf_object *obj; /* NULL once closed */
	char name[64];
};

struct lbpf_lua_program {
	lbpf_program *prog;
	struct lbpf_lua_object *owner; /* lives as long as this handle (uservalue) */
	bool owns_object;              /* built by bpf.asm: prog:close() closes its one-program object */
	char name[64];
};

struct lbpf_lua_map {
	lbpf_map *map;                 /* NULL once a standalone map is closed */
	struct lbpf_lua_object *owner; /* NULL: a standalone map owned by this handle */
	uint32_t key_size;
	uint32_t value_size;
	uint32_t value_stride;         /* bytes of one CPU's slot (per-CPU) or value_size */
	uint32_t lookup_size;          /* bytes one lookup writes */
	uint32_t ncpus;                /* 1 unless per-CPU */
	enum bpf_map_type type;
	struct lbpf_lua_codec key;
	struct lbpf_lua_codec value;
	/* Scratch buffers (inside this userdata): lookups never allocate. */
	uint8_t *key_buf;
	uint8_t *key2_buf;
	uint8_t *value_buf;
	char name[64];
};

/* Helpers of lobject.c for the other handle files. */
void lbpf_lua_push_object(lua_State *L, lbpf_object *obj); /* takes ownership of obj */
struct lbpf_lua_object *lbpf_lua_to_object(lua_State *L, int idx); /* NULL if not one */
void lbpf_lua_close_object(struct lbpf_lua_object *o); /* frees its object now; twice is harmless */
/* Pushes (creating and caching on first use) the handle of a program / map of the object at
 * obj_idx. */
void lbpf_lua_push_program(lua_State *L, int obj_idx, lbpf_program *prog);
void lbpf_lua_push_map(lua_State *L, int obj_idx, lbpf_map *map);

/* lmap.c: a new map handle for map owned by the object at obj_idx (0: standalone). */
void lbpf_lua_new_map_handle(lua_State *L, lbpf_map *map, int obj_idx);
/* lprog.c: a new program handle. */
void lbpf_lua_new_program_handle(lua_State *L, lbpf_program *prog, int obj_idx);
/* lglobals.c: the globals proxy of the object at obj_idx (pushed). */
void lbpf_lua_new_globals(lua_State *L, int obj_idx);
/* lglobals.c: sets opts.globals (table at idx) into the object at obj_idx; Lua error on misuse. */
void lbpf_lua_set_globals(lua_State *L, int obj_idx, int tbl_idx);

/* Copies s into a fixed buffer, truncating. */
void lbpf_lua_copy_name(char *dst, size_t size, const char *s);

#endif

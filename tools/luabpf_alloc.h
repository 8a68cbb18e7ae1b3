/* luabpf_alloc: the static binary's Lua allocator (size classes in one reserved region). */
#ifndef LUABPF_ALLOC_H
#define LUABPF_ALLOC_H

#include <stddef.h>

#define LUABPF_ALLOC_GRAIN 16
#define LUABPF_ALLOC_SMALL_MAX 512
#define LUABPF_ALLOC_CLASSES (LUABPF_ALLOC_SMALL_MAX / LUABPF_ALLOC_GRAIN)

struct luabpf_alloc {
	char *base, *next, *end;              /* the region; next: its first never used byte */
	void *free[LUABPF_ALLOC_CLASSES];      /* per size class, a list through the blocks */
};

/* Reserves the region (address space only: pages are backed as they are first used). Without
 * it (mmap failed) every block comes from malloc, as with luaL_newstate's allocator. */
void luabpf_alloc_init(struct luabpf_alloc *a);
/* A lua_Alloc (ud: the struct); takes over blocks malloc'd before lua_setallocf too. */
void *luabpf_alloc(void *ud, void *ptr, size_t osize, size_t nsize);
/* Returns the region to the system (after lua_close). */
void luabpf_alloc_done(struct luabpf_alloc *a);

#endif

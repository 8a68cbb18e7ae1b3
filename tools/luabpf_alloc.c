/*
 * luabpf_alloc: the static binary's Lua allocator. Nearly every Lua object is a small block
 * (strings, tables, closures, prototypes of the embedded modules) and Lua passes each block's
 * size back when it frees or resizes it, so small blocks need no header: they come from a free
 * list per 16-byte size class, refilled from one reserved region. Loading bpf.trace's compiler
 * makes some 40,000 of them; glibc's malloc spent a fifth of the start-up of `luabpf trace` on
 * them (and on consolidating its fast bins). Larger blocks go to malloc, as do small ones once
 * the region is used up.
 */
#include "luabpf_alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Address space only: a Lua state of the binary keeps some megabytes of small blocks live. */
#define REGION_SIZE ((size_t)64 << 20)

void luabpf_alloc_init(struct luabpf_alloc *a)
{
	memset(a, 0, sizeof(*a));
	void *p = mmap(NULL, REGION_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return;
	a->base = a->next = p;
	a->end = a->base + REGION_SIZE;
}

void luabpf_alloc_done(struct luabpf_alloc *a)
{
	if (a->base)
		munmap(a->base, REGION_SIZE);
	memset(a, 0, sizeof(*a));
}

static int in_region(const struct luabpf_alloc *a, const void *p)
{
	return (uintptr_t)p >= (uintptr_t)a->base && (uintptr_t)p < (uintptr_t)a->end;
}

static size_t class_of(size_t size) /* size: 1 .. LUABPF_ALLOC_SMALL_MAX */
{
	return (size - 1) / LUABPF_ALLOC_GRAIN;
}

/* A small block of size bytes, or NULL when the region is used up (or absent). */
static void *small_get(struct luabpf_alloc *a, size_t size)
{
	size_t c = class_of(size);
	void *p = a->free[c];
	if (p) {
		memcpy(&a->free[c], p, sizeof(void *));
		return p;
	}
	size_t block = (c + 1) * LUABPF_ALLOC_GRAIN;
	if ((size_t)(a->end - a->next) < block)
		return NULL;
	p = a->next;
	a->next += block;
	return p;
}

static void small_put(struct luabpf_alloc *a, void *p, size_t size)
{
	size_t c = class_of(size);
	memcpy(p, &a->free[c], sizeof(void *));
	a->free[c] = p;
}

/* A new block of size bytes (size > 0): small from the region, else from malloc. */
static void *get(struct luabpf_alloc *a, size_t size)
{
	void *p = size <= LUABPF_ALLOC_SMALL_MAX ? small_get(a, size) : NULL;
	return p ? p : malloc(size);
}

/* Lua's contract: ptr NULL is a new block (osize then tells its type, not a size); nsize 0
 * frees; otherwise resize, NULL only when the request cannot be met (the old block stays). */
void *luabpf_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct luabpf_alloc *a = ud;

	if (!ptr)
		return nsize ? get(a, nsize) : NULL;
	if (!in_region(a, ptr)) { /* a malloc block */
		if (nsize == 0) {
			free(ptr);
			return NULL;
		}
		if (nsize > LUABPF_ALLOC_SMALL_MAX)
			return realloc(ptr, nsize);
		void *p = small_get(a, nsize);
		if (!p)
			return realloc(ptr, nsize);
		memcpy(p, ptr, osize < nsize ? osize : nsize);
		free(ptr);
		return p;
	}
	if (nsize == 0) {
		small_put(a, ptr, osize);
		return NULL;
	}
	if (nsize <= LUABPF_ALLOC_SMALL_MAX && class_of(nsize) == class_of(osize))
		return ptr;
	void *p = get(a, nsize);
	if (!p)
		return NULL;
	memcpy(p, ptr, osize < nsize ? osize : nsize);
	small_put(a, ptr, osize);
	return p;
}

/* arena.c -- per-thread bump allocator behind libosip2; see arena.h.
 *
 *   base                                   used          cap
 *   |[size|pad][object ...][size|pad][obj..]|  free ...   |
 *
 * Each arena block starts with a 16-byte header holding the object's size,
 * for realloc; memory from malloc (no arena, or a full one) has no header and
 * goes back to free()/realloc() as is.
 */
#include "arena.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <osipparser2/osip_port.h>

#define HDR 16

static _Thread_local struct {
    char *base;
    size_t cap, used;
} ta;

static bool in_arena(const void *p)
{
    return ta.base && (const char *)p >= ta.base && (const char *)p < ta.base + ta.cap;
}

static void *arena_malloc(size_t n)
{
    size_t need = (n + HDR + 15) & ~(size_t)15;
    if (ta.base && need >= n && ta.used + need <= ta.cap) {
        char *p = ta.base + ta.used;
        ta.used += need;
        memcpy(p, &n, sizeof(n));
        return p + HDR;
    }
    return malloc(n);
}

static void arena_free_fn(void *p)
{
    if (p && !in_arena(p)) free(p);
}

static void *arena_realloc(void *p, size_t n)
{
    if (!p) return arena_malloc(n);
    if (!in_arena(p)) return realloc(p, n);
    size_t old;
    memcpy(&old, (char *)p - HDR, sizeof(old));
    if (n <= old) return p;
    void *q = arena_malloc(n);
    if (q) memcpy(q, p, old);
    return q;
}

void arena_install(void)
{
    osip_set_allocators(arena_malloc, arena_realloc, arena_free_fn);
}

int arena_thread_init(size_t cap)
{
    ta.base = malloc(cap);
    if (!ta.base) return -ENOMEM;
    ta.cap = cap;
    ta.used = 0;
    return 0;
}

void arena_thread_free(void)
{
    free(ta.base);
    ta.base = NULL;
    ta.cap = ta.used = 0;
}

void arena_reset(void)
{
    ta.used = 0;
}

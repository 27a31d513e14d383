/* arena.h -- a per-thread bump allocator for libosip2's objects.
 *
 * Parsing one INVITE makes libosip2 call malloc/free a hundred times; all of
 * it dies with the datagram. Each worker thread owns an arena; libosip2's
 * allocators (osip_set_allocators, process-wide, set once in main()) take
 * from the calling thread's arena, and the worker resets it after each
 * datagram. A thread without an arena (main, tests), or a full arena, gets
 * plain malloc memory, which is freed as usual. Memory from one thread's
 * arena must never be freed by another thread (libosip2 objects never leave
 * the worker that parsed them).
 */
#ifndef FRONTDESK_ARENA_H
#define FRONTDESK_ARENA_H

#include <stddef.h>

#define ARENA_SIZE (256 * 1024)

/* Route libosip2's allocations through the arena functions. Once, before
 * threads start. */
void arena_install(void);

/* Give the calling thread an arena of <cap> bytes. 0 or -ENOMEM. */
int arena_thread_init(size_t cap);
void arena_thread_free(void);

/* Forget everything allocated in this thread's arena since the last reset.
 * Only when none of it is in use any more. */
void arena_reset(void);

#endif

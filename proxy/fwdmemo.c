/* fwdmemo.c -- where recent INVITEs were forwarded. See fwdmemo.h.
 *
 *   slots[hash(key) & mask]:
 *   +------+----------+---------+---------------------------+
 *   | lock | expires  | key     | dest (uri, addr)          |
 *   +------+----------+---------+---------------------------+
 *   expires 0: empty. The lock is per slot: two workers touch the same
 *   slot only for the same call or a hash collision.
 */
#include "fwdmemo.h"

#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    /* 0 free, 1 held. Zero from calloc() is a valid free lock (a lock-free
     * atomic byte has the representation of a byte), so the table's pages
     * stay untouched, not resident, until forward mode writes to them */
    _Atomic unsigned char lock;
    uint8_t key_len;
    uint64_t expires_ms;
    char key[FWDMEMO_KEY_MAX];
    fwdmemo_dest_t dest;
} slot_t;

struct fwdmemo {
    unsigned mask;
    unsigned ttl_ms;
    slot_t slots[];
};

_Static_assert(ATOMIC_CHAR_LOCK_FREE == 2, "the slot locks rely on lock-free atomic bytes");
_Static_assert(FWDMEMO_KEY_MAX <= UINT8_MAX, "key_len is a byte");

fwdmemo_t *fwdmemo_new(unsigned slots, unsigned ttl_ms)
{
    unsigned n = 16;
    while (n < slots && n < (1u << 24)) n <<= 1;
    fwdmemo_t *m = calloc(1, sizeof(*m) + (size_t)n * sizeof(slot_t));
    if (!m) return NULL;
    m->mask = n - 1;
    m->ttl_ms = ttl_ms;
    return m;
}

void fwdmemo_free(fwdmemo_t *m)
{
    free(m);
}

/* FNV-1a over the key: spreading, not secrecy (our branches are keyed
 * hashes already; a caller that makes its calls collide only evicts its
 * own entries to the Redis path). */
static slot_t *slot_of(fwdmemo_t *m, const char *key, size_t len)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)key[i]) * 0x100000001b3u;
    return &m->slots[(h ^ (h >> 29)) & m->mask];
}

static void slot_lock(slot_t *s)
{
    /* held for one copy by another worker; if that one was preempted
     * holding it, let it run rather than spin through its time slice */
    for (unsigned n = 1; atomic_exchange_explicit(&s->lock, 1, memory_order_acquire); n++)
        if (n % 64 == 0) sched_yield();
}

static void slot_unlock(slot_t *s)
{
    atomic_store_explicit(&s->lock, 0, memory_order_release);
}

void fwdmemo_put(fwdmemo_t *m, const char *key, size_t len, const fwdmemo_dest_t *d, uint64_t now_ms)
{
    if (!m || !len || len > FWDMEMO_KEY_MAX || d->addr_len > sizeof(d->addr) ||
        !memchr(d->uri, '\0', sizeof(d->uri)))
        return;
    slot_t *s = slot_of(m, key, len);
    slot_lock(s);
    s->expires_ms = now_ms + m->ttl_ms + 1; /* never 0 */
    s->key_len = (uint8_t)len;
    memcpy(s->key, key, len);
    s->dest = *d;
    slot_unlock(s);
}

bool fwdmemo_get(fwdmemo_t *m, const char *key, size_t len, uint64_t now_ms, fwdmemo_dest_t *d)
{
    if (!m || !len || len > FWDMEMO_KEY_MAX) return false;
    slot_t *s = slot_of(m, key, len);
    slot_lock(s);
    bool hit = s->expires_ms > now_ms && s->key_len == len && memcmp(s->key, key, len) == 0;
    if (hit) *d = s->dest;
    slot_unlock(s);
    return hit;
}

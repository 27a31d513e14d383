/* fwdmemo.h -- where this process recently forwarded each INVITE, so that
 * the CANCEL and the ACK of a non-2xx answer that follow it go to the very
 * same destination without a Redis round trip (route.c).
 *
 * The key is the branch we gave the INVITE (fwd_branch()): its CANCEL and
 * non-2xx ACK get the very same one, while the same INVITE back through us
 * for another number (a spiral, or an upstream proxy forking it to two of
 * our numbers) gets another, so each pass keeps its own destination.
 *
 * Redis keeps the decision per Call-ID (the staff picked); the memo keeps
 * what was done with it: the destination the INVITE was sent to, which
 * may be another one than the decision's first (the first was down, or
 * the pick timed out and the INVITE went to the fallback). A follow-up
 * that finds no entry (evicted, expired, answered by another instance,
 * after a restart) is not an error: it asks Redis as before. So the memo
 * is a cache, never the only copy: the proxy keeps no transaction state in
 * RFC 3261's sense (a lost entry only sends the follow-up the way it went
 * before there was a memo).
 *
 * A fixed table shared by the worker threads, allocated once: <slots>
 * entries, direct-mapped by a hash of the key; a newer INVITE overwrites
 * an older one in its slot. An entry lives <ttl_ms>. Each slot has its own
 * spin lock, held for a copy of one entry (under 600 bytes): any thread
 * may call put and get. Pure otherwise: the caller passes the clock
 * (<now_ms>, monotonic).
 */
#ifndef FRONTDESK_FWDMEMO_H
#define FRONTDESK_FWDMEMO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "xport.h"

#include "rules.h" /* RULES_URI_MAX */

#define FWDMEMO_KEY_MAX 64  /* bytes of a key (a branch of ours has 35) */
#define FWDMEMO_SLOTS 4096  /* the proxy's memo: ~2.4 MB of zeroed pages, a
                               page resident once forward mode writes to it;
                               at 4000 calls/s an entry lives ~1 s on average
                               before a newer call takes its slot: the ACK
                               of a non-2xx answer comes within milliseconds */

typedef struct fwdmemo fwdmemo_t;

/* A destination a request was sent to: its URI (the Request-URI we wrote)
 * and the address it went to. */
typedef struct {
    char uri[RULES_URI_MAX + 1];
    struct sockaddr_storage addr;
    socklen_t addr_len;
    xport_kind_t transport; /* what it went over: its CANCEL and ACK follow */
} fwdmemo_dest_t;

/* A memo of <slots> entries (rounded up to a power of two, 16 at least)
 * that live <ttl_ms>. NULL when out of memory. */
fwdmemo_t *fwdmemo_new(unsigned slots, unsigned ttl_ms);
void fwdmemo_free(fwdmemo_t *m); /* accepts NULL */

/* The INVITE <key> (<len> bytes) went to <d>. An empty key or one longer
 * than FWDMEMO_KEY_MAX, a URI longer than RULES_URI_MAX or <m> NULL:
 * nothing is kept. */
void fwdmemo_put(fwdmemo_t *m, const char *key, size_t len, const fwdmemo_dest_t *d, uint64_t now_ms);

/* Where the INVITE <key> went, when the memo still knows: true and *<d>
 * filled; false otherwise (and for <m> NULL). */
bool fwdmemo_get(fwdmemo_t *m, const char *key, size_t len, uint64_t now_ms, fwdmemo_dest_t *d);

#endif

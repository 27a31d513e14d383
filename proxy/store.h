/* store.h -- the only module that speaks to Redis (hiredis async, libevent).
 *
 * One store per worker thread, on that worker's event_base. At connect it
 * names itself (CLIENT SETNAME, so operators and tests can see it in CLIENT
 * LIST), loads our Functions library (FUNCTION LOAD REPLACE, proxy/redis/
 * frontdesk.lua) and only then reports ready, so a restarted or flushed
 * Redis gets the functions back by itself. A lost connection is retried in
 * the background with backoff (100 ms doubling to 2 s).
 *
 * store_pick() sends one FCALL fd_pick; its callback runs exactly once: with
 * the decoded decision, or with an error (error reply, connection lost,
 * store closed). It never runs inside store_pick(). Deadlines are the
 * caller's business (route.c). Not thread-safe: call from the owning worker.
 */
#ifndef FRONTDESK_STORE_H
#define FRONTDESK_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "rules.h"

struct event_base;
struct redisReply;
typedef struct store store_t;

typedef enum { STORE_PICKED = 0, STORE_RECORDED, STORE_NONE } store_kind_t;

/* A decision of fd_pick: up to RULES_MAX_CONTACTS staff, best first. */
typedef struct {
    store_kind_t kind;
    unsigned n;
    char id[RULES_MAX_CONTACTS][65];
    char uri[RULES_MAX_CONTACTS][256];
} store_decision_t;

typedef struct {
    const char *host;
    unsigned port;
    unsigned offer_ms;    /* reservation of picked staff */
    unsigned ttl_ms;      /* how long a decision is kept per Call-ID */
    unsigned max_inflight;
    const char *name;     /* connection name (CLIENT SETNAME), or NULL;
                             [A-Za-z0-9._-] only */
} store_opts_t;

/* <err> is 0 with <d> set, or a negative errno: -EPROTO (error reply or a
 * reply we do not understand), -ECONNRESET (connection lost or closed). */
typedef void store_pick_cb(void *arg, int err, const store_decision_t *d);

int store_open(store_t **out, struct event_base *base, const store_opts_t *o);
void store_close(store_t *s); /* accepts NULL; pending callbacks get -ECONNRESET */

bool store_is_ready(const store_t *s);

/* Submit a pick for <callid> at <site> with <skill>, up to <k> staff.
 * Returns 0 (callback will run), -ENOTCONN (not connected or functions not
 * loaded yet) or -EBUSY (too many picks in flight); on error the callback
 * is not called. */
int store_pick(store_t *s, const char *site, const char *callid, size_t callid_len,
               const char *skill, unsigned k, store_pick_cb *cb, void *arg);

/* Decode an fd_pick reply (pure; see store_reply.c). 0 or -EPROTO. */
int store_decode_pick(const struct redisReply *r, store_decision_t *d);

/* The Functions library source, embedded at build time. */
extern const char store_lua_source[];

#endif

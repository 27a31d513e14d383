/* store.h -- the only module that speaks to Redis (hiredis async, libevent).
 *
 * One store per worker thread, on that worker's event_base. At connect it
 * names itself (CLIENT SETNAME, so operators and tests can see it in CLIENT
 * LIST), asks which version of our Functions library Redis holds (FCALL
 * fd_version), loads proxy/redis/frontdesk.lua when it holds none or an
 * older one, never over a newer one (store_lib_action), and only then
 * reports ready, so a restarted or flushed Redis gets the functions back
 * by itself. With Sentinels, each connect
 * first asks one of them (in turn) where the master is; a lost connection
 * or a READONLY reply (the master was demoted) asks again, so a failover
 * is followed without a restart. A lost connection is retried in
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
    char id[RULES_MAX_CONTACTS][98]; /* "id", or "site/id" for another site */
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
    const char *sentinels; /* "host:port,host:port" of Redis Sentinels, or
                             NULL: then <host>:<port> is the Redis */
    const char *master;   /* the master's name at the Sentinels */
    const char *user;     /* ACL user for AUTH, or NULL (the default user) */
    const char *password; /* AUTH password, or NULL: no AUTH */
} store_opts_t;

/* <err> is 0 with <d> set, or a negative errno: -EPROTO (error reply or a
 * reply we do not understand), -ECONNRESET (connection lost or closed). */
typedef void store_pick_cb(void *arg, int err, const store_decision_t *d);

int store_open(store_t **out, struct event_base *base, const store_opts_t *o);
void store_close(store_t *s); /* accepts NULL; pending callbacks get -ECONNRESET */

bool store_is_ready(const store_t *s);

/* Submit the pick of <plan> (a PLAN_PICK) for the call <callid>: one FCALL
 * fd_pick that walks the plan's chain. Returns 0 (callback will run),
 * -ENOTCONN (not connected or functions not loaded yet), -EBUSY (too many
 * picks in flight) or -EINVAL (a plan with no PICK step); on error the
 * callback is not called. */
int store_pick(store_t *s, const plan_t *plan, const char *callid, size_t callid_len,
               store_pick_cb *cb, void *arg);

/* The decision recorded for <callid> at <site> (FCALL_RO fd_decision),
 * reserving no one: STORE_RECORDED with its staff, or STORE_NONE. Same
 * callback rules and errors as store_pick(). */
int store_decision(store_t *s, const char *site, const char *callid, size_t callid_len,
                   store_pick_cb *cb, void *arg);

/* Undo a pick whose reply came after the caller was answered with the
 * fallback (FCALL fd_release): fire and forget; -ENOTCONN when not ready. */
int store_release(store_t *s, const char *site, const char *callid, size_t callid_len);

/* ------------------------------------------------------------------------
 * The pick protocol, contract version 3 (the one definition on this side;
 * proxy/redis/frontdesk.lua's parse_plan reads it):
 *
 *   FCALL fd_pick N <site prefix 1..N> <call-id> <caller-hash|""> <plan>
 *   plan = "3|<k>|<offer-ms>|<ttl-ms>|<window-s>|<day>|<step>|<step>..."
 *   step = "<key-index>:<skill>:<code>:<min-level>"
 *
 * KEYS are "fd:{site}", the called site first (its decision record);
 * <key-index> is 1-based into them. <k> staff at most (1..5); <window-s>
 * is the caller-aware window (0: not caller-aware); <day> the called
 * site's YYYYMMDD or empty; <code> li, rr, ms or fo (store_strategy_code).
 * The plan is the same string for every call of a route on a day, so the
 * library parses it once. FCALL_RO fd_peek takes the same arguments.
 * --------------------------------------------------------------------- */
#define STORE_LIB_VERSION 3
#define STORE_LIB_NAME "frontdesk_lib"
#define STORE_ARGV_MAX (3 + RULES_MAX_CHAIN + 1 + 3) /* command, function, N; keys; call-id, caller, plan */
#define STORE_PLAN_MAX 640
typedef struct {
    unsigned argc;
    const char *argv[STORE_ARGV_MAX];
    size_t lens[STORE_ARGV_MAX];
    char nkeys[4];
    char keys[RULES_MAX_CHAIN + 1][48];
    char plan[STORE_PLAN_MAX];
} store_argv_t;

/* Fill <a> for <plan>'s pick of <callid> (pure; the strings point into
 * <a>, <plan> and the caller's arguments). <cmd>/<fn>: "FCALL"/"fd_pick"
 * or "FCALL_RO"/"fd_peek". 0, or -EINVAL for a plan with no PICK step or
 * a site name too long for a key. */
int store_build_pick(store_argv_t *a, const char *cmd, const char *fn, const plan_t *plan,
                     const char *callid, size_t callid_len, const char *offer_ms,
                     const char *ttl_ms);

/* The strategy's code in the plan ("li", "rr", "ms", "fo"). */
const char *store_strategy_code(rules_strategy_t st);

/* What to do about the Functions library, from the reply to FCALL
 * fd_version 0 (pure): it is this version (use it), older or missing (load
 * ours; version 2's library, of another name, is deleted in the same
 * transaction), newer or unreadable (keep it: a proxy never downgrades the
 * library), or Redis refused us (NOAUTH, NOPERM: no use loading). Loads
 * never REPLACE: a library that appeared since makes them fail with
 * "already exists", and the caller looks again (once). */
typedef enum {
    STORE_LIB_CURRENT = 0,
    STORE_LIB_LOAD,     /* none loaded */
    STORE_LIB_UPGRADE,  /* an older version: replace it */
    STORE_LIB_NEWER,    /* a newer version: keep it */
    STORE_LIB_REFUSED,
} store_lib_action_t;
store_lib_action_t store_lib_action(const struct redisReply *version_reply, unsigned *version);

/* The library of contract version 2 was named "frontdesk"; ours replaces
 * it in one MULTI (FUNCTION DELETE of it, FUNCTION LOAD of ours). A proxy
 * of version 2 that connects afterwards cannot load its own over ours (the
 * function names are taken): it answers with fallbacks until upgraded. */
#define STORE_LIB_V2_NAME "frontdesk"

/* For tools on a blocking connection (store_sync.c): load the library as
 * the proxy would. 0, or -1 with the reason in <err>. */
struct redisContext;
int store_lib_ensure_sync(struct redisContext *c, char *err, size_t errlen);

/* Decode an fd_pick reply (pure; see store_reply.c). 0 or -EPROTO. */
int store_decode_pick(const struct redisReply *r, store_decision_t *d);

/* The Functions library source, embedded at build time. */
extern const char store_lua_source[];

#endif

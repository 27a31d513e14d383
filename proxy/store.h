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
    /* the call history (fd:{site}:calls): records younger than
     * <history_days> days, or about <history_max> a site when set; neither:
     * no history */
    unsigned history_days;
    unsigned history_max;
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

/* ---- the call history ---------------------------------------------------
 * One record per routed INVITE in the called site's stream
 * fd:{site}:calls (docs/reports.md), from store_history_add: queued, and
 * written in batches (every STORE_HISTORY_FLUSH_MS, or sooner when
 * STORE_HISTORY_SOON are waiting), off the call's path: one XADD a site
 * per batch (up to STORE_HISTORY_BATCH records a site), its records one a
 * line. A window of 100 ms, not a count, makes the batches: calls spread
 * over hundreds of sites still share an XADD a site. fd_pick can write a call's record
 * itself (store_pick's <hist>), but that costs Redis more than the 5% of a
 * call's CPU allowed (docs/decisions.md): the proxy passes NULL. While
 * Redis is away the queue keeps up to STORE_HISTORY_QUEUE records; past
 * that they are dropped and counted. Strings are copied (cut to fit). */
#define STORE_HISTORY_QUEUE 8192
#define STORE_HISTORY_SOON 6144 /* this many waiting: written at once */
#define STORE_HISTORY_BATCH 64  /* records an XADD holds at most */
#define STORE_HISTORY_FLUSH_MS 100
typedef struct {
    const char *number;  /* the dialled number (the To user), "" if none */
    const char *option;  /* the menu option, "" if none */
    const char *skill;   /* the plan's skill, "" if none */
} store_hist_t;

typedef struct {
    char site[33];
    char callid[33];     /* the Call-ID's keyed hash (log_call_hash) */
    char caller[RULES_CALLER_HASH_LEN + 1]; /* "" when not caller-aware */
    char number[33], option[8], skill[33];
    char outcome[16];    /* STORE_OUTCOMES' names */
    unsigned offered;    /* staff offered (outcome staff) */
    char status[4];      /* forward mode, a final response: its code; else "" */
    unsigned long long ms; /* when it was decided (wall clock) */
} store_hist_rec_t;

/* The outcomes a record can carry (reports list them in this order). */
#define STORE_OUTCOMES "staff nobody late redis_down redis_error capped after_hours lunch holiday rules rejected final"

/* Queue <rec> for the next batch. 0, or -ENOSPC when the queue is full
 * (counted by the caller), -ENOTSUP when the store keeps no history. */
int store_history_add(store_t *s, const store_hist_rec_t *rec);

/* Records dropped (queue full) and refused by Redis, since start. */
void store_history_counts(const store_t *s, unsigned long *dropped, unsigned long *failed);

/* Fill <a> with one XADD holding the first records of <recs>/<n> that are
 * of the first one's site, up to STORE_HISTORY_BATCH, one a line in its
 * value (pure). <keep> is store's "d<ms>" or "n<count>"; <now_ms> the wall
 * clock (a "d" bound is now - ms). Returns how many records it holds (1 or
 * more), or -EINVAL. */
typedef struct {
    unsigned argc;
    const char *argv[8];
    size_t lens[8];
    char key[48], bound[24], value[STORE_HISTORY_BATCH * 260];
} store_xadd_t;
int store_build_history(store_xadd_t *a, const store_hist_rec_t *const *recs, size_t n, const char *keep,
                        unsigned long long now_ms);

int store_open(store_t **out, struct event_base *base, const store_opts_t *o);
void store_close(store_t *s); /* accepts NULL; pending callbacks get -ECONNRESET */

bool store_is_ready(const store_t *s);

/* Submit the pick of <plan> (a PLAN_PICK) for the call <callid>: one FCALL
 * fd_pick that walks the plan's chain. Returns 0 (callback will run),
 * -ENOTCONN (not connected or functions not loaded yet), -EBUSY (too many
 * picks in flight) or -EINVAL (a plan with no PICK step); on error the
 * callback is not called. */
int store_pick(store_t *s, const plan_t *plan, const char *callid, size_t callid_len,
               const store_hist_t *hist, store_pick_cb *cb, void *arg);

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
#define STORE_LIB_VERSION 4
#define STORE_PLAN_VERSION 3 /* the plan's protocol: the same since contract version 3 */
#define STORE_LIB_NAME "frontdesk_lib"
/* Who may replace the library: a loader WATCHes this key, reads
 * fd_version, and replaces an older library in a MULTI that also SETs it
 * to its version, so of two proxies upgrading at once the one that read an
 * older version than the other wrote fails its EXEC and looks again: a
 * newer library is never replaced by an older one. */
#define STORE_LIB_KEY "fd:lib"
#define STORE_ARGV_MAX (3 + RULES_MAX_CHAIN + 1 + 4) /* command, function, N; keys; call-id, caller, plan, history */
#define STORE_PLAN_MAX 640
typedef struct {
    unsigned argc;
    const char *argv[STORE_ARGV_MAX];
    size_t lens[STORE_ARGV_MAX];
    char nkeys[4];
    char keys[RULES_MAX_CHAIN + 1][48];
    char plan[STORE_PLAN_MAX];
    char hist[200];
} store_argv_t;

/* Fill <a> for <plan>'s pick of <callid> (pure; the strings point into
 * <a>, <plan> and the caller's arguments). <cmd>/<fn>: "FCALL"/"fd_pick"
 * or "FCALL_RO"/"fd_peek". With <keep> ("d<ms>", "n<count>") and <hist>,
 * the fourth argument asks fd_pick to record the call in the history:
 * "<keep>\t<number>\t<option>\t<skill>" (tabs and the over-long in the
 * fields cut). 0, or -EINVAL for a plan with no PICK step or a site name
 * too long for a key. */
int store_build_pick(store_argv_t *a, const char *cmd, const char *fn, const plan_t *plan,
                     const char *callid, size_t callid_len, const char *offer_ms,
                     const char *ttl_ms, const char *keep, const store_hist_t *hist);

/* The strategy's code in the plan ("li", "rr", "ms", "fo"). */
const char *store_strategy_code(rules_strategy_t st);

/* What to do about the Functions library, from the reply to FCALL
 * fd_version 0 (pure): it is this version (use it), older or missing (load
 * ours; version 2's library, of another name, is deleted in the same
 * transaction; an older one of our name is replaced under STORE_LIB_KEY's
 * WATCH), newer or unreadable (keep it: a proxy never downgrades the
 * library), or Redis refused us (NOAUTH, NOPERM: no use loading). A load
 * where none was never REPLACEs: a library that appeared since makes it
 * fail with "already exists", and the caller looks again. */
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

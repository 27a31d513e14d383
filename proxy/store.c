/* store.c -- hiredis async connection of one worker: connect, load our
 * functions, FCALL fd_pick, reconnect with backoff. See store.h.
 */
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <hiredis.h>
#include <async.h>
#include <sodium.h>

#include "log.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000
#define WATCH_MS 500      /* stall check period */
#define STORE_MAX_SENTINELS 4
#define READY_DEADLINE_MS 2000 /* connect + AUTH + FUNCTION LOAD, or a sentinel's answer */
#define STALL_TICKS 2     /* replies owed and none came for this many periods */

struct store {
    struct event_base *base;
    redisAsyncContext *ac;   /* NULL while disconnected */
    struct event *retry;     /* reconnect timer */
    struct event *watch;     /* stall watchdog */
    struct event *ready_to;  /* a connection that is not ready in time is dropped */
    unsigned long replies, replies_seen; /* replies received, at last check */
    unsigned stalled;        /* consecutive checks with replies owed, none received */
    unsigned backoff_ms;
    bool ready;              /* connected and functions loaded */
    bool closing;
    bool was_down;           /* for logging transitions once */
    bool warned_newer;       /* said once that Redis holds a newer library */
    bool lib_rechecked;      /* this connection looked again after "already exists" */
    unsigned inflight;
    char host[256];
    unsigned port;
    unsigned max_inflight;
    char offer[16], ttl[16];
    char keep[24];           /* the history's bound: "d<ms>", "n<count>", "" (none) */
    /* records waiting for the next batch (a ring) */
    store_hist_rec_t *hist;
    const store_hist_rec_t **hist_take; /* the flush's view of them */
    unsigned hist_head, hist_n;
    unsigned long hist_dropped, hist_failed;
    struct event *hist_flush;
    char name[64];           /* CLIENT SETNAME: who we are in CLIENT LIST */
    char *user, *password;   /* AUTH, or NULL */
    /* Sentinel: where to ask for the master */
    char shost[STORE_MAX_SENTINELS][256];
    unsigned sport[STORE_MAX_SENTINELS];
    unsigned n_sentinels, next_sentinel;
    char master[64];
    redisAsyncContext *sac;  /* the lookup under way, or NULL */
    bool resolved;           /* a sentinel named the master once */
};

typedef struct {
    store_t *s;
    store_pick_cb *cb;
    void *arg;
} pick_t;

static void connect_now(store_t *s);

/* ------------------------------------------------------------------------
 * hiredis on our loop
 *
 * hiredis's own libevent adapter arms a one-shot write event for every
 * command and a one-shot read event after every reply: four epoll_ctl()
 * calls a pick. This one keeps the read event armed for good and writes
 * optimistically: a command queued on a connected context is written
 * when the current round of callbacks is over (one write() for every
 * command of a batch of datagrams); only a socket that takes no more
 * (or a connect still in progress) arms the write event.
 * --------------------------------------------------------------------- */

typedef struct {
    redisAsyncContext *ac;
    struct event *rev, *wev, *flush;
    bool flush_pending;
} ev_t;

/* The context whose writes are being handled right now: an addWrite from
 * inside them means the socket took less than everything. Compared, never
 * dereferenced: hiredis may free the context inside the call. */
static _Thread_local const ev_t *ev_writing;

static void ev_on_read(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    redisAsyncHandleRead(((ev_t *)arg)->ac);
}

static void ev_write_now(ev_t *e)
{
    ev_writing = e;
    redisAsyncHandleWrite(e->ac); /* may free <e> */
    ev_writing = NULL;
}

static void ev_on_write(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    ev_write_now(arg);
}

static void ev_on_flush(evutil_socket_t fd, short what, void *arg)
{
    ev_t *e = arg;
    (void)fd, (void)what;
    e->flush_pending = false;
    ev_write_now(e);
}

static void ev_add_read(void *data)
{
    ev_t *e = data;
    if (!event_pending(e->rev, EV_READ, NULL)) event_add(e->rev, NULL);
}

static void ev_del_read(void *data)
{
    event_del(((ev_t *)data)->rev);
}

static void ev_add_write(void *data)
{
    ev_t *e = data;
    if (ev_writing == e || !(e->ac->c.flags & REDIS_CONNECTED)) {
        event_add(e->wev, NULL); /* wait until the socket takes more */
    } else if (!e->flush_pending && !event_pending(e->wev, EV_WRITE, NULL)) {
        /* (while the write event waits, it writes the new command too) */
        e->flush_pending = true;
        event_active(e->flush, EV_WRITE, 0);
    }
}

static void ev_del_write(void *data)
{
    event_del(((ev_t *)data)->wev);
}

static void ev_cleanup(void *data)
{
    ev_t *e = data;
    if (e->rev) event_free(e->rev);
    if (e->wev) event_free(e->wev);
    if (e->flush) event_free(e->flush);
    free(e);
}

/* Put <ac> (connecting) on <base>. 0, or -ENOMEM. */
static int ev_attach(redisAsyncContext *ac, struct event_base *base)
{
    ev_t *e = calloc(1, sizeof(*e));
    if (!e) return -ENOMEM;
    e->ac = ac;
    e->rev = event_new(base, ac->c.fd, EV_READ | EV_PERSIST, ev_on_read, e);
    e->wev = event_new(base, ac->c.fd, EV_WRITE, ev_on_write, e);
    e->flush = event_new(base, -1, 0, ev_on_flush, e);
    if (!e->rev || !e->wev || !e->flush) {
        ev_cleanup(e);
        return -ENOMEM;
    }
    ac->ev.addRead = ev_add_read;
    ac->ev.delRead = ev_del_read;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_del_write;
    ac->ev.cleanup = ev_cleanup;
    ac->ev.data = e;
    event_add(e->rev, NULL);
    event_add(e->wev, NULL); /* the connect's completion */
    return 0;
}
static void went_down(store_t *s, const char *why);

/* A connection (or a sentinel's lookup) not ready by READY_DEADLINE_MS: a
 * half-open or frozen peer would otherwise keep us waiting for minutes. */
static void on_ready_deadline(evutil_socket_t fd, short what, void *arg)
{
    store_t *s = arg;
    (void)fd, (void)what;
    if (s->ready) return;
    LOG_WARN("redis: not ready in time, trying again", "redis=%s:%u", s->host, s->port);
    if (s->sac) {
        redisAsyncContext *sac = s->sac;
        s->sac = NULL;
        redisAsyncFree(sac); /* its reply callback gets NULL: it schedules the retry */
        return;
    }
    if (s->ac) {
        redisAsyncContext *ac = s->ac;
        redisAsyncFree(ac); /* on_disconnect (if it connected) schedules the retry */
        if (s->ac == ac) went_down(s, "not ready in time");
    }
}

static void arm_ready_deadline(store_t *s)
{
    struct timeval tv = { READY_DEADLINE_MS / 1000, (READY_DEADLINE_MS % 1000) * 1000 };
    if (s->ready_to) evtimer_add(s->ready_to, &tv);
}

static void schedule_retry(store_t *s)
{
    if (s->closing) return;
    struct timeval tv = { s->backoff_ms / 1000, (s->backoff_ms % 1000) * 1000 };
    evtimer_add(s->retry, &tv);
    s->backoff_ms = s->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : s->backoff_ms * 2;
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    connect_now(arg);
}

static void became_ready(store_t *s)
{
    s->ready = true;
    evtimer_del(s->ready_to);
    s->backoff_ms = BACKOFF_MIN_MS;
    if (s->was_down) LOG_WARN("redis: back", "redis=%s:%u", s->host, s->port);
    else LOG_INFO("redis: ready", "redis=%s:%u", s->host, s->port);
    s->was_down = false;
    if (s->hist_n) event_active(s->hist_flush, EV_TIMEOUT, 0); /* what waited while away */
    log_flush(); /* rare: do not wait for the next datagram */
}

static void check_library(store_t *s);

/* The reply to FUNCTION LOAD, or to the MULTI that replaced an older
 * library (its EXEC: an array of the replies of FUNCTION DELETE, LOAD and
 * SET; nil when STORE_LIB_KEY changed since we read the version). */
static void on_loaded(redisAsyncContext *ac, void *reply, void *arg)
{
    store_t *s = arg;
    redisReply *r = reply;
    bool aborted = false;
    (void)ac;
    if (!r) return; /* disconnected meanwhile */
    if (r->type == REDIS_REPLY_ARRAY) {
        redisReply *all = r;
        r = NULL;
        for (size_t i = 0; i < all->elements && !r; i++)
            if (all->element[i]->type == REDIS_REPLY_ERROR) r = all->element[i];
        if (!r) {
            LOG_INFO("redis: functions loaded", "library=" STORE_LIB_NAME " version=%u", STORE_LIB_VERSION);
            became_ready(s);
            return;
        }
    } else if (r->type == REDIS_REPLY_NIL) {
        r = NULL;
        aborted = true;
    }
    if (!r || r->type == REDIS_REPLY_ERROR) {
        char e[200];
        /* another proxy loaded it between our version check and our load
         * (or upgraded it: our EXEC aborted): look again, once per
         * connection (a library of another name holding our functions'
         * names would make this a loop) */
        if (((r && strstr(r->str, "already exists")) || aborted) && !s->lib_rechecked) {
            s->lib_rechecked = true;
            check_library(s);
            return;
        }
        LOG_ERROR("redis: FUNCTION LOAD failed", "err=\"%s\"",
                  r ? log_value(e, sizeof(e), r->str, r->len) : "transaction aborted");
        redisAsyncDisconnect(s->ac); /* try again after the backoff */
        return;
    }
    LOG_INFO("redis: functions loaded", "library=" STORE_LIB_NAME " version=%u", STORE_LIB_VERSION);
    became_ready(s);
}

static void on_version(redisAsyncContext *ac, void *reply, void *arg)
{
    store_t *s = arg;
    redisReply *r = reply;
    unsigned v;
    (void)ac;
    if (!r) return; /* disconnected meanwhile */
    /* never REPLACE: a library of our name that appeared since we looked
     * (another proxy, maybe a newer one) makes the load fail with "already
     * exists", and on_loaded looks again */
    const char *argv[] = { "FUNCTION", "LOAD", "REPLACE", store_lua_source };
    size_t lens[4] = { 8, 4, 7, 0 };
    store_lib_action_t act = store_lib_action(r, &v);
    if (act != STORE_LIB_UPGRADE) redisAsyncCommand(s->ac, NULL, NULL, "UNWATCH");
    switch (act) {
    case STORE_LIB_CURRENT:
        became_ready(s);
        return;
    case STORE_LIB_NEWER:
        /* a newer proxy upgraded it (or a version we cannot read): never
         * replace it; its functions are expected to answer this version's
         * calls, and picks get fallbacks if they do not */
        if (!s->warned_newer)
            LOG_WARN("redis: holds a newer Functions library, keeping it", "version=%u ours=%u", v,
                     STORE_LIB_VERSION);
        s->warned_newer = true;
        became_ready(s);
        return;
    case STORE_LIB_LOAD: {
        const char *load[] = { argv[0], argv[1], argv[3] };
        size_t load_lens[] = { lens[0], lens[1], strlen(store_lua_source) };
        redisAsyncCommandArgv(s->ac, on_loaded, s, 3, load, load_lens);
        return;
    }
    case STORE_LIB_UPGRADE:
        /* under the WATCH of STORE_LIB_KEY that check_library set */
        LOG_WARN("redis: upgrading the Functions library", "from=%u to=%u", v, STORE_LIB_VERSION);
        lens[3] = strlen(store_lua_source);
        redisAsyncCommand(s->ac, NULL, NULL, "MULTI");
        if (v <= 2) redisAsyncCommand(s->ac, NULL, NULL, "FUNCTION DELETE %s", STORE_LIB_V2_NAME);
        redisAsyncCommandArgv(s->ac, NULL, NULL, 4, argv, lens);
        redisAsyncCommand(s->ac, NULL, NULL, "SET %s %u", STORE_LIB_KEY, STORE_LIB_VERSION);
        redisAsyncCommand(s->ac, on_loaded, s, "EXEC");
        return;
    case STORE_LIB_REFUSED: {
        char e[200];
        LOG_ERROR("redis: refused", "redis=%s:%u err=\"%s\"", s->host, s->port,
                  log_value(e, sizeof(e), r->str, r->len));
        redisAsyncDisconnect(s->ac);
        return;
    }
    }
}

/* Which library does Redis hold? on_version loads ours when needed; the
 * WATCH makes an upgrade fail if another loader upgraded it meanwhile. */
static void check_library(store_t *s)
{
    redisAsyncCommand(s->ac, NULL, NULL, "WATCH %s", STORE_LIB_KEY);
    redisAsyncCommand(s->ac, on_version, s, "FCALL fd_version 0");
}

/* A Redis that holds the connection but stops answering (frozen, swapping,
 * a long script) would keep up to max_inflight picks waiting: each gets its
 * fallback at the deadline, but the connection itself must be dropped so
 * that we reconnect, possibly to a healthy Redis. */
static void on_watch(evutil_socket_t fd, short what, void *arg)
{
    store_t *s = arg;
    (void)fd, (void)what;
    if (s->ac && s->inflight && s->replies == s->replies_seen) {
        if (++s->stalled >= STALL_TICKS) {
            LOG_WARN("redis: no reply for a second with picks in flight, reconnecting",
                     "redis=%s:%u inflight=%u", s->host, s->port, s->inflight);
            s->stalled = 0;
            redisAsyncContext *ac = s->ac;
            redisAsyncFree(ac); /* callbacks get NULL; on_disconnect schedules the retry */
            if (s->ac == ac) went_down(s, "stalled");
        }
    } else {
        s->stalled = 0;
    }
    s->replies_seen = s->replies;
}

static void on_auth(redisAsyncContext *ac, void *reply, void *arg)
{
    store_t *s = arg;
    redisReply *r = reply;
    (void)ac;
    if (r && r->type == REDIS_REPLY_ERROR) {
        /* a wrong password is logged, and retried with the backoff: it may
         * be fixed in Redis without restarting us */
        char e[200];
        LOG_ERROR("redis: AUTH failed", "redis=%s:%u err=\"%s\"", s->host, s->port,
                  log_value(e, sizeof(e), r->str, r->len));
        redisAsyncDisconnect(s->ac);
    }
}

static void load_functions(store_t *s)
{
    /* commands on one connection run in order: AUTH first, then the rest
     * (which fail with NOAUTH, harmlessly, if AUTH did) */
    if (s->password) {
        if (s->user) redisAsyncCommand(s->ac, on_auth, s, "AUTH %s %s", s->user, s->password);
        else redisAsyncCommand(s->ac, on_auth, s, "AUTH %s", s->password);
    }
    if (s->name[0]) redisAsyncCommand(s->ac, NULL, NULL, "CLIENT SETNAME %s", s->name);
    check_library(s);
}

static void went_down(store_t *s, const char *why)
{
    s->ready = false;
    s->ac = NULL; /* hiredis frees the context after this callback */
    if (s->closing) return;
    if (!s->was_down) LOG_WARN("redis: unavailable, answering with fallbacks", "redis=%s:%u why=\"%s\"", s->host, s->port, why);
    s->was_down = true;
    log_flush();
    schedule_retry(s);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    store_t *s = ac->data;
    if (status != REDIS_OK) {
        went_down(s, ac->errstr);
        return;
    }
    s->lib_rechecked = false;
    load_functions(s);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    store_t *s = ac->data;
    went_down(s, status == REDIS_OK ? "disconnected" : ac->errstr);
}

/* ---- Sentinel: where is the master? ---- */

static void connect_master(store_t *s);

static void on_sentinel_disconnect(const redisAsyncContext *ac, int status)
{
    store_t *s = ac->data;
    (void)status;
    if (s->sac == ac) s->sac = NULL;
}

static void on_sentinel_reply(redisAsyncContext *ac, void *reply, void *arg)
{
    store_t *s = arg;
    redisReply *r = reply;
    unsigned i = (s->next_sentinel + s->n_sentinels - 1) % s->n_sentinels;

    /* no reply: the context failed to connect or was freed, and hiredis
     * frees it after this callback without calling on_sentinel_disconnect */
    if (!r && s->sac == ac) s->sac = NULL;

    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_STRING && r->element[1]->type == REDIS_REPLY_STRING &&
        r->element[0]->len < sizeof(s->host)) {
        unsigned long port = strtoul(r->element[1]->str, NULL, 10);
        if (port > 0 && port < 65536) {
            bool moved = strcmp(s->host, r->element[0]->str) != 0 || s->port != port;
            snprintf(s->host, sizeof(s->host), "%s", r->element[0]->str);
            s->port = (unsigned)port;
            if (moved || !s->resolved)
                LOG_WARN("redis: master from sentinel", "master=%s redis=%s:%u sentinel=%s:%u",
                         s->master, s->host, s->port, s->shost[i], s->sport[i]);
            s->resolved = true;
            redisAsyncDisconnect(ac);
            connect_master(s);
            return;
        }
    }
    if (!s->closing) {
        LOG_WARN("redis: sentinel did not name the master", "master=%s sentinel=%s:%u why=\"%s\"",
                 s->master, s->shost[i], s->sport[i],
                 !r ? ac->errstr : r->type == REDIS_REPLY_ERROR ? r->str : "unknown master");
        log_flush();
        if (r) redisAsyncDisconnect(ac);
        schedule_retry(s);
    }
}

static void ask_sentinel(store_t *s)
{
    unsigned i = s->next_sentinel++ % s->n_sentinels;
    redisAsyncContext *ac = redisAsyncConnect(s->shost[i], (int)s->sport[i]);
    if (!ac || ac->err || ev_attach(ac, s->base) < 0) {
        if (ac) redisAsyncFree(ac);
        schedule_retry(s);
        return;
    }
    ac->data = s;
    s->sac = ac;
    arm_ready_deadline(s);
    redisAsyncSetDisconnectCallback(ac, on_sentinel_disconnect);
    /* queued until connected; a failed connect answers it with NULL */
    redisAsyncCommand(ac, on_sentinel_reply, s, "SENTINEL get-master-addr-by-name %s", s->master);
}

static void connect_now(store_t *s)
{
    if (s->n_sentinels) ask_sentinel(s);
    else connect_master(s);
}

static void connect_master(store_t *s)
{
    redisAsyncContext *ac = redisAsyncConnect(s->host, (int)s->port);
    if (!ac) {
        schedule_retry(s);
        return;
    }
    if (ac->err) {
        if (!s->was_down) LOG_WARN("redis: cannot connect", "redis=%s:%u why=\"%s\"", s->host, s->port, ac->errstr);
        s->was_down = true;
        redisAsyncFree(ac);
        schedule_retry(s);
        return;
    }
    if (ev_attach(ac, s->base) < 0) {
        redisAsyncFree(ac);
        schedule_retry(s);
        return;
    }
    ac->data = s;
    s->ac = ac;
    arm_ready_deadline(s);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
}

/* ---- the call history's batches ---------------------------------------- */

static void on_hist(redisAsyncContext *ac, void *reply, void *arg)
{
    store_t *s = arg;
    redisReply *r = reply;
    (void)ac;
    if (r && r->type == REDIS_REPLY_ERROR) {
        char e[200];
        if (s->hist_failed++ == 0)
            LOG_WARN("redis: a call history record refused", "err=\"%s\"", log_value(e, sizeof(e), r->str, r->len));
    }
}

static unsigned long long wall_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (unsigned long long)t.tv_sec * 1000ull + (unsigned long long)t.tv_nsec / 1000000ull;
}

/* Write what waits, in one pipelined batch (the loop's next write), when
 * Redis is ready; else keep it for the next tick. */
static void on_hist_flush(evutil_socket_t fd, short what, void *arg)
{
    store_t *s = arg;
    (void)fd, (void)what;
    if (!store_is_ready(s)) {
        if (s->hist_n) {
            struct timeval tv = { 0, STORE_HISTORY_FLUSH_MS * 1000 };
            evtimer_add(s->hist_flush, &tv);
        }
        return;
    }
    unsigned long long now = wall_ms();
    while (s->hist_n) {
        /* the next records, a site at a time: one XADD each (records of a
         * site that did not fit go with the next one) */
        const store_hist_rec_t **take = s->hist_take;
        size_t k = s->hist_n, left = k;
        bool sent = true;
        for (size_t i = 0; i < k; i++) take[i] = &s->hist[(s->hist_head + i) % STORE_HISTORY_QUEUE];
        while (left && sent) {
            store_xadd_t a;
            int n = store_build_history(&a, take, left, s->keep, now);
            if (n > 0 && redisAsyncCommandArgv(s->ac, on_hist, s, (int)a.argc, a.argv, a.lens) != REDIS_OK) {
                sent = false; /* the connection went: these wait (a record sent twice is one call to the
                                 reports: they keep a call's last entry) */
                break;
            }
            /* drop what went (or the first record, if it could not be built) */
            const char *site = take[0]->site;
            size_t w = 0, dropped = 0;
            for (size_t i = 0; i < left; i++) {
                if (dropped < (size_t)(n > 0 ? n : 1) && !strcmp(take[i]->site, site)) dropped++;
                else take[w++] = take[i];
            }
            left = w;
        }
        if (!sent) break;
        s->hist_head = (unsigned)((s->hist_head + k) % STORE_HISTORY_QUEUE);
        s->hist_n -= (unsigned)k;
    }
}

int store_history_add(store_t *s, const store_hist_rec_t *rec)
{
    if (!s->keep[0]) return -ENOTSUP;
    if (s->hist_n >= STORE_HISTORY_QUEUE) {
        s->hist_dropped++;
        return -ENOSPC;
    }
    s->hist[(s->hist_head + s->hist_n) % STORE_HISTORY_QUEUE] = *rec;
    if (s->hist_n++ == 0) {
        struct timeval tv = { 0, STORE_HISTORY_FLUSH_MS * 1000 };
        evtimer_add(s->hist_flush, &tv);
    } else if (s->hist_n == STORE_HISTORY_SOON) {
        event_active(s->hist_flush, EV_TIMEOUT, 0);
    }
    return 0;
}

void store_history_counts(const store_t *s, unsigned long *dropped, unsigned long *failed)
{
    *dropped = s ? s->hist_dropped : 0;
    *failed = s ? s->hist_failed : 0;
}

int store_open(store_t **out, struct event_base *base, const store_opts_t *o)
{
    int rc = -ENOMEM;
    store_t *s = calloc(1, sizeof(*s));
    if (!s) goto fail;
    s->base = base;
    snprintf(s->host, sizeof(s->host), "%s", o->host);
    s->port = o->port;
    s->max_inflight = o->max_inflight ? o->max_inflight : 8192;
    snprintf(s->offer, sizeof(s->offer), "%u", o->offer_ms);
    snprintf(s->ttl, sizeof(s->ttl), "%u", o->ttl_ms);
    if (o->history_max) snprintf(s->keep, sizeof(s->keep), "n%u", o->history_max);
    else if (o->history_days) snprintf(s->keep, sizeof(s->keep), "d%llu", o->history_days * 86400000ull);
    s->backoff_ms = BACKOFF_MIN_MS;
    if (o->name) snprintf(s->name, sizeof(s->name), "%s", o->name);
    if (o->sentinels && *o->sentinels) {
        rc = -EINVAL;
        if (!o->master || strlen(o->master) >= sizeof(s->master)) goto fail;
        snprintf(s->master, sizeof(s->master), "%s", o->master);
        for (const char *p = o->sentinels; *p && s->n_sentinels < STORE_MAX_SENTINELS;) {
            const char *end = strchr(p, ','), *colon;
            size_t n = end ? (size_t)(end - p) : strlen(p);
            char one[300];
            if (n >= sizeof(one)) goto fail;
            memcpy(one, p, n);
            one[n] = '\0';
            if (!(colon = strrchr(one, ':')) || colon == one || (size_t)(colon - one) >= sizeof(s->shost[0]))
                goto fail;
            memcpy(s->shost[s->n_sentinels], one, (size_t)(colon - one));
            s->shost[s->n_sentinels][colon - one] = '\0';
            s->sport[s->n_sentinels++] = (unsigned)strtoul(colon + 1, NULL, 10);
            p += n + (end ? 1 : 0);
        }
        rc = -ENOMEM;
    }
    if (o->password && !(s->password = strdup(o->password))) goto fail;
    if (o->user && !(s->user = strdup(o->user))) goto fail;
    if (!(s->retry = evtimer_new(base, on_retry, s))) goto fail;
    if (!(s->watch = event_new(base, -1, EV_PERSIST, on_watch, s))) goto fail;
    if (!(s->ready_to = evtimer_new(base, on_ready_deadline, s))) goto fail;
    if (s->keep[0] && (!(s->hist = calloc(STORE_HISTORY_QUEUE, sizeof(*s->hist))) ||
                       !(s->hist_take = calloc(STORE_HISTORY_QUEUE, sizeof(*s->hist_take))) ||
                       !(s->hist_flush = evtimer_new(base, on_hist_flush, s))))
        goto fail;
    struct timeval wt = { 0, WATCH_MS * 1000 };
    event_add(s->watch, &wt);
    connect_now(s);
    *out = s;
    return 0;
fail:
    store_close(s);
    return rc;
}

void store_close(store_t *s)
{
    if (!s) return;
    s->closing = true;
    if (s->sac) redisAsyncFree(s->sac);
    s->sac = NULL;
    if (s->ac) redisAsyncFree(s->ac); /* runs pending callbacks with NULL */
    s->ac = NULL;
    if (s->retry) event_free(s->retry);
    if (s->watch) event_free(s->watch);
    if (s->ready_to) event_free(s->ready_to);
    if (s->hist_flush) event_free(s->hist_flush);
    free(s->hist);
    free(s->hist_take);
    if (s->password) sodium_memzero(s->password, strlen(s->password));
    free(s->password);
    free(s->user);
    free(s);
}

bool store_is_ready(const store_t *s)
{
    return s && s->ready && s->ac;
}

static void on_pick(redisAsyncContext *ac, void *reply, void *arg)
{
    pick_t *p = arg;
    store_t *s = p->s;
    redisReply *r = reply;
    store_decision_t d;
    (void)ac;

    s->inflight--;
    s->replies++;
    if (!r) {
        p->cb(p->arg, -ECONNRESET, NULL);
    } else if (store_decode_pick(r, &d) == 0) {
        p->cb(p->arg, 0, &d);
    } else {
        if (r->type == REDIS_REPLY_ERROR) {
            char e[200];
            LOG_WARN("redis: fd_pick error", "err=\"%s\"", log_value(e, sizeof(e), r->str, r->len));
            /* the library went missing (FUNCTION FLUSH, a new empty Redis):
             * load it again; picks meanwhile get fallbacks */
            if (strstr(r->str, "Function not found") && s->ready && s->ac) {
                s->ready = false;
                s->lib_rechecked = false;
                arm_ready_deadline(s); /* a load that does not end drops the connection */
                check_library(s);
            }
            /* a demoted master (failover): connect again (asking the
             * Sentinels, when there are some) */
            if (!strncmp(r->str, "READONLY", 8) && s->ready && s->ac) {
                s->ready = false;
                redisAsyncDisconnect(s->ac);
            }
        }
        p->cb(p->arg, -EPROTO, NULL);
    }
    free(p);
}

int store_pick(store_t *s, const plan_t *plan, const char *callid, size_t callid_len,
               const store_hist_t *hist, store_pick_cb *cb, void *arg)
{
    store_argv_t a;

    if (!store_is_ready(s)) return -ENOTCONN;
    if (s->inflight >= s->max_inflight) return -EBUSY;
    int rc = store_build_pick(&a, "FCALL", "fd_pick", plan, callid, callid_len, s->offer, s->ttl,
                              s->keep, hist);
    if (rc < 0) return rc;

    pick_t *p = malloc(sizeof(*p));
    if (!p) return -ENOMEM;
    *p = (pick_t){ s, cb, arg };
    if (redisAsyncCommandArgv(s->ac, on_pick, p, (int)a.argc, a.argv, a.lens) != REDIS_OK) {
        free(p);
        return -ENOTCONN;
    }
    s->inflight++;
    return 0;
}

int store_decision(store_t *s, const char *site, const char *callid, size_t callid_len,
                   store_pick_cb *cb, void *arg)
{
    char key[48];
    if (!store_is_ready(s)) return -ENOTCONN;
    if (s->inflight >= s->max_inflight) return -EBUSY;
    int kl = snprintf(key, sizeof(key), "fd:{%s}", site);
    if (kl < 0 || (size_t)kl >= sizeof(key)) return -EINVAL;
    pick_t *p = malloc(sizeof(*p));
    if (!p) return -ENOMEM;
    *p = (pick_t){ s, cb, arg };
    const char *argv[] = { "FCALL_RO", "fd_decision", "1", key, callid };
    size_t lens[] = { 8, 11, 1, (size_t)kl, callid_len };
    if (redisAsyncCommandArgv(s->ac, on_pick, p, 5, argv, lens) != REDIS_OK) {
        free(p);
        return -ENOTCONN;
    }
    s->inflight++;
    return 0;
}

int store_release(store_t *s, const char *site, const char *callid, size_t callid_len)
{
    char key[48];
    if (!store_is_ready(s)) return -ENOTCONN;
    int kl = snprintf(key, sizeof(key), "fd:{%s}", site);
    if (kl < 0 || (size_t)kl >= sizeof(key)) return -EINVAL;
    const char *argv[] = { "FCALL", "fd_release", "1", key, callid };
    size_t lens[] = { 5, 10, 1, (size_t)kl, callid_len };
    return redisAsyncCommandArgv(s->ac, NULL, NULL, 5, argv, lens) == REDIS_OK ? 0 : -ENOTCONN;
}

/* churn.c -- presence updates during a run (see churn.h).
 *
 * A 10 ms timer sends what the schedule says is due since the phase began;
 * replies only count. Who was touched is one bit per staff member.
 */
#include "churn.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <async.h>
#include <adapters/libevent.h>

#define CHURN_TICK_US 10000
#define CHURN_PER_TICK_MAX 5000u

struct churn {
    struct event_base *base;
    const truth_t *truth;
    redisAsyncContext *ac;
    struct event *tick;
    double rate;
    uint64_t rng;
    bool running, draining;
    uint64_t t0_ns, due0; /* the phase's start and what was due before it */
    uint64_t issued;      /* sent or skipped, over all phases */
    uint64_t pending;
    uint8_t *touched;     /* one bit per staff member */
    churn_stats_t st;
};

static uint64_t churn_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t churn_rand(churn_t *c) /* xorshift64* */
{
    c->rng ^= c->rng >> 12;
    c->rng ^= c->rng << 25;
    c->rng ^= c->rng >> 27;
    return c->rng * 0x2545f4914f6cdd1dULL;
}

static void churn_on_reply(redisAsyncContext *ac, void *reply, void *arg)
{
    churn_t *c = arg;
    redisReply *r = reply;
    (void)ac;
    if (c->pending) c->pending--;
    if (!r || r->type == REDIS_REPLY_ERROR) {
        if (c->st.errors++ == 0)
            fprintf(stderr, "fd-bench: churn: %s\n", r ? r->str : "connection lost");
    }
}

static void churn_on_disconnect(const redisAsyncContext *ac, int status)
{
    churn_t *c = ac->data;
    (void)status;
    c->ac = NULL; /* hiredis frees it */
}

/* fd_presence for staff member <i>. false when the connection is gone. */
static bool churn_send(churn_t *c, size_t i, const char *state)
{
    const char *site, *id;
    char key[48];
    if (!c->ac) return false;
    truth_staff(c->truth, i, &site, &id, NULL);
    snprintf(key, sizeof(key), "fd:{%s}", site);
    if (redisAsyncCommand(c->ac, churn_on_reply, c, "FCALL fd_presence 1 %s %s %s", key, id,
                          state) != REDIS_OK)
        return false;
    c->pending++;
    return true;
}

/* A random change: mostly people coming back or going on a call. */
static const char *churn_state(churn_t *c)
{
    unsigned r = (unsigned)(churn_rand(c) % 10);
    return r < 5 ? "available" : r < 8 ? "busy" : r < 9 ? "break" : "offline";
}

static void churn_on_tick(evutil_socket_t fd, short what, void *arg)
{
    churn_t *c = arg;
    (void)fd, (void)what;
    if (!c->running || c->draining) return;
    uint64_t due = c->due0 + (uint64_t)((double)(churn_now_ns() - c->t0_ns) * c->rate / 1e9);
    size_t n = truth_staff_count(c->truth);
    for (unsigned k = 0; c->issued < due && k < CHURN_PER_TICK_MAX; k++) {
        c->issued++;
        if (c->pending >= CHURN_MAX_PENDING || !c->ac) {
            c->st.skipped++;
            continue;
        }
        size_t i = (size_t)(churn_rand(c) % n);
        if (!churn_send(c, i, churn_state(c))) {
            c->st.skipped++;
            continue;
        }
        c->touched[i / 8] |= (uint8_t)(1u << (i % 8));
        c->st.sent++;
    }
}

int churn_open(churn_t **out, struct event_base *base, const rconn_addr_t *a,
               const truth_t *t, double rate, uint64_t seed, char *err, size_t errlen)
{
    redisContext *sync = rconn_connect(a, err, errlen);
    if (!sync) return -1;
    int rc = rconn_functions(sync, err, errlen);
    redisFree(sync);
    if (rc < 0) return -1;

    churn_t *c = calloc(1, sizeof(*c));
    if (!c || truth_staff_count(t) == 0 ||
        !(c->touched = calloc(truth_staff_count(t) / 8 + 1, 1))) {
        snprintf(err, errlen, c ? "churn: the truth has no staff" : "out of memory");
        churn_close(c);
        return -1;
    }
    c->base = base;
    c->truth = t;
    c->rate = rate;
    c->rng = seed | 1;
    c->ac = redisAsyncConnect(a->host, (int)a->port);
    if (!c->ac || c->ac->err || redisLibeventAttach(c->ac, base) != REDIS_OK) {
        snprintf(err, errlen, "churn: cannot connect to Redis at %s:%u: %s", a->host, a->port,
                 c->ac ? c->ac->errstr : "out of memory");
        churn_close(c);
        return -1;
    }
    c->ac->data = c;
    redisAsyncSetDisconnectCallback(c->ac, churn_on_disconnect);
    const char *pw = rconn_password(a);
    if (pw) {
        if (a->user) redisAsyncCommand(c->ac, churn_on_reply, c, "AUTH %s %s", a->user, pw);
        else redisAsyncCommand(c->ac, churn_on_reply, c, "AUTH %s", pw);
        c->pending++;
    }
    struct timeval tv = {0, CHURN_TICK_US};
    if (!(c->tick = event_new(base, -1, EV_PERSIST, churn_on_tick, c)) || event_add(c->tick, &tv)) {
        snprintf(err, errlen, "libevent: cannot set up the churn timer");
        churn_close(c);
        return -1;
    }
    *out = c;
    return 0;
}

void churn_start(churn_t *c)
{
    c->t0_ns = churn_now_ns();
    c->due0 = c->issued;
    c->running = true;
}

void churn_pause(churn_t *c)
{
    c->running = false;
}

void churn_finish(churn_t *c, unsigned timeout_ms)
{
    const char *state;
    c->running = false;
    c->draining = true;
    for (size_t i = 0; i < truth_staff_count(c->truth); i++) {
        if (!(c->touched[i / 8] & (1u << (i % 8)))) continue;
        truth_staff(c->truth, i, NULL, NULL, &state);
        if (churn_send(c, i, state)) c->st.restored++;
    }
    uint64_t end = churn_now_ns() + (uint64_t)timeout_ms * 1000000ULL;
    /* the tick wakes the loop every 10 ms, so this never blocks long */
    while (c->pending && c->ac && churn_now_ns() < end) event_base_loop(c->base, EVLOOP_ONCE);
    if (c->pending) {
        fprintf(stderr, "fd-bench: churn: %llu presence updates unanswered at the end\n",
                (unsigned long long)c->pending);
        c->st.errors += c->pending;
        c->pending = 0;
    }
}

churn_stats_t churn_stats(const churn_t *c)
{
    return c->st;
}

void churn_close(churn_t *c)
{
    if (!c) return;
    if (c->tick) event_free(c->tick);
    if (c->ac) {
        redisAsyncContext *ac = c->ac;
        c->ac = NULL;
        ac->data = c;
        redisAsyncFree(ac); /* calls what is pending with no reply */
    }
    free(c->touched);
    free(c);
}

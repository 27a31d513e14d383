/* test_route.c -- the routing core (proxy/route.c, route_fwd.c) driven
 * through its environment with fakes: a sender that keeps what would go
 * out, a clock and timers the test moves, a store and a resolver that
 * answer when the test says so, a health table and a forward memo.
 *
 * What a caller relies on: every INVITE gets exactly one answer, whoever
 * answers first (Redis or the deadline); a pick that comes too late frees
 * whom it reserved; a retransmission gets the same staff; forward mode
 * waits for a destination's name without losing the call, fails over past
 * a destination that is down, and answers 503 when every one is; a reload
 * while calls wait changes nothing for them.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "opts.h"
#include "log.h"
#include "route.h"
#include "sip.h"

#define T_NOW ((time_t)1773164400) /* a Tuesday: every test site is open */
#define DEADLINE_MS 250
#define FALLBACK "sip:vm@10.0.0.1"
#define FWD_FALLBACK "sip:vm@10.0.0.1:5070"
#define NAMED_FALLBACK "sip:vm@voicemail.example"

static const unsigned char test_key[32] = "0123456789abcdef0123456789abcde";

/* a: redirect, picks; f: forward, picks, numeric fallback; n: forward,
 * picks, a fallback by name; r: closed (a final answer from the rules) */
static const char RULES[] =
    "version: 1\ngroups:\n  - name: G\n    sites:\n"
    "      - {id: a, timezone: UTC, dids: [\"100\"], default_skill: s, fallback: \"" FALLBACK "\"}\n"
    "      - {id: f, timezone: UTC, mode: forward, dids: [\"200\"], default_skill: s, "
    "fallback: \"" FWD_FALLBACK "\"}\n"
    "      - {id: n, timezone: UTC, mode: forward, dids: [\"300\"], default_skill: s, "
    "fallback: \"" NAMED_FALLBACK "\"}\n";

static const char RULES_RELOADED[] =
    "version: 1\ngroups:\n  - name: G\n    sites:\n"
    "      - {id: a, timezone: UTC, dids: [\"100\"], default_skill: s, "
    "fallback: \"sip:other@10.9.9.9\"}\n";

/* ---------------------------------------------------------------------- */
/* The fakes                                                              */

#define MAX_SENT 16
#define MAX_PENDING 16

typedef struct {
    unsigned sock;
    xport_kind_t kind;
    uint64_t conn;
    struct sockaddr_storage addr;
    char buf[ROUTE_TX_MAX + 1];
    size_t len;
} sent_t;

typedef struct {
    int armed;
    uint64_t due;
    void *call;
} fake_timer_t;

typedef struct {
    store_pick_cb *cb;
    void *arg;
    bool decision; /* fd_decision rather than fd_pick */
    char callid[256];
    bool done;
} pending_t;

typedef struct {
    dns_cb *cb;
    void *arg;
    char host[128];
    bool done;
} dns_wait_t;

static struct {
    route_env_t env;
    fwd_self_t self;
    sa_family_t families[1];
    metrics_t m;
    uint64_t now_ms;
    sent_t sent[MAX_SENT];
    unsigned n_sent;
    fake_timer_t *timers[MAX_PENDING];
    unsigned n_timers;
    pending_t store[MAX_PENDING];
    unsigned n_store;
    int store_rc;             /* what pick/decision return (0: pending) */
    char released[4][256];
    unsigned n_released;
    dns_wait_t dns[MAX_PENDING];
    unsigned n_dns;
    char dns_known[4][128];
    char dns_failed[4][128];
    unsigned n_dns_failed;
    struct in_addr dns_addr[4];
    unsigned n_dns_known;
    unsigned down_ports[4];
    unsigned n_down;
    fwdmemo_dest_t memo;
    char memo_key[FWD_BRANCH_MAX];
    bool memo_set;
    rules_t *rules;
} F;

static void fake_send(void *ctx, const xport_to_t *to, const char *buf, size_t len)
{
    (void)ctx;
    assert_true(F.n_sent < MAX_SENT);
    assert_true(len <= ROUTE_TX_MAX);
    sent_t *s = &F.sent[F.n_sent++];
    s->sock = to->sock;
    s->kind = to->kind;
    s->conn = to->conn;
    memcpy(&s->addr, &to->addr, to->addr_len);
    memcpy(s->buf, buf, len);
    s->buf[len] = '\0';
    s->len = len;
}

static void fake_timer_arm(void *ctx, void *timer, void *call)
{
    fake_timer_t *t = timer;
    (void)ctx;
    assert_true(F.n_timers < MAX_PENDING);
    *t = (fake_timer_t){ 1, F.now_ms + DEADLINE_MS, call };
    F.timers[F.n_timers++] = t;
}

static void timer_forget(fake_timer_t *t)
{
    for (unsigned i = 0; i < F.n_timers; i++)
        if (F.timers[i] == t) {
            F.timers[i] = F.timers[--F.n_timers];
            return;
        }
}

static void fake_timer_cancel(void *ctx, void *timer)
{
    fake_timer_t *t = timer;
    (void)ctx;
    t->armed = 0;
    timer_forget(t);
}

/* Move the clock on by <ms>: the timers due fire, in order of arming. */
static void advance(uint64_t ms)
{
    F.now_ms += ms;
    for (unsigned i = 0; i < F.n_timers;) {
        fake_timer_t *t = F.timers[i];
        if (t->armed && t->due <= F.now_ms) {
            t->armed = 0;
            timer_forget(t);
            route_deadline(t->call);
            i = 0;
        } else {
            i++;
        }
    }
}

static int fake_ask(bool decision, const char *callid, size_t len, store_pick_cb *cb, void *arg)
{
    if (F.store_rc) return F.store_rc;
    assert_true(F.n_store < MAX_PENDING);
    pending_t *p = &F.store[F.n_store++];
    *p = (pending_t){ .cb = cb, .arg = arg, .decision = decision };
    snprintf(p->callid, sizeof(p->callid), "%.*s", (int)len, callid);
    return 0;
}

static int fake_pick(void *ctx, const plan_t *plan, const char *callid, size_t len, const store_hist_t *hist,
                     store_pick_cb *cb,
                     void *arg)
{
    (void)ctx, (void)hist;
    assert_int_equal(plan->kind, PLAN_PICK);
    return fake_ask(false, callid, len, cb, arg);
}

static int fake_decision(void *ctx, const char *site, const char *callid, size_t len, store_pick_cb *cb,
                         void *arg)
{
    (void)ctx, (void)site;
    return fake_ask(true, callid, len, cb, arg);
}

static void fake_release(void *ctx, const char *site, const char *callid, size_t len)
{
    (void)ctx, (void)site;
    assert_true(F.n_released < 4);
    snprintf(F.released[F.n_released++], sizeof(F.released[0]), "%.*s", (int)len, callid);
}

static int fake_resolve(void *ctx, const char *host, unsigned port, struct in_addr *out, unsigned *out_port,
                        dns_cb *cb, void *arg)
{
    (void)ctx;
    for (unsigned i = 0; i < F.n_dns_known; i++)
        if (strcmp(F.dns_known[i], host) == 0) {
            *out = F.dns_addr[i];
            *out_port = port ? port : 5060;
            return 0;
        }
    for (unsigned i = 0; i < F.n_dns_failed; i++)
        if (strcmp(F.dns_failed[i], host) == 0) return -ENOENT;
    if (cb) {
        assert_true(F.n_dns < MAX_PENDING);
        dns_wait_t *d = &F.dns[F.n_dns++];
        *d = (dns_wait_t){ .cb = cb, .arg = arg };
        snprintf(d->host, sizeof(d->host), "%s", host);
    }
    return -EAGAIN;
}

static bool fake_is_down(void *ctx, const struct sockaddr *addr, socklen_t len)
{
    (void)ctx, (void)len;
    unsigned port = ntohs(((const struct sockaddr_in *)addr)->sin_port);
    for (unsigned i = 0; i < F.n_down; i++)
        if (F.down_ports[i] == port) return true;
    return false;
}

static bool fake_memo_get(void *ctx, const char *key, size_t len, uint64_t now_ms, fwdmemo_dest_t *d)
{
    (void)ctx, (void)now_ms;
    if (!F.memo_set || strlen(F.memo_key) != len || memcmp(F.memo_key, key, len) != 0) return false;
    *d = F.memo;
    return true;
}

static void fake_memo_put(void *ctx, const char *key, size_t len, const fwdmemo_dest_t *d, uint64_t now_ms)
{
    (void)ctx, (void)now_ms;
    snprintf(F.memo_key, sizeof(F.memo_key), "%.*s", (int)len, key);
    F.memo = *d;
    F.memo_set = true;
}

static const char *g_src = "192.0.2.10"; /* where request() comes from */
static xport_kind_t g_kind;  /* over what (UDP unless a test says) */
static uint64_t g_conn;      /* and on which connection (TCP, TLS) */
static time_t g_now = T_NOW;               /* the wall clock route sees */

static rules_t *load_rules(const char *yaml)
{
    rules_load_opts_t o = { .now = T_NOW, .caller_key = test_key, .caller_key_len = sizeof(test_key) };
    rules_t *r = NULL;
    rules_report_t rep;
    int rc = rules_load_string_opts(yaml, strlen(yaml), "inline.yaml", &o, &r, &rep);
    if (rc != 0) print_error("%s:%u:%u: %s\n", rep.file, rep.line, rep.col, rep.msg);
    assert_int_equal(rc, 0);
    return r;
}

static int setup(void **state)
{
    (void)state;
    g_src = "192.0.2.10";
    g_kind = XPORT_UDP;
    g_conn = 0;
    g_now = T_NOW;
    memset(&F, 0, sizeof(F));
    F.self = (fwd_self_t){ "127.0.0.1", 5060, NULL };
    F.families[0] = AF_INET;
    F.rules = load_rules(RULES);
    F.env = (route_env_t){
        .send = fake_send,
        .timer_size = sizeof(fake_timer_t),
        .timer_arm = fake_timer_arm,
        .timer_cancel = fake_timer_cancel,
        .pick = fake_pick,
        .decision = fake_decision,
        .release = fake_release,
        .resolve = fake_resolve,
        .is_down = fake_is_down,
        .memo_get = fake_memo_get,
        .memo_put = fake_memo_put,
        .selves = &F.self,
        .families = F.families,
        .n_socks = 1,
        .rules = F.rules,
        .option_header = rules_option_header(F.rules),
        .forwarding = rules_any_forward(F.rules),
        .m = &F.m,
    };
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    /* every call ended: nothing armed, nothing owed */
    for (unsigned i = 0; i < F.n_store; i++)
        if (!F.store[i].done) fail_msg("the store still owes reply %u", i);
    for (unsigned i = 0; i < F.n_dns; i++)
        if (!F.dns[i].done) fail_msg("the resolver still owes %s", F.dns[i].host);
    assert_int_equal(F.n_timers, 0);
    rules_unref(F.rules);
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Requests and replies                                                   */

/* The datagram <buf> from <ip>:<port> */
static void datagram_from(const char *ip, unsigned port, const char *buf, size_t len)
{
    xport_to_t from = { .kind = g_kind, .sock = 0, .conn = g_conn, .addr_len = sizeof(struct sockaddr_in) };
    struct sockaddr_in *a = (struct sockaddr_in *)&from.addr;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    assert_int_equal(inet_pton(AF_INET, ip, &a->sin_addr), 1);
    route_datagram(&F.env, &from, buf, len, g_now);
}

/* The call's id in Redis and the logs: the keyed hash of <callid>
 * (log_call_hash), never the Call-ID itself. */
static const char *cid(const char *callid)
{
    static char h[4][LOG_CALL_HASH_LEN + 1];
    static unsigned n;
    char *out = h[n++ % 4];
    log_call_hash(callid, strlen(callid), out);
    return out;
}

/* Serve one request: <method> to <number>, Call-ID <callid>, from the
 * caller's PBX at <g_src>:5062 (192.0.2.10 unless a test says). */
static void request(const char *method, const char *number, const char *callid)
{
    char buf[2048];
    int n = snprintf(buf, sizeof(buf),
                     "%s sip:%s@pbx.clinic.example SIP/2.0\r\n"
                     "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-%s;rport\r\n"
                     "Max-Forwards: 70\r\n"
                     "To: <sip:%s@pbx.clinic.example>\r\n"
                     "From: \"Alice\" <sip:15125551234@carrier.example>;tag=1928301774\r\n"
                     "Call-ID: %s\r\n"
                     "CSeq: 1 %s\r\n"
                     "Contact: <sip:15125551234@192.0.2.10:5062>\r\n"
                     "Content-Length: 0\r\n\r\n",
                     method, number, callid, number, callid, method);
    datagram_from(g_src, 5062, buf, (size_t)n);
}

static void invite(const char *number, const char *callid) { request("INVITE", number, callid); }

/* <method> to Request-URI <ruri> (To: <number>) with header lines <extra>
 * ("" for none) and <body>, its Content-Length <clen> ("auto": the body's) */
static void request_raw(const char *method, const char *ruri, const char *number, const char *callid,
                        const char *extra, const char *clen, const char *body)
{
    char buf[4096], cl[24];
    if (strcmp(clen, "auto") == 0) snprintf(cl, sizeof(cl), "%zu", strlen(body));
    else snprintf(cl, sizeof(cl), "%s", clen);
    int n = snprintf(buf, sizeof(buf),
                     "%s %s SIP/2.0\r\n"
                     "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-%s;rport\r\n"
                     "Max-Forwards: 70\r\n"
                     "To: <sip:%s@pbx.clinic.example>\r\n"
                     "From: \"Alice\" <sip:15125551234@carrier.example>;tag=1928301774\r\n"
                     "Call-ID: %s\r\nCSeq: 1 %s\r\n%s"
                     "Content-Length: %s\r\n\r\n%s",
                     method, ruri, callid, number, callid, method, extra, cl, body);
    datagram_from(g_src, 5062, buf, (size_t)n);
}

static store_decision_t staff(store_kind_t kind, unsigned n, ...)
{
    store_decision_t d;
    va_list ap;
    memset(&d, 0, sizeof(d));
    d.kind = kind;
    d.n = n;
    va_start(ap, n);
    for (unsigned i = 0; i < n; i++) {
        snprintf(d.id[i], sizeof(d.id[i]), "%s", va_arg(ap, const char *));
        snprintf(d.uri[i], sizeof(d.uri[i]), "%s", va_arg(ap, const char *));
    }
    va_end(ap);
    return d;
}

/* The store answers request <i> */
static void store_answers(unsigned i, int err, const store_decision_t *d)
{
    assert_true(i < F.n_store);
    assert_false(F.store[i].done);
    F.store[i].done = true;
    F.store[i].cb(F.store[i].arg, err, d);
}

/* The resolver answers every wait for <host> with <ip> */
static void dns_answers(const char *host, const char *ip)
{
    snprintf(F.dns_known[F.n_dns_known], sizeof(F.dns_known[0]), "%s", host);
    inet_pton(AF_INET, ip, &F.dns_addr[F.n_dns_known++]);
    for (unsigned i = 0; i < F.n_dns; i++)
        if (!F.dns[i].done && strcmp(F.dns[i].host, host) == 0) {
            F.dns[i].done = true;
            F.dns[i].cb(F.dns[i].arg);
        }
}

/* The resolver finds that <host> does not exist */
static void dns_fails(const char *host)
{
    snprintf(F.dns_failed[F.n_dns_failed++], sizeof(F.dns_failed[0]), "%s", host);
    for (unsigned i = 0; i < F.n_dns; i++)
        if (!F.dns[i].done && strcmp(F.dns[i].host, host) == 0) {
            F.dns[i].done = true;
            F.dns[i].cb(F.dns[i].arg);
        }
}

static unsigned status_of(const sent_t *s)
{
    unsigned st = 0;
    if (sscanf(s->buf, "SIP/2.0 %u ", &st) != 1) return 0;
    return st;
}

/* The Contacts of answer <s>, in order, "uri uri ..." */
static void contacts_of(const sent_t *s, char *out, size_t cap)
{
    const char *p = s->buf;
    out[0] = '\0';
    while ((p = strstr(p, "\r\nContact: <")) != NULL) {
        p += strlen("\r\nContact: <");
        const char *e = strchr(p, '>');
        assert_non_null(e);
        size_t l = strlen(out);
        snprintf(out + l, cap - l, "%s%.*s", l ? " " : "", (int)(e - p), p);
    }
}

static void assert_302(const sent_t *s, const char *contacts)
{
    char got[1024];
    assert_int_equal(status_of(s), 302);
    contacts_of(s, got, sizeof(got));
    assert_string_equal(got, contacts);
    /* back to where the request came from (rport) */
    const struct sockaddr_in *a = (const struct sockaddr_in *)&s->addr;
    assert_int_equal(ntohs(a->sin_port), 5062);
}

/* A forwarded request: its request line's URI and where it went */
static void assert_forwarded(const sent_t *s, const char *method, const char *ruri, unsigned port)
{
    char line[512];
    snprintf(line, sizeof(line), "%s %s SIP/2.0\r\n", method, ruri);
    assert_true(strncmp(s->buf, line, strlen(line)) == 0);
    assert_non_null(strstr(s->buf, "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-fd-"));
    assert_int_equal(ntohs(((const struct sockaddr_in *)&s->addr)->sin_port), port);
}

/* ---------------------------------------------------------------------- */
/* Redirect mode                                                          */

static void test_reply_before_deadline(void **state)
{
    (void)state;
    invite("100", "c1");
    assert_int_equal(F.n_sent, 0); /* waits for Redis */
    assert_int_equal(F.n_store, 1);
    assert_false(F.store[0].decision);
    assert_string_equal(F.store[0].callid, cid("c1"));
    assert_int_equal(F.n_timers, 1);

    store_decision_t d = staff(STORE_PICKED, 2, "ann", "sip:ann@10.0.0.7", "bob", "sip:bob@10.0.0.8");
    store_answers(0, 0, &d);
    assert_int_equal(F.n_sent, 1);
    assert_302(&F.sent[0], "sip:ann@10.0.0.7 sip:bob@10.0.0.8 " FALLBACK);
    assert_int_equal(F.n_timers, 0); /* the deadline is cancelled */
    advance(10 * DEADLINE_MS);
    assert_int_equal(F.n_sent, 1); /* and never answers again */
    assert_int_equal(F.m.answered_staff, 1);
    assert_int_equal(F.m.redis_timeouts, 0);
    assert_int_equal(F.n_released, 0);
}

static void test_deadline_then_late_pick(void **state)
{
    (void)state;
    invite("100", "late-1");
    advance(DEADLINE_MS - 1);
    assert_int_equal(F.n_sent, 0);
    advance(1);
    /* the caller is not kept waiting: the fallback at the deadline */
    assert_int_equal(F.n_sent, 1);
    assert_302(&F.sent[0], FALLBACK);
    assert_int_equal(F.m.redis_timeouts, 1);
    assert_int_equal(F.m.answered_fallback, 1);

    /* Redis's pick comes after all: nobody is answered again, and whom it
     * reserved is freed for the next caller */
    store_decision_t d = staff(STORE_PICKED, 1, "ann", "sip:ann@10.0.0.7");
    store_answers(0, 0, &d);
    assert_int_equal(F.n_sent, 1);
    assert_int_equal(F.n_released, 1);
    assert_string_equal(F.released[0], cid("late-1"));
}

static void test_late_reply_that_reserved_nobody(void **state)
{
    (void)state;
    invite("100", "late-2");
    invite("100", "late-3");
    advance(DEADLINE_MS);
    assert_int_equal(F.n_sent, 2);
    /* a late "nobody free", a late recorded decision, a late error: no
     * release (nothing of theirs to free) */
    store_decision_t none = staff(STORE_NONE, 0);
    store_answers(0, 0, &none);
    store_answers(1, -ECONNRESET, NULL);
    assert_int_equal(F.n_released, 0);
    assert_int_equal(F.n_sent, 2);
}

static void test_retransmission_while_waiting(void **state)
{
    (void)state;
    /* the caller's INVITE and its retransmission 500 ms later (Redis slow
     * but within each one's deadline): each asks the store, which tells the
     * second it is recorded, with the same staff */
    invite("100", "rx-1");
    advance(DEADLINE_MS / 2);
    invite("100", "rx-1");
    assert_int_equal(F.n_store, 2);
    assert_string_equal(F.store[1].callid, cid("rx-1"));
    store_decision_t d = staff(STORE_PICKED, 1, "ann", "sip:ann@10.0.0.7");
    store_decision_t rec = staff(STORE_RECORDED, 1, "ann", "sip:ann@10.0.0.7");
    store_answers(0, 0, &d);
    store_answers(1, 0, &rec);
    assert_int_equal(F.n_sent, 2);
    assert_302(&F.sent[0], "sip:ann@10.0.0.7 " FALLBACK);
    assert_302(&F.sent[1], "sip:ann@10.0.0.7 " FALLBACK);
    assert_int_equal(F.m.retransmissions, 1);
    assert_int_equal(F.m.invites, 2);
}

static void test_redis_down_busy_or_failing(void **state)
{
    (void)state;
    F.store_rc = -ENOTCONN;
    invite("100", "down-1");
    F.store_rc = -EBUSY;
    invite("100", "busy-1");
    F.store_rc = 0;
    invite("100", "err-1");
    store_answers(0, -EPROTO, NULL);
    /* the fallback at once, never silence */
    assert_int_equal(F.n_sent, 3);
    for (unsigned i = 0; i < 3; i++) assert_302(&F.sent[i], FALLBACK);
    assert_int_equal(F.m.redis_unavailable, 2);
    assert_int_equal(F.m.redis_errors, 1);
    assert_int_equal(F.n_timers, 0);
}

static void test_reload_while_calls_wait(void **state)
{
    (void)state;
    invite("100", "reload-1");
    invite("100", "reload-2");
    /* a reload: the next batch reads a new snapshot, the old one is freed
     * while both calls still wait */
    rules_t *next = load_rules(RULES_RELOADED);
    rules_unref(F.rules);
    F.rules = next;
    F.env.rules = next;
    F.env.forwarding = rules_any_forward(next);
    /* scribble over freed memory the way a new allocation would */
    for (int i = 0; i < 64; i++) free(calloc(1, 1024));

    store_decision_t d = staff(STORE_PICKED, 1, "ann", "sip:ann@10.0.0.7");
    store_answers(0, 0, &d);
    advance(DEADLINE_MS);
    /* both keep the plan they were routed by */
    assert_int_equal(F.n_sent, 2);
    assert_302(&F.sent[0], "sip:ann@10.0.0.7 " FALLBACK);
    assert_302(&F.sent[1], FALLBACK);
    store_decision_t none = staff(STORE_NONE, 0);
    store_answers(1, 0, &none);
    /* a new call follows the new rules */
    invite("100", "reload-3");
    store_answers(2, 0, &none);
    assert_302(&F.sent[2], "sip:other@10.9.9.9");
}

static void test_answered_without_redis(void **state)
{
    (void)state;
    invite("999", "unknown-1"); /* no site: 404 from the rules */
    request("OPTIONS", "100", "opt-1");
    request("CANCEL", "100", "cancel-1");
    assert_int_equal(F.n_store, 0);
    assert_int_equal(F.n_sent, 3);
    assert_int_equal(status_of(&F.sent[0]), 404);
    assert_int_equal(status_of(&F.sent[1]), 200);
    assert_non_null(strstr(F.sent[1].buf, "\r\nAllow: " ROUTE_ALLOW "\r\n"));
    assert_int_equal(status_of(&F.sent[2]), 200);
    assert_int_equal(F.n_timers, 0);
}

/* ---------------------------------------------------------------------- */
/* Forward mode                                                           */

static void test_forward_to_staff(void **state)
{
    (void)state;
    invite("200", "fwd-1");
    assert_int_equal(F.n_sent, 0);
    store_decision_t d = staff(STORE_PICKED, 1, "ann", "sip:ann@10.0.0.7:5080");
    store_answers(0, 0, &d);
    assert_int_equal(F.n_sent, 1);
    assert_forwarded(&F.sent[0], "INVITE", "sip:ann@10.0.0.7:5080", 5080);
    assert_int_equal(F.m.answered_staff, 1);
    assert_true(F.memo_set); /* where it went, for its CANCEL */
    assert_string_equal(F.memo.uri, "sip:ann@10.0.0.7:5080");

    /* its CANCEL goes the same way, without Redis */
    request("CANCEL", "200", "fwd-1");
    assert_int_equal(F.n_store, 1);
    assert_int_equal(F.n_sent, 2);
    assert_forwarded(&F.sent[1], "CANCEL", "sip:ann@10.0.0.7:5080", 5080);
    assert_int_equal(F.m.followups_memo, 1);
}

/* Over TCP or TLS (the transport seam): every answer goes back on the
 * connection the request came on, whatever its Via says, also the one
 * decided later by Redis; a stream whose message cannot be framed gets its
 * 400 there too. */
static void test_answers_on_the_connection(void **state)
{
    (void)state;
    g_kind = XPORT_TCP;
    g_conn = 0x700000003ull;
    request("OPTIONS", "100", "tcp-o");
    invite("100", "tcp-1");
    assert_int_equal(F.n_sent, 1);
    store_decision_t d = staff(STORE_PICKED, 1, "ann", "sip:ann@10.0.0.7");
    store_answers(0, 0, &d);
    assert_int_equal(F.n_sent, 2);
    assert_int_equal(status_of(&F.sent[0]), 200);
    assert_302(&F.sent[1], "sip:ann@10.0.0.7 " FALLBACK);
    for (unsigned i = 0; i < 2; i++) {
        assert_int_equal(F.sent[i].kind, XPORT_TCP);
        assert_int_equal(F.sent[i].conn, 0x700000003ull);
    }

    static const char nocl[] = "BYE sip:100@pbx.clinic.example SIP/2.0\r\n"
                               "Via: SIP/2.0/TCP 192.0.2.10:5062;branch=z9hG4bK-tcp-b\r\n"
                               "Max-Forwards: 70\r\nTo: <sip:100@pbx.clinic.example>;tag=t\r\n"
                               "From: <sip:1@carrier.example>;tag=f\r\nCall-ID: tcp-b\r\nCSeq: 2 BYE\r\n\r\n";
    xport_to_t from = { .kind = XPORT_TLS, .conn = 0x900000001ull, .addr_len = sizeof(struct sockaddr_in) };
    struct sockaddr_in *a = (struct sockaddr_in *)&from.addr;
    a->sin_family = AF_INET;
    a->sin_port = htons(40000);
    inet_pton(AF_INET, "192.0.2.10", &a->sin_addr);
    F.env.rules = F.rules;
    route_stream_error(&F.env, &from, nocl, sizeof(nocl) - 1, 400, "Missing Content-Length", T_NOW);
    assert_int_equal(F.n_sent, 3);
    assert_non_null(strstr(F.sent[2].buf, "SIP/2.0 400 Missing Content-Length\r\n"));
    assert_int_equal(F.sent[2].kind, XPORT_TLS);
    assert_int_equal(F.sent[2].conn, 0x900000001ull);
    assert_int_equal(F.m.bad_requests, 1);
}

/* Forward mode over TCP (RFC 3261 18.1.1): to a destination that says
 * ";transport=tcp", and a request larger than 1300 bytes to one that does
 * not; our Via says TCP; the connection is the transport's to find. */
static void test_forward_over_tcp(void **state)
{
    (void)state;
    invite("200", "fwd-out-1");
    store_decision_t d = staff(STORE_PICKED, 1, "ann", "sip:ann@10.0.0.7:5080;transport=tcp");
    store_answers(0, 0, &d);
    assert_int_equal(F.n_sent, 1);
    assert_int_equal(F.sent[0].kind, XPORT_TCP);
    assert_int_equal(F.sent[0].conn, 0);
    assert_non_null(strstr(F.sent[0].buf, "\r\nVia: SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bK-fd-"));
    assert_int_equal(F.m.forwarded_tcp, 1);

    char pad[1400];
    memset(pad, 'x', sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    request_raw("INVITE", "sip:200@pbx.clinic.example", "200", "fwd-out-2", "", "auto", pad);
    d = staff(STORE_PICKED, 1, "ann", "sip:ann@10.0.0.7:5080");
    store_answers(1, 0, &d);
    assert_int_equal(F.n_sent, 2);
    assert_int_equal(F.sent[1].kind, XPORT_TCP);
    assert_true(F.sent[1].len > 1300); /* RFC 3261 18.1.1 */
    assert_non_null(strstr(F.sent[1].buf, "\r\nVia: SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bK-fd-"));

    /* a small one to the same UDP destination stays on UDP */
    invite("200", "fwd-out-3");
    store_answers(2, 0, &d);
    assert_int_equal(F.sent[2].kind, XPORT_UDP);
    assert_int_equal(F.m.forwarded_tcp, 2);
}

/* Forward mode, a request that came over TCP: on over UDP, with the
 * connection in our Via, so its responses find their way back to it. */
static void test_forward_from_a_connection(void **state)
{
    (void)state;
    g_kind = XPORT_TCP;
    g_conn = 0x500000102ull;
    invite("200", "fwd-tcp");
    store_decision_t d = staff(STORE_PICKED, 1, "ann", "sip:ann@10.0.0.7:5080");
    store_answers(0, 0, &d);
    assert_int_equal(F.n_sent, 1);
    assert_forwarded(&F.sent[0], "INVITE", "sip:ann@10.0.0.7:5080", 5080);
    assert_int_equal(F.sent[0].kind, XPORT_UDP);
    assert_non_null(strstr(F.sent[0].buf, ";fdc=500000102;rport\r\n"));
}

static void test_forward_failover_past_a_down_destination(void **state)
{
    (void)state;
    F.down_ports[F.n_down++] = 5080;
    invite("200", "fwd-2");
    store_decision_t d = staff(STORE_PICKED, 2, "ann", "sip:ann@10.0.0.7:5080", "bob", "sip:bob@10.0.0.8:5081");
    store_answers(0, 0, &d);
    assert_int_equal(F.n_sent, 1);
    assert_forwarded(&F.sent[0], "INVITE", "sip:bob@10.0.0.8:5081", 5081);
    assert_int_equal(F.m.forward_failovers, 1);
    assert_int_equal(F.n_released, 0); /* bob rings: nothing to free */
}

static void test_forward_everything_down(void **state)
{
    (void)state;
    F.down_ports[F.n_down++] = 5080;
    F.down_ports[F.n_down++] = 5070; /* the fallback's */
    invite("200", "fwd-3");
    store_decision_t d = staff(STORE_PICKED, 1, "ann", "sip:ann@10.0.0.7:5080");
    store_answers(0, 0, &d);
    assert_int_equal(F.n_sent, 1);
    assert_int_equal(status_of(&F.sent[0]), 503);
    assert_non_null(strstr(F.sent[0].buf, "\r\nRetry-After: 30\r\n"));
    assert_int_equal(F.m.forward_unreachable, 1);
    /* ann never rang: freed, and the decision says nobody was offered */
    assert_int_equal(F.n_released, 1);
    assert_string_equal(F.released[0], cid("fwd-3"));
}

static void test_forward_waits_for_a_name(void **state)
{
    (void)state;
    invite("200", "dns-1");
    store_decision_t d = staff(STORE_PICKED, 1, "ann", "sip:ann@desk-ann.example");
    store_answers(0, 0, &d);
    assert_int_equal(F.n_sent, 0); /* the name is being resolved */
    assert_int_equal(F.n_dns, 1);
    assert_string_equal(F.dns[0].host, "desk-ann.example");
    assert_int_equal(F.env.dns_waiting, 1);
    dns_answers("desk-ann.example", "10.0.0.20");
    assert_int_equal(F.n_sent, 1);
    assert_forwarded(&F.sent[0], "INVITE", "sip:ann@desk-ann.example", 5060);
    assert_int_equal(F.env.dns_waiting, 0);
}

static void test_forward_name_then_failover(void **state)
{
    (void)state;
    /* the staff member's name resolves to a destination that is down: on
     * to the fallback */
    F.down_ports[F.n_down++] = 5099;
    invite("200", "dns-2");
    store_decision_t d = staff(STORE_PICKED, 1, "ann", "sip:ann@desk-ann.example:5099");
    store_answers(0, 0, &d);
    dns_answers("desk-ann.example", "10.0.0.20");
    assert_int_equal(F.n_sent, 1);
    assert_forwarded(&F.sent[0], "INVITE", FWD_FALLBACK, 5070);
    assert_int_equal(F.m.answered_fallback, 1);
    assert_int_equal(F.n_released, 1); /* ann was offered for nothing */
}

static void test_forward_deadline_while_fallback_name_resolves(void **state)
{
    (void)state;
    /* Redis is late, the fallback is a name: the call waits for the name
     * (LATE_DNS), Redis's late pick is released meanwhile, then the call
     * goes to the fallback */
    invite("300", "dns-3");
    advance(DEADLINE_MS);
    assert_int_equal(F.m.redis_timeouts, 1);
    assert_int_equal(F.n_sent, 0);
    assert_int_equal(F.n_dns, 1);
    store_decision_t d = staff(STORE_PICKED, 1, "ann", "sip:ann@10.0.0.7");
    store_answers(0, 0, &d);
    assert_int_equal(F.n_released, 1);
    assert_int_equal(F.n_sent, 0);
    dns_answers("voicemail.example", "10.0.0.30");
    assert_int_equal(F.n_sent, 1);
    assert_forwarded(&F.sent[0], "INVITE", NAMED_FALLBACK, 5060);
}

static void test_forward_name_that_does_not_resolve(void **state)
{
    (void)state;
    /* the fallback's name does not exist: nothing left to try, 503 */
    invite("300", "dns-4");
    store_decision_t none = staff(STORE_NONE, 0);
    store_answers(0, 0, &none);
    assert_int_equal(F.n_sent, 0);
    dns_fails("voicemail.example");
    assert_int_equal(F.n_sent, 1);
    assert_int_equal(status_of(&F.sent[0]), 503);
    assert_int_equal(F.env.dns_waiting, 0);
}

static void test_forward_no_room_to_wait_for_names(void **state)
{
    (void)state;
    /* a flood naming slow domains: past the bound, a call does not wait
     * for a name, the destination is skipped */
    F.env.dns_waiting = 1024;
    invite("300", "dns-5");
    store_decision_t none = staff(STORE_NONE, 0);
    store_answers(0, 0, &none);
    assert_int_equal(F.n_dns, 0);
    assert_int_equal(F.n_sent, 1);
    assert_int_equal(status_of(&F.sent[0]), 503);
    F.env.dns_waiting = 0;
}

/* ---------------------------------------------------------------------- */
/* The fuzz corpus and reproducers through the real core                  */

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = malloc(70000);
    assert_non_null(buf);
    *len = fread(buf, 1, 70000, f);
    fclose(f);
    return buf;
}

/* Every input of tests/fuzz (corpus/, crashes/) as a datagram from
 * 127.0.0.1:40000, to the demo rules in redirect and in forward mode;
 * whatever the core waits for is answered (staff, then "no such name"),
 * and the teardown checks nothing is left armed or owed. An INVITE gets
 * one datagram at most, an ACK in redirect mode none. */
static void test_fuzz_inputs(void **state)
{
    static const char *dirs[] = { "tests/fuzz/corpus", "tests/fuzz/crashes" };
    rules_load_opts_t o = { .now = T_NOW, .caller_key = test_key, .caller_key_len = sizeof(test_key) };
    rules_report_t rep;
    rules_t *demo = NULL, *demo_fwd = NULL;
    size_t ylen = 0, seen = 0;
    char *yaml = slurp("rules/examples/demo.yaml", &ylen);
    (void)state;

    assert_non_null(yaml);
    assert_int_equal(rules_load_string_opts(yaml, ylen, "demo.yaml", &o, &demo, &rep), 0);
    ylen += (size_t)snprintf(yaml + ylen, 70000 - ylen, "\nmode: forward\n");
    assert_int_equal(rules_load_string_opts(yaml, ylen, "demo.yaml", &o, &demo_fwd, &rep), 0);
    free(yaml);
    rules_t *modes[2] = { demo, demo_fwd };

    for (size_t d = 0; d < 2; d++) {
        DIR *dir = opendir(dirs[d]);
        assert_non_null(dir);
        struct dirent *e;
        while ((e = readdir(dir)) != NULL) {
            if (e->d_name[0] == '.') continue;
            char path[512];
            size_t len;
            snprintf(path, sizeof(path), "%s/%s", dirs[d], e->d_name);
            char *buf = slurp(path, &len);
            assert_non_null(buf);
            for (int m = 0; m < 2; m++) {
                F.env.rules = modes[m];
                F.env.option_header = rules_option_header(modes[m]);
                F.env.forwarding = rules_any_forward(modes[m]);
                F.n_sent = F.n_store = F.n_dns = 0;
                F.n_dns_failed = 0;
                xport_to_t from = { .kind = XPORT_UDP, .sock = 0, .addr_len = sizeof(struct sockaddr_in) };
                struct sockaddr_in *a = (struct sockaddr_in *)&from.addr;
                a->sin_family = AF_INET;
                a->sin_port = htons(40000);
                a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
                route_datagram(&F.env, &from, buf, len, T_NOW);
                store_decision_t st = staff(STORE_PICKED, 1, "ana", "sip:ana@10.0.0.7:5080");
                for (unsigned i = 0; i < F.n_store; i++) store_answers(i, 0, &st);
                for (unsigned i = 0; i < F.n_dns; i++)
                    if (!F.dns[i].done) dns_fails(F.dns[i].host);
                assert_int_equal(F.n_timers, 0);
                assert_int_equal(F.env.dns_waiting, 0);
                if (len > 7 && memcmp(buf, "INVITE ", 7) == 0 && F.n_sent > 1)
                    fail_msg("%s: an INVITE got %u datagrams", path, F.n_sent);
                if (!F.env.forwarding && len > 4 && memcmp(buf, "ACK ", 4) == 0 && F.n_sent)
                    fail_msg("%s: an ACK was answered", path);
            }
            free(buf);
            seen++;
        }
        closedir(dir);
    }
    assert_true(seen > 50);
    F.env.rules = F.rules;
    F.n_store = F.n_dns = 0;
    rules_unref(demo);
    rules_unref(demo_fwd);
}

/* ---------------------------------------------------------------------- */
/* Trusted sources                                                        */

/* The rules in force become <yaml> (a reload, as the next batch sees it) */
static void use_rules(const char *yaml)
{
    rules_t *next = load_rules(yaml);
    rules_unref(F.rules);
    F.rules = next;
    F.env.rules = next;
    F.env.option_header = rules_option_header(next);
    F.env.forwarding = rules_any_forward(next);
}

#define TRUSTING(list, strangers)                                            \
    "version: 1\n" list strangers "groups:\n  - name: G\n    sites:\n"        \
    "      - {id: a, timezone: UTC, dids: [\"100\"], default_skill: s, "       \
    "fallback: \"" FALLBACK "\"}\n"                                          \
    "      - {id: f, timezone: UTC, mode: forward, dids: [\"200\"], "          \
    "default_skill: s, fallback: \"" FWD_FALLBACK "\"}\n"                    \
    "      - {id: b, timezone: UTC, dids: [\"300\"], default_skill: s, "       \
    "fallback: \"sip:b@10.0.0.3\", trusted: [\"198.51.100.7\"]}\n"

static void test_strangers_dropped(void **state)
{
    (void)state;
    use_rules(TRUSTING("trusted: [\"192.0.2.10\"]\n", ""));
    g_src = "203.0.113.5"; /* a scanner */
    invite("100", "scan-1");
    request("OPTIONS", "100", "scan-2");
    request("CANCEL", "100", "scan-3");
    static const char bad[] = "INVITE sip:100@x SIP/2.0\r\nVia: SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bKb\r\n"
                              "Call-ID: scan-4\r\nCSeq: 1 INVITE\r\n\r\n"; /* no From, no To */
    datagram_from("203.0.113.5", 5060, bad, sizeof(bad) - 1);
    /* nothing answered, nothing asked of Redis: invisible */
    assert_int_equal(F.n_sent, 0);
    assert_int_equal(F.n_store, 0);
    assert_int_equal(F.m.untrusted_source, 4);
    assert_int_equal(F.m.invites, 0);
    assert_int_equal(F.m.bad_requests, 0);
    /* the trunk routes as before (and its broken request gets its 400) */
    g_src = "192.0.2.10";
    invite("100", "trunk-1");
    assert_int_equal(F.n_store, 1);
    store_decision_t none = staff(STORE_NONE, 0);
    store_answers(0, 0, &none);
    assert_302(&F.sent[0], FALLBACK);
    datagram_from("192.0.2.10", 5060, bad, sizeof(bad) - 1);
    assert_int_equal(F.n_sent, 2);
    assert_int_equal(status_of(&F.sent[1]), 400);
}

/* Redirect mode only, strangers dropped: not even parsed */
static void test_strangers_dropped_unread(void **state)
{
    (void)state;
    use_rules("version: 1\ntrusted: [\"192.0.2.10\"]\ngroups:\n  - name: G\n    sites:\n"
              "      - {id: a, timezone: UTC, dids: [\"100\"], default_skill: s, fallback: \"" FALLBACK "\"}\n");
    assert_false(F.env.forwarding);
    datagram_from("203.0.113.5", 5060, "\x01garbage", 8);
    g_src = "203.0.113.5";
    invite("100", "unread-1");
    assert_int_equal(F.n_sent, 0);
    assert_int_equal(F.n_store, 0);
    assert_int_equal(F.m.untrusted_source, 2);
    assert_int_equal(F.m.dropped, 0); /* refused before any reading */
}

static void test_strangers_rejected(void **state)
{
    (void)state;
    use_rules(TRUSTING("trusted: [\"192.0.2.10\"]\n", "strangers: reject\n"));
    g_src = "203.0.113.5";
    invite("100", "rej-1");
    request("ACK", "100", "rej-2"); /* an ACK is never answered */
    assert_int_equal(F.n_store, 0);
    assert_int_equal(F.n_sent, 1);
    assert_int_equal(status_of(&F.sent[0]), 403);
    assert_null(strstr(F.sent[0].buf, "Contact:")); /* reveals nobody */
    assert_int_equal(F.m.untrusted_source, 2);
}

static void test_site_that_does_not_trust_the_source(void **state)
{
    (void)state;
    /* 198.51.100.7 is site b's PBX: it may call b, not a */
    use_rules(TRUSTING("trusted: [\"192.0.2.10\"]\n", ""));
    g_src = "198.51.100.7";
    invite("100", "site-1");
    assert_int_equal(F.n_store, 0);
    assert_int_equal(F.n_sent, 0);
    assert_int_equal(F.m.untrusted_site, 1);
    invite("300", "site-2");
    assert_int_equal(F.n_store, 1);
    store_decision_t none = staff(STORE_NONE, 0);
    store_answers(0, 0, &none);
    assert_302(&F.sent[0], "sip:b@10.0.0.3");
    /* the file-wide trunk may call both */
    g_src = "192.0.2.10";
    invite("300", "site-3");
    store_answers(1, 0, &none);
    assert_int_equal(F.n_sent, 2);
}

/* Forward mode: the phone that rings is no trunk, yet its answers to what
 * we forwarded come back (our keyed branch proves them ours). */
static void test_forwarded_answers_from_untrusted_phones(void **state)
{
    (void)state;
    use_rules(TRUSTING("trusted: [\"192.0.2.10\"]\n", ""));
    invite("200", "phone-1");
    store_decision_t d = staff(STORE_PICKED, 1, "ann", "sip:ann@10.0.0.7:5080");
    store_answers(0, 0, &d);
    assert_int_equal(F.n_sent, 1);
    /* the 180 of ann's phone: our Via on top, the trunk's below */
    char resp[2048];
    const char *fwd = F.sent[0].buf;
    const char *v1 = strstr(fwd, "\r\nVia: ") + 2;
    const char *mf = strstr(fwd, "\r\nMax-Forwards: ");
    assert_non_null(v1);
    assert_non_null(mf);
    int n = snprintf(resp, sizeof(resp),
                     "SIP/2.0 180 Ringing\r\n%.*s\r\n"
                     "To: <sip:200@pbx.clinic.example>;tag=phone\r\n"
                     "From: \"Alice\" <sip:15125551234@carrier.example>;tag=1928301774\r\n"
                     "Call-ID: phone-1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
                     (int)(mf - v1), v1);
    datagram_from("10.0.0.7", 5080, resp, (size_t)n);
    assert_int_equal(F.n_sent, 2);
    assert_int_equal(status_of(&F.sent[1]), 180);
    assert_int_equal(ntohs(((const struct sockaddr_in *)&F.sent[1].addr)->sin_port), 5062);
    assert_int_equal(F.m.responses_relayed, 1);
    assert_int_equal(F.m.untrusted_source, 0);
}

/* ---------------------------------------------------------------------- */
/* What RFC 3261 asks of a request we answer                              */

static void test_require_and_proxy_require(void **state)
{
    (void)state;
    /* redirect mode answers the INVITE itself: Require is ours to honour */
    request_raw("INVITE", "sip:100@pbx.clinic.example", "100", "req-1", "Require: 100rel, timer\r\n", "auto", "");
    assert_int_equal(F.n_store, 0);
    assert_int_equal(F.n_sent, 1);
    assert_int_equal(status_of(&F.sent[0]), 420);
    assert_non_null(strstr(F.sent[0].buf, "\r\nUnsupported: 100rel, timer\r\n"));
    request_raw("OPTIONS", "sip:100@pbx.clinic.example", "100", "req-2", "Require: foo\r\n", "auto", "");
    assert_int_equal(status_of(&F.sent[1]), 420);
    assert_non_null(strstr(F.sent[1].buf, "\r\nUnsupported: foo\r\n"));
    /* an unknown number is a 404 first (8.2.2.1 before 8.2.2.3) */
    request_raw("INVITE", "sip:999@pbx.clinic.example", "999", "req-3", "Require: foo\r\n", "auto", "");
    assert_int_equal(status_of(&F.sent[2]), 404);
    /* forward mode proxies: Require is the callee's business (16.3),
     * Proxy-Require ours */
    request_raw("INVITE", "sip:200@pbx.clinic.example", "200", "req-4", "Require: 100rel\r\n", "auto", "");
    assert_int_equal(F.n_store, 1);
    store_decision_t d = staff(STORE_PICKED, 1, "ann", "sip:ann@10.0.0.7:5080");
    store_answers(0, 0, &d);
    assert_forwarded(&F.sent[3], "INVITE", "sip:ann@10.0.0.7:5080", 5080);
    request_raw("INVITE", "sip:200@pbx.clinic.example", "200", "req-5", "Proxy-Require: sec-agree\r\n", "auto", "");
    assert_int_equal(F.n_store, 1);
    assert_int_equal(status_of(&F.sent[4]), 420);
    assert_non_null(strstr(F.sent[4].buf, "\r\nUnsupported: sec-agree\r\n"));
}

/* Whitespace and folding where RFC 3261 (25.1) allows them are read: LWS
 * around the Via's slashes and before a colon, a value folded onto the
 * next line. */
static void test_whitespace_where_allowed(void **state)
{
    static const char lws[] =
        "INVITE sip:100@pbx.clinic.example SIP/2.0\r\n"
        "Via: SIP / 2.0 / UDP 192.0.2.10:5062;branch=z9hG4bK-lws;rport\r\n"
        "Max-Forwards  :  70\r\n"
        "To:\r\n <sip:100@pbx.clinic.example>\r\n"
        "From: \"Alice\"\r\n\t<sip:15125551234@carrier.example>;tag=1928301774\r\n"
        "Call-ID : lws-1\r\n"
        "Subject: lunch\r\n  is late\r\n"
        "CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
    store_decision_t none = staff(STORE_NONE, 0);
    (void)state;
    datagram_from("192.0.2.10", 5062, lws, sizeof(lws) - 1);
    assert_int_equal(F.n_store, 1);
    assert_string_equal(F.store[0].callid, cid("lws-1"));
    store_answers(0, 0, &none);
    assert_302(&F.sent[0], FALLBACK);
}

/* A valid request of many header fields (RFC 4475's long requests are
 * tens of them) is routed; past SIP_MAX_HDRS (128) it gets a 400 saying so. */
static void test_many_header_fields(void **state)
{
    char extra[4096];
    size_t o = 0;
    store_decision_t none = staff(STORE_NONE, 0);
    (void)state;
    for (int i = 0; i < 110; i++) o += (size_t)snprintf(extra + o, sizeof(extra) - o, "X-Pad-%d: %d\r\n", i, i);
    request_raw("INVITE", "sip:100@pbx.clinic.example", "100", "many-1", extra, "auto", "");
    assert_int_equal(F.n_store, 1);
    store_answers(0, 0, &none);
    assert_302(&F.sent[0], FALLBACK);
    for (int i = 110; i < 130; i++) o += (size_t)snprintf(extra + o, sizeof(extra) - o, "X-Pad-%d: %d\r\n", i, i);
    request_raw("INVITE", "sip:100@pbx.clinic.example", "100", "many-2", extra, "auto", "");
    assert_int_equal(F.n_store, 1);
    assert_non_null(strstr(F.sent[1].buf, "SIP/2.0 400 Too Many Header Fields\r\n"));
}

static void test_methods_we_do_not_serve(void **state)
{
    (void)state;
    request("REGISTER", "100", "m-1"); /* known, not ours: 405 + Allow */
    request("FOO", "100", "m-2");      /* an extension: 501 */
    assert_int_equal(F.n_store, 0);
    assert_int_equal(status_of(&F.sent[0]), 405);
    assert_non_null(strstr(F.sent[0].buf, "\r\nAllow: " ROUTE_ALLOW "\r\n"));
    assert_int_equal(status_of(&F.sent[1]), 501);
}

static void test_content_length_and_scheme(void **state)
{
    static const char sdp[] = "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\n";
    (void)state;
    request_raw("INVITE", "sip:100@pbx.clinic.example", "100", "cl-1", "", "abc", sdp);
    request_raw("INVITE", "sip:100@pbx.clinic.example", "100", "cl-2", "", "-5", sdp);
    request_raw("INVITE", "sip:100@pbx.clinic.example", "100", "cl-3", "", "999", sdp);
    request_raw("INVITE", "sip:100@pbx.clinic.example", "100", "cl-4", "Content-Length: 3\r\n", "auto", sdp);
    assert_int_equal(F.n_store, 0);
    assert_int_equal(F.n_sent, 4);
    for (unsigned i = 0; i < 4; i++) assert_int_equal(status_of(&F.sent[i]), 400);
    assert_non_null(strstr(F.sent[0].buf, "SIP/2.0 400 Bad Content-Length\r\n"));
    assert_non_null(strstr(F.sent[2].buf, "SIP/2.0 400 Content-Length larger than the body\r\n"));
    assert_non_null(strstr(F.sent[3].buf, "SIP/2.0 400 Content-Length given twice\r\n"));
    /* shorter than the datagram: the rest is ignored (18.3), routed */
    request_raw("INVITE", "sip:100@pbx.clinic.example", "100", "cl-5", "", "4", sdp);
    assert_int_equal(F.n_store, 1);
    store_decision_t none = staff(STORE_NONE, 0);
    store_answers(0, 0, &none);
    assert_302(&F.sent[4], FALLBACK);
    /* a Request-URI we cannot route: 416; tel: is fine */
    request_raw("INVITE", "mailto:frontdesk@clinic.example", "100", "sch-1", "", "0", "");
    assert_int_equal(status_of(&F.sent[5]), 416);
    request_raw("INVITE", "http://clinic.example/x", "100", "sch-2", "", "0", "");
    assert_int_equal(status_of(&F.sent[6]), 416);
    request_raw("INVITE", "tel:+1-100", "100", "sch-3", "", "0", "");
    assert_int_equal(F.n_store, 2); /* routed by its To */
    store_answers(1, 0, &none);
    assert_302(&F.sent[7], FALLBACK);
}

/* ---------------------------------------------------------------------- */
/* The per-site pick cap                                                  */

static void test_site_pick_cap(void **state)
{
    static _Atomic uint64_t windows[ROUTE_SITE_SLOTS];
    store_decision_t none = staff(STORE_NONE, 0);
    (void)state;
    memset(windows, 0, sizeof(windows));
    F.env.site_windows = windows;
    F.env.site_picks = 2;
    invite("100", "cap-1");
    invite("100", "cap-2");
    invite("100", "cap-3"); /* the third this second: no pick */
    assert_int_equal(F.n_store, 2);
    assert_int_equal(F.n_sent, 1);
    assert_302(&F.sent[0], FALLBACK); /* the fallback, nobody reserved */
    assert_int_equal(F.m.site_capped, 1);
    invite("200", "cap-4");           /* another site has its own */
    assert_int_equal(F.n_store, 3);
    g_now++;                          /* the next second */
    invite("100", "cap-5");
    assert_int_equal(F.n_store, 4);
    for (unsigned i = 0; i < 4; i++) store_answers(i, 0, &none);
    /* 503 or nothing, as configured */
    F.env.over_limit = OPTS_OVER_503;
    invite("100", "cap-6");
    invite("100", "cap-7");
    assert_int_equal(F.n_store, 5);
    unsigned sent = F.n_sent;
    assert_int_equal(status_of(&F.sent[sent - 1]), 503);
    assert_non_null(strstr(F.sent[sent - 1].buf, "\r\nRetry-After: 5\r\n"));
    store_answers(4, 0, &none);
    sent = F.n_sent;
    F.env.over_limit = OPTS_OVER_DROP;
    invite("100", "cap-8");
    assert_int_equal(F.n_sent, sent);
    assert_int_equal(F.m.site_capped, 3);
    /* 0: no cap */
    F.env.site_picks = 0;
    invite("100", "cap-9");
    assert_int_equal(F.n_store, 6);
    store_answers(5, 0, &none);
}

/* ---------------------------------------------------------------------- */
/* The per-source rate                                                    */

static void test_source_rate(void **state)
{
    static _Atomic uint64_t buckets[ROUTE_SOURCE_SLOTS];
    store_decision_t none = staff(STORE_NONE, 0);
    (void)state;
    memset(buckets, 0, sizeof(buckets));
    F.env.source_buckets = buckets;
    F.env.source_rate = 3; /* a bucket of 3, refilled 3 a second */
    for (int i = 0; i < 5; i++) {
        char cid[16];
        snprintf(cid, sizeof(cid), "sr-%d", i);
        invite("100", cid); /* within a few ms: the last two are over */
    }
    assert_int_equal(F.n_store, 3);
    assert_int_equal(F.m.source_limited, 2);
    assert_int_equal(F.n_sent, 0); /* dropped: no answer */
    /* another source has its own bucket */
    g_src = "192.0.2.11";
    invite("100", "sr-other");
    assert_int_equal(F.n_store, 4);
    /* 503 when asked */
    g_src = "192.0.2.10";
    F.env.source_503 = true;
    invite("100", "sr-503");
    assert_int_equal(F.n_store, 4);
    assert_int_equal(F.n_sent, 1);
    assert_int_equal(status_of(&F.sent[0]), 503);
    assert_non_null(strstr(F.sent[0].buf, "\r\nRetry-After: 5\r\n"));
    for (unsigned i = 0; i < 4; i++) store_answers(i, 0, &none);
}

int main(void)
{
    if (sodium_init() < 0) return 1;
    sip_global_init(); /* libosip2's parser tables: the whole-message parse */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reply_before_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadline_then_late_pick, setup, teardown),
        cmocka_unit_test_setup_teardown(test_late_reply_that_reserved_nobody, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retransmission_while_waiting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_down_busy_or_failing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_while_calls_wait, setup, teardown),
        cmocka_unit_test_setup_teardown(test_answered_without_redis, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forward_to_staff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forward_from_a_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forward_over_tcp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_answers_on_the_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forward_failover_past_a_down_destination, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forward_everything_down, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forward_waits_for_a_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forward_name_then_failover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forward_deadline_while_fallback_name_resolves, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forward_name_that_does_not_resolve, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forward_no_room_to_wait_for_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fuzz_inputs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_require_and_proxy_require, setup, teardown),
        cmocka_unit_test_setup_teardown(test_content_length_and_scheme, setup, teardown),
        cmocka_unit_test_setup_teardown(test_methods_we_do_not_serve, setup, teardown),
        cmocka_unit_test_setup_teardown(test_whitespace_where_allowed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_header_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_site_pick_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_source_rate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strangers_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strangers_dropped_unread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strangers_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_site_that_does_not_trust_the_source, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forwarded_answers_from_untrusted_phones, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* gen.c -- `fd-bench run`: fire INVITEs at a local proxy over UDP, check
 * and time every final answer, ACK it, report.
 *
 * One thread, one libevent loop, N source sockets. Open loop sends on a
 * 1 ms tick whatever the schedule says is due (--rate R); closed loop keeps
 * --inflight calls outstanding (--rate max). Calls are matched by Call-ID
 * through a hash table; the only syscalls per call are the batched
 * sendmmsg/recvmmsg. Every loop is bounded by --count and --duration.
 * Loopback targets only: this is a bench, not a load tool for the network.
 *
 * With --truth (from `fd-bench seed`) the calls rotate over the seeded
 * sites and menu options and every 302 is judged against the seed
 * (truth.h); --churn changes presence meanwhile (churn.h); --proxy-pid and
 * --redis-pid add those processes' CPU (procstat.h).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "check.h"
#include "churn.h"
#include "hist.h"
#include "procstat.h"
#include "rconn.h"
#include "report.h"
#include "seed.h"
#include "sipmsg.h"
#include "truth.h"

#define GEN_MAX_COUNT 10000000ULL  /* hard cap of --count */
#define GEN_MAX_RATE 1000000.0     /* calls/s */
#define GEN_MAX_INFLIGHT 65536u
#define GEN_MAX_SOURCES 64u
#define GEN_MAX_TO 64u
#define GEN_MAX_TIMEOUT_MS 60000u
#define GEN_MAX_DURATION_S 3600.0
#define GEN_MAX_POOL (1u << 20)    /* call slots: outstanding calls at most */
#define GEN_BATCH 64u              /* datagrams per sendmmsg/recvmmsg */
#define GEN_RECV_ROUNDS 16u        /* recvmmsg calls per readiness event */
#define GEN_RBUF 4096u             /* bigger answers are truncated: malformed */
#define GEN_SOCKBUF (4 << 20)      /* SO_RCVBUF/SO_SNDBUF wanted */
#define GEN_SHOW_WRONG 3u          /* wrong answers echoed on stderr */
#define GEN_CTL 64u                /* control bytes: SCM_TIMESTAMPNS + SO_RXQ_OVFL */

#define FINDMAX_START_RATE 2000.0
#define FINDMAX_FACTOR 1.5
#define FINDMAX_P99_US 50000u      /* a step with a worse p99 is not good */
#define FINDMAX_MIN_SEND 0.95      /* share of the rate the generator must reach */
#define FINDMAX_MAX_STEPS 64u

#define NS 1000000000ULL

/* ===========================================================================
 * Options
 * ======================================================================== */

typedef struct {
    char target_text[80];
    struct sockaddr_storage target;
    socklen_t target_len;
    char ruri_host[64];        /* target as written in Request-URI and To */
    uint64_t count;
    double duration_s;
    double rate;               /* calls/s; 0 = max (closed loop) */
    bool rate_set;
    unsigned inflight;
    bool inflight_set;
    unsigned sources;
    bool sources_set, single_source;
    const char *to[GEN_MAX_TO];
    unsigned n_to;
    const char *expect_contacts;
    unsigned timeout_ms;
    bool find_max;
    double step_s;
    bool json, help;
    const char *truth;         /* --truth FILE */
    bool free_fallback_ok;     /* --free-fallback-ok: missed calls are not lost */
    double churn;              /* presence updates/s, 0 = none */
    rconn_addr_t redis;        /* --redis, for --churn */
    bool redis_set;
    long proxy_pid, redis_pid; /* 0: not measured */
    const char *hist_out;      /* --hist-out FILE */
    struct in_addr from;       /* --from: the IPv4 loopback address calls
                                  leave from (default 127.0.0.1) */
    bool from_set;
} gen_opts_t;

static const char gen_usage[] =
    "usage: fd-bench run [flags]\n"
    "Send SIP INVITEs to a Frontdesk proxy on loopback, check and time every answer.\n"
    "\n"
    "  --target HOST:PORT     proxy address, loopback only (127.0.0.0/8, [::1]);\n"
    "                         default 127.0.0.1:5060\n"
    "  --count N              calls at most (default 20000, at most 10000000);\n"
    "                         with --find-max: calls at most per step\n"
    "  --duration S           seconds at most, hard stop (default 30)\n"
    "  --rate R               open loop: R calls/s on schedule, answered or not\n"
    "  --rate max             closed loop: keep --inflight calls outstanding (default)\n"
    "  --inflight W           closed-loop window (default 64)\n"
    "  --sources N            local UDP source sockets (default 8)\n"
    "  --single-source        one source socket: one PBX trunk\n"
    "  --from 127.X.Y.Z       the loopback address calls leave from (IPv4 targets;\n"
    "                         default 127.0.0.1): another trunk, or a stranger\n"
    "  --to USER              Request-URI user, e.g. 15125550100*2; repeat to\n"
    "                         rotate over several (default 15125550100*1)\n"
    "  --expect-contacts FILE allowed first Contact URIs, one per line; a 302 whose\n"
    "                         first Contact is not listed is a wrong answer\n"
    "  --timeout-ms MS        a call without a final answer by then is lost\n"
    "                         (default 1000)\n"
    "  --find-max             step the open-loop rate up from --rate (default 2000)\n"
    "                         by x1.5 until loss > 0.1% or p99 > 50 ms; report the\n"
    "                         highest good rate\n"
    "  --step S               seconds per --find-max step (default 2)\n"
    "  --truth FILE           from fd-bench seed --truth-out: rotate calls over the\n"
    "                         seeded numbers and menu options (instead of --to) and\n"
    "                         check every 302's Contacts against the seed\n"
    "  --free-fallback-ok     with --truth: a 302 to the fallback alone while the seed\n"
    "                         had staff free is not counted as lost (a tiny network\n"
    "                         called fast has everyone free on an offer)\n"
    "  --churn N              N presence updates per second during the run (needs\n"
    "                         --truth and --redis): random seeded staff, like\n"
    "                         reception dashboards; restored to the seed at the end\n"
    "  --redis HOST:PORT      Redis for --churn, loopback only\n"
    "  --user USER, --password PW   AUTH for --redis (or REDISCLI_AUTH)\n"
    "  --proxy-pid PID        report that process's CPU over the run (% of a core)\n"
    "  --redis-pid PID        the same for Redis\n"
    "  --hist-out FILE        write the latency histogram (bench/plot.sh draws it)\n"
    "  --json                 print one JSON object instead of the table\n"
    "  --help                 this text\n"
    "\n"
    "Exit status: 0 no wrong answer and loss <= 0.1% (find-max: a good rate was\n"
    "found and no answer was wrong), 1 otherwise, 2 bad flags or setup error.\n";

/* Strict unsigned parse of all of <s> into [min, max]. */
static bool gen_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    if (!s || !*s || *s == '-' || *s == '+') return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < min || v > max) return false;
    *out = v;
    return true;
}

static bool gen_parse_double(const char *s, double min, double max, double *out)
{
    char *end;
    if (!s || !*s) return false;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !(v >= min && v <= max)) return false;
    *out = v;
    return true;
}

/* Characters of a SIP URI user we accept from --to (RFC 3261 25.1: unreserved,
 * user-unreserved and escapes), so nothing we send is malformed by us. */
static bool gen_valid_user(const char *u)
{
    size_t n = strlen(u);
    if (n == 0 || n > 64) return false;
    for (; *u; u++)
        if (!((*u >= '0' && *u <= '9') || (*u >= 'a' && *u <= 'z') || (*u >= 'A' && *u <= 'Z') ||
              strchr("-_.!~*'()&=+$,;?/%", *u)))
            return false;
    return true;
}

/* Parse "HOST:PORT", "[V6]:PORT", "HOST" or "localhost[:PORT]" (numeric
 * addresses only: no DNS) and refuse anything but loopback. 0, or -EINVAL
 * with the reason in <err>. */
static int gen_parse_target(gen_opts_t *o, const char *s, char *err, size_t errlen)
{
    char host[64];
    const char *port_s = NULL;
    uint64_t port = 5060;

    if (strlen(s) >= sizeof(o->target_text)) goto bad;
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || (size_t)(rb - s - 1) >= sizeof(host)) goto bad;
        memcpy(host, s + 1, (size_t)(rb - s - 1));
        host[rb - s - 1] = '\0';
        if (rb[1] == ':') port_s = rb + 2;
        else if (rb[1] != '\0') goto bad;
    } else {
        const char *colon = strrchr(s, ':');
        if (colon && strchr(s, ':') != colon) colon = NULL; /* bare IPv6 */
        size_t hl = colon ? (size_t)(colon - s) : strlen(s);
        if (hl == 0 || hl >= sizeof(host)) goto bad;
        memcpy(host, s, hl);
        host[hl] = '\0';
        if (colon) port_s = colon + 1;
    }
    if (port_s && !gen_parse_u64(port_s, 1, 65535, &port)) goto bad;
    if (strcmp(host, "localhost") == 0) strcpy(host, "127.0.0.1");

    memset(&o->target, 0, sizeof(o->target));
    struct sockaddr_in *v4 = (struct sockaddr_in *)&o->target;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&o->target;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        if ((ntohl(v4->sin_addr.s_addr) >> 24) != 127) goto not_loopback;
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        o->target_len = sizeof(*v4);
        snprintf(o->target_text, sizeof(o->target_text), "%s:%u", host, (unsigned)port);
        snprintf(o->ruri_host, sizeof(o->ruri_host), port == 5060 ? "%s" : "%s:%u", host,
                 (unsigned)port);
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        if (!IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr)) goto not_loopback;
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        o->target_len = sizeof(*v6);
        snprintf(o->target_text, sizeof(o->target_text), "[::1]:%u", (unsigned)port);
        snprintf(o->ruri_host, sizeof(o->ruri_host), port == 5060 ? "[::1]" : "[::1]:%u",
                 (unsigned)port);
    } else {
        goto bad;
    }
    return 0;
bad:
    snprintf(err, errlen, "--target '%s': want HOST:PORT with a numeric address, e.g. 127.0.0.1:5060",
             s);
    return -EINVAL;
not_loopback:
    snprintf(err, errlen,
             "--target '%s' is not a loopback address: fd-bench only loads a proxy on this "
             "host (127.0.0.0/8 or [::1])", s);
    return -EINVAL;
}

/* Fill <o> from argv (argv[0] is "run"). 0, or -EINVAL with a one-line
 * reason in <err>. Pure but for getopt's global cursor. */
static int gen_parse_args(gen_opts_t *o, int argc, char **argv, char *err, size_t errlen)
{
    enum { O_TARGET = 256, O_COUNT, O_DURATION, O_RATE, O_INFLIGHT, O_SOURCES, O_SINGLE, O_TO,
           O_EXPECT, O_TIMEOUT, O_FINDMAX, O_STEP, O_JSON, O_HELP, O_TRUTH, O_CHURN, O_REDIS,
           O_USER, O_PW, O_PROXY_PID, O_REDIS_PID, O_HIST, O_FREE_OK, O_FROM };
    static const struct option longopts[] = {
        {"target", required_argument, NULL, O_TARGET},
        {"count", required_argument, NULL, O_COUNT},
        {"duration", required_argument, NULL, O_DURATION},
        {"rate", required_argument, NULL, O_RATE},
        {"inflight", required_argument, NULL, O_INFLIGHT},
        {"sources", required_argument, NULL, O_SOURCES},
        {"single-source", no_argument, NULL, O_SINGLE},
        {"to", required_argument, NULL, O_TO},
        {"expect-contacts", required_argument, NULL, O_EXPECT},
        {"timeout-ms", required_argument, NULL, O_TIMEOUT},
        {"find-max", no_argument, NULL, O_FINDMAX},
        {"step", required_argument, NULL, O_STEP},
        {"json", no_argument, NULL, O_JSON},
        {"help", no_argument, NULL, O_HELP},
        {"truth", required_argument, NULL, O_TRUTH},
        {"churn", required_argument, NULL, O_CHURN},
        {"redis", required_argument, NULL, O_REDIS},
        {"user", required_argument, NULL, O_USER},
        {"password", required_argument, NULL, O_PW},
        {"proxy-pid", required_argument, NULL, O_PROXY_PID},
        {"redis-pid", required_argument, NULL, O_REDIS_PID},
        {"hist-out", required_argument, NULL, O_HIST},
        {"free-fallback-ok", no_argument, NULL, O_FREE_OK},
        {"from", required_argument, NULL, O_FROM},
        {NULL, 0, NULL, 0},
    };
    uint64_t u;
    int c, rc;

    memset(o, 0, sizeof(*o));
    o->count = 20000;
    o->duration_s = 30;
    o->inflight = 64;
    o->sources = 8;
    o->timeout_ms = 1000;
    o->step_s = 2;
    if ((rc = gen_parse_target(o, "127.0.0.1:5060", err, errlen)) < 0) return rc;

    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case O_TARGET:
            if ((rc = gen_parse_target(o, optarg, err, errlen)) < 0) return rc;
            break;
        case O_COUNT:
            if (!gen_parse_u64(optarg, 1, GEN_MAX_COUNT, &o->count)) {
                snprintf(err, errlen, "--count '%s': want 1..%llu", optarg, GEN_MAX_COUNT);
                return -EINVAL;
            }
            break;
        case O_DURATION:
            if (!gen_parse_double(optarg, 0.01, GEN_MAX_DURATION_S, &o->duration_s)) {
                snprintf(err, errlen, "--duration '%s': want seconds, 0.01..%.0f", optarg,
                         GEN_MAX_DURATION_S);
                return -EINVAL;
            }
            break;
        case O_RATE:
            o->rate_set = true;
            if (strcmp(optarg, "max") == 0) o->rate = 0;
            else if (!gen_parse_double(optarg, 1, GEN_MAX_RATE, &o->rate)) {
                snprintf(err, errlen, "--rate '%s': want calls/s (1..%.0f) or 'max'", optarg,
                         GEN_MAX_RATE);
                return -EINVAL;
            }
            break;
        case O_INFLIGHT:
            if (!gen_parse_u64(optarg, 1, GEN_MAX_INFLIGHT, &u)) {
                snprintf(err, errlen, "--inflight '%s': want 1..%u", optarg, GEN_MAX_INFLIGHT);
                return -EINVAL;
            }
            o->inflight = (unsigned)u;
            o->inflight_set = true;
            break;
        case O_SOURCES:
            if (!gen_parse_u64(optarg, 1, GEN_MAX_SOURCES, &u)) {
                snprintf(err, errlen, "--sources '%s': want 1..%u", optarg, GEN_MAX_SOURCES);
                return -EINVAL;
            }
            o->sources = (unsigned)u;
            o->sources_set = true;
            break;
        case O_SINGLE:
            o->single_source = true;
            break;
        case O_TO:
            if (o->n_to == GEN_MAX_TO) {
                snprintf(err, errlen, "--to: at most %u", GEN_MAX_TO);
                return -EINVAL;
            }
            if (!gen_valid_user(optarg)) {
                snprintf(err, errlen, "--to '%s': want a SIP URI user such as 15125550100*2",
                         optarg);
                return -EINVAL;
            }
            o->to[o->n_to++] = optarg;
            break;
        case O_EXPECT:
            o->expect_contacts = optarg;
            break;
        case O_TIMEOUT:
            if (!gen_parse_u64(optarg, 1, GEN_MAX_TIMEOUT_MS, &u)) {
                snprintf(err, errlen, "--timeout-ms '%s': want 1..%u", optarg, GEN_MAX_TIMEOUT_MS);
                return -EINVAL;
            }
            o->timeout_ms = (unsigned)u;
            break;
        case O_FINDMAX:
            o->find_max = true;
            break;
        case O_STEP:
            if (!gen_parse_double(optarg, 0.1, 60, &o->step_s)) {
                snprintf(err, errlen, "--step '%s': want seconds, 0.1..60", optarg);
                return -EINVAL;
            }
            break;
        case O_JSON:
            o->json = true;
            break;
        case O_TRUTH:
            o->truth = optarg;
            break;
        case O_FREE_OK:
            o->free_fallback_ok = true;
            break;
        case O_CHURN:
            if (!gen_parse_double(optarg, 0, CHURN_MAX_RATE, &o->churn)) {
                snprintf(err, errlen, "--churn '%s': want updates/s, 0..%.0f", optarg, CHURN_MAX_RATE);
                return -EINVAL;
            }
            break;
        case O_REDIS:
            if (rconn_parse(&o->redis, optarg, err, errlen) < 0) return -EINVAL;
            o->redis_set = true;
            break;
        case O_USER:
            o->redis.user = optarg;
            break;
        case O_PW:
            o->redis.password = optarg;
            break;
        case O_PROXY_PID:
        case O_REDIS_PID:
            if (!gen_parse_u64(optarg, 1, 4194304, &u)) {
                snprintf(err, errlen, "%s '%s': want a process id", argv[optind - 1], optarg);
                return -EINVAL;
            }
            *(c == O_PROXY_PID ? &o->proxy_pid : &o->redis_pid) = (long)u;
            break;
        case O_HIST:
            o->hist_out = optarg;
            break;
        case O_FROM:
            if (inet_pton(AF_INET, optarg, &o->from) != 1 || (ntohl(o->from.s_addr) >> 24) != 127) {
                snprintf(err, errlen, "--from '%s': want an IPv4 loopback address, e.g. 127.0.0.2", optarg);
                return -EINVAL;
            }
            o->from_set = true;
            break;
        case 'h':
        case O_HELP:
            o->help = true;
            return 0;
        case ':':
            snprintf(err, errlen, "%s needs a value", argv[optind - 1]);
            return -EINVAL;
        default:
            snprintf(err, errlen, "unknown flag '%s'", argv[optind - 1]);
            return -EINVAL;
        }
    }
    if (optind < argc) {
        snprintf(err, errlen, "unexpected argument '%s'", argv[optind]);
        return -EINVAL;
    }

    /* cross-flag checks */
    if (o->from_set && o->target.ss_family != AF_INET) {
        snprintf(err, errlen, "--from is for an IPv4 --target");
        return -EINVAL;
    }
    if (o->single_source) {
        if (o->sources_set && o->sources != 1) {
            snprintf(err, errlen, "--single-source and --sources %u disagree", o->sources);
            return -EINVAL;
        }
        o->sources = 1;
    }
    if (o->find_max && o->rate_set && o->rate == 0) {
        snprintf(err, errlen, "--find-max steps an open-loop rate: give --rate R as the start, not max");
        return -EINVAL;
    }
    if (o->find_max && !o->rate_set) o->rate = FINDMAX_START_RATE;
    if (o->inflight_set && (o->rate > 0 || o->find_max)) {
        snprintf(err, errlen, "--inflight only applies to the closed loop (--rate max)");
        return -EINVAL;
    }
    if (o->duration_s * 1000.0 <= o->timeout_ms) {
        snprintf(err, errlen, "--duration %.2f s must exceed --timeout-ms %u: the last calls need "
                 "time to be answered", o->duration_s, o->timeout_ms);
        return -EINVAL;
    }
    if (o->truth && o->n_to) {
        snprintf(err, errlen, "--truth picks the callees from the seed: leave out --to");
        return -EINVAL;
    }
    if (o->churn > 0 && (!o->truth || !o->redis_set)) {
        snprintf(err, errlen, "--churn needs --truth (whose presence to change) and --redis");
        return -EINVAL;
    }
    if (o->n_to == 0 && !o->truth) o->to[o->n_to++] = "15125550100*1";
    return 0;
}

/* ===========================================================================
 * Generator state
 * ======================================================================== */

enum { CALL_FREE = 0, CALL_QUEUED, CALL_WAIT };

/* One outstanding call; everything else is derived from its seq. */
typedef struct {
    uint64_t seq;
    uint64_t sent_ns;
    uint64_t hash;     /* of its Call-ID: the hash table's key */
    uint8_t state;
} gen_call_t;

/* One source socket and its pending send batch (INVITEs and ACKs). */
typedef struct gen gen_t;
typedef struct {
    gen_t *g;
    unsigned idx;
    int fd;
    unsigned port;
    struct event *ev;               /* closed loop only: the open loop polls */
    uint32_t drops;                 /* SO_RXQ_OVFL: datagrams our socket dropped */
    unsigned n;                         /* queued datagrams */
    uint64_t seq[GEN_BATCH];            /* INVITE: its seq; ACK: UINT64_MAX */
    struct mmsghdr msg[GEN_BATCH];
    struct iovec iov[GEN_BATCH];
    char buf[GEN_BATCH][SIPMSG_MAX];
} gen_src_t;

/*
 * Calls live in a ring indexed by sequence number:
 *
 *     calls[seq & pool_mask]      tail <= seq < head
 *     ...FREE WAIT WAIT FREE WAIT ...
 *        ^tail                    ^head (next call to send)
 *
 * Send order is seq order and the timeout is the same for all, so the
 * oldest outstanding call is always at tail: expiry only looks there. A
 * call may be sent only when head - tail < pool size (a slow old call can
 * stall the window; the pool is sized so that it does not at sane rates).
 * The hash table maps Call-ID hashes to ring slots (linear probing, load
 * <= 1/2, backward-shift deletion); 0 marks an empty entry, else slot + 1.
 */
struct gen {
    const gen_opts_t *o;
    sipmsg_ctx_t sip;
    check_allow_t *allow;
    truth_t *truth;           /* --truth, or NULL */
    churn_t *churn;           /* --churn, or NULL */
    const char *const *users; /* Request-URI users the calls rotate over */
    size_t n_users;
    struct event_base *base;
    struct event *tick, *sigint, *sigterm;
    gen_src_t *src;
    unsigned nsrc;

    gen_call_t *calls;
    uint64_t pool_mask;
    uint32_t *ht;
    uint64_t ht_mask;
    uint64_t head, tail, outstanding;

    /* the phase being run (a whole run, or one find-max step) */
    double rate;              /* 0: closed loop */
    uint64_t seq0, limit;     /* seqs [seq0, limit) belong to the phase */
    uint64_t t0_ns, send_end_ns, hard_end_ns;
    uint64_t first_send_ns, last_send_ns, last_answer_ns;
    bool sending_done;
    report_step_t *st;
    hist_t *hist;
    hist_t *best;             /* find-max: the histogram of the best step */
    unsigned wrong_shown;
    int interrupted;          /* SIGINT/SIGTERM seen: 1 drain, 2 stop now */

    struct mmsghdr rmsg[GEN_BATCH];
    struct iovec riov[GEN_BATCH];
    char rbuf[GEN_BATCH][GEN_RBUF];
    char rctl[GEN_BATCH][GEN_CTL];
};

static uint64_t gen_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

static double gen_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* ---------------------------------------------------------------------------
 * Call-ID hash table
 * ------------------------------------------------------------------------ */

static uint64_t gen_hash(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return h ^ (h >> 29);
}

static void gen_ht_insert(gen_t *g, uint64_t slot)
{
    uint64_t i = g->calls[slot].hash & g->ht_mask;
    while (g->ht[i]) i = (i + 1) & g->ht_mask;
    g->ht[i] = (uint32_t)(slot + 1);
}

/* Position in the table of the outstanding call with Call-ID <cid>, or
 * UINT64_MAX. */
static uint64_t gen_ht_find(const gen_t *g, sipmsg_span_t cid)
{
    if (cid.len == 0 || cid.len >= SIPMSG_CALL_ID_MAX) return UINT64_MAX;
    uint64_t h = gen_hash(cid.s, cid.len);
    char mine[SIPMSG_CALL_ID_MAX];
    for (uint64_t i = h & g->ht_mask; g->ht[i]; i = (i + 1) & g->ht_mask) {
        const gen_call_t *c = &g->calls[g->ht[i] - 1];
        if (c->hash != h || c->state != CALL_WAIT) continue;
        size_t n = sipmsg_call_id(mine, g->sip.run_id, c->seq);
        if (n == cid.len && memcmp(mine, cid.s, n) == 0) return i;
    }
    return UINT64_MAX;
}

static void gen_ht_delete(gen_t *g, uint64_t i)
{
    uint64_t j = i;
    for (;;) {
        j = (j + 1) & g->ht_mask;
        if (!g->ht[j]) break;
        uint64_t home = g->calls[g->ht[j] - 1].hash & g->ht_mask;
        /* the entry at j may move to i unless its home lies in (i, j] */
        bool stays = (i <= j) ? (i < home && home <= j) : (i < home || home <= j);
        if (stays) continue;
        g->ht[i] = g->ht[j];
        i = j;
    }
    g->ht[i] = 0;
}

/* ---------------------------------------------------------------------------
 * Sending
 * ------------------------------------------------------------------------ */

static sipmsg_call_t gen_call_desc(const gen_t *g, uint64_t seq)
{
    const gen_src_t *s = &g->src[seq % g->nsrc];
    return (sipmsg_call_t){.seq = seq, .to_user = g->users[seq % g->n_users], .local_port = s->port};
}

static void gen_flush(gen_t *g, gen_src_t *s);

/* Queue datagram <len> bytes already in s->buf[s->n]. */
static void gen_queue(gen_t *g, gen_src_t *s, size_t len, uint64_t seq)
{
    s->iov[s->n] = (struct iovec){.iov_base = s->buf[s->n], .iov_len = len};
    s->msg[s->n].msg_hdr = (struct msghdr){
        .msg_name = (void *)&g->o->target, /* sendmmsg only reads it */
        .msg_namelen = g->o->target_len,
        .msg_iov = &s->iov[s->n],
        .msg_iovlen = 1,
    };
    s->seq[s->n] = seq;
    s->n++;
    if (s->n == GEN_BATCH) gen_flush(g, s);
}

/* Queue the INVITE of the next call (seq = head). false when the ring is
 * full (a stall). */
static bool gen_queue_invite(gen_t *g)
{
    if (g->head - g->tail > g->pool_mask) return false;
    uint64_t seq = g->head;
    gen_src_t *s = &g->src[seq % g->nsrc];
    sipmsg_call_t k = gen_call_desc(g, seq);
    size_t len;
    if (sipmsg_build_invite(s->buf[s->n], SIPMSG_MAX, &len, &g->sip, &k) < 0) abort(); /* sized */
    gen_call_t *c = &g->calls[seq & g->pool_mask];
    char cid[SIPMSG_CALL_ID_MAX];
    size_t cl = sipmsg_call_id(cid, g->sip.run_id, seq);
    *c = (gen_call_t){.seq = seq, .hash = gen_hash(cid, cl), .state = CALL_QUEUED};
    g->head++;
    g->outstanding++;
    gen_queue(g, s, len, seq);
    return true;
}

/* The kernel took datagram <i> of <s> at <now> (or refused it: <ok> false). */
static void gen_sent(gen_t *g, gen_src_t *s, unsigned i, bool ok, uint64_t now)
{
    if (s->seq[i] == UINT64_MAX) {
        if (!ok) g->st->ack_errors++;
        return;
    }
    gen_call_t *c = &g->calls[s->seq[i] & g->pool_mask];
    if (!ok) {
        c->state = CALL_FREE;
        g->outstanding--;
        g->st->send_errors++;
        return;
    }
    c->state = CALL_WAIT;
    c->sent_ns = now;
    gen_ht_insert(g, s->seq[i] & g->pool_mask);
    g->st->sent++;
    if (!g->first_send_ns) g->first_send_ns = now;
    g->last_send_ns = now;
    if (g->rate > 0) { /* how late against the schedule */
        uint64_t due = g->t0_ns + (uint64_t)((double)(s->seq[i] - g->seq0) * 1e9 / g->rate);
        if (now > due && (now - due) / 1e6 > g->st->lag_max_ms) g->st->lag_max_ms = (now - due) / 1e6;
    }
}

/* Send everything queued on <s>. A full socket buffer gets a few short
 * waits; what still does not fit is counted as a send error. */
static void gen_flush(gen_t *g, gen_src_t *s)
{
    unsigned done = 0, waits = 0;
    while (done < s->n) {
        uint64_t now = gen_now_ns();
        int r = sendmmsg(s->fd, s->msg + done, s->n - done, 0);
        if (r > 0) {
            for (unsigned i = done; i < done + (unsigned)r; i++) gen_sent(g, s, i, true, now);
            done += (unsigned)r;
            continue;
        }
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && (errno == EAGAIN || errno == ENOBUFS) && waits++ < 3) {
            struct pollfd p = {.fd = s->fd, .events = POLLOUT};
            poll(&p, 1, 5);
            continue;
        }
        gen_sent(g, s, done, false, now); /* drop this one, go on with the rest */
        done++;
    }
    s->n = 0;
}

static void gen_flush_all(gen_t *g)
{
    for (unsigned i = 0; i < g->nsrc; i++)
        if (g->src[i].n) gen_flush(g, &g->src[i]);
}

/* Queue what the schedule wants by <now>: open loop, what is due; closed
 * loop, enough to have the window full. */
static void gen_fill(gen_t *g, uint64_t now)
{
    if (g->sending_done) return;
    if (now >= g->send_end_ns || g->interrupted) {
        g->sending_done = true;
        return;
    }
    uint64_t want;
    if (g->rate > 0) {
        double due = floor((double)(now - g->t0_ns) * g->rate / 1e9) + 1;
        want = g->seq0 + (uint64_t)due;
    } else {
        uint64_t room = g->o->inflight > g->outstanding ? g->o->inflight - g->outstanding : 0;
        want = g->head + room;
    }
    if (want > g->limit) want = g->limit;
    while (g->head < want && gen_queue_invite(g)) {}
    if (g->head >= g->limit) g->sending_done = true;
}

/* ---------------------------------------------------------------------------
 * Answers
 * ------------------------------------------------------------------------ */

/* Echo the first few wrong answers on stderr: status line and the part
 * that was wrong, enough to start debugging. */
static void gen_show_wrong(gen_t *g, check_verdict_t v, const sipmsg_resp_t *r,
                           const char *buf, size_t len, uint64_t seq)
{
    if (g->wrong_shown++ >= GEN_SHOW_WRONG) return;
    size_t first = 0;
    while (first < len && first < 120 && buf[first] != '\r' && buf[first] != '\n') first++;
    sipmsg_span_t d = {"", 0};
    if (v >= CHECK_FALLBACK && v <= CHECK_PRESENCE) { /* the truth's: every Contact */
        fprintf(stderr, "fd-bench: wrong answer (%s) to %s:", check_verdict_name(v),
                g->users[seq % g->n_users]);
        for (unsigned i = 0; i < r->contacts && i < SIPMSG_MAX_CONTACTS; i++)
            fprintf(stderr, " <%.*s>", (int)(r->contact_list[i].len > 200 ? 200 : r->contact_list[i].len),
                    r->contact_list[i].s);
        fputc('\n', stderr);
        return;
    }
    if (v == CHECK_NOT_ALLOWED || v == CHECK_CONTACT) d = r->contact;
    else if (v == CHECK_CSEQ) d = r->cseq_method;
    else if (v == CHECK_BRANCH) d = r->branch;
    fprintf(stderr, "fd-bench: wrong answer (%s): %.*s%s%.*s\n", check_verdict_name(v), (int)first,
            buf, d.len ? " | " : "", (int)(d.len > 200 ? 200 : d.len), d.s);
}

/* Judge a 302 that passed check_answer() against the seeded truth; count
 * how it was made up. */
static check_verdict_t gen_truth(gen_t *g, const sipmsg_resp_t *r, uint64_t seq)
{
    if (r->contacts > SIPMSG_MAX_CONTACTS) return CHECK_CONTACTS;
    truth_kind_t kind;
    check_verdict_t v = truth_check(g->truth, seq % g->n_users, r->contact_list, r->contacts,
                                    g->o->churn > 0, &kind);
    if (v != CHECK_OK) return v;
    if (kind == TRUTH_STAFF) g->st->truth_staff++;
    else if (kind == TRUTH_FALLBACK) g->st->truth_fallback++;
    else g->st->truth_fallback_free++;
    return CHECK_OK;
}

/* One datagram <buf>/<len> arrived on source <si> at <now>. */
static void gen_on_datagram(gen_t *g, unsigned si, const char *buf, size_t len, bool trunc,
                            uint64_t now)
{
    sipmsg_resp_t r;
    int prc = sipmsg_parse_response(buf, len, &r);
    if (trunc) prc = -EBADMSG;
    if (prc == 0 && r.status < 200) return; /* provisional: wait for the final one */
    uint64_t at = gen_ht_find(g, r.call_id);
    if (at == UINT64_MAX) {
        g->st->unmatched++;
        return;
    }
    uint64_t slot = g->ht[at] - 1;
    gen_call_t *c = &g->calls[slot];
    uint64_t seq = c->seq;

    char branch[SIPMSG_BRANCH_MAX];
    size_t bl = sipmsg_branch(branch, g->sip.run_id, seq);
    check_verdict_t v = prc < 0 ? CHECK_MALFORMED
                                : check_answer(&r, (sipmsg_span_t){branch, bl}, g->allow);
    if (v == CHECK_OK && si != seq % g->nsrc) v = CHECK_ROUTE;
    if (v == CHECK_OK && g->truth) v = gen_truth(g, &r, seq);

    g->st->answered++;
    hist_record(g->hist, now > c->sent_ns ? (now - c->sent_ns + 500) / 1000 : 0);
    if (now > g->last_answer_ns) g->last_answer_ns = now;
    if (v != CHECK_OK) {
        g->st->wrong++;
        g->st->wrong_by[v]++;
        gen_show_wrong(g, v, &r, buf, len, seq);
    }
    gen_ht_delete(g, at);
    c->state = CALL_FREE;
    g->outstanding--;

    /* RFC 3261 17.1.1.3: a non-2xx final answer is ACKed, from the INVITE's
     * socket with the INVITE's Via */
    if (prc == 0 && r.status >= 300) {
        gen_src_t *s = &g->src[seq % g->nsrc];
        sipmsg_call_t k = gen_call_desc(g, seq);
        size_t alen;
        if (sipmsg_build_ack(s->buf[s->n], SIPMSG_MAX, &alen, &g->sip, &k, r.to) == 0)
            gen_queue(g, s, alen, UINT64_MAX);
        else
            g->st->ack_errors++;
    }
}

/* Calls older than the timeout are lost; with <all>, every outstanding one
 * is (the hard stop). */
static void gen_expire(gen_t *g, uint64_t now, bool all)
{
    uint64_t timeout = (uint64_t)g->o->timeout_ms * 1000000ULL;
    while (g->tail < g->head) {
        gen_call_t *c = &g->calls[g->tail & g->pool_mask];
        if (c->state == CALL_WAIT) {
            if (!all && now - c->sent_ns < timeout) break;
            char cid[SIPMSG_CALL_ID_MAX];
            size_t cl = sipmsg_call_id(cid, g->sip.run_id, c->seq);
            uint64_t at = gen_ht_find(g, (sipmsg_span_t){cid, cl});
            if (at != UINT64_MAX) gen_ht_delete(g, at);
            c->state = CALL_FREE;
            g->outstanding--;
            g->st->lost++;
        } else if (c->state == CALL_QUEUED) {
            break; /* not sent yet: cannot happen between callbacks */
        }
        g->tail++;
    }
}

/* Is the phase over? Breaks the loop when it is. */
static void gen_check_done(gen_t *g, uint64_t now)
{
    if (g->interrupted > 1 || now >= g->hard_end_ns || (g->sending_done && g->outstanding == 0))
        event_base_loopbreak(g->base);
}

/* ---------------------------------------------------------------------------
 * Loop callbacks
 * ------------------------------------------------------------------------ */

/* Kernel receive time of datagram <m> as CLOCK_MONOTONIC ns (<off> =
 * monotonic - realtime, now), or <now> without a timestamp. Also keeps the
 * socket's drop counter. */
static uint64_t gen_rx_time(gen_src_t *s, struct msghdr *m, int64_t off, uint64_t now)
{
    uint64_t t = now;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
        if (c->cmsg_level != SOL_SOCKET) continue;
        if (c->cmsg_type == SCM_TIMESTAMPNS) {
            struct timespec ts;
            memcpy(&ts, CMSG_DATA(c), sizeof(ts));
            int64_t real = (int64_t)ts.tv_sec * (int64_t)NS + ts.tv_nsec;
            if (real + off > 0 && (uint64_t)(real + off) <= now) t = (uint64_t)(real + off);
        } else if (c->cmsg_type == SO_RXQ_OVFL) {
            memcpy(&s->drops, CMSG_DATA(c), sizeof(s->drops));
        }
    }
    return t;
}

/* Read what source <s> has, in batches, with the kernel's arrival times:
 * latency does not depend on when we get round to reading. */
static void gen_read_source(gen_t *g, gen_src_t *s)
{
    for (unsigned round = 0; round < GEN_RECV_ROUNDS; round++) {
        for (unsigned i = 0; i < GEN_BATCH; i++) {
            g->riov[i] = (struct iovec){.iov_base = g->rbuf[i], .iov_len = GEN_RBUF};
            g->rmsg[i].msg_hdr = (struct msghdr){.msg_iov = &g->riov[i], .msg_iovlen = 1,
                                                 .msg_control = g->rctl[i],
                                                 .msg_controllen = GEN_CTL};
        }
        int n = recvmmsg(s->fd, g->rmsg, GEN_BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0) break;
        struct timespec mono, real;
        clock_gettime(CLOCK_MONOTONIC, &mono);
        clock_gettime(CLOCK_REALTIME, &real);
        uint64_t now = (uint64_t)mono.tv_sec * NS + (uint64_t)mono.tv_nsec;
        int64_t off = (int64_t)now - ((int64_t)real.tv_sec * (int64_t)NS + real.tv_nsec);
        for (int i = 0; i < n; i++) {
            struct msghdr *m = &g->rmsg[i].msg_hdr;
            uint64_t at = gen_rx_time(s, m, off, now);
            gen_on_datagram(g, s->idx, g->rbuf[i], g->rmsg[i].msg_len,
                            (m->msg_flags & MSG_TRUNC) != 0, at);
        }
        if ((unsigned)n < GEN_BATCH) break;
    }
}

/* Closed loop: an answer frees a window slot, refill it at once. */
static void gen_on_read(evutil_socket_t fd, short what, void *arg)
{
    gen_src_t *s = arg;
    gen_t *g = s->g;
    (void)fd;
    (void)what;
    gen_read_source(g, s);
    uint64_t now = gen_now_ns();
    gen_fill(g, now);
    gen_flush_all(g);
    gen_check_done(g, now);
}

/* Every 1 ms (open loop: read all sources, then send what is due and the
 * ACKs, one sendmmsg per source: the wakeups do not grow with the rate) or
 * 5 ms (closed loop: expiry and the clock only). */
static void gen_on_tick(evutil_socket_t fd, short what, void *arg)
{
    gen_t *g = arg;
    (void)fd;
    (void)what;
    if (g->rate > 0)
        for (unsigned i = 0; i < g->nsrc; i++) gen_read_source(g, &g->src[i]);
    uint64_t now = gen_now_ns();
    gen_expire(g, now, false);
    gen_fill(g, now);
    gen_flush_all(g);
    gen_check_done(g, now);
}

static void gen_on_signal(evutil_socket_t sig, short what, void *arg)
{
    gen_t *g = arg;
    (void)sig;
    (void)what;
    g->interrupted++;
    if (g->interrupted == 1)
        fprintf(stderr, "fd-bench: interrupted, waiting for outstanding calls (again to stop now)\n");
    gen_check_done(g, gen_now_ns());
}

/* ===========================================================================
 * Setup and teardown
 * ======================================================================== */

static uint64_t gen_next_pow2(uint64_t v)
{
    uint64_t p = 1;
    while (p < v) p <<= 1;
    return p;
}

static int gen_open_source(gen_t *g, gen_src_t *s, char *err, size_t errlen)
{
    int fam = g->o->target.ss_family, one = GEN_SOCKBUF;
    struct sockaddr_storage a;
    socklen_t alen = g->o->target_len;
    memset(&a, 0, sizeof(a));
    a.ss_family = (sa_family_t)fam;
    if (fam == AF_INET)
        ((struct sockaddr_in *)&a)->sin_addr.s_addr = g->o->from_set ? g->o->from.s_addr : htonl(INADDR_LOOPBACK);
    else
        ((struct sockaddr_in6 *)&a)->sin6_addr = in6addr_loopback;

    s->fd = socket(fam, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0) goto fail;
    /* bigger buffers so a burst does not drop; FORCE works as root only */
    if (setsockopt(s->fd, SOL_SOCKET, SO_RCVBUFFORCE, &one, sizeof(one)) < 0)
        setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &one, sizeof(one));
    if (setsockopt(s->fd, SOL_SOCKET, SO_SNDBUFFORCE, &one, sizeof(one)) < 0)
        setsockopt(s->fd, SOL_SOCKET, SO_SNDBUF, &one, sizeof(one));
    /* kernel arrival times for latency; a count of what the socket drops */
    int on = 1;
    setsockopt(s->fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on));
    setsockopt(s->fd, SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof(on));
    if (bind(s->fd, (struct sockaddr *)&a, alen) < 0) goto fail;
    if (getsockname(s->fd, (struct sockaddr *)&a, &alen) < 0) goto fail;
    s->port = ntohs(fam == AF_INET ? ((struct sockaddr_in *)&a)->sin_port
                                   : ((struct sockaddr_in6 *)&a)->sin6_port);
    s->ev = event_new(g->base, s->fd, EV_READ | EV_PERSIST, gen_on_read, s);
    if (!s->ev) {
        snprintf(err, errlen, "libevent: cannot watch a source socket");
        return -ENOMEM;
    }
    return 0;
fail:
    snprintf(err, errlen, "source socket: %s", strerror(errno));
    return -errno;
}

static void gen_close(gen_t *g)
{
    if (!g) return;
    for (unsigned i = 0; g->src && i < g->nsrc; i++) {
        if (g->src[i].ev) event_free(g->src[i].ev);
        if (g->src[i].fd >= 0) close(g->src[i].fd);
    }
    free(g->src);
    g->src = NULL;
    churn_close(g->churn); /* before the base it runs on */
    if (g->tick) event_free(g->tick);
    if (g->sigint) event_free(g->sigint);
    if (g->sigterm) event_free(g->sigterm);
    if (g->base) event_base_free(g->base);
    free(g->calls);
    free(g->ht);
    hist_free(g->hist);
    hist_free(g->best);
    check_allow_free(g->allow);
    truth_free(g->truth);
    free(g);
}

static int gen_open(gen_t **out, const gen_opts_t *o, char *err, size_t errlen)
{
    int rc = -ENOMEM;
    gen_t *g = calloc(1, sizeof(*g));
    struct event_config *cfg = NULL;
    if (!g) goto fail;
    g->o = o;

    if (o->expect_contacts &&
        (rc = check_allow_load(&g->allow, o->expect_contacts, err, errlen)) < 0)
        goto fail;
    g->users = o->to;
    g->n_users = o->n_to;
    if (o->truth) {
        if ((rc = truth_load(&g->truth, o->truth, err, errlen)) < 0) goto fail;
        g->users = (const char *const *)truth_users(g->truth);
        g->n_users = truth_targets(g->truth);
    }

    uint64_t run_id;
    if (getrandom(&run_id, sizeof(run_id), 0) != sizeof(run_id))
        run_id = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid();
    g->sip.run_id = run_id;
    g->sip.ipv6 = o->target.ss_family == AF_INET6;
    snprintf(g->sip.ruri_host, sizeof(g->sip.ruri_host), "%s", o->ruri_host);
    snprintf(g->sip.local_host, sizeof(g->sip.local_host), "%s",
             g->sip.ipv6 ? "[::1]" : "127.0.0.1");

    uint64_t pool = gen_next_pow2(o->count < GEN_MAX_POOL ? o->count : GEN_MAX_POOL);
    if (pool < GEN_BATCH) pool = GEN_BATCH;
    g->pool_mask = pool - 1;
    g->ht_mask = 2 * pool - 1;
    g->calls = calloc(pool, sizeof(*g->calls));
    g->ht = calloc(2 * pool, sizeof(*g->ht));
    g->hist = hist_new();
    g->best = hist_new();
    if (!g->calls || !g->ht || !g->hist || !g->best) {
        rc = -ENOMEM;
        snprintf(err, errlen, "out of memory");
        goto fail;
    }

    rc = -ENOMEM;
    if (!(cfg = event_config_new())) goto fail;
    event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK | EVENT_BASE_FLAG_PRECISE_TIMER);
    g->base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    cfg = NULL;
    if (!g->base) {
        snprintf(err, errlen, "libevent: no event base");
        goto fail;
    }
    g->nsrc = o->sources;
    g->src = calloc(g->nsrc, sizeof(*g->src));
    if (!g->src) goto fail;
    for (unsigned i = 0; i < g->nsrc; i++) {
        g->src[i].fd = -1;
        g->src[i].g = g;
        g->src[i].idx = i;
    }
    for (unsigned i = 0; i < g->nsrc; i++)
        if ((rc = gen_open_source(g, &g->src[i], err, errlen)) < 0) goto fail;

    g->tick = event_new(g->base, -1, EV_PERSIST, gen_on_tick, g);
    g->sigint = evsignal_new(g->base, SIGINT, gen_on_signal, g);
    g->sigterm = evsignal_new(g->base, SIGTERM, gen_on_signal, g);
    if (!g->tick || !g->sigint || !g->sigterm || evsignal_add(g->sigint, NULL) < 0 ||
        evsignal_add(g->sigterm, NULL) < 0) {
        snprintf(err, errlen, "libevent: cannot set up the timer or signals");
        goto fail;
    }
    if (o->churn > 0) {
        uint64_t seed = run_id;
        if ((rc = churn_open(&g->churn, g->base, &o->redis, g->truth, o->churn, seed, err,
                             errlen)) < 0)
            goto fail;
    }
    *out = g;
    return 0;
fail:
    if (rc == -ENOMEM && !err[0]) snprintf(err, errlen, "out of memory");
    gen_close(g);
    return rc;
}

/* ===========================================================================
 * Phases: a run, or one find-max step
 * ======================================================================== */

/* Share of a core process <pid> used over <wall_s>, from its CPU seconds
 * <before>; -1 when not asked for or unreadable (the process is gone). */
static double gen_other_cpu(long pid, double before, double wall_s)
{
    if (!pid || before < 0 || wall_s <= 0) return -1;
    double after = procstat_cpu_s((pid_t)pid);
    return after >= before ? 100.0 * (after - before) / wall_s : -1;
}

/* Run <ncalls> calls at <rate> (0: closed loop), sending until <send_end_ns>
 * at the latest and stopping everything at <hard_end_ns>; figures go to
 * <st>. */
static void gen_phase(gen_t *g, double rate, uint64_t ncalls, uint64_t send_end_ns,
                      uint64_t hard_end_ns, report_step_t *st)
{
    memset(st, 0, sizeof(*st));
    hist_reset(g->hist);
    st->rate = rate;
    g->st = st;
    g->rate = rate;
    g->seq0 = g->head;
    g->limit = g->head + ncalls;
    g->send_end_ns = send_end_ns;
    g->hard_end_ns = hard_end_ns;
    g->first_send_ns = g->last_send_ns = g->last_answer_ns = 0;
    g->sending_done = false;
    g->wrong_shown = 0;

    /* 1 ms tick paces the open loop; the closed loop is driven by answers
     * and the tick only expires calls and watches the clock */
    struct timeval tv = {0, rate > 0 ? 1000 : 5000};
    uint64_t drops0 = 0;
    for (unsigned i = 0; i < g->nsrc; i++) {
        drops0 += g->src[i].drops;
        if (rate == 0) event_add(g->src[i].ev, NULL);
    }
    double cpu0 = gen_cpu_s();
    double pcpu0 = g->o->proxy_pid ? procstat_cpu_s((pid_t)g->o->proxy_pid) : -1;
    double rcpu0 = g->o->redis_pid ? procstat_cpu_s((pid_t)g->o->redis_pid) : -1;
    uint64_t wall0 = gen_now_ns();
    g->t0_ns = wall0;
    if (g->churn) churn_start(g->churn);
    evtimer_add(g->tick, &tv);
    gen_fill(g, wall0);
    gen_flush_all(g);
    if (!(g->sending_done && g->outstanding == 0)) event_base_dispatch(g->base);
    evtimer_del(g->tick);
    uint64_t drops1 = 0;
    for (unsigned i = 0; i < g->nsrc; i++) {
        event_del(g->src[i].ev);
        drops1 += g->src[i].drops;
    }
    st->rx_drops = drops1 - drops0;

    if (g->churn) churn_pause(g->churn);
    uint64_t wall1 = gen_now_ns();
    gen_expire(g, wall1, true);
    double cpu1 = gen_cpu_s();
    double wall_s = wall1 > wall0 ? (double)(wall1 - wall0) / 1e9 : 0.0;
    st->proxy_cpu_pct = gen_other_cpu(g->o->proxy_pid, pcpu0, wall_s);
    st->redis_cpu_pct = gen_other_cpu(g->o->redis_pid, rcpu0, wall_s);

    uint64_t end = g->last_answer_ns ? g->last_answer_ns : g->last_send_ns;
    st->elapsed_s = g->first_send_ns && end > g->first_send_ns
                        ? (double)(end - g->first_send_ns) / 1e9 : 0.0;
    st->cps = st->elapsed_s > 0 ? (double)st->answered / st->elapsed_s : 0.0;
    double send_s = (double)(g->last_send_ns - g->first_send_ns) / 1e9;
    st->send_rate = st->sent > 1 && send_s > 0 ? (double)(st->sent - 1) / send_s : 0.0;
    st->p50_us = hist_percentile(g->hist, 50);
    st->p99_us = hist_percentile(g->hist, 99);
    st->p999_us = hist_percentile(g->hist, 99.9);
    st->max_us = hist_max(g->hist);
    st->mean_us = hist_mean(g->hist);
    st->cpu_pct = wall1 > wall0 ? 100.0 * (cpu1 - cpu0) / ((double)(wall1 - wall0) / 1e9) : 0.0;
    /* a fallback where the seed had staff free is a call lost to the
     * caller (with churn the seed no longer says who is free) */
    st->missed = g->truth && g->o->churn == 0 && !g->o->free_fallback_ok ? st->truth_fallback_free : 0;
    uint64_t attempts = st->sent + st->send_errors;
    st->good = st->sent > 0 && st->wrong == 0 &&
               (double)(st->lost + st->missed + st->send_errors) <= REPORT_MAX_LOSS * (double)attempts;
}

/* The plain run: --count calls, sending stops --timeout-ms before
 * --duration so every call sent can still be answered in time. */
static void gen_run(gen_t *g, report_t *rep)
{
    const gen_opts_t *o = g->o;
    uint64_t now = gen_now_ns();
    uint64_t hard = now + (uint64_t)(o->duration_s * 1e9);
    uint64_t send_end = hard - (uint64_t)o->timeout_ms * 1000000ULL;
    gen_phase(g, o->rate, o->count, send_end, hard, &rep->total);
    hist_merge(g->best, g->hist);
    rep->ok = rep->total.good && !g->interrupted;
}

/* Why step <st> at <rate> is not good, in <why>; "" when it is. */
static void gen_judge_step(report_step_t *st, double rate)
{
    double loss = st->sent ? (double)(st->lost + st->missed) / (double)st->sent : 0;
    if (st->sent == 0)
        snprintf(st->why, sizeof(st->why), "nothing sent");
    else if (st->wrong)
        snprintf(st->why, sizeof(st->why), "%llu wrong answers", (unsigned long long)st->wrong);
    else if (!st->good || loss > REPORT_MAX_LOSS)
        snprintf(st->why, sizeof(st->why), "loss %.2f%% > %.1f%%", 100 * loss,
                 100 * REPORT_MAX_LOSS);
    else if (st->p99_us > FINDMAX_P99_US)
        snprintf(st->why, sizeof(st->why), "p99 %.1f ms > %u ms", st->p99_us / 1000.0,
                 FINDMAX_P99_US / 1000);
    else if (st->sent > 1 && st->send_rate < FINDMAX_MIN_SEND * rate)
        snprintf(st->why, sizeof(st->why), "generator behind: sent %.0f/s", st->send_rate);
    st->good = st->why[0] == '\0';
}

/* Step the open-loop rate up by FINDMAX_FACTOR until a step is not good or
 * the next step would not end before --duration. */
static void gen_find_max(gen_t *g, report_t *rep, report_step_t *steps)
{
    const gen_opts_t *o = g->o;
    uint64_t start = gen_now_ns(), deadline = start + (uint64_t)(o->duration_s * 1e9);
    uint64_t timeout_ns = (uint64_t)o->timeout_ms * 1000000ULL;
    double rate = o->rate;
    int best = -1;
    bool wrong = false;

    rep->stop_reason = "duration reached";
    for (unsigned i = 0; i < FINDMAX_MAX_STEPS; i++) {
        double want = ceil(rate * o->step_s);
        uint64_t n = want < (double)o->count ? (uint64_t)want : o->count;
        if (n == 0) n = 1;
        uint64_t send_ns = (uint64_t)((double)n / rate * 1e9);
        uint64_t now = gen_now_ns();
        /* the schedule, a little slack for a late generator, then the drain */
        uint64_t hard = now + send_ns + send_ns / 10 + timeout_ns + 10000000ULL;
        if (hard > deadline) {
            rep->stop_reason = i ? "duration reached" : "--duration too short for one step";
            break;
        }
        if (!o->json)
            fprintf(stderr, "fd-bench: step %u: %.0f calls/s, %llu calls\n", i + 1, rate,
                    (unsigned long long)n);
        gen_phase(g, rate, n, hard - timeout_ns, hard, &steps[i]);
        rep->n_steps = i + 1;
        gen_judge_step(&steps[i], rate);
        if (steps[i].wrong) wrong = true;
        if (g->interrupted) {
            snprintf(steps[i].why, sizeof(steps[i].why), "interrupted");
            steps[i].good = false;
            rep->stop_reason = "interrupted";
            break;
        }
        if (!steps[i].good) {
            rep->stop_reason = steps[i].why;
            break;
        }
        best = (int)i;
        hist_reset(g->best);
        hist_merge(g->best, g->hist);
        rate *= FINDMAX_FACTOR;
        if (rate > GEN_MAX_RATE) {
            rep->stop_reason = "rate cap reached";
            break;
        }
    }
    if (rep->n_steps == FINDMAX_MAX_STEPS) rep->stop_reason = "step cap reached";
    rep->steps = steps;
    if (best >= 0) {
        rep->total = steps[best];
        rep->max_good_rate = steps[best].rate;
    } else if (rep->n_steps) {
        rep->total = steps[rep->n_steps - 1];
        hist_merge(g->best, g->hist); /* the last step's, like the figures */
    }
    rep->ok = best >= 0 && !wrong && !g->interrupted;
}

/* ===========================================================================
 * main
 * ======================================================================== */

/* --hist-out: the histogram of the run (find-max: of the best step). */
static int gen_write_hist(const hist_t *h, const char *path)
{
    FILE *f = fopen(path, "w");
    int rc = f ? hist_write_dat(h, f) : -errno;
    if (f && fclose(f) != 0 && rc == 0) rc = -EIO;
    if (rc < 0) fprintf(stderr, "fd-bench: --hist-out %s: %s\n", path, strerror(-rc));
    return rc;
}

static int gen_cmd_run(int argc, char **argv)
{
    gen_opts_t o;
    char err[256] = "";
    if (gen_parse_args(&o, argc, argv, err, sizeof(err)) < 0) {
        fprintf(stderr, "fd-bench run: %s\n(see fd-bench run --help)\n", err);
        return 2;
    }
    if (o.help) {
        fputs(gen_usage, stdout);
        return 0;
    }

    signal(SIGPIPE, SIG_IGN);
    gen_t *g = NULL;
    if (gen_open(&g, &o, err, sizeof(err)) < 0) {
        fprintf(stderr, "fd-bench run: %s\n", err);
        return 2;
    }

    static report_step_t steps[FINDMAX_MAX_STEPS];
    report_t rep = {
        .target = o.target_text,
        .find_max = o.find_max,
        .closed = o.rate == 0 && !o.find_max,
        .inflight = o.inflight,
        .sources = o.sources,
        .timeout_ms = o.timeout_ms,
        .n_to = (unsigned)g->n_users,
        .n_allowed = g->allow ? check_allow_count(g->allow) : 0,
        .step_s = o.step_s,
        .start_rate = o.find_max ? o.rate : 0,
        .truth_targets = g->truth ? truth_targets(g->truth) : 0,
        .truth_sites = g->truth ? truth_sites(g->truth) : 0,
        .churn_rate = o.churn,
    };
    if (o.find_max) gen_find_max(g, &rep, steps);
    else gen_run(g, &rep);
    rep.interrupted = g->interrupted != 0;
    if (g->churn) {
        churn_finish(g->churn, 5000);
        churn_stats_t cs = churn_stats(g->churn);
        rep.churn_sent = cs.sent;
        rep.churn_errors = cs.errors;
        rep.churn_skipped = cs.skipped;
        rep.churn_restored = cs.restored;
        if (cs.errors) rep.ok = false;
    }
    if (o.hist_out && gen_write_hist(g->best, o.hist_out) < 0) rep.ok = false;

    if (rep.total.answered == 0 && rep.total.sent > 0)
        fprintf(stderr, "fd-bench: no answer at all: is a proxy listening on %s (UDP)?\n",
                o.target_text);
    if (o.json) report_json(stdout, &rep);
    else report_table(stdout, &rep);
    fflush(stdout);
    gen_close(g);
    return rep.ok ? 0 : 1;
}

static const char gen_commands[] =
    "usage: fd-bench run [flags]     load a proxy (fd-bench run --help for the flags)\n"
    "       fd-bench seed [flags]    seed a synthetic clinic network (fd-bench seed --help)\n";

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "run") == 0) return gen_cmd_run(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "seed") == 0) return seed_main(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
                      strcmp(argv[1], "help") == 0)) {
        fputs(gen_commands, stdout);
        return 0;
    }
    fputs(gen_commands, stderr);
    return 2;
}

/* opts.c -- flag parsing for frontdesk; see opts.h. */
#include "opts.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char opts_usage[] =
    "usage: frontdesk --config FILE [options]\n"
    "\n"
    "Stateless SIP redirect proxy for clinic groups: answers each INVITE with\n"
    "a 302 to available staff with the right skill, looked up in Redis.\n"
    "\n"
    "  --config FILE        routing rules (YAML), required\n"
    "  --listen [PROTO:]ADDR:PORT  address to serve, repeatable ([::1]:5060 for\n"
    "                       v6); PROTO udp (default), tcp, tls or udp+tcp (both\n"
    "                       on one port); default 127.0.0.1:5060 (UDP); port 0:\n"
    "                       one the system picks\n"
    "  --workers N          worker threads (default: online CPUs)\n"
    "  --redis HOST:PORT    Redis with the frontdesk functions (default 127.0.0.1:6379)\n"
    "  --redis-sentinel HOST:PORT  a Redis Sentinel to ask where the master is\n"
    "                       (repeatable, up to 4; instead of --redis)\n"
    "  --redis-master NAME  the master's name at the Sentinels\n"
    "  --redis-timeout MS   answer with the fallback when Redis is slower (default 250)\n"
    "  --offer-window MS    how long picked staff stay reserved (default 15000)\n"
    "  --decision-ttl MS    how long a call's decision is kept for\n"
    "                       retransmissions (default 32000)\n"
    "  --history-days N     keep each site's call history (fd:{site}:calls,\n"
    "                       frontdeskctl report) N days (default 90; 0: none)\n"
    "  --history-max N      or about N calls a site instead (a memory cap)\n"
    "  --log-level LEVEL    error, warn, info (default) or debug\n"
    "  --admin ADDR:PORT    admin HTTP: /metrics, /healthz, /readyz\n"
    "                       (default 127.0.0.1:9560; \"off\" to disable; port 0 as above)\n"
    "  --ports-file FILE    once serving, write the addresses bound, one a line:\n"
    "                       \"udp|tcp|tls ADDR:PORT\" per --listen, then\n"
    "                       \"admin ADDR:PORT\"\n"
    "Limits:\n"
    "  --site-picks N       staff picks a site gets a second (default 50; 0: no\n"
    "                       cap): a runaway trunk cannot reserve a whole site\n"
    "  --over-limit WHAT    a call past the cap gets: fallback (the plan's final\n"
    "                       destination, nobody reserved; default), 503 or drop\n"
    "  --source-rate N      requests a second one source address may send (a\n"
    "                       token bucket; default 500; 0: no limit)\n"
    "  --source-over WHAT   a request past it: drop (default) or 503\n"
    "TCP and TLS:\n"
    "  --tcp-max-conns N    connections open at once (default 2048); past it a\n"
    "                       new one is closed at once\n"
    "  --tcp-idle-timeout S a connection silent that long is closed (default 120)\n"
    "  --tcp-message-timeout MS  a message (or a TLS handshake) must arrive\n"
    "                       whole within MS of its first byte (default 5000)\n"
    "  --tcp-max-message N  largest message in bytes (default 65535): past it,\n"
    "                       513 and the connection is closed\n"
    "  --tls-cert FILE, --tls-key FILE  PEM certificate chain and key of tls:\n"
    "                       listeners (TLS 1.2 or later; reread on SIGHUP)\n"
    "  --tls-ca FILE        ask clients for a certificate this CA signed and\n"
    "                       refuse the ones without (trunks)\n"
    "Forward mode (routes with mode: forward):\n"
    "  --advertise ADDR[:PORT]  our address in Via and Record-Route (default:\n"
    "                       the listen address; required with 0.0.0.0 or [::])\n"
    "  --record-route       add Record-Route: in-dialog requests come through us\n"
    "  --dns-server ADDR:PORT  name server for destinations given by name\n"
    "                       (repeatable, up to 3; default: /etc/resolv.conf)\n"
    "  --health-interval MS OPTIONS ping of each destination (default 5000)\n"
    "  --health-down N      missed pings in a row that make it down (default 3)\n"
    "  --health-up N        answers in a row that make it up again (default 2)\n"
    "  --help, --version\n"
    "\n"
    "Environment: FRONTDESK_CALLER_KEY=<64 hex digits> keys the caller hashes\n"
    "(logs, caller-aware routing); needed by rules that use caller_aware or\n"
    "priority_callers. FRONTDESK_REDIS_PASSWORD (or REDISCLI_AUTH) and\n"
    "FRONTDESK_REDIS_USER: Redis AUTH. FRONTDESK_FAKE_TIME=<ISO 8601 time>\n"
    "fixes the clock the rules see (tests).\n";

static int parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v < lo || v > hi) return -EINVAL;
    *out = (unsigned)v;
    return 0;
}

static int parse_addr(const char *s, opts_addr_t *out, unsigned min_port)
{
    char host[64];
    const char *colon;
    unsigned port;

    memset(out, 0, sizeof(*out));
    if (strlen(s) >= sizeof(out->text)) return -EINVAL;
    snprintf(out->text, sizeof(out->text), "%s", s);
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':' || (size_t)(rb - s - 1) >= sizeof(host)) return -EINVAL;
        memcpy(host, s + 1, (size_t)(rb - s - 1));
        host[rb - s - 1] = '\0';
        colon = rb + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || (size_t)(colon - s) >= sizeof(host)) return -EINVAL;
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = '\0';
    }
    if (parse_uint(colon + 1, min_port, 65535, &port) < 0) return -EINVAL;

    struct sockaddr_in *v4 = (struct sockaddr_in *)&out->addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&out->addr;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        out->len = sizeof(*v4);
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        out->len = sizeof(*v6);
    } else {
        return -EINVAL;
    }
    return 0;
}

int opts_parse_addr(const char *s, opts_addr_t *out) { return parse_addr(s, out, 1); }

int opts_parse_bind_addr(const char *s, opts_addr_t *out) { return parse_addr(s, out, 0); }

/* --listen's value: "[udp:|tcp:|tls:|udp+tcp:]ADDR:PORT" into o->listen
 * (two entries for udp+tcp). 0 or -EINVAL (<why> set when it is not the
 * address's fault). */
static int parse_listen(opts_t *o, const char *a, const char **why)
{
    static const struct { const char *prefix; opts_proto_t proto; bool both; } kinds[] = {
        { "udp+tcp:", OPTS_UDP, true }, { "udp:", OPTS_UDP, false },
        { "tcp:", OPTS_TCP, false },     { "tls:", OPTS_TLS, false },
    };
    opts_proto_t proto = OPTS_UDP;
    bool both = false;
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        size_t pl = strlen(kinds[k].prefix);
        if (strncmp(a, kinds[k].prefix, pl) == 0) {
            a += pl, proto = kinds[k].proto, both = kinds[k].both;
            break;
        }
    }
    if (o->n_listen + (both ? 2u : 1u) > OPTS_MAX_LISTEN) {
        *why = "too many";
        return -EINVAL;
    }
    opts_addr_t *l = &o->listen[o->n_listen];
    if (opts_parse_bind_addr(a, l) < 0) return -EINVAL;
    l->proto = proto;
    o->n_listen++;
    if (both) {
        o->listen[o->n_listen] = *l;
        o->listen[o->n_listen].proto = OPTS_TCP;
        o->listen[o->n_listen].port_of = o->n_listen; /* the UDP entry's index + 1 */
        o->n_listen++;
    }
    return 0;
}

/* "HOST:PORT" or "[V6ADDR]:PORT" into <host> (without brackets) and <port>. */
int opts_parse_time(const char *s, time_t *out)
{
    struct tm tm = { 0 };
    char *end;
    long long v;

    if (!s || !*s) return -EINVAL;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (!*end && !errno && v > 0) {
        *out = (time_t)v;
        return 0;
    }
    end = strptime(s, "%Y-%m-%dT%H:%M", &tm);
    if (!end) return -EINVAL;
    if (*end == ':') {
        char *e2 = strptime(end, ":%S", &tm);
        if (!e2) return -EINVAL;
        end = e2;
    }
    long off = 0;
    if (*end == 'Z') {
        end++;
    } else if ((*end == '+' || *end == '-') && strlen(end) == 6 && end[3] == ':') {
        int h = (end[1] - '0') * 10 + (end[2] - '0'), m = (end[4] - '0') * 10 + (end[5] - '0');
        if (h > 23 || m > 59) return -EINVAL;
        off = (h * 3600L + m * 60L) * (*end == '-' ? -1 : 1);
        end += 6;
    } else {
        return -EINVAL; /* a time without a zone is ambiguous */
    }
    if (*end) return -EINVAL;
    *out = timegm(&tm) - off;
    return 0;
}

static int parse_hostport(const char *s, char *host, size_t hostlen, unsigned *port)
{
    const char *colon = strrchr(s, ':'), *start = s, *end = colon;
    if (!colon || colon == s) return -EINVAL;
    if (s[0] == '[') {
        if (colon[-1] != ']' || colon - s < 3) return -EINVAL;
        start = s + 1;
        end = colon - 1;
    }
    if ((size_t)(end - start) >= hostlen) return -EINVAL;
    memcpy(host, start, (size_t)(end - start));
    host[end - start] = '\0';
    return parse_uint(colon + 1, 1, 65535, port);
}

/* --advertise: "ADDR", "ADDR:PORT", "[V6]" or "[V6]:PORT", numeric. */
static int parse_advertise(const char *a, opts_t *o)
{
    char h[64];
    unsigned port = 0;
    unsigned char bin[16];
    const char *colon = strrchr(a, ':');
    bool v6 = a[0] == '[';

    if (v6) {
        const char *rb = strchr(a, ']');
        if (!rb || (size_t)(rb - a - 1) >= sizeof(h) || (rb[1] && rb[1] != ':')) return -EINVAL;
        memcpy(h, a + 1, (size_t)(rb - a - 1));
        h[rb - a - 1] = '\0';
        if (rb[1] && parse_uint(rb + 2, 1, 65535, &port) < 0) return -EINVAL;
        if (inet_pton(AF_INET6, h, bin) != 1) return -EINVAL;
    } else {
        size_t hl = colon ? (size_t)(colon - a) : strlen(a);
        if (hl >= sizeof(h)) return -EINVAL;
        memcpy(h, a, hl);
        h[hl] = '\0';
        if (colon && parse_uint(colon + 1, 1, 65535, &port) < 0) return -EINVAL;
        if (inet_pton(AF_INET, h, bin) != 1) return -EINVAL;
    }
    snprintf(o->advertise_host, sizeof(o->advertise_host), "%s", h);
    o->advertise_port = port;
    return 0;
}

enum { O_CONFIG = 1, O_LISTEN, O_WORKERS, O_REDIS, O_REDIS_TIMEOUT, O_OFFER,
       O_TTL, O_LOG, O_HELP, O_VERSION, O_SENTINEL, O_MASTER, O_ADMIN, O_ADVERTISE,
       O_RR, O_HC_INTERVAL, O_HC_DOWN, O_HC_UP, O_DNS, O_PORTS_FILE, O_SITE_PICKS, O_OVER, O_SOURCE_RATE, O_SOURCE_OVER,
       O_TCP_CONNS, O_TCP_IDLE, O_TCP_MSG_MS, O_TCP_MAX_MSG, O_TLS_CERT, O_TLS_KEY, O_TLS_CA,
       O_HISTORY_DAYS, O_HISTORY_MAX };

int opts_parse(opts_t *o, int argc, char **argv, char *err, size_t errlen)
{
    static const struct option longopts[] = {
        { "config", required_argument, NULL, O_CONFIG },
        { "listen", required_argument, NULL, O_LISTEN },
        { "workers", required_argument, NULL, O_WORKERS },
        { "redis", required_argument, NULL, O_REDIS },
        { "redis-timeout", required_argument, NULL, O_REDIS_TIMEOUT },
        { "redis-sentinel", required_argument, NULL, O_SENTINEL },
        { "redis-master", required_argument, NULL, O_MASTER },
        { "offer-window", required_argument, NULL, O_OFFER },
        { "history-days", required_argument, NULL, O_HISTORY_DAYS },
        { "history-max", required_argument, NULL, O_HISTORY_MAX },
        { "decision-ttl", required_argument, NULL, O_TTL },
        { "log-level", required_argument, NULL, O_LOG },
        { "admin", required_argument, NULL, O_ADMIN },
        { "advertise", required_argument, NULL, O_ADVERTISE },
        { "record-route", no_argument, NULL, O_RR },
        { "dns-server", required_argument, NULL, O_DNS },
        { "ports-file", required_argument, NULL, O_PORTS_FILE },
        { "site-picks", required_argument, NULL, O_SITE_PICKS },
        { "over-limit", required_argument, NULL, O_OVER },
        { "source-rate", required_argument, NULL, O_SOURCE_RATE },
        { "source-over", required_argument, NULL, O_SOURCE_OVER },
        { "tcp-max-conns", required_argument, NULL, O_TCP_CONNS },
        { "tcp-idle-timeout", required_argument, NULL, O_TCP_IDLE },
        { "tcp-message-timeout", required_argument, NULL, O_TCP_MSG_MS },
        { "tcp-max-message", required_argument, NULL, O_TCP_MAX_MSG },
        { "tls-cert", required_argument, NULL, O_TLS_CERT },
        { "tls-key", required_argument, NULL, O_TLS_KEY },
        { "tls-ca", required_argument, NULL, O_TLS_CA },
        { "health-interval", required_argument, NULL, O_HC_INTERVAL },
        { "health-down", required_argument, NULL, O_HC_DOWN },
        { "health-up", required_argument, NULL, O_HC_UP },
        { "help", no_argument, NULL, O_HELP },
        { "version", no_argument, NULL, O_VERSION },
        { NULL, 0, NULL, 0 },
    };
    int c;

    memset(o, 0, sizeof(*o));
    snprintf(o->redis_host, sizeof(o->redis_host), "127.0.0.1");
    o->redis_port = 6379;
    o->redis_timeout_ms = 250; /* docs/operations.md: how it was chosen */
    o->offer_ms = 15000;
    o->decision_ttl_ms = 32000;
    o->history_days = 90;
    o->log_level = "info";
    o->admin = "127.0.0.1:9560";
    o->health_interval_ms = 5000;
    o->health_down = 3;
    o->health_up = 2;
    o->site_picks = 50;
    o->over_limit = OPTS_OVER_FALLBACK;
    o->source_rate = 500;
    o->tcp_max_conns = 2048;
    o->tcp_idle_s = 120;
    o->tcp_msg_ms = 5000;
    o->tcp_max_msg = 65535;
    err[0] = '\0';

    optind = 0; /* 0, not 1: a full rescan, also after an earlier error */
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        const char *a = optarg;
        switch (c) {
        case O_CONFIG: o->config = a; break;
        case O_LISTEN: {
            const char *why = NULL;
            if (parse_listen(o, a, &why) < 0) {
                if (why) snprintf(err, errlen, "--listen: at most %d addresses (udp+tcp counts two)", OPTS_MAX_LISTEN);
                else snprintf(err, errlen, "--listen %s: want [udp:|tcp:|tls:|udp+tcp:]ADDR:PORT with a numeric "
                                           "address, e.g. 127.0.0.1:5060, tcp:[::1]:5060 or tls:0.0.0.0:5061", a);
                return -EINVAL;
            }
            break;
        }
        case O_WORKERS:
            if (parse_uint(a, 1, 256, &o->workers) < 0) {
                snprintf(err, errlen, "--workers %s: want a number from 1 to 256", a);
                return -EINVAL;
            }
            break;
        case O_REDIS:
            if (parse_hostport(a, o->redis_host, sizeof(o->redis_host), &o->redis_port) < 0) {
                snprintf(err, errlen, "--redis %s: want HOST:PORT, e.g. 127.0.0.1:6379", a);
                return -EINVAL;
            }
            break;
        case O_SENTINEL: {
            char h[256];
            unsigned port, n = 0;
            for (const char *q = o->redis_sentinels; *q; q++) n += *q == ',';
            if (parse_hostport(a, h, sizeof(h), &port) < 0 || (o->redis_sentinels[0] && n >= 3) ||
                strlen(o->redis_sentinels) + strlen(a) + 2 > sizeof(o->redis_sentinels)) {
                snprintf(err, errlen, "--redis-sentinel %s: want HOST:PORT (at most 4 sentinels)", a);
                return -EINVAL;
            }
            size_t l = strlen(o->redis_sentinels);
            snprintf(o->redis_sentinels + l, sizeof(o->redis_sentinels) - l, "%s%s:%u", l ? "," : "", h, port);
            break;
        }
        case O_MASTER:
            if (!*a || strlen(a) > 63 || strpbrk(a, " \t\r\n")) {
                snprintf(err, errlen, "--redis-master %s: want a master name", a);
                return -EINVAL;
            }
            o->redis_master = a;
            break;
        case O_REDIS_TIMEOUT:
            if (parse_uint(a, 1, 10000, &o->redis_timeout_ms) < 0) {
                snprintf(err, errlen, "--redis-timeout %s: want milliseconds from 1 to 10000", a);
                return -EINVAL;
            }
            break;
        case O_OFFER:
            if (parse_uint(a, 1, 600000, &o->offer_ms) < 0) {
                snprintf(err, errlen, "--offer-window %s: want milliseconds from 1 to 600000", a);
                return -EINVAL;
            }
            break;
        case O_HISTORY_DAYS:
            if (parse_uint(a, 0, 3660, &o->history_days) < 0) {
                snprintf(err, errlen, "--history-days %s: want days from 0 to 3660", a);
                return -EINVAL;
            }
            break;
        case O_HISTORY_MAX:
            if (parse_uint(a, 1, 100000000, &o->history_max) < 0) {
                snprintf(err, errlen, "--history-max %s: want calls from 1 to 100000000", a);
                return -EINVAL;
            }
            break;
        case O_TTL:
            if (parse_uint(a, 1000, 3600000, &o->decision_ttl_ms) < 0) {
                snprintf(err, errlen, "--decision-ttl %s: want milliseconds from 1000 to 3600000", a);
                return -EINVAL;
            }
            break;
        case O_LOG:
            if (strcmp(a, "error") && strcmp(a, "warn") && strcmp(a, "info") && strcmp(a, "debug")) {
                snprintf(err, errlen, "--log-level %s: want error, warn, info or debug", a);
                return -EINVAL;
            }
            o->log_level = a;
            break;
        case ':':
            snprintf(err, errlen, "%s: missing value (see --help)", argv[optind - 1]);
            return -EINVAL;
        case O_ADMIN: {
            opts_addr_t tmp;
            if (strcmp(a, "off") == 0) {
                o->admin = NULL;
            } else if (opts_parse_bind_addr(a, &tmp) < 0) {
                snprintf(err, errlen, "--admin %s: want a numeric ADDR:PORT, or off", a);
                return -EINVAL;
            } else {
                o->admin = a;
            }
            break;
        }
        case O_ADVERTISE:
            if (parse_advertise(a, o) < 0) {
                snprintf(err, errlen, "--advertise %s: want a numeric ADDR or ADDR:PORT, e.g. 192.0.2.10:5060 or [2001:db8::1]", a);
                return -EINVAL;
            }
            break;
        case O_RR: o->record_route = true; break;
        case O_SITE_PICKS:
            if (parse_uint(a, 0, 1000000, &o->site_picks) < 0) {
                snprintf(err, errlen, "--site-picks %s: want picks a second, 0 (no cap) to 1000000", a);
                return -EINVAL;
            }
            break;
        case O_OVER:
            if (strcmp(a, "fallback") == 0) o->over_limit = OPTS_OVER_FALLBACK;
            else if (strcmp(a, "503") == 0) o->over_limit = OPTS_OVER_503;
            else if (strcmp(a, "drop") == 0) o->over_limit = OPTS_OVER_DROP;
            else {
                snprintf(err, errlen, "--over-limit %s: want fallback, 503 or drop", a);
                return -EINVAL;
            }
            break;
        case O_SOURCE_RATE:
            if (parse_uint(a, 0, OPTS_SOURCE_RATE_MAX, &o->source_rate) < 0) {
                snprintf(err, errlen, "--source-rate %s: want requests a second, 0 (no limit) to %u", a,
                         OPTS_SOURCE_RATE_MAX);
                return -EINVAL;
            }
            break;
        case O_SOURCE_OVER:
            if (strcmp(a, "drop") == 0) o->source_503 = false;
            else if (strcmp(a, "503") == 0) o->source_503 = true;
            else {
                snprintf(err, errlen, "--source-over %s: want drop or 503", a);
                return -EINVAL;
            }
            break;
        case O_TCP_CONNS:
            if (parse_uint(a, 1, 1000000, &o->tcp_max_conns) < 0) {
                snprintf(err, errlen, "--tcp-max-conns %s: want a number from 1 to 1000000", a);
                return -EINVAL;
            }
            break;
        case O_TCP_IDLE:
            if (parse_uint(a, 1, 86400, &o->tcp_idle_s) < 0) {
                snprintf(err, errlen, "--tcp-idle-timeout %s: want seconds from 1 to 86400", a);
                return -EINVAL;
            }
            break;
        case O_TCP_MSG_MS:
            if (parse_uint(a, 10, 600000, &o->tcp_msg_ms) < 0) {
                snprintf(err, errlen, "--tcp-message-timeout %s: want milliseconds from 10 to 600000", a);
                return -EINVAL;
            }
            break;
        case O_TCP_MAX_MSG:
            if (parse_uint(a, 1024, 1048576, &o->tcp_max_msg) < 0) {
                snprintf(err, errlen, "--tcp-max-message %s: want bytes from 1024 to 1048576", a);
                return -EINVAL;
            }
            break;
        case O_TLS_CERT:
        case O_TLS_KEY:
        case O_TLS_CA:
            if (!*a) {
                snprintf(err, errlen, "--tls-%s: want a PEM file name",
                         c == O_TLS_CERT ? "cert" : c == O_TLS_KEY ? "key" : "ca");
                return -EINVAL;
            }
            if (c == O_TLS_CERT) o->tls_cert = a;
            else if (c == O_TLS_KEY) o->tls_key = a;
            else o->tls_ca = a;
            break;
        case O_PORTS_FILE:
            if (!*a) {
                snprintf(err, errlen, "--ports-file %s: want a file name", a);
                return -EINVAL;
            }
            o->ports_file = a;
            break;
        case O_DNS: {
            opts_addr_t tmp;
            unsigned n = 0;
            for (const char *q = o->dns_servers; *q; q++) n += *q == ',';
            if (opts_parse_addr(a, &tmp) < 0 || (o->dns_servers[0] && n >= 2)) {
                snprintf(err, errlen, "--dns-server %s: want a numeric ADDR:PORT, e.g. 127.0.0.1:53 (at most 3)", a);
                return -EINVAL;
            }
            size_t l = strlen(o->dns_servers);
            snprintf(o->dns_servers + l, sizeof(o->dns_servers) - l, "%s%s", l ? "," : "", a);
            break;
        }
        case O_HC_INTERVAL:
            if (parse_uint(a, 100, 600000, &o->health_interval_ms) < 0) {
                snprintf(err, errlen, "--health-interval %s: want milliseconds from 100 to 600000", a);
                return -EINVAL;
            }
            break;
        case O_HC_DOWN:
        case O_HC_UP:
            if (parse_uint(a, 1, 100, c == O_HC_DOWN ? &o->health_down : &o->health_up) < 0) {
                snprintf(err, errlen, "--health-%s %s: want a number from 1 to 100", c == O_HC_DOWN ? "down" : "up", a);
                return -EINVAL;
            }
            break;
        case O_HELP: o->help = true; break;
        case O_VERSION: o->version = true; break;
        default:
            if (optopt) snprintf(err, errlen, "unknown or incomplete flag (see --help)");
            else snprintf(err, errlen, "unknown flag %s (see --help)", argv[optind - 1]);
            return -EINVAL;
        }
    }
    if (optind < argc) {
        snprintf(err, errlen, "unexpected argument %s (see --help)", argv[optind]);
        return -EINVAL;
    }
    if (o->help || o->version) return 0;
    if (!o->config) {
        snprintf(err, errlen, "--config FILE is required (see --help)");
        return -EINVAL;
    }
    if (!o->redis_sentinels[0] != !o->redis_master) {
        snprintf(err, errlen, "--redis-sentinel and --redis-master go together (see --help)");
        return -EINVAL;
    }
    if (o->n_listen == 0) opts_parse_addr("127.0.0.1:5060", &o->listen[o->n_listen++]);
    bool tls = false;
    for (unsigned i = 0; i < o->n_listen; i++) tls |= o->listen[i].proto == OPTS_TLS;
    if (tls && (!o->tls_cert || !o->tls_key)) {
        snprintf(err, errlen, "a tls: --listen needs --tls-cert and --tls-key (see --help)");
        return -EINVAL;
    }
    if (!tls && (o->tls_cert || o->tls_key || o->tls_ca)) {
        snprintf(err, errlen, "--tls-cert, --tls-key and --tls-ca need a tls: --listen (see --help)");
        return -EINVAL;
    }
    return 0;
}

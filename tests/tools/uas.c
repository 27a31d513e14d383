/* uas -- a SIP user agent server over UDP on loopback: the downstream
 * target of forward-mode integration tests (the proxy relays requests to it
 * and its responses back). A test tool: plain C and POSIX sockets.
 *
 *   uas --listen 127.0.0.1:PORT|[::1]:PORT [--name NAME] [--log FILE]
 *       [--invite STATUS[,STATUS...]] [--ring-ms MS] [--silent]
 *       [--options-status N] [--pidfile FILE] [--max-seconds S]
 *
 * Binds PORT (0: a free one) and prints "listening HOST:PORT" once ready
 * (HOST as in a URI: 127.0.0.1, [::1]).
 * Responses follow RFC 3261 8.2.6: every Via in order, From, To (with a tag
 * NAME-<hash of the Call-ID> when the request's To has none, except on
 * 100), Call-ID, CSeq, Content-Length: 0; a Contact <sip:NAME@IP:PORT> on
 * 180, 2xx and 3xx to INVITE, the Record-Route headers on 180 and 2xx. The
 * top Via gets received= and rport= (RFC 3261 18.2.1, RFC 3581) and the
 * response goes where it says (18.2.2; a host that is not a numeric
 * loopback address of the listen address's family: back to the source of
 * the request). An IPv6 host is bracketed in the Contact and in sent-by,
 * not in received= (RFC 3261 25.1).
 *
 *   INVITE   100 at once; after --ring-ms (default 0) 180 and the final
 *            status: the Nth call (new Call-ID) gets the Nth --invite status
 *            (default 200; the last one repeats), another INVITE in a known
 *            call gets that call's status. A retransmission (same Call-ID,
 *            CSeq and top Via branch) gets 100 while ringing, then the same
 *            final again.
 *   CANCEL   of a ringing INVITE (same Call-ID and top Via branch): 200,
 *            then 487 to the INVITE; else 481. A retransmission: the same.
 *   ACK      nothing.  OPTIONS: --options-status (default 200).
 *   other    200.
 * --silent answers nothing. Responses and datagrams that are not SIP are
 * logged and otherwise ignored.
 *
 * --log FILE appends a line per datagram received, flushed at once:
 *   METHOD|RESPONSE callid=C cseq=N METHOD branch=B vias=N ruri=U mf=N from=HOST:PORT
 * (a missing field is "-"; a datagram that does not parse:
 * "INVALID len=N from=HOST:PORT"), and FILE.raw each datagram as received
 * but with LF line ends, followed by a line "----".
 *
 * Exits 0 on SIGTERM or SIGINT and after --max-seconds (default 300);
 * 2 on bad usage, 1 when the port cannot be bound.
 */
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "loopaddr.h"

#define MAX_DGRAM 65536
#define MAX_HDRS 1024
#define MAX_PARAMS 64
#define MAX_STATUSES 64
#define MAX_NAME 64
#define TX_SLOTS 4096
#define CALL_SLOTS 4096

typedef struct {
    const char *s;
    size_t len;
} str_t;

typedef struct {
    str_t name, value;
} hdr_t;

/* A parsed datagram: pointers into it and into store (header values with
 * folded lines joined). */
typedef struct {
    bool is_resp;
    str_t method, ruri;
    hdr_t hdrs[MAX_HDRS];
    unsigned n_hdrs;
    const hdr_t *callid, *cseq, *from, *to, *mf;
    unsigned n_vias;
    int top_hdr;    /* the header holding the top Via value, -1: none */
    str_t top_via;  /* the top Via value */
    size_t top_end; /* where it ends in that header's value */
    char store[MAX_DGRAM];
} msg_t;

/* The top Via: "SIP/2.0/UDP host:port" and its parameters. */
typedef struct {
    str_t head, host, port;
    str_t pname[MAX_PARAMS], pval[MAX_PARAMS];
    bool has_val[MAX_PARAMS];
    unsigned n_params;
    bool overflow; /* more parameters than we keep: copied verbatim */
    str_t raw;
} via_t;

/* A server transaction: INVITEs (to answer retransmissions and CANCELs)
 * and CANCELs (retransmissions). */
typedef struct {
    bool used, invite, pending;
    uint64_t key;  /* Call-ID, CSeq, top Via branch */
    uint64_t ckey; /* Call-ID, top Via branch: what its CANCEL carries */
    int status;    /* the final status, sent or due */
    int64_t due;   /* pending: when 180 and the final go */
    char *raw;     /* pending: the INVITE */
    size_t raw_len;
    loopaddr_t src;
} tx_t;

typedef struct {
    bool used;
    uint64_t key;
    int status;
} call_t;

typedef struct {
    char *buf;
    size_t len, cap;
    bool full;
} out_t;

static struct {
    char host[LOOPADDR_HOST_MAX]; /* ours, as in a URI */
    unsigned port;
    const char *name;
    int statuses[MAX_STATUSES];
    unsigned n_statuses;
    unsigned ring_ms;
    bool silent;
    int options_status;
    FILE *log, *raw;
} cfg = { .name = "uas", .statuses = { 200 }, .n_statuses = 1, .options_status = 200 };

static int sock = -1;
static volatile sig_atomic_t stop_sig;
static msg_t cur, aux; /* the datagram being handled; a stored INVITE */
static tx_t txs[TX_SLOTS];
static unsigned tx_next, n_pending;
static call_t calls[CALL_SLOTS];
static unsigned call_next, n_calls;

static int usage(void)
{
    fprintf(stderr, "usage: uas --listen 127.0.0.1:PORT|[::1]:PORT [--name NAME] [--log FILE] "
                    "[--invite STATUS[,STATUS...]] [--ring-ms MS] [--silent] "
                    "[--options-status N] [--pidfile FILE] [--max-seconds S]\n");
    return 2;
}

static int bad_flag(const char *flag, const char *val)
{
    fprintf(stderr, "uas: bad %s: %s\n", flag, val);
    return usage();
}

static void on_signal(int sig)
{
    (void)sig;
    stop_sig = 1;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool parse_num(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < min || v > max) return false;
    *out = v;
    return true;
}

/* ---- strings ---- */

static str_t trim(const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t')) s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
    return (str_t){ s, n };
}

static bool str_ieq(str_t s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && strncasecmp(s.s, lit, n) == 0;
}

static bool is_token(int c)
{
    return isalnum(c) || (c && strchr("-.!%*_+`'~", c));
}

static bool hdr_is(const hdr_t *h, const char *full, char compact)
{
    if (compact && h->name.len == 1 && tolower((unsigned char)h->name.s[0]) == compact) return true;
    return str_ieq(h->name, full);
}

static uint64_t fnv(uint64_t h, str_t s)
{
    for (size_t i = 0; i < s.len; i++) {
        h ^= (unsigned char)s.s[i];
        h *= 1099511628211ULL;
    }
    h ^= 0xff; /* a separator no header value holds */
    return h * 1099511628211ULL;
}

#define FNV0 14695981039346656037ULL

/* ---- output ---- */

static void put(out_t *o, const char *s, size_t n)
{
    if (o->full || o->len + n >= o->cap) {
        o->full = true;
        return;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static void puts_(out_t *o, const char *s) { put(o, s, strlen(s)); }
static void puts_str(out_t *o, str_t s) { put(o, s.s, s.len); }

static void putf(out_t *o, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp)) o->full = true;
    else put(o, tmp, (size_t)n);
}

/* ---- parsing ---- */

static bool parse_start(msg_t *m, const char *p, size_t n)
{
    if (n >= 8 && strncmp(p, "SIP/2.0 ", 8) == 0) {
        if (n < 11 || !isdigit((unsigned char)p[8]) || !isdigit((unsigned char)p[9]) ||
            !isdigit((unsigned char)p[10]))
            return false;
        m->is_resp = true;
        return true;
    }
    const char *sp1 = memchr(p, ' ', n);
    if (!sp1 || sp1 == p) return false;
    for (const char *c = p; c < sp1; c++)
        if (!is_token((unsigned char)*c)) return false;
    const char *u = sp1 + 1;
    const char *sp2 = memchr(u, ' ', n - (size_t)(u - p));
    if (!sp2 || sp2 == u || !memchr(u, ':', (size_t)(sp2 - u))) return false;
    if (!str_ieq((str_t){ sp2 + 1, n - (size_t)(sp2 + 1 - p) }, "SIP/2.0")) return false;
    m->method = (str_t){ p, (size_t)(sp1 - p) };
    m->ruri = (str_t){ u, (size_t)(sp2 - u) };
    return true;
}

/* Where the Via value starting at <from> ends (a comma outside quotes and
 * brackets, or the end). */
static size_t via_value_end(str_t v, size_t from)
{
    bool quoted = false, bracket = false;
    for (size_t i = from; i < v.len; i++) {
        char c = v.s[i];
        if (c == '"') quoted = !quoted;
        else if (c == '[') bracket = true;
        else if (c == ']') bracket = false;
        else if (c == ',' && !quoted && !bracket) return i;
    }
    return v.len;
}

static void count_vias(msg_t *m, unsigned hi)
{
    const hdr_t *h = &m->hdrs[hi];
    size_t off = 0;
    while (off < h->value.len) {
        while (off < h->value.len && (h->value.s[off] == ',' || h->value.s[off] == ' ' ||
                                      h->value.s[off] == '\t'))
            off++;
        if (off >= h->value.len) break;
        size_t end = via_value_end(h->value, off);
        if (m->n_vias++ == 0) {
            m->top_hdr = (int)hi;
            m->top_via = trim(h->value.s + off, end - off);
            m->top_end = end;
        }
        off = end + 1;
    }
}

/* Split the datagram into a start line and headers (up to the first empty
 * line; the body is not looked at). False when it is not SIP. */
static bool parse(msg_t *m, const char *buf, size_t n)
{
    const char *p = buf, *end = buf + n;
    size_t used = 0;
    bool first = true;

    m->is_resp = false;
    m->method = m->ruri = m->top_via = (str_t){ "", 0 };
    m->n_hdrs = m->n_vias = 0;
    m->callid = m->cseq = m->from = m->to = m->mf = NULL;
    m->top_hdr = -1;
    m->top_end = 0;

    while (p < end && (*p == '\r' || *p == '\n')) p++; /* RFC 3261 7.5 */
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *next = nl ? nl + 1 : end;
        size_t ll = (size_t)((nl ? nl : end) - p);
        if (ll && p[ll - 1] == '\r') ll--;
        if (memchr(p, '\0', ll)) return false;
        if (first) {
            if (!parse_start(m, p, ll)) return false;
            first = false;
        } else if (ll == 0) {
            break;
        } else if (*p == ' ' || *p == '\t') {
            /* a folded line: the last header's value goes on */
            if (!m->n_hdrs) return false;
            hdr_t *h = &m->hdrs[m->n_hdrs - 1];
            str_t t = trim(p, ll);
            if (used + t.len + 1 > sizeof(m->store)) return false;
            if (t.len && h->value.len) m->store[used++] = ' ', h->value.len++;
            memcpy(m->store + used, t.s, t.len);
            used += t.len;
            h->value.len += t.len;
        } else {
            const char *colon = memchr(p, ':', ll);
            if (!colon || m->n_hdrs == MAX_HDRS) return false;
            str_t name = trim(p, (size_t)(colon - p));
            if (!name.len) return false;
            for (size_t k = 0; k < name.len; k++)
                if (!is_token((unsigned char)name.s[k])) return false;
            str_t v = trim(colon + 1, ll - (size_t)(colon + 1 - p));
            if (used + v.len > sizeof(m->store)) return false;
            memcpy(m->store + used, v.s, v.len);
            m->hdrs[m->n_hdrs++] = (hdr_t){ name, { m->store + used, v.len } };
            used += v.len;
        }
        p = next;
    }
    if (first) return false;

    for (unsigned i = 0; i < m->n_hdrs; i++) {
        const hdr_t *h = &m->hdrs[i];
        if (hdr_is(h, "via", 'v')) count_vias(m, i);
        else if (hdr_is(h, "call-id", 'i')) { if (!m->callid) m->callid = h; }
        else if (hdr_is(h, "cseq", '\0')) { if (!m->cseq) m->cseq = h; }
        else if (hdr_is(h, "from", 'f')) { if (!m->from) m->from = h; }
        else if (hdr_is(h, "to", 't')) { if (!m->to) m->to = h; }
        else if (hdr_is(h, "max-forwards", '\0')) { if (!m->mf) m->mf = h; }
    }
    return true;
}

static void via_parse(str_t v, via_t *out)
{
    const char *end = v.s + v.len;
    const char *semi = memchr(v.s, ';', v.len);

    out->raw = v;
    out->n_params = 0;
    out->overflow = false;
    out->host = out->port = (str_t){ "", 0 };
    out->head = trim(v.s, semi ? (size_t)(semi - v.s) : v.len);

    /* sent-by: the head's last word */
    size_t k = out->head.len;
    while (k && out->head.s[k - 1] != ' ' && out->head.s[k - 1] != '\t') k--;
    str_t sb = { out->head.s + k, out->head.len - k };
    const char *colon = NULL;
    if (sb.len && sb.s[0] == '[') {
        const char *close = memchr(sb.s, ']', sb.len);
        if (close) {
            out->host = (str_t){ sb.s, (size_t)(close + 1 - sb.s) };
            if (close + 1 < sb.s + sb.len && close[1] == ':') colon = close + 1;
        }
    } else {
        colon = memchr(sb.s, ':', sb.len);
        out->host = (str_t){ sb.s, colon ? (size_t)(colon - sb.s) : sb.len };
    }
    if (colon) out->port = (str_t){ colon + 1, (size_t)(sb.s + sb.len - colon - 1) };

    for (const char *q = semi ? semi + 1 : end; q < end;) {
        const char *e = memchr(q, ';', (size_t)(end - q));
        if (!e) e = end;
        str_t one = trim(q, (size_t)(e - q));
        if (one.len) {
            if (out->n_params == MAX_PARAMS) {
                out->overflow = true;
                break;
            }
            const char *eq = memchr(one.s, '=', one.len);
            unsigned i = out->n_params++;
            out->pname[i] = trim(one.s, eq ? (size_t)(eq - one.s) : one.len);
            out->has_val[i] = eq != NULL;
            out->pval[i] = eq ? trim(eq + 1, (size_t)(one.s + one.len - eq - 1)) : (str_t){ "", 0 };
        }
        q = e + 1;
    }
}

static int via_param(const via_t *v, const char *name)
{
    for (unsigned i = 0; i < v->n_params; i++)
        if (str_ieq(v->pname[i], name)) return (int)i;
    return -1;
}

static str_t via_branch(const via_t *v)
{
    int b = via_param(v, "branch");
    return b >= 0 ? v->pval[b] : (str_t){ "", 0 };
}

/* Does this From/To value carry a tag parameter? */
static bool has_tag(str_t v)
{
    size_t start = v.len, i;
    bool quoted = false;
    for (i = 0; i < v.len; i++) {
        char c = v.s[i];
        if (quoted) {
            if (c == '\\' && i + 1 < v.len) i++;
            else if (c == '"') quoted = false;
        } else if (c == '"') {
            quoted = true;
        } else if (c == '<') {
            const char *gt = memchr(v.s + i, '>', v.len - i);
            if (!gt) return false;
            start = (size_t)(gt - v.s) + 1;
            break;
        }
    }
    if (i == v.len) { /* addr-spec: parameters after the first ';' */
        const char *semi = memchr(v.s, ';', v.len);
        if (!semi) return false;
        start = (size_t)(semi - v.s);
    }
    const char *end = v.s + v.len;
    for (const char *q = v.s + start; q < end;) {
        const char *e = memchr(q, ';', (size_t)(end - q));
        if (!e) e = end;
        const char *eq = memchr(q, '=', (size_t)(e - q));
        if (str_ieq(trim(q, (size_t)((eq ? eq : e) - q)), "tag")) return true;
        q = e + 1;
    }
    return false;
}

/* ---- responses ---- */

static const char *reason(int code)
{
    switch (code) {
    case 100: return "Trying";
    case 180: return "Ringing";
    case 181: return "Call Is Being Forwarded";
    case 182: return "Queued";
    case 183: return "Session Progress";
    case 200: return "OK";
    case 202: return "Accepted";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Moved Temporarily";
    case 305: return "Use Proxy";
    case 380: return "Alternative Service";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 410: return "Gone";
    case 480: return "Temporarily Unavailable";
    case 481: return "Call/Transaction Does Not Exist";
    case 483: return "Too Many Hops";
    case 486: return "Busy Here";
    case 487: return "Request Terminated";
    case 488: return "Not Acceptable Here";
    case 500: return "Server Internal Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 504: return "Server Time-out";
    case 600: return "Busy Everywhere";
    case 603: return "Decline";
    case 604: return "Does Not Exist Anywhere";
    case 606: return "Not Acceptable";
    default: return "Status";
    }
}

/* Is <host> (a Via sent-by host, an IPv6 one bracketed) the address of
 * <src>? */
static bool is_host_of(str_t host, const loopaddr_t *src)
{
    loopaddr_t a;
    return loopaddr_host(host.s, host.len, 0, &a) && loopaddr_same_host(&a, src);
}

static void put_top_via(out_t *o, const via_t *v, const loopaddr_t *src)
{
    char ip[INET6_ADDRSTRLEN];
    bool rport = false, received = false;

    if (v->overflow) {
        puts_str(o, v->raw);
        return;
    }
    loopaddr_ip(src, ip);
    puts_str(o, v->head);
    for (unsigned i = 0; i < v->n_params; i++) {
        puts_(o, ";");
        puts_str(o, v->pname[i]);
        if (str_ieq(v->pname[i], "rport")) {
            rport = true;
            if (!v->pval[i].len) {
                putf(o, "=%u", loopaddr_port(src));
                continue;
            }
        }
        if (str_ieq(v->pname[i], "received")) received = true;
        if (v->has_val[i]) {
            puts_(o, "=");
            puts_str(o, v->pval[i]);
        }
    }
    if (!received && (rport || !is_host_of(v->host, src))) putf(o, ";received=%s", ip);
}

/* <host> (bracketed or not when IPv6) and <port> into <to> when that is a
 * loopback address our socket can send to: the family of <src>. */
static bool loopback_addr(str_t host, unsigned port, const loopaddr_t *src, loopaddr_t *to)
{
    loopaddr_t a;
    if (port == 0 || !loopaddr_host(host.s, host.len, port, &a) || a.sa.sa_family != src->sa.sa_family)
        return false;
    *to = a;
    return true;
}

static unsigned port_of(str_t s, unsigned dflt)
{
    unsigned v = 0;
    if (!s.len || s.len > 5) return s.len ? 0 : dflt;
    for (size_t i = 0; i < s.len; i++) {
        if (!isdigit((unsigned char)s.s[i])) return 0;
        v = v * 10 + (unsigned)(s.s[i] - '0');
    }
    return v;
}

/* RFC 3261 18.2.2 for unreliable unicast, with RFC 3581's rport; the Via
 * as it is after put_top_via (received= and rport= filled in from <src>).
 * Not a numeric loopback address of <src>'s family: back to <src>. */
static loopaddr_t reply_to(const via_t *v, const loopaddr_t *src)
{
    loopaddr_t to = *src;
    char ip[INET6_ADDRSTRLEN];
    int maddr = via_param(v, "maddr"), rec = via_param(v, "received"), rp = via_param(v, "rport");
    unsigned sb_port = port_of(v->port, 5060);

    loopaddr_ip(src, ip);
    str_t src_ip = { ip, strlen(ip) };
    if (maddr >= 0) {
        loopback_addr(v->pval[maddr], sb_port, src, &to);
    } else if (rec >= 0 || rp >= 0 || !is_host_of(v->host, src)) {
        str_t host = rec >= 0 ? v->pval[rec] : src_ip;
        unsigned port = rp < 0 ? sb_port : v->pval[rp].len ? port_of(v->pval[rp], 0) : loopaddr_port(src);
        loopback_addr(host, port, src, &to);
    } else {
        loopback_addr(v->host, sb_port, src, &to);
    }
    return to;
}

/* The response <code> to request <m>; 0 when it does not fit. */
static size_t build(const msg_t *m, const via_t *v, const loopaddr_t *src, int code, char *buf,
                    size_t cap)
{
    out_t o = { buf, 0, cap, false };
    bool invite = str_ieq(m->method, "INVITE");

    putf(&o, "SIP/2.0 %d %s\r\n", code, reason(code));
    for (unsigned i = 0; i < m->n_hdrs; i++) {
        const hdr_t *h = &m->hdrs[i];
        if (!hdr_is(h, "via", 'v')) continue;
        puts_(&o, "Via: ");
        if ((int)i == m->top_hdr) {
            put_top_via(&o, v, src);
            size_t r = m->top_end;
            while (r < h->value.len && (h->value.s[r] == ',' || h->value.s[r] == ' ' || h->value.s[r] == '\t'))
                r++;
            if (r < h->value.len) {
                puts_(&o, ", ");
                put(&o, h->value.s + r, h->value.len - r);
            }
        } else {
            puts_str(&o, h->value);
        }
        puts_(&o, "\r\n");
    }
    puts_(&o, "From: ");
    puts_str(&o, m->from->value);
    puts_(&o, "\r\nTo: ");
    puts_str(&o, m->to->value);
    if (code > 100 && !has_tag(m->to->value))
        putf(&o, ";tag=%s-%08x", cfg.name, (unsigned)(fnv(FNV0, m->callid->value) & 0xffffffffu));
    puts_(&o, "\r\nCall-ID: ");
    puts_str(&o, m->callid->value);
    puts_(&o, "\r\nCSeq: ");
    puts_str(&o, m->cseq->value);
    puts_(&o, "\r\n");
    if (invite && code > 100 && code < 300) /* the dialog's route set (RFC 3261 12.1.1) */
        for (unsigned i = 0; i < m->n_hdrs; i++)
            if (hdr_is(&m->hdrs[i], "record-route", '\0')) {
                puts_(&o, "Record-Route: ");
                puts_str(&o, m->hdrs[i].value);
                puts_(&o, "\r\n");
            }
    if (invite && code > 100 && code < 400) putf(&o, "Contact: <sip:%s@%s:%u>\r\n", cfg.name, cfg.host, cfg.port);
    if (str_ieq(m->method, "OPTIONS")) puts_(&o, "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS\r\n");
    puts_(&o, "Content-Length: 0\r\n\r\n");
    return o.full ? 0 : o.len;
}

static void respond(const msg_t *m, const via_t *v, const loopaddr_t *src, int code)
{
    static char buf[MAX_DGRAM];
    size_t n = build(m, v, src, code, buf, sizeof(buf));
    if (!n) {
        fprintf(stderr, "uas: the %d response does not fit a datagram\n", code);
        return;
    }
    loopaddr_t to = reply_to(v, src);
    if (sendto(sock, buf, n, 0, &to.sa, loopaddr_len(&to)) < 0) perror("uas: sendto");
}

/* ---- transactions and calls ---- */

static tx_t *tx_find(uint64_t key)
{
    for (unsigned i = 0; i < TX_SLOTS; i++)
        if (txs[i].used && txs[i].key == key) return &txs[i];
    return NULL;
}

static tx_t *tx_find_invite(uint64_t ckey)
{
    for (unsigned i = 0; i < TX_SLOTS; i++)
        if (txs[i].used && txs[i].invite && txs[i].ckey == ckey) return &txs[i];
    return NULL;
}

static void tx_unpend(tx_t *t)
{
    free(t->raw);
    t->raw = NULL;
    t->pending = false;
    n_pending--;
}

/* The ring time is over: 180 and the final status. */
static void tx_ring_out(tx_t *t)
{
    via_t v;
    if (parse(&aux, t->raw, t->raw_len)) {
        via_parse(aux.top_via, &v);
        respond(&aux, &v, &t->src, 180);
        respond(&aux, &v, &t->src, t->status);
    }
    tx_unpend(t);
}

static tx_t *tx_add(uint64_t key, uint64_t ckey, bool invite, int status)
{
    tx_t *t = &txs[tx_next];
    tx_next = (tx_next + 1) % TX_SLOTS;
    if (t->pending) tx_ring_out(t); /* the oldest goes: answer it now */
    *t = (tx_t){ .used = true, .invite = invite, .key = key, .ckey = ckey, .status = status };
    return t;
}

/* The final status for an INVITE in call <key>: that call's, or the next
 * one of --invite for a new call. */
static int call_status(uint64_t key)
{
    for (unsigned i = 0; i < CALL_SLOTS; i++)
        if (calls[i].used && calls[i].key == key) return calls[i].status;
    int status = cfg.statuses[n_calls < cfg.n_statuses ? n_calls : cfg.n_statuses - 1];
    if (n_calls < cfg.n_statuses) n_calls++;
    calls[call_next] = (call_t){ true, key, status };
    call_next = (call_next + 1) % CALL_SLOTS;
    return status;
}

static void on_invite(const msg_t *m, const via_t *v, const char *buf, size_t n, const loopaddr_t *src,
                      uint64_t key, uint64_t ckey)
{
    tx_t *t = tx_find(key);
    if (t) { /* a retransmission */
        respond(m, v, src, t->pending ? 100 : t->status);
        return;
    }
    int status = call_status(fnv(FNV0, m->callid->value));
    respond(m, v, src, 100);
    if (cfg.ring_ms == 0) {
        respond(m, v, src, 180);
        respond(m, v, src, status);
        tx_add(key, ckey, true, status);
        return;
    }
    char *copy = malloc(n);
    if (!copy) {
        perror("uas: malloc");
        return;
    }
    memcpy(copy, buf, n);
    t = tx_add(key, ckey, true, status);
    t->pending = true;
    t->due = now_ms() + cfg.ring_ms;
    t->raw = copy;
    t->raw_len = n;
    t->src = *src;
    n_pending++;
}

static void on_cancel(const msg_t *m, const via_t *v, const loopaddr_t *src, uint64_t key, uint64_t ckey)
{
    tx_t *t = tx_find(key);
    if (t) { /* a retransmission */
        respond(m, v, src, t->status);
        return;
    }
    tx_t *inv = tx_find_invite(ckey);
    int status = inv && inv->pending ? 200 : 481;
    respond(m, v, src, status);
    if (status == 200) {
        via_t iv;
        inv->status = 487;
        if (parse(&aux, inv->raw, inv->raw_len)) {
            via_parse(aux.top_via, &iv);
            respond(&aux, &iv, &inv->src, 487);
        }
        tx_unpend(inv);
    }
    tx_add(key, 0, false, status);
}

/* ---- logging ---- */

static void log_field(FILE *f, const char *key, str_t v)
{
    fprintf(f, " %s=", key);
    if (!v.len) fputc('-', f);
    for (size_t i = 0; i < v.len; i++) fputc(isprint((unsigned char)v.s[i]) ? v.s[i] : '?', f);
}

static str_t hval(const hdr_t *h) { return h ? h->value : (str_t){ "", 0 }; }

static void log_datagram(const char *buf, size_t n, const msg_t *m, bool ok, str_t branch,
                         const loopaddr_t *src)
{
    char host[LOOPADDR_HOST_MAX];
    loopaddr_uri_host(src, host);
    if (cfg.log) {
        if (!ok) {
            fprintf(cfg.log, "INVALID len=%zu", n);
        } else {
            fprintf(cfg.log, "%.*s", m->is_resp ? 8 : (int)m->method.len, m->is_resp ? "RESPONSE" : m->method.s);
            log_field(cfg.log, "callid", hval(m->callid));
            log_field(cfg.log, "cseq", hval(m->cseq));
            log_field(cfg.log, "branch", branch);
            fprintf(cfg.log, " vias=%u", m->n_vias);
            log_field(cfg.log, "ruri", m->ruri);
            log_field(cfg.log, "mf", hval(m->mf));
        }
        fprintf(cfg.log, " from=%s:%u\n", host, loopaddr_port(src));
        fflush(cfg.log);
    }
    if (cfg.raw) {
        for (size_t i = 0; i < n; i++)
            if (buf[i] != '\r') fputc(buf[i], cfg.raw);
        if (n && buf[n - 1] != '\n') fputc('\n', cfg.raw);
        fputs("----\n", cfg.raw);
        fflush(cfg.raw);
    }
}

static void handle(const char *buf, size_t n, const loopaddr_t *src)
{
    static via_t v;
    bool ok = parse(&cur, buf, n);
    if (ok) via_parse(cur.top_via, &v);
    log_datagram(buf, n, &cur, ok, ok ? via_branch(&v) : (str_t){ "", 0 }, src);
    if (!ok || cur.is_resp || cfg.silent) return;
    if (!cur.callid || !cur.cseq || !cur.from || !cur.to || cur.top_hdr < 0) return;
    if (str_ieq(cur.method, "ACK")) return;

    str_t branch = via_branch(&v);
    uint64_t ckey = fnv(fnv(FNV0, cur.callid->value), branch);
    uint64_t key = fnv(fnv(fnv(FNV0, cur.callid->value), cur.cseq->value), branch);
    if (str_ieq(cur.method, "INVITE")) on_invite(&cur, &v, buf, n, src, key, ckey);
    else if (str_ieq(cur.method, "CANCEL")) on_cancel(&cur, &v, src, key, ckey);
    else if (str_ieq(cur.method, "OPTIONS")) respond(&cur, &v, src, cfg.options_status);
    else respond(&cur, &v, src, 200);
}

/* Ring out what is due; when the next one is (INT64_MAX: none). */
static int64_t run_timers(int64_t now)
{
    int64_t next = INT64_MAX;
    for (unsigned i = 0; n_pending && i < TX_SLOTS; i++) {
        if (!txs[i].pending) continue;
        if (txs[i].due <= now) tx_ring_out(&txs[i]);
        else if (txs[i].due < next) next = txs[i].due;
    }
    return next;
}

int main(int argc, char **argv)
{
    const char *listen_at = NULL, *log_path = NULL, *pidfile = NULL;
    long max_seconds = 300, v;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--silent")) {
            cfg.silent = true;
            continue;
        }
        if (strncmp(a, "--", 2) != 0 || i + 1 >= argc) return usage();
        const char *val = argv[++i];
        if (!strcmp(a, "--listen")) {
            listen_at = val;
        } else if (!strcmp(a, "--name")) {
            size_t n = strlen(val);
            if (!n || n > MAX_NAME) return bad_flag(a, val);
            for (size_t k = 0; k < n; k++)
                if (!isalnum((unsigned char)val[k]) && !strchr("-._", val[k])) return bad_flag(a, val);
            cfg.name = val;
        } else if (!strcmp(a, "--log")) {
            log_path = val;
        } else if (!strcmp(a, "--invite")) {
            char tmp[512], *save = NULL;
            if (strlen(val) >= sizeof(tmp)) return bad_flag(a, val);
            strcpy(tmp, val);
            cfg.n_statuses = 0;
            for (char *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                if (cfg.n_statuses == MAX_STATUSES || !parse_num(t, 200, 699, &v)) return bad_flag(a, val);
                cfg.statuses[cfg.n_statuses++] = (int)v;
            }
            if (!cfg.n_statuses || val[strlen(val) - 1] == ',' || val[0] == ',' || strstr(val, ",,"))
                return bad_flag(a, val);
        } else if (!strcmp(a, "--ring-ms")) {
            if (!parse_num(val, 0, 3600000, &v)) return bad_flag(a, val);
            cfg.ring_ms = (unsigned)v;
        } else if (!strcmp(a, "--options-status")) {
            if (!parse_num(val, 200, 699, &v)) return bad_flag(a, val);
            cfg.options_status = (int)v;
        } else if (!strcmp(a, "--pidfile")) {
            pidfile = val;
        } else if (!strcmp(a, "--max-seconds")) {
            if (!parse_num(val, 1, 86400, &max_seconds)) return bad_flag(a, val);
        } else {
            fprintf(stderr, "uas: unknown flag %s\n", a);
            return usage();
        }
    }
    if (!listen_at) return usage();

    loopaddr_t me;
    int rc = loopaddr_parse(listen_at, &me);
    if (rc == -EADDRNOTAVAIL) {
        fprintf(stderr, "uas: --listen must be a 127.x.x.x or [::1] address\n");
        return 2;
    }
    if (rc < 0) return bad_flag("--listen", listen_at);

    if (log_path) {
        char raw_path[4096];
        if (snprintf(raw_path, sizeof(raw_path), "%s.raw", log_path) >= (int)sizeof(raw_path))
            return bad_flag("--log", log_path);
        cfg.log = fopen(log_path, "a");
        cfg.raw = cfg.log ? fopen(raw_path, "a") : NULL;
        if (!cfg.log || !cfg.raw) {
            fprintf(stderr, "uas: %s: %s\n", cfg.log ? raw_path : log_path, strerror(errno));
            return 2;
        }
    }

    sock = socket(me.sa.sa_family, SOCK_DGRAM, 0);
    if (sock < 0) {
        perror("uas: socket");
        return 1;
    }
    int rb = 8 << 20;
    if (setsockopt(sock, SOL_SOCKET, SO_RCVBUFFORCE, &rb, sizeof(rb)) < 0)
        setsockopt(sock, SOL_SOCKET, SO_RCVBUF, &rb, sizeof(rb));
    if (bind(sock, &me.sa, loopaddr_len(&me)) < 0) {
        fprintf(stderr, "uas: bind %s: %s\n", listen_at, strerror(errno));
        return 1;
    }
    socklen_t ml = loopaddr_len(&me);
    getsockname(sock, &me.sa, &ml);
    loopaddr_uri_host(&me, cfg.host);
    cfg.port = loopaddr_port(&me);

    /* SIGTERM and SIGINT only get through while waiting in ppoll */
    sigset_t block, waitmask;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, &waitmask);
    sigdelset(&waitmask, SIGTERM);
    sigdelset(&waitmask, SIGINT);
    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    if (pidfile) {
        FILE *f = fopen(pidfile, "w");
        if (!f || fprintf(f, "%ld\n", (long)getpid()) < 0 || fclose(f) != 0) {
            fprintf(stderr, "uas: %s: %s\n", pidfile, strerror(errno));
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("listening %s:%u\n", cfg.host, cfg.port);

    const int64_t deadline = now_ms() + max_seconds * 1000;
    struct pollfd p = { sock, POLLIN, 0 };
    static char buf[MAX_DGRAM];
    while (!stop_sig) {
        int64_t now = now_ms();
        if (now >= deadline) {
            fprintf(stderr, "uas: --max-seconds %ld passed, exiting\n", max_seconds);
            break;
        }
        int64_t next = run_timers(now), wait = deadline - now;
        if (next != INT64_MAX && next - now < wait) wait = next > now ? next - now : 0;
        struct timespec ts = { (time_t)(wait / 1000), (long)(wait % 1000) * 1000000 };
        int r = ppoll(&p, 1, &ts, &waitmask);
        if (r < 0) {
            if (errno == EINTR) continue;
            perror("uas: ppoll");
            return 1;
        }
        /* a burst at most, so that ringing INVITEs are not held up */
        for (int k = 0; r > 0 && k < 256; k++) {
            loopaddr_t src;
            socklen_t sl = sizeof(src);
            ssize_t n = recvfrom(sock, buf, sizeof(buf), MSG_DONTWAIT, &src.sa, &sl);
            if (n < 0) break;
            if (src.sa.sa_family != me.sa.sa_family || sl != loopaddr_len(&src)) continue;
            handle(buf, (size_t)n, &src);
        }
    }
    for (unsigned i = 0; i < TX_SLOTS; i++) free(txs[i].raw);
    if (cfg.log) fclose(cfg.log);
    if (cfg.raw) fclose(cfg.raw);
    close(sock);
    return 0;
}

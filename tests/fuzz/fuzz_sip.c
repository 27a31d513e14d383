/* fuzz_sip.c -- libFuzzer harness for Frontdesk's SIP front end.
 *
 * One input = one UDP datagram received from 127.0.0.1:5060 (or, for about
 * a third of the inputs -- those whose length is a multiple of 3 -- from
 * [::1]:5060). It checks the parser's reading of it (sip_parse(),
 * sip_parse_ack(), the spans, rport), the builders on it (sipresp_*() at
 * exact and one-short capacities, fwd_build_*()), and then hands it to the
 * real routing core, route_datagram() (proxy/route.c, route_fwd.c), twice:
 * with the demo rules (redirect mode) and with the same rules in forward
 * mode, through an environment of fakes (route.h): a sender that checks
 * every datagram the core sends, a store that answers each pick or
 * decision in one of four ways chosen by the input (staff, nobody free,
 * Redis down, or after the deadline), a resolver that knows no name. Every
 * INVITE must get exactly one answer or forwarded request; nothing may be
 * left waiting.
 *
 * plus the raw header helpers sip_next_header()/sip_hdr_param() over the
 * whole input. Invariants are checked with abort() (see check_*()); ASan and
 * UBSan catch memory errors and undefined behaviour in our code (libosip2
 * itself is not instrumented, but its calls into memcpy/strlen/... are).
 *
 * Build and run: tests/fuzz/README.md.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "rules.h"
#include "arena.h"
#include "sip.h"
#include "sipresp.h"
#include "fwd.h"
#include "log.h"
#include "route.h"

#include <osipparser2/osip_parser.h>

#ifndef FUZZ_RULES_PATH
#define FUZZ_RULES_PATH "rules/examples/demo.yaml"
#endif

#define OPTION_HEADER "X-Frontdesk-Option"
#define TX_MAX ROUTE_TX_MAX

static rules_t *g_rules;      /* the demo: redirect mode */
static rules_t *g_rules_fwd;  /* the demo with mode: forward */
static bool g_arena;          /* FUZZ_ARENA=1 */

/* libosip2 prints its ERROR traces to stdout unless a trace function is
 * installed; installed with no level enabled it stays quiet. */
static void osip_quiet(const char *fi, int li, osip_trace_level_t level, const char *chfr,
                       va_list ap)
{
    (void)fi, (void)li, (void)level, (void)chfr, (void)ap;
}
static bool g_debug;    /* FUZZ_DEBUG=1: print verdicts and answers */

/* ---------------------------------------------------------------------- */
/* Failure reporting                                                      */

/* What the current checks are about, printed when one fails. */
static const char *g_ctx;
static size_t g_ctx_len;
static void dump(const char *what, const char *p, size_t n);

#define CHECK(cond, ...)                                                     \
    do {                                                                     \
        if (!(cond)) {                                                       \
            if (g_ctx) dump("checking", g_ctx, g_ctx_len);                   \
            fprintf(stderr, "fuzz_sip: invariant failed at %s:%d: %s\n",     \
                    __FILE__, __LINE__, #cond);                              \
            fprintf(stderr, "fuzz_sip: " __VA_ARGS__);                       \
            fputc('\n', stderr);                                             \
            abort();                                                         \
        }                                                                    \
    } while (0)

static void dump(const char *what, const char *p, size_t n)
{
    fprintf(stderr, "---- %s (%zu bytes) ----\n", what, n);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '\r') fputs("\\r", stderr);
        else if (c == '\n') fputs("\\n\n", stderr);
        else if (c < 0x20 || c >= 0x7f) fprintf(stderr, "\\x%02x", c);
        else fputc(c, stderr);
    }
    fputs("\n---- end ----\n", stderr);
}

/* ---------------------------------------------------------------------- */
/* Span checks                                                            */

static const char *g_buf;
static size_t g_len;

/* A raw span: NULL with length 0, or inside the datagram. */
static void check_raw_span(const char *name, span_t s)
{
    if (!s.s) {
        CHECK(s.len == 0, "span %s is NULL with len %zu", name, s.len);
        return;
    }
    CHECK(s.s >= g_buf && s.len <= g_len && (size_t)(s.s - g_buf) <= g_len - s.len,
          "span %s [%p,+%zu) outside the datagram [%p,+%zu)", name,
          (const void *)s.s, s.len, (const void *)g_buf, g_len);
}

/* A span onto a libosip2-owned C string: NULL with length 0, or exactly that
 * string (strlen() also lets ASan check that it is live). */
static void check_osip_span(const char *name, span_t s)
{
    if (!s.s) {
        CHECK(s.len == 0, "span %s is NULL with len %zu", name, s.len);
        return;
    }
    CHECK(strlen(s.s) == s.len, "span %s: len %zu but strlen %zu", name, s.len,
          strlen(s.s));
}

static bool in_span(span_t outer, span_t inner)
{
    if (!inner.s) return inner.len == 0;
    return inner.s >= outer.s && inner.len <= outer.len &&
           (size_t)(inner.s - outer.s) <= outer.len - inner.len;
}

/* ---------------------------------------------------------------------- */
/* Raw header helpers                                                     */

static void check_param(span_t v, const char *name)
{
    span_t p = sip_hdr_param(v, name);
    CHECK(in_span(v, p), "sip_hdr_param(\"%s\") outside its value", name);
}

static void fuzz_headers(const char *b, size_t len)
{
    size_t pos = 0, n = 0;
    sip_hdr_t h;
    span_t whole = { b, len };

    while (sip_next_header(b, len, &pos, &h)) {
        CHECK(++n <= len + 1, "sip_next_header does not terminate");
        CHECK(pos <= len, "pos %zu past len %zu", pos, len);
        check_raw_span("hdr.line", h.line);
        check_raw_span("hdr.name", h.name);
        check_raw_span("hdr.value", h.value);
        CHECK(h.line.len > 0, "empty header line");
        CHECK(h.name.s == h.line.s && in_span(h.line, h.name), "name not at line start");
        CHECK(in_span(h.line, h.value), "value outside its line");
        CHECK((size_t)(h.line.s - b) + h.line.len < pos || pos == len,
              "pos %zu does not move past the line", pos);
        (void)sip_hdr_is(&h, "Via", 'v');
        (void)sip_hdr_is(&h, "CSeq", '\0');
        check_param(h.value, "tag");
        check_param(h.value, "branch");
        check_param(h.value, "received");
        check_param(h.value, "");
    }
    check_param(whole, "tag");
    check_param(whole, "");
}

/* ---------------------------------------------------------------------- */
/* Answers                                                                */

static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           strchr("-.!%*_+`'~", c) != NULL;
}

/* Header section <p>/<n> (lines each ending in CRLF): every line is a
 * header field "token *WS :" or the continuation of the previous one
 * (starts with SP/HT); a CR or LF that is not part of a CRLF is a fold
 * copied from the request (followed by SP/HT); no NUL. */
static void check_header_lines(const char *what, const char *p, size_t n, bool first_is_status)
{
    size_t i = 0;
    bool first = true;

    CHECK(memchr(p, '\0', n) == NULL, "%s contains a NUL byte", what);
    while (i < n) {
        size_t s = i;
        /* find the CRLF ending this line */
        size_t e = s;
        for (;;) {
            CHECK(e < n, "%s: last line not CRLF-terminated", what);
            if (p[e] == '\r' && e + 1 < n && p[e + 1] == '\n') break;
            if (p[e] == '\r' || p[e] == '\n')
                CHECK(e + 1 < n && (p[e + 1] == ' ' || p[e + 1] == '\t' ||
                                    (p[e] == '\r' && p[e + 1] == '\n')),
                      "%s: bare CR/LF at %zu not followed by SP/HT", what, e);
            e++;
        }
        if (first && first_is_status) {
            /* checked by the caller */
        } else if (p[s] == ' ' || p[s] == '\t') {
            CHECK(!first, "%s: starts with a continuation line", what);
        } else {
            size_t k = s;
            while (k < e && is_tchar((unsigned char)p[k])) k++;
            CHECK(k > s, "%s: line at %zu is not a header field (empty line inside?)", what, s);
            while (k < e && (p[k] == ' ' || p[k] == '\t')) k++;
            CHECK(k < e && p[k] == ':', "%s: line at %zu has no header name + colon", what, s);
        }
        first = false;
        i = e + 2;
    }
}

static void check_answer(const char *out, size_t n, int status, const char *head, size_t hl)
{
    char sl[16];

    CHECK(n >= 12 + 4 && n <= TX_MAX, "answer length %zu", n);
    snprintf(sl, sizeof(sl), "SIP/2.0 %03d ", status);
    CHECK(memcmp(out, sl, strlen(sl)) == 0, "bad status line");
    CHECK(memcmp(out + n - 4, "\r\n\r\n", 4) == 0, "answer does not end with CRLFCRLF");
    const char *eoh = memmem(out, n, "\r\n\r\n", 4);
    CHECK(eoh == out + n - 4, "answer's header section ends early, at %zu of %zu",
          (size_t)(eoh - out), n);
    CHECK(memmem(out, n, head, hl) != NULL || hl == 0, "head not in answer");
    /* everything but the final empty line */
    check_header_lines("answer", out, n - 2, true);
}

/* The head built from the request: header lines only, the first Via is our
 * rewritten top Via carrying received= (or the sent-by is the source). */
static void check_head(const sip_req_t *r, const char *head, size_t hl, const char *ip)
{
    if (hl) {
        CHECK(hl >= 2 && memcmp(head + hl - 2, "\r\n", 2) == 0, "head not CRLF-terminated");
        check_header_lines("head", head, hl, false);
    }

    /* find our top Via: the first line starting "Via: " */
    const char *via = NULL;
    for (size_t i = 0; i + 5 <= hl;) {
        if (memcmp(head + i, "Via: ", 5) == 0) {
            via = head + i;
            break;
        }
        const char *nl = memmem(head + i, hl - i, "\r\n", 2);
        if (!nl) break;
        i = (size_t)(nl - head) + 2;
    }
    if (!via) {
        dump("head without Via", head, hl);
        dump("request", r->raw, r->raw_len);
    }
    CHECK(via != NULL, "head has no top Via though the request was routed");
    /* the whole field: libosip2 may print a fold (CRLF SP/HT) it kept from
     * a raw Via (SIP_REQ_BAD path) */
    size_t vl = 0, vmax = hl - (size_t)(via - head);
    for (;;) {
        const char *ve = memmem(via + vl, vmax - vl, "\r\n", 2);
        vl = (size_t)(ve - via);
        if (vl + 2 < vmax && (via[vl + 2] == ' ' || via[vl + 2] == '\t')) vl += 2;
        else break;
    }
    char want[80];
    snprintf(want, sizeof(want), ";received=%s", ip);
    char *vcopy = strndup(via, vl);
    bool has_received = strcasestr(vcopy, want) != NULL; /* param names are case-insensitive */
    free(vcopy);
    bool host_is_src = r->top_via && r->top_via->host && strcmp(r->top_via->host, ip) == 0;
    if (!has_received && !host_is_src) dump("top Via", via, vl);
    CHECK(has_received || host_is_src, "top Via has neither received=%s nor sent-by %s", ip, ip);
}

/* ---------------------------------------------------------------------- */
/* The plan                                                               */

static void check_plan(const plan_t *p)
{
    size_t rl = strnlen(p->reason, RULES_REASON_MAX);
    CHECK(rl < RULES_REASON_MAX, "plan.reason not NUL-terminated");
    for (size_t i = 0; i < rl; i++) {
        unsigned char c = (unsigned char)p->reason[i];
        CHECK(c >= 0x20 && c < 0x7f && c != '"' && c != '\\',
              "plan.reason has byte 0x%02x: \"%s\"", c, p->reason);
    }
    switch (p->kind) {
    case PLAN_REJECT:
        CHECK(p->status >= 400 && p->status <= 699 && !p->fallback, "bad reject plan");
        break;
    case PLAN_REDIRECT:
        CHECK(p->fallback && p->site && p->status == 0, "bad redirect plan");
        break;
    case PLAN_PICK:
        CHECK(p->site && p->skill && p->fallback && p->max_contacts >= 1 &&
              p->max_contacts <= RULES_MAX_CONTACTS && p->status == 0, "bad pick plan");
        break;
    default:
        CHECK(0, "plan kind %d", (int)p->kind);
    }
}

/* ---------------------------------------------------------------------- */
/* Forward mode (proxy/fwd.c), as route.c uses it                         */

static const fwd_self_t g_self4 = { "127.0.0.1", 5060 };
static const fwd_self_t g_self6 = { "::1", 5060 };
#define RETARGET "sip:alice@192.0.2.10:5070;transport=udp"

/* fwd_uri_target() on any bytes: a host that is a C string of the right
 * size, a port in range, and an address when (and only when) numeric. */
static void check_target(const char *what, const char *p, size_t n)
{
    fwd_target_t t;
    memset(&t, 0xa5, sizeof(t));
    int rc = fwd_uri_target(p, n, &t);
    CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMEM || rc == -EPROTONOSUPPORT, "%s: fwd_uri_target returned %d",
          what, rc);
    size_t hl = strnlen(t.host, sizeof(t.host));
    CHECK(hl < sizeof(t.host), "%s: target host not NUL-terminated", what);
    if (rc < 0) return;
    CHECK(hl > 0, "%s: target without a host", what);
    CHECK(t.port >= 1 && t.port <= 65535, "%s: target port %u", what, t.port);
    CHECK(t.transport == XPORT_UDP || t.transport == XPORT_TCP, "%s: target transport %d", what, (int)t.transport);
    if (t.numeric) {
        if (t.addr.ss_family == AF_INET)
            CHECK(t.addr_len == sizeof(struct sockaddr_in) &&
                  ntohs(((struct sockaddr_in *)&t.addr)->sin_port) == t.port,
                  "%s: IPv4 target address", what);
        else
            CHECK(t.addr.ss_family == AF_INET6 && t.addr_len == sizeof(struct sockaddr_in6) &&
                  ntohs(((struct sockaddr_in6 *)&t.addr)->sin6_port) == t.port,
                  "%s: target family %d", what, (int)t.addr.ss_family);
    }
    (void)fwd_uri_is_self(p, n, &g_self4);
    (void)fwd_uri_is_self(p, n, &g_self6);
}

/* FUZZ_SEEDS=dir: write each forwarded request and the response built
 * from it there (file name: what + FNV-1a of the bytes), to make seeds. */
static const char *g_seeds;

static void save_seed(const char *what, const char *p, size_t n)
{
    if (!g_seeds) return;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s-%016llx.sip", g_seeds, what, (unsigned long long)h);
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(p, 1, n, f);
    fclose(f);
}

/* How many bytes at the start of <v> are in <set>. */
static size_t strspn_n(span_t v, const char *set)
{
    size_t i = 0;
    while (i < v.len && v.s[i] && strchr(set, v.s[i])) i++;
    return i;
}

/* Header lines <i> of <a> and <j> of <b> have the same bytes. */
static bool same_line(const sip_req_t *a, unsigned i, const sip_req_t *b, unsigned j)
{
    return a->hdrs[i].line.len == b->hdrs[j].line.len &&
           memcmp(a->hdrs[i].line.s, b->hdrs[j].line.s, a->hdrs[i].line.len) == 0;
}

static void dump_req(const char *what, const char *p, size_t n)
{
    dump(what, p, n);
}

/* A response <p>/<n> that fwd_build_response() relayed as <out>/<on>:
 * it parses as a response, has the same header lines but (the value of)
 * our top Via, and the same body. Returns false when <p> itself is not a
 * response with indexed headers (nothing to compare). */

/* The body a relayed or forwarded message carries: <r>'s, up to its
 * Content-Length (bytes past it are no part of the message) */
static size_t body_len(const sip_req_t *r)
{
    size_t have = r->body_off <= r->raw_len ? r->raw_len - r->body_off : 0;
    long cl = sip_content_length(r);
    return cl >= 0 && (size_t)cl < have ? (size_t)cl : have;
}

static void check_relayed(const sip_req_t *r, const char *out, size_t on)
{
    sip_req_t r2;
    struct sockaddr_in src = { .sin_family = AF_INET, .sin_port = htons(5060) };
    src.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    CHECK(on >= 4 && memcmp(out, r->raw, 8) == 0, "relayed response does not start as it did");
    sip_verdict_t v = sip_parse(&r2, out, on, (struct sockaddr *)&src, sizeof(src), NULL);
    if (v != SIP_REQ_RESPONSE) {
        dump("response", r->raw, r->raw_len);
        dump("relayed", out, on);
    }
    CHECK(v == SIP_REQ_RESPONSE, "relayed response parses as verdict %d", (int)v);
    /* the header lines, in order, without our Via value */
    unsigned top = r->n_hdrs;
    for (unsigned i = 0; i < r->n_hdrs && top == r->n_hdrs; i++) {
        /* the first Via line with a value (an empty one is no Via) */
        span_t v = r->hdrs[i].value;
        if (sip_hdr_is(&r->hdrs[i], "Via", 'v') && v.len > strspn_n(v, ", \t\r\n")) top = i;
    }
    CHECK(top < r->n_hdrs, "relayed a response without a Via");
    /* a response without a Content-Length goes on with one, last */
    unsigned added = sip_content_length(r) == -ENODATA;
    if (added)
        CHECK(r2.n_hdrs > 0 && sip_hdr_is(&r2.hdrs[r2.n_hdrs - 1], "Content-Length", 'l') &&
                  sip_content_length(&r2) == (long)body_len(r),
              "no Content-Length of the body added");
    bool dropped = r2.n_hdrs + 1 == r->n_hdrs + added;
    if (!(dropped || r2.n_hdrs == r->n_hdrs + added)) {
        dump("response", r->raw, r->raw_len);
        dump("relayed", out, on);
    }
    CHECK(dropped || r2.n_hdrs == r->n_hdrs + added, "relayed response has %u header lines, had %u",
          r2.n_hdrs, r->n_hdrs);
    for (unsigned i = 0, j = 0; i < r->n_hdrs; i++) {
        if (i == top) {
            if (!dropped) {
                CHECK(sip_hdr_is(&r2.hdrs[j], "Via", 'v'), "top Via line lost its name");
                j++;
            }
            continue;
        }
        if (!same_line(r, i, &r2, j)) {
            dump("response", r->raw, r->raw_len);
            dump("relayed", out, on);
        }
        CHECK(same_line(r, i, &r2, j), "relayed header line %u differs", i);
        j++;
    }
    size_t bl = body_len(r), bl2 = on - r2.body_off;
    if (!(r->body_off <= r->raw_len && bl == bl2 && memcmp(r->raw + r->body_off, out + r2.body_off, bl) == 0)) {
        dump("response", r->raw, r->raw_len);
        dump("relayed", out, on);
    }
    CHECK(r->body_off <= r->raw_len && bl == bl2 &&
          memcmp(r->raw + r->body_off, out + r2.body_off, bl) == 0,
          "relayed body differs (%zu bytes at %zu, was %zu at %zu)", bl2, r2.body_off, bl,
          r->body_off);
    sip_req_free(&r2);
}

/* fwd_build_response() as relay_response() calls it, for a response <r>;
 * the destination when relayed (<to>), or the error. */
static int fwd_response(const sip_req_t *r, const fwd_self_t *self, struct sockaddr_storage *to,
                        socklen_t *tolen)
{
    char out[TX_MAX];
    *tolen = 0;
    xport_to_t xt;
    int n = fwd_build_response(r, self, out, sizeof(out), &xt);
    if (n >= 0) {
        CHECK(xt.kind == XPORT_UDP && xt.addr_len <= sizeof(*to), "relay: not a UDP address");
        *to = xt.addr;
        *tolen = xt.addr_len;
    }
    CHECK(n >= 0 || n == -ENOENT || n == -EINVAL || n == -ENOSPC, "fwd_build_response: %d", n);
    if (n < 0) return n;
    CHECK((size_t)n <= sizeof(out), "fwd_build_response: %d bytes", n);
    if (to->ss_family == AF_INET)
        CHECK(*tolen == sizeof(struct sockaddr_in) && ((struct sockaddr_in *)to)->sin_port != 0,
              "relay to IPv4 port 0 or bad length");
    else
        CHECK(to->ss_family == AF_INET6 && *tolen == sizeof(struct sockaddr_in6) &&
              ((struct sockaddr_in6 *)to)->sin6_port != 0, "relay to family %d", (int)to->ss_family);
    /* exact capacity, one byte short */
    char *o2 = malloc((size_t)n + 1);
    xport_to_t to2;
    CHECK(fwd_build_response(r, self, o2, (size_t)n, &to2) == n && memcmp(o2, out, (size_t)n) == 0,
          "relayed response not reproducible at cap=len");
    if (n > 0)
        CHECK(fwd_build_response(r, self, o2, (size_t)n - 1, &to2) == -ENOSPC,
              "relayed response fits one byte short");
    free(o2);
    check_relayed(r, out, (size_t)n);
    return n;
}

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family) return false;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
    return x->sin6_port == y->sin6_port && memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
}

/* The Max-Forwards value of the forwarded request <p>/<n>: exactly one
 * Max-Forwards header, its value. */
static long forwarded_mf(const char *p, size_t n)
{
    size_t pos = 0, count = 0;
    long v = -1;
    sip_hdr_t h;
    while (sip_next_header(p, n, &pos, &h))
        if (sip_hdr_is(&h, "Max-Forwards", '\0')) {
            count++;
            char tmp[16];
            size_t l = h.value.len < sizeof(tmp) - 1 ? h.value.len : sizeof(tmp) - 1;
            memcpy(tmp, h.value.s, l);
            tmp[l] = '\0';
            v = strtol(tmp, NULL, 10);
        }
    CHECK(count == 1, "forwarded request has %zu Max-Forwards headers", count);
    return v;
}

/* The forwarded request <p>/<n> (fwd_build_request() of <r> with <ruri>
 * and <f>): it is a request the next hop can parse, its top Via is ours
 * with fwd_branch(), the loop check sees it come back, and a response to
 * it relayed by us goes back where <r>'s answers go. */
static void check_forwarded(const sip_req_t *r, const char *ruri, const fwd_self_t *self,
                            const fwd_flags_t *f, const char *p, size_t n)
{
    char want[512], branch[FWD_BRANCH_MAX];

    g_ctx = p, g_ctx_len = n;
    /* request line */
    size_t e = 0;
    while (e < n && p[e] != '\r' && p[e] != '\n') e++;
    CHECK(e + 2 <= n && p[e] == '\r' && p[e + 1] == '\n', "forwarded request line not CRLF-terminated");
    if (ruri) {
        int wl = snprintf(want, sizeof(want), "%.*s %s SIP/2.0", (int)r->method_name.len,
                          r->method_name.s, ruri);
        CHECK((size_t)wl == e && memcmp(p, want, e) == 0, "forwarded request line");
    } else {
        span_t u = fwd_request_uri(r);
        CHECK(u.s && memmem(p, e, u.s, u.len) != NULL, "forwarded request line lost the Request-URI");
    }
    /* our Via first */
    fwd_branch(r, self, branch);
    bool v6 = strchr(self->host, ':') != NULL;
    int wl = snprintf(want, sizeof(want), "Via: SIP/2.0/UDP %s%s%s:%u;branch=%s;rport\r\n",
                      v6 ? "[" : "", self->host, v6 ? "]" : "", self->port, branch);
    CHECK(n - e - 2 >= (size_t)wl && memcmp(p + e + 2, want, (size_t)wl) == 0, "our Via is not first");
    if (f && f->record_route) {
        wl = snprintf(want, sizeof(want), "Record-Route: <sip:%s%s%s:%u;lr;fdrr=", v6 ? "[" : "",
                      self->host, v6 ? "]" : "", self->port);
        CHECK(memmem(p, n, want, (size_t)wl) != NULL, "no Record-Route of ours");
    }
    /* header section, then <r>'s body as it was, up to its Content-Length */
    size_t bl = body_len(r);
    CHECK(r->body_off <= r->raw_len && n >= bl + 4 && memcmp(p + n - bl, r->raw + r->body_off, bl) == 0,
          "forwarded body differs");
    const char *eoh = memmem(p, n - bl, "\r\n\r\n", 4);
    if (!(eoh && (size_t)(eoh - p) + 4 == n - bl)) dump_req("forwarded", p, n);
    CHECK(eoh && (size_t)(eoh - p) + 4 == n - bl, "forwarded header section does not end before the body");
    check_header_lines("forwarded", p + e + 2, n - bl - 2 - (e + 2), false);
    long mf = forwarded_mf(p, n - bl);
    if (r->max_forwards > 0) CHECK(mf == r->max_forwards - 1, "Max-Forwards %ld, was %d", mf, r->max_forwards);

    /* the next hop parses it (from us) */
    sip_req_t r2;
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof(ss));
    if (v6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_addr = in6addr_loopback;
        s6->sin6_port = htons((uint16_t)self->port);
        sl = sizeof(*s6);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        inet_pton(AF_INET, self->host, &s4->sin_addr);
        s4->sin_port = htons((uint16_t)self->port);
        sl = sizeof(*s4);
    }
    save_seed("fwd", p, n);
    sip_verdict_t v = sip_parse(&r2, p, n, (struct sockaddr *)&ss, sl, NULL);
    bool too_big = n > SIP_MAX_MSG || r->n_hdrs + 2 > SIP_MAX_HDRS;
    if (!(v == SIP_REQ_OK || (too_big && v == SIP_REQ_BAD))) {
        dump("request", r->raw, r->raw_len);
        dump("forwarded", p, n);
    }
    CHECK(v == SIP_REQ_OK || (too_big && v == SIP_REQ_BAD), "forwarded request parses as verdict %d (%s)",
          (int)v, r2.why ? r2.why : "");
    if (v == SIP_REQ_OK) {
        CHECK(r2.method == r->method && r2.call_id.len == r->call_id.len &&
              memcmp(r2.call_id.s, r->call_id.s, r->call_id.len) == 0, "forwarded method or Call-ID");
        CHECK(r2.branch.len == strlen(branch) && memcmp(r2.branch.s, branch, r2.branch.len) == 0,
              "forwarded top branch is not ours");
        if (r->max_forwards > 0) CHECK(r2.max_forwards == r->max_forwards - 1, "forwarded Max-Forwards");
        /* come back as it left: a loop; retargeted, it is a spiral (its
         * Request-URI is part of the branch) */
        /* (route.c forwards only requests whose Vias fwd_vias_ok() reads) */
        bool checked = !ruri && fwd_vias_ok(r);
        if (checked && !fwd_is_loop(&r2, self)) {
            dump("request", r->raw, r->raw_len);
            dump("forwarded", p, n);
        }
        CHECK(!checked || fwd_is_loop(&r2, self), "the forwarded request coming back is not seen as a loop");

        /* a response to it, with its header section (as a UAS copies the
         * Vias) and its body (so that its Content-Length holds): relayed
         * back to where <r>'s answers go */
        static char resp[TX_MAX + 64];
        static const char sl200[] = "SIP/2.0 200 OK\r\n";
        size_t hs = n - (e + 2); /* headers + empty line + body */
        if (fwd_vias_ok(r) && sizeof(sl200) - 1 + hs <= sizeof(resp)) {
            memcpy(resp, sl200, sizeof(sl200) - 1);
            memcpy(resp + sizeof(sl200) - 1, p + e + 2, hs);
            size_t rn = sizeof(sl200) - 1 + hs;
            save_seed("resp", resp, rn);
            sip_req_t r3;
            CHECK(sip_parse(&r3, resp, rn, (struct sockaddr *)&ss, sl, NULL) == SIP_REQ_RESPONSE,
                  "response to the forwarded request");
            struct sockaddr_storage to;
            socklen_t tolen;
            int rc = fwd_response(&r3, self, &to, &tolen);
            if (rc == -ENOSPC) {
                /* too large to relay: fine */
            } else {
                if (rc < 0) dump("response", resp, rn);
                CHECK(rc >= 0, "response to the forwarded request not relayed: %d", rc);
                if (!(tolen == r->reply_len && same_addr(&to, &r->reply_to))) {
                    dump("request", r->raw, r->raw_len);
                    dump("response", resp, rn);
                }
                CHECK(tolen == r->reply_len && same_addr(&to, &r->reply_to),
                      "response relayed elsewhere than the request's answers go");
            }
            sip_req_free(&r3);
        }
    }
    sip_req_free(&r2);
    g_ctx = NULL;
}

/* fwd_build_tail() and fwd_build_request() with <ruri> and <f>: errors
 * as documented, exact-capacity reproducible, -ENOSPC one byte short. */
static void fwd_request(const sip_req_t *r, const char *ruri, const fwd_self_t *self, const fwd_flags_t *f)
{
    static char out[TX_MAX], tail[TX_MAX];

    int tl = fwd_build_tail(r, self, f, tail, sizeof(tail));
    int n = fwd_build_request(r, ruri, self, f, out, sizeof(out));
    if (r->max_forwards == 0) {
        CHECK(tl == -EINVAL && n == -EINVAL, "Max-Forwards 0 forwarded (%d, %d)", tl, n);
        return;
    }
    CHECK(tl >= 0 || tl == -ENOSPC, "fwd_build_tail: %d", tl);
    CHECK(n >= 0 || n == -ENOSPC, "fwd_build_request: %d", n);
    if (tl >= 0) {
        char *t2 = malloc((size_t)tl + 1);
        CHECK(fwd_build_tail(r, self, f, t2, (size_t)tl) == tl && memcmp(t2, tail, (size_t)tl) == 0,
              "tail not reproducible at cap=len");
        CHECK(fwd_build_tail(r, self, f, t2, (size_t)tl - 1) == -ENOSPC, "tail fits one byte short");
        free(t2);
    }
    if (n < 0) return;
    CHECK(tl >= 0 && (size_t)tl < (size_t)n && memcmp(out + n - tl, tail, (size_t)tl) == 0,
          "request is not its request line + the tail");
    char *o2 = malloc((size_t)n + 1);
    CHECK(fwd_build_request(r, ruri, self, f, o2, (size_t)n) == n && memcmp(o2, out, (size_t)n) == 0,
          "request not reproducible at cap=len");
    CHECK(fwd_build_request(r, ruri, self, f, o2, (size_t)n - 1) == -ENOSPC,
          "request fits one byte short");
    free(o2);
    check_forwarded(r, ruri, self, f, out, (size_t)n);
}

/* Everything route.c's forward mode does with a request <r> (SIP_REQ_OK). */
static void fwd_request_all(const sip_req_t *r, const fwd_self_t *self, const char *fallback)
{
    (void)fwd_is_loop(r, self);

    span_t ru = fwd_request_uri(r);
    CHECK(ru.s != NULL && ru.len > 0, "no Request-URI in a request");
    check_raw_span("fwd_request_uri", ru);
    check_target("Request-URI", ru.s, ru.len);

    span_t next = { NULL, 0 };
    if (fwd_route_is_self(r, self, &next)) {
        check_raw_span("route next", next);
        CHECK(next.len > 0, "route next empty");
        check_target("route next", next.s, next.len);
    } else {
        CHECK(next.s == NULL, "fwd_route_is_self false but set next");
    }
    (void)fwd_ruri_is_self(r, self);
    (void)fwd_route_signed(r, self);

    char b1[FWD_BRANCH_MAX], b2[FWD_BRANCH_MAX];
    fwd_branch(r, self, b1);
    fwd_branch(r, self, b2);
    CHECK(strlen(b1) == strlen(FWD_BRANCH_PREFIX) + 24 && strcmp(b1, b2) == 0 &&
          strncmp(b1, FWD_BRANCH_PREFIX, strlen(FWD_BRANCH_PREFIX)) == 0, "fwd_branch");

    /* route.c forwards no request whose Vias it cannot read as libosip2
     * does (400 for an INVITE or a CANCEL, an ACK dropped) */
    if (!fwd_vias_ok(r)) return;
    static const fwd_flags_t flags[4] = { { false, false }, { true, false }, { false, true }, { true, true } };
    /* a branch passed in (route.c computes it once) makes the same tail */
    {
        static char t1[TX_MAX], t2[TX_MAX];
        fwd_flags_t given = { true, false, b1 };
        int n1 = fwd_build_tail(r, self, &flags[1], t1, sizeof(t1));
        int n2 = fwd_build_tail(r, self, &given, t2, sizeof(t2));
        CHECK(n1 == n2 && (n1 < 0 || memcmp(t1, t2, (size_t)n1) == 0), "tail with the branch given differs");
    }
    for (int i = 0; i < 4; i++) {
        fwd_request(r, NULL, self, &flags[i]);
        fwd_request(r, RETARGET, self, &flags[i]);
    }
    fwd_request(r, NULL, self, NULL);
    if (fallback) fwd_request(r, fallback, self, &flags[1]);
}

/* ---------------------------------------------------------------------- */
/* One datagram                                                           */

/* Build the head and the answer as route.c's answer() does, checking them;
 * also with exact and one-short capacities (heap buffers of that size, so
 * ASan sees any write past <cap>). */
static void build_and_check(const sip_req_t *r, const char *ip, int status, const char *reason,
                            const char *extra, size_t extra_len)
{
    char head[SIPRESP_HEAD_MAX], out[TX_MAX];

    int hl = sipresp_head(r, head, sizeof(head));
    if (g_debug && hl < 0) fprintf(stderr, "fuzz_sip: sipresp_head: %d\n", hl);
    if (g_debug && hl >= 0) dump("head", head, (size_t)hl);
    CHECK(hl >= -1000 && hl <= (int)sizeof(head), "sipresp_head returned %d", hl);
    if (hl < 0) return; /* route.c: tx_errors (or 500 for an INVITE) */
    check_head(r, head, (size_t)hl, ip);

    /* the same head at the exact capacity, and -ENOSPC one byte short */
    char *h2 = malloc((size_t)hl + 1);
    int hl2 = sipresp_head(r, h2, (size_t)hl);
    CHECK(hl2 == hl && memcmp(h2, head, (size_t)hl) == 0, "head not reproducible at cap=len");
    if (hl > 0) {
        free(h2);
        h2 = malloc((size_t)hl - 1 + 1);
        CHECK(sipresp_head(r, h2, (size_t)hl - 1) < 0, "head fits one byte short");
    }
    free(h2);

    int n = sipresp_build(out, sizeof(out), status, reason, head, (size_t)hl, extra, extra_len);
    if (n < 0) {
        CHECK((size_t)hl + extra_len + 220 > sizeof(out), "build failed with room to spare");
        return;
    }
    check_answer(out, (size_t)n, status, head, (size_t)hl);
    char *o2 = malloc((size_t)n);
    CHECK(sipresp_build(o2, (size_t)n, status, reason, head, (size_t)hl, extra, extra_len) == n &&
          memcmp(o2, out, (size_t)n) == 0, "answer not reproducible at cap=len");
    CHECK(sipresp_build(o2, (size_t)n - 1, status, reason, head, (size_t)hl, extra, extra_len) < 0,
          "answer fits one byte short");
    free(o2);
}

/* ---------------------------------------------------------------------- */
/* The real routing core, through fakes                                   */

#define MAX_OUT 8
static const char *g_head;  /* the answer's head for the request, if any */
static int g_head_len;
static unsigned g_n_out;    /* datagrams the core sent for this input */
static unsigned g_n_answers;
static int g_last_status;
static sip_verdict_t g_verdict; /* of the input: a response is relayed */
typedef struct { int armed; void *call; } fz_timer_t;
static fz_timer_t *g_timer;  /* the armed deadline (one call at a time) */
static struct { store_pick_cb *cb; void *arg; } g_store[2];
static unsigned g_n_store;
static struct { dns_cb *cb; void *arg; } g_dns[8];
static unsigned g_n_dns;
static metrics_t g_m, g_m_fwd;
static route_env_t g_env, g_env_fwd;
static const sa_family_t g_families[2] = { AF_INET, AF_INET6 };
static fwd_self_t g_selves[2];

static void fz_send(void *ctx, const xport_to_t *to, const char *p, size_t n)
{
    (void)ctx;
    CHECK(n > 0 && n <= TX_MAX, "route sent %zu bytes", n);
    CHECK(to->sock < 2 && to->addr_len > 0 && to->addr_len <= sizeof(to->addr), "route sent to a bad address");
    CHECK(++g_n_out <= MAX_OUT, "route sent %u datagrams for one input", g_n_out);
    if (g_verdict != SIP_REQ_RESPONSE && n >= 12 && memcmp(p, "SIP/2.0 ", 8) == 0) {
        /* an answer: to the request's reply address, with its head */
        int status = atoi(p + 8);
        g_n_answers++;
        g_last_status = status;
        CHECK(g_head && g_head_len >= 0, "route answered a request whose head cannot be built");
        check_answer(p, n, status, g_head, (size_t)g_head_len);
    } else {
        /* a forwarded request or a relayed response: the request's or the
         * response's own header lines pass through as they came (the
         * builders' outputs are checked in full by fwd_request_all() and
         * fwd_response()); here, a first line and an end of headers */
        const char *eoh = memmem(p, n, "\r\n\r\n", 4);
        CHECK(eoh != NULL, "route sent a message with no end of headers");
        const char *eol = memmem(p, n, "\r\n", 2);
        CHECK(eol && eol <= eoh, "route sent a message with no first line");
        CHECK(memchr(p, '\0', (size_t)(eol - p)) == NULL, "route sent a first line with a NUL");
    }
}

static void fz_timer_arm(void *ctx, void *timer, void *call)
{
    (void)ctx;
    CHECK(!g_timer, "two deadlines armed for one input");
    g_timer = timer;
    *g_timer = (fz_timer_t){ 1, call };
}

static void fz_timer_cancel(void *ctx, void *timer)
{
    (void)ctx;
    CHECK(timer == g_timer && g_timer->armed, "cancel of a timer not armed");
    g_timer->armed = 0;
    g_timer = NULL;
}

static int fz_ask(store_pick_cb *cb, void *arg)
{
    CHECK(g_n_store < 2, "route asked the store twice for one input");
    g_store[g_n_store].cb = cb;
    g_store[g_n_store].arg = arg;
    g_n_store++;
    return 0;
}

static int fz_pick(void *ctx, const plan_t *plan, const char *cid, size_t len, const store_hist_t *hist,
                   store_pick_cb *cb, void *arg)
{
    (void)ctx, (void)hist;
    CHECK(plan->kind == PLAN_PICK && plan->site && len > 0 && len < 256, "pick of a bad plan");
    check_target("pick call-id", cid, len);
    return fz_ask(cb, arg);
}

static int fz_decision(void *ctx, const char *site, const char *cid, size_t len, store_pick_cb *cb, void *arg)
{
    (void)ctx;
    CHECK(site && len > 0 && len < 256, "decision of a bad call");
    check_target("decision call-id", cid, len);
    return fz_ask(cb, arg);
}

static void fz_release(void *ctx, const char *site, const char *cid, size_t len)
{
    (void)ctx;
    CHECK(site && len > 0 && len < 256, "release of a bad call");
    (void)cid;
}

/* A call history record: every string ends inside its field, the call
 * named by 32 hex, an outcome of the list, a site named. */
static void fz_history(void *ctx, const store_hist_rec_t *rec)
{
    (void)ctx;
    CHECK(memchr(rec->site, 0, sizeof(rec->site)) && rec->site[0], "history record without a site");
    CHECK(memchr(rec->number, 0, sizeof(rec->number)) && memchr(rec->option, 0, sizeof(rec->option)) &&
              memchr(rec->skill, 0, sizeof(rec->skill)) && memchr(rec->caller, 0, sizeof(rec->caller)) &&
              memchr(rec->status, 0, sizeof(rec->status)), "history record field not terminated");
    CHECK(strlen(rec->callid) == 32 && strspn(rec->callid, "0123456789abcdef") == 32, "history record's call not a hash");
    char word[20];
    snprintf(word, sizeof(word), " %s ", rec->outcome);
    CHECK(rec->outcome[0] && strstr(" " STORE_OUTCOMES " ", word), "history record with an unknown outcome");
}

static int fz_resolve(void *ctx, const char *host, unsigned port, struct in_addr *out, unsigned *out_port,
                      dns_cb *cb, void *arg)
{
    (void)ctx, (void)port, (void)out, (void)out_port;
    CHECK(host && *host, "resolve of an empty name");
    if (!cb) return -EAGAIN;
    CHECK(g_n_dns < 8, "route waits for too many names");
    g_dns[g_n_dns].cb = cb;
    g_dns[g_n_dns].arg = arg;
    g_n_dns++;
    return -EAGAIN;
}

static bool g_dns_fail; /* names now known not to resolve */
static int fz_resolve_after(void *ctx, const char *host, unsigned port, struct in_addr *out, unsigned *out_port,
                            dns_cb *cb, void *arg)
{
    if (g_dns_fail) return -ENOENT;
    return fz_resolve(ctx, host, port, out, out_port, cb, arg);
}

static bool fz_is_down(void *ctx, const struct sockaddr *a, socklen_t len)
{
    (void)ctx, (void)a, (void)len;
    return false;
}

static bool fz_memo_get(void *ctx, const char *key, size_t len, uint64_t now, fwdmemo_dest_t *d)
{
    (void)ctx, (void)key, (void)len, (void)now, (void)d;
    return false;
}

static void fz_memo_put(void *ctx, const char *key, size_t len, const fwdmemo_dest_t *d, uint64_t now)
{
    (void)ctx, (void)now;
    CHECK(len > 0 && len < FWD_BRANCH_MAX && key[len] == '\0', "memo key");
    CHECK(d->addr_len > 0 && strnlen(d->uri, sizeof(d->uri)) < sizeof(d->uri), "memo destination");
}

static void env_init(route_env_t *e, rules_t *rules, metrics_t *m)
{
    g_selves[0] = g_self4;
    g_selves[1] = g_self6;
    *e = (route_env_t){
        .send = fz_send, .timer_size = sizeof(fz_timer_t), .timer_arm = fz_timer_arm,
        .timer_cancel = fz_timer_cancel, .pick = fz_pick, .decision = fz_decision, .release = fz_release,
        .history = fz_history,
        .resolve = fz_resolve_after, .is_down = fz_is_down, .memo_get = fz_memo_get, .memo_put = fz_memo_put,
        .selves = g_selves, .families = g_families, .n_socks = 2, .record_route = true,
        .rules = rules, .option_header = rules_option_header(rules), .forwarding = rules_any_forward(rules),
        .m = m,
    };
}

/* The input through route_datagram() on <env>, then every callback it
 * waits for, answered as the input's length says: staff, nobody free,
 * Redis down, or the deadline first and then the pick. */
static void route_real(route_env_t *env, rules_t *rules, const char *buf, size_t size,
                       const struct sockaddr_storage *ss, socklen_t sl, bool v6, sip_verdict_t v,
                       const sip_req_t *r)
{
    xport_to_t from = { .kind = XPORT_UDP, .sock = v6 ? 1 : 0, .addr_len = sl };
    memcpy(&from.addr, ss, sl);
    g_n_out = g_n_answers = 0;
    g_last_status = 0;
    g_verdict = v;
    g_timer = NULL;
    g_n_store = g_n_dns = 0;
    g_dns_fail = false;
    (void)rules;

    route_datagram(env, &from, buf, size, 1796140800);
    if (g_arena) arena_reset(); /* as the worker does after each datagram */

    unsigned way = (unsigned)(size / 3) % 4;
    store_decision_t d;
    memset(&d, 0, sizeof(d));
    d.kind = way == 1 ? STORE_NONE : STORE_PICKED;
    d.n = way == 1 ? 0 : 1;
    snprintf(d.id[0], sizeof(d.id[0]), "ana");
    snprintf(d.uri[0], sizeof(d.uri[0]), size % 2 ? "sip:ana@10.0.0.7:5080" : "sip:ana@desk.example");
    if (g_n_store) {
        CHECK(g_timer && g_timer->armed, "a call waits for Redis with no deadline");
        if (way == 3) {
            fz_timer_t *t = g_timer;
            g_timer = NULL;
            t->armed = 0;
            route_deadline(t->call);
        }
        g_store[0].cb(g_store[0].arg, way == 2 ? -ECONNRESET : 0, way == 2 ? NULL : &d);
    }
    /* names: the first answer says they do not exist */
    g_dns_fail = true;
    for (unsigned i = 0; i < g_n_dns; i++) g_dns[i].cb(g_dns[i].arg);
    CHECK(!g_timer, "a deadline left armed");
    CHECK(env->dns_waiting == 0, "calls left waiting for a name");

    /* every INVITE that reaches the rules gets one answer or goes on */
    bool ack = (v == SIP_REQ_OK || v == SIP_REQ_BAD) && r->method_name.len == 3 &&
               memcmp(r->method_name.s, "ACK", 3) == 0;
    if (v == SIP_REQ_BAD && !ack && g_head_len >= 0)
        CHECK(g_n_answers == 1 && g_last_status == r->bad_status, "a bad request answered %u times (%d)",
              g_n_answers, g_last_status);
    if (v == SIP_REQ_OK && r->method == SIP_INVITE && g_head_len >= 0)
        CHECK(g_n_out == 1, "an INVITE got %u datagrams", g_n_out);
    if (v == SIP_REQ_OK && r->method == SIP_ACK && !env->forwarding)
        CHECK(g_n_out == 0, "an ACK answered");
}

static void one(const uint8_t *data, size_t size, bool v6)
{
    const char *buf = (const char *)data;
    struct sockaddr_storage ss;
    socklen_t sl;
    const char *ip;
    sip_req_t r;

    /* a source port other than the default sent-by port for some inputs,
     * so that an rport we fail to honour shows */
    uint16_t srcport = size % 2 == 0 ? 40000 : 5060;
    memset(&ss, 0, sizeof(ss));
    if (v6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_addr = in6addr_loopback;
        s6->sin6_port = htons(srcport);
        sl = sizeof(*s6);
        ip = "::1";
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        s4->sin_port = htons(srcport);
        sl = sizeof(*s4);
        ip = "127.0.0.1";
    }

    g_buf = buf;
    g_len = size;
    sip_verdict_t v = sip_parse(&r, buf, size, (const struct sockaddr *)&ss, sl, OPTION_HEADER);
    CHECK(v == SIP_REQ_OK || v == SIP_REQ_BAD || v == SIP_REQ_RESPONSE || v == SIP_REQ_DROP, "verdict %d", v);
    CHECK(r.raw == buf && r.raw_len == size, "raw not the datagram");
    if (g_debug)
        fprintf(stderr, "fuzz_sip: from %s: verdict %d (method %d, status %d %s)\n", ip, (int)v,
                (int)r.method, r.bad_status, r.why ? r.why : "");

    check_raw_span("call_id", r.call_id);
    check_raw_span("from_tag", r.from_tag);
    check_raw_span("to_tag", r.to_tag);
    check_raw_span("option", r.option);
    /* the lazy parse reads the branch raw; the whole parse and a 400's
     * fallback take libosip2's */
    if (r.branch.s && r.branch.s >= buf && r.branch.s <= buf + size) check_raw_span("branch", r.branch);
    else check_osip_span("branch", r.branch);
    check_osip_span("ruri_user", r.ruri_user);
    check_osip_span("to_user", r.to_user);
    check_osip_span("from_user", r.from_user);
    if (v == SIP_REQ_BAD && !r.msg) check_raw_span("method_name", r.method_name);
    else if (r.method_name.s && r.method_name.s >= buf && r.method_name.s < buf + size)
        check_raw_span("method_name", r.method_name); /* raw fallback */
    else check_osip_span("method_name", r.method_name);

    if (v == SIP_REQ_OK || v == SIP_REQ_BAD) {
        /* routed back to the source address, port per RFC 3581 / 18.2.2 */
        CHECK(r.top_via != NULL, "routed without a top Via");
        CHECK(r.reply_len == sl && r.reply_to.ss_family == ss.ss_family, "reply_to family");
        if (v6)
            CHECK(memcmp(&((struct sockaddr_in6 *)&r.reply_to)->sin6_addr, &in6addr_loopback, 16) == 0,
                  "reply_to address not the source");
        else
            CHECK(((struct sockaddr_in *)&r.reply_to)->sin_addr.s_addr == htonl(INADDR_LOOPBACK),
                  "reply_to address not the source");
        osip_generic_param_t *rp = NULL;
        osip_via_param_get_byname(r.top_via, "rport", &rp);
        uint16_t port = v6 ? ntohs(((struct sockaddr_in6 *)&r.reply_to)->sin6_port)
                           : ntohs(((struct sockaddr_in *)&r.reply_to)->sin_port);
        CHECK(port != 0, "reply port 0");
        char sp[8];
        snprintf(sp, sizeof(sp), "%u", (unsigned)srcport);
        if (rp) CHECK(port == srcport && rp->gvalue && strcmp(rp->gvalue, sp) == 0, "rport not honoured");

        char tag[17], tag2[17];
        sipresp_to_tag(&r, tag);
        sipresp_to_tag(&r, tag2);
        CHECK(strlen(tag) == 16 && strspn(tag, "0123456789abcdef") == 16 && strcmp(tag, tag2) == 0,
              "to-tag");
        bool ours = sip_is_ack_for_us(&r);
        CHECK(!ours || (r.method == SIP_ACK && r.to_tag.len == 16 && memcmp(r.to_tag.s, tag, 16) == 0),
              "sip_is_ack_for_us");
    }

    if (v == SIP_REQ_BAD) {
        CHECK(r.bad_status == 400 || r.bad_status == 416 || r.bad_status == 505 || r.bad_status == 513, "bad_status %d",
              r.bad_status);
        CHECK(r.why && !strpbrk(r.why, "\r\n"), "why");
        build_and_check(&r, ip, r.bad_status, r.why, NULL, 0);
    } else if (v == SIP_REQ_OK) {
        if (!r.msg) check_raw_span("cseq_num", r.cseq_num); /* the lazy parse's: raw */
        /* INVITE, ACK, CANCEL, OPTIONS: each header read parsed on its own
         * (r.msg NULL, the top Via ours); other methods: the whole message */
        CHECK(r.ruri && r.from && r.to && r.top_via, "SIP_REQ_OK without its parsed values");
        CHECK(r.method <= SIP_OPTIONS ? (!r.msg && r.own_via) : (r.msg && !r.own_via && r.ruri == r.msg->req_uri),
              "SIP_REQ_OK: lazy parse for %d", (int)r.method);
        CHECK(r.cseq_num.len > 0 && r.cseq_num.len <= 10 && strspn(r.cseq_num.s, "0123456789") >= r.cseq_num.len,
              "SIP_REQ_OK: CSeq number");
        CHECK(r.call_id.len > 0 && r.from_tag.len > 0, "SIP_REQ_OK without Call-ID / From tag");
        CHECK(r.max_forwards >= -1 && r.max_forwards <= 255, "max_forwards %d", r.max_forwards);
        CHECK(size <= SIP_MAX_MSG, "SIP_REQ_OK above SIP_MAX_MSG");

        /* the rules always run on the spans, whatever the method */
        rules_req_t rq = { r.ruri_user, r.to_user, r.from_user, r.option, NULL };
        plan_t plan;
        CHECK(rules_eval(g_rules, &rq, 0, &plan) == 0, "rules_eval");
        check_plan(&plan);

        /* the forward builders, on the socket of the source's family */
        fwd_request_all(&r, v6 ? &g_self6 : &g_self4, plan.fallback);
        /* the answer builders at their capacities */
        build_and_check(&r, ip, 200, NULL, NULL, 0);
    }

    /* what the routing core does with it, for real */
    static char head[SIPRESP_HEAD_MAX];
    if (v == SIP_REQ_OK || v == SIP_REQ_BAD) {
        g_head_len = sipresp_head(&r, head, sizeof(head));
        g_head = head;
    } else {
        g_head = NULL;
    }
    route_real(&g_env, g_rules, buf, size, &ss, sl, v6, v, &r);
    route_real(&g_env_fwd, g_rules_fwd, buf, size, &ss, sl, v6, v, &r);
    g_head = NULL;

    if (v == SIP_REQ_RESPONSE) {
        /* relay_response(), on either socket */
        /* r.msg is NULL unless libosip2 saw a response the raw check did
         * not ("sip/2.0 ..."): fwd_build_response() does not use it */
        struct sockaddr_storage to;
        socklen_t tolen;
        (void)fwd_response(&r, &g_self4, &to, &tolen);
        (void)fwd_response(&r, &g_self6, &to, &tolen);
    }

    /* redirect mode's ACK reader (route.c tries it first on "ACK "): the
     * same Call-ID, tags and branch as the full reading, so an ACK to our
     * answer is told ours the same way */
    sip_req_t ra;
    bool is_ack = sip_parse_ack(&ra, buf, size);
    if (is_ack) {
        check_raw_span("ack call_id", ra.call_id);
        check_raw_span("ack branch", ra.branch);
        if (v == SIP_REQ_OK && r.method == SIP_ACK) {
            CHECK(ra.call_id.s == r.call_id.s && ra.call_id.len == r.call_id.len &&
                  ra.from_tag.s == r.from_tag.s && ra.to_tag.s == r.to_tag.s &&
                  ra.branch.s == r.branch.s && ra.branch.len == r.branch.len,
                  "sip_parse_ack reads another Call-ID, tag or branch than sip_parse");
            CHECK(sip_is_ack_for_us(&ra) == sip_is_ack_for_us(&r), "ACK ours by one reading only");
        }
    }
    sip_req_free(&ra);

    sip_req_free(&r);
    CHECK(r.msg == NULL && r.top_via == NULL && r.ruri == NULL && r.from == NULL && r.to == NULL,
          "sip_req_free left pointers");
}

/* ---------------------------------------------------------------------- */
/* libFuzzer entry points                                                 */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    rules_report_t rep;
    const char *path = getenv("FUZZ_RULES");
    if (!path) path = FUZZ_RULES_PATH;

    g_debug = getenv("FUZZ_DEBUG") != NULL;
    g_seeds = getenv("FUZZ_SEEDS");
    /* FUZZ_ARENA=1: libosip2 on the per-thread arena, as in the daemon (ASan
     * then sees a stray free() of arena memory, but not overruns inside it) */
    g_arena = getenv("FUZZ_ARENA") != NULL;
    if (g_arena) {
        arena_install();
        arena_thread_init(ARENA_SIZE);
    }
    sip_global_init();
    if (!g_debug) osip_trace_initialize_func(TRACE_LEVEL0, osip_quiet);
    static const unsigned char key[32] = "fuzz-only-caller-key-0123456789";
    rules_load_opts_t lo = { .now = 1796140800, .caller_key = key, .caller_key_len = sizeof(key) };
    if (rules_load_opts(path, &lo, &g_rules, &rep) != 0) {
        fprintf(stderr, "fuzz_sip: cannot load %s: %s:%u:%u: %s\n", path, rep.file, rep.line,
                rep.col, rep.msg);
        exit(1);
    }
    /* the same file in forward mode (a top-level key appended) */
    FILE *f = fopen(path, "rb");
    char *yaml = NULL;
    size_t ylen = 0;
    if (f) {
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        yaml = malloc((size_t)n + 32);
        if (yaml && n > 0 && fread(yaml, 1, (size_t)n, f) == (size_t)n) {
            ylen = (size_t)n;
            ylen += (size_t)sprintf(yaml + ylen, "\nmode: forward\n");
        }
        fclose(f);
    }
    if (!ylen || rules_load_string_opts(yaml, ylen, path, &lo, &g_rules_fwd, &rep) != 0) {
        fprintf(stderr, "fuzz_sip: cannot load %s in forward mode\n", path);
        exit(1);
    }
    free(yaml);
    env_init(&g_env, g_rules, &g_m);
    env_init(&g_env_fwd, g_rules_fwd, &g_m_fwd);
    if (!g_debug) log_level = LOG_LVL_ERROR;
    const char *oh = rules_option_header(g_rules);
    if (!oh || strcmp(oh, OPTION_HEADER) != 0) {
        fprintf(stderr, "fuzz_sip: %s: option_header is not " OPTION_HEADER "\n", path);
        exit(1);
    }
    return 0;
}

/* The input as a TCP stream: cut into messages by sip_stream_frame() as
 * stream.c does (CRLFs between messages skipped). Every cut is within the
 * bytes read and makes progress; a message's length, once its headers are
 * whole, does not change as more is read; the headers it reports are
 * within the message and the limit. */
static void fuzz_frame(const char *b, size_t len)
{
    const size_t maxes[] = { 64, 1024, 65535 };
    for (size_t m = 0; m < sizeof(maxes) / sizeof(maxes[0]); m++) {
        size_t off = 0, max = maxes[m];
        while (off < len) {
            if (b[off] == '\r' || b[off] == '\n') {
                off++;
                continue;
            }
            size_t head = 0;
            long t = sip_stream_frame(b + off, len - off, max, &head);
            CHECK(t == 0 || t == -EMSGSIZE || t == -ENODATA || t == -EBADMSG || t > 0, "frame %ld", t);
            if (t > 0) {
                CHECK((size_t)t <= max && head <= (size_t)t && head > 0, "frame %ld head %zu max %zu", t, head, max);
                /* a prefix holding the headers says the same */
                size_t head2 = 0;
                CHECK(sip_stream_frame(b + off, head, max, &head2) == t && head2 == head, "prefix disagrees");
            }
            if (t <= 0 || (size_t)t > len - off) break;
            off += (size_t)t;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_frame((const char *)data, size);
    g_buf = (const char *)data;
    g_len = size;
    fuzz_headers((const char *)data, size);
    check_target("input", (const char *)data, size);
    one(data, size, size % 3 == 0);
    if (g_arena) arena_reset();
    return 0;
}

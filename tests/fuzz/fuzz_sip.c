/* fuzz_sip.c -- libFuzzer harness for Frontdesk's SIP front end.
 *
 * One input = one UDP datagram received from 127.0.0.1:5060 (or, for about
 * a third of the inputs -- those whose length is a multiple of 3 -- from
 * [::1]:5060). It runs what proxy/route.c does with a datagram, short of
 * sockets and Redis:
 *
 *   sip_parse()  ->  SIP_REQ_OK / SIP_REQ_BAD: sipresp_head(), sipresp_to_tag(),
 *                    sip_is_ack_for_us(), sipresp_build() of the answer
 *                    route.c would send (SIP_REQ_OK INVITE: rules_eval() on the
 *                    demo rules, then the 404 / 302 to the fallback)
 *                -> always sip_req_free()
 *
 * plus the raw header helpers sip_next_header()/sip_hdr_param() over the
 * whole input. Invariants are checked with abort() (see check_*()); ASan and
 * UBSan catch memory errors and undefined behaviour in our code (libosip2
 * itself is not instrumented, but its calls into memcpy/strlen/... are).
 *
 * Build and run: tests/fuzz/README.md.
 */
#include <arpa/inet.h>
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

#include <osipparser2/osip_parser.h>

#ifndef FUZZ_RULES_PATH
#define FUZZ_RULES_PATH "rules/examples/demo.yaml"
#endif

#define OPTION_HEADER "X-Frontdesk-Option"
#define TX_MAX 8192 /* WORKER_TX_MAX (proxy/worker.h) */
#define FD_ALLOW "INVITE, ACK, CANCEL, OPTIONS" /* ROUTE_ALLOW (proxy/route.h) */

static rules_t *g_rules;

/* libosip2 prints its ERROR traces to stdout unless a trace function is
 * installed; installed with no level enabled it stays quiet. */
static void osip_quiet(const char *fi, int li, osip_trace_level_t level, const char *chfr,
                       va_list ap)
{
    (void)fi, (void)li, (void)level, (void)chfr, (void)ap;
}
static bool g_debug;    /* FUZZ_DEBUG=1: print verdicts and answers */ /* FUZZ_STRICT_OK=1: a 200 verdict is a finding */

/* ---------------------------------------------------------------------- */
/* Failure reporting                                                      */

#define CHECK(cond, ...)                                                     \
    do {                                                                     \
        if (!(cond)) {                                                       \
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

static void one(const uint8_t *data, size_t size, bool v6)
{
    const char *buf = (const char *)data;
    struct sockaddr_storage ss;
    socklen_t sl;
    const char *ip;
    sip_req_t r;

    memset(&ss, 0, sizeof(ss));
    if (v6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_addr = in6addr_loopback;
        s6->sin6_port = htons(5060);
        sl = sizeof(*s6);
        ip = "::1";
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        s4->sin_port = htons(5060);
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
    check_osip_span("branch", r.branch);
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
        if (rp) CHECK(port == 5060 && rp->gvalue && strcmp(rp->gvalue, "5060") == 0,
                      "rport not honoured");

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
        CHECK(r.bad_status == 400 || r.bad_status == 505 || r.bad_status == 513, "bad_status %d", r.bad_status);
        CHECK(r.why && !strpbrk(r.why, "\r\n"), "why");
        build_and_check(&r, ip, r.bad_status, r.why, NULL, 0);
    } else if (v == SIP_REQ_OK) {
        CHECK(r.msg != NULL && !r.own_via, "SIP_REQ_OK without libosip2 message");
        CHECK(r.call_id.len > 0 && r.from_tag.len > 0, "SIP_REQ_OK without Call-ID / From tag");
        CHECK(r.max_forwards >= -1 && r.max_forwards <= 255, "max_forwards %d", r.max_forwards);
        CHECK(size <= SIP_MAX_MSG, "SIP_REQ_OK above SIP_MAX_MSG");

        /* the rules always run on the spans, whatever the method */
        rules_req_t rq = { r.ruri_user, r.to_user, r.from_user, r.option };
        plan_t plan;
        CHECK(rules_eval(g_rules, &rq, 0, &plan) == 0, "rules_eval");
        check_plan(&plan);

        if (r.max_forwards == 0 && r.method != SIP_OPTIONS) {
            build_and_check(&r, ip, 483, NULL, NULL, 0);
        } else {
            switch (r.method) {
            case SIP_INVITE:
                if (plan.kind == PLAN_REJECT) {
                    build_and_check(&r, ip, plan.status, NULL, NULL, 0);
                } else {
                    /* a redirect, or a pick nobody answered: 302 to the
                     * fallback, as answer_call() */
                    char contacts[2048];
                    const char *uris[1] = { plan.fallback };
                    int cl = sipresp_contacts(contacts, sizeof(contacts), uris, 1);
                    CHECK(cl > 0, "sipresp_contacts");
                    check_header_lines("contacts", contacts, (size_t)cl, false);
                    build_and_check(&r, ip, 302, NULL, contacts, (size_t)cl);
                }
                break;
            case SIP_ACK:
                /* route.c absorbs it; build anyway, the brief wants it */
                build_and_check(&r, ip, 200, NULL, NULL, 0);
                break;
            case SIP_CANCEL:
                build_and_check(&r, ip, 200, NULL, NULL, 0);
                break;
            case SIP_OPTIONS: {
                static const char ex[] = "Allow: " FD_ALLOW "\r\nAccept: application/sdp\r\n";
                build_and_check(&r, ip, 200, NULL, ex, sizeof(ex) - 1);
                break;
            }
            case SIP_OTHER:
            case SIP_UNKNOWN: {
                static const char ex[] = "Allow: " FD_ALLOW "\r\n";
                build_and_check(&r, ip, r.method == SIP_OTHER ? 405 : 501, NULL, ex, sizeof(ex) - 1);
                break;
            }
            }
        }
    }

    sip_req_free(&r);
    CHECK(r.msg == NULL && r.top_via == NULL, "sip_req_free left pointers");
}

/* ---------------------------------------------------------------------- */
/* libFuzzer entry points                                                 */

static bool g_arena;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    rules_report_t rep;
    const char *path = getenv("FUZZ_RULES");
    if (!path) path = FUZZ_RULES_PATH;

    g_debug = getenv("FUZZ_DEBUG") != NULL;
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
    const char *oh = rules_option_header(g_rules);
    if (!oh || strcmp(oh, OPTION_HEADER) != 0) {
        fprintf(stderr, "fuzz_sip: %s: option_header is not " OPTION_HEADER "\n", path);
        exit(1);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_buf = (const char *)data;
    g_len = size;
    fuzz_headers((const char *)data, size);
    one(data, size, size % 3 == 0);
    if (g_arena) arena_reset();
    return 0;
}

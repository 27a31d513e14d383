/* test_sip.c -- proxy/sip.c: sip_parse verdicts, the values we route on, where
 * answers go (RFC 3261 18.2.2, RFC 3581), and the raw header scan.
 *
 * Requests are raw datagrams, one .sip file each in tests/unit/fixtures/,
 * read by path relative to the repository root (the tests run from there).
 * A few variants are made from a fixture by substituting text (a method, a
 * header value, padding), so each file stays one readable message. Every test owns its buffer and its
 * sip_req_t through the per-test fixture, freed in teardown even on failure.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include <cmocka.h>

#include "fixture.h"
#include "sip.h"

#include <osipparser2/osip_parser.h>

#define OPT_HDR "X-Frontdesk-Option"

/* ---------------------------------------------------------------------- */
/* Helpers                                                                */

typedef struct {
    char *buf;       /* the datagram */
    size_t len;
    sip_req_t r;
    bool parsed;     /* r must be freed */
    struct sockaddr_storage src;
    socklen_t srclen;
} ctx_t;

static int ctx_setup(void **state)
{
    ctx_t *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    *state = c;
    return 0;
}

static int ctx_teardown(void **state)
{
    ctx_t *c = *state;
    if (c->parsed) sip_req_free(&c->r);
    free(c->buf);
    free(c);
    return 0;
}

static int group_setup(void **state)
{
    (void)state;
    sip_global_init();
    return 0;
}


static void src4(ctx_t *c, const char *ip, unsigned port)
{
    struct sockaddr_in *s = (struct sockaddr_in *)&c->src;
    memset(&c->src, 0, sizeof(c->src));
    s->sin_family = AF_INET;
    s->sin_port = htons((uint16_t)port);
    assert_int_equal(inet_pton(AF_INET, ip, &s->sin_addr), 1);
    c->srclen = sizeof(*s);
}

static void src6(ctx_t *c, const char *ip, unsigned port)
{
    struct sockaddr_in6 *s = (struct sockaddr_in6 *)&c->src;
    memset(&c->src, 0, sizeof(c->src));
    s->sin6_family = AF_INET6;
    s->sin6_port = htons((uint16_t)port);
    assert_int_equal(inet_pton(AF_INET6, ip, &s->sin6_addr), 1);
    c->srclen = sizeof(*s);
}

/* Parse what is in c->buf (from a NAT'd 203.0.113.7:40000 unless a source
 * was set). */
static sip_verdict_t parse(ctx_t *c, const char *option_header)
{
    if (!c->srclen) src4(c, "203.0.113.7", 40000);
    if (c->parsed) sip_req_free(&c->r);
    c->parsed = true;
    return sip_parse(&c->r, c->buf, c->len, (const struct sockaddr *)&c->src, c->srclen,
                     option_header);
}

static sip_verdict_t parse_fixture(ctx_t *c, const char *name, const char *option_header)
{
    free(c->buf);
    c->buf = load(name, &c->len);
    return parse(c, option_header);
}

#define assert_span(sp, str) assert_span_(sp, str, __FILE__, __LINE__)
static void assert_span_(span_t sp, const char *want, const char *file, int line)
{
    char got[1024];
    size_t n = sp.len < sizeof(got) - 1 ? sp.len : sizeof(got) - 1;
    if (n) memcpy(got, sp.s, n);
    got[n] = '\0';
    _assert_string_equal(got, want, file, line);
    _assert_int_equal(cast_to_largest_integral_type(sp.len),
                      cast_to_largest_integral_type(strlen(want)), file, line);
}

/* A well-formed request. */
#define assert_ok(v) assert_int_equal((int)(v), SIP_REQ_OK)

#define assert_span_absent(sp) assert_int_equal((sp).len, 0)

/* The top Via as libosip2 will print it into our answers. */
#define assert_top_via(c, want)                                              \
    do {                                                                     \
        char *via_ = NULL;                                                   \
        assert_non_null((c)->r.top_via);                                     \
        assert_int_equal(osip_via_to_str((c)->r.top_via, &via_), 0);         \
        char copy_[512];                                                     \
        snprintf(copy_, sizeof(copy_), "%s", via_);                          \
        osip_free(via_);                                                     \
        assert_string_equal(copy_, want);                                    \
    } while (0)

static void assert_reply4(const ctx_t *c, const char *ip, unsigned port)
{
    const struct sockaddr_in *s = (const struct sockaddr_in *)&c->r.reply_to;
    char got[INET_ADDRSTRLEN];
    assert_int_equal(c->r.reply_len, sizeof(struct sockaddr_in));
    assert_int_equal(s->sin_family, AF_INET);
    assert_non_null(inet_ntop(AF_INET, &s->sin_addr, got, sizeof(got)));
    assert_string_equal(got, ip);
    assert_int_equal(ntohs(s->sin_port), port);
}

static void assert_reply6(const ctx_t *c, const char *ip, unsigned port)
{
    const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)&c->r.reply_to;
    char got[INET6_ADDRSTRLEN];
    assert_int_equal(c->r.reply_len, sizeof(struct sockaddr_in6));
    assert_int_equal(s->sin6_family, AF_INET6);
    assert_non_null(inet_ntop(AF_INET6, &s->sin6_addr, got, sizeof(got)));
    assert_string_equal(got, ip);
    assert_int_equal(ntohs(s->sin6_port), port);
}

static bool via_has_param(const ctx_t *c, const char *name)
{
    osip_generic_param_t *p = NULL;
    return osip_via_param_get_byname(c->r.top_via, (char *)name, &p) == 0 && p;
}

/* ---------------------------------------------------------------------- */
/* sip_parse: a well-formed INVITE                                        */

static void test_invite_values(void **state)
{
    ctx_t *c = *state;

    assert_ok(parse_fixture(c, "invite.sip", OPT_HDR));
    /* read the lazy way: no whole-message parse, the Request-URI, From,
     * To and top Via parsed on their own */
    assert_null(c->r.msg);
    assert_non_null(c->r.ruri);
    assert_non_null(c->r.from);
    assert_non_null(c->r.to);
    assert_span(c->r.cseq_num, "314159");
    assert_int_equal(c->r.method, SIP_INVITE);
    assert_span(c->r.method_name, "INVITE");
    assert_span(c->r.call_id, "a84b4c76e66710@pc33.carrier.example");
    assert_span(c->r.from_tag, "1928301774");
    assert_null(c->r.to_tag.s); /* a new call: no To tag yet */
    assert_span(c->r.branch, "z9hG4bK776asdhds");
    assert_span(c->r.ruri_user, "15125550100*2");
    assert_span(c->r.to_user, "15125550100");
    assert_span(c->r.from_user, "15125551234");
    assert_span(c->r.option, "2");
    assert_int_equal(c->r.max_forwards, 70);
    assert_ptr_equal(c->r.raw, c->buf);
    assert_int_equal(c->r.raw_len, c->len);
    assert_true(c->r.own_via); /* parsed on its own, freed with the request */
}

/* Methods we relay or refuse are parsed whole; their values are the same. */
static void test_other_method_parsed_whole(void **state)
{
    ctx_t *c = *state;
    free(c->buf);
    c->buf = load("invite.sip", &c->len);
    subst(&c->buf, &c->len, "INVITE sip:", "BYE sip:");
    subst(&c->buf, &c->len, "314159 INVITE", "314159 BYE");
    assert_ok(parse(c, NULL));
    assert_int_equal(c->r.method, SIP_OTHER);
    assert_non_null(c->r.msg);
    assert_ptr_equal(c->r.ruri, c->r.msg->req_uri);
    assert_span(c->r.cseq_num, "314159");
    assert_span(c->r.ruri_user, "15125550100*2");
    assert_span(c->r.from_user, "15125551234");
    assert_false(c->r.own_via);
}

/* sip_hdr_param() and sip_value_end() skip ordinary bytes fast; they must
 * read exactly as the plain byte-by-byte scanners below (the versions they
 * replaced) on any input: 200,000 random values over an alphabet heavy in
 * the bytes that matter. */
static span_t ref_hdr_param(span_t v, const char *name)
{
    size_t n = strlen(name), i = 0;
    bool quoted = false, angled = false;
    while (i < v.len) {
        char c = v.s[i++];
        if (quoted) {
            if (c == '\\') i++;
            else if (c == '"') quoted = false;
            continue;
        }
        if (c == '"') quoted = true;
        else if (c == '<') angled = true;
        else if (c == '>') angled = false;
        else if (c == ',' && !angled) break;
        else if (c == ';' && !angled) {
            while (i < v.len && (v.s[i] == ' ' || v.s[i] == '\t')) i++;
            size_t ns = i;
            while (i < v.len && v.s[i] != '=' && v.s[i] != ';' && v.s[i] != ',' && v.s[i] != ' ' && v.s[i] != '\t') i++;
            bool match = i - ns == n && strncasecmp(v.s + ns, name, n) == 0;
            while (i < v.len && (v.s[i] == ' ' || v.s[i] == '\t')) i++;
            if (i < v.len && v.s[i] == '=') {
                i++;
                while (i < v.len && (v.s[i] == ' ' || v.s[i] == '\t')) i++;
                size_t vs = i;
                if (i < v.len && v.s[i] == '"') {
                    for (i++; i < v.len && v.s[i] != '"'; i++)
                        if (v.s[i] == '\\' && i + 1 < v.len) i++;
                    if (i < v.len) i++;
                } else {
                    while (i < v.len && v.s[i] != ';' && v.s[i] != ',' && v.s[i] != ' ' && v.s[i] != '\t') i++;
                }
                if (match) return (span_t){ v.s + vs, i - vs };
            } else if (match) {
                return (span_t){ v.s + ns, 0 };
            }
        }
    }
    return (span_t){ NULL, 0 };
}

static size_t ref_value_end(span_t v, size_t from)
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

static void test_fast_scanners_agree(void **state)
{
    (void)state;
    static const char alpha[] = "\"<>,;=\\[] \ttagbranchx1";
    char buf[48];
    unsigned seed = 12345;
    for (int k = 0; k < 200000; k++) {
        seed = seed * 1103515245u + 12345u;
        size_t len = (seed >> 16) % sizeof(buf);
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            buf[i] = alpha[(seed >> 16) % (sizeof(alpha) - 1)];
        }
        span_t v = { buf, len };
        span_t a = sip_hdr_param(v, "tag"), b = ref_hdr_param(v, "tag");
        assert_true(a.s == b.s && a.len == b.len);
        a = sip_hdr_param(v, "branch"), b = ref_hdr_param(v, "branch");
        assert_true(a.s == b.s && a.len == b.len);
        size_t from = len ? (seed >> 8) % len : 0;
        assert_int_equal(sip_value_end(v, from), ref_value_end(v, from));
    }
}

/* Long values are read whole, however long (up to the datagram): a top
 * Via of 2000 bytes, a From of 3000. */
static void test_lazy_parse_long_values(void **state)
{
    ctx_t *c = *state;
    char via[2100], from[3100];
    snprintf(via, sizeof(via), "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK776asdhds;rport;x=%01990d\r\n", 7);
    snprintf(from, sizeof(from), "From: \"Alice\" <sip:15125551234@carrier.example;y=%02990d>;tag=1928301774\r\n", 3);
    free(c->buf);
    c->buf = load("invite.sip", &c->len);
    subst(&c->buf, &c->len, "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK776asdhds;rport\r\n", via);
    subst(&c->buf, &c->len, "From: \"Alice\" <sip:15125551234@carrier.example>;tag=1928301774\r\n", from);
    assert_ok(parse(c, NULL));
    assert_span(c->r.from_user, "15125551234");
    assert_span(c->r.branch, "z9hG4bK776asdhds");
}

/* The lazy parse still refuses what the whole parse refused: a Via value
 * below the top one that does not parse, a second From, a bad CSeq, a
 * Request-URI libosip2 cannot read. */
static void test_lazy_parse_refuses(void **state)
{
    ctx_t *c = *state;
    static const struct { const char *from, *to, *why; } cases[] = {
        { "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK776asdhds;rport\r\n",
          "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK776asdhds;rport, SIP/2.0/UDP :::;;\r\n", "Bad Request" },
        { "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK776asdhds;rport\r\n",
          "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK776asdhds;rport,\r\n", "Bad Request" },
        { "CSeq: 314159 INVITE", "CSeq: 314159x INVITE", "Bad CSeq number" },
        { "CSeq: 314159 INVITE", "CSeq: 314159 BYE", "CSeq method does not match" },
        { "CSeq: 314159 INVITE", "CSeq: INVITE", "Missing or bad CSeq header" },
        { "CSeq: 314159 INVITE\r\n", "CSeq: 314159 INVITE\r\nCSeq: 2 INVITE\r\n", "Call-ID or CSeq given twice" },
        { "Max-Forwards: 70", "Max-Forwards: 256", "Bad Max-Forwards" },
        { "Max-Forwards: 70", "Max-Forwards: 7x", "Bad Max-Forwards" },
        { "INVITE sip:15125550100*2@pbx.clinic.example SIP", "INVITE sip:15125550100*2@ SIP", "Bad Request" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        free(c->buf);
        c->buf = load("invite.sip", &c->len);
        subst(&c->buf, &c->len, cases[i].from, cases[i].to);
        assert_int_equal(parse(c, NULL), SIP_REQ_BAD);
        assert_int_equal(c->r.bad_status, 400);
        assert_string_equal(c->r.why, cases[i].why);
    }
}

/* Spans the answer copies point into the datagram itself. */
static void test_invite_spans_point_into_datagram(void **state)
{
    ctx_t *c = *state;

    assert_ok(parse_fixture(c, "invite.sip", OPT_HDR));
    const span_t raw[] = { c->r.call_id, c->r.from_tag, c->r.option };
    for (size_t i = 0; i < sizeof(raw) / sizeof(raw[0]); i++) {
        assert_true(raw[i].s >= c->buf);
        assert_true(raw[i].s + raw[i].len <= c->buf + c->len);
    }
}

/* The verdicts are sip.h's, not libosip2's status-code macros (osip_const.h
 * defines SIP_OK as 200, which once shadowed our SIP_OK verdict). */
static void test_ok_verdict_is_zero(void **state)
{
    ctx_t *c = *state;

    assert_int_equal(parse_fixture(c, "invite.sip", NULL), SIP_REQ_OK);
    assert_int_equal(SIP_REQ_OK, 0);
}

static void test_option_header_name(void **state)
{
    ctx_t *c = *state;

    /* no option header configured: none read */
    assert_ok(parse_fixture(c, "invite.sip", NULL));
    assert_span_absent(c->r.option);
    /* header names are case-insensitive (RFC 3261 7.3.1) */
    assert_ok(parse(c, "x-frontdesk-OPTION"));
    assert_span(c->r.option, "2");
    /* configured but absent */
    assert_ok(parse(c, "X-Other-Option"));
    assert_span_absent(c->r.option);
}

static void test_compact_forms(void **state)
{
    ctx_t *c = *state;

    assert_ok(parse_fixture(c, "invite_compact.sip", OPT_HDR));
    assert_int_equal(c->r.method, SIP_INVITE);
    assert_span(c->r.call_id, "compact-1@carrier.example");
    assert_span(c->r.from_tag, "c0mpact");
    assert_span(c->r.branch, "z9hG4bKcompact1"); /* first value of "v:" */
    assert_span(c->r.ruri_user, "15125550100");
    assert_span(c->r.to_user, "15125550100");
    assert_span(c->r.from_user, "15125551234");
    assert_int_equal(c->r.max_forwards, -1); /* absent */
    assert_reply4(c, "203.0.113.7", 40000);
}

static void test_folded_headers(void **state)
{
    ctx_t *c = *state;

    assert_ok(parse_fixture(c, "invite_folded.sip", OPT_HDR));
    assert_span(c->r.from_tag, "f0lded"); /* on the third line of From */
    assert_span(c->r.from_user, "15125551234");
    assert_span(c->r.call_id, "folded-1@carrier.example");
    assert_span(c->r.branch, "z9hG4bKfolded1");
    assert_int_equal(c->r.max_forwards, 70);
}

static void test_existing_to_tag(void **state)
{
    ctx_t *c = *state;

    assert_ok(parse_fixture(c, "invite_to_tag.sip", NULL));
    assert_span(c->r.to_tag, "existing-42");
}

static void test_max_forwards_zero(void **state)
{
    ctx_t *c = *state;

    /* 0 is valid: route.c answers it 483 */
    c->buf = load("invite.sip", &c->len);
    subst(&c->buf, &c->len, "Max-Forwards: 70", "Max-Forwards: 0");
    assert_ok(parse(c, NULL));
    assert_int_equal(c->r.max_forwards, 0);
}

/* ---------------------------------------------------------------------- */
/* sip_parse: malformed requests get a 400 with a reason, routed by Via   */

static void expect_bad(ctx_t *c, const char *fixture, int status, const char *why)
{
    assert_int_equal(parse_fixture(c, fixture, NULL), SIP_REQ_BAD);
    assert_int_equal(c->r.bad_status, status);
    assert_non_null(c->r.why);
    assert_string_equal(c->r.why, why);
    /* still answerable: the 400 goes where the Via says */
    assert_non_null(c->r.top_via);
    assert_reply4(c, "203.0.113.7", 40000);
}

static void test_missing_call_id(void **state)
{
    expect_bad(*state, "invite_no_callid.sip", 400, "Missing Call-ID header");
}

static void test_missing_from(void **state)
{
    expect_bad(*state, "invite_no_from.sip", 400, "Missing or bad From header");
}

static void test_missing_to(void **state)
{
    expect_bad(*state, "invite_no_to.sip", 400, "Missing or bad To header");
}

static void test_missing_cseq(void **state)
{
    expect_bad(*state, "invite_no_cseq.sip", 400, "Missing or bad CSeq header");
}

static void test_cseq_method_mismatch(void **state)
{
    expect_bad(*state, "invite_cseq_mismatch.sip", 400, "CSeq method does not match");
}

static void test_bad_max_forwards(void **state)
{
    expect_bad(*state, "invite_bad_max_forwards.sip", 400, "Bad Max-Forwards");
}

static void test_max_forwards_out_of_range(void **state)
{
    expect_bad(*state, "invite_max_forwards_256.sip", 400, "Bad Max-Forwards");
}

static void test_missing_from_tag(void **state)
{
    expect_bad(*state, "invite_no_from_tag.sip", 400, "Missing From tag");
}

/* Pad invite.sip with an extension header up to <total> bytes. */
static void pad_to(ctx_t *c, size_t total)
{
    c->buf = load("invite.sip", &c->len);
    const char *name = "X-Pad: ";
    size_t extra = total - c->len - strlen(name) - 2;
    char *line = malloc(strlen(name) + extra + 3 + strlen("Content-Type:"));
    assert_non_null(line);
    strcpy(line, name);
    memset(line + strlen(name), 'a', extra);
    strcpy(line + strlen(name) + extra, "\r\nContent-Type:");
    subst(&c->buf, &c->len, "Content-Type:", line);
    free(line);
    assert_int_equal(c->len, total);
}

static void test_oversize_is_513(void **state)
{
    ctx_t *c = *state;

    pad_to(c, SIP_MAX_MSG + 1);
    assert_int_equal(parse(c, NULL), SIP_REQ_BAD);
    assert_int_equal(c->r.bad_status, 513);
    assert_string_equal(c->r.why, "Message Too Large");
    assert_reply4(c, "203.0.113.7", 40000);
}

static void test_max_size_is_ok(void **state)
{
    ctx_t *c = *state;

    pad_to(c, SIP_MAX_MSG);
    assert_ok(parse(c, OPT_HDR));
    assert_span(c->r.option, "2");
}

/* libosip2 rejects it, the raw scan still finds the top Via: 400. */
static void test_garbage_with_via_is_400(void **state)
{
    ctx_t *c = *state;

    assert_int_equal(parse_fixture(c, "garbage_with_via.sip", OPT_HDR), SIP_REQ_BAD);
    assert_int_equal(c->r.bad_status, 400);
    assert_string_equal(c->r.why, "Bad Request");
    assert_true(c->r.own_via);
    assert_span(c->r.method_name, "INVITE"); /* route.c: never answer an ACK */
    assert_span(c->r.branch, "z9hG4bKgarbage");
    assert_span(c->r.call_id, "garbage-1@carrier.example");
    assert_span(c->r.from_tag, "g4rbage");
    assert_reply4(c, "203.0.113.7", 40000);
    assert_top_via(c, "SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKgarbage;rport=40000;received=203.0.113.7");
}

static void test_garbage_without_via_is_dropped(void **state)
{
    ctx_t *c = *state;
    assert_int_equal(parse_fixture(c, "garbage_no_via.sip", NULL), SIP_REQ_DROP);
}

static void test_empty_datagram_is_dropped(void **state)
{
    ctx_t *c = *state;
    c->buf = strdup("");
    c->len = 0;
    assert_int_equal(parse(c, NULL), SIP_REQ_DROP);
}

static void test_response_is_not_ours(void **state)
{
    ctx_t *c = *state;
    assert_int_equal(parse_fixture(c, "response_200.sip", NULL), SIP_REQ_RESPONSE);
}

/* A mangled status line is dropped: never answered, never relayed. */
static void test_garbled_response_is_not_ours(void **state)
{
    ctx_t *c = *state;
    c->buf = load("response_200.sip", &c->len);
    subst(&c->buf, &c->len, "SIP/2.0 200 OK", "SIP/2.0 two hundred");
    assert_int_equal(parse(c, NULL), SIP_REQ_DROP);
    subst(&c->buf, &c->len, "SIP/2.0 two hundred", "SIP/2.0 200");
    assert_int_equal(parse(c, NULL), SIP_REQ_RESPONSE); /* no reason phrase: taken */
    subst(&c->buf, &c->len, "SIP/2.0 200", "SIP/2.0 800 Far");
    assert_int_equal(parse(c, NULL), SIP_REQ_DROP);
}

/* ---------------------------------------------------------------------- */
/* Where answers go: RFC 3261 18.2.2, RFC 3581                            */

/* rport: back to the source address and port, with rport= and received=
 * filled in (RFC 3581 4). */
static void test_reply_rport(void **state)
{
    ctx_t *c = *state;

    assert_ok(parse_fixture(c, "invite.sip", NULL));
    assert_reply4(c, "203.0.113.7", 40000);
    assert_top_via(c, "SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK776asdhds;rport=40000;received=203.0.113.7");
}

/* rport: received is added even when it equals the sent-by host. */
static void test_reply_rport_same_host(void **state)
{
    ctx_t *c = *state;

    src4(c, "192.0.2.10", 5062);
    assert_ok(parse_fixture(c, "invite.sip", NULL));
    assert_reply4(c, "192.0.2.10", 5062);
    assert_top_via(c, "SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK776asdhds;rport=5062;received=192.0.2.10");
}

/* No rport, sent-by is the source IP: to the sent-by port, no received. */
static void test_reply_no_rport_same_host(void **state)
{
    ctx_t *c = *state;

    src4(c, "192.0.2.10", 40000);
    assert_ok(parse_fixture(c, "via_no_rport.sip", NULL));
    assert_reply4(c, "192.0.2.10", 5070);
    assert_false(via_has_param(c, "received"));
    assert_false(via_has_param(c, "rport"));
    assert_top_via(c, "SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKnorport");
}

/* Call-ID or CSeq twice: 400 (which one would count is not agreed). */
static void test_callid_cseq_twice(void **state)
{
    ctx_t *c = *state;
    c->buf = load("invite.sip", &c->len);
    subst(&c->buf, &c->len, "CSeq:", "CSeq: 9 INVITE\r\nCSeq:");
    assert_int_equal(parse(c, NULL), SIP_REQ_BAD);
    assert_int_equal(c->r.bad_status, 400);
}

/* A response with more header fields than we index: dropped, not relayed
 * half read. */
static void test_response_too_many_headers(void **state)
{
    ctx_t *c = *state;
    char extra[SIP_MAX_HDRS * 16 + 1] = "";
    for (int i = 0; i < SIP_MAX_HDRS; i++) strcat(extra, "X-Pad: 1\r\nCSeq");
    c->buf = load("response_200.sip", &c->len);
    subst(&c->buf, &c->len, "CSeq", extra);
    assert_int_equal(parse(c, NULL), SIP_REQ_DROP);
}

/* No rport, no sent-by port: 5060. */
static void test_reply_no_rport_default_port(void **state)
{
    ctx_t *c = *state;

    src4(c, "192.0.2.10", 40000);
    assert_ok(parse_fixture(c, "via_no_rport_no_port.sip", NULL));
    assert_reply4(c, "192.0.2.10", 5060);
    assert_false(via_has_param(c, "received"));
}

/* No rport, sent-by is a host name: received=<source>, sent to the source IP
 * at the sent-by port. */
static void test_reply_hostname(void **state)
{
    ctx_t *c = *state;

    src4(c, "198.51.100.20", 40000);
    assert_ok(parse_fixture(c, "via_hostname.sip", NULL));
    assert_reply4(c, "198.51.100.20", 5080);
    assert_top_via(c, "SIP/2.0/UDP pbx.branch.example:5080;branch=z9hG4bKhostname;received=198.51.100.20");
}

/* No rport, sent-by IP is not the source (a NAT): same as a host name. */
static void test_reply_other_ip(void **state)
{
    ctx_t *c = *state;

    src4(c, "198.51.100.20", 40000);
    assert_ok(parse_fixture(c, "via_no_rport.sip", NULL));
    assert_reply4(c, "198.51.100.20", 5070);
    assert_top_via(c, "SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKnorport;received=198.51.100.20");
}

/* A received= in the request is overwritten, never followed. */
static void test_reply_ignores_received_in_request(void **state)
{
    ctx_t *c = *state;

    c->buf = load("invite.sip", &c->len);
    subst(&c->buf, &c->len, "branch=z9hG4bK776asdhds;rport",
          "branch=z9hG4bK776asdhds;received=10.9.9.9;rport=1");
    assert_ok(parse(c, NULL));
    assert_reply4(c, "203.0.113.7", 40000);
    assert_top_via(c, "SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK776asdhds;received=203.0.113.7;rport=40000");
}

/* The same with sent-by equal to the source and no rport: the sender's
 * received= is still overwritten (forward mode relays responses to it). */
static void test_reply_ignores_received_same_host(void **state)
{
    ctx_t *c = *state;

    c->buf = load("invite.sip", &c->len);
    subst(&c->buf, &c->len, "branch=z9hG4bK776asdhds;rport",
          "branch=z9hG4bK776asdhds;received=10.9.9.9");
    src4(c, "192.0.2.10", 40000);
    assert_ok(parse(c, NULL));
    assert_reply4(c, "192.0.2.10", 5062);
    assert_top_via(c, "SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK776asdhds;received=192.0.2.10");
}

/* A request that came over TCP or TLS carries that transport in its Via:
 * it is read (its answers take the connection); a transport we do not
 * serve (SCTP) cannot be answered. */
static void test_stream_vias(void **state)
{
    ctx_t *c = *state;
    assert_ok(parse_fixture(c, "via_tcp.sip", NULL));
    subst(&c->buf, &c->len, "SIP/2.0/TCP", "SIP/2.0/TLS");
    assert_ok(parse(c, NULL));
    subst(&c->buf, &c->len, "SIP/2.0/TLS", "SIP/2.0/SCTP");
    assert_int_equal(parse(c, NULL), SIP_REQ_DROP);
}

/* sip_stream_frame: a message is cut at its Content-Length once its
 * headers are whole; no Content-Length, a bad one, or one past the limit is
 * refused; a prefix waits for more. */
static void test_stream_frame(void **state)
{
    (void)state;
    static const char two[] = "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n"
                              "Content-Length: 4\r\n\r\nbodyINVITE sip:x SIP/2.0\r\n";
    size_t head = 0, hl = strstr(two, "body") - two;
    assert_int_equal(sip_stream_frame(two, sizeof(two) - 1, 65535, &head), (long)hl + 4);
    assert_int_equal(head, hl);
    /* every prefix: 0 while the headers are not whole, then the length */
    for (size_t n = 0; n < hl + 4; n++) {
        long r = sip_stream_frame(two, n, 65535, &head);
        assert_int_equal(r, n < hl ? 0 : (long)hl + 4);
    }
    static const char compact[] = "BYE sip:a SIP/2.0\r\nl:  0 \r\n\r\n";
    assert_int_equal(sip_stream_frame(compact, sizeof(compact) - 1, 65535, &head), sizeof(compact) - 1);
    static const char folded[] = "BYE sip:a SIP/2.0\r\nContent-Length:\r\n 2\r\n\r\nok";
    assert_int_equal(sip_stream_frame(folded, sizeof(folded) - 1, 65535, &head), sizeof(folded) - 1);
    static const char lf[] = "BYE sip:a SIP/2.0\nContent-Length: 1\n\nx";
    assert_int_equal(sip_stream_frame(lf, sizeof(lf) - 1, 65535, &head), sizeof(lf) - 1);

    static const char none[] = "BYE sip:a SIP/2.0\r\nVia: x\r\n\r\n";
    assert_int_equal(sip_stream_frame(none, sizeof(none) - 1, 65535, &head), -ENODATA);
    assert_int_equal(head, sizeof(none) - 1);
    static const char *bad[] = { "BYE s SIP/2.0\r\nContent-Length: 1x\r\n\r\n",
                                 "BYE s SIP/2.0\r\nContent-Length: -1\r\n\r\n",
                                 "BYE s SIP/2.0\r\nContent-Length:\r\n\r\n",
                                 "BYE s SIP/2.0\r\nContent-Length: 1\r\nl: 2\r\n\r\nxy" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(sip_stream_frame(bad[i], strlen(bad[i]), 65535, &head), -EBADMSG);
    static const char twice[] = "BYE s SIP/2.0\r\nContent-Length: 1\r\nl: 1\r\n\r\nx";
    assert_int_equal(sip_stream_frame(twice, sizeof(twice) - 1, 65535, &head), sizeof(twice) - 1);

    /* the limit: headers and body together, and a huge length without
     * overflow */
    assert_int_equal(sip_stream_frame(two, sizeof(two) - 1, hl + 3, &head), -EMSGSIZE);
    assert_int_equal(head, hl); /* the headers are whole: a 513 can be routed */
    assert_int_equal(sip_stream_frame(two, sizeof(two) - 1, hl + 4, &head), (long)hl + 4);
    static const char huge[] = "BYE s SIP/2.0\r\nContent-Length: 99999999999999999999999\r\n\r\n";
    assert_int_equal(sip_stream_frame(huge, sizeof(huge) - 1, 65535, &head), -EMSGSIZE);
    head = 0;
    assert_int_equal(sip_stream_frame(two, 20, 20, &head), -EMSGSIZE); /* no end of headers in 20 bytes */
    assert_int_equal(head, 0);
}

static void test_reply_ipv6_rport(void **state)
{
    ctx_t *c = *state;

    src6(c, "::1", 40001);
    assert_ok(parse_fixture(c, "invite_ipv6.sip", NULL));
    assert_reply6(c, "::1", 40001);
    assert_true(via_has_param(c, "received"));
    assert_top_via(c, "SIP/2.0/UDP [::1]:5062;branch=z9hG4bKv6;rport=40001;received=::1");
}

static void test_reply_ipv6_no_rport(void **state)
{
    ctx_t *c = *state;

    src6(c, "::1", 40001);
    assert_ok(parse_fixture(c, "invite_ipv6_no_rport.sip", NULL));
    assert_reply6(c, "::1", 5070);
    assert_top_via(c, "SIP/2.0/UDP [2001:db8::10]:5070;branch=z9hG4bKv6b;received=::1");
}

/* No rport, the sent-by IPv6 address is the source: no received. */
static void test_reply_ipv6_same_host(void **state)
{
    ctx_t *c = *state;

    src6(c, "::1", 40001);
    assert_ok(parse_fixture(c, "invite_ipv6_same_host.sip", NULL));
    assert_reply6(c, "::1", 5070);
    assert_top_via(c, "SIP/2.0/UDP [::1]:5070;branch=z9hG4bKv6c");
}

/* Only IP sources can be answered. */
static void test_non_ip_source_is_dropped(void **state)
{
    ctx_t *c = *state;
    struct sockaddr_un *un = (struct sockaddr_un *)&c->src;

    un->sun_family = AF_UNIX;
    c->srclen = sizeof(*un);
    assert_int_equal(parse_fixture(c, "invite.sip", NULL), SIP_REQ_DROP);
}

/* ---------------------------------------------------------------------- */
/* Method classification                                                  */

static void test_methods(void **state)
{
    ctx_t *c = *state;
    static const struct {
        const char *name;
        sip_method_t want;
    } rows[] = {
        { "INVITE", SIP_INVITE },    { "ACK", SIP_ACK },
        { "CANCEL", SIP_CANCEL },    { "OPTIONS", SIP_OPTIONS },
        { "BYE", SIP_OTHER },        { "REGISTER", SIP_OTHER },
        { "SUBSCRIBE", SIP_OTHER },  { "MESSAGE", SIP_OTHER },
        { "FOO", SIP_UNKNOWN },
        { "invite", SIP_UNKNOWN }, /* method names are case-sensitive (7.1) */
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        print_message("method %s\n", rows[i].name);
        free(c->buf);
        c->buf = load("method_template.sip", &c->len);
        subst(&c->buf, &c->len, "@METHOD@", rows[i].name);
        assert_ok(parse(c, NULL));
        assert_int_equal(c->r.method, rows[i].want);
        assert_span(c->r.method_name, rows[i].name);
    }
}

/* ---------------------------------------------------------------------- */
/* Raw header scan                                                        */

static void test_next_header_folded(void **state)
{
    ctx_t *c = *state;
    static const struct {
        const char *name, *value;
    } want[] = {
        { "Via", "SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKfolded1;rport" },
        { "Max-Forwards", "70" },
        { "To", "<sip:15125550100@pbx.clinic.example>" },
        { "From", "\"Alice\"\r\n  <sip:15125551234@carrier.example>\r\n\t;tag=f0lded" },
        { "Call-ID", "folded-1@carrier.example" },
        { "Subject", "I know you're there,\r\n         pick up the phone" },
        { "CSeq", "1 INVITE" },
        { "Content-Length", "0" },
    };
    size_t pos = 0, i = 0;
    sip_hdr_t h;

    c->buf = load("invite_folded.sip", &c->len);
    while (sip_next_header(c->buf, c->len, &pos, &h)) {
        assert_true(i < sizeof(want) / sizeof(want[0]));
        assert_span(h.name, want[i].name);
        assert_span(h.value, want[i].value);
        /* the line is the whole field, from its name, without the last CRLF */
        assert_ptr_equal(h.line.s, h.name.s);
        assert_ptr_equal(h.line.s + h.line.len, h.value.s + h.value.len);
        i++;
    }
    assert_int_equal(i, sizeof(want) / sizeof(want[0]));
    /* stopped at the empty line */
    assert_memory_equal(c->buf + pos, "\r\n", 2);
    assert_int_equal(pos + 2, c->len);
}

static void test_next_header_edges(void **state)
{
    (void)state;
    sip_hdr_t h;
    size_t pos;

    /* no header at all */
    const char *none = "OPTIONS sip:a@b SIP/2.0\r\n\r\n";
    pos = 0;
    assert_false(sip_next_header(none, strlen(none), &pos, &h));

    /* bare LF line ends, space before the colon, empty value */
    const char *lf = "OPTIONS sip:a@b SIP/2.0\nCall-ID : x1\nSubject:\n\nbody: no";
    pos = 0;
    assert_true(sip_next_header(lf, strlen(lf), &pos, &h));
    assert_span(h.name, "Call-ID");
    assert_span(h.value, "x1");
    assert_true(sip_next_header(lf, strlen(lf), &pos, &h));
    assert_span(h.name, "Subject");
    assert_span(h.value, "");
    assert_false(sip_next_header(lf, strlen(lf), &pos, &h)); /* body not scanned */

    /* a line that is not a header stops the scan */
    const char *junk = "OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\nnot a header\r\nTo: <sip:a@b>\r\n\r\n";
    pos = 0;
    assert_true(sip_next_header(junk, strlen(junk), &pos, &h));
    assert_false(sip_next_header(junk, strlen(junk), &pos, &h));

    /* the datagram ends without the empty line */
    const char *cut = "OPTIONS sip:a@b SIP/2.0\r\nCall-ID: y";
    pos = 0;
    assert_true(sip_next_header(cut, strlen(cut), &pos, &h));
    assert_span(h.value, "y");
    assert_false(sip_next_header(cut, strlen(cut), &pos, &h));

    /* a bare CR ends a line as CRLF and LF do, wherever the LF is; lines
     * of every length around line_end()'s 8-byte words, and a long one */
    char mixed[1024], big[401];
    memset(big, 'b', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    snprintf(mixed, sizeof(mixed), "OPTIONS sip:a@b SIP/2.0\r\nA: 1\rB: 2\nC: %s\r\nD: 4\r%s: 5\r\n\r\n", big, big);
    const char *names[] = { "A", "B", "C", "D", big };
    const char *values[] = { "1", "2", big, "4", "5" };
    pos = 0;
    for (size_t i = 0; i < 5; i++) {
        assert_true(sip_next_header(mixed, strlen(mixed), &pos, &h));
        assert_span(h.name, names[i]);
        assert_span(h.value, values[i]);
    }
    assert_false(sip_next_header(mixed, strlen(mixed), &pos, &h));
    assert_memory_equal(mixed + pos, "\r\n", 2);
    /* every value length across the 8-byte words, each line end */
    static const char *ends[] = { "\r\n", "\n", "\r" };
    for (size_t k = 0; k <= 24; k++) {
        for (size_t e = 0; e < 3; e++) {
            char m[128], val[32];
            memset(val, 'v', k);
            val[k] = '\0';
            snprintf(m, sizeof(m), "OPTIONS sip:a@b SIP/2.0\r\nA: %s%sB: z\r\n\r\n", val, ends[e]);
            pos = 0;
            assert_true(sip_next_header(m, strlen(m), &pos, &h));
            assert_int_equal(h.value.len, k);
            assert_true(sip_next_header(m, strlen(m), &pos, &h));
            assert_span(h.name, "B");
            assert_span(h.value, "z");
        }
    }
    /* no line end at all: the rest is one line */
    const char *open_end = "OPTIONS sip:a@b SIP/2.0\rX: no end";
    pos = 0;
    assert_true(sip_next_header(open_end, strlen(open_end), &pos, &h));
    assert_span(h.value, "no end");
    assert_int_equal(pos, strlen(open_end));
}

static sip_hdr_t hdr_named(const char *name)
{
    sip_hdr_t h = { 0 };
    h.name = (span_t){ name, strlen(name) };
    return h;
}

static void test_hdr_is(void **state)
{
    (void)state;
    sip_hdr_t h;

    h = hdr_named("Call-ID");
    assert_true(sip_hdr_is(&h, "Call-ID", 'i'));
    h = hdr_named("call-id");
    assert_true(sip_hdr_is(&h, "Call-ID", 'i'));
    h = hdr_named("i");
    assert_true(sip_hdr_is(&h, "Call-ID", 'i'));
    h = hdr_named("I");
    assert_true(sip_hdr_is(&h, "Call-ID", 'i'));
    h = hdr_named("i");
    assert_false(sip_hdr_is(&h, "Call-ID", '\0')); /* no compact form */
    h = hdr_named("Call-IDs");
    assert_false(sip_hdr_is(&h, "Call-ID", 'i'));
    h = hdr_named("Call");
    assert_false(sip_hdr_is(&h, "Call-ID", 'i'));
    h = hdr_named("f");
    assert_false(sip_hdr_is(&h, "To", 't'));
    h = hdr_named("To");
    assert_false(sip_hdr_is(&h, "t", 't')); /* "To" is not the compact "t" */
}

static span_t sp(const char *s)
{
    return (span_t){ s, strlen(s) };
}

static void test_hdr_param(void **state)
{
    (void)state;

    /* a tag among the URI's parameters is not the header's */
    assert_span(sip_hdr_param(sp("<sip:a@b;tag=uri>;tag=hdr"), "tag"), "hdr");
    assert_null(sip_hdr_param(sp("<sip:a@b;tag=uri>"), "tag").s);
    assert_null(sip_hdr_param(sp("\"A\" <sip:a@b;tag=uri;x=1>"), "tag").s);
    /* ';' inside a quoted display name, escaped quotes too */
    assert_span(sip_hdr_param(sp("\"Smith; tag=evil\" <sip:a@b>;tag=good"), "tag"), "good");
    assert_span(sip_hdr_param(sp("\"S \\\";tag=evil\" <sip:a@b>;tag=good"), "tag"), "good");
    assert_span(sip_hdr_param(sp("\"<sip:x@y>\" <sip:a@b>;tag=good"), "tag"), "good");
    /* an addr-spec without <>: its parameters are the header's */
    assert_span(sip_hdr_param(sp("sip:a@b;tag=bare"), "tag"), "bare");
    /* a parameter without a value: present, empty */
    span_t lr = sip_hdr_param(sp("<sip:a@b>;lr;tag=x"), "lr");
    assert_non_null(lr.s);
    assert_int_equal(lr.len, 0);
    assert_span(sip_hdr_param(sp("<sip:a@b>;lr;tag=x"), "tag"), "x");
    /* names are case-insensitive, LWS around ';' and '=' */
    assert_span(sip_hdr_param(sp("<sip:a@b> ; TAG = x1 "), "tag"), "x1");
    /* a longer name with the same prefix is another parameter */
    assert_span(sip_hdr_param(sp("<sip:a@b>;tagx=1;tag=2"), "tag"), "2");
    assert_null(sip_hdr_param(sp("<sip:a@b>;ta=1"), "tag").s);
    /* the next value of a comma-separated header is not looked at */
    assert_null(sip_hdr_param(sp("<sip:a@b>;x=1, <sip:c@d>;tag=2"), "tag").s);
    assert_span(sip_hdr_param(sp("<sip:a,b@c>;tag=3"), "tag"), "3");
    /* absent, empty */
    assert_null(sip_hdr_param(sp("<sip:a@b>"), "tag").s);
    assert_null(sip_hdr_param(sp(""), "tag").s);
}

/* RFC 3261 25.1: generic-param = token [ EQUAL gen-value ] and gen-value may
 * be a quoted-string, in which ';' and ',' are just characters. */
/* Else the "tag=evil" inside the quotes would be taken for the tag, and a
 * ',' inside them would end the scan (a valid INVITE answered 400). */
static void test_hdr_param_quoted_value(void **state)
{

    assert_span(sip_hdr_param(sp("<sip:a@b>;x=\"a;tag=evil\";tag=real"), "tag"), "real");
    assert_span(sip_hdr_param(sp("<sip:a@b>;x=\"a,b\";tag=real"), "tag"), "real");
    assert_span(sip_hdr_param(sp("<sip:a@b>;x=\"a b\";tag=real"), "tag"), "real");
    assert_span(sip_hdr_param(sp("<sip:a@b>;x=\"a;b\""), "x"), "\"a;b\"");

    /* what a caller sees: a valid INVITE is refused */
    ctx_t *c = *state;
    assert_ok(parse_fixture(c, "invite_quoted_from_param.sip", NULL));
    assert_span(c->r.from_tag, "b4d");
}


/* ---------------------------------------------------------------------- */
/* Regressions found by fuzzing (tests/fuzz/crashes/)                      */

#define CRASH "../../fuzz/crashes/"

/* A NUL among the headers: libosip2 would stop reading there, our scan
 * and the answer would not. Dropped. */
static void test_fuzz_nul_in_header(void **state)
{
    ctx_t *c = *state;
    assert_int_equal(parse_fixture(c, CRASH "nul_in_header.sip", OPT_HDR), SIP_REQ_DROP);
}

/* A request line broken over lines: a routed 400 whose head has the Via. */
static void test_fuzz_request_line_broken(void **state)
{
    static const char *files[] = { CRASH "request_line_two_lines.sip",
                                   CRASH "request_line_past_blank_line.sip" };
    ctx_t *c = *state;
    for (size_t i = 0; i < 2; i++) {
        sip_verdict_t v = parse_fixture(c, files[i], OPT_HDR);
        if (v == SIP_REQ_DROP) continue; /* no Via to route by: fine too */
        assert_int_equal(v, SIP_REQ_BAD);
        assert_int_equal(c->r.bad_status, 400);
        assert_non_null(c->r.top_via);
    }
}

/* Another SIP version: 505. */
static void test_version_not_supported(void **state)
{
    ctx_t *c = *state;
    free(c->buf);
    c->buf = load("invite.sip", &c->len);
    subst(&c->buf, &c->len, " SIP/2.0\r\nVia", " SIP/3.0\r\nVia");
    assert_int_equal(parse(c, NULL), SIP_REQ_BAD);
    assert_int_equal(c->r.bad_status, 505);
}

/* "Via CRLF SP : ..." is a Via (a folded name, unfolded by libosip2): our
 * scan must see it too, or the answer would go out without it. */
static void test_fuzz_via_name_folded(void **state)
{
    ctx_t *c = *state;
    sip_verdict_t v = parse_fixture(c, CRASH "via_name_folded.sip", NULL);
    if (v == SIP_REQ_DROP) return;
    size_t pos = 0;
    sip_hdr_t h;
    bool via = false;
    while (sip_next_header(c->buf, c->len, &pos, &h)) via |= sip_hdr_is(&h, "Via", 'v');
    assert_true(via);
}

/* A header field name that is not a token ("V&a", "[wd", "@."): libosip2
 * takes it, and forward mode would copy it to the next hop, which may read
 * the line differently. A routed 400. */
static void test_fuzz_header_name_not_token(void **state)
{
    static const char *names[] = { "V&a: P", "[wd: x", "@.: 2>", "Foo Bar: x", "\xbc: y" };
    ctx_t *c = *state;

    /* (the reproducer's top Via, "P/2/UDP", is no SIP/2.0 Via either: no
     * answer can be routed, it is dropped) */
    sip_verdict_t v = parse_fixture(c, CRASH "header_name_not_token.sip", NULL);
    assert_int_equal(v, SIP_REQ_DROP);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char line[64];
        snprintf(line, sizeof(line), "%s\r\nMax-Forwards: 70", names[i]);
        free(c->buf);
        c->buf = load("invite.sip", &c->len);
        subst(&c->buf, &c->len, "Max-Forwards: 70", line);
        assert_int_equal(parse(c, NULL), SIP_REQ_BAD);
        assert_int_equal(c->r.bad_status, 400);
        assert_string_equal(c->r.why, "Bad header field name");
        assert_reply4(c, "203.0.113.7", 40000);
    }
    /* every token character is fine */
    free(c->buf);
    c->buf = load("invite.sip", &c->len);
    subst(&c->buf, &c->len, "Max-Forwards: 70", "X-a.b!c%d*e_f+g`h'i~9: v\r\nMax-Forwards: 70");
    assert_ok(parse(c, NULL));
}

/* A top Via libosip2 takes but forward mode would split or read another
 * way (a comma in the host, a stray quote in a parameter, an empty port
 * next to rport, a parameter name that is not a token): never forwarded
 * (dropped like a Via we cannot answer to, or a 400 when libosip2 gave up
 * and the raw scan found a usable first value). Found by fuzzing the forward path
 * (tests/fuzz/crashes/via_*.sip). */
static void test_fuzz_via_not_well_formed(void **state)
{
    static const char *vias[] = {
        "192.0.2.10,:5062;branch=z9hG4bK776asdhds;rport",
        "192.0.2.10:5062;branch=z9hG4bK776asdhds;t=\"a;received=10.0.0.1",
        "192.0.2.10:5062;bnc\"h=\"i;branch=z9hG4bK776asdhds",
        "192.0.2.10:;rport=;branch=z9hG4bK776asdhds",
        "192.0.2.10:5062;bra\xfb" "ch=z9hG4bK776asdhds;rport",
    };
    static const char *crashes[] = { CRASH "via_host_comma.sip", CRASH "via_stray_quote.sip",
                                     CRASH "via_empty_port_rport.sip" };
    ctx_t *c = *state;
    for (size_t i = 0; i < sizeof(vias) / sizeof(vias[0]); i++) {
        free(c->buf);
        c->buf = load("invite.sip", &c->len);
        subst(&c->buf, &c->len, "192.0.2.10:5062;branch=z9hG4bK776asdhds;rport", vias[i]);
        assert_int_not_equal(parse(c, NULL), SIP_REQ_OK); /* dropped, or a 400 from the raw scan */
    }
    for (size_t i = 0; i < sizeof(crashes) / sizeof(crashes[0]); i++) /* not forwarded */
        assert_int_not_equal(parse_fixture(c, crashes[i], NULL), SIP_REQ_OK);
    /* a quoted parameter value, whole, is fine */
    free(c->buf);
    c->buf = load("invite.sip", &c->len);
    subst(&c->buf, &c->len, ";rport\r\n", ";x=\"a b\";rport\r\n");
    assert_ok(parse(c, NULL));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, ctx_setup, ctx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_invite_values),
        T(test_other_method_parsed_whole),
        T(test_lazy_parse_refuses),
        T(test_lazy_parse_long_values),
        T(test_fast_scanners_agree),
        T(test_invite_spans_point_into_datagram),
        T(test_ok_verdict_is_zero),
        T(test_option_header_name),
        T(test_compact_forms),
        T(test_folded_headers),
        T(test_existing_to_tag),
        T(test_max_forwards_zero),
        T(test_missing_call_id),
        T(test_missing_from),
        T(test_missing_to),
        T(test_missing_cseq),
        T(test_cseq_method_mismatch),
        T(test_bad_max_forwards),
        T(test_max_forwards_out_of_range),
        T(test_missing_from_tag),
        T(test_oversize_is_513),
        T(test_max_size_is_ok),
        T(test_garbage_with_via_is_400),
        T(test_garbage_without_via_is_dropped),
        T(test_empty_datagram_is_dropped),
        T(test_response_is_not_ours),
        T(test_garbled_response_is_not_ours),
        T(test_reply_rport),
        T(test_reply_rport_same_host),
        T(test_reply_no_rport_same_host),
        T(test_reply_no_rport_default_port),
        T(test_response_too_many_headers),
        T(test_callid_cseq_twice),
        T(test_reply_hostname),
        T(test_reply_other_ip),
        T(test_reply_ignores_received_in_request),
        T(test_reply_ignores_received_same_host),
        T(test_stream_vias),
        cmocka_unit_test(test_stream_frame),
        T(test_reply_ipv6_rport),
        T(test_reply_ipv6_no_rport),
        T(test_reply_ipv6_same_host),
        T(test_non_ip_source_is_dropped),
        T(test_methods),
        T(test_next_header_folded),
        T(test_next_header_edges),
        T(test_hdr_is),
        T(test_hdr_param),
        T(test_hdr_param_quoted_value),
        T(test_fuzz_nul_in_header),
        T(test_fuzz_request_line_broken),
        T(test_version_not_supported),
        T(test_fuzz_via_name_folded),
        T(test_fuzz_header_name_not_token),
        T(test_fuzz_via_not_well_formed),
    };
#undef T
    return cmocka_run_group_tests(tests, group_setup, NULL);
}

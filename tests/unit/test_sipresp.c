/* test_sipresp.c -- proxy/sipresp.c: the bytes of our answers and the
 * deterministic to-tag.
 *
 * Requests come from the raw datagrams in tests/unit/fixtures/ (read from
 * the repository root) and go through sip_parse(), as in route.c; expected
 * answers are written out byte for byte. Each test owns its buffers and its
 * sip_req_t through the per-test fixture, freed in teardown even on failure.
 */
#include <arpa/inet.h>
#include <ctype.h>
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

#include "fixture.h"
#include "sip.h"
#include "sipresp.h"
#include "version.h"


/* The to-tag of invite.sip: SipHash-2-4 keyed "frontdesk-totag\0" over
 * "a84b4c76e66710@pc33.carrier.example\0" "1928301774\0" "z9hG4bK776asdhds\0",
 * computed outside this code base. Pinned: to-tags must stay the same across
 * workers, restarts and versions, or the ACKs for answers sent by a proxy of
 * the previous version stop being recognised during an upgrade. */
#define INVITE_TAG "ea712a1ad7ef64ec"

#define INVITE_HEAD                                                                            \
    "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK776asdhds;rport=40000;received=203.0.113.7\r\n" \
    "Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKinner1\r\n"                                  \
    "To: \"Clinic\" <sip:15125550100@pbx.clinic.example>;tag=" INVITE_TAG "\r\n"               \
    "From: \"Alice\" <sip:15125551234@carrier.example>;tag=1928301774\r\n"                     \
    "Call-ID: a84b4c76e66710@pc33.carrier.example\r\n"                                         \
    "CSeq: 314159 INVITE\r\n"

#define TRAILER "Server: Frontdesk/" FRONTDESK_VERSION "\r\nContent-Length: 0\r\n\r\n"

/* ---------------------------------------------------------------------- */
/* Helpers                                                                */

typedef struct {
    char *buf;
    size_t len;
    sip_req_t r;
    bool parsed;
    char *buf2;      /* a second request (ACK, retransmission) */
    size_t len2;
    sip_req_t r2;
    bool parsed2;
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
    if (c->parsed2) sip_req_free(&c->r2);
    free(c->buf);
    free(c->buf2);
    free(c);
    return 0;
}

static int group_setup(void **state)
{
    (void)state;
    sip_global_init();
    return 0;
}


/* Parse <buf> as received from 203.0.113.7:40000 (behind a NAT). */
static sip_verdict_t parse_into(sip_req_t *r, bool *parsed, const char *buf, size_t len)
{
    struct sockaddr_in s = { 0 };
    s.sin_family = AF_INET;
    s.sin_port = htons(40000);
    assert_int_equal(inet_pton(AF_INET, "203.0.113.7", &s.sin_addr), 1);
    if (*parsed) sip_req_free(r);
    *parsed = true;
    return sip_parse(r, buf, len, (const struct sockaddr *)&s, sizeof(s), NULL);
}

/* A request that sip_parse() accepts. */
static void assert_ok(sip_verdict_t v)
{
    if (v != SIP_REQ_OK) fail_msg("verdict %d, want SIP_REQ_OK", (int)v);
}

static void parse_fixture(ctx_t *c, const char *name)
{
    free(c->buf);
    c->buf = load(name, &c->len);
    assert_ok(parse_into(&c->r, &c->parsed, c->buf, c->len));
}

/* The head of c->r as a string. */
static void head_of(const sip_req_t *r, char *out, size_t cap)
{
    int n = sipresp_head(r, out, cap - 1);
    if (n < 0) fail_msg("sipresp_head: %d", n);
    out[n] = '\0';
}

static span_t sp(const char *s)
{
    return (span_t){ s, strlen(s) };
}

static void tag_of(const char *callid, const char *fromtag, const char *branch, char out[17])
{
    sip_req_t r = { 0 };
    r.call_id = sp(callid);
    r.from_tag = sp(fromtag);
    r.branch = sp(branch);
    sipresp_to_tag(&r, out);
}

/* ---------------------------------------------------------------------- */
/* sipresp_head                                                           */

/* Top Via rewritten, the other Via copied, From, To with our tag, Call-ID,
 * CSeq, in request order; nothing else (no Max-Forwards, Contact, option
 * header, Content-*, body). */
static void test_head_invite(void **state)
{
    ctx_t *c = *state;
    char head[SIPRESP_HEAD_MAX + 1];

    parse_fixture(c, "invite.sip");
    head_of(&c->r, head, sizeof(head));
    assert_string_equal(head, INVITE_HEAD);
}

static void test_head_compact_forms(void **state)
{
    ctx_t *c = *state;
    char head[SIPRESP_HEAD_MAX + 1], tag[17], want[1024];

    parse_fixture(c, "invite_compact.sip");
    sipresp_to_tag(&c->r, tag);
    snprintf(want, sizeof(want),
             /* the top value is rewritten, the second value of the same
              * field is kept after it */
             "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKcompact1;rport=40000;received=203.0.113.7"
             ", SIP/2.0/UDP 10.0.0.5;branch=z9hG4bKcompact0\r\n"
             "t: <sip:15125550100@pbx.clinic.example>;tag=%s\r\n"
             "f: <sip:15125551234@carrier.example>;tag=c0mpact\r\n"
             "i: compact-1@carrier.example\r\n"
             "CSeq: 7 INVITE\r\n",
             tag);
    head_of(&c->r, head, sizeof(head));
    assert_string_equal(head, want);
}

/* A folded From is copied as it came, continuation lines included. */
static void test_head_folded(void **state)
{
    ctx_t *c = *state;
    char head[SIPRESP_HEAD_MAX + 1], tag[17], want[1024];

    parse_fixture(c, "invite_folded.sip");
    sipresp_to_tag(&c->r, tag);
    snprintf(want, sizeof(want),
             "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKfolded1;rport=40000;received=203.0.113.7\r\n"
             "To: <sip:15125550100@pbx.clinic.example>;tag=%s\r\n"
             "From: \"Alice\"\r\n  <sip:15125551234@carrier.example>\r\n\t;tag=f0lded\r\n"
             "Call-ID: folded-1@carrier.example\r\n"
             "CSeq: 1 INVITE\r\n",
             tag);
    head_of(&c->r, head, sizeof(head));
    assert_string_equal(head, want);
}

/* A folded header name ("Via CRLF SP :", accepted by libosip2, not by the
 * grammar) is written back as "Via: value", never copied as it came (found
 * by fuzzing: the second of two such Vias). */
static void test_head_folded_name(void **state)
{
    ctx_t *c = *state;
    char head[SIPRESP_HEAD_MAX + 1];

    free(c->buf);
    c->buf = load("../../fuzz/crashes/second_via_name_folded.sip", &c->len);
    assert_int_equal(parse_into(&c->r, &c->parsed, c->buf, c->len), SIP_REQ_BAD); /* its CSeq */
    head_of(&c->r, head, sizeof(head));
    assert_null(strstr(head, "Via\r\n"));
    assert_non_null(strstr(head, "\r\nVia: SIP/2.0/UDP 192.0.2.10;branch=z9hG4b;tag=t\r\n"));
}

/* A To that already has a tag is copied unchanged (RFC 3261 8.2.6.2). */
static void test_head_existing_to_tag(void **state)
{
    ctx_t *c = *state;
    char head[SIPRESP_HEAD_MAX + 1];

    parse_fixture(c, "invite_to_tag.sip");
    head_of(&c->r, head, sizeof(head));
    assert_string_equal(head,
                        "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKbad1;rport=40000;received=203.0.113.7\r\n"
                        "To: <sip:15125550100@pbx.clinic.example>;tag=existing-42\r\n"
                        "From: <sip:15125551234@carrier.example>;tag=b4d\r\n"
                        "Call-ID: bad-1@carrier.example\r\n"
                        "CSeq: 1 INVITE\r\n");
}

/* A request libosip2 rejected still gets a routable 400 head. */
static void test_head_raw_fallback(void **state)
{
    ctx_t *c = *state;
    char head[SIPRESP_HEAD_MAX + 1];

    c->buf = load("garbage_with_via.sip", &c->len);
    assert_int_equal(parse_into(&c->r, &c->parsed, c->buf, c->len), SIP_REQ_BAD);
    head_of(&c->r, head, sizeof(head));
    assert_string_equal(head,
                        "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKgarbage;rport=40000;received=203.0.113.7\r\n"
                        "From: <sip:15125551234@carrier.example>;tag=g4rbage\r\n"
                        "Call-ID: garbage-1@carrier.example\r\n");
}

static void test_head_enospc(void **state)
{
    ctx_t *c = *state;
    char head[SIPRESP_HEAD_MAX];
    size_t n = strlen(INVITE_HEAD);

    parse_fixture(c, "invite.sip");
    assert_int_equal(sipresp_head(&c->r, head, n), (int)n); /* exactly fits */
    assert_memory_equal(head, INVITE_HEAD, n);
    assert_int_equal(sipresp_head(&c->r, head, n - 1), -ENOSPC);
    assert_int_equal(sipresp_head(&c->r, head, 10), -ENOSPC);
    assert_int_equal(sipresp_head(&c->r, head, 0), -ENOSPC);
}

/* ---------------------------------------------------------------------- */
/* Deterministic to-tags                                                  */

static void test_to_tag_pinned(void **state)
{
    ctx_t *c = *state;
    char tag[17];

    parse_fixture(c, "invite.sip");
    memset(tag, 'x', sizeof(tag));
    sipresp_to_tag(&c->r, tag);
    assert_string_equal(tag, INVITE_TAG);
}

static void test_to_tag_format(void **state)
{
    (void)state;
    char tag[17];

    tag_of("", "", "", tag); /* nothing to hash still gives a tag */
    assert_int_equal(strlen(tag), 16);
    for (int i = 0; i < 16; i++) assert_true(isxdigit((unsigned char)tag[i]) && !isupper((unsigned char)tag[i]));
}

/* A retransmission gets a byte-identical head. */
static void test_to_tag_same_request_same_tag(void **state)
{
    ctx_t *c = *state;
    char h1[SIPRESP_HEAD_MAX + 1], h2[SIPRESP_HEAD_MAX + 1];

    parse_fixture(c, "invite.sip");
    c->buf2 = load("invite.sip", &c->len2);
    assert_ok(parse_into(&c->r2, &c->parsed2, c->buf2, c->len2));
    head_of(&c->r, h1, sizeof(h1));
    head_of(&c->r2, h2, sizeof(h2));
    assert_string_equal(h1, h2);
}

static void test_to_tag_depends_on_each_part(void **state)
{
    (void)state;
    char base[17], t[17];

    tag_of("call-1@host", "ftag", "z9hG4bKb1", base);
    tag_of("call-1@host", "ftag", "z9hG4bKb1", t);
    assert_string_equal(t, base);
    tag_of("call-2@host", "ftag", "z9hG4bKb1", t);
    assert_string_not_equal(t, base);
    tag_of("call-1@host", "ftag2", "z9hG4bKb1", t);
    assert_string_not_equal(t, base);
    tag_of("call-1@host", "ftag", "z9hG4bKb2", t);
    assert_string_not_equal(t, base);
    /* the parts are kept apart: moving a byte across a boundary changes it */
    tag_of("call-1@hos", "tftag", "z9hG4bKb1", t);
    assert_string_not_equal(t, base);
    tag_of("call-1@host", "ftagz", "9hG4bKb1", t);
    assert_string_not_equal(t, base);
}

/* Call-IDs longer than what is hashed (300 bytes a part) do not overflow. */
static void test_to_tag_long_parts(void **state)
{
    (void)state;
    char big[2000], t1[17], t2[17];

    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    tag_of(big, big, big, t1);
    tag_of(big, big, big, t2);
    assert_string_equal(t1, t2);
    assert_int_equal(strlen(t1), 16);
}

/* Load ack_template.sip with <tag> as the To tag. */
static void load_ack(ctx_t *c, const char *tag)
{
    free(c->buf2);
    c->buf2 = load("ack_template.sip", &c->len2);
    subst(&c->buf2, &c->len2, "@TOTAG@", tag);
}

/* The ACK for our non-2xx answer (RFC 3261 17.1.1.3) carries our tag. */
static void test_ack_for_us(void **state)
{
    ctx_t *c = *state;
    char tag[17];

    parse_fixture(c, "invite.sip");
    sipresp_to_tag(&c->r, tag);
    load_ack(c, tag);
    assert_ok(parse_into(&c->r2, &c->parsed2, c->buf2, c->len2));
    assert_int_equal(c->r2.method, SIP_ACK);
    assert_true(sip_is_ack_for_us(&c->r2));
}

static void test_ack_not_for_us(void **state)
{
    ctx_t *c = *state;
    char tag[17];

    /* another tag of the right length: a 2xx ACK of someone else's dialog */
    load_ack(c, "0123456789abcdef");
    assert_ok(parse_into(&c->r2, &c->parsed2, c->buf2, c->len2));
    assert_false(sip_is_ack_for_us(&c->r2));

    /* our tag with one character changed */
    load_ack(c, INVITE_TAG);
    c->buf2[strstr(c->buf2, INVITE_TAG) - c->buf2 + 15] ^= 1;
    assert_ok(parse_into(&c->r2, &c->parsed2, c->buf2, c->len2));
    assert_false(sip_is_ack_for_us(&c->r2));

    /* our tag, but another transaction (branch) */
    load_ack(c, INVITE_TAG);
    subst(&c->buf2, &c->len2, "z9hG4bK776asdhds", "z9hG4bK776asdhdt");
    assert_ok(parse_into(&c->r2, &c->parsed2, c->buf2, c->len2));
    assert_false(sip_is_ack_for_us(&c->r2));

    /* a tag that is a prefix of ours, or longer */
    load_ack(c, "ea712a1ad7ef64e");
    assert_ok(parse_into(&c->r2, &c->parsed2, c->buf2, c->len2));
    assert_false(sip_is_ack_for_us(&c->r2));
    load_ack(c, INVITE_TAG "0");
    assert_ok(parse_into(&c->r2, &c->parsed2, c->buf2, c->len2));
    assert_false(sip_is_ack_for_us(&c->r2));

    /* no To tag */
    load_ack(c, "x");
    subst(&c->buf2, &c->len2, ";tag=x", "");
    assert_ok(parse_into(&c->r2, &c->parsed2, c->buf2, c->len2));
    assert_false(sip_is_ack_for_us(&c->r2));

    /* our tag on something that is not an ACK */
    parse_fixture(c, "invite.sip");
    sipresp_to_tag(&c->r, tag);
    free(c->buf2);
    c->buf2 = load("invite.sip", &c->len2);
    subst(&c->buf2, &c->len2, "pbx.clinic.example>\r\n", "pbx.clinic.example>;tag=" INVITE_TAG "\r\n");
    assert_ok(parse_into(&c->r2, &c->parsed2, c->buf2, c->len2));
    assert_int_equal(c->r2.method, SIP_INVITE);
    assert_false(sip_is_ack_for_us(&c->r2));
}

/* The 200 for a CANCEL carries the To tag of the INVITE's answer (RFC 3261
 * 9.2 SHOULD): a CANCEL has the INVITE's Call-ID, From tag and branch. */
static void test_cancel_gets_invite_tag(void **state)
{
    ctx_t *c = *state;
    char head[SIPRESP_HEAD_MAX + 1];

    parse_fixture(c, "cancel.sip");
    assert_int_equal(c->r.method, SIP_CANCEL);
    head_of(&c->r, head, sizeof(head));
    assert_string_equal(head,
                        "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK776asdhds;rport=40000;received=203.0.113.7\r\n"
                        "To: \"Clinic\" <sip:15125550100@pbx.clinic.example>;tag=" INVITE_TAG "\r\n"
                        "From: \"Alice\" <sip:15125551234@carrier.example>;tag=1928301774\r\n"
                        "Call-ID: a84b4c76e66710@pc33.carrier.example\r\n"
                        "CSeq: 314159 CANCEL\r\n");
}

/* ---------------------------------------------------------------------- */
/* sipresp_contacts, sipresp_build, sipresp_reason                        */

static void test_contacts_q_values(void **state)
{
    (void)state;
    const char *uris[] = { "sip:nurse1@10.0.0.7:5060", "sips:dr.lee@clinic.example", "sip:frontdesk@10.0.0.9" };
    const char *want = "Contact: <sip:nurse1@10.0.0.7:5060>;q=1.0\r\n"
                       "Contact: <sips:dr.lee@clinic.example>;q=0.9\r\n"
                       "Contact: <sip:frontdesk@10.0.0.9>;q=0.8\r\n";
    char out[512];

    int n = sipresp_contacts(out, sizeof(out), uris, 3);
    assert_int_equal(n, (int)strlen(want));
    assert_memory_equal(out, want, strlen(want));
    assert_int_equal(sipresp_contacts(out, sizeof(out), uris, 0), 0);
}

/* q never reaches 0 (which would mean "do not use"). */
static void test_contacts_many(void **state)
{
    (void)state;
    const char *uris[12];
    char out[1024];

    for (int i = 0; i < 12; i++) uris[i] = "sip:a@b";
    int n = sipresp_contacts(out, sizeof(out) - 1, uris, 12);
    assert_true(n > 0);
    out[n] = '\0';
    assert_non_null(strstr(out, "Contact: <sip:a@b>;q=0.2\r\nContact: <sip:a@b>;q=0.1\r\n"
                                "Contact: <sip:a@b>;q=0.1\r\nContact: <sip:a@b>;q=0.1\r\n"));
    assert_null(strstr(out, "q=0.0"));
}

static void test_contacts_enospc(void **state)
{
    (void)state;
    const char *uris[] = { "sip:a@b", "sip:c@d" };
    const char *want = "Contact: <sip:a@b>;q=1.0\r\nContact: <sip:c@d>;q=0.9\r\n";
    char out[128];
    size_t n = strlen(want);

    assert_int_equal(sipresp_contacts(out, n, uris, 2), (int)n);
    assert_int_equal(sipresp_contacts(out, n - 1, uris, 2), -ENOSPC);
    assert_int_equal(sipresp_contacts(out, 5, uris, 2), -ENOSPC);
}

/* The whole 302 for invite.sip, as it goes on the wire. */
static void test_build_302(void **state)
{
    ctx_t *c = *state;
    const char *uris[] = { "sip:nurse1@10.0.0.7:5060", "sip:voicemail@10.0.0.2" };
    const char *want = "SIP/2.0 302 Moved Temporarily\r\n" INVITE_HEAD
                       "Contact: <sip:nurse1@10.0.0.7:5060>;q=1.0\r\n"
                       "Contact: <sip:voicemail@10.0.0.2>;q=0.9\r\n" TRAILER;
    char head[SIPRESP_HEAD_MAX], contacts[512], out[8192];

    parse_fixture(c, "invite.sip");
    int hl = sipresp_head(&c->r, head, sizeof(head));
    assert_true(hl > 0);
    int cl = sipresp_contacts(contacts, sizeof(contacts), uris, 2);
    assert_true(cl > 0);
    int n = sipresp_build(out, sizeof(out), 302, NULL, head, (size_t)hl, contacts, (size_t)cl);
    assert_int_equal(n, (int)strlen(want));
    out[n] = '\0';
    assert_string_equal(out, want);
}

static void test_build_no_extra(void **state)
{
    (void)state;
    const char *head = "Call-ID: x\r\n";
    char out[256];

    int n = sipresp_build(out, sizeof(out) - 1, 200, NULL, head, strlen(head), NULL, 0);
    assert_true(n > 0);
    out[n] = '\0';
    assert_string_equal(out, "SIP/2.0 200 OK\r\nCall-ID: x\r\n" TRAILER);

    n = sipresp_build(out, sizeof(out) - 1, 480, NULL, head, strlen(head), "Retry-After: 60\r\n", 17);
    assert_true(n > 0);
    out[n] = '\0';
    assert_string_equal(out, "SIP/2.0 480 Temporarily Unavailable\r\nCall-ID: x\r\nRetry-After: 60\r\n" TRAILER);
}

/* A reason from the rules replaces the default; CR/LF never gets through. */
static void test_build_reason(void **state)
{
    (void)state;
    char out[256];

    int n = sipresp_build(out, sizeof(out) - 1, 404, "Number Not In Service", "", 0, NULL, 0);
    assert_true(n > 0);
    out[n] = '\0';
    assert_string_equal(out, "SIP/2.0 404 Number Not In Service\r\n" TRAILER);

    n = sipresp_build(out, sizeof(out) - 1, 400, "Bad\r\nX-Injected: 1", "", 0, NULL, 0);
    assert_true(n > 0);
    out[n] = '\0';
    assert_string_equal(out, "SIP/2.0 400 Bad\r\n" TRAILER);

    n = sipresp_build(out, sizeof(out) - 1, 400, "Bad\nX-Injected: 1", "", 0, NULL, 0);
    assert_true(n > 0);
    out[n] = '\0';
    assert_string_equal(out, "SIP/2.0 400 Bad\r\n" TRAILER);
}

static void test_build_enospc(void **state)
{
    (void)state;
    const char *head = "Call-ID: x\r\n", *extra = "Retry-After: 60\r\n";
    const char *want = "SIP/2.0 480 Temporarily Unavailable\r\nCall-ID: x\r\nRetry-After: 60\r\n" TRAILER;
    char out[256];
    size_t n = strlen(want);

    assert_int_equal(sipresp_build(out, n, 480, NULL, head, strlen(head), extra, strlen(extra)), (int)n);
    assert_memory_equal(out, want, n);
    assert_int_equal(sipresp_build(out, n - 1, 480, NULL, head, strlen(head), extra, strlen(extra)), -ENOSPC);
    assert_int_equal(sipresp_build(out, 20, 480, NULL, head, strlen(head), extra, strlen(extra)), -ENOSPC);
    assert_int_equal(sipresp_build(out, 0, 480, NULL, head, strlen(head), extra, strlen(extra)), -ENOSPC);
}

static void test_reasons(void **state)
{
    (void)state;
    static const struct {
        int status;
        const char *reason;
    } rows[] = {
        { 200, "OK" },
        { 302, "Moved Temporarily" },
        { 400, "Bad Request" },
        { 404, "Not Found" },
        { 405, "Method Not Allowed" },
        { 416, "Unsupported URI Scheme" }, /* a Route we cannot follow */
        { 480, "Temporarily Unavailable" },
        { 481, "Call/Transaction Does Not Exist" },
        { 482, "Loop Detected" },          /* a request back to us */
        { 483, "Too Many Hops" },
        { 500, "Server Internal Error" },
        { 501, "Not Implemented" },
        { 503, "Service Unavailable" },
        { 513, "Message Too Large" },
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        assert_string_equal(sipresp_reason(rows[i].status), rows[i].reason);
    assert_string_equal(sipresp_reason(299), "Unknown");
    assert_string_equal(sipresp_reason(0), "Unknown");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, ctx_setup, ctx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_head_invite),
        T(test_head_compact_forms),
        T(test_head_folded),
        T(test_head_folded_name),
        T(test_head_existing_to_tag),
        T(test_head_raw_fallback),
        T(test_head_enospc),
        T(test_to_tag_pinned),
        T(test_to_tag_format),
        T(test_to_tag_same_request_same_tag),
        T(test_to_tag_depends_on_each_part),
        T(test_to_tag_long_parts),
        T(test_ack_for_us),
        T(test_ack_not_for_us),
        T(test_cancel_gets_invite_tag),
        T(test_contacts_q_values),
        T(test_contacts_many),
        T(test_contacts_enospc),
        T(test_build_302),
        T(test_build_no_extra),
        T(test_build_reason),
        T(test_build_enospc),
        T(test_reasons),
    };
#undef T
    return cmocka_run_group_tests(tests, group_setup, NULL);
}

/* test_fwd.c -- forward mode's surgery (proxy/fwd.c): our Via and its
 * branch, Max-Forwards, loop detection, relaying responses. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fwd.h"
#include "fixture.h"
#include "sip.h"

static const fwd_self_t self = { "192.0.2.1", 5060, NULL };

static const char invite[] =
    "INVITE sip:15125550100@192.0.2.1 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bKabc123;rport\r\n"
    "Max-Forwards: 70\r\n"
    "From: <sip:+15125557777@pbx.example>;tag=ft1\r\n"
    "To: <sip:15125550100@192.0.2.1>\r\n"
    "Call-ID: c1@pbx.example\r\n"
    "CSeq: 7 INVITE\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 4\r\n"
    "\r\n"
    "v=0\n";

typedef struct {
    sip_req_t r;
    bool parsed;
} ctx_t;

static int setup(void **state)
{
    sip_global_init();
    *state = calloc(1, sizeof(ctx_t));
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    ctx_t *c = *state;
    if (c->parsed) sip_req_free(&c->r);
    free(c);
    return 0;
}

static sip_verdict_t parse(ctx_t *c, const char *msg)
{
    struct sockaddr_in src = { .sin_family = AF_INET, .sin_port = htons(5062) };
    inet_pton(AF_INET, "198.51.100.7", &src.sin_addr);
    if (c->parsed) sip_req_free(&c->r);
    c->parsed = true;
    return sip_parse(&c->r, msg, strlen(msg), (struct sockaddr *)&src, sizeof(src), NULL);
}

static void test_branch_same_for_retransmission_and_cancel(void **state)
{
    ctx_t *c = *state;
    char b1[FWD_BRANCH_MAX], b2[FWD_BRANCH_MAX], b3[FWD_BRANCH_MAX], b4[FWD_BRANCH_MAX];
    assert_int_equal(parse(c, invite), SIP_REQ_OK);
    fwd_branch(&c->r, &self, b1);
    assert_int_equal(strncmp(b1, FWD_BRANCH_PREFIX, strlen(FWD_BRANCH_PREFIX)), 0);
    assert_int_equal(strlen(b1), strlen(FWD_BRANCH_PREFIX) + 24);
    assert_int_equal(parse(c, invite), SIP_REQ_OK);
    fwd_branch(&c->r, &self, b2);
    assert_string_equal(b1, b2);

    /* its CANCEL: same top branch, Call-ID and CSeq number */
    char cancel[sizeof(invite) + 16];
    char *p = strstr(invite, " sip:");
    snprintf(cancel, sizeof(cancel), "CANCEL%.*sCSeq: 7 CANCEL\r\nContent-Length: 0\r\n\r\n",
             (int)(strstr(invite, "CSeq:") - p), p);
    assert_int_equal(parse(c, cancel), SIP_REQ_OK);
    fwd_branch(&c->r, &self, b3);
    assert_string_equal(b1, b3);

    /* another call: another branch */
    char other[sizeof(invite)];
    snprintf(other, sizeof(other), "%s", invite);
    memcpy(strstr(other, "c1@"), "c2@", 3);
    assert_int_equal(parse(c, other), SIP_REQ_OK);
    fwd_branch(&c->r, &self, b4);
    assert_string_not_equal(b1, b4);
}

static void test_build_request(void **state)
{
    ctx_t *c = *state;
    char out[4096], branch[FWD_BRANCH_MAX], want[256];
    assert_int_equal(parse(c, invite), SIP_REQ_OK);
    fwd_branch(&c->r, &self, branch);
    int n = fwd_build_request(&c->r, "sip:ana@10.0.0.5:5070", &self, NULL, out, sizeof(out));
    assert_true(n > 0);
    out[n] = '\0';
    assert_int_equal(strncmp(out, "INVITE sip:ana@10.0.0.5:5070 SIP/2.0\r\n", 38), 0);
    snprintf(want, sizeof(want), "\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=%s;rport\r\n"
             "Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bKabc123;rport", branch);
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, "\r\nMax-Forwards: 69\r\n"));
    assert_null(strstr(out, "Max-Forwards: 70"));
    assert_non_null(strstr(out, "\r\nCall-ID: c1@pbx.example\r\n"));
    assert_int_equal(strcmp(out + n - 8, "\r\n\r\nv=0\n"), 0);

    /* the Request-URI unchanged when not retargeted */
    n = fwd_build_request(&c->r, NULL, &self, NULL, out, sizeof(out));
    out[n] = '\0';
    assert_int_equal(strncmp(out, "INVITE sip:15125550100@192.0.2.1 SIP/2.0\r\n", 42), 0);
    assert_int_equal(fwd_build_request(&c->r, NULL, &self, NULL, out, 100), -ENOSPC);
}

static void test_max_forwards(void **state)
{
    ctx_t *c = *state;
    char msg[sizeof(invite) + 8], out[4096];
    snprintf(msg, sizeof(msg), "%s", invite);
    char *mf = strstr(msg, "Max-Forwards: 70");
    memcpy(mf, "Max-Forwards: 00", 16);
    assert_int_equal(parse(c, msg), SIP_REQ_OK);
    assert_int_equal(fwd_build_request(&c->r, NULL, &self, NULL, out, sizeof(out)), -EINVAL); /* 483 */

    /* absent: 70 added */
    char nomf[sizeof(invite)];
    const char *line = strstr(invite, "Max-Forwards: 70\r\n");
    snprintf(nomf, sizeof(nomf), "%.*s%s", (int)(line - invite), invite, line + 18);
    assert_int_equal(parse(c, nomf), SIP_REQ_OK);
    int n = fwd_build_request(&c->r, NULL, &self, NULL, out, sizeof(out));
    assert_true(n > 0);
    out[n] = '\0';
    assert_non_null(strstr(out, "\r\nMax-Forwards: 70\r\n"));
}

/* What we forward, come back to us unchanged, is a loop; the same request
 * arriving fresh is not. */
static void test_loop(void **state)
{
    ctx_t *c = *state;
    char out[4096];
    assert_int_equal(parse(c, invite), SIP_REQ_OK);
    assert_false(fwd_is_loop(&c->r, &self));
    int n = fwd_build_request(&c->r, NULL, &self, NULL, out, sizeof(out));
    assert_true(n > 0);
    out[n] = '\0';
    char back[4096];
    snprintf(back, sizeof(back), "%s", out);
    assert_int_equal(parse(c, back), SIP_REQ_OK);
    assert_true(fwd_is_loop(&c->r, &self));
    /* through another proxy first: still a loop */
    const char *v = strstr(back, "\r\nVia: ") + 2;
    char via2[4200];
    snprintf(via2, sizeof(via2), "%.*sVia: SIP/2.0/UDP 203.0.113.9;branch=z9hG4bKp2\r\n%s",
             (int)(v - back), back, v);
    assert_int_equal(parse(c, via2), SIP_REQ_OK);
    assert_true(fwd_is_loop(&c->r, &self));
    /* another proxy instance (another address) is not us */
    fwd_self_t other = { "192.0.2.2", 5060, NULL };
    assert_false(fwd_is_loop(&c->r, &other));
}

/* A request that came over TCP: our Via carries its connection (";fdc="),
 * and a response to it goes back on that connection. */
static void test_response_to_a_connection(void **state)
{
    ctx_t *c = *state;
    char tail[4096], resp[1024], out[2048], branch[FWD_BRANCH_MAX];
    xport_to_t to;

    assert_int_equal(parse(c, invite), SIP_REQ_OK);
    fwd_flags_t f = { .conn = 0x1200000304ull };
    int n = fwd_build_tail(&c->r, &self, &f, tail, sizeof(tail));
    assert_true(n > 0);
    tail[n] = '\0';
    fwd_branch(&c->r, &self, branch);
    char via[256];
    snprintf(via, sizeof(via), "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=%s;fdc=1200000304;rport\r\n", branch);
    assert_non_null(strstr(tail, via));
    snprintf(resp, sizeof(resp),
             "SIP/2.0 180 Ringing\r\n"
             "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=%s;fdc=1200000304;rport=5060;received=192.0.2.1\r\n"
             "Via: SIP/2.0/TCP 198.51.100.7:5062;branch=z9hG4bKabc123;rport=40000;received=198.51.100.8\r\n"
             "From: <sip:+15125557777@pbx.example>;tag=ft1\r\nTo: <sip:15125550100@192.0.2.1>;tag=x\r\n"
             "Call-ID: c1@pbx.example\r\nCSeq: 7 INVITE\r\nContent-Length: 0\r\n\r\n", branch);
    assert_int_equal(parse(c, resp), SIP_REQ_RESPONSE);
    n = fwd_build_response(&c->r, &self, out, sizeof(out), &to);
    assert_true(n > 0);
    out[n] = '\0';
    assert_int_equal(to.kind, XPORT_TCP);
    assert_int_equal(to.conn, 0x1200000304ull);
    assert_null(strstr(out, "fdc="));
    /* a connection id that is not one: not relayed */
    char *p = strstr(resp, "fdc=1200000304");
    memcpy(p, "fdc=zz00000304", 14);
    assert_int_equal(parse(c, resp), SIP_REQ_RESPONSE);
    assert_int_equal(fwd_build_response(&c->r, &self, out, sizeof(out), &to), -EINVAL);
}

/* Bytes past the Content-Length are no part of the message (RFC 3261
 * 18.3): they are not forwarded, neither in a request nor in a response, so
 * a datagram cannot slip a second message into a TCP next hop; a request
 * without a Content-Length (UDP allows it) goes on with one. */
static void test_body_ends_at_content_length(void **state)
{
    ctx_t *c = *state;
    char msg[2048], out[4096];
    static const char smuggle[] = "BYE sip:victim@192.0.2.66 SIP/2.0\r\nContent-Length: 0\r\n\r\n";
    const char *cl = strstr(invite, "Content-Length: ");
    assert_non_null(cl);
    /* the invite with Content-Length: 0 and a second request after it */
    snprintf(msg, sizeof(msg), "%.*sContent-Length: 0\r\n\r\n%s", (int)(cl - invite), invite, smuggle);
    assert_int_equal(parse(c, msg), SIP_REQ_OK);
    int o = fwd_build_request(&c->r, NULL, &self, NULL, out, sizeof(out));
    assert_true(o > 0);
    out[o] = '\0';
    assert_null(strstr(out, "BYE sip:victim"));
    assert_true(strlen(out) >= 4 && strcmp(out + o - 4, "\r\n\r\n") == 0);

    /* no Content-Length at all: one is written, for the body there is */
    snprintf(msg, sizeof(msg), "%.*s\r\nab", (int)(cl - invite), invite);
    assert_int_equal(parse(c, msg), SIP_REQ_OK);
    o = fwd_build_request(&c->r, NULL, &self, NULL, out, sizeof(out));
    assert_true(o > 0);
    out[o] = '\0';
    assert_non_null(strstr(out, "\r\nContent-Length: 2\r\n\r\nab"));
}

static void test_response(void **state)
{
    ctx_t *c = *state;
    char resp[1024], out[2048], branch[FWD_BRANCH_MAX];
    xport_to_t to;

    assert_int_equal(parse(c, invite), SIP_REQ_OK);
    fwd_branch(&c->r, &self, branch);
    snprintf(resp, sizeof(resp),
             "SIP/2.0 180 Ringing\r\n"
             "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=%s;rport=5060;received=192.0.2.1\r\n"
             "Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bKabc123;rport=40000;received=198.51.100.8\r\n"
             "From: <sip:+15125557777@pbx.example>;tag=ft1\r\n"
             "To: <sip:15125550100@192.0.2.1>;tag=x\r\n"
             "Call-ID: c1@pbx.example\r\nCSeq: 7 INVITE\r\nContent-Length: 0\r\n\r\n", branch);
    assert_int_equal(parse(c, resp), SIP_REQ_RESPONSE);
    int n = fwd_build_response(&c->r, &self, out, sizeof(out), &to);
    assert_true(n > 0);
    out[n] = '\0';
    assert_null(strstr(out, "192.0.2.1:5060;branch"));
    assert_non_null(strstr(out, "SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bKabc123"));
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)&to.addr;
    char ip[32];
    inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
    assert_string_equal(ip, "198.51.100.8"); /* received */
    assert_int_equal(ntohs(s4->sin_port), 40000); /* rport */

    /* both in one Via header, comma-separated */
    snprintf(resp, sizeof(resp),
             "SIP/2.0 200 OK\r\n"
             "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=%s, SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bKabc123\r\n"
             "Call-ID: c1@pbx.example\r\nCSeq: 7 INVITE\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\n"
             "Content-Length: 0\r\n\r\n", branch);
    assert_int_equal(parse(c, resp), SIP_REQ_RESPONSE);
    n = fwd_build_response(&c->r, &self, out, sizeof(out), &to);
    assert_true(n > 0);
    out[n] = '\0';
    assert_non_null(strstr(out, "\r\nVia: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bKabc123\r\n"));
    inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
    assert_string_equal(ip, "198.51.100.7");
    assert_int_equal(ntohs(s4->sin_port), 5062);

    /* the next Via in IPv6, with rport and received; then one only
     * libosip2 reads (a comment), same answer */
    const char *nexts[] = {
        "SIP/2.0/UDP [2001:db8::7]:5062;branch=z9hG4bKabc123;rport=6000;received=2001:db8::8",
        "SIP/2.0/UDP [2001:db8::7]:5062;branch=z9hG4bKabc123;rport=6000;received=2001:db8::8 (pbx)",
    };
    for (int k = 0; k < 2; k++) {
        snprintf(resp, sizeof(resp),
                 "SIP/2.0 200 OK\r\nv: SIP/2.0/UDP 192.0.2.1:5060;branch=%s\r\nVia: %s\r\n"
                 "Call-ID: c1@pbx.example\r\nCSeq: 7 INVITE\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\n"
                 "Content-Length: 0\r\n\r\n", branch, nexts[k]);
        assert_int_equal(parse(c, resp), SIP_REQ_RESPONSE);
        n = fwd_build_response(&c->r, &self, out, sizeof(out), &to);
        assert_true(n > 0);
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&to.addr;
        assert_int_equal(to.addr.ss_family, AF_INET6);
        inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
        assert_string_equal(ip, "2001:db8::8");
        assert_int_equal(ntohs(s6->sin6_port), 6000);
    }
    /* ours by address, but not a branch of ours: not ours */
    snprintf(resp, sizeof(resp),
             "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKother\r\n"
             "Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bKabc123\r\n"
             "Call-ID: c1\r\nCSeq: 7 INVITE\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\n"
             "Content-Length: 0\r\n\r\n");
    assert_int_equal(parse(c, resp), SIP_REQ_RESPONSE);
    assert_int_equal(fwd_build_response(&c->r, &self, out, sizeof(out), &to), -ENOENT);

    /* not ours: dropped */
    snprintf(resp, sizeof(resp),
             "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 203.0.113.9:5060;branch=z9hG4bKzz\r\n"
             "Call-ID: c1\r\nCSeq: 7 INVITE\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\n"
             "Content-Length: 0\r\n\r\n");
    assert_int_equal(parse(c, resp), SIP_REQ_RESPONSE);
    assert_int_equal(fwd_build_response(&c->r, &self, out, sizeof(out), &to), -ENOENT);

    /* ours, and the request's own Via below, but a host name there and no
     * received=: cannot be routed without DNS */
    snprintf(resp, sizeof(resp),
             "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=%s\r\n"
             "Via: SIP/2.0/UDP pbx.example;branch=z9hG4bKabc123\r\n"
             "Call-ID: c1@pbx.example\r\nCSeq: 7 INVITE\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\n"
             "Content-Length: 0\r\n\r\n", branch);
    assert_int_equal(parse(c, resp), SIP_REQ_RESPONSE);
    assert_int_equal(fwd_build_response(&c->r, &self, out, sizeof(out), &to), -EINVAL);

    /* forged: our address and prefix, but not the branch we gave the
     * request below it (another Call-ID, another CSeq, another branch
     * below): dropped, never sent where its next Via says */
    const char *forged[][3] = { { "c9@pbx.example", "7", "z9hG4bKabc123" },
                                { "c1@pbx.example", "8", "z9hG4bKabc123" },
                                { "c1@pbx.example", "7", "z9hG4bKother" } };
    for (int k = 0; k < 3; k++) {
        snprintf(resp, sizeof(resp),
                 "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=%s\r\n"
                 "Via: SIP/2.0/UDP 10.1.2.3:161;branch=%s\r\n"
                 "Call-ID: %s\r\nCSeq: %s INVITE\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\n"
                 "Content-Length: 0\r\n\r\n", branch, forged[k][2], forged[k][0], forged[k][1]);
        assert_int_equal(parse(c, resp), SIP_REQ_RESPONSE);
        assert_int_equal(fwd_build_response(&c->r, &self, out, sizeof(out), &to), -ENOENT);
    }
    /* with another key, our own branch does not check out either */
    static const unsigned char k2[FWD_KEY_BYTES] = "another-key-16b";
    fwd_self_t keyed = { self.host, self.port, k2 };
    snprintf(resp, sizeof(resp),
             "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=%s\r\n"
             "Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bKabc123\r\n"
             "Call-ID: c1@pbx.example\r\nCSeq: 7 INVITE\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\n"
             "Content-Length: 0\r\n\r\n", branch);
    assert_int_equal(parse(c, resp), SIP_REQ_RESPONSE);
    assert_true(fwd_build_response(&c->r, &self, out, sizeof(out), &to) > 0);
    assert_int_equal(fwd_build_response(&c->r, &keyed, out, sizeof(out), &to), -ENOENT);
}

/* The same request sent back to us for another number is a spiral, not a
 * loop (RFC 3261 16.3 item 4): the Request-URI is part of the branch. */
static void test_spiral(void **state)
{
    ctx_t *c = *state;
    char out[4096], back[4200];
    assert_int_equal(parse(c, invite), SIP_REQ_OK);
    int n = fwd_build_request(&c->r, NULL, &self, NULL, out, sizeof(out));
    assert_true(n > 0);
    out[n] = '\0';
    const char *eol = strstr(out, "\r\n");
    snprintf(back, sizeof(back), "INVITE sip:15125550199@192.0.2.1 SIP/2.0%s", eol);
    assert_int_equal(parse(c, back), SIP_REQ_OK);
    assert_false(fwd_is_loop(&c->r, &self));
    snprintf(back, sizeof(back), "%s", out);
    assert_int_equal(parse(c, back), SIP_REQ_OK);
    assert_true(fwd_is_loop(&c->r, &self)); /* the very same request: a loop */
}

/* A CANCEL whose first Via line ends in a bare CR and holds a comma inside
 * <...>: libosip2 reads its Vias another way than we do, so it must not be
 * forwarded (the INVITE got a 400; the CANCEL gets one too).
 * Found by fuzzing (tests/fuzz/crashes/cancel_vias_unreadable.sip). */
static void test_followup_vias_unreadable(void **state)
{
    ctx_t *c = *state;
    size_t len;
    char *msg = load("../../fuzz/crashes/cancel_vias_unreadable.sip", &len);
    /* read the lazy way, its Vias are checked at once: a top Via whose
     * values libosip2 would split elsewhere routes nothing (dropped);
     * never forwarded */
    sip_verdict_t v = parse(c, msg);
    assert_true(v == SIP_REQ_DROP || v == SIP_REQ_BAD);
    sip_req_free(&c->r);
    c->parsed = false;
    free(msg);
}

/* A response to a request we forwarded goes back where the request came
 * from, even when the sender wrote a received= of its own in a Via whose
 * sent-by is its address (no rport): found by fuzzing
 * (tests/fuzz/crashes/received_in_request_same_host.sip). */
static void test_response_ignores_senders_received(void **state)
{
    ctx_t *c = *state;
    char msg[sizeof(invite) + 64], fwd[4096], resp[4096], out[4096];
    snprintf(msg, sizeof(msg), "%s", invite);
    char *p = strstr(msg, ";rport\r\n");
    memcpy(p, ";received=192.0.2.99\r\n", strlen(";received=192.0.2.99\r\n"));
    strcpy(p + strlen(";received=192.0.2.99\r\n"), strstr(invite, "Max-Forwards"));
    assert_int_equal(parse(c, msg), SIP_REQ_OK);
    int n = fwd_build_request(&c->r, NULL, &self, NULL, fwd, sizeof(fwd));
    assert_true(n > 0);
    fwd[n] = '\0';
    /* the downstream answers with the forwarded request's headers */
    char *hdrs = strstr(fwd, "\r\n") + 2, *eoh = strstr(fwd, "\r\n\r\n");
    int rl = snprintf(resp, sizeof(resp), "SIP/2.0 180 Ringing\r\n%.*s\r\n\r\n%s",
                      (int)(eoh - hdrs), hdrs, eoh + 4); /* its Content-Length: the same body */
    xport_to_t to;
    if (c->parsed) sip_req_free(&c->r);
    struct sockaddr_in src = { .sin_family = AF_INET, .sin_port = htons(5060) };
    inet_pton(AF_INET, "203.0.113.50", &src.sin_addr);
    assert_int_equal(sip_parse(&c->r, resp, (size_t)rl, (struct sockaddr *)&src, sizeof(src), NULL),
                     SIP_REQ_RESPONSE);
    assert_true(fwd_build_response(&c->r, &self, out, sizeof(out), &to) > 0);
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)&to.addr;
    char ip[32];
    inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
    assert_string_equal(ip, "198.51.100.7");
    assert_int_equal(ntohs(s4->sin_port), 5062);
}

/* The sender's Via gets the received= and rport= it was read with, so
 * the answers find their way back without DNS (RFC 3261 18.2.1, RFC
 * 3581); Record-Route names us with lr. */
static void test_sender_via_and_record_route(void **state)
{
    ctx_t *c = *state;
    char msg[sizeof(invite) + 64], out[4096];
    snprintf(msg, sizeof(msg), "%s", invite);
    memcpy(strstr(msg, "198.51.100.7:5062"), "pbx.example:50620", 17); /* a name, another port */
    assert_int_equal(parse(c, msg), SIP_REQ_OK);
    fwd_flags_t f = { .record_route = true };
    int n = fwd_build_request(&c->r, NULL, &self, &f, out, sizeof(out));
    assert_true(n > 0);
    out[n] = '\0';
    const char *rr = strstr(out, "\r\nRecord-Route: <sip:192.0.2.1:5060;lr;fdrr=");
    assert_non_null(rr);
    const char *gt = strchr(rr, '>');
    assert_int_equal(gt - rr, (long)strlen("\r\nRecord-Route: <sip:192.0.2.1:5060;lr;fdrr=") + 16);

    /* the dialog's next request, with that Record-Route as its Route: ours
     * and signed; the same Route in another dialog (Call-ID): not signed */
    char bye[2048];
    snprintf(bye, sizeof(bye),
             "BYE sip:ana@10.0.0.5:5070 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bKb1\r\n"
             "Route: %.*s\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\n"
             "Call-ID: c1@pbx.example\r\nCSeq: 8 BYE\r\nContent-Length: 0\r\n\r\n",
             (int)(gt + 1 - (rr + 16)), rr + 16);
    assert_int_equal(parse(c, bye), SIP_REQ_OK);
    span_t next;
    assert_true(fwd_route_is_self(&c->r, &self, &next));
    assert_true(fwd_route_signed(&c->r, &self));
    memcpy(strstr(bye, "Call-ID: c1@"), "Call-ID: c2@", 12);
    assert_int_equal(parse(c, bye), SIP_REQ_OK);
    assert_false(fwd_route_signed(&c->r, &self));
    assert_non_null(strstr(out, "\r\nVia: SIP/2.0/UDP pbx.example:50620;branch=z9hG4bKabc123;"
                                "rport=5062;received=198.51.100.7\r\n"));
    assert_int_equal(strstr(out, "Record-Route") < strstr(out, "pbx.example:50620"), 1);
}

/* Loose routing: our Route is dropped and the next hop is the next Route,
 * or the Request-URI when ours was the last; another Route is left. */
static void test_route(void **state)
{
    ctx_t *c = *state;
    char msg[2048], out[4096];
    span_t next = { NULL, 0 };
    const char *bye = "BYE sip:ana@10.0.0.5:5070 SIP/2.0\r\n"
                      "Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bKb1\r\n"
                      "Route: <sip:192.0.2.1:5060;lr>, <sip:203.0.113.4;lr>\r\n"
                      "From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\n"
                      "Call-ID: r1\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n";
    assert_int_equal(parse(c, bye), SIP_REQ_OK);
    assert_true(fwd_route_is_self(&c->r, &self, &next));
    assert_false(fwd_route_signed(&c->r, &self)); /* no token: not from us */
    assert_int_equal(next.len, strlen("<sip:203.0.113.4;lr>"));
    assert_memory_equal(next.s, "<sip:203.0.113.4;lr>", next.len);
    fwd_flags_t f = { .pop_route = true };
    int n = fwd_build_request(&c->r, NULL, &self, &f, out, sizeof(out));
    assert_true(n > 0);
    out[n] = '\0';
    assert_non_null(strstr(out, "\r\nRoute: <sip:203.0.113.4;lr>\r\n"));
    assert_null(strstr(out, "192.0.2.1:5060;lr"));
    assert_non_null(strstr(out, "BYE sip:ana@10.0.0.5:5070 SIP/2.0\r\n")); /* unchanged */

    /* ours the only one: the line goes, the next hop is the Request-URI */
    snprintf(msg, sizeof(msg), "%s", bye);
    char *r = strstr(msg, ", <sip:203");
    memmove(r, strstr(r, "\r\n"), strlen(strstr(r, "\r\n")) + 1);
    assert_int_equal(parse(c, msg), SIP_REQ_OK);
    assert_true(fwd_route_is_self(&c->r, &self, &next));
    assert_memory_equal(next.s, "sip:ana@10.0.0.5:5070", next.len);
    n = fwd_build_request(&c->r, NULL, &self, &f, out, sizeof(out));
    out[n] = '\0';
    assert_null(strstr(out, "Route:"));

    /* someone else's Route first: not ours to pop */
    memcpy(strstr(msg, "192.0.2.1"), "192.0.2.9", 9);
    assert_int_equal(parse(c, msg), SIP_REQ_OK);
    assert_false(fwd_route_is_self(&c->r, &self, &next));
    assert_false(fwd_ruri_is_self(&c->r, &self));
}

static void test_targets(void **state)
{
    fwd_target_t t;
    (void)state;
    assert_int_equal(fwd_uri_target("sip:ana@10.0.0.5:5070", 21, &t), 0);
    assert_string_equal(t.host, "10.0.0.5");
    assert_int_equal(t.port, 5070);
    assert_true(t.numeric);
    assert_int_equal(ntohs(((struct sockaddr_in *)&t.addr)->sin_port), 5070);
    const char *u = "<sip:vm@pbx.example;transport=udp>;expires=0";
    assert_int_equal(fwd_uri_target(u, strlen(u), &t), 0);
    assert_string_equal(t.host, "pbx.example");
    assert_int_equal(t.port, 5060);
    assert_false(t.numeric);
    u = "sip:x@[2001:db8::1]:5080";
    assert_int_equal(fwd_uri_target(u, strlen(u), &t), 0);
    assert_true(t.numeric);
    assert_int_equal(t.addr.ss_family, AF_INET6);
    assert_int_equal(t.transport, XPORT_UDP);
    /* the transport parameter: udp and tcp, any case, in either parser */
    u = "sip:ana@10.0.0.5:5070;transport=TCP";
    assert_int_equal(fwd_uri_target(u, strlen(u), &t), 0);
    assert_int_equal(t.transport, XPORT_TCP);
    u = "<sip:ana@10.0.0.5;lr;transport=tcp;x=y>";
    assert_int_equal(fwd_uri_target(u, strlen(u), &t), 0);
    assert_int_equal(t.transport, XPORT_TCP);
    u = "sip:a%20b@pbx.example;transport=tcp"; /* libosip2's parser */
    assert_int_equal(fwd_uri_target(u, strlen(u), &t), 0);
    assert_int_equal(t.transport, XPORT_TCP);
    u = "sip:ana@10.0.0.5;transport=tls";
    assert_int_equal(fwd_uri_target(u, strlen(u), &t), -EPROTONOSUPPORT);
    u = "sip:ana@10.0.0.5;transport=sctp";
    assert_int_equal(fwd_uri_target(u, strlen(u), &t), -EPROTONOSUPPORT);
    assert_int_equal(fwd_uri_target("sips:a@10.0.0.1", 16, &t), -EINVAL); /* TLS */
    assert_int_equal(fwd_uri_target("tel:+15125550100", 16, &t), -EINVAL);
    assert_int_equal(fwd_uri_target("sip:a@10.0.0.1:99999", 20, &t), -EINVAL);
    assert_int_equal(fwd_uri_target("<sip:a@10.0.0.1", 15, &t), -EINVAL);

    assert_true(fwd_uri_is_self("sip:15125550100@192.0.2.1", 25, &self)); /* 5060 */
    assert_false(fwd_uri_is_self("sip:15125550100@192.0.2.1:5070", 30, &self));
    const fwd_self_t v6 = { "2001:db8::2", 5062, NULL };
    u = "sip:1@[2001:db8::2]:5062";
    assert_true(fwd_uri_is_self(u, strlen(u), &v6));
}

/* A Via value we cannot read (here a second value on a line, without a
 * host): not forwarded. */
static void test_vias_ok(void **state)
{
    ctx_t *c = *state;
    char msg[sizeof(invite) + 128];
    assert_int_equal(parse(c, invite), SIP_REQ_OK);
    assert_true(fwd_vias_ok(&c->r));
    const char *v = strstr(invite, "Max-Forwards");
    snprintf(msg, sizeof(msg), "%.*sVia: SIP/2.0/UDP 198.51.100.9;branch=z9hG4bKx, SIP/2.0/UDP ;branch=y\r\n%s",
             (int)(v - invite), invite, v);
    /* libosip2 refuses the message, or we refuse to forward it */
    sip_verdict_t got = parse(c, msg);
    assert_true(got != SIP_REQ_OK || !fwd_vias_ok(&c->r));

    /* a second Via we and libosip2 read alike: an IPv6 address, a name */
    static const struct {
        const char *via;
        bool ok;
    } cases[] = {
        { "SIP/2.0/UDP [2001:db8::7]:5070;branch=z9hG4bKv6", true },
        { "SIP/2.0/UDP pbx.clinic.example;branch=z9hG4bKname", true },
        /* a comma where our split and libosip2's part: quoted, bracketed */
        { "SIP/2.0/UDP 198.51.100.9;branch=z9hG4bKq;x=\"a,b\"", false },
        { "SIP/2.0/UDP [2001:db8::7,1]:5070;branch=z9hG4bKb", false },
        /* a host that is no address nor name */
        { "SIP/2.0/UDP [\t::1];branch=z9hG4bKtab", false },
        { "SIP/2.0/UDP [fe80::1%eth0];branch=z9hG4bKzone", false },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(msg, sizeof(msg), "%.*sVia: %s\r\n%s", (int)(v - invite), invite, cases[i].via, v);
        got = parse(c, msg);
        if (cases[i].ok) {
            assert_int_equal(got, SIP_REQ_OK);
            assert_true(fwd_vias_ok(&c->r));
        } else {
            assert_true(got != SIP_REQ_OK || !fwd_vias_ok(&c->r));
        }
    }

    /* found by fuzzing: a tab inside the brackets of the sender's IPv6
     * address (we and libosip2 read different hosts, so its answers had
     * nowhere to go), a stray quote in a Via's protocol (we read one
     * value where libosip2 reads two) */
    static const char *crashes[] = { "../../fuzz/crashes/via_ipv6_host_tab.sip",
                                      "../../fuzz/crashes/via_protocol_stray_quote.sip" };
    for (size_t i = 0; i < sizeof(crashes) / sizeof(crashes[0]); i++) {
        size_t len;
        char *m = load(crashes[i], &len);
        m[strcspn(m, "$")] = '\0'; /* the harness's end mark and what follows */
        assert_true(parse(c, m) != SIP_REQ_OK || !fwd_vias_ok(&c->r));
        sip_req_free(&c->r);
        c->parsed = false;
        free(m);
    }
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_followup_vias_unreadable),
        T(test_branch_same_for_retransmission_and_cancel),
        T(test_build_request),
        T(test_max_forwards),
        T(test_loop),
        T(test_response_to_a_connection),
        T(test_body_ends_at_content_length),
        T(test_response),
        T(test_sender_via_and_record_route),
        T(test_response_ignores_senders_received),
        T(test_route),
        T(test_targets),
        T(test_spiral),
        T(test_vias_ok),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* bench_sip -- CPU cost of the SIP front end per call, without sockets,
 * Redis or rules, on a realistic 700-byte INVITE with SDP:
 *
 *   redirect (default): the INVITE parsed, a 302 with two Contacts built,
 *       the ACK read from its raw headers (sip_parse_ack) and told ours
 *       or not;
 *   forward: the INVITE parsed, checked for a loop, forwarded (our Via,
 *       Max-Forwards, retargeted to a staff contact), the 100 and the 302
 *       of the phone relayed back, the ACK parsed and forwarded.
 *
 * Prints the median and p99 of batches, in ns per call. Pure CPU: compare
 * two builds or both modes in one run, or with callgrind (instruction
 * counts do not depend on machine noise).
 *
 *   build/bench_sip [N] [malloc] [forward]   N calls (default 200000);
 *       "malloc": libosip2 on malloc instead of the arena
 */
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arena.h"
#include "fwd.h"
#include "outbuf.h"
#include "sip.h"
#include "sipresp.h"

static const char invite[] =
    "INVITE sip:15125550100*2@10.0.0.5 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK-524287-1---4d8a3f1e2b7c9a01;rport\r\n"
    "Max-Forwards: 70\r\n"
    "Contact: <sip:+15125557777@10.0.0.9:5060>\r\n"
    "To: <sip:15125550100@10.0.0.5>\r\n"
    "From: \"Caller\" <sip:+15125557777@10.0.0.9>;tag=8f2a1c3d\r\n"
    "Call-ID: 4d8a3f1e2b7c9a01-0123456789abcdef@10.0.0.9\r\n"
    "CSeq: 1 INVITE\r\n"
    "Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, MESSAGE, SUBSCRIBE, INFO\r\n"
    "Content-Type: application/sdp\r\n"
    "Supported: replaces, timer\r\n"
    "User-Agent: Clinic PBX 16.0\r\n"
    "X-Frontdesk-Option: 2\r\n"
    "Content-Length: 204\r\n"
    "\r\n"
    "v=0\r\n"
    "o=- 1234567890 1234567890 IN IP4 10.0.0.9\r\n"
    "s=call\r\n"
    "c=IN IP4 10.0.0.9\r\n"
    "t=0 0\r\n"
    "m=audio 40000 RTP/AVP 0 8 101\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=sendrecv\r\n";

static const fwd_self_t self = { "10.0.0.5", 5060, NULL };
static const char contact[] = "sip:ana.garcia@10.0.1.7:5060";

/* One redirected call: INVITE -> 302, the ACK absorbed. */
static size_t redirect_call(const struct sockaddr_in *src, const char *ack, size_t ack_len)
{
    static const char *const uris[] = { "sip:ana.garcia@pbx.downtown.example",
                                        "sip:frontdesk@pbx.downtown.example" };
    sip_req_t r;
    char head[SIPRESP_HEAD_MAX], contacts[512], out[8192];
    if (sip_parse(&r, invite, sizeof(invite) - 1, (const struct sockaddr *)src, sizeof(*src),
                  "X-Frontdesk-Option") != SIP_REQ_OK)
        return 0;
    int hl = sipresp_head(&r, head, sizeof(head));
    int cl = sipresp_contacts(contacts, sizeof(contacts), uris, 2);
    int ol = sipresp_build(out, sizeof(out), 302, NULL, head, (size_t)hl, contacts, (size_t)cl);
    sip_req_free(&r);
    arena_reset();
    /* as route.c does in redirect mode: the raw header index only (the
     * bench's ACK carries the phone's tag: the check runs, whatever it
     * says) */
    if (!sip_parse_ack(&r, ack, ack_len))
        ol = 0;
    else
        ol += sip_is_ack_for_us(&r);
    sip_req_free(&r);
    arena_reset();
    return (size_t)(ol > 0 ? ol : 0);
}

/* The request line + tail of <r> forwarded to the staff contact. */
static int forward(const sip_req_t *r, char *out, size_t cap)
{
    fwd_target_t t;
    char tail[8192];
    if (fwd_is_loop(r, &self) || fwd_uri_target(contact, sizeof(contact) - 1, &t) < 0) return -1;
    int tl = fwd_build_tail(r, &self, NULL, tail, sizeof(tail));
    if (tl < 0) return -1;
    /* the request line as route.c writes it */
    out_t o = { out, 0, cap, false };
    put(&o, r->method_name.s, r->method_name.len);
    puts_(&o, " ");
    puts_(&o, contact);
    puts_(&o, " SIP/2.0\r\n");
    put(&o, tail, (size_t)tl);
    return o.full ? -1 : (int)o.len;
}

/* One forwarded call: INVITE forwarded, 100 and 302 relayed, ACK
 * forwarded. <resp> are the phone's answers (our Via on top). */
static size_t forward_call(const struct sockaddr_in *src, const char *ack, size_t ack_len,
                           char resp[2][2048], const size_t resp_len[2])
{
    sip_req_t r;
    char out[9000];
    xport_to_t to;
    size_t sink = 0;
    if (sip_parse(&r, invite, sizeof(invite) - 1, (const struct sockaddr *)src, sizeof(*src),
                  "X-Frontdesk-Option") != SIP_REQ_OK)
        return 0;
    int n = forward(&r, out, sizeof(out));
    sip_req_free(&r);
    arena_reset();
    if (n < 0) return 0;
    sink += (size_t)n;
    for (int k = 0; k < 2; k++) {
        if (sip_parse(&r, resp[k], resp_len[k], (const struct sockaddr *)src, sizeof(*src), NULL) != SIP_REQ_RESPONSE)
            return 0;
        n = fwd_build_response(&r, &self, out, sizeof(out), &to);
        sip_req_free(&r);
        arena_reset();
        if (n < 0) return 0;
        sink += (size_t)n;
    }
    if (sip_parse(&r, ack, ack_len, (const struct sockaddr *)src, sizeof(*src), NULL) != SIP_REQ_OK) return 0;
    n = forward(&r, out, sizeof(out));
    sip_req_free(&r);
    arena_reset();
    return n < 0 ? 0 : sink + (size_t)n;
}

/* The phone's 100 and 302 to the forwarded INVITE, and the caller's ACK. */
static int make_messages(const struct sockaddr_in *src, char *ack, size_t *ack_len,
                         char resp[2][2048], size_t resp_len[2])
{
    sip_req_t r;
    char fwd[9000];
    if (sip_parse(&r, invite, sizeof(invite) - 1, (const struct sockaddr *)src, sizeof(*src), NULL) != SIP_REQ_OK)
        return -1;
    int n = forward(&r, fwd, sizeof(fwd));
    sip_req_free(&r);
    if (n < 0) return -1;
    fwd[n] = '\0';
    /* the answers carry the forwarded INVITE's Vias, From, To (+tag),
     * Call-ID and CSeq */
    const char *vias = strstr(fwd, "\r\nVia: ") + 2, *end = strstr(fwd, "\r\nMax-Forwards:");
    static const char *const status[] = { "100 Trying", "302 Moved Temporarily" };
    for (int k = 0; k < 2; k++)
        resp_len[k] = (size_t)snprintf(resp[k], 2048,
                                       "SIP/2.0 %s\r\n%.*s\r\n"
                                       "From: \"Caller\" <sip:+15125557777@10.0.0.9>;tag=8f2a1c3d\r\n"
                                       "To: <sip:15125550100@10.0.0.5>%s\r\n"
                                       "Call-ID: 4d8a3f1e2b7c9a01-0123456789abcdef@10.0.0.9\r\n"
                                       "CSeq: 1 INVITE\r\n%sContent-Length: 0\r\n\r\n",
                                       status[k], (int)(end - vias), vias, k ? ";tag=ph1" : "",
                                       k ? "Contact: <sip:vm@10.0.1.8>\r\n" : "");
    *ack_len = (size_t)snprintf(ack, 2048,
                                "ACK sip:15125550100*2@10.0.0.5 SIP/2.0\r\n"
                                "Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK-524287-1---4d8a3f1e2b7c9a01;rport\r\n"
                                "Max-Forwards: 70\r\n"
                                "To: <sip:15125550100@10.0.0.5>;tag=ph1\r\n"
                                "From: \"Caller\" <sip:+15125557777@10.0.0.9>;tag=8f2a1c3d\r\n"
                                "Call-ID: 4d8a3f1e2b7c9a01-0123456789abcdef@10.0.0.9\r\n"
                                "CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n");
    return 0;
}

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 200000;
    enum { BATCH = 1000 };
    long batches = n / BATCH > 0 ? n / BATCH : 1;
    double *per = malloc(sizeof(double) * (size_t)batches);
    struct sockaddr_in src = { .sin_family = AF_INET, .sin_port = htons(5060) };
    src.sin_addr.s_addr = htonl(0x0a000009);
    size_t sink = 0, ack_len = 0, resp_len[2];
    char ack[2048], resp[2][2048];
    bool use_arena = true, fwd = false;

    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "malloc") == 0) use_arena = false;
        else if (strcmp(argv[i], "forward") == 0) fwd = true;
        else {
            fprintf(stderr, "usage: bench_sip [N] [malloc] [forward]\n");
            return 2;
        }
    }
    if (use_arena) {
        arena_install();
        arena_thread_init(ARENA_SIZE);
    }
    sip_global_init();
    if (make_messages(&src, ack, &ack_len, resp, resp_len) < 0) {
        fprintf(stderr, "bench_sip: the INVITE does not parse\n");
        return 1;
    }
    arena_reset();
    for (long b = 0; b < batches; b++) {
        double t0 = now_ns();
        for (int i = 0; i < BATCH; i++) {
            size_t k = fwd ? forward_call(&src, ack, ack_len, resp, resp_len) : redirect_call(&src, ack, ack_len);
            if (!k) {
                fprintf(stderr, "bench_sip: a %s call failed\n", fwd ? "forwarded" : "redirected");
                return 1;
            }
            sink += k;
        }
        per[b] = (now_ns() - t0) / BATCH;
    }
    qsort(per, (size_t)batches, sizeof(double), cmp);
    printf("bench_sip (%s, %s): %ld calls: median %.0f ns, p99 %.0f ns per call (%s)\n",
           use_arena ? "arena" : "malloc", fwd ? "forward" : "redirect", batches * BATCH, per[batches / 2],
           per[(size_t)((double)batches * 0.99)],
           fwd ? "INVITE forwarded, 100 and 302 relayed, ACK forwarded" : "INVITE -> 302, ACK absorbed");
    free(per);
    return sink == 0;
}

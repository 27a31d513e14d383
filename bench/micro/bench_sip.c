/* bench_sip -- CPU cost of the SIP front end per INVITE, without sockets:
 * sip_parse() + sipresp_head() + a 302 with two Contacts, on a realistic
 * 700-byte INVITE with SDP. Prints the median and p99 of batches, in ns per
 * request. Pure CPU: compare two builds in one run, or with callgrind
 * (instruction counts do not depend on machine noise).
 *
 *   build/bench_sip [N] [malloc]   N requests (default 200000); "malloc":
 *                                  libosip2 on malloc instead of the arena
 */
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arena.h"
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
    static const char *const uris[] = { "sip:ana.garcia@pbx.downtown.example",
                                        "sip:frontdesk@pbx.downtown.example" };
    size_t sink = 0;

    bool use_arena = !(argc > 2 && strcmp(argv[2], "malloc") == 0);
    if (use_arena) {
        arena_install();
        arena_thread_init(ARENA_SIZE);
    }
    sip_global_init();
    for (long b = 0; b < batches; b++) {
        double t0 = now_ns();
        for (int i = 0; i < BATCH; i++) {
            sip_req_t r;
            char head[SIPRESP_HEAD_MAX], contacts[512], out[8192];
            if (sip_parse(&r, invite, sizeof(invite) - 1, (struct sockaddr *)&src, sizeof(src),
                          "X-Frontdesk-Option") != SIP_REQ_OK) {
                fprintf(stderr, "bench_sip: the INVITE does not parse\n");
                return 1;
            }
            int hl = sipresp_head(&r, head, sizeof(head));
            int cl = sipresp_contacts(contacts, sizeof(contacts), uris, 2);
            int ol = sipresp_build(out, sizeof(out), 302, NULL, head, (size_t)hl, contacts, (size_t)cl);
            sink += (size_t)ol;
            sip_req_free(&r);
            arena_reset();
        }
        per[b] = (now_ns() - t0) / BATCH;
    }
    qsort(per, (size_t)batches, sizeof(double), cmp);
    printf("bench_sip (%s): %ld requests: median %.0f ns, p99 %.0f ns per INVITE (parse + 302)\n",
           use_arena ? "arena" : "malloc", batches * BATCH, per[batches / 2], per[(size_t)((double)batches * 0.99)]);
    free(per);
    return sink == 0;
}

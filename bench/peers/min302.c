/* min302.c -- the floor a SIP redirect costs on this machine: a minimal,
 * hand-written stateless 302 server, for `make bench-compare`'s reference
 * configuration (the proxy's own CPU per call is judged against it).
 *
 * One thread, one UDP socket on a loopback address, blocking recvmmsg and
 * sendmmsg of up to 64 datagrams, no parser beyond finding five header
 * lines: an INVITE gets "302 Moved Temporarily" with its Via, From,
 * Call-ID and CSeq lines copied, a To tag added, and one fixed Contact; an
 * ACK gets nothing; anything else is ignored. It checks nothing a real
 * server must (no Max-Forwards, no sanity, no received/rport): it is a
 * floor, not a server. Stops on SIGTERM/SIGINT.
 *
 *   build/min302 --listen 127.0.0.1:PORT --contact sip:desk@example [--seconds N]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define MAXLEN 4096

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

/* The header line of <name> (case-insensitive, long form or <c>ompact)
 * in <msg>: its start and length up to CRLF, or NULL. */
static const char *header(const char *msg, size_t len, const char *name, char c, size_t *hl)
{
    size_t nl = strlen(name);
    const char *p = memchr(msg, '\n', len), *end = msg + len;
    while (p && ++p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol || eol == p || (eol == p + 1 && *p == '\r')) return NULL; /* end of headers */
        size_t n = (size_t)(eol - p);
        bool full = n > nl && strncasecmp(p, name, nl) == 0 && (p[nl] == ':' || p[nl] == ' ');
        bool compact = c && n > 1 && (p[0] == c || p[0] == (c ^ 0x20)) && (p[1] == ':' || p[1] == ' ');
        if (full || compact) {
            *hl = n + 1;
            return p;
        }
        p = eol;
    }
    return NULL;
}

static size_t put(char *out, size_t o, const char *s, size_t n)
{
    if (o + n > MAXLEN) return MAXLEN + 1;
    memcpy(out + o, s, n);
    return o + n;
}

/* The 302 for INVITE <msg>, in <out>; 0 when there is nothing to send. */
static size_t answer(const char *msg, size_t len, const char *contact, char *out)
{
    if (len < 7 || memcmp(msg, "INVITE ", 7) != 0) return 0;
    const char *via, *from, *to, *cid, *cseq;
    size_t lv, lf, lt, lc, ls;
    if (!(via = header(msg, len, "Via", 'v', &lv)) || !(from = header(msg, len, "From", 'f', &lf)) ||
        !(to = header(msg, len, "To", 't', &lt)) || !(cid = header(msg, len, "Call-ID", 'i', &lc)) ||
        !(cseq = header(msg, len, "CSeq", '\0', &ls)))
        return 0;
    static const char status[] = "SIP/2.0 302 Moved Temporarily\r\n";
    size_t o = put(out, 0, status, sizeof(status) - 1);
    o = put(out, o, via, lv);
    o = put(out, o, from, lf);
    size_t te = lt;
    while (te && (to[te - 1] == '\n' || to[te - 1] == '\r')) te--;
    o = put(out, o, to, te);
    o = put(out, o, ";tag=m302\r\n", 11);
    o = put(out, o, cid, lc);
    o = put(out, o, cseq, ls);
    o = put(out, o, "Contact: <", 10);
    o = put(out, o, contact, strlen(contact));
    o = put(out, o, ">\r\nContent-Length: 0\r\n\r\n", 24);
    return o <= MAXLEN ? o : 0;
}

int main(int argc, char **argv)
{
    const char *listen = NULL, *contact = NULL;
    long seconds = 3600;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--listen")) listen = argv[i + 1];
        else if (!strcmp(argv[i], "--contact")) contact = argv[i + 1];
        else if (!strcmp(argv[i], "--seconds")) seconds = atol(argv[i + 1]);
    }
    char host[64];
    const char *colon = listen ? strrchr(listen, ':') : NULL;
    if (!colon || !contact || (size_t)(colon - listen) >= sizeof(host) || seconds < 1) {
        fprintf(stderr, "usage: min302 --listen 127.0.0.1:PORT --contact sip:... [--seconds N]\n");
        return 2;
    }
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1)) };
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1 || (ntohl(sa.sin_addr.s_addr) >> 24) != 127) {
        fprintf(stderr, "min302: --listen must be a 127.x.x.x address\n");
        return 2;
    }
    int fd = socket(AF_INET, SOCK_DGRAM, 0), buf = 4 << 20;
    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
    }
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        perror("min302: bind");
        return 1;
    }
    struct sigaction act = { .sa_handler = on_signal };
    sigaction(SIGTERM, &act, NULL);
    sigaction(SIGINT, &act, NULL);
    alarm((unsigned)seconds); /* bounded: SIGALRM ends it */

    static char in[BATCH][MAXLEN], out[BATCH][MAXLEN + 1];
    static struct sockaddr_storage from[BATCH];
    struct mmsghdr rx[BATCH], tx[BATCH];
    struct iovec riov[BATCH], tiov[BATCH];
    for (int i = 0; i < BATCH; i++) riov[i] = (struct iovec){ in[i], MAXLEN };
    while (!stop) {
        for (int i = 0; i < BATCH; i++)
            rx[i].msg_hdr = (struct msghdr){ .msg_name = &from[i], .msg_namelen = sizeof(from[i]),
                                             .msg_iov = &riov[i], .msg_iovlen = 1 };
        int n = recvmmsg(fd, rx, BATCH, MSG_WAITFORONE, NULL);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("min302: recvmmsg");
            return 1;
        }
        int k = 0;
        for (int i = 0; i < n; i++) {
            size_t len = answer(in[i], rx[i].msg_len, contact, out[k]);
            if (!len) continue;
            tiov[k] = (struct iovec){ out[k], len };
            tx[k].msg_hdr = (struct msghdr){ .msg_name = &from[i], .msg_namelen = rx[i].msg_hdr.msg_namelen,
                                             .msg_iov = &tiov[k], .msg_iovlen = 1 };
            k++;
        }
        for (int done = 0; done < k;) {
            int m = sendmmsg(fd, tx + done, (unsigned)(k - done), 0);
            if (m < 0) {
                if (errno == EINTR) continue;
                done++; /* one bad destination: skip it */
            } else {
                done += m;
            }
        }
    }
    close(fd);
    return 0;
}

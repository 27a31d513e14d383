/* sipsend -- send SIP requests over UDP on loopback and print the answers.
 * A test tool: integration tests build requests from templates and check
 * what comes back.
 *
 *   sipsend --to 127.0.0.1:5060|[::1]:5060 [--from 127.0.0.2] [--from-port P]
 *           [--timeout-ms 500] [--repeat N] [--expect N] FILE...
 *
 * Each FILE (or - for stdin) is one request; "\n" line ends are sent as
 * CRLF, a Content-Length of "auto" is computed, and $LPORT is replaced by
 * the local port. Every request is sent --repeat times (a retransmission is
 * byte-identical). Then answers are printed, each followed by a line "--",
 * until --expect answers arrived or --timeout-ms passed with none. Exit 0
 * when at least --expect answers arrived (default 1), 3 otherwise, 2 on bad
 * usage. Only loopback destinations are accepted (127.0.0.0/8, ::1); the
 * requests leave from 127.0.0.1, or ::1 when --to is IPv6, or from the
 * loopback address --from names (another source, e.g. a stranger).
 */
#include <errno.h>
#include <sys/socket.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loopaddr.h"

static int usage(void)
{
    fprintf(stderr, "usage: sipsend --to 127.0.0.1:PORT|[::1]:PORT [--from 127.x.x.x] [--from-port P] [--timeout-ms MS] "
                    "[--repeat N] [--expect N] FILE...\n");
    return 2;
}

static size_t load(const char *path, char *out, size_t cap, unsigned lport)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
    char raw[65536], tmp[65536];
    size_t n, o = 0;
    if (!f) {
        fprintf(stderr, "sipsend: %s: %s\n", path, strerror(errno));
        exit(2);
    }
    n = fread(raw, 1, sizeof(raw) - 1, f);
    if (f != stdin) fclose(f);
    raw[n] = '\0';
    /* $LPORT and LF -> CRLF */
    for (size_t i = 0; i < n && o + 8 < sizeof(tmp); i++) {
        if (strncmp(raw + i, "$LPORT", 6) == 0) {
            o += (size_t)snprintf(tmp + o, sizeof(tmp) - o, "%u", lport);
            i += 5;
        } else if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r')) {
            tmp[o++] = '\r';
            tmp[o++] = '\n';
        } else {
            tmp[o++] = raw[i];
        }
    }
    tmp[o] = '\0';
    /* Content-Length: auto */
    char *cl = strstr(tmp, "Content-Length: auto");
    char *body = strstr(tmp, "\r\n\r\n");
    if (cl && body) {
        size_t blen = o - (size_t)(body + 4 - tmp);
        char num[16];
        int nl = snprintf(num, sizeof(num), "%zu", blen);
        size_t pre = (size_t)(cl - tmp) + 16;
        o = (size_t)snprintf(out, cap, "%.*s%.*s%s", (int)pre, tmp, nl, num, cl + 20);
    } else {
        o = (size_t)snprintf(out, cap, "%s", tmp);
    }
    return o < cap ? o : cap - 1;
}

int main(int argc, char **argv)
{
    const char *to = NULL, *from = NULL;
    unsigned from_port = 0, timeout_ms = 500, repeat = 1, expect = 1;
    int i;

    for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0 && argv[i][2]; i += 2) {
        if (i + 1 >= argc) return usage();
        if (!strcmp(argv[i], "--to")) to = argv[i + 1];
        else if (!strcmp(argv[i], "--from-port")) from_port = (unsigned)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--from")) from = argv[i + 1];
        else if (!strcmp(argv[i], "--timeout-ms")) timeout_ms = (unsigned)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--repeat")) repeat = (unsigned)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--expect")) expect = (unsigned)atoi(argv[i + 1]);
        else return usage();
    }
    if (!to || i >= argc || repeat < 1 || repeat > 1000) return usage();

    loopaddr_t dst;
    int rc = loopaddr_parse(to, &dst);
    if (rc == -EADDRNOTAVAIL) {
        fprintf(stderr, "sipsend: --to must be a 127.x.x.x or [::1] address\n");
        return 2;
    }
    if (rc < 0 || from_port > 65535) return usage();

    int fd = socket(dst.sa.sa_family, SOCK_DGRAM, 0);
    loopaddr_t me = loopaddr_local(&dst, from_port);
    if (from && (!loopaddr_host(from, strlen(from), from_port, &me) || me.sa.sa_family != dst.sa.sa_family)) {
        fprintf(stderr, "sipsend: --from must be a loopback address of --to's family\n");
        return 2;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    /* room for a burst of answers: FORCE works as root, else the plain
     * request is capped by net.core.rmem_max */
    int rb = 8 << 20;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rb, sizeof(rb)) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rb, sizeof(rb));
    if (fd < 0 || bind(fd, &me.sa, loopaddr_len(&me)) < 0) {
        perror("sipsend: bind");
        return 2;
    }
    socklen_t ml = loopaddr_len(&me);
    getsockname(fd, &me.sa, &ml);

    static char msg[65536];
    for (; i < argc; i++) {
        size_t n = load(argv[i], msg, sizeof(msg), loopaddr_port(&me));
        /* the copies leave in batches of one sendmmsg() each: a burst, as
         * a busy trunk's, queued before the receiver can drain it */
        static struct mmsghdr mm[64];
        static struct iovec iov;
        iov = (struct iovec){ msg, n };
        for (unsigned r = 0; r < repeat;) {
            unsigned b = repeat - r < 64 ? repeat - r : 64;
            for (unsigned k = 0; k < b; k++)
                mm[k].msg_hdr = (struct msghdr){ .msg_name = &dst.sa, .msg_namelen = loopaddr_len(&dst),
                                                 .msg_iov = &iov, .msg_iovlen = 1 };
            int sent = sendmmsg(fd, mm, b, 0);
            if (sent <= 0) {
                perror("sipsend: sendmmsg");
                break;
            }
            r += (unsigned)sent;
        }
    }

    unsigned got = 0;
    struct pollfd p = { fd, POLLIN, 0 };
    while (got < expect && poll(&p, 1, (int)timeout_ms) > 0) {
        static char buf[65536];
        ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
        if (n <= 0) break;
        buf[n] = '\0';
        /* print with LF line ends for shell tools */
        for (ssize_t k = 0; k < n; k++)
            if (buf[k] != '\r') putchar(buf[k]);
        printf("--\n");
        got++;
    }
    /* let a retransmission's further answers drain so the test can count */
    close(fd);
    return got >= expect ? 0 : 3;
}

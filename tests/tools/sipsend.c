/* sipsend -- send SIP requests over UDP, TCP or TLS on loopback and print
 * the answers. A test tool: integration tests build requests from templates
 * and check what comes back.
 *
 *   sipsend --to 127.0.0.1:5060|[::1]:5060 [--from 127.0.0.2] [--from-port P]
 *           [--timeout-ms 500] [--repeat N] [--expect N]
 *           [--tcp | --tls [--cert PEM --key PEM] [--ca PEM]]
 *           [--chunk BYTES --gap-ms MS] FILE...
 *
 * --tcp and --tls send everything over one connection (a TLS client: TLS
 * 1.2 or later, the server's certificate checked against --ca when given,
 * --cert/--key presented when asked) and read the answers framed by their
 * Content-Length; a line "closed" is printed when the server closes the
 * connection. --chunk sends each request in pieces of BYTES with --gap-ms
 * between them (a slow sender). The tls handshake failing exits 4.
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
#include <netinet/tcp.h>
#include <stdbool.h>
#include <strings.h>
#include <sys/socket.h>
#include <poll.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "loopaddr.h"

static int usage(void)
{
    fprintf(stderr, "usage: sipsend --to 127.0.0.1:PORT|[::1]:PORT [--from 127.x.x.x] [--from-port P] [--timeout-ms MS] "
                    "[--repeat N] [--expect N] [--tcp | --tls [--cert PEM --key PEM] [--ca PEM]] "
                    "[--chunk BYTES --gap-ms MS] FILE...\n");
    return 2;
}

static size_t load(const char *path, char *out, size_t cap, unsigned lport);

/* ---- one connection (--tcp, --tls) ---- */

typedef struct {
    int fd;
    SSL *ssl;
} stream_t;

static int s_write(stream_t *c, const char *p, size_t n)
{
    while (n) {
        ssize_t w = c->ssl ? SSL_write(c->ssl, p, (int)n) : write(c->fd, p, n);
        if (w <= 0) {
            if (!c->ssl && w < 0 && errno == EINTR) continue;
            return -1;
        }
        p += w, n -= (size_t)w;
    }
    return 0;
}

/* up to <cap> bytes within <ms>: >0 read, 0 closed, -1 nothing in time */
static ssize_t s_read(stream_t *c, char *buf, size_t cap, int ms)
{
    if (!c->ssl || !SSL_pending(c->ssl)) {
        struct pollfd p = { c->fd, POLLIN, 0 };
        if (poll(&p, 1, ms) <= 0) return -1;
    }
    ssize_t n = c->ssl ? SSL_read(c->ssl, buf, (int)cap) : read(c->fd, buf, cap);
    return n < 0 ? 0 : n;
}

static void sleep_ms(unsigned ms)
{
    struct timespec t = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&t, NULL);
}

/* The length of the first message in <b> (<n> bytes) once it is whole, 0
 * before. */
static size_t framed(const char *b, size_t n)
{
    const char *e = memmem(b, n, "\r\n\r\n", 4);
    if (!e) return 0;
    size_t head = (size_t)(e - b) + 4, body = 0;
    for (const char *l = b; l < e; l = strstr(l, "\r\n") + 2) {
        if (!strncasecmp(l, "Content-Length:", 15)) body = strtoul(l + 15, NULL, 10);
        else if (!strncasecmp(l, "l:", 2)) body = strtoul(l + 2, NULL, 10);
    }
    return head + body <= n ? head + body : 0;
}

static int run_stream(const loopaddr_t *dst, const loopaddr_t *me, bool tls, const char *cert, const char *key,
                      const char *ca, char **files, int nfiles, unsigned repeat, unsigned expect,
                      unsigned timeout_ms, unsigned chunk, unsigned gap_ms)
{
    stream_t c = { socket(dst->sa.sa_family, SOCK_STREAM, 0), NULL };
    SSL_CTX *ctx = NULL;
    int one = 1;
    if (c.fd < 0) return 2;
    setsockopt(c.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (bind(c.fd, &me->sa, loopaddr_len(me)) < 0 || connect(c.fd, &dst->sa, loopaddr_len(dst)) < 0) {
        perror("sipsend: connect");
        return 3;
    }
    loopaddr_t local;
    socklen_t ll = sizeof(local);
    getsockname(c.fd, &local.sa, &ll);
    if (tls) {
        ctx = SSL_CTX_new(TLS_client_method());
        SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
        if (ca) {
            SSL_CTX_load_verify_locations(ctx, ca, NULL);
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        }
        if (cert && (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
                     SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)) {
            fprintf(stderr, "sipsend: cannot load --cert/--key\n");
            return 2;
        }
        c.ssl = SSL_new(ctx);
        SSL_set_fd(c.ssl, c.fd);
        if (SSL_connect(c.ssl) != 1) {
            char why[200];
            ERR_error_string_n(ERR_get_error(), why, sizeof(why));
            printf("tls-failed %s\n", why);
            return 4;
        }
        printf("tls %s\n", SSL_get_version(c.ssl));
    }
    static char msg[65536], in[1 << 20];
    for (int i = 0; i < nfiles; i++) {
        size_t n = load(files[i], msg, sizeof(msg), loopaddr_port(&local));
        for (unsigned r = 0; r < repeat; r++) {
            if (!chunk) {
                if (s_write(&c, msg, n) < 0) break;
                continue;
            }
            for (size_t off = 0; off < n; off += chunk) {
                if (s_write(&c, msg + off, n - off < chunk ? n - off : chunk) < 0) break;
                if (off + chunk < n) sleep_ms(gap_ms);
            }
        }
    }
    unsigned got = 0;
    size_t have = 0;
    bool closed = false;
    while (got < expect && !closed) {
        size_t m;
        /* CRLF keep-alive answers (RFC 5626) */
        while (have >= 2 && in[0] == '\r' && in[1] == '\n') {
            printf("pong\n");
            memmove(in, in + 2, have - 2);
            have -= 2;
        }
        while (got < expect && (m = framed(in, have)) > 0) {
            for (size_t k = 0; k < m; k++)
                if (in[k] != '\r') putchar(in[k]);
            printf("--\n");
            memmove(in, in + m, have - m);
            have -= m;
            got++;
        }
        if (got >= expect) break;
        ssize_t r = s_read(&c, in + have, sizeof(in) - 1 - have, (int)timeout_ms);
        if (r < 0) break;
        if (r == 0) closed = true;
        have += (size_t)(r > 0 ? r : 0);
    }
    if (!closed && got >= expect) {
        /* is the server closing on us? a short look */
        char b[1];
        struct pollfd p = { c.fd, POLLIN, 0 };
        if (poll(&p, 1, 50) > 0 && (c.ssl ? SSL_peek(c.ssl, b, 1) : recv(c.fd, b, 1, MSG_PEEK)) <= 0) closed = true;
    }
    if (closed) printf("closed\n");
    fflush(stdout);
    if (c.ssl) SSL_free(c.ssl);
    SSL_CTX_free(ctx);
    close(c.fd);
    return got >= expect ? 0 : 3;
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
    const char *to = NULL, *from = NULL, *cert = NULL, *key = NULL, *ca = NULL;
    unsigned from_port = 0, timeout_ms = 500, repeat = 1, expect = 1, chunk = 0, gap_ms = 0;
    bool tcp = false, tls = false;
    int i;

    for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0 && argv[i][2]; i += 2) {
        if (!strcmp(argv[i], "--tcp")) { tcp = true; i--; continue; }
        if (!strcmp(argv[i], "--tls")) { tls = true; i--; continue; }
        if (i + 1 >= argc) return usage();
        if (!strcmp(argv[i], "--to")) to = argv[i + 1];
        else if (!strcmp(argv[i], "--cert")) cert = argv[i + 1];
        else if (!strcmp(argv[i], "--key")) key = argv[i + 1];
        else if (!strcmp(argv[i], "--ca")) ca = argv[i + 1];
        else if (!strcmp(argv[i], "--chunk")) chunk = (unsigned)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--gap-ms")) gap_ms = (unsigned)atoi(argv[i + 1]);
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
    if (tcp || tls) {
        if (tcp && tls) return usage();
        if (!cert != !key) return usage();
        return run_stream(&dst, &me, tls, cert, key, ca, argv + i, argc - i, repeat, expect, timeout_ms, chunk,
                          gap_ms);
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

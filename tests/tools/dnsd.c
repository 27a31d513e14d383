/* dnsd -- a tiny authoritative DNS server over UDP on loopback: the name
 * server of integration tests that check how the proxy resolves SIP URI
 * host names (A records, evdns) and caches them by TTL. A test tool: plain
 * C and POSIX sockets, one thread, a poll loop.
 *
 *   dnsd --listen 127.0.0.1:PORT [--record NAME=IPV4[,TTL]]...
 *        [--srv NAME=PRIORITY,WEIGHT,PORT,TARGET[,TTL]]...
 *        [--records-file FILE] [--ttl SECONDS] [--delay-ms MS]
 *        [--log FILE] [--pidfile FILE] [--max-seconds S]
 *
 * Binds PORT (0: a free one) and prints "listening IP:PORT" once ready.
 * Answers standard queries (QR=0, OPCODE=0, QDCOUNT=1), authoritative
 * (AA=1), RD copied, RA=0, the ID and the question copied byte for byte
 * (so that a resolver's randomised letter case comes back as sent):
 *
 *   A (1), class IN or ANY, of a NAME with an A record
 *            one A answer, its name a pointer to the question (0xC00C),
 *            the record's TTL (its own or --ttl, default 60)
 *   SRV (33), class IN or ANY, of a NAME with SRV records (RFC 2782)
 *            an SRV answer per record, in the order configured, its name
 *            0xC00C, its TTL, RDATA priority, weight, port (16 bits each)
 *            and the target, an uncompressed name; in the additional
 *            section, the A record of each target that has one (name: a
 *            pointer to the target in the answer). When not all answers
 *            fit in 512 bytes: those that fit, and TC=1; additional
 *            records that do not fit are left out (no TC for those)
 *   ANY (255), class IN or ANY, of a configured NAME
 *            its A record, then its SRV records (additional as for SRV)
 *   another type or class of a configured NAME (SRV of a NAME with
 *   only an A record, A of a NAME with only SRV records, AAAA...)
 *            NOERROR, no answer (NODATA)
 *   a name not configured
 *            NXDOMAIN (RCODE 3), no answer
 *
 * Names match without regard to letter case and to a trailing dot. The
 * other sections of a query (an EDNS0 OPT record, say) are not looked at;
 * responses carry none. A datagram shorter than a header or with QR=1 gets
 * no answer; another OPCODE gets NOTIMP (4); a QDCOUNT other than 1 or a
 * question that does not parse (a label past the end, a compression pointer,
 * a name longer than 255 bytes, no room for QTYPE and QCLASS) gets FORMERR
 * (1), a header only.
 *
 * --record NAME=IPV4[,TTL] may repeat (the last of a name wins).
 * --srv NAME=PRIORITY,WEIGHT,PORT,TARGET[,TTL] may repeat, each one an SRV
 * record more for NAME (numbers 0 to 65535; TARGET a host name, or "."
 * for "no such service here").
 * --records-file FILE holds lines (# starts a comment)
 *   NAME IPV4 [TTL]
 *   NAME SRV PRIORITY WEIGHT PORT TARGET [TTL]
 * it is read at start (an error there: exit 2) and again on SIGHUP (an
 * error there: a message, the previous entries stay). Its entries replace
 * the flags' entries of the same name and type: an A line those of
 * --record, the SRV lines of a name all the --srv of that name.
 * --delay-ms MS holds every answer back MS milliseconds (a queue served
 * from the poll loop; the server goes on reading meanwhile).
 * --log FILE appends a line per datagram received, flushed at once:
 *   query name=NAME type=QTYPE from=IP:PORT answer=ANSWER
 * ANSWER being IPV4 (an A answer), NXDOMAIN or NODATA; for SRV answers
 * "SRV:PRIORITY,WEIGHT,PORT,TARGET" each, joined by ";" (after the IPV4
 * for ANY), then ";TC" when some were left out (TARGET "." for the root)
 * (NAME in lower case without the trailing dot, "." for the root, bytes
 * that are not printable as "?"); a query that gets FORMERR or NOTIMP:
 *   query name=-|NAME type=-|QTYPE from=IP:PORT answer=FORMERR|NOTIMP
 * and a datagram that gets no answer: "ignored len=N from=IP:PORT".
 *
 * Exits 0 on SIGTERM or SIGINT and after --max-seconds (default 300);
 * 2 on bad usage, 1 when the port cannot be bound.
 *
 * Client mode, to query a server from a test script:
 *
 *   dnsd --query NAME[:TYPE] --server 127.0.0.1:PORT [--edns]
 *        [--timeout-ms MS]
 *
 * sends one query (TYPE: A, NS, CNAME, SOA, PTR, MX, TXT, AAAA, SRV, ANY
 * or a number; default A; --edns adds an OPT record) and prints each
 * answer record as "IPV4 ttl=N" (A), "IPV6 ttl=N" (AAAA), "PRIORITY
 * WEIGHT PORT TARGET ttl=N" (SRV; compression pointers followed) or
 * "type=N ttl=N" (others), or "NODATA"; then "TC" when the response has
 * TC=1; or "NXDOMAIN", "RCODE N". Exits 0
 * with an answer, 3 on NXDOMAIN or NODATA, 4 on another RCODE, 1 when no
 * response came within --timeout-ms (default 1000), 2 on bad usage.
 *
 *   dnsd --send FILE|- --server 127.0.0.1:PORT [--timeout-ms MS]
 *
 * sends the bytes of FILE (- for stdin) as one datagram and prints the
 * response as "reply len=N id=N qr=N opcode=N aa=N tc=N rd=N ra=N rcode=N
 * qd=N an=N ns=N ar=N hex=HEX"; exits 0 on a response, 1 on none.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_DGRAM 65536
#define MAX_RECORDS 1024
#define MAX_NAME 254 /* text form, without the trailing dot, with the NUL */
#define MAX_RESP 512
#define QUEUE_SLOTS 4096
#define TTL_MAX 2147483647L /* RFC 2181 8 */

#define T_A 1
#define T_AAAA 28
#define T_SRV 33
#define T_ANY 255
#define C_IN 1
#define C_ANY 255
#define R_FORMERR 1
#define R_NXDOMAIN 3
#define R_NOTIMP 4

typedef struct {
    char name[MAX_NAME]; /* lower case, no trailing dot */
    unsigned type;       /* T_A or T_SRV */
    uint32_t ttl;
    struct in_addr ip;           /* A */
    uint16_t prio, weight, port; /* SRV */
    char target[MAX_NAME];       /* SRV: as name; "" for the root */
} record_t;

typedef struct {
    record_t r[MAX_RECORDS];
    unsigned n;
} table_t;

/* An answer held back by --delay-ms. */
typedef struct {
    int64_t due;
    struct sockaddr_in dst;
    size_t len;
    uint8_t buf[MAX_RESP];
} pending_t;

static struct {
    uint32_t ttl;
    unsigned delay_ms;
    const char *records_file;
    FILE *log;
} cfg = { .ttl = 60 };

static table_t flag_recs, file_recs, tmp_recs;
static pending_t queue[QUEUE_SLOTS];
static unsigned q_head, q_len;
static int sock = -1;
static volatile sig_atomic_t stop_sig, reload_sig;

static int usage(void)
{
    fprintf(stderr,
            "usage: dnsd --listen 127.0.0.1:PORT [--record NAME=IPV4[,TTL]]...\n"
            "            [--srv NAME=PRIORITY,WEIGHT,PORT,TARGET[,TTL]]... [--records-file FILE]\n"
            "            [--ttl SECONDS] [--delay-ms MS] [--log FILE] [--pidfile FILE] [--max-seconds S]\n"
            "       dnsd --query NAME[:TYPE] --server 127.0.0.1:PORT [--edns] [--timeout-ms MS]\n"
            "       dnsd --send FILE|- --server 127.0.0.1:PORT [--timeout-ms MS]\n");
    return 2;
}

static int bad_flag(const char *flag, const char *val)
{
    fprintf(stderr, "dnsd: bad %s: %s\n", flag, val);
    return usage();
}

static void on_signal(int sig)
{
    if (sig == SIGHUP) reload_sig = 1;
    else stop_sig = 1;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool parse_num(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < min || v > max) return false;
    *out = v;
    return true;
}

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static void put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, v >> 16);
    put16(p + 2, v & 0xffff);
}

/* A host name as configured or asked for on the command line: labels of
 * 1 to 63 letters, digits, "-", "_" or "*", a trailing dot optional. Into
 * out in lower case without the dot. */
static bool norm_name(const char *s, char *out)
{
    size_t n = strlen(s), label = 0;
    if (n && s[n - 1] == '.') n--;
    if (!n || n >= MAX_NAME) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.') {
            if (!label) return false;
            label = 0;
        } else if (isalnum(c) || c == '-' || c == '_' || c == '*') {
            if (++label > 63) return false;
        } else {
            return false;
        }
        out[i] = (char)tolower(c);
    }
    if (!label) return false;
    out[n] = '\0';
    return true;
}

/* A target of an SRV record: a host name as for norm_name, or "." (the
 * root: "no such service here"), into out as "". */
static bool norm_target(const char *s, char *out)
{
    if (!strcmp(s, ".")) {
        out[0] = '\0';
        return true;
    }
    return norm_name(s, out);
}

/* An A record into t, replacing an A entry of the same name. */
static bool table_set(table_t *t, const char *name, struct in_addr ip, uint32_t ttl)
{
    unsigned i;
    for (i = 0; i < t->n; i++)
        if (t->r[i].type == T_A && !strcmp(t->r[i].name, name)) break;
    if (i == t->n) {
        if (t->n == MAX_RECORDS) return false;
        t->n++;
    }
    t->r[i] = (record_t){ .type = T_A, .ip = ip, .ttl = ttl };
    snprintf(t->r[i].name, sizeof(t->r[i].name), "%s", name);
    return true;
}

/* An SRV record into t, after those already there. */
static bool table_add_srv(table_t *t, const char *name, long prio, long weight, long port, const char *target,
                          uint32_t ttl)
{
    if (t->n == MAX_RECORDS) return false;
    record_t *r = &t->r[t->n++];
    *r = (record_t){ .type = T_SRV, .ttl = ttl, .prio = (uint16_t)prio, .weight = (uint16_t)weight,
                     .port = (uint16_t)port };
    snprintf(r->name, sizeof(r->name), "%s", name);
    snprintf(r->target, sizeof(r->target), "%s", target);
    return true;
}

static bool table_has(const table_t *t, const char *name, unsigned type)
{
    for (unsigned i = 0; i < t->n; i++)
        if ((!type || t->r[i].type == type) && !strcmp(t->r[i].name, name)) return true;
    return false;
}

/* Whether name has records of any type. */
static bool known(const char *name) { return table_has(&file_recs, name, 0) || table_has(&flag_recs, name, 0); }

/* Where the records of name and type are: the records file when it has
 * some, else the flags. */
static const table_t *source(const char *name, unsigned type)
{
    return table_has(&file_recs, name, type) ? &file_recs : &flag_recs;
}

/* The A record of name, or NULL. */
static const record_t *lookup_a(const char *name)
{
    const table_t *t = source(name, T_A);
    for (unsigned i = 0; i < t->n; i++)
        if (t->r[i].type == T_A && !strcmp(t->r[i].name, name)) return &t->r[i];
    return NULL;
}

/* --record NAME=IPV4[,TTL] */
static bool parse_record_flag(const char *val)
{
    char tmp[512], name[MAX_NAME];
    struct in_addr ip;
    long ttl = cfg.ttl;
    if (strlen(val) >= sizeof(tmp)) return false;
    strcpy(tmp, val);
    char *eq = strchr(tmp, '=');
    if (!eq) return false;
    *eq = '\0';
    char *comma = strchr(eq + 1, ',');
    if (comma) {
        *comma = '\0';
        if (!parse_num(comma + 1, 0, TTL_MAX, &ttl)) return false;
    }
    if (!norm_name(tmp, name) || inet_pton(AF_INET, eq + 1, &ip) != 1) return false;
    /* the TTL given by --ttl is applied later, when it is known */
    return table_set(&flag_recs, name, ip, comma ? (uint32_t)ttl : UINT32_MAX);
}

/* PRIORITY WEIGHT PORT TARGET [TTL] of an SRV record of name into t (ttl:
 * NULL for UINT32_MAX, the --ttl applied later). */
static bool add_srv(table_t *t, const char *name, const char *prio, const char *weight, const char *port,
                    const char *target, const char *ttl)
{
    char tgt[MAX_NAME];
    long pr, we, po, tl = 0;
    if (!parse_num(prio, 0, 65535, &pr) || !parse_num(weight, 0, 65535, &we) || !parse_num(port, 0, 65535, &po) ||
        !norm_target(target, tgt) || (ttl && !parse_num(ttl, 0, TTL_MAX, &tl)))
        return false;
    return table_add_srv(t, name, pr, we, po, tgt, ttl ? (uint32_t)tl : UINT32_MAX);
}

/* --srv NAME=PRIORITY,WEIGHT,PORT,TARGET[,TTL] */
static bool parse_srv_flag(const char *val)
{
    char tmp[512], name[MAX_NAME], *f[6];
    unsigned nf = 0;
    if (strlen(val) >= sizeof(tmp)) return false;
    strcpy(tmp, val);
    char *eq = strchr(tmp, '=');
    if (!eq) return false;
    *eq = '\0';
    if (!norm_name(tmp, name)) return false;
    for (char *p = eq + 1;;) { /* empty fields count, so that "1,,2" is bad */
        if (nf == 6) return false;
        f[nf++] = p;
        char *comma = strchr(p, ',');
        if (!comma) break;
        *comma = '\0';
        p = comma + 1;
    }
    if (nf < 4 || nf > 5) return false;
    return add_srv(&flag_recs, name, f[0], f[1], f[2], f[3], nf == 5 ? f[4] : NULL);
}

/* The records file into tmp_recs, then into file_recs when all of it is
 * good. */
static bool load_records_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "dnsd: %s: %s\n", path, strerror(errno));
        return false;
    }
    char line[1024];
    unsigned lineno = 0;
    bool good = true;
    tmp_recs.n = 0;
    while (good && fgets(line, sizeof(line), f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            fprintf(stderr, "dnsd: %s:%u: line too long\n", path, lineno);
            good = false;
            break;
        }
        char *hash = strchr(line, '#');
        if (hash) *hash = '\0';
        char *save = NULL, *w[8];
        unsigned nw = 0;
        for (char *t = strtok_r(line, " \t\r\n", &save); t; t = strtok_r(NULL, " \t\r\n", &save)) {
            if (nw == 8) break;
            w[nw++] = t;
        }
        if (nw == 0) continue;
        char name[MAX_NAME];
        struct in_addr ip;
        long ttl = cfg.ttl;
        bool ok = nw >= 2 && norm_name(w[0], name);
        if (ok && !strcasecmp(w[1], "SRV")) {
            ok = (nw == 6 || nw == 7) && add_srv(&tmp_recs, name, w[2], w[3], w[4], w[5], nw == 7 ? w[6] : NULL);
            if (ok && tmp_recs.r[tmp_recs.n - 1].ttl == UINT32_MAX) tmp_recs.r[tmp_recs.n - 1].ttl = cfg.ttl;
        } else {
            ok = ok && nw <= 3 && inet_pton(AF_INET, w[1], &ip) == 1 &&
                 (nw < 3 || parse_num(w[2], 0, TTL_MAX, &ttl)) && table_set(&tmp_recs, name, ip, (uint32_t)ttl);
        }
        if (!ok) {
            fprintf(stderr, "dnsd: %s:%u: want NAME IPV4 [TTL] or NAME SRV PRIORITY WEIGHT PORT TARGET [TTL]\n",
                    path, lineno);
            good = false;
        }
    }
    if (ferror(f)) {
        fprintf(stderr, "dnsd: %s: read error\n", path);
        good = false;
    }
    fclose(f);
    if (good) memcpy(&file_recs, &tmp_recs, sizeof(file_recs));
    return good;
}

/* ---- the server ---- */

/* The question's name from off 12: into text (lower case, dots between the
 * labels, bytes that are not printable or are dots as "?"), off past it.
 * False when it does not parse. */
static bool read_qname(const uint8_t *p, size_t n, size_t *off, char *text)
{
    size_t o = *off, tl = 0, wire = 0;
    for (;;) {
        if (o >= n) return false;
        unsigned len = p[o];
        if (len == 0) {
            o++;
            break;
        }
        if (len & 0xc0) return false; /* a pointer or an extended label type */
        wire += 1 + len;
        if (wire + 1 > 255 || o + 1 + len > n) return false;
        if (tl) text[tl++] = '.';
        for (unsigned k = 0; k < len; k++) {
            unsigned char c = p[o + 1 + k];
            text[tl++] = (char)(c > ' ' && c < 0x7f && c != '.' ? tolower(c) : '?');
        }
        o += 1 + len;
    }
    text[tl] = '\0';
    *off = o;
    return true;
}

/* name (as from norm_name; "" for the root) in wire form at w: its length,
 * or 0 when it takes more than cap bytes. */
static size_t put_name(uint8_t *w, size_t cap, const char *name)
{
    size_t o = 0;
    for (const char *s = name; *s;) {
        size_t ll = strcspn(s, ".");
        if (ll == 0 || ll > 63 || o + 1 + ll + 1 > cap) return 0;
        w[o++] = (uint8_t)ll;
        memcpy(w + o, s, ll);
        o += ll;
        s += ll;
        if (*s) s++;
    }
    if (o + 1 > cap) return 0;
    w[o++] = 0;
    return o;
}

/* item onto the ";"-separated list in buf (cap bytes), cut short if need be. */
static void list_add(char *buf, size_t cap, const char *item)
{
    size_t l = strlen(buf);
    if (l + 1 >= cap) return;
    snprintf(buf + l, cap - l, "%s%s", l ? ";" : "", item);
}

static void log_line(const struct sockaddr_in *src, const char *fmt, const char *a, const char *b, const char *c)
{
    if (!cfg.log) return;
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &src->sin_addr, ip, sizeof(ip));
    fprintf(cfg.log, fmt, a, b, ip, (unsigned)ntohs(src->sin_port), c);
    fflush(cfg.log);
}

static void send_now(const uint8_t *buf, size_t len, const struct sockaddr_in *dst)
{
    if (sendto(sock, buf, len, 0, (const struct sockaddr *)dst, sizeof(*dst)) < 0 && errno != EAGAIN &&
        errno != ECONNREFUSED)
        perror("dnsd: sendto");
}

static void respond(const uint8_t *buf, size_t len, const struct sockaddr_in *dst)
{
    if (!cfg.delay_ms) {
        send_now(buf, len, dst);
        return;
    }
    if (q_len == QUEUE_SLOTS) {
        fprintf(stderr, "dnsd: answer queue full, dropping one\n");
        return;
    }
    pending_t *pq = &queue[(q_head + q_len++) % QUEUE_SLOTS];
    pq->due = now_ms() + cfg.delay_ms;
    pq->dst = *dst;
    pq->len = len;
    memcpy(pq->buf, buf, len);
}

/* Send what is due; when the next one is (INT64_MAX: none). The delay is
 * the same for all, so the queue is in order of due time. */
static int64_t run_queue(int64_t now)
{
    while (q_len && queue[q_head].due <= now) {
        send_now(queue[q_head].buf, queue[q_head].len, &queue[q_head].dst);
        q_head = (q_head + 1) % QUEUE_SLOTS;
        q_len--;
    }
    return q_len ? queue[q_head].due : INT64_MAX;
}

/* A header only: the ID, QR, the OPCODE and RD of the query, rcode. */
static void respond_error(const uint8_t *p, const struct sockaddr_in *src, unsigned rcode)
{
    uint8_t r[12] = { 0 };
    r[0] = p[0];
    r[1] = p[1];
    r[2] = (uint8_t)(0x80 | (p[2] & 0x79)); /* QR, OPCODE, RD */
    r[3] = (uint8_t)rcode;
    respond(r, sizeof(r), src);
}

static void handle(const uint8_t *p, size_t n, const struct sockaddr_in *src)
{
    char lenbuf[24], name[MAX_NAME + 8], type[8];
    if (n < 12 || (p[2] & 0x80)) {
        snprintf(lenbuf, sizeof(lenbuf), "%zu", n);
        log_line(src, "ignored len=%s%s from=%s:%u%s\n", lenbuf, "", "");
        return;
    }
    unsigned opcode = (p[2] >> 3) & 0x0f;
    if (opcode != 0) {
        log_line(src, "query name=%s type=%s from=%s:%u answer=%s\n", "-", "-", "NOTIMP");
        respond_error(p, src, R_NOTIMP);
        return;
    }
    size_t off = 12;
    if (get16(p + 4) != 1 || !read_qname(p, n, &off, name) || off + 4 > n) {
        log_line(src, "query name=%s type=%s from=%s:%u answer=%s\n", "-", "-", "FORMERR");
        respond_error(p, src, R_FORMERR);
        return;
    }
    unsigned qtype = get16(p + off), qclass = get16(p + off + 2);
    size_t qend = off + 4;
    snprintf(type, sizeof(type), "%u", qtype);

    bool is_known = known(name), class_ok = qclass == C_IN || qclass == C_ANY;
    uint8_t r[MAX_RESP];
    memcpy(r, p, qend); /* the ID, then the question as it came (at most 12 + 255 + 4 bytes) */
    r[2] = (uint8_t)(0x80 | 0x04 | (p[2] & 0x01)); /* QR, AA, RD */
    r[3] = is_known ? 0 : R_NXDOMAIN;
    put16(r + 4, 1);
    put16(r + 8, 0);
    size_t len = qend;
    unsigned an = 0, ar = 0;
    bool tc = false;
    char answer[2048] = "", item[MAX_NAME + 32];
    if (is_known && class_ok && (qtype == T_A || qtype == T_ANY)) {
        const record_t *rec = lookup_a(name);
        if (rec) { /* 16 bytes: there is room after any question */
            uint8_t *a = r + len;
            put16(a, 0xc00c); /* the name: the question's */
            put16(a + 2, T_A);
            put16(a + 4, C_IN);
            put32(a + 6, rec->ttl);
            put16(a + 10, 4);
            memcpy(a + 12, &rec->ip, 4);
            len += 16;
            an++;
            inet_ntop(AF_INET, &rec->ip, item, sizeof(item));
            list_add(answer, sizeof(answer), item);
        }
    }
    /* the SRV answers' targets, for the additional section */
    const record_t *tgt[MAX_RESP / 18 + 1];
    size_t tgt_off[MAX_RESP / 18 + 1];
    unsigned nt = 0;
    if (is_known && class_ok && (qtype == T_SRV || qtype == T_ANY)) {
        const table_t *t = source(name, T_SRV);
        for (unsigned i = 0; i < t->n && !tc; i++) {
            const record_t *s = &t->r[i];
            if (s->type != T_SRV || strcmp(s->name, name)) continue;
            uint8_t *a = r + len;
            size_t nl = len + 18 < MAX_RESP ? put_name(a + 18, MAX_RESP - len - 18, s->target) : 0;
            if (!nl) {
                tc = true;
                break;
            }
            put16(a, 0xc00c);
            put16(a + 2, T_SRV);
            put16(a + 4, C_IN);
            put32(a + 6, s->ttl);
            put16(a + 10, (unsigned)(6 + nl));
            put16(a + 12, s->prio);
            put16(a + 14, s->weight);
            put16(a + 16, s->port);
            if (s->target[0] && nt < sizeof(tgt) / sizeof(tgt[0])) {
                tgt[nt] = s;
                tgt_off[nt++] = len + 18;
            }
            len += 18 + nl;
            an++;
            snprintf(item, sizeof(item), "SRV:%u,%u,%u,%s", (unsigned)s->prio, (unsigned)s->weight,
                     (unsigned)s->port, s->target[0] ? s->target : ".");
            list_add(answer, sizeof(answer), item);
        }
    }
    /* the targets' A records, each once, as many as fit; their names
     * pointers to the targets in the answers */
    for (unsigned k = 0; k < nt && len + 16 <= MAX_RESP; k++) {
        bool seen = false;
        for (unsigned j = 0; j < k && !seen; j++) seen = !strcmp(tgt[j]->target, tgt[k]->target);
        const record_t *rec = seen ? NULL : lookup_a(tgt[k]->target);
        if (!rec) continue;
        uint8_t *a = r + len;
        put16(a, (unsigned)(0xc000 | tgt_off[k]));
        put16(a + 2, T_A);
        put16(a + 4, C_IN);
        put32(a + 6, rec->ttl);
        put16(a + 10, 4);
        memcpy(a + 12, &rec->ip, 4);
        len += 16;
        ar++;
    }
    if (tc) {
        r[2] |= 0x02;
        list_add(answer, sizeof(answer), "TC");
    }
    put16(r + 6, an);
    put16(r + 10, ar);
    log_line(src, "query name=%s type=%s from=%s:%u answer=%s\n", name[0] ? name : ".", type,
             an ? answer : !is_known ? "NXDOMAIN" : tc ? "NODATA;TC" : "NODATA");
    respond(r, len, src);
}

static int parse_loopback(const char *flag, const char *s, struct sockaddr_in *out)
{
    char host[INET_ADDRSTRLEN];
    long v;
    const char *colon = strrchr(s, ':');
    *out = (struct sockaddr_in){ .sin_family = AF_INET };
    if (!colon || (size_t)(colon - s) >= sizeof(host) || !parse_num(colon + 1, 0, 65535, &v))
        return bad_flag(flag, s);
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    if (inet_pton(AF_INET, host, &out->sin_addr) != 1 || (ntohl(out->sin_addr.s_addr) >> 24) != 127) {
        fprintf(stderr, "dnsd: %s must be a 127.x.x.x address\n", flag);
        return 2;
    }
    out->sin_port = htons((uint16_t)v);
    return 0;
}

static int serve(const char *listen_at, const char *log_path, const char *pidfile, long max_seconds)
{
    struct sockaddr_in me;
    int rc = parse_loopback("--listen", listen_at, &me);
    if (rc) return rc;
    for (unsigned i = 0; i < flag_recs.n; i++)
        if (flag_recs.r[i].ttl == UINT32_MAX) flag_recs.r[i].ttl = cfg.ttl;
    if (cfg.records_file && !load_records_file(cfg.records_file)) return 2;
    if (log_path && !(cfg.log = fopen(log_path, "a"))) {
        fprintf(stderr, "dnsd: %s: %s\n", log_path, strerror(errno));
        return 2;
    }

    sock = socket(AF_INET, SOCK_DGRAM, 0);
    if (sock < 0) {
        perror("dnsd: socket");
        return 1;
    }
    if (bind(sock, (struct sockaddr *)&me, sizeof(me)) < 0) {
        fprintf(stderr, "dnsd: bind %s: %s\n", listen_at, strerror(errno));
        return 1;
    }
    socklen_t ml = sizeof(me);
    getsockname(sock, (struct sockaddr *)&me, &ml);
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &me.sin_addr, ip, sizeof(ip));

    /* SIGTERM, SIGINT and SIGHUP only get through while waiting in ppoll */
    sigset_t block, waitmask;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGHUP);
    sigprocmask(SIG_BLOCK, &block, &waitmask);
    sigdelset(&waitmask, SIGTERM);
    sigdelset(&waitmask, SIGINT);
    sigdelset(&waitmask, SIGHUP);
    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    if (pidfile) {
        FILE *f = fopen(pidfile, "w");
        if (!f || fprintf(f, "%ld\n", (long)getpid()) < 0 || fclose(f) != 0) {
            fprintf(stderr, "dnsd: %s: %s\n", pidfile, strerror(errno));
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("listening %s:%u\n", ip, (unsigned)ntohs(me.sin_port));

    const int64_t deadline = now_ms() + max_seconds * 1000;
    struct pollfd pfd = { sock, POLLIN, 0 };
    static uint8_t buf[MAX_DGRAM];
    while (!stop_sig) {
        if (reload_sig) {
            reload_sig = 0;
            if (!cfg.records_file) fprintf(stderr, "dnsd: SIGHUP without --records-file: nothing to re-read\n");
            else if (load_records_file(cfg.records_file))
                fprintf(stderr, "dnsd: %s: %u records\n", cfg.records_file, file_recs.n);
            else fprintf(stderr, "dnsd: %s: kept the previous records\n", cfg.records_file);
        }
        int64_t now = now_ms();
        if (now >= deadline) {
            fprintf(stderr, "dnsd: --max-seconds %ld passed, exiting\n", max_seconds);
            break;
        }
        int64_t next = run_queue(now), wait = deadline - now;
        if (next != INT64_MAX && next - now < wait) wait = next > now ? next - now : 0;
        struct timespec ts = { (time_t)(wait / 1000), (long)(wait % 1000) * 1000000 };
        int r = ppoll(&pfd, 1, &ts, &waitmask);
        if (r < 0) {
            if (errno == EINTR) continue;
            perror("dnsd: ppoll");
            return 1;
        }
        /* a burst at most, so that held-back answers are not held up */
        for (int k = 0; r > 0 && k < 256; k++) {
            struct sockaddr_in src;
            socklen_t sl = sizeof(src);
            ssize_t n = recvfrom(sock, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&src, &sl);
            if (n < 0) break;
            if (sl != sizeof(src) || src.sin_family != AF_INET) continue;
            handle(buf, (size_t)n, &src);
        }
    }
    if (cfg.log) fclose(cfg.log);
    close(sock);
    return 0;
}

/* ---- the client ---- */

static const struct {
    const char *name;
    unsigned type;
} qtypes[] = { { "A", 1 },    { "NS", 2 },    { "CNAME", 5 }, { "SOA", 6 },  { "PTR", 12 },
               { "MX", 15 },  { "TXT", 16 },  { "AAAA", 28 }, { "SRV", 33 }, { "ANY", 255 } };

/* Past a name at *off (labels, maybe ending in a pointer). */
static bool skip_name(const uint8_t *p, size_t n, size_t *off)
{
    size_t o = *off;
    for (;;) {
        if (o >= n) return false;
        unsigned len = p[o];
        if ((len & 0xc0) == 0xc0) {
            if (o + 2 > n) return false;
            o += 2;
            break;
        }
        if (len & 0xc0) return false;
        o += 1 + len;
        if (len == 0) break;
    }
    *off = o;
    return true;
}

/* The name at *off into text (cap bytes; lower case kept as sent, bytes
 * that are not printable or are dots as "?", "." for the root), *off past
 * it. Compression pointers are followed, each one to an offset before the
 * labels that led to it (so no loops), the name at most 255 bytes. */
static bool read_name(const uint8_t *p, size_t n, size_t *off, char *text, size_t cap)
{
    size_t o = *off, end = 0, limit = *off, tl = 0, wire = 0;
    bool jumped = false;
    for (;;) {
        if (o >= n) return false;
        unsigned len = p[o];
        if ((len & 0xc0) == 0xc0) {
            if (o + 2 > n) return false;
            size_t to = (size_t)(len & 0x3f) << 8 | p[o + 1];
            if (to >= limit) return false;
            if (!jumped) end = o + 2;
            jumped = true;
            limit = o = to;
            continue;
        }
        if (len & 0xc0) return false;
        if (len == 0) {
            if (!jumped) end = o + 1;
            break;
        }
        wire += 1 + len;
        if (wire + 1 > 255 || o + 1 + len > n || tl + len + 2 > cap) return false;
        if (tl) text[tl++] = '.';
        for (unsigned k = 0; k < len; k++) {
            unsigned char c = p[o + 1 + k];
            text[tl++] = (char)(c > ' ' && c < 0x7f && c != '.' ? c : '?');
        }
        o += 1 + len;
    }
    if (cap < 2) return false;
    if (!tl) text[tl++] = '.';
    text[tl] = '\0';
    *off = end;
    return true;
}

static int client_socket(const struct sockaddr_in *server)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0 || connect(fd, (const struct sockaddr *)server, sizeof(*server)) < 0) {
        perror("dnsd: socket");
        return -1;
    }
    return fd;
}

/* The response to a datagram with ID id (-1: any) into buf; its length, or
 * -1 when none came in time. */
static ssize_t await_reply(int fd, int id, uint8_t *buf, size_t cap, long timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0) return -1;
        struct pollfd pfd = { fd, POLLIN, 0 };
        int r = poll(&pfd, 1, (int)left);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        ssize_t n = recv(fd, buf, cap, 0);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            if (errno == ECONNREFUSED) continue; /* nobody there yet: wait it out */
            return -1;
        }
        if (id < 0 || (n >= 2 && get16(buf) == (unsigned)id)) return n;
    }
}

static int run_query(const char *what, const struct sockaddr_in *server, bool edns, long timeout_ms)
{
    char tmp[512], name[MAX_NAME];
    unsigned qtype = T_A;
    if (strlen(what) >= sizeof(tmp)) return bad_flag("--query", what);
    strcpy(tmp, what);
    char *colon = strchr(tmp, ':');
    if (colon) {
        *colon = '\0';
        long v;
        bool found = false;
        for (size_t i = 0; i < sizeof(qtypes) / sizeof(qtypes[0]); i++)
            if (!strcasecmp(colon + 1, qtypes[i].name)) qtype = qtypes[i].type, found = true;
        if (!found) {
            if (!parse_num(colon + 1, 0, 65535, &v)) return bad_flag("--query", what);
            qtype = (unsigned)v;
        }
    }
    /* the name as given (letter case kept), labels checked by norm_name */
    if (!norm_name(tmp, name)) return bad_flag("--query", what);
    size_t nl = strlen(tmp);
    if (tmp[nl - 1] == '.') tmp[--nl] = '\0';

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    unsigned id = (unsigned)(ts.tv_nsec ^ getpid() ^ ts.tv_sec) & 0xffff;
    uint8_t q[MAX_RESP] = { 0 };
    put16(q, id);
    q[2] = 0x01; /* RD */
    put16(q + 4, 1);
    size_t len = 12;
    for (char *save = NULL, *l = strtok_r(tmp, ".", &save); l; l = strtok_r(NULL, ".", &save)) {
        size_t ll = strlen(l);
        q[len++] = (uint8_t)ll;
        memcpy(q + len, l, ll);
        len += ll;
    }
    q[len++] = 0;
    put16(q + len, qtype);
    put16(q + len + 2, C_IN);
    len += 4;
    if (edns) { /* OPT: root name, type 41, 1232 bytes, no flags, no options */
        static const uint8_t opt[] = { 0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0 };
        memcpy(q + len, opt, sizeof(opt));
        len += sizeof(opt);
        put16(q + 10, 1);
    }

    int fd = client_socket(server);
    if (fd < 0) return 1;
    if (send(fd, q, len, 0) < 0) {
        perror("dnsd: send");
        return 1;
    }
    static uint8_t r[MAX_DGRAM];
    ssize_t got = await_reply(fd, (int)id, r, sizeof(r), timeout_ms);
    close(fd);
    if (got < 12 || !(r[2] & 0x80)) {
        fprintf(stderr, "dnsd: no response from the server in %ld ms\n", timeout_ms);
        return 1;
    }
    size_t n = (size_t)got, off = 12;
    unsigned rcode = r[3] & 0x0f;
    if (rcode == R_NXDOMAIN) {
        printf("NXDOMAIN\n");
        return 3;
    }
    if (rcode != 0) {
        printf("RCODE %u\n", rcode);
        return 4;
    }
    for (unsigned i = 0, qd = get16(r + 4); i < qd; i++)
        if (!skip_name(r, n, &off) || (off += 4) > n) goto malformed;
    unsigned printed = 0;
    for (unsigned i = 0, an = get16(r + 6); i < an; i++) {
        if (!skip_name(r, n, &off) || off + 10 > n) goto malformed;
        unsigned type = get16(r + off), rdlen = get16(r + off + 8);
        uint32_t ttl = (uint32_t)get16(r + off + 4) << 16 | get16(r + off + 6);
        off += 10;
        if (off + rdlen > n) goto malformed;
        char ip[INET6_ADDRSTRLEN], target[256];
        size_t toff = off + 6;
        if (type == T_A && rdlen == 4) printf("%s ttl=%u\n", inet_ntop(AF_INET, r + off, ip, sizeof(ip)), ttl);
        else if (type == T_AAAA && rdlen == 16)
            printf("%s ttl=%u\n", inet_ntop(AF_INET6, r + off, ip, sizeof(ip)), ttl);
        else if (type == T_SRV) {
            /* the target within the RDATA, and the whole of it */
            if (rdlen < 7 || !read_name(r, off + rdlen, &toff, target, sizeof(target)) || toff != off + rdlen)
                goto malformed;
            printf("%u %u %u %s ttl=%u\n", get16(r + off), get16(r + off + 2), get16(r + off + 4), target, ttl);
        } else printf("type=%u ttl=%u\n", type, ttl);
        printed++;
        off += rdlen;
    }
    if (!printed) printf("NODATA\n");
    if (r[2] & 0x02) printf("TC\n");
    return printed ? 0 : 3;
malformed:
    fprintf(stderr, "dnsd: the response does not parse\n");
    return 1;
}

static int run_send(const char *path, const struct sockaddr_in *server, long timeout_ms)
{
    static uint8_t q[MAX_DGRAM], r[MAX_DGRAM];
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        fprintf(stderr, "dnsd: %s: %s\n", path, strerror(errno));
        return 2;
    }
    size_t len = fread(q, 1, sizeof(q) - 1, f);
    if (f != stdin) fclose(f);
    int fd = client_socket(server);
    if (fd < 0) return 1;
    if (send(fd, q, len, 0) < 0) {
        perror("dnsd: send");
        return 1;
    }
    ssize_t got = await_reply(fd, -1, r, sizeof(r), timeout_ms);
    close(fd);
    if (got < 0) {
        fprintf(stderr, "dnsd: no response from the server in %ld ms\n", timeout_ms);
        return 1;
    }
    size_t n = (size_t)got;
    printf("reply len=%zu", n);
    if (n >= 12)
        printf(" id=%u qr=%u opcode=%u aa=%u tc=%u rd=%u ra=%u rcode=%u qd=%u an=%u ns=%u ar=%u", get16(r),
               r[2] >> 7, (r[2] >> 3) & 0x0f, (r[2] >> 2) & 1, (r[2] >> 1) & 1, r[2] & 1, r[3] >> 7, r[3] & 0x0f,
               get16(r + 4), get16(r + 6), get16(r + 8), get16(r + 10));
    printf(" hex=");
    for (size_t i = 0; i < n; i++) printf("%02x", r[i]);
    printf("\n");
    return 0;
}

int main(int argc, char **argv)
{
    const char *listen_at = NULL, *log_path = NULL, *pidfile = NULL;
    const char *query = NULL, *send_path = NULL, *server_at = NULL;
    long max_seconds = 300, timeout_ms = 1000, v;
    bool edns = false;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--edns")) {
            edns = true;
            continue;
        }
        if (strncmp(a, "--", 2) != 0 || i + 1 >= argc) return usage();
        const char *val = argv[++i];
        if (!strcmp(a, "--listen")) {
            listen_at = val;
        } else if (!strcmp(a, "--record")) {
            if (!parse_record_flag(val)) return bad_flag(a, val);
        } else if (!strcmp(a, "--srv")) {
            if (!parse_srv_flag(val)) return bad_flag(a, val);
        } else if (!strcmp(a, "--records-file")) {
            cfg.records_file = val;
        } else if (!strcmp(a, "--ttl")) {
            if (!parse_num(val, 0, TTL_MAX, &v)) return bad_flag(a, val);
            cfg.ttl = (uint32_t)v;
        } else if (!strcmp(a, "--delay-ms")) {
            if (!parse_num(val, 0, 600000, &v)) return bad_flag(a, val);
            cfg.delay_ms = (unsigned)v;
        } else if (!strcmp(a, "--log")) {
            log_path = val;
        } else if (!strcmp(a, "--pidfile")) {
            pidfile = val;
        } else if (!strcmp(a, "--max-seconds")) {
            if (!parse_num(val, 1, 86400, &max_seconds)) return bad_flag(a, val);
        } else if (!strcmp(a, "--query")) {
            query = val;
        } else if (!strcmp(a, "--send")) {
            send_path = val;
        } else if (!strcmp(a, "--server")) {
            server_at = val;
        } else if (!strcmp(a, "--timeout-ms")) {
            if (!parse_num(val, 1, 600000, &timeout_ms)) return bad_flag(a, val);
        } else {
            fprintf(stderr, "dnsd: unknown flag %s\n", a);
            return usage();
        }
    }

    if (query || send_path) {
        struct sockaddr_in server;
        if ((query && send_path) || !server_at || listen_at) return usage();
        int rc = parse_loopback("--server", server_at, &server);
        if (rc) return rc;
        if (ntohs(server.sin_port) == 0) return bad_flag("--server", server_at);
        return query ? run_query(query, &server, edns, timeout_ms) : run_send(send_path, &server, timeout_ms);
    }
    if (!listen_at || server_at || edns) return usage();
    return serve(listen_at, log_path, pidfile, max_seconds);
}

/* sip.c -- libosip2 glue: parse, sanity checks, the values we route on.
 *
 * libosip2 validates the message and gives the URIs, the top Via and
 * Max-Forwards; the few values we copy or hash (Call-ID, tags, the option
 * header) are read as spans straight from the datagram by a raw header scan,
 * which also routes a 400 when libosip2 rejects the message.
 */
#include "sip.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <osipparser2/osip_parser.h>

#include "outbuf.h"

void sip_global_init(void)
{
    parser_init();
}

/* ------------------------------------------------------------------------
 * Raw header scan
 * --------------------------------------------------------------------- */

static bool is_ws(char c) { return c == ' ' || c == '\t'; }

/* End of the line starting at <p>: index of the first '\r' or '\n' (or
 * <len>). Eight bytes at a time: a byte equal to CR or LF makes a zero in
 * (word ^ CRs) or (word ^ LFs), and the classic test for a zero byte
 * flags the first one exactly (a false flag can only sit above a true
 * one). Never reads past the line's end by more than a word, so a
 * datagram of short lines costs no more than one pass over it. */
static size_t line_end(const char *b, size_t len, size_t p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    const uint64_t crs = ones * '\r', lfs = ones * '\n';
    for (; p + 8 <= len; p += 8) {
        uint64_t w, x, y;
        memcpy(&w, b + p, 8);
        x = w ^ crs;
        y = w ^ lfs;
        uint64_t hit = ((x - ones) & ~x & highs) | ((y - ones) & ~y & highs);
        if (hit) return p + (size_t)__builtin_ctzll(hit) / 8;
    }
#endif
    while (p < len && b[p] != '\r' && b[p] != '\n') p++;
    return p;
}

static size_t skip_eol(const char *b, size_t len, size_t p)
{
    if (p < len && b[p] == '\r') p++;
    if (p < len && b[p] == '\n') p++;
    return p;
}

bool sip_next_header(const char *b, size_t len, size_t *pos, sip_hdr_t *h)
{
    size_t p = *pos;

    if (p == 0) p = skip_eol(b, len, line_end(b, len, 0)); /* start line */
    if (p >= len || b[p] == '\r' || b[p] == '\n') return false;

    size_t start = p, e = line_end(b, len, p);
    /* continuation lines (RFC 3261 7.3.1) belong to this field */
    for (;;) {
        size_t next = skip_eol(b, len, e);
        if (next < len && is_ws(b[next]) && next > e) e = line_end(b, len, next);
        else break;
    }
    const char *colon = memchr(b + start, ':', e - start);
    if (!colon) return false; /* not a header line: stop scanning */
    size_t ne = (size_t)(colon - b);
    /* libosip2 unfolds before it splits: "Via CRLF SP :" is a Via */
    while (ne > start && (is_ws(b[ne - 1]) || b[ne - 1] == '\r' || b[ne - 1] == '\n')) ne--;
    size_t vs = (size_t)(colon - b) + 1, ve = e;
    while (vs < ve && (is_ws(b[vs]) || b[vs] == '\r' || b[vs] == '\n')) vs++;
    while (ve > vs && (is_ws(b[ve - 1]) || b[ve - 1] == '\r' || b[ve - 1] == '\n')) ve--;

    h->name = (span_t){ b + start, ne - start };
    h->value = (span_t){ b + vs, ve - vs };
    h->line = (span_t){ b + start, e - start };
    *pos = skip_eol(b, len, e);
    return true;
}


/* The number of one Content-Length value: trimmed, digits only, at most 9
 * of them; -EBADMSG otherwise. */
static long clen_value(span_t v)
{
    size_t a = 0, e = v.len;
    while (a < e && (v.s[a] == ' ' || v.s[a] == '\t')) a++;
    while (e > a && (v.s[e - 1] == ' ' || v.s[e - 1] == '\t' || v.s[e - 1] == '\r' || v.s[e - 1] == '\n')) e--;
    if (a == e || e - a > 9) return -EBADMSG;
    long n = 0;
    for (size_t k = a; k < e; k++) {
        if (v.s[k] < '0' || v.s[k] > '9') return -EBADMSG;
        n = n * 10 + (v.s[k] - '0');
    }
    return n;
}

long sip_content_length(const sip_req_t *r)
{
    long cl = -ENODATA;
    for (unsigned i = 0; i < r->n_hdrs; i++) {
        if (!sip_hdr_is(&r->hdrs[i], "Content-Length", 'l')) continue;
        long v = clen_value(r->hdrs[i].value);
        if (v < 0 || (cl >= 0 && v != cl)) return -EBADMSG;
        cl = v;
    }
    return cl;
}

long sip_stream_frame(const char *b, size_t len, size_t max, size_t *head)
{
    /* the empty line: CRLF CRLF, or the bare LFs sip_next_header takes */
    size_t hl = 0;
    for (const char *p = b; (p = memchr(p, '\n', len - (size_t)(p - b))) != NULL; p++) {
        size_t i = (size_t)(p - b) + 1;
        if (i < len && b[i] == '\n') { hl = i + 1; break; }
        if (i + 1 < len && b[i] == '\r' && b[i + 1] == '\n') { hl = i + 2; break; }
        if (i >= len || (i + 1 >= len && b[i] == '\r')) break; /* more to read */
    }
    if (!hl) return len >= max ? -EMSGSIZE : 0;
    *head = hl; /* whole: a 513 can be answered from them */
    if (hl > max) return -EMSGSIZE;

    sip_hdr_t h;
    size_t pos = 0;
    bool seen = false;
    unsigned long long body = 0;
    while (sip_next_header(b, hl, &pos, &h)) {
        if (!sip_hdr_is(&h, "Content-Length", 'l')) continue;
        unsigned long long v = 0;
        size_t i = 0;
        if (!h.value.len) return -EBADMSG;
        for (; i < h.value.len && h.value.s[i] >= '0' && h.value.s[i] <= '9'; i++) {
            v = v * 10 + (unsigned)(h.value.s[i] - '0');
            if (v > max) v = max + 1ull; /* too large: no overflow */
        }
        if (i != h.value.len || (seen && v != body)) return -EBADMSG;
        seen = true;
        body = v;
    }
    /* the header index (sip_next_header, what routing reads) must end at
     * that very empty line: a line it stops at before it (a bare CR, a line
     * without a colon) would make the framing and the index two different
     * messages, the rest smuggled into the stream */
    if (pos == 0) pos = skip_eol(b, hl, line_end(b, hl, 0)); /* no header at all */
    bool at_end = (pos + 2 == hl && b[pos] == '\r' && b[pos + 1] == '\n') || (pos + 1 == hl && b[pos] == '\n');
    if (!at_end) return -EBADMSG;
    if (!seen) return -ENODATA;
    if (hl + body > max) return -EMSGSIZE;
    return (long)(hl + body);
}

/* The characters sip_hdr_param() stops at outside a quoted-string: the
 * rest is skipped a byte a compare (three From, To and Via parameters a
 * request were an eighth of a request's parse). */
static const unsigned char param_stop[256] = { ['"'] = 1, ['<'] = 1, ['>'] = 1, [','] = 1, [';'] = 1 };

span_t sip_hdr_param(span_t v, const char *name)
{
    size_t n = strlen(name), i = 0;
    bool quoted = false, angled = false;

    while (i < v.len) {
        if (quoted) {
            while (i < v.len && v.s[i] != '"' && v.s[i] != '\\') i++;
        } else {
            while (i < v.len && !param_stop[(unsigned char)v.s[i]]) i++;
        }
        if (i >= v.len) break;
        char c = v.s[i++];
        if (quoted) {
            if (c == '\\') i++;
            else if (c == '"') quoted = false;
            continue;
        }
        if (c == '"') quoted = true;
        else if (c == '<') angled = true;
        else if (c == '>') angled = false;
        else if (c == ',' && !angled) break; /* next header value */
        else if (c == ';' && !angled) {
            while (i < v.len && is_ws(v.s[i])) i++;
            size_t ns = i;
            while (i < v.len && v.s[i] != '=' && v.s[i] != ';' && v.s[i] != ',' && !is_ws(v.s[i])) i++;
            bool match = i - ns == n && strncasecmp(v.s + ns, name, n) == 0;
            while (i < v.len && is_ws(v.s[i])) i++;
            if (i < v.len && v.s[i] == '=') {
                i++;
                while (i < v.len && is_ws(v.s[i])) i++;
                size_t vs = i;
                if (i < v.len && v.s[i] == '"') { /* quoted-string: one unit */
                    for (i++; i < v.len && v.s[i] != '"'; i++)
                        if (v.s[i] == '\\' && i + 1 < v.len) i++;
                    if (i < v.len) i++;
                } else {
                    while (i < v.len && v.s[i] != ';' && v.s[i] != ',' && !is_ws(v.s[i])) i++;
                }
                if (match) return (span_t){ v.s + vs, i - vs };
            } else if (match) {
                return (span_t){ v.s + ns, 0 };
            }
        }
    }
    return (span_t){ NULL, 0 };
}

/* ------------------------------------------------------------------------
 * One Via value, read raw
 * --------------------------------------------------------------------- */

/* RFC 3261 token characters, and ':' (IPv6 addresses, ports). */
static const bool tok_table[256] = {
    ['-'] = 1, ['.'] = 1, ['!'] = 1, ['%'] = 1, ['*'] = 1, ['_'] = 1, ['+'] = 1, ['`'] = 1,
    ['\''] = 1, ['~'] = 1, [':'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1,
    ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1,
    ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1,
    ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1,
    ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
    ['y'] = 1, ['z'] = 1,
};

static bool via_char(char c)
{
    return tok_table[(unsigned char)c];
}

bool sip_copy_span(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap) return false;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return true;
}

bool sip_parse_port(const char *s, size_t n, unsigned *out)
{
    unsigned v = 0;
    if (n == 0 || n > 5) return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v == 0 || v > 65535) return false;
    *out = v;
    return true;
}

/* The common shape, "SIP/2.0/UDP host[:port](;name[=value])*", without
 * libosip2 (this runs for every relayed response); false for anything
 * else (comments, folded lines, quoted values...), which libosip2 then
 * reads. */
bool sip_via_fast(span_t v, sip_via_fields_t *f)
{
    const char *p = v.s, *e = v.s + v.len;
    unsigned seen = 0;
    memset(f, 0, sizeof(*f));
    f->port = 5060;
    if (v.len < 12 || strncasecmp(p, "SIP/2.0/", 8) != 0) return false;
    p += 8;
    while (p < e && via_char(*p) && *p != ':') p++; /* transport */
    if (p == e || (*p != ' ' && *p != '\t')) return false;
    while (p < e && (*p == ' ' || *p == '\t')) p++;
    const char *h = p;
    if (p < e && *p == '[') {
        const char *rb = memchr(p, ']', (size_t)(e - p));
        if (!rb) return false;
        if (!sip_copy_span(f->host, sizeof(f->host), p + 1, (size_t)(rb - p - 1))) return false;
        p = rb + 1;
    } else {
        while (p < e && (via_char(*p) && *p != ':')) p++;
        if (p == h || !sip_copy_span(f->host, sizeof(f->host), h, (size_t)(p - h))) return false;
    }
    if (p < e && *p == ':') {
        const char *d = ++p;
        while (p < e && *p >= '0' && *p <= '9') p++;
        if (!sip_parse_port(d, (size_t)(p - d), &f->port)) return false;
    }
    while (p < e) {
        while (p < e && (*p == ' ' || *p == '\t')) p++;
        if (p == e) break;
        if (*p != ';') return false;
        p++;
        while (p < e && (*p == ' ' || *p == '\t')) p++;
        const char *n = p;
        while (p < e && via_char(*p) && *p != ':') p++;
        size_t nl = (size_t)(p - n);
        const char *val = p;
        size_t vl = 0;
        while (p < e && (*p == ' ' || *p == '\t')) p++;
        if (p < e && *p == '=') {
            p++;
            while (p < e && (*p == ' ' || *p == '\t')) p++;
            val = p;
            while (p < e && (via_char(*p) || *p == '[' || *p == ']')) p++;
            vl = (size_t)(p - val);
            if (vl == 0) return false; /* "name=" with nothing: libosip2 reads on */
        }
        if (nl == 0) return false;
        /* a parameter given twice: the first counts, as for libosip2 */
        if (nl == 6 && strncasecmp(n, "branch", 6) == 0) {
            if (seen & 1) continue;
            seen |= 1;
            if (!sip_copy_span(f->branch, sizeof(f->branch), val, vl)) return false;
        } else if (nl == 8 && strncasecmp(n, "received", 8) == 0) {
            if (seen & 2) continue;
            seen |= 2;
            if (!sip_copy_span(f->received, sizeof(f->received), val, vl)) return false;
        } else if (nl == 5 && strncasecmp(n, "rport", 5) == 0) {
            if (seen & 4) continue;
            seen |= 4;
            if (vl && !sip_parse_port(val, vl, &f->rport)) return false;
        }
    }
    return true;
}

/* The sender's Via value <v> with the received= and rport= that sip_parse
 * set on <via> (RFC 3261 18.2.1, RFC 3581) in place of the ones written
 * (usually a bare "rport"). Edited as text in the common shape; libosip2
 * re-serialises any other. NULL when it cannot be written. */
const char *sip_via_sent_back(span_t v, osip_via_t *via, char *buf, size_t cap, char **osip_str)
{
    out_t o = { buf, 0, cap - 1, false };
    osip_generic_param_t *rec = NULL, *rp = NULL;

    sip_via_fields_t shape;
    *osip_str = NULL;
    /* edited as text only in the common shape (sip_via_fast() reads it as
     * libosip2 does); anything else is re-serialised by libosip2 */
    if (!sip_via_fast(v, &shape) || memchr(v.s, '"', v.len) || memchr(v.s, '(', v.len) ||
        memchr(v.s, '\r', v.len)) {
        if (osip_via_to_str(via, osip_str) != 0) return NULL;
        return *osip_str;
    }
    const char *p = v.s, *e = v.s + v.len, *semi = memchr(p, ';', v.len);
    put(&o, p, semi ? (size_t)(semi - p) : v.len);
    for (p = semi; p && p < e;) {
        const char *next = memchr(p + 1, ';', (size_t)(e - p - 1));
        const char *n = p + 1, *end = next ? next : e;
        while (n < end && (*n == ' ' || *n == '\t')) n++;
        size_t nl = 0;
        while (n + nl < end && n[nl] != '=' && n[nl] != ' ' && n[nl] != '\t') nl++;
        bool ours = (nl == 5 && strncasecmp(n, "rport", 5) == 0) ||
                    (nl == 8 && strncasecmp(n, "received", 8) == 0);
        if (!ours) put(&o, p, (size_t)(end - p));
        p = next;
    }
    osip_via_param_get_byname(via, "received", &rec);
    osip_via_param_get_byname(via, "rport", &rp);
    if (rp) {
        puts_(&o, ";rport");
        if (rp->gvalue) {
            puts_(&o, "=");
            puts_(&o, rp->gvalue);
        }
    }
    if (rec && rec->gvalue) {
        puts_(&o, ";received=");
        puts_(&o, rec->gvalue);
    }
    if (o.full) return NULL;
    buf[o.len] = '\0';
    return buf;
}

/* Index the raw header fields once: every later look (the values we copy
 * or hash, the answer's head) walks r->hdrs. Returns the offset just past
 * the headers (the end of the datagram when there is no empty line), or -1
 * when there are more than SIP_MAX_HDRS. */
static long index_headers(sip_req_t *r)
{
    size_t pos = 0;
    sip_hdr_t h;

    r->n_hdrs = 0;
    while (sip_next_header(r->raw, r->raw_len, &pos, &h)) {
        if (r->n_hdrs == SIP_MAX_HDRS) return -1;
        r->hdrs[r->n_hdrs++] = h;
    }
    r->body_off = skip_eol(r->raw, r->raw_len, pos);
    return (long)pos;
}

/* The values we copy or hash, from the indexed headers. */
static void scan_raw(sip_req_t *r, const char *option_header)
{
    for (unsigned i = 0; i < r->n_hdrs; i++) {
        const sip_hdr_t *h = &r->hdrs[i];
        if (sip_hdr_is(h, "Call-ID", 'i')) {
            if (!r->call_id.len) r->call_id = h->value;
        } else if (sip_hdr_is(h, "From", 'f')) {
            if (!r->from_tag.len) r->from_tag = sip_hdr_param(h->value, "tag");
        } else if (sip_hdr_is(h, "To", 't')) {
            if (!r->to_tag.len) r->to_tag = sip_hdr_param(h->value, "tag");
        } else if (option_header && sip_hdr_is(h, option_header, '\0')) {
            if (!r->option.len) r->option = h->value;
        }
    }
}

/* ------------------------------------------------------------------------
 * Top Via and where answers go
 * --------------------------------------------------------------------- */

static void set_param(osip_via_t *via, const char *name, const char *value)
{
    osip_generic_param_t *gp = NULL;
    if (osip_via_param_get_byname(via, (char *)name, &gp) == 0 && gp) {
        osip_free(gp->gvalue);
        gp->gvalue = osip_strdup(value);
    } else {
        osip_via_param_add(via, osip_strdup(name), osip_strdup(value));
    }
}

/* RFC 3261 18.2.2 and RFC 3581: answer to the source address; to the source
 * port when the client asked with rport, else to the sent-by port. We add
 * received= (and fill rport=) so the client can tell. A received= already in
 * the request is overwritten, never followed: answers never go anywhere but
 * back to where the request came from. */
/* RFC 3261 25.1: a header field name is a token. libosip2 takes any bytes
 * before the colon; forward mode copies header fields as received, so a
 * name the next hop reads differently than we do must not get through. */
static const unsigned char token_char[256] = {
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1,
    ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
    ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1,
    ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
    ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1,
    ['9'] = 1, ['-'] = 1, ['.'] = 1, ['!'] = 1, ['%'] = 1, ['*'] = 1, ['_'] = 1, ['+'] = 1, ['`'] = 1,
    ['\''] = 1, ['~'] = 1,
};

static bool is_token(span_t s)
{
    if (!s.len) return false;
    for (size_t i = 0; i < s.len; i++)
        if (!token_char[(unsigned char)s.s[i]]) return false;
    return true;
}

/* A top Via forward mode can pass on and split again as we read it: a
 * sent-by host of host-name or IP address characters only (no comma, no
 * quote), a numeric port when there is one, and parameters with no stray
 * double quote (a quoted value is whole). libosip2 takes more than that;
 * the raw Via scans of fwd.c (values split on commas outside quotes) would
 * then see other Vias than libosip2 did. */
static bool via_well_formed(const osip_via_t *via)
{
    const char *h = via->host;
    if (!h || !*h) return false;
    if (!via->version || strcmp(via->version, "2.0") != 0) return false; /* SIP/2.0/UDP */
    for (; *h; h++)
        if (!((*h >= 'a' && *h <= 'z') || (*h >= 'A' && *h <= 'Z') || (*h >= '0' && *h <= '9') ||
              *h == '-' || *h == '.' || *h == '_' || *h == ':'))
            return false;
    if (via->port) {
        char *end;
        unsigned long v = strtoul(via->port, &end, 10);
        if (*end || end == via->port || via->port[0] < '0' || via->port[0] > '9' || v == 0 || v > 65535)
            return false;
    }
    for (int i = 0; i < osip_list_size(&via->via_params); i++) {
        const osip_generic_param_t *p = osip_list_get(&via->via_params, i);
        if (!p || !p->gname || !is_token((span_t){ p->gname, strlen(p->gname) })) return false;
        const char *v = p->gvalue;
        /* an unquoted value is one token: the raw readers (the branch,
         * sip_hdr_param) stop at blanks where libosip2 reads on */
        if (v && *v != '"' && strpbrk(v, " \t\r\n")) return false;
        if (!v || !strchr(v, '"')) continue;
        size_t n = strlen(v);
        if (n < 2 || v[0] != '"' || v[n - 1] != '"' || strchr(v + 1, '"') != v + n - 1) return false;
    }
    return true;
}

/* "a.b.c.d" of <a> into <ip> (inet_ntop's cost, a sixth of a request's
 * Via handling, for the one family every trunk uses) */
static void ipv4_text(const struct in_addr *a, char ip[INET_ADDRSTRLEN])
{
    const unsigned char *b = (const unsigned char *)&a->s_addr;
    out_t o = { ip, 0, INET_ADDRSTRLEN - 1, false };
    for (int i = 0; i < 4; i++) {
        if (i) put(&o, ".", 1);
        put_uint(&o, b[i]);
    }
    ip[o.len] = '\0';
}

static bool route_reply(sip_req_t *r, const struct sockaddr *src, socklen_t srclen)
{
    char ip[INET6_ADDRSTRLEN], port[8];
    unsigned srcport;
    osip_via_t *via = r->top_via;
    osip_generic_param_t *rport = NULL;

    if (src->sa_family == AF_INET && srclen >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)src;
        ipv4_text(&s4->sin_addr, ip);
        srcport = ntohs(s4->sin_port);
    } else if (src->sa_family == AF_INET6 && srclen >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)src;
        inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
        srcport = ntohs(s6->sin6_port);
    } else {
        return false;
    }
    if (!via || !via->host || !via->protocol ||
        (strcasecmp(via->protocol, "UDP") != 0 && strcasecmp(via->protocol, "TCP") != 0 &&
         strcasecmp(via->protocol, "TLS") != 0))
        return false; /* the transports we serve (over TCP and TLS answers
                         take the connection, whatever the Via says) */
    if (!via_well_formed(via)) return false;

    unsigned dport = 5060;
    osip_via_param_get_byname(via, "rport", &rport);
    if (rport) {
        dport = srcport;
        out_t po = { port, 0, sizeof(port) - 1, false };
        put_uint(&po, srcport);
        port[po.len] = '\0';
        set_param(via, "rport", port);
    } else if (via->port) {
        char *end;
        unsigned long v = strtoul(via->port, &end, 10);
        if (*end || v == 0 || v > 65535) return false;
        dport = (unsigned)v;
    }
    /* a received= the sender wrote is replaced too: forward mode passes
     * this Via on, and answers must not follow an address it chose */
    osip_generic_param_t *rec = NULL;
    osip_via_param_get_byname(via, "received", &rec);
    if (rport || rec || strcmp(via->host, ip) != 0) set_param(via, "received", ip);

    memcpy(&r->reply_to, src, srclen);
    r->reply_len = srclen;
    if (src->sa_family == AF_INET) ((struct sockaddr_in *)&r->reply_to)->sin_port = htons((uint16_t)dport);
    else ((struct sockaddr_in6 *)&r->reply_to)->sin6_port = htons((uint16_t)dport);
    return true;
}

size_t sip_value_end(span_t v, size_t from)
{
    /* no comma at all: one value, whatever the quotes (the usual Via) */
    if (from >= v.len || !memchr(v.s + from, ',', v.len - from)) return v.len;
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

size_t sip_value_skip(span_t v, size_t from, bool lines)
{
    size_t i = from;
    while (i < v.len && (v.s[i] == ',' || v.s[i] == ' ' || v.s[i] == '\t' ||
                         (lines && (v.s[i] == '\r' || v.s[i] == '\n'))))
        i++;
    return i;
}

/* <v> unfolded (CR, LF as spaces, as libosip2 does before it parses a
 * header; and tabs too: RFC 3261 25.1's LWS is spaces or tabs, and
 * libosip2's name-addr parser takes only spaces, so a From folded onto a
 * tab-indented line would read as bad) into a NUL-terminated copy from
 * libosip2's allocator (the worker's arena): libosip2's header parsers
 * take C strings. NULL when out of memory; osip_free() it. */
static char *value_dup(span_t v)
{
    char *t = osip_malloc(v.len + 1);
    if (!t) return NULL;
    for (size_t i = 0; i < v.len; i++) {
        char c = v.s[i];
        t[i] = c == '\r' || c == '\n' || c == '\t' ? ' ' : c;
    }
    t[v.len] = '\0';
    return t;
}

/* One Via value parsed on its own, or NULL. */
static osip_via_t *via_parse(span_t v)
{
    osip_via_t *via = NULL;
    char *t = v.len ? value_dup(v) : NULL;
    if (!t || osip_via_init(&via) != 0) goto fail;
    if (osip_via_parse(via, t) != 0) goto fail;
    osip_free(t);
    return via;
fail:
    if (via) osip_via_free(via);
    osip_free(t);
    return NULL;
}

/* The first value of the first Via header, raw (empty when none). */
static span_t raw_top_via_value(const sip_req_t *r)
{
    for (unsigned i = 0; i < r->n_hdrs; i++)
        if (sip_hdr_is(&r->hdrs[i], "Via", 'v'))
            return (span_t){ r->hdrs[i].value.s, sip_value_end(r->hdrs[i].value, 0) };
    return (span_t){ NULL, 0 };
}

/* The first value of the first Via header, parsed on its own: the lazy
 * parse's top Via, and the one a 400 goes to when libosip2 rejected the
 * whole message. */
static osip_via_t *raw_top_via(const sip_req_t *r)
{
    for (unsigned i = 0; i < r->n_hdrs; i++) {
        sip_hdr_t h = r->hdrs[i];
        if (!sip_hdr_is(&h, "Via", 'v')) continue;
        return via_parse((span_t){ h.value.s, sip_value_end(h.value, 0) });
    }
    return NULL;
}

/* Does <v> (one value, as sip_value_end() split it) end where a reader
 * honouring quoted-pairs and ignoring brackets (libosip2, RFC 3261 25.1)
 * would end it too? No comma outside quotes, no quote left open. */
static bool split_agrees(span_t v)
{
    bool q = false;
    for (size_t i = 0; i < v.len; i++) {
        char c = v.s[i];
        if (q) {
            if (c == '\\') i++;
            else if (c == '"') q = false;
        } else if (c == '"') q = true;
        else if (c == ',') return false;
    }
    return !q;
}

/* Does every Via value after the top one parse (as libosip2's whole
 * parse required), and is every value, the top one too, split where
 * libosip2 would split it? Answers carry them all back, and forward mode
 * reads them again. */
static bool vias_below_ok(const sip_req_t *r)
{
    bool top = true;
    for (unsigned i = 0; i < r->n_hdrs; i++) {
        if (!sip_hdr_is(&r->hdrs[i], "Via", 'v')) continue;
        span_t v = r->hdrs[i].value;
        while (v.len) {
            size_t n = sip_value_end(v, 0);
            if (!split_agrees((span_t){ v.s, n })) return false;
            if (!top) {
                osip_via_t *via = via_parse((span_t){ v.s, n });
                if (!via) return false;
                osip_via_free(via);
            }
            top = false;
            if (n >= v.len) break;
            v.s += n + 1, v.len -= n + 1; /* past the comma and the blanks */
            while (v.len && (is_ws(*v.s) || *v.s == '\r' || *v.s == '\n')) v.s++, v.len--;
            if (!v.len) return false; /* a comma with nothing after it */
        }
    }
    return true;
}

/* ------------------------------------------------------------------------
 * sip_parse
 * --------------------------------------------------------------------- */

static bool span_is(span_t s, const char *lit)
{
    return s.len == strlen(lit) && memcmp(s.s, lit, s.len) == 0;
}

static sip_method_t classify(span_t m)
{
    static const char *other[] = { "BYE", "REGISTER", "SUBSCRIBE", "NOTIFY", "REFER",
                                   "INFO", "UPDATE", "PRACK", "MESSAGE", "PUBLISH" };
    if (span_is(m, "INVITE")) return SIP_INVITE;
    if (span_is(m, "ACK")) return SIP_ACK;
    if (span_is(m, "CANCEL")) return SIP_CANCEL;
    if (span_is(m, "OPTIONS")) return SIP_OPTIONS;
    for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++)
        if (span_is(m, other[i])) return SIP_OTHER;
    return SIP_UNKNOWN;
}

static span_t span_of(const char *s)
{
    return s ? (span_t){ s, strlen(s) } : (span_t){ NULL, 0 };
}

static sip_verdict_t bad(sip_req_t *r, int status, const char *why)
{
    r->bad_status = status;
    r->why = why;
    return SIP_REQ_BAD;
}

/* What RFC 3261 asks of every request we serve, beyond its headers'
 * syntax: a Request-URI scheme we can route (416, 8.2.2.1: sip, sips or
 * tel), and a Content-Length that is a number no larger than the body the
 * datagram carries (400, 18.3; bytes past it are ignored, as 18.3 says:
 * the next hop reads what the length says). SIP_REQ_OK or SIP_REQ_BAD. */
static sip_verdict_t check_request(sip_req_t *r)
{
    const char *sch = r->ruri ? osip_uri_get_scheme(r->ruri) : NULL;
    if (!sch || (strcasecmp(sch, "sip") != 0 && strcasecmp(sch, "sips") != 0 && strcasecmp(sch, "tel") != 0))
        return bad(r, 416, "Unsupported URI Scheme");
    bool seen = false;
    unsigned long want = 0;
    for (unsigned i = 0; i < r->n_hdrs; i++) {
        const sip_hdr_t *h = &r->hdrs[i];
        if (!sip_hdr_is(h, "Content-Length", 'l')) continue;
        size_t a = 0, e = h->value.len;
        while (a < e && (h->value.s[a] == ' ' || h->value.s[a] == '\t')) a++;
        while (e > a && (h->value.s[e - 1] == ' ' || h->value.s[e - 1] == '\t' ||
                         h->value.s[e - 1] == '\r' || h->value.s[e - 1] == '\n'))
            e--;
        unsigned long v = 0;
        if (a == e || e - a > 9) return bad(r, 400, "Bad Content-Length");
        for (size_t k = a; k < e; k++) {
            char c = h->value.s[k];
            if (c < '0' || c > '9') return bad(r, 400, "Bad Content-Length");
            v = v * 10 + (unsigned long)(c - '0');
        }
        if (seen && v != want) return bad(r, 400, "Content-Length given twice");
        seen = true;
        want = v;
    }
    size_t body = r->raw_len > r->body_off ? r->raw_len - r->body_off : 0;
    if (seen && want > body) return bad(r, 400, "Content-Length larger than the body");
    return SIP_REQ_OK;
}

/* The request line, checked before libosip2 sees it: libosip2 splits it on
 * spaces, not on line ends, so with fewer than two spaces on the first line
 * its Request-URI or version runs into the next lines, which our raw scan
 * takes for headers or for their end. 0 fine, 400 malformed, 505 another
 * SIP version. */
static int request_line_check(const char *b, size_t len)
{
    size_t e = line_end(b, len, 0);
    const char *sp1 = memchr(b, ' ', e);
    if (!sp1 || sp1 == b) return 400;
    size_t u = (size_t)(sp1 - b) + 1;
    const char *sp2 = memchr(b + u, ' ', e - u);
    if (!sp2 || sp2 == b + u) return 400;
    size_t v = (size_t)(sp2 - b) + 1;
    if (e - v < 5 || strncmp(b + v, "SIP/", 4) != 0) return 400;
    return e - v == 7 && strncmp(b + v, "SIP/2.0", 7) == 0 ? 0 : 505;
}

/* libosip2 failed: a 400 (or <status>) if the top Via can still route it. */
static sip_verdict_t parse_fallback(sip_req_t *r, const struct sockaddr *src, socklen_t srclen,
                                    int status)
{
    if (r->raw_len >= 8 && memcmp(r->raw, "SIP/2.0 ", 8) == 0) return SIP_REQ_RESPONSE;
    r->top_via = raw_top_via(r);
    r->own_via = true;
    if (!r->top_via || !route_reply(r, src, srclen)) return SIP_REQ_DROP;
    scan_raw(r, NULL);
    osip_generic_param_t *br = NULL;
    if (osip_via_param_get_byname(r->top_via, "branch", &br) == 0 && br)
        r->branch = span_of(br->gvalue);
    const char *sp = memchr(r->raw, ' ', r->raw_len);
    if (sp) r->method_name = (span_t){ r->raw, (size_t)(sp - r->raw) };
    return status == 505 ? bad(r, 505, "Version Not Supported") : bad(r, 400, "Bad Request");
}

/* The only header named <full>/<compact>, parsed by libosip2 as a From or
 * To value into a new osip_from_t; NULL when absent, given twice or bad. */
static osip_from_t *parse_name_addr(const sip_req_t *r, const char *full, char compact)
{
    const sip_hdr_t *h = NULL;
    for (unsigned i = 0; i < r->n_hdrs; i++) {
        if (!sip_hdr_is(&r->hdrs[i], full, compact)) continue;
        if (h) return NULL;
        h = &r->hdrs[i];
    }
    osip_from_t *f = NULL;
    char *t = h ? value_dup(h->value) : NULL;
    if (!t || osip_from_init(&f) != 0) goto fail;
    if (osip_from_parse(f, t) != 0 || !f->url) goto fail;
    osip_free(t);
    return f;
fail:
    if (f) osip_from_free(f);
    osip_free(t);
    return NULL;
}

/* CSeq "<number> <method>" of the one CSeq header: 0, or the reason. */
static const char *parse_cseq(sip_req_t *r)
{
    const sip_hdr_t *h = NULL;
    for (unsigned i = 0; i < r->n_hdrs; i++) {
        if (!sip_hdr_is(&r->hdrs[i], "CSeq", '\0')) continue;
        if (h) return "Call-ID or CSeq given twice";
        h = &r->hdrs[i];
    }
    if (!h) return "Missing or bad CSeq header";
    const char *v = h->value.s;
    size_t n = h->value.len, i = 0;
    while (i < n && v[i] >= '0' && v[i] <= '9') i++;
    size_t digits = i;
    if (digits == 0) return "Missing or bad CSeq header";
    if (digits > 10) return "Bad CSeq number";
    if (i == n || !(is_ws(v[i]) || v[i] == '\r' || v[i] == '\n')) return "Bad CSeq number";
    while (i < n && (is_ws(v[i]) || v[i] == '\r' || v[i] == '\n')) i++;
    span_t method = { v + i, n - i };
    if (!method.len || !is_token(method)) return "Missing or bad CSeq header";
    if (method.len != r->method_name.len || memcmp(method.s, r->method_name.s, method.len) != 0)
        return "CSeq method does not match";
    r->cseq_num = (span_t){ v, digits };
    return NULL;
}

/* INVITE, ACK, CANCEL, OPTIONS: each header we read parsed on its own
 * (see sip_parse). The request line has passed request_line_check(). */
static sip_verdict_t parse_lean(sip_req_t *r, const struct sockaddr *src, socklen_t srclen,
                                const char *option_header)
{
    const char *b = r->raw;
    size_t e = line_end(b, r->raw_len, 0);
    const char *sp1 = memchr(b, ' ', e), *uri = sp1 + 1;
    const char *sp2 = memchr(uri, ' ', e - (size_t)(uri - b));

    r->top_via = raw_top_via(r);
    r->own_via = true;
    if (!r->top_via || !route_reply(r, src, srclen)) return SIP_REQ_DROP;
    scan_raw(r, option_header);
    /* read raw, as the ACK's is (sip_parse_ack): the to-tag derives from it */
    r->branch = sip_hdr_param(raw_top_via_value(r), "branch");
    /* ...and only when libosip2 (fwd.c's via_fields(), the next hop) reads
     * the same branch: our branch, the loop check and the response check
     * hash it */
    osip_generic_param_t *br = NULL;
    osip_via_param_get_byname(r->top_via, "branch", &br);
    const char *pb = br ? br->gvalue : NULL;
    if (pb ? !(r->branch.s && r->branch.len == strlen(pb) && memcmp(r->branch.s, pb, r->branch.len) == 0)
           : r->branch.s != NULL)
        return bad(r, 400, "Bad Request");
    if (!vias_below_ok(r)) return bad(r, 400, "Bad Request");

    char *t = value_dup((span_t){ uri, (size_t)(sp2 - uri) });
    int urc = t && osip_uri_init(&r->ruri) == 0 ? osip_uri_parse(r->ruri, t) : -1;
    osip_free(t);
    if (urc != 0) return bad(r, 400, "Bad Request");

    if (r->raw_len > SIP_MAX_MSG) return bad(r, 513, "Message Too Large");
    unsigned n_cid = 0;
    const sip_hdr_t *mf = NULL;
    for (unsigned i = 0; i < r->n_hdrs; i++) {
        const sip_hdr_t *h = &r->hdrs[i];
        if (!is_token(h->name)) return bad(r, 400, "Bad header field name");
        n_cid += sip_hdr_is(h, "Call-ID", 'i');
        if (!mf && sip_hdr_is(h, "Max-Forwards", '\0')) mf = h;
    }
    if (!(r->from = parse_name_addr(r, "From", 'f'))) return bad(r, 400, "Missing or bad From header");
    if (!(r->to = parse_name_addr(r, "To", 't'))) return bad(r, 400, "Missing or bad To header");
    if (!n_cid || !r->call_id.len) return bad(r, 400, "Missing Call-ID header");
    if (n_cid > 1) return bad(r, 400, "Call-ID or CSeq given twice");
    const char *why = parse_cseq(r);
    if (why) return bad(r, 400, why);
    if (!r->from_tag.len) return bad(r, 400, "Missing From tag");
    if (mf) {
        long v = 0;
        size_t i = 0;
        for (; i < mf->value.len && i < 4 && mf->value.s[i] >= '0' && mf->value.s[i] <= '9'; i++)
            v = v * 10 + (mf->value.s[i] - '0');
        if (i == 0 || i != mf->value.len || v > 255) return bad(r, 400, "Bad Max-Forwards");
        r->max_forwards = (int)v;
    }
    r->ruri_user = span_of(r->ruri->username);
    r->to_user = span_of(r->to->url->username);
    r->from_user = span_of(r->from->url->username);
    return check_request(r);
}

sip_verdict_t sip_parse(sip_req_t *r, const char *buf, size_t len,
                        const struct sockaddr *src, socklen_t srclen,
                        const char *option_header)
{
    osip_message_t *m = NULL;

    memset(r, 0, offsetof(sip_req_t, hdrs)); /* hdrs: set as indexed */
    r->raw = buf;
    r->raw_len = len;
    r->max_forwards = -1;
    if (len == 0) return SIP_REQ_DROP;
    /* libosip2 parses a C string: a NUL before the body would hide the rest
     * of the headers from it, while the raw scan and the answer head still
     * see them (and would echo the NUL) */
    long eoh = index_headers(r);
    bool too_many = eoh < 0;
    if (too_many) { /* the NUL check covers what was indexed */
        const sip_hdr_t *last = &r->hdrs[r->n_hdrs - 1];
        eoh = (long)(last->line.s + last->line.len - buf);
    }
    if (memchr(buf, '\0', (size_t)eoh)) return SIP_REQ_DROP;
    if (too_many && len >= 8 && memcmp(buf, "SIP/2.0 ", 8) == 0)
        return SIP_REQ_DROP; /* a response we could only relay mangled */
    if (too_many) { /* answered from the first SIP_MAX_HDRS fields */
        sip_verdict_t v = parse_fallback(r, src, srclen, 400);
        if (v == SIP_REQ_BAD) r->why = "Too Many Header Fields";
        return v;
    }

    /* a response is only ever relayed (forward mode): the header index is
     * all that takes, so libosip2 is spared the whole parse */
    if (len >= 8 && memcmp(buf, "SIP/2.0 ", 8) == 0) {
        bool code = len >= 12 && buf[8] >= '1' && buf[8] <= '6' && buf[9] >= '0' && buf[9] <= '9' &&
                    buf[10] >= '0' && buf[10] <= '9' && (buf[11] == ' ' || buf[11] == '\r');
        return code ? SIP_REQ_RESPONSE : SIP_REQ_DROP;
    }
    int rl = request_line_check(buf, len);
    if (rl) return parse_fallback(r, src, srclen, rl);
    r->method_name = (span_t){ buf, (size_t)((const char *)memchr(buf, ' ', len) - buf) };
    r->method = classify(r->method_name);
    if (r->method <= SIP_OPTIONS) return parse_lean(r, src, srclen, option_header);

    if (osip_message_init(&m) != 0) return SIP_REQ_DROP;
    r->msg = m;
    if (osip_message_parse(m, buf, len) != 0) return parse_fallback(r, src, srclen, 400);
    if (MSG_IS_RESPONSE(m)) return SIP_REQ_RESPONSE;
    if (!m->sip_method || !m->req_uri) return parse_fallback(r, src, srclen, 400);

    r->top_via = osip_list_get(&m->vias, 0);
    if (!r->top_via || !route_reply(r, src, srclen)) return SIP_REQ_DROP;

    r->method = classify(span_of(m->sip_method));
    r->method_name = span_of(m->sip_method);
    scan_raw(r, option_header);

    if (len > SIP_MAX_MSG) return bad(r, 513, "Message Too Large");
    for (unsigned i = 0; i < r->n_hdrs; i++)
        if (!is_token(r->hdrs[i].name)) return bad(r, 400, "Bad header field name");
    if (!m->from || !m->from->url) return bad(r, 400, "Missing or bad From header");
    if (!m->to || !m->to->url) return bad(r, 400, "Missing or bad To header");
    if (!m->call_id || !r->call_id.len) return bad(r, 400, "Missing Call-ID header");
    if (!m->cseq || !m->cseq->method || !m->cseq->number) return bad(r, 400, "Missing or bad CSeq header");
    /* one Call-ID and one CSeq (RFC 3261 7.3.1): with two, libosip2 and a
     * raw reading (ours when relaying answers, the next hop's) could take
     * different ones */
    unsigned n_cid = 0, n_cseq = 0;
    for (unsigned i = 0; i < r->n_hdrs; i++) {
        n_cid += sip_hdr_is(&r->hdrs[i], "Call-ID", 'i');
        n_cseq += sip_hdr_is(&r->hdrs[i], "CSeq", '\0');
    }
    if (n_cid > 1 || n_cseq > 1) return bad(r, 400, "Call-ID or CSeq given twice");
    if (strcmp(m->cseq->method, m->sip_method) != 0) return bad(r, 400, "CSeq method does not match");
    size_t nd = strlen(m->cseq->number);
    if (nd == 0 || nd > 10) return bad(r, 400, "Bad CSeq number"); /* as parse_cseq() */
    for (const char *d = m->cseq->number; *d; d++)
        if (*d < '0' || *d > '9') return bad(r, 400, "Bad CSeq number");
    if (!r->from_tag.len) return bad(r, 400, "Missing From tag");

    osip_header_t *mf = NULL;
    if (osip_message_get_max_forwards(m, 0, &mf) >= 0 && mf) {
        char *end;
        long v = mf->hvalue ? strtol(mf->hvalue, &end, 10) : -1;
        if (!mf->hvalue || *end || end == mf->hvalue || v < 0 || v > 255)
            return bad(r, 400, "Bad Max-Forwards");
        r->max_forwards = (int)v;
    }

    r->ruri = m->req_uri;
    r->from = m->from;
    r->to = m->to;
    r->cseq_num = span_of(m->cseq->number);
    r->ruri_user = span_of(m->req_uri->username);
    r->to_user = span_of(m->to->url->username);
    r->from_user = span_of(m->from->url->username);
    osip_generic_param_t *br = NULL;
    if (osip_via_param_get_byname(r->top_via, "branch", &br) == 0 && br)
        r->branch = span_of(br->gvalue);
    return check_request(r);
}

bool sip_parse_ack(sip_req_t *r, const char *buf, size_t len)
{
    memset(r, 0, offsetof(sip_req_t, hdrs)); /* hdrs: set as indexed */
    r->raw = buf;
    r->raw_len = len;
    r->max_forwards = -1;
    if (len < 4 || memcmp(buf, "ACK ", 4) != 0 || index_headers(r) < 0) return false;
    scan_raw(r, NULL);
    /* only told apart: its branch is enough, read raw as the INVITE's is */
    span_t top = raw_top_via_value(r);
    if (!top.len) return false;
    r->branch = sip_hdr_param(top, "branch");
    r->method = SIP_ACK;
    r->method_name = (span_t){ buf, 3 };
    return true;
}

void sip_req_free(sip_req_t *r)
{
    if (r->own_via && r->top_via) osip_via_free(r->top_via);
    r->top_via = NULL;
    if (!r->msg) { /* owned: parsed on their own */
        if (r->ruri) osip_uri_free(r->ruri);
        if (r->from) osip_from_free(r->from);
        if (r->to) osip_from_free(r->to);
    }
    r->ruri = NULL;
    r->from = r->to = NULL;
    if (r->msg) osip_message_free(r->msg);
    r->msg = NULL;
}

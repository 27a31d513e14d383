/* fwd.c -- forward mode's Via, branch and Max-Forwards surgery; see fwd.h. */
#include "fwd.h"
#include "outbuf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <osipparser2/osip_parser.h>
#include <sodium.h>

/* Fixed: branches must be the same on every proxy instance and restart. */
static const unsigned char branch_key[crypto_shorthash_KEYBYTES] = "frontdesk-branch";


/* <v> in decimal into <buf> (at least 6 bytes); returns the length. */
static size_t port_text(unsigned v, char *buf)
{
    char tmp[8];
    size_t n = 0, len;
    do tmp[n++] = (char)('0' + v % 10); while ((v /= 10) && n < sizeof(tmp));
    for (len = 0; n; len++) buf[len] = tmp[--n];
    return len;
}

static void put_self(out_t *o, const fwd_self_t *self)
{
    char port[8] = ":";
    bool v6 = strchr(self->host, ':') != NULL;
    if (v6) puts_(o, "[");
    puts_(o, self->host);
    if (v6) puts_(o, "]");
    put(o, port, 1 + port_text(self->port, port + 1));
}

/* ---- Via values, across headers and commas ---- */

typedef struct {
    unsigned hdr;  /* index into r->hdrs of the Via header */
    size_t off;    /* offset of the value in that header's value */
    span_t value;  /* one Via value */
} via_it_t;

/* The next value of header <name> (compact form <c>) after <it> (start
 * from a zeroed iterator), across header lines and commas. */
static bool value_next(const sip_req_t *r, via_it_t *it, const char *name, char c)
{
    for (; it->hdr < r->n_hdrs; it->hdr++, it->off = 0) {
        const sip_hdr_t *h = &r->hdrs[it->hdr];
        if (!sip_hdr_is(h, name, c)) continue;
        size_t start = it->off;
        while (start < h->value.len && (h->value.s[start] == ',' || h->value.s[start] == ' ' ||
                                        h->value.s[start] == '\t' || h->value.s[start] == '\r' ||
                                        h->value.s[start] == '\n'))
            start++;
        if (start >= h->value.len) continue;
        size_t end = sip_value_end(h->value, start);
        size_t e = end;
        while (e > start && (h->value.s[e - 1] == ' ' || h->value.s[e - 1] == '\t')) e--;
        it->value = (span_t){ h->value.s + start, e - start };
        it->off = end;
        return true;
    }
    return false;
}

static bool via_next(const sip_req_t *r, via_it_t *it) { return value_next(r, it, "Via", 'v'); }

/* What forward mode needs of one Via value. */
typedef struct {
    char host[256];     /* without the brackets of an IPv6 address */
    unsigned port;      /* 5060 when absent */
    char branch[256];
    char received[64];  /* "" when absent */
    unsigned rport;     /* its value; 0 when absent or empty */
} via_fields_t;

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

static bool tok_char(char c)
{
    return tok_table[(unsigned char)c];
}

static bool copy_span(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap) return false;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return true;
}

static bool parse_port(const char *s, size_t n, unsigned *out)
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
static bool via_fast(span_t v, via_fields_t *f)
{
    const char *p = v.s, *e = v.s + v.len;
    unsigned seen = 0;
    memset(f, 0, sizeof(*f));
    f->port = 5060;
    if (v.len < 12 || strncasecmp(p, "SIP/2.0/", 8) != 0) return false;
    p += 8;
    while (p < e && tok_char(*p) && *p != ':') p++; /* transport */
    if (p == e || (*p != ' ' && *p != '\t')) return false;
    while (p < e && (*p == ' ' || *p == '\t')) p++;
    const char *h = p;
    if (p < e && *p == '[') {
        const char *rb = memchr(p, ']', (size_t)(e - p));
        if (!rb) return false;
        if (!copy_span(f->host, sizeof(f->host), p + 1, (size_t)(rb - p - 1))) return false;
        p = rb + 1;
    } else {
        while (p < e && (tok_char(*p) && *p != ':')) p++;
        if (p == h || !copy_span(f->host, sizeof(f->host), h, (size_t)(p - h))) return false;
    }
    if (p < e && *p == ':') {
        const char *d = ++p;
        while (p < e && *p >= '0' && *p <= '9') p++;
        if (!parse_port(d, (size_t)(p - d), &f->port)) return false;
    }
    while (p < e) {
        while (p < e && (*p == ' ' || *p == '\t')) p++;
        if (p == e) break;
        if (*p != ';') return false;
        p++;
        while (p < e && (*p == ' ' || *p == '\t')) p++;
        const char *n = p;
        while (p < e && tok_char(*p) && *p != ':') p++;
        size_t nl = (size_t)(p - n);
        const char *val = p;
        size_t vl = 0;
        while (p < e && (*p == ' ' || *p == '\t')) p++;
        if (p < e && *p == '=') {
            p++;
            while (p < e && (*p == ' ' || *p == '\t')) p++;
            val = p;
            while (p < e && (tok_char(*p) || *p == '[' || *p == ']')) p++;
            vl = (size_t)(p - val);
            if (vl == 0) return false; /* "name=" with nothing: libosip2 reads on */
        }
        if (nl == 0) return false;
        /* a parameter given twice: the first counts, as for libosip2 */
        if (nl == 6 && strncasecmp(n, "branch", 6) == 0) {
            if (seen & 1) continue;
            seen |= 1;
            if (!copy_span(f->branch, sizeof(f->branch), val, vl)) return false;
        } else if (nl == 8 && strncasecmp(n, "received", 8) == 0) {
            if (seen & 2) continue;
            seen |= 2;
            if (!copy_span(f->received, sizeof(f->received), val, vl)) return false;
        } else if (nl == 5 && strncasecmp(n, "rport", 5) == 0) {
            if (seen & 4) continue;
            seen |= 4;
            if (vl && !parse_port(val, vl, &f->rport)) return false;
        }
    }
    return true;
}

/* One Via value's fields: the fast path, else libosip2. */
static bool via_fields(span_t v, via_fields_t *f)
{
    char tmp[SIP_MAX_MSG + 128];
    osip_via_t *via = NULL;
    osip_generic_param_t *gp = NULL;
    bool ok = false;

    if (via_fast(v, f)) return true;
    memset(f, 0, sizeof(*f));
    f->port = 5060;
    if (v.len == 0 || v.len >= sizeof(tmp)) return false;
    memcpy(tmp, v.s, v.len);
    tmp[v.len] = '\0';
    for (size_t i = 0; i < v.len; i++)
        if (tmp[i] == '\r' || tmp[i] == '\n') tmp[i] = ' ';
    if (osip_via_init(&via) != 0) return false;
    if (osip_via_parse(via, tmp) == 0 && via->host &&
        copy_span(f->host, sizeof(f->host), via->host, strlen(via->host)) &&
        (!via->port || parse_port(via->port, strlen(via->port), &f->port))) {
        ok = true;
        if (osip_via_param_get_byname(via, "branch", &gp) == 0 && gp && gp->gvalue)
            ok = copy_span(f->branch, sizeof(f->branch), gp->gvalue, strlen(gp->gvalue));
        gp = NULL;
        if (ok && osip_via_param_get_byname(via, "received", &gp) == 0 && gp && gp->gvalue)
            ok = copy_span(f->received, sizeof(f->received), gp->gvalue, strlen(gp->gvalue));
        gp = NULL;
        if (ok && osip_via_param_get_byname(via, "rport", &gp) == 0 && gp && gp->gvalue && *gp->gvalue)
            ok = parse_port(gp->gvalue, strlen(gp->gvalue), &f->rport);
    }
    osip_via_free(via);
    return ok;
}

static bool via_is_self(const via_fields_t *v, const fwd_self_t *self)
{
    return strcasecmp(v->host, self->host) == 0 && v->port == self->port;
}

/* ---- branch and loops ---- */

/* The branch for a request whose top Via (before ours) has branch <below>. */
static const unsigned char *key_of(const fwd_self_t *self)
{
    return self->key ? self->key : branch_key;
}

/* The first part of our branch: 16 hex of a keyed hash over what a
 * response to the request carries too (the branch below ours, Call-ID,
 * CSeq number) and our address, so that a response can be checked. */
static void branch_head(const fwd_self_t *self, span_t below, span_t callid, span_t cseq, char *out)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char in[1200], h[crypto_shorthash_BYTES];
    size_t n = 0;
    char me[80];
    size_t hl = strnlen(self->host, sizeof(me) - 8);
    memcpy(me, self->host, hl);
    me[hl] = ':';
    size_t ml = hl + 1 + port_text(self->port, me + hl + 1);
    const span_t parts[] = { below, callid, cseq, { me, ml } };

    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        size_t l = parts[i].len < 280 ? parts[i].len : 280;
        if (l) memcpy(in + n, parts[i].s, l);
        n += l;
        in[n++] = 0;
    }
    crypto_shorthash(h, in, n, key_of(self));
    for (int i = 0; i < 8; i++) {
        *out++ = hex[h[i] >> 4];
        *out++ = hex[h[i] & 15];
    }
}

/* The token of our Record-Route for a dialog: 16 hex of a keyed hash of
 * its Call-ID, which every request of the dialog carries. */
static void rr_token(const fwd_self_t *self, span_t callid, char out[17])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char in[300], h[crypto_shorthash_BYTES];
    size_t n = callid.len < sizeof(in) - 3 ? callid.len : sizeof(in) - 3;
    memcpy(in, "rr", 3); /* NUL included: not a branch's input */
    if (n) memcpy(in + 3, callid.s, n);
    crypto_shorthash(h, in, n + 3, key_of(self));
    for (int i = 0; i < 8; i++) {
        out[2 * i] = hex[h[i] >> 4];
        out[2 * i + 1] = hex[h[i] & 15];
    }
    out[16] = '\0';
}

/* The branch for a request whose top Via (before ours) has branch <below>:
 * the head above, then 8 hex of the Request-URI as received, so that the
 * same request sent back to us for another number is a spiral, not a loop
 * (RFC 3261 16.3 item 4); its CANCEL and non-2xx ACK carry the INVITE's
 * Request-URI and get the same branch. */
static void branch_of(const sip_req_t *r, const fwd_self_t *self, span_t below,
                      char out[FWD_BRANCH_MAX])
{
    static const char hex[] = "0123456789abcdef";
    span_t cseq = r->cseq_num;
    span_t ruri = fwd_request_uri(r);
    unsigned char h[crypto_shorthash_BYTES];
    size_t p = strlen(FWD_BRANCH_PREFIX);

    memcpy(out, FWD_BRANCH_PREFIX, p);
    branch_head(self, below, r->call_id, cseq.s ? cseq : (span_t){ "", 0 }, out + p);
    p += 16;
    crypto_shorthash(h, (const unsigned char *)(ruri.s ? ruri.s : ""), ruri.len, key_of(self));
    for (int i = 0; i < 4; i++) {
        out[p++] = hex[h[i] >> 4];
        out[p++] = hex[h[i] & 15];
    }
    out[p] = '\0';
}

void fwd_branch(const sip_req_t *r, const fwd_self_t *self, char out[FWD_BRANCH_MAX])
{
    branch_of(r, self, r->branch, out);
}

/* Each Via of ours is checked against the branch we would have computed
 * from the Via right below it: the same request come back (a loop) gives
 * the same branch (RFC 3261 16.3 item 4, 16.6 item 8). */
/* A sent-by host the way back of answers can use: an IPv6 address that
 * parses, or letters, digits, '-', '_' and '.' (a name, '_' included as
 * some devices write it, or an IPv4 address). */
static bool host_ok(const char *h)
{
    struct in6_addr a6;
    if (strchr(h, ':')) return inet_pton(AF_INET6, h, &a6) == 1;
    if (!*h) return false;
    for (; *h; h++)
        if (!((*h >= 'a' && *h <= 'z') || (*h >= 'A' && *h <= 'Z') || (*h >= '0' && *h <= '9') ||
              *h == '-' || *h == '_' || *h == '.'))
            return false;
    return true;
}

bool fwd_vias_ok(const sip_req_t *r)
{
    via_it_t it = { 0 };
    via_fields_t f;
    unsigned n = 0;
    while (via_next(r, &it)) {
        /* a comma inside what we take for one value (a stray quote, a
         * bracket): libosip2 and the next hop may split it there */
        if (memchr(it.value.s, ',', it.value.len)) return false;
        if (!via_fields(it.value, &f) || !host_ok(f.host)) return false;
        n++;
    }
    return n > 0;
}

/* Does any Via header mention our host? (Cheap: most requests have never
 * been here, and then no Via needs parsing.) */
static bool vias_mention(const sip_req_t *r, const fwd_self_t *self)
{
    size_t hl = strlen(self->host);
    for (unsigned i = 0; i < r->n_hdrs; i++) {
        const sip_hdr_t *h = &r->hdrs[i];
        if (sip_hdr_is(h, "Via", 'v') && memmem(h->value.s, h->value.len, self->host, hl)) return true;
    }
    return false;
}

bool fwd_is_loop(const sip_req_t *r, const fwd_self_t *self)
{
    via_it_t it = { 0 };
    via_fields_t prev, via;
    bool have_prev = false, prev_ours = false;

    if (!vias_mention(r, self)) return false;
    while (via_next(r, &it)) {
        bool ok = via_fields(it.value, &via);
        if (prev_ours && ok) {
            char want[FWD_BRANCH_MAX];
            branch_of(r, self, (span_t){ via.branch, strlen(via.branch) }, want);
            if (strcmp(prev.branch, want) == 0) return true;
        }
        have_prev = ok;
        prev = via;
        prev_ours = have_prev && via_is_self(&prev, self);
    }
    return false;
}

/* ---- requests ---- */

/* Header <h> whose value starting at <off> is the rest after a value we
 * drop or replace: "<name>: <first>, <rest>" (<first> NULL: dropped; the
 * line is left out when nothing remains). */
static void put_rest(out_t *o, const sip_hdr_t *h, size_t off, const char *first)
{
    size_t rest = off;
    while (rest < h->value.len && (h->value.s[rest] == ',' || h->value.s[rest] == ' ' ||
                                   h->value.s[rest] == '\t' || h->value.s[rest] == '\r' ||
                                   h->value.s[rest] == '\n'))
        rest++;
    if (!first && rest >= h->value.len) return;
    put(o, h->name.s, h->name.len);
    puts_(o, ": ");
    if (first) {
        puts_(o, first);
        if (rest < h->value.len) puts_(o, ", ");
    }
    if (rest < h->value.len) put(o, h->value.s + rest, h->value.len - rest);
    puts_(o, "\r\n");
}

/* The sender's Via value <v> with the received= and rport= that sip_parse
 * set on <via> (RFC 3261 18.2.1, RFC 3581) in place of the ones written
 * (usually a bare "rport"). Edited as text in the common shape; libosip2
 * re-serialises any other. NULL when it cannot be written. */
static const char *sender_via(span_t v, osip_via_t *via, char *buf, size_t cap, char **osip_str)
{
    out_t o = { buf, 0, cap - 1, false };
    osip_generic_param_t *rec = NULL, *rp = NULL;

    via_fields_t shape;
    *osip_str = NULL;
    /* edited as text only in the common shape (via_fast() reads it as
     * libosip2 does); anything else is re-serialised by libosip2 */
    if (!via_fast(v, &shape) || memchr(v.s, '"', v.len) || memchr(v.s, '(', v.len) ||
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

/* Every header as received, but: Max-Forwards decremented, the first Route
 * value dropped (when <pop>), and the sender's Via with the received= and
 * rport= we filled in (RFC 3261 18.2.1, RFC 3581), so that responses find
 * their way back through NATs without a DNS lookup. */
static void put_headers(out_t *o, const sip_req_t *r, bool pop, bool *mf_done)
{
    via_it_t route = { 0 }, via = { 0 };
    bool have_route = pop && value_next(r, &route, "Route", '\0');
    bool have_via = via_next(r, &via);
    char *osip_str = NULL, vbuf[SIP_MAX_MSG + 128];
    const char *top = have_via && r->top_via ? sender_via(via.value, r->top_via, vbuf, sizeof(vbuf), &osip_str)
                                             : NULL;
    if (have_via && r->top_via && !top) { /* never pass the sender's Via on without received=/rport= */
        o->full = true;
        return;
    }

    for (unsigned i = 0; i < r->n_hdrs; i++) {
        const sip_hdr_t *h = &r->hdrs[i];
        if (sip_hdr_is(h, "Max-Forwards", '\0')) {
            if (*mf_done) continue; /* one is enough */
            puts_(o, "Max-Forwards: ");
            put_uint(o, r->max_forwards > 0 ? (unsigned long)r->max_forwards - 1 : 69);
            puts_(o, "\r\n");
            *mf_done = true;
        } else if (have_route && i == route.hdr) {
            put_rest(o, h, route.off, NULL);
        } else if (top && i == via.hdr) {
            put_rest(o, h, via.off, top);
        } else {
            put_field(o, h); /* as received, unless its name is folded */
            puts_(o, "\r\n");
        }
    }
    osip_free(osip_str);
}

int fwd_build_tail(const sip_req_t *r, const fwd_self_t *self, const fwd_flags_t *f,
                   char *buf, size_t cap)
{
    out_t o = { buf, 0, cap, false };
    char branch[FWD_BRANCH_MAX];
    bool mf_done = false;

    if (!r->ruri || !r->method_name.len) return -EINVAL;
    if (r->max_forwards == 0) return -EINVAL;

    /* our Via first */
    if (f && f->branch) copy_cut(branch, sizeof(branch), f->branch, strlen(f->branch));
    else fwd_branch(r, self, branch);
    puts_(&o, "Via: SIP/2.0/UDP ");
    put_self(&o, self);
    puts_(&o, ";branch=");
    puts_(&o, branch);
    puts_(&o, ";rport\r\n");
    if (f && f->record_route) {
        char tok[17];
        rr_token(self, r->call_id, tok);
        puts_(&o, "Record-Route: <sip:");
        put_self(&o, self);
        puts_(&o, ";lr;fdrr=");
        puts_(&o, tok);
        puts_(&o, ">\r\n");
    }
    put_headers(&o, r, f && f->pop_route, &mf_done);
    if (!mf_done) puts_(&o, "Max-Forwards: 70\r\n");
    puts_(&o, "\r\n");
    if (r->body_off < r->raw_len) put(&o, r->raw + r->body_off, r->raw_len - r->body_off);
    return o.full ? -ENOSPC : (int)o.len;
}

span_t fwd_request_uri(const sip_req_t *r)
{
    size_t e = 0;
    while (e < r->raw_len && r->raw[e] != '\r' && r->raw[e] != '\n') e++;
    const char *sp1 = memchr(r->raw, ' ', e);
    if (!sp1) return (span_t){ NULL, 0 };
    const char *s = sp1 + 1, *sp2 = memchr(s, ' ', (size_t)(r->raw + e - s));
    return (span_t){ s, sp2 ? (size_t)(sp2 - s) : (size_t)(r->raw + e - s) };
}

int fwd_build_request(const sip_req_t *r, const char *ruri, const fwd_self_t *self,
                      const fwd_flags_t *f, char *buf, size_t cap)
{
    out_t o = { buf, 0, cap, false };

    if (!r->ruri || !r->method_name.len) return -EINVAL;
    if (ruri) {
        put(&o, r->method_name.s, r->method_name.len);
        puts_(&o, " ");
        puts_(&o, ruri);
        puts_(&o, " SIP/2.0\r\n");
    } else {
        size_t e = 0;
        while (e < r->raw_len && r->raw[e] != '\r' && r->raw[e] != '\n') e++;
        put(&o, r->raw, e);
        puts_(&o, "\r\n");
    }
    if (o.full) return -ENOSPC;
    int n = fwd_build_tail(r, self, f, buf + o.len, cap - o.len);
    return n < 0 ? n : (int)o.len + n;
}

/* ---- targets ---- */

static int set_addr(const char *host, unsigned port, struct sockaddr_storage *to, socklen_t *tolen);

/* "sip:[userinfo@]host[:port][;params][?headers]" without libosip2 (a
 * staff contact, on every forwarded call); false for anything it does not
 * read with certainty, which libosip2 then parses. */
static bool uri_fast(const char *uri, size_t len, fwd_target_t *t)
{
    const char *p = uri + 4, *e = uri + len, *at = NULL;
    const char *q = memchr(p, '?', (size_t)(e - p));
    if (q) e = q;
    for (const char *x = p; x < e; x++)
        if (*x == '@') at = x;
    const char *h = at ? at + 1 : p, *he;
    if (h < e && *h == '[') {
        he = memchr(h, ']', (size_t)(e - h));
        if (!he) return false;
        he++;
    } else {
        he = h;
        while (he < e && ((*he >= 'a' && *he <= 'z') || (*he >= 'A' && *he <= 'Z') ||
                          (*he >= '0' && *he <= '9') || *he == '.' || *he == '-'))
            he++;
    }
    if (he == h || (size_t)(he - h) >= sizeof(t->host)) return false;
    const char *r = he;
    t->port = 5060;
    if (r < e && *r == ':') {
        const char *d = ++r;
        while (r < e && *r >= '0' && *r <= '9') r++;
        if (!parse_port(d, (size_t)(r - d), &t->port)) return false;
        t->port_given = true;
    }
    if (r < e && *r != ';') return false;
    memcpy(t->host, h, (size_t)(he - h));
    t->host[he - h] = '\0';
    return true;
}

int fwd_uri_target(const char *uri, size_t len, fwd_target_t *t)
{
    char tmp[RULES_URI_MAX + 1];
    osip_uri_t *u = NULL;
    int rc = -EINVAL;

    memset(t, 0, sizeof(*t));
    /* "<sip:...>;params" or a bare URI */
    const char *lt = memchr(uri, '<', len);
    if (lt) {
        const char *gt = memchr(lt, '>', len - (size_t)(lt - uri));
        if (!gt) return -EINVAL;
        len = (size_t)(gt - lt - 1);
        uri = lt + 1;
    }
    while (len && (*uri == ' ' || *uri == '\t')) uri++, len--;
    if (len < 5 || len >= sizeof(tmp) || strncasecmp(uri, "sip:", 4) != 0) return -EINVAL;
    if (uri_fast(uri, len, t)) {
        t->numeric = set_addr(t->host, t->port, &t->addr, &t->addr_len) == 0;
        return 0;
    }
    memset(t, 0, sizeof(*t));
    memcpy(tmp, uri, len);
    tmp[len] = '\0';
    if (osip_uri_init(&u) != 0) return -ENOMEM;
    if (osip_uri_parse(u, tmp) == 0 && u->host && *u->host && strlen(u->host) < sizeof(t->host)) {
        unsigned port = 5060;
        if (!u->port || !*u->port || parse_port(u->port, strlen(u->port), &port)) {
            snprintf(t->host, sizeof(t->host), "%s", u->host);
            t->port = port;
            t->port_given = u->port && *u->port;
            t->numeric = set_addr(t->host, t->port, &t->addr, &t->addr_len) == 0;
            rc = 0;
        }
    }
    osip_uri_free(u);
    return rc;
}

bool fwd_uri_is_self(const char *uri, size_t len, const fwd_self_t *self)
{
    fwd_target_t t;
    if (fwd_uri_target(uri, len, &t) < 0) return false;
    size_t hl = strlen(t.host);
    const char *h = t.host;
    if (hl > 2 && h[0] == '[' && h[hl - 1] == ']') h++, hl -= 2; /* [v6] */
    return hl == strlen(self->host) && strncasecmp(h, self->host, hl) == 0 && t.port == self->port;
}

bool fwd_route_signed(const sip_req_t *r, const fwd_self_t *self)
{
    via_it_t it = { 0 };
    char tok[17];
    if (!value_next(r, &it, "Route", '\0')) return false;
    const char *gt = memchr(it.value.s, '>', it.value.len);
    size_t ul = gt ? (size_t)(gt - it.value.s) : it.value.len;
    const char *p = memmem(it.value.s, ul, ";fdrr=", 6);
    if (!p || (size_t)(it.value.s + ul - (p + 6)) < 16) return false;
    rr_token(self, r->call_id, tok);
    return memcmp(p + 6, tok, 16) == 0 && (p + 22 == it.value.s + ul || p[22] == ';' || p[22] == '>');
}

bool fwd_ruri_is_self(const sip_req_t *r, const fwd_self_t *self)
{
    const osip_uri_t *u = r->ruri;
    if (!u || !u->host) return false;
    const char *h = u->host;
    size_t hl = strlen(h);
    if (hl > 2 && h[0] == '[' && h[hl - 1] == ']') h++, hl -= 2;
    unsigned port = u->port && *u->port ? (unsigned)strtoul(u->port, NULL, 10) : 5060;
    return hl == strlen(self->host) && strncasecmp(h, self->host, hl) == 0 && port == self->port;
}

bool fwd_route_is_self(const sip_req_t *r, const fwd_self_t *self, span_t *next)
{
    via_it_t it = { 0 };
    if (!value_next(r, &it, "Route", '\0') || !fwd_uri_is_self(it.value.s, it.value.len, self))
        return false;
    if (value_next(r, &it, "Route", '\0')) *next = it.value;
    else *next = fwd_request_uri(r);
    return true;
}

/* ---- responses ---- */

static int set_addr(const char *host, unsigned port, struct sockaddr_storage *to, socklen_t *tolen)
{
    struct sockaddr_in *v4 = (struct sockaddr_in *)to;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)to;
    char h[64];
    size_t n = strlen(host);
    if (n >= sizeof(h)) return -EINVAL;
    memcpy(h, host, n + 1);
    if (h[0] == '[' && n > 2 && h[n - 1] == ']') {
        memmove(h, h + 1, n - 2);
        h[n - 2] = '\0';
    }
    memset(to, 0, sizeof(*to));
    if (inet_pton(AF_INET, h, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        *tolen = sizeof(*v4);
        return 0;
    }
    if (inet_pton(AF_INET6, h, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        *tolen = sizeof(*v6);
        return 0;
    }
    return -EINVAL; /* a host name: needs DNS, which this path does not do */
}

int fwd_build_response(const sip_req_t *r, const fwd_self_t *self, char *buf, size_t cap,
                       struct sockaddr_storage *to, socklen_t *tolen)
{
    out_t o = { buf, 0, cap, false };
    via_it_t it = { 0 };
    int rc = -ENOENT;

    via_fields_t top, next;
    const size_t pl = strlen(FWD_BRANCH_PREFIX);
    if (!via_next(r, &it) || !via_fields(it.value, &top) || !via_is_self(&top, self) ||
        strncmp(top.branch, FWD_BRANCH_PREFIX, pl) != 0 || strlen(top.branch) < pl + 16)
        return -ENOENT;
    const unsigned top_hdr = it.hdr;
    const size_t top_end = it.off; /* offset in that header's value */

    /* where it goes: the next Via's received address (else its host), its
     * rport (else its port) */
    via_it_t nx = it;
    if (!via_next(r, &nx) || !via_fields(nx.value, &next)) return -EINVAL;
    /* and only if we gave that very request this branch: a forged
     * response cannot make us send to an address of its choosing */
    char head[16];
    span_t callid = { NULL, 0 }, cseq = { NULL, 0 };
    for (unsigned i = 0; i < r->n_hdrs; i++) { /* the first of each, as sip_parse reads them */
        if (!callid.s && sip_hdr_is(&r->hdrs[i], "Call-ID", 'i')) callid = r->hdrs[i].value;
        else if (!cseq.s && sip_hdr_is(&r->hdrs[i], "CSeq", '\0')) cseq = r->hdrs[i].value;
    }
    size_t cl = 0;
    while (cl < cseq.len && cseq.s[cl] >= '0' && cseq.s[cl] <= '9') cl++;
    cseq.len = cl;
    branch_head(self, (span_t){ next.branch, strlen(next.branch) }, callid, cseq, head);
    if (memcmp(head, top.branch + pl, 16) != 0) return -ENOENT;
    rc = set_addr(next.received[0] ? next.received : next.host, next.rport ? next.rport : next.port,
                  to, tolen);
    if (rc < 0) return rc;

    /* the response without our Via */
    size_t e = 0;
    while (e < r->raw_len && r->raw[e] != '\r' && r->raw[e] != '\n') e++;
    put(&o, r->raw, e);
    puts_(&o, "\r\n");
    for (unsigned i = 0; i < r->n_hdrs; i++) {
        const sip_hdr_t *h = &r->hdrs[i];
        if (i == top_hdr) {
            /* drop our value; keep the rest of the line, if any */
            size_t rest = top_end;
            while (rest < h->value.len && (h->value.s[rest] == ',' || h->value.s[rest] == ' ' ||
                                           h->value.s[rest] == '\t'))
                rest++;
            if (rest >= h->value.len) continue;
            put(&o, h->name.s, h->name.len);
            puts_(&o, ": ");
            put(&o, h->value.s + rest, h->value.len - rest);
            puts_(&o, "\r\n");
            continue;
        }
        put(&o, h->line.s, h->line.len);
        puts_(&o, "\r\n");
    }
    puts_(&o, "\r\n");
    if (r->body_off < r->raw_len) put(&o, r->raw + r->body_off, r->raw_len - r->body_off);
    return o.full ? -ENOSPC : (int)o.len;
}

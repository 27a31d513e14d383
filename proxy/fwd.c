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
        size_t start = sip_value_skip(h->value, it->off, true);
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


/* One Via value's fields: the fast path, else libosip2. */
static bool via_fields(span_t v, sip_via_fields_t *f)
{
    char tmp[SIP_MAX_MSG + 128];
    osip_via_t *via = NULL;
    osip_generic_param_t *gp = NULL;
    bool ok = false;

    if (sip_via_fast(v, f)) return true;
    memset(f, 0, sizeof(*f));
    f->port = 5060;
    if (v.len == 0 || v.len >= sizeof(tmp)) return false;
    memcpy(tmp, v.s, v.len);
    tmp[v.len] = '\0';
    for (size_t i = 0; i < v.len; i++)
        if (tmp[i] == '\r' || tmp[i] == '\n') tmp[i] = ' ';
    if (osip_via_init(&via) != 0) return false;
    if (osip_via_parse(via, tmp) == 0 && via->host &&
        sip_copy_span(f->host, sizeof(f->host), via->host, strlen(via->host)) &&
        (!via->port || sip_parse_port(via->port, strlen(via->port), &f->port))) {
        ok = true;
        if (osip_via_param_get_byname(via, "branch", &gp) == 0 && gp && gp->gvalue)
            ok = sip_copy_span(f->branch, sizeof(f->branch), gp->gvalue, strlen(gp->gvalue));
        gp = NULL;
        if (ok && osip_via_param_get_byname(via, "received", &gp) == 0 && gp && gp->gvalue)
            ok = sip_copy_span(f->received, sizeof(f->received), gp->gvalue, strlen(gp->gvalue));
        gp = NULL;
        if (ok && osip_via_param_get_byname(via, "rport", &gp) == 0 && gp && gp->gvalue && *gp->gvalue)
            ok = sip_parse_port(gp->gvalue, strlen(gp->gvalue), &f->rport);
    }
    osip_via_free(via);
    return ok;
}

static bool via_is_self(const sip_via_fields_t *v, const fwd_self_t *self)
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
    sip_via_fields_t f;
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
    sip_via_fields_t prev, via;
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
    size_t rest = sip_value_skip(h->value, off, true);
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
    const char *top = have_via && r->top_via ? sip_via_sent_back(via.value, r->top_via, vbuf, sizeof(vbuf), &osip_str)
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

/* The body that goes on with <r>: what its Content-Length says and not a
 * byte past it (what a datagram holds after it is no part of the message,
 * RFC 3261 18.3, and must not reach a next hop over TCP as a message of its
 * own), and a Content-Length header line written when <r> has none (a
 * stream needs one). False when the Content-Length is larger than the
 * body or not a number (a response we then do not relay). */
static bool put_body_end(out_t *o, const sip_req_t *r)
{
    size_t have = r->body_off < r->raw_len ? r->raw_len - r->body_off : 0;
    long cl = sip_content_length(r);
    if (cl == -EBADMSG || (cl >= 0 && (size_t)cl > have)) return false;
    if (cl < 0) {
        puts_(o, "Content-Length: ");
        put_uint(o, have);
        puts_(o, "\r\n");
    } else {
        have = (size_t)cl;
    }
    puts_(o, "\r\n");
    if (have) put(o, r->raw + r->body_off, have);
    return true;
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
    if (f && f->conn) {
        char hex[24];
        snprintf(hex, sizeof(hex), ";fdc=%llx", (unsigned long long)f->conn);
        puts_(&o, hex);
    }
    if (f && f->site && *f->site && strspn(f->site, FWD_SITE_CHARS) == strlen(f->site)) {
        puts_(&o, ";fds=");
        puts_(&o, f->site);
    }
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
    if (!put_body_end(&o, r)) return -EINVAL;
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
#define TRANSPORT_BAD ((xport_kind_t)-1)

/* A URI's transport parameter value: udp or tcp; anything else (tls, sctp,
 * ws) we cannot send over. */
static xport_kind_t transport_of(const char *v, size_t n)
{
    if (n == 3 && strncasecmp(v, "udp", 3) == 0) return XPORT_UDP;
    if (n == 3 && strncasecmp(v, "tcp", 3) == 0) return XPORT_TCP;
    return TRANSPORT_BAD;
}

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
        if (!sip_parse_port(d, (size_t)(r - d), &t->port)) return false;
        t->port_given = true;
    }
    if (r < e && *r != ';') return false;
    memcpy(t->host, h, (size_t)(he - h));
    t->host[he - h] = '\0';
    /* the parameters: ";transport=" is the one we need */
    for (const char *x = r; x < e; x++) {
        if (*x != ';' || (size_t)(e - x) < 11 || strncasecmp(x, ";transport=", 11) != 0) continue;
        const char *v = x + 11, *ve = v;
        while (ve < e && *ve != ';') ve++;
        t->transport = transport_of(v, (size_t)(ve - v));
    }
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
        if (t->transport == TRANSPORT_BAD) return -EPROTONOSUPPORT;
        t->numeric = set_addr(t->host, t->port, &t->addr, &t->addr_len) == 0;
        return 0;
    }
    memset(t, 0, sizeof(*t));
    memcpy(tmp, uri, len);
    tmp[len] = '\0';
    if (osip_uri_init(&u) != 0) return -ENOMEM;
    if (osip_uri_parse(u, tmp) == 0 && u->host && *u->host && strlen(u->host) < sizeof(t->host)) {
        unsigned port = 5060;
        if (!u->port || !*u->port || sip_parse_port(u->port, strlen(u->port), &port)) {
            snprintf(t->host, sizeof(t->host), "%s", u->host);
            t->port = port;
            t->port_given = u->port && *u->port;
            t->numeric = set_addr(t->host, t->port, &t->addr, &t->addr_len) == 0;
            osip_uri_param_t *tp = NULL;
            if (osip_uri_uparam_get_byname(u, "transport", &tp) == 0 && tp)
                t->transport = tp->gvalue ? transport_of(tp->gvalue, strlen(tp->gvalue)) : TRANSPORT_BAD;
            rc = t->transport == TRANSPORT_BAD ? -EPROTONOSUPPORT : 0;
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

int fwd_build_response(const sip_req_t *r, const fwd_self_t *self, char *buf, size_t cap, xport_to_t *to)
{
    out_t o = { buf, 0, cap, false };
    via_it_t it = { 0 };
    int rc = -ENOENT;

    sip_via_fields_t top, next;
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
    to->kind = XPORT_UDP;
    to->conn = 0;
    span_t conn = sip_hdr_param(it.value, "fdc");
    if (conn.len) { /* the request came over TCP or TLS: back on its connection */
        char hex[24], *end;
        if (!sip_copy_span(hex, sizeof(hex), conn.s, conn.len)) return -EINVAL;
        unsigned long long id = strtoull(hex, &end, 16);
        if (*end || !id) return -EINVAL;
        to->kind = XPORT_TCP;
        to->conn = id;
    }
    rc = set_addr(next.received[0] ? next.received : next.host, next.rport ? next.rport : next.port,
                  &to->addr, &to->addr_len);
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
            size_t rest = sip_value_skip(h->value, top_end, false);
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
    if (!put_body_end(&o, r)) return -EINVAL;
    return o.full ? -ENOSPC : (int)o.len;
}

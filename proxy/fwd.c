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


static void put_self(out_t *o, const fwd_self_t *self)
{
    char port[16];
    bool v6 = strchr(self->host, ':') != NULL;
    snprintf(port, sizeof(port), ":%u", self->port);
    if (v6) puts_(o, "[");
    puts_(o, self->host);
    if (v6) puts_(o, "]");
    puts_(o, port);
}

/* ---- Via values, across headers and commas ---- */

typedef struct {
    unsigned hdr;  /* index into r->hdrs of the Via header */
    size_t off;    /* offset of the value in that header's value */
    span_t value;  /* one Via value */
} via_it_t;

static size_t value_end(span_t v, size_t from)
{
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
        size_t end = value_end(h->value, start);
        size_t e = end;
        while (e > start && (h->value.s[e - 1] == ' ' || h->value.s[e - 1] == '\t')) e--;
        it->value = (span_t){ h->value.s + start, e - start };
        it->off = end;
        return true;
    }
    return false;
}

static bool via_next(const sip_req_t *r, via_it_t *it) { return value_next(r, it, "Via", 'v'); }

/* Parse one Via value with libosip2 (caller frees). */
static osip_via_t *via_parse(span_t v)
{
    char tmp[512];
    osip_via_t *via = NULL;
    if (v.len == 0 || v.len >= sizeof(tmp)) return NULL;
    memcpy(tmp, v.s, v.len);
    tmp[v.len] = '\0';
    for (size_t i = 0; i < v.len; i++)
        if (tmp[i] == '\r' || tmp[i] == '\n') tmp[i] = ' ';
    if (osip_via_init(&via) != 0) return NULL;
    if (osip_via_parse(via, tmp) != 0) {
        osip_via_free(via);
        return NULL;
    }
    return via;
}

static bool via_is_self(const osip_via_t *via, const fwd_self_t *self)
{
    unsigned port = via->port ? (unsigned)strtoul(via->port, NULL, 10) : 5060;
    return via->host && strcasecmp(via->host, self->host) == 0 && port == self->port;
}

static const char *via_branch(osip_via_t *via)
{
    osip_generic_param_t *b = NULL;
    osip_via_param_get_byname(via, "branch", &b);
    return b && b->gvalue ? b->gvalue : "";
}

/* ---- branch and loops ---- */

/* The branch for a request whose top Via (before ours) has branch <below>. */
static void branch_of(const sip_req_t *r, const fwd_self_t *self, span_t below,
                      char out[FWD_BRANCH_MAX])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char in[1200], h[crypto_shorthash_BYTES];
    size_t n = 0;
    const char *cseq = r->msg && r->msg->cseq && r->msg->cseq->number ? r->msg->cseq->number : "";
    char me[80];
    snprintf(me, sizeof(me), "%s:%u", self->host, self->port);
    const span_t parts[] = { below, r->call_id, { cseq, strlen(cseq) }, { me, strlen(me) } };

    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        size_t l = parts[i].len < 280 ? parts[i].len : 280;
        if (l) memcpy(in + n, parts[i].s, l);
        n += l;
        in[n++] = 0;
    }
    crypto_shorthash(h, in, n, branch_key);
    size_t p = strlen(FWD_BRANCH_PREFIX);
    memcpy(out, FWD_BRANCH_PREFIX, p);
    for (int i = 0; i < 8; i++) {
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
    osip_via_t *prev = NULL;
    bool prev_ours = false, loop = false;

    if (!vias_mention(r, self)) return false;

    while (!loop && via_next(r, &it)) {
        osip_via_t *via = via_parse(it.value);
        if (prev_ours && via) {
            const char *b = via_branch(via);
            char want[FWD_BRANCH_MAX];
            branch_of(r, self, (span_t){ b, strlen(b) }, want);
            loop = strcmp(via_branch(prev), want) == 0;
        }
        if (prev) osip_via_free(prev);
        prev = via;
        prev_ours = via && via_is_self(via, self);
    }
    if (prev) osip_via_free(prev);
    return loop;
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

/* Every header as received, but: Max-Forwards decremented, the first Route
 * value dropped (when <pop>), and the sender's Via with the received= and
 * rport= we filled in (RFC 3261 18.2.1, RFC 3581), so that responses find
 * their way back through NATs without a DNS lookup. */
static void put_headers(out_t *o, const sip_req_t *r, bool pop, bool *mf_done)
{
    via_it_t route = { 0 }, via = { 0 };
    bool have_route = pop && value_next(r, &route, "Route", '\0');
    bool have_via = via_next(r, &via);
    char *top = NULL, mf[40];

    if (have_via && r->top_via && osip_via_to_str(r->top_via, &top) != 0) top = NULL;
    for (unsigned i = 0; i < r->n_hdrs; i++) {
        const sip_hdr_t *h = &r->hdrs[i];
        if (sip_hdr_is(h, "Max-Forwards", '\0')) {
            if (*mf_done) continue; /* one is enough */
            snprintf(mf, sizeof(mf), "Max-Forwards: %d\r\n", r->max_forwards > 0 ? r->max_forwards - 1 : 69);
            puts_(o, mf);
            *mf_done = true;
        } else if (have_route && i == route.hdr) {
            put_rest(o, h, route.off, NULL);
        } else if (top && i == via.hdr) {
            put_rest(o, h, via.off, top);
        } else {
            put(o, h->line.s, h->line.len);
            puts_(o, "\r\n");
        }
    }
    osip_free(top);
}

int fwd_build_tail(const sip_req_t *r, const fwd_self_t *self, const fwd_flags_t *f,
                   char *buf, size_t cap)
{
    out_t o = { buf, 0, cap, false };
    char branch[FWD_BRANCH_MAX];
    bool mf_done = false;

    if (!r->msg || !r->method_name.len) return -EINVAL;
    if (r->max_forwards == 0) return -EINVAL;

    /* our Via first */
    fwd_branch(r, self, branch);
    puts_(&o, "Via: SIP/2.0/UDP ");
    put_self(&o, self);
    puts_(&o, ";branch=");
    puts_(&o, branch);
    puts_(&o, ";rport\r\n");
    if (f && f->record_route) {
        puts_(&o, "Record-Route: <sip:");
        put_self(&o, self);
        puts_(&o, ";lr>\r\n");
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

    if (!r->msg || !r->method_name.len) return -EINVAL;
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
    memcpy(tmp, uri, len);
    tmp[len] = '\0';
    if (osip_uri_init(&u) != 0) return -ENOMEM;
    if (osip_uri_parse(u, tmp) == 0 && u->host && *u->host && strlen(u->host) < sizeof(t->host)) {
        unsigned long port = 5060;
        char *end = NULL;
        if (u->port && *u->port) port = strtoul(u->port, &end, 10);
        if (port >= 1 && port <= 65535 && (!end || !*end)) {
            snprintf(t->host, sizeof(t->host), "%s", u->host);
            t->port = (unsigned)port;
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

bool fwd_ruri_is_self(const sip_req_t *r, const fwd_self_t *self)
{
    const osip_uri_t *u = r->msg ? r->msg->req_uri : NULL;
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

    if (!via_next(r, &it)) return -ENOENT;
    osip_via_t *top = via_parse(it.value);
    if (!top || !via_is_self(top, self) ||
        strncmp(via_branch(top), FWD_BRANCH_PREFIX, strlen(FWD_BRANCH_PREFIX)) != 0) {
        if (top) osip_via_free(top);
        return -ENOENT;
    }
    osip_via_free(top);
    const unsigned top_hdr = it.hdr;
    const size_t top_end = it.off; /* offset in that header's value */

    /* where it goes: the next Via */
    via_it_t nx = it;
    if (!via_next(r, &nx)) return -EINVAL;
    osip_via_t *next = via_parse(nx.value);
    if (!next || !next->host) {
        if (next) osip_via_free(next);
        return -EINVAL;
    }
    osip_generic_param_t *rec = NULL, *rp = NULL;
    osip_via_param_get_byname(next, "received", &rec);
    osip_via_param_get_byname(next, "rport", &rp);
    unsigned port = 5060;
    if (rp && rp->gvalue) port = (unsigned)strtoul(rp->gvalue, NULL, 10);
    else if (next->port) port = (unsigned)strtoul(next->port, NULL, 10);
    rc = (port == 0 || port > 65535) ? -EINVAL
                                     : set_addr(rec && rec->gvalue ? rec->gvalue : next->host, port, to, tolen);
    osip_via_free(next);
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

/* sipmsg.c -- build the bench's INVITE/ACK, scan responses (see sipmsg.h).
 *
 * The scanner is deliberately small: it reads what a UAC needs from a
 * response (RFC 3261 8.1.3) and nothing more. Line folding is accepted;
 * comments in header values are not (a redirect server does not send them).
 */
#include "sipmsg.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define SIPMSG_USER_AGENT "fd-bench/0.1"

/* ---------------------------------------------------------------------------
 * Per-call values, derived from (run id, sequence number)
 * ------------------------------------------------------------------------ */

/* splitmix64 finaliser: spreads nearby numbers over all bits. */
static uint64_t sipmsg_mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

/* Write <digits> lowercase hex digits of <v> at <out>; returns out+digits. */
static char *sipmsg_hex(char *out, uint64_t v, int digits)
{
    static const char hex[] = "0123456789abcdef";
    for (int i = digits - 1; i >= 0; i--) {
        out[i] = hex[v & 15];
        v >>= 4;
    }
    return out + digits;
}

size_t sipmsg_call_id(char out[SIPMSG_CALL_ID_MAX], uint64_t run_id, uint64_t seq)
{
    /* "<seq:10>.<run:8>@fd-bench": the sequence first spreads the hash;
     * 32 random bits keep runs apart (the proxy remembers Call-IDs a while) */
    char *p = sipmsg_hex(out, seq, 10);
    *p++ = '.';
    p = sipmsg_hex(p, run_id, 8);
    memcpy(p, "@fd-bench", sizeof("@fd-bench"));
    return (size_t)(p - out) + sizeof("@fd-bench") - 1;
}

size_t sipmsg_branch(char out[SIPMSG_BRANCH_MAX], uint64_t run_id, uint64_t seq)
{
    /* RFC 3261 magic cookie, then unique in space and time */
    memcpy(out, "z9hG4bK.", 8);
    char *p = sipmsg_hex(out + 8, run_id, 8);
    *p++ = '.';
    p = sipmsg_hex(p, seq, 10);
    *p = '\0';
    return (size_t)(p - out);
}

static void sipmsg_from_tag(char out[17], uint64_t run_id, uint64_t seq)
{
    sipmsg_hex(out, sipmsg_mix(run_id ^ sipmsg_mix(seq)), 16);
    out[16] = '\0';
}

/* A caller number +1512555xxxx, spread over 10000 callers. */
static void sipmsg_caller(char out[13], uint64_t run_id, uint64_t seq)
{
    snprintf(out, 13, "+1512555%04u", (unsigned)((seq * 7919 + run_id) % 10000));
}

/* ---------------------------------------------------------------------------
 * Building
 * ------------------------------------------------------------------------ */

/* Finish an snprintf into <buf>/<cap>: 0 and the length, or -ENOSPC. */
static int sipmsg_fit(int n, size_t cap, size_t *len)
{
    if (n < 0 || (size_t)n >= cap) return -ENOSPC;
    *len = (size_t)n;
    return 0;
}

int sipmsg_build_invite(char *buf, size_t cap, size_t *len,
                        const sipmsg_ctx_t *c, const sipmsg_call_t *k)
{
    char call_id[SIPMSG_CALL_ID_MAX], branch[SIPMSG_BRANCH_MAX], tag[17], caller[13];
    sipmsg_call_id(call_id, c->run_id, k->seq);
    sipmsg_branch(branch, c->run_id, k->seq);
    sipmsg_from_tag(tag, c->run_id, k->seq);
    sipmsg_caller(caller, c->run_id, k->seq);

    /* SDP as a PBX trunk offers it; the host without brackets */
    char sdp[512];
    const char *ip = c->local_host, *at = c->ipv6 ? "IP6" : "IP4";
    int iplen = (int)strlen(ip);
    if (c->ipv6 && iplen >= 2 && ip[0] == '[') {
        ip++;
        iplen -= 2;
    }
    uint64_t sess = sipmsg_mix(c->run_id + k->seq) >> 40;
    int n = snprintf(sdp, sizeof(sdp),
                     "v=0\r\n"
                     "o=fdbench %llu %llu IN %s %.*s\r\n"
                     "s=fd-bench\r\n"
                     "c=IN %s %.*s\r\n"
                     "t=0 0\r\n"
                     "m=audio %u RTP/AVP 0 8 101\r\n"
                     "a=rtpmap:0 PCMU/8000\r\n"
                     "a=rtpmap:8 PCMA/8000\r\n"
                     "a=rtpmap:101 telephone-event/8000\r\n"
                     "a=fmtp:101 0-16\r\n"
                     "a=ptime:20\r\n"
                     "a=sendrecv\r\n",
                     (unsigned long long)sess, (unsigned long long)sess, at, iplen, ip,
                     at, iplen, ip, 10000u + 2u * (unsigned)(k->seq % 20000));
    size_t sdplen;
    if (sipmsg_fit(n, sizeof(sdp), &sdplen) < 0) return -ENOSPC;

    n = snprintf(buf, cap,
                 "INVITE sip:%s@%s SIP/2.0\r\n"
                 "Via: SIP/2.0/UDP %s:%u;branch=%s;rport\r\n"
                 "Max-Forwards: 70\r\n"
                 "From: <sip:%s@%s>;tag=%s\r\n"
                 "To: <sip:%s@%s>\r\n"
                 "Call-ID: %s\r\n"
                 "CSeq: 1 INVITE\r\n"
                 "Contact: <sip:%s@%s:%u;transport=udp>\r\n"
                 "User-Agent: " SIPMSG_USER_AGENT "\r\n"
                 "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS\r\n"
                 "Content-Type: application/sdp\r\n"
                 "Content-Length: %zu\r\n"
                 "\r\n"
                 "%s",
                 k->to_user, c->ruri_host,
                 c->local_host, k->local_port, branch,
                 caller, c->local_host, tag,
                 k->to_user, c->ruri_host,
                 call_id,
                 caller, c->local_host, k->local_port,
                 sdplen, sdp);
    return sipmsg_fit(n, cap, len);
}

int sipmsg_build_ack(char *buf, size_t cap, size_t *len,
                     const sipmsg_ctx_t *c, const sipmsg_call_t *k, sipmsg_span_t to)
{
    char call_id[SIPMSG_CALL_ID_MAX], branch[SIPMSG_BRANCH_MAX], tag[17], caller[13];
    if (to.len > SIPMSG_TO_MAX) return -ENOSPC;
    sipmsg_call_id(call_id, c->run_id, k->seq);
    sipmsg_branch(branch, c->run_id, k->seq);
    sipmsg_from_tag(tag, c->run_id, k->seq);
    sipmsg_caller(caller, c->run_id, k->seq);

    int n = snprintf(buf, cap,
                     "ACK sip:%s@%s SIP/2.0\r\n"
                     "Via: SIP/2.0/UDP %s:%u;branch=%s;rport\r\n"
                     "Max-Forwards: 70\r\n"
                     "From: <sip:%s@%s>;tag=%s\r\n"
                     "To: %.*s\r\n"
                     "Call-ID: %s\r\n"
                     "CSeq: 1 ACK\r\n"
                     "User-Agent: " SIPMSG_USER_AGENT "\r\n"
                     "Content-Length: 0\r\n"
                     "\r\n",
                     k->to_user, c->ruri_host,
                     c->local_host, k->local_port, branch,
                     caller, c->local_host, tag,
                     (int)to.len, to.s,
                     call_id);
    return sipmsg_fit(n, cap, len);
}

/* ---------------------------------------------------------------------------
 * Scanning
 * ------------------------------------------------------------------------ */

bool sipmsg_span_is(sipmsg_span_t a, const char *b)
{
    size_t n = strlen(b);
    return a.len == n && memcmp(a.s, b, n) == 0;
}

static bool sipmsg_ws(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

static sipmsg_span_t sipmsg_trim(const char *s, const char *e)
{
    while (s < e && sipmsg_ws(*s)) s++;
    while (e > s && sipmsg_ws(e[-1])) e--;
    return (sipmsg_span_t){s, (size_t)(e - s)};
}

/* End of the element starting at <s> in a comma-separated header value:
 * the first ',' outside quotes and <...>, or <e>. */
static const char *sipmsg_elem_end(const char *s, const char *e)
{
    bool quoted = false;
    int angle = 0;
    for (; s < e; s++) {
        if (quoted) {
            if (*s == '\\' && s + 1 < e) s++;
            else if (*s == '"') quoted = false;
        } else if (*s == '"') {
            quoted = true;
        } else if (*s == '<') {
            angle++;
        } else if (*s == '>' && angle > 0) {
            angle--;
        } else if (*s == ',' && angle == 0) {
            return s;
        }
    }
    return e;
}

/* Value of header parameter <name> in the element <v> (e.g. "tag" in a To
 * value, "branch" in a Via): parameters follow ';' outside quotes and <...>.
 * Empty span when absent or valueless. */
static sipmsg_span_t sipmsg_param(sipmsg_span_t v, const char *name)
{
    const char *s = v.s, *e = v.s + v.len;
    size_t nlen = strlen(name);
    bool quoted = false;
    int angle = 0;
    for (; s < e; s++) {
        if (quoted) {
            if (*s == '\\' && s + 1 < e) s++;
            else if (*s == '"') quoted = false;
            continue;
        }
        if (*s == '"') quoted = true;
        else if (*s == '<') angle++;
        else if (*s == '>' && angle > 0) angle--;
        if (*s != ';' || angle) continue;

        const char *p = s + 1, *pe;
        while (p < e && sipmsg_ws(*p)) p++;
        for (pe = p; pe < e && *pe != '=' && *pe != ';' && !sipmsg_ws(*pe); pe++) {}
        if ((size_t)(pe - p) != nlen || strncasecmp(p, name, nlen) != 0) continue;
        while (pe < e && sipmsg_ws(*pe)) pe++;
        if (pe >= e || *pe != '=') return (sipmsg_span_t){NULL, 0};
        const char *val = pe + 1, *ve;
        while (val < e && sipmsg_ws(*val)) val++;
        for (ve = val; ve < e && *ve != ';' && *ve != ',' && !sipmsg_ws(*ve); ve++) {}
        return (sipmsg_span_t){val, (size_t)(ve - val)};
    }
    return (sipmsg_span_t){NULL, 0};
}

/* The URI of one Contact element: inside <...> when there are brackets
 * (after an optional display name), else up to the first ';'. Empty for
 * "*" or garbage. */
static sipmsg_span_t sipmsg_contact_uri(sipmsg_span_t el)
{
    const char *s = el.s, *e = el.s + el.len;
    const char *lt = NULL;
    bool quoted = false;
    for (const char *p = s; p < e; p++) {
        if (quoted) {
            if (*p == '\\' && p + 1 < e) p++;
            else if (*p == '"') quoted = false;
        } else if (*p == '"') {
            quoted = true;
        } else if (*p == '<') {
            lt = p;
            break;
        } else if (*p == ';') {
            break;
        }
    }
    if (lt) {
        const char *gt = memchr(lt, '>', (size_t)(e - lt));
        if (!gt) return (sipmsg_span_t){NULL, 0};
        return sipmsg_trim(lt + 1, gt);
    }
    const char *p = s;
    while (p < e && *p != ';') p++;
    sipmsg_span_t uri = sipmsg_trim(s, p);
    if (uri.len == 1 && uri.s[0] == '*') return (sipmsg_span_t){NULL, 0};
    return uri;
}

/* Is the header named <name>/<nlen> the one called <full> or <compact>? */
static bool sipmsg_name_is(const char *name, size_t nlen, const char *full, char compact)
{
    if (nlen == 1 && compact) return (name[0] | 0x20) == compact;
    return nlen == strlen(full) && strncasecmp(name, full, nlen) == 0;
}

/* Read one header field from <*pos>: name and value (folded lines joined).
 * Returns false at the empty line ending the headers (<*pos> then points at
 * the body) or when the headers never end (<*bad> set). */
static bool sipmsg_next_header(const char *buf, size_t len, size_t *pos,
                               sipmsg_span_t *name, sipmsg_span_t *value, bool *bad)
{
    const char *s = buf + *pos, *e = buf + len;
    if (s < e && *s == '\r') s++;
    if (s < e && *s == '\n') { /* empty line: end of headers */
        *pos = (size_t)(s + 1 - buf);
        return false;
    }
    /* find the end of the field: a newline not followed by SP/HT */
    const char *le = s;
    for (;;) {
        le = memchr(le, '\n', (size_t)(e - le));
        if (!le) {
            *bad = true;
            return false;
        }
        if (le + 1 < e && (le[1] == ' ' || le[1] == '\t')) {
            le++;
            continue;
        }
        break;
    }
    const char *colon = memchr(s, ':', (size_t)(le - s));
    if (!colon) {
        *bad = true;
        return false;
    }
    *name = sipmsg_trim(s, colon);
    *value = sipmsg_trim(colon + 1, le);
    *pos = (size_t)(le + 1 - buf);
    return true;
}

/* Status line "SIP/2.0 NNN Reason": fills status and reason, returns the
 * offset of the first header, or 0 when it is not a status line. */
static size_t sipmsg_status_line(const char *buf, size_t len, sipmsg_resp_t *r)
{
    if (len < 12 || memcmp(buf, "SIP/2.0 ", 8) != 0) return 0;
    const char *d = buf + 8;
    for (int i = 0; i < 3; i++)
        if (d[i] < '0' || d[i] > '9') return 0;
    if (d[3] != ' ' && d[3] != '\r' && d[3] != '\n') return 0;
    r->status = (d[0] - '0') * 100 + (d[1] - '0') * 10 + (d[2] - '0');
    if (r->status < 100 || r->status > 699) return 0;
    const char *nl = memchr(d, '\n', len - 8);
    if (!nl) return 0;
    r->reason = sipmsg_trim(d + 3, nl);
    return (size_t)(nl + 1 - buf);
}

static void sipmsg_cseq(sipmsg_span_t v, sipmsg_resp_t *r)
{
    const char *p = v.s, *e = v.s + v.len;
    unsigned long n = 0;
    bool digits = false;
    while (p < e && *p >= '0' && *p <= '9' && n < 0xffffffffUL) {
        n = n * 10 + (unsigned long)(*p++ - '0');
        digits = true;
    }
    if (!digits) return;
    r->cseq_num = n;
    r->cseq_method = sipmsg_trim(p, e);
}

/* Count the Contact elements of one header value; remember the first
 * SIPMSG_MAX_CONTACTS URIs. */
static void sipmsg_contacts(sipmsg_span_t v, sipmsg_resp_t *r)
{
    const char *s = v.s, *e = v.s + v.len;
    while (s < e) {
        const char *ee = sipmsg_elem_end(s, e);
        sipmsg_span_t el = sipmsg_trim(s, ee);
        if (el.len) {
            sipmsg_span_t uri = sipmsg_contact_uri(el);
            if (r->contacts == 0) r->contact = uri;
            if (r->contacts < SIPMSG_MAX_CONTACTS) r->contact_list[r->contacts] = uri;
            r->contacts++;
        }
        s = ee + 1;
    }
}

int sipmsg_parse_response(const char *buf, size_t len, sipmsg_resp_t *r)
{
    memset(r, 0, sizeof(*r));
    size_t pos = sipmsg_status_line(buf, len, r);
    if (pos == 0) return -EBADMSG;

    bool bad = false, via_seen = false, to_seen = false;
    sipmsg_span_t name, v;
    while (sipmsg_next_header(buf, len, &pos, &name, &v, &bad)) {
        if (sipmsg_name_is(name.s, name.len, "Via", 'v')) {
            if (via_seen) continue;
            via_seen = true;
            const char *ee = sipmsg_elem_end(v.s, v.s + v.len);
            r->branch = sipmsg_param(sipmsg_trim(v.s, ee), "branch");
        } else if (sipmsg_name_is(name.s, name.len, "Call-ID", 'i')) {
            r->call_id = v;
        } else if (sipmsg_name_is(name.s, name.len, "CSeq", 0)) {
            sipmsg_cseq(v, r);
        } else if (sipmsg_name_is(name.s, name.len, "To", 't')) {
            if (to_seen) continue;
            to_seen = true;
            r->to = v;
            r->to_tag = sipmsg_param(v, "tag");
        } else if (sipmsg_name_is(name.s, name.len, "Contact", 'm')) {
            sipmsg_contacts(v, r);
        }
    }
    return bad ? -EBADMSG : 0;
}

/* sip.h -- libosip2 glue: parse one datagram, check it, describe it.
 *
 * sip_parse() turns a received datagram into a sip_req_t: the method, the
 * values the rules and the answer need (as spans), and where an answer must
 * go (top Via, RFC 3261 18.2.2 and RFC 3581 rport). When libosip2 cannot
 * parse the message, a raw scan still finds the top Via so a 400 can be
 * routed. Pure: no sockets, no clock, no globals besides libosip2's parser
 * tables set up once by sip_global_init() before threads start.
 *
 * Ownership: the sip_req_t borrows the datagram (<buf> must outlive it) and
 * owns the libosip2 objects; sip_req_free() releases them. Spans point into
 * the datagram or into those objects.
 */
#ifndef FRONTDESK_SIP_H
#define FRONTDESK_SIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "rules.h" /* span_t */

#define SIP_MAX_MSG 8192 /* larger requests are answered 513 */
#define SIP_MAX_HDRS 128 /* header fields indexed; more is a 400 */

typedef enum {
    SIP_INVITE = 0,
    SIP_ACK,
    SIP_CANCEL,
    SIP_OPTIONS,
    SIP_OTHER, /* a method of an RFC we know but do not serve: 405 */
    SIP_UNKNOWN, /* 501 */
} sip_method_t;

/* What sip_parse() concluded about a datagram. */
typedef enum {
    SIP_REQ_OK = 0,   /* a well-formed request: serve it */
    SIP_REQ_BAD,      /* malformed, but the top Via routes a 400 (<why>) */
    SIP_REQ_RESPONSE, /* a SIP response: status line checked, headers indexed,
                         not parsed by libosip2 (<msg> NULL); relayed when
                         its top Via is ours (forward mode) */
    SIP_REQ_DROP,     /* cannot be parsed nor routed: drop and count */
} sip_verdict_t;

/* One header field of the raw message: its name and its whole value,
 * continuation lines included; <line> spans the full field without the final
 * CRLF. */
typedef struct {
    span_t name, value, line;
} sip_hdr_t;

typedef struct osip_message osip_message_t;
typedef struct osip_via osip_via_t;
typedef struct osip_uri osip_uri_t;
typedef struct osip_from osip_from_t;

typedef struct {
    const char *raw;        /* the datagram, borrowed */
    size_t raw_len;
    osip_message_t *msg;    /* the whole message parsed by libosip2: methods we
                               relay or refuse (BYE, REGISTER...); NULL for
                               INVITE, ACK, CANCEL and OPTIONS (each header we
                               read parsed on its own) and when parsing failed */
    osip_uri_t *ruri;       /* the Request-URI: borrowed from msg, or owned;
                               NULL unless SIP_REQ_OK */
    osip_from_t *from, *to; /* owned, without msg (with it: msg's) */
    osip_via_t *top_via;    /* with received/rport added; borrowed from msg or
                               owned (raw fallback) */
    bool own_via;
    sip_method_t method;
    int max_forwards;       /* -1 when absent */
    span_t method_name;
    span_t call_id, from_tag, to_tag, branch, cseq_num;
    span_t ruri_user, to_user, from_user, option;
    struct sockaddr_storage reply_to; /* where answers go */
    socklen_t reply_len;
    unsigned n_hdrs;
    size_t body_off;        /* where the body starts, after the empty line */
    int bad_status;         /* SIP_REQ_BAD: 400, 416 (Request-URI scheme), 505,
                               or 513 when too large */
    const char *why;        /* SIP_REQ_BAD: the reason phrase */
    sip_hdr_t hdrs[SIP_MAX_HDRS]; /* the raw header fields, in order: one
                                     scan serves parsing and answering; the
                                     first n_hdrs are set (last in the
                                     struct: a parse zeroes what is above) */
} sip_req_t;

/* Call once before threads start (libosip2 parser tables). */
void sip_global_init(void);

/* Parse <buf>/<len> received from <src>. <option_header> names the header
 * holding the IVR option (NULL: none). Always initialises <r>; call
 * sip_req_free() whatever the verdict. An INVITE, ACK, CANCEL or OPTIONS
 * is read the lazy way: the raw header index, then libosip2's parser of
 * each header we use (Request-URI, From, To, the top Via), not the whole
 * message (half a call's CPU went to parsing headers nobody reads); the
 * other methods are parsed whole. Either way a request we serve has a
 * well-formed request line, From, To, Call-ID, CSeq, Max-Forwards and top
 * Via, and header names that are tokens. */
sip_verdict_t sip_parse(sip_req_t *r, const char *buf, size_t len,
                        const struct sockaddr *src, socklen_t srclen,
                        const char *option_header);

void sip_req_free(sip_req_t *r);

/* Redirect mode's ACK: never answered nor routed, only told apart (ours
 * or not, sip_is_ack_for_us()). When <buf> is an ACK with a Via, fills <r>
 * from the raw header index alone (Call-ID, tags, the top Via's branch; no
 * libosip2 at all: r->top_via stays NULL) and returns true; else false.
 * Call sip_req_free() either way. */
bool sip_parse_ack(sip_req_t *r, const char *buf, size_t len);

/* ---- framing on a stream (TCP, TLS: RFC 3261 18.3) ---- */

/* Where the first message of the stream bytes <buf> (<len> read so far)
 * ends: at the empty line after its headers plus its Content-Length
 * (compact "l" too). Returns the message's length once its headers are
 * whole (it is all there when <len> reaches it); 0 while its headers are
 * not; -EMSGSIZE when its headers, or headers and body,
 * would pass <max>; -ENODATA when its headers end without a Content-Length
 * (a stream MUST have one); -EBADMSG when the Content-Length is not one
 * number (or two disagree). <*head> is the length of the headers with the
 * empty line, once they are whole (the part a 400 is built from). Pure.
 * Leading CRLFs (keep-alives, RFC 5626 3.5.1) are the caller's to skip. */
long sip_stream_frame(const char *buf, size_t len, size_t max, size_t *head);

/* ---- raw header access (shared with sipresp.c) ---- */


/* Iterate header fields. <*pos> starts at 0; returns false after the last
 * header (the empty line). */
bool sip_next_header(const char *buf, size_t len, size_t *pos, sip_hdr_t *h);

/* Is <h> the header <full> (or its compact form <compact>, '\0' for none)?
 * Inline: called for every header of every message, with a literal whose
 * length the compiler knows; the first letter settles most mismatches. */
static inline bool sip_hdr_is(const sip_hdr_t *h, const char *full, char compact)
{
    size_t n = strlen(full);
    if (h->name.len == n)
        return ((h->name.s[0] ^ full[0]) & ~0x20) == 0 && strncasecmp(h->name.s, full, n) == 0;
    return compact && h->name.len == 1 && (h->name.s[0] | 0x20) == compact;
}

/* Where the header value in <v> that starts at <from> ends: at the first
 * comma outside double quotes and [brackets] (a list header such as Via
 * holds several values), or at the end. The one splitter of header values
 * (sip.c, sipresp.c, fwd.c). */
size_t sip_value_end(span_t v, size_t from);

/* Where the next value of the list in <v> starts, from <from>: past the
 * separators (commas, whitespace and, with <lines>, the CR/LF of a fold);
 * v.len when none is left. The list walkers (fwd.c) use it with
 * sip_value_end(). */
size_t sip_value_skip(span_t v, size_t from, bool lines);

/* ---- one Via value, read raw (shared with fwd.c and sipresp.c) ---- */

/* What is read of one Via value. */
typedef struct {
    char host[256];     /* without the brackets of an IPv6 address */
    unsigned port;      /* 5060 when absent */
    char branch[256];
    char received[64];  /* "" when absent */
    unsigned rport;     /* its value; 0 when absent or empty */
} sip_via_fields_t;

/* <v> read without libosip2 when it has the common shape (SIP/2.0/<t>
 * host[:port] and token parameters), as libosip2 would read it; false
 * otherwise (the caller then asks libosip2). */
bool sip_via_fast(span_t v, sip_via_fields_t *f);

/* The sender's top Via value <v> as it goes back or on: with the
 * received= and rport= that sip_parse() set on <via> (RFC 3261 18.2.1, RFC
 * 3581) in place of the ones written. Edited as text in the common shape
 * (into <buf> of <cap>); re-serialised by libosip2 otherwise (*<osip_str>,
 * to osip_free()). NULL when it cannot be written. */
const char *sip_via_sent_back(span_t v, osip_via_t *via, char *buf, size_t cap, char **osip_str);

/* The Content-Length of <r> from its header index (compact "l" too): the
 * number; -ENODATA when it has none; -EBADMSG when it is not one number
 * (or two disagree). */
long sip_content_length(const sip_req_t *r);

/* <n> bytes of <s> as a C string in <dst> of <cap>; false when too long. */
bool sip_copy_span(char *dst, size_t cap, const char *s, size_t n);

/* A port of 1 to 5 digits, 1..65535, into <out>; false otherwise. */
bool sip_parse_port(const char *s, size_t n, unsigned *out);

/* Value of the header parameter <name> in <value> (e.g. "tag" of a From
 * value), as a span; empty when absent. Parameters inside <...> are the
 * URI's, not the header's, and are skipped. */
span_t sip_hdr_param(span_t value, const char *name);

#endif

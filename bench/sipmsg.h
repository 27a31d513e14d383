/* sipmsg.h -- the SIP the bench speaks: INVITE and ACK out, responses in.
 *
 * What it does: builds the INVITE of one call and the ACK of its final
 * answer, every value derived from the run id and the call's sequence
 * number (so nothing per call is stored but the number); and scans a
 * received response into spans: status, Call-ID, CSeq, To and its tag, top
 * Via branch, first Contact URI and how many Contacts there are.
 *
 * What it never does: no sockets, no clock, no allocation, no libosip2 (the
 * bench must stay cheap next to the proxy it loads).
 *
 * Ownership: a sipmsg_resp_t borrows the datagram it was scanned from.
 */
#ifndef FRONTDESK_BENCH_SIPMSG_H
#define FRONTDESK_BENCH_SIPMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIPMSG_MAX 1400        /* bytes of any message we build */
#define SIPMSG_CALL_ID_MAX 48  /* Call-ID bytes, NUL included */
#define SIPMSG_BRANCH_MAX 48   /* Via branch bytes, NUL included */
#define SIPMSG_TO_MAX 512      /* longest To value copied into an ACK */
#define SIPMSG_MAX_CONTACTS 8  /* Contact URIs kept by the scanner (all are counted) */

/* A counted view into someone else's buffer; not NUL-terminated. */
typedef struct {
    const char *s;
    size_t len;
} sipmsg_span_t;

/* What every message of one run shares. */
typedef struct {
    uint64_t run_id;       /* random per run: Call-IDs never repeat across runs */
    char ruri_host[64];    /* host[:port] of Request-URI and To: "127.0.0.1" */
    char local_host[48];   /* our address in Via/From/Contact: "127.0.0.1", "[::1]" */
    bool ipv6;             /* SDP address type */
} sipmsg_ctx_t;

/* One call. */
typedef struct {
    uint64_t seq;          /* unique in the run */
    const char *to_user;   /* Request-URI user, NUL-terminated: "15125550100*1" */
    unsigned local_port;   /* port of the socket sending it (Via sent-by) */
} sipmsg_call_t;

/* Call-ID and Via branch of call <seq>, NUL-terminated in <out>; return the
 * length. */
size_t sipmsg_call_id(char out[SIPMSG_CALL_ID_MAX], uint64_t run_id, uint64_t seq);
size_t sipmsg_branch(char out[SIPMSG_BRANCH_MAX], uint64_t run_id, uint64_t seq);

/* Write the INVITE of call <k> (about 700 bytes with its SDP body) into
 * <buf>/<cap>, its length into <*len>. 0, or -ENOSPC when it does not fit. */
int sipmsg_build_invite(char *buf, size_t cap, size_t *len,
                        const sipmsg_ctx_t *c, const sipmsg_call_t *k);

/* Write the ACK of a non-2xx final answer to call <k> (RFC 3261 17.1.1.3:
 * same Request-URI, Via branch, From and Call-ID as the INVITE, the
 * answer's To <to>, CSeq 1 ACK). 0, or -ENOSPC. */
int sipmsg_build_ack(char *buf, size_t cap, size_t *len,
                     const sipmsg_ctx_t *c, const sipmsg_call_t *k, sipmsg_span_t to);

/* A scanned response. Absent headers leave empty spans / zero counts. */
typedef struct {
    int status;                 /* 100..699 */
    sipmsg_span_t reason;       /* reason phrase */
    sipmsg_span_t call_id;
    unsigned long cseq_num;
    sipmsg_span_t cseq_method;
    sipmsg_span_t to;           /* whole first To value */
    sipmsg_span_t to_tag;       /* its tag parameter */
    sipmsg_span_t branch;       /* branch parameter of the top Via */
    sipmsg_span_t contact;      /* first Contact URI, without <> */
    unsigned contacts;          /* Contact entries over all Contact headers */
    sipmsg_span_t contact_list[SIPMSG_MAX_CONTACTS]; /* the URIs of the first ones,
                                   in order ([0] is <contact>) */
} sipmsg_resp_t;

/* Scan <buf>/<len> as a SIP/2.0 response into <r>. 0, or -EBADMSG when it
 * is not one (a request, a bad status line, headers without an end). Header
 * names are matched case-insensitively, compact forms included. */
int sipmsg_parse_response(const char *buf, size_t len, sipmsg_resp_t *r);

/* Does <a> hold exactly the NUL-terminated <b>? */
bool sipmsg_span_is(sipmsg_span_t a, const char *b);

#endif

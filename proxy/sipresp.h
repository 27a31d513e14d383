/* sipresp.h -- build the bytes of our SIP answers (pure).
 *
 * An answer is: status line, the "head" copied from the request (Via lines
 * with received/rport, From, To with our tag, Call-ID, CSeq, in request
 * order), extra header lines (Contact, Allow, Retry-After...), Server and
 * Content-Length: 0. The head is built once per request, so an answer that
 * waits for Redis only appends the Contacts when the decision comes.
 *
 * To-tags are a keyed hash of (Call-ID, From tag, top Via branch): a
 * retransmitted request gets a byte-identical answer, and the ACK for a
 * non-2xx answer (same Call-ID, From tag and branch, RFC 3261 17.1.1.3)
 * carries a To tag we can recognise without state.
 * Functions return the length written, or -ENOSPC when <cap> is too small.
 */
#ifndef FRONTDESK_SIPRESP_H
#define FRONTDESK_SIPRESP_H

#include <stdbool.h>
#include <stddef.h>

#include "sip.h"

/* a head is at most the request's headers plus what we add to the top Via */
#define SIPRESP_HEAD_MAX (SIP_MAX_MSG + 512)

/* 16 hex characters + NUL. */
void sipresp_to_tag(const sip_req_t *r, char out[17]);

/* Is this ACK for one of our answers (its To tag is the one we gave)? */
bool sip_is_ack_for_us(const sip_req_t *r);

int sipresp_head(const sip_req_t *r, char *out, size_t cap);

/* "Contact: <uri>;q=1.0\r\n" for each of <n> URIs, q descending by 0.1. */
int sipresp_contacts(char *out, size_t cap, const char *const *uris, size_t n);

/* The full answer. <extra> holds whole header lines (CRLF-terminated) or is
 * empty. */
int sipresp_build(char *out, size_t cap, int status, const char *reason,
                  const char *head, size_t head_len,
                  const char *extra, size_t extra_len);

/* Default reason phrase for <status>. */
const char *sipresp_reason(int status);

#endif

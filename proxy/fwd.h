/* fwd.h -- forward mode's message surgery (RFC 3261 16.6, 16.11), pure.
 *
 * A stateless proxy pushes its own Via with a branch computed from the
 * request, so a retransmission (and the CANCEL of an INVITE, which carries
 * the INVITE's top Via branch) gets the same branch, and a different request
 * a different one; decrements Max-Forwards; and sends responses back by
 * popping its Via and following the next one. These functions build the
 * bytes; route.c decides where they go.
 *
 * Pure: no sockets, no clock. Functions return the length written, or a
 * negative errno: -ENOSPC (buffer too small), -EINVAL (not possible for
 * this message), -ENOENT (a response whose top Via is not ours).
 */
#ifndef FRONTDESK_FWD_H
#define FRONTDESK_FWD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "sip.h"

#define FWD_BRANCH_PREFIX "z9hG4bK-fd-"
#define FWD_BRANCH_MAX 40

/* Who we are in our Via: "SIP/2.0/UDP <host>:<port>". */
typedef struct {
    const char *host; /* numeric address as it should appear in the Via */
    unsigned port;
} fwd_self_t;

/* The branch of our Via for request <r>: FWD_BRANCH_PREFIX + 16 hex of a
 * keyed hash over the request's top Via branch, Call-ID, CSeq number and
 * our own address (RFC 3261 16.11: the same request, the same branch; the
 * CANCEL and the non-2xx ACK of an INVITE carry its branch and CSeq number,
 * so they get ours too). */
void fwd_branch(const sip_req_t *r, const fwd_self_t *self, char out[FWD_BRANCH_MAX]);

/* Loop detection (RFC 3261 16.3 item 4): does <r> carry a Via of ours
 * whose branch is the one we compute from the Via right below it, i.e. has
 * this very request passed through us already? Then answer 482. */
bool fwd_is_loop(const sip_req_t *r, const fwd_self_t *self);

/* The request to send on: request line with <ruri> (NULL: unchanged), our
 * Via first, Max-Forwards decremented (70 when absent; -EINVAL when it is
 * 0: answer 483 instead), every other header and the body as received. */
int fwd_build_request(const sip_req_t *r, const char *ruri, const fwd_self_t *self,
                      char *out, size_t cap);

/* A response <r> (sip_parse said SIP_REQ_RESPONSE) to relay: its top Via
 * must be ours (-ENOENT otherwise: drop it); writes the response without
 * that Via to <out> and, in <to>, where it goes: the next Via's received
 * address or numeric host, and its rport or port (5060 by default).
 * -EINVAL when there is no next Via or its host is not numeric. */
int fwd_build_response(const sip_req_t *r, const fwd_self_t *self, char *out, size_t cap,
                       struct sockaddr_storage *to, socklen_t *tolen);

#endif

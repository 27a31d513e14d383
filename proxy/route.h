/* route.h -- what happens to one datagram: parse, check, plan, ask Redis,
 * answer. Runs on the worker thread that received the datagram.
 *
 * Redirect mode (RFC 3261 8.3), as DESIGN.md's table: INVITE -> 302 with
 * Contacts in preference order (picked staff, then the plan's fallback) or
 * the plan's final answer; ACK absorbed; CANCEL -> 200; OPTIONS -> 200 with
 * Allow; other known methods -> 405; unknown -> 501; malformed -> 400 (or
 * dropped when it cannot be routed); Max-Forwards 0 -> 483; too large ->
 * 513. A pick that Redis does not answer within the deadline, or Redis
 * down, gets the fallback at once: no INVITE is left unanswered.
 *
 * Forward mode (routes with mode: forward, RFC 3261 16.11; docs/forward.md):
 * the INVITE goes on to the first destination that is not down, with our
 * Via, Max-Forwards - 1 and the destination as Request-URI; a loop is
 * answered 482; responses whose top Via is ours go back along the Via
 * path, others are dropped; the CANCEL and the non-2xx ACK go where the
 * INVITE went (the decision recorded in Redis); in-dialog requests follow
 * our Route or their Request-URI; every destination down: 503.
 */
#ifndef FRONTDESK_ROUTE_H
#define FRONTDESK_ROUTE_H

#include <stddef.h>
#include <sys/socket.h>
#include <time.h>

#include "worker.h"

#define ROUTE_ALLOW "INVITE, ACK, CANCEL, OPTIONS"

void route_datagram(worker_t *w, int fd, const char *buf, size_t len,
                    const struct sockaddr *src, socklen_t srclen, time_t now);

#endif

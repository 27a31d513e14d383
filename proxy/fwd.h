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
#include <stdint.h>
#include <sys/socket.h>

#include "sip.h"
#include "xport.h"

#define FWD_BRANCH_PREFIX "z9hG4bK-fd-"
#define FWD_BRANCH_MAX 40

/* Who we are in our Via: "SIP/2.0/UDP <host>:<port>". */
typedef struct {
    const char *host; /* numeric address as it should appear in the Via */
    unsigned port;
    const unsigned char *key; /* FWD_KEY_BYTES keying our branches, the same
                                 on every instance that may see another's
                                 responses; NULL: a built-in one */
} fwd_self_t;

#define FWD_KEY_BYTES 16

/* The branch of our Via for request <r>: FWD_BRANCH_PREFIX + 16 hex of a
 * keyed hash over the request's top Via branch, Call-ID, CSeq number and
 * our own address, + 8 hex of its Request-URI (RFC 3261 16.11: the same
 * request, the same branch; the CANCEL and the non-2xx ACK of an INVITE
 * carry its branch, CSeq number and Request-URI, so they get ours too). A
 * response is relayed only if the first part checks out against its own
 * Call-ID, CSeq and next Via. */
void fwd_branch(const sip_req_t *r, const fwd_self_t *self, char out[FWD_BRANCH_MAX]);

/* Does every Via value of <r> read the same way to us as to libosip2 (a
 * host, a port, parameters)? A request whose Vias we would split or read
 * otherwise than the next hop does is not forwarded (400): the loop check
 * and the way back of its answers depend on them. So a value with a comma
 * inside (quoted or bracketed: rare, and where our split and libosip2's
 * part) or a host that is neither a name, an IPv4 nor an IPv6 address is
 * refused. */
bool fwd_vias_ok(const sip_req_t *r);

/* Loop detection (RFC 3261 16.3 item 4): does <r> carry a Via of ours
 * whose branch is the one we compute from the Via right below it, i.e. has
 * this very request passed through us already? Then answer 482. */
bool fwd_is_loop(const sip_req_t *r, const fwd_self_t *self);

/* What else the forwarded request needs. */
typedef struct {
    bool record_route; /* add "Record-Route: <sip:self;lr;fdrr=TOKEN>"
                          first (RFC 3261 16.6 item 4): in-dialog requests
                          then come through us (fwd_route_signed) */
    bool pop_route;    /* drop the first Route value: it is ours (16.4) */
    const char *branch; /* fwd_branch() of the request when the caller has
                           it already, or NULL: computed */
    uint64_t conn;      /* the request came over TCP or TLS on this
                           connection (xport.h): our Via carries it
                           (";fdc=" in hex), so its responses go back on
                           it; 0: UDP */
    const char *site;   /* an INVITE the rules routed: the called site, in
                           our Via (";fds="), so that its final response is
                           recorded in that site's call history; or NULL */
} fwd_flags_t;
/* what a site id may hold (rules: [A-Za-z0-9_-]) */
#define FWD_SITE_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"

/* The request to send on: request line with <ruri> (NULL: unchanged), our
 * Via first, Max-Forwards decremented (70 when absent; -EINVAL when it is
 * 0: answer 483 instead), every other header and the body as received.
 * <f> may be NULL (no flags). */
int fwd_build_request(const sip_req_t *r, const char *ruri, const fwd_self_t *self,
                      const fwd_flags_t *f, char *out, size_t cap);

/* The same without the request line: from our Via to the end of the body,
 * which does not depend on the target. A call that waits for Redis keeps
 * this and writes the request line once it knows where the call goes. */
int fwd_build_tail(const sip_req_t *r, const fwd_self_t *self, const fwd_flags_t *f,
                   char *out, size_t cap);

/* Where a SIP URI sends a request (RFC 3263 without NAPTR): its host, and
 * its port or 5060, over UDP or, with ";transport=tcp", TCP. <numeric>: the
 * host is an IPv4 or IPv6 address (the address is then in <addr>); else a
 * name to resolve. */
typedef struct {
    char host[256];
    unsigned port;
    bool port_given;  /* the URI has a port (else 5060, or DNS SRV's) */
    bool numeric;
    xport_kind_t transport; /* XPORT_UDP or XPORT_TCP */
    struct sockaddr_storage addr;
    socklen_t addr_len;
} fwd_target_t;

/* Parse <uri> (<len> bytes; "sip:user@host:port;params" or with <...>).
 * 0; -EINVAL: not a sip: URI (sips: needs TLS, which we do not speak to
 * destinations) or no host; -EPROTONOSUPPORT: a transport other than udp
 * and tcp (tls, sctp, ws). */
int fwd_uri_target(const char *uri, size_t len, fwd_target_t *t);

/* Is the host:port of <uri> us (default port 5060)? */
bool fwd_uri_is_self(const char *uri, size_t len, const fwd_self_t *self);

/* Does <r>'s first Route carry the token our Record-Route gave its dialog
 * (";fdrr=", a keyed hash of the Call-ID)? A Route of ours without it was
 * not written by us: relaying on it would make us an open relay. */
bool fwd_route_signed(const sip_req_t *r, const fwd_self_t *self);

/* Is <r>'s Request-URI us (host and port, 5060 by default)? */
bool fwd_ruri_is_self(const sip_req_t *r, const fwd_self_t *self);

/* Does <r>'s first Route name us? Then <next> is the URI it must go to
 * after we drop that Route: the next Route's URI, or the Request-URI
 * (loose routing, RFC 3261 16.4 and 16.12). Returns false (and leaves
 * <next>) when the first Route is not ours or there is none. */
bool fwd_route_is_self(const sip_req_t *r, const fwd_self_t *self, span_t *next);

/* The Request-URI of <r> as written. */
span_t fwd_request_uri(const sip_req_t *r);

/* A response <r> (sip_parse said SIP_REQ_RESPONSE) to relay: its top Via
 * must be ours, with the branch we would give the request it answers
 * (-ENOENT otherwise: drop it); writes the response without
 * that Via to <out> and, in <to>, where it goes (the transport seam,
 * xport.h; the socket is the caller's to choose): the next Via's received
 * address or numeric host, and its rport or port (5060 by default); when
 * our Via carries a connection (fwd_flags_t.conn), kind XPORT_TCP and
 * that connection.
 * -EINVAL when there is no next Via or its host is not numeric. */
int fwd_build_response(const sip_req_t *r, const fwd_self_t *self, char *out, size_t cap, xport_to_t *to);

#endif

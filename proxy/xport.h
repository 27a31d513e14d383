/* xport.h -- the transport seam: where a request came from, and so where
 * its answer goes, as one value.
 *
 * Routing (route.c, route_fwd.c) never touches a socket: it reads requests
 * handed to it with an xport_to_t and hands back what to send with one
 * (route_env_t's send hook), and the transport behind the seam (worker.c,
 * today UDP only) turns that into a sendmmsg() on the right socket. A TCP
 * or TLS transport adds its kind and a connection here; the routing code
 * does not change.
 *
 *   kind      XPORT_UDP
 *   sock      UDP: the index of the listen socket the request came in on
 *             (opts->listen, the worker's fds and selves): answers and
 *             forwarded requests leave by the same socket
 *   addr      the peer: where the datagram came from, or where to send
 */
#ifndef FRONTDESK_XPORT_H
#define FRONTDESK_XPORT_H

#include <sys/socket.h>

typedef enum { XPORT_UDP = 0 } xport_kind_t;

typedef struct xport_to {
    xport_kind_t kind;
    unsigned sock;
    socklen_t addr_len;
    struct sockaddr_storage addr;
} xport_to_t;

#endif

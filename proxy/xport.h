/* xport.h -- the transport seam: where a request came from, and so where
 * its answer goes, as one value.
 *
 * Routing (route.c, route_fwd.c) never touches a socket: it reads requests
 * handed to it with an xport_to_t and hands back what to send with one
 * (route_env_t's send hook), and the transport behind the seam turns that
 * into a sendmmsg() on the right UDP socket (worker.c) or a write on the
 * right connection (stream.c, TCP and TLS).
 *
 *   kind      XPORT_UDP, XPORT_TCP or XPORT_TLS (the values of opts_proto_t)
 *   sock      the index of the listen socket the request came in on
 *             (opts->listen, the worker's fds and selves). UDP: answers
 *             and forwarded requests leave by the same socket; a request
 *             that came over TCP or TLS is forwarded over UDP by the UDP
 *             socket of its family (route_env_t's selves say who we are
 *             there)
 *   conn      TCP and TLS: the connection (stream.h: its owner worker,
 *             slot and generation; an answer for a connection closed
 *             meanwhile is dropped, counted); 0 for UDP
 *   addr      the peer: where the datagram came from, or where to send
 *             (for a connection, its peer, which answers do not need)
 */
#ifndef FRONTDESK_XPORT_H
#define FRONTDESK_XPORT_H

#include <stdint.h>
#include <sys/socket.h>

typedef enum { XPORT_UDP = 0, XPORT_TCP = 1, XPORT_TLS = 2 } xport_kind_t;

/* "UDP", "TCP" or "TLS": the Via's transport */
static inline const char *xport_name(xport_kind_t k)
{
    return k == XPORT_TCP ? "TCP" : k == XPORT_TLS ? "TLS" : "UDP";
}

typedef struct xport_to {
    xport_kind_t kind;
    unsigned sock;
    uint64_t conn;
    socklen_t addr_len;
    struct sockaddr_storage addr;
} xport_to_t;

#endif

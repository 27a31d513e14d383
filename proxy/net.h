/* net.h -- listening sockets (main thread, before workers start). */
#ifndef FRONTDESK_NET_H
#define FRONTDESK_NET_H

#include "opts.h"

/* Open a non-blocking UDP socket bound to <a>. Returns the fd or a negative
 * errno. */
int net_open_udp(const opts_addr_t *a);

/* Open a non-blocking TCP socket bound to <a> and listening. Returns the
 * fd or a negative errno. */
int net_open_tcp(const opts_addr_t *a);

#endif

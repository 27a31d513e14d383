/* health.h -- which forward destinations answer: OPTIONS pings from the
 * main thread, the verdict shared with the workers without a lock.
 *
 * The table holds up to HEALTH_MAX destinations (UDP addresses). The main
 * thread puts the rules' forward destinations in it at load and reload
 * (health_watch) and pings each one every <interval_ms> with an OPTIONS
 * from its own socket: a destination that missed <down_after> pings in a
 * row is down; one that is down and answered <up_after> in a row is up
 * again. Any SIP response counts as an answer (a 404 or 405 still shows a
 * live server). A worker that learns a destination is unreachable (an ICMP
 * error for a datagram it sent there) marks it down at once
 * (health_mark_down): the entry is added if needed and pinged from then
 * on, so it comes back up by itself.
 *
 * Threads: health_is_down() and health_mark_down() may be called from any
 * thread; everything else from the main thread, which owns the pings.
 * Entries are only ever appended (a slot is filled before the count that
 * shows it is published), so readers scan without a lock; writers of new
 * entries take a mutex, which only the rare add needs.
 */
#ifndef FRONTDESK_HEALTH_H
#define FRONTDESK_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define HEALTH_MAX 256

struct event_base;
struct evbuffer;
typedef struct health health_t;

typedef struct {
    unsigned interval_ms; /* between pings of one destination */
    unsigned down_after;  /* missed pings in a row: down */
    unsigned up_after;    /* answers in a row while down: up */
    const char *via_host; /* our address in the Via of pings over IPv4
                             (numeric) */
    const char *via_host6; /* the same over IPv6; NULL: via_host */
    const char *dns_servers; /* for destinations given by name (dns.h) */
} health_opts_t;

/* Start pinging on <base> (the main thread's). 0, or a negative errno. */
int health_open(health_t **out, struct event_base *base, const health_opts_t *o);
void health_close(health_t *h); /* accepts NULL */

/* The destinations to ping from now on: <uris> (SIP URIs of the rules; a
 * host name is resolved at each ping round, its current address pinged)
 * plus those marked down by workers. Entries not listed any more are no
 * longer pinged and count as up. Main thread. */
void health_watch(health_t *h, const char *const *uris, size_t n);

/* Is <addr> known to be down? False for an address not in the table, and
 * for <h> NULL. Lock-free. */
bool health_is_down(const health_t *h, const struct sockaddr *addr, socklen_t len);

/* <addr> is unreachable (ICMP error): down now, pinged from now on. Any
 * thread; <h> NULL is a no-op. */
void health_mark_down(health_t *h, const struct sockaddr *addr, socklen_t len);

/* Prometheus lines: frontdesk_destination_up{destination="ip:port"} and
 * the ping counters. Main thread. */
void health_metrics(const health_t *h, struct evbuffer *b);

#endif

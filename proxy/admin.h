/* admin.h -- the admin HTTP endpoint (libevent evhttp), on the main thread.
 *
 *   GET /metrics   Prometheus text: every counter of metrics.h summed over
 *                  the workers, workers with Redis ready, sites in the rules,
 *                  forward destinations up or down (health.h)
 *   GET /healthz   200 "ok" while the process serves
 *   GET /readyz    200 when the rules are loaded and every worker's Redis
 *                  connection is ready, else 503 with the reason (calls are
 *                  still answered, with fallbacks)
 *
 * Loopback by default (--admin ADDR:PORT, "off" to disable). It reads the
 * workers' atomics only; it never touches a worker's loop.
 */
#ifndef FRONTDESK_ADMIN_H
#define FRONTDESK_ADMIN_H

#include <sys/socket.h>

#include "health.h"
#include "reload.h"
#include "worker.h"

struct event_base;
typedef struct admin admin_t;

/* Serve on <addr> (numeric "ADDR:PORT"). 0, or a negative errno. */
int admin_open(admin_t **out, struct event_base *base, const char *addr,
               const worker_t *workers, unsigned n_workers, reload_t *reload);
void admin_close(admin_t *a); /* accepts NULL */

/* The address it listens on (the port the system gave for port 0):
 * 0, or a negative errno. */
int admin_bound(const admin_t *a, struct sockaddr_storage *addr, socklen_t *len);

/* Export the forward destinations' health in /metrics too. */
void admin_watch_health(admin_t *a, const health_t *h);

#endif

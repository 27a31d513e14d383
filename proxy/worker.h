/* worker.h -- one worker thread: its event_base, its Redis connection, its
 * counters, batched UDP receive and send.
 *
 * The workers share every listening socket, so even one PBX trunk (one
 * source address and port, which SO_REUSEPORT would pin to one socket) is
 * spread over all of them. They take turns as a chain: worker 0 always
 * waits on the sockets; a worker that reads a full batch (more is likely
 * queued) wakes the next one, which waits on the sockets too until one of
 * its reads comes back short. Under light load one worker takes the
 * datagrams and the others sleep (waking every worker for every datagram
 * cost about three times the CPU per call, docs/decisions.md); under heavy
 * load all read.
 * Answers are queued in the worker's outbox and leave in one sendmmsg()
 * per batch. Besides the sockets, workers share only the wake chain
 * (next, wake_ev, and the atomics wakeable and reading) and the stream
 * mailboxes (stream.h: TCP and TLS connections, each owned by one worker,
 * their messages spread over all); the rules snapshot is immutable and
 * read-only.
 */
#ifndef FRONTDESK_WORKER_H
#define FRONTDESK_WORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "fwd.h"
#include "fwdmemo.h"
#include "health.h"
#include "metrics.h"
#include "opts.h"
#include "reload.h"
#include "route.h"
#include "rules.h"
#include "store.h"

#define WORKER_BATCH 32      /* datagrams per recvmmsg/sendmmsg */
#define WORKER_RX_MAX 65536  /* largest datagram we read whole */
#define WORKER_TX_MAX ROUTE_TX_MAX /* largest datagram we send */

struct event_base;
struct event;
struct mmsghdr;
struct stream;

typedef struct worker {
    unsigned id;
    pthread_t thread;
    struct event_base *base;
    struct event *rx_ev[OPTS_MAX_LISTEN];
    struct event *flush_ev;
    struct event *stop_ev;
    struct event *state_ev;         /* publishes redis_ready for the admin */
    struct event *wake_ev;          /* the worker before us asks us to read too */
    struct event *log_ev;           /* flushes log lines held too long */
    struct timeval log_last;        /* when log lines last left */
    struct worker *next;            /* the one we wake; NULL for the last */
    _Atomic int wakeable;           /* wake_ev exists (set before the thread runs) */
    _Atomic int reading;            /* our socket events are armed */
    _Atomic int redis_ready;        /* 1 when its Redis connection is ready */
    const int *fds;                 /* by listen index: UDP sockets, and
                                       the TCP/TLS listeners (stream.c's) */
    const unsigned *udp_of;         /* by listen index: the UDP socket a
                                       request that came there is forwarded
                                       by (its own for UDP; one of its
                                       family for TCP/TLS; UINT_MAX: none) */
    const fwd_self_t *selves;       /* forward mode: who we are on fds[i] */
    unsigned n_fds;
    struct stream *stream;          /* TCP and TLS, shared; NULL: none */
    metrics_sites_t *sites;         /* the site registry, shared (main's) */
    metrics_sitestats_t *site_stats; /* this worker's per-site counters */
    time_t batch_now;               /* the rules' clock for the batch */
    health_t *health;               /* forward destinations' health, shared */
    fwdmemo_t *memo;                /* where INVITEs were forwarded, shared */
    _Atomic uint64_t *site_windows; /* the per-site pick cap's, shared */
    _Atomic uint64_t *source_buckets; /* the per-source rate's, shared */
    struct dns *dns;                /* forward destinations' names, cached */
    store_t *store;
    reload_t *reload;               /* the rules snapshot in force (RCU) */
    bool record_route;              /* forward mode: add our Record-Route */
    const opts_t *opts;
    const struct timeval *deadline; /* libevent common timeout for picks */
    metrics_t m;
    route_env_t env;                /* the routing core's hooks: this worker;
                                       env.rules etc. set during a batch */
    sa_family_t families[OPTS_MAX_LISTEN]; /* of each listen socket */

    /* outbox: answers of the current batch */
    unsigned out_n;
    int out_fd;
    bool flush_pending;
    struct mmsghdr *out_msgs;
    struct iovec *out_iov;
    struct sockaddr_storage *out_addr;
    char (*out_buf)[WORKER_TX_MAX];

    /* receive buffers */
    struct mmsghdr *in_msgs;
    struct iovec *in_iov;
    struct sockaddr_storage *in_addr;
    char (*in_buf)[WORKER_RX_MAX];
} worker_t;

/* Set up <w> (its id, fds, rules, opts already filled) and start its
 * thread. 0 or a negative errno. */
int worker_start(worker_t *w);

/* Ask the worker to stop (thread-safe) and wait for it. */
void worker_stop(worker_t *w);

/* Route messages in <w>'s thread, outside its UDP reads (stream.c): begin
 * takes the rules snapshot for the batch, route serves one message (a
 * request or a response) that came <from>, end lets the snapshot go and
 * sends what the batch queued. */
void worker_batch_begin(worker_t *w);
void worker_batch_route(worker_t *w, const xport_to_t *from, const char *buf, size_t len);
void worker_batch_end(worker_t *w);

/* From <w>'s thread, outside a batch (a timer, a connection's event): what
 * it queued (answers, log lines) leaves soon, as after a batch. */
void worker_kick(worker_t *w);


#endif

/* stream.h -- SIP over TCP and TLS (RFC 3261 18.3, RFC 5630 aside): the
 * listeners, the connections, framing by Content-Length, and the mailboxes
 * that spread one connection's messages over every worker.
 *
 * A connection belongs to one worker, its owner: only the owner's thread
 * reads it, writes it, times it out and closes it, so nothing of a
 * connection is locked. Worker 0 accepts (one listener per tcp: and tls:
 * --listen) and hands the new connections to the workers in turn. The owner
 * reads, cuts messages at their Content-Length (sip_stream_frame), routes
 * the first message of each read itself and hands the others out to the
 * workers in turn: at light load a message is routed where it was read,
 * under load one trunk on one connection keeps every worker busy, as with
 * UDP. Each worker has a mailbox (a list under a mutex, and an event made
 * active by whoever posts): connections to adopt, messages to route,
 * answers to write. An answer routed by another worker goes to the owner's
 * mailbox. A connection id (xport_to_t.conn) is generation << 32 | owner
 * << 24 | slot: an answer to a connection closed meanwhile finds another
 * generation and is dropped (stream_lost_answers); so is one whose address
 * is not the connection's peer.
 *
 * Limits (opts.h, each counted in metrics.h): connections open at once
 * (past it, closed at accept); idle time (and a peer that reads none of our
 * answers for that long); a message's whole arrival from its first byte,
 * and a TLS handshake's (slowloris); the largest message (513, then
 * closed); 1 MB of answers queued for a peer that does not read (closed).
 * A framing error (no Content-Length, a bad one) is answered 400 when the
 * headers route an answer, then the connection is closed: the stream cannot
 * be cut again. CRLF CRLF keep-alives get their CRLF (RFC 5626 3.5.1).
 * With strangers dropped (rules) and no route forwarding, a stranger's
 * connection is closed at accept. After the peer's EOF the connection stays
 * writable a moment (--redis-timeout) for answers still being decided.
 *
 * Forward mode's outbound TCP: a request route_fwd.c sends with kind TCP
 * and no connection goes on this worker's connection to that address
 * (opened when there is none, up to 64 destinations a worker; what is
 * written before it is up waits); its responses are read and routed as
 * any message. A connection that cannot be made marks the destination down
 * in the health table (stream_connect_failed).
 *
 * TLS: TLS 1.2 or later, the certificate chain and key of --tls-cert and
 * --tls-key (reread by stream_reload_tls() on SIGHUP: new connections get
 * the new ones), and with --tls-ca a client certificate signed by that CA
 * required. OpenSSL through libevent's bufferevent_openssl.
 */
#ifndef FRONTDESK_STREAM_H
#define FRONTDESK_STREAM_H

#include <stddef.h>

#include "opts.h"
#include "xport.h"

struct worker;
typedef struct stream stream_t;

/* The connection tables and mailboxes of <n> workers (<workers>, set up
 * later), and the TLS context when a listener needs one. 0, or -1 with a
 * one-line reason in <err> (a certificate that does not load...). */
int stream_new(stream_t **out, const opts_t *o, struct worker *workers, unsigned n, char *err, size_t errlen);

/* Worker <w> (w->stream set, its base made, its thread not running yet):
 * its mailbox. 0 or -ENOMEM. */
int stream_worker_init(struct worker *w);

/* Accept on the tcp: and tls: sockets of <fds> (by listen index), in worker
 * 0's loop. 0 or -ENOMEM. */
int stream_listen(stream_t *s, const int *fds);

/* Stop accepting: from worker 0's stream_worker_end (its loop over), or
 * stream_free. */
void stream_unlisten(stream_t *s);

/* Worker <w>'s loop has ended (or never ran): close its connections, drop
 * what its mailbox holds, take no more. */
void stream_worker_end(struct worker *w);

/* From worker <w>'s thread: <buf> on the connection <to> names. */
void stream_send(struct worker *w, const xport_to_t *to, const char *buf, size_t len);

/* Reread the TLS certificate and key (SIGHUP). 0, or -1 with the reason in
 * <err>: the ones in use stay. 0 without TLS. */
int stream_reload_tls(stream_t *s, char *err, size_t errlen);

/* After every worker ended. NULL is fine. */
void stream_free(stream_t *s);

#endif

/* rconn.h -- the bench's connections to a Redis on this host.
 *
 * What it does: parses a --redis HOST:PORT flag, refusing anything but a
 * numeric loopback address (the bench writes synthetic staff: it must never
 * touch a real clinic's Redis); connects with a timeout and AUTHs as
 * redis-cli would (--user/--password, else REDISCLI_AUTH); makes sure the
 * frontdesk Functions library is loaded (the copy built into fd-bench,
 * proxy/redis/frontdesk.lua), so a seed may come before any proxy.
 *
 * What it never does: no DNS, no address but 127.0.0.0/8 and ::1.
 *
 * Ownership: the caller frees a returned context with redisFree().
 */
#ifndef FRONTDESK_BENCH_RCONN_H
#define FRONTDESK_BENCH_RCONN_H

#include <stddef.h>

#include <hiredis.h>

typedef struct {
    char host[64];        /* numeric: "127.0.0.1", "::1" */
    unsigned port;
    const char *user;     /* NULL: the default user */
    const char *password; /* NULL: REDISCLI_AUTH, else no AUTH */
} rconn_addr_t;

/* Parse "HOST:PORT", "[::1]:PORT" or "localhost:PORT" into <a> (user and
 * password untouched). 0, or -EINVAL with the reason in <err>. */
int rconn_parse(rconn_addr_t *a, const char *s, char *err, size_t errlen);

/* The password to send: <a>->password, else REDISCLI_AUTH, else NULL. */
const char *rconn_password(const rconn_addr_t *a);

/* Connect (2 s timeout), AUTH when a password is known. NULL with the
 * reason in <err>. */
redisContext *rconn_connect(const rconn_addr_t *a, char *err, size_t errlen);

/* Load the built-in library unless Redis holds this version or a newer
 * one (store_lib_ensure_sync, as the proxy decides). 0, or -1 with the
 * reason in <err>. */
int rconn_functions(redisContext *c, char *err, size_t errlen);

#endif

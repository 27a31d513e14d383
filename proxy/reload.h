/* reload.h -- the rules snapshot in force, swapped without stopping calls.
 *
 * The main thread builds a new snapshot off the hot path (SIGHUP, and once a
 * day so that opening hours stay expanded ahead) and publishes it with
 * rcu_assign_pointer; the old one is released after an RCU grace period
 * (liburcu, memb flavour), when no worker can still be reading it. Workers
 * read the pointer inside a read-side section around each batch of
 * datagrams (reload_read_lock/unlock), and never keep pointers into a
 * snapshot beyond it: a call that waits for Redis copies what it needs.
 * A snapshot that fails to load leaves the one in force untouched.
 */
#ifndef FRONTDESK_RELOAD_H
#define FRONTDESK_RELOAD_H

#include <stddef.h>
#include <time.h>

#include "rules.h"

typedef struct {
    rules_t *current;             /* RCU-protected */
    const char *path;
    const unsigned char *caller_key;
    size_t caller_key_len;
} reload_t;

/* Main thread: load <r->path> as of <now> and, if it is valid, make it the
 * snapshot in force. 0, or the rules_load error with <rep> filled. */
int reload_rules(reload_t *r, time_t now, rules_report_t *rep);

/* Main thread, at exit (workers stopped): release the snapshot. */
void reload_free(reload_t *r);

/* Worker threads. */
void reload_thread_register(void);
void reload_thread_unregister(void);
void reload_read_lock(void);
void reload_read_unlock(void);

/* The snapshot in force; only between reload_read_lock/unlock. */
const rules_t *reload_current(reload_t *r);

#endif

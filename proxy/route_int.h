/* route_int.h -- inside the routing core: a call that outlives its
 * datagram, shared by route.c (dispatch, the redirect call, the call's
 * lifecycle) and route_fwd.c (forward mode). Not for other modules.
 *
 * A request that needs a callback (the pick or the recorded decision from
 * Redis, a destination's name) lives in a call_t. The answer's head (Via
 * ... CSeq) is built before it waits, so the datagram and the libosip2
 * objects are freed at once; forward mode also keeps the request's tail.
 *
 * The call's lifecycle (state):
 *
 *                ask Redis               deadline: the fallback
 *      ACTIVE -------------> WAIT_STORE -----------------------> LATE
 *      | ^  ^                    |                             ^ |  |
 *      | |  +------ reply -------+                             | |  |
 *      | |  +------------------------- late reply: release ----|-|--+
 *      | |                                                     | |
 *      | | name known                                name known| | forward
 *      | |                                                     | | waits for
 *      v |  forward waits for a name                           | v a name
 *     WAIT_DNS <------------------- late reply ---------------- LATE_DNS
 *
 *   ACTIVE      being served; nobody owes it a callback. A call is freed
 *               when it is ACTIVE at the end of whatever served it
 *               (call_done).
 *   WAIT_STORE  Redis owes the pick (or decision); the deadline is armed.
 *   LATE        answered with the fallback at the deadline; Redis still
 *               owes the reply, which only frees whom it reserved.
 *   WAIT_DNS    forward mode: a destination's name is being resolved.
 *   LATE_DNS    LATE and WAIT_DNS at once (the fallback's name).
 */
#ifndef FRONTDESK_ROUTE_INT_H
#define FRONTDESK_ROUTE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "log.h"
#include "route.h"
#include "sip.h"

typedef enum {
    CALL_ACTIVE,
    CALL_WAIT_STORE,
    CALL_LATE,
    CALL_WAIT_DNS,
    CALL_LATE_DNS,
} call_state_t;

typedef struct call {
    route_env_t *env;
    call_state_t state;
    xport_to_t to;         /* where the answer goes */
    struct timespec t0;
    struct timespec asked; /* when Redis was asked (the pick's latency) */
    plan_t plan;           /* strings owned by the rules snapshot, or
                              keep_plan_strings()'s copies */
    char caller[RULES_CALLER_HASH_LEN + 1]; /* keyed hash of the caller number */
    char callid[LOG_CALL_HASH_LEN + 1]; /* for the log line: its keyed hash */
    char rawcid[256];      /* the call's id as sent to Redis: the Call-ID's
                              keyed hash (log_call_hash) */
    size_t rawcid_len;
    char branch[FWD_BRANCH_MAX]; /* forward mode, an INVITE: the branch we
                                    give it, the memo's key */
    /* the plan's strings, copied: a reload may free the snapshot while the
     * call waits for Redis */
    char site[33], skill[33], fallback[RULES_URI_MAX + 1];
    /* the call history: the dialled number and the menu option (cut), and
     * whether fd_pick wrote the call's record (nothing left to queue) */
    char number[33], option[8];
    bool recorded;
    unsigned offered;      /* staff the pick offered the call */
    /* forward mode: the request goes on instead of a 302 */
    bool forward;
    bool followup;         /* a CANCEL or ACK that goes where its INVITE
                              went: looks the decision up, picks no one */
    bool direct;           /* in a dialog: the whole request (its tail) goes
                              as it is to <dest>, a name being resolved */
    char dest[RULES_URI_MAX + 1];
    char method[16];       /* of the request line we write */
    store_decision_t dec;  /* the staff to try, copied from the reply */
    unsigned next;         /* the next destination to try: staff, then
                              the fallback */
    char outcome[40];      /* for the log line */
    void *timer;           /* env->timer_size bytes in mem[] */
    char *head;            /* in mem[]: Via ... CSeq of the answer; then,
                              forward mode, the tail */
    size_t head_len;
    size_t tail_len;       /* our Via ... body, after the head */
    _Alignas(16) unsigned char mem[];
} call_t;

/* RFC 3261 18.1.1: a request larger than this goes over TCP (the path's MTU
 * not known: 1300 bytes) */
#define ROUTE_UDP_MAX 1300

/* route.c */
uint64_t route_ms_of(const struct timespec *t);
uint64_t route_wall_ms(void); /* the wall clock in ms (history records) */
double route_ms_since(const struct timespec *t0);
void route_answer(route_env_t *env, const xport_to_t *from, const sip_req_t *r, int status,
                  const char *reason, const char *extra);
/* <buf> to the sender of <r>: over UDP to its Via's address (reply_to),
 * over TCP and TLS on the connection it came on. */
void route_reply(route_env_t *env, const xport_to_t *from, const sip_req_t *r, const char *buf, size_t n);
void route_send_to(route_env_t *env, unsigned sock, const struct sockaddr_storage *addr, socklen_t len,
                   const char *buf, size_t n);
call_t *route_call_alloc(route_env_t *env, const xport_to_t *from, const sip_req_t *r, size_t extra);
call_t *route_call_resize(call_t *c, size_t extra);
call_t *route_call_new(route_env_t *env, const xport_to_t *from, const sip_req_t *r, time_t now,
                       bool followup);
void route_call_done(call_t *c);
/* Count <c>'s answer for its site (<outcome> as logged) and its decision
 * latency. */
void route_count(call_t *c, const char *outcome);
void route_ask_store(call_t *c, const sip_req_t *r);
void route_answer_call(call_t *c, const store_decision_t *d, const char *outcome);

/* route_fwd.c */
const fwd_self_t *route_self(const route_env_t *env, unsigned sock);
bool route_can_forward(const fwd_self_t *self);
/* The forward mode part of route_call_new: the request's tail and branch
 * after the head. NULL (<c> freed) when out of room or memory. */
call_t *route_fwd_prepare(call_t *c, const sip_req_t *r);
/* Send <c> on to its first destination that is not down (or wait for a
 * name: WAIT_DNS); <d> the pick's staff, or NULL. */
void route_fwd_call(call_t *c, const store_decision_t *d, const char *outcome);
/* An INVITE to forward that cannot go (a Via we do not read, a loop):
 * answered here, true. */
bool route_fwd_refuse(route_env_t *env, const xport_to_t *from, const sip_req_t *r);
/* Forward mode: requests the rules do not route (responses, CANCEL,
 * in-dialog requests). True when served. */
bool route_fwd_serve(route_env_t *env, const xport_to_t *from, const sip_req_t *r, time_t now);
void route_fwd_relay_response(route_env_t *env, const xport_to_t *from, const sip_req_t *r);

#endif

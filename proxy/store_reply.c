/* store_reply.c -- decode fd_pick replies (pure; tests feed RESP bytes).
 *
 * fd_pick answers an array: { "picked"|"recorded"|"none", id1, uri1, ... }.
 * Anything else (an error reply, odd lengths, a non-SIP contact, too long
 * values) is -EPROTO, and the caller answers with the plan's fallback.
 */
#include "store.h"

#include <errno.h>
#include <string.h>

#include <hiredis.h>

static bool str_is(const redisReply *e, const char *s)
{
    return e->type == REDIS_REPLY_STRING && e->len == strlen(s) && memcmp(e->str, s, e->len) == 0;
}

int store_decode_pick(const redisReply *r, store_decision_t *d)
{
    memset(d, 0, sizeof(*d));
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1 || r->elements % 2 != 1)
        return -EPROTO;
    if (str_is(r->element[0], "picked")) d->kind = STORE_PICKED;
    else if (str_is(r->element[0], "recorded")) d->kind = STORE_RECORDED;
    else if (str_is(r->element[0], "none")) d->kind = STORE_NONE;
    else return -EPROTO;

    size_t pairs = (r->elements - 1) / 2;
    if (pairs > RULES_MAX_CONTACTS) pairs = RULES_MAX_CONTACTS;
    for (size_t i = 0; i < pairs; i++) {
        const redisReply *id = r->element[1 + 2 * i], *uri = r->element[2 + 2 * i];
        if (id->type != REDIS_REPLY_STRING || uri->type != REDIS_REPLY_STRING) return -EPROTO;
        if (id->len == 0 || id->len >= sizeof(d->id[0]) || uri->len >= sizeof(d->uri[0])) return -EPROTO;
        if (uri->len < 5 || (strncmp(uri->str, "sip:", 4) != 0 && strncmp(uri->str, "sips:", 5) != 0))
            return -EPROTO;
        /* a contact goes into a header line verbatim: no CR, LF, '<' or '>' */
        if (strcspn(uri->str, "\r\n<> \t") != uri->len) return -EPROTO;
        memcpy(d->id[i], id->str, id->len);
        memcpy(d->uri[i], uri->str, uri->len);
    }
    d->n = (unsigned)pairs;
    if (d->kind == STORE_NONE && d->n) return -EPROTO;
    if (d->kind != STORE_NONE && d->n == 0) d->kind = STORE_NONE;
    return 0;
}

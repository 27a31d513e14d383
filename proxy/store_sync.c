/* store_sync.c -- the Functions library for the tools (frontdeskctl,
 * fd-bench), over a blocking hiredis connection: loaded by the same rules
 * as the proxy's (store_lib_action), so a tool run before any proxy, or
 * after an upgrade, finds the functions, and never downgrades them.
 */
#include "store.h"

#include <stdio.h>
#include <string.h>

#include <hiredis.h>

/* One look at fd_version and what it asks for. 0 done, 1 look again
 * ("already exists": a library appeared meanwhile), -1 with <err>. */
static int ensure_once(redisContext *c, char *err, size_t errlen)
{
    unsigned v;
    int rc = 0;
    redisReply *r = redisCommand(c, "FCALL fd_version 0"), *last = NULL;
    store_lib_action_t act = store_lib_action(r, &v);
    const char *argv[] = { "FUNCTION", "LOAD", store_lua_source };
    size_t lens[] = { 8, 4, strlen(store_lua_source) };

    if (!r && c->err) {
        snprintf(err, errlen, "%s", c->errstr);
        rc = -1;
        goto out;
    }
    if (act == STORE_LIB_REFUSED) {
        snprintf(err, errlen, "Redis refused: %s (give --password, --user or REDISCLI_AUTH)", r->str);
        rc = -1;
        goto out;
    }
    if (act == STORE_LIB_CURRENT || act == STORE_LIB_NEWER) goto out;
    freeReplyObject(r);
    r = NULL;
    /* never REPLACE: see store_lib_action() */
    if (act == STORE_LIB_UPGRADE) {
        redisAppendCommand(c, "MULTI");
        redisAppendCommand(c, "FUNCTION DELETE %s", STORE_LIB_V2_NAME);
        redisAppendCommandArgv(c, 3, argv, lens);
        redisAppendCommand(c, "EXEC");
        for (int i = 0; i < 4; i++) {
            freeReplyObject(r);
            r = NULL;
            if (redisGetReply(c, (void **)&r) != REDIS_OK) break;
        }
        last = r && r->type == REDIS_REPLY_ARRAY && r->elements ? r->element[r->elements - 1] : r;
    } else {
        last = r = redisCommandArgv(c, 3, argv, lens);
    }
    if (last && last->type == REDIS_REPLY_ERROR && strstr(last->str, "already exists")) {
        rc = 1;
    } else if (!last || last->type == REDIS_REPLY_ERROR || last->type == REDIS_REPLY_NIL) {
        snprintf(err, errlen, "cannot load the frontdesk functions: %s",
                 last && last->type == REDIS_REPLY_ERROR ? last->str : c->err ? c->errstr : "transaction aborted");
        rc = -1;
    }
out:
    freeReplyObject(r);
    return rc;
}

int store_lib_ensure_sync(redisContext *c, char *err, size_t errlen)
{
    int rc = ensure_once(c, err, errlen);
    if (rc == 1) rc = ensure_once(c, err, errlen); /* look again, once */
    if (rc == 1) {
        snprintf(err, errlen, "cannot load the frontdesk functions: another library holds their names");
        rc = -1;
    }
    return rc;
}

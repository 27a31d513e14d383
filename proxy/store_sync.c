/* store_sync.c -- the Functions library for the tools (frontdeskctl,
 * fd-bench), over a blocking hiredis connection: loaded by the same rules
 * as the proxy's (store_lib_action), so a tool run before any proxy, or
 * after an upgrade, finds the functions, and never downgrades them.
 */
#include "store.h"

#include <stdio.h>
#include <string.h>

#include <hiredis.h>

int store_lib_ensure_sync(redisContext *c, char *err, size_t errlen)
{
    unsigned v;
    redisReply *r = redisCommand(c, "FCALL fd_version 0");
    store_lib_action_t act = store_lib_action(r, &v);
    if (!r && c->err) {
        snprintf(err, errlen, "%s", c->errstr);
        return -1;
    }
    if (act == STORE_LIB_REFUSED) {
        snprintf(err, errlen, "Redis refused: %s (give --password, --user or REDISCLI_AUTH)", r->str);
        freeReplyObject(r);
        return -1;
    }
    freeReplyObject(r);
    if (act == STORE_LIB_CURRENT || act == STORE_LIB_NEWER) return 0;

    const char *argv[] = { "FUNCTION", "LOAD", "REPLACE", store_lua_source };
    size_t lens[] = { 8, 4, 7, strlen(store_lua_source) };
    if (act == STORE_LIB_UPGRADE) {
        redisAppendCommand(c, "MULTI");
        redisAppendCommand(c, "FUNCTION DELETE %s", STORE_LIB_V2_NAME);
        redisAppendCommandArgv(c, 4, argv, lens);
        redisAppendCommand(c, "EXEC");
        for (int i = 0; i < 4; i++) {
            r = NULL;
            if (redisGetReply(c, (void **)&r) != REDIS_OK) break;
            if (i < 3) {
                freeReplyObject(r);
                r = NULL;
            }
        }
        const redisReply *last = r && r->type == REDIS_REPLY_ARRAY && r->elements ? r->element[r->elements - 1] : r;
        int rc = 0;
        if (!last || last->type == REDIS_REPLY_ERROR || last->type == REDIS_REPLY_NIL) {
            snprintf(err, errlen, "cannot upgrade the frontdesk functions: %s",
                     last && last->type == REDIS_REPLY_ERROR ? last->str : c->err ? c->errstr : "transaction aborted");
            rc = -1;
        }
        freeReplyObject(r);
        return rc;
    }
    /* none loaded: no REPLACE, another client may just have loaded it */
    r = redisCommandArgv(c, 3, (const char *[]){ "FUNCTION", "LOAD", store_lua_source },
                         (size_t[]){ 8, 4, lens[3] });
    int rc = 0;
    if (!r || (r->type == REDIS_REPLY_ERROR && !strstr(r->str, "already exists"))) {
        snprintf(err, errlen, "cannot load the frontdesk functions: %s", r ? r->str : c->errstr);
        rc = -1;
    }
    freeReplyObject(r);
    return rc;
}

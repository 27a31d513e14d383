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
    /* the WATCH: see STORE_LIB_KEY (a user without WATCH loads all the same) */
    freeReplyObject(redisCommand(c, "WATCH %s", STORE_LIB_KEY));
    redisReply *r = redisCommand(c, "FCALL fd_version 0"), *last = NULL;
    store_lib_action_t act = store_lib_action(r, &v);
    const char *argv[] = { "FUNCTION", "LOAD", "REPLACE", store_lua_source };
    size_t lens[] = { 8, 4, 7, strlen(store_lua_source) };

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
    if (act != STORE_LIB_UPGRADE) freeReplyObject(redisCommand(c, "UNWATCH"));
    if (act == STORE_LIB_CURRENT || act == STORE_LIB_NEWER) goto out;
    freeReplyObject(r);
    r = NULL;
    if (act == STORE_LIB_UPGRADE) {
        int n = 0;
        redisAppendCommand(c, "MULTI"), n++;
        if (v <= 2) redisAppendCommand(c, "FUNCTION DELETE %s", STORE_LIB_V2_NAME), n++;
        redisAppendCommandArgv(c, 4, argv, lens), n++;
        redisAppendCommand(c, "SET %s %u", STORE_LIB_KEY, STORE_LIB_VERSION), n++;
        redisAppendCommand(c, "EXEC"), n++;
        for (int i = 0; i < n; i++) {
            freeReplyObject(r);
            r = NULL;
            if (redisGetReply(c, (void **)&r) != REDIS_OK) break;
        }
        last = r;
        if (r && r->type == REDIS_REPLY_ARRAY)
            for (size_t i = 0; i < r->elements; i++)
                if (r->element[i]->type == REDIS_REPLY_ERROR) last = r->element[i];
        if (r && r->type == REDIS_REPLY_NIL) rc = 1; /* EXEC aborted: upgraded by another meanwhile */
    } else {
        const char *load[] = { argv[0], argv[1], argv[3] };
        size_t load_lens[] = { lens[0], lens[1], lens[3] };
        last = r = redisCommandArgv(c, 3, load, load_lens);
    }
    if (rc == 1 || (last && last->type == REDIS_REPLY_ERROR && strstr(last->str, "already exists"))) {
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

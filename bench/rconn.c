/* rconn.c -- loopback-only Redis connections for the bench (see rconn.h). */
#include "rconn.h"
#include "store.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char store_lua_source[]; /* build/gen/store_lua.c */

int rconn_parse(rconn_addr_t *a, const char *s, char *err, size_t errlen)
{
    char host[64];
    const char *colon;
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':' || (size_t)(rb - s - 1) >= sizeof(host)) goto bad;
        memcpy(host, s + 1, (size_t)(rb - s - 1));
        host[rb - s - 1] = '\0';
        colon = rb + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || colon == s || (size_t)(colon - s) >= sizeof(host)) goto bad;
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = '\0';
    }
    char *end;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (errno || *end || colon[1] < '0' || colon[1] > '9' || port == 0 || port > 65535) goto bad;
    if (strcmp(host, "localhost") == 0) strcpy(host, "127.0.0.1");
    struct in_addr v4;
    struct in6_addr v6;
    if (inet_pton(AF_INET, host, &v4) == 1) {
        if ((ntohl(v4.s_addr) >> 24) != 127) goto not_loopback;
    } else if (inet_pton(AF_INET6, host, &v6) == 1) {
        if (!IN6_IS_ADDR_LOOPBACK(&v6)) goto not_loopback;
    } else {
        goto bad;
    }
    snprintf(a->host, sizeof(a->host), "%s", host);
    a->port = (unsigned)port;
    return 0;
bad:
    snprintf(err, errlen, "--redis '%s': want HOST:PORT with a numeric address, e.g. 127.0.0.1:6379", s);
    return -EINVAL;
not_loopback:
    snprintf(err, errlen,
             "--redis '%s' is not a loopback address: the bench writes synthetic staff and only "
             "talks to a Redis on this host (127.0.0.0/8 or [::1])", s);
    return -EINVAL;
}

const char *rconn_password(const rconn_addr_t *a)
{
    const char *pw = a->password ? a->password : getenv("REDISCLI_AUTH");
    return pw && *pw ? pw : NULL;
}

redisContext *rconn_connect(const rconn_addr_t *a, char *err, size_t errlen)
{
    struct timeval tv = {2, 0};
    redisContext *c = redisConnectWithTimeout(a->host, (int)a->port, tv);
    if (!c || c->err) {
        snprintf(err, errlen, "cannot reach Redis at %s:%u: %s", a->host, a->port,
                 c ? c->errstr : "out of memory");
        redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, (struct timeval){10, 0});
    const char *pw = rconn_password(a);
    if (pw) {
        redisReply *r = a->user ? redisCommand(c, "AUTH %s %s", a->user, pw)
                                : redisCommand(c, "AUTH %s", pw);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            snprintf(err, errlen, "Redis at %s:%u: AUTH failed: %s", a->host, a->port,
                     r ? r->str : c->errstr);
            freeReplyObject(r);
            redisFree(c);
            return NULL;
        }
        freeReplyObject(r);
    }
    return c;
}

int rconn_functions(redisContext *c, char *err, size_t errlen)
{
    return store_lib_ensure_sync(c, err, errlen);
}

/* board.c -- frontdesk-board: the reception board (docs/board.md). An HTTP
 * server on libevent's evhttp that serves a small web app (proxy/board/,
 * built into the binary) and its API: a site's staff and their state, one
 * click to set a state (through the presence Functions, as any dashboard),
 * live changes as Server-Sent Events fed by Redis's fd:events, and today's
 * calls from the call history.
 *
 * One thread, one loop. Commands go over a blocking hiredis connection
 * (a board serves a reception desk, not a call load: each is a few hundred
 * microseconds); the event channel over an async one, which reconnects by
 * itself and then tells every page to read everything again ("resync").
 * Access: loopback by default; listening elsewhere needs --tokens (each
 * token names a site, or * for the whole group), given as a cookie set by
 * POST /login or as "Authorization: Bearer", compared in constant time;
 * never in a URL. No caller number or Call-ID ever reaches the page: the
 * staff list and the hourly counts are all it reads.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <hiredis.h>
#include <async.h>
#include <adapters/libevent.h>
#include <sodium.h>

#include "report.h"
#include "rules.h"
#include "version.h"

extern const char board_index_html[], board_js[], board_css[];

#define BOARD_MAX_TOKENS 256
#define BOARD_MAX_CLIENTS 256
#define BOARD_MAX_SITES 1024
#define PING_S 15

static const char usage[] =
    "usage: frontdesk-board --config FILE [--listen ADDR:PORT] [--redis HOST:PORT]\n"
    "                       [--user USER] [--password PW] [--tokens FILE] [--ports-file FILE]\n"
    "\n"
    "  --config FILE      the rules: the sites, and their time zones (today's calls)\n"
    "  --listen ADDR:PORT where the board listens (default 127.0.0.1:9570; port 0:\n"
    "                     one the system picks); not loopback: --tokens is required\n"
    "  --redis HOST:PORT  Redis with the frontdesk functions (default 127.0.0.1:6379)\n"
    "  --user, --password the Redis user: the dashboards' one (deploy/redis/users.acl.in);\n"
    "                     REDISCLI_AUTH is read too\n"
    "  --tokens FILE      access tokens, one a line: TOKEN SITE, or TOKEN * for every\n"
    "                     site (16 characters at least)\n"
    "  --ports-file FILE  once listening, write \"http ADDR:PORT\" there\n";

typedef struct {
    unsigned char hash[crypto_generichash_BYTES];
    char scope[33];
} token_t;

typedef struct client {
    struct evhttp_request *req;
    char scope[33];
    struct client *next;
    struct board *b;
} client_t;

typedef struct board {
    struct event_base *base;
    struct evhttp *http;
    rules_t *rules;
    const char *sites[BOARD_MAX_SITES];
    size_t nsites;
    char rhost[256];
    unsigned rport;
    const char *user, *password;
    redisContext *rc;       /* commands, blocking; NULL until needed */
    redisAsyncContext *sub; /* the event channel */
    struct event *resub, *ping;
    bool subscribed_once;
    token_t tokens[BOARD_MAX_TOKENS];
    size_t ntokens;
    client_t *clients;
    unsigned nclients;
} board_t;

/* ---- small helpers ------------------------------------------------------ */

static void json_str(struct evbuffer *b, const char *s, size_t n)
{
    evbuffer_add(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') evbuffer_add_printf(b, "\\%c", c);
        else if (c < 0x20) evbuffer_add_printf(b, "\\u%04x", c);
        else evbuffer_add(b, &s[i], 1);
    }
    evbuffer_add(b, "\"", 1);
}

static void security_headers(struct evhttp_request *req)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Security-Policy",
                      "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    evhttp_add_header(h, "Referrer-Policy", "no-referrer");
}

static void reply_json(struct evhttp_request *req, int code, const char *reason, struct evbuffer *body)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    security_headers(req);
    evhttp_add_header(h, "Content-Type", "application/json");
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_send_reply(req, code, reason, body);
}

static void reply_error(struct evhttp_request *req, int code, const char *reason, const char *msg)
{
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        evhttp_send_error(req, 500, NULL);
        return;
    }
    evbuffer_add_printf(b, "{\"error\":");
    json_str(b, msg, strlen(msg));
    evbuffer_add_printf(b, "}");
    reply_json(req, code, reason, b);
    evbuffer_free(b);
}

static bool good_name(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n > 0 && n <= 64 && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.@-") == n;
}

static bool is_site(const board_t *b, const char *s)
{
    for (size_t i = 0; i < b->nsites; i++)
        if (!strcmp(b->sites[i], s)) return true;
    return false;
}

/* ---- access ------------------------------------------------------------- */

static int load_tokens(board_t *b, const char *path)
{
    FILE *f = fopen(path, "r");
    char line[512];
    unsigned n = 0;
    if (!f) {
        fprintf(stderr, "frontdesk-board: cannot read %s: %s\n", path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof(line), f)) {
        char tok[256], scope[64];
        n++;
        if (line[strspn(line, " \t")] == '#' || line[strspn(line, " \t\r\n")] == '\0') continue;
        if (sscanf(line, "%255s %63s", tok, scope) != 2 || strlen(tok) < 16 ||
            (strcmp(scope, "*") && !is_site(b, scope)) || b->ntokens == BOARD_MAX_TOKENS) {
            fprintf(stderr, "frontdesk-board: %s:%u: want \"TOKEN SITE\" or \"TOKEN *\" (a token of 16 characters "
                            "or more, a site of the rules), at most %d\n", path, n, BOARD_MAX_TOKENS);
            fclose(f);
            return -1;
        }
        token_t *t = &b->tokens[b->ntokens++];
        crypto_generichash(t->hash, sizeof(t->hash), (const unsigned char *)tok, strlen(tok), NULL, 0);
        snprintf(t->scope, sizeof(t->scope), "%.32s", scope);
        sodium_memzero(tok, sizeof(tok));
    }
    fclose(f);
    if (!b->ntokens) {
        fprintf(stderr, "frontdesk-board: %s holds no token\n", path);
        return -1;
    }
    return 0;
}

/* The scope a token gives, or NULL. Every entry is compared, each in
 * constant time. */
static const char *token_scope(const board_t *b, const char *tok, size_t n)
{
    unsigned char h[crypto_generichash_BYTES];
    const char *found = NULL;
    crypto_generichash(h, sizeof(h), (const unsigned char *)tok, n, NULL, 0);
    for (size_t i = 0; i < b->ntokens; i++)
        if (sodium_memcmp(h, b->tokens[i].hash, sizeof(h)) == 0) found = b->tokens[i].scope;
    return found;
}

/* What <req> may see: "*" (every site) or one site; NULL: nothing (401). */
static const char *scope_of(const board_t *b, struct evhttp_request *req)
{
    if (!b->ntokens) return "*"; /* loopback, no tokens */
    struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    const char *auth = evhttp_find_header(h, "Authorization");
    if (auth && !strncmp(auth, "Bearer ", 7)) return token_scope(b, auth + 7, strlen(auth + 7));
    const char *cookie = evhttp_find_header(h, "Cookie");
    for (const char *p = cookie; p && *p;) {
        p += strspn(p, " ;");
        size_t len = strcspn(p, ";");
        if (len > 4 && !strncmp(p, "fdb=", 4)) return token_scope(b, p + 4, len - 4);
        p += len;
    }
    return NULL;
}

static bool allowed(const char *scope, const char *site)
{
    return !strcmp(scope, "*") || !strcmp(scope, site);
}

/* ---- Redis, for commands -------------------------------------------------- */

static redisContext *redis(board_t *b)
{
    if (b->rc && !b->rc->err) return b->rc;
    if (b->rc) redisFree(b->rc);
    struct timeval tv = { 0, 500000 };
    b->rc = redisConnectWithTimeout(b->rhost, (int)b->rport, tv);
    if (!b->rc || b->rc->err) goto fail;
    struct timeval io = { 1, 0 };
    redisSetTimeout(b->rc, io);
    if (b->password && *b->password) {
        redisReply *r = b->user ? redisCommand(b->rc, "AUTH %s %s", b->user, b->password)
                                : redisCommand(b->rc, "AUTH %s", b->password);
        bool ok = r && r->type != REDIS_REPLY_ERROR;
        if (!ok) fprintf(stderr, "frontdesk-board: Redis AUTH failed: %s\n", r ? r->str : b->rc->errstr);
        freeReplyObject(r);
        if (!ok) goto fail;
    }
    return b->rc;
fail:
    if (b->rc) redisFree(b->rc);
    b->rc = NULL;
    return NULL;
}

/* A command's reply, or NULL with a 503 (Redis away) or 502 (an error
 * reply, said) sent. */
static redisReply *command(board_t *b, struct evhttp_request *req, int argc, const char **argv)
{
    redisContext *c = redis(b);
    redisReply *r = c ? redisCommandArgv(c, argc, argv, NULL) : NULL;
    if (!r) {
        reply_error(req, 503, "Service Unavailable", "Redis is not reachable: the board shows nothing new until it is");
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        reply_error(req, 502, "Bad Gateway", r->str);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

/* ---- the event channel, as Server-Sent Events ---------------------------- */

static void sse_send(board_t *b, const char *site, const char *text)
{
    for (client_t *c = b->clients; c; c = c->next) {
        if (site && !allowed(c->scope, site)) continue;
        struct evbuffer *out = evbuffer_new();
        if (!out) continue;
        evbuffer_add(out, text, strlen(text));
        evhttp_send_reply_chunk(c->req, out);
        evbuffer_free(out);
    }
}

static void on_message(redisAsyncContext *ac, void *reply, void *arg)
{
    board_t *b = arg;
    redisReply *r = reply;
    (void)ac;
    if (r && r->type == REDIS_REPLY_ERROR) { /* AUTH or the ACL refused: say so, try again */
        fprintf(stderr, "frontdesk-board: Redis refused the event channel: %s\n", r->str);
        redisAsyncDisconnect(ac);
        return;
    }
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 3) return;
    const redisReply *kind = r->element[0], *data = r->element[2];
    if (kind->type == REDIS_REPLY_STRING && !strcmp(kind->str, "subscribe")) {
        /* (re)subscribed: whatever changed while away, pages read again */
        if (b->subscribed_once) sse_send(b, NULL, "event: resync\ndata: {}\n\n");
        b->subscribed_once = true;
        return;
    }
    if (kind->type != REDIS_REPLY_STRING || strcmp(kind->str, "message") || data->type != REDIS_REPLY_STRING ||
        data->len > 4096 || memchr(data->str, '\n', data->len))
        return;
    char site[40] = "";
    const char *p = strstr(data->str, "\"site\":\"");
    if (p) {
        p += 8;
        size_t n = strcspn(p, "\"");
        if (n < sizeof(site)) memcpy(site, p, n), site[n] = '\0';
    }
    if (!site[0]) return;
    char *text = malloc(data->len + 16);
    if (!text) return;
    snprintf(text, data->len + 16, "data: %s\n\n", data->str);
    sse_send(b, site, text);
    free(text);
}

static void subscribe_now(board_t *b);

static void on_sub_connect(const redisAsyncContext *ac, int status)
{
    board_t *b = ac->data;
    if (status != REDIS_OK) {
        b->sub = NULL; /* hiredis frees it */
        struct timeval tv = { 1, 0 };
        evtimer_add(b->resub, &tv);
    }
}

static void on_sub_disconnect(const redisAsyncContext *ac, int status)
{
    board_t *b = ac->data;
    (void)status;
    b->sub = NULL;
    sse_send(b, NULL, "event: away\ndata: {}\n\n");
    struct timeval tv = { 1, 0 };
    evtimer_add(b->resub, &tv);
}

static void subscribe_now(board_t *b)
{
    redisAsyncContext *ac = redisAsyncConnect(b->rhost, (int)b->rport);
    if (!ac || ac->err) {
        if (ac) redisAsyncFree(ac);
        struct timeval tv = { 1, 0 };
        evtimer_add(b->resub, &tv);
        return;
    }
    ac->data = b;
    redisLibeventAttach(ac, b->base);
    redisAsyncSetConnectCallback(ac, on_sub_connect);
    redisAsyncSetDisconnectCallback(ac, on_sub_disconnect);
    if (b->password && *b->password) {
        if (b->user) redisAsyncCommand(ac, NULL, NULL, "AUTH %s %s", b->user, b->password);
        else redisAsyncCommand(ac, NULL, NULL, "AUTH %s", b->password);
    }
    redisAsyncCommand(ac, on_message, b, "SUBSCRIBE fd:events");
    b->sub = ac;
}

static void on_resub(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    subscribe_now(arg);
}

static void on_ping(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    sse_send(arg, NULL, ": ping\n\n"); /* keeps proxies from closing an idle stream */
}

static void on_client_gone(struct evhttp_connection *con, void *arg)
{
    client_t *c = arg;
    board_t *b = c->b;
    (void)con;
    for (client_t **pp = &b->clients; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            b->nclients--;
            break;
        }
    /* the browser left mid-stream: libevent has let go of the request (it
     * is ours to end, which frees it); on other closes it frees it itself */
    if (!evhttp_request_get_connection(c->req)) evhttp_send_reply_end(c->req);
    free(c);
}

static void api_events(board_t *b, struct evhttp_request *req, const char *scope)
{
    if (b->nclients >= BOARD_MAX_CLIENTS) {
        reply_error(req, 503, "Service Unavailable", "too many boards open");
        return;
    }
    client_t *c = calloc(1, sizeof(*c));
    if (!c) {
        evhttp_send_error(req, 500, NULL);
        return;
    }
    c->req = req, c->b = b;
    snprintf(c->scope, sizeof(c->scope), "%s", scope);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    security_headers(req);
    evhttp_add_header(h, "Content-Type", "text/event-stream");
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_add_header(h, "X-Accel-Buffering", "no");
    evhttp_send_reply_start(req, 200, "OK");
    struct evbuffer *out = evbuffer_new();
    if (out) {
        evbuffer_add_printf(out, "retry: 1000\n: %s\n\n", b->sub ? "live" : "Redis away");
        evhttp_send_reply_chunk(req, out);
        evbuffer_free(out);
    }
    evhttp_connection_set_closecb(evhttp_request_get_connection(req), on_client_gone, c);
    c->next = b->clients;
    b->clients = c;
    b->nclients++;
}

/* ---- the API -------------------------------------------------------------- */

static void api_sites(board_t *b, struct evhttp_request *req, const char *scope)
{
    struct evbuffer *o = evbuffer_new();
    if (!o) return evhttp_send_error(req, 500, NULL);
    evbuffer_add_printf(o, "{\"sites\":[");
    for (size_t i = 0, n = 0; i < b->nsites; i++) {
        if (!allowed(scope, b->sites[i])) continue;
        if (n++) evbuffer_add(o, ",", 1);
        json_str(o, b->sites[i], strlen(b->sites[i]));
    }
    evbuffer_add_printf(o, "]}");
    reply_json(req, 200, "OK", o);
    evbuffer_free(o);
}

static void api_staff(board_t *b, struct evhttp_request *req, const char *site)
{
    char key[48];
    snprintf(key, sizeof(key), "fd:{%s}", site);
    const char *argv[] = { "FCALL_RO", "fd_staff_board", "1", key };
    redisReply *r = command(b, req, 4, argv);
    if (!r) return;
    struct evbuffer *o = evbuffer_new();
    if (!o) {
        freeReplyObject(r);
        return evhttp_send_error(req, 500, NULL);
    }
    evbuffer_add_printf(o, "{\"site\":");
    json_str(o, site, strlen(site));
    evbuffer_add_printf(o, ",\"staff\":[");
    for (size_t i = 0, n = 0; r->type == REDIS_REPLY_ARRAY && i + 5 <= r->elements; i += 5) {
        const redisReply *e[5];
        bool ok = true;
        for (int k = 0; k < 5; k++) ok = ok && (e[k] = r->element[i + k])->type == REDIS_REPLY_STRING;
        if (!ok) continue;
        evbuffer_add_printf(o, "%s{\"id\":", n++ ? "," : "");
        json_str(o, e[0]->str, e[0]->len);
        evbuffer_add_printf(o, ",\"state\":");
        json_str(o, e[1]->str, e[1]->len);
        evbuffer_add_printf(o, ",\"note\":");
        json_str(o, e[2]->str, e[2]->len);
        evbuffer_add_printf(o, ",\"skills\":");
        json_str(o, e[3]->str, e[3]->len);
        evbuffer_add_printf(o, ",\"offered\":%s}", e[4]->len == 1 && e[4]->str[0] == '1' ? "true" : "false");
    }
    evbuffer_add_printf(o, "]}");
    freeReplyObject(r);
    reply_json(req, 200, "OK", o);
    evbuffer_free(o);
}

/* The form fields of a POST body (<q> cleared by the caller). */
static int form_of(struct evhttp_request *req, struct evkeyvalq *q)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in);
    char body[2048];
    if (n >= sizeof(body)) return -1;
    evbuffer_copyout(in, body, n);
    body[n] = '\0';
    return evhttp_parse_query_str(body, q);
}

static void api_presence(board_t *b, struct evhttp_request *req, const char *scope)
{
    static const char *const states[] = { "available", "busy", "break", "wrapup", "offline" };
    struct evkeyvalq q = { 0 };
    TAILQ_INIT(&q);
    if (form_of(req, &q) < 0) {
        reply_error(req, 400, "Bad Request", "want site, id and state, form-encoded");
        evhttp_clear_headers(&q);
        return;
    }
    const char *site = evhttp_find_header(&q, "site"), *id = evhttp_find_header(&q, "id"),
               *state = evhttp_find_header(&q, "state");
    bool good_state = false;
    for (size_t i = 0; state && i < sizeof(states) / sizeof(states[0]); i++) good_state |= !strcmp(state, states[i]);
    if (!site || !is_site(b, site) || !good_name(id) || !good_state) {
        reply_error(req, 400, "Bad Request", "want a site of the rules, a staff id and a state (available, busy, break, "
                                              "wrapup, offline)");
    } else if (!allowed(scope, site)) {
        reply_error(req, 403, "Forbidden", "this token is for another site");
    } else {
        char key[48];
        snprintf(key, sizeof(key), "fd:{%s}", site);
        const char *argv[] = { "FCALL", "fd_presence", "1", key, id, state, "", "board" };
        redisReply *r = command(b, req, 8, argv);
        if (r) {
            struct evbuffer *o = evbuffer_new();
            if (o) {
                evbuffer_add_printf(o, "{\"ok\":true}");
                reply_json(req, 200, "OK", o);
                evbuffer_free(o);
            }
            freeReplyObject(r);
        }
    }
    evhttp_clear_headers(&q);
}

/* Today's calls at <site> (its own day), by hour: reached staff or not. */
static void api_today(board_t *b, struct evhttp_request *req, const char *site)
{
    char key[48], from[24];
    unsigned staff[24] = { 0 }, other[24] = { 0 };
    time_t now = time(NULL);
    int64_t local;
    if (!rules_site_localtime(b->rules, site, now, &local)) local = (int64_t)now;
    int64_t since = (int64_t)now - (local % 86400); /* the site's midnight */
    snprintf(key, sizeof(key), "fd:{%s}:calls", site);
    snprintf(from, sizeof(from), "%lld", (long long)since * 1000);
    const char *ex[] = { "EXISTS", key };
    redisReply *r = command(b, req, 2, ex);
    if (!r) return;
    bool history = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);
    for (unsigned round = 0; history && round < 50; round++) { /* 50 x 2000 entries at most */
        const char *argv[] = { "XRANGE", key, from, "+", "COUNT", "2000" };
        if (!(r = command(b, req, 6, argv))) return;
        size_t n = r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
        for (size_t i = 0; i < n; i++) {
            const redisReply *e = r->element[i];
            if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 || e->element[1]->type != REDIS_REPLY_ARRAY) continue;
            const redisReply *f = e->element[1];
            for (size_t k = 0; k + 1 < f->elements; k += 2) {
                if (f->element[k]->type != REDIS_REPLY_STRING || strcmp(f->element[k]->str, "v")) continue;
                const char *p = f->element[k + 1]->str, *end = p + f->element[k + 1]->len;
                while (p < end) {
                    const char *nl = memchr(p, '\n', (size_t)(end - p));
                    size_t len = (size_t)((nl ? nl : end) - p);
                    report_call_t c;
                    if (report_parse_call(e->element[0]->str, e->element[0]->len, p, len, &c) == 0 && !c.status) {
                        int64_t t = (int64_t)(c.ms / 1000), lt;
                        if (!rules_site_localtime(b->rules, site, (time_t)t, &lt)) lt = t;
                        unsigned h = (unsigned)((lt % 86400) / 3600) % 24;
                        if (t >= since) (c.outcome == RO_STAFF ? staff : other)[h]++;
                    }
                    p += len + 1;
                }
            }
        }
        const redisReply *last = n ? r->element[n - 1] : NULL;
        if (last && last->type == REDIS_REPLY_ARRAY && last->elements && last->element[0]->type == REDIS_REPLY_STRING)
            snprintf(from, sizeof(from), "(%s", last->element[0]->str);
        else n = 0;
        freeReplyObject(r);
        if (n < 2000) break;
    }
    struct evbuffer *o = evbuffer_new();
    if (!o) return evhttp_send_error(req, 500, NULL);
    evbuffer_add_printf(o, "{\"history\":%s,\"hours\":[", history ? "true" : "false");
    for (unsigned h = 0, n = 0; h < 24; h++)
        if (staff[h] + other[h])
            evbuffer_add_printf(o, "%s{\"hour\":%u,\"staff\":%u,\"fallback\":%u}", n++ ? "," : "", h, staff[h],
                                other[h]);
    evbuffer_add_printf(o, "]}");
    reply_json(req, 200, "OK", o);
    evbuffer_free(o);
}

static void api_login(board_t *b, struct evhttp_request *req)
{
    struct evkeyvalq q = { 0 };
    TAILQ_INIT(&q);
    const char *tok = form_of(req, &q) == 0 ? evhttp_find_header(&q, "token") : NULL;
    if (!b->ntokens) {
        reply_error(req, 400, "Bad Request", "this board needs no token");
    } else if (!tok || strlen(tok) > 255 || strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                                        "0123456789-_.~+/=") != strlen(tok) ||
               !token_scope(b, tok, strlen(tok))) {
        reply_error(req, 401, "Unauthorized", "not a token of this board");
    } else {
        char cookie[320];
        snprintf(cookie, sizeof(cookie), "fdb=%s; Path=/; HttpOnly; SameSite=Strict", tok);
        evhttp_add_header(evhttp_request_get_output_headers(req), "Set-Cookie", cookie);
        reply_json(req, 204, "No Content", NULL);
    }
    evhttp_clear_headers(&q);
}

static void asset(struct evhttp_request *req, const char *type, const char *body)
{
    struct evbuffer *o = evbuffer_new();
    if (!o) return evhttp_send_error(req, 500, NULL);
    evbuffer_add_reference(o, body, strlen(body), NULL, NULL);
    security_headers(req);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", type);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-cache");
    evhttp_send_reply(req, 200, "OK", o);
    evbuffer_free(o);
}

static void on_request(struct evhttp_request *req, void *arg)
{
    board_t *b = arg;
    const char *uri = evhttp_request_get_uri(req);
    struct evhttp_uri *u = evhttp_uri_parse(uri);
    const char *path = u ? evhttp_uri_get_path(u) : NULL;
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    struct evkeyvalq q = { 0 };
    TAILQ_INIT(&q);
    if (!path) {
        reply_error(req, 400, "Bad Request", "bad URI");
        goto out;
    }
    if (m == EVHTTP_REQ_GET && (!strcmp(path, "/") || !strcmp(path, "/index.html"))) {
        asset(req, "text/html; charset=utf-8", board_index_html);
        goto out;
    }
    if (m == EVHTTP_REQ_GET && !strcmp(path, "/board.js")) {
        asset(req, "text/javascript; charset=utf-8", board_js);
        goto out;
    }
    if (m == EVHTTP_REQ_GET && !strcmp(path, "/board.css")) {
        asset(req, "text/css; charset=utf-8", board_css);
        goto out;
    }
    /* a write must come from the page (a header no cross-site form sends) */
    if (m == EVHTTP_REQ_POST &&
        !evhttp_find_header(evhttp_request_get_input_headers(req), "X-Board")) {
        reply_error(req, 403, "Forbidden", "writes come from the board's page");
        goto out;
    }
    if (m == EVHTTP_REQ_POST && !strcmp(path, "/login")) {
        api_login(b, req);
        goto out;
    }
    if (strncmp(path, "/api/", 5)) {
        reply_error(req, 404, "Not Found", "no such page");
        goto out;
    }
    const char *scope = scope_of(b, req);
    if (!scope) {
        reply_error(req, 401, "Unauthorized", "an access token is needed");
        goto out;
    }
    const char *query = evhttp_uri_get_query(u);
    if (query) evhttp_parse_query_str(query, &q);
    const char *site = evhttp_find_header(&q, "site");
    if (m == EVHTTP_REQ_GET && !strcmp(path, "/api/sites")) {
        api_sites(b, req, scope);
    } else if (m == EVHTTP_REQ_GET && !strcmp(path, "/api/events")) {
        api_events(b, req, scope);
    } else if (m == EVHTTP_REQ_POST && !strcmp(path, "/api/presence")) {
        api_presence(b, req, scope);
    } else if (m == EVHTTP_REQ_GET && (!strcmp(path, "/api/staff") || !strcmp(path, "/api/today"))) {
        if (!site || !is_site(b, site)) reply_error(req, 400, "Bad Request", "want ?site= a site of the rules");
        else if (!allowed(scope, site)) reply_error(req, 403, "Forbidden", "this token is for another site");
        else if (path[5] == 's') api_staff(b, req, site);
        else api_today(b, req, site);
    } else {
        reply_error(req, 404, "Not Found", "no such call");
    }
out:
    evhttp_clear_headers(&q);
    if (u) evhttp_uri_free(u);
}

/* ---- setting up ------------------------------------------------------------- */

static int load_rules(const char *path, rules_t **out)
{
    rules_report_t rep;
    rules_load_opts_t lo = { .now = time(NULL) };
    unsigned char key[32];
    size_t n = 0;
    const char *hex = getenv("FRONTDESK_CALLER_KEY");
    if (hex && strlen(hex) == 64 && sodium_hex2bin(key, sizeof(key), hex, 64, NULL, &n, NULL) == 0 && n == 32) {
        lo.caller_key = key;
        lo.caller_key_len = sizeof(key);
    }
    if (rules_load_opts(path, &lo, out, &rep) < 0) {
        if (rep.line) fprintf(stderr, "%s:%u:%u: error: %s\n", rep.file, rep.line, rep.col, rep.msg);
        else fprintf(stderr, "%s: error: %s\n", rep.file, rep.msg);
        return -1;
    }
    sodium_memzero(key, sizeof(key));
    return 0;
}

static bool is_loopback(const char *host)
{
    return !strncmp(host, "127.", 4) || !strcmp(host, "::1") || !strcmp(host, "localhost");
}

static void on_signal(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    event_base_loopbreak(arg);
}

/* "ADDR:PORT" or "[v6]:PORT" into <host>/<port>. */
static int split_hostport(const char *s, char *host, size_t cap, unsigned *port)
{
    const char *colon = strrchr(s, ':');
    const char *h = s;
    size_t hl;
    char *end;
    if (!colon) return -1;
    hl = (size_t)(colon - s);
    if (s[0] == '[') {
        if (hl < 2 || s[hl - 1] != ']') return -1;
        h = s + 1, hl -= 2;
    }
    if (!hl || hl >= cap) return -1;
    memcpy(host, h, hl);
    host[hl] = '\0';
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (*end || p > 65535 || end == colon + 1) return -1;
    *port = (unsigned)p;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        { "config", required_argument, NULL, 'c' }, { "listen", required_argument, NULL, 'l' },
        { "redis", required_argument, NULL, 'r' },  { "user", required_argument, NULL, 'u' },
        { "password", required_argument, NULL, 'p' }, { "tokens", required_argument, NULL, 't' },
        { "ports-file", required_argument, NULL, 'P' }, { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },      { NULL, 0, NULL, 0 },
    };
    const char *config = NULL, *listen = "127.0.0.1:9570", *tokens = NULL, *ports = NULL;
    static board_t b;
    char host[256];
    unsigned port;
    int ch, rc = 2;

    snprintf(b.rhost, sizeof(b.rhost), "127.0.0.1");
    b.rport = 6379;
    b.password = getenv("REDISCLI_AUTH");
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'c': config = optarg; break;
        case 'l': listen = optarg; break;
        case 'r':
            if (split_hostport(optarg, b.rhost, sizeof(b.rhost), &b.rport) < 0 || !b.rport) {
                fprintf(stderr, "frontdesk-board: --redis %s: want HOST:PORT\n%s", optarg, usage);
                return 2;
            }
            break;
        case 'u': b.user = optarg; break;
        case 'p': b.password = optarg; break;
        case 't': tokens = optarg; break;
        case 'P': ports = optarg; break;
        case 'h': fputs(usage, stdout); return 0;
        case 'V': printf("frontdesk-board %s\n", FRONTDESK_VERSION); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (optind < argc || !config) {
        fprintf(stderr, "frontdesk-board: %s\n%s", config ? "unexpected argument" : "--config FILE is needed", usage);
        return 2;
    }
    if (split_hostport(listen, host, sizeof(host), &port) < 0) {
        fprintf(stderr, "frontdesk-board: --listen %s: want ADDR:PORT\n", listen);
        return 2;
    }
    if (sodium_init() < 0 || load_rules(config, &b.rules) < 0) return 2;
    b.nsites = rules_site_ids(b.rules, b.sites, BOARD_MAX_SITES);
    if (tokens && load_tokens(&b, tokens) < 0) goto out;
    if (!tokens && !is_loopback(host)) {
        fprintf(stderr, "frontdesk-board: listening on %s exposes the board: give --tokens FILE\n", host);
        goto out;
    }
    signal(SIGPIPE, SIG_IGN);
    if (!(b.base = event_base_new()) || !(b.http = evhttp_new(b.base))) goto out;
    evhttp_set_allowed_methods(b.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
    evhttp_set_max_body_size(b.http, 4096);
    evhttp_set_max_headers_size(b.http, 16384);
    evhttp_set_timeout(b.http, 30);
    evhttp_set_gencb(b.http, on_request, &b);
    struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(b.http, host, (ev_uint16_t)port);
    if (!bs) {
        fprintf(stderr, "frontdesk-board: cannot listen on %s: %s\n", listen, strerror(errno));
        goto out;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char addr[INET6_ADDRSTRLEN] = "?";
    unsigned bound = port;
    if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET6) {
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, addr, sizeof(addr));
            bound = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        } else {
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, addr, sizeof(addr));
            bound = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        }
    }
    b.resub = evtimer_new(b.base, on_resub, &b);
    b.ping = event_new(b.base, -1, EV_PERSIST, on_ping, &b);
    struct event *sigint = evsignal_new(b.base, SIGINT, on_signal, b.base);
    struct event *sigterm = evsignal_new(b.base, SIGTERM, on_signal, b.base);
    if (!b.resub || !b.ping || !sigint || !sigterm) goto out;
    struct timeval pt = { PING_S, 0 };
    event_add(b.ping, &pt);
    event_add(sigint, NULL);
    event_add(sigterm, NULL);
    subscribe_now(&b);
    if (ports) {
        FILE *f = fopen(ports, "w");
        if (!f || fprintf(f, "http %s%s%s:%u\n", ss.ss_family == AF_INET6 ? "[" : "", addr,
                          ss.ss_family == AF_INET6 ? "]" : "", bound) < 0 || fclose(f) != 0) {
            fprintf(stderr, "frontdesk-board: cannot write %s\n", ports);
            goto out;
        }
    }
    fprintf(stderr, "frontdesk-board: http://%s%s%s:%u/ (%zu sites, Redis %s:%u, %s)\n",
            ss.ss_family == AF_INET6 ? "[" : "", addr, ss.ss_family == AF_INET6 ? "]" : "", bound, b.nsites,
            b.rhost, b.rport, b.ntokens ? "tokens required" : "loopback, no token");
    event_base_dispatch(b.base);
    rc = 0;
    event_free(sigint);
    event_free(sigterm);
out:
    if (b.sub) redisAsyncFree(b.sub);
    if (b.rc) redisFree(b.rc);
    while (b.clients) { /* open event streams: end them, then the connections go with evhttp */
        client_t *c = b.clients;
        b.clients = c->next;
        evhttp_connection_set_closecb(evhttp_request_get_connection(c->req), NULL, NULL);
        evhttp_send_reply_end(c->req);
        free(c);
    }
    if (b.resub) event_free(b.resub);
    if (b.ping) event_free(b.ping);
    if (b.http) evhttp_free(b.http);
    if (b.base) event_base_free(b.base);
    rules_unref(b.rules);
    return rc;
}

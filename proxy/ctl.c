/* ctl.c -- frontdeskctl: what reception dashboards do, for people and
 * scripts, plus checking and explaining rules.
 *
 * Every write goes through the frontdesk Redis functions (never raw keys),
 * with synchronous hiredis: a command-line tool, not the hot path.
 * Exit codes: 0 done (rules check: no finding), 1 warnings (rules check) or
 * a Redis error reply, 2 bad usage, a bad rules file, or Redis unreachable.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis.h>
#include <sodium.h>

#include "ctl.h"
#include "opts.h"
#include "log.h"
#include "rules.h"
#include "store.h"
#include "version.h"

static const char usage[] =
    "usage: frontdeskctl [--redis HOST:PORT] [--user USER] [--password PW] COMMAND ...\n"
    "\n"
    "  key new                          print a fresh caller key (64 hex digits) for\n"
    "                                   FRONTDESK_CALLER_KEY\n"
    "  call-hash CALL-ID                what logs and Redis keys write for that\n"
    "                                   Call-ID (keyed from FRONTDESK_CALLER_KEY)\n"
    "  rules check FILE                 check a rules file; with --redis, also that\n"
    "                                   staff have the skills the rules ask for\n"
    "                                   (exit 0 fine, 1 warnings, 2 errors)\n"
    "  route explain --config FILE --to NUMBER [--from NUMBER] [--option N]\n"
    "                [--at TIME]        how a call is routed, step by step; with\n"
    "                                   --redis, who would be offered it now\n"
    "  presence set SITE STAFF STATE [REASON]   available|busy|break|wrapup|offline\n"
    "  presence get SITE STAFF\n"
    "  presence list SITE\n"
    "  staff add SITE STAFF CONTACT SKILLS [STATE [MAX_OFFERS]]\n"
    "                                   SKILLS: billing:3,scheduling:5; MAX_OFFERS:\n"
    "                                   calls that may ring them at once (default 1)\n"
    "  staff remove SITE STAFF\n"
    "  skills set SITE STAFF SKILLS\n"
    "  call end SITE STAFF              a call ended: idle time starts now\n"
    "  watch                            print presence events as they happen\n"
    "  report calls --config FILE [--since 7d | --from TIME [--to TIME]]\n"
    "               [--site S] [--skill K] [--format table|csv|json] [--svg FILE]\n"
    "                                   calls by site, skill and hour of the week:\n"
    "                                   who reached staff, what the others got\n"
    "  report coverage --config FILE --week [--site S] [--weeks N] [--min-share X]\n"
    "               [--min-calls X] [--at TIME] [--format table|csv|json] [--svg FILE]\n"
    "                                   the coming week's hours when nobody with the\n"
    "                                   skill was free in past weeks, and the calls\n"
    "                                   predicted to find nobody\n"
    "\n"
    "  --redis HOST:PORT   default 127.0.0.1:6379\n"
    "  --password PW       AUTH password (or REDISCLI_AUTH in the environment)\n"
    "  --user USER         ACL user for AUTH (default: the default user)\n"
    "TIME: 2026-12-01T12:40:00-06:00, ...Z, or epoch seconds (default: now).\n"
    "FRONTDESK_CALLER_KEY (64 hex digits) is needed by rules using caller_aware\n"
    "or priority_callers, as for the daemon.\n";

typedef struct {
    char host[256];
    unsigned port;
    bool redis_given;
    const char *password;
    const char *user;
    redisContext *rc;
} ctl_t;

/* The string of a reply element, or "?" when it is not a string. */
static const char *str_of(const redisReply *e)
{
    return e && (e->type == REDIS_REPLY_STRING || e->type == REDIS_REPLY_STATUS) && e->str ? e->str : "?";
}

static int die_usage(const char *msg)
{
    if (msg) fprintf(stderr, "frontdeskctl: %s\n", msg);
    fputs(usage, stderr);
    return 2;
}

static redisContext *ctl_redis(ctl_t *c)
{
    if (c->rc) return c->rc;
    struct timeval tv = { 2, 0 };
    c->rc = redisConnectWithTimeout(c->host, (int)c->port, tv);
    if (!c->rc || c->rc->err) {
        fprintf(stderr, "frontdeskctl: cannot reach Redis at %s:%u: %s\n", c->host, c->port,
                c->rc ? c->rc->errstr : "out of memory");
        exit(2);
    }
    const char *pw = c->password ? c->password : getenv("REDISCLI_AUTH");
    if (pw && *pw) {
        redisReply *r = c->user ? redisCommand(c->rc, "AUTH %s %s", c->user, pw)
                                : redisCommand(c->rc, "AUTH %s", pw);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            fprintf(stderr, "frontdeskctl: AUTH failed: %s\n", r ? r->str : c->rc->errstr);
            exit(2);
        }
        freeReplyObject(r);
    }
    /* the functions may not be loaded yet (no proxy ever connected) */
    char err[300];
    if (store_lib_ensure_sync(c->rc, err, sizeof(err)) < 0) {
        fprintf(stderr, "frontdeskctl: Redis at %s:%u: %s\n", c->host, c->port, err);
        exit(2);
    }
    return c->rc;
}

/* Print a reply for people; returns 0, or 1 for an error reply. */
static int print_reply(const redisReply *r, int depth)
{
    if (!r) return 1;
    switch (r->type) {
    case REDIS_REPLY_ERROR:
        fprintf(stderr, "frontdeskctl: %s\n", r->str);
        return 1;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
        printf("%*s%s\n", depth * 2, "", str_of(r));
        return 0;
    case REDIS_REPLY_INTEGER:
        printf("%*s%lld\n", depth * 2, "", r->integer);
        return 0;
    case REDIS_REPLY_ARRAY:
        for (size_t i = 0; i < r->elements; i++) print_reply(r->element[i], depth);
        return 0;
    default:
        return 0;
    }
}

/* FCALL <fn> 1 fd:{<site>} <args...> and print the reply. */
static int fcall(ctl_t *c, const char *cmd, const char *fn, const char *site, int argc, char **argv)
{
    const char *av[16];
    size_t lens[16];
    char key[64];
    int n = 0;

    if (argc > 11) return die_usage("too many arguments");
    snprintf(key, sizeof(key), "fd:{%s}", site);
    av[n++] = cmd, av[n++] = fn, av[n++] = "1", av[n++] = key;
    for (int i = 0; i < argc; i++) av[n++] = argv[i];
    for (int i = 0; i < n; i++) lens[i] = strlen(av[i]);
    redisReply *r = redisCommandArgv(ctl_redis(c), n, av, lens);
    if (!r) {
        fprintf(stderr, "frontdeskctl: %s\n", c->rc->errstr);
        return 2;
    }
    int rc = print_reply(r, 0);
    freeReplyObject(r);
    return rc;
}

/* ---- presence list: a table ---- */

static int presence_list(ctl_t *c, const char *site)
{
    char key[64];
    snprintf(key, sizeof(key), "fd:{%s}", site);
    redisReply *r = redisCommand(ctl_redis(c), "FCALL_RO fd_staff_list 1 %s", key);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        int rc = print_reply(r, 0);
        freeReplyObject(r);
        return rc ? rc : 1;
    }
    printf("%-20s %-20s %-32s %s\n", "STAFF", "STATE", "SKILLS", "CONTACT");
    for (size_t i = 0; i + 3 < r->elements; i += 4)
        printf("%-20s %-20s %-32s %s\n", str_of(r->element[i]), str_of(r->element[i + 1]),
               str_of(r->element[i + 2]), str_of(r->element[i + 3]));
    freeReplyObject(r);
    return 0;
}

/* ---- watch ---- */

static int watch(ctl_t *c)
{
    redisReply *r = redisCommand(ctl_redis(c), "SUBSCRIBE fd:events");
    freeReplyObject(r);
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (;;) {
        if (redisGetReply(c->rc, (void **)&r) != REDIS_OK) {
            fprintf(stderr, "frontdeskctl: connection lost: %s\n", c->rc->errstr);
            return 2;
        }
        if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
            r->element[2]->type == REDIS_REPLY_STRING)
            printf("%s\n", str_of(r->element[2]));
        freeReplyObject(r);
    }
}

/* ---- rules: load with the daemon's key ---- */

static int load_rules(const char *path, time_t now, rules_t **out)
{
    unsigned char key[32];
    const char *hex = getenv("FRONTDESK_CALLER_KEY");
    size_t n = 0;
    rules_report_t rep;
    rules_load_opts_t lo = { .now = now };

    if (hex && *hex) {
        if (strlen(hex) != 64 || sodium_hex2bin(key, sizeof(key), hex, 64, NULL, &n, NULL) != 0 || n != 32) {
            fprintf(stderr, "frontdeskctl: FRONTDESK_CALLER_KEY must be 64 hex digits\n");
            return -EINVAL;
        }
        lo.caller_key = key;
        lo.caller_key_len = sizeof(key);
    }
    if (rules_load_opts(path, &lo, out, &rep) < 0) {
        if (rep.line) fprintf(stderr, "%s:%u:%u: error: %s\n", rep.file, rep.line, rep.col, rep.msg);
        else fprintf(stderr, "%s: error: %s\n", rep.file, rep.msg);
        return -EINVAL;
    }
    return 0;
}

typedef struct {
    const char *file;
    unsigned n[3];
} lint_out_t;

static void on_finding(void *arg, const rules_finding_t *f)
{
    lint_out_t *o = arg;
    const char *lvl = f->level == RULES_LINT_ERROR ? "error" : "warning";
    if (f->line) printf("%s:%u:%u: %s: %s\n", o->file, f->line, f->col, lvl, f->msg);
    else printf("%s: %s: %s\n", o->file, lvl, f->msg);
    o->n[f->level]++;
}

/* The skills each site's staff have, from Redis, for the linter. */
typedef struct {
    ctl_t *c;
    char names[64][33];
    const char *list[65];
} skills_ctx_t;

static const char *const *staff_skills(void *arg, const char *site)
{
    skills_ctx_t *sc = arg;
    char key[64];
    unsigned n = 0;
    snprintf(key, sizeof(key), "fd:{%s}", site);
    redisReply *r = redisCommand(ctl_redis(sc->c), "FCALL_RO fd_staff_list 1 %s", key);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return NULL;
    }
    char (*store)[33] = sc->names;
    for (size_t i = 0; i + 3 < r->elements; i += 4) {
        const char *csv = str_of(r->element[i + 2]);
        char *save = NULL;
        char buf[512];
        snprintf(buf, sizeof(buf), "%s", csv);
        for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            char *colon = strchr(t, ':');
            if (colon) *colon = '\0';
            bool dup = false;
            for (unsigned j = 0; j < n; j++) dup |= strcmp(store[j], t) == 0;
            if (!dup && n < 64) snprintf(store[n++], sizeof(sc->names[0]), "%s", t);
        }
    }
    freeReplyObject(r);
    for (unsigned j = 0; j < n; j++) sc->list[j] = store[j];
    sc->list[n] = NULL;
    return sc->list;
}

static int rules_check(ctl_t *c, const char *path)
{
    rules_t *r;
    lint_out_t o = { path, { 0, 0, 0 } };
    skills_ctx_t sc = { .c = c };

    if (load_rules(path, time(NULL), &r) < 0) return 2;
    int worst = rules_lint(r, c->redis_given ? staff_skills : NULL, &sc, on_finding, &o);
    rules_unref(r);
    printf("%s: %u error(s), %u warning(s)\n", path, o.n[RULES_LINT_ERROR], o.n[RULES_LINT_WARNING]);
    return worst == RULES_LINT_ERROR ? 2 : worst == RULES_LINT_WARNING ? 1 : 0;
}

static int route_explain(ctl_t *c, int argc, char **argv)
{
    static const struct option lo[] = {
        { "config", required_argument, NULL, 'c' }, { "to", required_argument, NULL, 't' },
        { "from", required_argument, NULL, 'f' },   { "option", required_argument, NULL, 'o' },
        { "at", required_argument, NULL, 'a' },     { NULL, 0, NULL, 0 },
    };
    const char *config = NULL, *to = NULL, *from = NULL, *option = NULL;
    time_t at = time(NULL);
    int ch;

    optind = 0;
    while ((ch = getopt_long(argc, argv, ":", lo, NULL)) != -1) {
        switch (ch) {
        case 'c': config = optarg; break;
        case 't': to = optarg; break;
        case 'f': from = optarg; break;
        case 'o': option = optarg; break;
        case 'a':
            if (opts_parse_time(optarg, &at) < 0) return die_usage("--at: want e.g. 2026-12-01T12:40:00-06:00");
            break;
        default: return die_usage("route explain: unknown flag or missing value");
        }
    }
    if (!config || !to) return die_usage("route explain needs --config FILE and --to NUMBER");

    rules_t *r;
    if (load_rules(config, at, &r) < 0) return 2;
    rules_req_t rq = { { to, strlen(to) }, { to, strlen(to) },
                       { from ? from : "", from ? strlen(from) : 0 },
                       { option ? option : "", option ? strlen(option) : 0 }, NULL };
    plan_t plan;
    char text[4096];
    rules_eval(r, &rq, at, &plan);
    rules_explain(r, &rq, at, &plan, text, sizeof(text));
    fputs(text, stdout);
    if (text[0] && text[strlen(text) - 1] != '\n') putchar('\n');

    int rc = 0;
    if (c->redis_given && plan.kind == PLAN_PICK) {
        store_argv_t a;
        if (store_build_pick(&a, "FCALL_RO", "fd_peek", &plan, "explain", 7, "1", "1", NULL, NULL) == 0) {
            redisReply *rep = redisCommandArgv(ctl_redis(c), (int)a.argc, a.argv, a.lens);
            if (!rep || rep->type != REDIS_REPLY_ARRAY) {
                rc = print_reply(rep, 0) ? 1 : 0;
            } else if (rep->elements == 0) {
                printf("now: nobody is free along the chain -> %s\n", plan.fallback ? plan.fallback : "-");
            } else {
                printf("now, in this order:\n");
                for (size_t i = 0; i + 2 < rep->elements; i += 3)
                    printf("  %zu. %s <%s>  (%s)\n", i / 3 + 1, str_of(rep->element[i]),
                           str_of(rep->element[i + 1]), str_of(rep->element[i + 2]));
                printf("  then %s\n", plan.fallback ? plan.fallback : "-");
            }
            freeReplyObject(rep);
        }
    }
    rules_unref(r);
    return rc;
}

static redisContext *report_redis(void *c)
{
    return ctl_redis(c);
}

/* --redis HOST:PORT into <c>. 0 or -EINVAL. */
static int set_redis(ctl_t *c, const char *v)
{
    const char *colon = strrchr(v, ':');
    char *end;
    unsigned long p = colon ? strtoul(colon + 1, &end, 10) : 0;
    if (!colon || colon == v || *end || p == 0 || p > 65535 || (size_t)(colon - v) >= sizeof(c->host))
        return -EINVAL;
    memcpy(c->host, v, (size_t)(colon - v));
    c->host[colon - v] = '\0';
    c->port = (unsigned)p;
    c->redis_given = true;
    return 0;
}

/* call-hash CALL-ID: what logs and Redis key names write for that Call-ID
 * (log_call_hash, keyed from FRONTDESK_CALLER_KEY as the daemon's) */
static int call_hash(const char *callid)
{
    unsigned char key[32];
    size_t n = 0;
    const char *hex = getenv("FRONTDESK_CALLER_KEY");
    bool keyed = hex && *hex;
    if (keyed && (strlen(hex) != 64 || sodium_hex2bin(key, sizeof(key), hex, 64, NULL, &n, NULL) != 0 || n != 32)) {
        fprintf(stderr, "frontdeskctl: FRONTDESK_CALLER_KEY must be 64 hex digits\n");
        return 2;
    }
    if (log_init(keyed ? key : NULL) < 0) return 2;
    char h[LOG_CALL_HASH_LEN + 1];
    log_call_hash(callid, strlen(callid), h);
    puts(h);
    return 0;
}

/* key new: a fresh caller key, 32 random bytes as 64 hex digits */
static int key_new(void)
{
    unsigned char key[32];
    char hex[sizeof(key) * 2 + 1];
    randombytes_buf(key, sizeof(key));
    sodium_bin2hex(hex, sizeof(hex), key, sizeof(key));
    sodium_memzero(key, sizeof(key));
    puts(hex);
    sodium_memzero(hex, sizeof(hex));
    return 0;
}

int main(int argc, char **argv)
{
    ctl_t c = { .port = 6379 };
    int i = 1;

    snprintf(c.host, sizeof(c.host), "127.0.0.1");
    if (sodium_init() < 0) return 2;
    /* --redis and --password may stand before or after the command */
    for (int j = 1; j < argc;) {
        int take = 0;
        if (!strcmp(argv[j], "--redis") || !strcmp(argv[j], "--password") || !strcmp(argv[j], "--user")) {
            if (j + 1 >= argc) return die_usage("--redis, --password and --user need a value");
            if (argv[j][2] == 'r' && set_redis(&c, argv[j + 1]) < 0) return die_usage("--redis: want HOST:PORT");
            if (argv[j][2] == 'p') c.password = argv[j + 1];
            if (argv[j][2] == 'u') c.user = argv[j + 1];
            take = 2;
        }
        if (take) {
            for (int k = j; k + take <= argc; k++) argv[k] = argv[k + take];
            argc -= take;
        } else {
            j++;
        }
    }
    if (i < argc && (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))) {
        fputs(usage, stdout);
        return 0;
    }
    if (i < argc && !strcmp(argv[i], "--version")) {
        printf("frontdeskctl %s\n", FRONTDESK_VERSION);
        return 0;
    }
    if (i < argc && !strcmp(argv[i], "watch") && argc == 2) return watch(&c);
    if (i + 2 == argc && !strcmp(argv[i], "call-hash")) return call_hash(argv[i + 1]);
    if (i + 2 > argc) return die_usage(NULL);
    const char *a = argv[i], *b = argv[i + 1];
    int rest = argc - i - 2;
    char **args = argv + i + 2;
    int rc;

    if (!strcmp(a, "key") && !strcmp(b, "new") && rest == 0) return key_new();
    if (!strcmp(a, "rules") && !strcmp(b, "check") && rest == 1) rc = rules_check(&c, args[0]);
    else if (!strcmp(a, "route") && !strcmp(b, "explain")) rc = route_explain(&c, rest + 1, args - 1);
    else if (!strcmp(a, "report")) rc = ctl_report(report_redis, &c, b, rest + 1, args - 1);
    else if (!strcmp(a, "presence") && !strcmp(b, "set") && (rest == 3 || rest == 4))
        rc = fcall(&c, "FCALL", "fd_presence", args[0], rest - 1, args + 1);
    else if (!strcmp(a, "presence") && !strcmp(b, "get") && rest == 2)
        rc = fcall(&c, "FCALL_RO", "fd_staff_get", args[0], 1, args + 1);
    else if (!strcmp(a, "presence") && !strcmp(b, "list") && rest == 1) rc = presence_list(&c, args[0]);
    else if (!strcmp(a, "staff") && !strcmp(b, "add") && rest >= 4 && rest <= 6)
        rc = fcall(&c, "FCALL", "fd_staff_set", args[0], rest - 1, args + 1);
    else if (!strcmp(a, "staff") && !strcmp(b, "remove") && rest == 2)
        rc = fcall(&c, "FCALL", "fd_staff_remove", args[0], 1, args + 1);
    else if (!strcmp(a, "skills") && !strcmp(b, "set") && rest == 3)
        rc = fcall(&c, "FCALL", "fd_skills_set", args[0], 2, args + 1);
    else if (!strcmp(a, "call") && !strcmp(b, "end") && rest == 2)
        rc = fcall(&c, "FCALL", "fd_call_end", args[0], 1, args + 1);
    else return die_usage("unknown command or wrong number of arguments");

    if (c.rc) redisFree(c.rc);
    return rc;
}

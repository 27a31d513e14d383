/* bench_pick -- the cost of one pick in Redis as the clinic network grows.
 *
 * Seeds <sites> x <staff> through the frontdesk functions (fd_staff_set;
 * <skills> skills each of six, with proficiencies, 70% available), then
 * runs <picks> FCALL fd_pick one at a time (never pipelined), each a
 * two-step chain (a random site's skill, then another site's) built by the
 * proxy's own store_build_pick, with the strategy asked (or each in turn:
 * mix), caller-aware with a caller from a pool of 1000 if asked; while a
 * second connection churns presence at <churn> updates/s like dashboards
 * do. Prints the round-trip latency of fd_pick (p50, p99), the Redis CPU
 * per pick (INFO cpu before and after, churn included) and the FCALL
 * execution time per call (INFO commandstats; churn's FCALLs included, so
 * give --churn 0 for the pick alone). Picks reserve for 1 ms (--offer), so
 * they keep finding staff; --history has each pick write its call history
 * record too (90 days kept, as the proxy's default). Bounded: --picks and --seconds. Loopback Redis
 * only.
 *
 *   build/bench_pick --redis 127.0.0.1:PORT [--sites 500] [--staff 40] [--skills 4]
 *                    [--strategy li|rr|ms|fo|mix] [--caller-aware] [--offer 1] [--history]
 *                    [--picks 20000] [--churn 200] [--seconds 60] [--json]
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis.h>

#include "store.h"

static const char *skills[] = { "scheduling", "billing", "intake", "refills", "records", "referrals" };
#define N_SKILLS 6
static const char *states[] = { "available", "available", "available", "available", "available",
                                "available", "available", "busy", "break", "offline" };

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double redis_cpu(redisContext *c)
{
    redisReply *r = redisCommand(c, "INFO cpu");
    double user = 0, sys = 0;
    if (r && r->type == REDIS_REPLY_STRING) {
        char *p = strstr(r->str, "used_cpu_user:");
        char *q = strstr(r->str, "used_cpu_sys:");
        if (p) user = atof(p + 14);
        if (q) sys = atof(q + 13);
    }
    freeReplyObject(r);
    return user + sys;
}

static long redis_mem(redisContext *c)
{
    redisReply *r = redisCommand(c, "INFO memory");
    long m = 0;
    char *p;
    if (r && r->type == REDIS_REPLY_STRING && (p = strstr(r->str, "used_memory:"))) m = atol(p + 12);
    freeReplyObject(r);
    return m;
}

/* usec and calls of FCALL since CONFIG RESETSTAT (picks and churn). */
static void fcall_stats(redisContext *c, double *usec, long *calls)
{
    redisReply *r = redisCommand(c, "INFO commandstats");
    char *p;
    *usec = 0, *calls = 0;
    if (r && r->type == REDIS_REPLY_STRING && (p = strstr(r->str, "cmdstat_fcall:calls="))) {
        *calls = atol(p + 20);
        char *u = strstr(p, "usec=");
        if (u) *usec = atof(u + 5);
    }
    freeReplyObject(r);
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int die(const char *msg, redisContext *c)
{
    fprintf(stderr, "bench_pick: %s%s%s\n", msg, c && c->err ? ": " : "", c && c->err ? c->errstr : "");
    return 2;
}

int main(int argc, char **argv)
{
    char host[64] = "127.0.0.1";
    int port = 6379;
    long sites = 500, staff = 40, picks = 20000, churn = 200, seconds = 60, nskills = 4, offer = 1;
    const char *strategy = "li";
    bool json = false, caller_aware = false, history = false;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--json")) { json = true; continue; }
        if (!strcmp(a, "--caller-aware")) { caller_aware = true; continue; }
        if (!strcmp(a, "--history")) { history = true; continue; }
        if (!v) return die("every flag but --json takes a value", NULL);
        i++;
        if (!strcmp(a, "--redis")) {
            const char *colon = strrchr(v, ':');
            if (!colon || (size_t)(colon - v) >= sizeof(host)) return die("--redis HOST:PORT", NULL);
            memcpy(host, v, (size_t)(colon - v));
            host[colon - v] = '\0';
            port = atoi(colon + 1);
        } else if (!strcmp(a, "--sites")) sites = atol(v);
        else if (!strcmp(a, "--staff")) staff = atol(v);
        else if (!strcmp(a, "--picks")) picks = atol(v);
        else if (!strcmp(a, "--churn")) churn = atol(v);
        else if (!strcmp(a, "--seconds")) seconds = atol(v);
        else if (!strcmp(a, "--skills")) nskills = atol(v);
        else if (!strcmp(a, "--offer")) offer = atol(v);
        else if (!strcmp(a, "--strategy")) strategy = v;
        else return die("unknown flag (see the comment at the top of bench/micro/bench_pick.c)", NULL);
    }
    struct in_addr ia;
    if (inet_pton(AF_INET, host, &ia) != 1 || (ntohl(ia.s_addr) >> 24) != 127)
        return die("--redis must be a 127.x.x.x address", NULL);
    if (sites < 2 || sites > 5000 || staff < 1 || staff > 1000 || picks < 1 || picks > 10000000 ||
        churn < 0 || churn > 100000 || seconds < 1 || seconds > 3600 || nskills < 1 ||
        nskills > N_SKILLS || offer < 1 || offer > 3600000)
        return die("a value out of range", NULL);
    static const struct { const char *name; rules_strategy_t st; unsigned min; } strats[] = {
        { "li", RULES_LONGEST_IDLE, 1 }, { "ms", RULES_MOST_SKILLED, 2 },
        { "fo", RULES_FEWEST_OFFERS, 1 }, { "rr", RULES_ROUND_ROBIN, 1 },
    };
    int strat = -1; /* -1: mix */
    for (int i = 0; i < 4; i++)
        if (!strcmp(strategy, strats[i].name)) strat = i;
    if (strat < 0 && strcmp(strategy, "mix") != 0) return die("--strategy li, rr, ms, fo or mix", NULL);

    redisContext *c = redisConnect(host, port), *ch = redisConnect(host, port);
    if (!c || c->err || !ch || ch->err) return die("cannot connect", c && c->err ? c : ch);
    char lerr[300];
    if (store_lib_ensure_sync(c, lerr, sizeof(lerr)) < 0) return die(lerr, NULL);
    redisReply *r = redisCommand(c, "FLUSHALL");
    freeReplyObject(r);

    /* seed, pipelined */
    srand(42);
    double t0 = now_s();
    long pending = 0;
    for (long s = 0; s < sites; s++) {
        char key[32];
        snprintf(key, sizeof(key), "fd:{s%04ld}", s);
        for (long i = 0; i < staff; i++) {
            char id[32], contact[96], sk[128];
            snprintf(id, sizeof(id), "st%04ld", i);
            snprintf(contact, sizeof(contact), "sip:st%04ld@pbx.s%04ld.example", i, s);
            /* <nskills> distinct skills from a random start, levels 1-5 */
            int first = rand() % N_SKILLS;
            size_t o = 0;
            sk[0] = '\0';
            for (long j = 0; j < nskills && o < sizeof(sk); j++)
                o += (size_t)snprintf(sk + o, sizeof(sk) - o, "%s%s:%d", j ? "," : "",
                                      skills[(first + j) % N_SKILLS], 1 + rand() % 5);
            redisAppendCommand(c, "FCALL fd_staff_set 1 %s %s %s %s %s", key, id, contact, sk,
                               states[rand() % 10]);
            if (++pending == 1000) {
                for (; pending; pending--) {
                    if (redisGetReply(c, (void **)&r) != REDIS_OK) return die("seed failed", c);
                    freeReplyObject(r);
                }
            }
        }
    }
    for (; pending; pending--) {
        if (redisGetReply(c, (void **)&r) != REDIS_OK) return die("seed failed", c);
        freeReplyObject(r);
    }
    double seed_s = now_s() - t0;
    long mem = redis_mem(c);

    /* warm up: the first pick of a queue at a site builds it (once, O(staff)) */
    {
        char offer_w[] = "1";
        for (long si = 0; si < sites; si++)
            for (int sk = 0; sk < N_SKILLS; sk++)
                for (int k = 0; k < 4; k++) {
                    if (strat >= 0 && k != strat) continue;
                    char n1[16], cid[48];
                    snprintf(n1, sizeof(n1), "s%04ld", si);
                    snprintf(cid, sizeof(cid), "warm-%ld-%ld-%d-%d", (long)time(NULL), si, sk, k);
                    plan_t plan = { .kind = PLAN_PICK, .site = n1, .max_contacts = 1, .local_date = 20261203 };
                    plan.chain[0] = (plan_step_t){ PLAN_STEP_PICK, n1, skills[sk], strats[k].st, strats[k].min, NULL };
                    plan.chain[1] = (plan_step_t){ PLAN_STEP_URI, NULL, NULL, 0, 0, "sip:desk@bench.example" };
                    plan.n_chain = 2;
                    store_argv_t av;
                    if (store_build_pick(&av, "FCALL", "fd_pick", &plan, cid, strlen(cid), offer_w, "1000", NULL, NULL) < 0)
                        return die("store_build_pick failed", NULL);
                    redisAppendCommandArgv(c, (int)av.argc, av.argv, av.lens);
                    pending++;
                }
        for (; pending; pending--) {
            if (redisGetReply(c, (void **)&r) != REDIS_OK) return die("warm-up failed", c);
            freeReplyObject(r);
        }
    }

    /* picks, one at a time, with churn on the other connection */
    char offer_s[16];
    snprintf(offer_s, sizeof(offer_s), "%ld", offer);
    long run_id = (long)time(NULL);
    double *lat = malloc(sizeof(double) * (size_t)picks);
    r = redisCommand(c, "CONFIG RESETSTAT");
    freeReplyObject(r);
    double cpu0 = redis_cpu(c), start = now_s(), next_churn = start;
    long done = 0, churned = 0, errors = 0, staffed = 0, churn_pending = 0;
    while (done < picks && now_s() - start < (double)seconds) {
        while (churn && now_s() >= next_churn) {
            char key[32], id[32];
            snprintf(key, sizeof(key), "fd:{s%04ld}", (long)(rand() % sites));
            snprintf(id, sizeof(id), "st%04ld", (long)(rand() % staff));
            redisAppendCommand(ch, "FCALL fd_presence 1 %s %s %s", key, id, states[rand() % 10]);
            churn_pending++;
            churned++;
            next_churn += 1.0 / (double)churn;
        }
        if (churn_pending > 50) { /* drain the dashboards' replies */
            for (; churn_pending; churn_pending--) {
                if (redisGetReply(ch, (void **)&r) != REDIS_OK) return die("churn failed", ch);
                freeReplyObject(r);
            }
        }
        char n1[16], n2[16], cid[48];
        long s1 = rand() % sites, s2 = (s1 + 1 + rand() % (sites - 1)) % sites;
        const char *skill = skills[rand() % N_SKILLS];
        int k = strat >= 0 ? strat : (int)(done % 4);
        snprintf(n1, sizeof(n1), "s%04ld", s1);
        snprintf(n2, sizeof(n2), "s%04ld", s2);
        snprintf(cid, sizeof(cid), "bench-%ld-%ld", run_id, done);
        plan_t plan = { .kind = PLAN_PICK, .site = n1, .max_contacts = 2, .local_date = 20261203 };
        plan.chain[0] = (plan_step_t){ PLAN_STEP_PICK, n1, skill, strats[k].st, strats[k].min, NULL };
        plan.chain[1] = (plan_step_t){ PLAN_STEP_PICK, n2, skill, strats[k].st, strats[k].min, NULL };
        plan.chain[2] = (plan_step_t){ PLAN_STEP_URI, NULL, NULL, 0, 0, "sip:desk@bench.example" };
        plan.n_chain = 3;
        if (caller_aware) {
            plan.caller_aware = true;
            plan.caller_window_s = 30 * 86400;
            snprintf(plan.caller, sizeof(plan.caller), "%032x", (unsigned)(rand() % 1000));
        }
        store_argv_t av;
        store_hist_t hist = { "15125550100", "2", plan.chain[0].skill };
        if (store_build_pick(&av, "FCALL", "fd_pick", &plan, cid, strlen(cid), offer_s, "1000",
                             history ? "d7776000000" : NULL, history ? &hist : NULL) < 0)
            return die("store_build_pick failed", NULL);
        double t = now_s();
        r = redisCommandArgv(c, (int)av.argc, av.argv, av.lens);
        lat[done++] = (now_s() - t) * 1e6;
        if (!r || r->type != REDIS_REPLY_ARRAY) {
            if (r && r->type == REDIS_REPLY_ERROR && errors == 0) fprintf(stderr, "bench_pick: %s\n", r->str);
            errors++;
        }
        else if (r->elements > 1) staffed++;
        freeReplyObject(r);
    }
    for (; churn_pending; churn_pending--) {
        if (redisGetReply(ch, (void **)&r) != REDIS_OK) break;
        freeReplyObject(r);
    }
    double elapsed = now_s() - start, cpu = redis_cpu(c) - cpu0, fusec;
    long fcalls;
    fcall_stats(c, &fusec, &fcalls);
    double fn_us = fcalls ? fusec / (double)fcalls : 0;
    qsort(lat, (size_t)done, sizeof(double), cmp);
    double p50 = lat[done / 2], p99 = lat[(size_t)((double)done * 0.99)];
    double cpu_us = cpu * 1e6 / (double)done;

    if (json)
        printf("{\"sites\":%ld,\"staff_per_site\":%ld,\"staff\":%ld,\"picks\":%ld,\"errors\":%ld,"
               "\"staffed\":%ld,\"skills\":%ld,\"strategy\":\"%s\",\"caller_aware\":%s,\"churn_per_s\":%ld,\"churned\":%ld,\"elapsed_s\":%.2f,"
               "\"fcall_p50_us\":%.1f,\"fcall_p99_us\":%.1f,\"redis_cpu_us_per_pick\":%.1f,"
               "\"fcall_usec_per_call\":%.1f,\"redis_mem_bytes\":%ld,\"seed_s\":%.2f}\n",
               sites, staff, sites * staff, done, errors, staffed, nskills, strategy,
               caller_aware ? "true" : "false", churn, churned, elapsed, p50, p99,
               cpu_us, fn_us, mem, seed_s);
    else
        printf("bench_pick: %ld sites x %ld staff = %ld staff, %ld skills each (seeded in %.1f s, Redis %.1f MB)\n"
               "  strategy %s%s\n"
               "  picks %ld (%ld found staff, %ld errors) in %.1f s, churn %ld/s (%ld updates)\n"
               "  fd_pick round trip p50 %.0f us, p99 %.0f us; Redis CPU %.1f us per pick (all of it,\n"
               "  I/O and churn included); FCALL execution %.1f us per call (commandstats)\n",
               sites, staff, sites * staff, nskills, seed_s, (double)mem / 1e6, strategy,
               caller_aware ? ", caller-aware" : "", done, staffed, errors, elapsed,
               churn, churned, p50, p99, cpu_us, fn_us);
    free(lat);
    redisFree(c);
    redisFree(ch);
    return errors ? 1 : 0;
}

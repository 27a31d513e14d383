/* bench_pick -- the cost of one pick in Redis as the clinic network grows.
 *
 * Seeds <sites> x <staff> through the frontdesk functions (fd_staff_set;
 * skills with proficiencies, 70% available), then runs <picks> FCALL fd_pick
 * one at a time, each a two-step chain (a random site's skill, then another
 * site's), while a second connection churns presence at <churn> updates/s
 * like dashboards do. Prints the round-trip latency of fd_pick (p50, p99)
 * and the Redis CPU per pick (INFO cpu before and after, churn included).
 * Bounded: --picks and --seconds. Loopback Redis only.
 *
 *   build/bench_pick --redis 127.0.0.1:PORT [--sites 500] [--staff 40]
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

static const char *skills[] = { "scheduling", "billing", "intake" };
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
    long sites = 500, staff = 40, picks = 20000, churn = 200, seconds = 60;
    bool json = false;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--json")) { json = true; continue; }
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
        else return die("unknown flag (see the comment at the top of bench/micro/bench_pick.c)", NULL);
    }
    struct in_addr ia;
    if (inet_pton(AF_INET, host, &ia) != 1 || (ntohl(ia.s_addr) >> 24) != 127)
        return die("--redis must be a 127.x.x.x address", NULL);
    if (sites < 2 || sites > 5000 || staff < 1 || staff > 1000 || picks < 1 || picks > 10000000 ||
        churn < 0 || churn > 100000 || seconds < 1 || seconds > 3600)
        return die("a value out of range", NULL);

    redisContext *c = redisConnect(host, port), *ch = redisConnect(host, port);
    if (!c || c->err || !ch || ch->err) return die("cannot connect", c && c->err ? c : ch);
    redisReply *r = redisCommand(c, "FUNCTION LOAD REPLACE %s", store_lua_source);
    if (!r || r->type == REDIS_REPLY_ERROR) return die("FUNCTION LOAD failed", c);
    freeReplyObject(r);
    r = redisCommand(c, "FLUSHALL");
    freeReplyObject(r);

    /* seed, pipelined */
    srand(42);
    double t0 = now_s();
    long pending = 0;
    for (long s = 0; s < sites; s++) {
        char key[32];
        snprintf(key, sizeof(key), "fd:{s%04ld}", s);
        for (long i = 0; i < staff; i++) {
            char id[32], contact[96], sk[64];
            snprintf(id, sizeof(id), "st%04ld", i);
            snprintf(contact, sizeof(contact), "sip:st%04ld@pbx.s%04ld.example", i, s);
            int a = rand() % 3, b = (a + 1 + rand() % 2) % 3;
            snprintf(sk, sizeof(sk), "%s:%d,%s:%d", skills[a], 1 + rand() % 5, skills[b], 1 + rand() % 5);
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

    /* picks, one at a time, with churn on the other connection */
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
        char k1[32], k2[32], cid[32];
        long s1 = rand() % sites, s2 = (s1 + 1 + rand() % (sites - 1)) % sites;
        const char *skill = skills[rand() % 3];
        snprintf(k1, sizeof(k1), "fd:{s%04ld}", s1);
        snprintf(k2, sizeof(k2), "fd:{s%04ld}", s2);
        snprintf(cid, sizeof(cid), "bench-%ld", done);
        double t = now_s();
        r = redisCommand(c, "FCALL fd_pick 2 %s %s %s 2 1 1000 %s 0 %s 2 1 %s longest_idle 1 2 %s longest_idle 1",
                         k1, k2, cid, "", "", skill, skill);
        lat[done++] = (now_s() - t) * 1e6;
        if (!r || r->type != REDIS_REPLY_ARRAY) errors++;
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
               "\"staffed\":%ld,\"churn_per_s\":%ld,\"churned\":%ld,\"elapsed_s\":%.2f,"
               "\"fcall_p50_us\":%.1f,\"fcall_p99_us\":%.1f,\"redis_cpu_us_per_pick\":%.1f,"
               "\"fcall_usec_per_call\":%.1f,\"redis_mem_bytes\":%ld,\"seed_s\":%.2f}\n",
               sites, staff, sites * staff, done, errors, staffed, churn, churned, elapsed, p50, p99,
               cpu_us, fn_us, mem, seed_s);
    else
        printf("bench_pick: %ld sites x %ld staff = %ld staff (seeded in %.1f s, Redis %.1f MB)\n"
               "  picks %ld (%ld found staff, %ld errors) in %.1f s, churn %ld/s (%ld updates)\n"
               "  fd_pick round trip p50 %.0f us, p99 %.0f us; Redis CPU %.1f us per pick (all of it,\n"
               "  I/O and churn included); FCALL execution %.1f us per call (commandstats)\n",
               sites, staff, sites * staff, seed_s, (double)mem / 1e6, done, staffed, errors, elapsed,
               churn, churned, p50, p99, cpu_us, fn_us);
    free(lat);
    redisFree(c);
    redisFree(ch);
    return errors ? 1 : 0;
}

/* seed.c -- `fd-bench seed` (see seed.h).
 *
 * The network is derived, not stored: staff member (site, n) is computed
 * again from the generator's state wherever it is needed, and the
 * generator is walked once in a fixed order into a small array, so the
 * Redis writes, the rules and the truth cannot disagree.
 */
#include "seed.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rconn.h"

#define SEED_MAX_SITES 9999u
#define SEED_MAX_STAFF 250u   /* per site: the last byte of the contact's address */
#define SEED_BATCH 256u       /* commands in flight per pipeline round */
#define SEED_NSKILLS 3u
#define SEED_MAX_CONTACTS 2u
#define SEED_ID_MAX 32

static const char *const seed_skill[SEED_NSKILLS] = {"scheduling", "billing", "intake"};
static const char *const seed_zone[] = {"America/New_York", "America/Chicago", "America/Denver",
                                        "America/Los_Angeles"};

typedef struct {
    unsigned sites, staff, available;
    uint64_t seed;
    const char *rules_out, *truth_out;
    rconn_addr_t redis;
    bool help;
} seed_opts_t;

typedef struct {
    uint8_t level[SEED_NSKILLS]; /* 0: no such skill */
    const char *state;
} seed_staff_t;

static const char seed_usage[] =
    "usage: fd-bench seed --redis HOST:PORT [flags]\n"
    "Write a synthetic clinic network into a Redis on this host, through the\n"
    "frontdesk functions, with its rules file and the truth for fd-bench run --truth.\n"
    "\n"
    "  --redis HOST:PORT      Redis, loopback only (127.0.0.0/8, [::1]); default 127.0.0.1:6379\n"
    "  --sites N              sites (default 200, at most 9999)\n"
    "  --staff-per-site M     staff per site (default 40, at most 250)\n"
    "  --available PCT        share of staff seeded available (default 70); the rest\n"
    "                         busy, on a break or offline (2:1:1)\n"
    "  --rules-out FILE       write the routing rules (YAML) there\n"
    "  --truth-out FILE       write the truth file there (fd-bench run --truth)\n"
    "  --seed S               random seed (default 1): same flags, same network\n"
    "  --user USER            ACL user for AUTH\n"
    "  --password PW          AUTH password (or REDISCLI_AUTH in the environment)\n"
    "\n"
    "Exit status: 0 seeded, 1 Redis refused a command or a file could not be\n"
    "written, 2 bad flags or Redis unreachable.\n";

/* ---------------------------------------------------------------------------
 * The network, derived from the seed
 * ------------------------------------------------------------------------ */

static uint64_t seed_next(uint64_t *s) /* splitmix64 */
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static unsigned seed_below(uint64_t *s, unsigned n)
{
    return (unsigned)(seed_next(s) % n);
}

/* Every staff member, site by site, in one array of sites * staff. */
static seed_staff_t *seed_model(const seed_opts_t *o)
{
    seed_staff_t *m = calloc((size_t)o->sites * o->staff, sizeof(*m));
    uint64_t rs = o->seed;
    if (!m) return NULL;
    for (size_t i = 0; i < (size_t)o->sites * o->staff; i++) {
        seed_staff_t *p = &m[i];
        unsigned main_skill = (unsigned)(i % o->staff) % SEED_NSKILLS;
        for (unsigned k = 0; k < SEED_NSKILLS; k++)
            if (k == main_skill || seed_below(&rs, 100) < 35)
                p->level[k] = (uint8_t)(1 + seed_below(&rs, 5));
        unsigned r = seed_below(&rs, 100);
        if (r < o->available) p->state = "available";
        else {
            unsigned rest = seed_below(&rs, 4);
            p->state = rest < 2 ? "busy" : rest == 2 ? "break" : "offline";
        }
    }
    return m;
}

static void seed_site_id(char out[SEED_ID_MAX], unsigned site)
{
    snprintf(out, SEED_ID_MAX, "s%04u", site);
}

static void seed_staff_id(char out[SEED_ID_MAX], unsigned site, unsigned n)
{
    snprintf(out, SEED_ID_MAX, "s%04u-%03u", site, n);
}

static void seed_contact(char *out, size_t cap, unsigned site, unsigned n)
{
    snprintf(out, cap, "sip:s%04u-%03u@10.%u.%u.%u:5060", site, n, site >> 8, site & 255u, n);
}

static void seed_fallback(char *out, size_t cap, unsigned site)
{
    snprintf(out, cap, "sip:desk-s%04u@fallback.clinic.example", site);
}

static void seed_skills(char *out, size_t cap, const seed_staff_t *p)
{
    size_t len = 0;
    out[0] = '\0';
    for (unsigned k = 0; k < SEED_NSKILLS; k++)
        if (p->level[k])
            len += (size_t)snprintf(out + len, cap - len, "%s%s:%u", len ? "," : "", seed_skill[k],
                                    p->level[k]);
}

/* ---------------------------------------------------------------------------
 * Redis
 * ------------------------------------------------------------------------ */

/* Read <n> pipelined replies; count the error ones (the first is echoed). */
static int seed_replies(redisContext *c, unsigned n, const char *what, unsigned long *errors)
{
    for (unsigned i = 0; i < n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK) {
            fprintf(stderr, "fd-bench seed: Redis connection lost during %s: %s\n", what, c->errstr);
            return -1;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            if ((*errors)++ == 0) fprintf(stderr, "fd-bench seed: %s: %s\n", what, r->str);
        }
        freeReplyObject(r);
    }
    return 0;
}

/* Is <id> one of the staff this seed writes at <site>? */
static bool seed_is_ours(const seed_opts_t *o, unsigned site, const char *id)
{
    unsigned s, n;
    int used = 0;
    if (strlen(id) != 9 || sscanf(id, "s%4u-%3u%n", &s, &n, &used) != 2 || used != 9) return false;
    return s == site && n >= 1 && n <= o->staff;
}

/* Remove, through fd_staff_remove, whoever an earlier seed left at our
 * sites that this one does not write (a smaller --staff-per-site). */
static int seed_remove_stale(redisContext *c, const seed_opts_t *o, unsigned long *removed,
                             unsigned long *errors)
{
    for (unsigned first = 1; first <= o->sites; first += SEED_BATCH) {
        unsigned last = first + SEED_BATCH - 1 < o->sites ? first + SEED_BATCH - 1 : o->sites;
        char key[48], sid[SEED_ID_MAX];
        for (unsigned s = first; s <= last; s++) {
            seed_site_id(sid, s);
            snprintf(key, sizeof(key), "fd:{%s}", sid);
            redisAppendCommand(c, "FCALL_RO fd_staff_list 1 %s", key);
        }
        unsigned queued = 0;
        for (unsigned s = first; s <= last; s++) {
            redisReply *r = NULL;
            if (redisGetReply(c, (void **)&r) != REDIS_OK) {
                fprintf(stderr, "fd-bench seed: Redis connection lost: %s\n", c->errstr);
                return -1;
            }
            seed_site_id(sid, s);
            snprintf(key, sizeof(key), "fd:{%s}", sid);
            /* fd_staff_list: id, state, skills, contact per member */
            for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 3 < r->elements; i += 4) {
                const redisReply *id = r->element[i];
                if (id->type != REDIS_REPLY_STRING || seed_is_ours(o, s, id->str)) continue;
                redisAppendCommand(c, "FCALL fd_staff_remove 1 %s %s", key, id->str);
                queued++;
            }
            freeReplyObject(r);
        }
        *removed += queued;
        if (seed_replies(c, queued, "fd_staff_remove", errors) < 0) return -1;
    }
    return 0;
}

/* fd_staff_set for everyone, SEED_BATCH commands per round trip. */
static int seed_write(redisContext *c, const seed_opts_t *o, const seed_staff_t *m,
                      unsigned long *errors)
{
    size_t total = (size_t)o->sites * o->staff;
    for (size_t first = 0; first < total; first += SEED_BATCH) {
        size_t last = first + SEED_BATCH < total ? first + SEED_BATCH : total;
        for (size_t i = first; i < last; i++) {
            unsigned site = (unsigned)(i / o->staff) + 1, n = (unsigned)(i % o->staff) + 1;
            char key[48], sid[SEED_ID_MAX], id[SEED_ID_MAX], contact[80], skills[80];
            seed_site_id(sid, site);
            snprintf(key, sizeof(key), "fd:{%s}", sid);
            seed_staff_id(id, site, n);
            seed_contact(contact, sizeof(contact), site, n);
            seed_skills(skills, sizeof(skills), &m[i]);
            redisAppendCommand(c, "FCALL fd_staff_set 1 %s %s %s %s %s", key, id, contact, skills,
                               m[i].state);
        }
        if (seed_replies(c, (unsigned)(last - first), "fd_staff_set", errors) < 0) return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------------------
 * Files
 * ------------------------------------------------------------------------ */

static void seed_rules(FILE *f, const seed_opts_t *o)
{
    fprintf(f,
            "# Synthetic clinic network written by `fd-bench seed --sites %u --staff-per-site %u\n"
            "# --available %u --seed %llu`: its staff are in Redis, its truth in the truth file.\n"
            "# No hours: every site is always open, so a bench run does not depend on the clock.\n"
            "# The load comes from this machine: loopback is the trunk (and the trusted-source\n"
            "# check runs on every call, as in production).\n"
            "version: 1\n"
            "option_separator: \"*\"\n"
            "trusted: [\"127.0.0.0/8\", \"::1\"]\n"
            "groups:\n"
            "  - name: Bench Clinic Network\n"
            "    sites:\n",
            o->sites, o->staff, o->available, (unsigned long long)o->seed);
    for (unsigned s = 1; s <= o->sites; s++) {
        char sid[SEED_ID_MAX], fb[80];
        seed_site_id(sid, s);
        seed_fallback(fb, sizeof(fb), s);
        fprintf(f,
                "      - id: %s\n"
                "        name: Clinic %u\n"
                "        timezone: %s\n"
                "        dids: [\"+1 555 0%06u\"]\n"
                "        default_skill: scheduling\n"
                "        menu:\n"
                "          \"1\": scheduling\n"
                "          \"2\":\n"
                "            skill: billing\n"
                "            strategy: most_skilled\n"
                "            min_level: 2\n"
                "          \"3\":\n"
                "            skill: intake\n"
                "            strategy: fewest_offers\n"
                "        max_contacts: %u\n"
                "        fallback: %s\n",
                sid, s, seed_zone[s % (sizeof(seed_zone) / sizeof(*seed_zone))], s,
                SEED_MAX_CONTACTS, fb);
    }
}

static void seed_truth(FILE *f, const seed_opts_t *o, const seed_staff_t *m)
{
    fprintf(f,
            "# fd-bench truth: seed %llu, %u sites x %u staff, %u%% available\n"
            "# menu <option|-> <skill> <min_level>\n"
            "# site <id> <did> <max_contacts> <fallback>\n"
            "# staff <site> <id> <contact> <state> <skills>\n"
            "menu - scheduling 1\n"
            "menu 1 scheduling 1\n"
            "menu 2 billing 2\n"
            "menu 3 intake 1\n",
            (unsigned long long)o->seed, o->sites, o->staff, o->available);
    for (unsigned s = 1; s <= o->sites; s++) {
        char sid[SEED_ID_MAX], fb[80];
        seed_site_id(sid, s);
        seed_fallback(fb, sizeof(fb), s);
        fprintf(f, "site %s 15550%06u %u %s\n", sid, s, SEED_MAX_CONTACTS, fb);
        for (unsigned n = 1; n <= o->staff; n++) {
            const seed_staff_t *p = &m[(size_t)(s - 1) * o->staff + n - 1];
            char id[SEED_ID_MAX], contact[80], skills[80];
            seed_staff_id(id, s, n);
            seed_contact(contact, sizeof(contact), s, n);
            seed_skills(skills, sizeof(skills), p);
            fprintf(f, "staff %s %s %s %s %s\n", sid, id, contact, p->state, skills);
        }
    }
}

/* Write <path> through a temporary file renamed into place, so a reader
 * never sees half a file. 0 or -1 (message printed). */
static int seed_file(const char *path, const seed_opts_t *o, const seed_staff_t *m,
                     void (*write)(FILE *, const seed_opts_t *, const seed_staff_t *))
{
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
        fprintf(stderr, "fd-bench seed: %s: path too long\n", path);
        return -1;
    }
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "fd-bench seed: %s: %s\n", tmp, strerror(errno));
        return -1;
    }
    write(f, o, m);
    bool bad = ferror(f) != 0;
    if (fclose(f) != 0 || bad || rename(tmp, path) != 0) {
        fprintf(stderr, "fd-bench seed: cannot write %s: %s\n", path, strerror(errno));
        remove(tmp);
        return -1;
    }
    return 0;
}

static void seed_rules_file(FILE *f, const seed_opts_t *o, const seed_staff_t *m)
{
    (void)m;
    seed_rules(f, o);
}

/* ---------------------------------------------------------------------------
 * Flags and main
 * ------------------------------------------------------------------------ */

static bool seed_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
    char *end;
    if (!s || *s < '0' || *s > '9') return false;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v < min || v > max) return false;
    *out = (unsigned)v;
    return true;
}

static int seed_parse_args(seed_opts_t *o, int argc, char **argv, char *err, size_t errlen)
{
    enum { O_REDIS = 256, O_SITES, O_STAFF, O_AVAIL, O_RULES, O_TRUTH, O_SEED, O_USER, O_PW, O_HELP };
    static const struct option longopts[] = {
        {"redis", required_argument, NULL, O_REDIS},
        {"sites", required_argument, NULL, O_SITES},
        {"staff-per-site", required_argument, NULL, O_STAFF},
        {"available", required_argument, NULL, O_AVAIL},
        {"rules-out", required_argument, NULL, O_RULES},
        {"truth-out", required_argument, NULL, O_TRUTH},
        {"seed", required_argument, NULL, O_SEED},
        {"user", required_argument, NULL, O_USER},
        {"password", required_argument, NULL, O_PW},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    int c;
    memset(o, 0, sizeof(*o));
    o->sites = 200;
    o->staff = 40;
    o->available = 70;
    o->seed = 1;
    rconn_parse(&o->redis, "127.0.0.1:6379", err, errlen);
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case O_REDIS:
            if (rconn_parse(&o->redis, optarg, err, errlen) < 0) return -EINVAL;
            break;
        case O_SITES:
            if (!seed_uint(optarg, 1, SEED_MAX_SITES, &o->sites)) {
                snprintf(err, errlen, "--sites '%s': want 1..%u", optarg, SEED_MAX_SITES);
                return -EINVAL;
            }
            break;
        case O_STAFF:
            if (!seed_uint(optarg, 1, SEED_MAX_STAFF, &o->staff)) {
                snprintf(err, errlen, "--staff-per-site '%s': want 1..%u", optarg, SEED_MAX_STAFF);
                return -EINVAL;
            }
            break;
        case O_AVAIL:
            if (!seed_uint(optarg, 0, 100, &o->available)) {
                snprintf(err, errlen, "--available '%s': want a percentage, 0..100", optarg);
                return -EINVAL;
            }
            break;
        case O_RULES:
            o->rules_out = optarg;
            break;
        case O_TRUTH:
            o->truth_out = optarg;
            break;
        case O_SEED: {
            char *end;
            errno = 0;
            o->seed = strtoull(optarg, &end, 10);
            if (errno || *end || *optarg < '0' || *optarg > '9') {
                snprintf(err, errlen, "--seed '%s': want a number", optarg);
                return -EINVAL;
            }
            break;
        }
        case O_USER:
            o->redis.user = optarg;
            break;
        case O_PW:
            o->redis.password = optarg;
            break;
        case 'h':
        case O_HELP:
            o->help = true;
            return 0;
        case ':':
            snprintf(err, errlen, "%s needs a value", argv[optind - 1]);
            return -EINVAL;
        default:
            snprintf(err, errlen, "unknown flag '%s'", argv[optind - 1]);
            return -EINVAL;
        }
    }
    if (optind < argc) {
        snprintf(err, errlen, "unexpected argument '%s'", argv[optind]);
        return -EINVAL;
    }
    return 0;
}

static double seed_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int seed_main(int argc, char **argv)
{
    seed_opts_t o;
    char err[512] = "";
    if (seed_parse_args(&o, argc, argv, err, sizeof(err)) < 0) {
        fprintf(stderr, "fd-bench seed: %s\n(see fd-bench seed --help)\n", err);
        return 2;
    }
    if (o.help) {
        fputs(seed_usage, stdout);
        return 0;
    }
    double t0 = seed_now();
    seed_staff_t *m = seed_model(&o);
    if (!m) {
        fprintf(stderr, "fd-bench seed: out of memory\n");
        return 2;
    }
    redisContext *c = rconn_connect(&o.redis, err, sizeof(err));
    if (!c || rconn_functions(c, err, sizeof(err)) < 0) {
        fprintf(stderr, "fd-bench seed: %s\n", err);
        redisFree(c);
        free(m);
        return 2;
    }
    unsigned long removed = 0, errors = 0;
    int rc = seed_remove_stale(c, &o, &removed, &errors);
    if (rc == 0) rc = seed_write(c, &o, m, &errors);
    redisFree(c);
    if (rc == 0 && errors == 0) {
        if (o.rules_out && seed_file(o.rules_out, &o, m, seed_rules_file) < 0) rc = -1;
        if (o.truth_out && seed_file(o.truth_out, &o, m, seed_truth) < 0) rc = -1;
    }
    unsigned long avail = 0, total = (unsigned long)o.sites * o.staff;
    for (size_t i = 0; i < total; i++) avail += strcmp(m[i].state, "available") == 0;
    free(m);
    if (rc < 0 || errors) {
        if (errors) fprintf(stderr, "fd-bench seed: Redis refused %lu command(s)\n", errors);
        return 1;
    }
    printf("fd-bench seed: %u sites x %u staff (%lu available) into %s:%u in %.2f s "
           "(%lu fd_staff_set, %lu stale removed)%s%s%s%s\n",
           o.sites, o.staff, avail, o.redis.host, o.redis.port, seed_now() - t0, total, removed,
           o.rules_out ? "; rules " : "", o.rules_out ? o.rules_out : "",
           o.truth_out ? "; truth " : "", o.truth_out ? o.truth_out : "");
    return 0;
}

/* main.c -- frontdesk: flags, rules, sockets, workers, signals.
 *
 * The only place with process-wide set-up: everything here happens before
 * the workers start or after they stopped. Exit codes: 0 after a clean stop,
 * 1 when it cannot start (socket, threads), 2 for a bad flag or rules file.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/un.h>
#include <unistd.h>

#include <ares.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <sodium.h>

#include "admin.h"
#include "arena.h"
#include "fwd.h"
#include "health.h"
#include "log.h"
#include "net.h"
#include "opts.h"
#include "reload.h"
#include "rules.h"
#include "sip.h"
#include "stream.h"
#include "version.h"
#include "worker.h"

typedef struct {
    worker_t *workers;
    unsigned n_workers;
    struct event_base *base;
    reload_t reload;
    const opts_t *o;
    health_t *health;
    fwdmemo_t *memo;
    stream_t *stream;
    metrics_sites_t *sites; /* the per-site metrics' registry */
} app_t;

/* Every site and pool of the rules in force gets its metrics slot (kept
 * across reloads: a site removed keeps its counters, a site added gets a
 * new slot). */
static void register_sites(app_t *app)
{
    const char *ids[METRICS_SITES_MAX];
    if (!app->sites || !app->reload.current) return;
    size_t n = rules_site_ids(app->reload.current, ids, METRICS_SITES_MAX);
    for (size_t i = 0; i < n && i < METRICS_SITES_MAX; i++)
        if (metrics_site_add(app->sites, ids[i]) < 0) {
            LOG_WARN("per-site metrics: no room for more sites", "site=%s max=%d", ids[i], METRICS_SITES_MAX);
            break;
        }
}

/* The forward destinations of the rules in force are the ones pinged. */
static void watch_destinations(app_t *app)
{
    const char *uris[HEALTH_MAX];
    if (!app->health) return;
    size_t n = rules_forward_uris(app->reload.current, uris, HEALTH_MAX);
    health_watch(app->health, uris, n);
}

/* Who we are on each listen socket, in our Via and Record-Route: the
 * listen address, or --advertise. -EINVAL for a wildcard address without
 * --advertise when some route forwards (nobody could answer us). */
static int make_selves(const opts_t *o, fwd_self_t *selves, char hosts[][64], bool forwarding,
                       const unsigned char *key)
{
    for (unsigned i = 0; i < o->n_listen; i++) {
        const opts_addr_t *l = &o->listen[i];
        unsigned port = ntohs(l->addr.ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)&l->addr)->sin6_port
                                                            : ((const struct sockaddr_in *)&l->addr)->sin_port);
        if (o->advertise_host[0]) {
            snprintf(hosts[i], 64, "%s", o->advertise_host);
            if (o->advertise_port) port = o->advertise_port;
        } else {
            const void *ip = l->addr.ss_family == AF_INET6
                                 ? (const void *)&((const struct sockaddr_in6 *)&l->addr)->sin6_addr
                                 : (const void *)&((const struct sockaddr_in *)&l->addr)->sin_addr;
            inet_ntop(l->addr.ss_family, ip, hosts[i], 64);
            if (forwarding && (strcmp(hosts[i], "0.0.0.0") == 0 || strcmp(hosts[i], "::") == 0))
                return -EINVAL;
        }
        selves[i] = (fwd_self_t){ hosts[i], port, key };
    }
    return 0;
}

#define RELOAD_EVERY_S (24 * 3600) /* keeps opening hours expanded ahead */

/* "ADDR:PORT" or "[V6]:PORT" of <a> into <out> */
static void addr_text(const struct sockaddr_storage *a, char *out, size_t cap)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (a->ss_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)a;
        inet_ntop(AF_INET6, &v6->sin6_addr, ip, sizeof(ip));
        snprintf(out, cap, "[%s]:%u", ip, (unsigned)ntohs(v6->sin6_port));
    } else {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)a;
        inet_ntop(AF_INET, &v4->sin_addr, ip, sizeof(ip));
        snprintf(out, cap, "%s:%u", ip, (unsigned)ntohs(v4->sin_port));
    }
}

static unsigned fds_port(const struct sockaddr_storage *a)
{
    return ntohs(a->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)a)->sin6_port
                                          : ((const struct sockaddr_in *)a)->sin_port);
}

static void set_port(struct sockaddr_storage *a, unsigned port)
{
    if (a->ss_family == AF_INET6) ((struct sockaddr_in6 *)a)->sin6_port = htons((uint16_t)port);
    else ((struct sockaddr_in *)a)->sin_port = htons((uint16_t)port);
}

/* <l> as bound on <fd> (a port 0 becomes the system's choice) */
static int learn_port(int fd, opts_addr_t *l)
{
    struct sockaddr_storage a;
    socklen_t len = sizeof(a);
    if (getsockname(fd, (struct sockaddr *)&a, &len) < 0) return -1;
    l->addr = a;
    l->len = len;
    addr_text(&a, l->text, sizeof(l->text));
    return 0;
}

static const char *proto_name(opts_proto_t p)
{
    return p == OPTS_TCP ? "tcp" : p == OPTS_TLS ? "tls" : "udp";
}

/* By listen index, the UDP socket a request that came there is forwarded
 * by: its own for UDP; for TCP and TLS the UDP socket on the same address,
 * else the first of the family; UINT_MAX when there is none. */
static void map_udp(const opts_t *o, unsigned udp_of[])
{
    for (unsigned i = 0; i < o->n_listen; i++) {
        const opts_addr_t *l = &o->listen[i];
        udp_of[i] = l->proto == OPTS_UDP ? i : UINT_MAX;
        for (unsigned j = 0; j < o->n_listen && udp_of[i] == UINT_MAX; j++)
            if (o->listen[j].proto == OPTS_UDP && o->listen[j].len == l->len &&
                memcmp(&o->listen[j].addr, &l->addr, l->len) == 0)
                udp_of[i] = j;
        for (unsigned j = 0; j < o->n_listen && udp_of[i] == UINT_MAX; j++)
            if (o->listen[j].proto == OPTS_UDP && o->listen[j].addr.ss_family == l->addr.ss_family)
                udp_of[i] = j;
    }
}

/* Who we are on a TCP or TLS socket, for what we forward: who we are on the
 * UDP socket it leaves by. */
static void selves_of_streams(const opts_t *o, const unsigned udp_of[], fwd_self_t *selves)
{
    for (unsigned i = 0; i < o->n_listen; i++)
        if (o->listen[i].proto != OPTS_UDP && udp_of[i] != UINT_MAX) selves[i] = selves[udp_of[i]];
}

/* --ports-file: what we listen on, written whole or not at all (a temporary
 * file renamed), once every socket serves. 0 or -1 (errno). */
static int write_ports(const char *path, const opts_t *o, const admin_t *admin)
{
    char tmp[4096], line[128];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    FILE *f = fopen(tmp, "w");
    if (!f) return -1;
    for (unsigned i = 0; i < o->n_listen; i++)
        fprintf(f, "%s %s\n", proto_name(o->listen[i].proto), o->listen[i].text);
    struct sockaddr_storage a;
    socklen_t len;
    if (admin && admin_bound(admin, &a, &len) == 0) {
        addr_text(&a, line, sizeof(line));
        fprintf(f, "admin %s\n", line);
    }
    if (fclose(f) != 0 || rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        return -1;
    }
    return 0;
}

/* systemd's readiness protocol (sd_notify(3), Type=notify), without
 * libsystemd: one datagram of "KEY=value" lines to $NOTIFY_SOCKET (a path,
 * or an abstract name written with a leading '@'). Nothing without it. */
static void notify_systemd(const char *msg)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    size_t n = path ? strlen(path) : 0;
    if (n < 2 || n >= sizeof(a.sun_path) || (path[0] != '/' && path[0] != '@')) return;
    memcpy(a.sun_path, path, n);
    if (a.sun_path[0] == '@') a.sun_path[0] = '\0';
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return;
    if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&a,
               (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)) < 0)
        LOG_WARN("cannot notify systemd", "err=\"%s\"", strerror(errno));
    close(fd);
}

static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
    app_t *app = arg;
    (void)what;
    LOG_INFO("stopping", "signal=%s", sig == SIGINT ? "INT" : "TERM");
    notify_systemd("STOPPING=1");
    event_base_loopexit(app->base, NULL);
}

/* SIGHUP, and once a day: a new rules snapshot, swapped in without a lost
 * call; a broken file is reported and the rules in force stay. */
static void reload(app_t *app, const char *why)
{
    rules_report_t rep;
    time_t now = app->o->fixed_time ? app->o->fixed_time : time(NULL);
    if (reload_rules(&app->reload, now, &rep) < 0) {
        for (char *q = rep.msg; *q; q++) /* one logfmt value */
            if (*q == '"') *q = '\'';
        LOG_ERROR("rules not reloaded: the rules in force stay", "why=%s file=\"%s\" line=%u col=%u err=\"%s\"",
                  why, rep.file, rep.line, rep.col, rep.msg);
        return;
    }
    LOG_INFO("rules reloaded", "why=%s rules=\"%s\" sites=%zu", why, app->reload.path,
             rules_site_count(app->reload.current));
    watch_destinations(app);
    register_sites(app);
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
    app_t *app = arg;
    char err[256];
    (void)sig, (void)what;
    notify_systemd("RELOADING=1");
    reload(app, "SIGHUP");
    notify_systemd("READY=1");
    if (!app->o->tls_cert) return;
    /* the certificate too (renewed on disk): new connections get it */
    if (stream_reload_tls(app->stream, err, sizeof(err)) < 0)
        LOG_ERROR("TLS certificate not reloaded: the one in use stays", "err=\"%s\"", err);
    else
        LOG_INFO("TLS certificate reloaded", "cert=\"%s\"", app->o->tls_cert);
}

static void on_daily(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    reload(arg, "daily");
}

#define CALLER_KEY_BYTES 32

/* FRONTDESK_CALLER_KEY: 64 hex digits, or unset (*set = false). */
static int caller_key_from_env(unsigned char key[CALLER_KEY_BYTES], bool *set)
{
    const char *hex = getenv("FRONTDESK_CALLER_KEY");
    size_t n = 0;
    *set = false;
    if (!hex || !*hex) return 0;
    if (strlen(hex) != 2 * CALLER_KEY_BYTES ||
        sodium_hex2bin(key, CALLER_KEY_BYTES, hex, strlen(hex), NULL, &n, NULL) != 0 ||
        n != CALLER_KEY_BYTES)
        return -EINVAL;
    *set = true;
    return 0;
}

/* One logfmt line with every counter summed, and one with each worker's
 * share of the datagrams (how evenly the load was spread). */
static void print_totals(const app_t *app)
{
    metrics_sum_t sum = { 0 };
    char line[4096], per[1024], sper[1024];
    size_t n = 0, pn = 0, sn = 0;

    for (unsigned i = 0; i < app->n_workers; i++) {
        metrics_add(&sum, &app->workers[i].m);
        if (pn < sizeof(per))
            pn += (size_t)snprintf(per + pn, sizeof(per) - pn, "%s%llu", i ? "," : "",
                                   (unsigned long long)atomic_load(&app->workers[i].m.rx_datagrams));
        if (sn < sizeof(sper))
            sn += (size_t)snprintf(sper + sn, sizeof(sper) - sn, "%s%llu", i ? "," : "",
                                   (unsigned long long)atomic_load(&app->workers[i].m.stream_messages));
    }
#define METRICS_PRINT(name, help)                                                      \
    if (n < sizeof(line))                                                              \
        n += (size_t)snprintf(line + n, sizeof(line) - n, "%s" #name "=%llu", n ? " " : "", \
                              (unsigned long long)sum.name);
    METRICS_FIELDS(METRICS_PRINT)
#undef METRICS_PRINT
    LOG_INFO("totals", "%s", line);
    LOG_INFO("worker share", "rx_per_worker=%s stream_per_worker=%s", per, sper);
}

int main(int argc, char **argv)
{
    opts_t o;
    char err[256];
    rules_report_t rep;
    int fds[OPTS_MAX_LISTEN];
    unsigned n_fds = 0, udp_of[OPTS_MAX_LISTEN], n_alloc = 0;
    _Atomic uint64_t *site_windows = NULL; /* the per-site pick cap (route.h) */
    _Atomic uint64_t *source_buckets = NULL; /* the per-source rate (route.h) */
    fwd_self_t selves[OPTS_MAX_LISTEN];
    char self_hosts[OPTS_MAX_LISTEN][64];
    app_t app = { 0 };
    int rc = 1;
    unsigned char key[CALLER_KEY_BYTES];
    bool key_set;
    const char *fake;

    if (opts_parse(&o, argc, argv, err, sizeof(err)) < 0) {
        fprintf(stderr, "frontdesk: %s\n", err);
        return 2;
    }
    if (o.help) {
        fputs(opts_usage, stdout);
        return 0;
    }
    if (o.version) {
        printf("frontdesk %s\n", FRONTDESK_VERSION);
        return 0;
    }
    log_parse_level(o.log_level, &log_level);
    if (caller_key_from_env(key, &key_set) < 0) {
        fprintf(stderr, "frontdesk: FRONTDESK_CALLER_KEY must be %d hex digits\n", 2 * CALLER_KEY_BYTES);
        return 2;
    }
    o.redis_password = getenv("FRONTDESK_REDIS_PASSWORD");
    if (!o.redis_password || !*o.redis_password) o.redis_password = getenv("REDISCLI_AUTH");
    if (o.redis_password && !*o.redis_password) o.redis_password = NULL;
    o.redis_user = getenv("FRONTDESK_REDIS_USER");
    if (o.redis_user && !*o.redis_user) o.redis_user = NULL;
    if ((fake = getenv("FRONTDESK_FAKE_TIME")) && *fake && opts_parse_time(fake, &o.fixed_time) < 0) {
        fprintf(stderr, "frontdesk: FRONTDESK_FAKE_TIME %s: want e.g. 2026-12-01T18:40:00Z\n", fake);
        return 2;
    }
    /* the log's own hash takes the first half of the key */
    if (log_init(key_set ? key : NULL) < 0) {
        fprintf(stderr, "frontdesk: cannot initialise libsodium\n");
        return 1;
    }
    app.o = &o;
    app.reload = (reload_t){ .path = o.config, .caller_key = key_set ? key : NULL,
                             .caller_key_len = key_set ? CALLER_KEY_BYTES : 0 };
    if (reload_rules(&app.reload, o.fixed_time ? o.fixed_time : time(NULL), &rep) < 0) {
        if (rep.line) fprintf(stderr, "frontdesk: %s:%u:%u: %s\n", rep.file, rep.line, rep.col, rep.msg);
        else fprintf(stderr, "frontdesk: %s: %s\n", rep.file, rep.msg);
        return 2;
    }

    /* forward mode's branches are keyed from the caller key when there is
     * one (every instance of a group shares it), so that nobody else can
     * forge a response we would relay */
    static unsigned char branch_key[FWD_KEY_BYTES];
    static const unsigned char branch_ctx[] = "frontdesk forward branches";
    if (key_set) crypto_generichash(branch_key, sizeof(branch_key), branch_ctx, sizeof(branch_ctx) - 1, key, CALLER_KEY_BYTES);
    if (make_selves(&o, selves, self_hosts, rules_any_forward(app.reload.current), key_set ? branch_key : NULL) < 0) {
        fprintf(stderr, "frontdesk: forward mode on a wildcard listen address needs --advertise ADDR "
                        "(the address peers must send responses to)\n");
        reload_free(&app.reload);
        return 2;
    }

    arena_install(); /* before libosip2 allocates anything */
    ares_library_init(ARES_LIB_INIT_ALL); /* before the workers' resolvers */
    sip_global_init();
    evthread_use_pthreads();
    signal(SIGPIPE, SIG_IGN);

    for (unsigned i = 0; i < o.n_listen; i++) {
        opts_addr_t *l = &o.listen[i];
        const char *proto = proto_name(l->proto);
        /* udp+tcp on port 0: TCP takes the port the system gave UDP; when
         * that port is taken for TCP, both take another */
        bool pair0 = l->port_of && l->port_of == i && fds_port(&l->addr) == 0;
        if (pair0) set_port(&l->addr, fds_port(&o.listen[i - 1].addr));
        int fd = l->proto == OPTS_UDP ? net_open_udp(l) : net_open_tcp(l);
        for (int tries = 0; pair0 && fd == -EADDRINUSE && tries < 20; tries++) {
            opts_addr_t *u = &o.listen[i - 1];
            close(fds[--n_fds]);
            set_port(&u->addr, 0);
            if ((fd = net_open_udp(u)) < 0) break;
            fds[n_fds++] = fd;
            if (learn_port(fd, u) < 0) break;
            set_port(&l->addr, fds_port(&u->addr));
            fd = net_open_tcp(l);
        }
        if (fd < 0) {
            fprintf(stderr, "frontdesk: cannot listen on %s %s: %s\n", proto, l->text, strerror(-fd));
            goto out;
        }
        fds[n_fds++] = fd;
        /* port 0: the one the system gave, for our Via and the ports file */
        if (learn_port(fd, l) < 0) {
            fprintf(stderr, "frontdesk: cannot read the port of %s %s: %s\n", proto, l->text, strerror(errno));
            goto out;
        }
    }
    map_udp(&o, udp_of);
    make_selves(&o, selves, self_hosts, rules_any_forward(app.reload.current), key_set ? branch_key : NULL);
    selves_of_streams(&o, udp_of, selves);
    for (unsigned i = 0; i < o.n_listen; i++)
        if (udp_of[i] == UINT_MAX && rules_any_forward(app.reload.current)) {
            fprintf(stderr, "frontdesk: forward mode sends over UDP: %s %s needs a UDP --listen of its family\n",
                    proto_name(o.listen[i].proto), o.listen[i].text);
            goto out;
        }

    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    app.n_workers = o.workers ? o.workers : (cpus > 0 ? (unsigned)cpus : 1);
    app.workers = calloc(app.n_workers, sizeof(*app.workers));
    n_alloc = app.workers ? app.n_workers : 0;
    app.base = event_base_new();
    /* as long as Redis keeps the decision: the memo only saves asking */
    app.memo = fwdmemo_new(FWDMEMO_SLOTS, o.decision_ttl_ms);
    app.sites = calloc(1, sizeof(*app.sites));
    register_sites(&app);
    site_windows = calloc(ROUTE_SITE_SLOTS, sizeof(*site_windows));
    source_buckets = calloc(ROUTE_SOURCE_SLOTS, sizeof(*source_buckets));
    if (!app.workers || !app.base || !app.memo || !site_windows || !source_buckets || !app.sites) {
        fprintf(stderr, "frontdesk: out of memory at start\n");
        goto out;
    }
    /* always: forward mode may open connections to destinations even
     * without a TCP listener */
    if (stream_new(&app.stream, &o, app.workers, app.n_workers, err, sizeof(err)) < 0) {
        fprintf(stderr, "frontdesk: %s\n", err);
        rc = 2;
        goto out;
    }
    struct event *sig_int = evsignal_new(app.base, SIGINT, on_stop_signal, &app);
    struct event *sig_term = evsignal_new(app.base, SIGTERM, on_stop_signal, &app);
    struct event *sig_hup = evsignal_new(app.base, SIGHUP, on_hup, &app);
    struct event *daily = event_new(app.base, -1, EV_PERSIST, on_daily, &app);
    struct timeval day = { RELOAD_EVERY_S, 0 };
    event_add(sig_int, NULL), event_add(sig_term, NULL), event_add(sig_hup, NULL);
    event_add(daily, &day);
    /* the pings' Via: our address on a socket of the family they leave by,
     * when we listen on one */
    const char *via4 = NULL, *via6 = NULL;
    for (unsigned i = 0; i < o.n_listen; i++) {
        if (o.listen[i].addr.ss_family == AF_INET6 && !via6) via6 = selves[i].host;
        if (o.listen[i].addr.ss_family == AF_INET && !via4) via4 = selves[i].host;
    }
    health_opts_t ho = { .interval_ms = o.health_interval_ms, .down_after = o.health_down,
                         .up_after = o.health_up, .via_host = via4 ? via4 : selves[0].host,
                         .via_host6 = via6, .dns_servers = o.dns_servers };
    int he = health_open(&app.health, app.base, &ho);
    if (he < 0) {
        fprintf(stderr, "frontdesk: cannot open the health-check socket: %s\n", strerror(-he));
        goto out;
    }
    watch_destinations(&app);

    unsigned started = 0;
    for (; started < app.n_workers; started++) {
        worker_t *w = &app.workers[started];
        w->id = started;
        w->fds = fds;
        w->udp_of = udp_of;
        w->selves = selves;
        w->n_fds = n_fds;
        w->stream = app.stream;
        w->sites = app.sites;
        w->health = app.health;
        w->memo = app.memo;
        w->site_windows = site_windows;
        w->source_buckets = source_buckets;
        w->record_route = o.record_route;
        w->reload = &app.reload;
        w->opts = &o;
        w->next = started + 1 < app.n_workers ? &app.workers[started + 1] : NULL;
        int e = worker_start(w);
        if (e < 0) {
            fprintf(stderr, "frontdesk: cannot start worker %u: %s\n", started, strerror(-e));
            break;
        }
    }
    if (started == app.n_workers && app.stream && stream_listen(app.stream, fds) < 0) {
        fprintf(stderr, "frontdesk: cannot accept TCP/TLS connections: out of memory\n");
        for (unsigned i = 0; i < started; i++) worker_stop(&app.workers[i]);
        app.n_workers = started = 0;
    }
    admin_t *admin = NULL;
    if (started == app.n_workers && o.admin) {
        int e = admin_open(&admin, app.base, o.admin, app.workers, app.n_workers, &app.reload);
        if (e < 0) {
            fprintf(stderr, "frontdesk: cannot serve the admin endpoint on %s: %s (--admin off to go without)\n",
                    o.admin, strerror(-e));
            for (unsigned i = 0; i < started; i++) worker_stop(&app.workers[i]);
            app.n_workers = started = 0;
        }
    }
    admin_watch_health(admin, app.health);
    if (started && started == app.n_workers && o.ports_file && write_ports(o.ports_file, &o, admin) < 0) {
        fprintf(stderr, "frontdesk: cannot write --ports-file %s: %s\n", o.ports_file, strerror(errno));
        for (unsigned i = 0; i < started; i++) worker_stop(&app.workers[i]);
        app.n_workers = started = 0;
    }
    if (started && started == app.n_workers) {
        if (o.fixed_time) LOG_WARN("clock fixed by FRONTDESK_FAKE_TIME: for tests only", "at=%lld", (long long)o.fixed_time);
        for (unsigned i = 0; i < n_fds; i++)
            LOG_INFO("listening", "%s=%s admin=%s workers=%u redis=%s%s%s%s%.0u rules=\"%s\" sites=%zu version=%s",
                     proto_name(o.listen[i].proto), o.listen[i].text, o.admin ? o.admin : "off", app.n_workers,
                     o.redis_sentinels[0] ? "sentinel:" : o.redis_host,
                     o.redis_sentinels[0] ? o.redis_sentinels : ":",
                     o.redis_sentinels[0] ? "/" : "", o.redis_sentinels[0] ? o.redis_master : "",
                     o.redis_sentinels[0] ? 0 : o.redis_port, o.config,
                     rules_site_count(app.reload.current), FRONTDESK_VERSION);
        /* serving: with Redis away calls get their fallbacks (/readyz
         * says whether it is ready) */
        notify_systemd("READY=1\nSTATUS=serving");
        event_base_dispatch(app.base);
        rc = 0;
    }
    for (unsigned i = 0; i < started; i++) worker_stop(&app.workers[i]);
    if (started) print_totals(&app);
    admin_close(admin);
    health_close(app.health);
    event_free(sig_int), event_free(sig_term), event_free(sig_hup), event_free(daily);
out:
    stream_free(app.stream);
    for (unsigned i = 0; i < n_fds; i++) close(fds[i]);
    if (app.base) event_base_free(app.base);
    fwdmemo_free(app.memo);
    free(site_windows);
    free(source_buckets);
    for (unsigned i = 0; app.workers && i < n_alloc; i++) free(app.workers[i].site_stats);
    if (app.sites)
        for (unsigned i = 0; i < METRICS_SITES_MAX; i++) free((void *)atomic_load(&app.sites->name[i]));
    free(app.sites);
    free(app.workers);
    reload_free(&app.reload);
    return rc;
}

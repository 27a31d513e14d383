/* opts.h -- command-line flags of the frontdesk daemon, parsed into opts_t.
 *
 * Pure: no I/O besides writing the error message into the caller's buffer,
 * so it is unit-tested. The environment is read by main.c:
 * FRONTDESK_CALLER_KEY (64 hex digits) keys caller hashes (logs and
 * caller-aware routing), FRONTDESK_REDIS_PASSWORD / FRONTDESK_REDIS_USER
 * authenticate to Redis (secrets stay out of argv), FRONTDESK_FAKE_TIME
 * fixes the rules' clock (tests).
 */
#ifndef FRONTDESK_OPTS_H
#define FRONTDESK_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <time.h>

#define OPTS_MAX_LISTEN 8
#define OPTS_SOURCE_RATE_MAX 16000 /* a token bucket in one 64-bit word */

/* A listen address's transport (the values of xport_kind_t). */
typedef enum { OPTS_UDP = 0, OPTS_TCP = 1, OPTS_TLS = 2 } opts_proto_t;

typedef struct {
    struct sockaddr_storage addr;
    socklen_t len;
    char text[64]; /* as given, for messages */
    opts_proto_t proto;  /* --listen only */
    unsigned port_of;    /* --listen "udp+tcp:" with port 0: the TCP entry
                            takes the port the system gave the UDP one
                            (its index + 1); 0 otherwise */
} opts_addr_t;

typedef struct {
    const char *config;          /* rules file */
    opts_addr_t listen[OPTS_MAX_LISTEN];
    unsigned n_listen;
    unsigned workers;            /* 0 = online CPUs */
    char redis_host[256];
    unsigned redis_port;
    char redis_sentinels[512];   /* "host:port,..." or "" */
    const char *redis_master;    /* master name at the Sentinels */
    unsigned redis_timeout_ms;   /* deadline for one pick */
    unsigned offer_ms;           /* how long a picked staff member is reserved */
    unsigned decision_ttl_ms;    /* how long a Call-ID's decision is kept */
    unsigned history_days;       /* call history kept (days; 0: none) */
    unsigned history_max;        /* ...or about this many calls a site (0: by days) */
    const char *log_level;
    const char *admin;           /* admin HTTP "ADDR:PORT", or NULL (off) */
    const char *ports_file;      /* where to write the addresses bound, or NULL */
    /* forward mode */
    char advertise_host[64];     /* our address in Via and Record-Route
                                    ("" = each listen address) */
    unsigned advertise_port;     /* 0 = each listen port */
    bool record_route;           /* add Record-Route to forwarded INVITEs */
    char dns_servers[160];       /* "ip:port,..." (at most 3), or "": the
                                    system's (/etc/resolv.conf) */
    unsigned health_interval_ms; /* between OPTIONS pings of a destination */
    unsigned health_down;        /* missed pings in a row: down */
    unsigned health_up;          /* answers in a row: up again */
    /* limits */
    unsigned site_picks;         /* staff picks a site gets per second, all
                                    proxies' workers of this process
                                    together; 0: no cap */
    int over_limit;              /* opts_over_t: what a call past it gets */
    unsigned source_rate;        /* requests a second one source address
                                    may send (a token bucket of one
                                    second's worth); 0: no limit */
    bool source_503;             /* past it: 503 (else dropped) */
    /* TCP and TLS (stream.h) */
    unsigned tcp_max_conns;      /* connections open at once, all listeners */
    unsigned tcp_idle_s;         /* a connection silent that long is closed */
    unsigned tcp_msg_ms;         /* a message (and a TLS handshake) must
                                    arrive whole this long after its first
                                    byte (slowloris) */
    unsigned tcp_max_msg;        /* largest message read (headers + body) */
    const char *tls_cert, *tls_key; /* PEM files: needed by a tls: listener */
    const char *tls_ca;          /* PEM: clients must present a certificate
                                    it signed (trunks); NULL: not asked */
    bool help, version;
    const char *redis_user;      /* FRONTDESK_REDIS_USER: ACL user, or NULL */
    const char *redis_password;  /* FRONTDESK_REDIS_PASSWORD (or REDISCLI_AUTH),
                                    or NULL: no AUTH */
    time_t fixed_time;           /* FRONTDESK_FAKE_TIME (tests): the clock
                                    the rules see; 0 = the real clock */
} opts_t;

typedef enum {
    OPTS_OVER_FALLBACK = 0, /* the plan's fallback, nobody reserved */
    OPTS_OVER_503,          /* 503 Service Unavailable, Retry-After: 5 */
    OPTS_OVER_DROP,         /* no answer */
} opts_over_t;

/* A numeric "ADDR:PORT" / "[V6]:PORT" into <out>: 0 or -EINVAL. The bind
 * form also takes port 0 (the system picks one: --listen, --admin). A
 * --listen value may start with "udp:", "tcp:", "tls:" or "udp+tcp:" (two
 * entries, opts_parse); without one it is UDP. */
int opts_parse_addr(const char *s, opts_addr_t *out);
int opts_parse_bind_addr(const char *s, opts_addr_t *out);

/* Fill <o> from argv. Returns 0, or -EINVAL with a one-line reason in <err>. */
int opts_parse(opts_t *o, int argc, char **argv, char *err, size_t errlen);

/* Parse a time: "2026-12-01T18:40:00Z" (UTC), "2026-12-01T12:40:00-06:00"
 * or seconds since the epoch. 0 or -EINVAL. */
int opts_parse_time(const char *s, time_t *out);

extern const char opts_usage[];

#endif

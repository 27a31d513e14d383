/* test_opts.c -- proxy/opts.c: the daemon's flags, their defaults and their
 * error messages.
 *
 * argv vectors are built inline; getopt_long may permute them, so each call
 * gets a fresh array. Every error must be -EINVAL with a one-line message
 * that names the flag, as main.c prints it as is.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "opts.h"

static opts_t o;
static char err[256];

/* opts_parse over "frontdesk" followed by the given words. */
#define PARSE(...) parse_argv((char *[]){ "frontdesk", __VA_ARGS__, NULL })
static int parse_argv(char **argv)
{
    int argc = 0;
    while (argv[argc]) argc++;
    memset(err, 'x', sizeof(err) - 1); /* a stale message must not survive */
    err[sizeof(err) - 1] = '\0';
    return opts_parse(&o, argc, argv, err, sizeof(err));
}

static void assert_addr4(const opts_addr_t *a, const char *ip, unsigned port)
{
    const struct sockaddr_in *s = (const struct sockaddr_in *)&a->addr;
    char got[INET_ADDRSTRLEN];
    assert_int_equal(a->len, sizeof(struct sockaddr_in));
    assert_int_equal(s->sin_family, AF_INET);
    assert_non_null(inet_ntop(AF_INET, &s->sin_addr, got, sizeof(got)));
    assert_string_equal(got, ip);
    assert_int_equal(ntohs(s->sin_port), port);
}

static void assert_addr6(const opts_addr_t *a, const char *ip, unsigned port)
{
    const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)&a->addr;
    char got[INET6_ADDRSTRLEN];
    assert_int_equal(a->len, sizeof(struct sockaddr_in6));
    assert_int_equal(s->sin6_family, AF_INET6);
    assert_non_null(inet_ntop(AF_INET6, &s->sin6_addr, got, sizeof(got)));
    assert_string_equal(got, ip);
    assert_int_equal(ntohs(s->sin6_port), port);
}

/* ---------------------------------------------------------------------- */

static void test_defaults(void **state)
{
    (void)state;

    assert_int_equal(PARSE("--config", "rules.yaml"), 0);
    assert_string_equal(err, "");
    assert_string_equal(o.config, "rules.yaml");
    assert_int_equal(o.n_listen, 1);
    assert_addr4(&o.listen[0], "127.0.0.1", 5060);
    assert_string_equal(o.listen[0].text, "127.0.0.1:5060");
    assert_int_equal(o.workers, 0); /* online CPUs */
    assert_string_equal(o.redis_host, "127.0.0.1");
    assert_int_equal(o.redis_port, 6379);
    assert_int_equal(o.redis_timeout_ms, 250);
    assert_int_equal(o.offer_ms, 15000);
    assert_int_equal(o.decision_ttl_ms, 32000);
    assert_string_equal(o.log_level, "info");
    assert_false(o.help);
    assert_false(o.version);
}

static void test_every_flag(void **state)
{
    (void)state;

    assert_int_equal(PARSE("--config", "/etc/frontdesk/rules.yaml", "--listen", "0.0.0.0:5070",
                           "--workers", "4", "--redis", "redis.internal:6380", "--redis-timeout", "75",
                           "--offer-window", "20000", "--decision-ttl", "64000", "--log-level", "debug"),
                     0);
    assert_string_equal(err, "");
    assert_string_equal(o.config, "/etc/frontdesk/rules.yaml");
    assert_int_equal(o.n_listen, 1); /* no default added */
    assert_addr4(&o.listen[0], "0.0.0.0", 5070);
    assert_int_equal(o.workers, 4);
    assert_string_equal(o.redis_host, "redis.internal");
    assert_int_equal(o.redis_port, 6380);
    assert_int_equal(o.redis_timeout_ms, 75);
    assert_int_equal(o.offer_ms, 20000);
    assert_int_equal(o.decision_ttl_ms, 64000);
    assert_string_equal(o.log_level, "debug");
}

static void test_flag_equals_form(void **state)
{
    (void)state;

    assert_int_equal(PARSE("--config=r.yaml", "--workers=2", "--log-level=warn", "--listen=[::]:5060"), 0);
    assert_string_equal(o.config, "r.yaml");
    assert_int_equal(o.workers, 2);
    assert_string_equal(o.log_level, "warn");
    assert_addr6(&o.listen[0], "::", 5060);
}

/* Flags in any order; a later value of the same flag wins. */
static void test_order_and_repeats(void **state)
{
    (void)state;

    assert_int_equal(PARSE("--workers", "3", "--config", "a.yaml", "--workers", "5", "--config", "b.yaml"), 0);
    assert_string_equal(o.config, "b.yaml");
    assert_int_equal(o.workers, 5);
}

static void test_log_levels(void **state)
{
    (void)state;
    const char *levels[] = { "error", "warn", "info", "debug" };

    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(PARSE("--config", "r.yaml", "--log-level", (char *)levels[i]), 0);
        assert_string_equal(o.log_level, levels[i]);
    }
}

static void test_listen_repeated(void **state)
{
    (void)state;

    assert_int_equal(PARSE("--config", "r.yaml", "--listen", "127.0.0.1:5060", "--listen", "[::1]:5060",
                           "--listen", "192.0.2.1:5080", "--listen", "[2001:db8::5]:65535"),
                     0);
    assert_int_equal(o.n_listen, 4);
    assert_addr4(&o.listen[0], "127.0.0.1", 5060);
    assert_addr6(&o.listen[1], "::1", 5060);
    assert_addr4(&o.listen[2], "192.0.2.1", 5080);
    assert_addr6(&o.listen[3], "2001:db8::5", 65535);
    assert_string_equal(o.listen[0].text, "127.0.0.1:5060");
    assert_string_equal(o.listen[1].text, "[::1]:5060");
    assert_string_equal(o.listen[3].text, "[2001:db8::5]:65535");
}

static void test_listen_too_many(void **state)
{
    (void)state;

    assert_int_equal(PARSE("--config", "r.yaml", "--listen", "127.0.0.1:1", "--listen", "127.0.0.1:2",
                           "--listen", "127.0.0.1:3", "--listen", "127.0.0.1:4", "--listen", "127.0.0.1:5",
                           "--listen", "127.0.0.1:6", "--listen", "127.0.0.1:7", "--listen", "127.0.0.1:8"),
                     0);
    assert_int_equal(o.n_listen, OPTS_MAX_LISTEN);
    assert_int_equal(PARSE("--config", "r.yaml", "--listen", "127.0.0.1:1", "--listen", "127.0.0.1:2",
                           "--listen", "127.0.0.1:3", "--listen", "127.0.0.1:4", "--listen", "127.0.0.1:5",
                           "--listen", "127.0.0.1:6", "--listen", "127.0.0.1:7", "--listen", "127.0.0.1:8",
                           "--listen", "127.0.0.1:9"),
                     -EINVAL);
    assert_string_equal(err, "--listen: at most 8 addresses (udp+tcp counts two)");
}

/* --listen's transports: udp (the default), tcp, tls, and udp+tcp (two
 * entries, the TCP one taking the UDP one's port when it is 0); the TCP
 * limits and TLS files, with their defaults and errors. */
static void test_listen_transports(void **state)
{
    (void)state;

    assert_int_equal(PARSE("--config", "r", "--listen", "127.0.0.1:5060", "--listen", "udp:127.0.0.1:5061",
                           "--listen", "tcp:[::1]:5060", "--listen", "udp+tcp:0.0.0.0:0", "--listen",
                           "tls:127.0.0.1:5061", "--tls-cert", "c.pem", "--tls-key", "k.pem"),
                     0);
    assert_int_equal(o.n_listen, 6);
    assert_int_equal(o.listen[0].proto, OPTS_UDP);
    assert_int_equal(o.listen[1].proto, OPTS_UDP);
    assert_int_equal(o.listen[2].proto, OPTS_TCP);
    assert_addr6(&o.listen[2], "::1", 5060);
    assert_int_equal(o.listen[3].proto, OPTS_UDP);
    assert_int_equal(o.listen[4].proto, OPTS_TCP);
    assert_int_equal(o.listen[4].port_of, 4); /* the UDP entry at index 3, + 1 */
    assert_int_equal(o.listen[3].port_of, 0);
    assert_addr4(&o.listen[4], "0.0.0.0", 0);
    assert_int_equal(o.listen[5].proto, OPTS_TLS);
    assert_string_equal(o.tls_cert, "c.pem");
    assert_string_equal(o.tls_key, "k.pem");
    assert_null(o.tls_ca);
    assert_int_equal(o.tcp_max_conns, 2048);
    assert_int_equal(o.tcp_idle_s, 120);
    assert_int_equal(o.tcp_msg_ms, 5000);
    assert_int_equal(o.tcp_max_msg, 65535);

    assert_int_equal(PARSE("--config", "r", "--listen", "tcp:127.0.0.1:5060", "--tcp-max-conns", "10",
                           "--tcp-idle-timeout", "30", "--tcp-message-timeout", "250", "--tcp-max-message", "1024"),
                     0);
    assert_int_equal(o.tcp_max_conns, 10);
    assert_int_equal(o.tcp_idle_s, 30);
    assert_int_equal(o.tcp_msg_ms, 250);
    assert_int_equal(o.tcp_max_msg, 1024);

    assert_int_equal(PARSE("--config", "r", "--listen", "sctp:127.0.0.1:5060"), -EINVAL);
    assert_non_null(strstr(err, "--listen sctp:127.0.0.1:5060: want [udp:|tcp:|tls:|udp+tcp:]ADDR:PORT"));
    assert_int_equal(PARSE("--config", "r", "--listen", "tcp:"), -EINVAL);
    assert_int_equal(PARSE("--config", "r", "--listen", "tls:127.0.0.1:5061"), -EINVAL);
    assert_string_equal(err, "a tls: --listen needs --tls-cert and --tls-key (see --help)");
    assert_int_equal(PARSE("--config", "r", "--listen", "tls:127.0.0.1:5061", "--tls-cert", "c.pem"), -EINVAL);
    assert_int_equal(PARSE("--config", "r", "--tls-cert", "c.pem", "--tls-key", "k.pem"), -EINVAL);
    assert_string_equal(err, "--tls-cert, --tls-key and --tls-ca need a tls: --listen (see --help)");
    assert_int_equal(PARSE("--config", "r", "--tls-cert", ""), -EINVAL);
    assert_string_equal(err, "--tls-cert: want a PEM file name");
    assert_int_equal(PARSE("--config", "r", "--tcp-max-conns", "0"), -EINVAL);
    assert_string_equal(err, "--tcp-max-conns 0: want a number from 1 to 1000000");
    assert_int_equal(PARSE("--config", "r", "--tcp-idle-timeout", "0"), -EINVAL);
    assert_int_equal(PARSE("--config", "r", "--tcp-message-timeout", "9"), -EINVAL);
    assert_int_equal(PARSE("--config", "r", "--tcp-max-message", "1023"), -EINVAL);
    assert_string_equal(err, "--tcp-max-message 1023: want bytes from 1024 to 1048576");
    /* udp+tcp counts two against the limit */
    assert_int_equal(PARSE("--config", "r", "--listen", "127.0.0.1:1", "--listen", "127.0.0.1:2", "--listen",
                           "127.0.0.1:3", "--listen", "127.0.0.1:4", "--listen", "127.0.0.1:5", "--listen",
                           "127.0.0.1:6", "--listen", "127.0.0.1:7", "--listen", "udp+tcp:127.0.0.1:8"),
                     -EINVAL);
}

/* Bounds are inclusive. */
static void test_bounds_accepted(void **state)
{
    (void)state;

    assert_int_equal(PARSE("--config", "r", "--workers", "1", "--redis-timeout", "1", "--offer-window", "1",
                           "--decision-ttl", "1000", "--redis", "h:1", "--listen", "127.0.0.1:1"),
                     0);
    assert_int_equal(o.workers, 1);
    assert_int_equal(o.redis_timeout_ms, 1);
    assert_int_equal(o.offer_ms, 1);
    assert_int_equal(o.decision_ttl_ms, 1000);
    assert_int_equal(o.redis_port, 1);
    assert_int_equal(PARSE("--config", "r", "--workers", "256", "--redis-timeout", "10000", "--offer-window",
                           "600000", "--decision-ttl", "3600000", "--redis", "h:65535", "--listen",
                           "127.0.0.1:65535"),
                     0);
    assert_int_equal(o.workers, 256);
    assert_int_equal(o.redis_timeout_ms, 10000);
    assert_int_equal(o.offer_ms, 600000);
    assert_int_equal(o.decision_ttl_ms, 3600000);
    assert_int_equal(o.redis_port, 65535);
}

/* Each bad value: -EINVAL and a message that starts with the flag and the
 * value given. */
static void test_bad_values(void **state)
{
    (void)state;
    static const struct {
        const char *flag, *value, *want;
    } rows[] = {
        { "--listen", "localhost:5060", "--listen localhost:5060: want [udp:|tcp:|tls:|udp+tcp:]ADDR:PORT with a numeric address, e.g. 127.0.0.1:5060, tcp:[::1]:5060 or tls:0.0.0.0:5061" },
        { "--listen", "127.0.0.1", NULL },
        { "--listen", "127.0.0.1:", NULL },
        { "--listen", "127.0.0.1:65536", NULL },
        { "--listen", "127.0.0.1:50x", NULL },
        { "--listen", "127.0.0.1:-1", NULL },
        { "--listen", "[::1]5060", NULL },
        { "--listen", "[::1", NULL },
        { "--listen", "[]:5060", NULL },
        { "--listen", ":5060", NULL },
        { "--listen", "999.0.0.1:5060", NULL },
        { "--listen", "", NULL },
        { "--listen", "[0000:0000:0000:0000:0000:0000:0000:0001]:5060-and-more-to-be-long", NULL },
        { "--workers", "0", "--workers 0: want a number from 1 to 256" },
        { "--workers", "257", NULL },
        { "--workers", "-1", NULL },
        { "--workers", "four", NULL },
        { "--workers", "4x", NULL },
        { "--workers", "", NULL },
        { "--workers", "99999999999999999999999", NULL },
        { "--redis", "redis.internal", "--redis redis.internal: want HOST:PORT, e.g. 127.0.0.1:6379" },
        { "--redis", ":6379", NULL },
        { "--redis", "h:0", NULL },
        { "--redis", "h:65536", NULL },
        { "--redis", "h:", NULL },
        { "--redis-timeout", "0", "--redis-timeout 0: want milliseconds from 1 to 10000" },
        { "--redis-timeout", "10001", NULL },
        { "--redis-timeout", "50ms", NULL },
        { "--offer-window", "0", "--offer-window 0: want milliseconds from 1 to 600000" },
        { "--offer-window", "600001", NULL },
        { "--decision-ttl", "999", "--decision-ttl 999: want milliseconds from 1000 to 3600000" },
        { "--decision-ttl", "3600001", NULL },
        { "--log-level", "verbose", "--log-level verbose: want error, warn, info or debug" },
        { "--log-level", "INFO", NULL },
        { "--log-level", "", NULL },
        { "--advertise", "pbx.example", "--advertise pbx.example: want a numeric ADDR or ADDR:PORT, e.g. 192.0.2.10:5060 or [2001:db8::1]" },
        { "--advertise", "192.0.2.1:0", NULL },
        { "--advertise", "192.0.2.1:70000", NULL },
        { "--advertise", "::1", NULL }, /* v6 needs brackets */
        { "--advertise", "[::1", NULL },
        { "--advertise", "[::1]x", NULL },
        { "--dns-server", "ns.example:53", "--dns-server ns.example:53: want a numeric ADDR:PORT, e.g. 127.0.0.1:53 (at most 3)" },
        { "--dns-server", "127.0.0.1", NULL },
        { "--dns-server", "127.0.0.1:0", NULL }, /* a server has a port */
        { "--admin", "127.0.0.1:65536", "--admin 127.0.0.1:65536: want a numeric ADDR:PORT, or off" },
        { "--ports-file", "", "--ports-file : want a file name" },
        { "--site-picks", "-1", "--site-picks -1: want picks a second, 0 (no cap) to 1000000" },
        { "--site-picks", "1000001", NULL },
        { "--over-limit", "reject", "--over-limit reject: want fallback, 503 or drop" },
        { "--source-rate", "16001", "--source-rate 16001: want requests a second, 0 (no limit) to 16000" },
        { "--source-over", "fallback", "--source-over fallback: want drop or 503" },
        { "--health-interval", "99", "--health-interval 99: want milliseconds from 100 to 600000" },
        { "--health-interval", "600001", NULL },
        { "--health-down", "0", "--health-down 0: want a number from 1 to 100" },
        { "--health-up", "101", "--health-up 101: want a number from 1 to 100" },
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char prefix[128];
        print_message("%s \"%s\"\n", rows[i].flag, rows[i].value);
        assert_int_equal(PARSE("--config", "r.yaml", (char *)rows[i].flag, (char *)rows[i].value), -EINVAL);
        if (rows[i].want) assert_string_equal(err, rows[i].want);
        snprintf(prefix, sizeof(prefix), "%s %s: ", rows[i].flag, rows[i].value);
        assert_memory_equal(err, prefix, strlen(prefix));
        assert_null(strchr(err, '\n'));
    }
}

static void test_missing_config(void **state)
{
    (void)state;

    assert_int_equal(PARSE("--listen", "127.0.0.1:5060"), -EINVAL);
    assert_string_equal(err, "--config FILE is required (see --help)");
    assert_int_equal(parse_argv((char *[]){ "frontdesk", NULL }), -EINVAL);
    assert_string_equal(err, "--config FILE is required (see --help)");
}

static void test_unknown_flag(void **state)
{
    (void)state;

    assert_int_equal(PARSE("--config", "r.yaml", "--bogus"), -EINVAL);
    assert_string_equal(err, "unknown flag --bogus (see --help)");
    assert_int_equal(PARSE("--bogus=1", "--config", "r.yaml"), -EINVAL);
    assert_non_null(strstr(err, "--bogus"));
    /* a single-dash flag: there are none */
    assert_int_equal(PARSE("--config", "r.yaml", "-x"), -EINVAL);
    assert_non_null(strstr(err, "see --help"));
}

/* A flag given without its value. */
static void test_missing_value(void **state)
{
    (void)state;

    assert_int_equal(PARSE("--config", "r.yaml", "--workers"), -EINVAL);
    assert_non_null(strstr(err, "see --help"));
    assert_int_equal(PARSE("--config"), -EINVAL);
    assert_non_null(strstr(err, "see --help"));
}

/* A flag without its value is named: "--workers: missing value". */
static void test_missing_value_names_flag(void **state)
{
    (void)state;

    assert_int_equal(PARSE("--config", "r.yaml", "--workers"), -EINVAL);
    assert_non_null(strstr(err, "--workers"));
}

/* --redis takes an IPv6 address in brackets, like --listen, and stores it
 * without them (hiredis cannot resolve "[::1]"). */
/* Sentinels: repeatable, collected as "host:port,..."; they need a master
 * name, and a master name needs them. */
static void test_sentinels(void **state)
{
    (void)state;
    assert_int_equal(PARSE("--config", "r.yaml", "--redis-sentinel", "10.0.0.1:26379",
                           "--redis-sentinel", "[::1]:26380", "--redis-master", "fdmaster"), 0);
    assert_string_equal(o.redis_sentinels, "10.0.0.1:26379,::1:26380");
    assert_string_equal(o.redis_master, "fdmaster");
    assert_int_equal(PARSE("--config", "r.yaml", "--redis-sentinel", "10.0.0.1:26379"), -EINVAL);
    assert_non_null(strstr(err, "--redis-master"));
    assert_int_equal(PARSE("--config", "r.yaml", "--redis-master", "m"), -EINVAL);
    assert_int_equal(PARSE("--config", "r.yaml", "--redis-sentinel", "nohost", "--redis-master", "m"), -EINVAL);
    assert_non_null(strstr(err, "--redis-sentinel nohost"));
}

static void test_redis_ipv6(void **state)
{
    (void)state;

    assert_int_equal(PARSE("--config", "r.yaml", "--redis", "[::1]:6380"), 0);
    assert_string_equal(o.redis_host, "::1");
    assert_int_equal(o.redis_port, 6380);
}

static void test_unexpected_argument(void **state)
{
    (void)state;

    assert_int_equal(PARSE("--config", "r.yaml", "extra"), -EINVAL);
    assert_string_equal(err, "unexpected argument extra (see --help)");
    assert_int_equal(PARSE("rules.yaml"), -EINVAL);
    assert_string_equal(err, "unexpected argument rules.yaml (see --help)");
}

/* --help and --version work without --config. */
static void test_help_version(void **state)
{
    (void)state;

    assert_int_equal(PARSE("--help"), 0);
    assert_true(o.help);
    assert_false(o.version);
    assert_int_equal(PARSE("--version"), 0);
    assert_true(o.version);
    assert_false(o.help);
    assert_int_equal(PARSE("--workers", "2", "--help"), 0);
    assert_true(o.help);
    /* but a bad flag is still reported */
    assert_int_equal(PARSE("--help", "--workers", "0"), -EINVAL);
    assert_memory_equal(err, "--workers 0: ", 13);
}

/* A second parse starts from the defaults again. */
static void test_reparse_resets(void **state)
{
    (void)state;

    assert_int_equal(PARSE("--config", "a", "--workers", "7", "--listen", "[::1]:5062", "--log-level", "error"), 0);
    assert_int_equal(PARSE("--config", "b"), 0);
    assert_int_equal(o.workers, 0);
    assert_int_equal(o.n_listen, 1);
    assert_addr4(&o.listen[0], "127.0.0.1", 5060);
    assert_string_equal(o.log_level, "info");
}

/* Port 0 on what we bind (tests, several instances on one host: the
 * system picks, --ports-file tells which). */
static void test_port_zero_and_ports_file(void **state)
{
    (void)state;
    assert_int_equal(PARSE("--config", "r.yaml", "--listen", "127.0.0.1:0", "--listen", "[::1]:0",
                           "--admin", "127.0.0.1:0", "--ports-file", "/run/frontdesk/ports"),
                     0);
    assert_int_equal(o.n_listen, 2);
    assert_addr4(&o.listen[0], "127.0.0.1", 0);
    assert_addr6(&o.listen[1], "::1", 0);
    assert_string_equal(o.admin, "127.0.0.1:0");
    assert_string_equal(o.ports_file, "/run/frontdesk/ports");
    assert_int_equal(PARSE("--config", "r.yaml"), 0);
    assert_null(o.ports_file);
}

/* The per-site pick cap: 50 a second and the fallback unless told. */
static void test_limits(void **state)
{
    (void)state;
    assert_int_equal(PARSE("--config", "r.yaml"), 0);
    assert_int_equal(o.site_picks, 50);
    assert_int_equal(o.over_limit, OPTS_OVER_FALLBACK);
    assert_int_equal(o.source_rate, 500);
    assert_false(o.source_503);
    assert_int_equal(PARSE("--config", "r.yaml", "--source-rate", "0", "--source-over", "503"), 0);
    assert_int_equal(o.source_rate, 0);
    assert_true(o.source_503);
    assert_int_equal(PARSE("--config", "r.yaml", "--site-picks", "0", "--over-limit", "503"), 0);
    assert_int_equal(o.site_picks, 0);
    assert_int_equal(o.over_limit, OPTS_OVER_503);
    assert_int_equal(PARSE("--config", "r.yaml", "--over-limit", "drop"), 0);
    assert_int_equal(o.over_limit, OPTS_OVER_DROP);
}

static void test_parse_addr(void **state)
{
    (void)state;
    opts_addr_t a;

    assert_int_equal(opts_parse_addr("10.1.2.3:5060", &a), 0);
    assert_addr4(&a, "10.1.2.3", 5060);
    assert_int_equal(opts_parse_addr("[::ffff:10.1.2.3]:5061", &a), 0);
    assert_addr6(&a, "::ffff:10.1.2.3", 5061);
    assert_string_equal(a.text, "[::ffff:10.1.2.3]:5061");
    assert_int_equal(opts_parse_addr("[fe80::1]:0", &a), -EINVAL);
    /* what we bind may take port 0: the system picks one */
    assert_int_equal(opts_parse_bind_addr("[fe80::1]:0", &a), 0);
    assert_addr6(&a, "fe80::1", 0);
    assert_int_equal(opts_parse_bind_addr("10.1.2.3:65536", &a), -EINVAL);
    assert_int_equal(opts_parse_addr("example.org:5060", &a), -EINVAL);
    assert_int_equal(opts_parse_addr("10.1.2.3", &a), -EINVAL);
}

/* Forward mode's flags: defaults, values, several name servers. */
static void test_forward_flags(void **state)
{
    (void)state;
    assert_int_equal(PARSE("--config", "r.yaml"), 0);
    assert_false(o.record_route);
    assert_string_equal(o.advertise_host, "");
    assert_string_equal(o.dns_servers, "");
    assert_int_equal(o.health_interval_ms, 5000);
    assert_int_equal(o.health_down, 3);
    assert_int_equal(o.health_up, 2);
    assert_int_equal(PARSE("--config", "r.yaml", "--record-route", "--advertise", "192.0.2.10:5070",
                           "--dns-server", "127.0.0.1:5353", "--dns-server", "[::1]:53",
                           "--health-interval", "250", "--health-down", "2", "--health-up", "1"), 0);
    assert_true(o.record_route);
    assert_string_equal(o.advertise_host, "192.0.2.10");
    assert_int_equal(o.advertise_port, 5070);
    assert_string_equal(o.dns_servers, "127.0.0.1:5353,[::1]:53");
    assert_int_equal(o.health_interval_ms, 250);
    assert_int_equal(o.health_down, 2);
    assert_int_equal(o.health_up, 1);
    assert_int_equal(PARSE("--config", "r.yaml", "--advertise", "[2001:db8::1]"), 0);
    assert_string_equal(o.advertise_host, "2001:db8::1");
    assert_int_equal(o.advertise_port, 0); /* the listen port */
    assert_int_equal(PARSE("--config", "r.yaml", "--dns-server", "127.0.0.1:1", "--dns-server", "127.0.0.1:2",
                           "--dns-server", "127.0.0.1:3", "--dns-server", "127.0.0.1:4"), -EINVAL);
}

static void test_usage_mentions_every_flag(void **state)
{
    (void)state;
    const char *flags[] = { "--config", "--listen", "--workers", "--redis ", "--redis-timeout",
                            "--offer-window", "--decision-ttl", "--log-level", "--help", "--version",
                            "FRONTDESK_CALLER_KEY", "--advertise", "--record-route", "--dns-server",
                            "--health-interval", "--health-down", "--health-up", "--admin",
                            "--ports-file", "--site-picks", "--over-limit", "--source-rate",
                            "--source-over", "--tcp-max-conns", "--tcp-idle-timeout",
                            "--tcp-message-timeout", "--tcp-max-message", "--tls-cert", "--tls-key",
                            "--tls-ca", "udp+tcp" };

    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
        assert_non_null(strstr(opts_usage, flags[i]));
}

/* main.c parses once, but opts_parse() is a pure function: a parse must not
 * depend on an earlier one. After "-xy" (an unknown flag in a cluster) glibc's
 * getopt keeps a pointer to the "y" of that earlier argv, and the next parse
 * reads it (a dangling pointer once that argv is gone). */
/* Kept last: it would leave getopt's state behind if it failed. */
static void test_reparse_after_cluster_error(void **state)
{
    (void)state;

    assert_int_equal(PARSE("--config", "r.yaml", "-xy"), -EINVAL);
    assert_int_equal(PARSE("--config", "r.yaml"), 0);
    assert_string_equal(err, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_every_flag),
        cmocka_unit_test(test_flag_equals_form),
        cmocka_unit_test(test_order_and_repeats),
        cmocka_unit_test(test_log_levels),
        cmocka_unit_test(test_listen_repeated),
        cmocka_unit_test(test_listen_too_many),
        cmocka_unit_test(test_listen_transports),
        cmocka_unit_test(test_bounds_accepted),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_port_zero_and_ports_file),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_forward_flags),
        cmocka_unit_test(test_missing_config),
        cmocka_unit_test(test_unknown_flag),
        cmocka_unit_test(test_missing_value),
        cmocka_unit_test(test_missing_value_names_flag),
        cmocka_unit_test(test_redis_ipv6),
        cmocka_unit_test(test_sentinels),
        cmocka_unit_test(test_unexpected_argument),
        cmocka_unit_test(test_help_version),
        cmocka_unit_test(test_reparse_resets),
        cmocka_unit_test(test_parse_addr),
        cmocka_unit_test(test_usage_mentions_every_flag),
        cmocka_unit_test(test_reparse_after_cluster_error), /* last, see above */
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

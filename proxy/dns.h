/* dns.h -- host names of forward destinations, resolved without blocking
 * the worker and cached by their TTL: A records with libevent's evdns, SRV
 * records (RFC 3263) with c-ares, which evdns cannot ask for.
 *
 * One per worker thread, on its event_base: a lookup answers from the cache
 * at once, or starts (or joins) a query and calls back when the answer is
 * known, so a call to "sip:desk@pbx.clinic.example" waits for DNS without
 * holding up the calls behind it. Answers are kept for their TTL (at least
 * 1 s, at most an hour); a name that does not resolve (NXDOMAIN, no A
 * record, timeout) is remembered as such for DNS_NEGATIVE_S seconds.
 * Name servers: the given ones, or /etc/resolv.conf. A sip: URI with a
 * name and no port is looked up as RFC 3263 says for UDP (without NAPTR):
 * the SRV record "_sip._udp.<name>" gives a target and a port (lowest
 * priority, weighted pick, RFC 2782), then the target's A record; without
 * an SRV record, the name's A record and 5060. With a port: the A record.
 *
 * Not thread-safe: call from the owning worker.
 */
#ifndef FRONTDESK_DNS_H
#define FRONTDESK_DNS_H

#include <netinet/in.h>

#define DNS_CACHE 512     /* names cached per worker */
#define DNS_NEGATIVE_S 5  /* how long a failed name stays failed */
#define DNS_TIMEOUT_MS 1000

struct event_base;
typedef struct dns dns_t;
typedef void dns_cb(void *arg);

/* <servers>: "ip:port,ip:port" (numeric, at most 3), or NULL or "" for the
 * system's (/etc/resolv.conf). 0, or a negative errno. */
int dns_open(dns_t **out, struct event_base *base, const char *servers);

/* Queries in flight fail; their waiters are called (lookups then say
 * -ENOENT). Accepts NULL. */
void dns_close(dns_t *d);

/* The address of <host>: 0 with *<out> from the cache; -ENOENT when it is
 * known not to resolve; -EAGAIN when not known yet: a query is under way
 * and <cb>(<arg>) runs once when it is answered (never inside this call;
 * <cb> NULL: nobody waits); -ENOMEM. */
int dns_lookup(dns_t *d, const char *host, struct in_addr *out, dns_cb *cb, void *arg);

/* The address and port a sip: URI with host <host> and port <port> (0:
 * none given) sends to over UDP (RFC 3263, above): same results as
 * dns_lookup(); *<out_port> is set whenever 0 is returned. */
int dns_lookup_sip(dns_t *d, const char *host, unsigned port, struct in_addr *out,
                   unsigned *out_port, dns_cb *cb, void *arg);

#endif

/* loopaddr.h -- loopback socket addresses for the test tools (sipsend, uas):
 * "127.x.x.x:PORT" or "[::1]:PORT" parsed into an address, and an address
 * written back as a URI or Via host. Header-only, because each tool is one
 * .c file. No I/O, no allocation. It never yields an address off the
 * machine: 127.0.0.0/8 and ::1 only, so a test cannot send anywhere else.
 */
#ifndef FRONTDESK_LOOPADDR_H
#define FRONTDESK_LOOPADDR_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* One address of either family; sa.sa_family says which. */
typedef union {
    struct sockaddr sa;
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
} loopaddr_t;

/* "[::1]" plus its NUL */
#define LOOPADDR_HOST_MAX (INET6_ADDRSTRLEN + 2)

static inline bool loopaddr_is_v6(const loopaddr_t *a) { return a->sa.sa_family == AF_INET6; }

static inline socklen_t loopaddr_len(const loopaddr_t *a)
{
    return loopaddr_is_v6(a) ? sizeof(a->v6) : sizeof(a->v4);
}

static inline unsigned loopaddr_port(const loopaddr_t *a)
{
    return ntohs(loopaddr_is_v6(a) ? a->v6.sin6_port : a->v4.sin_port);
}

/* The address of <host> (<n> bytes: "127.0.0.1", "::1" or "[::1]") and
 * <port> into <out>. False, <out> untouched, when it is no numeric
 * loopback address, or a port out of 0..65535. Brackets go with IPv6
 * only. */
static inline bool loopaddr_host(const char *host, size_t n, unsigned port, loopaddr_t *out)
{
    char h[INET6_ADDRSTRLEN];
    bool bracketed = n >= 2 && host[0] == '[' && host[n - 1] == ']';
    if (bracketed) host++, n -= 2;
    if (!n || n >= sizeof(h) || port > 65535) return false;
    memcpy(h, host, n);
    h[n] = '\0';
    loopaddr_t a;
    memset(&a, 0, sizeof(a));
    if (memchr(h, ':', n)) {
        a.v6.sin6_family = AF_INET6;
        a.v6.sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, h, &a.v6.sin6_addr) != 1 || !IN6_IS_ADDR_LOOPBACK(&a.v6.sin6_addr)) return false;
    } else {
        a.v4.sin_family = AF_INET;
        a.v4.sin_port = htons((uint16_t)port);
        if (bracketed || inet_pton(AF_INET, h, &a.v4.sin_addr) != 1 || (ntohl(a.v4.sin_addr.s_addr) >> 24) != 127)
            return false;
    }
    *out = a;
    return true;
}

/* "HOST:PORT" (an IPv6 host in brackets) into <out>: 0; -EINVAL when it
 * is not of that form (or the port is not a number of 0..65535),
 * -EADDRNOTAVAIL when the host is no numeric loopback address. */
static inline int loopaddr_parse(const char *s, loopaddr_t *out)
{
    const char *colon = strrchr(s, ':');
    unsigned port = 0;
    if (!colon || colon == s || !colon[1] || strlen(colon + 1) > 5) return -EINVAL;
    for (const char *p = colon + 1; *p; p++) {
        if (*p < '0' || *p > '9') return -EINVAL;
        port = port * 10 + (unsigned)(*p - '0');
    }
    /* an IPv6 host without brackets would lose its last group to the port */
    if (memchr(s, ':', (size_t)(colon - s)) && (s[0] != '[' || colon[-1] != ']')) return -EINVAL;
    if (port > 65535) return -EINVAL;
    return loopaddr_host(s, (size_t)(colon - s), port, out) ? 0 : -EADDRNOTAVAIL;
}

/* The loopback address of <like>'s family (127.0.0.1 or ::1) with <port>:
 * where a tool binds to talk to <like>. */
static inline loopaddr_t loopaddr_local(const loopaddr_t *like, unsigned port)
{
    loopaddr_t a;
    memset(&a, 0, sizeof(a));
    if (loopaddr_is_v6(like)) {
        a.v6.sin6_family = AF_INET6;
        a.v6.sin6_addr = in6addr_loopback;
        a.v6.sin6_port = htons((uint16_t)port);
    } else {
        a.v4.sin_family = AF_INET;
        a.v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.v4.sin_port = htons((uint16_t)port);
    }
    return a;
}

/* Do <a> and <b> name the same host (ports aside)? */
static inline bool loopaddr_same_host(const loopaddr_t *a, const loopaddr_t *b)
{
    if (a->sa.sa_family != b->sa.sa_family) return false;
    if (loopaddr_is_v6(a)) return memcmp(&a->v6.sin6_addr, &b->v6.sin6_addr, sizeof(a->v6.sin6_addr)) == 0;
    return a->v4.sin_addr.s_addr == b->v4.sin_addr.s_addr;
}

/* The address as a received= value: "127.0.0.1", "::1" (RFC 3261 25.1:
 * an IPv6 received= has no brackets). */
static inline void loopaddr_ip(const loopaddr_t *a, char out[INET6_ADDRSTRLEN])
{
    if (loopaddr_is_v6(a)) inet_ntop(AF_INET6, &a->v6.sin6_addr, out, INET6_ADDRSTRLEN);
    else inet_ntop(AF_INET, &a->v4.sin_addr, out, INET6_ADDRSTRLEN);
}

/* The address as the host of a URI or a Via sent-by: "127.0.0.1",
 * "[::1]". */
static inline void loopaddr_uri_host(const loopaddr_t *a, char out[LOOPADDR_HOST_MAX])
{
    char ip[INET6_ADDRSTRLEN];
    loopaddr_ip(a, ip);
    snprintf(out, LOOPADDR_HOST_MAX, loopaddr_is_v6(a) ? "[%s]" : "%s", ip);
}

#endif

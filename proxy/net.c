/* net.c -- listening sockets: UDP (non-blocking, large buffers, bound) and
 * TCP (bound, listening). */
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

int net_open_udp(const opts_addr_t *a)
{
    int one = 1, buf = 4 << 20;
    int fd = socket(a->addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    /* bursts at 7 a.m.: let the kernel hold a few thousand datagrams; the
     * kernel caps these at net.core.[rw]mem_max without failing */
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
    if (a->addr.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    /* forward mode learns that a destination is unreachable from the ICMP
     * error its request caused (worker.c drains the queue) */
    if (a->addr.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof(one));
    else setsockopt(fd, IPPROTO_IP, IP_RECVERR, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *)&a->addr, a->len) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    return fd;
}

int net_open_tcp(const opts_addr_t *a)
{
    int one = 1;
    int fd = socket(a->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    /* a restart must not wait for the old connections' TIME_WAIT */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (a->addr.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *)&a->addr, a->len) < 0 || listen(fd, 1024) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    return fd;
}

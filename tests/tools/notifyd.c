/* notifyd -- the receiving end of systemd's readiness protocol, for tests:
 * binds a datagram Unix socket at PATH, prints each message it gets (one
 * line "--" after each), and exits 0 once one holds "READY=1", 3 when
 * SECONDS pass first, 2 on bad usage.
 *
 *   notifyd PATH [SECONDS]
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    if (argc < 2 || strlen(argv[1]) >= sizeof(a.sun_path)) {
        fprintf(stderr, "usage: notifyd PATH [SECONDS]\n");
        return 2;
    }
    int secs = argc > 2 ? atoi(argv[2]) : 10;
    strcpy(a.sun_path, argv[1]);
    unlink(argv[1]);
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        perror("notifyd: bind");
        return 2;
    }
    printf("listening\n");
    fflush(stdout);
    time_t end = time(NULL) + secs;
    while (time(NULL) < end) {
        struct pollfd p = { fd, POLLIN, 0 };
        if (poll(&p, 1, 200) <= 0) continue;
        char buf[4096];
        ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
        if (n <= 0) continue;
        buf[n] = '\0';
        printf("%s\n--\n", buf);
        fflush(stdout);
        if (strstr(buf, "READY=1")) {
            unlink(argv[1]);
            return 0;
        }
    }
    unlink(argv[1]);
    return 3;
}

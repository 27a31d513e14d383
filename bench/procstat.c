/* procstat.c -- a process's CPU time from /proc/PID/stat (see procstat.h). */
#include "procstat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int procstat_parse(const char *text, uint64_t *ticks)
{
    /* "pid (comm) state ppid ...": fields 14 and 15 (utime, stime) are the
     * 12th and 13th after the last ')' */
    const char *p = strrchr(text, ')');
    if (!p) return -1;
    p++;
    uint64_t v[2];
    for (int field = 3; field <= 15; field++) {
        while (*p == ' ') p++;
        if (!*p) return -1;
        char *end;
        unsigned long long n = strtoull(p, &end, 10);
        if (field >= 14) {
            if (end == p) return -1;
            v[field - 14] = n;
        }
        p = strchr(p, ' ');
        if (!p && field < 15) return -1;
        if (!p) break;
    }
    *ticks = v[0] + v[1];
    return 0;
}

double procstat_cpu_s(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    uint64_t ticks;
    long hz = sysconf(_SC_CLK_TCK);
    if (procstat_parse(buf, &ticks) < 0 || hz <= 0) return -1;
    return (double)ticks / (double)hz;
}

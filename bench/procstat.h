/* procstat.h -- CPU time of another process, from /proc/PID/stat.
 *
 * What it does: reads utime + stime of a process (the proxy, Redis) so a
 * run can report the share of a core each used over it.
 *
 * What it never does: no signals, nothing but reading /proc.
 */
#ifndef FRONTDESK_BENCH_PROCSTAT_H
#define FRONTDESK_BENCH_PROCSTAT_H

#include <stdint.h>
#include <sys/types.h>

/* utime + stime in clock ticks from the text of a /proc/PID/stat file
 * (the command name in parentheses may hold spaces and parentheses). 0, or
 * -1 when the text is not one. */
int procstat_parse(const char *text, uint64_t *ticks);

/* CPU seconds process <pid> has used (all its threads). -1 when it cannot
 * be read (gone, not ours to read). */
double procstat_cpu_s(pid_t pid);

#endif

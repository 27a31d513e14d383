/* ctl.h -- frontdeskctl's commands that live outside ctl.c (the tool, not
 * the proxy: linked into frontdeskctl only).
 *
 * ctl_report: "report calls" and "report coverage" (ctl_report.c,
 * docs/reports.md). Flags are checked before Redis is asked for: <redis>
 * connects (or exits 2 saying why) only once they are good. Returns the
 * exit code: 0, or 2 for bad flags, a bad rules file or Redis refusing.
 */
#ifndef FRONTDESK_CTL_H
#define FRONTDESK_CTL_H

struct redisContext;
typedef struct redisContext *ctl_redis_fn(void *arg);

int ctl_report(ctl_redis_fn *redis, void *arg, const char *what, int argc, char **argv);

#endif

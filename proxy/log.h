/* log.h -- cheap, safe log lines: one logfmt line per event, to stderr.
 *
 * LOG_*() check the level before formatting anything. Lines written on a
 * worker thread go to that thread's buffer; after each batch of datagrams
 * the worker writes them at once if its last write is LOG_FLUSH_MS old,
 * else when the buffer holds LOG_FLUSH_AT bytes (log_flush_full()) or its
 * log timer, armed for the first line held, fires (worker.c); other
 * threads write at once. A caller's number is never
 * given to a log call in clear: log the hash from log_caller_hash().
 * log_init() runs once in main() before threads start; the rest is
 * thread-safe.
 */
#ifndef FRONTDESK_LOG_H
#define FRONTDESK_LOG_H

#include <stdbool.h>
#include <stddef.h>

typedef enum { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG } log_level_t;

extern log_level_t log_level; /* set by main() before threads start */

#define LOG_ENABLED(l) ((l) <= log_level)
#define LOG_ERROR(...) do { if (LOG_ENABLED(LOG_LVL_ERROR)) log_line(LOG_LVL_ERROR, __VA_ARGS__); } while (0)
#define LOG_WARN(...)  do { if (LOG_ENABLED(LOG_LVL_WARN))  log_line(LOG_LVL_WARN,  __VA_ARGS__); } while (0)
#define LOG_INFO(...)  do { if (LOG_ENABLED(LOG_LVL_INFO))  log_line(LOG_LVL_INFO,  __VA_ARGS__); } while (0)
#define LOG_DEBUG(...) do { if (LOG_ENABLED(LOG_LVL_DEBUG)) log_line(LOG_LVL_DEBUG, __VA_ARGS__); } while (0)

/* Parse "error", "warn", "info" or "debug"; returns -EINVAL otherwise. */
int log_parse_level(const char *s, log_level_t *out);

/* Derive the log's caller-hash key from the 32-byte caller key <key> (NULL:
 * a random key drawn now) and route libosip2/libevent messages here. */
int log_init(const unsigned char *caller_key);

/* Write "ts=... level=... msg=\"<msg>\" <fmt...>" as one line. <fmt> holds
 * logfmt pairs, e.g. "site=%s skill=%s". */
void log_line(log_level_t l, const char *msg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* <s>/<len> made safe to print between quotes in a logfmt line: '"' and
 * '\\' escaped, control characters (CR, LF...) as '?', cut to fit <cap>.
 * Every value that comes from the wire or from Redis goes through it.
 * Returns <buf>. */
const char *log_value(char *buf, size_t cap, const char *s, size_t len);

#define LOG_FLUSH_AT 8192 /* bytes held before a write */
#define LOG_FLUSH_MS 50   /* how long a line waits at most */

/* Buffer this thread's lines until log_flush(); for worker threads. */
void log_buffer_thread(bool on);
void log_flush(void);
void log_flush_full(void); /* only when LOG_FLUSH_AT bytes are held */
bool log_is_holding(void);       /* lines are waiting */

/* Keyed hash (SipHash) of a caller number's digits, as 16 hex characters +
 * NUL in <out>: the same for every spelling of one number. */
void log_caller_hash(const char *num, size_t len, char out[17]);

/* A Call-ID as it may be written down (logs, Redis key names): 32 hex of a
 * keyed hash (BLAKE2b) of it. Call-IDs often carry the caller's host or
 * number, so none is written in clear. The key comes from the caller key
 * (every proxy of a group agrees, and a retransmission that lands on
 * another one finds the call's decision in Redis), or is a built-in one
 * without it (still the same on every proxy). */
#define LOG_CALL_HASH_LEN 32
/* <uri> for a log line, its user part (a number, for a caller's Contact)
 * written "*": "sip:*@192.0.2.7:5060;transport=tcp". Quotes and controls
 * escaped as log_value() does. Returns <buf>. */
const char *log_uri(char *buf, size_t cap, const char *uri);

void log_call_hash(const char *cid, size_t len, char out[LOG_CALL_HASH_LEN + 1]);

#endif

/* log.c -- logfmt lines to stderr, buffered per worker thread.
 *
 * Under load a worker's lines leave in one write() when its buffer passes
 * LOG_FLUSH_AT or its log timer fires (LOG_FLUSH_MS after the first line it
 * holds; worker.c decides), so logging a decision per call costs a
 * vsnprintf, not a syscall. stderr is
 * unbuffered by design (journald collects it); a full pipe blocks only the
 * thread that writes, and lines are never split across writes.
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <osipparser2/osip_port.h>
#include <sodium.h>

log_level_t log_level = LOG_LVL_INFO;

static unsigned char caller_key[crypto_shorthash_KEYBYTES];
/* the Call-IDs' key: from the caller key, else this built-in one */
static unsigned char call_key[crypto_generichash_KEYBYTES] = "frontdesk call-id key, built in.";

#define LOG_BUF 16384
#define LOG_LINE_MAX 1024

static _Thread_local struct {
    bool on;
    size_t len;
    char buf[LOG_BUF];
    time_t sec;        /* the second <stamp> was made for */
    char stamp[32];    /* "ts=YYYY-MM-DDTHH:MM:SS", strftime'd once a second */
    size_t stamp_len;
} tbuf;

static const char *level_names[] = { "error", "warn", "info", "debug" };

int log_parse_level(const char *s, log_level_t *out)
{
    for (int i = 0; i <= LOG_LVL_DEBUG; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (log_level_t)i;
            return 0;
        }
    }
    return -EINVAL;
}

static void write_all(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return; /* nowhere left to report it */
        }
        p += w;
        n -= (size_t)w;
    }
}

void log_flush(void)
{
    if (tbuf.len) write_all(tbuf.buf, tbuf.len);
    tbuf.len = 0;
}

bool log_is_holding(void)
{
    return tbuf.len > 0;
}

void log_flush_full(void)
{
    if (tbuf.len >= LOG_FLUSH_AT) log_flush();
}

void log_buffer_thread(bool on)
{
    if (!on) log_flush();
    tbuf.on = on;
}

const char *log_value(char *out, size_t cap, const char *s, size_t len)
{
    size_t n = 0;
    if (cap == 0) return out;
    for (size_t i = 0; i < len && s[i] && n + 3 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') out[n++] = '\\', out[n++] = (char)c;
        else if (c < 0x20 || c == 0x7f) out[n++] = '?';
        else out[n++] = (char)c;
    }
    out[n] = '\0';
    return out;
}

void log_line(log_level_t l, const char *msg, const char *fmt, ...)
{
    char line[LOG_LINE_MAX], esc[512];
    struct timeval tv;
    struct tm tm;
    size_t n;

    gettimeofday(&tv, NULL);
    if (tv.tv_sec != tbuf.sec || !tbuf.stamp_len) { /* (per thread: no lock) */
        gmtime_r(&tv.tv_sec, &tm);
        tbuf.stamp_len = strftime(tbuf.stamp, sizeof(tbuf.stamp), "ts=%Y-%m-%dT%H:%M:%S", &tm);
        tbuf.sec = tv.tv_sec;
    }
    memcpy(line, tbuf.stamp, tbuf.stamp_len);
    n = tbuf.stamp_len;
    unsigned ms = (unsigned)(tv.tv_usec / 1000);
    line[n++] = '.';
    line[n++] = (char)('0' + ms / 100);
    line[n++] = (char)('0' + ms / 10 % 10);
    line[n++] = (char)('0' + ms % 10);
    n += (size_t)snprintf(line + n, sizeof(line) - n, "Z level=%s msg=\"%s\"", level_names[l],
                          log_value(esc, sizeof(esc), msg, strlen(msg)));
    if (n > sizeof(line) - 2) n = sizeof(line) - 2; /* room for the newline */
    if (fmt && *fmt && n + 3 < sizeof(line)) {
        va_list ap;
        line[n++] = ' ';
        va_start(ap, fmt);
        int w = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
        va_end(ap);
        if (w > 0) n += (size_t)w < sizeof(line) - n - 1 ? (size_t)w : sizeof(line) - n - 2;
    }
    /* whatever a value held, one line is one line */
    for (size_t i = 0; i < n; i++)
        if (line[i] == '\n' || line[i] == '\r') line[i] = '?';
    line[n++] = '\n';

    if (!tbuf.on) {
        write_all(line, n);
        return;
    }
    if (tbuf.len + n > sizeof(tbuf.buf)) log_flush();
    memcpy(tbuf.buf + tbuf.len, line, n);
    tbuf.len += n;
}

void log_caller_hash(const char *num, size_t len, char out[17])
{
    unsigned char h[crypto_shorthash_BYTES], digits[64];
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;

    /* digits only, up to URI parameters: "+1 (512) 555-0100;user=phone"
     * and "15125550100" are one caller */
    for (size_t i = 0; i < len && num[i] != ';' && n < sizeof(digits); i++)
        if (num[i] >= '0' && num[i] <= '9') digits[n++] = (unsigned char)num[i];
    if (n == 0) /* not a number (anonymous, a name): hash it as it is */
        for (size_t i = 0; i < len && n < sizeof(digits); i++) digits[n++] = (unsigned char)num[i];
    crypto_shorthash(h, digits, n, caller_key);
    for (int i = 0; i < 8; i++) {
        out[2 * i] = hex[h[i] >> 4];
        out[2 * i + 1] = hex[h[i] & 15];
    }
    out[16] = '\0';
}

const char *log_uri(char *buf, size_t cap, const char *uri)
{
    char tmp[512];
    const char *at = strchr(uri, '@'), *colon = strchr(uri, ':');
    if (at && colon && colon < at) {
        snprintf(tmp, sizeof(tmp), "%.*s*%s", (int)(colon + 1 - uri), uri, at);
        uri = tmp;
    }
    return log_value(buf, cap, uri, strlen(uri));
}

void log_call_hash(const char *cid, size_t len, char out[LOG_CALL_HASH_LEN + 1])
{
    unsigned char h[LOG_CALL_HASH_LEN / 2];
    crypto_generichash(h, sizeof(h), (const unsigned char *)cid, len, call_key, sizeof(call_key));
    sodium_bin2hex(out, LOG_CALL_HASH_LEN + 1, h, sizeof(h));
}

/* libosip2 trace: its messages carry no caller numbers we could not log,
 * but they may quote a bad header; they go through the same escaping. */
static void osip_sink(const char *fi, int li, osip_trace_level_t level,
                      const char *chfr, va_list ap)
{
    char msg[512];
    (void)level;
    vsnprintf(msg, sizeof(msg), chfr, ap);
    LOG_DEBUG(msg, "src=osip file=%s line=%d", fi, li);
}

static void event_sink(int severity, const char *msg)
{
    if (severity >= EVENT_LOG_ERR) LOG_ERROR(msg, "src=libevent");
    else if (severity == EVENT_LOG_WARN) LOG_WARN(msg, "src=libevent");
    else LOG_DEBUG(msg, "src=libevent");
}

int log_init(const unsigned char *key)
{
    if (sodium_init() < 0) return -EIO;
    /* a key of its own, derived from the caller key: the HMAC of caller-
     * aware routing and this hash never share key material */
    if (key) crypto_generichash(caller_key, sizeof(caller_key), (const unsigned char *)"frontdesk-log", 13, key, 32);
    else crypto_shorthash_keygen(caller_key);
    if (key) crypto_generichash(call_key, sizeof(call_key), (const unsigned char *)"frontdesk-call-id", 17, key, 32);
    /* without a trace function libosip2 prints its ERROR traces to stdout;
     * below debug, a function with no level enabled keeps it quiet */
    osip_trace_initialize_func(log_level >= LOG_LVL_DEBUG ? END_TRACE_LEVEL : TRACE_LEVEL0, osip_sink);
    event_set_log_callback(event_sink);
    return 0;
}

/* outbuf.h -- appending to a fixed buffer with one bounds check per piece:
 * once a piece does not fit, the buffer is marked full and every later
 * piece is ignored, so a builder writes straight through and checks once
 * at the end. Used by the answer and forwarding builders (pure). */
#ifndef FRONTDESK_OUTBUF_H
#define FRONTDESK_OUTBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "sip.h" /* sip_hdr_t */

typedef struct {
    char *p;
    size_t len, cap;
    bool full;
} out_t;

static inline void put(out_t *o, const char *s, size_t n)
{
    if (o->full || o->len + n > o->cap) {
        o->full = true;
        return;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

static inline void puts_(out_t *o, const char *s) { put(o, s, strlen(s)); }

/* <v> in decimal (snprintf's "%lu" costs ~20 times as much) */
static inline void put_uint(out_t *o, unsigned long v)
{
    char d[20];
    size_t i = sizeof(d);
    do {
        d[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put(o, d + i, sizeof(d) - i);
}

/* <n> bytes of <s> into <dst> of <cap> (> 0) bytes, cut to fit and
 * NUL-terminated, as snprintf's "%.*s" does, without its cost on the hot
 * path. Returns the length copied. */
static inline size_t copy_cut(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap) n = cap - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return n;
}

/* A header field as received, unless its name is folded ("Via CRLF SP :",
 * which libosip2 accepts but the grammar does not): then "Name: value". */
static inline void put_field(out_t *o, const sip_hdr_t *h)
{
    size_t name_end = (size_t)(h->value.s - h->line.s);
    if (!memchr(h->line.s, '\r', name_end) && !memchr(h->line.s, '\n', name_end)) {
        put(o, h->line.s, h->line.len);
        return;
    }
    put(o, h->name.s, h->name.len);
    puts_(o, ": ");
    put(o, h->value.s, h->value.len);
}


#endif

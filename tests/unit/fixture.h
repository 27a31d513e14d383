/* fixture.h -- raw SIP fixtures for the unit tests (included by test_*.c).
 *
 * load() reads tests/unit/fixtures/<name> (tests run from the repository
 * root) into a malloc'd, NUL-terminated buffer; subst() edits one in place.
 */
#ifndef FRONTDESK_TEST_FIXTURE_H
#define FRONTDESK_TEST_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIX "tests/unit/fixtures/"

/* Read a fixture. A bare LF becomes CRLF so the messages stay exact whatever
 * an editor or a checkout does to line ends. */
static inline char *load(const char *name, size_t *len)
{
    char path[256];
    snprintf(path, sizeof(path), FIX "%s", name);
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s (run from the repository root)", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    assert_true(n > 0);
    char *raw = malloc((size_t)n), *out = malloc(2 * (size_t)n + 1);
    assert_non_null(raw);
    assert_non_null(out);
    assert_int_equal(fread(raw, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    size_t o = 0;
    for (long i = 0; i < n; i++) {
        if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r')) out[o++] = '\r';
        out[o++] = raw[i];
    }
    out[o] = '\0';
    free(raw);
    *len = o;
    return out;
}

/* Replace every <from> in <*buf> by <to>. */
static inline void subst(char **buf, size_t *len, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to), hits = 0;
    for (const char *p = *buf; (p = strstr(p, from)); p += fl) hits++;
    assert_true(hits > 0);
    char *out = malloc(*len + hits * tl + 1), *o = out;
    assert_non_null(out);
    const char *p = *buf, *q;
    while ((q = strstr(p, from))) {
        memcpy(o, p, (size_t)(q - p));
        o += q - p;
        memcpy(o, to, tl);
        o += tl;
        p = q + fl;
    }
    size_t rest = strlen(p);
    memcpy(o, p, rest + 1);
    *len = (size_t)(o - out) + rest;
    free(*buf);
    *buf = out;
}

#endif

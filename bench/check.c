/* check.c -- judge answers; the allowed-Contacts list (see check.h).
 *
 * The list is a sorted array of strings searched with bsearch: loaded once
 * before the run, read-only during it.
 */
#include "check.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK_LINE_MAX 1024

struct check_allow {
    char **uri; /* sorted, NUL-terminated */
    size_t n, cap;
};

static const char *const check_names[CHECK__COUNT] = {
    [CHECK_OK] = "ok",
    [CHECK_STATUS] = "status",
    [CHECK_CSEQ] = "cseq",
    [CHECK_BRANCH] = "branch",
    [CHECK_TO_TAG] = "to_tag",
    [CHECK_CONTACT] = "contact",
    [CHECK_NOT_ALLOWED] = "contact_not_allowed",
    [CHECK_FALLBACK] = "fallback",
    [CHECK_CONTACTS] = "contacts",
    [CHECK_NOT_STAFF] = "not_staff",
    [CHECK_SKILL] = "skill",
    [CHECK_PRESENCE] = "presence",
    [CHECK_ROUTE] = "route",
    [CHECK_MALFORMED] = "malformed",
};

const char *check_verdict_name(check_verdict_t v)
{
    return (unsigned)v < CHECK__COUNT ? check_names[v] : "?";
}

/* ---------------------------------------------------------------------------
 * Allowed Contact URIs
 * ------------------------------------------------------------------------ */

void check_allow_free(check_allow_t *a)
{
    if (!a) return;
    for (size_t i = 0; i < a->n; i++) free(a->uri[i]);
    free(a->uri);
    a->uri = NULL;
    free(a);
}

size_t check_allow_count(const check_allow_t *a)
{
    return a ? a->n : 0;
}

static int check_cmp(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

/* Add the URI of one line (<s>, trimmed, <...> removed). 0 or -ENOMEM. */
static int check_allow_add(check_allow_t *a, const char *s, size_t len)
{
    if (len >= 2 && s[0] == '<' && s[len - 1] == '>') {
        s++;
        len -= 2;
    }
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        char **u = realloc(a->uri, cap * sizeof(*u));
        if (!u) return -ENOMEM;
        a->uri = u;
        a->cap = cap;
    }
    char *copy = strndup(s, len);
    if (!copy) return -ENOMEM;
    a->uri[a->n++] = copy;
    return 0;
}

int check_allow_load(check_allow_t **out, const char *path, char *err, size_t errlen)
{
    int rc = -ENOMEM;
    unsigned line = 0;
    char buf[CHECK_LINE_MAX];
    check_allow_t *a = calloc(1, sizeof(*a));
    FILE *f = NULL;
    if (!a) goto fail;
    if (!(f = fopen(path, "r"))) {
        rc = -errno;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto fail;
    }
    while (fgets(buf, sizeof(buf), f)) {
        line++;
        size_t len = strlen(buf);
        if (len == sizeof(buf) - 1 && buf[len - 1] != '\n' && !feof(f)) {
            rc = -EINVAL;
            snprintf(err, errlen, "%s:%u: line longer than %d bytes", path, line,
                     CHECK_LINE_MAX - 2);
            goto fail;
        }
        char *s = buf, *e = buf + len;
        while (s < e && (*s == ' ' || *s == '\t')) s++;
        while (e > s && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t')) e--;
        if (s == e || *s == '#') continue;
        if ((rc = check_allow_add(a, s, (size_t)(e - s))) < 0) {
            snprintf(err, errlen, "%s:%u: out of memory", path, line);
            goto fail;
        }
    }
    if (ferror(f)) {
        rc = -EIO;
        snprintf(err, errlen, "%s: read error", path);
        goto fail;
    }
    if (a->n == 0) {
        rc = -EINVAL;
        snprintf(err, errlen, "%s: no Contact URI in the file", path);
        goto fail;
    }
    fclose(f);
    qsort(a->uri, a->n, sizeof(*a->uri), check_cmp);
    *out = a;
    return 0;
fail:
    if (f) fclose(f);
    check_allow_free(a);
    return rc;
}

bool check_allow_has(const check_allow_t *a, sipmsg_span_t uri)
{
    size_t lo = 0, hi = a->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *m = a->uri[mid];
        size_t mlen = strlen(m), n = mlen < uri.len ? mlen : uri.len;
        int c = memcmp(uri.s, m, n);
        if (c == 0) c = (uri.len > mlen) - (uri.len < mlen);
        if (c == 0) return true;
        if (c < 0) hi = mid;
        else lo = mid + 1;
    }
    return false;
}

/* ---------------------------------------------------------------------------
 * Judging
 * ------------------------------------------------------------------------ */

check_verdict_t check_answer(const sipmsg_resp_t *r, sipmsg_span_t branch,
                             const check_allow_t *allow)
{
    if (r->status != 302) return CHECK_STATUS;
    if (r->cseq_num != 1 || !sipmsg_span_is(r->cseq_method, "INVITE")) return CHECK_CSEQ;
    if (r->branch.len != branch.len || memcmp(r->branch.s, branch.s, branch.len) != 0)
        return CHECK_BRANCH;
    if (r->to_tag.len == 0) return CHECK_TO_TAG;
    if (r->contacts == 0 || r->contact.len == 0) return CHECK_CONTACT;
    if (allow && !check_allow_has(allow, r->contact)) return CHECK_NOT_ALLOWED;
    return CHECK_OK;
}

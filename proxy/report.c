/* report.c -- counting the call and presence histories, and writing what
 * they say (tables, CSV, JSON, SVG). Pure; see report.h.
 */
#include "report.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

const char *const report_outcome_names[RO_N] = {
    "staff", "nobody", "late", "redis_down", "redis_error", "capped",
    "after_hours", "lunch", "holiday", "rules", "rejected",
};

/* What a manager reads for each outcome. */
static const char *const outcome_words[RO_N] = {
    "reached staff", "nobody free", "Redis late", "Redis down", "Redis error", "site's cap",
    "after hours", "lunch", "holiday", "the rules alone", "rejected",
};

static const char *const days[7] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };

const char *report_how_text(unsigned how, char buf[16])
{
    snprintf(buf, 16, "%s %02u:00", days[(how / 24) % 7], how % 24);
    return buf;
}

/* Calls that wanted staff and did not reach them: the ones a report is for. */
static bool is_missed(int o)
{
    return o == RO_NOBODY || o == RO_LATE || o == RO_REDIS_DOWN || o == RO_REDIS_ERROR || o == RO_CAPPED;
}

/* ---- parsing -------------------------------------------------------- */

/* Copy the next tab-separated field of [*p, end) into <dst> (cut to fit). */
static void next_field(const char **p, const char *end, char *dst, size_t cap)
{
    const char *t = memchr(*p, '\t', (size_t)(end - *p));
    size_t n = (size_t)((t ? t : end) - *p);
    if (n >= cap) n = cap - 1;
    memcpy(dst, *p, n);
    dst[n] = '\0';
    *p = t ? t + 1 : end;
}

int report_parse_call(const char *id, size_t idlen, const char *v, size_t vlen, report_call_t *out)
{
    char f[8][40];
    const char *p = v, *end = v + vlen;
    unsigned nf = 0;

    memset(out, 0, sizeof(*out));
    if (idlen == 0 || idlen > 40 || id[0] < '0' || id[0] > '9') return -EINVAL;
    out->ms = strtoull(id, NULL, 10);
    next_field(&p, end, out->call, sizeof(out->call));
    next_field(&p, end, out->number, sizeof(out->number));
    next_field(&p, end, out->option, sizeof(out->option));
    next_field(&p, end, out->skill, sizeof(out->skill));
    while (p < end && nf < 8) next_field(&p, end, f[nf++], sizeof(f[0]));
    if (nf < 2 || !out->call[0]) return -EINVAL;
    out->outcome = -1;
    for (int i = 0; i < RO_N; i++)
        if (!strcmp(f[0], report_outcome_names[i])) out->outcome = i;
    if (!strcmp(f[0], "final") && nf >= 5) { /* forward mode: what the destination answered */
        out->status = (unsigned)strtoul(f[4], NULL, 10);
        if (out->status < 200 || out->status > 699) return -EINVAL;
    } else if (out->outcome < 0) {
        return -EINVAL;
    }
    out->offered = (unsigned)strtoul(f[1], NULL, 10);
    /* f[2]: the caller hash (not kept); f[3]: the proxy's clock */
    if (nf >= 4 && f[3][0] >= '0' && f[3][0] <= '9') out->ms = strtoull(f[3], NULL, 10);
    return 0;
}

/* ---- report calls ----------------------------------------------------- */

typedef struct {
    char site[33], skill[33];
    uint32_t n[REPORT_HOURS][RO_N];
} row_t;

/* A call seen at the site being read: where its last entry was counted. */
typedef struct {
    char call[33];
    uint32_t row;
    uint16_t how;
    int8_t outcome;  /* -1: no routing entry counted (only a final response) */
    uint16_t final;  /* the final response counted for it, 0 if none */
    bool used;
} seen_t;

/* Forward mode: the final responses of a site's calls, by code. */
typedef struct {
    char site[33];
    uint32_t n[700];
} finals_t;

struct report_calls {
    row_t *rows;
    size_t nrows, caprows;
    finals_t *fin;
    size_t nfin;
    seen_t *seen;
    size_t nseen, capseen; /* capseen: a power of 2 */
    char site[33];         /* the site whose entries are being read */
};

report_calls_t *report_calls_new(void)
{
    return calloc(1, sizeof(report_calls_t));
}

void report_calls_free(report_calls_t *rc)
{
    if (!rc) return;
    free(rc->rows);
    free(rc->seen);
    free(rc->fin);
    free(rc);
}

static int row_of(report_calls_t *rc, const char *site, const char *skill, size_t *out)
{
    for (size_t i = 0; i < rc->nrows; i++)
        if (!strcmp(rc->rows[i].site, site) && !strcmp(rc->rows[i].skill, skill)) {
            *out = i;
            return 0;
        }
    if (rc->nrows == rc->caprows) {
        size_t cap = rc->caprows ? rc->caprows * 2 : 16;
        row_t *r = realloc(rc->rows, cap * sizeof(*r));
        if (!r) return -ENOMEM;
        rc->rows = r, rc->caprows = cap;
    }
    row_t *r = &rc->rows[rc->nrows];
    memset(r, 0, sizeof(*r));
    snprintf(r->site, sizeof(r->site), "%s", site);
    snprintf(r->skill, sizeof(r->skill), "%s", skill);
    *out = rc->nrows++;
    return 0;
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    while (*s) h = (h ^ (unsigned char)*s++) * 1099511628211ull;
    return h;
}

/* The slot of <call> in the seen table (empty if not there). */
static seen_t *seen_slot(report_calls_t *rc, const char *call)
{
    size_t m = rc->capseen - 1, i = (size_t)hash_str(call) & m;
    while (rc->seen[i].used && strcmp(rc->seen[i].call, call)) i = (i + 1) & m;
    return &rc->seen[i];
}

static int seen_grow(report_calls_t *rc)
{
    size_t old = rc->capseen, cap = old ? old * 2 : 1024;
    seen_t *prev = rc->seen, *s = calloc(cap, sizeof(*s));
    if (!s) return -ENOMEM;
    rc->seen = s, rc->capseen = cap;
    for (size_t i = 0; i < old; i++)
        if (prev[i].used) *seen_slot(rc, prev[i].call) = prev[i];
    free(prev);
    return 0;
}

/* The seen-table entry of <call> at <site> (the table reset for a new
 * site), created unused-for-routing when new. NULL when out of memory. */
static seen_t *seen_of(report_calls_t *rc, const char *site, const char *call)
{
    if (strcmp(rc->site, site)) {
        snprintf(rc->site, sizeof(rc->site), "%s", site);
        if (rc->seen) memset(rc->seen, 0, rc->capseen * sizeof(*rc->seen));
        rc->nseen = 0;
    }
    if ((rc->nseen + 1) * 2 > rc->capseen && seen_grow(rc) < 0) return NULL;
    seen_t *s = seen_slot(rc, call);
    if (!s->used) {
        memset(s, 0, sizeof(*s));
        s->used = true;
        s->outcome = -1;
        snprintf(s->call, sizeof(s->call), "%s", call);
        rc->nseen++;
    }
    return s;
}

int report_calls_add(report_calls_t *rc, const char *site, const report_call_t *c, unsigned how)
{
    size_t row;
    if (c->outcome < 0 || c->outcome >= RO_N || how >= REPORT_HOURS) return -EINVAL;
    /* a call's entries are all at its site */
    seen_t *s = seen_of(rc, site, c->call);
    if (!s) return -ENOMEM;
    char skill[33];
    snprintf(skill, sizeof(skill), "%s", c->skill);
    if (s->outcome >= 0) { /* the call's earlier entry: its count is replaced,
                              at the hour the call came in, under its skill
                              if this has none */
        row_t *prev = &rc->rows[s->row];
        prev->n[s->how][s->outcome]--;
        how = s->how;
        if (!skill[0]) snprintf(skill, sizeof(skill), "%s", prev->skill);
    }
    if (row_of(rc, site, skill, &row) < 0) return -ENOMEM;
    rc->rows[row].n[how][c->outcome]++;
    s->row = (uint32_t)row, s->how = (uint16_t)how, s->outcome = (int8_t)c->outcome;
    return 0;
}

int report_calls_final(report_calls_t *rc, const char *site, const char *call, unsigned status)
{
    size_t i = 0;
    if (status < 200 || status > 699) return -EINVAL;
    seen_t *s = seen_of(rc, site, call);
    if (!s) return -ENOMEM;
    while (i < rc->nfin && strcmp(rc->fin[i].site, site)) i++;
    if (i == rc->nfin) {
        finals_t *m = realloc(rc->fin, (rc->nfin + 1) * sizeof(*m));
        if (!m) return -ENOMEM;
        rc->fin = m;
        memset(&m[i], 0, sizeof(m[i]));
        snprintf(m[i].site, sizeof(m[i].site), "%s", site);
        rc->nfin++;
    }
    if (s->final) rc->fin[i].n[s->final]--; /* a retransmission, or a later final: the last counts */
    rc->fin[i].n[status]++;
    s->final = (uint16_t)status;
    return 0;
}

/* "200 x5, 486 x1" of <f>. */
static void write_finals(FILE *f, const finals_t *fin, bool json)
{
    bool first = true;
    for (unsigned s = 200; s < 700; s++) {
        if (!fin->n[s]) continue;
        if (json) fprintf(f, "%s\"%u\":%u", first ? "" : ",", s, fin->n[s]);
        else fprintf(f, "%s%u x%u", first ? " " : ", ", s, fin->n[s]);
        first = false;
    }
}

uint64_t report_calls_count(const report_calls_t *rc, const char *site, const char *skill, int how, int outcome)
{
    uint64_t n = 0;
    for (size_t i = 0; i < rc->nrows; i++) {
        const row_t *r = &rc->rows[i];
        if ((site && strcmp(r->site, site)) || (skill && strcmp(r->skill, skill))) continue;
        for (unsigned h = 0; h < REPORT_HOURS; h++) {
            if (how >= 0 && (unsigned)how != h) continue;
            for (int o = 0; o < RO_N; o++)
                if (outcome < 0 || outcome == o) n += r->n[h][o];
        }
    }
    return n;
}

uint64_t report_calls_total(const report_calls_t *rc)
{
    return report_calls_count(rc, NULL, NULL, -1, -1);
}

static int cmp_rows(const void *a, const void *b)
{
    const row_t *x = a, *y = b;
    int c = strcmp(x->site, y->site);
    return c ? c : strcmp(x->skill, y->skill);
}

static void row_totals(const row_t *r, uint64_t tot[RO_N], uint64_t *all)
{
    *all = 0;
    for (int o = 0; o < RO_N; o++) tot[o] = 0;
    for (unsigned h = 0; h < REPORT_HOURS; h++)
        for (int o = 0; o < RO_N; o++) tot[o] += r->n[h][o], *all += r->n[h][o];
}

static uint64_t cell_calls(const row_t *r, unsigned h)
{
    uint64_t n = 0;
    for (int o = 0; o < RO_N; o++) n += r->n[h][o];
    return n;
}

static uint64_t cell_missed(const row_t *r, unsigned h)
{
    uint64_t n = 0;
    for (int o = 0; o < RO_N; o++)
        if (is_missed(o)) n += r->n[h][o];
    return n;
}

/* A name as a JSON string (names are [A-Za-z0-9_-]; anything else is
 * escaped all the same). */
static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20) fprintf(f, "\\u%04x", (unsigned char)*s);
        else fputc(*s, f);
    }
    fputc('"', f);
}

/* An SVG/XML text (escaped). */
static void xml_str(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

static const char *skill_name(const char *s) { return s[0] ? s : "-"; }

/* The hours with the most calls that wanted staff and did not reach them. */
typedef struct {
    const row_t *r;
    unsigned how;
    uint64_t missed, calls;
} worst_t;

static int cmp_worst(const void *a, const void *b)
{
    const worst_t *x = a, *y = b;
    if (x->missed != y->missed) return x->missed < y->missed ? 1 : -1;
    int c = cmp_rows(x->r, y->r);
    return c ? c : (int)x->how - (int)y->how;
}

static void write_table(report_calls_t *rc, FILE *f, const char *title)
{
    char hb[16];
    fprintf(f, "%s\n\n", title);
    fprintf(f, "%-16s %-14s %7s %7s %6s |", "site", "skill", "calls", "staff", "share");
    for (int o = 1; o < RO_N; o++) fprintf(f, " %s", report_outcome_names[o]);
    fputc('\n', f);
    for (size_t i = 0; i < rc->nrows; i++) {
        const row_t *r = &rc->rows[i];
        uint64_t tot[RO_N], all;
        row_totals(r, tot, &all);
        fprintf(f, "%-16s %-14s %7" PRIu64 " %7" PRIu64 " %5.1f%% |", r->site, skill_name(r->skill), all,
                tot[RO_STAFF], all ? 100.0 * (double)tot[RO_STAFF] / (double)all : 0.0);
        for (int o = 1; o < RO_N; o++) fprintf(f, " %*" PRIu64, (int)strlen(report_outcome_names[o]), tot[o]);
        fputc('\n', f);
    }

    size_t n = 0, cap = 0;
    worst_t *w = NULL;
    for (size_t i = 0; i < rc->nrows; i++)
        for (unsigned h = 0; h < REPORT_HOURS; h++) {
            uint64_t m = cell_missed(&rc->rows[i], h);
            if (!m) continue;
            if (n == cap) {
                worst_t *more = realloc(w, (cap = cap ? cap * 2 : 64) * sizeof(*w));
                if (!more) break;
                w = more;
            }
            w[n++] = (worst_t){ &rc->rows[i], h, m, cell_calls(&rc->rows[i], h) };
        }
    if (n) {
        qsort(w, n, sizeof(*w), cmp_worst);
        fprintf(f, "\nWhere callers who wanted staff did not reach them (most first):\n");
        for (size_t i = 0; i < n && i < 10; i++) {
            fprintf(f, "  %-16s %-14s %s-%02u:00  %" PRIu64 " of %" PRIu64 " calls:", w[i].r->site,
                    skill_name(w[i].r->skill), report_how_text(w[i].how, hb), (w[i].how % 24 + 1) % 24,
                    w[i].missed, w[i].calls);
            for (int o = 0; o < RO_N; o++)
                if (is_missed(o) && w[i].r->n[w[i].how][o])
                    fprintf(f, " %s %u", outcome_words[o], w[i].r->n[w[i].how][o]);
            fputc('\n', f);
        }
    } else {
        fprintf(f, "\nEvery caller who wanted staff reached them.\n");
    }
    free(w);
    if (rc->nfin) fprintf(f, "\nForward mode, the final responses the destinations gave:\n");
    for (size_t i = 0; i < rc->nfin; i++) {
        fprintf(f, "  %-16s", rc->fin[i].site);
        write_finals(f, &rc->fin[i], false);
        fputc('\n', f);
    }
}

static void write_csv(const report_calls_t *rc, FILE *f)
{
    fprintf(f, "site,skill,weekday,hour,calls");
    for (int o = 0; o < RO_N; o++) fprintf(f, ",%s", report_outcome_names[o]);
    fputc('\n', f);
    for (size_t i = 0; i < rc->nrows; i++)
        for (unsigned h = 0; h < REPORT_HOURS; h++) {
            const row_t *r = &rc->rows[i];
            uint64_t calls = cell_calls(r, h);
            if (!calls) continue;
            fprintf(f, "%s,%s,%s,%u,%" PRIu64, r->site, r->skill, days[h / 24], h % 24, calls);
            for (int o = 0; o < RO_N; o++) fprintf(f, ",%u", r->n[h][o]);
            fputc('\n', f);
        }
}

static void json_outcomes(FILE *f, const uint32_t *n32, const uint64_t *n64)
{
    fputc('{', f);
    for (int o = 0, first = 1; o < RO_N; o++) {
        uint64_t v = n32 ? n32[o] : n64[o];
        if (!v) continue;
        fprintf(f, "%s\"%s\":%" PRIu64, first ? "" : ",", report_outcome_names[o], v);
        first = 0;
    }
    fputc('}', f);
}

static void write_json(const report_calls_t *rc, FILE *f, const char *title)
{
    fputs("{\"period\":", f);
    json_str(f, title);
    fputs(",\"rows\":[", f);
    for (size_t i = 0; i < rc->nrows; i++) {
        const row_t *r = &rc->rows[i];
        uint64_t tot[RO_N], all;
        row_totals(r, tot, &all);
        fprintf(f, "%s{\"site\":", i ? "," : "");
        json_str(f, r->site);
        fputs(",\"skill\":", f);
        json_str(f, r->skill);
        fprintf(f, ",\"calls\":%" PRIu64 ",\"outcomes\":", all);
        json_outcomes(f, NULL, tot);
        fputc('}', f);
    }
    fputs("],\"cells\":[", f);
    bool first = true;
    for (size_t i = 0; i < rc->nrows; i++)
        for (unsigned h = 0; h < REPORT_HOURS; h++) {
            const row_t *r = &rc->rows[i];
            uint64_t calls = cell_calls(r, h);
            if (!calls) continue;
            fprintf(f, "%s{\"site\":", first ? "" : ",");
            json_str(f, r->site);
            fputs(",\"skill\":", f);
            json_str(f, r->skill);
            fprintf(f, ",\"weekday\":\"%s\",\"hour\":%u,\"calls\":%" PRIu64 ",\"outcomes\":", days[h / 24],
                    h % 24, calls);
            json_outcomes(f, r->n[h], NULL);
            fputc('}', f);
            first = false;
        }
    fputs("],\"final\":{", f);
    for (size_t i = 0; i < rc->nfin; i++) {
        fprintf(f, "%s", i ? "," : "");
        json_str(f, rc->fin[i].site);
        fputs(":{", f);
        write_finals(f, &rc->fin[i], true);
        fputc('}', f);
    }
    fputs("}}\n", f);
}

int report_calls_write(const report_calls_t *rc_in, FILE *f, report_format_t fmt, const char *title)
{
    report_calls_t *rc = (report_calls_t *)rc_in; /* sorting the rows only */
    if (rc->nrows) qsort(rc->rows, rc->nrows, sizeof(*rc->rows), cmp_rows);
    rc->site[0] = '\0'; /* the seen table points at rows: no more adds after this */
    rc->nseen = 0;
    if (rc->seen) memset(rc->seen, 0, rc->capseen * sizeof(*rc->seen));
    switch (fmt) {
    case REPORT_CSV: write_csv(rc, f); break;
    case REPORT_JSON: write_json(rc, f, title); break;
    default: write_table(rc, f, title); break;
    }
    return ferror(f) ? -EIO : 0;
}

/* ---- SVG ------------------------------------------------------------------ */

#define SVG_LABEL 190 /* px: the rows' names */
#define SVG_CELL_W 6
#define SVG_CELL_H 18

/* Red (0) through yellow to green (1): the share that reached staff. */
static void share_colour(double s, char out[8])
{
    static const int stops[3][3] = { { 0xd7, 0x30, 0x1f }, { 0xfe, 0xe0, 0x8b }, { 0x1a, 0x98, 0x50 } };
    int k = s < 0.5 ? 0 : 1;
    double t = s < 0.5 ? s * 2 : (s - 0.5) * 2;
    int rgb[3];
    for (int i = 0; i < 3; i++) rgb[i] = (int)(stops[k][i] + (stops[k + 1][i] - stops[k][i]) * t + 0.5);
    snprintf(out, 8, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
}

/* White (0) to red (1): the share with nobody free. */
static void gap_colour(double s, char out[8])
{
    int g = (int)(255 - (255 - 0x30) * s + 0.5), b = (int)(255 - (255 - 0x1f) * s + 0.5);
    snprintf(out, 8, "#%02x%02x%02x", (int)(255 - (255 - 0xd7) * s + 0.5), g, b);
}

static const char *const outcome_colour[RO_N] = {
    "#1a9850", "#d7301f", "#fc8d59", "#b2182b", "#67001f", "#f46d43",
    "#4575b4", "#91bfdb", "#313695", "#999999", "#000000",
};

static void svg_open(FILE *f, int w, int h, const char *title)
{
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
               "font-family=\"sans-serif\" font-size=\"12\">\n<title>", w, h, w, h);
    xml_str(f, title);
    fprintf(f, "</title>\n<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n<text x=\"8\" y=\"20\" "
               "font-size=\"15\" font-weight=\"bold\">", w, h);
    xml_str(f, title);
    fputs("</text>\n", f);
}

/* The day names above the 168 columns, and a line between days. */
static void svg_week_axis(FILE *f, int y0, int rows)
{
    for (int d = 0; d < 7; d++) {
        int x = SVG_LABEL + d * 24 * SVG_CELL_W;
        fprintf(f, "<text x=\"%d\" y=\"%d\">%s</text>\n", x + 2, y0 - 6, days[d]);
        fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#444\" stroke-width=\"1\"/>\n", x,
                y0 - 4, x, y0 + rows * SVG_CELL_H);
    }
    for (int d = 0; d < 7; d++)
        for (int hh = 6; hh < 24; hh += 6)
            fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"9\" fill=\"#666\">%d</text>\n",
                    SVG_LABEL + (d * 24 + hh) * SVG_CELL_W - 3, y0 + rows * SVG_CELL_H + 11, hh);
}

int report_calls_svg(const report_calls_t *rc_in, FILE *f, const char *title)
{
    report_calls_t *rc = (report_calls_t *)rc_in;
    char col[8], hb[16];
    if (rc->nrows) qsort(rc->rows, rc->nrows, sizeof(*rc->rows), cmp_rows);
    rc->site[0] = '\0';
    rc->nseen = 0;
    if (rc->seen) memset(rc->seen, 0, rc->capseen * sizeof(*rc->seen));

    /* the sites, for the bar chart */
    size_t nsites = 0;
    for (size_t i = 0; i < rc->nrows; i++)
        if (i == 0 || strcmp(rc->rows[i].site, rc->rows[i - 1].site)) nsites++;
    int heat_y = 84, heat_h = (int)rc->nrows * SVG_CELL_H;
    int bars_y = heat_y + heat_h + 80, bar_h = 22;
    int width = SVG_LABEL + REPORT_HOURS * SVG_CELL_W + 20;
    int height = bars_y + (int)nsites * (bar_h + 6) + 70;

    svg_open(f, width, height, title);
    fprintf(f, "<text x=\"8\" y=\"38\" fill=\"#333\">Each row a site and skill, each column an hour of the "
               "week (the site's own time). Colour: of the calls that wanted staff, the share that reached "
               "them,</text>\n<text x=\"8\" y=\"54\" fill=\"#333\">red 0%% to green 100%%; blue: only calls "
               "the rules sent elsewhere (closed, after hours, a single destination); grey: no calls. Hover a cell "
               "for its counts.</text>\n");
    svg_week_axis(f, heat_y, (int)rc->nrows);
    for (size_t i = 0; i < rc->nrows; i++) {
        const row_t *r = &rc->rows[i];
        int y = heat_y + (int)i * SVG_CELL_H;
        fprintf(f, "<text x=\"8\" y=\"%d\">", y + 13);
        xml_str(f, r->site);
        fputs(" / ", f);
        xml_str(f, skill_name(r->skill));
        fputs("</text>\n", f);
        for (unsigned h = 0; h < REPORT_HOURS; h++) {
            uint64_t calls = cell_calls(r, h), wanted = r->n[h][RO_STAFF] + cell_missed(r, h);
            if (wanted) share_colour((double)r->n[h][RO_STAFF] / (double)wanted, col);
            else snprintf(col, sizeof(col), calls ? "#9ecae1" : "#eeeeee");
            fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"><title>", SVG_LABEL +
                    (int)h * SVG_CELL_W, y, SVG_CELL_W - 1, SVG_CELL_H - 2, col);
            xml_str(f, r->site);
            fprintf(f, " %s %s: %" PRIu64 " calls", skill_name(r->skill), report_how_text(h, hb), calls);
            for (int o = 0; o < RO_N; o++)
                if (r->n[h][o]) fprintf(f, ", %s %u", outcome_words[o], r->n[h][o]);
            fputs("</title></rect>\n", f);
        }
    }

    /* each site's outcomes: one stacked bar, as long as its calls */
    uint64_t most = 1;
    uint64_t (*tot)[RO_N + 1] = calloc(nsites ? nsites : 1, sizeof(*tot));
    if (!tot) return -ENOMEM;
    for (size_t i = 0, s = 0; i < rc->nrows; i++) {
        if (i && strcmp(rc->rows[i].site, rc->rows[i - 1].site)) s++;
        uint64_t t[RO_N], all;
        row_totals(&rc->rows[i], t, &all);
        for (int o = 0; o < RO_N; o++) tot[s][o] += t[o];
        tot[s][RO_N] += all;
        if (tot[s][RO_N] > most) most = tot[s][RO_N];
    }
    fprintf(f, "<text x=\"8\" y=\"%d\" font-size=\"14\" font-weight=\"bold\">Outcomes by site</text>\n",
            bars_y - 30);
    double scale = (double)(REPORT_HOURS * SVG_CELL_W) / (double)most;
    for (size_t i = 0, s = 0; i < rc->nrows; i++) {
        if (i && !strcmp(rc->rows[i].site, rc->rows[i - 1].site)) continue;
        int y = bars_y + (int)s * (bar_h + 6);
        double x = SVG_LABEL;
        fprintf(f, "<text x=\"8\" y=\"%d\">", y + 15);
        xml_str(f, rc->rows[i].site);
        fprintf(f, " (%" PRIu64 ")</text>\n", tot[s][RO_N]);
        for (int o = 0; o < RO_N; o++) {
            if (!tot[s][o]) continue;
            double w = (double)tot[s][o] * scale;
            fprintf(f, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"><title>", x, y, w,
                    bar_h, outcome_colour[o]);
            xml_str(f, rc->rows[i].site);
            fprintf(f, ": %s %" PRIu64 " of %" PRIu64 "</title></rect>\n", outcome_words[o], tot[s][o],
                    tot[s][RO_N]);
            x += w;
        }
        s++;
    }
    free(tot);
    int ly = height - 40;
    for (int o = 0, x = 8; o < RO_N; o++) {
        fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/><text x=\"%d\" y=\"%d\">%s"
                   "</text>\n", x, ly, outcome_colour[o], x + 16, ly + 11, outcome_words[o]);
        x += 16 + (int)strlen(outcome_words[o]) * 7 + 14;
    }
    fputs("</svg>\n", f);
    return ferror(f) ? -EIO : 0;
}

/* ---- availability --------------------------------------------------------- */

struct report_avail {
    int64_t from;
    unsigned minutes;
    unsigned char bits[];
};

report_avail_t *report_avail_new(int64_t from_ms, unsigned minutes)
{
    report_avail_t *a = calloc(1, sizeof(*a) + (minutes + 7) / 8);
    if (!a) return NULL;
    a->from = from_ms, a->minutes = minutes;
    return a;
}

void report_avail_free(report_avail_t *a)
{
    free(a);
}

void report_avail_mark(report_avail_t *a, int64_t a_ms, int64_t b_ms)
{
    if (b_ms <= a_ms) return;
    /* the minutes that start inside [a_ms, b_ms) */
    int64_t first = (a_ms - a->from + 59999) / 60000, last = (b_ms - a->from - 1) / 60000;
    if (a_ms - a->from < 0) first = 0;
    if (last >= (int64_t)a->minutes) last = (int64_t)a->minutes - 1;
    for (int64_t m = first; m <= last; m++) a->bits[m / 8] |= (unsigned char)(1u << (m % 8));
}

bool report_avail_covered(const report_avail_t *a, int64_t ms)
{
    if (ms < a->from) return false;
    int64_t m = (ms - a->from) / 60000;
    return m < (int64_t)a->minutes && (a->bits[m / 8] >> (m % 8)) & 1;
}

void report_timeline_start(report_timeline_t *t, int64_t window_from_ms)
{
    *t = (report_timeline_t){ .window = window_from_ms };
}

void report_timeline_change(report_timeline_t *t, report_avail_t *a, int64_t ms, const char *from, const char *to)
{
    if (!t->known) { /* before the first change: what it changed from */
        t->known = true;
        t->since = t->window;
        t->avail = from && !strcmp(from, "available");
    }
    if (t->avail) report_avail_mark(a, t->since, ms);
    t->since = ms;
    t->avail = to && !strcmp(to, "available");
}

void report_timeline_end(report_timeline_t *t, report_avail_t *a, int64_t to_ms, const char *state_now)
{
    if (!t->known) { /* no change in the window: as they are now */
        t->since = t->window;
        t->avail = state_now && !strcmp(state_now, "available");
    }
    if (t->avail) report_avail_mark(a, t->since, to_ms);
    t->known = false;
}

/* ---- report coverage -------------------------------------------------------- */

struct report_coverage {
    report_gap_t *g;
    size_t n, cap;
};

report_coverage_t *report_coverage_new(void)
{
    return calloc(1, sizeof(report_coverage_t));
}

void report_coverage_free(report_coverage_t *rc)
{
    if (!rc) return;
    free(rc->g);
    free(rc);
}

int report_coverage_add(report_coverage_t *rc, const report_gap_t *g)
{
    if (rc->n == rc->cap) {
        size_t cap = rc->cap ? rc->cap * 2 : 64;
        report_gap_t *m = realloc(rc->g, cap * sizeof(*m));
        if (!m) return -ENOMEM;
        rc->g = m, rc->cap = cap;
    }
    rc->g[rc->n++] = *g;
    return 0;
}

size_t report_coverage_count(const report_coverage_t *rc)
{
    return rc->n;
}

const report_gap_t *report_coverage_get(const report_coverage_t *rc, size_t i)
{
    return i < rc->n ? &rc->g[i] : NULL;
}

static int cmp_gaps(const void *a, const void *b)
{
    const report_gap_t *x = a, *y = b;
    int c = strcmp(x->site, y->site);
    if (!c) c = strcmp(x->skill, y->skill);
    return c ? c : (x->at_ms < y->at_ms ? -1 : x->at_ms > y->at_ms);
}

int report_coverage_write(const report_coverage_t *rc, FILE *f, report_format_t fmt, const char *title)
{
    char hb[16];
    if (rc->n) qsort(rc->g, rc->n, sizeof(*rc->g), cmp_gaps);
    if (fmt == REPORT_CSV) {
        fputs("site,skill,weekday,hour,date,nobody_free_share,calls_a_week,predicted_nobody,nobody_holds_skill\n",
              f);
        for (size_t i = 0; i < rc->n; i++) {
            const report_gap_t *g = &rc->g[i];
            fprintf(f, "%s,%s,%s,%u,%s,%.3f,%.2f,%.2f,%s\n", g->site, g->skill, days[g->how / 24], g->how % 24,
                    g->date, g->share, g->calls, g->calls * g->share, g->nobody_holds ? "yes" : "no");
        }
        return ferror(f) ? -EIO : 0;
    }
    if (fmt == REPORT_JSON) {
        fputs("{\"period\":", f);
        json_str(f, title);
        fputs(",\"gaps\":[", f);
        for (size_t i = 0; i < rc->n; i++) {
            const report_gap_t *g = &rc->g[i];
            fprintf(f, "%s{\"site\":", i ? "," : "");
            json_str(f, g->site);
            fputs(",\"skill\":", f);
            json_str(f, g->skill);
            fprintf(f, ",\"weekday\":\"%s\",\"hour\":%u,\"date\":\"%s\",\"nobody_free_share\":%.3f,"
                       "\"calls_a_week\":%.2f,\"predicted_nobody\":%.2f,\"nobody_holds_skill\":%s}",
                    days[g->how / 24], g->how % 24, g->date, g->share, g->calls, g->calls * g->share,
                    g->nobody_holds ? "true" : "false");
        }
        fputs("]}\n", f);
        return ferror(f) ? -EIO : 0;
    }
    fprintf(f, "%s\n\n", title);
    if (!rc->n) {
        fprintf(f, "No gap: every hour the rules route calls to staff, someone with the skill was free.\n");
        return ferror(f) ? -EIO : 0;
    }
    fprintf(f, "%-16s %-14s %-22s %11s %12s %9s\n", "site", "skill", "when (site's time)", "nobody free",
            "calls/week", "predicted");
    for (size_t i = 0; i < rc->n; i++) {
        const report_gap_t *g = &rc->g[i];
        fprintf(f, "%-16s %-14s %-4.3s%-18s %10.0f%% %12.1f %9.1f%s\n", g->site, g->skill,
                report_how_text(g->how, hb), g->date, 100.0 * g->share, g->calls, g->calls * g->share,
                g->nobody_holds ? "  (nobody holds the skill)" : "");
    }
    fprintf(f, "\nPredicted calls that will find nobody, the week:");
    for (size_t i = 0; i < rc->n;) {
        double sum = 0;
        size_t j = i;
        while (j < rc->n && !strcmp(rc->g[j].site, rc->g[i].site)) sum += rc->g[j].calls * rc->g[j].share, j++;
        fprintf(f, "%s %s %.1f", i ? "," : "", rc->g[i].site, sum);
        i = j;
    }
    fputc('\n', f);
    return ferror(f) ? -EIO : 0;
}

int report_coverage_svg(const report_coverage_t *rc, FILE *f, const char *title)
{
    char col[8], hb[16];
    if (rc->n) qsort(rc->g, rc->n, sizeof(*rc->g), cmp_gaps);
    size_t rows = 0;
    for (size_t i = 0; i < rc->n; i++)
        if (i == 0 || strcmp(rc->g[i].site, rc->g[i - 1].site) || strcmp(rc->g[i].skill, rc->g[i - 1].skill))
            rows++;
    int y0 = 84, width = SVG_LABEL + REPORT_HOURS * SVG_CELL_W + 20;
    int height = y0 + (int)rows * SVG_CELL_H + 50;
    svg_open(f, width, height, title);
    fprintf(f, "<text x=\"8\" y=\"38\" fill=\"#333\">Each row a site and skill, each column an hour of the "
               "coming week (the site's own time). Colour: the share of the same hour of past weeks</text>\n"
               "<text x=\"8\" y=\"54\" fill=\"#333\">with nobody free along the call's chain, white 0%% to red "
               "100%%; only hours the rules send calls to staff. Hover a cell for the calls it predicts.</text>\n");
    svg_week_axis(f, y0, (int)rows);
    for (size_t i = 0, row = 0; i < rc->n; row++) {
        size_t j = i;
        int y = y0 + (int)row * SVG_CELL_H;
        fprintf(f, "<text x=\"8\" y=\"%d\">", y + 13);
        xml_str(f, rc->g[i].site);
        fputs(" / ", f);
        xml_str(f, rc->g[i].skill);
        fputs("</text>\n", f);
        fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#ccc\"/>\n",
                SVG_LABEL, y, REPORT_HOURS * SVG_CELL_W, SVG_CELL_H - 2);
        while (j < rc->n && !strcmp(rc->g[j].site, rc->g[i].site) && !strcmp(rc->g[j].skill, rc->g[i].skill)) {
            const report_gap_t *g = &rc->g[j++];
            gap_colour(g->share, col);
            fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"><title>",
                    SVG_LABEL + (int)g->how * SVG_CELL_W, y, SVG_CELL_W - 1, SVG_CELL_H - 2, col);
            xml_str(f, g->site);
            fprintf(f, " %s %s (%s): nobody free %.0f%% of the time, %.1f calls a week, %.1f predicted to "
                       "find nobody%s</title></rect>\n", g->skill, report_how_text(g->how, hb), g->date,
                    100.0 * g->share, g->calls, g->calls * g->share, g->nobody_holds ? "; nobody holds the skill" : "");
        }
        i = j;
    }
    fputs("</svg>\n", f);
    return ferror(f) ? -EIO : 0;
}

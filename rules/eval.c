/* eval.c -- rules_eval(): one request view and one snapshot, one plan.
 *
 * Runs on the worker threads for every INVITE: it only reads the snapshot,
 * never allocates or locks, and copies nothing from the request into the
 * plan except the caller's menu option, sanitised, in the reason. The caller
 * number (from_user) is never looked at.
 */
#include <string.h>

#include "rules_int.h"

#define EVAL_OPTION_SHOWN 8 /* bytes of an unknown option put in a reason */

/* ---------------------------------------------------------------------- */
/* Reason text                                                            */

/* A bounded appender into plan_t.reason. Hand-rolled rather than
 * snprintf(): it must never allocate, and output longer than the buffer is
 * cut, never overflowed. */
typedef struct {
    char *buf;
    size_t len;
} reason_t;

static void reason_put(reason_t *rs, const char *s, size_t n)
{
    size_t room = RULES_REASON_MAX - 1 - rs->len;

    if (n > room)
        n = room;
    memcpy(rs->buf + rs->len, s, n);
    rs->len += n;
    rs->buf[rs->len] = '\0';
}

static void reason_str(reason_t *rs, const char *s)
{
    reason_put(rs, s, strlen(s));
}

/* The option comes from the network: show a few bytes of it, and only
 * phone-pad and alphanumeric characters, so a reason written to a log line
 * cannot carry quotes, newlines or a caller's number pasted in a header. */
static void reason_option(reason_t *rs, span_t opt)
{
    size_t n = opt.len > EVAL_OPTION_SHOWN ? EVAL_OPTION_SHOWN : opt.len;

    for (size_t i = 0; i < n; i++) {
        char c = opt.s[i];
        bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                  (c >= 'A' && c <= 'Z') || c == '*' || c == '#';
        reason_put(rs, ok ? &c : "?", 1);
    }
    if (opt.len > n)
        reason_str(rs, "...");
}

/* ---------------------------------------------------------------------- */
/* Called number and option                                               */

static span_t span_trim(span_t sp)
{
    while (sp.len && (sp.s[0] == ' ' || sp.s[0] == '\t')) {
        sp.s++;
        sp.len--;
    }
    while (sp.len && (sp.s[sp.len - 1] == ' ' || sp.s[sp.len - 1] == '\t'))
        sp.len--;
    return sp;
}

/* Find the site dialled in <num> ("DID" or "DID<sep>OPTION"). On a match,
 * the option part (possibly empty) is stored in *<opt>. NULL when <num> is
 * absent, not a phone number, or no site claims it. */
static const rules_site_t *eval_lookup(const rules_t *r, span_t num,
                                       span_t *opt)
{
    char digits[RULES_DID_MAX];
    span_t did = num, rest = { NULL, 0 };
    const rules_slot_t *sl;
    const char *sep;
    int len;

    if (num.len == 0)
        return NULL;
    sep = memmem(num.s, num.len, r->option_sep, r->option_sep_len);
    if (sep) {
        did.len = (size_t)(sep - num.s);
        rest.s = sep + r->option_sep_len;
        rest.len = num.len - did.len - r->option_sep_len;
    }
    len = rules_did_normalise(did.s, did.len, digits);
    if (len <= 0)
        return NULL;
    sl = rules_index_find(&r->dids, digits, (size_t)len);
    if (!sl)
        return NULL;
    *opt = rest;
    return &r->sites[sl->val];
}

/* ---------------------------------------------------------------------- */
/* The plan                                                               */

int rules_eval(const rules_t *r, const rules_req_t *req, time_t now,
               plan_t *plan)
{
    reason_t rs = { plan->reason, 0 };
    const rules_site_t *site;
    span_t opt = { NULL, 0 }, hdr;
    const char *skill = NULL;
    int slot;

    (void)now; /* opening hours will read it */
    memset(plan, 0, sizeof(*plan));
    plan->strategy = RULES_LONGEST_IDLE;

    /* The Request-URI is what the PBX/IVR routed to us; To keeps the number
     * first dialled, for PBXs that rewrite the Request-URI. */
    site = eval_lookup(r, req->ruri_user, &opt);
    if (!site)
        site = eval_lookup(r, req->to_user, &opt);
    if (!site) {
        plan->kind = PLAN_REJECT;
        plan->status = 404;
        reason_str(&rs, "no site for number");
        return 0;
    }

    plan->group = r->groups[site->group].name;
    plan->site = site->id;
    plan->max_contacts = site->max_contacts;
    plan->fallback = site->fallback;
    reason_str(&rs, site->id);

    if (site->closed) {
        plan->kind = PLAN_REDIRECT;
        reason_str(&rs, ": closed -> fallback");
        return 0;
    }

    /* A header set by the IVR is more deliberate than a Request-URI
     * suffix, so it wins when both are present. */
    hdr = span_trim(req->option);
    if (hdr.len)
        opt = hdr;
    opt = span_trim(opt);

    plan->kind = PLAN_PICK;
    slot = opt.len == 1 ? rules_menu_slot(opt.s[0]) : -1;
    if (slot >= 0 && site->menu[slot]) {
        skill = site->menu[slot];
        reason_str(&rs, ": option ");
        reason_option(&rs, opt);
        reason_str(&rs, " -> ");
    } else if (opt.len) {
        skill = site->default_skill;
        reason_str(&rs, ": option ");
        reason_option(&rs, opt);
        reason_str(&rs, " unknown -> default ");
    } else {
        skill = site->default_skill;
        reason_str(&rs, ": no option -> default ");
    }
    reason_str(&rs, skill);
    plan->skill = skill;
    return 0;
}

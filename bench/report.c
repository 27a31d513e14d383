/* report.c -- print a report_t as a small table or one JSON object.
 *
 * Both carry the same figures under the same names; README.md says what
 * each one means. The tables' "lost" counts the missed calls too (a
 * fallback while the seed had staff free), as loss_pct does; the JSON
 * gives "lost" (no answer) and "missed" apart.
 */
#include "report.h"

#include <inttypes.h>

static double report_loss_pct(const report_step_t *s)
{
    return s->sent ? 100.0 * (double)(s->lost + s->missed) / (double)s->sent : 0.0;
}

/* ---------------------------------------------------------------------------
 * Table
 * ------------------------------------------------------------------------ */

static void report_mode_line(FILE *f, const report_t *r)
{
    fprintf(f, "fd-bench %s -> %s: ", r->find_max ? "find-max" : "run", r->target);
    if (r->find_max)
        fprintf(f, "open loop from %.0f calls/s, steps of %.1f s", r->start_rate, r->step_s);
    else if (r->closed)
        fprintf(f, "closed loop, %u in flight", r->inflight);
    else
        fprintf(f, "open loop %.0f calls/s", r->total.rate);
    fprintf(f, ", %u source%s, %u callee%s, timeout %u ms", r->sources,
            r->sources == 1 ? "" : "s", r->n_to, r->n_to == 1 ? "" : "s", r->timeout_ms);
    if (r->n_allowed) fprintf(f, ", first Contact checked against %zu allowed", r->n_allowed);
    if (r->truth_targets)
        fprintf(f, ", Contacts checked against the seed (%zu sites)", r->truth_sites);
    if (r->churn_rate > 0) fprintf(f, ", churn %.0f presence updates/s", r->churn_rate);
    fputc('\n', f);
}

static void report_step_table(FILE *f, const report_step_t *s)
{
    fprintf(f, "  calls sent      %10" PRIu64 "\n", s->sent);
    fprintf(f, "  answered        %10" PRIu64 "\n", s->answered);
    fprintf(f, "  lost            %10" PRIu64 "   %.3f %%", s->lost + s->missed, report_loss_pct(s));
    if (s->missed)
        fprintf(f, "   (%" PRIu64 " of them answered with the fallback while the seed had staff free)",
                s->missed);
    fputc('\n', f);
    fprintf(f, "  wrong           %10" PRIu64 "\n", s->wrong);
    fprintf(f, "  elapsed         %10.3f s\n", s->elapsed_s);
    fprintf(f, "  sustained       %10.1f calls/s\n", s->cps);
    fprintf(f, "  latency p50     %10" PRIu64 " us\n", s->p50_us);
    fprintf(f, "  latency p99     %10" PRIu64 " us\n", s->p99_us);
    fprintf(f, "  latency p99.9   %10" PRIu64 " us\n", s->p999_us);
    fprintf(f, "  latency max     %10" PRIu64 " us\n", s->max_us);
    fprintf(f, "  generator cpu   %10.1f %%\n", s->cpu_pct);
    if (s->proxy_cpu_pct >= 0) fprintf(f, "  proxy cpu       %10.1f %%\n", s->proxy_cpu_pct);
    if (s->redis_cpu_pct >= 0) fprintf(f, "  redis cpu       %10.1f %%\n", s->redis_cpu_pct);
    if (s->truth_staff || s->truth_fallback || s->truth_fallback_free)
        fprintf(f,
                "  right 302s      %10" PRIu64 " to staff, %" PRIu64 " to the fallback alone (%" PRIu64
                " of them while the seed had somebody free)\n",
                s->truth_staff, s->truth_fallback + s->truth_fallback_free, s->truth_fallback_free);
    if (s->rate > 0) fprintf(f, "  send lag max    %10.1f ms\n", s->lag_max_ms);
    if (s->wrong) {
        fprintf(f, "  wrong by reason:");
        for (unsigned i = 1; i < CHECK__COUNT; i++)
            if (s->wrong_by[i])
                fprintf(f, " %s=%" PRIu64, check_verdict_name((check_verdict_t)i), s->wrong_by[i]);
        fprintf(f, "\n");
    }
    if (s->unmatched || s->send_errors || s->ack_errors || s->rx_drops)
        fprintf(f,
                "  unmatched %" PRIu64 ", send errors %" PRIu64 ", ack errors %" PRIu64
                ", dropped by our sockets %" PRIu64 "\n",
                s->unmatched, s->send_errors, s->ack_errors, s->rx_drops);
}

static void report_steps_table(FILE *f, const report_t *r)
{
    fprintf(f, "  %8s %9s %9s %7s %6s %10s %8s %8s %8s %5s %6s %6s  %s\n", "rate/s", "sent",
            "answered", "lost", "wrong", "calls/s", "p50 us", "p99 us", "p99.9 us", "cpu%",
            "proxy%", "redis%", "step");
    for (unsigned i = 0; i < r->n_steps; i++) {
        const report_step_t *s = &r->steps[i];
        char px[16] = "-", rd[16] = "-";
        if (s->proxy_cpu_pct >= 0) snprintf(px, sizeof(px), "%.0f", s->proxy_cpu_pct);
        if (s->redis_cpu_pct >= 0) snprintf(rd, sizeof(rd), "%.0f", s->redis_cpu_pct);
        fprintf(f,
                "  %8.0f %9" PRIu64 " %9" PRIu64 " %7" PRIu64 " %6" PRIu64
                " %10.1f %8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %5.0f %6s %6s  %s\n",
                s->rate, s->sent, s->answered, s->lost + s->missed, s->wrong, s->cps, s->p50_us,
                s->p99_us, s->p999_us, s->cpu_pct, px, rd, s->why[0] ? s->why : "ok");
    }
}

void report_table(FILE *f, const report_t *r)
{
    report_mode_line(f, r);
    if (r->find_max) {
        report_steps_table(f, r);
        if (r->max_good_rate > 0)
            fprintf(f, "max good rate: %.0f calls/s (search stopped: %s)\n", r->max_good_rate,
                    r->stop_reason);
        else
            fprintf(f, "max good rate: none (search stopped: %s)\n", r->stop_reason);
        fprintf(f, "%s step:\n", r->max_good_rate > 0 ? "best" : "last");
    }
    report_step_table(f, &r->total);
    if (r->churn_rate > 0)
        fprintf(f,
                "  churn           %10" PRIu64 " presence updates sent, %" PRIu64 " skipped, %" PRIu64
                " errors, %" PRIu64 " staff restored to the seed\n",
                r->churn_sent, r->churn_skipped, r->churn_errors, r->churn_restored);
    fprintf(f, "result: %s%s\n", r->ok ? "PASS" : "FAIL", r->interrupted ? " (interrupted)" : "");
}

/* ---------------------------------------------------------------------------
 * JSON
 * ------------------------------------------------------------------------ */

/* A JSON string of <s>: our strings are ASCII, escape what JSON needs. */
static void report_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

/* A CPU share, or null when it was not measured. */
static void report_json_pct(FILE *f, double pct)
{
    if (pct >= 0) fprintf(f, "%.1f", pct);
    else fprintf(f, "null");
}

static void report_step_json(FILE *f, const report_step_t *s)
{
    fprintf(f,
            "\"rate\":%.0f,\"sent\":%" PRIu64 ",\"answered\":%" PRIu64 ",\"lost\":%" PRIu64
            ",\"wrong\":%" PRIu64 ",\"loss_pct\":%.4f,\"elapsed_s\":%.3f,\"cps\":%.1f"
            ",\"send_rate\":%.1f,\"p50_us\":%" PRIu64 ",\"p99_us\":%" PRIu64
            ",\"p99_9_us\":%" PRIu64 ",\"max_us\":%" PRIu64 ",\"mean_us\":%.1f"
            ",\"cpu_pct\":%.1f,\"lag_max_ms\":%.2f,\"unmatched\":%" PRIu64
            ",\"send_errors\":%" PRIu64 ",\"ack_errors\":%" PRIu64 ",\"rx_drops\":%" PRIu64
            ",\"wrong_by\":{",
            s->rate, s->sent, s->answered, s->lost, s->wrong, report_loss_pct(s), s->elapsed_s,
            s->cps, s->send_rate, s->p50_us, s->p99_us, s->p999_us, s->max_us, s->mean_us,
            s->cpu_pct, s->lag_max_ms, s->unmatched, s->send_errors, s->ack_errors, s->rx_drops);
    for (unsigned i = 1; i < CHECK__COUNT; i++)
        fprintf(f, "%s\"%s\":%" PRIu64, i > 1 ? "," : "", check_verdict_name((check_verdict_t)i),
                s->wrong_by[i]);
    fprintf(f, "},\"good\":%s", s->good ? "true" : "false");
    fprintf(f, ",\"proxy_cpu_pct\":");
    report_json_pct(f, s->proxy_cpu_pct);
    fprintf(f, ",\"redis_cpu_pct\":");
    report_json_pct(f, s->redis_cpu_pct);
    fprintf(f, ",\"truth_staff\":%" PRIu64 ",\"truth_fallback\":%" PRIu64
               ",\"truth_fallback_free\":%" PRIu64 ",\"missed\":%" PRIu64,
            s->truth_staff, s->truth_fallback, s->truth_fallback_free, s->missed);
}

void report_json(FILE *f, const report_t *r)
{
    fprintf(f, "{\"mode\":\"%s\",\"target\":", r->find_max ? "find-max" : "run");
    report_json_str(f, r->target);
    fprintf(f, ",\"loop\":\"%s\",\"inflight\":%u,\"sources\":%u,\"callees\":%u,\"timeout_ms\":%u,",
            r->closed ? "closed" : "open", r->closed ? r->inflight : 0, r->sources, r->n_to,
            r->timeout_ms);
    report_step_json(f, &r->total);
    if (r->find_max) {
        fprintf(f, ",\"step_s\":%.2f,\"start_rate\":%.0f,\"max_good_rate\":%.0f,\"stop_reason\":",
                r->step_s, r->start_rate, r->max_good_rate);
        report_json_str(f, r->stop_reason);
        fprintf(f, ",\"steps\":[");
        for (unsigned i = 0; i < r->n_steps; i++) {
            fprintf(f, "%s{", i ? "," : "");
            report_step_json(f, &r->steps[i]);
            fprintf(f, ",\"why\":");
            if (r->steps[i].why[0]) report_json_str(f, r->steps[i].why);
            else fprintf(f, "null");
            fprintf(f, "}");
        }
        fprintf(f, "]");
    }
    fprintf(f,
            ",\"truth_sites\":%zu,\"truth_targets\":%zu,\"churn_rate\":%.1f,\"churn_sent\":%" PRIu64
            ",\"churn_skipped\":%" PRIu64 ",\"churn_errors\":%" PRIu64 ",\"churn_restored\":%" PRIu64,
            r->truth_sites, r->truth_targets, r->churn_rate, r->churn_sent, r->churn_skipped,
            r->churn_errors, r->churn_restored);
    fprintf(f, ",\"interrupted\":%s,\"ok\":%s}\n", r->interrupted ? "true" : "false",
            r->ok ? "true" : "false");
}

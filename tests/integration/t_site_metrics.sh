#!/usr/bin/env bash
# Per-site metrics: /metrics counts INVITEs by the site called and what
# they got (frontdesk_site_calls_total{site,outcome}), with sites from the
# rules only (a bounded label set, never from traffic), and histograms of
# the decision latency (INVITE in -> answer out) and of the Redis pick.
. "$(dirname "$0")/lib.sh"
stack_start_redis && stack_seed_demo && stack_start_proxy "" --source-rate 0 || exit 1
m() { stack_http "$FD_ADMIN_PORT" /metrics; }
site() { m | awk -v k="frontdesk_site_calls_total{site=\"$1\",outcome=\"$2\"}" '$1 == k { print $2 }'; }

for i in 1 2 3; do o=$(sip invite.sip sm-staff-$i); done
o=$(call 15125550400 sm-annex-1)
o=$(call 15125559999 sm-unknown-1)
check "calls that reached staff at downtown: 3 ($(site downtown staff))" [ "$(site downtown staff)" = 3 ]
check "the Annex (closed) answered from the rules: 1 ($(site annex rules))" [ "$(site annex rules)" = 1 ]
labels=$(m | sed -n 's/^frontdesk_site_calls_total{site="\([^"]*\)".*/\1/p' | sort -u | tr '\n' ' ')
check "site labels are the rules' sites and pools only ($labels)" [ "$labels" = "annex downtown float northlake westside " ]
check "an unknown number adds no label" eval '! m | grep -q "site=\"-\"\|15125559999"'

kill -STOP "$FD_REDIS_PID"
o=$(sip invite.sip sm-late-1 --timeout-ms 3000)
kill -CONT "$FD_REDIS_PID"
# Redis stopped: the deadline's fallback (or, on a slow machine, Redis
# found unusable first): counted under the outcome the log line gives
got=$(route_line sm-late-1@pbx.example | sed -n 's/.* outcome=\([^ ]*\) .*/\1/p')
case $got in
    fallback-redis-timeout) label=fallback-redis-late ;;
    fallback-redis-down | fallback-redis-busy) label=fallback-redis-down ;;
    *) label=$got ;;
esac
check "Redis stopped: the fallback ($got), counted at downtown as $label ($(site downtown "$label"))" \
    eval '[ "$(status_of "$o")" = 302 ] && case "$got" in fallback-redis-*) true;; *) false;; esac && [ "$(site downtown "$label")" = 1 ]'

for _ in $(seq 1 40); do [ "$(m | awk '$1 == "frontdesk_redis_pick_seconds_count" { print $2 }')" = 4 ] && break; sleep 0.05; done
h=$(m)
dcount=$(printf '%s\n' "$h" | awk '$1 == "frontdesk_decision_seconds_count" { print $2 }')
dinf=$(printf '%s\n' "$h" | awk '$1 == "frontdesk_decision_seconds_bucket{le=\"+Inf\"}" { print $2 }')
pcount=$(printf '%s\n' "$h" | awk '$1 == "frontdesk_redis_pick_seconds_count" { print $2 }')
check "decision latency: one per INVITE answered, +Inf bucket = count ($dcount, $dinf)" \
    eval '[ "$dcount" -ge 5 ] && [ "$dinf" = "$dcount" ]'
mono=$(printf '%s\n' "$h" | awk -F'[ ]' '/^frontdesk_decision_seconds_bucket/ { if ($2 < last) bad = 1; last = $2 } END { print bad ? "no" : "yes" }')
check "its buckets are cumulative" [ "$mono" = yes ]
check "Redis pick latency counted for the picks, the late one too ($pcount)" eval '[ "$pcount" = 4 ]'
check "the histograms are typed for Prometheus" eval 'printf "%s\n" "$h" | grep -q "^# TYPE frontdesk_decision_seconds histogram$" && printf "%s\n" "$h" | grep -q "^# TYPE frontdesk_redis_pick_seconds histogram$"'
finish

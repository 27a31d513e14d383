#!/usr/bin/env bash
# The admin endpoint: /healthz, /readyz and /metrics. A proxy started while
# Redis is down serves fallbacks and reports not ready; once Redis is up it
# becomes ready by itself and picks resume; counters move as calls go by.
. "$(dirname "$0")/lib.sh"
FALLBACK=sip:frontdesk@pbx.downtown.hillcountry.example
# a port for a Redis that is not there yet
FD_REDIS_PORT=$(stack_free_port)
port=$(stack_free_port); aport=$(stack_free_port)
"$FD_BIN" --config "$FD_ROOT/rules/examples/demo.yaml" --listen "127.0.0.1:$port" \
    --redis "127.0.0.1:$FD_REDIS_PORT" --admin "127.0.0.1:$aport" --workers 2 \
    >"$FD_RUN/proxy.log" 2>&1 &
FD_PROXY_PID=$!; FD_PIDS="$FD_PIDS $FD_PROXY_PID"; FD_SIP_PORT=$port
for i in $(seq 1 50); do stack_http "$aport" /healthz >/dev/null 2>&1 && break; sleep 0.1; done

out=$(stack_http "$aport" /healthz)
check "/healthz: 200 ok" eval 'has "$out" "^HTTP/1.[01] 200" && has "$out" "^ok$"'
out=$(stack_http "$aport" /readyz)
check "Redis down at start: /readyz 503, says why" eval 'has "$out" "^HTTP/1.[01] 503" && has "$out" "Redis ready on 0 of 2 workers"'
o=$(sip invite.sip down-1)
check "Redis down at start: calls get the fallback" [ "$(contacts_of "$o")" = "$FALLBACK" ]

mkdir -p "$FD_RUN/redis-$FD_REDIS_PORT"
stack_restart_redis || { bad "redis start"; finish; exit 1; }
stack_seed_demo >/dev/null
ready=""
for i in $(seq 1 60); do
    has "$(stack_http "$aport" /readyz)" '^ready$' && { ready=1; break; }
    sleep 0.1
done
check "Redis up: /readyz 200 by itself" [ -n "$ready" ]
o=$(sip invite.sip up-1)
check "Redis up: staff picked" has "$(first_contact "$o")" '@pbx\.downtown\.'

m=$(stack_http "$aport" /metrics)
check "/metrics: Prometheus text with our counters" eval 'has "$m" "^# TYPE frontdesk_invites_total counter$" && has "$m" "^frontdesk_invites_total 2$"'
check "/metrics: answered_staff and redis_unavailable counted" eval 'has "$m" "^frontdesk_answered_staff_total 1$" && has "$m" "^frontdesk_redis_unavailable_total [1-9]"'
check "/metrics: ready workers and sites" eval 'has "$m" "^frontdesk_redis_ready_workers 2$" && has "$m" "^frontdesk_rules_sites 4$"'
out=$(stack_http "$aport" /nope)
check "unknown path: 404" has "$out" '^HTTP/1.[01] 404'

# the admin port taken: a clear error, exit 1
run_out=$(timeout 5 "$FD_BIN" --config "$FD_ROOT/rules/examples/demo.yaml" --listen "127.0.0.1:$(stack_free_port)" \
          --redis "127.0.0.1:$FD_REDIS_PORT" --admin "127.0.0.1:$aport" 2>&1); rc=$?
check "admin port in use: exit 1, says so" eval '[ $rc = 1 ] && has "$run_out" "cannot serve the admin endpoint on 127.0.0.1:$aport"'
finish

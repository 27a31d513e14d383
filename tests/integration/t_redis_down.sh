#!/usr/bin/env bash
# Redis stopped mid-run: INVITEs get the site fallback at once; Redis back
# (empty, on the same port): the proxy reconnects, reloads its functions by
# itself, and staff are picked again. Redis frozen (SIGSTOP): the fallback
# comes within the deadline.
. "$(dirname "$0")/lib.sh"
stack_start_redis && stack_seed_demo && stack_start_proxy "" --redis-timeout 50 --offer-window 100 || exit 1
FALLBACK=sip:frontdesk@pbx.downtown.hillcountry.example

o=$(sip invite.sip up-1)
check "Redis up: staff picked" eval '[ "$(status_of "$o")" = 302 ] && [ "$(first_contact "$o")" != "$FALLBACK" ]'

kill "$FD_REDIS_PID"; wait "$FD_REDIS_PID" 2>/dev/null
o=$(sip invite.sip down-1)
check "Redis down: 302 to the fallback" eval '[ "$(status_of "$o")" = 302 ] && [ "$(contacts_of "$o")" = "$FALLBACK" ]'
# at once, because Redis is down: not after waiting for the deadline (the
# log says which; a wall clock would say more about the box than the proxy)
check "Redis down: answered at once, not at the deadline" has "$(route_line down-1@pbx.example)" "outcome=fallback-redis-down "
o=$(sip invite.sip down-2)
check "Redis still down: still answered" [ "$(contacts_of "$o")" = "$FALLBACK" ]

stack_restart_redis || { bad "redis restart"; finish; exit 1; }
# an empty Redis: the proxy must load the functions again by itself; the
# dashboard (here the seed script) writes presence again
for i in $(seq 1 60); do
    stack_redis FUNCTION LIST | grep -q frontdesk && break; sleep 0.1
done
check "functions reloaded by the proxy" has "$(stack_redis FUNCTION LIST)" frontdesk
FD_REDIS_PORT=$FD_REDIS_PORT sh "$FD_ROOT/deploy/redis/demo-seed.sh" >/dev/null
got=""
for i in $(seq 1 40); do
    o=$(sip invite.sip back-$i)
    c=$(first_contact "$o")
    if [ "$c" != "$FALLBACK" ] && [ -n "$c" ]; then got=$c; break; fi
    sleep 0.1
done
check "Redis back: staff picked again ($got)" [ -n "$got" ]

kill -STOP "$FD_REDIS_PID"
t0=$(now_ms); o=$(sip invite.sip frozen-1); t1=$(now_ms)
check "Redis frozen: fallback" [ "$(contacts_of "$o")" = "$FALLBACK" ]
check "Redis frozen: answered by the 50 ms deadline ($((t1 - t0)) ms incl. process start)" [ $((t1 - t0)) -lt 300 ]
# frozen for longer: the proxy drops the stalled connection and retries
sleep 1.6
o=$(sip invite.sip frozen-2)
check "Redis still frozen: still answered with the fallback" [ "$(contacts_of "$o")" = "$FALLBACK" ]
check "stalled connection dropped" has "$(cat "$FD_PROXY_LOG")" 'no reply for a second'
kill -CONT "$FD_REDIS_PID"
got=""
for i in $(seq 1 40); do
    o=$(sip invite.sip thawed-$i)
    c=$(first_contact "$o")
    if [ -n "$c" ] && [ "$c" != "$FALLBACK" ]; then got=$c; break; fi
    sleep 0.1
done
check "Redis thawed: staff picked again ($got)" [ -n "$got" ]

stack_stop
log=$(cat "$FD_PROXY_LOG")
check "timeouts counted" has "$log" 'redis_timeouts=[1-9]'
check "unavailable counted" has "$log" 'redis_unavailable=[1-9]'
check "outage logged once per worker, then recovery" has "$log" 'redis: back'
finish

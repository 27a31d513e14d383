#!/usr/bin/env bash
# Redis answering with errors: out of memory, a read-only replica, the
# functions flushed. Every INVITE still gets its fallback within the
# deadline, nothing crashes, and picks resume without a restart.
. "$(dirname "$0")/lib.sh"
stack_start_redis && stack_seed_demo && stack_start_proxy "" --offer-window 100 || exit 1
FALLBACK=sip:frontdesk@pbx.downtown.hillcountry.example
picks_again() { # wait up to 4 s for a staff pick
    local i o c
    for i in $(seq 1 40); do
        o=$(sip invite.sip "$1-$i"); c=$(first_contact "$o")
        [ -n "$c" ] && [ "$c" != "$FALLBACK" ] && return 0
        sleep 0.1
    done
    return 1
}

stack_redis CONFIG SET maxmemory 1 >/dev/null
stack_redis CONFIG SET maxmemory-policy noeviction >/dev/null
o=$(sip invite.sip oom-1)
check "out of memory: the fallback" [ "$(contacts_of "$o")" = "$FALLBACK" ]
check "out of memory: answered at once on the error, not at the deadline" \
    has "$(route_line oom-1@pbx.example)" "outcome=fallback-redis-error "
stack_redis CONFIG SET maxmemory 0 >/dev/null
check "memory back: staff picked again" picks_again oom-back

# a read-only replica (of a master that does not exist)
port=$(stack_free_port)
stack_redis REPLICAOF 127.0.0.1 "$port" >/dev/null
o=$(sip invite.sip ro-1)
check "read-only replica: the fallback" [ "$(contacts_of "$o")" = "$FALLBACK" ]
stack_redis REPLICAOF NO ONE >/dev/null
check "master again: staff picked again" picks_again ro-back
check "a READONLY reply makes the worker connect again" has "$(cat "$FD_PROXY_LOG")" 'why="disconnected"'

# someone flushes the functions: the proxy loads them again by itself
check "every worker ready again" wait_ready
stack_redis FUNCTION FLUSH >/dev/null
o=$(sip invite.sip flush-1)
check "functions flushed: the fallback" [ "$(contacts_of "$o")" = "$FALLBACK" ]
check "functions flushed: reloaded, staff picked again" picks_again flush-back

check "still running" kill -0 "$FD_PROXY_PID"
stack_stop
log=$(cat "$FD_PROXY_LOG")
check "errors counted" has "$log" 'redis_errors=[1-9]'
check "error replies logged" eval 'has "$log" "OOM" && has "$log" "READONLY" && has "$log" "Function not found"'
finish

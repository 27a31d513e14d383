#!/usr/bin/env bash
# Shell functions that start a private Frontdesk stack on loopback: a
# redis-server with no persistence on a free port, the demo clinic group,
# and the proxy. Sourced by deploy/run-demo.sh, the integration tests and
# bench/run.sh. Every process started is recorded by PID and stopped by
# stack_stop; nothing else is ever signalled.
#
# Set before sourcing (optional): FD_RUN (folder for logs and Redis files,
# default run/ in the repo), FD_BIN (default build/frontdesk).

FD_ROOT=${FD_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
FD_RUN=${FD_RUN:-$FD_ROOT/run}
FD_BIN=${FD_BIN:-$FD_ROOT/build/frontdesk}
FD_PIDS=${FD_PIDS:-}
# a caller key for the demo and the tests only (never for real callers)
FD_DEMO_CALLER_KEY=64656d6f2d6f6e6c792d63616c6c65722d6b65792d6e6f742d666f722d726561

# A loopback TCP port nobody listens on (checked by connecting to it).
stack_free_port() {
    local p tries=0
    while [ $tries -lt 200 ]; do
        # below the kernel's ephemeral range (32768 and up), so that no
        # outgoing connection holds the port a moment later
        p=$(( 20000 + (RANDOM * 7 + $$ + tries * 131) % 12000 ))
        tries=$((tries + 1))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# stack_start_redis: sets FD_REDIS_PORT, FD_REDIS_PID.
stack_start_redis() {
    local port dir i
    for attempt in 1 2 3 4 5; do
        port=$(stack_free_port) || return 1
        dir="$FD_RUN/redis-$port"
        mkdir -p "$dir"
        redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
            --dir "$dir" --logfile "$dir/redis.log" --daemonize no --enable-debug-command local \
            --protected-mode yes >/dev/null 2>&1 &
        FD_REDIS_PID=$!
        for i in $(seq 1 50); do
            if redis-cli -p "$port" PING 2>/dev/null | grep -q PONG; then
                FD_REDIS_PORT=$port
                FD_PIDS="$FD_PIDS $FD_REDIS_PID"
                export FD_REDIS_PORT FD_REDIS_PID
                return 0
            fi
            kill -0 "$FD_REDIS_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill "$FD_REDIS_PID" 2>/dev/null; wait "$FD_REDIS_PID" 2>/dev/null
    done
    echo "stack: could not start redis-server" >&2
    return 1
}

# stack_restart_redis: start redis-server again on the same port (after a
# test stopped it).
stack_restart_redis() {
    local dir="$FD_RUN/redis-$FD_REDIS_PORT" i
    redis-server --bind 127.0.0.1 --port "$FD_REDIS_PORT" --save '' --appendonly no \
        --dir "$dir" --logfile "$dir/redis.log" --daemonize no >/dev/null 2>&1 &
    FD_REDIS_PID=$!
    FD_PIDS="$FD_PIDS $FD_REDIS_PID"
    for i in $(seq 1 50); do
        redis-cli -p "$FD_REDIS_PORT" PING 2>/dev/null | grep -q PONG && return 0
        sleep 0.1
    done
    return 1
}

stack_redis() { redis-cli -p "$FD_REDIS_PORT" "$@"; }

stack_load_functions() {
    stack_redis -x FUNCTION LOAD REPLACE < "$FD_ROOT/proxy/redis/frontdesk.lua" >/dev/null
}

# stack_seed_demo: the demo clinic group; also writes every contact a demo
# call may be redirected to (staff and site fallbacks), one per line, to
# $FD_RUN/demo-contacts.txt and exports FD_EXPECT_CONTACTS (bench checks).
stack_seed_demo() {
    stack_load_functions && FD_REDIS_PORT=$FD_REDIS_PORT sh "$FD_ROOT/deploy/redis/demo-seed.sh" || return 1
    FD_EXPECT_CONTACTS=$FD_RUN/demo-contacts.txt
    {
        for site in downtown northlake westside float; do
            for id in $(stack_redis SMEMBERS "fd:{$site}:staff"); do
                stack_redis HGET "fd:{$site}:staff:$id" contact
            done
        done
        grep -v '^ *#' "$FD_ROOT/rules/examples/demo.yaml" | grep -o 'sips\{0,1\}:[^ "#]*'
    } | sort -u > "$FD_EXPECT_CONTACTS"
    export FD_EXPECT_CONTACTS
}

# stack_proxy_ready PID WORKERS: has every worker of that proxy its Redis
# functions? Each worker's connection is named frontdesk-<pid>-w<n>; its
# last command, once it is ready, is FCALL fd_version (the library was
# there), FUNCTION LOAD, or the EXEC that replaced an older library (then
# FCALLs). An FCALL is also the last command for a moment after fd_version
# found no library, so the proxy's own /readyz has the last word.
stack_proxy_ready() {
    [ "$(stack_redis CLIENT LIST 2>/dev/null | grep "name=frontdesk-$1-w" |
         grep -cE 'cmd=(function\|load|fcall|exec|unwatch)')" -ge "$2" ] &&
        stack_http "$FD_ADMIN_PORT" /readyz 2>/dev/null | grep -q '^ready$'
}

# stack_start_proxy [PORT] [frontdesk flags...]: sets FD_SIP_PORT, FD_PROXY_PID,
# FD_PROXY_LOG, FD_ADMIN_PORT; waits until every worker has loaded the Redis
# functions. Without PORT the system picks the SIP port (--listen
# 127.0.0.1:0); the admin port is always the system's. Both are read from
# the proxy's --ports-file, so no port is probed and then lost to a race.
stack_start_proxy() {
    local port=${1:-} i workers=2 pfile udp="" admin=""
    shift || true
    local args=("$@")
    local prev=""
    for a in "${args[@]}"; do
        case $a in --workers=*) workers=${a#--workers=};; esac
        [ "$prev" = --workers ] && workers=$a
        prev=$a
    done
    FD_PROXIES_STARTED=$(( ${FD_PROXIES_STARTED:-0} + 1 ))
    pfile="$FD_RUN/ports-$BASHPID-$FD_PROXIES_STARTED"
    rm -f "$pfile"
    FD_PROXY_LOG="$FD_RUN/frontdesk-${port:-p$BASHPID-$FD_PROXIES_STARTED}.log"
    # the caller key: caller-aware rules need one; tests and the demo use a
    # fixed one unless the environment gives its own
    FRONTDESK_CALLER_KEY=${FRONTDESK_CALLER_KEY:-$FD_DEMO_CALLER_KEY} \
    "$FD_BIN" --config "${FD_CONFIG:-$FD_ROOT/rules/examples/demo.yaml}" \
        --listen "127.0.0.1:${port:-0}" --redis "127.0.0.1:$FD_REDIS_PORT" \
        --workers "$workers" --admin 127.0.0.1:0 --ports-file "$pfile" \
        ${FD_REDIS_TIMEOUT:+--redis-timeout "$FD_REDIS_TIMEOUT"} \
        "${args[@]}" >"$FD_PROXY_LOG" 2>&1 &
    FD_PROXY_PID=$!
    FD_PIDS="$FD_PIDS $FD_PROXY_PID"
    for i in $(seq 1 200); do
        if [ -z "$admin" ] && [ -s "$pfile" ]; then
            udp=$(awk '$1 == "udp" { n = split($2, p, ":"); print p[n]; exit }' "$pfile")
            admin=$(awk '$1 == "admin" { n = split($2, p, ":"); print p[n]; exit }' "$pfile")
            FD_ADMIN_PORT=$admin
            # the first tcp: and tls: listeners, when the flags add some
            FD_TCP_PORT=$(awk '$1 == "tcp" { n = split($2, p, ":"); print p[n]; exit }' "$pfile")
            FD_TLS_PORT=$(awk '$1 == "tls" { n = split($2, p, ":"); print p[n]; exit }' "$pfile")
        fi
        if [ -n "$admin" ] && stack_proxy_ready "$FD_PROXY_PID" "$workers"; then
            FD_SIP_PORT=$udp
            export FD_SIP_PORT FD_PROXY_PID FD_PROXY_LOG FD_ADMIN_PORT FD_TCP_PORT FD_TLS_PORT
            return 0
        fi
        kill -0 "$FD_PROXY_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "stack: frontdesk did not become ready; its log:" >&2
    cat "$FD_PROXY_LOG" >&2
    return 1
}

# Stop every process this shell started, by PID, and wait for them.
stack_stop() {
    local p
    for p in $FD_PIDS; do kill "$p" 2>/dev/null; done
    for p in $FD_PIDS; do
        for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    FD_PIDS=""
}

# stack_http PORT PATH: GET http://127.0.0.1:PORT/PATH with bash alone;
# prints the status line and the body.
stack_http() {
    local out
    exec 9<>"/dev/tcp/127.0.0.1/$1" || return 1
    printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&9
    out=$(timeout 5 cat <&9)
    exec 9<&-
    printf '%s\n' "$out" | tr -d '\r' | awk 'NR == 1 || body { print } /^$/ { body = 1 }'
}

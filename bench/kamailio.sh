# bench/kamailio.sh -- Kamailio from Debian as the bench peer, shared by
# bench/compare.sh and bench/forward.sh (sourced, bash). Functions only:
# nothing runs when it is sourced (bench/lib.sh, by contrast, sets up a
# whole stack and its traps for the clinic-network benches).
#
# Needs, before calling: say (the script's message function) and
# stack_free_port (deploy/stack.sh); KAM_RUN, the folder under which each
# Kamailio gets its own kamailio-NAME/ (pid file, runtime dir, log).
# Optional: KAM_MEM (memory manager, kamailio -x; fm), KAM_WORKERS (UDP
# workers, passed as -A WORKERS=N; 2). Gives: KAMAILIO (set by
# kam_install), KAM_PIDS (every main process started), KAM_KIDS (their
# children, recorded at start). kam_stop stops them by PID; nothing else is
# ever signalled.
# shellcheck shell=bash disable=SC2034 # KAM_PORT, KAM_PID...: read by the caller

KAM_MEM=${KAM_MEM:-fm}
KAM_WORKERS=${KAM_WORKERS:-2}
KAM_PIDS=""      # main Kamailio processes (they stop their children)
KAM_KIDS=""      # their children, recorded at start, checked at stop

# kam_install: the Debian packages kamailio and kamailio-redis-modules,
# installed when missing (deploy/deps.sh does not: only the benches against
# Kamailio need them) the way deploy/deps.sh installs: only what is
# missing, apt-get as root, through sudo otherwise. Sets KAMAILIO; 0 when it
# can be run, 1 (said why) otherwise.
kam_install() {
    local p missing="" SUDO
    for p in kamailio kamailio-redis-modules; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
            missing="$missing $p"
        fi
    done
    if [ -n "$missing" ]; then
        say "installing$missing"
        if [ "$(id -u)" -eq 0 ]; then SUDO=""
        elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"
        else
            say "need root (or sudo) to install:$missing"
            say "could not install kamailio and kamailio-redis-modules"
            return 1
        fi
        export DEBIAN_FRONTEND=noninteractive
        # shellcheck disable=SC2086
        if ! $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null 2>&1; then
            if ! { $SUDO apt-get update -qq &&
                   $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null; }; then
                say "could not install kamailio and kamailio-redis-modules"
                return 1
            fi
        fi
        # On a machine run by systemd the package enables and starts its own
        # kamailio.service (every interface, port 5060, /etc/kamailio). We only
        # want the binary: stop and disable the service we just caused.
        if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1 &&
           systemctl is-enabled --quiet kamailio 2>/dev/null; then
            say "disabling the kamailio.service the package enabled (the bench runs its own)"
            $SUDO systemctl disable --now kamailio >/dev/null 2>&1 || true
        fi
        say "installed$missing"
    fi
    KAMAILIO=$(command -v kamailio || echo /usr/sbin/kamailio)
    [ -x "$KAMAILIO" ] || { say "kamailio is not installed"; return 1; }
}

# children_of PID: its child processes, from /proc (no pgrep needed)
children_of() {
    local t
    for t in /proc/"$1"/task/*/children; do
        [ -r "$t" ] && cat "$t" 2>/dev/null
    done | tr ' ' '\n' | grep -E '^[0-9]+$' | tr '\n' ' '
}

# kam_start NAME CFG [kamailio flags...]: a Kamailio in the foreground on a
# free loopback port, ready once it answers a sipsak OPTIONS (sipsak comes
# with deploy/deps.sh). Sets KAM_PORT, KAM_PID and KAM_CHILDREN (its
# children at that moment); 1 (its log on stderr) when it did not start
# in three tries.
kam_start() {
    local name=$1 cfg=$2 port pid dir
    shift 2
    dir=$KAM_RUN/kamailio-$name
    mkdir -p "$dir"
    KAM_PORT="" KAM_PID="" KAM_CHILDREN=""
    for _ in 1 2 3; do
        port=$(stack_free_port) || return 1
        "$KAMAILIO" -f "$cfg" -DD -E -l "udp:127.0.0.1:$port" -Y "$dir" \
            -P "$dir/kamailio.pid" -m 64 -M 8 -x "$KAM_MEM" -A "WORKERS=$KAM_WORKERS" "$@" \
            >"$dir/kamailio.log" 2>&1 &
        pid=$!
        KAM_PIDS="$KAM_PIDS $pid"
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            if sipsak -s "sip:ping@127.0.0.1:$port" >/dev/null 2>&1; then
                KAM_CHILDREN=$(children_of "$pid")
                KAM_KIDS="$KAM_KIDS $KAM_CHILDREN"
                KAM_PORT=$port KAM_PID=$pid
                return 0
            fi
            sleep 0.1
        done
        kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    done
    say "kamailio ($name) did not start; its log:"
    cat "$dir/kamailio.log" >&2
    return 1
}

# kam_stop: SIGTERM to every main process (it stops its children), SIGKILL
# after 5 s; then any recorded child still running a kamailio of ours.
kam_stop() {
    local p
    for p in $KAM_PIDS; do kill -TERM "$p" 2>/dev/null; done
    for p in $KAM_PIDS; do
        for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    # children that outlived their main process (they should not)
    for p in $KAM_KIDS; do
        if [ -r "/proc/$p/cmdline" ] && tr '\0' ' ' <"/proc/$p/cmdline" | grep -q "^$KAMAILIO .*$KAM_RUN"; then
            kill -9 "$p" 2>/dev/null
        fi
    done
    KAM_PIDS="" KAM_KIDS=""
}

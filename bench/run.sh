#!/bin/sh
# run.sh -- `make bench`: load a Frontdesk proxy with fd-bench and report.
#
#   FD_TARGET=HOST:PORT   load a proxy that is already running (loopback
#                         only): one `fd-bench run`, this script's arguments
#                         passed on.
#   (unset)               start a private Redis, the demo clinic group and a
#                         proxy on loopback through deploy/stack.sh; find the
#                         highest good rate from ONE source port (one PBX
#                         trunk: proves the workers share a single source) and
#                         from 8; print both; stop everything on exit.
#
#   FD_BENCH_ARGS="..."   more fd-bench flags (split on blanks, no globbing),
#                         e.g. "--to 15125550100*2 --count 50000"; this
#                         script's own arguments are added after them.
#   FD_EXPECT_CONTACTS=F  passed as --expect-contacts F (deploy/stack.sh may
#                         export it after seeding).
#
# Exit status: 0 when every fd-bench run passed, 1 when one failed, 2 when the
# bench could not run.

cd "$(dirname "$0")/.." || exit 2
BENCH=build/fd-bench
OUT=build/bench

# deploy/stack.sh is written for bash: when this script has to source it,
# it runs itself under bash (it is plain POSIX sh, so bash runs it as is).
if [ -z "${FD_TARGET:-}" ] && [ -z "${BASH_VERSION:-}" ]; then
    if command -v bash >/dev/null 2>&1; then
        exec bash "$0" "$@"
    fi
    echo "bench: starting the stack needs bash (deploy/stack.sh); or set FD_TARGET" >&2
    exit 2
fi

if [ ! -x "$BENCH" ]; then
    echo "bench: $BENCH is missing: run make first" >&2
    exit 2
fi

# Extra flags from the environment, before the script's own arguments.
if [ -n "${FD_BENCH_ARGS:-}" ]; then
    set -f
    # shellcheck disable=SC2086 # splitting is the point
    set -- $FD_BENCH_ARGS "$@"
    set +f
fi


# ---------------------------------------------------------------------------
# An already-running proxy
# ---------------------------------------------------------------------------

if [ -n "${FD_TARGET:-}" ]; then
    if [ -n "${FD_EXPECT_CONTACTS:-}" ]; then
        set -- "$@" --expect-contacts "$FD_EXPECT_CONTACTS"
    fi
    exec "$BENCH" run --target "$FD_TARGET" "$@"
fi

# ---------------------------------------------------------------------------
# Our own stack: Redis + demo data + proxy, all on loopback
# ---------------------------------------------------------------------------

# deploy/stack.sh defines stack_start_redis, stack_seed_demo,
# stack_start_proxy and stack_stop, and exports FD_REDIS_PORT and FD_SIP_PORT.
stack_loaded=0
start_stack() {
    if [ ! -f deploy/stack.sh ]; then
        echo "bench: deploy/stack.sh is missing; to load a proxy started by hand:" >&2
        echo "       FD_TARGET=127.0.0.1:5060 sh bench/run.sh" >&2
        return 1
    fi
    # shellcheck source=/dev/null
    . ./deploy/stack.sh || return 1
    stack_loaded=1 # from here on, stack_stop runs on exit whatever fails
    stack_start_redis || return 1
    stack_seed_demo || return 1
    # a load generator from one address: the per-source and per-site limits
    # (docs/operations.md) would measure themselves
    stack_start_proxy "" --source-rate 0 --site-picks 0 || return 1
}

# shellcheck disable=SC2317 # called from the EXIT trap
stop_stack() {
    [ "$stack_loaded" = 1 ] || return 0
    stack_loaded=0
    if command -v stack_stop >/dev/null 2>&1; then
        stack_stop || echo "bench: stack_stop failed" >&2
    fi
}

# fd-bench runs in the background so that a signal reaches this script at
# once (a shell runs traps only between foreground commands): the trap asks
# fd-bench to stop (it drains and prints what it has), waits for it, exits,
# and the EXIT trap stops the stack.
bench_pid=
# shellcheck disable=SC2317 # called from the signal traps
on_signal() {
    if [ -n "$bench_pid" ]; then
        kill -TERM "$bench_pid" 2>/dev/null
        wait "$bench_pid" 2>/dev/null
        bench_pid=
        cat "$file" 2>/dev/null
    fi
    exit "$1"
}
trap 'stop_stack' EXIT
trap 'on_signal 130' INT
trap 'on_signal 143' TERM
trap 'on_signal 129' HUP

if ! start_stack; then
    echo "bench: could not start Redis and the proxy" >&2
    exit 2
fi
if [ -z "${FD_SIP_PORT:-}" ]; then
    echo "bench: deploy/stack.sh did not export FD_SIP_PORT" >&2
    exit 2
fi
target="127.0.0.1:$FD_SIP_PORT"
mkdir -p "$OUT"
# deploy/stack.sh may have exported it while seeding
if [ -n "${FD_EXPECT_CONTACTS:-}" ]; then
    set -- "$@" --expect-contacts "$FD_EXPECT_CONTACTS"
fi

# One find-max run: <label> <file> <flags...>; its table goes to <file> and
# to stdout, its progress to stderr.
find_max() {
    label=$1
    file=$2
    shift 2
    echo "== $label"
    "$BENCH" run --target "$target" --find-max "$@" >"$file" &
    bench_pid=$!
    wait "$bench_pid"
    rc=$?
    bench_pid=
    cat "$file"
    echo
    return $rc
}

find_max "one source (one PBX trunk)" "$OUT/single.txt" --single-source "$@"
rc_single=$?
find_max "8 sources" "$OUT/multi.txt" --sources 8 "$@"
rc_multi=$?

echo "== summary (redis on 127.0.0.1:${FD_REDIS_PORT:-?}, proxy on $target)"
for f in single multi; do
    line=$(grep '^max good rate:' "$OUT/$f.txt" 2>/dev/null)
    printf '  %-7s %s\n' "$f" "${line:-see $OUT/$f.txt}"
done

if [ "$rc_single" -eq 2 ] || [ "$rc_multi" -eq 2 ]; then
    exit 2
fi
if [ "$rc_single" -ne 0 ] || [ "$rc_multi" -ne 0 ]; then
    exit 1
fi
exit 0

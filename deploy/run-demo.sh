#!/usr/bin/env bash
# `make run`: a private Redis on a free loopback port, seeded with the demo
# clinic group, and the proxy in the foreground on UDP and TCP
# 127.0.0.1:$PORT, its admin endpoint on 127.0.0.1:$ADMIN (9560, or a free
# port when 9560 is taken: a second demo on another PORT runs beside the
# first), and the reception board on http://127.0.0.1:$BOARD_PORT/ (9570, or a
# free port). Ctrl-C stops the proxy, the board and the Redis this script
# started.
set -u
FD_ROOT=$(cd "$(dirname "$0")/.." && pwd)
FD_RUN=$FD_ROOT/run/demo
PORT=${PORT:-5060}
. "$FD_ROOT/deploy/stack.sh"
ADMIN=${ADMIN:-9560}
if (exec 3<>"/dev/tcp/127.0.0.1/$ADMIN") 2>/dev/null; then
    ADMIN=$(stack_free_port) # taken (another demo?): any free one
fi
BOARD_PORT=${BOARD_PORT:-9570}
if (exec 3<>"/dev/tcp/127.0.0.1/$BOARD_PORT") 2>/dev/null; then
    BOARD_PORT=$(stack_free_port)
fi
trap 'stack_stop; rm -rf "$FD_RUN"/redis-*' EXIT
trap 'exit 130' INT TERM

mkdir -p "$FD_RUN"
CALLER_KEY=${FRONTDESK_CALLER_KEY:-$FD_DEMO_CALLER_KEY}
echo "$CALLER_KEY" > "$FD_RUN/caller-key"   # for frontdeskctl route explain
stack_start_redis || exit 1
stack_seed_demo || exit 1

cat <<MSG

Frontdesk demo: Redis on 127.0.0.1:$FD_REDIS_PORT (private, no persistence),
proxy on udp and tcp 127.0.0.1:$PORT. Send a test call from another terminal:

  sipsak -vv --ignore-redirects -f deploy/demo/billing.sip -g "\$(date +%s%N)" -s sip:15125550100@127.0.0.1:$PORT

It answers "302 Moved Temporarily" with Contacts: the billing staff free at
Downtown, longest idle first, then the site's front desk. Other calls:
deploy/demo/{scheduling,intake,northlake,westside,annex,unknown}.sip.
Presence:  build/frontdeskctl --redis 127.0.0.1:$FD_REDIS_PORT presence list downtown
           build/frontdeskctl --redis 127.0.0.1:$FD_REDIS_PORT presence set downtown carla.nguyen busy
Why a call goes where it goes, and who would get it now:
  FRONTDESK_CALLER_KEY=\$(cat run/demo/caller-key) build/frontdeskctl --redis 127.0.0.1:$FD_REDIS_PORT \\
      route explain --config rules/examples/demo.yaml --to 15125550200
Health and counters: http://127.0.0.1:$ADMIN/readyz and /metrics
Reception board (see and set who is free, live): http://127.0.0.1:$BOARD_PORT/
Where calls went: build/frontdeskctl --redis 127.0.0.1:$FD_REDIS_PORT report calls \\
      --config rules/examples/demo.yaml --since 1h
Ctrl-C stops the proxy, the board and this Redis.

MSG
FRONTDESK_CALLER_KEY=$CALLER_KEY "$FD_ROOT/build/frontdesk-board" --config "$FD_ROOT/rules/examples/demo.yaml" \
    --listen "127.0.0.1:$BOARD_PORT" --redis "127.0.0.1:$FD_REDIS_PORT" &
FD_PIDS="$FD_PIDS $!"
FRONTDESK_CALLER_KEY=$CALLER_KEY \
"$FD_BIN" --config "$FD_ROOT/rules/examples/demo.yaml" --listen "udp+tcp:127.0.0.1:$PORT" \
    --admin "127.0.0.1:$ADMIN" --redis "127.0.0.1:$FD_REDIS_PORT" &
FD_PROXY_PID=$!
FD_PIDS="$FD_PIDS $FD_PROXY_PID"
wait "$FD_PROXY_PID"
rc=$?
[ $rc -eq 2 ] && echo "frontdesk exited: bad flag or rules file (see above)" >&2
exit $rc

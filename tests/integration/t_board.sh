#!/usr/bin/env bash
# The reception board (frontdesk-board) in headless Chromium: a person turns
# busy on the page within 1 s of `frontdeskctl presence set`; a click on
# Available changes Redis and the next call's 302 names that person; the
# keyboard alone works; after a Redis restart a reload shows the state and
# live changes flow again; with --tokens nothing is served without one.
# The browser part is board_browser.py (Selenium); skipped, said so, only
# where Chromium cannot start.
. "$(dirname "$0")/lib.sh"
stack_start_redis && stack_seed_demo || exit 1
stack_start_proxy "" || exit 1
wait_ready || { bad "proxy ready"; finish; exit 1; }
BOARD=$FD_ROOT/build/frontdesk-board
test_code() { [ "$1" = "$2" ] || { echo "    got $1, want $2" >&2; return 1; }; }

# board_start NAME [flags]: on a free loopback port; sets BOARD_PORT
board_start() {
    local name=$1 i; shift
    rm -f "$FD_RUN/$name.port"
    FRONTDESK_CALLER_KEY=$FD_DEMO_CALLER_KEY "$BOARD" --config "$FD_ROOT/rules/examples/demo.yaml" \
        --listen 127.0.0.1:0 --redis "127.0.0.1:$FD_REDIS_PORT" --ports-file "$FD_RUN/$name.port" "$@" \
        >"$FD_RUN/$name.log" 2>&1 &
    FD_PIDS="$FD_PIDS $!"
    for i in $(seq 1 50); do [ -s "$FD_RUN/$name.port" ] && break; sleep 0.1; done
    BOARD_PORT=$(awk '{ n = split($2, p, ":"); print p[n] }' "$FD_RUN/$name.port" 2>/dev/null)
    [ -n "$BOARD_PORT" ]
}

# --- flags and files: clear refusals ----------------------------------------------
o=$("$BOARD" --config "$FD_ROOT/rules/examples/demo.yaml" --listen 0.0.0.0:0 2>&1); rc=$?
check "listening beyond loopback without --tokens: refused, said (exit $rc)" eval \
    '[ $rc = 2 ] && has "$o" "exposes the board: give --tokens FILE"'
printf 'short downtown\n' > "$FD_RUN/bad-tokens"
o=$("$BOARD" --config "$FD_ROOT/rules/examples/demo.yaml" --tokens "$FD_RUN/bad-tokens" 2>&1); rc=$?
check "a token file with a short token: refused with its line (exit $rc)" eval '[ $rc = 2 ] && has "$o" "bad-tokens:1:"'
o=$("$BOARD" --listen 127.0.0.1:0 2>&1); rc=$?
check "no --config: refused (exit $rc)" eval '[ $rc = 2 ] && has "$o" "config FILE is needed"'

board_start open || { bad "board (loopback, no token) listening"; finish; exit 1; }
OPEN=$BOARD_PORT
TOKEN_ALL=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
TOKEN_NORTHLAKE=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '# tokens of the test\n%s *\n%s northlake\n' "$TOKEN_ALL" "$TOKEN_NORTHLAKE" > "$FD_RUN/tokens"
board_start tok --tokens "$FD_RUN/tokens" || { bad "board (tokens) listening"; finish; exit 1; }
TOK=$BOARD_PORT

# --- the API as scripts see it -----------------------------------------------------
check "GET /api/sites: the rules' sites" has "$(curl -s "http://127.0.0.1:$OPEN/api/sites")" \
    '^\{"sites":\["downtown","northlake","westside","annex","float"\]\}$'
check "GET /api/staff of an unknown site: 400" test_code "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$OPEN/api/staff?site=nowhere")" 400
check "POST /api/presence with a bad state: 400" test_code "$(curl -s -o /dev/null -w '%{http_code}' -H 'X-Board: 1' \
    -d 'site=downtown&id=carla.nguyen&state=asleep' "http://127.0.0.1:$OPEN/api/presence")" 400
check "POST /api/presence for somebody not on staff: Redis's refusal, 502" test_code \
    "$(curl -s -o /dev/null -w '%{http_code}' -H 'X-Board: 1' -d 'site=downtown&id=nobody.here&state=busy' \
      "http://127.0.0.1:$OPEN/api/presence")" 502
check "GET of a page that is not: 404" test_code "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$OPEN/etc/passwd")" 404
check "the page comes with a Content-Security-Policy" has "$(curl -s -D - -o /dev/null "http://127.0.0.1:$OPEN/")" \
    "^Content-Security-Policy: default-src 'self'"

# --- in the browser ------------------------------------------------------------------
out=$(BOARD_URL="http://127.0.0.1:$OPEN/" BOARD_TOKEN_URL="http://127.0.0.1:$TOK/" TOKEN_ALL=$TOKEN_ALL \
    TOKEN_NORTHLAKE=$TOKEN_NORTHLAKE CTL=$CTL REDIS_PORT=$FD_REDIS_PORT REDIS_DIR=$FD_RUN/redis-$FD_REDIS_PORT \
    SIP_PORT=$FD_SIP_PORT SIPSEND=$SIPSEND SIPDIR=$SIPDIR FD_RUN=$FD_RUN SCREENSHOT=$FD_RUN/board.png \
    timeout 180 /usr/bin/python3 "$FD_ROOT/tests/integration/board_browser.py" 2>"$FD_RUN/browser.err")
rc=$?
[ -s "$FD_RUN/redis2.pid" ] && FD_PIDS="$FD_PIDS $(cat "$FD_RUN/redis2.pid")"
if printf '%s\n' "$out" | grep -q '^skip'; then
    echo "t_board: the browser checks are skipped: $(printf '%s\n' "$out" | sed -n 's/^skip\t//p')"
else
    while IFS=$'\t' read -r kind text; do
        case $kind in ok) ok "$text" ;; bad) bad "$text" ;; esac
    done <<<"$out"
    check "the browser script ran to its end (exit $rc; stderr in browser.err)" [ "$rc" = 0 ]
fi
finish

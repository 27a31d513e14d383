#!/usr/bin/env bash
# Redis with AUTH: the proxy authenticates with a password or an ACL user
# from its environment; a wrong password is a clear log line and fallbacks,
# never a crash; frontdeskctl authenticates with --password, --user or
# REDISCLI_AUTH.
. "$(dirname "$0")/lib.sh"
stack_start_redis && stack_seed_demo || exit 1
PW=s3cret-demo-pass
stack_redis CONFIG SET requirepass "$PW" >/dev/null
export REDISCLI_AUTH=$PW   # for redis-cli in stack.sh
stack_redis ACL SETUSER frontdesk on '>proxy-pass' '~fd:*' '&fd:*' '+@all' >/dev/null

FRONTDESK_REDIS_PASSWORD=$PW stack_start_proxy "" || exit 1
o=$(sip invite.sip auth-1)
check "password: staff picked" has "$(first_contact "$o")" '@pbx\.downtown\.'
kill "$FD_PROXY_PID"; wait "$FD_PROXY_PID" 2>/dev/null

FRONTDESK_REDIS_USER=frontdesk FRONTDESK_REDIS_PASSWORD=proxy-pass stack_start_proxy "" || exit 1
o=$(sip invite.sip auth-2)
check "ACL user: staff picked" has "$(first_contact "$o")" '@pbx\.(downtown|northlake)\.'
kill "$FD_PROXY_PID"; wait "$FD_PROXY_PID" 2>/dev/null

# a wrong password: the proxy never becomes ready, but answers every call
port=$(stack_free_port)
FRONTDESK_CALLER_KEY=$FD_DEMO_CALLER_KEY FRONTDESK_REDIS_PASSWORD=wrong "$FD_BIN" \
    --config "$FD_ROOT/rules/examples/demo.yaml" --listen "127.0.0.1:$port" \
    --redis "127.0.0.1:$FD_REDIS_PORT" --workers 1 >"$FD_RUN/wrong.log" 2>&1 &
pid=$!; FD_PIDS="$FD_PIDS $pid"
sleep 0.5
FD_SIP_PORT=$port
o=$(sip invite.sip auth-3)
check "wrong password: the fallback, at once" [ "$(contacts_of "$o")" = sip:frontdesk@pbx.downtown.hillcountry.example ]
check "wrong password: logged clearly" has "$(cat "$FD_RUN/wrong.log")" 'redis: AUTH failed'
check "wrong password: the password is not logged" hasnt "$(cat "$FD_RUN/wrong.log")" 'wrong'
check "still running" kill -0 "$pid"

unset REDISCLI_AUTH
out=$("$CTL" --redis "127.0.0.1:$FD_REDIS_PORT" presence list downtown 2>&1); rc=$?
check "frontdeskctl without a password: a clear error" eval '[ $rc != 0 ] && has "$out" "NOAUTH|Authentication required|AUTH"'
out=$("$CTL" --redis "127.0.0.1:$FD_REDIS_PORT" --password "$PW" presence list downtown 2>&1); rc=$?
check "frontdeskctl --password" eval '[ $rc = 0 ] && has "$out" "ana\.garcia"'
out=$("$CTL" --redis "127.0.0.1:$FD_REDIS_PORT" --user frontdesk --password proxy-pass presence list downtown 2>&1); rc=$?
check "frontdeskctl --user --password" eval '[ $rc = 0 ] && has "$out" "ana\.garcia"'
out=$(REDISCLI_AUTH=$PW "$CTL" --redis "127.0.0.1:$FD_REDIS_PORT" presence list downtown 2>&1); rc=$?
check "frontdeskctl with REDISCLI_AUTH" [ $rc = 0 ]
export REDISCLI_AUTH=$PW  # so that stack_stop's redis-cli calls (none) and cleanup work
finish

#!/usr/bin/env bash
# A real external SIP client, sipsak from Debian: 200 to OPTIONS, a 302 to
# an INVITE (the demo call of the README), and its ACK absorbed.
. "$(dirname "$0")/lib.sh"
command -v sipsak >/dev/null || { bad "sipsak is not installed (make deps installs it)"; finish; exit 1; }
stack_start_redis && stack_seed_demo && stack_start_proxy "" || exit 1

out=$(timeout 10 sipsak -vv -s "sip:15125550100@127.0.0.1:$FD_SIP_PORT" 2>&1); rc=$?
check "sipsak OPTIONS: 200 OK (exit $rc)" eval '[ $rc = 0 ] && has "$out" "^SIP/2.0 200 OK"'
out=$(cd "$FD_ROOT" && timeout 10 sipsak -vv --ignore-redirects -f deploy/demo/billing.sip -g "t$$" -s "sip:15125550100@127.0.0.1:$FD_SIP_PORT" 2>&1)
check "sipsak INVITE: 302 Moved Temporarily" has "$out" '^SIP/2.0 302 Moved Temporarily'
check "sipsak INVITE: a billing person first" has "$out" '^Contact: <sip:(ana.garcia|carla.nguyen|ivan.petrov)@'
out=$(cd "$FD_ROOT" && timeout 10 sipsak -vv --ignore-redirects -f deploy/demo/unknown.sip -g "u$$" -s "sip:15125559999@127.0.0.1:$FD_SIP_PORT" 2>&1)
check "sipsak INVITE to an unknown number: 404" has "$out" '^SIP/2.0 404 Not Found'
stack_stop
check "sipsak's ACKs absorbed" has "$(cat "$FD_PROXY_LOG")" 'acks_absorbed=[1-9]'
finish

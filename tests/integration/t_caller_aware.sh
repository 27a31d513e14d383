#!/usr/bin/env bash
# Caller-aware routing through the daemon: a caller reaches the person they
# were offered to last time, if available, even when longest-idle would
# pick someone else; another caller does not; a priority caller is flagged;
# the log carries keyed hashes, never the numbers.
. "$(dirname "$0")/lib.sh"
stack_start_redis && stack_seed_demo && stack_start_proxy "" --offer-window 300 || exit 1
id_of() { local u=${1#sip:}; echo "${u%%@*}"; }

o=$(CALLER=1234 call '15125550100*1')       # scheduling at Downtown
x=$(id_of "$(first_contact "$o")")
check "first call from 512-555-1234 offered to someone ($x)" [ -n "$x" ]
# their call ends: they become the most recently idle
stack_redis FCALL fd_presence 1 'fd:{downtown}' "$x" busy >/dev/null
stack_redis FCALL fd_presence 1 'fd:{downtown}' "$x" available >/dev/null
sleep 0.4
o=$(CALLER=5678 call '15125550100*1')
check "another caller: longest idle first, not $x" [ "$(id_of "$(first_contact "$o")")" != "$x" ]
sleep 0.4
o=$(CALLER=1234 call '15125550100*1')
check "the same caller again: $x first (caller-aware)" [ "$(id_of "$(first_contact "$o")")" = "$x" ]

# not available: on through the normal plan
sleep 0.4
stack_redis FCALL fd_presence 1 'fd:{downtown}' "$x" break >/dev/null
o=$(CALLER=1234 call '15125550100*1')
check "the same caller, $x on break: someone else" eval '[ -n "$(first_contact "$o")" ] && [ "$(id_of "$(first_contact "$o")")" != "$x" ]'

o=$(CALLER=0190 call '15125550100*1')
keys=$(stack_redis --scan --pattern 'fd:{downtown}:caller:*')
check "caller memory in Redis exists, keyed by 32-hex hashes" eval '[ -n "$keys" ] && ! printf "%s\n" "$keys" | grep -vqE "^fd:\{downtown\}:caller:[0-9a-f]{32}$"'
stack_stop
log=$(cat "$FD_PROXY_LOG")
check "a referring provider (512-555-0190) is flagged priority" has "$log" 'priority=1 site=downtown'
check "callers logged as keyed hashes" has "$log" 'caller=[0-9a-f]{16} '
n=$(printf '%s\n' "$log" | grep 'msg="route"' | sed -n 's/.* caller=\([0-9a-f]*\) .*/\1/p' | sort -u | wc -l)
check "one caller, one hash: 5 calls from 3 numbers, 3 hashes ($n)" [ "$n" = 3 ]
check "no caller number in the log" hasnt "$log" '1512555(1234|5678|0190)'
finish

#!/usr/bin/env bash
# A Redis that answers after the deadline (DEBUG SLEEP): the INVITE gets its
# fallback at the deadline, and when the late reply comes the people it
# reserved are released at once (they never ring for that call), and a
# retransmission still gets the same fallback.
. "$(dirname "$0")/lib.sh"
stack_start_redis && stack_seed_demo && stack_start_proxy "" --redis-timeout 50 || exit 1
FALLBACK=sip:frontdesk@pbx.downtown.hillcountry.example
wait_ready || { bad "proxy ready"; finish; exit 1; }

stack_redis DEBUG SLEEP 0.4 >/dev/null &
sleeper=$!
sleep 0.05
t0=$(now_ms); o=$(CALLER=4321 sip invite.sip slow-1); t1=$(now_ms)
check "Redis slow: the fallback" [ "$(contacts_of "$o")" = "$FALLBACK" ]
check "Redis slow: answered by the deadline ($((t1 - t0)) ms incl. process start)" [ $((t1 - t0)) -lt 300 ]
wait "$sleeper"
sleep 0.3
# reserved people have a claim (p:claim) that lapses later than now
now=$(( $(stack_redis TIME | head -1) * 1000 ))
offered=$(stack_redis HVALS 'fd:{downtown}:claim' | awk -v now="$now" '$1 > now' | wc -l)
check "the late pick's people released ($offered still offered)" [ "$offered" = 0 ]
# the call history: fd_pick wrote "staff" when it ran, the proxy "late"
# after (its batch, on the same connection): the last record of the call
# says what the caller got
sleep 0.3
last=$(stack_redis XRANGE 'fd:{downtown}:calls' - + | awk -F'\t' -v c="$(call_hash slow-1@pbx.example)" '
    $1 == c { r = $5 } END { print r }')
check "the call history's last record of the late call: late" [ "$last" = late ]
o=$(CALLER=4321 sip invite.sip slow-1)
check "the retransmission: the same fallback" [ "$(contacts_of "$o")" = "$FALLBACK" ]
o=$(sip invite.sip fast-1)
check "afterwards: staff picked as usual" has "$(first_contact "$o")" '@pbx\.downtown\.'
finish

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
# reserved people have a lapse time in their p:on value ("0" when free)
offered=$(stack_redis HVALS 'fd:{downtown}:on' | grep -cv '^0 ')
check "the late pick's people released ($offered still offered)" [ "$offered" = 0 ]
o=$(CALLER=4321 sip invite.sip slow-1)
check "the retransmission: the same fallback" [ "$(contacts_of "$o")" = "$FALLBACK" ]
o=$(sip invite.sip fast-1)
check "afterwards: staff picked as usual" has "$(first_contact "$o")" '@pbx\.downtown\.'
finish

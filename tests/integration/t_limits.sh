#!/usr/bin/env bash
# The per-site pick cap (--site-picks): a burst of calls to one site gets
# staff for the first N of each second and the fallback, nobody reserved,
# for the rest (--over-limit 503: a 503 with Retry-After instead). The
# per-source rate (--source-rate): a burst from one address past its
# bucket is dropped, and another address is not held up by it.
. "$(dirname "$0")/lib.sh"
FALLBACK=sip:frontdesk@pbx.downtown.hillcountry.example
stack_start_redis && stack_seed_demo && stack_start_proxy "" --site-picks 3 --offer-window 60000 || exit 1
metric() { stack_http "$FD_ADMIN_PORT" /metrics | awk -v m="frontdesk_$1_total" '$1 == m { print $2 }'; }

for i in $(seq 1 10); do
    sed -e "s/CALLID/cap-$i/g" -e "s/CALLER/$((200000 + i))/g" "$SIPDIR/invite.sip" >"$FD_RUN/cap-$i.sip"
done
out=$("$SIPSEND" --to "127.0.0.1:$FD_SIP_PORT" --expect 10 --timeout-ms 3000 "$FD_RUN"/cap-*.sip)
firsts=$(printf '%s\n' "$out" | awk '/^SIP\/2.0/ { first = 1; next } first && /^Contact: / { sub(/^Contact: </, ""); sub(/>.*/, ""); print; first = 0 }')
n_staff=$(printf '%s\n' "$firsts" | grep -vc "^$FALLBACK$")
n_fb=$(printf '%s\n' "$firsts" | grep -c "^$FALLBACK$")
check "10 answers: staff for the first 3 a second ($n_staff), the fallback for the rest ($n_fb)" \
    eval '[ $((n_staff + n_fb)) = 10 ] && [ "$n_staff" -ge 3 ] && [ "$n_staff" -le 6 ]'
check "counted: site_capped $(metric site_capped) = $n_fb" [ "$(metric site_capped)" = "$n_fb" ]
check "logged" log_has "$FD_PROXY_LOG" 'site over its pick cap.* site=downtown picks_per_s=3 action=fallback'
capped_ids=0
for i in $(seq 1 10); do
    capped_ids=$((capped_ids + $(stack_redis EXISTS "fd:{downtown}:call:$(call_hash "cap-$i@pbx.example")")))
done
check "only the picked calls left a decision in Redis ($capped_ids)" [ "$capped_ids" = "$n_staff" ]

stack_stop
stack_start_redis && stack_seed_demo && stack_start_proxy "" --site-picks 1 --over-limit 503 || exit 1
out=$("$SIPSEND" --to "127.0.0.1:$FD_SIP_PORT" --expect 3 --timeout-ms 3000 "$FD_RUN"/cap-1.sip "$FD_RUN"/cap-2.sip "$FD_RUN"/cap-3.sip)
check "--over-limit 503: a 503 with Retry-After past the cap" \
    eval 'has "$out" "^SIP/2.0 503 " && has "$out" "^Retry-After: 5"'

stack_stop
stack_start_redis && stack_seed_demo && stack_start_proxy "" --source-rate 5 --site-picks 0 || exit 1
for i in $(seq 1 20); do
    sed -e "s/CALLID/src-$i/g" -e "s/CALLER/$((300000 + i))/g" "$SIPDIR/invite.sip" >"$FD_RUN/src-$i.sip"
done
out=$("$SIPSEND" --to "127.0.0.1:$FD_SIP_PORT" --expect 20 --timeout-ms 1500 "$FD_RUN"/src-*.sip)
n=$(printf '%s\n' "$out" | grep -c '^SIP/2.0 302')
check "--source-rate 5: a burst of 20 from one address, 5 to 7 answered ($n)" eval '[ "$n" -ge 5 ] && [ "$n" -le 7 ]'
check "the rest counted: source_limited $(metric source_limited)" [ "$(metric source_limited)" = $((20 - n)) ]
out=$("$SIPSEND" --to "127.0.0.1:$FD_SIP_PORT" --from 127.0.0.2 --expect 3 --timeout-ms 2000 "$FD_RUN"/src-1.sip "$FD_RUN"/src-2.sip "$FD_RUN"/src-3.sip)
check "another trunk (127.0.0.2) is not held up: 3 of 3 answered" [ "$(printf '%s\n' "$out" | grep -c '^SIP/2.0 302')" = 3 ]
check "logged" log_has "$FD_PROXY_LOG" 'source over its request rate.* from=127\.0\.0\.1 requests_per_s=5 action=drop'
finish

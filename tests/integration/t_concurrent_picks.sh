#!/usr/bin/env bash
# Two proxies picking at the same time against one Redis never hand the
# same available person to two calls within one offer window: 600 billing
# calls at once through both, 2 people a call, and every free billing
# person along the chain (200 more at Downtown, plus the demo's 7 at
# Downtown, Northlake and the float pool) is offered exactly once; the
# other calls get the fallback alone.
. "$(dirname "$0")/lib.sh"
stack_start_redis && stack_seed_demo || exit 1
for i in $(seq -w 1 200); do
    echo "FCALL fd_staff_set 1 fd:{downtown} b$i sip:b$i@pbx.downtown.hillcountry.example billing:3 available"
done | stack_redis >/dev/null
stack_start_proxy "" --offer-window 60000 --site-picks 0 || exit 1 # every call to the site is picked: no cap
P1=$FD_SIP_PORT L1=$FD_PROXY_LOG
stack_start_proxy "" --offer-window 60000 --site-picks 0 || exit 1 # every call to the site is picked: no cap
P2=$FD_SIP_PORT L2=$FD_PROXY_LOG
B=$FD_ROOT/build/fd-bench
"$B" run --target "127.0.0.1:$P1" --count 300 --duration 20 --inflight 32 --to '15125550100*2' \
    > "$FD_RUN/b1.txt" 2>&1 &
b1=$!
"$B" run --target "127.0.0.1:$P2" --count 300 --duration 20 --inflight 32 --to '15125550100*2' \
    > "$FD_RUN/b2.txt" 2>&1 &
b2=$!
wait $b1; r1=$?; wait $b2; r2=$?
check "proxy 1: all 300 answered" eval '[ $r1 = 0 ] && has "$(cat $FD_RUN/b1.txt)" "answered +300$"'
check "proxy 2: all 300 answered" eval '[ $r2 = 0 ] && has "$(cat $FD_RUN/b2.txt)" "answered +300$"'
stack_stop
picks=$(cat "$L1" "$L2" | sed -n 's/.*outcome=staff staff=\([^ ]*\) .*/\1/p' | tr ',' '\n' | sed 's/^[a-z]*\///')
n=$(printf '%s\n' "$picks" | grep -c .)
dups=$(printf '%s\n' "$picks" | sort | uniq -d | tr '\n' ' ')
check "nobody offered twice across the two proxies (dups: ${dups:-none})" [ -z "$dups" ]
check "all 207 free billing people offered ($n)" [ "$n" = 207 ]
check "both proxies picked" eval 'has "$(cat $L1)" "outcome=staff" && has "$(cat $L2)" "outcome=staff"'
fb=$(cat "$L1" "$L2" | grep -c 'outcome=fallback-nobody-free')
check "the other calls: the fallback ($fb)" [ $((fb + $(cat "$L1" "$L2" | grep -c 'outcome=staff'))) = 600 ]
finish

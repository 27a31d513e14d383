#!/usr/bin/env bash
# The bench tool against the real proxy, briefly (correctness only, no speed
# assertion): every answer is a 302 whose first Contact is a demo staff
# member or a site fallback, none lost, from many sources and from one; then
# a small seeded network (fd-bench seed) with every 302 checked against its
# truth, with and without presence churn.
. "$(dirname "$0")/lib.sh"
stack_start_redis && stack_seed_demo && stack_start_proxy "" --offer-window 5 --source-rate 0 --site-picks 0 || exit 1 # a load generator: no limits
B=$FD_ROOT/build/fd-bench
for mode in "--sources 8" "--single-source"; do
    out=$("$B" run --target "127.0.0.1:$FD_SIP_PORT" --count 3000 --duration 20 $mode \
          --to '15125550100*1' --to '15125550100*2' --to 15125550200 --to 17205550300 \
          --expect-contacts "$FD_EXPECT_CONTACTS" 2>&1); rc=$?
    check "fd-bench $mode: exit 0" [ $rc = 0 ]
    check "fd-bench $mode: 3000 answered" has "$out" 'answered +3000$'
    check "fd-bench $mode: nothing wrong" has "$out" 'wrong +0$'
done
out=$("$B" run --target "127.0.0.1:$FD_SIP_PORT" --count 200 --duration 10 --to 15125559999 2>&1); rc=$?
check "fd-bench flags a wrong answer (404 for an unknown number): exit 1" eval '[ $rc = 1 ] && has "$out" "wrong +200$"'
out=$("$B" run --target 10.1.2.3:5060 --count 1 2>&1); rc=$?
check "fd-bench refuses a non-loopback target: exit 2" [ $rc = 2 ]

# A seeded network (20 sites x 5 staff) on a second proxy, every 302 checked
# against the seed's truth
out=$("$B" seed --redis 10.1.2.3:6379 --sites 1 2>&1); rc=$?
check "fd-bench seed refuses a non-loopback Redis: exit 2" [ $rc = 2 ]
NET=$FD_RUN/net
out=$("$B" seed --redis "127.0.0.1:$FD_REDIS_PORT" --sites 20 --staff-per-site 5 --seed 7 \
      --rules-out "$NET.yaml" --truth-out "$NET.truth" 2>&1); rc=$?
check "fd-bench seed: exit 0" [ $rc = 0 ]
check "fd-bench seed: 5 staff members at s0002 in Redis" \
    [ "$(stack_redis FCALL_RO fd_staff_list 1 'fd:{s0002}' | grep -c '^s0002-')" = 5 ]
out=$("$CTL" rules check "$NET.yaml" 2>&1); rc=$?
check "the seeded rules pass frontdeskctl rules check" [ $rc = 0 ]
# offers of 1 ms: a site is called every 80 calls (160 ms), so no call finds
# an earlier one's people still on offer, even after a burst (that would
# count as missed: the seed had staff free)
FD_CONFIG=$NET.yaml stack_start_proxy "" --offer-window 1 --source-rate 0 --site-picks 0 || exit 1
out=$("$B" run --target "127.0.0.1:$FD_SIP_PORT" --truth "$NET.truth" --rate 500 --count 300 \
      --duration 10 --proxy-pid "$FD_PROXY_PID" --redis-pid "$FD_REDIS_PID" \
      --hist-out "$NET.dat" 2>&1); rc=$?
check "fd-bench --truth: exit 0" [ $rc = 0 ]
check "fd-bench --truth: 300 answered, nothing wrong" eval 'has "$out" "answered +300$" && has "$out" "wrong +0$"'
check "fd-bench --truth: staff were offered calls" has "$out" 'right 302s +[1-9][0-9]* to staff'
check "fd-bench --truth: proxy and Redis CPU reported" eval 'has "$out" "proxy cpu +[0-9.]+ %" && has "$out" "redis cpu +[0-9.]+ %"'
check "fd-bench --hist-out: a histogram" [ "$(grep -c '^[0-9]' "$NET.dat")" -gt 0 ]
out=$("$B" run --target "127.0.0.1:$FD_SIP_PORT" --truth "$NET.truth" --rate 500 --count 300 \
      --duration 10 --churn 50 --redis "127.0.0.1:$FD_REDIS_PORT" --json 2>&1); rc=$?
check "fd-bench --churn: exit 0, nothing wrong, presence changed" \
    eval '[ $rc = 0 ] && has "$out" "\"wrong\":0," && has "$out" "\"churn_sent\":[1-9]"'
# the checker is live: with the truth saying everyone is busy, every staff
# Contact is wrong
sed 's/ available / busy /' "$NET.truth" >"$NET-busy.truth"
out=$("$B" run --target "127.0.0.1:$FD_SIP_PORT" --truth "$NET-busy.truth" --rate 500 --count 100 \
      --duration 10 2>&1); rc=$?
check "fd-bench --truth flags staff seeded busy: exit 1" eval '[ $rc = 1 ] && has "$out" "wrong by reason: presence="'
finish

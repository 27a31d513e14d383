#!/usr/bin/env bash
# The bench tool against the real proxy, briefly (correctness only, no speed
# assertion): every answer is a 302 whose first Contact is a demo staff
# member or a site fallback, none lost, from many sources and from one.
. "$(dirname "$0")/lib.sh"
stack_start_redis && stack_seed_demo && stack_start_proxy "" --offer-window 5 || exit 1
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
finish

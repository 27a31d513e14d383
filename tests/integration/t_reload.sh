#!/usr/bin/env bash
# SIGHUP reloads the rules without a lost call: a changed file takes effect,
# a broken file is reported with its line and the rules in force stay, and
# calls keep flowing while the proxy reloads again and again.
. "$(dirname "$0")/lib.sh"
stack_start_redis && stack_seed_demo || exit 1
RULES=$FD_RUN/rules.yaml
cp "$FD_ROOT/rules/examples/demo.yaml" "$RULES"
FD_CONFIG=$RULES stack_start_proxy "" --offer-window 5 --source-rate 0 --site-picks 0 || exit 1 # load during reloads: no limits
FALLBACK=sip:frontdesk@pbx.downtown.hillcountry.example
hup() { proxy_reload; }

o=$(call '15125550100*2')
check "before: Downtown billing staff" has "$(first_contact "$o")" '@pbx\.downtown\.'

# close Downtown: its calls go straight to the front desk
sed '0,/^        fallback: sip:frontdesk@pbx.downtown.hillcountry.example$/s//        closed: true\n        fallback: sip:frontdesk@pbx.downtown.hillcountry.example/' \
    "$FD_ROOT/rules/examples/demo.yaml" > "$RULES.new" && mv "$RULES.new" "$RULES"
hup
o=$(call '15125550100*2')
check "after SIGHUP: Downtown closed, the front desk only" [ "$(contacts_of "$o")" = "$FALLBACK" ]
check "reload logged" has "$(cat "$FD_PROXY_LOG")" 'rules reloaded.*why=SIGHUP'

echo "groups: [" >> "$RULES"
hup
o=$(call '15125550100*2')
check "a broken file: the rules in force stay" [ "$(contacts_of "$o")" = "$FALLBACK" ]
check "a broken file: reported with its line" has "$(cat "$FD_PROXY_LOG")" 'rules not reloaded.*line=[1-9]'

cp "$FD_ROOT/rules/examples/demo.yaml" "$RULES"
"$FD_ROOT/build/fd-bench" run --target "127.0.0.1:$FD_SIP_PORT" --count 4000 --duration 20 \
      --rate 1000 --to '15125550100*1' --to 15125550200 > "$FD_RUN/bench.txt" 2>&1 &
bench=$!
for i in 1 2 3 4 5 6; do sleep 0.4; kill -HUP "$FD_PROXY_PID"; done
wait "$bench"; rc=$?
check "calls during six reloads: none lost, none wrong (exit $rc)" eval '[ $rc = 0 ] && has "$(cat $FD_RUN/bench.txt)" "answered +4000$"'
# a caller the bench never used (its callers are +1512555xxxx): Downtown is
# caller-aware, and one of them would be offered their last person first
o=$(CALLER=99999 call '15125550100*2')
check "restored: Downtown billing staff again" has "$(first_contact "$o")" '@pbx\.downtown\.'
check "still running" kill -0 "$FD_PROXY_PID"
finish

#!/usr/bin/env bash
# frontdeskctl for people and scripts: staff and presence through the
# functions, the live event stream, clear errors and exit codes; and what it
# changes is what the proxy then routes on.
. "$(dirname "$0")/lib.sh"
stack_start_redis && stack_seed_demo && stack_start_proxy "" --offer-window 200 || exit 1
C() { "$CTL" --redis "127.0.0.1:$FD_REDIS_PORT" "$@"; }

timeout 20 "$CTL" --redis "127.0.0.1:$FD_REDIS_PORT" watch > "$FD_RUN/events.txt" 2>&1 &
WATCH=$!; FD_PIDS="$FD_PIDS $WATCH"
# subscribed before any event is published (polled, up to 5 s)
for _ in $(seq 1 100); do
    [ "$(stack_redis PUBSUB NUMSUB fd:events | tail -n 1)" -ge 1 ] 2>/dev/null && break
    sleep 0.05
done

check "the functions say their contract version (4)" [ "$(stack_redis FCALL fd_version 0)" = 4 ]
out=$(C staff add westside nina.ortiz sip:nina.ortiz@pbx.westside.hillcountry.example billing:5,intake:2 available 2>&1); rc=$?
check "staff add: OK" eval '[ $rc = 0 ] && [ "$out" = OK ]'
out=$(C presence list westside)
check "presence list shows her, available" has "$out" '^nina\.ortiz +available +billing:5,intake:2 '
# most skilled billing at Westside (option 2): level 5 ties with xavier
for who in xavier.ortiz caleb.wright zoe.martin; do C presence set westside "$who" offline >/dev/null; done
o=$(call '17205550300*2')
check "the proxy offers her the next billing call" [ "$(first_contact "$o")" = sip:nina.ortiz@pbx.westside.hillcountry.example ]
sleep 0.3
out=$(C presence set westside nina.ortiz busy "on a call"); rc=$?
check "presence set busy: OK" eval '[ $rc = 0 ] && [ "$out" = OK ]'
o=$(call '17205550300*2')
check "busy: not offered" [ "$(first_contact "$o")" != sip:nina.ortiz@pbx.westside.hillcountry.example ]
out=$(C presence get westside nina.ortiz)
check "presence get shows state and reason" eval 'has "$out" "^busy$" && has "$out" "^on a call$"'
out=$(C call end westside nina.ortiz); rc=$?
check "call end: available again" eval '[ $rc = 0 ] && has "$(C presence get westside nina.ortiz)" "^available$"'
out=$(C skills set westside nina.ortiz intake:4); rc=$?
check "skills set: OK" [ $rc = 0 ]
sleep 0.3
o=$(call '17205550300*2')
check "no billing skill any more: not offered billing calls" [ "$(first_contact "$o")" != sip:nina.ortiz@pbx.westside.hillcountry.example ]
out=$(C staff remove westside nina.ortiz); rc=$?
check "staff remove: OK, gone from the list" eval '[ $rc = 0 ] && hasnt "$(C presence list westside)" nina.ortiz'

# max offers: a person who may take two ringing calls at once
out=$(C staff add westside omar.farouk sip:omar.farouk@pbx.westside.hillcountry.example billing:5 available 2); rc=$?
check "staff add with max offers 2: OK" eval '[ $rc = 0 ] && [ "$out" = OK ]'
sleep 0.3
o1=$(call '17205550300*2'); o2=$(call '17205550300*2'); o3=$(call '17205550300*2')
check "max offers 2: offered two calls at once, not a third" eval '[ "$(first_contact "$o1")" = sip:omar.farouk@pbx.westside.hillcountry.example ] && [ "$(first_contact "$o2")" = sip:omar.farouk@pbx.westside.hillcountry.example ] && [ "$(first_contact "$o3")" != sip:omar.farouk@pbx.westside.hillcountry.example ]'
check "presence list shows the open offers" has "$(C presence list westside)" '^omar\.farouk +available \(offered 2/2\)'
out=$(C staff add westside x.y sip:x@y billing available 11 2>&1); rc=$?
check "max offers out of range: a clear error" eval '[ $rc = 1 ] && has "$out" "max offers must be 1 to 10"'

out=$(C presence set westside nobody.here busy 2>&1); rc=$?
check "unknown staff: a clear error, exit 1" eval '[ $rc = 1 ] && has "$out" "no staff \"nobody.here\""'
out=$(C presence set westside uma.patel napping 2>&1); rc=$?
check "bad state: a clear error, exit 1" eval '[ $rc = 1 ] && has "$out" "bad state \"napping\""'
out=$(C staff add westside x.y not-a-uri billing 2>&1); rc=$?
check "bad contact: a clear error, exit 1" eval '[ $rc = 1 ] && has "$out" "contact must be a sip: or sips: URI"'
out=$("$CTL" --redis 127.0.0.1:1 presence list westside 2>&1); rc=$?
check "Redis unreachable: exit 2, says where" eval '[ $rc = 2 ] && has "$out" "cannot reach Redis at 127.0.0.1:1"'
out=$("$CTL" presence 2>&1); rc=$?
check "bad usage: exit 2 with usage" eval '[ $rc = 2 ] && has "$out" "^usage: frontdeskctl"'

sleep 0.3
kill "$WATCH" 2>/dev/null; wait "$WATCH" 2>/dev/null
ev=$(cat "$FD_RUN/events.txt")
check "watch printed the JSON events" eval 'has "$ev" "\"staff\":\"nina.ortiz\"" && has "$ev" "\"state\":\"busy\"" && has "$ev" "\"reason\":\"on a call\"" && has "$ev" "\"state\":\"removed\""'

# key new: a fresh caller key the daemon takes
k1=$("$CTL" key new) k2=$("$CTL" key new)
check "key new: 64 hex digits, a different key each time" \
    eval 'printf "%s" "$k1" | grep -qE "^[0-9a-f]{64}$" && [ "$k1" != "$k2" ]'
out=$(FRONTDESK_CALLER_KEY=$k1 "$FD_BIN" --config "$FD_ROOT/rules/examples/demo.yaml" --listen 127.0.0.1:0 \
    --admin off --redis "127.0.0.1:$FD_REDIS_PORT" --version 2>&1; FRONTDESK_CALLER_KEY=$k1 "$CTL" route explain \
    --config "$FD_ROOT/rules/examples/demo.yaml" --to 15125550100 2>&1); rc=$?
check "the daemon and route explain take it (caller-aware rules load)" eval '[ $rc = 0 ] && ! printf "%s" "$out" | grep -q "caller key"'
finish

#!/usr/bin/env bash
# frontdeskctl route explain tells the truth about what the proxy then does:
# for calls at several times, the first person explain says would be
# offered the call now is the first Contact of the proxy's 302, and the
# final destination it names is the last Contact. Plus frontdeskctl rules
# check's findings and exit codes.
. "$(dirname "$0")/lib.sh"
stack_start_redis && stack_seed_demo || exit 1
DEMO=$FD_ROOT/rules/examples/demo.yaml

# agree NAME NUMBER OPTION TIME: explain, then call, then compare
agree() {
    local name=$1 num=$2 opt=$3 at=$4 ex o first
    local caller=$((1000 + RANDOM % 9000))
    proxy_at "$at" >/dev/null || { bad "$name: proxy start"; return; }
    ex=$("$CTL" --redis "127.0.0.1:$FD_REDIS_PORT" route explain --config "$DEMO" --to "$num" \
         ${opt:+--option "$opt"} --from "+1512555$caller" --at "$at" 2>&1)
    o=$(CALLER=$caller call "$num${opt:+*$opt}")
    first=$(printf '%s\n' "$ex" | sed -n 's/^  1\. [^<]*<\([^>]*\)>.*/\1/p')
    # the last URI explain names is where the call ends up
    final=$(printf '%s\n' "$ex" | grep -oE 'sips?:[^ )<>]+' | tail -1)
    if [ -n "$first" ]; then
        check "$name: explain's first pick ($first) is the proxy's first Contact" [ "$first" = "$(first_contact "$o")" ]
    else
        check "$name: explain picks nobody, the proxy redirects to the final destination only" [ "$(contacts_of "$o" | wc -l)" = 1 ]
    fi
    check "$name: the final destination ($final) is the proxy's last Contact" [ "$final" = "$(contacts_of "$o" | tail -1)" ]
    LAST_EXPLAIN=$ex
}

agree "downtown billing, Tue 10:00 CST" 15125550100 2 2026-12-01T16:00:00Z
check "explain names the option and the chain" eval 'has "$LAST_EXPLAIN" "option 2 -> billing" && has "$LAST_EXPLAIN" "pool float"'
agree "northlake at lunch" 15125550200 "" 2026-12-01T18:30:00Z
check "explain says northlake is at lunch" has "$LAST_EXPLAIN" 'lunch'
agree "northlake after hours" 15125550200 "" 2026-12-02T01:00:00Z
agree "westside billing, most skilled, level 2+" 17205550300 2 2026-12-01T16:00:00Z
check "explain names the strategy" has "$LAST_EXPLAIN" 'most proficient|most skilled|most_skilled'
check "explain never prints the caller's number" hasnt "$LAST_EXPLAIN" '1512555[0-9]{4}'

# rules check
out=$("$CTL" rules check "$DEMO" 2>&1); rc=$?
check "rules check demo.yaml: no finding, exit 0 ($out)" [ $rc = 0 ]
out=$("$CTL" --redis "127.0.0.1:$FD_REDIS_PORT" rules check "$DEMO" 2>&1); rc=$?
check "rules check --redis: a skill nobody at a site has is a warning, exit 1" eval '[ $rc = 1 ] && has "$out" "warning: .*no staff at northlake has skill intake"'
sed 's/^          "3": intake$/          "3": intake\n          "4": scheduling\n          "5": billing\n          "6": intake\n          "7": scheduling/' "$DEMO" > "$FD_RUN/menu.yaml"
out=$("$CTL" rules check "$FD_RUN/menu.yaml" 2>&1); rc=$?
check "rules check: a menu of more than 5 options is a warning, exit 1" eval '[ $rc = 1 ] && has "$out" "menu\\.yaml:[0-9]+:[0-9]+: warning: .*"'
sed 's/^        fallback: sip:voicemail@pbx.northlake.hillcountry.example$/        fallback: voicemail/' "$DEMO" > "$FD_RUN/bad.yaml"
out=$("$CTL" rules check "$FD_RUN/bad.yaml" 2>&1); rc=$?
check "rules check: an error with its line, exit 2" eval '[ $rc = 2 ] && has "$out" "bad\\.yaml:[0-9]+:[0-9]+: error: .*fallback"'
finish

#!/usr/bin/env bash
# Trusted sources: with the demo's rules trusting only 127.0.0.1, a request
# from 127.0.0.2 (a stranger) is dropped unread: no answer, no pick in
# Redis, no decision recorded, counted and logged; the trunk routes as
# before. With "strangers: reject" the stranger gets a 403 naming nobody.
# `frontdeskctl rules check` warns about a file that trusts every address.
. "$(dirname "$0")/lib.sh"
FALLBACK=sip:frontdesk@pbx.downtown.hillcountry.example

export FD_CONFIG=$FD_RUN/trusted.yaml
sed 's|^trusted: .*|trusted: ["127.0.0.1"]|' "$FD_ROOT/rules/examples/demo.yaml" >"$FD_CONFIG"
grep -q '^trusted: \["127.0.0.1"\]$' "$FD_CONFIG" || { bad "the demo names its trusted sources"; finish; exit 1; }
stack_start_redis && stack_seed_demo && stack_start_proxy "" --offer-window 200 || exit 1

fcalls() { stack_redis INFO commandstats | sed -n 's/^cmdstat_fcall:calls=\([0-9]*\),.*/\1/p'; }
metric() { stack_http "$FD_ADMIN_PORT" /metrics | awk -v m="frontdesk_$1_total" '$1 == m { print $2 }'; }

o=$(sip invite.sip tr-trunk-1)
check "the trunk (127.0.0.1): staff picked" eval '[ "$(status_of "$o")" = 302 ] && [ "$(first_contact "$o")" != "$FALLBACK" ]'

before=$(fcalls)
o=$(sip invite.sip tr-stranger-1 --from 127.0.0.2 --expect 1 --timeout-ms 800); rc=$?
check "a stranger's INVITE (127.0.0.2): no answer at all" eval '[ $rc = 3 ] && [ -z "$o" ]'
o=$(printf 'OPTIONS sip:15125550100@127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.2:$LPORT;branch=z9hG4bK-tr-o;rport\nMax-Forwards: 70\nFrom: <sip:scan@127.0.0.2>;tag=s\nTo: <sip:15125550100@127.0.0.1>\nCall-ID: tr-options@x\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n' |
    "$SIPSEND" --to "127.0.0.1:$FD_SIP_PORT" --from 127.0.0.2 --timeout-ms 500 -); rc=$?
check "a stranger's OPTIONS: no answer either (nothing to find)" eval '[ $rc = 3 ] && [ -z "$o" ]'
check "Redis was not asked: no pick, no decision recorded" \
    eval '[ "$(fcalls)" = "$before" ] && [ "$(stack_redis EXISTS "fd:{downtown}:call:$(call_hash tr-stranger-1@pbx.example)")" = 0 ]'
check "counted: frontdesk_untrusted_source_total 2" [ "$(metric untrusted_source)" = 2 ]
check "logged with the source, not the caller" \
    log_has "$FD_PROXY_LOG" 'request from an untrusted source refused.* from=127\.0\.0\.2 reason=not-trusted action=drop'
check "the caller's number is not in the log" eval '! grep -q "1512555" "$FD_PROXY_LOG"'

# strangers: reject -> 403, still nobody reserved
sed -i 's|^trusted: .*|trusted: ["127.0.0.1"]\nstrangers: reject|' "$FD_CONFIG"
proxy_reload || bad "reload"
before=$(fcalls)
o=$(sip invite.sip tr-stranger-2 --from 127.0.0.2 --expect 1 --timeout-ms 2000)
check "strangers: reject: 403 ($(status_of "$o")), naming nobody" \
    eval '[ "$(status_of "$o")" = 403 ] && [ -z "$(contacts_of "$o")" ]'
check "still no pick" [ "$(fcalls)" = "$before" ]
o=$(sip invite.sip tr-trunk-2)
check "the trunk still routes" eval '[ "$(status_of "$o")" = 302 ] && [ "$(first_contact "$o")" != "$FALLBACK" ]'

# lint: a file that trusts every address
sed 's|^trusted: .*|trusted: ["0.0.0.0/0", "::1"]|' "$FD_ROOT/rules/examples/demo.yaml" >"$FD_RUN/open.yaml"
out=$(FRONTDESK_CALLER_KEY=$FD_DEMO_CALLER_KEY "$CTL" rules check "$FD_RUN/open.yaml" 2>&1); rc=$?
check "rules check: 0.0.0.0/0 is a warning (exit 1)" \
    eval '[ $rc = 1 ] && has "$out" "trusted: 0\.0\.0\.0/0 trusts every IPv4 address"'
out=$(FRONTDESK_CALLER_KEY=$FD_DEMO_CALLER_KEY "$CTL" rules check "$FD_ROOT/rules/examples/demo.yaml" 2>&1); rc=$?
check "rules check: the demo (trusting loopback) is clean" eval '[ $rc = 0 ]'
finish

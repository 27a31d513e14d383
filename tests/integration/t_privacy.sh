#!/usr/bin/env bash
# Privacy (HIPAA): no caller number and no Call-ID in clear anywhere the
# proxy writes: its log, the keys and values it leaves in Redis, /metrics.
# Calls from known numbers with Call-IDs that carry a number and a host
# (as many PBXs write them), in redirect mode and in forward mode, and an
# in-dialog request whose Request-URI is the caller's Contact (its number
# in the user part). Logs name calls by a keyed hash (frontdeskctl
# call-hash) and destinations with their user part starred.
. "$(dirname "$0")/lib.sh"
NUM1=15125559876 NUM2=15125557001
CID1="$NUM1-callid-1@10.9.8.7" CID2="$NUM2-fwd@10.9.8.8"
uas_start ana --ring-ms 50 || { bad "uas ana"; finish; exit 1; }
ANA=$UAS_PORT ANA_LOG=$UAS_LOG

# redirect mode: the demo group
stack_start_redis && stack_seed_demo && stack_start_proxy "" --source-rate 0 || exit 1
sed -e "s/CALLID@pbx.example/$CID1/g" -e "s/+1512555CALLER/+$NUM1/g" "$SIPDIR/invite.sip" >"$FD_RUN/r.sip"
o=$("$SIPSEND" --to "127.0.0.1:$FD_SIP_PORT" --timeout-ms 3000 "$FD_RUN/r.sip")
check "redirect: the call is routed (302)" [ "$(status_of "$o")" = 302 ]
h=$(call_hash "$CID1")
check "its log line names it by the keyed hash $h" log_has "$FD_PROXY_LOG" "msg=\"route\" call=\"$h\" caller=[0-9a-f]{16} "
check "its decision in Redis is keyed by that hash" eval '[ "$(stack_redis --scan --pattern "fd:{*}:call:$h" | wc -l)" = 1 ]'
REDIRECT_LOG=$FD_PROXY_LOG REDIRECT_ADMIN=$FD_ADMIN_PORT
metrics1=$(stack_http "$FD_ADMIN_PORT" /metrics)

# forward mode with Record-Route: INVITE to ana, then a BYE from her side
# to the caller's Contact along our Route
export FD_CONFIG=$FD_RUN/forward.yaml
cat >"$FD_CONFIG" <<YAML
version: 1
mode: forward
trusted: ["127.0.0.0/8"]
groups:
  - name: Privacy
    sites:
      - id: fwd
        timezone: UTC
        default_skill: scheduling
        dids:
          - {number: "15125550100", to: "sip:ana@127.0.0.1:$ANA"}
        fallback: "sip:ana@127.0.0.1:$ANA"
YAML
stack_start_proxy "" --record-route --source-rate 0 || exit 1
P=$FD_SIP_PORT
printf 'INVITE sip:15125550100@127.0.0.1:%s SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:$LPORT;branch=z9hG4bK-priv-1;rport\nMax-Forwards: 70\nFrom: "Caller" <sip:+%s@pbx.example>;tag=ft-priv\nTo: <sip:15125550100@127.0.0.1:%s>\nCall-ID: %s\nCSeq: 1 INVITE\nContact: <sip:+%s@127.0.0.1:$LPORT>\nContent-Length: 0\n\n' \
    "$P" "$NUM2" "$P" "$CID2" "$NUM2" >"$FD_RUN/f.sip"
o=$("$SIPSEND" --to "127.0.0.1:$P" --expect 3 --timeout-ms 3000 "$FD_RUN/f.sip")
check "forward: the call reaches ana and her 200 comes back" has "$o" '^SIP/2.0 200 '
RR=$(awk 'BEGIN { RS = "----\n" } /^INVITE / { print; exit }' "$ANA_LOG.raw" | sed -n 's/^Record-Route: //p' | tr -d '\r')
bye=$(printf 'BYE sip:+%s@127.0.0.1:9 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:$LPORT;branch=z9hG4bK-priv-bye;rport\nMax-Forwards: 70\nRoute: %s\nFrom: <sip:15125550100@127.0.0.1>;tag=ana-1\nTo: "Caller" <sip:+%s@pbx.example>;tag=ft-priv\nCall-ID: %s\nCSeq: 1 BYE\nContent-Length: 0\n' \
    "$NUM2" "$RR" "$NUM2" "$CID2")
sip_raw "$bye" --to "127.0.0.1:$P" --timeout-ms 300 >/dev/null
check "the in-dialog BYE went on to the caller's Contact (nobody there: marked down)" \
    log_has "$FD_PROXY_LOG" 'msg="destination down" destination=127\.0\.0\.1:9 '
check "the forwarded INVITE's log line stars the destination's user part" \
    log_has "$FD_PROXY_LOG" "call=\"$(call_hash "$CID2")\" .*outcome=forward-redirect .*to=\"sip:\\*@127\\.0\\.0\\.1:$ANA\""
metrics2=$(stack_http "$FD_ADMIN_PORT" /metrics)

# everything the proxies wrote
stack_redis CONFIG SET rdbcompression no >/dev/null
stack_redis SAVE >/dev/null
dump=$(ls "$FD_RUN"/redis-*/dump.rdb 2>/dev/null | head -n 1)
check "Redis saved a dump to search ($dump)" [ -s "$dump" ]
for what in "$NUM1" "$NUM2" "${NUM1:1}" "${NUM2:1}" "callid-1@10.9.8.7" "fwd@10.9.8.8"; do
    found=""
    grep -qF -- "$what" "$REDIRECT_LOG" && found="$found redirect-log"
    grep -qF -- "$what" "$FD_PROXY_LOG" && found="$found forward-log"
    grep -qaF -- "$what" "$dump" && found="$found redis"
    stack_redis --scan | grep -qF -- "$what" && found="$found redis-keys"
    printf '%s\n%s\n' "$metrics1" "$metrics2" | grep -qF -- "$what" && found="$found metrics"
    check "\"$what\" is nowhere in clear${found:+ (found in:$found)}" [ -z "$found" ]
done
finish

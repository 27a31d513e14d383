#!/usr/bin/env bash
# Forward mode (RFC 3261 16.6, 16.11): a caller -> Frontdesk -> a UAS and
# back. The INVITE goes to the picked staff member's phone with our Via on
# top, Max-Forwards decremented and the Request-URI retargeted; 100/180/200
# come back with our Via removed; a retransmission goes to the same place
# with the same branch; a CANCEL and the ACK of a 486 follow their INVITE;
# in-dialog requests follow our Record-Route; a response that is not ours
# is dropped; a request that comes back to us is a loop (482); a dead
# phone (ICMP) and a silent one (health checks) are skipped for the next
# destination, and a destination that answers again is used again.
. "$(dirname "$0")/lib.sh"

uas_start ana --ring-ms 300 || { bad "uas ana"; finish; exit 1; }
ANA=$UAS_PORT ANA_LOG=$UAS_LOG
uas_start vm --invite 486 || { bad "uas vm"; finish; exit 1; }
VM=$UAS_PORT VM_LOG=$UAS_LOG
uas_start lee --ring-ms 3000 || { bad "uas lee"; finish; exit 1; }
LEE=$UAS_PORT LEE_LOG=$UAS_LOG
uas_start hc --silent || { bad "uas hc"; finish; exit 1; }
HC=$UAS_PORT HC_PID=$UAS_PID
DEAD=$(stack_free_port) # nobody listens there: ICMP port unreachable

export FD_CONFIG=$FD_RUN/forward.yaml
cat >"$FD_CONFIG" <<EOF
version: 1
mode: forward
groups:
  - name: Forward test
    sites:
      - id: fwd
        timezone: UTC
        dids:
          - "15125550100"
          - {number: "15125550111", to: "sip:lee@127.0.0.1:$LEE"}
          - {number: "15125550122", to: "sip:desk@127.0.0.1:$HC"}
          - {number: "15125550133", to: "sip:vm@127.0.0.1:$VM"}
          - {number: "15125550144", to: "sip:302@127.0.0.1:5060", mode: redirect}
          - {number: "15125550166", skill: billing}
        default_skill: scheduling
        max_contacts: 1
        fallback: sip:vm@127.0.0.1:$VM
EOF
stack_start_redis && stack_load_functions || { bad "redis"; finish; exit 1; }
stack_start_proxy "" --record-route --health-interval 200 --health-down 2 --health-up 1 || exit 1
P=$FD_SIP_PORT
wait_ready || { bad "proxy ready"; finish; exit 1; }
$CTL --redis "127.0.0.1:$FD_REDIS_PORT" staff add fwd ana "sip:ana@127.0.0.1:$ANA" scheduling:3 available >/dev/null
$CTL --redis "127.0.0.1:$FD_REDIS_PORT" staff add fwd leo "sip:leo@127.0.0.1:$LEE" billing:3 available >/dev/null

# inv CALLID NUMBER [BRANCH]: an INVITE to sip:NUMBER@127.0.0.1:$P
inv() {
    printf 'INVITE sip:%s@127.0.0.1:%s SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:$LPORT;branch=%s;rport\nMax-Forwards: 70\nFrom: "Caller" <sip:+15125557001@pbx.example>;tag=ft-%s\nTo: <sip:%s@127.0.0.1:%s>\nCall-ID: %s@pbx.example\nCSeq: 1 INVITE\nContact: <sip:caller@127.0.0.1:$LPORT>\nContent-Type: application/sdp\nContent-Length: auto\n\nv=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio 40000 RTP/AVP 0\n' \
        "$2" "$P" "${3:-z9hG4bK-$1}" "$1" "$2" "$P" "$1"
}
send() { "$SIPSEND" --to "127.0.0.1:$P" "$@"; }
raw_of() { awk -v cid="$1@pbx.example" -v m="$2" 'BEGIN { RS = "----\n" } index($0, "Call-ID: " cid) && index($0, m " ") == 1 { print; exit }' "$3.raw"; }
log_of() { grep -F "callid=$1@pbx.example" "$2"; }
metric() { stack_http "$FD_ADMIN_PORT" /metrics | awk -v k="$1" '$1 == k { print $2 }'; }

# 1. a call to the staff member's phone and back
o=$(inv f1 15125550100 | send --expect 3 --timeout-ms 2000 -)
check "INVITE forwarded: 100, 180, 200 relayed ($(statuses "$o"))" [ "$(status_set "$o")" = "100 180 200 " ]
check "the answers carry the caller's Via only" [ "$(printf '%s\n' "$o" | grep -c '^Via:')" = 3 ]
hasnt "$o" "127\.0\.0\.1:$P;branch=z9hG4bK-fd-" && ok "our Via removed from the answers" || bad "our Via removed from the answers"
fwd=$(raw_of f1 INVITE "$ANA_LOG")
check "at ana: Request-URI retargeted to her contact" has "$fwd" "^INVITE sip:ana@127\.0\.0\.1:$ANA SIP/2\.0"
check "at ana: our Via on top with a z9hG4bK-fd- branch and rport" has "$(printf '%s\n' "$fwd" | grep -m1 '^Via:')" "^Via: SIP/2\.0/UDP 127\.0\.0\.1:$P;branch=z9hG4bK-fd-[0-9a-f]{24};fds=fwd;rport"
check "at ana: the caller's Via below ours" has "$(printf '%s\n' "$fwd" | grep '^Via:' | sed -n 2p)" 'branch=z9hG4bK-f1;'
check "at ana: Max-Forwards 69" has "$fwd" '^Max-Forwards: 69$'
check "at ana: our Record-Route, signed" has "$fwd" "^Record-Route: <sip:127\.0\.0\.1:$P;lr;fdrr=[0-9a-f]{16}>$"
RR=$(printf '%s\n' "$fwd" | sed -n 's/^Record-Route: //p')
check "at ana: the SDP body intact" has "$fwd" '^m=audio 40000 RTP/AVP 0$'
branch1=$(printf '%s\n' "$fwd" | grep -m1 '^Via:' | sed 's/.*branch=\([^;]*\).*/\1/')

# 2. the retransmission: same destination, same branch
o=$(inv f1 15125550100 | send --expect 1 --timeout-ms 2000 -)
n=$(log_of f1 "$ANA_LOG" | grep -c '^INVITE')
check "retransmission forwarded to ana again ($n INVITEs there)" [ "$n" = 2 ]
check "retransmission: the same branch" [ "$(log_of f1 "$ANA_LOG" | grep '^INVITE' | sed 's/.* branch=\([^ ]*\) .*/\1/' | sort -u)" = "$branch1" ]
# (ana is still offered f1 for the offer window: f2 goes to the fallback)
o=$(inv f2 15125550100 | send --expect 3 --timeout-ms 2000 -)
b2=$(cat "$ANA_LOG" "$VM_LOG" | grep -F callid=f2@ | grep -m1 '^INVITE' | sed 's/.* branch=\([^ ]*\) .*/\1/')
check "another call: another branch" eval '[ -n "$b2" ] && [ "$b2" != "$branch1" ]'
check "ana is still offered f1: f2 to the fallback" has "$(log_of f2 "$VM_LOG")" "^INVITE .*ruri=sip:vm@"

# 3. CANCEL goes where its INVITE went (lee rings 3 s)
port=$(stack_free_port)
o=$(inv f3 15125550111 | send --from-port "$port" --expect 1 --timeout-ms 500 -)
check "INVITE to lee: 100 relayed" [ "$(status_of "$o")" = 100 ]
cancel=$(printf 'CANCEL sip:15125550111@127.0.0.1:%s SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:$LPORT;branch=z9hG4bK-f3;rport\nMax-Forwards: 70\nFrom: "Caller" <sip:+15125557001@pbx.example>;tag=ft-f3\nTo: <sip:15125550111@127.0.0.1:%s>\nCall-ID: f3@pbx.example\nCSeq: 1 CANCEL\nContent-Length: 0\n' "$P" "$P")
o=$(printf '%s\n\n' "$cancel" | send --from-port "$port" --expect 2 --timeout-ms 2000 -)
check "CANCEL: 200 and the INVITE's 487 relayed ($(statuses "$o"))" [ "$(status_set "$o")" = "200 487 " ]
c=$(log_of f3 "$LEE_LOG" | grep '^CANCEL')
check "CANCEL reached lee with the INVITE's Request-URI" has "$c" "ruri=sip:lee@127\.0\.0\.1:$LEE "
check "CANCEL reached lee with the INVITE's branch" [ "$(printf '%s\n' "$c" | sed 's/.* branch=\([^ ]*\) .*/\1/')" = "$(log_of f3 "$LEE_LOG" | grep -m1 '^INVITE' | sed 's/.* branch=\([^ ]*\) .*/\1/')" ]

# 3b. a CANCEL of a picked call goes where its INVITE went without asking
# Redis (fwdmemo): even while Redis answers nobody, it reaches the phone
# that rings (through Redis it would time out and go to the fallback)
port=$(stack_free_port)
o=$(inv f3b 15125550166 | send --from-port "$port" --expect 1 --timeout-ms 500 -)
check "INVITE picked for leo (billing): 100 relayed" [ "$(status_of "$o")" = 100 ]
memo0=$(metric frontdesk_followups_memo_total)
stack_redis CLIENT PAUSE 1500 ALL >/dev/null
o=$(printf '%s\n\n' "$(printf '%s\n' "$cancel" | sed 's/15125550111/15125550166/g; s/f3/f3b/g')" |
    send --from-port "$port" --expect 2 --timeout-ms 1000 -)
check "CANCEL with Redis paused: 200 and the 487 relayed from leo's phone ($(statuses "$o"))" [ "$(status_set "$o")" = "200 487 " ]
check "CANCEL at leo with the INVITE's Request-URI" has "$(log_of f3b "$LEE_LOG" | grep '^CANCEL')" "ruri=sip:leo@127\.0\.0\.1:$LEE "
check "the fallback saw nothing of it" [ -z "$(log_of f3b "$VM_LOG")" ]
check "counted as sent from the memo" [ "$(metric frontdesk_followups_memo_total)" = $((memo0 + 1)) ]
sleep 1.2 # Redis answers again

# 3c. the number's route changed by a reload while the phone rings: the
# CANCEL still follows its INVITE (where it went is what counts); leo is
# still offered f3b: his colleague gets this one
$CTL --redis "127.0.0.1:$FD_REDIS_PORT" staff add fwd max "sip:max@127.0.0.1:$LEE" billing:3 available >/dev/null
port=$(stack_free_port)
o=$(inv f3c 15125550166 | send --from-port "$port" --expect 1 --timeout-ms 500 -)
check "INVITE picked for max: 100 relayed" eval '[ "$(status_of "$o")" = 100 ] && has "$(log_of f3c "$LEE_LOG")" "^INVITE .*ruri=sip:max@"'
sed -i 's/{number: "15125550166", skill: billing}/{number: "15125550166", skill: billing, mode: redirect}/' "$FD_CONFIG"
proxy_reload
o=$(printf '%s\n\n' "$(printf '%s\n' "$cancel" | sed 's/15125550111/15125550166/g; s/f3/f3c/g')" |
    send --from-port "$port" --expect 2 --timeout-ms 1000 -)
check "CANCEL after a reload made the number redirect: 200 and 487 from max's phone ($(statuses "$o"))" eval '[ "$(status_set "$o")" = "200 487 " ] && has "$(log_of f3c "$LEE_LOG" | grep "^CANCEL")" "ruri=sip:max@"'
sed -i 's/skill: billing, mode: redirect}/skill: billing}/' "$FD_CONFIG"
proxy_reload

# 4. a 486 relayed, and its ACK goes to the same place
o=$(inv f4 15125550133 | send --expect 3 --timeout-ms 2000 -)
check "486 from the voicemail relayed ($(statuses "$o"))" has "$(status_set "$o")" '486 $'
totag=$(printf '%s\n' "$o" | grep -m1 '^To:.*tag=' | sed 's/.*tag=\([^;>]*\).*/\1/')
ack=$(printf 'ACK sip:15125550133@127.0.0.1:%s SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:$LPORT;branch=z9hG4bK-f4;rport\nMax-Forwards: 70\nFrom: "Caller" <sip:+15125557001@pbx.example>;tag=ft-f4\nTo: <sip:15125550133@127.0.0.1:%s>;tag=%s\nCall-ID: f4@pbx.example\nCSeq: 1 ACK\nContent-Length: 0\n' "$P" "$P" "$totag")
printf '%s\n\n' "$ack" | send --expect 0 --timeout-ms 300 - >/dev/null
sleep 0.2
check "ACK of the 486 forwarded to the voicemail" has "$(log_of f4 "$VM_LOG")" "^ACK .*ruri=sip:vm@127\.0\.0\.1:$VM "

# 5. in a dialog: a BYE with our Route goes to the Request-URI (ana)
bye=$(printf 'BYE sip:ana@127.0.0.1:%s SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:$LPORT;branch=z9hG4bK-f1-bye;rport\nMax-Forwards: 70\nRoute: %s\nFrom: "Caller" <sip:+15125557001@pbx.example>;tag=ft-f1\nTo: <sip:15125550100@127.0.0.1:%s>;tag=ana-1\nCall-ID: f1@pbx.example\nCSeq: 2 BYE\nContent-Length: 0\n' "$ANA" "$RR" "$P")
# the same, with a Route of ours that we did not sign: refused
forged=$(printf '%s\n' "$bye" | sed -e "s/^Route: .*/Route: <sip:127.0.0.1:$P;lr>/" -e 's/f1-bye/f1-bye2/')
o=$(printf '%s\n\n' "$forged" | send --expect 1 --timeout-ms 1000 -)
check "a Route of ours without our token: 403, not relayed" eval '[ "$(status_of "$o")" = 403 ] && ! grep -q "branch=z9hG4bK-f1-bye2" "$ANA_LOG.raw"'
o=$(printf '%s\n\n' "$bye" | send --expect 1 --timeout-ms 2000 -)
check "BYE via our Record-Route: ana's 200 relayed" [ "$(status_of "$o")" = 200 ]
b=$(raw_of f1 BYE "$ANA_LOG")
check "BYE at ana: our Route removed, our Via added" eval 'hasnt "$b" "^Route:" && has "$b" "^Via: SIP/2\.0/UDP 127\.0\.0\.1:$P;branch=z9hG4bK-fd-"'

# 5b. not an open relay: an initial request with our Route preloaded is
# routed by the rules (not to the Route's next hop); a request with a
# To-tag and none of our Route is refused
pre=$(printf 'INVITE sip:19005550100@127.0.0.1:%s SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:$LPORT;branch=z9hG4bK-relay1;rport\nMax-Forwards: 70\nRoute: <sip:127.0.0.1:%s;lr>\nFrom: <sip:+15125557001@pbx.example>;tag=ft-r1\nTo: <sip:19005550100@127.0.0.1>\nCall-ID: relay1@pbx.example\nCSeq: 1 INVITE\nContent-Length: 0\n' "$ANA" "$P")
o=$(printf '%s\n\n' "$pre" | send --expect 1 --timeout-ms 1000 -)
check "a preloaded Route to an unknown number: 404 from the rules, not relayed" eval '[ "$(status_of "$o")" = 404 ] && [ -z "$(log_of relay1 "$ANA_LOG")" ]'
fake=$(printf 'INVITE sip:19005550100@127.0.0.1:%s SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:$LPORT;branch=z9hG4bK-relay2;rport\nMax-Forwards: 70\nFrom: <sip:+15125557001@pbx.example>;tag=ft-r2\nTo: <sip:19005550100@127.0.0.1>;tag=fake\nCall-ID: relay2@pbx.example\nCSeq: 1 INVITE\nContent-Length: 0\n' "$ANA")
o=$(printf '%s\n\n' "$fake" | send --expect 1 --timeout-ms 1000 -)
check "a To-tag without our Route: 404, not relayed" eval '[ "$(status_of "$o")" = 404 ] && [ -z "$(log_of relay2 "$ANA_LOG")" ]'

# 5c. the ACK of a 486 follows its INVITE whatever its Request-URI host
o=$(inv f5c 15125550133 | send --expect 3 --timeout-ms 2000 -)
totag=$(printf '%s\n' "$o" | grep -m1 '^To:.*tag=' | sed 's/.*tag=\([^;>]*\).*/\1/')
printf 'ACK sip:15125550133@localhost SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:$LPORT;branch=z9hG4bK-f5c;rport\nMax-Forwards: 70\nFrom: "Caller" <sip:+15125557001@pbx.example>;tag=ft-f5c\nTo: <sip:15125550133@127.0.0.1:%s>;tag=%s\nCall-ID: f5c@pbx.example\nCSeq: 1 ACK\nContent-Length: 0\n\n' "$P" "$totag" |
    send --expect 0 --timeout-ms 300 - >/dev/null
sleep 0.2
check "an ACK addressed to us by name reaches the voicemail" has "$(log_of f5c "$VM_LOG")" "^ACK "

# 6. a response whose top Via is not ours: dropped and counted
before=$(metric frontdesk_responses_not_ours_total)
printf 'SIP/2.0 200 OK\nVia: SIP/2.0/UDP 10.1.2.3:5060;branch=z9hG4bK-nope\nFrom: <sip:a@x>;tag=1\nTo: <sip:b@x>;tag=2\nCall-ID: stray@x\nCSeq: 1 INVITE\nContent-Length: 0\n\n' |
    send --expect 0 --timeout-ms 200 - >/dev/null
sleep 0.2
check "a stray response is dropped and counted" [ "$(metric frontdesk_responses_not_ours_total)" = $((before + 1)) ]

# 7. a route back to ourselves: the request loops and gets 482
cat >>"$FD_CONFIG" <<EOF
      - id: loop
        timezone: UTC
        dids: [{number: "15125550155", to: "sip:15125550155@127.0.0.1:$P"}]
        default_skill: scheduling
        fallback: sip:vm@127.0.0.1:$VM
EOF
proxy_reload
o=$(inv f7 15125550155 | send --expect 1 --timeout-ms 2000 -)
check "a request routed back to us: 482 ($(statuses "$o"))" [ "$(status_of "$o")" = 482 ]

# 8. failover: bo's phone is dead (ICMP); the retransmission goes to the
# fallback, and so does the next call
$CTL --redis "127.0.0.1:$FD_REDIS_PORT" presence set fwd ana offline >/dev/null
$CTL --redis "127.0.0.1:$FD_REDIS_PORT" staff add fwd bo "sip:bo@127.0.0.1:$DEAD" scheduling:3 available >/dev/null
o=$(inv f8 15125550100 | send --expect 1 --timeout-ms 300 -)
check "INVITE to a dead phone: no answer yet" [ -z "$(statuses "$o")" ]
sleep 0.1
check "the ICMP error counted" [ "$(metric frontdesk_icmp_errors_total)" -ge 1 ]
check "the dead phone is down in /metrics" [ "$(metric "frontdesk_destination_up{destination=\"127.0.0.1:$DEAD\"}")" = 0 ]
o=$(inv f8 15125550100 | send --expect 3 --timeout-ms 2000 -)
check "the retransmission fails over to the fallback: 486 ($(statuses "$o"))" has "$(status_set "$o")" '486 $'
check "the fallback got it" has "$(log_of f8 "$VM_LOG")" "^INVITE .*ruri=sip:vm@127\.0\.0\.1:$VM "
check "failovers counted" [ "$(metric frontdesk_forward_failovers_total)" -ge 1 ]

# 9. health checks: a silent destination goes down, comes up when it answers
for i in $(seq 1 30); do
    [ "$(metric "frontdesk_destination_up{destination=\"127.0.0.1:$HC\"}")" = 0 ] && break
    sleep 0.1
done
check "a silent destination is down after missed pings" [ "$(metric "frontdesk_destination_up{destination=\"127.0.0.1:$HC\"}")" = 0 ]
check "the vm that answers pings is up" [ "$(metric "frontdesk_destination_up{destination=\"127.0.0.1:$VM\"}")" = 1 ]
o=$(inv f9 15125550122 | send --expect 1 --timeout-ms 2000 -)
check "a call whose every destination is down: 503" [ "$(status_of "$o")" = 503 ]
uas_stop "$HC_PID"
uas_start hc2 --listen "127.0.0.1:$HC" || bad "uas hc2"
for i in $(seq 1 30); do
    [ "$(metric "frontdesk_destination_up{destination=\"127.0.0.1:$HC\"}")" = 1 ] && break
    sleep 0.1
done
check "it answers again: up" [ "$(metric "frontdesk_destination_up{destination=\"127.0.0.1:$HC\"}")" = 1 ]
o=$(inv f10 15125550122 | send --expect 3 --timeout-ms 2000 -)
check "and calls reach it again ($(statuses "$o"))" has "$(status_set "$o")" '200 $'

# 10. a redirect route in a forward file still answers 302
o=$(inv f11 15125550144 | send --expect 1 --timeout-ms 2000 -)
check "mode: redirect on a DID: 302" eval '[ "$(status_of "$o")" = 302 ] && has "$o" "^Contact: <sip:302@127\.0\.0\.1:5060>"'

# 11. the call history keeps what the destinations answered (our Via names
# the site: ";fds=fwd"), and report calls says it
hist() { stack_redis XRANGE 'fd:{fwd}:calls' - + | grep -F "$(call_hash "$1@pbx.example")" | awk -F'\t' '$5 == "final" { print $9 }'; }
for i in $(seq 1 20); do [ -n "$(hist f4)" ] && break; sleep 0.1; done
check "history: the final response of the call vm answered: 486 ($(hist f4))" [ "$(hist f4)" = 486 ]
check "history: the call ana answered: 200 (each retransmission of it too)" [ "$(hist f1 | sort -u)" = 200 ]
check "our Via carried the site to the destination" has "$(raw_of f4 INVITE "$VM_LOG")" 'Via: SIP/2\.0/UDP 127\.0\.0\.1:[0-9]+;branch=[^;]+;fds=fwd;rport'
rep=$($CTL --redis "127.0.0.1:$FD_REDIS_PORT" report calls --config "$FD_CONFIG" --since 1h)
check "report calls: the final responses by site" has "$rep" '^  fwd +200 x[0-9]+, (.*, )?486 x[0-9]+'
finish

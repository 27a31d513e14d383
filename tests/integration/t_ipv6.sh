#!/usr/bin/env bash
# IPv6 end to end: a proxy listening on [::1] and 127.0.0.1 at once, callers
# and phones on [::1]. A redirect gets a 302 whose Via carries received=::1
# and rport, and its ACK is absorbed; a forwarded call reaches a phone on
# [::1] with our bracketed Via and Record-Route, and its answers, CANCEL,
# the ACK of a 486 and a BYE through our Record-Route go their way; a
# request routed back to us on [::1] is a loop (482); a
# destination of the other address family is skipped for the next one (503
# when none is left), in both directions, also when --advertise names an
# address of the other family; an ICMPv6 error and the health checks mark a
# [::1] destination down, shown in /metrics by its bracketed address.
. "$(dirname "$0")/lib.sh"

uas_start ana --listen "[::1]:0" --ring-ms 300 || { bad "uas ana"; finish; exit 1; }
ANA=$UAS_PORT ANA_LOG=$UAS_LOG
uas_start lee --listen "[::1]:0" --ring-ms 3000 || { bad "uas lee"; finish; exit 1; }
LEE=$UAS_PORT LEE_LOG=$UAS_LOG
uas_start vm --listen "[::1]:0" --invite 486 || { bad "uas vm"; finish; exit 1; }
VM=$UAS_PORT VM_LOG=$UAS_LOG
uas_start hc --listen "[::1]:0" --silent || { bad "uas hc"; finish; exit 1; }
HC=$UAS_PORT
uas_start bo || { bad "uas bo"; finish; exit 1; } # IPv4
BO=$UAS_PORT BO_LOG=$UAS_LOG
DEAD=$(stack_free_port) # nobody listens on [::1] there: ICMPv6 port unreachable
P=$(stack_free_port) || { bad "a free port"; finish; exit 1; } # the proxy's, both families

export FD_CONFIG=$FD_RUN/ipv6.yaml
cat >"$FD_CONFIG" <<EOF
version: 1
mode: forward
groups:
  - name: IPv6 test
    sites:
      - id: six
        timezone: UTC
        dids:
          - "15125550100"
          - {number: "15125550111", to: "sip:lee@[::1]:$LEE"}
          - {number: "15125550133", to: "sip:vm@[::1]:$VM"}
          - {number: "15125550144", to: "sip:desk@[::1]:5060", mode: redirect}
          - {number: "15125550155", to: "sip:bo@127.0.0.1:$BO"}
          - {number: "15125550188", to: "sip:desk@[::1]:$HC"}
          - {number: "15125550199", to: "sip:15125550199@[::1]:$P"}
        default_skill: scheduling
        max_contacts: 1
        fallback: sip:vm@[::1]:$VM
      - {id: mix, timezone: UTC, dids: ["15125550166"], default_skill: scheduling,
         max_contacts: 1, fallback: "sip:vm@[::1]:$VM"}
      - {id: gone, timezone: UTC, dids: ["15125550177"], default_skill: scheduling,
         max_contacts: 1, fallback: "sip:vm@[::1]:$VM"}
EOF
stack_start_redis && stack_load_functions || { bad "redis"; finish; exit 1; }
stack_start_proxy "$P" --listen "[::1]:$P" --record-route \
    --health-interval 200 --health-down 2 --health-up 1 || { bad "proxy on 127.0.0.1 and [::1]"; finish; exit 1; }
wait_ready || { bad "proxy ready"; finish; exit 1; }
staff() { $CTL --redis "127.0.0.1:$FD_REDIS_PORT" staff add "$1" "$2" "$3" scheduling:3 available >/dev/null; }
staff six ana "sip:ana@[::1]:$ANA" && staff mix bo "sip:bo@127.0.0.1:$BO" && staff gone dead "sip:dead@[::1]:$DEAD" ||
    bad "staff with IPv6 contacts added"

# req METHOD CALLID NUMBER [TO-TAG [HOST]]: a request to sip:NUMBER@HOST:$P
# from a caller at HOST ([::1] unless given); every request of a call has
# the branch z9hG4bK-CALLID (a CANCEL and a non-2xx ACK are its INVITE's);
# an INVITE carries an IPv6 SDP body
req() {
    local m=$1 cid=$2 num=$3 tag=${4:+;tag=$4} h=${5:-[::1]} ct="" body=""
    if [ "$m" = INVITE ]; then
        ct='Content-Type: application/sdp\n'
        body='v=0\no=- 1 1 IN IP6 ::1\ns=-\nc=IN IP6 ::1\nt=0 0\nm=audio 40000 RTP/AVP 0\n'
    fi
    printf '%s sip:%s@%s:%s SIP/2.0\nVia: SIP/2.0/UDP %s:$LPORT;branch=z9hG4bK-%s;rport\nMax-Forwards: 70\nFrom: "Caller" <sip:+15125557001@pbx.example>;tag=ft-%s\nTo: <sip:%s@%s:%s>%s\nCall-ID: %s@pbx.example\nCSeq: 1 %s\n%bContent-Length: auto\n\n%b' \
        "$m" "$num" "$h" "$P" "$h" "$cid" "$cid" "$num" "$h" "$P" "$tag" "$cid" "$m" "$ct" "$body"
}
send6() { "$SIPSEND" --to "[::1]:$P" "$@"; }
send4() { "$SIPSEND" --to "127.0.0.1:$P" "$@"; }
raw_of() { awk -v cid="$1@pbx.example" -v m="$2" 'BEGIN { RS = "----\n" } index($0, "Call-ID: " cid) && index($0, m " ") == 1 { print; exit }' "$3.raw"; }
log_of() { grep -F "callid=$1@pbx.example" "$2"; }
totag_of() { printf '%s\n' "$1" | grep -m1 '^To:.*tag=' | sed 's/.*tag=\([^;>]*\).*/\1/'; }
metric() { stack_http "$FD_ADMIN_PORT" /metrics | awk -v k="$1" '$1 == k { print $2 }'; }
up() { metric "frontdesk_destination_up{destination=\"$1\"}"; }
OURVIA="^Via: SIP/2\.0/UDP \[::1\]:$P;branch=z9hG4bK-fd-[0-9a-f]{24};rport$"

check "listening on [::1] and 127.0.0.1, same port" eval 'grep -q "msg=\"listening\" udp=\[::1\]:$P " "$FD_PROXY_LOG" && grep -q "msg=\"listening\" udp=127\.0\.0\.1:$P " "$FD_PROXY_LOG"'

# 1. redirect over IPv6: the 302 goes back to [::1] with received and rport
o=$(req INVITE r1 15125550144 | send6 --expect 1 --timeout-ms 2000 -)
check "redirect: 302 over IPv6 ($(statuses "$o"))" [ "$(statuses "$o")" = "302 " ]
check "302: Via with rport=<port> and received=::1" has "$o" '^Via: SIP/2\.0/UDP \[::1\]:[0-9]+;branch=z9hG4bK-r1;rport=[0-9]+;received=::1$'
check "302: the bracketed Contact of the rules" has "$o" '^Contact: <sip:desk@\[::1\]:5060>;q=1\.0$'
acks=$(metric frontdesk_acks_absorbed_total)
r=$(req ACK r1 15125550144 "$(totag_of "$o")" | send6 --timeout-ms 300 -; echo "rc=$?")
check "the ACK of the 302 gets no answer" has "$r" '^rc=3$'
check "and is absorbed as ours" [ "$(metric frontdesk_acks_absorbed_total)" = $((acks + 1)) ]

# 2. forward over IPv6: to ana's phone on [::1] and back
o=$(req INVITE f1 15125550100 | send6 --expect 3 --timeout-ms 2000 -)
check "forward: 100, 180, 200 relayed over IPv6 ($(statuses "$o"))" [ "$(status_set "$o")" = "100 180 200 " ]
check "the answers carry the caller's Via only, received=::1" eval '[ "$(printf "%s\n" "$o" | grep -c "^Via:")" = 3 ] && [ "$(printf "%s\n" "$o" | grep -c "^Via: SIP/2\.0/UDP \[::1\]:[0-9]*;branch=z9hG4bK-f1;rport=[0-9]*;received=::1$")" = 3 ]'
fwd=$(raw_of f1 INVITE "$ANA_LOG")
check "at ana: Request-URI her bracketed contact" has "$fwd" "^INVITE sip:ana@\[::1\]:$ANA SIP/2\.0$"
check "at ana: our Via on top, [::1]:$P, z9hG4bK-fd- branch, the site, rport" has "$(printf '%s\n' "$fwd" | grep -m1 '^Via:')" \
    "^Via: SIP/2\.0/UDP \[::1\]:$P;branch=z9hG4bK-fd-[0-9a-f]{24};fds=six;rport$"
check "at ana: the caller's Via below ours with received=::1" has "$(printf '%s\n' "$fwd" | grep '^Via:' | sed -n 2p)" '^Via: SIP/2\.0/UDP \[::1\]:[0-9]+;branch=z9hG4bK-f1;rport=[0-9]+;received=::1$'
check "at ana: Max-Forwards 69" has "$fwd" '^Max-Forwards: 69$'
check "at ana: our Record-Route, bracketed" has "$fwd" "^Record-Route: <sip:\[::1\]:$P;lr;fdrr=[0-9a-f]{16}>$"
check "at ana: the IPv6 SDP intact" has "$fwd" '^c=IN IP6 ::1$'
RR=$(printf '%s\n' "$fwd" | sed -n 's/^Record-Route: //p')
bye=$(req BYE f1 15125550100 ana-1 | sed -e "1s/.*/BYE sip:ana@[::1]:$ANA SIP\/2.0/" -e 's/branch=z9hG4bK-f1;/branch=z9hG4bK-f1-bye;/' \
      -e 's/^CSeq: 1 BYE/CSeq: 2 BYE/' -e "s/^Max-Forwards: 70/Max-Forwards: 70\nRoute: $RR/")
o=$(printf '%s\n\n' "$bye" | send6 --expect 1 --timeout-ms 2000 -)
check "BYE through our [::1] Record-Route: ana's 200 relayed" [ "$(status_of "$o")" = 200 ]
b=$(raw_of f1 BYE "$ANA_LOG")
check "BYE at ana: our Route removed, our Via added" eval 'hasnt "$b" "^Route:" && has "$(printf "%s\n" "$b" | grep -m1 "^Via:")" "$OURVIA"'

# 2b. a route back to ourselves on [::1]: the request loops
loops0=$(metric frontdesk_loops_total)
o=$(req INVITE l1 15125550199 | send6 --expect 1 --timeout-ms 2000 -)
check "a request routed back to [::1]:$P: 482 Loop Detected ($(statuses "$o"))" eval 'has "$o" "^SIP/2\.0 482 Loop Detected$" && [ "$(metric frontdesk_loops_total)" = $((loops0 + 1)) ]'

# 3. CANCEL of a ringing call (lee rings 3 s): 200 and the INVITE's 487
port=$(stack_free_port)
o=$(req INVITE f3 15125550111 | send6 --from-port "$port" --expect 1 --timeout-ms 1000 -)
check "INVITE to lee on [::1]: 100 relayed" [ "$(status_of "$o")" = 100 ]
o=$(req CANCEL f3 15125550111 | send6 --from-port "$port" --expect 2 --timeout-ms 2000 -)
check "CANCEL: 200 and the INVITE's 487 relayed ($(statuses "$o"))" [ "$(status_set "$o")" = "200 487 " ]
c=$(log_of f3 "$LEE_LOG" | grep '^CANCEL')
check "CANCEL reached lee from [::1]:$P with the INVITE's Request-URI and branch" eval 'has "$c" "ruri=sip:lee@\[::1\]:$LEE .*from=\[::1\]:$P$" && [ "$(printf "%s\n" "$c" | sed "s/.* branch=\([^ ]*\) .*/\1/")" = "$(log_of f3 "$LEE_LOG" | grep -m1 "^INVITE" | sed "s/.* branch=\([^ ]*\) .*/\1/")" ]'

# 4. a 486 relayed, and its ACK forwarded to the same place
o=$(req INVITE f4 15125550133 | send6 --expect 3 --timeout-ms 2000 -)
check "486 from the voicemail on [::1] relayed ($(statuses "$o"))" has "$(status_set "$o")" '486 $'
req ACK f4 15125550133 "$(totag_of "$o")" | send6 --expect 0 --timeout-ms 300 - >/dev/null
sleep 0.2
check "ACK of the 486 forwarded to the voicemail" has "$(log_of f4 "$VM_LOG")" "^ACK .*ruri=sip:vm@\[::1\]:$VM .*from=\[::1\]:$P$"

# 5. a destination of the other address family is skipped
o=$(req INVITE c1 15125550155 | send6 --expect 1 --timeout-ms 2000 -)
check "IPv6 call, IPv4 destination only: 503 with Retry-After ($(statuses "$o"))" eval '[ "$(statuses "$o")" = "503 " ] && has "$o" "^Retry-After: 30$"'
check "not sent to the IPv4 phone; logged as another family" eval '[ -z "$(log_of c1 "$BO_LOG")" ] && grep -q "destination skipped: another address family.*uri=\"sip:\*@127\.0\.0\.1:$BO\"" "$FD_PROXY_LOG"'
o=$(req INVITE c2 15125550155 "" 127.0.0.1 | send4 --expect 3 --timeout-ms 2000 -)
check "the same number from IPv4: forwarded to the IPv4 phone ($(statuses "$o"))" eval '[ "$(status_set "$o")" = "100 180 200 " ] && has "$(raw_of c2 INVITE "$BO_LOG" | grep -m1 "^Via:")" "^Via: SIP/2\.0/UDP 127\.0\.0\.1:$P;branch=z9hG4bK-fd-"'
o=$(req INVITE c3 15125550133 "" 127.0.0.1 | send4 --expect 1 --timeout-ms 2000 -)
check "IPv4 call, IPv6 destination only: 503 ($(statuses "$o"))" eval '[ "$(statuses "$o")" = "503 " ] && [ -z "$(log_of c3 "$VM_LOG")" ]'
o=$(req INVITE c4 15125550166 | send6 --expect 3 --timeout-ms 2000 -)
check "IPv6 call picked for an IPv4 phone: on to the [::1] fallback ($(statuses "$o"))" eval 'has "$(status_set "$o")" "486 $" && has "$(log_of c4 "$VM_LOG")" "^INVITE .*ruri=sip:vm@\[::1\]:$VM " && [ -z "$(log_of c4 "$BO_LOG")" ]'
# bo never rang for c4: he is not kept offered, so the next call has him
o=$(req INVITE c5 15125550166 "" 127.0.0.1 | send4 --expect 3 --timeout-ms 2000 -)
check "bo, skipped for c4, is free again: an IPv4 call rings him ($(statuses "$o"))" eval '[ "$(status_set "$o")" = "100 180 200 " ] && has "$(log_of c5 "$BO_LOG")" "^INVITE .*ruri=sip:bo@"'
check "c4 logged as the fallback after skipped staff" \
    grep -q "call=\"$(call_hash c4@pbx.example)\".*outcome=forward-fallback-staff-skipped" "$FD_PROXY_LOG"

# 6. ICMPv6: the picked phone on [::1] is dead; the retransmission goes to
# the fallback
icmp0=$(metric frontdesk_icmp_errors_total)
o=$(req INVITE d1 15125550177 | send6 --expect 1 --timeout-ms 300 -)
check "INVITE to a dead [::1] phone: no answer yet" [ -z "$(statuses "$o")" ]
sleep 0.1
check "the ICMPv6 error counted" [ "$(metric frontdesk_icmp_errors_total)" -gt "$icmp0" ]
check "the dead phone is down in /metrics as [::1]:$DEAD" [ "$(up "[::1]:$DEAD")" = 0 ]
o=$(req INVITE d1 15125550177 | send6 --expect 3 --timeout-ms 2000 -)
check "the retransmission fails over to the [::1] fallback: 486 ($(statuses "$o"))" eval 'has "$(status_set "$o")" "486 $" && has "$(log_of d1 "$VM_LOG")" "^INVITE .*ruri=sip:vm@\[::1\]:$VM "'

# 7. health checks of [::1] destinations, by their bracketed address
for _ in $(seq 1 30); do [ "$(up "[::1]:$HC")" = 0 ] && break; sleep 0.1; done
check "a silent [::1] destination: frontdesk_destination_up{destination=\"[::1]:$HC\"} 0" [ "$(up "[::1]:$HC")" = 0 ]
check "one that answers: frontdesk_destination_up{destination=\"[::1]:$VM\"} 1" [ "$(up "[::1]:$VM")" = 1 ]
check "and the IPv4 one beside them: 127.0.0.1:$BO 1" [ "$(up "127.0.0.1:$BO")" = 1 ]
ping6=$(awk 'BEGIN { RS = "----\n" } /^OPTIONS / { print; exit }' "$VM_LOG.raw" | grep -m1 '^Via:')
check "the pings to [::1] name our IPv6 address in their Via ($ping6)" has "$ping6" '^Via: SIP/2\.0/UDP \[::1\]:[0-9]+;branch=z9hG4bK-fdhc-'
ping4=$(awk 'BEGIN { RS = "----\n" } /^OPTIONS / { print; exit }' "$BO_LOG.raw" | grep -m1 '^Via:')
check "and those to 127.0.0.1 our IPv4 one ($ping4)" has "$ping4" '^Via: SIP/2\.0/UDP 127\.0\.0\.1:[0-9]+;branch=z9hG4bK-fdhc-'
o=$(req INVITE h1 15125550188 | send6 --expect 1 --timeout-ms 2000 -)
check "a call to the down [::1] destination: 503" [ "$(status_of "$o")" = 503 ]
check "the proxy is still running" kill -0 "$FD_PROXY_PID"

# 8. one --advertise for both sockets (what a proxy listening on 0.0.0.0
# and [::] needs): the IPv6 socket names an IPv4 address in its Via, but
# requests still leave by it, so what counts is the socket's family, not
# the advertised address's
P=$(stack_free_port) || bad "a free port"
proxy_at "$FRONTDESK_FAKE_TIME" --listen "[::1]:$P" --advertise 127.0.0.1 \
    --health-interval 200 --health-down 2 --health-up 1 || { bad "proxy with --advertise"; finish; exit 1; }
tx0=$(metric frontdesk_tx_errors_total)
o=$(req INVITE e1 15125550133 | send6 --expect 3 --timeout-ms 2000 -)
check "--advertise 127.0.0.1: an IPv6 call still reaches the [::1] voicemail ($(statuses "$o"))" eval 'has "$(status_set "$o")" "486 $" && has "$(raw_of e1 INVITE "$VM_LOG" | grep -m1 "^Via:")" "^Via: SIP/2\.0/UDP 127\.0\.0\.1:$P;branch=z9hG4bK-fd-"'
o=$(req INVITE e2 15125550155 | send6 --expect 1 --timeout-ms 2000 -)
check "--advertise 127.0.0.1: an IPv6 call to the IPv4 phone is still skipped: 503 ($(statuses "$o"))" [ "$(statuses "$o")" = "503 " ]
check "nothing sent to the other family's address from the IPv6 socket" [ "$(metric frontdesk_tx_errors_total)" = "$tx0" ]
finish

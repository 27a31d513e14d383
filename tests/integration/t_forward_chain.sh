#!/usr/bin/env bash
# Two Frontdesk instances in forward mode, chained: caller -> A -> B -> a
# UAS and back. No loop is seen (each instance's branch is its own), the
# UAS sees three Vias (caller, A, B, top first: B), and the caller gets its
# answers with its own Via only. When tshark is here, the whole exchange is
# captured on loopback and must decode cleanly in Wireshark's SIP dissector
# (no malformed packet).
. "$(dirname "$0")/lib.sh"

uas_start phone || { bad "uas"; finish; exit 1; }
PHONE=$UAS_PORT PHONE_LOG=$UAS_LOG
stack_start_redis && stack_load_functions || { bad "redis"; finish; exit 1; }
B_PORT=$(stack_free_port)

cat >"$FD_RUN/b.yaml" <<EOF
version: 1
mode: forward
groups:
  - name: B
    sites:
      - {id: b, timezone: UTC, dids: ["15125550100"], default_skill: scheduling,
         fallback: "sip:vm@127.0.0.1:$PHONE"}
EOF
cat >"$FD_RUN/a.yaml" <<EOF
version: 1
mode: forward
groups:
  - name: A
    sites:
      - {id: a, timezone: UTC, default_skill: scheduling, fallback: "sip:vm@127.0.0.1:$PHONE",
         dids: [{number: "15125550100", to: "sip:15125550100@127.0.0.1:$B_PORT"}]}
EOF

cap=""
if command -v tshark >/dev/null 2>&1; then
    cap=$FD_RUN/chain.pcapng
    tshark -q -i lo -f "udp and host 127.0.0.1" -w "$cap" >"$FD_RUN/tshark.out" 2>&1 &
    TSHARK_PID=$!
    FD_PIDS="$FD_PIDS $TSHARK_PID"
    for i in $(seq 1 50); do
        grep -q "Capturing on" "$FD_RUN/tshark.out" && break
        kill -0 "$TSHARK_PID" 2>/dev/null || break
        sleep 0.1
    done
    # capturing needs CAP_NET_RAW, which a container may not grant: then the
    # decode is not checked (said why), never failed
    if ! grep -q "Capturing on" "$FD_RUN/tshark.out" || ! kill -0 "$TSHARK_PID" 2>/dev/null; then
        echo "  skipped: tshark cannot capture on lo here (packet capture needs CAP_NET_RAW):" \
             "$(tail -n 1 "$FD_RUN/tshark.out")"
        kill "$TSHARK_PID" 2>/dev/null; wait "$TSHARK_PID" 2>/dev/null
        FD_PIDS=${FD_PIDS/ $TSHARK_PID/}
        cap=""
    fi
fi

FD_CONFIG=$FD_RUN/b.yaml stack_start_proxy "$B_PORT" || exit 1
B_ADMIN=$FD_ADMIN_PORT
FD_CONFIG=$FD_RUN/a.yaml stack_start_proxy "" --record-route || exit 1
A_PORT=$FD_SIP_PORT
wait_ready || { bad "proxy A ready"; finish; exit 1; }

inv='INVITE sip:15125550100@127.0.0.1:'$A_PORT' SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:$LPORT;branch=z9hG4bK-chain-1;rport
Max-Forwards: 70
From: "Caller" <sip:+15125557001@pbx.example>;tag=ft-chain
To: <sip:15125550100@127.0.0.1:'$A_PORT'>
Call-ID: chain-1@pbx.example
CSeq: 1 INVITE
Contact: <sip:caller@127.0.0.1:$LPORT>
Content-Type: application/sdp
Content-Length: auto

v=0
o=- 1 1 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio 40000 RTP/AVP 0'
o=$(printf '%s\n' "$inv" | "$SIPSEND" --to "127.0.0.1:$A_PORT" --expect 3 --timeout-ms 2000 -)
check "through A and B: 100, 180, 200 ($(statuses "$o"))" [ "$(status_set "$o")" = "100 180 200 " ]
check "the caller's answers carry its Via only" [ "$(printf '%s\n' "$o" | grep -c '^Via:')" = 3 ]
at=$(awk 'BEGIN { RS = "----\n" } /^INVITE / { print; exit }' "$PHONE_LOG.raw")
vias=$(printf '%s\n' "$at" | grep '^Via:')
check "at the phone: three Vias" [ "$(printf '%s\n' "$vias" | wc -l)" = 3 ]
check "at the phone: B's Via on top" has "$(printf '%s\n' "$vias" | sed -n 1p)" "127\.0\.0\.1:$B_PORT;branch=z9hG4bK-fd-"
check "at the phone: A's Via second" has "$(printf '%s\n' "$vias" | sed -n 2p)" "127\.0\.0\.1:$A_PORT;branch=z9hG4bK-fd-"
check "at the phone: the caller's Via last" has "$(printf '%s\n' "$vias" | sed -n 3p)" 'branch=z9hG4bK-chain-1;'
check "at the phone: Max-Forwards 68 after two hops" has "$at" '^Max-Forwards: 68$'
check "at the phone: Request-URI set by B" has "$at" "^INVITE sip:vm@127\.0\.0\.1:$PHONE SIP/2\.0"
check "A's Record-Route passed on by B" has "$at" "^Record-Route: <sip:127\.0\.0\.1:$A_PORT;lr;fdrr=[0-9a-f]{16}>$"
loops() { stack_http "$1" /metrics | awk '$1 == "frontdesk_loops_total" { print $2 }'; }
check "no loop seen at A nor B" eval '[ "$(loops "$FD_ADMIN_PORT")" = 0 ] && [ "$(loops "$B_ADMIN")" = 0 ]'
fwds() { stack_http "$1" /metrics | awk '$1 == "frontdesk_responses_relayed_total" { print $2 }'; }
check "A and B each relayed the three answers" eval '[ "$(fwds "$FD_ADMIN_PORT")" = 3 ] && [ "$(fwds "$B_ADMIN")" = 3 ]'

if [ -n "$cap" ]; then
    sleep 0.5
    kill -INT "$TSHARK_PID"; wait "$TSHARK_PID" 2>/dev/null
    FD_PIDS=${FD_PIDS/ $TSHARK_PID/}
    sipn=$(tshark -r "$cap" -Y "sip && udp.port == $A_PORT" 2>/dev/null | wc -l)
    bad_n=$(tshark -r "$cap" -Y "sip && _ws.malformed" 2>/dev/null | wc -l)
    check "tshark decodes the exchange as SIP ($sipn packets at A)" [ "$sipn" -ge 8 ]
    check "tshark: no malformed SIP packet ($bad_n)" [ "$bad_n" = 0 ]
    check "tshark: B's forwarded INVITE decodes with its Via stack" \
        [ "$(tshark -r "$cap" -Y "sip.Method == INVITE && udp.dstport == $PHONE" -T fields -e sip.Via 2>/dev/null | head -1 | tr ',' '\n' | wc -l)" = 3 ]
else
    echo "  (tshark not installed: capture not checked)"
fi
finish

#!/usr/bin/env bash
# SIP over TCP (RFC 3261 18): --listen tcp:ADDR:PORT beside UDP. An INVITE
# on a connection gets its 302 on that connection; many requests written at
# once are each answered, and spread over every worker; a request written
# a few bytes at a time is read whole; a CRLF CRLF keep-alive gets its CRLF.
# The limits: no or a bad Content-Length -> 400 and closed; a message past
# --tcp-max-message -> 513 and closed; a message slower than
# --tcp-message-timeout, a connection idle past --tcp-idle-timeout, past
# --tcp-max-conns, or from a stranger -> closed; each counted. udp+tcp:
# serves both on one port. Forward mode: an INVITE that came over TCP is
# forwarded over UDP and its answers come back on the connection.
. "$(dirname "$0")/lib.sh"
FALLBACK=sip:frontdesk@pbx.downtown.hillcountry.example
metric() { stack_http "$FD_ADMIN_PORT" /metrics | awk -v m="frontdesk_$1${2-_total}" '$1 == m { print $2 }'; }
# tcp_req NAME CALLID [sed...]: the INVITE template with a TCP Via, in $FD_RUN/NAME.sip
tcp_req() {
    local name=$1 cid=$2; shift 2
    sed -e "s/CALLID/$cid/g" -e "s/CALLER/$((100000 + RANDOM))/g" -e 's|SIP/2.0/UDP|SIP/2.0/TCP|' "$@" \
        "$SIPDIR/invite.sip" >"$FD_RUN/$name.sip"
}
tcp() { "$SIPSEND" --tcp --to "127.0.0.1:$FD_TCP_PORT" "$@"; }

stack_start_redis && stack_seed_demo &&
    stack_start_proxy "" --listen tcp:127.0.0.1:0 --tcp-max-message 4096 --tcp-message-timeout 400 \
        --source-rate 0 --site-picks 0 || exit 1
check "the ports file names the tcp listener" [ -n "$FD_TCP_PORT" ]

tcp_req one tcp-1
o=$(tcp --timeout-ms 3000 "$FD_RUN/one.sip")
check "an INVITE over TCP: 302 to staff on the same connection" \
    eval '[ "$(status_of "$o")" = 302 ] && [ -n "$(first_contact "$o")" ] && [ "$(first_contact "$o")" != "$FALLBACK" ]'
check "its Via is the TCP one it came with" has "$o" '^Via: SIP/2.0/TCP 127.0.0.1:[0-9]*;branch=z9hG4bK-tcp-1-1'
l=$(route_line tcp-1@pbx.example)
check "routed and logged as any call" eval 'printf "%s" "$l" | grep -q "outcome=staff"'

for i in $(seq 1 40); do tcp_req "burst-$i" "tcp-burst-$i"; done
o=$(tcp --expect 40 --timeout-ms 5000 "$FD_RUN"/burst-*.sip)
check "40 INVITEs written at once on one connection: 40 answers" [ "$(printf '%s\n' "$o" | grep -c '^SIP/2.0 302')" = 40 ]

tcp_req slow tcp-slow
o=$(tcp --chunk 7 --gap-ms 2 --timeout-ms 3000 "$FD_RUN/slow.sip")
check "an INVITE written 7 bytes at a time (within --tcp-message-timeout): read whole, 302" [ "$(status_of "$o")" = 302 ]

o=$(printf '\r\n\r\nOPTIONS sip:15125550100@127.0.0.1 SIP/2.0\nVia: SIP/2.0/TCP 127.0.0.1:$LPORT;branch=z9hG4bK-ka\nMax-Forwards: 70\nFrom: <sip:pbx@127.0.0.1>;tag=k\nTo: <sip:15125550100@127.0.0.1>\nCall-ID: tcp-ka@x\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n' |
    tcp --timeout-ms 2000 -)
check "a CRLF CRLF keep-alive gets its CRLF, and the OPTIONS after it a 200" \
    eval 'has "$o" "^pong$" && [ "$(statuses "$o")" = "200 " ]'

# a lone CRLF (RFC 3261 7.5: ignored) left waiting is no slow message
exec 3<>"/dev/tcp/127.0.0.1/$FD_TCP_PORT"
printf '\r\n' >&3
sleep 0.6
printf 'OPTIONS sip:15125550100@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK-lone\r\nMax-Forwards: 70\r\nFrom: <sip:pbx@127.0.0.1>;tag=l\r\nTo: <sip:15125550100@127.0.0.1>\r\nCall-ID: tcp-lone@x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n' >&3
o=$(timeout 3 head -c 12 <&3)
exec 3<&-
check "a lone CRLF, then a request 600 ms later (past --tcp-message-timeout): served ($o)" [ "$o" = "SIP/2.0 200 " ]

# a bare CR line ends the headers for the index, not for the framing: the
# two would see different messages (one smuggled in the other), so it is
# a framing error
printf 'OPTIONS sip:15125550100@127.0.0.1 SIP/2.0\nVia: SIP/2.0/TCP 127.0.0.1:$LPORT;branch=z9hG4bK-cr\nMax-Forwards: 70\nFrom: <sip:pbx@127.0.0.1>;tag=c\nTo: <sip:15125550100@127.0.0.1>\nCall-ID: tcp-cr@x\nCSeq: 1 OPTIONS\nContent-Length: 0\n\rBYE sip:victim@127.0.0.1 SIP/2.0\nVia: SIP/2.0/TCP 127.0.0.1:$LPORT;branch=z9hG4bK-cr2\nMax-Forwards: 70\nFrom: <sip:pbx@127.0.0.1>;tag=c\nTo: <sip:victim@127.0.0.1>;tag=v\nCall-ID: tcp-cr2@x\nCSeq: 2 BYE\nContent-Length: 0\n\n' >"$FD_RUN/cr.sip"
o=$(tcp --expect 2 --timeout-ms 2000 "$FD_RUN/cr.sip")
check "headers ended by a bare CR: 400 Bad Content-Length and closed, the BYE inside never served" \
    eval 'has "$o" "^SIP/2.0 400 Bad Content-Length" && has "$o" "^closed$" && ! has "$o" "CSeq: 2 BYE"'

tcp_req nocl tcp-nocl -e '/^Content-Length/d' -e '/^v=0/,$d'
o=$(tcp --timeout-ms 2000 "$FD_RUN/nocl.sip")
check "no Content-Length on a stream: 400 Missing Content-Length, then closed" \
    eval 'has "$o" "^SIP/2.0 400 Missing Content-Length" && has "$o" "^closed$"'
tcp_req badcl tcp-badcl -e 's/^Content-Length: auto/Content-Length: 12x/'
o=$(tcp --timeout-ms 2000 "$FD_RUN/badcl.sip")
check "a Content-Length that is no number: 400 Bad Content-Length, then closed" \
    eval 'has "$o" "^SIP/2.0 400 Bad Content-Length" && has "$o" "^closed$"'
check "counted: stream_bad_framing 3" [ "$(metric stream_bad_framing)" = 3 ]

tcp_req big tcp-big -e "s/^User-Agent: .*/User-Agent: $(head -c 5000 /dev/zero | tr '\0' x)/"
o=$(tcp --timeout-ms 2000 "$FD_RUN/big.sip")
check "a message past --tcp-max-message 4096: 513, then closed" \
    eval 'has "$o" "^SIP/2.0 513 " && has "$o" "^closed$" && [ "$(metric stream_too_big)" = 1 ]'

head -c 60 "$FD_RUN/one.sip" >"$FD_RUN/partial.sip"
t0=$(now_ms)
o=$(tcp --expect 1 --timeout-ms 3000 "$FD_RUN/partial.sip")
t=$(( $(now_ms) - t0 ))
check "headers that stop coming (slowloris): closed after --tcp-message-timeout (${t} ms)" \
    eval 'has "$o" "^closed$" && [ "$t" -lt 2500 ] && [ "$(metric stream_slow)" = 1 ]'
check "logged" log_has "$FD_PROXY_LOG" 'a message too slow to arrive.* peer=127\.0\.0\.1:[0-9]* what=message limit_ms=400'

kill "$FD_PROXY_PID"; wait "$FD_PROXY_PID"; FD_PIDS=${FD_PIDS/ $FD_PROXY_PID/}; FD_PROXY_PID=""
share=$(sed -n 's/.*stream_per_worker=\([0-9,]*\).*/\1/p' "$FD_PROXY_LOG")
check "the messages of one connection were routed by both workers ($share)" \
    eval '[ -n "$share" ] && ! printf "%s" "$share" | grep -qE "(^|,)0(,|$)"'

# hold --tcp-max-conns 4 connections open, then one more
stack_start_proxy "" --listen tcp:127.0.0.1:0 --tcp-idle-timeout 2 --tcp-max-conns 4 || exit 1
exec 5<>"/dev/tcp/127.0.0.1/$FD_TCP_PORT" 6<>"/dev/tcp/127.0.0.1/$FD_TCP_PORT" \
     7<>"/dev/tcp/127.0.0.1/$FD_TCP_PORT" 8<>"/dev/tcp/127.0.0.1/$FD_TCP_PORT"
for _ in $(seq 1 40); do [ "$(metric stream_connections "")" = 4 ] && break; sleep 0.05; done
check "4 connections open: the gauge says 4" [ "$(metric stream_connections "")" = 4 ]
o=$(tcp --timeout-ms 1000 "$FD_RUN/one.sip")
check "a fifth past --tcp-max-conns 4: closed at once, counted" \
    eval 'has "$o" "^closed$" && ! has "$o" "^SIP/2.0" && [ "$(metric stream_refused)" = 1 ]'
check "logged" log_has "$FD_PROXY_LOG" 'connection refused: too many open.* limit=4'
for _ in $(seq 1 60); do [ "$(metric stream_connections "")" = 0 ] && break; sleep 0.1; done
check "the silent ones closed after --tcp-idle-timeout 2 s, counted" \
    eval '[ "$(metric stream_connections "")" = 0 ] && [ "$(metric stream_idle)" -ge 4 ]'
exec 5<&- 6<&- 7<&- 8<&-
o=$(tcp --timeout-ms 3000 "$FD_RUN/one.sip")
check "and new connections are served again" [ "$(status_of "$o")" = 302 ]
kill "$FD_PROXY_PID"; wait "$FD_PROXY_PID"; FD_PIDS=${FD_PIDS/ $FD_PROXY_PID/}; FD_PROXY_PID=""

# strangers: their connections are closed at accept
export FD_CONFIG=$FD_RUN/trusted.yaml
sed 's|^trusted: .*|trusted: ["127.0.0.1"]|' "$FD_ROOT/rules/examples/demo.yaml" >"$FD_CONFIG"
stack_start_proxy "" --listen udp+tcp:127.0.0.1:0 || exit 1
check "udp+tcp: one port for both" eval '[ -n "$FD_TCP_PORT" ] && grep -q "^udp 127.0.0.1:$FD_TCP_PORT$" "$FD_RUN"/ports-*-"$FD_PROXIES_STARTED"'
o=$(tcp --from 127.0.0.2 --timeout-ms 1000 "$FD_RUN/one.sip")
check "a stranger (127.0.0.2) over TCP: closed at accept, nothing answered" \
    eval 'has "$o" "^closed$" && ! has "$o" "^SIP/2.0" && [ "$(metric untrusted_source)" = 1 ]'
tcp_req two tcp-2
o=$(tcp --timeout-ms 3000 "$FD_RUN/two.sip")
check "the trunk over TCP on the udp+tcp port: 302" [ "$(status_of "$o")" = 302 ]
o=$(sip invite.sip tcp-udp-2 --to "127.0.0.1:$FD_TCP_PORT")
check "and over UDP on the same port: 302" [ "$(status_of "$o")" = 302 ]
stack_stop

# forward mode: in over TCP, on over UDP, the answers back on the connection
unset FD_CONFIG
uas_start vm --invite 486 || { bad "uas vm"; finish; exit 1; }
export FD_CONFIG=$FD_RUN/forward.yaml
cat >"$FD_CONFIG" <<EOF
version: 1
mode: forward
trusted: ["127.0.0.0/8"]
groups:
  - name: Forward over TCP
    sites:
      - id: fwd
        timezone: UTC
        default_skill: scheduling
        dids:
          - {number: "15125550133", to: "sip:vm@127.0.0.1:$UAS_PORT"}
        fallback: "sip:vm@127.0.0.1:$UAS_PORT"
EOF
stack_start_redis && stack_load_functions && stack_start_proxy "" --listen tcp:127.0.0.1:0 || exit 1
tcp_req fwd tcp-fwd -e 's/15125550100/15125550133/g'
o=$(tcp --expect 3 --timeout-ms 3000 "$FD_RUN/fwd.sip")
check "forward mode: an INVITE over TCP forwarded over UDP, its 100, 180 and 486 back on the connection" \
    eval '[ "$(status_set "$o")" = "100 180 486 " ] && has "$o" "^Via: SIP/2.0/TCP 127.0.0.1:[0-9]*;branch=z9hG4bK-tcp-fwd-1" && ! has "$o" "fdc="'
check "the UAS saw it over UDP with our Via on top, the connection in it" \
    log_has "$UAS_LOG.raw" 'Via: SIP/2.0/UDP 127.0.0.1:[0-9]*;branch=z9hG4bK-fd-[0-9a-f]*;fdc=[0-9a-f]*;fds=[a-z]*;rport'
stack_stop

# forward mode out over TCP: to a destination whose URI says
# ";transport=tcp", and a request too large for UDP (RFC 3261 18.1.1). The
# destination is another Frontdesk (redirect mode, the demo's rules) on a
# udp+tcp port: its 302 comes back on our connection and goes on to the
# caller. A destination that refuses the connection is marked down: the
# retransmission goes to the next one.
unset FD_CONFIG
uas_start vm2 --invite 486 || { bad "uas vm2"; finish; exit 1; }
stack_start_redis && stack_seed_demo && stack_start_proxy "" --listen udp+tcp:127.0.0.1:0 || exit 1
B_PORT=$FD_TCP_PORT B_ADMIN=$FD_ADMIN_PORT
DEAD=$(stack_free_port)
export FD_CONFIG=$FD_RUN/forward-tcp.yaml
cat >"$FD_CONFIG" <<EOF
version: 1
mode: forward
trusted: ["127.0.0.0/8"]
groups:
  - name: Forward over TCP
    sites:
      - id: fwd
        timezone: UTC
        default_skill: scheduling
        dids:
          - {number: "15125550133", to: "sip:15125550100@127.0.0.1:$B_PORT;transport=tcp"}
          - {number: "15125550144", to: "sip:15125550100@127.0.0.1:$B_PORT"}
          - {number: "15125550155", skill: billing}
          - {number: "15125550166", to: "sip:15125550100@127.0.0.1:$B_PORT;transport=tls"}
        fallback: "sip:vm@127.0.0.1:$UAS_PORT"
EOF
stack_start_proxy "" --health-interval 60000 || exit 1
wait_ready || bad "proxy ready"
# a billing person whose phone takes TCP only, and nobody listens there
$CTL --redis "127.0.0.1:$FD_REDIS_PORT" staff add fwd dan "sip:dan@127.0.0.1:$DEAD;transport=tcp" billing:3 available >/dev/null
out_metric() { stack_http "$FD_ADMIN_PORT" /metrics | awk -v m="frontdesk_$1_total" '$1 == m { print $2 }'; }
b_metric() { stack_http "$B_ADMIN" /metrics | awk -v m="frontdesk_$1_total" '$1 == m { print $2 }'; }
# out_req NAME CALLID NUMBER: the INVITE template to NUMBER in $FD_RUN/NAME.sip
out_req() {
    sed -e "s/CALLID/$2/g" -e "s/CALLER/$((100000 + RANDOM))/g" -e "s/15125550100/$3/g" "$SIPDIR/invite.sip" >"$FD_RUN/$1.sip"
}
out_req out1 tcp-out-1 15125550133
o=$("$SIPSEND" --to "127.0.0.1:$FD_SIP_PORT" --timeout-ms 3000 "$FD_RUN/out1.sip")
check "a destination with ;transport=tcp: the INVITE goes over TCP, the 302 comes back to the caller" \
    eval '[ "$(status_of "$o")" = 302 ] && [ "$(out_metric forwarded_tcp)" = 1 ] && [ "$(b_metric stream_messages)" -ge 1 ]'
check "with the caller's Via only" eval '[ "$(printf "%s\n" "$o" | grep -c "^Via:")" = 1 ]'
out_req big-out tcp-out-2 15125550144
for i in $(seq 1 30); do printf 'a=x-pad:%s\n' "0123456789012345678901234567890123456789"; done >>"$FD_RUN/big-out.sip"
o=$("$SIPSEND" --to "127.0.0.1:$FD_SIP_PORT" --timeout-ms 3000 "$FD_RUN/big-out.sip")
check "a request of $(wc -c <"$FD_RUN/big-out.sip") bytes to a UDP destination goes over TCP (RFC 3261 18.1.1): 302" \
    eval '[ "$(status_of "$o")" = 302 ] && [ "$(out_metric forwarded_tcp)" = 2 ]'
out_req dead tcp-out-3 15125550155
"$SIPSEND" --to "127.0.0.1:$FD_SIP_PORT" --timeout-ms 500 "$FD_RUN/dead.sip" >/dev/null
for _ in $(seq 1 40); do [ "$(out_metric stream_connect_failed)" = 1 ] && break; sleep 0.05; done
check "a destination that refuses the connection: counted, logged, marked down" \
    eval '[ "$(out_metric stream_connect_failed)" = 1 ] && log_has "$FD_PROXY_LOG" "cannot connect to a destination over TCP: marked down.* to=127.0.0.1:$DEAD"'
o=$("$SIPSEND" --to "127.0.0.1:$FD_SIP_PORT" --timeout-ms 3000 --expect 3 "$FD_RUN/dead.sip")
check "its retransmission goes to the next destination (the fallback: 486)" has "$o" '^SIP/2.0 486 '
out_req tls-out tcp-out-4 15125550166
o=$("$SIPSEND" --to "127.0.0.1:$FD_SIP_PORT" --timeout-ms 3000 "$FD_RUN/tls-out.sip")
check "a destination over TLS (not spoken to destinations): skipped, said so; nothing else: 503" \
    eval 'has "$o" "^SIP/2.0 503 " && log_has "$FD_PROXY_LOG" "destination skipped: a transport we do not send over"'
finish

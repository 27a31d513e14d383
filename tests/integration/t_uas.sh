#!/usr/bin/env bash
# The test UAS (build/tests/uas) on its own, no proxy: what forward-mode
# scenarios rely on. INVITE 100/180/final with the Via stack copied, the
# --invite sequence, retransmissions, CANCEL 200 + 487 while ringing and 481
# otherwise, OPTIONS, BYE, ACK, --silent, the log, garbage, IPv6 loopback,
# bad flags, SIGTERM and --max-seconds.
. "$(dirname "$0")/lib.sh"
# req METHOD CALLID [CSEQ [BRANCH]]: a request with a Via stack of four
# values (ours with rport, a two-value line folded, a compact v:)
req() {
    printf '%s sip:alice@127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:$LPORT;branch=z9hG4bK-%s;rport\nVia: SIP/2.0/UDP 10.9.9.9:5060;branch=z9hG4bK-c1,\n SIP/2.0/UDP 10.8.8.8;branch=z9hG4bK-c2\nv: SIP/2.0/UDP pbx.example:5070;branch=z9hG4bK-c3\nMax-Forwards: 69\nFrom: "Caller" <sip:+15125557777@pbx.example>;tag=f-%s\nTo: <sip:alice@127.0.0.1>\nCall-ID: %s\nCSeq: %s %s\nRecord-Route: <sip:127.0.0.1:5999;lr>\nContent-Length: 0\n\n' \
        "$1" "${4:-$2}" "$2" "$2" "${3:-1}" "$1"
}
usend() { "$SIPSEND" --to "127.0.0.1:$UAS_PORT" "$@"; }
nth() { printf '%s\n' "$2" | awk -v n="$1" 'BEGIN { k = 1 } /^--$/ { k++; next } k == n'; }
lines_match() { # TEXT PATTERNS: as many lines, line N matches pattern N
    local a b
    [ "$(printf '%s\n' "$1" | wc -l)" = "$(printf '%s\n' "$2" | wc -l)" ] || return 1
    while IFS= read -r a <&3 && IFS= read -r b <&4; do
        printf '%s\n' "$a" | grep -qE -- "^$b$" || return 1
    done 3<<<"$1" 4<<<"$2"
}

uas_start alice --invite 200,486,302 || { bad "uas starts"; finish; exit 1; }
check "listening line, pidfile with its PID" [ "$(cat "$FD_RUN/uas-alice.pid")" = "$UAS_PID" ]

o=$(req INVITE call-1 | usend --expect 3 -)
check "INVITE: 100, 180, 200 ($(statuses "$o"))" [ "$(statuses "$o")" = "100 180 200 " ]
ok200=$(nth 3 "$o")
vias=$(printf '%s\n' "$ok200" | grep '^Via: ')
want="Via: SIP/2.0/UDP 127.0.0.1:[0-9]+;branch=z9hG4bK-call-1;rport=[0-9]+;received=127\.0\.0\.1
Via: SIP/2.0/UDP 10\.9\.9\.9:5060;branch=z9hG4bK-c1, SIP/2\.0/UDP 10\.8\.8\.8;branch=z9hG4bK-c2
Via: SIP/2.0/UDP pbx\.example:5070;branch=z9hG4bK-c3"
check "every Via in order, ours with rport and received filled" lines_match "$vias" "$want"
check "200: From, Call-ID, CSeq copied" eval 'has "$ok200" "^From: \"Caller\" <sip:\+15125557777@pbx.example>;tag=f-call-1$" && has "$ok200" "^Call-ID: call-1$" && has "$ok200" "^CSeq: 1 INVITE$"'
check "200: To with our tag" has "$ok200" '^To: <sip:alice@127\.0\.0\.1>;tag=alice-[0-9a-f]{8}$'
check "200: Contact, Record-Route, Content-Length 0" eval 'has "$ok200" "^Contact: <sip:alice@127\.0\.0\.1:$UAS_PORT>$" && has "$ok200" "^Record-Route: <sip:127.0.0.1:5999;lr>$" && has "$ok200" "^Content-Length: 0$"'
check "100: no To tag" has "$(nth 1 "$o")" '^To: <sip:alice@127\.0\.0\.1>$'
tag=$(printf '%s\n' "$ok200" | sed -n 's/^To: .*;tag=//p')

o=$(req INVITE call-1 | usend --expect 2 --timeout-ms 300 -)
check "retransmission: the same 200 once ($(statuses "$o"))" eval '[ "$(statuses "$o")" = "200 " ] && has "$o" "^To: .*;tag=$tag$"'
o=$(req INVITE call-2 | usend --expect 3 -)
check "second call: 486 ($(statuses "$o"))" eval '[ "$(statuses "$o")" = "100 180 486 " ] && hasnt "$(nth 3 "$o")" "^Contact:"'
o=$(req INVITE call-3 | usend --expect 3 -)
check "third call: 302 with a Contact" eval '[ "$(statuses "$o")" = "100 180 302 " ] && has "$(nth 3 "$o")" "^Contact: <sip:alice@127\.0\.0\.1:$UAS_PORT>$"'
o=$(req INVITE call-4 | usend --expect 3 -)
check "fourth call: the last status again" [ "$(statuses "$o")" = "100 180 302 " ]
o=$(req INVITE call-2 2 call-2b | usend --expect 3 -)
check "a new INVITE in a known call: that call's status" [ "$(statuses "$o")" = "100 180 486 " ]

o=$(req ACK call-2 | usend --timeout-ms 300 -; echo "rc=$?")
check "ACK: no answer" has "$o" '^rc=3$'
o=$(req CANCEL call-1 | usend -)
check "CANCEL after the final: 481" [ "$(statuses "$o")" = "481 " ]
o=$(req OPTIONS opt-1 | usend -)
check "OPTIONS: 200 with Allow, To tag" eval '[ "$(statuses "$o")" = "200 " ] && has "$o" "^Allow: " && has "$o" "^To: .*;tag=alice-"'
o=$(req BYE call-1 2 bye-1 | usend -)
check "BYE: 200, no Contact" eval '[ "$(statuses "$o")" = "200 " ] && hasnt "$o" "^Contact:"'
o=$(req INFO call-1 3 info-1 | usend -)
check "another method: 200" [ "$(statuses "$o")" = "200 " ]

for g in "complete garbage" "$(printf 'INVITE\nVia\x01\x02: x\n\n')" "$(printf 'SIP/2.0 200 OK\nVia: SIP/2.0/UDP 127.0.0.1:$LPORT;branch=z9hG4bK-r\nCall-ID: r-1\nCSeq: 1 INVITE\n\n')" \
         "$(req INVITE trunc-1 | head -c 90)" "$(req INVITE nocid-1 | grep -v '^Call-ID')"; do
    printf '%s\n\n' "$g" | usend --timeout-ms 100 - >/dev/null
done
head -c 3000 /dev/urandom | usend --timeout-ms 100 - >/dev/null
o=$(req OPTIONS alive-1 | usend -)
check "after garbage, a response and a broken request: still answering" [ "$(statuses "$o")" = "200 " ]

log=$(cat "$UAS_LOG")
check "log: the INVITE line" has "$log" '^INVITE callid=call-1 cseq=1 INVITE branch=z9hG4bK-call-1 vias=4 ruri=sip:alice@127\.0\.0\.1 mf=69 from=127\.0\.0\.1:[0-9]+$'
check "log: ACK, a response, garbage" eval 'has "$log" "^ACK callid=call-2 " && has "$log" "^RESPONSE callid=r-1 cseq=1 INVITE branch=z9hG4bK-r vias=1 ruri=- mf=- " && has "$log" "^INVALID len=[0-9]+ from="'
check "log.raw: each datagram with LF line ends, then ----" eval '[ "$(grep -c "^----$" "$UAS_LOG.raw")" = "$(wc -l < "$UAS_LOG")" ] && grep -q "^ SIP/2.0/UDP 10.8.8.8;branch=z9hG4bK-c2$" "$UAS_LOG.raw"'
t0=$(now_ms); uas_stop; rc=$?; t1=$(now_ms)
check "SIGTERM: exit 0 at once ($((t1 - t0)) ms)" eval '[ $rc = 0 ] && [ $((t1 - t0)) -lt 1000 ]'

# CANCEL while ringing
uas_start bob --ring-ms 2000 || { bad "uas starts"; finish; exit 1; }
t0=$(now_ms)
req INVITE ring-1 | usend --expect 3 --timeout-ms 2500 - >"$FD_RUN/ring-1.out" &
inv=$!
sleep 0.3
o=$(req INVITE ring-1 | usend -)
check "retransmission while ringing: 100" [ "$(statuses "$o")" = "100 " ]
o=$(req CANCEL ring-1 | usend -)
check "CANCEL while ringing: 200" eval '[ "$(statuses "$o")" = "200 " ] && has "$o" "^CSeq: 1 CANCEL$" && has "$o" "^To: .*;tag=bob-"'
wait "$inv"
t1=$(now_ms)
o=$(cat "$FD_RUN/ring-1.out")
check "the INVITE: 100 then 487, nothing at the ring time ($(statuses "$o"))" eval '[ "$(statuses "$o")" = "100 487 " ] && has "$(nth 2 "$o")" "^CSeq: 1 INVITE$"'
o=$(req CANCEL ring-1 | usend -)
check "CANCEL retransmitted: 200 again" [ "$(statuses "$o")" = "200 " ]
o=$(req INVITE ring-1 | usend -)
check "INVITE retransmitted after the CANCEL: 487" [ "$(statuses "$o")" = "487 " ]
o=$(req CANCEL nothing-1 | usend -)
check "CANCEL of no INVITE: 481" [ "$(statuses "$o")" = "481 " ]
t0=$(now_ms)
o=$(req INVITE ring-2 | usend --expect 3 --timeout-ms 3000 -)
t1=$(now_ms)
check "uncancelled: 180 and 200 after --ring-ms ($((t1 - t0)) ms)" eval '[ "$(statuses "$o")" = "100 180 200 " ] && [ $((t1 - t0)) -ge 1900 ]'
uas_stop

# --silent, --options-status, an explicit port
port=$(stack_free_port)
uas_start carol --silent --listen "127.0.0.1:$port" || { bad "uas starts"; finish; exit 1; }
check "--listen with a port: that port" [ "$UAS_PORT" = "$port" ]
o=$(req INVITE quiet-1 | usend --timeout-ms 300 -; echo "rc=$?")
check "--silent: no answer, logged" eval 'has "$o" "^rc=3$" && grep -q "^INVITE callid=quiet-1 " "$UAS_LOG"'
uas_stop
uas_start dave --options-status 503 || { bad "uas starts"; finish; exit 1; }
o=$(req OPTIONS opt-2 | usend -)
check "--options-status 503" [ "$(statuses "$o")" = "503 " ]
uas_stop

# IPv6: the same server on [::1], answering where the Via says
uas_start frank --listen "[::1]:0" || { bad "uas starts on [::1]"; finish; exit 1; }
req6() { req "$@" | sed '1,2s/127\.0\.0\.1/[::1]/'; }
o=$(req6 INVITE v6-1 | "$SIPSEND" --to "[::1]:$UAS_PORT" --expect 3 -)
check "[::1]: INVITE 100, 180, 200 ($(statuses "$o"))" [ "$(statuses "$o")" = "100 180 200 " ]
check "[::1]: our Via with rport and received=::1, unbracketed" has "$(nth 3 "$o" | grep -m1 '^Via: ')" '^Via: SIP/2\.0/UDP \[::1\]:[0-9]+;branch=z9hG4bK-v6-1;rport=[0-9]+;received=::1$'
check "[::1]: Contact bracketed" has "$(nth 3 "$o")" "^Contact: <sip:frank@\[::1\]:$UAS_PORT>$"
o=$(req6 OPTIONS v6-2 | sed '2s/;rport$//' | "$SIPSEND" --to "[::1]:$UAS_PORT" -)
check "[::1]: a Via without rport: answered at its sent-by, nothing added" has "$o" '^Via: SIP/2\.0/UDP \[::1\]:[0-9]+;branch=z9hG4bK-v6-2$'
check "[::1]: logged with a bracketed source" has "$(cat "$UAS_LOG")" '^INVITE callid=v6-1 .* ruri=sip:alice@\[::1\] mf=69 from=\[::1\]:[0-9]+$'
o=$(req6 OPTIONS v6-3 | "$SIPSEND" --to "[::2]:$UAS_PORT" - 2>&1; echo "rc=$?")
check "sipsend: an IPv6 address off the machine is refused" eval 'has "$o" "^rc=2$" && ! grep -q "callid=v6-3 " "$UAS_LOG"'
o=$(req6 OPTIONS v6-4 | "$SIPSEND" --to "::1:$UAS_PORT" - 2>&1; echo "rc=$?")
check "sipsend: IPv6 without brackets is refused" has "$o" '^rc=2$'
uas_stop

# bad usage, --max-seconds
for args in "--listen 10.1.2.3:5060" "--listen [::2]:5060" "--listen ::1:5060" "--listen 127.0.0.1" "--listen 127.0.0.1:0 --invite 99" \
            "--listen 127.0.0.1:0 --invite 200,,486" "--listen 127.0.0.1:0 --ring-ms x" "--listen 127.0.0.1:0 --bogus 1" \
            "--name alice" "--listen 127.0.0.1:0 --name a@b"; do
    # shellcheck disable=SC2086
    "$UAS" $args >/dev/null 2>&1 </dev/null &
    p=$!; FD_PIDS="$FD_PIDS $p"
    wait "$p"; rc=$?; FD_PIDS=${FD_PIDS/ $p/}
    check "bad usage ($args): exit 2" [ "$rc" = 2 ]
done
t0=$(now_ms)
uas_start erin --max-seconds 1 || { bad "uas starts"; finish; exit 1; }
wait "$UAS_PID"; rc=$?; t1=$(now_ms); FD_PIDS=${FD_PIDS/ $UAS_PID/}
check "--max-seconds 1: exits 0 by itself ($((t1 - t0)) ms)" eval '[ $rc = 0 ] && [ $((t1 - t0)) -lt 2500 ]'
finish

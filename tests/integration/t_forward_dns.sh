#!/usr/bin/env bash
# Forward mode, destinations given by name: resolved through the name
# server of --dns-server (build/tests/dnsd on loopback), without holding up
# other calls while a slow answer is awaited; cached for the record's TTL
# (a changed address is used once the TTL has passed, not before); a name
# that does not resolve is skipped for the next destination; a name with
# no port goes by its SRV record (RFC 3263), else its A record and 5060.
. "$(dirname "$0")/lib.sh"

uas_start one --listen 127.0.0.1:0 || { bad "uas one"; finish; exit 1; }
PORT=$UAS_PORT ONE_LOG=$UAS_LOG
uas_start two --listen "127.0.0.2:$PORT" || { bad "uas two on 127.0.0.2"; finish; exit 1; }
TWO_LOG=$UAS_LOG
uas_start vm || { bad "uas vm"; finish; exit 1; }
VM=$UAS_PORT VM_LOG=$UAS_LOG
# (5060 is what RFC 3263 gives a name with neither port nor SRV record, so
# this one phone needs that port; on 127.0.0.3, which nothing else here
# uses. Taken anyway: that check is skipped, said why.)
FIVE_LOG=""
if uas_start five --listen 127.0.0.3:5060; then FIVE_LOG=$UAS_LOG
else echo "  skipped below: 127.0.0.3:5060 is taken on this machine (the A-record-and-5060 check)"; fi
printf 'desk.clinic.test 127.0.0.1 2\nalso.clinic.test 127.0.0.1 2\nnosrv.clinic.test 127.0.0.3\n' >"$FD_RUN/records"
dnsd_start ns --records-file "$FD_RUN/records" --delay-ms 300 \
    --srv "_sip._udp.srv.clinic.test=10,100,$PORT,desk.clinic.test" \
    --srv "_sip._udp.srv.clinic.test=20,100,$VM,vm.clinic.test" || { bad "dnsd"; finish; exit 1; }

export FD_CONFIG=$FD_RUN/dns.yaml
cat >"$FD_CONFIG" <<EOF
version: 1
mode: forward
groups:
  - name: DNS test
    sites:
      - id: dns
        timezone: UTC
        dids:
          - {number: "15125550177", to: "sip:desk@also.clinic.test:$PORT"}
          - {number: "15125550100", to: "sip:desk@desk.clinic.test:$PORT"}
          - {number: "15125550111", to: "sip:vm@127.0.0.1:$VM"}
          - "15125550122"
          - {number: "15125550133", to: "sip:desk@srv.clinic.test"}
          - {number: "15125550144", to: "sip:desk@nosrv.clinic.test"}
          - {number: "15125550155", to: "sip:desk@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.clinic.test"}
        default_skill: scheduling
        fallback: sip:vm@127.0.0.1:$VM
EOF
stack_start_redis && stack_load_functions || { bad "redis"; finish; exit 1; }
# one worker: one cache, so what is cached is what the next call sees
stack_start_proxy "" --workers 1 --dns-server "127.0.0.1:$DNSD_PORT" --health-interval 200 --record-route || exit 1
P=$FD_SIP_PORT
wait_ready || { bad "proxy ready"; finish; exit 1; }
$CTL --redis "127.0.0.1:$FD_REDIS_PORT" staff add dns ghost "sip:ghost@nowhere.clinic.test:$PORT" scheduling:3 available >/dev/null

inv() { # CALLID NUMBER
    printf 'INVITE sip:%s@127.0.0.1:%s SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:$LPORT;branch=z9hG4bK-%s;rport\nMax-Forwards: 70\nFrom: <sip:+15125557001@pbx.example>;tag=ft-%s\nTo: <sip:%s@127.0.0.1:%s>\nCall-ID: %s@pbx.example\nCSeq: 1 INVITE\nContact: <sip:caller@127.0.0.1:$LPORT>\nContent-Length: 0\n\n' \
        "$2" "$P" "$1" "$1" "$2" "$P" "$1"
}
send() { "$SIPSEND" --to "127.0.0.1:$P" "$@"; }
got() { grep -cF "callid=$1@pbx.example" "$2"; }

# 1. a slow name server (300 ms) does not hold up a call to an address
inv d1 15125550100 >"$FD_RUN/d1.sip"
send --expect 3 --timeout-ms 3000 "$FD_RUN/d1.sip" >"$FD_RUN/d1.out" &
slow=$!
sleep 0.05
o=$(inv d2 15125550111 | send --expect 3 --timeout-ms 2000 -)
wait "$slow"
# the call to an address went on while the first one's name was still
# being resolved: it was forwarded first (the proxy's log, in order)
h1=$(call_hash d1@pbx.example) h2=$(call_hash d2@pbx.example)
order=$(grep -oE "msg=\"route\" call=\"($h1|$h2)\" [^ ]+ method=INVITE" "$FD_PROXY_LOG" |
    sed -e "s/.*$h1.*/d1/" -e "s/.*$h2.*/d2/" | awk '!seen[$0]++' | tr -d '\n')
check "while a name resolves, another call is relayed first ($order)" eval '[ "$(status_set "$o")" = "100 180 200 " ] && [ "$order" = d2d1 ]'

check "the call to a name is relayed once it resolves" [ "$(status_set "$(cat "$FD_RUN/d1.out")")" = "100 180 200 " ]
check "it went to the address of the name" [ "$(got d1 "$ONE_LOG")" -ge 1 ]
check "the name server was asked for an A record" has "$(cat "$DNSD_LOG")" 'name=desk\.clinic\.test type=1 .*answer=127\.0\.0\.1'

# 2. cached for its TTL (2 s): a changed address is not used before
printf 'desk.clinic.test 127.0.0.2 2\nalso.clinic.test 127.0.0.1 2\nnosrv.clinic.test 127.0.0.3\n' >"$FD_RUN/records"
n=$(grep -c 'records$' "$FD_RUN/dnsd-ns.err")
kill -HUP "$DNSD_PID"
for _ in $(seq 1 100); do [ "$(grep -c 'records$' "$FD_RUN/dnsd-ns.err")" -gt "$n" ] && break; sleep 0.05; done
queries=$(grep -c 'name=desk\.clinic\.test' "$DNSD_LOG")
o=$(inv d3 15125550100 | send --expect 3 --timeout-ms 2000 -)
check "within the TTL: the cached address, no new query" eval '[ "$(got d3 "$ONE_LOG")" -ge 1 ] && [ "$(grep -c "name=desk\.clinic\.test" "$DNSD_LOG")" = "$queries" ]'
sleep 2.2
o=$(inv d4 15125550100 | send --expect 3 --timeout-ms 3000 -)
check "after the TTL: asked again, the new address used" eval '[ "$(got d4 "$TWO_LOG")" -ge 1 ] && [ "$(got d4 "$ONE_LOG")" = 0 ]'

# 3. a staff contact whose name does not resolve: the next destination
o=$(inv d5 15125550122 | send --expect 3 --timeout-ms 3000 -)
check "an unresolvable contact is skipped: the fallback answers ($(statuses "$o"))" eval '[ "$(status_set "$o")" = "100 180 200 " ] && [ "$(got d5 "$VM_LOG")" -ge 1 ]'
check "NXDOMAIN was the answer" has "$(cat "$DNSD_LOG")" 'name=nowhere\.clinic\.test type=1 .*answer=NXDOMAIN'

# 5. no port in the URI: the SRV record's target and port (the lowest
# priority), then the target's address; no SRV record: A and 5060
o=$(inv d6 15125550133 | send --expect 3 --timeout-ms 3000 -)
check "SRV: the priority-10 target's port, at its current address ($(status_set "$o"))" eval '[ "$(status_set "$o")" = "100 180 200 " ] && [ "$(got d6 "$TWO_LOG")" -ge 1 ]'
check "SRV: _sip._udp asked for" has "$(cat "$DNSD_LOG")" 'name=_sip\._udp\.srv\.clinic\.test type=33 '
o=$(inv d7 15125550144 | send --expect 3 --timeout-ms 3000 -)
if [ -n "$FIVE_LOG" ]; then
    check "no SRV record: the A record and port 5060" eval '[ "$(status_set "$o")" = "100 180 200 " ] && [ "$(got d7 "$FIVE_LOG")" -ge 1 ]'
else
    echo "  skipped: no SRV record: the A record and port 5060 (127.0.0.3:5060 taken)"
fi
check "no SRV record: asked for SRV, then A" eval 'has "$(cat "$DNSD_LOG")" "name=_sip\._udp\.nosrv\.clinic\.test type=33 .*answer=NXDOMAIN" && has "$(cat "$DNSD_LOG")" "name=nosrv\.clinic\.test type=1 "'

# 6. in a dialog: a BYE through our Record-Route to a phone given by name
RR=$(awk 'BEGIN { RS = "----\n" } /^INVITE / && /Call-ID: d1@/ { print; exit }' "$ONE_LOG.raw" | sed -n 's/^Record-Route: //p')
printf 'BYE sip:desk@desk.clinic.test:%s SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:$LPORT;branch=z9hG4bK-d1-bye;rport\nMax-Forwards: 70\nRoute: %s\nFrom: <sip:+15125557001@pbx.example>;tag=ft-d1\nTo: <sip:15125550100@127.0.0.1:%s>;tag=one-1\nCall-ID: d1@pbx.example\nCSeq: 2 BYE\nContent-Length: 0\n\n' "$PORT" "$RR" "$P" >"$FD_RUN/bye.sip"
o=$(send --expect 1 --timeout-ms 3000 "$FD_RUN/bye.sip")
check "in a dialog, a next hop by name: resolved, relayed, answered ($(status_set "$o"))" eval '[ "$(status_of "$o")" = 200 ] && grep -q "^BYE .*callid=d1@" "$TWO_LOG"'

# 7. a name the resolver refuses at once (a label over 63 characters): the
# call is answered 503 and the proxy lives on
o=$(inv d8 15125550155 | send --expect 1 --timeout-ms 3000 -)
check "a name refused by the resolver: 503 ($(status_set "$o"))" [ "$(status_of "$o")" = 503 ]
check "the proxy is still running" kill -0 "$FD_PROXY_PID"
o=$(inv d9 15125550133 | send --expect 3 --timeout-ms 3000 -)
check "and still routing ($(status_set "$o"))" [ "$(status_set "$o")" = "100 180 200 " ]

# 4. health checks ping the name's current address, and an old address
# as long as another name still has it
up() { stack_http "$FD_ADMIN_PORT" /metrics | awk -v k="frontdesk_destination_up{destination=\"$1\"}" '$1 == k { print $2 }'; }
for i in $(seq 1 30); do [ "$(up "127.0.0.2:$PORT")" = 1 ] && break; sleep 0.1; done
check "the name's current address is health-checked and up" [ "$(up "127.0.0.2:$PORT")" = 1 ]
check "the pings reached it" has "$(cat "$TWO_LOG")" '^OPTIONS '
check "its old address is still pinged: another name has it" [ "$(up "127.0.0.1:$PORT")" = 1 ]
printf 'desk.clinic.test 127.0.0.2 2\nalso.clinic.test 127.0.0.2 2\nnosrv.clinic.test 127.0.0.3\n' >"$FD_RUN/records"
kill -HUP "$DNSD_PID"
for i in $(seq 1 40); do [ -z "$(up "127.0.0.1:$PORT")" ] && break; sleep 0.1; done
check "once no name has the old address, it is no longer listed" [ -z "$(up "127.0.0.1:$PORT")" ]
finish

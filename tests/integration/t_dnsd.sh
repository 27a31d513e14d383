#!/usr/bin/env bash
# The test name server (build/tests/dnsd) on its own, no proxy: what the
# tests of destinations given by name rely on. A answers with their TTL,
# letter case and trailing dot, NXDOMAIN, NODATA, EDNS0, the response bytes
# (AA, ID, the question as sent, the 0xC00C pointer), FORMERR and NOTIMP,
# SRV records (--srv and the records file, several per name, NODATA across
# types, the targets' A records as additional records, TC past 512 bytes),
# the records file re-read on SIGHUP, --delay-ms without blocking, garbage,
# the log, bad flags, SIGTERM and --max-seconds. Queries go through dnsd's
# own client mode (dig is not needed).
. "$(dirname "$0")/lib.sh"
# raw HEX...: send these bytes (printf escapes) as one datagram, print the
# response summary and "rc=N"
# shellcheck disable=SC2059
raw() { printf "$@" | "$DNSD" --send - --server "127.0.0.1:$DNSD_PORT" --timeout-ms "${RAW_WAIT:-1000}" 2>&1; echo "rc=$?"; }
HDR='\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00' # ID 0x1234, RD, one question
WWW='\x03wWw\x07ExAmple\x04tEst\x00'                    # letter case mixed like evdns does

recs=$FD_RUN/records
printf '# name address [ttl]\nfile.example.test 198.51.100.9 30\nover.example.test 198.51.100.1  # replaces the flag\n\n' >"$recs"
printf '# name SRV priority weight port target [ttl]\n_sip._tcp.clinic.test SRV 5 10 5080 pbx1.clinic.test 40\n' >>"$recs"
printf '_sips._tcp.clinic.test  srv 2 2 5062 new.clinic.test.  # replaces the --srv of the name\n' >>"$recs"
# SRV records: several for a name, a target with an A record and one
# without, the root as a target, a name with both A and SRV, one name with
# more records than fit in 512 bytes
many=()
for i in $(seq 1 30); do many+=(--srv "many.clinic.test=$i,0,5060,host-$i.a-rather-long-domain-name.clinic.test"); done
dnsd_start main --record www.example.test=192.0.2.7 --record Short.Example.TEST.=192.0.2.8,5 \
    --record over.example.test=192.0.2.99 \
    --srv _sip._udp.clinic.test=10,60,5070,pbx1.clinic.test --srv _SIP._udp.Clinic.test.=20,0,5060,pbx2.clinic.test,30 \
    --srv _sip._udp.clinic.test=10,40,5071,PBX1.clinic.test. --record pbx1.clinic.test=192.0.2.21,120 \
    --srv _sips._tcp.clinic.test=1,1,5061,old.clinic.test --srv _sip._udp.closed.test=0,0,0,. \
    --record both.example.test=192.0.2.30 --srv both.example.test=1,2,3,www.example.test \
    "${many[@]}" --records-file "$recs" || { bad "dnsd starts"; finish; exit 1; }
check "listening line, pidfile with its PID" [ "$(cat "$FD_RUN/dnsd-main.pid")" = "$DNSD_PID" ]

o=$(dnsq www.example.test)
check "A: the address, the default TTL 60 ($o)" [ "$o" = '192.0.2.7 ttl=60 rc=0' ]
o=$(dnsq short.example.test)
check "A: a record's own TTL ($o)" [ "$o" = '192.0.2.8 ttl=5 rc=0' ]
o=$(dnsq WWW.Example.Test.)
check "A: letter case and a trailing dot do not matter ($o)" [ "$o" = '192.0.2.7 ttl=60 rc=0' ]
o=$(dnsq file.example.test)
check "A from the records file with its TTL ($o)" [ "$o" = '198.51.100.9 ttl=30 rc=0' ]
o=$(dnsq over.example.test)
check "the records file replaces a --record of the same name ($o)" [ "$o" = '198.51.100.1 ttl=60 rc=0' ]
o=$(dnsq nope.example.test)
check "unknown name: NXDOMAIN, exit 3 ($o)" [ "$o" = 'NXDOMAIN rc=3' ]
o=$(dnsq www.example.test:AAAA)
check "AAAA of a known name: NODATA, exit 3 ($o)" [ "$o" = 'NODATA rc=3' ]
o=$(dnsq www.example.test:MX)
check "MX: NODATA ($o)" [ "$o" = 'NODATA rc=3' ]
o=$(dnsq www.example.test --edns)
check "a query with an EDNS0 OPT record: answered ($o)" [ "$o" = '192.0.2.7 ttl=60 rc=0' ]
o=$(dnsq www.example.test:ANY)
check "ANY: the A record ($o)" [ "$o" = '192.0.2.7 ttl=60 rc=0' ]

# SRV
nl='
'
o=$(dnsq _sip._udp.clinic.test:SRV)
check "SRV: three records in the order given, letter case and dots not minding, own and default TTL (${o//$nl/; })" \
    [ "$o" = "10 60 5070 pbx1.clinic.test ttl=60${nl}20 0 5060 pbx2.clinic.test ttl=30${nl}10 40 5071 pbx1.clinic.test ttl=60 rc=0" ]
o=$(dnsq _SIP._UDP.clinic.test.:srv)
check "SRV: the name in another letter case, a trailing dot (${o%%"$nl"*} ...)" has "$o" '^10 60 5070 pbx1\.clinic\.test ttl=60$'
o=$(dnsq _sip._udp.clinic.test:33)
check "SRV: QTYPE given as 33 (${o//$nl/; })" has "$o" '^20 0 5060 pbx2\.clinic\.test ttl=30$'
o=$(dnsq _sip._tcp.clinic.test:SRV)
check "SRV from the records file with its TTL ($o)" [ "$o" = '5 10 5080 pbx1.clinic.test ttl=40 rc=0' ]
o=$(dnsq _sips._tcp.clinic.test:SRV)
check "SRV: the records file replaces the --srv of the same name ($o)" [ "$o" = '2 2 5062 new.clinic.test ttl=60 rc=0' ]
o=$(dnsq _sip._udp.closed.test:SRV)
check "SRV: the root as the target ($o)" [ "$o" = '0 0 0 . ttl=60 rc=0' ]
o=$(dnsq _sip._udp.clinic.test)
check "A of a name with only SRV records: NODATA ($o)" [ "$o" = 'NODATA rc=3' ]
o=$(dnsq _sip._udp.clinic.test:AAAA)
check "AAAA of a name with only SRV records: NODATA ($o)" [ "$o" = 'NODATA rc=3' ]
o=$(dnsq www.example.test:SRV)
check "SRV of a name with only an A record: NODATA ($o)" [ "$o" = 'NODATA rc=3' ]
o=$(dnsq pbx1.clinic.test:SRV)
check "SRV of a target (an A record only): NODATA ($o)" [ "$o" = 'NODATA rc=3' ]
o=$(dnsq _sip._udp.nope.test:SRV)
check "SRV of an unknown name: NXDOMAIN ($o)" [ "$o" = 'NXDOMAIN rc=3' ]
o=$(dnsq both.example.test:SRV)
check "SRV of a name with A and SRV: the SRV record ($o)" [ "$o" = '1 2 3 www.example.test ttl=60 rc=0' ]
o=$(dnsq both.example.test)
check "A of a name with A and SRV: the A record ($o)" [ "$o" = '192.0.2.30 ttl=60 rc=0' ]
o=$(dnsq both.example.test:ANY)
check "ANY of a name with A and SRV: both (${o//$nl/; })" [ "$o" = "192.0.2.30 ttl=60${nl}1 2 3 www.example.test ttl=60 rc=0" ]
o=$(dnsq _sip._tcp.clinic.test:SRV --edns)
check "SRV with an EDNS0 OPT record: answered ($o)" [ "$o" = '5 10 5080 pbx1.clinic.test ttl=40 rc=0' ]
# the bytes: _sip._tcp.clinic.test SRV (5 10 5080 pbx1.clinic.test, TTL 40),
# then pbx1's A record (TTL 120) named by a pointer to the target (offset 57)
SIPTCP='\x04_Sip\x04_tcp\x06clinic\x04test\x00'
o=$(raw "$HDR$SIPTCP\\x00\\x21\\x00\\x01")
check "SRV response: NOERROR, AA, one answer, one additional" has "$o" '^reply len=91 id=4660 qr=1 opcode=0 aa=1 tc=0 rd=1 ra=0 rcode=0 qd=1 an=1 ns=0 ar=1 '
hex=$(printf '%s\n' "$o" | sed -n 's/.*hex=//p')
want=123485000001000100000001045f536970045f74637006636c696e6963047465737400 # the question as sent
want=${want}00210001c00c002100010000002800180005000a13d8047062783106636c696e69630474657374 # SRV 5 10 5080 pbx1...
want=${want}00c03900010001000000780004c0000215 # pbx1's A: 192.0.2.21, TTL 120
check "SRV response: 0xC00C SRV IN TTL 40, RDATA 5 10 5080 and the target uncompressed; the target's A record" \
    [ "$hex" = "$want" ]
o=$(dnsq many.clinic.test:SRV)
check "SRV: 30 records do not fit in 512 bytes: the first 7, then TC ($(printf '%s' "$o" | tail -n 2 | tr '\n' ' '))" \
    eval '[ "$(printf "%s\n" "$o" | grep -c "^[0-9]* 0 5060 host-[0-9]*\.a-rather-long-domain-name\.clinic\.test ttl=60$")" = 7 ] && has "$o" "^1 0 5060 host-1\." && has "$o" "^TC rc=0$"'
o=$(raw '\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x04many\x06clinic\x04test\x00\x00\x21\x00\x01')
check "SRV past 512 bytes: TC=1, 512 bytes at most" has "$o" '^reply len=(4[0-9][0-9]|50[0-9]|51[0-2]) id=4660 qr=1 opcode=0 aa=1 tc=1 rd=1 ra=0 rcode=0 qd=1 an=7 '

# the response bytes
o=$(raw "$HDR$WWW\\x00\\x01\\x00\\x01")
check "response: ID, QR, AA, RD, NOERROR, one answer" has "$o" 'id=4660 qr=1 opcode=0 aa=1 tc=0 rd=1 ra=0 rcode=0 qd=1 an=1 ns=0 ar=0 '
hex=$(printf '%s\n' "$o" | sed -n 's/.*hex=//p')
want=12348500000100010000000003775777074578416d706c6504744573740000010001c00c000100010000003c0004c0000207
check "response: the question as sent (letter case kept), one answer: 0xC00C A IN TTL 60 192.0.2.7" [ "$hex" = "$want" ]
check "response: 50 bytes" has "$o" '^reply len=50 '
o=$(raw '\xab\xcd\x00\x00\x00\x01\x00\x00\x00\x00\x00\x01\x04nope\x04test\x00\x00\x01\x00\x01\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00')
check "NXDOMAIN with an OPT record: AA, RD 0, no answer, no OPT back" has "$o" 'reply len=27 id=43981 qr=1 opcode=0 aa=1 tc=0 rd=0 ra=0 rcode=3 qd=1 an=0 ns=0 ar=0 '

# malformed queries: FORMERR or NOTIMP, a header only; responses ignored
o=$(raw '\x12\x34\x01\x00\x00\x02\x00\x00\x00\x00\x00\x00\x03www\x00\x00\x01\x00\x01\x03www\x00\x00\x01\x00\x01')
check "QDCOUNT 2: FORMERR, header only" has "$o" '^reply len=12 id=4660 qr=1 opcode=0 aa=0 tc=0 rd=1 ra=0 rcode=1 qd=0 an=0'
o=$(raw "$HDR"'\x03www\x07exa')
check "a label past the end: FORMERR" has "$o" 'rcode=1 qd=0'
o=$(raw "$HDR"'\x03www\x00\x00')
check "no room for QTYPE and QCLASS: FORMERR" has "$o" 'rcode=1 qd=0'
o=$(raw "$HDR"'\xc0\x0c\x00\x01\x00\x01')
check "a compression pointer in the question: FORMERR" has "$o" 'rcode=1 qd=0'
long=$(printf '\\x3f%.0s' 1 2 3 4 | sed 's/\\x3f/\\x3faaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/g')
o=$(raw "$HDR$long"'\x00\x00\x01\x00\x01')
check "a name longer than 255 bytes: FORMERR" has "$o" 'rcode=1 qd=0'
o=$(raw '\x12\x34\x11\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x00\x00\x01\x00\x01')
check "OPCODE 2: NOTIMP" has "$o" '^reply len=12 id=4660 qr=1 opcode=2 aa=0 tc=0 rd=1 ra=0 rcode=4 '
o=$(RAW_WAIT=300 raw '\x12\x34\x81\x80\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x00\x00\x01\x00\x01')
check "a response (QR=1): not answered" has "$o" '^rc=1$'
o=$(RAW_WAIT=300 raw '\x12\x34\x01')
check "shorter than a header: not answered" has "$o" '^rc=1$'

# garbage
printf 'complete garbage' >/dev/udp/127.0.0.1/"$DNSD_PORT"
printf '' >/dev/udp/127.0.0.1/"$DNSD_PORT"
for _ in 1 2 3 4 5 6 7 8; do head -c $((RANDOM % 600)) /dev/urandom >/dev/udp/127.0.0.1/"$DNSD_PORT"; done
head -c 60000 /dev/zero | tr '\0' '\077' >/dev/udp/127.0.0.1/"$DNSD_PORT"
o=$(dnsq www.example.test)
check "after garbage: alive and answering ($o)" eval 'kill -0 "$DNSD_PID" && [ "$o" = "192.0.2.7 ttl=60 rc=0" ]'

# the log
log=$(cat "$DNSD_LOG")
check "log: an A query" has "$log" '^query name=www\.example\.test type=1 from=127\.0\.0\.1:[0-9]+ answer=192\.0\.2\.7$'
check "log: the name in lower case, NXDOMAIN, NODATA" eval 'has "$log" "^query name=www\.example\.test type=28 from=127\.0\.0\.1:[0-9]+ answer=NODATA$" && has "$log" "^query name=nope\.example\.test type=1 from=.* answer=NXDOMAIN$"'
check "log: an SRV answer, its records joined by ;" has "$log" '^query name=_sip\._udp\.clinic\.test type=33 from=127\.0\.0\.1:[0-9]+ answer=SRV:10,60,5070,pbx1\.clinic\.test;SRV:20,0,5060,pbx2\.clinic\.test;SRV:10,40,5071,pbx1\.clinic\.test$'
check "log: SRV NODATA, the root as a target, ANY with A and SRV, TC" eval 'has "$log" "^query name=www\.example\.test type=33 from=.* answer=NODATA$" && has "$log" "^query name=_sip\._udp\.closed\.test type=33 from=.* answer=SRV:0,0,0,\.$" && has "$log" "^query name=both\.example\.test type=255 from=.* answer=192\.0\.2\.30;SRV:1,2,3,www\.example\.test$" && has "$log" "^query name=many\.clinic\.test type=33 from=.* answer=SRV:1,0,5060,[^ ]*;TC$"'
check "log: FORMERR, NOTIMP, ignored" eval 'has "$log" "^query name=- type=- from=127\.0\.0\.1:[0-9]+ answer=FORMERR$" && has "$log" "answer=NOTIMP$" && has "$log" "^ignored len=[0-9]+ from=127\.0\.0\.1:[0-9]+$"'

# the records file again on SIGHUP
printf 'www.example.test 203.0.113.5 2\nfile.example.test 198.51.100.10\n' >"$recs"
printf '_sip._tcp.clinic.test SRV 1 0 5090 pbx3.clinic.test 10\n_sip._tcp.clinic.test SRV 2 0 5091 pbx4.clinic.test\n' >>"$recs"
printf '_sip._udp.clinic.test SRV 7 7 5077 pbx7.clinic.test\n' >>"$recs"
kill -HUP "$DNSD_PID"
for _ in $(seq 1 20); do grep -q 'records$' "$FD_RUN/dnsd-main.err" && break; sleep 0.05; done
o=$(dnsq www.example.test)
check "SIGHUP: the new address and TTL of a name ($o)" [ "$o" = '203.0.113.5 ttl=2 rc=0' ]
o=$(dnsq file.example.test)
check "SIGHUP: a file entry changed ($o)" [ "$o" = '198.51.100.10 ttl=60 rc=0' ]
o=$(dnsq over.example.test)
check "SIGHUP: a name gone from the file falls back to its --record ($o)" [ "$o" = '192.0.2.99 ttl=60 rc=0' ]
o=$(dnsq _sip._tcp.clinic.test:SRV)
check "SIGHUP: the SRV records of a name changed, two now (${o//$nl/; })" [ "$o" = "1 0 5090 pbx3.clinic.test ttl=10${nl}2 0 5091 pbx4.clinic.test ttl=60 rc=0" ]
o=$(dnsq _sip._udp.clinic.test:SRV)
check "SIGHUP: an SRV line replaces all the --srv of its name ($o)" [ "$o" = '7 7 5077 pbx7.clinic.test ttl=60 rc=0' ]
o=$(dnsq _sips._tcp.clinic.test:SRV)
check "SIGHUP: SRV records gone from the file fall back to the --srv ($o)" [ "$o" = '1 1 5061 old.clinic.test ttl=60 rc=0' ]
o=$(dnsq _sip._udp.clinic.test)
check "SIGHUP: A of a name with only SRV records still NODATA ($o)" [ "$o" = 'NODATA rc=3' ]
printf 'www.example.test 203.0.113.5 2\n_sip._tcp.clinic.test SRV 1 0 99999 pbx3.clinic.test\n' >"$recs"
kept=$(grep -c 'kept the previous records' "$FD_RUN/dnsd-main.err")
kill -HUP "$DNSD_PID"
for _ in $(seq 1 20); do [ "$(grep -c 'kept the previous records' "$FD_RUN/dnsd-main.err")" -gt "$kept" ] && break; sleep 0.05; done
o=$(dnsq _sip._tcp.clinic.test:SRV)
check "SIGHUP with a bad SRV line (port 99999): the previous records stay (${o//$nl/; })" \
    eval '[ "$o" = "1 0 5090 pbx3.clinic.test ttl=10${nl}2 0 5091 pbx4.clinic.test ttl=60 rc=0" ] && grep -q "records:2: want NAME IPV4 \[TTL\] or NAME SRV PRIORITY WEIGHT PORT TARGET \[TTL\]" "$FD_RUN/dnsd-main.err"'
printf 'www.example.test not-an-address\n' >"$recs"
kept=$(grep -c 'kept the previous records' "$FD_RUN/dnsd-main.err")
kill -HUP "$DNSD_PID"
for _ in $(seq 1 20); do [ "$(grep -c 'kept the previous records' "$FD_RUN/dnsd-main.err")" -gt "$kept" ] && break; sleep 0.05; done
o=$(dnsq www.example.test)
check "SIGHUP with a bad file: the previous records stay ($o)" eval '[ "$o" = "203.0.113.5 ttl=2 rc=0" ] && grep -q "records:1: want NAME IPV4" "$FD_RUN/dnsd-main.err"'
t0=$(now_ms); dnsd_stop; rc=$?; t1=$(now_ms)
check "SIGTERM: exit 0 at once ($((t1 - t0)) ms)" eval '[ $rc = 0 ] && [ $((t1 - t0)) -lt 1000 ]'
o=$(dnsq www.example.test --timeout-ms 1000)
check "client: no server, exit 1 after the timeout" has "$o" 'rc=1$'

# --delay-ms: every answer late, the server still reading meanwhile
dnsd_start slow --delay-ms 600 --ttl 120 --record slow.example.test=192.0.2.50 || { bad "dnsd starts"; finish; exit 1; }
t0=$(now_ms)
o=$(dnsq slow.example.test)
t1=$(now_ms)
check "--delay-ms 600: answered after 600 ms or more ($((t1 - t0)) ms), --ttl 120 ($o)" \
    eval '[ "$o" = "192.0.2.50 ttl=120 rc=0" ] && [ $((t1 - t0)) -ge 590 ] && [ $((t1 - t0)) -lt 1500 ]'
t0=$(now_ms)
pids=""
for k in 1 2 3 4 5; do dnsq slow.example.test >"$FD_RUN/slow-$k.out" & pids="$pids $!"; done
dnsq nx.example.test >"$FD_RUN/slow-nx.out" & pids="$pids $!"
# shellcheck disable=SC2086
wait $pids
t1=$(now_ms)
check "six queries at once: all answered within one delay ($((t1 - t0)) ms), not one after another" \
    eval '[ "$(cat "$FD_RUN"/slow-[1-5].out | grep -c "^192.0.2.50 ttl=120 rc=0$")" = 5 ] && grep -q NXDOMAIN "$FD_RUN/slow-nx.out" && [ $((t1 - t0)) -lt 2000 ]'
o=$(dnsq slow.example.test --timeout-ms 200)
check "client: --timeout-ms shorter than the delay: exit 1" has "$o" 'rc=1$'
dnsd_stop

# bad usage, --max-seconds
printf 'x.test SRV 1 2 3\n' >"$FD_RUN/bad-srv"
for args in "--listen 10.1.2.3:53" "--listen 127.0.0.1" "--listen localhost:0" "--listen 127.0.0.1:0 --record www.example.test" \
            "--listen 127.0.0.1:0 --record www.example.test=192.0.2.300" "--listen 127.0.0.1:0 --record a..b=192.0.2.1" \
            "--listen 127.0.0.1:0 --record www.example.test=192.0.2.1,x" "--listen 127.0.0.1:0 --ttl -1" \
            "--listen 127.0.0.1:0 --delay-ms soon" "--listen 127.0.0.1:0 --bogus 1" "--record x.test=192.0.2.1" \
            "--listen 127.0.0.1:0 --records-file $FD_RUN/no-such-file" "--listen 127.0.0.1:0 --records-file $recs" \
            "--query www.example.test" "--query bad..name --server 127.0.0.1:53" "--query x.test:WHAT --server 127.0.0.1:53" \
            "--query x.test --server 192.0.2.1:53" "--listen 127.0.0.1:0 --srv x.test=1,2,3" \
            "--listen 127.0.0.1:0 --srv x.test=1,2,65536,a.test" "--listen 127.0.0.1:0 --srv x.test=1,2,3,bad..name" \
            "--listen 127.0.0.1:0 --srv x.test=1,2,3,a.test,x" "--listen 127.0.0.1:0 --srv x.test=1,2,3,a.test,5,6" \
            "--listen 127.0.0.1:0 --srv x.test=-1,2,3,a.test" "--listen 127.0.0.1:0 --srv x.test=1,,3,a.test" \
            "--listen 127.0.0.1:0 --srv =1,2,3,a.test" "--listen 127.0.0.1:0 --srv x.test" \
            "--listen 127.0.0.1:0 --records-file $FD_RUN/bad-srv"; do
    # shellcheck disable=SC2086
    "$DNSD" $args >/dev/null 2>&1 </dev/null &
    p=$!; FD_PIDS="$FD_PIDS $p"
    wait "$p"; rc=$?; FD_PIDS=${FD_PIDS/ $p/}
    check "bad usage ($args): exit 2" [ "$rc" = 2 ]
done
t0=$(now_ms)
dnsd_start short --max-seconds 1 || { bad "dnsd starts"; finish; exit 1; }
wait "$DNSD_PID"; rc=$?; t1=$(now_ms); FD_PIDS=${FD_PIDS/ $DNSD_PID/}
check "--max-seconds 1: exits 0 by itself ($((t1 - t0)) ms)" eval '[ $rc = 0 ] && [ $((t1 - t0)) -lt 2500 ]'
finish

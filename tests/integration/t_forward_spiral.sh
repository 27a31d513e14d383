#!/usr/bin/env bash
# Forward mode, a spiral: an INVITE we forwarded comes back to us for
# another number (RFC 3261 16.3 item 4: not a loop), so two passes of one
# INVITE ring two phones; the caller's CANCEL belongs to the first pass and
# must reach the first phone, not the one the second pass went to (the
# memo of where INVITEs went is keyed by the branch we gave each pass).
. "$(dirname "$0")/lib.sh"

uas_start a --ring-ms 4000 || { bad "uas a"; finish; exit 1; }
A=$UAS_PORT A_LOG=$UAS_LOG
uas_start b --ring-ms 4000 || { bad "uas b"; finish; exit 1; }
B=$UAS_PORT B_LOG=$UAS_LOG

export FD_CONFIG=$FD_RUN/spiral.yaml
cat >"$FD_CONFIG" <<EOC
version: 1
mode: forward
groups:
  - name: Spiral
    sites:
      - {id: one, timezone: UTC, dids: ["15125550101"], default_skill: scheduling, max_contacts: 1,
         fallback: "sip:vm@127.0.0.1:9"}
      - {id: two, timezone: UTC, dids: ["15125550102"], default_skill: scheduling, max_contacts: 1,
         fallback: "sip:vm@127.0.0.1:9"}
EOC
stack_start_redis && stack_load_functions || { bad "redis"; finish; exit 1; }
stack_start_proxy "" || exit 1
P=$FD_SIP_PORT
wait_ready || { bad "proxy ready"; finish; exit 1; }
$CTL --redis "127.0.0.1:$FD_REDIS_PORT" staff add one ana "sip:ana@127.0.0.1:$A" scheduling:3 available >/dev/null
$CTL --redis "127.0.0.1:$FD_REDIS_PORT" staff add two bob "sip:bob@127.0.0.1:$B" scheduling:3 available >/dev/null
send() { "$SIPSEND" --to "127.0.0.1:$P" "$@"; }

# pass 1: the caller's INVITE to ana's number, ringing at a
port=$(stack_free_port)
inv=$(printf 'INVITE sip:15125550101@127.0.0.1:%s SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:$LPORT;branch=z9hG4bK-sp1;rport\nMax-Forwards: 70\nFrom: "Caller" <sip:+15125557001@pbx.example>;tag=ft-sp\nTo: <sip:15125550101@127.0.0.1:%s>\nCall-ID: sp@pbx.example\nCSeq: 1 INVITE\nContact: <sip:caller@127.0.0.1:$LPORT>\nContent-Length: 0\n' "$P" "$P")
o=$(printf '%s\n\n' "$inv" | send --from-port "$port" --expect 1 --timeout-ms 500 -)
check "pass 1: 100 relayed" [ "$(status_of "$o")" = 100 ]
fwd=$(awk 'BEGIN { RS = "----\n" } /^INVITE / { print; exit }' "$A_LOG.raw")
check "pass 1 rings ana at a" has "$fwd" "^INVITE sip:ana@"

# pass 2: the same INVITE sent back to us for bob's number, with the Via of
# whoever sent it back on top (as a proxy at a would)
pass2=$(printf '%s\n' "$fwd" | sed -e "1s|.*|INVITE sip:15125550102@127.0.0.1:$P SIP/2.0|" \
    -e "0,/^Via:/s|^Via:|Via: SIP/2.0/UDP 127.0.0.1:$A;branch=z9hG4bK-back;rport\nVia:|" | sed '/^$/,$d')
printf '%s\n\n' "$pass2" | send --expect 0 --timeout-ms 300 - >/dev/null
check "pass 2 is a spiral, not a loop: it rings bob at b" log_has "$B_LOG" '^INVITE .*callid=sp@pbx\.example'

# the caller hangs up: its CANCEL is pass 1's
cancel=$(printf '%s\n' "$inv" | sed -e 's/^INVITE /CANCEL /' -e 's/^CSeq: 1 INVITE/CSeq: 1 CANCEL/' -e '/^Contact:/d')
o=$(printf '%s\n\n' "$cancel" | send --from-port "$port" --expect 2 --timeout-ms 1500 -)
check "CANCEL: 200 and pass 1's 487, from a ($(statuses "$o"))" [ "$(status_set "$o")" = "200 487 " ]
check "CANCEL reached ana at a" has "$(grep '^CANCEL' "$A_LOG")" "callid=sp@pbx.example .*ruri=sip:ana@"
check "and not bob at b" hasnt "$(grep '^CANCEL' "$B_LOG")" "callid=sp@pbx.example"
finish

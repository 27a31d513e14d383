#!/usr/bin/env bash
# The answer table of redirect mode: OPTIONS, CANCEL, other methods, unknown
# methods, malformed requests, Max-Forwards 0, too large, unknown number,
# a closed site; garbage and SIP responses get nothing.
. "$(dirname "$0")/lib.sh"
stack_start_redis && stack_seed_demo && stack_start_proxy "" || exit 1

req() { # METHOD RURI-USER CALLID [extra header lines] [max-forwards]
    printf '%s sip:%s@127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:$LPORT;branch=z9hG4bK-%s;rport\nMax-Forwards: %s\nFrom: <sip:+15125557777@pbx.example>;tag=f-%s\nTo: <sip:%s@127.0.0.1>\nCall-ID: %s\nCSeq: 7 %s\n%sContent-Length: 0\n\n' \
        "$1" "$2" "$3" "${5:-70}" "$3" "$2" "$3" "$1" "${4:-}"
}

o=$(sip_raw "$(req OPTIONS 15125550100 opt-1)")
check "OPTIONS: 200" [ "$(status_of "$o")" = 200 ]
check "OPTIONS: Allow lists our methods" has "$o" '^Allow: INVITE, ACK, CANCEL, OPTIONS$'
check "OPTIONS: CSeq copied" has "$o" '^CSeq: 7 OPTIONS$'
o=$(sip_raw "$(req OPTIONS 15125550100 opt-2 '' 0)")
check "OPTIONS with Max-Forwards 0: 200 (we are its final recipient)" [ "$(status_of "$o")" = 200 ]

o=$(sip_raw "$(req CANCEL 15125550100 can-1)")
check "CANCEL: 200" [ "$(status_of "$o")" = 200 ]
o=$(sip_raw "$(req BYE 15125550100 bye-1)")
check "BYE: 405 with Allow" eval '[ "$(status_of "$o")" = 405 ] && has "$o" "^Allow: "'
o=$(sip_raw "$(req REGISTER 15125550100 reg-1)")
check "REGISTER: 405" [ "$(status_of "$o")" = 405 ]
o=$(sip_raw "$(req FROBNICATE 15125550100 unk-1)")
check "unknown method: 501" [ "$(status_of "$o")" = 501 ]

o=$(sip_raw "$(req INVITE '15125550100*1' mf-1 '' 0)")
check "INVITE with Max-Forwards 0: 483" [ "$(status_of "$o")" = 483 ]
o=$(sip_raw "$(req INVITE 15125559999 unknown-1)")
check "INVITE to an unknown number: 404" [ "$(status_of "$o")" = 404 ]
o=$(sip_raw "$(req INVITE 15125550400 annex-1)")
check "INVITE to a closed site: 302 to its fallback, no Redis" eval '[ "$(status_of "$o")" = 302 ] && [ "$(contacts_of "$o")" = sip:frontdesk@pbx.downtown.hillcountry.example ]'
o=$(sip_raw "$(req INVITE 17205550300 west-1)")
check "INVITE to westside: intake (its default skill) staff" has "$(contacts_of "$o" | head -1)" 'uma.patel|aaron.bell'

o=$(sip_raw "$(req INVITE '15125550100*1' nocseq-1 | grep -v '^CSeq')")
check "missing CSeq: 400" eval '[ "$(status_of "$o")" = 400 ] && has "$o" "^SIP/2.0 400 Missing or bad CSeq"'
o=$(sip_raw "$(req INVITE '15125550100*1' nocid-1 | grep -v '^Call-ID')")
check "missing Call-ID: 400" [ "$(status_of "$o")" = 400 ]
o=$(sip_raw "$(req INVITE '15125550100*1' mfbad-1 | sed 's/^Max-Forwards: 70/Max-Forwards: lots/')")
check "bad Max-Forwards: 400" [ "$(status_of "$o")" = 400 ]
o=$(sip_raw "$(req INVITE '15125550100*1' cseqm-1 | sed 's/^CSeq: 7 INVITE/CSeq: 7 BYE/')")
check "CSeq method mismatch: 400" [ "$(status_of "$o")" = 400 ]
o=$(sip_raw "$(printf 'INVITE this is not sip\nVia: SIP/2.0/UDP 127.0.0.1:$LPORT;branch=z9hG4bK-bad;rport\nCall-ID: bad-1\n\n')")
check "malformed request with a Via: 400" [ "$(status_of "$o")" = 400 ]

big=$(head -c 9000 /dev/zero | tr '\0' 'a')
o=$(sip_raw "$(req INVITE '15125550100*1' big-1 "X-Padding: $big
")")
check "request over 8 KiB: 513" [ "$(status_of "$o")" = 513 ]

res=$(sip_raw "complete garbage" --timeout-ms 300; echo "rc=$?")
check "garbage without a Via: no answer" has "$res" '^rc=3$'
res=$(sip_raw "$(printf 'SIP/2.0 200 OK\nVia: SIP/2.0/UDP 127.0.0.1:$LPORT;branch=z9hG4bK-r\nFrom: <sip:a@b>;tag=1\nTo: <sip:c@d>\nCall-ID: r-1\nCSeq: 1 INVITE\nContent-Length: 0\n\n')" --timeout-ms 300; echo "rc=$?")
check "a SIP response: no answer" has "$res" '^rc=3$'
o=$(sip_raw "$(req OPTIONS 15125550100 alive-1)")
check "still serving after all that" [ "$(status_of "$o")" = 200 ]

stack_stop
log=$(cat "$FD_PROXY_LOG")
check "dropped datagrams counted" has "$log" 'dropped=[1-9]'
check "ignored responses counted" has "$log" 'responses_not_ours=1'
finish

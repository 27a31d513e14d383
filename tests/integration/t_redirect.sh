#!/usr/bin/env bash
# A call for a skill gets a 302 to available staff with that skill, then the
# site fallback; a retransmission gets the same answer; our ACK is absorbed;
# simultaneous calls never get the same person within the offer window;
# staff set unavailable are never chosen; nobody free gives the fallback;
# the caller's number never appears in the log.
. "$(dirname "$0")/lib.sh"
stack_start_redis && stack_seed_demo && stack_start_proxy "" --offer-window 1500 || exit 1
FALLBACK=sip:frontdesk@pbx.downtown.hillcountry.example

staff_state() { stack_redis FCALL fd_staff_get 1 "fd:{$1}" "$2" | sed -n '/^state$/{n;p}'; }
staff_skills() { stack_redis FCALL fd_staff_get 1 "fd:{$1}" "$2" | sed -n '/^skills$/{n;p}'; }

# 1. billing (option 2 in the Request-URI) at downtown
out=$(sip invite.sip call-1)
check "INVITE for billing answered 302" [ "$(status_of "$out")" = 302 ]
mapfile -t cs < <(contacts_of "$out")
check "two staff then the fallback (max_contacts 2)" eval '[ "${#cs[@]}" = 3 ] && [ "${cs[2]}" = "$FALLBACK" ]'
for c in "${cs[0]}" "${cs[1]}"; do
    id=${c#sip:}; id=${id%@*}
    check "$id has billing and was available" has "$(staff_skills downtown "$id")" billing
    check "$id is available" [ "$(staff_state downtown "$id")" = available ]
done
check "q-values descend" eval 'has "$out" '\''q=1.0'\'' && has "$out" '\''q=0.9'\'' && has "$out" '\''q=0.8'\'''
check "To tag added" has "$out" '^To: .*;tag=[0-9a-f]{16}$'
check "Via carries received and rport" has "$out" '^Via: .*rport=[0-9]+.*received=127.0.0.1'

# 2. simultaneous calls never get the same person; once Downtown's billing
#    staff are all offered, the chain overflows to Northlake, then to the
#    float pool, then ends at the fallback
out2=$(sip invite.sip call-2)
c2=$(first_contact "$out2")
check "a simultaneous call gets someone else" eval '[ "$c2" != "${cs[0]}" ] && [ "$c2" != "${cs[1]}" ] && [ "$c2" != "$FALLBACK" ]'
check "downtown's third billing person, then overflow to northlake" has "$(contacts_of "$out2" | sed -n 2p)" '@pbx\.northlake\.'
all="$(contacts_of "$out") $(contacts_of "$out2")"
for i in 3 4 5; do
    o=$(sip invite.sip "call-$i"); all="$all $(contacts_of "$o" | grep -v "^$FALLBACK$" | tr '\n' ' ')"
done
check "the float pool after northlake" has "$all" 'gina\.ross@pbx\.float\.'
check "nobody offered twice within the offer window" [ "$(printf '%s\n' $all | grep -v "^$FALLBACK$" | sort | uniq -d)" = "" ]
check "every billing person free along the chain offered, then the fallback alone" [ "$(contacts_of "$o")" = "$FALLBACK" ]

# 3. retransmission: same bytes, same Contacts, even after the offer lapsed
rt=$(CALLER=4242 sip invite.sip call-1 --repeat 2 --expect 2)
a1=$(printf '%s\n' "$rt" | awk 'BEGIN{RS="--\n"} NR==1'); a2=$(printf '%s\n' "$rt" | awk 'BEGIN{RS="--\n"} NR==2')
check "retransmitted INVITE gets byte-identical answers" eval '[ -n "$a1" ] && [ "$a1" = "$a2" ]'
check "retransmission keeps the recorded Contacts" [ "$(contacts_of "$a1")" = "$(contacts_of "$out")" ]

# 4. ACK to our 302 is absorbed: no answer
tag=$(printf '%s\n' "$out" | sed -n 's/^To: .*;tag=\([0-9a-f]*\)$/\1/p')
ack=$(sed -e "s/CALLID/call-1/g" -e "s/CALLER/4242/g" -e "s/^INVITE /ACK /" -e "s/^CSeq: 1 INVITE/CSeq: 1 ACK/" \
      -e "s/^To: \(.*\)$/To: \1;tag=$tag/" "$SIPDIR/invite.sip")
res=$(printf '%s' "$ack" | "$SIPSEND" --to "127.0.0.1:$FD_SIP_PORT" --timeout-ms 300 - ; echo "rc=$?")
check "ACK gets no answer" has "$res" '^rc=3$'

# 5. after the offers lapse, staff set busy are never chosen
sleep 1.6
stack_redis FCALL fd_presence 1 'fd:{downtown}' ana.garcia busy "on a call" >/dev/null
stack_redis FCALL fd_presence 1 'fd:{downtown}' ivan.petrov break >/dev/null
seen=""
for i in 1 2 3 4; do
    o=$(sip invite.sip "busy-$i"); seen="$seen $(contacts_of "$o" | tr '\n' ' ')"
    sleep 1.6
done
check "busy/break staff never chosen" hasnt "$seen" 'ana.garcia|ivan.petrov'
check "the one free billing person is chosen" has "$seen" 'carla.nguyen'

# 6. nobody free at downtown: overflow; nobody free along the chain: the
#    fallback alone
stack_redis FCALL fd_presence 1 'fd:{downtown}' carla.nguyen offline >/dev/null
o=$(sip invite.sip nobody-1)
check "nobody free at downtown: overflow to northlake" has "$(first_contact "$o")" '@pbx\.northlake\.'
sleep 1.6
for who in nate.brooks pedro.alves sam.wilson; do
    stack_redis FCALL fd_presence 1 'fd:{northlake}' "$who" busy >/dev/null
done
stack_redis FCALL fd_presence 1 'fd:{float}' gina.ross busy >/dev/null
o=$(sip invite.sip nobody-2)
check "nobody free along the chain: 302 to the fallback only" eval '[ "$(status_of "$o")" = 302 ] && [ "$(contacts_of "$o")" = "$FALLBACK" ]'

# 7. back to available: chosen again
stack_redis FCALL fd_presence 1 'fd:{downtown}' carla.nguyen available >/dev/null
o=$(sip invite.sip back-1)
check "available again: chosen" [ "$(first_contact "$o")" = sip:carla.nguyen@pbx.downtown.hillcountry.example ]

# 8. the option header selects the skill (intake = option 3)
o=$(sed 's/\*2@/@/' "$SIPDIR/invite.sip" | sed 's/CALLID/hdr-1/g' | sed 's/^User-Agent:/X-Frontdesk-Option: 3\nUser-Agent:/' | "$SIPSEND" --to "127.0.0.1:$FD_SIP_PORT" -)
id=$(first_contact "$o"); id=${id#sip:}; id=${id%@*}
check "X-Frontdesk-Option: 3 picks intake staff ($id)" has "$(staff_skills downtown "$id")" intake

stack_stop
check "the log has decisions" has "$(cat "$FD_PROXY_LOG")" 'msg="route".*outcome=staff'
check "no caller number appears in the log" hasnt "$(cat "$FD_PROXY_LOG")" '1512555[0-9]{4}'
check "ACK counted as ours" has "$(cat "$FD_PROXY_LOG")" 'acks_absorbed=1'
finish

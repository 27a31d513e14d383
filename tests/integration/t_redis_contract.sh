#!/usr/bin/env bash
# The Redis Functions library (proxy/redis/frontdesk.lua, contract version
# 4) driven directly with redis-cli, no proxy: the pick protocol's plan
# string ("3|k|offer-ms|ttl-ms|window-s|day|ki:skill:code:min|...", see
# proxy/store.h), each strategy's order, reservations and their lapse, max
# offers, retransmissions and release, caller-aware memory, overflow to
# another site, presence and skills, fd_peek, bad input, the call and
# presence histories, what a library of version 3 left in p:on, and the
# version 2 argument layout a proxy of an older version still sends.
. "$(dirname "$0")/lib.sh"
stack_start_redis && stack_load_functions || exit 1

R() { stack_redis "$@"; }
# a reply on one line, its elements separated by single spaces
one() { tr '\n' ' ' | sed 's/ *$//'; }
pick() { R FCALL fd_pick "$@" | one; }           # pick N KEYS... CALLID CALLER PLAN
peek() { R FCALL_RO fd_peek "$@"; }               # one element a line
# eq GOT WANT: equal, or say both (so that a failure shows what came back)
eq() {
    [ "$1" = "$2" ] && return 0
    printf '    got:  %s\n    want: %s\n' "$1" "$2" >&2
    return 1
}
# staff SITE ID SKILLS STATE [MAX]: through fd_staff_set, contact sip:ID@pbx.SITE.test
staff() { R FCALL fd_staff_set 1 "fd:{$1}" "$2" "sip:$2@pbx.$1.test" "$3" "$4" ${5:+"$5"} >/dev/null; }
ct() { echo "sip:$2@pbx.$1.test"; }                # the contact of SITE ID
# idle SITE ID: busy then available again, so their last_end is now
idle() { R FCALL fd_presence 1 "fd:{$1}" "$2" busy >/dev/null && R FCALL fd_presence 1 "fd:{$1}" "$2" available >/dev/null; }
now_ms() { R TIME | { read -r s; read -r us; echo $((s * 1000 + us / 1000)); }; }
# reserved SITE ID: available, and claimed by a pick until later than now
# (p:claim); unreserved: available, no claim in force
claim_of() { R HGET "fd:{$1}:claim" "$2"; }
reserved() {
    local c; c=$(claim_of "$1" "$2")
    [ -n "$(R HGET "fd:{$1}:on" "$2")" ] && [[ $c =~ ^[0-9]{13}$ ]] && [ "$c" -gt "$(now_ms)" ]
}
unreserved() {
    local c; c=$(claim_of "$1" "$2")
    [ -n "$(R HGET "fd:{$1}:on" "$2")" ] && { [ -z "$c" ] || [ "$c" -le "$(now_ms)" ]; }
}
digest() { R DEBUG DIGEST; }

# --- the library -------------------------------------------------------
check "fd_version returns 4" eq "$(R FCALL fd_version 0)" 4
libs=$(R FUNCTION LIST | grep -A1 -x library_name | grep -vx -e library_name -e -- | one)
check "FUNCTION LIST shows library frontdesk_lib (only)" eq "$libs" frontdesk_lib

# --- bad input: an error reply "ERR frontdesk: ...", nothing changed --------
staff bd bd1 billing:3 available
staff bd bd2 billing:3 available
pick 1 'fd:{bd}' bd-0 '' '3|1|1|32000|0||1:billing:li:1' >/dev/null   # the queue exists
sleep 0.01
# bad NAME CMD...: the reply starts "ERR frontdesk:" and DEBUG DIGEST is the same
bad_input() {
    local d0 d1 out
    d0=$(digest); out=$(R "$@" 2>&1); d1=$(digest)
    has "$out" '^(\(error\) )?ERR frontdesk: ' || { echo "    reply: $out" >&2; return 1; }
    [ "$d0" = "$d1" ] || { echo "    the data changed (reply: $out)" >&2; return 1; }
}
P='fd:{bd}'
check "bad plan: k 0" bad_input FCALL fd_pick 1 $P bd-1 '' '3|0|300|32000|0||1:billing:li:1'
check "bad plan: no chain step" bad_input FCALL fd_pick 1 $P bd-1 '' '3|1|300|32000|0|'
check "bad plan: not a plan at all" bad_input FCALL fd_pick 1 $P bd-1 '' 'pick billing please'
check "bad plan: day not digits" bad_input FCALL fd_pick 1 $P bd-1 '' '3|1|300|32000|0|2026-12-03|1:billing:li:1'
check "bad plan: unknown strategy code" bad_input FCALL fd_pick 1 $P bd-1 '' '3|1|300|32000|0||1:billing:xx:1'
check "bad plan: min level 6" bad_input FCALL fd_pick 1 $P bd-1 '' '3|1|300|32000|0||1:billing:li:6'
check "bad plan: key index past KEYS" bad_input FCALL fd_pick 1 $P bd-1 '' '3|1|300|32000|0||2:billing:li:1'
check "bad plan: key index 0" bad_input FCALL fd_pick 1 $P bd-1 '' '3|1|300|32000|0||0:billing:li:1'
check "bad plan: ttl not a plain integer (1e3)" bad_input FCALL fd_pick 1 $P bd-1 '' '3|1|300|1e3|0||1:billing:li:1'
check "bad plan: fd_peek too" bad_input FCALL_RO fd_peek 1 $P bd-1 '' '3|0|300|32000|0||1:billing:li:1'
out=$(R FCALL fd_pick 1 $P bd-1 '' '2|1|300|32000|0||1:billing:li:1')
check "plan of protocol 2: says so" has "$out" '^ERR frontdesk: plan of protocol "2", want 3'
check "plan of protocol 2: nothing changed" bad_input FCALL fd_pick 1 $P bd-1 '' '2|1|300|32000|0||1:billing:li:1'
out=$(R FCALL fd_pick 1 $P '' '' '3|1|300|32000|0||1:billing:li:1')
check "empty call-id: bad call-id" has "$out" '^ERR frontdesk: bad call-id'
check "empty call-id: nothing changed" bad_input FCALL fd_pick 1 $P '' '' '3|1|300|32000|0||1:billing:li:1'
check "empty call-id: fd_release" bad_input FCALL fd_release 1 $P ''
check "empty call-id: fd_decision" bad_input FCALL_RO fd_decision 1 $P ''
check "caller hash over 64 characters" bad_input FCALL fd_pick 1 $P bd-1 "$(printf 'a%.0s' $(seq 65))" '3|1|300|32000|0||1:billing:li:1'
out=$(R FCALL fd_pick 1 bd bd-1 '' '3|1|300|32000|0||1:billing:li:1')
check "bad key: every key must be fd:{<site>}" has "$out" '^ERR frontdesk: every key must be fd:\{<site>\}'
check "bad key (fd_pick): nothing changed" bad_input FCALL fd_pick 1 'fd:{bd' bd-1 '' '3|1|300|32000|0||1:billing:li:1'
check "bad second key (fd_pick)" bad_input FCALL fd_pick 2 $P 'fd:{b d}' bd-1 '' '3|1|300|32000|0||2:billing:li:1'
check "bad key (fd_presence)" bad_input FCALL fd_presence 1 'fd:bd' bd1 busy
check "bad key (fd_staff_set)" bad_input FCALL fd_staff_set 1 'bd' bd9 sip:bd9@x billing available
check "bad key (fd_release)" bad_input FCALL fd_release 1 'fd:{}' bd-0
check "bad key (fd_staff_get)" bad_input FCALL_RO fd_staff_get 1 'fd:bd' bd1
out=$(R FCALL fd_presence 1 $P bd1 napping)
check "bad state: says which" has "$out" '^ERR frontdesk: bad state "napping"'
check "bad state (fd_presence): nothing changed" bad_input FCALL fd_presence 1 $P bd1 napping
check "bad state (fd_staff_set): nothing changed" bad_input FCALL fd_staff_set 1 $P bd1 sip:bd1@pbx.bd.test billing:3 napping
check "bad staff id" bad_input FCALL fd_presence 1 $P 'bd 1' busy
check "unknown staff" bad_input FCALL fd_presence 1 $P nobody busy
check "bad skills" bad_input FCALL fd_skills_set 1 $P bd1 'billing:9'
check "bad contact" bad_input FCALL fd_staff_set 1 $P bd1 'tel:123' billing:3 available
check "after all that, the site still picks" eq "$(pick 1 $P bd-2 '' '3|2|1|32000|0||1:billing:li:1')" \
    "picked bd1 $(ct bd bd1) bd2 $(ct bd bd2)"

# --- longest idle: order by last_end; reservations, and their lapse ---------
for i in la lb lc; do staff li $i billing:3 available; done
idle li lc; sleep 0.01; idle li la; sleep 0.01; idle li lb     # ended: lc, then la, then lb
L='fd:{li}'
r1=$(pick 1 $L li-1 '' '3|2|300|32000|0||1:billing:li:1')
r2=$(pick 1 $L li-2 '' '3|2|300|32000|0||1:billing:li:1')
r3=$(pick 1 $L li-3 '' '3|2|300|32000|0||1:billing:li:1')
check "longest idle: the two idle longest, in last_end order" eq "$r1" "picked lc $(ct li lc) la $(ct li la)"
check "within the offer window the next call does not get them" eq "$r2" "picked lb $(ct li lb)"
check "everybody reserved: none" eq "$r3" none
check "the picked are reserved in p:claim" eval 'reserved li lc && reserved li la && reserved li lb'
sleep 0.4
r4=$(pick 1 $L li-4 '' '3|3|300|32000|0||1:billing:li:1')
check "after the offer window they are offered again (lapsed by themselves)" eq "$r4" \
    "picked lc $(ct li lc) la $(ct li la) lb $(ct li lb)"
R FCALL fd_call_end 1 $L lc >/dev/null
sleep 0.4
r5=$(pick 1 $L li-5 '' '3|3|300|32000|0||1:billing:li:1')
check "fd_call_end: the one whose call just ended goes last" eq "$r5" \
    "picked la $(ct li la) lb $(ct li lb) lc $(ct li lc)"

# --- most skilled, and minimum levels ------------------------------------
staff ms m1 billing:2 available; staff ms m2 billing:4 available; staff ms m3 billing:5 available
M='fd:{ms}'
check "most skilled: highest level first" eq "$(pick 1 $M ms-1 '' '3|3|1|32000|0||1:billing:ms:1')" \
    "picked m3 $(ct ms m3) m2 $(ct ms m2) m1 $(ct ms m1)"
sleep 0.01
check "most skilled, min 4: level 2 excluded" eq "$(pick 1 $M ms-2 '' '3|3|1|32000|0||1:billing:ms:4')" \
    "picked m3 $(ct ms m3) m2 $(ct ms m2)"
sleep 0.01
check "longest idle without a min: every level, by last_end" eq "$(pick 1 $M ms-3 '' '3|3|1|32000|0||1:billing:li:1')" \
    "picked m1 $(ct ms m1) m2 $(ct ms m2) m3 $(ct ms m3)"
sleep 0.01
check "longest idle, min 4: level 2 excluded" eq "$(pick 1 $M ms-4 '' '3|3|1|32000|0||1:billing:li:4')" \
    "picked m2 $(ct ms m2) m3 $(ct ms m3)"

# --- round robin ----------------------------------------------------------
for i in r1 r2 r3; do staff rr $i billing:3 available; done
seq_rr=""
for n in 1 2 3 4; do
    seq_rr="$seq_rr $(R FCALL fd_pick 1 'fd:{rr}' "rr-$n" '' '3|1|1|32000|0||1:billing:rr:1' | sed -n 2p)"
    sleep 0.005
done
seq_rr=${seq_rr# }
read -r g1 g2 g3 g4 <<<"$seq_rr"
check "round robin: three calls, three different people ($seq_rr)" \
    eval '[ -n "$g3" ] && [ "$g1" != "$g2" ] && [ "$g2" != "$g3" ] && [ "$g1" != "$g3" ]'
check "round robin: the fourth goes to the first again" eval '[ -n "$g1" ] && [ "$g4" = "$g1" ]'
check "round robin: in the order r1 r2 r3 r1 (all from score 0, then by last offer)" eq "$seq_rr" "r1 r2 r3 r1"
# a call in between (busy, then available again) does not reset the
# rotation: after r1 r2 r3 r1, r2 is next; r3, away and back, keeps its
# place behind r2 (with its count reset to 0 it would come first)
R FCALL fd_presence 1 'fd:{rr}' r3 busy >/dev/null
check "round robin: someone away is out of the queue, what it counted kept" eval \
    '[ -z "$(R ZSCORE "fd:{rr}:q:rr:billing:1" r3)" ] && [ -n "$(R HGET "fd:{rr}:q:rr:billing:1:away" r3)" ]'
R FCALL fd_presence 1 'fd:{rr}' r3 available >/dev/null
sleep 0.005
g5=$(R FCALL fd_pick 1 'fd:{rr}' rr-5 '' '3|1|1|32000|0||1:billing:rr:1' | sed -n 2p)
check "round robin: back from a call, r3 keeps its place (r2 next)" eq "$g5" r2

# --- fewest offers, and a new day ----------------------------------------
staff fo f1 billing:3 available; staff fo f2 billing:3 available
F='fd:{fo}' D1='3|1|1|32000|0|20261203|1:billing:fo:1' D2='3|1|1|32000|0|20261204|1:billing:fo:1'
o1=$(pick 1 $F fo-1 '' "$D1" | cut -d' ' -f2); sleep 0.01
R FCALL fd_presence 1 $F f2 busy >/dev/null
o2=$(pick 1 $F fo-2 '' "$D1" | cut -d' ' -f2); sleep 0.01
R FCALL fd_presence 1 $F f2 available >/dev/null   # idle since now; f1 since ever
sleep 0.01
o3=$(pick 1 $F fo-3 '' "$D1" | cut -d' ' -f2); sleep 0.01
check "fewest offers: f1 twice while f2 was busy ($o1 $o2)" eq "$o1 $o2" "f1 f1"
check "fewest offers: then f2 (no offers today), though f1 is idle longer" eq "$o3" f2
check "fewest offers: the day's queue counts 2 and 1" eq \
    "$(R ZSCORE "$F:q:fo:billing:1:20261203" f1) $(( $(R ZSCORE "$F:q:fo:billing:1:20261203" f2) / 10000000000000 ))" \
    "20000000000000 1"
check "fewest offers, same day: f2 still first (peek)" eq "$(peek 1 $F fo-p '' "$D1" | head -n 1)" f2
o4=$(pick 1 $F fo-4 '' "$D2" | cut -d' ' -f2)
check "a new day: counts start afresh, f1 (idle longest) first" eq "$o4" f1
check "a new day: the old day's queue gone, the new one kept, p:day moved" eq \
    "$(R EXISTS "$F:q:fo:billing:1:20261203") $(R EXISTS "$F:q:fo:billing:1:20261204") $(R GET "$F:day")" \
    "0 1 20261204"

# --- max offers ------------------------------------------------------------
staff mo mm billing:3 available 2
MO='fd:{mo}' PM='3|1|15000|32000|0||1:billing:li:1'
x1=$(pick 1 $MO mo-1 '' "$PM")
l1=$(R FCALL_RO fd_staff_list 1 $MO | sed -n 2p)
x2=$(pick 1 $MO mo-2 '' "$PM")
x3=$(pick 1 $MO mo-3 '' "$PM")
l2=$(R FCALL_RO fd_staff_list 1 $MO | sed -n 2p)
check "max offers 2: the first call gets them" eq "$x1" "picked mm $(ct mo mm)"
check "max offers 2: fd_staff_list shows (offered 1/2)" eq "$l1" "available (offered 1/2)"
check "max offers 2: the second call too, at once" eq "$x2" "picked mm $(ct mo mm)"
check "max offers 2: not a third" eq "$x3" none
check "max offers 2: fd_staff_list shows (offered 2/2)" eq "$l2" "available (offered 2/2)"
check "max offers 2: fd_release of one call frees one offer" eq "$(R FCALL fd_release 1 $MO mo-1)" 1
check "max offers 2: then the next call gets them again" eq "$(pick 1 $MO mo-4 '' "$PM")" "picked mm $(ct mo mm)"

# --- retransmissions, fd_decision, fd_release ------------------------------
for i in t1 t2 t3; do staff rt $i billing:3 available; done
T='fd:{rt}' PT='3|1|15000|32000|0||1:billing:li:1'
y1=$(pick 1 $T rt-1 '' "$PT")
y2=$(pick 1 $T rt-1 '' "$PT")
check "a pick: t1" eq "$y1" "picked t1 $(ct rt t1)"
check "the same call-id again: recorded, the same people" eq "$y2" "recorded t1 $(ct rt t1)"
check "the retransmission reserved nobody more" eval 'unreserved rt t2 && unreserved rt t3 && reserved rt t1'
check "fd_decision: the same" eq "$(R FCALL_RO fd_decision 1 $T rt-1 | one)" "recorded t1 $(ct rt t1)"
check "fd_decision of an unknown call: none" eq "$(R FCALL_RO fd_decision 1 $T rt-nope | one)" none
check "fd_release: one released" eq "$(R FCALL fd_release 1 $T rt-1)" 1
check "fd_release: t1 free again" unreserved rt t1
check "after the release the next call gets t1" eq "$(pick 1 $T rt-2 '' "$PT")" "picked t1 $(ct rt t1)"
check "after the release fd_decision says none" eq "$(R FCALL_RO fd_decision 1 $T rt-1 | one)" none
check "after the release a retransmission gets none (the fallback it had)" eq "$(pick 1 $T rt-1 '' "$PT")" none
check "fd_release again: nothing to release" eq "$(R FCALL fd_release 1 $T rt-1)" 0

# --- caller-aware -------------------------------------------------------------
for i in ca1 ca2 ca3; do staff ca $i billing:3 available; done
C='fd:{ca}' PC='3|1|300|32000|86400||1:billing:li:1'
H1=0123456789abcdef0123456789abcdef H2=fedcba9876543210fedcba9876543210 H3=00112233445566778899aabbccddeeff
z1=$(pick 1 $C ca-1 $H1 "$PC")
check "caller-aware: the first call of a caller, longest idle (ca1)" eq "$z1" "picked ca1 $(ct ca ca1)"
mem=$(R GET "$C:caller:$H1")
check "caller-aware: memory \"<ms> <site> <id>\" ($mem)" has "$mem" '^[0-9]{13} ca ca1$'
ttl=$(R PTTL "$C:caller:$H1")
check "caller-aware: memory kept for the window, 86400 s ($ttl ms)" eval '[ "$ttl" -gt 86300000 ] && [ "$ttl" -le 86400000 ]'
idle ca ca1    # longest idle would now pick ca2
sleep 0.4
check "caller-aware: the same caller gets ca1 again, though ca2 idles longer" \
    eq "$(pick 1 $C ca-2 $H1 "$PC")" "picked ca1 $(ct ca ca1)"
sleep 0.4
check "caller-aware: another caller gets longest idle (ca2)" eq "$(pick 1 $C ca-3 $H2 "$PC")" "picked ca2 $(ct ca ca2)"
sleep 0.4
R FCALL fd_presence 1 $C ca1 break >/dev/null
check "caller-aware: the remembered person not free: the plan (ca2)" \
    eq "$(pick 1 $C ca-4 $H1 "$PC")" "picked ca2 $(ct ca ca2)"
check "caller-aware: the memory now names ca2" has "$(R GET "$C:caller:$H1")" '^[0-9]{13} ca ca2$'
sleep 0.4
z5=$(pick 1 $C ca-5 $H3 '3|1|300|32000|0||1:billing:li:1')
check "window 0: picked as usual (ca2, its last offer lapsed)" eq "$z5" "picked ca2 $(ct ca ca2)"
check "window 0: no caller memory written" eq "$(R EXISTS "$C:caller:$H3")" 0
# ca-4's offer to ca2 lapsed and ca-5 holds ca2 now: releasing ca-4 frees
# nobody, but forgets the caller memory ca-4 wrote
check "fd_release of a lapsed pick: nobody released (ca2 is ca-5's)" eval \
    '[ "$(R FCALL fd_release 1 $C ca-4)" = 0 ] && reserved ca ca2'
check "fd_release forgets the caller memory the call wrote" eq "$(R EXISTS "$C:caller:$H1")" 0

# --- overflow across sites ------------------------------------------------
staff a a1 billing:3 busy; staff b b1 billing:3 available
ov=$(pick 2 'fd:{a}' 'fd:{b}' ov-1 '' '3|1|300|32000|0||1:billing:li:1|2:billing:li:1')
check "overflow: nobody free at a, b's person as b/<id>" eq "$ov" "picked b/b1 $(ct b b1)"
check "overflow: reserved at b, decision recorded at a (the called site)" eval \
    'reserved b b1 && [ "$(R EXISTS "fd:{a}:call:ov-1")" = 1 ] && [ "$(R EXISTS "fd:{b}:call:ov-1")" = 0 ]'
check "overflow: fd_decision at a names b/b1" eq "$(R FCALL_RO fd_decision 1 'fd:{a}' ov-1 | one)" "recorded b/b1 $(ct b b1)"
check "overflow: fd_release at a frees b's person" eval '[ "$(R FCALL fd_release 1 "fd:{a}" ov-1)" = 1 ] && unreserved b b1'

# --- presence and skills ------------------------------------------------
staff pr e1 billing:3 busy; staff pr e2 billing:3 offline; staff pr e3 billing:3 available
staff pr e4 billing:3 available; staff pr e5 billing:3 break; staff pr e6 billing:3 wrapup
E='fd:{pr}'
check "busy, offline, break, wrapup: never picked" eq "$(pick 1 $E pr-1 '' '3|5|1|32000|0||1:billing:li:1')" \
    "picked e3 $(ct pr e3) e4 $(ct pr e4)"
sleep 0.01
# every kind of queue for billing, so that removal is seen in all of them
for c in ms rr fo; do pick 1 $E "pr-q$c" '' "3|5|1|32000|0|20261203|1:billing:$c:1" >/dev/null; sleep 0.01; done
R FCALL fd_skills_set 1 $E e3 intake:3 >/dev/null
sleep 0.01
check "fd_skills_set without billing: no more billing picks" eq "$(pick 1 $E pr-2 '' '3|5|1|32000|0||1:billing:li:1')" \
    "picked e4 $(ct pr e4)"
sleep 0.01
# in_queues SITE ID: how many of the site's queues list ID
in_queues() { local q; for q in $(R --scan --pattern "fd:{$1}:q:*"); do R ZSCORE "$q" "$2"; done | grep -c .; }
check "fd_skills_set: out of every billing queue" eq "$(in_queues pr e3)" 0
R FCALL fd_staff_remove 1 $E e4 >/dev/null
check "fd_staff_remove: ZRANGE of q:li:billing:1 no longer lists them" hasnt "$(R ZRANGE "$E:q:li:billing:1" 0 -1)" '^e4$'
# (li and ms are empty now, so Redis dropped them; rr and fo hold everyone with the skill)
check "fd_staff_remove: in none of the site's queues (li, ms, rr, fo kept)" eval \
    '[ "$(R SCARD "$E:queues")" = 4 ] && [ "$(in_queues pr e4)" = 0 ]'
check "rr and fo queues hold only the available (busy and away are not read by picks)" eval \
    '[ -z "$(R ZRANGE "$E:q:rr:billing:1" 0 -1)" ] && [ -z "$(R ZRANGE "$E:q:fo:billing:1:20261203" 0 -1)" ]'
check "fd_staff_remove: not in p:on, not in p:staff" eval \
    '[ "$(R HEXISTS "$E:on" e4)" = 0 ] && [ "$(R SISMEMBER "$E:staff" e4)" = 0 ]'
check "the site has nobody left for billing: none" eq "$(pick 1 $E pr-3 '' '3|5|1|32000|0||1:billing:li:1')" none

# --- a large site mostly away ----------------------------------------------
# 400 people away and one available: every strategy finds her (queues hold
# only the available, so no pick reads past the away)
for i in $(seq -w 1 400); do
    echo "FCALL fd_staff_set 1 fd:{big} away$i sip:away$i@big.example billing:3 offline"
done | R >/dev/null
R FCALL fd_staff_set 1 'fd:{big}' zavail sip:zavail@big.example billing:3 available >/dev/null
for c in li rr ms fo; do
    check "400 away, 1 available: $c finds her" eq \
        "$(pick 1 'fd:{big}' "big-$c" '' "3|1|1|32000|0|20261203|1:billing:$c:1")" "picked zavail sip:zavail@big.example"
    sleep 0.005
done

# --- fd_peek ------------------------------------------------------------
for i in k1 k2 k3; do staff pk $i billing:3 available; done
K='fd:{pk}' PK='3|2|15000|32000|0||1:billing:li:1'
pe=$(peek 1 $K pk-1 '' "$PK")
check "fd_peek: id, contact, why triples" eq "$(printf '%s\n' "$pe" | one)" \
    "k1 $(ct pk k1) step 1: billing at pk, longest_idle, level 3 >= 1 k2 $(ct pk k2) step 1: billing at pk, longest_idle, level 3 >= 1"
check "fd_peek: reserves nobody, records nothing" eval \
    'unreserved pk k1 && unreserved pk k2 && [ "$(R EXISTS "$K:call:pk-1")" = 0 ]'
check "fd_pick after fd_peek: the same people" eq "$(pick 1 $K pk-2 '' "$PK")" "picked k1 $(ct pk k1) k2 $(ct pk k2)"
check "fd_peek sees the reservations: only k3 now" eq "$(peek 1 $K pk-3 '' "$PK" | one)" \
    "k3 $(ct pk k3) step 1: billing at pk, longest_idle, level 3 >= 1"
check "fd_peek through FCALL is the same (no writes either)" eval \
    '[ "$(R FCALL fd_peek 1 $K pk-4 "" "$PK" | sed -n 1p)" = k3 ] && unreserved pk k3'

# --- the version 2 argument layout (a proxy of the previous version) --------
staff v2 v1 billing:3 available; staff v2 v2 billing:3 available
V='fd:{v2}'
w1=$(pick 1 $V v2-1 2 15000 32000 "" 0 20261203 1 1 billing longest_idle 1)
check "version 2 layout: picked with staff" eq "$w1" "picked v1 $(ct v2 v1) v2 $(ct v2 v2)"
check "version 2 layout: a retransmission is recorded" eq "$(pick 1 $V v2-1 2 15000 32000 "" 0 20261203 1 1 billing longest_idle 1)" \
    "recorded v1 $(ct v2 v1) v2 $(ct v2 v2)"
check "version 2 layout: a bad strategy is an ERR frontdesk: error" \
    has "$(R FCALL fd_pick 1 $V v2-2 1 15000 32000 "" 0 20261203 1 1 billing quickest 1)" '^ERR frontdesk: '
check "version 2 layout: a wrong argument count is an ERR frontdesk: error" \
    has "$(R FCALL fd_pick 1 $V v2-2 1 15000 32000 "" 0 20261203 2 1 billing longest_idle 1)" '^ERR frontdesk: '

# --- contract version 4: presence in p:on, reservations in p:claim -----------
staff c4 a1 billing:3 available; staff c4 a2 billing:3 available
C4='fd:{c4}' P4='3|1|60000|32000|0||1:billing:li:1'
check "v4: p:on holds the contact only (no reservation in it)" eq "$(R HGET "$C4:on" a1)" "$(ct c4 a1)"
w=$(pick 1 $C4 c4-1 '' "$P4")
check "v4: a pick claims its person in p:claim, p:on unchanged" eval \
    '[ "$w" = "picked a1 $(ct c4 a1)" ] && reserved c4 a1 && [ "$(R HGET "$C4:on" a1)" = "$(ct c4 a1)" ]'
R FCALL fd_presence 1 $C4 a1 busy >/dev/null; R FCALL fd_presence 1 $C4 a1 available >/dev/null
check "v4: a presence write does not lift a claim (it lapses by itself)" eval 'reserved c4 a1'
check "v4: the next pick skips the claimed person" eq "$(pick 1 $C4 c4-2 '' "$P4")" "picked a2 $(ct c4 a2)"
check "v4: fd_release lifts the claim" eval '[ "$(R FCALL fd_release 1 $C4 c4-2)" = 1 ] && unreserved c4 a2'
# version 3's form in p:on ("<until> <contact>"): read, the until ignored
# (whoever may write presence may write p:on: it reserves nobody)
fut=$(( $(now_ms) + 60000 ))
R HSET "$C4:on" a2 "$fut $(ct c4 a2)" >/dev/null
check "v3's form in p:on: its contact read, its until reserves nobody" eq \
    "$(pick 1 $C4 c4-3 '' "$P4")" "picked a2 $(ct c4 a2)"
check "fd_staff_list: a claim shows as offered" has "$(R FCALL_RO fd_staff_list 1 $C4 | one)" 'a1 available \(offered 1/1\)'

# --- the call history: fd_pick's fourth argument ------------------------------
staff hs h1 billing:3 available
HS='fd:{hs}' PH='3|1|60000|32000|0||1:billing:li:1'
rec=$'d7776000000\t15125550100\t2\tbilling'
check "history: a pick with a record argument still picks" eq \
    "$(pick 1 $HS hs-1 cafe0123 "$PH" "$rec")" "picked h1 $(ct hs h1)"
x=$(R XRANGE "$HS:calls" - + | one)
check "history: one record, its field v: call, number, option, skill, outcome, offered, caller" eq "$x" \
    "$(R XRANGE "$HS:calls" - + | head -1) v $(printf 'hs-1\t15125550100\t2\tbilling\tstaff\t1\tcafe0123')"
pick 1 $HS hs-1 cafe0123 "$PH" "$rec" >/dev/null
check "history: a retransmission adds none" eq "$(R XLEN "$HS:calls")" 1
check "history: nobody free is recorded too (r nobody, s 0)" eval \
    '[ "$(pick 1 $HS hs-2 "" "$PH" "$rec")" = none ] && [ "$(R XREVRANGE "$HS:calls" + - COUNT 1 | tail -1)" = "$(printf "hs-2\t15125550100\t2\tbilling\tnobody\t0\t")" ]'
check "history: without the argument, no record" eval \
    '[ "$(pick 1 $HS hs-3 "" "$PH")" = none ] && [ "$(R XLEN "$HS:calls")" = 2 ]'
check "history: a bad record argument is an ERR frontdesk: error" bad_input FCALL fd_pick 1 $HS hs-4 '' "$PH" 'x7\t1\t2\t3'
for i in 1 2 3 4 5 6; do pick 1 $HS "hs-n$i" '' "$PH" $'n2\t1\t\tbilling' >/dev/null; done
check "history: n<count> bounds the stream (MAXLEN ~: never far above)" eval '[ "$(R XLEN "$HS:calls")" -le 120 ]'
R XTRIM "$HS:calls" MAXLEN 0 >/dev/null
pick 1 $HS hs-d1 '' "$PH" $'d1\t1\t\tbilling' >/dev/null
check "history: d<ms> keeps records younger than that (MINID ~)" eval '[ "$(R XLEN "$HS:calls")" -ge 1 ]'

# --- the presence history ------------------------------------------------------
R FCALL fd_presence 1 $HS h1 break lunch "Front desk (Maria)" >/dev/null
x=$(R XREVRANGE "$HS:presence" + - COUNT 1 | one)
check "presence history: id, from, to, why, actor" has "$x" \
    '^[0-9]{13}-[0-9]+ i h1 f available t break w lunch a Front desk \(Maria\)$'
R FCALL fd_call_end 1 $HS h1 >/dev/null
check "presence history: fd_call_end, from break" has "$(R XREVRANGE "$HS:presence" + - COUNT 1 | one)" \
    ' i h1 f break t available w call ended a$'
check "presence history: fd_staff_set and every change before: 3 records" eq "$(R XLEN "$HS:presence")" 3
check "presence history: a bad actor is refused (control characters)" bad_input \
    FCALL fd_presence 1 $HS h1 busy x $'bad\001actor'
check "presence history: the event carries from and actor" eval \
    '{ R SUBSCRIBE fd:events > "$FD_RUN/ev.txt" 2>/dev/null & sp=$!; sleep 0.3; R FCALL fd_presence 1 $HS h1 busy "" desk2 >/dev/null; sleep 0.3; kill $sp; wait $sp 2>/dev/null; }; grep -q "\"from\":\"available\"" "$FD_RUN/ev.txt" && grep -q "\"actor\":\"desk2\"" "$FD_RUN/ev.txt"'
finish

#!/usr/bin/env bash
# Upgrading the Redis Functions library under the real proxy: a Redis that
# holds contract version 2 (library "frontdesk", its keys and open offers,
# a caller memory written as a hash) is taken over by a proxy of version 4,
# which replaces the library and whose first picks migrate each site;
# presence, open offers and caller memory carry over. A Redis of contract
# version 3 (library "frontdesk_lib", the same name) is upgraded in place
# under the WATCH of fd:lib; its reservations hold, and a proxy of version 3
# still gets answers from version 4's functions. The version guard: a proxy
# never replaces a newer library (its calls then get what that library
# answers), and loads its own into a Redis that holds none.
. "$(dirname "$0")/lib.sh"
R() { stack_redis "$@"; }
one() { tr '\n' ' ' | sed 's/ *$//'; }
eq() {
    [ "$1" = "$2" ] && return 0
    printf '    got:  %s\n    want: %s\n' "$1" "$2" >&2
    return 1
}
libs() { R FUNCTION LIST | grep -A1 -x library_name | grep -vx -e library_name -e -- | sort | one; }
stop_proxy() {
    kill "$FD_PROXY_PID" 2>/dev/null; wait "$FD_PROXY_PID" 2>/dev/null
    FD_PIDS=${FD_PIDS/ $FD_PROXY_PID/}
}
DT='fd:{downtown}'
FALLBACK=sip:frontdesk@pbx.downtown.hillcountry.example
dt() { echo "sip:$1@pbx.downtown.hillcountry.example"; }
# the keyed hash the proxy keys caller memory on (HMAC-SHA-256 of the
# number's digits with FRONTDESK_CALLER_KEY, 16 bytes in hex)
caller_hash() {
    printf %s "$1" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$FRONTDESK_CALLER_KEY" |
        awk '{ print substr($NF, 1, 32) }'
}
H=$(caller_hash 15125551234)     # CALLER=1234: From sip:+15125551234@...
H2=$(caller_hash 15125552345)    # CALLER=2345

# --- a Redis of contract version 2 -------------------------------------------
stack_start_redis || exit 1
R -x FUNCTION LOAD REPLACE < "$FD_ROOT/tests/integration/fixtures/frontdesk_v2.lua" >/dev/null
check "v2: library frontdesk loaded, fd_version 2" eq "$(libs) $(R FCALL fd_version 0)" "frontdesk 2"
# the demo staff through v2's fd_staff_set (stack_seed_demo would load v3 first)
FD_REDIS_PORT=$FD_REDIS_PORT sh "$FD_ROOT/deploy/redis/demo-seed.sh" >/dev/null
check "v2: demo seeded (12 at downtown)" eq "$(R SCARD "$DT:staff")" 12
V2KEYS="$DT $(printf "fd:{%s} " northlake float)"
# v2: caller-aware picks of the callers 512-555-1234 and 512-555-2345 (each
# offered ana.garcia, 300 ms), then an ordinary one whose offer stays open
# for a minute (carla.nguyen); last, ana's call ends, so that longest idle
# would now prefer ivan.petrov to her
a=$(R FCALL fd_pick 3 $V2KEYS v2-a 1 300 32000 "$H" 2592000 20261201 1 1 billing longest_idle 1 | one)
sleep 0.4
a2=$(R FCALL fd_pick 3 $V2KEYS v2-a2 1 300 32000 "$H2" 2592000 20261201 1 1 billing longest_idle 1 | one)
b=$(R FCALL fd_pick 3 $V2KEYS v2-b 1 60000 32000 "" 0 20261201 1 1 billing longest_idle 1 | one)
check "v2: the caller-aware picks offer ana.garcia" eq "$a / $a2" \
    "picked ana.garcia $(dt ana.garcia) / picked ana.garcia $(dt ana.garcia)"
check "v2: the next one carla.nguyen (open for 60 s)" eq "$b" "picked carla.nguyen $(dt carla.nguyen)"
R FCALL fd_presence 1 "$DT" ana.garcia busy >/dev/null
R FCALL fd_presence 1 "$DT" ana.garcia available >/dev/null
check "v2: its keys exist (avail:li:billing, offered, caller memories as hashes)" eq \
    "$(R EXISTS "$DT:avail:li:billing") $(R ZSCORE "$DT:offered" carla.nguyen | grep -c .) $(R TYPE "$DT:caller:$H") $(R TYPE "$DT:caller:$H2")" \
    "1 1 hash hash"
check "v2: the memory names ana" eq "$(R HMGET "$DT:caller:$H" site staff | one)" "downtown ana.garcia"
sleep 0.4   # the 300 ms offers lapse

# --- the proxy of version 4 takes over -----------------------------------------
stack_start_proxy "" --offer-window 300 && wait_ready || { bad "proxy (v4) ready over a v2 library"; finish; exit 1; }
check "upgraded: FUNCTION LIST holds frontdesk_lib, not frontdesk" eq "$(libs)" frontdesk_lib
check "upgraded: fd_version 4" eq "$(R FCALL fd_version 0)" 4
check "upgraded: the proxy said so (from=2 to=4)" grep -q 'upgrading the Functions library.*from=2 to=4' "$FD_PROXY_LOG"

# before any pick touched Downtown (not migrated yet): who would get a call?
ex=$("$CTL" --redis "127.0.0.1:$FD_REDIS_PORT" route explain --config "$FD_ROOT/rules/examples/demo.yaml" \
     --to 15125550100 --option 2 --from +15125559999 --at 2026-12-01T16:00:00Z 2>&1)
check "explain before the first pick after the upgrade: ivan.petrov first (longest idle, free)" \
    eq "$(printf '%s\n' "$ex" | sed -n 's/^  1\. [^<]*<\([^>]*\)>.*/\1/p')" "$(dt ivan.petrov)"
printf '%s\n' "$ex" > "$FD_RUN/explain-before-migration.txt"

# the first call after the upgrade is a caller-aware one: 512-555-1234,
# whom v2 remembered with ana
o=$(CALLER=1234 call '15125550100*2')
check "first call: 302" eq "$(status_of "$o")" 302
# billing at Downtown in v2: ana, carla, ivan available (carla on an open
# offer), david busy, hana wrapup, lena offline; 2 staff, then the fallback
check "first call: the available billing staff kept from v2, not the open offer, then the fallback" eq \
    "$( (contacts_of "$o" | head -n 2 | sort; contacts_of "$o" | tail -n +3) | one)" \
    "$(dt ana.garcia) $(dt ivan.petrov) $FALLBACK"
check "first call, caller-aware with v2's memory hash: ana first (honoured)" eq "$(first_contact "$o")" "$(dt ana.garcia)"
check "migrated: avail:* and offered gone" eq \
    "$(R --scan --pattern "$DT:avail:*" | grep -c .) $(R EXISTS "$DT:offered" "$DT:strats")" "0 0"
check "migrated: fd:{downtown}:v is 4" eq "$(R GET "$DT:v")" 4
check "migrated: carla's open v2 offer kept as her claim (lapses in about a minute), p:on her contact" eval \
    'has "$(R HGET "$DT:claim" carla.nguyen)" "^[0-9]{13}\$" && [ "$(R HGET "$DT:on" carla.nguyen)" = "$(dt carla.nguyen)" ]'
check "migrated: the v2 offer fields left the staff hashes" eq \
    "$(R HEXISTS "$DT:staff:ana.garcia" open_offers) $(R HEXISTS "$DT:staff:ana.garcia" offers)" "0 0"
check "migrated: presence kept (david busy, hana wrapup, not in p:on)" eq \
    "$(R HGET "$DT:staff:david.kim" state) $(R HEXISTS "$DT:on" david.kim) $(R HEXISTS "$DT:on" hana.sato)" "busy 0 0"
check "the first caller's memory rewritten as a v3 string" eq "$(R TYPE "$DT:caller:$H")" string
check "the first caller's memory still names ana (whom v2 remembered)" \
    eq "$(R GET "$DT:caller:$H" | cut -d' ' -f2-)" "downtown ana.garcia"
check "the other v2 caller memory hash is still there" eq "$(R TYPE "$DT:caller:$H2")" hash

sleep 0.4
o=$(CALLER=2345 call '15125550100*2')
check "caller-aware with v2's memory hash, site migrated: no error, a 302" eq "$(status_of "$o")" 302
check "caller-aware with v2's memory hash, site migrated: ana first (honoured)" eq "$(contacts_of "$o" | one)" \
    "$(dt ana.garcia) $(dt ivan.petrov) $FALLBACK"
check "that memory rewritten as a v3 string naming ana" \
    has "$(R TYPE "$DT:caller:$H2") $(R GET "$DT:caller:$H2")" '^string [0-9]{13} downtown ana\.garcia$'
sleep 0.4
o=$(CALLER=5678 call '15125550100*2')
check "another caller: longest idle, ivan first" eq "$(contacts_of "$o" | one)" \
    "$(dt ivan.petrov) $(dt ana.garcia) $FALLBACK"
check "no pick errors in the proxy log" eval '! grep -qiE "level=error|err=" "$FD_PROXY_LOG"'
stop_proxy

# --- a Redis of contract version 3: upgraded in place ---------------------------
stack_start_redis || exit 1
R -x FUNCTION LOAD REPLACE < "$FD_ROOT/tests/integration/fixtures/frontdesk_v3.lua" >/dev/null
check "v3: library frontdesk_lib loaded, fd_version 3" eq "$(libs) $(R FCALL fd_version 0)" "frontdesk_lib 3"
FD_REDIS_PORT=$FD_REDIS_PORT sh "$FD_ROOT/deploy/redis/demo-seed.sh" >/dev/null
K3="$DT $(printf "fd:{%s} " northlake float)"
# a pick of version 3 reserves its person for a minute, in p:on
w=$(R FCALL fd_pick 3 $K3 v3-a "" '3|1|60000|32000|0|20261201|1:billing:li:1' | one)
held=$(printf '%s\n' "$w" | awk '{ print $2 }')
check "v3: a pick reserved someone in p:on (\"<until> <contact>\")" has "$(R HGET "$DT:on" "$held")" '^[0-9]{13} sip:'
stack_start_proxy "" && wait_ready || { bad "proxy (v4) ready over a v3 library"; finish; exit 1; }
check "v3 -> 4: upgraded in place (one library, fd_version 4)" eq "$(libs) $(R FCALL fd_version 0)" "frontdesk_lib 4"
check "v3 -> 4: the proxy said so (from=3 to=4)" grep -q 'upgrading the Functions library.*from=3 to=4' "$FD_PROXY_LOG"
check "v3 -> 4: fd:lib says 4 (what the next upgrader WATCHes)" eq "$(R GET fd:lib)" 4
o=$(call '15125550100*2')
# (the offer version 3 made is not honoured: p:on is presence writers' to
# write, so version 4 trusts no until in it; it lapses within the window)
check "v3 -> 4: a call gets Downtown staff, their contacts read from v3's p:on values" eval \
    '[ "$(status_of "$o")" = 302 ] && has "$(first_contact "$o")" "^sip:[a-z.]+@pbx\.downtown\.hillcountry\.example\$"'
# a proxy of version 3 still sends three arguments: version 4 answers it
# (Northlake's billing staff: Downtown's are all offered by now)
w=$(R FCALL fd_pick 3 $K3 v3-b "" '3|1|15000|32000|0|20261201|2:billing:li:1' | one)
check "v3 -> 4: a version 3 proxy's pick is answered (staff)" has "$w" '^picked northlake/[a-z.]+ sip:'
check "v3 -> 4: its reservation is in p:claim now" has \
    "$(R HGET 'fd:{northlake}:claim' "$(printf '%s\n' "$w" | awk '{ sub(/^northlake\//, "", $2); print $2 }')")" '^[0-9]{13}$'
check "v3 -> 4: no pick errors in the proxy log" eval '! grep -qiE "level=error|err=" "$FD_PROXY_LOG"'
stop_proxy

# --- version guard: a newer library is kept ---------------------------------------
R FUNCTION FLUSH >/dev/null
R -x FUNCTION LOAD REPLACE >/dev/null <<'EOF'
#!lua name=frontdesk_lib
-- a library of a future contract version 5 (what a newer proxy would load)
redis.register_function('fd_version', function(keys, args) return '5' end)
redis.register_function('fd_pick', function(keys, args) return { 'none' } end)
EOF
check "newer: the fake version 5 loaded" eq "$(R FCALL fd_version 0)" 5
stack_start_proxy "" && wait_ready || { bad "proxy ready over a newer library"; finish; exit 1; }
check "newer: not replaced (fd_version still 5 once the proxy is ready)" eq "$(R FCALL fd_version 0)" 5
check "newer: the library is still the fake one (no fd_staff_set)" eq \
    "$(libs) $(R FUNCTION LIST | grep -cx fd_staff_set)" "frontdesk_lib 0"
check "newer: the proxy log mentions the newer library (version=5 ours=4)" \
    grep -q 'holds a newer Functions library.*version=5 ours=4' "$FD_PROXY_LOG"
o=$(call '15125550100*2')
check "newer: a call gets a 302" eq "$(status_of "$o")" 302
check "newer: its only Contact is the site's fallback" eq "$(contacts_of "$o")" "$FALLBACK"
check "newer: still version 5 after calls" eq "$(R FCALL fd_version 0)" 5
stop_proxy

# --- version guard: none loaded ----------------------------------------------
R FUNCTION FLUSH >/dev/null
check "none: FUNCTION FLUSH left no library" eq "$(libs)" ""
stack_start_proxy "" && wait_ready || { bad "proxy ready over an empty Redis"; finish; exit 1; }
check "none: the proxy loaded frontdesk_lib, version 4" eq "$(libs) $(R FCALL fd_version 0)" "frontdesk_lib 4"
check "none: the proxy said so" grep -q 'functions loaded.*library=frontdesk_lib version=4' "$FD_PROXY_LOG"
FD_REDIS_PORT=$FD_REDIS_PORT sh "$FD_ROOT/deploy/redis/demo-seed.sh" >/dev/null
o=$(call '15125550100*2')
check "none: then calls get staff (a Downtown billing person first)" \
    has "$(first_contact "$o")" '^sip:(ana\.garcia|carla\.nguyen|ivan\.petrov)@pbx\.downtown\.'
finish

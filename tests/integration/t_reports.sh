#!/usr/bin/env bash
# Where calls are lost: four weeks of history replayed into Redis
# (fixtures/history.awk: presence with lunch breaks, a skill nobody has on
# Saturdays, a skill nobody holds, a day of calls each weekday, a late
# pick), then `frontdeskctl report calls` and `report coverage` must find
# exactly the gaps planted, in numbers; their SVGs must parse. Then live
# calls through the proxy (staff, nobody free, Redis late, a single
# destination) must appear in `report calls` as what the callers got, and
# no report, stream or picture holds a caller's number or a Call-ID.
. "$(dirname "$0")/lib.sh"
stack_start_redis && stack_load_functions || exit 1
R() { stack_redis "$@"; }
eq() {
    [ "$1" = "$2" ] && return 0
    printf '    got:  %s\n    want: %s\n' "$1" "$2" >&2
    return 1
}
CFG=$FD_ROOT/tests/integration/fixtures/reports.yaml
report() { "$CTL" --redis "127.0.0.1:$FD_REDIS_PORT" report "$@" --config "$CFG"; }
# csv_row CSV SITE SKILL DAY HOUR: that line of a report calls CSV
csv_row() { printf '%s\n' "$1" | awk -F, -v s="$2" -v k="$3" -v d="$4" -v h="$5" '$1 == s && $2 == k && $3 == d && $4 == h'; }

# --- four weeks of history, replayed ---------------------------------------------
week0=$(date -u -d '2026-11-30T06:00:00Z' +%s)   # Monday 00:00 in Chicago
out=$(awk -v week0="$week0" -f "$FD_ROOT/tests/integration/fixtures/history.awk" | redis-cli -p "$FD_REDIS_PORT" --pipe 2>&1)
check "replayed: 997 entries, no error" has "$out" 'errors: 0, replies: 997'
# the staff as they are now (their history is in the replay): all offline
for id in b1 b2; do R FCALL fd_staff_set 1 'fd:{oak}' $id "sip:$id@pbx.oak.example" billing:3 offline >/dev/null; done
for id in s1 s2; do R FCALL fd_staff_set 1 'fd:{oak}' $id "sip:$id@pbx.oak.example" scheduling:3 offline >/dev/null; done
R FCALL fd_staff_set 1 'fd:{pine}' i1 sip:i1@pbx.pine.example intake:3 offline >/dev/null
R FCALL fd_staff_set 1 'fd:{pine}' p1 sip:p1@pbx.pine.example scheduling:3 offline >/dev/null

# --- report calls: one day (Monday 23 November, Chicago) ----------------------------
DAY=(--from 2026-11-23T00:00:00-06:00 --to 2026-11-24T00:00:00-06:00)
t=$(report calls "${DAY[@]}")
printf '%s\n' "$t" > "$FD_RUN/calls-day.txt"
check "day, table: oak billing 9 calls, 7 reached staff (77.8%), 1 nobody free, 1 late" has "$t" \
    'oak +billing +9 +7 +77\.8% \| +1 +1 '
check "day, table: oak scheduling 9 of 9, pine intake 9 of 9" eval \
    'has "$t" "oak +scheduling +9 +9 +100\.0%" && has "$t" "pine +intake +9 +9 +100\.0%"'
check "day, table: the after-hours call (no skill) counted as after_hours" has "$t" \
    'oak +- +1 +0 +0\.0% \| +0 +0 +0 +0 +0 +1 '
check "day, table: the late pick counted once, as late (its last entry)" has "$t" \
    'oak +billing +Mon 09:00-10:00 +1 of 1 calls: Redis late 1'
check "day, table: noon's billing call found nobody" has "$t" 'oak +billing +Mon 12:00-13:00 +1 of 1 calls: nobody free 1'
c=$(report calls "${DAY[@]}" --format csv)
check "day, csv: header, then one line a site, skill and hour with calls (28 calls in 28 lines)" eval \
    '[ "$(printf "%s\n" "$c" | head -1)" = "site,skill,weekday,hour,calls,staff,nobody,late,redis_down,redis_error,capped,after_hours,lunch,holiday,rules,rejected" ] && [ "$(printf "%s\n" "$c" | tail -n +2 | awk -F, "{ n += \$5 } END { print n \" \" NR }")" = "28 28" ]'
check "day, csv: oak billing Mon 12: 1 call, nobody 1" eq "$(csv_row "$c" oak billing Mon 12)" \
    "oak,billing,Mon,12,1,0,1,0,0,0,0,0,0,0,0,0"
check "day, csv: pine's hours in Denver time (08..16)" eq \
    "$(printf '%s\n' "$c" | awk -F, '$1 == "pine" { print $4 }' | sort -n | tr '\n' ' ')" "8 9 10 11 12 13 14 15 16 "
j=$(report calls "${DAY[@]}" --format json)
check "day, json: parses; oak billing's outcomes" eq \
    "$(printf '%s' "$j" | jq -c '.rows[] | select(.site == "oak" and .skill == "billing") | .outcomes')" \
    '{"staff":7,"nobody":1,"late":1}'

# --- report calls: the four weeks, one site, one skill -------------------------------
WEEKS=(--from 2026-11-02T00:00:00-06:00 --to 2026-11-30T00:00:00-06:00)
c=$(report calls "${WEEKS[@]}" --site pine --skill intake --format csv)
check "4 weeks, pine intake: 180 weekday calls reached staff" eq \
    "$(printf '%s\n' "$c" | awk -F, '$3 != "Sat" { s += $6 } END { print s }')" 180
check "4 weeks, pine intake: Saturday 09, 10, 11: 4 calls each, all found nobody" eq \
    "$(printf '%s\n' "$c" | awk -F, '$3 == "Sat" { print $4 ":" $5 ":" $7 }' | tr '\n' ' ')" "9:4:4 10:4:4 11:4:4 "
check "4 weeks, --site pine: no other site" eval '! printf "%s\n" "$c" | grep -q "^oak,"'
report calls "${WEEKS[@]}" --svg "$FD_RUN/calls.svg" >/dev/null
check "calls SVG: parses (xmllint)" xmllint --noout "$FD_RUN/calls.svg"
check "calls SVG: 6 rows of 168 hour cells, each site's bar" eq \
    "$(grep -c '<rect x="[0-9]*" y="[0-9]*" width="5" height="16"' "$FD_RUN/calls.svg") $(grep -c 'reached staff [0-9]* of' "$FD_RUN/calls.svg")" \
    "1008 2"
check "calls SVG: noon's billing cells red (0% reached), with their counts" eval \
    "grep -q 'fill=\"#d7301f\"><title>oak billing Mon 12:00: 4 calls, nobody free 4</title>' \"$FD_RUN/calls.svg\""

# --- report coverage: the coming week ------------------------------------------------
COV=(--week --at 2026-11-30T06:00:00Z)
t=$(report coverage "${COV[@]}")
printf '%s\n' "$t" > "$FD_RUN/coverage.txt"
c=$(report coverage "${COV[@]}" --format csv)
check "coverage: exactly the 9 planted gaps" eq "$(printf '%s\n' "$c" | tail -n +2 | cut -d, -f1-4 | tr '\n' ' ')" \
    "oak,billing,Mon,12 oak,billing,Tue,12 oak,billing,Wed,12 oak,billing,Thu,12 oak,billing,Fri,12 oak,records,Wed,10 pine,intake,Sat,9 pine,intake,Sat,10 pine,intake,Sat,11 "
check "coverage: each 100% nobody free, 1 call a week, 1 predicted" eq \
    "$(printf '%s\n' "$c" | tail -n +2 | cut -d, -f6-8 | sort -u)" "1.000,1.00,1.00"
check "coverage: records flagged as a skill nobody holds, the others not" eq \
    "$(printf '%s\n' "$c" | tail -n +2 | awk -F, '{ print $2 "=" $9 }' | sort -u | tr '\n' ' ')" "billing=no intake=no records=yes "
check "coverage: dates in the site's own time (pine's Saturday 09:00 in Denver)" has "$c" \
    'pine,intake,Sat,9,2026-12-05 09:00,'
check "coverage, table: predicted per site: oak 6.0, pine 3.0" has "$t" \
    'Predicted calls that will find nobody, the week: oak 6\.0, pine 3\.0'
check "coverage: scheduling (staff taking turns at lunch) has no gap" eval '! has "$c" ",scheduling,"'
c=$(report coverage "${COV[@]}" --min-share 0.9 --min-calls 0 --site oak --format csv)
check "coverage --min-calls 0: every open hour of the skill nobody holds (45), with billing's 5" eq \
    "$(printf '%s\n' "$c" | tail -n +2 | cut -d, -f2 | sort | uniq -c | awk '{ print $2 "=" $1 }' | tr '\n' ' ')" \
    "billing=5 records=45 "
j=$(report coverage "${COV[@]}" --format json)
check "coverage, json: 9 gaps, 9 calls predicted in all" eq \
    "$(printf '%s' "$j" | jq '[.gaps | length, (map(.predicted_nobody) | add)] | join(" ")' -r)" "9 9"
report coverage "${COV[@]}" --svg "$FD_RUN/coverage.svg" >/dev/null
check "coverage SVG: parses, 9 red cells" eval \
    "xmllint --noout \"$FD_RUN/coverage.svg\" && [ \"\$(grep -c 'nobody free 100% of the time' \"$FD_RUN/coverage.svg\")\" = 9 ]"

# --- bad input: a clear message and exit 2, never a report ------------------------------
# refused CMD...: exit 2 with a message, no report on stdout
refused() {
    local o e rc
    o=$("$@" 2>"$FD_RUN/err.txt"); rc=$?; e=$(cat "$FD_RUN/err.txt")
    [ $rc = 2 ] && [ -z "$o" ] && [ -n "$e" ] || { echo "    rc=$rc out=$o err=$e" >&2; return 1; }
}
check "no --config: refused" refused "$CTL" report calls --since 7d
check "--since nonsense: refused" refused "$CTL" report calls --config "$CFG" --since 7x
check "--to before --from: refused" refused "$CTL" report calls --config "$CFG" --from 2026-11-10T00:00:00Z --to 2026-11-01T00:00:00Z
check "an unknown site: refused, named" refused "$CTL" --redis "127.0.0.1:$FD_REDIS_PORT" report calls --config "$CFG" --site maple
check "coverage without --week: refused" refused "$CTL" report coverage --config "$CFG"
check "--format xml: refused" refused "$CTL" report calls --config "$CFG" --format xml
check "--weeks 13: refused" refused "$CTL" report coverage --config "$CFG" --week --weeks 13
check "report what: refused" refused "$CTL" report misses --config "$CFG"
check "a bad rules file: refused" refused "$CTL" --redis "127.0.0.1:$FD_REDIS_PORT" report calls --config /dev/null

# --- live calls through the proxy: what the callers got --------------------------------
R FCALL fd_staff_set 1 'fd:{elm}' e1 sip:e1@pbx.elm.example billing:3 available >/dev/null
FD_CONFIG=$CFG stack_start_proxy "" --redis-timeout 100 || exit 1
wait_ready || { bad "proxy ready"; finish; exit 1; }
o=$(CALLER=7001 call '15125550900*2' live-1)
check "live: a billing call reaches e1" eq "$(first_contact "$o")" sip:e1@pbx.elm.example
o=$(CALLER=7002 call '15125550900*2' live-2)
check "live: the next finds nobody free (e1 offered): the fallback" eq "$(contacts_of "$o")" sip:frontdesk@pbx.elm.example
o=$(CALLER=7003 call '15125550911' live-3)
check "live: the single destination, from the rules alone" eq "$(first_contact "$o")" sip:dr.elm@pbx.elm.example
R DEBUG SLEEP 0.4 >/dev/null &
sleeper=$!
sleep 0.05
o=$(CALLER=7004 call '15125550900*2' live-4)
wait "$sleeper"
check "live: Redis asleep: the fallback at the deadline" eq "$(contacts_of "$o")" sip:frontdesk@pbx.elm.example
# the proxy's batches (every 100 ms; the late one once Redis wakes): 5 entries
for i in $(seq 1 50); do [ "$(R XLEN 'fd:{elm}:calls')" -ge 5 ] && break; sleep 0.1; done
R XRANGE "fd:{elm}:calls" - + > "$FD_RUN/elm-stream.txt"
c=$(report calls --since 1h --site elm --format csv)
printf '%s\n' "$c" > "$FD_RUN/live.csv"
check "live: report calls counts elm billing: 1 staff, 1 nobody, 1 late" eq \
    "$(printf '%s\n' "$c" | awk -F, '$2 == "billing" { s += $6; n += $7; l += $8 } END { print s, n, l }')" "1 1 1"
check "live: and the single destination as the rules alone" eq \
    "$(printf '%s\n' "$c" | awk -F, '$2 == "" { r += $15 } END { print r }')" 1
check "live: the entries name the call by its hash, not its Call-ID" eval \
    'R XRANGE "fd:{elm}:calls" - + | grep -q "^$(call_hash live-1@pbx.example)	15125550900	2	billing	staff	1	"'

# --- privacy: no caller number, no Call-ID anywhere a report reads or writes -----------------
all=$(R XRANGE 'fd:{elm}:calls' - +; cat "$FD_RUN"/*.csv "$FD_RUN"/*.svg "$FD_RUN"/*.txt; report calls --since 1h --format json)
check "privacy: no caller number (512555700x) in the history, the reports, the SVGs" eval '! printf "%s" "$all" | grep -q "555700[1-4]"'
check "privacy: no Call-ID in clear" eval '! printf "%s" "$all" | grep -q "live-[1-4]"'
finish

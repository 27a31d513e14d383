#!/usr/bin/env bash
# Time-based routing through the daemon, with the rules' clock fixed
# (FRONTDESK_FAKE_TIME): Northlake (America/Chicago) open, at lunch (its
# staff skipped: overflow to Downtown), after hours and on a holiday (its
# voicemail), either side of the spring daylight-saving change; Westside
# (America/Denver) on a Saturday morning and afternoon; a single-destination
# number at any hour.
. "$(dirname "$0")/lib.sh"
stack_start_redis && stack_seed_demo || exit 1
VM=sip:voicemail@pbx.northlake.hillcountry.example
ANS=sip:answering@service.hillcountry.example

proxy_at 2026-12-01T16:00:00Z || exit 1          # Tue 10:00 CST
o=$(call 15125550200)
check "Northlake open (Tue 10:00 CST): its scheduling staff" has "$(first_contact "$o")" '^sip:(maria\.lopez|nate\.brooks)@pbx\.northlake\.'

proxy_at 2026-12-01T18:30:00Z || exit 1          # Tue 12:30 CST: lunch
o=$(call 15125550200)
check "Northlake at lunch (12:30 CST): overflow to Downtown" has "$(first_contact "$o")" '@pbx\.downtown\.'
check "Northlake at lunch: still ends at its voicemail" [ "$(contacts_of "$o" | tail -1)" = "$VM" ]

proxy_at 2026-12-02T01:00:00Z || exit 1          # Tue 19:00 CST
o=$(call 15125550200)
check "Northlake after hours (19:00 CST): its voicemail only" eval '[ "$(status_of "$o")" = 302 ] && [ "$(contacts_of "$o")" = "$VM" ]'

proxy_at 2026-12-25T16:00:00Z || exit 1          # Fri 10:00 CST, Christmas
o=$(call 15125550200)
check "Northlake on a holiday (Dec 25, 10:00): its voicemail only" [ "$(contacts_of "$o")" = "$VM" ]

# 2026-03-08: clocks go forward in the US. 13:30Z is 07:30 CST on Friday
# the 6th (closed) but 08:30 CDT on Monday the 9th (open).
proxy_at 2026-03-06T13:30:00Z || exit 1
o=$(call 15125550200)
check "before DST (Fri 07:30 CST): closed" [ "$(contacts_of "$o")" = "$VM" ]
proxy_at 2026-03-09T13:30:00Z || exit 1
o=$(call 15125550200)
check "after DST (Mon 08:30 CDT): open" has "$(first_contact "$o")" '@pbx\.northlake\.'

proxy_at 2026-12-05T17:00:00Z || exit 1          # Sat 10:00 MST
o=$(call 17205550300)
check "Westside Saturday 10:00 MST: intake staff" has "$(first_contact "$o")" '^sip:(uma\.patel|aaron\.bell)@pbx\.westside\.'
proxy_at 2026-12-05T20:00:00Z || exit 1          # Sat 13:00 MST
o=$(call 17205550300)
check "Westside Saturday 13:00 MST: the answering service" [ "$(contacts_of "$o")" = "$ANS" ]
o=$(call 15125550111)
check "a single-destination number: always Dr. Lee" [ "$(contacts_of "$o")" = sip:dr.lee@pbx.downtown.hillcountry.example ]

stack_stop
check "decisions logged with their reason" has "$(cat "$FD_PROXY_LOG")" 'reason="[^"]+"'
finish

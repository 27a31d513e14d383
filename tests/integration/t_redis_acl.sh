#!/usr/bin/env bash
# Redis ACL users (deploy/redis/users.acl.in, rendered by
# deploy/redis/acl.sh): the proxy, as user "frontdesk", routes calls; the
# dashboards' user sets presence and staff and hears the events, but cannot
# pick, release, read a recorded decision or the caller memory, load
# Functions or run other commands; the proxy's user cannot change presence
# nor staff. The rendered file is one redis-server --aclfile takes.
. "$(dirname "$0")/lib.sh"
FALLBACK=sip:frontdesk@pbx.downtown.hillcountry.example
export FRONTDESK_PROXY_PASSWORD=proxy-$RANDOM$RANDOM FRONTDESK_DASHBOARD_PASSWORD=dash-$RANDOM$RANDOM
out=$(sh "$FD_ROOT/deploy/redis/acl.sh" "$FD_RUN/users.acl"); rc=$?
check "acl.sh renders the file, mode 0600, and prints the admin password it made" \
    eval '[ $rc = 0 ] && [ "$(stat -c %a "$FD_RUN/users.acl")" = 600 ] && printf "%s" "$out" | grep -qE "^FRONTDESK_ADMIN_PASSWORD=[0-9a-f]{32}$" && ! grep -q "@[A-Z_]*@" "$FD_RUN/users.acl"'
ADMIN_PW=$(printf '%s' "$out" | sed -n 's/^FRONTDESK_ADMIN_PASSWORD=//p')

# redis-server takes the file as it is
port=$(stack_free_port)
mkdir -p "$FD_RUN/aclredis"
redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --dir "$FD_RUN/aclredis" \
    --aclfile "$FD_RUN/users.acl" --daemonize no --logfile "$FD_RUN/aclredis/redis.log" &
apid=$!
FD_PIDS="$FD_PIDS $apid"
for _ in $(seq 1 50); do redis-cli -p "$port" --user admin --pass "$ADMIN_PW" --no-auth-warning PING 2>/dev/null | grep -q PONG && break; sleep 0.1; done
users=$(redis-cli -p "$port" --user admin --pass "$ADMIN_PW" --no-auth-warning ACL USERS 2>&1 | tr '\n' ' ')
check "redis-server --aclfile loads it: $users" eval '[ "$users" = "admin dashboard default frontdesk " ]'
o=$(redis-cli -p "$port" PING 2>&1)
check "the default user is off" eval 'printf "%s" "$o" | grep -q "NOAUTH\|WRONGPASS\|NOPERM"'
kill "$apid"; wait "$apid" 2>/dev/null; FD_PIDS=${FD_PIDS/ $apid/}

# the users on the test Redis (its default user stays on for the stack)
stack_start_redis && stack_seed_demo || exit 1
grep '^user \(frontdesk\|dashboard\) ' "$FD_RUN/users.acl" | while read -r _ name rules; do
    # shellcheck disable=SC2086
    stack_redis ACL SETUSER "$name" $rules >/dev/null
done
as() { local u=$1 pw=$2; shift 2; redis-cli -p "$FD_REDIS_PORT" --user "$u" --pass "$pw" --no-auth-warning "$@" 2>&1; }
proxy() { as frontdesk "$FRONTDESK_PROXY_PASSWORD" "$@"; }
dash() { as dashboard "$FRONTDESK_DASHBOARD_PASSWORD" "$@"; }

FRONTDESK_REDIS_USER=frontdesk FRONTDESK_REDIS_PASSWORD=$FRONTDESK_PROXY_PASSWORD stack_start_proxy "" || exit 1
o=$(sip invite.sip acl-1)
check "the proxy as user frontdesk: staff picked" \
    eval '[ "$(status_of "$o")" = 302 ] && [ "$(first_contact "$o")" != "$FALLBACK" ]'
check "and its decision recorded" eval '[ "$(stack_redis EXISTS "fd:{downtown}:call:$(call_hash acl-1@pbx.example)")" = 1 ]'

o=$(dash FCALL fd_presence 1 'fd:{downtown}' carla.nguyen busy "on a call")
check "the dashboard user sets presence ($o)" eval '[ "$o" = OK ] && [ "$(stack_redis HGET "fd:{downtown}:staff:carla.nguyen" state)" = busy ]'
o=$(dash FCALL fd_staff_set 1 'fd:{downtown}' zoe.test 'sip:zoe@pbx.downtown.hillcountry.example' billing:3 available)
check "and adds staff ($o)" [ "$o" = OK ]
o=$(dash FCALL_RO fd_staff_list 1 'fd:{downtown}')
check "and lists them" has "$o" "zoe.test"
o=$("$CTL" --redis "127.0.0.1:$FD_REDIS_PORT" --user dashboard --password "$FRONTDESK_DASHBOARD_PASSWORD" \
    presence set downtown zoe.test available 2>&1); rc=$?
check "frontdeskctl as the dashboard user sets presence ($o)" eval '[ $rc = 0 ] && [ "$(stack_redis HGET "fd:{downtown}:staff:zoe.test" state)" = available ]'
subs=$(stack_redis PUBSUB NUMSUB fd:events | tail -n 1)
timeout 3 redis-cli -p "$FD_REDIS_PORT" --user dashboard --pass "$FRONTDESK_DASHBOARD_PASSWORD" --no-auth-warning \
    SUBSCRIBE fd:events >"$FD_RUN/events.txt" 2>&1 &
spid=$!
for _ in $(seq 1 50); do
    [ "$(stack_redis PUBSUB NUMSUB fd:events | tail -n 1)" -gt "$subs" ] 2>/dev/null && break
    sleep 0.05
done
dash FCALL fd_presence 1 'fd:{downtown}' zoe.test break lunch >/dev/null
wait "$spid" 2>/dev/null
check "and hears the events" grep -q '"staff":"zoe.test"' "$FD_RUN/events.txt"

no() { printf '%s' "$1" | grep -q "NOPERM"; }
o=$(dash FCALL fd_pick 1 'fd:{downtown}' acl-x - x)
check "the dashboard user cannot pick ($o)" no "$o"
o=$(dash FCALL fd_release 1 'fd:{downtown}' "$(call_hash acl-1@pbx.example)")
check "nor release an offer" no "$o"
o=$(dash FCALL_RO fd_decision 1 'fd:{downtown}' "$(call_hash acl-1@pbx.example)")
check "nor read a recorded decision through its Function" no "$o"
o=$(dash GET "fd:{downtown}:call:$(call_hash acl-1@pbx.example)")
check "nor read the record itself ($o)" no "$o"
o=$(dash HSET 'fd:{downtown}:claim' zoe.test 9999999999999)
check "nor reserve anyone: no write to the claims ($o)" no "$o"
o=$(dash ZADD 'fd:{downtown}:claims:zoe.test' 9999999999999 x)
check "nor to a multi-offer person's claims ($o)" no "$o"
o=$(dash XADD 'fd:{downtown}:calls' '*' r staff)
check "nor write the call history ($o)" no "$o"
o=$(dash XLEN 'fd:{downtown}:calls')
check "but it may read the call history (a board's today: $o)" has "$o" '^[0-9]+$'
o=$(dash XREVRANGE 'fd:{downtown}:presence' + - COUNT 1)
check "and the presence history its changes wrote" has "$o" 'carla.nguyen|zoe.test'
o=$(dash HGET 'fd:{downtown}:claim' zoe.test)
check "and read the claims (who is offered a call: $o)" eval '! no "$o"'
o=$(dash KEYS '*')
check "nor list the keys" no "$o"
o=$(dash FUNCTION FLUSH)
check "nor flush or load Functions" no "$o"
o=$(dash CONFIG GET '*')
check "nor read the configuration" no "$o"

o=$(proxy FCALL fd_presence 1 'fd:{downtown}' carla.nguyen available)
check "the proxy's user cannot change presence ($o)" no "$o"
o=$(proxy FCALL fd_staff_set 1 'fd:{downtown}' evil 'sip:evil@192.0.2.66' billing:5 available)
check "nor add staff" no "$o"
o=$(proxy FCALL fd_staff_remove 1 'fd:{downtown}' zoe.test)
check "nor remove them" no "$o"
check "nor has anything changed: carla busy, no evil" \
    eval '[ "$(stack_redis HGET "fd:{downtown}:staff:carla.nguyen" state)" = busy ] && [ "$(stack_redis EXISTS "fd:{downtown}:staff:evil")" = 0 ]'

# the reception board as the dashboard user: it reads the staff and sets presence
FRONTDESK_CALLER_KEY=$FD_DEMO_CALLER_KEY "$FD_ROOT/build/frontdesk-board" --config "$FD_ROOT/rules/examples/demo.yaml" \
    --listen 127.0.0.1:0 --redis "127.0.0.1:$FD_REDIS_PORT" --user dashboard --password "$FRONTDESK_DASHBOARD_PASSWORD" \
    --ports-file "$FD_RUN/board.port" >"$FD_RUN/board.log" 2>&1 &
FD_PIDS="$FD_PIDS $!"
for i in $(seq 1 50); do [ -s "$FD_RUN/board.port" ] && break; sleep 0.1; done
bp=$(awk '{ n = split($2, p, ":"); print p[n] }' "$FD_RUN/board.port")
o=$(curl -s "http://127.0.0.1:$bp/api/staff?site=downtown")
check "the board as the dashboard user lists the staff (fd_staff_board)" has "$o" '"id":"carla.nguyen","state":"busy"'
o=$(curl -s -H 'X-Board: 1' -d 'site=downtown&id=carla.nguyen&state=available' "http://127.0.0.1:$bp/api/presence")
check "and sets presence ($o)" eval '[ "$o" = "{\"ok\":true}" ] && [ "$(stack_redis HGET "fd:{downtown}:staff:carla.nguyen" state)" = available ]'
finish

#!/usr/bin/env bash
# Redis Sentinel: the proxy asks a sentinel where the master is, picks
# staff there, and follows a failover: the master is killed, the sentinel
# promotes the replica, calls meanwhile get their fallback, and picks resume
# on the new master without a restart. Two redis-servers and a sentinel, all
# on loopback.
. "$(dirname "$0")/lib.sh"
FALLBACK=sip:frontdesk@pbx.downtown.hillcountry.example
stack_start_redis && stack_seed_demo || exit 1
MASTER_PORT=$FD_REDIS_PORT MASTER_PID=$FD_REDIS_PID

rport=$(stack_free_port)
mkdir -p "$FD_RUN/replica"
redis-server --bind 127.0.0.1 --port "$rport" --save '' --appendonly no --dir "$FD_RUN/replica" \
    --replicaof 127.0.0.1 "$MASTER_PORT" --logfile "$FD_RUN/replica/redis.log" >/dev/null 2>&1 &
REPLICA_PID=$!; FD_PIDS="$FD_PIDS $REPLICA_PID"

# the replica in sync before the sentinel starts: the sentinel's first look
# at the master then finds it (else it waits up to 10 s to discover it, and
# a failover meanwhile aborts with no good replica)
# (polled up to 20 s: a full sync on a busy shared box may take seconds)
for i in $(seq 1 200); do
    redis-cli -p "$rport" INFO replication 2>/dev/null | grep -q 'master_link_status:up' &&
        redis-cli -p "$rport" FCALL_RO fd_staff_get 1 "fd:{downtown}" ana.garcia 2>/dev/null |
        grep -q sip:ana.garcia && break
    sleep 0.1
done

sport=$(stack_free_port)
mkdir -p "$FD_RUN/sentinel"
cat > "$FD_RUN/sentinel/sentinel.conf" <<CONF
port $sport
bind 127.0.0.1
dir $FD_RUN/sentinel
logfile $FD_RUN/sentinel/sentinel.log
sentinel monitor fdmaster 127.0.0.1 $MASTER_PORT 1
sentinel down-after-milliseconds fdmaster 500
sentinel failover-timeout fdmaster 3000
sentinel parallel-syncs fdmaster 1
CONF
redis-server "$FD_RUN/sentinel/sentinel.conf" --sentinel >/dev/null 2>&1 &
SENTINEL_PID=$!; FD_PIDS="$FD_PIDS $SENTINEL_PID"

for i in $(seq 1 150); do   # the sentinel up and aware of the replica
    redis-cli -p "$sport" SENTINEL replicas fdmaster 2>/dev/null | grep -q "^$rport$" && break
    sleep 0.1
done
check "replica in sync and sentinel watching" eval 'redis-cli -p "$rport" FCALL_RO fd_staff_get 1 "fd:{downtown}" ana.garcia | grep -q sip:ana.garcia'

stack_start_proxy "" --redis-sentinel "127.0.0.1:$sport" --redis-master fdmaster --offer-window 100 || exit 1
o=$(sip invite.sip sen-1)
check "through the sentinel: staff picked on the master" has "$(first_contact "$o")" '@pbx\.downtown\.'
check "the master is the one the sentinel named" has "$(cat "$FD_PROXY_LOG")" "master from sentinel.*redis=127.0.0.1:$MASTER_PORT"

kill "$MASTER_PID"; wait "$MASTER_PID" 2>/dev/null
o=$(sip invite.sip sen-down)
check "master down: the fallback, at once" [ "$(contacts_of "$o")" = "$FALLBACK" ]
got=""
for i in $(seq 1 200); do   # failover: down-after 0.5 s, then promotion (slow machines: 20 s)
    o=$(sip invite.sip "sen-fo-$i"); c=$(first_contact "$o")
    if [ -n "$c" ] && [ "$c" != "$FALLBACK" ]; then got=$c; break; fi
    sleep 0.1
done
check "after the failover: staff picked again ($got)" [ -n "$got" ]
check "the new master is the former replica" has "$(cat "$FD_PROXY_LOG")" "master from sentinel.*redis=127.0.0.1:$rport"
check "the proxy never stopped" kill -0 "$FD_PROXY_PID"
FD_REDIS_PORT=$rport
finish

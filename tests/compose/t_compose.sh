#!/usr/bin/env bash
# `make compose-test`: deploy/compose.yaml as ops start it, with
# podman-compose (installed from Debian's packages when missing) or docker
# compose: Redis with its ACL users, the one-shot seeder, the proxy as
# Redis user "frontdesk". Checks: the proxy is ready (/readyz from the
# host), a call to the demo group gets a 302 to staff over UDP and TCP, the
# seeder ran as the admin, and the proxy's Redis user cannot change
# presence. Everything it started is taken down at the end.
. "$(dirname "$0")/../integration/lib.sh"
. "$FD_ROOT/deploy/image/engine.sh"
FALLBACK=sip:frontdesk@pbx.downtown.hillcountry.example
engine_pick && engine_base || { bad "a container engine"; finish; exit 1; }
if [ "$ENGINE" = podman ]; then
    if ! command -v podman-compose >/dev/null; then
        sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends podman-compose >/dev/null
    fi
    COMPOSE=(podman-compose)
else
    COMPOSE=(docker compose)
fi
SIP=$(stack_free_port) ADMIN=$(stack_free_port)
cat >"$FD_RUN/compose.env" <<ENV
FRONTDESK_CALLER_KEY=$FD_DEMO_CALLER_KEY
FRONTDESK_PROXY_PASSWORD=proxy$RANDOM$RANDOM
FRONTDESK_DASHBOARD_PASSWORD=dash$RANDOM$RANDOM
FRONTDESK_ADMIN_PASSWORD=admin$RANDOM$RANDOM
FRONTDESK_BIND=127.0.0.1
FRONTDESK_SIP_PORT=$SIP
FRONTDESK_ADMIN_PORT=$ADMIN
FRONTDESK_RULES=$FD_RUN/rules.yaml
ENV
# the demo's rules, trusting the container networks too: published ports
# reach the proxy from the network's gateway
sed 's|^trusted: .*|trusted: ["127.0.0.0/8", "::1", "10.0.0.0/8", "172.16.0.0/12"]|' \
    "$FD_ROOT/rules/examples/demo.yaml" >"$FD_RUN/rules.yaml"
chmod 0644 "$FD_RUN/rules.yaml"
set -a # compose reads them from the environment (podman-compose 1.0 has no --env-file)
. "$FD_RUN/compose.env"
set +a
project=fdtest$$
dc() { "${COMPOSE[@]}" -p "$project" -f "$FD_ROOT/deploy/compose.yaml" "$@"; }
down() { dc down -v >>"$FD_RUN/compose.log" 2>&1; }
trap 'down; stack_stop' EXIT
t0=$(date +%s)
if ! dc up -d >"$FD_RUN/compose.log" 2>&1; then
    tail -n 30 "$FD_RUN/compose.log"
    bad "compose up"
    finish
    exit 1
fi
ready=""
for _ in $(seq 1 150); do
    ready=$(stack_http "$ADMIN" /readyz 2>/dev/null | head -n 1)
    case $ready in *" 200 "*) break;; esac
    sleep 0.2
done
check "compose up: the proxy is ready ($ready, $(( $(date +%s) - t0 )) s)" eval 'case "$ready" in *" 200 "*) true;; *) false;; esac'
for _ in $(seq 1 50); do
    n=$(dc exec -T redis redis-cli --user admin --pass "$FRONTDESK_ADMIN_PASSWORD" --no-auth-warning \
        SCARD 'fd:{downtown}:staff' 2>/dev/null | tr -d '\r' | grep -E '^[0-9]+$' | tail -n 1)
    [ "${n:-0}" -gt 0 ] && break
    sleep 0.2
done
check "the seeder loaded the demo group ($n staff at downtown)" [ "${n:-0}" = 12 ]
FD_SIP_PORT=$SIP
o=$(sip invite.sip compose-1)
check "a call over UDP: 302 to staff" eval '[ "$(status_of "$o")" = 302 ] && [ "$(first_contact "$o")" != "$FALLBACK" ]'
o=$(sed -e "s/CALLID/compose-2/g" -e "s/CALLER/222333/g" -e 's|SIP/2.0/UDP|SIP/2.0/TCP|' "$SIPDIR/invite.sip" |
    "$SIPSEND" --tcp --to "127.0.0.1:$SIP" --timeout-ms 3000 -)
check "a call over TCP: 302 to staff" eval '[ "$(status_of "$o")" = 302 ] && [ "$(first_contact "$o")" != "$FALLBACK" ]'
o=$(dc exec -T redis redis-cli --user frontdesk --pass "$FRONTDESK_PROXY_PASSWORD" --no-auth-warning \
    FCALL fd_presence 1 'fd:{downtown}' carla.nguyen offline 2>&1 | grep -E '^(NOPERM|OK|ERR)' | tail -n 1)
check "the proxy's Redis user cannot change presence ($o)" eval 'printf "%s" "$o" | grep -q NOPERM'
finish

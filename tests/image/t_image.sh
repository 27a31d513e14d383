#!/usr/bin/env bash
# `make image-test`: the container image as ops run it. Build it (podman or
# docker, deploy/image/build.sh), start it on the host's network against a
# private Redis on loopback seeded with the demo group, the caller key from
# a secret file, and check: it runs as an unprivileged user, /readyz says
# ready, OPTIONS -> 200 over UDP and TCP, a routed INVITE -> 302 to staff,
# its HEALTHCHECK passes; without a caller key it refuses to start, saying
# why. The container is stopped by its id; it also stops by itself
# (--timeout) should the test die.
. "$(dirname "$0")/../integration/lib.sh"
. "$FD_ROOT/deploy/image/engine.sh"
TAG=frontdesk:image-test
FALLBACK=sip:frontdesk@pbx.downtown.hillcountry.example
engine_pick && engine_base || { bad "a container engine (podman from Debian's packages)"; finish; exit 1; }
t0=$(date +%s)
if ! engine_build "$TAG" >"$FD_RUN/build.log" 2>&1; then
    tail -n 30 "$FD_RUN/build.log"
    bad "the image builds"
    finish
    exit 1
fi
ok "the image builds with $ENGINE ($(( $(date +%s) - t0 )) s)"

stack_start_redis && stack_seed_demo || exit 1
SIP=$(stack_free_port) ADMIN=$(stack_free_port)
printf '%s\n' "$FD_DEMO_CALLER_KEY" >"$FD_RUN/caller_key"
chmod 0644 "$FD_RUN/caller_key"
CID=""
cleanup() { [ -n "$CID" ] && $ENGINE rm -f "$CID" >/dev/null 2>&1; stack_stop; }
trap cleanup EXIT
# the image's CMD, on loopback ports of the host's network
CID=$($ENGINE run -d --network host --timeout 300 \
    -v "$FD_RUN/caller_key:/run/secrets/frontdesk_caller_key:ro" \
    -e FRONTDESK_FAKE_TIME="$FRONTDESK_FAKE_TIME" -e FRONTDESK_ADMIN_PORT="$ADMIN" \
    "$TAG" --config /etc/frontdesk/rules.yaml --listen "udp+tcp:127.0.0.1:$SIP" \
    --admin "127.0.0.1:$ADMIN" --redis "127.0.0.1:$FD_REDIS_PORT" --workers 2 2>"$FD_RUN/run.err") ||
    { bad "the container starts"; finish; exit 1; }
ready=""
for _ in $(seq 1 100); do
    ready=$(stack_http "$ADMIN" /readyz 2>/dev/null | head -n 1)
    case $ready in *" 200 "*) break;; esac
    sleep 0.1
done
check "/readyz from outside the container: 200 ($ready)" eval 'case "$ready" in *" 200 "*) true;; *) false;; esac'
[ -n "${ready##* 200 *}" ] && $ENGINE logs "$CID" | tail -n 20
check "it runs as an unprivileged user" eval '[ "$($ENGINE exec "$CID" id -u)" != 0 ]'

FD_SIP_PORT=$SIP
o=$(printf 'OPTIONS sip:15125550100@127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:$LPORT;branch=z9hG4bK-img-o;rport\nMax-Forwards: 70\nFrom: <sip:pbx@127.0.0.1>;tag=i\nTo: <sip:15125550100@127.0.0.1>\nCall-ID: img-options@x\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n' |
    "$SIPSEND" --to "127.0.0.1:$SIP" --timeout-ms 2000 -)
check "OPTIONS over UDP: 200" [ "$(status_of "$o")" = 200 ]
o=$(printf 'OPTIONS sip:15125550100@127.0.0.1 SIP/2.0\nVia: SIP/2.0/TCP 127.0.0.1:$LPORT;branch=z9hG4bK-img-t\nMax-Forwards: 70\nFrom: <sip:pbx@127.0.0.1>;tag=i\nTo: <sip:15125550100@127.0.0.1>\nCall-ID: img-options-tcp@x\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n' |
    "$SIPSEND" --tcp --to "127.0.0.1:$SIP" --timeout-ms 2000 -)
check "OPTIONS over TCP: 200" [ "$(status_of "$o")" = 200 ]
o=$(sip invite.sip img-call-1)
check "a routed INVITE: 302 to staff" \
    eval '[ "$(status_of "$o")" = 302 ] && [ -n "$(first_contact "$o")" ] && [ "$(first_contact "$o")" != "$FALLBACK" ]'
if [ "$ENGINE" = podman ]; then
    check "its HEALTHCHECK passes" podman healthcheck run "$CID"
fi
$ENGINE rm -f "$CID" >/dev/null 2>&1
CID=""

out=$($ENGINE run --rm --network host --timeout 60 "$TAG" --config /etc/frontdesk/rules.yaml \
    --listen "127.0.0.1:$SIP" --admin off --redis "127.0.0.1:$FD_REDIS_PORT" 2>&1); rc=$?
check "no caller key: it does not start, and says why (exit $rc)" \
    eval '[ $rc = 2 ] && printf "%s" "$out" | grep -q "needs a caller key: set FRONTDESK_CALLER_KEY"'
finish

#!/usr/bin/env bash
# systemd: `make install` (into a DESTDIR) installs the binaries, the man
# pages, the unit with the paths of its PREFIX, a sample /etc/default file
# and a sample rules file (an existing one kept); `systemd-analyze verify`
# finds nothing wrong with the unit; the daemon tells systemd it is ready
# (Type=notify: READY=1 on $NOTIFY_SOCKET once it serves) and that it stops.
. "$(dirname "$0")/lib.sh"
ROOT=$FD_RUN/root
out=$(make -C "$FD_ROOT" --no-print-directory install DESTDIR="$ROOT" PREFIX=/usr 2>&1); rc=$?
check "make install DESTDIR=... PREFIX=/usr ($rc)" [ $rc = 0 ]
for f in /usr/bin/frontdesk /usr/bin/frontdeskctl /usr/share/man/man8/frontdesk.8 \
         /usr/share/man/man1/frontdeskctl.1 /usr/share/man/man5/frontdesk-rules.5 \
         /usr/lib/systemd/system/frontdesk.service /usr/share/frontdesk/frontdesk.default \
         /etc/frontdesk/rules.yaml /usr/share/doc/frontdesk/operations.md; do
    [ -e "$ROOT$f" ] || missing="${missing:-} $f"
done
check "it installs the binaries, man pages, unit, samples and docs${missing:+ (missing:$missing)}" [ -z "${missing:-}" ]
unit=$ROOT/usr/lib/systemd/system/frontdesk.service
check "the unit runs the binary of its PREFIX" grep -q '^ExecStart=/usr/bin/frontdesk --config /etc/frontdesk/rules.yaml $FRONTDESK_OPTS$' "$unit"
check "and reloads with SIGHUP" grep -q '^ExecReload=/bin/kill -HUP $MAINPID$' "$unit"
"$FD_ROOT/build/frontdeskctl" rules check "$ROOT/etc/frontdesk/rules.yaml" >/dev/null
check "the sample rules file passes rules check" [ $? = 0 ]
echo "# ours" >"$ROOT/etc/frontdesk/rules.yaml"
make -C "$FD_ROOT" --no-print-directory install-systemd DESTDIR="$ROOT" PREFIX=/usr >/dev/null 2>&1
check "an installed rules file is kept" grep -q '^# ours$' "$ROOT/etc/frontdesk/rules.yaml"
make -C "$FD_ROOT" --no-print-directory install-systemd DESTDIR="$FD_RUN/local" >/dev/null 2>&1
check "PREFIX=/usr/local (the default): the unit names /usr/local/bin" \
    grep -q '^ExecStart=/usr/local/bin/frontdesk ' "$FD_RUN/local/usr/local/lib/systemd/system/frontdesk.service"
# verify checks that ExecStart's binary exists: a PREFIX where it does
P=$FD_RUN/prefix
make -C "$FD_ROOT" --no-print-directory install-bin install-systemd PREFIX="$P" SYSCONFDIR="$P/etc" >/dev/null 2>&1
if command -v systemd-analyze >/dev/null; then
    out=$(systemd-analyze verify --man=no "$P/lib/systemd/system/frontdesk.service" 2>&1); rc=$?
    check "systemd-analyze verify: clean${out:+ ($out)}" eval '[ $rc = 0 ] && [ -z "$out" ]'
else
    bad "systemd-analyze (systemd) to verify the unit"
fi

# Type=notify: READY=1 once serving, STOPPING=1 on SIGTERM
"$FD_ROOT/build/tests/notifyd" "$FD_RUN/notify.sock" 20 >"$FD_RUN/notify.out" &
NPID=$!
FD_PIDS="$FD_PIDS $NPID"
for _ in $(seq 1 50); do grep -q listening "$FD_RUN/notify.out" && break; sleep 0.05; done
stack_start_redis && stack_seed_demo || exit 1
NOTIFY_SOCKET=$FD_RUN/notify.sock stack_start_proxy "" || exit 1
wait "$NPID"; rc=$?
FD_PIDS=${FD_PIDS/ $NPID/}
check "the daemon tells systemd it is ready (READY=1, STATUS=serving)" \
    eval '[ $rc = 0 ] && grep -q "^READY=1$" "$FD_RUN/notify.out" && grep -q "^STATUS=serving$" "$FD_RUN/notify.out"'
finish

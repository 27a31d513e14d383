#!/usr/bin/env bash
# The daemon's flags and rules file errors: a clear message and exit 2;
# --help and --version exit 0; a busy port is a clear error, exit 1.
. "$(dirname "$0")/lib.sh"
B=$FD_BIN
run() { out=$("$@" 2>&1); rc=$?; }

run "$B" --help
check "--help: exit 0 and usage" eval '[ $rc = 0 ] && has "$out" "^usage: frontdesk" && has "$out" "--redis-timeout"'
run "$B" --version
check "--version: exit 0" eval '[ $rc = 0 ] && has "$out" "^frontdesk [0-9]+\.[0-9]+\.[0-9]+$"'
run "$B" --config "$FD_ROOT/rules/examples/demo.yaml" --bogus
check "unknown flag: exit 2, names it" eval '[ $rc = 2 ] && has "$out" "unknown flag --bogus"'
run "$B" --listen 127.0.0.1:5060
check "no --config: exit 2" eval '[ $rc = 2 ] && has "$out" "--config FILE is required"'
run "$B" --config x --workers 0
check "--workers 0: exit 2" eval '[ $rc = 2 ] && has "$out" "--workers 0"'
run "$B" --config x --listen localhost
check "bad --listen: exit 2" eval '[ $rc = 2 ] && has "$out" "--listen localhost"'
run "$B" --config x --redis nohostport
check "bad --redis: exit 2" eval '[ $rc = 2 ] && has "$out" "--redis nohostport"'
run "$B" --config x --redis-timeout 0
check "bad --redis-timeout: exit 2" eval '[ $rc = 2 ] && has "$out" "--redis-timeout"'
run "$B" --config "$FD_RUN/missing.yaml"
check "missing rules file: exit 2, names it" eval '[ $rc = 2 ] && has "$out" "missing.yaml"'

printf 'version: 1\ngroups:\n  - name: G\n    sites:\n      - id: a\n        timezone: America/Chicago\n        dids: ["1"]\n        default_skill: s\n        fallback: sip:x@y\n        colour: blue\n' > "$FD_RUN/bad.yaml"
run "$B" --config "$FD_RUN/bad.yaml"
check "unknown key: exit 2 with file:line:col" eval '[ $rc = 2 ] && has "$out" "bad.yaml:10:[0-9]+: .*colour"'
printf 'version: 1\nmode: forward\ngroups:\n  - name: G\n    sites:\n      - {id: a, timezone: UTC, dids: ["1"], default_skill: s, fallback: "sip:x@127.0.0.1:5099"}\n' > "$FD_RUN/fwd.yaml"
run "$B" --config "$FD_RUN/fwd.yaml" --listen 0.0.0.0:5099 --admin off
check "forward mode on 0.0.0.0 without --advertise: exit 2, says why" eval '[ $rc = 2 ] && has "$out" "needs --advertise"'
run "$B" --config "$FD_RUN/fwd.yaml" --advertise pbx.example
check "bad --advertise: exit 2" eval '[ $rc = 2 ] && has "$out" "--advertise pbx.example"'
printf 'version: 1\ngroups: [\n' > "$FD_RUN/syntax.yaml"
run "$B" --config "$FD_RUN/syntax.yaml"
check "YAML syntax error: exit 2 with file:line" eval '[ $rc = 2 ] && has "$out" "syntax.yaml:[0-9]+"'

# a port already taken
stack_start_redis >/dev/null || exit 1
port=$(stack_free_port)
stack_start_proxy "$port" >/dev/null || exit 1
run timeout 5 "$B" --config "$FD_ROOT/rules/examples/demo.yaml" --listen "127.0.0.1:$port" --redis "127.0.0.1:$FD_REDIS_PORT"
check "port in use: exit 1, says so" eval '[ $rc = 1 ] && has "$out" "cannot listen on udp 127.0.0.1:$port"'

# port 0: the system picks; --ports-file says which (the stack starts every
# proxy this way)
stack_start_proxy "" >/dev/null || exit 1
pf=$(ls "$FD_RUN"/ports-* 2>/dev/null | while read -r f; do grep -q "^udp 127.0.0.1:$FD_SIP_PORT$" "$f" && echo "$f"; done | head -n 1)
check "--ports-file: the SIP and admin ports the system gave" \
    eval '[ -n "$pf" ] && [ "$FD_SIP_PORT" -gt 0 ] && [ "$FD_ADMIN_PORT" -gt 0 ] &&
          [ "$(cat "$pf")" = "$(printf "udp 127.0.0.1:%s\nadmin 127.0.0.1:%s" "$FD_SIP_PORT" "$FD_ADMIN_PORT")" ]'
out=$(sip invite.sip flags-port0 --expect 1 --timeout-ms 3000)
check "a proxy on port 0 answers on the port it wrote ($(status_of "$out"))" [ "$(status_of "$out")" = 302 ]
check "its admin answers on the port it wrote" has "$(stack_http "$FD_ADMIN_PORT" /healthz)" "^ok"
run timeout 5 "$B" --config "$FD_ROOT/rules/examples/demo.yaml" --listen 127.0.0.1:0 --admin off \
    --redis "127.0.0.1:$FD_REDIS_PORT" --ports-file "$FD_RUN/no-such-dir/ports"
check "--ports-file it cannot write: exit 1, says so" \
    eval '[ $rc = 1 ] && has "$out" "cannot write --ports-file .*no-such-dir/ports"'
finish

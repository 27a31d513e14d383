#!/usr/bin/env bash
# A SIP scanner (sipvicious, Debian's package: svmap finds SIP servers,
# svwar enumerates extensions) aimed at a proxy whose rules trust the trunk
# 127.0.0.9 only, from a stranger's address (127.0.0.1: svwar 0.3.3 does
# not pass its -b on to its socket): it finds no server and no extension,
# learns no staff address, and makes no pick in Redis. The same svmap
# from the trunk's address does find the proxy (the scanner works).
# Skipped, saying why, when sipvicious is not installed.
. "$(dirname "$0")/lib.sh"
if ! command -v svmap >/dev/null 2>&1 || ! command -v svwar >/dev/null 2>&1; then
    echo "  skipped: sipvicious (svmap, svwar) is not installed (deploy/deps.sh installs it)"
    echo "t_sipvicious: 0 passed, 0 failed"
    exit 0
fi
export FD_CONFIG=$FD_RUN/trusted.yaml
sed 's|^trusted: .*|trusted: ["127.0.0.9"]|' "$FD_ROOT/rules/examples/demo.yaml" >"$FD_CONFIG"
stack_start_redis && stack_seed_demo && stack_start_proxy "" || exit 1
fcalls() { stack_redis INFO commandstats | sed -n 's/^cmdstat_fcall:calls=\([0-9]*\),.*/\1/p'; }
export HOME=$FD_RUN # sipvicious keeps its session files under ~/.sipvicious

before=$(fcalls)
out=$(timeout 60 svmap -p "$FD_SIP_PORT" -t 0.5 127.0.0.1 2>&1)
check "svmap from a stranger: no SIP server found" eval '! has "$out" "127\.0\.0\.1:$FD_SIP_PORT"'
out=$(timeout 60 svwar -p "$FD_SIP_PORT" -m INVITE -e 15125550100-15125550110 -t 0.5 127.0.0.1 2>&1)
check "svwar from a stranger: no extension found" eval '! has "$out" "^\| *1512555"'
check "no staff address leaked" eval '! has "$out" "hillcountry\.example"'
check "no pick in Redis" [ "$(fcalls)" = "$before" ]
check "counted as untrusted" [ "$(stack_http "$FD_ADMIN_PORT" /metrics | awk '$1 == "frontdesk_untrusted_source_total" { print $2 }')" -gt 0 ]

out=$(timeout 60 svmap -b 127.0.0.9 -p "$FD_SIP_PORT" -t 0.5 127.0.0.1 2>&1)
check "svmap from the trusted trunk's address does find it (the scanner works)" has "$out" "127\.0\.0\.1:$FD_SIP_PORT"
finish

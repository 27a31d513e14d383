#!/usr/bin/env bash
# The man pages (deploy/man): frontdesk(8), frontdeskctl(1) and
# frontdesk-rules(5) are clean for `mandoc -T lint`, name every flag the
# daemon's --help names and every command of frontdeskctl, and the rules
# page's example passes `frontdeskctl rules check`.
. "$(dirname "$0")/lib.sh"
MAN=$FD_ROOT/deploy/man
command -v mandoc >/dev/null || { bad "mandoc (deploy/deps.sh installs it)"; finish; exit 1; }
for page in frontdesk.8 frontdeskctl.1 frontdesk-rules.5; do
    out=$(mandoc -T lint -W warning "$MAN/$page" 2>&1); rc=$?
    check "$page: mandoc -T lint clean${out:+: $out}" eval '[ $rc = 0 ] && [ -z "$out" ]'
done
missing=""
for f in $("$FD_BIN" --help | grep -oE -- '--[a-z][a-z0-9-]+' | sort -u); do
    grep -qE "^\.(It|Op|Nm).* Fl ${f#-}( |$)|Fl ${f#-} " "$MAN/frontdesk.8" || missing="$missing $f"
done
check "frontdesk(8) names every flag of --help${missing:+ (missing:$missing)}" [ -z "$missing" ]
missing=""
while read -r a b; do
    grep -qE "^\.It Ic $a $b( |$)|^\.It Ic $a( |$)" "$MAN/frontdeskctl.1" || missing="$missing '$a $b'"
done < <("$CTL" --help | sed -n 's/^  \([a-z]\{1,\}\) \([a-z]\{1,\}\).*/\1 \2/p; s/^  \(watch\|call-hash\) .*/\1/p')
check "frontdeskctl(1) names every command of its --help${missing:+ (missing:$missing)}" [ -z "$missing" ]
awk '/^\.Sh EXAMPLES/ { e = 1 } e && /^\.Bd/ { b = 1; next } b && /^\.Ed/ { exit } b' \
    "$MAN/frontdesk-rules.5" >"$FD_RUN/example.yaml"
out=$("$CTL" rules check "$FD_RUN/example.yaml" 2>&1); rc=$?
check "frontdesk-rules(5)'s example passes rules check ($out)" eval '[ $rc = 0 ] && [ -s "$FD_RUN/example.yaml" ]'
finish

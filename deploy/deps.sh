#!/bin/sh
# Install the Debian packages Frontdesk builds, tests and runs with, only
# those missing. apt-get as root, through sudo otherwise. Called by
# `make run`, `make test` and `make bench`. mandoc: t_man lints the man
# pages. libxml2-utils: t_reports parses the SVG reports with xmllint.
# chromium, chromium-driver, python3-selenium: t_board drives the reception
# board in a real (headless) browser.
# sipvicious: the scanner the edge
# is tested with (t_sipvicious). tshark: the forward-mode tests
# decode what they captured with Wireshark's SIP dissector.
set -eu

PKGS="build-essential pkg-config libevent-dev libosip2-dev libhiredis-dev
libcmocka-dev libyaml-dev libsodium-dev libssl-dev liburcu-dev redis-server
redis-tools sipsak gnuplot-nox
tzdata tshark libc-ares-dev sipvicious openssl mandoc yamllint libxml2-utils
chromium chromium-driver python3-selenium"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

echo "deps: installing$missing"
if [ "$(id -u)" -eq 0 ]; then SUDO=""
elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"
else
    echo "deps: need root (or sudo) to install:$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "deps: done"

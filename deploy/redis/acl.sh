#!/bin/sh
# deploy/redis/acl.sh OUT: render deploy/redis/users.acl.in into the ACL
# file OUT (mode 0600; without the comments, which an ACL file cannot hold) with the passwords of FRONTDESK_PROXY_PASSWORD,
# FRONTDESK_DASHBOARD_PASSWORD and FRONTDESK_ADMIN_PASSWORD; one that is
# not given is made (32 random hex digits) and printed to stdout as
# NAME=value, to be handed to whoever runs that side (the proxy reads its
# own from FRONTDESK_REDIS_USER=frontdesk and FRONTDESK_REDIS_PASSWORD).
set -eu
[ $# -eq 1 ] || { echo "usage: acl.sh OUT" >&2; exit 2; }
here=$(dirname "$0")
gen() { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }
for v in FRONTDESK_PROXY_PASSWORD FRONTDESK_DASHBOARD_PASSWORD FRONTDESK_ADMIN_PASSWORD; do
    eval "val=\${$v:-}"
    if [ -z "$val" ]; then
        val=$(gen)
        eval "$v=\$val"
        echo "$v=$val"
    fi
    case $val in *[!A-Za-z0-9._~+-]*) echo "acl.sh: $v: letters, digits and ._~+- only" >&2; exit 2;; esac
done
umask 077
sed -e "s/@PROXY_PASSWORD@/$FRONTDESK_PROXY_PASSWORD/" \
    -e "s/@DASHBOARD_PASSWORD@/$FRONTDESK_DASHBOARD_PASSWORD/" \
    -e "s/@ADMIN_PASSWORD@/$FRONTDESK_ADMIN_PASSWORD/" -e '/^#/d' -e '/^ *$/d' "$here/users.acl.in" >"$1"

#!/bin/sh
# The image's entrypoint: the caller key from a secret file when the
# environment does not give it (Docker/Podman secrets and Kubernetes mount
# them as files), then frontdesk with the arguments given.
#   FRONTDESK_CALLER_KEY         64 hex digits, or
#   FRONTDESK_CALLER_KEY_FILE    a file holding them (default
#                                /run/secrets/frontdesk_caller_key)
# FRONTDESK_REDIS_PASSWORD_FILE does the same for FRONTDESK_REDIS_PASSWORD.
set -eu
key_file=${FRONTDESK_CALLER_KEY_FILE:-/run/secrets/frontdesk_caller_key}
if [ -z "${FRONTDESK_CALLER_KEY:-}" ] && [ -r "$key_file" ]; then
    FRONTDESK_CALLER_KEY=$(tr -d ' \n\r\t' <"$key_file")
    export FRONTDESK_CALLER_KEY
fi
if [ -z "${FRONTDESK_REDIS_PASSWORD:-}" ] && [ -n "${FRONTDESK_REDIS_PASSWORD_FILE:-}" ]; then
    FRONTDESK_REDIS_PASSWORD=$(tr -d '\n\r' <"$FRONTDESK_REDIS_PASSWORD_FILE")
    export FRONTDESK_REDIS_PASSWORD
fi
exec /usr/bin/frontdesk "$@"

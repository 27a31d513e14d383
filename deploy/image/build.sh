#!/usr/bin/env bash
# `make image`: build the Dockerfile into frontdesk:latest (or $1) with
# docker when a Docker engine runs, podman otherwise (deploy/image/engine.sh).
set -eu
. "$(dirname "$0")/engine.sh"
engine_pick
engine_base
engine_build "${1:-frontdesk:latest}"
echo "image: built ${1:-frontdesk:latest} with $ENGINE"

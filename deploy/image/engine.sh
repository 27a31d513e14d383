# deploy/image/engine.sh -- sourced by `make image` and `make image-test`:
# picks the container engine and makes what it needs.
#   engine_pick    sets ENGINE to "docker" when a Docker engine answers, else
#                  "podman" (installed from Debian's packages when missing,
#                  with runc and debootstrap), with CONTAINERS_CONF set to
#                  deploy/image/containers.conf
#   engine_base    podman: makes the debian:bookworm and
#                  debian:bookworm-slim images locally from the machine's
#                  apt mirror (debootstrap minbase) when they are not there,
#                  so that nothing is pulled from a registry
#   engine_build TAG   builds the Dockerfile into TAG
IMAGE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$IMAGE_DIR/../.." && pwd)

engine_pick() {
    if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
        ENGINE=docker
        return 0
    fi
    ENGINE=podman
    export CONTAINERS_CONF=$IMAGE_DIR/containers.conf
    local need=""
    for p in podman runc debootstrap; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need="$need $p"
    done
    [ -z "$need" ] && return 0
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    echo "image: installing$need"
    # shellcheck disable=SC2086
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null ||
        { $sudo apt-get update -qq &&
          $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null; }
}

engine_base() {
    [ "$ENGINE" = podman ] || return 0
    podman image exists docker.io/library/debian:bookworm-slim && podman image exists docker.io/library/debian:bookworm &&
        return 0
    local w r mirror
    w=$(mktemp -d) r=$w/rootfs
    mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null ||
             awk '$1 == "deb" { print $2; exit }' /etc/apt/sources.list)
    echo "image: making the Debian bookworm base image from the apt mirror (debootstrap, once)"
    if ! debootstrap --variant=minbase bookworm "$r" "$mirror" >"$w/debootstrap.log" 2>&1; then
        tail -n 20 "$w/debootstrap.log" >&2
        rm -rf "$w"
        return 1
    fi
    rm -f "$r/etc/apt/sources.list"
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
        cp /etc/apt/sources.list.d/debian.sources "$r/etc/apt/sources.list.d/"
    else
        cp /etc/apt/sources.list "$r/etc/apt/sources.list"
    fi
    printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
        'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' \
        'path-exclude /usr/share/locale/*' >"$r/etc/dpkg/dpkg.cfg.d/slim"
    echo 'Acquire::Languages "none";' >"$r/etc/apt/apt.conf.d/no-languages"
    chroot "$r" apt-get clean
    rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/*.bin "$r"/var/log/*.log "$r"/var/log/apt/* \
        "$r"/usr/share/doc/* "$r"/usr/share/man/* "$r"/usr/share/info/* "$r"/usr/share/locale/* "$r/etc/resolv.conf"
    : >"$r/etc/hostname"
    tar --numeric-owner --xattrs -C "$r" -cf "$w/base.tar" .
    podman import --change 'CMD ["bash"]' "$w/base.tar" docker.io/library/debian:bookworm-slim >/dev/null
    podman tag docker.io/library/debian:bookworm-slim docker.io/library/debian:bookworm
    rm -rf "$w"
}

engine_build() {
    local tag=$1
    if [ "$ENGINE" = docker ]; then
        docker build -t "$tag" "$ROOT"
    else
        # docker format: podman keeps HEALTHCHECK only in it
        podman build --format docker --pull=never -t "$tag" "$ROOT"
    fi
}

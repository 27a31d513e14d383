# Frontdesk: build on Debian bookworm, run on a slim bookworm with only the
# runtime libraries, as an unprivileged user. Redis runs separately (README,
# docs/redis.md, deploy/compose.yaml). `make image` builds it (podman or
# docker), `make image-test` builds and checks it against a private Redis.
FROM debian:bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
        build-essential pkg-config libevent-dev libosip2-dev libhiredis-dev \
        libyaml-dev libsodium-dev libssl-dev liburcu-dev libc-ares-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN make clean && make build/frontdesk build/frontdeskctl && make install-bin PREFIX=/usr DESTDIR=/out

FROM debian:bookworm-slim
# the libraries `readelf -d build/frontdesk` names (libevent's core, extra,
# pthreads and openssl parts among them)
RUN apt-get update && apt-get install -y --no-install-recommends \
        libevent-2.1-7 libevent-core-2.1-7 libevent-extra-2.1-7 libevent-pthreads-2.1-7 \
        libevent-openssl-2.1-7 libosip2-15 libhiredis0.14 libyaml-0-2 libsodium23 libssl3 \
        liburcu8 libc-ares2 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --no-create-home --shell /usr/sbin/nologin frontdesk
COPY --from=build /out/ /
COPY rules/examples/demo.yaml /etc/frontdesk/rules.yaml
COPY deploy/image/entrypoint.sh /usr/bin/frontdesk-entrypoint
USER frontdesk
# SIP over UDP and TCP, TLS (with --listen tls:... and a certificate), admin
EXPOSE 5060/udp 5060/tcp 5061/tcp 9560/tcp
# /readyz: rules loaded and every worker's Redis connection ready (on the
# admin port: 9560, or FRONTDESK_ADMIN_PORT when --admin names another)
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${FRONTDESK_ADMIN_PORT:-9560} && printf 'GET /readyz HTTP/1.0\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["/usr/bin/frontdesk-entrypoint"]
# The demo group's rules use caller-aware routing: give the caller key as
# FRONTDESK_CALLER_KEY or a secret file (deploy/image/entrypoint.sh).
CMD ["--config", "/etc/frontdesk/rules.yaml", "--listen", "udp+tcp:0.0.0.0:5060", \
     "--admin", "0.0.0.0:9560", "--redis", "redis:6379"]

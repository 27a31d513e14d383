# Frontdesk: build on Debian bookworm, run on a slim bookworm with only the
# runtime libraries. Redis runs separately (see README, docs/redis.md).
FROM debian:bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
        build-essential pkg-config libevent-dev libosip2-dev libhiredis-dev \
        libyaml-dev libsodium-dev libssl-dev libcmocka-dev liburcu-dev libc-ares-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN make clean && make build/frontdesk && make install-bin PREFIX=/usr DESTDIR=/out

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
        libevent-2.1-7 libevent-pthreads-2.1-7 libosip2-15 libhiredis0.14 \
        libyaml-0-2 libsodium23 libssl3 liburcu8 libc-ares2 && rm -rf /var/lib/apt/lists/* \
    && useradd --system --no-create-home frontdesk
COPY --from=build /out/ /
COPY rules/examples/demo.yaml /etc/frontdesk/rules.yaml
USER frontdesk
EXPOSE 5060/udp
ENTRYPOINT ["/usr/bin/frontdesk"]
CMD ["--config", "/etc/frontdesk/rules.yaml", "--listen", "0.0.0.0:5060", "--redis", "redis:6379"]

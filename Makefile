# Frontdesk: one non-recursive Makefile.
#   make            build the daemon, the bench tool and the test tools
#   make run        install missing deps, start a private Redis with the demo
#                   clinic group, run the proxy in the foreground (PORT=5060)
#   make test       install missing deps, build, run unit + integration tests
#                   (SAN=1: built with ASan + UBSan)
#   make fuzz-smoke the SIP harness's corpus, reproducers and 60 s of fuzzing
#   make bench      load the proxy (starts its own proxy and Redis) and report
#   make bench-scale    max rate at 1 site x 20 staff vs 200 x 40 (~1 min)
#   make bench-soak     steady load, proxy RSS every minute (MINUTES=5 RATE=1000)
#   make bench-p99      p99 at 70% of the max good rate (~1 min)
#   make bench-flood    the trusted trunk's calls while a stranger floods at 10x (~2 min)
#   make bench-forward  proxy CPU per call, forward vs redirect mode, Kamailio beside (~1 min)
#   make install    PREFIX=/usr/local DESTDIR=

CC      ?= cc
PREFIX  ?= /usr/local
DESTDIR ?=
SYSCONFDIR ?= /etc
SYSTEMDDIR ?= $(PREFIX)/lib/systemd/system
PORT    ?= 5060
B       := build

PKGS     := libosip2 hiredis libevent_core libevent_extra libevent_pthreads libevent_openssl yaml-0.1 libsodium libssl libcrypto liburcu-memb libcares
CPPFLAGS += -D_GNU_SOURCE -Iproxy -Irules $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -Wall -Wextra -Werror -pthread
# SAN=1: AddressSanitizer + UndefinedBehaviorSanitizer (make test SAN=1);
# the build remembers its flavour and rebuilds everything when it changes
SAN      ?= 0
ifeq ($(SAN),1)
CFLAGS   += -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
endif
LDLIBS_PROXY := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -pthread
LDLIBS_RULES := $(shell pkg-config --libs yaml-0.1 libsodium libcrypto 2>/dev/null)
LDLIBS_TEST  := $(shell pkg-config --libs cmocka 2>/dev/null)

RULES_SRC := $(wildcard rules/*.c)
PROXY_SRC := $(filter-out proxy/main.c proxy/ctl.c proxy/ctl_report.c proxy/board.c,$(wildcard proxy/*.c))
BENCH_SRC := $(wildcard bench/*.c)
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
TOOL_SRC  := $(wildcard tests/tools/*.c)
MICRO_SRC := $(wildcard bench/micro/*.c)

RULES_OBJ := $(RULES_SRC:%.c=$(B)/%.o)
PROXY_OBJ := $(PROXY_SRC:%.c=$(B)/%.o) $(B)/gen/store_lua.o
BENCH_OBJ := $(BENCH_SRC:%.c=$(B)/%.o)
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
TOOL_BIN  := $(TOOL_SRC:tests/tools/%.c=$(B)/tests/%)
MICRO_BIN := $(MICRO_SRC:bench/micro/%.c=$(B)/%)

.PHONY: all deps run test unit integration fuzz-smoke bench install install-bin clean bench-compare FORCE \
        bench-scale bench-soak bench-p99 bench-forward bench-flood image image-test compose-test install-man install-systemd
.SECONDARY:
all: $(B)/frontdesk $(B)/frontdeskctl $(B)/frontdesk-board $(B)/fd-bench $(B)/min302 $(UNIT_BIN) $(TOOL_BIN) $(MICRO_BIN)

# the flavour stamp: rewritten (and so newer than every object) only when
# SAN changes
$(B)/flavour: FORCE
	@mkdir -p $(B)
	@[ "$$(cat $@ 2>/dev/null)" = "san=$(SAN)" ] || echo "san=$(SAN)" > $@
FORCE:

$(B)/%.o: %.c $(B)/flavour
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

# the reception board's web app, embedded as C strings
BOARD_ASSETS := proxy/board/index.html proxy/board/board.js proxy/board/board.css
$(B)/gen/board_assets.c: $(BOARD_ASSETS)
	@mkdir -p $(dir $@)
	{ for f in index.html:board_index_html board.js:board_js board.css:board_css; do \
	    echo "const char $${f#*:}[] ="; \
	    sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' proxy/board/$${f%%:*}; \
	    echo ';'; done; } > $@
$(B)/gen/board_assets.o: $(B)/gen/board_assets.c $(B)/flavour
	$(CC) $(CFLAGS) -c $< -o $@
$(B)/frontdesk-board: $(B)/proxy/board.o $(B)/gen/board_assets.o $(B)/libproxy.a $(B)/librules.a
	$(CC) $(CFLAGS) $^ $(LDLIBS_PROXY) -o $@

# the Redis Functions library, embedded as a C string
$(B)/gen/store_lua.c: proxy/redis/frontdesk.lua
	@mkdir -p $(dir $@)
	{ echo 'const char store_lua_source[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' $<; \
	  echo ';'; } > $@
$(B)/gen/store_lua.o: $(B)/gen/store_lua.c $(B)/flavour
	$(CC) $(CFLAGS) -c $< -o $@

$(B)/librules.a: $(RULES_OBJ)
	$(AR) rcs $@ $^
$(B)/libproxy.a: $(PROXY_OBJ)
	$(AR) rcs $@ $^

$(B)/frontdesk: $(B)/proxy/main.o $(B)/libproxy.a $(B)/librules.a
	$(CC) $(CFLAGS) $^ $(LDLIBS_PROXY) -o $@

$(B)/frontdeskctl: $(B)/proxy/ctl.o $(B)/proxy/ctl_report.o $(B)/libproxy.a $(B)/librules.a
	$(CC) $(CFLAGS) $^ $(LDLIBS_PROXY) -o $@

# fd-bench seed loads the frontdesk functions itself when Redis has none yet
$(B)/fd-bench: $(BENCH_OBJ) $(B)/gen/store_lua.o $(B)/proxy/store_sync.o $(B)/proxy/store_reply.o
	$(CC) $(CFLAGS) $^ $(LDLIBS_PROXY) -lm -o $@

$(B)/tests/%: $(B)/tests/unit/%.o $(B)/libproxy.a $(B)/librules.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $^ $(LDLIBS_PROXY) $(LDLIBS_TEST) -o $@

# the floor of a redirect: a minimal hand-written 302 server (bench-compare's
# reference; plain C and POSIX sockets)
$(B)/min302: bench/peers/min302.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $< -o $@

# micro-benchmarks of pure code (bench/micro/bench_X.c -> build/bench_X)
$(B)/bench_%: $(B)/bench/micro/bench_%.o $(B)/libproxy.a $(B)/librules.a
	$(CC) $(CFLAGS) $^ $(LDLIBS_PROXY) -lm -o $@

$(B)/tests/%: $(B)/tests/tools/%.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $^ $(LDLIBS_PROXY) -o $@

# the downstream SIP server of forward-mode tests: plain C and POSIX sockets
$(B)/tests/uas: $(B)/tests/tools/uas.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $^ -o $@

# the name server of the tests of destinations given by name: plain C and
# POSIX sockets (also a client: dnsd --query NAME --server ADDR:PORT)
$(B)/tests/dnsd: $(B)/tests/tools/dnsd.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $^ -o $@

deps:
	@sh deploy/deps.sh

run: deps
	@$(MAKE) --no-print-directory $(B)/frontdesk $(B)/frontdeskctl $(B)/frontdesk-board
	@PORT=$(PORT) bash deploy/run-demo.sh

test: deps
	@$(MAKE) --no-print-directory all
	@bash tests/run.sh

unit: all
	@bash tests/run.sh unit

integration: all
	@bash tests/run.sh integration

# the libFuzzer harness of the SIP front end: build, replay the corpus and
# the reproducers, fuzz FUZZ_SECONDS (60) (needs clang-14, libclang-rt-14-dev)
fuzz-smoke:
	@bash tests/fuzz/smoke.sh $(or $(FUZZ_SECONDS),60)

# the container image (Dockerfile) with docker when an engine runs, podman
# otherwise (installed when missing; its Debian base image made locally,
# nothing pulled): deploy/image/engine.sh
image:
	@bash deploy/image/build.sh $(or $(TAG),frontdesk:latest)

# deploy/compose.yaml started with podman-compose or docker compose, a call
# placed through it (tests/compose/t_compose.sh; a few minutes cold)
compose-test: deps
	@$(MAKE) --no-print-directory $(B)/tests/sipsend
	@bash tests/compose/t_compose.sh

# build it and check it against a private Redis (tests/image/t_image.sh)
image-test: deps
	@$(MAKE) --no-print-directory $(B)/tests/sipsend $(B)/frontdeskctl
	@bash tests/image/t_image.sh

bench: deps
	@$(MAKE) --no-print-directory all
	@bash bench/run.sh

install: all install-bin install-man install-systemd
	install -m 0755 $(B)/fd-bench $(DESTDIR)$(PREFIX)/bin/
	install -d $(DESTDIR)$(PREFIX)/share/doc/frontdesk
	install -m 0644 README.md docs/*.md $(DESTDIR)$(PREFIX)/share/doc/frontdesk/

# man pages: frontdesk(8), frontdeskctl(1), frontdesk-rules(5)
install-man:
	install -d $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 0644 deploy/man/frontdeskctl.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 0644 deploy/man/frontdesk-rules.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 0644 deploy/man/frontdesk.8 $(DESTDIR)$(PREFIX)/share/man/man8/

# the unit (its paths those of this PREFIX), a sample /etc/default file, and
# a sample rules file when there is none yet (an existing one is kept)
install-systemd:
	install -d $(DESTDIR)$(SYSTEMDDIR) $(DESTDIR)$(PREFIX)/share/frontdesk $(DESTDIR)$(SYSCONFDIR)/frontdesk
	sed -e 's|@BINDIR@|$(PREFIX)/bin|g' -e 's|@SHAREDIR@|$(PREFIX)/share/frontdesk|g' \
	    deploy/systemd/frontdesk.service >$(DESTDIR)$(SYSTEMDDIR)/frontdesk.service
	chmod 0644 $(DESTDIR)$(SYSTEMDDIR)/frontdesk.service
	install -m 0644 deploy/systemd/frontdesk.default $(DESTDIR)$(PREFIX)/share/frontdesk/
	[ -e $(DESTDIR)$(SYSCONFDIR)/frontdesk/rules.yaml ] || \
	    install -m 0644 rules/examples/practice.yaml $(DESTDIR)$(SYSCONFDIR)/frontdesk/rules.yaml

install-bin: $(B)/frontdesk $(B)/frontdeskctl $(B)/frontdesk-board
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/frontdesk
	install -m 0755 $(B)/frontdesk $(B)/frontdeskctl $(B)/frontdesk-board $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 proxy/redis/frontdesk.lua rules/examples/*.yaml $(DESTDIR)$(PREFIX)/share/frontdesk/

clean:
	rm -rf $(B)

-include $(shell find $(B) -name '*.d' 2>/dev/null)

# Frontdesk against Kamailio from Debian, same load, same run (bench/compare.sh
# installs kamailio and kamailio-redis-modules when missing); ~5 minutes
bench-compare: deps
	@$(MAKE) --no-print-directory all
	@bash bench/compare.sh

# The clinic-network benches (bench/README.md): each starts its own Redis
# and proxy on loopback, seeds them with fd-bench seed, stops them on exit
bench-scale: deps
	@$(MAKE) --no-print-directory all
	@bash bench/scale.sh

bench-soak: deps
	@$(MAKE) --no-print-directory all
	@bash bench/soak.sh $(if $(MINUTES),--minutes $(MINUTES)) $(if $(RATE),--rate $(RATE))

bench-p99: deps
	@$(MAKE) --no-print-directory all
	@bash bench/p99.sh

bench-forward: deps
	@$(MAKE) --no-print-directory all
	@bash bench/forward.sh

bench-flood: deps
	@$(MAKE) --no-print-directory all
	@bash bench/flood.sh

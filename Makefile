# SPDX-License-Identifier: ISC
# gitnet — one Makefile, no other build system.
#
#   make           build gitnet-router (and the libraries) into build/
#   make test      unit tests under ASan+UBSan, a short fuzz run, then the
#                  netns integration tests (root)
#   make bench     benchmarks: BENCH <name> <value> <unit> and RATIO lines
#   make demo      the main job: a router between two namespaces, traffic
#   make fuzz      fuzz the pipeline for FUZZ_SECONDS (default 300)
#   make deps      install the Debian packages everything above needs
#   make install   binaries, manual pages, unit, completion, config; honours
#                  PREFIX (/usr/local) and DESTDIR
#   make deb       the Debian package, build/deb/gitnet_VERSION_ARCH.deb
#
# Sources are found by wildcard: netfn/*.c, store/*.c, src/*.c (main.c is the
# router's entry point), tests/<module>/*_test.c (one cmocka binary each).

CC	?= cc
CLANG	?= clang
OPT	?= -O2 -g
WARN	= -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	  -Wno-missing-field-initializers
CPPFLAGS += -I. -D_GNU_SOURCE
CFLAGS	+= -std=c11 $(OPT) $(WARN) -fno-strict-aliasing
SAN	= -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
B	= build

# The version, from one place: the first line of debian/changelog. Only
# src/version.c and tools/main.c see it (GITNET_VERSION), so a new version
# rebuilds two objects.
VERSION	:= $(shell sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' debian/changelog)
VERSIONED = src/version.c tools/main.c

PKGS_GIT	= libgit2 zlib
GIT_CFLAGS	= $(shell pkg-config --cflags $(PKGS_GIT) 2>/dev/null)
GIT_LIBS	= $(shell pkg-config --libs $(PKGS_GIT) 2>/dev/null)
CMOCKA_CFLAGS	= $(shell pkg-config --cflags cmocka 2>/dev/null)
CMOCKA_LIBS	= $(shell pkg-config --libs cmocka 2>/dev/null)

NETFN_SRC	= $(wildcard netfn/*.c)
STORE_SRC	= $(wildcard store/*.c)
ROUTER_SRC	= $(filter-out src/main.c,$(wildcard src/*.c))
NETFN_TESTS	= $(wildcard tests/netfn/*_test.c)
SRC_TESTS	= $(wildcard tests/src/*_test.c)
STORE_TESTS	= $(wildcard tests/store/*_test.c)
BENCH_SRC	= $(wildcard tests/bench/*.c)
FUZZ_SRC	= $(wildcard tests/fuzz/*.c)

obj	= $(patsubst %.c,$(B)/obj/%.o,$(1))
asan	= $(patsubst %.c,$(B)/asan/%.o,$(1))

ROUTER_BIN	= $(B)/gitnet-router
TOOL_BIN	= $(B)/gitnet
TOOL_SRC	= $(wildcard tools/*.c)
UNIT_BINS	= $(patsubst %.c,$(B)/%,$(NETFN_TESTS) $(SRC_TESTS) $(STORE_TESTS))
BENCH_BINS	= $(patsubst %.c,$(B)/%,$(BENCH_SRC))
FUZZ_BINS	= $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(FUZZ_SRC))

# Debian bookworm packages for building, testing, benchmarks and the demo.
DEB_PKGS = build-essential pkg-config git libgit2-dev libcmocka-dev clang \
	   libclang-rt-14-dev iproute2 iputils-ping iputils-arping curl iperf3 \
	   netsniff-ng ethtool python3 python3-scapy socat netcat-openbsd \
	   tcpdump jq nftables procps coturn stun-client stun-server traceroute \
	   conntrack conntrackd qemu-system-x86 libxen-dev xenstore-utils cpio kmod e2fsprogs \
	   libmbedtls-dev libpcre2-dev libhttp-parser-dev zlib1g-dev \
	   help2man debhelper dpkg-dev lintian systemd bash-completion prometheus \
	   openssh-server openssh-client \
	   linux-source bc bison flex libelf-dev libssl-dev

.PHONY: all test unit netns bench demo fuzz fuzz-seeds deps need-deps clean guest \
	man install uninstall deb
.DEFAULT_GOAL := all

all: $(ROUTER_BIN) $(if $(TOOL_SRC),$(TOOL_BIN)) $(BENCH_BINS)

$(B)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(GIT_CFLAGS) -MMD -MP -c $< -o $@

$(B)/asan/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(SAN) $(GIT_CFLAGS) $(CMOCKA_CFLAGS) -MMD -MP -c $< -o $@

$(call obj,$(VERSIONED)) $(call asan,$(VERSIONED)): CPPFLAGS += -DGITNET_VERSION='"$(VERSION)"'
$(call obj,$(VERSIONED)) $(call asan,$(VERSIONED)): debian/changelog

$(B)/libnetfn.a: $(call obj,$(NETFN_SRC))
	@rm -f $@; ar rcs $@ $^
$(B)/asan/libnetfn.a: $(call asan,$(NETFN_SRC))
	@rm -f $@; ar rcs $@ $^
$(B)/libstore.a: $(call obj,$(STORE_SRC))
	@rm -f $@; ar rcs $@ $^
$(B)/asan/libstore.a: $(call asan,$(STORE_SRC))
	@rm -f $@; ar rcs $@ $^
$(B)/librouter.a: $(call obj,$(ROUTER_SRC))
	@rm -f $@; ar rcs $@ $^
$(B)/asan/librouter.a: $(call asan,$(ROUTER_SRC))
	@rm -f $@; ar rcs $@ $^

$(ROUTER_BIN): $(call obj,src/main.c) $(B)/librouter.a $(B)/libstore.a $(B)/libnetfn.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(GIT_LIBS) -lpthread

# The gitnet tool: tools/*.c, over the store and netfn (replay-pcap).
$(TOOL_BIN): $(call obj,$(TOOL_SRC)) $(B)/librouter.a $(B)/libstore.a $(B)/libnetfn.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(GIT_LIBS) -lpthread

# Unit tests: ASan+UBSan, linked against the sanitized libraries.
$(B)/tests/netfn/%: $(call asan,tests/netfn/%.c) $(B)/asan/libnetfn.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(CMOCKA_LIBS)
$(B)/tests/src/%: $(call asan,tests/src/%.c) $(B)/asan/librouter.a $(B)/asan/libstore.a $(B)/asan/libnetfn.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(CMOCKA_LIBS) $(GIT_LIBS) -lpthread
$(B)/tests/store/%: $(call asan,tests/store/%.c) $(B)/asan/libstore.a $(B)/asan/libnetfn.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(CMOCKA_LIBS) $(GIT_LIBS)

# The store's fault tests wrap its write and fsync calls (libgit2's are not).
$(B)/tests/store/fault_test: $(call asan,tests/store/fault_test.c) $(B)/asan/libstore.a $(B)/asan/libnetfn.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SAN) -Wl,--wrap=write,--wrap=fsync -o $@ $^ $(CMOCKA_LIBS) $(GIT_LIBS)

# Likewise the state writer's, on a failing disk.
$(B)/tests/src/state_fault_test: $(call asan,tests/src/state_fault_test.c) $(B)/asan/librouter.a $(B)/asan/libstore.a $(B)/asan/libnetfn.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SAN) -Wl,--wrap=write,--wrap=fsync -o $@ $^ $(CMOCKA_LIBS) $(GIT_LIBS) -lpthread

# Benchmarks: optimised, no sanitizers. store_* benchmarks get the store.
$(B)/tests/bench/store_%: $(call obj,tests/bench/store_%.c) $(B)/libstore.a $(B)/libnetfn.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(GIT_LIBS) -lm
$(B)/tests/bench/%: $(call obj,tests/bench/%.c) $(B)/librouter.a $(B)/libstore.a $(B)/libnetfn.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(GIT_LIBS) -lpthread -lm

# Fuzz targets: libFuzzer with ASan+UBSan, built by clang from the sources.
$(B)/fuzz/%: tests/fuzz/%.c $(NETFN_SRC)
	@mkdir -p $(@D)
	$(CLANG) $(CPPFLAGS) -std=c11 -O1 -g -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined \
		-fsanitize-coverage-ignorelist=tests/fuzz/coverage-ignore.txt -o $@ $< $(NETFN_SRC)

# The pipeline with netfn's allocations in the harness's snapshot arena.
$(B)/fuzz/pipeline_fuzz: tests/fuzz/pipeline_fuzz.c tests/fuzz/arena.h $(NETFN_SRC)
	@mkdir -p $(@D)
	$(CLANG) $(CPPFLAGS) -std=c11 -O1 -g -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -include tests/fuzz/arena.h \
		-fsanitize-coverage-ignorelist=tests/fuzz/coverage-ignore.txt -o $@ \
		tests/fuzz/pipeline_fuzz.c $(NETFN_SRC)

# The control-socket parser alone; the restore path over the store (and
# libgit2), with state.c's restore step.
$(B)/fuzz/ctl_fuzz: tests/fuzz/ctl_fuzz.c src/ctl_parse.c
	@mkdir -p $(@D)
	$(CLANG) $(CPPFLAGS) -std=c11 -O1 -g -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -o $@ $^
$(B)/fuzz/restore_fuzz: tests/fuzz/restore_fuzz.c src/state.c src/hlimit.c src/clock.c $(STORE_SRC) $(NETFN_SRC)
	@mkdir -p $(@D)
	$(CLANG) $(CPPFLAGS) -std=c11 -O1 -g -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined $(GIT_CFLAGS) \
		-fsanitize-coverage-ignorelist=tests/fuzz/coverage-ignore.txt -o $@ $^ \
		$(GIT_LIBS) -lpthread

FUZZ_SECONDS ?= 300

need-deps:
	@missing=; for p in $(DEB_PKGS); do \
		dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "deps: missing:$$missing"; $(MAKE) --no-print-directory deps; fi

# coturn, stun-server, openssh-server and conntrackd ship services; the tests
# run their daemons in namespaces of their own, so the host's copies are
# stopped and disabled.
deps:
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(DEB_PKGS)
	-@systemctl disable --now coturn stun-server ssh conntrackd >/dev/null 2>&1 || true

test: need-deps
	@$(MAKE) --no-print-directory all $(UNIT_BINS) $(FUZZ_BINS) fuzz-seeds
	@tests/run-tests $(UNIT_BINS) -- $(FUZZ_BINS) -- $(sort $(wildcard tests/netns/test_*.sh)) \
		$(sort $(wildcard tests/tools/test_*.sh)) $(sort $(wildcard tests/guest/test_*.sh)) \
		$(sort $(wildcard tests/pkg/test_*.sh)) tests/spdx-check.sh tests/layers-check.sh

unit: $(UNIT_BINS)
	@tests/run-tests $(UNIT_BINS) -- --

netns: all
	@tests/run-tests -- -- $(sort $(wildcard tests/netns/test_*.sh))

# Seeds are written by tests/fuzz/seeds.py, not kept as binary files.
fuzz-seeds:
	@python3 tests/fuzz/seeds.py $(B)/fuzz/seeds/pipeline_fuzz
	@python3 tests/fuzz/seeds.py --ctl $(B)/fuzz/seeds/ctl_fuzz
	@python3 tests/fuzz/seeds.py --restore $(B)/fuzz/seeds/restore_fuzz

fuzz: $(FUZZ_BINS) fuzz-seeds
	@for f in $(FUZZ_BINS); do mkdir -p $(B)/corpus/$${f##*/}; \
		$$f -max_total_time=$(FUZZ_SECONDS) $(B)/corpus/$${f##*/} $(B)/fuzz/seeds/$${f##*/} || exit 1; done

# The Xen guest image (guest/out/; KERNEL=minimal: guest/out-minimal/, the
# kernel built by guest/mkkernel-minimal): kernel, initramfs, sizes printed.
guest: need-deps all
	@guest/mkimage $(KERNEL)

bench: need-deps all
	@tests/bench/run

demo: need-deps all
	@examples/demo.sh

# make install. The config goes to /etc/gitnet whatever the prefix (the unit
# reads /etc/gitnet/router.conf), and never over one already there. The
# Debian package installs with PREFIX=/usr, its unit in /lib/systemd/system.
PREFIX		?= /usr/local
BINDIR		?= $(PREFIX)/bin
SBINDIR		?= $(PREFIX)/sbin
MANDIR		?= $(PREFIX)/share/man
BASHCOMPDIR	?= $(PREFIX)/share/bash-completion/completions
SYSCONFDIR	?= /etc
UNITDIR		?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system)

# Manual pages from the binaries' own --help text (dist/mkman, help2man).
MAN_PAGES	= $(B)/man/gitnet.1 $(B)/man/gitnet-router.8

man: $(MAN_PAGES)

$(B)/man/gitnet-router.8: $(ROUTER_BIN) dist/mkman dist/gitnet-router.h2m
	@mkdir -p $(@D)
	dist/mkman $(ROUTER_BIN) 8 "IPv4 NAT router whose ARP cache and NAT table are kept in git" \
		dist/gitnet-router.h2m $@
$(B)/man/gitnet.1: $(TOOL_BIN) dist/mkman dist/gitnet.h2m
	@mkdir -p $(@D)
	dist/mkman $(TOOL_BIN) 1 "read, replay and merge the history of gitnet's ARP and NAT tables" \
		dist/gitnet.h2m $@ --commands

install: $(ROUTER_BIN) $(TOOL_BIN) $(MAN_PAGES)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(SYSCONFDIR)/gitnet
	install -m 755 $(ROUTER_BIN) $(DESTDIR)$(SBINDIR)/gitnet-router
	install -m 755 $(TOOL_BIN) $(DESTDIR)$(BINDIR)/gitnet
	install -m 644 $(B)/man/gitnet.1 $(DESTDIR)$(MANDIR)/man1/gitnet.1
	install -m 644 $(B)/man/gitnet-router.8 $(DESTDIR)$(MANDIR)/man8/gitnet-router.8
	install -m 644 dist/bash-completion/gitnet dist/bash-completion/gitnet-router \
		$(DESTDIR)$(BASHCOMPDIR)/
	sed 's|@SBINDIR@|$(SBINDIR)|g' dist/gitnet-router.service.in \
		>$(DESTDIR)$(UNITDIR)/gitnet-router.service
	chmod 644 $(DESTDIR)$(UNITDIR)/gitnet-router.service
	[ -e $(DESTDIR)$(SYSCONFDIR)/gitnet/router.conf ] || \
		install -m 644 examples/router.conf $(DESTDIR)$(SYSCONFDIR)/gitnet/router.conf

# Leaves /etc/gitnet/router.conf and /var/lib/gitnet (the operator's).
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/gitnet-router $(DESTDIR)$(BINDIR)/gitnet \
		$(DESTDIR)$(MANDIR)/man1/gitnet.1 $(DESTDIR)$(MANDIR)/man8/gitnet-router.8 \
		$(DESTDIR)$(BASHCOMPDIR)/gitnet $(DESTDIR)$(BASHCOMPDIR)/gitnet-router \
		$(DESTDIR)$(UNITDIR)/gitnet-router.service

# The Debian package, built from a copy of the tree in build/deb/src so that
# dpkg-buildpackage's outputs (written to the parent directory) land in
# build/deb and debian/ stays clean. No tests inside the build (nocheck):
# tests/pkg/test_deb.sh tests the built package. The package's own make
# must not inherit this one's command-line variables (B=...), hence env -u.
deb:
	rm -rf $(B)/deb && mkdir -p $(B)/deb/src
	tar -cf - --exclude=./build --exclude=./.git --exclude=./guest/out --exclude=./guest/out-minimal . | \
		tar -C $(B)/deb/src -xf -
	cd $(B)/deb/src && env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS \
		DEB_BUILD_OPTIONS="nocheck noautodbgsym $(DEB_BUILD_OPTIONS)" dpkg-buildpackage -us -uc -b
	rm -rf $(B)/deb/src
	@ls $(B)/deb/*.deb

clean:
	rm -rf $(B)

# Not under $(B)/guest: the minimal kernel's source and build trees
# (guest/mkkernel-minimal) have .d files and directories of their own.
-include $(shell find $(B) -path $(B)/guest -prune -o -name '*.d' -type f -print 2>/dev/null)

#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# The guest image, stock kernel (guest/out/) against the minimal one
# (guest/out-minimal/, guest/minimal.config): builds both (guest/mkimage,
# skipped when the image is newer than its inputs; the minimal kernel comes
# from build/guest/kernel-minimal/'s cache), boots each once under QEMU TCG
# on a blank 64 MB state disk in test_boot.sh's topology (cli - guest - srv,
# NAT), and prints
#   BENCH guest_image_mb[_minimal]            kernel + initramfs
#   BENCH guest_boot_to_router_ms[_minimal]   kernel start -> router up: the
#       guest's CLOCK_MONOTONIC on init's first line after `router: started`
#       (`router: ready`, which init prints on the router's READY=1; first
#       boot: mke2fs of the state disk included)
#   BENCH guest_first_ping_ms[_minimal]       QEMU start -> first ping from
#       cli answered through the guest
#   BENCH guest_boot_to_router_ms_minimal_restart, guest_first_ping_ms_minimal_restart
#       the same for a second boot of the minimal image on the disk its first
#       boot formatted (a restart: the repository is opened, not created;
#       the first boot was killed with QEMU, so ext4 replays its journal)
#   RATIO guest_image_minimal_vs_stock        minimal / stock image size
# Needs root, QEMU. --quick is accepted (one boot each either way).
set -u
cd "$(dirname "$0")/../.." || exit 2

ID=gb$$
CLI=$ID-cli RTR=$ID-rtr SRV=$ID-srv
TMP=$(mktemp -d /tmp/gn-benchguest.XXXXXX)
QEMU_PID=
cleanup() {
	[ -n "$QEMU_PID" ] && { kill "$QEMU_PID" 2>/dev/null; wait "$QEMU_PID" 2>/dev/null; }
	for ns in $CLI $RTR $SRV; do ip netns del "$ns" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail() { echo "guest bench: $*" >&2; exit 1; }

stale() {	# stale DIR: the image in DIR is missing or older than its inputs
	local f
	[ -f "$1/initramfs.cpio.gz" ] || return 0
	for f in build/librouter.a guest/mkimage guest/init.c guest/xs.c guest/minimal.config; do
		[ "$f" -nt "$1/initramfs.cpio.gz" ] && return 0
	done
	return 1
}
stale guest/out && { guest/mkimage stock >"$TMP/mk-stock.log" 2>&1 || fail "mkimage stock: $(tail -3 "$TMP/mk-stock.log")"; }
stale guest/out-minimal && { guest/mkimage minimal >"$TMP/mk-min.log" 2>&1 || fail "mkimage minimal: $(tail -3 "$TMP/mk-min.log")"; }

. tests/guest/guest_lib.sh
guest_topo $CLI $RTR $SRV || fail "the topology (namespaces, bridges, TAPs)"

bytes() { echo $(($(stat -c %s "$1/vmlinuz") + $(stat -c %s "$1/initramfs.cpio.gz"))); }
bootone() {	# bootone DIR SUFFIX [again]: again: on the last boot's disk
	local log=$TMP/boot$2.log t0 i ms= up
	[ "${3:-}" = again ] || { rm -f "$TMP/state.img"; truncate -s 64M "$TMP/state.img"; }
	t0=$(date +%s%3N)
	ip netns exec $RTR guest/run-qemu --image "$1" --tap-inside tap-in --tap-outside tap-out \
		--state "$TMP/state.img" --console "$log" \
		--append "gitnet.inside=eth0=192.168.1.1/24 gitnet.outside=eth1=203.0.113.1/24" \
		>"$log.qemu" 2>&1 &
	QEMU_PID=$!
	# A ping every 0.2 s at most (a lost one waits -W): the figure is that fine.
	for i in $(seq 600); do
		if ip netns exec $CLI ping -c 1 -W 0.2 203.0.113.2 >/dev/null 2>&1; then
			ms=$(($(date +%s%3N) - t0)); break
		fi
		kill -0 "$QEMU_PID" 2>/dev/null || break
	done
	sleep 0.5
	kill "$QEMU_PID" 2>/dev/null; wait "$QEMU_PID" 2>/dev/null; QEMU_PID=
	[ -n "$ms" ] || fail "$1: no ping through the guest: $(tail -5 "$log")"
	up=$(awk '/router: started/ { s = 1; next }
	     s && /^\[ *[0-9]+\.[0-9]+\] gitnet-init:/ { sub(/^\[ */, ""); sub(/\].*/, ""); printf "%d\n", $0 * 1000; exit }' "$log")
	[ -n "$up" ] || fail "$1: no init line after router: started: $(tail -5 "$log")"
	echo "BENCH guest_boot_to_router_ms$2 $up ms"
	echo "BENCH guest_first_ping_ms$2 $ms ms"
}

s=$(bytes guest/out) m=$(bytes guest/out-minimal)
awk -v b="$s" 'BEGIN { printf "BENCH guest_image_mb %.2f MB\n", b / 1048576 }'
awk -v b="$m" 'BEGIN { printf "BENCH guest_image_mb_minimal %.2f MB\n", b / 1048576 }'
bootone guest/out ""
bootone guest/out-minimal _minimal
bootone guest/out-minimal _minimal_restart again
awk -v a="$m" -v b="$s" 'BEGIN { printf "RATIO guest_image_minimal_vs_stock %.2f\n", a / b }'

#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# The guest's configuration through the real libxenstore, against
# tests/guest/xenstored_stub.py (a xenstore server speaking the wire
# protocol: the one stand-in the project permits, since xenstored needs a
# hypervisor). Debian's xenstore-write/-read/-ls/-rm/-watch talk to the same
# server, so the stub is checked against stock clients, and what they write
# is what gitnet-init reads. gitnet-init runs in its host modes
# (--xenstore-dump, --xenstore-watch, --cmdline-dump): the stub plays the
# guest's domain (--domid 7), so `domid` and relative paths resolve as in a
# guest: the tests write as dom0 does, under /local/domain/7/data/gitnet, and
# gitnet-init reads the relative data/gitnet. The layers are checked too:
# xenstore over the command line (--cmdline), and the last good
# configuration (--saved FILE, the guest's /state/gitnet-config) written
# once it checks and read back when a restarted stub (--domid 10, a new
# domain with an empty tree) gives no inside. Prints `ok N - ...` lines and
# `N passed, N failed`.
set -u
cd "$(dirname "$0")/../.." || exit 2

PASS=0 FAIL=0 N=0
ok() { N=$((N + 1)); PASS=$((PASS + 1)); echo "ok $N - $1"; }
nok() { N=$((N + 1)); FAIL=$((FAIL + 1)); echo "not ok $N - $1"; shift; for l in "$@"; do echo "#   $l"; done; }
# check NAME EXPECTED ACTUAL
check() { if [ "$2" = "$3" ]; then ok "$1"; else nok "$1" "expected: $2" "got:      $3"; fi; }

for t in xenstore-read xenstore-write xenstore-ls xenstore-rm xenstore-watch xenstore-list; do
	command -v $t >/dev/null || { echo "not ok 1 - $t missing (apt-get install xenstore-utils)"; echo "0 passed, 1 failed"; exit 1; }
done

TMP=$(mktemp -d /tmp/gn-xs.XXXXXX)
INIT=$TMP/gitnet-init
STUB_PID= WATCH_PID= TW_PID=
cleanup() {
	for p in $WATCH_PID $TW_PID $STUB_PID; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

if ! guest/build-init "$INIT" >"$TMP/build.log" 2>&1; then
	nok "build gitnet-init" "$(tail -5 "$TMP/build.log")"
	echo "$PASS passed, $FAIL failed"; exit 1
fi
ok "build gitnet-init"

export XENSTORED_PATH=$TMP/xs.sock
/usr/bin/python3 tests/guest/xenstored_stub.py "$XENSTORED_PATH" --domid 7 --log "$TMP/stub.log" &
STUB_PID=$!
for _ in $(seq 50); do [ -S "$XENSTORED_PATH" ] && break; sleep 0.1; done
B=/local/domain/7/data/gitnet
R=data/gitnet		# what the guest reads: relative to its domain's home
start_stub() {	# start_stub DOMID: a fresh stub (empty tree) on the same socket
	if [ -n "$STUB_PID" ]; then kill "$STUB_PID"; wait "$STUB_PID" 2>/dev/null; fi
	rm -f "$XENSTORED_PATH"
	/usr/bin/python3 tests/guest/xenstored_stub.py "$XENSTORED_PATH" --domid "$1" --log "$TMP/stub.log" &
	STUB_PID=$!
	for _ in $(seq 50); do [ -S "$XENSTORED_PATH" ] && break; sleep 0.1; done
}

# --- the stub against Debian's clients -------------------------------------
xenstore-write /test/a "hello world" /test/b/c 42
check "xenstore-read reads what xenstore-write wrote" "hello world" "$(xenstore-read /test/a)"
check "xenstore-list lists children in order" "a b" "$(xenstore-list /test | tr '\n' ' ' | sed 's/ $//')"
check "xenstore-ls shows the tree" '/test/b/c = "42"' "$(xenstore-ls -f /test | grep c)"
check "relative paths resolve under /local/domain/7" "7" "$(xenstore-read domid)"
xenstore-rm /test/b
xenstore-read /test/b/c >/dev/null 2>&1; rc=$?
check "xenstore-rm removes a subtree (read fails after)" 1 "$rc"
check "the parent survives xenstore-rm of a child" "a" "$(xenstore-list /test)"
timeout 5 xenstore-watch -n 2 /test/a >"$TMP/watch.out" 2>&1 &
TW_PID=$!
sleep 0.5
xenstore-write /test/a changed
wait $TW_PID; TW_PID=
# One event as the watch is set, one for the write (xenstore.txt).
check "xenstore-watch gets the initial event and the write" "/test/a /test/a" \
	"$(tr '\n' ' ' <"$TMP/watch.out" | sed 's/ $//')"

# --- gitnet-init reads the keys --------------------------------------------
out=$("$INIT" --xenstore-dump 2>&1); rc=$?
check "no subtree: boot refused, naming the key" \
	"2 gitnet-init: fatal: xenstore $R/inside: missing (required: DEV=ADDR/PLEN, e.g. eth0=192.168.1.1/24)" \
	"$rc $out"

xenstore-write $B/inside eth0=192.168.1.1/24 $B/outside eth1=203.0.113.2/24 \
	$B/gateway 203.0.113.1 $B/forward/10 udp:53=192.168.1.3:53 \
	$B/forward/2 tcp:8080=192.168.1.2:80 $B/udp-timeout 120 $B/verbose 1 \
	$B/state-device vdb
: >"$TMP/stub.log"
out=$("$INIT" --xenstore-dump 2>&1 | tr '\n' ' '); rc=$?
check "keys become the router's argv (forwards in numeric order)" \
	"/bin/gitnet-router --inside eth0=192.168.1.1/24 --outside eth1=203.0.113.2/24 --gateway 203.0.113.1 --udp-timeout 120 --forward tcp:8080=192.168.1.2:80 --forward udp:53=192.168.1.3:53 -v --state /state/gitnet.git --control /run/gitnet-router.sock " \
	"$out"
grep -q "type=6 .*-> ok" "$TMP/stub.log" && grep -q "type=7 tx=[1-9]" "$TMP/stub.log" &&
	ok "the keys are read in a transaction" || nok "the keys are read in a transaction"
# Relative, as the guest must (an absolute /local/domain/<id>/... goes stale
# after xl restore or a migration): every read names data/gitnet.
if grep -q "'data/gitnet/inside" "$TMP/stub.log" && ! grep -q "type=[12] .*/local/domain" "$TMP/stub.log"; then
	ok "the keys are read at the relative path data/gitnet, never /local/domain/7/..."
else
	nok "the keys are read at the relative path data/gitnet" "$(grep -E 'type=[12] ' "$TMP/stub.log" | head -3)"
fi

# bad KEY VALUE EXPECTED-MESSAGE: one clear line naming the key, exit 2.
bad() {
	local key=$1 val=$2 want=$3 old out rc
	old=$(xenstore-read "$B/$key" 2>/dev/null)
	xenstore-write "$B/$key" "$val"
	out=$("$INIT" --xenstore-dump 2>&1); rc=$?
	if [ -n "$old" ]; then xenstore-write "$B/$key" "$old"; else xenstore-rm "$B/$key"; fi
	check "bad $key '$val' is refused by name" "2 gitnet-init: fatal: xenstore $R/$key: $want" "$rc $out"
}
bad bogus 1 'unknown key (see README, "The guest")'
bad forward/x tcp:1=192.168.1.2:1 'unknown key (see README, "The guest")'
bad forward/3 tcp:81=10.0.0.2:80 'forward tcp:81: address 10.0.0.2 is not on the inside subnet 192.168.1.0/24'
bad forward/4 tcp:99999=192.168.1.2:80 "--forward: external port '99999' is out of range 1..65535"
bad gateway 10.9.9.9 'gateway 10.9.9.9 is not on the inside (192.168.1.0/24) or outside (203.0.113.0/24) subnet'
bad nat maybe "'maybe' is neither on nor off"
bad udp-timeout 0 "--udp-timeout: '0' is out of range 1..604800"
bad outside eth1=203.0.113.300/24 "--outside: address '203.0.113.300' is not an IPv4 address"
bad outside eth1=192.168.1.7/24 'inside 192.168.1.1/24 and outside 192.168.1.7/24 are overlapping subnets'
bad verbose 9 "'9' is not 0, 1, 2 or 3"
bad gateway "a b" "value 'a b' has a blank or control character"

# --- layers: xenstore over the command line ----------------------------------
# Scalars: xenstore's win, the command line's fill in. Lists: xenstore's
# forward/<n> replace the command line's forwards as a whole.
out=$("$INIT" --xenstore-dump --cmdline "console=ttyS0 gitnet.inside=eth0=10.9.0.1/24 gitnet.tcp-timeout=900 gitnet.udp-timeout=60 gitnet.forward=tcp:1=10.9.0.9:1 gitnet.nat-max-sessions=5000 quiet" 2>&1 | tr '\n' ' ')
check "layers: xenstore keys override the command line's, the others are kept, lists replaced whole" \
	"/bin/gitnet-router --inside eth0=192.168.1.1/24 --outside eth1=203.0.113.2/24 --gateway 203.0.113.1 --nat-max-sessions 5000 --udp-timeout 120 --tcp-timeout 900 --forward tcp:8080=192.168.1.2:80 --forward udp:53=192.168.1.3:53 -v --state /state/gitnet.git --control /run/gitnet-router.sock " \
	"$out"
out=$("$INIT" --xenstore-dump --cmdline "gitnet.tcp-timeout=0" 2>&1); rc=$?
check "layers: a bad command-line key under xenstore is named with its own source" \
	"2 gitnet-init: fatal: kernel command line gitnet.tcp-timeout: --tcp-timeout: '0' is out of range 1..604800" "$rc $out"
out=$("$INIT" --xenstore-dump --cmdline "gitnet.forward=tcp:1=10.9.0.9:1" 2>&1); rc=$?
check "layers: the replaced command-line forward is not checked against xenstore's inside" "0" "$rc"

# --- the watch ---------------------------------------------------------------
"$INIT" --xenstore-watch >"$TMP/w.out" 2>&1 &
WATCH_PID=$!
for _ in $(seq 50); do grep -q '^watching' "$TMP/w.out" && break; sleep 0.1; done
check "watch: set on the relative path" "watching $R" "$(grep '^watching' "$TMP/w.out")"
waitfor() {	# waitfor PATTERN: up to 5 s for a line in the watcher's output
	for _ in $(seq 50); do grep -qF -- "$1" "$TMP/w.out" && return 0; sleep 0.1; done
	return 1
}
xenstore-write $B/forward/5 udp:5353=192.168.1.4:5353
waitfor "forward/5: '(none)' -> 'udp:5353=192.168.1.4:5353' (live)" &&
	waitfor "udp:5353=192.168.1.4:5353" && waitfor "applying: router argv now:" &&
	ok "watch: a new forward is applied live" ||
	nok "watch: a new forward is applied live" "$(tail -5 "$TMP/w.out")"
xenstore-write $B/inside eth0=192.168.2.1/24
waitfor "inside: 'eth0=192.168.1.1/24' -> 'eth0=192.168.2.1/24' (needs a guest restart: not applied)" &&
	ok "watch: an inside change is logged as needing a restart" ||
	nok "watch: an inside change is logged as needing a restart" "$(tail -3 "$TMP/w.out")"
xenstore-write $B/icmp-timeout 0
waitfor "live change rejected, router keeps running as it was: xenstore $R/icmp-timeout: --icmp-timeout: '0' is out of range" &&
	ok "watch: a bad live value is rejected by name" ||
	nok "watch: a bad live value is rejected by name" "$(tail -3 "$TMP/w.out")"
xenstore-write $B/icmp-timeout 30
waitfor "icmp-timeout: '0' -> '30' (live)" && waitfor "--icmp-timeout" &&
	ok "watch: fixing the value applies it" ||
	nok "watch: fixing the value applies it" "$(tail -3 "$TMP/w.out")"
# The restart-only change stays unapplied: the argv keeps the boot-time inside.
tail -20 "$TMP/w.out" | grep -q "^eth0=192.168.2.1/24" &&
	nok "watch: restart-only value stays out of the live argv" ||
	ok "watch: restart-only value stays out of the live argv"
kill $WATCH_PID; wait $WATCH_PID 2>/dev/null; WATCH_PID=

# --- the kernel command line ---------------------------------------------------
out=$("$INIT" --cmdline-dump "console=ttyS0 panic=5 gitnet.inside=eth0=10.1.0.1/24 gitnet.outside=eth1=10.2.0.1/24 gitnet.forward=tcp:80=10.1.0.2:80 gitnet.forward=udp:53=10.1.0.3:53 quiet" 2>&1 | tr '\n' ' ')
check "command line: gitnet.* words become the argv, others skipped" \
	"/bin/gitnet-router --inside eth0=10.1.0.1/24 --outside eth1=10.2.0.1/24 --forward tcp:80=10.1.0.2:80 --forward udp:53=10.1.0.3:53 --state /state/gitnet.git --control /run/gitnet-router.sock " \
	"$out"
out=$("$INIT" --cmdline-dump "gitnet.inside=eth0=10.1.0.1/24 gitnet.outside" 2>&1); rc=$?
check "command line: a word without a value is refused" \
	"2 gitnet-init: fatal: kernel command line gitnet.outside: no '=VALUE'" "$rc $out"
out=$("$INIT" --cmdline-dump "gitnet.inside=eth0=10.1.0.1/24 gitnet.outsde=eth1=10.2.0.1/24" 2>&1); rc=$?
check "command line: a misspelt key is refused" \
	"2 gitnet-init: fatal: kernel command line gitnet.outsde: unknown key (see README, \"The guest\")" "$rc $out"
out=$("$INIT" --cmdline-dump "gitnet.inside=eth0=10.1.0.1/24 gitnet.outside=eth1=10.2.0.1/24 gitnet.memory=64M" 2>&1 | tr '\n' ' ')
check "command line: gitnet.memory sizes the router (--memory)" \
	"/bin/gitnet-router --inside eth0=10.1.0.1/24 --outside eth1=10.2.0.1/24 --memory 64M --state /state/gitnet.git --control /run/gitnet-router.sock " \
	"$out"
out=$("$INIT" --cmdline-dump "gitnet.inside=eth0=10.1.0.1/24 gitnet.outside=eth1=10.2.0.1/24 gitnet.memory=1K" 2>&1); rc=$?
check "command line: a memory below 16M is refused by name" \
	"2 gitnet-init: fatal: kernel command line gitnet.memory: --memory: '1K' is too small" "$rc $out"

# --- the saved configuration, and a restart into a new domain --------------------
# What xl reboot, on_reboot and on_crash do: a new domain (domid 10) whose
# data/gitnet is empty. The guest then takes its last good configuration
# from the state disk (here --saved FILE), under whatever the other layers give.
SAVED=$TMP/gitnet-config
xenstore-rm $B
xenstore-write $B/inside eth0=192.168.1.1/24 $B/outside eth1=203.0.113.2/24 \
	$B/forward/1 tcp:8080=192.168.1.2:80 $B/udp-timeout 120
want=$("$INIT" --xenstore-dump --cmdline "console=ttyS0 gitnet.state-device=vdb gitnet.tcp-timeout=900" \
	--saved "$SAVED" 2>"$TMP/save.err" | tr '\n' ' ')
if [ -f "$SAVED" ] && [ ! -e "$SAVED.tmp" ] && [ "$(stat -c %a "$SAVED")" = 600 ] &&
    grep -qx "gitnet.inside=eth0=192.168.1.1/24" "$SAVED" && grep -qx "gitnet.forward=tcp:8080=192.168.1.2:80" "$SAVED" &&
    grep -qx "gitnet.tcp-timeout=900" "$SAVED" && grep -qF "config: saved in $SAVED (6 keys)" "$TMP/save.err"; then
	ok "saved: the checked configuration, every layer's keys, as command-line words (mode 600, no .tmp left)"
else
	nok "saved: the checked configuration as command-line words" "$(cat "$SAVED" 2>&1 | grep -v '^#' | tr '\n' ' ')" "$(cat "$TMP/save.err")"
fi
"$INIT" --xenstore-dump --cmdline "gitnet.state-device=vdb gitnet.tcp-timeout=900" --saved "$SAVED" >/dev/null 2>"$TMP/save2.err"
grep -q "config: saved" "$TMP/save2.err" && nok "saved: an unchanged configuration is not written again" "$(cat "$TMP/save2.err")" ||
	ok "saved: an unchanged configuration is not written again"

start_stub 10
check "restart: the new stub is domain 10 with an empty data/gitnet" "10 " \
	"$(xenstore-read domid) $(xenstore-list /local/domain/10/data/gitnet 2>/dev/null)"
got=$("$INIT" --xenstore-dump --cmdline "console=ttyS0 gitnet.state-device=vdb" --saved "$SAVED" 2>"$TMP/fb.err" | tr '\n' ' ')
check "restart: domain 10 with an empty tree comes back with the same argv from the saved configuration" "$want" "$got"
grep -qF "gitnet-init: config: no inside from the kernel command line or xenstore data/gitnet: using the last good configuration, saved in $SAVED" "$TMP/fb.err" &&
	ok "restart: one console line says the saved configuration is used, naming the file" ||
	nok "restart: one console line says the saved configuration is used" "$(cat "$TMP/fb.err")"
xenstore-write /local/domain/10/data/gitnet/udp-timeout 30
got=$("$INIT" --xenstore-dump --cmdline "gitnet.tcp-timeout=600" --saved "$SAVED" 2>/dev/null | tr '\n' ' ')
case $got in
*"--inside eth0=192.168.1.1/24 "*"--udp-timeout 30 --tcp-timeout 600 --forward tcp:8080=192.168.1.2:80 "*)
	ok "restart: the command line and xenstore still override the saved keys" ;;
*)	nok "restart: the command line and xenstore still override the saved keys" "got: $got" ;;
esac
xenstore-rm /local/domain/10/data/gitnet
out=$("$INIT" --xenstore-dump --saved "$TMP/none" 2>&1); rc=$?
check "restart: no layer and no saved file: the boot stops naming the key and the file" \
	"2 [ts] gitnet-init: config: no inside from xenstore data/gitnet, and no saved configuration in $TMP/none gitnet-init: fatal: gitnet.inside: missing (required: DEV=ADDR/PLEN, e.g. eth0=192.168.1.1/24)" \
	"$rc $(echo "$out" | sed 's/^\[[ 0-9.]*\]/[ts]/' | tr '\n' ' ' | sed 's/ $//')"
printf 'gitnet.inside=eth0=192.168.1.1/24\ngitnet.bogus=1\n' >"$TMP/bad-config"
out=$("$INIT" --xenstore-dump --saved "$TMP/bad-config" 2>&1 | tail -1); rc=$?
check "restart: a saved file with an unknown key is refused, naming the file and the key" \
	"gitnet-init: fatal: $TMP/bad-config: gitnet.bogus: unknown key (see README, \"The guest\")" "$out"
# Live changes in the new domain are saved once applied.
"$INIT" --xenstore-watch --saved "$SAVED" >"$TMP/w.out" 2>&1 &
WATCH_PID=$!
for _ in $(seq 50); do grep -q '^watching' "$TMP/w.out" && break; sleep 0.1; done
xenstore-write /local/domain/10/data/gitnet/forward/1 udp:5353=192.168.1.4:5353
waitfor "config: saved in $SAVED" && grep -qx "gitnet.forward=udp:5353=192.168.1.4:5353" "$SAVED" &&
	! grep -q "tcp:8080" "$SAVED" && grep -qx "gitnet.inside=eth0=192.168.1.1/24" "$SAVED" &&
	ok "restart: a live change in the new domain is applied over the saved configuration and saved" ||
	nok "restart: a live change in the new domain is saved" "$(tail -4 "$TMP/w.out")" "$(grep -v '^#' "$SAVED" | tr '\n' ' ')"
kill $WATCH_PID; wait $WATCH_PID 2>/dev/null; WATCH_PID=
# A key removed from xenstore falls back to the layer under it.
"$INIT" --xenstore-watch --cmdline "gitnet.icmp-timeout=60" --saved "$SAVED" >"$TMP/w.out" 2>&1 &
WATCH_PID=$!
for _ in $(seq 50); do grep -q '^watching' "$TMP/w.out" && break; sleep 0.1; done
xenstore-write /local/domain/10/data/gitnet/icmp-timeout 20
waitfor "icmp-timeout: '60' -> '20' (live)" && xenstore-rm /local/domain/10/data/gitnet/icmp-timeout &&
	waitfor "icmp-timeout: '20' -> '60' (live)" &&
	ok "watch: a key removed from xenstore falls back to the command line's value, applied live" ||
	nok "watch: a key removed from xenstore falls back to the command line's value" "$(grep icmp "$TMP/w.out")"
kill $WATCH_PID; wait $WATCH_PID 2>/dev/null; WATCH_PID=

# --- NICs by identity (mac:, vif:), resolved against a stand-in sysfs ----------
# GITNET_SYSFS points the host modes at a tree shaped like a Xen guest's
# /sys/class/net: eth0 is vif 1 and eth1 vif 0 (xen-netfront's nodename),
# so position, MAC and vif index all disagree.
SYS=$TMP/sys
while read -r dev mac vif; do
	mkdir -p "$SYS/class/net/$dev/device"
	echo "$mac" >"$SYS/class/net/$dev/address"
	[ "$vif" = - ] || echo "device/vif/$vif" >"$SYS/class/net/$dev/device/nodename"
done <<EOF
eth0 00:16:3e:47:4e:02 1
eth1 00:16:3e:47:4e:01 0
lo 00:00:00:00:00:00 -
EOF
dump() { GITNET_SYSFS=$SYS "$INIT" --cmdline-dump "$1" 2>&1; }
out=$(dump "gitnet.inside=mac:00:16:3E:47:4E:01=10.1.0.1/24 gitnet.outside=vif:1=10.2.0.1/24" | tr '\n' ' ')
check "identity: inside by MAC (any case) and outside by vif index resolve to kernel names" \
	"/bin/gitnet-router --inside eth1=10.1.0.1/24 --outside eth0=10.2.0.1/24 --state /state/gitnet.git --control /run/gitnet-router.sock " \
	"$out"
out=$(dump "gitnet.inside=vif:0=10.1.0.1/24 gitnet.outside=eth0=10.2.0.1/24" | tr '\n' ' ')
check "identity: a vif: and a positional name mix" \
	"/bin/gitnet-router --inside eth1=10.1.0.1/24 --outside eth0=10.2.0.1/24 --state /state/gitnet.git --control /run/gitnet-router.sock " \
	"$out"
# Through xenstore too: the same keys, the same resolution (in the stub's
# domain now: 10 since the restart above).
B=/local/domain/$(xenstore-read domid)/data/gitnet
xenstore-write $B/inside mac:00:16:3e:47:4e:02=192.168.1.1/24 $B/outside vif:0=203.0.113.2/24
out=$(GITNET_SYSFS=$SYS "$INIT" --xenstore-dump 2>&1 | head -5 | tr '\n' ' ')
check "identity: xenstore inside=mac:, outside=vif: resolve" \
	"/bin/gitnet-router --inside eth0=192.168.1.1/24 --outside eth1=203.0.113.2/24 " "$out"
xenstore-write $B/inside eth0=192.168.1.1/24 $B/outside eth1=203.0.113.2/24
# badnic CMDLINE-WORDS EXPECTED-MESSAGE: refused with one line naming the key.
badnic() {
	local out rc
	out=$(dump "$1"); rc=$?
	check "identity: refused: $1" "2 gitnet-init: fatal: kernel command line gitnet.$2" "$rc $out"
}
badnic "gitnet.inside=mac:00:16:3e:47:4e=10.1.0.1/24 gitnet.outside=eth1=10.2.0.1/24" \
	"inside: 'mac:00:16:3e:47:4e' is not mac:XX:XX:XX:XX:XX:XX (six pairs of hex digits)"
badnic "gitnet.inside=eth0=10.1.0.1/24 gitnet.outside=vif:x=10.2.0.1/24" \
	"outside: 'vif:x' is not vif:N (N: Xen's vif index, 0 for the domain's first vif)"
badnic "gitnet.inside=pci:0000:00:04.0=10.1.0.1/24 gitnet.outside=eth1=10.2.0.1/24" \
	"inside: 'pci:0000:00:04.0': unknown NIC selector (mac:MAC, vif:N, or a device name such as eth0)"
badnic "gitnet.inside=mac:00:16:3e:47:4e:01 gitnet.outside=eth0=10.2.0.1/24" \
	"inside: 'mac:00:16:3e:47:4e:01' lacks =ADDR/PLEN (NIC=ADDR/PLEN; NIC: eth0, mac:XX:XX:XX:XX:XX:XX or vif:N)"
out=$(dump "gitnet.inside=mac:00:16:3e:00:00:09=10.1.0.1/24 gitnet.outside=eth0=10.2.0.1/24"); rc=$?
[ "$rc" = 2 ] && [ "$(echo "$out" | wc -l)" = 1 ] &&
	echo "$out" | grep -q "^gitnet-init: fatal: kernel command line gitnet.inside: no NIC with mac 00:16:3e:00:00:09 (NICs: .*eth0 00:16:3e:47:4e:02 device/vif/1" &&
	ok "identity: a MAC no NIC has is refused, naming the key and listing the NICs" ||
	nok "identity: a MAC no NIC has is refused, listing the NICs" "rc $rc: $out"
badnic "gitnet.inside=mac:00:16:3e:47:4e:01=10.1.0.1/24 gitnet.outside=mac:00:16:3E:47:4E:01=10.2.0.1/24" \
	"outside: mac 00:16:3e:47:4e:01 is the inside's NIC too"
badnic "gitnet.inside=mac:00:16:3e:47:4e:01=10.1.0.1/24 gitnet.outside=vif:0=10.2.0.1/24" \
	"outside: inside and outside are both device 'eth1'"
badnic "gitnet.inside=eth0=10.1.0.1/24 gitnet.outside=eth1=10.2.0.1/24 gitnet.state-device=../sda" \
	"state-device: '../sda' is not auto, none, a block device name (vdb, xvda, xvdb1) or serial:ID"
badnic "gitnet.inside=eth0=10.1.0.1/24 gitnet.outside=eth1=10.2.0.1/24 gitnet.state-device=serial:a/b" \
	"state-device: 'serial:a/b' is not auto, none, a block device name (vdb, xvda, xvdb1) or serial:ID"
out=$(dump "gitnet.inside=eth0=10.1.0.1/24 gitnet.outside=eth1=10.2.0.1/24 gitnet.state-device=/dev/xvda" | head -1)
check "state-device: an explicit xvda (/dev/ form too) is accepted" "/bin/gitnet-router" "$out"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]

#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Boot the gitnet guest (guest/out/, built here if missing) under QEMU TCG
# and route real traffic through it:
#
#	cli  veth-c 192.168.1.2/24 gw .1
#	      |
#	rtr  br-in [veth-ri + tap-in]   br-out [veth-ro + tap-out]   QEMU runs here
#	      |                          |
#	     guest eth0 192.168.1.1/24  guest eth1 203.0.113.1/24 (NAT)
#	                                 |
#	srv                        veth-s 203.0.113.2/24, HTTP on :8080
#
# Checks: boot to a running router; ping and curl from cli reach srv, and srv
# sees the guest's outside address (NAT); the ACPI power button (boot 1) and
# Ctrl-Alt-Del (boot 2; what `xl reboot` delivers: SIGINT to PID 1) stop the
# router cleanly, then the guest powers off / reboots, ending QEMU; the state
# disk, read on the host with debugfs, holds a history that passes git fsck;
# a second boot resumes from it (state: loaded with entries) and routes again;
# a kernel panic mid-run (QEMU `nmi`, unknown_nmi_panic=1, panic=5) leaves a
# repository that passes git fsck and a fourth boot resumes from; a fifth boot
# takes its configuration from xenstore (the stub, on a virtio-serial port)
# and applies a forward written there live (router_main called again in
# PID 1); a sixth boot is the restart Xen does (xl reboot, on_reboot,
# on_crash: a new domain): the stub comes back as domain 10 with an empty
# tree, and the guest takes the configuration it last started with from its
# state disk (/state/gitnet-config, saved after each start), says so, and
# comes back with the same addresses, the live forward and its history.
# Boot 5 also sees control/shutdown = suspend and its clearing (a save or
# migration, then the resume) answered with gratuitous ARP; boots 4 and 6 end
# by init running /sbin/poweroff and /sbin/reboot as the kernel's
# orderly_poweroff()/orderly_reboot() would (GITNET_TEST_SHUTDOWN), and
# e2fsck -n then finds the state disk clean.
# A seventh boot has the NICs' PCI slots and MACs swapped and binds them by
# MAC (gitnet.inside=mac:...); a configured state disk that is missing stops
# the boot. The router runs in init's process: it logs pid=1, and the image
# has no /bin/gitnet-router.
# Figures: image size, boot to router start, boot to first forwarded ping.
# The state disk starts as an all-zero file: the guest formats it on first
# boot. Prints `ok N - ...` and `N passed, N failed`. Needs root, QEMU.
set -u
cd "$(dirname "$0")/../.." || exit 2

PASS=0 FAIL=0 N=0
ok() { N=$((N + 1)); PASS=$((PASS + 1)); echo "ok $N - $1"; }
nok() { N=$((N + 1)); FAIL=$((FAIL + 1)); echo "not ok $N - $1"; shift; for l in "$@"; do echo "#   $l"; done; }
finish() { echo "$PASS passed, $FAIL failed"; [ "$FAIL" = 0 ]; exit $?; }

ID=gg$$
CLI=$ID-cli RTR=$ID-rtr SRV=$ID-srv
TMP=$(mktemp -d /tmp/gn-boot.XXXXXX)
QEMU_PID= HTTP_PID= HTTP2_PID= STUB_PID=
cleanup() {
	for p in $QEMU_PID $HTTP_PID $HTTP2_PID $STUB_PID; do kill "$p" 2>/dev/null; done
	for p in $QEMU_PID $HTTP_PID $HTTP2_PID $STUB_PID; do wait "$p" 2>/dev/null; done
	for ns in $CLI $RTR $SRV; do ip netns del "$ns" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

for t in qemu-system-x86_64 debugfs e2fsck ethtool curl ping git socat xenstore-write; do
	command -v $t >/dev/null || { nok "$t missing (make deps)"; finish; }
done
if [ ! -f guest/out/initramfs.cpio.gz ] || [ build/librouter.a -nt guest/out/initramfs.cpio.gz ] ||
    [ guest/mkimage -nt guest/out/initramfs.cpio.gz ] ||
    [ guest/init.c -nt guest/out/initramfs.cpio.gz ] || [ guest/xs.c -nt guest/out/initramfs.cpio.gz ]; then
	guest/mkimage >"$TMP/mkimage.log" 2>&1 || { nok "guest/mkimage" "$(tail -5 "$TMP/mkimage.log")"; finish; }
fi
ok "image: $(tail -n +5 guest/out/sizes | head -1 | tr -s ' ')"

# --- the topology ---------------------------------------------------------------
. tests/guest/guest_lib.sh
guest_topo $CLI $RTR $SRV || { nok "the topology (namespaces, bridges, TAPs)"; finish; }
guest_www $SRV "$TMP/www" "hello from srv $ID" big

STATE=$TMP/state.img
truncate -s 64M "$STATE"
APPEND="gitnet.inside=eth0=192.168.1.1/24 gitnet.outside=eth1=203.0.113.1/24"

boot() {	# boot LOG [WORDS]: start QEMU in rtr; sets QEMU_PID, T0 (ms)
	T0=$(date +%s%3N)
	ip netns exec $RTR guest/run-qemu --tap-inside tap-in --tap-outside tap-out \
		--state "${BOOT_STATE:-$STATE}" --monitor "$TMP/mon.sock" --console "$1" \
		--append "$APPEND ${2:-}" ${BOOT_XS:+--xenstore "$BOOT_XS"} ${BOOT_SWAP:+--swap-nics} \
		>"$1.qemu" 2>&1 &
	QEMU_PID=$!
}
first_ping() {	# ms from T0 to the first answered ping (up to 60 s), or fail
	local i
	for i in $(seq 120); do
		if ip netns exec $CLI ping -c 1 -W 1 203.0.113.2 >/dev/null 2>&1; then
			echo $(($(date +%s%3N) - T0)); return 0
		fi
		kill -0 "$QEMU_PID" 2>/dev/null || return 1
	done
	return 1
}
monitor() { (echo "$1"; sleep 1) | ip netns exec $RTR socat - "UNIX-CONNECT:$TMP/mon.sock" >/dev/null 2>&1 ||
	ip netns exec $RTR /usr/bin/python3 -c "import socket,sys,time
s=socket.socket(socket.AF_UNIX); s.connect('$TMP/mon.sock'); time.sleep(0.3)
s.sendall(b'$1\n'); time.sleep(1)"; }
shutdown_guest() {	# shutdown_guest LOG NAME HOW: powerdown | ctrl-alt-delete
	local i what
	if [ "$3" = powerdown ]; then
		monitor system_powerdown; what="ACPI power button (QEMU system_powerdown)"
	else
		monitor "sendkey ctrl-alt-delete"; what="Ctrl-Alt-Del (xl reboot: SIGINT)"
	fi
	for i in $(seq 300); do kill -0 "$QEMU_PID" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$QEMU_PID" 2>/dev/null; then
		nok "$2: guest stops on $what" "$(tail -5 "$1")"
		kill "$QEMU_PID"; wait "$QEMU_PID"; QEMU_PID=; return
	fi
	wait "$QEMU_PID"; QEMU_PID=
	local end="gitnet-init: rebooting"
	[ "$3" = powerdown ] && end="gitnet-init: powering off"
	grep -q "router stopped (exit 0)" "$1" && grep -q "$end" "$1" &&
		ok "$2: $what: router stopped cleanly, synced, ${end#gitnet-init: } (QEMU ended)" ||
		nok "$2: $what: router stopped cleanly, ${end#gitnet-init: }" "$(tail -5 "$1")"
}
self_shutdown() {	# self_shutdown LOG NAME HOW: the guest runs /sbin/HOW (GITNET_TEST_SHUTDOWN)
	local i sig end
	for i in $(seq 900); do kill -0 "$QEMU_PID" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$QEMU_PID" 2>/dev/null; then
		nok "$2: /sbin/$3 run as the kernel does ends the guest" "$(tail -5 "$1")"
		kill "$QEMU_PID"; wait "$QEMU_PID"; QEMU_PID=; return
	fi
	wait "$QEMU_PID"; QEMU_PID=
	if [ "$3" = poweroff ]; then
		sig="signal 12: power-off request"; end="gitnet-init: powering off"
	else
		sig="router stopped (exit 0) on SIGINT"; end="gitnet-init: rebooting"
	fi
	# /sbin/HOW is the symlink to /init, which signals PID 1 (SIGUSR2 for
	# poweroff, SIGINT for reboot); the router commits, init syncs and unmounts.
	grep -q "test: running /sbin/$3 as the kernel does" "$1" && grep -qF "$sig" "$1" &&
		grep -q "router stopped (exit 0)" "$1" && grep -q "$end" "$1" &&
		ok "$2: /sbin/$3 run as the kernel runs it (orderly_$3): the signal reached PID 1, router stopped cleanly, ${end#gitnet-init: }" ||
		nok "$2: /sbin/$3 run as the kernel runs it" "$(grep -E 'gitnet-init|router' "$1" | tail -6)"
	e2fsck -n "$STATE" >"$TMP/e2fsck-$3.log" 2>&1 &&
		! dumpe2fs -h "$STATE" 2>/dev/null | grep -q needs_recovery &&
		ok "$2: e2fsck -n on the host: the state disk is clean (unmounted, no journal to replay)" ||
		nok "$2: e2fsck -n on the host: the state disk is clean" "$(tail -3 "$TMP/e2fsck-$3.log")"
}
forward_page() {	# srv fetches cli's page through the forward 203.0.113.1:8080 (retries 5 s)
	local body= i
	for i in $(seq 10); do
		body=$(ip netns exec $SRV curl -s -m 3 http://203.0.113.1:8080/index.html) && [ -n "$body" ] && break
		sleep 0.5
	done
	echo "$body"
}
export_state() {	# export_state DIR [IMAGE]: the repository from the disk image, host side
	rm -rf "$1"; mkdir -p "$1"
	debugfs -R "rdump /gitnet.git $1" "${2:-$STATE}" >/dev/null 2>&1
}

# --- bad input stops the boot -------------------------------------------------------
ends() {	# ends LOG: wait up to 60 s for QEMU to end by itself
	local i
	for i in $(seq 600); do kill -0 "$QEMU_PID" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$QEMU_PID" 2>/dev/null; then kill "$QEMU_PID"; wait "$QEMU_PID"; QEMU_PID=; return 1; fi
	wait "$QEMU_PID"; QEMU_PID=
}
LOG0=$TMP/boot0.log
APPEND_OK=$APPEND
APPEND="gitnet.inside=eth0=192.168.1.1/24 gitnet.outsde=eth1=203.0.113.1/24"
boot "$LOG0"
if ends "$LOG0" && grep -q 'gitnet-init: fatal: kernel command line gitnet.outsde: unknown key' "$LOG0" &&
    grep -q "reboot: Power down" "$LOG0"; then
	ok "a misspelt command-line key stops the boot with one line naming it, then powers off"
else
	nok "a misspelt command-line key stops the boot, naming it" "$(tail -4 "$LOG0")"
fi
APPEND=$APPEND_OK
# A disk that is neither ext4 nor all zeros is never formatted.
BOOT_STATE=$TMP/foreign.img
truncate -s 16M "$BOOT_STATE"
printf 'somebody else'"'"'s data' | dd of="$BOOT_STATE" bs=1 seek=1048576 conv=notrunc 2>/dev/null
sum0=$(sha256sum <"$BOOT_STATE")
boot "$LOG0.2"
if ends "$LOG0.2" && grep -q "cannot mount as ext4 .* and it is not empty: not formatting it" "$LOG0.2" &&
    [ "$(sha256sum <"$BOOT_STATE")" = "$sum0" ]; then
	ok "a foreign (non-empty, non-ext4) state disk stops the boot and is left untouched"
else
	nok "a foreign state disk stops the boot untouched" "$(grep -E 'state|fatal' "$LOG0.2")"
fi
BOOT_STATE=
# A state disk named explicitly (vdc: run-qemu attaches only vda) that is not
# there stops the boot: the router never runs without the history it was
# told to keep.
boot "$LOG0.3" gitnet.state-device=vdc
if ends "$LOG0.3" && grep -q 'gitnet-init: fatal: kernel command line gitnet.state-device: the configured state disk vdc is missing (block devices: .*vda' "$LOG0.3" &&
    grep -q "reboot: Power down" "$LOG0.3" && ! grep -q "router: started" "$LOG0.3"; then
	ok "a configured state disk that is missing stops the boot with one line naming it, then powers off"
else
	nok "a configured state disk that is missing stops the boot" "$(grep -E 'state|fatal|Power' "$LOG0.3")"
fi
# The same for a disk chosen by its serial (virtio-blk; run-qemu's is gitnet-state).
boot "$LOG0.5" gitnet.state-device=serial:nosuch
if ends "$LOG0.5" && grep -q 'gitnet-init: fatal: kernel command line gitnet.state-device: the configured state disk serial:nosuch is missing (block devices: .*vda (serial gitnet-state)' "$LOG0.5" &&
    grep -q "reboot: Power down" "$LOG0.5"; then
	ok "a state disk chosen by a serial no disk has stops the boot, listing the disks and serials"
else
	nok "a state disk chosen by a missing serial stops the boot" "$(grep -E 'state|fatal|Power' "$LOG0.5")"
fi
# auto keeps today's rule (vdb, else xvdb, else no history) and names the
# disks it saw: here vda, the one a vdev=xvda domain would have, untouched.
boot "$LOG0.4" gitnet.state-device=auto
if waitlog "$LOG0.4" "router: started" 90 &&
    grep -q "state: no vdb or xvdb disk (block devices: vda (serial gitnet-state)): running without history" "$LOG0.4" &&
    ! grep -q "formatting" "$LOG0.4"; then
	ok "state-device=auto without vdb/xvdb: the router runs without history, naming the disks it saw"
else
	nok "state-device=auto without vdb/xvdb runs without history" "$(grep -E 'state|fatal' "$LOG0.4")"
fi
shutdown_guest "$LOG0.4" "state-device=auto" powerdown

# --- first boot ---------------------------------------------------------------------
LOG1=$TMP/boot1.log
boot "$LOG1"
if waitlog "$LOG1" "router: started" 90; then
	ok "boot 1: router started in $(($(date +%s%3N) - T0)) ms (QEMU TCG, from QEMU start)"
else
	nok "boot 1: router started" "$(tail -15 "$LOG1" "$LOG1.qemu")"; finish
fi
if grep -q "router: started: .* pid=1[[:space:]]*$" "$LOG1" && ! grep -q "exec /bin/gitnet-router" "$LOG1" &&
    ! zcat guest/out/initramfs.cpio.gz | cpio -t --quiet 2>/dev/null | grep -q gitnet-router; then
	ok "boot 1: one process: the router runs in PID 1 (pid=1), no /bin/gitnet-router in the image"
else
	nok "boot 1: the router runs in PID 1" "$(grep -E 'router: started|gitnet-router' "$LOG1")"
fi
grep -q "/dev/vda is empty: formatting it" "$LOG1" &&
	ok "boot 1: the all-zero state disk was formatted" ||
	nok "boot 1: the all-zero state disk was formatted" "$(grep state: "$LOG1")"
if ms=$(first_ping); then
	ok "boot 1: ping cli -> srv through the guest (first answered $ms ms after QEMU start)"
else
	nok "boot 1: ping cli -> srv through the guest" "$(tail -5 "$LOG1")"
fi
ip netns exec $CLI ping -c 3 -i 0.2 -W 2 203.0.113.2 >"$TMP/ping.out" 2>&1 &&
	ok "boot 1: 3 more pings answered" || nok "boot 1: 3 more pings answered" "$(tail -3 "$TMP/ping.out")"
body=$(ip netns exec $CLI curl -s -m 10 http://203.0.113.2:8080/index.html)
[ "$body" = "hello from srv $ID" ] && ok "boot 1: curl cli -> srv:8080 gets the page" ||
	nok "boot 1: curl cli -> srv:8080 gets the page" "got: $body"
grep -q '^203.0.113.1 .*"GET /index.html' "$TMP/http.log" &&
	ok "boot 1: srv saw the guest's outside address (NAT)" ||
	nok "boot 1: srv saw the guest's outside address (NAT)" "$(tail -2 "$TMP/http.log")"
# Bulk TCP with every offload at its default: 20 MB down, sha256 checked;
# the router logs the first frame it could not read (rx_truncated), so its
# console must not hold that line.
tso=$(ip netns exec $SRV ethtool -k veth-s 2>/dev/null | awk '/^tcp-segmentation-offload:/ { print $2 }')
t0=$(date +%s%3N)
ip netns exec $CLI curl -s -m 120 -o "$TMP/big.got" http://203.0.113.2:8080/big.bin
t1=$(date +%s%3N)
got=$(sha256sum <"$TMP/big.got" 2>/dev/null | cut -d' ' -f1)
[ "$got" = "$BIG_SUM" ] &&
	ok "boot 1: curl of a 20 MB file through the guest, sha256 matches ($((t1 - t0)) ms, srv TSO $tso)" ||
	nok "boot 1: curl of a 20 MB file through the guest, sha256 matches" "got ${got:-nothing}, srv TSO $tso"
sleep 1.5	# the router logs new losses once a second
grep -q "larger than the router reads" "$LOG1" &&
	nok "boot 1: no frame dropped as rx_truncated in the guest" "$(grep 'larger than' "$LOG1")" ||
	ok "boot 1: no frame dropped as rx_truncated in the guest (no such line on the console)"
sleep 2		# let the state writer commit the sessions
shutdown_guest "$LOG1" "boot 1" powerdown

export_state "$TMP/s1"
if git --git-dir "$TMP/s1/gitnet.git" fsck --strict >"$TMP/fsck1" 2>&1; then
	c1=$(git --git-dir "$TMP/s1/gitnet.git" rev-list --all --count)
	ok "state disk (debugfs rdump on the host): git fsck passes, $c1 commits"
else
	c1=0
	nok "state disk: git fsck passes" "$(head -5 "$TMP/fsck1")"
fi
cfg=$(debugfs -R "cat /gitnet-config" "$STATE" 2>/dev/null)
if echo "$cfg" | grep -qx "gitnet.inside=eth0=192.168.1.1/24" && echo "$cfg" | grep -qx "gitnet.outside=eth1=203.0.113.1/24" &&
    grep -q "config: saved in /state/gitnet-config" "$LOG1"; then
	ok "state disk: the configuration the router started with is saved in /gitnet-config"
else
	nok "state disk: the configuration is saved in /gitnet-config" "$(echo "$cfg" | grep -v '^#' | tr '\n' ' ')" "$(grep config: "$LOG1")"
fi
git --git-dir "$TMP/s1/gitnet.git" log --all -p 2>/dev/null | grep -q "192.168.1.2" &&
	ok "state disk: the history holds cli's ARP entry or NAT session (192.168.1.2)" ||
	nok "state disk: the history holds cli's ARP entry or NAT session (192.168.1.2)"

# --- second boot: resumes ---------------------------------------------------------
LOG2=$TMP/boot2.log
boot "$LOG2"
if waitlog "$LOG2" "router: started" 90; then
	ok "boot 2: router started in $(($(date +%s%3N) - T0)) ms"
else
	nok "boot 2: router started" "$(tail -15 "$LOG2" "$LOG2.qemu")"; finish
fi
grep -q "formatting" "$LOG2" && nok "boot 2: the disk is not formatted again" || ok "boot 2: the disk is not formatted again"
line=$(grep -o "state: loaded: [^ ]* arp=[0-9]* nat_sessions=[0-9]*" "$LOG2")
arp=$(echo "$line" | sed -n 's/.*arp=\([0-9]*\).*/\1/p')
[ "${arp:-0}" -ge 1 ] && ok "boot 2: resumed from the disk ($line)" ||
	nok "boot 2: resumed from the disk (arp >= 1)" "got: $line"
first_ping >/dev/null && ok "boot 2: ping cli -> srv" || nok "boot 2: ping cli -> srv"
shutdown_guest "$LOG2" "boot 2" ctrl-alt-delete
export_state "$TMP/s2"
c2=$(git --git-dir "$TMP/s2/gitnet.git" rev-list --all --count 2>/dev/null || echo 0)
git --git-dir "$TMP/s2/gitnet.git" fsck --strict >/dev/null 2>&1 && [ "$c2" -gt "$c1" ] &&
	git --git-dir "$TMP/s2/gitnet.git" merge-base --is-ancestor \
	    "$(git --git-dir "$TMP/s1/gitnet.git" rev-parse HEAD)" HEAD 2>/dev/null &&
	ok "state after boot 2: fsck passes, history continues boot 1's ($c1 -> $c2 commits)" ||
	nok "state after boot 2: fsck passes, history continues boot 1's" "commits $c1 -> $c2"

# --- a kernel panic mid-run, then a boot that resumes ---------------------------
# unknown_nmi_panic=1 and QEMU's `nmi` give a real kernel panic; panic=5 then
# reboots, which ends QEMU (-no-reboot). Nothing in the guest gets to flush.
LOG3=$TMP/boot3.log
boot "$LOG3" unknown_nmi_panic=1
waitlog "$LOG3" "router: started" 90 || { nok "boot 3: router started" "$(tail -5 "$LOG3")"; finish; }
first_ping >/dev/null
ip netns exec $CLI curl -s -m 10 -o /dev/null http://203.0.113.2:8080/index.html
sleep 2
monitor nmi
for i in $(seq 200); do kill -0 "$QEMU_PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$QEMU_PID" 2>/dev/null; then
	nok "boot 3: kernel panic ends the guest (panic=5)" "$(tail -5 "$LOG3")"
	kill "$QEMU_PID"; wait "$QEMU_PID"; QEMU_PID=
else
	wait "$QEMU_PID"; QEMU_PID=
	grep -q "Kernel panic" "$LOG3" && ok "boot 3: kernel panic (NMI) rebooted the guest (panic=5)" ||
		nok "boot 3: kernel panic (NMI) rebooted the guest" "$(tail -3 "$LOG3")"
fi
# The host reads a copy after replaying the ext4 journal (e2fsck), as mount would.
cp --sparse=always "$STATE" "$TMP/panic.img"
e2fsck -fy "$TMP/panic.img" >"$TMP/e2fsck.log" 2>&1
export_state "$TMP/s3" "$TMP/panic.img"
c3=$(git --git-dir "$TMP/s3/gitnet.git" rev-list --all --count 2>/dev/null || echo 0)
git --git-dir "$TMP/s3/gitnet.git" fsck --strict >"$TMP/fsck3" 2>&1 &&
	git --git-dir "$TMP/s3/gitnet.git" merge-base --is-ancestor \
	    "$(git --git-dir "$TMP/s2/gitnet.git" rev-parse HEAD)" HEAD 2>/dev/null &&
	ok "after the panic: git fsck passes, history continues ($c2 -> $c3 commits)" ||
	nok "after the panic: git fsck passes, history continues" "$(head -3 "$TMP/fsck3")" "commits $c2 -> $c3"
LOG4=$TMP/boot4.log
boot "$LOG4" GITNET_TEST_SHUTDOWN=poweroff@15
if waitlog "$LOG4" "router: started" 90; then
	line=$(grep -o "state: loaded: [^ ]* arp=[0-9]* nat_sessions=[0-9]*" "$LOG4")
	! grep -q formatting "$LOG4" && [ -n "$line" ] &&
		ok "boot 4: resumes after the panic ($line)" ||
		nok "boot 4: resumes after the panic" "$(grep -E 'state|fatal' "$LOG4")"
else
	nok "boot 4: resumes after the panic" "$(tail -5 "$LOG4")"
fi
first_ping >/dev/null && ok "boot 4: ping cli -> srv" || nok "boot 4: ping cli -> srv"
self_shutdown "$LOG4" "boot 4" poweroff

# --- configured through xenstore, changed live ----------------------------------------
# The stub (tests/guest/xenstored_stub.py) is offered to the guest on a
# virtio-serial port, which libxenstore in the guest opens as it would
# /dev/xen/xenbus; dom0's part is played by Debian's xenstore-write.
export XENSTORED_PATH=$TMP/xs.sock
/usr/bin/python3 tests/guest/xenstored_stub.py "$XENSTORED_PATH" --domid 9 --log "$TMP/stub.log" &
STUB_PID=$!
for _ in $(seq 50); do [ -S "$XENSTORED_PATH" ] && break; sleep 0.1; done
X=/local/domain/9/data/gitnet
xenstore-write $X/inside eth0=192.168.1.1/24 $X/outside eth1=203.0.113.1/24 $X/state-device vda
mkdir -p "$TMP/www2"; echo "hello from cli $ID" >"$TMP/www2/index.html"
ip netns exec $CLI /usr/bin/python3 -m http.server 80 --bind 192.168.1.2 \
	--directory "$TMP/www2" >"$TMP/http2.log" 2>&1 &
HTTP2_PID=$!
LOG5=$TMP/boot5.log
APPEND= BOOT_XS=$XENSTORED_PATH boot "$LOG5"
if waitlog "$LOG5" "router: started" 90 && grep -q "xenstore: on virtio port" "$LOG5" &&
    grep -q "xenstore: domain 9: configuration under data/gitnet" "$LOG5" &&
    grep -q "router: started: inside=eth0 192.168.1.1/24 outside=eth1 203.0.113.1/24" "$LOG5" &&
    grep -q "state: loaded: dir=/state/gitnet.git" "$LOG5"; then
	ok "boot 5: configured from xenstore through libxenstore; $(grep -o 'state: loaded: [^ ]* arp=[0-9]*' "$LOG5")"
else
	nok "boot 5: configured from xenstore" "$(grep -E 'gitnet-init|state' "$LOG5" | tail -5)"
fi
first_ping >/dev/null && ok "boot 5: ping cli -> srv" || nok "boot 5: ping cli -> srv"
xenstore-write $X/forward/1 tcp:8080=192.168.1.2:80
for _ in $(seq 100); do [ "$(grep -c 'router: started' "$LOG5")" -ge 2 ] && break; sleep 0.1; done
grep -q "xenstore: forward/1: '(none)' -> 'tcp:8080=192.168.1.2:80' (live)" "$LOG5" &&
	grep -q "applying: restarting the router" "$LOG5" &&
	[ "$(grep -c 'router: started: .* pid=1[[:space:]]*$' "$LOG5")" -ge 2 ] &&
	ok "boot 5: a forward written to xenstore is logged and applied live (router_main again, still pid=1)" ||
	nok "boot 5: a forward written to xenstore is applied live" "$(grep gitnet-init "$LOG5" | tail -3)"
body=$(forward_page)
[ "$body" = "hello from cli $ID" ] && ok "boot 5: srv reaches cli's server through the new forward (203.0.113.1:8080)" ||
	nok "boot 5: srv reaches cli's server through the new forward" "got: $body"
# A save, migration or checkpoint: the toolstack writes control/shutdown =
# suspend (the kernel clears it and suspends; every watch fires after the
# resume). The router announces its addresses both times: cli sees
# gratuitous ARP for 192.168.1.1.
ip netns exec $CLI timeout 20 tcpdump -i veth-c -n -l -c 2 \
	"arp and arp[14:4] = 0xc0a80101 and arp[24:4] = 0xc0a80101" >"$TMP/garp.log" 2>&1 &
GARP_PID=$!
for _ in $(seq 50); do grep -q "listening on" "$TMP/garp.log" && break; sleep 0.1; done
xenstore-write /local/domain/9/control/shutdown suspend
for _ in $(seq 50); do grep -q "announce: router: announced" "$LOG5" && break; sleep 0.1; done
xenstore-write /local/domain/9/control/shutdown ""
wait "$GARP_PID" 2>/dev/null
grep -q "xenstore: control/shutdown: suspend: announcing" "$LOG5" &&
	grep -q "control/shutdown cleared after a suspend: resumed, announcing again" "$LOG5" &&
	[ "$(grep -c "announce: router: announced: 2 gratuitous ARP" "$LOG5")" = 2 ] &&
	[ "$(grep -c "Request who-has 192.168.1.1 tell 192.168.1.1" "$TMP/garp.log")" = 2 ] &&
	ok "boot 5: control/shutdown = suspend, then cleared (the resume): the router announced its addresses each time (cli saw 2 gratuitous ARP)" ||
	nok "boot 5: after a suspend the router announces its addresses" "$(grep -E 'control/shutdown|announce' "$LOG5" | tail -4)" "$(tail -3 "$TMP/garp.log")"
xenstore-write $X/inside eth0=192.168.9.1/24
xenstore-write $X/udp-timeout 0
for _ in $(seq 50); do grep -q "live change rejected" "$LOG5" && break; sleep 0.1; done
grep -q "xenstore: inside: 'eth0=192.168.1.1/24' -> 'eth0=192.168.9.1/24' (needs a guest restart: not applied)" "$LOG5" &&
	ok "boot 5: an inside change is logged as needing a restart, not applied" ||
	nok "boot 5: an inside change is logged as needing a restart" "$(grep gitnet-init "$LOG5" | tail -3)"
grep -q "live change rejected, router keeps running as it was: xenstore data/gitnet/udp-timeout: --udp-timeout: '0' is out of range" "$LOG5" &&
	[ "$(grep -c 'router: started' "$LOG5")" = 2 ] &&
	ok "boot 5: a bad live value is rejected by name; the router keeps running" ||
	nok "boot 5: a bad live value is rejected by name" "$(grep gitnet-init "$LOG5" | tail -3)"
shutdown_guest "$LOG5" "boot 5" powerdown
export_state "$TMP/s5"
git --git-dir "$TMP/s5/gitnet.git" fsck --strict >/dev/null 2>&1 &&
	ok "after boot 5: git fsck passes ($(git --git-dir "$TMP/s5/gitnet.git" rev-list --all --count) commits)" ||
	nok "after boot 5: git fsck passes"
cfg=$(debugfs -R "cat /gitnet-config" "$STATE" 2>/dev/null)
echo "$cfg" | grep -qx "gitnet.forward=tcp:8080=192.168.1.2:80" && ! echo "$cfg" | grep -q "192.168.9.1" &&
	ok "after boot 5: the saved configuration has the live forward, not the unapplied inside" ||
	nok "after boot 5: the saved configuration has the live forward" "$(echo "$cfg" | grep -v '^#' | tr '\n' ' ')"

# --- a restart as Xen does it: a new domain, an empty xenstore tree --------------------
kill "$STUB_PID"; wait "$STUB_PID" 2>/dev/null
rm -f "$XENSTORED_PATH"
/usr/bin/python3 tests/guest/xenstored_stub.py "$XENSTORED_PATH" --domid 10 --log "$TMP/stub.log" &
STUB_PID=$!
for _ in $(seq 50); do [ -S "$XENSTORED_PATH" ] && break; sleep 0.1; done
xenstore-list /local/domain/10/data/gitnet >/dev/null 2>&1 &&
	nok "boot 6: the new domain's data/gitnet is empty" || ok "boot 6: the stub is domain 10, data/gitnet empty"
LOG6=$TMP/boot6.log
APPEND= BOOT_XS=$XENSTORED_PATH boot "$LOG6" GITNET_TEST_SHUTDOWN=reboot@25
if waitlog "$LOG6" "router: started" 90 && grep -q "xenstore: domain 10: configuration under data/gitnet" "$LOG6" &&
    grep -q "gitnet-init: config: no inside from the kernel command line or xenstore data/gitnet: using the last good configuration, saved in /state/gitnet-config" "$LOG6" &&
    grep -q "router: started: inside=eth0 192.168.1.1/24 outside=eth1 203.0.113.1/24" "$LOG6"; then
	ok "boot 6: domain 10, empty tree: the saved configuration is used, one console line naming the file"
else
	nok "boot 6: the saved configuration is used" "$(grep -E 'gitnet-init|fatal' "$LOG6" | tail -5)"
fi
line=$(grep -o "state: loaded: [^ ]* arp=[0-9]* nat_sessions=[0-9]*" "$LOG6")
arp=$(echo "$line" | sed -n 's/.*arp=\([0-9]*\).*/\1/p')
! grep -q formatting "$LOG6" && [ "${arp:-0}" -ge 1 ] && ok "boot 6: resumed its state ($line)" ||
	nok "boot 6: resumed its state (arp >= 1)" "got: $line"
first_ping >/dev/null && ok "boot 6: ping cli -> srv" || nok "boot 6: ping cli -> srv"
body=$(forward_page)
[ "$body" = "hello from cli $ID" ] && ok "boot 6: the forward applied live in boot 5 is back (srv reaches cli through 203.0.113.1:8080)" ||
	nok "boot 6: the forward applied live in boot 5 is back" "got: $body"
self_shutdown "$LOG6" "boot 6" reboot
export_state "$TMP/s6"
c5=$(git --git-dir "$TMP/s5/gitnet.git" rev-list --all --count 2>/dev/null || echo 0)
c6=$(git --git-dir "$TMP/s6/gitnet.git" rev-list --all --count 2>/dev/null || echo 0)
git --git-dir "$TMP/s6/gitnet.git" fsck --strict >/dev/null 2>&1 &&
	git --git-dir "$TMP/s6/gitnet.git" merge-base --is-ancestor \
	    "$(git --git-dir "$TMP/s5/gitnet.git" rev-parse HEAD)" HEAD 2>/dev/null &&
	ok "after boot 6: fsck passes, history continues boot 5's ($c5 -> $c6 commits)" ||
	nok "after boot 6: fsck passes, history continues boot 5's" "commits $c5 -> $c6"

# --- NICs by MAC, with PCI slots and MACs swapped ---------------------------------
# run-qemu --swap-nics puts the inside TAP's NIC in the later PCI slot (eth1)
# with the MAC eth1 had, and the outside's in the first (eth0): positional
# names would put the inside address on the outside wire. Selected by MAC,
# the inside address answers on the inside wire with the inside MAC.
LOG7=$TMP/boot7.log
IN_MAC=52:54:00:00:00:11 OUT_MAC=52:54:00:00:00:10
ip -n $CLI neigh flush all; ip -n $SRV neigh flush all	# the MACs moved wires
APPEND="gitnet.inside=mac:$IN_MAC=192.168.1.1/24 gitnet.outside=mac:$OUT_MAC=203.0.113.1/24" \
	BOOT_SWAP=1 boot "$LOG7" gitnet.state-device=serial:gitnet-state
if waitlog "$LOG7" "router: started" 90 &&
    grep -q "link eth1 up (inside, mac $IN_MAC)" "$LOG7" &&
    grep -q "link eth0 up (outside, mac $OUT_MAC)" "$LOG7" &&
    grep -q "router: started: inside=eth1 192.168.1.1/24 outside=eth0 203.0.113.1/24" "$LOG7"; then
	ok "boot 7: NICs swapped (PCI slots, MACs): bound by MAC, inside=eth1 outside=eth0"
else
	nok "boot 7: NICs swapped: bound by MAC" "$(grep -E 'link|router: started|fatal' "$LOG7" | tail -5)"
fi
grep -q "state: /dev/vda mounted on /state; repository /state/gitnet.git (state-device=serial:gitnet-state)" "$LOG7" &&
    grep -q "state: loaded: dir=/state/gitnet.git" "$LOG7" &&
	ok "boot 7: state disk found by its serial (serial:gitnet-state), history resumed" ||
	nok "boot 7: state disk found by its serial" "$(grep -E 'state' "$LOG7" | tail -3)"
first_ping >/dev/null && ok "boot 7: ping cli -> srv through the swapped NICs" ||
	nok "boot 7: ping cli -> srv through the swapped NICs" "$(tail -3 "$LOG7")"
lladdr=$(ip -n $CLI neigh show 192.168.1.1 | grep -o 'lladdr [0-9a-f:]*')
[ "$lladdr" = "lladdr $IN_MAC" ] && ok "boot 7: cli sees 192.168.1.1 at the inside MAC ($lladdr)" ||
	nok "boot 7: cli sees 192.168.1.1 at the inside MAC" "got: ${lladdr:-nothing}"
n0=$(grep -c '^203.0.113.1 .*"GET /index.html' "$TMP/http.log")
body=$(ip netns exec $CLI curl -s -m 10 http://203.0.113.2:8080/index.html)
n1=$(grep -c '^203.0.113.1 .*"GET /index.html' "$TMP/http.log")
[ "$body" = "hello from srv $ID" ] && [ "$n1" -gt "$n0" ] &&
	ok "boot 7: curl cli -> srv through the swapped NICs, srv sees the outside address (NAT)" ||
	nok "boot 7: curl cli -> srv through the swapped NICs (NAT)" "got: $body; $n0 -> $n1 requests from 203.0.113.1"
shutdown_guest "$LOG7" "boot 7" powerdown

finish

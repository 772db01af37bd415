#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
#
# History that outside traffic and a full disk cannot break (issue 12).
#
# Part A, "outside traffic cannot fill the disk": a host outside sends
# spoofed-source UDP to a port forward at a high rate. Each datagram opens a
# half-open session, and each session used to be a history event. With the
# limits (hlimit.h; defaults 2/s burst 10 per remote, 20/s burst 200 in all) the flood is
# still forwarded, a legitimate flow through the same router keeps working
# and is recorded, what is over the limits is counted as
# history_events_limited, and the changes recorded and the repository's
# growth stay within what the limits allow. The same flood with the limits
# off gives the figure to compare with. One real remote opening sessions
# from many ports is held to its own limit.
#
# Part B, "a disk that is full anyway": the router's state on a 16 MB tmpfs
# (in a mount namespace of its own, as in test_state.sh). While an inside
# host opens new flows, the filesystem is filled up with dd: ping and UDP
# through the router keep working, history_write_errors grows and
# history_write_failing is 1, past the held changes events are counted as
# lost, and no temporary pack or lock file of ours stays behind. The filler
# removed, commits resume within a few seconds on their own and
# `git fsck --strict` is clean.
#
#	cli 192.168.1.2 -- rtr -- srv 203.0.113.2 (the attacker and the remote)
#
# Runtime about 60 s; every wait is bounded (lib.sh). GN_KEEP=1 keeps the
# run directory.

# shellcheck disable=SC2016,SC2119 # python in single quotes; gn_router_stop's optional signal
set -u -o pipefail
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"

gn_require router socat git
gn_init
cd "$GN_RUN" || exit 1
gn_topology
gn_udptool

FWD_UDP=5353		# the attacked forward; the inside never answers it
FWD_OK=5354		# a forward the inside answers
ROUTER_ARGS=(--route 0.0.0.0/0="$SRV_IP" --udp-timeout 30
    --forward "udp:$FWD_UDP=$CLI_IP:$FWD_UDP" --forward "udp:$FWD_OK=$CLI_IP:$FWD_OK")
G=(git --git-dir="$GN_RUN/state")

# flood.py IFACE DMAC SRC DST:PORT N PPS: N UDP datagrams at PPS a second
# from SRC, or with SRC "spoof" from N different 100.64/10 addresses; from
# a new source port each. Prints "sent N SECONDS".
cat >"$GN_RUN/flood.py" <<'PY'
import random, socket, struct, sys, time

def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff

def frame(src, dst, sp, dp, data):
    u = struct.pack("!HHHH", sp, dp, 8 + len(data), 0) + data
    c = csum(socket.inet_aton(src) + socket.inet_aton(dst) +
        struct.pack("!BBH", 0, 17, len(u)) + u) or 0xffff
    u = u[:6] + struct.pack("!H", c) + u[8:]
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(u), 0, 0x4000, 64, 17, 0,
        socket.inet_aton(src), socket.inet_aton(dst))
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + u

iface, dmac, src, (dst, dp), n, pps = sys.argv[1], sys.argv[2], sys.argv[3], \
    sys.argv[4].rsplit(":", 1), int(sys.argv[5]), float(sys.argv[6])
dp = int(dp)
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
smac = bytes.fromhex(open("/sys/class/net/%s/address" % iface).read().strip().replace(":", ""))
l2 = bytes.fromhex(dmac.replace(":", "")) + smac + b"\x08\x00"
r = random.Random(12)
t0 = time.time()
for i in range(n):
    a = socket.inet_ntoa(struct.pack("!I", 0x64400000 + r.randrange(1, 1 << 22))) \
        if src == "spoof" else src
    s.send(l2 + frame(a, dst, 10000 + i % 50000, dp, b"x" * 16))
    late = t0 + (i + 1) / pps - time.time()
    if late > 0:
        time.sleep(late)
print("sent", n, "%.2f" % (time.time() - t0), flush=True)
PY

# Bytes under the repository (objects and refs, as du counts them).
repo_bytes() { du -sb "$1" | awk '{ print $1 }'; }

# --- part A: outside traffic cannot fill the disk ---------------------------

# A flood of N spoofed datagrams at PPS to the forward, with the router's
# extra flags in "$@". Leaves FLOOD_SECS, and the deltas in the snapshots
# $GN_RUN/a0 and $GN_RUN/a1; a legitimate inbound flow is asked through
# FWD_OK during the flood (answered: "seen" lines in ok.log).
flood_run()
{
	local n=$1 pps=$2 out
	shift 2

	rm -rf "$GN_RUN/state"
	gn_router_start "${ROUTER_ARGS[@]}" "$@" || gn_die "router did not start"
	gn_bg "$CLI" serve "$GN_UDPTOOL" serve "0.0.0.0:$FWD_OK" 60
	SERVE_PID=$GN_LAST_PID
	sleep 1.5		# a tick or so: the start's commits are in
	stats_snapshot "$GN_RUN/a0"
	BYTES0=$(repo_bytes "$GN_RUN/state")
	in_srv "$GN_PY" "$GN_RUN/flood.py" "$SRV_DEV" "$RTR_OUT_MAC" spoof \
	    "$RTR_OUT_IP:$FWD_UDP" "$n" "$pps" >"$GN_RUN/flood.log" 2>&1 &
	local fpid=$!
	GN_BG_PIDS+=("$fpid")
	# The legitimate flows meanwhile: inbound through FWD_OK, outbound ping.
	: >"$GN_RUN/ok.log"
	for p in 41001 41002 41003 41004 41005; do
		in_srv "$GN_UDPTOOL" ask "$p" "$RTR_OUT_IP:$FWD_OK" >>"$GN_RUN/ok.log" 2>&1
		sleep 0.5
	done
	in_cli ping -c 10 -i 0.2 -W 2 "$SRV_IP" >"$GN_RUN/ping.log" 2>&1
	wait "$fpid"
	FLOOD_SECS=$(awk '{ print $3 }' "$GN_RUN/flood.log")
	sleep 1			# the last group commit and tick
	stats_snapshot "$GN_RUN/a1"
	BYTES1=$(repo_bytes "$GN_RUN/state")
	gn_router_stop
	gn_kill "$SERVE_PID"
	out=$(stat_delta state_changes "$GN_RUN/a0" "$GN_RUN/a1")
	gn_log "flood $n at $pps/s for ${FLOOD_SECS}s ($*): changes +$out," \
	    "limited +$(stat_delta history_events_limited "$GN_RUN/a0" "$GN_RUN/a1")," \
	    "commits +$(stat_delta state_commits "$GN_RUN/a0" "$GN_RUN/a1")," \
	    "repository +$((BYTES1 - BYTES0)) bytes"
}

# The inside: one socket that drains the attacked port and never answers
# (no port unreachable either: that would be an answer).
gn_bg "$CLI" sink "$GN_PY" -c "
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('0.0.0.0', $FWD_UDP))
s.settimeout(1)
end = time.time() + 120
while time.time() < end:
    try:
        s.recv(2048)
    except socket.timeout:
        pass"
SINK_PID=$GN_LAST_PID

N=8000
PPS=1000
flood_run "$N" "$PPS" --history-inbound-rate 0 --history-inbound-total-rate 0
OFF_BYTES=$((BYTES1 - BYTES0))
OFF_CHANGES=$(stat_delta state_changes "$GN_RUN/a0" "$GN_RUN/a1")
check "limits off: the flood is history (changes >= $((N * 9 / 10)))" \
    expect_ge "$OFF_CHANGES" $((N * 9 / 10))
check "limits off: nothing is counted as limited" \
    expect_eq "$(stat_delta history_events_limited "$GN_RUN/a0" "$GN_RUN/a1")" 0

flood_run "$N" "$PPS"
ON_BYTES=$((BYTES1 - BYTES0))
ON_CHANGES=$(stat_delta state_changes "$GN_RUN/a0" "$GN_RUN/a1")
# The total bucket: its burst, then 20/s; the legitimate flows add a few.
ALLOWED=$(awk -v s="$FLOOD_SECS" 'BEGIN { printf "%d", 200 + 20 * (s + 2) + 50 }')
check "defaults: the flood was forwarded (the inside received datagrams)" \
    expect_ge "$(stat_delta nat_out2in "$GN_RUN/a0" "$GN_RUN/a1")" "$N"
check "defaults: the legitimate inbound flow is answered during the flood (5 of 5)" \
    expect_eq "$(grep -c ' seen ' "$GN_RUN/ok.log")" 5
check "defaults: ping through the router during the flood, no loss" \
    expect_grep "$GN_RUN/ping.log" " 10 received, 0% packet loss"
check "defaults: what is over the limits is counted (history_events_limited >= $((N - ALLOWED)))" \
    expect_ge "$(stat_delta history_events_limited "$GN_RUN/a0" "$GN_RUN/a1")" $((N - ALLOWED))
check "defaults: changes recorded stay within the limits (<= $ALLOWED)" \
    expect_ge "$ALLOWED" "$ON_CHANGES"
check "defaults: the repository grew less than a fifth of the unlimited run's $OFF_BYTES bytes" \
    expect_ge $((OFF_BYTES / 5)) "$ON_BYTES"
check "defaults: the answered flow is in history (nat/udp/192.168.1/2/$FWD_OK lists the remote)" \
    sh -c "'${G[0]}' '${G[1]}' show 'primary:nat/udp/192.168.1/2/$FWD_OK' | grep -q '$SRV_IP'"
check "defaults: git fsck --strict is clean" "${G[@]}" fsck --strict --no-dangling
check "history_events_limited is a metric-able stats counter (present)" \
    grep -q '^history_events_limited ' "$GN_RUN/a1"

# One real remote, 400 sessions from as many ports in 2 s: 10 + 2/s of them.
rm -rf "$GN_RUN/state"
gn_router_start "${ROUTER_ARGS[@]}" || gn_die "router did not start"
sleep 1.5
stats_snapshot "$GN_RUN/r0"
in_srv "$GN_PY" "$GN_RUN/flood.py" "$SRV_DEV" "$RTR_OUT_MAC" "$SRV_IP" \
    "$RTR_OUT_IP:$FWD_UDP" 400 200 >"$GN_RUN/flood.log" 2>&1
sleep 1
stats_snapshot "$GN_RUN/r1"
gn_router_stop
S=$(awk '{ print $3 }' "$GN_RUN/flood.log")
ALLOWED=$(awk -v s="$S" 'BEGIN { printf "%d", 10 + 2 * (s + 2) }')
check "one remote: its changes stay within 10 + 2/s (<= $ALLOWED)" \
    expect_ge "$ALLOWED" "$(stat_delta state_changes "$GN_RUN/r0" "$GN_RUN/r1")"
check "one remote: the rest is counted (history_events_limited >= $((400 - ALLOWED)))" \
    expect_ge "$(stat_delta history_events_limited "$GN_RUN/r0" "$GN_RUN/r1")" $((400 - ALLOWED))
gn_kill "$SINK_PID"

# --- part B: a disk that is full anyway --------------------------------------

SMALL=$GN_RUN/small
mkdir -p "$SMALL"
gn_bg "$SRV" fserve "$GN_UDPTOOL" serve "0.0.0.0:7002" 60
rm -f "$GN_CTL"
unshare -m sh -c '
    mount --make-rprivate / &&
    mount -t tmpfs -o size=16m tmpfs "$1" &&
    shift && exec "$@"' sh "$SMALL" \
    ip netns exec "$RTR" "$GN_ROUTER" \
    --inside "$RTR_IN_DEV=$RTR_IN_IP/24" --outside "$RTR_OUT_DEV=$RTR_OUT_IP/24" \
    --state "$SMALL/state.git" --control "$GN_CTL" "${ROUTER_ARGS[@]}" \
    >>"$GN_ROUTER_LOG" 2>&1 &
GN_ROUTER_PID=$!
gn_wait 10 test -S "$GN_CTL" || gn_die "router on the small filesystem did not start"
in_small() { nsenter -t "$GN_ROUTER_PID" -m "$@"; }
GS=(in_small git --git-dir="$SMALL/state.git")

# New outbound flows from the inside all along: 600 a second from new
# source ports (each a session: an add, and an update when srv's kernel
# answers with port unreachable), and a ping every 0.2 s.
in_cli "$GN_PY" "$GN_RUN/flood.py" "$CLI_DEV" "$RTR_IN_MAC" "$CLI_IP" \
    "$SRV_IP:7000" 30000 600 >"$GN_RUN/flows.log" 2>&1 &
FLOWS_PID=$!
GN_BG_PIDS+=("$FLOWS_PID")
sleep 2
c0=$(stat_get state_commits)
check "before the disk is full, history is written (state_commits $c0 > 0)" \
    expect_ge "$c0" 1
# Fill it up: the router's writes now fail with ENOSPC.
in_small sh -c "dd if=/dev/zero of='$SMALL/fill' bs=64k >/dev/null 2>&1; true"
gn_log "filled: $(in_small df -k "$SMALL" | tail -n 1); repository $(in_small du -sk "$SMALL/state.git")"
failing() { [ "$(stat_get history_write_failing)" = 1 ]; }
check "with the disk full, writes fail and are retried (history_write_failing 1)" \
    gn_wait 5 failing
in_cli ping -c 10 -i 0.2 -W 2 "$SRV_IP" >"$GN_RUN/full.ping" 2>&1
in_cli "$GN_UDPTOOL" ask 42001 "$SRV_IP:7001" >/dev/null 2>&1	# no server: ICMP
in_cli "$GN_UDPTOOL" ask 42002 "$SRV_IP:7002" >"$GN_RUN/full.ask" 2>&1
check "on the full disk the router keeps forwarding: ping, no loss" \
    expect_grep "$GN_RUN/full.ping" " 10 received, 0% packet loss"
check "and UDP through it is answered" expect_grep "$GN_RUN/full.ask" "seen $RTR_OUT_IP"
e1=$(stat_get history_write_errors)
check "failed writes are counted (history_write_errors $e1 >= 3)" expect_ge "$e1" 3
sleep 3
e2=$(stat_get history_write_errors)
check "and retried with backoff, at most about one a second ($e1 -> $e2 in 3 s)" \
    sh -c "[ $e2 -gt $e1 ] && [ $e2 -le $((e1 + 8)) ]"
check "past the held changes, events are counted as lost (state_events_lost > 0)" \
    expect_ge "$(stat_get state_events_lost)" 1
check "no temporary pack or lock file of ours is left on the full disk" \
    sh -c "! nsenter -t $GN_ROUTER_PID -m find '$SMALL/state.git' \
        \\( -name 'tmp_gitnet_*' -o -name '*.lock' \\) ! -name gitnet.lock | grep ."
rss0=$(awk '/VmRSS/ { print $2 }' "/proc/$GN_ROUTER_PID/status")
sleep 2
rss1=$(awk '/VmRSS/ { print $2 }' "/proc/$GN_ROUTER_PID/status")
check "memory stays bounded while the disk is full (RSS ${rss0} -> ${rss1} kB)" \
    expect_ge $((rss0 + 4096)) "$rss1"
c1=$(stat_get state_commits)
# Space again: history resumes by itself. The flows stop first, or at 600
# a second they would fill the space again in a few seconds.
gn_kill "$FLOWS_PID"
in_small rm -f "$SMALL/fill"
more_commits() { [ "$(stat_get state_commits)" -gt "$c1" ]; }
check "with space again, commits resume within 3 s" gn_wait 3 more_commits
check "and history_write_failing is 0 again" expect_eq "$(stat_get history_write_failing)" 0
lost0=$(stat_get state_events_lost)
e3=$(stat_get history_write_errors)
in_cli "$GN_UDPTOOL" ask 42003 "$SRV_IP:7002" >/dev/null 2>&1
sleep 1.5
check "a new flow after that is history within 1.5 s (nat/udp/192.168.1/2/42003)" \
    "${GS[@]}" cat-file -e primary:nat/udp/192.168.1/2/42003
check "and no more events are lost, no more writes fail" \
    expect_eq "$(stat_get state_events_lost) $(stat_get history_write_errors)" "$lost0 $e3"
check "the log says when writes failed and when they resumed" \
    sh -c "grep -q 'history: writes fail' '$GN_ROUTER_LOG' && grep -q 'history: writing again' '$GN_ROUTER_LOG'"
check "the flow made on the full disk is in history (nat/udp/192.168.1/2/42002)" \
    "${GS[@]}" cat-file -e primary:nat/udp/192.168.1/2/42002
check "git fsck --strict is clean after the full disk" \
    "${GS[@]}" fsck --strict --no-dangling
gn_router_stop
check "the router exited cleanly (status 0)" expect_eq "$GN_ROUTER_RC" 0
gn_log "router log: $(grep -c 'history' "$GN_ROUTER_LOG") history lines," \
    "$(grep -ci 'no space' "$GN_ROUTER_LOG") naming ENOSPC"

gn_summary

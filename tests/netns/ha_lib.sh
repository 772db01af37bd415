# SPDX-License-Identifier: ISC
# shellcheck shell=bash disable=SC2034 # variables are for the sourcing scripts
#
# The high-availability topology (issue 14): two routers on one inside and
# one outside switch, the git daemon that carries gitnet's sync, and the
# kernel's answer (nftables masquerade + conntrackd FTFW + a takeover script
# with gratuitous ARP) in the same two namespaces. Sourced after lib.sh by
# tests/netns/test_ha.sh, tests/bench/ha.sh and examples/ha/demo.sh; never run.
#
#   cli  veth-c  192.168.1.2 --.                          .-- veth-s srv
#   cli2 veth-c2 192.168.1.3 --+ lan (bridge br0)          |   203.0.113.2
#                              |                           |
#             veth-la ---- veth-r0 [rtrA] veth-r1 ---- veth-wa  wan
#             veth-lb ---- veth-r0 [rtrB] veth-r1 ---- veth-wb  (bridge br0)
#                                 |   |
#                 veth-y (sync link, 10.97.0.1/30 -- 10.97.0.2/30: conntrackd
#                 and the kernel pair's heartbeat only)
#                                 |
#                   veth-m 10.98.0.1 (rtrA), 10.98.0.2 (rtrB)
#                                 |
#                   mgmt: bridge br0 10.98.0.254/24, git daemon on :9418
#
# - Both routers are configured with the same addresses, 192.168.1.1/24
#   inside and 203.0.113.1/24 outside, and have different MACs (veths get
#   random ones). Their inside and outside ends carry no kernel address:
#   gitnet-router owns the addresses in userspace, and the active one
#   announces them with gratuitous ARP when it takes over. The kernel pair
#   puts them on the active box's veths instead (ha_kernel_*).
# - The sync remote is a bare repository, $HA_REMOTE, served by a real
#   `git daemon --enable=receive-pack` in its own namespace `mgmt`, reached
#   by both routers over a management veth each (kernel addresses, kernel
#   sockets: git's transport is the kernel's TCP, not the router's data
#   path). The daemon in a namespace of its own can be killed and restarted
#   (the "sync remote down" case) without touching the routers, and the
#   remote's files stay on this machine's disk for `git fsck` and `git log`.
#   URL: $HA_URL = git://10.98.0.254:9418/sync.git.
# - The conntrackd pair syncs over a dedicated link (veth-y), as its
#   documentation asks; the bytes on that link are its sync cost. gitnet's
#   sync cost is the bytes on both management veths (to and from the git
#   daemon).
# - Same invariants as lib.sh: every name unique to one run ($GN_ID-*), no
#   device in the root namespace, every wait bounded, cleanup on every exit
#   (gn_cleanup, through ha_cleanup, which also shows the routers' logs when
#   a check failed).
#
# gitnet functions need a router with --standby (issue 14's router part);
# ha_has_sync tells, and the callers skip those parts with a message when it
# is missing.

HA_TOOL=$GN_ROOT/tests/netns/ha_tool.py
RTRA=$GN_ID-rtrA
RTRB=$GN_ID-rtrB
WAN=$GN_ID-wan
MGMT=$GN_ID-mgmt
HA_MGMT_IP=10.98.0.254
HA_GITD_PORT=9418
HA_SYNC_DEV=veth-y
HA_MGMT_DEV=veth-m
HA_TPORT=7		# TCP echo
HA_UPORT=7		# UDP echo ("seen IP:PORT ...")
HA_PPORT=9		# the probe flow: one datagram a millisecond
HA_BEAT_PORT=3781	# the kernel pair's heartbeat, on the sync link
HA_REMOTE=
HA_URL=
HA_GITD_PID=
HA_PID_A=
HA_PID_B=
HA_HOLD_PID=
HA_SERVE_PID=
HA_MARK=
HA_NMARK=0
HA_NEPOCH=0

rtr_ns() { case $1 in A) echo "$RTRA" ;; B) echo "$RTRB" ;; *) return 1 ;; esac; }
ha_in() { local ns; ns=$(rtr_ns "$1") || return 1; shift; ip netns exec "$ns" "$@"; }
in_mgmt() { ip netns exec "$MGMT" "$@"; }
in_wan() { ip netns exec "$WAN" "$@"; }

# ha_init: gn_init plus the HA cleanup (routers' logs on failure).
ha_init()
{
	gn_init
	trap ha_cleanup EXIT
	HA_REMOTE=$GN_RUN/git/sync.git
	HA_URL=git://$HA_MGMT_IP:$HA_GITD_PORT/sync.git
}

ha_cleanup()
{
	local rc=$? x

	if [ "$GN_FAIL" -gt 0 ]; then
		for x in router-A router-B router-A-nosync hold; do
			[ -s "$GN_RUN/$x.log" ] || continue
			echo "# $x.log (last 20 lines):"
			tail -n 20 "$GN_RUN/$x.log" | sed 's/^/#   /'
		done
	fi
	(exit "$rc")
	gn_cleanup
}

# True when the router has the issue 14 flags.
ha_has_sync() { "$GN_ROUTER" --help 2>/dev/null | grep -q -- '--standby'; }

HA_NOSYNC_MSG="skipped: $GN_ROUTER has no --standby (the router side of issue 14 is not built in)"

# Link one veth pair: ha_veth NS1 DEV1 NS2 DEV2.
ha_veth()
{
	ip link add "$2" netns "$1" type veth peer name "$4" netns "$3" ||
	    gn_die "veth $1:$2 -- $3:$4"
}

# ha_bridge NS: a bridge br0 in NS, no STP, no multicast from its own port.
ha_bridge()
{
	ip -n "$1" link add br0 type bridge stp_state 0 forward_delay 0 ||
	    gn_die "bridge in $1"
	ip -n "$1" link set br0 multicast off up
}

# Build the topology above. Router ends up, without addresses.
ha_topology()
{
	local ns dev x

	for ns in "$CLI" "$CLI2" "$LAN" "$RTRA" "$RTRB" "$WAN" "$SRV" "$MGMT"; do
		gn_mkns "$ns"
	done
	ha_bridge "$LAN"
	ha_bridge "$WAN"
	ha_bridge "$MGMT"
	ha_veth "$CLI" "$CLI_DEV" "$LAN" veth-l1
	ha_veth "$CLI2" "$CLI2_DEV" "$LAN" veth-l2
	ha_veth "$SRV" "$SRV_DEV" "$WAN" veth-ws
	for x in A B; do
		ns=$(rtr_ns $x)
		ha_veth "$LAN" "veth-l${x,}" "$ns" "$RTR_IN_DEV"
		ha_veth "$WAN" "veth-w${x,}" "$ns" "$RTR_OUT_DEV"
		ha_veth "$MGMT" "veth-m${x,}" "$ns" "$HA_MGMT_DEV"
	done
	ha_veth "$RTRA" "$HA_SYNC_DEV" "$RTRB" "$HA_SYNC_DEV"
	gn_offloads "$CLI:$CLI_DEV" "$CLI2:$CLI2_DEV" "$SRV:$SRV_DEV"
	for dev in veth-l1 veth-l2 veth-la veth-lb; do
		ip -n "$LAN" link set "$dev" master br0 up
	done
	for dev in veth-ws veth-wa veth-wb; do
		ip -n "$WAN" link set "$dev" master br0 up
	done
	for dev in veth-ma veth-mb; do
		ip -n "$MGMT" link set "$dev" master br0 up
	done
	ip -n "$MGMT" addr add "$HA_MGMT_IP/24" dev br0
	ip -n "$RTRA" addr add 10.98.0.1/24 dev "$HA_MGMT_DEV"
	ip -n "$RTRB" addr add 10.98.0.2/24 dev "$HA_MGMT_DEV"
	ip -n "$RTRA" addr add 10.97.0.1/30 dev "$HA_SYNC_DEV"
	ip -n "$RTRB" addr add 10.97.0.2/30 dev "$HA_SYNC_DEV"
	for x in A B; do
		ns=$(rtr_ns $x)
		for dev in "$RTR_IN_DEV" "$RTR_OUT_DEV" "$HA_MGMT_DEV" "$HA_SYNC_DEV"; do
			ip -n "$ns" link set "$dev" up
		done
	done
	ip -n "$CLI" addr add "$CLI_IP/24" dev "$CLI_DEV"
	ip -n "$CLI2" addr add "$CLI2_IP/24" dev "$CLI2_DEV"
	ip -n "$SRV" addr add "$SRV_IP/24" dev "$SRV_DEV"
	ip -n "$CLI" link set "$CLI_DEV" up
	ip -n "$CLI2" link set "$CLI2_DEV" up
	ip -n "$SRV" link set "$SRV_DEV" up
	ip -n "$CLI" route add default via "$RTR_IN_IP"
	ip -n "$CLI2" route add default via "$RTR_IN_IP"
	ip -n "$SRV" route add default via "$RTR_OUT_IP"
	HA_MAC_A_IN=$(ha_in A cat "/sys/class/net/$RTR_IN_DEV/address")
	HA_MAC_B_IN=$(ha_in B cat "/sys/class/net/$RTR_IN_DEV/address")
	HA_MAC_A_OUT=$(ha_in A cat "/sys/class/net/$RTR_OUT_DEV/address")
	HA_MAC_B_OUT=$(ha_in B cat "/sys/class/net/$RTR_OUT_DEV/address")
	gn_wait 5 in_cli grep -qx 1 "/sys/class/net/$CLI_DEV/carrier"
	gn_wait 5 in_srv grep -qx 1 "/sys/class/net/$SRV_DEV/carrier"
	for ns in "$LAN" "$WAN" "$MGMT"; do
		gn_wait 5 ip netns exec "$ns" sh -c \
		    '! bridge link show | grep -qv "state forwarding"' ||
		    gn_die "bridge ports in $ns never forwarding"
	done
}

# --- the sync remote ----------------------------------------------------------

# Create $HA_REMOTE (once) and start git daemon in mgmt, bounded wait for its
# port. The one line a deployment needs is the same (see examples/ha).
ha_gitd_start()
{
	if [ ! -d "$HA_REMOTE" ]; then
		git init -q --bare "$HA_REMOTE" || gn_die "git init $HA_REMOTE"
	fi
	gn_bg "$MGMT" gitd git daemon --enable=receive-pack --export-all --reuseaddr \
	    --informative-errors --base-path="$GN_RUN/git" \
	    --listen="$HA_MGMT_IP" --port="$HA_GITD_PORT"
	HA_GITD_PID=$GN_LAST_PID
	gn_wait_listen 5 "$MGMT" "$HA_GITD_PORT" || gn_die "git daemon never listened"
}

# Stop git daemon and the connections it forked (every git process in mgmt
# is this run's: the namespace is ours).
ha_gitd_stop()
{
	local pid

	[ -n "$HA_GITD_PID" ] && gn_kill "$HA_GITD_PID"
	for pid in $(ip netns pids "$MGMT" 2>/dev/null); do
		kill -KILL "$pid" 2>/dev/null
	done
	HA_GITD_PID=
}

# git on the remote's repository, from the root namespace (its files).
ha_remote_git() { git --git-dir="$HA_REMOTE" "$@"; }

# --- gitnet-router A and B ----------------------------------------------------

# ha_router_start A|B [FLAGS...]: gitnet-router in rtrA or rtrB with the
# shared addresses, its own state repository ($GN_RUN/state-X) and control
# socket ($GN_RUN/ctl-X.sock), --sync $HA_URL --router-id X, plus FLAGS.
# Waits (bounded) for the control socket; prints the log and fails if the
# router never got there. HA_NO_SYNC_FLAGS=1: without --sync and
# --router-id (a config file in FLAGS gives them, or the router runs alone).
ha_router_start()
{
	local x=$1 ns pid ctl i
	local -a sync=(--sync "$HA_URL" --router-id "$x")
	shift
	[ -n "${HA_NO_SYNC_FLAGS:-}" ] && sync=()
	ns=$(rtr_ns "$x") || gn_die "no router $x"
	ctl=$GN_RUN/ctl-$x.sock
	rm -f "$ctl"
	# shellcheck disable=SC2086 # GN_ROUTER_PREFIX is words on purpose
	ip netns exec "$ns" ${GN_ROUTER_PREFIX:-} "$GN_ROUTER" \
	    --inside "$RTR_IN_DEV=$RTR_IN_IP/24" \
	    --outside "$RTR_OUT_DEV=$RTR_OUT_IP/24" \
	    --state "$GN_RUN/state-$x" --control "$ctl" \
	    "${sync[@]}" "$@" \
	    >>"$GN_RUN/router-$x.log" 2>&1 &
	pid=$!
	GN_BG_PIDS+=("$pid")
	printf -v "HA_PID_$x" '%s' "$pid"
	for i in $(seq 1 100); do
		[ -S "$ctl" ] && return 0
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid"
			echo "# router $x exited with $? before its control socket appeared:"
			sed 's/^/#   /' "$GN_RUN/router-$x.log"
			printf -v "HA_PID_$x" '%s' ""
			return 1
		fi
		sleep 0.1
	done
	echo "# router $x gave no control socket within 10 s"
	return 1
}

ha_router_pid() { local v=HA_PID_$1; echo "${!v}"; }
ha_router_alive() { local p; p=$(ha_router_pid "$1"); [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }

# ha_router_kill A|B [SIG]: KILL (default) or another signal; waits (5 s)
# for it to be gone.
ha_router_kill()
{
	local x=$1 sig=${2:-KILL} pid
	pid=$(ha_router_pid "$x")
	[ -n "$pid" ] || return 1
	# Out of the job table first: bash then reaps it without a "Killed"
	# notice on stderr.
	disown "$pid" 2>/dev/null
	kill -"$sig" "$pid" 2>/dev/null
	gn_wait 5 gn_gone "$pid" || kill -KILL "$pid" 2>/dev/null
	printf -v "HA_PID_$x" '%s' ""
}

ha_router_stop() { ha_router_kill "$1" TERM; }

# One control command to router A or B; the reply on stdout.
ha_ctl()
{
	local x=$1
	shift
	printf '%s\n' "$*" | timeout 5 socat -t 3 - "UNIX-CONNECT:$GN_RUN/ctl-$x.sock"
}

# The value of one `stats` counter of router A or B (empty if none).
ha_stat() { ha_ctl "$1" stats | awk -v k="$2" '$1 == k && !seen { print $2; seen = 1 }'; }

# True when router $1's stat $2 is $3 (for gn_wait).
ha_stat_is() { [ "$(ha_stat "$1" "$2")" = "$3" ]; }
# True when router $1's stat $2 is at least $3.
ha_stat_ge() { local v; v=$(ha_stat "$1" "$2"); [ -n "$v" ] && [ "$v" -ge "$3" ]; }

# --- the workload ---------------------------------------------------------------

# ha_traffic_start NTCP NUDP SECS: the echo server in srv and the holder in
# cli (tests/netns/ha_tool.py), a probe datagram every ms from cli; waits
# (bounded, 30 s) until every connection and flow was answered once.
ha_traffic_start()
{
	local ntcp=$1 nudp=$2 secs=$3

	gn_bg "$SRV" serve "$GN_PY" "$HA_TOOL" serve "$SRV_IP" "$HA_TPORT" "$HA_UPORT" \
	    "$HA_PPORT" "$((secs + 30))"
	HA_SERVE_PID=$GN_LAST_PID
	gn_wait_listen 5 "$SRV" "$HA_TPORT" || gn_die "echo server never listened"
	HA_NMARK=0 HA_NEPOCH=0
	gn_bg "$CLI" hold "$GN_PY" "$HA_TOOL" hold "$SRV_IP" "$HA_TPORT" "$HA_UPORT" \
	    "$HA_PPORT" "$ntcp" "$nudp" "$secs"
	HA_HOLD_PID=$GN_LAST_PID
	gn_wait 30 grep -q '^ready' "$GN_RUN/hold.log"
}

# ha_mark: the holder's counters since the previous mark into HA_MARK (one
# line, see ha_tool.py). Bounded: 5 s.
ha_mark()
{
	HA_NMARK=$((HA_NMARK + 1))
	kill -USR1 "$HA_HOLD_PID" 2>/dev/null || { HA_MARK=; return 1; }
	gn_wait 5 grep -q "^mark $HA_NMARK " "$GN_RUN/hold.log" || { HA_MARK=; return 1; }
	HA_MARK=$(grep "^mark $HA_NMARK " "$GN_RUN/hold.log")
}

# ha_epoch: start an epoch in the holder (before a kill); bounded: 5 s.
ha_epoch()
{
	HA_NEPOCH=$((HA_NEPOCH + 1))
	kill -USR2 "$HA_HOLD_PID" 2>/dev/null || return 1
	gn_wait 5 grep -q "^epoch $HA_NEPOCH " "$GN_RUN/hold.log"
}

# ha_recovered SECS: mark every half second until every TCP connection and
# every UDP flow received data since the epoch, at most SECS seconds; the
# last mark stays in HA_MARK (so a failure shows how far it got).
ha_recovered()
{
	local limit=$1 i=0
	while :; do
		ha_mark || return 1
		[ "$(ha_markf tcp_epoch)" = "$(ha_markf tcp_alive)" ] &&
		    [ "$(ha_markf tcp_err)" = 0 ] &&
		    [ "$(ha_markf udp_epoch)" = "$(ha_markf udp_total)" ] && return 0
		i=$((i + 1))
		[ "$i" -ge $((limit * 2)) ] && return 1
		sleep 0.5
	done
}

# ha_traffic_stop: the last mark (SIGTERM) into HA_MARK.
ha_traffic_stop()
{
	HA_NMARK=$((HA_NMARK + 1))
	kill -TERM "$HA_HOLD_PID" 2>/dev/null
	gn_wait 5 grep -q "^mark $HA_NMARK " "$GN_RUN/hold.log"
	HA_MARK=$(grep "^mark $HA_NMARK " "$GN_RUN/hold.log")
	gn_kill "$HA_HOLD_PID"
	gn_kill "$HA_SERVE_PID"
}

# One field of HA_MARK (tcp_alive, tcp_err, tcp_fresh, udp_fresh, ...).
ha_markf() { echo "$HA_MARK" | awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) { print $(i + 1); exit } }'; }

# Now, unix seconds with microseconds (the clock ha_tool.py prints).
ha_now() { date +%s.%6N; }

# ha_takeover_ms T0: from the probe flow, the ms from T0 (the kill) to the
# first probe datagram srv received after the outage: the end of the longest
# silence (over 15 ms) that began between 0.2 s before T0 and 3 s after it
# (the longest, so that a brief stall of the sender just before the outage
# is not taken for it). 0 when the probe never fell silent then.
ha_takeover_ms()
{
	awk -v t0="$1" '$1 == "gap" && $2 >= t0 - 0.2 && $2 <= t0 + 3 && $3 > t0 &&
	    $3 - $2 > best { best = $3 - $2; end = $3 }
	    END { printf "%d\n", (best > 0 ? (end - t0) * 1000 : 0) }' "$GN_RUN/serve.log"
}

# Bytes that crossed router X's device DEV, both directions.
ha_dev_bytes()
{
	local x=$1 dev=$2 rx tx
	rx=$(ha_in "$x" cat "/sys/class/net/$dev/statistics/rx_bytes")
	tx=$(ha_in "$x" cat "/sys/class/net/$dev/statistics/tx_bytes")
	echo $((rx + tx))
}

# The sync traffic so far: kernel (the sync link: A's rx + tx is every byte
# on it) or gitnet (both routers' management veths: every byte to and from
# the git daemon).
ha_sync_bytes()
{
	case $1 in
	kernel) ha_dev_bytes A "$HA_SYNC_DEV" ;;
	gitnet) echo $(( $(ha_dev_bytes A "$HA_MGMT_DEV") + $(ha_dev_bytes B "$HA_MGMT_DEV") )) ;;
	esac
}

# --- the kernel's answer: nftables masquerade + conntrackd FTFW -------------------

# Write router X's conntrackd.conf ($GN_RUN/conntrackd-X.conf): FTFW over
# the sync link, an external cache committed at takeover (the documented
# primary-backup set-up), its own lock file and socket.
ha_conntrackd_conf()
{
	local x=$1 me peer
	if [ "$x" = A ]; then me=10.97.0.1 peer=10.97.0.2; else me=10.97.0.2 peer=10.97.0.1; fi
	cat >"$GN_RUN/conntrackd-$x.conf" <<-EOF
	Sync {
		Mode FTFW {
			DisableExternalCache Off
			ResendQueueSize 131072
		}
		UDP {
			IPv4_address $me
			IPv4_Destination_Address $peer
			Port 3780
			Interface $HA_SYNC_DEV
			SndSocketBuffer 1249280
			RcvSocketBuffer 1249280
			Checksum on
		}
	}
	General {
		HashSize 32768
		HashLimit 131072
		LogFile $GN_RUN/conntrackd-$x.log
		Syslog off
		LockFile $GN_RUN/conntrackd-$x.lock
		UNIX {
			Path $GN_RUN/conntrackd-$x.sock
		}
		NetlinkBufferSize 2097152
		NetlinkBufferSizeMaxGrowth 8388608
		Filter From Userspace {
			Protocol Accept {
				TCP
				UDP
			}
			Address Ignore {
				IPv4_address 127.0.0.1
				IPv4_address 10.97.0.0/30
				IPv4_address 10.98.0.0/24
			}
		}
	}
	EOF
}

ha_conntrackd() { local x=$1; shift; ha_in "$x" conntrackd -C "$GN_RUN/conntrackd-$x.conf" "$@"; }

# The takeover script the backup runs (in its own namespace) when the
# heartbeat stops: conntrackd's primary-backup.sh "primary" steps with the
# commit first (so the first packet finds its translation), then the
# addresses, then gratuitous ARP on both sides; the cache resync after. Each
# step's time goes to $GN_RUN/kernel-takeover.log.
ha_kernel_takeover_script()
{
	local x=$1 f=$GN_RUN/kernel-takeover-$1.sh c="conntrackd -C $GN_RUN/conntrackd-$1.conf"
	cat >"$f" <<-EOF
	#!/bin/sh
	# SPDX-License-Identifier: ISC
	log() { echo "\$1 \$(date +%s.%6N)" >>"$GN_RUN/kernel-takeover.log"; }
	log start
	$c -c
	log committed
	ip addr add $RTR_IN_IP/24 dev $RTR_IN_DEV
	ip addr add $RTR_OUT_IP/24 dev $RTR_OUT_DEV
	arping -q -U -c 1 -w 1 -I $RTR_IN_DEV $RTR_IN_IP &
	arping -q -U -c 1 -w 1 -I $RTR_OUT_DEV $RTR_OUT_IP &
	log announced
	$c -f
	$c -R
	$c -B
	wait
	log done
	EOF
	chmod +x "$f"
	echo "$f"
}

# ha_kernel_start [AFTER_MS]: A and B as kernel routers, nftables masquerade
# on both, conntrackd on both, A active (the addresses), B backup; A beats on
# the sync link every AFTER_MS/4 ms and B takes over when AFTER_MS (300)
# pass without one.
ha_kernel_start()
{
	local x after=${1:-300}

	for x in A B; do
		ha_in "$x" nft -f - <<-NFT || gn_die "nft in rtr$x"
		table ip gn_nat {
			chain post {
				type nat hook postrouting priority srcnat; policy accept;
				oifname "$RTR_OUT_DEV" masquerade
			}
		}
		NFT
		ha_in "$x" sysctl -qw net.ipv4.ip_forward=1
		# conntrackd's manual: the backup did not see the windows move.
		ha_in "$x" sysctl -qw net.netfilter.nf_conntrack_tcp_be_liberal=1
		ha_conntrackd_conf "$x"
		gn_bg "$(rtr_ns "$x")" "conntrackd-$x" conntrackd -C "$GN_RUN/conntrackd-$x.conf"
		disown "$GN_LAST_PID"	# killed on purpose: no "Killed" notice
	done
	ip -n "$RTRA" addr add "$RTR_IN_IP/24" dev "$RTR_IN_DEV"
	ip -n "$RTRA" addr add "$RTR_OUT_IP/24" dev "$RTR_OUT_DEV"
	gn_wait 5 test -S "$GN_RUN/conntrackd-A.sock" || gn_die "conntrackd A never started"
	gn_wait 5 test -S "$GN_RUN/conntrackd-B.sock" || gn_die "conntrackd B never started"
	ha_in A arping -q -U -c 1 -w 1 -I "$RTR_IN_DEV" "$RTR_IN_IP"
	: >"$GN_RUN/kernel-takeover.log"
	gn_bg "$RTRA" beat-A "$GN_PY" "$HA_TOOL" beat "10.97.0.2:$HA_BEAT_PORT" \
	    "$((after / 4))" 600
	HA_BEAT_PID=$GN_LAST_PID
	disown "$HA_BEAT_PID"
	gn_bg "$RTRB" watch-B "$GN_PY" "$HA_TOOL" watch "10.97.0.2:$HA_BEAT_PORT" \
	    "$after" 600 "$(ha_kernel_takeover_script B)"
	HA_WATCH_PID=$GN_LAST_PID
	disown "$HA_WATCH_PID"
	gn_wait 3 ha_in B sh -c "ss -uln 'sport = :$HA_BEAT_PORT' | grep -q ."
}

# The active kernel box dies: its processes (conntrackd, the heartbeat) are
# killed and its links go down in one ip -batch (as with power lost: within
# a millisecond or two of each other).
ha_kernel_kill_A()
{
	local pids
	pids=$(ip netns pids "$RTRA")
	# shellcheck disable=SC2086 # a list of pids
	kill -KILL $pids 2>/dev/null
	printf 'link set dev %s down\n' "$HA_SYNC_DEV" "$RTR_IN_DEV" "$RTR_OUT_DEV" |
	    ip -n "$RTRA" -batch -
	# shellcheck disable=SC2086
	ha_reap $pids
}

# Reap killed background processes of ours, so bash does not report them
# ("Killed ...") on stderr; pids that are not our children are ignored.
ha_reap()
{
	local pid
	for pid in "$@"; do
		wait "$pid" 2>/dev/null
	done
	return 0
}

# Undo ha_kernel_start (and a takeover): the same namespaces can then host
# gitnet-router A and B.
ha_kernel_off()
{
	local x pids dev
	for x in A B; do
		pids=$(ip netns pids "$(rtr_ns "$x")")
		# shellcheck disable=SC2086 # a list of pids
		kill -KILL $pids 2>/dev/null
		# shellcheck disable=SC2086
		ha_reap $pids
		ha_in "$x" nft delete table ip gn_nat 2>/dev/null
		ha_in "$x" conntrack -F >/dev/null 2>&1
		ha_in "$x" sysctl -qw net.ipv4.ip_forward=0
		for dev in "$RTR_IN_DEV" "$RTR_OUT_DEV"; do
			ip -n "$(rtr_ns "$x")" addr flush dev "$dev"
		done
		for dev in "$RTR_IN_DEV" "$RTR_OUT_DEV" "$HA_SYNC_DEV"; do
			ip -n "$(rtr_ns "$x")" link set "$dev" up
		done
	done
	rm -f "$GN_RUN"/conntrackd-?.lock "$GN_RUN"/conntrackd-?.sock
	# Forget the kernel routers' MACs, so the first ARP goes to whoever
	# answers now.
	ip -n "$CLI" neigh flush dev "$CLI_DEV"
	ip -n "$CLI2" neigh flush dev "$CLI2_DEV"
	ip -n "$SRV" neigh flush dev "$SRV_DEV"
}

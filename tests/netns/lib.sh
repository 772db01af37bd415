# SPDX-License-Identifier: ISC
# shellcheck shell=bash disable=SC2034 # variables are for the sourcing scripts
#
# Shared helpers for the netns integration tests and the end-to-end benchmark:
# a three-namespace topology, the router's life cycle, a control-socket
# client and TAP-like assertions. Sourced, never run.
#
#	cli  veth-c  192.168.1.2/24  gw 192.168.1.1
#	      |
#	rtr  veth-r0 (router: 192.168.1.1/24)   veth-r1 (router: 203.0.113.1/24)
#	                                           |
#	srv                                  veth-s  203.0.113.2/24  gw 203.0.113.1
#
# Invariants:
# - Every name is unique to one run: namespaces are gn<pid>-{cli,rtr,srv}, and
#   the veths are created directly inside them, so no device name ever exists
#   in the root namespace and parallel runs cannot clash (device names stay
#   within IFNAMSIZ, 15 characters).
# - The router's ends carry no kernel IP address: gitnet-router owns
#   192.168.1.1 and 203.0.113.1 in userspace (gn_kernel_router gives them to
#   the kernel instead, for the benchmark's baseline).
# - Cleanup runs on every exit, failure and signal included: the router and
#   every background process this run started are killed by pid, then the
#   namespaces are deleted.
# - Every wait is bounded in time; nothing here can hang a CI run.
#
# Offloads: every peer keeps the kernel's defaults (TSO, GSO, GRO and
# checksum offload on), as a user's hosts do: TCP reaches the router as 64 KB
# GSO super-frames with partial checksums, which it takes with their
# virtio-net header and sends on whole (PACKET_VNET_HDR). GN_OFFLOADS=off
# turns TSO, GSO and GRO off on every peer veth instead (gn_offloads), for
# the test and benchmark that cover that path.

GN_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
GN_ROUTER=${GN_ROUTER:-$GN_ROOT/build/gitnet-router}
# scapy is installed for Debian's python, which may not be the first on PATH.
GN_PY=${GN_PY:-/usr/bin/python3}

GN_ID=gn$$
CLI=$GN_ID-cli
RTR=$GN_ID-rtr
SRV=$GN_ID-srv
GN_RUN=
GN_CTL=
GN_ROUTER_PID=
GN_ROUTER_LOG=
GN_ROUTER_RC=
GN_BG_PIDS=()
GN_NS_MADE=()
GN_PASS=0
GN_FAIL=0
GN_NCHECK=0

# Addresses of the topology.
CLI_IP=192.168.1.2
RTR_IN_IP=192.168.1.1
RTR_OUT_IP=203.0.113.1
SRV_IP=203.0.113.2
CLI_DEV=veth-c
RTR_IN_DEV=veth-r0
RTR_OUT_DEV=veth-r1
SRV_DEV=veth-s

in_cli() { ip netns exec "$CLI" "$@"; }
in_rtr() { ip netns exec "$RTR" "$@"; }
in_srv() { ip netns exec "$SRV" "$@"; }

gn_log() { echo "# $*"; }

gn_die()
{
	echo "not ok - $*"
	GN_FAIL=$((GN_FAIL + 1))
	gn_summary
	exit 1
}

# Fail early, with the fix, when the machine cannot run the tests.
gn_require()
{
	local t missing=

	[ "$(id -u)" = 0 ] || gn_die "netns tests need root"
	for t in "$@"; do
		case $t in
		scapy)	"$GN_PY" -c 'import scapy' 2>/dev/null || missing="$missing python3-scapy" ;;
		router)	[ -x "$GN_ROUTER" ] || gn_die "no $GN_ROUTER: run make" ;;
		*)	command -v "$t" >/dev/null 2>&1 || missing="$missing $t" ;;
		esac
	done
	[ -z "$missing" ] || gn_die "missing:$missing (run make deps)"
}

# Create the run directory and arm the cleanup trap. Call once, first.
gn_init()
{
	GN_RUN=$(mktemp -d "/tmp/$GN_ID.XXXXXX") || exit 1
	GN_CTL=$GN_RUN/ctl.sock
	GN_ROUTER_LOG=$GN_RUN/router.log
	trap gn_cleanup EXIT
	trap 'exit 130' INT TERM HUP
	# A closed stdout (| head) must not skip the cleanup either.
	trap 'exit 141' PIPE
}

# Poll "$@" every 0.1 s until it succeeds or $1 seconds pass.
gn_wait()
{
	local limit=$1 i=0
	shift
	while ! "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ "$i" -ge $((limit * 10)) ] && return 1
		sleep 0.1
	done
	return 0
}

# True once pid $1 no longer exists.
gn_gone() { ! kill -0 "$1" 2>/dev/null; }

# Kill one pid we started: TERM, up to 3 s, then KILL. Reaps it if it is ours.
gn_kill()
{
	local pid=$1
	kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
	kill -TERM "$pid" 2>/dev/null
	gn_wait 3 gn_gone "$pid" || kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

gn_cleanup()
{
	local pid ns rc=$?

	trap - EXIT INT TERM HUP
	trap '' PIPE	# keep cleaning up even if nobody reads us any more
	[ -n "$GN_ROUTER_PID" ] && gn_kill "$GN_ROUTER_PID"
	for pid in "${GN_BG_PIDS[@]}"; do
		gn_kill "$pid"
	done
	# Anything left in our namespaces was started by this run (the names
	# are ours alone); kill it by pid before the namespace goes away.
	for ns in "${GN_NS_MADE[@]}"; do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null
		done
		ip netns del "$ns" 2>/dev/null
		rm -rf "/etc/netns/$ns"
	done
	if [ "$GN_FAIL" -gt 0 ] && [ -s "$GN_ROUTER_LOG" ]; then
		echo "# router log (last 30 lines):"
		tail -n 30 "$GN_ROUTER_LOG" | sed 's/^/#   /'
	fi
	if [ -n "$GN_RUN" ] && [ -z "${GN_KEEP:-}" ]; then
		rm -rf "$GN_RUN"
	elif [ -n "$GN_RUN" ]; then
		echo "# kept $GN_RUN"
	fi
	exit "$rc"
}

# Start "$@" in the background inside namespace $1; its pid is recorded for
# cleanup and left in GN_LAST_PID. Output goes to $GN_RUN/<tag>.log.
gn_bg()
{
	local ns=$1 tag=$2
	shift 2
	ip netns exec "$ns" "$@" >"$GN_RUN/$tag.log" 2>&1 &
	GN_LAST_PID=$!
	GN_BG_PIDS+=("$GN_LAST_PID")
}

gn_mkns()
{
	ip netns add "$1" || gn_die "ip netns add $1"
	GN_NS_MADE+=("$1")
	# ip netns exec mounts /etc/netns/NAME/* over /etc: without this the
	# namespace inherits the host's resolver, and a program that looks up
	# a name (python's http.server does getfqdn) sends DNS to the host's
	# nameserver address through the router. Loopback only, answered
	# at once with port unreachable.
	mkdir -p "/etc/netns/$1" &&
	    echo "nameserver 127.0.0.1" >"/etc/netns/$1/resolv.conf"
	ip -n "$1" link set lo up
	# IPv6 off before any veth exists, so new devices inherit it: no
	# router solicitations or MLD reports to muddy counters and captures.
	ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
	    net.ipv6.conf.default.disable_ipv6=1
}

# gn_offloads NS:DEV...: with GN_OFFLOADS=off (or "off" as the first
# argument), TSO, GSO and GRO off on each; else nothing, the defaults stay.
# Checksum offload stays on either way.
gn_offloads()
{
	local ns mode=${GN_OFFLOADS:-on}

	[ "${1:-}" = off ] && { mode=off; shift; }
	[ "$mode" = off ] || return 0
	for ns in "$@"; do
		ip netns exec "${ns%%:*}" ethtool -K "${ns#*:}" tso off gso off gro off \
		    >/dev/null 2>&1 || gn_die "ethtool -K ${ns#*:}"
	done
}

# Build cli -- rtr -- srv. The router's ends are up but have no address.
gn_topology()
{
	local ns

	gn_mkns "$CLI"
	gn_mkns "$RTR"
	gn_mkns "$SRV"
	ip link add "$CLI_DEV" netns "$CLI" type veth peer name "$RTR_IN_DEV" netns "$RTR" ||
	    gn_die "veth cli-rtr"
	ip link add "$SRV_DEV" netns "$SRV" type veth peer name "$RTR_OUT_DEV" netns "$RTR" ||
	    gn_die "veth srv-rtr"
	gn_offloads "$CLI:$CLI_DEV" "$SRV:$SRV_DEV"
	ip -n "$CLI" addr add "$CLI_IP/24" dev "$CLI_DEV"
	ip -n "$SRV" addr add "$SRV_IP/24" dev "$SRV_DEV"
	ip -n "$CLI" link set "$CLI_DEV" up
	ip -n "$SRV" link set "$SRV_DEV" up
	ip -n "$RTR" link set "$RTR_IN_DEV" up
	ip -n "$RTR" link set "$RTR_OUT_DEV" up
	ip -n "$CLI" route add default via "$RTR_IN_IP"
	ip -n "$SRV" route add default via "$RTR_OUT_IP"
	RTR_IN_MAC=$(in_rtr cat "/sys/class/net/$RTR_IN_DEV/address")
	RTR_OUT_MAC=$(in_rtr cat "/sys/class/net/$RTR_OUT_DEV/address")
	CLI_MAC=$(in_cli cat "/sys/class/net/$CLI_DEV/address")
	SRV_MAC=$(in_srv cat "/sys/class/net/$SRV_DEV/address")
	# veth links come up at once, but give carrier a bounded moment.
	gn_wait 5 in_cli grep -qx 1 "/sys/class/net/$CLI_DEV/carrier"
	gn_wait 5 in_srv grep -qx 1 "/sys/class/net/$SRV_DEV/carrier"
}

# The baseline: the kernel in rtr owns the router's addresses and forwards.
gn_kernel_router()
{
	ip -n "$RTR" addr add "$RTR_IN_IP/24" dev "$RTR_IN_DEV"
	ip -n "$RTR" addr add "$RTR_OUT_IP/24" dev "$RTR_OUT_DEV"
	in_rtr sysctl -qw net.ipv4.ip_forward=1
}

# Undo gn_kernel_router, so the same topology can host gitnet-router.
gn_kernel_router_off()
{
	in_rtr sysctl -qw net.ipv4.ip_forward=0
	ip -n "$RTR" addr flush dev "$RTR_IN_DEV"
	ip -n "$RTR" addr flush dev "$RTR_OUT_DEV"
}

# Start gitnet-router in rtr with the topology's interfaces plus "$@", and
# wait (bounded) for its control socket. GN_ROUTER_PREFIX may hold a command
# to run it under (e.g. "taskset -c 1"). Returns non-zero if it never got
# ready; its log is then printed.
gn_router_start()
{
	local i

	rm -f "$GN_CTL"
	# shellcheck disable=SC2086 # GN_ROUTER_PREFIX is words on purpose
	ip netns exec "$RTR" ${GN_ROUTER_PREFIX:-} "$GN_ROUTER" \
	    --inside "$RTR_IN_DEV=$RTR_IN_IP/24" \
	    --outside "$RTR_OUT_DEV=$RTR_OUT_IP/24" \
	    --state "$GN_RUN/state" --control "$GN_CTL" "$@" \
	    >>"$GN_ROUTER_LOG" 2>&1 &
	# ip netns exec (and taskset) exec the router: $! is the router itself.
	GN_ROUTER_PID=$!
	for i in $(seq 1 100); do
		if [ -S "$GN_CTL" ]; then
			return 0
		fi
		if ! kill -0 "$GN_ROUTER_PID" 2>/dev/null; then
			wait "$GN_ROUTER_PID"
			GN_ROUTER_RC=$?
			GN_ROUTER_PID=
			echo "# router exited with $GN_ROUTER_RC before its control socket appeared:"
			sed 's/^/#   /' "$GN_ROUTER_LOG"
			return 1
		fi
		sleep 0.1
	done
	echo "# router gave no control socket at $GN_CTL within 10 s:"
	sed 's/^/#   /' "$GN_ROUTER_LOG"
	return 1
}

# Signal the router (TERM, or $1: INT) and wait up to 5 s; its exit status
# goes to GN_ROUTER_RC (137 if it had to be killed).
gn_router_stop()
{
	local pid=$GN_ROUTER_PID sig=${1:-TERM}

	[ -n "$pid" ] || return 1
	kill -"$sig" "$pid" 2>/dev/null
	if ! gn_wait 5 gn_gone "$pid"; then
		echo "# router ignored SIG$sig for 5 s; killing it"
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	GN_ROUTER_RC=$?
	GN_ROUTER_PID=
	return 0
}

gn_router_alive() { [ -n "$GN_ROUTER_PID" ] && kill -0 "$GN_ROUTER_PID" 2>/dev/null; }

# Send one control command; the reply (read until EOF) on stdout.
ctl()
{
	printf '%s\n' "$*" | timeout 5 socat -t 3 - "UNIX-CONNECT:$GN_CTL"
}

# The value of one `stats` counter (empty when the router does not have it).
# Reads the whole reply: a reader that stops early (grep -q, awk's exit)
# breaks socat's pipe, and under pipefail that fails the pipeline.
stat_get()
{
	ctl stats | awk -v k="$1" '$1 == k && !seen { print $2; seen = 1 }'
}

# All counters as "name value" lines into file $1 (for before/after deltas).
stats_snapshot() { ctl stats >"$1"; }

# Counter $1's growth between snapshots $2 and $3 (a missing counter is 0).
stat_delta()
{
	local a b
	a=$(awk -v k="$1" '$1 == k { print $2; exit }' "$2")
	b=$(awk -v k="$1" '$1 == k { print $2; exit }' "$3")
	echo $(( ${b:-0} - ${a:-0} ))
}

# check "description" cmd...: run cmd, print "ok N - description" or
# "not ok N - description" with the command's last output lines, and count.
check()
{
	local desc=$1 out
	shift
	GN_NCHECK=$((GN_NCHECK + 1))
	out=$GN_RUN/check.$GN_NCHECK.log
	if "$@" >"$out" 2>&1; then
		echo "ok $GN_NCHECK - $desc"
		GN_PASS=$((GN_PASS + 1))
		return 0
	fi
	echo "not ok $GN_NCHECK - $desc"
	echo "#   command: $*"
	tail -n 15 "$out" | sed 's/^/#   /'
	GN_FAIL=$((GN_FAIL + 1))
	return 1
}

# Assertion helpers for check: each prints what it compared.
expect_eq()  { echo "got '$1', want '$2'"; [ "$1" = "$2" ]; }
expect_ge()  { echo "got '$1', want >= $2"; [ -n "$1" ] && [ "$1" -ge "$2" ]; }
# expect_one_of VALUE A B...: VALUE is one of the rest.
expect_one_of()
{
	local v=$1 w
	shift
	echo "got '$v', want one of:$(printf " '%s'" "$@")"
	for w in "$@"; do
		[ "$v" = "$w" ] && return 0
	done
	return 1
}
# expect_grep FILE REGEX: the file has a line matching the extended regex
# (case-insensitive: MACs come in either case); expect_no_grep: it has none.
expect_grep() { grep -Eiq -- "$2" "$1" || { echo "no /$2/ in:"; cat "$1"; return 1; }; }
expect_no_grep() { ! grep -Ei -- "$2" "$1"; }

# Print the closing line and return the run's status.
gn_summary()
{
	echo "$GN_PASS passed, $GN_FAIL failed"
	[ "$GN_FAIL" -eq 0 ]
}

# --- two inside hosts, for NAT tests (test_nat*.sh) -------------------------
#
#	cli   veth-c   192.168.1.2/24 --.
#	cli2  veth-c2  192.168.1.3/24 --+-- lan: bridge br0 (veth-l1, veth-l2,
#	                                 |        veth-l0) -- veth-r0 in rtr
#	rtr   veth-r0 (router: 192.168.1.1/24)   veth-r1 (router: 203.0.113.1/24)
#	srv   veth-s   203.0.113.2/24 and 203.0.113.3/24 (SRV_IP2: the second
#	      address STUN servers need), gw 203.0.113.1
#
# The router still has one inside interface; the bridge in the fourth
# namespace `lan' puts two hosts behind it. Same invariants as gn_topology:
# names unique to the run, no device in the root namespace, offloads as in
# the header, cleanup by gn_cleanup (the namespaces are in GN_NS_MADE).

CLI2=$GN_ID-cli2
LAN=$GN_ID-lan
CLI2_IP=192.168.1.3
CLI2_DEV=veth-c2
SRV_IP2=203.0.113.3

in_cli2() { ip netns exec "$CLI2" "$@"; }
in_lan() { ip netns exec "$LAN" "$@"; }

# Build cli, cli2 -- lan -- rtr -- srv. The router's ends are up but have no
# address; srv has both of its addresses.
gn_topology_lan()
{
	local ns dev

	gn_mkns "$CLI"
	gn_mkns "$CLI2"
	gn_mkns "$LAN"
	gn_mkns "$RTR"
	gn_mkns "$SRV"
	ip -n "$LAN" link add br0 type bridge stp_state 0 forward_delay 0 ||
	    gn_die "bridge in lan"
	ip link add "$CLI_DEV" netns "$CLI" type veth peer name veth-l1 netns "$LAN" ||
	    gn_die "veth cli-lan"
	ip link add "$CLI2_DEV" netns "$CLI2" type veth peer name veth-l2 netns "$LAN" ||
	    gn_die "veth cli2-lan"
	ip link add veth-l0 netns "$LAN" type veth peer name "$RTR_IN_DEV" netns "$RTR" ||
	    gn_die "veth lan-rtr"
	ip link add "$SRV_DEV" netns "$SRV" type veth peer name "$RTR_OUT_DEV" netns "$RTR" ||
	    gn_die "veth srv-rtr"
	gn_offloads "$CLI:$CLI_DEV" "$CLI2:$CLI2_DEV" "$SRV:$SRV_DEV" \
	    "$LAN:veth-l0" "$LAN:veth-l1" "$LAN:veth-l2"
	for dev in veth-l0 veth-l1 veth-l2; do
		ip -n "$LAN" link set "$dev" master br0 up
	done
	# No multicast on the bridge's own interface: with no address it would
	# send IGMP reports from 0.0.0.0, which the router drops as martians.
	ip -n "$LAN" link set br0 multicast off up
	ip -n "$CLI" addr add "$CLI_IP/24" dev "$CLI_DEV"
	ip -n "$CLI2" addr add "$CLI2_IP/24" dev "$CLI2_DEV"
	ip -n "$SRV" addr add "$SRV_IP/24" dev "$SRV_DEV"
	ip -n "$SRV" addr add "$SRV_IP2/24" dev "$SRV_DEV"
	ip -n "$CLI" link set "$CLI_DEV" up
	ip -n "$CLI2" link set "$CLI2_DEV" up
	ip -n "$SRV" link set "$SRV_DEV" up
	ip -n "$RTR" link set "$RTR_IN_DEV" up
	ip -n "$RTR" link set "$RTR_OUT_DEV" up
	ip -n "$CLI" route add default via "$RTR_IN_IP"
	ip -n "$CLI2" route add default via "$RTR_IN_IP"
	ip -n "$SRV" route add default via "$RTR_OUT_IP"
	RTR_IN_MAC=$(in_rtr cat "/sys/class/net/$RTR_IN_DEV/address")
	RTR_OUT_MAC=$(in_rtr cat "/sys/class/net/$RTR_OUT_DEV/address")
	CLI_MAC=$(in_cli cat "/sys/class/net/$CLI_DEV/address")
	CLI2_MAC=$(in_cli2 cat "/sys/class/net/$CLI2_DEV/address")
	SRV_MAC=$(in_srv cat "/sys/class/net/$SRV_DEV/address")
	gn_wait 5 in_cli grep -qx 1 "/sys/class/net/$CLI_DEV/carrier"
	gn_wait 5 in_cli2 grep -qx 1 "/sys/class/net/$CLI2_DEV/carrier"
	gn_wait 5 in_srv grep -qx 1 "/sys/class/net/$SRV_DEV/carrier"
	# A bridge port passes traffic once it is forwarding (STP is off,
	# but the state still changes asynchronously).
	gn_wait 5 in_lan sh -c '! bridge link show | grep -qv "state forwarding"'
}

# The kernel baseline with NAT: gn_kernel_router plus nftables masquerade on
# the outside interface, in a table of its own (gn_kernel_nat_off removes
# it). Conntrack is the kernel's, in rtr's namespace only.
gn_kernel_nat()
{
	gn_kernel_router
	in_rtr nft -f - <<-NFT || return 1
	table ip gn_nat {
		chain post {
			type nat hook postrouting priority srcnat; policy accept;
			oifname "$RTR_OUT_DEV" masquerade
		}
	}
	NFT
}

gn_kernel_nat_off()
{
	in_rtr nft delete table ip gn_nat 2>/dev/null
	in_rtr conntrack -F >/dev/null 2>&1
	gn_kernel_router_off
}

# Wait (bounded, $1 s) until a TCP or UDP server listens on port $3 in
# namespace $2 ($4: tcp, the default, or udp).
gn_wait_listen()
{
	local limit=$1 ns=$2 port=$3 proto=${4:-tcp} flag=-tln

	[ "$proto" = udp ] && flag=-uln
	gn_wait "$limit" sh -c "ip netns exec '$ns' ss -H $flag 'sport = :$port' | grep -q ."
}

# Write $GN_RUN/udptool.py, a small UDP (and TCP) client/server for the NAT
# tests, executable with GN_PY, and set GN_UDPTOOL to its path. Modes (every
# one bounded):
#   serve IP:PORT... SECS    answer each datagram with "seen IP:PORT" (its
#                            source as this socket saw it) and log
#                            "IP:PORT <- SRC_IP:SRC_PORT PAYLOAD" on stdout
#   quiet IP:PORT... SECS    the same log, no answer
#   ask LPORT DST:PORT...    from one socket bound to LPORT (0: any), ask each
#                            server in turn; print "DST:PORT seen IP:PORT"
#                            (or "DST:PORT none" after 2 s)
#   listen LPORT DST:PORT SECS  send "hello" to DST:PORT from LPORT, then print
#                            "from SRC_IP:SRC_PORT PAYLOAD" for what arrives
#   send SRC_IP:SPORT DST:PORT PAYLOAD  one datagram from that source
#   tserve IP:PORT SECS      TCP: answer each connection with "seen IP:PORT"
#   task LPORT DST:PORT      TCP: connect from LPORT, print "DST:PORT " and
#                            the answer (or "none")
gn_udptool()
{
	GN_UDPTOOL=$GN_RUN/udptool.py
	echo "#!$GN_PY" >"$GN_UDPTOOL"
	cat >>"$GN_UDPTOOL" <<-'PY'
	import select, socket, sys, time

	def ep(s):
	    h, p = s.rsplit(":", 1)
	    return (h, int(p))

	def sock(addr):
	    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
	    s.bind(addr)
	    return s

	def serve(args, reply):
	    socks = [sock(ep(a)) for a in args[:-1]]
	    end = time.time() + float(args[-1])
	    while time.time() < end:
	        r, _, _ = select.select(socks, [], [], max(0, end - time.time()))
	        for s in r:
	            data, peer = s.recvfrom(2048)
	            me = "%s:%d" % s.getsockname()
	            print("%s <- %s:%d %s" % (me, peer[0], peer[1],
	                data.decode(errors="replace")), flush=True)
	            if reply:
	                s.sendto(b"seen %s:%d" % (peer[0].encode(), peer[1]), peer)

	def ask(args):
	    s = sock(("0.0.0.0", int(args[0])))
	    s.settimeout(2)
	    for d in args[1:]:
	        s.sendto(b"ask", ep(d))
	        try:
	            data, _ = s.recvfrom(2048)
	            print(d, data.decode(errors="replace"), flush=True)
	        except socket.timeout:
	            print(d, "none", flush=True)

	def listen(args):
	    s = sock(("0.0.0.0", int(args[0])))
	    s.sendto(b"hello", ep(args[1]))
	    end = time.time() + float(args[2])
	    while time.time() < end:
	        s.settimeout(max(0.01, end - time.time()))
	        try:
	            data, peer = s.recvfrom(2048)
	        except socket.timeout:
	            break
	        print("from %s:%d %s" % (peer[0], peer[1],
	            data.decode(errors="replace")), flush=True)

	def send(args):
	    s = sock(ep(args[0]))
	    s.sendto(args[2].encode(), ep(args[1]))

	def tserve(args):
	    s = socket.socket()
	    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
	    s.bind(ep(args[0]))
	    s.listen(8)
	    end = time.time() + float(args[1])
	    while time.time() < end:
	        s.settimeout(max(0.01, end - time.time()))
	        try:
	            c, peer = s.accept()
	        except socket.timeout:
	            break
	        print("%s <- %s:%d" % (args[0], peer[0], peer[1]), flush=True)
	        c.sendall(b"seen %s:%d" % (peer[0].encode(), peer[1]))
	        c.close()

	def task(args):
	    s = socket.socket()
	    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
	    s.bind(("0.0.0.0", int(args[0])))
	    s.settimeout(3)
	    try:
	        s.connect(ep(args[1]))
	        print(args[1], s.recv(2048).decode(errors="replace"), flush=True)
	    except OSError:
	        print(args[1], "none", flush=True)

	mode, args = sys.argv[1], sys.argv[2:]
	if mode == "serve":
	    serve(args, True)
	elif mode == "quiet":
	    serve(args, False)
	elif mode == "ask":
	    ask(args)
	elif mode == "listen":
	    listen(args)
	elif mode == "send":
	    send(args)
	elif mode == "tserve":
	    tserve(args)
	elif mode == "task":
	    task(args)
	else:
	    sys.exit("udptool: unknown mode " + mode)
	PY
	chmod +x "$GN_UDPTOOL"
}

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
# Offloads: checksum offload stays ON in cli and srv, so frames reach the
# router with partial checksums (TP_STATUS_CSUMNOTREADY) that it must
# complete, as it must behind a real NIC. TSO, GSO and GRO are turned OFF on
# the cli and srv veths: with them on, veth hands AF_PACKET one 64 KB "frame"
# per TCP burst, larger than the router's 2048-byte ring slots, and the router
# drops it. A real deployment does the same: segmentation offloads off (or
# PACKET_VNET_HDR) on the interfaces a packet-socket router reads.

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
	for ns in "$CLI:$CLI_DEV" "$SRV:$SRV_DEV"; do
		# See the header: no segmentation offloads, checksum offload on.
		ip netns exec "${ns%%:*}" ethtool -K "${ns#*:}" tso off gso off gro off \
		    >/dev/null 2>&1 || gn_die "ethtool -K ${ns#*:}"
	done
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

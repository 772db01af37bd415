#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
#
# End-to-end forwarding benchmark: 64-byte UDP from cli through rtr to srv
# (the topology of tests/netns/lib.sh), the same generator and the same
# counting for two routers in rtr:
#
#   A. the Linux kernel: rtr's veths get 192.168.1.1/24 and 203.0.113.1/24,
#      net.ipv4.ip_forward=1;
#   B. gitnet-router on the same, address-less veths, its state recorded
#      in git (--state, as lib.sh starts it);
#   C. the same with --state none: what recording the state costs.
#
# The generator is build/tests/bench/pktgen (AF_PACKET TX ring, qdisc
# bypass) in cli, E2E_SECONDS (5) of 64-byte frames over E2E_FLOWS (64)
# source ports to 203.0.113.2, addressed to the rtr inside end's MAC. What
# counts is what reaches srv: the delta of srv's veth rx_packets over the
# run, divided by the run's wall time. A and B alternate E2E_RUNS (3) times;
# each reports its median (--quick: one 2-second run of each). srv drops the
# UDP in nftables before any socket lookup, so it sends no ICMP port
# unreachable back.
#
# CPU pinning (the machine has 2 cores): the generator runs on CPU 0 and
# gitnet-router on CPU 1. veth transmits synchronously: the receive side of
# every hop runs in softirq on the sending CPU, so the kernel forwards on
# the generator's CPU 0, and with gitnet the kernel's share (veth receive and
# the copy into the packet ring) also stays on CPU 0 while the router itself
# gets CPU 1. Without pinning the scheduler would put the router and the
# generator on one core now and then, and the numbers would wander.
#
# Prints exactly:
#   BENCH e2e_kernel_forward_kpps <x> kpps
#   BENCH e2e_gitnet_forward_kpps <y> kpps
#   RATIO forward_vs_kernel <y/x>
#   BENCH e2e_gitnet_nostate_forward_kpps <z> kpps
#   RATIO state_on_vs_off <y/z>
# plus "#" lines of detail. Exits non-zero if a run could not be made.

set -u -o pipefail
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/../netns/lib.sh"

E2E_SECONDS=${E2E_SECONDS:-5}
E2E_FLOWS=${E2E_FLOWS:-64}
E2E_RUNS=${E2E_RUNS:-3}
case ${1:-} in
"")	;;
--quick) E2E_SECONDS=2 E2E_RUNS=1 ;;	# tests/bench/run --quick
*)	echo "usage: e2e.sh [--quick]" >&2; exit 2 ;;
esac
PKTGEN=${PKTGEN:-$GN_ROOT/build/tests/bench/pktgen}

gn_require router ethtool nft taskset ping awk
if [ ! -x "$PKTGEN" ]; then
	make -C "$GN_ROOT" --no-print-directory build/tests/bench/pktgen >&2 ||
	    gn_die "cannot build $PKTGEN"
fi
[ "$(nproc)" -ge 2 ] || gn_log "fewer than 2 CPUs: the pinning below shares one core"

gn_init
cd "$GN_RUN" || exit 1
gn_topology

# srv: count at the veth, then drop before the socket layer (no ICMP back).
in_srv nft -f - <<'EOF' || gn_die "nft in srv"
table inet bench {
	chain input {
		type filter hook input priority 0; policy accept;
		udp dport 9 drop
	}
}
EOF

rx_srv() { in_srv cat "/sys/class/net/$SRV_DEV/statistics/rx_packets"; }

# measure LABEL: one generator run; sets KPPS. Warms up the ARP caches on the
# way (the router must know srv's MAC before the first frame, or it would
# queue and drop while resolving).
measure()
{
	local label=$1 rx0 rx1 t0 t1 out

	if ! in_cli ping -c 3 -i 0.2 -W 2 "$SRV_IP" >/dev/null 2>&1; then
		gn_log "$label: ping cli -> srv fails before the run"
		KPPS=0
		return 1
	fi
	rx0=$(rx_srv)
	t0=$(date +%s.%N)
	out=$(in_cli taskset -c 0 "$PKTGEN" -i "$CLI_DEV" -d "$RTR_IN_MAC" \
	    -s "$CLI_IP" -D "$SRV_IP" -f "$E2E_FLOWS" -t "$E2E_SECONDS" 2>"$GN_RUN/pktgen.$label.err")
	t1=$(date +%s.%N)
	sleep 0.3	# what is still in the router's ring arrives now
	rx1=$(rx_srv)
	sed 's/^/# /' "$GN_RUN/pktgen.$label.err"
	KPPS=$(awk -v a="$rx0" -v b="$rx1" -v s="$t0" -v e="$t1" \
	    'BEGIN { printf "%.1f", (b - a) / (e - s) / 1000 }')
	gn_log "$label: generator ${out:-sent ?}, srv received $((rx1 - rx0)) in" \
	    "$(awk -v s="$t0" -v e="$t1" 'BEGIN { printf "%.2f", e - s }') s"
	[ "$((rx1 - rx0))" -gt 0 ]
}

# Alternate A and B E2E_RUNS times and report each one's median: other work
# on a shared 2-core machine comes and goes, and alternating spreads it over
# both routers instead of charging it to whichever ran at the time.
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

status=0
GN_ROUTER_PREFIX="taskset -c 1"
: >"$GN_RUN/kernel.kpps"
: >"$GN_RUN/gitnet.kpps"
: >"$GN_RUN/nostate.kpps"
for run in $(seq 1 "$E2E_RUNS"); do
	# A: the kernel.
	gn_kernel_router
	measure "kernel$run" || { gn_log "kernel run $run delivered nothing"; status=1; }
	echo "$KPPS" >>"$GN_RUN/kernel.kpps"
	gn_kernel_router_off

	# B: gitnet-router, alone on CPU 1.
	if ! gn_router_start --no-nat; then
		status=1
		break
	fi
	measure "gitnet$run" || { gn_log "gitnet run $run delivered nothing"; status=1; }
	echo "$KPPS" >>"$GN_RUN/gitnet.kpps"
	if [ "$run" = "$E2E_RUNS" ]; then
		ctl stats >"$GN_RUN/stats.out" 2>&1
		gn_log "router counters after the last run (non-zero):"
		awk '$2 != 0 { print "#   " $0 }' "$GN_RUN/stats.out"
	fi
	gn_router_alive || { gn_log "router died during run $run"; status=1; }
	gn_router_stop

	# C: gitnet-router without its state in git.
	if ! gn_router_start --no-nat --state none; then
		status=1
		break
	fi
	measure "nostate$run" || { gn_log "nostate run $run delivered nothing"; status=1; }
	echo "$KPPS" >>"$GN_RUN/nostate.kpps"
	gn_router_stop
done
KERNEL_KPPS=$(median <"$GN_RUN/kernel.kpps")
GITNET_KPPS=$(median <"$GN_RUN/gitnet.kpps")
gn_log "kernel kpps per run: $(tr '\n' ' ' <"$GN_RUN/kernel.kpps")"
gn_log "gitnet kpps per run: $(tr '\n' ' ' <"$GN_RUN/gitnet.kpps")"

echo "BENCH e2e_kernel_forward_kpps $KERNEL_KPPS kpps"
echo "BENCH e2e_gitnet_forward_kpps $GITNET_KPPS kpps"
echo "RATIO forward_vs_kernel $(awk -v y="$GITNET_KPPS" -v x="$KERNEL_KPPS" \
    'BEGIN { printf "%.2f", (x > 0 ? y / x : 0) }')"
NOSTATE_KPPS=$(median <"$GN_RUN/nostate.kpps")
echo "BENCH e2e_gitnet_nostate_forward_kpps $NOSTATE_KPPS kpps"
echo "RATIO state_on_vs_off $(awk -v y="$GITNET_KPPS" -v z="$NOSTATE_KPPS" \
    'BEGIN { printf "%.2f", (z > 0 ? y / z : 0) }')"
[ "$(awk -v x="$KERNEL_KPPS" 'BEGIN { print (x > 0) }')" = 1 ] || status=1
exit "$status"

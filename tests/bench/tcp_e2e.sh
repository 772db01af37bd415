#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
#
# Bulk TCP through the router (issue 13): iperf3 from cli to srv through rtr
# (the topology of tests/netns/lib.sh), the same clients for two routers:
#
#   A. the Linux kernel with nftables masquerade (gn_kernel_nat);
#   B. gitnet-router with NAT and its state in git, as lib.sh starts it.
#
# Three cases, each A then B, alternated TCP_RUNS (3) times; each reports
# its median:
#   1 stream, TCP_SECONDS (5) s, default offloads on every peer;
#   4 streams (-P 4), default offloads;
#   1 stream with TSO, GSO and GRO off on every peer (gn_offloads off).
# Nothing is pinned: the kernel forwards in softirq on the sender's CPU,
# gitnet-router takes whichever core the scheduler gives it, and iperf3's
# client and server share the two cores with it, as on a small host.
#
# Prints exactly:
#   BENCH e2e_nftables_tcp_gbps <x> Gbit/s
#   BENCH e2e_gitnet_tcp_gbps <y> Gbit/s
#   RATIO tcp_bulk_vs_kernel <y/x>
#   BENCH e2e_nftables_tcp4_gbps <x4> Gbit/s
#   BENCH e2e_gitnet_tcp4_gbps <y4> Gbit/s
#   RATIO tcp_bulk4_vs_kernel <y4/x4>
#   BENCH e2e_nftables_tcp_nooffload_gbps <xo> Gbit/s
#   BENCH e2e_gitnet_tcp_nooffload_gbps <yo> Gbit/s
#   RATIO tcp_bulk_nooffload_vs_kernel <yo/xo>
# plus "#" lines of detail (each run, the router's GSO counters).

set -u -o pipefail
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/../netns/lib.sh"

TCP_SECONDS=${TCP_SECONDS:-5}
TCP_RUNS=${TCP_RUNS:-3}
case ${1:-} in
"")	;;
--quick) TCP_SECONDS=2 TCP_RUNS=1 ;;
*)	echo "usage: tcp_e2e.sh [--quick]" >&2; exit 2 ;;
esac

gn_require router ethtool nft conntrack iperf3 jq awk
gn_init
cd "$GN_RUN" || exit 1
gn_topology
gn_bg "$SRV" iperf3 iperf3 -s -B "$SRV_IP" -p 5201
gn_wait 5 in_srv bash -c "exec 3<>/dev/tcp/$SRV_IP/5201" ||
    gn_die "iperf3 server not listening"

# measure LABEL ARGS...: one iperf3 run; sets GBPS.
measure()
{
	local label=$1
	shift
	GBPS=0
	in_cli ping -c 2 -i 0.2 -W 2 "$SRV_IP" >/dev/null 2>&1 ||
	    gn_log "$label: ping cli -> srv fails before the run"
	in_cli timeout $((TCP_SECONDS + 15)) iperf3 -J -c "$SRV_IP" -p 5201 \
	    -t "$TCP_SECONDS" "$@" >"$GN_RUN/$label.json" 2>&1
	GBPS=$(jq -r '.end.sum_received.bits_per_second // 0 | . / 1e9 * 100 | floor / 100' \
	    "$GN_RUN/$label.json" 2>/dev/null)
	GBPS=${GBPS:-0}
	gn_log "$label: $GBPS Gbit/s, retransmits" \
	    "$(jq -r '.end.sum_sent.retransmits // "?"' "$GN_RUN/$label.json" 2>/dev/null)"
	[ "$(awk -v g="$GBPS" 'BEGIN { print (g > 0) }')" = 1 ]
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v y="$1" -v x="$2" 'BEGIN { printf "%.2f", (x > 0 ? y / x : 0) }'; }

status=0
# case NAME IPERF-ARGS...: A and B alternated; medians into K_<NAME>, G_<NAME>.
run_case()
{
	local name=$1 run
	shift
	: >"$GN_RUN/k.$name"
	: >"$GN_RUN/g.$name"
	for run in $(seq 1 "$TCP_RUNS"); do
		gn_kernel_nat || { gn_log "nftables masquerade failed"; status=1; }
		measure "nftables.$name.$run" "$@" || status=1
		echo "$GBPS" >>"$GN_RUN/k.$name"
		gn_kernel_nat_off
		if ! gn_router_start; then
			status=1
			return
		fi
		measure "gitnet.$name.$run" "$@" || status=1
		echo "$GBPS" >>"$GN_RUN/g.$name"
		ctl stats >"$GN_RUN/stats.$name.$run" 2>&1
		gn_log "  router: $(awk '$1 ~ /^(gso_in|csum_completed|if_.*_(rx_gso|tx_gso|rx_queue_full|rx_truncated|rx_kernel_drops))$/ { printf "%s=%s ", $1, $2 }' \
		    "$GN_RUN/stats.$name.$run")"
		gn_router_stop
	done
	gn_log "$name: nftables $(tr '\n' ' ' <"$GN_RUN/k.$name")Gbit/s;" \
	    "gitnet $(tr '\n' ' ' <"$GN_RUN/g.$name")Gbit/s"
	printf -v "K_$name" '%s' "$(median <"$GN_RUN/k.$name")"
	printf -v "G_$name" '%s' "$(median <"$GN_RUN/g.$name")"
}

run_case bulk
run_case bulk4 -P 4
gn_offloads off "$CLI:$CLI_DEV" "$SRV:$SRV_DEV"
run_case nooffload

echo "BENCH e2e_nftables_tcp_gbps ${K_bulk:-0} Gbit/s"
echo "BENCH e2e_gitnet_tcp_gbps ${G_bulk:-0} Gbit/s"
echo "RATIO tcp_bulk_vs_kernel $(ratio "${G_bulk:-0}" "${K_bulk:-0}")"
echo "BENCH e2e_nftables_tcp4_gbps ${K_bulk4:-0} Gbit/s"
echo "BENCH e2e_gitnet_tcp4_gbps ${G_bulk4:-0} Gbit/s"
echo "RATIO tcp_bulk4_vs_kernel $(ratio "${G_bulk4:-0}" "${K_bulk4:-0}")"
echo "BENCH e2e_nftables_tcp_nooffload_gbps ${K_nooffload:-0} Gbit/s"
echo "BENCH e2e_gitnet_tcp_nooffload_gbps ${G_nooffload:-0} Gbit/s"
echo "RATIO tcp_bulk_nooffload_vs_kernel $(ratio "${G_nooffload:-0}" "${K_nooffload:-0}")"
exit "$status"

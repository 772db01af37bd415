#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
#
# End-to-end NAT benchmark: the topology of tests/netns/lib.sh, cli (inside)
# through rtr to srv (outside), two NATs in rtr with the same generators and
# the same counting:
#
#   A. Linux: rtr's veths get the router addresses, ip_forward=1, and an
#      nftables masquerade on the outside interface (the table lives in
#      rtr's network namespace only, so the host's rules are never touched);
#   B. gitnet-router with NAT on (its default) on the address-less veths.
#
# Two measurements, each A and B alternated NAT_RUNS (3) times, each
# reporting its median (--quick: one run of each, shorter):
#
# 1. Packets: build/tests/bench/pktgen in cli sends 64-byte UDP frames over
#    NAT_FLOWS (4096) source ports for NAT_SECONDS (5). The first frame of
#    a flow makes a NAT session, the rest find it. What counts is what
#    reaches srv: the delta of srv's veth rx_packets over the run, divided
#    by the run's wall time. srv drops the UDP in nftables before any socket
#    lookup, so no ICMP port unreachable comes back.
# 2. Connections: build/tests/bench/connrate in cli keeps CONN_INFLIGHT
#    (256) TCP connects open to a connrate listener in srv for CONN_SECONDS
#    (3), and resets each one (SO_LINGER 0) once its handshake completes: 4
#    packets per connection, and no TIME_WAIT to run out of ports. Every
#    connection is a fresh 5-tuple (connrate picks the source port and
#    walks the listener's CONN_LPORTS ports; each run starts its walk
#    elsewhere), so each makes a new session in the NAT. The rate is the
#    handshakes the client saw completed per second. gitnet runs with
#    --nat-max-per-host 0 here: cli is one inside host, and its RST'ed
#    sessions stay 240 s (RFC 7857 transitory), so the default per-host
#    limit of 16384 would stop it within a second.
#
# CPU pinning (the machine has 2 cores): the generators (pktgen, the
# connrate client and the listener) run on CPU 0, gitnet-router on CPU 1.
# veth transmits synchronously: the receive side of each hop runs in
# softirq on the CPU that sent, so Linux's NAT runs on the generator's CPU 0,
# and with gitnet the kernel's share (veth receive, the copy into the packet
# ring) stays on CPU 0 while the router gets CPU 1 to itself; srv's TCP,
# which the router's transmits drive, runs on CPU 1 too. Without pinning the
# scheduler would now and then put the router and the generator on one core
# and the numbers would wander. Note what this compares: on veth, Linux's
# NAT shares CPU 0 with the generator (CPU 1 stays nearly idle in its runs),
# while gitnet-router has CPU 1; it is the two as they run on veth, not a
# per-core comparison. The "cpu busy" figures in the "#" lines show it, and
# show a saturated core.
#
# Priority: everything measured runs at nice NAT_NICE (-10). Linux's NAT runs
# in softirq, which preempts any process, while gitnet-router is a process
# that other work on its core (a compiler on a shared build machine) would
# get an equal share of; at nice -10 CFS gives it about nine tenths against
# one nice-0 competitor. The generators get the same, which also shields
# Linux's NAT, as it runs in the generator's context. "runnable-waiting"
# in the "#" lines is the time the router wanted a CPU and did not get one:
# a large value means the machine was busy and the figures understate both.
#
# NAT_E2E_PERF=1 adds one profiled gitnet packet run after the measured
# ones (perf record on the router) and prints its top symbols.
#
# Prints exactly:
#   BENCH e2e_nftables_nat_kpps <x> kpps
#   BENCH e2e_gitnet_nat_kpps <y> kpps
#   RATIO nat_vs_kernel <y/x>
#   BENCH e2e_nftables_conn_per_s <a> conn/s
#   BENCH e2e_gitnet_conn_per_s <b> conn/s
#   RATIO nat_conn_vs_kernel <b/a>
# plus "#" lines of detail. Exits non-zero if a run delivered nothing or
# could not be made.

set -u -o pipefail
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/../netns/lib.sh"

NAT_SECONDS=${NAT_SECONDS:-5}
NAT_FLOWS=${NAT_FLOWS:-4096}
NAT_RUNS=${NAT_RUNS:-3}
CONN_SECONDS=${CONN_SECONDS:-3}
CONN_INFLIGHT=${CONN_INFLIGHT:-256}
CONN_PORT=20000
CONN_LPORTS=64
NAT_NICE=${NAT_NICE:--10}
case ${1:-} in
"")	;;
--quick) NAT_SECONDS=2 CONN_SECONDS=2 NAT_RUNS=1 ;;	# tests/bench/run --quick
*)	echo "usage: nat_e2e.sh [--quick]" >&2; exit 2 ;;
esac
PKTGEN=${PKTGEN:-$GN_ROOT/build/tests/bench/pktgen}
CONNRATE=${CONNRATE:-$GN_ROOT/build/tests/bench/connrate}

gn_require router ethtool nft taskset ping awk socat timeout
for bin in "$PKTGEN" "$CONNRATE"; do
	if [ ! -x "$bin" ]; then
		make -C "$GN_ROOT" --no-print-directory "${bin#"$GN_ROOT"/}" >&2 ||
		    gn_die "cannot build $bin"
	fi
done
[ "$(nproc)" -ge 2 ] || gn_log "fewer than 2 CPUs: the pinning below shares one core"

gn_init
cd "$GN_RUN" || exit 1
gn_log "load average before the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
gn_topology

# srv: count at the veth, then drop the UDP before the socket layer.
in_srv nft -f - <<'EOF' || gn_die "nft in srv"
table inet bench {
	chain input {
		type filter hook input priority 0; policy accept;
		udp dport 9 drop
	}
}
EOF

# The TCP listener lives for the whole run, on CPU 0 with the generators.
gn_bg "$SRV" listener nice -n "$NAT_NICE" taskset -c 0 "$CONNRATE" -l -a "$SRV_IP" -p "$CONN_PORT" -P "$CONN_LPORTS"
LISTENER_PID=$GN_LAST_PID
gn_wait 5 grep -qx listening "$GN_RUN/listener.log" ||
    gn_die "connrate listener did not start: $(cat "$GN_RUN/listener.log")"

# A: Linux forwarding plus nftables masquerade in rtr.
nft_nat_on()
{
	gn_kernel_router
	in_rtr nft -f - <<EOF || gn_die "nft masquerade in rtr"
table ip gnbench {
	chain post {
		type nat hook postrouting priority 100;
		oifname "$RTR_OUT_DEV" masquerade
	}
}
EOF
}

# Undo nft_nat_on; flush conntrack too, so its entries (and the hooks that
# keep it busy) do not follow into the gitnet run.
nft_nat_off()
{
	in_rtr nft delete table ip gnbench
	command -v conntrack >/dev/null && in_rtr conntrack -F >/dev/null 2>&1
	gn_kernel_router_off
}

# Conntrack's entry count in rtr (the per-namespace sysctl if the tool is
# missing) and its insert failures and drops summed over CPUs.
ct_report()
{
	local n

	if command -v conntrack >/dev/null; then
		n=$(in_rtr conntrack -C 2>/dev/null)
		gn_log "  rtr conntrack -C: ${n:-?};" \
		    "$(in_rtr conntrack -S 2>/dev/null | awk '{ for (i = 2; i <= NF; i++) {
			split($i, kv, "="); s[kv[1]] += kv[2] } }
			END { printf "found %d, insert_failed %d, drop %d, early_drop %d",
			    s["found"], s["insert_failed"], s["drop"], s["early_drop"] }')"
	else
		n=$(in_rtr cat /proc/sys/net/netfilter/nf_conntrack_count 2>/dev/null)
		gn_log "  rtr nf_conntrack_count: ${n:-?}"
	fi
}

rx_srv() { in_srv cat "/sys/class/net/$SRV_DEV/statistics/rx_packets"; }

# CPU accounting: "busy total" jiffies of cpu0 and cpu1 from /proc/stat, and
# the router's utime+stime, so a run can say which core was saturated.
cpu_snap() { awk '/^cpu[01] / { t = 0; for (i = 2; i <= NF; i++) t += $i;
	printf "%d %d ", t - $5 - $6, t }' /proc/stat; }
cpu_pct()
{
	awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " ");
		for (c = 0; c < 2; c++) { t = y[2*c+2] - x[2*c+2]; p = 0
		    if (t > 0) p = 100 * (y[2*c+1] - x[2*c+1]) / t
		    printf "cpu%d %.0f%% busy, ", c, p } }'
}
# The router's /proc schedstat: "ns on a CPU, ns runnable but waiting for
# one"; the second tells a router starved by other work on its core from a
# router that is simply too slow.
router_sched()
{
	[ -n "$GN_ROUTER_PID" ] && awk '{ print $1, $2 }' "/proc/$GN_ROUTER_PID/schedstat" 2>/dev/null
}
# router_pct SCHED0 SCHED1 SECONDS: "router on-CPU x%, waiting y%".
router_pct()
{
	[ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" -v s="$3" 'BEGIN {
		split(a, x, " "); split(b, y, " ")
		w = (y[2] - x[2]) / s / 1e7
		printf "router on-CPU %.0f%%, runnable-waiting %.0f%%", (y[1] - x[1]) / s / 1e7, w
		printf "%.0f\n", w >>"starved" }'
}
# softnet_stat column 2: packets dropped because a CPU's backlog was full
# (host-wide: veth delivers through the backlog, so Linux's overload shows
# here).
backlog_drops()
{
	local s=0 col

	for col in $(awk '{ print $2 }' /proc/net/softnet_stat); do
		s=$((s + 16#$col))
	done
	echo "$s"
}

warm()
{
	in_cli ping -c 3 -i 0.2 -W 2 "$SRV_IP" >/dev/null 2>&1 ||
	    { gn_log "$1: ping cli -> srv fails before the run"; return 1; }
}

# pkt_run LABEL: one pktgen run; sets KPPS; false if nothing arrived.
pkt_run()
{
	local label=$1 rx0 rx1 t0 t1 c0 c1 r0 r1 b0 b1 out secs

	KPPS=0
	warm "$label" || return 1
	rx0=$(rx_srv) c0=$(cpu_snap) r0=$(router_sched) b0=$(backlog_drops)
	t0=$(date +%s.%N)
	out=$(in_cli nice -n "$NAT_NICE" taskset -c 0 timeout $((NAT_SECONDS + 10)) "$PKTGEN" -i "$CLI_DEV" \
	    -d "$RTR_IN_MAC" -s "$CLI_IP" -D "$SRV_IP" -f "$NAT_FLOWS" -t "$NAT_SECONDS" \
	    2>"$GN_RUN/pktgen.$label.err")
	t1=$(date +%s.%N)
	c1=$(cpu_snap) r1=$(router_sched) b1=$(backlog_drops)
	sleep 0.3	# what is still in the router's ring arrives now
	rx1=$(rx_srv)
	secs=$(awk -v s="$t0" -v e="$t1" 'BEGIN { printf "%.2f", e - s }')
	KPPS=$(awk -v a="$rx0" -v b="$rx1" -v s="$secs" 'BEGIN { printf "%.1f", (b - a) / s / 1000 }')
	gn_log "$label: pktgen ${out:-sent ?}, srv received $((rx1 - rx0)) in $secs s = $KPPS kpps;" \
	    "$(cpu_pct "$c0" "$c1")$(router_pct "$r0" "$r1" "$secs")"
	gn_log "  host-wide backlog drops $((b1 - b0))"
	sed 's/^/#   /' "$GN_RUN/pktgen.$label.err"
	[ "$((rx1 - rx0))" -gt 0 ]
}

# conn_run LABEL FIRST: one connrate run starting at connection FIRST; sets
# CPS; false if no connection completed.
conn_run()
{
	local label=$1 first=$2 n c0 c1 r0 r1 secs=$CONN_SECONDS

	CPS=0
	warm "$label" || return 1
	c0=$(cpu_snap) r0=$(router_sched)
	n=$(in_cli nice -n "$NAT_NICE" taskset -c 0 timeout $((CONN_SECONDS + 10)) "$CONNRATE" -a "$SRV_IP" \
	    -s "$CLI_IP" -p "$CONN_PORT" -P "$CONN_LPORTS" -n "$CONN_INFLIGHT" \
	    -t "$CONN_SECONDS" -k "$first" 2>"$GN_RUN/connrate.$label.err" |
	    awk '$1 == "connected" { print $2 }')
	c1=$(cpu_snap) r1=$(router_sched)
	CPS=$(awk -v n="${n:-0}" -v s="$secs" 'BEGIN { printf "%.1f", n / s }')
	gn_log "$label: $(sed 's/^connrate: //' "$GN_RUN/connrate.$label.err");" \
	    "$(cpu_pct "$c0" "$c1")$(router_pct "$r0" "$r1" "$secs")"
	[ "${n:-0}" -gt 0 ]
}

# The gitnet counters that explain a result: drops by reason, the kernel
# dropping frames the router did not read in time, and the NAT table.
router_report()
{
	ctl stats >"$GN_RUN/stats.out" 2>&1
	awk '$2 != 0 && ($1 ~ /^drop_/ || $1 ~ /_rx_kernel_drops$/ || $1 ~ /_tx_ring_full$/ ||
	    $1 ~ /_tx_errors$/ || $1 ~ /^nat_(sessions|mappings_created|in2out|out2in)/ ||
	    $1 ~ /^if_.*_(rx|tx)_frames$/) { print "#     " $0 }' "$GN_RUN/stats.out"
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v y="$1" -v x="$2" 'BEGIN { printf "%.2f", (x > 0 ? y / x : 0) }'; }

# Each run's connrate walk starts 8 x 64512 connections after the last, so
# no 5-tuple repeats across runs (with CONN_LPORTS >= 8 x runs x 2).
CONN_STRIDE=$((8 * 64512))
nconn=0

status=0
GN_ROUTER_PREFIX="nice -n $NAT_NICE taskset -c 1"
for f in nft.kpps gitnet.kpps nft.cps gitnet.cps; do : >"$GN_RUN/$f"; done
# Alternate A and B: other work on a shared 2-core machine comes and goes,
# and alternating spreads it over both instead of charging whichever ran.
for run in $(seq 1 "$NAT_RUNS"); do
	# A: Linux.
	nft_nat_on
	pkt_run "nft-pkt$run" || { gn_log "nftables packet run $run delivered nothing"; status=1; }
	echo "$KPPS" >>"$GN_RUN/nft.kpps"
	ct_report
	conn_run "nft-conn$run" $((nconn++ * CONN_STRIDE)) ||
	    { gn_log "nftables connection run $run completed nothing"; status=1; }
	echo "$CPS" >>"$GN_RUN/nft.cps"
	ct_report
	nft_nat_off

	# B: gitnet-router, alone on CPU 1; a fresh one per measurement with a
	# fresh state repository (it would restore the last run's sessions), so
	# each starts from an empty table as conntrack does after its flush. The
	# state is recorded in git, as the router runs by default.
	if gn_router_start --state "$GN_RUN/state-pkt$run"; then
		pkt_run "gitnet-pkt$run" || { gn_log "gitnet packet run $run delivered nothing"; status=1; }
		echo "$KPPS" >>"$GN_RUN/gitnet.kpps"
		router_report
		gn_router_alive || { gn_log "router died during packet run $run"; status=1; }
		gn_router_stop
	else
		status=1
		echo 0 >>"$GN_RUN/gitnet.kpps"
	fi
	if gn_router_start --nat-max-per-host 0 --state "$GN_RUN/state-conn$run"; then
		conn_run "gitnet-conn$run" $((nconn++ * CONN_STRIDE)) ||
		    { gn_log "gitnet connection run $run completed nothing"; status=1; }
		echo "$CPS" >>"$GN_RUN/gitnet.cps"
		router_report
		gn_router_alive || { gn_log "router died during connection run $run"; status=1; }
		gn_router_stop
	else
		status=1
		echo 0 >>"$GN_RUN/gitnet.cps"
	fi
done

if [ -n "${NAT_E2E_PERF:-}" ] && command -v perf >/dev/null && gn_router_start; then
	gn_log "profile: perf record on the router during one more gitnet packet run"
	perf record -q -o "$GN_RUN/perf.data" -p "$GN_ROUTER_PID" -- \
	    sleep "$NAT_SECONDS" >/dev/null 2>&1 &
	perf_pid=$!
	GN_BG_PIDS+=("$perf_pid")
	pkt_run gitnet-perf >/dev/null
	gn_wait $((NAT_SECONDS + 5)) gn_gone "$perf_pid"
	perf report -q -i "$GN_RUN/perf.data" --stdio --no-children --sort symbol 2>/dev/null |
	    awk 'NF && $1 ~ /%$/ && n++ < 15 { printf "#   %8s %s %s\n", $1, $2, $3 }'
	gn_log "  by object: $(perf report -q -i "$GN_RUN/perf.data" --stdio --sort dso \
	    2>/dev/null | awk 'NF && $1 ~ /%$/ && n++ < 4 { printf "%s %s  ", $2, $1 }')"
	gn_router_stop
fi

gn_kill "$LISTENER_PID"
gn_log "listener: $(sed 's/^connrate: //' "$GN_RUN/listener.log" | tr '\n' ' ')"
for f in nft.kpps gitnet.kpps nft.cps gitnet.cps; do
	gn_log "${f%.*} ${f#*.} per run: $(tr '\n' ' ' <"$GN_RUN/$f")"
done
starved=$(sort -g "$GN_RUN/starved" 2>/dev/null | tail -n 1)
if [ "${starved:-0}" -gt 25 ]; then
	gn_log "WARNING: the router waited for a CPU ${starved}% of a run: other work" \
	    "shared its core, and the gitnet figures understate it"
fi
NFT_KPPS=$(median <"$GN_RUN/nft.kpps")
GITNET_KPPS=$(median <"$GN_RUN/gitnet.kpps")
NFT_CPS=$(median <"$GN_RUN/nft.cps")
GITNET_CPS=$(median <"$GN_RUN/gitnet.cps")

echo "BENCH e2e_nftables_nat_kpps $NFT_KPPS kpps"
echo "BENCH e2e_gitnet_nat_kpps $GITNET_KPPS kpps"
echo "RATIO nat_vs_kernel $(ratio "$GITNET_KPPS" "$NFT_KPPS")"
echo "BENCH e2e_nftables_conn_per_s $NFT_CPS conn/s"
echo "BENCH e2e_gitnet_conn_per_s $GITNET_CPS conn/s"
echo "RATIO nat_conn_vs_kernel $(ratio "$GITNET_CPS" "$NFT_CPS")"
for v in "$NFT_KPPS" "$GITNET_KPPS" "$NFT_CPS" "$GITNET_CPS"; do
	[ "$(awk -v x="$v" 'BEGIN { print (x > 0) }')" = 1 ] || status=1
done
exit "$status"

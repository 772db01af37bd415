#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
#
# High-availability benchmark (issue 14): how long a failover takes, what
# survives it, and what keeping a standby in sync costs, for the kernel's
# answer and for gitnet, in the same topology (tests/netns/ha_lib.sh: two
# routers on an inside and an outside switch) and the same run.
#
#   conntrackd  two kernel routers, nftables masquerade on each, conntrackd
#               in FTFW mode syncing over its own link (an external cache,
#               committed at takeover: its primary-backup set-up); A beats
#               on the sync link every 75 ms and B's watcher runs the
#               takeover script when 300 ms pass without a beat: commit the
#               cache, take the addresses, gratuitous ARP on both sides.
#               A "dies": its processes are killed and its links go down.
#   gitnet      gitnet-router A (--sync git://... --router-id A) and B
#               (--standby A --takeover-after 300), the remote a real git
#               daemon in a management namespace. A dies by SIGKILL.
#               Skipped with a message when the router has no --standby.
#
# The workload, the same for both: 20 TCP connections with data flowing
# (1 KB every 50 ms each, every echoed byte checked), 1,000 UDP flows
# answered by srv (one datagram a second each), and a probe datagram every
# ms (tests/netns/ha_tool.py). Figures, each peer's name last:
#
#   BENCH ha_takeover_ms_<peer>     the kill to the first probe datagram srv
#                                   receives after it (detection included:
#                                   300 ms for both)
#   BENCH ha_flows_survived_<peer>  of the 20 TCP connections, those with data
#                                   echoed intact since the kill (waited
#                                   for up to 10 s) and not reset (the UDP
#                                   flows answered again are on a # line)
#   BENCH ha_sync_lag_p99_ms_<peer> 20 new UDP flows from cli2, 50 ms apart:
#                                   from each flow's first datagram to the
#                                   flow on the standby. conntrackd: the
#                                   sync message naming it arrives on B's
#                                   sync link (captured; polling
#                                   `conntrackd -e` costs 25-50 ms a look
#                                   here, more than the lag). gitnet: the
#                                   flow is in `git ls-tree` of B's
#                                   refs/remotes/sync/A, polled every few
#                                   ms. p99 of 20 is the largest; a flow not
#                                   seen within 10 s counts as 10000 ms
#   BENCH ha_sync_bytes_per_session_<peer>
#                                   bytes on the sync links (conntrackd: the
#                                   dedicated link; gitnet: both routers'
#                                   management veths, to and from the git
#                                   daemon) over HA_WINDOW_S (8) seconds
#                                   from the workload's start, divided by
#                                   its 1,021 sessions; heartbeats and polls
#                                   in the window are included (the idle
#                                   rate is on a # line)
#   RATIO ha_sync_bytes_vs_conntrackd  gitnet's bytes per session over
#                                   conntrackd's, when both ran
#
# gitnet's four figures are also printed under the issue's names without a
# suffix (BENCH ha_takeover_ms ...).
# The peer comes last in each name, as in the other benchmarks' lines
# (e2e_nftables_nat_kpps, e2e_gitnet_nat_kpps): `BENCH <name> <value>
# <unit>` stays four words. --quick: a 5-second window.

set -u -o pipefail
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/../netns/lib.sh"
# shellcheck source=tests/netns/ha_lib.sh
. "$(dirname "$0")/../netns/ha_lib.sh"

HA_WINDOW_S=${HA_WINDOW_S:-8}
case ${1:-} in
"")	;;
--quick) HA_WINDOW_S=5 ;;
*)	echo "usage: ha.sh [--quick]" >&2; exit 2 ;;
esac
NTCP=20
NUDP=1000
SESSIONS=$((NTCP + NUDP + 1))	# the probe flow too
AFTER=300

gn_require git socat python3 nft conntrackd conntrack arping ss
ha_init
cd "$GN_RUN" || exit 1
ha_topology
status=0

ratio() { awk -v y="$1" -v x="$2" 'BEGIN { printf "%.2f", (x > 0 ? y / x : 0) }'; }

# p99 (nearest rank) of the lags of $3 flows: join the sender's "PORT T"
# lines ($1) with the standby's ($2), in ms; a flow the standby never showed
# (within the watcher's 10 s) counts as 10000.
lag_p99()
{
	join <(sort "$1") <(sort "$2") |
	    awk -v n="$3" '{ print ($3 - $2) * 1000 } END { for (i = NR; i < n; i++) print 10000 }' |
	    sort -g |
	    awk '{ v[NR] = $1 } END { r = int(NR * 0.99); if (r < NR * 0.99) r++
		printf "%.1f\n", v[r] }'
}

# measure PEER SPORT0 LAGNS MODE ARGS...: the workload, the window, the lag
# (ha_tool.py MODE ARGS... run in namespace LAGNS, - for this one, watches
# for the new flows), the kill; sets TAKEOVER, SURVIVED, UDP_AGAIN, LAG,
# BYTES_PER.
measure()
{
	local peer=$1 sport0=$2 lagns=$3 b0 b1 ts idle0 idle1 t0 lagpid
	local -a pre=()
	shift 3
	[ "$lagns" = - ] || pre=(ip netns exec "$lagns")

	idle0=$(ha_sync_bytes "$peer")
	sleep 2
	idle1=$(ha_sync_bytes "$peer")
	gn_log "$peer: idle sync traffic $(( (idle1 - idle0) / 2 )) B/s"
	b0=$(ha_sync_bytes "$peer")
	ts=$(ha_now)
	if ! ha_traffic_start "$NTCP" "$NUDP" 120; then
		gn_log "$peer: the workload never got every answer:"
		sed 's/^/#   /' "$GN_RUN/hold.log"
		return 1
	fi
	gn_log "$peer: $(grep '^ready' "$GN_RUN/hold.log")"
	sleep "$(awk -v ts="$ts" -v w="$HA_WINDOW_S" -v now="$(ha_now)" \
	    'BEGIN { d = ts + w - now; printf "%.3f", (d > 0 ? d : 0) }')"
	b1=$(ha_sync_bytes "$peer")
	BYTES_PER=$(( (b1 - b0) / SESSIONS ))
	gn_log "$peer: $((b1 - b0)) sync bytes in ${HA_WINDOW_S} s for $SESSIONS sessions;" \
	    "less the idle rate: $(( (b1 - b0 - (idle1 - idle0) * HA_WINDOW_S / 2) / SESSIONS )) B/session"

	# The lag: 20 new flows from cli2 while the standby's copy is polled.
	"${pre[@]}" "$GN_PY" "$HA_TOOL" "$@" \
	    >"$GN_RUN/lag-seen-$peer" 2>&1 &
	lagpid=$!
	GN_BG_PIDS+=("$lagpid")
	sleep 0.2
	in_cli2 "$GN_PY" "$HA_TOOL" newflows "$sport0" 20 50 "$SRV_IP:$HA_UPORT" \
	    >"$GN_RUN/lag-sent-$peer"
	wait "$lagpid"
	LAG=$(lag_p99 "$GN_RUN/lag-sent-$peer" "$GN_RUN/lag-seen-$peer" 20)
	gn_log "$peer: $(wc -l <"$GN_RUN/lag-seen-$peer") of 20 new flows seen on the standby"

	ha_epoch
	t0=$(ha_now)
	case $peer in
	kernel)	ha_kernel_kill_A
		gn_wait 5 grep -q '^announced' "$GN_RUN/kernel-takeover.log" ||
		    gn_log "kernel: the takeover script did not run"
		gn_log "kernel: takeover script $(tr '\n' ' ' <"$GN_RUN/kernel-takeover.log")"
		;;
	gitnet)	ha_router_kill A KILL
		gn_wait 5 ha_stat_is B sync_role active ||
		    gn_log "gitnet: B did not become active within 5 s"
		gn_log "gitnet: B sync_lag_p99_ms (its own figure) $(ha_stat B sync_lag_p99_ms)"
		;;
	esac
	ha_recovered 10 || gn_log "$peer: not every flow recovered within 10 s"
	TAKEOVER=$(ha_takeover_ms "$t0")
	SURVIVED=$(ha_markf tcp_epoch)
	UDP_AGAIN=$(ha_markf udp_epoch)
	gn_log "$peer: after takeover: $HA_MARK"
	ha_traffic_stop
	gn_log "$peer: $UDP_AGAIN of $NUDP UDP flows answered again," \
	    "$(ha_markf udp_moved) changed external address; TCP resets/corruption $(ha_markf tcp_err)"
}

# --- the kernel pair ------------------------------------------------------------
K_TAKEOVER=0 K_SURVIVED=0 K_LAG=0 K_BYTES=0
ha_kernel_start "$AFTER"
if measure kernel 40000 "$RTRB" sniff "$HA_SYNC_DEV" 40000 20 10 "$CLI2_IP"; then
	K_TAKEOVER=$TAKEOVER K_SURVIVED=$SURVIVED K_LAG=$LAG K_BYTES=$BYTES_PER
else
	status=1
fi
echo "BENCH ha_takeover_ms_conntrackd $K_TAKEOVER ms"
echo "BENCH ha_flows_survived_conntrackd $K_SURVIVED flows"
echo "BENCH ha_sync_lag_p99_ms_conntrackd $K_LAG ms"
echo "BENCH ha_sync_bytes_per_session_conntrackd $K_BYTES B"
ha_kernel_off

# --- gitnet ----------------------------------------------------------------------
if ! ha_has_sync; then
	gn_log "gitnet: $HA_NOSYNC_MSG"
	exit $status
fi
[ -x "$GN_ROUTER" ] || gn_die "no $GN_ROUTER: run make"
ha_gitd_start
if ha_router_start A --takeover-after "$AFTER" &&
    ha_router_start B --standby A --takeover-after "$AFTER" &&
    gn_wait 10 ha_stat_is B sync_role standby &&
    measure gitnet 41000 - lag 41000 20 10 '/%d\n' \
    git --git-dir="$GN_RUN/state-B" ls-tree -r --name-only refs/remotes/sync/A -- \
    "nat/udp/${CLI2_IP%.*}/${CLI2_IP##*.}"; then
	echo "BENCH ha_takeover_ms_gitnet $TAKEOVER ms"
	echo "BENCH ha_flows_survived_gitnet $SURVIVED flows"
	echo "BENCH ha_sync_lag_p99_ms_gitnet $LAG ms"
	echo "BENCH ha_sync_bytes_per_session_gitnet $BYTES_PER B"
	# The issue's names, unsuffixed: gitnet's own figures.
	echo "BENCH ha_takeover_ms $TAKEOVER ms"
	echo "BENCH ha_flows_survived $SURVIVED flows"
	echo "BENCH ha_sync_lag_p99_ms $LAG ms"
	echo "BENCH ha_sync_bytes_per_session $BYTES_PER B"
	[ "$K_BYTES" -gt 0 ] &&
	    echo "RATIO ha_sync_bytes_vs_conntrackd $(ratio "$BYTES_PER" "$K_BYTES")"
else
	gn_log "gitnet: the run could not be made (routers' logs in $GN_RUN, GN_KEEP=1 keeps them)"
	for x in A B; do
		tail -n 10 "$GN_RUN/router-$x.log" 2>/dev/null | sed "s/^/#   $x: /"
	done
	status=1
fi
exit $status

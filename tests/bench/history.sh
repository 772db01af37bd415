#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
#
# History-size benchmark (issue 12): how many bytes of state repository a
# flow costs, against the kernel's own record of the same flows.
#
# The topology of tests/netns/lib.sh (cli -> rtr -> srv), one workload run
# twice in the same run:
#
#   A. gitnet-router in rtr with --udp-timeout HIST_TIMEOUT (10) and its
#      state in git (--state, as lib.sh starts it);
#   B. Linux: rtr's veths get the router addresses, ip_forward=1 and an
#      nftables masquerade (gn_kernel_nat), nf_conntrack_udp_timeout and
#      nf_conntrack_udp_timeout_stream set to HIST_TIMEOUT in rtr's
#      namespace, and `conntrack -E -o timestamp` in rtr writing its event
#      log to a file: the history the kernel keeps of its NAT.
#
# The workload: build/tests/bench/flowgen in cli opens HIST_RATE (200) new
# UDP flows a second for HIST_SECONDS (60; --quick: 20) towards srv port 9,
# each from a source port of its own, 3 datagrams each, no answer (srv drops
# them in nftables before any socket lookup, so no ICMP comes back).
#
# A, step by step: the router starts on an empty repository; the size of
# its objects/ is taken at once (the baseline: empty tables). A ping warms
# the ARP caches, flowgen runs, and then the script waits until every flow
# has timed out and the router's tick has removed it (nat_sessions back to
# what it was before the flows; at least HIST_TIMEOUT + 3 s), and until the
# objects stop changing. If the router has a `history_compactions` counter
# in `stats`, it then waits (bounded, HIST_COMPACT_WAIT, 60 s) for it to
# move past its value at that point, so what is measured is the repository
# after the router's own background compaction; no stock git command ever
# touches the repository before it is measured. The figure is the growth of
# the objects/ bytes (sum of file sizes, as `du --apparent-size -b`) over
# the baseline, per flow that flowgen opened. The whole state directory is
# reported beside it. After the router stops, `git fsck --strict` must be
# clean.
#
# B: the same flows; the table is listed every 0.25 s meanwhile (a dump
# evicts expired entries, which the kernel's garbage collector reaps late
# and in bursts that overrun the listener; see below), and after the last
# flow the script waits HIST_TIMEOUT + 3 s and until the table is empty, so
# every flow has its NEW and its DESTROY event in the log. The figures are
# the log's bytes per flow, raw and after gzip -9. It warns when the log
# does not hold exactly one NEW and one DESTROY per flow.
#
# Prints exactly:
#   BENCH history_flows <n> flows
#   BENCH history_bytes_per_flow <x> B
#   BENCH history_repo_objects_bytes <bytes> B
#   BENCH history_repo_bytes <bytes> B
#   BENCH conntrack_log_bytes_per_flow <y> B
#   BENCH conntrack_log_gzip_bytes_per_flow <z> B
#   RATIO history_vs_conntrack_log <x/y>
# plus "#" lines of detail. Exits non-zero if a run opened no flow, the
# router died, the conntrack log is empty or fsck is not clean.

set -u -o pipefail
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/../netns/lib.sh"

HIST_SECONDS=${HIST_SECONDS:-60}
HIST_RATE=${HIST_RATE:-200}
HIST_TIMEOUT=${HIST_TIMEOUT:-10}
HIST_DGRAMS=${HIST_DGRAMS:-3}
HIST_COMPACT_WAIT=${HIST_COMPACT_WAIT:-60}
case ${1:-} in
"")	;;
--quick) HIST_SECONDS=20 ;;	# tests/bench/run --quick
*)	echo "usage: history.sh [--quick]" >&2; exit 2 ;;
esac
FLOWGEN=${FLOWGEN:-$GN_ROOT/build/tests/bench/flowgen}

gn_require router nft conntrack gzip git ping awk socat timeout
if [ ! -x "$FLOWGEN" ]; then
	make -C "$GN_ROOT" --no-print-directory "${FLOWGEN#"$GN_ROOT"/}" >&2 ||
	    gn_die "cannot build $FLOWGEN"
fi

gn_init
cd "$GN_RUN" || exit 1
gn_log "load average before the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
gn_topology
STATE=$GN_RUN/state	# gn_router_start's --state

# srv: count at the veth, then drop the UDP before the socket layer.
in_srv nft -f - <<'EOF' || gn_die "nft in srv"
table inet bench {
	chain input {
		type filter hook input priority 0; policy accept;
		udp dport 9 drop
	}
}
EOF

# Sum of the sizes of the files under $1 (du --apparent-size -b, without
# counting directories).
tree_bytes() { find "$1" -type f -printf '%s\n' 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'; }

# Poll until $1's file bytes are the same on two reads 1 s apart (bounded:
# $2 s); the size is left in SETTLED.
settle()
{
	local dir=$1 limit=$2 a b i=0

	a=$(tree_bytes "$dir")
	while [ "$i" -lt "$limit" ]; do
		sleep 1
		b=$(tree_bytes "$dir")
		[ "$a" = "$b" ] && break
		a=$b i=$((i + 1))
	done
	SETTLED=$b
	[ "$i" -lt "$limit" ]
}

# flows LABEL: run flowgen in cli; FLOWS gets the flows it opened.
flows()
{
	local label=$1

	FLOWS=$(in_cli timeout $((HIST_SECONDS + 30)) "$FLOWGEN" -a "$SRV_IP" -s "$CLI_IP" \
	    -p 9 -r "$HIST_RATE" -t "$HIST_SECONDS" -n "$HIST_DGRAMS" \
	    2>"$GN_RUN/flowgen.$label.err" | awk '$1 == "flows" { print $2 }')
	FLOWS=${FLOWS:-0}
	gn_log "$label: $(sed 's/^flowgen: //' "$GN_RUN/flowgen.$label.err")"
	[ "$FLOWS" -gt 0 ]
}

per_flow() { awk -v b="$1" -v n="$2" 'BEGIN { printf "%.1f", (n > 0 ? b / n : 0) }'; }
ratio() { awk -v y="$1" -v x="$2" 'BEGIN { printf "%.2f", (x > 0 ? y / x : 0) }'; }
# A counter from the router's stats, 0 if it has none.
stat0() { local v; v=$(stat_get "$1"); echo "${v:-0}"; }

status=0

# --- A: gitnet-router --------------------------------------------------------
HIST_FLOWS=0 OBJ_BYTES=0 REPO_BYTES=0 GROWTH=0
gn_router_start --udp-timeout "$HIST_TIMEOUT" || gn_die "gitnet-router did not start"
# The repository the router made on start, tables empty: the baseline.
settle "$STATE/objects" 5
OBJ0=$SETTLED
gn_log "gitnet: repository at start: objects $OBJ0 B, whole $(tree_bytes "$STATE") B"
in_cli ping -c 3 -i 0.2 -W 2 "$SRV_IP" >/dev/null 2>&1 ||
    gn_log "gitnet: ping cli -> srv fails before the run"
sessions0=$(stat0 nat_sessions)
has_compact=$(stat_get history_compactions)

flows gitnet || { gn_log "gitnet: flowgen opened no flow"; status=1; }
HIST_FLOWS=$FLOWS
stats_snapshot "$GN_RUN/stats.stop"
gn_log "gitnet: at the end of the flows: nat_sessions $(stat0 nat_sessions)," \
    "state_commits $(stat0 state_commits), objects $(tree_bytes "$STATE/objects") B"

# Every flow times out and the tick removes it.
sleep $((HIST_TIMEOUT + 3))
i=0
while [ "$(stat0 nat_sessions)" -gt "$sessions0" ] && [ "$i" -lt 300 ]; do
	sleep 0.1
	i=$((i + 1))
done
[ "$(stat0 nat_sessions)" -le "$sessions0" ] ||
    gn_log "gitnet: WARNING: $(stat0 nat_sessions) NAT sessions left" \
	"$((HIST_TIMEOUT + 33)) s after the flows (before: $sessions0)"
settle "$STATE/objects" 20 || gn_log "gitnet: the objects still grow after 20 s"

# The router's own compaction, where it has one.
if [ -n "$has_compact" ]; then
	c_stop=$(awk '$1 == "history_compactions" { print $2 }' "$GN_RUN/stats.stop")
	c_idle=$(stat0 history_compactions)
	gn_log "gitnet: history_compactions: ${c_stop:-?} when the flows stopped," \
	    "$c_idle once they were removed; waiting up to $HIST_COMPACT_WAIT s for the next"
	i=0
	while [ "$(stat0 history_compactions)" -le "$c_idle" ] &&
	    [ "$i" -lt $((HIST_COMPACT_WAIT * 10)) ]; do
		sleep 0.1
		i=$((i + 1))
	done
	c_now=$(stat0 history_compactions)
	if [ "$c_now" -gt "$c_idle" ]; then
		gn_log "gitnet: compaction $c_now done after $((i / 10)) s"
	elif [ "$c_now" -gt "${c_stop:-0}" ]; then
		gn_log "gitnet: no compaction within $HIST_COMPACT_WAIT s; the last one" \
		    "ran after the flows stopped, during their removal"
	else
		gn_log "gitnet: WARNING: no compaction since the flows stopped" \
		    "(${HIST_COMPACT_WAIT} s): measuring the repository as it is"
	fi
	settle "$STATE/objects" 20 || gn_log "gitnet: the objects still change after 20 s"
else
	gn_log "gitnet: the router has no history_compactions counter:" \
	    "measuring the repository as it is (no compaction, no stock git run)"
fi

OBJ_BYTES=$(tree_bytes "$STATE/objects")
REPO_BYTES=$(tree_bytes "$STATE")
GROWTH=$((OBJ_BYTES - OBJ0))
stats_snapshot "$GN_RUN/stats.end"
gn_log "gitnet: objects $OBJ0 -> $OBJ_BYTES B (+$GROWTH B) for $HIST_FLOWS flows;" \
    "whole state directory $REPO_BYTES B;" \
    "$(find "$STATE/objects" -type f -name '*.pack' | wc -l) packs," \
    "$(find "$STATE/objects" -type f ! -path '*/pack/*' ! -path '*/info/*' | wc -l) loose objects"
gn_log "gitnet: $(git --git-dir="$STATE" rev-list --count --all 2>/dev/null || echo ?) commits;" \
    "$(awk '$1 ~ /^(state_(events|events_lost|changes|commits|ticks|errors)|nat_sessions_(created|expired)|history_.*)$/ {
	printf "%s %s, ", $1, $2 }' "$GN_RUN/stats.end")"
lost=$(awk '$1 == "state_events_lost" { print $2 }' "$GN_RUN/stats.end")
[ "${lost:-0}" = 0 ] || gn_log "gitnet: WARNING: the state writer lost $lost events:" \
    "the history is short of them, and the figure low"
gn_router_alive || { gn_log "gitnet: the router died during the run"; status=1; }
gn_router_stop
if git --git-dir="$STATE" fsck --strict >"$GN_RUN/fsck.out" 2>&1; then
	gn_log "gitnet: git fsck --strict: clean"
else
	gn_log "gitnet: git fsck --strict is not clean:"
	sed 's/^/#   /' "$GN_RUN/fsck.out" | head -n 20
	status=1
fi

# --- B: nftables masquerade, conntrack -E as its history ---------------------
CT_FLOWS=0 CT_BYTES=0 CT_GZ=0
gn_kernel_nat || gn_die "nftables masquerade in rtr"
in_rtr sysctl -qw net.netfilter.nf_conntrack_udp_timeout="$HIST_TIMEOUT" \
    net.netfilter.nf_conntrack_udp_timeout_stream="$HIST_TIMEOUT" ||
    gn_die "conntrack UDP timeouts in rtr"
in_cli ping -c 3 -i 0.2 -W 2 "$SRV_IP" >/dev/null 2>&1 ||
    gn_log "kernel: ping cli -> srv fails before the run"
in_rtr conntrack -F >/dev/null 2>&1	# the ping's entry stays out of the log
ip netns exec "$RTR" conntrack -E -o timestamp -b 67108864 >"$GN_RUN/conntrack.log" \
    2>"$GN_RUN/conntrack.err" &
CT_PID=$!
GN_BG_PIDS+=("$CT_PID")
# The kernel's garbage collector reaps expired entries lazily and in bursts
# (here about 40 s after they expire, all at once), and on this kernel a
# burst of some hundreds of DESTROY events overruns the listener (ENOBUFS,
# events lost) even with the 64 MB buffer above. A dump evicts what has
# expired, so listing the table every 0.25 s reaps each flow promptly, a
# few at a time, as a prompt collector would: the log gets every DESTROY,
# stamped within 0.25 s of the flow's end.
gn_bg "$RTR" evict sh -c 'while :; do conntrack -L >/dev/null 2>&1; sleep 0.25; done'
EVICT_PID=$GN_LAST_PID
sleep 0.5	# subscribed before the first flow

flows kernel || { gn_log "kernel: flowgen opened no flow"; status=1; }
CT_FLOWS=$FLOWS
sleep $((HIST_TIMEOUT + 3))
gn_wait 30 sh -c "[ \"\$(ip netns exec '$RTR' conntrack -C)\" = 0 ]" ||
    gn_log "kernel: WARNING: conntrack entries left $((HIST_TIMEOUT + 33)) s after the flows"
gn_kill "$EVICT_PID"
sleep 0.5	# the last events reach the listener
gn_kill "$CT_PID"
gn_log "kernel: $(in_rtr conntrack -C 2>/dev/null) entries left;" \
    "conntrack -E: $(grep -c '\[NEW\]' "$GN_RUN/conntrack.log") NEW," \
    "$(grep -c '\[UPDATE\]' "$GN_RUN/conntrack.log") UPDATE," \
    "$(grep -c '\[DESTROY\]' "$GN_RUN/conntrack.log") DESTROY events;" \
    "$(tr '\n' ' ' <"$GN_RUN/conntrack.err")"
gn_log "kernel: first event: $(head -n 1 "$GN_RUN/conntrack.log")"
ct_new=$(grep -c '\[NEW\]' "$GN_RUN/conntrack.log")
ct_destroy=$(grep -c '\[DESTROY\]' "$GN_RUN/conntrack.log")
if [ "$ct_new" -ne "$CT_FLOWS" ] || [ "$ct_destroy" -ne "$CT_FLOWS" ]; then
	gn_log "kernel: WARNING: $CT_FLOWS flows but $ct_new NEW and $ct_destroy" \
	    "DESTROY events: the log is not the whole record"
fi
CT_BYTES=$(stat -c %s "$GN_RUN/conntrack.log")
CT_GZ=$(gzip -9 -c "$GN_RUN/conntrack.log" | wc -c)
gn_log "kernel: log $CT_BYTES B, gzip -9 $CT_GZ B, for $CT_FLOWS flows"
[ "$CT_BYTES" -gt 0 ] || { gn_log "kernel: the conntrack log is empty"; status=1; }
gn_kernel_nat_off

HIST_PER_FLOW=$(per_flow "$GROWTH" "$HIST_FLOWS")
CT_PER_FLOW=$(per_flow "$CT_BYTES" "$CT_FLOWS")
echo "BENCH history_flows $HIST_FLOWS flows"
echo "BENCH history_bytes_per_flow $HIST_PER_FLOW B"
echo "BENCH history_repo_objects_bytes $OBJ_BYTES B"
echo "BENCH history_repo_bytes $REPO_BYTES B"
echo "BENCH conntrack_log_bytes_per_flow $CT_PER_FLOW B"
echo "BENCH conntrack_log_gzip_bytes_per_flow $(per_flow "$CT_GZ" "$CT_FLOWS") B"
echo "RATIO history_vs_conntrack_log $(ratio "$HIST_PER_FLOW" "$CT_PER_FLOW")"
[ "$HIST_FLOWS" -gt 0 ] && [ "$CT_FLOWS" -gt 0 ] || status=1
exit "$status"

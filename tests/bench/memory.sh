#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
#
# Memory benchmark (issue 16): the router's resident set (VmRSS of its
# process, /proc/PID/status) idle and with 100 k NAT sessions, on this host
# and sized for a 64 MB guest (--memory 64M), in the topology of
# tests/netns/lib.sh (cli -> rtr -> srv).
#
# Each of the two runs (default sizing; --memory 64M):
#   1. idle: the router on an empty repository, 2 s after its control socket
#      appears; a ping cli -> srv goes through;
#   2. 100 k: the router restarted on a repository holding MEM_SESSIONS
#      (100000) live NAT sessions, written by build/tests/bench/mkstate
#      through the store; every session is restored (state_restored_nat), a
#      ping goes through, then the resident set is read;
#   3. load: flowgen opens 300 new UDP flows a second for MEM_LOAD_SECONDS
#      (60; --quick: 15) on top of those sessions, as the router commits
#      them; the resident set is sampled every second and its peak reported.
# The router's "router: memory:" line (what it sized from what) and the
# breakdown of the last sample (anonymous and file pages) are "#" lines.
#
# Prints:
#   BENCH rss_mb_idle <x> MB
#   BENCH rss_mb_100k_sessions <x> MB
#   BENCH rss_mb_100k_sessions_load_peak <x> MB
#   BENCH rss_mb_idle_64m <x> MB
#   BENCH rss_mb_100k_sessions_64m <x> MB
#   BENCH rss_mb_100k_sessions_load_peak_64m <x> MB
# Exits non-zero if the router did not start, restored fewer sessions than
# written, did not forward the ping, or died.

set -u -o pipefail
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/../netns/lib.sh"

MEM_SESSIONS=${MEM_SESSIONS:-100000}
MEM_LOAD_SECONDS=${MEM_LOAD_SECONDS:-60}
MEM_LOAD_RATE=${MEM_LOAD_RATE:-300}
# Extra router flags for both runs, e.g. MEM_FLAGS="--udp-timeout 10".
read -r -a MEM_FLAGS <<<"${MEM_FLAGS:-}"
case ${1:-} in
"")	;;
--quick) MEM_LOAD_SECONDS=15 ;;	# tests/bench/run --quick
*)	echo "usage: memory.sh [--quick]" >&2; exit 2 ;;
esac
MKSTATE=$GN_ROOT/build/tests/bench/mkstate
FLOWGEN=$GN_ROOT/build/tests/bench/flowgen

gn_require router ping socat awk
for b in "$MKSTATE" "$FLOWGEN"; do
	[ -x "$b" ] || make -C "$GN_ROOT" --no-print-directory "${b#"$GN_ROOT"/}" >&2 ||
	    gn_die "cannot build $b"
done

gn_init
cd "$GN_RUN" || exit 1
gn_topology
in_srv nft -f - <<'EOF' || gn_die "nft in srv"
table inet bench {
	chain input {
		type filter hook input priority 0; policy accept;
		udp dport 9 drop
	}
}
EOF

status=0
"$MKSTATE" "$GN_RUN/s100k" "$MEM_SESSIONS" 192.168.1.0 "$RTR_OUT_IP" "$SRV_IP" \
    >/dev/null 2>"$GN_RUN/mkstate.err" || { cat "$GN_RUN/mkstate.err"; gn_die "mkstate"; }
gn_log "$(cat "$GN_RUN/mkstate.err")"

rss_mb() { awk '$1 == "VmRSS:" { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
rss_detail()
{
	awk '$1 ~ /^(VmRSS|VmHWM|RssAnon|RssFile|RssShmem):$/ {
		printf "%s %.1f MB ", $1, $2 / 1024 }' "/proc/$1/status"
}
pings() { in_cli ping -c 3 -i 0.2 -W 2 "$SRV_IP" >/dev/null 2>&1; }

# run SUFFIX [router flags]: the three measurements with those flags.
run()
{
	local sfx=$1 idle full peak r restored i
	shift

	rm -rf "$GN_RUN/state"
	: >"$GN_ROUTER_LOG"
	gn_router_start "$@" || { status=1; return 1; }
	gn_log "run${sfx:- default}: $(grep -m1 'router: memory:' "$GN_ROUTER_LOG")"
	sleep 2
	pings || { gn_log "run$sfx: idle: ping cli -> srv fails"; status=1; }
	idle=$(rss_mb "$GN_ROUTER_PID")
	gn_log "run$sfx: idle: $(rss_detail "$GN_ROUTER_PID")"
	gn_router_stop

	rm -rf "$GN_RUN/state"
	cp -a "$GN_RUN/s100k" "$GN_RUN/state"
	: >"$GN_ROUTER_LOG"
	gn_router_start "$@" || { status=1; return 1; }
	restored=$(stat_get state_restored_nat)
	gn_log "run$sfx: 100k: $(grep -m1 'state: loaded' "$GN_ROUTER_LOG")"
	[ "${restored:-0}" -eq "$MEM_SESSIONS" ] ||
	    { gn_log "run$sfx: restored ${restored:-?} of $MEM_SESSIONS sessions"; status=1; }
	pings || { gn_log "run$sfx: 100k: ping cli -> srv fails"; status=1; }
	sleep 2
	full=$(rss_mb "$GN_ROUTER_PID")
	gn_log "run$sfx: 100k: nat_sessions $(stat_get nat_sessions)," \
	    "nat_max_sessions $(stat_get nat_max_sessions): $(rss_detail "$GN_ROUTER_PID")"

	gn_bg "$CLI" flowgen timeout $((MEM_LOAD_SECONDS + 30)) "$FLOWGEN" -a "$SRV_IP" \
	    -s "$CLI_IP" -p 9 -r "$MEM_LOAD_RATE" -t "$MEM_LOAD_SECONDS" -n 3
	peak=$full
	for i in $(seq 1 $((MEM_LOAD_SECONDS + 5))); do
		sleep 1
		gn_router_alive || break
		r=$(rss_mb "$GN_ROUTER_PID")
		peak=$(awk -v a="$peak" -v b="$r" 'BEGIN { print (b > a ? b : a) }')
		[ $((i % 15)) = 0 ] && gn_log "run$sfx: load: ${i} s: $(rss_detail "$GN_ROUTER_PID")"
	done
	gn_log "run$sfx: load: flowgen: $(tr '\n' ' ' <"$GN_RUN/flowgen.log")"
	gn_log "run$sfx: load: nat_sessions $(stat_get nat_sessions), state_commits" \
	    "$(stat_get state_commits), state_events_lost $(stat_get state_events_lost):" \
	    "$(rss_detail "$GN_ROUTER_PID")"
	pings || { gn_log "run$sfx: after the load: ping cli -> srv fails"; status=1; }
	gn_router_alive || { gn_log "run$sfx: the router died"; status=1; }
	gn_router_stop

	echo "BENCH rss_mb_idle$sfx $idle MB"
	echo "BENCH rss_mb_100k_sessions$sfx $full MB"
	echo "BENCH rss_mb_100k_sessions_load_peak$sfx $peak MB"
}

run "" ${MEM_FLAGS[@]+"${MEM_FLAGS[@]}"}
run _64m --memory 64M ${MEM_FLAGS[@]+"${MEM_FLAGS[@]}"}
exit "$status"

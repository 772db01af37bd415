#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
#
# One router loop: the same traffic through the live router and through
# `gitnet replay-pcap` gives the same tables and the same history.
#
#	cli 192.168.1.2 -- rtr (gitnet-router --state) -- srv 203.0.113.2
#
# The router runs with short NAT timeouts (2 s), a port forward and a
# static route -- settings replay-pcap must take from meta/router, since
# with the defaults (300 s, 60 s) nothing would age out in the replay.
# tcpdump captures both links on the clients' side (timestamps kept) while
# ping and UDP clients talk to the server; their mappings age out (ticks
# on expire_ branches, merged back), new traffic follows (one datagram in
# through the forward), the router stops.
# The captures are then replayed at the repository's first commit.
#
# Checked: meta/router carries the timeouts and the forward; the replay's
# final tables equal primary's, entry for entry (times aside: the capture
# stamps a frame microseconds before the router reads it); the ordered
# list of table changes the data path committed is the same, and so is the
# list of what ticks aged out (commit grouping may differ where the live
# writer's clock did); the replay's ticks are expire_ branches merged back
# as the router's are; git fsck is clean. About 15 s.

set -u -o pipefail
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/../netns/lib.sh"

GN_TOOL=${GN_TOOL:-$GN_ROOT/build/gitnet}
gn_require router git tcpdump python3
[ -x "$GN_TOOL" ] || gn_die "no gitnet tool at $GN_TOOL (make)"
gn_init
cd "$GN_RUN" || exit 1
gn_topology
gn_udptool

STATE=$GN_RUN/state
G=(git --git-dir="$STATE")
T=("$GN_TOOL" --repo "$STATE")

gn_bg "$CLI" tcpdump_in tcpdump -i "$CLI_DEV" --immediate-mode -U -n -w "$GN_RUN/in.pcap"
TCPDUMP_IN=$GN_LAST_PID
gn_bg "$SRV" tcpdump_out tcpdump -i "$SRV_DEV" --immediate-mode -U -n -w "$GN_RUN/out.pcap"
TCPDUMP_OUT=$GN_LAST_PID
gn_wait 5 grep -q listening "$GN_RUN/tcpdump_in.log" || gn_die "tcpdump (inside) did not start"
gn_wait 5 grep -q listening "$GN_RUN/tcpdump_out.log" || gn_die "tcpdump (outside) did not start"

gn_bg "$SRV" serve "$GN_UDPTOOL" serve "$SRV_IP:5300" "$SRV_IP:5301" 30
gn_bg "$CLI" fwserve "$GN_UDPTOOL" serve "$CLI_IP:5353" 30
# The neighbour's answer to the router's ARP probe (DELAY -> PROBE, 5 s
# after traffic to a stale entry) comes microseconds after the probe; the
# capture's clock and the router's differ by about that much, so a replay
# may see the answer before its own probe timer: keep probes out of the run.
printf 'arp.delay_first_probe_ms 20000\n' >"$GN_RUN/router.conf"
gn_router_start --config "$GN_RUN/router.conf" --udp-timeout 2 --icmp-timeout 2 \
    --forward udp:5353=192.168.1.2:5353 --route 10.9.0.0/16=192.168.1.254 ||
    gn_die "router did not start"
in_cli ping -c 2 -i 0.2 -W 1 "$SRV_IP" >/dev/null
in_cli "$GN_UDPTOOL" ask 40001 "$SRV_IP:5300" "$SRV_IP:5301" >"$GN_RUN/ask1.log"
in_cli "$GN_UDPTOOL" ask 40002 "$SRV_IP:5300" >"$GN_RUN/ask2.log"
# Past the 2 s timeouts: the ticks age these mappings out.
sleep 4
in_cli "$GN_UDPTOOL" ask 40003 "$SRV_IP:5301" >"$GN_RUN/ask3.log"
# Through the port forward, from the outside.
in_srv "$GN_UDPTOOL" ask 5400 "$RTR_OUT_IP:5353" >"$GN_RUN/ask_fwd.log"
in_cli ping -c 1 -W 1 "$SRV_IP" >/dev/null
# Long enough for the last group commit, well short of the new timeouts.
sleep 0.5
gn_router_stop
kill -INT "$TCPDUMP_IN" "$TCPDUMP_OUT" 2>/dev/null
gn_wait 5 gn_gone "$TCPDUMP_IN"
gn_wait 5 gn_gone "$TCPDUMP_OUT"

FIRST=$("${G[@]}" rev-list --reverse primary | head -n 1)
meta() { "${G[@]}" show "$FIRST:meta/router"; }
meta_has()
{
	meta | grep -qx 'nat.udp_timeout_s 2' && meta | grep -qx 'nat.icmp_timeout_s 2' &&
	    meta | grep -qx 'arp.delay_first_probe_ms 20000' &&
	    meta | grep -qx 'forward udp:5353=192.168.1.2:5353' &&
	    meta | grep -qx 'route 10.9.0.0/16=192.168.1.254' &&
	    meta | grep -q '^inside.mac ' || { meta; return 1; }
}
check "meta/router records the timeouts, ARP timers, forward, route and MACs" meta_has
check "the port forward answered live" grep -q "seen $SRV_IP:5400" "$GN_RUN/ask_fwd.log"
ticks_live() { "${G[@]}" log --format=%s primary | grep -c '^tick: merge expire_'; }
check "the live router aged mappings out by ticks" expect_ge "$(ticks_live)" 1

replay()
{
	"${T[@]}" replay-pcap "$GN_RUN/in.pcap" --other-capture "$GN_RUN/out.pcap" \
	    --at "$FIRST" --branch "$1" -o "$GN_RUN/$1.pcap" >"$GN_RUN/$1.out" 2>&1
}
check "replay-pcap of both links at the first commit runs" replay rl
sed 's/^/# /' "$GN_RUN/rl.out"
check "a second run gives the same commits and output" \
    eval 'replay rl2 && cmp "$GN_RUN/rl.pcap" "$GN_RUN/rl2.pcap" &&
    expect_eq "$("${G[@]}" rev-parse rl2^{tree})" "$("${G[@]}" rev-parse rl^{tree})" &&
    expect_eq "$("${G[@]}" log --format=%B rl2 | grep -v expire_)" \
    "$("${G[@]}" log --format=%B rl | grep -v expire_)"'

# Every entry of a revision, times dropped: "path: key value; ...".
tables()
{
	local rev=$1 path
	"${G[@]}" ls-tree -r --name-only "$rev" arp/ nat/ | while read -r path; do
		printf '%s: %s\n' "$path" "$("${G[@]}" cat-file -p "$rev:$path" |
		    grep -Ev '^(created|expires|updated|used) ' | tr '\n' ';')"
	done
}
tables primary >"$GN_RUN/tables.live"
tables rl >"$GN_RUN/tables.replay"
same_tables() { diff -u "$GN_RUN/tables.live" "$GN_RUN/tables.replay"; }
check "the final tables are the same, entry for entry" same_tables
check "and not empty (the forward, the last mappings, the neighbours)" \
    expect_ge "$(wc -l <"$GN_RUN/tables.live")" 4
check "the port forward's session from meta/router's forward is there" \
    grep -q '^nat/udp/192.168.1/2/5353: ' "$GN_RUN/tables.replay"

# The table changes in history, oldest first: the data path's (group
# commits on the first-parent line: one subject, or a batch's body lines)
# and, apart, the ticks' (their expire_ commits' body lines).
changes()
{
	local rev=$1 c subj
	"${G[@]}" rev-list --reverse --first-parent "$FIRST..$rev" | while read -r c; do
		subj=$("${G[@]}" log -1 --format=%s "$c")
		case $subj in
		tick:*|store:*) ;;
		*" changes ("*) "${G[@]}" log -1 --format=%b "$c" | grep -E '^(arp|nat): ' ;;
		*) echo "$subj" ;;
		esac
	done
}
aged()
{
	local rev=$1 c
	"${G[@]}" rev-list --reverse --min-parents=2 --first-parent \
	    "$FIRST..$rev" | while read -r c; do
		"${G[@]}" log -1 --format=%b "$c^2" | grep -E '^(arp|nat): '
	done
}
changes primary >"$GN_RUN/changes.live"
changes rl >"$GN_RUN/changes.replay"
aged primary >"$GN_RUN/aged.live"
aged rl >"$GN_RUN/aged.replay"
sed 's/^/# live: /' "$GN_RUN/changes.live"
sed 's/^/# live, aged: /' "$GN_RUN/aged.live"
sed 's/^/# tables: /' "$GN_RUN/tables.live"
same_changes() { diff -u "$GN_RUN/changes.live" "$GN_RUN/changes.replay"; }
check "the data path's changes are the same, in the same order" same_changes
check "and many" expect_ge "$(wc -l <"$GN_RUN/changes.live")" 6
same_aged() { diff -u "$GN_RUN/aged.live" "$GN_RUN/aged.replay"; }
check "the ticks aged out the same entries, in the same order" same_aged
check "some" expect_ge "$(wc -l <"$GN_RUN/aged.live")" 3
replay_ticks()
{
	local log refs
	# (grep -q would close the pipe early: with pipefail, git's SIGPIPE fails)
	log=$("${G[@]}" log --format=%s rl)
	refs=$("${G[@]}" for-each-ref --format='%(refname)' 'refs/heads/rl_expire_*')
	grep -q '^tick: merge rl_expire_' <<<"$log" && [ -n "$refs" ] &&
	    ! grep -qv '^refs/heads/rl_expire_[0-9]*\.[0-9]*$' <<<"$refs"
}
check "the replay's ticks are rl_expire_ branches merged back" replay_ticks
check "git fsck --strict is clean" "${G[@]}" fsck --strict --no-progress

gn_summary

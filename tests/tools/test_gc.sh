#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
#
# gitnet gc against a repository the real router wrote: two bursts of UDP
# flows a few seconds apart, with --udp-timeout 2 and --icmp-timeout 2 so the
# expiry ticks in between leave expire_ branches and merge commits; then gc
# with a window that ends in the quiet gap between the bursts.
#
#	cli 192.168.1.2 -- rtr (gitnet-router --state) -- srv 203.0.113.2
#
# Checked: gc refuses while the router holds the repository; bad durations
# exit 2 with one line; afterwards primary's tree is the same, it reaches
# fewer commits, the repository is shallow and its boundary on primary's
# first-parent line is the newest commit at or before the cutoff (kept
# whole: every entry alive then is present); the newer commits keep their
# ids, trees and messages; tags are untouched (annotated ones keep their
# message); commits before the boundary are gone; git fsck --strict is
# clean; stock git log stops at the boundary; a second gc has nothing to
# cut; the router restarts on the repository and records to it.
#
# GN_TOOL=PATH runs another gitnet build. About 20 s.

set -u -o pipefail
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/../netns/lib.sh"

GN_TOOL=${GN_TOOL:-$GN_ROOT/build/gitnet}
gn_require router git python3
[ -x "$GN_TOOL" ] || gn_die "no gitnet tool at $GN_TOOL (make)"
gn_init
cd "$GN_RUN" || exit 1
gn_topology
gn_udptool

STATE=$GN_RUN/state
G=(git --git-dir="$STATE")
T=("$GN_TOOL" --repo "$STATE")

gn_bg "$SRV" serve "$GN_UDPTOOL" serve "$SRV_IP:5300" 30
gn_router_start --udp-timeout 2 --icmp-timeout 2 || gn_die "router did not start"
for p in 41001 41002 41003; do
	in_cli "$GN_UDPTOOL" ask "$p" "$SRV_IP:5300" >/dev/null
done
in_cli ping -c 1 -W 1 "$SRV_IP" >/dev/null
sleep 4				# ticks age the first burst out
MARK=$(date +%s)		# the cutoff: in the quiet gap
sleep 2
for p in 42001 42002; do
	in_cli "$GN_UDPTOOL" ask "$p" "$SRV_IP:5300" >/dev/null
done
sleep 4				# and the second

refused()
{
	local err rc
	err=$("${T[@]}" gc --keep 1s 2>&1 >/dev/null)
	rc=$?
	echo "$err"
	[ "$rc" = 1 ] && [ "$(printf '%s\n' "$err" | wc -l)" = 1 ] &&
	    printf '%s\n' "$err" | grep -q "locked by another live process"
}
check "gc refuses while the router holds the repository" refused
gn_router_stop

bad_keep()
{
	local err rc
	err=$("${T[@]}" gc --keep 5parsecs 2>&1 >/dev/null)
	rc=$?
	[ "$rc" = 2 ] && expect_eq "$err" \
	    "gitnet: gc: --keep: malformed duration '5parsecs' (30s, 10min, 2h, 7d)"
}
check "gc --keep with a malformed duration exits 2 with one line" bad_keep
no_repo()
{
	local err rc
	err=$("$GN_TOOL" --repo "$GN_RUN/nothing" gc 2>&1 >/dev/null)
	rc=$?
	echo "$err"
	[ "$rc" = 2 ] && [ "$(printf '%s\n' "$err" | wc -l)" = 1 ]
}
check "gc on a missing repository exits 2 with one line" no_repo

# Before: the first-parent line with trees and times, tags, counts.
"${G[@]}" log --first-parent --format='%H %T %ct' primary >"$GN_RUN/before.log"
TREE=$("${G[@]}" rev-parse 'primary^{tree}')
COUNT=$("${G[@]}" rev-list --count primary)
EXPIRES=$("${G[@]}" for-each-ref --format='%(refname:short)' 'refs/heads/expire_*' | wc -l)
C0=$(awk -v m="$MARK" '$3 <= m { print $1; exit }' "$GN_RUN/before.log")
"${G[@]}" tag light primary
"${G[@]}" -c user.name=t -c user.email=t@t tag -a -m "annotated before gc" annot primary~1
ANNOT_TREE=$("${G[@]}" rev-parse 'annot^{tree}')
gn_log "commits $COUNT, expire_ branches $EXPIRES, cutoff commit $C0"
"${G[@]}" log --first-parent --format='%T %s' "$C0..primary" >"$GN_RUN/newer.before"

KEEP=$(( $(date +%s) - MARK ))
run_gc() { "${T[@]}" gc --keep "${KEEP}s" >"$GN_RUN/gc.out" 2>&1; }
check "gc --keep ${KEEP}s runs" run_gc
sed 's/^/# /' "$GN_RUN/gc.out"

check "primary's tree is unchanged" expect_eq "$("${G[@]}" rev-parse 'primary^{tree}')" "$TREE"
fewer() { expect_ge $((COUNT - 1)) "$("${G[@]}" rev-list --count primary)"; }
check "primary reaches fewer commits" fewer
boundary()
{
	local b
	[ -s "$STATE/shallow" ] || return 1
	cat "$STATE/shallow"
	# The newest commit at or before the cutoff, give or take the second
	# between taking MARK and gc reading the clock.
	for b in $(cat "$STATE/shallow"); do
		if [ "$b" = "$C0" ] || [ "$b" = "$(awk -v m="$MARK" '$3 <= m + 1 { print $1; exit }' \
		    "$GN_RUN/before.log")" ]; then
			expect_eq "$("${G[@]}" rev-parse "$b^{tree}")" \
			    "$(awk -v c="$b" '$1 == c { print $2 }' "$GN_RUN/before.log")"
			return
		fi
	done
	return 1
}
check "the boundary is the commit at the cutoff, whole" boundary
newer()
{
	"${G[@]}" log --first-parent --format='%T %s' "$C0..primary" >"$GN_RUN/newer.after" &&
	    diff -u "$GN_RUN/newer.before" "$GN_RUN/newer.after"
}
check "newer commits keep their ids, trees and messages" newer
tags()
{
	expect_eq "$("${G[@]}" rev-parse light)" "$("${G[@]}" rev-parse primary)" &&
	    expect_eq "$("${G[@]}" rev-parse 'annot^{tree}')" "$ANNOT_TREE" &&
	    expect_eq "$("${G[@]}" cat-file -t annot)" tag &&
	    expect_eq "$("${G[@]}" tag -l --format='%(contents:subject)' annot)" \
	    "annotated before gc"
}
check "tags are untouched" tags
check "git fsck --strict is clean" "${G[@]}" fsck --strict --no-progress --no-dangling
gone()
{
	local old
	old=$(awk -v m="$MARK" '$3 < m - 3 { print $2 }' "$GN_RUN/before.log" | tail -1)
	[ -n "$old" ] && ! "${G[@]}" cat-file -e "$old^{tree}" 2>/dev/null
}
check "the history before the boundary is gone" gone
stops() { "${G[@]}" log --format=%H primary | tail -1 | grep -qx -f "$STATE/shallow"; }
check "stock git log stops at the boundary" stops
check "gitnet log reads the cut history" sh -c "'$GN_TOOL' --repo '$STATE' log | grep -q ."
again()
{
	"${T[@]}" gc --keep "$(( $(date +%s) - MARK ))s" >"$GN_RUN/gc2.out" 2>&1 &&
	    grep -q '^nothing to cut' "$GN_RUN/gc2.out" &&
	    expect_eq "$("${G[@]}" rev-parse 'primary^{tree}')" "$TREE"
}
check "a second gc has nothing to cut" again
restart()
{
	gn_router_start --udp-timeout 2 --icmp-timeout 2 || return 1
	in_cli "$GN_UDPTOOL" ask 43001 "$SRV_IP:5300"
	sleep 0.5
	gn_router_stop
	grep 'state: loaded' "$GN_ROUTER_LOG" | tail -n 1
	"${G[@]}" ls-tree -r --name-only primary nat/ | grep -q '/43001$' &&
	    "${G[@]}" fsck --strict --no-progress
}
check "the router restarts on the collected repository and records to it" restart

gn_summary

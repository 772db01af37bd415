#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
#
# gitnet who, the audit query, against a hand-built history (tests/tools/
# fixture.sh) where one external endpoint, 203.0.113.1:61001, is held in
# turn by three inside endpoints:
#
#   +10  udp 192.168.1.2:5000 -> 203.0.113.1:61001        (A1)
#   +20  tcp 192.168.1.3:6000 -> 203.0.113.1:61001        (A2, never removed)
#   +25  udp 192.168.1.2:5000 refreshed (expires +55)      (U1)
#   expire_1795341660.000000 from U1: +60 tick removes it  (E1)
#   +61  udp 192.168.1.7:5001 -> 203.0.113.2:40000         (A3, primary)
#   +62  tick: merge expire_1795341660.000000              (M1)
#   +70  udp 192.168.1.4:7000 -> 203.0.113.1:61001         (A4: reused)
#   +80  udp 192.168.1.2:5002 -> 203.0.113.1:61002         (A5)
#   +110 nat: remove udp 192.168.1.4:7000 (on primary)     (R4)
#   +120 arp: add 10.0.0.2                                 (H, the head)
#
# Asserted: the holder at a time with its start, end, expires and the add,
# remove (the tick commit, not its merge) and merge commits; the reused
# endpoint told apart by time; --proto; both protocols without it; "no
# session" with exit 1 in a gap; --inside with and without a window;
# --json (python3 -m json.tool, values with jq); the same answers through
# a commit-graph written by stock git; history cut by a `shallow` file
# (the add commit then unknown, older times refused); bad input exiting 2
# with one line. No root needed. GITNET=PATH tests another build.
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
G=${GITNET:-$ROOT/build/gitnet}
# shellcheck source=tests/tools/fixture.sh
. "$ROOT/tests/tools/fixture.sh"

PASS=0 FAIL=0 N=0
W=$(mktemp -d /tmp/gitnet-who.XXXXXX)
trap 'rm -rf "$W"' EXIT

ok() {		# ok NAME COMMAND...: the command succeeds
	local name=$1
	shift
	N=$((N + 1))
	if "$@" >"$W/out.$N" 2>&1; then
		echo "ok $N - $name"; PASS=$((PASS + 1))
	else
		echo "not ok $N - $name"; sed 's/^/#   /' "$W/out.$N" | head -40
		FAIL=$((FAIL + 1))
	fi
}

# bad RC PATTERN COMMAND...: exits RC, stdout empty, stderr one line
# matching PATTERN
bad() {
	local want=$1 pat=$2 rc
	shift 2
	"$@" >"$W/bad.out" 2>"$W/bad.err"; rc=$?
	echo "exit $rc, stderr: $(cat "$W/bad.err")"
	[ "$rc" = "$want" ] && [ ! -s "$W/bad.out" ] &&
	    [ "$(wc -l <"$W/bad.err")" = 1 ] && grep -q -- "$pat" "$W/bad.err"
}

[ -x "$G" ] || { echo "not ok 1 - $G not built"; echo "0 passed, 1 failed"; exit 1; }
command -v jq >/dev/null || { echo "not ok 1 - jq missing"; echo "0 passed, 1 failed"; exit 1; }

H=$W/h.git
nat() {		# nat PROTO IP3 D PORT EXT CREATED EXPIRES REMOTE
	fx_set "nat/$1/$2/$3/$4" "created $6.000000\nexpires $7.000000\nexternal $5\nremote $8 established\n"
}
T=$FX_T0
{
	fx_init "$H"
	nat udp 192.168.1 2 5000 203.0.113.1:61001 $((T + 10)) $((T + 40)) 8.8.8.8:53
	fx_commit $((T + 10)) "nat: map udp 192.168.1.2:5000 -> 203.0.113.1:61001" \
	    "Cause: new flow from inside"
	A1=$FX_LAST
	nat tcp 192.168.1 3 6000 203.0.113.1:61001 $((T + 20)) $((T + 7460)) 1.1.1.1:443
	fx_commit $((T + 20)) "nat: map tcp 192.168.1.3:6000 -> 203.0.113.1:61001" \
	    "Cause: new flow from inside"
	A2=$FX_LAST
	nat udp 192.168.1 2 5000 203.0.113.1:61001 $((T + 10)) $((T + 55)) 8.8.8.8:53
	fx_commit $((T + 25)) "nat: update udp 192.168.1.2:5000 -> 203.0.113.1:61001" \
	    "Cause: activity"
	U1=$FX_LAST
	fx_fork expire_1795341660.000000 "$U1"
	fx_rm nat/udp/192.168.1/2/5000
	fx_commit $((T + 60)) "tick: age out 0 arp, 1 nat entry"
	E1=$FX_LAST
	fx_branch primary
	nat udp 192.168.1 7 5001 203.0.113.2:40000 $((T + 61)) $((T + 91)) 9.9.9.9:53
	fx_commit $((T + 61)) "nat: map udp 192.168.1.7:5001 -> 203.0.113.2:40000"
	A3=$FX_LAST
	fx_rm nat/udp/192.168.1/2/5000
	fx_merge $((T + 62)) "tick: merge expire_1795341660.000000" "$E1"
	M1=$FX_LAST
	nat udp 192.168.1 4 7000 203.0.113.1:61001 $((T + 70)) $((T + 100)) 8.8.4.4:53
	fx_commit $((T + 70)) "nat: map udp 192.168.1.4:7000 -> 203.0.113.1:61001"
	A4=$FX_LAST
	nat udp 192.168.1 2 5002 203.0.113.1:61002 $((T + 80)) $((T + 9999)) 8.8.8.8:53
	fx_commit $((T + 80)) "nat: map udp 192.168.1.2:5002 -> 203.0.113.1:61002"
	A5=$FX_LAST
	fx_rm nat/udp/192.168.1/4/7000
	fx_commit $((T + 110)) "nat: remove udp 192.168.1.4:7000 -> 203.0.113.1:61001" \
	    "Cause: idle timeout"
	R4=$FX_LAST
	fx_set arp/10.0.0/2 "expires $((T + 150)).000000\nlearned-on inside\nlladdr $MAC1\nstate REACHABLE\nupdated $((T + 120)).000000\n"
	fx_commit $((T + 120)) "arp: add 10.0.0.2 -> $MAC1"
} >/dev/null
gn() { "$G" --repo "$H" "$@"; }
: "$A2" "$A3"

# --- who IP:PORT --at TIME ----------------------------------------------
cat >"$W/want1" <<EOF
session  udp 203.0.113.1:61001
inside   192.168.1.2:5000
key      nat/udp/192.168.1/2/5000
start    2026-11-22T10:00:10.000000Z
end      2026-11-22T10:01:00Z
expires  2026-11-22T10:00:55.000000Z
added    $A1 2026-11-22T10:00:10Z nat: map udp 192.168.1.2:5000 -> 203.0.113.1:61001
removed  $E1 2026-11-22T10:01:00Z tick: age out 0 arp, 1 nat entry
merged   $M1 2026-11-22T10:01:02Z tick: merge expire_1795341660.000000
EOF
t_at() { gn who 203.0.113.1:61001 --proto udp --at 2026-11-22T10:00:30Z >"$W/got" &&
	diff -u "$W/want1" "$W/got"; }
ok "holder at a time: inside endpoint, start, end, expires, add/tick/merge commits" t_at

t_forms() {
	gn who 203.0.113.1:61001 --proto=udp --at @$((T + 30)) >"$W/got" &&
	diff -u "$W/want1" "$W/got" &&
	gn who --at @$((T + 10)).5 --proto udp 203.0.113.1:61001 >"$W/got" &&
	diff -u "$W/want1" "$W/got"
}
ok "--at @unix, --proto=, operands in any order; the add commit's own second" t_forms

cat >"$W/want2" <<EOF
session  udp 203.0.113.1:61001
inside   192.168.1.4:7000
key      nat/udp/192.168.1/4/7000
start    2026-11-22T10:01:10.000000Z
end      2026-11-22T10:01:50Z
expires  2026-11-22T10:01:40.000000Z
added    $A4 2026-11-22T10:01:10Z nat: map udp 192.168.1.4:7000 -> 203.0.113.1:61001
removed  $R4 2026-11-22T10:01:50Z nat: remove udp 192.168.1.4:7000 -> 203.0.113.1:61001
EOF
t_reused() { gn who 203.0.113.1:61001 --proto udp --at @$((T + 90)) >"$W/got" &&
	diff -u "$W/want2" "$W/got"; }
ok "the same endpoint later: another inside host, removed on primary itself" t_reused

t_both() {
	gn who 203.0.113.1:61001 --at @$((T + 30)) >"$W/got" &&
	[ "$(grep -c '^session' "$W/got")" = 2 ] &&
	[ "$(sed -n 1p "$W/got")" = "session  tcp 203.0.113.1:61001" ] &&
	grep -qx 'inside   192.168.1.3:6000' "$W/got" &&
	grep -qx 'end      active' "$W/got" && grep -qx 'removed  -' "$W/got" &&
	grep -qx 'inside   192.168.1.2:5000' "$W/got"
}
ok "without --proto: tcp (still active) and udp on the same port" t_both

t_gap() {
	bad 1 "no session held udp 203.0.113.1:61001 at 2026-11-22T10:01:05.000000Z (commit $M1)" \
	    gn who 203.0.113.1:61001 --proto udp --at @$((T + 65))
}
ok "a time with no holder: 'no session', exit 1" t_gap
t_gap_json() {
	gn who 203.0.113.1:61001 --proto udp --at @$((T + 65)) --json >"$W/got" 2>/dev/null
	[ $? = 1 ] && [ "$(jq -c . "$W/got")" = '[]' ]
}
ok "no holder with --json: [] and exit 1" t_gap_json
ok "before the history: exit 1" bad 1 "no commit on primary at or before" \
    gn who 203.0.113.1:61001 --at @$((T - 100))

t_json() {
	gn who 203.0.113.1:61001 --proto udp --at @$((T + 30)) --json >"$W/got" &&
	python3 -m json.tool "$W/got" >/dev/null &&
	[ "$(jq length "$W/got")" = 1 ] &&
	[ "$(jq -r '.[0].inside' "$W/got")" = 192.168.1.2:5000 ] &&
	[ "$(jq -r '.[0].external' "$W/got")" = 203.0.113.1:61001 ] &&
	[ "$(jq -r '.[0].proto' "$W/got")" = udp ] &&
	[ "$(jq '.[0].start' "$W/got")" = $((T + 10)) ] &&
	[ "$(jq '.[0].end' "$W/got")" = $((T + 60)) ] &&
	[ "$(jq '.[0].expires' "$W/got")" = $((T + 55)) ] &&
	[ "$(jq '.[0].active' "$W/got")" = false ] &&
	[ "$(jq -r '.[0].added.id' "$W/got")" = "$A1" ] &&
	[ "$(jq -r '.[0].added.causes[0]' "$W/got")" = "new flow from inside" ] &&
	[ "$(jq -r '.[0].removed.id' "$W/got")" = "$E1" ] &&
	[ "$(jq -r '.[0].merged.id' "$W/got")" = "$M1" ] &&
	gn who 203.0.113.1:61001 --proto tcp --at @$((T + 500)) --json >"$W/got" &&
	python3 -m json.tool "$W/got" >/dev/null &&
	[ "$(jq -c '.[0] | [.inside, .end, .active, .removed, .merged]' "$W/got")" = \
	    '["192.168.1.3:6000",null,true,null,null]' ]
}
ok "--json: valid, the same session and commits; an active one" t_json

# --- who --inside IP -----------------------------------------------------
t_inside() {
	gn who --inside 192.168.1.2 >"$W/got" &&
	[ "$(grep '^session\|^inside\|^end\|^removed' "$W/got" | cut -c1-49)" = "$(cat <<EOF
session  udp 203.0.113.1:61001
inside   192.168.1.2:5000
end      2026-11-22T10:01:00Z
removed  $E1
session  udp 203.0.113.1:61002
inside   192.168.1.2:5002
end      active
removed  -
EOF
)" ]
}
ok "--inside: every session of the host, oldest first" t_inside

t_inside_window() {
	gn who --inside 192.168.1.2 --from @$((T + 65)) --json >"$W/got" &&
	python3 -m json.tool "$W/got" >/dev/null &&
	[ "$(jq -c '[.[].inside]' "$W/got")" = '["192.168.1.2:5002"]' ] &&
	[ "$(jq -r '.[0].added.id' "$W/got")" = "$A5" ] &&
	gn who --inside 192.168.1.2 --to @$((T + 50)) --json >"$W/got" &&
	[ "$(jq -c '[.[] | [.inside, .end, .removed.id, .merged.id]]' "$W/got")" = \
	    "[[\"192.168.1.2:5000\",$((T + 60)),\"$E1\",\"$M1\"]]" ] &&
	gn who --inside 192.168.1.2 --from @$((T + 30)) --to @$((T + 40)) --json >"$W/got" &&
	[ "$(jq -c '[.[] | [.inside, .added.id]]' "$W/got")" = "[[\"192.168.1.2:5000\",\"$A1\"]]" ] &&
	gn who --inside 192.168.1.9 --json >"$W/got" && [ "$(jq -c . "$W/got")" = '[]' ] &&
	gn who --inside 192.168.1.3 --proto udp >"$W/got" && [ ! -s "$W/got" ] &&
	gn who --inside 192.168.1.3 --proto tcp >"$W/got" && grep -qx 'end      active' "$W/got"
}
ok "--inside --from/--to: sessions live in the window, ends found outside it" t_inside_window

# --- a commit-graph, and history cut short --------------------------------
t_graph() {
	gn who 203.0.113.1:61001 --at @$((T + 30)) >"$W/nograph" &&
	gn who --inside 192.168.1.2 --json >"$W/nograph.j" &&
	git --git-dir="$H" commit-graph write --reachable 2>/dev/null &&
	[ -f "$H/objects/info/commit-graph" ] &&
	gn who 203.0.113.1:61001 --at @$((T + 30)) >"$W/graph" &&
	diff -u "$W/nograph" "$W/graph" &&
	gn who --inside 192.168.1.2 --json >"$W/graph.j" && diff -u "$W/nograph.j" "$W/graph.j" &&
	rm "$H/objects/info/commit-graph"
}
ok "the same answers through a commit-graph stock git wrote" t_graph

t_shallow() {
	cp -r "$H" "$W/cut.git" && echo "$A4" >"$W/cut.git/shallow" &&
	"$G" --repo "$W/cut.git" who 203.0.113.1:61001 --proto udp --at @$((T + 90)) >"$W/got" &&
	grep -qx 'inside   192.168.1.4:7000' "$W/got" && grep -qx 'added    -' "$W/got" &&
	grep -q "^removed  $R4 " "$W/got" &&
	{ "$G" --repo "$W/cut.git" who 203.0.113.1:61001 --at @$((T + 30)) 2>"$W/err"
	  [ $? = 1 ]; } && grep -q "no commit on primary at or before" "$W/err"
}
ok "history cut at a shallow boundary: the line ends there, no add commit" t_shallow

# --- bad input -------------------------------------------------------------
ok "--help" eval "gn who --help | grep -q '^SYNOPSIS' && \"$G\" help who | grep -q 'gitnet who'"
ok "listed in gitnet --help" eval "\"$G\" --help | grep -q '^  who '"
ok "missing --at" bad 2 "missing --at TIME" gn who 203.0.113.1:61001
ok "missing endpoint" bad 2 "missing IP:PORT" gn who --at -5min
ok "endpoint without a port" bad 2 "'203.0.113.1' is not an IPv4 endpoint" \
    gn who 203.0.113.1 --at -5min
ok "port out of range" bad 2 "is not an IPv4 endpoint" gn who 203.0.113.1:70000 --at -5min
ok "unknown protocol" bad 2 "unknown protocol 'sctp'" gn who 203.0.113.1:1 --proto sctp --at -1h
ok "malformed time" bad 2 "malformed time 'yesterday'" gn who 203.0.113.1:1 --at yesterday
ok "--at without a value" bad 2 "'--at' needs a value" gn who 203.0.113.1:1 --at
ok "--inside not an address" bad 2 "'192.168.1' is not an IPv4 address" gn who --inside 192.168.1
ok "--inside with --at" bad 2 "--inside takes no IP:PORT and no --at" \
    gn who --inside 192.168.1.2 --at -5min
ok "--from without --inside" bad 2 "--from and --to go with --inside" \
    gn who 203.0.113.1:1 --at -1h --from -2h
ok "--from after --to" bad 2 "--from is after --to" gn who --inside 10.0.0.1 --from -1h --to -2h
ok "unknown option" bad 2 "who: unknown option '--frob'" gn who --frob
ok "missing repository" bad 2 "no repository at" "$G" --repo "$W/none.git" who 1.2.3.4:5 --at -1h

echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]

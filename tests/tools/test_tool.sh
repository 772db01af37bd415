#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
#
# The gitnet tool against hand-built state repositories (tests/tools/
# fixture.sh: stock git plumbing, fixed times and messages), so every line
# of output is known exactly: show / at / export (ip neigh, conntrack -L,
# JSON checked with jq and python3 -m json.tool), log and blame of one key
# (the MAC change of 192.168.1.1, with its Cause), diff, branch, merge into
# primary (conflict reported and recorded) and --into a branch (the same
# store merge, also while the store is locked), hostile peer branches
# (another schema, a stray name, a symlink, a gitlink, an executable, an
# entry that does not decode, '..') refused with the path named and no ref
# moved, replay with a clash, the merge
# driver under stock `git merge` giving the same tables as `gitnet merge`,
# fsck findings one per line, --help everywhere, and bad input (unknown
# revision, malformed time, missing repository, a non-gitnet repository,
# unknown command or option, a bad key, a locked store) each exiting
# non-zero with one line naming what is wrong.
#
# No root needed; runtime about a second. GITNET=PATH tests another build.
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
G=${GITNET:-$ROOT/build/gitnet}
# shellcheck source=tests/tools/fixture.sh
. "$ROOT/tests/tools/fixture.sh"

PASS=0 FAIL=0 N=0
W=$(mktemp -d /tmp/gitnet-tool.XXXXXX)
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

same() {	# same EXPECTED_FILE ACTUAL_FILE
	diff -u "$1" "$2"
}

# out NAME RC FILE COMMAND...: run, want exit RC, stdout into FILE
run_rc() {
	local want=$1 file=$2 rc
	shift 2
	"$@" >"$file" 2>"$file.err"; rc=$?
	[ "$rc" = "$want" ] || { echo "exit $rc, want $want"; cat "$file.err"; return 1; }
}

# bad NAME RC PATTERN COMMAND...: exits RC, stdout empty, stderr one line
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
fx_history "$H" >/dev/null
short() { git --git-dir="$H" rev-parse --short=12 "$1"; }
gn() { "$G" --repo "$H" "$@"; }

# --- show -------------------------------------------------------------
cat >"$W/want" <<EOF
10.0.0.2 dev inside lladdr 02:50:2a:16:6d:01 REACHABLE
192.168.1.1 dev inside lladdr 02:50:2a:16:6d:02 REACHABLE
EOF
t_show() { gn show >"$W/got" && same "$W/want" "$W/got"; }
ok "show: primary in the shape of ip neigh" t_show

t_show_nat() {
	cat >"$W/want" <<EOF
udp      17 9 src=192.168.1.2 dst=8.8.8.8 sport=5000 dport=53 src=8.8.8.8 dst=203.0.113.1 sport=53 dport=61001 [ASSURED] mark=0 use=1
udp      17 9 src=192.168.1.2 dst=9.9.9.9 sport=5000 dport=53 [UNREPLIED] src=9.9.9.9 dst=203.0.113.1 sport=53 dport=61001 mark=0 use=1
EOF
	gn show primary~1 nat >"$W/got" && same "$W/want" "$W/got"
}
ok "show REV nat: conntrack -L lines, one per remote, timeout from the commit" t_show_nat

t_show_all_rev() {
	gn show "$FX_C3" >"$W/got" &&
	[ "$(sed -n 1p "$W/got")" = "192.168.1.1 dev inside lladdr $MAC1 REACHABLE" ] &&
	[ "$(wc -l <"$W/got")" = 3 ] && grep -q '^udp      17 30 src=192.168.1.2 dst=8.8.8.8 ' "$W/got"
}
ok "show by commit id: ARP then NAT" t_show_all_rev

t_show_json() {
	gn show arp --json >"$W/got" && python3 -m json.tool "$W/got" >/dev/null &&
	[ "$(jq -c '.[0]' "$W/got")" = '{"dst":"10.0.0.2","dev":"inside","lladdr":"02:50:2a:16:6d:01","state":["REACHABLE"],"updated":1795341641,"expires":1795341671,"key":"arp/10.0.0/2"}' ] &&
	[ "$(jq -r '.[1].state[0]' "$W/got")" = REACHABLE ] && [ "$(jq length "$W/got")" = 2 ]
}
ok "show arp --json: ip -j neigh objects, state an array" t_show_json

t_show_json_nat() {
	gn show primary~1 --json >"$W/got" && python3 -m json.tool "$W/got" >/dev/null &&
	[ "$(jq -c '.nat[0]' "$W/got")" = '{"proto":"udp","timeout":9,"inside":{"ip":"192.168.1.2","port":5000},"external":{"ip":"203.0.113.1","port":61001},"remotes":[{"ip":"8.8.8.8","port":53,"state":"established"},{"ip":"9.9.9.9","port":53,"state":"new"}],"created":1795341620,"expires":1795341650,"key":"nat/udp/192.168.1/2/5000"}' ] &&
	[ "$(jq '.arp | length' "$W/got")" = 2 ]
}
ok "show --json: both tables, NAT mapping with its remotes" t_show_json_nat

t_show_empty() {
	gn show primary~5 --json >"$W/got" && [ "$(jq -c . "$W/got")" = '{"arp":[],"nat":[]}' ] &&
	gn show primary~5 >"$W/got" && [ ! -s "$W/got" ]
}
ok "show of the empty tables: nothing, {\"arp\":[],\"nat\":[]}" t_show_empty

# --- at ---------------------------------------------------------------
t_at_iso() {
	cat >"$W/want" <<EOF
192.168.1.1 dev inside lladdr 02:50:2a:16:6d:01 REACHABLE
udp      17 25 src=192.168.1.2 dst=8.8.8.8 sport=5000 dport=53 src=8.8.8.8 dst=203.0.113.1 sport=53 dport=61001 [ASSURED] mark=0 use=1
udp      17 25 src=192.168.1.2 dst=9.9.9.9 sport=5000 dport=53 [UNREPLIED] src=9.9.9.9 dst=203.0.113.1 sport=53 dport=61001 mark=0 use=1
EOF
	gn at 2026-11-22T10:00:25Z >"$W/got" 2>"$W/err" && same "$W/want" "$W/got" &&
	[ "$(cat "$W/err")" = "gitnet: at: commit $FX_C3" ]
}
ok "at ISO time: the commit before it, NAT timeouts from that time" t_at_iso

t_at_forms() {
	gn at @1795341629.9 arp >"$W/a" 2>/dev/null &&
	gn show "$FX_C3" arp >"$W/b" && same "$W/b" "$W/a" &&
	gn at @1795341630 arp >"$W/a" 2>/dev/null &&
	grep -q "lladdr $MAC2" "$W/a" &&
	gn at -5min >"$W/a" 2>/dev/null && gn show >"$W/b" && same "$W/b" "$W/a" &&
	gn at -30s --json nat >"$W/a" 2>/dev/null && [ "$(jq -c . "$W/a")" = '[]' ]
}
ok "at @unix and -5min/-30s; second granularity as store_at_time" t_at_forms

t_at_first_parent() {
	# +40 is the expire branch's own commit: not on primary's first-parent
	# line, so at +40.5 gives the commit at +30 (NAT still there).
	gn at @1795341640.5 nat 2>"$W/err" >"$W/a" &&
	[ "$(cat "$W/err")" = "gitnet: at: commit $FX_C4" ] && [ "$(wc -l <"$W/a")" = 2 ]
}
ok "at follows primary's first-parent line" t_at_first_parent

# --- export -----------------------------------------------------------
t_export() {
	gn export --json >"$W/got" && python3 -m json.tool "$W/got" >/dev/null &&
	[ "$(jq -r .commit "$W/got")" = "$(git --git-dir="$H" rev-parse primary)" ] &&
	[ "$(jq -r .time "$W/got")" = 2026-11-22T10:00:42Z ] &&
	[ "$(jq -r .schema "$W/got")" = "gitnet-store 1" ] &&
	[ "$(jq -c '[.arp[].dst]' "$W/got")" = '["10.0.0.2","192.168.1.1"]' ] &&
	[ "$(jq '.nat | length' "$W/got")" = 0 ] &&
	gn export --json "$FX_C3" | jq -e '.nat[0].external.port == 61001' >/dev/null
}
ok "export --json: one document, commit and both tables" t_export

# --- log --------------------------------------------------------------
t_log() {
	cat >"$W/want" <<EOF
$(short primary) 2026-11-22T10:00:42Z tick: merge expire_1795341640.000000
$(short "$FX_C5") 2026-11-22T10:00:41Z arp: add 10.0.0.2 -> $MAC1
    Cause: arp reply from $MAC1 on inside
$(short "$FX_E1") 2026-11-22T10:00:40Z tick: age out 0 arp, 1 nat entry
$(short "$FX_C4") 2026-11-22T10:00:30Z arp: lladdr 192.168.1.1 $MAC1 -> $MAC2
    Cause: arp reply from $MAC2 on inside
$(short "$FX_C3") 2026-11-22T10:00:20Z nat: map udp 192.168.1.2:5000 -> 203.0.113.1:61001
    Cause: new flow from inside
$(short "$FX_C2") 2026-11-22T10:00:10Z arp: add 192.168.1.1 -> $MAC1
    Cause: arp reply from $MAC1 on inside
$(short primary~5) 2026-11-22T10:00:00Z store: create empty tables
EOF
	gn log >"$W/got" && same "$W/want" "$W/got"
}
ok "log: every commit, newest first, with Cause trailers" t_log

t_log_nat() {
	gn log --nat >"$W/got" &&
	[ "$(cut -c1-12 "$W/got" | grep -v '^ ' | tr '\n' ' ')" = "$(short "$FX_E1") $(short "$FX_C3") " ]
}
ok "log --nat: the tick that aged the mapping out, not its merge" t_log_nat

t_log_key() {
	gn log -- 192.168.1.1 >"$W/a" && gn log -- arp/192.168.1/1 >"$W/b" && same "$W/a" "$W/b" &&
	[ "$(grep -c '^[0-9a-f]' "$W/a")" = 2 ] && head -1 "$W/a" | grep -q "^$(short "$FX_C4") " &&
	gn log peer --arp >"$W/a" && head -1 "$W/a" | grep -q "^$(short "$FX_PEER") "
}
ok "log -- KEY (address or path) and log REV --arp" t_log_key

t_log_json() {
	gn log --json -- nat/udp/192.168.1/2/5000 >"$W/got" && python3 -m json.tool "$W/got" >/dev/null &&
	[ "$(jq -c '[.[] | .subject]' "$W/got")" = '["tick: age out 0 arp, 1 nat entry","nat: map udp 192.168.1.2:5000 -> 203.0.113.1:61001"]' ] &&
	[ "$(jq -c '.[1].causes' "$W/got")" = '["new flow from inside"]' ] &&
	[ "$(jq -r '.[1].id' "$W/got")" = "$FX_C3" ] &&
	gn log --json | jq -e '.[0].parents | length == 2' >/dev/null
}
ok "log --json: ids, subjects, causes, parents" t_log_json

# --- blame ------------------------------------------------------------
t_blame() {
	cat >"$W/want" <<EOF
$(short "$FX_C2") 2026-11-22T10:00:10Z arp: add 192.168.1.1 -> $MAC1
    Cause: arp reply from $MAC1 on inside
    + expires 1795341640.500000 learned-on inside lladdr $MAC1 state REACHABLE updated 1795341610.000000
$(short "$FX_C4") 2026-11-22T10:00:30Z arp: lladdr 192.168.1.1 $MAC1 -> $MAC2
    Cause: arp reply from $MAC2 on inside
    ~ expires 1795341640.500000 -> 1795341660.000000
    ~ lladdr $MAC1 -> $MAC2
    ~ updated 1795341610.000000 -> 1795341630.000000
EOF
	gn blame 192.168.1.1 >"$W/got" && same "$W/want" "$W/got"
}
ok "blame 192.168.1.1: when the MAC changed, and on what evidence" t_blame

t_blame_json() {
	gn blame nat/udp/192.168.1/2/5000 --json >"$W/got" && python3 -m json.tool "$W/got" >/dev/null &&
	[ "$(jq -c '[.[].op]' "$W/got")" = '["add","remove"]' ] &&
	[ "$(jq -c '.[0].changes[3]' "$W/got")" = '{"field":"remote 8.8.8.8:53","old":null,"new":"established"}' ] &&
	gn blame nat/udp/192.168.1/2/5000 | tail -1 | grep -qx '    - removed'
}
ok "blame --json of a NAT mapping: added, then aged out" t_blame_json

t_blame_batch() {
	local b=$W/batch.git
	fx_history "$b" >/dev/null
	fx_arp arp/10.0.0/2 $MAC2 STALE 1795341660.000000 1795341720.000000
	fx_arp arp/10.0.0/20 $MAC2 REACHABLE 1795341660.000000 1795341690.000000
	fx_commit $((FX_T0 + 60)) "arp: 2 changes (1 add, 1 update, 0 remove)" "$(printf 'arp: add 10.0.0.20 -> %s\narp: update 10.0.0.2 -> %s STALE\n\nCause: arp reply (1)\nCause: traffic to a stale neighbour (1)' $MAC2 $MAC2)"
	"$G" --repo "$b" blame 10.0.0.2 | tail -8 >"$W/got"
	cat >"$W/want" <<EOF
$(git --git-dir="$b" rev-parse --short=12 primary) 2026-11-22T10:01:00Z arp: 2 changes (1 add, 1 update, 0 remove)
    Cause: arp reply (1)
    Cause: traffic to a stale neighbour (1)
    > arp: update 10.0.0.2 -> $MAC2 STALE
    ~ expires 1795341671.000000 -> 1795341720.000000
    ~ lladdr $MAC1 -> $MAC2
    ~ state REACHABLE -> STALE
    ~ updated 1795341641.000000 -> 1795341660.000000
EOF
	same "$W/want" "$W/got" &&
	"$G" --repo "$b" blame 10.0.0.20 --json | jq -e '.[0].lines == ["arp: add 10.0.0.20 -> 02:50:2a:16:6d:02"]' >/dev/null
}
ok "blame in a batch commit: the body line that names the entry" t_blame_batch

# --- diff -------------------------------------------------------------
t_diff() {
	cat >"$W/want" <<EOF
+ arp/10.0.0/2 expires 1795341671.000000 learned-on inside lladdr $MAC1 state REACHABLE updated 1795341641.000000
~ arp/192.168.1/1 expires 1795341640.500000 -> 1795341660.000000
~ arp/192.168.1/1 lladdr $MAC1 -> $MAC2
~ arp/192.168.1/1 updated 1795341610.000000 -> 1795341630.000000
- nat/udp/192.168.1/2/5000 created 1795341620.000000 expires 1795341650.000000 external 203.0.113.1:61001 remote 8.8.8.8:53 established remote 9.9.9.9:53 new
EOF
	gn diff "$FX_C3" primary >"$W/got" && same "$W/want" "$W/got" &&
	gn diff primary primary >"$W/got" && [ ! -s "$W/got" ]
}
ok "diff A B: added, changed fields, removed" t_diff

t_diff_json() {
	gn diff primary peer --json >"$W/got" && python3 -m json.tool "$W/got" >/dev/null &&
	[ "$(jq -c '[.[] | [.key, .op]]' "$W/got")" = '[["arp/10.0.0/2","remove"],["arp/192.168.1/7","add"],["nat/udp/192.168.1/2/5000","add"]]' ] &&
	gn diff "$FX_C2" "$FX_C4" --json | jq -e '.[0].changes[1] == {"field":"lladdr","old":"02:50:2a:16:6d:01","new":"02:50:2a:16:6d:02"}' >/dev/null
}
ok "diff --json" t_diff_json

# --- branch -----------------------------------------------------------
t_branch() {
	cat >"$W/want" <<EOF
primary primary $(short primary) tick: merge expire_1795341640.000000
expire  expire_1795341640.000000 $(short "$FX_E1") tick: age out 0 arp, 1 nat entry
other   peer $(short "$FX_PEER") arp: add 192.168.1.7 -> $MAC2
EOF
	gn branch >"$W/got" && same "$W/want" "$W/got" &&
	gn branch --json >"$W/got" && python3 -m json.tool "$W/got" >/dev/null &&
	[ "$(jq -c '[.[] | .kind]' "$W/got")" = '["primary","expire","other"]' ] &&
	[ "$(jq -r '.[2].head' "$W/got")" = "$FX_PEER" ]
}
ok "branch: primary, expiry branches, others; --json" t_branch

# --- merge ------------------------------------------------------------
t_merge() {
	local m=$W/m.git id
	cp -r "$H" "$m"
	"$G" --repo "$m" merge peer >"$W/got" || return 1
	id=$(git --git-dir="$m" rev-parse --short=12 primary)
	[ "$(cat "$W/got")" = "merged peer into primary: $id merge peer" ] &&
	[ "$(git --git-dir="$m" rev-list --parents -1 primary | wc -w)" = 3 ] &&
	"$G" --repo "$m" show arp | grep -q "^192.168.1.7 dev inside lladdr $MAC2 STALE$" &&
	[ "$("$G" --repo "$m" merge peer)" = "primary already contains peer" ] &&
	git --git-dir="$m" fsck --strict 2>&1 && "$G" --repo "$m" fsck
}
ok "merge BRANCH into primary (store_merge), then already contained" t_merge

# Both sides change 192.168.1.1 after the fork: peer to MAC1 (newer
# updated), primary to MAC2 (older): peer's wins, primary's is recorded.
mkconflict() {
	fx_history "$1" >/dev/null
	fx_branch peer
	fx_arp arp/192.168.1/1 $MAC1 REACHABLE 1795341650.000000 1795341680.000000
	fx_commit $((FX_T0 + 50)) "arp: update 192.168.1.1"
	fx_branch primary
	fx_arp arp/192.168.1/1 $MAC2 STALE 1795341645.000000 1795341700.000000
	fx_commit $((FX_T0 + 51)) "arp: update 192.168.1.1"
}
t_merge_conflict() {
	local m=$W/mc.git
	mkconflict "$m"
	"$G" --repo "$m" merge peer >"$W/got" || return 1
	cat "$W/got"
	[ "$(sed -n 2p "$W/got")" = "Conflict: arp 192.168.1.1 lladdr $MAC2 updated 1795341645.000000 (kept arp 192.168.1.1 lladdr $MAC1 updated 1795341650.000000)" ] &&
	"$G" --repo "$m" show arp | grep -q "^192.168.1.1 dev inside lladdr $MAC1 REACHABLE$" &&
	git --git-dir="$m" cat-file -p primary:conflicts/arp/192.168.1/1 | grep -qx "lladdr $MAC2" &&
	"$G" --repo "$m" log -n 1 --json | jq -e '.[0].conflicts | length == 1' >/dev/null
}
ok "merge with a MAC clash: newer updated kept, conflict printed and recorded" t_merge_conflict

t_git_merge_driver() {
	local m=$W/gm.git c=$W/clone
	mkconflict "$m"
	git clone -q -b primary "$m" "$c" && git -C "$c" branch -q peer origin/peer &&
	(cd "$c" && "$G" install-driver) >"$W/inst" || return 1
	grep -qx 'arp/\*\* merge=gitnet' "$c/.gitattributes" &&
	grep -qx 'nat/\*\* merge=gitnet' "$c/.gitattributes" &&
	[ "$(git -C "$c" config merge.gitnet.driver)" = "$(readlink -f "$G") merge-driver %O %A %B %P" ] &&
	(cd "$c" && "$G" install-driver) >/dev/null &&
	[ "$(grep -c gitnet "$c/.gitattributes")" = 2 ] || return 1
	git -C "$c" -c user.name=t -c user.email=t merge -q --no-edit peer || return 1
	"$G" --repo "$m" merge peer >/dev/null || return 1
	# The tables agree; only the store's merge adds conflicts/.
	[ "$(git -C "$c" rev-parse HEAD:arp)" = "$(git --git-dir="$m" rev-parse primary:arp)" ] &&
	[ "$(git -C "$c" rev-parse -q --verify HEAD:nat)" = "$(git --git-dir="$m" rev-parse -q --verify primary:nat)" ] &&
	git -C "$c" log -1 --format=%s | grep -q "^Merge branch 'peer'"
}
ok "install-driver + stock git merge: same tables as gitnet merge" t_git_merge_driver

t_merge_into() {
	local m=$W/mi.git
	mkconflict "$m"
	git --git-dir="$m" branch inspect primary
	"$G" --repo "$m" merge peer --into inspect >"$W/got" || return 1
	cat "$W/got"
	# The store's own merge: the same conflict printed and recorded.
	[ "$(sed -n 1p "$W/got")" = "merged peer into inspect: $(git --git-dir="$m" rev-parse --short=12 inspect) merge peer" ] &&
	[ "$(sed -n 2p "$W/got")" = "Conflict: arp 192.168.1.1 lladdr $MAC2 updated 1795341645.000000 (kept arp 192.168.1.1 lladdr $MAC1 updated 1795341650.000000)" ] &&
	git --git-dir="$m" cat-file -p inspect:conflicts/arp/192.168.1/1 | grep -qx "lladdr $MAC2" &&
	[ "$("$G" --repo "$m" merge peer --into inspect)" = "inspect already contains peer" ] &&
	"$G" --repo "$m" merge peer >/dev/null &&
	[ "$(git --git-dir="$m" rev-parse inspect^{tree})" = "$(git --git-dir="$m" rev-parse primary^{tree})" ] &&
	[ "$(git --git-dir="$m" rev-parse inspect^2)" = "$(git --git-dir="$m" rev-parse peer)" ] &&
	git --git-dir="$m" fsck --strict 2>&1
}
ok "merge --into a branch: the store's merge, conflicts/ records, same tables" t_merge_into

t_merge_into_locked() {
	local m=$W/mil.git
	mkconflict "$m"
	git --git-dir="$m" branch inspect primary
	flock "$m/gitnet.lock" sleep 5 &
	local pid=$! rc=0
	sleep 0.3
	"$G" --repo "$m" merge peer --into inspect >"$W/got" || rc=1
	kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
	[ "$rc" = 0 ] && grep -q "^merged peer into inspect: " "$W/got"
}
ok "merge --into a branch while a router holds the store" t_merge_into_locked

# hostile NAME MODE PATH TEXT: branch NAME off primary with one file set
# by stock git (mode 160000: TEXT is ignored, the gitlink names primary).
hostile() {
	local o
	fx_fork "$1" primary
	if [ "$2" = 160000 ]; then
		o=$(fx_git rev-parse primary)
	else
		o=$(printf "$4" | fx_git hash-object -w --stdin)
	fi
	fx_git update-index --add --cacheinfo "$2,$o,$3"
	fx_commit $((FX_T0 + 60)) "hostile $1"
	fx_branch primary
}

# Each hostile branch is refused into primary and --into a branch, with
# one line naming the path, both refs left where they were; the store
# still opens after.
t_merge_hostile() {
	local m=$W/mh.git p i n path
	fx_history "$m" >/dev/null
	git --git-dir="$m" branch inspect primary
	hostile schema 100644 meta/schema 'gitnet-store 2\n'
	hostile toplevel 100644 README 'hello\n'
	hostile symlink 120000 arp/192.168.1/9 '/etc/passwd'
	hostile gitlink 160000 nat/udp/192.168.1/2/53 ''
	hostile junk 100644 arp/192.168.1/8 'junk\n'
	hostile exec 100755 arp/192.168.1/6 "expires never\nlearned-on inside\nlladdr $MAC1\nstate PERMANENT\nupdated 1795341601.000000\n"
	# git update-index refuses '..'; git mktree writes it.
	fx_git update-ref refs/heads/dotdot "$(fx_git commit-tree -p primary -m dotdot \
	    "$( (fx_git ls-tree primary; printf '100644 blob %s\t..\n' \
	    "$(echo x | fx_git hash-object -w --stdin)") | fx_git mktree)")"
	p=$(git --git-dir="$m" rev-parse primary)
	i=$(git --git-dir="$m" rev-parse inspect)
	for n in schema:meta/schema toplevel:README symlink:arp/192.168.1/9 \
	    gitlink:nat/udp/192.168.1/2/53 junk:arp/192.168.1/8 exec:arp/192.168.1/6 \
	    'dotdot:\.\.: '; do
		path=${n#*:} n=${n%%:*}
		bad 1 "merge: .*$path.*refusing to merge $n" gn_m "$m" merge "$n" || return 1
		bad 1 "merge: .*$path.*refusing to merge $n" gn_m "$m" merge "$n" --into inspect || return 1
		[ "$(git --git-dir="$m" rev-parse primary)" = "$p" ] &&
		[ "$(git --git-dir="$m" rev-parse inspect)" = "$i" ] || return 1
	done
	"$G" --repo "$m" show arp >/dev/null && "$G" --repo "$m" log -n 1 >/dev/null
}
gn_m() { local r=$1; shift; "$G" --repo "$r" "$@"; }
ok "merge refuses a hostile branch (schema, name, symlink, gitlink, junk, exec, ..)" t_merge_hostile

t_merge_driver_files() {
	printf 'expires 1795341640.500000\nlearned-on inside\nlladdr %s\nstate REACHABLE\nupdated 1795341610.000000\n' $MAC1 >"$W/o"
	printf 'expires 1795341700.000000\nlearned-on inside\nlladdr %s\nstate STALE\nupdated 1795341645.000000\n' $MAC2 >"$W/a"
	printf 'expires 1795341680.000000\nlearned-on inside\nlladdr %s\nstate REACHABLE\nupdated 1795341650.000000\n' $MAC1 >"$W/b"
	"$G" merge-driver "$W/o" "$W/a" "$W/b" arp/192.168.1/1 && same "$W/b" "$W/a" &&
	echo junk >"$W/b" && bad 1 "merge-driver" "$G" merge-driver "$W/o" "$W/a" "$W/b" arp/192.168.1/1
}
ok "merge-driver %O %A %B %P: newer updated into %A; junk refused" t_merge_driver_files

t_merge_locked() {
	local m=$W/ml.git
	cp -r "$H" "$m"
	flock "$m/gitnet.lock" sleep 5 &
	local pid=$!
	sleep 0.3
	bad 1 "locked by a running router: stop it, or merge into another branch with --into REF" \
	    "$G" --repo "$m" merge peer
	local rc=$?
	kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
	return $rc
}
ok "merge into primary while a router holds the store: clear message" t_merge_locked

# --- replay -----------------------------------------------------------
# primary..peer onto a branch at primary: peer's add applies (the blob
# byte-identical), its update of 192.168.1.1 clashes with primary's.
t_replay() {
	local m=$W/rp.git s
	mkconflict "$m"
	git --git-dir="$m" branch side primary
	"$G" --repo "$m" replay primary..peer --onto side >"$W/got" || return 1
	cat "$W/got"
	s=$(git --git-dir="$m" rev-parse --short=12 side)
	[ "$(sed -n 1p "$W/got")" = "applied $(git --git-dir="$m" rev-parse --short=12 "$FX_PEER") -> $s replay: arp: add 192.168.1.7 -> $MAC2 (1 entries)" ] &&
	grep -qx "  clash arp/192.168.1/1: side changed it since $(git --git-dir="$m" rev-parse --short=12 "$FX_C4"); kept side's value" "$W/got" &&
	[ "$(tail -1 "$W/got")" = "replayed 1 of 2 commits onto side: 1 entries applied, 0 already there, 1 clashes" ] &&
	[ "$(git --git-dir="$m" rev-parse side:arp/192.168.1/7)" = "$(git --git-dir="$m" rev-parse peer:arp/192.168.1/7)" ] &&
	[ "$(git --git-dir="$m" log -1 --format='%an %cn %(trailers:key=Replayed-From,valueonly)' side)" = "r1 gitnet-replay $FX_PEER" ] &&
	[ "$(git --git-dir="$m" rev-parse side~1)" = "$(git --git-dir="$m" rev-parse primary)" ] &&
	"$G" --repo "$m" replay primary..peer --onto side | tail -1 |
	    grep -qx "replayed 0 of 2 commits onto side: 0 entries applied, 1 already there, 1 clashes" &&
	git --git-dir="$m" fsck --strict 2>&1
}
ok "replay A..B --onto BRANCH: byte-identical entries, clash kept, trailer" t_replay

t_replay_locked() {
	local m=$W/rpl.git p rc=0
	mkconflict "$m"
	git --git-dir="$m" branch side primary
	p=$(git --git-dir="$m" rev-parse primary)
	flock "$m/gitnet.lock" sleep 5 &
	local pid=$!
	sleep 0.3
	bad 1 "locked by another live process.*replay onto another branch" \
	    "$G" --repo "$m" replay "$FX_PEER" --onto primary || rc=1
	"$G" --repo "$m" replay "$FX_PEER" --onto side >/dev/null || rc=1
	kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
	[ "$rc" = 0 ] && [ "$(git --git-dir="$m" rev-parse primary)" = "$p" ] &&
	[ "$(git --git-dir="$m" rev-parse side~1)" = "$p" ]
}
ok "replay onto primary refused while a router runs; onto a branch works" t_replay_locked

ok "replay: A...B refused" bad 2 "replay: 'primary...peer': A...B is not supported, give A..B" \
    gn replay primary...peer --onto peer
ok "replay: unknown revision" bad 2 "replay: unknown revision 'nope..peer'" \
    gn replay nope..peer --onto peer

# --- fsck -------------------------------------------------------------
t_fsck_clean() {
	gn fsck >"$W/got" 2>"$W/err" && [ ! -s "$W/got" ] &&
	[ "$(cat "$W/err")" = "gitnet: fsck: 3 branches, 5 arp and 1 nat entries checked, 0 findings" ]
}
ok "fsck of a sound repository: no finding, exit 0" t_fsck_clean

t_fsck_findings() {
	fx_broken "$W/b.git" >/dev/null
	cat >"$W/want" <<EOF
expire_1795341640.000000: nat/udp/192.168.1/3/6000: external udp 203.0.113.1:61001 also mapped by nat/udp/192.168.1/2/5000
primary: README: not part of a gitnet store
primary: arp/192.168.1/8: line 3: bad lladdr '02:50:2a:16:6d'
primary: arp/192.168.1/9: expired at 1795341605.000000, still present after the tick at 1795341640.000000
primary: nat/udp/192.168.1/2/x: not an entry path
primary: nat/udp/192.168.1/3/6000: external udp 203.0.113.1:61001 also mapped by nat/udp/192.168.1/2/5000
EOF
	run_rc 1 "$W/got" "$G" --repo "$W/b.git" fsck && same "$W/want" "$W/got" &&
	grep -q "6 findings" "$W/got.err" &&
	# a tolerance past the expiry silences that finding only
	run_rc 1 "$W/got" "$G" --repo "$W/b.git" fsck --tolerance 40 &&
	[ "$(wc -l <"$W/got")" = 5 ] && ! grep -q 192.168.1/9 "$W/got"
}
ok "fsck: NAT clash, unremoved expired entry, bad entry, stray file" t_fsck_findings

t_show_broken() {
	bad 1 "arp/192.168.1/8: line 3: bad lladdr" "$G" --repo "$W/b.git" show arp
}
ok "show of a tree with a malformed entry fails naming it" t_show_broken

# --- help -------------------------------------------------------------
t_help() {
	local c
	"$G" --help | grep -q '^usage: gitnet \[--repo DIR\] COMMAND' || return 1
	"$G" help | grep -q '^  blame ' || return 1
	"$G" --version | grep -q '^gitnet .*gitnet-store 1' || return 1
	for c in log show at diff blame branch merge fsck export merge-driver install-driver; do
		"$G" "$c" --help >"$W/h1" || { echo "$c --help failed"; return 1; }
		"$G" help "$c" >"$W/h2" || { echo "help $c failed"; return 1; }
		same "$W/h1" "$W/h2" || return 1
		for s in NAME SYNOPSIS DESCRIPTION OPTIONS 'EXIT STATUS' EXAMPLES; do
			grep -q "^$s\$" "$W/h1" || { echo "$c: no $s"; return 1; }
		done
	done
}
ok "--help on every command = gitnet help COMMAND, man-page sections" t_help

# --- bad input --------------------------------------------------------
ok "unknown revision" bad 2 "show: unknown revision 'nope'" gn show nope
ok "unknown revision in diff" bad 2 "diff: unknown revision 'nope'" gn diff primary nope
ok "malformed time" bad 2 "at: malformed time '2026-13-45T00:00:00Z'" gn at 2026-13-45T00:00:00Z
ok "malformed relative time" bad 2 "at: malformed time '-5parsecs'" gn at -5parsecs
ok "time before the first commit" bad 1 "at: no commit on primary at or before 1795337999.000000" gn at @1795337999
ok "missing repository" bad 2 "log: no repository at '$W/none.git'" "$G" --repo "$W/none.git" log
git init -q --bare "$W/empty.git"
ok "non-gitnet repository (empty)" bad 2 "is not a gitnet store (no branch primary)" "$G" --repo "$W/empty.git" show
t_foreign() {
	fx_init "$W/foreign.git" >/dev/null
	fx_set meta/schema 'gitnet-store 2\n'
	fx_commit $((FX_T0 + 1)) "other schema" >/dev/null
	bad 2 "unknown schema" "$G" --repo "$W/foreign.git" fsck
}
ok "repository with another schema" t_foreign
ok "plain directory" bad 2 "is not a git repository" "$G" --repo "$W" branch
ok "unknown command" bad 2 "unknown command 'frob'" "$G" frob
ok "unknown option" bad 2 "show: unknown option '--frob'" gn show --frob
ok "bad key" bad 2 "blame: '1.2.3' is not an entry key" gn blame 1.2.3
ok "bad key path" bad 2 "log: 'nat/sctp/1.2.3/4/5' is not an entry key" gn log -- nat/sctp/1.2.3/4/5
ok "merge of an unknown branch" bad 2 "merge: unknown revision 'nope'" gn merge nope
ok "diff with one revision" bad 2 "usage: diff A B" gn diff primary

echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]

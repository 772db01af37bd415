# SPDX-License-Identifier: ISC
# shellcheck shell=bash disable=SC2034,SC2059 # FX_* are for the sourcing scripts; entry texts are printf formats on purpose
#
# Hand-built state repositories for the gitnet tool's tests, made with
# stock git plumbing (hash-object, update-index, write-tree, commit-tree,
# update-ref) so that every id, time and message is known exactly.
# Sourced, never run. Layout and messages follow DESIGN.md section 3.
#
#	fx_init DIR                      a bare repository with primary's root
#	fx_set PATH TEXT / fx_rm PATH    stage an entry change
#	fx_commit TIME SUBJECT [BODY]    commit the staged tree on $FX_BRANCH
#	fx_merge TIME SUBJECT OTHER      a two-parent commit of the staged tree

FX_T0=1795341600	# 2026-11-22T10:00:00Z

fx_git() { GIT_DIR=$FX_REPO GIT_INDEX_FILE=$FX_INDEX git "$@"; }

# fx_init DIR: repository with "store: create empty tables" at FX_T0.
fx_init() {
	FX_REPO=$1
	FX_INDEX=$1.index
	FX_BRANCH=primary
	rm -rf "$FX_REPO" "$FX_INDEX"
	git init -q --bare "$FX_REPO"
	fx_set meta/schema 'gitnet-store 1\n'
	fx_set meta/router 'id r1\n'
	fx_commit "$FX_T0" "store: create empty tables"
}

fx_set() {
	local b
	b=$(printf "$2" | fx_git hash-object -w --stdin)
	fx_git update-index --add --cacheinfo "100644,$b,$1"
}

fx_rm() { printf '0 %040d\t%s\n' 0 "$1" | fx_git update-index --index-info; }

# fx_branch NAME: further commits go to NAME (index follows its head).
fx_branch() {
	FX_BRANCH=$1
	fx_git read-tree "refs/heads/$1"
}

# fx_fork NAME FROM: create NAME at FROM and switch to it.
fx_fork() {
	fx_git update-ref "refs/heads/$1" "$(fx_git rev-parse "$2")"
	fx_branch "$1"
}

fx_commit() {
	local t=$1 msg=$2 tree parent id
	[ $# -ge 3 ] && msg=$(printf '%s\n\n%s' "$2" "$3")
	tree=$(fx_git write-tree)
	parent=$(fx_git rev-parse -q --verify "refs/heads/$FX_BRANCH" || true)
	id=$(GIT_AUTHOR_NAME=r1 GIT_AUTHOR_EMAIL=r1 GIT_COMMITTER_NAME=r1 \
	    GIT_COMMITTER_EMAIL=r1 GIT_AUTHOR_DATE="@$t +0000" \
	    GIT_COMMITTER_DATE="@$t +0000" \
	    fx_git commit-tree "$tree" ${parent:+-p "$parent"} -m "$msg")
	fx_git update-ref "refs/heads/$FX_BRANCH" "$id"
	FX_LAST=$id
}

fx_merge() {
	local t=$1 msg=$2 other tree parent id
	other=$(fx_git rev-parse "$3")
	tree=$(fx_git write-tree)
	parent=$(fx_git rev-parse "refs/heads/$FX_BRANCH")
	id=$(GIT_AUTHOR_NAME=r1 GIT_AUTHOR_EMAIL=r1 GIT_COMMITTER_NAME=r1 \
	    GIT_COMMITTER_EMAIL=r1 GIT_AUTHOR_DATE="@$t +0000" \
	    GIT_COMMITTER_DATE="@$t +0000" \
	    fx_git commit-tree "$tree" -p "$parent" -p "$other" -m "$msg")
	fx_git update-ref "refs/heads/$FX_BRANCH" "$id"
	FX_LAST=$id
}

MAC1=02:50:2a:16:6d:01
MAC2=02:50:2a:16:6d:02

fx_arp() {	# fx_arp PATH MAC STATE UPDATED EXPIRES
	fx_set "$1" "expires $5\nlearned-on inside\nlladdr $2\nstate $3\nupdated $4\n"
}

# The main history (times from FX_T0):
#   +0  store: create empty tables
#   +10 arp: add 192.168.1.1 -> MAC1                 (Cause: arp reply ...)
#   +20 nat: map udp 192.168.1.2:5000 -> 203.0.113.1:61001
#   +30 arp: lladdr 192.168.1.1 MAC1 -> MAC2         (the spoof)
#   expire_1795341640.000000 from +30: +40 tick: age out 0 arp, 1 nat entry
#   +41 arp: add 10.0.0.2 -> MAC1   (primary)
#   +42 tick: merge expire_1795341640.000000
#   peer from +30: +35 arp: add 192.168.1.7 -> MAC2
fx_history() {
	fx_init "$1"
	fx_arp arp/192.168.1/1 $MAC1 REACHABLE 1795341610.000000 1795341640.500000
	fx_commit $((FX_T0 + 10)) "arp: add 192.168.1.1 -> $MAC1" \
	    "Cause: arp reply from $MAC1 on inside"
	FX_C2=$FX_LAST
	fx_set nat/udp/192.168.1/2/5000 "created 1795341620.000000\nexpires 1795341650.000000\nexternal 203.0.113.1:61001\nremote 8.8.8.8:53 established\nremote 9.9.9.9:53 new\n"
	fx_commit $((FX_T0 + 20)) "nat: map udp 192.168.1.2:5000 -> 203.0.113.1:61001" \
	    "Cause: new flow from inside"
	FX_C3=$FX_LAST
	fx_arp arp/192.168.1/1 $MAC2 REACHABLE 1795341630.000000 1795341660.000000
	fx_commit $((FX_T0 + 30)) "arp: lladdr 192.168.1.1 $MAC1 -> $MAC2" \
	    "Cause: arp reply from $MAC2 on inside"
	FX_C4=$FX_LAST
	fx_fork peer primary
	fx_arp arp/192.168.1/7 $MAC2 STALE 1795341635.000000 1795341695.000000
	fx_commit $((FX_T0 + 35)) "arp: add 192.168.1.7 -> $MAC2" \
	    "Cause: arp request from $MAC2 on inside"
	FX_PEER=$FX_LAST
	fx_fork expire_1795341640.000000 "$FX_C4"
	fx_rm nat/udp/192.168.1/2/5000
	fx_commit $((FX_T0 + 40)) "tick: age out 0 arp, 1 nat entry"
	FX_E1=$FX_LAST
	fx_branch primary
	fx_arp arp/10.0.0/2 $MAC1 REACHABLE 1795341641.000000 1795341671.000000
	fx_commit $((FX_T0 + 41)) "arp: add 10.0.0.2 -> $MAC1" \
	    "Cause: arp reply from $MAC1 on inside"
	FX_C5=$FX_LAST
	fx_rm nat/udp/192.168.1/2/5000
	fx_merge $((FX_T0 + 42)) "tick: merge expire_1795341640.000000" "$FX_E1"
	FX_M=$FX_LAST
}

# A repository with one finding of each kind fsck knows, on primary:
#   two NAT mappings on external udp 203.0.113.1:61001,
#   arp/192.168.1/9 expired at +5 yet present after the tick at +40,
#   arp/192.168.1/8 with a bad lladdr, nat/udp/192.168.1/2/x a bad path,
#   a stray top-level file.
fx_broken() {
	fx_init "$1"
	fx_set nat/udp/192.168.1/2/5000 "created 1795341620.000000\nexpires 1795341900.000000\nexternal 203.0.113.1:61001\n"
	fx_set nat/udp/192.168.1/3/6000 "created 1795341621.000000\nexpires 1795341900.000000\nexternal 203.0.113.1:61001\n"
	fx_arp arp/192.168.1/9 $MAC1 STALE 1795341601.000000 1795341605.000000
	fx_commit $((FX_T0 + 20)) "tables: 3 changes (3 add, 0 update, 0 remove)"
	fx_fork expire_1795341640.000000 primary
	fx_commit $((FX_T0 + 40)) "tick: age out 0 arp, 0 nat entries"
	fx_branch primary
	fx_merge $((FX_T0 + 40)) "tick: merge expire_1795341640.000000" expire_1795341640.000000
	fx_set arp/192.168.1/8 "expires never\nlearned-on inside\nlladdr 02:50:2a:16:6d\nstate PERMANENT\nupdated 1795341601.000000\n"
	fx_set nat/udp/192.168.1/2/x "created 1795341620.000000\nexpires never\nexternal 203.0.113.1:61002\n"
	fx_set README "hello\n"
	fx_commit $((FX_T0 + 50)) "hand edit"
}

#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
#
# The gitnet tool on a repository the real router writes (tests/netns/
# lib.sh topology: cli 192.168.1.2 -- gitnet-router -- srv 203.0.113.2),
# read while the router runs and after it stopped: show has cli's
# neighbour entry with its MAC as `ip neigh` would print it and the UDP
# flow as `conntrack -L` would, with the external port srv saw; log and
# blame of 192.168.1.2 find its ARP commit and cause; the flow's aging out
# shows in log --nat as a tick, with the expiry branch in `branch`;
# merge into primary is refused while the router holds the store; fsck is
# clean, and export, diff and at agree with show.
#
# Root needed (network namespaces); runtime about 10 s.
# shellcheck disable=SC2086 # $GN_UDPTOOL is a command and its script
set -u -o pipefail
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/../netns/lib.sh"
GITNET=${GITNET:-$GN_ROOT/build/gitnet}

gn_require router git python3 jq
[ -x "$GITNET" ] || gn_die "no $GITNET: run make"
gn_init
cd "$GN_RUN" || exit 1
gn_topology
gn_udptool

STATE=$GN_RUN/state
gn() { "$GITNET" --repo "$STATE" "$@"; }

gn_router_start --udp-timeout 2 --icmp-timeout 2 || gn_die "router did not start"
in_cli ping -c 2 -i 0.2 -W 2 "$SRV_IP" >"$GN_RUN/ping.out" 2>&1
gn_bg "$SRV" udpsrv $GN_UDPTOOL serve "$SRV_IP:5000" 60
gn_wait_listen 5 "$SRV" 5000 udp || gn_log "udp server in srv not listening"
in_cli $GN_UDPTOOL ask 40000 "$SRV_IP:5000" >"$GN_RUN/udp.out" 2>&1
UDP_EXT=$(grep -Eo "seen $RTR_OUT_IP:[0-9]+" "$GN_RUN/udp.out" | cut -d: -f2)
check "UDP exchange cli -> srv through the router" expect_ge "${UDP_EXT:-0}" 1
# The writer commits at most once per second: wait until primary holds the flow.
NAT_RE="^udp      17 [0-9]+ src=192\\.168\\.1\\.2 dst=$SRV_IP sport=40000 dport=5000 src=$SRV_IP dst=$RTR_OUT_IP sport=5000 dport=${UDP_EXT:-x} \\[ASSURED\\] mark=0 use=1\$"
nat_committed() { gn show nat 2>/dev/null | grep -Eq "$NAT_RE"; }
gn_wait 5 nat_committed || gn_log "the UDP flow is not in primary after 5 s"

gn show arp >"$GN_RUN/arp.txt" 2>&1
check "show arp while the router runs: cli as ip neigh prints it" \
    expect_grep "$GN_RUN/arp.txt" "^192\.168\.1\.2 dev $RTR_IN_DEV lladdr $CLI_MAC (REACHABLE|STALE|DELAY|PROBE)\$"
gn show nat >"$GN_RUN/nat.txt" 2>&1
check "show nat: the UDP flow as conntrack -L, with the external port srv saw" \
    expect_grep "$GN_RUN/nat.txt" "$NAT_RE"
check "show --json: cli's entry with its MAC, state an array" \
    expect_eq "$(gn show arp --json | jq -r '.[] | select(.dst == "192.168.1.2") | "\(.lladdr) \(.state | length)"')" "$CLI_MAC 1"

git --git-dir="$STATE" branch peer primary
gn merge peer >"$GN_RUN/merge.out" 2>&1
check "merge into primary is refused while the router runs" \
    expect_grep "$GN_RUN/merge.out" "locked by a running router: stop it, or merge into another branch with --into REF"

gn log -- 192.168.1.2 >"$GN_RUN/log.txt" 2>&1
check "log -- 192.168.1.2 lists the commit that added it, with an arp cause" \
    expect_grep "$GN_RUN/log.txt" "^    Cause: arp (reply|request)"
gn blame 192.168.1.2 >"$GN_RUN/blame.txt" 2>&1
check "blame 192.168.1.2: first the entry as added, with cli's MAC" \
    expect_grep "$GN_RUN/blame.txt" "^    \+ expires .* learned-on $RTR_IN_DEV lladdr $CLI_MAC "

wait_aged() { gn log --nat -- nat/udp/192.168.1/2/40000 | grep -q '^[0-9a-f]* [^ ]* tick: age out'; }
check "the flow ages out: log --nat -- KEY shows the tick (within 8 s)" gn_wait 8 wait_aged
gn branch >"$GN_RUN/branch.txt" 2>&1
check "branch lists primary first and an expiry branch" \
    sh -c "head -1 '$GN_RUN/branch.txt' | grep -q '^primary primary ' && grep -q '^expire  expire_[0-9]*\.[0-9]* ' '$GN_RUN/branch.txt'"
check "fsck while the router runs: no finding" gn fsck

gn_router_stop TERM
check "fsck after the router stopped: no finding" gn fsck
gn export --json >"$GN_RUN/export.json" 2>&1
check "export --json parses and agrees with show on the ARP table" \
    expect_eq "$(jq -r '.arp[] | "\(.dst) \(.lladdr)"' "$GN_RUN/export.json" | sort)" \
    "$(gn show arp | awk '{ print $1, $5 }' | sort)"
ROOT_ID=$(git --git-dir="$STATE" rev-list --max-parents=0 primary | tail -1)
gn diff "$ROOT_ID" primary >"$GN_RUN/diff.txt" 2>&1
check "diff from the root commit adds cli's entry" \
    expect_grep "$GN_RUN/diff.txt" "^\+ arp/192\.168\.1/2 expires .* lladdr $CLI_MAC "
T=$(git --git-dir="$STATE" log -1 --format=%ct primary)
check "at @<primary's time> prints what show prints" \
    expect_eq "$(gn at "@$T" arp 2>/dev/null)" "$(gn show arp)"
gn_summary

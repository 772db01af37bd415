#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
#
# Two gitnet routers as an HA pair, fed by git (issue 14), in network
# namespaces on this machine. Run it as root from the source tree after
# `make`:
#
#	bash examples/ha/demo.sh
#
# What it builds (tests/netns/ha_lib.sh draws it in full):
#
#	cli ─┐                  ┌─ rtrA (gitnet-router A, routerA.conf) ─┐
#	     ├─ inside switch ──┤                                        ├─ outside switch ─ srv
#	cli2 ┘                  └─ rtrB (gitnet-router B, routerB.conf) ─┘
#	                              │ management veths │
#	                           mgmt: git daemon, the sync remote sync.git
#
# Both routers have 192.168.1.1 inside and 203.0.113.1 outside. A is active,
# B its standby: A pushes its state branch `primary` to routers/A on the
# remote and beats there; B fetches it and keeps A's tables loaded. Then:
#
#   1. traffic through A: TCP connections echoing, UDP flows answered;
#   2. A killed with SIGKILL: B takes over in about takeover_after (300 ms)
#      and the same connections carry on, their external ports kept;
#   3. A started again: it finds B active and becomes B's standby;
#   4. `takeover` on A's control socket: A active again, B standby;
#   5. the remote's history with stock git: routers/A, routers/B and the
#      takeover merges; `git fsck --strict` on it.
#
# The remote is one line of stock git (here in the mgmt namespace):
#
#	git daemon --enable=receive-pack --export-all --reuseaddr \
#	    --base-path=DIR --listen=10.98.0.254 --port=9418
#
# with DIR/sync.git made by `git init --bare`. Everything the demo creates
# is removed on exit (GN_KEEP=1 keeps the run directory).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/netns/lib.sh
. "$HERE/../../tests/netns/lib.sh"
# shellcheck source=tests/netns/ha_lib.sh
. "$HERE/../../tests/netns/ha_lib.sh"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@" 2>&1 | sed 's/^/  /'; }
roles() { for x in A B; do
	ha_router_alive $x || { printf '  router %s: not running\n' $x; continue; }
	printf '  router %s: sync_role %s, sync_takeovers %s, sync_fetches %s, sync_lag_ms %s\n' \
	    "$x" "$(ha_stat $x sync_role)" "$(ha_stat $x sync_takeovers)" \
	    "$(ha_stat $x sync_fetches)" "$(ha_stat $x sync_lag_ms)"
	done; }
flows() { ha_mark; printf '  TCP: %s of %s echoing, %s died; UDP: %s of %s answered, %s moved\n' \
	"$(ha_markf tcp_fresh)" 5 "$(ha_markf tcp_err)" "$(ha_markf udp_fresh)" 50 \
	"$(ha_markf udp_moved)"; }

gn_require router git socat python3 ss
if ! ha_has_sync; then
	echo "$HA_NOSYNC_MSG"
	exit 1
fi
ha_init
ha_topology
step "the sync remote: git daemon in the mgmt namespace"
ha_gitd_start
echo "  git daemon --enable=receive-pack --export-all --reuseaddr --base-path=$GN_RUN/git" \
    "--listen=$HA_MGMT_IP --port=$HA_GITD_PORT   (pid $HA_GITD_PID)"

step "router A (routerA.conf) and its standby B (routerB.conf)"
HA_NO_SYNC_FLAGS=1 ha_router_start A --config "$HERE/routerA.conf" || gn_die "router A"
HA_NO_SYNC_FLAGS=1 ha_router_start B --config "$HERE/routerB.conf" || gn_die "router B"
gn_wait 10 ha_stat_is B sync_role standby
roles

step "traffic through A: 5 TCP connections echoing, 50 UDP flows answered"
ha_traffic_start 5 50 300 || gn_die "the traffic did not start"
sleep 2
flows
show git --git-dir="$HA_REMOTE" log --oneline -3 refs/heads/routers/A
show git --git-dir="$GN_RUN/state-B" branch -r
roles

step "kill -9 router A"
t0=$(ha_now)
ha_router_kill A KILL
gn_wait 5 ha_stat_is B sync_role active
sleep 1
echo "  the probe flow passed again $(ha_takeover_ms "$t0") ms after the kill"
roles
sleep 2
flows
show in_cli ip neigh show "$RTR_IN_IP"
echo "  (B's inside MAC is $HA_MAC_B_IN)"

step "router A comes back: it finds B active and becomes its standby"
HA_NO_SYNC_FLAGS=1 ha_router_start A --config "$HERE/routerA.conf" || gn_die "router A"
gn_wait 10 ha_stat_is A sync_role standby
roles

step "takeover on A's control socket"
gn_wait 10 ha_stat_ge A sync_fetches 1
printf '$ echo takeover | socat - UNIX-CONNECT:%s\n' "$GN_RUN/ctl-A.sock"
ha_ctl A takeover | sed 's/^/  /'
gn_wait 5 ha_stat_is B sync_role standby
roles
sleep 3
flows

step "the remote's history, with stock git"
ha_traffic_stop
ha_router_stop A
ha_router_stop B
show git --git-dir="$HA_REMOTE" log --graph --oneline --all --decorate -n 25
printf '$ git --git-dir=%s fsck --strict && echo clean\n' "$HA_REMOTE"
ha_remote_git fsck --strict >/dev/null 2>&1 && echo "  clean" || echo "  NOT clean"

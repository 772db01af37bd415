#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# The main job, as `make demo` runs it: gitnet-router as the NAT router
# between two network namespaces, real traffic through it, then what it
# learned (its ARP cache and NAT table) and their history in git, read with
# stock git: entry commits, an expire_ branch and its merge.
#
#	cli 192.168.1.2 --- [192.168.1.1  gitnet-router  203.0.113.1] --- srv 203.0.113.2
#	    (inside)                   NAT: cli appears as 203.0.113.1       (outside)
#
# Needs root (network namespaces). Everything it creates is removed on exit.
set -u
. "$(dirname "$0")/../tests/netns/lib.sh"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@" 2>&1 | sed 's/^/  /'; }

gn_require router ping curl socat ethtool
gn_init
gn_topology
# Short ICMP and UDP timeouts so the demo sees an expiry tick within seconds.
gn_router_start -v --icmp-timeout 3 --udp-timeout 3 || gn_die "the router did not start"

step "router started (its log)"
sed 's/^/  /' "$GN_ROUTER_LOG"

step "traffic from cli through the router to srv"
show in_cli ping -c 3 -i 0.2 -W 1 "$SRV_IP"
head -c 200000 /dev/urandom >"$GN_RUN/file.bin"
(cd "$GN_RUN" && exec ip netns exec "$SRV" /usr/bin/python3 -m http.server 8080 \
    --bind "$SRV_IP" >/dev/null 2>&1) &
GN_BG_PIDS+=($!)
gn_wait 5 in_cli curl -s -o /dev/null "http://$SRV_IP:8080/" || true
printf '$ curl http://%s:8080/file.bin | sha256sum   (and the file itself)\n' "$SRV_IP"
in_cli curl -s "http://$SRV_IP:8080/file.bin" | sha256sum | sed 's/^/  /'
sha256sum <"$GN_RUN/file.bin" | sed 's/^/  /'
gn_bg "$SRV" udp-echo socat -T 2 UDP-RECVFROM:5353,bind="$SRV_IP",fork EXEC:cat
gn_wait 3 bash -c "ip netns exec $SRV ss -uln | grep -q 5353"
printf '$ echo hello over udp | socat - UDP:%s:5353\n' "$SRV_IP"
echo "hello over udp" | in_cli socat -T 1 - "UDP:$SRV_IP:5353" | sed 's/^/  /'
show in_cli ping -c 1 -t 1 -W 1 "$SRV_IP"

step "what the router learned"
printf '$ gitnet-router control: arp\n'; ctl arp | sed 's/^/  /'
printf '$ gitnet-router control: nat   (the shape of conntrack -L)\n'; ctl nat | sed 's/^/  /'
printf '$ gitnet-router control: routes\n'; ctl routes | sed 's/^/  /'
printf '$ gitnet-router control: stats (non-zero)\n'
ctl stats | awk '$2 != 0' | grep -vE '^if_' | sed 's/^/  /'
show in_cli ip neigh show dev "$CLI_DEV"
printf '$ (in srv) who connected to the HTTP server: the router'"'"'s outside address\n'
in_srv ss -tn state time-wait "( sport = :8080 )" 2>/dev/null | awk 'NR > 1 { print "  " $4 }' | sort -u

step "waiting 5 s for the ping and UDP flows to expire (an expiry tick)"
sleep 5
gn_router_stop
step "router stopped (exit status $GN_ROUTER_RC); its history, with stock git"
G="git --git-dir=$GN_RUN/state"
show $G log --graph --oneline --all
cli_mac=$(cat "/sys/class/net/$CLI_DEV/address" 2>/dev/null || in_cli cat "/sys/class/net/$CLI_DEV/address")
show $G show primary:arp/192.168.1/2
printf '$ %s ls-tree -r --name-only primary\n' "$G"
$G ls-tree -r --name-only primary | sed 's/^/  /'
printf '$ %s fsck --strict && echo clean\n' "$G"
$G fsck --strict >/dev/null 2>&1 && echo "  clean" || echo "  NOT clean"
echo "  (cli's MAC is $cli_mac; the repository is $GN_RUN/state, removed on exit:"
echo "   set GN_KEEP=1 to keep it)"

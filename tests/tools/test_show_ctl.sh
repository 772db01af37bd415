#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
#
# The router's control socket and `gitnet show` print one table the same
# way (tests/netns/lib.sh topology: cli 192.168.1.2 -- gitnet-router --
# srv 203.0.113.2). Real clients make every kind of entry: ping (ICMP,
# answered), curl (TCP, closed: TIME_WAIT), a TCP connect srv silently
# drops (SYN_SENT, [UNREPLIED]), UDP to a server that answers ([ASSURED])
# and to one that does not ([UNREPLIED]). Once the router's group commit
# has flushed, `arp` and `nat` from the control socket and `gitnet show
# primary arp|nat` from the repository must list the same lines.
#
# The conntrack timeout column is normalised to "T" on both sides before
# comparing: the socket counts each session's own expiry from the router's
# clock, show counts the mapping's stored expiry (written lazily, ahead of
# time) from the commit's time, so the numbers legitimately differ. Every
# other column must match exactly. Lines are sorted: the socket lists
# sessions in table order, show entries in path order.
#
# Root needed (network namespaces); runtime about 15 s.
# shellcheck disable=SC2086 # $GN_UDPTOOL is a command and its script
set -u -o pipefail
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/../netns/lib.sh"
GITNET=${GITNET:-$GN_ROOT/build/gitnet}

gn_require router socat curl git nft jq
[ -x "$GITNET" ] || gn_die "no $GITNET: run make"
gn_init
cd "$GN_RUN" || exit 1
gn_topology
gn_udptool

STATE=$GN_RUN/state
gn() { "$GITNET" --repo "$STATE" "$@"; }
# conntrack -L lines with the timeout (third column) as T, sorted
norm_nat() { sed -E 's/^([a-z]+ +[0-9]+) [0-9]+ /\1 T /' | sort; }

gn_router_start || gn_die "router did not start"

in_cli ping -c 2 -i 0.2 -W 2 "$SRV_IP" >"$GN_RUN/ping.out" 2>&1
check "ping cli -> srv through the router" expect_grep "$GN_RUN/ping.out" " 0% packet loss"

mkdir -p "$GN_RUN/www" && echo hello >"$GN_RUN/www/page.txt"
gn_bg "$SRV" http "$GN_PY" -m http.server 8080 --bind "$SRV_IP" --directory "$GN_RUN/www"
gn_wait_listen 5 "$SRV" 8080 || gn_log "http server in srv not listening"
in_cli curl -sS --max-time 5 -o "$GN_RUN/page.got" "http://$SRV_IP:8080/page.txt" \
    >"$GN_RUN/curl.out" 2>&1
check "curl cli -> srv through the router" expect_eq "$(cat "$GN_RUN/page.got")" hello

# A SYN that srv drops: the session stays SYN_SENT, nothing came back.
in_srv nft -f - <<-EOF
	table inet gnt {
		chain in { type filter hook input priority 0; tcp dport 9999 drop; }
	}
EOF
in_cli curl -sS --max-time 1 "http://$SRV_IP:9999/" >/dev/null 2>&1

gn_bg "$SRV" udpsrv $GN_UDPTOOL serve "$SRV_IP:5000" 60
gn_bg "$SRV" udpquiet $GN_UDPTOOL quiet "$SRV_IP:5001" 60
gn_wait_listen 5 "$SRV" 5000 udp || gn_log "udp server in srv not listening"
gn_wait_listen 5 "$SRV" 5001 udp || gn_log "quiet udp server in srv not listening"
in_cli $GN_UDPTOOL ask 40000 "$SRV_IP:5000" >"$GN_RUN/udp.out" 2>&1
in_cli $GN_UDPTOOL ask 40001 "$SRV_IP:5001" >"$GN_RUN/udpq.out" 2>&1
check "UDP: srv:5000 answers, srv:5001 does not" \
    sh -c "grep -q 'seen $RTR_OUT_IP:' '$GN_RUN/udp.out' && grep -q ' none\$' '$GN_RUN/udpq.out'"

# Past the 100 ms group commit: take both views until the live one holds
# still across the repository read (a neighbour may change state meanwhile).
snap()
{
	ctl arp | sort >"$GN_RUN/ctl.arp.$1"
	ctl nat | norm_nat >"$GN_RUN/ctl.nat.$1"
}
for try in 1 2 3; do
	sleep 0.5
	snap a
	gn show primary arp | sort >"$GN_RUN/show.arp"
	gn show primary nat | norm_nat >"$GN_RUN/show.nat"
	snap b
	cmp -s "$GN_RUN/ctl.arp.a" "$GN_RUN/ctl.arp.b" &&
	    cmp -s "$GN_RUN/ctl.nat.a" "$GN_RUN/ctl.nat.b" && break
	gn_log "try $try: the router's tables moved during the read; again"
done

check "arp: cli and srv, with their MACs" \
    sh -c "grep -qx '$CLI_IP dev $RTR_IN_DEV lladdr $CLI_MAC [A-Z]*' '$GN_RUN/ctl.arp.a' &&
	grep -qx '$SRV_IP dev $RTR_OUT_DEV lladdr $SRV_MAC [A-Z]*' '$GN_RUN/ctl.arp.a'"
check "nat: every kind of session is there (icmp, tcp TIME_WAIT and SYN_SENT, udp both)" \
    sh -c "grep -q '^icmp     1 T src=$CLI_IP dst=$SRV_IP type=8 ' '$GN_RUN/ctl.nat.a' &&
	grep -q '^tcp      6 T TIME_WAIT src=$CLI_IP dst=$SRV_IP .* dport=8080 .*\[ASSURED\]' '$GN_RUN/ctl.nat.a' &&
	grep -q '^tcp      6 T SYN_SENT src=$CLI_IP dst=$SRV_IP .* dport=9999 \[UNREPLIED\]' '$GN_RUN/ctl.nat.a' &&
	grep -q '^udp      17 T src=$CLI_IP dst=$SRV_IP sport=40000 dport=5000 src=.*\[ASSURED\]' '$GN_RUN/ctl.nat.a' &&
	grep -q '^udp      17 T src=$CLI_IP dst=$SRV_IP sport=40001 dport=5001 \[UNREPLIED\]' '$GN_RUN/ctl.nat.a'"
check "arp: the control socket and gitnet show print the same lines" \
    diff -u "$GN_RUN/ctl.arp.a" "$GN_RUN/show.arp"
check "nat: the control socket and gitnet show print the same lines (timeout as T)" \
    diff -u "$GN_RUN/ctl.nat.a" "$GN_RUN/show.nat"

# The JSON of both sides names the same sessions with the same reply state.
ctl nat-json | jq -r '.[] | "\(.proto) \(.inside.ip):\(.inside.port) \(.external.ip):\(.external.port) \(.remote.ip):\(.remote.port) \(.state // "-") \(.replied)"' |
    sort >"$GN_RUN/ctl.json.txt"
gn show primary nat --json | jq -r '.[] | . as $m | .remotes[] |
    "\($m.proto) \($m.inside.ip):\($m.inside.port) \($m.external.ip):\($m.external.port) \(.ip):\(.port) \(if $m.proto == "tcp" then (.state | split(" ")[0] | ascii_upcase | gsub("-"; "_") | sub("^CLOSED$"; "CLOSE")) else "-" end) \(.state != "new" and (.state | endswith(" unreplied") | not))"' |
    sort >"$GN_RUN/show.json.txt"
check "nat-json and show --json: the same sessions, states and replies" \
    sh -c "[ -s '$GN_RUN/ctl.json.txt' ] && diff -u '$GN_RUN/ctl.json.txt' '$GN_RUN/show.json.txt'"

gn_router_stop TERM
gn_summary

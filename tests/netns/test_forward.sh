#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
#
# gitnet-router between two namespaces, exercised by real clients: ping,
# arping, curl against an HTTP server, iperf3 TCP and UDP, TTL expiry and the
# unreachable errors, the kernel's and the router's neighbour tables, the
# control socket, signals and the exit path; then a restart on the same state
# directory with a config file (gateway, static ARP) and a broken one. Each check prints
# ok/not ok; the run ends with "N passed, N failed" and fails if any did.
#
# Runtime is about 15 s; every wait is bounded (see lib.sh). GN_ROUTER=PATH
# runs another build (an ASan one, say); GN_KEEP=1 keeps the run directory.

set -u -o pipefail
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"

gn_require router socat curl iperf3 arping jq tcpdump ethtool sha256sum
gn_init
cd "$GN_RUN" || exit 1

# --- bad flags fail fast, before any namespace exists --------------------

"$GN_ROUTER" --no-such-flag >"$GN_RUN/badflag.out" 2>&1
badflag_rc=$?
check "bad flag: exit status 2" expect_eq "$badflag_rc" 2
check "bad flag: a one-line message" expect_eq "$(wc -l <"$GN_RUN/badflag.out")" 1

gn_topology

# Prefixes srv owns on its loopback: 198.18.0.1 for --route, 198.51.100.1
# for the gateway of phase 2 (in phase 1 the router has no route to it).
ip -n "$SRV" addr add 198.18.0.1/32 dev lo
ip -n "$SRV" addr add 198.51.100.1/32 dev lo

# Capture the gratuitous ARP the router sends as it starts (bounded: the
# capture ends after one packet or 8 s).
gn_bg "$CLI" garp timeout 8 tcpdump -i "$CLI_DEV" -n -e -l -c 1 \
    "arp and arp[14:4] = 0xc0a80101 and arp[24:4] = 0xc0a80101"
garp_pid=$GN_LAST_PID
gn_wait 5 grep -q "listening on" "$GN_RUN/garp.log" ||
    gn_log "tcpdump did not report listening; the GARP check may fail"

# No --gateway: 198.51.100.1 must be unreachable (net), everything in
# 203.0.113.0/24 is connected. --stats: counters on exit.
gn_router_start --route 198.18.0.0/15="$SRV_IP" --stats ||
    gn_die "router did not start"

check "router logs its start line" \
    expect_grep "$GN_ROUTER_LOG" "router: started: inside=$RTR_IN_DEV $RTR_IN_IP/24 outside=$RTR_OUT_DEV $RTR_OUT_IP/24"

wait "$garp_pid" 2>/dev/null
check "gratuitous ARP for 192.168.1.1 from the router's MAC at start" \
    expect_grep "$GN_RUN/garp.log" "^[0-9:.]+ $RTR_IN_MAC > ff:ff:ff:ff:ff:ff.*192\.168\.1\.1"

# The control socket's announce (after a resume or a migration): the same
# gratuitous ARP again, on both sides, on demand.
gn_bg "$SRV" garp2 timeout 8 tcpdump -i "$SRV_DEV" -n -e -l -c 1 \
    "arp and arp[14:4] = 0xcb007101 and arp[24:4] = 0xcb007101"
garp2_pid=$GN_LAST_PID
gn_wait 5 grep -q "listening on" "$GN_RUN/garp2.log" ||
    gn_log "tcpdump did not report listening; the announce check may fail"
before=$(stat_get arp_announces_sent)
check "ctl announce answers with what it sent" \
    expect_grep <(ctl announce) "^announced: 2 gratuitous ARP$"
wait "$garp2_pid" 2>/dev/null
check "announce: srv sees a gratuitous ARP for 203.0.113.1 from the router's MAC" \
    expect_grep "$GN_RUN/garp2.log" "^[0-9:.]+ $RTR_OUT_MAC > ff:ff:ff:ff:ff:ff.*203\.0\.113\.1"
check "announce: counted in arp_announces_sent (+2) and logged" \
    sh -c "[ \$(( \$(printf '%s\n' stats | timeout 5 socat -t 3 - UNIX-CONNECT:$GN_CTL |
	awk '\$1 == \"arp_announces_sent\" { print \$2 }') - $before )) -eq 2 ] &&
	grep -q '^router: announce: 2 gratuitous ARP sent\$' '$GN_ROUTER_LOG'"

# --- ping: the router's own addresses, then through it -------------------

check "ping cli -> router inside address" \
    in_cli ping -c 3 -i 0.2 -W 2 "$RTR_IN_IP"
check "ping srv -> router outside address" \
    in_srv ping -c 3 -i 0.2 -W 2 "$RTR_OUT_IP"
check "ping cli -> router outside address (across its interfaces)" \
    in_cli ping -c 2 -i 0.2 -W 2 "$RTR_OUT_IP"
check "ping srv -> router inside address (across its interfaces)" \
    in_srv ping -c 2 -i 0.2 -W 2 "$RTR_IN_IP"
in_cli ping -c 5 -i 0.2 -W 2 "$SRV_IP" >"$GN_RUN/ping.out" 2>&1
check "ping cli -> srv through the router, no loss" \
    expect_grep "$GN_RUN/ping.out" " 5 received, 0% packet loss"
# srv answers with TTL 64; one router hop makes it 63 (RFC 1812 5.3.1).
check "ping cli -> srv: replies arrive with ttl=63 (the router decrements)" \
    expect_eq "$(grep -c 'ttl=63 ' "$GN_RUN/ping.out")" 5
check "ping cli -> srv, 1472-byte payload with DF (a full 1500-byte packet)" \
    in_cli ping -c 2 -i 0.2 -W 2 -M "do" -s 1472 "$SRV_IP"
# Floods (bounded: 2000 packets or 5 s): the ring, the batch and the reply
# path keep up, with no loss, back to back.
in_cli ping -f -c 2000 -w 5 "$RTR_IN_IP" >"$GN_RUN/flood1.out" 2>&1
check "ping -f -c 2000 cli -> router: no loss" \
    expect_grep "$GN_RUN/flood1.out" " 2000 received, 0% packet loss"
in_cli ping -f -c 2000 -w 5 "$SRV_IP" >"$GN_RUN/flood2.out" 2>&1
check "ping -f -c 2000 cli -> srv: no loss" \
    expect_grep "$GN_RUN/flood2.out" " 2000 received, 0% packet loss"
check "ping cli -> 198.18.0.1 by the --route static route" \
    in_cli ping -c 2 -i 0.2 -W 2 198.18.0.1

# --- TTL ------------------------------------------------------------------

in_cli ping -c 1 -W 2 -t 1 "$SRV_IP" >"$GN_RUN/ttl1.out" 2>&1
check "ping -t 1 cli -> srv: Time to live exceeded from 192.168.1.1" \
    expect_grep "$GN_RUN/ttl1.out" "^From $RTR_IN_IP .*Time to live exceeded"
check "ping -t 2 cli -> srv reaches srv (one hop, TTL 1 on arrival)" \
    in_cli ping -c 1 -W 2 -t 2 "$SRV_IP"

# --- unreachables -----------------------------------------------------------

in_cli ping -c 1 -W 3 198.51.100.1 >"$GN_RUN/netunreach.out" 2>&1
check "ping 198.51.100.1 (no route): Destination Net Unreachable from 192.168.1.1" \
    expect_grep "$GN_RUN/netunreach.out" "^From $RTR_IN_IP .*Destination Net Unreachable"

# No host at 203.0.113.99: the router probes ARP for ~3 s, then answers
# host unreachable. Run it in the background while TCP and UDP go on.
gn_bg "$CLI" hostunreach ping -c 1 -W 10 203.0.113.99
hostunreach_pid=$GN_LAST_PID

# --- HTTP: 1 MiB of random bytes, byte for byte ---------------------------

mkdir -p "$GN_RUN/www"
head -c 1048576 /dev/urandom >"$GN_RUN/www/blob.bin"
want_sum=$(sha256sum <"$GN_RUN/www/blob.bin" | cut -d' ' -f1)
gn_bg "$SRV" http /usr/bin/python3 -m http.server 8080 --bind "$SRV_IP" \
    --directory "$GN_RUN/www"
gn_wait 5 in_srv bash -c "exec 3<>/dev/tcp/$SRV_IP/8080" ||
    gn_log "http server not listening after 5 s"
in_cli curl -sS --max-time 10 -o "$GN_RUN/blob.got" "http://$SRV_IP:8080/blob.bin" \
    >"$GN_RUN/curl.out" 2>&1
check "curl cli -> srv: 1 MiB file arrives, sha256 matches" \
    expect_eq "$(sha256sum <"$GN_RUN/blob.got" 2>/dev/null | cut -d' ' -f1)" "$want_sum"

# --- iperf3 -----------------------------------------------------------------

gn_bg "$SRV" iperf3 iperf3 -s -B "$SRV_IP" -p 5201
gn_wait 5 in_srv bash -c "exec 3<>/dev/tcp/$SRV_IP/5201" ||
    gn_log "iperf3 server not listening after 5 s"
in_cli timeout 15 iperf3 -J -c "$SRV_IP" -p 5201 -t 3 >"$GN_RUN/tcp.json" 2>&1
tcp_rc=$?
check "iperf3 TCP cli -> srv: runs clean" \
    expect_eq "$tcp_rc $(jq -r '.error // "no error"' "$GN_RUN/tcp.json" 2>&1)" "0 no error"
tcp_mbps=$(jq -r '.end.sum_received.bits_per_second // 0 | . / 1e6 | floor' "$GN_RUN/tcp.json" 2>/dev/null)
check "iperf3 TCP: received >= 50 Mbit/s (got ${tcp_mbps:-?})" \
    expect_ge "${tcp_mbps:-0}" 50
gn_log "tcp retransmits: $(jq -r '.end.sum_sent.retransmits // "?"' "$GN_RUN/tcp.json" 2>/dev/null)"

# 1400-byte datagrams: no fragmentation; 50 Mbit/s is ~4.5 kpps.
in_cli timeout 15 iperf3 -J -u -c "$SRV_IP" -p 5201 -t 2 -b 50M -l 1400 \
    >"$GN_RUN/udp.json" 2>&1
udp_rc=$?
check "iperf3 UDP cli -> srv: runs clean" \
    expect_eq "$udp_rc $(jq -r '.error // "no error"' "$GN_RUN/udp.json" 2>&1)" "0 no error"
udp_lost=$(jq -r '.end.sum.lost_packets // -1' "$GN_RUN/udp.json" 2>/dev/null)
udp_total=$(jq -r '.end.sum.packets // 0' "$GN_RUN/udp.json" 2>/dev/null)
udp_lost=${udp_lost:--1} udp_total=${udp_total:-0}
check "iperf3 UDP: under 1% of $udp_total datagrams lost (lost $udp_lost)" \
    expect_eq "$(( udp_lost >= 0 && udp_total > 0 && udp_lost * 100 < udp_total ))" 1

wait "$hostunreach_pid" 2>/dev/null
check "ping 203.0.113.99 (no such host): Destination Host Unreachable from 192.168.1.1" \
    expect_grep "$GN_RUN/hostunreach.log" "^From $RTR_IN_IP .*Destination Host Unreachable"

# --- ARP, both directions -------------------------------------------------

in_cli arping -c 3 -w 4 -I "$CLI_DEV" "$RTR_IN_IP" >"$GN_RUN/arping.out" 2>&1
check "arping cli -> 192.168.1.1: 3 replies" \
    expect_grep "$GN_RUN/arping.out" "Received 3 response"
check "arping replies carry the router's inside MAC $RTR_IN_MAC" \
    expect_grep "$GN_RUN/arping.out" "reply from $RTR_IN_IP \[$RTR_IN_MAC\]"

ip -n "$CLI" neigh show "$RTR_IN_IP" dev "$CLI_DEV" >"$GN_RUN/cli.neigh" 2>&1
ip -n "$SRV" neigh show "$RTR_OUT_IP" dev "$SRV_DEV" >"$GN_RUN/srv.neigh" 2>&1
check "cli's neighbour table: 192.168.1.1 at the router's inside MAC" \
    expect_grep "$GN_RUN/cli.neigh" "lladdr $RTR_IN_MAC"
check "srv's neighbour table: 203.0.113.1 at the router's outside MAC" \
    expect_grep "$GN_RUN/srv.neigh" "lladdr $RTR_OUT_MAC"

ctl arp >"$GN_RUN/arp.out" 2>&1
check "router arp: 192.168.1.2 dev $RTR_IN_DEV lladdr <cli MAC>" \
    expect_grep "$GN_RUN/arp.out" "^$CLI_IP dev $RTR_IN_DEV lladdr $CLI_MAC "
check "router arp: 203.0.113.2 dev $RTR_OUT_DEV lladdr <srv MAC>" \
    expect_grep "$GN_RUN/arp.out" "^$SRV_IP dev $RTR_OUT_DEV lladdr $SRV_MAC "
check "router arp: 203.0.113.99 is not REACHABLE" \
    expect_no_grep "$GN_RUN/arp.out" "^203\.0\.113\.99 .*REACHABLE"

ctl routes >"$GN_RUN/routes.out" 2>&1
check "router routes: lists 198.18.0.0/15 via 203.0.113.2" \
    expect_grep "$GN_RUN/routes.out" "198\.18\.0\.0/15.*203\.0\.113\.2"
check "router routes: no default route (no --gateway)" \
    expect_no_grep "$GN_RUN/routes.out" "^(default|0\.0\.0\.0/0)"

# --- counters ----------------------------------------------------------------

stats_snapshot "$GN_RUN/stats.out"
sv() { awk -v k="$1" '$1 == k { print $2; exit }' "$GN_RUN/stats.out"; }
check "stats: rx >= 1000" expect_ge "$(sv rx)" 1000
check "stats: forwarded >= 1000 (TCP, UDP, HTTP went through)" expect_ge "$(sv forwarded)" 1000
# Exactly one probe of each kind was sent above, and nothing else in the
# namespaces talks (IPv6 off, resolver on loopback): exact counts.
check "stats: drop_ttl_exceeded == 1 (the ping -t 1)" expect_eq "$(sv drop_ttl_exceeded)" 1
check "stats: drop_no_route == 1 (the ping to 198.51.100.1)" expect_eq "$(sv drop_no_route)" 1
check "stats: drop_arp_failed == 1 (the ping to 203.0.113.99)" expect_eq "$(sv drop_arp_failed)" 1
check "stats: icmp_sent == 3 (time exceeded, net and host unreachable)" \
    expect_eq "$(sv icmp_sent)" 3
check "stats: arp_requests_sent >= 3 (the probes for 203.0.113.99)" \
    expect_ge "$(sv arp_requests_sent)" 3
check "stats: no drop_oversize (TSO frames come as GSO, with their header)" \
    expect_eq "$(sv drop_oversize)" 0
check "stats: if_${RTR_IN_DEV}_rx_truncated == 0 (nothing larger than the router reads)" \
    expect_eq "$(sv "if_${RTR_IN_DEV}_rx_truncated")" 0
check "stats: no drop_bad_csum (partial checksums are completed, not judged)" \
    expect_eq "$(sv drop_bad_csum)" 0
# The premise of the TCP/UDP checks above: the peers keep their default
# offloads, so the router saw partial checksums on small frames (finished
# here) and GSO super-frames (sent on whole).
check "stats: csum_completed >= 1000 (veth offload left checksums to the router)" \
    expect_ge "$(sv csum_completed)" 1000
check "stats: gso_in >= 1 (TSO super-frames went through whole)" \
    expect_ge "$(sv gso_in)" 1

# SIGUSR1: the same counters on stderr.
kill -USR1 "$GN_ROUTER_PID" 2>/dev/null
check "SIGUSR1 prints the stats to stderr" \
    gn_wait 3 grep -Eq '^forwarded [0-9]+$' "$GN_ROUTER_LOG"

# --- the exit path -----------------------------------------------------------

check "router alive after the whole run" gn_router_alive
lines_before=$(wc -l <"$GN_ROUTER_LOG")
gn_router_stop
check "SIGTERM: router exits 0" expect_eq "$GN_ROUTER_RC" 0
tail -n +"$((lines_before + 1))" "$GN_ROUTER_LOG" >"$GN_RUN/exit.log"
check "--stats: counters printed on exit (forwarded line)" \
    expect_grep "$GN_RUN/exit.log" "^forwarded [0-9]+$"
check "control socket gone after exit" test ! -e "$GN_CTL"

# --- phase 2: restart on the same state, with a config file -------------------

# A config file with an error: exit 2, and the message names file and line.
printf 'gateway %s\nroute 10.0.0.0/8=203.0.113.300\n' "$SRV_IP" >"$GN_RUN/bad.conf"
in_rtr "$GN_ROUTER" --config "$GN_RUN/bad.conf" --inside "$RTR_IN_DEV=$RTR_IN_IP/24" \
    --outside "$RTR_OUT_DEV=$RTR_OUT_IP/24" --state "$GN_RUN/badstate" \
    --control "$GN_RUN/bad.sock" >"$GN_RUN/badconf.out" 2>&1
badconf_rc=$?
check "bad config line: exit status 2" expect_eq "$badconf_rc" 2
check "bad config line: the message names bad.conf:2" \
    expect_grep "$GN_RUN/badconf.out" "bad\.conf:2"

# The default route and a static ARP entry from the file, interfaces from flags.
printf '# phase 2\ngateway %s\narp 203.0.113.77=02:00:00:00:00:77\n' "$SRV_IP" \
    >"$GN_RUN/router.conf"
gn_router_start --config "$GN_RUN/router.conf" ||
    gn_die "router did not restart on its state directory"
check "restart: ping cli -> srv" in_cli ping -c 2 -i 0.2 -W 2 "$SRV_IP"
check "config gateway: ping cli -> 198.51.100.1 now goes to srv, answered" \
    in_cli ping -c 2 -i 0.2 -W 2 198.51.100.1
ctl routes >"$GN_RUN/routes2.out" 2>&1
check "config gateway: routes show a default route via 203.0.113.2" \
    expect_grep "$GN_RUN/routes2.out" "^(default|0\.0\.0\.0/0) via 203\.0\.113\.2"
ctl arp >"$GN_RUN/arp2.out" 2>&1
check "config arp: 203.0.113.77 lladdr 02:00:00:00:00:77 PERMANENT" \
    expect_grep "$GN_RUN/arp2.out" "^203\.0\.113\.77 dev $RTR_OUT_DEV lladdr 02:00:00:00:00:77 PERMANENT"
gn_router_stop INT
check "SIGINT: router exits 0" expect_eq "$GN_ROUTER_RC" 0

gn_summary

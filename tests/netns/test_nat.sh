#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
#
# gitnet-router's NAT44 across namespaces, exercised by real clients: ping,
# curl, iperf3 (TCP and UDP) and traceroute (UDP, ICMP and TCP probes whose
# Time Exceeded errors the router must translate back), a scapy probe that
# checks every field and checksum of a translated ICMP error, a port forward
# reached from outside, hairpinning between two inside hosts, inbound traffic
# that matches nothing (dropped and counted by reason), the three filtering
# modes, the `nat`/`nat-json` dumps and the UDP timeout.
#
#	cli 192.168.1.2, cli2 192.168.1.3 -- lan bridge -- rtr -- srv 203.0.113.2
#	and .3; srv routes 198.18.0.0/15 to a dummy device, so it is the second
#	hop (and the one whose TTL expires) on the way there.
#
# Runtime is about 40 s; every wait is bounded (see lib.sh). GN_ROUTER=PATH
# runs another build; GN_KEEP=1 keeps the run directory.

# shellcheck disable=SC2016,SC2119 # jq programs in single quotes; gn_router_stop takes an optional signal
set -u -o pipefail
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"

gn_require router socat curl iperf3 jq tcpdump ethtool sha256sum scapy traceroute
gn_init
cd "$GN_RUN" || exit 1
gn_topology_lan
gn_udptool

# srv forwards 198.18.0.0/15 into a dead end (a veth pair of its own: the
# dummy driver may be missing): a probe with TTL 2 expires at srv, which
# answers Time Exceeded to the NAT's external address.
in_srv sysctl -qw net.ipv4.ip_forward=1
ip -n "$SRV" link add veth-d0 type veth peer name veth-d1 || gn_die "veth-d0 in srv"
ip -n "$SRV" link set veth-d0 up
ip -n "$SRV" link set veth-d1 up
ip -n "$SRV" route add 198.18.0.0/15 dev veth-d0
FAR=198.18.5.5

IPRE='[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+'
TCP_STATES='(NONE|SYN_SENT|SYN_RECV|ESTABLISHED|FIN_WAIT|CLOSE_WAIT|TIME_WAIT|CLOSE)'
# conntrack -L's line shapes, which `nat` promises to follow.
RE_TCP="^tcp {6}6 [0-9]+ $TCP_STATES src=$IPRE dst=$IPRE sport=[0-9]+ dport=[0-9]+ (\[UNREPLIED\] )?src=$IPRE dst=$IPRE sport=[0-9]+ dport=[0-9]+ (\[ASSURED\] )?mark=0 use=1$"
RE_UDP="^udp {6}17 [0-9]+ src=$IPRE dst=$IPRE sport=[0-9]+ dport=[0-9]+ (\[UNREPLIED\] )?src=$IPRE dst=$IPRE sport=[0-9]+ dport=[0-9]+ (\[ASSURED\] )?mark=0 use=1$"
RE_ICMP="^icmp {5}1 [0-9]+ src=$IPRE dst=$IPRE type=8 code=0 id=[0-9]+ (\[UNREPLIED\] )?src=$IPRE dst=$IPRE type=0 code=0 id=[0-9]+ mark=0 use=1$"

# Lines of file $1 that match none of the conntrack shapes (none: success).
nat_odd_lines()
{
	echo "lines in no conntrack shape:"
	! grep -Ev -- "$RE_TCP|$RE_UDP|$RE_ICMP" "$1"
}

# tcpdump in namespace $1 on $2 with filter $3 into $GN_RUN/$4.pcap.log, in
# the background for at most $5 s; returns once it listens.
capture()
{
	gn_bg "$1" "$4" timeout "$5" tcpdump -i "$2" -n -l -p "$3"
	gn_wait 5 grep -q "listening on" "$GN_RUN/$4.log" ||
	    gn_log "tcpdump $4 did not report listening"
}

# The UDP filtering probe. cli sends from port $1 to srv:5000, srv learns the
# mapping from what it receives, then sends to it from srv:5001, from
# 203.0.113.3:5000 and from srv:5000 (in that order), tagged p5001, alt5000
# and p5000. Leaves cli's log in $GN_RUN/filt.$2.log and the mapping srv saw
# in FILT_EXT.
filter_probe()
{
	local lport=$1 tag=$2 qpid lpid

	gn_bg "$SRV" "filtsrv.$tag" "$GN_UDPTOOL" quiet "$SRV_IP:5000" 6
	qpid=$GN_LAST_PID
	gn_wait_listen 5 "$SRV" 5000 udp || gn_log "udp server not listening"
	gn_bg "$CLI" "filt.$tag" "$GN_UDPTOOL" listen "$lport" "$SRV_IP:5000" 3
	lpid=$GN_LAST_PID
	gn_wait 3 grep -q hello "$GN_RUN/filtsrv.$tag.log"
	FILT_EXT=$(awk '/hello/ { print $3; exit }' "$GN_RUN/filtsrv.$tag.log")
	if [ -n "$FILT_EXT" ]; then
		in_srv "$GN_UDPTOOL" send "$SRV_IP:5001" "$FILT_EXT" p5001
		in_srv "$GN_UDPTOOL" send "$SRV_IP2:5000" "$FILT_EXT" alt5000
		sleep 0.2
		in_srv "$GN_UDPTOOL" send "$SRV_IP:5000" "$FILT_EXT" p5000
	fi
	wait "$lpid" 2>/dev/null
	gn_kill "$qpid"
}

# Wait (bounded, $1 s) until the `nat` dump has no line matching $2.
nat_gone() { ! ctl nat | grep -Eq -- "$1"; }

# --- phase 1: defaults (address-and-port-dependent filtering) + a forward ---

gn_router_start --forward tcp:8080="$CLI_IP":80 --route 198.18.0.0/15="$SRV_IP" ||
    gn_die "router did not start"

capture "$SRV" "$SRV_DEV" "icmp[icmptype] = icmp-echo" echo 8
in_cli ping -c 3 -i 0.2 -W 2 "$SRV_IP" >"$GN_RUN/ping.out" 2>&1
check "ping cli -> srv through the NAT, no loss" \
    expect_grep "$GN_RUN/ping.out" " 3 received, 0% packet loss"
sleep 0.3
check "srv sees the echo requests from 203.0.113.1, never from 192.168.1.2" \
    sh -c "grep -c 'IP $RTR_OUT_IP > $SRV_IP: ICMP echo request' '$GN_RUN/echo.log' |
        grep -qx 3 && ! grep -q '$CLI_IP' '$GN_RUN/echo.log'"
ctl nat >"$GN_RUN/nat.ping"
check "nat dump shows the ping as an icmp session (echo id translated back)" \
    expect_grep "$GN_RUN/nat.ping" "^icmp +1 [0-9]+ src=$CLI_IP dst=$SRV_IP type=8 code=0 id=[0-9]+ src=$SRV_IP dst=$RTR_OUT_IP type=0 code=0 id=[0-9]+ mark=0 use=1$"

# curl: 1 MiB, byte for byte; srv's server logs the client address.
mkdir -p "$GN_RUN/www" "$GN_RUN/www-cli"
head -c 1048576 /dev/urandom >"$GN_RUN/www/blob.bin"
want_sum=$(sha256sum <"$GN_RUN/www/blob.bin" | cut -d' ' -f1)
gn_bg "$SRV" http "$GN_PY" -m http.server 8080 --bind "$SRV_IP" --directory "$GN_RUN/www"
gn_wait_listen 5 "$SRV" 8080 || gn_log "http server in srv not listening"
in_cli curl -sS --max-time 10 -o "$GN_RUN/blob.got" "http://$SRV_IP:8080/blob.bin" \
    >"$GN_RUN/curl.out" 2>&1
check "curl cli -> srv through the NAT: 1 MiB arrives, sha256 matches" \
    expect_eq "$(sha256sum <"$GN_RUN/blob.got" 2>/dev/null | cut -d' ' -f1)" "$want_sum"
check "srv's HTTP server saw the request from 203.0.113.1" \
    expect_grep "$GN_RUN/http.log" "^$RTR_OUT_IP - - .*GET /blob.bin"
check "srv's HTTP server never saw 192.168.1.2" \
    expect_no_grep "$GN_RUN/http.log" "^$CLI_IP "
ctl nat >"$GN_RUN/nat.curl"
check "nat dump: curl's closed connection is tcp TIME_WAIT, 203.0.113.1 outside" \
    expect_grep "$GN_RUN/nat.curl" "^tcp +6 [0-9]+ TIME_WAIT src=$CLI_IP dst=$SRV_IP sport=[0-9]+ dport=8080 src=$SRV_IP dst=$RTR_OUT_IP sport=8080 dport=[0-9]+ \[ASSURED\] mark=0 use=1$"

# iperf3, TCP then UDP.
gn_bg "$SRV" iperf3 iperf3 -s -B "$SRV_IP" -p 5201
gn_wait_listen 5 "$SRV" 5201 || gn_log "iperf3 server not listening"
in_cli timeout 15 iperf3 -J -c "$SRV_IP" -p 5201 -t 3 >"$GN_RUN/tcp.json" 2>&1
tcp_rc=$?
check "iperf3 TCP cli -> srv through the NAT: runs clean" \
    expect_eq "$tcp_rc $(jq -r '.error // "no error"' "$GN_RUN/tcp.json" 2>&1)" "0 no error"
tcp_mbps=$(jq -r '.end.sum_received.bits_per_second // 0 | . / 1e6 | floor' "$GN_RUN/tcp.json" 2>/dev/null)
check "iperf3 TCP through the NAT: received >= 50 Mbit/s (got ${tcp_mbps:-?})" \
    expect_ge "${tcp_mbps:-0}" 50
gn_log "tcp retransmits: $(jq -r '.end.sum_sent.retransmits // "?"' "$GN_RUN/tcp.json" 2>/dev/null)"
in_cli timeout 15 iperf3 -J -u -c "$SRV_IP" -p 5201 -t 2 -b 50M -l 1400 \
    >"$GN_RUN/udp.json" 2>&1
udp_rc=$?
check "iperf3 UDP cli -> srv through the NAT: runs clean" \
    expect_eq "$udp_rc $(jq -r '.error // "no error"' "$GN_RUN/udp.json" 2>&1)" "0 no error"
udp_lost=$(jq -r '.end.sum.lost_packets // -1' "$GN_RUN/udp.json" 2>/dev/null)
udp_total=$(jq -r '.end.sum.packets // 0' "$GN_RUN/udp.json" 2>/dev/null)
udp_lost=${udp_lost:--1} udp_total=${udp_total:-0}
check "iperf3 UDP through the NAT: under 1% of $udp_total datagrams lost (lost $udp_lost)" \
    expect_eq "$(( udp_lost >= 0 && udp_total > 0 && udp_lost * 100 < udp_total ))" 1

# --- TTL probes: ICMP Time Exceeded from srv, translated back to cli ------

stats_snapshot "$GN_RUN/st.ttl0"
for mode in U I T; do
	in_cli timeout 10 traceroute -"$mode" -n -q 1 -w 2 -m 2 "$FAR" \
	    >"$GN_RUN/tr.$mode" 2>&1
	check "traceroute -$mode cli -> $FAR: hop 1 is 192.168.1.1, hop 2 is 203.0.113.2 (srv's Time Exceeded, translated)" \
	    sh -c "cat '$GN_RUN/tr.$mode'; grep -Eq '^ 1  $RTR_IN_IP ' '$GN_RUN/tr.$mode' &&
	        grep -Eq '^ 2  $SRV_IP ' '$GN_RUN/tr.$mode'"
done
stats_snapshot "$GN_RUN/st.ttl1"
check "nat_icmp_errors_translated rose by >= 3 for the three traceroutes" \
    expect_ge "$(stat_delta nat_icmp_errors_translated "$GN_RUN/st.ttl0" "$GN_RUN/st.ttl1")" 3

# The exact translation (RFC 5508): outer destination back to cli, the quoted
# datagram's source address and port back to cli's, and every checksum (ICMP,
# inner IP header, inner UDP, which srv quotes whole) valid.
cat >"$GN_RUN/ttlprobe.py" <<'PY'
import struct, sys
from scapy.all import AsyncSniffer, IP, UDP, ICMP, conf, send
from scapy.utils import checksum

conf.verb = 0
dst, sport = sys.argv[1], int(sys.argv[2])
sn = AsyncSniffer(filter="icmp", count=1, timeout=4)
sn.start()
import time; time.sleep(0.5)
send(IP(dst=dst, ttl=2) / UDP(sport=sport, dport=33434) / b"gitnet-ttl-probe")
sn.join()
if not sn.results:
    print("reply none"); sys.exit(0)
raw = bytes(sn.results[0][IP])
ihl = (raw[0] & 15) * 4
outer, icmp = raw[:ihl], raw[ihl:]
inner = icmp[8:]
iihl = (inner[0] & 15) * 4
iudp = inner[iihl:]
print("outer_src", ".".join(map(str, outer[12:16])))
print("outer_dst", ".".join(map(str, outer[16:20])))
print("outer_ip_csum_ok", checksum(outer) == 0)
print("icmp_type_code", icmp[0], icmp[1])
print("icmp_csum_ok", checksum(icmp) == 0)
print("inner_src", ".".join(map(str, inner[12:16])))
print("inner_dst", ".".join(map(str, inner[16:20])))
print("inner_ip_csum_ok", checksum(inner[:iihl]) == 0)
print("inner_ports", *struct.unpack("!HH", iudp[:4]))
ulen = struct.unpack("!H", iudp[4:6])[0]
if len(iudp) >= ulen:
    ph = inner[12:20] + struct.pack("!BBH", 0, 17, ulen)
    print("inner_udp_csum_ok", checksum(ph + iudp[:ulen]) == 0)
    print("inner_payload", iudp[8:ulen].decode(errors="replace"))
else:
    print("inner_udp_quoted", len(iudp), "of", ulen)
PY
in_cli timeout 15 "$GN_PY" "$GN_RUN/ttlprobe.py" "$FAR" 34567 >"$GN_RUN/ttlprobe.out" 2>&1
pv() { awk -v k="$1" '$1 == k { $1 = ""; sub(/^ /, ""); print; exit }' "$GN_RUN/ttlprobe.out"; }
check "scapy TTL probe: Time Exceeded (11/0) from 203.0.113.2 to 192.168.1.2" \
    expect_eq "$(pv icmp_type_code)|$(pv outer_src)|$(pv outer_dst)" "11 0|$SRV_IP|$CLI_IP"
check "scapy TTL probe: quoted datagram is cli's own: 192.168.1.2:34567 -> $FAR:33434" \
    expect_eq "$(pv inner_src)|$(pv inner_dst)|$(pv inner_ports)|$(pv inner_payload)" \
    "$CLI_IP|$FAR|34567 33434|gitnet-ttl-probe"
check "scapy TTL probe: outer IP, ICMP, inner IP and inner UDP checksums all valid" \
    expect_eq "$(pv outer_ip_csum_ok) $(pv icmp_csum_ok) $(pv inner_ip_csum_ok) $(pv inner_udp_csum_ok)" \
    "True True True True"

# --- port forward: srv reaches cli:80 at 203.0.113.1:8080 ------------------

echo "gitnet forward target $$" >"$GN_RUN/www-cli/page.txt"
gn_bg "$CLI" httpcli "$GN_PY" -m http.server 80 --bind "$CLI_IP" --directory "$GN_RUN/www-cli"
gn_wait_listen 5 "$CLI" 80 || gn_log "http server in cli not listening"
stats_snapshot "$GN_RUN/st.fwd0"
in_srv curl -sS --max-time 5 "http://$RTR_OUT_IP:8080/page.txt" >"$GN_RUN/fwd.got" 2>&1
stats_snapshot "$GN_RUN/st.fwd1"
check "forward: curl srv -> 203.0.113.1:8080 gets cli's page" \
    expect_eq "$(cat "$GN_RUN/fwd.got")" "gitnet forward target $$"
check "forward: cli's server saw srv's own address (a forward translates the destination only)" \
    expect_grep "$GN_RUN/httpcli.log" "^$SRV_IP - - .*GET /page.txt"
ctl nat >"$GN_RUN/nat.fwd"
check "forward: nat dump shows the session 192.168.1.2:80 <-> 203.0.113.1:8080" \
    expect_grep "$GN_RUN/nat.fwd" "^tcp +6 [0-9]+ $TCP_STATES src=$CLI_IP dst=$SRV_IP sport=80 dport=[0-9]+ src=$SRV_IP dst=$RTR_OUT_IP sport=[0-9]+ dport=8080 \[ASSURED\] mark=0 use=1$"
check "forward: nat_out2in rose" \
    expect_ge "$(stat_delta nat_out2in "$GN_RUN/st.fwd0" "$GN_RUN/st.fwd1")" 3

# --- hairpinning: cli2 reaches cli's forward by the external address -------

stats_snapshot "$GN_RUN/st.hp0"
in_cli2 curl -sS --max-time 5 "http://$RTR_OUT_IP:8080/page.txt?hairpin" >"$GN_RUN/hp.got" 2>&1
stats_snapshot "$GN_RUN/st.hp1"
check "hairpin: curl cli2 -> 203.0.113.1:8080 gets cli's page" \
    expect_eq "$(cat "$GN_RUN/hp.got")" "gitnet forward target $$"
check "hairpin: cli's server saw the connection from 203.0.113.1 (cli2's external mapping, RFC 4787 REQ-9)" \
    expect_grep "$GN_RUN/httpcli.log" "^$RTR_OUT_IP - - .*GET /page.txt\?hairpin"
check "hairpin: nat_hairpinned rose" \
    expect_ge "$(stat_delta nat_hairpinned "$GN_RUN/st.hp0" "$GN_RUN/st.hp1")" 3
ctl nat >"$GN_RUN/nat.hp"
check "hairpin: cli2's outbound session is in the dump (192.168.1.3 -> 203.0.113.1:8080)" \
    expect_grep "$GN_RUN/nat.hp" "^tcp +6 [0-9]+ $TCP_STATES src=$CLI2_IP dst=$RTR_OUT_IP sport=[0-9]+ dport=8080 "

# --- unsolicited inbound: nothing reaches cli, drops counted by reason -----

capture "$CLI" "$CLI_DEV" "udp or tcp" leak 6
stats_snapshot "$GN_RUN/st.uns0"
# No mapping on these ports of the external address.
in_srv "$GN_UDPTOOL" send "$SRV_IP:6000" "$RTR_OUT_IP:40777" nomap
in_srv timeout 2 bash -c "exec 3<>/dev/tcp/$RTR_OUT_IP/40778" 2>/dev/null
stats_snapshot "$GN_RUN/st.uns1"
# Straight to the inside address (srv's default route is the router).
in_srv "$GN_UDPTOOL" send "$SRV_IP:6001" "$CLI_IP:40779" direct
in_srv timeout 2 bash -c "exec 3<>/dev/tcp/$CLI_IP/40780" 2>/dev/null
stats_snapshot "$GN_RUN/st.uns2"
sleep 0.5
check "unsolicited: nothing from srv reached cli (tcpdump in cli)" \
    expect_no_grep "$GN_RUN/leak.log" "$SRV_IP\."
# External addresses (the outside one and the pool's) are also the router's
# own: a packet for one that no mapping claims goes to the router (UDP gets
# port unreachable, as from any host) and counts drop_local, not
# drop_nat_no_mapping; either reason is accepted, and logged.
nomap=$(stat_delta drop_nat_no_mapping "$GN_RUN/st.uns0" "$GN_RUN/st.uns1")
uns_local=$(stat_delta drop_local "$GN_RUN/st.uns0" "$GN_RUN/st.uns1")
gn_log "unmapped ports of 203.0.113.1: drop_nat_no_mapping +$nomap, drop_local +$uns_local"
check "unsolicited to 203.0.113.1 on unmapped ports: dropped and counted (drop_nat_no_mapping + drop_local >= 2)" \
    expect_ge "$((nomap + uns_local))" 2
check "unsolicited straight to 192.168.1.2: drop_nat_unsolicited rose by >= 2 (udp, tcp)" \
    expect_ge "$(stat_delta drop_nat_unsolicited "$GN_RUN/st.uns1" "$GN_RUN/st.uns2")" 2

# --- filtering: address-and-port-dependent (the default) -------------------

stats_snapshot "$GN_RUN/st.f0"
filter_probe 40100 apdf
stats_snapshot "$GN_RUN/st.f1"
check "mapping: srv sees cli's port 40100 as 203.0.113.1:40100 (port preserved)" \
    expect_eq "$FILT_EXT" "$RTR_OUT_IP:40100"
check "filtering address-port: reply from srv:5000 delivered" \
    expect_grep "$GN_RUN/filt.apdf.log" "^from $SRV_IP:5000 p5000$"
check "filtering address-port: srv:5001 and 203.0.113.3:5000 refused" \
    expect_no_grep "$GN_RUN/filt.apdf.log" "p5001|alt5000"
check "filtering address-port: drop_nat_filtered rose by 2" \
    expect_eq "$(stat_delta drop_nat_filtered "$GN_RUN/st.f0" "$GN_RUN/st.f1")" 2

# --- the dumps ---------------------------------------------------------------

ctl nat >"$GN_RUN/nat.all"
ctl nat-json >"$GN_RUN/nat.json"
check "nat: every line is in a conntrack -L shape (tcp/udp/icmp)" \
    nat_odd_lines "$GN_RUN/nat.all"
check "nat: holds the filtering probe's udp session, replied" \
    expect_grep "$GN_RUN/nat.all" "^udp +17 [0-9]+ src=$CLI_IP dst=$SRV_IP sport=40100 dport=5000 src=$SRV_IP dst=$RTR_OUT_IP sport=5000 dport=40100 \[ASSURED\] mark=0 use=1$"
check "nat-json: valid JSON (python3 -m json.tool)" \
    "$GN_PY" -m json.tool "$GN_RUN/nat.json"
check "nat-json: an array whose every element has the session fields" \
    jq -e 'type == "array" and length > 0 and all(.[];
        (.proto | IN("tcp", "udp", "icmp")) and has("state") and
        (.timeout | type == "number") and (.inside.ip | type == "string") and
        (.inside.port | type == "number") and (.external.ip | type == "string") and
        (.external.port | type == "number") and (.remote.ip | type == "string") and
        (.remote.port | type == "number") and (.replied | type == "boolean") and
        (.inbound | type == "boolean") and (.static | type == "boolean") and
        (.created | type == "number") and (.expires | type == "number"))' "$GN_RUN/nat.json"
check "nat-json: the udp probe session with its exact endpoints" \
    jq -e --arg c "$CLI_IP" --arg e "$RTR_OUT_IP" --arg s "$SRV_IP" 'any(.[];
        .proto == "udp" and .state == null and .inside == {ip: $c, port: 40100} and
        .external == {ip: $e, port: 40100} and .remote == {ip: $s, port: 5000} and
        .replied and (.inbound | not) and (.static | not) and
        .timeout > 250 and .timeout <= 300)' "$GN_RUN/nat.json"
check "nat-json: the forward's session is static and inbound, 80 <-> 8080" \
    jq -e --arg c "$CLI_IP" --arg e "$RTR_OUT_IP" 'any(.[];
        .proto == "tcp" and (.state | type == "string") and
        .inside == {ip: $c, port: 80} and .external == {ip: $e, port: 8080} and
        .static and .inbound)' "$GN_RUN/nat.json"
check "nat and nat-json list the same number of sessions ($(grep -c . "$GN_RUN/nat.all") lines)" \
    expect_eq "$(jq length "$GN_RUN/nat.json")" "$(grep -c . "$GN_RUN/nat.all")"

gn_router_stop
check "router (defaults) exited 0 on TERM" expect_eq "$GN_ROUTER_RC" 0

# --- phase 2: endpoint-independent filtering, UDP hairpin -----------------
# Each phase has a state directory of its own: the router restores the NAT
# table from its state, and a phase must not inherit the last one's sessions.

gn_router_start --state "$GN_RUN/state.eif" --nat-filtering endpoint || gn_die "router did not start (endpoint)"
filter_probe 40200 eif
check "filtering endpoint: srv:5000, srv:5001 and 203.0.113.3:5000 all delivered" \
    expect_eq "$(grep -Ec "^from ($SRV_IP:5000 p5000|$SRV_IP:5001 p5001|$SRV_IP2:5000 alt5000)$" \
        "$GN_RUN/filt.eif.log")" 3
# UDP hairpin: cli2 sends to cli's mapping; endpoint-independent filtering
# admits it, and it arrives from cli2's external mapping.
gn_bg "$CLI" hpudp "$GN_UDPTOOL" listen 40300 "$SRV_IP:5000" 3
hp_pid=$GN_LAST_PID
sleep 0.5
in_cli2 "$GN_UDPTOOL" send "0.0.0.0:40301" "$RTR_OUT_IP:40300" hairpin-udp
wait "$hp_pid" 2>/dev/null
check "hairpin udp (endpoint filtering): cli gets cli2's datagram from 203.0.113.1:40301" \
    expect_grep "$GN_RUN/hpudp.log" "^from $RTR_OUT_IP:40301 hairpin-udp$"
gn_router_stop

# --- phase 3: address-dependent filtering ---------------------------------

gn_router_start --state "$GN_RUN/state.adf" --nat-filtering address || gn_die "router did not start (address)"
stats_snapshot "$GN_RUN/st.a0"
filter_probe 40400 adf
stats_snapshot "$GN_RUN/st.a1"
check "filtering address: srv:5000 and srv:5001 delivered" \
    expect_eq "$(grep -Ec "^from ($SRV_IP:5000 p5000|$SRV_IP:5001 p5001)$" \
        "$GN_RUN/filt.adf.log")" 2
check "filtering address: 203.0.113.3:5000 refused, drop_nat_filtered rose by 1" \
    expect_eq "$(grep -c alt5000 "$GN_RUN/filt.adf.log")/$(stat_delta drop_nat_filtered \
        "$GN_RUN/st.a0" "$GN_RUN/st.a1")" "0/1"
gn_router_stop

# --- phase 4: UDP timeout --------------------------------------------------

POOL_IP=203.0.113.10
gn_router_start --state "$GN_RUN/state.tmo" --udp-timeout 2 --nat-pool "$POOL_IP" ||
    gn_die "router did not start (udp timeout)"
capture "$CLI" "$CLI_DEV" "udp or tcp" leak2 5
stats_snapshot "$GN_RUN/st.p0"
in_srv "$GN_UDPTOOL" send "$SRV_IP:6002" "$POOL_IP:40781" nomap-pool
in_srv timeout 2 bash -c "exec 3<>/dev/tcp/$POOL_IP/40782" 2>/dev/null
stats_snapshot "$GN_RUN/st.p1"
nomap=$(stat_delta drop_nat_no_mapping "$GN_RUN/st.p0" "$GN_RUN/st.p1")
uns_local=$(stat_delta drop_local "$GN_RUN/st.p0" "$GN_RUN/st.p1")
gn_log "unmapped ports of the pool address: drop_nat_no_mapping +$nomap, drop_local +$uns_local"
check "unsolicited to the pool address 203.0.113.10: dropped and counted (drop_nat_no_mapping + drop_local >= 2)" \
    expect_ge "$((nomap + uns_local))" 2
check "unsolicited to the pool address: nothing reached cli" \
    expect_no_grep "$GN_RUN/leak2.log" "$SRV_IP\."

gn_bg "$SRV" udpsrv "$GN_UDPTOOL" serve "$SRV_IP:5000" 10
gn_wait_listen 5 "$SRV" 5000 udp || gn_log "udp server not listening"
stats_snapshot "$GN_RUN/st.t0"
in_cli "$GN_UDPTOOL" ask 40500 "$SRV_IP:5000" >"$GN_RUN/ask.t" 2>&1
t0=$(date +%s.%N)
ctl nat >"$GN_RUN/nat.t0"
check "udp timeout 2: the session is in the dump with timeout <= 2" \
    expect_grep "$GN_RUN/nat.t0" "^udp +17 [012] src=$CLI_IP dst=$SRV_IP sport=40500 dport=5000 "
gn_wait 6 nat_gone "sport=40500 dport=5000"
gone=$?
t1=$(date +%s.%N)
took=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
check "udp timeout 2: the session left the dump after ${took}s (within 6 s)" \
    expect_eq "$gone" 0
check "udp timeout 2: it did not leave before its 2 s were up" \
    expect_eq "$(awk -v t="$took" 'BEGIN { print (t >= 1.8) }')" 1
# The dump hides a session once it has expired; the counter rises when the
# router's sweep removes it, ten sweeps a second: allow it a moment.
expired_rose() {
	stats_snapshot "$GN_RUN/st.t1"
	[ "$(stat_delta nat_sessions_expired "$GN_RUN/st.t0" "$GN_RUN/st.t1")" -ge 1 ]
}
gn_wait 2 expired_rose
check "udp timeout 2: nat_sessions_expired rose" \
    expect_ge "$(stat_delta nat_sessions_expired "$GN_RUN/st.t0" "$GN_RUN/st.t1")" 1
gn_router_stop
check "router exited 0 on TERM after the last phase" expect_eq "$GN_ROUTER_RC" 0

gn_summary

#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
#
# Crafted and broken frames from cli at gitnet-router (scapy, on Debian's
# python): truncated and lying IPv4 headers, bad checksums, VLAN tags, stray
# ethertypes, malformed, misdirected and unsolicited ARP, martian sources and
# destinations, directed broadcasts, TTL 1, a frame for another MAC, UDP to
# the router itself, an ARP spoof of cli's address, a TCP SYN whose MSS
# option has length 0, IPv4 options and fragments (which must still be
# forwarded), frames too large for the ring slots, and a burst of random
# bytes. Each drop counter must grow by exactly the number of frames sent for
# it (craft.py's table below names the counter of each group), and the
# router must still be alive and forwarding at the end.
#
# Runtime is about 10 s; every wait is bounded (see lib.sh). GN_SEED and
# GN_NRAND replay or enlarge the random burst; GN_ROUTER=PATH runs another
# build (an ASan one finds what a crash-free run hides).

set -u -o pipefail
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"

gn_require router scapy socat ethtool
gn_init
cd "$GN_RUN" || exit 1

# Frames per targeted category: an exact, odd count, so an off-by-one or a
# double count shows in the deltas.
K=7
# Larger than the router's 2048-byte ring slots, below the MTU set below.
BIG=2600

gn_topology
# Let cli put a frame larger than a ring slot on the wire (veth drops frames
# above the receiving end's MTU, so the router's end needs room too).
ip -n "$CLI" link set "$CLI_DEV" mtu 3000
ip -n "$RTR" link set "$RTR_IN_DEV" mtu 3000
gn_router_start --stats || gn_die "router did not start"
check "ping cli -> srv before the storm" in_cli ping -c 2 -i 0.2 -W 2 "$SRV_IP"

cat >"$GN_RUN/craft.py" <<'EOF'
# craft.py MODE: send crafted frames from cli (argv below); see the shell.
import random, sys, time
from scapy.all import (ARP, ICMP, IP, IPv6, TCP, UDP, Dot1Q, Ether, Raw,
                       AsyncSniffer, IPOption, conf, fragment, raw, sendp)

conf.verb = 0
mode, iface, rmac, cmac, cip, sip, k = sys.argv[1:8]
k = int(k)
eth = Ether(dst=rmac, src=cmac)
bcast = "ff:ff:ff:ff:ff:ff"
# Raw bytes after Ether get scapy's default type (0x9000): say IPv4.
eth4 = Ether(dst=rmac, src=cmac, type=0x0800)
udp = IP(src=cip, dst=sip) / UDP(sport=40000, dport=9) / Raw(b"x" * 18)

def ip_bytes(pkt):
    return bytearray(raw(pkt))

def patched(first=None, tot=None, csum_bad=False):
    b = ip_bytes(IP(src=cip, dst=sip) / UDP(sport=40001, dport=9) / Raw(b"y" * 18))
    if first is not None:
        b[0] = first
    if tot is not None:
        b[2:4] = tot.to_bytes(2, "big")
    # A correct checksum over the (patched) 20-byte header, so that only the
    # intended defect is present; then spoil it if asked.
    b[10:12] = b"\0\0"
    c = sum(int.from_bytes(b[i:i + 2], "big") for i in range(0, 20, 2))
    c = (c & 0xffff) + (c >> 16)
    c = (c & 0xffff) + (c >> 16)
    b[10:12] = (~c & 0xffff).to_bytes(2, "big")
    if csum_bad:
        b[10] ^= 0x5a
    return bytes(b)

def arp_raw(hlen, plen):
    # An ARP request for 192.168.1.1 with the given address lengths.
    ha = lambda: bytes.fromhex(cmac.replace(":", ""))[:hlen].ljust(hlen, b"\0")
    pa = lambda ip: bytes(int(x) for x in ip.split(".")).ljust(plen, b"\0")
    # Padded to the 46-byte Ethernet minimum, as it would arrive from a
    # wire: long enough for a 28-byte ARP body, so only the sizes are wrong.
    return (bytes.fromhex("00010800") + bytes([hlen, plen]) + b"\x00\x01" +
            ha() + pa(cip) + b"\0" * hlen + pa("192.168.1.1")).ljust(46, b"\0")

cats = {
    # 10 bytes of a 20-byte header.
    "short": eth4 / Raw(bytes(ip_bytes(udp)[:10])),
    # IHL 3 (12 bytes), and IHL 15 (60 bytes) in a 46-byte packet.
    "bad_hlen": [eth4 / Raw(patched(first=0x43)), eth4 / Raw(patched(first=0x4f))],
    "bad_csum": eth4 / Raw(patched(csum_bad=True)),
    "bad_version": eth4 / Raw(patched(first=0x65)),
    # total length 1000 in a 46-byte packet, and 12 (below the header).
    "bad_len": [eth4 / Raw(patched(tot=1000)), eth4 / Raw(patched(tot=12))],
    # 802.1Q, 802.1ad and the old 0x9100 tag, each over a good packet.
    "vlan": [eth / Dot1Q(vlan=10) / udp,
             Ether(dst=rmac, src=cmac, type=0x88a8) / Dot1Q(vlan=20) / udp,
             Ether(dst=rmac, src=cmac, type=0x9100) / Dot1Q(vlan=30) / udp],
    # A made-up ethertype, and IPv6 (the router is IPv4-only).
    "ethertype": [Ether(dst=rmac, src=cmac, type=0x1234) / Raw(b"\0" * 46),
                  eth / IPv6(src="fe80::1", dst="fe80::2") / UDP() / Raw(b"z" * 8)],
    # Hardware length 5, and protocol length 16, in ARP requests for us.
    "arp_bad": [Ether(dst="ff:ff:ff:ff:ff:ff", src=cmac, type=0x0806) / Raw(arp_raw(5, 4)),
                Ether(dst="ff:ff:ff:ff:ff:ff", src=cmac, type=0x0806) / Raw(arp_raw(6, 16))],
    # Who-has for an address that is not the router's; from a sender off
    # the inside subnet; a reply nobody asked for.
    "arp_not_ours": Ether(dst=bcast, src=cmac) /
                    ARP(op=1, hwsrc=cmac, psrc=cip, pdst="192.168.1.50"),
    "arp_offnet": Ether(dst=bcast, src=cmac) /
                  ARP(op=1, hwsrc=cmac, psrc="10.9.9.9", pdst="192.168.1.1"),
    "arp_unsolicited": Ether(dst=rmac, src=cmac) /
                       ARP(op=2, hwsrc="02:00:00:00:00:77", psrc="192.168.1.77",
                           hwdst=rmac, pdst="192.168.1.1"),
    # RFC 1812 5.3.7: loopback, this-network, multicast and the router's own
    # address as sources.
    "martian_src": [eth / IP(src=s, dst=sip) / UDP(dport=9) / Raw(b"m" * 18)
                    for s in ("127.0.0.1", "0.0.0.0", "224.0.0.1", "192.168.1.1")],
    # Multicast; both subnets' directed broadcasts (RFC 2644: not forwarded
    # by default); a unicast packet in a link-layer broadcast (RFC 1812 5.3.4).
    "martian_dst": [eth / IP(src=cip, dst=d) / UDP(dport=9) / Raw(b"m" * 18)
                    for d in ("239.1.2.3", "192.168.1.255", "203.0.113.255")] +
                   [Ether(dst=bcast, src=cmac) / udp],
    # UDP to the router itself: nothing listens (it answers port unreachable).
    "local": eth / IP(src=cip, dst="192.168.1.1") / UDP(sport=40004, dport=53) / Raw(b"q" * 18),
    "ttl_exceeded": eth / IP(src=cip, dst=sip, ttl=1) / UDP(dport=9) / Raw(b"t" * 18),
    # Unicast to a MAC that is not the router's.
    "not_for_us": Ether(dst="02:00:00:00:00:99", src=cmac) / udp,
}

def frames_of(cat):
    f = cats[cat]
    return f if isinstance(f, list) else [f]

if mode == "list":
    for c in cats:
        print(c, k * len(frames_of(c)))
elif mode == "targeted":
    # k of each frame of each category; the shell expects exactly that many.
    for c in cats:
        for f in frames_of(c):
            sendp([f] * k, iface=iface)
elif mode == "spoof":
    # A gratuitous ARP claiming cli's address for another MAC.
    sendp(Ether(dst=bcast, src=cmac) /
          ARP(op=1, hwsrc="02:de:ad:be:ef:01", psrc=cip, pdst=cip), iface=iface)
elif mode == "oversize":
    # A well-formed UDP packet in a frame larger than a ring slot.
    big = int(sys.argv[8])
    pkt = eth / IP(src=cip, dst=sip) / UDP(sport=40002, dport=9) / Raw(b"B" * (big - 42))
    sendp([pkt] * k, iface=iface)
elif mode in ("options", "fragments", "mss0"):
    # Send, then wait (bounded) for srv's answer to come back through the router.
    if mode == "options":
        # IHL 6: NOP NOP NOP EOL; an echo request srv answers.
        out = [eth / IP(src=cip, dst=sip, options=[IPOption(b"\x01\x01\x01\x00")]) /
               ICMP(id=0x4242, seq=1) / Raw(b"o" * 32)]
        bpf = "icmp and src host %s and icmp[icmptype] = icmp-echoreply" % sip
    elif mode == "fragments":
        # A 3000-byte echo request in three fragments: srv reassembles and
        # answers (also in fragments); the first answer fragment suffices.
        out = [eth / f for f in fragment(IP(src=cip, dst=sip) /
               ICMP(id=0x4343, seq=1) / Raw(b"f" * 3000), fragsize=1000)]
        bpf = "src host %s and (icmp or (ip[6:2] & 0x1fff != 0))" % sip
    else:
        # RFC 793 option kind 2 with length 0 (MirageOS 2014): NOP, MSS, len 0, pad.
        out = [eth / IP(src=cip, dst=sip) /
               TCP(sport=40003, dport=8080, flags="S", seq=1000, dataofs=6) /
               Raw(b"\x01\x02\x00\x00")]
        bpf = "tcp and src host %s and src port 8080" % sip
    sn = AsyncSniffer(iface=iface, filter=bpf, count=1, timeout=3)
    sn.start()
    time.sleep(0.3)
    sendp(out, iface=iface)
    sn.join()
    got = sn.results or []
    print("answered" if got else "silent")
    sys.exit(0 if got else 1)
elif mode == "random":
    # k frames of random bytes to the router's MAC: random ethertype (half of
    # them IPv4 or ARP so the deeper parsers see garbage too), random length.
    rnd = random.Random(int(sys.argv[8]))
    out = []
    for i in range(k):
        et = rnd.choice([0x0800, 0x0800, 0x0806, 0x8100, rnd.randrange(0x10000)])
        n = rnd.choice([rnd.randrange(0, 60), rnd.randrange(0, 1500 - 14)])
        if et in (0x8100, 0x88a8) and n < 8:
            # The kernel itself drops a tagged frame too short to untag,
            # before any packet socket sees it; keep the count exact.
            n = 8
        body = bytes(rnd.randrange(256) for _ in range(n))
        f = bytes.fromhex(rmac.replace(":", "")) + bytes.fromhex(cmac.replace(":", "")) + \
            et.to_bytes(2, "big") + body
        out.append(Raw(f))
    sendp(out, iface=iface)
    print("sent", len(out))
EOF

craft() {
	in_cli "$GN_PY" "$GN_RUN/craft.py" "$1" "$CLI_DEV" "$RTR_IN_MAC" "$CLI_MAC" \
	    "$CLI_IP" "$SRV_IP" "${2:-$K}" "${@:3}"
}

# --- targeted categories: each counter grows by exactly what was sent ----

# wait_rx SNAPSHOT N: until the router has counted N more received frames
# than in SNAPSHOT (bounded: 5 s), so the deltas below are complete.
rx_at_least() { [ "$(stat_get rx)" -ge "$1" ] 2>/dev/null; }
wait_rx()
{
	local base
	base=$(awk '$1 == "rx" { print $2 }' "$1")
	gn_wait 5 rx_at_least $((base + $2)) ||
	    gn_log "router counted fewer than $2 new frames within 5 s"
}

craft list "$K" >"$GN_RUN/cats.txt" || gn_die "craft.py list failed"
stats_snapshot "$GN_RUN/s0"
craft targeted "$K" >"$GN_RUN/targeted.out" 2>&1 ||
    { sed 's/^/#   /' "$GN_RUN/targeted.out"; gn_die "craft.py targeted failed"; }
wait_rx "$GN_RUN/s0" "$(awk '{ n += $2 } END { print n }' "$GN_RUN/cats.txt")"
stats_snapshot "$GN_RUN/s1"
check "router alive after the targeted frames" gn_router_alive
while read -r cat n; do
	check "drop_$cat grew by $n" expect_eq "$(stat_delta "drop_$cat" "$GN_RUN/s0" "$GN_RUN/s1")" "$n"
done <"$GN_RUN/cats.txt"
check "no frame of the targeted set was forwarded" \
    expect_eq "$(stat_delta forwarded "$GN_RUN/s0" "$GN_RUN/s1")" 0

# --- ARP spoofing ---------------------------------------------------------------

# DESIGN.md 7: a changed MAC is recorded, not silently accepted. Either the
# router refuses it (entry unchanged, arp_lladdr_refused) or takes it and
# says so (arp_lladdr_changes).
stats_snapshot "$GN_RUN/sp0"
craft spoof 1 >/dev/null 2>&1
wait_rx "$GN_RUN/sp0" 1
stats_snapshot "$GN_RUN/sp1"
spoof_mac=changed
ctl arp >"$GN_RUN/spoof.arp"
grep -qi "^$CLI_IP dev $RTR_IN_DEV lladdr $CLI_MAC " "$GN_RUN/spoof.arp" && spoof_mac=same
check "gratuitous ARP with a new MAC for 192.168.1.2: refused, or recorded as a change" \
    expect_one_of "refused +$(stat_delta arp_lladdr_refused "$GN_RUN/sp0" "$GN_RUN/sp1") changes +$(stat_delta arp_lladdr_changes "$GN_RUN/sp0" "$GN_RUN/sp1") mac $spoof_mac" \
    "refused +1 changes +0 mac same" "refused +0 changes +1 mac changed"

# --- must still be forwarded --------------------------------------------------

check "IPv4 with options (IHL 6) cli -> srv is forwarded, echo answered" \
    craft options 1
check "a fragmented 3000-byte echo cli -> srv is forwarded, srv answers" \
    craft fragments 1

# A SYN with a zero-length MSS option: a plain router may forward it (srv's
# Linux stops parsing options and answers) or drop it as tcp_bad_opt; either
# is fine, silently losing it without a count is not.
stats_snapshot "$GN_RUN/s2"
craft mss0 1 >"$GN_RUN/mss0.out" 2>&1
sleep 0.2
stats_snapshot "$GN_RUN/s3"
mss0_drop=$(stat_delta drop_tcp_bad_opt "$GN_RUN/s2" "$GN_RUN/s3")
gn_log "SYN with MSS length 0: srv $(cat "$GN_RUN/mss0.out"), drop_tcp_bad_opt +$mss0_drop"
check "SYN with MSS option length 0: forwarded (srv answered) or counted tcp_bad_opt" \
    expect_one_of "$(cat "$GN_RUN/mss0.out") +$mss0_drop" "answered +0" "silent +1"
check "router alive after the MSS-0 SYN" gn_router_alive

# --- larger than a ring slot --------------------------------------------------

stats_snapshot "$GN_RUN/s4"
craft oversize "$K" "$BIG" >/dev/null 2>&1
sleep 0.3
stats_snapshot "$GN_RUN/s5"
# Counted either by the pipeline (drop_oversize) or, when the ring slot
# truncated it, by the I/O layer (if_<dev>_rx_truncated); once, not twice.
over=$(( $(stat_delta drop_oversize "$GN_RUN/s4" "$GN_RUN/s5") +
    $(stat_delta "if_${RTR_IN_DEV}_rx_truncated" "$GN_RUN/s4" "$GN_RUN/s5") ))
check "$BIG-byte frames (> 2048-byte slots): drop_oversize + if_${RTR_IN_DEV}_rx_truncated grew by $K" \
    expect_eq "$over" "$K"
check "oversize frames were not forwarded" \
    expect_eq "$(stat_delta forwarded "$GN_RUN/s4" "$GN_RUN/s5")" 0

# --- random bytes ---------------------------------------------------------------

NRAND=${GN_NRAND:-300}
SEED=${GN_SEED:-$RANDOM}
gn_log "random burst: $NRAND frames, seed $SEED (GN_SEED=$SEED to replay)"
stats_snapshot "$GN_RUN/s6"
craft random "$NRAND" "$SEED" >"$GN_RUN/random.out" 2>&1
wait_rx "$GN_RUN/s6" "$NRAND"
stats_snapshot "$GN_RUN/s7"
check "router alive after $NRAND random frames" gn_router_alive
check "router received the random frames (rx grew by >= $NRAND)" \
    expect_ge "$(stat_delta rx "$GN_RUN/s6" "$GN_RUN/s7")" "$NRAND"

# --- and it still works ---------------------------------------------------------

check "ping cli -> srv after the storm" in_cli ping -c 3 -i 0.2 -W 2 "$SRV_IP"
check "ping cli -> router after the storm" in_cli ping -c 2 -i 0.2 -W 2 "$RTR_IN_IP"
ctl stats >"$GN_RUN/final.stats"
check "control socket still answers" expect_grep "$GN_RUN/final.stats" '^forwarded [0-9]+$'
gn_router_stop
check "SIGTERM: router exits 0" expect_eq "$GN_ROUTER_RC" 0

gn_summary

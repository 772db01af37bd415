#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Write seed inputs for tests/fuzz/pipeline_fuzz.c into the folder given.

Seeds are built here rather than kept as binary files, so each one reads as
what it is. Record format (see the fuzz target): 0x00|iface<<1|partial<<2
(|offload<<3|kind<<4),
len16, frame  or  0x01, ms16.
"""
import os
import struct
import sys

R_IN = bytes([2, 0, 0, 0, 1, 1])      # router inside MAC, 192.168.1.1
R_OUT = bytes([2, 0, 0, 0, 2, 1])     # router outside MAC, 203.0.113.1
CLI = bytes([2, 0, 0, 0, 1, 2])       # 192.168.1.2
SRV = bytes([2, 0, 0, 0, 2, 2])       # 203.0.113.2
BCAST = b"\xff" * 6


def ip(s):
    return bytes(int(x) for x in s.split("."))


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def eth(dst, src, typ, payload):
    return dst + src + struct.pack("!H", typ) + payload


def arp(op, sha, spa, tha, tpa):
    return struct.pack("!HHBBH", 1, 0x0800, 6, 4, op) + sha + ip(spa) + tha + ip(tpa)


def ipv4(src, dst, proto, payload, ttl=64, opts=b"", frag=0):
    ihl = 5 + len(opts) // 4
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, ihl * 4 + len(payload), 1, frag,
                    ttl, proto, 0, ip(src), ip(dst)) + opts
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def udp(sport, dport, data):
    return struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data


def tcp_syn(sport, dport, opts):
    off = (20 + len(opts)) // 4
    return struct.pack("!HHIIBBHHH", sport, dport, 1, 0, off << 4, 0x02, 65535, 0, 0) + opts


def icmp_echo(data):
    h = struct.pack("!BBHHH", 8, 0, 0, 0x1234, 1) + data
    return h[:2] + struct.pack("!H", csum(h)) + h[4:]


def frame(f, iface=0, partial=False):
    return bytes([(iface << 1) | (4 if partial else 0)]) + struct.pack("!H", len(f)) + f


def frame_offload(f, iface=0, kind=1):
    """A frame with a virtio-net header: kind 1 TCPv4 GSO, 2 UDP_L4, 0 none."""
    return bytes([(iface << 1) | 8 | (kind << 4)]) + struct.pack("!H", len(f)) + f


def tick(ms):
    return b"\x01" + struct.pack("!H", ms)


ARP_REQ = eth(BCAST, CLI, 0x0806, arp(1, CLI, "192.168.1.2", b"\0" * 6, "192.168.1.1"))
ARP_REP_SRV = eth(R_OUT, SRV, 0x0806, arp(2, SRV, "203.0.113.2", R_OUT, "203.0.113.1"))
UDP_FWD = eth(R_IN, CLI, 0x0800, ipv4("192.168.1.2", "203.0.113.2", 17, udp(5000, 53, b"x" * 18)))
PING_US = eth(R_IN, CLI, 0x0800, ipv4("192.168.1.2", "192.168.1.1", 1, icmp_echo(b"abcdefgh")))
TTL1 = eth(R_IN, CLI, 0x0800, ipv4("192.168.1.2", "8.8.8.8", 17, udp(1, 2, b"t"), ttl=1))
SYN_MSS0 = eth(R_IN, CLI, 0x0800, ipv4("192.168.1.2", "203.0.113.2", 6,
                                       tcp_syn(40000, 80, b"\x02\x00\x00\x00")))
SYN_OPTS = eth(R_IN, CLI, 0x0800, ipv4("192.168.1.2", "203.0.113.2", 6,
               tcp_syn(40001, 80, b"\x02\x04\x05\xb4\x04\x02\x08\x0a" + b"\0" * 8 + b"\x01\x03\x03\x07")))
IPOPTS = eth(R_IN, CLI, 0x0800, ipv4("192.168.1.2", "203.0.113.2", 17, udp(1, 2, b"o"),
                                     opts=b"\x94\x04\x00\x00"))
FRAG = eth(R_IN, CLI, 0x0800, ipv4("192.168.1.2", "203.0.113.2", 17, b"later-frag", frag=0x0010))

# NAT round trips. Dynamic ports are 61000-61031 in the fuzz target, so an
# inside port in that range is preserved and the reply can be addressed.
def tcp(sport, dport, flags):
    return struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 5 << 4, flags, 65535, 0, 0)


def icmp_err(typ, code, quoted):
    h = struct.pack("!BBHI", typ, code, 0, 0) + quoted
    return h[:2] + struct.pack("!H", csum(h)) + h[4:]


def icmp_echo_reply(ident, data):
    h = struct.pack("!BBHHH", 0, 0, 0, ident, 1) + data
    return h[:2] + struct.pack("!H", csum(h)) + h[4:]


NAT_OUT = ipv4("192.168.1.2", "203.0.113.2", 17, udp(61005, 53, b"q" * 12))
NAT_UDP_OUT = eth(R_IN, CLI, 0x0800, NAT_OUT)
NAT_UDP_IN = eth(R_OUT, SRV, 0x0800, ipv4("203.0.113.2", "203.0.113.1", 17, udp(53, 61005, b"a" * 12)))
NAT_ICMP_ERR = eth(R_OUT, SRV, 0x0800, ipv4("203.0.113.2", "203.0.113.1", 1, icmp_err(
    3, 3, ipv4("203.0.113.1", "203.0.113.2", 17, udp(61005, 53, b"q" * 12))[:28])))
SYN_OUT = eth(R_IN, CLI, 0x0800, ipv4("192.168.1.2", "203.0.113.2", 6, tcp(61007, 80, 0x02)))
SYNACK_IN = eth(R_OUT, SRV, 0x0800, ipv4("203.0.113.2", "203.0.113.1", 6, tcp(80, 61007, 0x12)))
FIN_OUT = eth(R_IN, CLI, 0x0800, ipv4("192.168.1.2", "203.0.113.2", 6, tcp(61007, 80, 0x11)))
FIN_IN = eth(R_OUT, SRV, 0x0800, ipv4("203.0.113.2", "203.0.113.1", 6, tcp(80, 61007, 0x11)))
PING_OUT = eth(R_IN, CLI, 0x0800, ipv4("192.168.1.2", "203.0.113.2", 1, icmp_echo(b"ping")))
PONG_IN = eth(R_OUT, SRV, 0x0800, ipv4("203.0.113.2", "203.0.113.1", 1, icmp_echo_reply(0x1234, b"ping")))
FWD_IN = eth(R_OUT, SRV, 0x0800, ipv4("203.0.113.2", "203.0.113.1", 6, tcp(40000, 8080, 0x02)))
HAIRPIN = eth(R_IN, CLI, 0x0800, ipv4("192.168.1.2", "203.0.113.1", 6, tcp(61009, 8080, 0x02)))
FRAG1 = eth(R_IN, CLI, 0x0800, ipv4("192.168.1.2", "203.0.113.2", 17, udp(61011, 9, b"f" * 16), frag=0x2000))
FRAG2 = eth(R_IN, CLI, 0x0800, ipv4("192.168.1.2", "203.0.113.2", 17, b"g" * 16, frag=0x0003))

# A 4000-byte TCP super-frame and a UDP_L4 one (segment size: a third).
GSO_TCP = eth(R_IN, CLI, 0x0800, ipv4("192.168.1.2", "203.0.113.2", 6,
              tcp(61013, 80, 0x18) + bytes(range(256)) * 15 + b"z" * 160))
GSO_UDP = eth(R_IN, CLI, 0x0800, ipv4("192.168.1.2", "203.0.113.2", 17,
              udp(61015, 443, b"u" * 3000)))

SEEDS = {
    "gso_tcp": frame_offload(GSO_TCP) + frame_offload(GSO_TCP, kind=5),
    "gso_udp": frame_offload(GSO_UDP, kind=2) + frame_offload(UDP_FWD, kind=0),
    "nat_udp": frame(NAT_UDP_OUT) + frame(NAT_UDP_IN, 1) + frame(NAT_ICMP_ERR, 1) + tick(30000)
    + tick(30000) + frame(NAT_UDP_IN, 1),
    "nat_tcp": frame(SYN_OUT) + frame(SYNACK_IN, 1) + frame(FIN_OUT) + frame(FIN_IN, 1)
    + tick(60000),
    "nat_ping": frame(PING_OUT) + frame(PONG_IN, 1),
    "nat_forward_hairpin": frame(FWD_IN, 1) + frame(HAIRPIN),
    "nat_frags": frame(FRAG1) + frame(FRAG2) + frame(FRAG2, 1),
    "arp_request": frame(ARP_REQ),
    "forward_udp": frame(ARP_REQ) + frame(UDP_FWD) + frame(ARP_REP_SRV, 1) + frame(UDP_FWD),
    "forward_partial": frame(UDP_FWD, partial=True) + frame(SYN_OPTS, partial=True),
    "ping_router": frame(ARP_REQ) + frame(PING_US),
    "ttl_exceeded": frame(ARP_REQ) + frame(TTL1),
    "tcp_mss_len0": frame(SYN_MSS0),
    "ip_options": frame(IPOPTS) + frame(FRAG),
    "arp_timeout": frame(UDP_FWD) + tick(1000) + tick(1000) + tick(1000) + tick(1000),
    "stale_cycle": frame(ARP_REQ) + frame(PING_US) + tick(60000) + frame(UDP_FWD) + tick(5000)
    + tick(1000) + tick(1000) + tick(1000) + tick(1000),
}

# ctl_fuzz: the client's bytes in pieces, each prefixed by its length.
def pieces(*parts):
    return b"".join(bytes([len(x)]) + x for x in parts)


CTL_SEEDS = {
    "stats": pieces(b"stats\n"),
    "split": pieces(b"na", b"t-js", b"on\r\n"),
    "eof": pieces(b"routes"),
    "announce": pieces(b"annou", b"nce\n"),
    "unknown": pieces(b"reboot now\n"),
    "long": pieces(b"x" * 200, b"\n"),
}


# restore_fuzz: kind, path, NUL, len16, bytes (see the target).
def rec(kind, path, data):
    return bytes([kind]) + path.encode() + b"\0" + struct.pack("!H", len(data)) + data


ARP_BLOB = (b"expires never\nlearned-on inside\nlladdr 02:00:00:00:01:02\n"
            b"state reachable\nupdated 1429688434.645130\n")
NAT_BLOB = (b"created 1429688434.645130\nexpires 1429695874.645130\n"
            b"external 203.0.113.1:61001\nremote 203.0.113.2:80 established\n")
RESTORE_SEEDS = {
    "arp": rec(0, "arp/192.168.1/2", ARP_BLOB),
    "nat": rec(0, "nat/tcp/192.168.1/2/51000", NAT_BLOB),
    "both": rec(0, "arp/192.168.1/2", ARP_BLOB) + rec(0, "nat/udp/192.168.1/2/5353", NAT_BLOB)
    + rec(0, "meta/schema", b"gitnet-store 1\n"),
    "renamed_if": rec(0, "arp/192.168.1/3", ARP_BLOB.replace(b"inside", b"eth9")),
    "raw_tree": rec(1, "arp/10.0.0", b"100644 7\0" + b"\x11" * 20),
    "symlink": rec(2, "arp/10.0.0/9", b"../x"),
}

if __name__ == "__main__":
    seeds = SEEDS
    if sys.argv[1] == "--ctl":
        seeds = CTL_SEEDS
        sys.argv.pop(1)
    elif sys.argv[1] == "--restore":
        seeds = RESTORE_SEEDS
        sys.argv.pop(1)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)

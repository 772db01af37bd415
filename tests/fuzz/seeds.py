#!/usr/bin/env python3
"""Write seed inputs for tests/fuzz/pipeline_fuzz.c into the folder given.

Seeds are built here rather than kept as binary files, so each one reads as
what it is. Record format (see the fuzz target): 0x00|iface<<1|partial<<2,
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

SEEDS = {
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

if __name__ == "__main__":
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)

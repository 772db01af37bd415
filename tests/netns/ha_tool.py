#!/usr/bin/python3
# SPDX-License-Identifier: ISC
#
# ha_tool.py: the traffic and the liveness pieces of the HA test and
# benchmark (tests/netns/ha_lib.sh, test_ha.sh, tests/bench/ha.sh). Every
# mode is bounded in time. Times printed are unix seconds (CLOCK_REALTIME):
# every network namespace of the machine shares that clock, so times taken in
# cli, srv and the shell that kills a router compare directly.
#
#   serve IP TPORT UPORT PPORT SECS
#       srv: TCP echo on TPORT (every byte back as it came); UDP on UPORT
#       answers each datagram with "seen IP:PORT " + the datagram (its source
#       as srv saw it: the NAT's external address); PPORT receives the probe
#       flow and prints "gap START END" for every silence over 15 ms in it.
#   hold DST TPORT UPORT PPORT NTCP NUDP SECS
#       cli: NTCP TCP connections to DST:TPORT, each sending 1 KB of seeded
#       pseudo-random data every 50 ms (at most 8 KB unanswered, so a send
#       never blocks) and checking every echoed byte;
#       NUDP UDP flows (a socket each) to DST:UPORT, one datagram a second
#       each, checking that srv keeps seeing the same external ip:port; a
#       probe datagram to DST:PPORT every ms. Prints "ready ..." once every
#       connection is up and every flow answered. SIGUSR1 prints a mark:
#         mark N t T tcp_alive A tcp_err E tcp_fresh F udp_fresh U
#             udp_moved M udp_total N tcp_bytes B tcp_epoch P udp_epoch Q
#       where *_fresh counts the flows that received data since the
#       previous mark, tcp_err the connections that died (reset, EOF,
#       corrupt data: the reason goes on stderr) and udp_moved the flows
#       whose external address as srv saw it ever changed. SIGUSR2 starts an
#       epoch (prints "epoch N t T"): the marks' tcp_epoch and udp_epoch
#       count the flows that received data since (the kill of a router, so
#       that recovery is "every flow answered since the kill", whatever
#       TCP's retransmission timer did meanwhile). SIGTERM prints a last
#       mark and exits.
#   beat DST:PORT PERIOD_MS SECS
#       a heartbeat datagram every PERIOD_MS (the kernel pair's liveness).
#   watch BIND:PORT AFTER_MS SECS CMD...
#       once beats were seen, when none came for AFTER_MS: print
#       "silent T_LAST_BEAT T_NOW" and exec CMD (the takeover script).
#   newflows SPORT0 N GAP_MS DST:PORT
#       N one-datagram flows from source ports SPORT0.. every GAP_MS;
#       prints "SPORT T_SENT" for each.
#   lag SPORT0 N SECS FMT CMD...
#       in the standby: runs CMD over and over (a dump of what it has synced:
#       `conntrackd -e`, `git ls-tree` of the fetched branch) and prints
#       "SPORT T_SEEN" when FMT % SPORT (backslash escapes allowed) first
#       appears in its output.
#   sniff DEV SPORT0 N SECS IP
#       in the standby: watches DEV (the sync link) and prints "SPORT T_SEEN"
#       when a frame first carries IP and one of those source ports (a
#       conntrackd message about that flow arrived).

import os
import random
import resource
import selectors
import signal
import socket
import struct
import subprocess
import sys
import time


def ep(s):
    h, p = s.rsplit(":", 1)
    return (h, int(p))


def serve(ip, tport, uport, pport, secs):
    sel = selectors.DefaultSelector()
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((ip, tport))
    ls.listen(64)
    ls.setblocking(False)
    sel.register(ls, selectors.EVENT_READ, "listen")
    us = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    us.bind((ip, uport))
    us.setblocking(False)
    sel.register(us, selectors.EVENT_READ, "udp")
    ps = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    ps.bind((ip, pport))
    ps.setblocking(False)
    sel.register(ps, selectors.EVENT_READ, "probe")
    last_probe = None
    end = time.time() + secs
    while time.time() < end:
        for key, _ in sel.select(timeout=0.5):
            s, what = key.fileobj, key.data
            if what == "listen":
                try:
                    c, _ = s.accept()
                except OSError:
                    continue
                c.setblocking(False)
                sel.register(c, selectors.EVENT_READ, "conn")
            elif what == "conn":
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(s)
                    s.close()
                    continue
                s.setblocking(True)	# small echoes: a blocking send is brief
                try:
                    s.sendall(data)
                except OSError:
                    sel.unregister(s)
                    s.close()
                    continue
                s.setblocking(False)
            elif what == "udp":
                for _ in range(64):
                    try:
                        data, peer = s.recvfrom(2048)
                    except BlockingIOError:
                        break
                    s.sendto(b"seen %s:%d " % (peer[0].encode(), peer[1]) + data, peer)
            else:
                for _ in range(64):
                    try:
                        s.recvfrom(2048)
                    except BlockingIOError:
                        break
                    now = time.time()
                    if last_probe is not None and now - last_probe > 0.015:
                        print("gap %.6f %.6f" % (last_probe, now), flush=True)
                    last_probe = now


class Conn:
    def __init__(self, i, dst):
        self.i = i
        self.rng = random.Random(i)
        self.pending = bytearray()	# sent, not yet echoed back
        self.sent = self.echoed = 0
        self.fresh = self.epoch = False
        self.dead = None
        self.s = socket.create_connection(dst, timeout=5)
        self.s.setblocking(False)


def hold(dst, tport, uport, pport, ntcp, nudp, secs):
    resource.setrlimit(resource.RLIMIT_NOFILE, (8192, 8192))
    marks = []
    signal.signal(signal.SIGUSR1, lambda *_: marks.append("mark"))
    signal.signal(signal.SIGTERM, lambda *_: marks.append("term"))
    signal.signal(signal.SIGUSR2, lambda *_: marks.append("epoch"))
    sel = selectors.DefaultSelector()
    conns = []
    for i in range(ntcp):
        c = Conn(i, (dst, tport))
        conns.append(c)
        sel.register(c.s, selectors.EVENT_READ, c)
    flows = []
    for i in range(nudp):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setblocking(False)
        s.connect((dst, uport))
        f = {"i": i, "s": s, "seen": None, "moved": False, "fresh": False, "epoch": False,
             "answered": False, "next": time.time() + (i % 1000) / 1000.0}
        flows.append(f)
        sel.register(s, selectors.EVENT_READ, f)
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.connect((dst, pport))
    probe.setblocking(False)
    start = time.time()
    end = start + secs
    next_probe = next_tcp = start
    nmark = nepoch = 0
    ready = False
    while True:
        now = time.time()
        if now >= end:
            marks.append("term")
        while marks:
            what = marks.pop(0)
            if what == "epoch":
                nepoch += 1
                for c in conns:
                    c.epoch = False
                for f in flows:
                    f["epoch"] = False
                print("epoch %d t %.6f" % (nepoch, now), flush=True)
                continue
            nmark += 1
            print("mark %d t %.6f tcp_alive %d tcp_err %d tcp_fresh %d udp_fresh %d "
                  "udp_moved %d udp_total %d tcp_bytes %d tcp_epoch %d udp_epoch %d" % (
                      nmark, now, sum(1 for c in conns if not c.dead),
                      sum(1 for c in conns if c.dead),
                      sum(1 for c in conns if c.fresh and not c.dead),
                      sum(1 for f in flows if f["fresh"]),
                      sum(1 for f in flows if f["moved"]), len(flows),
                      sum(c.echoed for c in conns),
                      sum(1 for c in conns if c.epoch and not c.dead),
                      sum(1 for f in flows if f["epoch"])), flush=True)
            for c in conns:
                c.fresh = False
            for f in flows:
                f["fresh"] = False
            if what == "term":
                return
        if not ready and all(f["answered"] for f in flows) and \
                all(c.echoed > 0 for c in conns):
            ready = True
            print("ready tcp %d udp %d after %.2f s" % (len(conns), len(flows),
                  now - start), flush=True)
        if now >= next_probe:
            try:
                probe.send(b"p %.6f" % now)
            except OSError:
                pass
            next_probe += 0.001
            if next_probe < now - 0.1:	# fell far behind: do not burst
                next_probe = now
        if now >= next_tcp:
            next_tcp += 0.05
            for c in conns:
                if c.dead or len(c.pending) > 8192:	# below any send buffer
                    continue
                chunk = c.rng.randbytes(1024)
                try:
                    n = c.s.send(chunk)
                except BlockingIOError:
                    n = 0
                except OSError as e:
                    c.dead = "send: %s" % e
                    print("tcp %d died: %s" % (c.i, c.dead), file=sys.stderr, flush=True)
                    continue
                # The generator cannot rewind: what the kernel did not
                # take now goes out blocking (bounded), so the stream stays
                # exact and pending holds just what was sent.
                if n < len(chunk):
                    c.s.setblocking(True)
                    c.s.settimeout(2)
                    try:
                        c.s.sendall(chunk[n:])
                        n = len(chunk)
                    except OSError as e:
                        c.dead = "send: %s" % e
                        print("tcp %d died: %s" % (c.i, c.dead), file=sys.stderr,
                              flush=True)
                    c.s.setblocking(False)
                c.pending += chunk[:n]
                c.sent += n
        for f in flows:
            if now >= f["next"]:
                f["next"] += 1.0
                try:
                    f["s"].send(b"u%d" % f["i"])
                except OSError:
                    pass
        timeout = max(0.0, min(next_probe, next_tcp) - time.time())
        for key, _ in sel.select(timeout=timeout):
            o = key.data
            if isinstance(o, Conn):
                try:
                    data = o.s.recv(65536)
                except BlockingIOError:
                    continue
                except OSError as e:
                    data, why = None, "recv: %s" % e
                else:
                    why = "EOF"
                if not data:
                    o.dead = why
                    print("tcp %d died: %s" % (o.i, why), file=sys.stderr, flush=True)
                    sel.unregister(o.s)
                    continue
                if o.pending[:len(data)] != data:
                    o.dead = "corrupt data at byte %d" % o.echoed
                    print("tcp %d died: %s" % (o.i, o.dead), file=sys.stderr, flush=True)
                    sel.unregister(o.s)
                    continue
                del o.pending[:len(data)]
                o.echoed += len(data)
                o.fresh = o.epoch = True
            else:
                for _ in range(8):
                    try:
                        data = o["s"].recv(2048)
                    except OSError:	# nothing more, or ICMP unreachable
                        break
                    parts = data.split(b" ")
                    if len(parts) < 3 or parts[0] != b"seen":
                        continue
                    if o["seen"] is None:
                        o["seen"] = parts[1]
                    elif o["seen"] != parts[1]:
                        if not o["moved"]:
                            print("udp %d moved: %s -> %s" % (o["i"], o["seen"].decode(),
                                  parts[1].decode()), file=sys.stderr, flush=True)
                        o["moved"] = True
                    o["answered"] = o["fresh"] = o["epoch"] = True


def beat(dst, period_ms, secs):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    end = time.time() + secs
    t = time.time()
    while t < end:
        try:
            s.sendto(b"beat %.6f" % time.time(), ep(dst))
        except OSError:
            pass
        t += period_ms / 1000.0
        time.sleep(max(0.0, t - time.time()))


def watch(bind, after_ms, secs, cmd):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(ep(bind))
    end = time.time() + secs
    last = None
    while time.time() < end:
        s.settimeout(0.005)
        try:
            s.recv(256)
            last = time.time()
        except socket.timeout:
            pass
        now = time.time()
        if last is not None and now - last >= after_ms / 1000.0:
            print("silent %.6f %.6f" % (last, now), flush=True)
            s.close()
            os.execvp(cmd[0], cmd)
    sys.exit("watch: no takeover within %s s" % secs)


def newflows(sport0, n, gap_ms, dst):
    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", sport0 + i))
        t = time.time()
        s.sendto(b"new", ep(dst))
        print("%d %.6f" % (sport0 + i, t), flush=True)
        s.close()
        time.sleep(gap_ms / 1000.0)


def lag(sport0, n, secs, fmt, cmd):
    want = {(fmt % (sport0 + i)).encode().decode("unicode_escape"): sport0 + i
            for i in range(n)}
    end = time.time() + secs
    while want and time.time() < end:
        out = subprocess.run(cmd, capture_output=True, text=True).stdout + "\n"
        now = time.time()
        for k in [k for k in want if k in out]:
            print("%d %.6f" % (want.pop(k), now), flush=True)
        time.sleep(0.002)


def sniff(dev, sport0, n, secs, ip):
    # The frames of the sync link as they arrive (AF_PACKET, ETH_P_ALL):
    # a conntrackd message about a flow of IP carries its address and its
    # source port in network byte order.
    want = {sport0 + i for i in range(n)}
    addr = socket.inet_aton(ip)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    s.bind((dev, 0))
    s.settimeout(0.2)
    end = time.time() + secs
    while want and time.time() < end:
        try:
            frame = s.recv(65536)
        except socket.timeout:
            continue
        now = time.time()
        if addr not in frame:
            continue
        for p in [p for p in want if struct.pack("!H", p) in frame]:
            want.discard(p)
            print("%d %.6f" % (p, now), flush=True)


def main():
    mode, a = sys.argv[1], sys.argv[2:]
    if mode == "serve":
        serve(a[0], int(a[1]), int(a[2]), int(a[3]), float(a[4]))
    elif mode == "hold":
        hold(a[0], int(a[1]), int(a[2]), int(a[3]), int(a[4]), int(a[5]), float(a[6]))
    elif mode == "beat":
        beat(a[0], float(a[1]), float(a[2]))
    elif mode == "watch":
        watch(a[0], float(a[1]), float(a[2]), a[3:])
    elif mode == "newflows":
        newflows(int(a[0]), int(a[1]), float(a[2]), a[3])
    elif mode == "sniff":
        sniff(a[0], int(a[1]), int(a[2]), float(a[3]), a[4])
    elif mode == "lag":
        lag(int(a[0]), int(a[1]), float(a[2]), a[3], a[4:])
    else:
        sys.exit("ha_tool: unknown mode " + mode)


main()

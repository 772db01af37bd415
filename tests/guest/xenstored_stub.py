#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""A xenstore server speaking the xenstored wire protocol on a Unix socket.

The one stand-in this project permits: the real xenstored cannot run without
a hypervisor here, so the guest's configuration code and Debian's
xenstore-read/-write talk to this instead, through XENSTORED_PATH and the real
libxenstore. It follows docs/misc/xenstore.txt: every message is a 16-byte
header (type, req_id, tx_id, len; little-endian u32) and a payload of at most
4096 bytes; replies carry the request's type, req_id and tx_id, or type ERROR
with an errno name ("ENOENT\\0"). Watches fire once when set and on every
write/mkdir/rm at or below their path; transactions see a private copy of the
store and fail with EAGAIN at commit if the store changed meanwhile.

Not modelled: permissions (GET_PERMS answers "n0", SET_PERMS is accepted),
quotas, special @introduceDomain/@releaseDomain watches (accepted, never
fire). Every connection is treated as domain --domid (default 0), so relative
paths resolve under /local/domain/<domid>: a test can play the guest.

Usage: xenstored_stub.py SOCKET [--domid N] [--log FILE]
"""
import os
import selectors
import socket
import struct
import sys

DIRECTORY, READ, GET_PERMS, WATCH, UNWATCH = 1, 2, 3, 4, 5
TRANSACTION_START, TRANSACTION_END, INTRODUCE, RELEASE = 6, 7, 8, 9
GET_DOMAIN_PATH, WRITE, MKDIR, RM, SET_PERMS = 10, 11, 12, 13, 14
WATCH_EVENT, ERROR, IS_DOMAIN_INTRODUCED, RESUME = 15, 16, 17, 18
SET_TARGET, RESET_WATCHES, DIRECTORY_PART = 19, 21, 22
HDR = struct.Struct("<IIII")
PAYLOAD_MAX = 4096


class XsError(Exception):
    pass


class Store:
    def __init__(self):
        self.nodes = {"/": b"", "/local": b"", "/local/domain": b""}
        self.gen = 0

    def copy(self):
        s = Store()
        s.nodes = dict(self.nodes)
        s.gen = self.gen
        return s

    def read(self, p):
        if p not in self.nodes:
            raise XsError("ENOENT")
        return self.nodes[p]

    def write(self, p, v):
        # Parents come into being empty, as in xenstored.
        parts = p.strip("/").split("/")
        for i in range(1, len(parts)):
            self.nodes.setdefault("/" + "/".join(parts[:i]), b"")
        self.nodes[p] = v
        self.gen += 1

    def mkdir(self, p):
        if p not in self.nodes:
            self.write(p, b"")

    def rm(self, p):
        if p not in self.nodes:
            raise XsError("ENOENT")
        if p == "/":
            raise XsError("EINVAL")
        pre = p + "/"
        for k in [k for k in self.nodes if k == p or k.startswith(pre)]:
            del self.nodes[k]
        self.gen += 1

    def children(self, p):
        if p not in self.nodes:
            raise XsError("ENOENT")
        pre = "/" if p == "/" else p + "/"
        out = []
        for k in self.nodes:
            if k != "/" and k.startswith(pre) and "/" not in k[len(pre):]:
                out.append(k[len(pre):])
        return sorted(out)


class Server:
    def __init__(self, path, domid, log):
        self.store = Store()
        self.domid = domid
        self.log = log
        self.txs = {}          # tx_id -> (conn, Store, base gen)
        self.next_tx = 1
        self.watches = []      # (conn, abs path, token, relative?)
        self.sel = selectors.DefaultSelector()
        self.bufs = {}
        if os.path.exists(path):
            os.unlink(path)
        self.lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.lsock.bind(path)
        self.lsock.listen(16)
        self.sel.register(self.lsock, selectors.EVENT_READ)

    def say(self, msg):
        if self.log:
            self.log.write(msg + "\n")
            self.log.flush()

    def home(self):
        return "/local/domain/%d" % self.domid

    def abspath(self, p):
        if not p:
            raise XsError("EINVAL")
        if p.startswith("@"):
            return p
        if not p.startswith("/"):
            p = self.home() + "/" + p
        if len(p) > 1 and p.endswith("/"):
            raise XsError("EINVAL")
        if "//" in p:
            raise XsError("EINVAL")
        return p

    def send(self, conn, typ, req_id, tx_id, payload):
        try:
            conn.sendall(HDR.pack(typ, req_id, tx_id, len(payload)) + payload)
        except OSError:
            pass

    def fire(self, path):
        for conn, wpath, token, rel in list(self.watches):
            if path == wpath or path.startswith(wpath.rstrip("/") + "/"):
                shown = path
                if rel and path.startswith(self.home() + "/"):
                    shown = path[len(self.home()) + 1:]
                self.send(conn, WATCH_EVENT, 0, 0,
                          shown.encode() + b"\0" + token + b"\0")

    def store_for(self, conn, tx_id):
        if tx_id == 0:
            return self.store
        t = self.txs.get(tx_id)
        if t is None or t[0] is not conn:
            raise XsError("ENOENT")
        return t[1]

    def handle(self, conn, typ, req_id, tx_id, body):
        args = body.split(b"\0")
        first = args[0].decode("utf-8", "replace")
        st = self.store_for(conn, tx_id)
        if typ in (READ, DIRECTORY, DIRECTORY_PART, GET_PERMS, MKDIR, RM,
                   WRITE, SET_PERMS):
            path = self.abspath(first)
        if typ == READ:
            return st.read(path)
        if typ == DIRECTORY:
            return b"".join(c.encode() + b"\0" for c in st.children(path))
        if typ == DIRECTORY_PART:
            # "generation\0" then the names; offset args[1] ignored beyond 0.
            names = b"".join(c.encode() + b"\0" for c in st.children(path))
            return str(st.gen).encode() + b"\0" + names + b"\0"
        if typ == GET_PERMS:
            st.read(path)
            return b"n%d\0" % self.domid
        if typ == SET_PERMS:
            st.read(path)
            return b"OK\0"
        if typ == WRITE:
            i = body.index(b"\0")
            st.write(path, body[i + 1:])
            if st is self.store:
                self.fire(path)
            return b"OK\0"
        if typ == MKDIR:
            existed = path in st.nodes
            st.mkdir(path)
            if st is self.store and not existed:
                self.fire(path)
            return b"OK\0"
        if typ == RM:
            st.rm(path)
            if st is self.store:
                self.fire(path)
            return b"OK\0"
        if typ == WATCH:
            rel = not first.startswith("/") and not first.startswith("@")
            wpath = self.abspath(first)
            token = args[1]
            self.watches.append((conn, wpath, token, rel))
            self.send(conn, WATCH, req_id, tx_id, b"OK\0")
            # A watch fires once as it is set (xenstore.txt).
            self.send(conn, WATCH_EVENT, 0, 0, args[0] + b"\0" + token + b"\0")
            return None
        if typ == UNWATCH:
            wpath = self.abspath(first)
            token = args[1]
            for w in self.watches:
                if w[0] is conn and w[1] == wpath and w[2] == token:
                    self.watches.remove(w)
                    return b"OK\0"
            raise XsError("ENOENT")
        if typ == RESET_WATCHES:
            self.watches = [w for w in self.watches if w[0] is not conn]
            return b"OK\0"
        if typ == TRANSACTION_START:
            if tx_id != 0:
                raise XsError("EBUSY")
            t = self.next_tx
            self.next_tx += 1
            self.txs[t] = (conn, self.store.copy(), self.store.gen)
            return str(t).encode() + b"\0"
        if typ == TRANSACTION_END:
            t = self.txs.pop(tx_id, None)
            if t is None:
                raise XsError("ENOENT")
            if first == "T":
                if self.store.gen != t[2]:
                    raise XsError("EAGAIN")
                old = self.store.nodes
                self.store.nodes = t[1].nodes
                self.store.gen += 1
                changed = set(k for k in old if old[k] != self.store.nodes.get(k))
                changed |= set(k for k in self.store.nodes if k not in old)
                for k in sorted(changed):
                    self.fire(k)
            return b"OK\0"
        if typ == GET_DOMAIN_PATH:
            return ("/local/domain/%d" % int(first)).encode() + b"\0"
        if typ == IS_DOMAIN_INTRODUCED:
            return b"T\0"
        raise XsError("ENOSYS")

    def on_data(self, conn):
        try:
            data = conn.recv(65536)
        except OSError:
            data = b""
        if not data:
            self.drop(conn)
            return
        buf = self.bufs[conn] + data
        while len(buf) >= HDR.size:
            typ, req_id, tx_id, ln = HDR.unpack_from(buf)
            if ln > PAYLOAD_MAX:
                self.say("payload too long (%d): closing" % ln)
                self.drop(conn)
                return
            if len(buf) < HDR.size + ln:
                break
            body = buf[HDR.size:HDR.size + ln]
            buf = buf[HDR.size + ln:]
            try:
                reply = self.handle(conn, typ, req_id, tx_id, body)
                self.say("req type=%d tx=%d %r -> ok" % (typ, tx_id, body[:80]))
                if reply is not None:
                    self.send(conn, typ, req_id, tx_id, reply)
            except XsError as e:
                self.say("req type=%d tx=%d %r -> %s" % (typ, tx_id, body[:80], e))
                self.send(conn, ERROR, req_id, tx_id, str(e).encode() + b"\0")
            except (ValueError, IndexError, UnicodeError):
                self.send(conn, ERROR, req_id, tx_id, b"EINVAL\0")
        if conn in self.bufs:
            self.bufs[conn] = buf

    def drop(self, conn):
        self.sel.unregister(conn)
        self.bufs.pop(conn, None)
        self.watches = [w for w in self.watches if w[0] is not conn]
        for t in [t for t, v in self.txs.items() if v[0] is conn]:
            del self.txs[t]
        conn.close()

    def run(self):
        while True:
            for key, _ in self.sel.select():
                if key.fileobj is self.lsock:
                    conn, _ = self.lsock.accept()
                    self.bufs[conn] = b""
                    self.sel.register(conn, selectors.EVENT_READ)
                else:
                    self.on_data(key.fileobj)


def main():
    argv = sys.argv[1:]
    if not argv or argv[0].startswith("-"):
        sys.exit(__doc__.strip().splitlines()[-1])
    path, domid, log = argv[0], 0, None
    i = 1
    while i < len(argv):
        if argv[i] == "--domid":
            domid = int(argv[i + 1])
            i += 2
        elif argv[i] == "--log":
            log = open(argv[i + 1], "a")
            i += 2
        else:
            sys.exit("xenstored_stub: unknown argument " + argv[i])
    srv = Server(path, domid, log)
    srv.store.write(srv.home() + "/domid", str(domid).encode())
    srv.run()


if __name__ == "__main__":
    main()

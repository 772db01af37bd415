#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Reload (SIGHUP, what `systemctl reload gitnet-router` sends): the router
# rereads its config file and restarts in-process from the state repository.
# A TCP connection through the NAT carries on across the reload with the
# same external port; the changed values take effect (a new UDP timeout, a
# metrics endpoint that was not there); a config with an error is logged and
# not applied, and the router goes on forwarding. Under systemd's
# Type=notify it says READY=1, RELOADING=1, READY=1 and STOPPING=1 on
# $NOTIFY_SOCKET.
set -u
. "$(dirname "$0")/lib.sh"

gn_require router socat curl "$GN_PY"
gn_init
gn_topology

conf=$GN_RUN/router.conf
cat >"$conf" <<EOF2
# the first configuration
nat.udp_timeout_s 300
EOF2

# systemd's side of sd_notify: a datagram socket, one message per line.
cat >"$GN_RUN/notify.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(60)
out = open(sys.argv[2], "a", buffering=1)
try:
    while True:
        out.write(s.recv(4096).decode() + "\n")
except socket.timeout:
    pass
PY
export NOTIFY_SOCKET=$GN_RUN/notify.sock
gn_bg "$RTR" notify "$GN_PY" "$GN_RUN/notify.py" "$NOTIFY_SOCKET" "$GN_RUN/notify.log"
gn_wait 5 test -S "$NOTIFY_SOCKET"

check "the router starts with --config" gn_router_start --config "$conf" || { gn_summary; exit 1; }
unset NOTIFY_SOCKET
check "it tells systemd READY=1" gn_wait 5 grep -qx READY=1 "$GN_RUN/notify.log"

# A TCP echo server on srv; a client on cli that sends a line every 50 ms for
# 12 s and wants each echoed, on one connection. While the pipeline is
# rebuilt (its tables are allocated anew: 0.2-0.5 s on an idle machine,
# seconds on a loaded one) frames wait in the rings, which the reload keeps
# open; the per-line timeout is 30 s.
cat >"$GN_RUN/tcp.py" <<'PY'
import socket, sys, time
if sys.argv[1] == "serve":
    l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind((sys.argv[2], 5001)); l.listen(4); l.settimeout(30)
    while True:
        c, peer = l.accept()
        print("conn %s:%d" % peer, flush=True)
        c.settimeout(30)
        while True:
            d = c.recv(4096)
            if not d:
                break
            c.sendall(d)
else:
    c = socket.create_connection((sys.argv[2], 5001), timeout=30)
    print("local %s:%d" % c.getsockname(), flush=True)
    n, end = 0, time.time() + float(sys.argv[3])
    while time.time() < end:
        msg = b"line %d\n" % n
        c.sendall(msg)
        got = b""
        while len(got) < len(msg):
            d = c.recv(4096)
            if not d:
                print("closed after %d lines" % n); sys.exit(1)
            got += d
        assert got == msg
        n += 1
        time.sleep(0.05)
    print("echoed %d lines" % n)
PY
gn_bg "$SRV" tcpserve "$GN_PY" "$GN_RUN/tcp.py" serve "$SRV_IP"
gn_wait_listen 5 "$SRV" 5001
gn_bg "$CLI" tcpclient "$GN_PY" "$GN_RUN/tcp.py" client "$SRV_IP" 12
client=$GN_LAST_PID
sleep 2

# The reload: a new UDP timeout and a metrics endpoint.
cat >"$conf" <<EOF2
# the second configuration
nat.udp_timeout_s 77
metrics 127.0.0.1:9751
EOF2
rx_before=$(stat_get "if_${RTR_IN_DEV}_rx_frames")
kill -HUP "$GN_ROUTER_PID"
check "the router logs the reload" gn_wait 5 grep -q 'router: reload: done in' "$GN_ROUTER_LOG"
check "it restored the NAT session from the state repository" \
    expect_grep "$GN_ROUTER_LOG" 'state: loaded: .* nat_sessions=[1-9]'
check "the metrics endpoint the new config asks for answers" \
    gn_wait 5 in_rtr curl -sf -o /dev/null http://127.0.0.1:9751/metrics
check "systemd heard RELOADING=1 then READY=1" sh -c \
    "tr '\n' ' ' <'$GN_RUN/notify.log' | grep -q 'READY=1 RELOADING=1 READY=1'"
wait "$client"; rc=$?
check "the TCP connection carried on across the reload" \
    sh -c "[ $rc = 0 ] && grep -q '^echoed [1-9][0-9]* lines' '$GN_RUN/tcpclient.log'"
check "the inside ring stayed open across the reload (its counter carried on)" \
    expect_ge "$(stat_get "if_${RTR_IN_DEV}_rx_frames")" "$((rx_before + 1))"
check "on one connection from one external port" \
    expect_eq "$(grep -c '^conn ' "$GN_RUN/tcpserve.log")" 1
gn_log "$(tr '\n' ' ' <"$GN_RUN/tcpclient.log"); $(grep 'reload: done' "$GN_ROUTER_LOG")"

ip netns exec "$CLI" "$GN_PY" -c "
import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b'x', ('$SRV_IP', 5002))"
check "a new UDP session has the new timeout (<= 77 s)" \
    sh -c "v=\$(printf 'nat\n' | timeout 5 socat -t 3 - UNIX-CONNECT:'$GN_CTL' | awk '\$1 == \"udp\" && /dport=5002/ { print \$3 }'); echo \"timeout \$v\"; [ -n \"\$v\" ] && [ \"\$v\" -le 77 ] && [ \"\$v\" -ge 70 ]"

# A config with an error: logged, not applied, forwarding goes on.
sed -i 's/^nat.udp_timeout_s 77$/nat.udp_timeout_s banana/' "$conf"
kill -HUP "$GN_ROUTER_PID"
check "a bad config is logged and not applied" \
    gn_wait 5 grep -q "router: reload: not applied, the running configuration stays: .*banana" "$GN_ROUTER_LOG"
check "the router forwards on" in_cli ping -c 3 -i 0.2 -W 2 "$SRV_IP"
check "with the metrics endpoint still up" in_rtr curl -sf -o /dev/null http://127.0.0.1:9751/metrics
check "and one start line per run: 2" expect_eq "$(grep -c 'router: started:' "$GN_ROUTER_LOG")" 2

gn_router_stop
check "it stopped cleanly (exit 0)" expect_eq "$GN_ROUTER_RC" 0
check "and told systemd STOPPING=1" gn_wait 3 grep -qx STOPPING=1 "$GN_RUN/notify.log"
gn_summary

#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
#
# The operator's side of issue 17: what an unlucky operator or a careless
# local client does to the router, and that it keeps routing.
#  - A restart after a connection through a port forward starts (forwards
#    win: the forward's own session joins it; a dynamic session that held the
#    forwarded port is dropped and counted in state_restore_skipped).
#  - A restart on a renamed interface starts: the ARP entries learned on the
#    old name are skipped and counted, not a reason to exit.
#  - The control socket never blocks forwarding: a client that asks for
#    `nat` over 3,000+ sessions and never reads, and thirty clients that
#    connect and say nothing, leave ping and UDP flowing; the silent ones are
#    closed after the idle timeout.
#  - --control refuses to replace a file that is not a socket; the socket is
#    mode 0600; `arp` prints every entry (more than 256).
#
#	cli 192.168.1.2 -- rtr (gitnet-router) -- srv 203.0.113.2
#
# Runtime is about 40 s; every wait is bounded (see lib.sh).

# shellcheck disable=SC2086,SC2016
set -u -o pipefail
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"

gn_require router git socat python3 ss scapy ping
gn_init
cd "$GN_RUN" || exit 1
gn_topology
gn_udptool

STATE=$GN_RUN/state

# --- 12: --control at a file that is not a socket ---------------------------
echo "precious" >"$GN_RUN/notasocket"
# Bounded: a router that replaces the file starts, and would run on.
timeout 5 ip netns exec "$RTR" "$GN_ROUTER" --inside "$RTR_IN_DEV=$RTR_IN_IP/24" \
    --outside "$RTR_OUT_DEV=$RTR_OUT_IP/24" --state none \
    --control "$GN_RUN/notasocket" >"$GN_RUN/notsock.log" 2>&1
rc=$?
check "--control at a regular file: exit 1" expect_eq "$rc" 1
check "--control at a regular file: a clear message" \
    expect_grep "$GN_RUN/notsock.log" "notasocket exists and is not a socket"
check "--control at a regular file: the file is untouched" \
    expect_eq "$(cat "$GN_RUN/notasocket")" precious

# --- 1: restart after a connection through a port forward -------------------
FWD=(--forward tcp:8080="$CLI_IP":80)
gn_router_start "${FWD[@]}" || gn_die "router did not start"
check "control socket is mode 0600" expect_eq "$(stat -c %a "$GN_CTL")" 600
gn_bg "$CLI" tserve $GN_UDPTOOL tserve "$CLI_IP:80" 30
gn_wait_listen 5 "$CLI" 80 || gn_die "no server on cli:80"
check "a connection through the forward" \
    expect_grep <(in_srv $GN_UDPTOOL task 0 "$RTR_OUT_IP:8080") "seen $SRV_IP:"
# A dynamic mapping that takes 8081 by port preservation, for the next step.
gn_bg "$SRV" tserve2 $GN_UDPTOOL tserve "$SRV_IP:80" 30
gn_wait_listen 5 "$SRV" 80 || gn_die "no server on srv:80"
check "a dynamic connection from source port 8081 keeps its port" \
    expect_grep <(in_cli $GN_UDPTOOL task 8081 "$SRV_IP:80") "seen $RTR_OUT_IP:8081"
sleep 0.5	# group commit window
gn_router_stop
# The same forward, and a new one on the port the dynamic session holds.
gn_bg "$CLI" tserve81 $GN_UDPTOOL tserve "$CLI_IP:81" 30
gn_router_start "${FWD[@]}" --forward tcp:8081="$CLI_IP":81 ||
    gn_die "router did not restart with its forwards"
check "restart with a forward whose port a restored session holds: running" gn_router_alive
check "the conflicting restored session is counted in state_restore_skipped" \
    expect_ge "$(stat_get state_restore_skipped)" 1
check "a new connection through the forward after the restart" \
    expect_grep <(in_srv $GN_UDPTOOL task 0 "$RTR_OUT_IP:8080") "seen $SRV_IP:"
check "and through the forward that won the port" \
    expect_grep <(in_srv $GN_UDPTOOL task 0 "$RTR_OUT_IP:8081") "seen $SRV_IP:"
gn_router_stop

# --- 5: restart on a renamed interface ---------------------------------------
gn_router_start || gn_die "router did not start"
in_cli ping -c 2 -W 1 "$SRV_IP" >/dev/null
sleep 0.5
check "ARP entries learned on $RTR_IN_DEV are in primary" \
    expect_grep <(git --git-dir="$STATE" grep -h learned-on primary -- arp) "learned-on $RTR_IN_DEV"
gn_router_stop
ip -n "$RTR" link set "$RTR_IN_DEV" down
ip -n "$RTR" link set "$RTR_IN_DEV" name veth-x0
ip -n "$RTR" link set veth-x0 up
RTR_IN_DEV_OLD=$RTR_IN_DEV
RTR_IN_DEV=veth-x0
gn_router_start || true
check "restart on a renamed interface: running" gn_router_alive
check "the entries learned on the old name are counted as skipped" \
    expect_ge "$(stat_get state_restore_skipped)" 1
check "the log names the first skipped entry" \
    expect_grep "$GN_ROUTER_LOG" "skipped [0-9]+ undecodable entries; first: .*learned-on"
check "ping through the router on the renamed interface" in_cli ping -c 2 -W 2 "$SRV_IP"
gn_router_stop
ip -n "$RTR" link set veth-x0 down
ip -n "$RTR" link set veth-x0 name "$RTR_IN_DEV_OLD"
ip -n "$RTR" link set "$RTR_IN_DEV_OLD" up
RTR_IN_DEV=$RTR_IN_DEV_OLD

# --- 3: a control client that never reads ------------------------------------
gn_router_start --state "$GN_RUN/state.ctl" || gn_die "router did not start"
gn_bg "$SRV" usrv $GN_UDPTOOL quiet "$SRV_IP:9000" 60
gn_wait_listen 5 "$SRV" 9000 udp || gn_die "no UDP server"
in_cli "$GN_PY" - "$SRV_IP" <<'PY'
import socket, sys
for p in range(20000, 23500):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", p))
    s.sendto(b"x", (sys.argv[1], 9000))
    s.close()
PY
gn_wait 5 sh -c "[ \"\$(ctl stats | awk '\$1 == \"nat_sessions\" { print \$2 }')\" -ge 3500 ]"
check "3,500 NAT sessions" expect_ge "$(stat_get nat_sessions)" 3500
# The client: a tiny receive buffer, `nat`, then 14 s without reading.
cat >"$GN_RUN/stuck.py" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(sys.argv[1])
s.sendall(b"nat\n")
time.sleep(float(sys.argv[2]))
n = 0
s.settimeout(2)
try:
    while True:
        d = s.recv(65536)
        if not d:
            break
        n += len(d)
except OSError as e:
    print("error", e)
print("read", n, flush=True)
PY
gn_bg "$RTR" stuck "$GN_PY" "$GN_RUN/stuck.py" "$GN_CTL" 14
STUCK=$GN_LAST_PID
sleep 1
check "ping flows while a control client does not read its nat answer" \
    expect_ge "$(in_cli ping -c 20 -i 0.1 -W 1 "$SRV_IP" | awk '/received/ { print $4 }')" 19
udp_seen() { grep -c "during" "$GN_RUN/usrv.log"; }
in_cli $GN_UDPTOOL send 0.0.0.0:24000 "$SRV_IP:9000" during
gn_wait 3 sh -c "grep -q during '$GN_RUN/usrv.log'"
check "UDP flows too" expect_eq "$(udp_seen)" 1
check "stats answers meanwhile" expect_ge "$(stat_get nat_sessions)" 3500
# Thirty clients that connect and say nothing.
cat >"$GN_RUN/idle.py" <<'PY'
import socket, sys, time
socks = []
for i in range(30):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    socks.append(s)
t0 = time.time()
socks[0].settimeout(10)
try:
    d = socks[0].recv(100)
except OSError:
    d = None
print("closed" if d == b"" else "open", "after %.1f s" % (time.time() - t0), flush=True)
PY
gn_bg "$RTR" idle "$GN_PY" "$GN_RUN/idle.py" "$GN_CTL"
IDLE=$GN_LAST_PID
sleep 0.3
ping_out=$(in_cli ping -c 20 -i 0.05 -W 1 "$SRV_IP")
check "ping with thirty idle control clients: nothing lost" \
    expect_eq "$(awk '/received/ { print $4 }' <<<"$ping_out")" 20
check "ping with thirty idle control clients: max rtt under 100 ms" \
    expect_eq "$(awk -F/ '/^rtt/ { print ($6 < 100) }' <<<"$ping_out")" 1
gn_wait 12 gn_gone "$IDLE"
check "an idle control client is closed after the idle timeout" \
    expect_grep "$GN_RUN/idle.log" "^closed after [5-9]"
gn_wait 20 gn_gone "$STUCK"
check "router alive" gn_router_alive
check "a client that reads gets every session" expect_ge "$(ctl nat | wc -l)" 3500
full=$(ctl nat | wc -c)
got=$(awk '/^read/ { print $2 }' "$GN_RUN/stuck.log")
check "the client that never read was dropped before its answer was complete" \
    sh -c "echo 'read ${got:-none} of $full bytes'; [ -n '$got' ] && [ '${got:-0}' -lt '$full' ]"
gn_router_stop

# --- 12: arp prints every entry ----------------------------------------------
gn_router_start --state none --inside "$RTR_IN_DEV=$RTR_IN_IP/22" ||
    gn_die "router did not start (/22)"
in_cli "$GN_PY" - "$CLI_DEV" "$RTR_IN_IP" <<'PY'
import sys
from scapy.all import ARP, Ether, sendp, get_if_hwaddr
dev, rtr = sys.argv[1], sys.argv[2]
frames = []
for i in range(300):
    mac = "02:00:00:00:%02x:%02x" % (i >> 8, i & 0xff)
    ip = "192.168.%d.%d" % (0 if i < 200 else 2, 10 + i % 200)
    frames.append(Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") /
                  ARP(op=1, hwsrc=mac, psrc=ip, pdst=rtr))
sendp(frames, iface=dev, verbose=False)
PY
sleep 0.5
check "arp prints more than 256 entries (300 neighbours asked)" \
    expect_ge "$(ctl arp | wc -l)" 300
check "arp_entries agrees" expect_ge "$(stat_get arp_entries)" 300
gn_router_stop

gn_summary

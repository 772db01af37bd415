#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
#
# Hosts as they really send (issue 13): cli and srv keep the kernel's default
# offloads (TSO, GSO, GRO, checksum offload), so bulk TCP reaches the router
# as 64 KB GSO super-frames with partial checksums. Through gitnet-router with
# NAT, each is checked with real clients:
#
#   1. --gso on (default): iperf3 TCP both ways, 1 and 4 streams; a 20 MB
#      file by HTTP (curl) and one uploaded by socat, sha256 checked; the
#      router saw super-frames (gso_in, if_*_rx_gso) and sent them on whole
#      (if_*_tx_gso), nothing truncated, nothing dropped as gso_bad.
#   2. UDP_SEGMENT from cli (when the kernel hands UDP_L4 over veth with its
#      virtio-net header): every datagram reaches srv intact.
#   3. --gso off: the router cuts super-frames itself (if_*_tx_segmented);
#      the same file arrives intact.
#   4. Offloads off on every peer (TSO, GSO, GRO; the path the tests used to
#      force): no super-frame reaches the router, TCP and the file still go
#      through.
#
# Runtime about 30 s. GN_ROUTER=PATH runs another build.

set -u -o pipefail
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"

gn_require router socat curl iperf3 jq ethtool sha256sum
gn_init
cd "$GN_RUN" || exit 1
gn_topology

sv() { awk -v k="$1" '$1 == k { print $2; exit }' "$2"; }

# The premise: the peers offload as a user's hosts do.
check "cli's veth has TSO on (the kernel's default, left alone)" \
    expect_grep <(in_cli ethtool -k "$CLI_DEV") "^tcp-segmentation-offload: on"
check "srv's veth has TSO on" \
    expect_grep <(in_srv ethtool -k "$SRV_DEV") "^tcp-segmentation-offload: on"

mkdir -p "$GN_RUN/www"
head -c 20971520 /dev/urandom >"$GN_RUN/www/big.bin"
want_sum=$(sha256sum <"$GN_RUN/www/big.bin" | cut -d' ' -f1)
gn_bg "$SRV" http /usr/bin/python3 -m http.server 8080 --bind "$SRV_IP" \
    --directory "$GN_RUN/www"
gn_bg "$SRV" iperf3 iperf3 -s -B "$SRV_IP" -p 5201
gn_wait 5 in_srv bash -c "exec 3<>/dev/tcp/$SRV_IP/8080" ||
    gn_log "http server not listening after 5 s"
gn_wait 5 in_srv bash -c "exec 3<>/dev/tcp/$SRV_IP/5201" ||
    gn_log "iperf3 server not listening after 5 s"

# iperf3 LABEL ARGS...: a run into LABEL.json; checks it ran clean and moved
# data; prints the rate.
iperf()
{
	local label=$1 rc mbps
	shift
	in_cli timeout 20 iperf3 -J -c "$SRV_IP" -p 5201 "$@" >"$GN_RUN/$label.json" 2>&1
	rc=$?
	check "iperf3 $label: runs clean" \
	    expect_eq "$rc $(jq -r '.error // "no error"' "$GN_RUN/$label.json" 2>&1)" "0 no error"
	mbps=$(jq -r '.end.sum_received.bits_per_second // 0 | . / 1e6 | floor' \
	    "$GN_RUN/$label.json" 2>/dev/null)
	check "iperf3 $label: received >= 100 Mbit/s (got ${mbps:-?})" \
	    expect_ge "${mbps:-0}" 100
	gn_log "$label: ${mbps:-?} Mbit/s, retransmits" \
	    "$(jq -r '.end.sum_sent.retransmits // "?"' "$GN_RUN/$label.json" 2>/dev/null)"
}

# transfer LABEL: the 20 MB file down by curl and up by socat, both sha256'd.
transfer()
{
	local label=$1 port=$2

	rm -f "$GN_RUN/got.bin" "$GN_RUN/up.bin"
	in_cli curl -sS --max-time 30 -o "$GN_RUN/got.bin" \
	    "http://$SRV_IP:8080/big.bin" >"$GN_RUN/curl.$label.out" 2>&1
	check "$label: curl srv -> cli, 20 MB, sha256 matches" \
	    expect_eq "$(sha256sum <"$GN_RUN/got.bin" 2>/dev/null | cut -d' ' -f1)" "$want_sum"
	gn_bg "$SRV" "up.$label" timeout 30 socat -u \
	    "TCP-LISTEN:$port,bind=$SRV_IP,reuseaddr" "CREATE:$GN_RUN/up.bin"
	gn_wait 5 in_srv bash -c "ss -ltn | grep -q ':$port '" ||
	    gn_log "socat not listening after 5 s"
	in_cli timeout 30 socat -u "FILE:$GN_RUN/www/big.bin" "TCP:$SRV_IP:$port" \
	    >"$GN_RUN/socat.$label.out" 2>&1
	gn_wait 10 bash -c "[ \"\$(stat -c %s '$GN_RUN/up.bin' 2>/dev/null)\" = 20971520 ]"
	sleep 0.2
	check "$label: socat cli -> srv, 20 MB, sha256 matches" \
	    expect_eq "$(sha256sum <"$GN_RUN/up.bin" 2>/dev/null | cut -d' ' -f1)" "$want_sum"
}

# no_loss_counters FILE: what must stay zero in any mode.
no_loss_counters()
{
	local f=$1 d

	for d in "$RTR_IN_DEV" "$RTR_OUT_DEV"; do
		check "stats: if_${d}_rx_truncated == 0" \
		    expect_eq "$(sv "if_${d}_rx_truncated" "$f")" 0
		check "stats: if_${d}_tx_errors == 0" \
		    expect_eq "$(sv "if_${d}_tx_errors" "$f")" 0
	done
	gn_log "overruns (the router behind; TCP recovers):" \
	    "queue_full $(sv "if_${RTR_IN_DEV}_rx_queue_full" "$f")/$(sv "if_${RTR_OUT_DEV}_rx_queue_full" "$f")" \
	    "kernel_drops $(sv "if_${RTR_IN_DEV}_rx_kernel_drops" "$f")/$(sv "if_${RTR_OUT_DEV}_rx_kernel_drops" "$f")"
	check "stats: drop_gso_bad == 0" expect_eq "$(sv drop_gso_bad "$f")" 0
	check "stats: drop_oversize == 0" expect_eq "$(sv drop_oversize "$f")" 0
	check "stats: drop_too_big == 0" expect_eq "$(sv drop_too_big "$f")" 0
}

# --- 1. default offloads, GSO frames leave whole -----------------------------

gn_router_start || gn_die "router did not start"
in_cli ping -c 2 -i 0.2 -W 2 "$SRV_IP" >/dev/null 2>&1
iperf tcp1 -t 3
iperf tcp1_reverse -t 3 -R
iperf tcp4 -t 3 -P 4
transfer "gso on" 9001
stats_snapshot "$GN_RUN/s1"
check "stats: gso_in >= 100 (super-frames reached the pipeline)" \
    expect_ge "$(sv gso_in "$GN_RUN/s1")" 100
check "stats: if_${RTR_IN_DEV}_rx_gso >= 100 (cli's TSO frames came whole)" \
    expect_ge "$(sv "if_${RTR_IN_DEV}_rx_gso" "$GN_RUN/s1")" 100
check "stats: if_${RTR_OUT_DEV}_rx_gso >= 100 (srv's, for -R and curl)" \
    expect_ge "$(sv "if_${RTR_OUT_DEV}_rx_gso" "$GN_RUN/s1")" 100
check "stats: if_${RTR_OUT_DEV}_tx_gso >= 100 (sent on whole)" \
    expect_ge "$(sv "if_${RTR_OUT_DEV}_tx_gso" "$GN_RUN/s1")" 100
check "stats: if_${RTR_OUT_DEV}_tx_segmented == 0 (the kernel segments)" \
    expect_eq "$(sv "if_${RTR_OUT_DEV}_tx_segmented" "$GN_RUN/s1")" 0
no_loss_counters "$GN_RUN/s1"

# --- 2. UDP GSO (UDP_SEGMENT) ------------------------------------------------

# 40 sends of 8 x 1200 bytes (+ 100 in a last short segment), each datagram
# numbered; srv reports how many arrived whole.
cat >"$GN_RUN/udpgso.py" <<'EOF'
import socket, struct, sys, time
mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
SEG, N, SENDS = 1200, 9, 40
def dgram(i, j):
    n = SEG if j < N - 1 else 100
    head = struct.pack("!II", i, j)
    return head + bytes((i * 7 + j * 13 + k) & 0xff for k in range(n - 8))
if mode == "recv":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((host, port))
    s.settimeout(3)
    good = bad = 0
    try:
        while good + bad < SENDS * N:
            d = s.recv(65535)
            i, j = struct.unpack("!II", d[:8])
            if d == dgram(i, j):
                good += 1
            else:
                bad += 1
    except socket.timeout:
        pass
    print(good, bad)
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_UDP, 103, SEG)      # UDP_SEGMENT
    for i in range(SENDS):
        s.sendto(b"".join(dgram(i, j) for j in range(N)), (host, port))
        time.sleep(0.005)
EOF
stats_snapshot "$GN_RUN/u0"
gn_bg "$SRV" udprecv "$GN_PY" "$GN_RUN/udpgso.py" recv "$SRV_IP" 9100
udprecv_pid=$GN_LAST_PID
sleep 0.5
in_cli "$GN_PY" "$GN_RUN/udpgso.py" send "$SRV_IP" 9100 >"$GN_RUN/udpsend.out" 2>&1
wait "$udprecv_pid" 2>/dev/null
stats_snapshot "$GN_RUN/u1"
udp_gso=$(stat_delta "if_${RTR_IN_DEV}_rx_gso" "$GN_RUN/u0" "$GN_RUN/u1")
gn_log "UDP_SEGMENT: srv got (good bad) $(tail -1 "$GN_RUN/udprecv.log"); router rx_gso +$udp_gso"
check "UDP_SEGMENT cli -> srv: all 360 datagrams arrive intact" \
    expect_eq "$(tail -1 "$GN_RUN/udprecv.log")" "360 0"
if [ "$udp_gso" -gt 0 ]; then
	check "UDP_SEGMENT: the router took UDP_L4 super-frames (rx_gso +$udp_gso)" \
	    expect_ge "$udp_gso" 1
else
	gn_log "this kernel segments UDP_L4 before the router's socket; no UDP GSO check"
fi
no_loss_counters "$GN_RUN/u1"
gn_router_stop

# --- 3. --gso off: the router segments -------------------------------------------

gn_router_start --gso off || gn_die "router (--gso off) did not start"
in_cli ping -c 2 -i 0.2 -W 2 "$SRV_IP" >/dev/null 2>&1
iperf tcp1_swseg -t 3
transfer "gso off" 9002
stats_snapshot "$GN_RUN/s3"
check "stats (--gso off): if_${RTR_OUT_DEV}_tx_segmented >= 100" \
    expect_ge "$(sv "if_${RTR_OUT_DEV}_tx_segmented" "$GN_RUN/s3")" 100
check "stats (--gso off): if_${RTR_OUT_DEV}_tx_gso == 0" \
    expect_eq "$(sv "if_${RTR_OUT_DEV}_tx_gso" "$GN_RUN/s3")" 0
no_loss_counters "$GN_RUN/s3"
gn_router_stop

# --- 4. offloads off on every peer -------------------------------------------------

gn_offloads off "$CLI:$CLI_DEV" "$SRV:$SRV_DEV"
check "cli's veth has TSO off now" \
    expect_grep <(in_cli ethtool -k "$CLI_DEV") "^tcp-segmentation-offload: off"
gn_router_start || gn_die "router did not start"
in_cli ping -c 2 -i 0.2 -W 2 "$SRV_IP" >/dev/null 2>&1
iperf tcp1_nooffload -t 3
transfer "offloads off" 9003
stats_snapshot "$GN_RUN/s4"
check "stats (offloads off): gso_in == 0 (no super-frames)" \
    expect_eq "$(sv gso_in "$GN_RUN/s4")" 0
check "stats (offloads off): csum_completed >= 1000 (checksum offload stays on)" \
    expect_ge "$(sv csum_completed "$GN_RUN/s4")" 1000
no_loss_counters "$GN_RUN/s4"
check "router alive at the end" gn_router_alive
gn_router_stop

gn_summary

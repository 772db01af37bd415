# SPDX-License-Identifier: ISC
# Sourced by the QEMU guest tests and tests/bench/guest.sh: the topology
# every one of them boots the guest in (needs root, iproute2):
#
#	cli  veth-c 192.168.1.2/24 gw .1
#	rtr  br-in [veth-ri + tap-in]   br-out [veth-ro + tap-out]   QEMU runs here
#	srv  veth-s 203.0.113.2/24
#
# guest_www SRV DIR TEXT [big]: srv's HTTP server on 203.0.113.2:8080
# serving DIR (index.html holds TEXT; with big, a 20 MB random big.bin
# whose sha256 goes to BIG_SUM), its log in DIR/../http.log; sets HTTP_PID,
# which the caller kills.
# waitlog LOG PATTERN SECONDS: PATTERN appears in LOG within SECONDS, or
# false (at once when QEMU_PID has ended without it).
#
# guest_topo CLI RTR SRV creates the three namespaces and the links, or
# returns non-zero. Offloads stay at their defaults everywhere (hosts'
# veths, bridges, TAPs, virtio): TCP crosses the guest as GSO super-frames
# (issue 13). The caller deletes the namespaces.
guest_topo() {
	local cli=$1 rtr=$2 srv=$3 ns d
	(
	set -e
	for ns in "$cli" "$rtr" "$srv"; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
	ip -n "$rtr" tuntap add tap-in mode tap
	ip -n "$rtr" tuntap add tap-out mode tap
	ip -n "$rtr" link add br-in type bridge
	ip -n "$rtr" link add br-out type bridge
	ip -n "$rtr" link add veth-ri type veth peer name veth-c netns "$cli"
	ip -n "$rtr" link add veth-ro type veth peer name veth-s netns "$srv"
	for d in tap-in veth-ri; do ip -n "$rtr" link set $d master br-in up; done
	for d in tap-out veth-ro; do ip -n "$rtr" link set $d master br-out up; done
	ip -n "$rtr" link set br-in up
	ip -n "$rtr" link set br-out up
	ip -n "$cli" addr add 192.168.1.2/24 dev veth-c
	ip -n "$cli" link set veth-c up
	ip -n "$cli" route add default via 192.168.1.1
	ip -n "$srv" addr add 203.0.113.2/24 dev veth-s
	ip -n "$srv" link set veth-s up
	)
}

guest_www() {
	mkdir -p "$2"
	echo "$3" >"$2/index.html"
	if [ -n "${4:-}" ]; then
		head -c 20971520 /dev/urandom >"$2/big.bin"
		BIG_SUM=$(sha256sum <"$2/big.bin" | cut -d' ' -f1)
	fi
	ip netns exec "$1" /usr/bin/python3 -m http.server 8080 --bind 203.0.113.2 \
		--directory "$2" >"$(dirname "$2")/http.log" 2>&1 &
	HTTP_PID=$!
}

waitlog() {
	local i
	for i in $(seq $(($3 * 10))); do
		grep -qF -- "$2" "$1" 2>/dev/null && return 0
		kill -0 "$QEMU_PID" 2>/dev/null || { grep -qF -- "$2" "$1" 2>/dev/null; return; }
		sleep 0.1
	done
	return 1
}

# SPDX-License-Identifier: ISC
# Sourced by the QEMU guest tests and tests/bench/guest.sh: the topology
# every one of them boots the guest in (needs root, iproute2):
#
#	cli  veth-c 192.168.1.2/24 gw .1
#	rtr  br-in [veth-ri + tap-in]   br-out [veth-ro + tap-out]   QEMU runs here
#	srv  veth-s 203.0.113.2/24
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

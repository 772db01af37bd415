/* SPDX-License-Identifier: ISC */
/*
 * The netfn pipeline: batches of received frames in, frames to send and table
 * events out.
 *
 *	parse Ethernet -> ARP -> IPv4 -> local delivery (ICMP echo) or
 *	forward: TTL, route (LPM), NAT (netfn/nat.h), ARP resolve, rewrite
 *
 * A GSO super-frame (struct nf_gso in out.h: up to 64 KB of TCP or UDP
 * payload under one set of headers) is routed and translated as one frame
 * and leaves as one, its offload state copied to the output frame; the MTU
 * check is made on the segments it will become (gso.size plus headers).
 *
 * A forwarded frame is rewritten in place (MACs, TTL, header checksum by
 * RFC 1624) and queued for sending without a copy; frames the router makes
 * (ARP, ICMP) go into the output arena. Drops are counted per reason
 * (netfn/drop.h). The pipeline keeps no clock and makes no system call:
 * `now_us` (microseconds since the epoch) is passed in, so a capture replays
 * the same way every time.
 *
 * ICMP errors (time exceeded, unreachable, fragmentation needed) follow
 * RFC 1812 4.3.2.7: never about an ICMP error, a broadcast or multicast, a
 * later fragment, or a martian source; rate-limited by a token bucket. An
 * error about a datagram NAT translated on its way in quotes it as the
 * remote sent it (RFC 5508 REQ-3: external address and port), and an inbound
 * datagram whose TTL runs out is answered before NAT sees it, so it opens
 * no session.
 *
 * Sources are checked against the interface they arrive on (RFC 3704 strict
 * reverse path): one routed back through another interface is a spoof,
 * DROP_SPOOFED_SRC; with NAT, an inside source must also be routable at all.
 */
#ifndef NETFN_PIPELINE_H
#define NETFN_PIPELINE_H

#include <stdint.h>

#include "arp.h"
#include "drop.h"
#include "nat.h"
#include "out.h"
#include "route.h"

#define NF_MAX_IFACES	8
#define NF_FRAME_MAX	2048	/* larger frames are DROP_OVERSIZE, GSO aside */

struct nf_iface {
	char		name[16];
	uint8_t		mac[ETH_ALEN];
	uint32_t	addr;
	uint8_t		plen;
	uint16_t	mtu;		/* IP MTU; 0: 1500 */
};

struct nf_config {
	struct nf_iface	 iface[NF_MAX_IFACES];
	unsigned	 n_iface;
	struct arp_params arp;
	uint32_t	 icmp_rate;	/* ICMP errors per second; 0: unlimited */
	uint32_t	 icmp_burst;
	uint64_t	 seed;		/* randomises ARP timers, IP ids, NAT ports */
	/* The secret of the keyed generator (SipHash, netfn/rng.h) behind all
	 * of those: src/ fills it from getrandom(). All zero: derived from
	 * seed, for reproducible tests. */
	uint64_t	 key[2];
	/* NAT: masquerade behind the outside interface's address and the pool
	 * (extra external addresses, answered for by ARP on the outside). */
	bool		 nat;
	uint8_t		 outside;	/* ifidx of the outside interface */
	uint32_t	 pool[NAT_MAX_EXT - 1];
	unsigned	 n_pool;
	struct nat_params nat_params;
};

/* Defaults: no interfaces, ARP and NAT defaults (NAT off), 1000 ICMP
 * errors/s burst 50. */
void nf_config_default(struct nf_config *cfg);

struct nf_stats {
	uint64_t	rx, rx_bytes;
	uint64_t	forwarded;
	uint64_t	local;		/* delivered to the router itself */
	uint64_t	arp_in;
	uint64_t	icmp_sent;
	uint64_t	icmp_ratelimited;
	uint64_t	csum_completed;
	uint64_t	gso_in;		/* GSO super-frames taken whole */
	uint64_t	hairpinned;
	uint64_t	drop[DROP_MAX];
};

struct nf;

/*
 * A pipeline for cfg's interfaces with a connected route for each. NULL when
 * the config is invalid (no interface, more than NF_MAX_IFACES, plen > 32) or
 * memory runs out.
 */
struct nf *nf_new(const struct nf_config *cfg);
void nf_free(struct nf *nf);

/*
 * Add a route via gw (0.0.0.0/0 for the default gateway); the interface is
 * the one whose subnet holds gw. 0, or -EINVAL (bad prefix) or -ENETUNREACH
 * (gw on no connected subnet).
 */
int nf_route_add(struct nf *nf, uint32_t prefix, uint8_t plen, uint32_t gw);

/*
 * A static port forward: proto (IPPROTO_TCP_/UDP_) ext_port on the outside
 * address -> int_ip:int_port, int_ip on a connected inside subnet.
 * 0, -ENOTSUP (no NAT), -EINVAL, -EEXIST, -ENOSPC.
 */
int nf_forward_add(struct nf *nf, uint8_t proto, uint16_t ext_port, uint32_t int_ip,
    uint16_t int_port, uint64_t now_us, struct nf_out *out);

/* Gratuitous ARP on every interface: call once when the links are up. */
void nf_start(struct nf *nf, uint64_t now_us, struct nf_out *out);
/*
 * The same announcement again, whenever the neighbours may hold a stale
 * view of where our addresses live (after a resume, a migration, a
 * takeover): a gratuitous ARP request for each interface's address.
 * Returns how many it queued on out.
 */
unsigned nf_announce(struct nf *nf, uint64_t now_us, struct nf_out *out);

/*
 * Process n received frames. Frames may be rewritten in place; out->tx may
 * point into them (see out.h for the order of send and release).
 */
void nf_input(struct nf *nf, struct nf_frame *rx, unsigned n, uint64_t now_us,
    struct nf_out *out);

/* Timers (ARP, NAT expiry sweep). Cheap when nothing is due. */
void nf_tick(struct nf *nf, uint64_t now_us, struct nf_out *out);
/* Earliest time nf_tick has work (UINT64_MAX: none). */
uint64_t nf_next_deadline(const struct nf *nf);

const struct nf_stats *nf_stats(const struct nf *nf);
struct arp_cache *nf_arp(struct nf *nf);
struct nat *nf_nat(struct nf *nf);		/* NULL without NAT */
const struct rtable *nf_routes(const struct nf *nf);
const struct nf_iface *nf_iface(const struct nf *nf, uint8_t ifidx);
unsigned nf_n_iface(const struct nf *nf);

#endif

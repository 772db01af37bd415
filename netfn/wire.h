/* SPDX-License-Identifier: ISC */
/*
 * Wire formats: bounds-checked views and builders for Ethernet, ARP, IPv4,
 * ICMP, UDP and TCP.
 *
 * A parser reads a header at buf[0..len) into a small struct of host-order
 * fields and returns DROP_NONE or the reason the bytes are unacceptable. It
 * checks the length before every read, loads big-endian explicitly and never
 * casts a struct over the buffer. Parsers do not allocate and keep no state.
 *
 * Builders write into buf[0..cap) and return the number of bytes written, or
 * 0 when cap is too small; they fill in every checksum they own.
 *
 * 802.1Q: gitnet is not VLAN-aware. A tagged frame (0x8100, 0x88a8, 0x9100)
 * is dropped with DROP_VLAN rather than silently treated as untagged, which
 * would leak traffic between VLANs.
 *
 * Addresses are host-order uint32_t (10.0.0.1 == 0x0a000001); MACs are
 * uint8_t[6] in wire order.
 */
#ifndef NETFN_WIRE_H
#define NETFN_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drop.h"

static inline uint16_t
load_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t
load_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static inline void
store_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void
store_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

#define ETH_ALEN	6
#define ETH_HLEN	14
#define ETH_ZLEN	60		/* minimum frame without FCS */
#define ETHERTYPE_IPV4	0x0800
#define ETHERTYPE_ARP	0x0806
#define ETHERTYPE_VLAN	0x8100
#define ETHERTYPE_QINQ	0x88a8
#define ETHERTYPE_QINQ_OLD 0x9100

#define ARP_LEN		28		/* Ethernet/IPv4 ARP body */
#define ARP_OP_REQUEST	1
#define ARP_OP_REPLY	2

#define IPV4_MIN_HLEN	20
#define IPV4_DF		0x4000
#define IPV4_MF		0x2000
#define IPV4_OFFMASK	0x1fff
#define IPPROTO_ICMP_	1
#define IPPROTO_TCP_	6
#define IPPROTO_UDP_	17

#define ICMP_HLEN		8
#define ICMP_ECHOREPLY		0
#define ICMP_UNREACH		3
#define  ICMP_UNREACH_NET	0
#define  ICMP_UNREACH_HOST	1
#define  ICMP_UNREACH_PROTO	2
#define  ICMP_UNREACH_PORT	3
#define  ICMP_UNREACH_NEEDFRAG	4
#define  ICMP_UNREACH_ADMIN	13
#define ICMP_ECHO		8
#define ICMP_TIMXCEED		11
#define  ICMP_TIMXCEED_INTRANS	0
#define ICMP_PARAMPROB		12

#define UDP_HLEN	8
#define TCP_MIN_HLEN	20
#define TCP_FIN		0x01
#define TCP_SYN		0x02
#define TCP_RST		0x04
#define TCP_PSH		0x08
#define TCP_ACK		0x10
#define TCP_URG		0x20

extern const uint8_t eth_broadcast[ETH_ALEN];
extern const uint8_t eth_zero[ETH_ALEN];

static inline bool
eth_is_multicast(const uint8_t mac[ETH_ALEN])
{
	return mac[0] & 1;	/* broadcast included */
}

struct eth {
	uint8_t		dst[ETH_ALEN];
	uint8_t		src[ETH_ALEN];
	uint16_t	type;
};

/*
 * Decode the Ethernet header. DROP_SHORT below 14 bytes, DROP_VLAN for a
 * tagged frame. The payload starts at buf + ETH_HLEN.
 */
enum drop pkt_parse_eth(struct eth *e, const uint8_t *buf, size_t len);

/* Write a 14-byte Ethernet header; returns ETH_HLEN, or 0 if cap is short. */
size_t pkt_build_eth(uint8_t *buf, size_t cap, const uint8_t dst[ETH_ALEN],
    const uint8_t src[ETH_ALEN], uint16_t type);

struct arp {
	uint16_t	op;
	uint8_t		sha[ETH_ALEN];
	uint32_t	spa;
	uint8_t		tha[ETH_ALEN];
	uint32_t	tpa;
};

/*
 * Decode an ARP body (after the Ethernet header). Only Ethernet/IPv4 ARP
 * (htype 1, ptype 0x0800, hlen 6, plen 4) with op request or reply is
 * accepted; anything else is DROP_ARP_BAD, a short body DROP_SHORT.
 */
enum drop pkt_parse_arp(struct arp *a, const uint8_t *buf, size_t len);

/*
 * Build a whole ARP frame: Ethernet header (eth_dst, eth_src) and body,
 * zero-padded to ETH_ZLEN. Returns ETH_ZLEN, or 0 if cap < ETH_ZLEN.
 */
size_t pkt_build_arp(uint8_t *buf, size_t cap, const uint8_t eth_dst[ETH_ALEN],
    const uint8_t eth_src[ETH_ALEN], const struct arp *a);

struct ipv4 {
	uint16_t	hlen;		/* header bytes, options included */
	uint16_t	tot_len;
	uint16_t	id;
	uint16_t	frag;		/* flags and offset, as on the wire */
	uint8_t		tos;
	uint8_t		ttl;
	uint8_t		proto;
	uint32_t	src;
	uint32_t	dst;
	/* Set by the pipeline, never by the parser: the TCP/UDP checksum
	 * field holds the folded pseudo-header sum of a GSO super-frame
	 * (NF_F_NEEDS_CSUM), so a rewrite adjusts only for the addresses. */
	bool		csum_partial;
};

/* A fragment: MF set or a non-zero offset. */
static inline bool
ipv4_is_fragment(const struct ipv4 *ip)
{
	return (ip->frag & (IPV4_MF | IPV4_OFFMASK)) != 0;
}

/* A later fragment: one without the transport header. */
static inline bool
ipv4_is_later_fragment(const struct ipv4 *ip)
{
	return (ip->frag & IPV4_OFFMASK) != 0;
}

/*
 * Decode the IPv4 header at buf[0..len), checksum verified. Options are
 * accepted and skipped (hlen covers them). Bytes past tot_len (Ethernet
 * padding) are the caller's to trim. Reasons: DROP_SHORT, DROP_BAD_VERSION,
 * DROP_BAD_HLEN, DROP_BAD_LEN, DROP_BAD_CSUM.
 */
enum drop pkt_parse_ipv4(struct ipv4 *ip, const uint8_t *buf, size_t len);

/*
 * Write a 20-byte IPv4 header without options, DF clear, with its checksum,
 * for a payload of payload_len bytes. Returns 20, or 0 if cap is short or
 * the total would exceed 65535.
 */
size_t pkt_build_ipv4(uint8_t *buf, size_t cap, uint8_t proto, uint32_t src,
    uint32_t dst, uint16_t id, uint8_t ttl, size_t payload_len);

struct icmp {
	uint8_t		type;
	uint8_t		code;
	uint16_t	csum;
	uint32_t	rest;		/* id/seq, next-hop MTU, unused ... */
};

/*
 * Decode an ICMP header from an ICMP message of len bytes (the IP payload).
 * DROP_L4_SHORT below 8 bytes; DROP_L4_BAD_CSUM if the checksum over all len
 * bytes is wrong.
 */
enum drop pkt_parse_icmp(struct icmp *ic, const uint8_t *buf, size_t len);

/* An ICMP error type (3, 4, 5, 11, 12): one must not answer it with another. */
static inline bool
icmp_is_error(uint8_t type)
{
	return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

struct udp {
	uint16_t	sport;
	uint16_t	dport;
	uint16_t	len;
	uint16_t	csum;
};

/*
 * Decode a UDP header from a datagram of len bytes (the IP payload). The UDP
 * length must be 8..len: DROP_L4_SHORT otherwise. The checksum is not checked
 * (a router forwards it untouched; see pkt_l4_csum_ok).
 */
enum drop pkt_parse_udp(struct udp *u, const uint8_t *buf, size_t len);

/* Write an 8-byte UDP header whose checksum covers the len - 8 bytes after it
 * (which must already be in place): returns 8, or 0 if cap < len. */
size_t pkt_build_udp(uint8_t *buf, size_t cap, uint32_t src, uint32_t dst,
    uint16_t sport, uint16_t dport, size_t len);

struct tcp {
	uint16_t	sport;
	uint16_t	dport;
	uint32_t	seq;
	uint32_t	ack;
	uint16_t	hlen;		/* data offset in bytes, options included */
	uint8_t		flags;
	uint16_t	win;
	uint16_t	csum;
	uint16_t	mss;		/* 0 when there is no MSS option */
	uint16_t	mss_off;	/* offset of the MSS value from the TCP header */
};

/*
 * Decode a TCP header from a segment of len bytes. The data offset must be
 * 20..len (DROP_L4_SHORT) and every option must be well formed: kind 0 ends,
 * kind 1 is one byte, any other kind has a length byte >= 2 that stays inside
 * the header, MSS has length 4 (DROP_TCP_BAD_OPT; the 2014 MirageOS crash was
 * an MSS option of length 0). The checksum is not checked.
 */
enum drop pkt_parse_tcp(struct tcp *t, const uint8_t *buf, size_t len);

/*
 * True when the TCP/UDP checksum of the segment l4[0..len) is right for the
 * given addresses (a UDP checksum of 0 means none, and is right).
 */
bool pkt_l4_csum_ok(uint8_t proto, uint32_t src, uint32_t dst,
    const uint8_t *l4, size_t len);

/*
 * Complete a partial transport checksum (CHECKSUM_PARTIAL from a sender's
 * offload, seen as TP_STATUS_CSUMNOTREADY on AF_PACKET): the checksum field
 * holds the pseudo-header sum, the rest of the segment is not yet summed.
 * Adds the segment and stores the final value. l4 points at the TCP or UDP
 * header of a segment of len bytes. Returns DROP_NONE, or DROP_L4_SHORT when
 * the header does not fit. Any other protocol has nothing to complete:
 * DROP_NONE, bytes untouched.
 */
enum drop pkt_l4_csum_complete(uint8_t proto, uint8_t *l4, size_t len);

/* "10.0.0.1" into buf (>= 16 bytes); returns buf. */
char *ipv4_ntop(uint32_t addr, char buf[16]);
/* "02:50:2a:16:6d:01" into buf (>= 18 bytes); returns buf. */
char *mac_ntop(const uint8_t mac[ETH_ALEN], char buf[18]);
/* Parse dotted quad strictly (no leading zeros games, all four parts): 0 or -1. */
int ipv4_pton(const char *s, uint32_t *out);
/* Parse "aa:bb:cc:dd:ee:ff": 0 or -1. */
int mac_pton(const char *s, uint8_t mac[ETH_ALEN]);
/* The value of one hex digit, either case, or -1. */
int hex_digit(char c);
/*
 * The protocols gitnet translates by name, as conntrack, paths and
 * commit messages write them: "tcp", "udp", "icmp"; NULL for any other
 * (netfn/names.c). These four are the only IPv4/MAC/protocol text
 * routines: every other layer calls them.
 */
const char *ip_proto_name(uint8_t proto);
/* The protocol named by s[0..n) exactly ("tcp", "udp", "icmp"): 0 or -1. */
int ip_proto_parse(uint8_t *proto, const char *s, size_t n);

#endif

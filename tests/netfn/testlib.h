/* SPDX-License-Identifier: ISC */
/*
 * Shared helpers for the netfn unit tests: an nf_out over static arrays, a
 * reference Internet checksum, and a frame builder for the many variants of
 * one packet that table-driven tests need.
 *
 * The checksum here is RFC 1071 by the letter (byte pairs, end-around carry),
 * written without netfn/csum.h so that a bug there cannot hide a bug in what
 * it computes. tl_build fills every checksum with it; the tests that matter
 * most still spell their frames out as literal bytes, and one of them checks
 * tl_build against such a literal, so the builder is itself under test.
 *
 * Header-only, every function static inline: include it from one test file.
 */
#ifndef TESTS_NETFN_TESTLIB_H
#define TESTS_NETFN_TESTLIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "netfn/out.h"
#include "netfn/wire.h"

#define IP4(a, b, c, d)	((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | \
			 (uint32_t)(c) << 8 | (uint32_t)(d))

#define TL_MS		1000ULL		/* microseconds */
#define TL_S		1000000ULL
#define TL_T0		1700000000000000ULL	/* an arbitrary "now" */

#define TL_TX_MAX	512
#define TL_EV_MAX	512
#define TL_ARENA_MAX	65536

/* An nf_out whose arrays live next to it; use a static one (it is large). */
struct tl_out {
	struct nf_out	out;
	struct nf_frame	tx[TL_TX_MAX];
	struct nf_event	ev[TL_EV_MAX];
	_Alignas(8) uint8_t arena[TL_ARENA_MAX];
};

static inline void
tl_out_init(struct tl_out *t)
{
	memset(&t->out, 0, sizeof(t->out));
	t->out.tx = t->tx;
	t->out.tx_cap = TL_TX_MAX;
	t->out.arena = t->arena;
	t->out.arena_cap = TL_ARENA_MAX;
	t->out.ev = t->ev;
	t->out.ev_cap = TL_EV_MAX;
}

/* RFC 1071 section 1: the one's complement sum of big-endian byte pairs. */
static inline uint16_t
tl_sum(uint32_t start, const uint8_t *p, size_t len)
{
	uint32_t s = start;

	for (size_t i = 0; i < len; i += 2) {
		s += (uint32_t)p[i] << 8;
		if (i + 1 < len)
			s += p[i + 1];
		while (s > 0xffff)
			s = (s & 0xffff) + (s >> 16);
	}
	return (uint16_t)s;
}

/* The checksum to store over p[0..len) (field zeroed by the caller). */
static inline uint16_t
tl_csum(const uint8_t *p, size_t len)
{
	return (uint16_t)~tl_sum(0, p, len);
}

/* True when p[0..len), its checksum field included, verifies. */
static inline bool
tl_csum_ok(const uint8_t *p, size_t len)
{
	return tl_sum(0, p, len) == 0xffff;
}

/* Sum of the TCP/UDP pseudo-header (RFC 768, RFC 793), not complemented. */
static inline uint16_t
tl_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len)
{
	uint8_t ph[12];

	store_be32(ph, src);
	store_be32(ph + 4, dst);
	ph[8] = 0;
	ph[9] = proto;
	store_be16(ph + 10, len);
	return tl_sum(0, ph, sizeof(ph));
}

/* True when the TCP/UDP segment l4[0..len) carries a right checksum. */
static inline bool
tl_l4_csum_ok(uint32_t src, uint32_t dst, uint8_t proto, const uint8_t *l4,
    size_t len)
{
	return tl_sum(tl_pseudo(src, dst, proto, (uint16_t)len), l4, len) == 0xffff;
}

/* One packet to build; zero fields take the defaults named below. */
struct tl_pkt {
	uint8_t		dst_mac[ETH_ALEN];
	uint8_t		src_mac[ETH_ALEN];
	uint16_t	ethertype;	/* 0: IPv4 */
	uint8_t		proto;		/* IPPROTO_UDP_, _TCP_, _ICMP_ or other */
	uint8_t		ttl;
	uint8_t		tos;
	uint16_t	id;
	uint16_t	frag;		/* flags and offset */
	uint32_t	src, dst;
	uint16_t	sport, dport;	/* UDP/TCP */
	uint8_t		icmp_type, icmp_code;
	uint32_t	icmp_rest;	/* ICMP bytes 4..7 (id/seq, MTU) */
	const uint8_t	*payload;
	size_t		plen;
};

/*
 * Write Ethernet, a 20-byte IPv4 header and the transport header (UDP 8,
 * TCP 20, ICMP 8, none for other protocols) with the payload, every checksum
 * right. Returns the frame length, or 0 if cap is too small.
 */
static inline size_t
tl_build(uint8_t *buf, size_t cap, const struct tl_pkt *p)
{
	size_t l4h = p->proto == IPPROTO_UDP_ ? UDP_HLEN :
	    p->proto == IPPROTO_TCP_ ? TCP_MIN_HLEN :
	    p->proto == IPPROTO_ICMP_ ? ICMP_HLEN : 0;
	size_t l4len = l4h + p->plen;
	size_t total = ETH_HLEN + IPV4_MIN_HLEN + l4len;
	uint8_t *ip = buf + ETH_HLEN, *l4 = ip + IPV4_MIN_HLEN;

	if (total > cap || IPV4_MIN_HLEN + l4len > 0xffff)
		return 0;
	memcpy(buf, p->dst_mac, ETH_ALEN);
	memcpy(buf + 6, p->src_mac, ETH_ALEN);
	store_be16(buf + 12, p->ethertype ? p->ethertype : ETHERTYPE_IPV4);
	ip[0] = 0x45;
	ip[1] = p->tos;
	store_be16(ip + 2, (uint16_t)(IPV4_MIN_HLEN + l4len));
	store_be16(ip + 4, p->id);
	store_be16(ip + 6, p->frag);
	ip[8] = p->ttl;
	ip[9] = p->proto;
	store_be16(ip + 10, 0);
	store_be32(ip + 12, p->src);
	store_be32(ip + 16, p->dst);
	store_be16(ip + 10, tl_csum(ip, IPV4_MIN_HLEN));
	if (p->plen)
		memcpy(l4 + l4h, p->payload, p->plen);
	switch (p->proto) {
	case IPPROTO_UDP_:
		store_be16(l4, p->sport);
		store_be16(l4 + 2, p->dport);
		store_be16(l4 + 4, (uint16_t)l4len);
		store_be16(l4 + 6, 0);
		store_be16(l4 + 6, (uint16_t)~tl_sum(tl_pseudo(p->src, p->dst,
		    IPPROTO_UDP_, (uint16_t)l4len), l4, l4len));
		if (load_be16(l4 + 6) == 0)
			store_be16(l4 + 6, 0xffff);
		break;
	case IPPROTO_TCP_:
		memset(l4, 0, TCP_MIN_HLEN);
		store_be16(l4, p->sport);
		store_be16(l4 + 2, p->dport);
		store_be32(l4 + 4, 0x01020304);		/* seq */
		store_be32(l4 + 8, 0x0a0b0c0d);		/* ack */
		l4[12] = 5 << 4;
		l4[13] = TCP_ACK | TCP_PSH;
		store_be16(l4 + 14, 0xfaf0);		/* window */
		store_be16(l4 + 16, (uint16_t)~tl_sum(tl_pseudo(p->src, p->dst,
		    IPPROTO_TCP_, (uint16_t)l4len), l4, l4len));
		break;
	case IPPROTO_ICMP_:
		l4[0] = p->icmp_type;
		l4[1] = p->icmp_code;
		store_be16(l4 + 2, 0);
		store_be32(l4 + 4, p->icmp_rest);
		store_be16(l4 + 2, tl_csum(l4, l4len));
		break;
	default:
		break;
	}
	return total;
}

/* A whole Ethernet/IPv4 ARP frame, zero-padded to 60 bytes; returns 60. */
static inline size_t
tl_build_arp(uint8_t buf[ETH_ZLEN], const uint8_t eth_dst[ETH_ALEN],
    const uint8_t eth_src[ETH_ALEN], uint16_t op, const uint8_t sha[ETH_ALEN],
    uint32_t spa, const uint8_t tha[ETH_ALEN], uint32_t tpa)
{
	memset(buf, 0, ETH_ZLEN);
	memcpy(buf, eth_dst, ETH_ALEN);
	memcpy(buf + 6, eth_src, ETH_ALEN);
	store_be16(buf + 12, ETHERTYPE_ARP);
	store_be16(buf + 14, 1);
	store_be16(buf + 16, ETHERTYPE_IPV4);
	buf[18] = ETH_ALEN;
	buf[19] = 4;
	store_be16(buf + 20, op);
	memcpy(buf + 22, sha, ETH_ALEN);
	store_be32(buf + 28, spa);
	memcpy(buf + 32, tha, ETH_ALEN);
	store_be32(buf + 38, tpa);
	return ETH_ZLEN;
}

#endif

/* SPDX-License-Identifier: ISC */
/*
 * Helpers for the NAT tests: a builder of bare IPv4 datagrams (no Ethernet)
 * with every field a NAT test needs to set (TCP flags, fragment fields, a
 * UDP checksum of 0), a splitter into two fragments, and a checker of every
 * checksum in a datagram, the datagram quoted by an ICMP error included.
 *
 * Checksums are computed with the RFC 1071 sum of testlib.h, never with
 * netfn/csum.h, so what NAT computes incrementally (RFC 1624) is compared
 * with a full recomputation by independent code. nat_test.c checks this
 * builder against literal bytes.
 *
 * Header-only, every function static inline: include it from one test file.
 */
#ifndef TESTS_NETFN_NAT_TESTLIB_H
#define TESTS_NETFN_NAT_TESTLIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "netfn/wire.h"
#include "tests/netfn/testlib.h"

/* One datagram; fields left 0 are 0 on the wire unless said otherwise. */
struct nt_pkt {
	uint8_t		proto;		/* IPPROTO_UDP_, _TCP_, _ICMP_ or other */
	uint8_t		ttl;
	uint16_t	id;
	uint16_t	frag;		/* flags and offset */
	uint32_t	src, dst;
	uint16_t	sport, dport;	/* UDP/TCP */
	uint8_t		tcp_flags;
	uint32_t	seq, ack;
	uint16_t	win;
	uint8_t		icmp_type, icmp_code;
	uint32_t	icmp_rest;	/* ICMP bytes 4..7: id << 16 | seq for echo */
	bool		udp_nocsum;	/* send UDP checksum 0 (none) */
	const uint8_t	*payload;	/* after the transport header */
	size_t		plen;
};

static inline size_t
nt_l4_hlen(uint8_t proto)
{
	return proto == IPPROTO_UDP_ ? UDP_HLEN : proto == IPPROTO_TCP_ ?
	    TCP_MIN_HLEN : proto == IPPROTO_ICMP_ ? ICMP_HLEN : 0;
}

/* Fill in the IPv4 header checksum of ip[0..20). */
static inline void
nt_ip_csum(uint8_t *ip)
{
	store_be16(ip + 10, 0);
	store_be16(ip + 10, tl_csum(ip, IPV4_MIN_HLEN));
}

/*
 * Write the datagram into ip[0..cap): a 20-byte header and the transport
 * header and payload, every checksum computed in full. Returns its length,
 * or 0 when cap is short.
 */
static inline size_t
nt_build(uint8_t *ip, size_t cap, const struct nt_pkt *p)
{
	size_t l4len = nt_l4_hlen(p->proto) + p->plen;
	size_t total = IPV4_MIN_HLEN + l4len;
	uint8_t *l4 = ip + IPV4_MIN_HLEN;

	if (total > cap || total > 0xffff)
		return 0;
	memset(ip, 0, total);
	ip[0] = 0x45;
	store_be16(ip + 2, (uint16_t)total);
	store_be16(ip + 4, p->id);
	store_be16(ip + 6, p->frag);
	ip[8] = p->ttl;
	ip[9] = p->proto;
	store_be32(ip + 12, p->src);
	store_be32(ip + 16, p->dst);
	nt_ip_csum(ip);
	if (p->plen)
		memcpy(l4 + nt_l4_hlen(p->proto), p->payload, p->plen);
	switch (p->proto) {
	case IPPROTO_UDP_:
		store_be16(l4, p->sport);
		store_be16(l4 + 2, p->dport);
		store_be16(l4 + 4, (uint16_t)l4len);
		if (!p->udp_nocsum) {
			uint16_t c = (uint16_t)~tl_sum(tl_pseudo(p->src, p->dst,
			    IPPROTO_UDP_, (uint16_t)l4len), l4, l4len);

			store_be16(l4 + 6, c == 0 ? 0xffff : c);	/* RFC 768 */
		}
		break;
	case IPPROTO_TCP_:
		store_be16(l4, p->sport);
		store_be16(l4 + 2, p->dport);
		store_be32(l4 + 4, p->seq);
		store_be32(l4 + 8, p->ack);
		l4[12] = 5 << 4;
		l4[13] = p->tcp_flags;
		store_be16(l4 + 14, p->win);
		store_be16(l4 + 16, (uint16_t)~tl_sum(tl_pseudo(p->src, p->dst,
		    IPPROTO_TCP_, (uint16_t)l4len), l4, l4len));
		break;
	case IPPROTO_ICMP_:
		l4[0] = p->icmp_type;
		l4[1] = p->icmp_code;
		store_be32(l4 + 4, p->icmp_rest);
		store_be16(l4 + 2, tl_csum(l4, l4len));
		break;
	default:
		break;
	}
	return total;
}

/*
 * Split the datagram d[0..len) (20-byte header) into a first fragment
 * carrying first_l4 bytes of its payload (a multiple of 8) and a last one
 * with the rest. Returns the lengths in *l1 and *l2.
 */
static inline void
nt_fragment(const uint8_t *d, size_t len, size_t first_l4, uint8_t *f1, size_t *l1,
    uint8_t *f2, size_t *l2)
{
	*l1 = IPV4_MIN_HLEN + first_l4;
	*l2 = len - first_l4;
	memcpy(f1, d, *l1);
	store_be16(f1 + 2, (uint16_t)*l1);
	store_be16(f1 + 6, (uint16_t)(IPV4_MF | (load_be16(d + 6) & IPV4_DF)));
	nt_ip_csum(f1);
	memcpy(f2, d, IPV4_MIN_HLEN);
	memcpy(f2 + IPV4_MIN_HLEN, d + *l1, len - *l1);
	store_be16(f2 + 2, (uint16_t)*l2);
	store_be16(f2 + 6, (uint16_t)(first_l4 / 8));
	nt_ip_csum(f2);
}

/*
 * True when every checksum of the datagram ip[0..len) is right: the IP
 * header, then TCP/UDP with the pseudo-header (UDP 0 allowed) or ICMP over
 * the whole message; for an ICMP error also the quoted header and, when the
 * quote holds the whole quoted datagram, its transport checksum.
 */
static inline bool
nt_csums_ok(const uint8_t *ip, size_t len)
{
	size_t hl, l4len;
	const uint8_t *l4;

	if (len < IPV4_MIN_HLEN)
		return false;
	hl = (size_t)(ip[0] & 0x0f) * 4;
	if (hl < IPV4_MIN_HLEN || hl > len || load_be16(ip + 2) != len ||
	    !tl_csum_ok(ip, hl))
		return false;
	l4 = ip + hl;
	l4len = len - hl;
	switch (ip[9]) {
	case IPPROTO_UDP_:
		if (l4len >= UDP_HLEN && load_be16(l4 + 6) == 0)
			return true;
		return tl_l4_csum_ok(load_be32(ip + 12), load_be32(ip + 16),
		    IPPROTO_UDP_, l4, l4len);
	case IPPROTO_TCP_:
		return tl_l4_csum_ok(load_be32(ip + 12), load_be32(ip + 16),
		    IPPROTO_TCP_, l4, l4len);
	case IPPROTO_ICMP_:
		if (l4len < ICMP_HLEN || !tl_csum_ok(l4, l4len))
			return false;
		if (icmp_is_error(l4[0]) && l4len >= ICMP_HLEN + IPV4_MIN_HLEN) {
			const uint8_t *in = l4 + ICMP_HLEN;
			size_t ilen = l4len - ICMP_HLEN;

			if (load_be16(in + 2) == ilen)
				return nt_csums_ok(in, ilen);	/* quoted whole */
			return tl_csum_ok(in, (size_t)(in[0] & 0x0f) * 4);
		}
		return true;
	default:
		return true;
	}
}

#endif

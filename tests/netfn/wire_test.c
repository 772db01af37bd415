/* SPDX-License-Identifier: ISC */
/*
 * Tests of the wire layer (netfn/wire.c) and the name tables (netfn/names.c).
 *
 * The frames below are literal bytes as a capture on the inside veth would
 * show them (generated once with scapy, checksums included, and pasted): a
 * DNS query over UDP, an ICMP echo request, a Linux-style TCP SYN with MSS,
 * SACK-permitted, timestamps, NOP and window scale, and an ARP request and
 * reply. Tests read exact field values out of them, mutate single fields
 * (recomputing the header checksum with a naive reference, so each mutation
 * tests exactly one check), and feed every strict truncation of each frame to
 * the matching parser from a malloc of exactly that length, so ASan reports
 * any read past the end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "netfn/csum.h"
#include "netfn/drop.h"
#include "netfn/event.h"
#include "netfn/wire.h"

/* 52:54:00:12:34:56 10.0.0.2:53211 -> 02:50:2a:16:6d:01 8.8.8.8:53, DF. */
static const uint8_t udp_frame[] = {
	0x02, 0x50, 0x2a, 0x16, 0x6d, 0x01, 0x52, 0x54,
	0x00, 0x12, 0x34, 0x56, 0x08, 0x00, 0x45, 0x00,
	0x00, 0x39, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x11,
	0x04, 0x5d, 0x0a, 0x00, 0x00, 0x02, 0x08, 0x08,
	0x08, 0x08, 0xcf, 0xdb, 0x00, 0x35, 0x00, 0x25,
	0x87, 0x24, 0xbe, 0xef, 0x01, 0x00, 0x00, 0x01,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x65,
	0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x03, 0x63,
	0x6f, 0x6d, 0x00, 0x00, 0x01, 0x00, 0x01,
};

/* Echo request 10.0.0.2 -> 10.0.1.1, id 0x1234 seq 1, 32 bytes of data. */
static const uint8_t icmp_frame[] = {
	0x02, 0x50, 0x2a, 0x16, 0x6d, 0x01, 0x52, 0x54,
	0x00, 0x12, 0x34, 0x56, 0x08, 0x00, 0x45, 0x00,
	0x00, 0x3c, 0x4d, 0x2a, 0x40, 0x00, 0x40, 0x01,
	0xd8, 0x94, 0x0a, 0x00, 0x00, 0x02, 0x0a, 0x00,
	0x01, 0x01, 0x08, 0x00, 0xf3, 0xc8, 0x12, 0x34,
	0x00, 0x01, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
	0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d,
	0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25,
	0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d,
	0x2e, 0x2f,
};

/*
 * SYN 10.0.0.2:40000 -> 93.184.216.34:80, data offset 10: options
 * 02 04 05 b4 (MSS 1460), 04 02 (SACK-permitted), 08 0a ... (timestamps),
 * 01 (NOP), 03 03 07 (window scale 7).
 */
static const uint8_t tcp_frame[] = {
	0x02, 0x50, 0x2a, 0x16, 0x6d, 0x01, 0x52, 0x54,
	0x00, 0x12, 0x34, 0x56, 0x08, 0x00, 0x45, 0x00,
	0x00, 0x3c, 0xa1, 0xb2, 0x40, 0x00, 0x40, 0x06,
	0x59, 0x2d, 0x0a, 0x00, 0x00, 0x02, 0x5d, 0xb8,
	0xd8, 0x22, 0x9c, 0x40, 0x00, 0x50, 0x3a, 0xde,
	0x68, 0xb1, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02,
	0xfa, 0xf0, 0x2a, 0x1e, 0x00, 0x00, 0x02, 0x04,
	0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x00, 0x41,
	0xa2, 0xb3, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03,
	0x03, 0x07,
};

/* Who has 10.0.0.1? Tell 10.0.0.2 (52:54:00:12:34:56), as sent: unpadded. */
static const uint8_t arp_request_frame[] = {
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54,
	0x00, 0x12, 0x34, 0x56, 0x08, 0x06, 0x00, 0x01,
	0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x52, 0x54,
	0x00, 0x12, 0x34, 0x56, 0x0a, 0x00, 0x00, 0x02,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00,
	0x00, 0x01,
};

/* 10.0.0.1 is at 02:50:2a:16:6d:01, to 10.0.0.2, padded to 60 on the wire. */
static const uint8_t arp_reply_frame[] = {
	0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x02, 0x50,
	0x2a, 0x16, 0x6d, 0x01, 0x08, 0x06, 0x00, 0x01,
	0x08, 0x00, 0x06, 0x04, 0x00, 0x02, 0x02, 0x50,
	0x2a, 0x16, 0x6d, 0x01, 0x0a, 0x00, 0x00, 0x01,
	0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x0a, 0x00,
	0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00,
};
#define ARP_REPLY_UNPADDED	42

/* IGMP-style IPv4 packet with a Router Alert option (IHL 6), UDP inside. */
static const uint8_t ipopt_packet[] = {
	0x46, 0x00, 0x00, 0x22, 0x00, 0x07, 0x00, 0x00,
	0x01, 0x11, 0x3a, 0xa8, 0x0a, 0x00, 0x00, 0x02,
	0xe0, 0x00, 0x00, 0x16, 0x94, 0x04, 0x00, 0x00,
	0x00, 0x01, 0x00, 0x02, 0x00, 0x0a, 0xad, 0x55,
	0x68, 0x69,
};

static const uint8_t mac_host[ETH_ALEN] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const uint8_t mac_router[ETH_ALEN] = { 0x02, 0x50, 0x2a, 0x16, 0x6d, 0x01 };

#define IP_OFF	ETH_HLEN			/* IPv4 header in a frame */
#define L4_OFF	(ETH_HLEN + IPV4_MIN_HLEN)	/* transport header, no options */

/* A malloc of exactly len bytes holding src[0..len), so ASan guards its end. */
static uint8_t *
dup_exact(const uint8_t *src, size_t len)
{
	uint8_t *p = malloc(len);

	assert_non_null(p);
	if (len > 0)
		memcpy(p, src, len);
	return p;
}

/* RFC 1071 by the letter, independent of csum_add, to fix up mutations. */
static uint16_t
ref_csum(const uint8_t *p, size_t len)
{
	uint32_t s = 0;

	for (size_t i = 0; i < len; i += 2) {
		s += (uint32_t)p[i] << 8 | (i + 1 < len ? p[i + 1] : 0);
		s = (s & 0xffff) + (s >> 16);
	}
	return (uint16_t)~s;
}

/* Recompute the IPv4 header checksum of ip after a deliberate mutation. */
static void
fix_ipv4_csum(uint8_t *ip, size_t hlen)
{
	store_be16(ip + 10, 0);
	store_be16(ip + 10, ref_csum(ip, hlen));
}

/* A TCP/UDP checksum computed the long way, for comparison. */
static uint16_t
ref_l4_csum(uint32_t src, uint32_t dst, uint8_t proto, const uint8_t *l4,
    size_t len, size_t csum_off)
{
	uint8_t *t = malloc(12 + len);
	uint16_t c;

	store_be32(t, src);
	store_be32(t + 4, dst);
	t[8] = 0;
	t[9] = proto;
	store_be16(t + 10, (uint16_t)len);
	memcpy(t + 12, l4, len);
	store_be16(t + 12 + csum_off, 0);
	c = ref_csum(t, 12 + len);
	free(t);
	return c;
}

/*
 * The receive path in miniature: Ethernet, then ARP or IPv4, then the
 * transport header over tot_len - hlen bytes. The first reason wins.
 */
static enum drop
parse_frame(const uint8_t *buf, size_t len)
{
	struct eth e;
	struct arp a;
	struct ipv4 ip;
	struct icmp ic;
	struct udp u;
	struct tcp t;
	const uint8_t *l4;
	size_t l4len;
	enum drop why;

	if ((why = pkt_parse_eth(&e, buf, len)) != DROP_NONE)
		return why;
	if (e.type == ETHERTYPE_ARP)
		return pkt_parse_arp(&a, buf + ETH_HLEN, len - ETH_HLEN);
	if (e.type != ETHERTYPE_IPV4)
		return DROP_ETHERTYPE;
	if ((why = pkt_parse_ipv4(&ip, buf + ETH_HLEN, len - ETH_HLEN)) !=
	    DROP_NONE)
		return why;
	l4 = buf + ETH_HLEN + ip.hlen;
	l4len = (size_t)ip.tot_len - ip.hlen;
	switch (ip.proto) {
	case IPPROTO_ICMP_:
		return pkt_parse_icmp(&ic, l4, l4len);
	case IPPROTO_UDP_:
		return pkt_parse_udp(&u, l4, l4len);
	case IPPROTO_TCP_:
		return pkt_parse_tcp(&t, l4, l4len);
	}
	return DROP_NONE;
}

/* ---- Ethernet ---- */

static void
eth_parse__udp_frame_fields(void **state)
{
	uint8_t *f = dup_exact(udp_frame, sizeof(udp_frame));
	struct eth e;

	(void)state;
	assert_int_equal(pkt_parse_eth(&e, f, sizeof(udp_frame)), DROP_NONE);
	assert_memory_equal(e.dst, mac_router, ETH_ALEN);
	assert_memory_equal(e.src, mac_host, ETH_ALEN);
	assert_int_equal(e.type, ETHERTYPE_IPV4);
	free(f);
}

static void
eth_parse__short_frame_dropped(void **state)
{
	struct eth e;

	(void)state;
	for (size_t len = 0; len < ETH_HLEN; len++) {
		uint8_t *f = dup_exact(udp_frame, len);

		assert_int_equal(pkt_parse_eth(&e, f, len), DROP_SHORT);
		free(f);
	}
}

/* 802.1Q, 802.1ad and the old QinQ type are refused, never stripped. */
static void
eth_parse__vlan_tagged_dropped(void **state)
{
	static const uint8_t tagged[] = {
		0x02, 0x50, 0x2a, 0x16, 0x6d, 0x01, 0x52, 0x54,
		0x00, 0x12, 0x34, 0x56, 0x81, 0x00, 0x00, 0x64,
		0x08, 0x00, 0x45, 0x00,
	};
	static const uint16_t types[] = { 0x8100, 0x88a8, 0x9100 };
	uint8_t *f = dup_exact(tagged, sizeof(tagged));
	struct eth e;

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		store_be16(f + 12, types[i]);
		assert_int_equal(pkt_parse_eth(&e, f, sizeof(tagged)),
		    DROP_VLAN);
	}
	/* A bare tag header with nothing after it is still a tag. */
	assert_int_equal(pkt_parse_eth(&e, f, ETH_HLEN), DROP_VLAN);
	free(f);
}

/* Ethertype policy is the pipeline's: IPv6 parses, with its type. */
static void
eth_parse__other_ethertype_passes_through(void **state)
{
	uint8_t *f = dup_exact(udp_frame, ETH_HLEN);
	struct eth e;

	(void)state;
	store_be16(f + 12, 0x86dd);
	assert_int_equal(pkt_parse_eth(&e, f, ETH_HLEN), DROP_NONE);
	assert_int_equal(e.type, 0x86dd);
	free(f);
}

static void
eth_build__exact_bytes(void **state)
{
	static const uint8_t want[ETH_HLEN] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x50,
		0x2a, 0x16, 0x6d, 0x01, 0x08, 0x06,
	};
	uint8_t buf[ETH_HLEN + 1];

	(void)state;
	memset(buf, 0xaa, sizeof(buf));
	assert_int_equal(pkt_build_eth(buf, ETH_HLEN - 1, eth_broadcast,
	    mac_router, ETHERTYPE_ARP), 0);
	assert_int_equal(buf[0], 0xaa);			/* untouched */
	assert_int_equal(pkt_build_eth(buf, sizeof(buf), eth_broadcast,
	    mac_router, ETHERTYPE_ARP), ETH_HLEN);
	assert_memory_equal(buf, want, ETH_HLEN);
	assert_int_equal(buf[ETH_HLEN], 0xaa);
}

static void
eth_constants__broadcast_and_zero(void **state)
{
	static const uint8_t ff[ETH_ALEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t zero[ETH_ALEN] = { 0 };

	(void)state;
	assert_memory_equal(eth_broadcast, ff, ETH_ALEN);
	assert_memory_equal(eth_zero, zero, ETH_ALEN);
	assert_true(eth_is_multicast(eth_broadcast));
	assert_false(eth_is_multicast(mac_router));
}

/* ---- ARP ---- */

static void
arp_parse__request_fields(void **state)
{
	uint8_t *f = dup_exact(arp_request_frame, sizeof(arp_request_frame));
	struct eth e;
	struct arp a;

	(void)state;
	assert_int_equal(pkt_parse_eth(&e, f, sizeof(arp_request_frame)),
	    DROP_NONE);
	assert_int_equal(e.type, ETHERTYPE_ARP);
	assert_memory_equal(e.dst, eth_broadcast, ETH_ALEN);
	assert_int_equal(pkt_parse_arp(&a, f + ETH_HLEN,
	    sizeof(arp_request_frame) - ETH_HLEN), DROP_NONE);
	assert_int_equal(a.op, ARP_OP_REQUEST);
	assert_memory_equal(a.sha, mac_host, ETH_ALEN);
	assert_int_equal(a.spa, 0x0a000002);
	assert_memory_equal(a.tha, eth_zero, ETH_ALEN);
	assert_int_equal(a.tpa, 0x0a000001);
	free(f);
}

/* The padded reply parses the same; the 18 padding bytes are ignored. */
static void
arp_parse__reply_fields(void **state)
{
	uint8_t *f = dup_exact(arp_reply_frame, sizeof(arp_reply_frame));
	struct arp a;

	(void)state;
	assert_int_equal(pkt_parse_arp(&a, f + ETH_HLEN,
	    sizeof(arp_reply_frame) - ETH_HLEN), DROP_NONE);
	assert_int_equal(a.op, ARP_OP_REPLY);
	assert_memory_equal(a.sha, mac_router, ETH_ALEN);
	assert_int_equal(a.spa, 0x0a000001);
	assert_memory_equal(a.tha, mac_host, ETH_ALEN);
	assert_int_equal(a.tpa, 0x0a000002);
	free(f);
}

static void
arp_parse__rejects_every_truncation(void **state)
{
	struct arp a;

	(void)state;
	for (size_t len = 0; len < ARP_LEN; len++) {
		uint8_t *b = dup_exact(arp_request_frame + ETH_HLEN, len);

		assert_int_equal(pkt_parse_arp(&a, b, len), DROP_SHORT);
		free(b);
	}
}

/* One wrong field at a time: htype, ptype, hlen, plen, op. */
static void
arp_parse__bad_fields_dropped(void **state)
{
	static const struct {
		size_t	off;
		uint8_t	val;
	} bad[] = {
		{ 1, 0x06 },		/* htype 6 (IEEE 802) */
		{ 0, 0x01 },		/* htype 0x0101 */
		{ 2, 0x86 },		/* ptype 0x8600 */
		{ 3, 0xdd },		/* ptype 0x08dd */
		{ 4, 0x08 },		/* hlen 8 */
		{ 4, 0x00 },		/* hlen 0 */
		{ 5, 0x10 },		/* plen 16 */
		{ 7, 0x00 },		/* op 0 */
		{ 7, 0x03 },		/* op 3 (RARP request) */
		{ 7, 0x08 },		/* op 8 (InARP request) */
		{ 6, 0x01 },		/* op 0x0101 */
	};
	struct arp a;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t *b = dup_exact(arp_request_frame + ETH_HLEN, ARP_LEN);

		b[bad[i].off] = bad[i].val;
		assert_int_equal(pkt_parse_arp(&a, b, ARP_LEN), DROP_ARP_BAD);
		free(b);
	}
}

static void
arp_build__exact_bytes(void **state)
{
	struct arp req = {
		.op = ARP_OP_REQUEST,
		.sha = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 },
		.spa = 0x0a000002,
		.tpa = 0x0a000001,
	};
	struct arp rep = {
		.op = ARP_OP_REPLY,
		.sha = { 0x02, 0x50, 0x2a, 0x16, 0x6d, 0x01 },
		.spa = 0x0a000001,
		.tha = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 },
		.tpa = 0x0a000002,
	};
	uint8_t buf[ETH_ZLEN + 4], want[ETH_ZLEN] = { 0 };

	(void)state;
	memset(buf, 0xaa, sizeof(buf));
	assert_int_equal(pkt_build_arp(buf, ETH_ZLEN - 1, eth_broadcast,
	    mac_host, &req), 0);
	assert_int_equal(buf[0], 0xaa);

	/* The request as sent, padded with zeros (not 0xaa) to 60. */
	memcpy(want, arp_request_frame, sizeof(arp_request_frame));
	assert_int_equal(pkt_build_arp(buf, sizeof(buf), eth_broadcast,
	    mac_host, &req), ETH_ZLEN);
	assert_memory_equal(buf, want, ETH_ZLEN);
	assert_int_equal(buf[ETH_ZLEN], 0xaa);

	memset(buf, 0xaa, sizeof(buf));
	assert_int_equal(pkt_build_arp(buf, ETH_ZLEN, mac_host, mac_router,
	    &rep), ETH_ZLEN);
	assert_memory_equal(buf, arp_reply_frame, ETH_ZLEN);
}

/* ---- IPv4 ---- */

static void
ipv4_parse__udp_frame_fields(void **state)
{
	uint8_t *f = dup_exact(udp_frame, sizeof(udp_frame));
	struct ipv4 ip;

	(void)state;
	assert_int_equal(pkt_parse_ipv4(&ip, f + IP_OFF,
	    sizeof(udp_frame) - IP_OFF), DROP_NONE);
	assert_int_equal(ip.hlen, 20);
	assert_int_equal(ip.tot_len, 57);
	assert_int_equal(ip.id, 0x1c46);
	assert_int_equal(ip.frag, IPV4_DF);
	assert_int_equal(ip.tos, 0);
	assert_int_equal(ip.ttl, 64);
	assert_int_equal(ip.proto, IPPROTO_UDP_);
	assert_int_equal(ip.src, 0x0a000002);
	assert_int_equal(ip.dst, 0x08080808);
	assert_false(ipv4_is_fragment(&ip));
	free(f);
}

/* Every strict prefix of every frame fails somewhere in the chain. */
static void
frame_parse__rejects_every_truncation(void **state)
{
	static const struct {
		const uint8_t	*frame;
		size_t		len;
	} frames[] = {
		{ udp_frame, sizeof(udp_frame) },
		{ icmp_frame, sizeof(icmp_frame) },
		{ tcp_frame, sizeof(tcp_frame) },
		{ arp_request_frame, sizeof(arp_request_frame) },
		{ arp_reply_frame, ARP_REPLY_UNPADDED },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(frames) / sizeof(frames[0]); i++) {
		uint8_t *f = dup_exact(frames[i].frame, frames[i].len);

		assert_int_equal(parse_frame(f, frames[i].len), DROP_NONE);
		free(f);
		for (size_t len = 0; len < frames[i].len; len++) {
			f = dup_exact(frames[i].frame, len);
			assert_int_not_equal(parse_frame(f, len), DROP_NONE);
			free(f);
		}
	}
}

/* The IPv4 parser alone: below 20 bytes short, above it a length lie. */
static void
ipv4_parse__rejects_every_truncation(void **state)
{
	static const struct {
		const uint8_t	*pkt;
		size_t		len;
	} pkts[] = {
		{ udp_frame + IP_OFF, sizeof(udp_frame) - IP_OFF },
		{ icmp_frame + IP_OFF, sizeof(icmp_frame) - IP_OFF },
		{ tcp_frame + IP_OFF, sizeof(tcp_frame) - IP_OFF },
		{ ipopt_packet, sizeof(ipopt_packet) },
	};
	struct ipv4 ip;

	(void)state;
	for (size_t i = 0; i < sizeof(pkts) / sizeof(pkts[0]); i++) {
		size_t hlen = (size_t)(pkts[i].pkt[0] & 0x0f) * 4;

		for (size_t len = 0; len < pkts[i].len; len++) {
			uint8_t *p = dup_exact(pkts[i].pkt, len);
			enum drop want = len < 20 ? DROP_SHORT :
			    len < hlen ? DROP_BAD_HLEN : DROP_BAD_LEN;

			assert_int_equal(pkt_parse_ipv4(&ip, p, len), want);
			free(p);
		}
	}
}

static void
ipv4_parse__bad_version_dropped(void **state)
{
	static const uint8_t versions[] = { 0x05, 0x65, 0xb5, 0xf5 };
	struct ipv4 ip;

	(void)state;
	for (size_t i = 0; i < sizeof(versions); i++) {
		uint8_t *p = dup_exact(udp_frame + IP_OFF, 57);

		p[0] = (uint8_t)((versions[i] & 0xf0) | 5);
		fix_ipv4_csum(p, 20);
		assert_int_equal(pkt_parse_ipv4(&ip, p, 57), DROP_BAD_VERSION);
		free(p);
	}
}

static void
ipv4_parse__ihl_below_five_dropped(void **state)
{
	struct ipv4 ip;

	(void)state;
	for (uint8_t ihl = 0; ihl < 5; ihl++) {
		uint8_t *p = dup_exact(udp_frame + IP_OFF, 57);

		p[0] = (uint8_t)(0x40 | ihl);
		fix_ipv4_csum(p, 20);
		assert_int_equal(pkt_parse_ipv4(&ip, p, 57), DROP_BAD_HLEN);
		free(p);
	}
}

/* IHL 15 claims 60 header bytes of a 57-byte packet: a lie, not a read. */
static void
ipv4_parse__ihl_past_frame_dropped(void **state)
{
	uint8_t *p = dup_exact(udp_frame + IP_OFF, 57);
	struct ipv4 ip;

	(void)state;
	p[0] = 0x4f;
	assert_int_equal(pkt_parse_ipv4(&ip, p, 57), DROP_BAD_HLEN);
	/* And at the edge: IHL 6 in exactly 23 bytes. */
	p[0] = 0x46;
	assert_int_equal(pkt_parse_ipv4(&ip, p, 23), DROP_BAD_HLEN);
	free(p);
}

static void
ipv4_parse__tot_len_inconsistent_dropped(void **state)
{
	static const uint16_t lies[] = { 58, 0xffff, 19, 0 };
	struct ipv4 ip;

	(void)state;
	for (size_t i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
		uint8_t *p = dup_exact(udp_frame + IP_OFF, 57);

		store_be16(p + 2, lies[i]);
		fix_ipv4_csum(p, 20);
		assert_int_equal(pkt_parse_ipv4(&ip, p, 57), DROP_BAD_LEN);
		free(p);
	}
	/* tot_len inside the options: 22 < hlen 24. */
	{
		uint8_t *p = dup_exact(ipopt_packet, sizeof(ipopt_packet));

		store_be16(p + 2, 22);
		fix_ipv4_csum(p, 24);
		assert_int_equal(pkt_parse_ipv4(&ip, p, sizeof(ipopt_packet)),
		    DROP_BAD_LEN);
		free(p);
	}
}

/* A header-only packet (tot_len == hlen) is consistent. */
static void
ipv4_parse__tot_len_equal_hlen_accepted(void **state)
{
	uint8_t *p = dup_exact(udp_frame + IP_OFF, 20);
	struct ipv4 ip;

	(void)state;
	store_be16(p + 2, 20);
	fix_ipv4_csum(p, 20);
	assert_int_equal(pkt_parse_ipv4(&ip, p, 20), DROP_NONE);
	assert_int_equal(ip.tot_len, 20);
	free(p);
}

static void
ipv4_parse__bad_checksum_dropped(void **state)
{
	uint8_t *p = dup_exact(udp_frame + IP_OFF, 57);
	struct ipv4 ip;

	(void)state;
	p[11] ^= 0x01;			/* the checksum itself */
	assert_int_equal(pkt_parse_ipv4(&ip, p, 57), DROP_BAD_CSUM);
	p[11] ^= 0x01;
	p[8]--;				/* TTL decremented, checksum stale */
	assert_int_equal(pkt_parse_ipv4(&ip, p, 57), DROP_BAD_CSUM);
	p[8]++;
	p[30] ^= 0xff;			/* payload is not covered */
	assert_int_equal(pkt_parse_ipv4(&ip, p, 57), DROP_NONE);
	free(p);
}

/* Router Alert (RFC 2113) is accepted, hlen 24, and the UDP follows it. */
static void
ipv4_parse__options_accepted_and_skipped(void **state)
{
	uint8_t *p = dup_exact(ipopt_packet, sizeof(ipopt_packet));
	struct ipv4 ip;
	struct udp u;

	(void)state;
	assert_int_equal(pkt_parse_ipv4(&ip, p, sizeof(ipopt_packet)),
	    DROP_NONE);
	assert_int_equal(ip.hlen, 24);
	assert_int_equal(ip.tot_len, 34);
	assert_int_equal(ip.ttl, 1);
	assert_int_equal(ip.proto, IPPROTO_UDP_);
	assert_int_equal(ip.src, 0x0a000002);
	assert_int_equal(ip.dst, 0xe0000016);
	assert_int_equal(pkt_parse_udp(&u, p + ip.hlen,
	    (size_t)ip.tot_len - ip.hlen), DROP_NONE);
	assert_int_equal(u.sport, 1);
	assert_int_equal(u.dport, 2);
	assert_int_equal(u.len, 10);
	assert_true(pkt_l4_csum_ok(ip.proto, ip.src, ip.dst, p + ip.hlen,
	    u.len));
	/* The options are under the header checksum. */
	p[21] ^= 0x01;
	assert_int_equal(pkt_parse_ipv4(&ip, p, sizeof(ipopt_packet)),
	    DROP_BAD_CSUM);
	free(p);
}

/* Ethernet padding past tot_len is the caller's to trim, not an error. */
static void
ipv4_parse__padding_past_tot_len_accepted(void **state)
{
	uint8_t *p = calloc(1, 64);
	struct ipv4 ip;

	(void)state;
	memcpy(p, udp_frame + IP_OFF, 57);
	assert_int_equal(pkt_parse_ipv4(&ip, p, 64), DROP_NONE);
	assert_int_equal(ip.tot_len, 57);
	free(p);
}

static void
ipv4_is_fragment__flag_and_offset_combinations(void **state)
{
	static const struct {
		uint16_t	frag;
		bool		fragment, later;
	} cases[] = {
		{ 0x0000, false, false },
		{ 0x4000, false, false },	/* DF alone */
		{ 0x8000, false, false },	/* the reserved bit */
		{ 0x2000, true,  false },	/* first fragment: MF */
		{ 0x20b9, true,  true },	/* middle: MF, offset 1480 */
		{ 0x00b9, true,  true },	/* last: offset only */
		{ 0x1fff, true,  true },
	};
	struct ipv4 ip;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t *p = dup_exact(udp_frame + IP_OFF, 57);

		store_be16(p + 6, cases[i].frag);
		fix_ipv4_csum(p, 20);
		assert_int_equal(pkt_parse_ipv4(&ip, p, 57), DROP_NONE);
		assert_int_equal(ip.frag, cases[i].frag);
		assert_int_equal(ipv4_is_fragment(&ip), cases[i].fragment);
		assert_int_equal(ipv4_is_later_fragment(&ip), cases[i].later);
		free(p);
	}
}

/* The UDP frame's IP header with DF clear, as the builder writes it. */
static void
ipv4_build__exact_bytes(void **state)
{
	static const uint8_t want[20] = {
		0x45, 0x00, 0x00, 0x39, 0x1c, 0x46, 0x00, 0x00,
		0x40, 0x11, 0x44, 0x5d, 0x0a, 0x00, 0x00, 0x02,
		0x08, 0x08, 0x08, 0x08,
	};
	uint8_t buf[24];
	struct ipv4 ip;

	(void)state;
	memset(buf, 0xaa, sizeof(buf));
	assert_int_equal(pkt_build_ipv4(buf, 19, IPPROTO_UDP_, 0x0a000002,
	    0x08080808, 0x1c46, 64, 37), 0);
	assert_int_equal(buf[0], 0xaa);
	assert_int_equal(pkt_build_ipv4(buf, sizeof(buf), IPPROTO_UDP_,
	    0x0a000002, 0x08080808, 0x1c46, 64, 37), 20);
	assert_memory_equal(buf, want, 20);
	assert_int_equal(buf[20], 0xaa);
	assert_int_equal(ref_csum(buf, 20), 0);
	assert_int_equal(pkt_parse_ipv4(&ip, buf, 20), DROP_BAD_LEN);
}

static void
ipv4_build__total_length_limit(void **state)
{
	uint8_t buf[20];
	struct ipv4 ip;

	(void)state;
	assert_int_equal(pkt_build_ipv4(buf, sizeof(buf), IPPROTO_TCP_, 1, 2,
	    3, 4, 65535 - 20), 20);
	assert_int_equal(load_be16(buf + 2), 65535);
	assert_int_equal(ref_csum(buf, 20), 0);
	assert_int_equal(pkt_build_ipv4(buf, sizeof(buf), IPPROTO_TCP_, 1, 2,
	    3, 4, 65535 - 19), 0);
	assert_int_equal(pkt_build_ipv4(buf, sizeof(buf), IPPROTO_TCP_, 1, 2,
	    3, 4, SIZE_MAX), 0);
	/* A header-only packet round-trips through the parser. */
	assert_int_equal(pkt_build_ipv4(buf, sizeof(buf), IPPROTO_ICMP_,
	    0xc0a80001, 0xc0a800c7, 0, 255, 0), 20);
	assert_int_equal(pkt_parse_ipv4(&ip, buf, 20), DROP_NONE);
	assert_int_equal(ip.ttl, 255);
	assert_int_equal(ip.frag, 0);
	assert_int_equal(ip.src, 0xc0a80001);
	assert_int_equal(ip.dst, 0xc0a800c7);
}

/* ---- ICMP ---- */

static void
icmp_parse__echo_fields(void **state)
{
	size_t len = sizeof(icmp_frame) - L4_OFF;
	uint8_t *p = dup_exact(icmp_frame + L4_OFF, len);
	struct icmp ic;

	(void)state;
	assert_int_equal(len, 40);
	assert_int_equal(pkt_parse_icmp(&ic, p, len), DROP_NONE);
	assert_int_equal(ic.type, ICMP_ECHO);
	assert_int_equal(ic.code, 0);
	assert_int_equal(ic.csum, 0xf3c8);
	assert_int_equal(ic.rest, 0x12340001);
	assert_false(icmp_is_error(ic.type));
	assert_true(pkt_l4_csum_ok(IPPROTO_ICMP_, 0, 0, p, len));
	free(p);
}

static void
icmp_parse__rejects_every_truncation(void **state)
{
	size_t full = sizeof(icmp_frame) - L4_OFF;
	struct icmp ic;

	(void)state;
	for (size_t len = 0; len < full; len++) {
		uint8_t *p = dup_exact(icmp_frame + L4_OFF, len);

		/* Shorter data no longer matches the checksum over all of it. */
		assert_int_equal(pkt_parse_icmp(&ic, p, len),
		    len < ICMP_HLEN ? DROP_L4_SHORT : DROP_L4_BAD_CSUM);
		free(p);
	}
}

static void
icmp_parse__bad_checksum_dropped(void **state)
{
	size_t len = sizeof(icmp_frame) - L4_OFF;
	uint8_t *p = dup_exact(icmp_frame + L4_OFF, len);
	struct icmp ic;

	(void)state;
	p[len - 1] ^= 0x40;		/* the last data byte counts too */
	assert_int_equal(pkt_parse_icmp(&ic, p, len), DROP_L4_BAD_CSUM);
	assert_false(pkt_l4_csum_ok(IPPROTO_ICMP_, 0, 0, p, len));
	free(p);
}

/* ---- UDP ---- */

static void
udp_parse__dns_query_fields(void **state)
{
	size_t len = sizeof(udp_frame) - L4_OFF;
	uint8_t *p = dup_exact(udp_frame + L4_OFF, len);
	struct udp u;

	(void)state;
	assert_int_equal(pkt_parse_udp(&u, p, len), DROP_NONE);
	assert_int_equal(u.sport, 53211);
	assert_int_equal(u.dport, 53);
	assert_int_equal(u.len, 37);
	assert_int_equal(u.csum, 0x8724);
	assert_true(pkt_l4_csum_ok(IPPROTO_UDP_, 0x0a000002, 0x08080808, p,
	    len));
	free(p);
}

static void
udp_parse__rejects_every_truncation(void **state)
{
	size_t full = sizeof(udp_frame) - L4_OFF;
	struct udp u;

	(void)state;
	for (size_t len = 0; len < full; len++) {
		uint8_t *p = dup_exact(udp_frame + L4_OFF, len);

		assert_int_equal(pkt_parse_udp(&u, p, len), DROP_L4_SHORT);
		free(p);
	}
}

static void
udp_parse__length_field_checked(void **state)
{
	size_t len = sizeof(udp_frame) - L4_OFF;
	uint8_t *p = dup_exact(udp_frame + L4_OFF, len);
	struct udp u;

	(void)state;
	store_be16(p + 4, 7);
	assert_int_equal(pkt_parse_udp(&u, p, len), DROP_L4_SHORT);
	store_be16(p + 4, 0);
	assert_int_equal(pkt_parse_udp(&u, p, len), DROP_L4_SHORT);
	store_be16(p + 4, 38);
	assert_int_equal(pkt_parse_udp(&u, p, len), DROP_L4_SHORT);
	store_be16(p + 4, 8);		/* shorter than the IP payload: fine */
	assert_int_equal(pkt_parse_udp(&u, p, len), DROP_NONE);
	assert_int_equal(u.len, 8);
	free(p);
}

/* The DNS query's UDP header, rebuilt over its payload: same bytes. */
static void
udp_build__exact_bytes(void **state)
{
	size_t len = sizeof(udp_frame) - L4_OFF;
	uint8_t *p = malloc(len);

	(void)state;
	memset(p, 0xaa, UDP_HLEN);
	memcpy(p + UDP_HLEN, udp_frame + L4_OFF + UDP_HLEN, len - UDP_HLEN);
	assert_int_equal(pkt_build_udp(p, len - 1, 0x0a000002, 0x08080808,
	    53211, 53, len), 0);
	assert_int_equal(p[0], 0xaa);
	assert_int_equal(pkt_build_udp(p, len, 0x0a000002, 0x08080808, 53211,
	    53, 7), 0);
	assert_int_equal(pkt_build_udp(p, len, 0x0a000002, 0x08080808, 53211,
	    53, len), UDP_HLEN);
	assert_memory_equal(p, udp_frame + L4_OFF, len);
	free(p);
}

/* A sum that folds to 0 goes out as 0xffff, never as "no checksum". */
static void
udp_build__zero_checksum_sent_as_ffff(void **state)
{
	static const uint8_t want[] = {
		0x03, 0xe8, 0x07, 0xd0, 0x00, 0x0a, 0xff, 0xff,
		0xe0, 0x1f,
	};
	uint8_t *p = malloc(sizeof(want));

	(void)state;
	p[8] = 0xe0;			/* chosen so the sum is all ones */
	p[9] = 0x1f;
	assert_int_equal(pkt_build_udp(p, sizeof(want), 0x0a000002,
	    0x0a000001, 1000, 2000, sizeof(want)), UDP_HLEN);
	assert_memory_equal(p, want, sizeof(want));
	assert_true(pkt_l4_csum_ok(IPPROTO_UDP_, 0x0a000002, 0x0a000001, p,
	    sizeof(want)));
	free(p);
}

/* ---- TCP ---- */

static void
tcp_parse__syn_with_options(void **state)
{
	size_t len = sizeof(tcp_frame) - L4_OFF;
	uint8_t *p = dup_exact(tcp_frame + L4_OFF, len);
	struct tcp t;

	(void)state;
	assert_int_equal(pkt_parse_tcp(&t, p, len), DROP_NONE);
	assert_int_equal(t.sport, 40000);
	assert_int_equal(t.dport, 80);
	assert_int_equal(t.seq, 0x3ade68b1);
	assert_int_equal(t.ack, 0);
	assert_int_equal(t.hlen, 40);
	assert_int_equal(t.flags, TCP_SYN);
	assert_int_equal(t.win, 64240);
	assert_int_equal(t.csum, 0x2a1e);
	assert_int_equal(t.mss, 1460);
	assert_int_equal(t.mss_off, 22);
	assert_int_equal(load_be16(p + t.mss_off), 1460);
	assert_true(pkt_l4_csum_ok(IPPROTO_TCP_, 0x0a000002, 0x5db8d822, p,
	    len));
	free(p);
}

static void
tcp_parse__rejects_every_truncation(void **state)
{
	size_t full = sizeof(tcp_frame) - L4_OFF;
	struct tcp t;

	(void)state;
	for (size_t len = 0; len < full; len++) {
		uint8_t *p = dup_exact(tcp_frame + L4_OFF, len);

		assert_int_equal(pkt_parse_tcp(&t, p, len), DROP_L4_SHORT);
		free(p);
	}
}

static void
tcp_parse__data_offset_checked(void **state)
{
	size_t len = sizeof(tcp_frame) - L4_OFF;
	struct tcp t;

	(void)state;
	for (uint8_t doff = 0; doff < 16; doff++) {
		uint8_t *p = dup_exact(tcp_frame + L4_OFF, len);

		p[12] = (uint8_t)(doff << 4);
		/*
		 * Below 5, or more than the 40 bytes there are: short. At 7
		 * and 8 the shortened header ends inside the timestamps
		 * option (offsets 26..35), so the options are what is wrong.
		 */
		assert_int_equal(pkt_parse_tcp(&t, p, len),
		    doff < 5 || doff > 10 ? DROP_L4_SHORT :
		    doff == 7 || doff == 8 ? DROP_TCP_BAD_OPT : DROP_NONE);
		free(p);
	}
}

/* A 24-byte TCP header (data offset 6) carrying the option bytes opt[4]. */
static enum drop
parse_tcp_opts(struct tcp *t, const uint8_t opt[4])
{
	uint8_t *p = dup_exact(tcp_frame + L4_OFF, 24);
	enum drop why;

	p[12] = 0x60;
	memcpy(p + 20, opt, 4);
	why = pkt_parse_tcp(t, p, 24);
	free(p);
	return why;
}

static void
tcp_parse__malformed_options_dropped(void **state)
{
	static const uint8_t bad[][4] = {
		{ 0x02, 0x00, 0x05, 0xb4 },	/* MSS length 0 */
		{ 0x01, 0x02, 0x00, 0x00 },	/* the MirageOS SYN */
		{ 0x02, 0x01, 0x05, 0xb4 },	/* MSS length 1 */
		{ 0x02, 0x02, 0x05, 0xb4 },	/* MSS length 2 */
		{ 0x02, 0x03, 0x05, 0xb4 },	/* MSS length 3 */
		{ 0x02, 0x05, 0x05, 0xb4 },	/* MSS length 5, past the end */
		{ 0x01, 0x01, 0x08, 0x0a },	/* timestamps run past */
		{ 0x01, 0x01, 0x04, 0x03 },	/* one byte past the end */
		{ 0x01, 0x02, 0x04, 0x05 },	/* MSS one byte past the end */
		{ 0x01, 0x01, 0x01, 0x03 },	/* no room for a length byte */
		{ 0x04, 0x00, 0x00, 0x00 },	/* other kind, length 0 */
		{ 0x1e, 0x01, 0x00, 0x00 },	/* other kind, length 1 */
		{ 0xfe, 0xff, 0x00, 0x00 },	/* length 255 */
	};
	struct tcp t;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse_tcp_opts(&t, bad[i]), DROP_TCP_BAD_OPT);
}

static void
tcp_parse__wellformed_options_accepted(void **state)
{
	static const uint8_t mss[4] = { 0x02, 0x04, 0x02, 0x18 };
	static const uint8_t eol_junk[4] = { 0x00, 0x02, 0x00, 0xff };
	static const uint8_t nops[4] = { 0x01, 0x01, 0x01, 0x01 };
	static const uint8_t unknown[4] = { 0xfe, 0x02, 0x04, 0x02 };
	struct tcp t;

	(void)state;
	assert_int_equal(parse_tcp_opts(&t, mss), DROP_NONE);
	assert_int_equal(t.mss, 536);
	assert_int_equal(t.mss_off, 22);
	assert_int_equal(t.hlen, 24);
	/* After end-of-list the rest is padding, whatever it holds. */
	assert_int_equal(parse_tcp_opts(&t, eol_junk), DROP_NONE);
	assert_int_equal(t.mss, 0);
	assert_int_equal(t.mss_off, 0);
	assert_int_equal(parse_tcp_opts(&t, nops), DROP_NONE);
	assert_int_equal(t.mss, 0);
	assert_int_equal(parse_tcp_opts(&t, unknown), DROP_NONE);
	assert_int_equal(t.mss, 0);
}

/* The captured SYN with its MSS length byte zeroed or set to 1. */
static void
tcp_parse__syn_with_mss_length_zero_dropped(void **state)
{
	size_t len = sizeof(tcp_frame) - L4_OFF;
	struct tcp t;

	(void)state;
	for (uint8_t olen = 0; olen < 4; olen++) {
		uint8_t *p = dup_exact(tcp_frame + L4_OFF, len);

		p[21] = olen;
		assert_int_equal(pkt_parse_tcp(&t, p, len), DROP_TCP_BAD_OPT);
		free(p);
	}
}

/* Two MSS options: the last is the one a receiver acts on. */
static void
tcp_parse__last_mss_option_reported(void **state)
{
	uint8_t *p = dup_exact(tcp_frame + L4_OFF, 28);
	struct tcp t;

	(void)state;
	p[12] = 0x70;
	memcpy(p + 20, "\x02\x04\x05\xb4\x02\x04\x02\x18", 8);
	assert_int_equal(pkt_parse_tcp(&t, p, 28), DROP_NONE);
	assert_int_equal(t.mss, 536);
	assert_int_equal(t.mss_off, 26);
	free(p);
}

/* ---- Transport checksums ---- */

static void
l4_csum_ok__detects_corruption(void **state)
{
	size_t ulen = sizeof(udp_frame) - L4_OFF;
	size_t tlen = sizeof(tcp_frame) - L4_OFF;
	uint8_t *u = dup_exact(udp_frame + L4_OFF, ulen);
	uint8_t *t = dup_exact(tcp_frame + L4_OFF, tlen);

	(void)state;
	assert_true(pkt_l4_csum_ok(IPPROTO_TCP_, 0x0a000002, 0x5db8d822, t,
	    tlen));
	/* The pseudo-header counts: another address or protocol fails. */
	assert_false(pkt_l4_csum_ok(IPPROTO_TCP_, 0x0a000003, 0x5db8d822, t,
	    tlen));
	assert_false(pkt_l4_csum_ok(IPPROTO_UDP_, 0x0a000002, 0x5db8d822, t,
	    tlen));
	t[tlen - 1] ^= 0x01;
	assert_false(pkt_l4_csum_ok(IPPROTO_TCP_, 0x0a000002, 0x5db8d822, t,
	    tlen));
	assert_false(pkt_l4_csum_ok(IPPROTO_TCP_, 0x0a000002, 0x5db8d822, t,
	    19));

	u[ulen - 1] ^= 0x01;
	assert_false(pkt_l4_csum_ok(IPPROTO_UDP_, 0x0a000002, 0x08080808, u,
	    ulen));
	store_be16(u + 6, 0);		/* RFC 768: no checksum at all */
	assert_true(pkt_l4_csum_ok(IPPROTO_UDP_, 0x0a000002, 0x08080808, u,
	    ulen));
	assert_false(pkt_l4_csum_ok(IPPROTO_UDP_, 0x0a000002, 0x08080808, u,
	    7));
	free(u);
	free(t);
}

/*
 * What a sender with checksum offload leaves in the field: the folded
 * pseudo-header sum, not complemented (Linux: ~tcp_v4_check(len, s, d, 0)).
 */
static uint16_t
partial_field(uint32_t src, uint32_t dst, uint8_t proto, size_t len)
{
	return (uint16_t)~csum_fold(csum_pseudo(src, dst, proto,
	    (uint16_t)len));
}

/* The captured segments, offloaded: completion restores their checksums. */
static void
l4_csum_complete__restores_captured_checksums(void **state)
{
	size_t ulen = sizeof(udp_frame) - L4_OFF;
	size_t tlen = sizeof(tcp_frame) - L4_OFF;
	uint8_t *u = dup_exact(udp_frame + L4_OFF, ulen);
	uint8_t *t = dup_exact(tcp_frame + L4_OFF, tlen);

	(void)state;
	store_be16(u + 6, partial_field(0x0a000002, 0x08080808, 17, ulen));
	assert_false(pkt_l4_csum_ok(IPPROTO_UDP_, 0x0a000002, 0x08080808, u,
	    ulen));
	assert_int_equal(pkt_l4_csum_complete(IPPROTO_UDP_, u, ulen),
	    DROP_NONE);
	assert_memory_equal(u, udp_frame + L4_OFF, ulen);

	store_be16(t + 16, partial_field(0x0a000002, 0x5db8d822, 6, tlen));
	assert_int_equal(pkt_l4_csum_complete(IPPROTO_TCP_, t, tlen),
	    DROP_NONE);
	assert_int_equal(load_be16(t + 16), 0x2a1e);
	assert_memory_equal(t, tcp_frame + L4_OFF, tlen);
	free(u);
	free(t);
}

/* Segments with odd-length data, built here, completed, then verified. */
static void
l4_csum_complete__built_segments(void **state)
{
	static const uint8_t tcp_seg[] = {
		0x30, 0x39, 0x01, 0xbb, 0x01, 0x02, 0x03, 0x04,
		0x0a, 0x0b, 0x0c, 0x0d, 0x50, 0x18, 0x01, 0xf6,
		0x00, 0x00, 0x00, 0x00, 'h', 'e', 'l', 'l',
		'o', ',', ' ', 'w', 'o', 'r', 'l', 'd',
		'!',
	};
	static const uint8_t udp_seg[] = {
		0x14, 0xe9, 0x14, 0xe9, 0x00, 0x0d, 0x00, 0x00,
		'a', 'b', 'c', 'd', 'e',
	};
	uint32_t src = 0xc0a8010a, dst = 0xc6336407;
	uint8_t *t = dup_exact(tcp_seg, sizeof(tcp_seg));
	uint8_t *u = dup_exact(udp_seg, sizeof(udp_seg));

	(void)state;
	store_be16(t + 16, partial_field(src, dst, 6, sizeof(tcp_seg)));
	assert_int_equal(pkt_l4_csum_complete(IPPROTO_TCP_, t,
	    sizeof(tcp_seg)), DROP_NONE);
	assert_int_equal(load_be16(t + 16), 0x147e);
	assert_int_equal(load_be16(t + 16), ref_l4_csum(src, dst, 6, t,
	    sizeof(tcp_seg), 16));
	assert_true(pkt_l4_csum_ok(IPPROTO_TCP_, src, dst, t,
	    sizeof(tcp_seg)));

	store_be16(u + 6, partial_field(src, dst, 17, sizeof(udp_seg)));
	assert_int_equal(pkt_l4_csum_complete(IPPROTO_UDP_, u,
	    sizeof(udp_seg)), DROP_NONE);
	assert_int_equal(load_be16(u + 6), 0xc04d);
	assert_int_equal(load_be16(u + 6), ref_l4_csum(src, dst, 17, u,
	    sizeof(udp_seg), 6));
	assert_true(pkt_l4_csum_ok(IPPROTO_UDP_, src, dst, u,
	    sizeof(udp_seg)));
	free(t);
	free(u);
}

/* A UDP sum that completes to 0 is stored as 0xffff, like the builder. */
static void
l4_csum_complete__udp_zero_becomes_ffff(void **state)
{
	static const uint8_t seg[] = {
		0x03, 0xe8, 0x07, 0xd0, 0x00, 0x0a, 0x00, 0x00,
		0xe0, 0x1f,
	};
	uint8_t *u = dup_exact(seg, sizeof(seg));

	(void)state;
	store_be16(u + 6, partial_field(0x0a000002, 0x0a000001, 17, 10));
	assert_int_equal(pkt_l4_csum_complete(IPPROTO_UDP_, u, 10), DROP_NONE);
	assert_int_equal(load_be16(u + 6), 0xffff);
	assert_true(pkt_l4_csum_ok(IPPROTO_UDP_, 0x0a000002, 0x0a000001, u,
	    10));
	free(u);
}

static void
l4_csum_complete__short_or_other_protocol(void **state)
{
	uint8_t *p = dup_exact(icmp_frame + L4_OFF, 40);

	(void)state;
	assert_int_equal(pkt_l4_csum_complete(IPPROTO_TCP_, p, 19),
	    DROP_L4_SHORT);
	assert_int_equal(pkt_l4_csum_complete(IPPROTO_UDP_, p, 7),
	    DROP_L4_SHORT);
	assert_int_equal(pkt_l4_csum_complete(IPPROTO_ICMP_, p, 40), DROP_NONE);
	assert_int_equal(pkt_l4_csum_complete(47, p, 40), DROP_NONE);
	assert_memory_equal(p, icmp_frame + L4_OFF, 40);	/* untouched */
	free(p);
}

/* ---- Text ---- */

static void
ipv4_ntop__formats_dotted_quad(void **state)
{
	char buf[16];

	(void)state;
	assert_string_equal(ipv4_ntop(0x0a000001, buf), "10.0.0.1");
	assert_string_equal(ipv4_ntop(0, buf), "0.0.0.0");
	assert_string_equal(ipv4_ntop(0xffffffff, buf), "255.255.255.255");
	assert_string_equal(ipv4_ntop(0xc0a86409, buf), "192.168.100.9");
	assert_string_equal(ipv4_ntop(0x5db8d822, buf), "93.184.216.34");
	assert_ptr_equal(ipv4_ntop(1, buf), buf);
}

/* A pton call on a malloc'ed copy, so a read past the NUL is caught. */
static int
pton4(const char *s, uint32_t *out)
{
	char *c = strdup(s);
	int r = ipv4_pton(c, out);

	free(c);
	return r;
}

static void
ipv4_pton__accepts_dotted_quad(void **state)
{
	static const struct {
		const char	*s;
		uint32_t	addr;
	} ok[] = {
		{ "10.0.0.1", 0x0a000001 },
		{ "0.0.0.0", 0 },
		{ "255.255.255.255", 0xffffffff },
		{ "192.168.100.9", 0xc0a86409 },
		{ "1.20.255.0", 0x0114ff00 },
	};
	uint32_t a;
	char buf[16];

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		a = 0x5a5a5a5a;
		assert_int_equal(pton4(ok[i].s, &a), 0);
		assert_int_equal(a, ok[i].addr);
		assert_string_equal(ipv4_ntop(a, buf), ok[i].s);
	}
}

static void
ipv4_pton__rejects_malformed(void **state)
{
	static const char *const bad[] = {
		"", "1", "1.2.3", "1.2.3.", "1.2.3.4.", "1.2.3.4.5", "1..2.3",
		".1.2.3", "256.1.1.1", "1.2.3.256", "1.2.3.4 ", " 1.2.3.4",
		"01.2.3.4", "1.2.3.04", "1.2.3.00", "1.2.3.4x", "1.2.3.-4",
		"+1.2.3.4", "1.2.3.0x1", "1000.1.1.1", "0001.1.1.1",
		"1.2.3.4\n", "1,2,3,4", "4294967297.0.0.1", "a.b.c.d",
		"1.2.3.99999999999999999999",
	};
	uint32_t a;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		a = 0x5a5a5a5a;
		if (pton4(bad[i], &a) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_int_equal(a, 0x5a5a5a5a);	/* untouched */
	}
}

static void
mac_ntop__formats_lowercase(void **state)
{
	static const uint8_t m[ETH_ALEN] = { 0x02, 0x50, 0x2a, 0x16, 0x6d, 0xff };
	char buf[18];

	(void)state;
	assert_string_equal(mac_ntop(m, buf), "02:50:2a:16:6d:ff");
	assert_string_equal(mac_ntop(eth_zero, buf), "00:00:00:00:00:00");
	assert_ptr_equal(mac_ntop(m, buf), buf);
}

static int
pton_mac(const char *s, uint8_t mac[ETH_ALEN])
{
	char *c = strdup(s);
	int r = mac_pton(c, mac);

	free(c);
	return r;
}

static void
mac_pton__parses_and_rejects(void **state)
{
	static const char *const bad[] = {
		"", "02:50:2a:16:6d", "02:50:2a:16:6d:", "02:50:2a:16:6d:01:",
		"02:50:2a:16:6d:01:02", "2:50:2a:16:6d:01", "02-50-2a-16-6d-01",
		"02:50:2a:16:6d:0g", "02:50:2a:16:6d:011", "0250.2a16.6d01",
		"02:50:2a:16:6d:01 ", " 02:50:2a:16:6d:01", "02::50:2a:16:6d",
	};
	uint8_t m[ETH_ALEN], keep[ETH_ALEN];
	char buf[18];

	(void)state;
	assert_int_equal(pton_mac("02:50:2A:16:6d:01", m), 0);
	assert_memory_equal(m, mac_router, ETH_ALEN);
	assert_int_equal(pton_mac("ff:ff:ff:ff:ff:ff", m), 0);
	assert_memory_equal(m, eth_broadcast, ETH_ALEN);
	assert_int_equal(pton_mac(mac_ntop(mac_host, buf), m), 0);
	assert_memory_equal(m, mac_host, ETH_ALEN);
	memcpy(keep, m, ETH_ALEN);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (pton_mac(bad[i], m) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_memory_equal(m, keep, ETH_ALEN);
	}
}

/* ---- Names ---- */

static void
drop_name__every_reason_named(void **state)
{
	(void)state;
	assert_string_equal(drop_name(DROP_NONE), "none");
	assert_string_equal(drop_name(DROP_BAD_CSUM), "bad_csum");
	assert_string_equal(drop_name(DROP_TCP_BAD_OPT), "tcp_bad_opt");
	assert_string_equal(drop_name(DROP_OUT_FULL), "out_full");
	assert_string_equal(drop_text(DROP_VLAN),
	    "802.1Q/802.1ad tagged frame (not VLAN-aware)");
	for (int i = 0; i < DROP_MAX; i++) {
		assert_string_not_equal(drop_name((enum drop)i), "?");
		assert_string_not_equal(drop_text((enum drop)i), "?");
		for (int j = 0; j < i; j++)
			assert_string_not_equal(drop_name((enum drop)i),
			    drop_name((enum drop)j));
	}
	assert_string_equal(drop_name(DROP_MAX), "?");
	assert_string_equal(drop_text(DROP_MAX), "?");
	assert_string_equal(drop_name((enum drop)-1), "?");
	assert_string_equal(drop_text((enum drop)1000), "?");
}

/* The one protocol name table: the three gitnet translates, nothing else. */
static void
ip_proto_name__names_and_parses(void **state)
{
	uint8_t p = 99;

	(void)state;
	assert_string_equal(ip_proto_name(IPPROTO_TCP_), "tcp");
	assert_string_equal(ip_proto_name(IPPROTO_UDP_), "udp");
	assert_string_equal(ip_proto_name(IPPROTO_ICMP_), "icmp");
	assert_null(ip_proto_name(0));
	assert_null(ip_proto_name(47));		/* GRE */
	assert_int_equal(ip_proto_parse(&p, "tcp", 3), 0);
	assert_int_equal(p, IPPROTO_TCP_);
	assert_int_equal(ip_proto_parse(&p, "icmp/", 4), 0);
	assert_int_equal(p, IPPROTO_ICMP_);
	assert_int_equal(ip_proto_parse(&p, "udp", 3), 0);
	assert_int_equal(p, IPPROTO_UDP_);
	p = 99;
	assert_int_equal(ip_proto_parse(&p, "TCP", 3), -1);
	assert_int_equal(ip_proto_parse(&p, "tc", 2), -1);
	assert_int_equal(ip_proto_parse(&p, "tcpx", 4), -1);
	assert_int_equal(ip_proto_parse(&p, "", 0), -1);
	assert_int_equal(p, 99);
}

static void
ev_names__ops_and_causes(void **state)
{
	(void)state;
	assert_string_equal(ev_op_name(EV_ADD), "add");
	assert_string_equal(ev_op_name(EV_REMOVE), "remove");
	assert_string_equal(ev_op_name(EV_LLADDR), "lladdr-change");
	assert_string_equal(ev_op_name(EV_OP_MAX), "?");
	assert_string_equal(ev_op_name((enum ev_op)-1), "?");
	assert_string_equal(ev_cause_name(EV_CAUSE_NONE), "unknown");
	assert_string_equal(ev_cause_name(EV_CAUSE_ARP_REPLY), "arp reply");
	assert_string_equal(ev_cause_name(EV_CAUSE_RESTORE), "restart");
	assert_string_equal(ev_cause_name(EV_CAUSE_MAX), "?");
	assert_string_equal(ev_cause_name((enum ev_cause)-1), "?");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(eth_parse__udp_frame_fields),
		cmocka_unit_test(eth_parse__short_frame_dropped),
		cmocka_unit_test(eth_parse__vlan_tagged_dropped),
		cmocka_unit_test(eth_parse__other_ethertype_passes_through),
		cmocka_unit_test(eth_build__exact_bytes),
		cmocka_unit_test(eth_constants__broadcast_and_zero),
		cmocka_unit_test(arp_parse__request_fields),
		cmocka_unit_test(arp_parse__reply_fields),
		cmocka_unit_test(arp_parse__rejects_every_truncation),
		cmocka_unit_test(arp_parse__bad_fields_dropped),
		cmocka_unit_test(arp_build__exact_bytes),
		cmocka_unit_test(ipv4_parse__udp_frame_fields),
		cmocka_unit_test(frame_parse__rejects_every_truncation),
		cmocka_unit_test(ipv4_parse__rejects_every_truncation),
		cmocka_unit_test(ipv4_parse__bad_version_dropped),
		cmocka_unit_test(ipv4_parse__ihl_below_five_dropped),
		cmocka_unit_test(ipv4_parse__ihl_past_frame_dropped),
		cmocka_unit_test(ipv4_parse__tot_len_inconsistent_dropped),
		cmocka_unit_test(ipv4_parse__tot_len_equal_hlen_accepted),
		cmocka_unit_test(ipv4_parse__bad_checksum_dropped),
		cmocka_unit_test(ipv4_parse__options_accepted_and_skipped),
		cmocka_unit_test(ipv4_parse__padding_past_tot_len_accepted),
		cmocka_unit_test(ipv4_is_fragment__flag_and_offset_combinations),
		cmocka_unit_test(ipv4_build__exact_bytes),
		cmocka_unit_test(ipv4_build__total_length_limit),
		cmocka_unit_test(icmp_parse__echo_fields),
		cmocka_unit_test(icmp_parse__rejects_every_truncation),
		cmocka_unit_test(icmp_parse__bad_checksum_dropped),
		cmocka_unit_test(udp_parse__dns_query_fields),
		cmocka_unit_test(udp_parse__rejects_every_truncation),
		cmocka_unit_test(udp_parse__length_field_checked),
		cmocka_unit_test(udp_build__exact_bytes),
		cmocka_unit_test(udp_build__zero_checksum_sent_as_ffff),
		cmocka_unit_test(tcp_parse__syn_with_options),
		cmocka_unit_test(tcp_parse__rejects_every_truncation),
		cmocka_unit_test(tcp_parse__data_offset_checked),
		cmocka_unit_test(tcp_parse__malformed_options_dropped),
		cmocka_unit_test(tcp_parse__wellformed_options_accepted),
		cmocka_unit_test(tcp_parse__syn_with_mss_length_zero_dropped),
		cmocka_unit_test(tcp_parse__last_mss_option_reported),
		cmocka_unit_test(l4_csum_ok__detects_corruption),
		cmocka_unit_test(l4_csum_complete__restores_captured_checksums),
		cmocka_unit_test(l4_csum_complete__built_segments),
		cmocka_unit_test(l4_csum_complete__udp_zero_becomes_ffff),
		cmocka_unit_test(l4_csum_complete__short_or_other_protocol),
		cmocka_unit_test(ipv4_ntop__formats_dotted_quad),
		cmocka_unit_test(ipv4_pton__accepts_dotted_quad),
		cmocka_unit_test(ipv4_pton__rejects_malformed),
		cmocka_unit_test(mac_ntop__formats_lowercase),
		cmocka_unit_test(mac_pton__parses_and_rejects),
		cmocka_unit_test(drop_name__every_reason_named),
		cmocka_unit_test(ev_names__ops_and_causes),
		cmocka_unit_test(ip_proto_name__names_and_parses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: ISC */
/*
 * GSO super-frames and partial checksums (netfn/gso.c, and their way through
 * netfn/pipeline.c with NAT).
 *
 * Software segmentation is compared byte for byte with ref_segment below, a
 * second, deliberately plain writing of the kernel's rules (tcp_gso_segment,
 * __udp_gso_segment, inet_gso_segment): every header rebuilt field by field
 * from the original, checksums by testlib's RFC 1071 sum, not netfn's. The
 * comparison with the kernel's own segmentation is in
 * tests/src/io_packet_test.c: a UDP_SEGMENT send, and a TCP super-frame sent
 * over a veth without TSO, each cut by the kernel and by gso_segment.
 *
 * The pipeline has the layout of pipeline_test.c with NAT on: 0 "inside"
 * 192.168.1.1/24, 1 "outside" 203.0.113.1/24 (the external address); host A
 * 192.168.1.10 inside, host B 203.0.113.20 outside, both static in ARP.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "netfn/arp.h"
#include "netfn/gso.h"
#include "netfn/pipeline.h"
#include "tests/netfn/testlib.h"

#define IN_ADDR		IP4(192, 168, 1, 1)
#define OUT_ADDR	IP4(203, 0, 113, 1)
#define HOST_A		IP4(192, 168, 1, 10)
#define HOST_B		IP4(203, 0, 113, 20)
#define MSS		1448
#define TCP_HL		32		/* 20 + NOP NOP timestamps */
#define TCP_CWR		0x80

static const uint8_t mac_in[ETH_ALEN] = { 0x02, 0x00, 0x00, 0x00, 0x01, 0x01 };
static const uint8_t mac_out[ETH_ALEN] = { 0x02, 0x00, 0x00, 0x00, 0x02, 0x01 };
static const uint8_t mac_a[ETH_ALEN] = { 0x02, 0xaa, 0x00, 0x00, 0x00, 0x0a };
static const uint8_t mac_b[ETH_ALEN] = { 0x02, 0xbb, 0x00, 0x00, 0x00, 0x14 };

static _Alignas(8) uint8_t frame[70000], frame2[70000];
static uint8_t seg[2048], ref[2048];

/* The folded pseudo-header sum a Linux sender leaves in the field. */
static uint16_t
partial(uint32_t src, uint32_t dst, uint8_t proto, uint16_t l4len)
{
	return tl_pseudo(src, dst, proto, l4len);
}

/*
 * A TCP super-frame src:sport -> dst:dport as Linux's TSO hands it over:
 * IPv4 id, DF, TTL 64, timestamps option, plen bytes of payload, the field
 * holding the pseudo-header sum. Returns the frame length; g describes it.
 */
static uint32_t
build_tcp(uint8_t *f, const uint8_t *dmac, const uint8_t *smac, uint32_t src,
    uint32_t dst, uint16_t sport, uint16_t dport, uint32_t seq, uint8_t flags,
    uint32_t plen, uint16_t size, struct nf_gso *g)
{
	uint8_t *ip = f + ETH_HLEN, *t = ip + 20;
	uint32_t l4len = TCP_HL + plen;

	memcpy(f, dmac, ETH_ALEN);
	memcpy(f + 6, smac, ETH_ALEN);
	store_be16(f + 12, ETHERTYPE_IPV4);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	store_be16(ip + 2, (uint16_t)(20 + l4len));
	store_be16(ip + 4, 0xfffe);		/* wraps after two segments */
	store_be16(ip + 6, IPV4_DF);
	ip[8] = 64;
	ip[9] = IPPROTO_TCP_;
	store_be32(ip + 12, src);
	store_be32(ip + 16, dst);
	store_be16(ip + 10, tl_csum(ip, 20));
	store_be16(t, sport);
	store_be16(t + 2, dport);
	store_be32(t + 4, seq);
	store_be32(t + 8, 0x01020304);
	t[12] = (TCP_HL / 4) << 4;
	t[13] = flags;
	store_be16(t + 14, 502);
	store_be16(t + 16, partial(src, dst, IPPROTO_TCP_, (uint16_t)l4len));
	store_be16(t + 18, 0);
	t[20] = 1;
	t[21] = 1;
	t[22] = 8;
	t[23] = 10;
	store_be32(t + 24, 0x11223344);
	store_be32(t + 28, 0x55667788);
	for (uint32_t i = 0; i < plen; i++)
		t[TCP_HL + i] = (uint8_t)(i * 13 + i / 251);
	*g = (struct nf_gso){
		.type = NF_GSO_TCPV4, .size = size, .hdr_len = 0,
		.csum_start = ETH_HLEN + 20, .csum_offset = 16,
	};
	return ETH_HLEN + 20 + l4len;
}

/* A UDP_SEGMENT super-frame, likewise. */
static uint32_t
build_udp(uint8_t *f, uint32_t plen, uint16_t size, struct nf_gso *g)
{
	uint8_t *ip = f + ETH_HLEN, *u = ip + 20;
	uint32_t l4len = UDP_HLEN + plen;

	memcpy(f, mac_in, ETH_ALEN);
	memcpy(f + 6, mac_a, ETH_ALEN);
	store_be16(f + 12, ETHERTYPE_IPV4);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	store_be16(ip + 2, (uint16_t)(20 + l4len));
	store_be16(ip + 4, 0x4000);
	store_be16(ip + 6, IPV4_DF);
	ip[8] = 64;
	ip[9] = IPPROTO_UDP_;
	store_be32(ip + 12, HOST_A);
	store_be32(ip + 16, HOST_B);
	store_be16(ip + 10, tl_csum(ip, 20));
	store_be16(u, 4433);
	store_be16(u + 2, 443);
	store_be16(u + 4, (uint16_t)l4len);
	store_be16(u + 6, partial(HOST_A, HOST_B, IPPROTO_UDP_, (uint16_t)l4len));
	for (uint32_t i = 0; i < plen; i++)
		u[UDP_HLEN + i] = (uint8_t)(i * 31 + 7);
	*g = (struct nf_gso){
		.type = NF_GSO_UDP_L4, .size = size,
		.csum_start = ETH_HLEN + 20, .csum_offset = 6,
	};
	return ETH_HLEN + 20 + l4len;
}

/*
 * The reference: segment k of super-frame f as the kernel would write it,
 * rebuilt field by field. Returns its length.
 */
static uint32_t
ref_segment(const uint8_t *f, uint32_t flen, uint16_t size, unsigned k,
    unsigned nseg, uint8_t *out)
{
	const uint8_t *ip = f + ETH_HLEN;
	uint8_t proto = ip[9], *oip = out + ETH_HLEN, *l4 = oip + 20;
	uint32_t hl = proto == IPPROTO_TCP_ ? TCP_HL : UDP_HLEN;
	uint32_t hdrs = ETH_HLEN + 20 + hl;
	uint32_t total = flen - hdrs;
	uint32_t plen = k + 1 < nseg ? size : total - (nseg - 1) * size;
	uint32_t src = load_be32(ip + 12), dst = load_be32(ip + 16);
	uint16_t l4len = (uint16_t)(hl + plen);

	memcpy(out, f, ETH_HLEN);			/* MACs, type */
	oip[0] = 0x45;
	oip[1] = ip[1];
	store_be16(oip + 2, (uint16_t)(20 + l4len));
	store_be16(oip + 4, (uint16_t)(load_be16(ip + 4) + k));
	store_be16(oip + 6, load_be16(ip + 6));
	oip[8] = ip[8];
	oip[9] = proto;
	store_be16(oip + 10, 0);
	store_be32(oip + 12, src);
	store_be32(oip + 16, dst);
	store_be16(oip + 10, tl_csum(oip, 20));
	memcpy(l4, ip + 20, hl);
	memcpy(l4 + hl, f + hdrs + k * size, plen);
	if (proto == IPPROTO_TCP_) {
		uint8_t fl = ip[20 + 13];

		store_be32(l4 + 4, load_be32(ip + 24) + k * size);
		if (k != nseg - 1)
			fl &= (uint8_t)~(TCP_FIN | TCP_PSH);
		if (k != 0)
			fl &= (uint8_t)~TCP_CWR;
		l4[13] = fl;
		store_be16(l4 + 16, 0);
		store_be16(l4 + 16, (uint16_t)~tl_sum(tl_pseudo(src, dst, proto,
		    l4len), l4, l4len));
	} else {
		uint16_t c;

		store_be16(l4 + 4, l4len);
		store_be16(l4 + 6, 0);
		c = (uint16_t)~tl_sum(tl_pseudo(src, dst, proto, l4len), l4, l4len);
		store_be16(l4 + 6, c == 0 ? 0xffff : c);
	}
	return ETH_HLEN + 20 + l4len;
}

/* Every segment of f equals the reference and checks out on its own. */
static void
check_segments(const uint8_t *f, uint32_t flen, const struct nf_gso *g,
    unsigned want_nseg)
{
	unsigned n = gso_nsegs(f, flen, g);
	uint8_t proto = f[ETH_HLEN + 9];

	assert_int_equal(n, want_nseg);
	for (unsigned k = 0; k < n; k++) {
		uint32_t l = gso_segment(f, flen, g, k, seg, sizeof(seg));
		uint32_t rl = ref_segment(f, flen, g->size, k, n, ref);

		assert_int_equal(l, rl);
		assert_memory_equal(seg, ref, l);
		assert_true(tl_csum_ok(seg + ETH_HLEN, 20));
		assert_true(tl_l4_csum_ok(load_be32(seg + ETH_HLEN + 12),
		    load_be32(seg + ETH_HLEN + 16), proto, seg + ETH_HLEN + 20,
		    l - ETH_HLEN - 20));
	}
	assert_int_equal(gso_segment(f, flen, g, n, seg, sizeof(seg)), 0);
}

/* ---- software segmentation ---- */

static void
gso_segment__tcp_follows_the_kernels_rules(void **state)
{
	struct nf_gso g;
	uint32_t len;

	(void)state;
	/* Sequence numbers wrap inside the frame; PSH, FIN and CWR set. */
	len = build_tcp(frame, mac_in, mac_a, HOST_A, HOST_B, 40000, 80,
	    0xfffff000, TCP_ACK | TCP_PSH | TCP_FIN | TCP_CWR, 3 * MSS + 100,
	    MSS, &g);
	check_segments(frame, len, &g, 4);
	/* First keeps CWR, loses PSH and FIN; the last keeps PSH and FIN. */
	gso_segment(frame, len, &g, 0, seg, sizeof(seg));
	assert_int_equal(seg[ETH_HLEN + 20 + 13], TCP_ACK | TCP_CWR);
	assert_int_equal(load_be32(seg + ETH_HLEN + 24), 0xfffff000);
	assert_int_equal(load_be16(seg + ETH_HLEN + 4), 0xfffe);
	gso_segment(frame, len, &g, 3, seg, sizeof(seg));
	assert_int_equal(seg[ETH_HLEN + 20 + 13], TCP_ACK | TCP_PSH | TCP_FIN);
	assert_int_equal(load_be32(seg + ETH_HLEN + 24), 0xfffff000u + 3 * MSS);
	assert_int_equal(load_be16(seg + ETH_HLEN + 4), 0x0001);
	assert_int_equal(load_be16(seg + ETH_HLEN + 2), 20 + TCP_HL + 100);
	/* An exact multiple of the size; and a frame that is one segment. */
	len = build_tcp(frame, mac_in, mac_a, HOST_A, HOST_B, 40000, 80, 1,
	    TCP_ACK, 2 * MSS, MSS, &g);
	check_segments(frame, len, &g, 2);
	len = build_tcp(frame, mac_in, mac_a, HOST_A, HOST_B, 40000, 80, 1,
	    TCP_ACK | TCP_PSH, 10, MSS, &g);
	check_segments(frame, len, &g, 1);
	/* The largest: 64 KB of payload in 46 segments. */
	len = build_tcp(frame, mac_in, mac_a, HOST_A, HOST_B, 40000, 80, 7,
	    TCP_ACK | TCP_PSH, 65535 - 20 - TCP_HL, MSS, &g);
	check_segments(frame, len, &g, (65535 - 20 - TCP_HL + MSS - 1) / MSS);
}

static void
gso_segment__udp_l4_follows_the_kernels_rules(void **state)
{
	struct nf_gso g;
	uint32_t len;

	(void)state;
	len = build_udp(frame, 5 * 1200 + 1, 1200, &g);
	check_segments(frame, len, &g, 6);
	gso_segment(frame, len, &g, 5, seg, sizeof(seg));
	assert_int_equal(load_be16(seg + ETH_HLEN + 20 + 4), UDP_HLEN + 1);
}

static void
gso_segment__short_buffer_writes_nothing(void **state)
{
	struct nf_gso g;
	uint32_t len;

	(void)state;
	len = build_udp(frame, 3000, 1200, &g);
	assert_int_equal(gso_segment(frame, len, &g, 0, seg, 100), 0);
}

/* A checksum offload without GSO: finished in place. */
static void
gso_csum_complete__finishes_tcp_and_udp(void **state)
{
	struct nf_gso g;
	uint32_t len;

	(void)state;
	len = build_tcp(frame, mac_in, mac_a, HOST_A, HOST_B, 40000, 80, 1,
	    TCP_ACK, 500, MSS, &g);
	gso_csum_complete(frame, len, &g, IPPROTO_TCP_);
	assert_true(tl_l4_csum_ok(HOST_A, HOST_B, IPPROTO_TCP_,
	    frame + ETH_HLEN + 20, len - ETH_HLEN - 20));
	len = build_udp(frame, 333, 1200, &g);
	gso_csum_complete(frame, len, &g, IPPROTO_UDP_);
	assert_true(tl_l4_csum_ok(HOST_A, HOST_B, IPPROTO_UDP_,
	    frame + ETH_HLEN + 20, len - ETH_HLEN - 20));
}

/* ---- through the pipeline, with NAT ---- */

static struct {
	struct nf_config cfg;
	struct nf	*nf;
	struct tl_out	o;
	uint64_t	now;
} gx;

static void
gx_open(uint16_t out_mtu)
{
	nf_free(gx.nf);
	nf_config_default(&gx.cfg);
	gx.cfg.n_iface = 2;
	strcpy(gx.cfg.iface[0].name, "inside");
	memcpy(gx.cfg.iface[0].mac, mac_in, ETH_ALEN);
	gx.cfg.iface[0].addr = IN_ADDR;
	gx.cfg.iface[0].plen = 24;
	strcpy(gx.cfg.iface[1].name, "outside");
	memcpy(gx.cfg.iface[1].mac, mac_out, ETH_ALEN);
	gx.cfg.iface[1].addr = OUT_ADDR;
	gx.cfg.iface[1].plen = 24;
	gx.cfg.iface[1].mtu = out_mtu;
	gx.cfg.seed = 7;
	gx.cfg.nat = true;
	gx.cfg.outside = 1;
	gx.nf = nf_new(&gx.cfg);
	assert_non_null(gx.nf);
	tl_out_init(&gx.o);
	gx.now = TL_T0;
	assert_int_equal(arp_add_static(nf_arp(gx.nf), 0, HOST_A, mac_a, gx.now,
	    &gx.o.out), 0);
	assert_int_equal(arp_add_static(nf_arp(gx.nf), 1, HOST_B, mac_b, gx.now,
	    &gx.o.out), 0);
	nf_out_reset(&gx.o.out);
}

static int
gx_teardown(void **state)
{
	(void)state;
	nf_free(gx.nf);
	gx.nf = NULL;
	return 0;
}

static void
input(uint8_t ifidx, uint8_t *f, uint32_t len, uint8_t flags,
    const struct nf_gso *g)
{
	struct nf_frame rx = { f, len, ifidx, flags, *g };

	nf_out_reset(&gx.o.out);
	nf_input(gx.nf, &rx, 1, gx.now, &gx.o.out);
}

static uint64_t
drops(enum drop why)
{
	return nf_stats(gx.nf)->drop[why];
}

/*
 * A TCP super-frame A -> B goes out as one frame from the external address,
 * its offload state with it, the field holding the pseudo-header sum of the
 * new addresses (the port is summed with the segment later); B's answer, a
 * super-frame too, comes back to A's port. Each one's segments then carry
 * right checksums for what is on the wire.
 */
static void
nf_input__nat_translates_a_gso_tcp_frame_whole(void **state)
{
	const struct nf_frame *t;
	struct nf_gso g;
	uint32_t len, l4len;
	uint16_t ext_port;
	const uint8_t *ip, *l4;

	(void)state;
	gx_open(1500);
	len = build_tcp(frame, mac_in, mac_a, HOST_A, HOST_B, 40000, 80,
	    0x10000000, TCP_ACK | TCP_PSH, 20 * MSS + 7, MSS, &g);
	input(0, frame, len, NF_F_NEEDS_CSUM, &g);
	assert_int_equal(gx.o.out.ntx, 1);
	t = &gx.o.out.tx[0];
	assert_int_equal(t->ifidx, 1);
	assert_int_equal(t->len, len);
	assert_int_equal(t->flags, NF_F_NEEDS_CSUM);
	assert_int_equal(t->gso.type, NF_GSO_TCPV4);
	assert_int_equal(t->gso.size, MSS);
	assert_int_equal(t->gso.hdr_len, ETH_HLEN + 20 + TCP_HL);
	assert_int_equal(t->gso.csum_start, ETH_HLEN + 20);
	assert_int_equal(t->gso.csum_offset, 16);
	assert_memory_equal(t->data, mac_b, ETH_ALEN);
	assert_memory_equal(t->data + 6, mac_out, ETH_ALEN);
	ip = t->data + ETH_HLEN;
	l4 = ip + 20;
	l4len = len - ETH_HLEN - 20;
	assert_int_equal(ip[8], 63);
	assert_int_equal(load_be32(ip + 12), OUT_ADDR);
	assert_int_equal(load_be32(ip + 16), HOST_B);
	assert_true(tl_csum_ok(ip, 20));
	ext_port = load_be16(l4);
	assert_int_equal(load_be16(l4 + 16),
	    partial(OUT_ADDR, HOST_B, IPPROTO_TCP_, (uint16_t)l4len));
	assert_int_equal(nf_stats(gx.nf)->gso_in, 1);
	assert_int_equal(nf_stats(gx.nf)->forwarded, 1);
	check_segments(t->data, t->len, &t->gso, 21);

	/* B answers with a super-frame to the external port. */
	len = build_tcp(frame2, mac_out, mac_b, HOST_B, OUT_ADDR, 80, ext_port,
	    0x20000000, TCP_ACK, 5 * MSS, MSS, &g);
	input(1, frame2, len, NF_F_NEEDS_CSUM, &g);
	assert_int_equal(gx.o.out.ntx, 1);
	t = &gx.o.out.tx[0];
	ip = t->data + ETH_HLEN;
	l4 = ip + 20;
	assert_int_equal(t->ifidx, 0);
	assert_int_equal(t->flags, NF_F_NEEDS_CSUM);
	assert_int_equal(load_be32(ip + 16), HOST_A);
	assert_int_equal(load_be16(l4 + 2), 40000);
	assert_true(tl_csum_ok(ip, 20));
	assert_int_equal(load_be16(l4 + 16), partial(HOST_B, HOST_A,
	    IPPROTO_TCP_, (uint16_t)(len - ETH_HLEN - 20)));
	check_segments(t->data, t->len, &t->gso, 5);
	assert_int_equal(nf_stats(gx.nf)->gso_in, 2);
}

/*
 * A UDP datagram with a partial checksum (no GSO) is finished before NAT
 * and leaves with a full, right checksum and no offload state.
 */
static void
nf_input__nat_finishes_a_partial_udp_checksum(void **state)
{
	const struct nf_frame *t;
	struct nf_gso g;
	uint32_t len;

	(void)state;
	gx_open(1500);
	len = build_udp(frame, 600, 0, &g);
	g.type = NF_GSO_NONE;
	input(0, frame, len, NF_F_NEEDS_CSUM, &g);
	assert_int_equal(gx.o.out.ntx, 1);
	t = &gx.o.out.tx[0];
	assert_int_equal(t->flags, 0);
	assert_int_equal(t->gso.type, NF_GSO_NONE);
	assert_int_equal(load_be32(t->data + ETH_HLEN + 12), OUT_ADDR);
	assert_true(tl_l4_csum_ok(OUT_ADDR, HOST_B, IPPROTO_UDP_,
	    t->data + ETH_HLEN + 20, len - ETH_HLEN - 20));
	assert_int_equal(nf_stats(gx.nf)->csum_completed, 1);

	/* A UDP_L4 super-frame goes through whole, like TCP. */
	len = build_udp(frame, 10 * 1000, 1000, &g);
	input(0, frame, len, NF_F_NEEDS_CSUM, &g);
	assert_int_equal(gx.o.out.ntx, 1);
	t = &gx.o.out.tx[0];
	assert_int_equal(t->flags, NF_F_NEEDS_CSUM);
	assert_int_equal(t->gso.type, NF_GSO_UDP_L4);
	check_segments(t->data, t->len, &t->gso, 10);
}

/*
 * The egress MTU is compared with the segments, not the super-frame: 1448
 * bytes of payload under 52 bytes of headers fit 1500; at 1400 the frame is
 * too big, with "fragmentation needed" (MTU 1400) as DF is set, and without
 * DF it is dropped all the same (the router does not fragment).
 */
static void
nf_input__gso_mtu_check_uses_the_segment_size(void **state)
{
	struct nf_gso g;
	uint32_t len;
	const struct nf_frame *t;

	(void)state;
	gx_open(1500);
	len = build_tcp(frame, mac_in, mac_a, HOST_A, HOST_B, 40000, 80, 1,
	    TCP_ACK, 40 * MSS, MSS, &g);
	input(0, frame, len, NF_F_NEEDS_CSUM, &g);
	assert_int_equal(gx.o.out.ntx, 1);
	assert_int_equal(drops(DROP_TOO_BIG), 0);

	gx_open(1400);
	len = build_tcp(frame, mac_in, mac_a, HOST_A, HOST_B, 40000, 80, 1,
	    TCP_ACK, 40 * MSS, MSS, &g);
	input(0, frame, len, NF_F_NEEDS_CSUM, &g);
	assert_int_equal(drops(DROP_TOO_BIG), 1);
	assert_int_equal(gx.o.out.ntx, 1);
	t = &gx.o.out.tx[0];
	assert_int_equal(t->ifidx, 0);
	assert_int_equal(t->data[ETH_HLEN + 20], ICMP_UNREACH);
	assert_int_equal(t->data[ETH_HLEN + 21], ICMP_UNREACH_NEEDFRAG);
	assert_int_equal(load_be32(t->data + ETH_HLEN + 24), 1400);

	/* The same without DF: dropped, no ICMP. */
	store_be16(frame + ETH_HLEN + 6, 0);
	store_be16(frame + ETH_HLEN + 10, 0);
	store_be16(frame + ETH_HLEN + 10, tl_csum(frame + ETH_HLEN, 20));
	input(0, frame, len, NF_F_NEEDS_CSUM, &g);
	assert_int_equal(drops(DROP_TOO_BIG), 2);
	assert_int_equal(gx.o.out.ntx, 0);

	/* Segments of 1348 bytes fit 1400. */
	len = build_tcp(frame, mac_in, mac_a, HOST_A, HOST_B, 40000, 80, 1,
	    TCP_ACK, 40 * 1348, 1348, &g);
	input(0, frame, len, NF_F_NEEDS_CSUM, &g);
	assert_int_equal(gx.o.out.ntx, 1);
	assert_int_equal(gx.o.out.tx[0].ifidx, 1);
}

/* Offload state that does not match the frame is refused, counted. */
static void
nf_input__inconsistent_offload_state_is_gso_bad(void **state)
{
	struct nf_gso g, bad;
	uint32_t len;
	uint64_t n = 0;

	(void)state;
	gx_open(1500);
	len = build_tcp(frame, mac_in, mac_a, HOST_A, HOST_B, 40000, 80, 1,
	    TCP_ACK, 4 * MSS, MSS, &g);
	bad = g;
	bad.type = NF_GSO_UDP_L4;		/* UDP GSO on a TCP frame */
	input(0, frame, len, NF_F_NEEDS_CSUM, &bad);
	assert_int_equal(drops(DROP_GSO_BAD), ++n);
	bad = g;
	bad.csum_start = ETH_HLEN + 20 + 4;	/* would write into the header */
	input(0, frame, len, NF_F_NEEDS_CSUM, &bad);
	assert_int_equal(drops(DROP_GSO_BAD), ++n);
	bad = g;
	bad.csum_offset = 6;
	input(0, frame, len, NF_F_NEEDS_CSUM, &bad);
	assert_int_equal(drops(DROP_GSO_BAD), ++n);
	input(0, frame, len, 0, &g);		/* GSO without NEEDS_CSUM */
	assert_int_equal(drops(DROP_GSO_BAD), ++n);
	bad = g;
	bad.size = 4;
	input(0, frame, len, NF_F_NEEDS_CSUM, &bad);
	assert_int_equal(drops(DROP_GSO_BAD), ++n);
	bad = g;
	bad.type = 4;				/* TCPv6 on IPv4 */
	input(0, frame, len, NF_F_NEEDS_CSUM, &bad);
	assert_int_equal(drops(DROP_GSO_BAD), ++n);
	/* A big frame without GSO stays oversize. */
	bad = (struct nf_gso){ 0 };
	input(0, frame, len, 0, &bad);
	assert_int_equal(drops(DROP_OVERSIZE), 1);
	assert_int_equal(nf_stats(gx.nf)->forwarded, 0);
	input(0, frame, len, NF_F_NEEDS_CSUM, &g);
	assert_int_equal(nf_stats(gx.nf)->forwarded, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(gso_segment__tcp_follows_the_kernels_rules),
		cmocka_unit_test(gso_segment__udp_l4_follows_the_kernels_rules),
		cmocka_unit_test(gso_segment__short_buffer_writes_nothing),
		cmocka_unit_test(gso_csum_complete__finishes_tcp_and_udp),
		cmocka_unit_test_teardown(nf_input__nat_translates_a_gso_tcp_frame_whole,
		    gx_teardown),
		cmocka_unit_test_teardown(nf_input__nat_finishes_a_partial_udp_checksum,
		    gx_teardown),
		cmocka_unit_test_teardown(nf_input__gso_mtu_check_uses_the_segment_size,
		    gx_teardown),
		cmocka_unit_test_teardown(nf_input__inconsistent_offload_state_is_gso_bad,
		    gx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

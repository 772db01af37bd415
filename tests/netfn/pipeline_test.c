/* SPDX-License-Identifier: ISC */
/*
 * Tests of the netfn pipeline (netfn/pipeline.c) against netfn/pipeline.h:
 * literal frames in, exact frames, drop counters and events out.
 *
 * The router has two interfaces: 0 "inside" 192.168.1.1/24 at
 * 02:00:00:00:01:01 and 1 "outside" 203.0.113.1/24 at 02:00:00:00:02:01, and
 * no default route unless a test adds one. Host A (192.168.1.10,
 * 02:aa:00:00:00:0a) and host B (203.0.113.20, 02:bb:00:00:00:14) are known
 * as static ARP entries; host C (203.0.113.30, 02:bb:00:00:00:1e) is not, so
 * the tests that need resolution send to C.
 *
 * The frames that matter are spelled out as bytes (generated once by a short
 * script from the RFC formats and checked by hand); variants of them come
 * from tl_build (testlib.h), which one test checks against the literals.
 * Checksums in the output are compared with a full recomputation by the
 * naive RFC 1071 sum in testlib.h, never with netfn's own csum code.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "netfn/arp.h"
#include "netfn/event.h"
#include "netfn/pipeline.h"
#include "tests/netfn/testlib.h"

#define IN_ADDR		IP4(192, 168, 1, 1)
#define OUT_ADDR	IP4(203, 0, 113, 1)
#define HOST_A		IP4(192, 168, 1, 10)
#define HOST_B		IP4(203, 0, 113, 20)
#define HOST_C		IP4(203, 0, 113, 30)
#define GW		IP4(203, 0, 113, 254)

static const uint8_t mac_in[ETH_ALEN] = { 0x02, 0x00, 0x00, 0x00, 0x01, 0x01 };
static const uint8_t mac_out[ETH_ALEN] = { 0x02, 0x00, 0x00, 0x00, 0x02, 0x01 };
static const uint8_t mac_a[ETH_ALEN] = { 0x02, 0xaa, 0x00, 0x00, 0x00, 0x0a };
static const uint8_t mac_b[ETH_ALEN] = { 0x02, 0xbb, 0x00, 0x00, 0x00, 0x14 };
static const uint8_t mac_c[ETH_ALEN] = { 0x02, 0xbb, 0x00, 0x00, 0x00, 0x1e };
static const uint8_t mac_gw[ETH_ALEN] = { 0x02, 0xbb, 0x00, 0x00, 0x00, 0xfe };
static const uint8_t mac_bcast[ETH_ALEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static const uint8_t payload24[24] = "gitnet udp payload 0123!";

/* A -> B, UDP 12345 -> 53, 24 bytes of payload, TTL 64, DF, id 0x1c46. */
static const uint8_t udp_a_to_b[66] = {
	0x02, 0x00, 0x00, 0x00, 0x01, 0x01, 0x02, 0xaa, 0x00, 0x00, 0x00, 0x0a,
	0x08, 0x00, 0x45, 0x00, 0x00, 0x34, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x11,
	0x20, 0xac, 0xc0, 0xa8, 0x01, 0x0a, 0xcb, 0x00, 0x71, 0x14, 0x30, 0x39,
	0x00, 0x35, 0x00, 0x20, 0x37, 0x06, 0x67, 0x69, 0x74, 0x6e, 0x65, 0x74,
	0x20, 0x75, 0x64, 0x70, 0x20, 0x70, 0x61, 0x79, 0x6c, 0x6f, 0x61, 0x64,
	0x20, 0x30, 0x31, 0x32, 0x33, 0x21,
};

/* The same leaving the outside interface: MACs, TTL 63, checksum 0x21ac. */
static const uint8_t udp_a_to_b_fwd[66] = {
	0x02, 0xbb, 0x00, 0x00, 0x00, 0x14, 0x02, 0x00, 0x00, 0x00, 0x02, 0x01,
	0x08, 0x00, 0x45, 0x00, 0x00, 0x34, 0x1c, 0x46, 0x40, 0x00, 0x3f, 0x11,
	0x21, 0xac, 0xc0, 0xa8, 0x01, 0x0a, 0xcb, 0x00, 0x71, 0x14, 0x30, 0x39,
	0x00, 0x35, 0x00, 0x20, 0x37, 0x06, 0x67, 0x69, 0x74, 0x6e, 0x65, 0x74,
	0x20, 0x75, 0x64, 0x70, 0x20, 0x70, 0x61, 0x79, 0x6c, 0x6f, 0x61, 0x64,
	0x20, 0x30, 0x31, 0x32, 0x33, 0x21,
};

/* A pings 192.168.1.1: id 0x1234, seq 1, "ping-payload-16b". */
static const uint8_t echo_a_to_in[58] = {
	0x02, 0x00, 0x00, 0x00, 0x01, 0x01, 0x02, 0xaa, 0x00, 0x00, 0x00, 0x0a,
	0x08, 0x00, 0x45, 0x00, 0x00, 0x2c, 0x01, 0x01, 0x00, 0x00, 0x40, 0x01,
	0xf6, 0x74, 0xc0, 0xa8, 0x01, 0x0a, 0xc0, 0xa8, 0x01, 0x01, 0x08, 0x00,
	0x46, 0xa9, 0x12, 0x34, 0x00, 0x01, 0x70, 0x69, 0x6e, 0x67, 0x2d, 0x70,
	0x61, 0x79, 0x6c, 0x6f, 0x61, 0x64, 0x2d, 0x31, 0x36, 0x62,
};

/* The ICMP part of the answer: type 0, checksum 0x46a9 + 0x0800. */
static const uint8_t echo_reply_icmp[24] = {
	0x00, 0x00, 0x4e, 0xa9, 0x12, 0x34, 0x00, 0x01, 0x70, 0x69, 0x6e, 0x67,
	0x2d, 0x70, 0x61, 0x79, 0x6c, 0x6f, 0x61, 0x64, 0x2d, 0x31, 0x36, 0x62,
};

/*
 * A -> B, TCP 40000 -> 80, "GET / HTTP", sent by a Linux stack with
 * checksum offload: the field holds the folded pseudo-header sum (0xfdeb).
 */
static const uint8_t tcp_partial_a_to_b[64] = {
	0x02, 0x00, 0x00, 0x00, 0x01, 0x01, 0x02, 0xaa, 0x00, 0x00, 0x00, 0x0a,
	0x08, 0x00, 0x45, 0x00, 0x00, 0x32, 0x22, 0x22, 0x40, 0x00, 0x40, 0x06,
	0x1a, 0xdd, 0xc0, 0xa8, 0x01, 0x0a, 0xcb, 0x00, 0x71, 0x14, 0x9c, 0x40,
	0x00, 0x50, 0x01, 0x02, 0x03, 0x04, 0x0a, 0x0b, 0x0c, 0x0d, 0x50, 0x18,
	0xfa, 0xf0, 0xfd, 0xeb, 0x00, 0x00, 0x47, 0x45, 0x54, 0x20, 0x2f, 0x20,
	0x48, 0x54, 0x54, 0x50,
};

/* Forwarded, with the full TCP checksum 0x9931. */
static const uint8_t tcp_partial_a_to_b_fwd[64] = {
	0x02, 0xbb, 0x00, 0x00, 0x00, 0x14, 0x02, 0x00, 0x00, 0x00, 0x02, 0x01,
	0x08, 0x00, 0x45, 0x00, 0x00, 0x32, 0x22, 0x22, 0x40, 0x00, 0x3f, 0x06,
	0x1b, 0xdd, 0xc0, 0xa8, 0x01, 0x0a, 0xcb, 0x00, 0x71, 0x14, 0x9c, 0x40,
	0x00, 0x50, 0x01, 0x02, 0x03, 0x04, 0x0a, 0x0b, 0x0c, 0x0d, 0x50, 0x18,
	0xfa, 0xf0, 0x99, 0x31, 0x00, 0x00, 0x47, 0x45, 0x54, 0x20, 0x2f, 0x20,
	0x48, 0x54, 0x54, 0x50,
};

/* A 28-byte datagram (UDP, no payload) padded to the 60-byte minimum. */
static const uint8_t udp_short_padded[60] = {
	0x02, 0x00, 0x00, 0x00, 0x01, 0x01, 0x02, 0xaa, 0x00, 0x00, 0x00, 0x0a,
	0x08, 0x00, 0x45, 0x00, 0x00, 0x1c, 0x33, 0x33, 0x40, 0x00, 0x40, 0x11,
	0x09, 0xd7, 0xc0, 0xa8, 0x01, 0x0a, 0xcb, 0x00, 0x71, 0x14, 0x30, 0x39,
	0x00, 0x35, 0x00, 0x08, 0xd1, 0xa8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

static const uint8_t udp_short_padded_fwd[60] = {
	0x02, 0xbb, 0x00, 0x00, 0x00, 0x14, 0x02, 0x00, 0x00, 0x00, 0x02, 0x01,
	0x08, 0x00, 0x45, 0x00, 0x00, 0x1c, 0x33, 0x33, 0x40, 0x00, 0x3f, 0x11,
	0x0a, 0xd7, 0xc0, 0xa8, 0x01, 0x0a, 0xcb, 0x00, 0x71, 0x14, 0x30, 0x39,
	0x00, 0x35, 0x00, 0x08, 0xd1, 0xa8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

/* A asks for 192.168.1.1 (42 bytes, unpadded, as a Linux sender's reaches us). */
static const uint8_t arp_req_a_for_in[42] = {
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0xaa, 0x00, 0x00, 0x00, 0x0a,
	0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0xaa,
	0x00, 0x00, 0x00, 0x0a, 0xc0, 0xa8, 0x01, 0x0a, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0xc0, 0xa8, 0x01, 0x01,
};

/* 192.168.1.1 is at 02:00:00:00:01:01, to A. */
static const uint8_t arp_reply_to_a[60] = {
	0x02, 0xaa, 0x00, 0x00, 0x00, 0x0a, 0x02, 0x00, 0x00, 0x00, 0x01, 0x01,
	0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02, 0x02, 0x00,
	0x00, 0x00, 0x01, 0x01, 0xc0, 0xa8, 0x01, 0x01, 0x02, 0xaa, 0x00, 0x00,
	0x00, 0x0a, 0xc0, 0xa8, 0x01, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

/* The router asks for C on the outside. */
static const uint8_t arp_req_for_c[60] = {
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x02, 0x01,
	0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00,
	0x00, 0x00, 0x02, 0x01, 0xcb, 0x00, 0x71, 0x01, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0xcb, 0x00, 0x71, 0x1e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

/* C answers. */
static const uint8_t arp_reply_from_c[60] = {
	0x02, 0x00, 0x00, 0x00, 0x02, 0x01, 0x02, 0xbb, 0x00, 0x00, 0x00, 0x1e,
	0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02, 0x02, 0xbb,
	0x00, 0x00, 0x00, 0x1e, 0xcb, 0x00, 0x71, 0x1e, 0x02, 0x00, 0x00, 0x00,
	0x02, 0x01, 0xcb, 0x00, 0x71, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

#define RX_MAX		16
#define RX_BUF		4096

static struct {
	struct nf_config cfg;
	struct nf	*nf;
	struct tl_out	o;
	uint64_t	now;
	struct nf_frame	rx[RX_MAX];
	unsigned	nrx;
	_Alignas(8) uint8_t rxbuf[RX_MAX][RX_BUF];
} px;

static void
config_two_ifaces(struct nf_config *cfg)
{
	nf_config_default(cfg);
	cfg->n_iface = 2;
	strcpy(cfg->iface[0].name, "inside");
	memcpy(cfg->iface[0].mac, mac_in, ETH_ALEN);
	cfg->iface[0].addr = IN_ADDR;
	cfg->iface[0].plen = 24;
	strcpy(cfg->iface[1].name, "outside");
	memcpy(cfg->iface[1].mac, mac_out, ETH_ALEN);
	cfg->iface[1].addr = OUT_ADDR;
	cfg->iface[1].plen = 24;
	cfg->seed = 7;
}

/* (Re)build the pipeline from px.cfg, with A and B known; output empty. */
static void
px_open(void)
{
	nf_free(px.nf);
	px.nf = nf_new(&px.cfg);
	assert_non_null(px.nf);
	tl_out_init(&px.o);
	px.now = TL_T0;
	px.nrx = 0;
	assert_int_equal(arp_add_static(nf_arp(px.nf), 0, HOST_A, mac_a, px.now,
	    &px.o.out), 0);
	assert_int_equal(arp_add_static(nf_arp(px.nf), 1, HOST_B, mac_b, px.now,
	    &px.o.out), 0);
	nf_out_reset(&px.o.out);
}

static int
setup(void **state)
{
	(void)state;
	px.nf = NULL;
	config_two_ifaces(&px.cfg);
	px_open();
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	nf_free(px.nf);
	px.nf = NULL;
	return 0;
}

static void
reset(void)
{
	nf_out_reset(&px.o.out);
}

/* Queue a copy of bytes as a received frame; run the batch with run(). */
static void
add(uint8_t ifidx, const uint8_t *bytes, size_t len, uint8_t flags)
{
	assert_true(px.nrx < RX_MAX && len <= RX_BUF);
	memcpy(px.rxbuf[px.nrx], bytes, len);
	px.rx[px.nrx] = (struct nf_frame){ px.rxbuf[px.nrx], (uint16_t)len, ifidx,
	    flags };
	px.nrx++;
}

static void
run(void)
{
	nf_input(px.nf, px.rx, px.nrx, px.now, &px.o.out);
	px.nrx = 0;
}

static void
input1(uint8_t ifidx, const uint8_t *bytes, size_t len)
{
	add(ifidx, bytes, len, 0);
	run();
}

static const struct nf_stats *
st(void)
{
	return nf_stats(px.nf);
}

static uint64_t
drops_total(void)
{
	uint64_t n = 0;

	for (unsigned i = 1; i < DROP_MAX; i++)
		n += st()->drop[i];
	return n;
}

/* Exactly n drops so far, all for why. */
static void
assert_only_drops(enum drop why, uint64_t n)
{
	assert_string_equal(drop_name(why), drop_name(why));
	if (st()->drop[why] != n || drops_total() != n) {
		for (unsigned i = 1; i < DROP_MAX; i++)
			if (st()->drop[i])
				print_error("drop %s = %llu\n", drop_name((enum drop)i),
				    (unsigned long long)st()->drop[i]);
	}
	assert_int_equal(st()->drop[why], n);
	assert_int_equal(drops_total(), n);
}

/* The UDP A -> B packet as tl_build parameters, for variants. */
static struct tl_pkt
pkt_a_to_b(void)
{
	struct tl_pkt p = {
		.proto = IPPROTO_UDP_, .ttl = 64, .id = 0x1c46, .frag = IPV4_DF,
		.src = HOST_A, .dst = HOST_B, .sport = 12345, .dport = 53,
		.payload = payload24, .plen = sizeof(payload24),
	};

	memcpy(p.dst_mac, mac_in, ETH_ALEN);
	memcpy(p.src_mac, mac_a, ETH_ALEN);
	return p;
}

/* Build p and feed it in on ifidx; returns the frame length. */
static size_t
input_pkt(uint8_t ifidx, const struct tl_pkt *p, uint8_t *frame, size_t cap)
{
	size_t len = tl_build(frame, cap, p);

	assert_int_not_equal(len, 0);
	input1(ifidx, frame, len);
	return len;
}

/*
 * Check an ICMP error frame: addresses, a valid IP header and ICMP message,
 * type/code/rest, and a quote that is the first quote_len bytes of orig_ip.
 */
static void
check_icmp_error(const struct nf_frame *t, uint8_t ifidx, const uint8_t dmac[ETH_ALEN],
    const uint8_t smac[ETH_ALEN], uint32_t src, uint32_t dst, uint8_t type,
    uint8_t code, uint32_t rest, const uint8_t *orig_ip, size_t quote_len)
{
	const uint8_t *ip = t->data + ETH_HLEN, *ic = ip + IPV4_MIN_HLEN;
	size_t iplen;

	assert_int_equal(t->ifidx, ifidx);
	assert_true(t->len >= ETH_HLEN + IPV4_MIN_HLEN + ICMP_HLEN);
	assert_memory_equal(t->data, dmac, ETH_ALEN);
	assert_memory_equal(t->data + 6, smac, ETH_ALEN);
	assert_int_equal(load_be16(t->data + 12), ETHERTYPE_IPV4);
	assert_int_equal(ip[0], 0x45);
	iplen = load_be16(ip + 2);
	assert_int_equal(iplen, IPV4_MIN_HLEN + ICMP_HLEN + quote_len);
	assert_true(t->len >= ETH_HLEN + iplen);
	assert_int_equal(load_be16(ip + 6) & (IPV4_MF | IPV4_OFFMASK), 0);
	assert_true(ip[8] > 1);
	assert_int_equal(ip[9], IPPROTO_ICMP_);
	assert_true(tl_csum_ok(ip, IPV4_MIN_HLEN));
	assert_int_equal(load_be32(ip + 12), src);
	assert_int_equal(load_be32(ip + 16), dst);
	assert_int_equal(ic[0], type);
	assert_int_equal(ic[1], code);
	assert_int_equal(load_be32(ic + 4), rest);
	assert_true(tl_csum_ok(ic, iplen - IPV4_MIN_HLEN));
	if (orig_ip != NULL)
		assert_memory_equal(ic + ICMP_HLEN, orig_ip, quote_len);
}

/* ---- the builder the variants rely on ---- */

static void
testlib__builder_matches_literal_frame(void **state)
{
	struct tl_pkt p = pkt_a_to_b();
	uint8_t f[128];

	(void)state;
	assert_int_equal(tl_build(f, sizeof(f), &p), sizeof(udp_a_to_b));
	assert_memory_equal(f, udp_a_to_b, sizeof(udp_a_to_b));
	assert_true(tl_csum_ok(udp_a_to_b_fwd + ETH_HLEN, IPV4_MIN_HLEN));
	assert_true(tl_l4_csum_ok(HOST_A, HOST_B, IPPROTO_TCP_,
	    tcp_partial_a_to_b_fwd + 34, 30));
}

/* ---- forwarding ---- */

static void
nf_input__forwards_udp_inside_to_outside(void **state)
{
	uint8_t hdr[IPV4_MIN_HLEN];
	const struct nf_frame *t;

	(void)state;
	input1(0, udp_a_to_b, sizeof(udp_a_to_b));
	assert_int_equal(px.o.out.ntx, 1);
	t = &px.o.tx[0];
	assert_int_equal(t->ifidx, 1);
	assert_int_equal(t->len, sizeof(udp_a_to_b_fwd));
	assert_memory_equal(t->data, udp_a_to_b_fwd, sizeof(udp_a_to_b_fwd));
	/* Rewritten in place, not copied. */
	assert_ptr_equal(t->data, px.rxbuf[0]);
	/* The patched header checksum is what a full recomputation gives. */
	memcpy(hdr, t->data + ETH_HLEN, sizeof(hdr));
	store_be16(hdr + 10, 0);
	assert_int_equal(load_be16(t->data + ETH_HLEN + 10), tl_csum(hdr, sizeof(hdr)));
	assert_int_equal(st()->rx, 1);
	assert_int_equal(st()->rx_bytes, sizeof(udp_a_to_b));
	assert_int_equal(st()->forwarded, 1);
	assert_int_equal(st()->csum_completed, 0);
	assert_int_equal(drops_total(), 0);
	assert_int_equal(px.o.out.nev, 0);
}

static void
nf_input__forwards_outside_to_inside(void **state)
{
	struct tl_pkt p = pkt_a_to_b();
	uint8_t f[128], want[128];
	size_t len;

	(void)state;
	memcpy(p.dst_mac, mac_out, ETH_ALEN);
	memcpy(p.src_mac, mac_b, ETH_ALEN);
	p.src = HOST_B;
	p.dst = HOST_A;
	p.frag = 0;
	len = input_pkt(1, &p, f, sizeof(f));
	memcpy(p.dst_mac, mac_a, ETH_ALEN);
	memcpy(p.src_mac, mac_in, ETH_ALEN);
	p.ttl = 63;
	assert_int_equal(tl_build(want, sizeof(want), &p), len);
	assert_int_equal(px.o.out.ntx, 1);
	assert_int_equal(px.o.tx[0].ifidx, 0);
	assert_int_equal(px.o.tx[0].len, len);
	assert_memory_equal(px.o.tx[0].data, want, len);
	assert_int_equal(st()->forwarded, 1);
}

/* Checksum words 0x0000/0xffff are where RFC 1624 updates go wrong. */
static void
nf_input__ttl_patch_matches_recomputation_for_every_id(void **state)
{
	struct tl_pkt p = pkt_a_to_b();
	uint8_t f[128], hdr[IPV4_MIN_HLEN];

	(void)state;
	for (uint32_t id = 0; id < 0x10000; id += 7) {
		p.id = (uint16_t)id;
		reset();
		input_pkt(0, &p, f, sizeof(f));
		assert_int_equal(px.o.out.ntx, 1);
		memcpy(hdr, px.o.tx[0].data + ETH_HLEN, sizeof(hdr));
		assert_int_equal(hdr[8], 63);
		assert_true(tl_csum_ok(hdr, sizeof(hdr)));
		store_be16(hdr + 10, 0);
		assert_int_equal(load_be16(px.o.tx[0].data + ETH_HLEN + 10),
		    tl_csum(hdr, sizeof(hdr)));
	}
}

static void
nf_input__completes_partial_tcp_checksum(void **state)
{
	(void)state;
	add(0, tcp_partial_a_to_b, sizeof(tcp_partial_a_to_b), NF_F_CSUM_PARTIAL);
	run();
	assert_int_equal(px.o.out.ntx, 1);
	assert_int_equal(px.o.tx[0].len, sizeof(tcp_partial_a_to_b_fwd));
	assert_memory_equal(px.o.tx[0].data, tcp_partial_a_to_b_fwd,
	    sizeof(tcp_partial_a_to_b_fwd));
	assert_true(tl_l4_csum_ok(HOST_A, HOST_B, IPPROTO_TCP_,
	    px.o.tx[0].data + 34, sizeof(tcp_partial_a_to_b_fwd) - 34));
	assert_int_equal(st()->csum_completed, 1);
	assert_int_equal(st()->forwarded, 1);
	assert_int_equal(drops_total(), 0);
}

static void
nf_input__completes_partial_udp_checksum(void **state)
{
	struct tl_pkt p = pkt_a_to_b();
	uint8_t f[128];
	size_t len = tl_build(f, sizeof(f), &p);
	uint8_t *udp = f + 34;

	(void)state;
	/* What the sender leaves: the folded, uncomplemented pseudo-header sum. */
	store_be16(udp + 6, tl_pseudo(HOST_A, HOST_B, IPPROTO_UDP_, (uint16_t)(len - 34)));
	add(0, f, len, NF_F_CSUM_PARTIAL);
	run();
	assert_int_equal(px.o.out.ntx, 1);
	assert_memory_equal(px.o.tx[0].data, udp_a_to_b_fwd, sizeof(udp_a_to_b_fwd));
	assert_int_equal(st()->csum_completed, 1);
}

static void
nf_input__ethernet_padding_is_respected(void **state)
{
	uint8_t f[80];

	(void)state;
	input1(0, udp_short_padded, sizeof(udp_short_padded));
	assert_int_equal(px.o.out.ntx, 1);
	assert_int_equal(px.o.tx[0].len, 60);
	assert_memory_equal(px.o.tx[0].data, udp_short_padded_fwd, 60);
	assert_int_equal(load_be16(px.o.tx[0].data + ETH_HLEN + 2), 28);

	/* Trailing bytes past the datagram do not leave with it. */
	reset();
	memcpy(f, udp_a_to_b, sizeof(udp_a_to_b));
	memset(f + sizeof(udp_a_to_b), 0x5a, sizeof(f) - sizeof(udp_a_to_b));
	input1(0, f, sizeof(f));
	assert_int_equal(px.o.out.ntx, 1);
	assert_int_equal(px.o.tx[0].len, sizeof(udp_a_to_b_fwd));
	assert_memory_equal(px.o.tx[0].data, udp_a_to_b_fwd, sizeof(udp_a_to_b_fwd));
	assert_int_equal(st()->forwarded, 2);
	assert_int_equal(drops_total(), 0);
}

static void
nf_input__forwards_fragments_untouched(void **state)
{
	struct tl_pkt p = pkt_a_to_b();
	uint8_t f[128];
	size_t len;

	(void)state;
	p.frag = 0x0010;		/* a middle fragment: offset 128 bytes */
	len = input_pkt(0, &p, f, sizeof(f));
	assert_int_equal(px.o.out.ntx, 1);
	assert_int_equal(px.o.tx[0].len, len);
	assert_memory_equal(px.o.tx[0].data + 34, f + 34, len - 34);
	assert_int_equal(st()->forwarded, 1);
}

/* ---- ICMP errors ---- */

static void
nf_input__ttl_1_gets_time_exceeded(void **state)
{
	struct tl_pkt p = pkt_a_to_b();
	uint8_t f[128];
	size_t len;

	(void)state;
	p.ttl = 1;
	len = input_pkt(0, &p, f, sizeof(f));
	assert_int_equal(px.o.out.ntx, 1);
	check_icmp_error(&px.o.tx[0], 0, mac_a, mac_in, IN_ADDR, HOST_A,
	    ICMP_TIMXCEED, ICMP_TIMXCEED_INTRANS, 0, f + ETH_HLEN, len - ETH_HLEN);
	assert_only_drops(DROP_TTL_EXCEEDED, 1);
	assert_int_equal(st()->icmp_sent, 1);
	assert_int_equal(st()->forwarded, 0);

	/* TTL 0 is no better. */
	reset();
	p.ttl = 0;
	input_pkt(0, &p, f, sizeof(f));
	assert_int_equal(px.o.out.ntx, 1);
	assert_only_drops(DROP_TTL_EXCEEDED, 2);
}

static void
nf_input__no_route_gets_net_unreachable(void **state)
{
	struct tl_pkt p = pkt_a_to_b();
	uint8_t f[128];
	size_t len;

	(void)state;
	p.dst = IP4(8, 8, 8, 8);
	len = input_pkt(0, &p, f, sizeof(f));
	assert_int_equal(px.o.out.ntx, 1);
	check_icmp_error(&px.o.tx[0], 0, mac_a, mac_in, IN_ADDR, HOST_A,
	    ICMP_UNREACH, ICMP_UNREACH_NET, 0, f + ETH_HLEN, len - ETH_HLEN);
	assert_only_drops(DROP_NO_ROUTE, 1);
}

static void
nf_input__df_over_mtu_gets_frag_needed(void **state)
{
	static uint8_t payload[600], f[700];
	struct tl_pkt p = pkt_a_to_b();
	size_t len;

	(void)state;
	px.cfg.iface[1].mtu = 576;
	px_open();
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)i;
	p.payload = payload;
	p.plen = 600 - 28;		/* a 600-byte datagram */
	len = input_pkt(0, &p, f, sizeof(f));
	assert_int_equal(len, 614);
	assert_int_equal(px.o.out.ntx, 1);
	/* RFC 1191: next-hop MTU in bytes 6-7; RFC 1812: at most 576 bytes. */
	check_icmp_error(&px.o.tx[0], 0, mac_a, mac_in, IN_ADDR, HOST_A,
	    ICMP_UNREACH, ICMP_UNREACH_NEEDFRAG, 576, f + ETH_HLEN,
	    576 - IPV4_MIN_HLEN - ICMP_HLEN);
	assert_int_equal(load_be16(px.o.tx[0].data + 34 + 6), 576);
	assert_only_drops(DROP_TOO_BIG, 1);

	/* Without DF: dropped (no fragmentation here), and nothing said. */
	reset();
	p.frag = 0;
	input_pkt(0, &p, f, sizeof(f));
	assert_int_equal(px.o.out.ntx, 0);
	assert_only_drops(DROP_TOO_BIG, 2);
	assert_int_equal(st()->icmp_sent, 1);

	/* Exactly the MTU fits. */
	p.frag = IPV4_DF;
	p.plen = 576 - 28;
	input_pkt(0, &p, f, sizeof(f));
	assert_int_equal(px.o.out.ntx, 1);
	assert_int_equal(px.o.tx[0].ifidx, 1);
	assert_int_equal(st()->forwarded, 1);
	/* One byte more does not. */
	reset();
	p.plen = 576 - 28 + 1;
	input_pkt(0, &p, f, sizeof(f));
	assert_int_equal(px.o.out.ntx, 1);
	assert_int_equal(px.o.tx[0].ifidx, 0);
	assert_only_drops(DROP_TOO_BIG, 3);
}

static void
nf_input__no_icmp_error_about_icmp_error(void **state)
{
	struct tl_pkt p = pkt_a_to_b();
	uint8_t f[128], quote[28];

	(void)state;
	memset(quote, 0x45, sizeof(quote));
	p.proto = IPPROTO_ICMP_;
	p.ttl = 1;
	p.payload = quote;
	p.plen = sizeof(quote);
	p.icmp_type = ICMP_TIMXCEED;
	input_pkt(0, &p, f, sizeof(f));
	p.icmp_type = ICMP_UNREACH;
	p.icmp_code = ICMP_UNREACH_PORT;
	input_pkt(0, &p, f, sizeof(f));
	assert_int_equal(px.o.out.ntx, 0);
	assert_int_equal(st()->icmp_sent, 0);
	assert_only_drops(DROP_TTL_EXCEEDED, 2);

	/* An echo request is not an error: it gets one. */
	p.icmp_type = ICMP_ECHO;
	p.icmp_code = 0;
	input_pkt(0, &p, f, sizeof(f));
	assert_int_equal(px.o.out.ntx, 1);
	assert_int_equal(st()->icmp_sent, 1);
}

static void
nf_input__no_icmp_error_about_later_fragment(void **state)
{
	struct tl_pkt p = pkt_a_to_b();
	uint8_t f[128];

	(void)state;
	p.ttl = 1;
	p.frag = 0x0010;		/* offset 128: no transport header */
	input_pkt(0, &p, f, sizeof(f));
	p.frag = IPV4_MF | 0x0020;
	input_pkt(0, &p, f, sizeof(f));
	assert_int_equal(px.o.out.ntx, 0);
	assert_int_equal(st()->icmp_sent, 0);
	assert_only_drops(DROP_TTL_EXCEEDED, 2);

	/* The first fragment may be answered. */
	p.frag = IPV4_MF;
	input_pkt(0, &p, f, sizeof(f));
	assert_int_equal(px.o.out.ntx, 1);
}

static void
nf_input__icmp_errors_are_rate_limited(void **state)
{
	struct tl_pkt p = pkt_a_to_b();
	uint8_t f[128];
	size_t len;

	(void)state;
	px.cfg.icmp_rate = 1;
	px.cfg.icmp_burst = 3;
	px_open();
	p.ttl = 1;
	len = tl_build(f, sizeof(f), &p);
	for (int i = 0; i < 5; i++)
		add(0, f, len, 0);
	run();
	assert_int_equal(px.o.out.ntx, 3);
	assert_int_equal(st()->icmp_sent, 3);
	assert_int_equal(st()->icmp_ratelimited, 2);
	assert_only_drops(DROP_TTL_EXCEEDED, 5);

	/* One second buys one more at 1/s. */
	reset();
	px.now += TL_S;
	input1(0, f, len);
	assert_int_equal(px.o.out.ntx, 1);
	input1(0, f, len);
	assert_int_equal(px.o.out.ntx, 1);
	assert_int_equal(st()->icmp_sent, 4);
	assert_int_equal(st()->icmp_ratelimited, 3);
}

/* ---- local delivery ---- */

static void
nf_input__echo_reply_from_inside_address(void **state)
{
	const struct nf_frame *t;
	const uint8_t *ip;

	(void)state;
	input1(0, echo_a_to_in, sizeof(echo_a_to_in));
	assert_int_equal(px.o.out.ntx, 1);
	t = &px.o.tx[0];
	ip = t->data + ETH_HLEN;
	assert_int_equal(t->ifidx, 0);
	assert_memory_equal(t->data, mac_a, ETH_ALEN);
	assert_memory_equal(t->data + 6, mac_in, ETH_ALEN);
	assert_int_equal(load_be16(t->data + 12), ETHERTYPE_IPV4);
	assert_int_equal(ip[0], 0x45);
	assert_int_equal(load_be16(ip + 2), 44);
	assert_int_equal(ip[9], IPPROTO_ICMP_);
	assert_true(ip[8] > 1);
	assert_true(tl_csum_ok(ip, IPV4_MIN_HLEN));
	assert_int_equal(load_be32(ip + 12), IN_ADDR);
	assert_int_equal(load_be32(ip + 16), HOST_A);
	assert_memory_equal(ip + IPV4_MIN_HLEN, echo_reply_icmp, sizeof(echo_reply_icmp));
	assert_int_equal(st()->local, 1);
	assert_int_equal(st()->forwarded, 0);
	assert_int_equal(drops_total(), 0);
}

static void
nf_input__echo_reply_weak_host_model(void **state)
{
	static const struct {
		uint8_t		ifidx;
		uint32_t	host, to;
	} cases[] = {
		{ 0, HOST_A, IN_ADDR }, { 0, HOST_A, OUT_ADDR },
		{ 1, HOST_B, OUT_ADDR }, { 1, HOST_B, IN_ADDR },
	};
	static const uint8_t data[33] = "an odd-length payload of 33 bytes";
	uint8_t f[128];

	(void)state;
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const uint8_t *hmac = cases[i].ifidx ? mac_b : mac_a;
		const uint8_t *rmac = cases[i].ifidx ? mac_out : mac_in;
		struct tl_pkt p = {
			.proto = IPPROTO_ICMP_, .ttl = 64, .id = (uint16_t)(0x4000 + i),
			.src = cases[i].host, .dst = cases[i].to,
			.icmp_type = ICMP_ECHO, .icmp_rest = 0xbeef0000u + i,
			.payload = data, .plen = sizeof(data),
		};
		const struct nf_frame *t;
		const uint8_t *ip, *ic;

		memcpy(p.dst_mac, rmac, ETH_ALEN);
		memcpy(p.src_mac, hmac, ETH_ALEN);
		reset();
		input_pkt(cases[i].ifidx, &p, f, sizeof(f));
		assert_int_equal(px.o.out.ntx, 1);
		t = &px.o.tx[0];
		ip = t->data + ETH_HLEN;
		ic = ip + IPV4_MIN_HLEN;
		assert_int_equal(t->ifidx, cases[i].ifidx);
		assert_memory_equal(t->data, hmac, ETH_ALEN);
		assert_memory_equal(t->data + 6, rmac, ETH_ALEN);
		assert_true(tl_csum_ok(ip, IPV4_MIN_HLEN));
		assert_int_equal(load_be16(ip + 2), IPV4_MIN_HLEN + ICMP_HLEN + sizeof(data));
		assert_int_equal(load_be32(ip + 12), cases[i].to);
		assert_int_equal(load_be32(ip + 16), cases[i].host);
		assert_int_equal(ic[0], ICMP_ECHOREPLY);
		assert_int_equal(ic[1], 0);
		assert_int_equal(load_be32(ic + 4), 0xbeef0000u + i);
		assert_memory_equal(ic + ICMP_HLEN, data, sizeof(data));
		assert_true(tl_csum_ok(ic, ICMP_HLEN + sizeof(data)));
	}
	assert_int_equal(st()->local, 4);
	assert_int_equal(drops_total(), 0);
}

static void
nf_input__echo_with_bad_checksum_is_dropped(void **state)
{
	uint8_t f[sizeof(echo_a_to_in)];

	(void)state;
	memcpy(f, echo_a_to_in, sizeof(f));
	f[sizeof(f) - 1] ^= 0x01;	/* payload changed, checksum not */
	input1(0, f, sizeof(f));
	assert_int_equal(px.o.out.ntx, 0);
	assert_only_drops(DROP_L4_BAD_CSUM, 1);
}

static void
nf_input__udp_to_router_gets_port_unreachable(void **state)
{
	struct tl_pkt p = pkt_a_to_b();
	uint8_t f[128];
	size_t len;

	(void)state;
	p.dst = IN_ADDR;
	p.dport = 33434;		/* traceroute */
	p.ttl = 1;			/* reached us: TTL is not ours to check */
	len = input_pkt(0, &p, f, sizeof(f));
	assert_int_equal(px.o.out.ntx, 1);
	check_icmp_error(&px.o.tx[0], 0, mac_a, mac_in, IN_ADDR, HOST_A,
	    ICMP_UNREACH, ICMP_UNREACH_PORT, 0, f + ETH_HLEN, len - ETH_HLEN);
	assert_only_drops(DROP_LOCAL, 1);
	assert_int_equal(st()->local, 1);
}

static void
nf_input__fragment_to_router_is_local_drop(void **state)
{
	uint8_t f[128];
	struct tl_pkt p = {
		.proto = IPPROTO_ICMP_, .ttl = 64, .frag = IPV4_MF,
		.src = HOST_A, .dst = IN_ADDR, .icmp_type = ICMP_ECHO,
		.payload = payload24, .plen = sizeof(payload24),
	};

	(void)state;
	memcpy(p.dst_mac, mac_in, ETH_ALEN);
	memcpy(p.src_mac, mac_a, ETH_ALEN);
	input_pkt(0, &p, f, sizeof(f));
	assert_int_equal(px.o.out.ntx, 0);
	assert_only_drops(DROP_LOCAL, 1);
}

/* ---- martians and link-layer checks ---- */

static void
nf_input__martian_sources_are_dropped(void **state)
{
	static const uint32_t srcs[] = {
		IP4(127, 0, 0, 1), IP4(0, 0, 0, 0), IP4(224, 0, 0, 1),
		IP4(255, 255, 255, 255), IN_ADDR, OUT_ADDR,
		IP4(192, 168, 1, 255), IP4(203, 0, 113, 255),
	};
	struct tl_pkt p = pkt_a_to_b();
	uint8_t f[128];

	(void)state;
	for (unsigned i = 0; i < sizeof(srcs) / sizeof(srcs[0]); i++) {
		p.src = srcs[i];
		input_pkt(0, &p, f, sizeof(f));
		assert_int_equal(px.o.out.ntx, 0);
		assert_only_drops(DROP_MARTIAN_SRC, i + 1);
	}
	assert_int_equal(st()->icmp_sent, 0);
	assert_int_equal(st()->forwarded, 0);
}

/*
 * Issue 17 item 9, without NAT: strict reverse path (RFC 3704). A source
 * that routes back through another interface is a spoof; one no route knows
 * is let by (loose: a plain router need not have a default route).
 */
static void
nf_input__source_routed_elsewhere_is_spoofed(void **state)
{
	struct tl_pkt p = pkt_a_to_b();
	uint8_t f[128];

	(void)state;
	p.src = IP4(203, 0, 113, 77);		/* the outside subnet, from inside */
	input_pkt(0, &p, f, sizeof(f));
	assert_int_equal(px.o.out.ntx, 0);
	assert_only_drops(DROP_SPOOFED_SRC, 1);
	p = pkt_a_to_b();
	p.src = IP4(192, 168, 1, 77);		/* the inside subnet, from outside */
	p.dst = HOST_A;
	memcpy(p.dst_mac, mac_out, ETH_ALEN);
	memcpy(p.src_mac, mac_b, ETH_ALEN);
	input_pkt(1, &p, f, sizeof(f));
	assert_only_drops(DROP_SPOOFED_SRC, 2);
	assert_int_equal(nf_route_add(px.nf, IP4(10, 0, 0, 0), 8, IP4(192, 168, 1, 254)), 0);
	p = pkt_a_to_b();
	p.src = IP4(10, 1, 2, 3);		/* behind an inside gateway: fine */
	input_pkt(0, &p, f, sizeof(f));
	assert_int_equal(st()->forwarded, 1);
	p.src = IP4(198, 18, 0, 1);		/* unroutable: loose */
	input_pkt(0, &p, f, sizeof(f));
	assert_int_equal(st()->forwarded, 2);
	assert_only_drops(DROP_SPOOFED_SRC, 2);
}

static void
nf_input__martian_destinations_are_dropped(void **state)
{
	static const uint32_t dsts[] = {
		IP4(224, 0, 0, 5), IP4(239, 1, 2, 3), IP4(255, 255, 255, 255),
		IP4(203, 0, 113, 255), IP4(192, 168, 1, 255), IP4(240, 0, 0, 1),
		IP4(127, 0, 0, 1),
	};
	struct tl_pkt p = pkt_a_to_b();
	uint8_t f[128];
	unsigned n = 0;

	(void)state;
	for (unsigned i = 0; i < sizeof(dsts) / sizeof(dsts[0]); i++) {
		p.dst = dsts[i];
		input_pkt(0, &p, f, sizeof(f));
		assert_int_equal(px.o.out.ntx, 0);
		assert_only_drops(DROP_MARTIAN_DST, ++n);
	}
	/* Unicast IP inside an Ethernet broadcast (RFC 1812 5.3.4). */
	p = pkt_a_to_b();
	memcpy(p.dst_mac, mac_bcast, ETH_ALEN);
	input_pkt(0, &p, f, sizeof(f));
	assert_only_drops(DROP_MARTIAN_DST, ++n);
	/* ... or an Ethernet multicast. */
	p.dst_mac[0] = 0x01, p.dst_mac[1] = 0x00, p.dst_mac[2] = 0x5e;
	p.dst_mac[3] = 0x00, p.dst_mac[4] = 0x00, p.dst_mac[5] = 0x05;
	input_pkt(0, &p, f, sizeof(f));
	assert_only_drops(DROP_MARTIAN_DST, ++n);
	assert_int_equal(px.o.out.ntx, 0);
	assert_int_equal(st()->icmp_sent, 0);
}

static void
nf_input__link_layer_checks(void **state)
{
	static const uint8_t vlan[64] = {
		0x02, 0x00, 0x00, 0x00, 0x01, 0x01, 0x02, 0xaa, 0x00, 0x00, 0x00, 0x0a,
		0x81, 0x00, 0x00, 0x05, 0x08, 0x00, 0x45, 0x00,
	};
	static const uint8_t qinq[64] = {
		0x02, 0x00, 0x00, 0x00, 0x01, 0x01, 0x02, 0xaa, 0x00, 0x00, 0x00, 0x0a,
		0x88, 0xa8, 0x00, 0x05, 0x81, 0x00, 0x00, 0x06, 0x08, 0x00, 0x45, 0x00,
	};
	static const uint8_t ipv6[64] = {
		0x02, 0x00, 0x00, 0x00, 0x01, 0x01, 0x02, 0xaa, 0x00, 0x00, 0x00, 0x0a,
		0x86, 0xdd, 0x60, 0x00, 0x00, 0x00, 0x00, 0x08, 0x11, 0x40,
	};
	uint8_t f[sizeof(udp_a_to_b)];

	(void)state;
	memcpy(f, udp_a_to_b, sizeof(f));
	f[5] = 0x09;				/* some other router's MAC */
	input1(0, f, sizeof(f));
	assert_only_drops(DROP_NOT_FOR_US, 1);
	/* Our MAC on the other interface is not this interface's. */
	input1(1, udp_a_to_b, sizeof(udp_a_to_b));
	assert_only_drops(DROP_NOT_FOR_US, 2);
	input1(0, vlan, sizeof(vlan));
	input1(0, qinq, sizeof(qinq));
	assert_int_equal(st()->drop[DROP_VLAN], 2);
	input1(0, ipv6, sizeof(ipv6));
	assert_int_equal(st()->drop[DROP_ETHERTYPE], 1);
	assert_int_equal(drops_total(), 5);
	assert_int_equal(px.o.out.ntx, 0);
	assert_int_equal(st()->rx, 5);
}

static void
nf_input__bad_ip_headers_are_dropped(void **state)
{
	uint8_t f[sizeof(udp_a_to_b)];
	static uint8_t big[NF_FRAME_MAX + 1];

	(void)state;
	memcpy(f, udp_a_to_b, sizeof(f));
	f[ETH_HLEN + 10] ^= 0xff;			/* header checksum */
	input1(0, f, sizeof(f));
	assert_only_drops(DROP_BAD_CSUM, 1);
	memcpy(f, udp_a_to_b, sizeof(f));
	f[ETH_HLEN] = 0x65;				/* version 6 */
	input1(0, f, sizeof(f));
	assert_int_equal(st()->drop[DROP_BAD_VERSION], 1);
	memcpy(f, udp_a_to_b, sizeof(f));
	f[ETH_HLEN] = 0x44;				/* IHL 4 */
	input1(0, f, sizeof(f));
	assert_int_equal(st()->drop[DROP_BAD_HLEN], 1);
	memcpy(big, udp_a_to_b, sizeof(udp_a_to_b));
	input1(0, big, sizeof(big));
	assert_int_equal(st()->drop[DROP_OVERSIZE], 1);
	assert_int_equal(drops_total(), 4);
	assert_int_equal(px.o.out.ntx, 0);
}

/* ---- truncation ---- */

/* Feed every strict prefix of frame, each in a buffer of exactly its size. */
static void
feed_truncations(uint8_t ifidx, const uint8_t *frame, size_t len)
{
	for (size_t n = 0; n < len; n++) {
		uint8_t *b = malloc(n ? n : 1);
		struct nf_frame rx;

		assert_non_null(b);
		memcpy(b, frame, n);
		rx = (struct nf_frame){ b, (uint16_t)n, ifidx, 0 };
		nf_input(px.nf, &rx, 1, px.now, &px.o.out);
		free(b);
		assert_int_equal(px.o.out.ntx, 0);
	}
}

static void
nf_input__every_truncation_is_dropped_and_counted(void **state)
{
	(void)state;
	feed_truncations(0, udp_a_to_b, sizeof(udp_a_to_b));
	assert_int_equal(st()->rx, sizeof(udp_a_to_b));
	assert_int_equal(drops_total(), sizeof(udp_a_to_b));
	assert_int_equal(st()->forwarded, 0);

	/* The untruncated frame still goes through. */
	input1(0, udp_a_to_b, sizeof(udp_a_to_b));
	assert_int_equal(st()->forwarded, 1);
	assert_int_equal(drops_total(), sizeof(udp_a_to_b));
}

static void
nf_input__truncated_local_and_arp_frames_are_dropped(void **state)
{
	uint64_t n = sizeof(echo_a_to_in) + sizeof(arp_req_a_for_in);

	(void)state;
	feed_truncations(0, echo_a_to_in, sizeof(echo_a_to_in));
	feed_truncations(0, arp_req_a_for_in, sizeof(arp_req_a_for_in));
	assert_int_equal(st()->rx, n);
	assert_int_equal(drops_total(), n);
	assert_int_equal(arp_count(nf_arp(px.nf)), 2);	/* A and B only */
	assert_int_equal(px.o.out.nev, 0);
}

/* ---- ARP through the pipeline ---- */

static void
nf_input__answers_arp_request(void **state)
{
	(void)state;
	nf_free(px.nf);				/* a router that knows no one */
	px.nf = nf_new(&px.cfg);
	assert_non_null(px.nf);
	input1(0, arp_req_a_for_in, sizeof(arp_req_a_for_in));
	assert_int_equal(px.o.out.ntx, 1);
	assert_int_equal(px.o.tx[0].ifidx, 0);
	assert_int_equal(px.o.tx[0].len, sizeof(arp_reply_to_a));
	assert_memory_equal(px.o.tx[0].data, arp_reply_to_a, sizeof(arp_reply_to_a));
	assert_int_equal(px.o.out.nev, 1);
	assert_int_equal(px.o.ev[0].op, EV_ADD);
	assert_int_equal(px.o.ev[0].cause, EV_CAUSE_ARP_REQUEST);
	assert_int_equal(px.o.ev[0].arp.ip, HOST_A);
	assert_int_equal(st()->arp_in, 1);
	assert_int_equal(drops_total(), 0);
}

static void
nf_start__announces_every_interface(void **state)
{
	uint8_t want[60];
	static const uint8_t zero[ETH_ALEN];

	(void)state;
	nf_start(px.nf, px.now, &px.o.out);
	assert_int_equal(px.o.out.ntx, 2);
	for (uint8_t i = 0; i < 2; i++) {
		const uint8_t *mac = i ? mac_out : mac_in;
		uint32_t addr = i ? OUT_ADDR : IN_ADDR;

		tl_build_arp(want, mac_bcast, mac, ARP_OP_REQUEST, mac, addr, zero, addr);
		assert_int_equal(px.o.tx[i].ifidx, i);
		assert_int_equal(px.o.tx[i].len, 60);
		assert_memory_equal(px.o.tx[i].data, want, 60);
	}
}

static void
nf_input__held_frame_leaves_on_arp_reply(void **state)
{
	struct tl_pkt p = pkt_a_to_b();
	uint8_t f[128], want[128];
	size_t len;

	(void)state;
	p.dst = HOST_C;
	len = input_pkt(0, &p, f, sizeof(f));
	/* Held: neither sent nor counted, and C is asked for. */
	assert_int_equal(px.o.out.ntx, 1);
	assert_int_equal(px.o.tx[0].ifidx, 1);
	assert_memory_equal(px.o.tx[0].data, arp_req_for_c, sizeof(arp_req_for_c));
	assert_int_equal(drops_total(), 0);
	assert_int_equal(st()->forwarded, 0);
	assert_int_equal(nf_next_deadline(px.nf), px.now + TL_S);

	reset();
	px.now += 2 * TL_MS;
	input1(1, arp_reply_from_c, sizeof(arp_reply_from_c));
	memcpy(p.dst_mac, mac_c, ETH_ALEN);
	memcpy(p.src_mac, mac_out, ETH_ALEN);
	p.ttl = 63;
	assert_int_equal(tl_build(want, sizeof(want), &p), len);
	assert_int_equal(px.o.out.ntx, 1);
	assert_int_equal(px.o.tx[0].ifidx, 1);
	assert_int_equal(px.o.tx[0].len, len);
	assert_memory_equal(px.o.tx[0].data, want, len);
	assert_int_equal(px.o.out.nev, 1);
	assert_int_equal(px.o.ev[0].op, EV_ADD);
	assert_int_equal(px.o.ev[0].cause, EV_CAUSE_ARP_REPLY);
	assert_memory_equal(px.o.ev[0].arp.mac, mac_c, ETH_ALEN);
	assert_int_equal(st()->arp_in, 1);
	assert_int_equal(drops_total(), 0);
}

static void
nf_tick__unresolved_next_hop_gets_host_unreachable(void **state)
{
	struct tl_pkt p = pkt_a_to_b();
	uint8_t f[128], sent[128];
	const uint8_t *ic;
	size_t len;

	(void)state;
	p.dst = HOST_C;
	len = input_pkt(0, &p, f, sizeof(f));
	for (unsigned k = 1; k <= 2; k++) {
		reset();
		px.now = TL_T0 + k * TL_S;
		nf_tick(px.nf, px.now, &px.o.out);
		assert_int_equal(px.o.out.ntx, 1);		/* asked again */
		assert_memory_equal(px.o.tx[0].data, arp_req_for_c, 60);
		assert_int_equal(nf_next_deadline(px.nf), px.now + TL_S);
	}
	reset();
	px.now = TL_T0 + 3 * TL_S;
	nf_tick(px.nf, px.now, &px.o.out);
	assert_int_equal(px.o.out.ntx, 1);
	check_icmp_error(&px.o.tx[0], 0, mac_a, mac_in, IN_ADDR, HOST_A,
	    ICMP_UNREACH, ICMP_UNREACH_HOST, 0, NULL, len - ETH_HLEN);
	/* The quote is the datagram, as received or after its TTL went down. */
	ic = px.o.tx[0].data + 34;
	memcpy(sent, f + ETH_HLEN, len - ETH_HLEN);
	assert_memory_equal(ic + 8, sent, 8);
	assert_true(ic[8 + 8] == 64 || ic[8 + 8] == 63);
	assert_memory_equal(ic + 8 + 12, sent + 12, len - ETH_HLEN - 12);
	assert_true(tl_csum_ok(ic + 8, IPV4_MIN_HLEN));
	assert_only_drops(DROP_ARP_FAILED, 1);
	assert_int_equal(st()->icmp_sent, 1);
	assert_int_equal(px.o.out.nev, 0);
}

static void
nf_input__arp_queue_full_is_counted(void **state)
{
	struct tl_pkt p = pkt_a_to_b();
	uint8_t f[128];

	(void)state;
	px.cfg.arp.unres_qlen = 2;
	px_open();
	p.dst = HOST_C;
	for (int i = 0; i < 3; i++)
		input_pkt(0, &p, f, sizeof(f));
	assert_only_drops(DROP_ARP_QUEUE_FULL, 1);
	reset();
	input1(1, arp_reply_from_c, sizeof(arp_reply_from_c));
	assert_int_equal(px.o.out.ntx, 2);
}

/* ---- routes ---- */

static void
nf_route_add__checks_and_uses_gateway(void **state)
{
	struct tl_pkt p = pkt_a_to_b();
	uint8_t f[128];

	(void)state;
	assert_int_equal(nf_route_add(px.nf, IP4(10, 0, 0, 0), 8, IP4(10, 9, 9, 9)),
	    -ENETUNREACH);
	assert_int_equal(nf_route_add(px.nf, IP4(10, 1, 0, 0), 8, GW), -EINVAL);
	assert_int_equal(nf_route_add(px.nf, IP4(10, 0, 0, 0), 33, GW), -EINVAL);
	assert_int_equal(nf_route_add(px.nf, IP4(10, 0, 0, 0), 8, GW), 0);
	/* No recursion: a gateway reached through another gateway is refused. */
	assert_int_equal(nf_route_add(px.nf, IP4(172, 16, 0, 0), 12, IP4(10, 5, 5, 5)),
	    -ENETUNREACH);
	assert_int_equal(arp_add_static(nf_arp(px.nf), 1, GW, mac_gw, px.now,
	    &px.o.out), 0);
	reset();

	p.dst = IP4(10, 1, 2, 3);
	input_pkt(0, &p, f, sizeof(f));
	assert_int_equal(px.o.out.ntx, 1);
	assert_int_equal(px.o.tx[0].ifidx, 1);
	assert_memory_equal(px.o.tx[0].data, mac_gw, ETH_ALEN);
	assert_memory_equal(px.o.tx[0].data + 6, mac_out, ETH_ALEN);
	assert_int_equal(load_be32(px.o.tx[0].data + ETH_HLEN + 16), IP4(10, 1, 2, 3));

	/* Still no default route. */
	reset();
	p.dst = IP4(8, 8, 8, 8);
	input_pkt(0, &p, f, sizeof(f));
	assert_int_equal(st()->drop[DROP_NO_ROUTE], 1);

	/* With one, the same packet goes to the gateway. */
	assert_int_equal(nf_route_add(px.nf, 0, 0, GW), 0);
	reset();
	input_pkt(0, &p, f, sizeof(f));
	assert_int_equal(px.o.out.ntx, 1);
	assert_memory_equal(px.o.tx[0].data, mac_gw, ETH_ALEN);
	assert_int_equal(st()->forwarded, 2);
	/* Connected routes stay more specific than the default. */
	reset();
	p.dst = HOST_B;
	input_pkt(0, &p, f, sizeof(f));
	assert_memory_equal(px.o.tx[0].data, mac_b, ETH_ALEN);
}

static void
nf_new__rejects_bad_config(void **state)
{
	struct nf_config c;

	(void)state;
	config_two_ifaces(&c);
	c.n_iface = 0;
	assert_null(nf_new(&c));
	config_two_ifaces(&c);
	c.n_iface = NF_MAX_IFACES + 1;
	assert_null(nf_new(&c));
	config_two_ifaces(&c);
	c.iface[1].plen = 33;
	assert_null(nf_new(&c));
	nf_free(NULL);
	assert_int_equal(nf_n_iface(px.nf), 2);
	assert_int_equal(nf_iface(px.nf, 1)->mtu, 1500);
	assert_null(nf_iface(px.nf, 2));
}

/* ---- output limits ---- */

static void
nf_input__output_limits_are_counted_not_overrun(void **state)
{
	struct nf_frame *tx = malloc(sizeof(*tx));
	uint8_t *arena = malloc(64);
	struct nf_event *ev = malloc(sizeof(*ev));
	struct nf_out o = {
		.tx = tx, .tx_cap = 1, .arena = arena, .arena_cap = 64,
		.ev = ev, .ev_cap = 1,
	};
	struct tl_pkt p = pkt_a_to_b();
	uint8_t f[128];
	size_t len;

	(void)state;
	assert_non_null(tx);
	assert_non_null(arena);
	assert_non_null(ev);
	/* Three to forward, room for one. */
	for (int i = 0; i < 3; i++)
		add(0, udp_a_to_b, sizeof(udp_a_to_b), 0);
	nf_input(px.nf, px.rx, 3, px.now, &o);
	px.nrx = 0;
	assert_int_equal(o.ntx, 1);
	assert_int_equal(o.tx_lost, 2);
	assert_int_equal(st()->forwarded, 1);
	assert_int_equal(st()->drop[DROP_OUT_FULL], 2);

	/* ICMP errors need arena (94 bytes here): it has 64. */
	nf_out_reset(&o);
	p.ttl = 1;
	len = tl_build(f, sizeof(f), &p);
	for (int i = 0; i < 2; i++)
		add(0, f, len, 0);
	nf_input(px.nf, px.rx, 2, px.now, &o);
	px.nrx = 0;
	assert_int_equal(o.ntx, 0);
	assert_int_equal(o.tx_lost, 4);
	assert_true(o.arena_len <= o.arena_cap);

	/* ARP replies fit the arena, one at a time in tx; events one. */
	nf_out_reset(&o);
	{
		uint8_t r1[60], r2[60];
		static const uint8_t m1[ETH_ALEN] = { 0x02, 0xaa, 0, 0, 0, 0x21 };
		static const uint8_t m2[ETH_ALEN] = { 0x02, 0xaa, 0, 0, 0, 0x22 };
		static const uint8_t zero[ETH_ALEN];

		tl_build_arp(r1, mac_bcast, m1, ARP_OP_REQUEST, m1,
		    IP4(192, 168, 1, 21), zero, IN_ADDR);
		tl_build_arp(r2, mac_bcast, m2, ARP_OP_REQUEST, m2,
		    IP4(192, 168, 1, 22), zero, IN_ADDR);
		add(0, r1, sizeof(r1), 0);
		add(0, r2, sizeof(r2), 0);
		nf_input(px.nf, px.rx, 2, px.now, &o);
		px.nrx = 0;
	}
	assert_int_equal(o.ntx, 1);
	assert_int_equal(o.tx_lost, 5);
	assert_int_equal(o.nev, 1);
	assert_int_equal(o.ev_lost, 1);
	assert_true(o.arena_len <= o.arena_cap);
	free(tx);
	free(arena);
	free(ev);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(testlib__builder_matches_literal_frame),
		T(nf_input__forwards_udp_inside_to_outside),
		T(nf_input__forwards_outside_to_inside),
		T(nf_input__ttl_patch_matches_recomputation_for_every_id),
		T(nf_input__completes_partial_tcp_checksum),
		T(nf_input__completes_partial_udp_checksum),
		T(nf_input__ethernet_padding_is_respected),
		T(nf_input__forwards_fragments_untouched),
		T(nf_input__ttl_1_gets_time_exceeded),
		T(nf_input__no_route_gets_net_unreachable),
		T(nf_input__df_over_mtu_gets_frag_needed),
		T(nf_input__no_icmp_error_about_icmp_error),
		T(nf_input__no_icmp_error_about_later_fragment),
		T(nf_input__icmp_errors_are_rate_limited),
		T(nf_input__echo_reply_from_inside_address),
		T(nf_input__echo_reply_weak_host_model),
		T(nf_input__echo_with_bad_checksum_is_dropped),
		T(nf_input__udp_to_router_gets_port_unreachable),
		T(nf_input__fragment_to_router_is_local_drop),
		T(nf_input__martian_sources_are_dropped),
		T(nf_input__source_routed_elsewhere_is_spoofed),
		T(nf_input__martian_destinations_are_dropped),
		T(nf_input__link_layer_checks),
		T(nf_input__bad_ip_headers_are_dropped),
		T(nf_input__every_truncation_is_dropped_and_counted),
		T(nf_input__truncated_local_and_arp_frames_are_dropped),
		T(nf_input__answers_arp_request),
		T(nf_start__announces_every_interface),
		T(nf_input__held_frame_leaves_on_arp_reply),
		T(nf_tick__unresolved_next_hop_gets_host_unreachable),
		T(nf_input__arp_queue_full_is_counted),
		T(nf_route_add__checks_and_uses_gateway),
		T(nf_new__rejects_bad_config),
		T(nf_input__output_limits_are_counted_not_overrun),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

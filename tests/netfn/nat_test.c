/* SPDX-License-Identifier: ISC */
/*
 * Tests of NAT44 (netfn/nat.c) against the contract in netfn/nat.h, and of
 * its place in the pipeline (netfn/pipeline.c): literal datagrams in, exact
 * datagrams, drop reasons and events out, on a fake clock (nx.now, advanced
 * by hand; the NAT keeps no clock of its own).
 *
 * Addresses: inside hosts A 192.168.1.10, B .11, C .12, D .13; external
 * addresses EXT0 203.0.113.1 (the outside interface) and EXT1 203.0.113.2;
 * remotes R1 198.51.100.7, R2 .8, R3 .9 and a router RT .1 that sends ICMP
 * errors. Tables are small (256 sessions) so the suite is quick under ASan.
 *
 * Literal datagrams were generated once by a short independent script (RFC
 * 791/768/793/792 by hand, RFC 1071 sum) and checked by hand; every other
 * expected datagram comes from nt_build (nat_testlib.h), itself checked
 * against the literals. Checksums are never compared with netfn's csum code,
 * only with full recomputations.
 *
 * The differential test runs a naive reference model (arrays, linear search)
 * of mappings, sessions, filtering, TCP states, lazy expiry and events next
 * to the NAT under a few thousand random packets, clock steps and ticks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netfn/arp.h"
#include "netfn/event.h"
#include "netfn/nat.h"
#include "netfn/pipeline.h"
#include "tests/netfn/nat_testlib.h"
#include "tests/netfn/testlib.h"

#define HA	IP4(192, 168, 1, 10)
#define HB	IP4(192, 168, 1, 11)
#define HC	IP4(192, 168, 1, 12)
#define HD	IP4(192, 168, 1, 13)
#define EXT0	IP4(203, 0, 113, 1)
#define EXT1	IP4(203, 0, 113, 2)
#define R1	IP4(198, 51, 100, 7)
#define R2	IP4(198, 51, 100, 8)
#define R3	IP4(198, 51, 100, 9)
#define RT	IP4(198, 51, 100, 1)

#define UDP	IPPROTO_UDP_
#define TCP	IPPROTO_TCP_
#define ICMP	IPPROTO_ICMP_

/* A 192.168.1.10:12345 -> R1 198.51.100.7:53, TTL 64, DF, id 0x1c46 */
static const uint8_t udp_a_r1[44] = {
	0x45, 0x00, 0x00, 0x2c, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x11, 0x32, 0x8e,
	0xc0, 0xa8, 0x01, 0x0a, 0xc6, 0x33, 0x64, 0x07, 0x30, 0x39, 0x00, 0x35,
	0x00, 0x18, 0x60, 0x2d, 0x67, 0x69, 0x74, 0x6e, 0x65, 0x74, 0x2d, 0x6e,
	0x61, 0x74, 0x2d, 0x75, 0x64, 0x70, 0x21, 0x21,
};

/* The same after NAT: source 203.0.113.1:12345 (port preserved) */
static const uint8_t udp_a_r1_x[44] = {
	0x45, 0x00, 0x00, 0x2c, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x3e,
	0xcb, 0x00, 0x71, 0x01, 0xc6, 0x33, 0x64, 0x07, 0x30, 0x39, 0x00, 0x35,
	0x00, 0x18, 0xe5, 0xdd, 0x67, 0x69, 0x74, 0x6e, 0x65, 0x74, 0x2d, 0x6e,
	0x61, 0x74, 0x2d, 0x75, 0x64, 0x70, 0x21, 0x21,
};

/* R1:53 -> 203.0.113.1:12345, TTL 55, id 0x7777, "reply-from-r1..." */
static const uint8_t udp_r1_a[44] = {
	0x45, 0x00, 0x00, 0x2c, 0x77, 0x77, 0x00, 0x00, 0x37, 0x11, 0xa6, 0x0d,
	0xc6, 0x33, 0x64, 0x07, 0xcb, 0x00, 0x71, 0x01, 0x00, 0x35, 0x30, 0x39,
	0x00, 0x18, 0xaa, 0x65, 0x72, 0x65, 0x70, 0x6c, 0x79, 0x2d, 0x66, 0x72,
	0x6f, 0x6d, 0x2d, 0x72, 0x31, 0x2e, 0x2e, 0x2e,
};

/* The same after NAT: destination A:12345 */
static const uint8_t udp_r1_a_x[44] = {
	0x45, 0x00, 0x00, 0x2c, 0x77, 0x77, 0x00, 0x00, 0x37, 0x11, 0x20, 0x5d,
	0xc6, 0x33, 0x64, 0x07, 0xc0, 0xa8, 0x01, 0x0a, 0x00, 0x35, 0x30, 0x39,
	0x00, 0x18, 0x24, 0xb5, 0x72, 0x65, 0x70, 0x6c, 0x79, 0x2d, 0x66, 0x72,
	0x6f, 0x6d, 0x2d, 0x72, 0x31, 0x2e, 0x2e, 0x2e,
};

/* A:12346 -> R1:53 without a UDP checksum (0) */
static const uint8_t udp0_a_r1[44] = {
	0x45, 0x00, 0x00, 0x2c, 0x1c, 0x47, 0x00, 0x00, 0x40, 0x11, 0x72, 0x8d,
	0xc0, 0xa8, 0x01, 0x0a, 0xc6, 0x33, 0x64, 0x07, 0x30, 0x3a, 0x00, 0x35,
	0x00, 0x18, 0x00, 0x00, 0x67, 0x69, 0x74, 0x6e, 0x65, 0x74, 0x2d, 0x6e,
	0x61, 0x74, 0x2d, 0x75, 0x64, 0x70, 0x21, 0x21,
};

/* Translated: the UDP checksum stays 0 */
static const uint8_t udp0_a_r1_x[44] = {
	0x45, 0x00, 0x00, 0x2c, 0x1c, 0x47, 0x00, 0x00, 0x40, 0x11, 0xf8, 0x3d,
	0xcb, 0x00, 0x71, 0x01, 0xc6, 0x33, 0x64, 0x07, 0x30, 0x3a, 0x00, 0x35,
	0x00, 0x18, 0x00, 0x00, 0x67, 0x69, 0x74, 0x6e, 0x65, 0x74, 0x2d, 0x6e,
	0x61, 0x74, 0x2d, 0x75, 0x64, 0x70, 0x21, 0x21,
};

/* TCP SYN A:40000 -> R1:80, seq 0x01020304, win 0xfaf0 */
static const uint8_t tcp_syn_a_r1[40] = {
	0x45, 0x00, 0x00, 0x28, 0x22, 0x22, 0x40, 0x00, 0x40, 0x06, 0x2c, 0xc1,
	0xc0, 0xa8, 0x01, 0x0a, 0xc6, 0x33, 0x64, 0x07, 0x9c, 0x40, 0x00, 0x50,
	0x01, 0x02, 0x03, 0x04, 0x00, 0x00, 0x00, 0x00, 0x50, 0x02, 0xfa, 0xf0,
	0x28, 0x6e, 0x00, 0x00,
};

/* Translated: source 203.0.113.1:40000 */
static const uint8_t tcp_syn_a_r1_x[40] = {
	0x45, 0x00, 0x00, 0x28, 0x22, 0x22, 0x40, 0x00, 0x40, 0x06, 0xb2, 0x71,
	0xcb, 0x00, 0x71, 0x01, 0xc6, 0x33, 0x64, 0x07, 0x9c, 0x40, 0x00, 0x50,
	0x01, 0x02, 0x03, 0x04, 0x00, 0x00, 0x00, 0x00, 0x50, 0x02, 0xfa, 0xf0,
	0xae, 0x1e, 0x00, 0x00,
};

/* TCP SYN/ACK R1:80 -> 203.0.113.1:40000 */
static const uint8_t tcp_synack_r1_a[40] = {
	0x45, 0x00, 0x00, 0x28, 0x33, 0x33, 0x40, 0x00, 0x32, 0x06, 0xaf, 0x60,
	0xc6, 0x33, 0x64, 0x07, 0xcb, 0x00, 0x71, 0x01, 0x00, 0x50, 0x9c, 0x40,
	0xa0, 0xb0, 0xc0, 0xd0, 0x01, 0x02, 0x03, 0x05, 0x50, 0x12, 0x72, 0x10,
	0xd5, 0x6c, 0x00, 0x00,
};

/* Translated: destination A:40000 */
static const uint8_t tcp_synack_r1_a_x[40] = {
	0x45, 0x00, 0x00, 0x28, 0x33, 0x33, 0x40, 0x00, 0x32, 0x06, 0x29, 0xb0,
	0xc6, 0x33, 0x64, 0x07, 0xc0, 0xa8, 0x01, 0x0a, 0x00, 0x50, 0x9c, 0x40,
	0xa0, 0xb0, 0xc0, 0xd0, 0x01, 0x02, 0x03, 0x05, 0x50, 0x12, 0x72, 0x10,
	0x4f, 0xbc, 0x00, 0x00,
};

/* ICMP echo A -> R1, id 0x1234 seq 1 */
static const uint8_t echo_a_r1[44] = {
	0x45, 0x00, 0x00, 0x2c, 0x01, 0x01, 0x00, 0x00, 0x40, 0x01, 0x8d, 0xe3,
	0xc0, 0xa8, 0x01, 0x0a, 0xc6, 0x33, 0x64, 0x07, 0x08, 0x00, 0x46, 0xa9,
	0x12, 0x34, 0x00, 0x01, 0x70, 0x69, 0x6e, 0x67, 0x2d, 0x70, 0x61, 0x79,
	0x6c, 0x6f, 0x61, 0x64, 0x2d, 0x31, 0x36, 0x62,
};

/* Translated: source 203.0.113.1, id 0x1234 (free, kept) */
static const uint8_t echo_a_r1_x[44] = {
	0x45, 0x00, 0x00, 0x2c, 0x01, 0x01, 0x00, 0x00, 0x40, 0x01, 0x13, 0x94,
	0xcb, 0x00, 0x71, 0x01, 0xc6, 0x33, 0x64, 0x07, 0x08, 0x00, 0x46, 0xa9,
	0x12, 0x34, 0x00, 0x01, 0x70, 0x69, 0x6e, 0x67, 0x2d, 0x70, 0x61, 0x79,
	0x6c, 0x6f, 0x61, 0x64, 0x2d, 0x31, 0x36, 0x62,
};

/* Echo reply R1 -> 203.0.113.1, id 0x1234 */
static const uint8_t echo_r1_a[44] = {
	0x45, 0x00, 0x00, 0x2c, 0x44, 0x44, 0x00, 0x00, 0x39, 0x01, 0xd7, 0x50,
	0xc6, 0x33, 0x64, 0x07, 0xcb, 0x00, 0x71, 0x01, 0x00, 0x00, 0x4e, 0xa9,
	0x12, 0x34, 0x00, 0x01, 0x70, 0x69, 0x6e, 0x67, 0x2d, 0x70, 0x61, 0x79,
	0x6c, 0x6f, 0x61, 0x64, 0x2d, 0x31, 0x36, 0x62,
};

/* Translated: destination A */
static const uint8_t echo_r1_a_x[44] = {
	0x45, 0x00, 0x00, 0x2c, 0x44, 0x44, 0x00, 0x00, 0x39, 0x01, 0x51, 0xa0,
	0xc6, 0x33, 0x64, 0x07, 0xc0, 0xa8, 0x01, 0x0a, 0x00, 0x00, 0x4e, 0xa9,
	0x12, 0x34, 0x00, 0x01, 0x70, 0x69, 0x6e, 0x67, 0x2d, 0x70, 0x61, 0x79,
	0x6c, 0x6f, 0x61, 0x64, 0x2d, 0x31, 0x36, 0x62,
};

/* Port unreachable from 198.51.100.1 to 203.0.113.1 quoting udp_a_r1_x whole */
static const uint8_t err_rt_udp[72] = {
	0x45, 0x00, 0x00, 0x48, 0x55, 0x55, 0x00, 0x00, 0xfa, 0x01, 0x05, 0x29,
	0xc6, 0x33, 0x64, 0x01, 0xcb, 0x00, 0x71, 0x01, 0x03, 0x03, 0x63, 0x63,
	0x00, 0x00, 0x00, 0x00, 0x45, 0x00, 0x00, 0x2c, 0x1c, 0x46, 0x40, 0x00,
	0x40, 0x11, 0xb8, 0x3e, 0xcb, 0x00, 0x71, 0x01, 0xc6, 0x33, 0x64, 0x07,
	0x30, 0x39, 0x00, 0x35, 0x00, 0x18, 0xe5, 0xdd, 0x67, 0x69, 0x74, 0x6e,
	0x65, 0x74, 0x2d, 0x6e, 0x61, 0x74, 0x2d, 0x75, 0x64, 0x70, 0x21, 0x21,
};

/* Translated: outer destination A, quote is udp_a_r1 again */
static const uint8_t err_rt_udp_x[72] = {
	0x45, 0x00, 0x00, 0x48, 0x55, 0x55, 0x00, 0x00, 0xfa, 0x01, 0x7f, 0x78,
	0xc6, 0x33, 0x64, 0x01, 0xc0, 0xa8, 0x01, 0x0a, 0x03, 0x03, 0xe9, 0x13,
	0x00, 0x00, 0x00, 0x00, 0x45, 0x00, 0x00, 0x2c, 0x1c, 0x46, 0x40, 0x00,
	0x40, 0x11, 0x32, 0x8e, 0xc0, 0xa8, 0x01, 0x0a, 0xc6, 0x33, 0x64, 0x07,
	0x30, 0x39, 0x00, 0x35, 0x00, 0x18, 0x60, 0x2d, 0x67, 0x69, 0x74, 0x6e,
	0x65, 0x74, 0x2d, 0x6e, 0x61, 0x74, 0x2d, 0x75, 0x64, 0x70, 0x21, 0x21,
};

/* Frame: A:12345 -> R 203.0.113.20:53 on the inside */
static const uint8_t pl_udp_a_r[58] = {
	0x02, 0x00, 0x00, 0x00, 0x01, 0x01, 0x02, 0xaa, 0x00, 0x00, 0x00, 0x0a,
	0x08, 0x00, 0x45, 0x00, 0x00, 0x2c, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x11,
	0x20, 0xb4, 0xc0, 0xa8, 0x01, 0x0a, 0xcb, 0x00, 0x71, 0x14, 0x30, 0x39,
	0x00, 0x35, 0x00, 0x18, 0x4e, 0x53, 0x67, 0x69, 0x74, 0x6e, 0x65, 0x74,
	0x2d, 0x6e, 0x61, 0x74, 0x2d, 0x75, 0x64, 0x70, 0x21, 0x21,
};

/* Leaving the outside: 203.0.113.1:12345 -> R:53, TTL 63 */
static const uint8_t pl_udp_a_r_x[58] = {
	0x02, 0xbb, 0x00, 0x00, 0x00, 0x14, 0x02, 0x00, 0x00, 0x00, 0x02, 0x01,
	0x08, 0x00, 0x45, 0x00, 0x00, 0x2c, 0x1c, 0x46, 0x40, 0x00, 0x3f, 0x11,
	0xa7, 0x64, 0xcb, 0x00, 0x71, 0x01, 0xcb, 0x00, 0x71, 0x14, 0x30, 0x39,
	0x00, 0x35, 0x00, 0x18, 0xd4, 0x03, 0x67, 0x69, 0x74, 0x6e, 0x65, 0x74,
	0x2d, 0x6e, 0x61, 0x74, 0x2d, 0x75, 0x64, 0x70, 0x21, 0x21,
};

/* Frame: R:53 -> 203.0.113.1:12345 on the outside */
static const uint8_t pl_udp_r_a[58] = {
	0x02, 0x00, 0x00, 0x00, 0x02, 0x01, 0x02, 0xbb, 0x00, 0x00, 0x00, 0x14,
	0x08, 0x00, 0x45, 0x00, 0x00, 0x2c, 0x77, 0x77, 0x00, 0x00, 0x37, 0x11,
	0x94, 0x33, 0xcb, 0x00, 0x71, 0x14, 0xcb, 0x00, 0x71, 0x01, 0x00, 0x35,
	0x30, 0x39, 0x00, 0x18, 0x98, 0x8b, 0x72, 0x65, 0x70, 0x6c, 0x79, 0x2d,
	0x66, 0x72, 0x6f, 0x6d, 0x2d, 0x72, 0x31, 0x2e, 0x2e, 0x2e,
};

/* Leaving the inside: R:53 -> A:12345, TTL 54 */
static const uint8_t pl_udp_r_a_x[58] = {
	0x02, 0xaa, 0x00, 0x00, 0x00, 0x0a, 0x02, 0x00, 0x00, 0x00, 0x01, 0x01,
	0x08, 0x00, 0x45, 0x00, 0x00, 0x2c, 0x77, 0x77, 0x00, 0x00, 0x36, 0x11,
	0x0f, 0x83, 0xcb, 0x00, 0x71, 0x14, 0xc0, 0xa8, 0x01, 0x0a, 0x00, 0x35,
	0x30, 0x39, 0x00, 0x18, 0x12, 0xdb, 0x72, 0x65, 0x70, 0x6c, 0x79, 0x2d,
	0x66, 0x72, 0x6f, 0x6d, 0x2d, 0x72, 0x31, 0x2e, 0x2e, 0x2e,
};

static const uint8_t pay_u[16] = "gitnet-nat-udp!!";
static const uint8_t pay_r[16] = "reply-from-r1...";
static const uint8_t pay_p[16] = "ping-payload-16b";

/* ---- the parameters of the literal datagrams, for nt_build variants ---- */

static struct nt_pkt
pk_udp_a_r1(void)
{
	return (struct nt_pkt){ .proto = UDP, .ttl = 64, .id = 0x1c46, .frag = IPV4_DF,
	    .src = HA, .dst = R1, .sport = 12345, .dport = 53, .payload = pay_u,
	    .plen = sizeof(pay_u) };
}

static struct nt_pkt
pk_udp_r1_a(void)
{
	return (struct nt_pkt){ .proto = UDP, .ttl = 55, .id = 0x7777, .src = R1,
	    .dst = EXT0, .sport = 53, .dport = 12345, .payload = pay_r,
	    .plen = sizeof(pay_r) };
}

static struct nt_pkt
pk_tcp(uint32_t src, uint16_t sp, uint32_t dst, uint16_t dp, uint8_t flags)
{
	return (struct nt_pkt){ .proto = TCP, .ttl = 64, .id = 0x2222, .frag = IPV4_DF,
	    .src = src, .dst = dst, .sport = sp, .dport = dp, .seq = 0x01020304,
	    .tcp_flags = flags, .win = 0xfaf0 };
}

static struct nt_pkt
pk_echo(uint8_t type, uint32_t src, uint32_t dst, uint16_t ident)
{
	return (struct nt_pkt){ .proto = ICMP, .ttl = 64, .id = 0x0101, .src = src,
	    .dst = dst, .icmp_type = type, .icmp_rest = (uint32_t)ident << 16 | 1,
	    .payload = pay_p, .plen = sizeof(pay_p) };
}

/* An ICMP error from src to dst quoting q[0..qlen). */
static struct nt_pkt
pk_err(uint32_t src, uint32_t dst, uint8_t type, uint8_t code, const uint8_t *q,
    size_t qlen)
{
	return (struct nt_pkt){ .proto = ICMP, .ttl = 250, .id = 0x5555, .src = src,
	    .dst = dst, .icmp_type = type, .icmp_code = code, .payload = q,
	    .plen = qlen };
}

/* ---- a NAT on a fake clock ---- */

#define NX_SESS		256
#define T(s)		(TL_T0 + (uint64_t)(s) * TL_S)

static struct {
	struct nat_params p;
	struct nat	*nat;
	struct tl_out	o;
	uint64_t	now;
	uint32_t	ext[NAT_MAX_EXT];
	unsigned	n_ext;
	uint32_t	last_xip;	/* address of the last translation */
} nx;

/* (Re)create the NAT from nx.p and nx.ext; clock back at TL_T0. */
static void
nx_open(void)
{
	nat_free(nx.nat);
	nx.nat = nat_new(&nx.p, nx.ext, nx.n_ext, 42);
	assert_non_null(nx.nat);
	tl_out_init(&nx.o);
	nx.now = TL_T0;
}

static int
setup(void **state)
{
	(void)state;
	nx.nat = NULL;
	nat_params_default(&nx.p);
	nx.p.max_sessions = NX_SESS;
	nx.ext[0] = EXT0;
	nx.ext[1] = EXT1;
	nx.n_ext = 1;
	nx_open();
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	nat_free(nx.nat);
	nx.nat = NULL;
	return 0;
}

static void
ev_reset(void)
{
	nf_out_reset(&nx.o.out);
}

/* Translate the datagram at ip (out: inside -> outside); h must follow. */
static enum drop
xl(bool out, uint8_t *ip)
{
	struct ipv4 h;
	enum drop why;

	assert_int_equal(pkt_parse_ipv4(&h, ip, load_be16(ip + 2)), DROP_NONE);
	why = out ? nat_in2out(nx.nat, ip, &h, nx.now, &nx.o.out) :
	    nat_out2in(nx.nat, ip, &h, nx.now, &nx.o.out);
	if (why == DROP_NONE) {
		assert_int_equal(h.src, load_be32(ip + 12));
		assert_int_equal(h.dst, load_be32(ip + 16));
	}
	return why;
}

/* Translate literal bytes and compare with the literal result. */
static void
xl_literal(bool out, const uint8_t *in, const uint8_t *want, size_t len)
{
	uint8_t d[256];

	memcpy(d, in, len);
	assert_int_equal(xl(out, d), DROP_NONE);
	assert_memory_equal(d, want, len);
	assert_true(nt_csums_ok(d, len));
}

/*
 * Translate p outbound. When it passes, the result must be exactly p with
 * the source address and port (ICMP: echo identifier) replaced by the
 * external ones it now carries, every checksum recomputed in full; those
 * are returned in *xip, *xport (either may be NULL).
 */
static enum drop
out_p(const struct nt_pkt *p, uint32_t *xip, uint16_t *xport)
{
	uint8_t d[256], want[256];
	struct nt_pkt q = *p;
	size_t len = nt_build(d, sizeof(d), p);
	enum drop why;
	uint16_t port;

	assert_int_not_equal(len, 0);
	if ((why = xl(true, d)) != DROP_NONE)
		return why;
	q.src = load_be32(d + 12);
	if (p->proto == ICMP) {
		port = load_be16(d + IPV4_MIN_HLEN + 4);
		q.icmp_rest = (uint32_t)port << 16 | (p->icmp_rest & 0xffff);
	} else {
		port = q.sport = load_be16(d + IPV4_MIN_HLEN);
	}
	assert_int_equal(nt_build(want, sizeof(want), &q), len);
	assert_memory_equal(d, want, len);
	nx.last_xip = q.src;
	if (xip != NULL)
		*xip = q.src;
	if (xport != NULL)
		*xport = port;
	return DROP_NONE;
}

/* The same inbound: destination address and port are replaced. */
static enum drop
in_p(const struct nt_pkt *p, uint32_t *ip, uint16_t *port)
{
	uint8_t d[256], want[256];
	struct nt_pkt q = *p;
	size_t len = nt_build(d, sizeof(d), p);
	enum drop why;
	uint16_t pt;

	assert_int_not_equal(len, 0);
	if ((why = xl(false, d)) != DROP_NONE)
		return why;
	q.dst = load_be32(d + 16);
	if (p->proto == ICMP) {
		pt = load_be16(d + IPV4_MIN_HLEN + 4);
		q.icmp_rest = (uint32_t)pt << 16 | (p->icmp_rest & 0xffff);
	} else {
		pt = q.dport = load_be16(d + IPV4_MIN_HLEN + 2);
	}
	assert_int_equal(nt_build(want, sizeof(want), &q), len);
	assert_memory_equal(d, want, len);
	if (ip != NULL)
		*ip = q.dst;
	if (port != NULL)
		*port = pt;
	return DROP_NONE;
}

/* A packet of proto from inside ip:port to rip:rport (ICMP: echo, id port). */
static struct nt_pkt
pk_out(uint8_t proto, uint32_t ip, uint16_t port, uint32_t rip, uint16_t rport,
    uint8_t tcpfl)
{
	struct nt_pkt p;

	if (proto == ICMP)
		return pk_echo(ICMP_ECHO, ip, rip, port);
	if (proto == TCP)
		return pk_tcp(ip, port, rip, rport, tcpfl);
	p = pk_udp_a_r1();
	p.src = ip;
	p.sport = port;
	p.dst = rip;
	p.dport = rport;
	return p;
}

/* A packet of proto from rip:rport to the external xip:xport (ICMP: reply). */
static struct nt_pkt
pk_in(uint8_t proto, uint32_t rip, uint16_t rport, uint32_t xip, uint16_t xport,
    uint8_t tcpfl)
{
	struct nt_pkt p;

	if (proto == ICMP)
		return pk_echo(ICMP_ECHOREPLY, rip, xip, xport);
	if (proto == TCP)
		return pk_tcp(rip, rport, xip, xport, tcpfl);
	p = pk_udp_r1_a();
	p.src = rip;
	p.sport = rport;
	p.dst = xip;
	p.dport = xport;
	return p;
}

static enum drop
out4(uint8_t proto, uint32_t ip, uint16_t port, uint32_t rip, uint16_t rport,
    uint8_t tcpfl, uint16_t *xport)
{
	struct nt_pkt p = pk_out(proto, ip, port, rip, rport, tcpfl);

	return out_p(&p, NULL, xport);
}

/* Outbound that must pass; returns the external port (address in last_xip). */
static uint16_t
out_ok(uint8_t proto, uint32_t ip, uint16_t port, uint32_t rip, uint16_t rport,
    uint8_t tcpfl)
{
	uint16_t xport = 0;

	assert_int_equal(out4(proto, ip, port, rip, rport, tcpfl, &xport), DROP_NONE);
	return xport;
}

static enum drop
in4(uint8_t proto, uint32_t rip, uint16_t rport, uint32_t xip, uint16_t xport,
    uint8_t tcpfl, uint32_t *ip, uint16_t *port)
{
	struct nt_pkt p = pk_in(proto, rip, rport, xip, xport, tcpfl);

	return in_p(&p, ip, port);
}

/* Event i is a NAT event op/cause at the current time. */
static const struct ev_nat *
ev_get(unsigned i, enum ev_op op, enum ev_cause cause)
{
	const struct nf_event *e;

	assert_true(i < nx.o.out.nev);
	e = &nx.o.ev[i];
	assert_int_equal(e->table, EV_TABLE_NAT);
	if (e->op != op || e->cause != cause)
		print_error("event %u: %s/%s, want %s/%s\n", i, ev_op_name(e->op),
		    ev_cause_name(e->cause), ev_op_name(op), ev_cause_name(cause));
	assert_int_equal(e->op, op);
	assert_int_equal(e->cause, cause);
	assert_int_equal(e->now_us, nx.now);
	return &e->nat;
}

static void
ev_key(const struct ev_nat *e, uint8_t proto, uint32_t ip, uint16_t port,
    uint32_t xip, uint16_t xport, uint32_t rip, uint16_t rport)
{
	assert_int_equal(e->proto, proto);
	assert_int_equal(e->int_ip, ip);
	assert_int_equal(e->int_port, port);
	assert_int_equal(e->ext_ip, xip);
	assert_int_equal(e->ext_port, xport);
	assert_int_equal(e->rem_ip, rip);
	assert_int_equal(e->rem_port, rport);
}

static unsigned
ev_count(enum ev_op op)
{
	unsigned n = 0;

	for (unsigned i = 0; i < nx.o.out.nev; i++)
		n += nx.o.ev[i].op == op;
	return n;
}

/* Every session, through nat_dump's cursor; at most max. */
static size_t
dump_all(struct nat *nat, struct nat_session *s, size_t max)
{
	uint32_t cur = 0;
	size_t n = 0;

	for (int guard = 0; guard < 100000; guard++) {
		n += nat_dump(nat, s + n, max - n, &cur);
		if (cur == 0 || n == max)
			break;
	}
	return n;
}

static struct nat_session dumped[1024];

/* The session (proto, ip:port, rip:rport) from the dump, or false. */
static bool
find_sess(struct nat_session *out, uint8_t proto, uint32_t ip, uint16_t port,
    uint32_t rip, uint16_t rport)
{
	size_t n = dump_all(nx.nat, dumped, 1024);

	for (size_t i = 0; i < n; i++) {
		const struct nat_session *s = &dumped[i];

		if (s->proto == proto && s->int_ip == ip && s->int_port == port &&
		    s->rem_ip == rip && s->rem_port == rport) {
			if (out != NULL)
				*out = *s;
			return true;
		}
	}
	return false;
}

static struct nat_session
get_sess(uint8_t proto, uint32_t ip, uint16_t port, uint32_t rip, uint16_t rport)
{
	struct nat_session s;

	assert_true(find_sess(&s, proto, ip, port, rip, rport));
	return s;
}

/* ---- the builder the expectations rely on ---- */

static void
nat_testlib__builder_matches_literals(void **state)
{
	struct nt_pkt p;
	uint8_t d[256];

	(void)state;
	p = pk_udp_a_r1();
	assert_int_equal(nt_build(d, sizeof(d), &p), sizeof(udp_a_r1));
	assert_memory_equal(d, udp_a_r1, sizeof(udp_a_r1));
	p = pk_udp_r1_a();
	assert_int_equal(nt_build(d, sizeof(d), &p), sizeof(udp_r1_a));
	assert_memory_equal(d, udp_r1_a, sizeof(udp_r1_a));
	p = pk_udp_a_r1();
	p.sport = 12346;
	p.id = 0x1c47;
	p.frag = 0;
	p.udp_nocsum = true;
	assert_int_equal(nt_build(d, sizeof(d), &p), sizeof(udp0_a_r1));
	assert_memory_equal(d, udp0_a_r1, sizeof(udp0_a_r1));
	p = pk_tcp(HA, 40000, R1, 80, TCP_SYN);
	assert_int_equal(nt_build(d, sizeof(d), &p), sizeof(tcp_syn_a_r1));
	assert_memory_equal(d, tcp_syn_a_r1, sizeof(tcp_syn_a_r1));
	p = pk_tcp(R1, 80, EXT0, 40000, TCP_SYN | TCP_ACK);
	p.seq = 0xa0b0c0d0;
	p.ack = 0x01020305;
	p.win = 0x7210;
	p.id = 0x3333;
	p.ttl = 50;
	assert_int_equal(nt_build(d, sizeof(d), &p), sizeof(tcp_synack_r1_a));
	assert_memory_equal(d, tcp_synack_r1_a, sizeof(tcp_synack_r1_a));
	p = pk_echo(ICMP_ECHO, HA, R1, 0x1234);
	assert_int_equal(nt_build(d, sizeof(d), &p), sizeof(echo_a_r1));
	assert_memory_equal(d, echo_a_r1, sizeof(echo_a_r1));
	p = pk_err(RT, EXT0, ICMP_UNREACH, ICMP_UNREACH_PORT, udp_a_r1_x,
	    sizeof(udp_a_r1_x));
	assert_int_equal(nt_build(d, sizeof(d), &p), sizeof(err_rt_udp));
	assert_memory_equal(d, err_rt_udp, sizeof(err_rt_udp));
	/* The checker accepts the literals and catches a flipped bit. */
	assert_true(nt_csums_ok(err_rt_udp_x, sizeof(err_rt_udp_x)));
	assert_true(nt_csums_ok(echo_r1_a_x, sizeof(echo_r1_a_x)));
	assert_true(nt_csums_ok(udp0_a_r1_x, sizeof(udp0_a_r1_x)));
	memcpy(d, err_rt_udp_x, sizeof(err_rt_udp_x));
	d[sizeof(err_rt_udp_x) - 1] ^= 1;
	store_be16(d + 22, 0);
	store_be16(d + 22, tl_csum(d + 20, sizeof(err_rt_udp_x) - 20));
	assert_false(nt_csums_ok(d, sizeof(err_rt_udp_x)));	/* inner UDP */
}

/* ---- translation of every kind of packet ---- */

static void
nat_in2out__udp_source_becomes_external_endpoint(void **state)
{
	const struct ev_nat *e;

	(void)state;
	xl_literal(true, udp_a_r1, udp_a_r1_x, sizeof(udp_a_r1));
	assert_int_equal(nx.o.out.nev, 1);
	e = ev_get(0, EV_ADD, EV_CAUSE_NAT_OUTBOUND);
	ev_key(e, UDP, HA, 12345, EXT0, 12345, R1, 53);
	assert_int_equal(e->mapping_new, 1);
	assert_int_equal(e->mapping_gone, 0);
	assert_int_equal(e->state, 0);
	assert_int_equal(e->flags, 0);
	assert_int_equal(e->created_us, T(0));
	assert_int_equal(e->expires_us, T(300));
	assert_int_equal(nat_count(nx.nat), 1);
	assert_int_equal(nat_stats(nx.nat)->in2out, 1);
	assert_int_equal(nat_stats(nx.nat)->ports_preserved, 1);
	assert_int_equal(nat_stats(nx.nat)->mappings_created, 1);
	assert_int_equal(nat_stats(nx.nat)->sessions_created, 1);
	assert_true(nat_is_external(nx.nat, EXT0));
	assert_false(nat_is_external(nx.nat, EXT1));
	assert_false(nat_is_external(nx.nat, HA));
}

static void
nat_out2in__udp_reply_reaches_inside_endpoint(void **state)
{
	struct nat_session s;

	(void)state;
	xl_literal(true, udp_a_r1, udp_a_r1_x, sizeof(udp_a_r1));
	ev_reset();
	nx.now = T(2);
	xl_literal(false, udp_r1_a, udp_r1_a_x, sizeof(udp_r1_a));
	/* nat.h: the first reply is an event (NAT_REPLY), later ones are not */
	assert_int_equal(nx.o.out.nev, 1);
	ev_get(0, EV_UPDATE, EV_CAUSE_NAT_REPLY);
	ev_reset();
	nx.now = T(3);
	xl_literal(false, udp_r1_a, udp_r1_a_x, sizeof(udp_r1_a));
	assert_int_equal(nx.o.out.nev, 0);	/* no event per packet */
	s = get_sess(UDP, HA, 12345, R1, 53);
	assert_int_equal(s.ext_ip, EXT0);
	assert_int_equal(s.ext_port, 12345);
	assert_int_equal(s.flags, NAT_SF_REPLIED);
	assert_int_equal(s.created_us, T(0));
	assert_int_equal(s.expires_us, T(303));		/* the second reply, at T(3) */
	assert_int_equal(nat_stats(nx.nat)->out2in, 2);
	assert_int_equal(nat_count(nx.nat), 1);
}

static void
nat_in2out__udp_zero_checksum_stays_zero(void **state)
{
	struct nt_pkt p = pk_udp_r1_a();
	uint8_t d[64];

	(void)state;
	xl_literal(true, udp0_a_r1, udp0_a_r1_x, sizeof(udp0_a_r1));
	assert_int_equal(load_be16(udp0_a_r1_x + 26), 0);
	p.dport = 12346;
	p.udp_nocsum = true;
	nt_build(d, sizeof(d), &p);
	assert_int_equal(xl(false, d), DROP_NONE);
	assert_int_equal(load_be32(d + 16), HA);
	assert_int_equal(load_be16(d + 22), 12346);
	assert_int_equal(load_be16(d + 26), 0);
	assert_true(tl_csum_ok(d, IPV4_MIN_HLEN));
	assert_int_equal(in4(UDP, R1, 53, EXT0, 12346, 0, NULL, NULL), DROP_NONE);
}

static void
nat_in2out__tcp_syn_and_synack_translate_exactly(void **state)
{
	const struct ev_nat *e;

	(void)state;
	xl_literal(true, tcp_syn_a_r1, tcp_syn_a_r1_x, sizeof(tcp_syn_a_r1));
	e = ev_get(0, EV_ADD, EV_CAUSE_NAT_OUTBOUND);
	ev_key(e, TCP, HA, 40000, EXT0, 40000, R1, 80);
	assert_int_equal(e->state, NAT_TCP_SYN_OUT);
	assert_int_equal(e->expires_us, T(240));
	ev_reset();
	nx.now = T(1);
	xl_literal(false, tcp_synack_r1_a, tcp_synack_r1_a_x, sizeof(tcp_synack_r1_a));
	assert_int_equal(nx.o.out.nev, 1);
	e = ev_get(0, EV_UPDATE, EV_CAUSE_NAT_TCP);
	ev_key(e, TCP, HA, 40000, EXT0, 40000, R1, 80);
	assert_int_equal(e->state, NAT_TCP_ESTABLISHED);
	assert_int_equal(e->expires_us, T(1 + 7440));
	assert_int_equal(e->created_us, T(0));
}

static void
nat_in2out__icmp_echo_identifier_is_translated(void **state)
{
	struct nt_pkt p = pk_echo(ICMP_ECHO, HB, R1, 0x1234);
	const struct ev_nat *e;
	uint32_t ip;
	uint16_t xid, id;

	(void)state;
	xl_literal(true, echo_a_r1, echo_a_r1_x, sizeof(echo_a_r1));
	e = ev_get(0, EV_ADD, EV_CAUSE_NAT_OUTBOUND);
	ev_key(e, ICMP, HA, 0x1234, EXT0, 0x1234, R1, 0);
	assert_int_equal(e->expires_us, T(60));
	xl_literal(false, echo_r1_a, echo_r1_a_x, sizeof(echo_r1_a));
	/* B uses the same identifier: it must get another one, and back. */
	assert_int_equal(out_p(&p, NULL, &xid), DROP_NONE);
	assert_int_not_equal(xid, 0x1234);
	assert_int_not_equal(xid, 0);
	assert_int_equal(in4(ICMP, R1, 0, EXT0, xid, 0, &ip, &id), DROP_NONE);
	assert_int_equal(ip, HB);
	assert_int_equal(id, 0x1234);
	xl_literal(false, echo_r1_a, echo_r1_a_x, sizeof(echo_r1_a));
	assert_int_equal(nat_count(nx.nat), 2);
}

static void
nat_out2in__icmp_error_about_udp_translates_quote(void **state)
{
	(void)state;
	xl_literal(true, udp_a_r1, udp_a_r1_x, sizeof(udp_a_r1));
	xl_literal(false, err_rt_udp, err_rt_udp_x, sizeof(err_rt_udp));
	assert_int_equal(nat_stats(nx.nat)->icmp_errors_translated, 1);
	assert_int_equal(nat_count(nx.nat), 1);
}

/*
 * Send orig out (its port taken already, so it is changed), then an ICMP
 * error from RT quoting the first qlen bytes of what left; the error must
 * come in as one quoting the first qlen bytes of orig, to orig's source.
 */
static void
check_error_back(const struct nt_pkt *orig, uint8_t type, uint8_t code, size_t qlen,
    bool port_changes)
{
	uint8_t o[128], t[128], e[256], want[256];
	struct nt_pkt pe;
	size_t len = nt_build(o, sizeof(o), orig), elen;

	assert_true(qlen <= len);
	memcpy(t, o, len);
	assert_int_equal(xl(true, t), DROP_NONE);
	assert_int_equal(load_be32(t + 12), EXT0);
	if (port_changes)
		assert_memory_not_equal(t + 20, o + 20, orig->proto == ICMP ? 6 : 2);
	pe = pk_err(RT, EXT0, type, code, t, qlen);
	elen = nt_build(e, sizeof(e), &pe);
	assert_int_equal(xl(false, e), DROP_NONE);
	pe = pk_err(RT, orig->src, type, code, o, qlen);
	assert_int_equal(nt_build(want, sizeof(want), &pe), elen);
	assert_memory_equal(e, want, elen);
	assert_true(nt_csums_ok(e, elen));
}

static void
nat_out2in__icmp_error_restores_quoted_port_and_checksums(void **state)
{
	struct nt_pkt p;

	(void)state;
	/* A holds the ports, so B's are translated. */
	out_ok(UDP, HA, 12345, R2, 1, 0);
	out_ok(TCP, HA, 40000, R2, 1, TCP_SYN);
	out_ok(ICMP, HA, 0x1234, R2, 0, 0);
	p = pk_out(UDP, HB, 12345, R1, 53, 0);
	check_error_back(&p, ICMP_UNREACH, ICMP_UNREACH_PORT, 44, true);	/* whole */
	p.sport = 12347;
	check_error_back(&p, ICMP_UNREACH, ICMP_UNREACH_PORT, 28, false);	/* 8 bytes */
	p = pk_out(TCP, HB, 40000, R1, 80, TCP_SYN);
	check_error_back(&p, ICMP_UNREACH, ICMP_UNREACH_ADMIN, 28, true);
	check_error_back(&p, ICMP_UNREACH, ICMP_UNREACH_ADMIN, 40, true);	/* csum */
	p = pk_out(ICMP, HB, 0x1234, R1, 0, 0);
	check_error_back(&p, ICMP_TIMXCEED, ICMP_TIMXCEED_INTRANS, 44, true);
	p = pk_out(ICMP, HB, 0x5678, R1, 0, 0);
	check_error_back(&p, ICMP_UNREACH, ICMP_UNREACH_HOST, 28, false);
	assert_int_equal(nat_stats(nx.nat)->icmp_errors_translated, 6);
}

/*
 * An inside host answers what came in (r, as it arrived after NAT; o, as
 * it was sent) with an ICMP error: it must leave from the external address
 * quoting o.
 */
static void
check_error_out(const uint8_t *o, const uint8_t *r, size_t len, uint32_t host)
{
	uint8_t e[256], want[256];
	struct nt_pkt pe = pk_err(host, load_be32(o + 12), ICMP_UNREACH,
	    ICMP_UNREACH_PORT, r, len);
	size_t elen = nt_build(e, sizeof(e), &pe);

	assert_int_equal(xl(true, e), DROP_NONE);
	pe = pk_err(EXT0, load_be32(o + 12), ICMP_UNREACH, ICMP_UNREACH_PORT, o, len);
	assert_int_equal(nt_build(want, sizeof(want), &pe), elen);
	assert_memory_equal(e, want, elen);
	assert_true(nt_csums_ok(e, elen));
}

static void
nat_in2out__icmp_error_from_inside_about_inbound_flow(void **state)
{
	uint8_t o[128], r[128];
	struct nt_pkt p = pk_in(UDP, R1, 4444, EXT0, 8053, 0);
	size_t len;

	(void)state;
	/* A forwarded port: UDP 8053 -> B:53, B has nothing listening. */
	assert_int_equal(nat_forward_add(nx.nat, UDP, 8053, HB, 53, nx.now,
	    &nx.o.out), 0);
	len = nt_build(o, sizeof(o), &p);
	memcpy(r, o, len);
	assert_int_equal(xl(false, r), DROP_NONE);
	assert_int_equal(load_be32(r + 16), HB);
	assert_int_equal(load_be16(r + 22), 53);
	check_error_out(o, r, len, HB);
	/* A reply to a dynamic mapping, refused by A. */
	out_ok(UDP, HA, 12345, R1, 53, 0);
	len = sizeof(udp_r1_a);
	memcpy(r, udp_r1_a, len);
	assert_int_equal(xl(false, r), DROP_NONE);
	check_error_out(udp_r1_a, r, len, HA);
	assert_int_equal(nat_stats(nx.nat)->icmp_errors_translated, 2);
}

static void
nat_icmp_error__about_no_session_is_dropped(void **state)
{
	struct nt_pkt q, pe;
	uint8_t qb[64], e[128];

	(void)state;
	out_ok(UDP, HA, 12345, R1, 53, 0);
	ev_reset();
	/* From outside: a port with no mapping, a remote with no session, the
	 * wrong protocol. */
	q = pk_out(UDP, EXT0, 999, R1, 53, 0);
	nt_build(qb, sizeof(qb), &q);
	pe = pk_err(RT, EXT0, ICMP_UNREACH, ICMP_UNREACH_PORT, qb, 28);
	nt_build(e, sizeof(e), &pe);
	assert_int_equal(xl(false, e), DROP_NAT_ICMP_NO_SESSION);
	q = pk_out(UDP, EXT0, 12345, R2, 53, 0);
	nt_build(qb, sizeof(qb), &q);
	pe = pk_err(RT, EXT0, ICMP_UNREACH, ICMP_UNREACH_PORT, qb, 28);
	nt_build(e, sizeof(e), &pe);
	assert_int_equal(xl(false, e), DROP_NAT_ICMP_NO_SESSION);
	q = pk_out(TCP, EXT0, 12345, R1, 53, TCP_SYN);
	nt_build(qb, sizeof(qb), &q);
	pe = pk_err(RT, EXT0, ICMP_UNREACH, ICMP_UNREACH_PORT, qb, 28);
	nt_build(e, sizeof(e), &pe);
	assert_int_equal(xl(false, e), DROP_NAT_ICMP_NO_SESSION);
	/* From inside: about a datagram that never came in. */
	q = pk_in(UDP, R1, 53, HB, 53, 0);
	nt_build(qb, sizeof(qb), &q);
	pe = pk_err(HB, R1, ICMP_UNREACH, ICMP_UNREACH_PORT, qb, 28);
	nt_build(e, sizeof(e), &pe);
	assert_int_equal(xl(true, e), DROP_NAT_ICMP_NO_SESSION);
	assert_int_equal(nat_count(nx.nat), 1);
	assert_int_equal(nx.o.out.nev, 0);
	assert_int_equal(nat_stats(nx.nat)->icmp_errors_translated, 0);
}

static void
nat_in2out__other_protocols_are_refused(void **state)
{
	struct nt_pkt p = { .proto = 47, .ttl = 64, .src = HA, .dst = R1,
	    .payload = pay_u, .plen = 8 };

	(void)state;
	assert_int_equal(out_p(&p, NULL, NULL), DROP_NAT_PROTO);
	p.src = R1;
	p.dst = EXT0;
	assert_int_equal(in_p(&p, NULL, NULL), DROP_NAT_NO_MAPPING);
	/* An echo request to the external address is the router's to answer. */
	p = pk_echo(ICMP_ECHO, R1, EXT0, 0x1234);
	assert_int_equal(in_p(&p, NULL, NULL), DROP_NAT_NO_MAPPING);
	assert_int_equal(nat_count(nx.nat), 0);
}

/* ---- mappings and ports ---- */

static void
nat_in2out__mapping_is_endpoint_independent(void **state)
{
	uint32_t xip[3];
	uint16_t xp[3];
	struct nt_pkt p;

	(void)state;
	p = pk_out(UDP, HA, 5000, R1, 53, 0);
	assert_int_equal(out_p(&p, &xip[0], &xp[0]), DROP_NONE);
	p = pk_out(UDP, HA, 5000, R2, 99, 0);
	assert_int_equal(out_p(&p, &xip[1], &xp[1]), DROP_NONE);
	p = pk_out(UDP, HA, 5000, R1, 54, 0);
	assert_int_equal(out_p(&p, &xip[2], &xp[2]), DROP_NONE);
	for (int i = 1; i < 3; i++) {
		assert_int_equal(xip[i], xip[0]);
		assert_int_equal(xp[i], xp[0]);
	}
	assert_int_equal(nx.o.out.nev, 3);
	assert_int_equal(ev_get(0, EV_ADD, EV_CAUSE_NAT_OUTBOUND)->mapping_new, 1);
	assert_int_equal(ev_get(1, EV_ADD, EV_CAUSE_NAT_OUTBOUND)->mapping_new, 0);
	assert_int_equal(ev_get(2, EV_ADD, EV_CAUSE_NAT_OUTBOUND)->mapping_new, 0);
	assert_int_equal(nat_count(nx.nat), 3);
	assert_int_equal(nat_stats(nx.nat)->mappings_created, 1);
	/* TCP and ICMP from the same endpoint are mapped the same way too. */
	xp[0] = out_ok(TCP, HA, 5000, R1, 80, TCP_SYN);
	assert_int_equal(out_ok(TCP, HA, 5000, R2, 443, TCP_SYN), xp[0]);
	xp[0] = out_ok(ICMP, HA, 777, R1, 0, 0);
	assert_int_equal(out_ok(ICMP, HA, 777, R3, 0, 0), xp[0]);
}

static void
nat_in2out__port_preserved_else_same_parity(void **state)
{
	uint16_t seen[16];
	uint32_t hosts = 12;

	(void)state;
	assert_int_equal(out_ok(UDP, HA, 5000, R1, 53, 0), 5000);
	assert_int_equal(out_ok(UDP, HA, 5001, R1, 53, 0), 5001);
	assert_int_equal(nat_stats(nx.nat)->ports_preserved, 2);
	/* Every other host with the same ports: a distinct port of the same
	 * parity, in [port_min, port_max]. */
	for (uint32_t h = 1; h < hosts; h++) {
		for (int odd = 0; odd < 2; odd++) {
			uint16_t x = out_ok(UDP, HA + h, (uint16_t)(5000 + odd), R1, 53, 0);

			assert_int_equal(nx.last_xip, EXT0);
			assert_int_equal(x & 1, odd);
			assert_true(x >= 1024);
			assert_int_not_equal(x, 5000 + odd);
			if (odd == 0)
				seen[h] = x;
			for (uint32_t k = 1; k < h && odd == 0; k++)
				assert_int_not_equal(seen[k], x);
		}
	}
	assert_int_equal(nat_stats(nx.nat)->ports_random, 2 * (hosts - 1));
	/* A port outside [port_min, port_max] is moved into it. */
	nx.p.port_min = 20000;
	nx.p.port_max = 29999;
	nx_open();
	for (uint32_t h = 0; h < 8; h++) {
		uint16_t x = out_ok(UDP, HA + h, (uint16_t)(3000 + h), R1, 53, 0);

		assert_true(x >= 20000 && x <= 29999);
		assert_int_equal(x & 1, h & 1);
	}
	assert_int_equal(out_ok(UDP, HA, 25000, R1, 53, 0), 25000);
}

static void
nat_in2out__ports_below_1024_map_below_1024(void **state)
{
	(void)state;
	nx.p.port_min = 20000;		/* the low class is not the range */
	nx_open();
	assert_int_equal(out_ok(UDP, HA, 500, R1, 53, 0), 500);
	for (uint32_t h = 1; h < 8; h++) {
		uint16_t x = out_ok(UDP, HA + h, 500, R1, 53, 0);
		uint16_t y = out_ok(TCP, HA + h, 501, R1, 53, TCP_SYN);

		assert_true(x >= 1 && x < 1024);
		assert_int_not_equal(x, 500);
		assert_int_equal(x & 1, 0);
		assert_true(y >= 1 && y < 1024);
		assert_int_equal(y & 1, 1);
	}
}

static void
nat_in2out__one_external_port_per_protocol_endpoint(void **state)
{
	struct nat_session s[NX_SESS];
	size_t n;

	(void)state;
	assert_int_equal(out_ok(UDP, HA, 5000, R1, 53, 0), 5000);
	/* TCP has its own ports: B's TCP 5000 may keep its number. */
	assert_int_equal(out_ok(TCP, HB, 5000, R1, 80, TCP_SYN), 5000);
	assert_int_not_equal(out_ok(UDP, HB, 5000, R1, 53, 0), 5000);
	assert_int_not_equal(out_ok(TCP, HA, 5000, R1, 80, TCP_SYN), 5000);
	for (uint32_t h = 2; h < 40; h++) {
		out_ok(UDP, HA + h, 5000, R1, 53, 0);
		out_ok(TCP, HA + h, 5000, R1, 53, TCP_SYN);
	}
	n = dump_all(nx.nat, s, NX_SESS);
	assert_int_equal(n, 80);
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (s[i].proto == s[j].proto && s[i].ext_ip == s[j].ext_ip)
				assert_int_not_equal(s[i].ext_port, s[j].ext_port);
}

static void
nat_in2out__paired_pooling(void **state)
{
	uint32_t first[24];

	(void)state;
	nx.n_ext = 2;
	nx_open();
	for (int round = 0; round < 4; round++)
		for (uint32_t h = 0; h < 24; h++) {
			uint8_t proto = round == 1 ? TCP : UDP;

			out_ok(proto, HA + h, (uint16_t)(6000 + round), R1 + (uint32_t)round,
			    53, TCP_SYN);
			assert_true(nx.last_xip == EXT0 || nx.last_xip == EXT1);
			if (round == 0)
				first[h] = nx.last_xip;
			else
				assert_int_equal(nx.last_xip, first[h]);
		}
}

/* ---- filtering ---- */

static void
nat_out2in__address_port_filtering_by_default(void **state)
{
	uint32_t ip;
	uint16_t port;

	(void)state;
	assert_int_equal(nx.p.filtering, NAT_FILTER_ADDRESS_PORT);
	out_ok(UDP, HA, 5000, R1, 53, 0);
	ev_reset();
	assert_int_equal(in4(UDP, R1, 54, EXT0, 5000, 0, NULL, NULL), DROP_NAT_FILTERED);
	assert_int_equal(in4(UDP, R2, 53, EXT0, 5000, 0, NULL, NULL), DROP_NAT_FILTERED);
	assert_int_equal(in4(UDP, R1, 53, EXT0, 5001, 0, NULL, NULL), DROP_NAT_NO_MAPPING);
	assert_int_equal(in4(TCP, R1, 53, EXT0, 5000, TCP_SYN, NULL, NULL),
	    DROP_NAT_NO_MAPPING);
	assert_int_equal(nat_count(nx.nat), 1);
	assert_int_equal(nx.o.out.nev, 0);
	assert_int_equal(in4(UDP, R1, 53, EXT0, 5000, 0, &ip, &port), DROP_NONE);
	assert_int_equal(ip, HA);
	assert_int_equal(port, 5000);
}

static void
nat_out2in__address_filtering_admits_other_ports(void **state)
{
	const struct ev_nat *e;
	uint32_t ip;
	uint16_t port;

	(void)state;
	nx.p.filtering = NAT_FILTER_ADDRESS;
	nx_open();
	out_ok(UDP, HA, 5000, R1, 53, 0);
	ev_reset();
	assert_int_equal(in4(UDP, R1, 54, EXT0, 5000, 0, &ip, &port), DROP_NONE);
	assert_int_equal(ip, HA);
	assert_int_equal(port, 5000);
	assert_int_equal(nx.o.out.nev, 1);
	e = ev_get(0, EV_ADD, EV_CAUSE_NAT_INBOUND);
	ev_key(e, UDP, HA, 5000, EXT0, 5000, R1, 54);
	assert_int_equal(e->mapping_new, 0);
	assert_true(e->flags & NAT_SF_INBOUND);
	assert_int_equal(nat_count(nx.nat), 2);
	assert_true(get_sess(UDP, HA, 5000, R1, 54).flags & NAT_SF_INBOUND);
	assert_false(get_sess(UDP, HA, 5000, R1, 53).flags & NAT_SF_INBOUND);
	assert_int_equal(in4(UDP, R2, 53, EXT0, 5000, 0, NULL, NULL), DROP_NAT_FILTERED);
	assert_int_equal(nat_count(nx.nat), 2);
}

static void
nat_out2in__endpoint_filtering_admits_anyone(void **state)
{
	const struct ev_nat *e;
	uint32_t ip;
	uint16_t port;

	(void)state;
	nx.p.filtering = NAT_FILTER_ENDPOINT;
	nx_open();
	out_ok(UDP, HA, 5000, R1, 53, 0);
	ev_reset();
	assert_int_equal(in4(UDP, R2, 7777, EXT0, 5000, 0, &ip, &port), DROP_NONE);
	assert_int_equal(ip, HA);
	assert_int_equal(port, 5000);
	e = ev_get(0, EV_ADD, EV_CAUSE_NAT_INBOUND);
	ev_key(e, UDP, HA, 5000, EXT0, 5000, R2, 7777);
	assert_int_equal(in4(UDP, R3, 1, EXT0, 5000, 0, NULL, NULL), DROP_NONE);
	assert_int_equal(nat_count(nx.nat), 3);
	/* Still nothing without a mapping. */
	assert_int_equal(in4(UDP, R2, 7777, EXT0, 5002, 0, NULL, NULL), DROP_NAT_NO_MAPPING);
	assert_int_equal(in4(UDP, R2, 7777, EXT1, 5000, 0, NULL, NULL), DROP_NAT_NO_MAPPING);
}

/* ---- TCP ---- */

static void
nat_tcp__state_machine_and_timeouts(void **state)
{
	const struct ev_nat *e;
	struct nat_session s;

	(void)state;
	assert_string_equal(nat_tcp_state_name(NAT_TCP_ESTABLISHED), "ESTABLISHED");
	assert_string_equal(nat_tcp_state_name(NAT_TCP_TIME_WAIT), "TIME_WAIT");
	assert_int_equal(out_ok(TCP, HA, 40000, R1, 80, TCP_SYN), 40000);
	s = get_sess(TCP, HA, 40000, R1, 80);
	assert_int_equal(s.state, NAT_TCP_SYN_OUT);
	assert_int_equal(s.expires_us, T(240));
	ev_reset();
	nx.now = T(1);
	assert_int_equal(in4(TCP, R1, 80, EXT0, 40000, TCP_SYN | TCP_ACK, NULL, NULL),
	    DROP_NONE);
	e = ev_get(0, EV_UPDATE, EV_CAUSE_NAT_TCP);
	assert_int_equal(e->state, NAT_TCP_ESTABLISHED);
	assert_int_equal(e->expires_us, T(1 + 7440));
	assert_int_equal(nx.o.out.nev, 1);
	ev_reset();
	nx.now = T(2);
	out_ok(TCP, HA, 40000, R1, 80, TCP_ACK);
	in4(TCP, R1, 80, EXT0, 40000, TCP_ACK | TCP_PSH, NULL, NULL);
	assert_int_equal(nx.o.out.nev, 0);
	nx.now = T(3);
	out_ok(TCP, HA, 40000, R1, 80, TCP_FIN | TCP_ACK);
	e = ev_get(0, EV_UPDATE, EV_CAUSE_NAT_TCP);
	assert_int_equal(e->state, NAT_TCP_FIN_OUT);
	assert_int_equal(e->expires_us, T(3 + 7440));
	ev_reset();
	nx.now = T(4);
	assert_int_equal(in4(TCP, R1, 80, EXT0, 40000, TCP_FIN | TCP_ACK, NULL, NULL),
	    DROP_NONE);
	e = ev_get(0, EV_UPDATE, EV_CAUSE_NAT_TCP);
	assert_int_equal(e->state, NAT_TCP_TIME_WAIT);
	assert_int_equal(e->expires_us, T(4 + 240));
	assert_int_equal(get_sess(TCP, HA, 40000, R1, 80).state, NAT_TCP_TIME_WAIT);
	ev_reset();
	/* Another connection, reset by the remote. */
	out_ok(TCP, HA, 40001, R1, 80, TCP_SYN);
	in4(TCP, R1, 80, EXT0, 40001, TCP_SYN | TCP_ACK, NULL, NULL);
	ev_reset();
	nx.now = T(10);
	{
		/* in the window: right after the remote's SYN */
		struct nt_pkt rst = pk_tcp(R1, 80, EXT0, 40001, TCP_RST | TCP_ACK);

		rst.seq = 0x01020305;
		assert_int_equal(in_p(&rst, NULL, NULL), DROP_NONE);
	}
	e = ev_get(0, EV_UPDATE, EV_CAUSE_NAT_TCP);
	ev_key(e, TCP, HA, 40001, EXT0, 40001, R1, 80);
	assert_int_equal(e->state, NAT_TCP_RST);
	assert_int_equal(e->expires_us, T(10 + 240));
	ev_reset();
	/* The remote opens (a forward): SYN in, SYN/ACK out. */
	assert_int_equal(nat_forward_add(nx.nat, TCP, 2222, HB, 22, nx.now, &nx.o.out), 0);
	assert_int_equal(in4(TCP, R2, 5555, EXT0, 2222, TCP_SYN, NULL, NULL), DROP_NONE);
	e = ev_get(0, EV_ADD, EV_CAUSE_NAT_INBOUND);
	assert_int_equal(e->state, NAT_TCP_SYN_IN);
	assert_int_equal(e->expires_us, T(10 + 60));	/* half-open: SYN_RECV 60 s */
	assert_true(e->flags & NAT_SF_HALF);
	/* The SYN/ACK alone establishes nothing (conntrack: still SYN_RECV)... */
	out_ok(TCP, HB, 22, R2, 5555, TCP_SYN | TCP_ACK);
	assert_int_equal(nx.o.out.nev, 1);
	assert_int_equal(get_sess(TCP, HB, 22, R2, 5555).state, NAT_TCP_SYN_IN);
	assert_int_equal(get_sess(TCP, HB, 22, R2, 5555).expires_us, T(10 + 60));
	/* ...the remote's ACK that ends the handshake does. */
	assert_int_equal(in4(TCP, R2, 5555, EXT0, 2222, TCP_ACK, NULL, NULL), DROP_NONE);
	e = ev_get(1, EV_UPDATE, EV_CAUSE_NAT_TCP);
	assert_int_equal(e->state, NAT_TCP_ESTABLISHED);
	assert_int_equal(e->expires_us, T(10 + 7440));
	assert_false(e->flags & NAT_SF_HALF);
	assert_int_equal(nat_stats(nx.nat)->tcp_pickups, 0);
	assert_int_equal(nat_stats(nx.nat)->half_open_promoted, 1);
}

static void
nat_tcp__midstream_segment_is_picked_up(void **state)
{
	const struct ev_nat *e;

	(void)state;
	assert_int_equal(out_ok(TCP, HA, 40000, R1, 443, TCP_ACK | TCP_PSH), 40000);
	e = ev_get(0, EV_ADD, EV_CAUSE_NAT_OUTBOUND);
	assert_int_equal(e->state, NAT_TCP_ESTABLISHED);
	assert_int_equal(e->expires_us, T(7440));
	assert_int_equal(nat_stats(nx.nat)->tcp_pickups, 1);
	assert_int_equal(in4(TCP, R1, 443, EXT0, 40000, TCP_ACK, NULL, NULL), DROP_NONE);
	assert_int_equal(nx.o.out.nev, 2);
	ev_get(1, EV_UPDATE, EV_CAUSE_NAT_REPLY);	/* the remote's first answer */
}

/* nat.h: "A TCP segment from inside without a session that is not a SYN is
 * picked up as ESTABLISHED" -- a FIN is not a SYN. */
static void
nat_tcp__midstream_fin_is_picked_up(void **state)
{
	struct nat_session s;

	(void)state;
	out_ok(TCP, HA, 40000, R1, 443, TCP_FIN | TCP_ACK);
	s = get_sess(TCP, HA, 40000, R1, 443);
	if (s.state != NAT_TCP_ESTABLISHED && s.state != NAT_TCP_FIN_OUT)
		print_error("state %s, want ESTABLISHED (or FIN_WAIT)\n",
		    nat_tcp_state_name((enum nat_tcp_state)s.state));
	assert_true(s.state == NAT_TCP_ESTABLISHED || s.state == NAT_TCP_FIN_OUT);
	assert_int_equal(s.expires_us, T(7440));
	assert_int_equal(nat_stats(nx.nat)->tcp_pickups, 1);
}

/* ---- timeouts, expiry and events ---- */

/*
 * Flows for the boundary tests: proto from A:port to R1:7 (ICMP: echo with
 * id port); est: a TCP flow that both sides opened. "in" is the next packet
 * from R1 (a reply, an ACK, or for a half-open TCP flow the SYN/ACK), "out"
 * the next one from A (for a half-open TCP flow its SYN again).
 */
static void
bflow_open(uint8_t proto, bool est, uint16_t port)
{
	assert_int_equal(out_ok(proto, HA, port, R1, 7, TCP_SYN), port);
	if (est)
		assert_int_equal(in4(TCP, R1, 7, EXT0, port, TCP_SYN | TCP_ACK, NULL,
		    NULL), DROP_NONE);
}

static enum drop
bflow_in(uint8_t proto, bool est, uint16_t port)
{
	return in4(proto, R1, 7, EXT0, port, est ? TCP_ACK : TCP_SYN | TCP_ACK, NULL,
	    NULL);
}

static enum drop
bflow_out(uint8_t proto, bool est, uint16_t port)
{
	return out4(proto, HA, port, R1, 7, est ? TCP_ACK : TCP_SYN, NULL);
}

/* One EV_REMOVE/NAT_TIMEOUT for A:port, mapping gone, among the events. */
static void
assert_removed(uint8_t proto, uint16_t port)
{
	unsigned n = 0;

	for (unsigned i = 0; i < nx.o.out.nev; i++) {
		const struct nf_event *e = &nx.o.ev[i];

		if (e->op != EV_REMOVE || e->nat.int_port != port)
			continue;
		assert_int_equal(e->cause, EV_CAUSE_NAT_TIMEOUT);
		ev_key(&e->nat, proto, HA, port, EXT0, port, R1, proto == ICMP ? 0 : 7);
		assert_int_equal(e->nat.mapping_gone, 1);
		n++;
	}
	assert_int_equal(n, 1);
}

/*
 * Four flows opened at T(0) with lifetime life: at life - 1 s a packet from
 * the remote passes and a sweep keeps them; at life s the remote's packet
 * finds no mapping, the inside's starts a new session (remove, then add),
 * and a sweep removes the untouched one.
 */
static void
check_timeout_boundary(uint8_t proto, bool est, uint32_t life)
{
	const uint16_t p0 = 30001, p1 = 30002, p2 = 30003, p3 = 30004;
	const struct ev_nat *e;
	uint64_t o2i;

	bflow_open(proto, est, p0);
	bflow_open(proto, est, p1);
	bflow_open(proto, est, p2);
	bflow_open(proto, est, p3);
	assert_int_equal(get_sess(proto, HA, p3, R1, proto == ICMP ? 0 : 7).expires_us,
	    T(life));
	nx.now = T(life - 1);
	ev_reset();
	assert_int_equal(bflow_in(proto, est, p0), DROP_NONE);
	nat_tick(nx.nat, nx.now, &nx.o.out);
	nat_tick(nx.nat, nx.now + TL_S - 1, &nx.o.out);
	assert_int_equal(ev_count(EV_REMOVE), 0);
	assert_int_equal(nat_count(nx.nat), 4);

	nx.now = T(life);
	ev_reset();
	o2i = nat_stats(nx.nat)->out2in;
	assert_int_equal(bflow_in(proto, est, p1), DROP_NAT_NO_MAPPING);
	assert_int_equal(nat_stats(nx.nat)->out2in, o2i);
	assert_int_equal(bflow_out(proto, est, p2), DROP_NONE);
	nat_tick(nx.nat, nx.now, &nx.o.out);
	assert_removed(proto, p1);
	assert_removed(proto, p2);
	assert_removed(proto, p3);
	/* p2's removal came before its new session, in one call. */
	for (unsigned i = 0; i < nx.o.out.nev; i++) {
		if (nx.o.ev[i].nat.int_port != p2 || nx.o.ev[i].op != EV_REMOVE)
			continue;
		e = ev_get(i + 1, EV_ADD, EV_CAUSE_NAT_OUTBOUND);
		ev_key(e, proto, HA, p2, EXT0, p2, R1, proto == ICMP ? 0 : 7);
		assert_int_equal(e->mapping_new, 1);
		assert_int_equal(e->created_us, T(life));
	}
	assert_int_equal(nat_count(nx.nat), 2);
	assert_int_equal(nat_stats(nx.nat)->sessions_expired, 3);
	assert_false(find_sess(NULL, proto, HA, p1, R1, proto == ICMP ? 0 : 7));
	assert_false(find_sess(NULL, proto, HA, p3, R1, proto == ICMP ? 0 : 7));
}

static void
nat_timeout__udp_300s(void **state)
{
	(void)state;
	check_timeout_boundary(UDP, false, 300);
}

static void
nat_timeout__icmp_60s(void **state)
{
	(void)state;
	check_timeout_boundary(ICMP, false, 60);
}

static void
nat_timeout__tcp_established_7440s(void **state)
{
	(void)state;
	check_timeout_boundary(TCP, true, 7440);
}

static void
nat_timeout__tcp_transitory_240s(void **state)
{
	(void)state;
	check_timeout_boundary(TCP, false, 240);
}

static void
nat_tick__reports_mapping_gone_on_last_session(void **state)
{
	const struct ev_nat *e;

	(void)state;
	out_ok(UDP, HA, 5000, R1, 53, 0);
	nx.now = T(10);
	out_ok(UDP, HA, 5000, R2, 53, 0);
	ev_reset();
	nx.now = T(300);
	nat_tick(nx.nat, nx.now, &nx.o.out);
	assert_int_equal(nx.o.out.nev, 1);
	e = ev_get(0, EV_REMOVE, EV_CAUSE_NAT_TIMEOUT);
	ev_key(e, UDP, HA, 5000, EXT0, 5000, R1, 53);
	assert_int_equal(e->mapping_gone, 0);
	assert_int_equal(e->created_us, T(0));
	assert_int_equal(e->expires_us, T(300));
	ev_reset();
	nx.now = T(310);
	nat_tick(nx.nat, nx.now, &nx.o.out);
	e = ev_get(0, EV_REMOVE, EV_CAUSE_NAT_TIMEOUT);
	ev_key(e, UDP, HA, 5000, EXT0, 5000, R2, 53);
	assert_int_equal(e->mapping_gone, 1);
	assert_int_equal(nat_count(nx.nat), 0);
	assert_int_equal(nat_stats(nx.nat)->mappings_removed, 1);
	/* The port is free again. */
	assert_int_equal(out_ok(UDP, HB, 5000, R1, 53, 0), 5000);
}

static void
nat_tick__examines_a_bounded_number_of_sessions(void **state)
{
	unsigned ticks = 0;

	(void)state;
	nx.p.sweep_per_tick = 4;
	nx_open();
	for (uint16_t i = 0; i < 10; i++)
		out_ok(UDP, HA, (uint16_t)(5000 + i), R1, 53, 0);
	nx.now = T(300);
	ev_reset();
	nat_tick(nx.nat, nx.now, &nx.o.out);
	assert_true(nx.o.out.nev <= 4);
	assert_true(nat_count(nx.nat) >= 6);
	while (nat_count(nx.nat) > 0 && ticks < 1000) {
		size_t before = nat_count(nx.nat);

		ev_reset();
		nat_tick(nx.nat, nx.now, &nx.o.out);
		assert_true(before - nat_count(nx.nat) <= 4);
		assert_int_equal(nx.o.out.nev, before - nat_count(nx.nat));
		ticks++;
	}
	assert_int_equal(nat_count(nx.nat), 0);
	assert_true(ticks <= NX_SESS / 4 + 1);	/* the sweep goes round */
}

static void
nat_refresh__lazy_events_past_half_the_lifetime(void **state)
{
	const struct ev_nat *e;

	(void)state;
	out_ok(UDP, HA, 5000, R1, 53, 0);
	/* the first reply is an event of its own; refreshes count from it */
	assert_int_equal(in4(UDP, R1, 53, EXT0, 5000, 0, NULL, NULL), DROP_NONE);
	ev_get(1, EV_UPDATE, EV_CAUSE_NAT_REPLY);
	ev_reset();
	for (unsigned s = 1; s <= 150; s++) {
		nx.now = T(s);
		if (s & 1)
			out_ok(UDP, HA, 5000, R1, 53, 0);
		else
			assert_int_equal(in4(UDP, R1, 53, EXT0, 5000, 0, NULL, NULL),
			    DROP_NONE);
	}
	assert_int_equal(nx.o.out.nev, 0);
	assert_int_equal(get_sess(UDP, HA, 5000, R1, 53).expires_us, T(450));
	nx.now = T(151);
	out_ok(UDP, HA, 5000, R1, 53, 0);
	assert_int_equal(nx.o.out.nev, 1);
	e = ev_get(0, EV_UPDATE, EV_CAUSE_NAT_REFRESH);
	ev_key(e, UDP, HA, 5000, EXT0, 5000, R1, 53);
	assert_int_equal(e->expires_us, T(451));
	assert_int_equal(e->created_us, T(0));
	assert_int_equal(e->flags, NAT_SF_REPLIED);
	ev_reset();
	nx.now = T(152);
	assert_int_equal(in4(UDP, R1, 53, EXT0, 5000, 0, NULL, NULL), DROP_NONE);
	nx.now = T(301);
	out_ok(UDP, HA, 5000, R1, 53, 0);
	assert_int_equal(nx.o.out.nev, 0);
	nx.now = T(302);
	out_ok(UDP, HA, 5000, R1, 53, 0);
	ev_get(0, EV_UPDATE, EV_CAUSE_NAT_REFRESH);
	/* A quiet session still expires on time. */
	ev_reset();
	nx.now = T(302 + 300);
	nat_tick(nx.nat, nx.now, &nx.o.out);
	ev_get(0, EV_REMOVE, EV_CAUSE_NAT_TIMEOUT);
}

/* ---- ports and limits ---- */

static void
nat_in2out__port_exhaustion_is_a_drop_never_a_reuse(void **state)
{
	struct nat_session s[NX_SESS];
	uint16_t x;
	size_t n;

	(void)state;
	nx.p.port_min = 20000;
	nx.p.port_max = 20015;
	nx_open();
	for (uint16_t i = 0; i < 16; i++) {
		x = out_ok(UDP, HA + (i & 3), (uint16_t)(40000 + i), R1, 53, 0);
		assert_true(x >= 20000 && x <= 20015);
		/* eight of each parity asked, eight of each there */
		assert_int_equal(x & 1, i & 1);
	}
	ev_reset();
	assert_int_equal(out4(UDP, HB, 40000, R1, 53, 0, NULL), DROP_NAT_PORTS);
	assert_int_equal(out4(UDP, HC, 20003, R1, 53, 0, NULL), DROP_NAT_PORTS);
	assert_int_equal(nx.o.out.nev, 0);
	assert_int_equal(nat_count(nx.nat), 16);
	n = dump_all(nx.nat, s, NX_SESS);
	assert_int_equal(n, 16);
	for (size_t i = 0; i < n; i++) {
		assert_true(s[i].ext_port >= 20000 && s[i].ext_port <= 20015);
		for (size_t j = i + 1; j < n; j++)
			assert_int_not_equal(s[i].ext_port, s[j].ext_port);
	}
	/* Existing mappings still get new sessions; TCP has its own ports. */
	out_ok(UDP, HA, 40000, R2, 53, 0);
	assert_int_equal(out_ok(TCP, HB, 40000, R1, 80, TCP_SYN) & 1, 0);
	/* After expiry the ports come back. */
	nx.now = T(300);
	nat_tick(nx.nat, nx.now, &nx.o.out);
	assert_int_equal(nat_count(nx.nat), 0);		/* TCP's SYN went at 240 s */
	for (uint16_t i = 0; i < 16; i++) {
		x = out_ok(UDP, HD, (uint16_t)(50000 + i), R1, 53, 0);
		assert_true(x >= 20000 && x <= 20015);
	}
	assert_int_equal(out4(UDP, HD, 50016, R1, 53, 0, NULL), DROP_NAT_PORTS);
}

static void
nat_in2out__table_full(void **state)
{
	(void)state;
	nx.p.max_sessions = 8;
	nx.p.filtering = NAT_FILTER_ENDPOINT;
	nx_open();
	for (uint16_t i = 0; i < 4; i++) {
		out_ok(UDP, HA + i, 5000, R1, 53, 0);
		out_ok(UDP, HA + i, 5000, R2, 53, 0);
	}
	ev_reset();
	assert_int_equal(out4(UDP, HD, 6000, R1, 53, 0, NULL), DROP_NAT_TABLE_FULL);
	assert_int_equal(out4(UDP, HA, 5000, R3, 53, 0, NULL), DROP_NAT_TABLE_FULL);
	assert_int_equal(out4(TCP, HA, 5000, R1, 53, TCP_SYN, NULL), DROP_NAT_TABLE_FULL);
	assert_int_equal(in4(UDP, R3, 53, EXT0, 5000, 0, NULL, NULL), DROP_NAT_TABLE_FULL);
	assert_int_equal(nx.o.out.nev, 0);
	assert_int_equal(nat_count(nx.nat), 8);
	/* Known sessions keep working. */
	assert_int_equal(in4(UDP, R2, 53, EXT0, 5000, 0, NULL, NULL), DROP_NONE);
	/* Room again after expiry; the refused endpoint left no port behind. */
	nx.now = T(300);
	nat_tick(nx.nat, nx.now, &nx.o.out);
	assert_int_equal(nat_count(nx.nat), 0);
	assert_int_equal(out_ok(UDP, HA + 9, 6000, R1, 53, 0), 6000);
}

static void
nat_in2out__per_host_limit(void **state)
{
	(void)state;
	nx.p.max_per_host = 3;
	nx_open();
	out_ok(UDP, HA, 5000, R1, 53, 0);
	out_ok(UDP, HA, 5000, R2, 53, 0);
	out_ok(TCP, HA, 5001, R1, 80, TCP_SYN);
	ev_reset();
	assert_int_equal(out4(UDP, HA, 5000, R3, 53, 0, NULL), DROP_NAT_HOST_LIMIT);
	assert_int_equal(out4(UDP, HA, 7000, R1, 53, 0, NULL), DROP_NAT_HOST_LIMIT);
	assert_int_equal(out4(ICMP, HA, 7001, R1, 0, 0, NULL), DROP_NAT_HOST_LIMIT);
	assert_int_equal(nx.o.out.nev, 0);
	assert_int_equal(nat_count(nx.nat), 3);
	/* Another host is not held back, and A's refused port was not kept. */
	assert_int_equal(out_ok(UDP, HB, 7000, R1, 53, 0), 7000);
	out_ok(UDP, HB, 7000, R2, 53, 0);
	out_ok(UDP, HB, 7000, R3, 53, 0);
	assert_int_equal(out4(UDP, HB, 7000, R3 + 1, 53, 0, NULL), DROP_NAT_HOST_LIMIT);
	/* A's sessions expire, A may open new ones. */
	nx.now = T(300);
	nat_tick(nx.nat, nx.now, &nx.o.out);
	assert_int_equal(nat_count(nx.nat), 0);
	out_ok(UDP, HA, 5000, R3, 53, 0);
	out_ok(UDP, HA, 5001, R3, 53, 0);
	out_ok(UDP, HA, 5002, R3, 53, 0);
	assert_int_equal(out4(UDP, HA, 5003, R3, 53, 0, NULL), DROP_NAT_HOST_LIMIT);
}

/* ---- port forwards ---- */

static void
nat_forward_add__admits_anyone_and_outlives_sessions(void **state)
{
	const struct ev_nat *e;
	uint32_t ip;
	uint16_t port;

	(void)state;
	assert_int_equal(nat_forward_add(nx.nat, UDP, 8080, HB, 80, nx.now, &nx.o.out), 0);
	assert_int_equal(nat_count(nx.nat), 0);
	assert_int_equal(in4(UDP, R1, 1000, EXT0, 8080, 0, &ip, &port), DROP_NONE);
	assert_int_equal(ip, HB);
	assert_int_equal(port, 80);
	e = ev_get(0, EV_ADD, EV_CAUSE_NAT_INBOUND);
	ev_key(e, UDP, HB, 80, EXT0, 8080, R1, 1000);
	assert_int_equal(e->flags & (NAT_SF_INBOUND | NAT_SF_STATIC),
	    NAT_SF_INBOUND | NAT_SF_STATIC);
	assert_int_equal(e->mapping_new, 0);
	assert_int_equal(in4(UDP, R2, 2000, EXT0, 8080, 0, NULL, NULL), DROP_NONE);
	/* B answers from the forwarded endpoint: it leaves from the forward. */
	assert_int_equal(out_ok(UDP, HB, 80, R3, 9, 0), 8080);
	assert_int_equal(nat_count(nx.nat), 3);
	ev_reset();
	nx.now = T(300);
	nat_tick(nx.nat, nx.now, &nx.o.out);
	assert_int_equal(nat_count(nx.nat), 0);
	assert_int_equal(ev_count(EV_REMOVE), 3);
	for (unsigned i = 0; i < nx.o.out.nev; i++)
		assert_int_equal(nx.o.ev[i].nat.mapping_gone, 0);
	/* The mapping stays: anyone still gets in, and the port is not free. */
	nx.now = T(1000000);
	assert_int_equal(in4(UDP, R3, 3000, EXT0, 8080, 0, &ip, &port), DROP_NONE);
	assert_int_equal(ip, HB);
	assert_int_not_equal(out_ok(UDP, HC, 8080, R1, 53, 0), 8080);
}

static void
nat_forward_add__rejects_taken_ports_and_bad_args(void **state)
{
	(void)state;
	assert_int_equal(nat_forward_add(nx.nat, UDP, 8080, HB, 80, nx.now, &nx.o.out), 0);
	assert_int_equal(nat_forward_add(nx.nat, UDP, 8080, HC, 81, nx.now, &nx.o.out),
	    -EEXIST);
	/* TCP has its own port space. */
	assert_int_equal(nat_forward_add(nx.nat, TCP, 8080, HC, 81, nx.now, &nx.o.out), 0);
	/* A port a dynamic mapping holds. */
	assert_int_equal(out_ok(UDP, HA, 9000, R1, 53, 0), 9000);
	assert_int_equal(nat_forward_add(nx.nat, UDP, 9000, HC, 82, nx.now, &nx.o.out),
	    -EEXIST);
	assert_int_equal(nat_forward_add(nx.nat, ICMP, 9001, HC, 82, nx.now, &nx.o.out),
	    -EINVAL);
	assert_int_equal(nat_forward_add(nx.nat, 47, 9001, HC, 82, nx.now, &nx.o.out),
	    -EINVAL);
	assert_int_equal(nat_forward_add(nx.nat, UDP, 0, HC, 82, nx.now, &nx.o.out),
	    -EINVAL);
	assert_int_equal(nat_forward_add(nx.nat, UDP, 9002, HC, 0, nx.now, &nx.o.out),
	    -EINVAL);
	/* The dynamic mapping is unharmed. */
	assert_int_equal(in4(UDP, R1, 53, EXT0, 9000, 0, NULL, NULL), DROP_NONE);
}

static void
nat_forward_add__port_never_handed_out_dynamically(void **state)
{
	uint16_t x;

	(void)state;
	nx.p.port_min = 8080;
	nx.p.port_max = 8083;
	nx_open();
	assert_int_equal(nat_forward_add(nx.nat, UDP, 8081, HB, 80, nx.now, &nx.o.out), 0);
	for (uint16_t i = 0; i < 3; i++) {
		x = out_ok(UDP, HC, (uint16_t)(8081 + 2 * i), R1, 53, 0);
		assert_true(x >= 8080 && x <= 8083);
		assert_int_not_equal(x, 8081);
	}
	assert_int_equal(out4(UDP, HD, 8081, R1, 53, 0, NULL), DROP_NAT_PORTS);
	nx.now = T(100000);
	nat_tick(nx.nat, nx.now, &nx.o.out);
	assert_int_equal(nat_count(nx.nat), 0);
	for (uint16_t i = 0; i < 3; i++)
		assert_int_not_equal(out_ok(UDP, HD, (uint16_t)(8081 + i), R1, 53, 0), 8081);
	assert_int_equal(out4(UDP, HD, 9999, R1, 53, 0, NULL), DROP_NAT_PORTS);
}

/* ---- fragments ---- */

static uint8_t pay40[40];

/*
 * The datagram A:12345 -> R1:53 with 40 bytes of payload in two fragments
 * (24 + 24 transport bytes). Both are translated; put together again they
 * make the datagram from EXT0 with every checksum right.
 */
static void
nat_in2out__later_fragment_follows_the_first(void **state)
{
	struct nt_pkt p = pk_udp_a_r1();
	uint8_t d[128], f1[128], f2[128], re[128], o1[128], o2[128];
	size_t len, l1, l2;

	(void)state;
	for (size_t i = 0; i < sizeof(pay40); i++)
		pay40[i] = (uint8_t)(0x41 + i);
	p.frag = 0;
	p.id = 0xabcd;
	p.payload = pay40;
	p.plen = sizeof(pay40);
	len = nt_build(d, sizeof(d), &p);
	nt_fragment(d, len, 24, f1, &l1, f2, &l2);
	memcpy(o1, f1, l1);
	memcpy(o2, f2, l2);
	assert_int_equal(xl(true, f1), DROP_NONE);
	nx.now = T(1);
	assert_int_equal(xl(true, f2), DROP_NONE);
	/* The later fragment: only the source address and its checksum. */
	assert_true(tl_csum_ok(f2, IPV4_MIN_HLEN));
	assert_int_equal(load_be32(f2 + 12), EXT0);
	store_be32(o2 + 12, EXT0);
	nt_ip_csum(o2);
	assert_memory_equal(f2, o2, l2);
	/* The first: the whole translation. */
	assert_true(tl_csum_ok(f1, IPV4_MIN_HLEN));
	assert_int_equal(load_be32(f1 + 12), EXT0);
	assert_int_equal(load_be16(f1 + 20), 12345);
	assert_memory_equal(f1 + 22, o1 + 22, 4);		/* dport, length */
	assert_memory_equal(f1 + 28, o1 + 28, l1 - 28);		/* payload */
	memcpy(re, f1, l1);
	memcpy(re + l1, f2 + IPV4_MIN_HLEN, l2 - IPV4_MIN_HLEN);
	store_be16(re + 2, (uint16_t)len);
	store_be16(re + 6, 0);
	nt_ip_csum(re);
	assert_true(nt_csums_ok(re, len));
	assert_int_equal(nat_stats(nx.nat)->frags_translated, 1);

	/* The answer, fragmented too, comes back to A. */
	p = pk_udp_r1_a();
	p.id = 0x0777;
	p.payload = pay40;
	p.plen = sizeof(pay40);
	len = nt_build(d, sizeof(d), &p);
	nt_fragment(d, len, 24, f1, &l1, f2, &l2);
	memcpy(o2, f2, l2);
	/* The later one first: unknown yet. */
	assert_int_equal(xl(false, f2), DROP_NAT_FRAG);
	assert_int_equal(xl(false, f1), DROP_NONE);
	assert_int_equal(load_be32(f1 + 16), HA);
	assert_int_equal(xl(false, f2), DROP_NONE);
	store_be32(o2 + 16, HA);
	nt_ip_csum(o2);
	assert_memory_equal(f2, o2, l2);
	memcpy(re, f1, l1);
	memcpy(re + l1, f2 + IPV4_MIN_HLEN, l2 - IPV4_MIN_HLEN);
	store_be16(re + 2, (uint16_t)len);
	store_be16(re + 6, 0);
	nt_ip_csum(re);
	assert_true(nt_csums_ok(re, len));
}

static void
nat_in2out__unknown_later_fragment_is_dropped(void **state)
{
	struct nt_pkt p = pk_udp_a_r1();
	uint8_t d[128], f1[128], f2[128], g2[128];
	size_t len, l1, l2;

	(void)state;
	p.frag = 0;
	p.id = 0x1111;
	p.payload = pay40;
	p.plen = sizeof(pay40);
	len = nt_build(d, sizeof(d), &p);
	nt_fragment(d, len, 24, f1, &l1, f2, &l2);
	memcpy(g2, f2, l2);
	assert_int_equal(xl(true, f2), DROP_NAT_FRAG);
	assert_int_equal(xl(true, f1), DROP_NONE);
	/* Another datagram id: still unknown. */
	store_be16(g2 + 4, 0x1112);
	nt_ip_csum(g2);
	assert_int_equal(xl(true, g2), DROP_NAT_FRAG);
	/* The right one, but long after its first fragment. */
	nx.now = T(60);
	assert_int_equal(xl(true, f2), DROP_NAT_FRAG);
	/* Inbound, for a datagram never seen. */
	store_be32(g2 + 12, R1);
	store_be32(g2 + 16, EXT0);
	nt_ip_csum(g2);
	assert_int_equal(xl(false, g2), DROP_NAT_FRAG);
	assert_int_equal(nat_stats(nx.nat)->frags_translated, 0);
}

/* ---- restore ---- */

static void
nat_restore__keeps_external_port_and_translates(void **state)
{
	struct nat_session s, r;
	struct nat *old;
	uint16_t xp;
	uint32_t ip;
	uint16_t port;

	(void)state;
	out_ok(UDP, HA, 5000, R2, 53, 0);		/* A holds 5000 */
	xp = out_ok(UDP, HB, 5000, R1, 53, 0);
	assert_int_not_equal(xp, 5000);
	nx.now = T(20);
	in4(UDP, R1, 53, EXT0, xp, 0, NULL, NULL);
	out_ok(TCP, HB, 40000, R1, 80, TCP_SYN);
	in4(TCP, R1, 80, EXT0, 40000, TCP_SYN | TCP_ACK, NULL, NULL);
	s = get_sess(UDP, HB, 5000, R1, 53);
	r = get_sess(TCP, HB, 40000, R1, 80);
	/* A new NAT after a "restart" 30 s later. */
	old = nx.nat;
	nx.nat = NULL;
	nx.now = T(50);
	nx_open();
	nx.now = T(50);
	assert_int_equal(nat_restore(nx.nat, &s, nx.now), 0);
	assert_int_equal(nat_restore(nx.nat, &r, nx.now), 0);
	nat_free(old);
	assert_int_equal(nat_count(nx.nat), 2);
	{
		struct nat_session t = get_sess(UDP, HB, 5000, R1, 53);

		assert_int_equal(t.ext_ip, EXT0);
		assert_int_equal(t.ext_port, xp);
		assert_int_equal(t.flags, s.flags);
		assert_int_equal(t.expires_us, s.expires_us);
		t = get_sess(TCP, HB, 40000, R1, 80);
		assert_int_equal(t.state, NAT_TCP_ESTABLISHED);
		assert_int_equal(t.expires_us, r.expires_us);
	}
	assert_int_equal(nx.o.out.nev, 0);		/* no event */
	/* The next packets use the restored mapping. */
	nx.now = T(51);
	assert_int_equal(out_ok(UDP, HB, 5000, R1, 53, 0), xp);
	assert_int_equal(nx.o.out.nev, 0);		/* a known session */
	assert_int_equal(in4(UDP, R1, 53, EXT0, xp, 0, &ip, &port), DROP_NONE);
	assert_int_equal(ip, HB);
	assert_int_equal(port, 5000);
	assert_int_equal(out_ok(UDP, HB, 5000, R3, 53, 0), xp);	/* EIM */
	assert_int_equal(in4(TCP, R1, 80, EXT0, 40000, TCP_ACK, &ip, NULL), DROP_NONE);
	assert_int_equal(ip, HB);
	/* Nobody else gets the restored port. */
	assert_int_not_equal(out_ok(UDP, HC, xp, R1, 53, 0), xp);
}

static void
nat_restore__taken_port_is_eexist(void **state)
{
	struct nat_session s = {
		.proto = UDP, .int_ip = HB, .int_port = 5000, .ext_ip = EXT0,
		.ext_port = 6000, .rem_ip = R1, .rem_port = 53,
		.created_us = T(0), .expires_us = T(300),
	};

	(void)state;
	assert_int_equal(out_ok(UDP, HC, 6000, R2, 53, 0), 6000);
	assert_int_equal(nat_restore(nx.nat, &s, nx.now), -EEXIST);
	assert_int_equal(nat_count(nx.nat), 1);
	/* B already mapped elsewhere. */
	assert_int_equal(out_ok(UDP, HB, 5000, R2, 53, 0), 5000);
	s.ext_port = 6002;
	assert_int_equal(nat_restore(nx.nat, &s, nx.now), -EEXIST);
	/* Nonsense. */
	s.int_port = 5001;
	s.ext_ip = EXT1;
	assert_int_equal(nat_restore(nx.nat, &s, nx.now), -EINVAL);
	s.ext_ip = EXT0;
	s.proto = 47;
	assert_int_equal(nat_restore(nx.nat, &s, nx.now), -EINVAL);
	s.proto = UDP;
	s.ext_port = 0;
	assert_int_equal(nat_restore(nx.nat, &s, nx.now), -EINVAL);
	assert_int_equal(nat_count(nx.nat), 2);
	s.ext_port = 6004;
	assert_int_equal(nat_restore(nx.nat, &s, nx.now), 0);
	assert_int_equal(nat_count(nx.nat), 3);
	assert_int_equal(in4(UDP, R1, 53, EXT0, 6004, 0, NULL, NULL), DROP_NONE);
}

/*
 * Issue 17 item 10: history lists 16 remotes of a mapping; the sessions
 * past them come back as their remotes show up, as many as it counted,
 * until the stored expiry, and never on a SYN or RST.
 */
static void
nat_restore_unlisted__takes_back_as_many_as_counted(void **state)
{
	const uint32_t r4 = IP4(198, 51, 100, 10);
	struct nat_session u = {
		.proto = UDP, .int_ip = HB, .int_port = 5000, .ext_ip = EXT0,
		.ext_port = 6000, .rem_ip = R1, .rem_port = 53,
		.created_us = T(0), .expires_us = T(300),
	}, t = u;
	const struct ev_nat *ev;
	struct nat_session got;
	uint32_t ip;
	uint16_t port;

	(void)state;
	assert_int_equal(nat_restore(nx.nat, &u, nx.now), 0);
	assert_int_equal(nat_restore_unlisted(nx.nat, UDP, HB, 5000, 2, T(300), nx.now), 0);
	ev_reset();
	assert_int_equal(in4(UDP, R2, 53, EXT0, 6000, 0, &ip, &port), DROP_NONE);
	assert_int_equal(ip, HB);
	assert_int_equal(port, 5000);
	ev = ev_get(0, EV_ADD, EV_CAUSE_NAT_INBOUND);
	assert_int_equal(ev->nsessions, 3);	/* 2 live + 1 still unlisted */
	assert_int_equal(ev->nremote, 2);
	got = get_sess(UDP, HB, 5000, R2, 53);
	assert_true(got.flags & NAT_SF_REPLIED);
	assert_false(got.flags & NAT_SF_HALF);
	ev_reset();
	assert_int_equal(in4(UDP, R3, 53, EXT0, 6000, 0, NULL, NULL), DROP_NONE);
	assert_int_equal(ev_get(0, EV_ADD, EV_CAUSE_NAT_INBOUND)->nsessions, 3);
	/* Two taken back: a third unknown remote is filtered as before. */
	assert_int_equal(in4(UDP, r4, 53, EXT0, 6000, 0, NULL, NULL), DROP_NAT_FILTERED);
	assert_int_equal(nat_stats(nx.nat)->restore_pickups, 2);
	assert_int_equal(nat_count(nx.nat), 3);

	/* TCP: an ACK continues a flow, a SYN or a RST does not; the
	 * picked-up session is established at once. */
	t.proto = TCP;
	t.state = NAT_TCP_ESTABLISHED;
	t.flags = NAT_SF_REPLIED;
	assert_int_equal(nat_restore(nx.nat, &t, nx.now), 0);
	assert_int_equal(nat_restore_unlisted(nx.nat, TCP, HB, 5000, 5, T(300), nx.now), 0);
	assert_int_equal(in4(TCP, R2, 80, EXT0, 6000, TCP_SYN, NULL, NULL), DROP_NAT_FILTERED);
	assert_int_equal(in4(TCP, R2, 80, EXT0, 6000, TCP_RST, NULL, NULL), DROP_NAT_FILTERED);
	ev_reset();
	assert_int_equal(in4(TCP, R2, 80, EXT0, 6000, TCP_ACK, &ip, NULL), DROP_NONE);
	assert_int_equal(ip, HB);
	assert_int_equal(get_sess(TCP, HB, 5000, R2, 80).state, NAT_TCP_ESTABLISHED);
	assert_int_equal(ev_get(0, EV_ADD, EV_CAUSE_NAT_INBOUND)->nsessions, 2 + 4);
	/* The count survives in what the mapping's events say ... */
	nx.now = T(100);
	ev_reset();
	assert_int_equal(out_ok(TCP, HB, 5000, R3, 80, TCP_SYN), 6000);
	assert_int_equal(ev_get(0, EV_ADD, EV_CAUSE_NAT_OUTBOUND)->nsessions, 3 + 4);
	/* ... until the stored expiry: then the remotes are strangers. */
	nx.now = T(301);
	assert_int_equal(in4(TCP, r4, 80, EXT0, 6000, TCP_ACK, NULL, NULL), DROP_NAT_FILTERED);
	assert_int_equal(nat_stats(nx.nat)->restore_pickups, 3);

	/* No such mapping; a protocol the NAT does not know. */
	assert_int_equal(nat_restore_unlisted(nx.nat, UDP, HC, 5000, 1, T(900), nx.now),
	    -ENOENT);
	assert_int_equal(nat_restore_unlisted(nx.nat, 47, HB, 5000, 1, T(900), nx.now),
	    -EINVAL);
}

/*
 * A standby following its peer's history drops a mapping the history says
 * changed or went: every session and the mapping, its external port free
 * again; a forward's mapping stays, its sessions go. No event.
 */
static void
nat_forget__drops_the_mapping_and_its_sessions(void **state)
{
	struct nat_session u = {
		.proto = UDP, .int_ip = HB, .int_port = 5000, .ext_ip = EXT0,
		.ext_port = 6000, .rem_ip = R1, .rem_port = 53,
		.created_us = T(0), .expires_us = T(300),
	}, o = u;

	(void)state;
	assert_int_equal(nat_restore(nx.nat, &u, nx.now), 0);
	u.rem_ip = R2;
	assert_int_equal(nat_restore(nx.nat, &u, nx.now), 0);
	o.int_port = 5001;
	o.ext_port = 6001;
	assert_int_equal(nat_restore(nx.nat, &o, nx.now), 0);
	assert_int_equal(nat_count(nx.nat), 3);
	ev_reset();
	assert_int_equal(nat_forget(nx.nat, UDP, HB, 5000), 0);
	assert_int_equal(nx.o.out.nev, 0);
	assert_int_equal(nat_count(nx.nat), 1);
	assert_int_equal(in4(UDP, R1, 53, EXT0, 6000, 0, NULL, NULL), DROP_NAT_NO_MAPPING);
	assert_int_equal(in4(UDP, R1, 53, EXT0, 6001, 0, NULL, NULL), DROP_NONE);
	assert_int_equal(nat_forget(nx.nat, UDP, HB, 5000), -ENOENT);
	assert_int_equal(nat_forget(nx.nat, 47, HB, 5001), -ENOENT);
	/* Its port is free: another endpoint may be restored onto it. */
	u.int_ip = HC;
	assert_int_equal(nat_restore(nx.nat, &u, nx.now), 0);

	/* A forward keeps its mapping; its sessions go. */
	assert_int_equal(nat_forward_add(nx.nat, TCP, 8080, HB, 80, nx.now, &nx.o.out), 0);
	o.proto = TCP;
	o.state = NAT_TCP_ESTABLISHED;
	o.int_port = 80;
	o.ext_port = 8080;
	assert_int_equal(nat_restore(nx.nat, &o, nx.now), 0);
	assert_int_equal(nat_forget(nx.nat, TCP, HB, 80), 0);
	assert_int_equal(nat_count(nx.nat), 2);
	ev_reset();
	assert_int_equal(in4(TCP, R1, 443, EXT0, 8080, TCP_SYN, NULL, NULL), DROP_NONE);
}

/* ---- sizes, counts, params ---- */

static void
nat_dump__pages_with_a_cursor(void **state)
{
	struct nat_session s[NX_SESS], page[3];
	uint32_t cur = 0;
	size_t n = 0, got;
	int calls = 0;

	(void)state;
	for (uint16_t i = 0; i < 10; i++)
		out_ok(UDP, HA, (uint16_t)(5000 + i), R1, 53, 0);
	do {
		got = nat_dump(nx.nat, page, 3, &cur);
		assert_true(got <= 3);
		memcpy(s + n, page, got * sizeof(*page));
		n += got;
		calls++;
	} while (cur != 0 && calls < 100);
	assert_int_equal(cur, 0);
	assert_int_equal(n, 10);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(s[i].int_ip, HA);
		for (size_t j = i + 1; j < n; j++)
			assert_int_not_equal(s[i].int_port, s[j].int_port);
	}
	assert_int_equal(nat_count(nx.nat), 10);
}

static void
nat_bytes__and_count_are_sane(void **state)
{
	struct nat *small, *big;
	size_t b0, per;

	(void)state;
	b0 = nat_bytes(nx.nat);
	assert_true(b0 > 0);
	for (uint16_t i = 0; i < 100; i++)
		out_ok(UDP, HA + (i & 7), (uint16_t)(5000 + i), R1, 53, 0);
	assert_int_equal(nat_count(nx.nat), 100);
	assert_int_equal(nat_bytes(nx.nat), b0);	/* no allocation after nat_new */
	nx.p.max_sessions = 1u << 12;
	small = nat_new(&nx.p, nx.ext, 1, 1);
	nx.p.max_sessions = 1u << 16;
	big = nat_new(&nx.p, nx.ext, 1, 1);
	assert_non_null(small);
	assert_non_null(big);
	assert_int_equal(nat_count(big), 0);
	per = (nat_bytes(big) - nat_bytes(small)) / ((1u << 16) - (1u << 12));
	assert_true(per >= 40 && per <= 256);
	/* The per-port owner arrays are at least 65536 entries per protocol. */
	assert_true(nat_bytes(small) >= 3 * 65536 * sizeof(uint16_t));
	nat_free(small);
	nat_free(big);
	nat_free(NULL);
}

/* This process's anonymous resident memory, in KiB (/proc/self/status). */
static long
rss_anon_kb(void)
{
	char line[128];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "RssAnon: %ld kB", &kb) == 1)
			break;
	fclose(f);
	assert_true(kb >= 0);
	return kb;
}

/*
 * A table sized for a million sessions (133 MB) costs pages only for the
 * sessions it holds: nat_new touches no slot and no bucket (slots are taken
 * past a high-water mark, and an empty bucket is 0).
 */
static void
nat_new__touches_no_slot_until_used(void **state)
{
	long before, after;

	(void)state;
	nx.p.max_sessions = 1u << 20;
	before = rss_anon_kb();
	nx_open();
	after = rss_anon_kb();
	assert_true(nat_bytes(nx.nat) > 100u << 20);
	assert_true(after - before < 8 * 1024);
	/* Each session touches a slot page or none, and a page in each of
	 * the three bucket arrays (hashed: 3 pages a session at first). */
	for (uint16_t i = 0; i < 500; i++)
		out_ok(UDP, HA + (i & 7), (uint16_t)(5000 + i), R1, 53, 0);
	assert_int_equal(nat_count(nx.nat), 500);
	assert_true(rss_anon_kb() - before < 16 * 1024);
}

/* nat.h: "About 72 bytes per session with one session per mapping". */
/* nat.h: "under 136 bytes per session, every index included". */
static void
nat_bytes__under_136_per_session(void **state)
{
	struct nat *small, *big;
	size_t per;

	(void)state;
	nx.p.max_sessions = 1u << 12;
	small = nat_new(&nx.p, nx.ext, 1, 1);
	nx.p.max_sessions = 1u << 16;
	big = nat_new(&nx.p, nx.ext, 1, 1);
	assert_non_null(small);
	assert_non_null(big);
	per = (nat_bytes(big) - nat_bytes(small)) / ((1u << 16) - (1u << 12));
	nat_free(small);
	nat_free(big);
	if (per < 54 || per >= 136)
		print_error("nat_bytes: %zu bytes per session\n", per);
	assert_true(per >= 54 && per < 136);
}

/*
 * nat_bytes_for is what nat_new allocates, to the byte, whatever the size,
 * pool or per-host limit; nat_sessions_fit finds the largest table under a
 * budget (the router sizes the table from its memory with these).
 */
static void
nat_bytes_for__equals_nat_bytes(void **state)
{
	static const uint32_t sizes[] = { 1, 1000, 4096, 100000, 131072, 131073 };
	uint32_t ext[3] = { nx.ext[0], nx.ext[0] + 1, nx.ext[0] + 2 };
	struct nat_params q;
	struct nat *n;

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		for (unsigned e = 1; e <= 3; e += 2)
			for (uint32_t host = 0; host <= 16384; host += 16384) {
				q = nx.p;
				q.max_sessions = sizes[i];
				q.max_per_host = host;
				q.max_half_open = i & 1 ? 0 : 4096;
				assert_non_null(n = nat_new(&q, ext, e, 1));
				assert_int_equal(nat_bytes_for(&q, e), nat_bytes(n));
				nat_free(n);
			}
	q = nx.p;
	q.max_sessions = 100000;
	/* Exactly the bytes of 100000 sessions: 100000 fits, 100001 does not. */
	assert_int_equal(nat_sessions_fit(&q, 1, nat_bytes_for(&q, 1), 1024, 1u << 20),
	    100000);
	assert_int_equal(nat_sessions_fit(&q, 1, nat_bytes_for(&q, 1) - 1, 1024, 1u << 20),
	    99999);
	assert_int_equal(nat_sessions_fit(&q, 1, SIZE_MAX, 1024, 1u << 20), 1u << 20);
	assert_int_equal(nat_sessions_fit(&q, 1, 0, 1024, 1u << 20), 1024);
}

/*
 * nat_prefetch is a hint: over valid, truncated and odd frames, inside and
 * outside, it reads nothing past a frame (ASan; every frame is its own
 * allocation of exactly its length) and changes nothing.
 */
static void
nat_prefetch__reads_within_frames_and_changes_nothing(void **state)
{
	struct nf_frame f[64];
	uint8_t *copy[64];
	struct tl_pkt p = { .proto = UDP, .ttl = 64, .src = HA, .dst = R1,
	    .sport = 5000, .dport = 53, .payload = pay_u, .plen = sizeof(pay_u) };
	uint8_t full[128];
	size_t len;
	unsigned n = 0;

	(void)state;
	out_ok(UDP, HA, 5000, R1, 53, 0);
	len = tl_build(full, sizeof(full), &p);
	for (size_t l = 0; l <= len && n < 64; l += 3) {
		f[n].data = malloc(l ? l : 1);
		assert_non_null(f[n].data);
		memcpy(f[n].data, full, l);
		f[n].len = (uint16_t)l;
		f[n].ifidx = (uint8_t)(n & 1);
		f[n].flags = 0;
		n++;
	}
	/* An IHL that lies, a non-IPv4 ethertype, ICMP and TCP. */
	full[ETH_HLEN] = 0x4f;
	f[n].data = malloc(len);
	memcpy(f[n].data, full, len);
	f[n].len = (uint16_t)len;
	f[n++].ifidx = 1;
	store_be16(full + 12, ETHERTYPE_ARP);
	f[n].data = malloc(len);
	memcpy(f[n].data, full, len);
	f[n].len = (uint16_t)len;
	f[n++].ifidx = 0;
	for (unsigned i = 0; i < n; i++) {
		copy[i] = malloc(f[i].len ? f[i].len : 1);
		memcpy(copy[i], f[i].data, f[i].len);
	}
	nat_prefetch(nx.nat, f, n, 1);
	nat_prefetch(nx.nat, f, n, 0);
	nat_prefetch(nx.nat, f, 0, 1);
	for (unsigned i = 0; i < n; i++) {
		assert_memory_equal(f[i].data, copy[i], f[i].len);
		free(f[i].data);
		free(copy[i]);
	}
	assert_int_equal(nat_count(nx.nat), 1);
	assert_int_equal(nx.o.out.nev, 1);
}

static void
nat_new__rejects_bad_params(void **state)
{
	struct nat_params p;
	uint32_t ext[NAT_MAX_EXT + 1] = { EXT0 };

	(void)state;
	nat_params_default(&p);
	assert_int_equal(p.max_sessions, 1048576);
	assert_int_equal(p.udp_timeout_s, 300);
	assert_int_equal(p.tcp_est_timeout_s, 7440);
	assert_int_equal(p.tcp_trans_timeout_s, 240);
	assert_int_equal(p.icmp_timeout_s, 60);
	assert_int_equal(p.port_min, 1024);
	assert_int_equal(p.port_max, 65535);
	assert_int_equal(p.filtering, NAT_FILTER_ADDRESS_PORT);
	p.max_sessions = 64;
	assert_null(nat_new(NULL, ext, 1, 1));
	assert_null(nat_new(&p, NULL, 1, 1));
	assert_null(nat_new(&p, ext, 0, 1));
	assert_null(nat_new(&p, ext, NAT_MAX_EXT + 1, 1));
#define BAD(field, value) do {						\
		struct nat_params q = p;				\
		q.field = value;					\
		assert_null(nat_new(&q, ext, 1, 1));			\
	} while (0)
	BAD(max_sessions, 0);
	BAD(port_min, 0);
	BAD(port_max, 1000);		/* below port_min */
	BAD(filtering, 3);
	BAD(udp_timeout_s, 0);
	BAD(tcp_est_timeout_s, 0);
	BAD(tcp_trans_timeout_s, 0);
	BAD(icmp_timeout_s, 0);
	BAD(frag_max, 0);
#undef BAD
	{
		struct nat_params q = p;
		struct nat *n;

		q.port_min = 3000;
		q.port_max = 3000;		/* one port is a range */
		assert_non_null(n = nat_new(&q, ext, NAT_MAX_EXT, 1));
		nat_free(n);
	}
}

/* What was restored reads back the same from nat_dump, creation time too. */
static void
nat_restore__dump_reads_back_the_stored_session(void **state)
{
	struct nat_session s = {
		.proto = TCP, .state = NAT_TCP_ESTABLISHED, .flags = NAT_SF_REPLIED,
		.int_ip = HB, .int_port = 40000, .ext_ip = EXT0, .ext_port = 40000,
		.rem_ip = R1, .rem_port = 80,
		.created_us = T(0), .expires_us = T(7000),
	}, t;

	(void)state;
	nx.now = T(600);		/* the restart, ten minutes on */
	assert_int_equal(nat_restore(nx.nat, &s, nx.now), 0);
	t = get_sess(TCP, HB, 40000, R1, 80);
	assert_int_equal(t.ext_port, s.ext_port);
	assert_int_equal(t.state, s.state);
	assert_int_equal(t.flags, s.flags);
	assert_int_equal(t.expires_us, s.expires_us);
	if (t.created_us != s.created_us)
		print_error("created_us: restored T+%llu s, read back T+%llu s\n",
		    (unsigned long long)((s.created_us - TL_T0) / TL_S),
		    (unsigned long long)((t.created_us - TL_T0) / TL_S));
	assert_int_equal(t.created_us, s.created_us);
}

/* nat.h: ICMP identifiers play the port, "ports below 1024 map below 1024,
 * others to [port_min, port_max]". */
static void
nat_in2out__icmp_identifier_follows_port_classes(void **state)
{
	(void)state;
	nx.p.port_min = 20000;
	nx.p.port_max = 20999;
	nx_open();
	assert_int_equal(out_ok(ICMP, HA, 20500, R1, 0, 0), 20500);
	for (uint32_t h = 1; h < 16; h++) {
		uint16_t x = out_ok(ICMP, HA + h, 20500, R1, 0, 0);

		if (x < 20000 || x > 20999)
			print_error("identifier 20500 of host %u became %u\n", h, x);
		assert_true(x >= 20000 && x <= 20999);
	}
}

/* ---- hostile input (issue 17) ---- */

/* A TCP segment with explicit sequence numbers; xl() it raw, no comparison. */
static enum drop
tcp_seg(bool out, uint32_t src, uint16_t sp, uint32_t dst, uint16_t dp, uint8_t fl,
    uint32_t seq, uint32_t ack, bool corrupt)
{
	uint8_t d[256];
	struct nt_pkt p = pk_tcp(src, sp, dst, dp, fl);

	p.seq = seq;
	p.ack = ack;
	assert_int_not_equal(nt_build(d, sizeof(d), &p), 0);
	if (corrupt)
		d[IPV4_MIN_HLEN + 16] ^= 0x40;	/* the TCP checksum */
	return xl(out, d);
}

/*
 * Issue 17 item 2: spoofed SYNs to a forward, each answered by the server,
 * leave the server's own limit alone and stay half-open (SYN_RECV); past
 * the half-open limit the oldest go, and a real client still gets in.
 */
static void
nat_half__spoofed_syn_flood_cannot_lock_out_a_forward(void **state)
{
	const struct nat_stats *st;
	uint16_t xport;

	(void)state;
	nx.p.max_per_host = 4;
	nx.p.max_half_open = 8;
	nx_open();
	st = nat_stats(nx.nat);
	assert_int_equal(nat_forward_add(nx.nat, TCP, 8080, HB, 80, nx.now, &nx.o.out), 0);
	for (uint32_t i = 0; i < 32; i++)
		assert_int_equal(tcp_seg(false, IP4(100, 64, 0, 1 + i), 1000, EXT0, 8080,
		    TCP_SYN, 7000 + i, 0, false), DROP_NONE);
	assert_int_equal(nat_count(nx.nat), 8);
	assert_int_equal(st->half_open_evicted, 24);
	/* The server answers all 32: 24 SYN-ACKs have no session any more and
	 * may not open one (or they would fill the server's own quota). */
	for (uint32_t i = 0; i < 32; i++)
		assert_int_equal(tcp_seg(true, HB, 80, IP4(100, 64, 0, 1 + i), 1000,
		    TCP_SYN | TCP_ACK, 90000 + i, 7001 + i, false),
		    i < 24 ? DROP_NAT_TCP_INVALID : DROP_NONE);
	for (uint32_t i = 24; i < 32; i++) {
		struct nat_session s = get_sess(TCP, HB, 80, IP4(100, 64, 0, 1 + i), 1000);

		assert_int_equal(s.state, NAT_TCP_SYN_IN);	/* not ESTABLISHED */
		assert_true(s.flags & NAT_SF_HALF);
		assert_int_equal(s.expires_us, T(60));
	}
	/* The server still has its whole quota for connections of its own. */
	for (uint16_t p = 0; p < 4; p++)
		assert_int_equal(out4(TCP, HB, (uint16_t)(50000 + p), R1, 443, TCP_SYN, &xport),
		    DROP_NONE);
	assert_int_equal(out4(TCP, HB, 50004, R1, 443, TCP_SYN, &xport),
	    DROP_NAT_HOST_LIMIT);
	/* A real client right after the flood: handshake completes. */
	assert_int_equal(tcp_seg(false, R1, 33333, EXT0, 8080, TCP_SYN, 100, 0, false),
	    DROP_NONE);
	assert_int_equal(st->half_open_evicted, 25);
	assert_int_equal(tcp_seg(true, HB, 80, R1, 33333, TCP_SYN | TCP_ACK, 5000, 101,
	    false), DROP_NONE);
	assert_int_equal(tcp_seg(false, R1, 33333, EXT0, 8080, TCP_ACK, 101, 5001, false),
	    DROP_NONE);
	assert_int_equal(get_sess(TCP, HB, 80, R1, 33333).state, NAT_TCP_ESTABLISHED);
	assert_int_equal(get_sess(TCP, HB, 80, R1, 33333).expires_us, T(7440));
	assert_int_equal(st->half_open_promoted, 1);
	/* (promoted: it now counts as the server's, past its limit) */
	nx.now = T(61);
	nat_tick(nx.nat, nx.now, &nx.o.out);
	assert_int_equal(nat_count(nx.nat), 5);	/* 4 SYN_SENT, 1 ESTABLISHED */
}

/* Item 2, UDP: a newcomer admitted by endpoint filtering is unreplied for
 * 30 s and outside the host's limit, until the inside answers it. */
static void
nat_half__udp_newcomer_is_unreplied_until_answered(void **state)
{
	struct nat_session s;
	uint16_t xport;

	(void)state;
	nx.p.filtering = NAT_FILTER_ENDPOINT;
	nx.p.max_per_host = 1;
	nx_open();
	xport = out_ok(UDP, HA, 5000, R1, 53, 0);
	for (uint16_t rp = 1; rp <= 20; rp++)
		assert_int_equal(in4(UDP, R2, rp, EXT0, xport, 0, NULL, NULL), DROP_NONE);
	s = get_sess(UDP, HA, 5000, R2, 7);
	assert_true(s.flags & NAT_SF_HALF);
	assert_int_equal(s.expires_us, T(30));
	nx.now = T(10);
	assert_int_equal(out4(UDP, HA, 5000, R2, 7, 0, NULL), DROP_NONE);
	s = get_sess(UDP, HA, 5000, R2, 7);
	assert_false(s.flags & NAT_SF_HALF);
	assert_int_equal(s.expires_us, T(10 + 300));
	nx.now = T(31);
	nat_tick(nx.nat, nx.now, &nx.o.out);
	assert_int_equal(nat_count(nx.nat), 2);	/* R1 and the answered R2:7 */
}

/*
 * Item 6: a RST counts only in the receiver's window (RFC 5961 3.2), a
 * corrupted one never, and CLOSE is not final (RFC 7857 2.2).
 */
static void
nat_rst__only_in_window_and_close_is_not_sticky(void **state)
{
	const uint32_t a_isn = 1000, r_isn = 0x80000000u;

	(void)state;
	assert_int_equal(tcp_seg(true, HA, 40000, R1, 80, TCP_SYN, a_isn, 0, false),
	    DROP_NONE);
	assert_int_equal(tcp_seg(false, R1, 80, EXT0, 40000, TCP_SYN | TCP_ACK, r_isn,
	    a_isn + 1, false), DROP_NONE);
	assert_int_equal(tcp_seg(true, HA, 40000, R1, 80, TCP_ACK, a_isn + 1, r_isn + 1,
	    false), DROP_NONE);
	assert_int_equal(get_sess(TCP, HA, 40000, R1, 80).state, NAT_TCP_ESTABLISHED);
	/* Blind RSTs from outside: behind, far ahead, either way out. */
	assert_int_equal(tcp_seg(false, R1, 80, EXT0, 40000, TCP_RST, r_isn, 0, false),
	    DROP_NAT_RST_WINDOW);
	assert_int_equal(tcp_seg(false, R1, 80, EXT0, 40000, TCP_RST, r_isn + 1 + 65535,
	    0, false), DROP_NAT_RST_WINDOW);
	assert_int_equal(tcp_seg(false, R1, 80, EXT0, 40000, TCP_RST, 12345, 0, false),
	    DROP_NAT_RST_WINDOW);
	/* ...and from inside. */
	assert_int_equal(tcp_seg(true, HA, 40000, R1, 80, TCP_RST, a_isn + 70000, 0,
	    false), DROP_NAT_RST_WINDOW);
	/* An in-window RST with a bad checksum. */
	assert_int_equal(tcp_seg(false, R1, 80, EXT0, 40000, TCP_RST, r_isn + 1, 0, true),
	    DROP_L4_BAD_CSUM);
	assert_int_equal(get_sess(TCP, HA, 40000, R1, 80).state, NAT_TCP_ESTABLISHED);
	assert_int_equal(get_sess(TCP, HA, 40000, R1, 80).expires_us, T(7440));
	/* Data moves the window on; a RST in it now closes. */
	{
		struct nt_pkt p = pk_tcp(R1, 80, EXT0, 40000, TCP_ACK | TCP_PSH);
		uint8_t d[256];

		p.seq = r_isn + 1;
		p.ack = a_isn + 1;
		p.payload = pay_u;
		p.plen = sizeof(pay_u);
		nt_build(d, sizeof(d), &p);
		assert_int_equal(xl(false, d), DROP_NONE);
	}
	assert_int_equal(tcp_seg(false, R1, 80, EXT0, 40000, TCP_RST, r_isn + 1, 0,
	    false), DROP_NAT_RST_WINDOW);	/* (behind the data) */
	nx.now = T(5);
	assert_int_equal(tcp_seg(false, R1, 80, EXT0, 40000, TCP_RST, r_isn + 1 + 16 + 100,
	    0, false), DROP_NONE);
	assert_int_equal(get_sess(TCP, HA, 40000, R1, 80).state, NAT_TCP_RST);
	assert_int_equal(get_sess(TCP, HA, 40000, R1, 80).expires_us, T(5 + 240));
	/* Not sticky: the flow goes on, and so does the session. */
	nx.now = T(6);
	assert_int_equal(tcp_seg(true, HA, 40000, R1, 80, TCP_ACK, a_isn + 1,
	    r_isn + 17, false), DROP_NONE);
	assert_int_equal(get_sess(TCP, HA, 40000, R1, 80).state, NAT_TCP_ESTABLISHED);
	assert_int_equal(get_sess(TCP, HA, 40000, R1, 80).expires_us, T(6 + 7440));
	/* A refused SYN: the RST must acknowledge it exactly. */
	assert_int_equal(tcp_seg(true, HA, 40001, R1, 81, TCP_SYN, 5, 0, false), DROP_NONE);
	assert_int_equal(tcp_seg(false, R1, 81, EXT0, 40001, TCP_RST | TCP_ACK, 0, 7,
	    false), DROP_NAT_RST_WINDOW);
	assert_int_equal(tcp_seg(false, R1, 81, EXT0, 40001, TCP_RST | TCP_ACK, 0, 6,
	    false), DROP_NONE);
	assert_int_equal(get_sess(TCP, HA, 40001, R1, 81).state, NAT_TCP_RST);
}

/*
 * Item 7: a corrupted SYN opens nothing, and a corrupted ICMP error is
 * dropped, not forwarded with a freshly right checksum.
 */
static void
nat_csum__corrupt_segments_and_icmp_errors_are_dropped(void **state)
{
	uint8_t o[128], e[256];
	struct nt_pkt p = pk_udp_a_r1(), err;
	size_t olen, elen;

	(void)state;
	assert_int_equal(tcp_seg(true, HA, 40000, R1, 80, TCP_SYN, 1, 0, true),
	    DROP_L4_BAD_CSUM);
	assert_int_equal(nat_count(nx.nat), 0);
	olen = nt_build(o, sizeof(o), &p);
	assert_int_equal(xl(true, o), DROP_NONE);
	/* R1's router says port unreachable, quoting the translated datagram */
	err = pk_err(RT, EXT0, ICMP_UNREACH, ICMP_UNREACH_PORT, o, 28);
	elen = nt_build(e, sizeof(e), &err);
	e[IPV4_MIN_HLEN + 8 + 12] ^= 0x01;	/* a flipped bit in the quote */
	assert_int_equal(xl(false, e), DROP_L4_BAD_CSUM);
	e[IPV4_MIN_HLEN + 8 + 12] ^= 0x01;
	assert_int_equal(xl(false, e), DROP_NONE);
	assert_true(nt_csums_ok(e, elen));
	(void)olen;
	/* A corrupted first reply is not a reply. */
	{
		struct nt_pkt r = pk_in(UDP, R1, 53, EXT0, 12345, 0);
		uint8_t d[256];

		nt_build(d, sizeof(d), &r);
		d[IPV4_MIN_HLEN + 9] ^= 0xff;	/* payload */
		assert_int_equal(xl(false, d), DROP_L4_BAD_CSUM);
		assert_false(get_sess(UDP, HA, 12345, R1, 53).flags & NAT_SF_REPLIED);
	}
}

/* Item 8: the port search starts where a keyed hash says (RFC 6056 alg. 3):
 * another key, other ports; the same key, the same ones. */
static void
nat_ports__random_ports_follow_the_key(void **state)
{
	uint16_t first[2][8];

	(void)state;
	for (int k = 0; k < 2; k++) {
		nx.p.key[0] = 0x1111 + (uint64_t)k;
		nx.p.key[1] = 0x2222;
		nx_open();
		/* port 40000 taken by A: B's 40000 needs a random one */
		out_ok(UDP, HA, 40000, R1, 53, 0);
		for (int i = 0; i < 8; i++)
			first[k][i] = out_ok(UDP, (uint32_t)(HB + (uint32_t)i), 40000, R1, 53, 0);
	}
	assert_memory_not_equal(first[0], first[1], sizeof(first[0]));
	nx.p.key[0] = 0x1111;
	nx_open();
	out_ok(UDP, HA, 40000, R1, 53, 0);
	for (int i = 0; i < 8; i++)
		assert_int_equal(out_ok(UDP, (uint32_t)(HB + (uint32_t)i), 40000, R1, 53, 0),
		    first[0][i]);
}

/* ---- differential test against a reference model ---- */

/*
 * The reference keeps mappings and sessions in plain arrays and searches
 * them linearly. It follows nat.h: endpoint-independent mappings that live
 * while they have sessions; port preservation when the port is free on the
 * host's external address, else a free port of the same class and parity;
 * one external address per inside host; filtering; the TCP states; expiry
 * that is lazy (an expired session stays, holding its mapping and port,
 * until a lookup for that very session or a sweep finds it; filtering does
 * not count it); events with their causes, lazy refresh when the expiry
 * moved by more than half the lifetime. Where nat.h says nothing (a SYN on
 * an established session, a SYN after TIME_WAIT, which of two limits is
 * reported) it takes the natural reading; a FIN opening a session, where
 * the code and nat.h disagree, is left to its own test and never sent here.
 */
#define RM_N	512

struct rm_map {
	bool		used;
	uint8_t		proto;
	uint32_t	int_ip, ext_ip;
	uint16_t	int_port, ext_port;
};

struct rm_sess {
	bool		used;
	int		map;
	uint32_t	rem_ip;
	uint16_t	rem_port;
	uint8_t		state, flags;
	uint32_t	created, expires, reported;	/* seconds since T(0) */
	bool		synack;		/* half-open TCP: the inside sent SYN/ACK */
	bool		known[2];	/* a segment seen from inside [0], remote [1] */
	uint32_t	nxt[2];		/* the sequence number after it */
};

/* Every TCP segment of the differential test carries this sequence number
 * and acknowledges 0: ports and flags vary, sequence numbers do not. */
#define RM_SEQ		0x01020304u

static struct {
	struct rm_map	m[RM_N];
	struct rm_sess	s[RM_N];
	uint32_t	host_ip[16], host_ext[16];
	unsigned	nhost;
	struct nf_event	ev[RM_N];
	unsigned	nev;
	uint32_t	sec;
	uint64_t	seed, rng;
	unsigned	step;
	char		what[160];
	unsigned	accepted, dropped, expired_seen, refreshes;
} rm;

static void
diff_fail(const char *cond, int line)
{
	print_error("differential: seed %llu, step %u (%s): %s failed (line %d)\n",
	    (unsigned long long)rm.seed, rm.step, rm.what, cond, line);
	fail();
}

#define DCHECK(c)	do { if (!(c)) diff_fail(#c, __LINE__); } while (0)

static uint32_t
rm_rand(uint32_t n)
{
	rm.rng ^= rm.rng << 13;
	rm.rng ^= rm.rng >> 7;
	rm.rng ^= rm.rng << 17;
	return (uint32_t)(rm.rng % n);
}

static int
rm_find_map(uint8_t proto, uint32_t ip, uint16_t port)
{
	for (int i = 0; i < RM_N; i++)
		if (rm.m[i].used && rm.m[i].proto == proto && rm.m[i].int_ip == ip &&
		    rm.m[i].int_port == port)
			return i;
	return -1;
}

static int
rm_by_ext(uint8_t proto, uint32_t xip, uint16_t xport)
{
	for (int i = 0; i < RM_N; i++)
		if (rm.m[i].used && rm.m[i].proto == proto && rm.m[i].ext_ip == xip &&
		    rm.m[i].ext_port == xport)
			return i;
	return -1;
}

static int
rm_find_sess(int mi, uint32_t rip, uint16_t rport)
{
	for (int i = 0; i < RM_N; i++)
		if (rm.s[i].used && rm.s[i].map == mi && rm.s[i].rem_ip == rip &&
		    rm.s[i].rem_port == rport)
			return i;
	return -1;
}

static unsigned
rm_nsess(void)
{
	unsigned n = 0;

	for (int i = 0; i < RM_N; i++)
		n += rm.s[i].used;
	return n;
}

static unsigned
rm_map_nsess(int mi)
{
	unsigned n = 0;

	for (int i = 0; i < RM_N; i++)
		n += rm.s[i].used && rm.s[i].map == mi;
	return n;
}

/* nat.h: half-open sessions do not count against the host's limit. */
static unsigned
rm_host_nsess(uint32_t ip)
{
	unsigned n = 0;

	for (int i = 0; i < RM_N; i++)
		n += rm.s[i].used && rm.m[rm.s[i].map].int_ip == ip &&
		    !(rm.s[i].flags & NAT_SF_HALF);
	return n;
}

static bool
rm_expired(int si)
{
	return rm.sec >= rm.s[si].expires;
}

static uint32_t
rm_life(uint8_t proto, uint8_t state, uint8_t flags)
{
	if (flags & NAT_SF_HALF)
		return proto == TCP ? nx.p.tcp_syn_recv_timeout_s :
		    nx.p.udp_unreplied_timeout_s;
	if (proto == UDP)
		return nx.p.udp_timeout_s;
	if (proto == ICMP)
		return nx.p.icmp_timeout_s;
	return state == NAT_TCP_ESTABLISHED || state == NAT_TCP_FIN_OUT ||
	    state == NAT_TCP_FIN_IN ? nx.p.tcp_est_timeout_s : nx.p.tcp_trans_timeout_s;
}

static void
rm_emit(enum ev_op op, enum ev_cause cause, int si, bool map_new, bool map_gone)
{
	const struct rm_sess *s = &rm.s[si];
	const struct rm_map *m = &rm.m[s->map];
	struct nf_event *e = &rm.ev[rm.nev++];

	memset(e, 0, sizeof(*e));
	e->table = EV_TABLE_NAT;
	e->op = (uint8_t)op;
	e->cause = (uint8_t)cause;
	e->now_us = nx.now;
	e->nat = (struct ev_nat){
		.proto = m->proto, .state = s->state, .flags = s->flags,
		.mapping_new = map_new, .mapping_gone = map_gone,
		.int_ip = m->int_ip, .ext_ip = m->ext_ip, .rem_ip = s->rem_ip,
		.int_port = m->int_port, .ext_port = m->ext_port, .rem_port = s->rem_port,
		.created_us = T(s->created), .expires_us = T(s->expires),
	};
}

/* Remove an expired session (and its mapping with the last one). */
static bool
rm_del(int si)
{
	int mi = rm.s[si].map;
	bool gone = rm_map_nsess(mi) == 1;

	rm_emit(EV_REMOVE, EV_CAUSE_NAT_TIMEOUT, si, false, gone);
	rm.s[si].used = false;
	if (gone)
		rm.m[mi].used = false;
	rm.expired_seen++;
	return gone;
}

static uint8_t
rm_tcp_next(const struct rm_sess *s, uint8_t fl, bool out)
{
	uint8_t st = s->state;
	bool half = s->flags & NAT_SF_HALF;

	if (fl & TCP_RST)
		return NAT_TCP_RST;
	if (fl & TCP_SYN) {
		if (st == NAT_TCP_NONE || st == NAT_TCP_TIME_WAIT || st == NAT_TCP_RST)
			return out ? NAT_TCP_SYN_OUT : NAT_TCP_SYN_IN;
		/* nat.h: a half-open session waits for the handshake's last ACK */
		if ((st == NAT_TCP_SYN_OUT && !out) || (st == NAT_TCP_SYN_IN && out && !half))
			return NAT_TCP_ESTABLISHED;
		return st;
	}
	if (fl & TCP_FIN) {
		if (st == NAT_TCP_NONE)		/* nat.h: picked up closing, from inside */
			return out ? NAT_TCP_FIN_OUT : st;
		if (st == NAT_TCP_ESTABLISHED)
			return out ? NAT_TCP_FIN_OUT : NAT_TCP_FIN_IN;
		if ((st == NAT_TCP_FIN_OUT && !out) || (st == NAT_TCP_FIN_IN && out))
			return NAT_TCP_TIME_WAIT;
		return st;
	}
	/* nat.h: picked up from inside; from outside it stays NONE (transitory) */
	if (st == NAT_TCP_NONE && out)
		return NAT_TCP_ESTABLISHED;
	if (st == NAT_TCP_SYN_IN && !out && s->synack)
		return NAT_TCP_ESTABLISHED;
	/* RFC 7857 2.2: a RST is not final */
	if (st == NAT_TCP_RST && (out || !half))
		return NAT_TCP_ESTABLISHED;
	return st;
}

/* nat.h: a RST counts only in the receiver's window (or answering a SYN). */
static bool
rm_rst_ok(const struct rm_sess *s, int snd)
{
	if (!s->known[snd])
		return !s->known[!snd] || s->nxt[!snd] == 0;	/* acks 0 */
	return RM_SEQ - s->nxt[snd] < 65535u;
}

/* Note a packet on a session; false (nothing changed) for a refused RST. */
static bool
rm_touch(int si, uint8_t fl, bool out, bool fresh)
{
	struct rm_sess *s = &rm.s[si];
	uint8_t proto = rm.m[s->map].proto, was = s->state, was_flags = s->flags;
	uint32_t life;
	int snd = out ? 0 : 1;

	if (proto == TCP) {
		uint32_t end = RM_SEQ + !!(fl & TCP_SYN) + !!(fl & TCP_FIN);
		bool opens = (fl & TCP_SYN) && was != NAT_TCP_ESTABLISHED &&
		    was != NAT_TCP_FIN_OUT && was != NAT_TCP_FIN_IN;

		if ((fl & TCP_RST) && !fresh && !rm_rst_ok(s, snd))
			return false;
		s->state = rm_tcp_next(s, fl, out);
		if (!(fl & TCP_RST) && (opens || !s->known[snd] ||
		    ((int32_t)(RM_SEQ - s->nxt[snd]) <= 65535 &&
		    (int32_t)(end - s->nxt[snd]) > 0))) {
			s->nxt[snd] = end;
			s->known[snd] = true;
		}
		if ((s->flags & NAT_SF_HALF) && out && (fl & TCP_SYN) &&
		    s->state == NAT_TCP_SYN_IN)
			s->synack = true;
	}
	if ((s->flags & NAT_SF_HALF) && (proto == TCP ?
	    s->state == NAT_TCP_ESTABLISHED || s->state == NAT_TCP_FIN_OUT ||
	    s->state == NAT_TCP_FIN_IN || s->state == NAT_TCP_TIME_WAIT : out)) {
		s->flags &= (uint8_t)~NAT_SF_HALF;	/* the inside answered */
		s->synack = false;
	}
	if (!out)
		s->flags |= NAT_SF_REPLIED;
	life = rm_life(proto, s->state, s->flags);
	s->expires = rm.sec + life;
	if (fresh) {
		s->reported = s->expires;
	} else if (s->state != was) {
		s->reported = s->expires;
		rm_emit(EV_UPDATE, EV_CAUSE_NAT_TCP, si, false, false);
	} else if ((s->flags ^ was_flags) & NAT_SF_REPLIED) {
		/* nat.h: the first reply is an event of its own */
		s->reported = s->expires;
		rm_emit(EV_UPDATE, EV_CAUSE_NAT_REPLY, si, false, false);
	} else if (2 * (uint64_t)(s->expires - s->reported) > life) {
		s->reported = s->expires;
		rm_emit(EV_UPDATE, EV_CAUSE_NAT_REFRESH, si, false, false);
		rm.refreshes++;
	}
	return true;
}

static int
rm_new_sess(int mi, uint32_t rip, uint16_t rport, uint8_t flags)
{
	for (int i = 0; i < RM_N; i++)
		if (!rm.s[i].used) {
			rm.s[i] = (struct rm_sess){ .used = true, .map = mi, .rem_ip = rip,
			    .rem_port = rport, .flags = flags, .created = rm.sec };
			return i;
		}
	fail();
	return -1;
}

static bool
rm_port_owned(uint8_t proto, uint32_t xip, uint16_t port)
{
	return rm_by_ext(proto, xip, port) >= 0;
}

/* A new mapping got xip:xport for ip:port: is that what nat.h allows? */
static int
rm_new_map(uint8_t proto, uint32_t ip, uint16_t port, uint32_t xip, uint16_t xport)
{
	uint32_t lo, hi;
	unsigned h;
	int i;

	for (h = 0; h < rm.nhost && rm.host_ip[h] != ip; h++)
		;
	if (h == rm.nhost) {
		DCHECK(xip == EXT0 || xip == EXT1);
		rm.host_ip[h] = ip;
		rm.host_ext[h] = xip;
		rm.nhost++;
	}
	DCHECK(xip == rm.host_ext[h]);				/* paired pooling */
	DCHECK(!rm_port_owned(proto, xip, xport));		/* never shared */
	if (proto == ICMP) {
		lo = 1;		/* identifier classes: own test */
		hi = 65535;
	} else if (port < 1024) {
		lo = 1;
		hi = 1023;
	} else {
		lo = nx.p.port_min;
		hi = nx.p.port_max;
	}
	DCHECK(xport >= lo && xport <= hi);
	if (port >= lo && port <= hi && !rm_port_owned(proto, xip, port))
		DCHECK(xport == port);				/* preserved */
	else
		DCHECK((xport & 1) == (port & 1));		/* parity */
	for (i = 0; i < RM_N && rm.m[i].used; i++)
		;
	DCHECK(i < RM_N);
	rm.m[i] = (struct rm_map){ .used = true, .proto = proto, .int_ip = ip,
	    .int_port = port, .ext_ip = xip, .ext_port = xport };
	return i;
}

static bool
ev_same(const struct nf_event *a, const struct nf_event *b, bool ignore_gone)
{
	return a->table == b->table && a->op == b->op && a->cause == b->cause &&
	    a->now_us == b->now_us && a->nat.proto == b->nat.proto &&
	    a->nat.state == b->nat.state && a->nat.flags == b->nat.flags &&
	    a->nat.mapping_new == b->nat.mapping_new &&
	    (ignore_gone || a->nat.mapping_gone == b->nat.mapping_gone) &&
	    a->nat.int_ip == b->nat.int_ip && a->nat.int_port == b->nat.int_port &&
	    a->nat.ext_ip == b->nat.ext_ip && a->nat.ext_port == b->nat.ext_port &&
	    a->nat.rem_ip == b->nat.rem_ip && a->nat.rem_port == b->nat.rem_port &&
	    a->nat.created_us == b->nat.created_us &&
	    a->nat.expires_us == b->nat.expires_us;
}

static void
ev_print(const char *who, const struct nf_event *e)
{
	char a[16], b[16], c[16];

	print_error("  %s: %s/%s p%u %s:%u->%s:%u rem %s:%u st %u fl %u new %u gone %u "
	    "created +%llu expires +%llu\n", who, ev_op_name(e->op),
	    ev_cause_name(e->cause), e->nat.proto, ipv4_ntop(e->nat.int_ip, a),
	    e->nat.int_port, ipv4_ntop(e->nat.ext_ip, b), e->nat.ext_port,
	    ipv4_ntop(e->nat.rem_ip, c), e->nat.rem_port, e->nat.state, e->nat.flags,
	    e->nat.mapping_new, e->nat.mapping_gone,
	    (unsigned long long)((e->nat.created_us - TL_T0) / TL_S),
	    (unsigned long long)((e->nat.expires_us - TL_T0) / TL_S));
}

/* The NAT's events are the reference's, in order (a sweep: in any order). */
static void
rm_compare_events(bool any_order)
{
	bool ok = nx.o.out.nev == rm.nev;
	unsigned gone_nat = 0, gone_ref = 0;
	bool used[RM_N] = { false };

	for (unsigned i = 0; ok && i < rm.nev; i++) {
		if (!any_order) {
			ok = ev_same(&nx.o.ev[i], &rm.ev[i], false);
			continue;
		}
		/* mapping_gone goes with whichever session a sweep takes last */
		ok = false;
		for (unsigned j = 0; j < rm.nev && !ok; j++)
			if (!used[j] && ev_same(&nx.o.ev[i], &rm.ev[j], true))
				used[j] = ok = true;
		gone_nat += nx.o.ev[i].nat.mapping_gone;
		gone_ref += rm.ev[i].nat.mapping_gone;
	}
	if (ok && gone_nat != gone_ref)
		ok = false;
	if (!ok) {
		for (unsigned i = 0; i < nx.o.out.nev; i++)
			ev_print("nat", &nx.o.ev[i]);
		for (unsigned i = 0; i < rm.nev; i++)
			ev_print("ref", &rm.ev[i]);
	}
	DCHECK(ok);
}

static void
rm_compare_drop(enum drop got, enum drop want, enum drop alt)
{
	if (got != want && got != alt)
		print_error("  nat: %s, ref: %s\n", drop_name(got), drop_name(want));
	DCHECK(got == want || got == alt);
}

static void
diff_out(uint8_t proto, uint32_t ip, uint16_t port, uint32_t rip, uint16_t rport,
    uint8_t fl)
{
	uint16_t rkey = proto == ICMP ? 0 : rport, xport;
	int mi = rm_find_map(proto, ip, port), si = -1;
	enum drop want = DROP_NONE, alt = DROP_NONE, got;
	uint8_t d[256], want_b[256];
	struct nt_pkt p, q;
	bool map_new = false;
	size_t len;
	uint32_t xip;

	if (mi >= 0 && (si = rm_find_sess(mi, rip, rkey)) >= 0 && rm_expired(si)) {
		if (rm_del(si))
			mi = -1;
		si = -1;
	}
	if (si < 0 && (fl & (TCP_FIN | TCP_SYN | TCP_RST)) == TCP_FIN)
		fl = TCP_ACK;		/* see above */
	if (si < 0 && proto == TCP && (fl & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK)) {
		want = alt = DROP_NAT_TCP_INVALID;	/* answers no SYN we saw */
	} else if (si < 0) {
		bool full = rm_nsess() >= nx.p.max_sessions;
		bool host = rm_host_nsess(ip) >= nx.p.max_per_host;

		if (full)
			want = DROP_NAT_TABLE_FULL, alt = host ? DROP_NAT_HOST_LIMIT : want;
		else if (host)
			want = alt = DROP_NAT_HOST_LIMIT;
	} else if (proto == TCP && (fl & TCP_RST) && !rm_rst_ok(&rm.s[si], 0)) {
		want = alt = DROP_NAT_RST_WINDOW;
	}
	snprintf(rm.what, sizeof(rm.what), "out p%u 192.168.1.%u:%u -> %u:%u fl %#x",
	    proto, ip & 0xff, port, rip & 0xff, rport, fl);
	p = pk_out(proto, ip, port, rip, rport, fl);
	len = nt_build(d, sizeof(d), &p);
	got = xl(true, d);
	rm_compare_drop(got, want, alt);
	if (got != DROP_NONE) {
		rm.dropped++;
		rm_compare_events(false);
		return;
	}
	rm.accepted++;
	xip = load_be32(d + 12);
	xport = load_be16(d + IPV4_MIN_HLEN + (proto == ICMP ? 4 : 0));
	q = p;
	q.src = xip;
	if (proto == ICMP)
		q.icmp_rest = (uint32_t)xport << 16 | (p.icmp_rest & 0xffff);
	else
		q.sport = xport;
	nt_build(want_b, sizeof(want_b), &q);
	DCHECK(memcmp(d, want_b, len) == 0);
	if (mi < 0) {
		mi = rm_new_map(proto, ip, port, xip, xport);
		map_new = true;
	}
	DCHECK(rm.m[mi].ext_ip == xip && rm.m[mi].ext_port == xport);	/* EIM */
	if (si < 0) {
		si = rm_new_sess(mi, rip, rkey, 0);
		rm_touch(si, fl, true, true);
		rm_emit(EV_ADD, EV_CAUSE_NAT_OUTBOUND, si, map_new, false);
	} else {
		rm_touch(si, fl, true, false);
	}
	rm_compare_events(false);
}

static void
diff_in(uint8_t proto, uint32_t rip, uint16_t rport, uint32_t xip, uint16_t xport,
    uint8_t fl)
{
	uint16_t rkey = proto == ICMP ? 0 : rport;
	int mi = rm_by_ext(proto, xip, xport), si = -1;
	enum drop want = DROP_NONE, alt = DROP_NONE, got;
	uint8_t d[256], want_b[256];
	struct nt_pkt p, q;
	size_t len;

	if (mi < 0)
		want = alt = DROP_NAT_NO_MAPPING;
	if (mi >= 0 && (si = rm_find_sess(mi, rip, rkey)) >= 0 && rm_expired(si)) {
		if (rm_del(si)) {
			mi = -1;
			want = alt = DROP_NAT_NO_MAPPING;
		}
		si = -1;
	}
	if (si < 0 && (fl & (TCP_FIN | TCP_SYN | TCP_RST)) == TCP_FIN)
		fl = TCP_ACK;
	if (mi >= 0 && si < 0) {
		bool admit = nx.p.filtering == NAT_FILTER_ENDPOINT;

		for (int i = 0; i < RM_N && nx.p.filtering == NAT_FILTER_ADDRESS; i++)
			if (rm.s[i].used && rm.s[i].map == mi && rm.s[i].rem_ip == rip &&
			    !rm_expired(i))
				admit = true;
		if (!admit)
			want = alt = DROP_NAT_FILTERED;
		else if (proto == TCP && (fl & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK))
			want = alt = DROP_NAT_TCP_INVALID;
		else if (rm_nsess() >= nx.p.max_sessions)
			want = alt = DROP_NAT_TABLE_FULL;
		/* (half-open: the host's own limit does not apply) */
	} else if (si >= 0 && proto == TCP && (fl & TCP_RST) && !rm_rst_ok(&rm.s[si], 1)) {
		want = alt = DROP_NAT_RST_WINDOW;
	}
	snprintf(rm.what, sizeof(rm.what), "in p%u %u:%u -> %u:%u fl %#x",
	    proto, rip & 0xff, rport, xip & 0xff, xport, fl);
	p = pk_in(proto, rip, rport, xip, xport, fl);
	len = nt_build(d, sizeof(d), &p);
	got = xl(false, d);
	rm_compare_drop(got, want, alt);
	if (got != DROP_NONE) {
		rm.dropped++;
		rm_compare_events(false);
		return;
	}
	rm.accepted++;
	q = p;
	q.dst = rm.m[mi].int_ip;
	if (proto == ICMP)
		q.icmp_rest = (uint32_t)rm.m[mi].int_port << 16 | (p.icmp_rest & 0xffff);
	else
		q.dport = rm.m[mi].int_port;
	nt_build(want_b, sizeof(want_b), &q);
	DCHECK(memcmp(d, want_b, len) == 0);
	if (si < 0) {
		si = rm_new_sess(mi, rip, rkey, NAT_SF_INBOUND | NAT_SF_HALF);
		rm_touch(si, fl, false, true);
		rm_emit(EV_ADD, EV_CAUSE_NAT_INBOUND, si, false, false);
	} else {
		rm_touch(si, fl, false, false);
	}
	rm_compare_events(false);
}

static void
diff_tick(void)
{
	snprintf(rm.what, sizeof(rm.what), "tick");
	for (int i = 0; i < RM_N; i++)
		if (rm.s[i].used && rm_expired(i))
			rm_del(i);
	nat_tick(nx.nat, nx.now, &nx.o.out);
	rm_compare_events(true);
}

/* nat_count and every dumped session against the reference. */
static void
diff_compare_tables(void)
{
	size_t n = dump_all(nx.nat, dumped, 1024);

	snprintf(rm.what, sizeof(rm.what), "tables");
	DCHECK(nat_count(nx.nat) == rm_nsess());
	DCHECK(n == rm_nsess());
	for (size_t k = 0; k < n; k++) {
		const struct nat_session *d = &dumped[k];
		int mi = rm_find_map(d->proto, d->int_ip, d->int_port), si;

		DCHECK(mi >= 0);
		si = rm_find_sess(mi, d->rem_ip, d->rem_port);
		DCHECK(si >= 0);
		DCHECK(d->ext_ip == rm.m[mi].ext_ip && d->ext_port == rm.m[mi].ext_port);
		DCHECK(d->state == rm.s[si].state);
		DCHECK(d->flags == rm.s[si].flags);
		DCHECK(d->created_us == T(rm.s[si].created));
		DCHECK(d->expires_us == T(rm.s[si].expires));
	}
}

static const uint16_t diff_ports[] = { 53, 5000, 5001, 40000 };
static const uint16_t diff_ids[] = { 5000, 5001, 40000, 40001 };
static const uint32_t diff_rem[] = { R1, R2, R3 };
static const uint16_t diff_rports[] = { 53, 80, 443 };
static const uint8_t diff_fl[] = { TCP_SYN, TCP_SYN | TCP_ACK, TCP_ACK,
	TCP_ACK | TCP_PSH, TCP_FIN | TCP_ACK, TCP_RST | TCP_ACK };

static uint8_t
diff_proto(void)
{
	uint32_t r = rm_rand(100);

	return r < 50 ? UDP : r < 85 ? TCP : ICMP;
}

static void
diff_run(uint64_t seed, uint8_t filtering, uint32_t max_sessions, uint32_t per_host,
    unsigned steps)
{
	memset(&rm, 0, sizeof(rm));
	rm.seed = rm.rng = seed;
	nx.p.filtering = filtering;
	nx.p.max_sessions = max_sessions;
	nx.p.max_per_host = per_host;
	nx.p.udp_timeout_s = 30;
	nx.p.icmp_timeout_s = 10;
	nx.p.tcp_est_timeout_s = 100;
	nx.p.tcp_trans_timeout_s = 20;
	nx.n_ext = 2;
	nx_open();
	for (rm.step = 0; rm.step < steps; rm.step++) {
		uint32_t r = rm_rand(100), dt = rm_rand(100);

		/* Most steps within a second, some past a timeout. */
		dt = dt < 55 ? 0 : dt < 80 ? 1 : dt < 95 ? rm_rand(6) : 10 + rm_rand(30);
		nx.now += dt * TL_S;
		rm.sec = (uint32_t)((nx.now - TL_T0) / TL_S);
		ev_reset();
		rm.nev = 0;
		if (r < 50) {
			uint8_t proto = diff_proto();
			uint16_t port = proto == ICMP ? diff_ids[rm_rand(4)] :
			    diff_ports[rm_rand(4)];

			diff_out(proto, HA + rm_rand(4), port, diff_rem[rm_rand(3)],
			    diff_rports[rm_rand(3)], diff_fl[rm_rand(6)]);
		} else if (r < 93) {
			uint8_t proto = diff_proto();
			uint32_t xip = rm_rand(2) ? EXT1 : EXT0, rip = diff_rem[rm_rand(3)];
			uint16_t xport = (uint16_t)(1024 + rm_rand(64512));
			uint16_t rport = diff_rports[rm_rand(3)];
			int mi = (int)rm_rand(RM_N), si;

			if (rm_rand(100) < 75) {
				/* Towards a mapping, most often from a remote it knows. */
				for (int k = 0; k < RM_N && !rm.m[mi].used; k++)
					mi = (mi + 1) % RM_N;
				if (rm.m[mi].used) {
					proto = rm.m[mi].proto;
					xip = rm.m[mi].ext_ip;
					xport = rm.m[mi].ext_port;
					si = (int)rm_rand(RM_N);
					for (int k = 0; k < RM_N && !(rm.s[si].used &&
					    rm.s[si].map == mi); k++)
						si = (si + 1) % RM_N;
					if (rm_rand(100) < 70 && rm.s[si].used &&
					    rm.s[si].map == mi) {
						rip = rm.s[si].rem_ip;
						rport = rm.s[si].rem_port;
					}
				}
			} else if (rm_rand(2)) {
				xport = rm_rand(2) ? diff_ports[rm_rand(4)] : diff_ids[rm_rand(4)];
			}
			diff_in(proto, rip, rport, xip, xport, diff_fl[rm_rand(6)]);
		} else {
			diff_tick();
		}
		DCHECK(nat_count(nx.nat) == rm_nsess());
		if (rm.step % 256 == 255)
			diff_compare_tables();
	}
	nx.now += 5 * TL_S;
	rm.sec = (uint32_t)((nx.now - TL_T0) / TL_S);
	ev_reset();
	rm.nev = 0;
	diff_tick();
	diff_compare_tables();
	print_message("differential seed %llu: %u accepted, %u dropped, %u expired, "
	    "%u refreshes, %zu sessions at the end\n", (unsigned long long)seed,
	    rm.accepted, rm.dropped, rm.expired_seen, rm.refreshes, nat_count(nx.nat));
	/* The run must have exercised what it compares. */
	assert_true(rm.accepted > steps / 4);
	assert_true(rm.dropped > 0);
	assert_true(rm.expired_seen > 0);
}

static void
nat__matches_reference_address_port_filtering(void **state)
{
	(void)state;
	diff_run(0x5eed0001, NAT_FILTER_ADDRESS_PORT, 64, 20, 4000);
}

static void
nat__matches_reference_address_filtering(void **state)
{
	(void)state;
	diff_run(0x5eed0002, NAT_FILTER_ADDRESS, 256, 1000, 4000);
}

static void
nat__matches_reference_endpoint_filtering(void **state)
{
	(void)state;
	diff_run(0x5eed0003, NAT_FILTER_ENDPOINT, 48, 16, 4000);
}

/* ---- through the pipeline ---- */

/*
 * The router: 0 "inside" 192.168.1.1/24 (02:00:00:00:01:01), 1 "outside"
 * 203.0.113.1/24 (02:00:00:00:02:01), NAT on the outside, optionally the
 * pool address 203.0.113.2. Static neighbours: A and B inside, remote R
 * 203.0.113.20 (02:bb:00:00:00:14) outside.
 */
#define IN_ADDR		IP4(192, 168, 1, 1)
#define OUT_ADDR	EXT0
#define POOL_ADDR	EXT1
#define HR		IP4(203, 0, 113, 20)

static const uint8_t mac_in[ETH_ALEN] = { 0x02, 0x00, 0x00, 0x00, 0x01, 0x01 };
static const uint8_t mac_out[ETH_ALEN] = { 0x02, 0x00, 0x00, 0x00, 0x02, 0x01 };
static const uint8_t mac_a[ETH_ALEN] = { 0x02, 0xaa, 0x00, 0x00, 0x00, 0x0a };
static const uint8_t mac_b[ETH_ALEN] = { 0x02, 0xaa, 0x00, 0x00, 0x00, 0x0b };
static const uint8_t mac_r[ETH_ALEN] = { 0x02, 0xbb, 0x00, 0x00, 0x00, 0x14 };

static struct {
	struct nf	*nf;
	struct tl_out	o;
	uint64_t	now;
	uint16_t	mtu_in;		/* inside MTU for the next px_open; 0: 1500 */
	_Alignas(8) uint8_t buf[4][2048];
} px;

static void
px_open(unsigned n_pool)
{
	struct nf_config cfg;

	nf_config_default(&cfg);
	cfg.n_iface = 2;
	strcpy(cfg.iface[0].name, "inside");
	memcpy(cfg.iface[0].mac, mac_in, ETH_ALEN);
	cfg.iface[0].addr = IN_ADDR;
	cfg.iface[0].plen = 24;
	cfg.iface[0].mtu = px.mtu_in;
	strcpy(cfg.iface[1].name, "outside");
	memcpy(cfg.iface[1].mac, mac_out, ETH_ALEN);
	cfg.iface[1].addr = OUT_ADDR;
	cfg.iface[1].plen = 24;
	cfg.seed = 7;
	cfg.nat = true;
	cfg.outside = 1;
	cfg.pool[0] = POOL_ADDR;
	cfg.n_pool = n_pool;
	nat_params_default(&cfg.nat_params);
	cfg.nat_params.max_sessions = 256;
	px.nf = nf_new(&cfg);
	assert_non_null(px.nf);
	assert_non_null(nf_nat(px.nf));
	tl_out_init(&px.o);
	px.now = TL_T0;
	assert_int_equal(arp_add_static(nf_arp(px.nf), 0, HA, mac_a, px.now, &px.o.out), 0);
	assert_int_equal(arp_add_static(nf_arp(px.nf), 0, HB, mac_b, px.now, &px.o.out), 0);
	assert_int_equal(arp_add_static(nf_arp(px.nf), 1, HR, mac_r, px.now, &px.o.out), 0);
	nf_out_reset(&px.o.out);
}

static int
px_teardown(void **state)
{
	(void)state;
	nf_free(px.nf);
	px.nf = NULL;
	px.mtu_in = 0;
	return 0;
}

/* Feed buffer k (len bytes) in on ifidx. */
static void
px_in(unsigned k, uint8_t ifidx, size_t len)
{
	struct nf_frame f = { px.buf[k], (uint16_t)len, ifidx, 0 };

	nf_input(px.nf, &f, 1, px.now, &px.o.out);
}

static size_t
px_build(unsigned k, const struct tl_pkt *p)
{
	size_t len = tl_build(px.buf[k], sizeof(px.buf[k]), p);

	assert_int_not_equal(len, 0);
	return len;
}

static const struct nf_frame *
px_only_tx(uint8_t ifidx)
{
	assert_int_equal(px.o.out.ntx, 1);
	assert_int_equal(px.o.tx[0].ifidx, ifidx);
	return &px.o.tx[0];
}

static struct tl_pkt
px_udp(const uint8_t *dmac, const uint8_t *smac, uint32_t src, uint16_t sp,
    uint32_t dst, uint16_t dp, uint8_t ttl)
{
	struct tl_pkt p = { .proto = UDP, .ttl = ttl, .id = 0x4242, .src = src,
	    .dst = dst, .sport = sp, .dport = dp, .payload = pay_u,
	    .plen = sizeof(pay_u) };

	memcpy(p.dst_mac, dmac, ETH_ALEN);
	memcpy(p.src_mac, smac, ETH_ALEN);
	return p;
}

/* The one frame sent must be an ICMP error type/code to dst about a datagram
 * quoting qsrc:qsport -> qdst:qdport; returns the IP id it carries. */
static uint16_t
px_icmp_error_quotes(const struct nf_frame *t, uint32_t dst, uint8_t type, uint8_t code,
    uint32_t qsrc, uint16_t qsport, uint32_t qdst, uint16_t qdport)
{
	const uint8_t *ip = t->data + ETH_HLEN, *ic = ip + 20, *q = ic + 8;

	assert_true(t->len >= ETH_HLEN + 20 + 8 + 28);
	assert_int_equal(ip[9], ICMP);
	assert_int_equal(load_be32(ip + 12), OUT_ADDR);	/* the interface's */
	assert_int_equal(load_be32(ip + 16), dst);
	assert_int_equal(ic[0], type);
	assert_int_equal(ic[1], code);
	assert_int_equal(load_be32(q + 12), qsrc);
	assert_int_equal(load_be32(q + 16), qdst);
	assert_int_equal(load_be16(q + 20), qsport);
	assert_int_equal(load_be16(q + 22), qdport);
	assert_true(tl_csum_ok(ip, 20));
	assert_true(tl_csum_ok(ic, (size_t)(load_be16(ip + 2) - 20)));
	assert_true(tl_csum_ok(q, 20));			/* the quoted header */
	return load_be16(ip + 4);
}

/*
 * Issue 17 item 4: an inbound datagram through a forward whose TTL runs out
 * is answered with the datagram as the remote sent it (external endpoint),
 * and opens no session, writes no event.
 */
static void
nf_nat__ttl_expired_inbound_quotes_as_sent_and_opens_nothing(void **state)
{
	struct tl_pkt p;
	size_t len;

	(void)state;
	px_open(0);
	assert_int_equal(nf_forward_add(px.nf, UDP, 8080, HB, 80, px.now, &px.o.out), 0);
	nf_out_reset(&px.o.out);
	p = px_udp(mac_out, mac_r, HR, 5555, OUT_ADDR, 8080, 1);
	len = px_build(0, &p);
	px_in(0, 1, len);
	px_icmp_error_quotes(px_only_tx(1), HR, ICMP_TIMXCEED, ICMP_TIMXCEED_INTRANS, HR,
	    5555, OUT_ADDR, 8080);
	assert_int_equal(nat_count(nf_nat(px.nf)), 0);
	assert_int_equal(px.o.out.nev, 0);
	assert_int_equal(nf_stats(px.nf)->drop[DROP_TTL_EXCEEDED], 1);
	/* TTL 2 goes through (and leaves with 1). */
	nf_out_reset(&px.o.out);
	p.ttl = 2;
	len = px_build(0, &p);
	px_in(0, 1, len);
	assert_int_equal(px_only_tx(0)->data[ETH_HLEN + 8], 1);
	assert_int_equal(nat_count(nf_nat(px.nf)), 1);
}

/* Item 4: fragmentation needed about an inbound datagram quotes the
 * forward's external endpoint, so the remote's PMTUD can match it. */
static void
nf_nat__frag_needed_about_inbound_quotes_external_endpoint(void **state)
{
	static uint8_t big[1200];
	struct tl_pkt p;
	size_t len;

	(void)state;
	px.mtu_in = 1000;
	px_open(0);
	assert_int_equal(nf_forward_add(px.nf, UDP, 8080, HB, 80, px.now, &px.o.out), 0);
	nf_out_reset(&px.o.out);
	p = px_udp(mac_out, mac_r, HR, 5555, OUT_ADDR, 8080, 64);
	p.frag = IPV4_DF;
	p.payload = big;
	p.plen = sizeof(big);
	len = px_build(0, &p);
	px_in(0, 1, len);
	px_icmp_error_quotes(px_only_tx(1), HR, ICMP_UNREACH, ICMP_UNREACH_NEEDFRAG, HR,
	    5555, OUT_ADDR, 8080);
	assert_int_equal(nf_stats(px.nf)->drop[DROP_TOO_BIG], 1);
}

/* Item 4: host unreachable (the inside host never answers ARP) about an
 * inbound datagram quotes the forward's external endpoint too. */
static void
nf_nat__host_unreachable_about_inbound_quotes_external_endpoint(void **state)
{
	const struct nf_frame *err = NULL;
	struct tl_pkt p;
	size_t len;

	(void)state;
	px_open(0);
	assert_int_equal(nf_forward_add(px.nf, UDP, 8080, HC, 80, px.now, &px.o.out), 0);
	nf_out_reset(&px.o.out);
	p = px_udp(mac_out, mac_r, HR, 5555, OUT_ADDR, 8080, 64);
	len = px_build(0, &p);
	px_in(0, 1, len);			/* held: HC is being resolved */
	for (int i = 0; i < 200 && err == NULL; i++) {
		nf_out_reset(&px.o.out);
		px.now += 100000;
		nf_tick(px.nf, px.now, &px.o.out);
		for (unsigned k = 0; k < px.o.out.ntx; k++)
			if (px.o.tx[k].ifidx == 1)
				err = &px.o.tx[k];
	}
	assert_non_null(err);
	px_icmp_error_quotes(err, HR, ICMP_UNREACH, ICMP_UNREACH_HOST, HR, 5555, OUT_ADDR,
	    8080);
	assert_int_equal(nf_stats(px.nf)->drop[DROP_ARP_FAILED], 1);
}

/* Item 9: an inside host may not send from an address outside the inside
 * prefix: counted, not translated (no session, no port). */
static void
nf_nat__spoofed_inside_source_is_dropped(void **state)
{
	struct tl_pkt p;
	size_t len;

	(void)state;
	px_open(0);
	for (uint32_t i = 0; i < 16; i++) {
		p = px_udp(mac_in, mac_a, IP4(10, 9, 0, 1 + i), 1000, HR, 53, 64);
		len = px_build(0, &p);
		px_in(0, 0, len);
	}
	/* an outside address, from inside */
	p = px_udp(mac_in, mac_a, IP4(203, 0, 113, 77), 1000, HR, 53, 64);
	len = px_build(0, &p);
	px_in(0, 0, len);
	/* an inside address, from outside, to a live mapping's endpoint */
	p = px_udp(mac_in, mac_a, HA, 1000, HR, 53, 64);
	len = px_build(0, &p);
	px_in(0, 0, len);
	assert_int_equal(px.o.out.ntx, 1);
	p = px_udp(mac_out, mac_r, HB, 53, OUT_ADDR, 1000, 64);
	len = px_build(0, &p);
	px_in(0, 1, len);
	assert_int_equal(px.o.out.ntx, 1);
	assert_int_equal(nf_stats(px.nf)->drop[DROP_SPOOFED_SRC], 18);
	assert_int_equal(nat_count(nf_nat(px.nf)), 1);
}

/* Item 8: the IP ids of the router's own datagrams come from the keyed
 * generator: not the seed's bits, not a counter. */
static void
nf_nat__ip_ids_do_not_count_up_from_the_seed(void **state)
{
	uint16_t id[4];
	struct tl_pkt p;
	size_t len;

	(void)state;
	px_open(0);
	for (int i = 0; i < 4; i++) {
		nf_out_reset(&px.o.out);
		p = px_udp(mac_in, mac_a, HA, (uint16_t)(1000 + i), HR, 53, 1);
		len = px_build(0, &p);
		px_in(0, 0, len);
		assert_int_equal(px.o.out.ntx, 1);
		id[i] = load_be16(px.o.tx[0].data + ETH_HLEN + 4);
	}
	assert_int_not_equal(id[0], (uint16_t)(7 >> 16));
	for (int i = 1; i < 4; i++)
		assert_int_not_equal(id[i], (uint16_t)(id[i - 1] + 1));
}

static void
nf_nat__outbound_udp_and_reply_exact_frames(void **state)
{
	const struct nf_frame *t;
	unsigned adds = 0;

	(void)state;
	px_open(0);
	memcpy(px.buf[0], pl_udp_a_r, sizeof(pl_udp_a_r));
	px_in(0, 0, sizeof(pl_udp_a_r));
	t = px_only_tx(1);
	assert_int_equal(t->len, sizeof(pl_udp_a_r_x));
	assert_memory_equal(t->data, pl_udp_a_r_x, sizeof(pl_udp_a_r_x));
	for (unsigned i = 0; i < px.o.out.nev; i++)
		if (px.o.ev[i].table == EV_TABLE_NAT && px.o.ev[i].op == EV_ADD) {
			ev_key(&px.o.ev[i].nat, UDP, HA, 12345, OUT_ADDR, 12345, HR, 53);
			adds++;
		}
	assert_int_equal(adds, 1);
	nf_out_reset(&px.o.out);
	memcpy(px.buf[1], pl_udp_r_a, sizeof(pl_udp_r_a));
	px_in(1, 1, sizeof(pl_udp_r_a));
	t = px_only_tx(0);
	assert_int_equal(t->len, sizeof(pl_udp_r_a_x));
	assert_memory_equal(t->data, pl_udp_r_a_x, sizeof(pl_udp_r_a_x));
	assert_int_equal(nf_stats(px.nf)->forwarded, 2);
	/* Nothing else may come in: another port is refused, not forwarded. */
	nf_out_reset(&px.o.out);
	memcpy(px.buf[2], pl_udp_r_a, sizeof(pl_udp_r_a));
	px.buf[2][ETH_HLEN + 20 + 1] ^= 0x01;	/* source port 53 -> 52 */
	store_be16(px.buf[2] + ETH_HLEN + 26, 0);	/* UDP checksum: none */
	px_in(2, 1, sizeof(pl_udp_r_a));
	assert_int_equal(px.o.out.ntx, 0);
	assert_int_equal(nf_stats(px.nf)->drop[DROP_NAT_FILTERED], 1);
}

static void
nf_nat__hairpin_through_a_forward(void **state)
{
	struct tl_pkt p;
	const struct nf_frame *t;
	struct nat_session s[8];
	uint8_t want[256];
	uint32_t axip = 0;
	uint16_t axport = 0;
	size_t len, n;

	(void)state;
	px_open(1);
	assert_int_equal(nf_forward_add(px.nf, UDP, 8080, HB, 80, px.now, &px.o.out), 0);
	/* A -> the forward's external endpoint. */
	p = px_udp(mac_in, mac_a, HA, 12345, OUT_ADDR, 8080, 64);
	len = px_build(0, &p);
	px_in(0, 0, len);
	t = px_only_tx(0);
	n = dump_all(nf_nat(px.nf), s, 8);
	for (size_t i = 0; i < n; i++)
		if (s[i].int_ip == HA && s[i].int_port == 12345) {
			axip = s[i].ext_ip;
			axport = s[i].ext_port;
		}
	assert_true(axip == OUT_ADDR || axip == POOL_ADDR);
	/* B sees A's external endpoint as the source (RFC 4787 REQ-9). */
	p = px_udp(mac_b, mac_in, axip, axport, HB, 80, 63);
	assert_int_equal(tl_build(want, sizeof(want), &p), len);
	assert_int_equal(t->len, len);
	assert_memory_equal(t->data, want, len);
	assert_int_equal(nf_stats(px.nf)->hairpinned, 1);
	/* B answers A's external endpoint: A sees the forward's. */
	nf_out_reset(&px.o.out);
	p = px_udp(mac_in, mac_b, HB, 80, axip, axport, 64);
	len = px_build(1, &p);
	px_in(1, 0, len);
	t = px_only_tx(0);
	p = px_udp(mac_a, mac_in, OUT_ADDR, 8080, HA, 12345, 63);
	assert_int_equal(tl_build(want, sizeof(want), &p), len);
	assert_memory_equal(t->data, want, len);
	assert_int_equal(nf_stats(px.nf)->hairpinned, 2);
}

static void
nf_nat__outside_packet_for_inside_address_is_unsolicited(void **state)
{
	struct tl_pkt p;

	(void)state;
	px_open(1);
	p = px_udp(mac_out, mac_r, HR, 53, HA, 12345, 64);
	px_in(0, 1, px_build(0, &p));
	assert_int_equal(px.o.out.ntx, 0);
	assert_int_equal(nf_stats(px.nf)->drop[DROP_NAT_UNSOLICITED], 1);
	assert_int_equal(nat_count(nf_nat(px.nf)), 0);
}

static void
nf_nat__router_answers_pings_to_external_addresses(void **state)
{
	const uint32_t to[2] = { OUT_ADDR, POOL_ADDR };

	(void)state;
	px_open(1);
	for (int i = 0; i < 2; i++) {
		struct tl_pkt p = { .proto = ICMP, .ttl = 64, .id = 0x0101, .src = HR,
		    .dst = to[i], .icmp_type = ICMP_ECHO, .icmp_rest = 0x77770001,
		    .payload = pay_p, .plen = sizeof(pay_p) };
		const struct nf_frame *t;
		const uint8_t *ip;

		memcpy(p.dst_mac, mac_out, ETH_ALEN);
		memcpy(p.src_mac, mac_r, ETH_ALEN);
		nf_out_reset(&px.o.out);
		px_in((unsigned)i, 1, px_build((unsigned)i, &p));
		t = px_only_tx(1);
		ip = t->data + ETH_HLEN;
		assert_memory_equal(t->data, mac_r, ETH_ALEN);
		assert_memory_equal(t->data + 6, mac_out, ETH_ALEN);
		assert_int_equal(load_be16(ip + 2), 20 + 8 + sizeof(pay_p));
		assert_int_equal(ip[9], ICMP);
		assert_int_equal(load_be32(ip + 12), to[i]);
		assert_int_equal(load_be32(ip + 16), HR);
		assert_int_equal(ip[20], ICMP_ECHOREPLY);
		assert_int_equal(load_be32(ip + 24), 0x77770001);
		assert_memory_equal(ip + 28, pay_p, sizeof(pay_p));
		assert_true(nt_csums_ok(ip, load_be16(ip + 2)));
	}
	assert_int_equal(nat_count(nf_nat(px.nf)), 0);
}

static void
nf_nat__arp_for_pool_address_is_answered(void **state)
{
	static const uint8_t bcast[ETH_ALEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t zero[ETH_ALEN] = { 0 };
	uint8_t want[ETH_ZLEN];
	const struct nf_frame *t;

	(void)state;
	px_open(1);
	tl_build_arp(px.buf[0], bcast, mac_r, ARP_OP_REQUEST, mac_r, HR, zero, POOL_ADDR);
	px_in(0, 1, ETH_ZLEN);
	t = px_only_tx(1);
	tl_build_arp(want, mac_r, mac_out, ARP_OP_REPLY, mac_out, POOL_ADDR, mac_r, HR);
	assert_int_equal(t->len, ETH_ZLEN);
	assert_memory_equal(t->data, want, ETH_ZLEN);
}

#define N(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
#define P(f)	cmocka_unit_test_teardown(f, px_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		N(nat_testlib__builder_matches_literals),
		N(nat_in2out__udp_source_becomes_external_endpoint),
		N(nat_out2in__udp_reply_reaches_inside_endpoint),
		N(nat_in2out__udp_zero_checksum_stays_zero),
		N(nat_in2out__tcp_syn_and_synack_translate_exactly),
		N(nat_in2out__icmp_echo_identifier_is_translated),
		N(nat_out2in__icmp_error_about_udp_translates_quote),
		N(nat_out2in__icmp_error_restores_quoted_port_and_checksums),
		N(nat_in2out__icmp_error_from_inside_about_inbound_flow),
		N(nat_icmp_error__about_no_session_is_dropped),
		N(nat_in2out__other_protocols_are_refused),
		N(nat_in2out__mapping_is_endpoint_independent),
		N(nat_in2out__port_preserved_else_same_parity),
		N(nat_in2out__ports_below_1024_map_below_1024),
		N(nat_in2out__one_external_port_per_protocol_endpoint),
		N(nat_in2out__paired_pooling),
		N(nat_in2out__icmp_identifier_follows_port_classes),
		N(nat_out2in__address_port_filtering_by_default),
		N(nat_out2in__address_filtering_admits_other_ports),
		N(nat_out2in__endpoint_filtering_admits_anyone),
		N(nat_tcp__state_machine_and_timeouts),
		N(nat_tcp__midstream_segment_is_picked_up),
		N(nat_tcp__midstream_fin_is_picked_up),
		N(nat_timeout__udp_300s),
		N(nat_timeout__icmp_60s),
		N(nat_timeout__tcp_established_7440s),
		N(nat_timeout__tcp_transitory_240s),
		N(nat_tick__reports_mapping_gone_on_last_session),
		N(nat_tick__examines_a_bounded_number_of_sessions),
		N(nat_refresh__lazy_events_past_half_the_lifetime),
		N(nat_in2out__port_exhaustion_is_a_drop_never_a_reuse),
		N(nat_in2out__table_full),
		N(nat_in2out__per_host_limit),
		N(nat_forward_add__admits_anyone_and_outlives_sessions),
		N(nat_forward_add__rejects_taken_ports_and_bad_args),
		N(nat_forward_add__port_never_handed_out_dynamically),
		N(nat_in2out__later_fragment_follows_the_first),
		N(nat_in2out__unknown_later_fragment_is_dropped),
		N(nat_restore__keeps_external_port_and_translates),
		N(nat_restore__taken_port_is_eexist),
		N(nat_restore_unlisted__takes_back_as_many_as_counted),
		N(nat_forget__drops_the_mapping_and_its_sessions),
		N(nat_restore__dump_reads_back_the_stored_session),
		N(nat_dump__pages_with_a_cursor),
		N(nat_bytes__and_count_are_sane),
		N(nat_new__touches_no_slot_until_used),
		N(nat_bytes__under_136_per_session),
		N(nat_bytes_for__equals_nat_bytes),
		N(nat_half__spoofed_syn_flood_cannot_lock_out_a_forward),
		N(nat_half__udp_newcomer_is_unreplied_until_answered),
		N(nat_rst__only_in_window_and_close_is_not_sticky),
		N(nat_csum__corrupt_segments_and_icmp_errors_are_dropped),
		N(nat_ports__random_ports_follow_the_key),
		N(nat_prefetch__reads_within_frames_and_changes_nothing),
		N(nat_new__rejects_bad_params),
		N(nat__matches_reference_address_port_filtering),
		N(nat__matches_reference_address_filtering),
		N(nat__matches_reference_endpoint_filtering),
		P(nf_nat__outbound_udp_and_reply_exact_frames),
		P(nf_nat__hairpin_through_a_forward),
		P(nf_nat__ttl_expired_inbound_quotes_as_sent_and_opens_nothing),
		P(nf_nat__frag_needed_about_inbound_quotes_external_endpoint),
		P(nf_nat__host_unreachable_about_inbound_quotes_external_endpoint),
		P(nf_nat__spoofed_inside_source_is_dropped),
		P(nf_nat__ip_ids_do_not_count_up_from_the_seed),
		P(nf_nat__outside_packet_for_inside_address_is_unsolicited),
		P(nf_nat__router_answers_pings_to_external_addresses),
		P(nf_nat__arp_for_pool_address_is_answered),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: ISC */
/*
 * Tests of the ARP cache (netfn/arp.c) against the contract in netfn/arp.h:
 * the Linux neighbour state machine, driven by a fake clock.
 *
 * fx.now is the clock; a test advances it and calls tick(), then looks at
 * what came out: frames (compared with the literal ARP packets below, byte
 * for byte), table events, the entry as arp_get shows it, and the cache's
 * own counters. Two interfaces: 0 is 192.168.1.1/24 (02:00:00:00:01:01),
 * 1 is 203.0.113.1/24 (02:00:00:00:02:01). Neighbour A is 192.168.1.10 at
 * 02:aa:00:00:00:0a, and 02:aa:00:00:00:a2 is a second MAC claiming it;
 * neighbour B is 203.0.113.20 at 02:bb:00:00:00:14.
 *
 * The timers use Linux's defaults (reachable 30 s randomised to 15..45 s,
 * delay 5 s, retrans 1 s, 3 probes each, gc_stale 60 s) unless a test says
 * otherwise, so the times in the tests read as they would on a Linux box.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "netfn/arp.h"
#include "netfn/event.h"
#include "tests/netfn/testlib.h"

#define IN_ADDR		IP4(192, 168, 1, 1)
#define OUT_ADDR	IP4(203, 0, 113, 1)
#define HOST_A		IP4(192, 168, 1, 10)
#define HOST_B		IP4(203, 0, 113, 20)

static const uint8_t mac_in[ETH_ALEN] = { 0x02, 0x00, 0x00, 0x00, 0x01, 0x01 };
static const uint8_t mac_out[ETH_ALEN] = { 0x02, 0x00, 0x00, 0x00, 0x02, 0x01 };
static const uint8_t mac_a[ETH_ALEN] = { 0x02, 0xaa, 0x00, 0x00, 0x00, 0x0a };
static const uint8_t mac_a2[ETH_ALEN] = { 0x02, 0xaa, 0x00, 0x00, 0x00, 0xa2 };
static const uint8_t mac_b[ETH_ALEN] = { 0x02, 0xbb, 0x00, 0x00, 0x00, 0x14 };
static const uint8_t mac_zero[ETH_ALEN] = { 0 };
static const uint8_t mac_bcast[ETH_ALEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static const struct arp_iface ifs[2] = {
	{ .mac = { 0x02, 0x00, 0x00, 0x00, 0x01, 0x01 }, .addr = IN_ADDR, .plen = 24 },
	{ .mac = { 0x02, 0x00, 0x00, 0x00, 0x02, 0x01 }, .addr = OUT_ADDR, .plen = 24 },
};

/* Who has 192.168.1.10? Tell 192.168.1.1 -- broadcast, from interface 0. */
static const uint8_t req_a_bcast[60] = {
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x01, 0x01,
	0x08, 0x06,
	0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,
	0x02, 0x00, 0x00, 0x00, 0x01, 0x01, 0xc0, 0xa8, 0x01, 0x01,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0xa8, 0x01, 0x0a,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

/* The same question sent straight to the MAC we hold (PROBE). */
static const uint8_t req_a_unicast[60] = {
	0x02, 0xaa, 0x00, 0x00, 0x00, 0x0a, 0x02, 0x00, 0x00, 0x00, 0x01, 0x01,
	0x08, 0x06,
	0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,
	0x02, 0x00, 0x00, 0x00, 0x01, 0x01, 0xc0, 0xa8, 0x01, 0x01,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0xa8, 0x01, 0x0a,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

/* Who has 203.0.113.20? Tell 203.0.113.1 -- broadcast, from interface 1. */
static const uint8_t req_b_bcast[60] = {
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x02, 0x01,
	0x08, 0x06,
	0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,
	0x02, 0x00, 0x00, 0x00, 0x02, 0x01, 0xcb, 0x00, 0x71, 0x01,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xcb, 0x00, 0x71, 0x14,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

/* 192.168.1.1 is at 02:00:00:00:01:01 -- to A, who asked. */
static const uint8_t reply_to_a[60] = {
	0x02, 0xaa, 0x00, 0x00, 0x00, 0x0a, 0x02, 0x00, 0x00, 0x00, 0x01, 0x01,
	0x08, 0x06,
	0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02,
	0x02, 0x00, 0x00, 0x00, 0x01, 0x01, 0xc0, 0xa8, 0x01, 0x01,
	0x02, 0xaa, 0x00, 0x00, 0x00, 0x0a, 0xc0, 0xa8, 0x01, 0x0a,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

/* The answer to an RFC 5227 probe (spa 0.0.0.0): tpa is 0.0.0.0 too. */
static const uint8_t reply_to_probe[60] = {
	0x02, 0xaa, 0x00, 0x00, 0x00, 0x0a, 0x02, 0x00, 0x00, 0x00, 0x01, 0x01,
	0x08, 0x06,
	0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02,
	0x02, 0x00, 0x00, 0x00, 0x01, 0x01, 0xc0, 0xa8, 0x01, 0x01,
	0x02, 0xaa, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x00,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

/* Gratuitous ARP on interface 1: a request for 203.0.113.1 from itself. */
static const uint8_t announce_out[60] = {
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x02, 0x01,
	0x08, 0x06,
	0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,
	0x02, 0x00, 0x00, 0x00, 0x02, 0x01, 0xcb, 0x00, 0x71, 0x01,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xcb, 0x00, 0x71, 0x01,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

#define FAIL_KEEP	16

static struct {
	struct arp_params p;
	struct arp_cache *c;
	struct tl_out	o;
	uint64_t	now;
	/* What the fail callback saw. */
	unsigned	nfail;
	struct {
		uint8_t		ifidx;
		size_t		len;
		uint8_t		data[256];
		uint64_t	now;
	} fail[FAIL_KEEP];
	/* When set, the callback asks for another address, as the pipeline
	 * does to send ICMP host unreachable back to a sender. */
	bool		reenter;
	unsigned	reenter_held;
} fx;

static void
params_test(struct arp_params *p)
{
	*p = (struct arp_params){
		.base_reachable_ms = 30000,
		.delay_first_probe_ms = 5000,
		.retrans_ms = 1000,
		.gc_stale_ms = 60000,
		.max_entries = 64,
		.ucast_probes = 3,
		.mcast_probes = 3,
		.unres_qlen = 8,
		.unres_total = 64,
		.frame_max = 2048,
	};
}

static void
fx_open(const struct arp_params *p, uint64_t seed)
{
	arp_free(fx.c);
	memset(&fx, 0, sizeof(fx));
	fx.p = *p;
	fx.c = arp_new(p, ifs, 2, seed);
	assert_non_null(fx.c);
	fx.now = TL_T0;
	tl_out_init(&fx.o);
}

static int
setup(void **state)
{
	struct arp_params p;

	(void)state;
	params_test(&p);
	fx.c = NULL;
	fx_open(&p, 42);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	arp_free(fx.c);
	fx.c = NULL;
	return 0;
}

static void
reset(void)
{
	nf_out_reset(&fx.o.out);
}

/* A frame waiting for its destination MAC: source set, payload tagged. */
static size_t
mkframe(uint8_t *buf, uint8_t ifidx, uint8_t tag, size_t len)
{
	memset(buf, 0, ETH_ALEN);
	memcpy(buf + 6, ifs[ifidx].mac, ETH_ALEN);
	store_be16(buf + 12, ETHERTYPE_IPV4);
	for (size_t i = ETH_HLEN; i < len; i++)
		buf[i] = (uint8_t)(tag + i);
	return len;
}

static void
fail_cb(void *ctx, uint8_t ifidx, const uint8_t *frame, size_t len,
    uint64_t now_us, struct nf_out *out)
{
	(void)ctx;
	if (fx.nfail < FAIL_KEEP) {
		fx.fail[fx.nfail].ifidx = ifidx;
		fx.fail[fx.nfail].len = len;
		memcpy(fx.fail[fx.nfail].data, frame,
		    len < sizeof(fx.fail[0].data) ? len : sizeof(fx.fail[0].data));
		fx.fail[fx.nfail].now = now_us;
	}
	fx.nfail++;
	if (fx.reenter) {
		uint8_t f[64], mac[ETH_ALEN];

		mkframe(f, 0, 0x77, sizeof(f));
		if (arp_resolve(fx.c, 0, HOST_A, mac, f, sizeof(f), now_us, out) ==
		    DROP_MAX)
			fx.reenter_held++;
	}
}

static void
tick(void)
{
	arp_tick(fx.c, fx.now, &fx.o.out, fail_cb, NULL);
}

static enum drop
rx(uint8_t ifidx, uint16_t op, const uint8_t sha[ETH_ALEN], uint32_t spa,
    const uint8_t tha[ETH_ALEN], uint32_t tpa)
{
	struct arp a = { .op = op, .spa = spa, .tpa = tpa };

	memcpy(a.sha, sha, ETH_ALEN);
	memcpy(a.tha, tha, ETH_ALEN);
	return arp_input(fx.c, ifidx, sha, &a, fx.now, &fx.o.out);
}

/* "spa is at sha", addressed to us on ifidx. */
static enum drop
rx_reply(uint8_t ifidx, const uint8_t sha[ETH_ALEN], uint32_t spa)
{
	return rx(ifidx, ARP_OP_REPLY, sha, spa, ifs[ifidx].mac, ifs[ifidx].addr);
}

/* "Who has our address? Tell spa at sha." */
static enum drop
rx_request(uint8_t ifidx, const uint8_t sha[ETH_ALEN], uint32_t spa)
{
	return rx(ifidx, ARP_OP_REQUEST, sha, spa, mac_zero, ifs[ifidx].addr);
}

static enum drop
resolve(uint8_t ifidx, uint32_t ip, uint8_t mac[ETH_ALEN], const uint8_t *frame,
    size_t len)
{
	return arp_resolve(fx.c, ifidx, ip, mac, frame, len, fx.now, &fx.o.out);
}

/* State of (ifidx, ip), or -1 when there is no entry. */
static int
state_of(uint8_t ifidx, uint32_t ip)
{
	struct arp_entry e;

	if (arp_get(fx.c, ifidx, ip, &e) != 0)
		return -1;
	return e.state;
}

static void
assert_ev(const struct nf_event *e, enum ev_op op, enum ev_cause cause,
    uint32_t ip, const uint8_t mac[ETH_ALEN], enum arp_state st, uint8_t ifidx)
{
	assert_int_equal(e->table, EV_TABLE_ARP);
	assert_string_equal(ev_op_name(e->op), ev_op_name(op));
	assert_string_equal(ev_cause_name(e->cause), ev_cause_name(cause));
	assert_int_equal(e->now_us, fx.now);
	assert_int_equal(e->arp.ip, ip);
	assert_memory_equal(e->arp.mac, mac, ETH_ALEN);
	assert_string_equal(arp_state_name(e->arp.state), arp_state_name(st));
	assert_int_equal(e->arp.ifidx, ifidx);
}

static void
assert_tx(unsigned i, uint8_t ifidx, const uint8_t *bytes, size_t len)
{
	assert_true(i < fx.o.out.ntx);
	assert_int_equal(fx.o.out.tx[i].ifidx, ifidx);
	assert_int_equal(fx.o.out.tx[i].len, len);
	assert_memory_equal(fx.o.out.tx[i].data, bytes, len);
}

/* A: resolved by a reply at fx.now (REACHABLE); output reset after. */
static void
learn_reachable(uint8_t ifidx, uint32_t ip, const uint8_t mac[ETH_ALEN])
{
	uint8_t f[64], m[ETH_ALEN];

	mkframe(f, ifidx, 0, sizeof(f));
	assert_int_equal(resolve(ifidx, ip, m, f, sizeof(f)), DROP_MAX);
	assert_int_equal(rx_reply(ifidx, mac, ip), DROP_NONE);
	assert_int_equal(state_of(ifidx, ip), ARP_REACHABLE);
	reset();
}

/* Learned from its request for our address (STALE); output reset after. */
static void
learn_stale(uint8_t ifidx, uint32_t ip, const uint8_t mac[ETH_ALEN])
{
	assert_int_equal(rx_request(ifidx, mac, ip), DROP_NONE);
	assert_int_equal(state_of(ifidx, ip), ARP_STALE);
	reset();
}

/* A as STALE at T0, used at T0 + 2 s (DELAY), probing from T0 + 7 s. */
static void
reach_probe(void)
{
	uint8_t f[64], m[ETH_ALEN];

	learn_stale(0, HOST_A, mac_a);
	fx.now = TL_T0 + 2 * TL_S;
	mkframe(f, 0, 1, sizeof(f));
	assert_int_equal(resolve(0, HOST_A, m, f, sizeof(f)), DROP_NONE);
	fx.now = TL_T0 + 7 * TL_S;
	tick();
	assert_int_equal(state_of(0, HOST_A), ARP_PROBE);
	reset();
}

/* ---- creation and resolution ---- */

static void
arp_resolve__unknown_holds_frame_and_broadcasts(void **state)
{
	uint8_t f[64], f2[64], mac[ETH_ALEN] = { 0 };
	struct arp_entry e;

	(void)state;
	mkframe(f, 0, 1, sizeof(f));
	assert_int_equal(resolve(0, HOST_A, mac, f, sizeof(f)), DROP_MAX);
	assert_int_equal(fx.o.out.ntx, 1);
	assert_tx(0, 0, req_a_bcast, sizeof(req_a_bcast));
	assert_int_equal(fx.o.out.nev, 0);		/* INCOMPLETE is internal */
	assert_int_equal(arp_get(fx.c, 0, HOST_A, &e), 0);
	assert_int_equal(e.state, ARP_INCOMPLETE);
	assert_int_equal(e.ip, HOST_A);
	assert_int_equal(e.ifidx, 0);
	assert_int_equal(e.queued, 1);
	assert_int_equal(arp_count(fx.c), 1);
	assert_int_equal(arp_stats(fx.c)->requests_sent, 1);

	/* A second packet joins the queue; retries are the timer's job. */
	fx.now += 10 * TL_MS;
	mkframe(f2, 0, 2, sizeof(f2));
	assert_int_equal(resolve(0, HOST_A, mac, f2, sizeof(f2)), DROP_MAX);
	assert_int_equal(fx.o.out.ntx, 1);
	assert_int_equal(arp_get(fx.c, 0, HOST_A, &e), 0);
	assert_int_equal(e.queued, 2);
	/* The caller's frame is copied, not kept. */
	memset(f, 0xee, sizeof(f));
	assert_int_equal(fx.o.out.nev, 0);
}

static void
arp_input__reply_resolves_and_releases_in_order(void **state)
{
	uint8_t f1[64], f2[100], f3[60], want[100], mac[ETH_ALEN];
	struct arp_entry e;
	const uint8_t *fs[3] = { f1, f2, f3 };
	size_t lens[3] = { sizeof(f1), sizeof(f2), sizeof(f3) };

	(void)state;
	mkframe(f1, 0, 0x10, sizeof(f1));
	mkframe(f2, 0, 0x20, sizeof(f2));
	mkframe(f3, 0, 0x30, sizeof(f3));
	for (int i = 0; i < 3; i++) {
		assert_int_equal(resolve(0, HOST_A, mac, fs[i], lens[i]), DROP_MAX);
		fx.now += 10 * TL_MS;
	}
	reset();
	fx.now = TL_T0 + 300 * TL_MS;
	assert_int_equal(rx_reply(0, mac_a, HOST_A), DROP_NONE);

	assert_int_equal(fx.o.out.nev, 1);
	assert_ev(&fx.o.ev[0], EV_ADD, EV_CAUSE_ARP_REPLY, HOST_A, mac_a,
	    ARP_REACHABLE, 0);
	assert_int_equal(fx.o.ev[0].arp.updated_us, fx.now);

	assert_int_equal(fx.o.out.ntx, 3);
	for (unsigned i = 0; i < 3; i++) {
		memcpy(want, fs[i], lens[i]);
		memcpy(want, mac_a, ETH_ALEN);
		assert_tx(i, 0, want, lens[i]);
	}
	assert_int_equal(arp_get(fx.c, 0, HOST_A, &e), 0);
	assert_int_equal(e.state, ARP_REACHABLE);
	assert_memory_equal(e.mac, mac_a, ETH_ALEN);
	assert_int_equal(e.queued, 0);
	assert_int_equal(e.updated_us, fx.now);
	assert_int_equal(arp_stats(fx.c)->resolved, 1);

	/* From now on the entry answers directly, and nothing is queued. */
	reset();
	memset(mac, 0, sizeof(mac));
	assert_int_equal(resolve(0, HOST_A, mac, f1, sizeof(f1)), DROP_NONE);
	assert_memory_equal(mac, mac_a, ETH_ALEN);
	assert_int_equal(fx.o.out.ntx, 0);
	assert_int_equal(fx.o.out.nev, 0);
}

static void
arp_input__request_for_us_resolves_incomplete_as_stale(void **state)
{
	uint8_t f[64], want[64], mac[ETH_ALEN];
	bool reply_seen = false, frame_seen = false;

	(void)state;
	mkframe(f, 0, 0x40, sizeof(f));
	assert_int_equal(resolve(0, HOST_A, mac, f, sizeof(f)), DROP_MAX);
	reset();
	fx.now += 100 * TL_MS;
	assert_int_equal(rx_request(0, mac_a, HOST_A), DROP_NONE);
	assert_int_equal(fx.o.out.nev, 1);
	assert_ev(&fx.o.ev[0], EV_ADD, EV_CAUSE_ARP_REQUEST, HOST_A, mac_a,
	    ARP_STALE, 0);
	memcpy(want, f, sizeof(f));
	memcpy(want, mac_a, ETH_ALEN);
	assert_int_equal(fx.o.out.ntx, 2);
	for (unsigned i = 0; i < 2; i++) {
		const struct nf_frame *t = &fx.o.tx[i];

		if (t->len == sizeof(reply_to_a) &&
		    memcmp(t->data, reply_to_a, sizeof(reply_to_a)) == 0)
			reply_seen = true;
		if (t->len == sizeof(want) && memcmp(t->data, want, sizeof(want)) == 0)
			frame_seen = true;
	}
	assert_true(reply_seen);
	assert_true(frame_seen);
	assert_int_equal(state_of(0, HOST_A), ARP_STALE);
}

/* ---- INCOMPLETE: retries, failure, collection ---- */

static void
arp_tick__incomplete_retries_then_fails(void **state)
{
	uint8_t f1[80], f2[64], mac[ETH_ALEN];
	struct arp_entry e;

	(void)state;
	mkframe(f1, 1, 0x50, sizeof(f1));
	mkframe(f2, 1, 0x60, sizeof(f2));
	assert_int_equal(resolve(1, HOST_B, mac, f1, sizeof(f1)), DROP_MAX);
	assert_tx(0, 1, req_b_bcast, sizeof(req_b_bcast));
	fx.now += 1 * TL_MS;
	assert_int_equal(resolve(1, HOST_B, mac, f2, sizeof(f2)), DROP_MAX);
	reset();

	/* Requests 2 and 3 of mcast_probes, one per retrans_ms. */
	for (unsigned k = 1; k <= 2; k++) {
		fx.now = TL_T0 + k * TL_S - 1;
		tick();
		assert_int_equal(fx.o.out.ntx, 0);
		fx.now = TL_T0 + k * TL_S;
		tick();
		assert_int_equal(fx.o.out.ntx, 1);
		assert_tx(0, 1, req_b_bcast, sizeof(req_b_bcast));
		assert_int_equal(state_of(1, HOST_B), ARP_INCOMPLETE);
		assert_int_equal(fx.nfail, 0);
		reset();
	}
	fx.now = TL_T0 + 3 * TL_S - 1;
	tick();
	assert_int_equal(fx.o.out.ntx, 0);
	assert_int_equal(state_of(1, HOST_B), ARP_INCOMPLETE);

	/* No answer to the third: FAILED, and each held frame to the callback. */
	fx.now = TL_T0 + 3 * TL_S;
	tick();
	assert_int_equal(fx.o.out.ntx, 0);
	assert_int_equal(fx.nfail, 2);
	assert_int_equal(fx.fail[0].ifidx, 1);
	assert_int_equal(fx.fail[0].len, sizeof(f1));
	assert_memory_equal(fx.fail[0].data, f1, sizeof(f1));
	assert_int_equal(fx.fail[0].now, fx.now);
	assert_int_equal(fx.fail[1].ifidx, 1);
	assert_int_equal(fx.fail[1].len, sizeof(f2));
	assert_memory_equal(fx.fail[1].data, f2, sizeof(f2));
	assert_int_equal(arp_get(fx.c, 1, HOST_B, &e), 0);
	assert_int_equal(e.state, ARP_FAILED);
	assert_int_equal(e.queued, 0);
	assert_int_equal(arp_stats(fx.c)->requests_sent, 3);
	assert_int_equal(arp_stats(fx.c)->failed, 1);

	/* One more retrans and the FAILED entry is gone. */
	fx.now = TL_T0 + 4 * TL_S;
	tick();
	assert_int_equal(state_of(1, HOST_B), -1);
	assert_int_equal(arp_count(fx.c), 0);
	assert_int_equal(fx.nfail, 2);
	assert_int_equal(fx.o.out.ntx, 0);
	/* An address that never answered wrote no history at all. */
	assert_int_equal(fx.o.out.nev, 0);
	assert_int_equal(fx.o.out.ev_lost, 0);
}

static void
arp_resolve__failed_entry_starts_again(void **state)
{
	uint8_t f[64], mac[ETH_ALEN];

	(void)state;
	mkframe(f, 0, 0x11, sizeof(f));
	assert_int_equal(resolve(0, HOST_A, mac, f, sizeof(f)), DROP_MAX);
	for (unsigned k = 1; k <= 3; k++) {
		fx.now = TL_T0 + k * TL_S;
		tick();
	}
	assert_int_equal(state_of(0, HOST_A), ARP_FAILED);
	reset();
	fx.now = TL_T0 + 3500 * TL_MS;
	assert_int_equal(resolve(0, HOST_A, mac, f, sizeof(f)), DROP_MAX);
	assert_int_equal(fx.o.out.ntx, 1);
	assert_tx(0, 0, req_a_bcast, sizeof(req_a_bcast));
	assert_int_equal(state_of(0, HOST_A), ARP_INCOMPLETE);
	assert_int_equal(fx.o.out.nev, 0);
}

/*
 * The fail callback is where the pipeline sends ICMP host unreachable, which
 * resolves the sender's address -- possibly a new entry in a full table,
 * whose eviction may pick the very FAILED entry being walked. The callback
 * must still see each held frame exactly once, and frames it manages to hold
 * must stay held.
 */
static void
arp_tick__fail_callback_may_resolve_into_full_table(void **state)
{
	struct arp_params p;
	uint8_t f1[64], f2[64], mac[ETH_ALEN];
	struct arp_entry e;

	(void)state;
	params_test(&p);
	p.max_entries = 2;
	fx_open(&p, 42);
	assert_int_equal(arp_add_static(fx.c, 0, IP4(192, 168, 1, 99), mac_a2,
	    fx.now, &fx.o.out), 0);
	mkframe(f1, 1, 0x21, sizeof(f1));
	mkframe(f2, 1, 0x22, sizeof(f2));
	assert_int_equal(resolve(1, HOST_B, mac, f1, sizeof(f1)), DROP_MAX);
	assert_int_equal(resolve(1, HOST_B, mac, f2, sizeof(f2)), DROP_MAX);
	assert_int_equal(arp_count(fx.c), 2);
	reset();
	fx.reenter = true;
	for (unsigned k = 1; k <= 3; k++) {
		fx.now = TL_T0 + k * TL_S;
		tick();
		reset();
	}
	assert_int_equal(fx.nfail, 2);
	assert_int_equal(fx.fail[0].len, sizeof(f1));
	assert_memory_equal(fx.fail[0].data, f1, sizeof(f1));
	assert_int_equal(fx.fail[1].len, sizeof(f2));
	assert_memory_equal(fx.fail[1].data, f2, sizeof(f2));
	if (fx.reenter_held > 0) {
		assert_int_equal(arp_get(fx.c, 0, HOST_A, &e), 0);
		assert_int_equal(e.state, ARP_INCOMPLETE);
		assert_int_equal(e.queued, fx.reenter_held);
	}
}

/* ---- REACHABLE, STALE, DELAY, PROBE ---- */

static void
arp_tick__reachable_goes_stale_in_random_window(void **state)
{
	struct arp_params p;
	uint64_t seen[8];
	unsigned distinct = 0;

	(void)state;
	params_test(&p);
	for (uint64_t seed = 1; seed <= 8; seed++) {
		uint64_t half = (uint64_t)p.base_reachable_ms * TL_MS / 2;
		uint64_t t, found = 0;

		fx_open(&p, seed);
		learn_reachable(0, HOST_A, mac_a);
		/* Never before 0.5 x base. */
		fx.now = TL_T0 + half - 1;
		tick();
		assert_int_equal(state_of(0, HOST_A), ARP_REACHABLE);
		assert_int_equal(fx.o.out.nev, 0);
		/* Always by 1.5 x base; look every 100 ms to see where. */
		for (t = TL_T0 + half; t <= TL_T0 + 3 * half; t += 100 * TL_MS) {
			fx.now = t;
			tick();
			if (state_of(0, HOST_A) == ARP_STALE) {
				found = t;
				break;
			}
			assert_int_equal(fx.o.out.nev, 0);
			reset();
		}
		assert_int_not_equal(found, 0);
		assert_int_equal(fx.o.out.nev, 1);
		assert_ev(&fx.o.ev[0], EV_UPDATE, EV_CAUSE_REACHABLE_TIMEOUT, HOST_A,
		    mac_a, ARP_STALE, 0);
		seen[seed - 1] = found;
		distinct++;
		for (uint64_t j = 0; j + 1 < seed; j++)
			if (seen[j] == found) {
				distinct--;
				break;
			}
	}
	/* Randomised by the seed: eight seeds do not all land on one 100 ms. */
	assert_true(distinct >= 2);
}

static void
arp_resolve__stale_use_delays_then_probes_unicast(void **state)
{
	uint8_t f[64], mac[ETH_ALEN] = { 0 };

	(void)state;
	learn_stale(0, HOST_A, mac_a);
	fx.now = TL_T0 + 2 * TL_S;
	mkframe(f, 0, 1, sizeof(f));
	assert_int_equal(resolve(0, HOST_A, mac, f, sizeof(f)), DROP_NONE);
	assert_memory_equal(mac, mac_a, ETH_ALEN);	/* STALE is usable */
	assert_int_equal(fx.o.out.ntx, 0);
	assert_int_equal(fx.o.out.nev, 1);
	assert_ev(&fx.o.ev[0], EV_UPDATE, EV_CAUSE_TRAFFIC, HOST_A, mac_a,
	    ARP_DELAY, 0);
	assert_int_equal(state_of(0, HOST_A), ARP_DELAY);
	reset();

	/* DELAY is usable and quiet until delay_first_probe has passed. */
	fx.now = TL_T0 + 7 * TL_S - 1;
	assert_int_equal(resolve(0, HOST_A, mac, f, sizeof(f)), DROP_NONE);
	tick();
	assert_int_equal(fx.o.out.ntx, 0);
	assert_int_equal(fx.o.out.nev, 0);
	assert_int_equal(state_of(0, HOST_A), ARP_DELAY);

	fx.now = TL_T0 + 7 * TL_S;
	tick();
	assert_int_equal(state_of(0, HOST_A), ARP_PROBE);
	assert_int_equal(fx.o.out.ntx, 1);
	assert_tx(0, 0, req_a_unicast, sizeof(req_a_unicast));
	assert_int_equal(fx.o.out.nev, 1);
	assert_ev(&fx.o.ev[0], EV_UPDATE, EV_CAUSE_DELAY_TIMEOUT, HOST_A, mac_a,
	    ARP_PROBE, 0);
	reset();
	/* PROBE still forwards. */
	memset(mac, 0, sizeof(mac));
	assert_int_equal(resolve(0, HOST_A, mac, f, sizeof(f)), DROP_NONE);
	assert_memory_equal(mac, mac_a, ETH_ALEN);
}

static void
arp_input__reply_in_probe_confirms(void **state)
{
	(void)state;
	reach_probe();
	fx.now += 300 * TL_MS;
	assert_int_equal(rx_reply(0, mac_a, HOST_A), DROP_NONE);
	assert_int_equal(state_of(0, HOST_A), ARP_REACHABLE);
	assert_int_equal(fx.o.out.nev, 1);
	assert_ev(&fx.o.ev[0], EV_UPDATE, EV_CAUSE_ARP_REPLY, HOST_A, mac_a,
	    ARP_REACHABLE, 0);
	assert_int_equal(fx.o.ev[0].arp.updated_us, fx.now);
	/* Confirmed: no more probes. */
	reset();
	for (unsigned k = 1; k <= 5; k++) {
		fx.now += TL_S;
		tick();
	}
	assert_int_equal(fx.o.out.ntx, 0);
	assert_int_equal(state_of(0, HOST_A), ARP_REACHABLE);
}

static void
arp_tick__probe_without_reply_fails(void **state)
{
	uint64_t p0;

	(void)state;
	reach_probe();		/* first unicast request at p0 */
	p0 = fx.now;
	for (unsigned k = 1; k <= 2; k++) {
		fx.now = p0 + k * TL_S - 1;
		tick();
		assert_int_equal(fx.o.out.ntx, 0);
		fx.now = p0 + k * TL_S;
		tick();
		assert_int_equal(fx.o.out.ntx, 1);
		assert_tx(0, 0, req_a_unicast, sizeof(req_a_unicast));
		assert_int_equal(fx.o.out.nev, 0);
		assert_int_equal(state_of(0, HOST_A), ARP_PROBE);
		reset();
	}
	fx.now = p0 + 3 * TL_S;
	tick();
	assert_int_equal(fx.o.out.ntx, 0);	/* ucast_probes requests in all */
	assert_int_equal(fx.o.out.nev, 1);
	assert_int_equal(fx.o.ev[0].op, EV_REMOVE);
	assert_int_equal(fx.o.ev[0].cause, EV_CAUSE_PROBE_FAILED);
	assert_int_equal(fx.o.ev[0].arp.ip, HOST_A);
	assert_int_equal(fx.o.ev[0].now_us, fx.now);
	assert_int_not_equal(state_of(0, HOST_A), ARP_PROBE);
	assert_int_equal(arp_stats(fx.c)->failed, 1);
	/* The removal was announced once; the FAILED leftover goes quietly. */
	reset();
	fx.now = p0 + 10 * TL_S;
	tick();
	assert_int_equal(state_of(0, HOST_A), -1);
	assert_int_equal(fx.o.out.nev, 0);
}

static void
arp_tick__stale_unused_is_collected(void **state)
{
	(void)state;
	assert_int_equal(rx_request(0, mac_a, HOST_A), DROP_NONE);
	assert_int_equal(fx.o.out.nev, 1);
	/* "removed then unless refreshed" */
	assert_int_equal(fx.o.ev[0].arp.expires_us, TL_T0 + 60 * TL_S);
	reset();
	fx.now = TL_T0 + 60 * TL_S - 1;
	tick();
	assert_int_equal(fx.o.out.nev, 0);
	assert_int_equal(state_of(0, HOST_A), ARP_STALE);
	fx.now = TL_T0 + 60 * TL_S;
	tick();
	assert_int_equal(fx.o.out.nev, 1);
	assert_ev(&fx.o.ev[0], EV_REMOVE, EV_CAUSE_GC, HOST_A, mac_a, ARP_STALE, 0);
	assert_int_equal(state_of(0, HOST_A), -1);
	assert_int_equal(arp_count(fx.c), 0);
	assert_int_equal(fx.o.out.ntx, 0);	/* collected without asking */
}

static void
arp_input__reply_refreshes_stale_and_reachable(void **state)
{
	(void)state;
	learn_stale(0, HOST_A, mac_a);
	fx.now += TL_S;
	assert_int_equal(rx_reply(0, mac_a, HOST_A), DROP_NONE);
	assert_int_equal(state_of(0, HOST_A), ARP_REACHABLE);
	assert_int_equal(fx.o.out.nev, 1);
	assert_ev(&fx.o.ev[0], EV_UPDATE, EV_CAUSE_ARP_REPLY, HOST_A, mac_a,
	    ARP_REACHABLE, 0);
	reset();
	/* REACHABLE to REACHABLE is no change of state or MAC. */
	fx.now += TL_S;
	assert_int_equal(rx_reply(0, mac_a, HOST_A), DROP_NONE);
	assert_int_equal(state_of(0, HOST_A), ARP_REACHABLE);
	assert_int_equal(fx.o.out.nev, 0);
}

/* ---- requests for our address ---- */

static void
arp_input__request_for_us_is_answered_and_learned(void **state)
{
	struct arp_entry e;

	(void)state;
	assert_int_equal(rx_request(0, mac_a, HOST_A), DROP_NONE);
	assert_int_equal(fx.o.out.ntx, 1);
	assert_tx(0, 0, reply_to_a, sizeof(reply_to_a));
	assert_int_equal(fx.o.out.nev, 1);
	assert_ev(&fx.o.ev[0], EV_ADD, EV_CAUSE_ARP_REQUEST, HOST_A, mac_a,
	    ARP_STALE, 0);
	assert_int_equal(arp_get(fx.c, 0, HOST_A, &e), 0);
	assert_int_equal(e.state, ARP_STALE);
	assert_memory_equal(e.mac, mac_a, ETH_ALEN);
	assert_int_equal(arp_stats(fx.c)->replies_sent, 1);
	assert_int_equal(arp_stats(fx.c)->requests_in, 1);
}

static void
arp_input__request_for_someone_else_teaches_nothing(void **state)
{
	(void)state;
	assert_int_equal(rx(0, ARP_OP_REQUEST, mac_a, HOST_A, mac_zero,
	    IP4(192, 168, 1, 50)), DROP_ARP_NOT_OURS);
	assert_int_equal(fx.o.out.ntx, 0);
	assert_int_equal(fx.o.out.nev, 0);
	assert_int_equal(arp_count(fx.c), 0);
}

static void
arp_input__rfc5227_probe_is_answered_and_teaches_nothing(void **state)
{
	(void)state;
	assert_int_equal(rx(0, ARP_OP_REQUEST, mac_a, 0, mac_zero, IN_ADDR),
	    DROP_NONE);
	assert_int_equal(fx.o.out.ntx, 1);
	assert_tx(0, 0, reply_to_probe, sizeof(reply_to_probe));
	assert_int_equal(fx.o.out.nev, 0);
	assert_int_equal(arp_count(fx.c), 0);
}

/* ---- security ---- */

static void
arp_input__unsolicited_reply_creates_nothing(void **state)
{
	(void)state;
	assert_int_equal(rx_reply(0, mac_a, HOST_A), DROP_ARP_UNSOLICITED);
	assert_int_equal(arp_count(fx.c), 0);
	assert_int_equal(fx.o.out.ntx, 0);
	assert_int_equal(fx.o.out.nev, 0);
	/* A gratuitous reply (tpa == spa, to broadcast) is no different. */
	assert_int_equal(rx(0, ARP_OP_REPLY, mac_a, HOST_A, mac_bcast, HOST_A),
	    DROP_ARP_UNSOLICITED);
	assert_int_equal(arp_count(fx.c), 0);
}

static void
check_new_mac_refused(void)
{
	struct arp_entry before, after;
	uint64_t refused = arp_stats(fx.c)->lladdr_refused;

	assert_int_equal(arp_get(fx.c, 0, HOST_A, &before), 0);
	fx.now += TL_S;
	assert_int_equal(rx_reply(0, mac_a2, HOST_A), DROP_ARP_UNSOLICITED);
	assert_int_equal(arp_get(fx.c, 0, HOST_A, &after), 0);
	assert_memory_equal(after.mac, mac_a, ETH_ALEN);
	assert_int_equal(after.state, before.state);
	assert_int_equal(after.updated_us, before.updated_us);
	assert_int_equal(arp_stats(fx.c)->lladdr_refused, refused + 1);
	assert_int_equal(fx.o.out.nev, 0);

	/* A request for our address carrying the other MAC changes nothing either. */
	(void)rx_request(0, mac_a2, HOST_A);
	assert_int_equal(arp_get(fx.c, 0, HOST_A, &after), 0);
	assert_memory_equal(after.mac, mac_a, ETH_ALEN);
	assert_int_equal(after.state, before.state);
	assert_int_equal(arp_stats(fx.c)->lladdr_refused, refused + 2);
	assert_int_equal(fx.o.out.nev, 0);
}

static void
arp_input__new_mac_refused_when_reachable(void **state)
{
	(void)state;
	learn_reachable(0, HOST_A, mac_a);
	check_new_mac_refused();
}

static void
arp_input__new_mac_refused_when_stale(void **state)
{
	(void)state;
	learn_stale(0, HOST_A, mac_a);
	check_new_mac_refused();
}

static void
arp_input__new_mac_in_probe_reply_is_lladdr_change(void **state)
{
	struct arp_entry e;

	(void)state;
	reach_probe();
	fx.now += 200 * TL_MS;
	assert_int_equal(rx_reply(0, mac_a2, HOST_A), DROP_NONE);
	assert_int_equal(fx.o.out.nev, 1);
	assert_ev(&fx.o.ev[0], EV_LLADDR, EV_CAUSE_ARP_REPLY, HOST_A, mac_a2,
	    ARP_REACHABLE, 0);
	assert_memory_equal(fx.o.ev[0].arp.old_mac, mac_a, ETH_ALEN);
	assert_int_equal(arp_get(fx.c, 0, HOST_A, &e), 0);
	assert_memory_equal(e.mac, mac_a2, ETH_ALEN);
	assert_int_equal(e.state, ARP_REACHABLE);
	assert_int_equal(arp_stats(fx.c)->lladdr_changes, 1);
}

/* arp.h: "a request carrying a new MAC is refused (lladdr_refused), since
 * anyone may send one" -- even while we probe; only a reply is an answer. */
static void
arp_input__new_mac_in_probe_request_is_refused(void **state)
{
	struct arp_entry e;

	(void)state;
	reach_probe();
	fx.now += 200 * TL_MS;
	assert_int_equal(rx_request(0, mac_a2, HOST_A), DROP_NONE);
	assert_int_equal(arp_get(fx.c, 0, HOST_A, &e), 0);
	assert_memory_equal(e.mac, mac_a, ETH_ALEN);
	assert_int_equal(e.state, ARP_PROBE);
	assert_int_equal(fx.o.out.nev, 0);
	assert_int_equal(arp_stats(fx.c)->lladdr_changes, 0);
	assert_int_equal(arp_stats(fx.c)->lladdr_refused, 1);
}

static void
arp_input__offnet_sender_is_ignored(void **state)
{
	(void)state;
	assert_int_equal(rx_request(0, mac_a, IP4(10, 0, 0, 5)), DROP_ARP_OFFNET);
	assert_int_equal(rx_request(0, mac_a, IP4(192, 168, 2, 10)), DROP_ARP_OFFNET);
	/* The other interface's subnet is off this one's net. */
	assert_int_equal(rx_request(0, mac_b, HOST_B), DROP_ARP_OFFNET);
	assert_int_equal(fx.o.out.ntx, 0);
	assert_int_equal(fx.o.out.nev, 0);
	assert_int_equal(arp_count(fx.c), 0);

	/* Even when we are asking for that very address. */
	uint8_t f[64], mac[ETH_ALEN];

	mkframe(f, 0, 0, sizeof(f));
	assert_int_equal(resolve(0, IP4(192, 168, 1, 77), mac, f, sizeof(f)), DROP_MAX);
	reset();
	assert_int_equal(rx_reply(0, mac_a, IP4(10, 0, 0, 5)), DROP_ARP_OFFNET);
	assert_int_equal(fx.o.out.nev, 0);
	assert_int_equal(arp_count(fx.c), 1);
}

static void
arp_input__bad_sender_mac_is_refused(void **state)
{
	static const uint8_t mcast[ETH_ALEN] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };

	(void)state;
	assert_int_equal(rx_request(0, mac_bcast, HOST_A), DROP_ARP_BAD);
	assert_int_equal(rx_request(0, mac_zero, HOST_A), DROP_ARP_BAD);
	assert_int_equal(rx_request(0, mcast, HOST_A), DROP_ARP_BAD);
	/* Not even while we ask for it. */
	uint8_t f[64], mac[ETH_ALEN];

	mkframe(f, 0, 0, sizeof(f));
	assert_int_equal(resolve(0, HOST_A, mac, f, sizeof(f)), DROP_MAX);
	reset();
	assert_int_equal(rx_reply(0, mac_bcast, HOST_A), DROP_ARP_BAD);
	assert_int_equal(rx_reply(0, mac_zero, HOST_A), DROP_ARP_BAD);
	assert_int_equal(state_of(0, HOST_A), ARP_INCOMPLETE);
	assert_int_equal(fx.o.out.ntx, 0);	/* and no answer to broadcast */
	assert_int_equal(fx.o.out.nev, 0);
}

static void
arp_input__claim_of_our_address_is_refused(void **state)
{
	(void)state;
	assert_int_equal(rx(0, ARP_OP_REQUEST, mac_a2, IN_ADDR, mac_zero, IN_ADDR),
	    DROP_ARP_BAD);
	assert_int_equal(rx(0, ARP_OP_REPLY, mac_a2, IN_ADDR, mac_in, IN_ADDR),
	    DROP_ARP_BAD);
	assert_int_equal(rx(0, ARP_OP_REPLY, mac_a2, IN_ADDR, mac_bcast, HOST_A),
	    DROP_ARP_BAD);
	assert_int_equal(arp_count(fx.c), 0);
	assert_int_equal(fx.o.out.ntx, 0);
	assert_int_equal(fx.o.out.nev, 0);
}

/* ---- queue bounds ---- */

static void
arp_resolve__queue_bounds(void **state)
{
	struct arp_params p;
	uint8_t f[6][64], want[64], mac[ETH_ALEN];
	struct arp_entry e;

	(void)state;
	params_test(&p);
	p.unres_qlen = 3;
	p.unres_total = 5;
	fx_open(&p, 42);
	for (int i = 0; i < 6; i++)
		mkframe(f[i], i < 4 ? 0 : 1, (uint8_t)(0x10 * (i + 1)), 64);
	for (int i = 0; i < 3; i++)
		assert_int_equal(resolve(0, HOST_A, mac, f[i], 64), DROP_MAX);
	assert_int_equal(resolve(0, HOST_A, mac, f[3], 64), DROP_ARP_QUEUE_FULL);
	assert_int_equal(arp_get(fx.c, 0, HOST_A, &e), 0);
	assert_int_equal(e.queued, 3);

	/* Two places left in the pool of five. */
	assert_int_equal(resolve(1, HOST_B, mac, f[4], 64), DROP_MAX);
	assert_int_equal(resolve(1, HOST_B, mac, f[5], 64), DROP_MAX);
	assert_int_equal(resolve(1, HOST_B, mac, f[5], 64), DROP_ARP_QUEUE_FULL);
	assert_int_equal(arp_stats(fx.c)->queue_drops, 2);

	/* The three held frames of A leave, in order; the refused one not. */
	reset();
	assert_int_equal(rx_reply(0, mac_a, HOST_A), DROP_NONE);
	assert_int_equal(fx.o.out.ntx, 3);
	for (unsigned i = 0; i < 3; i++) {
		memcpy(want, f[i], 64);
		memcpy(want, mac_a, ETH_ALEN);
		assert_tx(i, 0, want, 64);
	}
	/* Their places are free again. */
	assert_int_equal(resolve(1, HOST_B, mac, f[5], 64), DROP_MAX);
}

static void
arp_resolve__oversize_frame_is_refused(void **state)
{
	struct arp_params p;
	uint8_t f[129], mac[ETH_ALEN];
	struct arp_entry e;

	(void)state;
	params_test(&p);
	p.frame_max = 128;
	fx_open(&p, 42);
	mkframe(f, 0, 0, sizeof(f));
	assert_int_equal(resolve(0, HOST_A, mac, f, 129), DROP_OVERSIZE);
	assert_int_equal(arp_count(fx.c), 0);
	assert_int_equal(fx.o.out.ntx, 0);
	assert_int_equal(resolve(0, HOST_A, mac, f, 128), DROP_MAX);
	assert_int_equal(resolve(0, HOST_A, mac, f, 129), DROP_OVERSIZE);
	assert_int_equal(arp_get(fx.c, 0, HOST_A, &e), 0);
	assert_int_equal(e.queued, 1);
}

/* ---- PERMANENT ---- */

static void
arp_add_static__is_permanent(void **state)
{
	struct arp_entry e;
	uint8_t f[64], mac[ETH_ALEN];

	(void)state;
	assert_int_equal(arp_add_static(fx.c, 0, HOST_A, mac_a, fx.now, &fx.o.out), 0);
	assert_int_equal(fx.o.out.nev, 1);
	assert_ev(&fx.o.ev[0], EV_ADD, EV_CAUSE_STATIC, HOST_A, mac_a,
	    ARP_PERMANENT, 0);
	assert_int_equal(fx.o.ev[0].arp.expires_us, 0);
	assert_int_equal(fx.o.out.ntx, 0);
	assert_int_equal(arp_next_deadline(fx.c), UINT64_MAX);
	reset();

	for (unsigned h = 1; h <= 10; h++) {
		fx.now = TL_T0 + h * 3600 * TL_S;
		tick();
	}
	assert_int_equal(state_of(0, HOST_A), ARP_PERMANENT);
	assert_int_equal(fx.o.out.nev, 0);
	assert_int_equal(fx.o.out.ntx, 0);

	assert_int_equal(rx_reply(0, mac_a2, HOST_A), DROP_ARP_UNSOLICITED);
	(void)rx_request(0, mac_a2, HOST_A);
	assert_int_equal(rx_reply(0, mac_a, HOST_A), DROP_NONE);
	assert_int_equal(arp_get(fx.c, 0, HOST_A, &e), 0);
	assert_int_equal(e.state, ARP_PERMANENT);
	assert_memory_equal(e.mac, mac_a, ETH_ALEN);
	assert_int_equal(e.expires_us, 0);
	assert_int_equal(fx.o.out.nev, 0);

	mkframe(f, 0, 0, sizeof(f));
	assert_int_equal(resolve(0, HOST_A, mac, f, sizeof(f)), DROP_NONE);
	assert_memory_equal(mac, mac_a, ETH_ALEN);
	assert_int_equal(state_of(0, HOST_A), ARP_PERMANENT);
	assert_int_equal(fx.o.out.nev, 0);

	assert_int_equal(arp_add_static(fx.c, 2, HOST_A, mac_a, fx.now, &fx.o.out),
	    -EINVAL);
}

/* event.h: EV_ADD is for an entry that first gets a MAC; a learned entry
 * made permanent changes state, which is EV_UPDATE. */
static void
arp_add_static__over_learned_entry_is_an_update(void **state)
{
	(void)state;
	learn_stale(0, HOST_A, mac_a);
	fx.now += TL_S;
	assert_int_equal(arp_add_static(fx.c, 0, HOST_A, mac_a, fx.now, &fx.o.out), 0);
	assert_int_equal(state_of(0, HOST_A), ARP_PERMANENT);
	assert_int_equal(fx.o.out.nev, 1);
	assert_ev(&fx.o.ev[0], EV_UPDATE, EV_CAUSE_STATIC, HOST_A, mac_a,
	    ARP_PERMANENT, 0);
}

/* arp.h: "When the entry resolves they are sent in order". A configured MAC
 * resolves it as surely as a reply does: the held frames must leave. */
static void
arp_add_static__releases_held_frames(void **state)
{
	uint8_t f[64], want[64], mac[ETH_ALEN];

	(void)state;
	mkframe(f, 0, 0x33, sizeof(f));
	assert_int_equal(resolve(0, HOST_A, mac, f, sizeof(f)), DROP_MAX);
	reset();
	assert_int_equal(arp_add_static(fx.c, 0, HOST_A, mac_a, fx.now, &fx.o.out), 0);
	assert_int_equal(state_of(0, HOST_A), ARP_PERMANENT);
	memcpy(want, f, sizeof(f));
	memcpy(want, mac_a, ETH_ALEN);
	assert_int_equal(fx.o.out.ntx, 1);
	assert_tx(0, 0, want, sizeof(want));
}

/* xorshift64*, fixed seed: a failure replays. */
static uint64_t churn_rng = 0x9e3779b97f4a7c15ULL;

static uint64_t
churn_next(void)
{
	churn_rng ^= churn_rng >> 12;
	churn_rng ^= churn_rng << 25;
	churn_rng ^= churn_rng >> 27;
	return churn_rng * 0x2545f4914f6cdd1dULL;
}

/*
 * Learning, resolving, eviction and collection in a small table, in random
 * order: afterwards every entry arp_dump shows is found by arp_get, nothing
 * else is, and arp_count agrees (the hash's deletions lose no neighbour).
 */
static void
arp_get__finds_every_entry_under_churn(void **state)
{
	struct arp_params p;
	struct arp_entry dump[16], e;
	uint8_t f[64], mac[ETH_ALEN], m[ETH_ALEN] = { 0x02, 0xdd, 0, 0, 0, 0 };

	(void)state;
	params_test(&p);
	p.max_entries = 16;
	p.gc_stale_ms = 3000;
	fx_open(&p, 9);
	mkframe(f, 0, 0, sizeof(f));
	for (unsigned round = 0; round < 4000; round++) {
		uint64_t r = churn_next();
		uint8_t host = (uint8_t)(2 + r % 60);
		uint32_t ip = IP4(192, 168, 1, host);

		m[5] = host;
		switch ((r >> 8) % 4) {
		case 0:
			(void)rx_request(0, m, ip);
			break;
		case 1:
			(void)resolve(0, ip, mac, f, sizeof(f));
			break;
		case 2:
			(void)rx_reply(0, m, ip);
			break;
		default:
			fx.now += (r >> 16) % 700 * TL_MS;
			tick();
			break;
		}
		reset();
		size_t n = arp_dump(fx.c, dump, 16);

		assert_int_equal(n, arp_count(fx.c));
		for (size_t i = 0; i < n; i++) {
			assert_int_equal(arp_get(fx.c, dump[i].ifidx, dump[i].ip, &e), 0);
			assert_int_equal(e.ip, dump[i].ip);
		}
		for (unsigned h = 2; h < 62; h++) {
			bool in_dump = false;

			for (size_t i = 0; i < n; i++)
				in_dump |= dump[i].ip == IP4(192, 168, 1, h);
			assert_int_equal(arp_get(fx.c, 0, IP4(192, 168, 1, h), &e) == 0,
			    in_dump);
		}
	}
}

/* ---- table full ---- */

static void
arp_resolve__full_table_evicts_oldest_stale(void **state)
{
	struct arp_params p;
	uint8_t f[64], mac[ETH_ALEN], m[ETH_ALEN] = { 0x02, 0xcc, 0, 0, 0, 0 };

	(void)state;
	params_test(&p);
	p.max_entries = 4;
	fx_open(&p, 42);
	/* .10 learned first, .13 last; .10 is then the oldest STALE entry. */
	for (uint8_t i = 0; i < 4; i++) {
		fx.now = TL_T0 + i * TL_S;
		m[5] = (uint8_t)(10 + i);
		learn_stale(0, IP4(192, 168, 1, 10 + i), m);
	}
	fx.now = TL_T0 + 10 * TL_S;
	mkframe(f, 1, 0, sizeof(f));
	assert_int_equal(resolve(1, HOST_B, mac, f, sizeof(f)), DROP_MAX);
	m[5] = 10;
	assert_int_equal(fx.o.out.nev, 1);
	assert_int_equal(fx.o.ev[0].op, EV_REMOVE);
	assert_int_equal(fx.o.ev[0].cause, EV_CAUSE_TABLE_FULL);
	assert_int_equal(fx.o.ev[0].arp.ip, IP4(192, 168, 1, 10));
	assert_memory_equal(fx.o.ev[0].arp.mac, m, ETH_ALEN);
	assert_int_equal(fx.o.ev[0].now_us, fx.now);
	assert_int_equal(state_of(0, IP4(192, 168, 1, 10)), -1);
	for (uint8_t i = 1; i < 4; i++)
		assert_int_equal(state_of(0, IP4(192, 168, 1, 10 + i)), ARP_STALE);
	assert_int_equal(state_of(1, HOST_B), ARP_INCOMPLETE);
	assert_int_equal(fx.o.out.ntx, 1);
	assert_tx(0, 1, req_b_bcast, sizeof(req_b_bcast));
	assert_int_equal(arp_count(fx.c), 4);
	assert_int_equal(arp_stats(fx.c)->evicted, 1);
}

static void
arp_resolve__full_table_without_victim_refuses(void **state)
{
	struct arp_params p;
	uint8_t f[64], mac[ETH_ALEN], m[ETH_ALEN] = { 0x02, 0xcc, 0, 0, 0, 0 };

	(void)state;
	params_test(&p);
	p.max_entries = 4;
	fx_open(&p, 42);
	/* Two REACHABLE, one INCOMPLETE, one PERMANENT: none may go. */
	for (uint8_t i = 0; i < 2; i++) {
		m[5] = (uint8_t)(10 + i);
		learn_reachable(0, IP4(192, 168, 1, 10 + i), m);
	}
	mkframe(f, 0, 0, sizeof(f));
	assert_int_equal(resolve(0, IP4(192, 168, 1, 12), mac, f, sizeof(f)), DROP_MAX);
	assert_int_equal(arp_add_static(fx.c, 0, IP4(192, 168, 1, 13), m, fx.now,
	    &fx.o.out), 0);
	reset();
	fx.now += 100 * TL_MS;
	mkframe(f, 1, 0, sizeof(f));
	assert_int_equal(resolve(1, HOST_B, mac, f, sizeof(f)), DROP_ARP_QUEUE_FULL);
	assert_int_equal(fx.o.out.ntx, 0);
	assert_int_equal(fx.o.out.nev, 0);
	assert_int_equal(arp_count(fx.c), 4);
	assert_int_equal(state_of(1, HOST_B), -1);
	assert_int_equal(arp_add_static(fx.c, 1, HOST_B, mac_b, fx.now, &fx.o.out),
	    -ENOSPC);
}

/* ---- restore, deadline, announce, dump ---- */

/* A standby following its peer's history: a learned entry goes, no event. */
static void
arp_forget__drops_a_learned_entry_not_a_permanent_one(void **state)
{
	struct arp_entry e = {
		.ip = HOST_A, .mac = { 0x02, 0xaa, 0x00, 0x00, 0x00, 0x0a },
		.state = ARP_STALE, .ifidx = 0, .updated_us = TL_T0 - 10 * TL_S,
	}, perm = e, got;

	(void)state;
	perm.ip = IP4(192, 168, 1, 11);
	perm.state = ARP_PERMANENT;
	assert_int_equal(arp_restore(fx.c, &e), 0);
	assert_int_equal(arp_restore(fx.c, &perm), 0);
	assert_int_equal(arp_forget(fx.c, 0, HOST_A), 0);
	assert_int_equal(arp_get(fx.c, 0, HOST_A, &got), -1);
	assert_int_equal(arp_forget(fx.c, 0, HOST_A), -ENOENT);
	assert_int_equal(arp_forget(fx.c, 0, perm.ip), -EPERM);
	assert_int_equal(arp_forget(fx.c, 9, perm.ip), -ENOENT);
	assert_int_equal(arp_count(fx.c), 1);
	/* Restored again after, as a changed entry is. */
	assert_int_equal(arp_restore(fx.c, &e), 0);
	assert_int_equal(arp_count(fx.c), 2);
}

static void
arp_restore__comes_back_stale_without_event(void **state)
{
	struct arp_entry e = {
		.ip = HOST_A, .mac = { 0x02, 0xaa, 0x00, 0x00, 0x00, 0x0a },
		.state = ARP_REACHABLE, .ifidx = 0,
		.updated_us = TL_T0 - 10 * TL_S, .used_us = TL_T0 - 5 * TL_S,
	};
	struct arp_entry perm = {
		.ip = HOST_B, .mac = { 0x02, 0xbb, 0x00, 0x00, 0x00, 0x14 },
		.state = ARP_PERMANENT, .ifidx = 1, .updated_us = TL_T0 - 100 * TL_S,
	};
	struct arp_entry got, bad;
	uint8_t f[64], mac[ETH_ALEN];

	(void)state;
	assert_int_equal(arp_restore(fx.c, &e), 0);
	assert_int_equal(arp_get(fx.c, 0, HOST_A, &got), 0);
	assert_int_equal(got.state, ARP_STALE);
	assert_memory_equal(got.mac, mac_a, ETH_ALEN);
	assert_int_equal(got.updated_us, TL_T0 - 10 * TL_S);
	assert_int_equal(arp_restore(fx.c, &perm), 0);
	assert_int_equal(state_of(1, HOST_B), ARP_PERMANENT);

	e.ip = IP4(192, 168, 1, 11);
	e.state = ARP_DELAY;
	assert_int_equal(arp_restore(fx.c, &e), 0);
	assert_int_equal(state_of(0, e.ip), ARP_STALE);

	bad = e;
	bad.ip = IP4(192, 168, 1, 12);
	bad.state = ARP_INCOMPLETE;
	assert_true(arp_restore(fx.c, &bad) < 0);
	bad.state = ARP_FAILED;
	assert_true(arp_restore(fx.c, &bad) < 0);
	bad.state = ARP_STATE_MAX;
	assert_true(arp_restore(fx.c, &bad) < 0);
	bad.state = ARP_STALE;
	bad.ifidx = 7;
	assert_true(arp_restore(fx.c, &bad) < 0);
	assert_int_equal(arp_count(fx.c), 3);

	/* Nothing is due before the STALE entries' collection. */
	tick();
	assert_int_equal(fx.o.out.nev, 0);
	assert_int_equal(fx.o.out.ntx, 0);
	/* Usable, and checked again on use. */
	mkframe(f, 0, 0, sizeof(f));
	assert_int_equal(resolve(0, HOST_A, mac, f, sizeof(f)), DROP_NONE);
	assert_memory_equal(mac, mac_a, ETH_ALEN);
	assert_int_equal(state_of(0, HOST_A), ARP_DELAY);
}

static void
arp_next_deadline__tracks_timers(void **state)
{
	uint8_t f[64], mac[ETH_ALEN];
	struct arp_entry e = {
		.ip = HOST_A, .mac = { 0x02, 0xaa, 0x00, 0x00, 0x00, 0x0a },
		.state = ARP_STALE, .ifidx = 0,
		.updated_us = TL_T0 - 10 * TL_S, .used_us = TL_T0 - 5 * TL_S,
	};

	(void)state;
	assert_int_equal(arp_next_deadline(fx.c), UINT64_MAX);
	mkframe(f, 1, 0, sizeof(f));
	assert_int_equal(resolve(1, HOST_B, mac, f, sizeof(f)), DROP_MAX);
	assert_int_equal(arp_next_deadline(fx.c), TL_T0 + TL_S);
	for (unsigned k = 1; k <= 4; k++) {
		fx.now = TL_T0 + k * TL_S;
		tick();
		if (k < 4)
			assert_int_equal(arp_next_deadline(fx.c), fx.now + TL_S);
	}
	assert_int_equal(arp_count(fx.c), 0);
	assert_int_equal(arp_next_deadline(fx.c), UINT64_MAX);

	/* A restored STALE entry is collected gc_stale after its last use. */
	assert_int_equal(arp_restore(fx.c, &e), 0);
	assert_int_equal(arp_next_deadline(fx.c), TL_T0 - 5 * TL_S + 60 * TL_S);
}

/* arp.h: the deadline is "never later than the earliest due timer; it may
 * be earlier ... and a tick then finds nothing due". After a confirmation
 * the stale retransmit deadline may remain: a tick at it changes nothing and
 * brings the deadline to the reachable timer. */
static void
arp_next_deadline__follows_confirmation(void **state)
{
	uint8_t f[64], mac[ETH_ALEN];
	struct arp_entry e;
	uint64_t d;

	(void)state;
	mkframe(f, 0, 0, sizeof(f));
	assert_int_equal(resolve(0, HOST_A, mac, f, sizeof(f)), DROP_MAX);
	fx.now = TL_T0 + 200 * TL_MS;
	assert_int_equal(rx_reply(0, mac_a, HOST_A), DROP_NONE);
	d = arp_next_deadline(fx.c);
	assert_true(d <= fx.now + 45 * TL_S);
	fx.now = d;
	reset();
	arp_tick(fx.c, fx.now, &fx.o.out, NULL, NULL);
	assert_int_equal(fx.o.out.nev, 0);
	assert_int_equal(fx.o.out.ntx, 0);
	assert_int_equal(arp_get(fx.c, 0, HOST_A, &e), 0);
	assert_int_equal(e.state, ARP_REACHABLE);
	d = arp_next_deadline(fx.c);
	assert_true(d >= TL_T0 + 200 * TL_MS + 15 * TL_S);
	assert_true(d <= TL_T0 + 200 * TL_MS + 45 * TL_S);
}

static void
arp_announce__broadcasts_request_for_own_address(void **state)
{
	(void)state;
	arp_announce(fx.c, 1, &fx.o.out);
	assert_int_equal(fx.o.out.ntx, 1);
	assert_tx(0, 1, announce_out, sizeof(announce_out));
	assert_memory_equal(fx.o.tx[0].data + 6, mac_out, ETH_ALEN);
	assert_int_equal(arp_stats(fx.c)->announces_sent, 1);
	assert_int_equal(arp_count(fx.c), 0);
	assert_int_equal(fx.o.out.nev, 0);
}

static void
arp_dump__copies_every_entry(void **state)
{
	struct arp_entry es[8];
	unsigned seen = 0;

	(void)state;
	learn_stale(0, HOST_A, mac_a);
	learn_reachable(1, HOST_B, mac_b);
	assert_int_equal(arp_dump(fx.c, es, 8), 2);
	for (unsigned i = 0; i < 2; i++) {
		if (es[i].ip == HOST_A) {
			assert_int_equal(es[i].state, ARP_STALE);
			assert_memory_equal(es[i].mac, mac_a, ETH_ALEN);
			seen |= 1;
		} else if (es[i].ip == HOST_B) {
			assert_int_equal(es[i].state, ARP_REACHABLE);
			assert_int_equal(es[i].ifidx, 1);
			assert_memory_equal(es[i].mac, mac_b, ETH_ALEN);
			seen |= 2;
		}
	}
	assert_int_equal(seen, 3);
	assert_int_equal(arp_dump(fx.c, es, 1), 1);
	assert_int_equal(arp_get(fx.c, 1, HOST_A, &es[0]), -1);	/* per interface */
}

static void
arp_new__rejects_bad_parameters(void **state)
{
	struct arp_params p;

	(void)state;
	params_test(&p);
	assert_null(arp_new(&p, ifs, 0, 1));
	p.max_entries = 0;
	assert_null(arp_new(&p, ifs, 2, 1));
	params_test(&p);
	p.unres_total = 0;
	assert_null(arp_new(&p, ifs, 2, 1));
	arp_free(NULL);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(arp_resolve__unknown_holds_frame_and_broadcasts),
		T(arp_input__reply_resolves_and_releases_in_order),
		T(arp_input__request_for_us_resolves_incomplete_as_stale),
		T(arp_tick__incomplete_retries_then_fails),
		T(arp_resolve__failed_entry_starts_again),
		T(arp_tick__fail_callback_may_resolve_into_full_table),
		T(arp_tick__reachable_goes_stale_in_random_window),
		T(arp_resolve__stale_use_delays_then_probes_unicast),
		T(arp_input__reply_in_probe_confirms),
		T(arp_tick__probe_without_reply_fails),
		T(arp_tick__stale_unused_is_collected),
		T(arp_input__reply_refreshes_stale_and_reachable),
		T(arp_input__request_for_us_is_answered_and_learned),
		T(arp_input__request_for_someone_else_teaches_nothing),
		T(arp_input__rfc5227_probe_is_answered_and_teaches_nothing),
		T(arp_input__unsolicited_reply_creates_nothing),
		T(arp_input__new_mac_refused_when_reachable),
		T(arp_input__new_mac_refused_when_stale),
		T(arp_input__new_mac_in_probe_reply_is_lladdr_change),
		T(arp_input__new_mac_in_probe_request_is_refused),
		T(arp_input__offnet_sender_is_ignored),
		T(arp_input__bad_sender_mac_is_refused),
		T(arp_input__claim_of_our_address_is_refused),
		T(arp_resolve__queue_bounds),
		T(arp_resolve__oversize_frame_is_refused),
		T(arp_add_static__is_permanent),
		T(arp_add_static__over_learned_entry_is_an_update),
		T(arp_add_static__releases_held_frames),
		T(arp_get__finds_every_entry_under_churn),
		T(arp_resolve__full_table_evicts_oldest_stale),
		T(arp_resolve__full_table_without_victim_refuses),
		T(arp_restore__comes_back_stale_without_event),
		T(arp_forget__drops_a_learned_entry_not_a_permanent_one),
		T(arp_next_deadline__tracks_timers),
		T(arp_next_deadline__follows_confirmation),
		T(arp_announce__broadcasts_request_for_own_address),
		T(arp_dump__copies_every_entry),
		T(arp_new__rejects_bad_parameters),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: ISC */
/*
 * Tests of src/hlimit.c: the token buckets that keep unsolicited inbound
 * traffic from filling history (issue 12). Exact counts of events let
 * through at given instants, for one remote, many remotes, a flood, and
 * the classification of which events the limits apply to.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>

#include "netfn/nat.h"
#include "src/hlimit.h"

#define T0	1700000000000000ULL	/* a unix time in microseconds */
#define SEC	1000000ULL

static unsigned
take_n(struct hlimit *l, uint32_t remote, uint64_t now, unsigned n)
{
	unsigned ok = 0;

	for (unsigned i = 0; i < n; i++)
		ok += hlimit_take(l, remote, now);
	return ok;
}

/* One remote: its burst at once, then its rate, never more. */
static void
hlimit_take__one_remote_burst_then_rate(void **state)
{
	struct hlimit_params p = { .rate = 5, .burst = 20, .total_rate = 1000,
	    .total_burst = 1000 };
	struct hlimit *l;

	(void)state;
	assert_non_null(l = hlimit_new(&p, 42));
	assert_int_equal(take_n(l, 0x0a000001, T0, 100), 20);
	/* 5/s: one event every 200 ms. */
	assert_int_equal(take_n(l, 0x0a000001, T0 + 199999, 10), 0);
	assert_int_equal(take_n(l, 0x0a000001, T0 + 200000, 10), 1);
	assert_int_equal(take_n(l, 0x0a000001, T0 + 300000, 10), 0);
	assert_int_equal(take_n(l, 0x0a000001, T0 + 1200000, 10), 5);
	/* An hour idle refills to the burst, not beyond. */
	assert_int_equal(take_n(l, 0x0a000001, T0 + 3600 * SEC, 100), 20);
	hlimit_free(l);
}

/* The defaults: per remote first, then the total. */
static void
hlimit_take__defaults(void **state)
{
	struct hlimit_params p;
	struct hlimit *l;
	unsigned ok = 0;

	(void)state;
	hlimit_params_default(&p);
	assert_int_equal(p.rate, 2);
	assert_int_equal(p.burst, 10);
	assert_int_equal(p.total_rate, 20);
	assert_int_equal(p.total_burst, 200);
	assert_non_null(l = hlimit_new(&p, 5));
	assert_int_equal(take_n(l, 0x0a000001, T0, 100), 10);
	assert_int_equal(take_n(l, 0x0a000001, T0 + 500000, 100), 1);
	for (uint32_t i = 2; i < 1000; i++)
		ok += hlimit_take(l, 0x0a000000 + i, T0 + 500000);
	assert_int_equal(ok, 200 - 10 - 1 + 10);	/* the total refilled 10 in 0.5 s */
	hlimit_free(l);
}

/* Many remotes, each within its own limit: the total caps them together. */
static void
hlimit_take__total_caps_many_remotes(void **state)
{
	struct hlimit_params p;
	struct hlimit *l;
	unsigned ok = 0;

	(void)state;
	hlimit_params_default(&p);
	assert_non_null(l = hlimit_new(&p, 7));
	for (uint32_t i = 0; i < 5000; i++)
		ok += hlimit_take(l, 0x64400000 + i, T0);
	assert_int_equal(ok, HLIMIT_TOTAL_BURST);
	ok = 0;
	for (uint32_t i = 0; i < 5000; i++)
		ok += hlimit_take(l, 0x64500000 + i, T0 + SEC);
	assert_int_equal(ok, HLIMIT_TOTAL_RATE);
	hlimit_free(l);
}

/* A refusal by one bucket takes nothing from the other. */
static void
hlimit_take__refused_takes_nothing(void **state)
{
	struct hlimit_params p = { .rate = 1, .burst = 20, .total_rate = 1,
	    .total_burst = 25 };
	struct hlimit *l;

	(void)state;
	assert_non_null(l = hlimit_new(&p, 1));
	assert_int_equal(take_n(l, 0xc6336401, T0, 20), 20);
	assert_int_equal(take_n(l, 0xc6336401, T0, 30), 0);	/* its own is empty */
	assert_int_equal(take_n(l, 0xc6336402, T0, 10), 5);	/* total had 5 left */
	hlimit_free(l);
}

/* A spoofed flood from random sources at 10 kHz for 10 s: the total holds. */
static void
hlimit_take__flood_stays_within_total(void **state)
{
	struct hlimit_params p;
	struct hlimit *l;
	uint64_t ok = 0, x = 88172645463325252ULL;

	(void)state;
	hlimit_params_default(&p);
	assert_non_null(l = hlimit_new(&p, 99));
	for (uint64_t t = 0; t < 10 * SEC; t += 100) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		ok += hlimit_take(l, (uint32_t)x, T0 + t);
	}
	assert_true(ok <= HLIMIT_TOTAL_BURST + 10 * HLIMIT_TOTAL_RATE);
	assert_true(ok >= HLIMIT_TOTAL_BURST + 10 * HLIMIT_TOTAL_RATE - 2);
	hlimit_free(l);
}

/* Rates of 0 are no limit; a clock that steps back refills nothing. */
static void
hlimit_take__zero_rate_and_time_backwards(void **state)
{
	struct hlimit_params off = { 0 }, p = { .rate = 5, .burst = 2 };
	struct hlimit *l;

	(void)state;
	assert_non_null(l = hlimit_new(&off, 3));
	assert_int_equal(take_n(l, 1, T0, 100000), 100000);
	hlimit_free(l);
	/* Per remote only (total off). */
	assert_non_null(l = hlimit_new(&p, 3));
	assert_int_equal(take_n(l, 1, T0, 10), 2);
	assert_int_equal(take_n(l, 1, T0 - 10 * SEC, 10), 0);
	assert_int_equal(take_n(l, 1, T0, 10), 0);
	assert_int_equal(take_n(l, 2, T0, 10), 2);
	hlimit_free(l);
}

/* Only half-open NAT sessions' events are unsolicited. */
static void
hlimit_unsolicited__half_open_nat_only(void **state)
{
	struct nf_event ev = { .table = EV_TABLE_NAT, .op = EV_ADD,
	    .cause = EV_CAUSE_NAT_INBOUND };

	(void)state;
	ev.nat.flags = NAT_SF_INBOUND | NAT_SF_HALF;
	assert_true(hlimit_unsolicited(&ev));
	ev.op = EV_REMOVE;
	ev.cause = EV_CAUSE_TABLE_FULL;		/* a half-open session evicted */
	assert_true(hlimit_unsolicited(&ev));
	ev.op = EV_UPDATE;
	ev.cause = EV_CAUSE_NAT_TCP;		/* the inside answered: promoted */
	ev.nat.flags = NAT_SF_INBOUND | NAT_SF_REPLIED;
	assert_false(hlimit_unsolicited(&ev));
	ev.nat.flags = NAT_SF_STATIC | NAT_SF_INBOUND;
	assert_false(hlimit_unsolicited(&ev));
	ev.nat.flags = 0;
	ev.cause = EV_CAUSE_NAT_OUTBOUND;
	assert_false(hlimit_unsolicited(&ev));
	ev = (struct nf_event){ .table = EV_TABLE_ARP, .op = EV_ADD };
	ev.nat.flags = NAT_SF_HALF;		/* the union's bytes mean nothing */
	assert_false(hlimit_unsolicited(&ev));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hlimit_take__one_remote_burst_then_rate),
		cmocka_unit_test(hlimit_take__defaults),
		cmocka_unit_test(hlimit_take__total_caps_many_remotes),
		cmocka_unit_test(hlimit_take__refused_takes_nothing),
		cmocka_unit_test(hlimit_take__flood_stays_within_total),
		cmocka_unit_test(hlimit_take__zero_rate_and_time_backwards),
		cmocka_unit_test(hlimit_unsolicited__half_open_nat_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: ISC */
/*
 * Tests for netfn/route: exact cases for longest-prefix match, replacement,
 * removal and bad input, then a differential test against a naive reference
 * (a linear scan for the longest matching prefix) on random tables.
 *
 * The differential test uses its own xorshift64* generator with a fixed base
 * seed, so a failure reproduces; it prints the round's seed, and
 * ROUTE_TEST_SEED=<n> in the environment replaces the base seed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netfn/route.h"

#define IP(a, b, c, d)	((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | \
			 (uint32_t)(c) << 8 | (uint32_t)(d))

static struct route
mkroute(uint32_t prefix, uint8_t plen, uint8_t ifidx, uint32_t gw)
{
	return (struct route){ .prefix = prefix, .plen = plen, .ifidx = ifidx,
	    .gw = gw };
}

static void
add_ok(struct rtable *rt, uint32_t prefix, uint8_t plen, uint8_t ifidx,
    uint32_t gw)
{
	struct route r = mkroute(prefix, plen, ifidx, gw);

	assert_int_equal(route_add(rt, &r), 0);
}

/* Look dst up and check it resolves to exactly prefix/plen via ifidx, gw. */
static void
expect_route(const struct rtable *rt, uint32_t dst, uint32_t prefix,
    uint8_t plen, uint8_t ifidx, uint32_t gw)
{
	struct route out;

	memset(&out, 0xa5, sizeof(out));
	assert_int_equal(route_lookup(rt, dst, &out), 0);
	assert_int_equal(out.prefix, prefix);
	assert_int_equal(out.plen, plen);
	assert_int_equal(out.ifidx, ifidx);
	assert_int_equal(out.gw, gw);
}

static void
expect_none(const struct rtable *rt, uint32_t dst)
{
	struct route out;

	assert_int_equal(route_lookup(rt, dst, &out), -1);
}

static void
route_free__null_is_noop(void **state)
{
	(void)state;
	route_free(NULL);
}

static void
route_lookup__empty_table_returns_minus_one(void **state)
{
	struct rtable *rt = route_new();

	(void)state;
	assert_non_null(rt);
	assert_int_equal(route_count(rt), 0);
	expect_none(rt, IP(0, 0, 0, 0));
	expect_none(rt, IP(10, 0, 0, 1));
	expect_none(rt, IP(255, 255, 255, 255));
	route_free(rt);
}

/* A default route alone answers for every address, both ends included. */
static void
route_lookup__default_only_matches_everything(void **state)
{
	struct rtable *rt = route_new();

	(void)state;
	add_ok(rt, 0, 0, 2, IP(192, 0, 2, 1));
	expect_route(rt, IP(0, 0, 0, 0), 0, 0, 2, IP(192, 0, 2, 1));
	expect_route(rt, IP(127, 255, 255, 255), 0, 0, 2, IP(192, 0, 2, 1));
	expect_route(rt, IP(128, 0, 0, 0), 0, 0, 2, IP(192, 0, 2, 1));
	expect_route(rt, IP(255, 255, 255, 255), 0, 0, 2, IP(192, 0, 2, 1));
	route_free(rt);
}

/* A connected /24, a default, a host route and /8 /16 /24 nested: longest wins. */
static void
route_lookup__longest_prefix_wins(void **state)
{
	struct rtable *rt = route_new();
	const uint32_t gw = IP(203, 0, 113, 1);

	(void)state;
	add_ok(rt, IP(192, 168, 1, 0), 24, 1, 0);		/* connected */
	add_ok(rt, 0, 0, 0, gw);				/* default */
	add_ok(rt, IP(192, 168, 1, 77), 32, 3, IP(192, 168, 1, 254));
	add_ok(rt, IP(10, 0, 0, 0), 8, 4, IP(172, 16, 0, 8));
	add_ok(rt, IP(10, 20, 0, 0), 16, 5, IP(172, 16, 0, 16));
	add_ok(rt, IP(10, 20, 30, 0), 24, 6, IP(172, 16, 0, 24));
	assert_int_equal(route_count(rt), 6);

	expect_route(rt, IP(192, 168, 1, 5), IP(192, 168, 1, 0), 24, 1, 0);
	expect_route(rt, IP(192, 168, 1, 76), IP(192, 168, 1, 0), 24, 1, 0);
	expect_route(rt, IP(192, 168, 1, 77), IP(192, 168, 1, 77), 32, 3,
	    IP(192, 168, 1, 254));
	expect_route(rt, IP(192, 168, 1, 78), IP(192, 168, 1, 0), 24, 1, 0);
	expect_route(rt, IP(192, 168, 2, 1), 0, 0, 0, gw);
	expect_route(rt, IP(192, 168, 0, 255), 0, 0, 0, gw);

	expect_route(rt, IP(10, 1, 2, 3), IP(10, 0, 0, 0), 8, 4,
	    IP(172, 16, 0, 8));
	expect_route(rt, IP(10, 20, 1, 1), IP(10, 20, 0, 0), 16, 5,
	    IP(172, 16, 0, 16));
	expect_route(rt, IP(10, 20, 30, 0), IP(10, 20, 30, 0), 24, 6,
	    IP(172, 16, 0, 24));
	expect_route(rt, IP(10, 20, 30, 255), IP(10, 20, 30, 0), 24, 6,
	    IP(172, 16, 0, 24));
	expect_route(rt, IP(10, 20, 31, 0), IP(10, 20, 0, 0), 16, 5,
	    IP(172, 16, 0, 16));
	expect_route(rt, IP(10, 20, 29, 255), IP(10, 20, 0, 0), 16, 5,
	    IP(172, 16, 0, 16));
	expect_route(rt, IP(10, 21, 0, 0), IP(10, 0, 0, 0), 8, 4,
	    IP(172, 16, 0, 8));
	expect_route(rt, IP(10, 255, 255, 255), IP(10, 0, 0, 0), 8, 4,
	    IP(172, 16, 0, 8));
	expect_route(rt, IP(11, 0, 0, 0), 0, 0, 0, gw);
	expect_route(rt, IP(9, 255, 255, 255), 0, 0, 0, gw);
	route_free(rt);
}

/* Prefixes that straddle the trie's level boundaries (/16|/17, /24|/25, /31|/32). */
static void
route_lookup__level_boundaries(void **state)
{
	struct rtable *rt = route_new();

	(void)state;
	add_ok(rt, IP(100, 64, 0, 0), 15, 1, 15);
	add_ok(rt, IP(100, 65, 0, 0), 16, 2, 16);
	add_ok(rt, IP(100, 65, 128, 0), 17, 3, 17);
	add_ok(rt, IP(100, 65, 200, 0), 24, 4, 24);
	add_ok(rt, IP(100, 65, 200, 128), 25, 5, 25);
	add_ok(rt, IP(100, 65, 200, 254), 31, 6, 31);
	add_ok(rt, IP(100, 65, 200, 255), 32, 7, 32);

	expect_route(rt, IP(100, 64, 255, 255), IP(100, 64, 0, 0), 15, 1, 15);
	expect_route(rt, IP(100, 65, 127, 255), IP(100, 65, 0, 0), 16, 2, 16);
	expect_route(rt, IP(100, 65, 128, 0), IP(100, 65, 128, 0), 17, 3, 17);
	expect_route(rt, IP(100, 65, 199, 255), IP(100, 65, 128, 0), 17, 3, 17);
	expect_route(rt, IP(100, 65, 200, 127), IP(100, 65, 200, 0), 24, 4, 24);
	expect_route(rt, IP(100, 65, 200, 128), IP(100, 65, 200, 128), 25, 5, 25);
	expect_route(rt, IP(100, 65, 200, 253), IP(100, 65, 200, 128), 25, 5, 25);
	expect_route(rt, IP(100, 65, 200, 254), IP(100, 65, 200, 254), 31, 6, 31);
	expect_route(rt, IP(100, 65, 200, 255), IP(100, 65, 200, 255), 32, 7, 32);
	expect_route(rt, IP(100, 65, 201, 0), IP(100, 65, 128, 0), 17, 3, 17);
	expect_route(rt, IP(100, 65, 255, 255), IP(100, 65, 128, 0), 17, 3, 17);
	expect_none(rt, IP(100, 63, 255, 255));
	expect_none(rt, IP(100, 66, 0, 0));
	route_free(rt);
}

/* Host routes at both ends of the address space, beside nothing else. */
static void
route_lookup__host_routes_at_the_edges(void **state)
{
	struct rtable *rt = route_new();

	(void)state;
	add_ok(rt, IP(0, 0, 0, 0), 32, 1, 0);
	add_ok(rt, IP(255, 255, 255, 255), 32, 2, 0);
	expect_route(rt, IP(0, 0, 0, 0), IP(0, 0, 0, 0), 32, 1, 0);
	expect_route(rt, IP(255, 255, 255, 255), IP(255, 255, 255, 255), 32, 2, 0);
	expect_none(rt, IP(0, 0, 0, 1));
	expect_none(rt, IP(255, 255, 255, 254));
	expect_none(rt, IP(128, 0, 0, 0));
	route_free(rt);
}

static void
route_add__replaces_existing_prefix(void **state)
{
	struct rtable *rt = route_new();

	(void)state;
	add_ok(rt, IP(10, 0, 0, 0), 8, 1, IP(172, 16, 0, 1));
	add_ok(rt, IP(10, 1, 0, 0), 16, 2, IP(172, 16, 0, 2));
	add_ok(rt, IP(10, 0, 0, 0), 8, 7, IP(172, 16, 0, 9));
	assert_int_equal(route_count(rt), 2);
	expect_route(rt, IP(10, 9, 9, 9), IP(10, 0, 0, 0), 8, 7,
	    IP(172, 16, 0, 9));
	expect_route(rt, IP(10, 1, 9, 9), IP(10, 1, 0, 0), 16, 2,
	    IP(172, 16, 0, 2));

	/* Replacing a default with a connected route (gw 0) too. */
	add_ok(rt, 0, 0, 3, IP(192, 0, 2, 1));
	add_ok(rt, 0, 0, 4, 0);
	assert_int_equal(route_count(rt), 3);
	expect_route(rt, IP(8, 8, 8, 8), 0, 0, 4, 0);
	route_free(rt);
}

static void
route_remove__uncovers_shorter_prefix(void **state)
{
	struct rtable *rt = route_new();

	(void)state;
	add_ok(rt, 0, 0, 0, IP(192, 0, 2, 1));
	add_ok(rt, IP(10, 0, 0, 0), 8, 1, 8);
	add_ok(rt, IP(10, 20, 0, 0), 16, 2, 16);
	add_ok(rt, IP(10, 20, 30, 0), 24, 3, 24);
	add_ok(rt, IP(10, 20, 30, 40), 32, 4, 32);

	expect_route(rt, IP(10, 20, 30, 40), IP(10, 20, 30, 40), 32, 4, 32);
	assert_int_equal(route_remove(rt, IP(10, 20, 30, 40), 32), 0);
	expect_route(rt, IP(10, 20, 30, 40), IP(10, 20, 30, 0), 24, 3, 24);
	assert_int_equal(route_remove(rt, IP(10, 20, 30, 0), 24), 0);
	expect_route(rt, IP(10, 20, 30, 40), IP(10, 20, 0, 0), 16, 2, 16);
	assert_int_equal(route_remove(rt, IP(10, 20, 0, 0), 16), 0);
	expect_route(rt, IP(10, 20, 30, 40), IP(10, 0, 0, 0), 8, 1, 8);
	assert_int_equal(route_remove(rt, IP(10, 0, 0, 0), 8), 0);
	expect_route(rt, IP(10, 20, 30, 40), 0, 0, 0, IP(192, 0, 2, 1));
	assert_int_equal(route_remove(rt, 0, 0), 0);
	expect_none(rt, IP(10, 20, 30, 40));
	assert_int_equal(route_count(rt), 0);
	route_free(rt);
}

/* Removing the shorter route leaves the longer one inside it intact. */
static void
route_remove__keeps_longer_prefix_inside(void **state)
{
	struct rtable *rt = route_new();

	(void)state;
	add_ok(rt, IP(10, 0, 0, 0), 8, 1, 8);
	add_ok(rt, IP(10, 20, 30, 0), 24, 3, 24);
	assert_int_equal(route_remove(rt, IP(10, 0, 0, 0), 8), 0);
	expect_route(rt, IP(10, 20, 30, 1), IP(10, 20, 30, 0), 24, 3, 24);
	expect_none(rt, IP(10, 20, 31, 1));
	expect_none(rt, IP(10, 0, 0, 0));
	route_free(rt);
}

static void
route_remove__missing_is_enoent(void **state)
{
	struct rtable *rt = route_new();

	(void)state;
	assert_int_equal(route_remove(rt, 0, 0), -ENOENT);
	add_ok(rt, IP(10, 0, 0, 0), 8, 1, 0);
	/* Same prefix, other plen; and a covered address is not the route. */
	assert_int_equal(route_remove(rt, IP(10, 0, 0, 0), 16), -ENOENT);
	assert_int_equal(route_remove(rt, IP(10, 0, 0, 0), 7), -ENOENT);
	assert_int_equal(route_remove(rt, IP(10, 1, 0, 0), 16), -ENOENT);
	assert_int_equal(route_remove(rt, IP(10, 0, 0, 0), 33), -ENOENT);
	assert_int_equal(route_count(rt), 1);
	assert_int_equal(route_remove(rt, IP(10, 0, 0, 0), 8), 0);
	assert_int_equal(route_remove(rt, IP(10, 0, 0, 0), 8), -ENOENT);
	route_free(rt);
}

static void
route_add__rejects_bad_input(void **state)
{
	struct rtable *rt = route_new();
	struct route r;

	(void)state;
	add_ok(rt, IP(10, 0, 0, 0), 8, 1, 0);

	r = mkroute(IP(10, 0, 0, 1), 24, 2, 0);		/* host bit */
	assert_int_equal(route_add(rt, &r), -EINVAL);
	r = mkroute(IP(10, 0, 1, 0), 23, 2, 0);		/* lowest net bit off by one */
	assert_int_equal(route_add(rt, &r), -EINVAL);
	r = mkroute(IP(0, 0, 0, 1), 0, 2, 0);		/* default with host bits */
	assert_int_equal(route_add(rt, &r), -EINVAL);
	r = mkroute(IP(128, 0, 0, 0), 0, 2, 0);
	assert_int_equal(route_add(rt, &r), -EINVAL);
	r = mkroute(IP(10, 0, 0, 0), 33, 2, 0);		/* plen > 32 */
	assert_int_equal(route_add(rt, &r), -EINVAL);
	r = mkroute(IP(10, 0, 0, 0), 255, 2, 0);
	assert_int_equal(route_add(rt, &r), -EINVAL);

	/* The table is unchanged. */
	assert_int_equal(route_count(rt), 1);
	expect_route(rt, IP(10, 0, 0, 1), IP(10, 0, 0, 0), 8, 1, 0);
	expect_none(rt, IP(11, 0, 0, 1));

	/* The extremes that are valid. */
	r = mkroute(IP(128, 0, 0, 0), 1, 2, 0);
	assert_int_equal(route_add(rt, &r), 0);
	r = mkroute(IP(10, 0, 0, 1), 32, 3, 0);
	assert_int_equal(route_add(rt, &r), 0);
	assert_int_equal(route_count(rt), 3);
	route_free(rt);
}

static void
route_list__ordered_by_prefix_then_plen(void **state)
{
	struct rtable *rt = route_new();
	struct route out[8];

	(void)state;
	add_ok(rt, IP(192, 168, 1, 0), 24, 1, 0);
	add_ok(rt, IP(10, 0, 0, 0), 16, 2, 0);
	add_ok(rt, 0, 0, 3, IP(192, 168, 1, 1));
	add_ok(rt, IP(10, 0, 0, 0), 8, 4, 0);
	add_ok(rt, IP(10, 0, 0, 0), 32, 5, 0);
	add_ok(rt, IP(9, 255, 255, 255), 32, 6, 0);

	memset(out, 0, sizeof(out));
	assert_int_equal(route_count(rt), 6);
	assert_int_equal(route_list(rt, out, 8), 6);
	assert_int_equal(out[0].prefix, 0);
	assert_int_equal(out[0].plen, 0);
	assert_int_equal(out[0].ifidx, 3);
	assert_int_equal(out[0].gw, IP(192, 168, 1, 1));
	assert_int_equal(out[1].prefix, IP(9, 255, 255, 255));
	assert_int_equal(out[1].plen, 32);
	assert_int_equal(out[2].prefix, IP(10, 0, 0, 0));
	assert_int_equal(out[2].plen, 8);
	assert_int_equal(out[2].ifidx, 4);
	assert_int_equal(out[3].prefix, IP(10, 0, 0, 0));
	assert_int_equal(out[3].plen, 16);
	assert_int_equal(out[4].prefix, IP(10, 0, 0, 0));
	assert_int_equal(out[4].plen, 32);
	assert_int_equal(out[5].prefix, IP(192, 168, 1, 0));
	assert_int_equal(out[5].plen, 24);
	assert_int_equal(out[5].ifidx, 1);

	/* max truncates; 0 copies nothing. */
	memset(out, 0, sizeof(out));
	assert_int_equal(route_list(rt, out, 2), 2);
	assert_int_equal(out[1].prefix, IP(9, 255, 255, 255));
	assert_int_equal(out[2].plen, 0);
	assert_int_equal(out[2].prefix, 0);
	assert_int_equal(route_list(rt, NULL, 0), 0);
	route_free(rt);
}

/* ---- differential test against a naive reference ---- */

#define DIFF_ROUNDS	50
#define DIFF_OPS	500		/* operations per round, at most */
#define DIFF_RANDOM	2000		/* random addresses per full check */
#define DIFF_BASE_SEED	0x9e3779b97f4a7c15ull

struct ref {
	struct route	r[DIFF_OPS];
	size_t		n;
};

struct diff {
	struct rtable	*rt;
	struct ref	ref;
	uint64_t	rng;
	uint64_t	seed;		/* this round's, printed on failure */
	unsigned	round;
	unsigned	op;
	unsigned long	checked;
	unsigned long	nested;		/* checks where 3+ routes matched */
	uint32_t	hot[4];		/* shared /8../12 bases, for nesting */
};

static uint64_t
xrand(struct diff *d)
{
	/* xorshift64* (Vigna): good enough, and ours, so it never changes. */
	d->rng ^= d->rng >> 12;
	d->rng ^= d->rng << 25;
	d->rng ^= d->rng >> 27;
	return d->rng * 0x2545f4914f6cdd1dull;
}

static uint32_t
xrand32(struct diff *d)
{
	return (uint32_t)(xrand(d) >> 32);
}

static uint32_t
mask_of(unsigned plen)
{
	return plen == 0 ? 0 : ~(uint32_t)0 << (32 - plen);
}

static int
ref_find(const struct ref *ref, uint32_t prefix, uint8_t plen)
{
	for (size_t i = 0; i < ref->n; i++)
		if (ref->r[i].prefix == prefix && ref->r[i].plen == plen)
			return (int)i;
	return -1;
}

/* The longest match for dst, and in *nmatch how many routes match it. */
static const struct route *
ref_lookup(const struct ref *ref, uint32_t dst, unsigned *nmatch)
{
	const struct route *best = NULL;

	*nmatch = 0;
	for (size_t i = 0; i < ref->n; i++) {
		const struct route *r = &ref->r[i];

		if ((dst & mask_of(r->plen)) != r->prefix)
			continue;
		(*nmatch)++;
		if (best == NULL || r->plen > best->plen)
			best = r;
	}
	return best;
}

static void
diff_fail(const struct diff *d, uint32_t dst, const char *what)
{
	print_error("route differential: %s: seed=0x%016" PRIx64
	    " round=%u op=%u dst=0x%08" PRIx32 " routes=%zu\n"
	    "rerun with ROUTE_TEST_SEED=0x%016" PRIx64 "\n",
	    what, d->seed, d->round, d->op, dst, d->ref.n, d->seed);
	fail_msg("route differential mismatch (seed 0x%016" PRIx64 ")", d->seed);
}

static void
diff_check(struct diff *d, uint32_t dst)
{
	unsigned nmatch;
	const struct route *want = ref_lookup(&d->ref, dst, &nmatch);
	struct route got;
	int rc = route_lookup(d->rt, dst, &got);

	d->checked++;
	d->nested += nmatch >= 3;
	if (want == NULL) {
		if (rc != -1)
			diff_fail(d, dst, "lookup found a route, reference none");
		return;
	}
	if (rc != 0)
		diff_fail(d, dst, "lookup found none, reference a route");
	if (got.prefix != want->prefix || got.plen != want->plen ||
	    got.ifidx != want->ifidx || got.gw != want->gw)
		diff_fail(d, dst, "lookup returned a different route");
}

/* The addresses around prefix/plen: its first and last, and one either side. */
static void
diff_check_edges(struct diff *d, uint32_t prefix, uint8_t plen)
{
	uint32_t last = prefix | ~mask_of(plen);

	diff_check(d, prefix);
	diff_check(d, prefix - 1);
	diff_check(d, last);
	diff_check(d, last + 1);
}

/* An address: uniform, or inside a random route of the reference. */
static uint32_t
diff_addr(struct diff *d)
{
	uint32_t a = xrand32(d);

	if (d->ref.n > 0 && (a & 1)) {
		const struct route *r = &d->ref.r[xrand(d) % d->ref.n];

		a = r->prefix | (xrand32(d) & ~mask_of(r->plen));
	}
	return a;
}

static void
diff_check_full(struct diff *d)
{
	struct route list[DIFF_OPS];
	size_t n;

	for (unsigned i = 0; i < DIFF_RANDOM; i++)
		diff_check(d, diff_addr(d));
	for (size_t i = 0; i < d->ref.n; i++)
		diff_check_edges(d, d->ref.r[i].prefix, d->ref.r[i].plen);

	/* The list is the reference's set, sorted by (prefix, plen). */
	if (route_count(d->rt) != d->ref.n)
		diff_fail(d, 0, "route_count differs");
	n = route_list(d->rt, list, DIFF_OPS);
	if (n != d->ref.n)
		diff_fail(d, 0, "route_list length differs");
	for (size_t i = 0; i < n; i++) {
		int k = ref_find(&d->ref, list[i].prefix, list[i].plen);

		if (k < 0 || d->ref.r[k].gw != list[i].gw ||
		    d->ref.r[k].ifidx != list[i].ifidx)
			diff_fail(d, list[i].prefix, "route_list entry differs");
		if (i > 0 && (list[i - 1].prefix > list[i].prefix ||
		    (list[i - 1].prefix == list[i].prefix &&
		    list[i - 1].plen >= list[i].plen)))
			diff_fail(d, list[i].prefix, "route_list out of order");
	}
}

/*
 * A random route biased to nest: short prefixes now and then, most under a
 * few shared bases or under a route already in the table, plens clustered
 * around the trie's level boundaries as often as anywhere else.
 */
static struct route
diff_route(struct diff *d)
{
	static const uint8_t plens[] = {
		0, 1, 4, 7, 8, 8, 12, 15, 16, 16, 16, 17, 17, 20, 22, 23,
		24, 24, 24, 24, 25, 25, 26, 28, 29, 30, 31, 31, 32, 32, 32, 32,
	};
	static const uint8_t keeps[] = { 8, 12, 16, 20, 24, 28 };
	uint8_t plen = plens[xrand(d) % sizeof(plens)];
	unsigned pick = (unsigned)(xrand(d) % 8);
	unsigned keep = keeps[xrand(d) % sizeof(keeps)];
	uint32_t base;

	if (pick < 3 && d->ref.n > 0)
		base = d->ref.r[xrand(d) % d->ref.n].prefix;
	else if (pick < 7)
		base = d->hot[xrand(d) % 4];
	else
		base = xrand32(d), keep = 0;
	/* Keep base's top bits, randomise the rest, then cut to plen. */
	base = (base & mask_of(keep)) | (xrand32(d) & ~mask_of(keep));
	return mkroute(base & mask_of(plen), plen, (uint8_t)xrand(d),
	    (uint32_t)xrand(d) | 1);
}

static void
diff_round(struct diff *d)
{
	unsigned nops = DIFF_OPS / 2 + (unsigned)(xrand(d) % (DIFF_OPS / 2 + 1));

	d->rt = route_new();
	assert_non_null(d->rt);
	d->ref.n = 0;
	for (unsigned i = 0; i < 4; i++)
		d->hot[i] = xrand32(d) & mask_of(8 + (unsigned)(xrand(d) % 5));

	for (d->op = 0; d->op < nops; d->op++) {
		uint32_t dst = 0;
		uint8_t plen = 0;
		unsigned what = (unsigned)(xrand(d) % 10);

		if (what < 2 && d->ref.n > 0) {
			/* Remove a route that is there. */
			size_t k = xrand(d) % d->ref.n;

			dst = d->ref.r[k].prefix;
			plen = d->ref.r[k].plen;
			if (route_remove(d->rt, dst, plen) != 0)
				diff_fail(d, dst, "remove of a present route failed");
			d->ref.r[k] = d->ref.r[--d->ref.n];
		} else if (what == 2) {
			/* Remove what is probably not there: same answer as the reference. */
			struct route r = diff_route(d);
			int k = ref_find(&d->ref, r.prefix, r.plen);
			int rc = route_remove(d->rt, r.prefix, r.plen);

			dst = r.prefix;
			plen = r.plen;
			if (rc != (k < 0 ? -ENOENT : 0))
				diff_fail(d, dst, "remove answered unlike the reference");
			if (k >= 0)
				d->ref.r[k] = d->ref.r[--d->ref.n];
		} else {
			struct route r = diff_route(d);
			int k = ref_find(&d->ref, r.prefix, r.plen);

			if (route_add(d->rt, &r) != 0)
				diff_fail(d, r.prefix, "add failed");
			if (k >= 0)
				d->ref.r[k] = r;
			else
				d->ref.r[d->ref.n++] = r;
			dst = r.prefix;
			plen = r.plen;
		}

		/* Cheap checks after every change, a full one now and then. */
		diff_check_edges(d, dst, plen);
		for (unsigned i = 0; i < 8; i++)
			diff_check(d, diff_addr(d));
		if (d->op % 100 == 99)
			diff_check_full(d);
	}
	diff_check_full(d);

	/* Empty it again: every route removable, the empty table answers -1. */
	while (d->ref.n > 0) {
		struct route *r = &d->ref.r[d->ref.n - 1];

		if (route_remove(d->rt, r->prefix, r->plen) != 0)
			diff_fail(d, r->prefix, "drain remove failed");
		d->ref.n--;
	}
	for (unsigned i = 0; i < 64; i++)
		diff_check(d, xrand32(d));
	route_free(d->rt);
	d->rt = NULL;
}

static void
route_lookup__matches_naive_reference(void **state)
{
	static struct diff d;	/* large; keep it off the stack */
	uint64_t base = DIFF_BASE_SEED;
	const char *env = getenv("ROUTE_TEST_SEED");
	unsigned rounds = DIFF_ROUNDS;

	(void)state;
	if (env != NULL && *env != '\0') {
		/* A failing round's seed reproduces that round first. */
		base = strtoull(env, NULL, 0);
	}
	memset(&d, 0, sizeof(d));
	for (d.round = 0; d.round < rounds; d.round++) {
		d.seed = base + d.round * 0x100000001b3ull;
		d.rng = d.seed != 0 ? d.seed : 1;
		diff_round(&d);
	}
	print_message("route differential: %u rounds, %lu lookups checked, "
	    "%lu under 3+ nested routes\n", rounds, d.checked, d.nested);
	/* The generator must exercise nesting, or the test proves little. */
	assert_true(d.checked > 100000);
	assert_true(d.nested > d.checked / 10);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(route_free__null_is_noop),
		cmocka_unit_test(route_lookup__empty_table_returns_minus_one),
		cmocka_unit_test(route_lookup__default_only_matches_everything),
		cmocka_unit_test(route_lookup__longest_prefix_wins),
		cmocka_unit_test(route_lookup__level_boundaries),
		cmocka_unit_test(route_lookup__host_routes_at_the_edges),
		cmocka_unit_test(route_add__replaces_existing_prefix),
		cmocka_unit_test(route_remove__uncovers_shorter_prefix),
		cmocka_unit_test(route_remove__keeps_longer_prefix_inside),
		cmocka_unit_test(route_remove__missing_is_enoent),
		cmocka_unit_test(route_add__rejects_bad_input),
		cmocka_unit_test(route_list__ordered_by_prefix_then_plen),
		cmocka_unit_test(route_lookup__matches_naive_reference),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

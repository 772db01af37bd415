/* SPDX-License-Identifier: ISC */
/*
 * Benchmark: route_lookup throughput on one core.
 *
 * The table holds a default route and 1000 random routes of /8 to /32, so
 * some /16s and /24s need second- and third-level chunks. Half the looked-up
 * addresses fall inside a random table route (those reach the deeper
 * levels), half are uniform (mostly one first-level read). Addresses come
 * from a 64 Ki ring filled beforehand, so the generator costs nothing in the
 * timed loop; the ring and the first level (256 KiB each) stay in L2.
 *
 * Prints exactly one line: BENCH route_lookup_mlps <value> Mlookups/s
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "netfn/route.h"

#define NROUTES		1000
#define NLOOKUPS	50000000u
#define RING		65536u		/* power of two */

static uint64_t
bench_rand(uint64_t *s)
{
	/* xorshift64*: fixed seed, so every run measures the same table. */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static uint32_t
bench_mask(unsigned plen)
{
	return plen == 0 ? 0 : ~(uint32_t)0 << (32 - plen);
}

int
main(void)
{
	static uint32_t ring[RING];
	static struct route added[NROUTES];
	struct rtable *rt;
	struct route r, out;
	struct timespec t0, t1;
	uint64_t seed = 0x5eed5eed12345678ull, sum = 0;
	unsigned misses = 0;
	double secs;

	if ((rt = route_new()) == NULL) {
		fprintf(stderr, "route_bench: out of memory\n");
		return 1;
	}
	r = (struct route){ .prefix = 0, .plen = 0, .ifidx = 0, .gw = 1 };
	if (route_add(rt, &r) != 0)
		return 1;
	for (unsigned i = 0; i < NROUTES; i++) {
		unsigned plen = 8 + (unsigned)(bench_rand(&seed) % 25);

		r.plen = (uint8_t)plen;
		r.prefix = (uint32_t)(bench_rand(&seed) >> 32) & bench_mask(plen);
		r.ifidx = (uint8_t)(1 + i % 4);
		r.gw = (uint32_t)bench_rand(&seed);
		if (route_add(rt, &r) != 0) {
			fprintf(stderr, "route_bench: route_add failed\n");
			return 1;
		}
		added[i] = r;
	}
	for (unsigned i = 0; i < RING; i++) {
		uint32_t a = (uint32_t)(bench_rand(&seed) >> 32);

		if (i & 1) {
			const struct route *p = &added[bench_rand(&seed) % NROUTES];

			a = p->prefix | (a & ~bench_mask(p->plen));
		}
		ring[i] = a;
	}

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (uint32_t i = 0; i < NLOOKUPS; i++) {
		/* Sum the answers so the compiler cannot drop the lookups. */
		if (route_lookup(rt, ring[i & (RING - 1)], &out) == 0)
			sum += out.gw + out.ifidx;
		else
			misses++;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);

	secs = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (misses != 0 || sum == 0) {
		/* With a default route every lookup must hit. */
		fprintf(stderr, "route_bench: %u lookups missed\n", misses);
		return 1;
	}
	printf("BENCH route_lookup_mlps %.1f Mlookups/s\n",
	    (double)NLOOKUPS / secs / 1e6);
	route_free(rt);
	return 0;
}

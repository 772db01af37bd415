/* SPDX-License-Identifier: ISC */
/*
 * xorshift64* (Vigna): a small, fast generator for timer jitter, IP ids and
 * port choice. Not cryptographic: RFC 6056's algorithm 1 asks only that
 * ports be hard to guess from outside, and the state is seeded per router.
 * The state lives with its user: netfn keeps no globals.
 */
#ifndef NETFN_RNG_H
#define NETFN_RNG_H

#include <stdint.h>

static inline uint64_t
rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

#endif

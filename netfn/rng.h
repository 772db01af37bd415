/* SPDX-License-Identifier: ISC */
/*
 * A keyed generator for everything an outsider must not predict: RFC 6056
 * port choice, IP ids, ARP timer jitter. SipHash-2-4 (Aumasson and
 * Bernstein) as a PRF: output i is SipHash(key, i), and rng_hash keys the
 * port offset of RFC 6056 algorithm 3. Knowing outputs reveals nothing of
 * the key, and with it nothing of the next output. The 128-bit key comes
 * from the caller (src/ reads getrandom()); netfn keeps no globals, so the
 * state lives with its user.
 */
#ifndef NETFN_RNG_H
#define NETFN_RNG_H

#include <stdint.h>

struct rng {
	uint64_t	k0, k1;		/* the secret */
	uint64_t	ctr;		/* next input */
};

#define RNG_ROTL(x, b)	(uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define RNG_SIPROUND(v0, v1, v2, v3) do {				\
	v0 += v1; v1 = RNG_ROTL(v1, 13); v1 ^= v0; v0 = RNG_ROTL(v0, 32); \
	v2 += v3; v3 = RNG_ROTL(v3, 16); v3 ^= v2;			\
	v0 += v3; v3 = RNG_ROTL(v3, 21); v3 ^= v0;			\
	v2 += v1; v1 = RNG_ROTL(v1, 17); v1 ^= v2; v2 = RNG_ROTL(v2, 32); \
} while (0)

/* SipHash-2-4 of the one 8-byte message m (little-endian word) under k0, k1. */
static inline uint64_t
rng_hash(uint64_t k0, uint64_t k1, uint64_t m)
{
	uint64_t v0 = k0 ^ 0x736f6d6570736575ULL, v1 = k1 ^ 0x646f72616e646f6dULL;
	uint64_t v2 = k0 ^ 0x6c7967656e657261ULL, v3 = k1 ^ 0x7465646279746573ULL;
	uint64_t b = (uint64_t)8 << 56;

	v3 ^= m;
	RNG_SIPROUND(v0, v1, v2, v3);
	RNG_SIPROUND(v0, v1, v2, v3);
	v0 ^= m;
	v3 ^= b;
	RNG_SIPROUND(v0, v1, v2, v3);
	RNG_SIPROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	RNG_SIPROUND(v0, v1, v2, v3);
	RNG_SIPROUND(v0, v1, v2, v3);
	RNG_SIPROUND(v0, v1, v2, v3);
	RNG_SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

/*
 * Key a generator. A zero key (tests that pass only a 64-bit seed) is
 * replaced by one derived from k0, so a run stays reproducible.
 */
static inline void
rng_init(struct rng *r, uint64_t k0, uint64_t k1)
{
	if (k1 == 0)
		k1 = rng_hash(k0, 0x9e3779b97f4a7c15ULL, 0x676974);
	r->k0 = k0;
	r->k1 = k1;
	r->ctr = 0;
}

/* A subkey for another user of the same secret (domain separation). */
static inline void
rng_derive(struct rng *sub, const struct rng *r, uint64_t label)
{
	sub->k0 = rng_hash(r->k0, r->k1, label << 1);
	sub->k1 = rng_hash(r->k0, r->k1, label << 1 | 1);
	sub->ctr = 0;
}

static inline uint64_t
rng_next(struct rng *r)
{
	return rng_hash(r->k0, r->k1, r->ctr++);
}

#endif

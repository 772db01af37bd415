/* SPDX-License-Identifier: ISC */
/*
 * Tests of the Internet checksum (netfn/csum.c, netfn/csum.h).
 *
 * csum_add is checked against literal RFC 1071 and IPv4 values and, over
 * every alignment and many lengths, against ref_sum below: a naive byte-pair
 * loop written straight from RFC 1071 section 1, slow on purpose and too
 * simple to share a bug with the fast one. Every buffer under test is
 * malloc'ed at exactly its length, so ASan reports any read past the end.
 *
 * The RFC 1624 updates are checked against full recomputation on random
 * headers biased towards the words that make one's complement corner cases
 * (0x0000, 0xffff). The precise claim tested: for any 20-byte header whose
 * words, the checksum field excluded, are not all zero after the change,
 * csum_update16/32 give exactly the recomputed checksum; a header that
 * becomes all zero is the one exception (update 0x0000, recompute 0xffff).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "netfn/csum.h"
#include "netfn/wire.h"

/* RFC 1071 by the letter: big-endian 16-bit words, end-around carry. */
static uint16_t
ref_sum(const uint8_t *p, size_t len)
{
	uint32_t s = 0;

	for (size_t i = 0; i < len; i += 2) {
		s += (uint32_t)p[i] << 8;
		if (i + 1 < len)
			s += p[i + 1];
		while (s > 0xffff)
			s = (s & 0xffff) + (s >> 16);
	}
	return (uint16_t)s;
}

static uint16_t
ref_csum(const uint8_t *p, size_t len)
{
	return (uint16_t)~ref_sum(p, len);
}

/* A partial sum folded to 16 bits but not complemented. */
static uint16_t
fold_nc(uint32_t sum)
{
	return (uint16_t)~csum_fold(sum);
}

/* xorshift64*: reproducible, so a failure can be replayed. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t
rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

/* A word that often hits the one's complement corners. */
static uint16_t
rng_word(void)
{
	switch (rng_next() % 4) {
	case 0:
		return 0;
	case 1:
		return 0xffff;
	default:
		return (uint16_t)rng_next();
	}
}

/* RFC 1071 section 3, the worked example: sum ddf2, checksum 220d. */
static void
csum_add__rfc1071_example(void **state)
{
	static const uint8_t b[] = {
		0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7,
	};
	uint8_t *p = malloc(sizeof(b));

	(void)state;
	memcpy(p, b, sizeof(b));
	assert_int_equal(fold_nc(csum_add(0, p, sizeof(b))), 0xddf2);
	assert_int_equal(csum_fold(csum_add(0, p, sizeof(b))), 0x220d);
	free(p);
}

/* The classic header from the Wikipedia/RFC examples: checksum 0xb861. */
static void
csum_fold__classic_ipv4_header(void **state)
{
	static const uint8_t b[] = {
		0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00,
		0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01,
		0xc0, 0xa8, 0x00, 0xc7,
	};
	uint8_t *h = malloc(sizeof(b));

	(void)state;
	memcpy(h, b, sizeof(b));
	assert_int_equal(csum_fold(csum_add(0, h, 20)), 0xb861);
	store_be16(h + 10, 0xb861);
	assert_int_equal(csum_fold(csum_add(0, h, 20)), 0);
	h[8] = 0x3f;		/* one TTL less, checksum left alone */
	assert_int_not_equal(csum_fold(csum_add(0, h, 20)), 0);
	free(h);
}

/* An odd last byte is the high byte of a zero-padded word. */
static void
csum_add__odd_length_pads_high_byte(void **state)
{
	uint8_t *p = malloc(3);

	(void)state;
	p[0] = 0x01;
	p[1] = 0x02;
	p[2] = 0x03;
	assert_int_equal(fold_nc(csum_add(0, p, 1)), 0x0100);
	assert_int_equal(fold_nc(csum_add(0, p, 3)), 0x0102 + 0x0300);
	assert_int_equal(fold_nc(csum_add(0, p + 2, 1)), 0x0300);
	free(p);
}

static void
csum_add__empty_buffer_keeps_sum(void **state)
{
	uint8_t *p = calloc(1, 0);	/* no byte may be read */

	(void)state;
	assert_int_equal(csum_add(0, p, 0), 0);
	assert_int_equal(fold_nc(csum_add(0x1234, p, 0)), 0x1234);
	assert_int_equal(fold_nc(csum_add(0xffffffff, p, 0)), 0xffff);
	free(p);
}

/* Zero only from zero: the property RFC 1624's corner case rests on. */
static void
csum_add__zero_only_from_all_zero_bytes(void **state)
{
	uint8_t *p = calloc(1, 100);

	(void)state;
	assert_int_equal(csum_add(0, p, 100), 0);
	assert_int_equal(csum_fold(csum_add(0, p, 100)), 0xffff);
	p[99] = 0xff;
	p[98] = 0xff;
	assert_int_not_equal(csum_add(0, p, 100), 0);
	assert_int_equal(fold_nc(csum_add(0, p, 100)), 0xffff);
	free(p);
}

/* Every start alignment and length 0..300 agrees with the naive loop. */
static void
csum_add__matches_reference_at_any_alignment(void **state)
{
	(void)state;
	for (size_t off = 0; off < 8; off++) {
		for (size_t len = 0; len <= 300; len++) {
			/* Exactly off + len bytes: ASan sees the end of p. */
			uint8_t *base = malloc(off + len);
			uint8_t *p = base + off;

			for (size_t i = 0; i < len; i++)
				p[i] = (uint8_t)rng_next();
			assert_int_equal(fold_nc(csum_add(0, p, len)),
			    ref_sum(p, len));
			free(base);
		}
	}
}

/* All-ones and large inputs stress the carries of the wide accumulator. */
static void
csum_add__large_buffers_match_reference(void **state)
{
	size_t len = 65535;
	uint8_t *p = malloc(len);

	(void)state;
	memset(p, 0xff, len);
	assert_int_equal(fold_nc(csum_add(0, p, len)), ref_sum(p, len));
	assert_int_equal(fold_nc(csum_add(0, p, len)), 0xff00);	/* odd tail */
	/* 0xffffffff is "-0": adding it changes nothing. */
	assert_int_equal(fold_nc(csum_add(0xffffffff, p, len)), 0xff00);
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)rng_next();
	assert_int_equal(fold_nc(csum_add(0, p, len)), ref_sum(p, len));
	assert_int_equal(fold_nc(csum_add(0, p + 1, len - 1)),
	    ref_sum(p + 1, len - 1));
	free(p);
}

/* Even-length pieces chain: the sum of the parts is the sum of the whole. */
static void
csum_add__chains_even_pieces(void **state)
{
	uint8_t *p = malloc(257);
	uint32_t s;

	(void)state;
	for (size_t i = 0; i < 257; i++)
		p[i] = (uint8_t)rng_next();
	for (size_t cut = 0; cut <= 256; cut += 2) {
		s = csum_add(0, p, cut);
		s = csum_add(s, p + cut, 257 - cut);
		assert_int_equal(fold_nc(s), ref_sum(p, 257));
	}
	free(p);
}

/* csum_pseudo against the 12-byte pseudo-header of RFC 768 written out. */
static void
csum_pseudo__matches_written_out_header(void **state)
{
	static const uint8_t ph[] = {
		0x0a, 0x00, 0x00, 0x02, 0x08, 0x08, 0x08, 0x08,
		0x00, 0x11, 0x00, 0x25,
	};
	static const uint8_t ph2[] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0x00, 0x06, 0xff, 0xff,
	};

	(void)state;
	assert_int_equal(fold_nc(csum_pseudo(0x0a000002, 0x08080808, 17, 37)),
	    ref_sum(ph, sizeof(ph)));
	assert_int_equal(fold_nc(csum_pseudo(0xffffffff, 0xffffffff, 6,
	    0xffff)), ref_sum(ph2, sizeof(ph2)));
}

/* A random 20-byte header with a correct checksum at offset 10. */
static void
random_header(uint8_t h[20])
{
	for (int i = 0; i < 20; i += 2)
		store_be16(h + i, rng_word());
	store_be16(h + 10, 0);
	store_be16(h + 10, ref_csum(h, 20));
}

/* The recomputed checksum of h, field at 10 treated as zero. */
static uint16_t
recompute(uint8_t h[20])
{
	uint8_t t[20];

	memcpy(t, h, 20);
	store_be16(t + 10, 0);
	return ref_csum(t, 20);
}

static int
all_zero_but_csum(const uint8_t h[20])
{
	for (int i = 0; i < 20; i++)
		if (i != 10 && i != 11 && h[i] != 0)
			return 0;
	return 1;
}

/* RFC 1624 eqn. 3 equals recomputation for every non-zero header. */
static void
csum_update16__matches_recompute(void **state)
{
	uint8_t h[20];

	(void)state;
	for (int n = 0; n < 200000; n++) {
		int w = (int)(rng_next() % 9);
		int off = (w >= 5 ? w + 1 : w) * 2;	/* skip the field */
		uint16_t old, new, got;

		random_header(h);
		old = load_be16(h + off);
		new = rng_word();
		store_be16(h + off, new);
		got = csum_update16(load_be16(h + 10), old, new);
		if (all_zero_but_csum(h)) {
			/* The one exception, stated exactly. */
			assert_int_equal(got, 0x0000);
			assert_int_equal(recompute(h), 0xffff);
			continue;
		}
		assert_int_equal(got, recompute(h));
		store_be16(h + 10, got);
		assert_int_equal(ref_sum(h, 20), 0xffff);	/* verifies */
	}
}

/* The same for a 32-bit field at any even, non-overlapping offset. */
static void
csum_update32__matches_recompute(void **state)
{
	static const int offs[] = { 0, 2, 4, 6, 12, 14, 16 };
	uint8_t h[20];

	(void)state;
	for (int n = 0; n < 200000; n++) {
		int off = offs[rng_next() % 7];
		uint32_t old, new;
		uint16_t got;

		random_header(h);
		old = load_be32(h + off);
		new = (uint32_t)rng_word() << 16 | rng_word();
		store_be32(h + off, new);
		got = csum_update32(load_be16(h + 10), old, new);
		if (all_zero_but_csum(h)) {
			assert_int_equal(got, 0x0000);
			assert_int_equal(recompute(h), 0xffff);
			continue;
		}
		assert_int_equal(got, recompute(h));
	}
}

/*
 * Corners written out: a header whose words sum to 0xffff carries checksum
 * 0x0000 (the "-0" an RFC 1141 update would turn into 0xffff), and the
 * header that becomes all zero is where update and recomputation part.
 */
static void
csum_update16__corner_cases(void **state)
{
	uint8_t h[20] = { 0 };
	uint16_t got;

	(void)state;
	/* Words summing to 0xffff: the checksum is 0x0000, and stays exact. */
	store_be16(h + 0, 0xffff);
	assert_int_equal(recompute(h), 0x0000);
	store_be16(h + 2, 0x1234);
	assert_int_equal(csum_update16(0x0000, 0x0000, 0x1234), 0xedcb);
	assert_int_equal(recompute(h), 0xedcb);

	/* All zero (checksum 0xffff) to non-zero: exact. */
	memset(h, 0, sizeof(h));
	assert_int_equal(recompute(h), 0xffff);
	store_be16(h + 2, 0x1234);
	assert_int_equal(csum_update16(0xffff, 0x0000, 0x1234), 0xedcb);
	assert_int_equal(recompute(h), 0xedcb);

	/*
	 * Non-zero to all zero: eqn. 3 gives 0x0000, recomputation 0xffff,
	 * and 0x0000 does not verify. No IPv4 header is all zero (version
	 * 4), so the pipeline never meets this; the test pins it down.
	 */
	got = csum_update16(0xedcb, 0x1234, 0x0000);
	store_be16(h + 2, 0x0000);
	assert_int_equal(got, 0x0000);
	assert_int_equal(recompute(h), 0xffff);
	store_be16(h + 10, got);
	assert_int_not_equal(ref_sum(h, 20), 0xffff);
}

/* csum.h's claim: never 0xffff out unless 0xffff went in. */
static void
csum_update16__never_yields_ffff_from_other_field(void **state)
{
	static const uint16_t edge[] = { 0x0000, 0x0001, 0x7fff, 0xfffe, 0xffff };

	(void)state;
	for (uint32_t c = 0; c < 0xffff; c++)
		for (size_t i = 0; i < 5; i++)
			for (size_t j = 0; j < 5; j++) {
				assert_int_not_equal(csum_update16((uint16_t)c,
				    edge[i], edge[j]), 0xffff);
				assert_int_not_equal(csum_update32((uint16_t)c,
				    (uint32_t)edge[i] << 16 | edge[j],
				    (uint32_t)edge[j] << 16 | edge[i]), 0xffff);
			}
	/* And the only way to get it: ~(0xffff + ~0xffff + 0). */
	assert_int_equal(csum_update16(0xffff, 0xffff, 0x0000), 0xffff);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(csum_add__rfc1071_example),
		cmocka_unit_test(csum_fold__classic_ipv4_header),
		cmocka_unit_test(csum_add__odd_length_pads_high_byte),
		cmocka_unit_test(csum_add__empty_buffer_keeps_sum),
		cmocka_unit_test(csum_add__zero_only_from_all_zero_bytes),
		cmocka_unit_test(csum_add__matches_reference_at_any_alignment),
		cmocka_unit_test(csum_add__large_buffers_match_reference),
		cmocka_unit_test(csum_add__chains_even_pieces),
		cmocka_unit_test(csum_pseudo__matches_written_out_header),
		cmocka_unit_test(csum_update16__matches_recompute),
		cmocka_unit_test(csum_update32__matches_recompute),
		cmocka_unit_test(csum_update16__corner_cases),
		cmocka_unit_test(csum_update16__never_yields_ffff_from_other_field),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

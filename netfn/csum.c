/* SPDX-License-Identifier: ISC */
/*
 * The Internet checksum (RFC 1071): the one loop every packet's bytes pass
 * through.
 *
 * csum_add sums the buffer in native byte order, eight bytes per load, into a
 * 64-bit accumulator, folds that to 16 bits with end-around carry and only
 * then swaps the result to big-endian order: RFC 1071 section 2(B), the sum is
 * byte-order independent up to one final swap. The 64-bit accumulator takes
 * each load as two 32-bit halves, so it cannot overflow below 2^32 loads
 * (32 GB), far beyond any frame. Loads go through memcpy, so buf may have any
 * alignment and any length; the odd trailing byte is the high byte of a last
 * big-endian word padded with zero, as csum.h says.
 *
 * Invariant: the returned partial sum is congruent, modulo 0xffff, to sum plus
 * the big-endian words of buf, and is zero only if sum is zero and every byte
 * of buf is zero (one's complement addition never reaches 0 from non-zero
 * terms), which keeps the all-zero corner case of RFC 1624 where callers
 * expect it.
 */
#include <string.h>

#include "csum.h"

/* Fold a 64-bit one's complement accumulator to 16 bits, not complemented. */
static inline uint16_t
csum_fold64(uint64_t acc)
{
	acc = (acc & 0xffffffff) + (acc >> 32);
	acc = (acc & 0xffffffff) + (acc >> 32);
	acc = (acc & 0xffff) + (acc >> 16);
	acc = (acc & 0xffff) + (acc >> 16);
	acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)acc;
}

uint32_t
csum_add(uint32_t sum, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t acc = 0, w;
	uint32_t w32;
	uint16_t w16, r;

	/* Four independent loads per round keep two ALUs busy. */
	while (len >= 32) {
		uint64_t a, b, c, d;

		memcpy(&a, p, 8);
		memcpy(&b, p + 8, 8);
		memcpy(&c, p + 16, 8);
		memcpy(&d, p + 24, 8);
		acc += (a & 0xffffffff) + (a >> 32) + (b & 0xffffffff) +
		    (b >> 32) + (c & 0xffffffff) + (c >> 32) +
		    (d & 0xffffffff) + (d >> 32);
		p += 32;
		len -= 32;
	}
	while (len >= 8) {
		memcpy(&w, p, 8);
		acc += (w & 0xffffffff) + (w >> 32);
		p += 8;
		len -= 8;
	}
	if (len >= 4) {
		memcpy(&w32, p, 4);
		acc += w32;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		memcpy(&w16, p, 2);
		acc += w16;
		p += 2;
		len -= 2;
	}
	if (len == 1) {
		/*
		 * The last byte sits at the lower address of a zero-padded
		 * word, which is its high byte in big-endian terms whatever
		 * the host's order.
		 */
		uint8_t last[2] = { p[0], 0 };

		memcpy(&w16, last, 2);
		acc += w16;
	}

	r = csum_fold64(acc);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	r = (uint16_t)(r << 8 | r >> 8);	/* RFC 1071 2(B) */
#elif !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_BIG_ENDIAN__
#error "csum_add: unknown byte order"
#endif
	acc = (uint64_t)sum + r;
	acc = (acc & 0xffffffff) + (acc >> 32);
	return (uint32_t)acc;
}

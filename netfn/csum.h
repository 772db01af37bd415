/* SPDX-License-Identifier: ISC */
/*
 * The Internet checksum (RFC 1071), full and incremental (RFC 1624).
 *
 * A checksum is accumulated as a 32-bit partial sum of big-endian 16-bit
 * words (csum_add), then folded and complemented (csum_fold). A header whose
 * checksum field is right sums, checksum included, to a fold of 0.
 *
 *	store_be16(hdr + 10, 0);
 *	store_be16(hdr + 10, csum_fold(csum_add(0, hdr, 20)));	// fill in
 *	ok = csum_fold(csum_add(0, hdr, 20)) == 0;		// verify
 *
 * Incremental updates follow RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m'), which
 * never yields 0xffff from a non-0xffff field (the RFC 1141 flaw).
 */
#ifndef NETFN_CSUM_H
#define NETFN_CSUM_H

#include <stddef.h>
#include <stdint.h>

/*
 * Add len bytes at buf to the partial sum. An odd trailing byte is padded
 * with zero, as if it were the high byte of a final word; so an odd length is
 * only correct for the last piece of a message.
 */
uint32_t csum_add(uint32_t sum, const void *buf, size_t len);

/*
 * The partial sum of a 20-byte IPv4 header (no options), the common case on
 * the packet path: five 32-bit words, no loop. Equal to csum_add(0, p, 20)
 * after folding.
 */
static inline uint32_t
csum_ipv4_hdr20(const uint8_t *p)
{
	uint64_t s = 0;

	for (int i = 0; i < 20; i += 4)
		s += (uint32_t)p[i] << 24 | (uint32_t)p[i + 1] << 16 |
		    (uint32_t)p[i + 2] << 8 | p[i + 3];
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	return (uint32_t)s;
}

/* Fold a partial sum to 16 bits and complement it: the value to store. */
static inline uint16_t
csum_fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Partial sum of the IPv4 pseudo-header for TCP/UDP (RFC 793, RFC 768). */
static inline uint32_t
csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t l4len)
{
	uint64_t s = (uint64_t)(src >> 16) + (src & 0xffff) +
	    (dst >> 16) + (dst & 0xffff) + proto + l4len;

	s = (s & 0xffffffff) + (s >> 32);
	return (uint32_t)s;
}

/* RFC 1624 eqn. 3: the checksum after one 16-bit word changed old -> new. */
static inline uint16_t
csum_update16(uint16_t csum, uint16_t old, uint16_t new)
{
	uint32_t s = (uint16_t)~csum + (uint32_t)(uint16_t)~old + new;

	return csum_fold(s);
}

/* The same for a 32-bit field (an IPv4 address), as two words. */
static inline uint16_t
csum_update32(uint16_t csum, uint32_t old, uint32_t new)
{
	uint32_t s = (uint16_t)~csum +
	    (uint32_t)(uint16_t)~(old >> 16) + (uint16_t)~(old & 0xffff) +
	    (new >> 16) + (new & 0xffff);

	return csum_fold(s);
}

#endif

/* SPDX-License-Identifier: ISC */
/*
 * GSO and checksum offload in software (see gso.h for the rules followed).
 *
 * The header length of a segment is taken from the frame's own headers
 * (IPv4 IHL, TCP data offset, 8 for UDP), never from the virtio-net header's
 * hdr_len, which is only a hint (the kernel recomputes it for DODGY frames).
 */
#include <string.h>

#include "csum.h"
#include "gso.h"

#define GSO_MIN_SIZE	8	/* TCP_MIN_GSO_SIZE in the kernel */

/* Header bytes of every segment: Ethernet, IPv4, TCP or UDP. */
static uint32_t
gso_hdr_len(const uint8_t *frame, uint8_t proto, uint32_t ihl)
{
	const uint8_t *l4 = frame + ETH_HLEN + ihl;

	return ETH_HLEN + ihl + (proto == IPPROTO_TCP_ ? (uint32_t)(l4[12] >> 4) * 4 :
	    UDP_HLEN);
}

enum drop
gso_check(struct nf_frame *f, const struct ipv4 *h, uint32_t *seg_len)
{
	struct nf_gso *g = &f->gso;
	uint8_t type = g->type & (uint8_t)~NF_GSO_ECN;
	uint32_t l4len = (uint32_t)h->tot_len - h->hlen, hdr, payload;

	*seg_len = h->tot_len;
	if (!(f->flags & NF_F_NEEDS_CSUM))
		return type == NF_GSO_NONE && g->type == 0 ? DROP_NONE : DROP_GSO_BAD;
	/* A checksum offload points at the transport checksum of a whole
	 * datagram: anything else would have us write into the payload. */
	if (ipv4_is_fragment(h) || g->csum_start != ETH_HLEN + h->hlen)
		return DROP_GSO_BAD;
	if (h->proto == IPPROTO_TCP_) {
		if (g->csum_offset != 16)
			return DROP_GSO_BAD;
		if (l4len < TCP_MIN_HLEN)
			return DROP_L4_SHORT;
		hdr = gso_hdr_len(f->data, h->proto, h->hlen) - ETH_HLEN - h->hlen;
		if (hdr < TCP_MIN_HLEN || hdr > l4len)
			return DROP_L4_SHORT;
	} else if (h->proto == IPPROTO_UDP_) {
		if (g->csum_offset != 6)
			return DROP_GSO_BAD;
		if (l4len < UDP_HLEN)
			return DROP_L4_SHORT;
		hdr = UDP_HLEN;
	} else {
		return DROP_GSO_BAD;
	}
	if (type == NF_GSO_NONE)
		return g->type == 0 ? DROP_NONE : DROP_GSO_BAD;
	if ((type == NF_GSO_TCPV4 && h->proto != IPPROTO_TCP_) ||
	    (type == NF_GSO_UDP_L4 && h->proto != IPPROTO_UDP_) ||
	    (type != NF_GSO_TCPV4 && type != NF_GSO_UDP_L4) ||
	    ((g->type & NF_GSO_ECN) && type != NF_GSO_TCPV4) ||
	    g->size < GSO_MIN_SIZE)
		return DROP_GSO_BAD;
	g->hdr_len = (uint16_t)(ETH_HLEN + h->hlen + hdr);
	payload = l4len - hdr;
	if (payload > g->size)
		*seg_len = h->hlen + hdr + g->size;
	return DROP_NONE;
}

void
gso_csum_complete(uint8_t *frame, uint32_t len, const struct nf_gso *g,
    uint8_t proto)
{
	uint8_t *l4 = frame + g->csum_start;
	uint16_t sum = csum_fold(csum_add(0, l4, len - g->csum_start));

	if (proto == IPPROTO_UDP_ && sum == 0)
		sum = 0xffff;			/* RFC 768: 0 means none */
	store_be16(l4 + g->csum_offset, sum);
}

uint16_t
gso_pseudo_partial(uint32_t src, uint32_t dst, uint8_t proto, uint16_t l4len)
{
	return (uint16_t)~csum_fold(csum_pseudo(src, dst, proto, l4len));
}

unsigned
gso_nsegs(const uint8_t *frame, uint32_t len, const struct nf_gso *g)
{
	const uint8_t *ip = frame + ETH_HLEN;
	uint32_t ihl = (uint32_t)(ip[0] & 0x0f) * 4, payload;

	(void)len;
	if ((g->type & (uint8_t)~NF_GSO_ECN) == NF_GSO_NONE || g->size == 0)
		return 1;
	payload = ETH_HLEN + (uint32_t)load_be16(ip + 2) -
	    gso_hdr_len(frame, ip[9], ihl);
	return payload <= g->size ? 1 : (payload + g->size - 1) / g->size;
}

uint32_t
gso_segment(const uint8_t *frame, uint32_t len, const struct nf_gso *g,
    unsigned k, uint8_t *dst, size_t cap)
{
	const uint8_t *ip = frame + ETH_HLEN;
	uint32_t ihl = (uint32_t)(ip[0] & 0x0f) * 4;
	uint8_t proto = ip[9];
	uint32_t hdr = gso_hdr_len(frame, proto, ihl);
	uint32_t end = ETH_HLEN + (uint32_t)load_be16(ip + 2);
	unsigned n = gso_nsegs(frame, len, g);
	uint32_t size = n == 1 ? end - hdr : g->size;
	uint32_t off = hdr + k * size, plen, seg;
	uint8_t *dip = dst + ETH_HLEN, *l4 = dip + ihl;
	uint32_t src, dstip;
	uint16_t l4len;

	if (k >= n)
		return 0;
	plen = end - off < size ? end - off : size;
	seg = hdr + plen;
	if (seg > cap)
		return 0;
	memcpy(dst, frame, hdr);
	memcpy(dst + hdr, frame + off, plen);

	/* IPv4: length, id + k, header checksum. */
	store_be16(dip + 2, (uint16_t)(seg - ETH_HLEN));
	store_be16(dip + 4, (uint16_t)(load_be16(ip + 4) + k));
	store_be16(dip + 10, 0);
	store_be16(dip + 10, csum_fold(csum_add(0, dip, ihl)));

	src = load_be32(dip + 12);
	dstip = load_be32(dip + 16);
	l4len = (uint16_t)(seg - ETH_HLEN - ihl);
	if (proto == IPPROTO_TCP_) {
		uint8_t fl = l4[13];

		store_be32(l4 + 4, load_be32(l4 + 4) + k * size);
		if (k + 1 < n)
			fl &= (uint8_t)~(TCP_FIN | TCP_PSH);
		if (k > 0)
			fl &= (uint8_t)~0x80;		/* CWR */
		l4[13] = fl;
		store_be16(l4 + 16, 0);
		store_be16(l4 + 16, csum_fold(csum_add(csum_pseudo(src, dstip,
		    proto, l4len), l4, l4len)));
	} else {
		uint16_t c;

		store_be16(l4 + 4, l4len);
		store_be16(l4 + 6, 0);
		c = csum_fold(csum_add(csum_pseudo(src, dstip, proto, l4len), l4,
		    l4len));
		store_be16(l4 + 6, c == 0 ? 0xffff : c);
	}
	return seg;
}

/* SPDX-License-Identifier: ISC */
/*
 * Wire formats: the parsers and builders declared in wire.h, the transport
 * checksum checks and completion, and address text conversion.
 *
 * Every parser follows one rule: a length check guards each byte the next
 * statement reads, and fields are loaded big-endian one byte at a time
 * (load_be16/load_be32), so no buffer alignment or host byte order matters
 * and no struct is ever cast over packet bytes. Parsers write their output
 * struct only after every check has passed, so a dropped frame leaves it as
 * it was. Builders check cap before the first store and return 0 without
 * writing anything when it is short.
 *
 * Nothing here allocates, makes a system call or keeps state; the only data
 * are the two constant MAC addresses below.
 */
#include <string.h>

#include "csum.h"
#include "wire.h"

const uint8_t eth_broadcast[ETH_ALEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
const uint8_t eth_zero[ETH_ALEN] = { 0 };

enum drop
pkt_parse_eth(struct eth *e, const uint8_t *buf, size_t len)
{
	uint16_t type;

	if (len < ETH_HLEN)
		return DROP_SHORT;
	type = load_be16(buf + 12);
	/*
	 * A tag we ignored would put this frame's payload on whatever network
	 * the untagged port serves: refuse rather than leak between VLANs.
	 */
	if (type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ ||
	    type == ETHERTYPE_QINQ_OLD)
		return DROP_VLAN;
	memcpy(e->dst, buf, ETH_ALEN);
	memcpy(e->src, buf + 6, ETH_ALEN);
	e->type = type;
	return DROP_NONE;
}

size_t
pkt_build_eth(uint8_t *buf, size_t cap, const uint8_t dst[ETH_ALEN],
    const uint8_t src[ETH_ALEN], uint16_t type)
{
	if (cap < ETH_HLEN)
		return 0;
	memcpy(buf, dst, ETH_ALEN);
	memcpy(buf + 6, src, ETH_ALEN);
	store_be16(buf + 12, type);
	return ETH_HLEN;
}

/*
 * RFC 826 body for Ethernet/IPv4: htype(2) ptype(2) hlen(1) plen(1) op(2)
 * sha(6) spa(4) tha(6) tpa(4).
 */
enum drop
pkt_parse_arp(struct arp *a, const uint8_t *buf, size_t len)
{
	uint16_t op;

	if (len < ARP_LEN)
		return DROP_SHORT;
	/*
	 * Any other hardware or protocol size would move spa/tpa, and a
	 * parser that assumed 6 and 4 anyway would learn garbage bindings.
	 */
	if (load_be16(buf) != 1 || load_be16(buf + 2) != ETHERTYPE_IPV4 ||
	    buf[4] != ETH_ALEN || buf[5] != 4)
		return DROP_ARP_BAD;
	op = load_be16(buf + 6);
	if (op != ARP_OP_REQUEST && op != ARP_OP_REPLY)
		return DROP_ARP_BAD;	/* RARP, InARP: not ours to answer */
	a->op = op;
	memcpy(a->sha, buf + 8, ETH_ALEN);
	a->spa = load_be32(buf + 14);
	memcpy(a->tha, buf + 18, ETH_ALEN);
	a->tpa = load_be32(buf + 24);
	return DROP_NONE;
}

size_t
pkt_build_arp(uint8_t *buf, size_t cap, const uint8_t eth_dst[ETH_ALEN],
    const uint8_t eth_src[ETH_ALEN], const struct arp *a)
{
	uint8_t *p = buf + ETH_HLEN;

	if (cap < ETH_ZLEN)
		return 0;
	pkt_build_eth(buf, cap, eth_dst, eth_src, ETHERTYPE_ARP);
	store_be16(p, 1);
	store_be16(p + 2, ETHERTYPE_IPV4);
	p[4] = ETH_ALEN;
	p[5] = 4;
	store_be16(p + 6, a->op);
	memcpy(p + 8, a->sha, ETH_ALEN);
	store_be32(p + 14, a->spa);
	memcpy(p + 18, a->tha, ETH_ALEN);
	store_be32(p + 24, a->tpa);
	/* Pad to the Ethernet minimum ourselves: an AF_PACKET send does not. */
	memset(p + ARP_LEN, 0, ETH_ZLEN - ETH_HLEN - ARP_LEN);
	return ETH_ZLEN;
}

enum drop
pkt_parse_ipv4(struct ipv4 *ip, const uint8_t *buf, size_t len)
{
	size_t hlen, tot;

	if (len < IPV4_MIN_HLEN)
		return DROP_SHORT;
	if (buf[0] >> 4 != 4)
		return DROP_BAD_VERSION;
	hlen = (size_t)(buf[0] & 0x0f) * 4;
	if (hlen < IPV4_MIN_HLEN || hlen > len)		/* IHL below 5, or a lie */
		return DROP_BAD_HLEN;
	tot = load_be16(buf + 2);
	if (tot < hlen || tot > len)			/* RFC 1812 5.2.2 */
		return DROP_BAD_LEN;
	/* Options are covered by the checksum, so sum all hlen bytes. */
	if (csum_fold(hlen == IPV4_MIN_HLEN ? csum_ipv4_hdr20(buf) : csum_add(0, buf, hlen)) != 0)
		return DROP_BAD_CSUM;
	ip->hlen = (uint16_t)hlen;
	ip->tot_len = (uint16_t)tot;
	ip->tos = buf[1];
	ip->id = load_be16(buf + 4);
	ip->frag = load_be16(buf + 6);
	ip->ttl = buf[8];
	ip->proto = buf[9];
	ip->src = load_be32(buf + 12);
	ip->dst = load_be32(buf + 16);
	ip->csum_partial = false;
	return DROP_NONE;
}

size_t
pkt_build_ipv4(uint8_t *buf, size_t cap, uint8_t proto, uint32_t src,
    uint32_t dst, uint16_t id, uint8_t ttl, size_t payload_len)
{
	if (cap < IPV4_MIN_HLEN || payload_len > 0xffff - IPV4_MIN_HLEN)
		return 0;
	buf[0] = 0x45;
	buf[1] = 0;
	store_be16(buf + 2, (uint16_t)(IPV4_MIN_HLEN + payload_len));
	store_be16(buf + 4, id);
	store_be16(buf + 6, 0);
	buf[8] = ttl;
	buf[9] = proto;
	store_be16(buf + 10, 0);
	store_be32(buf + 12, src);
	store_be32(buf + 16, dst);
	store_be16(buf + 10, csum_fold(csum_add(0, buf, IPV4_MIN_HLEN)));
	return IPV4_MIN_HLEN;
}

enum drop
pkt_parse_icmp(struct icmp *ic, const uint8_t *buf, size_t len)
{
	if (len < ICMP_HLEN)
		return DROP_L4_SHORT;
	/* RFC 792: the checksum covers the whole message, no pseudo-header. */
	if (csum_fold(csum_add(0, buf, len)) != 0)
		return DROP_L4_BAD_CSUM;
	ic->type = buf[0];
	ic->code = buf[1];
	ic->csum = load_be16(buf + 2);
	ic->rest = load_be32(buf + 4);
	return DROP_NONE;
}

enum drop
pkt_parse_udp(struct udp *u, const uint8_t *buf, size_t len)
{
	uint16_t ulen;

	if (len < UDP_HLEN)
		return DROP_L4_SHORT;
	ulen = load_be16(buf + 4);
	if (ulen < UDP_HLEN || ulen > len)
		return DROP_L4_SHORT;
	u->sport = load_be16(buf);
	u->dport = load_be16(buf + 2);
	u->len = ulen;
	u->csum = load_be16(buf + 6);
	return DROP_NONE;
}

size_t
pkt_build_udp(uint8_t *buf, size_t cap, uint32_t src, uint32_t dst,
    uint16_t sport, uint16_t dport, size_t len)
{
	uint16_t sum;

	if (len < UDP_HLEN || len > 0xffff || cap < len)
		return 0;
	store_be16(buf, sport);
	store_be16(buf + 2, dport);
	store_be16(buf + 4, (uint16_t)len);
	store_be16(buf + 6, 0);
	sum = csum_fold(csum_add(csum_pseudo(src, dst, IPPROTO_UDP_,
	    (uint16_t)len), buf, len));
	/* RFC 768: a computed 0 goes out as all ones; 0 means "no checksum". */
	store_be16(buf + 6, sum == 0 ? 0xffff : sum);
	return UDP_HLEN;
}

enum drop
pkt_parse_tcp(struct tcp *t, const uint8_t *buf, size_t len)
{
	size_t hlen, i;
	uint16_t mss = 0, mss_off = 0;

	if (len < TCP_MIN_HLEN)
		return DROP_L4_SHORT;
	hlen = (size_t)(buf[12] >> 4) * 4;
	if (hlen < TCP_MIN_HLEN || hlen > len)
		return DROP_L4_SHORT;
	/* RFC 9293 3.2: walk the options; i < hlen guards every kind read. */
	for (i = TCP_MIN_HLEN; i < hlen; ) {
		uint8_t kind = buf[i], olen;

		if (kind == 0)			/* end of option list */
			break;
		if (kind == 1) {		/* no-operation */
			i++;
			continue;
		}
		if (i + 1 >= hlen)		/* no room for the length byte */
			return DROP_TCP_BAD_OPT;
		olen = buf[i + 1];
		/*
		 * A length below 2 would never advance the walk (the MirageOS
		 * SYN with MSS length 0 looped forever); one past the header
		 * would read payload or beyond.
		 */
		if (olen < 2 || olen > hlen - i)
			return DROP_TCP_BAD_OPT;
		if (kind == 2) {
			if (olen != 4)
				return DROP_TCP_BAD_OPT;
			/*
			 * Linux and the BSDs act on the last MSS option of a
			 * SYN; remember that one, so a clamp rewrites the
			 * value the receiver will use.
			 */
			mss = load_be16(buf + i + 2);
			mss_off = (uint16_t)(i + 2);
		}
		i += olen;
	}
	t->sport = load_be16(buf);
	t->dport = load_be16(buf + 2);
	t->seq = load_be32(buf + 4);
	t->ack = load_be32(buf + 8);
	t->hlen = (uint16_t)hlen;
	t->flags = buf[13];
	t->win = load_be16(buf + 14);
	t->csum = load_be16(buf + 16);
	t->mss = mss;
	t->mss_off = mss_off;
	return DROP_NONE;
}

bool
pkt_l4_csum_ok(uint8_t proto, uint32_t src, uint32_t dst, const uint8_t *l4,
    size_t len)
{
	switch (proto) {
	case IPPROTO_UDP_:
		if (len < UDP_HLEN || len > 0xffff)
			return false;
		if (load_be16(l4 + 6) == 0)	/* RFC 768: sender sent none */
			return true;
		break;
	case IPPROTO_TCP_:
		if (len < TCP_MIN_HLEN || len > 0xffff)
			return false;
		break;
	case IPPROTO_ICMP_:
		/* Not in the contract, but the natural answer: no pseudo-header. */
		return len >= ICMP_HLEN && csum_fold(csum_add(0, l4, len)) == 0;
	default:
		return true;	/* no transport checksum netfn knows of */
	}
	return csum_fold(csum_add(csum_pseudo(src, dst, proto, (uint16_t)len),
	    l4, len)) == 0;
}

/*
 * Linux CHECKSUM_PARTIAL: the sender stored ~csum_fold(pseudo), i.e. the
 * folded pseudo-header sum uncomplemented, in the checksum field and left
 * the rest to the NIC, which sums from the transport header to the end of
 * the segment, the field included, and stores the folded complement there
 * (skb_checksum_help). Summing the field in place is what adds the pseudo-
 * header, so the addresses are not needed here.
 */
enum drop
pkt_l4_csum_complete(uint8_t proto, uint8_t *l4, size_t len)
{
	size_t off;
	uint16_t sum;

	switch (proto) {
	case IPPROTO_UDP_:
		if (len < UDP_HLEN)
			return DROP_L4_SHORT;
		off = 6;
		break;
	case IPPROTO_TCP_:
		if (len < TCP_MIN_HLEN)
			return DROP_L4_SHORT;
		off = 16;
		break;
	default:
		return DROP_NONE;
	}
	sum = csum_fold(csum_add(0, l4, len));
	/* A UDP 0 means "no checksum" (RFC 768); send the equal 0xffff. */
	if (proto == IPPROTO_UDP_ && sum == 0)
		sum = 0xffff;
	store_be16(l4 + off, sum);
	return DROP_NONE;
}

/* Decimal digits of v (0..255) at p; returns the end. */
static char *
put_dec8(char *p, unsigned v)
{
	if (v >= 100)
		*p++ = (char)('0' + v / 100);
	if (v >= 10)
		*p++ = (char)('0' + v / 10 % 10);
	*p++ = (char)('0' + v % 10);
	return p;
}

char *
ipv4_ntop(uint32_t addr, char buf[16])
{
	char *p = buf;

	for (int shift = 24; shift >= 0; shift -= 8) {
		p = put_dec8(p, (addr >> shift) & 0xff);
		*p++ = shift ? '.' : '\0';
	}
	return buf;
}

char *
mac_ntop(const uint8_t mac[ETH_ALEN], char buf[18])
{
	static const char hex[] = "0123456789abcdef";

	for (int i = 0; i < ETH_ALEN; i++) {
		buf[i * 3] = hex[mac[i] >> 4];
		buf[i * 3 + 1] = hex[mac[i] & 0xf];
		buf[i * 3 + 2] = i + 1 < ETH_ALEN ? ':' : '\0';
	}
	return buf;
}

/*
 * Strict: four parts of 1..3 decimal digits, each 0..255, separated by
 * single dots, nothing before or after. A leading zero ("010") is refused
 * because inet_aton reads it as octal (8): the same text must not mean two
 * addresses to two tools. *out is written only on success.
 */
int
ipv4_pton(const char *s, uint32_t *out)
{
	uint32_t addr = 0;

	for (int part = 0; part < 4; part++) {
		unsigned v = 0, ndig = 0;

		if (part > 0 && *s++ != '.')
			return -1;
		if (*s == '0' && s[1] >= '0' && s[1] <= '9')
			return -1;
		while (*s >= '0' && *s <= '9') {
			if (++ndig > 3)
				return -1;
			v = v * 10 + (unsigned)(*s++ - '0');
		}
		if (ndig == 0 || v > 255)
			return -1;
		addr = addr << 8 | v;
	}
	if (*s != '\0')
		return -1;
	*out = addr;
	return 0;
}

int
hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Exactly six two-digit hex octets separated by ':', either case, nothing
 * after. mac is written only on success.
 */
int
mac_pton(const char *s, uint8_t mac[ETH_ALEN])
{
	uint8_t m[ETH_ALEN];

	for (int i = 0; i < ETH_ALEN; i++) {
		int hi, lo;

		if (i > 0 && *s++ != ':')
			return -1;
		/* Short-circuit: s[1] is read only when s[0] was a digit. */
		if ((hi = hex_digit(s[0])) < 0 || (lo = hex_digit(s[1])) < 0)
			return -1;
		m[i] = (uint8_t)(hi << 4 | lo);
		s += 2;
	}
	if (*s != '\0')
		return -1;
	memcpy(mac, m, ETH_ALEN);
	return 0;
}

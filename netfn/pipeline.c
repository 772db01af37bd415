/*
 * The pipeline: one function per step, a frame at a time within a batch.
 *
 * Forwarding rewrites the received frame in place: TTL - 1 with the header
 * checksum patched by RFC 1624, source MAC of the egress interface,
 * destination MAC from the ARP cache. A frame whose next hop is unresolved
 * is copied into the ARP cache's queue ("held") and leaves later from
 * nf_input or nf_tick. Frames the router originates -- ARP, ICMP errors,
 * echo replies -- are built in the output arena and routed like any other.
 *
 * The router's addresses follow the weak host model, as Linux does: a packet
 * for any of them is local, whichever interface it came in on.
 *
 * Not done here, by design: IPv4 reassembly (fragments addressed to the
 * router are dropped as DROP_LOCAL; forwarded fragments pass untouched) and
 * fragmentation (a packet over the egress MTU is dropped as DROP_TOO_BIG,
 * with ICMP "fragmentation needed" when DF is set, RFC 1191).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "csum.h"
#include "pipeline.h"
#include "wire.h"

#define ICMP_QUOTE_MAX	576	/* RFC 1812 4.3.2.3: error datagram at most 576 bytes */
#define HELD		DROP_MAX	/* arp_resolve queued the frame */
#define TOKEN		1000000ULL	/* token bucket unit: one ICMP error */

struct nf {
	struct nf_iface	iface[NF_MAX_IFACES];
	unsigned	n_iface;
	struct rtable	*rt;
	struct arp_cache *arp;
	uint32_t	icmp_rate, icmp_burst;
	uint64_t	tokens;		/* in millionths of an ICMP error */
	uint64_t	tokens_at;
	uint16_t	ip_id;
	struct nf_stats	st;
};

void
nf_config_default(struct nf_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	arp_params_default(&cfg->arp);
	cfg->icmp_rate = 1000;
	cfg->icmp_burst = 50;
}

static uint32_t
plen_mask(uint8_t plen)
{
	return plen == 0 ? 0 : ~0u << (32 - plen);
}

struct nf *
nf_new(const struct nf_config *cfg)
{
	struct arp_iface aifs[NF_MAX_IFACES];
	struct nf *nf;

	if (cfg->n_iface == 0 || cfg->n_iface > NF_MAX_IFACES)
		return NULL;
	for (unsigned i = 0; i < cfg->n_iface; i++)
		if (cfg->iface[i].plen > 32)
			return NULL;
	if ((nf = calloc(1, sizeof(*nf))) == NULL)
		return NULL;
	memcpy(nf->iface, cfg->iface, sizeof(nf->iface));
	nf->n_iface = cfg->n_iface;
	nf->icmp_rate = cfg->icmp_rate;
	nf->icmp_burst = cfg->icmp_burst;
	nf->tokens = (uint64_t)cfg->icmp_burst * TOKEN;
	nf->ip_id = (uint16_t)(cfg->seed >> 16);
	for (unsigned i = 0; i < cfg->n_iface; i++) {
		struct nf_iface *ifc = &nf->iface[i];

		if (ifc->mtu == 0)
			ifc->mtu = 1500;
		memcpy(aifs[i].mac, ifc->mac, ETH_ALEN);
		aifs[i].addr = ifc->addr;
		aifs[i].plen = ifc->plen;
	}
	nf->rt = route_new();
	nf->arp = arp_new(&cfg->arp, aifs, cfg->n_iface, cfg->seed);
	if (nf->rt == NULL || nf->arp == NULL)
		goto fail;
	for (unsigned i = 0; i < cfg->n_iface; i++) {
		const struct nf_iface *ifc = &nf->iface[i];
		struct route r = {
			.prefix = ifc->addr & plen_mask(ifc->plen),
			.plen = ifc->plen,
			.ifidx = (uint8_t)i,
			.gw = 0,
		};

		if (route_add(nf->rt, &r) != 0)
			goto fail;
	}
	return nf;
fail:
	nf_free(nf);
	return NULL;
}

void
nf_free(struct nf *nf)
{
	if (nf == NULL)
		return;
	route_free(nf->rt);
	arp_free(nf->arp);
	free(nf);
}

void
nf_start(struct nf *nf, uint64_t now, struct nf_out *out)
{
	(void)now;
	for (unsigned i = 0; i < nf->n_iface; i++)
		arp_announce(nf->arp, (uint8_t)i, out);
}

/* One of the router's own addresses? */
static int
local_iface(const struct nf *nf, uint32_t addr)
{
	for (unsigned i = 0; i < nf->n_iface; i++)
		if (nf->iface[i].addr == addr)
			return (int)i;
	return -1;
}

/* A subnet broadcast address of one of our interfaces? */
static bool
subnet_broadcast(const struct nf *nf, uint32_t addr)
{
	for (unsigned i = 0; i < nf->n_iface; i++) {
		const struct nf_iface *ifc = &nf->iface[i];
		uint32_t m = plen_mask(ifc->plen);

		if (ifc->plen <= 30 && (addr & m) == (ifc->addr & m) &&
		    (addr & ~m) == ~m)
			return true;
	}
	return false;
}

int
nf_route_add(struct nf *nf, uint32_t prefix, uint8_t plen, uint32_t gw)
{
	struct route via;
	struct route r = { .prefix = prefix, .plen = plen, .gw = gw };

	if (plen > 32 || (prefix & ~plen_mask(plen)) != 0)
		return -EINVAL;
	/* The gateway must sit on a connected subnet: no recursive routes. */
	if (route_lookup(nf->rt, gw, &via) != 0 || via.gw != 0)
		return -ENETUNREACH;
	if (local_iface(nf, gw) >= 0 || subnet_broadcast(nf, gw))
		return -EINVAL;
	r.ifidx = via.ifidx;
	return route_add(nf->rt, &r);
}

/* Addresses that are never a valid unicast source or destination. */
static bool
martian(uint32_t a)
{
	uint8_t top = (uint8_t)(a >> 24);

	return top == 0 || top == 127 || top >= 224;	/* 0/8, loopback, class D/E */
}

static bool
icmp_allowed(struct nf *nf, uint64_t now)
{
	uint64_t cap = (uint64_t)nf->icmp_burst * TOKEN;

	if (nf->icmp_rate == 0)
		return true;
	if (nf->tokens_at == 0)
		nf->tokens_at = now;		/* the bucket starts full */
	if (now > nf->tokens_at) {
		/* 10 s refills any bucket and keeps the product in 64 bits. */
		uint64_t dt = now - nf->tokens_at < 10000000 ? now - nf->tokens_at : 10000000;
		uint64_t add = dt * nf->icmp_rate;

		nf->tokens = nf->tokens + add > cap ? cap : nf->tokens + add;
	}
	nf->tokens_at = now;
	if (nf->tokens < TOKEN) {
		nf->st.icmp_ratelimited++;
		return false;
	}
	nf->tokens -= TOKEN;
	return true;
}

/*
 * Route and send a frame the router made (arena memory, IP header at
 * frame + ETH_HLEN, destination dst). The Ethernet header is filled here.
 */
static void
send_local(struct nf *nf, uint8_t *frame, size_t len, uint32_t dst, uint64_t now,
    struct nf_out *out)
{
	struct route r;
	uint8_t mac[ETH_ALEN];
	enum drop why;

	if (route_lookup(nf->rt, dst, &r) != 0)
		return;
	memcpy(frame + ETH_ALEN, nf->iface[r.ifidx].mac, ETH_ALEN);
	store_be16(frame + 12, ETHERTYPE_IPV4);
	why = arp_resolve(nf->arp, r.ifidx, r.gw ? r.gw : dst, mac, frame, len, now, out);
	if (why == DROP_NONE) {
		memcpy(frame, mac, ETH_ALEN);
		nf_out_tx(out, r.ifidx, frame, (uint16_t)len);
	}
}

/* Source address for a packet the router sends to dst: the egress interface's. */
static int
source_for(const struct nf *nf, uint32_t dst, uint32_t *src)
{
	struct route r;

	if (route_lookup(nf->rt, dst, &r) != 0)
		return -1;
	*src = nf->iface[r.ifidx].addr;
	return 0;
}

/*
 * Send an ICMP error about the datagram at ip[0..len) (its header parsed in
 * *h), per RFC 1812 4.3.2.7: never about an ICMP error, a later fragment, or
 * a packet whose source is not a unicast host.
 */
static void
icmp_error(struct nf *nf, const uint8_t *ip, size_t len, const struct ipv4 *h,
    uint8_t type, uint8_t code, uint32_t rest, uint64_t now, struct nf_out *out)
{
	size_t quote, icmp_len, total;
	uint32_t src;
	uint8_t *f;

	if (ipv4_is_later_fragment(h) || martian(h->src) || subnet_broadcast(nf, h->src))
		return;
	if (h->proto == IPPROTO_ICMP_ && len >= (size_t)h->hlen + 1 &&
	    icmp_is_error(ip[h->hlen]))
		return;
	if (source_for(nf, h->src, &src) != 0 || !icmp_allowed(nf, now))
		return;
	quote = len < h->tot_len ? len : h->tot_len;
	if (quote > ICMP_QUOTE_MAX - IPV4_MIN_HLEN - ICMP_HLEN)
		quote = ICMP_QUOTE_MAX - IPV4_MIN_HLEN - ICMP_HLEN;
	icmp_len = ICMP_HLEN + quote;
	total = ETH_HLEN + IPV4_MIN_HLEN + icmp_len;
	if ((f = nf_out_alloc(out, total)) == NULL) {
		out->tx_lost++;
		return;
	}
	uint8_t *ic = f + ETH_HLEN + IPV4_MIN_HLEN;

	pkt_build_ipv4(f + ETH_HLEN, IPV4_MIN_HLEN, IPPROTO_ICMP_, src, h->src,
	    nf->ip_id++, 64, icmp_len);
	ic[0] = type;
	ic[1] = code;
	store_be16(ic + 2, 0);
	store_be32(ic + 4, rest);
	memcpy(ic + ICMP_HLEN, ip, quote);
	store_be16(ic + 2, csum_fold(csum_add(0, ic, icmp_len)));
	nf->st.icmp_sent++;
	send_local(nf, f, total, h->src, now, out);
}

/* A queued frame whose next hop never answered: host unreachable. */
static void
arp_failed(void *ctx, uint8_t ifidx, const uint8_t *frame, size_t len,
    uint64_t now, struct nf_out *out)
{
	struct nf *nf = ctx;
	struct ipv4 h;

	(void)ifidx;
	nf->st.drop[DROP_ARP_FAILED]++;
	if (len < ETH_HLEN || load_be16(frame + 12) != ETHERTYPE_IPV4)
		return;
	/* The queued copy had its TTL lowered and checksum patched: still valid. */
	if (pkt_parse_ipv4(&h, frame + ETH_HLEN, len - ETH_HLEN) != DROP_NONE)
		return;
	icmp_error(nf, frame + ETH_HLEN, len - ETH_HLEN, &h, ICMP_UNREACH,
	    ICMP_UNREACH_HOST, 0, now, out);
}

/* A datagram for one of the router's addresses. */
static enum drop
nf_local(struct nf *nf, const uint8_t *ip, const struct ipv4 *h, uint64_t now,
    struct nf_out *out)
{
	const uint8_t *l4 = ip + h->hlen;
	size_t l4len = h->tot_len - h->hlen;
	struct icmp ic;
	enum drop why;

	nf->st.local++;
	if (ipv4_is_fragment(h))
		return DROP_LOCAL;		/* no reassembly in the router */
	if (h->proto == IPPROTO_UDP_) {
		/* Nothing listens: port unreachable ends a UDP traceroute. */
		icmp_error(nf, ip, h->tot_len, h, ICMP_UNREACH, ICMP_UNREACH_PORT,
		    0, now, out);
		return DROP_LOCAL;
	}
	if (h->proto != IPPROTO_ICMP_)
		return DROP_LOCAL;
	if ((why = pkt_parse_icmp(&ic, l4, l4len)) != DROP_NONE)
		return why;
	if (ic.type != ICMP_ECHO)
		return DROP_LOCAL;

	/* Echo reply: same id, sequence and data, from the address pinged. */
	size_t total = ETH_HLEN + IPV4_MIN_HLEN + l4len;
	size_t flen = total < ETH_ZLEN ? ETH_ZLEN : total;
	uint8_t *f = nf_out_alloc(out, flen);

	if (f == NULL)
		return DROP_OUT_FULL;
	memset(f + total, 0, flen - total);	/* pad to the minimum frame */
	uint8_t *rep = f + ETH_HLEN + IPV4_MIN_HLEN;

	pkt_build_ipv4(f + ETH_HLEN, IPV4_MIN_HLEN, IPPROTO_ICMP_, h->dst, h->src,
	    nf->ip_id++, 64, l4len);
	memcpy(rep, l4, l4len);
	rep[0] = ICMP_ECHOREPLY;
	store_be16(rep + 2, csum_update16(load_be16(rep + 2),
	    (uint16_t)(ICMP_ECHO << 8 | rep[1]), (uint16_t)(ICMP_ECHOREPLY << 8 | rep[1])));
	send_local(nf, f, flen, h->src, now, out);
	return DROP_NONE;
}

/* Forward the IPv4 datagram in frame f (parsed header h). */
static enum drop
nf_forward(struct nf *nf, struct nf_frame *f, const struct ipv4 *h, uint64_t now,
    struct nf_out *out)
{
	uint8_t *ip = f->data + ETH_HLEN;
	const struct nf_iface *eg;
	struct route r;
	uint8_t mac[ETH_ALEN];
	enum drop why;

	if (h->ttl <= 1) {
		icmp_error(nf, ip, h->tot_len, h, ICMP_TIMXCEED, ICMP_TIMXCEED_INTRANS,
		    0, now, out);
		return DROP_TTL_EXCEEDED;
	}
	if (route_lookup(nf->rt, h->dst, &r) != 0) {
		icmp_error(nf, ip, h->tot_len, h, ICMP_UNREACH, ICMP_UNREACH_NET,
		    0, now, out);
		return DROP_NO_ROUTE;
	}
	eg = &nf->iface[r.ifidx];
	if (h->tot_len > eg->mtu) {
		if (h->frag & IPV4_DF)
			icmp_error(nf, ip, h->tot_len, h, ICMP_UNREACH,
			    ICMP_UNREACH_NEEDFRAG, eg->mtu, now, out);
		return DROP_TOO_BIG;
	}
	/* Issue 3 (NAT) slots in here: translate after routing, before ARP. */

	/* TTL shares a 16-bit word with the protocol: RFC 1624 on that word. */
	ip[8] = (uint8_t)(h->ttl - 1);
	store_be16(ip + 10, csum_update16(load_be16(ip + 10),
	    (uint16_t)(h->ttl << 8 | h->proto), (uint16_t)((h->ttl - 1) << 8 | h->proto)));
	memcpy(f->data + ETH_ALEN, eg->mac, ETH_ALEN);
	why = arp_resolve(nf->arp, r.ifidx, r.gw ? r.gw : h->dst, mac, f->data, f->len,
	    now, out);
	if (why != DROP_NONE)
		return why;
	memcpy(f->data, mac, ETH_ALEN);
	if (nf_out_tx(out, r.ifidx, f->data, f->len) != 0)
		return DROP_OUT_FULL;
	nf->st.forwarded++;
	return DROP_NONE;
}

static enum drop
nf_one(struct nf *nf, struct nf_frame *f, uint64_t now, struct nf_out *out)
{
	const struct nf_iface *ifc;
	struct eth e;
	struct ipv4 h;
	enum drop why;

	if (f->ifidx >= nf->n_iface)
		return DROP_NOT_FOR_US;
	if (f->len > NF_FRAME_MAX)
		return DROP_OVERSIZE;
	if ((why = pkt_parse_eth(&e, f->data, f->len)) != DROP_NONE)
		return why;
	ifc = &nf->iface[f->ifidx];
	if (!eth_is_multicast(e.dst) && memcmp(e.dst, ifc->mac, ETH_ALEN) != 0)
		return DROP_NOT_FOR_US;
	if (e.type == ETHERTYPE_ARP) {
		struct arp a;

		nf->st.arp_in++;
		if ((why = pkt_parse_arp(&a, f->data + ETH_HLEN, f->len - ETH_HLEN)) != DROP_NONE)
			return why;
		return arp_input(nf->arp, f->ifidx, e.src, &a, now, out);
	}
	if (e.type != ETHERTYPE_IPV4)
		return DROP_ETHERTYPE;
	if ((why = pkt_parse_ipv4(&h, f->data + ETH_HLEN, f->len - ETH_HLEN)) != DROP_NONE)
		return why;
	/* Trim Ethernet padding, keeping up to the 60-byte minimum frame (veth
	 * does not pad what we send); never grow a frame that came in shorter. */
	if (ETH_HLEN + (size_t)h.tot_len < f->len) {
		size_t keep = ETH_HLEN + (size_t)h.tot_len;

		if (keep < ETH_ZLEN)
			keep = f->len < ETH_ZLEN ? f->len : ETH_ZLEN;
		f->len = (uint16_t)keep;
	}
	if (martian(h.src) || local_iface(nf, h.src) >= 0 || subnet_broadcast(nf, h.src))
		return DROP_MARTIAN_SRC;
	/* RFC 1812 5.3.4: nothing received as link-layer broadcast is forwarded. */
	if (eth_is_multicast(e.dst))
		return DROP_MARTIAN_DST;
	if (local_iface(nf, h.dst) >= 0)
		return nf_local(nf, f->data + ETH_HLEN, &h, now, out);
	if (martian(h.dst) || subnet_broadcast(nf, h.dst))
		return DROP_MARTIAN_DST;
	if ((f->flags & NF_F_CSUM_PARTIAL) && !ipv4_is_later_fragment(&h)) {
		/* The sender's offload left the transport checksum to us. */
		why = pkt_l4_csum_complete(h.proto, f->data + ETH_HLEN + h.hlen,
		    h.tot_len - h.hlen);
		if (why != DROP_NONE)
			return why;
		nf->st.csum_completed++;
	}
	return nf_forward(nf, f, &h, now, out);
}

void
nf_input(struct nf *nf, struct nf_frame *rx, unsigned n, uint64_t now,
    struct nf_out *out)
{
	uint64_t bytes = 0;

	for (unsigned i = 0; i < n; i++) {
		enum drop why;

		if (i + 1 < n)
			__builtin_prefetch(rx[i + 1].data);
		bytes += rx[i].len;
		why = nf_one(nf, &rx[i], now, out);
		if (why != DROP_NONE && why != HELD)
			nf->st.drop[why]++;
	}
	nf->st.rx += n;
	nf->st.rx_bytes += bytes;
}

void
nf_tick(struct nf *nf, uint64_t now, struct nf_out *out)
{
	arp_tick(nf->arp, now, out, arp_failed, nf);
}

uint64_t
nf_next_deadline(const struct nf *nf)
{
	return arp_next_deadline(nf->arp);
}

const struct nf_stats *
nf_stats(const struct nf *nf)
{
	return &nf->st;
}

struct arp_cache *
nf_arp(struct nf *nf)
{
	return nf->arp;
}

const struct rtable *
nf_routes(const struct nf *nf)
{
	return nf->rt;
}

const struct nf_iface *
nf_iface(const struct nf *nf, uint8_t ifidx)
{
	return ifidx < nf->n_iface ? &nf->iface[ifidx] : NULL;
}

unsigned
nf_n_iface(const struct nf *nf)
{
	return nf->n_iface;
}

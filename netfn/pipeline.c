/* SPDX-License-Identifier: ISC */
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
#include "gso.h"
#include "pipeline.h"
#include "rng.h"
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
	struct rng	rng;		/* IP ids; keys ARP and NAT (subkeys) */
	struct nat	*nat;		/* NULL: plain router */
	uint8_t		outside;
	uint32_t	pool[NAT_MAX_EXT - 1];
	unsigned	n_pool;
	uint32_t	pool_lo, pool_hi;	/* range of pool[]: a cheap miss */
	uint32_t	bcast[NF_MAX_IFACES];	/* subnet broadcasts; 0 for /31, /32 */
	uint64_t	nat_sweep_at;	/* next NAT expiry sweep */
	struct nf_stats	st;
};

#define NAT_SWEEP_US	100000	/* ten sweeps a second */
/*
 * Sweeps run on a fixed grid of unix time, 50 ms past each tenth of a
 * second: a replay of a capture sweeps at the instants the live router
 * did, and never at a whole or half second, where NAT expiries and the
 * store's expiry ticks fall (src/state.c): which of a sweep and a tick
 * sees an expiring entry first is then the same live and replayed.
 */
#define NAT_SWEEP_PHASE	50000

static uint64_t
nat_sweep_next(uint64_t now)
{
	uint64_t at = (now - NAT_SWEEP_PHASE) / NAT_SWEEP_US * NAT_SWEEP_US + NAT_SWEEP_PHASE;

	return now < NAT_SWEEP_PHASE ? NAT_SWEEP_PHASE : at + NAT_SWEEP_US;
}
#define NAT_DIST	8	/* frames between a prefetch and its use */
#define NAT_AHEAD	32	/* bucket ring, a power of two >= 2 * NAT_DIST + 1 */
_Static_assert(NAT_AHEAD >= 2 * NAT_DIST + 1 && (NAT_AHEAD & (NAT_AHEAD - 1)) == 0,
    "the bucket ring must hold every frame between prefetch and use");

void
nf_config_default(struct nf_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	arp_params_default(&cfg->arp);
	nat_params_default(&cfg->nat_params);	/* used when cfg->nat is set */
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

	if (cfg->n_iface == 0 || cfg->n_iface > NF_MAX_IFACES ||
	    (cfg->nat && (cfg->outside >= cfg->n_iface || cfg->n_pool > NAT_MAX_EXT - 1)))
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
	/* One secret behind every random choice, each user with its own
	 * subkey: what one of them shows says nothing of the others. */
	if (cfg->key[0] != 0 || cfg->key[1] != 0)
		rng_init(&nf->rng, cfg->key[0], cfg->key[1]);
	else
		rng_init(&nf->rng, cfg->seed ? cfg->seed : 0x243f6a8885a308d3ULL, 0);
	for (unsigned i = 0; i < cfg->n_iface; i++) {
		struct nf_iface *ifc = &nf->iface[i];

		if (ifc->mtu == 0)
			ifc->mtu = 1500;
		nf->bcast[i] = ifc->plen <= 30 ? (ifc->addr | ~plen_mask(ifc->plen)) : 0;
		memset(&aifs[i], 0, sizeof(aifs[i]));
		memcpy(aifs[i].mac, ifc->mac, ETH_ALEN);
		aifs[i].addr = ifc->addr;
		aifs[i].plen = ifc->plen;
	}
	nf->rt = route_new();
	if (cfg->nat) {
		uint32_t ext[NAT_MAX_EXT];
		struct nat_params np = cfg->nat_params;
		struct rng sub;

		nf->outside = cfg->outside;
		nf->n_pool = cfg->n_pool;
		memcpy(nf->pool, cfg->pool, cfg->n_pool * sizeof(uint32_t));
		nf->pool_lo = UINT32_MAX;
		for (unsigned i = 0; i < cfg->n_pool; i++) {
			nf->pool_lo = cfg->pool[i] < nf->pool_lo ? cfg->pool[i] : nf->pool_lo;
			nf->pool_hi = cfg->pool[i] > nf->pool_hi ? cfg->pool[i] : nf->pool_hi;
		}
		ext[0] = cfg->iface[cfg->outside].addr;
		for (unsigned i = 0; i < cfg->n_pool; i++) {
			ext[i + 1] = cfg->pool[i];
			/* ARP answers for the pool on the outside link */
			aifs[cfg->outside].alias[aifs[cfg->outside].n_alias++] = cfg->pool[i];
		}
		if (np.key[0] == 0 && np.key[1] == 0) {
			rng_derive(&sub, &nf->rng, 0x6e6174);	/* "nat" */
			np.key[0] = sub.k0;
			np.key[1] = sub.k1;
		}
		if ((nf->nat = nat_new(&np, ext, cfg->n_pool + 1,
		    cfg->seed ^ 0x6e6174)) == NULL)
			goto fail;
	}
	nf->arp = arp_new(&cfg->arp, aifs, cfg->n_iface,
	    rng_hash(nf->rng.k0, nf->rng.k1, (uint64_t)0x617270 << 32));	/* "arp" */
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
	nat_free(nf->nat);
	free(nf);
}

void
nf_start(struct nf *nf, uint64_t now, struct nf_out *out)
{
	nf_announce(nf, now, out);
}

unsigned
nf_announce(struct nf *nf, uint64_t now, struct nf_out *out)
{
	unsigned before = out->ntx;

	(void)now;
	for (unsigned i = 0; i < nf->n_iface; i++)
		arp_announce(nf->arp, (uint8_t)i, out);
	/* The NAT pool answers on the outside: a standby taking over moves it too. */
	for (unsigned i = 0; i < nf->n_pool; i++)
		arp_announce_ip(nf->arp, (uint8_t)nf->outside, nf->pool[i], out);
	return out->ntx - before;
}

/* One of the router's own addresses (NAT pool included)? Its interface. */
static int
local_iface(const struct nf *nf, uint32_t addr)
{
	for (unsigned i = 0; i < nf->n_iface; i++)
		if (nf->iface[i].addr == addr)
			return (int)i;
	if (addr >= nf->pool_lo && addr <= nf->pool_hi)
		for (unsigned i = 0; i < nf->n_pool; i++)
			if (nf->pool[i] == addr)
				return nf->outside;
	return -1;
}

/* A subnet broadcast address of one of our interfaces? */
static bool
subnet_broadcast(const struct nf *nf, uint32_t addr)
{
	for (unsigned i = 0; i < nf->n_iface; i++)
		if (addr == nf->bcast[i])
			return true;
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

	/* Never ARP for ourselves: a frame for our own address has nowhere to go. */
	if (route_lookup(nf->rt, dst, &r) != 0 || local_iface(nf, dst) >= 0)
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
 * Did NAT translate this datagram on its way in? With NAT nothing from the
 * outside reaches an inside address but through a mapping, so: its source is
 * routed via the outside, its destination not.
 */
static bool
translated_in(const struct nf *nf, const struct ipv4 *h)
{
	struct route rs, rd;

	return nf->nat != NULL && !nat_is_external(nf->nat, h->src) &&
	    route_lookup(nf->rt, h->src, &rs) == 0 && rs.ifidx == nf->outside &&
	    route_lookup(nf->rt, h->dst, &rd) == 0 && rd.ifidx != nf->outside;
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
	bool in_xl;

	if (ipv4_is_later_fragment(h) || martian(h->src) || subnet_broadcast(nf, h->src))
		return;
	if (h->proto == IPPROTO_ICMP_ && len >= (size_t)h->hlen + 1 &&
	    icmp_is_error(ip[h->hlen]))
		return;
	if (source_for(nf, h->src, &src) != 0)
		return;
	in_xl = translated_in(nf, h);
	if (!icmp_allowed(nf, now))
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
	    (uint16_t)rng_next(&nf->rng), 64, icmp_len);
	ic[0] = type;
	ic[1] = code;
	store_be16(ic + 2, 0);
	store_be32(ic + 4, rest);
	memcpy(ic + ICMP_HLEN, ip, quote);
	store_be16(ic + 2, csum_fold(csum_add(0, ic, icmp_len)));
	if (nf->nat != NULL && nat_is_external(nf->nat, h->src)) {
		/*
		 * The datagram was translated on its way out (it waited for ARP
		 * after NAT): the error is about the external endpoint, so send
		 * it back through NAT like one from outside (RFC 5508), to the
		 * inside host with the quoted header restored.
		 */
		struct ipv4 eh;
		uint8_t *eip = f + ETH_HLEN;

		if (pkt_parse_ipv4(&eh, eip, total - ETH_HLEN) != DROP_NONE ||
		    nat_out2in(nf->nat, eip, &eh, now, out) != DROP_NONE ||
		    source_for(nf, eh.dst, &src) != 0)
			return;
		/* RFC 1812 4.3.2.4: from the interface it leaves by. */
		store_be16(eip + 10, csum_update32(load_be16(eip + 10), eh.src, src));
		store_be32(eip + 12, src);
		nf->st.icmp_sent++;
		send_local(nf, f, total, eh.dst, now, out);
		return;
	}
	if (in_xl) {
		/*
		 * The datagram came in through a mapping: the remote knows it
		 * by the external endpoint, so the quote must say that, or PMTUD
		 * and the remote's matching break and the inside address leaks
		 * (RFC 5508 REQ-3). NAT translates the error as one from inside
		 * about an inbound flow; the source stays the interface's (RFC
		 * 1812 4.3.2.4). No session: no error.
		 */
		struct ipv4 eh;
		uint8_t *eip = f + ETH_HLEN;

		if (pkt_parse_ipv4(&eh, eip, total - ETH_HLEN) != DROP_NONE ||
		    nat_in2out(nf->nat, eip, &eh, now, out) != DROP_NONE)
			return;
		store_be16(eip + 10, csum_update32(load_be16(eip + 10), eh.src, src));
		store_be32(eip + 12, src);
	}
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
	    (uint16_t)rng_next(&nf->rng), 64, l4len);
	memcpy(rep, l4, l4len);
	rep[0] = ICMP_ECHOREPLY;
	store_be16(rep + 2, csum_update16(load_be16(rep + 2),
	    (uint16_t)(ICMP_ECHO << 8 | rep[1]), (uint16_t)(ICMP_ECHOREPLY << 8 | rep[1])));
	send_local(nf, f, flen, h->src, now, out);
	return DROP_NONE;
}

/* Forward the IPv4 datagram in frame f (parsed header h). */
static enum drop
nf_forward(struct nf *nf, struct nf_frame *f, struct ipv4 *h, uint64_t now,
    struct nf_out *out)
{
	uint8_t *ip = f->data + ETH_HLEN;
	const struct nf_iface *eg;
	struct route r;
	uint8_t mac[ETH_ALEN];
	uint32_t seg;
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
	/* A GSO frame leaves as segments: they must fit, not the whole. */
	seg = h->tot_len;
	if (f->gso.type != NF_GSO_NONE)
		(void)gso_check(f, h, &seg);	/* passed in nf_one */
	if (seg > eg->mtu) {
		if (h->frag & IPV4_DF)
			icmp_error(nf, ip, h->tot_len, h, ICMP_UNREACH,
			    ICMP_UNREACH_NEEDFRAG, eg->mtu, now, out);
		return DROP_TOO_BIG;
	}
	/* Source NAT after routing (so ICMP errors above quote what the inside
	 * host sent) and before ARP: inside -> outside only. */
	if (nf->nat != NULL && r.ifidx == nf->outside && f->ifidx != nf->outside &&
	    (why = nat_in2out(nf->nat, ip, h, now, out)) != DROP_NONE)
		return why;

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
	if (f->flags & NF_F_NEEDS_CSUM) {
		/* Still partial (a GSO frame): the sender segments it. */
		out->tx[out->ntx - 1].flags = NF_F_NEEDS_CSUM;
		out->tx[out->ntx - 1].gso = f->gso;
	}
	nf->st.forwarded++;
	return DROP_NONE;
}

/*
 * With NAT: what arrives on the outside for an external address is
 * translated in (or is for the router itself), nothing reaches an inside
 * address from outside except through a mapping, and an inside host that
 * addresses an external address is hairpinned (RFC 4787 REQ-9: it sees its
 * peer's external endpoint, the peer sees its external endpoint).
 */
static enum drop
nf_nat_dispatch(struct nf *nf, struct nf_frame *f, struct ipv4 *h, uint64_t now,
    struct nf_out *out)
{
	uint8_t *ip = f->data + ETH_HLEN;
	bool ext = nat_is_external(nf->nat, h->dst);
	struct route r;
	enum drop why;

	if (ext && h->proto == IPPROTO_ICMP_ && h->tot_len > h->hlen &&
	    ip[h->hlen] == ICMP_ECHO && !ipv4_is_fragment(h))
		return nf_local(nf, ip, h, now, out);	/* a ping for the router */
	if (f->ifidx == nf->outside) {
		if (ext) {
			/*
			 * A datagram NAT would pass on whose TTL runs out here:
			 * answered as it came, before NAT sees it, so it opens no
			 * session and writes no history. One for the router
			 * itself (no mapping) is delivered whatever its TTL.
			 */
			if (h->ttl <= 1 && nat_out2in_admits(nf->nat, ip, h, now)) {
				icmp_error(nf, ip, h->tot_len, h, ICMP_TIMXCEED,
				    ICMP_TIMXCEED_INTRANS, 0, now, out);
				return DROP_TTL_EXCEEDED;
			}
			why = nat_out2in(nf->nat, ip, h, now, out);
			if (why == DROP_NAT_NO_MAPPING && local_iface(nf, h->dst) >= 0)
				return nf_local(nf, ip, h, now, out);
			if (why != DROP_NONE)
				return why;
			return nf_forward(nf, f, h, now, out);
		}
		if (local_iface(nf, h->dst) >= 0)
			return nf_local(nf, ip, h, now, out);
		if (martian(h->dst) || subnet_broadcast(nf, h->dst))
			return DROP_MARTIAN_DST;
		if (route_lookup(nf->rt, h->dst, &r) == 0 && r.ifidx != nf->outside)
			return DROP_NAT_UNSOLICITED;
		return nf_forward(nf, f, h, now, out);
	}
	if (ext) {
		if ((why = nat_in2out(nf->nat, ip, h, now, out)) != DROP_NONE)
			return why;
		if ((why = nat_out2in(nf->nat, ip, h, now, out)) != DROP_NONE)
			return why;
		nf->st.hairpinned++;
		return nf_forward(nf, f, h, now, out);
	}
	if (local_iface(nf, h->dst) >= 0)
		return nf_local(nf, ip, h, now, out);
	if (martian(h->dst) || subnet_broadcast(nf, h->dst))
		return DROP_MARTIAN_DST;
	return nf_forward(nf, f, h, now, out);
}

/*
 * RFC 3704 strict reverse path: a source must be one the router would reach
 * through the interface the datagram came in on, or one inside host could
 * pose as many (the per-host NAT limit, every port of the table) and, without
 * NAT, send from addresses that are not its own. The connected subnet is
 * the common case and costs a compare; else a route lookup. A source with no
 * route at all is refused inside a NAT (its replies could go nowhere) and
 * let by elsewhere (loose, as a plain router without a default route must).
 */
static bool
source_ok(const struct nf *nf, uint8_t ifidx, uint32_t src)
{
	const struct nf_iface *ifc = &nf->iface[ifidx];
	struct route r;

	if (((src ^ ifc->addr) & plen_mask(ifc->plen)) == 0)
		return true;
	if (route_lookup(nf->rt, src, &r) != 0)
		return nf->nat == NULL || ifidx == nf->outside;
	return r.ifidx == ifidx;
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
	if (f->len > NF_FRAME_MAX && f->gso.type == NF_GSO_NONE)
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
	if (!source_ok(nf, f->ifidx, h.src))
		return DROP_SPOOFED_SRC;
	if ((f->flags & NF_F_NEEDS_CSUM) || f->gso.type != NF_GSO_NONE) {
		uint32_t seg;

		if ((why = gso_check(f, &h, &seg)) != DROP_NONE)
			return why;
		if (f->gso.type == NF_GSO_NONE) {
			/* A small frame is finished here, so that NAT and the
			 * ARP queue see a frame like any other. */
			gso_csum_complete(f->data, ETH_HLEN + h.tot_len, &f->gso,
			    h.proto);
			f->flags &= (uint8_t)~NF_F_NEEDS_CSUM;
			nf->st.csum_completed++;
		} else {
			h.csum_partial = true;
			nf->st.gso_in++;
		}
	} else if ((f->flags & NF_F_CSUM_PARTIAL) && !ipv4_is_later_fragment(&h)) {
		/* The sender's offload left the transport checksum to us; NAT's
		 * incremental updates need a complete one. */
		why = pkt_l4_csum_complete(h.proto, f->data + ETH_HLEN + h.hlen,
		    h.tot_len - h.hlen);
		if (why != DROP_NONE)
			return why;
		nf->st.csum_completed++;
	}
	if (nf->nat != NULL)
		return nf_nat_dispatch(nf, f, &h, now, out);
	if (local_iface(nf, h.dst) >= 0)
		return nf_local(nf, f->data + ETH_HLEN, &h, now, out);
	if (martian(h.dst) || subnet_broadcast(nf, h.dst))
		return DROP_MARTIAN_DST;
	return nf_forward(nf, f, &h, now, out);
}

void
nf_input(struct nf *nf, struct nf_frame *rx, unsigned n, uint64_t now,
    struct nf_out *out)
{
	const uint32_t *bkt[NAT_AHEAD];
	uint64_t bytes = 0;

	/*
	 * With NAT, a software pipeline (VPP style): the session bucket of
	 * frame i + 2D is prefetched while frame i is processed, and the
	 * session itself at i + D, so each miss overlaps D frames of work.
	 */
	if (nf->nat != NULL)
		for (unsigned i = 0; i < n && i < 2 * NAT_DIST; i++) {
			const uint32_t *b = nat_prefetch_bucket(nf->nat, &rx[i], nf->outside);

			bkt[i % NAT_AHEAD] = b;
			if (i >= NAT_DIST)
				nat_prefetch_session(nf->nat, bkt[(i - NAT_DIST) % NAT_AHEAD]);
		}
	for (unsigned i = 0; i < n; i++) {
		enum drop why;

		if (nf->nat != NULL) {
			if (i + 2 * NAT_DIST < n) {
				unsigned k = i + 2 * NAT_DIST;

				bkt[k % NAT_AHEAD] = nat_prefetch_bucket(nf->nat, &rx[k],
				    nf->outside);
			}
			if (i + NAT_DIST < n)
				nat_prefetch_session(nf->nat, bkt[(i + NAT_DIST) % NAT_AHEAD]);
		}
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
	if (nf->nat != NULL && now >= nf->nat_sweep_at) {
		nat_tick(nf->nat, now, out);
		nf->nat_sweep_at = nat_sweep_next(now);
	}
}

uint64_t
nf_next_deadline(const struct nf *nf)
{
	uint64_t d = arp_next_deadline(nf->arp);

	if (nf->nat != NULL && nf->nat_sweep_at < d)
		d = nf->nat_sweep_at;
	return d;
}

int
nf_forward_add(struct nf *nf, uint8_t proto, uint16_t ext_port, uint32_t int_ip,
    uint16_t int_port, uint64_t now, struct nf_out *out)
{
	struct route r;

	if (nf->nat == NULL)
		return -ENOTSUP;
	/* The inside host must be a neighbour on an inside subnet. */
	if (route_lookup(nf->rt, int_ip, &r) != 0 || r.gw != 0 || r.ifidx == nf->outside ||
	    local_iface(nf, int_ip) >= 0 || subnet_broadcast(nf, int_ip))
		return -EINVAL;
	return nat_forward_add(nf->nat, proto, ext_port, int_ip, int_port, now, out);
}

struct nat *
nf_nat(struct nf *nf)
{
	return nf->nat;
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

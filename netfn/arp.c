/* SPDX-License-Identifier: ISC */
/*
 * ARP cache: the Linux neighbour state machine over a fixed-size table.
 *
 * Storage, all allocated by arp_new and never again:
 *  - nodes[max_entries], linked into a free list when unused;
 *  - an open-addressing hash (linear probing, power-of-two slots, at most
 *    half full) from (ifidx, ip) to node index + 1; removal shifts later
 *    entries back instead of leaving tombstones, so probes stay short;
 *  - a pool of unres_total frame buffers of frame_max bytes for packets
 *    waiting on resolution, chained per node through qnext[].
 *
 * Each node carries its own next timer (timer_us); arp_tick walks the nodes
 * only when the earliest timer is due. The table is small by design (Linux's
 * gc_thresh3 is 1024), so the walk is a few microseconds.
 *
 * Invariants: a node is in the hash iff in_use; a node has a valid MAC iff
 * its state is REACHABLE, STALE, DELAY, PROBE or PERMANENT; only INCOMPLETE
 * nodes hold queued frames.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "arp.h"
#include "rng.h"

#define NIL	UINT32_MAX
#define NEVER	UINT64_MAX
#define MS	1000ULL			/* microseconds per millisecond */

struct arp_node {
	uint32_t	ip;
	uint8_t		mac[ETH_ALEN];
	uint8_t		state;
	uint8_t		ifidx;
	uint8_t		probes;		/* requests sent in this round */
	bool		in_use;
	uint16_t	qcount;
	uint32_t	qhead, qtail;	/* queued frames, oldest first */
	uint32_t	next_free;
	uint32_t	reachable_ms;	/* randomised per confirmation */
	uint64_t	updated_us;	/* last confirmation */
	uint64_t	used_us;	/* last use for sending */
	uint64_t	entered_us;	/* entry into the current state */
	uint64_t	timer_us;	/* next timer; NEVER for none */
};

struct arp_cache {
	struct arp_params p;
	struct arp_iface *ifs;
	unsigned	nif;
	struct arp_node	*nodes;
	uint32_t	count, free_head;
	uint32_t	*slots;		/* node index + 1; 0 = empty */
	uint32_t	mask;
	uint8_t		*qbuf;		/* unres_total * frame_max bytes */
	uint16_t	*qlen;
	uint32_t	*qnext;
	uint32_t	qfree;
	struct rng	rng;		/* jitter: the keyed generator */
	uint64_t	deadline;	/* min timer_us over all nodes */
	struct arp_stats st;
};

static const char *const state_names[] = {
#define ARP_STATE_NAME(sym, name) name,
	ARP_STATES(ARP_STATE_NAME)
#undef ARP_STATE_NAME
};

const char *
arp_state_name(enum arp_state s)
{
	return (unsigned)s < ARP_STATE_MAX ? state_names[s] : "?";
}

void
arp_params_default(struct arp_params *p)
{
	*p = (struct arp_params){
		.base_reachable_ms = 30000,
		.delay_first_probe_ms = 5000,
		.retrans_ms = 1000,
		.gc_stale_ms = 60000,
		.max_entries = 1024,
		.ucast_probes = 3,
		.mcast_probes = 3,
		.unres_qlen = 8,
		.unres_total = 256,
		.frame_max = 2048,
	};
}

static bool
state_valid(uint8_t s)
{
	return s == ARP_REACHABLE || s == ARP_STALE || s == ARP_DELAY ||
	    s == ARP_PROBE || s == ARP_PERMANENT;
}

static uint32_t
hash_slot(const struct arp_cache *c, uint8_t ifidx, uint32_t ip)
{
	uint32_t h = (ip ^ (uint32_t)ifidx << 24) * 0x9e3779b1u;

	return (h ^ h >> 15) & c->mask;
}

static bool
ours(const struct arp_iface *ifc, uint32_t ip)
{
	if (ip == ifc->addr)
		return true;
	for (unsigned i = 0; i < ifc->n_alias && i < 16; i++)
		if (ifc->alias[i] == ip)
			return true;
	return false;
}

static bool
on_subnet(const struct arp_iface *ifc, uint32_t ip)
{
	uint32_t m = ifc->plen == 0 ? 0 : ~0u << (32 - ifc->plen);

	return (ip & m) == (ifc->addr & m);
}

struct arp_cache *
arp_new(const struct arp_params *p, const struct arp_iface *ifs, unsigned n,
    uint64_t seed)
{
	struct arp_cache *c;
	uint32_t nslots = 16;

	if (p == NULL || ifs == NULL || n == 0 || n > 255 || p->max_entries == 0 ||
	    p->max_entries > (1u << 24) || p->unres_total == 0 ||
	    p->frame_max < ETH_ZLEN || p->retrans_ms == 0)
		return NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->p = *p;
	c->nif = n;
	while (nslots < 2 * p->max_entries)
		nslots <<= 1;
	c->mask = nslots - 1;
	c->ifs = calloc(n, sizeof(*c->ifs));
	c->nodes = calloc(p->max_entries, sizeof(*c->nodes));
	c->slots = calloc(nslots, sizeof(*c->slots));
	c->qbuf = malloc((size_t)p->unres_total * p->frame_max);
	c->qlen = calloc(p->unres_total, sizeof(*c->qlen));
	c->qnext = calloc(p->unres_total, sizeof(*c->qnext));
	if (c->ifs == NULL || c->nodes == NULL || c->slots == NULL ||
	    c->qbuf == NULL || c->qlen == NULL || c->qnext == NULL) {
		arp_free(c);
		return NULL;
	}
	memcpy(c->ifs, ifs, n * sizeof(*ifs));
	for (uint32_t i = 0; i < p->max_entries; i++)
		c->nodes[i].next_free = i + 1 < p->max_entries ? i + 1 : NIL;
	for (uint32_t i = 0; i < p->unres_total; i++)
		c->qnext[i] = i + 1 < p->unres_total ? i + 1 : NIL;
	c->free_head = 0;
	c->qfree = 0;
	rng_init(&c->rng, seed ? seed : 0x6a09e667f3bcc909ULL, 0);
	c->deadline = NEVER;
	return c;
}

void
arp_free(struct arp_cache *c)
{
	if (c == NULL)
		return;
	free(c->ifs);
	free(c->nodes);
	free(c->slots);
	free(c->qbuf);
	free(c->qlen);
	free(c->qnext);
	free(c);
}

static struct arp_node *
node_find(const struct arp_cache *c, uint8_t ifidx, uint32_t ip)
{
	for (uint32_t s = hash_slot(c, ifidx, ip);; s = (s + 1) & c->mask) {
		uint32_t v = c->slots[s];

		if (v == 0)
			return NULL;
		struct arp_node *nd = &c->nodes[v - 1];
		if (nd->ip == ip && nd->ifidx == ifidx)
			return nd;
	}
}

static void
timer_set(struct arp_cache *c, struct arp_node *nd, uint64_t at)
{
	nd->timer_us = at;
	if (at < c->deadline)
		c->deadline = at;
}

static void
queue_flush(struct arp_cache *c, struct arp_node *nd)
{
	while (nd->qhead != NIL) {
		uint32_t q = nd->qhead;

		nd->qhead = c->qnext[q];
		c->qnext[q] = c->qfree;
		c->qfree = q;
	}
	nd->qtail = NIL;
	nd->qcount = 0;
}

/* Unlink a node from the hash (backward-shift deletion) and free it. */
static void
node_delete(struct arp_cache *c, struct arp_node *nd)
{
	uint32_t idx = (uint32_t)(nd - c->nodes) + 1;
	uint32_t s = hash_slot(c, nd->ifidx, nd->ip);

	while (c->slots[s] != idx)
		s = (s + 1) & c->mask;
	for (uint32_t j = (s + 1) & c->mask; c->slots[j] != 0; j = (j + 1) & c->mask) {
		struct arp_node *m = &c->nodes[c->slots[j] - 1];
		uint32_t home = hash_slot(c, m->ifidx, m->ip);

		/* Move m back into the hole unless its home lies in (s, j]. */
		if (((j - home) & c->mask) >= ((j - s) & c->mask)) {
			c->slots[s] = c->slots[j];
			s = j;
		}
	}
	c->slots[s] = 0;
	queue_flush(c, nd);
	nd->in_use = false;
	nd->next_free = c->free_head;
	c->free_head = idx - 1;
	c->count--;
}

static uint64_t
node_expires(const struct arp_cache *c, const struct arp_node *nd)
{
	uint64_t last = nd->used_us > nd->updated_us ? nd->used_us : nd->updated_us;

	switch (nd->state) {
	case ARP_PERMANENT:
		return 0;
	case ARP_REACHABLE:
		return nd->updated_us + (uint64_t)nd->reachable_ms * MS +
		    (uint64_t)c->p.gc_stale_ms * MS;
	case ARP_STALE:
		return last + (uint64_t)c->p.gc_stale_ms * MS;
	case ARP_DELAY:
		return nd->entered_us + ((uint64_t)c->p.delay_first_probe_ms +
		    (uint64_t)c->p.ucast_probes * c->p.retrans_ms) * MS;
	default:
		return nd->timer_us;
	}
}

static void
emit(struct arp_cache *c, const struct arp_node *nd, enum ev_op op,
    enum ev_cause cause, const uint8_t *old_mac, uint64_t now, struct nf_out *out)
{
	struct nf_event ev = {
		.table = EV_TABLE_ARP,
		.op = (uint8_t)op,
		.cause = (uint8_t)cause,
		.now_us = now,
	};

	ev.arp.ip = nd->ip;
	memcpy(ev.arp.mac, nd->mac, ETH_ALEN);
	if (old_mac != NULL)
		memcpy(ev.arp.old_mac, old_mac, ETH_ALEN);
	ev.arp.state = nd->state;
	ev.arp.ifidx = nd->ifidx;
	ev.arp.updated_us = nd->updated_us;
	ev.arp.expires_us = op == EV_REMOVE ? now : node_expires(c, nd);
	nf_out_event(out, &ev);
}

/* Evict the least recently touched STALE or FAILED node to make room. */
static bool
evict_one(struct arp_cache *c, uint64_t now, struct nf_out *out)
{
	struct arp_node *victim = NULL;
	uint64_t oldest = NEVER;

	for (uint32_t i = 0; i < c->p.max_entries; i++) {
		struct arp_node *nd = &c->nodes[i];
		uint64_t t = nd->used_us > nd->updated_us ? nd->used_us : nd->updated_us;

		if (nd->in_use && (nd->state == ARP_STALE || nd->state == ARP_FAILED) &&
		    t < oldest) {
			oldest = t;
			victim = nd;
		}
	}
	if (victim == NULL)
		return false;
	if (victim->state == ARP_STALE)
		emit(c, victim, EV_REMOVE, EV_CAUSE_TABLE_FULL, NULL, now, out);
	node_delete(c, victim);
	c->st.evicted++;
	return true;
}

static struct arp_node *
node_create(struct arp_cache *c, uint8_t ifidx, uint32_t ip, uint64_t now,
    struct nf_out *out)
{
	struct arp_node *nd;
	uint32_t s;

	if (c->free_head == NIL && !evict_one(c, now, out))
		return NULL;
	nd = &c->nodes[c->free_head];
	c->free_head = nd->next_free;
	*nd = (struct arp_node){
		.ip = ip,
		.ifidx = ifidx,
		.in_use = true,
		.qhead = NIL,
		.qtail = NIL,
		.next_free = NIL,
		.updated_us = now,
		.used_us = now,
		.entered_us = now,
		.timer_us = NEVER,
	};
	for (s = hash_slot(c, ifidx, ip); c->slots[s] != 0; s = (s + 1) & c->mask)
		;
	c->slots[s] = (uint32_t)(nd - c->nodes) + 1;
	c->count++;
	return nd;
}

static void
set_state(struct arp_node *nd, enum arp_state s, uint64_t now)
{
	nd->state = (uint8_t)s;
	nd->entered_us = now;
	nd->probes = 0;
}

static void
send_request(struct arp_cache *c, const struct arp_node *nd, bool unicast,
    struct nf_out *out)
{
	const struct arp_iface *ifc = &c->ifs[nd->ifidx];
	struct arp a = { .op = ARP_OP_REQUEST, .spa = ifc->addr, .tpa = nd->ip };
	uint8_t *buf;

	memcpy(a.sha, ifc->mac, ETH_ALEN);
	if ((buf = nf_out_alloc(out, ETH_ZLEN)) == NULL) {
		out->tx_lost++;
		return;
	}
	pkt_build_arp(buf, ETH_ZLEN, unicast ? nd->mac : eth_broadcast, ifc->mac, &a);
	if (nf_out_tx(out, nd->ifidx, buf, ETH_ZLEN) == 0)
		c->st.requests_sent++;
}

static void
send_reply(struct arp_cache *c, uint8_t ifidx, const struct arp *req,
    struct nf_out *out)
{
	const struct arp_iface *ifc = &c->ifs[ifidx];
	/* From the address asked for: ours, or one of our aliases. */
	struct arp a = { .op = ARP_OP_REPLY, .spa = req->tpa, .tpa = req->spa };
	uint8_t *buf;

	memcpy(a.sha, ifc->mac, ETH_ALEN);
	memcpy(a.tha, req->sha, ETH_ALEN);
	if ((buf = nf_out_alloc(out, ETH_ZLEN)) == NULL) {
		out->tx_lost++;
		return;
	}
	pkt_build_arp(buf, ETH_ZLEN, req->sha, ifc->mac, &a);
	if (nf_out_tx(out, ifidx, buf, ETH_ZLEN) == 0)
		c->st.replies_sent++;
}

/* The node learned its MAC: send what waited, in order. */
static void
queue_release(struct arp_cache *c, struct arp_node *nd, struct nf_out *out)
{
	for (uint32_t q = nd->qhead; q != NIL; q = c->qnext[q]) {
		uint16_t len = c->qlen[q];
		uint8_t *buf = nf_out_alloc(out, len);

		/* Copy out: the pool slot is reused as soon as we return. */
		if (buf == NULL) {
			c->st.queue_drops++;
			continue;
		}
		memcpy(buf, c->qbuf + (size_t)q * c->p.frame_max, len);
		memcpy(buf, nd->mac, ETH_ALEN);
		if (nf_out_tx(out, nd->ifidx, buf, len) != 0)
			c->st.queue_drops++;
		else
			c->st.released++;
	}
	queue_flush(c, nd);
}

static void
confirm(struct arp_cache *c, struct arp_node *nd, uint64_t now)
{
	set_state(nd, ARP_REACHABLE, now);
	nd->updated_us = now;
	nd->reachable_ms = (uint32_t)(c->p.base_reachable_ms / 2 +
	    rng_next(&c->rng) % (c->p.base_reachable_ms + 1u));
	timer_set(c, nd, now + (uint64_t)nd->reachable_ms * MS);
}

enum drop
arp_input(struct arp_cache *c, uint8_t ifidx, const uint8_t eth_src[ETH_ALEN],
    const struct arp *a, uint64_t now, struct nf_out *out)
{
	const struct arp_iface *ifc;
	struct arp_node *nd;
	bool for_us, reply = a->op == ARP_OP_REPLY;
	uint8_t old[ETH_ALEN];

	(void)eth_src;
	if (ifidx >= c->nif)
		return DROP_ARP_BAD;
	ifc = &c->ifs[ifidx];
	if (reply)
		c->st.replies_in++;
	else
		c->st.requests_in++;
	if (eth_is_multicast(a->sha) || memcmp(a->sha, eth_zero, ETH_ALEN) == 0)
		return DROP_ARP_BAD;
	for_us = !reply && ours(ifc, a->tpa);
	if (a->spa == 0) {
		/* RFC 5227 probe: defend our address, learn nothing. */
		if (for_us)
			send_reply(c, ifidx, a, out);
		return for_us ? DROP_NONE : DROP_ARP_NOT_OURS;
	}
	if (ours(ifc, a->spa))
		return DROP_ARP_BAD;		/* someone claims our address */
	if (!on_subnet(ifc, a->spa))
		return DROP_ARP_OFFNET;
	if (for_us)
		send_reply(c, ifidx, a, out);

	nd = node_find(c, ifidx, a->spa);
	if (nd == NULL || nd->state == ARP_FAILED) {
		/* Learn from a request addressed to us (Linux does: it saves a
		 * round trip); replies we did not ask for never create entries. */
		if (!for_us)
			return reply ? DROP_ARP_UNSOLICITED : DROP_ARP_NOT_OURS;
		if (nd == NULL && (nd = node_create(c, ifidx, a->spa, now, out)) == NULL)
			return DROP_NONE;
		memcpy(nd->mac, a->sha, ETH_ALEN);
		set_state(nd, ARP_STALE, now);
		nd->updated_us = now;
		timer_set(c, nd, now + (uint64_t)c->p.gc_stale_ms * MS);
		emit(c, nd, EV_ADD, EV_CAUSE_ARP_REQUEST, NULL, now, out);
		return DROP_NONE;
	}

	bool same = memcmp(nd->mac, a->sha, ETH_ALEN) == 0;
	enum ev_cause cause = reply ? EV_CAUSE_ARP_REPLY : EV_CAUSE_ARP_REQUEST;

	switch (nd->state) {
	case ARP_INCOMPLETE:
		/* We asked: any word from the address answers us. */
		memcpy(nd->mac, a->sha, ETH_ALEN);
		if (reply) {
			confirm(c, nd, now);
		} else {
			set_state(nd, ARP_STALE, now);
			nd->updated_us = now;
			timer_set(c, nd, now + (uint64_t)c->p.gc_stale_ms * MS);
		}
		c->st.resolved++;
		emit(c, nd, EV_ADD, cause, NULL, now, out);
		queue_release(c, nd, out);
		return DROP_NONE;
	case ARP_PERMANENT:
		if (!same)
			c->st.lladdr_refused++;
		return reply && !same ? DROP_ARP_UNSOLICITED : DROP_NONE;
	case ARP_PROBE:
		/* We are asking by unicast: a reply may bring a new MAC. */
		if (!same && reply) {
			memcpy(old, nd->mac, ETH_ALEN);
			memcpy(nd->mac, a->sha, ETH_ALEN);
			confirm(c, nd, now);
			c->st.lladdr_changes++;
			emit(c, nd, EV_LLADDR, cause, old, now, out);
			return DROP_NONE;
		}
		break;
	default:
		break;
	}
	if (!same) {
		/* Not asking, so not listening: record the refusal only. */
		c->st.lladdr_refused++;
		return reply ? DROP_ARP_UNSOLICITED : DROP_NONE;
	}
	if (reply) {
		uint8_t was = nd->state;

		confirm(c, nd, now);
		if (was != ARP_REACHABLE)
			emit(c, nd, EV_UPDATE, cause, NULL, now, out);
	}
	return for_us || reply ? DROP_NONE : DROP_ARP_NOT_OURS;
}

static enum drop
enqueue(struct arp_cache *c, struct arp_node *nd, const uint8_t *frame, size_t len)
{
	uint32_t q;

	if (nd->qcount >= c->p.unres_qlen || c->qfree == NIL) {
		c->st.queue_drops++;
		return DROP_ARP_QUEUE_FULL;
	}
	q = c->qfree;
	c->qfree = c->qnext[q];
	c->qnext[q] = NIL;
	memcpy(c->qbuf + (size_t)q * c->p.frame_max, frame, len);
	c->qlen[q] = (uint16_t)len;
	if (nd->qtail == NIL)
		nd->qhead = q;
	else
		c->qnext[nd->qtail] = q;
	nd->qtail = q;
	nd->qcount++;
	return DROP_MAX;
}

static void
start_resolution(struct arp_cache *c, struct arp_node *nd, uint64_t now,
    struct nf_out *out)
{
	set_state(nd, ARP_INCOMPLETE, now);
	send_request(c, nd, false, out);
	nd->probes = 1;
	timer_set(c, nd, now + (uint64_t)c->p.retrans_ms * MS);
}

enum drop
arp_resolve(struct arp_cache *c, uint8_t ifidx, uint32_t ip, uint8_t mac[ETH_ALEN],
    const uint8_t *frame, size_t len, uint64_t now, struct nf_out *out)
{
	struct arp_node *nd;

	if (ifidx >= c->nif)
		return DROP_NO_ROUTE;
	nd = node_find(c, ifidx, ip);
	if (nd == NULL) {
		if (len > c->p.frame_max)
			return DROP_OVERSIZE;
		if ((nd = node_create(c, ifidx, ip, now, out)) == NULL) {
			c->st.queue_drops++;
			return DROP_ARP_QUEUE_FULL;
		}
		start_resolution(c, nd, now, out);
		return enqueue(c, nd, frame, len);
	}
	switch (nd->state) {
	case ARP_STALE:
		/* RFC 4861 7.3.3's DELAY, as Linux does for ARP too. */
		set_state(nd, ARP_DELAY, now);
		timer_set(c, nd, now + (uint64_t)c->p.delay_first_probe_ms * MS);
		nd->used_us = now;
		emit(c, nd, EV_UPDATE, EV_CAUSE_TRAFFIC, NULL, now, out);
		break;
	case ARP_REACHABLE:
	case ARP_DELAY:
	case ARP_PROBE:
	case ARP_PERMANENT:
		nd->used_us = now;
		break;
	case ARP_FAILED:
		if (len > c->p.frame_max)
			return DROP_OVERSIZE;
		start_resolution(c, nd, now, out);
		return enqueue(c, nd, frame, len);
	default:	/* INCOMPLETE */
		if (len > c->p.frame_max)
			return DROP_OVERSIZE;
		return enqueue(c, nd, frame, len);
	}
	memcpy(mac, nd->mac, ETH_ALEN);
	return DROP_NONE;
}

/*
 * Hand each frame queued on a node that failed to the fail callback. The
 * queue is detached first and its slots freed only afterwards: the callback
 * routes an ICMP error, which may resolve another address, create a node,
 * and evict this one (it is FAILED) to make room.
 */
static void
fail_queue(struct arp_cache *c, struct arp_node *nd, uint64_t now,
    struct nf_out *out, arp_fail_fn fail, void *ctx)
{
	uint32_t head = nd->qhead, ifidx = nd->ifidx;

	nd->qhead = nd->qtail = NIL;
	nd->qcount = 0;
	for (uint32_t q = head; q != NIL; q = c->qnext[q])
		if (fail != NULL)
			fail(ctx, (uint8_t)ifidx, c->qbuf + (size_t)q * c->p.frame_max,
			    c->qlen[q], now, out);
	while (head != NIL) {
		uint32_t q = head;

		head = c->qnext[q];
		c->qnext[q] = c->qfree;
		c->qfree = q;
	}
}

/* Advance one node whose timer is due. */
static void
node_timer(struct arp_cache *c, struct arp_node *nd, uint64_t now,
    struct nf_out *out, arp_fail_fn fail, void *ctx)
{
	uint64_t retrans = (uint64_t)c->p.retrans_ms * MS;

	nd->timer_us = NEVER;
	switch (nd->state) {
	case ARP_REACHABLE:
		set_state(nd, ARP_STALE, now);
		timer_set(c, nd, now + (uint64_t)c->p.gc_stale_ms * MS);
		emit(c, nd, EV_UPDATE, EV_CAUSE_REACHABLE_TIMEOUT, NULL, now, out);
		break;
	case ARP_STALE:
		emit(c, nd, EV_REMOVE, EV_CAUSE_GC, NULL, now, out);
		node_delete(c, nd);
		break;
	case ARP_DELAY:
		set_state(nd, ARP_PROBE, now);
		send_request(c, nd, true, out);
		nd->probes = 1;
		timer_set(c, nd, now + retrans);
		emit(c, nd, EV_UPDATE, EV_CAUSE_DELAY_TIMEOUT, NULL, now, out);
		break;
	case ARP_PROBE:
		if (nd->probes < c->p.ucast_probes) {
			send_request(c, nd, true, out);
			nd->probes++;
			timer_set(c, nd, now + retrans);
			break;
		}
		set_state(nd, ARP_FAILED, now);
		c->st.failed++;
		emit(c, nd, EV_REMOVE, EV_CAUSE_PROBE_FAILED, NULL, now, out);
		timer_set(c, nd, now + retrans);
		break;
	case ARP_INCOMPLETE:
		if (nd->probes < c->p.mcast_probes) {
			send_request(c, nd, false, out);
			nd->probes++;
			timer_set(c, nd, now + retrans);
			break;
		}
		set_state(nd, ARP_FAILED, now);
		c->st.failed++;
		/* Linger a little so `arp` shows FAILED, then vanish. */
		timer_set(c, nd, now + retrans);
		fail_queue(c, nd, now, out, fail, ctx);
		/* nd may be reused by now: the callback can resolve and evict. */
		break;
	case ARP_FAILED:
		node_delete(c, nd);
		break;
	default:
		break;
	}
}

void
arp_tick(struct arp_cache *c, uint64_t now, struct nf_out *out, arp_fail_fn fail,
    void *ctx)
{
	uint64_t next = NEVER;

	if (now < c->deadline)
		return;
	c->deadline = NEVER;		/* timer_set lowers it again as we go */
	for (uint32_t i = 0; i < c->p.max_entries; i++) {
		struct arp_node *nd = &c->nodes[i];

		if (!nd->in_use)
			continue;
		if (nd->timer_us <= now)
			node_timer(c, nd, now, out, fail, ctx);
		if (nd->in_use && nd->timer_us < next)
			next = nd->timer_us;
	}
	if (next < c->deadline)
		c->deadline = next;
}

uint64_t
arp_next_deadline(const struct arp_cache *c)
{
	return c->deadline;
}

void
arp_announce(struct arp_cache *c, uint8_t ifidx, struct nf_out *out)
{
	if (ifidx < c->nif)
		arp_announce_ip(c, ifidx, c->ifs[ifidx].addr, out);
}

void
arp_announce_ip(struct arp_cache *c, uint8_t ifidx, uint32_t ip, struct nf_out *out)
{
	const struct arp_iface *ifc;
	struct arp a = { .op = ARP_OP_REQUEST };
	uint8_t *buf;

	if (ifidx >= c->nif)
		return;
	ifc = &c->ifs[ifidx];
	/* Gratuitous ARP as Linux sends it: a request for our own address. */
	memcpy(a.sha, ifc->mac, ETH_ALEN);
	a.spa = a.tpa = ip;
	if ((buf = nf_out_alloc(out, ETH_ZLEN)) == NULL) {
		out->tx_lost++;
		return;
	}
	pkt_build_arp(buf, ETH_ZLEN, eth_broadcast, ifc->mac, &a);
	if (nf_out_tx(out, ifidx, buf, ETH_ZLEN) == 0)
		c->st.announces_sent++;
}

int
arp_add_static(struct arp_cache *c, uint8_t ifidx, uint32_t ip,
    const uint8_t mac[ETH_ALEN], uint64_t now, struct nf_out *out)
{
	struct arp_node *nd;

	if (ifidx >= c->nif || !on_subnet(&c->ifs[ifidx], ip) ||
	    eth_is_multicast(mac))
		return -EINVAL;
	enum ev_op op = EV_ADD;
	uint8_t old[ETH_ALEN];

	if ((nd = node_find(c, ifidx, ip)) == NULL &&
	    (nd = node_create(c, ifidx, ip, now, out)) == NULL)
		return -ENOSPC;
	if (state_valid(nd->state))
		op = memcmp(nd->mac, mac, ETH_ALEN) == 0 ? EV_UPDATE : EV_LLADDR;
	memcpy(old, nd->mac, ETH_ALEN);
	memcpy(nd->mac, mac, ETH_ALEN);
	set_state(nd, ARP_PERMANENT, now);
	nd->updated_us = now;
	nd->timer_us = NEVER;
	emit(c, nd, op, EV_CAUSE_STATIC, op == EV_LLADDR ? old : NULL, now, out);
	queue_release(c, nd, out);	/* frames that waited on an INCOMPLETE entry */
	return 0;
}

int
arp_restore(struct arp_cache *c, const struct arp_entry *e)
{
	struct arp_node *nd;
	uint64_t last;

	if (e->ifidx >= c->nif || !state_valid(e->state) ||
	    !on_subnet(&c->ifs[e->ifidx], e->ip) || eth_is_multicast(e->mac))
		return -EINVAL;
	if ((nd = node_find(c, e->ifidx, e->ip)) == NULL) {
		if (c->free_head == NIL)
			return -ENOSPC;
		nd = node_create(c, e->ifidx, e->ip, e->updated_us, NULL);
	}
	queue_flush(c, nd);
	memcpy(nd->mac, e->mac, ETH_ALEN);
	nd->updated_us = e->updated_us;
	nd->used_us = e->used_us;
	if (e->state == ARP_PERMANENT) {
		set_state(nd, ARP_PERMANENT, e->updated_us);
		nd->timer_us = NEVER;
		return 0;
	}
	/* Unconfirmed since before the restart: usable, but to be checked. */
	set_state(nd, ARP_STALE, e->updated_us);
	last = e->used_us > e->updated_us ? e->used_us : e->updated_us;
	timer_set(c, nd, last + (uint64_t)c->p.gc_stale_ms * MS);
	return 0;
}

int
arp_forget(struct arp_cache *c, uint8_t ifidx, uint32_t ip)
{
	struct arp_node *nd;

	if (ifidx >= c->nif || (nd = node_find(c, ifidx, ip)) == NULL)
		return -ENOENT;
	if (nd->state == ARP_PERMANENT)
		return -EPERM;
	queue_flush(c, nd);
	node_delete(c, nd);
	return 0;
}

static void
entry_copy(const struct arp_cache *c, const struct arp_node *nd, struct arp_entry *e)
{
	e->ip = nd->ip;
	memcpy(e->mac, nd->mac, ETH_ALEN);
	e->state = nd->state;
	e->ifidx = nd->ifidx;
	e->updated_us = nd->updated_us;
	e->used_us = nd->used_us;
	e->expires_us = node_expires(c, nd);
	e->queued = nd->qcount;
}

size_t
arp_dump(const struct arp_cache *c, struct arp_entry *out, size_t max)
{
	size_t n = 0;

	for (uint32_t i = 0; i < c->p.max_entries && n < max; i++)
		if (c->nodes[i].in_use)
			entry_copy(c, &c->nodes[i], &out[n++]);
	return n;
}

int
arp_get(const struct arp_cache *c, uint8_t ifidx, uint32_t ip, struct arp_entry *out)
{
	const struct arp_node *nd = node_find(c, ifidx, ip);

	if (nd == NULL)
		return -1;
	entry_copy(c, nd, out);
	return 0;
}

size_t
arp_count(const struct arp_cache *c)
{
	return c->count;
}

const struct arp_stats *
arp_stats(const struct arp_cache *c)
{
	return &c->st;
}

/* SPDX-License-Identifier: ISC */
/*
 * IPv4 routing table: a sorted route list and a DIR-16-8-8 lookup trie.
 *
 * The source of truth is rt->routes, kept sorted by (prefix, plen) with no
 * two routes sharing both. Every route_add that inserts and every
 * route_remove rebuilds the lookup structure from that list; replacing an
 * existing prefix only rewrites its gw and ifidx in place, because the trie
 * stores indexes into the list and those do not move.
 *
 * The trie is a multibit trie with prefix expansion (Gupta, Lin and McKeown,
 * "Routing lookups in hardware at memory access speeds", 1998):
 *
 *	l1[65536]	indexed by dst bits 31..16
 *	chunk[256]	indexed by dst bits 15..8 (second level)
 *	chunk[256]	indexed by dst bits 7..0 (third level)
 *
 * Each 32-bit entry is 0 (no route), RT_EXT | c (descend into chunk c of
 * rt->pool) or i + 1 (the answer is rt->routes[i]). Second- and third-level
 * chunks share one pool. Invariants after every rebuild: an entry holds the
 * longest route that covers its whole address range; an entry is RT_EXT
 * exactly when some route longer than the entry's level (/16 or /24) lies
 * inside its range, so a lookup reads at most three entries and then the
 * route. The pool holds exactly the chunks in use, in build order.
 *
 * The rebuild walks the sorted list once per level with a stack of the
 * enclosing routes, so it writes each entry once: O(65536 + routes + chunks
 * x 256). Fine for a table changed rarely; a table of a million routes
 * changed often would want an incremental update of the affected range.
 *
 * Memory: l1 is 256 KiB inside struct rtable; each chunk is 1 KiB; each
 * route 12 bytes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "route.h"

#define RT_L1_SLOTS	65536u
#define RT_CHUNK_SLOTS	256u
#define RT_EXT		0x80000000u
#define RT_IDX_MAX	0x7ffffffeu	/* largest route or chunk index */

struct rtable {
	struct route	*routes;	/* sorted by (prefix, plen) */
	size_t		 nroutes;
	size_t		 cap;		/* allocated slots in routes */
	uint32_t	*pool;		/* npool chunks of RT_CHUNK_SLOTS */
	size_t		 npool;
	size_t		 poolcap;	/* allocated chunks in pool */
	uint32_t	 l1[RT_L1_SLOTS];
};

static uint32_t
rt_mask(unsigned plen)
{
	return plen == 0 ? 0 : ~(uint32_t)0 << (32 - plen);
}

/* -1, 0, 1 as a sorts before, with or after (prefix, plen). */
static int
rt_cmp(const struct route *a, uint32_t prefix, uint8_t plen)
{
	if (a->prefix != prefix)
		return a->prefix < prefix ? -1 : 1;
	if (a->plen != plen)
		return a->plen < plen ? -1 : 1;
	return 0;
}

/* The first index whose route does not sort before (prefix, plen). */
static size_t
rt_search(const struct rtable *rt, uint32_t prefix, uint8_t plen)
{
	size_t lo = 0, hi = rt->nroutes;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (rt_cmp(&rt->routes[mid], prefix, plen) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Chunks the current list needs: one per /16 holding a route longer than
 * /16, one per /24 holding a route longer than /24. The list is sorted by
 * prefix, so each level's blocks appear in order and a change of block is a
 * new chunk.
 */
static size_t
rt_chunks_needed(const struct rtable *rt)
{
	size_t n = 0;
	uint32_t last16 = 0, last24 = 0;
	int have16 = 0, have24 = 0;

	for (size_t i = 0; i < rt->nroutes; i++) {
		const struct route *r = &rt->routes[i];

		if (r->plen > 16 && (!have16 || r->prefix >> 16 != last16)) {
			n++;
			last16 = r->prefix >> 16;
			have16 = 1;
		}
		if (r->plen > 24 && (!have24 || r->prefix >> 8 != last24)) {
			n++;
			last24 = r->prefix >> 8;
			have24 = 1;
		}
	}
	return n;
}

/*
 * Fill tbl[0..nslots), one level of the block that holds routes[lo..hi)
 * (sorted, all inside the block). A slot covers 2^shift addresses; routes of
 * plen <= pmax cover whole slots and are expanded into them, longer ones go
 * to a chunk of the next level. dflt is the entry for addresses no route in
 * the block covers (the enclosing route from the level above, or 0).
 *
 * The stack holds the routes enclosing the current slot, innermost on top;
 * routes nest or are disjoint, and the sort puts a route before every route
 * inside it, so a route's range ends before or with the one below it.
 */
static void
rt_build(struct rtable *rt, uint32_t *tbl, uint32_t nslots, unsigned shift,
    unsigned pmax, size_t lo, size_t hi, uint32_t dflt)
{
	uint32_t stk_val[33], stk_end[33];
	unsigned sp = 0;
	uint32_t cur = 0;		/* slots below cur are written */
	size_t i = lo;

	for (;;) {
		uint32_t s = nslots;	/* next slot a route starts in */

		if (i < hi)
			s = (rt->routes[i].prefix >> shift) & (nslots - 1);

		/* Paint [cur, s) with whichever enclosing route is on top. */
		while (cur < s) {
			while (sp > 0 && stk_end[sp - 1] <= cur)
				sp--;
			uint32_t v = sp > 0 ? stk_val[sp - 1] : dflt;
			uint32_t e = sp > 0 && stk_end[sp - 1] < s ?
			    stk_end[sp - 1] : s;

			for (; cur < e; cur++)
				tbl[cur] = v;
		}
		if (i >= hi)
			break;
		while (sp > 0 && stk_end[sp - 1] <= s)
			sp--;

		const struct route *r = &rt->routes[i];

		if (r->plen <= pmax) {
			/* 33 levels at most: nested routes differ in plen. */
			stk_val[sp] = (uint32_t)i + 1;
			stk_end[sp] = s + (1u << (pmax - r->plen));
			sp++;
			i++;
			continue;
		}

		/*
		 * Routes of plen <= pmax starting in slot s sort first (same
		 * prefix, shorter plen), so the rest of the run is longer.
		 */
		size_t j = i;

		while (j < hi &&
		    ((rt->routes[j].prefix >> shift) & (nslots - 1)) == s)
			j++;

		size_t c = rt->npool++;

		tbl[s] = RT_EXT | (uint32_t)c;
		rt_build(rt, rt->pool + c * RT_CHUNK_SLOTS, RT_CHUNK_SLOTS,
		    shift - 8, pmax + 8, i, j,
		    sp > 0 ? stk_val[sp - 1] : dflt);
		cur = s + 1;
		i = j;
	}
}

/*
 * Rebuild the trie from rt->routes. The pool grows before anything is
 * written, so on -ENOMEM the old trie still answers for the old list: the
 * caller undoes its change to the list and the table is as it was.
 */
static int
rt_rebuild(struct rtable *rt)
{
	size_t need = rt_chunks_needed(rt);

	if (need > RT_IDX_MAX)
		return -ENOMEM;
	if (need > rt->poolcap || (need < rt->poolcap / 4 && rt->poolcap > 16)) {
		size_t ncap = need < 16 ? 16 : need + need / 2;
		uint32_t *p;

		if (ncap > SIZE_MAX / (RT_CHUNK_SLOTS * sizeof(*p)))
			return -ENOMEM;
		p = realloc(rt->pool, ncap * RT_CHUNK_SLOTS * sizeof(*p));
		if (p != NULL) {
			rt->pool = p;
			rt->poolcap = ncap;
		} else if (need > rt->poolcap)
			return -ENOMEM;
		/* A failed shrink keeps the larger pool; nothing lost. */
	}
	rt->npool = 0;
	rt_build(rt, rt->l1, RT_L1_SLOTS, 16, 16, 0, rt->nroutes, 0);
	return 0;
}

struct rtable *
route_new(void)
{
	/* calloc: an all-zero l1 is the empty table. */
	return calloc(1, sizeof(struct rtable));
}

void
route_free(struct rtable *rt)
{
	if (rt == NULL)
		return;
	free(rt->routes);
	free(rt->pool);
	free(rt);
}

int
route_add(struct rtable *rt, const struct route *r)
{
	size_t at;
	int error;

	if (r->plen > 32 || (r->prefix & ~rt_mask(r->plen)) != 0)
		return -EINVAL;

	at = rt_search(rt, r->prefix, r->plen);
	if (at < rt->nroutes && rt_cmp(&rt->routes[at], r->prefix, r->plen) == 0) {
		/* Same list index, so the trie needs no change. */
		rt->routes[at].gw = r->gw;
		rt->routes[at].ifidx = r->ifidx;
		return 0;
	}

	if (rt->nroutes >= RT_IDX_MAX)
		return -ENOMEM;
	if (rt->nroutes == rt->cap) {
		size_t ncap = rt->cap < 16 ? 16 : rt->cap * 2;
		struct route *p;

		if (ncap > SIZE_MAX / sizeof(*p))
			return -ENOMEM;
		if ((p = realloc(rt->routes, ncap * sizeof(*p))) == NULL)
			return -ENOMEM;
		rt->routes = p;
		rt->cap = ncap;
	}
	memmove(&rt->routes[at + 1], &rt->routes[at],
	    (rt->nroutes - at) * sizeof(*rt->routes));
	rt->routes[at] = (struct route){
		.prefix = r->prefix,
		.plen = r->plen,
		.ifidx = r->ifidx,
		.gw = r->gw,
	};
	rt->nroutes++;

	if ((error = rt_rebuild(rt)) < 0) {
		rt->nroutes--;
		memmove(&rt->routes[at], &rt->routes[at + 1],
		    (rt->nroutes - at) * sizeof(*rt->routes));
		return error;
	}
	return 0;
}

int
route_remove(struct rtable *rt, uint32_t prefix, uint8_t plen)
{
	size_t at;

	if (plen > 32)
		return -ENOENT;
	at = rt_search(rt, prefix, plen);
	if (at >= rt->nroutes || rt_cmp(&rt->routes[at], prefix, plen) != 0)
		return -ENOENT;

	rt->nroutes--;
	memmove(&rt->routes[at], &rt->routes[at + 1],
	    (rt->nroutes - at) * sizeof(*rt->routes));
	/*
	 * Fewer routes never need more chunks, so the rebuild cannot fail
	 * (a failed shrink of the pool is ignored).
	 */
	(void)rt_rebuild(rt);
	return 0;
}

int
route_lookup(const struct rtable *rt, uint32_t dst, struct route *out)
{
	uint32_t e = rt->l1[dst >> 16];

	if (e & RT_EXT) {
		e = rt->pool[(size_t)(e & ~RT_EXT) * RT_CHUNK_SLOTS +
		    (dst >> 8 & 0xff)];
		if (e & RT_EXT)
			e = rt->pool[(size_t)(e & ~RT_EXT) * RT_CHUNK_SLOTS +
			    (dst & 0xff)];
	}
	if (e == 0)
		return -1;
	*out = rt->routes[e - 1];
	return 0;
}

size_t
route_count(const struct rtable *rt)
{
	return rt->nroutes;
}

size_t
route_list(const struct rtable *rt, struct route *out, size_t max)
{
	size_t n = rt->nroutes < max ? rt->nroutes : max;

	if (n > 0)
		memcpy(out, rt->routes, n * sizeof(*out));
	return n;
}

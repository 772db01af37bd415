/* SPDX-License-Identifier: ISC */
/*
 * Token buckets for history events of unsolicited inbound traffic
 * (contract in hlimit.h).
 *
 * A bucket holds tokens in millionths of an event, so that a refill of
 * rate events per second is rate tokens per microsecond, exactly, with no
 * division on the data path. A bucket starts full. The per-remote table is
 * HLIMIT_SLOTS buckets indexed by a seeded multiplicative hash of the
 * address; a slot does not remember whose it is.
 */
#include <stdlib.h>

#include "netfn/nat.h"
#include "src/hlimit.h"

#define UNIT	1000000ULL	/* tokens per event */

struct bucket {
	uint64_t	tokens;		/* millionths of an event */
	uint64_t	last_us;	/* last refill */
};

struct hlimit {
	struct hlimit_params p;
	uint64_t	seed;
	struct bucket	total;
	struct bucket	slot[HLIMIT_SLOTS];
};

void
hlimit_params_default(struct hlimit_params *p)
{
	*p = (struct hlimit_params){
		.rate = HLIMIT_RATE, .burst = HLIMIT_BURST,
		.total_rate = HLIMIT_TOTAL_RATE, .total_burst = HLIMIT_TOTAL_BURST,
	};
}

struct hlimit *
hlimit_new(const struct hlimit_params *p, uint64_t seed)
{
	struct hlimit *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return NULL;
	l->p = *p;
	/* A burst below one event would never let one through. */
	if (l->p.burst == 0)
		l->p.burst = 1;
	if (l->p.total_burst == 0)
		l->p.total_burst = 1;
	l->seed = seed | 1;
	l->total.tokens = (uint64_t)l->p.total_burst * UNIT;
	for (unsigned i = 0; i < HLIMIT_SLOTS; i++)
		l->slot[i].tokens = (uint64_t)l->p.burst * UNIT;
	return l;
}

void
hlimit_free(struct hlimit *l)
{
	free(l);
}

bool
hlimit_unsolicited(const struct nf_event *ev)
{
	return ev->table == EV_TABLE_NAT && (ev->nat.flags & NAT_SF_HALF) != 0;
}

/* Refill b to now; whether it then holds a whole event. */
static bool
refill(struct bucket *b, uint32_t rate, uint32_t burst, uint64_t now)
{
	uint64_t cap = (uint64_t)burst * UNIT;

	if (now > b->last_us) {
		uint64_t dt = now - b->last_us;

		/* dt * rate overflows only after ~10^5 s at 2^32/s: cap first. */
		if (dt >= cap / (rate ? rate : 1) + 1)
			b->tokens = cap;
		else if ((b->tokens += dt * rate) > cap)
			b->tokens = cap;
		b->last_us = now;
	}
	return b->tokens >= UNIT;
}

bool
hlimit_take(struct hlimit *l, uint32_t remote, uint64_t now)
{
	uint64_t h = ((uint64_t)remote ^ l->seed) * 0x9e3779b97f4a7c15ULL;
	struct bucket *s = &l->slot[(h >> 32) & (HLIMIT_SLOTS - 1)];
	bool ok_s = l->p.rate == 0 || refill(s, l->p.rate, l->p.burst, now);
	bool ok_t = l->p.total_rate == 0 ||
	    refill(&l->total, l->p.total_rate, l->p.total_burst, now);

	if (!ok_s || !ok_t)
		return false;
	if (l->p.rate != 0)
		s->tokens -= UNIT;
	if (l->p.total_rate != 0)
		l->total.tokens -= UNIT;
	return true;
}

/* SPDX-License-Identifier: ISC */
/*
 * The output of a netfn call: frames to send and table events.
 *
 * The caller owns every array and sizes it once; netfn never allocates on the
 * packet path. A frame to send either points into a received frame that netfn
 * rewrote in place (valid until the caller releases its receive buffers) or
 * into the arena (valid until the caller resets the output). So the caller
 * transmits everything in the output, then releases the receive batch, then
 * calls nf_out_reset. What does not fit is counted, never written past.
 */
#ifndef NETFN_OUT_H
#define NETFN_OUT_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"

/* Per-frame flags set by an I/O backend on receive. */
#define NF_F_CSUM_PARTIAL	0x01	/* L4 checksum left for us to complete */

struct nf_frame {
	uint8_t		*data;
	uint16_t	len;
	uint8_t		ifidx;
	uint8_t		flags;
};

struct nf_out {
	struct nf_frame	*tx;
	unsigned	ntx, tx_cap;
	uint8_t		*arena;
	size_t		arena_len, arena_cap;
	struct nf_event	*ev;
	unsigned	nev, ev_cap;
	uint64_t	tx_lost;	/* frames that did not fit */
	uint64_t	ev_lost;	/* events that did not fit */
};

static inline void
nf_out_reset(struct nf_out *o)
{
	o->ntx = 0;
	o->arena_len = 0;
	o->nev = 0;
}

/* len bytes of arena, 8-byte aligned, or NULL when it is full. */
static inline uint8_t *
nf_out_alloc(struct nf_out *o, size_t len)
{
	size_t at = (o->arena_len + 7) & ~(size_t)7;

	if (at > o->arena_cap || len > o->arena_cap - at)
		return NULL;
	o->arena_len = at + len;
	return o->arena + at;
}

/* Queue a frame to send on ifidx: 0, or -1 (counted) when tx is full. */
static inline int
nf_out_tx(struct nf_out *o, uint8_t ifidx, uint8_t *data, uint16_t len)
{
	if (o->ntx == o->tx_cap) {
		o->tx_lost++;
		return -1;
	}
	o->tx[o->ntx++] = (struct nf_frame){ data, len, ifidx, 0 };
	return 0;
}

/* Append an event: 0, or -1 (counted) when the event array is full. */
static inline int
nf_out_event(struct nf_out *o, const struct nf_event *ev)
{
	if (o->nev == o->ev_cap) {
		o->ev_lost++;
		return -1;
	}
	o->ev[o->nev++] = *ev;
	return 0;
}

#endif

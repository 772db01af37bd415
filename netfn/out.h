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

/*
 * Per-frame flags set by an I/O backend on receive.
 *
 * NF_F_CSUM_PARTIAL: the L4 checksum was left for us, where it is no telling
 * (TP_STATUS_CSUMNOTREADY): the pipeline completes it.
 *
 * NF_F_NEEDS_CSUM: the frame carries its offload state in gso (a
 * virtio-net header): the L4 checksum field at gso.csum_start +
 * gso.csum_offset holds the folded pseudo-header sum, not the checksum
 * (Linux CHECKSUM_PARTIAL). Small frames are completed by the pipeline
 * before NAT; a GSO super-frame (gso.type != NF_GSO_NONE) stays partial
 * through it, NAT adjusting the pseudo-header sum, and whoever transmits it
 * segments it and finishes each segment's checksum: the kernel, handed the
 * same header, or gso_segment (netfn/gso.h) in software.
 */
#define NF_F_CSUM_PARTIAL	0x01
#define NF_F_NEEDS_CSUM		0x02

/* The virtio-net header's GSO types (include/uapi/linux/virtio_net.h). */
#define NF_GSO_NONE	0
#define NF_GSO_TCPV4	1
#define NF_GSO_UDP_L4	5	/* UDP_SEGMENT: payload split, no IP fragments */
#define NF_GSO_ECN	0x80	/* flag: the TCP super-frame carries CWR */

/*
 * Segmentation and checksum offload state travelling with a frame: data,
 * not a syscall. Offsets count from the Ethernet header. Zero: none.
 */
struct nf_gso {
	uint8_t		type;		/* NF_GSO_*, ECN flag included */
	uint16_t	size;		/* payload bytes per segment (MSS) */
	uint16_t	hdr_len;	/* header bytes in each segment, as sent */
	uint16_t	csum_start;	/* NF_F_NEEDS_CSUM: where L4 starts */
	uint16_t	csum_offset;	/* ... and its checksum field, from there */
};

struct nf_frame {
	uint8_t		*data;
	uint32_t	len;		/* a GSO super-frame may pass 64 KB */
	uint8_t		ifidx;
	uint8_t		flags;
	struct nf_gso	gso;
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
nf_out_tx(struct nf_out *o, uint8_t ifidx, uint8_t *data, uint32_t len)
{
	if (o->ntx == o->tx_cap) {
		o->tx_lost++;
		return -1;
	}
	o->tx[o->ntx++] = (struct nf_frame){ data, len, ifidx, 0, { 0 } };
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

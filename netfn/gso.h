/* SPDX-License-Identifier: ISC */
/*
 * GSO super-frames and partial checksums: checking the offload state a frame
 * came with, and doing in software what the kernel or a NIC would do with it
 * when the egress cannot (no virtio-net header there).
 *
 * A GSO super-frame is one Ethernet frame holding the headers once and up to
 * 64 KB of payload, to be cut into segments of gso.size payload bytes each
 * (struct nf_gso in out.h). Segmentation follows the kernel's rules
 * (tcp_gso_segment, __udp_gso_segment, inet_gso_segment in net/ipv4), so a
 * host behind the router sees the same bytes as it would from the kernel:
 *
 *	IPv4	id of segment k = id + k; tot_len and header checksum per segment
 *	TCP	seq + k * size; FIN and PSH only on the last segment, CWR only
 *		on the first; options copied to every segment; full checksum
 *	UDP_L4	length per segment; full checksum, 0 sent as 0xffff
 *
 * Pure: no allocation, no state; the caller hands out the buffers.
 */
#ifndef NETFN_GSO_H
#define NETFN_GSO_H

#include <stddef.h>
#include <stdint.h>

#include "drop.h"
#include "out.h"
#include "wire.h"

/*
 * Check a frame's offload state against its own headers (ip parsed in h, at
 * frame + ETH_HLEN). A checksum offload must point at the TCP or UDP checksum
 * field of an unfragmented datagram; a GSO frame must be TCPv4 or UDP_L4 of
 * the right protocol, carry NEEDS_CSUM and a non-zero size, and may not hold
 * more than 64 KB of segments. On success *seg_len is the IP length of the
 * largest segment (h->tot_len for a frame that is not GSO), what the egress
 * MTU is compared with, and f->gso.hdr_len is set to the headers' length
 * (the sender's is a hint: Linux gives its skb's linear length). DROP_GSO_BAD
 * or DROP_L4_SHORT otherwise.
 */
enum drop gso_check(struct nf_frame *f, const struct ipv4 *h, uint32_t *seg_len);

/*
 * Finish the partial checksum of a NEEDS_CSUM frame that is not GSO: sum from
 * csum_start to the end and store the result at csum_start + csum_offset
 * (a UDP 0 is sent as 0xffff). The frame must have passed gso_check.
 */
void gso_csum_complete(uint8_t *frame, uint32_t len, const struct nf_gso *g,
    uint8_t proto);

/*
 * The pseudo-header sum a NEEDS_CSUM field holds, folded, not complemented
 * (what Linux stores for CHECKSUM_PARTIAL): ~tcp_v4_check(len, src, dst, 0).
 */
uint16_t gso_pseudo_partial(uint32_t src, uint32_t dst, uint8_t proto,
    uint16_t l4len);

/* How many segments frame[0..len) makes (1 when it is not GSO). The frame
 * must have passed gso_check. */
unsigned gso_nsegs(const uint8_t *frame, uint32_t len, const struct nf_gso *g);

/*
 * Write segment k (0-based, < gso_nsegs) of the super-frame frame[0..len)
 * into dst[0..cap): a complete Ethernet frame with every checksum final.
 * Returns its length, or 0 when cap is too small. The frame must have passed
 * gso_check; it is not modified.
 */
uint32_t gso_segment(const uint8_t *frame, uint32_t len, const struct nf_gso *g,
    unsigned k, uint8_t *dst, size_t cap);

#endif

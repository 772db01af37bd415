/* SPDX-License-Identifier: ISC */
/*
 * I/O backends: where frames come from and go to.
 *
 * A backend is one network interface seen as batches of Ethernet frames. The
 * interface is deliberately small (receive a burst, release it, send a burst)
 * so that an AF_PACKET ring backend, a TAP backend and a pcap-file backend fit
 * behind it alike. Frames handed out by rx_burst stay valid, and writable, until
 * rx_release; the pipeline rewrites forwarded frames in place and the event
 * loop sends them before releasing. tx_burst copies, so its frames may be
 * released as soon as it returns.
 */
#ifndef SRC_IO_H
#define SRC_IO_H

#include <stdint.h>

#include "netfn/out.h"
#include "netfn/wire.h"

struct io;

struct io_stats {
	uint64_t	rx_frames, rx_bytes;
	uint64_t	tx_frames, tx_bytes;
	uint64_t	rx_truncated;	/* larger than a ring slot: dropped */
	uint64_t	rx_kernel_drops;/* the kernel's count of ring overruns */
	uint64_t	tx_ring_full;	/* no free slot: dropped */
	uint64_t	tx_errors;	/* send() failed */
};

struct io_ops {
	/*
	 * Up to max received frames into f[]; each gets ifidx (given at open)
	 * and flags (NF_F_CSUM_PARTIAL). Never blocks. Returns the count.
	 */
	unsigned	(*rx_burst)(struct io *io, struct nf_frame *f, unsigned max);
	/* Give back every frame of the last rx_burst. */
	void		(*rx_release)(struct io *io);
	/* Copy n frames out and kick the kernel once; returns the count sent
	 * (the rest are counted in tx_ring_full). Never blocks. */
	unsigned	(*tx_burst)(struct io *io, const struct nf_frame *f, unsigned n);
	void		(*close)(struct io *io);
};

struct io {
	const struct io_ops *ops;
	char		name[16];	/* interface name */
	uint8_t		mac[ETH_ALEN];
	uint16_t	mtu;
	uint8_t		ifidx;		/* the pipeline's index of this interface */
	int		fd;		/* poll for POLLIN: frames to receive */
	struct io_stats	stats;
};

struct io_params {
	unsigned	rx_frames;	/* ring slots; 0: default 4096 */
	unsigned	tx_frames;	/* 0: default 2048 */
	unsigned	frame_size;	/* slot size; 0: default 2048 */
};

/*
 * Open dev as an AF_PACKET socket with TPACKET_V2 mmap rings for receive and
 * send, bound to the interface, outgoing frames ignored, qdisc bypassed on
 * send. Brings the interface up and turns off GRO and LRO on it (the router
 * must see frames as they were on the wire). On error returns a negative errno
 * with a message in errbuf ("packet: eth0: no such interface").
 */
int io_packet_open(struct io **out, const char *dev, uint8_t ifidx,
    const struct io_params *p, char *errbuf, size_t errlen);

static inline unsigned
io_rx_burst(struct io *io, struct nf_frame *f, unsigned max)
{
	return io->ops->rx_burst(io, f, max);
}

static inline void
io_rx_release(struct io *io)
{
	io->ops->rx_release(io);
}

static inline unsigned
io_tx_burst(struct io *io, const struct nf_frame *f, unsigned n)
{
	return io->ops->tx_burst(io, f, n);
}

/* Close and free; NULL is a no-op. */
static inline void
io_close(struct io *io)
{
	if (io != NULL)
		io->ops->close(io);
}

#endif

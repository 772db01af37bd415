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
 *
 * A simulated backend (the pcap one, for gitnet replay-pcap) has no file
 * descriptor to poll and no wall clock: it hands out the frames whose
 * capture time has come on a clock the event loop advances, and tells the
 * loop when its next frame is due (next_us), so the loop can jump there.
 */
#ifndef SRC_IO_H
#define SRC_IO_H

#include <stdbool.h>
#include <stdint.h>

#include "netfn/out.h"
#include "netfn/wire.h"

struct io;

struct io_stats {
	uint64_t	rx_frames, rx_bytes;
	uint64_t	tx_frames, tx_bytes;
	uint64_t	rx_truncated;	/* larger than the router reads: dropped */
	uint64_t	rx_queue_full;	/* past a slot, receive buffer full: dropped */
	uint64_t	rx_kernel_drops;/* the kernel's count of ring overruns */
	uint64_t	tx_ring_full;	/* no free slot: dropped */
	uint64_t	tx_errors;	/* send() failed */
	uint64_t	rx_gso;		/* GSO super-frames received */
	uint64_t	rx_big;		/* frames past a slot, read from the queue */
	uint64_t	tx_gso;		/* GSO super-frames handed to the kernel */
	uint64_t	tx_segmented;	/* ... cut into segments here instead */
};

struct io_ops {
	/*
	 * Up to max received frames into f[]; each gets ifidx (given at open),
	 * flags (NF_F_CSUM_PARTIAL, or NF_F_NEEDS_CSUM with its offload state
	 * in gso). Never blocks. Returns the count.
	 */
	unsigned	(*rx_burst)(struct io *io, struct nf_frame *f, unsigned max);
	/* Give back every frame of the last rx_burst. */
	void		(*rx_release)(struct io *io);
	/* Copy n frames out and kick the kernel once; returns the count sent
	 * (the rest are counted in tx_ring_full). A frame with NF_F_NEEDS_CSUM
	 * leaves with its offload state, or segmented and finished here when
	 * the interface cannot take it. Never blocks. */
	unsigned	(*tx_burst)(struct io *io, const struct nf_frame *f, unsigned n);
	void		(*close)(struct io *io);
	/*
	 * Simulated backends only (NULL otherwise): the time of the next frame
	 * rx_burst will hand out, UINT64_MAX when the input is exhausted.
	 */
	uint64_t	(*next_us)(struct io *io);
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
	unsigned	rcvbuf;		/* bytes queued past the ring; 0: 8 MB */
	bool		no_vnet_hdr;	/* no offload state: GRO off, as before */
	bool		sw_segment;	/* cut GSO frames here, not in the kernel */
};

/*
 * Open dev as an AF_PACKET socket with TPACKET_V2 mmap rings for receive and
 * send, bound to the interface, outgoing frames ignored, qdisc bypassed on
 * send. Brings the interface up and turns off LRO on it.
 *
 * Offloads (issue 13): the socket carries a virtio-net header with every
 * frame (PACKET_VNET_HDR), so GSO super-frames and partial checksums come in
 * with their offload state and go out with it. A frame larger than a slot (a
 * GSO super-frame) is queued on the socket beside its ring slot
 * (PACKET_COPY_THRESH) and read with recvmsg into one of IO_BIG_SLOTS
 * buffers; one larger than a send slot goes out through a second, ringless
 * socket. So slots stay small for small frames, and the memory for big ones
 * is the socket's receive buffer (rcvbuf) plus the buffers. Where the kernel
 * has no PACKET_VNET_HDR (or no_vnet_hdr), GRO is turned off instead. A frame
 * past a slot that the full receive buffer could not take is counted in
 * rx_queue_full (an overrun, like rx_kernel_drops); one larger than a big
 * buffer, or queued without its slot, in rx_truncated.
 *
 * On error returns a negative errno with a message in errbuf
 * ("packet: eth0: no such interface").
 */
int io_packet_open(struct io **out, const char *dev, uint8_t ifidx,
    const struct io_params *p, char *errbuf, size_t errlen);

/*
 * A capture file (pcap, Ethernet; micro- or nanosecond, either byte order)
 * read and checked whole: every record's time and bytes, which point into
 * buf. io_pcap_load fails with the byte offset where the file stops making
 * sense; returns 0, -1 with the message in errbuf (a corrupt or unreadable
 * file), or -2 (out of memory).
 */
struct pcap_rec {
	uint64_t	ts_us;
	const uint8_t	*data;
	uint32_t	len;
};

struct pcap_file {
	uint8_t		*buf;
	size_t		size;
	struct pcap_rec	*rec;
	size_t		n;
};

int io_pcap_load(struct pcap_file *c, const char *path, char *errbuf, size_t errlen);
void io_pcap_unload(struct pcap_file *c);

/*
 * The router's MAC on a captured link whose subnet is addr/plen: the sender
 * of an ARP packet from addr, or the destination of an IPv4 frame from the
 * subnet to an address off it (which only the router forwards). 0 when
 * found, -1 when the capture does not tell.
 */
int io_pcap_find_mac(uint8_t mac[ETH_ALEN], const struct pcap_file *c, uint32_t addr,
    uint8_t plen);

/* Where both pcap interfaces write what they send (little-endian, usec). */
struct pcap_out;

int io_pcap_out_open(struct pcap_out **out, const char *path, char *errbuf, size_t errlen);
/* Flush and close: 0, or -1 with the message in errbuf. NULL: 0. */
int io_pcap_out_close(struct pcap_out *o, char *errbuf, size_t errlen);

struct io_pcap_params {
	const char	*name;
	uint8_t		mac[ETH_ALEN];
	uint16_t	mtu;		/* 0: 1500 */
	const struct pcap_file *in;	/* frames received, NULL: none */
	struct pcap_out	*out;		/* where sent frames go, NULL: nowhere */
	const uint64_t	*clock_us;	/* the loop's simulated time */
};

/*
 * A simulated interface over a loaded capture. rx_burst hands out, in file
 * order, the records whose time is at or before *clock_us, skipping (and
 * counting) frames the router itself sent in the original run (source MAC
 * = ours) and frames too large for the pipeline; tx_burst writes frames to
 * p->out stamped *clock_us. fd is -1. p->in and p->out must outlive it.
 */
int io_pcap_open(struct io **out, uint8_t ifidx, const struct io_pcap_params *p,
    char *errbuf, size_t errlen);

/* What a pcap interface did not feed: its own frames, oversize frames. */
void io_pcap_skipped(struct io *io, uint64_t *own, uint64_t *oversize);

static inline uint64_t
io_next_us(struct io *io)
{
	return io->ops->next_us != NULL ? io->ops->next_us(io) : UINT64_MAX;
}

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

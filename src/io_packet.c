/* SPDX-License-Identifier: ISC */
/*
 * The AF_PACKET backend: one interface seen through a pair of TPACKET_V2
 * rings shared with the kernel.
 *
 * One mmap covers both rings, the receive ring first. Every ring block is a
 * whole number of pages and of slots, so slot i of a ring lives at
 * ring + i * frame_size. A slot belongs to whoever its tp_status says: on the
 * receive ring TP_STATUS_KERNEL (the kernel may fill it) or TP_STATUS_USER
 * (ours until we hand it back); on the send ring TP_STATUS_AVAILABLE (ours to
 * fill) or SEND_REQUEST/SENDING (the kernel's). Status is read with acquire
 * and written with release ordering, so the frame bytes are never read
 * before the kernel's status store nor handed back before our last write to
 * them (the pipeline rewrites frames in place).
 *
 * Invariants: rx_head is the oldest slot we own; the rx_held slots from there
 * on were walked by rx_burst and go back to the kernel, in order, in
 * rx_release. Slots that are skipped (truncated, or our own outgoing frames)
 * before any frame is handed out are given back at once, so a ring full of
 * skipped slots can never stall a caller that releases only after a non-empty
 * burst. tx_head is the next send slot to fill. Nothing here allocates or
 * logs per packet; everything the data path wants to say is a counter in
 * io->stats.
 *
 * Frames are delivered as they were on the wire: the kernel strips an 802.1Q
 * tag before packet sockets see the frame (it reports it in tp_vlan_tci), so
 * the tag is put back in front of the frame (there is room in the slot's
 * gap), and the pipeline drops it as DROP_VLAN instead of mistaking a tagged
 * frame for an untagged one.
 *
 * Offloads. With PACKET_VNET_HDR every slot's frame is preceded by a
 * struct virtio_net_hdr (receive: at tp_mac - 10; send: first in the slot's
 * data, counted in tp_len), in host byte order (vio_le() on a packet
 * socket). A received frame larger than its slot comes twice: a truncated
 * copy in the ring flagged TP_STATUS_COPY, and the whole skb on the socket's
 * queue (PACKET_COPY_THRESH), in the same order; each COPY slot is matched
 * with one recvmsg, whatever becomes of the frame, so the two never drift
 * apart. A frame to send that does not fit a send slot, or is GSO, leaves by
 * big_fd, a socket without a ring (with a ring, sendmsg only drains the
 * ring) and without qdisc bypass (which drops what the kernel segments),
 * after the ring has been kicked, so frames leave in the order given.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <linux/ethtool.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/sockios.h>
#include <linux/virtio_net.h>

#include "netfn/gso.h"
#include "src/io.h"

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING	23	/* Linux 4.20 */
#endif

#define IO_PACKET_RX_DEFAULT	4096
#define IO_PACKET_TX_DEFAULT	2048
#define IO_PACKET_FRAME_DEFAULT	2048
#define IO_PACKET_FRAME_MIN	256
#define IO_PACKET_FRAME_MAX	65536
#define IO_PACKET_RING_MAX	(1u << 30)	/* bytes per ring */

#define VLAN_HLEN		4

/* Frames past a slot: read into these, at most IO_BIG_SLOTS per burst. */
#define IO_BIG_SLOTS		32
#define IO_BIG_SIZE		(65536 + 64)	/* IPv4's 64 KB, Ethernet, a tag */
#define IO_RCVBUF_DEFAULT	(8u << 20)
#define VNET_HLEN		sizeof(struct virtio_net_hdr)
#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5	/* Linux 6.2 */
#endif

/* Where a send slot's frame starts: the kernel's fixed offset for V2 without
 * PACKET_TX_HAS_OFF. */
#define TX_DATA_OFF	(TPACKET2_HDRLEN - sizeof(struct sockaddr_ll))
/* Where the receive slot's sockaddr_ll sits (sll_pkttype). */
#define RX_SLL_OFF	(TPACKET_ALIGN(sizeof(struct tpacket2_hdr)))

struct io_packet {
	struct io	io;		/* first: the ops cast back from it */
	uint8_t		*map;
	size_t		map_len;
	uint8_t		*rx_ring, *tx_ring;
	unsigned	frame_size;
	unsigned	rx_n, tx_n;	/* slots per ring */
	unsigned	rx_head;	/* oldest receive slot we own */
	unsigned	rx_held;	/* walked from rx_head, not released */
	unsigned	tx_head;	/* next send slot to fill */
	uint16_t	tx_max;		/* largest frame slot and kernel take */
	uint32_t	slot_max;	/* largest frame a send slot holds */
	bool		vnet;		/* frames carry a virtio-net header */
	bool		tx_gso;		/* the kernel segments what we send */
	int		big_fd;		/* ringless socket for big frames; -1 */
	uint8_t		*big;		/* IO_BIG_SLOTS * IO_BIG_SIZE, lazily */
	unsigned	big_used;	/* buffers handed out since rx_release */
};

static unsigned	packet_rx_burst(struct io *, struct nf_frame *, unsigned);
static void	packet_rx_release(struct io *);
static unsigned	packet_tx_burst(struct io *, const struct nf_frame *, unsigned);
static void	packet_close(struct io *);

static const struct io_ops packet_ops = {
	.rx_burst = packet_rx_burst,
	.rx_release = packet_rx_release,
	.tx_burst = packet_tx_burst,
	.close = packet_close,
};

static inline struct tpacket2_hdr *
rx_slot(const struct io_packet *pk, unsigned i)
{
	return (struct tpacket2_hdr *)(pk->rx_ring +
	    (size_t)i * pk->frame_size);
}

static inline struct tpacket2_hdr *
tx_slot(const struct io_packet *pk, unsigned i)
{
	return (struct tpacket2_hdr *)(pk->tx_ring +
	    (size_t)i * pk->frame_size);
}

static inline unsigned
ring_next(unsigned i, unsigned n)
{
	return i + 1 == n ? 0 : i + 1;
}

/* Fold the kernel's drop count into the stats; reading it resets it. */
static void
packet_read_drops(struct io_packet *pk)
{
	struct tpacket_stats st;
	socklen_t len = sizeof(st);

	if (getsockopt(pk->io.fd, SOL_PACKET, PACKET_STATISTICS, &st,
	    &len) == 0)
		pk->io.stats.rx_kernel_drops += st.tp_drops;
}

/*
 * The frame of a TP_STATUS_COPY slot, from the socket's queue, into the next
 * big buffer (VLAN_HLEN into it, room to put a tag back). *vh gets its
 * virtio-net header. NULL when the queue is empty (the kernel could not
 * queue it: the receive buffer was full) or the frame does not fit.
 */
static uint8_t *
packet_rx_big(struct io_packet *pk, struct virtio_net_hdr *vh, size_t *len)
{
	struct iovec iov[2];
	struct msghdr msg;
	uint8_t *buf;
	ssize_t got;

	if (pk->big == NULL &&
	    (pk->big = malloc((size_t)IO_BIG_SLOTS * IO_BIG_SIZE)) == NULL)
		return NULL;
	buf = pk->big + (size_t)pk->big_used * IO_BIG_SIZE + VLAN_HLEN;
	iov[0] = (struct iovec){ vh, VNET_HLEN };
	iov[1] = (struct iovec){ buf, IO_BIG_SIZE - VLAN_HLEN };
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = pk->vnet ? iov : iov + 1;
	msg.msg_iovlen = pk->vnet ? 2 : 1;
	got = recvmsg(pk->io.fd, &msg, MSG_DONTWAIT);
	if (got < 0 || (msg.msg_flags & MSG_TRUNC) ||
	    (pk->vnet && (size_t)got < VNET_HLEN))
		return NULL;
	pk->big_used++;
	pk->io.stats.rx_big++;
	*len = (size_t)got - (pk->vnet ? VNET_HLEN : 0);
	return buf;
}

/*
 * Walk the receive ring from the first slot not yet walked. A skipped slot
 * is handed back at once when nothing before it is held, else it waits for
 * rx_release with the frames before it (slots go back in ring order).
 */
static unsigned
packet_rx_burst(struct io *io, struct nf_frame *f, unsigned max)
{
	struct io_packet *pk = (struct io_packet *)io;
	unsigned n = 0, i = pk->rx_head;
	uint64_t bytes = 0, truncated = 0, queue_full = 0;
	int losing = 0;

	for (unsigned k = 0; k < pk->rx_held; k++)
		i = ring_next(i, pk->rx_n);
	while (n < max && pk->rx_held < pk->rx_n) {
		struct tpacket2_hdr *h = rx_slot(pk, i);
		struct virtio_net_hdr vh = { 0 };
		uint32_t status;
		const struct sockaddr_ll *sll;
		uint8_t *data;
		size_t len;
		int skip = 0;

		status = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);
		if (!(status & TP_STATUS_USER))
			break;
		if ((status & TP_STATUS_COPY) && pk->big_used == IO_BIG_SLOTS)
			break;		/* no buffer left: next burst */
		if (status & TP_STATUS_LOSING)
			losing = 1;
		sll = (const struct sockaddr_ll *)((uint8_t *)h + RX_SLL_OFF);
		data = (uint8_t *)h + h->tp_mac;
		len = h->tp_snaplen;
		if (pk->vnet && h->tp_mac >= RX_SLL_OFF + sizeof(*sll) + VNET_HLEN)
			memcpy(&vh, data - VNET_HLEN, VNET_HLEN);
		if (status & TP_STATUS_COPY) {
			/* The whole frame waits on the socket's queue. */
			data = packet_rx_big(pk, &vh, &len);
			if (data == NULL) {
				truncated++;
				skip = 1;
			} else if ((status & TP_STATUS_VLAN_VALID) &&
			    len >= 2 * ETH_ALEN) {
				/* packet_rx_big left room in front. */
				memmove(data - VLAN_HLEN, data, 2 * ETH_ALEN);
				data -= VLAN_HLEN;
				len += VLAN_HLEN;
				store_be16(data + 2 * ETH_ALEN,
				    (status & TP_STATUS_VLAN_TPID_VALID) &&
				    h->tp_vlan_tpid != 0 ? h->tp_vlan_tpid :
				    ETH_P_8021Q);
				store_be16(data + 2 * ETH_ALEN + 2,
				    h->tp_vlan_tci);
				vh.csum_start += VLAN_HLEN;
			}
		} else if (h->tp_len > h->tp_snaplen ||
		    (size_t)h->tp_mac + len > pk->frame_size) {
			/* Past a slot and not queued beside it: the receive
			 * buffer was full (an overrun, as a full ring is). A
			 * slice of the frame is worse than nothing. */
			queue_full++;
			skip = 1;
		} else if (sll->sll_pkttype == PACKET_OUTGOING) {
			/* PACKET_IGNORE_OUTGOING should keep these out; a
			 * kernel without it must not make us route our own. */
			skip = 1;
		} else if ((status & TP_STATUS_VLAN_VALID) &&
		    h->tp_mac >= TPACKET2_HDRLEN + VLAN_HLEN &&
		    len >= 2 * ETH_ALEN) {
			uint16_t tpid = ETH_P_8021Q;

			if ((status & TP_STATUS_VLAN_TPID_VALID) &&
			    h->tp_vlan_tpid != 0)
				tpid = h->tp_vlan_tpid;

			/* Put the tag the kernel stripped back where it was;
			 * the gap between sockaddr_ll and tp_mac has room. */
			memmove(data - VLAN_HLEN, data, 2 * ETH_ALEN);
			data -= VLAN_HLEN;
			len += VLAN_HLEN;
			store_be16(data + 2 * ETH_ALEN, tpid);
			store_be16(data + 2 * ETH_ALEN + 2, h->tp_vlan_tci);
			vh.csum_start += VLAN_HLEN;
		}
		if (skip && pk->rx_held == 0) {
			__atomic_store_n(&h->tp_status, TP_STATUS_KERNEL,
			    __ATOMIC_RELEASE);
			i = pk->rx_head = ring_next(i, pk->rx_n);
			continue;
		}
		pk->rx_held++;
		i = ring_next(i, pk->rx_n);
		if (skip)
			continue;
		f[n].data = data;
		f[n].len = (uint32_t)len;
		f[n].ifidx = io->ifidx;
		f[n].flags = 0;
		f[n].gso = (struct nf_gso){ 0 };
		if (!pk->vnet) {
			if (status & TP_STATUS_CSUMNOTREADY)
				f[n].flags = NF_F_CSUM_PARTIAL;
		} else if (vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
			f[n].flags = NF_F_NEEDS_CSUM;
			f[n].gso = (struct nf_gso){
				.type = vh.gso_type, .size = vh.gso_size,
				.hdr_len = vh.hdr_len, .csum_start = vh.csum_start,
				.csum_offset = vh.csum_offset,
			};
			if (vh.gso_type != VIRTIO_NET_HDR_GSO_NONE)
				io->stats.rx_gso++;
		} else if (vh.gso_type != VIRTIO_NET_HDR_GSO_NONE) {
			/* GSO without a checksum offload: the pipeline
			 * refuses it as gso_bad, not as a plain frame. */
			f[n].gso.type = vh.gso_type;
			f[n].gso.size = vh.gso_size;
		}
		bytes += len;
		n++;
	}
	io->stats.rx_frames += n;
	io->stats.rx_bytes += bytes;
	io->stats.rx_truncated += truncated;
	io->stats.rx_queue_full += queue_full;
	if (losing)
		packet_read_drops(pk);
	return n;
}

static void
packet_rx_release(struct io *io)
{
	struct io_packet *pk = (struct io_packet *)io;
	unsigned i = pk->rx_head;

	pk->big_used = 0;
	for (unsigned k = 0; k < pk->rx_held; k++) {
		__atomic_store_n(&rx_slot(pk, i)->tp_status, TP_STATUS_KERNEL,
		    __ATOMIC_RELEASE);
		i = ring_next(i, pk->rx_n);
	}
	pk->rx_head = i;
	pk->rx_held = 0;
}

/* The virtio-net header a frame leaves with: its offload state, if any. */
static void
packet_vnet_hdr(struct virtio_net_hdr *vh, const struct nf_frame *f)
{
	memset(vh, 0, sizeof(*vh));
	if (!(f->flags & NF_F_NEEDS_CSUM))
		return;
	vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	vh->csum_start = f->gso.csum_start;
	vh->csum_offset = f->gso.csum_offset;
	if (f->gso.type != NF_GSO_NONE) {
		vh->gso_type = f->gso.type;
		vh->gso_size = f->gso.size;
		vh->hdr_len = f->gso.hdr_len;
	}
}

/* Kick the send ring: the kernel sends every slot we filled. */
static void
packet_tx_kick(struct io_packet *pk)
{
	if (sendto(pk->io.fd, NULL, 0, MSG_DONTWAIT, NULL, 0) < 0)
		pk->io.stats.tx_errors++;	/* once per kick, not per frame */
}

/*
 * The next send slot's data area (after the virtio-net header, which is
 * filled from vh), or NULL when the ring is full. packet_tx_commit hands it
 * to the kernel.
 */
static uint8_t *
packet_tx_slot(struct io_packet *pk, const struct virtio_net_hdr *vh)
{
	struct tpacket2_hdr *h = tx_slot(pk, pk->tx_head);
	uint8_t *d = (uint8_t *)h + TX_DATA_OFF;

	if (__atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE) !=
	    TP_STATUS_AVAILABLE)
		return NULL;
	if (!pk->vnet)
		return d;
	memcpy(d, vh, VNET_HLEN);
	return d + VNET_HLEN;
}

static void
packet_tx_commit(struct io_packet *pk, uint32_t len)
{
	struct tpacket2_hdr *h = tx_slot(pk, pk->tx_head);

	h->tp_len = (pk->vnet ? VNET_HLEN : 0) + len;
	h->tp_snaplen = h->tp_len;
	__atomic_store_n(&h->tp_status, TP_STATUS_SEND_REQUEST,
	    __ATOMIC_RELEASE);
	pk->tx_head = ring_next(pk->tx_head, pk->tx_n);
}

/* A frame past a send slot, by the ringless socket: 0, or -1 on failure. */
static int
packet_tx_big(struct io_packet *pk, const struct nf_frame *f)
{
	struct virtio_net_hdr vh;
	struct iovec iov[2];
	struct msghdr msg;

	packet_vnet_hdr(&vh, f);
	iov[0] = (struct iovec){ &vh, VNET_HLEN };
	iov[1] = (struct iovec){ f->data, f->len };
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = 2;
	return sendmsg(pk->big_fd, &msg, MSG_DONTWAIT) < 0 ? -1 : 0;
}

/*
 * Fill one send slot per frame, then one sendto() hands the lot to the
 * kernel. A frame the kernel would refuse is counted here as a tx_error: it
 * would log each one and, with PACKET_LOSS, drop it silently. It refuses
 * frames shorter than an Ethernet header, and longer than MTU + header,
 * except that an 802.1Q-tagged frame may be 4 bytes longer
 * (packet_extra_vlan_len_allowed in net/packet/af_packet.c); with a
 * virtio-net header it checks no length at all, so the rule is kept here for
 * all but GSO frames (the pipeline checked their segments).
 *
 * A GSO frame leaves whole with its header when the kernel segments
 * (tx_gso); else it is cut into segments here, each in its own slot, and a
 * partial checksum is finished here too. A frame past a slot leaves by
 * big_fd after a kick, keeping the order.
 */
static unsigned
packet_tx_burst(struct io *io, const struct nf_frame *f, unsigned n)
{
	struct io_packet *pk = (struct io_packet *)io;
	static const struct virtio_net_hdr none;
	unsigned sent = 0, i, pending = 0;
	uint64_t bytes = 0, frames = 0;
	int full = 0;

	for (i = 0; i < n; i++) {
		struct virtio_net_hdr vh;
		bool gso = f[i].gso.type != NF_GSO_NONE &&
		    (f[i].flags & NF_F_NEEDS_CSUM);
		uint8_t *d;

		if (f[i].len < ETH_HLEN || (!gso && (f[i].len > pk->tx_max ||
		    (f[i].len > (uint32_t)pk->io.mtu + ETH_HLEN &&
		    load_be16(f[i].data + 2 * ETH_ALEN) != ETH_P_8021Q)))) {
			io->stats.tx_errors++;
			continue;
		}
		if ((f[i].flags & NF_F_NEEDS_CSUM) && !pk->tx_gso) {
			/* Segment (and finish) here, straight into the slots. */
			unsigned k, nseg = gso_nsegs(f[i].data, f[i].len, &f[i].gso);
			int bad = 0;

			for (k = 0; k < nseg; k++) {
				uint32_t sl;

				if ((d = packet_tx_slot(pk, &none)) == NULL) {
					full = 1;
					break;
				}
				sl = gso_segment(f[i].data, f[i].len, &f[i].gso,
				    k, d, pk->slot_max);
				if (sl == 0 || sl > pk->tx_max) {
					bad = 1;
					break;
				}
				packet_tx_commit(pk, sl);
				pending++;
				frames++;
				bytes += sl;
			}
			if (full)
				break;
			if (bad) {
				io->stats.tx_errors++;
				continue;
			}
			if (gso)
				io->stats.tx_segmented++;
			sent++;
			continue;
		}
		packet_vnet_hdr(&vh, &f[i]);
		if (f[i].len > pk->slot_max || gso) {
			if (pk->big_fd < 0) {
				io->stats.tx_errors++;
				continue;
			}
			if (pending > 0) {
				packet_tx_kick(pk);
				pending = 0;
			}
			if (packet_tx_big(pk, &f[i]) < 0) {
				io->stats.tx_errors++;
				continue;
			}
		} else if ((d = packet_tx_slot(pk, &vh)) == NULL) {
			full = 1;
			break;
		} else {
			memcpy(d, f[i].data, f[i].len);
			packet_tx_commit(pk, f[i].len);
			pending++;
		}
		if (gso)
			io->stats.tx_gso++;
		bytes += f[i].len;
		frames++;
		sent++;
	}
	if (full)
		io->stats.tx_ring_full += n - i;
	/* Kick on a full ring too: slots left pending by a failed kick only
	 * move when someone asks the kernel again. */
	if (pending > 0 || full)
		packet_tx_kick(pk);
	io->stats.tx_frames += frames;
	io->stats.tx_bytes += bytes;
	return sent;
}

static void
packet_close(struct io *io)
{
	struct io_packet *pk = (struct io_packet *)io;

	if (pk->map != NULL)
		munmap(pk->map, pk->map_len);
	if (io->fd >= 0)
		close(io->fd);
	if (pk->big_fd >= 0)
		close(pk->big_fd);
	free(pk->big);
	free(pk);
}

static int
packet_error(char *errbuf, size_t errlen, const char *dev, const char *what,
    int err)
{
	if (errbuf != NULL && errlen > 0) {
		if (what == NULL)
			snprintf(errbuf, errlen, "packet: %s: %s", dev,
			    strerror(err));
		else
			snprintf(errbuf, errlen, "packet: %s: %s: %s", dev,
			    what, strerror(err));
	}
	return -err;
}

/*
 * Turn off LRO, and GRO when frames come without their offload state. LRO
 * merges segments beyond recovery (Linux turns it off on a forwarding
 * interface too); GRO's super-frames are fine once the virtio-net header
 * says how to cut them again, and without it they would not fit a slot.
 * Drivers that lack either feature refuse the ioctl (EOPNOTSUPP) and have
 * nothing to turn off, so failures are ignored; a feature that stays on
 * shows in rx_truncated.
 */
static void
packet_offloads_off(int fd, const char *dev, bool gro)
{
	struct ethtool_value ev;
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, dev, strlen(dev));
	ifr.ifr_data = (char *)&ev;

	ev = (struct ethtool_value){ .cmd = ETHTOOL_GGRO };
	if (gro && ioctl(fd, SIOCETHTOOL, &ifr) == 0 && ev.data != 0) {
		ev = (struct ethtool_value){ .cmd = ETHTOOL_SGRO, .data = 0 };
		(void)ioctl(fd, SIOCETHTOOL, &ifr);
	}
	ev = (struct ethtool_value){ .cmd = ETHTOOL_GFLAGS };
	if (ioctl(fd, SIOCETHTOOL, &ifr) == 0 && (ev.data & ETH_FLAG_LRO)) {
		ev.cmd = ETHTOOL_SFLAGS;
		ev.data &= ~(uint32_t)ETH_FLAG_LRO;
		(void)ioctl(fd, SIOCETHTOOL, &ifr);
	}
}

/*
 * Look the interface up (index, MAC, MTU) and bring it up. Returns the
 * ifindex, or a negative errno with the message set.
 */
static int
packet_if_setup(struct io *io, const char *dev, char *errbuf, size_t errlen)
{
	struct ifreq ifr;
	int ifindex;

	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, dev, strlen(dev));
	if (ioctl(io->fd, SIOCGIFINDEX, &ifr) < 0) {
		if (errno == ENODEV) {
			if (errbuf != NULL && errlen > 0)
				snprintf(errbuf, errlen,
				    "packet: %s: no such interface", dev);
			return -ENODEV;
		}
		return packet_error(errbuf, errlen, dev, "SIOCGIFINDEX", errno);
	}
	ifindex = ifr.ifr_ifindex;

	if (ioctl(io->fd, SIOCGIFHWADDR, &ifr) < 0)
		return packet_error(errbuf, errlen, dev, "SIOCGIFHWADDR",
		    errno);
	if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER) {
		if (errbuf != NULL && errlen > 0)
			snprintf(errbuf, errlen,
			    "packet: %s: not an Ethernet interface (type %u)",
			    dev, (unsigned)ifr.ifr_hwaddr.sa_family);
		return -EPROTONOSUPPORT;
	}
	memcpy(io->mac, ifr.ifr_hwaddr.sa_data, ETH_ALEN);

	if (ioctl(io->fd, SIOCGIFMTU, &ifr) < 0)
		return packet_error(errbuf, errlen, dev, "SIOCGIFMTU", errno);
	io->mtu = ifr.ifr_mtu > UINT16_MAX ? UINT16_MAX : (uint16_t)ifr.ifr_mtu;

	if (ioctl(io->fd, SIOCGIFFLAGS, &ifr) < 0)
		return packet_error(errbuf, errlen, dev, "SIOCGIFFLAGS", errno);
	if (!(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(io->fd, SIOCSIFFLAGS, &ifr) < 0)
			return packet_error(errbuf, errlen, dev,
			    "SIOCSIFFLAGS", errno);
	}
	return ifindex;
}

/*
 * A ring of at least nframes slots of frame_size bytes: blocks are a page or
 * one slot, whichever is larger (both powers of two, so either is a multiple
 * of the other), and the slot count is rounded up to whole blocks. Returns
 * the slot count, or 0 when the ring would be too large.
 */
static unsigned
packet_ring_req(struct tpacket_req *req, unsigned nframes, unsigned frame_size,
    unsigned page)
{
	unsigned block = frame_size > page ? frame_size : page;
	unsigned per_block = block / frame_size;
	unsigned blocks = nframes / per_block + (nframes % per_block != 0);

	if (blocks == 0 || blocks > IO_PACKET_RING_MAX / block)
		return 0;
	req->tp_block_size = block;
	req->tp_block_nr = blocks;
	req->tp_frame_size = frame_size;
	req->tp_frame_nr = blocks * per_block;
	return req->tp_frame_nr;
}

int
io_packet_open(struct io **out, const char *dev, uint8_t ifidx,
    const struct io_params *p, char *errbuf, size_t errlen)
{
	static const struct io_params defaults;
	struct io_packet *pk;
	struct tpacket_req rx_req, tx_req;
	struct sockaddr_ll sll;
	unsigned frame_size, page, tx_max;
	int ifindex, one = 1, version = TPACKET_V2, error, rcvbuf;

	*out = NULL;
	if (p == NULL)
		p = &defaults;
	if (dev == NULL || dev[0] == '\0' || strlen(dev) >= IFNAMSIZ) {
		if (errbuf != NULL && errlen > 0)
			snprintf(errbuf, errlen,
			    "packet: '%s': bad interface name",
			    dev == NULL ? "" : dev);
		return -EINVAL;
	}
	frame_size = p->frame_size != 0 ? p->frame_size :
	    IO_PACKET_FRAME_DEFAULT;
	if (frame_size < IO_PACKET_FRAME_MIN ||
	    frame_size > IO_PACKET_FRAME_MAX ||
	    (frame_size & (frame_size - 1)) != 0) {
		if (errbuf != NULL && errlen > 0)
			snprintf(errbuf, errlen, "packet: %s: frame size %u is "
			    "not a power of two from %u to %u", dev, frame_size,
			    IO_PACKET_FRAME_MIN, IO_PACKET_FRAME_MAX);
		return -EINVAL;
	}
	page = (unsigned)sysconf(_SC_PAGESIZE);
	memset(&rx_req, 0, sizeof(rx_req));
	memset(&tx_req, 0, sizeof(tx_req));
	if (packet_ring_req(&rx_req, p->rx_frames != 0 ? p->rx_frames :
	    IO_PACKET_RX_DEFAULT, frame_size, page) == 0 ||
	    packet_ring_req(&tx_req, p->tx_frames != 0 ? p->tx_frames :
	    IO_PACKET_TX_DEFAULT, frame_size, page) == 0) {
		if (errbuf != NULL && errlen > 0)
			snprintf(errbuf, errlen, "packet: %s: ring larger than "
			    "%u bytes", dev, IO_PACKET_RING_MAX);
		return -EINVAL;
	}

	if ((pk = calloc(1, sizeof(*pk))) == NULL)
		return packet_error(errbuf, errlen, dev, NULL, ENOMEM);
	pk->io.ops = &packet_ops;
	pk->io.ifidx = ifidx;
	memcpy(pk->io.name, dev, strlen(dev) + 1);
	pk->frame_size = frame_size;
	pk->rx_n = rx_req.tp_frame_nr;
	pk->tx_n = tx_req.tp_frame_nr;
	pk->big_fd = -1;

	/*
	 * Protocol 0: the socket receives nothing until bind() names both the
	 * protocol and the interface. Opened with ETH_P_ALL it would take
	 * frames from every interface from here until bind.
	 */
	if ((pk->io.fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) < 0) {
		error = packet_error(errbuf, errlen, dev, "socket", errno);
		goto fail;
	}
	if ((ifindex = packet_if_setup(&pk->io, dev, errbuf, errlen)) < 0) {
		error = ifindex;
		goto fail;
	}

#define SETOPT(opt, val)						\
	if (setsockopt(pk->io.fd, SOL_PACKET, opt, &(val), sizeof(val)) < 0) { \
		error = packet_error(errbuf, errlen, dev, #opt, errno);	\
		goto fail;						\
	}
	SETOPT(PACKET_VERSION, version);
	/* Before the rings: the header changes their layout. A kernel that
	 * lacks it (before 4.19 on receive rings) gets the old behaviour. */
	pk->vnet = !p->no_vnet_hdr && setsockopt(pk->io.fd, SOL_PACKET,
	    PACKET_VNET_HDR, &one, sizeof(one)) == 0;
	pk->tx_gso = pk->vnet && !p->sw_segment;
	packet_offloads_off(pk->io.fd, dev, !pk->vnet);
	/* Frames past a slot: a truncated copy in the ring, the whole on the
	 * queue, up to rcvbuf bytes (the kernel counts the skb's truesize). */
	SETOPT(PACKET_COPY_THRESH, one);
	rcvbuf = p->rcvbuf != 0 ? p->rcvbuf : IO_RCVBUF_DEFAULT;
	if (setsockopt(pk->io.fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf,
	    sizeof(rcvbuf)) < 0)
		(void)setsockopt(pk->io.fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
		    sizeof(rcvbuf));
	/* A frame the kernel rejects is skipped rather than left blocking the
	 * send ring with TP_STATUS_WRONG_FORMAT. */
	SETOPT(PACKET_LOSS, one);
	SETOPT(PACKET_QDISC_BYPASS, one);
	SETOPT(PACKET_IGNORE_OUTGOING, one);
	SETOPT(PACKET_RX_RING, rx_req);
	SETOPT(PACKET_TX_RING, tx_req);
#undef SETOPT

	pk->map_len = (size_t)rx_req.tp_block_size * rx_req.tp_block_nr +
	    (size_t)tx_req.tp_block_size * tx_req.tp_block_nr;
	pk->map = mmap(NULL, pk->map_len, PROT_READ | PROT_WRITE, MAP_SHARED,
	    pk->io.fd, 0);
	if (pk->map == MAP_FAILED) {
		pk->map = NULL;
		error = packet_error(errbuf, errlen, dev, "mmap", errno);
		goto fail;
	}
	pk->rx_ring = pk->map;
	pk->tx_ring = pk->map +
	    (size_t)rx_req.tp_block_size * rx_req.tp_block_nr;
	pk->slot_max = frame_size - (unsigned)TX_DATA_OFF -
	    (pk->vnet ? (unsigned)VNET_HLEN : 0);

	/*
	 * Frames past a send slot, and every GSO frame, leave by a second
	 * socket without a ring (protocol 0 and no bind to a protocol: it
	 * receives nothing). Only with the header: GSO super-frames are what
	 * needs it. Not with PACKET_QDISC_BYPASS: dev_direct_xmit drops an
	 * skb that validate_xmit_skb had to change, so a GSO frame towards a
	 * device without TSO would be lost instead of segmented by the kernel.
	 */
	if (pk->vnet) {
		memset(&sll, 0, sizeof(sll));
		sll.sll_family = AF_PACKET;
		sll.sll_ifindex = ifindex;
		if ((pk->big_fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, 0)) < 0 ||
		    setsockopt(pk->big_fd, SOL_PACKET, PACKET_VNET_HDR, &one,
		    sizeof(one)) < 0 ||
		    bind(pk->big_fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
			error = packet_error(errbuf, errlen, dev, "big frames' socket",
			    errno);
			goto fail;
		}
	}
	/* The kernel's ceiling for a tagged frame; untagged ones are checked
	 * per frame against MTU + header, GSO frames by their segments. */
	tx_max = (unsigned)pk->io.mtu + ETH_HLEN + VLAN_HLEN;
	if (pk->big_fd < 0 && pk->slot_max < tx_max)
		tx_max = pk->slot_max;
	pk->tx_max = tx_max > UINT16_MAX ? UINT16_MAX : (uint16_t)tx_max;

	/* Last, so that the first frame lands in a ring that is ready. */
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = ifindex;
	if (bind(pk->io.fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		error = packet_error(errbuf, errlen, dev, "bind", errno);
		goto fail;
	}
	*out = &pk->io;
	return 0;
fail:
	packet_close(&pk->io);
	return error;
}

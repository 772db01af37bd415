/* SPDX-License-Identifier: ISC */
/*
 * The pcap backend: an interface whose frames come from a capture file and
 * whose sent frames go to another, on a simulated clock (contract in io.h).
 * gitnet replay-pcap runs the router's own event loop over it.
 *
 * The capture is read and checked whole at load (io_pcap_load): a corrupt
 * file fails before anything runs, naming the byte offset. Received frames
 * are copied into a buffer of the interface's own, since the pipeline
 * rewrites them in place and the capture may be shared. Output is always a
 * little-endian microsecond pcap (magic a1b2c3d4, snaplen 65535, Ethernet),
 * whatever the host, so two runs write identical bytes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netfn/csum.h"
#include "netfn/pipeline.h"
#include "netfn/wire.h"
#include "src/io.h"

#define PCAP_HDR	24
#define PCAP_REC	16
#define PCAP_SNAP_MAX	262144
#define RX_BUF		(1u << 20)	/* bytes of frames one burst may hold */
#define FRAME_MAX	65535		/* nf_frame.len */

struct pcap_out {
	FILE		*f;
	char		path[256];
	int		err;		/* first write errno, 0: none */
};

struct io_pcap {
	struct io	io;		/* first: the ops cast back from it */
	const struct pcap_file *in;
	size_t		next;		/* next record to consider */
	struct pcap_out	*out;
	const uint64_t	*clock_us;
	uint8_t		*buf;		/* RX_BUF: frames of the last burst */
	uint64_t	own, oversize;
};

static uint32_t
get32(const uint8_t *p, bool swap)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return swap ? __builtin_bswap32(v) : v;
}

static unsigned
get16(const uint8_t *p, bool swap)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return swap ? __builtin_bswap16(v) : v;
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

void
io_pcap_unload(struct pcap_file *c)
{
	free(c->rec);
	free(c->buf);
	memset(c, 0, sizeof(*c));
}

int
io_pcap_load(struct pcap_file *c, const char *path, char *err, size_t errlen)
{
	FILE *f;
	uint32_t magic, linktype;
	bool swap, nsec;
	size_t at, cap = 0;
	long sz;

	memset(c, 0, sizeof(*c));
	if ((f = fopen(path, "rb")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fseek(f, 0, SEEK_END) < 0 || (sz = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0) {
		fclose(f);
		snprintf(err, errlen, "%s: not a seekable file", path);
		return -1;
	}
	c->size = (size_t)sz;
	if ((c->buf = malloc(c->size ? c->size : 1)) == NULL) {
		fclose(f);
		snprintf(err, errlen, "out of memory");
		return -2;
	}
	if (fread(c->buf, 1, c->size, f) != c->size) {
		fclose(f);
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		return -1;
	}
	fclose(f);
	if (c->size < PCAP_HDR) {
		snprintf(err, errlen, "%s: truncated pcap header at byte offset %zu (%zu of %d "
		    "bytes)", path, c->size, c->size, PCAP_HDR);
		return -1;
	}
	memcpy(&magic, c->buf, 4);
	switch (magic) {
	case 0xa1b2c3d4: swap = false; nsec = false; break;
	case 0xd4c3b2a1: swap = true; nsec = false; break;
	case 0xa1b23c4d: swap = false; nsec = true; break;
	case 0x4d3cb2a1: swap = true; nsec = true; break;
	default:
		snprintf(err, errlen, "%s: bad pcap magic 0x%08x at byte offset 0 (pcapng is "
		    "not supported)", path, magic);
		return -1;
	}
	if (get16(c->buf + 4, swap) != 2) {
		snprintf(err, errlen, "%s: pcap version %u.%u at byte offset 4, want 2.4", path,
		    get16(c->buf + 4, swap), get16(c->buf + 6, swap));
		return -1;
	}
	/* The top bits may carry FCS information (pcap-linktype); not Ethernet's. */
	linktype = get32(c->buf + 20, swap) & 0x0fffffff;
	if (linktype != 1) {
		snprintf(err, errlen, "%s: link type %u at byte offset 20, want 1 (Ethernet)",
		    path, linktype);
		return -1;
	}
	for (at = PCAP_HDR; at < c->size;) {
		uint32_t sec, frac, incl;

		if (c->size - at < PCAP_REC) {
			snprintf(err, errlen, "%s: truncated record header at byte offset %zu "
			    "(record %zu)", path, at, c->n + 1);
			return -1;
		}
		sec = get32(c->buf + at, swap);
		frac = get32(c->buf + at + 4, swap);
		incl = get32(c->buf + at + 8, swap);
		if (frac >= (nsec ? 1000000000u : 1000000u)) {
			snprintf(err, errlen, "%s: bad timestamp fraction %u at byte offset %zu "
			    "(record %zu)", path, frac, at + 4, c->n + 1);
			return -1;
		}
		if (incl > PCAP_SNAP_MAX) {
			snprintf(err, errlen, "%s: record length %u at byte offset %zu is "
			    "implausible (record %zu)", path, incl, at + 8, c->n + 1);
			return -1;
		}
		if (c->size - at - PCAP_REC < incl) {
			snprintf(err, errlen, "%s: truncated record data at byte offset %zu "
			    "(record %zu: %u bytes announced, %zu present)", path,
			    at + PCAP_REC, c->n + 1, incl, c->size - at - PCAP_REC);
			return -1;
		}
		if (c->n == cap) {
			struct pcap_rec *v;

			cap = cap ? cap * 2 : 1024;
			if ((v = realloc(c->rec, cap * sizeof(*v))) == NULL) {
				snprintf(err, errlen, "out of memory");
				return -2;
			}
			c->rec = v;
		}
		c->rec[c->n++] = (struct pcap_rec){
			.ts_us = (uint64_t)sec * 1000000 + (nsec ? frac / 1000 : frac),
			.data = c->buf + at + PCAP_REC,
			.len = incl,
		};
		at += PCAP_REC + incl;
	}
	return 0;
}

static bool
in_subnet(uint32_t a, uint32_t net, uint8_t plen)
{
	uint32_t m = plen ? ~0u << (32 - plen) : 0;

	return (a & m) == (net & m);
}

int
io_pcap_find_mac(uint8_t mac[ETH_ALEN], const struct pcap_file *c, uint32_t addr,
    uint8_t plen)
{
	for (size_t i = 0; i < c->n; i++) {
		const uint8_t *f = c->rec[i].data;
		uint32_t len = c->rec[i].len;
		uint16_t type;

		if (len < 14)
			continue;
		type = (uint16_t)(f[12] << 8 | f[13]);
		if (type == 0x0806 && len >= 42) {
			uint32_t spa = (uint32_t)f[28] << 24 | f[29] << 16 | f[30] << 8 | f[31];

			if (spa == addr) {
				memcpy(mac, f + 6, ETH_ALEN);
				return 0;
			}
		} else if (type == 0x0800 && len >= 34 && (f[0] & 1) == 0) {
			uint32_t src = (uint32_t)f[26] << 24 | f[27] << 16 | f[28] << 8 | f[29];
			uint32_t dst = (uint32_t)f[30] << 24 | f[31] << 16 | f[32] << 8 | f[33];

			if (in_subnet(src, addr, plen) && !in_subnet(dst, addr, plen) &&
			    src != addr) {
				memcpy(mac, f, ETH_ALEN);
				return 0;
			}
		}
	}
	return -1;
}

int
io_pcap_out_open(struct pcap_out **out, const char *path, char *err, size_t errlen)
{
	struct pcap_out *o;
	uint8_t h[PCAP_HDR] = { 0 };

	*out = NULL;
	if ((o = calloc(1, sizeof(*o))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(o->path, sizeof(o->path), "%s", path);
	put32(h, 0xa1b2c3d4);
	h[4] = 2;
	h[6] = 4;
	put32(h + 16, 65535);
	put32(h + 20, 1);
	if ((o->f = fopen(path, "wb")) == NULL || fwrite(h, 1, sizeof(h), o->f) != sizeof(h)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (o->f != NULL)
			fclose(o->f);
		free(o);
		return -1;
	}
	*out = o;
	return 0;
}

int
io_pcap_out_close(struct pcap_out *o, char *err, size_t errlen)
{
	int e;

	if (o == NULL)
		return 0;
	e = o->err;
	if (fclose(o->f) != 0 && e == 0)
		e = errno;
	if (e != 0)
		snprintf(err, errlen, "%s: %s", o->path, strerror(e));
	free(o);
	return e != 0 ? -1 : 0;
}

/*
 * A capture taken on a host's own interface (tcpdump on the sender's veth)
 * holds its TCP and UDP segments as the stack handed them to the device,
 * with CHECKSUM_PARTIAL: the checksum field carries only the pseudo-header
 * sum. The live router learns that from TP_STATUS_CSUMNOTREADY and
 * completes the sum; a pcap lost the flag, so recognise the shape (a wrong
 * checksum that is exactly the folded pseudo-header sum) and say so, or NAT,
 * which verifies checksums, would drop what the router once passed.
 */
static bool
csum_partial(const uint8_t *f, size_t len)
{
	const uint8_t *ip = f + ETH_HLEN, *l4;
	size_t ihl, tot, off;
	uint32_t src, dst;
	uint16_t want;

	if (len < ETH_HLEN + IPV4_MIN_HLEN || load_be16(f + 12) != ETHERTYPE_IPV4 ||
	    ip[0] >> 4 != 4)
		return false;
	ihl = (size_t)(ip[0] & 0x0f) * 4;
	tot = load_be16(ip + 2);
	if (ihl < IPV4_MIN_HLEN || tot < ihl || ETH_HLEN + tot > len ||
	    (load_be16(ip + 6) & 0x3fff) != 0)
		return false;
	off = ip[9] == IPPROTO_TCP_ ? 16 : ip[9] == IPPROTO_UDP_ ? 6 : 0;
	if (off == 0 || tot - ihl < off + 2)
		return false;
	l4 = ip + ihl;
	src = load_be32(ip + 12);
	dst = load_be32(ip + 16);
	if (pkt_l4_csum_ok(ip[9], src, dst, l4, tot - ihl))
		return false;
	want = (uint16_t)~csum_fold(csum_pseudo(src, dst, ip[9], (uint16_t)(tot - ihl)));
	return load_be16(l4 + off) == want;
}

static unsigned
pcap_rx_burst(struct io *io, struct nf_frame *f, unsigned max)
{
	struct io_pcap *p = (struct io_pcap *)io;
	uint64_t now = *p->clock_us;
	size_t used = 0;
	unsigned n = 0;

	while (p->in != NULL && p->next < p->in->n && n < max) {
		const struct pcap_rec *r = &p->in->rec[p->next];

		/* A capture's clock may step back a little: such a frame is due now. */
		if (r->ts_us > now)
			break;
		if (r->len >= 12 && memcmp(r->data + 6, io->mac, ETH_ALEN) == 0) {
			p->own++;	/* the router's own output in the original run */
			p->next++;
			continue;
		}
		if (r->len > FRAME_MAX) {
			p->oversize++;
			p->next++;
			continue;
		}
		if (used + r->len > RX_BUF)
			break;
		memcpy(p->buf + used, r->data, r->len);
		f[n] = (struct nf_frame){ p->buf + used, (uint16_t)r->len, io->ifidx,
		    csum_partial(r->data, r->len) ? NF_F_CSUM_PARTIAL : 0 };
		used += r->len;
		io->stats.rx_frames++;
		io->stats.rx_bytes += r->len;
		n++;
		p->next++;
	}
	return n;
}

static void
pcap_rx_release(struct io *io)
{
	(void)io;
}

static unsigned
pcap_tx_burst(struct io *io, const struct nf_frame *f, unsigned n)
{
	struct io_pcap *p = (struct io_pcap *)io;
	uint64_t now = *p->clock_us;

	for (unsigned i = 0; i < n; i++) {
		uint8_t h[PCAP_REC];

		io->stats.tx_frames++;
		io->stats.tx_bytes += f[i].len;
		if (p->out == NULL || p->out->err != 0)
			continue;
		put32(h, (uint32_t)(now / 1000000));
		put32(h + 4, (uint32_t)(now % 1000000));
		put32(h + 8, f[i].len);
		put32(h + 12, f[i].len);
		if (fwrite(h, 1, sizeof(h), p->out->f) != sizeof(h) ||
		    fwrite(f[i].data, 1, f[i].len, p->out->f) != f[i].len) {
			p->out->err = errno ? errno : EIO;
			io->stats.tx_errors++;
		}
	}
	return n;
}

static uint64_t
pcap_next_us(struct io *io)
{
	struct io_pcap *p = (struct io_pcap *)io;

	return p->in != NULL && p->next < p->in->n ? p->in->rec[p->next].ts_us : UINT64_MAX;
}

static void
pcap_close(struct io *io)
{
	struct io_pcap *p = (struct io_pcap *)io;

	free(p->buf);
	free(p);
}

static const struct io_ops pcap_ops = {
	.rx_burst = pcap_rx_burst,
	.rx_release = pcap_rx_release,
	.tx_burst = pcap_tx_burst,
	.close = pcap_close,
	.next_us = pcap_next_us,
};

int
io_pcap_open(struct io **out, uint8_t ifidx, const struct io_pcap_params *prm,
    char *err, size_t errlen)
{
	struct io_pcap *p;

	*out = NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL || (p->buf = malloc(RX_BUF)) == NULL) {
		free(p);
		snprintf(err, errlen, "pcap: out of memory");
		return -ENOMEM;
	}
	p->io.ops = &pcap_ops;
	snprintf(p->io.name, sizeof(p->io.name), "%s", prm->name);
	memcpy(p->io.mac, prm->mac, ETH_ALEN);
	p->io.mtu = prm->mtu ? prm->mtu : 1500;
	p->io.ifidx = ifidx;
	p->io.fd = -1;
	p->in = prm->in;
	p->out = prm->out;
	p->clock_us = prm->clock_us;
	*out = &p->io;
	return 0;
}

void
io_pcap_skipped(struct io *io, uint64_t *own, uint64_t *oversize)
{
	struct io_pcap *p = (struct io_pcap *)io;

	*own = p->own;
	*oversize = p->oversize;
}

/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target: the whole netfn pipeline with a fake clock.
 *
 * Input, after lwIP's fuzz harness: a sequence of records
 *
 *	0x00 | iface<<1 | partial<<2 | offload<<3 | kind<<4, len_hi, len_lo, frame[len]
 *	                                                            a received frame
 *	0x01, ms_hi, ms_lo                                          advance the clock, tick
 *
 * (the low bit of the first byte picks the kind; a short last record takes
 * what is left). Each frame is copied into a buffer of exactly its length so
 * ASan sees any read past it. The pipeline starts with a default route and one
 * permanent neighbour so forwarding paths are reachable, and every output is
 * checked against the contract of out.h. NAT is on unless the first byte has
 * its top bit set (the seeds start with 0x00 or 0x01 records).
 *
 * Speed: building the pipeline (the routing table's 64 Ki first level, the
 * NAT port-owner arrays) costs far more than an input. So each of the two
 * pipelines (NAT on, off) is built once, in an arena the harness owns:
 * netfn's allocations come here (arena.h is forced into its sources), each
 * block with a poisoned redzone after it, so ASan still sees an overflow.
 * The built arena is kept in a memfd; before each input the arena is mapped
 * again from it, private and copy-on-write, which puts every byte of the
 * pipeline back as it was built, at the price of the pages the input
 * touches. netfn allocates nothing after nf_new (DESIGN.md: no allocation
 * on the per-packet path); an allocation during an input is still served,
 * and discarded with the rest at the next remap.
 *
 * With the offload bit the frame comes with a virtio-net header as an I/O
 * backend would hand it over: kind (bits 4-6) picks TCPv4, UDP_L4 or none,
 * with the checksum offsets right for the frame or taken from its last bytes
 * (hostile), and the segment size from its length. GSO frames that come out
 * are then cut with gso_segment, every segment checked.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <sanitizer/asan_interface.h>

#include "netfn/gso.h"
#include "netfn/pipeline.h"

#undef malloc
#undef calloc
#undef realloc
#undef free

#define ARENA_SIZE	((size_t)64 << 20)
#define REDZONE		64

struct arena {
	uint8_t		*base;
	int		fd;		/* the built pipeline */
	size_t		used, built;	/* bump offset; and right after the build */
	struct nf	*nf;
	bool		ready;
};

static struct arena arenas[2];		/* [0]: NAT on, [1]: NAT off */
static struct arena *cur;

void *
fz_malloc(size_t n)
{
	size_t off = (cur->used + 15) & ~(size_t)15;
	uint8_t *p;

	if (off + 16 + n + REDZONE > ARENA_SIZE)
		abort();
	p = cur->base + off + 16;
	memcpy(p - 16, &n, sizeof(n));		/* the size, for realloc */
	cur->used = off + 16 + n + REDZONE;
	ASAN_UNPOISON_MEMORY_REGION(p, n);
	ASAN_POISON_MEMORY_REGION(p + n, REDZONE);
	return p;
}

void *
fz_calloc(size_t n, size_t size)
{
	uint8_t *p;

	if (size != 0 && n > SIZE_MAX / size)
		return NULL;
	p = fz_malloc(n * size);
	memset(p, 0, n * size);		/* fresh arena is zero; cheap to be sure */
	return p;
}

void
fz_free(void *p)
{
	size_t n;

	if (p == NULL)
		return;
	memcpy(&n, (uint8_t *)p - 16, sizeof(n));
	ASAN_POISON_MEMORY_REGION(p, n);	/* a use after free is a report */
}

void *
fz_realloc(void *p, size_t n)
{
	uint8_t *q = fz_malloc(n);
	size_t old;

	if (p != NULL) {
		memcpy(&old, (uint8_t *)p - 16, sizeof(old));
		memcpy(q, p, old < n ? old : n);
		fz_free(p);
	}
	return q;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t arena[64 * 1024];
static struct nf_frame tx[256];
static struct nf_event ev[256];

static void
check_out(const struct nf_out *out)
{
	static uint8_t seg[NF_FRAME_MAX];

	for (unsigned i = 0; i < out->ntx; i++) {
		const struct nf_frame *t = &out->tx[i];
		bool gso = t->gso.type != NF_GSO_NONE;

		if (t->ifidx > 1 || t->len < ETH_HLEN ||
		    (!gso && t->len > NF_FRAME_MAX) || t->len > 65535 + ETH_HLEN ||
		    (gso && !(t->flags & NF_F_NEEDS_CSUM)))
			abort();
		/* A GSO frame leaves in segments no larger than the MTU. */
		for (unsigned k = 0; gso && k < gso_nsegs(t->data, t->len, &t->gso); k++) {
			uint32_t l = gso_segment(t->data, t->len, &t->gso, k, seg,
			    sizeof(seg));

			if (l == 0 || l > 1500 + ETH_HLEN)
				abort();
		}
		/* Touch every byte: ASan flags a frame pointing at freed memory. */
		volatile uint8_t sum = 0;
		for (unsigned k = 0; k < out->tx[i].len; k++)
			sum ^= out->tx[i].data[k];
		(void)sum;
	}
	for (unsigned i = 0; i < out->nev; i++)
		if ((out->ev[i].table != EV_TABLE_ARP && out->ev[i].table != EV_TABLE_NAT) ||
		    out->ev[i].op >= EV_OP_MAX || out->ev[i].cause >= EV_CAUSE_MAX)
			abort();
}

/* Build the pipeline (NAT on or off) into its arena, once. */
static void
build(struct arena *A, bool nat, struct nf_out *out)
{
	static const uint8_t gw_mac[ETH_ALEN] = { 0x02, 0, 0, 0, 0x02, 0xfe };
	uint64_t now = 1429688434000000ULL;
	struct nf_config cfg;

	if ((A->fd = memfd_create("pipeline_fuzz", MFD_CLOEXEC)) < 0 ||
	    ftruncate(A->fd, (off_t)ARENA_SIZE) < 0 ||
	    (A->base = mmap(NULL, ARENA_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
	    A->fd, 0)) == MAP_FAILED)
		abort();
	cur = A;
	nf_config_default(&cfg);
	cfg.n_iface = 2;
	cfg.arp.max_entries = 16;
	cfg.arp.unres_total = 16;
	cfg.seed = 1;
	memcpy(cfg.iface[0].mac, (uint8_t[]){ 2, 0, 0, 0, 1, 1 }, ETH_ALEN);
	cfg.iface[0].addr = 0xc0a80101;		/* 192.168.1.1/24 */
	cfg.iface[0].plen = 24;
	memcpy(cfg.iface[1].mac, (uint8_t[]){ 2, 0, 0, 0, 2, 1 }, ETH_ALEN);
	cfg.iface[1].addr = 0xcb007101;		/* 203.0.113.1/24 */
	cfg.iface[1].plen = 24;
	/* NAT with a pool address and a forward, small tables so limits are
	 * reachable. */
	cfg.nat = nat;
	cfg.outside = 1;
	nat_params_default(&cfg.nat_params);
	cfg.nat_params.max_sessions = 64;
	cfg.nat_params.max_per_host = 16;
	cfg.nat_params.frag_max = 8;
	cfg.nat_params.port_min = 61000;
	cfg.nat_params.port_max = 61031;
	cfg.pool[0] = 0xcb007105;		/* 203.0.113.5 */
	cfg.n_pool = 1;
	if ((A->nf = nf_new(&cfg)) == NULL)
		abort();
	if (nf_route_add(A->nf, 0, 0, 0xcb0071fe) != 0 ||
	    arp_add_static(nf_arp(A->nf), 1, 0xcb0071fe, gw_mac, now, out) != 0 ||
	    arp_add_static(nf_arp(A->nf), 0, 0xc0a80102, gw_mac, now, out) != 0 ||
	    (cfg.nat && nf_forward_add(A->nf, IPPROTO_TCP_, 8080, 0xc0a80102, 80, now,
	    out) != 0))
		abort();
	nf_start(A->nf, now, out);
	check_out(out);
	nf_out_reset(out);
	A->built = A->used;
	A->ready = true;
}

/* Put A's pipeline back as it was built: a private copy-on-write view. */
static void
reset(struct arena *A)
{
	if (mmap(A->base, ARENA_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED,
	    A->fd, 0) != A->base)
		abort();
	A->used = A->built;
	cur = A;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nf_out out = {
		.tx = tx, .tx_cap = 256, .arena = arena, .arena_cap = sizeof(arena),
		.ev = ev, .ev_cap = 256,
	};
	uint64_t now = 1429688434000000ULL;
	/* NAT on unless the first input byte's top bit is set. */
	struct arena *A = &arenas[size > 0 && (data[0] & 0x80) ? 1 : 0];
	struct nf *nf;
	size_t p = 0;

	if (!A->ready)
		build(A, A == &arenas[0], &out);
	reset(A);
	nf = A->nf;

	while (p < size) {
		uint8_t op = data[p++];

		if (op & 1) {
			uint16_t ms = 0;

			if (p + 2 <= size)
				ms = (uint16_t)(data[p] << 8 | data[p + 1]);
			p += 2;
			now += (uint64_t)ms * 1000;
			nf_tick(nf, now, &out);
		} else {
			size_t len = 0;

			if (p + 2 <= size)
				len = (size_t)(data[p] << 8 | data[p + 1]);
			p = p + 2 <= size ? p + 2 : size;
			if (len > size - p)
				len = size - p;
			uint8_t *buf = malloc(len ? len : 1);
			if (buf == NULL)
				abort();
			memcpy(buf, data + p, len);
			p += len;
			struct nf_frame f = {
				.data = buf, .len = (uint32_t)len,
				.ifidx = (uint8_t)(op >> 1 & 1),
				.flags = op & 4 ? NF_F_CSUM_PARTIAL : 0,
			};
			if (op & 8) {
				unsigned kind = op >> 4 & 7;
				const uint8_t *end = buf + (len >= 4 ? len - 4 : 0);

				f.flags = NF_F_NEEDS_CSUM;
				f.gso.type = kind & 1 ? NF_GSO_TCPV4 : kind & 2 ?
				    NF_GSO_UDP_L4 : NF_GSO_NONE;
				f.gso.size = (uint16_t)(len / 3);
				f.gso.csum_start = ETH_HLEN + 20;
				f.gso.csum_offset = kind & 1 ? 16 : 6;
				if ((kind & 4) && len >= 4) {
					f.gso.csum_start = (uint16_t)(end[0] << 8 | end[1]);
					f.gso.csum_offset = (uint16_t)(end[2] << 8 | end[3]);
					f.gso.size = (uint16_t)(end[1] << 8 | end[3]);
				}
			}
			nf_input(nf, &f, 1, now, &out);
			check_out(&out);
			free(buf);
			nf_out_reset(&out);
			continue;
		}
		check_out(&out);
		nf_out_reset(&out);
	}
	return 0;
}

/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target: the whole netfn pipeline with a fake clock.
 *
 * Input, after lwIP's fuzz harness: a sequence of records
 *
 *	0x00 | iface<<1 | partial<<2, len_hi, len_lo, frame[len]   a received frame
 *	0x01, ms_hi, ms_lo                                          advance the clock, tick
 *
 * (the low bit of the first byte picks the kind; a short last record takes
 * what is left). Each frame is copied into a buffer of exactly its length so
 * ASan sees any read past it. The pipeline starts with a default route and one
 * permanent neighbour so forwarding paths are reachable, and every output is
 * checked against the contract of out.h. NAT is on unless the first byte has
 * its top bit set (the seeds start with 0x00 or 0x01 records).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netfn/pipeline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t arena[64 * 1024];
static struct nf_frame tx[256];
static struct nf_event ev[256];

static void
check_out(const struct nf_out *out)
{
	for (unsigned i = 0; i < out->ntx; i++) {
		if (out->tx[i].ifidx > 1 || out->tx[i].len < ETH_HLEN ||
		    out->tx[i].len > NF_FRAME_MAX)
			abort();
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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t gw_mac[ETH_ALEN] = { 0x02, 0, 0, 0, 0x02, 0xfe };
	struct nf_config cfg;
	struct nf *nf;
	struct nf_out out = {
		.tx = tx, .tx_cap = 256, .arena = arena, .arena_cap = sizeof(arena),
		.ev = ev, .ev_cap = 256,
	};
	uint64_t now = 1429688434000000ULL;
	size_t p = 0;

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
	/* NAT on (the first input byte's top bit turns it off), with a pool
	 * address and a forward, small tables so limits are reachable. */
	cfg.nat = size == 0 || !(data[0] & 0x80);
	cfg.outside = 1;
	nat_params_default(&cfg.nat_params);
	cfg.nat_params.max_sessions = 64;
	cfg.nat_params.max_per_host = 16;
	cfg.nat_params.frag_max = 8;
	cfg.nat_params.port_min = 61000;
	cfg.nat_params.port_max = 61031;
	cfg.pool[0] = 0xcb007105;		/* 203.0.113.5 */
	cfg.n_pool = 1;
	if ((nf = nf_new(&cfg)) == NULL)
		abort();
	if (nf_route_add(nf, 0, 0, 0xcb0071fe) != 0 ||
	    arp_add_static(nf_arp(nf), 1, 0xcb0071fe, gw_mac, now, &out) != 0 ||
	    arp_add_static(nf_arp(nf), 0, 0xc0a80102, gw_mac, now, &out) != 0 ||
	    (cfg.nat && nf_forward_add(nf, IPPROTO_TCP_, 8080, 0xc0a80102, 80, now, &out) != 0))
		abort();
	nf_start(nf, now, &out);
	check_out(&out);
	nf_out_reset(&out);

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
				.data = buf, .len = (uint16_t)len,
				.ifidx = (uint8_t)(op >> 1 & 1),
				.flags = op & 4 ? NF_F_CSUM_PARTIAL : 0,
			};
			nf_input(nf, &f, 1, now, &out);
			check_out(&out);
			free(buf);
			nf_out_reset(&out);
			continue;
		}
		check_out(&out);
		nf_out_reset(&out);
	}
	nf_free(nf);
	return 0;
}

/* SPDX-License-Identifier: ISC */
/*
 * netfn forwarding in process: 64-byte UDP frames, one core, batches of 64.
 *
 * Each round copies the template frames into the receive buffers first (the
 * copy an RX ring makes anyway, and it restores the TTL), then runs the batch
 * through nf_input with the next hop resolved. The figure is frames out per
 * second, copy included.
 *
 *	BENCH netfn_forward_mpps <x> Mpps
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "netfn/csum.h"
#include "netfn/pipeline.h"

#define BATCH	64
#define FLOWS	1024

static double
seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
make_frame(uint8_t *f, const uint8_t dst[6], const uint8_t src[6], uint16_t sport)
{
	memset(f, 0, 64);
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	store_be16(f + 12, ETHERTYPE_IPV4);
	/* 64-byte frame: 14 Ethernet + 20 IP + 8 UDP + 22 payload */
	pkt_build_ipv4(f + 14, 20, IPPROTO_UDP_, 0xc0a80102, 0xcb007102, sport, 64, 30);
	store_be16(f + 34, sport);
	store_be16(f + 36, 9);
	store_be16(f + 38, 30);
}

int
main(int argc, char **argv)
{
	static uint8_t arena[64 * 1024], tmpl[FLOWS][64], buf[BATCH][64];
	static const uint8_t rin[6] = { 2, 0, 0, 0, 1, 1 }, rout[6] = { 2, 0, 0, 0, 2, 1 };
	static const uint8_t cli[6] = { 2, 0, 0, 0, 1, 2 }, srv[6] = { 2, 0, 0, 0, 2, 2 };
	struct nf_frame rx[BATCH], tx[2 * BATCH];
	struct nf_event ev[64];
	struct nf_out out = { .tx = tx, .tx_cap = 2 * BATCH, .arena = arena,
	    .arena_cap = sizeof(arena), .ev = ev, .ev_cap = 64 };
	struct nf_config cfg;
	uint64_t rounds = argc > 1 && strcmp(argv[1], "--quick") == 0 ? 200000 : 1500000;
	uint64_t now = 1700000000000000ULL, sent = 0;
	struct nf *nf;
	double t0, t1;

	nf_config_default(&cfg);
	cfg.n_iface = 2;
	memcpy(cfg.iface[0].mac, rin, 6);
	cfg.iface[0].addr = 0xc0a80101;
	cfg.iface[0].plen = 24;
	memcpy(cfg.iface[1].mac, rout, 6);
	cfg.iface[1].addr = 0xcb007101;
	cfg.iface[1].plen = 24;
	if ((nf = nf_new(&cfg)) == NULL ||
	    arp_add_static(nf_arp(nf), 1, 0xcb007102, srv, now, &out) != 0) {
		fprintf(stderr, "netfn_bench: setup failed\n");
		return 1;
	}
	nf_out_reset(&out);
	for (int i = 0; i < FLOWS; i++)
		make_frame(tmpl[i], rin, cli, (uint16_t)(1024 + i));

	t0 = seconds();
	for (uint64_t r = 0; r < rounds; r++) {
		for (int i = 0; i < BATCH; i++) {
			memcpy(buf[i], tmpl[(r * BATCH + (uint64_t)i) % FLOWS], 64);
			rx[i] = (struct nf_frame){ buf[i], 64, 0, 0 };
		}
		nf_input(nf, rx, BATCH, now, &out);
		sent += out.ntx;
		nf_out_reset(&out);
	}
	t1 = seconds();
	if (sent != rounds * BATCH || nf_stats(nf)->forwarded != sent) {
		fprintf(stderr, "netfn_bench: forwarded %llu of %llu\n",
		    (unsigned long long)sent, (unsigned long long)(rounds * BATCH));
		return 1;
	}
	printf("BENCH netfn_forward_mpps %.1f Mpps\n", (double)sent / (t1 - t0) / 1e6);
	nf_free(nf);
	return 0;
}

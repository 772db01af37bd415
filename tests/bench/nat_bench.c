/* SPDX-License-Identifier: ISC */
/*
 * NAT benchmarks, in process, one core:
 *
 *	BENCH nat_forward_10k_mpps <x> Mpps	established flows through the
 *	BENCH nat_forward_1m_mpps <x> Mpps	whole pipeline, 64-byte frames
 *	BENCH nat_new_sessions_mps <x> M/s	lookup miss, port allocation, insert
 *	BENCH nat_bytes_per_session <x> B	allocator bytes at 1 M sessions
 *	BENCH conntrack_bytes_per_session <x> B	Linux: slab object + hash slot
 *	RATIO nat_memory_vs_conntrack <x>	ours / Linux's (lower is better)
 *
 * Established flows: one frame per flow first creates the sessions, then
 * batches of 64 frames cycle through the flows in a scrambled order (so at
 * 1 M flows nearly every lookup misses the cache, as on a real link). Each
 * frame is written into the receive buffer from one template with its flow's
 * addresses and port patched in (header checksum updated by RFC 1624): the
 * frame is in cache as a fresh RX descriptor's would be, the tables are not.
 *
 * Memory is read from the allocator (mallinfo2: heap and mmapped bytes)
 * before nat_new and after 1 M sessions exist; conntrack's is the
 * nf_conntrack slab object size from /proc/slabinfo (module loaded by the
 * bench if it can) plus one hash bucket pointer, Linux's minimum per entry.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "netfn/csum.h"
#include "netfn/pipeline.h"

#define BATCH	64

static double
seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const uint8_t rin[6] = { 2, 0, 0, 0, 1, 1 }, rout[6] = { 2, 0, 0, 0, 2, 1 };
static const uint8_t cli[6] = { 2, 0, 0, 0, 1, 2 }, srv[6] = { 2, 0, 0, 0, 2, 2 };

/*
 * Flow i: inside endpoint i / 16 (host 10.0.0.2 + i / 16, port 1024 + i % 50000)
 * to remote 198.18.0.1 + i % 16, port 9, via the gateway: 16 sessions share
 * each mapping, as when a host talks to several servers.
 */
static void
make_frame(uint8_t *f, uint32_t i)
{
	uint32_t src = 0x0a000000 | ((i / 16 + 2) & 0xffffff);	/* .0, .1 are not hosts */
	uint32_t dst = 0xc6120001 + i % 16;

	memset(f, 0, 64);
	memcpy(f, rin, 6);
	memcpy(f + 6, cli, 6);
	store_be16(f + 12, ETHERTYPE_IPV4);
	pkt_build_ipv4(f + 14, 20, IPPROTO_UDP_, src, dst, (uint16_t)i, 64, 30);
	store_be16(f + 34, (uint16_t)(1024 + (i / 16) % 50000));
	store_be16(f + 36, 9);
	store_be16(f + 38, 30);
	store_be16(f + 40, 0);		/* no UDP checksum: the NAT path is the same */
}

static struct nf *
make_nf(uint32_t max_sessions, unsigned pool)
{
	static uint8_t arena[64 * 1024];
	struct nf_frame tx[4];
	struct nf_event ev[8];
	struct nf_out out = { .tx = tx, .tx_cap = 4, .arena = arena,
	    .arena_cap = sizeof(arena), .ev = ev, .ev_cap = 8 };
	struct nf_config cfg;
	struct nf *nf;

	nf_config_default(&cfg);
	cfg.n_iface = 2;
	memcpy(cfg.iface[0].mac, rin, 6);
	cfg.iface[0].addr = 0x0a000001;		/* 10.0.0.1/8: inside hosts */
	cfg.iface[0].plen = 8;
	memcpy(cfg.iface[1].mac, rout, 6);
	cfg.iface[1].addr = 0xcb007101;
	cfg.iface[1].plen = 24;
	cfg.nat = true;
	cfg.outside = 1;
	nat_params_default(&cfg.nat_params);
	cfg.nat_params.max_sessions = max_sessions;
	cfg.nat_params.max_per_host = 0;
	for (unsigned i = 0; i < pool; i++)
		cfg.pool[i] = 0xcb007110 + i;
	cfg.n_pool = pool;
	if ((nf = nf_new(&cfg)) == NULL || nf_route_add(nf, 0, 0, 0xcb007102) != 0 ||
	    arp_add_static(nf_arp(nf), 1, 0xcb007102, srv, 1, &out) != 0)
		return NULL;
	return nf;
}

/* Write flow i's frame into f from the template t (flow 0's frame). */
static void
patch_frame(uint8_t *f, const uint8_t *t, uint32_t i)
{
	uint32_t src = 0x0a000000 | ((i / 16 + 2) & 0xffffff), dst = 0xc6120001 + i % 16;
	uint16_t c = load_be16(t + 24);

	memcpy(f, t, 64);
	c = csum_update32(c, load_be32(t + 26), src);
	c = csum_update32(c, load_be32(t + 30), dst);
	c = csum_update16(c, load_be16(t + 18), (uint16_t)i);
	store_be32(f + 26, src);
	store_be32(f + 30, dst);
	store_be16(f + 18, (uint16_t)i);
	store_be16(f + 24, c);
	store_be16(f + 34, (uint16_t)(1024 + (i / 16) % 50000));
}

/* Translate flows [0, nflows) once, then `frames` frames cycling through them. */
static double
forward_mpps(uint32_t nflows, uint64_t frames)
{
	static uint8_t arena[64 * 1024], buf[BATCH][64], tmpl[64];
	struct nf_frame rx[BATCH], tx[2 * BATCH];
	struct nf_event *ev = malloc(sizeof(*ev) * 4 * BATCH);
	struct nf_out out = { .tx = tx, .tx_cap = 2 * BATCH, .arena = arena,
	    .arena_cap = sizeof(arena), .ev = ev, .ev_cap = 4 * BATCH };
	struct nf *nf = make_nf(nflows + 1024, 15);
	uint64_t now = 1700000000000000ULL, sent = 0;
	double t0, t1;

	if (nf == NULL || ev == NULL) {
		fprintf(stderr, "nat_bench: setup failed\n");
		exit(1);
	}
	make_frame(tmpl, 0);
	for (uint64_t r = 0; r * BATCH < nflows; r++) {
		unsigned n = 0;

		for (; n < BATCH && r * BATCH + n < nflows; n++) {
			patch_frame(buf[n], tmpl, (uint32_t)(r * BATCH + n));
			rx[n] = (struct nf_frame){ buf[n], 64, 0, 0 };
		}
		nf_input(nf, rx, n, now, &out);
		nf_out_reset(&out);
	}
	if (nat_count(nf_nat(nf)) != nflows) {
		fprintf(stderr, "nat_bench: %zu sessions for %u flows\n",
		    nat_count(nf_nat(nf)), nflows);
		exit(1);
	}
	t0 = seconds();
	for (uint64_t r = 0; r * BATCH < frames; r++) {
		for (int i = 0; i < BATCH; i++) {
			/* a multiplicative walk visits every flow, in scrambled order */
			uint32_t k = (uint32_t)(((r * BATCH + (uint64_t)i) * 2654435761u) % nflows);

			patch_frame(buf[i], tmpl, k);
			rx[i] = (struct nf_frame){ buf[i], 64, 0, 0 };
		}
		nf_input(nf, rx, BATCH, now, &out);
		sent += out.ntx;
		nf_out_reset(&out);
	}
	t1 = seconds();
	if (sent != (frames + BATCH - 1) / BATCH * BATCH) {
		fprintf(stderr, "nat_bench: %llu of %llu frames translated\n",
		    (unsigned long long)sent, (unsigned long long)frames);
		exit(1);
	}
	nf_free(nf);
	free(ev);
	return (double)sent / (t1 - t0) / 1e6;
}

static size_t
allocated(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

/* New sessions per second, and bytes per session at `n` sessions. */
static void
new_sessions(uint32_t n, double *mps, double *bytes)
{
	static uint8_t arena[4096];
	struct nf_frame tx[4];
	struct nf_event ev[4];
	struct nf_out out = { .tx = tx, .tx_cap = 4, .arena = arena,
	    .arena_cap = sizeof(arena), .ev = ev, .ev_cap = 4 };
	uint32_t ext[NAT_MAX_EXT];
	struct nat_params p;
	size_t before = allocated();
	uint8_t pkt[64];
	struct nat *nat;
	double t0, t1;

	nat_params_default(&p);
	p.max_sessions = n;
	p.max_per_host = 0;
	for (unsigned i = 0; i < NAT_MAX_EXT; i++)
		ext[i] = 0xcb007101 + i;
	/* 16 external addresses x 64 Ki ports hold 1 M mappings */
	if ((nat = nat_new(&p, ext, NAT_MAX_EXT, 42)) == NULL) {
		fprintf(stderr, "nat_bench: nat_new failed\n");
		exit(1);
	}
	t0 = seconds();
	for (uint32_t i = 0; i < n; i++) {
		struct ipv4 h;

		make_frame(pkt, i);
		pkt_parse_ipv4(&h, pkt + 14, 50);
		if (nat_in2out(nat, pkt + 14, &h, 1700000000000000ULL, &out) != DROP_NONE) {
			fprintf(stderr, "nat_bench: session %u refused\n", i);
			exit(1);
		}
		nf_out_reset(&out);
	}
	t1 = seconds();
	*mps = n / (t1 - t0) / 1e6;
	*bytes = (double)(allocated() - before) / nat_count(nat);
	nat_free(nat);
}

/* conntrack's slab object size, or 0 when it cannot be read. */
static unsigned
conntrack_objsize(void)
{
	char line[512];
	unsigned objsize = 0;
	FILE *f;

	/* Maybe built in, maybe not permitted: slabinfo tells either way. */
	(void)!system("modprobe nf_conntrack >/dev/null 2>&1");
	if ((f = fopen("/proc/slabinfo", "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		char name[64];
		unsigned active, num, size;

		if (sscanf(line, "%63s %u %u %u", name, &active, &num, &size) == 4 &&
		    strcmp(name, "nf_conntrack") == 0)
			objsize = size;
	}
	fclose(f);
	return objsize;
}

int
main(int argc, char **argv)
{
	bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0;

	if (argc > 2 && strcmp(argv[1], "--flows") == 0) {	/* for profiling */
		uint32_t n = (uint32_t)strtoul(argv[2], NULL, 10);

		printf("BENCH nat_forward_%u_mpps %.1f Mpps\n", n, forward_mpps(n, 50000000));
		return 0;
	}
	uint32_t big = quick ? 1u << 18 : 1u << 20;
	double mps, bytes;
	unsigned ct;

	printf("BENCH nat_forward_10k_mpps %.1f Mpps\n",
	    forward_mpps(10000, quick ? 20000000 : 100000000));
	printf("BENCH nat_forward_1m_mpps %.1f Mpps\n",
	    forward_mpps(big, quick ? 10000000 : 50000000));
	new_sessions(big, &mps, &bytes);
	printf("BENCH nat_new_sessions_mps %.2f M/s\n", mps);
	printf("BENCH nat_bytes_per_session %.0f B\n", bytes);
	if ((ct = conntrack_objsize()) > 0) {
		/* an entry is one slab object; its two tuple hashes hang off
		 * buckets of one pointer each, about one bucket per entry */
		printf("BENCH conntrack_bytes_per_session %u B\n", ct + 8);
		printf("RATIO nat_memory_vs_conntrack %.2f\n", bytes / (ct + 8));
	} else {
		printf("# conntrack: /proc/slabinfo has no nf_conntrack; no peer figure\n");
	}
	return 0;
}

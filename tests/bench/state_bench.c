/* SPDX-License-Identifier: ISC */
/*
 * The router's state in git, measured in process:
 *
 *	BENCH restart_10k_ms <x> ms	open the repository, load primary with
 *	BENCH restart_100k_ms <x> ms	N NAT sessions into a fresh pipeline
 *	BENCH newflows_state_off_kfps <x> kflows/s	new NAT flows through the
 *	BENCH newflows_state_on_kfps <y> kflows/s	pipeline, events to the writer
 *	RATIO newflows_state_on_vs_off <y/x>
 *	BENCH state_commit_lag_p50_ms <x> ms	event to durable commit
 *	BENCH state_commit_lag_p99_ms <x> ms
 *	BENCH state_events_lost <n> events	ring overflows during the run
 *
 * Restart: the repository is written first through the store (batches of
 * 10 k mappings), then timed from state_open to the last nat_restore: what
 * a restarted router does before its first forwarded packet.
 *
 * New flows: the data path (this thread) sends frames that each open a new
 * NAT session (16 remotes per inside endpoint, so most share a mapping) and
 * hands the events to the state writer (its own thread, on the other core
 * here), which group-commits them with fsync; "off" is the same without the
 * writer. The ratio is what recording costs the data path; the lag and lost
 * events say whether the writer kept up.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "netfn/csum.h"
#include "netfn/pipeline.h"
#include "src/router.h"
#include "src/state.h"
#include "store/store.h"

static double
seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const uint8_t rin[6] = { 2, 0, 0, 0, 1, 1 }, rout[6] = { 2, 0, 0, 0, 2, 1 };
static const uint8_t cli[6] = { 2, 0, 0, 0, 1, 2 }, srv[6] = { 2, 0, 0, 0, 2, 2 };

static struct nf *
make_nf(uint32_t max_sessions)
{
	static uint8_t arena[4096];
	struct nf_frame tx[4];
	struct nf_event ev[8];
	struct nf_out out = { .tx = tx, .tx_cap = 4, .arena = arena,
	    .arena_cap = sizeof(arena), .ev = ev, .ev_cap = 8 };
	struct nf_config cfg;
	struct nf *nf;

	nf_config_default(&cfg);
	cfg.n_iface = 2;
	memcpy(cfg.iface[0].mac, rin, 6);
	cfg.iface[0].addr = 0x0a000001;		/* 10.0.0.1/8 */
	cfg.iface[0].plen = 8;
	memcpy(cfg.iface[1].mac, rout, 6);
	cfg.iface[1].addr = 0xcb007101;		/* 203.0.113.1/24 */
	cfg.iface[1].plen = 24;
	cfg.nat = true;
	cfg.outside = 1;
	nat_params_default(&cfg.nat_params);
	cfg.nat_params.max_sessions = max_sessions;
	cfg.nat_params.max_per_host = 0;
	if ((nf = nf_new(&cfg)) == NULL || nf_route_add(nf, 0, 0, 0xcb007102) != 0 ||
	    arp_add_static(nf_arp(nf), 1, 0xcb007102, srv, 1, &out) != 0) {
		fprintf(stderr, "state_bench: pipeline setup failed\n");
		exit(1);
	}
	return nf;
}

/* A repository holding n NAT mappings, one remote each, in dir. */
static void
make_repo(const char *dir, unsigned n, uint64_t now)
{
	struct store_opts o;
	struct store *st;

	store_opts_default(&o);
	o.router_id = "bench";
	o.batch_max = 1u << 30;		/* commit when we say so */
	if (store_open(&st, dir, &o) < 0) {
		fprintf(stderr, "state_bench: %s: %s\n", dir, store_strerror());
		exit(1);
	}
	for (unsigned i = 0; i < n; i++) {
		struct store_change c = { .op = EV_ADD, .cause = EV_CAUSE_NAT_OUTBOUND,
		    .now_us = now };
		struct store_nat *m = &c.e.nat;

		c.e.table = EV_TABLE_NAT;
		m->proto = IPPROTO_UDP_;
		m->in_ip = 0x0a000002 + i / 32;
		m->in_port = (uint16_t)(1024 + i % 32);
		m->ext_ip = 0xcb007101;
		m->ext_port = (uint16_t)(1024 + i % 60000);
		/* a port per mapping: spread over the 60 000 ports, and ICMP
		 * ids for the rest so no two mappings share one */
		if (i >= 60000) {
			m->proto = IPPROTO_ICMP_;
			m->ext_port = (uint16_t)(1024 + (i - 60000));
		}
		m->nremote = 1;
		m->remote[0].ip = 0xc6120001;
		m->remote[0].port = m->proto == IPPROTO_ICMP_ ? 0 : 53;
		m->remote[0].state = STORE_NAT_ESTABLISHED;
		m->created_us = now;
		m->expires_us = now + 3600ULL * 1000000;
		if (store_record(st, &c) < 0 ||
		    ((i + 1) % 10000 == 0 && (store_commit(st, now, NULL) < 0 ||
		    store_flush(st) < 0))) {
			fprintf(stderr, "state_bench: write: %s\n", store_strerror());
			exit(1);
		}
	}
	if (store_close(st) < 0) {
		fprintf(stderr, "state_bench: close: %s\n", store_strerror());
		exit(1);
	}
}

static double
restart_ms(unsigned n)
{
	char dir[] = "/tmp/gitnet-state-bench-XXXXXX", err[256], cmd[300];
	struct state_opts so;
	struct state_stats st;
	struct state *s;
	struct nf *nf;
	uint64_t now = router_now_us();
	double t0, t1;

	if (mkdtemp(dir) == NULL) {
		perror("state_bench: mkdtemp");
		exit(1);
	}
	rmdir(dir);
	make_repo(dir, n, now);
	nf = make_nf(1u << 18);
	state_opts_default(&so);
	so.dir = dir;
	t0 = seconds();
	if (state_open(&s, &so, err, sizeof(err)) < 0 ||
	    state_restore(s, nf, router_now_us(), err, sizeof(err)) < 0) {
		fprintf(stderr, "state_bench: %s\n", err);
		exit(1);
	}
	t1 = seconds();
	state_get_stats(s, &st);
	if (st.restored_nat != n) {
		fprintf(stderr, "state_bench: restored %llu of %u sessions (%llu skipped)\n",
		    (unsigned long long)st.restored_nat, n,
		    (unsigned long long)st.restore_skipped);
		exit(1);
	}
	state_close(s);
	nf_free(nf);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)!system(cmd);
	return (t1 - t0) * 1000;
}

/* New flows per second through the pipeline, events to the writer or not. */
static double
new_flows(unsigned n, bool on, struct state_stats *stats)
{
	static uint8_t arena[64 * 1024], buf[64][64];
	char dir[] = "/tmp/gitnet-state-bench-XXXXXX", err[256], cmd[300];
	struct nf_frame rx[64], tx[128];
	struct nf_event ev[256];
	struct nf_out out = { .tx = tx, .tx_cap = 128, .arena = arena,
	    .arena_cap = sizeof(arena), .ev = ev, .ev_cap = 256 };
	struct nf *nf = make_nf(1u << 20);
	struct state *s = NULL;
	struct state_opts so;
	uint8_t t[64];
	double t0, t1;

	if (on) {
		if (mkdtemp(dir) == NULL) {
			perror("state_bench: mkdtemp");
			exit(1);
		}
		rmdir(dir);
		state_opts_default(&so);
		so.dir = dir;
		if (state_open(&s, &so, err, sizeof(err)) < 0 || state_start(s) < 0) {
			fprintf(stderr, "state_bench: %s\n", err);
			exit(1);
		}
	}
	memset(t, 0, sizeof(t));
	memcpy(t, rin, 6);
	memcpy(t + 6, cli, 6);
	store_be16(t + 12, ETHERTYPE_IPV4);
	pkt_build_ipv4(t + 14, 20, IPPROTO_UDP_, 0x0a000002, 0xc6120001, 0, 64, 30);
	store_be16(t + 36, 53);
	store_be16(t + 38, 30);
	t0 = seconds();
	for (unsigned i = 0; i < n; i += 64) {
		for (unsigned k = 0; k < 64; k++) {
			/* 16 remotes per inside endpoint, 1024 endpoints per host:
			 * new sessions, mostly on existing mappings, as in life */
			uint32_t f = i + k, src = 0x0a000002 + f / 16384;
			uint32_t dst = 0xc6120001 + f % 16;
			uint16_t c = csum_update32(load_be16(t + 24), 0x0a000002, src);

			memcpy(buf[k], t, 64);
			store_be32(buf[k] + 26, src);
			store_be32(buf[k] + 30, dst);
			store_be16(buf[k] + 24, csum_update32(c, 0xc6120001, dst));
			store_be16(buf[k] + 34, (uint16_t)(1024 + (f / 16) % 1024));
			rx[k] = (struct nf_frame){ buf[k], 64, 0, 0 };
		}
		nf_input(nf, rx, 64, router_now_us(), &out);
		if (s != NULL)
			state_push(s, out.ev, out.nev);
		nf_out_reset(&out);
	}
	t1 = seconds();
	if (s != NULL) {
		/* Let the writer catch up (not timed), then read its figures. */
		for (int w = 0; w < 100; w++) {
			state_get_stats(s, stats);
			if (stats->changes + stats->events_lost >= stats->events_in)
				break;
			usleep(50000);
		}
		usleep(300000);		/* the last group commit window and fsync */
		state_get_stats(s, stats);
		state_close(s);
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		(void)!system(cmd);
	}
	nf_free(nf);
	return n / (t1 - t0) / 1000;
}

int
main(int argc, char **argv)
{
	bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
	unsigned flows = quick ? 65536 : 262144;
	struct state_stats st = { 0 };
	double off, on;

	router_clock_init();
	printf("BENCH restart_10k_ms %.1f ms\n", restart_ms(10000));
	if (!quick)
		printf("BENCH restart_100k_ms %.1f ms\n", restart_ms(100000));
	off = new_flows(flows, false, &st);
	on = new_flows(flows, true, &st);
	printf("BENCH newflows_state_off_kfps %.1f kflows/s\n", off);
	printf("BENCH newflows_state_on_kfps %.1f kflows/s\n", on);
	printf("RATIO newflows_state_on_vs_off %.2f\n", on / off);
	printf("BENCH state_commit_lag_p50_ms %.1f ms\n", st.lag_p50_us / 1000.0);
	printf("BENCH state_commit_lag_p99_ms %.1f ms\n", st.lag_p99_us / 1000.0);
	printf("BENCH state_events_lost %llu events\n", (unsigned long long)st.events_lost);
	printf("# state: %llu events, %llu changes in %llu commits\n",
	    (unsigned long long)st.events_in, (unsigned long long)st.changes,
	    (unsigned long long)st.commits);
	return 0;
}

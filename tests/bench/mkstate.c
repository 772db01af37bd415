/* SPDX-License-Identifier: ISC */
/*
 * mkstate: a state repository holding N live NAT sessions, written through
 * the store as a router would have written it, for a router to restore
 * (tests/bench/memory.sh: the resident set with 100 k sessions).
 *
 *	mkstate DIR N INSIDE_NET EXT_IP REMOTE_IP
 *
 * e.g. mkstate /tmp/s 100000 192.168.1.0 203.0.113.1 203.0.113.2 for the
 * topology of tests/netns/lib.sh. Session k is a mapping of inside host
 * INSIDE_NET + 10 + k / 500 (so 200 hosts for 100 k, 500 each: under the
 * default per-host limit), port 10000 + k % 500, to EXT_IP, TCP port
 * 1024 + k for the first 60000 and UDP port 1024 + k - 60000 after (so
 * that new UDP flows still find free ports), with one established remote,
 * REMOTE_IP port 80 (TCP) or 9 (UDP); created now, expiring in two hours
 * (sessions restored that way live for their stored expiry). Commits of
 * 10 k changes, then compacted (store_compact) as the router's background
 * compaction would have; the repository must not exist.
 * Prints "sessions N" and the seconds it took.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "netfn/event.h"
#include "netfn/wire.h"
#include "src/router.h"
#include "store/store.h"

static uint32_t
addr(const char *s)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1) {
		fprintf(stderr, "mkstate: '%s' is not an IPv4 address\n", s);
		exit(2);
	}
	return ntohl(a.s_addr);
}

int
main(int argc, char **argv)
{
	struct store_opts o;
	struct store *st;
	uint64_t now;
	uint32_t net, ext, rem;
	unsigned long n;
	struct timespec t0, t1;

	if (argc != 6 || (n = strtoul(argv[2], NULL, 10)) == 0 || n > 120000) {
		fprintf(stderr, "usage: mkstate DIR N(<=120000) INSIDE_NET EXT_IP REMOTE_IP\n");
		return 2;
	}
	net = addr(argv[3]);
	ext = addr(argv[4]);
	rem = addr(argv[5]);
	router_clock_init();
	now = router_now_us();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	store_opts_default(&o);
	o.router_id = "mkstate";
	o.batch_max = 1u << 30;		/* commit when we say so */
	if (store_open(&st, argv[1], &o) < 0) {
		fprintf(stderr, "mkstate: %s: %s\n", argv[1], store_strerror());
		return 1;
	}
	for (unsigned long k = 0; k < n; k++) {
		struct store_change c = { .op = EV_ADD, .cause = EV_CAUSE_NAT_OUTBOUND,
		    .now_us = now };
		struct store_nat *m = &c.e.nat;
		bool udp = k >= 60000;

		c.e.table = EV_TABLE_NAT;
		m->proto = udp ? IPPROTO_UDP_ : IPPROTO_TCP_;
		m->in_ip = net + 10 + (uint32_t)(k / 500);
		m->in_port = (uint16_t)(10000 + k % 500);
		m->ext_ip = ext;
		m->ext_port = (uint16_t)(1024 + (udp ? k - 60000 : k));
		m->nremote = 1;
		m->remote[0].ip = rem;
		m->remote[0].port = udp ? 9 : 80;
		m->remote[0].state = STORE_NAT_ESTABLISHED;
		m->created_us = now;
		m->expires_us = now + 7200ULL * 1000000;
		if (store_record(st, &c) < 0 ||
		    ((k + 1) % 10000 == 0 && (store_commit(st, now, NULL) < 0 ||
		    store_flush(st) < 0))) {
			fprintf(stderr, "mkstate: write: %s\n", store_strerror());
			return 1;
		}
	}
	/* Compacted, as a router that ran for a minute leaves its history. */
	if (store_commit(st, now, NULL) < 0 || store_compact(st) < 0 || store_close(st) < 0) {
		fprintf(stderr, "mkstate: close: %s\n", store_strerror());
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("sessions %lu\n", n);
	fprintf(stderr, "mkstate: %lu sessions in %.1f s\n", n,
	    (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	return 0;
}

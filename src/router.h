/* SPDX-License-Identifier: ISC */
/*
 * The running router: its interfaces, pipeline, event sink and control
 * socket, and the reports it gives about them.
 */
#ifndef SRC_ROUTER_H
#define SRC_ROUTER_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "io.h"
#include "netfn/pipeline.h"
#include "sink.h"
#include "state.h"

#define ROUTER_NIF	2	/* inside (ifidx 0), outside (ifidx 1) */

struct router {
	struct router_config	cfg;
	struct io		*io[ROUTER_NIF];
	const char		*ifnames[ROUTER_NIF];
	struct nf		*nf;
	struct sink		sink;
	struct state		*state;		/* NULL: --state none */
	struct metrics		*metrics;	/* NULL: no --metrics */
	int			ctl_fd;		/* listening control socket, -1 none */
	uint64_t		tx_lost, ev_lost;
	uint64_t		drops_logged;	/* bit per drop reason already logged */
	uint64_t		started_us;
};

/*
 * The gitnet-router program (router_main.c): parse argv (argv[0] is the
 * program name), open the interfaces, state and control socket, route until
 * SIGTERM or SIGINT, close everything. Returns the exit status: 0 stopped by
 * a signal (or --help), 1 failed to start or run, 2 bad arguments. Blocks
 * SIGTERM, SIGINT, SIGUSR1 and SIGHUP in the calling thread and leaves them
 * blocked. May be called again in the same process once it has returned
 * (nothing carries over but the state repository on disk); not from two
 * threads at once.
 */
int router_main(int argc, char **argv);
/*
 * SIGHUP reloads: router_main rereads the configuration (the same argv, so
 * the --config file), and if it is valid closes everything and opens again
 * with it, restoring the tables from the state repository, as the guest's
 * in-process restart does; sessions keep their external ports, and the
 * rings of interfaces it keeps stay open, frames waiting in them. An invalid
 * configuration is logged and the router goes on with the old one; one that
 * fails to open (a missing interface) is logged and the old one reopened.
 */
/* The signal (SIGTERM, SIGINT) that stopped the last router_main, else 0. */
int router_main_stop_signal(void);

/* Microseconds since the epoch, monotonic (clock.c). */
void router_clock_init(void);
uint64_t router_now_us(void);

/* Counters as `name value` lines. */
void router_report_stats(const struct router *r, int fd);
/* ARP cache in the shape of `ip neigh`. */
void router_report_arp(struct router *r, int fd);
/* NAT sessions in the shape of `conntrack -L`, or as a JSON array. */
void router_report_nat(struct router *r, int fd, bool json);
/* Routing table, one `PREFIX/PLEN via GW dev DEV` or `... dev DEV` per line. */
void router_report_routes(const struct router *r, int fd);

/*
 * Control socket: a Unix stream socket at path; a client writes one command
 * line (stats, arp, nat, nat-json, routes, help) and reads the answer until
 * EOF. A socket
 * file left by a dead router is replaced; a live one is an error.
 */
int ctl_open(const char *path, char *err, size_t errlen);
/* Serve one pending connection (never waits more than 100 ms on a client). */
void ctl_serve(struct router *r);
void ctl_close(int fd, const char *path);

#endif

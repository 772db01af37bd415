/*
 * The running router: its interfaces, pipeline, event sink and control
 * socket, and the reports it gives about them.
 */
#ifndef SRC_ROUTER_H
#define SRC_ROUTER_H

#include <stdint.h>

#include "config.h"
#include "io.h"
#include "netfn/pipeline.h"
#include "sink.h"

#define ROUTER_NIF	2	/* inside (ifidx 0), outside (ifidx 1) */

struct router {
	struct router_config	cfg;
	struct io		*io[ROUTER_NIF];
	const char		*ifnames[ROUTER_NIF];
	struct nf		*nf;
	struct sink		sink;
	int			ctl_fd;		/* listening control socket, -1 none */
	uint64_t		tx_lost, ev_lost;
	uint64_t		started_us;
};

/* Counters as `name value` lines. */
void router_report_stats(const struct router *r, int fd);
/* ARP cache in the shape of `ip neigh`. */
void router_report_arp(struct router *r, int fd);
/* Routing table, one `PREFIX/PLEN via GW dev DEV` or `... dev DEV` per line. */
void router_report_routes(const struct router *r, int fd);

/*
 * Control socket: a Unix stream socket at path; a client writes one command
 * line (stats, arp, routes, help) and reads the answer until EOF. A socket
 * file left by a dead router is replaced; a live one is an error.
 */
int ctl_open(const char *path, char *err, size_t errlen);
/* Serve one pending connection (never waits more than 100 ms on a client). */
void ctl_serve(struct router *r);
void ctl_close(int fd, const char *path);

#endif

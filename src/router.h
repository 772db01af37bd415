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
#include "mem.h"
#include "netfn/pipeline.h"
#include "sink.h"
#include "state.h"

#define ROUTER_NIF	2	/* inside (ifidx 0), outside (ifidx 1) */

struct router {
	struct router_config	cfg;
	struct mem_plan		mem;		/* router_open's; ram 0: none (a replay) */
	struct io		*io[ROUTER_NIF];
	const char		*ifnames[ROUTER_NIF];
	struct nf		*nf;
	struct sink		sink;
	struct state		*state;		/* NULL: --state none */
	struct ctl		*ctl;		/* the control socket (ctl.c) */
	struct metrics		*metrics;	/* NULL: no --metrics */
	struct archive		*archive;	/* NULL: no --history-push */
	struct sync		*sync;		/* NULL: no --sync */
	bool			standby;	/* forwards nothing, owns no address */
	char			peer[CONFIG_ID_MAX];	/* the router a standby watches */
	uint64_t		peer_gen;	/* its fetch loaded (sync_peer.head_gen) */
	char			warm_hex[41];	/* the commit the warm tables are from */
	char			active_hex[41];	/* primary when it last became active */
	uint64_t		takeovers, ha_next_us;
	uint64_t		warm_loads;	/* loads of the peer's fetched state */
	bool			step_down;	/* superseded: reload as the peer's standby */
	uint64_t		remote_ok_from_us;	/* the sync remote answering since (0: not) */
	bool			remote_outage;	/* down since the peer last beat steadily */
	unsigned		beats_after_outage;	/* the peer's beats seen since */
	uint64_t		peer_idle_from_us;	/* the peer stands by too, since */
#define HA_PERIODS	8
	uint64_t		peer_beat_ms;	/* the peer's last beat time (its clock) */
	uint64_t		peer_period[HA_PERIODS];	/* between its beats, recent */
	unsigned		peer_nperiod;
	int			ctl_fd;		/* what the loop polls for it, -1 none */
	uint64_t		tx_lost, ev_lost;
	uint64_t		drops_logged;	/* bit per drop reason already logged */
	uint8_t			io_logged;	/* bit per interface: rx_truncated logged */
	uint64_t		started_us;
	/*
	 * The clock: router_now_us() (the wall, monotonic), or for a replay
	 * a simulated one, sim_us, that the loop advances to each next thing
	 * due on the capture's timeline (router_time).
	 */
	bool			simulated;
	uint64_t		sim_us;
	const char		*state_branch, *state_base;	/* replay: state_opts */
	unsigned		window_ms, tick_ms;	/* state writer: 100, 1000 */
	uint64_t		seed;		/* replay: the pipeline's seed */
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
/*
 * Gratuitous ARP for the router's addresses now (the control socket's
 * `announce`: after a resume or a migration, neighbours may point at where
 * the router was). Returns how many were sent.
 */
unsigned router_announce(struct router *r);
/* The signal (SIGTERM, SIGINT) that stopped the last router_main, else 0. */
int router_main_stop_signal(void);

/*
 * gitnet replay-pcap (replay.c): the router's own loop, timers, group
 * commit and ticks over a capture, on the capture's clock, with the setup
 * REV's meta/router records; its history goes to a new branch from REV.
 */
struct router_replay_opts {
	const char	*repo, *at, *branch, *capture, *output;	/* output may be NULL */
	int		side;		/* the captured link: 0 inside, 1 outside */
	const char	*other;		/* the other link's capture, or NULL */
	uint8_t		mac[ROUTER_NIF][ETH_ALEN];
	bool		have_mac[ROUTER_NIF];
	uint64_t	seed;
	unsigned	window_ms;	/* 0: meta/router's */
};

struct router_replay_report {
	char		at_hex[41], head_hex[41];
	uint64_t	restored_arp, restored_nat, restored_skipped;
	uint64_t	fed[ROUTER_NIF], own, oversize, sent[ROUTER_NIF];
	struct nf_stats	nf;
	uint64_t	events, not_recorded, commits, ticks;
};

/*
 * Returns 0, or the tool's exit status with the reason in err: 2 for bad
 * input (unknown revision, no meta/router, a corrupt capture, an existing
 * branch), 1 for a failure (the repository held by a router, I/O).
 */
int router_replay(const struct router_replay_opts *o, struct router_replay_report *rep,
    char *err, size_t errlen);

/*
 * The loop on a simulated clock (router_main.c): r is set up as for run()
 * with pcap interfaces and r->simulated; runs until every interface's input
 * is exhausted, then settles the state writer.
 */
int router_run_simulated(struct router *r);
/* Build r->nf from r->cfg and r->io[] (MACs, MTUs), routes included. */
int router_pipeline_open(struct router *r, char *err, size_t errlen);
/* Open the state repository and restore its tables into r->nf. */
int router_state_open(struct router *r, char *err, size_t errlen);
/* Close state, control socket, interfaces and pipeline. */
void router_close(struct router *r);
/* Send out's frames, hand its events to the sink, reset it. */
void router_flush(struct router *r, struct nf_out *out);
/* The config's permanent neighbours into r->nf (start, takeover). */
int router_static(struct router *r, struct nf_out *out);

/*
 * A standby fed by git (ha.c, sync.h). router_ha_open after the state is
 * open: with --sync, starts the sync threads and settles the role (a
 * standby of --standby ID, or of another router found active on the
 * remote; else active). router_ha_turn, from the loop: a standby loads each
 * fetched state of its peer (warm tables), and takes over when the peer
 * falls silent; router_takeover does it now (the control command): the
 * peer's last state merged into primary as one commit, the tables from it,
 * the writer started, gratuitous ARP for every shared address, forwarding.
 * 0 and a line in msg, or -1 and the reason.
 */
int router_ha_open(struct router *r, char *err, size_t errlen);
void router_ha_close(struct router *r);
void router_ha_turn(struct router *r, uint64_t now);
int router_takeover(struct router *r, const char *why, char *msg, size_t len);
void router_report_sync(const struct router *r, int fd);

/* Microseconds since the epoch, monotonic (clock.c). */
void router_clock_init(void);
uint64_t router_now_us(void);

/* The router's time: simulated for a replay, else router_now_us(). */
static inline uint64_t
router_time(const struct router *r)
{
	return r->simulated ? r->sim_us : router_now_us();
}

/* Counters as `name value` lines. */
void router_report_stats(const struct router *r, int fd);
/* ARP cache in the shape of `ip neigh`. */
void router_report_arp(struct router *r, int fd);
/* NAT sessions in the shape of `conntrack -L`, or as a JSON array. */
void router_report_nat(struct router *r, int fd, bool json);
/* Routing table, one `PREFIX/PLEN via GW dev DEV` or `... dev DEV` per line. */
void router_report_routes(const struct router *r, int fd);

/*
 * Control socket: a Unix stream socket at r->cfg.control, mode 0600; a
 * client writes one command line (stats, arp, nat, nat-json, routes, help)
 * and reads the answer until EOF. A socket file left by a dead router is
 * replaced; a live one, or a file that is not a socket, is an error. Sets
 * r->ctl and r->ctl_fd (an fd the loop polls for readable).
 */
int ctl_open(struct router *r, char *err, size_t errlen);
/*
 * Serve what is ready: accept, read commands, send answers, drop idle and
 * stalled clients. Never blocks. Call when r->ctl_fd is readable and about
 * once a second (the timeouts).
 */
void ctl_serve(struct router *r);
void ctl_close(struct router *r);

#endif

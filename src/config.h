/* SPDX-License-Identifier: ISC */
/*
 * gitnet-router configuration: a file of `key value` lines, then command-line
 * flags over it.
 *
 * File format (examples/router.conf is the documented example):
 *
 *	# comment; blank lines ignored; one setting per line
 *	inside   DEV=ADDR/PLEN		e.g. inside veth-in=192.168.1.1/24
 *	outside  DEV=ADDR/PLEN
 *	gateway  IP			default route via IP (optional)
 *	route    PREFIX/PLEN=IP		static route, repeatable
 *	arp      IP=MAC			permanent ARP entry, repeatable
 *	state    DIR			state repository (default /var/lib/gitnet/state.git)
 *	control  PATH			control socket (default $RUNTIME_DIRECTORY/router.sock
 *					under systemd, else /run/gitnet-router.sock)
 *	arp.base_reachable_ms N		and the other arp.* timers below
 *	arp.delay_first_probe_ms N
 *	arp.retrans_ms N
 *	arp.ucast_probes N
 *	arp.mcast_probes N
 *	arp.gc_stale_ms N
 *	arp.max_entries N
 *	arp.unres_qlen N		packets queued per unresolved neighbour
 *	arp.unres_total N		packets queued for all neighbours
 *	icmp.rate N			ICMP errors per second (token bucket)
 *	icmp.burst N
 *	nat on|off			masquerade behind the outside address (on)
 *	nat.pool IP			extra external address, repeatable (<= 15)
 *	nat.filtering MODE		address-port (default) | address | endpoint
 *	nat.udp_timeout_s N		300
 *	nat.tcp_established_timeout_s N	7440
 *	nat.tcp_transitory_timeout_s N	240
 *	nat.icmp_timeout_s N		60
 *	nat.max_sessions N		1048576, or what fits in a third of
 *					the memory (src/mem.h)
 *	memory SIZE			size tables and caches for SIZE bytes
 *					(64M, 1G; default: the system's, mem.h)
 *	nat.max_per_host N		16384 (0: no limit)
 *	nat.port_min N, nat.port_max N	1024, 65535: dynamic external ports
 *	forward PROTO:PORT=IP:PORT	static port forward, repeatable,
 *					e.g. forward tcp:8080=192.168.1.2:80
 *	metrics ADDR:PORT		Prometheus endpoint, [ADDR6]:PORT for IPv6
 *	history.push URL		push history to a git remote, repeatable (<= 8):
 *					an absolute path, file://, git://, ssh
 *	history.push_interval_s N	at most one push per N seconds (5)
 *	sync URL			a git remote shared with a standby: primary
 *					goes to refs/heads/routers/<router_id>
 *	router_id ID			this router's name there ([A-Za-z0-9._-])
 *	standby ID			start as the standby of router ID
 *	takeover_after MS		take over when ID is silent this long (1000)
 *	preempt on|off			take back from the peer once synced (off)
 *
 * Flags (gitnet-router --help prints the authoritative list) override the
 * file: a scalar flag replaces the file's value; any --route, --arp,
 * --nat-pool or --forward flag replaces the file's whole list of that kind.
 * NAT flags: --no-nat, --nat-pool IP, --nat-filtering MODE,
 * --forward PROTO:PORT=IP:PORT, --nat-max-sessions N, --nat-max-per-host N,
 * --udp-timeout S, --tcp-timeout S (established), --tcp-transitory-timeout S,
 * --icmp-timeout S. Errors name the file, line
 * and reason ("router.conf:7: route: gateway '10.0.0.300' is not an IPv4
 * address"), or the flag.
 */
#ifndef SRC_CONFIG_H
#define SRC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netfn/arp.h"
#include "netfn/nat.h"
#include "netfn/wire.h"
#include "src/hlimit.h"

#define CONFIG_MAX_ROUTES	64
#define CONFIG_MAX_FORWARDS	64
#define CONFIG_MAX_POOL		(NAT_MAX_EXT - 1)
#define CONFIG_MAX_STATIC_ARP	64
#define CONFIG_PATH_MAX		256
#define CONFIG_MAX_PUSH		8	/* = ARCHIVE_MAX */
#define CONFIG_URL_MAX		256	/* = ARCHIVE_URL_MAX */
#define CONFIG_ID_MAX		64	/* a router ID, NUL included (= SYNC_ID_MAX) */

struct config_iface {
	char		dev[16];	/* IFNAMSIZ */
	uint32_t	addr;
	uint8_t		plen;
	bool		set;
};

struct config_route {
	uint32_t	prefix;
	uint8_t		plen;
	uint32_t	gw;
};

struct config_arp {
	uint32_t	ip;
	uint8_t		mac[ETH_ALEN];
};

struct config_forward {
	uint8_t		proto;		/* IPPROTO_TCP_ or IPPROTO_UDP_ */
	uint16_t	ext_port;
	uint32_t	int_ip;
	uint16_t	int_port;
};

struct router_config {
	struct config_iface	inside, outside;
	uint32_t		gateway;	/* 0: none */
	struct config_route	routes[CONFIG_MAX_ROUTES];
	unsigned		nroutes;
	struct config_arp	static_arp[CONFIG_MAX_STATIC_ARP];
	unsigned		nstatic_arp;
	char			state_dir[CONFIG_PATH_MAX];
	char			control[CONFIG_PATH_MAX];
	char			config_file[CONFIG_PATH_MAX];	/* "" : none */
	struct arp_params	arp;
	uint32_t		icmp_rate, icmp_burst;
	bool			nat;		/* default true; --no-nat, nat off */
	uint32_t		nat_pool[CONFIG_MAX_POOL];
	unsigned		n_nat_pool;
	struct nat_params	nat_params;	/* nat_params_default() */
	bool			nat_max_sessions_set;	/* configured: mem.c keeps it */
	uint64_t		memory;		/* bytes to size from; 0: detect (mem.h) */
	struct config_forward	forwards[CONFIG_MAX_FORWARDS];
	unsigned		nforwards;
	bool			gso;		/* default true; --gso off */
	struct hlimit_params	history_inbound;	/* hlimit_params_default() */
	char			history_push[CONFIG_MAX_PUSH][CONFIG_URL_MAX];
	unsigned		nhistory_push;	/* --history-push, history.push */
	uint32_t		history_push_interval_s;	/* 5 */
	/* A standby fed by git (src/sync.h): "" when unset. */
	char			sync_url[CONFIG_URL_MAX];	/* --sync, sync */
	char			router_id[CONFIG_ID_MAX];	/* --router-id; "": hostname */
	char			standby[CONFIG_ID_MAX];		/* --standby: the peer */
	uint32_t		takeover_after_ms;		/* 1000 */
	bool			preempt;			/* --preempt */

	char			metrics[64];	/* ADDR:PORT, "": no endpoint */
	uint64_t		history_keep_s;		/* default 7 days */
	uint64_t		history_max_bytes;	/* 0: none; AUTO: fs size / 4 */
	uint64_t		history_compact_s;	/* default 60 */
	bool			stats_on_exit;	/* --stats */
	int			verbose;	/* -v, repeatable */
};

#define CONFIG_HISTORY_BYTES_AUTO	UINT64_MAX

/* Defaults: no interfaces, arp_params_default(), state and control paths. */
void config_defaults(struct router_config *c);

/*
 * Parse a config file into c (on top of what c holds). Returns 0, or -1 with
 * "FILE:LINE: reason" (or "FILE: reason" when it cannot be read) in err.
 */
int config_load_file(struct router_config *c, const char *path,
    char *err, size_t errlen);

/*
 * Parse argv: first finds --config FILE and loads it, then applies every
 * other flag over it. Returns 0 to run, 1 when --help or --version printed
 * their text to stdout (exit 0), or -1 with the reason in err (exit 2).
 * Checks the result too: inside and outside are required and must not
 * overlap, every route's gateway must lie on a connected subnet.
 */
int config_parse_args(struct router_config *c, int argc, char **argv,
    char *err, size_t errlen);

/*
 * Split a checked `metrics` value, ADDR:PORT or [ADDR6]:PORT, into the
 * address text and the port. 0, or -1 when s has not that shape.
 */
int config_split_listen(const char *s, char host[64], uint16_t *port);

/* The --help text. */
extern const char config_usage[];

#endif

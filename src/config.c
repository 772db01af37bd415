/* SPDX-License-Identifier: ISC */
/*
 * gitnet-router configuration: the config file, the command-line flags over
 * it, and the checks on the result.
 *
 * One table (config_keys) names every setting, its kind and its range; the
 * file parser and the flag parser both go through config_apply, so a value
 * means the same and fails with the same reason wherever it is written. File
 * errors read "FILE:LINE: key: reason", flag errors "--flag: reason", and the
 * reason always quotes the offending value.
 *
 * Invariants of a struct router_config that config_parse_args returned 0 for:
 * inside and outside are set, on distinct devices with valid names, on
 * subnets that do not overlap, at addresses that are neither the network nor
 * the broadcast address of their subnet (plen <= 30); every route prefix has
 * no host bits and is unique; the gateway and every route's gateway lie on a
 * connected subnet and are not the router's own addresses; every static ARP
 * entry is a unicast MAC for a unique neighbour address on a connected
 * subnet; every number is inside the range its table row gives, and
 * nat_params.port_min <= port_max. With NAT on, every pool address is a
 * unique unicast address, neither interface's address nor a next hop, off
 * the inside subnet (and not the outside subnet's network or broadcast
 * address); every forward is tcp or udp, has ports 1..65535, a (proto,
 * ext_port) and a (proto, int_ip, int_port) no other forward has (nat_forward_add
 * refuses either twice), and an int_ip that is a host of the inside subnet
 * other than the router. With NAT off there is no pool and no forward.
 *
 * Choices made here (a demanding user would ask): a scalar key set twice in
 * one file is an error (a silent "last one wins" hides typos), whereas a
 * flag given twice follows the Unix habit and the last one wins; a route with
 * exactly a connected subnet's prefix is refused (it would replace the
 * connected route); 0.0.0.0/0 as a static route together with `gateway` is
 * refused (two default routes); timers are capped at one day and the ARP
 * table at 2^24 entries, so that a typo gives a message here rather than an
 * overflow or a failed allocation later; NAT timeouts are capped at a week
 * and the session table at 2^26 (nat_new's own limit). The RFC minimum
 * timeouts (RFC 4787 REQ-5: UDP >= 120 s; RFC 5382 REQ-5: established TCP
 * >= 7440 s) are not enforced: the defaults meet them, and shorter values
 * are allowed so that tests can watch sessions expire. A forward's protocol
 * is matched without regard to case ("TCP" is as clear as "tcp").
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <sys/un.h>

#include "src/config.h"
#include "src/version.h"

#define CONFIG_LINE_MAX		1023	/* bytes, newline excluded */
#define CONFIG_WHY_MAX		1280	/* a quoted 1023-byte value fits */
#define CONFIG_DAY_MS		86400000u
#define CONFIG_ARP_MAX		(1u << 24)
#define CONFIG_WEEK_S		(86400u * 7)
#define CONFIG_NAT_SESSIONS_MAX	(1u << 26)	/* nat_new refuses more */
#define CONFIG_HISTORY_RATE_MAX	1000000u	/* events per second, or a burst */

/* sun_path includes its terminating NUL: 107 usable bytes on Linux. */
#define CONFIG_SOCK_PATH_MAX	(sizeof(((struct sockaddr_un *)0)->sun_path) - 1)

enum config_kind {
	KEY_IFACE,		/* DEV=ADDR/PLEN */
	KEY_GATEWAY,		/* IP */
	KEY_ROUTE,		/* PREFIX/PLEN=IP, appends */
	KEY_ARP,		/* IP=MAC, appends */
	KEY_PATH,		/* string of at most max bytes */
	KEY_U32,		/* decimal in min..max */
	KEY_U16,
	KEY_ONOFF,		/* on | off, into a bool */
	KEY_FILTER,		/* address-port | address | endpoint, into a uint8_t */
	KEY_POOL,		/* IP, appends to nat_pool */
	KEY_FORWARD,		/* PROTO:PORT=IP:PORT, appends */
	KEY_LISTEN,		/* ADDR:PORT or [ADDR6]:PORT, a string */
	KEY_DURATION,		/* 30s, 10min, 2h, 7d, 1w (or plain seconds): uint64_t s */
	KEY_BYTES,		/* 4096, 64K, 32M, 1G (binary units): uint64_t bytes */
	KEY_PUSH,		/* a git URL, appends to history_push */
};

struct config_key {
	const char		*name;
	const char		*flag;		/* long option setting it, or NULL */
	enum config_kind	 kind;
	size_t			 off;		/* field in struct router_config */
	uint32_t		 min, max;	/* KEY_U*: range; KEY_PATH: length */
};

#define CFG_OFF(f)	offsetof(struct router_config, f)

static const struct config_key config_keys[] = {
	{ "inside",	"inside",	KEY_IFACE,	CFG_OFF(inside), 0, 0 },
	{ "outside",	"outside",	KEY_IFACE,	CFG_OFF(outside), 0, 0 },
	{ "gateway",	"gateway",	KEY_GATEWAY,	CFG_OFF(gateway), 0, 0 },
	{ "route",	"route",	KEY_ROUTE,	0, 0, 0 },
	{ "arp",	"arp",		KEY_ARP,	0, 0, 0 },
	{ "state",	"state",	KEY_PATH,	CFG_OFF(state_dir), 0, CONFIG_PATH_MAX - 1 },
	{ "control",	"control",	KEY_PATH,	CFG_OFF(control), 0, CONFIG_SOCK_PATH_MAX },
	{ "arp.base_reachable_ms", NULL, KEY_U32,	CFG_OFF(arp.base_reachable_ms), 1, CONFIG_DAY_MS },
	/* 0 is meaningful: probe at once, as Linux allows. */
	{ "arp.delay_first_probe_ms", NULL, KEY_U32,	CFG_OFF(arp.delay_first_probe_ms), 0, CONFIG_DAY_MS },
	{ "arp.retrans_ms",	NULL,	KEY_U32,	CFG_OFF(arp.retrans_ms), 1, CONFIG_DAY_MS },
	{ "arp.ucast_probes",	NULL,	KEY_U16,	CFG_OFF(arp.ucast_probes), 1, UINT16_MAX },
	/* 0 broadcast probes would leave every new neighbour unresolvable. */
	{ "arp.mcast_probes",	NULL,	KEY_U16,	CFG_OFF(arp.mcast_probes), 1, UINT16_MAX },
	{ "arp.gc_stale_ms",	NULL,	KEY_U32,	CFG_OFF(arp.gc_stale_ms), 1, CONFIG_DAY_MS },
	{ "arp.max_entries",	NULL,	KEY_U32,	CFG_OFF(arp.max_entries), 1, CONFIG_ARP_MAX },
	/* arp_new refuses zero-sized queues. */
	{ "arp.unres_qlen",	NULL,	KEY_U16,	CFG_OFF(arp.unres_qlen), 1, UINT16_MAX },
	{ "arp.unres_total",	NULL,	KEY_U16,	CFG_OFF(arp.unres_total), 1, UINT16_MAX },
	{ "icmp.rate",		NULL,	KEY_U32,	CFG_OFF(icmp_rate), 1, UINT32_MAX },
	{ "icmp.burst",		NULL,	KEY_U32,	CFG_OFF(icmp_burst), 1, UINT32_MAX },
	/* --no-nat is handled on its own: a flag without a value. */
	{ "nat",		NULL,	KEY_ONOFF,	CFG_OFF(nat), 0, 0 },
	{ "nat.pool",		"nat-pool", KEY_POOL,	0, 0, 0 },
	{ "nat.filtering",	"nat-filtering", KEY_FILTER, CFG_OFF(nat_params.filtering), 0, 0 },
	/* Below the RFC minimums on purpose: see the file comment. nat_new
	 * refuses 0. */
	{ "nat.udp_timeout_s",	"udp-timeout", KEY_U32,	CFG_OFF(nat_params.udp_timeout_s),
	    1, CONFIG_WEEK_S },
	{ "nat.tcp_established_timeout_s", "tcp-timeout", KEY_U32,
	    CFG_OFF(nat_params.tcp_est_timeout_s), 1, CONFIG_WEEK_S },
	{ "nat.tcp_transitory_timeout_s", "tcp-transitory-timeout", KEY_U32,
	    CFG_OFF(nat_params.tcp_trans_timeout_s), 1, CONFIG_WEEK_S },
	{ "nat.icmp_timeout_s",	"icmp-timeout",	KEY_U32, CFG_OFF(nat_params.icmp_timeout_s),
	    1, CONFIG_WEEK_S },
	{ "nat.max_sessions",	"nat-max-sessions", KEY_U32, CFG_OFF(nat_params.max_sessions),
	    1, CONFIG_NAT_SESSIONS_MAX },
	/* 0: no per-host limit (nat.c skips the host table). */
	{ "nat.max_per_host",	"nat-max-per-host", KEY_U32, CFG_OFF(nat_params.max_per_host),
	    0, CONFIG_NAT_SESSIONS_MAX },
	/* Below 1024 stays for inside ports below 1024 (RFC 4787 REQ-3). */
	{ "nat.port_min",	NULL,	KEY_U16,	CFG_OFF(nat_params.port_min), 1024, UINT16_MAX },
	{ "nat.port_max",	NULL,	KEY_U16,	CFG_OFF(nat_params.port_max), 1024, UINT16_MAX },
	{ "forward",		"forward", KEY_FORWARD,	0, 0, 0 },
	{ "gso",		"gso",	KEY_ONOFF,	CFG_OFF(gso), 0, 0 },
	/* History of unsolicited inbound traffic (hlimit.h); a rate of 0 is
	 * no limit, a burst is at least one event. */
	{ "history.inbound_rate", "history-inbound-rate", KEY_U32,
	    CFG_OFF(history_inbound.rate), 0, CONFIG_HISTORY_RATE_MAX },
	{ "history.inbound_burst", "history-inbound-burst", KEY_U32,
	    CFG_OFF(history_inbound.burst), 1, CONFIG_HISTORY_RATE_MAX },
	{ "history.inbound_total_rate", "history-inbound-total-rate", KEY_U32,
	    CFG_OFF(history_inbound.total_rate), 0, CONFIG_HISTORY_RATE_MAX },
	{ "history.inbound_total_burst", "history-inbound-total-burst", KEY_U32,
	    CFG_OFF(history_inbound.total_burst), 1, CONFIG_HISTORY_RATE_MAX },

	{ "metrics",		"metrics", KEY_LISTEN,	CFG_OFF(metrics), 0, 0 },
	{ "history.keep",	"history-keep", KEY_DURATION, CFG_OFF(history_keep_s), 1, 0 },
	{ "history.max_bytes",	"history-max-bytes", KEY_BYTES, CFG_OFF(history_max_bytes), 0, 0 },
	{ "history.compact",	"history-compact", KEY_DURATION, CFG_OFF(history_compact_s), 1, 0 },
	{ "history.push",	"history-push", KEY_PUSH, 0, 0, 0 },
	{ "history.push_interval_s", "history-push-interval", KEY_U32,
	    CFG_OFF(history_push_interval_s), 1, 86400 },
	/* Below 16 MB nothing the router sizes would change (mem.c's minimums). */
	{ "memory",		"memory", KEY_BYTES,	CFG_OFF(memory), 16u << 20, 0 },
	/* A standby fed by git (src/sync.h). IDs are checked in config_check. */
	{ "sync",		"sync",	KEY_PATH,	CFG_OFF(sync_url), 0, CONFIG_URL_MAX - 1 },
	{ "router_id",		"router-id", KEY_PATH,	CFG_OFF(router_id), 0, CONFIG_ID_MAX - 1 },
	{ "standby",		"standby", KEY_PATH,	CFG_OFF(standby), 0, CONFIG_ID_MAX - 1 },
	{ "takeover_after",	"takeover-after", KEY_U32, CFG_OFF(takeover_after_ms),
	    50, 3600 * 1000 },
	{ "preempt",		NULL,	KEY_ONOFF,	CFG_OFF(preempt), 0, 0 },
};

#define CONFIG_NKEYS	(sizeof(config_keys) / sizeof(config_keys[0]))

enum {
	OPT_INSIDE = 256,
	OPT_OUTSIDE,
	OPT_GATEWAY,
	OPT_ROUTE,
	OPT_ARP,
	OPT_CONFIG,
	OPT_STATE,
	OPT_CONTROL,
	OPT_STATS,
	OPT_VERSION,
	OPT_NO_NAT,
	OPT_NAT_POOL,
	OPT_NAT_FILTERING,
	OPT_FORWARD,
	OPT_NAT_MAX_SESSIONS,
	OPT_NAT_MAX_PER_HOST,
	OPT_UDP_TIMEOUT,
	OPT_TCP_TIMEOUT,
	OPT_TCP_TRANS_TIMEOUT,
	OPT_ICMP_TIMEOUT,
	OPT_GSO,
	OPT_HISTORY_INBOUND_RATE,
	OPT_HISTORY_INBOUND_BURST,
	OPT_HISTORY_INBOUND_TOTAL_RATE,
	OPT_HISTORY_INBOUND_TOTAL_BURST,

	OPT_METRICS,
	OPT_HISTORY_KEEP,
	OPT_HISTORY_MAX_BYTES,
	OPT_HISTORY_COMPACT,
	OPT_HISTORY_PUSH,
	OPT_HISTORY_PUSH_INTERVAL,
	OPT_MEMORY,
	OPT_SYNC,
	OPT_ROUTER_ID,
	OPT_STANDBY,
	OPT_TAKEOVER_AFTER,
	OPT_PREEMPT,
};

/* A long option that takes a value sets the config_keys row whose flag
 * column is its name. */
static const struct option config_options[] = {
	{ "inside",	required_argument,	NULL, OPT_INSIDE },
	{ "outside",	required_argument,	NULL, OPT_OUTSIDE },
	{ "gateway",	required_argument,	NULL, OPT_GATEWAY },
	{ "route",	required_argument,	NULL, OPT_ROUTE },
	{ "arp",	required_argument,	NULL, OPT_ARP },
	{ "config",	required_argument,	NULL, OPT_CONFIG },
	{ "state",	required_argument,	NULL, OPT_STATE },
	{ "control",	required_argument,	NULL, OPT_CONTROL },
	{ "stats",	no_argument,		NULL, OPT_STATS },
	{ "no-nat",	no_argument,		NULL, OPT_NO_NAT },
	{ "nat-pool",	required_argument,	NULL, OPT_NAT_POOL },
	{ "nat-filtering", required_argument,	NULL, OPT_NAT_FILTERING },
	{ "forward",	required_argument,	NULL, OPT_FORWARD },
	{ "nat-max-sessions", required_argument, NULL, OPT_NAT_MAX_SESSIONS },
	{ "nat-max-per-host", required_argument, NULL, OPT_NAT_MAX_PER_HOST },
	{ "udp-timeout", required_argument,	NULL, OPT_UDP_TIMEOUT },
	{ "tcp-timeout", required_argument,	NULL, OPT_TCP_TIMEOUT },
	{ "tcp-transitory-timeout", required_argument, NULL, OPT_TCP_TRANS_TIMEOUT },
	{ "icmp-timeout", required_argument,	NULL, OPT_ICMP_TIMEOUT },
	{ "gso",	required_argument,	NULL, OPT_GSO },
	{ "history-keep", required_argument,	NULL, OPT_HISTORY_KEEP },
	{ "history-max-bytes", required_argument, NULL, OPT_HISTORY_MAX_BYTES },
	{ "history-compact", required_argument, NULL, OPT_HISTORY_COMPACT },
	{ "history-inbound-rate", required_argument, NULL, OPT_HISTORY_INBOUND_RATE },
	{ "history-inbound-burst", required_argument, NULL, OPT_HISTORY_INBOUND_BURST },
	{ "history-inbound-total-rate", required_argument, NULL,
	    OPT_HISTORY_INBOUND_TOTAL_RATE },
	{ "history-inbound-total-burst", required_argument, NULL,
	    OPT_HISTORY_INBOUND_TOTAL_BURST },

	{ "metrics",	required_argument,	NULL, OPT_METRICS },
	{ "history-push", required_argument,	NULL, OPT_HISTORY_PUSH },
	{ "history-push-interval", required_argument, NULL, OPT_HISTORY_PUSH_INTERVAL },
	{ "memory",	required_argument,	NULL, OPT_MEMORY },
	{ "sync",	required_argument,	NULL, OPT_SYNC },
	{ "router-id",	required_argument,	NULL, OPT_ROUTER_ID },
	{ "standby",	required_argument,	NULL, OPT_STANDBY },
	{ "takeover-after", required_argument,	NULL, OPT_TAKEOVER_AFTER },
	{ "preempt",	no_argument,		NULL, OPT_PREEMPT },
	{ "verbose",	no_argument,		NULL, 'v' },
	{ "help",	no_argument,		NULL, 'h' },
	{ "version",	no_argument,		NULL, OPT_VERSION },
	{ NULL,		0,			NULL, 0 },
};

/* '+': stop at the first non-option (no argv permutation); ':': report a
 * missing argument as ':' rather than '?'. */
static const char config_optstring[] = "+:hv";

const char config_usage[] =
"Usage: gitnet-router --inside DEV=ADDR/PLEN --outside DEV=ADDR/PLEN [options]\n"
"\n"
"IPv4 router and NAT between an inside and an outside interface, in userspace\n"
"on AF_PACKET rings: the interfaces need no kernel address, the router owns\n"
"ADDR. Every change to its ARP cache and NAT table is committed to a git\n"
"repository (--state), from which it resumes after a restart.\n"
"\n"
"  --inside DEV=ADDR/PLEN   inside interface and its address (e.g. veth-in=192.168.1.1/24)\n"
"  --outside DEV=ADDR/PLEN  outside interface and its address (e.g. veth-out=203.0.113.1/24)\n"
"  --gateway IP             default route via IP, on the inside or outside subnet\n"
"  --route PREFIX/PLEN=IP   static route via IP; repeatable; replaces the file's routes\n"
"  --arp IP=MAC             permanent ARP entry; repeatable; replaces the file's entries\n"
"  --config FILE            read settings from FILE first; the other flags override it\n"
"  --state DIR              state repository, a bare git repository created if\n"
"                           absent (default /var/lib/gitnet/state.git); 'none'\n"
"                           keeps no history and restores nothing\n"
"  --control PATH           control socket (default $RUNTIME_DIRECTORY/router.sock\n"
"                           under systemd, else /run/gitnet-router.sock)\n"
"  --metrics ADDR:PORT      serve Prometheus metrics over HTTP at ADDR:PORT/metrics\n"
"                           (e.g. 127.0.0.1:9750, [::1]:9750); a kernel socket in\n"
"                           the router's own network namespace\n"
"  --stats                  print the counters on exit\n"
"  --gso on|off             on (default): TCP/UDP super-frames from offloading hosts\n"
"                           leave whole, for the kernel or NIC to segment; off: the\n"
"                           router cuts them into segments itself\n"
"  --memory SIZE            size the tables and caches for SIZE bytes of memory\n"
"                           (64M, 1G; at least 16M); default: the system's memory,\n"
"                           or its memory cgroup's limit if lower. Within it: the\n"
"                           NAT table (see --nat-max-sessions), the state writer's\n"
"                           event ring (1/64), the packet rings (1/32), the store's\n"
"                           tree cache and libgit2's object cache (1/16 each) and\n"
"                           mapped packs (1/8); logged at start (router: memory:)\n"
"  -v, --verbose            log more; repeat for more detail\n"
"  -h, --help               print this help and exit\n"
"      --version            print the version and exit\n"
"\n"
"NAT (on by default: inside hosts leave by the outside or a pool address):\n"
"  --no-nat                 route only, translate nothing\n"
"  --nat-pool IP            another external address besides the outside one (each\n"
"                           inside host keeps one); repeatable; replaces the file's pool\n"
"  --nat-filtering MODE     inbound allowed to a mapping from the remote's address and\n"
"                           port (address-port, default), any port of its address\n"
"                           (address), or anyone (endpoint); RFC 4787\n"
"  --forward PROTO:PORT=IP:PORT\n"
"                           forward tcp or udp PORT of the outside address to the\n"
"                           inside host IP:PORT; repeatable; replaces the file's forwards\n"
"  --nat-max-sessions N     session table size, at most 67108864 (default 1048576,\n"
"                           or as many as fit in a third of --memory if fewer:\n"
"                           131072 in 64M, 524288 in 256M; 133 MB at 1048576)\n"
"  --nat-max-per-host N     sessions per inside host (default 16384; 0: no limit)\n"
"  --udp-timeout S          idle UDP session lifetime in seconds, 1..604800 (default 300)\n"
"  --tcp-timeout S          idle established TCP session lifetime (default 7440)\n"
"  --tcp-transitory-timeout S\n"
"                           TCP session opening, closing or reset (default 240)\n"
"  --icmp-timeout S         idle ICMP query session lifetime (default 60)\n"
"\n"
"History (the state repository) of unsolicited inbound traffic: the table\n"
"changes of sessions a remote opened and the inside has not answered (port\n"
"forwards, address or endpoint filtering) are recorded at most at these rates;\n"
"the rest is forwarded all the same, counted (history_events_limited) and not\n"
"committed:\n"
"  --history-inbound-rate N events per second per remote address (default 2;\n"
"                           0: no per-remote limit)\n"
"  --history-inbound-burst N\n"
"                           and its burst (default 10)\n"
"  --history-inbound-total-rate N\n"
"                           events per second from all remotes (default 20; 0: no\n"
"                           total limit)\n"
"  --history-inbound-total-burst N\n"
"                           and its burst (default 200)\n"
"History on disk (README: History on a router's disk):\n"
"  --history-keep DURATION  drop history older than this (30s, 10min, 2h, 7d; default\n"
"                           7d), online, as a shallow cut: every entry alive at the\n"
"                           cut is kept, commit ids do not change\n"
"  --history-max-bytes N    and keep the repository's packs under N bytes (K, M, G:\n"
"                           binary; default a quarter of the state filesystem's size\n"
"                           at start; 0: no bound)\n"
"  --history-compact DURATION\n"
"                           rewrite what was committed since, with deltas and\n"
"                           compression, this often (default 60s; longer packs\n"
"                           tighter, shorter keeps the disk's peak lower)\n"
"  --history-push URL       push the history (branch primary) to the git remote URL\n"
"                           as it grows: an absolute path, file://, git:// (git\n"
"                           daemon --enable=receive-pack) or ssh (host:path,\n"
"                           ssh://); never forced; retried with backoff while the\n"
"                           remote is down; repeatable (at most 8); replaces the\n"
"                           file's list\n"
"  --history-push-interval S\n"
"                           push at most every S seconds (default 5)\n"
"\n"
"A standby fed by git (the sync remote is any URL git push and clone take):\n"
"  --sync URL               push primary to refs/heads/routers/ID at URL after each\n"
"                           commit, with a heartbeat (refs/gitnet/alive/ID/...)\n"
"  --router-id ID           this router's name on the remote (letters, digits, .-_)\n"
"  --standby ID             start as router ID's standby: forward nothing, own no\n"
"                           address, keep ID's tables loaded from the remote, take\n"
"                           over when it falls silent or on the `takeover' command\n"
"  --takeover-after MS      silence of the active router that starts a takeover\n"
"                           (default 1000)\n"
"  --preempt                seeing another router active at start, sync from it,\n"
"                           then take over (default: stay its standby)\n"
"\n"
"The config file holds `key value` lines: the keys above without the dashes\n"
"(inside, outside, gateway, route, arp, state, control, forward, metrics),\n"
"history.push, history.push_interval_s, sync, router_id, standby,\n"
"takeover_after, `preempt on|off',\n"
"`nat on|off',\n"
"nat.pool, nat.filtering, the timeouts nat.udp_timeout_s,\n"
"nat.tcp_established_timeout_s, nat.tcp_transitory_timeout_s and\n"
"nat.icmp_timeout_s, nat.max_sessions, nat.max_per_host, the dynamic port range\n"
"nat.port_min and nat.port_max (1024..65535), history.keep,\n"
"history.max_bytes and history.compact, memory, and the tunables\n"
"arp.base_reachable_ms, arp.delay_first_probe_ms, arp.retrans_ms,\n"
"arp.ucast_probes, arp.mcast_probes, arp.gc_stale_ms, arp.max_entries,\n"
"arp.unres_qlen, arp.unres_total, icmp.rate and icmp.burst, and\n"
"history.inbound_rate, history.inbound_burst, history.inbound_total_rate and\n"
"history.inbound_total_burst (the flags above). The format is\n"
"described in README and examples/router.conf.\n"
"\n"
"SIGHUP rereads the config file and restarts in-process from the state\n"
"repository, sessions kept; a config with an error is logged and not applied.\n"
"\n"
"Exit status: 0 after running or printing help, 2 on a bad flag or config.\n";

/* Format into buf (which may be NULL or empty) and return -1, for `return
 * config_fail(...)` at the point a failure is found. */
static int config_fail(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
config_fail(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (buf != NULL && len > 0) {
		va_start(ap, fmt);
		vsnprintf(buf, len, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static uint32_t
config_mask(uint8_t plen)
{
	return plen == 0 ? 0 : UINT32_MAX << (32 - plen);
}

/* Not 0/8 ("this network"), 127/8 (loopback), 224/4 (multicast) or 240/4
 * (reserved, broadcast included): none can be an interface or a neighbour. */
static bool
config_is_unicast(uint32_t a)
{
	uint8_t top = (uint8_t)(a >> 24);

	return top != 0 && top != 127 && top < 224;
}

static bool
config_on_subnet(const struct config_iface *ifc, uint32_t a)
{
	return ifc->set && ((a ^ ifc->addr) & config_mask(ifc->plen)) == 0;
}

/* Strict unsigned decimal: digits only, no sign, no blanks, min..max. */
static int
config_parse_num(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	unsigned long long v;
	char *end;

	if (*s == '\0' || strspn(s, "0123456789") != strlen(s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

int
config_split_listen(const char *s, char host[64], uint16_t *port)
{
	const char *colon;
	uint32_t v;
	size_t n;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL || close[1] != ':')
			return -1;
		n = (size_t)(close - s - 1);
		s++;
		colon = close + 1;
	} else {
		if ((colon = strrchr(s, ':')) == NULL)
			return -1;
		n = (size_t)(colon - s);
	}
	if (n == 0 || n >= 64 || config_parse_num(colon + 1, 1, UINT16_MAX, &v) < 0)
		return -1;
	memcpy(host, s, n);
	host[n] = '\0';
	*port = (uint16_t)v;
	return 0;
}

/* Linux dev_valid_name: 1..15 bytes, not "." or "..", no '/', ':' or blank. */
static int
config_parse_dev(char dev[16], const char *s, size_t n, char *why, size_t wl)
{
	size_t i;

	if (n == 0)
		return config_fail(why, wl, "'%s' has no device name before '='", s);
	if (n > 15)
		return config_fail(why, wl, "device name '%.*s' is longer than 15 characters",
		    (int)n, s);
	if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return config_fail(why, wl, "device name '%.*s' is not valid", (int)n, s);
	for (i = 0; i < n; i++)
		if (s[i] == '/' || s[i] == ':' || isspace((unsigned char)s[i]) ||
		    !isprint((unsigned char)s[i]))
			return config_fail(why, wl, "device name '%.*s' is not valid",
			    (int)n, s);
	memcpy(dev, s, n);
	dev[n] = '\0';
	return 0;
}

/* "A.B.C.D/PLEN" with plen in minplen..32. what names the address. */
static int
config_parse_cidr(const char *s, uint8_t minplen, const char *what,
    uint32_t *addr, uint8_t *plen, char *why, size_t wl)
{
	char buf[CONFIG_LINE_MAX + 1];
	const char *slash;
	uint32_t v;

	if ((slash = strchr(s, '/')) == NULL)
		return config_fail(why, wl, "'%s' lacks /PLEN", s);
	if ((size_t)(slash - s) >= sizeof(buf))
		return config_fail(why, wl, "%s '%s' is not an IPv4 address", what, s);
	memcpy(buf, s, (size_t)(slash - s));
	buf[slash - s] = '\0';
	if (ipv4_pton(buf, addr) < 0)
		return config_fail(why, wl, "%s '%s' is not an IPv4 address", what, buf);
	if (slash[1] == '\0' || strspn(slash + 1, "0123456789") != strlen(slash + 1))
		return config_fail(why, wl, "prefix length '%s' is not a number",
		    slash + 1);
	if (config_parse_num(slash + 1, minplen, 32, &v) < 0)
		return config_fail(why, wl, "prefix length '%s' is out of range %u..32",
		    slash + 1, minplen);
	*plen = (uint8_t)v;
	return 0;
}

/* Neither 0/8, loopback, multicast, nor the network or broadcast address of a
 * subnet with room for hosts (/31 and /32 have no such addresses, RFC 3021). */
static int
config_check_host(uint32_t a, uint32_t net_of, uint8_t plen, const char *what,
    char *why, size_t wl)
{
	char sa[16], sn[16];
	uint32_t m = config_mask(plen);

	if (!config_is_unicast(a))
		return config_fail(why, wl, "%s %s is not a unicast address", what,
		    ipv4_ntop(a, sa));
	if (plen <= 30 && a == (net_of & m))
		return config_fail(why, wl, "%s %s is the network address of %s/%u",
		    what, ipv4_ntop(a, sa), ipv4_ntop(net_of & m, sn), plen);
	if (plen <= 30 && a == ((net_of & m) | ~m))
		return config_fail(why, wl, "%s %s is the broadcast address of %s/%u",
		    what, ipv4_ntop(a, sa), ipv4_ntop(net_of & m, sn), plen);
	return 0;
}

static int
config_parse_iface(struct config_iface *ifc, const char *s, char *why, size_t wl)
{
	struct config_iface n = { .set = true };
	const char *eq;

	if ((eq = strchr(s, '=')) == NULL)
		return config_fail(why, wl, "'%s' lacks =ADDR/PLEN", s);
	if (config_parse_dev(n.dev, s, (size_t)(eq - s), why, wl) < 0 ||
	    config_parse_cidr(eq + 1, 1, "address", &n.addr, &n.plen, why, wl) < 0 ||
	    config_check_host(n.addr, n.addr, n.plen, "address", why, wl) < 0)
		return -1;
	*ifc = n;
	return 0;
}

static int
config_parse_gateway(uint32_t *gw, const char *s, char *why, size_t wl)
{
	char sa[16];
	uint32_t a;

	if (ipv4_pton(s, &a) < 0)
		return config_fail(why, wl, "'%s' is not an IPv4 address", s);
	if (!config_is_unicast(a))
		return config_fail(why, wl, "%s is not a unicast address", ipv4_ntop(a, sa));
	*gw = a;
	return 0;
}

static int
config_add_route(struct router_config *c, const char *s, char *why, size_t wl)
{
	struct config_route r;
	char sp[16], sn[16], sg[16];
	const char *eq;
	char buf[CONFIG_LINE_MAX + 1];
	unsigned i;

	if ((eq = strchr(s, '=')) == NULL)
		return config_fail(why, wl, "'%s' lacks =GATEWAY", s);
	if ((size_t)(eq - s) >= sizeof(buf))
		return config_fail(why, wl, "prefix '%s' is not valid", s);
	memcpy(buf, s, (size_t)(eq - s));
	buf[eq - s] = '\0';
	if (config_parse_cidr(buf, 0, "prefix", &r.prefix, &r.plen, why, wl) < 0)
		return -1;
	if ((r.prefix & ~config_mask(r.plen)) != 0)
		return config_fail(why, wl, "prefix %s/%u has host bits set (did you mean %s/%u?)",
		    ipv4_ntop(r.prefix, sp), r.plen,
		    ipv4_ntop(r.prefix & config_mask(r.plen), sn), r.plen);
	if (ipv4_pton(eq + 1, &r.gw) < 0)
		return config_fail(why, wl, "gateway '%s' is not an IPv4 address", eq + 1);
	if (!config_is_unicast(r.gw))
		return config_fail(why, wl, "gateway %s is not a unicast address",
		    ipv4_ntop(r.gw, sg));
	for (i = 0; i < c->nroutes; i++)
		if (c->routes[i].prefix == r.prefix && c->routes[i].plen == r.plen)
			return config_fail(why, wl, "%s/%u is already routed via %s",
			    ipv4_ntop(r.prefix, sp), r.plen,
			    ipv4_ntop(c->routes[i].gw, sg));
	if (c->nroutes >= CONFIG_MAX_ROUTES)
		return config_fail(why, wl, "more than %d routes", CONFIG_MAX_ROUTES);
	c->routes[c->nroutes++] = r;
	return 0;
}

static int
config_add_arp(struct router_config *c, const char *s, char *why, size_t wl)
{
	struct config_arp a;
	char buf[CONFIG_LINE_MAX + 1], sa[16];
	const char *eq;
	unsigned i;

	if ((eq = strchr(s, '=')) == NULL)
		return config_fail(why, wl, "'%s' lacks =MAC", s);
	if ((size_t)(eq - s) >= sizeof(buf))
		return config_fail(why, wl, "address '%s' is not valid", s);
	memcpy(buf, s, (size_t)(eq - s));
	buf[eq - s] = '\0';
	if (ipv4_pton(buf, &a.ip) < 0)
		return config_fail(why, wl, "address '%s' is not an IPv4 address", buf);
	if (!config_is_unicast(a.ip))
		return config_fail(why, wl, "address %s is not a unicast address",
		    ipv4_ntop(a.ip, sa));
	if (mac_pton(eq + 1, a.mac) < 0)
		return config_fail(why, wl,
		    "MAC '%s' is not a MAC address (aa:bb:cc:dd:ee:ff)", eq + 1);
	/* A group address would be answered by many hosts; zero by none. */
	if (eth_is_multicast(a.mac) || memcmp(a.mac, "\0\0\0\0\0\0", ETH_ALEN) == 0)
		return config_fail(why, wl, "MAC %s is not a unicast MAC", eq + 1);
	for (i = 0; i < c->nstatic_arp; i++)
		if (c->static_arp[i].ip == a.ip)
			return config_fail(why, wl, "%s already has a static entry", buf);
	if (c->nstatic_arp >= CONFIG_MAX_STATIC_ARP)
		return config_fail(why, wl, "more than %d static entries",
		    CONFIG_MAX_STATIC_ARP);
	c->static_arp[c->nstatic_arp++] = a;
	return 0;
}

static int
config_add_pool(struct router_config *c, const char *s, char *why, size_t wl)
{
	char sa[16];
	uint32_t a;
	unsigned i;

	if (ipv4_pton(s, &a) < 0)
		return config_fail(why, wl, "'%s' is not an IPv4 address", s);
	if (!config_is_unicast(a))
		return config_fail(why, wl, "%s is not a unicast address", ipv4_ntop(a, sa));
	for (i = 0; i < c->n_nat_pool; i++)
		if (c->nat_pool[i] == a)
			return config_fail(why, wl, "%s is already in the pool",
			    ipv4_ntop(a, sa));
	if (c->n_nat_pool >= CONFIG_MAX_POOL)
		return config_fail(why, wl, "more than %d pool addresses", CONFIG_MAX_POOL);
	c->nat_pool[c->n_nat_pool++] = a;
	return 0;
}


/* "PROTO:PORT=IP:PORT": the external port of the outside address, the inside
 * endpoint. Where the inside address lies is config_check's business. */
static int
config_add_forward(struct router_config *c, const char *s, char *why, size_t wl)
{
	struct config_forward f;
	char buf[CONFIG_LINE_MAX + 1], sa[16], sb[16], pname[8];
	const char *eq, *colon, *port;
	uint32_t v;
	unsigned i;

	if (strlen(s) >= sizeof(buf))		/* only a flag can be this long */
		return config_fail(why, wl, "'%.32s...' is longer than %d bytes", s,
		    CONFIG_LINE_MAX);
	if ((eq = strchr(s, '=')) == NULL)
		return config_fail(why, wl, "'%s' lacks =IP:PORT", s);
	if ((colon = memchr(s, ':', (size_t)(eq - s))) == NULL)
		return config_fail(why, wl, "'%s' lacks PROTO: before the port", s);
	for (size_t k = 0; k < sizeof(pname) && s + k < colon; k++)
		pname[k] = (char)tolower((unsigned char)s[k]);
	if ((size_t)(colon - s) >= sizeof(pname) ||
	    ip_proto_parse(&f.proto, pname, (size_t)(colon - s)) < 0 ||
	    (f.proto != IPPROTO_TCP_ && f.proto != IPPROTO_UDP_))
		return config_fail(why, wl, "protocol '%.*s' is not tcp or udp",
		    (int)(colon - s), s);
	memcpy(buf, colon + 1, (size_t)(eq - colon - 1));
	buf[eq - colon - 1] = '\0';
	if (buf[0] == '\0' || strspn(buf, "0123456789") != strlen(buf))
		return config_fail(why, wl, "external port '%s' is not a number", buf);
	if (config_parse_num(buf, 1, UINT16_MAX, &v) < 0)
		return config_fail(why, wl, "external port '%s' is out of range 1..65535",
		    buf);
	f.ext_port = (uint16_t)v;
	/* The last ':' so that the message below names the address whole. */
	if ((port = strrchr(eq + 1, ':')) == NULL)
		return config_fail(why, wl, "'%s' lacks :PORT after the address", s);
	memcpy(buf, eq + 1, (size_t)(port - eq - 1));
	buf[port - eq - 1] = '\0';
	if (ipv4_pton(buf, &f.int_ip) < 0)
		return config_fail(why, wl, "address '%s' is not an IPv4 address", buf);
	if (!config_is_unicast(f.int_ip))
		return config_fail(why, wl, "address %s is not a unicast address",
		    ipv4_ntop(f.int_ip, sa));
	port++;
	if (*port == '\0' || strspn(port, "0123456789") != strlen(port))
		return config_fail(why, wl, "internal port '%s' is not a number", port);
	if (config_parse_num(port, 1, UINT16_MAX, &v) < 0)
		return config_fail(why, wl, "internal port '%s' is out of range 1..65535",
		    port);
	f.int_port = (uint16_t)v;
	/* nat_forward_add would refuse either twice (-EEXIST): one external
	 * port has one owner, one inside endpoint one mapping (RFC 4787 REQ-1). */
	for (i = 0; i < c->nforwards; i++) {
		const struct config_forward *o = &c->forwards[i];

		if (o->proto != f.proto)
			continue;
		if (o->ext_port == f.ext_port)
			return config_fail(why, wl, "%s port %u is already forwarded to %s:%u",
			    ip_proto_name(f.proto), f.ext_port,
			    ipv4_ntop(o->int_ip, sa), o->int_port);
		if (o->int_ip == f.int_ip && o->int_port == f.int_port)
			return config_fail(why, wl,
			    "%s %s:%u is already forwarded from port %u",
			    ip_proto_name(f.proto), ipv4_ntop(f.int_ip, sb),
			    f.int_port, o->ext_port);
	}
	if (c->nforwards >= CONFIG_MAX_FORWARDS)
		return config_fail(why, wl, "more than %d forwards", CONFIG_MAX_FORWARDS);
	c->forwards[c->nforwards++] = f;
	return 0;
}

/*
 * A git URL the archive pushes to: what libgit2 pushes to and stock git
 * serves. An absolute path (the router's working directory is nobody's
 * business: / under systemd), file://, git://, ssh:// (and git's
 * git+ssh:// spellings), or scp-like [user@]host:path. http(s) would need
 * credentials the router does not keep.
 */
static int
config_check_url(const char *s, char *why, size_t wl)
{
	static const char *const schemes[] = { "file://", "git://", "ssh://",
	    "git+ssh://", "ssh+git://" };
	const char *colon = strchr(s, ':'), *slash = strchr(s, '/');
	size_t n = strlen(s);
	bool ok = s[0] == '/';
	unsigned i;

	if (n == 0)
		return config_fail(why, wl, "empty URL");
	if (n >= CONFIG_URL_MAX)
		return config_fail(why, wl, "URL '%.32s...' is longer than %d bytes", s,
		    CONFIG_URL_MAX - 1);
	for (i = 0; i < n; i++)
		if (isspace((unsigned char)s[i]) || !isprint((unsigned char)s[i]))
			return config_fail(why, wl, "URL '%s' has a blank or control character", s);
	for (i = 0; !ok && i < sizeof(schemes) / sizeof(schemes[0]); i++)
		ok = strncmp(s, schemes[i], strlen(schemes[i])) == 0 && s[strlen(schemes[i])] != '\0';
	/* scp-like: a ':' before any '/', and not a scheme of another kind. */
	if (!ok && colon != NULL && colon != s && (slash == NULL || colon < slash) &&
	    strstr(s, "://") == NULL && colon[1] != '\0')
		ok = true;
	if (!ok) {
		if (strstr(s, "://") != NULL)
			return config_fail(why, wl, "URL '%s': only file://, git:// and ssh:// "
			    "are pushed to (http(s) needs credentials)", s);
		return config_fail(why, wl, "'%s' is not an absolute path or a git URL", s);
	}
	return 0;
}

static int
config_add_push(struct router_config *c, const char *s, char *why, size_t wl)
{
	size_t n = strlen(s);
	unsigned i;

	if (config_check_url(s, why, wl) < 0)
		return -1;
	for (i = 0; i < c->nhistory_push; i++)
		if (strcmp(c->history_push[i], s) == 0)
			return config_fail(why, wl, "'%s' is already a history.push URL", s);
	if (c->nhistory_push >= CONFIG_MAX_PUSH)
		return config_fail(why, wl, "more than %d history.push URLs", CONFIG_MAX_PUSH);
	memcpy(c->history_push[c->nhistory_push++], s, n + 1);
	return 0;
}

static const struct config_key *
config_key_find(const char *name)
{
	size_t i;

	for (i = 0; i < CONFIG_NKEYS; i++)
		if (strcmp(config_keys[i].name, name) == 0)
			return &config_keys[i];
	return NULL;
}

static const struct config_key *
config_key_by_flag(const char *flag)
{
	size_t i;

	for (i = 0; i < CONFIG_NKEYS; i++)
		if (config_keys[i].flag != NULL && strcmp(config_keys[i].flag, flag) == 0)
			return &config_keys[i];
	return NULL;
}

/* Keys that add to a list rather than set a value. */
static bool
config_key_repeats(const struct config_key *k)
{
	return k->kind == KEY_ROUTE || k->kind == KEY_ARP || k->kind == KEY_POOL ||
	    k->kind == KEY_FORWARD || k->kind == KEY_PUSH;
}

/* Empty the list a repeating key adds to. */
static void
config_list_clear(struct router_config *c, const struct config_key *k)
{
	switch (k->kind) {
	case KEY_ROUTE:		c->nroutes = 0; break;
	case KEY_ARP:		c->nstatic_arp = 0; break;
	case KEY_POOL:		c->n_nat_pool = 0; break;
	case KEY_FORWARD:	c->nforwards = 0; break;
	case KEY_PUSH:		c->nhistory_push = 0; break;
	default:		break;
	}
}

/*
 * Apply value s of key k to c. Returns 0, or -1 with the reason (without the
 * key or the place, which the caller knows) in why. c is unchanged on error.
 */
static int
config_apply(struct router_config *c, const struct config_key *k, const char *s,
    char *why, size_t wl)
{
	char *base = (char *)c + k->off;
	uint32_t v;
	size_t n;

	switch (k->kind) {
	case KEY_IFACE:
		return config_parse_iface((struct config_iface *)(void *)base, s, why, wl);
	case KEY_GATEWAY:
		return config_parse_gateway(&c->gateway, s, why, wl);
	case KEY_ROUTE:
		return config_add_route(c, s, why, wl);
	case KEY_ARP:
		return config_add_arp(c, s, why, wl);
	case KEY_POOL:
		return config_add_pool(c, s, why, wl);
	case KEY_FORWARD:
		return config_add_forward(c, s, why, wl);
	case KEY_PUSH:
		return config_add_push(c, s, why, wl);
	case KEY_ONOFF:
		if (strcmp(s, "on") == 0)
			*(bool *)(void *)base = true;
		else if (strcmp(s, "off") == 0)
			*(bool *)(void *)base = false;
		else
			return config_fail(why, wl, "'%s' is not on or off", s);
		return 0;
	case KEY_FILTER:
		if (strcmp(s, "address-port") == 0)
			*(uint8_t *)base = NAT_FILTER_ADDRESS_PORT;
		else if (strcmp(s, "address") == 0)
			*(uint8_t *)base = NAT_FILTER_ADDRESS;
		else if (strcmp(s, "endpoint") == 0)
			*(uint8_t *)base = NAT_FILTER_ENDPOINT;
		else
			return config_fail(why, wl,
			    "'%s' is not address-port, address or endpoint", s);
		return 0;
	case KEY_LISTEN: {
		char host[64];
		uint8_t a[16];
		uint16_t port;

		if (config_split_listen(s, host, &port) < 0)
			return config_fail(why, wl, "'%s' is not ADDR:PORT (port 1..65535; "
			    "[ADDR]:PORT for IPv6)", s);
		if (inet_pton(s[0] == '[' ? AF_INET6 : AF_INET, host, a) != 1)
			return config_fail(why, wl, "'%s' is not an IP%s address", host,
			    s[0] == '[' ? "v6" : "v4");
		if (strlen(s) >= sizeof(c->metrics))
			return config_fail(why, wl, "'%s' is too long", s);
		memcpy(base, s, strlen(s) + 1);
		return 0;
	}
	case KEY_PATH:
		if ((n = strlen(s)) == 0)
			return config_fail(why, wl, "path is empty");
		if (n > k->max)
			return config_fail(why, wl, "path '%s' is longer than %u bytes",
			    s, k->max);
		memcpy(base, s, n + 1);
		return 0;
	case KEY_DURATION:
	case KEY_BYTES: {
		static const struct { const char *u; uint64_t mul; } dur[] = {
			{ "", 1 }, { "s", 1 }, { "sec", 1 }, { "m", 60 }, { "min", 60 },
			{ "h", 3600 }, { "d", 86400 }, { "w", 604800 },
		}, size[] = {
			{ "", 1 }, { "B", 1 }, { "K", 1024 }, { "KB", 1024 }, { "KiB", 1024 },
			{ "M", 1 << 20 }, { "MB", 1 << 20 }, { "MiB", 1 << 20 },
			{ "G", 1 << 30 }, { "GB", 1 << 30 }, { "GiB", 1 << 30 },
			{ "T", 1ull << 40 }, { "TB", 1ull << 40 }, { "TiB", 1ull << 40 },
		};
		bool d = k->kind == KEY_DURATION;
		size_t nu = d ? sizeof(dur) / sizeof(dur[0]) : sizeof(size) / sizeof(size[0]);
		char *end;
		unsigned long long num;

		errno = 0;
		num = strtoull(s, &end, 10);
		if (!isdigit((unsigned char)s[0]) || errno != 0)
			return config_fail(why, wl, "'%s' is not %s", s, d ?
			    "a duration (30s, 10min, 2h, 7d)" : "a size (4096, 64K, 32M, 1G)");
		for (size_t i = 0; i < nu; i++) {
			uint64_t mul = d ? dur[i].mul : size[i].mul;

			if (strcmp(end, d ? dur[i].u : size[i].u) != 0)
				continue;
			if (num > UINT64_MAX / mul / 2 || (d && num * mul > 100ull * 365 * 86400))
				return config_fail(why, wl, "'%s' is too large", s);
			if (num * mul < k->min)
				return config_fail(why, wl, "'%s' is too small", s);
			*(uint64_t *)(void *)base = num * mul;
			return 0;
		}
		return config_fail(why, wl, "'%s': unknown unit '%s' (%s)", s, end, d ?
		    "s, min, h, d, w" : "K, M, G, T");
	}
	case KEY_U32:
	case KEY_U16:
		if (strspn(s, "0123456789") != strlen(s))
			return config_fail(why, wl, "'%s' is not a decimal number", s);
		if (config_parse_num(s, k->min, k->max, &v) < 0)
			return config_fail(why, wl, "'%s' is out of range %u..%u", s,
			    k->min, k->max);
		if (k->kind == KEY_U16)
			*(uint16_t *)(void *)base = (uint16_t)v;
		else
			*(uint32_t *)(void *)base = v;
		/* Configured: the memory plan keeps it (mem.c). */
		if (k->off == CFG_OFF(nat_params.max_sessions))
			c->nat_max_sessions_set = true;
		return 0;
	}
	return config_fail(why, wl, "internal error: unknown kind");
}

/* Split off the next blank-separated token; NULL at the end or a comment. */
static char *
config_token(char **p)
{
	char *s = *p, *t;

	while (isspace((unsigned char)*s))
		s++;
	if (*s == '\0' || *s == '#') {
		*p = s;
		return NULL;
	}
	t = s;
	while (*s != '\0' && !isspace((unsigned char)*s))
		s++;
	if (*s != '\0')
		*s++ = '\0';
	*p = s;
	return t;
}

/*
 * One line of a config file (modified in place). seen[] holds, per key, the
 * line that set it in this file. Returns 0 or -1 with "key: reason" in why.
 */
static int
config_line(struct router_config *c, char *line, unsigned lineno,
    unsigned seen[CONFIG_NKEYS], char *why, size_t wl)
{
	const struct config_key *k;
	char *p = line, *key, *val, *extra;
	size_t idx;
	int n;

	if ((key = config_token(&p)) == NULL)
		return 0;			/* blank or comment */
	if ((k = config_key_find(key)) == NULL)
		return config_fail(why, wl, "unknown key '%s'", key);
	if ((val = config_token(&p)) == NULL)
		return config_fail(why, wl, "%s: missing value", key);
	if ((extra = config_token(&p)) != NULL)
		return config_fail(why, wl, "%s: unexpected '%s' after the value '%s'",
		    key, extra, val);
	idx = (size_t)(k - config_keys);
	if (!config_key_repeats(k)) {
		if (seen[idx] != 0)
			return config_fail(why, wl, "%s: already set on line %u",
			    key, seen[idx]);
		seen[idx] = lineno;
	}
	n = snprintf(why, wl, "%s: ", key);
	if (n < 0 || (size_t)n >= wl)
		return config_apply(c, k, val, why, wl);
	return config_apply(c, k, val, why + n, wl - (size_t)n);
}

int
config_load_file(struct router_config *c, const char *path, char *err, size_t errlen)
{
	unsigned seen[CONFIG_NKEYS] = { 0 };
	char why[CONFIG_WHY_MAX];
	char *line = NULL;
	size_t cap = 0, plen = strlen(path);
	unsigned lineno = 0;
	ssize_t n;
	FILE *f;
	int rc = 0;

	if (plen == 0)
		return config_fail(err, errlen, "config file name is empty");
	if (plen >= sizeof(c->config_file))
		return config_fail(err, errlen, "%s: path is longer than %zu bytes",
		    path, sizeof(c->config_file) - 1);
	if ((f = fopen(path, "r")) == NULL)
		return config_fail(err, errlen, "%s: %s", path, strerror(errno));
	while ((n = getline(&line, &cap, f)) != -1) {
		lineno++;
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		/* Refuse rather than split: a tail read as a line of its own
		 * would be a setting nobody wrote. */
		if (n > CONFIG_LINE_MAX) {
			rc = config_fail(err, errlen, "%s:%u: line is longer than %d bytes",
			    path, lineno, CONFIG_LINE_MAX);
			goto done;
		}
		if (strlen(line) != (size_t)n) {
			rc = config_fail(err, errlen, "%s:%u: line contains a NUL byte",
			    path, lineno);
			goto done;
		}
		if (config_line(c, line, lineno, seen, why, sizeof(why)) < 0) {
			rc = config_fail(err, errlen, "%s:%u: %s", path, lineno, why);
			goto done;
		}
	}
	if (ferror(f)) {		/* a directory, an I/O error */
		rc = config_fail(err, errlen, "%s: %s", path, strerror(errno));
		goto done;
	}
	memcpy(c->config_file, path, plen + 1);
done:
	free(line);
	fclose(f);
	return rc;
}

/* The name of the long option whose val is val, for messages. */
static const char *
config_opt_name(int val)
{
	const struct option *o;

	for (o = config_options; o->name != NULL; o++)
		if (o->val == val)
			return o->name;
	return "?";
}

/*
 * The message for getopt's '?': an unknown short option (optopt is the
 * character), an unknown or ambiguous long option (optopt 0), or a long
 * option given a value it does not take (optopt its val). Only for long
 * options has getopt moved optind past the offending word.
 */
static int
config_bad_option(int argc, char **argv, char *err, size_t errlen)
{
	const struct option *o;
	const char *arg;
	size_t n;
	int matches = 0;

	if (optopt != 0 && strcmp(config_opt_name(optopt), "?") == 0)
		return config_fail(err, errlen, "unknown option '-%c' (see --help)",
		    isprint(optopt) ? optopt : '?');
	arg = optind >= 1 && optind - 1 < argc ? argv[optind - 1] : "";
	if (optopt != 0)		/* "--stats=1" */
		return config_fail(err, errlen, "--%s: takes no value (got '%s')",
		    config_opt_name(optopt), arg);
	if (strncmp(arg, "--", 2) != 0)		/* not expected from glibc */
		return config_fail(err, errlen, "bad option '%s' (see --help)", arg);
	n = strcspn(arg + 2, "=");
	for (o = config_options; o->name != NULL; o++)
		if (strncmp(o->name, arg + 2, n) == 0)
			matches++;
	if (matches > 1)
		return config_fail(err, errlen, "ambiguous option '%.*s' (see --help)",
		    (int)n + 2, arg);
	return config_fail(err, errlen, "unknown option '%.*s' (see --help)",
	    (int)n + 2, arg);
}

static const char *
config_metavar(int val)
{
	switch (val) {
	case OPT_INSIDE:
	case OPT_OUTSIDE:	return "DEV=ADDR/PLEN";
	case OPT_GATEWAY:	return "IP";
	case OPT_ROUTE:		return "PREFIX/PLEN=IP";
	case OPT_ARP:		return "IP=MAC";
	case OPT_CONFIG:	return "FILE";
	case OPT_STATE:		return "DIR";
	case OPT_CONTROL:	return "PATH";
	case OPT_NAT_POOL:	return "IP";
	case OPT_NAT_FILTERING:	return "MODE";
	case OPT_FORWARD:	return "PROTO:PORT=IP:PORT";
	case OPT_NAT_MAX_SESSIONS:
	case OPT_NAT_MAX_PER_HOST: return "N";
	case OPT_UDP_TIMEOUT:
	case OPT_TCP_TIMEOUT:
	case OPT_TCP_TRANS_TIMEOUT:
	case OPT_ICMP_TIMEOUT:	return "S";
	case OPT_GSO:		return "on|off";
	case OPT_HISTORY_KEEP:
	case OPT_HISTORY_COMPACT: return "DURATION";
	case OPT_HISTORY_MAX_BYTES: return "N";
	case OPT_HISTORY_INBOUND_RATE:
	case OPT_HISTORY_INBOUND_BURST:
	case OPT_HISTORY_INBOUND_TOTAL_RATE:
	case OPT_HISTORY_INBOUND_TOTAL_BURST: return "N";
	case OPT_HISTORY_PUSH:	return "URL";
	case OPT_HISTORY_PUSH_INTERVAL: return "S";
	case OPT_MEMORY:	return "SIZE";
	case OPT_SYNC:		return "URL";
	case OPT_ROUTER_ID:
	case OPT_STANDBY:	return "ID";
	case OPT_TAKEOVER_AFTER: return "MS";
	}
	return "a value";
}

/*
 * A next hop (what: "gateway", "route 10.0.0.0/8: gateway") must be a host on
 * a connected subnet, and not one of ours.
 */
static int
config_check_nexthop(const struct router_config *c, uint32_t gw, const char *what,
    char *why, size_t wl)
{
	const struct config_iface *ifc;
	char sg[16], si[16], so[16];

	if (config_on_subnet(&c->inside, gw))
		ifc = &c->inside;
	else if (config_on_subnet(&c->outside, gw))
		ifc = &c->outside;
	else
		return config_fail(why, wl,
		    "%s %s is not on the inside (%s/%u) or outside (%s/%u) subnet",
		    what, ipv4_ntop(gw, sg),
		    ipv4_ntop(c->inside.addr & config_mask(c->inside.plen), si),
		    c->inside.plen,
		    ipv4_ntop(c->outside.addr & config_mask(c->outside.plen), so),
		    c->outside.plen);
	if (gw == ifc->addr)
		return config_fail(why, wl, "%s %s is this router's own %s address",
		    what, ipv4_ntop(gw, sg), ifc == &c->inside ? "inside" : "outside");
	return config_check_host(gw, ifc->addr, ifc->plen, what, why, wl);
}

/* The pool and the forwards against the interfaces and the next hops. */
static int
config_check_nat(const struct router_config *c, char *err, size_t errlen)
{
	const struct config_iface *in = &c->inside, *out = &c->outside;
	char what[64], sa[16], sb[16];
	unsigned i, j;

	for (i = 0; i < c->n_nat_pool; i++) {
		uint32_t a = c->nat_pool[i];

		if (a == in->addr || a == out->addr)
			return config_fail(err, errlen,
			    "nat pool address %s is this router's own %s address",
			    ipv4_ntop(a, sa), a == in->addr ? "inside" : "outside");
		/* Inside hosts would be translated to a neighbour's address. */
		if (config_on_subnet(in, a))
			return config_fail(err, errlen,
			    "nat pool address %s is on the inside subnet %s/%u",
			    ipv4_ntop(a, sa),
			    ipv4_ntop(in->addr & config_mask(in->plen), sb), in->plen);
		if (config_on_subnet(out, a) &&
		    config_check_host(a, out->addr, out->plen, "nat pool address", err,
		    errlen) < 0)
			return -1;
		/* Taking a next hop's address would cut the router off from it. */
		if (a == c->gateway)
			return config_fail(err, errlen,
			    "nat pool address %s is the gateway", ipv4_ntop(a, sa));
		for (j = 0; j < c->nroutes; j++)
			if (a == c->routes[j].gw)
				return config_fail(err, errlen,
				    "nat pool address %s is the gateway of route %s/%u",
				    ipv4_ntop(a, sa), ipv4_ntop(c->routes[j].prefix, sb),
				    c->routes[j].plen);
	}
	for (i = 0; i < c->nforwards; i++) {
		const struct config_forward *f = &c->forwards[i];

		snprintf(what, sizeof(what), "forward %s:%u: address",
		    ip_proto_name(f->proto), f->ext_port);
		if (!config_on_subnet(in, f->int_ip))
			return config_fail(err, errlen,
			    "%s %s is not on the inside subnet %s/%u", what,
			    ipv4_ntop(f->int_ip, sa),
			    ipv4_ntop(in->addr & config_mask(in->plen), sb), in->plen);
		if (f->int_ip == in->addr)
			return config_fail(err, errlen,
			    "%s %s is this router's own inside address", what,
			    ipv4_ntop(f->int_ip, sa));
		if (config_check_host(f->int_ip, in->addr, in->plen, what, err,
		    errlen) < 0)
			return -1;
	}
	return 0;
}

/* A router ID is one component of a git ref name (routers/<ID>). */
static bool
config_id_ok(const char *id)
{
	if (id[0] == '\0' || id[0] == '.' || id[0] == '-' || strstr(id, "..") != NULL ||
	    (strlen(id) >= 5 && strcmp(id + strlen(id) - 5, ".lock") == 0))
		return false;
	for (const char *p = id; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
			return false;
	return true;
}

static int
config_check_sync(const struct router_config *c, char *err, size_t errlen)
{
	char why[CONFIG_WHY_MAX];

	if (c->router_id[0] != '\0' && !config_id_ok(c->router_id))
		return config_fail(err, errlen, "router_id '%s': use letters, digits, '.', '_' "
		    "and '-' (it names the branch routers/<ID>)", c->router_id);
	if (c->standby[0] != '\0' && !config_id_ok(c->standby))
		return config_fail(err, errlen, "standby '%s': not a router ID", c->standby);
	if (c->sync_url[0] != '\0' && config_check_url(c->sync_url, why, sizeof(why)) < 0)
		return config_fail(err, errlen, "sync: %s", why);
	if (c->sync_url[0] == '\0') {
		if (c->standby[0] != '\0')
			return config_fail(err, errlen, "standby needs sync URL (the remote "
			    "router %s pushes to)", c->standby);
		if (c->preempt)
			return config_fail(err, errlen, "preempt needs sync URL");
		return 0;
	}
	if (strcmp(c->state_dir, "none") == 0)
		return config_fail(err, errlen, "sync needs a state repository (state is 'none')");
	if (c->router_id[0] == '\0')
		return config_fail(err, errlen, "sync needs router_id: the name this router "
		    "has on the remote");
	if (strcmp(c->router_id, c->standby) == 0)
		return config_fail(err, errlen, "standby %s: that is this router's own ID",
		    c->standby);
	return 0;
}

/* Without NAT a pool or a forward would be silently ignored: refuse them. */
static int
config_check_no_nat(const struct router_config *c, char *err, size_t errlen)
{
	if (c->nforwards > 0)
		return config_fail(err, errlen,
		    "forward needs NAT (remove --no-nat or 'nat off')");
	if (c->n_nat_pool > 0)
		return config_fail(err, errlen,
		    "nat.pool needs NAT (remove --no-nat or 'nat off')");
	return 0;
}

/* The checks that need the whole configuration; see the file comment. */
static int
config_check(const struct router_config *c, char *err, size_t errlen)
{
	const struct config_iface *in = &c->inside, *out = &c->outside;
	char what[64], sa[16], sb[16];
	uint8_t p;
	unsigned i;

	if (!in->set)
		return config_fail(err, errlen,
		    "--inside is required (or 'inside' in the config file)");
	if (!out->set)
		return config_fail(err, errlen,
		    "--outside is required (or 'outside' in the config file)");
	if (strcmp(in->dev, out->dev) == 0)
		return config_fail(err, errlen, "inside and outside are both device '%s'",
		    in->dev);
	p = in->plen < out->plen ? in->plen : out->plen;
	if (((in->addr ^ out->addr) & config_mask(p)) == 0)
		return config_fail(err, errlen,
		    "inside %s/%u and outside %s/%u are overlapping subnets",
		    ipv4_ntop(in->addr, sa), in->plen, ipv4_ntop(out->addr, sb),
		    out->plen);
	if (c->gateway != 0 &&
	    config_check_nexthop(c, c->gateway, "gateway", err, errlen) < 0)
		return -1;
	for (i = 0; i < c->nroutes; i++) {
		const struct config_route *r = &c->routes[i];

		snprintf(what, sizeof(what), "route %s/%u: gateway",
		    ipv4_ntop(r->prefix, sa), r->plen);
		if (config_check_nexthop(c, r->gw, what, err, errlen) < 0)
			return -1;
		/* route_add would replace the connected route with this one. */
		if ((r->plen == in->plen && r->prefix == (in->addr & config_mask(in->plen))) ||
		    (r->plen == out->plen && r->prefix == (out->addr & config_mask(out->plen))))
			return config_fail(err, errlen,
			    "route %s/%u: is a connected subnet already",
			    ipv4_ntop(r->prefix, sa), r->plen);
		if (r->plen == 0 && c->gateway != 0)
			return config_fail(err, errlen,
			    "route 0.0.0.0/0 and gateway %s are both default routes",
			    ipv4_ntop(c->gateway, sb));
	}
	for (i = 0; i < c->nstatic_arp; i++) {
		const struct config_arp *a = &c->static_arp[i];

		snprintf(what, sizeof(what), "arp %s: address",
		    ipv4_ntop(a->ip, sa));
		if (config_check_nexthop(c, a->ip, what, err, errlen) < 0)
			return -1;
	}
	if (c->nhistory_push > 0 && strcmp(c->state_dir, "none") == 0)
		return config_fail(err, errlen,
		    "history.push needs a state repository (state is 'none')");
	if (config_check_sync(c, err, errlen) < 0)
		return -1;
	if (c->nat_params.port_min > c->nat_params.port_max)
		return config_fail(err, errlen,
		    "nat.port_min %u is above nat.port_max %u",
		    c->nat_params.port_min, c->nat_params.port_max);
	return c->nat ? config_check_nat(c, err, errlen) :
	    config_check_no_nat(c, err, errlen);
}

void
config_defaults(struct router_config *c)
{
	const char *rd;

	memset(c, 0, sizeof(*c));
	snprintf(c->state_dir, sizeof(c->state_dir), "%s", "/var/lib/gitnet/state.git");
	/* systemd's RuntimeDirectory= (the unit's /run/gitnet): /run itself is
	 * read-only under ProtectSystem=strict. */
	if ((rd = getenv("RUNTIME_DIRECTORY")) != NULL && rd[0] == '/' &&
	    strchr(rd, ':') == NULL && strlen(rd) + sizeof("/router.sock") <= CONFIG_SOCK_PATH_MAX)
		snprintf(c->control, sizeof(c->control), "%s/router.sock", rd);
	else
		snprintf(c->control, sizeof(c->control), "%s", "/run/gitnet-router.sock");
	arp_params_default(&c->arp);
	c->icmp_rate = 1000;
	c->icmp_burst = 50;
	c->nat = true;
	c->gso = true;
	c->history_push_interval_s = 5;
	c->takeover_after_ms = 1000;
	nat_params_default(&c->nat_params);
	c->history_keep_s = 7 * 86400;
	c->history_max_bytes = CONFIG_HISTORY_BYTES_AUTO;
	c->history_compact_s = 60;
	hlimit_params_default(&c->history_inbound);
}

/*
 * Two passes over argv. The first validates the syntax of every flag, acts
 * on --help and --version at once and notes --config; the file is then
 * loaded; the second pass applies the flags over it. Works on top of what c
 * holds (call config_defaults first). getopt's state is reset (optind = 0,
 * the glibc full reset) before each pass so that the function may be called
 * again in the same process, and its own messages are silenced in favour of
 * ours in err.
 */
int
config_parse_args(struct router_config *c, int argc, char **argv,
    char *err, size_t errlen)
{
	const struct config_key *k;
	const char *cfg = NULL;
	char why[CONFIG_WHY_MAX];
	bool replaced[CONFIG_NKEYS] = { false };
	int ch, li;

	opterr = 0;
	optind = 0;
	while ((ch = getopt_long(argc, argv, config_optstring, config_options,
	    &li)) != -1) {
		switch (ch) {
		case 'h':
			fputs(config_usage, stdout);
			return 1;
		case OPT_VERSION:
			printf("gitnet-router %s\n", gitnet_version);
			return 1;
		case OPT_CONFIG:
			if (cfg != NULL)
				return config_fail(err, errlen,
				    "--config: given twice ('%s' and '%s')", cfg, optarg);
			if (*optarg == '\0')
				return config_fail(err, errlen, "--config: path is empty");
			cfg = optarg;
			break;
		case ':':
			return config_fail(err, errlen, "--%s: missing value %s",
			    config_opt_name(optopt), config_metavar(optopt));
		case '?':
			return config_bad_option(argc, argv, err, errlen);
		default:
			break;
		}
	}
	if (optind < argc)
		return config_fail(err, errlen, "unexpected argument '%s' (see --help)",
		    argv[optind]);

	if (cfg != NULL && config_load_file(c, cfg, err, errlen) < 0)
		return -1;

	optind = 0;
	while ((ch = getopt_long(argc, argv, config_optstring, config_options,
	    &li)) != -1) {
		switch (ch) {
		case 'v':
			c->verbose++;
			break;
		case OPT_STATS:
			c->stats_on_exit = true;
			break;
		case OPT_CONFIG:
			break;
		case OPT_NO_NAT:
			c->nat = false;
			break;
		case OPT_PREEMPT:
			c->preempt = true;
			break;
		default:
			if ((k = config_key_by_flag(config_opt_name(ch))) == NULL)
				return config_fail(err, errlen,
				    "internal error: option %d has no key", ch);
			/* The first of a kind replaces the file's whole list. */
			if (config_key_repeats(k) && !replaced[k - config_keys]) {
				config_list_clear(c, k);
				replaced[k - config_keys] = true;
			}
			if (config_apply(c, k, optarg, why, sizeof(why)) < 0)
				return config_fail(err, errlen, "--%s: %s", k->flag, why);
			break;
		}
	}
	return config_check(c, err, errlen);
}

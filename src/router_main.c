/* SPDX-License-Identifier: ISC */
/*
 * The router program as a function: configuration, interfaces, the event
 * loop, signals. src/main.c (the host's gitnet-router) and the guest's PID 1
 * (guest/init.c) both call router_main().
 *
 * router_main may run again in the same process after it returned (the
 * guest restarts it in-process on a live configuration change): every
 * resource it opens (rings, control socket, state writer, epoll, signalfd)
 * is closed on return, and what it keeps in statics (the router, the frame
 * arena, the stop signal) is reset at entry. Signals it reads stay blocked
 * after it returns, so one arriving between two runs is seen by the next.
 *
 * One thread for the data path (the caller's). The loop drains each
 * interface's receive ring in batches of BATCH frames, runs them through the
 * netfn pipeline, sends what came out, releases the batch, then hands the
 * batch's table events to the sink. netfn timers run when due. epoll sleeps between bursts (after SPIN_US without a
 * frame), waking for frames, the control socket, signals (signalfd) or the
 * next timer, whichever is first, and at least every 100 ms.
 *
 * Time: netfn gets router_now_us() (clock.c): monotonic, in unix time. A
 * replay (router_run_simulated, for gitnet replay-pcap) runs the same turn
 * on pcap interfaces with a simulated clock, r->sim_us, which jumps to the
 * next frame or deadline; the live loop, run(), never looks at it.
 *
 * Reload (SIGHUP, systemctl reload): the loop returns RUN_RELOAD, and
 * router_main closes everything and opens again with the reread
 * configuration: the same in-process restart from the state repository that
 * the guest makes on a configuration change (router.h has the contract).
 * The rings of interfaces the new configuration keeps stay open: frames
 * arriving while the pipeline is rebuilt wait there (up to a ring's worth)
 * and go through the new one, so a reload delays packets rather than
 * dropping them. Their counters carry on; the pipeline's start again.
 *
 * Under systemd (Type=notify) the router says READY=1 once it forwards,
 * RELOADING=1 while it reloads and STOPPING=1 when it stops.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <stddef.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "router.h"
#include "src/archive.h"
#include "store/store.h"
#include "src/metrics.h"
#include "src/version.h"

#define BATCH		64
#define BURSTS		16		/* batches per interface per turn */
#define TX_CAP		(2 * BATCH + 64)
#define EV_CAP		256
#define ARENA_CAP	(256 * 1024)
/*
 * After a frame, poll without sleeping this long before waiting in epoll:
 * under load the router never sleeps, so the sender's CPU never pays for
 * waking it (with TPACKET_V2 that is one wake-up per frame); idle, it sleeps
 * after 200 us.
 */
#define SPIN_US		200

/* The signal that stopped the last run (router_main_stop_signal). */
static int stop_signal;

/* run() returns this after a SIGHUP with a valid configuration in next_cfg. */
#define RUN_RELOAD	2

/* router_main's argv, reparsed on SIGHUP into next_cfg. */
static int main_argc;
static char **main_argv;
static struct router_config next_cfg;

static void __attribute__((format(printf, 1, 2)))
logmsg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Events go to the state writer (git), and to the log with -v. */
static void
sink_events(struct sink *s, const struct nf_event *ev, unsigned n)
{
	const struct router *r = s->ctx;
	char line[160];

	s->total += n;
	if (r->state != NULL)
		state_push(r->state, ev, n);
	if (r->cfg.verbose < 1)
		return;
	for (unsigned i = 0; i < n; i++)
		logmsg("event: %s", sink_format(line, sizeof(line), &ev[i], r->ifnames));
}

/*
 * Log the first drop of each reason once, so an operator learns that e.g.
 * bad checksums arrive without a line per packet; the counters go on.
 * Called from the loop at most once a second, never per packet.
 */
_Static_assert(DROP_MAX <= 64, "drops_logged has one bit per drop reason");

static void
log_first_drops(struct router *r)
{
	const struct nf_stats *s = nf_stats(r->nf);

	for (int i = 1; i < DROP_MAX; i++) {
		if (s->drop[i] == 0 || (r->drops_logged & (1ULL << i)))
			continue;
		r->drops_logged |= 1ULL << i;
		logmsg("router: drop: reason=%s first seen (%s); counted as drop_%s from now on",
		    drop_name((enum drop)i), drop_text((enum drop)i), drop_name((enum drop)i));
	}
	/* The I/O layer's own loss, which hid offload trouble (issue 13). */
	for (int i = 0; i < ROUTER_NIF; i++) {
		if (r->io[i]->stats.rx_truncated == 0 || (r->io_logged & (1u << i)))
			continue;
		r->io_logged |= (uint8_t)(1u << i);
		logmsg("router: drop: %s: frame larger than the router reads, first seen; "
		    "counted as if_%s_rx_truncated from now on", r->io[i]->name,
		    r->io[i]->name);
	}
}

/* Send every frame of out, per interface; then pass events on and reset. */
void
router_flush(struct router *r, struct nf_out *out)
{
	struct nf_frame batch[TX_CAP];

	for (int i = 0; i < ROUTER_NIF; i++) {
		unsigned n = 0;

		for (unsigned k = 0; k < out->ntx; k++)
			if (out->tx[k].ifidx == i)
				batch[n++] = out->tx[k];
		if (n > 0)
			io_tx_burst(r->io[i], batch, n);
	}
	if (out->nev > 0)
		r->sink.events(&r->sink, out->ev, out->nev);
	r->tx_lost += out->tx_lost;
	r->ev_lost += out->ev_lost;
	out->tx_lost = out->ev_lost = 0;
	nf_out_reset(out);
}

unsigned
router_announce(struct router *r)
{
	static uint8_t arena[512];
	struct nf_frame tx[2 * ROUTER_NIF];
	struct nf_out out = {
		.tx = tx, .tx_cap = 2 * ROUTER_NIF, .arena = arena,
		.arena_cap = sizeof(arena),
	};
	unsigned n = nf_announce(r->nf, router_time(r), &out);

	router_flush(r, &out);
	logmsg("router: announce: %u gratuitous ARP sent", n);
	return n;
}

/*
 * One sd_notify(3) message to $NOTIFY_SOCKET (a path, or @ for the abstract
 * namespace); nothing when systemd did not ask. Never fails the router.
 */
static void
notify(const char *msg)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = getenv("NOTIFY_SOCKET");
	size_t n;
	int fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@') ||
	    (n = strlen(path)) >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, n);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return;
	if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)) < 0)
		logmsg("router: notify: %s: %s", path, strerror(errno));
	close(fd);
}

/*
 * One dump for the devices just opened (a reload keeps the others, and has
 * warned for them): getifaddrs reads every link and address, which costs a
 * guest under QEMU TCG 13 ms a call.
 */
static void
warn_kernel_addresses(const char *const dev[ROUTER_NIF], const bool opened[ROUTER_NIF])
{
	struct ifaddrs *ifa, *p;
	char a[16];

	if (getifaddrs(&ifa) != 0)
		return;
	for (int i = 0; i < ROUTER_NIF; i++)
		for (p = opened[i] ? ifa : NULL; p != NULL; p = p->ifa_next)
			if (p->ifa_addr != NULL && p->ifa_addr->sa_family == AF_INET &&
			    strcmp(p->ifa_name, dev[i]) == 0)
				logmsg("router: warning: %s has kernel address %s; the "
				    "kernel will answer ARP beside the router", dev[i],
				    ipv4_ntop(ntohl(((struct sockaddr_in *)(void *)
				    p->ifa_addr)->sin_addr.s_addr), a));
	freeifaddrs(ifa);
}

/* The setup meta/router records (store.h), from the config and the NICs. */
static int
router_meta(const struct router *r, char *buf, size_t cap)
{
	const struct config_iface *cif[ROUTER_NIF] = { &r->cfg.inside, &r->cfg.outside };
	struct store_router m;
	const struct router_config *c = &r->cfg;

	store_router_default(&m);
	for (int i = 0; i < ROUTER_NIF; i++) {
		snprintf(m.iface[i].dev, sizeof(m.iface[i].dev), "%s", cif[i]->dev);
		m.iface[i].addr = cif[i]->addr;
		m.iface[i].plen = cif[i]->plen;
		m.iface[i].set = true;
		m.iface[i].has_mac = true;
		memcpy(m.iface[i].mac, r->io[i]->mac, ETH_ALEN);
		m.iface[i].mtu = r->io[i]->mtu;
	}
	m.nat = c->nat;
	m.gateway = c->gateway;
	for (unsigned i = 0; i < c->nroutes && i < STORE_ROUTER_LIST; i++) {
		m.routes[i].prefix = c->routes[i].prefix;
		m.routes[i].plen = c->routes[i].plen;
		m.routes[i].gw = c->routes[i].gw;
		m.nroutes++;
	}
	for (unsigned i = 0; i < c->nstatic_arp && i < STORE_ROUTER_LIST; i++) {
		m.arp[i].ip = c->static_arp[i].ip;
		memcpy(m.arp[i].mac, c->static_arp[i].mac, ETH_ALEN);
		m.narp++;
	}
	for (unsigned i = 0; i < c->nforwards && i < STORE_ROUTER_LIST; i++) {
		m.forwards[i].proto = c->forwards[i].proto;
		m.forwards[i].ext_port = c->forwards[i].ext_port;
		m.forwards[i].int_ip = c->forwards[i].int_ip;
		m.forwards[i].int_port = c->forwards[i].int_port;
		m.nforwards++;
	}
	memcpy(m.pool, c->nat_pool, c->n_nat_pool * sizeof(uint32_t));
	m.npool = c->n_nat_pool;
	m.nat_params = c->nat_params;
	m.arp_params = c->arp;
	m.icmp_rate = c->icmp_rate;
	m.icmp_burst = c->icmp_burst;
	m.window_ms = r->window_ms;
	m.tick_ms = r->tick_ms;
	return store_router_encode(buf, cap, &m);
}

/*
 * Open the state repository and load primary into the pipeline: ARP entries
 * come back STALE, NAT sessions with their external ports, so established
 * connections carry on; what expired meanwhile goes at the first tick. A
 * replay opens its own branch from its base instead, and drives the writer
 * from its loop (sync).
 */
int
router_state_open(struct router *r, char *err, size_t errlen)
{
	static char info[16384], host[64];	/* 64 routes, neighbours, forwards */
	struct state_opts so;
	struct state_stats st;
	uint64_t t0 = router_now_us();

	state_opts_default(&so);
	if (r->window_ms != 0)
		so.window_ms = r->window_ms;
	if (r->tick_ms != 0)
		so.tick_ms = r->tick_ms;
	so.dir = r->cfg.state_dir;
	/*
	 * A standby is as far behind as the commits are apart: with --sync,
	 * group commits may follow each other every 100 ms instead of every
	 * second (more, smaller commits under load; compaction deltas them).
	 */
	if (r->cfg.sync_url[0] != '\0')
		so.commit_gap_ms = 100;
	so.history_keep_s = r->cfg.history_keep_s;
	so.compact_s = r->cfg.history_compact_s > 86400 ? 86400 : (unsigned)r->cfg.history_compact_s;
	so.history_max_bytes = r->cfg.history_max_bytes == CONFIG_HISTORY_BYTES_AUTO ?
	    STATE_HISTORY_AUTO : r->cfg.history_max_bytes;
	so.ifnames = r->ifnames;
	so.n_ifnames = ROUTER_NIF;
	so.verbose = (unsigned)r->cfg.verbose;
	so.inbound = r->cfg.history_inbound;
	if (r->mem.ram != 0) {
		so.ring_events = r->mem.ring_events;
		so.mem_bytes = r->mem.ram;
	}
	if (r->simulated) {
		so.router_id = "gitnet-replay";
		so.branch = r->state_branch;
		so.base = r->state_base;
		so.sync = true;
	} else {
		if (gethostname(host, sizeof(host)) != 0)
			strcpy(host, "gitnet-router");
		host[sizeof(host) - 1] = '\0';
		r->window_ms = so.window_ms;
		r->tick_ms = so.tick_ms;
		if (router_meta(r, info, sizeof(info)) < 0) {
			snprintf(err, errlen, "state: %s", store_strerror());
			return -1;
		}
		so.router_id = r->cfg.router_id[0] != '\0' ? r->cfg.router_id : host;
		so.router_info = info;
	}
	if (state_open(&r->state, &so, err, errlen) < 0 ||
	    state_restore(r->state, r->nf, router_time(r), err, errlen) < 0)
		return -1;
	state_get_stats(r->state, &st);
	if (!r->simulated)
		logmsg("state: loaded: dir=%s arp=%llu nat_sessions=%llu skipped=%llu ms=%.1f",
		    r->cfg.state_dir, (unsigned long long)st.restored_arp,
		    (unsigned long long)st.restored_nat, (unsigned long long)st.restore_skipped,
		    (double)(router_now_us() - t0) / 1000);
	return 0;
}

/*
 * Port forwards from the config, before the state is restored: forwards win.
 * A restored session of the forward's own inside endpoint joins the forward's
 * mapping (so a connection through the forward survives the restart); a
 * restored dynamic session that holds the forwarded external port for
 * another inside endpoint (the forward is new, or changed) is refused by
 * nat_restore and counted in state_restore_skipped. Re-mapping it to another
 * port would break its connection anyway (the remote knows the old port), so
 * dropping it is the same outcome said plainly. A forward adds no session:
 * no event, nothing to commit.
 */
static int
router_forwards(struct router *r, char *err, size_t errlen)
{
	struct nf_out none = { 0 };
	char a[16];
	int e;

	for (unsigned i = 0; i < r->cfg.nforwards; i++) {
		const struct config_forward *fw = &r->cfg.forwards[i];

		if ((e = nf_forward_add(r->nf, fw->proto, fw->ext_port, fw->int_ip,
		    fw->int_port, router_time(r), &none)) < 0) {
			snprintf(err, errlen, "router: forward %s:%u=%s:%u: %s",
			    ip_proto_name(fw->proto), fw->ext_port,
			    ipv4_ntop(fw->int_ip, a), fw->int_port, strerror(-e));
			return -1;
		}
	}
	return 0;
}

int
router_pipeline_open(struct router *r, char *err, size_t errlen)
{
	const struct config_iface *cif[ROUTER_NIF] = { &r->cfg.inside, &r->cfg.outside };
	struct nf_config nc;
	char a[16], b[16];
	int e;

	nf_config_default(&nc);
	nc.arp = r->cfg.arp;
	nc.icmp_rate = r->cfg.icmp_rate;
	nc.icmp_burst = r->cfg.icmp_burst;
	if (r->simulated) {
		/* A replay is deterministic: the key comes from --seed. */
		nc.key[0] = r->seed;
		nc.key[1] = ~r->seed;
	} else {
		/*
		 * The secret behind port choice, IP ids and ARP jitter: from
		 * the kernel's generator, never from the clock or the pid
		 * (PID 1 in the guest). Blocks only until the pool is
		 * initialised at boot.
		 */
		for (size_t got = 0; got < sizeof(nc.key); ) {
			ssize_t k = getrandom((char *)nc.key + got, sizeof(nc.key) - got, 0);

			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0) {
				snprintf(err, errlen, "router: getrandom: %s", strerror(errno));
				return -1;
			}
			got += (size_t)k;
		}
	}
	nc.seed = nc.key[0] ^ nc.key[1];
	nc.n_iface = ROUTER_NIF;
	nc.nat = r->cfg.nat;
	nc.outside = 1;
	nc.nat_params = r->cfg.nat_params;
	memcpy(nc.pool, r->cfg.nat_pool, r->cfg.n_nat_pool * sizeof(uint32_t));
	nc.n_pool = r->cfg.n_nat_pool;
	for (int i = 0; i < ROUTER_NIF; i++) {
		r->ifnames[i] = r->io[i]->name;
		snprintf(nc.iface[i].name, sizeof(nc.iface[i].name), "%s", cif[i]->dev);
		memcpy(nc.iface[i].mac, r->io[i]->mac, ETH_ALEN);
		nc.iface[i].addr = cif[i]->addr;
		nc.iface[i].plen = cif[i]->plen;
		nc.iface[i].mtu = r->io[i]->mtu;
	}
	if ((r->nf = nf_new(&nc)) == NULL) {
		snprintf(err, errlen, "router: cannot create the pipeline (out of memory?)");
		return -1;
	}
	if (r->cfg.gateway != 0 && (e = nf_route_add(r->nf, 0, 0, r->cfg.gateway)) < 0) {
		snprintf(err, errlen, "router: gateway %s: %s", ipv4_ntop(r->cfg.gateway, a),
		    strerror(-e));
		return -1;
	}
	for (unsigned i = 0; i < r->cfg.nroutes; i++) {
		const struct config_route *cr = &r->cfg.routes[i];

		if ((e = nf_route_add(r->nf, cr->prefix, cr->plen, cr->gw)) < 0) {
			snprintf(err, errlen, "router: route %s/%u via %s: %s",
			    ipv4_ntop(cr->prefix, a), cr->plen, ipv4_ntop(cr->gw, b),
			    strerror(-e));
			return -1;
		}
	}
	r->sink = (struct sink){ .events = sink_events, .ctx = r };
	/* Forwards before any state is restored: forwards win (router_forwards). */
	return router_forwards(r, err, errlen);
}

/* Retention's question to the archive: what does every remote hold? */
static bool
archive_oldest_hook(void *ctx, struct store_oid *out)
{
	return archive_pushed_oldest(ctx, out);
}

/* The archive's pushers, on the state repository (started with the loop). */
static int
router_archive_open(struct router *r, char *err, size_t errlen)
{
	struct archive_opts ao = { 0 };

	_Static_assert(CONFIG_MAX_PUSH == ARCHIVE_MAX && CONFIG_URL_MAX == ARCHIVE_URL_MAX,
	    "history.push limits");
	ao.gitdir = r->cfg.state_dir;
	for (unsigned i = 0; i < r->cfg.nhistory_push; i++)
		ao.urls[i] = r->cfg.history_push[i];
	ao.n = r->cfg.nhistory_push;
	ao.interval_ms = r->cfg.history_push_interval_s * 1000;
	ao.verbose = (unsigned)r->cfg.verbose;
	if (archive_open(&r->archive, &ao, err, errlen) < 0)
		return -1;
	for (unsigned i = 0; i < ao.n; i++)
		logmsg("archive: pushing: remote=archive%u url=%s every=%us", i,
		    r->cfg.history_push[i], r->cfg.history_push_interval_s);
	return 0;
}

/*
 * Size what the router preallocates and caches from its memory (mem.h):
 * the NAT table unless configured, the event ring, the packet rings, and
 * the store's caches. router_memory_log says what was chosen and why.
 */
static void
router_memory(struct router *r)
{
	enum mem_source src = MEM_FLAG;
	uint64_t ram = r->cfg.memory;

	if (ram == 0)
		ram = mem_detect("", 0, &src);
	mem_plan(&r->mem, &r->cfg, ram, src);
	r->cfg.nat_params.max_sessions = r->mem.nat_sessions;
}

/* The plan as one line, once the router is up (a failure stays one line). */
static void
router_memory_log(const struct router *r)
{
	const struct mem_plan *p = &r->mem;
	struct store_opts so;
	struct store_mem sm;

	store_opts_default(&so);
	so.mem_bytes = p->ram;
	store_mem_budget(&sm, &so);
	logmsg("router: memory: ram_mb=%.1f source=%s nat_max_sessions=%u nat_sized=%s "
	    "nat_table_mb=%.1f state_ring_events=%u packet_ring_slots=%u+%u "
	    "store_cache_mb=%.1f git_cache_mb=%.1f git_mapped_mb=%.1f",
	    (double)p->ram / (1 << 20), mem_source_name(p->source), p->nat_sessions,
	    p->nat_auto ? "memory" : "config", (double)p->nat_bytes / (1 << 20),
	    p->ring_events, p->rx_frames, p->tx_frames, (double)sm.cache / (1 << 20),
	    (double)sm.lib_cache / (1 << 20), (double)sm.lib_mapped / (1 << 20));
}

static int
router_open(struct router *r, char *err, size_t errlen)
{
	const struct config_iface *cif[ROUTER_NIF] = { &r->cfg.inside, &r->cfg.outside };
	const char *dev[ROUTER_NIF] = { r->cfg.inside.dev, r->cfg.outside.dev };
	struct io_params iop = { 0 };
	bool opened[ROUTER_NIF] = { false };
	uint64_t t[4];

	t[0] = router_now_us();
	router_memory(r);
	iop.sw_segment = !r->cfg.gso;
	iop.rx_frames = r->mem.rx_frames;
	iop.tx_frames = r->mem.tx_frames;
	for (int i = 0; i < ROUTER_NIF; i++) {
		/* A reload hands over the rings of a device it keeps (router_main). */
		if (r->io[i] != NULL)
			continue;
		if (io_packet_open(&r->io[i], cif[i]->dev, (uint8_t)i, &iop, err, errlen) < 0)
			return -1;
		opened[i] = true;
	}
	if (opened[0] || opened[1])
		warn_kernel_addresses(dev, opened);
	t[1] = router_now_us();
	if (router_pipeline_open(r, err, errlen) < 0)
		return -1;
	t[2] = router_now_us();
	if (strcmp(r->cfg.state_dir, "none") != 0 && router_state_open(r, err, errlen) < 0)
		return -1;
	t[3] = router_now_us();
	if (r->state != NULL && r->cfg.nhistory_push > 0 && router_archive_open(r, err,
	    errlen) < 0)
		return -1;
	if (r->archive != NULL)
		state_set_archive(r->state, archive_oldest_hook, r->archive);
	if (router_ha_open(r, err, errlen) < 0)
		return -1;
	if (ctl_open(r, err, errlen) < 0)
		return -1;
	if (r->cfg.metrics[0] != '\0' && metrics_open(&r->metrics, r, err, errlen) < 0)
		return -1;
	/* Where a start's time goes (a guest's boot budget is a second). */
	logmsg("router: opened: ms=%.1f rings=%.1f tables=%.1f state=%.1f rest=%.1f",
	    (double)(router_now_us() - t[0]) / 1000, (double)(t[1] - t[0]) / 1000,
	    (double)(t[2] - t[1]) / 1000, (double)(t[3] - t[2]) / 1000,
	    (double)(router_now_us() - t[3]) / 1000);
	return 0;
}

void
router_close(struct router *r)
{
	/* The metrics server reads the state's counters: it goes first. */
	metrics_close(r->metrics);
	r->metrics = NULL;
	/* Pushes in flight are not waited for (archive.c): they hold nothing. */
	state_set_archive(r->state, NULL, NULL);
	archive_close(r->archive);
	r->archive = NULL;
	router_ha_close(r);
	/* The data path has stopped: commit and flush what it left. */
	state_close(r->state);
	r->state = NULL;
	ctl_close(r);
	for (int i = 0; i < ROUTER_NIF; i++)
		io_close(r->io[i]);
	nf_free(r->nf);
}

/* Permanent neighbours from the config; events to the sink. */
int
router_static(struct router *r, struct nf_out *out)
{
	char a[16];
	int e;

	for (unsigned i = 0; i < r->cfg.nstatic_arp; i++) {
		const struct config_arp *ca = &r->cfg.static_arp[i];
		struct route via;

		/* config_parse_args checked the address lies on a connected subnet */
		if (route_lookup(nf_routes(r->nf), ca->ip, &via) != 0)
			return -1;
		if ((e = arp_add_static(nf_arp(r->nf), via.ifidx, ca->ip, ca->mac,
		    router_time(r), out)) < 0) {
			logmsg("router: arp %s: %s", ipv4_ntop(ca->ip, a), strerror(-e));
			return -1;
		}
	}
	return 0;
}

static int
signals_open(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGHUP);
	/* This thread only: a caller with other threads blocks these in all of
	 * them first (guest/init.c), else one of them would take the signal. */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

/*
 * SIGHUP: the configuration again, from the same argv (so the same --config
 * file), into next_cfg. 1 when it is valid; else the running one stays.
 */
static int
reload_parse(void)
{
	char err[512];

	config_defaults(&next_cfg);
	if (config_parse_args(&next_cfg, main_argc, main_argv, err, sizeof(err)) != 0) {
		logmsg("router: reload: not applied, the running configuration stays: %s",
		    err);
		return 0;
	}
	return 1;
}

/* Returns 1 to stop, RUN_RELOAD to reload. */
static int
signals_read(struct router *r, int sfd)
{
	struct signalfd_siginfo si;

	while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			log_first_drops(r);
			stop_signal = (int)si.ssi_signo;
			logmsg("router: stopping: signal=%s",
			    si.ssi_signo == SIGTERM ? "TERM" : "INT");
			return 1;
		case SIGUSR1:
			router_report_stats(r, STDERR_FILENO);
			break;
		case SIGHUP:
			logmsg("router: reload: rereading the configuration%s%s",
			    r->cfg.config_file[0] != '\0' ? " from " : "", r->cfg.config_file);
			if (reload_parse())
				return RUN_RELOAD;
			break;
		}
	}
	return 0;
}

static int
epoll_add(int ep, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

/*
 * The receive half of a turn, live or simulated: up to BURSTS batches from
 * each interface through the pipeline, their output sent and their events
 * handed on. Whether any frame came in.
 */
static bool
rx_turn(struct router *r, struct nf_frame *rx, uint64_t now, struct nf_out *out)
{
	bool any = false;

	for (int i = 0; i < ROUTER_NIF; i++) {
		for (int b = 0; b < BURSTS; b++) {
			unsigned got = io_rx_burst(r->io[i], rx, BATCH);

			if (got == 0)
				break;
			/* A standby answers for nothing: frames are taken and dropped. */
			if (!r->standby)
				nf_input(r->nf, rx, got, now, out);
			router_flush(r, out);
			io_rx_release(r->io[i]);
			any = true;
		}
	}
	return any;
}

static int
run(struct router *r, int sfd)
{
	static uint8_t arena[ARENA_CAP];
	struct nf_frame rx[BATCH], tx[TX_CAP];
	struct nf_event ev[EV_CAP];
	struct nf_out out = {
		.tx = tx, .tx_cap = TX_CAP,
		.arena = arena, .arena_cap = sizeof(arena),
		.ev = ev, .ev_cap = EV_CAP,
	};
	struct epoll_event ready[8];
	uint64_t housekeeping = 0, busy_at = 0;
	int ep, sr;

	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		return -1;
	epoll_add(ep, sfd);
	epoll_add(ep, r->ctl_fd);
	for (int i = 0; i < ROUTER_NIF; i++)
		epoll_add(ep, r->io[i]->fd);
	if (r->metrics != NULL)
		epoll_add(ep, metrics_kick_fd(r->metrics));

	if (!r->standby && router_static(r, &out) < 0) {
		close(ep);
		return -1;
	}
	/* A standby's writer starts at its takeover (ha.c). */
	if (r->state != NULL && !r->standby && state_start(r->state) < 0) {
		logmsg("state: cannot start the writer thread");
		close(ep);
		return -1;
	}
	if (archive_start(r->archive) < 0) {
		logmsg("archive: cannot start the push threads");
		close(ep);
		return -1;
	}
	if (!r->standby)
		nf_start(r->nf, router_now_us(), &out);
	router_flush(r, &out);
	for (;;) {
		uint64_t now = router_now_us();
		uint64_t due = r->standby ? now + 10000 : nf_next_deadline(r->nf);
		int timeout = 100, n;

		if (due <= now || now - busy_at < SPIN_US)
			timeout = 0;	/* timers due, or traffic just now: keep polling */
		else if (due - now < 100000)
			timeout = (int)((due - now + 999) / 1000);
		n = epoll_wait(ep, ready, 8, timeout);
		for (int k = 0; k < n; k++) {
			if (ready[k].data.fd == sfd && (sr = signals_read(r, sfd)) != 0) {
				close(ep);
				return sr == RUN_RELOAD ? RUN_RELOAD : 0;
			}
			if (ready[k].data.fd == r->ctl_fd)
				ctl_serve(r);
		}
		now = router_now_us();
		/* Every ring is checked each turn: a status word, cheaper than trusting
		 * wake-ups alone, and fair between the interfaces. */
		if (rx_turn(r, rx, now, &out))
			busy_at = now;
		router_ha_turn(r, now);
		if (r->step_down) {
			/* Another router took over: stand by for it (a reload as one). */
			next_cfg = r->cfg;
			snprintf(next_cfg.standby, sizeof(next_cfg.standby), "%s", r->peer);
			close(ep);
			return RUN_RELOAD;
		}
		if (!r->standby && nf_next_deadline(r->nf) <= now) {
			nf_tick(r->nf, now, &out);
			router_flush(r, &out);
		}
		if (now - housekeeping >= 1000000) {
			housekeeping = now;
			log_first_drops(r);
			ctl_serve(r);		/* its timeouts */
		}
		/* A scrape waits: one copy of the counters (metrics.c). */
		if (r->metrics != NULL && metrics_wanted(r->metrics))
			metrics_publish(r->metrics, r);
	}
}

/*
 * The loop on a simulated clock (gitnet replay-pcap). The same turn as
 * run() -- receive bursts through the pipeline, send, hand events to the
 * sink, run the pipeline's timers when due -- but instead of waiting in
 * epoll the clock jumps to whatever is due next: a captured frame, a
 * pipeline timer, or the state writer's group commit or tick, which run
 * here on the loop's thread (state sync mode) at their own instants. At
 * one instant the writer goes first (what was pending before it commits),
 * then frames, then timers: deterministic, whatever the machine's speed.
 * The run ends when every interface's input is exhausted; then the writer
 * commits what is pending and merges a begun tick at their deadlines.
 */
int
router_run_simulated(struct router *r)
{
	static uint8_t arena[ARENA_CAP];
	struct nf_frame rx[BATCH], tx[TX_CAP];
	struct nf_event ev[EV_CAP];
	struct nf_out out = {
		.tx = tx, .tx_cap = TX_CAP,
		.arena = arena, .arena_cap = sizeof(arena),
		.ev = ev, .ev_cap = EV_CAP,
	};
	uint64_t ticked_at = UINT64_MAX;
	unsigned stalled = 0;

	if (router_static(r, &out) < 0)
		return -1;
	nf_start(r->nf, r->sim_us, &out);
	router_flush(r, &out);
	for (;;) {
		uint64_t next = UINT64_MAX, frame = UINT64_MAX, dl, now;

		for (int i = 0; i < ROUTER_NIF; i++) {
			uint64_t t = io_next_us(r->io[i]);

			frame = t < frame ? t : frame;
		}
		if (frame == UINT64_MAX)
			break;
		next = frame;
		/* A deadline may be early (see arp_next_deadline): once run at an
		 * instant, it waits for the clock to move on. */
		dl = nf_next_deadline(r->nf);
		if (dl <= r->sim_us && ticked_at == r->sim_us)
			dl = UINT64_MAX;
		next = dl < next ? dl : next;
		if (r->state != NULL && (dl = state_next_deadline(r->state)) < next)
			next = dl;
		/* Never spin on a deadline that does not move (a failing store). */
		stalled = next <= r->sim_us ? stalled + 1 : 0;
		if (stalled > 64)
			next = frame;
		if (next > r->sim_us)
			r->sim_us = next;
		now = r->sim_us;
		if (r->state != NULL)
			state_run(r->state, now);
		rx_turn(r, rx, now, &out);
		if (nf_next_deadline(r->nf) <= now) {
			nf_tick(r->nf, now, &out);
			router_flush(r, &out);
			ticked_at = now;
		}
	}
	if (r->state != NULL)
		state_settle(r->state, &r->sim_us);
	return 0;
}

/* Everything zero but the configuration, as at the start of router_main. */
static void
router_reset(struct router *r, const struct router_config *cfg)
{
	memset(r, 0, sizeof(*r));
	r->cfg = *cfg;
	r->ctl_fd = -1;
}

int
router_main(int argc, char **argv)
{
	static struct router r;
	static struct router_config prev;
	struct io *kept[ROUTER_NIF];
	char err[512], a[16], b[16];
	bool reloading = false, fallback = false;
	uint64_t reload_at = 0;
	int sfd, rc;

	memset(&r, 0, sizeof(r));
	stop_signal = 0;
	router_clock_init();
	config_defaults(&r.cfg);
	r.ctl_fd = -1;
	if ((rc = config_parse_args(&r.cfg, argc, argv, err, sizeof(err))) != 0) {
		if (rc > 0)
			return 0;
		fprintf(stderr, "gitnet-router: %s\n", err);
		return 2;
	}
	main_argc = argc;
	main_argv = argv;
	setvbuf(stderr, NULL, _IOLBF, 0);
	if ((sfd = signals_open()) < 0) {
		fprintf(stderr, "gitnet-router: signalfd: %s\n", strerror(errno));
		return 1;
	}
	for (;;) {
		r.started_us = router_now_us();
		if (router_open(&r, err, sizeof(err)) < 0) {
			fprintf(stderr, "gitnet-router: %s\n", err);
			router_close(&r);
			if (!reloading || fallback) {
				close(sfd);
				return 1;
			}
			/* The new configuration cannot run here: back to the one that did. */
			logmsg("router: reload: the new configuration failed to open; "
			    "reopening the previous one");
			router_reset(&r, &prev);
			fallback = true;
			continue;
		}
		/* The started line keeps its shape (tests and the guest read pid= last). */
		logmsg("router: version: gitnet-router %s", gitnet_version);
		router_memory_log(&r);
		if (r.cfg.metrics[0] != '\0')
			logmsg("metrics: listening: addr=%s path=/metrics", r.cfg.metrics);
		logmsg("router: started: inside=%s %s/%u outside=%s %s/%u nat=%s control=%s pid=%d",
		    r.cfg.inside.dev, ipv4_ntop(r.cfg.inside.addr, a), r.cfg.inside.plen,
		    r.cfg.outside.dev, ipv4_ntop(r.cfg.outside.addr, b), r.cfg.outside.plen,
		    r.cfg.nat ? "on" : "off", r.cfg.control, (int)getpid());
		if (reloading)
			logmsg("router: reload: done in %.1f ms%s",
			    (double)(router_now_us() - reload_at) / 1000,
			    fallback ? " (the previous configuration)" : "");
		notify("READY=1");
		rc = run(&r, sfd);
		if (rc != RUN_RELOAD)
			break;
		notify("RELOADING=1");
		reload_at = router_now_us();
		prev = r.cfg;
		for (int i = 0; i < ROUTER_NIF; i++) {
			const char *was = i == 0 ? prev.inside.dev : prev.outside.dev;
			const char *now = i == 0 ? next_cfg.inside.dev : next_cfg.outside.dev;

			kept[i] = NULL;
			if (strcmp(was, now) == 0) {
				kept[i] = r.io[i];
				r.io[i] = NULL;
			}
		}
		router_close(&r);
		router_reset(&r, &next_cfg);
		memcpy(r.io, kept, sizeof(kept));
		reloading = true;
		fallback = false;
	}
	notify("STOPPING=1");
	if (r.cfg.stats_on_exit)
		router_report_stats(&r, STDERR_FILENO);
	router_close(&r);
	close(sfd);
	return rc < 0 ? 1 : 0;
}

int
router_main_stop_signal(void)
{
	return stop_signal;
}

/* SPDX-License-Identifier: ISC */
/*
 * The Prometheus endpoint (contract in metrics.h).
 *
 * Why a thread of its own rather than the event loop: a scrape is an HTTP
 * exchange with a client that may be slow or hostile, and its answer is
 * some 20 KB of text to format. Served from the loop, both would be paid for
 * between two batches of frames (the control socket already costs the loop
 * up to 100 ms for a stuck client). Here the thread owns every socket and
 * all formatting; the data path's share of a scrape is one relaxed atomic
 * load per loop turn (metrics_wanted) and, when a scrape asked, one copy of
 * its counters, about 1 KB, into a triple buffer (metrics_publish). Neither
 * side ever waits for the other.
 *
 * Race-free reads. The data path's counters (nf, ARP, NAT, interfaces) are
 * plain integers that only its thread writes, so the server never reads
 * them: it reads copies. Triple buffer: the data path fills buf[back], then
 * swaps it with the middle one (atomic exchange, with a FRESH bit); the
 * server swaps the middle with its front buffer when FRESH is set. Each
 * buffer belongs to exactly one thread at a time. A scrape sets `want' and
 * writes kick_fd (which wakes an idle loop from epoll); the loop publishes
 * and writes done_fd; the server waits for that at most WAIT_US, then
 * answers with the copy it has (gitnet_metrics_snapshot_age_seconds says
 * how old), so a loop that is busy or stuck delays no scrape for long. The
 * state writer's counters and histograms come from state_get_stats, under
 * the writer's own lock, which the data path never takes for this.
 *
 * HTTP: one request per connection (Connection: close), GET or HEAD of
 * /metrics (or / for a pointer to it), a request head of at most 4 KB read
 * within CLIENT_US, at most MAX_CLIENTS connections at once; anything else is
 * answered 400, 404, 405 or 431 and closed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netfn/drop.h"
#include "router.h"
#include "src/archive.h"
#include "src/sync.h"
#include "src/metrics.h"
#include "src/version.h"

#define MAX_CLIENTS	16
#define REQ_MAX		4096
#define WAIT_US		250000		/* for a fresh copy from the loop */
#define CLIENT_US	5000000		/* for a whole exchange */
#define FRESH		4u		/* in mid: buf[mid & 3] is newer than front */

struct snap {
	uint64_t	taken_us;
	struct nf_stats	nf;
	struct arp_stats arp;
	uint64_t	arp_entries;
	struct nat_stats nat;
	uint64_t	nat_sessions;
	struct io_stats	io[ROUTER_NIF];
	uint64_t	tx_lost, ev_lost, events;
	bool		standby;		/* ha.c's, main thread */
	uint64_t	takeovers, warm_loads;
};

enum client_state { CL_FREE, CL_READING, CL_WAITING, CL_WRITING };

struct sbuf {
	char		*p;
	size_t		len, cap;
	bool		oom;
};

struct client {
	enum client_state st;
	int		fd;
	bool		head;		/* HEAD: no body */
	char		in[REQ_MAX];
	size_t		inlen;
	struct sbuf	out;
	size_t		outoff;
	uint64_t	deadline, wait_until;
};

struct metrics {
	int		lfd, kick_fd, done_fd, stop_fd;
	pthread_t	thread;
	bool		started;

	atomic_bool	want;
	_Atomic unsigned mid;
	unsigned	back;		/* data path's */
	unsigned	front;		/* server's */
	struct snap	buf[3];

	/* Fixed at open, read by the server only. */
	char		listen[64];
	char		ifname[ROUTER_NIF][24];
	char		ifaddr[ROUTER_NIF][24];
	bool		nat_on;
	uint64_t	arp_max, nat_max, started_us;
	uint64_t	memory;		/* the RAM figure tables are sized from */
	struct state	*state;
	struct archive	*archive;
	struct sync	*sync;		/* NULL: no --sync */

	/* Server's. */
	struct client	cl[MAX_CLIENTS];
	uint64_t	scrapes, stale;
};

static const char *const if_role[ROUTER_NIF] = { "inside", "outside" };

/* ---- data path ---------------------------------------------------------- */

int
metrics_kick_fd(const struct metrics *m)
{
	return m->kick_fd;
}

bool
metrics_wanted(const struct metrics *m)
{
	return atomic_load_explicit(&m->want, memory_order_relaxed);
}

void
metrics_publish(struct metrics *m, const struct router *r)
{
	struct snap *s = &m->buf[m->back];
	uint64_t one = 1, x;
	unsigned old;

	/* Cleared first: a scrape asking while we copy gets another copy. */
	atomic_store_explicit(&m->want, false, memory_order_relaxed);
	if (read(m->kick_fd, &x, sizeof(x)) < 0)
		x = 0;		/* nothing to drain: published unasked (open) */
	s->taken_us = router_now_us();
	s->nf = *nf_stats(r->nf);
	s->arp = *arp_stats(nf_arp(r->nf));
	s->arp_entries = arp_count(nf_arp(r->nf));
	if (nf_nat(r->nf) != NULL) {
		s->nat = *nat_stats(nf_nat(r->nf));
		s->nat_sessions = nat_count(nf_nat(r->nf));
	}
	for (int i = 0; i < ROUTER_NIF; i++)
		s->io[i] = r->io[i]->stats;
	s->tx_lost = r->tx_lost;
	s->ev_lost = r->ev_lost;
	s->events = r->sink.total;
	s->standby = r->standby;
	s->takeovers = r->takeovers;
	s->warm_loads = r->warm_loads;
	old = atomic_exchange_explicit(&m->mid, m->back | FRESH, memory_order_acq_rel);
	m->back = old & 3;
	if (write(m->done_fd, &one, sizeof(one)) < 0)
		return;		/* the server times out and serves what it has */
}

/* ---- formatting --------------------------------------------------------- */

static void __attribute__((format(printf, 2, 3)))
sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap == 0 ? 16384 : b->cap * 2;
		char *p;

		while (cap - b->len <= (size_t)n)
			cap *= 2;
		if ((p = realloc(b->p, cap)) == NULL) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
}

/* A label value: backslash, double quote and newline escaped (0.0.4). */
static const char *
esc(char *dst, size_t len, const char *s)
{
	size_t j = 0;

	for (; *s != '\0' && j + 3 < len; s++) {
		if (*s == '\\' || *s == '"') {
			dst[j++] = '\\';
			dst[j++] = *s;
		} else if (*s == '\n') {
			dst[j++] = '\\';
			dst[j++] = 'n';
		} else {
			dst[j++] = *s;
		}
	}
	dst[j] = '\0';
	return dst;
}

static void
family(struct sbuf *b, const char *name, const char *type, const char *help)
{
	sb_printf(b, "# HELP gitnet_%s %s\n# TYPE gitnet_%s %s\n", name, help, name, type);
}

/* One family with one unlabelled sample. */
static void
one(struct sbuf *b, const char *name, const char *type, const char *help, uint64_t v)
{
	family(b, name, type, help);
	sb_printf(b, "gitnet_%s %llu\n", name, (unsigned long long)v);
}

#define COUNTER(b, name, help, v)	one(b, name "_total", "counter", help, v)

static void
seconds(struct sbuf *b, const char *name, const char *help, uint64_t us)
{
	family(b, name, "gauge", help);
	sb_printf(b, "gitnet_%s %llu.%06llu\n", name, (unsigned long long)(us / 1000000),
	    (unsigned long long)(us % 1000000));
}

static void
histogram(struct sbuf *b, const char *name, const char *help, const struct state_hist *h)
{
	uint64_t cum = 0;

	family(b, name, "histogram", help);
	for (int i = 0; i < STATE_HIST_N - 1; i++) {
		cum += h->bucket[i];
		sb_printf(b, "gitnet_%s_bucket{le=\"%g\"} %llu\n", name,
		    (double)state_hist_le_us[i] / 1e6, (unsigned long long)cum);
	}
	cum += h->bucket[STATE_HIST_N - 1];
	sb_printf(b, "gitnet_%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
	sb_printf(b, "gitnet_%s_sum %llu.%06llu\n", name,
	    (unsigned long long)(h->sum_us / 1000000),
	    (unsigned long long)(h->sum_us % 1000000));
	sb_printf(b, "gitnet_%s_count %llu\n", name, (unsigned long long)h->count);
}

static void
render_router(struct metrics *m, struct sbuf *b, const struct snap *s)
{
	const struct nf_stats *nf = &s->nf;
	const struct arp_stats *a = &s->arp;
	char e[2][64];

	family(b, "build_info", "gauge", "The running gitnet-router's version.");
	sb_printf(b, "gitnet_build_info{version=\"%s\"} 1\n", esc(e[0], sizeof(e[0]),
	    gitnet_version));
	seconds(b, "start_time_seconds", "When this run (start or reload) began, unix time.",
	    m->started_us);
	seconds(b, "metrics_snapshot_age_seconds",
	    "Age of the data path's counters in this answer.",
	    router_now_us() > s->taken_us ? router_now_us() - s->taken_us : 0);

	COUNTER(b, "rx_frames", "Frames received on all interfaces.", nf->rx);
	COUNTER(b, "rx_bytes", "Bytes received on all interfaces.", nf->rx_bytes);
	COUNTER(b, "forwarded", "Frames forwarded at once (not first queued for ARP).",
	    nf->forwarded);
	COUNTER(b, "local", "Frames delivered to the router itself.", nf->local);
	COUNTER(b, "arp_in", "ARP frames received.", nf->arp_in);
	COUNTER(b, "icmp_sent", "ICMP errors and replies sent.", nf->icmp_sent);
	COUNTER(b, "icmp_ratelimited", "ICMP errors not sent (rate limit).",
	    nf->icmp_ratelimited);
	COUNTER(b, "csum_completed", "Partial checksums completed (offload).",
	    nf->csum_completed);
	COUNTER(b, "gso_in", "GSO super-frames taken in whole (offload).", nf->gso_in);
	family(b, "dropped_total", "counter", "Frames dropped, by reason (netfn/drop.h).");
	for (int i = 1; i < DROP_MAX; i++)
		sb_printf(b, "gitnet_dropped_total{reason=\"%s\"} %llu\n",
		    drop_name((enum drop)i), (unsigned long long)nf->drop[i]);

	COUNTER(b, "arp_requests_sent", "ARP requests sent.", a->requests_sent);
	COUNTER(b, "arp_replies_sent", "ARP replies sent.", a->replies_sent);
	COUNTER(b, "arp_announces_sent", "Gratuitous ARP announcements sent.",
	    a->announces_sent);
	COUNTER(b, "arp_requests_in", "ARP requests received.", a->requests_in);
	COUNTER(b, "arp_replies_in", "ARP replies received.", a->replies_in);
	COUNTER(b, "arp_resolved", "Neighbours resolved.", a->resolved);
	COUNTER(b, "arp_failed", "Neighbours that failed to resolve.", a->failed);
	COUNTER(b, "arp_evicted", "ARP entries evicted (table full).", a->evicted);
	COUNTER(b, "arp_lladdr_changes", "Neighbour MAC changes accepted.",
	    a->lladdr_changes);
	COUNTER(b, "arp_lladdr_refused", "Neighbour MAC changes refused.",
	    a->lladdr_refused);
	COUNTER(b, "arp_queue_drops", "Frames dropped waiting for ARP.", a->queue_drops);
	COUNTER(b, "arp_queue_released", "Frames sent once their neighbour resolved.",
	    a->released);

	family(b, "table_entries", "gauge", "Entries in each table (ARP cache, NAT sessions).");
	sb_printf(b, "gitnet_table_entries{table=\"arp\"} %llu\n",
	    (unsigned long long)s->arp_entries);
	if (m->nat_on)
		sb_printf(b, "gitnet_table_entries{table=\"nat\"} %llu\n",
		    (unsigned long long)s->nat_sessions);
	family(b, "memory_bytes", "gauge",
	    "Memory the tables and caches are sized from (--memory, or the system's).");
	sb_printf(b, "gitnet_memory_bytes %llu\n", (unsigned long long)m->memory);
	family(b, "table_capacity", "gauge", "Configured size of each table.");
	sb_printf(b, "gitnet_table_capacity{table=\"arp\"} %llu\n",
	    (unsigned long long)m->arp_max);
	if (m->nat_on)
		sb_printf(b, "gitnet_table_capacity{table=\"nat\"} %llu\n",
		    (unsigned long long)m->nat_max);

	if (m->nat_on) {
		const struct nat_stats *n = &s->nat;

		COUNTER(b, "nat_in2out", "Frames translated inside to outside.", n->in2out);
		COUNTER(b, "nat_out2in", "Frames translated outside to inside.", n->out2in);
		COUNTER(b, "nat_hairpinned", "Frames hairpinned inside to inside.",
		    nf->hairpinned);
		COUNTER(b, "nat_sessions_created", "NAT sessions created.",
		    n->sessions_created);
		COUNTER(b, "nat_sessions_expired", "NAT sessions expired.",
		    n->sessions_expired);
		COUNTER(b, "nat_sessions_removed", "NAT sessions removed otherwise.",
		    n->sessions_removed);
		COUNTER(b, "nat_mappings_created", "NAT mappings created.",
		    n->mappings_created);
		COUNTER(b, "nat_mappings_removed", "NAT mappings removed.",
		    n->mappings_removed);
		COUNTER(b, "nat_ports_preserved", "Mappings that kept the inside port.",
		    n->ports_preserved);
		COUNTER(b, "nat_ports_random", "Mappings given a random port (RFC 6056).",
		    n->ports_random);
		COUNTER(b, "nat_icmp_errors_translated", "ICMP errors translated.",
		    n->icmp_errors_translated);
		COUNTER(b, "nat_frags_translated", "Fragments translated.",
		    n->frags_translated);
		COUNTER(b, "nat_tcp_pickups", "TCP sessions picked up mid-stream.",
		    n->tcp_pickups);
		COUNTER(b, "nat_half_open_evicted",
		    "Inbound half-open sessions evicted (their own limit).",
		    n->half_open_evicted);
		COUNTER(b, "nat_half_open_promoted",
		    "Inbound half-open sessions the inside answered.",
		    n->half_open_promoted);
		COUNTER(b, "nat_restore_pickups",
		    "Restored sessions history counted but did not list, taken back.",
		    n->restore_pickups);
	}

	COUNTER(b, "out_tx_lost", "Frames lost: a batch's output was full.", s->tx_lost);
	COUNTER(b, "out_events_lost", "Table events lost: a batch's output was full.",
	    s->ev_lost);
	COUNTER(b, "events", "Table events handed to the state writer.", s->events);

	family(b, "interface_info", "gauge", "The router's interfaces: role and address.");
	for (int i = 0; i < ROUTER_NIF; i++)
		sb_printf(b, "gitnet_interface_info{interface=\"%s\",role=\"%s\","
		    "address=\"%s\"} 1\n", esc(e[0], sizeof(e[0]), m->ifname[i]),
		    if_role[i], m->ifaddr[i]);
#define IFC(field, help) do {							\
	family(b, "interface_" #field "_total", "counter", help);		\
	for (int i = 0; i < ROUTER_NIF; i++)					\
		sb_printf(b, "gitnet_interface_" #field "_total{interface=\"%s\"} %llu\n", \
		    esc(e[1], sizeof(e[1]), m->ifname[i]),			\
		    (unsigned long long)s->io[i].field);			\
} while (0)
	IFC(rx_frames, "Frames read from the interface's ring.");
	IFC(rx_bytes, "Bytes read from the interface's ring.");
	IFC(tx_frames, "Frames sent on the interface.");
	IFC(tx_bytes, "Bytes sent on the interface.");
	IFC(rx_truncated, "Frames larger than a ring slot, dropped.");
	IFC(rx_kernel_drops, "Frames the kernel dropped: the ring was full.");
	IFC(tx_ring_full, "Frames dropped: no free transmit slot.");
	IFC(tx_errors, "Frames the kernel refused to send.");
	IFC(rx_gso, "GSO super-frames received with their virtio-net header.");
	IFC(rx_big, "Frames larger than a ring slot, read whole from the socket.");
	IFC(rx_queue_full, "Big frames dropped: the socket's queue was full.");
	IFC(tx_gso, "GSO super-frames sent whole for the kernel to segment.");
	IFC(tx_segmented, "GSO super-frames segmented by the router.");
#undef IFC
}

static void
render_state(struct metrics *m, struct sbuf *b)
{
	struct state_stats st;

	if (m->state == NULL)
		return;
	state_get_stats(m->state, &st);
	COUNTER(b, "state_events", "Table events pushed to the state writer.", st.events_in);
	COUNTER(b, "state_events_lost", "Events not recorded: the writer's ring was full.",
	    st.events_lost);
	family(b, "state_changes_total", "counter", "Changes recorded into the repository.");
	sb_printf(b, "gitnet_state_changes_total{table=\"arp\"} %llu\n",
	    (unsigned long long)st.changes_arp);
	sb_printf(b, "gitnet_state_changes_total{table=\"nat\"} %llu\n",
	    (unsigned long long)st.changes_nat);
	COUNTER(b, "state_commits", "Group commits made durable.", st.commits);
	COUNTER(b, "state_ticks", "Expiry ticks that aged something out.", st.ticks);
	COUNTER(b, "state_errors", "Store operations that failed.", st.errors);
	COUNTER(b, "history_events_limited",
	    "Unsolicited inbound events over the history limits, not recorded.",
	    st.events_limited);
	COUNTER(b, "history_write_errors",
	    "History writes (flush or retry) that failed; retried with backoff.",
	    st.write_errors);
	one(b, "history_write_failing", "gauge",
	    "1 while history writes fail and a retry is due, else 0.", st.write_failing);
	seconds(b, "state_commit_lag_p50_seconds",
	    "Median lag from event to durable commit, last 4096 changes.", st.lag_p50_us);
	seconds(b, "state_commit_lag_p99_seconds",
	    "99th percentile of that lag.", st.lag_p99_us);
	family(b, "state_restored_entries", "gauge", "Entries loaded from primary at start.");
	sb_printf(b, "gitnet_state_restored_entries{table=\"arp\"} %llu\n",
	    (unsigned long long)st.restored_arp);
	sb_printf(b, "gitnet_state_restored_entries{table=\"nat\"} %llu\n",
	    (unsigned long long)st.restored_nat);
	one(b, "state_restore_skipped_entries", "gauge",
	    "Stored entries that no longer fit the configuration.", st.restore_skipped);
	COUNTER(b, "history_compactions", "Background compactions of the commit path's packs.",
	    st.compactions);
	one(b, "history_bytes", "gauge", "Bytes of the repository's packs and indexes.",
	    st.history_bytes);
	one(b, "history_max_bytes", "gauge", "The bound on history_bytes (0: none).",
	    st.history_max_bytes);
	COUNTER(b, "history_cuts", "Retention cuts of old history finished.", st.history_cuts);
	COUNTER(b, "history_dropped_unarchived",
	    "Cuts that dropped history no archive had yet, to stay under the bound.",
	    st.history_dropped_unarchived);
	one(b, "history_oldest_seconds", "gauge",
	    "Commit time (unix seconds) of the oldest history kept.", st.history_oldest_s);
	histogram(b, "state_commit_lag_seconds",
	    "From a table event to the durable commit holding it.", &st.lag);
	histogram(b, "state_commit_duration_seconds",
	    "One group commit: build, pack, fsync, move primary.", &st.commit);
	histogram(b, "state_tick_merge_duration_seconds",
	    "Merging an expire_ branch into primary, flushed.", &st.tick_merge);
}

/* The archive: totals, and per remote its lag, failures and commit. */
static void
render_archive(struct metrics *m, struct sbuf *b)
{
	struct archive_stats as;
	struct archive_url_stats u[ARCHIVE_MAX];
	char url[2 * ARCHIVE_URL_MAX], hex[STORE_OID_HEXSZ + 1];
	unsigned n = 0;

	archive_get_stats(m->archive, &as);
	COUNTER(b, "history_pushes", "History pushes an archive remote accepted.", as.pushes);
	COUNTER(b, "history_push_errors",
	    "History pushes that failed (remote down or refused); retried with backoff.",
	    as.errors);
	while (n < ARCHIVE_MAX && archive_get_url(m->archive, n, &u[n]))
		n++;
	if (n == 0)
		return;
#define EACH(NAME, type, help, fmt, val) do {					\
	family(b, NAME, type, help);						\
	for (unsigned i = 0; i < n; i++)					\
		sb_printf(b, "gitnet_" NAME "{remote=\"%s\",url=\"%s\"} " fmt "\n",	\
		    u[i].name, esc(url, sizeof(url), u[i].url), val);		\
} while (0)
	EACH("history_push_lag_seconds", "gauge",
	    "Primary's head commit time minus that of the commit the archive holds.",
	    "%llu", (unsigned long long)u[i].lag_s);
	EACH("history_push_failures", "gauge", "Failed pushes in a row, now.",
	    "%llu", (unsigned long long)u[i].failures);
	EACH("history_push_last_success_timestamp_seconds", "gauge",
	    "When a push to the archive last succeeded (0: not since start).",
	    "%llu", (unsigned long long)(u[i].last_ok_us / 1000000));
#undef EACH
	family(b, "history_push_info", "gauge",
	    "The commit each archive holds (commit=\"none\" before the first push).");
	for (unsigned i = 0; i < n; i++)
		sb_printf(b, "gitnet_history_push_info{remote=\"%s\",url=\"%s\",commit=\"%s\"} 1\n",
		    u[i].name, esc(url, sizeof(url), u[i].url),
		    u[i].have ? store_oid_fmt(hex, &u[i].pushed) : "none");
}

/* The standby fed by git (sync.h): the transport's counters, the role. */
static void
render_sync(struct metrics *m, struct sbuf *b, const struct snap *s)
{
	struct sync_stats st;
	struct sync_peer p;

	if (m->sync == NULL)
		return;
	sync_get_stats(m->sync, &st);
	sync_peer_get(m->sync, &p);
	one(b, "sync_standby", "gauge", "1 while this router stands by (forwards nothing).",
	    s->standby);
	COUNTER(b, "sync_pushes", "Pushes of primary to the sync remote.", st.pushes);
	COUNTER(b, "sync_push_errors", "Pushes of primary that failed.", st.push_errors);
	COUNTER(b, "sync_beats", "Heartbeats pushed.", st.beats);
	COUNTER(b, "sync_fetches", "Fetches of the peer's primary.", st.fetches);
	COUNTER(b, "sync_errors", "Failed operations on the sync remote (retried).",
	    st.sync_errors);
	one(b, "sync_lag_ms", "gauge", "The peer's commit to its fetch here, last (ms).",
	    st.lag_ms);
	one(b, "sync_lag_p99_ms", "gauge", "The same, 99th percentile of recent fetches.",
	    st.lag_p99_ms);
	COUNTER(b, "sync_bytes_sent", "Bytes pushed to the sync remote.", st.bytes_sent);
	COUNTER(b, "sync_bytes_fetched", "Bytes fetched from the sync remote.",
	    st.bytes_fetched);
	COUNTER(b, "sync_takeovers", "Takeovers by this router.", s->takeovers);
	COUNTER(b, "sync_warm_loads", "Loads of the peer's fetched tables.", s->warm_loads);
	one(b, "sync_peer_silent_ms", "gauge",
	    "Since the watched router's heartbeat last moved (ms).",
	    s->standby && p.seen ? p.silent_ms : 0);
}

/* ---- the server --------------------------------------------------------- */

static const struct snap *
take(struct metrics *m)
{
	if (atomic_load_explicit(&m->mid, memory_order_acquire) & FRESH) {
		unsigned old = atomic_exchange_explicit(&m->mid, m->front,
		    memory_order_acq_rel);

		m->front = old & 3;
	}
	return &m->buf[m->front];
}

static void
client_close(struct client *c)
{
	close(c->fd);
	free(c->out.p);
	memset(&c->out, 0, sizeof(c->out));
	c->st = CL_FREE;
}

static void
reply(struct client *c, int code, const char *reason, const char *extra,
    const char *type, const char *body, size_t len)
{
	struct sbuf *b = &c->out;

	sb_printf(b, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	    "Connection: close\r\n%s\r\n", code, reason, type, len, extra);
	if (!c->head && len > 0 && !b->oom) {
		size_t need = b->len + len;

		if (need > b->cap) {
			char *p = realloc(b->p, need);

			if (p == NULL) {
				b->oom = true;
				return;
			}
			b->p = p;
			b->cap = need;
		}
		memcpy(b->p + b->len, body, len);
		b->len += len;
	}
	c->outoff = 0;
	c->st = CL_WRITING;
}

static void
reply_text(struct client *c, int code, const char *reason, const char *extra,
    const char *body)
{
	reply(c, code, reason, extra, "text/plain; charset=utf-8", body, strlen(body));
}

static void
serve_metrics(struct metrics *m, struct client *c)
{
	struct sbuf body = { 0 };
	const struct snap *s = take(m);

	if (router_now_us() - s->taken_us > WAIT_US)
		m->stale++;
	m->scrapes++;
	render_router(m, &body, s);
	render_state(m, &body);
	render_archive(m, &body);
	render_sync(m, &body, s);
	COUNTER(&body, "metrics_scrapes", "Scrapes answered by this endpoint.", m->scrapes);
	COUNTER(&body, "metrics_stale_scrapes",
	    "Scrapes answered with counters older than 250 ms (the loop was late).",
	    m->stale);
	if (body.oom)
		reply_text(c, 500, "Internal Server Error", "", "out of memory\n");
	else
		reply(c, 200, "OK", "", "text/plain; version=0.0.4; charset=utf-8",
		    body.p, body.len);
	free(body.p);
}

/* A whole request head is in c->in: route it. */
static void
request(struct metrics *m, struct client *c, uint64_t now)
{
	char method[8], path[256];
	uint64_t one = 1;

	c->in[c->inlen] = '\0';
	if (sscanf(c->in, "%7s %255s HTTP/1.%*c", method, path) != 2) {
		reply_text(c, 400, "Bad Request", "", "bad request\n");
		return;
	}
	path[strcspn(path, "?#")] = '\0';
	c->head = strcmp(method, "HEAD") == 0;
	if (!c->head && strcmp(method, "GET") != 0) {
		reply_text(c, 405, "Method Not Allowed", "Allow: GET, HEAD\r\n",
		    "GET or HEAD only\n");
		return;
	}
	if (strcmp(path, "/") == 0) {
		reply_text(c, 200, "OK", "", "gitnet-router: metrics at /metrics\n");
		return;
	}
	if (strcmp(path, "/metrics") != 0) {
		reply_text(c, 404, "Not Found", "", "not found: try /metrics\n");
		return;
	}
	/* Ask the loop for a fresh copy; answered on done_fd or after WAIT_US.
	 * A copy published before this request is taken now, so that FRESH
	 * from here on means one made after it. */
	(void)take(m);
	c->st = CL_WAITING;
	c->wait_until = now + WAIT_US;
	atomic_store_explicit(&m->want, true, memory_order_relaxed);
	if (write(m->kick_fd, &one, sizeof(one)) < 0)
		c->wait_until = now;
}

static void
client_read(struct metrics *m, struct client *c, uint64_t now)
{
	ssize_t n = read(c->fd, c->in + c->inlen, sizeof(c->in) - 1 - c->inlen);

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		client_close(c);
		return;
	}
	if (n < 0)
		return;
	c->inlen += (size_t)n;
	c->in[c->inlen] = '\0';
	if (strstr(c->in, "\r\n\r\n") != NULL || strstr(c->in, "\n\n") != NULL)
		request(m, c, now);
	else if (c->inlen >= sizeof(c->in) - 1)
		reply_text(c, 431, "Request Header Fields Too Large", "", "request too large\n");
}

static void
client_write(struct client *c)
{
	ssize_t n;

	if (c->out.oom) {
		client_close(c);
		return;
	}
	n = send(c->fd, c->out.p + c->outoff, c->out.len - c->outoff, MSG_NOSIGNAL);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_close(c);
		return;
	}
	c->outoff += (size_t)n;
	if (c->outoff == c->out.len) {
		shutdown(c->fd, SHUT_WR);
		client_close(c);
	}
}

static void
accept_all(struct metrics *m, uint64_t now)
{
	for (int i = 0; i < MAX_CLIENTS; i++) {
		struct client *c = &m->cl[i];
		int fd;

		if (c->st != CL_FREE)
			continue;
		if ((fd = accept4(m->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) < 0)
			return;
		memset(c, 0, sizeof(*c));
		c->fd = fd;
		c->st = CL_READING;
		c->deadline = now + CLIENT_US;
	}
}

static void *
server(void *arg)
{
	struct metrics *m = arg;
	struct pollfd p[3 + MAX_CLIENTS];
	int who[3 + MAX_CLIENTS];

	for (;;) {
		uint64_t now = router_now_us(), next = now + 1000000, x;
		bool waiting = false, room = false;
		int n = 0, timeout;

		for (int i = 0; i < MAX_CLIENTS; i++) {
			struct client *c = &m->cl[i];

			if (c->st == CL_FREE) {
				room = true;
				continue;
			}
			if (now >= c->deadline) {
				client_close(c);
				room = true;
				continue;
			}
			if (c->deadline < next)
				next = c->deadline;
			if (c->st == CL_WAITING) {
				waiting = true;
				if (c->wait_until < next)
					next = c->wait_until;
				continue;
			}
			p[n] = (struct pollfd){ .fd = c->fd,
			    .events = c->st == CL_READING ? POLLIN : POLLOUT };
			who[n++] = i;
		}
		p[n] = (struct pollfd){ .fd = m->stop_fd, .events = POLLIN };
		who[n++] = -1;
		if (room) {
			p[n] = (struct pollfd){ .fd = m->lfd, .events = POLLIN };
			who[n++] = -2;
		}
		if (waiting) {
			p[n] = (struct pollfd){ .fd = m->done_fd, .events = POLLIN };
			who[n++] = -3;
		}
		timeout = next > now ? (int)((next - now + 999) / 1000) : 0;
		if (poll(p, (nfds_t)n, timeout) < 0 && errno != EINTR)
			break;
		now = router_now_us();
		for (int k = 0; k < n; k++) {
			if (p[k].revents == 0)
				continue;
			if (who[k] == -1)
				return NULL;
			if (who[k] == -2)
				accept_all(m, now);
			else if (who[k] == -3 && read(m->done_fd, &x, sizeof(x)) < 0)
				continue;
			else if (who[k] >= 0 && m->cl[who[k]].st == CL_READING)
				client_read(m, &m->cl[who[k]], now);
			else if (who[k] >= 0 && m->cl[who[k]].st == CL_WRITING)
				client_write(&m->cl[who[k]]);
		}
		/* Fresh copy in, or waited long enough: answer every waiting scrape. */
		for (int i = 0; i < MAX_CLIENTS; i++) {
			struct client *c = &m->cl[i];

			if (c->st != CL_WAITING)
				continue;
			if ((atomic_load_explicit(&m->mid, memory_order_acquire) & FRESH) ||
			    now >= c->wait_until) {
				serve_metrics(m, c);
				client_write(c);
			}
		}
	}
	return NULL;
}

static int
listen_on(const char *spec, char *err, size_t errlen)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t sl;
	char host[64];
	uint16_t port;
	int fd, one = 1;

	if (config_split_listen(spec, host, &port) < 0) {
		snprintf(err, errlen, "metrics: '%s' is not ADDR:PORT", spec);
		return -1;
	}
	if (spec[0] == '[') {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
			goto bad;
		sl = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			goto bad;
		sl = sizeof(*a);
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
		snprintf(err, errlen, "metrics: %s: socket: %s", spec, strerror(errno));
		return -1;
	}
	/* A reload rebinds at once, whatever connections are in TIME_WAIT. */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 16) < 0) {
		snprintf(err, errlen, "metrics: %s: %s", spec, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
bad:
	snprintf(err, errlen, "metrics: '%s' is not an IP address", host);
	return -1;
}

int
metrics_open(struct metrics **out, struct router *r, char *err, size_t errlen)
{
	struct metrics *m;
	char a[16];

	*out = NULL;
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		snprintf(err, errlen, "metrics: out of memory");
		return -1;
	}
	m->lfd = m->kick_fd = m->done_fd = m->stop_fd = -1;
	if ((m->lfd = listen_on(r->cfg.metrics, err, errlen)) < 0)
		goto fail;
	if ((m->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0 ||
	    (m->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0 ||
	    (m->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		snprintf(err, errlen, "metrics: eventfd: %s", strerror(errno));
		goto fail;
	}
	snprintf(m->listen, sizeof(m->listen), "%s", r->cfg.metrics);
	for (int i = 0; i < ROUTER_NIF; i++) {
		const struct config_iface *ci = i == 0 ? &r->cfg.inside : &r->cfg.outside;

		snprintf(m->ifname[i], sizeof(m->ifname[i]), "%s", r->io[i]->name);
		snprintf(m->ifaddr[i], sizeof(m->ifaddr[i]), "%s/%u",
		    ipv4_ntop(ci->addr, a), ci->plen);
	}
	m->nat_on = nf_nat(r->nf) != NULL;
	m->arp_max = r->cfg.arp.max_entries;
	m->nat_max = r->cfg.nat_params.max_sessions;
	m->memory = r->mem.ram;
	m->started_us = r->started_us;
	m->state = r->state;
	m->archive = r->archive;
	m->sync = r->sync;
	/* Buffers: back 0, middle 1, front 2; a first copy before any scrape. */
	m->back = 0;
	atomic_init(&m->mid, 1);
	m->front = 2;
	metrics_publish(m, r);
	if (pthread_create(&m->thread, NULL, server, m) != 0) {
		snprintf(err, errlen, "metrics: cannot start the server thread");
		goto fail;
	}
	m->started = true;
	*out = m;
	return 0;
fail:
	metrics_close(m);
	return -1;
}

void
metrics_close(struct metrics *m)
{
	uint64_t one = 1;

	if (m == NULL)
		return;
	if (m->started) {
		if (write(m->stop_fd, &one, sizeof(one)) < 0)
			pthread_cancel(m->thread);
		pthread_join(m->thread, NULL);
	}
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (m->cl[i].st != CL_FREE)
			client_close(&m->cl[i]);
	if (m->lfd >= 0)
		close(m->lfd);
	if (m->kick_fd >= 0)
		close(m->kick_fd);
	if (m->done_fd >= 0)
		close(m->done_fd);
	if (m->stop_fd >= 0)
		close(m->stop_fd);
	free(m);
}

/* SPDX-License-Identifier: ISC */
/*
 * The state writer (contract in state.h).
 *
 * Ring: a power-of-two array of events, head written only by the data path,
 * tail only by the writer, both C11 atomics with acquire/release ordering;
 * no lock is ever taken on the data path (its counters are atomics too).
 *
 * The writer hands events to the store (store_record_event). ARP events map
 * one to one. NAT events are per session, while the store keeps one entry
 * per mapping (nat/<proto>/<a.b.c>/<d>/<port>) listing its remotes: each
 * event carries the mapping as it is after the change, so the store turns a
 * session's add, update or remove into one of its mapping's entry.
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

#include "router.h"
#include "state.h"
#include "store/store.h"

#define LAG_SAMPLES	4096
#define DRAIN_MAX	512
#define BACKOFF_MIN_US	100000ULL	/* first retry of a failed write */
#define BACKOFF_MAX_US	1000000ULL	/* and at most this apart */

struct state {
	struct state_opts o;
	struct store	*store;
	pthread_t	thread;
	bool		started;
	atomic_bool	stop;
	uint64_t	trimmed_us;	/* the writer's last heap_trim */

	struct nf_event	*ring;
	uint32_t	mask;
	_Atomic uint64_t head;		/* next slot the data path writes */
	_Atomic uint64_t tail;		/* next slot the writer reads */
	_Atomic uint64_t events_in;	/* written by the data path only */
	_Atomic uint64_t lost;		/* likewise */
	_Atomic uint64_t limited;	/* likewise */
	bool		lost_logged;	/* data path only */
	struct hlimit	*lim;		/* data path only; NULL: no limits */
	uint64_t	limited_logged_us;	/* data path only */

	/* A failing disk: writer thread only. */
	uint64_t	retry_at;	/* the next attempt; 0: writes work */
	uint64_t	backoff_us;
	uint64_t	fail_since, fail_tries, fail_lost;
	_Atomic uint64_t lost_writer;	/* events dropped while writes fail */

	/* Writer thread only, except the stats copied under lock. */
	uint64_t	pending_oldest[LAG_SAMPLES];	/* event times not yet durable */
	unsigned	npending;
	uint64_t	lag[LAG_SAMPLES];
	unsigned	nlag, lag_at;
	uint64_t	next_tick;
	uint64_t	finish_at;	/* merge the begun tick then; 0: none */
	uint64_t	first_us;	/* the oldest pending change's time */
	bool		sync_started;
	const char	*last_error;
	uint64_t	last_error_at;

	/* Called on the writer's thread when primary moved (sync's kick). */
	void		(*head_hook)(void *);
	void		*head_ctx;
	struct store_oid hooked;	/* writer thread: the head last told */

	pthread_mutex_t	mu;		/* guards st and the archive hook below */
	struct state_stats st;
	bool		(*archived)(void *, struct store_oid *);
	void		*archive_ctx;
};

/* 50 us to 10 s: a commit takes tens of microseconds, a lag hundreds of ms. */
const uint64_t state_hist_le_us[STATE_HIST_N - 1] = {
	50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000,
	250000, 500000, 1000000, 2500000, 5000000, 10000000,
};

/* Called with s->mu held. */
static void
hist_observe(struct state_hist *h, uint64_t us)
{
	unsigned i = 0;

	while (i < STATE_HIST_N - 1 && us > state_hist_le_us[i])
		i++;
	h->bucket[i]++;
	h->count++;
	h->sum_us += us;
}

static void
hist_observe_locked(struct state *s, struct state_hist *h, uint64_t us)
{
	pthread_mutex_lock(&s->mu);
	hist_observe(h, us);
	pthread_mutex_unlock(&s->mu);
}

void
state_opts_default(struct state_opts *o)
{
	*o = (struct state_opts){
		.router_id = "gitnet-router",
		.window_ms = 100,
		.commit_gap_ms = 1000,
		.tick_ms = 1000,
		.keep_expire = 8,
		.ring_events = 65536,
	};
	hlimit_params_default(&o->inbound);
}

int
state_open(struct state **out, const struct state_opts *o, char *err, size_t errlen)
{
	struct store_opts so;
	struct state *s;
	int e;

	*out = NULL;
	if (o->ring_events == 0 || (o->ring_events & (o->ring_events - 1)) != 0) {
		snprintf(err, errlen, "state: ring size %u is not a power of two",
		    o->ring_events);
		return -1;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->ring = calloc(o->ring_events, sizeof(*s->ring))) == NULL) {
		free(s);
		snprintf(err, errlen, "state: out of memory");
		return -1;
	}
	s->o = *o;
	s->mask = o->ring_events - 1;
	/*
	 * A fixed seed: a replay limits exactly as the live router did. A
	 * secret one would buy nothing, as the total bucket is everyone's.
	 */
	if ((o->inbound.rate != 0 || o->inbound.total_rate != 0) &&
	    (s->lim = hlimit_new(&o->inbound, 0x6769746e6574ULL)) == NULL) {
		free(s->ring);
		free(s);
		snprintf(err, errlen, "state: out of memory");
		return -1;
	}
	pthread_mutex_init(&s->mu, NULL);
	store_opts_default(&so);
	so.router_id = o->router_id;
	so.router_info = o->router_info;
	so.ifnames = o->ifnames;
	so.n_ifnames = o->n_ifnames;
	so.window_ms = o->window_ms;
	so.commit_gap_ms = o->commit_gap_ms;
	so.keep_expire = o->keep_expire;
	if (o->compact_s != 0)
		so.compact_s = o->compact_s;
	so.mem_bytes = o->mem_bytes;
	so.create = o->branch == NULL;
	so.branch = o->branch;
	so.base = o->base;
	if ((e = store_open(&s->store, o->dir, &so)) < 0) {
		/* The store's message names the directory and the reason. */
		snprintf(err, errlen, "state: %s", store_strerror());
		hlimit_free(s->lim);
		free(s->ring);
		free(s);
		return -1;
	}
	if (s->o.history_max_bytes == STATE_HISTORY_AUTO) {
		struct statvfs vfs;

		s->o.history_max_bytes = statvfs(o->dir, &vfs) == 0 ?
		    (uint64_t)vfs.f_blocks * vfs.f_frsize / 4 : 0;
	}
	s->st.history_max_bytes = s->o.history_max_bytes;
	*out = s;
	return 0;
}

/* A stored remote state as a NAT session state (restart). */
static void
session_of(struct nat_session *n, uint8_t proto, const struct store_nat_remote *r)
{
	n->proto = proto;
	store_nat_remote_to(&n->state, &n->flags, proto, r);
}

static void
count_error(struct state *s, const char *what)
{
	const char *msg = store_strerror();

	pthread_mutex_lock(&s->mu);
	s->st.errors++;
	pthread_mutex_unlock(&s->mu);
	/*
	 * Log a failure when the step that fails changes, else once a minute:
	 * a full disk fails every group commit, with a new temporary file name
	 * in each message.
	 */
	uint64_t now = router_now_us();

	if (s->last_error == NULL || strcmp(s->last_error, what) != 0 ||
	    now - s->last_error_at >= 60ULL * 1000000) {
		fprintf(stderr, "state: %s: %s (counted as state_errors; logged once a "
		    "minute while it lasts)\n", what, msg);
		free((void *)s->last_error);
		s->last_error = strdup(what);
		s->last_error_at = now;
	}
}

/*
 * Ageing out is the ticks' work (DESIGN.md section 3): a removal because an
 * entry timed out is left to the next tick, which removes every entry whose
 * stored expiry has passed, on its expire_ branch. The stored expiry is
 * never later than the data path's (lazy refresh writes it ahead of time),
 * so the tick removes the entry by then.
 */
static bool
left_to_tick(const struct nf_event *ev)
{
	if (ev->op != EV_REMOVE)
		return false;
	if (ev->table == EV_TABLE_NAT)
		return ev->cause == EV_CAUSE_NAT_TIMEOUT && ev->nat.mapping_gone &&
		    ev->nat.map_expires_us != 0;
	return ev->cause == EV_CAUSE_GC && ev->arp.expires_us != 0;
}

static void
record(struct state *s, const struct nf_event *ev)
{
	if (left_to_tick(ev))
		return;
	if (store_pending(s->store) == 0)
		s->first_us = ev->now_us;
	if (store_record_event(s->store, ev) < 0) {
		count_error(s, "record");
		return;
	}
	if (s->npending < LAG_SAMPLES)
		s->pending_oldest[s->npending++] = ev->now_us;
	pthread_mutex_lock(&s->mu);
	s->st.changes++;
	if (ev->table == EV_TABLE_ARP)
		s->st.changes_arp++;
	else
		s->st.changes_nat++;
	pthread_mutex_unlock(&s->mu);
}

/*
 * With -v, name primary's head each time it is durable (its flush returned):
 * the promise a crash test holds the repository to (that commit must be on
 * primary after any later kill).
 */
static void
log_durable(struct state *s)
{
	const unsigned char *id = store_head(s->store)->id;
	char hex[41];

	if (s->o.verbose < 1)
		return;
	for (int i = 0; i < 20; i++)
		snprintf(hex + 2 * i, 3, "%02x", id[i]);
	fprintf(stderr, "state: durable: head=%s\n", hex);
}

/* The writer's clock: the loop's (simulated) one in sync mode. */
static uint64_t
wall(const struct state *s, uint64_t now)
{
	return s->o.sync ? now : router_now_us();
}

static void
count_made(struct state *s)
{
	pthread_mutex_lock(&s->mu);
	s->st.made++;
	pthread_mutex_unlock(&s->mu);
}

/* Everything recorded so far is durable as of now: note the lags. */
static void
durable(struct state *s, uint64_t now)
{
	log_durable(s);
	pthread_mutex_lock(&s->mu);
	for (unsigned i = 0; i < s->npending; i++) {
		uint64_t lag = now > s->pending_oldest[i] ? now - s->pending_oldest[i] : 0;

		s->lag[s->lag_at] = lag;
		s->lag_at = (s->lag_at + 1) % LAG_SAMPLES;
		if (s->nlag < LAG_SAMPLES)
			s->nlag++;
		hist_observe(&s->st.lag, lag);
	}
	s->npending = 0;
	s->st.commits++;
	pthread_mutex_unlock(&s->mu);
}

static unsigned
drain(struct state *s)
{
	uint64_t tail = atomic_load_explicit(&s->tail, memory_order_relaxed);
	uint64_t head = atomic_load_explicit(&s->head, memory_order_acquire);
	unsigned n = 0;

	for (; tail != head && n < DRAIN_MAX; tail++, n++) {
		/* Writes failing: keep what a retry can write, bounded. */
		if (s->retry_at != 0 && store_pending(s->store) >= STATE_HELD_MAX) {
			atomic_fetch_add_explicit(&s->lost_writer, 1, memory_order_relaxed);
			s->fail_lost++;
			continue;
		}
		record(s, &s->ring[tail & s->mask]);
	}
	atomic_store_explicit(&s->tail, tail, memory_order_release);
	return n;
}

/*
 * A write failed (state.h: a failing disk): retry after a backoff, from
 * 100 ms doubling to 1 s; no tick meanwhile. now is the writer's clock.
 */
static void
write_failed(struct state *s, uint64_t now)
{
	if (s->retry_at == 0) {
		s->backoff_us = BACKOFF_MIN_US;
		s->fail_since = now;
		s->fail_tries = 0;
		s->fail_lost = 0;
		fprintf(stderr, "state: history: writes fail; retrying every %llu ms at "
		    "most, keeping %u changes meanwhile (more are counted as "
		    "state_events_lost); forwarding goes on\n",
		    (unsigned long long)(BACKOFF_MAX_US / 1000), STATE_HELD_MAX);
	} else if ((s->backoff_us *= 2) > BACKOFF_MAX_US) {
		s->backoff_us = BACKOFF_MAX_US;
	}
	s->fail_tries++;
	s->retry_at = now + s->backoff_us;
	pthread_mutex_lock(&s->mu);
	s->st.write_errors++;
	s->st.write_failing = 1;
	pthread_mutex_unlock(&s->mu);
}

/*
 * Retry: first what the failed flush left in memory, then the changes held
 * since. 0 when both are durable (writes work again), -1 when not.
 */
static int
write_retry(struct state *s, uint64_t now)
{
	uint64_t t0 = router_now_us();
	int e = 1;

	if (store_flush(s->store) < 0 ||
	    (store_pending(s->store) > 0 &&
	    ((e = store_commit(s->store, now, NULL)) < 0 || store_flush(s->store) < 0))) {
		count_error(s, "retry");
		write_failed(s, now);
		return -1;
	}
	if (e == 0)
		count_made(s);
	hist_observe_locked(s, &s->st.commit, router_now_us() - t0);
	durable(s, wall(s, now));
	fprintf(stderr, "state: history: writing again after %llu failed attempts in "
	    "%.1f s; %llu events not recorded meanwhile\n",
	    (unsigned long long)s->fail_tries, (double)(now - s->fail_since) / 1e6,
	    (unsigned long long)s->fail_lost);
	s->retry_at = 0;
	pthread_mutex_lock(&s->mu);
	s->st.write_failing = 0;
	pthread_mutex_unlock(&s->mu);
	return 0;
}

static void
commit_now(struct state *s, uint64_t now)
{
	uint64_t t0 = router_now_us();
	int e;

	if ((e = store_commit(s->store, now, NULL)) < 0) {
		count_error(s, "commit");
		return;
	}
	if (e == 0)
		count_made(s);
	if (store_flush(s->store) < 0) {
		count_error(s, "flush");
		write_failed(s, wall(s, now));
		return;
	}
	if (e == 0) {
		hist_observe_locked(s, &s->st.commit, router_now_us() - t0);
		durable(s, wall(s, now));
	}
}

/*
 * An expiry tick in two halves, as DESIGN.md draws it: branch expire_<now>
 * from primary and age entries out there; meanwhile the data path's changes
 * go on landing on primary; a group-commit window later, merge the branch
 * back (two parents). A tick that ages nothing out makes no commit.
 */
static void
tick_begin(struct state *s, uint64_t now)
{
	int e;

	/* What is pending goes first, so the tick branches from it. */
	if (store_pending(s->store) > 0)
		commit_now(s, now);
	if (s->retry_at != 0)
		return;			/* that write failed: no tick until it is done */
	if ((e = store_tick_begin(s->store, now, NULL, NULL)) < 0) {
		count_error(s, "tick");
		return;
	}
	if (e == 0)
		count_made(s);
	if (e == 0)
		s->finish_at = now + (uint64_t)s->o.window_ms * 1000 * 2;
}

static void
tick_finish(struct state *s, uint64_t now)
{
	uint64_t t0;
	int e;

	s->finish_at = 0;
	if (store_pending(s->store) > 0)
		commit_now(s, now);
	if (s->retry_at != 0) {
		s->finish_at = now;	/* the merge waits for the retry */
		return;
	}
	t0 = router_now_us();
	if ((e = store_tick_finish(s->store, now)) < 0) {
		count_error(s, "tick merge");
		return;
	}
	if (e == 0)
		count_made(s);
	if (e == 0 && store_flush(s->store) < 0) {
		count_error(s, "flush");
		write_failed(s, wall(s, now));
		return;
	}
	if (e == 0) {
		log_durable(s);
		hist_observe_locked(s, &s->st.tick_merge, router_now_us() - t0);
	}
	pthread_mutex_lock(&s->mu);
	s->st.ticks++;
	pthread_mutex_unlock(&s->mu);
}

/*
 * What the history costs, refreshed each tick (a directory listing), and
 * retention: a cut is begun when history is older or larger than allowed
 * (in the background; the store reports it done at a later poll).
 */
static void
history_gauges(struct state *s, uint64_t now)
{
	struct store_retain r = {
		.keep_s = s->o.history_keep_s,
		.max_bytes = s->o.history_max_bytes,
	};
	struct store_retain_stats rs;
	uint64_t c, b;

	pthread_mutex_lock(&s->mu);
	if (s->archived != NULL) {
		r.archives = true;
		r.has_archived = s->archived(s->archive_ctx, &r.archived);
	}
	pthread_mutex_unlock(&s->mu);

	if (!s->o.sync && s->o.branch == NULL && store_retain_poll(s->store, now, &r) < 0)
		count_error(s, "history retention");
	store_retain_stats(s->store, &rs);
	c = store_compactions(s->store);
	b = store_history_bytes(s->store);
	if (rs.dropped_unarchived > s->st.history_dropped_unarchived)
		fprintf(stderr, "gitnet-router: history_dropped_unarchived: history before "
		    "%llu dropped to stay under %llu bytes, not yet archived\n",
		    (unsigned long long)rs.last_cutoff_s,
		    (unsigned long long)s->o.history_max_bytes);
	pthread_mutex_lock(&s->mu);
	s->st.compactions = c;
	s->st.history_bytes = b;
	s->st.history_cuts = rs.cuts;
	s->st.history_dropped_unarchived = rs.dropped_unarchived;
	s->st.history_oldest_s = rs.oldest_s;
	pthread_mutex_unlock(&s->mu);
}

/* One turn of the writer at now: group commit, tick merge, tick. */
static void
writer_turn(struct state *s, uint64_t now)
{
	struct store_oid before;
	uint64_t t0;
	int e;

	if (s->retry_at != 0 && (wall(s, now) >= s->retry_at || atomic_load(&s->stop)) &&
	    write_retry(s, wall(s, now)) < 0)
		return;
	if (s->retry_at != 0)
		return;			/* not yet: no commit, no tick */
	before = *store_head(s->store);
	t0 = router_now_us();
	if ((e = store_poll(s->store, now)) < 0) {
		count_error(s, "group commit");
		write_failed(s, wall(s, now));
		return;
	} else if (e == 1) {
		if (!store_oid_equal(&before, store_head(s->store)))
			count_made(s);
		hist_observe_locked(s, &s->st.commit, router_now_us() - t0);
		durable(s, wall(s, now));
	}
	if (s->finish_at != 0 && (now >= s->finish_at || atomic_load(&s->stop)))
		tick_finish(s, now);
	if (s->retry_at != 0)
		return;
	if (s->head_hook != NULL && !store_oid_equal(&s->hooked, store_head(s->store))) {
		s->hooked = *store_head(s->store);
		s->head_hook(s->head_ctx);
	}
	if (now >= s->next_tick && s->finish_at == 0) {
		uint64_t t = (uint64_t)s->o.tick_ms * 1000;

		tick_begin(s, now);
		history_gauges(s, wall(s, now));
		/*
		 * The next on a fixed grid of unix time, half a period past each
		 * whole one, not a period after this tick: a replay's ticks fall
		 * where the live router's did. Half past, because NAT expiries
		 * are whole seconds (a tick there would race the data path's
		 * refresh of a live entry), and the pipeline's NAT sweeps keep
		 * 50 ms off it (netfn/pipeline.c).
		 */
		s->next_tick = (now + t / 2) / t * t + t / 2;
		if (s->next_tick <= now)
			s->next_tick += t;
	}
}

/*
 * store_trim; its only failure, out of memory reopening the packs, leaves
 * the writer without an object database: stop here, loudly, rather than
 * write nothing from now on (a restart resumes from primary).
 */
static void
trim_store(struct state *s)
{
	if (store_trim(s->store) < 0) {
		fprintf(stderr, "state: trim: %s: stopping\n", store_strerror());
		abort();
	}
}

/*
 * Give memory back, at most every STATE_TRIM_US: libgit2's per-pack
 * delta-base caches, which ticks and merges fill again as they read a
 * compacted history (store_trim, between two turns of this thread), then
 * the heap's free pages: packs and trees come and go in the writer's (and
 * the pack job's) arenas, and glibc keeps what they freed (about 10 MB of
 * a 64 MB router under load). malloc_trim walks the free chunks,
 * milliseconds for a heap of this size, on this thread.
 */
#define STATE_TRIM_US	(10 * 1000000ULL)

static void
heap_trim(struct state *s, uint64_t now)
{
	if (now - s->trimmed_us < STATE_TRIM_US)
		return;
	s->trimmed_us = now;
	trim_store(s);
#ifdef __GLIBC__
	malloc_trim(0);
#endif
}

static void *
writer(void *arg)
{
	struct state *s = arg;
	struct timespec nap = { 0, 5 * 1000 * 1000 };
	unsigned stop_turns = 0;

	for (;;) {
		bool stopping = atomic_load(&s->stop);
		unsigned n = drain(s);

		writer_turn(s, router_now_us());
		heap_trim(s, router_now_us());
		if (stopping && n == 0 && s->finish_at == 0 &&
		    atomic_load(&s->tail) == atomic_load(&s->head))
			break;
		/* Stopping on a failing disk: one more try each turn, then give up. */
		if (stopping && s->retry_at != 0 && ++stop_turns >= 3 &&
		    atomic_load(&s->tail) == atomic_load(&s->head))
			break;
		if (n < DRAIN_MAX)
			nanosleep(&nap, NULL);
	}
	if (s->retry_at == 0)
		commit_now(s, router_now_us());
	return NULL;
}

uint64_t
state_next_deadline(struct state *s)
{
	uint64_t t = UINT64_MAX;

	while (drain(s) == DRAIN_MAX)
		;
	if (!s->sync_started)
		return 0;		/* the first tick: what expired meanwhile */
	if (s->retry_at != 0)
		return s->retry_at;	/* a failing write: nothing before its retry */
	if (store_pending(s->store) > 0)
		t = store_commit_due(s->store);
	if (s->finish_at != 0)
		t = s->finish_at < t ? s->finish_at : t;
	else if (s->next_tick < t)
		t = s->next_tick;
	return t;
}

void
state_run(struct state *s, uint64_t now)
{
	while (drain(s) == DRAIN_MAX)
		;
	if (!s->sync_started) {
		s->sync_started = true;
		s->next_tick = now;
	}
	writer_turn(s, now);
}

void
state_settle(struct state *s, uint64_t *now)
{
	while (drain(s) == DRAIN_MAX)
		;
	/* Bounded: a failing commit leaves its changes pending; give up then. */
	for (int i = 0; i < 4; i++) {
		uint64_t t = UINT64_MAX;

		if (store_pending(s->store) > 0)
			t = store_commit_due(s->store);
		if (s->finish_at != 0 && s->finish_at < t)
			t = s->finish_at;
		if (t == UINT64_MAX)
			break;
		if (t > *now)
			*now = t;
		if (store_pending(s->store) > 0 && *now >= t)
			commit_now(s, *now);
		if (s->finish_at != 0 && *now >= s->finish_at)
			tick_finish(s, *now);
	}
}

void
state_head(struct state *s, char hex[41])
{
	store_oid_fmt(hex, store_head(s->store));
}

int
state_start(struct state *s)
{
	s->next_tick = router_now_us();		/* first tick: what expired while down */
	if (pthread_create(&s->thread, NULL, writer, s) != 0)
		return -1;
	s->started = true;
	return 0;
}

void
state_push(struct state *s, const struct nf_event *ev, unsigned n)
{
	uint64_t head = atomic_load_explicit(&s->head, memory_order_relaxed);
	uint64_t tail = atomic_load_explicit(&s->tail, memory_order_acquire);
	unsigned i, lost = 0, limited = 0;

	for (i = 0; i < n; i++) {
		/* Before the ring: a flood must not take the room of real events. */
		if (s->lim != NULL && hlimit_unsolicited(&ev[i]) &&
		    !hlimit_take(s->lim, ev[i].nat.rem_ip, ev[i].now_us)) {
			limited++;
			continue;
		}
		if (head - tail > s->mask) {
			lost++;
			continue;
		}
		s->ring[head++ & s->mask] = ev[i];
	}
	atomic_store_explicit(&s->head, head, memory_order_release);
	atomic_fetch_add_explicit(&s->events_in, n, memory_order_relaxed);
	if (limited > 0) {
		atomic_fetch_add_explicit(&s->limited, limited, memory_order_relaxed);
		/* The first time, then once a minute of the events' own time. */
		if (s->limited_logged_us == 0 ||
		    ev[0].now_us - s->limited_logged_us >= 60ULL * 1000000) {
			fprintf(stderr, "state: history limit: unsolicited inbound events "
			    "over %u/s per remote or %u/s in all are not recorded "
			    "(counted as history_events_limited; logged once a minute)\n",
			    s->o.inbound.rate, s->o.inbound.total_rate);
			s->limited_logged_us = ev[0].now_us ? ev[0].now_us : 1;
		}
	}
	if (lost > 0) {
		atomic_fetch_add_explicit(&s->lost, lost, memory_order_relaxed);
		if (!s->lost_logged) {
			fprintf(stderr, "state: journal full: %u events not recorded "
			    "(the disk is behind; counted as state_events_lost)\n", lost);
			s->lost_logged = true;
		}
	} else {
		s->lost_logged = false;
	}
}

void
state_restore_entry(struct nf *nf, const struct store_entry *e, uint64_t now,
    struct state_restored *n)
{
	if (e->table == EV_TABLE_ARP) {
		if (arp_restore(nf_arp(nf), &e->arp) == 0)
			n->arp++;
		else
			n->skipped++;
		return;
	}
	if (e->table != EV_TABLE_NAT || nf_nat(nf) == NULL) {
		n->skipped++;
		return;
	}
	for (unsigned i = 0; i < e->nat.nremote; i++) {
		struct nat_session ns = {
			.int_ip = e->nat.in_ip, .int_port = e->nat.in_port,
			.ext_ip = e->nat.ext_ip, .ext_port = e->nat.ext_port,
			.rem_ip = e->nat.remote[i].ip, .rem_port = e->nat.remote[i].port,
			.created_us = e->nat.created_us, .expires_us = e->nat.expires_us,
		};

		session_of(&ns, e->nat.proto, &e->nat.remote[i]);
		if (nat_restore(nf_nat(nf), &ns, now) == 0)
			n->nat++;
		else
			n->skipped++;
	}
	/* What it had past the listed remotes, taken back as they show up. */
	if (e->nat.unlisted > 0 && nat_restore_unlisted(nf_nat(nf), e->nat.proto,
	    e->nat.in_ip, e->nat.in_port, e->nat.unlisted, e->nat.expires_us, now) < 0)
		n->skipped++;
}

struct restore_ctx {
	struct nf		*nf;
	uint64_t		now;
	struct state_restored	n;
};

static int
restore_one(void *arg, const struct store_entry *e)
{
	struct restore_ctx *r = arg;

	state_restore_entry(r->nf, e, r->now, &r->n);
	return 0;
}

int
state_restore(struct state *s, struct nf *nf, uint64_t now, char *err, size_t errlen)
{
	struct restore_ctx r = { .nf = nf, .now = now };
	struct store_skipped skip = { 0 };

	/*
	 * What the repository holds never stops the router: an entry that does
	 * not decode (an interface renamed between runs, a hand edit) or no
	 * longer fits the pipeline is skipped and counted. Only a repository
	 * that cannot be read at all fails (state_open already refused one that
	 * is not gitnet's, or of a newer schema).
	 */
	if (store_load_skipping(store_reader_of(s->store), NULL, restore_one, &r, &skip) < 0) {
		snprintf(err, errlen, "state: %s: loading primary: %s", s->o.dir,
		    store_strerror());
		return -1;
	}
	if (skip.n > 0)
		fprintf(stderr, "state: restore: skipped %llu undecodable entries; first: %s\n",
		    (unsigned long long)skip.n, skip.first);
	s->st.restored_arp = r.n.arp;
	s->st.restored_nat = r.n.nat;
	s->st.restore_skipped = r.n.skipped + skip.n;
	/* The full read filled libgit2's per-pack caches (18 MB for 100 k
	 * sessions from a compacted history): give them back. */
	trim_store(s);
	return 0;
}

int
state_restore_rev(struct state *s, struct nf *nf, const char *rev, uint64_t now,
    struct state_restored *n, char hex[41], char *err, size_t errlen)
{
	struct store_reader *rd = store_reader_of(s->store);
	struct restore_ctx r = { .nf = nf, .now = now };
	struct store_skipped skip = { 0 };
	struct store_oid id;

	if (store_reader_refresh(rd) < 0 || store_resolve(&id, rd, rev) < 0 ||
	    store_load_skipping(rd, &id, restore_one, &r, &skip) < 0) {
		snprintf(err, errlen, "state: loading %s: %s", rev, store_strerror());
		return -1;
	}
	if (hex != NULL)
		store_oid_fmt(hex, &id);
	r.n.skipped += skip.n;
	*n = r.n;
	trim_store(s);
	return 0;
}

struct follow_ctx {
	struct state		*s;
	struct nf		*nf;
	uint64_t		now;
	struct state_restored	n;
};

static int
follow_one(void *arg, const char *path, const char *old, size_t olen, const char *new_,
    size_t nlen)
{
	struct follow_ctx *f = arg;
	struct store_entry e;

	if (strncmp(path, "arp/", 4) != 0 && strncmp(path, "nat/", 4) != 0)
		return 0;
	if (old != NULL && store_entry_decode(&e, path, old, olen, f->s->o.ifnames,
	    f->s->o.n_ifnames) == 0) {
		if (e.table == EV_TABLE_ARP)
			(void)arp_forget(nf_arp(f->nf), e.arp.ifidx, e.arp.ip);
		else if (e.table == EV_TABLE_NAT && nf_nat(f->nf) != NULL)
			(void)nat_forget(nf_nat(f->nf), e.nat.proto, e.nat.in_ip, e.nat.in_port);
	}
	if (new_ == NULL)
		return 0;
	if (store_entry_decode(&e, path, new_, nlen, f->s->o.ifnames, f->s->o.n_ifnames) < 0)
		f->n.skipped++;
	else
		state_restore_entry(f->nf, &e, f->now, &f->n);
	return 0;
}

int
state_follow(struct state *s, struct nf *nf, const char *from, const char *rev, uint64_t now,
    struct state_restored *n, char hex[41], char *err, size_t errlen)
{
	struct store_reader *rd = store_reader_of(s->store);
	struct follow_ctx f = { .s = s, .nf = nf, .now = now };
	struct store_oid a, b;

	if (store_reader_refresh(rd) < 0 || store_resolve(&a, rd, from) < 0 ||
	    store_resolve(&b, rd, rev) < 0 || store_diff(rd, &a, &b, NULL, follow_one, &f) < 0) {
		snprintf(err, errlen, "state: from %s to %s: %s", from, rev, store_strerror());
		return -1;
	}
	if (hex != NULL)
		store_oid_fmt(hex, &b);
	*n = f.n;
	return 0;
}

int
state_merge_now(struct state *s, const char *rev, const char *subject, uint64_t now,
    char *err, size_t errlen)
{
	int e;

	if (s->started) {
		snprintf(err, errlen, "state: a merge now needs the writer stopped");
		return -1;
	}
	if ((e = store_reader_refresh(store_reader_of(s->store))) < 0 ||
	    (e = store_merge_as(s->store, rev, subject, wall(s, now))) < 0 ||
	    store_flush(s->store) < 0) {
		snprintf(err, errlen, "state: merging %s: %s", rev, store_strerror());
		return -1;
	}
	return e;
}

bool
state_contains(struct state *s, const char *a, const char *b)
{
	struct store_reader *rd = store_reader_of(s->store);
	struct store_oid x, y, base;

	return store_reader_refresh(rd) == 0 && store_resolve(&x, rd, a) == 0 &&
	    store_resolve(&y, rd, b) == 0 && store_merge_base(&base, rd, &x, &y) == 0 &&
	    store_oid_equal(&base, &y);
}

bool
state_took_over(struct state *s, const char *rev, const char *takeover, const char *since)
{
	struct store_reader *rd = store_reader_of(s->store);
	struct store_oid at, from, base;
	bool yes = false;

	if (store_resolve(&at, rd, rev) < 0 || store_resolve(&from, rd, since) < 0)
		return false;
	for (int i = 0; i < 64 && !yes; i++) {
		struct store_commit *c;

		if (store_commit_read(&c, rd, &at) < 0)
			break;
		yes = c->nparent == 2 && strcmp(c->summary, takeover) == 0 &&
		    store_merge_base(&base, rd, &c->parent[1], &from) == 0 &&
		    store_oid_equal(&base, &from);
		if (c->nparent == 0) {
			store_commit_free(c);
			break;
		}
		at = c->parent[0];
		store_commit_free(c);
	}
	return yes;
}

int
state_packs_check(struct state *s)
{
	return s->started ? 0 : store_packs_check(s->store);
}

void
state_set_head_hook(struct state *s, void (*fn)(void *ctx), void *ctx)
{
	/* Before state_start, or with the writer's own hook (takeover): the
	 * writer reads the pair on its next turn. */
	s->head_ctx = ctx;
	s->head_hook = fn;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

void
state_get_stats(struct state *s, struct state_stats *out)
{
	/* Per thread: the control socket (data path) and the metrics server
	 * both ask. */
	static _Thread_local uint64_t sorted[LAG_SAMPLES];
	unsigned n;

	pthread_mutex_lock(&s->mu);
	*out = s->st;
	out->events_in = atomic_load(&s->events_in);
	out->events_lost = atomic_load(&s->lost) + atomic_load(&s->lost_writer);
	out->events_limited = atomic_load(&s->limited);
	n = s->nlag;
	memcpy(sorted, s->lag, n * sizeof(sorted[0]));
	pthread_mutex_unlock(&s->mu);
	if (n > 0) {
		qsort(sorted, n, sizeof(sorted[0]), cmp_u64);
		out->lag_p50_us = sorted[n / 2];
		out->lag_p99_us = sorted[(n * 99) / 100];
	}
}

void
state_close(struct state *s)
{
	if (s == NULL)
		return;
	if (s->started) {
		atomic_store(&s->stop, true);
		pthread_join(s->thread, NULL);
	}
	if (store_close(s->store) < 0)
		fprintf(stderr, "state: close: %s\n", store_strerror());
	free((void *)s->last_error);
	pthread_mutex_destroy(&s->mu);
	hlimit_free(s->lim);
	free(s->ring);
	free(s);
}

void
state_set_archive(struct state *s, bool (*oldest)(void *ctx, struct store_oid *out),
    void *ctx)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	s->archived = oldest;
	s->archive_ctx = ctx;
	pthread_mutex_unlock(&s->mu);
}

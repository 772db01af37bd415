/* SPDX-License-Identifier: ISC */
/*
 * The sync's beater, pusher and watcher (contract in sync.h).
 *
 * Everything another thread may read (the peer's view, the routers' beats,
 * the counters) lives in struct sync under one mutex, taken only to copy
 * words: never across a remote operation or a read of the repository, so
 * the control socket, metrics and the main loop never wait on the network.
 * The threads sleep on a condition variable (monotonic clock) that the
 * setters and sync_close broadcast.
 *
 * Shutdown is archive.c's: sync_close waits SYNC_CLOSE_WAIT_MS for the
 * threads, then detaches those still inside a push, listing or fetch
 * (libgit2 1.5.1 has no connect timeout) and hands the struct over to
 * them: the last one to finish frees it. A late push or fetch only moves
 * refs by compare-and-swap, harmless beside a new router's.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "router.h"
#include "src/sync.h"

#define PRIMARY		"refs/heads/primary"
#define ALIVE		"refs/gitnet/alive/"
#define STAMPS		"refs/gitnet/pushed/"
#define ROUTERS		"refs/heads/routers/"
#define TRACKING	"refs/remotes/sync/"
#define LOG_EVERY_US	(60ULL * 1000000)
#define REF_MAX		256		/* the store's bound on a ref name */

/* A router's newest alive ref, as the watcher last listed it. */
struct beat {
	char		id[SYNC_ID_MAX];
	bool		active;
	uint64_t	unix_ms;	/* in the name */
	uint64_t	changed_ms;	/* own clock: when the name last changed */
	bool		listed;		/* in the last listing */
};

/* A failing operation's log state: first failure, a new reason, once a minute. */
struct errlog {
	char		last[256];
	uint64_t	at_us;
	uint64_t	failures;	/* in a row */
};

struct sync {
	char		gitdir[CONFIG_PATH_MAX];
	char		url[SYNC_URL_MAX];
	char		id[SYNC_ID_MAX];
	unsigned	beat_ms, poll_ms, verbose;
	unsigned	standby_beat_ms;	/* a standby's beats matter less */
	pthread_mutex_t	mu;
	pthread_cond_t	wake, done;
	bool		stop, orphaned, held, started;
	unsigned	running;
	pthread_t	pusher, watcher, beater;
	bool		pusher_on, watcher_on, beater_on;

	/* the beater */
	enum sync_role	role;
	bool		beat_now;
	uint64_t	beat_at_ms;		/* own clock: when the last beat started */
	uint64_t	last_beat_ms;		/* unix_ms of the last beat named */
	uint64_t	beat_retry_ms;
	struct errlog	beat_log;

	/* pusher */
	bool		kicked;
	bool		pushed_known;		/* pushed holds routers/<ID> as last pushed */
	struct store_oid pushed;
	uint64_t	pushed_at_ms;		/* own clock: when that push ended */
	uint64_t	last_stamp_ms;		/* unix_ms of the last stamp named */
	uint64_t	push_retry_ms;
	struct errlog	push_log;

	/* watcher */
	char		peer[SYNC_ID_MAX];
	uint64_t	peer_gen;		/* +1 at each sync_set_peer that changes it */
	struct sync_peer view;			/* silent_ms computed on read */
	uint64_t	peer_changed_ms;	/* own clock: the peer's beat last changed */
	uint64_t	peer_from_ms;		/* own clock: watched since */
	uint64_t	listed_ms;		/* own clock: last listing that succeeded, 0 none */
	uint64_t	first_listed_ms;	/* own clock: the first, 0 none */
	uint64_t	watch_retry_ms;
	struct errlog	watch_log;
	struct beat	beats[SYNC_ROUTERS_MAX];
	unsigned	nbeats;
	uint64_t	lags[SYNC_LAG_WINDOW];
	unsigned	nlags, lag_next;

	struct sync_stats st;
};

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t
unix_ms(void)
{
	return router_now_us() / 1000;
}

/* Wait on cv until the monotonic instant at_ms (or a signal). */
static void
wait_until(struct sync *s, pthread_cond_t *cv, uint64_t at_ms)
{
	struct timespec ts = {
		.tv_sec = (time_t)(at_ms / 1000),
		.tv_nsec = (long)(at_ms % 1000) * 1000000,
	};

	pthread_cond_timedwait(cv, &s->mu, &ts);
}

static bool
id_ok(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n >= SYNC_ID_MAX || id[0] == '.' || id[0] == '-' ||
	    strstr(id, "..") != NULL || (n >= 5 && strcmp(id + n - 5, ".lock") == 0) ||
	    id[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static void
sync_free(struct sync *s)
{
	if (s->held)
		store_lib_release();
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->wake);
	pthread_cond_destroy(&s->done);
	free(s);
}

static uint64_t
backoff(uint64_t cur, unsigned period)
{
	uint64_t cap = SYNC_RETRY_MAX_MS > period ? SYNC_RETRY_MAX_MS : period;

	cur = cur == 0 ? period : cur * 2;
	return cur > cap ? cap : cur;
}

static void
retry_update(struct sync *s)
{
	uint64_t r = s->push_retry_ms > s->watch_retry_ms ? s->push_retry_ms :
	    s->watch_retry_ms;

	s->st.retry_ms = s->beat_retry_ms > r ? s->beat_retry_ms : r;
}

/* Log a failure: the first, a new reason, else once a minute. Under the lock. */
static void
log_failure(struct errlog *l, const char *what, const char *msg, uint64_t retry_ms)
{
	uint64_t now = router_now_us();

	l->failures++;
	if (strcmp(l->last, msg) != 0 || now - l->at_us >= LOG_EVERY_US) {
		fprintf(stderr, "sync: %s failed: %s (counted as sync_errors; retrying in "
		    "%" PRIu64 " ms, backoff up to %u s)\n", what, msg, retry_ms,
		    SYNC_RETRY_MAX_MS / 1000);
		snprintf(l->last, sizeof(l->last), "%s", msg);
		l->at_us = now;
	}
}

static void
log_recovery(struct errlog *l, const char *what)
{
	if (l->failures > 0)
		fprintf(stderr, "sync: %s ok again after %" PRIu64 " failures\n", what,
		    l->failures);
	l->failures = 0;
	l->last[0] = '\0';
}

/* --- listings: the watcher's, and the pusher's own --- */

struct listing {
	struct beat	beats[SYNC_ROUTERS_MAX];
	unsigned	nbeats;
	const char	*peer;
	bool		have_peer_head;
	struct store_oid peer_head;
	uint64_t	peer_stamp_ms;	/* the newest pushed/<PEER>/<unix_ms>, 0 none */
	const char	*self;		/* this router's ID: its routers/<ID> */
	bool		have_self_head;
	struct store_oid self_head;
	bool		complete;	/* every ref came (no error midway) */
	uint64_t	at_ms;		/* own clock: when its first ref came */
};

/*
 * refs/gitnet/alive/<ID>/<role>/<unix_ms>, and routers/<PEER> with its
 * refs/gitnet/pushed/<PEER>/<unix_ms>.
 */
static int
on_ref(const char *name, const struct store_oid *id, void *ctx)
{
	struct listing *l = ctx;
	size_t sn = strlen(STAMPS);

	if (l->at_ms == 0)
		l->at_ms = mono_ms();
	if (l->peer != NULL && strncmp(name, STAMPS, sn) == 0 &&
	    strncmp(name + sn, l->peer, strlen(l->peer)) == 0 &&
	    name[sn + strlen(l->peer)] == '/') {
		const char *num = name + sn + strlen(l->peer) + 1;
		char *end;
		unsigned long long ms;

		errno = 0;
		ms = strtoull(num, &end, 10);
		if (*num != '\0' && *end == '\0' && errno == 0 && ms > l->peer_stamp_ms)
			l->peer_stamp_ms = ms;
		return 0;
	}
	if (strncmp(name, ALIVE, strlen(ALIVE)) == 0) {
		const char *p = name + strlen(ALIVE), *slash = strchr(p, '/'), *role, *num;
		char rid[SYNC_ID_MAX], *end;
		unsigned long long ms;
		bool active;
		unsigned i;

		if (slash == NULL || (size_t)(slash - p) >= sizeof(rid))
			return 0;
		memcpy(rid, p, (size_t)(slash - p));
		rid[slash - p] = '\0';
		role = slash + 1;
		if (strncmp(role, "active/", 7) == 0) {
			active = true;
			num = role + 7;
		} else if (strncmp(role, "standby/", 8) == 0) {
			active = false;
			num = role + 8;
		} else {
			return 0;
		}
		errno = 0;
		ms = strtoull(num, &end, 10);
		if (*num == '\0' || *end != '\0' || errno != 0)
			return 0;
		for (i = 0; i < l->nbeats; i++)
			if (strcmp(l->beats[i].id, rid) == 0)
				break;
		if (i == l->nbeats) {
			if (l->nbeats == SYNC_ROUTERS_MAX)
				return 0;
			l->nbeats++;
			snprintf(l->beats[i].id, sizeof(l->beats[i].id), "%s", rid);
			l->beats[i].unix_ms = 0;
		}
		/* Two during a beat (the new one made, the old not yet gone): the newer. */
		if (ms >= l->beats[i].unix_ms) {
			l->beats[i].unix_ms = ms;
			l->beats[i].active = active;
		}
		return 0;
	}
	if (l->peer != NULL && strncmp(name, ROUTERS, strlen(ROUTERS)) == 0 &&
	    strcmp(name + strlen(ROUTERS), l->peer) == 0) {
		l->have_peer_head = true;
		l->peer_head = *id;
	}
	if (l->self != NULL && strncmp(name, ROUTERS, strlen(ROUTERS)) == 0 &&
	    strcmp(name + strlen(ROUTERS), l->self) == 0) {
		l->have_self_head = true;
		l->self_head = *id;
	}
	return 0;
}

/*
 * Merge a listing into the routers' beats, at own time now. Under the
 * lock. A router missing from one listing keeps what was seen of it: a
 * listing is no snapshot (git lists loose refs one by one, and a beat
 * makes one and deletes another meanwhile), so it may miss both.
 */
static void
beats_update(struct sync *s, const struct listing *l, uint64_t now)
{
	for (unsigned k = 0; k < s->nbeats; k++)
		s->beats[k].listed = false;
	for (unsigned i = 0; i < l->nbeats; i++) {
		const struct beat *b = &l->beats[i];
		unsigned k;

		for (k = 0; k < s->nbeats; k++)
			if (strcmp(s->beats[k].id, b->id) == 0)
				break;
		if (k == s->nbeats) {
			if (s->nbeats == SYNC_ROUTERS_MAX)
				continue;
			/*
			 * First sight is no change: a router killed long ago
			 * leaves its last alive ref behind. It counts as beating
			 * from its next change on.
			 */
			s->nbeats++;
			s->beats[k] = *b;
			s->beats[k].changed_ms = 0;
		} else if (s->beats[k].unix_ms != b->unix_ms || s->beats[k].active != b->active) {
			s->beats[k].unix_ms = b->unix_ms;
			s->beats[k].active = b->active;
			s->beats[k].changed_ms = now;
		}
		s->beats[k].listed = true;
		if (s->peer[0] != '\0' && strcmp(b->id, s->peer) == 0) {
			if (!s->view.seen || s->view.beat_unix_ms != b->unix_ms ||
			    s->view.active != b->active)
				s->peer_changed_ms = now;
			s->view.seen = true;
			s->view.active = b->active;
			s->view.beat_unix_ms = b->unix_ms;
		}
	}
}

/*
 * A listing that answered, at own time now, under the lock: the remote
 * answers (sync_wait_listed, remote_silent_ms), and the beats it shows
 * count unless the peer changed while it was taken, or a listing that
 * came later has counted already. The pusher's and the watcher's overlap:
 * an older one applied after a newer would show a router's previous beat
 * as a change, and a dead router would seem to beat.
 */
static void
listing_note(struct sync *s, const struct listing *l, uint64_t now, bool beats)
{
	uint64_t at = l->at_ms != 0 ? l->at_ms : now;

	s->st.listings++;
	if (s->first_listed_ms == 0)
		s->first_listed_ms = at;
	/*
	 * The remote holds another head of this router's than it last pushed
	 * (made anew, or rewound by hand), as a whole listing taken after that
	 * push shows (whatever listing came later): push it again, whether
	 * primary moved or not.
	 */
	if (s->role == SYNC_ACTIVE && s->pushed_known && at > s->pushed_at_ms &&
	    l->complete && (!l->have_self_head || !store_oid_equal(&l->self_head,
	    &s->pushed))) {
		s->pushed_known = false;
		s->kicked = true;
		pthread_cond_broadcast(&s->wake);
	}
	/* When the remote answered (an operation that fails later ends later). */
	if (at < s->listed_ms)
		return;
	s->listed_ms = at;
	pthread_cond_broadcast(&s->done);	/* sync_wait_listed */
	if (beats)
		beats_update(s, l, at);
}

/* --- the beater and the pusher --- */

/*
 * Push v[0..n) as store_push_refs_ls does (prune, the stats into ps), with
 * s->mu released meanwhile (called and returns with it held): the push's
 * listing counts as one (the other routers' beats), its bytes and any
 * failure are counted. The result; its message in msg, its length in
 * *took_ms.
 */
static int
push_noted(struct sync *s, struct store_pushspec *v, size_t n, const char *prune,
    struct store_push_stats *ps, char *msg, size_t msglen, uint64_t *took_ms)
{
	struct listing l;
	uint64_t gen = s->peer_gen, t0;
	int r;

	memset(&l, 0, sizeof(l));
	l.self = s->id;
	pthread_mutex_unlock(&s->mu);
	t0 = mono_ms();
	r = store_push_refs_ls(ps, s->gitdir, s->url, v, n, prune, on_ref, &l);
	snprintf(msg, msglen, "%s", r < 0 ? store_strerror() : "");
	pthread_mutex_lock(&s->mu);
	*took_ms = mono_ms() - t0;
	l.complete = ps->listed;
	if (ps->listed)
		listing_note(s, &l, mono_ms(), gen == s->peer_gen);
	s->st.bytes_sent += ps->bytes;
	if (r < 0)
		s->st.sync_errors++;
	return r;
}

/*
 * One beat of the beater's: a push of the new alive ref alone, the
 * router's older ones deleted. Called and returns with s->mu held.
 */
static void
beat_once(struct sync *s)
{
	struct store_pushspec v[1];
	struct store_push_stats ps;
	char dst[REF_MAX], prune[REF_MAX], msg[256];
	uint64_t ms;
	int r;

	/* Names must change at every beat, even within a millisecond. */
	ms = unix_ms();
	if (ms <= s->last_beat_ms)
		ms = s->last_beat_ms + 1;
	s->last_beat_ms = ms;
	s->beat_at_ms = mono_ms();
	snprintf(dst, sizeof(dst), ALIVE "%s/%s/%" PRIu64, s->id,
	    s->role == SYNC_ACTIVE ? "active" : "standby", ms);
	snprintf(prune, sizeof(prune), ALIVE "%s/", s->id);
	memset(v, 0, sizeof(v));
	v[0].src = STORE_BEACON_REF;
	v[0].dst = dst;
	v[0].force = true;
	r = push_noted(s, v, 1, prune, &ps, msg, sizeof(msg), &s->st.beat_push_ms);
	if (v[0].status == 0 && r != 0 && r != STORE_EREFUSED)
		v[0].status = r;
	if (v[0].status != 0) {
		s->st.beat_errors++;
		s->beat_retry_ms = backoff(s->beat_retry_ms, s->beat_ms);
		retry_update(s);
		log_failure(&s->beat_log, "beat", msg, s->beat_retry_ms);
		return;
	}
	s->st.beats++;
	if (s->verbose >= 2)
		fprintf(stderr, "sync: beat: %s ms=%" PRIu64 "\n", dst, s->st.beat_push_ms);
	log_recovery(&s->beat_log, "beat");
	s->beat_retry_ms = 0;
	retry_update(s);
}

/* refs/heads/primary of the state repository now: a reader, no lock. */
static bool
primary_read(const char *gitdir, struct store_oid *head)
{
	struct store_reader *r = NULL;
	bool have;

	have = store_reader_open(&r, gitdir) == 0 && store_ref_read(head, r, PRIMARY) == 0;
	store_reader_free(r);
	return have;
}

/*
 * One head push, active only: refs/heads/primary to routers/<ID> with the
 * stamp pushed/<ID>/<unix_ms> that dates it, when primary moved since the
 * last that went. Called and returns with s->mu held; returns 0 (pushed,
 * or nothing to push) or the backoff after a failure.
 */
static uint64_t
push_once(struct sync *s)
{
	struct store_pushspec v[2];
	struct store_push_stats ps;
	struct store_oid head;
	uint64_t ms;
	char dst[REF_MAX], track[REF_MAX], stamp[REF_MAX], prune[REF_MAX], msg[256];
	bool known = s->pushed_known;
	struct store_oid pushed = s->pushed;
	int r;

	pthread_mutex_unlock(&s->mu);
	if (!primary_read(s->gitdir, &head) || (known && store_oid_equal(&head, &pushed))) {
		pthread_mutex_lock(&s->mu);
		return 0;
	}
	pthread_mutex_lock(&s->mu);
	if (s->role != SYNC_ACTIVE)	/* stood down meanwhile */
		return 0;
	ms = unix_ms();
	if (ms <= s->last_stamp_ms)
		ms = s->last_stamp_ms + 1;
	s->last_stamp_ms = ms;
	snprintf(dst, sizeof(dst), ROUTERS "%s", s->id);
	snprintf(track, sizeof(track), TRACKING "%s", s->id);
	snprintf(stamp, sizeof(stamp), STAMPS "%s/%" PRIu64, s->id, ms);
	snprintf(prune, sizeof(prune), STAMPS "%s/", s->id);
	memset(v, 0, sizeof(v));
	v[0].src = PRIMARY;
	v[0].dst = dst;
	v[0].track = track;
	v[1].src = STORE_BEACON_REF;
	v[1].dst = stamp;
	v[1].force = true;
	r = push_noted(s, v, 2, prune, &ps, msg, sizeof(msg), &s->st.push_ms);
	if (v[0].status == 0 && r < 0 && r != STORE_EREFUSED)
		v[0].status = r;
	if (v[0].status != 0) {
		s->st.push_errors++;
		s->push_retry_ms = backoff(s->push_retry_ms, s->beat_ms);
		retry_update(s);
		log_failure(&s->push_log, "push", msg, s->push_retry_ms);
		return s->push_retry_ms;
	}
	s->pushed_known = true;
	s->pushed = v[0].local;
	s->pushed_at_ms = mono_ms();
	if (v[0].sent) {
		s->st.pushes++;
		if (s->verbose >= 2) {
			char hex[STORE_OID_HEXSZ + 1];

			fprintf(stderr, "sync: pushed: head=%s stamp=%" PRIu64 " ms=%" PRIu64
			    " bytes=%" PRIu64 "\n", store_oid_fmt(hex, &v[0].local), ms,
			    s->st.push_ms, (uint64_t)ps.bytes);
		}
	}
	log_recovery(&s->push_log, "push");
	s->push_retry_ms = 0;
	retry_update(s);
	return 0;
}

/*
 * A thread's last act, with s->mu held: the last one out of an orphaned
 * sync (sync_close gave up waiting) frees it.
 */
static void
thread_exit(struct sync *s)
{
	bool last;

	s->running--;
	last = s->running == 0;
	pthread_cond_broadcast(&s->done);
	pthread_mutex_unlock(&s->mu);
	if (last && s->orphaned)
		sync_free(s);
}

/*
 * The beater: a beat a period after the last one started (at once if that
 * one took longer). A push to the remote may take longer than the period
 * (a git daemon forks receive-pack, which forks unpack-objects and
 * rev-list, on a busy host), a head push with a pack most of all: a beat
 * that waited for a head push would set the cadence to that push's, and
 * the peer's silence threshold with it (twice the longest period: ha.c).
 * A role change beats at once; a failure backs off.
 */
static void *
beater_main(void *arg)
{
	struct sync *s = arg;

	pthread_mutex_lock(&s->mu);
	while (!s->stop) {
		uint64_t now = mono_ms(), next;

		next = s->beat_at_ms + (s->beat_retry_ms != 0 ? s->beat_retry_ms :
		    s->role == SYNC_ACTIVE ? s->beat_ms : s->standby_beat_ms);
		if (s->beat_at_ms != 0 && now < next &&
		    !(s->beat_now && s->beat_retry_ms == 0)) {
			wait_until(s, &s->wake, next);
			continue;
		}
		s->beat_now = false;
		beat_once(s);
	}
	thread_exit(s);
	return NULL;
}

/*
 * The pusher: while active, a head push at each kick (a group commit made
 * primary durable), at a role change, and after a failure once its backoff
 * has passed. It waits on no beat, and no beat waits on it.
 */
static void *
pusher_main(void *arg)
{
	struct sync *s = arg;
	uint64_t retry_at = 0;	/* after a failure: not before then */

	pthread_mutex_lock(&s->mu);
	while (!s->stop) {
		uint64_t now = mono_ms();

		if (s->role != SYNC_ACTIVE || (retry_at == 0 && !s->kicked) ||
		    (retry_at != 0 && now < retry_at)) {
			wait_until(s, &s->wake, retry_at != 0 ? retry_at :
			    now + s->standby_beat_ms);
			continue;
		}
		s->kicked = false;
		retry_at = push_once(s);
		if (retry_at != 0)
			retry_at += mono_ms();
	}
	thread_exit(s);
	return NULL;
}

/* --- the watcher --- */

static void
lag_add(struct sync *s, uint64_t lag)
{
	uint64_t v[SYNC_LAG_WINDOW];
	unsigned n, k;

	s->st.lag_ms = lag;
	s->lags[s->lag_next] = lag;
	s->lag_next = (s->lag_next + 1) % SYNC_LAG_WINDOW;
	if (s->nlags < SYNC_LAG_WINDOW)
		s->nlags++;
	n = s->nlags;
	memcpy(v, s->lags, n * sizeof(v[0]));
	/* Insertion sort: 256 at most, once per fetch. */
	for (unsigned i = 1; i < n; i++) {
		uint64_t x = v[i];
		unsigned j = i;

		for (; j > 0 && v[j - 1] > x; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
	k = (unsigned)(((uint64_t)n * 99 + 99) / 100);	/* nearest rank */
	s->st.lag_p99_ms = v[(k > 0 ? k : 1) - 1];
}

/*
 * One look at the remote and, in the same connection, a fetch when the
 * peer's head is new (store_ls_fetch).
 */
static uint64_t
watch_once(struct sync *s)
{
	struct listing l;
	struct store_fetch_result fr;
	char peer[SYNC_ID_MAX], msg[256], rref[REF_MAX], lref[REF_MAX];
	uint64_t gen = s->peer_gen, now, done_unix, stamp_ms, t0;
	unsigned period = s->peer[0] != '\0' ? s->poll_ms : s->beat_ms;
	bool listed;
	int r;

	/* No peer to fetch: the pusher's own listings may do (they beat faster). */
	now = mono_ms();
	if (s->peer[0] == '\0' && s->listed_ms != 0 && now < s->listed_ms + period)
		return s->listed_ms + period - now;
	memset(&l, 0, sizeof(l));
	l.self = s->id;
	memset(&fr, 0, sizeof(fr));
	snprintf(peer, sizeof(peer), "%s", s->peer);
	l.peer = peer[0] != '\0' ? peer : NULL;
	pthread_mutex_unlock(&s->mu);
	t0 = mono_ms();
	if (l.peer != NULL) {
		snprintf(rref, sizeof(rref), ROUTERS "%s", peer);
		snprintf(lref, sizeof(lref), TRACKING "%s", peer);
		r = store_ls_fetch(&fr, s->gitdir, s->url, "refs/", on_ref, &l, rref, lref);
	} else {
		r = store_ls_remote(s->url, "refs/", on_ref, &l);
	}
	snprintf(msg, sizeof(msg), "%s", r < 0 ? store_strerror() : "");
	now = mono_ms();
	done_unix = unix_ms();
	pthread_mutex_lock(&s->mu);
	s->st.look_ms = now - t0;
	/* A fetch that failed after its listing: what was listed still counts. */
	listed = r == 0 || l.nbeats > 0 || l.have_peer_head;
	l.complete = r == 0;
	if (listed)
		listing_note(s, &l, now, gen == s->peer_gen);
	if (gen != s->peer_gen)
		return 0;		/* the peer changed meanwhile: look again */
	if (r < 0) {
		s->st.sync_errors++;
		s->watch_retry_ms = backoff(s->watch_retry_ms, period);
		retry_update(s);
		log_failure(&s->watch_log, l.have_peer_head ? "fetch" : "ls-remote", msg,
		    s->watch_retry_ms);
		return s->watch_retry_ms;
	}
	log_recovery(&s->watch_log, "watch");
	s->watch_retry_ms = 0;
	retry_update(s);
	if (l.peer == NULL || store_oid_is_zero(&fr.fetched) ||
	    (s->view.have_head && store_oid_equal(&s->view.head, &fr.fetched)))
		return period;
	/* A new head of the peer, here now, dated by its stamp in the same listing. */
	stamp_ms = l.peer_stamp_ms;
	s->st.fetches++;
	s->st.bytes_fetched += fr.bytes;
	s->st.objects_fetched += fr.objects;
	s->view.have_head = true;
	s->view.head = fr.fetched;
	s->view.head_gen++;
	/* The fetch's end minus the push's start: both wall clocks. */
	if (stamp_ms > 0)
		lag_add(s, done_unix > stamp_ms ? done_unix - stamp_ms : 0);
	if (s->verbose >= 1) {
		char hex[STORE_OID_HEXSZ + 1];

		fprintf(stderr, "sync: fetched: peer=%s head=%s objects=%" PRIu64 " bytes=%"
		    PRIu64 " lag_ms=%" PRIu64 " ms=%" PRIu64 "\n", peer,
		    store_oid_fmt(hex, &fr.fetched), fr.objects, fr.bytes, s->st.lag_ms,
		    s->st.look_ms);
	}
	return period;
}

static void *
watcher_main(void *arg)
{
	struct sync *s = arg;
	uint64_t next = mono_ms();
	uint64_t gen = s->peer_gen;

	pthread_mutex_lock(&s->mu);
	while (!s->stop) {
		/* A new peer is looked at at once (unless backing off). */
		if (gen != s->peer_gen && s->watch_retry_ms == 0) {
			gen = s->peer_gen;
			next = mono_ms();
		}
		if (mono_ms() < next) {
			wait_until(s, &s->wake, next);
			continue;
		}
		next = mono_ms() + watch_once(s);
	}
	thread_exit(s);
	return NULL;
}

/* --- the API --- */

/* What refs/remotes/sync/<peer> holds already (a restart): a reader, no lock. */
static bool
peer_read(const char *gitdir, const char *peer, struct store_oid *head)
{
	struct store_reader *r = NULL;
	char ref[REF_MAX];
	bool have;

	if (peer[0] == '\0')
		return false;
	snprintf(ref, sizeof(ref), TRACKING "%s", peer);
	have = store_reader_open(&r, gitdir) == 0 && store_ref_read(head, r, ref) == 0;
	store_reader_free(r);
	return have;
}

/* Watch peer from now, knowing head (have). Under the lock. */
static void
peer_reset(struct sync *s, bool have, const struct store_oid *head)
{
	memset(&s->view, 0, sizeof(s->view));
	snprintf(s->view.id, sizeof(s->view.id), "%s", s->peer);
	s->peer_from_ms = mono_ms();
	s->peer_changed_ms = 0;
	if (have) {
		s->view.have_head = true;
		s->view.head = *head;
		s->view.head_gen = 1;
	}
}

int
sync_open(struct sync **out, const struct sync_opts *o, char *err, size_t errlen)
{
	struct store_oid beacon;
	struct sync *s;
	char fetch[REF_MAX], push[REF_MAX];

	*out = NULL;
	if (o->gitdir == NULL || o->url == NULL || o->url[0] == '\0') {
		snprintf(err, errlen, "sync: no state repository or no URL");
		return -1;
	}
	if (o->router_id == NULL || !id_ok(o->router_id)) {
		snprintf(err, errlen, "sync: router id '%s': letters, digits, '.', '_' and "
		    "'-' only, at most %d", o->router_id ? o->router_id : "", SYNC_ID_MAX - 1);
		return -1;
	}
	if (o->peer != NULL && o->peer[0] != '\0' && !id_ok(o->peer)) {
		snprintf(err, errlen, "sync: standby of '%s': not a router id", o->peer);
		return -1;
	}
	if (o->peer != NULL && strcmp(o->peer, o->router_id) == 0) {
		snprintf(err, errlen, "sync: a router cannot be its own standby (%s)", o->peer);
		return -1;
	}
	if (strlen(o->url) >= SYNC_URL_MAX || strlen(o->gitdir) >= CONFIG_PATH_MAX) {
		snprintf(err, errlen, "sync: URL or path too long");
		return -1;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "sync: out of memory");
		return -1;
	}
	snprintf(s->gitdir, sizeof(s->gitdir), "%s", o->gitdir);
	snprintf(s->url, sizeof(s->url), "%s", o->url);
	snprintf(s->id, sizeof(s->id), "%s", o->router_id);
	snprintf(s->peer, sizeof(s->peer), "%s", o->peer ? o->peer : "");
	s->beat_ms = o->beat_ms >= 50 ? o->beat_ms : 50;
	s->poll_ms = o->poll_ms > 0 ? o->poll_ms : 50;
	s->standby_beat_ms = o->standby_beat_ms > s->beat_ms ? o->standby_beat_ms : s->beat_ms;
	s->verbose = o->verbose;
	s->role = SYNC_STANDBY;
	s->held = store_lib_hold() == 0;
	pthread_mutex_init(&s->mu, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&s->wake, &ca);
		pthread_cond_init(&s->done, &ca);
		pthread_condattr_destroy(&ca);
	}
	if (store_beacon(&beacon, s->gitdir, s->id) < 0) {
		snprintf(err, errlen, "sync: %s", store_strerror());
		sync_free(s);
		return -1;
	}
	/* As for the archive: a config that cannot be written is no reason not to route. */
	snprintf(fetch, sizeof(fetch), "+" ROUTERS "*:" TRACKING "*");
	snprintf(push, sizeof(push), PRIMARY ":" ROUTERS "%s", s->id);
	if (store_remote_set_specs(s->gitdir, "sync", s->url, fetch, push) < 0)
		fprintf(stderr, "sync: remote config: %s (syncing all the same)\n",
		    store_strerror());
	{
		struct store_oid head;
		bool have = peer_read(s->gitdir, s->peer, &head);

		peer_reset(s, have, &head);
		/* What this router pushed last (a restart): pushed again only if it moved. */
		s->pushed_known = peer_read(s->gitdir, s->id, &s->pushed);
	}
	*out = s;
	return 0;
}

int
sync_start(struct sync *s, enum sync_role role)
{
	if (s == NULL)
		return 0;
	pthread_mutex_lock(&s->mu);
	if (s->started) {
		pthread_mutex_unlock(&s->mu);
		return 0;
	}
	s->started = true;
	s->role = role;
	s->kicked = true;
	s->peer_from_ms = mono_ms();
	if (pthread_create(&s->pusher, NULL, pusher_main, s) == 0) {
		s->pusher_on = true;
		s->running++;
	}
	if (s->pusher_on && pthread_create(&s->watcher, NULL, watcher_main, s) == 0) {
		s->watcher_on = true;
		s->running++;
	}
	if (s->watcher_on && pthread_create(&s->beater, NULL, beater_main, s) == 0) {
		s->beater_on = true;
		s->running++;
	}
	if (!s->pusher_on || !s->watcher_on || !s->beater_on) {
		s->stop = true;
		pthread_cond_broadcast(&s->wake);
		pthread_mutex_unlock(&s->mu);
		return -1;
	}
	pthread_mutex_unlock(&s->mu);
	return 0;
}

void
sync_set_role(struct sync *s, enum sync_role role)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	if (s->role != role) {
		s->role = role;
		s->beat_now = true;
		s->kicked = true;
		pthread_cond_broadcast(&s->wake);
	}
	pthread_mutex_unlock(&s->mu);
}

enum sync_role
sync_get_role(struct sync *s)
{
	enum sync_role r;

	if (s == NULL)
		return SYNC_ACTIVE;
	pthread_mutex_lock(&s->mu);
	r = s->role;
	pthread_mutex_unlock(&s->mu);
	return r;
}

void
sync_set_peer(struct sync *s, const char *peer)
{
	struct store_oid head;
	bool have;

	if (s == NULL)
		return;
	if (peer == NULL)
		peer = "";
	if (peer[0] != '\0' && (!id_ok(peer) || strcmp(peer, s->id) == 0))
		return;
	have = peer_read(s->gitdir, peer, &head);
	pthread_mutex_lock(&s->mu);
	if (strcmp(s->peer, peer) != 0) {
		snprintf(s->peer, sizeof(s->peer), "%s", peer);
		s->peer_gen++;
		peer_reset(s, have, &head);
		pthread_cond_broadcast(&s->wake);
	}
	pthread_mutex_unlock(&s->mu);
}

void
sync_kick(struct sync *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	s->kicked = true;
	pthread_cond_broadcast(&s->wake);
	pthread_mutex_unlock(&s->mu);
}

void
sync_close(struct sync *s)
{
	uint64_t until;

	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = true;
	pthread_cond_broadcast(&s->wake);
	until = mono_ms() + SYNC_CLOSE_WAIT_MS;
	while (s->running > 0 && mono_ms() < until)
		wait_until(s, &s->done, until);
	if (s->running > 0) {
		/* Still inside a remote operation: theirs to free. */
		fprintf(stderr, "sync: %u remote operation(s) still under way at close; left "
		    "to finish on their own\n", s->running);
		s->orphaned = true;
		if (s->pusher_on)
			pthread_detach(s->pusher);
		if (s->watcher_on)
			pthread_detach(s->watcher);
		if (s->beater_on)
			pthread_detach(s->beater);
		pthread_mutex_unlock(&s->mu);
		return;
	}
	pthread_mutex_unlock(&s->mu);
	if (s->pusher_on)
		pthread_join(s->pusher, NULL);
	if (s->watcher_on)
		pthread_join(s->watcher, NULL);
	if (s->beater_on)
		pthread_join(s->beater, NULL);
	sync_free(s);
}

void
sync_peer_get(struct sync *s, struct sync_peer *out)
{
	uint64_t now = mono_ms(), from;

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	*out = s->view;
	from = s->view.seen ? s->peer_changed_ms : s->peer_from_ms;
	out->silent_ms = now - from;
	out->remote_silent_ms = s->listed_ms == 0 ? UINT64_MAX : now - s->listed_ms;
	out->listed_silent_ms = s->listed_ms > from ? s->listed_ms - from : 0;
	pthread_mutex_unlock(&s->mu);
}

bool
sync_other_active(struct sync *s, char id[SYNC_ID_MAX], uint64_t window_ms)
{
	uint64_t now = mono_ms(), best = UINT64_MAX;
	bool found = false;

	if (s == NULL)
		return false;
	pthread_mutex_lock(&s->mu);
	for (unsigned k = 0; k < s->nbeats; k++) {
		const struct beat *b = &s->beats[k];
		uint64_t age = now - b->changed_ms;

		if (strcmp(b->id, s->id) == 0 || !b->active || b->changed_ms == 0 ||
		    age > window_ms)
			continue;
		/* The freshest (the watched peer when it is one of them). */
		if (age < best || (s->peer[0] != '\0' && strcmp(b->id, s->peer) == 0)) {
			best = strcmp(b->id, s->peer) == 0 ? 0 : age;
			if (id != NULL)
				snprintf(id, SYNC_ID_MAX, "%s", b->id);
			found = true;
		}
	}
	pthread_mutex_unlock(&s->mu);
	return found;
}

bool
sync_wait_listed(struct sync *s, unsigned timeout_ms, unsigned window_ms)
{
	uint64_t until = mono_ms() + timeout_ms;
	bool listed;

	if (s == NULL)
		return false;
	pthread_mutex_lock(&s->mu);
	while (!s->stop && mono_ms() < until) {
		uint64_t first = s->first_listed_ms, done_at;
		bool all = first != 0;

		/* Every router seen has beaten since the first listing. */
		for (unsigned k = 0; k < s->nbeats && all; k++)
			all = strcmp(s->beats[k].id, s->id) == 0 || s->beats[k].changed_ms > first;
		if (first != 0 && (all || mono_ms() >= first + window_ms))
			break;
		done_at = first != 0 && first + window_ms < until ? first + window_ms : until;
		wait_until(s, &s->done, done_at < mono_ms() + 50 ? done_at : mono_ms() + 50);
	}
	listed = s->first_listed_ms != 0;
	pthread_mutex_unlock(&s->mu);
	return listed;
}

void
sync_get_stats(struct sync *s, struct sync_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	*out = s->st;
	pthread_mutex_unlock(&s->mu);
}

/* SPDX-License-Identifier: ISC */
/*
 * The archive's pushers (contract in archive.h).
 *
 * Each URL has a thread and a struct pusher; everything a reader may see
 * (the stats, what was pushed) lives in the pusher under the archive's
 * one mutex, taken only to copy words: never across store_push() or a
 * read of the repository, so retention and the control socket never wait
 * on the network. The threads sleep on a condition variable (monotonic
 * clock) that archive_close() broadcasts.
 *
 * Shutdown. A push to a host that does not answer can sit in connect()
 * for minutes (libgit2 1.5.1 has no connect timeout). archive_close()
 * waits CLOSE_WAIT_MS for the threads, then detaches those still out and
 * hands the archive over to them: the last one to finish frees it. A
 * reload or exit never waits on a remote; a late push only ever moves its
 * tracking ref by compare-and-swap, harmless next to a new router's.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "router.h"
#include "src/archive.h"

#define PRIMARY		"refs/heads/primary"
#define CLOSE_WAIT_MS	3000
#define LOG_EVERY_US	(60ULL * 1000000)

struct pusher {
	struct archive	*a;
	unsigned	i;
	pthread_t	thread;
	bool		started;
	char		track[64];		/* refs/remotes/archive<N>/primary */
	struct archive_url_stats st;
	char		last_err[256];		/* the last failure logged */
	uint64_t	last_log_us;
};

struct archive {
	char		gitdir[CONFIG_PATH_MAX];
	unsigned	n, interval_ms, verbose;
	int64_t		started_s;
	pthread_mutex_t	mu;
	pthread_cond_t	wake, done;
	bool		stop, orphaned;
	bool		held;			/* store_lib_hold() */
	unsigned	running;		/* threads not yet finished */
	uint64_t	pushes, errors;
	struct pusher	p[ARCHIVE_MAX];
};

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Wait on cv until the monotonic instant at_ms (or a signal). */
static void
wait_until(struct archive *a, pthread_cond_t *cv, uint64_t at_ms)
{
	struct timespec ts = {
		.tv_sec = (time_t)(at_ms / 1000),
		.tv_nsec = (long)(at_ms % 1000) * 1000000,
	};

	pthread_cond_timedwait(cv, &a->mu, &ts);
}

static void
lag_update(struct archive *a, struct archive_url_stats *s)
{
	int64_t from = s->have ? s->pushed_time : a->started_s;

	s->lag_s = s->head_time > from ? (uint64_t)(s->head_time - from) : 0;
}

/* Primary's head and its time, through a reader (no lock, writes nothing). */
static int
read_head(const char *gitdir, struct store_oid *id, int64_t *t)
{
	struct store_reader *r = NULL;
	struct store_commit *c = NULL;
	int error;

	if ((error = store_reader_open(&r, gitdir)) < 0 ||
	    (error = store_ref_read(id, r, PRIMARY)) < 0 ||
	    (error = store_commit_read(&c, r, id)) < 0)
		goto done;
	*t = c->committer.time;
done:
	store_commit_free(c);
	store_reader_free(r);
	return error;
}

static void
archive_free(struct archive *a)
{
	if (a->held)
		store_lib_release();
	pthread_mutex_destroy(&a->mu);
	pthread_cond_destroy(&a->wake);
	pthread_cond_destroy(&a->done);
	free(a);
}

/* A push's outcome, under the lock: counters, backoff, log lines. */
static uint64_t
outcome(struct pusher *p, int r, const struct store_push_result *res, const char *msg)
{
	struct archive *a = p->a;
	struct archive_url_stats *s = &p->st;
	uint64_t now = router_now_us();
	char hex[STORE_OID_HEXSZ + 1];

	if (!store_oid_is_zero(&res->local))
		s->head_time = res->local_time;
	if (r >= 0) {
		if (r == 0 && s->failures > 0)
			fprintf(stderr, "archive: push ok again: remote=%s url=%s after "
			    "%llu failures\n", s->name, s->url,
			    (unsigned long long)s->failures);
		else if (r == 0 && a->verbose >= 1)
			fprintf(stderr, "archive: pushed: remote=%s commit=%s sent=%s\n",
			    s->name, store_oid_fmt(hex, &res->pushed), res->sent ? "yes" : "no");
		s->have = true;
		s->pushed = res->pushed;
		s->pushed_time = res->pushed_time;
		if (r == 0) {		/* 1: nothing new, no connection made */
			s->failures = 0;
			s->retry_ms = 0;
			s->last_ok_us = now;
			p->last_err[0] = '\0';
			s->pushes++;
			a->pushes++;
		}
		lag_update(a, s);
		return a->interval_ms;
	}
	s->errors++;
	a->errors++;
	s->failures++;
	s->retry_ms = s->retry_ms == 0 ? a->interval_ms : s->retry_ms * 2;
	{
		uint64_t cap = ARCHIVE_RETRY_MAX_MS > a->interval_ms ? ARCHIVE_RETRY_MAX_MS :
		    a->interval_ms;

		if (s->retry_ms > cap)
			s->retry_ms = cap;
	}
	lag_update(a, s);
	/* The first failure, a new reason, else once a minute. */
	if (strcmp(p->last_err, msg) != 0 || now - p->last_log_us >= LOG_EVERY_US) {
		fprintf(stderr, "archive: push failed: remote=%s %s (counted as "
		    "history_push_errors; retrying in %llu s, backoff up to %u s)\n",
		    s->name, msg, (unsigned long long)(s->retry_ms + 999) / 1000,
		    (ARCHIVE_RETRY_MAX_MS > a->interval_ms ? ARCHIVE_RETRY_MAX_MS :
		    a->interval_ms) / 1000);
		snprintf(p->last_err, sizeof(p->last_err), "%s", msg);
		p->last_log_us = now;
	}
	return s->retry_ms;
}

static void *
pusher_main(void *arg)
{
	struct pusher *p = arg;
	struct archive *a = p->a;
	uint64_t next = mono_ms(), peek = next + a->interval_ms;
	bool last;

	pthread_mutex_lock(&a->mu);
	while (!a->stop) {
		struct store_push_result res;
		struct store_oid have, head;
		bool known;
		char msg[256], url[ARCHIVE_URL_MAX];
		int64_t t;
		int r;

		if (mono_ms() < next) {
			/* Backing off: keep the head's time, and so the lag, fresh. */
			if (mono_ms() >= peek) {
				peek = mono_ms() + a->interval_ms;
				pthread_mutex_unlock(&a->mu);
				r = read_head(a->gitdir, &head, &t);
				pthread_mutex_lock(&a->mu);
				if (r == 0) {
					p->st.head_time = t;
					lag_update(a, &p->st);
				}
				continue;
			}
			wait_until(a, &a->wake, next < peek ? next : peek);
			continue;
		}
		known = p->st.have;
		have = p->st.pushed;
		snprintf(url, sizeof(url), "%s", p->st.url);
		pthread_mutex_unlock(&a->mu);

		r = store_push(&res, a->gitdir, url, PRIMARY, PRIMARY, p->track,
		    known ? &have : NULL);
		snprintf(msg, sizeof(msg), "%s", r < 0 ? store_strerror() : "");

		pthread_mutex_lock(&a->mu);
		next = mono_ms() + outcome(p, r, &res, msg);
		peek = mono_ms() + a->interval_ms;
	}
	a->running--;
	last = a->running == 0;
	pthread_cond_broadcast(&a->done);
	if (last && a->orphaned) {
		pthread_mutex_unlock(&a->mu);
		archive_free(a);
		return NULL;
	}
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

int
archive_open(struct archive **out, const struct archive_opts *o, char *err, size_t errlen)
{
	struct store_reader *r = NULL;
	struct archive *a;
	char name[24];

	*out = NULL;
	if (o->n == 0)
		return 0;
	if (o->n > ARCHIVE_MAX) {
		snprintf(err, errlen, "archive: more than %d URLs", ARCHIVE_MAX);
		return -1;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		snprintf(err, errlen, "archive: out of memory");
		return -1;
	}
	snprintf(a->gitdir, sizeof(a->gitdir), "%s", o->gitdir);
	a->held = store_lib_hold() == 0;
	a->n = o->n;
	a->interval_ms = o->interval_ms ? o->interval_ms : 5000;
	a->verbose = o->verbose;
	a->started_s = (int64_t)(router_now_us() / 1000000);
	pthread_mutex_init(&a->mu, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&a->wake, &ca);
		pthread_cond_init(&a->done, &ca);
		pthread_condattr_destroy(&ca);
	}
	for (unsigned i = 0; i < o->n; i++) {
		struct pusher *p = &a->p[i];
		int e;

		p->a = a;
		p->i = i;
		snprintf(name, sizeof(name), "archive%u", i);
		snprintf(p->st.name, sizeof(p->st.name), "%s", name);
		snprintf(p->st.url, sizeof(p->st.url), "%s", o->urls[i]);
		snprintf(p->track, sizeof(p->track), "refs/remotes/%s/primary", name);
		/*
		 * A URL new at this place forgets the tracking ref (another
		 * remote's). Failing to write the config (a lock held by a git
		 * command) is no reason not to route: pushes go on, stock git
		 * just does not name the remote yet.
		 */
		if ((e = store_remote_set(a->gitdir, name, o->urls[i])) < 0)
			fprintf(stderr, "archive: remote config: %s (pushing all the same)\n",
			    store_strerror());
	}
	if (store_reader_open(&r, a->gitdir) < 0) {
		snprintf(err, errlen, "archive: %s", store_strerror());
		goto fail;
	}
	for (unsigned i = 0; i < o->n; i++) {
		struct pusher *p = &a->p[i];
		struct store_commit *c = NULL;

		if (store_ref_read(&p->st.pushed, r, p->track) == 0 &&
		    store_commit_read(&c, r, &p->st.pushed) == 0) {
			p->st.have = true;
			p->st.pushed_time = c->committer.time;
		}
		store_commit_free(c);
	}
	store_reader_free(r);
	r = NULL;
	/* archive<N> remotes beyond the URLs configured: their refs pin history. */
	for (unsigned k = o->n; k < ARCHIVE_MAX; k++) {
		int e;

		snprintf(name, sizeof(name), "archive%u", k);
		if ((e = store_remote_remove(a->gitdir, name)) < 0)
			fprintf(stderr, "archive: forgetting %s: %s\n", name, store_strerror());
		else if (e == 0)
			fprintf(stderr, "archive: forgot remote %s (no longer configured)\n",
			    name);
	}
	*out = a;
	return 0;
fail:
	store_reader_free(r);
	archive_free(a);
	return -1;
}

int
archive_start(struct archive *a)
{
	if (a == NULL)
		return 0;
	pthread_mutex_lock(&a->mu);
	for (unsigned i = 0; i < a->n; i++) {
		if (pthread_create(&a->p[i].thread, NULL, pusher_main, &a->p[i]) != 0) {
			a->stop = true;
			pthread_cond_broadcast(&a->wake);
			pthread_mutex_unlock(&a->mu);
			return -1;
		}
		a->p[i].started = true;
		a->running++;
	}
	pthread_mutex_unlock(&a->mu);
	return 0;
}

void
archive_close(struct archive *a)
{
	uint64_t until;

	if (a == NULL)
		return;
	pthread_mutex_lock(&a->mu);
	a->stop = true;
	pthread_cond_broadcast(&a->wake);
	until = mono_ms() + CLOSE_WAIT_MS;
	while (a->running > 0 && mono_ms() < until)
		wait_until(a, &a->done, until);
	if (a->running > 0) {
		/* Still inside a push: theirs to free (pusher_main). */
		fprintf(stderr, "archive: %u push(es) still under way at close; left to "
		    "finish on their own\n", a->running);
		a->orphaned = true;
		for (unsigned i = 0; i < a->n; i++)
			if (a->p[i].started)
				pthread_detach(a->p[i].thread);
		pthread_mutex_unlock(&a->mu);
		return;
	}
	pthread_mutex_unlock(&a->mu);
	for (unsigned i = 0; i < a->n; i++)
		if (a->p[i].started)
			pthread_join(a->p[i].thread, NULL);
	archive_free(a);
}

unsigned
archive_count(const struct archive *a)
{
	return a == NULL ? 0 : a->n;
}

void
archive_get_stats(struct archive *a, struct archive_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (a == NULL)
		return;
	pthread_mutex_lock(&a->mu);
	out->pushes = a->pushes;
	out->errors = a->errors;
	out->n = a->n;
	pthread_mutex_unlock(&a->mu);
}

bool
archive_get_url(struct archive *a, unsigned i, struct archive_url_stats *out)
{
	if (a == NULL || i >= a->n)
		return false;
	pthread_mutex_lock(&a->mu);
	*out = a->p[i].st;
	pthread_mutex_unlock(&a->mu);
	return true;
}

bool
archive_pushed(struct archive *a, unsigned i, struct store_oid *out)
{
	bool have;

	if (a == NULL || i >= a->n)
		return false;
	pthread_mutex_lock(&a->mu);
	have = a->p[i].st.have;
	if (have)
		*out = a->p[i].st.pushed;
	pthread_mutex_unlock(&a->mu);
	return have;
}

bool
archive_pushed_oldest(struct archive *a, struct store_oid *out)
{
	int64_t oldest = INT64_MAX;
	bool ok = a != NULL && a->n > 0;

	if (!ok)
		return false;
	pthread_mutex_lock(&a->mu);
	for (unsigned i = 0; i < a->n && ok; i++) {
		const struct archive_url_stats *s = &a->p[i].st;

		if (!s->have)
			ok = false;
		else if (s->pushed_time < oldest) {
			oldest = s->pushed_time;
			*out = s->pushed;
		}
	}
	pthread_mutex_unlock(&a->mu);
	return ok;
}

/* SPDX-License-Identifier: ISC */
/*
 * The archive: the router pushes its history (primary) to git remotes
 * (--history-push URL, repeatable), so that local retention may drop what
 * an archive already holds (issue 12).
 *
 * One thread per URL, each with its own libgit2 handle (store_push), so a
 * slow or dead remote never holds up the data path, the state writer or
 * another archive. A thread pushes refs/heads/primary to the remote's
 * refs/heads/primary, never forced, at most once per interval (default
 * 5 s, --history-push-interval) and only when primary has moved since the
 * last push that succeeded. A failure (remote down, refused) is counted
 * and retried after a backoff that doubles from the interval up to
 * ARCHIVE_RETRY_MAX_MS (60 s; the interval when that is longer); the
 * first success after failures logs the recovery and resets it.
 *
 * What each archive holds is persisted in the state repository as git's
 * remote-tracking ref refs/remotes/archive<N>/primary (N: the URL's place
 * in the configuration, from 0), with remote.archive<N>.url in the
 * repository's config, as `git remote add` would write it: `git branch -r`,
 * `git log archive0/primary` and `git remote -v` show it with stock git.
 * At start the ref says what the archive held (a URL that changed place
 * or value forgets its ref: it described another remote; archive<N> refs
 * beyond the URLs configured are removed, so they pin no history). The
 * ref is only ever moved to a commit the remote accepted.
 */
#ifndef SRC_ARCHIVE_H
#define SRC_ARCHIVE_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

#define ARCHIVE_MAX		8		/* URLs */
#define ARCHIVE_URL_MAX		256		/* bytes, NUL included */
#define ARCHIVE_RETRY_MAX_MS	60000u		/* backoff cap */

struct archive_opts {
	const char	*gitdir;		/* the state repository */
	const char	*urls[ARCHIVE_MAX];
	unsigned	n;
	unsigned	interval_ms;		/* between pushes: 5000 */
	unsigned	verbose;		/* >= 1: log every push */
};

/* One archive as its thread last saw it. */
struct archive_url_stats {
	char		url[ARCHIVE_URL_MAX];
	char		name[24];		/* "archive0": the remote's name */
	bool		have;			/* pushed: valid (a push succeeded) */
	struct store_oid pushed;		/* what the remote holds */
	int64_t		pushed_time;		/* its committer time */
	int64_t		head_time;		/* primary's head, last read */
	uint64_t	lag_s;			/* head_time - pushed_time (or since
						 * the head's time if never pushed) */
	uint64_t	pushes, errors;		/* this URL's */
	uint64_t	failures;		/* in a row, now */
	uint64_t	last_ok_us;		/* the last push that succeeded, 0 never */
	uint64_t	retry_ms;		/* the backoff now, 0 when healthy */
};

struct archive_stats {
	uint64_t	pushes;			/* pushes the remote accepted */
	uint64_t	errors;			/* pushes that failed */
	unsigned	n;			/* URLs */
};

struct archive;

/*
 * Set the archives up in the state repository o->gitdir (remote config,
 * tracking refs read back) without starting anything. 0, or -1 with the
 * reason in err. o->n == 0 gives a NULL archive (every function takes NULL:
 * no archive).
 */
int archive_open(struct archive **out, const struct archive_opts *o, char *err,
    size_t errlen);
/* Start the threads: each pushes at once, then on its schedule. */
int archive_start(struct archive *a);
/*
 * Stop the threads. One still inside a push is given a few seconds, then
 * left to finish on its own (it frees what it uses): a remote that does not
 * answer never holds up a shutdown or a reload.
 */
void archive_close(struct archive *a);

void archive_get_stats(struct archive *a, struct archive_stats *out);
/* URL i's view; false when there is no such URL. */
bool archive_get_url(struct archive *a, unsigned i, struct archive_url_stats *out);
unsigned archive_count(const struct archive *a);

/*
 * For retention, from any thread (a mutex the pushers hold only to copy
 * a few words, never across a push):
 * archive_pushed: the commit URL i's remote last accepted (false: none
 * yet); archive_pushed_oldest: the oldest (by committer time) of those over
 * every URL, false if any URL has none yet, or there is no archive. History
 * older than it is in every archive.
 */
bool archive_pushed(struct archive *a, unsigned i, struct store_oid *out);
bool archive_pushed_oldest(struct archive *a, struct store_oid *out);

#endif

/* SPDX-License-Identifier: ISC */
/*
 * History retention: history is kept by age (keep_s) and size (max_bytes),
 * and dropped online, in the background, with git's own notion of a cut
 * history -- a shallow repository.
 *
 * A cut picks a cutoff time and rewrites, as one pack, everything the refs
 * reach down to the commits at or before the cutoff (compact.c's
 * store_rewrite_build). Those commits are the boundary: kept whole, tree
 * and all (so every entry alive then is kept, and every later commit still
 * reads), and listed in $GIT_DIR/shallow, which stock git reads as "these
 * commits have no parents here". Commit ids do not change, so a standby or
 * an archive that holds older commits fetches from us as before, and
 * history pushed to an archive before the cut stays whole there.
 *
 * The boundary's parents stay as bare commit objects (their trees go):
 * libgit2 1.5 knows nothing of shallow files and reads a parent before any
 * hook can stop its walk; with the parent there, the store's walks hide it
 * (store_shallow_hide) and stop. git fsck calls them dangling, which is
 * not an error.
 *
 * Order, so that a crash anywhere leaves a repository git fsck accepts:
 * the new pack is made durable, then the shallow file is replaced
 * (temporary file, fsync, rename, directory fsync), then the packs that
 * existed when the cut began are removed. Packs the writer made meanwhile
 * stay; what they name is either new or reachable from the refs the cut
 * started from.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "repo.h"

void
store_shallow_clear(struct store *st)
{
	free(st->shallow);
	free(st->stubs);
	st->shallow = st->stubs = NULL;
	st->nshallow = st->nstubs = 0;
}

/*
 * Read $GIT_DIR/shallow: the boundary commits, and their parents (the
 * stubs a walk must not go past). No file: a whole history.
 */
int
store_shallow_load(struct store *st)
{
	char path[4400], line[128];
	FILE *f;
	git_oid *v = NULL, *s = NULL;
	size_t n = 0, cap = 0, ns = 0, scap = 0;
	int error = 0;

	store_shallow_clear(st);
	snprintf(path, sizeof(path), "%sshallow", git_repository_path(st->repo));
	if ((f = fopen(path, "r")) == NULL)
		return errno == ENOENT ? 0 : store_err(STORE_EIO, "store: %s: %s", path,
		    strerror(errno));
	while (error == 0 && fgets(line, sizeof(line), f) != NULL) {
		git_oid id;
		git_commit *c;

		if (strlen(line) < 40 || git_oid_fromstrn(&id, line, 40) < 0) {
			error = store_err(STORE_EIO, "store: %s: not a list of commit ids", path);
			break;
		}
		if ((error = store_oidv_push(&v, &n, &cap, &id)) < 0)
			break;
		if (git_commit_lookup(&c, st->repo, &id) < 0) {
			git_error_clear();
			continue;
		}
		for (unsigned i = 0; i < git_commit_parentcount(c) && error == 0; i++)
			error = store_oidv_push(&s, &ns, &scap, git_commit_parent_id(c, i));
		git_commit_free(c);
	}
	fclose(f);
	if (error < 0) {
		free(v);
		free(s);
		return error;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), store_oid_qcmp);
	if (ns > 1)
		qsort(s, ns, sizeof(*s), store_oid_qcmp);
	st->shallow = v;
	st->nshallow = n;
	st->stubs = s;
	st->nstubs = ns;
	return 0;
}

static bool
oid_bsearch(const git_oid *v, size_t n, const git_oid *id)
{
	return n > 0 && bsearch(id, v, n, sizeof(*v), store_oid_qcmp) != NULL;
}

bool
store_is_boundary(const struct store *st, const git_oid *id)
{
	return oid_bsearch(st->shallow, st->nshallow, id);
}

/* git_revwalk_add_hide_cb: a boundary's parent is where history ends. */
int
store_shallow_hide(const git_oid *id, void *payload)
{
	const struct store *st = payload;

	return oid_bsearch(st->stubs, st->nstubs, id) && !store_is_boundary(st, id);
}

/* Every ref's target (peeled no further: a tag is written as it is). */
struct tips {
	git_oid		*v;
	size_t		n, cap;
};

static int
tips_add(struct tips *t, const git_oid *id)
{
	return store_oidv_push(&t->v, &t->n, &t->cap, id);
}

static int
tip_cb(git_reference *ref, void *payload)
{
	git_reference *res = NULL;
	int error = 0;

	if (git_reference_resolve(&res, ref) == 0 && git_reference_target(res) != NULL)
		error = tips_add(payload, git_reference_target(res));
	git_reference_free(res);
	git_reference_free(ref);
	git_error_clear();
	return error;
}

/* Everything the refs reach, from a flushed writer. */
static int
collect_tips(struct store *st, struct tips *t)
{
	int error;

	if ((error = store_flush(st)) < 0)
		return error;
	if ((error = git_reference_foreach(st->repo, tip_cb, t)) < 0) {
		free(t->v);
		t->v = NULL;
		return store_gerr(error, "store: retain: refs");
	}
	if ((error = tips_add(t, &st->head)) < 0 ||
	    (st->tick_pending && (error = tips_add(t, &st->tick_commit)) < 0)) {
		free(t->v);
		t->v = NULL;
		return error;
	}
	return 0;
}

int
store_retain_cut(struct store *st, int64_t cutoff_s)
{
	struct tips t = { 0 };
	int error;

	if (st->readonly || st->o.side)
		return store_err(STORE_EINVAL, "store: a cut needs the writer");
	if ((error = collect_tips(st, &t)) < 0)
		return error;
	error = store_odb_retain_run(st->odb, t.v, t.n, cutoff_s, st->shallow, st->nshallow);
	free(t.v);
	if (error < 0)
		return error;
	if (store_odb_retain_poll(st->odb) != 1)
		return 1;	/* nothing at or before the cutoff to drop */
	st->rstats.cuts++;
	st->rstats.last_cutoff_s = (uint64_t)cutoff_s;
	st->oldest_known = false;
	st->npacks = store_odb_pack_count(st->odb);
	return store_shallow_load(st);
}

/* The oldest commit time kept: the boundary's, or the root's (first parents). */
static int
oldest_time(struct store *st, int64_t *out)
{
	git_revwalk *w = NULL;
	git_oid id, last;
	bool any = false;
	int error;

	if (st->nshallow > 0) {
		int64_t t = INT64_MAX;

		for (size_t i = 0; i < st->nshallow; i++) {
			git_commit *c;

			if (git_commit_lookup(&c, st->repo, &st->shallow[i]) < 0) {
				git_error_clear();
				continue;
			}
			if (git_commit_time(c) < t)
				t = git_commit_time(c);
			git_commit_free(c);
		}
		*out = t;
		return 0;
	}
	if ((error = git_revwalk_new(&w, st->repo)) < 0 ||
	    (error = git_revwalk_push(w, &st->head)) < 0) {
		git_revwalk_free(w);
		return store_gerr(error, "store: history walk");
	}
	git_revwalk_simplify_first_parent(w);
	while ((error = git_revwalk_next(&id, w)) == 0) {
		last = id;
		any = true;
	}
	git_revwalk_free(w);
	if (error != GIT_ITEROVER)
		return store_gerr(error, "store: history walk");
	*out = 0;
	if (any) {
		git_commit *c;

		if (git_commit_lookup(&c, st->repo, &last) < 0)
			return store_gerr(-1, "store: history walk");
		*out = git_commit_time(c);
		git_commit_free(c);
	}
	return 0;
}

/* The commit time of id, or -1. */
static int64_t
commit_time(struct store *st, const git_oid *id)
{
	git_commit *c;
	int64_t t;

	if (git_commit_lookup(&c, st->repo, id) < 0) {
		git_error_clear();
		return -1;
	}
	t = git_commit_time(c);
	git_commit_free(c);
	return t;
}

int
store_retain_poll(struct store *st, uint64_t now_us, const struct store_retain *r)
{
	int64_t now = (int64_t)(now_us / 1000000), cutoff = INT64_MIN, archived;
	uint64_t bytes;
	struct tips t = { 0 };
	int error;

	if (st->readonly || st->o.side)
		return 0;
	/* Replaced packs wait for readers only while under the size cut's mark. */
	store_odb_set_retire_cap(st->odb, r->max_bytes / 4 * 3);
	if ((error = store_odb_retain_poll(st->odb)) < 0)
		return error;
	if (error == 1) {
		/* A cut finished: its boundary is the shallow file now. */
		st->rstats.cuts++;
		st->oldest_known = false;
		if ((error = store_shallow_load(st)) < 0)
			return error;
	}
	if (store_odb_merging(st->odb) || now_us < st->retain_next_us)
		return 0;
	st->retain_next_us = now_us + 1000000;
	if (!st->oldest_known) {
		if ((error = oldest_time(st, &st->oldest_s)) < 0)
			return error;
		st->oldest_known = true;
	}
	st->rstats.oldest_s = (uint64_t)st->oldest_s;
	/* The time of what every archive has (-1: nothing yet, or no archive). */
	archived = r->archives && r->has_archived ? commit_time(st, store_goid(&r->archived)) : -1;
	if (r->keep_s > 0 && now - st->oldest_s > (int64_t)(r->keep_s + r->keep_s / 8 + 1))
		cutoff = now - (int64_t)r->keep_s;
	/* An age cut waits for the archives. */
	if (r->archives && cutoff != INT64_MIN) {
		int64_t at = archived;

		if (at < cutoff)
			cutoff = at <= st->oldest_s ? INT64_MIN : at;
	}
	bytes = store_odb_bytes(st->odb);
	/*
	 * Size: act at three quarters of the bound, so that what is written
	 * while a cut runs (and the cut's own pack, beside the packs it
	 * replaces until it is done) stays under it. Mostly fresh packs: a
	 * compaction alone brings them down twentyfold and drops nothing.
	 */
	if (r->max_bytes > 0 && (bytes > r->max_bytes / 4 * 3 ?
	    store_odb_fresh_bytes(st->odb) > bytes / 2 :
	    store_odb_fresh_bytes(st->odb) > r->max_bytes / 8)) {
		st->retain_next_us = now_us + 1000000ull;
		return store_odb_merge_start(st->odb, st->o.max_packs, true);
	}
	if (r->max_bytes > 0 && bytes > r->max_bytes / 4 * 3 && now > st->oldest_s) {
		/* Bytes grow with time: keep the newest half of the bound. */
		int64_t span = now - st->oldest_s;
		int64_t c = now - (int64_t)((double)span * (double)r->max_bytes * 0.5 /
		    (double)bytes);

		if (c > cutoff) {
			if (r->archives && archived < c)
				st->rstats.dropped_unarchived++;
			cutoff = c;
		}
	}
	if (cutoff == INT64_MIN || cutoff < st->oldest_s)
		return 0;
	if ((error = collect_tips(st, &t)) < 0)
		return error;
	st->rstats.last_cutoff_s = (uint64_t)cutoff;
	st->retain_next_us = now_us + 10 * 1000000ull;	/* a cut is not free */
	error = store_odb_retain_start(st->odb, t.v, t.n, cutoff, st->shallow, st->nshallow);
	free(t.v);
	return error;
}

void
store_retain_stats(struct store *st, struct store_retain_stats *out)
{
	*out = st->rstats;
}

size_t
store_boundary(struct store_reader *r, struct store_oid *out, size_t cap)
{
	for (size_t i = 0; i < r->st->nshallow && i < cap; i++)
		git_oid_cpy(store_goid_mut(&out[i]), &r->st->shallow[i]);
	return r->st->nshallow;
}

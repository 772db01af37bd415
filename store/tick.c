/* SPDX-License-Identifier: ISC */
/*
 * Expiry ticks and branch merges. A tick forks expire_<unix.usec> from
 * primary's head, removes what the expiry index says has expired as of its
 * `now` (that time is in the branch name and the Tick-Time trailer, so the
 * tick can be replayed), and commits "tick: age out ...". Commits to
 * primary may follow; store_tick_finish() then merges the branch back as
 * "tick: merge expire_<unix.usec>" with the table-aware merge, so an entry
 * refreshed on primary meanwhile survives. The branch ref is created at
 * the next flush, with the objects durable; old ones are pruned there.
 *
 * The tick's merge without walking trees. The branch only removes a known
 * set R of keys (sorted, with their paths, kept from store_tick_begin()),
 * so the three-way merge reduces to a rule per key of R, given the keys
 * primary touched since the fork. Those are noted by store_commit() and
 * store_merge_into_head(), the only ways head moves while a tick is
 * pending (repo.c's own commits run at open only):
 *	not touched: remove it (theirs removed it, ours did not change it);
 *	touched: ours stands (a refresh beats an expiry), unless ours is
 *	absent (nothing to do) or its blob is the fork's (the generic merge
 *	sees it unchanged: remove), found by path lookups in both trees.
 * The generic merge also checks, for tables with a unique key, that what
 * ours changed has no clash (NAT: two mappings on one external port):
 * theirs adds none, but ours could carry one in. So when two touched
 * entries share a unique key, a note failed, or head moved without a note
 * (tick_head shows it), the merge goes the generic way. Either way the
 * tree is the one store_merge_edits() gives; the fast way costs O(|R| +
 * touched) tree work, whatever the size of the tables.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "writer.h"

void
store_merge_message(struct sbuf *msg, const char *subject, int conflicts,
    const struct sbuf *conf, const char *trailer)
{
	store_sbuf_printf(msg, "%s\n", subject);
	if (conflicts > 0 || trailer != NULL)
		store_sbuf_puts(msg, "\n");
	if (conflicts > 0)
		store_sbuf_add(msg, conf->p, conf->len);
	if (trailer != NULL)
		store_sbuf_printf(msg, "%s\n", trailer);
}

int
store_merge_into_head(struct store *st, const git_oid *theirs_commit,
    const git_oid *theirs_tree, const git_oid *base_tree, const char *subject,
    const char *trailer, uint64_t now_us)
{
	struct store_edits es = { 0 };
	struct sbuf msg = { 0 }, conf = { 0 };
	const git_oid *parents[2] = { &st->head, theirs_commit };
	git_oid tree, id, prev;
	int conflicts, error;

	if ((conflicts = store_merge_edits(&es, st, base_tree, &st->head_tree,
	    theirs_tree, &conf)) < 0) {
		error = conflicts;
		goto done;
	}
	if ((error = store_tree_apply(&tree, st->odb, &st->head_tree, &es)) < 0)
		goto done;
	store_merge_message(&msg, subject, conflicts, &conf, trailer);
	if (msg.oom) {
		error = store_err(-1, "store: out of memory");
		goto done;
	}
	if ((error = store_commit_tree(&id, st, &tree, parents, 2, msg.p, now_us)) < 0)
		goto done;
	if (git_oid_equal(&st->head, &st->durable))
		st->unflushed_us = now_us;
	git_oid_cpy(&prev, &st->head);
	git_oid_cpy(&st->head, &id);
	git_oid_cpy(&st->head_tree, &tree);
	/* Notes each key for a pending tick; a failure leaves tick_head behind. */
	if ((error = store_xidx_apply_edits(st, &es)) == 0)
		store_tick_moved(st, &prev);
done:
	store_edits_free(&es);
	store_sbuf_free(&msg);
	store_sbuf_free(&conf);
	return error < 0 ? error : conflicts;
}

static struct tick_touch *
touch_find(const struct store *st, uint64_t key)
{
	size_t m = st->touch_cap - 1;

	if (st->touch_cap == 0)
		return NULL;
	for (size_t s = store_key_slot(key, st->touch_cap); st->touch[s].key != 0; s = (s + 1) & m)
		if (st->touch[s].key == key)
			return &st->touch[s];
	return NULL;
}

static int
touch_grow(struct store *st)
{
	size_t cap = st->touch_cap ? st->touch_cap * 2 : 256;
	struct tick_touch *v = calloc(cap, sizeof(*v));

	if (v == NULL)
		return -1;
	for (size_t i = 0; i < st->touch_cap; i++) {
		size_t s;

		if (st->touch[i].key == 0)
			continue;
		for (s = store_key_slot(st->touch[i].key, cap); v[s].key != 0; s = (s + 1) & (cap - 1))
			;
		v[s] = st->touch[i];
	}
	free(st->touch);
	st->touch = v;
	st->touch_cap = cap;
	return 0;
}

void
store_tick_note(struct store *st, uint64_t key, const struct store_entry *e)
{
	const struct store_table *tab;
	struct tick_touch *t;
	size_t s, m;

	if (!st->tick_pending || !st->tick_fast)
		return;
	if ((st->touch_n + 1) * 2 > st->touch_cap && touch_grow(st) < 0) {
		st->tick_fast = false;		/* the generic merge needs no notes */
		return;
	}
	m = st->touch_cap - 1;
	for (s = store_key_slot(key, st->touch_cap); st->touch[s].key != 0 &&
	    st->touch[s].key != key; s = (s + 1) & m)
		;
	t = &st->touch[s];
	if (t->key == 0) {
		t->key = key;
		st->touch_n++;
	}
	t->present = e != NULL;
	t->has_u = false;
	if (e != NULL && (tab = store_table_by_id(e->table)) != NULL && tab->unique != NULL) {
		t->u = tab->unique(e);
		t->has_u = true;
	}
}

void
store_tick_moved(struct store *st, const git_oid *prev)
{
	if (!st->tick_pending)
		return;
	if (!git_oid_equal(prev, &st->tick_head))
		st->tick_fast = false;		/* head moved in between, unnoted */
	git_oid_cpy(&st->tick_head, &st->head);
}

/*
 * Release the tick's bookkeeping: once merged (the touch table is a few
 * KiB, not worth keeping between ticks), and in store_free().
 */
void
store_tick_free(struct store *st)
{
	free(st->tick_keys);
	free(st->tick_paths);
	free(st->touch);
	st->tick_keys = NULL;
	st->tick_paths = NULL;
	st->touch = NULL;
	st->tick_n = st->touch_n = st->touch_cap = 0;
	st->tick_fast = false;
}

static int
pair_cmp(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	if (x[0] != y[0])
		return x[0] < y[0] ? -1 : 1;
	return x[1] < y[1] ? -1 : x[1] > y[1];
}

/*
 * Whether two entries primary touched share a table's unique key: a clash
 * the generic merge would record (what ours changed is a subset of what
 * was touched, each noted as it is at head).
 */
static bool
touch_clash(const struct store *st)
{
	uint64_t (*v)[2];
	size_t n = 0;
	bool clash = false;

	if (st->touch_n < 2)
		return false;
	if ((v = malloc(st->touch_n * sizeof(*v))) == NULL)
		return true;			/* the generic merge will tell */
	for (size_t i = 0; i < st->touch_cap; i++) {
		const struct tick_touch *t = &st->touch[i];

		if (t->key == 0 || !t->present || !t->has_u)
			continue;
		v[n][0] = t->key >> 56;		/* the table */
		v[n][1] = t->u;
		n++;
	}
	qsort(v, n, sizeof(*v), pair_cmp);
	for (size_t i = 1; i < n && !clash; i++)
		clash = v[i][0] == v[i - 1][0] && v[i][1] == v[i - 1][1];
	free(v);
	return clash;
}

/* The entry at path under tree root (a copy, name unset); *found false if none. */
static int
path_entry(struct tent *out, bool *found, struct store *st, const git_oid *root,
    const char *path)
{
	git_oid id;
	int error;

	*found = false;
	git_oid_cpy(&id, root);
	for (const char *p = path; ; ) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		const struct tent *e;
		struct tview tv;

		if ((error = store_tview_load(&tv, st->odb, &id)) < 0)
			return error;
		e = store_tview_find(&tv, p, len);
		if (e != NULL && slash == NULL) {
			*out = *e;
			out->name = NULL;
			*found = true;
		} else if (e != NULL && e->tree) {
			git_oid_cpy(&id, &e->id);
		} else {
			e = NULL;
		}
		store_tview_free(&tv);
		if (e == NULL || slash == NULL)
			return 0;
		p = slash + 1;
	}
}

/*
 * The tick's merge by the rules at the top of this file: edits against
 * head from R alone, then the same commit store_merge_into_head() makes.
 */
static int
tick_merge_fast(struct store *st, const char *msg, uint64_t now_us)
{
	struct store_edits es = { 0 };
	const git_oid *parents[2] = { &st->head, &st->tick_commit };
	git_oid tree, id;
	int error = 0;

	for (size_t i = 0; i < st->tick_n && error == 0; i++) {
		const char *path = st->tick_paths[i];
		struct tent o, b;
		bool have_o, have_b;

		if (touch_find(st, st->tick_keys[i]) != NULL) {
			if ((error = path_entry(&o, &have_o, st, &st->head_tree, path)) < 0 ||
			    (error = path_entry(&b, &have_b, st, &st->tick_base_tree,
			    path)) < 0)
				break;
			/* Gone on primary, or changed there since the fork: ours stands. */
			if (!have_o || !have_b || o.mode != b.mode || !git_oid_equal(&o.id, &b.id))
				continue;
		}
		if (store_edits_add(&es, path, 0, NULL) == NULL)
			error = -1;
	}
	if (error < 0 || (error = store_tree_apply(&tree, st->odb, &st->head_tree, &es)) < 0 ||
	    (error = store_commit_tree(&id, st, &tree, parents, 2, msg, now_us)) < 0)
		goto done;
	if (git_oid_equal(&st->head, &st->durable))
		st->unflushed_us = now_us;
	git_oid_cpy(&st->head, &id);
	git_oid_cpy(&st->head_tree, &tree);
	error = store_xidx_apply_edits(st, &es);
done:
	store_edits_free(&es);
	return error;
}

int
store_tick_begin(struct store *st, uint64_t now_us, unsigned *n_arp, unsigned *n_nat)
{
	struct store_edits es = { 0 };
	struct sbuf msg = { 0 };
	const git_oid *parents[1] = { &st->head };
	unsigned na = 0, nn = 0;
	uint64_t *keys = NULL;
	char (*paths)[STORE_PATH_MAX] = NULL;
	size_t n = 0;
	char t[24], ref[STORE_REF_MAX + 40];
	git_oid tree, id;
	int error = 0;

	if (n_arp)
		*n_arp = 0;
	if (n_nat)
		*n_nat = 0;
	if (st->txn_open)
		return store_err(STORE_EINVAL, "store: tick: a transaction is under way");
	if (st->tick_pending && (error = store_tick_finish(st, now_us)) < 0)
		return error;
	/* Sorted keys, ARP first, then NAT; off the heap until the merge. */
	if ((error = store_xidx_ready(st)) < 0 ||
	    (error = store_xidx_expired(&st->xi, now_us, &keys, &n)) < 0)
		return error;
	if (n == 0)
		return 1;
	if ((paths = malloc(n * sizeof(*paths))) == NULL) {
		error = store_err(-1, "store: out of memory");
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		const struct store_table *tab = store_table_by_id((uint8_t)(keys[i] >> 56));
		struct store_entry e;

		tab->from_key(&e, keys[i]);
		if (store_entry_path(paths[i], sizeof(paths[i]), &e) < 0) {
			error = STORE_EINVAL;
			goto done;
		}
		if (store_edits_add(&es, paths[i], 0, NULL) == NULL) {
			error = -1;
			goto done;
		}
		na += e.table == EV_TABLE_ARP;
		nn += e.table == EV_TABLE_NAT;
	}
	if ((error = store_tree_apply(&tree, st->odb, &st->head_tree, &es)) < 0)
		goto done;

	/* "tick: age out 1 arp entry", "tick: age out 3 arp, 17 nat entries" */
	store_sbuf_puts(&msg, "tick: age out ");
	if (na && nn)
		store_sbuf_printf(&msg, "%u arp, %u nat entries\n\n", na, nn);
	else
		store_sbuf_printf(&msg, "%u %s %s\n\n", na ? na : nn, na ? "arp" : "nat",
		    (na ? na : nn) == 1 ? "entry" : "entries");
	for (size_t i = 0; i < n && i < st->o.body_max; i++) {
		struct store_change c;
		const struct store_table *tab = store_table_by_id((uint8_t)(keys[i] >> 56));
		char line[STORE_FMT_MAX];

		memset(&c, 0, sizeof(c));
		c.op = EV_REMOVE;
		tab->from_key(&c.e, keys[i]);
		store_fmt_change(line, sizeof(line), &c);
		store_sbuf_printf(&msg, "%s\n", line);
	}
	if (n > st->o.body_max)
		store_sbuf_printf(&msg, "... and %zu more\n", n - st->o.body_max);
	store_sbuf_printf(&msg, "\nTick-Time: %s\n", store_time_fmt(t, now_us));
	if (msg.oom) {
		error = store_err(-1, "store: out of memory");
		goto done;
	}
	if ((error = store_commit_tree(&id, st, &tree, parents, 1, msg.p, now_us)) < 0)
		goto done;
	snprintf(st->tick_name, sizeof(st->tick_name), "%s%s", st->tick_prefix, t);
	snprintf(ref, sizeof(ref), "refs/heads/%s", st->tick_name);
	if ((error = store_queue_ref(st, ref, &id)) < 0)
		goto done;
	git_oid_cpy(&st->tick_commit, &id);
	git_oid_cpy(&st->tick_tree, &tree);
	git_oid_cpy(&st->tick_base_tree, &st->head_tree);
	st->tick_now = now_us;
	st->tick_pending = true;
	st->tick_keys = keys;
	st->tick_paths = paths;
	st->tick_n = n;
	keys = NULL;
	paths = NULL;
	git_oid_cpy(&st->tick_head, &st->head);
	st->tick_fast = true;
	if (n_arp)
		*n_arp = na;
	if (n_nat)
		*n_nat = nn;
done:
	if (keys != NULL)		/* failed: the heap has them again */
		store_xidx_requeue(&st->xi, keys, n);
	free(keys);
	free(paths);
	store_edits_free(&es);
	store_sbuf_free(&msg);
	return error;
}

int
store_tick_finish(struct store *st, uint64_t now_us)
{
	char subject[STORE_REF_MAX + 40], trailer[64], msg[STORE_REF_MAX + 128], t[24];
	int error;

	if (!st->tick_pending)
		return 1;
	if (st->txn_open)
		return store_err(STORE_EINVAL, "store: tick: a transaction is under way");
	snprintf(subject, sizeof(subject), "tick: merge %s", st->tick_name);
	snprintf(trailer, sizeof(trailer), "Tick-Time: %s", store_time_fmt(t, st->tick_now));
	if (st->tick_fast && git_oid_equal(&st->head, &st->tick_head) && !touch_clash(st)) {
		/* store_merge_into_head()'s message, without conflicts. */
		snprintf(msg, sizeof(msg), "%s\n\n%s\n", subject, trailer);
		if ((error = tick_merge_fast(st, msg, now_us)) < 0)
			return error;
		st->tick_nfast++;
	} else {
		if ((error = store_merge_into_head(st, &st->tick_commit, &st->tick_tree,
		    &st->tick_base_tree, subject, trailer, now_us)) < 0)
			return error;
		st->tick_nslow++;
	}
	/*
	 * The tick's keys the merge left in the index go back on the heap.
	 * Those primary set again are on it already (twice is harmless); the
	 * others (head moved unnoted) would be missed: the heap keeps every
	 * indexed key, as a walk of the index would find it.
	 */
	store_xidx_requeue(&st->xi, st->tick_keys, st->tick_n);
	store_tick_free(st);
	st->tick_pending = false;
	return 0;
}

int
store_tick(struct store *st, uint64_t now_us)
{
	int error = store_tick_begin(st, now_us, NULL, NULL);

	if (error != 0)
		return error;
	return store_tick_finish(st, now_us);
}

int
store_merge_prepare(struct store *st, const char *branch, const git_oid *ours,
    git_oid *theirs, git_oid *theirs_tree, git_oid *base_tree, bool *have_base)
{
	git_object *o = NULL;
	git_commit *tc = NULL, *bc = NULL;
	git_oid base_id;
	char name[256];
	int error;

	*have_base = false;
	/* A branch name first (as store_merge always took), then a revision. */
	if (strncmp(branch, "refs/", 5) == 0)
		snprintf(name, sizeof(name), "%s", branch);
	else
		snprintf(name, sizeof(name), "refs/heads/%s", branch);
	if ((error = git_reference_name_to_id(theirs, st->repo, name)) < 0) {
		if ((error = git_revparse_single(&o, st->repo, branch)) < 0)
			return store_err(STORE_ENOTFOUND, "store: merge: unknown branch '%s'",
			    branch);
		git_oid_cpy(theirs, git_object_id(o));
		git_object_free(o);
	}
	if ((error = git_commit_lookup(&tc, st->repo, theirs)) < 0) {
		error = store_gerr(error == GIT_ENOTFOUND ? STORE_ENOTFOUND : error,
		    "store: merge: %s", branch);
		goto done;
	}
	git_oid_cpy(theirs, git_commit_id(tc));
	git_oid_cpy(theirs_tree, git_commit_tree_id(tc));
	error = git_merge_base(&base_id, st->repo, ours, theirs);
	if (error == 0 && git_oid_equal(&base_id, theirs)) {
		error = 1;		/* already contained */
		goto done;
	}
	if (error < 0 && error != GIT_ENOTFOUND) {
		error = store_gerr(error, "store: merge base of %s", branch);
		goto done;
	}
	if (error == 0) {
		if ((error = git_commit_lookup(&bc, st->repo, &base_id)) < 0) {
			error = store_gerr(error, "store: merge base of %s", branch);
			goto done;
		}
		git_oid_cpy(base_tree, git_commit_tree_id(bc));
		*have_base = true;
	}
	if ((error = store_merge_check(st, *have_base ? base_tree : NULL, theirs_tree)) < 0) {
		char why[512];

		snprintf(why, sizeof(why), "%s", store_strerror());
		error = store_err(error, "%s (refusing to merge %s)", why, branch);
	}
done:
	git_commit_free(bc);
	git_commit_free(tc);
	return error;
}

int
store_merge(struct store *st, const char *branch, uint64_t now_us)
{
	return store_merge_as(st, branch, NULL, now_us);
}

int
store_merge_as(struct store *st, const char *branch, const char *msg, uint64_t now_us)
{
	git_oid theirs, theirs_tree, base_tree;
	char subject[300];
	bool have_base;
	int error;

	if (st->txn_open)
		return store_err(STORE_EINVAL, "store: merge: a transaction is under way");
	if ((error = store_merge_prepare(st, branch, &st->head, &theirs, &theirs_tree,
	    &base_tree, &have_base)) != 0)
		return error == 1 ? 0 : error;
	if (msg != NULL)
		snprintf(subject, sizeof(subject), "%s", msg);
	else
		snprintf(subject, sizeof(subject), "merge %s", branch);
	return store_merge_into_head(st, &theirs, &theirs_tree, have_base ? &base_tree : NULL,
	    subject, NULL, now_us);
}

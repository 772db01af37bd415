/*
 * Expiry ticks and branch merges. A tick forks expire_<unix.usec> from
 * primary's head, removes what the expiry index says has expired as of its
 * `now` (that time is in the branch name and the Tick-Time trailer, so the
 * tick can be replayed), and commits "tick: age out ...". Commits to
 * primary may follow; store_tick_finish() then merges the branch back as
 * "tick: merge expire_<unix.usec>" with the table-aware merge, so an entry
 * refreshed on primary meanwhile survives. The branch ref is created at
 * the next flush, with the objects durable; old ones are pruned there.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int
store_merge_into_head(struct store *st, const git_oid *theirs_commit,
    const git_oid *theirs_tree, const git_oid *base_tree, const char *subject,
    const char *trailer, uint64_t now_us)
{
	struct store_edits es = { 0 };
	struct sbuf msg = { 0 }, conf = { 0 };
	const git_oid *parents[2] = { &st->head, theirs_commit };
	git_oid tree, id;
	int conflicts, error;

	if ((conflicts = store_merge_edits(&es, st, base_tree, &st->head_tree,
	    theirs_tree, &conf)) < 0) {
		error = conflicts;
		goto done;
	}
	if ((error = store_tree_apply(&tree, st, &st->head_tree, &es)) < 0)
		goto done;
	store_sbuf_printf(&msg, "%s\n", subject);
	if (conflicts > 0 || trailer != NULL)
		store_sbuf_puts(&msg, "\n");
	if (conflicts > 0)
		store_sbuf_add(&msg, conf.p, conf.len);
	if (trailer != NULL)
		store_sbuf_printf(&msg, "%s\n", trailer);
	if (msg.oom) {
		error = store_err(-1, "store: out of memory");
		goto done;
	}
	if ((error = store_commit_tree(&id, st, &tree, parents, 2, msg.p, now_us)) < 0)
		goto done;
	if (git_oid_equal(&st->head, &st->durable))
		st->unflushed_us = now_us;
	git_oid_cpy(&st->head, &id);
	git_oid_cpy(&st->head_tree, &tree);
	error = store_xidx_apply_edits(st, &es);
done:
	store_edits_free(&es);
	store_sbuf_free(&msg);
	store_sbuf_free(&conf);
	return error < 0 ? error : conflicts;
}


static int
key_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int
store_tick_begin(struct store *st, uint64_t now_us, unsigned *n_arp, unsigned *n_nat)
{
	struct store_edits es = { 0 };
	struct sbuf msg = { 0 };
	const git_oid *parents[1] = { &st->head };
	unsigned na = 0, nn = 0;
	uint64_t *keys = NULL;
	size_t n = 0;
	char t[24], path[STORE_PATH_MAX], ref[96];
	git_oid tree, id;
	int error = 0;

	if (n_arp)
		*n_arp = 0;
	if (n_nat)
		*n_nat = 0;
	if (st->tick_pending && (error = store_tick_finish(st, now_us)) < 0)
		return error;
	for (size_t i = 0; i < st->xi.cap; i++)
		if (st->xi.key[i] != 0 && st->xi.exp[i] <= now_us)
			n++;
	if (n == 0)
		return 1;
	if ((keys = malloc(n * sizeof(*keys))) == NULL)
		return store_err(-1, "store: out of memory");
	n = 0;
	for (size_t i = 0; i < st->xi.cap; i++)
		if (st->xi.key[i] != 0 && st->xi.exp[i] <= now_us)
			keys[n++] = st->xi.key[i];
	qsort(keys, n, sizeof(*keys), key_cmp);	/* ARP first, then NAT */
	for (size_t i = 0; i < n; i++) {
		const struct store_table *tab = store_table_by_id((uint8_t)(keys[i] >> 56));
		struct store_entry e;

		tab->from_key(&e, keys[i]);
		if (store_entry_path(path, sizeof(path), &e) < 0) {
			error = STORE_EINVAL;
			goto done;
		}
		if (store_edits_add(&es, path, 0, NULL) == NULL) {
			error = -1;
			goto done;
		}
		na += e.table == EV_TABLE_ARP;
		nn += e.table == EV_TABLE_NAT;
	}
	if ((error = store_tree_apply(&tree, st, &st->head_tree, &es)) < 0)
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

		memset(&c, 0, sizeof(c));
		c.op = EV_REMOVE;
		tab->from_key(&c.e, keys[i]);
		store_sbuf_printf(&msg, "%s: ", tab->name);
		tab->describe(&msg, &c);
		store_sbuf_puts(&msg, "\n");
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
	snprintf(st->tick_name, sizeof(st->tick_name), "expire_%s", t);
	snprintf(ref, sizeof(ref), "refs/heads/%s", st->tick_name);
	if ((error = store_queue_ref(st, ref, &id)) < 0)
		goto done;
	git_oid_cpy(&st->tick_commit, &id);
	git_oid_cpy(&st->tick_tree, &tree);
	git_oid_cpy(&st->tick_base_tree, &st->head_tree);
	st->tick_now = now_us;
	st->tick_pending = true;
	if (n_arp)
		*n_arp = na;
	if (n_nat)
		*n_nat = nn;
done:
	free(keys);
	store_edits_free(&es);
	store_sbuf_free(&msg);
	return error;
}

int
store_tick_finish(struct store *st, uint64_t now_us)
{
	char subject[96], trailer[64], t[24];
	int error;

	if (!st->tick_pending)
		return 1;
	snprintf(subject, sizeof(subject), "tick: merge %s", st->tick_name);
	snprintf(trailer, sizeof(trailer), "Tick-Time: %s", store_time_fmt(t, st->tick_now));
	error = store_merge_into_head(st, &st->tick_commit, &st->tick_tree,
	    &st->tick_base_tree, subject, trailer, now_us);
	if (error < 0)
		return error;
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
store_merge(struct store *st, const char *branch, uint64_t now_us)
{
	git_reference *ref = NULL;
	git_commit *theirs = NULL, *base = NULL;
	git_oid base_id;
	char name[256], subject[300];
	int error;

	if (strncmp(branch, "refs/", 5) == 0)
		snprintf(name, sizeof(name), "%s", branch);
	else
		snprintf(name, sizeof(name), "refs/heads/%s", branch);
	if ((error = git_reference_lookup(&ref, st->repo, name)) < 0 ||
	    (error = git_commit_lookup(&theirs, st->repo, git_reference_target(ref))) < 0) {
		error = store_gerr(error, "store: merge: %s", name);
		goto done;
	}
	error = git_merge_base(&base_id, st->repo, &st->head, git_commit_id(theirs));
	if (error == 0 && git_oid_equal(&base_id, git_commit_id(theirs)))
		goto done;		/* already contained */
	if (error < 0 && error != GIT_ENOTFOUND) {
		error = store_gerr(error, "store: merge base of %s", name);
		goto done;
	}
	if (error == 0 && (error = git_commit_lookup(&base, st->repo, &base_id)) < 0) {
		error = store_gerr(error, "store: merge base of %s", name);
		goto done;
	}
	snprintf(subject, sizeof(subject), "merge %s", branch);
	error = store_merge_into_head(st, git_commit_id(theirs),
	    git_commit_tree_id(theirs), base ? git_commit_tree_id(base) : NULL,
	    subject, NULL, now_us);
done:
	git_commit_free(base);
	git_commit_free(theirs);
	git_reference_free(ref);
	return error;
}

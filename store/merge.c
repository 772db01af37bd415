/* SPDX-License-Identifier: ISC */
/*
 * Table-aware three-way merge (DESIGN.md section 3), per entry, never
 * losing a live entry:
 *	changed on one side only (added, modified, removed): that side's
 *	version; removed on one side and changed on the other: the changed
 *	one is kept (a refresh beats an expiry); changed on both: the table's
 *	resolve hook picks (ARP: newer `updated`; NAT: see codec.c), and a
 *	clash (two MACs for one IP, two external ports for one endpoint) puts
 *	the loser's blob under conflicts/<path> and a "Conflict:" line in the
 *	message. Tables with a unique hook (NAT: one external ip:port:proto
 *	maps to one inside endpoint) are then checked across the entries
 *	either side changed: the lowest rank (oldest mapping) stays, the others
 *	are removed and recorded under conflicts/.
 *
 * The walk compares subtree ids first: a subtree equal on two sides is not
 * opened, so the cost follows the number of changes, not the table size.
 * The result is a list of blob edits against ours (leaves only, so callers
 * can keep indexes in step), which store_tree_apply() turns into a tree.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "writer.h"

struct mctx {
	struct store	*st;
	struct store_edits *out;
	struct sbuf	*msg;
	int		conflicts;
	struct store_edits ours_changed;	/* leaves ours added or modified */
};

static bool
same(const struct tent *a, const struct tent *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return git_oid_equal(&a->id, &b->id) && a->mode == b->mode;
}

static bool
is_tree(const struct tent *e)
{
	return e != NULL && e->tree;
}

/* The subtree e names, loaded into *tv; NULL when e is not a tree. */
static int
subtree(struct tview **out, struct tview *tv, struct mctx *m, const struct tent *e)
{
	int error;

	*out = NULL;
	if (!is_tree(e))
		return 0;
	if ((error = store_tview_load(tv, m->st->odb, &e->id)) < 0)
		return error;
	*out = tv;
	return 0;
}

/*
 * Walking one tree's entries in order, find each name in another tree: a
 * cursor that only moves forward (both are in git order), so a level costs
 * O(entries); a miss (added or removed name, or a type change) falls back
 * to a search.
 */
struct cursor {
	const struct tview *t;
	size_t		i;
};

static const struct tent *
seek(struct cursor *c, const struct tent *like)
{
	const struct tview *t = c->t;

	if (t == NULL)
		return NULL;
	while (c->i < t->n && store_name_cmp(t->e[c->i].name, t->e[c->i].nlen, t->e[c->i].tree,
	    like->name, like->nlen, like->tree) < 0)
		c->i++;
	if (c->i < t->n && t->e[c->i].nlen == like->nlen &&
	    memcmp(t->e[c->i].name, like->name, like->nlen) == 0)
		return &t->e[c->i];
	return store_tview_find(t, like->name, like->nlen);
}

typedef int (*leaf_fn)(struct mctx *m, const char *path, const struct tent *a,
    const struct tent *b);

static int
join(char *buf, const char *prefix, const char *name)
{
	int n = snprintf(buf, STORE_PATH_MAX, "%s%s%s", prefix, *prefix ? "/" : "", name);

	if (n < 0 || n >= STORE_PATH_MAX)
		return store_err(STORE_EINVAL, "store: path '%s/%s' too long", prefix, name);
	return 0;
}

/*
 * Two-way diff of trees a and b (either may be NULL) under prefix: fn gets
 * every leaf that differs (a or b NULL where absent). Equal subtrees are
 * skipped.
 */
static int
diff2(struct mctx *m, const char *prefix, const struct tview *a, const struct tview *b,
    leaf_fn fn)
{
	char path[STORE_PATH_MAX];
	int error = 0;

	for (int pass = 0; pass < 2 && error == 0; pass++) {
		const struct tview *t = pass == 0 ? a : b, *other = pass == 0 ? b : a;
		struct cursor co = { other, 0 };
		size_t n = t ? t->n : 0;

		for (size_t i = 0; i < n && error == 0; i++) {
			const struct tent *e = &t->e[i];
			const struct tent *o = seek(&co, e);
			const struct tent *ea = pass == 0 ? e : o, *eb = pass == 0 ? o : e;
			struct tview tva, tvb, *sa = NULL, *sb = NULL;

			if (pass == 1 && o != NULL)
				continue;		/* seen in pass 0 */
			if (same(ea, eb))
				continue;
			if ((error = join(path, prefix, e->name)) < 0)
				break;
			if (is_tree(ea) || is_tree(eb)) {
				if ((error = subtree(&sa, &tva, m, ea)) == 0 &&
				    (error = subtree(&sb, &tvb, m, eb)) == 0)
					error = diff2(m, path, sa, sb, fn);
				if (sa)
					store_tview_free(sa);
				if (sb)
					store_tview_free(sb);
				/* A blob replaced by a tree or back: the blob side too. */
				if (error == 0 && ea && eb && is_tree(ea) != is_tree(eb))
					error = is_tree(ea) ? fn(m, path, NULL, eb) :
					    fn(m, path, ea, NULL);
			} else {
				error = fn(m, path, ea, eb);
			}
		}
	}
	return error;
}

/* Take theirs: every leaf where theirs differs from ours becomes an edit. */
static int
take_theirs(struct mctx *m, const char *path, const struct tent *ours,
    const struct tent *theirs)
{
	(void)ours;
	if (store_edits_add(m->out, path, theirs ? theirs->mode : 0,
	    theirs ? &theirs->id : NULL) == NULL)
		return -1;
	return 0;
}

static int
note_ours(struct mctx *m, const char *path, const struct tent *base,
    const struct tent *ours)
{
	(void)base;
	if (ours == NULL)
		return 0;
	return store_edits_add(&m->ours_changed, path, ours->mode, &ours->id) == NULL ?
	    -1 : 0;
}

static int
record_conflict(struct mctx *m, const char *path,
    const git_oid *loser_id, const struct store_entry *loser,
    const struct store_entry *winner)
{
	char cpath[STORE_PATH_MAX + 16], lose[STORE_FMT_MAX], win[STORE_FMT_MAX];

	snprintf(cpath, sizeof(cpath), "conflicts/%s", path);
	if (store_edits_add(m->out, cpath, GIT_FILEMODE_BLOB, loser_id) == NULL)
		return -1;
	if (m->msg != NULL) {
		store_fmt_summary(lose, sizeof(lose), loser);
		store_fmt_summary(win, sizeof(win), winner);
		store_sbuf_printf(m->msg, "Conflict: %s (kept %s)\n", lose, win);
	}
	m->conflicts++;
	return 0;
}

/*
 * The per-entry rule of both merges (the tree merge here and the git merge
 * driver): an entry both sides changed, ours and theirs decoded at path
 * (base NULL: added on both sides). 0 keeps ours, 1 theirs; *clash when
 * the loser must be recorded under conflicts/.
 */
static int
entry_pick(const struct store_table *tab, const struct store_entry *base,
    const struct store_entry *ours, const struct store_entry *theirs, bool *clash)
{
	*clash = false;
	return tab->resolve(base, ours, theirs, clash);
}

/* A leaf changed on both sides, both present. */
static int
both_changed(struct mctx *m, const char *path, const struct tent *b,
    const struct tent *o, const struct tent *t)
{
	const struct store_table *tab = store_table_by_path(path);
	struct store_entry eb, eo, et;
	bool clash = false;
	int error, win;

	if (tab == NULL)
		return 0;		/* meta/, conflicts/: ours stands */
	if ((error = store_read_entry(&eo, m->st->odb, &o->id, path)) < 0 ||
	    (error = store_read_entry(&et, m->st->odb, &t->id, path)) < 0)
		return error;
	if (b != NULL && (error = store_read_entry(&eb, m->st->odb, &b->id, path)) < 0)
		return error;
	win = entry_pick(tab, b ? &eb : NULL, &eo, &et, &clash);
	if (win == 1 && store_edits_add(m->out, path, GIT_FILEMODE_BLOB, &t->id) == NULL)
		return -1;
	if (clash)
		return record_conflict(m, path, win ? &o->id : &t->id,
		    win ? &eo : &et, win ? &et : &eo);
	return 0;
}

static int
merge_dir(struct mctx *m, const char *prefix, const struct tview *b,
    const struct tview *o, const struct tview *t)
{
	const struct tview *trees[3] = { o, t, b };
	char path[STORE_PATH_MAX];
	int error = 0;

	for (int pass = 0; pass < 3 && error == 0; pass++) {
		struct cursor co = { o, 0 }, ct = { t, 0 }, cb = { b, 0 };
		size_t n = trees[pass] ? trees[pass]->n : 0;

		for (size_t i = 0; i < n && error == 0; i++) {
			const struct tent *x = &trees[pass]->e[i];
			const struct tent *eo = seek(&co, x), *et = seek(&ct, x), *eb = seek(&cb, x);
			struct tview tvo, tvt, tvb, *so = NULL, *st = NULL, *sb = NULL;

			if ((pass >= 1 && eo) || (pass == 2 && et))
				continue;		/* handled in an earlier pass */
			if (same(eo, et) || same(et, eb))
				continue;		/* ours stands */
			if ((error = join(path, prefix, x->name)) < 0)
				break;
			if ((error = subtree(&so, &tvo, m, eo)) < 0 ||
			    (error = subtree(&st, &tvt, m, et)) < 0 ||
			    (error = subtree(&sb, &tvb, m, eb)) < 0)
				goto next;
			if (same(eo, eb)) {
				/* Changed on theirs only: their leaves, one by one. */
				if (so || st) {
					error = diff2(m, path, so, st, take_theirs);
					if (error == 0 && eo && et && !is_tree(eo) != !is_tree(et))
						error = take_theirs(m, path, NULL,
						    is_tree(et) ? NULL : et);
				} else {
					error = take_theirs(m, path, eo, et);
				}
				goto next;
			}
			/* Changed on both sides. */
			if (is_tree(eo) || is_tree(et)) {
				if ((eo == NULL || is_tree(eo)) && (et == NULL || is_tree(et)))
					error = merge_dir(m, path, sb, so, st);
				/* A tree against a blob: not our layout; ours stands. */
			} else if (eo == NULL) {
				error = take_theirs(m, path, eo, et);	/* refreshed there */
			} else if (et != NULL) {
				error = both_changed(m, path, eb, eo, et);
			}
			/* et == NULL: removed there, changed here: ours stands. */
next:
			if (so)
				store_tview_free(so);
			if (st)
				store_tview_free(st);
			if (sb)
				store_tview_free(sb);
		}
	}
	return error;
}

struct cand {
	const git_oid	*id;
	const char	*path;
	struct store_entry e;
	uint64_t	u, rank;
};

static int
cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->u != y->u)
		return x->u < y->u ? -1 : 1;
	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	return strcmp(x->path, y->path);
}

static int
edit_path_cmp(const void *a, const void *b)
{
	return strcmp(((const struct store_edit *)a)->path,
	    ((const struct store_edit *)b)->path);
}

static int
edit_seq_cmp(const void *a, const void *b)
{
	const struct store_edit *x = a, *y = b;
	int c = strcmp(x->path, y->path);

	if (c != 0)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static const struct tent *
top(const struct tview *t, const char *name)
{
	return t ? store_tview_find(t, name, strlen(name)) : NULL;
}

/*
 * The unique-key check over what either side changed. The merged value at
 * a path is the last edit for it, else ours.
 */
static int
check_unique(struct mctx *m, const struct store_table *tab, const struct tview *b,
    const struct tview *o)
{
	const struct tent *tb = top(b, tab->name), *to = top(o, tab->name);
	struct store_edits *oc = &m->ours_changed;
	struct store_edit *ed = NULL;
	struct tview tvb, tvo, *sb = NULL, *so = NULL;
	struct cand *c = NULL;
	size_t n = 0, nedit = 0;
	int error = 0;

	/* Only the edits of this table, sorted, the last per path kept. */
	for (size_t i = 0; i < m->out->n; i++)
		if (store_table_by_path(m->out->v[i].path) == tab)
			nedit++;
	if (nedit == 0)
		return 0;	/* theirs changed nothing here: no new clash */
	if ((ed = malloc(nedit * sizeof(*ed))) == NULL)
		return store_err(-1, "store: out of memory");
	nedit = 0;
	for (size_t i = 0; i < m->out->n; i++)
		if (store_table_by_path(m->out->v[i].path) == tab)
			ed[nedit++] = m->out->v[i];
	qsort(ed, nedit, sizeof(*ed), edit_seq_cmp);
	{
		size_t k = 0;

		for (size_t i = 0; i < nedit; i++) {
			if (k > 0 && strcmp(ed[k - 1].path, ed[i].path) == 0)
				k--;
			ed[k++] = ed[i];
		}
		nedit = k;
	}
	oc->n = 0;
	if ((error = subtree(&sb, &tvb, m, tb)) < 0 ||
	    (error = subtree(&so, &tvo, m, to)) < 0 ||
	    (error = diff2(m, tab->name, sb, so, note_ours)) < 0)
		goto done;
	if ((c = calloc(nedit + oc->n + 1, sizeof(*c))) == NULL) {
		error = store_err(-1, "store: out of memory");
		goto done;
	}
	for (size_t i = 0; i < nedit; i++) {
		if (ed[i].mode == 0)
			continue;
		c[n].id = &ed[i].id;
		c[n].path = ed[i].path;
		n++;
	}
	for (size_t i = 0; i < oc->n; i++) {
		if (bsearch(&oc->v[i], ed, nedit, sizeof(*ed), edit_path_cmp) != NULL)
			continue;	/* theirs' value (or removal) is the result */
		c[n].id = &oc->v[i].id;
		c[n].path = oc->v[i].path;
		n++;
	}
	for (size_t i = 0; i < n; i++) {
		if ((error = store_read_entry(&c[i].e, m->st->odb, c[i].id, c[i].path)) < 0)
			goto done;
		c[i].u = tab->unique(&c[i].e);
		c[i].rank = tab->rank(&c[i].e);
	}
	qsort(c, n, sizeof(*c), cand_cmp);
	for (size_t i = 1, w = 0; i < n; i++) {
		if (c[i].u != c[w].u) {
			w = i;		/* the group's first is the winner */
			continue;
		}
		if ((error = record_conflict(m, c[i].path, c[i].id, &c[i].e,
		    &c[w].e)) < 0)
			goto done;
		if (store_edits_add(m->out, c[i].path, 0, NULL) == NULL) {
			error = -1;
			goto done;
		}
	}
done:
	free(c);
	free(ed);
	if (sb)
		store_tview_free(sb);
	if (so)
		store_tview_free(so);
	return error;
}

int
store_merge_edits(struct store_edits *out, struct store *st, const git_oid *base,
    const git_oid *ours, const git_oid *theirs, struct sbuf *msg)
{
	struct mctx m = { .st = st, .out = out, .msg = msg };
	struct tview b = { 0 }, o = { 0 }, t = { 0 };
	int error;

	if ((base && (error = store_tview_load(&b, st->odb, base)) < 0) ||
	    (error = store_tview_load(&o, st->odb, ours)) < 0 ||
	    (error = store_tview_load(&t, st->odb, theirs)) < 0)
		goto done;
	if ((error = merge_dir(&m, "", base ? &b : NULL, &o, &t)) < 0)
		goto done;
	for (size_t i = 0; i < store_ntables && error == 0; i++)
		if (store_tables[i]->unique != NULL)
			error = check_unique(&m, store_tables[i], base ? &b : NULL, &o);
done:
	store_edits_free(&m.ours_changed);
	store_tview_free(&b);
	store_tview_free(&o);
	store_tview_free(&t);
	return error < 0 ? error : m.conflicts;
}

/* --- untrusted input --- */

static int
check_leaf(struct mctx *m, const char *path, const struct tent *base,
    const struct tent *theirs)
{
	git_odb_object *obj = NULL;
	git_object_t type;
	const void *data;
	size_t len;
	int error;

	(void)base;
	if (theirs == NULL)
		return 0;		/* a removal: meta/schema's is checked apart */
	if (theirs->mode != GIT_FILEMODE_BLOB)
		return store_check_file(path, theirs->mode, NULL, 0);
	if ((error = store_odb_get(m->st->odb, &theirs->id, &type, &data, &len, &obj)) < 0)
		return store_gerr(error, "store: %s", path);
	if (type != GIT_OBJECT_BLOB)
		error = store_err(STORE_EREFUSED, "store: %s: not a file", path);
	else
		error = store_check_file(path, theirs->mode, data, len);
	git_odb_object_free(obj);
	return error;
}

/*
 * Validate the other side of a merge. Only what differs from the merge
 * base is read: the merge takes theirs only where theirs differs from the
 * base (merge_dir: an entry equal to the base's leaves ours standing; a
 * conflicts/ record holds a blob one side changed), so the merged tree
 * holds no file of theirs that is not checked here, and the cost follows
 * the changes, not the tables. meta/schema is checked at theirs whatever
 * the base, so removing it is refused too.
 */
int
store_merge_check(struct store *st, const git_oid *base, const git_oid *theirs)
{
	struct mctx m = { .st = st };
	struct tview b = { 0 }, t = { 0 }, meta = { 0 };
	const struct tent *e;
	int error;

	if ((base && (error = store_tview_load(&b, st->odb, base)) < 0) ||
	    (error = store_tview_load(&t, st->odb, theirs)) < 0)
		goto done;
	if ((e = store_tview_find(&t, "meta", 4)) == NULL || !e->tree ||
	    (error = store_tview_load(&meta, st->odb, &e->id)) < 0 ||
	    store_tview_find(&meta, "schema", 6) == NULL) {
		error = error < 0 ? error : store_err(STORE_EREFUSED,
		    "store: meta/schema: missing on the other side");
		goto done;
	}
	error = diff2(&m, "", base ? &b : NULL, &t, check_leaf);
	if (error == STORE_EINVAL)	/* a path too long for any table */
		error = STORE_EREFUSED;
done:
	store_tview_free(&meta);
	store_tview_free(&b);
	store_tview_free(&t);
	return error;
}

/* Edits that turn tree a (NULL: empty) into tree b: every leaf that differs. */
int
store_diff_edits(struct store_edits *out, struct store *st, const git_oid *a,
    const git_oid *b)
{
	struct mctx m = { .st = st, .out = out };
	struct tview ta = { 0 }, tb = { 0 };
	int error;

	if ((a && (error = store_tview_load(&ta, st->odb, a)) < 0) ||
	    (error = store_tview_load(&tb, st->odb, b)) < 0)
		goto done;
	error = diff2(&m, "", a ? &ta : NULL, &tb, take_theirs);
done:
	store_tview_free(&ta);
	store_tview_free(&tb);
	return error;
}

static int
read_file(struct sbuf *b, const char *path)
{
	FILE *f = fopen(path, "rb");
	char buf[4096];
	size_t n;

	if (f == NULL)
		return store_err(STORE_EIO, "store: %s: %s", path, strerror(errno));
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		store_sbuf_add(b, buf, n);
	fclose(f);
	if (b->oom)
		return store_err(-1, "store: out of memory");
	if (b->p == NULL)
		store_sbuf_add(b, "", 0);
	return 0;
}

static bool
sbuf_eq(const struct sbuf *a, const struct sbuf *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

int
store_merge_driver(const char *o_path, const char *a_path, const char *b_path,
    const char *path)
{
	struct sbuf o = { 0 }, a = { 0 }, b = { 0 };
	const struct store_table *tab = store_table_by_path(path);
	struct store_entry eo, ea, eb;
	bool clash;
	int error;

	if ((error = read_file(&o, o_path)) < 0 || (error = read_file(&a, a_path)) < 0 ||
	    (error = read_file(&b, b_path)) < 0)
		goto done;
	/* Same rules as the tree merge: one-sided changes, then resolve. */
	if (sbuf_eq(&a, &b) || sbuf_eq(&b, &o) || tab == NULL)
		goto done;			/* ours stands */
	if (!sbuf_eq(&a, &o)) {
		bool have_base = o.len > 0;

		if ((error = store_entry_decode(&ea, path, a.p, a.len, NULL, 0)) < 0 ||
		    (error = store_entry_decode(&eb, path, b.p, b.len, NULL, 0)) < 0 ||
		    (have_base && (error = store_entry_decode(&eo, path, o.p, o.len,
		    NULL, 0)) < 0))
			goto done;
		if (entry_pick(tab, have_base ? &eo : NULL, &ea, &eb, &clash) == 0)
			goto done;
	}
	{
		FILE *f = fopen(a_path, "wb");
		bool ok = f != NULL && fwrite(b.p, 1, b.len, f) == b.len;

		if (f != NULL && fclose(f) != 0)
			ok = false;
		if (!ok)
			error = store_err(STORE_EIO, "store: %s: %s", a_path, strerror(errno));
	}
done:
	store_sbuf_free(&o);
	store_sbuf_free(&a);
	store_sbuf_free(&b);
	return error;
}

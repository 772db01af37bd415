/* SPDX-License-Identifier: ISC */
/*
 * The reader's queries: revisions, commits, history walks, refs, files at
 * a commit, the tables at a commit (decoded with the codecs), per-file
 * differences between two commits, and whether a commit changed a path.
 * Everything that reads a state repository -- the gitnet tool, restore, a
 * standby -- asks here; nothing here writes (no lock, no ref, no object).
 *
 * Trees are read through the store's tree views (store_tview_load: the
 * cache, the recorder's pending objects, then the object database), so a
 * writer's reader sees its commits before they are durable, and a table
 * walk parses each tree once. Commit and ref lookups go through libgit2,
 * whose object database holds the store's backends.
 *
 * For a writer's reader, primary (NULL, "primary", "refs/heads/primary")
 * means the writer's head in memory, which may run ahead of the ref on
 * disk.
 */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repo.h"

#define PRIMARY	"refs/heads/primary"
/*
 * A table walk gives back libgit2's delta-base caches (store_trim) after
 * this many blobs. Reading a compacted history's blobs resolves their
 * delta chains, and libgit2 keeps every base it decoded (up to 16 MB a
 * pack, no option bounds it): 100 k sessions left 18 MB there, above the
 * tables themselves, which a 64 MB guest has no room for. Every 4096 blobs
 * the walk peaks ~20 MB lower, at no measurable cost in time.
 */
#define WALK_TRIM_BLOBS	4096u

struct store_reader *
store_reader_of(struct store *st)
{
	return &st->rd;
}

static bool
is_primary(const char *name)
{
	return name == NULL || strcmp(name, "primary") == 0 || strcmp(name, PRIMARY) == 0;
}

int
store_resolve(struct store_oid *out, struct store_reader *r, const char *rev)
{
	struct store *st = r->st;
	git_object *o = NULL, *p = NULL;
	int error;

	if (is_primary(rev)) {
		*out = *store_soid(&st->head);
		return 0;
	}
	if ((error = git_revparse_single(&o, st->repo, rev)) < 0)
		return store_err(error == GIT_EAMBIGUOUS ? STORE_EINVAL : STORE_ENOTFOUND,
		    "unknown revision '%s'", rev);
	if (git_object_peel(&p, o, GIT_OBJECT_COMMIT) < 0) {
		git_object_free(o);
		return store_err(STORE_EINVAL, "'%s' does not name a commit", rev);
	}
	git_oid_cpy(store_goid_mut(out), git_object_id(p));
	git_object_free(p);
	git_object_free(o);
	return 0;
}

/* --- commits --- */

static int
sig_size(const git_signature *s)
{
	return (int)(strlen(s->name) + strlen(s->email) + 2);
}

static const char *
put_str(char **p, const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = *p;

	memcpy(d, s, n);
	*p += n;
	return d;
}

static void
put_sig(struct store_sig *out, char **p, const git_signature *s)
{
	out->name = put_str(p, s->name);
	out->email = put_str(p, s->email);
	out->time = (int64_t)s->when.time;
	out->tz = s->when.offset;
}

static int
commit_copy(struct store_commit **out, const git_commit *gc)
{
	const git_signature *a = git_commit_author(gc), *c = git_commit_committer(gc);
	const char *msg = git_commit_message_raw(gc), *nl;
	unsigned np = git_commit_parentcount(gc);
	size_t slen, size;
	struct store_commit *sc;
	char *p;

	nl = strchr(msg, '\n');
	slen = nl ? (size_t)(nl - msg) : strlen(msg);
	size = sizeof(*sc) + np * sizeof(struct store_oid) + (size_t)sig_size(a) +
	    (size_t)sig_size(c) + strlen(msg) + 1 + slen + 1;
	if ((sc = calloc(1, size)) == NULL)
		return store_err(-1, "store: out of memory");
	sc->parent = (struct store_oid *)(void *)(sc + 1);
	sc->nparent = np;
	for (unsigned i = 0; i < np; i++)
		git_oid_cpy(store_goid_mut(&sc->parent[i]), git_commit_parent_id(gc, i));
	git_oid_cpy(store_goid_mut(&sc->id), git_commit_id(gc));
	git_oid_cpy(store_goid_mut(&sc->tree), git_commit_tree_id(gc));
	p = (char *)(sc->parent + np);
	put_sig(&sc->author, &p, a);
	put_sig(&sc->committer, &p, c);
	sc->message = put_str(&p, msg);
	memcpy(p, msg, slen);
	p[slen] = '\0';
	sc->summary = p;
	*out = sc;
	return 0;
}

int
store_commit_read(struct store_commit **out, struct store_reader *r,
    const struct store_oid *id)
{
	git_commit *gc;
	int error;

	*out = NULL;
	if ((error = git_commit_lookup(&gc, r->st->repo, store_goid(id))) < 0) {
		char hex[STORE_OID_HEXSZ + 1];

		return store_err(error == GIT_ENOTFOUND ? STORE_ENOTFOUND : error,
		    "store: commit %s: %s", store_oid_fmt(hex, id),
		    git_error_last() ? git_error_last()->message : "not found");
	}
	error = commit_copy(out, gc);
	/* A shallow boundary: its parents are not here; to every reader, none. */
	if (error == 0 && store_is_boundary(r->st, store_goid(id)))
		(*out)->nparent = 0;
	git_commit_free(gc);
	return error;
}

void
store_commit_free(struct store_commit *c)
{
	free(c);
}

int
store_log(struct store_reader *r, const struct store_walk *w, store_commit_fn fn,
    void *ctx)
{
	git_revwalk *rw = NULL;
	unsigned sort = GIT_SORT_TOPOLOGICAL | GIT_SORT_TIME;
	git_oid id;
	int error;

	if ((error = git_revwalk_new(&rw, r->st->repo)) < 0)
		return store_gerr(error, "store: history walk");
	if (w->flags & STORE_WALK_REVERSE)
		sort |= GIT_SORT_REVERSE;
	if ((error = git_revwalk_sorting(rw, sort)) < 0)
		goto fail;
	if (w->flags & STORE_WALK_FIRST_PARENT)
		git_revwalk_simplify_first_parent(rw);
	if (r->st->nstubs > 0 && (error = git_revwalk_add_hide_cb(rw, store_shallow_hide,
	    r->st)) < 0)
		goto fail;
	for (size_t i = 0; i < w->nstart; i++)
		if ((error = git_revwalk_push(rw, store_goid(&w->start[i]))) < 0)
			goto fail;
	for (size_t i = 0; i < w->nhide; i++)
		if ((error = git_revwalk_hide(rw, store_goid(&w->hide[i]))) < 0)
			goto fail;
	while ((error = git_revwalk_next(&id, rw)) == 0) {
		struct store_commit *c;

		if ((error = store_commit_read(&c, r, store_soid(&id))) < 0)
			break;
		error = fn(ctx, c);
		store_commit_free(c);
		if (error != 0)
			break;
	}
	if (error == GIT_ITEROVER)
		error = 0;
	git_revwalk_free(rw);
	return error;
fail:
	git_revwalk_free(rw);
	return store_gerr(error, "store: history walk");
}

int
store_merge_base(struct store_oid *out, struct store_reader *r,
    const struct store_oid *a, const struct store_oid *b)
{
	int error = git_merge_base(store_goid_mut(out), r->st->repo, store_goid(a),
	    store_goid(b));

	if (error == GIT_ENOTFOUND)
		return store_err(STORE_ENOTFOUND, "store: no common ancestor");
	return error < 0 ? store_gerr(error, "store: merge base") : 0;
}

/* --- refs --- */

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The commit ref names; 1 when it names no commit (a tag of a tree, say). */
static int
ref_commit(git_oid *out, bool *peeled, struct store *st, const char *name)
{
	git_reference *ref = NULL, *res = NULL;
	git_object *o = NULL;
	int error;

	if (strcmp(name, PRIMARY) == 0) {
		git_oid_cpy(out, &st->head);
		*peeled = false;
		return 0;
	}
	if ((error = git_reference_lookup(&ref, st->repo, name)) < 0 ||
	    (error = git_reference_resolve(&res, ref)) < 0)
		goto done;
	if (git_reference_peel(&o, res, GIT_OBJECT_COMMIT) < 0) {
		error = 1;
		goto done;
	}
	git_oid_cpy(out, git_object_id(o));
	*peeled = !git_oid_equal(git_reference_target(res), out);
done:
	git_object_free(o);
	git_reference_free(res);
	git_reference_free(ref);
	if (error == GIT_ENOTFOUND)
		return store_err(STORE_ENOTFOUND, "store: no ref %s", name);
	return error < 0 ? store_gerr(error, "store: ref %s", name) : error;
}

bool
store_ref_name_valid(const char *name)
{
	int valid = 0;

	return git_reference_name_is_valid(&valid, name) == 0 && valid;
}

int
store_ref_read(struct store_oid *out, struct store_reader *r, const char *name)
{
	bool peeled;
	int error = ref_commit(store_goid_mut(out), &peeled, r->st, name);

	if (error == 1)
		return store_err(STORE_EINVAL, "store: %s does not name a commit", name);
	return error;
}

int
store_refs(struct store_reader *r, const char *glob, store_ref_fn fn, void *ctx)
{
	git_reference_iterator *it = NULL;
	const char *name;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int error;

	if ((error = git_reference_iterator_new(&it, r->st->repo)) < 0)
		return store_gerr(error, "store: refs");
	while ((error = git_reference_next_name(&name, it)) == 0) {
		if (glob != NULL && fnmatch(glob, name, 0) != 0)
			continue;
		if (n == cap) {
			char **v = realloc(names, (cap = cap ? 2 * cap : 16) * sizeof(*v));

			if (v == NULL) {
				error = store_err(-1, "store: out of memory");
				goto done;
			}
			names = v;
		}
		if ((names[n] = strdup(name)) == NULL) {
			error = store_err(-1, "store: out of memory");
			goto done;
		}
		n++;
	}
	if (error != GIT_ITEROVER) {
		error = store_gerr(error, "store: refs");
		goto done;
	}
	error = 0;
	if (n > 1)		/* qsort(NULL, 0) is undefined (UBSan) */
		qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n && error == 0; i++) {
		git_oid id;
		bool peeled;

		error = ref_commit(&id, &peeled, r->st, names[i]);
		if (error == 1 || error == STORE_ENOTFOUND)
			error = fn(ctx, names[i], NULL, false);	/* no commit behind it */
		else if (error == 0)
			error = fn(ctx, names[i], store_soid(&id), peeled);
	}
done:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	git_reference_iterator_free(it);
	return error;
}

/* --- trees and files --- */

/* The tree of commit id. */
static int
commit_tree(git_oid *out, struct store *st, const struct store_oid *id)
{
	git_commit *c;
	int error;

	if (id == NULL) {
		git_oid_cpy(out, &st->head_tree);
		return 0;
	}
	if ((error = git_commit_lookup(&c, st->repo, store_goid(id))) < 0) {
		char hex[STORE_OID_HEXSZ + 1];

		return store_gerr(error == GIT_ENOTFOUND ? STORE_ENOTFOUND : error,
		    "store: commit %s", store_oid_fmt(hex, id));
	}
	git_oid_cpy(out, git_commit_tree_id(c));
	git_commit_free(c);
	return 0;
}

/*
 * The entry at path (components separated by '/') under tree root: 0 with
 * *e filled, 1 when absent.
 */
static int
entry_at(struct tent *out, struct store *st, const git_oid *root, const char *path)
{
	struct tview tv;
	git_oid cur;
	const char *p = path;
	int error;

	git_oid_cpy(&cur, root);
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		const struct tent *te;

		if ((error = store_tview_load(&tv, st->odb, &cur)) < 0)
			return error;
		te = store_tview_find(&tv, p, n);
		if (te == NULL || (slash != NULL && !te->tree)) {
			store_tview_free(&tv);
			return 1;
		}
		if (slash == NULL) {
			*out = *te;
			out->name = NULL;	/* points into tv */
			store_tview_free(&tv);
			return 0;
		}
		git_oid_cpy(&cur, &te->id);
		store_tview_free(&tv);
		p = slash + 1;
	}
}

/* A blob's bytes, copied and NUL-terminated. */
static int
blob_copy(char **text, size_t *len, struct store *st, const git_oid *id, const char *path)
{
	git_odb_object *obj = NULL;
	git_object_t type;
	const void *data;
	size_t n;
	int error;

	if ((error = store_odb_get(st->odb, id, &type, &data, &n, &obj)) < 0)
		return store_gerr(error, "store: %s", path);
	if (type != GIT_OBJECT_BLOB) {
		git_odb_object_free(obj);
		return store_err(STORE_EPARSE, "store: %s: not a file", path);
	}
	if (text != NULL) {
		if ((*text = malloc(n + 1)) == NULL) {
			git_odb_object_free(obj);
			return store_err(-1, "store: out of memory");
		}
		memcpy(*text, data, n);
		(*text)[n] = '\0';
	}
	if (len != NULL)
		*len = n;
	git_odb_object_free(obj);
	return 0;
}

int
store_read_file(char **text, size_t *len, struct store_oid *blob,
    struct store_reader *r, const struct store_oid *commit, const char *path)
{
	struct store *st = r->st;
	struct tent te;
	git_oid root;
	int error;

	if (text != NULL)
		*text = NULL;
	if ((error = commit_tree(&root, st, commit)) < 0 ||
	    (error = entry_at(&te, st, &root, path)) != 0)
		return error;
	if (te.tree)
		return 1;
	if (blob != NULL)
		git_oid_cpy(store_goid_mut(blob), &te.id);
	if (text == NULL && len == NULL)
		return 0;
	return blob_copy(text, len, st, &te.id, path);
}

int
store_path_oid(struct store_oid *out, bool *dir, struct store_reader *r,
    const struct store_oid *tree, const char *path)
{
	struct tent te;
	int error;

	if ((error = entry_at(&te, r->st, store_goid(tree), path)) != 0)
		return error;
	*out = *store_soid(&te.id);
	if (dir != NULL)
		*dir = te.tree;
	return 0;
}

int
store_list(struct store_reader *r, const struct store_oid *commit, const char *dir,
    store_list_fn fn, void *ctx)
{
	struct store *st = r->st;
	struct tview tv;
	struct tent te;
	git_oid root;
	int error;

	if ((error = commit_tree(&root, st, commit)) < 0)
		return error;
	if (dir != NULL && dir[0] != '\0') {
		if ((error = entry_at(&te, st, &root, dir)) != 0)
			return error;
		if (!te.tree)
			return 1;
		git_oid_cpy(&root, &te.id);
	}
	if ((error = store_tview_load(&tv, st->odb, &root)) < 0)
		return error;
	for (size_t i = 0; i < tv.n && error == 0; i++)
		error = fn(ctx, tv.e[i].name, (unsigned)tv.e[i].mode);
	store_tview_free(&tv);
	return error;
}

/* The learned-on value as written, so `dev inside` survives without ifnames. */
static void
dev_of(char dev[32], const char *text, size_t len)
{
	const char *p = text, *end = text + len, *nl;

	dev[0] = '\0';
	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if ((size_t)(nl - p) > 11 && memcmp(p, "learned-on ", 11) == 0) {
			size_t n = (size_t)(nl - p) - 11;

			if (n > 31)
				n = 31;
			memcpy(dev, p + 11, n);
			dev[n] = '\0';
			return;
		}
	}
}

int
store_item_decode(struct store_item *it, const char *path, const char *text,
    size_t len)
{
	int error;

	it->path = path;
	it->text = text;
	it->len = len;
	it->dev[0] = '\0';
	if ((error = store_entry_decode(&it->e, path, text, len, NULL, 0)) < 0)
		return error;
	if (it->e.table == EV_TABLE_ARP)
		dev_of(it->dev, text, len);
	return 0;
}

/*
 * The table walk shared by store_load (restore) and store_items (tools):
 * trees through the tree views (the cache first; what it reads stays there
 * while there is room, since the commits after a restart edit these
 * trees), blobs straight from the object database, not through libgit2's
 * object layer (a parse and a cache entry per blob).
 */
struct twalk {
	struct store	*st;
	int		(*leaf)(struct twalk *w, const char *path, const char *data,
			    size_t len);
	store_entry_fn	efn;
	store_item_fn	ifn;
	store_bad_fn	bad;
	struct store_skipped *skip;	/* load: NULL, an undecodable entry stops */
	void		*ctx;
	unsigned	blobs;		/* read since the last trim */
	bool		index;		/* also build the store's expiry index */
};

/* Count an entry a lenient load passes over (its message is the last error). */
static int
skip_one(struct store_skipped *skip)
{
	if (skip->n++ == 0)
		snprintf(skip->first, sizeof(skip->first), "%s", store_strerror());
	return 0;
}

static int
walk_tree(struct twalk *w, const git_oid *id, char *path, size_t len)
{
	struct tview tv;
	int error;

	if ((error = store_tview_load(&tv, w->st->odb, id)) < 0) {
		char why[256];

		snprintf(why, sizeof(why), "%s", store_strerror());
		return store_err(error, "store: %s: %s", path, why);
	}
	for (size_t i = 0; i < tv.n && error == 0; i++) {
		const struct tent *te = &tv.e[i];
		git_odb_object *obj = NULL;
		git_object_t type;
		const void *data;
		size_t dlen;

		if (len + 1 + te->nlen >= STORE_PATH_MAX) {
			error = store_err(STORE_EPARSE, "store: %s/%s: path too long", path,
			    te->name);
			break;
		}
		path[len] = '/';
		memcpy(path + len + 1, te->name, te->nlen + 1);
		if (te->tree) {
			error = walk_tree(w, &te->id, path, len + 1 + te->nlen);
		} else if ((error = store_odb_get(w->st->odb, &te->id, &type, &data, &dlen,
		    &obj)) < 0) {
			error = store_gerr(error, "store: %s: blob", path);
		} else {
			if (type != GIT_OBJECT_BLOB || te->mode != GIT_FILEMODE_BLOB)
				error = store_err(STORE_EPARSE, "store: %s: not a regular file",
				    path);
			else
				error = w->leaf(w, path, data, dlen);
			if (error == STORE_EPARSE && w->skip != NULL)
				error = skip_one(w->skip);
			git_odb_object_free(obj);
			if (error == 0 && ++w->blobs == WALK_TRIM_BLOBS) {
				w->blobs = 0;
				if (store_trim(w->st) < 0)
					error = -1;	/* the store is unusable */
			}
		}
		path[len] = '\0';
	}
	store_tview_free(&tv);
	return error;
}

static int
walk_tables(struct twalk *w, const struct store_oid *commit, unsigned tables)
{
	struct tview root = { 0 };
	char path[STORE_PATH_MAX];
	git_oid tree;
	int error;

	if ((error = commit_tree(&tree, w->st, commit)) < 0 ||
	    (error = store_tview_load(&root, w->st->odb, &tree)) < 0)
		return error;
	for (size_t i = 0; i < store_ntables && error == 0; i++) {
		const char *name = store_tables[i]->name;
		const struct tent *te;

		if (!(tables & (1u << (store_tables[i]->id - EV_TABLE_ARP))))
			continue;
		te = store_tview_find(&root, name, strlen(name));
		if (te == NULL)
			continue;	/* an empty table has no tree */
		if (!te->tree) {
			error = store_err(STORE_EPARSE, "store: %s is not a directory", name);
			break;
		}
		snprintf(path, sizeof(path), "%s", name);
		error = walk_tree(w, &te->id, path, strlen(path));
	}
	store_tview_free(&root);
	return error;
}

static int
load_leaf(struct twalk *w, const char *path, const char *data, size_t len)
{
	struct store_entry e;
	int error;

	if ((error = store_entry_decode(&e, path, data, len, w->st->o.ifnames,
	    w->st->o.n_ifnames)) < 0)
		return w->skip != NULL ? skip_one(w->skip) : error;
	if (w->index && store_xidx_entry(w->st, &e, false) < 0)
		return store_err(-1, "store: expiry index: out of memory");
	return w->efn(w->ctx, &e);
}

int
store_load(struct store_reader *r, const struct store_oid *id, store_entry_fn fn,
    void *ctx)
{
	return store_load_skipping(r, id, fn, ctx, NULL);
}

int
store_load_skipping(struct store_reader *r, const struct store_oid *id,
    store_entry_fn fn, void *ctx, struct store_skipped *skip)
{
	struct twalk w = { .st = r->st, .leaf = load_leaf, .efn = fn, .skip = skip,
	    .ctx = ctx };
	int error;

	/* The writer's primary, whose expiry index waits for this walk (heads.h). */
	w.index = r == &r->st->rd && id == NULL && r->st->xi_pending;
	if ((error = walk_tables(&w, id, STORE_TABLE_BOTH)) == 0 && w.index)
		r->st->xi_pending = false;
	return error;
}

static int
item_leaf(struct twalk *w, const char *path, const char *data, size_t len)
{
	struct store_item it;

	if (store_item_decode(&it, path, data, len) < 0) {
		if (w->bad == NULL)
			return STORE_EPARSE;
		return w->bad(w->ctx, path, store_strerror());
	}
	return w->ifn(w->ctx, &it);
}

int
store_items(struct store_reader *r, const struct store_oid *commit, unsigned tables,
    store_item_fn fn, store_bad_fn bad, void *ctx)
{
	struct twalk w = { .st = r->st, .leaf = item_leaf, .ifn = fn, .bad = bad,
	    .ctx = ctx };

	return walk_tables(&w, commit, tables);
}

/* --- differences --- */

struct dwalk {
	struct store	*st;
	store_diff_fn	fn;
	void		*ctx;
};

/* Every file under the tree entry e (or e itself), all on one side. */
static int
diff_side(struct dwalk *d, char *path, size_t len, const struct tent *e, bool old);

static int
diff_leaf(struct dwalk *d, const char *path, const git_oid *a, const git_oid *b)
{
	char *ta = NULL, *tb = NULL;
	size_t la = 0, lb = 0;
	int error = 0;

	if ((a && (error = blob_copy(&ta, &la, d->st, a, path)) < 0) ||
	    (b && (error = blob_copy(&tb, &lb, d->st, b, path)) < 0))
		goto done;
	error = d->fn(d->ctx, path, ta, la, tb, lb);
done:
	free(ta);
	free(tb);
	return error;
}

static int
diff_trees(struct dwalk *d, char *path, size_t len, const git_oid *a, const git_oid *b)
{
	struct tview ta = { 0 }, tb = { 0 };
	size_t i = 0, j = 0;
	int error;

	if (a && (error = store_tview_load(&ta, d->st->odb, a)) < 0)
		return error;
	if (b && (error = store_tview_load(&tb, d->st->odb, b)) < 0) {
		store_tview_free(&ta);
		return error;
	}
	error = 0;
	while (error == 0 && (i < ta.n || j < tb.n)) {
		const struct tent *ea = i < ta.n ? &ta.e[i] : NULL;
		const struct tent *eb = j < tb.n ? &tb.e[j] : NULL;
		int c;

		if (ea == NULL)
			c = 1;
		else if (eb == NULL)
			c = -1;
		else
			c = store_name_cmp(ea->name, ea->nlen, ea->tree, eb->name, eb->nlen,
			    eb->tree);
		if (c < 0) {
			error = diff_side(d, path, len, ea, true);
			i++;
		} else if (c > 0) {
			error = diff_side(d, path, len, eb, false);
			j++;
		} else {
			i++;
			j++;
			if (git_oid_equal(&ea->id, &eb->id) && ea->mode == eb->mode)
				continue;	/* the same subtree or file */
			if (len + 1 + ea->nlen >= STORE_PATH_MAX) {
				error = store_err(STORE_EPARSE, "store: %s/%s: path too long",
				    path, ea->name);
				break;
			}
			if (len > 0)
				path[len] = '/';
			memcpy(path + len + (len > 0), ea->name, ea->nlen + 1);
			if (ea->tree)
				error = diff_trees(d, path, len + (len > 0) + ea->nlen,
				    &ea->id, &eb->id);
			else
				error = diff_leaf(d, path, &ea->id, &eb->id);
			path[len] = '\0';
		}
	}
	store_tview_free(&ta);
	store_tview_free(&tb);
	return error;
}

static int
diff_side(struct dwalk *d, char *path, size_t len, const struct tent *e, bool old)
{
	int error;

	if (len + 1 + e->nlen >= STORE_PATH_MAX)
		return store_err(STORE_EPARSE, "store: %s/%s: path too long", path, e->name);
	if (len > 0)
		path[len] = '/';
	memcpy(path + len + (len > 0), e->name, e->nlen + 1);
	if (e->tree)
		error = diff_trees(d, path, len + (len > 0) + e->nlen, old ? &e->id : NULL,
		    old ? NULL : &e->id);
	else
		error = diff_leaf(d, path, old ? &e->id : NULL, old ? NULL : &e->id);
	path[len] = '\0';
	return error;
}

int
store_diff(struct store_reader *r, const struct store_oid *a, const struct store_oid *b,
    const char *prefix, store_diff_fn fn, void *ctx)
{
	struct store *st = r->st;
	struct dwalk d = { st, fn, ctx };
	char path[STORE_PATH_MAX];
	git_oid ta, tb;
	struct tent ea, eb;
	int ha = 1, hb = 1, error;

	if ((a && (error = commit_tree(&ta, st, a)) < 0) ||
	    (b && (error = commit_tree(&tb, st, b)) < 0))
		return error;
	path[0] = '\0';
	if (prefix == NULL || prefix[0] == '\0')
		return diff_trees(&d, path, 0, a ? &ta : NULL, b ? &tb : NULL);
	if (strlen(prefix) >= STORE_PATH_MAX)
		return store_err(STORE_EINVAL, "store: path '%s' too long", prefix);
	if ((a && (ha = entry_at(&ea, st, &ta, prefix)) < 0) ||
	    (b && (hb = entry_at(&eb, st, &tb, prefix)) < 0))
		return a && ha < 0 ? ha : hb;
	if (ha == 0 && hb == 0 && git_oid_equal(&ea.id, &eb.id) && ea.mode == eb.mode)
		return 0;
	snprintf(path, sizeof(path), "%s", prefix);
	if ((ha == 0 && ea.tree) || (hb == 0 && eb.tree)) {
		/* A directory on either side (a file on the other is left out). */
		return diff_trees(&d, path, strlen(path),
		    ha == 0 && ea.tree ? &ea.id : NULL, hb == 0 && eb.tree ? &eb.id : NULL);
	}
	if (ha != 0 && hb != 0)
		return 0;
	return diff_leaf(&d, path, ha == 0 ? &ea.id : NULL, hb == 0 ? &eb.id : NULL);
}

/* --- whether a commit changed a path --- */

/*
 * A history walk asks for each commit's path id twice (as a commit, then
 * as its child's parent): a few recent answers, by tree id, halve the tree
 * reads. Kept per store: readers are used by one thread.
 */
static int
path_id(git_oid *out, struct store *st, const git_oid *tree, const char *path)
{
	struct store_pcache *pc;
	struct tent te;
	unsigned i;
	int rc;

	if (st->pcache == NULL)		/* none (out of memory): no cache */
		st->pcache = calloc(STORE_PCACHE, sizeof(*st->pcache));
	pc = st->pcache;
	for (i = 0; pc != NULL && i < STORE_PCACHE; i++)
		if (pc[i].used && git_oid_equal(&pc[i].tree, tree) &&
		    strcmp(pc[i].path, path) == 0) {
			git_oid_cpy(out, &pc[i].id);
			return pc[i].rc;
		}
	if ((rc = entry_at(&te, st, tree, path)) < 0)
		return rc;
	if (rc == 0)
		git_oid_cpy(out, &te.id);
	if (pc != NULL && strlen(path) < sizeof(pc[0].path)) {
		i = st->pcache_next++ % STORE_PCACHE;
		git_oid_cpy(&pc[i].tree, tree);
		git_oid_cpy(&pc[i].id, rc == 0 ? out : tree);
		snprintf(pc[i].path, sizeof(pc[i].path), "%s", path);
		pc[i].rc = rc;
		pc[i].used = true;
	}
	return rc;
}

/* Whether path is the same in trees a and b (both absent counts). */
static bool
same_at(struct store *st, const git_oid *a, const git_oid *b, const char *path)
{
	git_oid x, y;
	int ha, hb;

	if (git_oid_equal(a, b))
		return true;
	if (path == NULL)
		return false;
	ha = path_id(&x, st, a, path);
	hb = path_id(&y, st, b, path);
	if (ha < 0 || hb < 0)
		return false;
	if (ha != hb)
		return false;
	return ha == 1 || git_oid_equal(&x, &y);
}

bool
store_touches(struct store_reader *r, const struct store_commit *c, const char *path)
{
	struct store *st = r->st;
	bool touched = true;

	if (c->nparent == 0) {
		git_oid id;

		return path == NULL || path_id(&id, st, store_goid(&c->tree), path) == 0;
	}
	for (unsigned i = 0; i < c->nparent && touched; i++) {
		git_oid pt;

		if (commit_tree(&pt, st, &c->parent[i]) < 0)
			continue;
		if (same_at(st, store_goid(&c->tree), &pt, path))
			touched = false;
	}
	return touched;
}

/* --- time --- */

int
store_at_time(struct store_oid *out, struct store_reader *r, uint64_t t_us)
{
	struct store_fp *v;
	size_t n;
	int64_t t = (int64_t)(t_us / 1000000);
	int error;

	/* The line down to the first commit at or before t (store/graph.c). */
	if ((error = store_first_parents(&v, &n, r, NULL, t + 1)) < 0)
		return error;
	if (n == 0 || v[n - 1].time > t)
		error = store_err(STORE_ENOTFOUND, "store: no commit on primary at or before %llu.%06llu",
		    (unsigned long long)(t_us / 1000000), (unsigned long long)(t_us % 1000000));
	else
		*out = v[n - 1].id;
	free(v);
	return error;
}

/* SPDX-License-Identifier: ISC */
/*
 * The tree editor: apply a list of blob edits to a tree by rewriting only
 * the trees on the edited paths. Each rewritten tree is serialized here
 * from its previous version's entries merged (in git's order: names
 * compared as if trees ended in '/') with the edited names, and hashed and
 * recorded by store_odb_put(); libgit2's treebuilder copies every entry
 * into a hash map and formats each mode with printf, which is most of a
 * commit's cost at 256 entries a tree. The cost of a commit is the sum of
 * the sizes of the few trees it touches, never the size of a table. Trees
 * left empty are removed from their parent (git has no empty directories).
 */
#include <stdlib.h>
#include <string.h>

#include "trees.h"

struct store_edit *
store_edits_add(struct store_edits *es, const char *path, git_filemode_t mode,
    const git_oid *id)
{
	struct store_edit *e;
	size_t l = strlen(path);

	if (l >= STORE_PATH_MAX || l == 0) {
		store_err(STORE_EINVAL, "store: path '%s' too long", path);
		return NULL;
	}
	if (es->n == es->cap) {
		size_t cap = es->cap ? es->cap * 2 : 64;
		struct store_edit *v = realloc(es->v, cap * sizeof(*v));

		if (v == NULL) {
			store_err(-1, "store: out of memory");
			return NULL;
		}
		es->v = v;
		es->cap = cap;
	}
	e = &es->v[es->n];
	memcpy(e->path, path, l + 1);
	e->seq = (unsigned)es->n++;
	e->mode = mode;
	if (id != NULL)
		git_oid_cpy(&e->id, id);
	else
		memset(&e->id, 0, sizeof(e->id));
	return e;
}

void
store_edits_free(struct store_edits *es)
{
	free(es->v);
	memset(es, 0, sizeof(*es));
}

static int
edit_pcmp(const void *a, const void *b)
{
	const struct store_edit *x = *(struct store_edit *const *)a;
	const struct store_edit *y = *(struct store_edit *const *)b;
	int c = strcmp(x->path, y->path);

	if (c != 0)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Length of the path component of e starting at off. */
static size_t
comp_len(const struct store_edit *e, size_t off)
{
	const char *s = e->path + off, *slash = strchr(s, '/');

	return slash ? (size_t)(slash - s) : strlen(s);
}

/*
 * A parsed tree, read without libgit2's object layer: a tree pending in the
 * recorder or kept in the tree cache is used in place (no copy, no second
 * hash); others come through git_odb_read and join the cache while it has
 * room.
 */
void
store_tview_free(struct tview *tv)
{
	git_odb_object_free(tv->obj);
	free(tv->e);
	memset(tv, 0, sizeof(*tv));
}

int
store_tview_load(struct tview *tv, struct store_odb *odb, const git_oid *id)
{
	const char *p, *end;
	const void *data;
	git_object_t type;
	size_t len;
	char hex[GIT_OID_HEXSZ + 1];
	int error;

	memset(tv, 0, sizeof(*tv));
	if ((error = store_odb_get(odb, id, &type, &data, &len, &tv->obj)) < 0)
		return store_gerr(error, "store: tree %s", git_oid_tostr(hex, sizeof(hex), id));
	if (type != GIT_OBJECT_TREE) {
		store_tview_free(tv);
		return store_err(STORE_EPARSE, "store: %s is not a tree",
		    git_oid_tostr(hex, sizeof(hex), id));
	}
	tv->data = data;
	tv->len = len;
	git_oid_cpy(&tv->id, id);
	if ((tv->e = malloc((len / 24 + 1) * sizeof(*tv->e))) == NULL) {
		store_tview_free(tv);
		return store_err(-1, "store: out of memory");
	}
	for (p = data, end = p + len; p < end; tv->n++) {
		struct tent *e = &tv->e[tv->n];
		unsigned mode = 0;
		const char *nul, *start = p;

		for (; p < end && *p >= '0' && *p <= '7'; p++)
			mode = mode << 3 | (unsigned)(*p - '0');
		if (p >= end || *p++ != ' ' || (nul = memchr(p, '\0', (size_t)(end - p))) == NULL ||
		    end - (nul + 1) < GIT_OID_RAWSZ || tv->n >= len / 24 + 1) {
			store_tview_free(tv);
			return store_err(STORE_EPARSE, "store: tree %s: bad entry",
			    git_oid_tostr(hex, sizeof(hex), id));
		}
		e->off = (uint32_t)(start - (const char *)data);
		e->name = p;
		e->nlen = (size_t)(nul - p);
		e->mode = (git_filemode_t)mode;
		e->tree = mode == GIT_FILEMODE_TREE;
		memcpy(e->id.id, nul + 1, GIT_OID_RAWSZ);
		p = nul + 1 + GIT_OID_RAWSZ;
	}
	return 0;
}

const struct tent *
store_tview_find(const struct tview *tv, const char *name, size_t nlen)
{
	for (int as_tree = 1; as_tree >= 0; as_tree--) {
		size_t lo = 0, hi = tv->n;

		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			const struct tent *e = &tv->e[mid];
			int c = store_name_cmp(e->name, e->nlen, e->tree, name, nlen, as_tree);

			if (c == 0 && e->nlen == nlen)
				return e;
			if (c < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
	}
	return NULL;
}

/* A name at one level and what the edits make of it (mode 0: removed). */
struct group {
	const char	*name;		/* into an edit's path; not terminated */
	size_t		nlen;
	git_filemode_t	mode;
	bool		tree;		/* sorts as a tree (a removal: as what it removes) */
	git_oid		id;
};

static void
put_entry(struct sbuf *b, git_filemode_t mode, const char *name, size_t nlen,
    const git_oid *id)
{
	switch (mode) {
	case GIT_FILEMODE_BLOB:			store_sbuf_add(b, "100644 ", 7); break;
	case GIT_FILEMODE_TREE:			store_sbuf_add(b, "40000 ", 6); break;
	case GIT_FILEMODE_BLOB_EXECUTABLE:	store_sbuf_add(b, "100755 ", 7); break;
	case GIT_FILEMODE_LINK:			store_sbuf_add(b, "120000 ", 7); break;
	default:				store_sbuf_printf(b, "%o ", (unsigned)mode); break;
	}
	store_sbuf_add(b, name, nlen);
	store_sbuf_add(b, "", 1);
	store_sbuf_add(b, (const char *)id->id, GIT_OID_RAWSZ);
}

static int
group_cmp(const void *a, const void *b)
{
	const struct group *x = a, *y = b;

	return store_name_cmp(x->name, x->nlen, x->tree, y->name, y->nlen, y->tree);
}

/*
 * A tree being written: its bytes, and (when the odb can store it as a
 * delta) the runs saying which bytes are its base's. Unchanged entries of
 * the base are copied a run at a time.
 */
struct tbuild {
	struct sbuf	b;
	struct store_drun *r;
	size_t		nr, cap;
	const char	*base;			/* the base tree's bytes */
	uint32_t	run_off, run_len;	/* base bytes not yet copied */
	bool		delta, oom;
};

static void
tb_run(struct tbuild *tb, uint32_t off, uint32_t len, bool copy)
{
	struct store_drun *last = tb->nr ? &tb->r[tb->nr - 1] : NULL;

	if (!tb->delta)
		return;
	if (last != NULL && last->copy == copy && last->off + last->len == off) {
		last->len += len;
		return;
	}
	if (tb->nr == tb->cap) {
		size_t cap = tb->cap ? tb->cap * 2 : 16;
		struct store_drun *r = realloc(tb->r, cap * sizeof(*r));

		if (r == NULL) {
			tb->oom = true;
			return;
		}
		tb->r = r;
		tb->cap = cap;
	}
	tb->r[tb->nr++] = (struct store_drun){ off, len, copy };
}

static void
tb_flush(struct tbuild *tb)
{
	if (tb->run_len == 0)
		return;
	store_sbuf_add(&tb->b, tb->base + tb->run_off, tb->run_len);
	tb_run(tb, tb->run_off, tb->run_len, true);
	tb->run_len = 0;
}

/* Entry i of base, unchanged. */
static void
tb_base(struct tbuild *tb, const struct tview *base, size_t i)
{
	uint32_t off = base->e[i].off;
	uint32_t end = i + 1 < base->n ? base->e[i + 1].off : (uint32_t)base->len;

	if (tb->run_len > 0 && tb->run_off + tb->run_len == off) {
		tb->run_len += end - off;
		return;
	}
	tb_flush(tb);
	tb->run_off = off;
	tb->run_len = end - off;
}

/* A new or changed entry. */
static void
tb_new(struct tbuild *tb, git_filemode_t mode, const char *name, size_t nlen,
    const git_oid *id)
{
	size_t start;

	tb_flush(tb);
	start = tb->b.len;
	put_entry(&tb->b, mode, name, nlen, id);
	tb_run(tb, (uint32_t)start, (uint32_t)(tb->b.len - start), false);
}

/*
 * Apply edits v[0..n) (sorted, unique, all below the tree at depth off) to
 * base (NULL: none), writing the new tree ourselves: base's entries merged
 * in git order with the edited names. *empty is set when nothing remains
 * (then nothing is written).
 */
static int
apply_level(git_oid *out, bool *empty, struct store_odb *odb, const struct tview *base,
    const struct store_edit *v, size_t n, size_t off)
{
	struct group *g;
	struct tbuild tb = { 0 };
	size_t ng = 0, nb = base ? base->n : 0, i, k, count = 0;
	int error = 0;

	if ((g = calloc(n, sizeof(*g))) == NULL)
		return store_err(-1, "store: out of memory");
	for (i = 0; i < n; ) {
		size_t cl = comp_len(&v[i], off), j;
		struct group *gr = &g[ng++];

		gr->name = v[i].path + off;
		gr->nlen = cl;
		for (j = i + 1; j < n && comp_len(&v[j], off) == cl &&
		    memcmp(v[j].path + off, gr->name, cl) == 0 && v[j].path[off + cl] != '\0'; j++)
			;
		if (v[i].path[off + cl] == '\0') {		/* a leaf here */
			gr->mode = v[i].mode;
			git_oid_cpy(&gr->id, &v[i].id);
			i++;
			continue;
		}
		{
			const struct tent *te = base ? store_tview_find(base, gr->name, cl) : NULL;
			struct tview sub = { 0 };
			bool sub_empty;

			if (te != NULL && te->tree &&
			    (error = store_tview_load(&sub, odb, &te->id)) < 0)
				goto done;
			error = apply_level(&gr->id, &sub_empty, odb, te && te->tree ? &sub : NULL,
			    v + i, j - i, off + cl + 1);
			store_tview_free(&sub);
			if (error < 0)
				goto done;
			gr->mode = sub_empty ? 0 : GIT_FILEMODE_TREE;
		}
		i = j;
	}
	/* A removal takes the type of what it removes, to sort beside it. */
	for (k = 0; k < ng; k++) {
		const struct tent *te;

		g[k].tree = g[k].mode == GIT_FILEMODE_TREE;
		if (g[k].mode != 0 || base == NULL)
			continue;
		te = store_tview_find(base, g[k].name, g[k].nlen);
		g[k].tree = te != NULL && te->tree;
	}
	qsort(g, ng, sizeof(*g), group_cmp);
	tb.base = base ? base->data : NULL;
	/* The base's size plus the edited names: one allocation, mostly. */
	store_sbuf_reserve(&tb.b, (base ? base->len : 0) + ng * 40);
	tb.delta = base != NULL && store_odb_delta_ok(odb, &base->id);
	for (i = 0, k = 0; i < nb || k < ng; ) {
		const struct tent *te = i < nb ? &base->e[i] : NULL;

		if (te != NULL && k < ng && te->nlen == g[k].nlen &&
		    memcmp(te->name, g[k].name, te->nlen) == 0) {
			if (g[k].mode != 0) {		/* replaced */
				tb_new(&tb, g[k].mode, g[k].name, g[k].nlen, &g[k].id);
				count++;
			}
			i++;
			k++;
		} else if (k >= ng || (te != NULL && store_name_cmp(te->name, te->nlen, te->tree,
		    g[k].name, g[k].nlen, g[k].tree) < 0)) {
			tb_base(&tb, base, i);
			count++;
			i++;
		} else {
			if (g[k].mode != 0) {		/* new */
				tb_new(&tb, g[k].mode, g[k].name, g[k].nlen, &g[k].id);
				count++;
			}
			k++;
		}
	}
	tb_flush(&tb);
	if (tb.b.oom || tb.oom) {
		error = store_err(-1, "store: out of memory");
		goto done;
	}
	*empty = count == 0;
	if (!*empty) {
		error = store_odb_put_owned(out, odb, GIT_OBJECT_TREE, tb.b.p, tb.b.len,
		    tb.delta ? &base->id : NULL, tb.delta ? tb.r : NULL, tb.nr);
		tb.b.p = NULL;		/* the odb's now */
	}
done:
	store_sbuf_free(&tb.b);
	free(tb.r);
	free(g);
	return error;
}

int
store_tree_apply(git_oid *out, struct store_odb *odb, const git_oid *base,
    struct store_edits *es)
{
	struct tview root = { 0 };
	size_t n = 0;
	bool empty;
	int error;

	if (es->n == 0 && base != NULL) {
		git_oid_cpy(out, base);
		return 0;
	}
	/* Sort pointers (an edit is ~100 bytes); the last edit of a path wins. */
	if (es->n > 0) {
		struct store_edit **pv = malloc(es->n * sizeof(*pv));
		struct store_edit *nv = malloc(es->n * sizeof(*nv));

		if (pv == NULL || nv == NULL) {
			free(pv);
			free(nv);
			return store_err(-1, "store: out of memory");
		}
		for (size_t i = 0; i < es->n; i++)
			pv[i] = &es->v[i];
		qsort(pv, es->n, sizeof(*pv), edit_pcmp);
		for (size_t i = 0; i < es->n; i++)
			if (i + 1 == es->n || strcmp(pv[i]->path, pv[i + 1]->path) != 0)
				nv[n++] = *pv[i];
		free(pv);
		free(es->v);
		es->v = nv;
		es->cap = es->n;
		es->n = n;
	}
	if (base != NULL && (error = store_tview_load(&root, odb, base)) < 0)
		return error;
	error = n == 0 ? 0 : apply_level(out, &empty, odb, base ? &root : NULL, es->v,
	    es->n, 0);
	store_tview_free(&root);
	if (error == 0 && (n == 0 || empty))	/* the root stays, even empty */
		error = store_odb_put(out, odb, GIT_OBJECT_TREE, "", 0);
	return error;
}

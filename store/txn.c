/* SPDX-License-Identifier: ISC */
/*
 * Write transactions on any ref, and the one durable path under them and
 * under store_flush(): new objects stay in the recorder (memory) until
 * the commit writes them as one pack (temporary names, fsync, rename,
 * fsync of the directory: store_odb_flush), and only then do refs move,
 * each by compare-and-swap against the id the caller read
 * (store_ref_update). A move of primary also moves the writer's head: its
 * tree, the expiry index and a pending tick's notes follow the leaves
 * that changed, as store_merge_into_head() keeps them.
 *
 * A transaction begins with nothing pending (the writer's own commits are
 * flushed first, the journal must be empty), so the recorder holds only
 * the transaction's objects: a rollback drops them with the recorder, and
 * a crash before the commit leaves nothing on disk. Ref updates are
 * checked against their old ids all before the first is applied, so a
 * moved ref fails the commit with nothing changed (a writer racing in
 * between the check and the update can still win one; each update is
 * atomic on its own).
 *
 * Also here: store_merge_into() (the store's merge into any ref, as one
 * transaction) and the small ref and tag reads gc needs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "writer.h"

#define PRIMARY	"refs/heads/primary"

struct store_txn {
	struct store	*st;
	git_oid		tree;			/* the working tree's base */
	bool		have_tree;		/* false: empty */
	struct store_edits es;			/* edits on top of it */
	struct store_refup *refs;
	size_t		nrefs;
};

/* --- the ref path --- */

/* Primary moved on disk to id: bring the writer's head along (st->head_moved). */
int
store_head_moved(struct store *st, const git_oid *id)
{
	struct store_edits es = { 0 };
	git_commit *c = NULL;
	git_oid tree, prev;
	int error;

	git_oid_cpy(&st->durable, id);
	st->have_durable = true;
	if (git_oid_equal(&st->head, id))
		return 0;		/* a flush: head was there already */
	if ((error = git_commit_lookup(&c, st->repo, id)) < 0)
		return store_gerr(error, "store: primary's new head");
	git_oid_cpy(&tree, git_commit_tree_id(c));
	git_commit_free(c);
	if ((error = store_diff_edits(&es, st, &st->head_tree, &tree)) < 0)
		goto done;
	git_oid_cpy(&prev, &st->head);
	git_oid_cpy(&st->head, id);
	git_oid_cpy(&st->head_tree, &tree);
	/* As store_merge_into_head(): a failed note leaves tick_head behind. */
	if ((error = store_xidx_apply_edits(st, &es)) == 0)
		store_tick_moved(st, &prev);
done:
	store_edits_free(&es);
	return error;
}

/* Whether u can apply now: the ref holds old (or is absent, as asked). */
static int
ref_check(struct store *st, const struct store_refup *u)
{
	git_oid cur;
	int error;

	if (u->force)
		return 0;
	error = git_reference_name_to_id(&cur, st->repo, u->name);
	if (error < 0 && error != GIT_ENOTFOUND)
		return store_gerr(error, "store: reading %s", u->name);
	if (!u->has_old && error == 0)
		return store_err(STORE_EEXISTS, "store: %s exists already", u->name);
	if (u->has_old && (error == GIT_ENOTFOUND || !git_oid_equal(&cur, &u->old)))
		return store_err(STORE_EMODIFIED, "store: %s moved meanwhile", u->name);
	return 0;
}

/* --- transactions --- */

int
store_txn_begin(struct store_txn **out, struct store *st)
{
	struct store_txn *t;
	int error;

	*out = NULL;
	if (st->readonly)
		return store_err(STORE_EINVAL, "store: a reader cannot write");
	if (st->txn_open)
		return store_err(STORE_EINVAL, "store: a transaction is under way already");
	if (st->jn > 0)
		return store_err(STORE_EINVAL, "store: the journal holds changes: commit "
		    "them before a transaction");
	/* The writer's own commits first: the recorder then holds only ours. */
	if ((error = store_flush(st)) < 0)
		return error;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return store_err(-1, "store: out of memory");
	t->st = st;
	git_oid_cpy(&t->tree, &st->head_tree);
	t->have_tree = true;
	st->txn_open = true;
	*out = t;
	return 0;
}

static void
txn_free(struct store_txn *t)
{
	t->st->txn_open = false;
	store_edits_free(&t->es);
	free(t->refs);
	free(t);
}

void
store_txn_rollback(struct store_txn *t)
{
	struct store *st;

	if (t == NULL)
		return;
	st = t->st;
	if (store_odb_pending(st->odb) > 0) {
		/* A new recorder (and libgit2 object cache): ours are gone. */
		store_odb_merge_settle(st->odb, true);
		if (store_odb_rebuild(st->odb) == 0)
			st->npacks = store_odb_pack_count(st->odb);
	}
	txn_free(t);
}

int
store_txn_tree(struct store_txn *t, const struct store_oid *commit)
{
	struct store *st = t->st;
	struct sbuf router = { 0 };
	git_commit *c = NULL;
	git_oid schema, rid;
	int error;

	store_edits_free(&t->es);
	if (commit != NULL) {
		if ((error = git_commit_lookup(&c, st->repo, store_goid(commit))) < 0)
			return store_gerr(error == GIT_ENOTFOUND ? STORE_ENOTFOUND : error,
			    "store: transaction: commit");
		git_oid_cpy(&t->tree, git_commit_tree_id(c));
		t->have_tree = true;
		git_commit_free(c);
		return 0;
	}
	/* Empty tables: meta/ as a new store has it. */
	t->have_tree = false;
	store_router_text(&router, st);
	if (router.oom)
		error = store_err(-1, "store: out of memory");
	else if ((error = store_odb_put(&schema, st->odb, GIT_OBJECT_BLOB, STORE_SCHEMA "\n",
	    strlen(STORE_SCHEMA) + 1)) == 0 &&
	    (error = store_odb_put(&rid, st->odb, GIT_OBJECT_BLOB, router.p, router.len)) == 0 &&
	    (store_edits_add(&t->es, "meta/schema", GIT_FILEMODE_BLOB, &schema) == NULL ||
	    store_edits_add(&t->es, "meta/router", GIT_FILEMODE_BLOB, &rid) == NULL))
		error = store_err(-1, "store: out of memory");
	store_sbuf_free(&router);
	return error;
}

int
store_txn_put_text(struct store_txn *t, const char *path, const char *text, size_t len)
{
	git_oid blob;
	int error;

	if (strlen(path) >= STORE_PATH_MAX)
		return store_err(STORE_EREFUSED, "store: %s: path too long", path);
	if ((error = store_check_file(path, GIT_FILEMODE_BLOB, text, len)) < 0 ||
	    (error = store_odb_put(&blob, t->st->odb, GIT_OBJECT_BLOB, text, len)) < 0)
		return error;
	if (store_edits_add(&t->es, path, GIT_FILEMODE_BLOB, &blob) == NULL)
		return store_err(-1, "store: out of memory");
	return 0;
}

int
store_txn_put(struct store_txn *t, const struct store_entry *e)
{
	char path[STORE_PATH_MAX], val[STORE_VALUE_MAX];
	int n;

	if (store_table_by_id(e->table) == NULL ||
	    store_entry_path(path, sizeof(path), e) < 0)
		return store_err(STORE_EINVAL, "store: transaction: not an entry (table %u)",
		    e->table);
	if ((n = store_entry_encode(val, sizeof(val), e, t->st->o.ifnames,
	    t->st->o.n_ifnames)) < 0)
		return n;
	return store_txn_put_text(t, path, val, (size_t)n);
}

/* Whether the working tree has a file at path. */
static int
txn_has(struct store_txn *t, const char *path)
{
	git_oid cur;
	const char *p = path;
	int error;

	for (size_t i = t->es.n; i-- > 0;)
		if (strcmp(t->es.v[i].path, path) == 0)
			return t->es.v[i].mode != 0;
	if (!t->have_tree)
		return 0;
	git_oid_cpy(&cur, &t->tree);
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		const struct tent *e;
		struct tview tv;
		bool found, tree;

		if ((error = store_tview_load(&tv, t->st->odb, &cur)) < 0)
			return error;
		e = store_tview_find(&tv, p, n);
		found = e != NULL;
		tree = found && e->tree;
		if (tree)
			git_oid_cpy(&cur, &e->id);
		store_tview_free(&tv);
		if (!found || slash == NULL)
			return found && !tree;
		if (!tree)
			return 0;
		p = slash + 1;
	}
}

int
store_txn_remove(struct store_txn *t, const char *path)
{
	int error;

	if (strlen(path) >= STORE_PATH_MAX)
		return 1;
	if ((error = txn_has(t, path)) <= 0)
		return error < 0 ? error : 1;
	if (store_edits_add(&t->es, path, 0, NULL) == NULL)
		return store_err(-1, "store: out of memory");
	return 0;
}

/* "name <email> time +hhmm", refusing what would break the header. */
static int
sig_line(struct sbuf *b, const char *what, const struct store_sig *s)
{
	int tz = s->tz < 0 ? -s->tz : s->tz;

	if (s->name == NULL || s->email == NULL || strpbrk(s->name, "<>\n") != NULL ||
	    strpbrk(s->email, "<>\n") != NULL)
		return store_err(STORE_EINVAL, "store: %s: a name and email without <, > "
		    "or newline", what);
	store_sbuf_printf(b, "%s %s <%s> %lld %c%02d%02d\n", what, s->name, s->email,
	    (long long)s->time, s->tz < 0 ? '-' : '+', tz / 60, tz % 60);
	return 0;
}

int
store_txn_make_commit(struct store_oid *out, struct store_txn *t,
    const struct store_oid *parents, size_t nparent, const struct store_sig *author,
    const struct store_sig *committer, const char *msg, uint64_t now_us)
{
	struct store *st = t->st;
	struct sbuf b = { 0 };
	const git_oid **pv = NULL;
	char hex[GIT_OID_HEXSZ + 1];
	git_oid tree, id;
	int error;

	if (msg == NULL || (author == NULL) != (committer == NULL))
		return store_err(STORE_EINVAL, "store: commit: a message, and author and "
		    "committer both or neither");
	if ((error = store_tree_apply(&tree, st->odb, t->have_tree ? &t->tree : NULL, &t->es)) < 0)
		return error;
	if (author == NULL) {
		if ((pv = malloc((nparent ? nparent : 1) * sizeof(*pv))) == NULL)
			return store_err(-1, "store: out of memory");
		for (size_t i = 0; i < nparent; i++)
			pv[i] = store_goid(&parents[i]);
		error = store_commit_tree(&id, st, &tree, pv, nparent, msg, now_us);
		free(pv);
	} else {
		store_sbuf_printf(&b, "tree %s\n", git_oid_tostr(hex, sizeof(hex), &tree));
		for (size_t i = 0; i < nparent; i++)
			store_sbuf_printf(&b, "parent %s\n", store_oid_fmt(hex, &parents[i]));
		if ((error = sig_line(&b, "author", author)) == 0 &&
		    (error = sig_line(&b, "committer", committer)) == 0) {
			store_sbuf_printf(&b, "\n%s", msg);
			error = b.oom ? store_err(-1, "store: out of memory") :
			    store_odb_put(&id, st->odb, GIT_OBJECT_COMMIT, b.p, b.len);
		}
		store_sbuf_free(&b);
	}
	if (error < 0)
		return error;
	/* The commit's tree is the working tree from now on. */
	store_edits_free(&t->es);
	git_oid_cpy(&t->tree, &tree);
	t->have_tree = true;
	if (out != NULL)
		git_oid_cpy(store_goid_mut(out), &id);
	return 0;
}

int
store_txn_tag(struct store_oid *out, struct store_txn *t, const struct store_oid *commit,
    const char *name, const struct store_sig *tagger, const char *msg)
{
	struct sbuf b = { 0 };
	char hex[GIT_OID_HEXSZ + 1];
	git_oid id;
	int error = 0;

	if (name == NULL || name[0] == '\0' || strpbrk(name, " \n") != NULL || msg == NULL)
		return store_err(STORE_EINVAL, "store: tag: a name without space or newline, "
		    "and a message");
	store_sbuf_printf(&b, "object %s\ntype commit\ntag %s\n", store_oid_fmt(hex, commit),
	    name);
	if (tagger != NULL)
		error = sig_line(&b, "tagger", tagger);
	if (error == 0) {
		store_sbuf_printf(&b, "\n%s", msg);
		error = b.oom ? store_err(-1, "store: out of memory") :
		    store_odb_put(&id, t->st->odb, GIT_OBJECT_TAG, b.p, b.len);
	}
	store_sbuf_free(&b);
	if (error == 0 && out != NULL)
		git_oid_cpy(store_goid_mut(out), &id);
	return error;
}

int
store_txn_ref(struct store_txn *t, const char *ref, const struct store_oid *new_,
    const struct store_oid *old)
{
	struct store_refup *v, *u;

	if (strncmp(ref, "refs/", 5) != 0 || strlen(ref) >= sizeof(v->name) ||
	    !git_reference_is_valid_name(ref))
		return store_err(STORE_EINVAL, "store: '%s' is not a full ref name", ref);
	if (strcmp(ref, PRIMARY) == 0 && t->st->o.side)
		return store_err(STORE_ELOCKED, "store: %s: primary moves only under the "
		    "store's lock (stop the router)", t->st->path);
	if (strcmp(ref, PRIMARY) == 0 && new_ == NULL)
		return store_err(STORE_EINVAL, "store: primary cannot be deleted");
	if ((v = realloc(t->refs, (t->nrefs + 1) * sizeof(*v))) == NULL)
		return store_err(-1, "store: out of memory");
	t->refs = v;
	u = &v[t->nrefs++];
	memset(u, 0, sizeof(*u));
	snprintf(u->name, sizeof(u->name), "%s", ref);
	if ((u->has_new = new_ != NULL))
		git_oid_cpy(&u->new_, store_goid(new_));
	if ((u->has_old = old != NULL))
		git_oid_cpy(&u->old, store_goid(old));
	return 0;
}

int
store_txn_commit(struct store_txn *t)
{
	struct store *st = t->st;
	int error = 0;

	/* The refs first: a moved ref fails with nothing written at all. */
	for (size_t i = 0; i < t->nrefs && error == 0; i++)
		error = ref_check(st, &t->refs[i]);
	if (error < 0) {
		store_txn_rollback(t);
		return error;
	}
	if (store_odb_pending(st->odb) > 0) {
		const git_oid *live[2] = { &st->head_tree, &st->tick_tree };

		if ((error = store_odb_flush(st->odb, live, st->tick_pending ? 2 : 1)) < 0) {
			store_txn_rollback(t);
			return error;
		}
		st->npacks++;
	}
	/* Objects are durable: now the refs may name them. */
	for (size_t i = 0; i < t->nrefs && error == 0; i++)
		error = store_ref_update(st, &t->refs[i], "gitnet: transaction");
	txn_free(t);
	if (error == 0)
		error = store_packs_maintain(st);
	return error;
}

/* --- the merge into any ref --- */

int
store_merge_into(struct store *st, const char *branch, const char *into, uint64_t now_us)
{
	struct store_txn *t = NULL;
	struct sbuf msg = { 0 }, conf = { 0 };
	git_oid ours, theirs, theirs_tree, base_tree;
	struct store_oid parents[2], id;
	char name[256], subject[300];
	git_commit *oc = NULL;
	bool have_base;
	int conflicts = 0, error;

	if (into == NULL || strcmp(into, "primary") == 0 || strcmp(into, PRIMARY) == 0) {
		if (st->o.side)
			return store_err(STORE_ELOCKED, "store: %s: primary moves only under "
			    "the store's lock (stop the router)", st->path);
		if ((error = store_merge(st, branch, now_us)) < 0)
			return error;
		conflicts = error;
		return (error = store_flush(st)) < 0 ? error : conflicts;
	}
	snprintf(name, sizeof(name), strncmp(into, "refs/", 5) == 0 ? "%s" : "refs/heads/%s",
	    into);
	if ((error = git_reference_name_to_id(&ours, st->repo, name)) < 0)
		return store_err(STORE_ENOTFOUND, "store: merge: unknown branch '%s'", into);
	if ((error = git_commit_lookup(&oc, st->repo, &ours)) < 0)
		return store_gerr(STORE_EINVAL, "store: merge: %s does not name a commit", into);
	if ((error = store_merge_prepare(st, branch, &ours, &theirs, &theirs_tree, &base_tree,
	    &have_base)) != 0) {
		git_commit_free(oc);
		return error == 1 ? 0 : error;
	}
	if ((error = store_txn_begin(&t, st)) < 0)
		goto done;
	git_oid_cpy(&t->tree, git_commit_tree_id(oc));
	if ((conflicts = store_merge_edits(&t->es, st, have_base ? &base_tree : NULL,
	    &t->tree, &theirs_tree, &conf)) < 0) {
		error = conflicts;
		goto done;
	}
	snprintf(subject, sizeof(subject), "merge %s", branch);
	store_merge_message(&msg, subject, conflicts, &conf, NULL);
	if (msg.oom) {
		error = store_err(-1, "store: out of memory");
		goto done;
	}
	git_oid_cpy(store_goid_mut(&parents[0]), &ours);
	git_oid_cpy(store_goid_mut(&parents[1]), &theirs);
	if ((error = store_txn_make_commit(&id, t, parents, 2, NULL, NULL, msg.p, now_us)) < 0 ||
	    (error = store_txn_ref(t, name, &id, &parents[0])) < 0)
		goto done;
	error = store_txn_commit(t);
	t = NULL;
done:
	store_txn_rollback(t);
	git_commit_free(oc);
	store_sbuf_free(&msg);
	store_sbuf_free(&conf);
	return error < 0 ? error : conflicts;
}

/* --- refs and tags, as gc rewrites them --- */

int
store_ref_target(struct store_oid *out, struct store_reader *r, const char *name)
{
	git_reference *ref = NULL;
	int error;

	if ((error = git_reference_lookup(&ref, r->st->repo, name)) < 0)
		return error == GIT_ENOTFOUND ?
		    store_err(STORE_ENOTFOUND, "store: no ref %s", name) :
		    store_gerr(error, "store: ref %s", name);
	if (git_reference_type(ref) != GIT_REFERENCE_DIRECT) {
		git_reference_free(ref);
		return 1;
	}
	git_oid_cpy(store_goid_mut(out), git_reference_target(ref));
	git_reference_free(ref);
	return 0;
}

int
store_tag_read(struct store_tag **out, struct store_reader *r, const struct store_oid *id)
{
	git_object *o = NULL;
	const git_signature *s;
	struct store_tag *t;
	const char *name, *msg;
	size_t size;
	char *p;
	int error;

	*out = NULL;
	if ((error = git_object_lookup(&o, r->st->repo, store_goid(id), GIT_OBJECT_ANY)) < 0)
		return store_gerr(error == GIT_ENOTFOUND ? STORE_ENOTFOUND : error,
		    "store: object");
	if (git_object_type(o) != GIT_OBJECT_TAG) {
		git_object_free(o);
		return 1;
	}
	name = git_tag_name((git_tag *)o);
	msg = git_tag_message((git_tag *)o);
	msg = msg ? msg : "";
	s = git_tag_tagger((git_tag *)o);
	size = sizeof(*t) + strlen(name) + strlen(msg) + 2 +
	    (s ? strlen(s->name) + strlen(s->email) + 2 : 0);
	if ((t = calloc(1, size)) == NULL) {
		git_object_free(o);
		return store_err(-1, "store: out of memory");
	}
	p = (char *)(t + 1);
	git_oid_cpy(store_goid_mut(&t->id), git_object_id(o));
	git_oid_cpy(store_goid_mut(&t->target), git_tag_target_id((git_tag *)o));
	t->name = strcpy(p, name);
	p += strlen(name) + 1;
	t->message = strcpy(p, msg);
	p += strlen(msg) + 1;
	if ((t->has_tagger = s != NULL)) {
		t->tagger.name = strcpy(p, s->name);
		p += strlen(s->name) + 1;
		t->tagger.email = strcpy(p, s->email);
		t->tagger.time = (int64_t)s->when.time;
		t->tagger.tz = s->when.offset;
	}
	git_object_free(o);
	*out = t;
	return 0;
}

void
store_tag_free(struct store_tag *t)
{
	free(t);
}

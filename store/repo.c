/* SPDX-License-Identifier: ISC */
/*
 * The repository: open or create, ownership lock, crash cleanup, refusal
 * of repositories that are not ours, flush (objects durable, then refs by
 * compare-and-swap), and reading the tables back at a revision or a time.
 *
 * Invariant: st->durable is what refs/heads/primary holds on disk; st->head
 * may run ahead of it (commits not yet flushed) and always descends from it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define PRIMARY	"refs/heads/primary"

void
store_opts_default(struct store_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->router_id = "gitnet";
	o->window_ms = 100;
	o->batch_max = 1024;
	o->keep_expire = 8;
	o->max_packs = 16;
	o->body_max = 50;
	o->cache_mb = 64;
	o->fsync = true;
	o->create = true;
}

git_repository *
store_repo(struct store *st)
{
	return st->repo;
}

const git_oid *
store_head(const struct store *st)
{
	return &st->head;
}

unsigned
store_pack_count(struct store *st)
{
	/* Settle a merge under way first (a failure shows at the next flush). */
	if (store_odb_merge_settle(st->odb, true) == 1)
		st->npacks = store_odb_pack_count(st->odb);
	return store_odb_pack_count(st->odb);
}

/* Remove *.lock files under dir (recursively): only the sole owner may. */
static void
remove_locks(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[4400];

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		struct stat sb;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (lstat(path, &sb) < 0)
			continue;
		if (S_ISDIR(sb.st_mode))
			remove_locks(path);
		else if (l > 5 && strcmp(de->d_name + l - 5, ".lock") == 0)
			unlink(path);
	}
	closedir(d);
}

static void
cleanup_stale(const char *gitdir)
{
	static const char *const top[] = {
		"HEAD.lock", "packed-refs.lock", "config.lock", "index.lock",
	};
	char path[4400];

	for (size_t i = 0; i < sizeof(top) / sizeof(top[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", gitdir, top[i]);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/refs", gitdir);
	remove_locks(path);
	snprintf(path, sizeof(path), "%s/objects", gitdir);
	store_odb_cleanup(path);
}

static int
take_lock(struct store *st, const char *gitdir)
{
	char path[4400], pid[32] = "";
	int fd, n;

	snprintf(path, sizeof(path), "%s/gitnet.lock", gitdir);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0)
		return store_err(STORE_EIO, "store: %s: %s", path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;

		n = (int)pread(fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		close(fd);
		if (e == EWOULDBLOCK)
			return store_err(STORE_ELOCKED,
			    "store: %s: locked by another live process (pid %s)",
			    st->path, pid[0] ? pid : "unknown");
		return store_err(STORE_EIO, "store: %s: %s", path, strerror(e));
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
		close(fd);
		return store_err(STORE_EIO, "store: %s: %s", path, strerror(errno));
	}
	st->lockfd = fd;
	return 0;
}

static bool
dir_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	bool empty = true;

	if (d == NULL)
		return false;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			empty = false;
	closedir(d);
	return empty;
}

static void
router_text(struct sbuf *b, const struct store *st)
{
	store_sbuf_printf(b, "id %s\n", st->router_id);
	if (st->router_info != NULL && st->router_info[0] != '\0') {
		store_sbuf_puts(b, st->router_info);
		if (st->router_info[strlen(st->router_info) - 1] != '\n')
			store_sbuf_puts(b, "\n");
	}
}

/*
 * Commit edits es on primary's head (none: a root commit) and flush:
 * the store's own bookkeeping commits, outside the journal.
 */
static int
commit_meta(struct store *st, struct store_edits *es, const char *msg)
{
	const git_oid *parents[1] = { &st->head };
	git_oid tree, id;
	int error;

	if ((error = store_tree_apply(&tree, st, st->have_durable ? &st->head_tree : NULL,
	    es)) < 0 ||
	    (error = store_commit_tree(&id, st, &tree, parents, st->have_durable ? 1 : 0,
	    msg, (uint64_t)time(NULL) * 1000000)) < 0)
		return error;
	git_oid_cpy(&st->head, &id);
	git_oid_cpy(&st->head_tree, &tree);
	return store_flush(st);
}

static int
create_tables(struct store *st)
{
	struct store_edits es = { 0 };
	struct sbuf router = { 0 };
	git_oid schema, rid;
	int error;

	router_text(&router, st);
	if ((error = git_repository_set_head(st->repo, PRIMARY)) < 0) {
		error = store_gerr(error, "store: %s: create", st->path);
		goto done;
	}
	if ((error = store_odb_put(&schema, st->odb, GIT_OBJECT_BLOB, STORE_SCHEMA "\n",
	    strlen(STORE_SCHEMA) + 1)) < 0 ||
	    (error = store_odb_put(&rid, st->odb, GIT_OBJECT_BLOB, router.p, router.len)) < 0)
		goto done;
	if (store_edits_add(&es, "meta/schema", GIT_FILEMODE_BLOB, &schema) == NULL ||
	    store_edits_add(&es, "meta/router", GIT_FILEMODE_BLOB, &rid) == NULL) {
		error = -1;
		goto done;
	}
	error = commit_meta(st, &es, "store: create empty tables\n");
done:
	store_edits_free(&es);
	store_sbuf_free(&router);
	return error;
}

/*
 * meta/router says who runs the store: the router (which passes
 * router_info) rewrites it at open when it changed; tools leave it.
 */
static int
update_router(struct store *st)
{
	struct store_edits es = { 0 };
	struct sbuf router = { 0 }, msg = { 0 };
	struct tview root = { 0 }, meta = { 0 };
	const struct tent *m, *r = NULL;
	git_oid rid;
	int error;

	if (st->router_info == NULL)
		return 0;		/* a tool, not the router: leave it */
	router_text(&router, st);
	if ((error = git_odb_hash(&rid, router.p, router.len, GIT_OBJECT_BLOB)) < 0) {
		error = store_gerr(error, "store: meta/router");
		goto done;
	}
	if ((error = store_tview_load(&root, st, &st->head_tree)) < 0)
		goto done;
	if ((m = store_tview_find(&root, "meta", 4)) != NULL && m->tree) {
		if ((error = store_tview_load(&meta, st, &m->id)) < 0)
			goto done;
		r = store_tview_find(&meta, "router", 6);
	}
	if (r != NULL && git_oid_equal(&r->id, &rid))
		goto done;		/* unchanged */
	if ((error = store_odb_put(&rid, st->odb, GIT_OBJECT_BLOB, router.p, router.len)) < 0)
		goto done;
	if (store_edits_add(&es, "meta/router", GIT_FILEMODE_BLOB, &rid) == NULL) {
		error = -1;
		goto done;
	}
	store_sbuf_printf(&msg, "store: router %s started\n\n", st->router_id);
	store_sbuf_add(&msg, router.p, router.len);
	error = msg.oom ? store_err(-1, "store: out of memory") : commit_meta(st, &es, msg.p);
done:
	store_tview_free(&meta);
	store_tview_free(&root);
	store_edits_free(&es);
	store_sbuf_free(&router);
	store_sbuf_free(&msg);
	return error;
}

/* Refuse what is not a gitnet store of our schema; load head. */
static int
check_schema(struct store *st)
{
	git_commit *c = NULL;
	git_tree *t = NULL;
	git_tree_entry *te = NULL;
	git_blob *b = NULL;
	int error;

	if ((error = git_commit_lookup(&c, st->repo, &st->head)) < 0 ||
	    (error = git_commit_tree(&t, c)) < 0) {
		error = store_gerr(error, "store: %s: primary", st->path);
		goto done;
	}
	git_oid_cpy(&st->head_tree, git_tree_id(t));
	if (git_tree_entry_bypath(&te, t, "meta/schema") < 0 ||
	    git_tree_entry_type(te) != GIT_OBJECT_BLOB) {
		error = store_err(STORE_EFOREIGN,
		    "store: %s: not a gitnet store (no meta/schema on primary)", st->path);
		goto done;
	}
	if ((error = git_blob_lookup(&b, st->repo, git_tree_entry_id(te))) < 0) {
		error = store_gerr(error, "store: %s: meta/schema", st->path);
		goto done;
	}
	if ((size_t)git_blob_rawsize(b) != strlen(STORE_SCHEMA) + 1 ||
	    memcmp(git_blob_rawcontent(b), STORE_SCHEMA "\n", strlen(STORE_SCHEMA) + 1) != 0) {
		int n = (int)git_blob_rawsize(b);
		const char *p = git_blob_rawcontent(b);

		while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r'))
			n--;
		error = store_err(STORE_EFOREIGN,
		    "store: %s: schema '%.*s' is not supported (this is '%s')",
		    st->path, n > 60 ? 60 : n, p, STORE_SCHEMA);
	}
done:
	git_blob_free(b);
	git_tree_entry_free(te);
	git_tree_free(t);
	git_commit_free(c);
	return error;
}

/*
 * Primary's head into st->head: 0, or 1 when the repository has no refs at
 * all (a new store), or STORE_EFOREIGN when it has refs but no primary.
 */
static int
find_primary(struct store *st, const char *path)
{
	int error = git_reference_name_to_id(&st->head, st->repo, PRIMARY);

	if (error == GIT_ENOTFOUND) {
		git_reference_iterator *it = NULL;
		git_reference *r = NULL;
		bool any = false;

		if (git_reference_iterator_new(&it, st->repo) == 0) {
			any = git_reference_next(&r, it) == 0;
			git_reference_free(r);
			git_reference_iterator_free(it);
		}
		if (any)
			return store_err(STORE_EFOREIGN,
			    "store: %s: not a gitnet store (no branch primary)", path);
		return 1;
	}
	if (error < 0)
		return store_gerr(error, "store: %s: reading primary", path);
	return 0;
}

static int
index_entry(void *ctx, const struct store_entry *e)
{
	struct store *st = ctx;
	const struct store_table *t = store_table_by_id(e->table);
	uint64_t exp = t->expires(e);

	return exp ? store_xidx_set(&st->xi, t->key(e), exp) : 0;
}

int
store_open(struct store **out, const char *path, const struct store_opts *o)
{
	struct store *st;
	struct stat sb;
	bool fresh = false;
	int error;

	*out = NULL;
	if (o == NULL || o->router_id == NULL || o->router_id[0] == '\0' ||
	    strpbrk(o->router_id, "<>\n") != NULL)
		return store_err(STORE_EINVAL, "store: a router id without <, > or newline is required");
	if (git_libgit2_init() < 0)
		return store_gerr(-1, "store: libgit2");
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return store_err(-1, "store: out of memory");
	st->o = *o;
	st->lockfd = -1;
	if (st->o.body_max == 0)
		st->o.body_max = 50;
	if (st->o.batch_max == 0)
		st->o.batch_max = 1024;
	if (st->o.max_packs < 2)
		st->o.max_packs = 2;
	st->path = strdup(path);
	st->router_id = strdup(o->router_id);
	st->router_info = o->router_info ? strdup(o->router_info) : NULL;
	if (st->path == NULL || st->router_id == NULL ||
	    (o->router_info && st->router_info == NULL)) {
		error = store_err(-1, "store: out of memory");
		goto fail;
	}
	/*
	 * Keep parsed trees of any size in libgit2's cache (the default limit,
	 * 4 KiB, is below a 256-entry shard, re-read and re-parsed each commit).
	 */
	git_libgit2_opts(GIT_OPT_SET_CACHE_OBJECT_LIMIT, GIT_OBJECT_TREE, (size_t)1 << 20);
	git_libgit2_opts(GIT_OPT_SET_CACHE_OBJECT_LIMIT, GIT_OBJECT_COMMIT, (size_t)1 << 16);
	git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, (int)o->verify_reads);
	/* Refs and packs: fsynced by libgit2 too (the ref file and its directory). */
	git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, (int)o->fsync);

	if (stat(path, &sb) < 0 || (S_ISDIR(sb.st_mode) && dir_empty(path))) {
		if (!o->create) {
			error = store_err(GIT_ENOTFOUND, "store: %s: no repository", path);
			goto fail;
		}
		if ((error = git_repository_init(&st->repo, path, 1)) < 0) {
			error = store_gerr(error, "store: %s: create", path);
			goto fail;
		}
		fresh = true;
	} else if ((error = git_repository_open_ext(&st->repo, path,
	    GIT_REPOSITORY_OPEN_NO_SEARCH, NULL)) < 0) {
		error = store_gerr(STORE_EFOREIGN, "store: %s: not a git repository", path);
		goto fail;
	}
	if (!git_repository_is_bare(st->repo)) {
		error = store_err(STORE_EFOREIGN, "store: %s: not a bare repository", path);
		goto fail;
	}
	/*
	 * Refuse a foreign repository before touching anything in it: the lock
	 * file and the clean-up of stale locks are for our own stores only.
	 * (Checked again under the lock: a writer may have moved primary.)
	 */
	if ((error = find_primary(st, path)) < 0 ||
	    (error == 0 && (error = check_schema(st)) < 0))
		goto fail;
	if ((error = take_lock(st, git_repository_path(st->repo))) < 0)
		goto fail;
	cleanup_stale(git_repository_path(st->repo));
	if ((error = store_odb_open(&st->odb, st->repo, o->fsync,
	    (size_t)st->o.cache_mb << 20)) < 0)
		goto fail;
	if ((error = find_primary(st, path)) < 0)
		goto fail;
	if (error == 1) {
		if ((error = create_tables(st)) < 0)
			goto fail;
		fresh = true;
	} else {
		git_oid_cpy(&st->durable, &st->head);
		st->have_durable = true;
	}
	if ((error = check_schema(st)) < 0)
		goto fail;
	st->npacks = store_odb_pack_count(st->odb);
	if (!fresh && ((error = store_load(st, NULL, index_entry, st)) < 0 ||
	    (error = update_router(st)) < 0))
		goto fail;
	*out = st;
	return 0;
fail:
	store_free(st);
	return error;
}

void
store_free(struct store *st)
{
	if (st == NULL)
		return;
	store_odb_free(st->odb);
	git_repository_free(st->repo);
	if (st->lockfd >= 0)
		close(st->lockfd);
	store_xidx_free(&st->xi);
	store_tick_free(st);
	free(st->j);
	free(st->newrefs);
	free(st->path);
	free(st->router_id);
	free(st->router_info);
	free(st);
	git_libgit2_shutdown();
}

int
store_close(struct store *st)
{
	uint64_t now;
	struct timespec ts;
	int error = 0;

	if (st == NULL)
		return 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	now = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
	if (st->tick_pending && (error = store_tick_finish(st, now)) < 0)
		goto done;
	if ((error = store_commit(st, now, NULL)) < 0)
		goto done;
	error = store_flush(st);
done:
	store_free(st);
	return error < 0 ? error : 0;
}

int
store_queue_ref(struct store *st, const char *name, const git_oid *id)
{
	struct store_ref *v = realloc(st->newrefs, (st->nnewrefs + 1) * sizeof(*v));

	if (v == NULL)
		return store_err(-1, "store: out of memory");
	st->newrefs = v;
	snprintf(v[st->nnewrefs].name, sizeof(v->name), "%s", name);
	git_oid_cpy(&v[st->nnewrefs].id, id);
	st->nnewrefs++;
	return 0;
}

struct xref {
	char		name[128];
	uint64_t	t;
};

static int
xref_cmp(const void *a, const void *b)
{
	const struct xref *x = a, *y = b;

	return x->t < y->t ? -1 : x->t > y->t;
}

/* Keep the newest keep_expire expire_<unix.usec> branches. */
static int
prune_expire(struct store *st)
{
	git_reference_iterator *it;
	git_reference *r;
	struct xref *v = NULL;
	size_t n = 0, cap = 0;
	int error;

	if ((error = git_reference_iterator_glob_new(&it, st->repo,
	    "refs/heads/expire_*")) < 0)
		return store_gerr(error, "store: listing expiry branches");
	while (git_reference_next(&r, it) == 0) {
		const char *nm = git_reference_name(r);
		unsigned long long s = 0, us = 0;

		if (n == cap) {
			struct xref *nv = realloc(v, (cap = cap ? cap * 2 : 16) * sizeof(*v));

			if (nv == NULL) {
				git_reference_free(r);
				break;
			}
			v = nv;
		}
		if (strlen(nm) < sizeof(v->name) &&
		    sscanf(nm, "refs/heads/expire_%llu.%llu", &s, &us) == 2) {
			snprintf(v[n].name, sizeof(v->name), "%s", nm);
			v[n++].t = s * 1000000 + us;
		}
		git_reference_free(r);
	}
	git_reference_iterator_free(it);
	if (n > st->o.keep_expire) {
		qsort(v, n, sizeof(*v), xref_cmp);
		for (size_t i = 0; i + st->o.keep_expire < n; i++)
			if (git_reference_lookup(&r, st->repo, v[i].name) == 0) {
				git_reference_delete(r);
				git_reference_free(r);
			}
	}
	free(v);
	return 0;
}

int
store_flush(struct store *st)
{
	git_reference *ref = NULL;
	int error;

	if (git_oid_equal(&st->head, &st->durable) && st->nnewrefs == 0)
		return 0;
	if (store_odb_pending(st->odb) > 0) {
		/* The trees the next commits edit: primary's, and a pending tick's. */
		const git_oid *live[2] = { &st->head_tree, &st->tick_tree };

		if ((error = store_odb_flush(st->odb, live, st->tick_pending ? 2 : 1)) < 0)
			return error;
		st->npacks++;
	}
	/* Objects are durable: now the refs may name them. */
	for (size_t i = 0; i < st->nnewrefs; i++) {
		error = git_reference_create(&ref, st->repo, st->newrefs[i].name,
		    &st->newrefs[i].id, 1, "gitnet: tick");
		git_reference_free(ref);
		if (error < 0)
			return store_gerr(error, "store: creating %s", st->newrefs[i].name);
		st->prune_expire = true;
	}
	st->nnewrefs = 0;
	if (!git_oid_equal(&st->head, &st->durable) || !st->have_durable) {
		if (st->have_durable)
			error = git_reference_create_matching(&ref, st->repo, PRIMARY, &st->head,
			    1, &st->durable, "gitnet: commit");
		else
			error = git_reference_create(&ref, st->repo, PRIMARY, &st->head, 0,
			    "gitnet: create");
		git_reference_free(ref);
		if (error < 0)
			return store_gerr(error, "store: %s: moving primary", st->path);
		git_oid_cpy(&st->durable, &st->head);
		st->have_durable = true;
	}
	if (st->prune_expire) {
		st->prune_expire = false;
		if ((error = prune_expire(st)) < 0)
			return error;
	}
	/*
	 * Packs are merged in the background; a flush waits for a merge only
	 * when the packs made meanwhile reach twice the bound.
	 */
	if ((error = store_odb_merge_poll(st->odb, st->npacks >= 2 * st->o.max_packs)) < 0)
		return error;
	if (error == 1)
		st->npacks = store_odb_pack_count(st->odb);
	if (st->npacks > st->o.max_packs &&
	    (error = store_odb_merge_start(st->odb, st->o.max_packs)) < 0)
		return error;
	return 0;
}

int
store_repack(struct store *st)
{
	int error;

	if ((error = store_flush(st)) < 0 || (error = store_odb_repack(st->odb)) < 0)
		return error;
	st->npacks = store_odb_pack_count(st->odb);
	return 0;
}

struct walk {
	struct store	*st;
	store_entry_fn	fn;
	void		*ctx;
};

/*
 * The walk reads trees as the commit path does (the cache first, and what
 * it reads stays there while there is room: the commits after a restart
 * edit these trees) and blobs straight from the object database, not
 * through libgit2's object layer (a parse and a cache entry per blob).
 */
static int
walk_tree(struct walk *w, const git_oid *id, char *path, size_t len)
{
	struct tview tv;
	int error;

	if ((error = store_tview_load(&tv, w->st, id)) < 0) {
		char why[256];

		snprintf(why, sizeof(why), "%s", store_strerror());
		return store_err(error, "store: %s: %s", path, why);
	}
	for (size_t i = 0; i < tv.n && error == 0; i++) {
		const struct tent *te = &tv.e[i];

		if (len + 1 + te->nlen >= STORE_PATH_MAX) {
			error = store_err(STORE_EPARSE, "store: %s/%s: path too long", path,
			    te->name);
			break;
		}
		path[len] = '/';
		memcpy(path + len + 1, te->name, te->nlen + 1);
		if (te->tree) {
			error = walk_tree(w, &te->id, path, len + 1 + te->nlen);
		} else {
			struct store_entry e;
			git_odb_object *obj = NULL;
			git_object_t type;
			const void *data;
			size_t dlen;

			if ((error = store_odb_get(w->st->odb, &te->id, &type, &data, &dlen,
			    &obj)) < 0) {
				error = store_gerr(error, "store: %s: blob", path);
				break;
			}
			if (type != GIT_OBJECT_BLOB)
				error = store_err(STORE_EPARSE, "store: %s: not a blob", path);
			else
				error = store_entry_decode(&e, path, data, dlen, w->st->o.ifnames,
				    w->st->o.n_ifnames);
			git_odb_object_free(obj);
			if (error == 0)
				error = w->fn(w->ctx, &e);
		}
		path[len] = '\0';
	}
	store_tview_free(&tv);
	return error;
}

int
store_load(struct store *st, const git_oid *id, store_entry_fn fn, void *ctx)
{
	struct walk w = { st, fn, ctx };
	struct tview root = { 0 };
	git_commit *c = NULL;
	char path[STORE_PATH_MAX];
	int error;

	if ((error = git_commit_lookup(&c, st->repo, id ? id : &st->head)) < 0) {
		char hex[GIT_OID_HEXSZ + 1];

		return store_gerr(error, "store: commit %s",
		    git_oid_tostr(hex, sizeof(hex), id ? id : &st->head));
	}
	if ((error = store_tview_load(&root, st, git_commit_tree_id(c))) < 0)
		goto done;
	for (size_t i = 0; i < store_ntables && error == 0; i++) {
		const char *name = store_tables[i]->name;
		const struct tent *te = store_tview_find(&root, name, strlen(name));

		if (te == NULL || !te->tree)
			continue;
		snprintf(path, sizeof(path), "%s", name);
		error = walk_tree(&w, &te->id, path, strlen(path));
	}
done:
	store_tview_free(&root);
	git_commit_free(c);
	return error;
}

int
store_at_time(git_oid *out, struct store *st, uint64_t t_us)
{
	git_revwalk *w = NULL;
	git_oid id;
	int error;

	if ((error = git_revwalk_new(&w, st->repo)) < 0 ||
	    (error = git_revwalk_push(w, &st->head)) < 0) {
		error = store_gerr(error, "store: history walk");
		goto done;
	}
	git_revwalk_simplify_first_parent(w);
	while ((error = git_revwalk_next(&id, w)) == 0) {
		git_commit *c;

		if ((error = git_commit_lookup(&c, st->repo, &id)) < 0) {
			error = store_gerr(error, "store: history walk");
			break;
		}
		if ((uint64_t)git_commit_time(c) <= t_us / 1000000) {
			git_oid_cpy(out, &id);
			git_commit_free(c);
			break;
		}
		git_commit_free(c);
	}
	if (error == GIT_ITEROVER)
		error = store_err(GIT_ENOTFOUND, "store: no commit at or before %llu.%06llu",
		    (unsigned long long)(t_us / 1000000), (unsigned long long)(t_us % 1000000));
done:
	git_revwalk_free(w);
	return error;
}

/* SPDX-License-Identifier: ISC */
/*
 * The repository: open or create, ownership lock, crash cleanup, refusal
 * of repositories that are not ours, flush (objects durable, then refs by
 * compare-and-swap), and reading the tables back at a revision or a time.
 *
 * Invariant: st->durable is what the writer's branch (refs/heads/primary
 * unless opts.branch names another) holds on disk; st->head may run ahead
 * of it (commits not yet flushed) and always descends from it.
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

#include <git2/sys/repository.h>

#include "repo.h"

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
	o->compact_s = 60;
	o->pack_grace_s = 30;
	o->commit_gap_ms = 1000;
	o->body_max = 10;
	o->cache_mb = 64;
	o->fsync = true;
	o->create = true;
}

git_repository *
store_repo(struct store *st)
{
	return st->repo;
}

const char *
store_lib_version(void)
{
	return LIBGIT2_VERSION;
}

const struct store_oid *
store_head(const struct store *st)
{
	return store_soid(&st->head);
}

unsigned
store_pack_count(struct store *st)
{
	/* Settle a merge under way first (a failure shows at the next flush). */
	if (store_odb_merge_settle(st->odb, true) == 1)
		st->npacks = store_odb_pack_count(st->odb);
	return store_odb_pack_count(st->odb);
}

/*
 * Remove what a dead store left, and nothing else. The repository is shared
 * with stock git (`git fetch` into it is how peers' branches arrive), which
 * creates ref locks, tmp_* files and packs whose index is still being
 * written while it works, without knowing gitnet.lock: so only what the
 * store can prove it wrote is removed, and only by the holder of gitnet.lock
 * (the caller):
 *  - the locks of primary and of expire_* branches: those refs are written
 *    by a store only, under gitnet.lock, so a lock file on them belongs to a
 *    store that died holding it (libgit2 would refuse every later write);
 *  - temporary pack files under the store's own names (tmp_gitnet_*, and
 *    pack_git2_* from libgit2's packbuilder in store_repack), and a pack's
 *    .rev/.bitmap/.mtimes whose pack is gone (git renames those after the
 *    pack, so none is in flight).
 * Other locks stay; a write they block fails with a message naming the file.
 * A pack without its index (a crash between the two renames of a flush) is
 * left too: nothing names its objects, git and libgit2 ignore it, and it may
 * as well be a concurrent `git fetch`'s.
 */
static void
cleanup_stale(const char *gitdir)
{
	char path[4400];
	DIR *d;
	struct dirent *de;

	snprintf(path, sizeof(path), "%s/refs/heads/primary.lock", gitdir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/refs/heads", gitdir);
	if ((d = opendir(path)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			size_t l = strlen(de->d_name);

			if (strncmp(de->d_name, "expire_", 7) != 0 || l <= 5 ||
			    strcmp(de->d_name + l - 5, ".lock") != 0)
				continue;
			snprintf(path, sizeof(path), "%s/refs/heads/%s", gitdir, de->d_name);
			unlink(path);
		}
		closedir(d);
	}
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

	/* A branch started from a base has a head before it is on disk. */
	bool root = git_oid_is_zero(&st->head);

	if ((error = store_tree_apply(&tree, st->odb, root ? NULL : &st->head_tree, es)) < 0 ||
	    (error = store_commit_tree(&id, st, &tree, parents, root ? 0 : 1,
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

	store_router_text(&router, st);
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
	store_router_text(&router, st);
	if ((error = git_odb_hash(&rid, router.p, router.len, GIT_OBJECT_BLOB)) < 0) {
		error = store_gerr(error, "store: meta/router");
		goto done;
	}
	if ((error = store_tview_load(&root, st->odb, &st->head_tree)) < 0)
		goto done;
	if ((m = store_tview_find(&root, "meta", 4)) != NULL && m->tree) {
		if ((error = store_tview_load(&meta, st->odb, &m->id)) < 0)
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
		    "store: %s: unknown schema '%.*s' is not supported (this is '%s')",
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

/*
 * Another branch than primary (opts.branch): its head into st->head, or
 * opts.base's commit when it does not exist yet (then have_durable stays
 * false, and the first flush creates the branch without forcing it, so a
 * branch made meanwhile by someone else is not overwritten). The store
 * must exist: primary was found first.
 */
static int
find_branch(struct store *st, const char *base)
{
	git_object *obj = NULL;
	git_commit *c = NULL;
	int error = git_reference_name_to_id(&st->head, st->repo, st->ref);

	if (error == 0) {
		git_oid_cpy(&st->durable, &st->head);
		st->have_durable = true;
		return 0;
	}
	if (error != GIT_ENOTFOUND)
		return store_gerr(error, "store: %s: reading %s", st->path, st->ref);
	if (base == NULL)
		return store_err(GIT_ENOTFOUND, "store: %s: no branch %s (and no base to "
		    "start it from)", st->path, st->ref + strlen("refs/heads/"));
	if ((error = git_revparse_single(&obj, st->repo, base)) < 0 ||
	    (error = git_object_peel((git_object **)&c, obj, GIT_OBJECT_COMMIT)) < 0) {
		error = store_err(GIT_ENOTFOUND, "store: %s: unknown revision '%s'",
		    st->path, base);
		goto done;
	}
	git_oid_cpy(&st->head, git_commit_id(c));
	st->have_durable = false;
done:
	git_commit_free(c);
	git_object_free(obj);
	return error;
}

static int
no_entry(void *ctx, const struct store_entry *e)
{
	(void)ctx;
	(void)e;
	return 0;
}

/*
 * st->xi_build: the expiry index from primary's tables, when nothing has
 * walked them yet (store_load builds it on the way). An entry that does
 * not decode (an interface renamed since, a hand edit) is not the index's
 * to know: the router skips it at restore and counts it.
 */
static int
xi_build(struct store *st)
{
	struct store_skipped skip = { 0 };

	return store_load_skipping(&st->rd, NULL, no_entry, NULL, &skip);
}

/*
 * A store with its copies of path and the options' strings; NULL when out
 * of memory. The caller has called git_libgit2_init() (store_free undoes it).
 */
static struct store *
store_alloc(const char *path, const struct store_opts *o)
{
	struct store *st = calloc(1, sizeof(*st));

	if (st == NULL)
		return NULL;
	st->rd.st = st;
	st->o = *o;
	st->lockfd = -1;
	st->head_moved = store_head_moved;
	st->xi_build = xi_build;
	snprintf(st->ref, sizeof(st->ref), "%s", PRIMARY);
	snprintf(st->tick_prefix, sizeof(st->tick_prefix), "expire_");
	st->path = strdup(path);
	st->router_id = strdup(o->router_id);
	st->router_info = o->router_info ? strdup(o->router_info) : NULL;
	if (st->path == NULL || st->router_id == NULL ||
	    (o->router_info && st->router_info == NULL)) {
		store_free(st);
		return NULL;
	}
	return st;
}

void
store_mem_budget(struct store_mem *m, const struct store_opts *o)
{
	uint64_t mem = o->mem_bytes, cache = (uint64_t)o->cache_mb << 20, w;

	memset(m, 0, sizeof(*m));
	if (mem == 0) {
		m->cache = cache;
		return;
	}
	m->cache = cache < mem / 16 ? cache : mem / 16;
	m->lib_cache = mem / 16 < (256u << 20) ? mem / 16 : (256u << 20);
	m->lib_mapped = mem / 8 < (8ull << 30) ? mem / 8 : (8ull << 30);
	for (w = 64u << 10; w * 2 <= m->lib_mapped / 4 && w < (1u << 30); w *= 2)
		;
	m->lib_window = w;
	m->merge = mem / 16;
}

int
store_trim(struct store *st)
{
	git_odb *none = NULL;

	if (st == NULL || st->odb == NULL || store_odb_pending(st->odb) != 0)
		return 1;
	/*
	 * libgit2 shares an open pack between the odbs that name its path:
	 * the old odb goes first, so its packs (and their caches) are freed
	 * rather than handed to the new one.
	 */
	if (git_odb_new(&none) < 0)
		return store_gerr(-1, "store: object database");
	git_repository_set_odb(st->repo, none);
	git_odb_free(none);
	/* A failure here (out of memory) leaves the store without its object
	 * database: the caller must not use it again (store.h). */
	return store_odb_rebuild(st->odb);
}

static uint64_t
cache_bytes(const struct store_opts *o)
{
	struct store_mem m;

	store_mem_budget(&m, o);
	return m.cache;
}

/*
 * Process-wide libgit2 settings, the same for readers and writers. The
 * memory bounds only from a store given a figure (store_mem_budget): a
 * reader opened without one leaves them as the router set them.
 */
static void
lib_opts(const struct store_opts *o)
{
	struct store_mem m;

	store_mem_budget(&m, o);
	if (o->mem_bytes != 0) {
		git_libgit2_opts(GIT_OPT_SET_CACHE_MAX_SIZE, (ssize_t)m.lib_cache);
		git_libgit2_opts(GIT_OPT_SET_MWINDOW_MAPPED_LIMIT, (size_t)m.lib_mapped);
		git_libgit2_opts(GIT_OPT_SET_MWINDOW_SIZE, (size_t)m.lib_window);
	}
	/*
	 * Keep parsed trees of any size in libgit2's cache (the default limit,
	 * 4 KiB, is below a 256-entry shard, re-read and re-parsed each commit).
	 */
	git_libgit2_opts(GIT_OPT_SET_CACHE_OBJECT_LIMIT, GIT_OBJECT_TREE, (size_t)1 << 20);
	git_libgit2_opts(GIT_OPT_SET_CACHE_OBJECT_LIMIT, GIT_OBJECT_COMMIT, (size_t)1 << 16);
	git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, (int)o->verify_reads);
}

/*
 * The reader opens as the writer does, up to what a writer owns: no lock,
 * no clean-up, no creation, no meta/router, no expiry index. Its object
 * database is the store's (the recorder stays empty: nothing is written).
 */
int
store_reader_open(struct store_reader **out, const char *path)
{
	struct store_opts o;
	struct store *st;
	struct stat sb;
	int error;

	*out = NULL;
	store_opts_default(&o);
	o.router_id = "gitnet-reader";
	o.create = false;
	o.fsync = false;
	if (stat(path, &sb) < 0)
		return store_err(STORE_ENOTFOUND, "no repository at '%s'", path);
	if (git_libgit2_init() < 0)
		return store_gerr(-1, "store: libgit2");
	if ((st = store_alloc(path, &o)) == NULL) {
		git_libgit2_shutdown();
		return store_err(-1, "store: out of memory");
	}
	st->readonly = true;
	lib_opts(&o);
	if (git_repository_open_ext(&st->repo, path, GIT_REPOSITORY_OPEN_NO_SEARCH |
	    GIT_REPOSITORY_OPEN_BARE, NULL) < 0) {
		error = store_err(STORE_EFOREIGN, "'%s' is not a git repository", path);
		goto fail;
	}
	if ((error = find_primary(st, path)) < 0)
		goto fail;
	if (error == 1) {
		error = store_err(STORE_EFOREIGN,
		    "'%s' is not a gitnet store (no branch primary)", path);
		goto fail;
	}
	if ((error = check_schema(st)) < 0 ||
	    (error = store_odb_open(&st->odb, st->repo, false,
	    (size_t)cache_bytes(&st->o))) < 0 ||
	    (error = store_shallow_load(st)) < 0)
		goto fail;
	*out = &st->rd;
	return 0;
fail:
	store_free(st);
	return error;
}

void
store_reader_free(struct store_reader *r)
{
	if (r != NULL && r->st->readonly)
		store_free(r->st);
}

int
store_reader_refresh(struct store_reader *r)
{
	struct store *st = r->st;
	int error;

	if (!st->readonly)
		return 0;	/* a writer knows what it wrote */
	if ((error = store_odb_rebuild(st->odb)) < 0 ||
	    (error = find_primary(st, st->path)) < 0)
		return error;
	if (error == 1)
		return store_err(STORE_EFOREIGN, "store: %s: branch primary is gone", st->path);
	if ((error = store_shallow_load(st)) < 0)
		return error;
	return check_schema(st);
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
	if ((st = store_alloc(path, o)) == NULL)
		return store_err(-1, "store: out of memory");
	if (st->o.body_max == 0)
		st->o.body_max = 50;
	if (st->o.batch_max == 0)
		st->o.batch_max = 1024;
	if (st->o.max_packs < 2)
		st->o.max_packs = 2;
	if (o->branch != NULL && strcmp(o->branch, "primary") != 0) {
		int valid = 0;

		snprintf(st->ref, sizeof(st->ref), "refs/heads/%s", o->branch);
		if (strlen(o->branch) > 128 || git_reference_name_is_valid(&valid, st->ref) < 0 ||
		    !valid) {
			error = store_err(STORE_EINVAL, "store: '%.128s' is not a valid branch name",
			    o->branch);
			goto fail;
		}
		snprintf(st->tick_prefix, sizeof(st->tick_prefix), "%s_expire_", o->branch);
	}
	st->o.branch = st->o.base = NULL;	/* not kept: the caller's strings */
	lib_opts(o);
	/* Refs and packs: fsynced by libgit2 too (the ref file and its directory). */
	git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, (int)o->fsync);

	if (stat(path, &sb) < 0 || (S_ISDIR(sb.st_mode) && dir_empty(path))) {
		if (!o->create || o->side) {
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
	if (o->side) {
		/* A side writer: a reader's open, with an object writer. */
		if ((error = find_primary(st, path)) < 0)
			goto fail;
		if (error == 1) {
			error = store_err(STORE_EFOREIGN,
			    "store: %s: not a gitnet store (no branch primary)", path);
			goto fail;
		}
		git_oid_cpy(&st->durable, &st->head);
		st->have_durable = true;
		if ((error = check_schema(st)) < 0 ||
		    (error = store_odb_open(&st->odb, st->repo, o->fsync,
		    (size_t)cache_bytes(&st->o))) < 0 ||
		    (error = store_shallow_load(st)) < 0)
			goto fail;
		store_odb_set_grace(st->odb, o->pack_grace_s * 1000000ull);
		st->npacks = store_odb_pack_count(st->odb);
		*out = st;
		return 0;
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
	    (size_t)cache_bytes(&st->o))) < 0)
		goto fail;
	store_odb_set_grace(st->odb, o->pack_grace_s * 1000000ull);
	{
		struct store_mem m;

		store_mem_budget(&m, &st->o);
		store_odb_set_merge_max(st->odb, m.merge);
	}
	if ((error = find_primary(st, path)) < 0)
		goto fail;
	if (error == 1 && strcmp(st->ref, PRIMARY) != 0) {
		error = store_err(GIT_ENOTFOUND, "store: %s: empty repository: no %s to "
		    "start %s from", path, o->base ? o->base : "base", st->ref);
		goto fail;
	}
	if (error == 1) {
		if ((error = create_tables(st)) < 0)
			goto fail;
		fresh = true;
	} else if (strcmp(st->ref, PRIMARY) != 0) {
		if ((error = find_branch(st, o->base)) < 0)
			goto fail;
	} else {
		git_oid_cpy(&st->durable, &st->head);
		st->have_durable = true;
	}
	if ((error = check_schema(st)) < 0 || (error = store_shallow_load(st)) < 0)
		goto fail;
	st->npacks = store_odb_pack_count(st->odb);
	/* The expiry index waits for the first walk of the tables (heads.h). */
	st->xi_pending = !fresh;
	if (!fresh && (error = update_router(st)) < 0)
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
	store_shallow_clear(st);
	git_repository_free(st->repo);
	if (st->lockfd >= 0)
		close(st->lockfd);
	store_xidx_free(&st->xi);
	store_tick_free(st);
	free(st->j);
	free(st->newrefs);
	free(st->pcache);
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
	if (st->readonly) {
		store_free(st);
		return 0;
	}
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
store_repack(struct store *st)
{
	int error;

	if ((error = store_flush(st)) < 0 || (error = store_odb_repack(st->odb)) < 0)
		return error;
	st->npacks = store_odb_pack_count(st->odb);
	return 0;
}


int
store_packs_check(struct store *st)
{
	if (st->readonly || st->o.side)
		return store_err(STORE_EINVAL, "store: pack maintenance needs the writer");
	st->npacks = store_odb_pack_count(st->odb);
	return store_packs_maintain(st);
}

int
store_compact(struct store *st)
{
	int error;

	if ((error = store_flush(st)) < 0 || (error = store_odb_compact(st->odb)) < 0)
		return error;
	st->npacks = store_odb_pack_count(st->odb);
	return 0;
}

uint64_t
store_compactions(const struct store *st)
{
	return store_odb_compactions(st->odb);
}

uint64_t
store_history_bytes(struct store *st)
{
	return store_odb_bytes(st->odb);
}

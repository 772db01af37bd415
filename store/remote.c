/* SPDX-License-Identifier: ISC */
/*
 * Pushing history to git remotes: the archive (issue 12). A push opens a
 * repository handle of its own (libgit2's plain one, not the writer's
 * object database), so it runs on any thread next to the writer: it reads
 * packs and refs, and the only thing it writes into the state repository
 * is the remote-tracking ref, through a side writer's transaction
 * (compare-and-swap, the store's one ref path).
 *
 * What is pushed: local_ref to remote_ref, never forced. libgit2 refuses
 * a push that is not a fast-forward of what the remote has
 * (GIT_ENONFASTFORWARD: the archive has commits we lack, or lost some) and
 * the remote's receive-pack refuses one it cannot connect; both come back
 * as STORE_EREFUSED with the reason.
 *
 * URLs are what libgit2 1.5.1 pushes to and stock git serves: a path,
 * file://, git:// (git daemon --enable=receive-pack) and ssh (user@host:path
 * or ssh://; libgit2 built with libssh2, as Debian's is). ssh checks the
 * host key against ~/.ssh/known_hosts (libgit2 does, and fails an unknown
 * key: no callback here overrides it) and authenticates with ssh-agent, then
 * ~/.ssh/id_ed25519, id_ecdsa and id_rsa. http(s) pushes would need
 * credentials in the config: not offered.
 *
 * Shallow repositories. Retention (the lead's, issue 12) cuts history by
 * writing boundary commits into $GIT_DIR/shallow and dropping what lies
 * behind them, as stock git's shallow clones do. libgit2 1.5.1 knows no
 * grafts: its push walk parses the parents of every commit it hides (the
 * remote's head and a few commits under it, revwalk.c add_parents_to_list:
 * "git does it gently here, but we don't like missing objects"), and the
 * fast-forward check parses the parents of the merge base. A push whose
 * remote head is the boundary, or within a few commits of it, fails with
 * "object not found - no match for id (<a parent of the boundary>)".
 * The work-around here: the push's own object database gets a last-resort
 * backend that answers for exactly the missing parents of the boundary
 * commits, with stand-in commits (no parent, time 0) whose tree is an id
 * that does not exist. The walks then end there, as git's would at a
 * graft. A stand-in is never sent: it is only ever reached from the
 * remote's side (hidden), because the boundaries are ancestors of what
 * the remote has. Should one be reached from ours (the remote lacks a
 * boundary: history was dropped before it was archived), packing it asks
 * for the missing tree, which fails the push before a byte is sent; that
 * comes back as STORE_EREFUSED saying so. One stand-in may be hidden and
 * still be read whole: a head of the remote itself (retention cut just
 * above what was pushed, so the remote's head is a boundary's missing
 * parent); libgit2 reads a hidden head's tree to mark it present, so the
 * push first lists the remote's heads, and such a stand-in gets the empty
 * tree instead (it is hidden: never sent). With strict hash verification
 * (store_opts.verify_reads) libgit2 would refuse the stand-ins: a shallow
 * push then fails as without the shim.
 *
 * The sync remote (issue 14) uses the same handles: store_push_refs()
 * (a head and a heartbeat in one connection, some refs forced or
 * deleted), store_ls_remote() (a listing, no objects), store_fetch() (a
 * peer's branch into a tracking ref of the state repository, through the
 * side writer), store_ls_fetch() (both in one connection: the standby's
 * look at the remote) and store_beacon() (the heartbeat's constant
 * commit). A fetch into a shallow repository gets the same stand-ins:
 * libgit2's negotiation walks the local refs' history as a push does
 * (untested). Over a path, libgit2's local transport lists refs one by
 * one and fails when one goes meanwhile: listings of a path read its refs
 * through the ref iterator, and a connection that fails so is retried.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2/sys/odb_backend.h>

#include "repo.h"

/* --- the shallow shim --- */

struct shim {
	git_odb_backend	parent;
	git_oid		*ids;		/* missing parents of boundaries, sorted */
	bool		*remote_has;	/* ids[i] is a head of the remote */
	size_t		n;
	git_oid		nowhere;	/* the stand-ins' tree: exists nowhere */
	bool		tripped;	/* a stand-in was about to be sent */
};

/* The index of id among the stand-ins, or -1. */
static long
shim_find(const struct shim *s, const git_oid *id)
{
	const git_oid *p = bsearch(id, s->ids, s->n, sizeof(*s->ids), store_oid_qcmp);

	return p == NULL ? -1 : (long)(p - s->ids);
}

static bool
shim_has(const struct shim *s, const git_oid *id)
{
	return shim_find(s, id) >= 0;
}

/*
 * Stand-in i. Its tree is one that exists nowhere, except for a stand-in
 * the remote has as a head (retention cut just above what was pushed):
 * libgit2 reads a hidden head's tree to mark it as present, and the
 * empty tree (which libgit2 knows without reading) says nothing more.
 */
static size_t
shim_text(char *buf, size_t cap, const struct shim *s, long i)
{
	static const char empty_tree[] = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";
	char hex[GIT_OID_HEXSZ + 1];
	int n;

	git_oid_tostr(hex, sizeof(hex), &s->nowhere);
	if (i >= 0 && s->remote_has[i])
		memcpy(hex, empty_tree, sizeof(empty_tree));
	n = snprintf(buf, cap, "tree %s\nauthor gitnet <> 0 +0000\n"
	    "committer gitnet <> 0 +0000\n\nshallow boundary: history not here\n", hex);
	return n < 0 ? 0 : (size_t)n;
}

static int
shim_read(void **buf, size_t *len, git_object_t *type, git_odb_backend *b,
    const git_oid *id)
{
	struct shim *s = (struct shim *)b;
	long i = shim_find(s, id);
	char text[256];
	size_t n;

	if (git_oid_equal(id, &s->nowhere))
		s->tripped = true;
	if (i < 0)
		return GIT_ENOTFOUND;
	n = shim_text(text, sizeof(text), s, i);
	if ((*buf = git_odb_backend_data_alloc(b, n)) == NULL)
		return -1;
	memcpy(*buf, text, n);
	*len = n;
	*type = GIT_OBJECT_COMMIT;
	return 0;
}

static int
shim_read_header(size_t *len, git_object_t *type, git_odb_backend *b, const git_oid *id)
{
	struct shim *s = (struct shim *)b;
	long i = shim_find(s, id);
	char text[256];

	if (git_oid_equal(id, &s->nowhere))
		s->tripped = true;
	if (i < 0)
		return GIT_ENOTFOUND;
	*len = shim_text(text, sizeof(text), s, i);
	*type = GIT_OBJECT_COMMIT;
	return 0;
}

static int
shim_exists(git_odb_backend *b, const git_oid *id)
{
	return shim_has((struct shim *)b, id);
}

static void
shim_free(git_odb_backend *b)
{
	struct shim *s = (struct shim *)b;

	free(s->ids);
	free(s->remote_has);
	free(s);
}

/* The parents of commit id that the object database lacks, into s. */
static int
shim_add_parents(struct shim *s, git_odb *odb, const git_oid *id, size_t *cap)
{
	git_odb_object *o = NULL;
	const char *p, *end;
	int error;

	if ((error = git_odb_read(&o, odb, id)) < 0)
		return store_gerr(error, "store: push: shallow boundary");
	p = git_odb_object_data(o);
	end = p + git_odb_object_size(o);
	/* The header: lines up to the first empty one; parents are "parent HEX". */
	while (p < end && *p != '\n') {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		git_oid parent;

		if (nl == NULL)
			break;
		if (nl - p == 7 + GIT_OID_HEXSZ && memcmp(p, "parent ", 7) == 0 &&
		    git_oid_fromstrn(&parent, p + 7, GIT_OID_HEXSZ) == 0 &&
		    !git_odb_exists(odb, &parent)) {
			if (s->n == *cap) {
				size_t ncap = *cap ? *cap * 2 : 16;
				git_oid *v = realloc(s->ids, ncap * sizeof(*v));

				if (v == NULL) {
					git_odb_object_free(o);
					return store_err(-1, "store: out of memory");
				}
				s->ids = v;
				*cap = ncap;
			}
			git_oid_cpy(&s->ids[s->n++], &parent);
		}
		p = nl + 1;
	}
	git_odb_object_free(o);
	return 0;
}

/*
 * When the repository is shallow, give its object database the stand-ins
 * for the missing parents of its boundary commits. *out is the shim (owned
 * by the odb from here on), or NULL when there is nothing to stand in for.
 */
static int
shim_install(struct shim **out, git_repository *repo)
{
	char path[PATH_MAX], line[128];
	struct shim *s;
	git_odb *odb = NULL;
	size_t cap = 0;
	FILE *f;
	int error = 0;

	*out = NULL;
	snprintf(path, sizeof(path), "%sshallow", git_repository_path(repo));
	if ((f = fopen(path, "r")) == NULL)
		return 0;		/* not shallow */
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		fclose(f);
		return store_err(-1, "store: out of memory");
	}
	if ((error = git_repository_odb(&odb, repo)) < 0) {
		error = store_gerr(error, "store: push: object database");
		goto fail;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		git_oid id;

		if (strlen(line) < GIT_OID_HEXSZ || git_oid_fromstrn(&id, line, GIT_OID_HEXSZ) < 0)
			continue;
		if ((error = shim_add_parents(s, odb, &id, &cap)) < 0)
			goto fail;
	}
	if (s->n == 0) {
		error = 0;
		goto fail;		/* nothing missing: no shim */
	}
	qsort(s->ids, s->n, sizeof(*s->ids), store_oid_qcmp);
	if ((s->remote_has = calloc(s->n, sizeof(*s->remote_has))) == NULL) {
		error = store_err(-1, "store: out of memory");
		goto fail;
	}
	/* An id no object has: a hash of nothing git would write as a tree. */
	git_odb_hash(&s->nowhere, "gitnet: shallow stand-in", 24, GIT_OBJECT_TREE);
	if ((error = git_odb_init_backend(&s->parent, GIT_ODB_BACKEND_VERSION)) < 0)
		goto fail;
	s->parent.read = shim_read;
	s->parent.read_header = shim_read_header;
	s->parent.exists = shim_exists;
	s->parent.free = shim_free;
	/* Last resort: below libgit2's packs (2) and loose objects (1). */
	if ((error = git_odb_add_backend(odb, &s->parent, 0)) < 0) {
		error = store_gerr(error, "store: push: shallow stand-ins");
		goto fail;
	}
	fclose(f);
	git_odb_free(odb);
	*out = s;
	return 0;
fail:
	fclose(f);
	git_odb_free(odb);
	free(s->ids);
	free(s->remote_has);
	free(s);
	return error;
}

/* --- the push --- */

struct push_ctx {
	git_oid		src, dst;	/* the remote's old id, what we sent */
	bool		negotiated;
	char		status[256];	/* the remote's refusal, "" when none */
	unsigned	cred_tries;
	/* store_push_refs: the specs, and the pack's size */
	struct store_pushspec *v;
	size_t		n;
	uint64_t	bytes;
};

static int
on_negotiation(const git_push_update **updates, size_t len, void *payload)
{
	struct push_ctx *c = payload;

	if (len > 0) {
		git_oid_cpy(&c->src, &updates[0]->src);
		git_oid_cpy(&c->dst, &updates[0]->dst);
		c->negotiated = true;
	}
	return 0;
}

static int
on_update(const char *ref, const char *status, void *payload)
{
	struct push_ctx *c = payload;

	if (status != NULL)
		snprintf(c->status, sizeof(c->status), "%s: %s", ref, status);
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->v[i].dst, ref) == 0) {
			c->v[i].status = status == NULL ? 0 : STORE_EREFUSED;
			c->v[i].sent = status == NULL && !store_oid_equal(&c->v[i].old,
			    &c->v[i].local);
		}
	return 0;
}

static int
on_push_progress(unsigned int current, unsigned int total, size_t bytes, void *payload)
{
	struct push_ctx *c = payload;

	(void)current;
	(void)total;
	if (bytes > c->bytes)
		c->bytes = bytes;
	return 0;
}

/* ssh: the agent, then the usual key files; each once, then give up. */
static int
on_credentials(git_credential **out, const char *url, const char *user,
    unsigned int allowed, void *payload)
{
	static const char *const keys[] = { "id_ed25519", "id_ecdsa", "id_rsa" };
	struct push_ctx *c = payload;
	const char *home = getenv("HOME");
	char priv[PATH_MAX], pub[PATH_MAX + 8];

	(void)url;
	if (user == NULL)
		user = "git";
	if (allowed & GIT_CREDENTIAL_USERNAME)
		return git_credential_username_new(out, user);
	if (!(allowed & GIT_CREDENTIAL_SSH_KEY))
		return GIT_PASSTHROUGH;
	while (c->cred_tries < 1 + sizeof(keys) / sizeof(keys[0])) {
		unsigned i = c->cred_tries++;

		if (i == 0) {
			if (getenv("SSH_AUTH_SOCK") != NULL)
				return git_credential_ssh_key_from_agent(out, user);
			continue;
		}
		if (home == NULL)
			break;
		snprintf(priv, sizeof(priv), "%s/.ssh/%s", home, keys[i - 1]);
		snprintf(pub, sizeof(pub), "%s.pub", priv);
		if (access(priv, R_OK) == 0)
			return git_credential_ssh_key_new(out, user,
			    access(pub, R_OK) == 0 ? pub : NULL, priv, NULL);
	}
	return GIT_PASSTHROUGH;		/* libgit2: authentication failed */
}

/* The side writer: the store's ref path (compare-and-swap) on one ref. */
static int
side_open(struct store **st, const char *gitdir)
{
	struct store_opts o;

	store_opts_default(&o);
	o.router_id = "gitnet-push";
	o.side = true;
	o.create = false;
	o.cache_mb = 0;
	o.max_packs = UINT_MAX / 4;	/* packs are the writer's to merge */
	return store_open(st, gitdir, &o);
}

/* Set ref to id (NULL: delete it), from what it names now. */
static int
ref_set(struct store *st, const char *ref, const struct store_oid *id)
{
	struct store_txn *t = NULL;
	struct store_oid cur;
	int error, has;

	if ((error = store_ref_target(&cur, store_reader_of(st), ref)) < 0 &&
	    error != STORE_ENOTFOUND)
		return error;
	has = error == 0;
	if ((!has && id == NULL) || (has && id != NULL && store_oid_equal(&cur, id)))
		return 0;
	if ((error = store_txn_begin(&t, st)) < 0 ||
	    (error = store_txn_ref(t, ref, id, has ? &cur : NULL)) < 0) {
		store_txn_rollback(t);
		return error;
	}
	return store_txn_commit(t);
}

/* libgit2 calls a path that does not exist "unsupported URL protocol". */
static int
url_check(const char *what, const char *url)
{
	const char *path = strncmp(url, "file://", 7) == 0 ? url + 7 : url;
	struct stat sb;

	if (path[0] == '/' && stat(path, &sb) < 0)
		return store_err(STORE_ENOTFOUND, "store: %s %s: no repository there", what, url);
	return 0;
}

/* The state repository, a handle of its own for one call (any thread). */
static int
repo_open(git_repository **repo, const char *gitdir, const char *what)
{
	if (git_repository_open_ext(repo, gitdir, GIT_REPOSITORY_OPEN_NO_SEARCH |
	    GIT_REPOSITORY_OPEN_BARE, NULL) < 0)
		return store_gerr(STORE_EFOREIGN, "store: %s: %s: not a git repository",
		    what, gitdir);
	return 0;
}

/* Which of the shim's stand-ins the remote has as heads (see shim_text). */
static void
shim_note_heads(struct shim *shim, const git_remote_head **heads, size_t n)
{
	for (size_t i = 0; shim != NULL && i < n; i++) {
		long k = shim_find(shim, &heads[i]->oid);

		if (k >= 0)
			shim->remote_has[k] = true;
	}
}

/* git_remote_push failed with error: the store's code and message. */
static int
push_failed(const struct shim *shim, int error, const char *url, const char *tripped)
{
	if (shim != NULL && shim->tripped)
		return store_err(STORE_EREFUSED, "store: push to %s: the remote lacks history "
		    "this repository has dropped%s", url, tripped);
	if (error == GIT_ENONFASTFORWARD)
		return store_gerr(STORE_EREFUSED, "store: push to %s: not a fast-forward", url);
	return store_gerr(error, "store: push to %s", url);
}

int
store_push(struct store_push_result *res, const char *gitdir, const char *url,
    const char *local_ref, const char *remote_ref, const char *track,
    const struct store_oid *skip_if)
{
	git_push_options po = GIT_PUSH_OPTIONS_INIT;
	git_remote_create_options ro = GIT_REMOTE_CREATE_OPTIONS_INIT;
	struct push_ctx c = { 0 };
	git_repository *repo = NULL;
	git_remote *rm = NULL;
	git_commit *commit = NULL;
	struct shim *shim = NULL;
	struct store *side = NULL;
	char spec[2 * (STORE_REF_MAX + 40) + 2], *specp = spec;
	git_strarray specs = { &specp, 1 };
	git_oid local;
	int error;

	memset(res, 0, sizeof(*res));
	if (strncmp(local_ref, "refs/", 5) != 0 || strncmp(remote_ref, "refs/", 5) != 0 ||
	    strlen(local_ref) > STORE_REF_MAX || strlen(remote_ref) > STORE_REF_MAX ||
	    (track != NULL && !store_ref_name_valid(track)))
		return store_err(STORE_EINVAL, "store: push: refs must be full names");
	if (net_lib_init() < 0)
		return store_gerr(-1, "store: libgit2");
	if ((error = repo_open(&repo, gitdir, "push")) < 0)
		goto done;
	if ((error = git_reference_name_to_id(&local, repo, local_ref)) < 0) {
		error = store_gerr(error == GIT_ENOTFOUND ? STORE_ENOTFOUND : error,
		    "store: push: %s", local_ref);
		goto done;
	}
	git_oid_cpy(store_goid_mut(&res->local), &local);
	if (git_commit_lookup(&commit, repo, &local) == 0)
		res->local_time = git_commit_time(commit);
	git_commit_free(commit);
	commit = NULL;
	if (skip_if != NULL && git_oid_equal(&local, store_goid(skip_if))) {
		res->pushed = res->local;
		res->pushed_time = res->local_time;
		error = 1;			/* nothing new since */
		goto done;
	}
	if ((error = url_check("push to", url)) < 0 ||
	    (error = shim_install(&shim, repo)) < 0)
		goto done;
	/*
	 * Anonymous, without url.<base>.insteadOf: libgit2 1.5.1 matches the
	 * config against a regex for it, and its git_regexp_match leaks pcre2's
	 * match data (some 20 KB) on every entry that does not match -- per
	 * push, for as long as the router runs.
	 */
	ro.repository = repo;
	ro.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
	if ((error = git_remote_create_with_opts(&rm, url, &ro)) < 0) {
		error = store_gerr(STORE_EINVAL, "store: push: '%s'", url);
		goto done;
	}
	snprintf(spec, sizeof(spec), "%s:%s", local_ref, remote_ref);	/* no '+' */
	po.callbacks.push_negotiation = on_negotiation;
	po.callbacks.push_update_reference = on_update;
	po.callbacks.credentials = on_credentials;
	po.callbacks.payload = &c;
	if (shim != NULL) {
		/* Which stand-ins the remote has as heads (see shim_text). */
		const git_remote_head **heads;
		size_t nheads;

		if ((error = git_remote_connect(rm, GIT_DIRECTION_PUSH, &po.callbacks, NULL,
		    NULL)) < 0 || (error = git_remote_ls(&heads, &nheads, rm)) < 0) {
			error = store_gerr(error, "store: push to %s", url);
			goto done;
		}
		shim_note_heads(shim, heads, nheads);
	}
	if ((error = git_remote_push(rm, &specs, &po)) < 0) {
		error = push_failed(shim, error, url, " (a shallow boundary is not on the "
		    "remote): the archive cannot be continued");
		goto done;
	}
	if (c.status[0] != '\0') {
		error = store_err(STORE_EREFUSED, "store: push to %s: refused: %s", url, c.status);
		goto done;
	}
	if (c.negotiated) {
		git_oid_cpy(store_goid_mut(&res->pushed), &c.dst);
		git_oid_cpy(store_goid_mut(&res->remote_old), &c.src);
		res->sent = !git_oid_equal(&c.src, &c.dst);
	} else {
		res->pushed = res->local;	/* the remote had it already */
	}
	if (git_commit_lookup(&commit, repo, store_goid(&res->pushed)) == 0)
		res->pushed_time = git_commit_time(commit);
	if (track != NULL && ((error = side_open(&side, gitdir)) < 0 ||
	    (error = ref_set(side, track, &res->pushed)) < 0))
		goto done;
	error = 0;
done:
	store_free(side);
	git_commit_free(commit);
	git_remote_free(rm);
	git_repository_free(repo);	/* frees the shim with its odb */
	git_libgit2_shutdown();
	return error;
}

/* --- several refs in one push, listings, fetches: the sync (issue 14) --- */

/* An anonymous remote (repo may be NULL), without insteadOf (see store_push). */
static int
remote_anon(git_remote **rm, git_repository *repo, const char *what, const char *url)
{
	git_remote_create_options ro = GIT_REMOTE_CREATE_OPTIONS_INIT;
	int error;

	ro.repository = repo;
	ro.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
	if ((error = git_remote_create_with_opts(rm, url, &ro)) < 0)
		return store_gerr(STORE_EINVAL, "store: %s '%s': not a URL", what, url);
	return 0;
}

/* Whether repo's object database has id (0 when it cannot say). */
static bool
obj_exists(git_repository *repo, const git_oid *id, bool refresh)
{
	git_odb *odb = NULL;
	bool has;

	if (git_repository_odb(&odb, repo) < 0) {
		git_error_clear();
		return false;
	}
	if (refresh)
		git_odb_refresh(odb);
	has = git_odb_exists(odb, id);
	git_odb_free(odb);
	return has;
}

/*
 * An anonymous remote (repo may be NULL), connected, and its listing.
 * Over a path (libgit2's local transport) the listing reads the remote's
 * refs one by one, and one deleted meanwhile (another router's beat)
 * fails it ("reference '...' not found", -1 of class reference): that is
 * looked at again, a few times, each with a new remote (libgit2 1.5.1
 * leaks a remote's transport when it connects twice).
 */
static int
connect_ls(git_remote **rm, git_repository *repo, const char *what, const char *url,
    git_direction dir, const git_remote_callbacks *cb, const git_remote_head ***heads,
    size_t *n)
{
	int error = 0;

	for (int tries = 0; tries < 5; tries++) {
		git_remote_free(*rm);
		*rm = NULL;
		if ((error = remote_anon(rm, repo, what, url)) < 0)
			return error;
		if ((error = git_remote_connect(*rm, dir, cb, NULL, NULL)) == 0 &&
		    (error = git_remote_ls(heads, n, *rm)) == 0)
			return 0;
		if (error != GIT_ENOTFOUND && (git_error_last() == NULL ||
		    git_error_last()->klass != GIT_ERROR_REFERENCE))
			break;
		git_error_clear();
	}
	return store_gerr(error, "store: %s %s", what, url);
}

static const git_remote_head *
head_find(const git_remote_head **heads, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(heads[i]->name, name) == 0)
			return heads[i];
	return NULL;
}

static bool
spec_ok(const struct store_pushspec *s)
{
	return s->dst != NULL && strncmp(s->dst, "refs/", 5) == 0 &&
	    strlen(s->dst) < STORE_REF_MAX && store_ref_name_valid(s->dst) &&
	    (s->src == NULL || (strncmp(s->src, "refs/", 5) == 0 &&
	    strlen(s->src) < STORE_REF_MAX)) &&
	    (s->track == NULL || store_ref_name_valid(s->track));
}

/* The listing a push starts with, under "refs/", to fn (peeled tags left out). */
static int
heads_give(const git_remote_head **heads, size_t n, store_ls_fn fn, void *ctx)
{
	int error = 0;

	for (size_t i = 0; fn != NULL && i < n && error == 0; i++)
		if (strncmp(heads[i]->name, "refs/", 5) == 0 &&
		    strstr(heads[i]->name, "^{}") == NULL)
			error = fn(heads[i]->name, store_soid(&heads[i]->oid), ctx);
	return error;
}

int
store_push_refs(struct store_push_stats *res, const char *gitdir, const char *url,
    struct store_pushspec *v, size_t n, const char *prune)
{
	return store_push_refs_ls(res, gitdir, url, v, n, prune, NULL, NULL);
}

int
store_push_refs_ls(struct store_push_stats *res, const char *gitdir, const char *url,
    struct store_pushspec *v, size_t n, const char *prune, store_ls_fn fn, void *ctx)
{
	git_push_options po = GIT_PUSH_OPTIONS_INIT;
	struct push_ctx c = { 0 };
	git_repository *repo = NULL;
	git_remote *rm = NULL;
	struct shim *shim = NULL;
	struct store *side = NULL;
	const git_remote_head **heads;
	size_t nheads = 0, nspec = 0;
	char **specs = NULL, *refused = NULL;
	git_strarray sa;
	int error;

	memset(res, 0, sizeof(*res));
	for (size_t i = 0; i < n; i++) {
		if (!spec_ok(&v[i]))
			return store_err(STORE_EINVAL, "store: push to %s: refs must be full names",
			    url);
		v[i].status = 0;
		v[i].sent = false;
		memset(&v[i].local, 0, sizeof(v[i].local));
		memset(&v[i].old, 0, sizeof(v[i].old));
	}
	if (prune != NULL && strncmp(prune, "refs/", 5) != 0)
		return store_err(STORE_EINVAL, "store: push: prune must be under refs/");
	if (net_lib_init() < 0)
		return store_gerr(-1, "store: libgit2");
	if ((error = repo_open(&repo, gitdir, "push")) < 0)
		goto done;
	for (size_t i = 0; i < n; i++)
		if (v[i].src != NULL && (error = git_reference_name_to_id(
		    store_goid_mut(&v[i].local), repo, v[i].src)) < 0) {
			error = store_gerr(error == GIT_ENOTFOUND ? STORE_ENOTFOUND : error,
			    "store: push: %s", v[i].src);
			goto done;
		}
	if ((error = url_check("push to", url)) < 0 ||
	    (error = shim_install(&shim, repo)) < 0)
		goto done;
	c.v = v;
	c.n = n;
	po.callbacks.push_update_reference = on_update;
	po.callbacks.push_transfer_progress = on_push_progress;
	po.callbacks.credentials = on_credentials;
	po.callbacks.payload = &c;
	/* One connection: list, then push over it (git_remote_upload reuses it). */
	if ((error = connect_ls(&rm, repo, "push to", url, GIT_DIRECTION_PUSH, &po.callbacks,
	    &heads, &nheads)) < 0)
		goto done;
	shim_note_heads(shim, heads, nheads);
	if ((error = heads_give(heads, nheads, fn, ctx)) != 0)
		goto done;
	res->listed = true;
	if ((specs = calloc(n + nheads + 1, sizeof(*specs))) == NULL) {
		error = store_err(-1, "store: out of memory");
		goto done;
	}
	/* Creations and updates first (pass 0), then deletions (pass 1). */
	for (size_t j = 0; j < 2 * n; j++) {
		size_t i = j % n;
		const git_remote_head *h = head_find(heads, nheads, v[i].dst);
		size_t len = strlen(v[i].dst) + (v[i].src ? strlen(v[i].src) : 0) + 3;

		if ((j < n) != (v[i].src != NULL))
			continue;
		if (h != NULL)
			git_oid_cpy(store_goid_mut(&v[i].old), &h->oid);
		if (v[i].src == NULL ? h == NULL : store_oid_equal(&v[i].old, &v[i].local))
			continue;		/* so already */
		/*
		 * Not forced and not a fast-forward: refused here, alone, so
		 * that the other specs (the heartbeat) still go; libgit2
		 * would fail the whole push.
		 */
		if (v[i].src != NULL && !v[i].force && h != NULL &&
		    (!obj_exists(repo, &h->oid, false) ||
		    git_graph_descendant_of(repo, store_goid(&v[i].local), &h->oid) != 1)) {
			git_error_clear();
			v[i].status = STORE_EREFUSED;
			res->refused++;
			if (refused == NULL)
				refused = (char *)v[i].dst;
			continue;
		}
		if ((specs[nspec] = malloc(len)) == NULL) {
			error = store_err(-1, "store: out of memory");
			goto done;
		}
		snprintf(specs[nspec++], len, "%s%s:%s", v[i].force ? "+" : "",
		    v[i].src ? v[i].src : "", v[i].dst);
	}
	/* Prune: the remote's refs under prune that no spec names go too. */
	for (size_t i = 0; prune != NULL && i < nheads; i++) {
		const char *name = heads[i]->name;
		bool named = false;
		size_t len = strlen(name) + 2;

		if (strncmp(name, prune, strlen(prune)) != 0 || strstr(name, "^{}") != NULL)
			continue;
		for (size_t k = 0; k < n && !named; k++)
			named = strcmp(v[k].dst, name) == 0;
		if (named)
			continue;
		if ((specs[nspec] = malloc(len)) == NULL) {
			error = store_err(-1, "store: out of memory");
			goto done;
		}
		snprintf(specs[nspec++], len, ":%s", name);
		res->pruned++;
	}
	if (nspec > 0) {
		sa.strings = specs;
		sa.count = nspec;
		if ((error = git_remote_push(rm, &sa, &po)) < 0) {
			error = push_failed(shim, error, url, "");
			for (size_t i = 0; i < n; i++)
				if (v[i].status == 0)
					v[i].status = error;
			goto done;
		}
		res->bytes = c.bytes;
		res->pushed = true;
	}
	/* Specs no report named (local transports may not): they went. */
	for (size_t i = 0; i < n; i++) {
		if (v[i].status == STORE_EREFUSED) {
			if (refused == NULL) {
				refused = (char *)v[i].dst;
				res->refused++;
			}
			continue;
		}
		if (v[i].status == 0 && !v[i].sent)
			v[i].sent = !store_oid_equal(&v[i].old, &v[i].local);
	}
	error = 0;
	for (size_t i = 0; i < n && error == 0; i++) {
		git_oid cur;
		bool has;

		if (v[i].status != 0 || v[i].track == NULL)
			continue;
		/* So already (a beat's unchanged head): no side writer to open. */
		has = git_reference_name_to_id(&cur, repo, v[i].track) == 0;
		git_error_clear();
		if (v[i].src != NULL ? has && git_oid_equal(&cur, store_goid(&v[i].local)) : !has)
			continue;
		if ((side == NULL && (error = side_open(&side, gitdir)) < 0) ||
		    (error = ref_set(side, v[i].track, v[i].src ? &v[i].local : NULL)) < 0)
			break;
	}
	if (error == 0 && refused != NULL)
		error = store_err(STORE_EREFUSED, "store: push to %s: %s refused%s%s", url,
		    refused, c.status[0] ? ": " : " (not a fast-forward)", c.status);
done:
	/* Nothing went: every spec says why. */
	for (size_t i = 0; error < 0 && error != STORE_EREFUSED && !res->pushed && i < n; i++)
		if (v[i].status == 0)
			v[i].status = error;
	for (size_t i = 0; specs != NULL && i < nspec; i++)
		free(specs[i]);
	free(specs);
	store_free(side);
	git_remote_free(rm);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return error;
}

/* A path or file:// URL: libgit2's local transport. */
static bool
is_path(const char *url)
{
	return url[0] == '/' || strncmp(url, "file:///", 8) == 0;
}

/*
 * A path's listing, read from its refs directly: libgit2's local
 * transport lists a repository's refs one by one and fails (and leaks the
 * ref it was reading) when one goes meanwhile, as a beat's old alive ref
 * does; the ref iterator skips it. The watcher lists many times a second.
 */
static int
ls_local(const char *path, const char *url, size_t plen, const char *prefix,
    store_ls_fn fn, void *ctx)
{
	git_repository *repo = NULL;
	git_reference_iterator *it = NULL;
	git_reference *ref;
	int error;

	if ((error = git_repository_open_ext(&repo, path, GIT_REPOSITORY_OPEN_NO_SEARCH,
	    NULL)) < 0 || (error = git_reference_iterator_new(&it, repo)) < 0) {
		error = store_gerr(error, "store: ls-remote %s", url);
		goto done;
	}
	while ((error = git_reference_next(&ref, it)) == 0) {
		const char *name = git_reference_name(ref);

		if (git_reference_type(ref) == GIT_REFERENCE_DIRECT &&
		    (plen == 0 || strncmp(name, prefix, plen) == 0))
			error = fn(name, store_soid(git_reference_target(ref)), ctx);
		git_reference_free(ref);
		if (error != 0)
			goto done;
	}
	if (error == GIT_ITEROVER)
		error = 0;
	else
		error = store_gerr(error, "store: ls-remote %s", url);
done:
	git_reference_iterator_free(it);
	git_repository_free(repo);
	return error;
}

int
store_ls_remote(const char *url, const char *prefix, store_ls_fn fn, void *ctx)
{
	git_remote_callbacks cb = GIT_REMOTE_CALLBACKS_INIT;
	struct push_ctx c = { 0 };
	git_remote *rm = NULL;
	const git_remote_head **heads;
	size_t nheads, plen = prefix ? strlen(prefix) : 0;
	int error;

	if (net_lib_init() < 0)
		return store_gerr(-1, "store: libgit2");
	cb.credentials = on_credentials;
	cb.payload = &c;
	if ((error = url_check("ls-remote", url)) < 0)
		goto done;
	if (is_path(url)) {
		error = ls_local(url[0] == '/' ? url : url + 7, url, plen, prefix, fn, ctx);
		goto done;
	}
	if ((error = connect_ls(&rm, NULL, "ls-remote", url, GIT_DIRECTION_FETCH, &cb, &heads,
	    &nheads)) < 0)
		goto done;
	error = 0;
	for (size_t i = 0; i < nheads && error == 0; i++) {
		const char *name = heads[i]->name;

		if ((plen > 0 && strncmp(name, prefix, plen) != 0) || strstr(name, "^{}") != NULL)
			continue;
		error = fn(name, store_soid(&heads[i]->oid), ctx);
	}
done:
	git_remote_free(rm);
	git_libgit2_shutdown();
	return error;
}

/* libgit2 counts received bytes over git:// only for a progress callback. */
static int
on_fetch_progress(const git_indexer_progress *p, void *payload)
{
	struct push_ctx *c = payload;

	if (p->received_bytes > c->bytes)
		c->bytes = p->received_bytes;
	return 0;
}

/* store_ls_fetch's look for one ref in a path's listing. */
struct ls_want {
	const char	*ref;
	bool		has;
	struct store_oid id;
};

static int
ls_exact(const char *name, const struct store_oid *id, void *ctx)
{
	struct ls_want *w = ctx;

	if (strcmp(name, w->ref) == 0) {
		w->has = true;
		w->id = *id;
	}
	return 0;
}

/*
 * The fetch itself, over a connected rm whose listing is heads: remote_ref
 * into local_ref (see store_fetch). STORE_ENOTFOUND without remote_ref.
 */
static int
fetch_listed(struct store_fetch_result *res, git_repository *repo, const char *gitdir,
    const char *url, git_remote *rm, git_fetch_options *fo, struct push_ctx *c,
    const git_remote_head **heads, size_t nheads, const char *remote_ref,
    const char *local_ref)
{
	const git_remote_head *h;
	char *specp = (char *)remote_ref;
	git_strarray specs = { &specp, 1 };
	struct store *side = NULL;
	git_oid want;
	int error;

	if ((h = head_find(heads, nheads, remote_ref)) == NULL)
		return store_err(STORE_ENOTFOUND, "store: fetch from %s: no %s there", url,
		    remote_ref);
	git_oid_cpy(&want, &h->oid);
	git_oid_cpy(store_goid_mut(&res->fetched), &want);
	if (!obj_exists(repo, &want, false)) {
		const git_indexer_progress *p;

		if ((error = git_remote_download(rm, &specs, fo)) < 0)
			return store_gerr(error, "store: fetch from %s", url);
		p = git_remote_stats(rm);
		res->objects = p->received_objects;
		res->bytes = p->received_bytes > c->bytes ? p->received_bytes : c->bytes;
		if (!obj_exists(repo, &want, true))
			return store_err(STORE_EIO, "store: fetch from %s: %s did not arrive",
			    url, remote_ref);
	}
	/* The tracking ref, forced: the peer's retention may rewrite its history. */
	if ((error = side_open(&side, gitdir)) < 0)
		return error;
	if ((error = store_ref_target(&res->old, store_reader_of(side), local_ref)) < 0 &&
	    error != STORE_ENOTFOUND)
		goto done;
	res->updated = !store_oid_equal(&res->old, &res->fetched);
	error = ref_set(side, local_ref, &res->fetched);
done:
	store_free(side);
	return error;
}

/*
 * store_fetch and store_ls_fetch: one connection, its listing given to fn
 * (when not NULL) for the refs under prefix, then remote_ref fetched when
 * local_ref does not name it already (always, when fn is NULL).
 */
static int
fetch_any(struct store_fetch_result *res, const char *gitdir, const char *url,
    const char *prefix, store_ls_fn fn, void *ctx, const char *remote_ref,
    const char *local_ref)
{
	git_fetch_options fo = GIT_FETCH_OPTIONS_INIT;
	struct push_ctx c = { 0 };
	git_repository *repo = NULL;
	git_remote *rm = NULL;
	struct shim *shim = NULL;
	const git_remote_head **heads;
	size_t nheads, plen = prefix ? strlen(prefix) : 0;
	int error;

	memset(res, 0, sizeof(*res));
	if (remote_ref != NULL && (strncmp(remote_ref, "refs/", 5) != 0 ||
	    strlen(remote_ref) >= STORE_REF_MAX || !store_ref_name_valid(local_ref)))
		return store_err(STORE_EINVAL, "store: fetch: refs must be full names");
	if (net_lib_init() < 0)
		return store_gerr(-1, "store: libgit2");
	if ((error = repo_open(&repo, gitdir, "fetch")) < 0)
		goto done;
	if ((error = url_check("fetch from", url)) < 0 ||
	    (error = shim_install(&shim, repo)) < 0)
		goto done;
	fo.callbacks.credentials = on_credentials;
	fo.callbacks.transfer_progress = on_fetch_progress;
	fo.callbacks.payload = &c;
	fo.update_fetchhead = 0;
	if ((error = connect_ls(&rm, repo, "fetch from", url, GIT_DIRECTION_FETCH,
	    &fo.callbacks, &heads, &nheads)) < 0)
		goto done;
	for (size_t i = 0; fn != NULL && i < nheads; i++) {
		const char *name = heads[i]->name;

		if ((plen > 0 && strncmp(name, prefix, plen) != 0) || strstr(name, "^{}") != NULL)
			continue;
		if ((error = fn(name, store_soid(&heads[i]->oid), ctx)) != 0)
			goto done;
	}
	error = 0;
	if (remote_ref == NULL)
		goto done;
	if (fn != NULL) {
		const git_remote_head *h = head_find(heads, nheads, remote_ref);
		git_oid cur;

		if (h == NULL)
			goto done;		/* nothing to fetch: res->fetched zero */
		if (git_reference_name_to_id(&cur, repo, local_ref) == 0 &&
		    git_oid_equal(&cur, &h->oid)) {
			git_oid_cpy(store_goid_mut(&res->fetched), &cur);
			res->old = res->fetched;
			goto done;		/* so already */
		}
		git_error_clear();
	}
	error = fetch_listed(res, repo, gitdir, url, rm, &fo, &c, heads, nheads, remote_ref,
	    local_ref);
done:
	git_remote_free(rm);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return error;
}

int
store_fetch(struct store_fetch_result *res, const char *gitdir, const char *url,
    const char *remote_ref, const char *local_ref)
{
	return fetch_any(res, gitdir, url, NULL, NULL, NULL, remote_ref, local_ref);
}

int
store_ls_fetch(struct store_fetch_result *res, const char *gitdir, const char *url,
    const char *prefix, store_ls_fn fn, void *ctx, const char *remote_ref,
    const char *local_ref)
{
	struct store_reader *r = NULL;
	struct store_oid cur;
	struct ls_want w = { remote_ref, false, { { 0 } } };
	int error;

	if (!is_path(url))
		return fetch_any(res, gitdir, url, prefix, fn, ctx, remote_ref, local_ref);
	/* A path: its refs read directly (see ls_local), then a fetch if needed. */
	memset(res, 0, sizeof(*res));
	if ((error = store_ls_remote(url, prefix, fn, ctx)) != 0 || remote_ref == NULL)
		return error;
	if ((error = store_ls_remote(url, remote_ref, ls_exact, &w)) != 0)
		return error;
	if (!w.has)
		return 0;
	if (store_reader_open(&r, gitdir) == 0 && store_ref_read(&cur, r, local_ref) == 0 &&
	    store_oid_equal(&cur, &w.id)) {
		store_reader_free(r);
		res->fetched = res->old = cur;
		return 0;
	}
	store_reader_free(r);
	return store_fetch(res, gitdir, url, remote_ref, local_ref);
}

/*
 * The beacon: a constant commit per router (the empty tree, no parent,
 * dated 0, message "gitnet alive <ID>\n"), written once. libgit2 1.5.1
 * handles refs to anything but commits badly: its push cannot send a ref
 * to a bare blob ("object is not a committish"), its smart fetch walks
 * every local ref outside refs/tags/ as a commit, and its local-path
 * fetch walks a remote's ref to an object we have as a commit too. A
 * commit is sent once: the next beats' walks hide it (the remote's last
 * alive ref names it), so a beat carries an empty pack.
 */
int
store_beacon(struct store_oid *out, const char *gitdir, const char *router_id)
{
	static const char empty_tree[] = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";
	git_repository *repo = NULL;
	git_odb *odb = NULL;
	struct store *side = NULL;
	char text[2 * STORE_REF_MAX + 200];
	git_oid id, cur, tree;
	int n, error;

	if (router_id[0] == '\0' || strlen(router_id) > 64 ||
	    strpbrk(router_id, "\n <>") != NULL)
		return store_err(STORE_EINVAL, "store: beacon: bad router id");
	n = snprintf(text, sizeof(text), "tree %s\nauthor gitnet %s <gitnet@%s> 0 +0000\n"
	    "committer gitnet %s <gitnet@%s> 0 +0000\n\ngitnet alive %s\n", empty_tree,
	    router_id, router_id, router_id, router_id, router_id);
	if (git_libgit2_init() < 0)
		return store_gerr(-1, "store: libgit2");
	if ((error = repo_open(&repo, gitdir, "beacon")) < 0)
		goto done;
	if ((error = git_odb_hash(&id, text, (size_t)n, GIT_OBJECT_COMMIT)) < 0)
		goto gerr;
	git_oid_cpy(store_goid_mut(out), &id);
	git_oid_fromstr(&tree, empty_tree);
	if (git_reference_name_to_id(&cur, repo, STORE_BEACON_REF) == 0 &&
	    git_oid_equal(&cur, &id) && obj_exists(repo, &id, false) &&
	    obj_exists(repo, &tree, false)) {
		error = 0;		/* so already */
		goto done;
	}
	git_error_clear();
	if ((error = git_repository_odb(&odb, repo)) < 0 ||
	    (error = git_odb_write(&tree, odb, "", 0, GIT_OBJECT_TREE)) < 0 ||
	    (error = git_odb_write(&id, odb, text, (size_t)n, GIT_OBJECT_COMMIT)) < 0)
		goto gerr;
	if ((error = side_open(&side, gitdir)) < 0 ||
	    (error = ref_set(side, STORE_BEACON_REF, out)) < 0)
		goto done;
	error = 0;
	goto done;
gerr:
	error = store_gerr(error, "store: beacon: %s", gitdir);
done:
	store_free(side);
	git_odb_free(odb);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return error;
}

int
store_lib_hold(void)
{
	return git_libgit2_init() < 0 ? store_gerr(-1, "store: libgit2") : 0;
}

void
store_lib_release(void)
{
	git_libgit2_shutdown();
}

/* --- remotes in the repository's config, for stock git --- */

static bool
remote_name_ok(const char *name)
{
	char ref[STORE_REF_MAX];

	if (name[0] == '\0' || strlen(name) > 64 || strpbrk(name, "/. \t\n") != NULL)
		return false;
	snprintf(ref, sizeof(ref), "refs/remotes/%s/primary", name);
	return store_ref_name_valid(ref);
}

int
store_remote_set(const char *gitdir, const char *name, const char *url)
{
	char fetch[STORE_REF_MAX + 64];

	snprintf(fetch, sizeof(fetch), "+refs/heads/primary:refs/remotes/%s/primary", name);
	return store_remote_set_specs(gitdir, name, url, fetch,
	    "refs/heads/primary:refs/heads/primary");
}

int
store_remote_set_specs(const char *gitdir, const char *name, const char *url,
    const char *fetch, const char *push)
{
	git_repository *repo = NULL;
	git_config *all = NULL, *cfg = NULL;
	git_buf old = { 0 };
	struct store *side = NULL;
	char key[128], ref[STORE_REF_MAX];
	bool same;
	int error;

	if (!remote_name_ok(name))
		return store_err(STORE_EINVAL, "store: '%s' is not a remote name", name);
	if (git_libgit2_init() < 0)
		return store_gerr(-1, "store: libgit2");
	if ((error = git_repository_open_ext(&repo, gitdir, GIT_REPOSITORY_OPEN_NO_SEARCH |
	    GIT_REPOSITORY_OPEN_BARE, NULL)) < 0 ||
	    (error = git_repository_config(&all, repo)) < 0 ||
	    (error = git_config_open_level(&cfg, all, GIT_CONFIG_LEVEL_LOCAL)) < 0) {
		error = store_gerr(error, "store: %s: config", gitdir);
		goto done;
	}
	snprintf(key, sizeof(key), "remote.%s.url", name);
	same = git_config_get_string_buf(&old, cfg, key) == 0 && strcmp(old.ptr, url) == 0;
	git_error_clear();
	/* The same URL: the refspecs are brought up to date all the same. */
	if (same) {
		snprintf(key, sizeof(key), "remote.%s.fetch", name);
		git_buf_dispose(&old);
		same = git_config_get_string_buf(&old, cfg, key) == 0 &&
		    strcmp(old.ptr, fetch) == 0;
		git_error_clear();
	}
	if (same) {
		snprintf(key, sizeof(key), "remote.%s.push", name);
		git_buf_dispose(&old);
		same = git_config_get_string_buf(&old, cfg, key) == 0 &&
		    strcmp(old.ptr, push) == 0;
		git_error_clear();
	}
	if (same) {
		error = 0;
		goto done;
	}
	/* Another URL than before: what the tracking ref says was another remote's. */
	snprintf(key, sizeof(key), "remote.%s.url", name);
	git_buf_dispose(&old);
	if (git_config_get_string_buf(&old, cfg, key) < 0 || strcmp(old.ptr, url) != 0) {
		git_error_clear();
		snprintf(ref, sizeof(ref), "refs/remotes/%s/primary", name);
		if ((error = side_open(&side, gitdir)) < 0 ||
		    (error = ref_set(side, ref, NULL)) < 0)
			goto done;
	}
	if ((error = git_config_set_string(cfg, key, url)) < 0)
		goto cfgerr;
	snprintf(key, sizeof(key), "remote.%s.fetch", name);
	if ((error = git_config_set_string(cfg, key, fetch)) < 0)
		goto cfgerr;
	snprintf(key, sizeof(key), "remote.%s.push", name);
	if ((error = git_config_set_string(cfg, key, push)) < 0)
		goto cfgerr;
	error = 1;
	goto done;
cfgerr:
	error = store_gerr(error, "store: %s: setting %s", gitdir, key);
done:
	store_free(side);
	git_buf_dispose(&old);
	git_config_free(cfg);
	git_config_free(all);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return error;
}

int
store_remote_remove(const char *gitdir, const char *name)
{
	git_repository *repo = NULL;
	git_config *all = NULL, *cfg = NULL;
	git_reference *r = NULL;
	git_buf url = { 0 };
	struct store *side = NULL;
	char ref[STORE_REF_MAX], key[128];
	bool has_ref, has_cfg;
	int error;

	if (!remote_name_ok(name))
		return store_err(STORE_EINVAL, "store: '%s' is not a remote name", name);
	if (git_libgit2_init() < 0)
		return store_gerr(-1, "store: libgit2");
	snprintf(ref, sizeof(ref), "refs/remotes/%s/primary", name);
	snprintf(key, sizeof(key), "remote.%s.url", name);
	if ((error = git_repository_open_ext(&repo, gitdir, GIT_REPOSITORY_OPEN_NO_SEARCH |
	    GIT_REPOSITORY_OPEN_BARE, NULL)) < 0 ||
	    (error = git_repository_config(&all, repo)) < 0 ||
	    (error = git_config_open_level(&cfg, all, GIT_CONFIG_LEVEL_LOCAL)) < 0) {
		error = store_gerr(error, "store: %s: config", gitdir);
		goto done;
	}
	has_ref = git_reference_lookup(&r, repo, ref) == 0;
	has_cfg = git_config_get_string_buf(&url, cfg, key) == 0;
	git_error_clear();
	if (!has_ref && !has_cfg) {
		error = 1;		/* no such remote */
		goto done;
	}
	if (has_ref && ((error = side_open(&side, gitdir)) < 0 ||
	    (error = ref_set(side, ref, NULL)) < 0))
		goto done;
	/* The keys store_remote_set writes (no regex: libgit2's pcre2 leaks). */
	error = 0;
	for (int i = 0; i < 3 && error == 0; i++) {
		static const char *const what[] = { "url", "fetch", "push" };

		snprintf(key, sizeof(key), "remote.%s.%s", name, what[i]);
		if ((error = git_config_delete_entry(cfg, key)) == GIT_ENOTFOUND)
			error = 0;
		else if (error < 0)
			error = store_gerr(error, "store: %s: removing %s", gitdir, key);
	}
done:
	store_free(side);
	git_reference_free(r);
	git_buf_dispose(&url);
	git_config_free(cfg);
	git_config_free(all);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return error;
}

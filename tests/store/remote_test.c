/* SPDX-License-Identifier: ISC */
/*
 * Pushing history to a remote (store/remote.c), against stock git.
 *
 * A push to a bare repository made by `git init --bare` (a path and a
 * file:// URL) brings primary there whole (git log, git fsck --strict),
 * sets the remote-tracking ref, is skipped when nothing is new, and is
 * incremental. A shallow state repository (boundary commits in
 * $GIT_DIR/shallow, what lies behind them repacked away, as retention
 * leaves it) pushes new commits to a remote that has the boundary; to a
 * remote that lacks it the push is refused with nothing sent. A remote
 * that holds commits we lack is not overwritten (no force). The remote's
 * config is what `git remote add` writes, and a changed URL forgets the
 * tracking ref.
 *
 * The sync remote (issue 14), over a path and over git:// from a real
 * `git daemon --enable=receive-pack`: the beacon is written once; a head
 * and a beat go in one push, the next beat replaces the last (prune); a
 * listing sees exactly the refs under a prefix; a fetch into another state
 * repository (its router's store open) brings the head, then only what is
 * new, and forces the tracking ref when the peer's branch was rewritten; a
 * head that is not a fast-forward is refused while the beat still goes.
 * git fsck --strict is clean on all three repositories.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "store/internal.h"

#define FX_NAME	"remote_test"
#include "tests/store/fixture.h"

#define T0	1429688300000000ULL
#define SEC	1000000ULL
#define PRIMARY	"refs/heads/primary"
#define TRACK	"refs/remotes/archive0/primary"

static const uint8_t mac1[6] = { 0x02, 0x50, 0x2a, 0x16, 0x6d, 0x01 };

/* One commit adding neighbour ip at now, flushed. */
static void
add(struct store *st, uint32_t ip, uint64_t now)
{
	struct store_change c;

	memset(&c, 0, sizeof(c));
	c.op = EV_ADD;
	c.now_us = now;
	c.e.table = EV_TABLE_ARP;
	c.e.arp.ip = ip;
	memcpy(c.e.arp.mac, mac1, 6);
	c.e.arp.state = 2;
	c.e.arp.updated_us = now;
	c.e.arp.expires_us = now + 3600 * SEC;
	assert_int_equal(store_record(st, &c), 0);
	assert_int_equal(store_commit(st, now, NULL), 0);
	assert_int_equal(store_flush(st), 0);
}

/* The state repository with n commits after its first; returns the writer. */
static struct store *
fx_store(struct fx *f, unsigned n)
{
	struct store_opts o;
	struct store *st;

	opts(&o);
	st = open_ok(f->repo, &o);
	for (unsigned i = 0; i < n; i++)
		add(st, 0x0a000002 + i, T0 + i * SEC);
	return st;
}

/* Run a shell command: its exit status. */
static int __attribute__((format(printf, 1, 2)))
run(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static void
archive_init(struct fx *f, char *path, size_t cap, const char *name)
{
	snprintf(path, cap, "%s/%s.git", f->dir, name);
	assert_int_equal(run("git init -q --bare %s", path), 0);
}

static const char *
rev(const char *gitdir, const char *r)
{
	return sh("git --git-dir=%s rev-parse -q --verify %s 2>/dev/null", gitdir, r);
}

static void
assert_same(const char *a, const char *ra, const char *b, const char *rb)
{
	char x[64];

	snprintf(x, sizeof(x), "%s", rev(a, ra));
	assert_true(strlen(x) == 41);
	assert_string_equal(x, rev(b, rb));
}

/* A path URL and a file:// URL: whole history, tracking ref, skipped, incremental. */
static void
push_path_and_file_url(void **state)
{
	struct fx *f = *state;
	struct store_push_result res;
	struct store *st = fx_store(f, 5);
	struct store_oid head = *store_head(st);
	char arch[160], url[200];

	archive_init(f, arch, sizeof(arch), "arch");
	assert_int_equal(store_push(&res, f->repo, arch, PRIMARY, PRIMARY, TRACK, NULL), 0);
	assert_true(res.sent);
	assert_true(store_oid_equal(&res.pushed, &head));
	assert_true(store_oid_is_zero(&res.remote_old));
	assert_true(res.pushed_time == (int64_t)((T0 + 4 * SEC) / SEC));
	assert_same(f->repo, "primary", arch, "primary");
	assert_same(f->repo, "primary", f->repo, TRACK);
	assert_string_equal(sh("git --git-dir=%s rev-list --count primary", arch), "6\n");
	assert_fsck(arch);
	assert_fsck(f->repo);

	/* Nothing new: skipped without connecting; forced: the remote has it. */
	assert_int_equal(store_push(&res, f->repo, "/nonexistent/x.git", PRIMARY, PRIMARY,
	    TRACK, &head), 1);
	assert_true(store_oid_equal(&res.local, &head));
	assert_int_equal(store_push(&res, f->repo, arch, PRIMARY, PRIMARY, TRACK, NULL), 0);
	assert_false(res.sent);

	/* Incremental over file://. */
	add(st, 0x0a000050, T0 + 50 * SEC);
	snprintf(url, sizeof(url), "file://%s", arch);
	assert_int_equal(store_push(&res, f->repo, url, PRIMARY, PRIMARY, TRACK, &head), 0);
	assert_true(res.sent);
	assert_true(store_oid_equal(&res.remote_old, &head));
	assert_same(f->repo, "primary", arch, "primary");
	assert_same(f->repo, "primary", f->repo, TRACK);
	assert_fsck(arch);
	/* The archive reads as a gitnet store. */
	{
		struct store_reader *r;
		struct store_oid id;

		assert_int_equal(store_reader_open(&r, arch), 0);
		assert_int_equal(store_resolve(&id, r, NULL), 0);
		assert_true(store_oid_equal(&id, store_head(st)));
		store_reader_free(r);
	}
	/* A remote that is not there: an error naming it, nothing tracked. */
	add(st, 0x0a000051, T0 + 51 * SEC);
	assert_true(store_push(&res, f->repo, "/nonexistent/x.git", PRIMARY, PRIMARY,
	    TRACK, NULL) < 0);
	assert_non_null(strstr(store_strerror(), "/nonexistent/x.git"));
	{
		char tracked[64];

		snprintf(tracked, sizeof(tracked), "%s", rev(f->repo, TRACK));
		assert_string_not_equal(tracked, rev(f->repo, "primary"));
	}
	store_close(st);
}

/*
 * Make the state repository shallow at boundary (a commit id in hex, with
 * its newline): what retention leaves. Only primary and the tracking ref
 * stay; everything behind the boundary is repacked away.
 */
static void
make_shallow(struct fx *f, const char *boundary)
{
	assert_int_equal(run("cd %s && printf '%%s' '%s' >shallow && "
	    "git --git-dir=. for-each-ref --format='%%(refname)' | "
	    "grep -v -e '^refs/heads/primary$' -e '^%s$' | "
	    "xargs -r -n1 git --git-dir=. update-ref -d && "
	    "git --git-dir=. reflog expire --expire=now --all && "
	    "git --git-dir=. repack -adq && git --git-dir=. prune --expire=now",
	    f->repo, boundary, TRACK), 0);
	assert_fsck(f->repo);
}

/*
 * Shallow, the remote has the boundary (it is the last commit pushed, the
 * closest case: libgit2 1.5.1 alone fails it with "object not found").
 */
static void
push_from_shallow(void **state)
{
	struct fx *f = *state;
	struct store_push_result res;
	struct store *st = fx_store(f, 6);
	char arch[160], boundary[64], parent[64];
	struct store_opts o;

	archive_init(f, arch, sizeof(arch), "arch");
	assert_int_equal(store_push(&res, f->repo, arch, PRIMARY, PRIMARY, TRACK, NULL), 0);
	store_close(st);
	snprintf(boundary, sizeof(boundary), "%s", rev(f->repo, "primary"));
	snprintf(parent, sizeof(parent), "%s", rev(f->repo, "primary~1"));
	make_shallow(f, boundary);
	/* The parent is gone for real. */
	assert_int_not_equal(run("git --git-dir=%s cat-file -e %.40s 2>/dev/null", f->repo,
	    parent), 0);

	/* The router carries on on the shallow repository. */
	opts(&o);
	st = open_ok(f->repo, &o);
	add(st, 0x0a000060, T0 + 60 * SEC);
	add(st, 0x0a000061, T0 + 61 * SEC);
	assert_int_equal(store_push(&res, f->repo, arch, PRIMARY, PRIMARY, TRACK, NULL), 0);
	assert_true(res.sent);
	assert_same(f->repo, "primary", arch, "primary");
	assert_same(f->repo, "primary", f->repo, TRACK);
	/* The archive is whole: every commit back to the first. */
	assert_string_equal(sh("git --git-dir=%s rev-list --count primary", arch), "9\n");
	assert_fsck(arch);
	assert_fsck(f->repo);

	/* The boundary further down than the remote's head: a longer walk. */
	for (unsigned i = 0; i < 8; i++)
		add(st, 0x0a000070 + i, T0 + (70 + i) * SEC);
	assert_int_equal(store_push(&res, f->repo, arch, PRIMARY, PRIMARY, TRACK, NULL), 0);
	assert_same(f->repo, "primary", arch, "primary");
	assert_fsck(arch);
	store_close(st);
}

/*
 * The router's own shape: the boundary is a tick merge (both parents gone),
 * and ticks go on after the cut (new expire_ branches merged back).
 */
static void
push_from_shallow_at_merge(void **state)
{
	struct fx *f = *state;
	struct store_push_result res;
	struct store *st = fx_store(f, 3);
	char arch[160], boundary[64];
	struct store_opts o;

	assert_int_equal(store_tick(st, T0 + 7200 * SEC), 0);	/* ages all 3 out */
	assert_int_equal(store_flush(st), 0);
	archive_init(f, arch, sizeof(arch), "arch");
	assert_int_equal(store_push(&res, f->repo, arch, PRIMARY, PRIMARY, TRACK, NULL), 0);
	store_close(st);
	assert_string_equal(sh("git --git-dir=%s rev-list --no-walk --parents primary | wc -w",
	    f->repo), "3\n");
	snprintf(boundary, sizeof(boundary), "%s", rev(f->repo, "primary"));
	make_shallow(f, boundary);
	assert_int_not_equal(run("git --git-dir=%s cat-file -e primary^2 2>/dev/null", f->repo), 0);

	opts(&o);
	st = open_ok(f->repo, &o);
	add(st, 0x0a000080, T0 + 7300 * SEC);
	add(st, 0x0a000081, T0 + 7301 * SEC);
	assert_int_equal(store_tick(st, T0 + 20000 * SEC), 0);
	assert_int_equal(store_flush(st), 0);
	add(st, 0x0a000082, T0 + 20001 * SEC);
	assert_int_equal(store_push(&res, f->repo, arch, PRIMARY, PRIMARY, TRACK, NULL), 0);
	assert_true(res.sent);
	assert_same(f->repo, "primary", arch, "primary");
	assert_fsck(arch);
	/* Nothing of the stand-ins reached the archive: its root is the first commit. */
	assert_string_equal(sh("git --git-dir=%s rev-list --max-parents=0 primary | wc -l",
	    arch), "1\n");
	assert_string_equal(sh("git --git-dir=%s log --format=%%s primary | grep -c "
	    "'shallow boundary'", arch), "0\n");
	store_close(st);
}

/*
 * Cut just above what the remote has: the boundary's parent, the remote's
 * head, is gone here. The push sends the boundary and what follows.
 */
static void
push_from_shallow_cut_above_remote(void **state)
{
	struct fx *f = *state;
	struct store_push_result res;
	struct store *st = fx_store(f, 4);
	char arch[160], boundary[64], pushed[64];
	struct store_opts o;

	archive_init(f, arch, sizeof(arch), "arch");
	assert_int_equal(store_push(&res, f->repo, arch, PRIMARY, PRIMARY, TRACK, NULL), 0);
	add(st, 0x0a000040, T0 + 40 * SEC);
	add(st, 0x0a000041, T0 + 41 * SEC);
	store_close(st);
	snprintf(pushed, sizeof(pushed), "%s", rev(f->repo, TRACK));
	snprintf(boundary, sizeof(boundary), "%s", rev(f->repo, "primary~1"));
	/* The tracking ref would keep the pushed commit: move it to the cut. */
	assert_int_equal(run("git --git-dir=%s update-ref %s %.40s", f->repo, TRACK, boundary), 0);
	make_shallow(f, boundary);
	assert_int_not_equal(run("git --git-dir=%s cat-file -e %.40s 2>/dev/null", f->repo,
	    pushed), 0);

	opts(&o);
	st = open_ok(f->repo, &o);
	add(st, 0x0a000042, T0 + 42 * SEC);
	assert_int_equal(store_push(&res, f->repo, arch, PRIMARY, PRIMARY, TRACK, NULL), 0);
	assert_true(res.sent);
	assert_same(f->repo, "primary", arch, "primary");
	assert_string_equal(sh("git --git-dir=%s rev-list --count primary", arch), "8\n");
	assert_fsck(arch);
	store_close(st);
}

/* Shallow, and the remote lacks the boundary: refused, nothing sent. */
static void
push_shallow_to_empty_refused(void **state)
{
	struct fx *f = *state;
	struct store_push_result res;
	struct store *st = fx_store(f, 4);
	char arch[160], boundary[64];

	store_close(st);
	snprintf(boundary, sizeof(boundary), "%s", rev(f->repo, "primary~1"));
	make_shallow(f, boundary);
	archive_init(f, arch, sizeof(arch), "empty");
	assert_int_equal(store_push(&res, f->repo, arch, PRIMARY, PRIMARY, TRACK, NULL),
	    STORE_EREFUSED);
	assert_non_null(strstr(store_strerror(), "lacks history"));
	assert_string_equal(rev(arch, "primary"), "");
	assert_string_equal(sh("git --git-dir=%s count-objects -v | grep -e '^count' -e "
	    "'^in-pack'", arch), "count: 0\nin-pack: 0\n");
	assert_string_equal(rev(f->repo, TRACK), "");
}

/* The remote has a commit we lack: not a fast-forward, not overwritten. */
static void
push_not_fast_forward(void **state)
{
	struct fx *f = *state;
	struct store_push_result res;
	struct store *st = fx_store(f, 2);
	char arch[160], theirs[64];

	archive_init(f, arch, sizeof(arch), "arch");
	assert_int_equal(store_push(&res, f->repo, arch, PRIMARY, PRIMARY, NULL, NULL), 0);
	/* Someone else commits on the archive's primary. */
	assert_int_equal(run("cd %s && c=$(git -c user.name=t -c user.email=t@t "
	    "--git-dir=. commit-tree -p primary -m other 'primary^{tree}') && git --git-dir=. update-ref refs/heads/primary $c",
	    arch), 0);
	snprintf(theirs, sizeof(theirs), "%s", rev(arch, "primary"));
	add(st, 0x0a000090, T0 + 90 * SEC);
	assert_int_equal(store_push(&res, f->repo, arch, PRIMARY, PRIMARY, TRACK, NULL),
	    STORE_EREFUSED);
	assert_string_equal(rev(arch, "primary"), theirs);
	assert_string_equal(rev(f->repo, TRACK), "");
	store_close(st);
}

/* The remote in the config as git remote add writes it; a new URL forgets. */
static void
remote_config(void **state)
{
	struct fx *f = *state;
	struct store_push_result res;
	struct store *st = fx_store(f, 1);
	char arch[160];

	archive_init(f, arch, sizeof(arch), "arch");
	assert_int_equal(store_remote_set(f->repo, "archive0", arch), 1);
	assert_int_equal(store_remote_set(f->repo, "archive0", arch), 0);
	assert_int_equal(store_push(&res, f->repo, arch, PRIMARY, PRIMARY, TRACK, NULL), 0);
	assert_string_equal(sh("git --git-dir=%s remote", f->repo), "archive0\n");
	assert_string_equal(sh("git --git-dir=%s branch -r", f->repo), "  archive0/primary\n");
	/* Stock git fetches it back into the same tracking ref. */
	assert_int_equal(run("git --git-dir=%s fetch -q archive0", f->repo), 0);
	assert_same(f->repo, "primary", f->repo, TRACK);
	/* Another URL: the tracking ref said what another remote held. */
	assert_int_equal(store_remote_set(f->repo, "archive0", "/elsewhere.git"), 1);
	assert_string_equal(rev(f->repo, TRACK), "");
	assert_string_equal(sh("git --git-dir=%s config remote.archive0.url", f->repo),
	    "/elsewhere.git\n");
	assert_int_equal(store_push(&res, f->repo, arch, PRIMARY, PRIMARY, TRACK, NULL), 0);
	assert_int_equal(store_remote_remove(f->repo, "archive0"), 0);
	assert_string_equal(rev(f->repo, TRACK), "");
	assert_string_equal(sh("git --git-dir=%s remote", f->repo), "");
	assert_int_equal(store_remote_set(f->repo, "a/b", arch), STORE_EINVAL);
	assert_fsck(f->repo);
	store_close(st);
}

/* --- the sync remote (issue 14): several refs, listings, fetches --- */

#define ROUTERS_R1	"refs/heads/routers/r1"
#define SYNC_R1		"refs/remotes/sync/r1"

struct names {
	char	v[8][128];
	unsigned n;
};

static int
collect(const char *name, const struct store_oid *id, void *ctx)
{
	struct names *nm = ctx;

	(void)id;
	if (nm->n < 8)
		snprintf(nm->v[nm->n++], sizeof(nm->v[0]), "%s", name);
	return 0;
}

static int
stop_at_first(const char *name, const struct store_oid *id, void *ctx)
{
	(void)name;
	(void)id;
	(*(unsigned *)ctx)++;
	return 7;
}

/* The names under prefix at url, one string "a b c" (sorted by the remote). */
static const char *
ls(const char *url, const char *prefix)
{
	static char out[1100];
	struct names nm = { 0 };

	out[0] = '\0';
	if (store_ls_remote(url, prefix, collect, &nm) != 0)
		return "(error)";
	for (unsigned i = 0; i < nm.n; i++) {
		strcat(out, i ? " " : "");
		strcat(out, nm.v[i]);
	}
	return out;
}

/* One beat (and the head when it moved): what the sync's pusher sends. */
static int
beat(struct store_push_stats *ps, struct store_pushspec *v, const char *repo,
    const char *url, const char *role, unsigned ms, bool head)
{
	static char dst[128];
	size_t n = 0;

	snprintf(dst, sizeof(dst), "refs/gitnet/alive/r1/%s/%u", role, ms);
	memset(v, 0, 2 * sizeof(*v));
	if (head) {
		v[n].src = PRIMARY;
		v[n].dst = ROUTERS_R1;
		v[n++].track = SYNC_R1;
	}
	v[n].src = STORE_BEACON_REF;
	v[n].dst = dst;
	v[n++].force = true;
	return store_push_refs(ps, repo, url, v, n, "refs/gitnet/alive/r1/");
}

/* A second state repository (router r2's), beside f->repo. */
static void
peer_repo(struct fx *f, char *path, size_t cap)
{
	struct store_opts o;
	struct store *st;

	snprintf(path, cap, "%s/b.git", f->dir);
	opts(&o);
	o.router_id = "r2";
	st = open_ok(path, &o);
	store_close(st);
}

/* Push, list, fetch against url (a bare repository at arch). */
static void
sync_round_trip(struct fx *f, const char *arch, const char *url)
{
	struct store_pushspec v[2];
	struct store_push_stats ps;
	struct store_fetch_result fr;
	struct store *st = fx_store(f, 3), *stb;
	struct store_oid beacon, b2;
	struct store_opts o;
	char peer[160], theirs[64];

	/* The beacon: one blob, its ref, written once. */
	assert_int_equal(store_beacon(&beacon, f->repo, "r1"), 0);
	assert_int_equal(store_beacon(&b2, f->repo, "r1"), 0);
	assert_true(store_oid_equal(&beacon, &b2));
	{
		char hex[STORE_OID_HEXSZ + 1], line[STORE_OID_HEXSZ + 2];

		snprintf(line, sizeof(line), "%s\n", store_oid_fmt(hex, &beacon));
		assert_string_equal(rev(f->repo, STORE_BEACON_REF), line);
	}
	assert_string_equal(sh("git --git-dir=%s show -s --format=%%s %s", f->repo,
	    STORE_BEACON_REF), "gitnet alive r1\n");
	assert_int_equal(store_beacon(&b2, f->repo, "a\nb"), STORE_EINVAL);

	/* Head and beat in one push. */
	assert_int_equal(beat(&ps, v, f->repo, url, "active", 1000, true), 0);
	assert_true(ps.pushed);
	assert_true(ps.bytes > 0);
	assert_int_equal(ps.pruned, 0);
	assert_int_equal(v[0].status, 0);
	assert_true(v[0].sent);
	assert_true(store_oid_equal(&v[0].local, store_head(st)));
	assert_true(v[1].sent);
	assert_same(f->repo, "primary", arch, ROUTERS_R1);
	assert_same(f->repo, "primary", f->repo, SYNC_R1);
	assert_string_equal(ls(url, "refs/gitnet/alive/"), "refs/gitnet/alive/r1/active/1000");
	assert_string_equal(ls(url, NULL), "refs/gitnet/alive/r1/active/1000 "
	    "refs/heads/routers/r1");
	assert_string_equal(ls(url, "refs/heads/"), "refs/heads/routers/r1");
	{
		unsigned calls = 0;

		assert_int_equal(store_ls_remote(url, NULL, stop_at_first, &calls), 7);
		assert_int_equal(calls, 1);
	}

	/* The next beat replaces the last (a new name, the old one deleted). */
	assert_int_equal(beat(&ps, v, f->repo, url, "standby", 1250, true), 0);
	assert_int_equal(ps.pruned, 1);
	assert_false(v[0].sent);		/* primary did not move */
	assert_string_equal(ls(url, "refs/gitnet/alive/"), "refs/gitnet/alive/r1/standby/1250");
	assert_string_equal(sh("git --git-dir=%s show -s --format=%%s "
	    "refs/gitnet/alive/r1/standby/1250", arch), "gitnet alive r1\n");
	assert_true(ps.bytes <= 32);		/* a beat: an empty pack */

	/* A beat lists the remote as it found it: the other routers' beats, free. */
	{
		struct names nm = { 0 };
		char dst[64];
		bool alive = false, head = false;

		memset(v, 0, 2 * sizeof(*v));
		snprintf(dst, sizeof(dst), "refs/gitnet/alive/r1/standby/1260");
		v[0].src = STORE_BEACON_REF;
		v[0].dst = dst;
		v[0].force = true;
		assert_int_equal(store_push_refs_ls(&ps, f->repo, url, v, 1,
		    "refs/gitnet/alive/r1/", collect, &nm), 0);
		assert_true(ps.listed && ps.pushed);
		for (unsigned i = 0; i < nm.n; i++) {
			alive |= strcmp(nm.v[i], "refs/gitnet/alive/r1/standby/1250") == 0;
			head |= strcmp(nm.v[i], ROUTERS_R1) == 0;
			assert_true(strncmp(nm.v[i], "refs/", 5) == 0);
		}
		assert_true(alive && head);
		assert_string_equal(ls(url, "refs/gitnet/alive/"),
		    "refs/gitnet/alive/r1/standby/1260");
		/* A listener that says stop: nothing goes, its code comes back. */
		snprintf(dst, sizeof(dst), "refs/gitnet/alive/r1/standby/1270");
		assert_int_equal(store_push_refs_ls(&ps, f->repo, url, v, 1,
		    "refs/gitnet/alive/r1/", stop_at_first, &(unsigned){ 0 }), 7);
		assert_false(ps.pushed);
		assert_string_equal(ls(url, "refs/gitnet/alive/"),
		    "refs/gitnet/alive/r1/standby/1260");
		assert_int_equal(beat(&ps, v, f->repo, url, "standby", 1250, true), 0);
	}

	/* Fetch into another state repository while its router has it open. */
	peer_repo(f, peer, sizeof(peer));
	opts(&o);
	o.router_id = "r2";
	stb = open_ok(peer, &o);
	assert_int_equal(store_fetch(&fr, peer, url, ROUTERS_R1, SYNC_R1), 0);
	assert_true(fr.updated);
	assert_true(fr.objects > 0 && fr.bytes > 0);
	assert_true(store_oid_is_zero(&fr.old));
	assert_true(store_oid_equal(&fr.fetched, store_head(st)));
	assert_same(f->repo, "primary", peer, SYNC_R1);
	assert_int_equal(store_fetch(&fr, peer, url, ROUTERS_R1, SYNC_R1), 0);
	assert_false(fr.updated);
	assert_int_equal(fr.objects, 0);
	/* The router's store reads what came (its odb sees the new pack). */
	{
		struct store_reader *r;
		struct store_oid id;

		assert_int_equal(store_reader_open(&r, peer), 0);
		assert_int_equal(store_ref_read(&id, r, SYNC_R1), 0);
		assert_int_equal(store_resolve(&id, r, SYNC_R1), 0);
		store_reader_free(r);
	}

	/* Incremental: a new commit goes with the beat, and comes with a listing. */
	add(st, 0x0a000030, T0 + 30 * SEC);
	assert_int_equal(beat(&ps, v, f->repo, url, "active", 1500, true), 0);
	assert_true(v[0].sent);
	{
		struct names nm = { 0 };

		assert_int_equal(store_ls_fetch(&fr, peer, url, "refs/gitnet/", collect, &nm,
		    ROUTERS_R1, SYNC_R1), 0);
		assert_int_equal(nm.n, 1);
		assert_string_equal(nm.v[0], "refs/gitnet/alive/r1/active/1500");
		assert_true(fr.updated);
		assert_true(fr.objects > 0 && fr.objects < 12);
		assert_same(f->repo, "primary", peer, SYNC_R1);
		/* Once more: so already, nothing fetched; no such branch: no error. */
		assert_int_equal(store_ls_fetch(&fr, peer, url, "refs/gitnet/", collect, &nm,
		    ROUTERS_R1, SYNC_R1), 0);
		assert_false(fr.updated);
		assert_int_equal(fr.objects, 0);
		assert_true(store_oid_equal(&fr.fetched, store_head(st)));
		assert_int_equal(store_ls_fetch(&fr, peer, url, "refs/gitnet/", collect, &nm,
		    "refs/heads/routers/r9", "refs/remotes/sync/r9"), 0);
		assert_true(store_oid_is_zero(&fr.fetched));
		assert_string_equal(rev(peer, "refs/remotes/sync/r9"), "");
	}

	/* Someone else moved routers/r1: the head is refused, the beat goes. */
	assert_int_equal(run("cd %s && c=$(git -c user.name=t -c user.email=t@t --git-dir=. "
	    "commit-tree -p %s -m other '%s^{tree}') && git --git-dir=. update-ref %s $c",
	    arch, ROUTERS_R1, ROUTERS_R1, ROUTERS_R1), 0);
	snprintf(theirs, sizeof(theirs), "%s", rev(arch, ROUTERS_R1));
	add(st, 0x0a000031, T0 + 31 * SEC);
	assert_int_equal(beat(&ps, v, f->repo, url, "active", 1750, true), STORE_EREFUSED);
	assert_int_equal(v[0].status, STORE_EREFUSED);
	assert_int_equal(v[1].status, 0);
	assert_int_equal(ps.refused, 1);
	assert_non_null(strstr(store_strerror(), url));
	assert_string_equal(rev(arch, ROUTERS_R1), theirs);
	assert_string_equal(ls(url, "refs/gitnet/alive/"), "refs/gitnet/alive/r1/active/1750");
	/* The peer's history rewritten: the fetch forces the tracking ref. */
	assert_int_equal(store_fetch(&fr, peer, url, ROUTERS_R1, SYNC_R1), 0);
	assert_true(fr.updated);
	assert_string_equal(rev(peer, SYNC_R1), theirs);

	/* A deletion, and one of a ref the remote lacks (nothing to do). */
	memset(v, 0, sizeof(v));
	v[0].dst = "refs/gitnet/alive/r1/active/1750";
	v[1].dst = "refs/gitnet/alive/r1/active/1";
	assert_int_equal(store_push_refs(&ps, f->repo, url, v, 2, NULL), 0);
	assert_true(ps.pushed);
	assert_true(v[0].sent);
	assert_false(v[1].sent);
	assert_string_equal(ls(url, "refs/gitnet/"), "");
	assert_int_equal(store_push_refs(&ps, f->repo, url, v, 2, NULL), 0);
	assert_false(ps.pushed);		/* nothing to do: no push made */
	v[0].dst = "heads/x";
	assert_int_equal(store_push_refs(&ps, f->repo, url, v, 1, NULL), STORE_EINVAL);

	/* No such ref there. */
	assert_int_equal(store_fetch(&fr, peer, url, "refs/heads/routers/r9", SYNC_R1),
	    STORE_ENOTFOUND);
	assert_non_null(strstr(store_strerror(), "routers/r9"));
	assert_string_equal(rev(peer, SYNC_R1), theirs);

	store_close(stb);
	store_close(st);
	assert_fsck(arch);
	assert_fsck(f->repo);
	assert_fsck(peer);
}

static void
sync_path_remote(void **state)
{
	struct fx *f = *state;
	char arch[160];

	archive_init(f, arch, sizeof(arch), "sync");
	sync_round_trip(f, arch, arch);
	/* A remote that is not there: each call fails naming it. */
	{
		struct store_fetch_result fr;
		struct names nm = { 0 };

		assert_true(store_ls_remote("/nonexistent/s.git", NULL, collect, &nm) < 0);
		assert_non_null(strstr(store_strerror(), "/nonexistent/s.git"));
		assert_true(store_fetch(&fr, f->repo, "/nonexistent/s.git", ROUTERS_R1,
		    SYNC_R1) < 0);
		assert_non_null(strstr(store_strerror(), "/nonexistent/s.git"));
	}
}

/* A free TCP port on 127.0.0.1 (bound, read, closed). */
static unsigned
free_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);
	int s = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(s >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&sin, &sl), 0);
	close(s);
	return ntohs(sin.sin_port);
}

/* The same over git:// from a real git daemon with receive-pack. */
static void
sync_git_daemon(void **state)
{
	struct fx *f = *state;
	char arch[160], url[128], pid[200];
	unsigned port = free_port();
	struct names nm;
	int tries;

	archive_init(f, arch, sizeof(arch), "sync");
	snprintf(pid, sizeof(pid), "%s/daemon.pid", f->dir);
	assert_int_equal(run("git daemon --enable=receive-pack --export-all --base-path=%s "
	    "--listen=127.0.0.1 --port=%u --reuseaddr --detach --pid-file=%s", f->dir,
	    port, pid), 0);
	snprintf(url, sizeof(url), "git://127.0.0.1:%u/sync.git", port);
	for (tries = 0; tries < 100; tries++) {
		memset(&nm, 0, sizeof(nm));
		if (store_ls_remote(url, NULL, collect, &nm) == 0)
			break;
		usleep(50 * 1000);
	}
	assert_true(tries < 100);
	/* A port nobody listens on: refused at once, and said so. */
	{
		char bad[128];

		snprintf(bad, sizeof(bad), "git://127.0.0.1:%u/sync.git", free_port());
		assert_true(store_ls_remote(bad, NULL, collect, &nm) < 0);
		assert_non_null(strstr(store_strerror(), "failed to connect to 127.0.0.1:"));
		assert_non_null(strstr(store_strerror(), "Connection refused"));
	}
	sync_round_trip(f, arch, url);		/* teardown_daemon stops it */
}

/* A standby's fetches land as a pack each; its writer bounds them. */
static void
sync_fetched_packs_merged(void **state)
{
	struct fx *f = *state;
	struct store_pushspec v[2];
	struct store_push_stats ps;
	struct store_fetch_result fr;
	struct store *st = fx_store(f, 1), *stb;
	struct store_oid beacon;
	struct store_opts o;
	char arch[160], peer[160];
	unsigned packs = 0;

	archive_init(f, arch, sizeof(arch), "sync");
	assert_int_equal(store_beacon(&beacon, f->repo, "r1"), 0);
	peer_repo(f, peer, sizeof(peer));
	opts(&o);
	o.router_id = "r2";
	o.max_packs = 4;
	stb = open_ok(peer, &o);
	for (unsigned i = 0; i < 12; i++) {
		add(st, 0x0a000100 + i, T0 + (100 + i) * SEC);
		assert_int_equal(beat(&ps, v, f->repo, arch, "active", 10 + i, true), 0);
		assert_int_equal(store_fetch(&fr, peer, arch, ROUTERS_R1, SYNC_R1), 0);
		assert_true(fr.updated);
	}
	assert_true(atoi(sh("ls %s/objects/pack/*.idx | wc -l", peer)) >= 12);
	for (int tries = 0; tries < 100; tries++) {
		assert_int_equal(store_packs_check(stb), 0);
		packs = (unsigned)atoi(sh("ls %s/objects/pack/*.idx | wc -l", peer));
		if (packs <= 5)
			break;
		usleep(50 * 1000);
	}
	assert_true(packs <= 5);
	assert_same(f->repo, "primary", peer, SYNC_R1);
	{
		struct store_reader *r;
		struct store_oid id;

		assert_int_equal(store_reader_open(&r, peer), 0);
		assert_int_equal(store_resolve(&id, r, SYNC_R1), 0);
		store_reader_free(r);
	}
	store_close(stb);
	store_close(st);
	assert_fsck(peer);
}

/* The git daemon goes with the test, passed or failed. */
static int
teardown_daemon(void **state)
{
	struct fx *f = *state;

	run("test -f %s/daemon.pid && kill $(cat %s/daemon.pid) 2>/dev/null", f->dir, f->dir);
	return teardown(state);
}

/* The sync remote's config: stock git names it and its branches. */
static void
sync_remote_config(void **state)
{
	struct fx *f = *state;
	struct store_push_stats ps;
	struct store_pushspec v[2];
	struct store *st = fx_store(f, 1);
	char arch[160];

	archive_init(f, arch, sizeof(arch), "sync");
	assert_int_equal(store_remote_set_specs(f->repo, "sync", arch,
	    "+refs/heads/routers/*:refs/remotes/sync/*", "refs/heads/primary:" ROUTERS_R1), 1);
	assert_int_equal(store_remote_set_specs(f->repo, "sync", arch,
	    "+refs/heads/routers/*:refs/remotes/sync/*", "refs/heads/primary:" ROUTERS_R1), 0);
	assert_int_equal(store_beacon(&v[0].local, f->repo, "r1"), 0);
	assert_int_equal(beat(&ps, v, f->repo, arch, "active", 5, true), 0);
	assert_string_equal(sh("git --git-dir=%s remote -v", f->repo),
	    sh("printf 'sync\\t%s (fetch)\\nsync\\t%s (push)\\n'", arch, arch));
	assert_string_equal(sh("git --git-dir=%s branch -r", f->repo), "  sync/r1\n");
	/* Stock git fetches into the same refs, and pushes where the router does. */
	assert_int_equal(run("git --git-dir=%s fetch -q sync", f->repo), 0);
	assert_int_equal(run("git --git-dir=%s push -q sync", f->repo), 0);
	/* Other refspecs on the same URL are written (1). */
	assert_int_equal(store_remote_set_specs(f->repo, "sync", arch,
	    "+refs/heads/routers/*:refs/remotes/sync/*", "refs/heads/primary:refs/heads/x"), 1);
	assert_string_equal(sh("git --git-dir=%s config remote.sync.push", f->repo),
	    "refs/heads/primary:refs/heads/x\n");
	assert_same(f->repo, "primary", f->repo, SYNC_R1);
	assert_fsck(f->repo);
	store_close(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(push_path_and_file_url, setup, teardown),
		cmocka_unit_test_setup_teardown(push_from_shallow, setup, teardown),
		cmocka_unit_test_setup_teardown(push_from_shallow_at_merge, setup, teardown),
		cmocka_unit_test_setup_teardown(push_from_shallow_cut_above_remote, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(push_shallow_to_empty_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(push_not_fast_forward, setup, teardown),
		cmocka_unit_test_setup_teardown(remote_config, setup, teardown),
		cmocka_unit_test_setup_teardown(sync_path_remote, setup, teardown),
		cmocka_unit_test_setup_teardown(sync_git_daemon, setup, teardown_daemon),
		cmocka_unit_test_setup_teardown(sync_remote_config, setup, teardown),
		cmocka_unit_test_setup_teardown(sync_fetched_packs_merged, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

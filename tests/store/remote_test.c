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
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

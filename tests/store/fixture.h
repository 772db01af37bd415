/* SPDX-License-Identifier: ISC */
/*
 * What the store's cmocka tests share: a scratch directory per test with
 * its repository path, shell commands and their output, stock `git fsck
 * --strict`, and the store options the tests run with. Include after
 * cmocka.h. A test that needs a fixture of its own defines FX_OWN_FIXTURE
 * (and its own struct fx, setup and teardown) before including this.
 */
#ifndef TESTS_STORE_FIXTURE_H
#define TESTS_STORE_FIXTURE_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"

#define FX_UNUSED	__attribute__((unused))

static const char *const ifnames[] FX_UNUSED = { "inside", "outside" };

/* Run a shell command, return its stdout (static buffer, trailing \n kept). */
static FX_UNUSED const char *
sh(const char *fmt, ...)
{
	static char out[65536];
	char cmd[4096];
	va_list ap;
	FILE *p;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if ((p = popen(cmd, "r")) == NULL)
		fail_msg("popen %s", cmd);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	pclose(p);
	return out;
}

static FX_UNUSED void
assert_fsck(const char *repo)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "git --git-dir=%s fsck --strict --no-progress "
	    ">%s.fsck 2>&1", repo, repo);
	if (system(cmd) != 0)
		fail_msg("git fsck --strict failed on %s:\n%s", repo, sh("cat %s.fsck", repo));
}

/* Test options: router r1 with two interfaces, no fsync (crash_test has it). */
static FX_UNUSED void
opts(struct store_opts *o)
{
	store_opts_default(o);
	o->router_id = "r1";
	o->router_info = "interfaces inside outside";
	o->ifnames = ifnames;
	o->n_ifnames = 2;
	o->fsync = false;	/* tests: the crash test covers durability */
	o->pack_grace_s = 0;	/* replaced packs go at once: tests count files */
}

static FX_UNUSED struct store *
open_ok(const char *repo, const struct store_opts *o)
{
	struct store *st = NULL;
	int error = store_open(&st, repo, o);

	if (error != 0)
		fail_msg("store_open: %d %s", error, store_strerror());
	return st;
}

/* mkdtemp /tmp/<name>.XXXXXX into dir; repo is dir/state.git. */
static FX_UNUSED int
fx_mkdir(char *dir, size_t dcap, char *repo, size_t rcap, const char *name)
{
	snprintf(dir, dcap, "/tmp/%s.XXXXXX", name);
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(repo, rcap, "%s/state.git", dir);
	return 0;
}

static FX_UNUSED int
fx_rmdir(const char *dir)
{
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Entries for another branch: set (remove == false) or removed. */
struct their {
	struct store_entry e;
	bool		remove;
};

/*
 * Commit v[0..n) on top of commit base_id the way another router would
 * (libgit2, encoded with the interface names ifn[0..nifn)) and point ref
 * at it.
 */
static FX_UNUSED void
fx_branch(struct store *st, const char *ref, const git_oid *base_id,
    const struct their *v, size_t n, uint64_t now, const char *const *ifn, unsigned nifn)
{
	git_repository *repo = store_repo(st);
	git_tree_update up[16];
	char paths[16][64], val[512];
	git_commit *base;
	git_tree *bt, *nt;
	git_oid tree, id;
	git_signature *sig;
	git_reference *r;
	const git_commit *parents[1];

	assert_true(n <= 16);
	assert_int_equal(git_commit_lookup(&base, repo, base_id), 0);
	for (size_t i = 0; i < n; i++) {
		int len;

		memset(&up[i], 0, sizeof(up[i]));
		store_entry_path(paths[i], sizeof(paths[i]), &v[i].e);
		up[i].path = paths[i];
		if (v[i].remove) {
			up[i].action = GIT_TREE_UPDATE_REMOVE;
			continue;
		}
		up[i].action = GIT_TREE_UPDATE_UPSERT;
		up[i].filemode = GIT_FILEMODE_BLOB;
		len = store_entry_encode(val, sizeof(val), &v[i].e, ifn, nifn);
		assert_true(len > 0);
		assert_int_equal(git_blob_create_from_buffer(&up[i].id, repo, val,
		    (size_t)len), 0);
	}
	assert_int_equal(git_commit_tree(&bt, base), 0);
	assert_int_equal(git_tree_create_updated(&tree, repo, bt, n, up), 0);
	assert_int_equal(git_tree_lookup(&nt, repo, &tree), 0);
	assert_int_equal(git_signature_new(&sig, "r2", "r2@gitnet",
	    (git_time_t)(now / 1000000), 0), 0);
	parents[0] = base;
	assert_int_equal(git_commit_create(&id, repo, NULL, sig, sig, NULL, "theirs\n",
	    nt, 1, parents), 0);
	assert_int_equal(git_reference_create(&r, repo, ref, &id, 1, NULL), 0);
	git_reference_free(r);
	git_tree_free(nt);
	git_tree_free(bt);
	git_signature_free(sig);
	git_commit_free(base);
}

#ifndef FX_OWN_FIXTURE
#ifndef FX_NAME
#error "define FX_NAME (the scratch directory's prefix) before fixture.h"
#endif

struct fx {
	char	dir[64];
	char	repo[96];
	char	packdir[128];
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL || fx_mkdir(f->dir, sizeof(f->dir), f->repo, sizeof(f->repo),
	    FX_NAME) < 0) {
		free(f);
		return -1;
	}
	snprintf(f->packdir, sizeof(f->packdir), "%s/objects/pack", f->repo);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	int error = fx_rmdir(f->dir);

	free(f);
	return error;
}
#endif

#endif

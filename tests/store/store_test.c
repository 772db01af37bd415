/* SPDX-License-Identifier: ISC */
/*
 * The store end to end against stock git: create and refuse, locks and
 * crash leftovers, commit messages and layout, packs instead of loose
 * objects, loading at a revision and a time, expiry ticks and the seed
 * history shape. Every repository a test writes passes `git fsck --strict`.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netfn/nat.h"
#include "store/internal.h"

#define FX_NAME "store_test"
#include "tests/store/fixture.h"

#define T0	1429688300000000ULL	/* 2015-04-22, the seed history's day */

static const uint8_t mac1[6] = { 0x02, 0x50, 0x2a, 0x16, 0x6d, 0x01 };

static struct store_change
arp_change(uint8_t op, uint32_t ip, uint64_t now, uint64_t expires)
{
	struct store_change c;

	memset(&c, 0, sizeof(c));
	c.op = op;
	c.cause = EV_CAUSE_ARP_REPLY;
	c.now_us = now;
	c.e.table = EV_TABLE_ARP;
	c.e.arp.ip = ip;
	memcpy(c.e.arp.mac, mac1, 6);
	c.e.arp.state = ARP_REACHABLE;
	c.e.arp.updated_us = now;
	c.e.arp.expires_us = expires;
	return c;
}

static void
commit_ok(struct store *st, uint64_t now, git_oid *out)
{
	int error = store_commit(st, now, store_soid_mut(out));

	if (error != 0)
		fail_msg("store_commit: %d %s", error, store_strerror());
}

static void
record_ok(struct store *st, struct store_change c)
{
	assert_int_equal(store_record(st, &c), 0);
}

static void
store_open__creates_bare_repo_with_schema(void **state)
{
	struct fx *f = *state;
	struct store_opts o;
	struct store *st;

	opts(&o);
	st = open_ok(f->repo, &o);
	assert_int_equal(store_close(st), 0);
	assert_string_equal(sh("git --git-dir=%s rev-parse --is-bare-repository", f->repo),
	    "true\n");
	assert_string_equal(sh("git --git-dir=%s symbolic-ref HEAD", f->repo),
	    "refs/heads/primary\n");
	assert_string_equal(sh("git --git-dir=%s log --format='%%s|%%an|%%ae|%%P' primary",
	    f->repo), "store: create empty tables|r1|r1@gitnet|\n");
	assert_string_equal(sh("git --git-dir=%s show primary:meta/schema", f->repo),
	    "gitnet-store 1\n");
	assert_string_equal(sh("git --git-dir=%s show primary:meta/router", f->repo),
	    "id r1\ninterfaces inside outside\n");
	/* No loose objects: everything went into a pack. */
	assert_string_equal(sh("cd %s/objects && find . -type f ! -path './pack/*' "
	    "! -path './info/*' | wc -l", f->repo), "0\n");
	assert_fsck(f->repo);
	/* And it opens again, without a commit while nothing changed. */
	st = open_ok(f->repo, &o);
	store_free(st);
	assert_string_equal(sh("git --git-dir=%s rev-list --count primary", f->repo), "1\n");
	/* The router started with other interfaces: meta/router follows. */
	o.router_info = "interfaces lan wan\n";
	st = open_ok(f->repo, &o);
	store_free(st);
	assert_string_equal(sh("git --git-dir=%s log -1 --format=%%B primary", f->repo),
	    "store: router r1 started\n\nid r1\ninterfaces lan wan\n\n");
	assert_string_equal(sh("git --git-dir=%s show primary:meta/router", f->repo),
	    "id r1\ninterfaces lan wan\n");
	assert_fsck(f->repo);
}

static void
store_open__refuses_foreign_repositories(void **state)
{
	struct fx *f = *state;
	struct store_opts o;
	struct store *st = NULL;

	opts(&o);
	/* Not git at all. */
	sh("mkdir -p %s/plain && echo hi > %s/plain/file", f->dir, f->dir);
	snprintf(f->repo, sizeof(f->repo), "%s/plain", f->dir);
	assert_int_equal(store_open(&st, f->repo, &o), STORE_EFOREIGN);
	assert_non_null(strstr(store_strerror(), "plain: not a git repository"));
	/* A work tree. */
	sh("cd %s && git init -q work && cd work && git -c user.name=a -c user.email=b "
	    "commit -q --allow-empty -m x", f->dir);
	snprintf(f->repo, sizeof(f->repo), "%s/work", f->dir);
	assert_int_equal(store_open(&st, f->repo, &o), STORE_EFOREIGN);
	assert_non_null(strstr(store_strerror(), "not a bare repository"));
	/* A bare repository with history but no primary. */
	sh("cd %s && git clone -q --bare work other.git 2>/dev/null", f->dir);
	snprintf(f->repo, sizeof(f->repo), "%s/other.git", f->dir);
	assert_int_equal(store_open(&st, f->repo, &o), STORE_EFOREIGN);
	assert_non_null(strstr(store_strerror(), "not a gitnet store (no branch primary)"));
	assert_null(st);
	/* Missing, without create. */
	o.create = false;
	snprintf(f->repo, sizeof(f->repo), "%s/absent.git", f->dir);
	assert_int_equal(store_open(&st, f->repo, &o), GIT_ENOTFOUND);
	assert_non_null(strstr(store_strerror(), "absent.git: no repository"));
	snprintf(f->repo, sizeof(f->repo), "%s/state.git", f->dir);
}

static void
store_open__refuses_other_schema(void **state)
{
	struct fx *f = *state;
	struct store_opts o;
	struct store *st = NULL;

	opts(&o);
	st = open_ok(f->repo, &o);
	store_close(st);
	sh("export GIT_DIR=%s GIT_INDEX_FILE=%s/idx; git read-tree primary && "
	    "b=$(printf 'gitnet-store 2\\n' | git hash-object -w --stdin) && "
	    "git update-index --cacheinfo 100644,$b,meta/schema && t=$(git write-tree) && "
	    "c=$(git -c user.name=a -c user.email=b commit-tree $t -p primary -m v2) && "
	    "git update-ref refs/heads/primary $c", f->repo, f->dir);
	st = NULL;
	assert_int_equal(store_open(&st, f->repo, &o), STORE_EFOREIGN);
	assert_non_null(strstr(store_strerror(),
	    "unknown schema 'gitnet-store 2' is not supported (this is 'gitnet-store 1')"));
	/* No meta/schema at all. */
	sh("export GIT_DIR=%s GIT_INDEX_FILE=%s/idx; printf '0 %%040d\\tmeta/schema\\n' 0 | "
	    "git update-index --index-info && t=$(git write-tree) && "
	    "c=$(git -c user.name=a -c user.email=b commit-tree $t -p primary -m none) && "
	    "git update-ref refs/heads/primary $c", f->repo, f->dir);
	assert_int_equal(store_open(&st, f->repo, &o), STORE_EFOREIGN);
	assert_non_null(strstr(store_strerror(), "not a gitnet store (no meta/schema"));
}

static void
store_open__second_owner_is_refused(void **state)
{
	struct fx *f = *state;
	struct store_opts o;
	struct store *st, *st2 = NULL;
	char want[64];

	opts(&o);
	st = open_ok(f->repo, &o);
	assert_int_equal(store_open(&st2, f->repo, &o), STORE_ELOCKED);
	snprintf(want, sizeof(want), "locked by another live process (pid %ld)",
	    (long)getpid());
	assert_non_null(strstr(store_strerror(), want));
	store_free(st);
	st2 = open_ok(f->repo, &o);	/* released */
	store_free(st2);
}

static void
store_open__removes_crash_leftovers(void **state)
{
	struct fx *f = *state;
	struct store_opts o;
	struct store *st;

	opts(&o);
	st = open_ok(f->repo, &o);
	store_free(st);
	sh("cd %s && : > refs/heads/primary.lock && : > refs/heads/expire_1.2.lock && "
	    ": > objects/pack/tmp_gitnet_abc && : > objects/pack/pack_git2_abc",
	    f->repo);
	st = open_ok(f->repo, &o);
	assert_string_equal(sh("cd %s && ls refs/heads/primary.lock "
	    "refs/heads/expire_1.2.lock objects/pack/tmp_gitnet_abc "
	    "objects/pack/pack_git2_abc 2>/dev/null | wc -l", f->repo), "0\n");
	/* With the stale ref lock gone, primary moves. */
	record_ok(st, arp_change(EV_ADD, 0x0a000002, T0, 0));
	commit_ok(st, T0, NULL);
	assert_int_equal(store_flush(st), 0);
	store_free(st);
	assert_fsck(f->repo);
}

/*
 * What a concurrent stock `git fetch` into the repository has in flight
 * (ref locks, tmp_* files, a pack whose index is not written yet) is not
 * the store's: open and close leave every byte of it.
 */
static void
store_open__keeps_files_it_did_not_create(void **state)
{
	struct fx *f = *state;
	static const char *const files =
	    "refs/heads/x.lock packed-refs.lock HEAD.lock config.lock "
	    "objects/pack/tmp_pack_abc objects/pack/tmp_idx_abc "
	    "objects/pack/pack-0123456789abcdef0123456789abcdef01234567.pack "
	    "objects/ab/tmp_obj_xyz objects/tmp_obj_q";
	struct store_opts o;
	struct store *st;
	char before[4096];

	opts(&o);
	st = open_ok(f->repo, &o);
	assert_int_equal(store_close(st), 0);
	sh("cd %s && mkdir -p objects/ab && for f in %s; do echo \"$f\" > $f; done",
	    f->repo, files);
	snprintf(before, sizeof(before), "%s", sh("cd %s && md5sum %s", f->repo, files));
	st = open_ok(f->repo, &o);
	record_ok(st, arp_change(EV_ADD, 0x0a000002, T0, 0));
	commit_ok(st, T0, NULL);
	assert_int_equal(store_close(st), 0);
	assert_string_equal(sh("cd %s && md5sum %s", f->repo, files), before);
	/* And a read-only open (no router_info: the tools' way) as well. */
	o.router_info = NULL;
	st = open_ok(f->repo, &o);
	store_free(st);
	assert_string_equal(sh("cd %s && md5sum %s", f->repo, files), before);
}

static void
store_commit__single_change_message_and_entry(void **state)
{
	struct fx *f = *state;
	struct store_opts o;
	struct store *st;
	git_oid id;
	char hex[48];

	opts(&o);
	st = open_ok(f->repo, &o);
	assert_int_equal(store_commit(st, T0, store_soid_mut(&id)), 1);		/* nothing yet */
	{
		struct store_change bad = arp_change(EV_ADD, 0x0a000002, T0, 0);

		bad.e.arp.state = ARP_STATE_MAX;	/* not encodable: refused */
		assert_int_equal(store_record(st, &bad), STORE_EINVAL);
		assert_non_null(strstr(store_strerror(), "arp: bad state"));
		bad = arp_change(EV_ADD, 0x0a000002, T0, 0);
		bad.e.table = 9;
		assert_int_equal(store_record(st, &bad), STORE_EINVAL);
		memset(&bad, 0, sizeof(bad));
		bad.op = EV_ADD;
		bad.e.table = EV_TABLE_NAT;
		bad.e.nat.proto = 47;			/* no layout for GRE */
		assert_int_equal(store_record(st, &bad), STORE_EINVAL);
		assert_int_equal(store_pending(st), 0);
	}
	record_ok(st, arp_change(EV_ADD, 0x0a000002, T0 + 645130, T0 + 30645130));
	assert_int_equal(store_pending(st), 1);
	commit_ok(st, T0 + 700000, &id);
	assert_int_equal(store_pending(st), 0);
	assert_true(git_oid_equal(&id, store_goid(store_head(st))));
	assert_int_equal(store_flush(st), 0);
	store_free(st);
	assert_string_equal(sh("git --git-dir=%s rev-parse primary", f->repo),
	    strcat(git_oid_tostr(hex, sizeof(hex), &id), "\n"));
	assert_string_equal(sh("git --git-dir=%s log -1 --format=%%B primary", f->repo),
	    "arp: add 10.0.0.2 -> 02:50:2a:16:6d:01\n\n"
	    "Cause: arp reply from 02:50:2a:16:6d:01 on inside\n\n");
	assert_string_equal(sh("git --git-dir=%s log -1 --format='%%an <%%ae> %%at|%%cn %%ct' "
	    "primary", f->repo), "r1 <r1@gitnet> 1429688300|r1 1429688300\n");
	assert_string_equal(sh("git --git-dir=%s show primary:arp/10.0.0/2", f->repo),
	    "expires 1429688330.645130\nlearned-on inside\nlladdr 02:50:2a:16:6d:01\n"
	    "state REACHABLE\nupdated 1429688300.645130\n");
	assert_string_equal(sh("git --git-dir=%s ls-tree -r --name-only primary", f->repo),
	    "arp/10.0.0/2\nmeta/router\nmeta/schema\n");
	assert_fsck(f->repo);
}

static void
store_commit__batch_message_capped_with_trailers(void **state)
{
	struct fx *f = *state;
	struct store_opts o;
	struct store *st;
	struct store_change c;

	opts(&o);
	o.body_max = 3;
	st = open_ok(f->repo, &o);
	for (uint32_t i = 1; i <= 3; i++)
		record_ok(st, arp_change(EV_ADD, 0x0a000000 + i, T0, 0));
	c = arp_change(EV_UPDATE, 0x0a000001, T0, 0);
	c.e.arp.state = ARP_STALE;
	c.cause = EV_CAUSE_REACHABLE_TIMEOUT;
	record_ok(st, c);
	c = arp_change(EV_REMOVE, 0x0a000003, T0, 0);
	c.cause = EV_CAUSE_GC;
	record_ok(st, c);
	commit_ok(st, T0, NULL);
	memset(&c, 0, sizeof(c));
	c.op = EV_ADD;
	c.e.table = EV_TABLE_NAT;
	c.e.nat = (struct store_nat){ .proto = IPPROTO_TCP, .in_ip = 0xc0a80102,
	    .in_port = 51000, .ext_ip = 0xcb007101, .ext_port = 61001,
	    .created_us = T0, .expires_us = T0 + 7440000000ULL };
	record_ok(st, c);
	record_ok(st, arp_change(EV_ADD, 0x0a000009, T0, 0));
	commit_ok(st, T0 + 1000000, NULL);
	assert_int_equal(store_close(st), 0);
	assert_string_equal(sh("git --git-dir=%s log -1 --format=%%B primary~1", f->repo),
	    "arp: 5 changes (3 add, 1 update, 1 remove)\n\n"
	    "arp: add 10.0.0.1 -> 02:50:2a:16:6d:01\n"
	    "arp: add 10.0.0.2 -> 02:50:2a:16:6d:01\n"
	    "arp: add 10.0.0.3 -> 02:50:2a:16:6d:01\n"
	    "... and 2 more\n\n"
	    "Cause: arp reply (3)\n"
	    "Cause: reachable time elapsed (1)\n"
	    "Cause: unused, garbage collected (1)\n\n");
	assert_string_equal(sh("git --git-dir=%s log -1 --format=%%B primary", f->repo),
	    "tables: 2 changes (2 add, 0 update, 0 remove)\n\n"
	    "nat: map tcp 192.168.1.2:51000 -> 203.0.113.1:61001\n"
	    "arp: add 10.0.0.9 -> 02:50:2a:16:6d:01\n\n"
	    "Cause: arp reply (1)\n\n");
	/* git itself reads the trailers. */
	assert_string_equal(sh("git --git-dir=%s log -1 --format='%%(trailers:key=Cause,"
	    "valueonly,separator=%%x2c)' primary~1", f->repo),
	    "arp reply (3),reachable time elapsed (1),unused, garbage collected (1)\n");
	assert_string_equal(sh("git --git-dir=%s ls-tree -r --name-only primary", f->repo),
	    "arp/10.0.0/1\narp/10.0.0/2\narp/10.0.0/9\nmeta/router\nmeta/schema\n"
	    "nat/tcp/192.168.1/2/51000\n");
	assert_fsck(f->repo);
}

static void
tree_id_at(git_oid *out, struct store *st, const char *path)
{
	git_commit *c;
	git_tree *t;
	git_tree_entry *te;

	assert_int_equal(git_commit_lookup(&c, store_repo(st), store_goid(store_head(st))), 0);
	assert_int_equal(git_commit_tree(&t, c), 0);
	assert_int_equal(git_tree_entry_bypath(&te, t, path), 0);
	git_oid_cpy(out, git_tree_entry_id(te));
	git_tree_entry_free(te);
	git_tree_free(t);
	git_commit_free(c);
}

static void
store_commit__rewrites_only_touched_trees(void **state)
{
	struct fx *f = *state;
	struct store_opts o;
	struct store *st;
	git_oid a1, b1, c1, a2, b2, c2;

	opts(&o);
	st = open_ok(f->repo, &o);
	for (uint32_t net = 0; net < 3; net++)
		for (uint32_t h = 1; h <= 100; h++)
			record_ok(st, arp_change(EV_ADD, 0x0a000000 | net << 8 | h, T0, 0));
	commit_ok(st, T0, NULL);
	tree_id_at(&a1, st, "arp/10.0.0");
	tree_id_at(&b1, st, "arp/10.0.1");
	tree_id_at(&c1, st, "meta");
	record_ok(st, arp_change(EV_UPDATE, 0x0a000105, T0 + 1000000, 0));
	commit_ok(st, T0 + 1000000, NULL);
	tree_id_at(&a2, st, "arp/10.0.0");
	tree_id_at(&b2, st, "arp/10.0.1");
	tree_id_at(&c2, st, "meta");
	assert_true(git_oid_equal(&a1, &a2));
	assert_false(git_oid_equal(&b1, &b2));
	assert_true(git_oid_equal(&c1, &c2));
	/* Removing every entry of a shard removes the shard's tree. */
	for (uint32_t h = 1; h <= 100; h++)
		record_ok(st, arp_change(EV_REMOVE, 0x0a000200 | h, T0 + 2000000, 0));
	/* And removing what is not there makes no commit. */
	commit_ok(st, T0 + 2000000, NULL);
	record_ok(st, arp_change(EV_REMOVE, 0x0a000200, T0 + 3000000, 0));
	assert_int_equal(store_commit(st, T0 + 3000000, NULL), 1);
	assert_int_equal(store_close(st), 0);
	assert_string_equal(sh("git --git-dir=%s ls-tree --name-only primary:arp", f->repo),
	    "10.0.0\n10.0.1\n");
	assert_string_equal(sh("git --git-dir=%s rev-list --count primary", f->repo), "4\n");
	assert_fsck(f->repo);
}

/* Append the entry's path and a space to a char[8192] (or larger) buffer. */
static int
collect(void *ctx, const struct store_entry *e)
{
	char *s = ctx, p[64];
	size_t l = strlen(s);

	store_entry_path(p, sizeof(p), e);
	if (l + strlen(p) + 2 < 8192)
		snprintf(s + l, 8192 - l, "%s ", p);
	return 0;
}

static int
count_entry(void *ctx, const struct store_entry *e)
{
	(void)e;
	(*(unsigned *)ctx)++;
	return 0;
}

static void
store_flush__packs_bounded_and_no_loose(void **state)
{
	struct fx *f = *state;
	struct store_opts o;
	struct store *st;
	unsigned count = 0;
	char cnt[32];

	opts(&o);
	o.max_packs = 4;
	st = open_ok(f->repo, &o);
	for (unsigned round = 0; round < 20; round++) {
		for (uint32_t i = 0; i < 10; i++)
			record_ok(st, arp_change(EV_ADD, 0x0a000000 | round << 8 | i,
			    T0 + round * 1000000, 0));
		commit_ok(st, T0 + round * 1000000, NULL);
		assert_int_equal(store_flush(st), 0);
		assert_true(store_pack_count(st) <= 5);
	}
	store_free(st);
	assert_string_equal(sh("cd %s/objects && find . -type f ! -path './pack/*' "
	    "! -path './info/*' | wc -l", f->repo), "0\n");
	snprintf(cnt, sizeof(cnt), "%s", sh("ls %s/objects/pack/*.idx | wc -l", f->repo));
	assert_true(atoi(cnt) <= 4 && atoi(cnt) >= 1);
	assert_fsck(f->repo);
	/* Everything is readable after reopening. */
	st = open_ok(f->repo, &o);
	{
		static struct { char s[8192]; } b;

		b.s[0] = '\0';
		assert_int_equal(store_load(store_reader_of(st), NULL, collect, &b), 0);
		for (const char *p = b.s; (p = strchr(p, ' ')) != NULL; p++)
			count++;
	}
	assert_int_equal(count, 200);
	/* A deep repack folds everything into one compressed pack. */
	assert_int_equal(store_repack(st), 0);
	assert_int_equal(store_pack_count(st), 1);
	record_ok(st, arp_change(EV_ADD, 0x0b000001, T0 + 99000000, 0));
	commit_ok(st, T0 + 99000000, NULL);
	assert_int_equal(store_flush(st), 0);
	store_free(st);
	assert_fsck(f->repo);
	assert_string_equal(sh("git --git-dir=%s ls-tree -r --name-only primary | wc -l",
	    f->repo), "203\n");
}

/*
 * Packs merge in the background: flushes go on while a merge runs, the
 * packs stay under twice the bound, and every change is in primary.
 */
static void
store_flush__merges_packs_in_the_background(void **state)
{
	struct fx *f = *state;
	struct store_opts o;
	struct store *st;
	unsigned started = 0, most = 0, count = 0;

	opts(&o);
	o.max_packs = 3;
	st = open_ok(f->repo, &o);
	for (unsigned round = 0; round < 40; round++) {
		bool before = store_odb_merging(st->odb);
		unsigned n;

		for (uint32_t i = 0; i < 50; i++)
			record_ok(st, arp_change(EV_ADD, 0x0a000000 | round << 8 | i,
			    T0 + round * 1000000, 0));
		commit_ok(st, T0 + round * 1000000, NULL);
		assert_int_equal(store_flush(st), 0);
		started += !before && store_odb_merging(st->odb);
		n = (unsigned)atoi(sh("ls %s/objects/pack/*.idx | wc -l", f->repo));
		most = n > most ? n : most;
	}
	assert_true(started >= 3);
	assert_in_range(most, 4, 2 * 3 + 1);
	assert_in_range(store_pack_count(st), 1, 2 * 3 + 1);
	store_free(st);
	assert_fsck(f->repo);
	st = open_ok(f->repo, &o);
	assert_int_equal(store_load(store_reader_of(st), NULL, count_entry, &count), 0);
	assert_int_equal(count, 40 * 50);
	store_free(st);
}

/*
 * A crash between writing a merged pack and deleting its inputs leaves the
 * inputs beside it; the next merge of them all yields the very same pack
 * (same name) and must not delete it as an input.
 */
static void
big_flush(struct store *st, uint32_t net, uint32_t n, uint64_t t)
{
	for (uint32_t i = 0; i < n; i++)
		record_ok(st, arp_change(EV_ADD, net << 16 | i, t, 0));
	commit_ok(st, t, NULL);
	assert_int_equal(store_flush(st), 0);
}

static void
store_flush__merge_after_interrupted_merge_keeps_objects(void **state)
{
	struct fx *f = *state;
	struct store_opts o;
	struct store *st;
	static struct { char s[65536]; } b;

	opts(&o);
	o.max_packs = 100;
	st = open_ok(f->repo, &o);
	big_flush(st, 0x0a00, 1, T0);
	big_flush(st, 0x0a01, 1, T0 + 1000000);
	store_free(st);
	sh("mkdir -p %s/saved && cp %s/objects/pack/* %s/saved/", f->dir, f->repo, f->dir);
	/* A big pack arrives: the three small ones are merged into one. */
	o.max_packs = 2;
	st = open_ok(f->repo, &o);
	big_flush(st, 0x0b00, 300, T0 + 2000000);
	assert_int_equal(store_pack_count(st), 2);
	store_free(st);
	/* As if killed before the inputs were removed: put them back. */
	sh("cp -n %s/saved/* %s/objects/pack/", f->dir, f->repo);
	/* The same inputs and their merged pack are merged again. */
	st = open_ok(f->repo, &o);
	big_flush(st, 0x0c00, 1000, T0 + 3000000);
	store_free(st);
	assert_fsck(f->repo);
	st = open_ok(f->repo, &o);
	b.s[0] = '\0';
	assert_int_equal(store_load(store_reader_of(st), NULL, collect, &b), 0);
	assert_int_equal(strncmp(b.s, "arp/10.0.0/0 arp/10.1.0/0 arp/11.0.0/0 ", 39), 0);
	store_free(st);
}

static void
store_load__at_revision_and_time(void **state)
{
	struct fx *f = *state;
	struct store_opts o;
	struct store *st;
	static struct { char s[8192]; } b;
	git_oid c1, c2, at;

	opts(&o);
	st = open_ok(f->repo, &o);
	record_ok(st, arp_change(EV_ADD, 0x0a000002, T0, T0 + 60000000));
	commit_ok(st, T0, &c1);
	record_ok(st, arp_change(EV_ADD, 0x0a000003, T0 + 5000000, T0 + 90000000));
	commit_ok(st, T0 + 5000000, &c2);
	assert_int_equal(store_flush(st), 0);
	b.s[0] = '\0';
	assert_int_equal(store_load(store_reader_of(st), store_soid(&c1), collect, &b), 0);
	assert_string_equal(b.s, "arp/10.0.0/2 ");
	b.s[0] = '\0';
	assert_int_equal(store_load(store_reader_of(st), NULL, collect, &b), 0);
	assert_string_equal(b.s, "arp/10.0.0/2 arp/10.0.0/3 ");
	assert_int_equal(store_at_time(store_soid_mut(&at), store_reader_of(st), T0 + 4999999), 0);
	assert_true(git_oid_equal(&at, &c1));
	assert_int_equal(store_at_time(store_soid_mut(&at), store_reader_of(st), T0 + 5000000), 0);
	assert_true(git_oid_equal(&at, &c2));
	assert_int_equal(store_at_time(store_soid_mut(&at), store_reader_of(st), T0 - 1000000), GIT_ENOTFOUND);
	store_free(st);

	/* After a restart the expiry index is rebuilt from the tree. */
	st = open_ok(f->repo, &o);
	assert_int_equal(store_tick(st, T0 + 70000000), 0);
	b.s[0] = '\0';
	assert_int_equal(store_load(store_reader_of(st), NULL, collect, &b), 0);
	assert_string_equal(b.s, "arp/10.0.0/3 ");
	assert_int_equal(store_close(st), 0);
	assert_fsck(f->repo);
}

static void
store_load__names_unparsable_entry(void **state)
{
	struct fx *f = *state;
	struct store_opts o;
	struct store *st;
	static struct { char s[8192]; } b;

	opts(&o);
	st = open_ok(f->repo, &o);
	store_close(st);
	sh("export GIT_DIR=%s GIT_INDEX_FILE=%s/idx; git read-tree primary && "
	    "b=$(printf 'colour blue\\n' | git hash-object -w --stdin) && "
	    "git update-index --add --cacheinfo 100644,$b,arp/10.0.0/7 && t=$(git write-tree) && "
	    "c=$(git -c user.name=a -c user.email=b commit-tree $t -p primary -m bad) && "
	    "git update-ref refs/heads/primary $c", f->repo, f->dir);
	/* The store opens: what does not decode is the reader's to skip. */
	st = open_ok(f->repo, &o);
	assert_int_equal(store_load(store_reader_of(st), NULL, collect, &b), STORE_EPARSE);
	assert_non_null(strstr(store_strerror(), "arp/10.0.0/7: line 1: unknown key 'colour'"));
	{
		struct store_skipped sk = { 0 };

		b.s[0] = '\0';
		assert_int_equal(store_load_skipping(store_reader_of(st), NULL, collect, &b, &sk), 0);
		assert_int_equal(sk.n, 1);
		assert_non_null(strstr(sk.first, "arp/10.0.0/7: line 1: unknown key 'colour'"));
	}
	store_free(st);
}

static void
store_tick__seed_history_shape(void **state)
{
	struct fx *f = *state;
	struct store_opts o;
	struct store *st;
	unsigned na = 9, nn = 9;
	const char *out;

	opts(&o);
	st = open_ok(f->repo, &o);
	record_ok(st, arp_change(EV_ADD, 0x0a000002, 1429688314000000ULL,
	    1429688344000000ULL));
	commit_ok(st, 1429688314000000ULL, NULL);
	assert_int_equal(store_flush(st), 0);
	/* Fork the tick; primary goes on meanwhile. */
	assert_int_equal(store_tick_begin(st, 1429688374601896ULL, &na, &nn), 0);
	assert_int_equal(na, 1);
	assert_int_equal(nn, 0);
	record_ok(st, arp_change(EV_ADD, 0x0a170a01, 1429688375000000ULL, 0));
	commit_ok(st, 1429688375000000ULL, NULL);
	assert_int_equal(store_tick_finish(st, 1429688376000000ULL), 0);
	record_ok(st, arp_change(EV_ADD, 0xc0a80301, 1429688377000000ULL, 0));
	commit_ok(st, 1429688377000000ULL, NULL);
	assert_int_equal(store_flush(st), 0);
	store_free(st);

	out = sh("git --git-dir=%s log --graph --format=%%s%%d --all | sed 's/ *$//'",
	    f->repo);
	assert_string_equal(out,
	    "* arp: add 192.168.3.1 -> 02:50:2a:16:6d:01 (HEAD -> primary)\n"
	    "*   tick: merge expire_1429688374.601896\n"
	    "|\\\n"
	    "| * tick: age out 1 arp entry (expire_1429688374.601896)\n"
	    "* | arp: add 10.23.10.1 -> 02:50:2a:16:6d:01\n"
	    "|/\n"
	    "* arp: add 10.0.0.2 -> 02:50:2a:16:6d:01\n"
	    "* store: create empty tables\n");
	/* The merge has two parents: primary's line first, the tick second. */
	{
		char p2[64];

		snprintf(p2, sizeof(p2), "%s", sh("git --git-dir=%s rev-parse primary~1^2",
		    f->repo));
		assert_string_equal(sh("git --git-dir=%s rev-parse expire_1429688374.601896",
		    f->repo), p2);
		assert_string_equal(sh("git --git-dir=%s rev-list --parents -n1 primary~1 | wc -w",
		    f->repo), "3\n");
	}
	assert_string_equal(sh("git --git-dir=%s log -1 --format=%%B primary~1", f->repo),
	    "tick: merge expire_1429688374.601896\n\nTick-Time: 1429688374.601896\n\n");
	assert_string_equal(sh("git --git-dir=%s log -1 --format=%%B expire_1429688374.601896",
	    f->repo), "tick: age out 1 arp entry\n\narp: remove 10.0.0.2\n\n"
	    "Tick-Time: 1429688374.601896\n\n");
	assert_string_equal(sh("git --git-dir=%s ls-tree -r --name-only primary", f->repo),
	    "arp/10.23.10/1\narp/192.168.3/1\nmeta/router\nmeta/schema\n");
	assert_fsck(f->repo);
}

static void
store_tick__nothing_expired_no_commit(void **state)
{
	struct fx *f = *state;
	struct store_opts o;
	struct store *st;
	git_oid before;

	opts(&o);
	st = open_ok(f->repo, &o);
	record_ok(st, arp_change(EV_ADD, 0x0a000002, T0, T0 + 60000000));
	record_ok(st, arp_change(EV_ADD, 0x0a000003, T0, 0));	/* never expires */
	commit_ok(st, T0, NULL);
	git_oid_cpy(&before, store_goid(store_head(st)));
	assert_int_equal(store_tick(st, T0 + 59999999), 1);
	assert_true(git_oid_equal(&before, store_goid(store_head(st))));
	assert_int_equal(store_tick_finish(st, T0), 1);
	assert_int_equal(store_close(st), 0);
	assert_string_equal(sh("git --git-dir=%s branch --list 'expire_*' | wc -l", f->repo),
	    "0\n");
}

static void
store_tick__refresh_on_primary_survives(void **state)
{
	struct fx *f = *state;
	struct store_opts o;
	struct store *st;
	unsigned na, nn;

	opts(&o);
	st = open_ok(f->repo, &o);
	record_ok(st, arp_change(EV_ADD, 0x0a000002, T0, T0 + 10000000));
	record_ok(st, arp_change(EV_ADD, 0x0a000003, T0, T0 + 10000000));
	commit_ok(st, T0, NULL);
	assert_int_equal(store_tick_begin(st, T0 + 20000000, &na, &nn), 0);
	assert_int_equal(na, 2);
	/* 10.0.0.2 confirmed again on primary while the tick ran. */
	record_ok(st, arp_change(EV_UPDATE, 0x0a000002, T0 + 20500000, T0 + 50500000));
	commit_ok(st, T0 + 20500000, NULL);
	assert_int_equal(store_tick_finish(st, T0 + 21000000), 0);
	assert_int_equal(store_close(st), 0);
	assert_string_equal(sh("git --git-dir=%s ls-tree -r --name-only primary:arp", f->repo),
	    "10.0.0/2\n");
	assert_string_equal(sh("git --git-dir=%s show primary:arp/10.0.0/2 | head -1", f->repo),
	    "expires 1429688350.500000\n");
	/* And the index followed the merge: a later tick finds only it. */
	st = open_ok(f->repo, &o);
	assert_int_equal(store_tick_begin(st, T0 + 60000000, &na, &nn), 0);
	assert_int_equal(na, 1);
	store_free(st);
	assert_fsck(f->repo);
}

static void
store_tick__keeps_last_k_branches(void **state)
{
	struct fx *f = *state;
	struct store_opts o;
	struct store *st;

	opts(&o);
	o.keep_expire = 2;
	st = open_ok(f->repo, &o);
	for (uint32_t i = 0; i < 4; i++) {
		uint64_t t = T0 + i * 10000000ULL;

		record_ok(st, arp_change(EV_ADD, 0x0a000010 + i, t, t + 1000000));
		commit_ok(st, t, NULL);
		assert_int_equal(store_tick(st, t + 2000000), 0);
		assert_int_equal(store_flush(st), 0);
	}
	store_free(st);
	assert_string_equal(sh("git --git-dir=%s for-each-ref --format='%%(refname:short)' "
	    "'refs/heads/expire_*'", f->repo),
	    "expire_1429688322.000000\nexpire_1429688332.000000\n");
	assert_fsck(f->repo);
}

static void
store_poll__group_commit_window(void **state)
{
	struct fx *f = *state;
	struct store_opts o;
	struct store *st;

	opts(&o);
	o.window_ms = 100;
	o.batch_max = 5;
	st = open_ok(f->repo, &o);
	record_ok(st, arp_change(EV_ADD, 0x0a000001, T0, 0));
	assert_int_equal(store_poll(st, T0 + 99999), 0);
	assert_int_equal(store_pending(st), 1);
	assert_int_equal(store_poll(st, T0 + 100000), 1);
	assert_int_equal(store_pending(st), 0);
	for (uint32_t i = 2; i <= 5; i++)
		record_ok(st, arp_change(EV_ADD, 0x0a000000 + i, T0 + 200000, 0));
	assert_int_equal(store_poll(st, T0 + 200001), 0);
	record_ok(st, arp_change(EV_ADD, 0x0a000006, T0 + 200000, 0));
	assert_int_equal(store_poll(st, T0 + 200002), 1);	/* batch_max reached */
	store_free(st);
	/* Both commits are durable on disk without a close. */
	assert_string_equal(sh("git --git-dir=%s log --format=%%s primary", f->repo),
	    "arp: 5 changes (5 add, 0 update, 0 remove)\n"
	    "arp: add 10.0.0.1 -> 02:50:2a:16:6d:01\n"
	    "store: create empty tables\n");
	assert_fsck(f->repo);
}

static void
store_open__truncated_pack_is_a_clear_error(void **state)
{
	struct fx *f = *state;
	struct store_opts o;
	struct store *st;
	int error;

	opts(&o);
	st = open_ok(f->repo, &o);
	record_ok(st, arp_change(EV_ADD, 0x0a000002, T0, 0));
	assert_int_equal(store_close(st), 0);
	sh("cd %s/objects/pack && for p in *.pack; do chmod u+w $p; truncate -s 40 $p; done",
	    f->repo);
	st = NULL;
	error = store_open(&st, f->repo, &o);
	assert_true(error < 0);
	assert_null(st);
	assert_non_null(strstr(store_strerror(), "state.git"));
}

static void
store_open__corrupt_object_is_a_clear_error(void **state)
{
	struct fx *f = *state;
	struct store_opts o;
	struct store *st;
	int error;

	opts(&o);
	st = open_ok(f->repo, &o);
	record_ok(st, arp_change(EV_ADD, 0x0a000002, T0, 0));
	assert_int_equal(store_close(st), 0);
	/* Flip a byte inside the last object (the commit) of the newest pack. */
	sh("cd %s/objects/pack && p=$(ls -t *.pack | head -1) && chmod u+w $p && "
	    "n=$(( $(stat -c %%s $p) - 27 )) && printf '\\377' | "
	    "dd of=$p bs=1 seek=$n conv=notrunc 2>/dev/null", f->repo);
	st = NULL;
	error = store_open(&st, f->repo, &o);
	assert_true(error < 0);
	assert_null(st);
	assert_non_null(strstr(store_strerror(), "state.git: primary"));
	/* Stock git agrees that it is damaged. */
	assert_int_not_equal(system(sh("printf 'git --git-dir=%s fsck --strict "
	    ">/dev/null 2>&1'", f->repo)), 0);
}

static void
store_record_event__arp_and_nat_sessions(void **state)
{
	struct fx *f = *state;
	struct store_opts o;
	struct store *st;
	struct nf_event ev;

	opts(&o);
	st = open_ok(f->repo, &o);
	memset(&ev, 0, sizeof(ev));
	ev.table = EV_TABLE_ARP;
	ev.op = EV_LLADDR;
	ev.cause = EV_CAUSE_ARP_REPLY;
	ev.now_us = T0;
	ev.arp = (struct ev_arp){ .ip = 0x0a000002, .mac = { 2, 0x50, 0x2a, 0x16, 0x6d, 2 },
	    .old_mac = { 2, 0x50, 0x2a, 0x16, 0x6d, 1 }, .state = ARP_REACHABLE,
	    .ifidx = 1, .updated_us = T0, .expires_us = T0 + 30000000 };
	assert_int_equal(store_record_event(st, &ev), 0);
	commit_ok(st, T0, NULL);
	assert_int_equal(store_flush(st), 0);
	assert_string_equal(sh("git --git-dir=%s log -1 --format=%%B primary", f->repo),
	    "arp: lladdr-change 10.0.0.2 02:50:2a:16:6d:01 -> 02:50:2a:16:6d:02\n\n"
	    "Cause: arp reply from 02:50:2a:16:6d:02 on outside\n\n");

	/* A session on a new mapping, a second one, then both go. */
	memset(&ev, 0, sizeof(ev));
	ev.table = EV_TABLE_NAT;
	ev.op = EV_ADD;
	ev.now_us = T0 + 1000000;
	ev.nat.proto = IPPROTO_TCP;
	ev.nat.mapping_new = 1;
	ev.nat.int_ip = 0xc0a80102;
	ev.nat.int_port = 51000;
	ev.nat.ext_ip = 0xcb007101;
	ev.nat.ext_port = 61001;
	ev.nat.nsessions = 1;
	ev.nat.nremote = 1;
	ev.nat.remote[0] = (struct ev_nat_remote){ 0xc6336409, 443, NAT_TCP_SYN_OUT, 0 };
	ev.nat.map_created_us = T0 + 1000000;
	ev.nat.map_expires_us = T0 + 241000000;
	assert_int_equal(store_record_event(st, &ev), 0);
	commit_ok(st, T0 + 1000000, NULL);
	ev.op = EV_ADD;
	ev.nat.mapping_new = 0;
	ev.nat.nremote = 2;
	ev.nat.remote[0].state = NAT_TCP_ESTABLISHED;
	ev.nat.remote[0].flags = NAT_SF_REPLIED;
	ev.nat.remote[1] = (struct ev_nat_remote){ 0xc633640a, 80, NAT_TCP_FIN_IN,
	    NAT_SF_REPLIED };
	assert_int_equal(store_record_event(st, &ev), 0);
	commit_ok(st, T0 + 2000000, NULL);
	assert_int_equal(store_flush(st), 0);
	assert_string_equal(sh("git --git-dir=%s log -2 --format=%%s primary", f->repo),
	    "nat: update tcp 192.168.1.2:51000 -> 203.0.113.1:61001\n"
	    "nat: map tcp 192.168.1.2:51000 -> 203.0.113.1:61001\n");
	assert_string_equal(sh("git --git-dir=%s show primary:nat/tcp/192.168.1/2/51000",
	    f->repo), "created 1429688301.000000\nexpires 1429688541.000000\n"
	    "external 203.0.113.1:61001\nremote 198.51.100.10:80 close-wait\n"
	    "remote 198.51.100.9:443 established\n");
	ev.op = EV_REMOVE;			/* one session goes: an update */
	ev.nat.nremote = 1;
	assert_int_equal(store_record_event(st, &ev), 0);
	ev.nat.mapping_gone = 1;		/* the last one: the mapping goes */
	ev.nat.nremote = 0;
	assert_int_equal(store_record_event(st, &ev), 0);
	commit_ok(st, T0 + 3000000, NULL);
	assert_int_equal(store_close(st), 0);
	assert_string_equal(sh("git --git-dir=%s log -1 --format=%%s primary", f->repo),
	    "nat: 2 changes (0 add, 1 update, 1 remove)\n");
	assert_string_equal(sh("git --git-dir=%s ls-tree -r --name-only primary | grep -c nat/",
	    f->repo), "0\n");
	assert_fsck(f->repo);
}

/*
 * A tree rewritten several times within one flush goes into the pack as a
 * delta against its previous version (chains bounded); stock git reads
 * every version back exactly.
 */
static void
store_flush__rewritten_trees_as_deltas(void **state)
{
	struct fx *f = *state;
	struct store_opts o;
	struct store *st;
	git_oid ids[80];
	uint32_t changed[80];
	char hex[GIT_OID_HEXSZ + 1], path[64], val[512];
	unsigned long deltas = 0, nontree = 0, depth = 0;
	const char *out;

	opts(&o);
	st = open_ok(f->repo, &o);
	for (uint32_t i = 0; i < 400; i++)
		record_ok(st, arp_change(EV_ADD, 0x0a000000 | i, T0, T0 + 60000000));
	commit_ok(st, T0, NULL);
	assert_int_equal(store_flush(st), 0);
	/* 80 single-change commits in one flush: arp/ and a /24 each time. */
	for (unsigned k = 0; k < 80; k++) {
		changed[k] = 0x0a000000 | (k * 37 % 400);
		record_ok(st, arp_change(EV_UPDATE, changed[k], T0 + 1000000 + k, T0 + 90000000));
		commit_ok(st, T0 + 1000000 + k, &ids[k]);
	}
	assert_int_equal(store_flush(st), 0);
	assert_int_equal(store_close(st), 0);
	assert_fsck(f->repo);
	/* The newest pack holds OFS_DELTA trees, chains no longer than the bound. */
	out = sh("cd %s/objects/pack && git verify-pack -v $(ls -t *.idx | head -1) | "
	    "awk 'NF == 7 { n++; if ($2 != \"tree\") bad++; if ($6 > d) d = $6 } "
	    "END { print n + 0, bad + 0, d + 0 }'", f->repo);
	assert_int_equal(sscanf(out, "%lu %lu %lu", &deltas, &nontree, &depth), 3);
	assert_int_equal(nontree, 0);
	assert_in_range(deltas, 70, 80);	/* the /24 trees; arp/ and the root are too small */
	assert_in_range(depth, 2, 16);
	/* Every version of every changed entry, as git reads it. */
	for (unsigned k = 0; k < 80; k++) {
		struct store_change c = arp_change(EV_UPDATE, changed[k], T0 + 1000000 + k,
		    T0 + 90000000);
		int n;

		store_entry_path(path, sizeof(path), &c.e);
		n = store_entry_encode(val, sizeof(val), &c.e, ifnames, 2);
		assert_true(n > 0);
		val[n] = '\0';
		assert_string_equal(sh("git --git-dir=%s show %s:%s", f->repo,
		    git_oid_tostr(hex, sizeof(hex), &ids[k]), path), val);
		assert_string_equal(sh("git --git-dir=%s ls-tree -r %s | wc -l", f->repo, hex),
		    "402\n");
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(store_open__creates_bare_repo_with_schema),
		T(store_open__refuses_foreign_repositories),
		T(store_open__refuses_other_schema),
		T(store_open__second_owner_is_refused),
		T(store_open__removes_crash_leftovers),
		T(store_open__keeps_files_it_did_not_create),
		T(store_open__truncated_pack_is_a_clear_error),
		T(store_open__corrupt_object_is_a_clear_error),
		T(store_commit__single_change_message_and_entry),
		T(store_commit__batch_message_capped_with_trailers),
		T(store_commit__rewrites_only_touched_trees),
		T(store_flush__packs_bounded_and_no_loose),
		T(store_flush__merges_packs_in_the_background),
		T(store_flush__merge_after_interrupted_merge_keeps_objects),
		T(store_flush__rewritten_trees_as_deltas),
		T(store_load__at_revision_and_time),
		T(store_load__names_unparsable_entry),
		T(store_tick__seed_history_shape),
		T(store_tick__nothing_expired_no_commit),
		T(store_tick__refresh_on_primary_survives),
		T(store_tick__keeps_last_k_branches),
		T(store_poll__group_commit_window),
		T(store_record_event__arp_and_nat_sessions),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

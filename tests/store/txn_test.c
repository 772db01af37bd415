/* SPDX-License-Identifier: ISC */
/*
 * Write transactions and the merge's validation of untrusted input.
 *
 * Transactions: a commit on a new ref is durable and fsck-clean; a ref
 * that moved fails the commit (STORE_EMODIFIED) with nothing written; a
 * rollback and a crash before the commit leave the repository as it was;
 * a transaction on primary moves the writer's head and its expiry index;
 * text put outside the tables, or that its codec refuses, is refused.
 *
 * Validation: branches built with stock git plumbing (hash-object,
 * update-index, write-tree, commit-tree, update-ref) that change
 * meta/schema, add a top-level name, a symlink, a gitlink or an entry that
 * does not decode are refused by store_merge() and store_merge_into(),
 * the message naming the path, and the target ref left where it was.
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
#include <sys/wait.h>
#include <unistd.h>

#include "store/internal.h"

#define FX_NAME	"txn_test"
#include "tests/store/fixture.h"

#define T0	1429688300000000ULL
#define SEC	1000000ULL

static const uint8_t mac1[6] = { 0x02, 0x50, 0x2a, 0x16, 0x6d, 0x01 };

static struct store_entry
arp(uint32_t ip, uint64_t updated, uint64_t expires)
{
	struct store_entry e;

	memset(&e, 0, sizeof(e));
	e.table = EV_TABLE_ARP;
	e.arp.ip = ip;
	memcpy(e.arp.mac, mac1, 6);
	e.arp.state = 2;
	e.arp.updated_us = updated;
	e.arp.expires_us = expires;
	return e;
}

static void
record_add(struct store *st, uint32_t ip, uint64_t now)
{
	struct store_change c;

	memset(&c, 0, sizeof(c));
	c.op = EV_ADD;
	c.now_us = now;
	c.e = arp(ip, now, now + 3600 * SEC);
	assert_int_equal(store_record(st, &c), 0);
	assert_true(store_commit(st, now, NULL) >= 0);
	assert_int_equal(store_flush(st), 0);
}

/* A store with one entry on primary, flushed. */
static struct store *
fx_store(struct fx *f)
{
	struct store_opts o;
	struct store *st;

	opts(&o);
	st = open_ok(f->repo, &o);
	record_add(st, 0x0a000002, T0);
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

static const char *
git_out(struct fx *f, const char *args)
{
	return sh("git --git-dir=%s %s 2>/dev/null", f->repo, args);
}

static unsigned
npacks(struct fx *f)
{
	return (unsigned)atoi(sh("ls %s/*.pack 2>/dev/null | wc -l", f->packdir));
}

static void
txn_new_ref(void **state)
{
	struct fx *f = *state;
	struct store *st = fx_store(f);
	struct store_txn *t;
	struct store_oid head = *store_head(st), id, got;
	struct store_entry e = arp(0x0a000003, T0 + SEC, T0 + 100 * SEC);
	char hex[STORE_OID_HEXSZ + 2], *text = NULL;

	assert_int_equal(store_txn_begin(&t, st), 0);
	assert_int_equal(store_txn_put(t, &e), 0);
	assert_int_equal(store_txn_make_commit(&id, t, &head, 1, NULL, NULL, "side: one\n",
	    T0 + SEC), 0);
	assert_int_equal(store_txn_ref(t, "refs/heads/side", &id, NULL), 0);
	/* Nothing on disk before the commit. */
	assert_string_equal(git_out(f, "rev-parse -q --verify refs/heads/side"), "");
	assert_int_equal(store_txn_commit(t), 0);
	assert_string_equal(git_out(f, "rev-parse refs/heads/side"),
	    strcat(store_oid_fmt(hex, &id), "\n"));
	assert_true(store_oid_equal(store_head(st), &head));	/* primary stays */
	assert_int_equal(store_read_file(&text, NULL, NULL, store_reader_of(st), &id,
	    "arp/10.0.0/3"), 0);
	free(text);
	/* The commit names the ref's new id on disk too, for a fresh reader. */
	store_free(st);
	{
		struct store_reader *r;

		assert_int_equal(store_reader_open(&r, f->repo), 0);
		assert_int_equal(store_ref_read(&got, r, "refs/heads/side"), 0);
		assert_true(store_oid_equal(&got, &id));
		store_reader_free(r);
	}
	assert_fsck(f->repo);
}

static void
txn_cas_moved(void **state)
{
	struct fx *f = *state;
	struct store *st = fx_store(f);
	struct store_txn *t;
	struct store_oid head = *store_head(st), id;
	struct store_entry e = arp(0x0a000004, T0 + SEC, T0 + 100 * SEC);
	char want[128];
	unsigned packs;

	assert_int_equal(run("git --git-dir=%s update-ref refs/heads/side "
	    "primary", f->repo), 0);
	assert_int_equal(store_txn_begin(&t, st), 0);
	assert_int_equal(store_txn_put(t, &e), 0);
	assert_int_equal(store_txn_make_commit(&id, t, &head, 1, NULL, NULL, "side\n",
	    T0 + SEC), 0);
	assert_int_equal(store_txn_ref(t, "refs/heads/side", &id, &head), 0);
	/* Someone moves side meanwhile (to primary's first commit). */
	assert_int_equal(run("git --git-dir=%s update-ref refs/heads/side "
	    "primary~1", f->repo), 0);
	snprintf(want, sizeof(want), "%s", git_out(f, "rev-parse refs/heads/side"));
	packs = npacks(f);
	assert_int_equal(store_txn_commit(t), STORE_EMODIFIED);
	assert_non_null(strstr(store_strerror(), "refs/heads/side"));
	assert_string_equal(git_out(f, "rev-parse refs/heads/side"), want);
	assert_int_equal(npacks(f), packs);		/* nothing written */
	/* The writer goes on. */
	record_add(st, 0x0a000005, T0 + 2 * SEC);
	store_free(st);
	assert_fsck(f->repo);
}

static void
txn_rollback_and_crash(void **state)
{
	struct fx *f = *state;
	struct store *st = fx_store(f);
	struct store_txn *t;
	struct store_oid head = *store_head(st), id;
	struct store_entry e = arp(0x0a000006, T0 + SEC, T0 + 100 * SEC);
	char hex[STORE_OID_HEXSZ + 1], refs[4096];
	unsigned packs = npacks(f);

	snprintf(refs, sizeof(refs), "%s", git_out(f, "for-each-ref"));
	assert_int_equal(store_txn_begin(&t, st), 0);
	assert_int_equal(store_txn_put(t, &e), 0);
	assert_int_equal(store_txn_make_commit(&id, t, &head, 1, NULL, NULL, "x\n", T0), 0);
	assert_int_equal(store_txn_ref(t, "refs/heads/side", &id, NULL), 0);
	/* While it is open, the journal path refuses. */
	{
		struct store_change c;

		memset(&c, 0, sizeof(c));
		c.op = EV_ADD;
		c.e = arp(0x0a000007, T0, T0 + SEC);
		assert_int_equal(store_record(st, &c), 0);
		assert_int_equal(store_commit(st, T0, NULL), STORE_EINVAL);
		st->jn = 0;
	}
	store_txn_rollback(t);
	assert_string_equal(git_out(f, "for-each-ref"), refs);
	assert_int_equal(npacks(f), packs);
	assert_string_equal(sh("git --git-dir=%s cat-file -e %s 2>/dev/null && echo present",
	    f->repo, store_oid_fmt(hex, &id)), "");
	record_add(st, 0x0a000008, T0 + 3 * SEC);	/* usable after */

	/* A crash before the commit (a child that dies): nothing on disk. */
	head = *store_head(st);
	snprintf(refs, sizeof(refs), "%s", git_out(f, "for-each-ref"));
	packs = npacks(f);
	{
		pid_t pid = fork();
		int status;

		assert_true(pid >= 0);
		if (pid == 0) {
			if (store_txn_begin(&t, st) != 0 || store_txn_put(t, &e) != 0 ||
			    store_txn_make_commit(&id, t, &head, 1, NULL, NULL, "x\n",
			    T0) != 0 ||
			    store_txn_ref(t, "refs/heads/primary", &id, &head) != 0)
				_exit(1);
			_exit(0);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	store_free(st);
	assert_string_equal(git_out(f, "for-each-ref"), refs);
	assert_int_equal(npacks(f), packs);
	assert_fsck(f->repo);
	{
		struct store_opts o;

		opts(&o);
		st = open_ok(f->repo, &o);
		assert_true(store_oid_equal(store_head(st), &head));
		store_free(st);
	}
}

static void
txn_primary_moves_head(void **state)
{
	struct fx *f = *state;
	struct store *st = fx_store(f);
	struct store_txn *t;
	struct store_oid head = *store_head(st), id;
	struct store_entry e = arp(0x0a000009, T0 + SEC, T0 + 10 * SEC);
	struct store_sig who = { "replayer", "replayer@gitnet", 1429688400, 120 };
	struct store_commit *c;
	unsigned n_arp = 0;

	assert_int_equal(store_txn_begin(&t, st), 0);
	assert_int_equal(store_txn_put(t, &e), 0);
	assert_int_equal(store_txn_make_commit(&id, t, &head, 1, &who, &who, "mine\n", 0), 0);
	assert_int_equal(store_txn_ref(t, "refs/heads/primary", &id, &head), 0);
	assert_int_equal(store_txn_commit(t), 0);
	assert_true(store_oid_equal(store_head(st), &id));
	assert_int_equal(store_commit_read(&c, store_reader_of(st), &id), 0);
	assert_string_equal(c->author.name, "replayer");
	assert_int_equal(c->committer.tz, 120);
	assert_int_equal(c->committer.time, 1429688400);
	store_commit_free(c);
	/* The expiry index knows the entry the transaction put. */
	assert_int_equal(store_tick_begin(st, T0 + 20 * SEC, &n_arp, NULL), 0);
	assert_int_equal(n_arp, 1);
	assert_int_equal(store_tick_finish(st, T0 + 20 * SEC), 0);
	assert_int_equal(store_close(st), 0);
	assert_fsck(f->repo);
}

static void
txn_put_refused(void **state)
{
	struct fx *f = *state;
	struct store *st = fx_store(f);
	struct store_txn *t;

	assert_int_equal(store_txn_begin(&t, st), 0);
	assert_int_equal(store_txn_put_text(t, "README", "hi\n", 3), STORE_EREFUSED);
	assert_non_null(strstr(store_strerror(), "README"));
	assert_int_equal(store_txn_put_text(t, "arp/10.0.0/2", "junk\n", 5), STORE_EREFUSED);
	assert_non_null(strstr(store_strerror(), "arp/10.0.0/2"));
	assert_int_equal(store_txn_put_text(t, "meta/schema", "gitnet-store 2\n", 15),
	    STORE_EREFUSED);
	assert_non_null(strstr(store_strerror(), "meta/schema"));
	assert_int_equal(store_txn_put_text(t, "arp/../x", "x\n", 2), STORE_EREFUSED);
	assert_int_equal(store_txn_put_text(t, "meta/schema", STORE_SCHEMA "\n",
	    strlen(STORE_SCHEMA) + 1), 0);
	assert_int_equal(store_txn_remove(t, "arp/10.0.0/2"), 0);
	assert_int_equal(store_txn_remove(t, "arp/10.0.0/2"), 1);
	assert_int_equal(store_txn_remove(t, "arp/10.0.0/99"), 1);
	store_txn_rollback(t);
	store_free(st);
}

/*
 * Branch name off primary with one file changed by stock git: mode
 * (100644, 120000, 160000), path and content (for 160000: a commit id).
 */
static void
hostile(struct fx *f, const char *name, const char *mode, const char *path,
    const char *content)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd),
	    "set -e; export GIT_DIR=%s GIT_INDEX_FILE=%s/idx; git read-tree primary; "
	    "o=$(%s); git update-index --add --cacheinfo %s,$o,%s; t=$(git write-tree); "
	    "c=$(GIT_AUTHOR_NAME=p GIT_AUTHOR_EMAIL=p GIT_COMMITTER_NAME=p "
	    "GIT_COMMITTER_EMAIL=p git commit-tree $t -p primary -m hostile); "
	    "git update-ref refs/heads/%s $c",
	    f->repo, f->dir,
	    strcmp(mode, "160000") == 0 ? "git rev-parse primary" :
	    "printf '%s' | git hash-object -w --stdin", mode, path, name);
	{
		char full[2300];

		/* content goes through printf's format on purpose (\n). */
		snprintf(full, sizeof(full), cmd, content);
		assert_int_equal(system(full), 0);
	}
}

static void
merge_refuses_hostile(void **state)
{
	static const struct {
		const char *name, *mode, *path, *content;
	} h[] = {
		{ "schema", "100644", "meta/schema", "gitnet-store 2\\n" },
		{ "toplevel", "100644", "README", "hello\\n" },
		{ "symlink", "120000", "arp/10.0.0/9", "/etc/passwd" },
		{ "gitlink", "160000", "nat/udp/10.0.0/2/53", "" },
		{ "junk", "100644", "arp/10.0.0/7", "junk\\n" },
		{ "exec", "100755", "arp/10.0.0/8",
		    "expires never\\nlearned-on inside\\nlladdr 02:50:2a:16:6d:01\\n"
		    "state PERMANENT\\nupdated 1429688300.000000\\n" },
		{ "metax", "100644", "meta/extra", "x\\n" },
	};
	struct fx *f = *state;
	struct store *st = fx_store(f);
	struct store_oid head;
	char want[128];

	assert_int_equal(run("git --git-dir=%s branch inspect primary", f->repo), 0);
	snprintf(want, sizeof(want), "%s", git_out(f, "rev-parse inspect"));
	for (size_t i = 0; i < sizeof(h) / sizeof(h[0]); i++) {
		hostile(f, h[i].name, h[i].mode, h[i].path, h[i].content);
		head = *store_head(st);
		assert_int_equal(store_merge(st, h[i].name, T0 + 5 * SEC), STORE_EREFUSED);
		if (strstr(store_strerror(), h[i].path) == NULL)
			fail_msg("%s: message without the path: %s", h[i].name, store_strerror());
		assert_true(store_oid_equal(store_head(st), &head));
		assert_int_equal(store_merge_into(st, h[i].name, "inspect", T0 + 5 * SEC),
		    STORE_EREFUSED);
		assert_non_null(strstr(store_strerror(), h[i].path));
		assert_string_equal(git_out(f, "rev-parse inspect"), want);
	}
	assert_int_equal(store_close(st), 0);
	assert_fsck(f->repo);
}

static void
merge_into_ref(void **state)
{
	struct fx *f = *state;
	struct store *st = fx_store(f);
	struct store_reader *r = store_reader_of(st);
	struct store_oid before, after, peer;
	struct store_commit *c;
	char *text = NULL;

	assert_int_equal(run("git --git-dir=%s branch inspect primary", f->repo), 0);
	/* peer: a valid entry added by stock git. */
	hostile(f, "peer", "100644", "arp/10.0.0/7",
	    "expires never\\nlearned-on inside\\nlladdr 02:50:2a:16:6d:01\\n"
	    "state PERMANENT\\nupdated 1429688300.000000\\n");
	record_add(st, 0x0a00000a, T0 + SEC);		/* primary moves on */
	assert_int_equal(store_ref_read(&before, r, "refs/heads/inspect"), 0);
	assert_int_equal(store_ref_read(&peer, r, "refs/heads/peer"), 0);
	assert_int_equal(store_merge_into(st, "peer", "inspect", T0 + 2 * SEC), 0);
	assert_int_equal(store_ref_read(&after, r, "refs/heads/inspect"), 0);
	assert_int_equal(store_commit_read(&c, r, &after), 0);
	assert_int_equal(c->nparent, 2);
	assert_true(store_oid_equal(&c->parent[0], &before));
	assert_true(store_oid_equal(&c->parent[1], &peer));
	assert_string_equal(c->summary, "merge peer");
	store_commit_free(c);
	assert_int_equal(store_read_file(&text, NULL, NULL, r, &after, "arp/10.0.0/7"), 0);
	free(text);
	/* Contained now: no commit. */
	assert_int_equal(store_merge_into(st, "peer", "inspect", T0 + 3 * SEC), 0);
	assert_int_equal(store_ref_read(&before, r, "refs/heads/inspect"), 0);
	assert_true(store_oid_equal(&before, &after));
	assert_int_equal(store_close(st), 0);
	assert_fsck(f->repo);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(txn_new_ref, setup, teardown),
		cmocka_unit_test_setup_teardown(txn_cas_moved, setup, teardown),
		cmocka_unit_test_setup_teardown(txn_rollback_and_crash, setup, teardown),
		cmocka_unit_test_setup_teardown(txn_primary_moves_head, setup, teardown),
		cmocka_unit_test_setup_teardown(txn_put_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(merge_refuses_hostile, setup, teardown),
		cmocka_unit_test_setup_teardown(merge_into_ref, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: ISC */
/*
 * First-parent lines (store/graph.c) against stock git: the line
 * store_first_parents() reads equals `git rev-list --first-parent` with
 * and without a commit-graph (store_graph_write(), checked by `git
 * commit-graph verify`), and with commits made after the graph; its times,
 * trees and tick-merge second parents are git's; `since` stops it after
 * the first older commit; a `shallow` boundary or a missing parent ends
 * it as a root would; store_path_oid() names files and directories.
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

#include "store/internal.h"

#define FX_NAME "graph_test"
#include "tests/store/fixture.h"

#define T0	1795341600000000ULL	/* 2026-11-22T10:00:00Z */

static void
nat_add(struct store *st, unsigned i, uint64_t now)
{
	struct store_change c;

	memset(&c, 0, sizeof(c));
	c.op = EV_ADD;
	c.cause = EV_CAUSE_NAT_OUTBOUND;
	c.now_us = now;
	c.e.table = EV_TABLE_NAT;
	c.e.nat.proto = IPPROTO_UDP;
	c.e.nat.in_ip = 0xc0a80102;
	c.e.nat.in_port = (uint16_t)(5000 + i);
	c.e.nat.ext_ip = 0xcb007101;
	c.e.nat.ext_port = (uint16_t)(61000 + i);
	c.e.nat.created_us = now;
	c.e.nat.expires_us = now + 2500000;
	assert_int_equal(store_record(st, &c), 0);
}

/* A history of n seconds: a group commit a second, a tick when due. */
static struct store *
history(const char *repo, unsigned n, unsigned first)
{
	struct store_opts o;
	struct store *st;

	opts(&o);
	st = open_ok(repo, &o);
	for (unsigned s = first; s < first + n; s++) {
		uint64_t now = T0 + (uint64_t)s * 1000000;

		nat_add(st, s, now);
		assert_int_equal(store_commit(st, now + 100000, NULL), 0);
		assert_true(store_tick(st, now + 900000) >= 0);
	}
	assert_int_equal(store_flush(st), 0);
	return st;
}

/* Check the line from primary against rev-list; returns its length. */
static size_t
line_matches_git(struct store *st, const char *repo)
{
	struct store_fp *v;
	size_t n;
	char want[65536], got[65536], hex[STORE_OID_HEXSZ + 1], *p = got;

	assert_int_equal(store_first_parents(&v, &n, store_reader_of(st), NULL,
	    INT64_MIN), 0);
	snprintf(want, sizeof(want), "%s", sh("git --git-dir=%s log --first-parent "
	    "--format='%%H %%T %%ct %%P' primary", repo));
	got[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		p += sprintf(p, "%s ", store_oid_fmt(hex, &v[i].id));
		/* git's %P: the parents separated by spaces, nothing for a root */
		p += sprintf(p, "%s %lld ", store_oid_fmt(hex, &v[i].tree),
		    (long long)v[i].time);
		if (v[i].nparent > 0)
			p += sprintf(p, "%s", store_oid_fmt(hex, &v[i].parent));
		if (v[i].nparent > 1)
			p += sprintf(p, " %s", store_oid_fmt(hex, &v[i].parent2));
		p += sprintf(p, "\n");
	}
	assert_string_equal(got, want);
	free(v);
	return n;
}

static void
store_first_parents__equals_git_with_and_without_graph(void **state)
{
	struct fx *f = *state;
	struct store *st = history(f->repo, 12, 0);
	char path[160];
	size_t n1, n2;

	n1 = line_matches_git(st, f->repo);
	assert_true(n1 > 12);		/* group commits and tick merges */
	assert_int_equal(store_graph_write(st), 0);
	snprintf(path, sizeof(path), "%s/objects/info/commit-graph", f->repo);
	assert_int_equal(access(path, R_OK), 0);
	assert_string_equal(sh("git --git-dir=%s commit-graph verify >/dev/null 2>&1 "
	    "&& echo ok", f->repo), "ok\n");
	assert_int_equal(line_matches_git(st, f->repo), n1);
	store_free(st);

	/* Commits after the graph: read from their objects, then the graph. */
	st = history(f->repo, 5, 12);
	n2 = line_matches_git(st, f->repo);
	assert_true(n2 > n1);
	assert_int_equal(store_close(st), 0);
	assert_fsck(f->repo);
}

static void
store_first_parents__since_stops_after_the_first_older(void **state)
{
	struct fx *f = *state;
	struct store *st = history(f->repo, 10, 0);
	struct store_fp *v;
	size_t n;

	for (int g = 0; g < 2; g++) {
		/* Down to the first commit made before second 4 (commits at 3). */
		assert_int_equal(store_first_parents(&v, &n, store_reader_of(st), NULL,
		    (int64_t)(T0 / 1000000) + 4), 0);
		assert_true(n > 1);
		assert_int_equal(v[n - 1].time, (int64_t)(T0 / 1000000) + 3);
		for (size_t i = 0; i + 1 < n; i++) {
			assert_true(v[i].time >= (int64_t)(T0 / 1000000) + 4);
			assert_true(store_oid_equal(&v[i].parent, &v[i + 1].id));
		}
		free(v);
		if (g == 0)
			assert_int_equal(store_graph_write(st), 0);
	}
	/* From a commit other than primary. */
	{
		struct store_fp *w;
		size_t m;

		assert_int_equal(store_first_parents(&v, &n, store_reader_of(st), NULL,
		    INT64_MIN), 0);
		assert_int_equal(store_first_parents(&w, &m, store_reader_of(st),
		    &v[2].id, INT64_MIN), 0);
		assert_int_equal(m, n - 2);
		assert_true(store_oid_equal(&w[0].id, &v[2].id));
		assert_true(store_oid_equal(&w[m - 1].id, &v[n - 1].id));
		assert_int_equal(w[m - 1].nparent, 0);	/* the root */
		free(w);
		free(v);
	}
	assert_int_equal(store_close(st), 0);
}

static void
store_first_parents__shallow_and_missing_parents_end_the_line(void **state)
{
	struct fx *f = *state;
	struct store *st = history(f->repo, 6, 0);
	struct store_reader *r;
	struct store_fp *v, *w;
	char hex[STORE_OID_HEXSZ + 1];
	size_t n, m;

	assert_int_equal(store_first_parents(&v, &n, store_reader_of(st), NULL,
	    INT64_MIN), 0);
	assert_int_equal(store_close(st), 0);
	/* A shallow boundary at the fourth commit: the line ends there. */
	sh("echo %s >%s/shallow", store_oid_fmt(hex, &v[3].id), f->repo);
	assert_int_equal(store_reader_open(&r, f->repo), 0);
	assert_int_equal(store_first_parents(&w, &m, r, NULL, INT64_MIN), 0);
	assert_int_equal(m, 4);
	assert_true(store_oid_equal(&w[3].id, &v[3].id));
	free(w);
	store_reader_free(r);
	sh("rm %s/shallow", f->repo);

	/*
	 * A parent whose object is gone (history dropped, no shallow file):
	 * a commit on top of a made-up parent ends the line after itself.
	 */
	sh("cd %s && t=$(git --git-dir=. rev-parse primary^{tree}) && "
	    "c=$(printf 'tree %%s\\nparent %%040d\\nauthor r1 <r1> %llu +0000\\n"
	    "committer r1 <r1> %llu +0000\\n\\ncut\\n' $t 7 | "
	    "git --git-dir=. hash-object -t commit -w --stdin) && "
	    "printf '%%s\\n' $c >refs/heads/primary", f->repo,
	    (unsigned long long)(T0 / 1000000) + 100, (unsigned long long)(T0 / 1000000) + 100);
	assert_int_equal(store_reader_open(&r, f->repo), 0);
	assert_int_equal(store_first_parents(&w, &m, r, NULL, INT64_MIN), 0);
	assert_int_equal(m, 1);
	assert_int_equal(w[0].nparent, 1);
	assert_int_equal(w[0].time, (int64_t)(T0 / 1000000) + 100);
	free(w);
	store_reader_free(r);
	free(v);
}

static void
store_path_oid__files_directories_and_absent(void **state)
{
	struct fx *f = *state;
	struct store *st = history(f->repo, 1, 0);
	struct store_commit *c;
	struct store_oid head = *store_head(st), id;
	char hex[STORE_OID_HEXSZ + 1], want[64];
	bool dir;

	/* The tick expired nothing yet: the mapping is at primary. */
	assert_int_equal(store_commit_read(&c, store_reader_of(st), &head), 0);
	assert_int_equal(store_path_oid(&id, &dir, store_reader_of(st), &c->tree,
	    "nat/udp/192.168.1/2"), 0);
	assert_true(dir);
	snprintf(want, sizeof(want), "%s", sh("git --git-dir=%s rev-parse "
	    "primary:nat/udp/192.168.1/2", f->repo));
	assert_string_equal(store_oid_fmt(hex, &id), strtok(want, "\n"));
	assert_int_equal(store_path_oid(&id, &dir, store_reader_of(st), &c->tree,
	    "nat/udp/192.168.1/2/5000"), 0);
	assert_false(dir);
	assert_int_equal(store_path_oid(&id, NULL, store_reader_of(st), &c->tree,
	    "nat/udp/192.168.1/3"), 1);
	assert_int_equal(store_path_oid(&id, NULL, store_reader_of(st), &c->tree,
	    "nat/tcp"), 1);
	store_commit_free(c);
	assert_int_equal(store_close(st), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(store_first_parents__equals_git_with_and_without_graph),
		T(store_first_parents__since_stops_after_the_first_older),
		T(store_first_parents__shallow_and_missing_parents_end_the_line),
		T(store_path_oid__files_directories_and_absent),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

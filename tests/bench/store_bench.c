/* SPDX-License-Identifier: ISC */
/*
 * Store benchmarks, each peer run in the same process on the same disk:
 *
 *	BENCH store_single_commits_65k <x> commits/s	one change a commit,
 *		65 k-entry ARP table, group-committed durably (fsync at each
 *		100 ms flush, as the router runs)
 *	BENCH libgit2_loose_single_commits_65k	naive libgit2: loose objects,
 *		git_tree_create_updated + git_commit_create per change, fsync on
 *	BENCH fast_import_single_commits_65k	`git fast-import` fed the same
 *		history (its pack is written at the end; it does not fsync)
 *	RATIO store_vs_libgit2_loose, RATIO store_vs_fast_import
 *	BENCH store_batched_changes_random / _local	1 k changes a commit,
 *		group-flushed; random over the 65 k table, or a run of neighbours
 *	BENCH store_commit_us_10k / _1m, RATIO commit_cost_1m_vs_10k
 *		single-change commit cost on NAT tables of 10 k and 1 M entries
 *		(256 ports per inside host, 256 hosts per /24)
 *	BENCH tick_merge_us_10k / _1m, RATIO tick_merge_1m_vs_10k
 *		merging an expiry branch with 100 changes on each side
 *	BENCH store_commit_us_100k, tick_merge_us_100k, RATIO *_1m_vs_100k
 *		the same at 100 k: from there on a single change rewrites
 *		trees of the same sizes (full /24 and port trees), so the ratio
 *		to 1 M shows what the table size costs beyond the tree sizes
 *	BENCH store_open_load_1m		restart: open and load every entry
 *	BENCH repo_bytes_per_change		after an hour of simulated churn
 *		and a store_repack() (before it: _before_repack)
 *
 * --quick shrinks every size (1 M becomes 100 k, the hour ten minutes).
 * Repositories live under /tmp/store_bench.* and are removed at the end.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <git2.h>

#include "store/store.h"

#define T0	1429688300000000ULL

static bool quick;
static char dir[64];

static double
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *what)
{
	const git_error *e = git_error_last();

	fprintf(stderr, "store_bench: %s: %s %s\n", what, store_strerror(),
	    e && e->message ? e->message : "");
	exit(1);
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint32_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

static struct store_change
arp_change(uint8_t op, uint32_t i, uint64_t now)
{
	struct store_change c;

	memset(&c, 0, sizeof(c));
	c.op = op;
	c.cause = EV_CAUSE_ARP_REPLY;
	c.now_us = now;
	c.e.table = EV_TABLE_ARP;
	c.e.arp.ip = 0x0a000000 | i;
	c.e.arp.mac[0] = 2;
	c.e.arp.mac[4] = (uint8_t)(i >> 8);
	c.e.arp.mac[5] = (uint8_t)i;
	c.e.arp.state = ARP_REACHABLE;
	c.e.arp.updated_us = now;
	c.e.arp.expires_us = now + 30000000;
	return c;
}

/* NAT entry i: host i / 256 (10.x.y.z), port 1024 + i % 256. */
static struct store_change
nat_change(uint8_t op, uint32_t i, uint64_t now, uint64_t expires)
{
	struct store_change c;

	memset(&c, 0, sizeof(c));
	c.op = op;
	c.now_us = now;
	c.e.table = EV_TABLE_NAT;
	c.e.nat.proto = IPPROTO_TCP;
	c.e.nat.in_ip = 0x0a000000 | (i >> 8);
	c.e.nat.in_port = (uint16_t)(1024 + (i & 255));
	c.e.nat.ext_ip = 0xcb007100 | (i >> 16 & 0xff);
	c.e.nat.ext_port = (uint16_t)(1024 + (i & 0xffff) % 64000);
	c.e.nat.nremote = 1;
	c.e.nat.remote[0] = (struct store_nat_remote){ 0xc6336400 | (i & 0xff), 443,
	    STORE_NAT_ESTABLISHED };
	c.e.nat.created_us = T0;
	c.e.nat.expires_us = expires;
	return c;
}

static struct store *
open_store(const char *name, bool fsync, unsigned max_packs)
{
	struct store_opts o;
	struct store *st;
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	store_opts_default(&o);
	o.router_id = "bench";
	o.fsync = fsync;
	o.max_packs = max_packs;
	o.batch_max = 1u << 30;
	if (store_open(&st, path, &o) != 0)
		die(path);
	return st;
}

static void
record(struct store *st, struct store_change c)
{
	if (store_record(st, &c) != 0)
		die("record");
}

static void
commit(struct store *st, uint64_t now)
{
	if (store_commit(st, now, NULL) < 0)
		die("commit");
}

static void
flush(struct store *st)
{
	if (store_flush(st) != 0)
		die("flush");
}

static void
populate_arp(struct store *st, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		record(st, arp_change(EV_ADD, i, T0));
		if ((i + 1) % 8192 == 0 || i + 1 == n) {
			commit(st, T0);
			flush(st);
		}
	}
}

/* Single-change commits, durable at each 100 ms group flush. */
static double
bench_store_single(struct store *st, uint32_t table, unsigned n)
{
	double t0 = mono(), last = t0;

	for (unsigned k = 0; k < n; k++) {
		record(st, arp_change(EV_UPDATE, rnd() % table, T0 + 1000000 + k));
		commit(st, T0 + 1000000 + k);
		if (mono() - last >= 0.1) {
			flush(st);
			last = mono();
		}
	}
	flush(st);
	return n / (mono() - t0);
}

/* The naive peer: loose objects, one tree update and commit per change. */
static double
bench_libgit2_loose(const char *src, uint32_t table, unsigned n)
{
	char path[160], cmd[700], val[256], p[64];
	git_repository *repo;
	git_commit *parent;
	git_tree *tree;
	git_oid id, tid;
	double t0;

	snprintf(path, sizeof(path), "%s/loose.git", dir);
	snprintf(cmd, sizeof(cmd), "cp -a %s %s && rm -f %s/gitnet.lock", src, path, path);
	if (system(cmd) != 0)
		die("copy");
	git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, 1);
	if (git_repository_open(&repo, path) < 0 ||
	    git_reference_name_to_id(&id, repo, "refs/heads/primary") < 0 ||
	    git_commit_lookup(&parent, repo, &id) < 0 || git_commit_tree(&tree, parent) < 0)
		die("naive open");
	t0 = mono();
	for (unsigned k = 0; k < n; k++) {
		struct store_change c = arp_change(EV_UPDATE, rnd() % table, T0 + 1000000 + k);
		git_tree_update up = { .action = GIT_TREE_UPDATE_UPSERT, .path = p,
		    .filemode = GIT_FILEMODE_BLOB };
		git_signature *sig;
		int len;

		store_entry_path(p, sizeof(p), &c.e);
		len = store_entry_encode(val, sizeof(val), &c.e, NULL, 0);
		if (git_blob_create_from_buffer(&up.id, repo, val, (size_t)len) < 0 ||
		    git_tree_create_updated(&tid, repo, tree, 1, &up) < 0 ||
		    git_signature_new(&sig, "bench", "bench@gitnet",
		    (git_time_t)(c.now_us / 1000000), 0) < 0)
			die("naive tree");
		git_tree_free(tree);
		if (git_tree_lookup(&tree, repo, &tid) < 0 ||
		    git_commit_create(&id, repo, "refs/heads/primary", sig, sig, NULL,
		    "arp: update\n", tree, 1, (const git_commit **)&parent) < 0)
			die("naive commit");
		git_signature_free(sig);
		git_commit_free(parent);
		if (git_commit_lookup(&parent, repo, &id) < 0)
			die("naive lookup");
	}
	t0 = n / (mono() - t0);
	git_tree_free(tree);
	git_commit_free(parent);
	git_repository_free(repo);
	git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, 0);
	return t0;
}

static void
fi_entry(FILE *f, const struct store_change *c)
{
	char p[64], val[256];
	int len;

	store_entry_path(p, sizeof(p), &c->e);
	len = store_entry_encode(val, sizeof(val), &c->e, NULL, 0);
	fprintf(f, "M 100644 inline %s\ndata %d\n%s\n", p, len, val);
}

/* git fast-import fed the same history: a base commit, then n singles. */
static double
bench_fast_import(uint32_t table, unsigned n)
{
	char cmd[300];
	FILE *f;
	double t0;

	snprintf(cmd, sizeof(cmd), "git init -q --bare %s/fi.git && "
	    "git --git-dir=%s/fi.git fast-import --quiet", dir, dir);
	if ((f = popen(cmd, "w")) == NULL)
		die("fast-import");
	fprintf(f, "commit refs/heads/primary\ncommitter bench <bench@gitnet> %llu +0000\n"
	    "data 4\nbase\n", (unsigned long long)(T0 / 1000000));
	for (uint32_t i = 0; i < table; i++) {
		struct store_change c = arp_change(EV_ADD, i, T0);

		fi_entry(f, &c);
	}
	if (pclose(f) != 0)
		die("fast-import base");
	snprintf(cmd, sizeof(cmd), "git --git-dir=%s/fi.git fast-import --quiet", dir);
	t0 = mono();
	if ((f = popen(cmd, "w")) == NULL)
		die("fast-import");
	for (unsigned k = 0; k < n; k++) {
		struct store_change c = arp_change(EV_UPDATE, rnd() % table, T0 + 1000000 + k);

		fprintf(f, "commit refs/heads/primary\ncommitter bench <bench@gitnet> %llu +0000\n"
		    "data 12\narp: update\n%s", (unsigned long long)(c.now_us / 1000000),
		    k == 0 ? "from refs/heads/primary^0\n" : "");
		fi_entry(f, &c);
	}
	if (pclose(f) != 0)
		die("fast-import run");
	return n / (mono() - t0);
}

/*
 * 1 k changes a commit, durable at each 100 ms group flush: spread at
 * random over the table (every shard rewritten: the worst case), or local
 * (a run of consecutive addresses, four shards, as a busy subnet gives).
 */
static double
bench_batched(struct store *st, uint32_t table, unsigned commits, bool local)
{
	double t0 = mono(), last = t0;

	for (unsigned k = 0; k < commits; k++) {
		uint32_t base = rnd() % table;

		for (unsigned i = 0; i < 1000; i++)
			record(st, arp_change(EV_UPDATE, local ? (base + i) % table :
			    rnd() % table, T0 + 100000000 + k * 1000 + i));
		commit(st, T0 + 100000000 + k * 1000);
		if (mono() - last >= 0.1) {
			flush(st);
			last = mono();
		}
	}
	flush(st);
	return commits * 1000.0 / (mono() - t0);
}

#define FAR	(T0 + 86400000000ULL)

/* A NAT table of n entries; returns the store (flushed). */
static struct store *
nat_table(const char *name, uint32_t n)
{
	struct store *st = open_store(name, false, 1024);

	for (uint32_t i = 0; i < n; i++) {
		record(st, nat_change(EV_ADD, i, T0, FAR));
		if ((i + 1) % 16384 == 0 || i + 1 == n) {
			commit(st, T0);
			flush(st);
		}
	}
	return st;
}

static int
dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The median of v[0..n) (sorts v). */
static double
median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), dbl_cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * Microseconds of a single-change commit, flushed every 100 as a group
 * commit would: the median over runs of 100 commits and their flush, so a
 * writeback stall of the disk in one run does not move the figure.
 */
static double
commit_cost(struct store *st, uint32_t n, unsigned rounds)
{
	unsigned runs = rounds / 100;
	double *v = calloc(runs, sizeof(*v)), us;

	if (v == NULL)
		die("calloc");
	for (unsigned r = 0, k = 0; r < runs; r++) {
		double t0 = mono();

		for (unsigned i = 0; i < 100; i++, k++) {
			record(st, nat_change(EV_UPDATE, rnd() % n, T0 + 2000000 + k, FAR + k));
			commit(st, T0 + 2000000 + k);
		}
		flush(st);
		v[r] = (mono() - t0) * 1e6 / 100;
	}
	us = median(v, runs);
	free(v);
	return us;
}

/* Median microseconds of merging a tick of 100 removals with 100 changes. */
static double
tick_merge_cost(struct store *st, uint32_t n, unsigned rounds)
{
	double *v = calloc(rounds, sizeof(*v)), us;
	uint64_t now = T0 + 10000000000ULL;

	if (v == NULL)
		die("calloc");
	for (unsigned r = 0; r < rounds; r++, now += 10000000) {
		double t0;
		unsigned na, nn;

		for (unsigned i = 0; i < 100; i++)
			record(st, nat_change(EV_UPDATE, rnd() % n, now, now + 1));
		commit(st, now);
		if (store_tick_begin(st, now + 2, &na, &nn) != 0)
			die("tick begin");
		for (unsigned i = 0; i < 100; i++)
			record(st, nat_change(EV_UPDATE, rnd() % n, now + 3, FAR + now));
		commit(st, now + 3);
		t0 = mono();
		if (store_tick_finish(st, now + 4) != 0)
			die("tick finish");
		v[r] = (mono() - t0) * 1e6;
		flush(st);
	}
	us = median(v, rounds);
	free(v);
	return us;
}

/* Virtual hour: a change every 100 ms, a flush a second, a tick every 10 s. */
static double
bench_churn(unsigned seconds)
{
	struct store *st = open_store("churn.git", false, 16);
	uint64_t changes = 0;
	char cmd[200], out[64] = "";
	FILE *p;

	for (uint32_t i = 0; i < 2000; i++)
		record(st, nat_change(EV_ADD, i, T0, T0 + 300000000));
	commit(st, T0);
	flush(st);
	for (unsigned s = 0; s < seconds; s++) {
		for (unsigned t = 0; t < 10; t++) {
			uint64_t now = T0 + (uint64_t)s * 1000000 + t * 100000;
			uint32_t i = rnd() % 3000;

			record(st, nat_change(EV_UPDATE, i, now, now + 300000000));
			commit(st, now);
			changes++;
		}
		flush(st);
		if (s % 10 == 9) {
			if (store_tick(st, T0 + (uint64_t)s * 1000000 + 999999) < 0)
				die("churn tick");
			flush(st);
		}
	}
	snprintf(cmd, sizeof(cmd), "du -sb %s/churn.git/objects | cut -f1", dir);
	if ((p = popen(cmd, "r")) == NULL || fgets(out, sizeof(out), p) == NULL)
		die("du");
	pclose(p);
	printf("BENCH repo_bytes_per_change_before_repack %.0f bytes\n",
	    atof(out) / (double)changes);
	if (store_repack(st) != 0)
		die("repack");
	store_free(st);
	if ((p = popen(cmd, "r")) == NULL || fgets(out, sizeof(out), p) == NULL)
		die("du");
	pclose(p);
	return atof(out) / (double)changes;
}

int
main(int argc, char **argv)
{
	uint32_t table = 65536, big = 1000000;
	unsigned n_store = 20000, n_loose = 300, n_fi = 5000, n_batch = 100, hour = 3600;
	struct store *st, *s10k, *s1m;
	double store_cps, loose_cps, fi_cps, c10k, c1m, m10k, m1m;
	double c100k = 0, m100k = 0;
	char src[128], cmd[512];

	quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
	if (quick) {
		n_store = 3000;
		n_loose = 60;
		n_fi = 1000;
		n_batch = 20;
		big = 100000;
		hour = 600;
	}
	snprintf(dir, sizeof(dir), "/tmp/store_bench.XXXXXX");
	if (mkdtemp(dir) == NULL)
		die("mkdtemp");
	git_libgit2_init();

	st = open_store("single.git", true, 16);
	populate_arp(st, table);
	snprintf(src, sizeof(src), "%s/base.git", dir);
	snprintf(cmd, sizeof(cmd), "cp -a %s/single.git %s", dir, src);
	if (system(cmd) != 0)
		die("copy");
	store_cps = bench_store_single(st, table, n_store);
	printf("BENCH store_single_commits_65k %.0f commits/s\n", store_cps);
	store_free(st);
	/* Batches start from the same 65 k table, each on its own copy. */
	for (int local = 0; local < 2; local++) {
		snprintf(cmd, sizeof(cmd), "cp -a %s %s/batch%d.git && rm -f %s/batch%d.git/gitnet.lock",
		    src, dir, local, dir, local);
		if (system(cmd) != 0)
			die("copy");
		snprintf(cmd, sizeof(cmd), "batch%d.git", local);
		st = open_store(cmd, true, 16);
		printf("BENCH store_batched_changes_%s %.0f changes/s\n",
		    local ? "local" : "random", bench_batched(st, table, n_batch, local));
		store_free(st);
	}
	loose_cps = bench_libgit2_loose(src, table, n_loose);
	printf("BENCH libgit2_loose_single_commits_65k %.0f commits/s\n", loose_cps);
	fi_cps = bench_fast_import(table, n_fi);
	printf("BENCH fast_import_single_commits_65k %.0f commits/s\n", fi_cps);
	printf("RATIO store_vs_libgit2_loose %.1f\n", store_cps / loose_cps);
	printf("RATIO store_vs_fast_import %.1f\n", store_cps / fi_cps);
	fflush(stdout);

	s10k = nat_table("nat10k.git", 10000);
	s1m = nat_table("nat1m.git", big);
	{
		double t0;

		/* Restart: open loads every entry (the expiry index). */
		store_free(s1m);
		t0 = mono();
		s1m = open_store("nat1m.git", false, 1024);
		printf("BENCH store_open_load_%s %.0f ms\n", quick ? "100k" : "1m",
		    (mono() - t0) * 1e3);
	}
	if (!quick) {
		struct store *s100k = nat_table("nat100k.git", 100000);

		c100k = commit_cost(s100k, 100000, 4000);
		m100k = tick_merge_cost(s100k, 100000, 20);
		store_free(s100k);
	}
	c10k = commit_cost(s10k, 10000, quick ? 1000 : 4000);
	c1m = commit_cost(s1m, big, quick ? 1000 : 4000);
	printf("BENCH store_commit_us_10k %.1f us\n", c10k);
	printf("BENCH store_commit_us_%s %.1f us\n", quick ? "100k" : "1m", c1m);
	printf("RATIO commit_cost_%s_vs_10k %.2f\n", quick ? "100k" : "1m", c1m / c10k);
	if (!quick) {
		printf("BENCH store_commit_us_100k %.1f us\n", c100k);
		printf("RATIO commit_cost_1m_vs_100k %.2f\n", c1m / c100k);
	}
	m10k = tick_merge_cost(s10k, 10000, 20);
	m1m = tick_merge_cost(s1m, big, 20);
	printf("BENCH tick_merge_us_10k %.0f us\n", m10k);
	printf("BENCH tick_merge_us_%s %.0f us\n", quick ? "100k" : "1m", m1m);
	printf("RATIO tick_merge_%s_vs_10k %.2f\n", quick ? "100k" : "1m", m1m / m10k);
	if (!quick) {
		printf("BENCH tick_merge_us_100k %.0f us\n", m100k);
		printf("RATIO tick_merge_1m_vs_100k %.2f\n", m1m / m100k);
	}
	store_free(s10k);
	store_free(s1m);
	fflush(stdout);

	printf("BENCH repo_bytes_per_change %.0f bytes\n", bench_churn(hour));
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	return 0;
}

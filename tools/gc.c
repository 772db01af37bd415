/* SPDX-License-Identifier: ISC */
/*
 * gitnet gc: history retention by hand, with the store's own cut -- the one
 * the router makes in the background (store/retain.c) -- for a repository
 * no router holds: history older than the window (now - --keep, default
 * 7d) is dropped as a shallow cut, and what is kept is rewritten as one
 * compacted pack.
 *
 *	gitnet gc [--keep DURATION]	(30s, 10min, 2h, 7d; default 7d)
 *
 * The commits at or before the cutoff that the refs reach first become the
 * boundary: kept whole (the tables as they were then), listed in the
 * repository's shallow file; older ones go. Commit ids, refs and tags do
 * not change, so a clone or an archive that holds the older history still
 * fetches from the repository, and git log, git fsck --strict and every
 * gitnet command read it. No stock git is needed. The store's lock is held
 * throughout: gc refuses while a router holds the repository (the router
 * applies --history-keep itself).
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store.h"
#include "tools/cmd.h"
#include "tools/tool.h"

#define GC_NAME		"gc"

static void
gc_usage(FILE *f)
{
	fprintf(f,
	    "usage: gitnet gc [--keep DURATION]\n"
	    "\n"
	    "Drop primary's history older than DURATION (30s, 10min, 2h, 7d; default\n"
	    "7d) as a shallow cut, as the router does with --history-keep: the commits\n"
	    "at the cutoff stay whole (every entry alive then is kept) and are listed\n"
	    "in the repository's shallow file, older ones go; commit ids, branches\n"
	    "and tags do not change. What is kept is rewritten as one pack with\n"
	    "deltas. primary's tree is unchanged. Refuses while a router holds the\n"
	    "repository.\n");
}

/* "30s", "10min", "2h", "7d", "1w": seconds, or -1. */
static long long
gc_duration(const char *s)
{
	static const struct { const char *u; long long mul; } units[] = {
		{ "s", 1 }, { "sec", 1 }, { "m", 60 }, { "min", 60 }, { "h", 3600 },
		{ "d", 86400 }, { "w", 604800 },
	};
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || v < 0 || v > 100LL * 365 * 86400)
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(end, units[i].u) == 0)
			return v * units[i].mul;
	return -1;
}

static int
gc_count_fn(void *ctx, const struct store_commit *c)
{
	(void)c;
	(*(size_t *)ctx)++;
	return 0;
}

/* Commits reachable from primary's head, down to the boundary. */
static size_t
gc_count(struct store_reader *r, const struct store_oid *head)
{
	struct store_walk w = { .start = head, .nstart = 1 };
	size_t n = 0;

	return store_log(r, &w, gc_count_fn, &n) < 0 ? 0 : n;
}

int
cmd_gc(const char *repo, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "keep",	required_argument, NULL, 'k' },
		{ "help",	no_argument,	   NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *keep_s = "7d";
	long long keep;
	int64_t cutoff;
	struct store *st = NULL;
	struct store_reader *r;
	struct store_opts so;
	struct store_oid head, bound[16];
	size_t before, after, nb;
	uint64_t bytes0, bytes1;
	char hex[STORE_OID_HEXSZ + 1], tbuf[64];
	int c, e;
	time_t ct;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'k':
			keep_s = optarg;
			break;
		case 'h':
			gc_usage(stdout);
			return 0;
		default:
			return tool_badopt(GC_NAME, argv);
		}
	}
	if (optind != argc) {
		gc_usage(stderr);
		return 2;
	}
	if ((keep = gc_duration(keep_s)) < 0)
		return tool_err(2, GC_NAME, "--keep: malformed duration '%s' (30s, 10min, 2h, 7d)", keep_s);
	cutoff = (int64_t)time(NULL) - keep;

	store_opts_default(&so);
	so.router_id = "gitnet-gc";
	so.create = false;
	if ((e = store_open(&st, repo, &so)) < 0)
		return tool_err(e == STORE_ELOCKED ? 1 : 2, GC_NAME, "%s%s", store_strerror(),
		    e == STORE_ELOCKED ? " (stop the router first)" : "");
	r = store_reader_of(st);
	head = *store_head(st);
	ct = (time_t)cutoff;
	strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%SZ", gmtime(&ct));
	printf("gc: cutoff %s (keep %s)\n", tbuf, keep_s);
	before = gc_count(r, &head);
	bytes0 = store_history_bytes(st);
	if ((e = store_retain_cut(st, cutoff)) < 0) {
		tool_err(1, GC_NAME, "%s: %s", repo, tool_storemsg());
		store_free(st);
		return 1;
	}
	if (e == 1) {
		printf("nothing to cut: no history before the cutoff\n");
	} else {
		after = gc_count(r, &head);
		nb = store_boundary(r, bound, sizeof(bound) / sizeof(bound[0]));
		printf("cut: %zu of %zu commits on primary's history kept; boundary "
		    "(the shallow file):\n", after, before);
		for (size_t i = 0; i < nb && i < sizeof(bound) / sizeof(bound[0]); i++) {
			struct store_commit *bc = NULL;

			if (store_commit_read(&bc, r, &bound[i]) == 0)
				printf("  %s %s\n", store_oid_fmt(hex, &bound[i]), bc->summary);
			store_commit_free(bc);
		}
		if (nb > sizeof(bound) / sizeof(bound[0]))
			printf("  ... and %zu more\n", nb - sizeof(bound) / sizeof(bound[0]));
	}
	if (store_compact(st) < 0) {
		tool_err(1, GC_NAME, "compact: %s", tool_storemsg());
		store_free(st);
		return 1;
	}
	/* The commit-graph (fast gitnet at and who); none for a cut history. */
	if (store_graph_write(st) < 0) {
		tool_err(1, GC_NAME, "commit-graph: %s", tool_storemsg());
		store_free(st);
		return 1;
	}
	bytes1 = store_history_bytes(st);
	printf("packs: %llu bytes, %llu before\n", (unsigned long long)bytes1,
	    (unsigned long long)bytes0);
	if (store_close(st) < 0)
		return tool_err(1, GC_NAME, "%s", tool_storemsg());
	return 0;
}

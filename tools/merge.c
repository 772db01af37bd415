/* SPDX-License-Identifier: ISC */
/*
 * gitnet merge BRANCH [--into REF]: table-aware merge of a cache branch.
 *
 * One engine whatever the target: the store's merge (store_merge into
 * primary, store_merge_into into any other ref), the code the router runs
 * for its expiry ticks: per-entry three-way rules, conflicts recorded
 * under conflicts/ and named in the message, the NAT uniqueness invariant
 * checked across entries, and the other side validated before anything
 * is written (store.h: only table entries that decode, conflicts/
 * records and the meta/ files the store knows; a peer branch with another
 * schema, a symlink or a stray name is refused, naming the path).
 *
 * Into primary the store is opened as its writer (store_open takes the
 * lock), so it refuses while a router runs on the repository. Into
 * another ref it opens a side writer (no lock, primary untouched), so it
 * works while the router runs; the ref moves by compare-and-swap on the
 * id it was read at, with the merge commit durable first.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cmd.h"
#include "tools/tool.h"

static const char help[] =
"NAME\n"
"    gitnet merge - table-aware merge of a cache branch\n"
"\n"
"SYNOPSIS\n"
"    gitnet [--repo DIR] merge BRANCH [--into REF]\n"
"\n"
"DESCRIPTION\n"
"    Merges BRANCH (a branch name or a full ref) into primary with the\n"
"    store's three-way, per-entry merge (DESIGN.md section 3): an entry\n"
"    added or changed on one side is taken; removed on one side and\n"
"    refreshed on the other, kept; changed on both, ARP keeps the newer\n"
"    `updated` and a MAC disagreement is recorded under conflicts/; NAT\n"
"    keeps one inside endpoint per external ip:port:proto, the older\n"
"    mapping winning. The merge commit reads \"merge BRANCH\", with one\n"
"    Conflict: line per clash; those lines are printed.\n"
"\n"
"    With --into REF (a branch other than primary) the merge is the same\n"
"    store merge, conflicts/ records and the NAT check included, committed\n"
"    on REF (\"merge BRANCH\", two parents) and REF moved by\n"
"    compare-and-swap.\n"
"\n"
"    BRANCH is untrusted input: before anything is written, every file it\n"
"    changed since the merge base is checked. Only entries that decode at\n"
"    their table path (arp/, nat/), conflicts/ records, and meta/schema\n"
"    (this store's schema) and meta/router are accepted, as regular files;\n"
"    a symlink, a gitlink, an executable, another top-level name or another\n"
"    schema is refused with a message naming the path, and the target is\n"
"    left as it was.\n"
"\n"
"    Merging into primary takes the store's lock: it fails while a router\n"
"    runs on the repository. Stop the router, or merge into another\n"
"    branch with --into and let the router (or a later merge) take it;\n"
"    --into does not need the lock.\n"
"\n"
"OPTIONS\n"
"    --into REF  merge into REF instead of primary\n"
"    --help      this text\n"
"\n"
"EXIT STATUS\n"
"    0 merged or already contained; 1 the store is locked by a router, the\n"
"    merge was refused (BRANCH holds what a store may not) or failed; 2 bad\n"
"    usage, an unknown branch or not a gitnet repository.\n"
"\n"
"EXAMPLES\n"
"    gitnet merge peer\n"
"    gitnet merge expire_1429688374.601896 --into inspect\n";

static void
print_conflict(void *ctx, const char *line)
{
	(void)ctx;
	if (strncmp(line, "Conflict: ", 10) == 0)
		printf("%s\n", line);
}

static void
report(struct store_reader *r, const struct store_oid *id, const char *branch,
    const char *into)
{
	struct store_commit *c;
	char hex[STORE_OID_HEXSZ + 1];

	store_oid_fmt(hex, id);
	if (store_commit_read(&c, r, id) < 0) {
		printf("merged %s into %s: %.12s\n", branch, into, hex);
		return;
	}
	printf("merged %s into %s: %.12s %s\n", branch, into, hex, c->summary);
	tool_trailers(c->message, print_conflict, NULL);
	store_commit_free(c);
}

/* The exit code of a failed merge, its message printed. */
static int
merge_failed(int error, const char *hint)
{
	return tool_err(error == STORE_ENOTFOUND ? TOOL_EXIT_USAGE : TOOL_EXIT_FAIL, "merge",
	    "%s%s", tool_storemsg(), error == STORE_EMODIFIED ? hint : "");
}

static int
merge_primary(const char *repo, const char *branch)
{
	struct store_opts o;
	struct store *st = NULL;
	struct store_oid before;
	int n, rc;

	store_opts_default(&o);
	o.router_id = "gitnet";
	o.create = false;
	if ((rc = store_open(&st, repo, &o)) < 0) {
		if (rc == STORE_ELOCKED)
			return tool_err(TOOL_EXIT_FAIL, "merge", "%s is locked by a running "
			    "router: stop it, or merge into another branch with --into REF",
			    repo);
		return tool_err(rc == STORE_EFOREIGN ? TOOL_EXIT_USAGE : TOOL_EXIT_FAIL,
		    "merge", "%s", tool_storemsg());
	}
	before = *store_head(st);
	if ((n = store_merge_into(st, branch, NULL, tool_now_us())) < 0) {
		rc = merge_failed(n, " (primary moved meanwhile: run again)");
		store_free(st);
		return rc;
	}
	if (store_oid_equal(&before, store_head(st)))
		printf("primary already contains %s\n", branch);
	else
		report(store_reader_of(st), store_head(st), branch, "primary");
	if ((rc = store_close(st)) < 0)
		return tool_err(TOOL_EXIT_FAIL, "merge", "%s", tool_storemsg());
	return 0;
}

static int
merge_into(const char *repo, const char *branch, const char *into)
{
	struct store_opts o;
	struct store *st = NULL;
	struct store_oid before, after;
	char iname[256];
	int n, rc;

	snprintf(iname, sizeof(iname), strncmp(into, "refs/", 5) == 0 ? "%s" :
	    "refs/heads/%s", into);
	store_opts_default(&o);
	o.router_id = "gitnet";
	o.create = false;
	o.side = true;		/* primary is not ours to move: no lock needed */
	if ((rc = store_open(&st, repo, &o)) < 0)
		return tool_err(rc == STORE_EFOREIGN || rc == STORE_ENOTFOUND ?
		    TOOL_EXIT_USAGE : TOOL_EXIT_FAIL, "merge", "%s", tool_storemsg());
	if (store_ref_read(&before, store_reader_of(st), iname) < 0) {
		store_free(st);
		return tool_err(TOOL_EXIT_USAGE, "merge", "unknown branch '%s'", into);
	}
	if ((n = store_merge_into(st, branch, iname, tool_now_us())) < 0) {
		rc = merge_failed(n, " (run again)");
		store_free(st);
		return rc;
	}
	rc = 0;
	if (store_ref_read(&after, store_reader_of(st), iname) < 0)
		rc = tool_err(TOOL_EXIT_FAIL, "merge", "%s", tool_storemsg());
	else if (store_oid_equal(&before, &after))
		printf("%s already contains %s\n", into, branch);
	else
		report(store_reader_of(st), &after, branch, into);
	if (store_close(st) < 0 && rc == 0)
		rc = tool_err(TOOL_EXIT_FAIL, "merge", "%s", tool_storemsg());
	return rc;
}

int
cmd_merge(const char *repo, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "into", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *into = NULL;
	struct store_reader *r = NULL;
	struct store_oid id;
	int ch, rc;

	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "i:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'i':
			into = optarg;
			break;
		case 'h':
			fputs(help, stdout);
			return 0;
		default:
			return tool_badopt("merge", argv);
		}
	}
	if (argc - optind != 1)
		return tool_err(TOOL_EXIT_USAGE, "merge", "usage: merge BRANCH [--into REF]");
	/* Check first without the lock, for the read commands' messages. */
	if ((rc = tool_repo_open(&r, repo, "merge")) != 0)
		return rc;
	rc = tool_resolve(&id, r, argv[optind], "merge");
	store_reader_free(r);
	if (rc != 0)
		return rc;
	if (into != NULL && strcmp(into, "primary") != 0 &&
	    strcmp(into, "refs/heads/primary") != 0)
		return merge_into(repo, argv[optind], into);
	return merge_primary(repo, argv[optind]);
}

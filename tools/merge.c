/* SPDX-License-Identifier: ISC */
/*
 * gitnet merge BRANCH [--into REF]: table-aware merge of a cache branch.
 *
 * Into primary (the default) it is store_merge() itself, the code the
 * router runs for its expiry ticks: per-entry three-way rules, conflicts
 * recorded under conflicts/ and named in the message, the NAT uniqueness
 * invariant checked across entries. That path opens the store as its
 * writer (store_open takes the lock), so it refuses while a router runs
 * on the repository.
 *
 * Into another branch it is what stock `git merge` does with the gitnet
 * merge driver installed (tools/merge_driver.c): git's tree merge, each
 * entry both sides changed resolved by store_merge_driver(), an entry
 * removed on one side and changed on the other kept (a refresh beats an
 * expiry). The ref moves with compare-and-swap on the id it was read at.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
"    Merging into primary takes the store's lock: it fails while a router\n"
"    runs on the repository. Stop the router, or merge into another\n"
"    branch with --into and let the router (or a later merge) take it.\n"
"\n"
"    With --into REF (a branch other than primary) the merge is the one\n"
"    stock `git merge` performs with the gitnet driver installed: the same\n"
"    per-entry rules for each entry, without the conflicts/ records and the\n"
"    cross-entry NAT check, which only the store's own merge makes.\n"
"\n"
"OPTIONS\n"
"    --into REF  merge into REF instead of primary\n"
"    --help      this text\n"
"\n"
"EXIT STATUS\n"
"    0 merged or already contained; 1 the store is locked by a router or\n"
"    the merge failed; 2 bad usage, an unknown branch or not a gitnet\n"
"    repository.\n"
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
report(git_repository *r, const git_oid *id, const char *branch, const char *into)
{
	git_commit *c;
	char hex[GIT_OID_HEXSZ + 1];

	git_oid_tostr(hex, sizeof(hex), id);
	if (git_commit_lookup(&c, r, id) < 0) {
		printf("merged %s into %s: %.12s\n", branch, into, hex);
		return;
	}
	printf("merged %s into %s: %.12s %s\n", branch, into, hex, git_commit_summary(c));
	tool_trailers(git_commit_message(c), print_conflict, NULL);
	git_commit_free(c);
}

static int
merge_primary(const char *repo, const char *branch)
{
	struct store_opts o;
	struct store *st = NULL;
	git_oid before;
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
		    "merge", "%s", store_strerror());
	}
	git_oid_cpy(&before, store_head(st));
	if ((n = store_merge(st, branch, tool_now_us())) < 0) {
		rc = tool_err(n == GIT_ENOTFOUND ? TOOL_EXIT_USAGE : TOOL_EXIT_FAIL, "merge",
		    "%s", store_strerror());
		store_free(st);
		return rc;
	}
	if ((rc = store_flush(st)) < 0) {
		rc = tool_err(TOOL_EXIT_FAIL, "merge", "%s%s", store_strerror(),
		    rc == GIT_EMODIFIED ? " (primary moved meanwhile: run again)" : "");
		store_free(st);
		return rc;
	}
	if (git_oid_equal(&before, store_head(st)))
		printf("primary already contains %s\n", branch);
	else
		report(store_repo(st), store_head(st), branch, "primary");
	if ((rc = store_close(st)) < 0)
		return tool_err(TOOL_EXIT_FAIL, "merge", "%s", store_strerror());
	return 0;
}

/* Write len bytes to a new temporary file; its name in path. */
static int
tmp_write(char path[64], const void *p, size_t len)
{
	int fd;

	snprintf(path, 64, "/tmp/gitnet-merge.XXXXXX");
	if ((fd = mkstemp(path)) < 0)
		return -1;
	if (len > 0 && write(fd, p, len) != (ssize_t)len) {
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	return 0;
}

static int
blob_file(char path[64], git_repository *r, const git_index_entry *e)
{
	git_blob *b;
	int rc;

	if (e == NULL)
		return tmp_write(path, "", 0);
	if (git_blob_lookup(&b, r, &e->id) < 0)
		return -1;
	rc = tmp_write(path, git_blob_rawcontent(b), (size_t)git_blob_rawsize(b));
	git_blob_free(b);
	return rc;
}

/* One conflicted entry, resolved by the driver's rules into the index. */
static int
resolve_one(git_repository *r, git_index *ix, const char *path,
    const git_index_entry *anc, const git_index_entry *ours,
    const git_index_entry *theirs)
{
	const git_index_entry *keep = ours ? ours : theirs;
	git_index_entry ne;
	char po[64], pa[64], pb[64];
	git_oid id;
	int rc = 0;

	if (ours == NULL || theirs == NULL) {
		/* removed on one side, changed on the other: the change stays */
		ne = *keep;
		ne.path = path;
		ne.flags &= ~GIT_INDEX_ENTRY_STAGEMASK;
		return git_index_conflict_remove(ix, path) < 0 || git_index_add(ix, &ne) < 0 ?
		    -1 : 0;
	}
	if (blob_file(po, r, anc) < 0)
		return -1;
	if (blob_file(pa, r, ours) < 0) {
		unlink(po);
		return -1;
	}
	if (blob_file(pb, r, theirs) < 0) {
		unlink(po);
		unlink(pa);
		return -1;
	}
	if (store_merge_driver(po, pa, pb, path) < 0) {
		tool_err(0, "merge", "%s", store_strerror());
		rc = -1;
	} else if (git_blob_create_from_disk(&id, r, pa) < 0) {
		rc = -1;
	} else {
		ne = *ours;
		ne.path = path;
		ne.flags &= ~GIT_INDEX_ENTRY_STAGEMASK;
		git_oid_cpy(&ne.id, &id);
		if (git_index_conflict_remove(ix, path) < 0 || git_index_add(ix, &ne) < 0)
			rc = -1;
	}
	unlink(po);
	unlink(pa);
	unlink(pb);
	return rc;
}

static int
merge_into(const char *repo, const char *branch, const char *into)
{
	git_repository *r = NULL;
	git_reference *iref = NULL;
	git_commit *ours = NULL, *theirs = NULL, *base = NULL, *parents[2];
	git_tree *to = NULL, *tt = NULL, *tb = NULL, *tree = NULL;
	git_index *ix = NULL;
	git_index_conflict_iterator *it = NULL;
	git_signature *sig = NULL;
	git_oid tid, bid, tree_id, cid, target;
	char iname[256], msg[300];
	int rc;

	if ((rc = tool_repo_open(&r, repo, "merge")) != 0)
		return rc;
	snprintf(iname, sizeof(iname), strncmp(into, "refs/", 5) == 0 ? "%s" :
	    "refs/heads/%s", into);
	if ((rc = tool_resolve(&tid, r, branch, "merge")) != 0)
		goto done;
	rc = TOOL_EXIT_FAIL;
	if (git_reference_lookup(&iref, r, iname) < 0) {
		rc = tool_err(TOOL_EXIT_USAGE, "merge", "unknown branch '%s'", into);
		goto done;
	}
	git_oid_cpy(&target, git_reference_target(iref));
	if (git_commit_lookup(&ours, r, &target) < 0 ||
	    git_commit_lookup(&theirs, r, &tid) < 0) {
		tool_err(rc, "merge", "cannot read the heads");
		goto done;
	}
	if (git_merge_base(&bid, r, &target, &tid) == 0) {
		if (git_oid_equal(&bid, &tid)) {
			printf("%s already contains %s\n", into, branch);
			rc = 0;
			goto done;
		}
		if (git_commit_lookup(&base, r, &bid) < 0 || git_commit_tree(&tb, base) < 0) {
			tool_err(rc, "merge", "cannot read the merge base");
			goto done;
		}
	}
	if (git_commit_tree(&to, ours) < 0 || git_commit_tree(&tt, theirs) < 0 ||
	    git_merge_trees(&ix, r, tb, to, tt, NULL) < 0 ||
	    git_index_conflict_iterator_new(&it, ix) < 0) {
		tool_err(rc, "merge", "tree merge failed");
		goto done;
	}
	{
		const git_index_entry *a, *o, *t;

		/* Resolving edits the index: collect the paths first. */
		char **paths = NULL;
		size_t n = 0, cap = 0;
		bool bad = false;

		while (git_index_conflict_next(&a, &o, &t, it) == 0) {
			const char *p = o ? o->path : t ? t->path : a->path;

			if (n == cap) {
				char **np;

				cap = cap ? cap * 2 : 16;
				if ((np = realloc(paths, cap * sizeof(*np))) == NULL) {
					bad = true;
					break;
				}
				paths = np;
			}
			paths[n++] = strdup(p);
		}
		git_index_conflict_iterator_free(it);
		it = NULL;
		for (size_t i = 0; i < n && !bad; i++) {
			git_index_entry ea, eo, et;
			const git_index_entry *pa, *po, *pt;

			if (git_index_conflict_get(&pa, &po, &pt, ix, paths[i]) < 0) {
				bad = true;
				break;
			}
			/* Copies: conflict_remove frees the entries (and
			 * their paths: resolve_one uses paths[i]). */
			if (pa)
				ea = *pa;
			if (po)
				eo = *po;
			if (pt)
				et = *pt;
			if (po == NULL && pt == NULL)
				bad = git_index_conflict_remove(ix, paths[i]) < 0;
			else
				bad = resolve_one(r, ix, paths[i], pa ? &ea : NULL, po ? &eo : NULL,
				    pt ? &et : NULL) < 0;
			if (bad)
				tool_err(0, "merge", "%s: cannot resolve", paths[i]);
		}
		for (size_t i = 0; i < n; i++)
			free(paths[i]);
		free(paths);
		if (bad)
			goto done;
	}
	snprintf(msg, sizeof(msg), "merge %s\n", branch);
	parents[0] = ours;
	parents[1] = theirs;
	if (git_index_write_tree_to(&tree_id, ix, r) < 0 ||
	    git_tree_lookup(&tree, r, &tree_id) < 0 ||
	    git_signature_now(&sig, "gitnet", "gitnet") < 0 ||
	    git_commit_create(&cid, r, NULL, sig, sig, NULL, msg, tree, 2,
	    (const git_commit **)parents) < 0) {
		tool_err(rc, "merge", "cannot write the merge commit: %s",
		    git_error_last() ? git_error_last()->message : "?");
		goto done;
	}
	{
		git_reference *nref = NULL;

		if (git_reference_create_matching(&nref, r, iname, &cid, 1, &target,
		    msg) < 0) {
			tool_err(rc, "merge", "%s moved meanwhile: run again", into);
			goto done;
		}
		git_reference_free(nref);
	}
	report(r, &cid, branch, into);
	rc = 0;
done:
	git_signature_free(sig);
	git_index_conflict_iterator_free(it);
	git_index_free(ix);
	git_tree_free(tree);
	git_tree_free(to);
	git_tree_free(tt);
	git_tree_free(tb);
	git_commit_free(base);
	git_commit_free(ours);
	git_commit_free(theirs);
	git_reference_free(iref);
	git_repository_free(r);
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
	git_repository *r = NULL;
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
	if (into != NULL && strcmp(into, "primary") != 0 &&
	    strcmp(into, "refs/heads/primary") != 0)
		return merge_into(repo, argv[optind], into);
	/* Check first without the lock, for the read commands' messages. */
	if ((rc = tool_repo_open(&r, repo, "merge")) != 0)
		return rc;
	{
		git_oid id;

		rc = tool_resolve(&id, r, argv[optind], "merge");
	}
	git_repository_free(r);
	if (rc != 0)
		return rc;
	return merge_primary(repo, argv[optind]);
}

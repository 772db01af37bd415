/* SPDX-License-Identifier: ISC */
/*
 * gitnet replay: re-apply the table changes of a range of commits onto
 * another branch -- a cherry-pick with table semantics.
 *
 *	gitnet replay A..B --onto BRANCH
 *	gitnet replay C --onto BRANCH		(just C, against its first parent)
 *
 * For each commit of the range, oldest first along B's first-parent line,
 * the per-entry difference against its first parent (arp/ and nat/ paths
 * only: meta/ and conflicts/ are the store's bookkeeping) is applied on top
 * of BRANCH's tables. An entry that BRANCH changed since its merge base with
 * the commit, to something other than the commit's value, is a clash:
 * BRANCH's value is kept and the clash reported (and named in the commit as
 * a `Clash:` trailer). Each commit that changes something becomes one commit
 * `replay: <original subject>` with a `Replayed-From: <id>` trailer, the
 * original author, and committer gitnet-replay; one that changes nothing is
 * reported and skipped.
 *
 * Invariants: blobs are reused, never re-encoded, so a replayed entry is
 * byte-identical to its original. BRANCH moves once, at the end, by
 * compare-and-swap on the id it had at the start; nothing is moved when
 * anything fails. primary is only written when no router holds the store
 * (its lock is taken for the run): a router keeps primary's head in memory
 * and must be the only one to move it while it runs.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <git2.h>

#include "store/store.h"
#include "tools/cmd.h"
#include "tools/tool.h"

#define RL_NAME	"replay"

struct rl_counts {
	unsigned	commits, skipped, applied, clashes, same;
};

static void
rl_usage(FILE *f)
{
	fprintf(f,
	    "usage: gitnet replay A..B --onto BRANCH\n"
	    "       gitnet replay C --onto BRANCH\n"
	    "\n"
	    "Re-apply the table changes of the commits in A..B (first-parent line of B,\n"
	    "oldest first), or of the single commit C, on top of BRANCH: for each commit,\n"
	    "the entries it added, changed or removed against its first parent are set\n"
	    "the same way on BRANCH, as one commit `replay: <subject>` with a\n"
	    "`Replayed-From: <id>` trailer. An entry BRANCH changed differently since\n"
	    "its merge base with the commit is a clash: BRANCH's value is kept and the\n"
	    "clash is printed. Writing primary needs the router stopped.\n"
	    "\n"
	    "Output: one line per commit (applied or skipped) and per clash, then a\n"
	    "summary. Exit 0 when BRANCH was updated (clashes included), 1 on failure,\n"
	    "2 on bad usage or an unknown revision.\n");
}

/* The blob at path in tree (NULL tree: none): 1 and its id, or 0. */
static int
rl_blob_at(git_oid *out, git_tree *tree, const char *path)
{
	git_tree_entry *te = NULL;
	int found = 0;

	if (tree != NULL && git_tree_entry_bypath(&te, tree, path) == 0 &&
	    git_tree_entry_type(te) == GIT_OBJECT_BLOB) {
		git_oid_cpy(out, git_tree_entry_id(te));
		found = 1;
	}
	git_tree_entry_free(te);
	return found;
}

static bool
rl_same(int have_a, const git_oid *a, int have_b, const git_oid *b)
{
	return have_a == have_b && (!have_a || git_oid_equal(a, b));
}

static bool
rl_table_path(const char *p)
{
	return strncmp(p, "arp/", 4) == 0 || strncmp(p, "nat/", 4) == 0;
}

/* The subject line of a message, into buf. */
static void
rl_subject(char *buf, size_t cap, const char *msg)
{
	size_t n = strcspn(msg, "\n");

	snprintf(buf, cap, "%.*s", (int)n, msg);
}

/*
 * Replay one commit onto *tip (tree *cur): per-entry changes against its
 * first parent, clashes judged against the branch as it was at the start
 * (onto_tree) and the merge base of onto and the commit. Moves *tip and
 * *cur when it commits.
 */
static int
rl_one(git_repository *g, git_commit *c, const git_oid *onto, git_tree *onto_tree,
    git_oid *tip, git_tree **cur, const char *branch, struct rl_counts *n)
{
	git_commit *parent = NULL;
	git_tree *ptree = NULL, *ctree = NULL, *btree = NULL, *ntree = NULL;
	git_commit *bcommit = NULL, *tipc = NULL;
	git_diff *diff = NULL;
	git_tree_update *up = NULL;
	git_signature *me = NULL;
	git_buf msg = { 0 };
	char subject[256], hex[GIT_OID_HEXSZ + 1], nhex[GIT_OID_HEXSZ + 1];
	char *clash = NULL;
	size_t nup = 0, clash_len = 0, ndelta;
	git_oid base, tid, cid;
	int rc = 1, nclash = 0;

	git_oid_tostr(hex, sizeof(hex), git_commit_id(c));
	rl_subject(subject, sizeof(subject), git_commit_message(c));
	if (git_commit_parentcount(c) > 0 && (git_commit_parent(&parent, c, 0) < 0 ||
	    git_commit_tree(&ptree, parent) < 0))
		goto gitfail;
	if (git_commit_tree(&ctree, c) < 0)
		goto gitfail;
	/* No common history: every entry BRANCH has counts as changed there. */
	if (git_merge_base(&base, g, onto, git_commit_id(c)) == 0 &&
	    (git_commit_lookup(&bcommit, g, &base) < 0 || git_commit_tree(&btree, bcommit) < 0))
		goto gitfail;
	if (git_diff_tree_to_tree(&diff, g, ptree, ctree, NULL) < 0)
		goto gitfail;
	ndelta = git_diff_num_deltas(diff);
	if ((up = calloc(ndelta ? ndelta : 1, sizeof(*up))) == NULL) {
		rc = tool_err(1, RL_NAME, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < ndelta; i++) {
		const git_diff_delta *d = git_diff_get_delta(diff, i);
		const char *path = d->new_file.path ? d->new_file.path : d->old_file.path;
		bool del = d->status == GIT_DELTA_DELETED;
		git_oid bv, ov, cv;
		int hb, ho, hc;

		if (!rl_table_path(path))
			continue;
		hb = rl_blob_at(&bv, btree, path);
		ho = rl_blob_at(&ov, onto_tree, path);
		hc = rl_blob_at(&cv, *cur, path);
		if (rl_same(hc, &cv, !del, &d->new_file.id)) {
			n->same++;
			continue;
		}
		if (!rl_same(hb, &bv, ho, &ov) && !rl_same(ho, &ov, !del, &d->new_file.id)) {
			size_t l = strlen(path) + 16;
			char *p = realloc(clash, clash_len + l);

			if (p == NULL) {
				rc = tool_err(1, RL_NAME, "out of memory");
				goto done;
			}
			clash = p;
			clash_len += (size_t)snprintf(clash + clash_len, l, "Clash: %s\n", path);
			printf("  clash %s: %s changed it since %.12s; kept %s's value\n", path,
			    branch, btree ? git_oid_tostr(nhex, sizeof(nhex), &base) : "the start",
			    branch);
			nclash++;
			continue;
		}
		up[nup].action = del ? GIT_TREE_UPDATE_REMOVE : GIT_TREE_UPDATE_UPSERT;
		up[nup].path = path;
		up[nup].filemode = GIT_FILEMODE_BLOB;
		if (!del)
			git_oid_cpy(&up[nup].id, &d->new_file.id);
		nup++;
	}
	n->clashes += (unsigned)nclash;
	if (nup == 0) {
		printf("skipped %.12s %s: nothing to apply\n", hex, subject);
		n->skipped++;
		rc = 0;
		goto done;
	}
	if (git_tree_create_updated(&tid, g, *cur, nup, up) < 0 ||
	    git_tree_lookup(&ntree, g, &tid) < 0 ||
	    git_signature_now(&me, "gitnet-replay", "gitnet-replay@gitnet") < 0 ||
	    git_commit_lookup(&tipc, g, tip) < 0)
		goto gitfail;
	git_buf_dispose(&msg);
	{
		/* replay: <subject>, a blank line, then the trailers. */
		size_t cap = strlen(subject) + clash_len + 128;
		char *m = malloc(cap);

		if (m == NULL) {
			rc = tool_err(1, RL_NAME, "out of memory");
			goto done;
		}
		snprintf(m, cap, "replay: %s\n\n%sReplayed-From: %s\n", subject,
		    clash ? clash : "", hex);
		if (git_commit_create(&cid, g, NULL, git_commit_author(c), me, NULL, m, ntree,
		    1, (const git_commit **)&tipc) < 0) {
			free(m);
			goto gitfail;
		}
		free(m);
	}
	printf("applied %.12s -> %.12s replay: %s (%zu entries)\n", hex,
	    git_oid_tostr(nhex, sizeof(nhex), &cid), subject, nup);
	n->applied += (unsigned)nup;
	n->commits++;
	git_oid_cpy(tip, &cid);
	git_tree_free(*cur);
	*cur = ntree;
	ntree = NULL;
	rc = 0;
	goto done;
gitfail:
	rc = tool_err(1, RL_NAME, "%.12s: %s", hex, tool_gitmsg());
done:
	free(clash);
	free(up);
	git_buf_dispose(&msg);
	git_signature_free(me);
	git_diff_free(diff);
	git_tree_free(ntree);
	git_tree_free(btree);
	git_commit_free(bcommit);
	git_commit_free(tipc);
	git_tree_free(ctree);
	git_tree_free(ptree);
	git_commit_free(parent);
	return rc;
}

int
cmd_replay(const char *repo, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "onto",	required_argument, NULL, 'o' },
		{ "help",	no_argument,	   NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *onto_name = NULL, *range;
	char refname[256];
	struct rl_counts n = { 0 };
	struct store *lock = NULL;
	git_repository *g = NULL;
	git_reference *ref = NULL, *nref = NULL;
	git_revspec spec = { 0 };
	git_revwalk *w = NULL;
	git_commit *onto_c = NULL, *from_c = NULL, *to_c = NULL;
	git_tree *onto_tree = NULL, *cur = NULL;
	git_oid onto, tip, id, *ids = NULL;
	size_t nids = 0, cap = 0;
	int c, rc = 2;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			onto_name = optarg;
			break;
		case 'h':
			rl_usage(stdout);
			return 0;
		default:
			return tool_badopt(RL_NAME, argv);
		}
	}
	if (optind + 1 != argc || onto_name == NULL) {
		rl_usage(stderr);
		return 2;
	}
	range = argv[optind];
	git_libgit2_init();
	if ((rc = tool_repo_open(&g, repo, RL_NAME)) != 0)
		goto done;
	rc = 2;
	if (strncmp(onto_name, "refs/", 5) == 0)
		snprintf(refname, sizeof(refname), "%s", onto_name);
	else
		snprintf(refname, sizeof(refname), "refs/heads/%s", onto_name);
	if (git_reference_lookup(&ref, g, refname) < 0 ||
	    git_reference_type(ref) != GIT_REFERENCE_DIRECT) {
		tool_err(2, RL_NAME, "--onto: no branch '%s'", onto_name);
		goto done;
	}
	git_oid_cpy(&onto, git_reference_target(ref));
	if (git_revparse(&spec, g, range) < 0) {
		tool_err(2, RL_NAME, "unknown revision '%s'", range);
		goto done;
	}
	if ((spec.flags & GIT_REVSPEC_MERGE_BASE) != 0) {
		tool_err(2, RL_NAME, "'%s': A...B is not supported, give A..B", range);
		goto done;
	}
	if ((spec.flags & GIT_REVSPEC_RANGE) != 0) {
		if (git_object_peel((git_object **)&from_c, spec.from, GIT_OBJECT_COMMIT) < 0 ||
		    git_object_peel((git_object **)&to_c, spec.to, GIT_OBJECT_COMMIT) < 0) {
			tool_err(2, RL_NAME, "'%s' does not name commits", range);
			goto done;
		}
	} else if (git_object_peel((git_object **)&to_c, spec.from, GIT_OBJECT_COMMIT) < 0) {
		tool_err(2, RL_NAME, "'%s' does not name a commit", range);
		goto done;
	}

	/* The commits: first-parent line of B down to A, oldest first. */
	rc = 1;
	if (git_revwalk_new(&w, g) < 0 || git_revwalk_push(w, git_commit_id(to_c)) < 0 ||
	    (from_c != NULL && git_revwalk_hide(w, git_commit_id(from_c)) < 0)) {
		tool_err(1, RL_NAME, "history walk: %s", tool_gitmsg());
		goto done;
	}
	git_revwalk_simplify_first_parent(w);
	while (git_revwalk_next(&id, w) == 0) {
		if (nids == cap) {
			git_oid *v;

			cap = cap ? cap * 2 : 64;
			if ((v = realloc(ids, cap * sizeof(*v))) == NULL) {
				tool_err(1, RL_NAME, "out of memory");
				goto done;
			}
			ids = v;
		}
		git_oid_cpy(&ids[nids++], &id);
		if (from_c == NULL)
			break;		/* a single commit */
	}
	if (nids == 0) {
		printf("nothing to replay: %s is empty\n", range);
		rc = 0;
		goto done;
	}

	/* A router holds primary's head in memory: only move it when none runs. */
	if (strcmp(refname, "refs/heads/primary") == 0) {
		struct store_opts so;
		int e;

		store_opts_default(&so);
		so.router_id = "gitnet-replay";
		so.create = false;
		if ((e = store_open(&lock, repo, &so)) < 0) {
			rc = tool_err(e == STORE_ELOCKED ? 1 : 2, RL_NAME, "%s%s", store_strerror(),
			    e == STORE_ELOCKED ? " (replay onto another branch, then "
			    "`gitnet merge` it)" : "");
			goto done;
		}
	}

	if (git_commit_lookup(&onto_c, g, &onto) < 0 || git_commit_tree(&onto_tree, onto_c) < 0 ||
	    git_commit_tree(&cur, onto_c) < 0) {
		tool_err(1, RL_NAME, "%s: %s", onto_name, tool_gitmsg());
		goto done;
	}
	git_oid_cpy(&tip, &onto);
	for (size_t i = nids; i-- > 0;) {
		git_commit *cm;

		if (git_commit_lookup(&cm, g, &ids[i]) < 0) {
			tool_err(1, RL_NAME, "%s", tool_gitmsg());
			goto done;
		}
		c = rl_one(g, cm, &onto, onto_tree, &tip, &cur, onto_name, &n);
		git_commit_free(cm);
		if (c != 0)
			goto done;
	}
	if (!git_oid_equal(&tip, &onto) &&
	    git_reference_create_matching(&nref, g, refname, &tip, 1, &onto,
	    "gitnet: replay") < 0) {
		tool_err(1, RL_NAME, "%s moved while replaying (%s); nothing was changed, run again",
		    onto_name, tool_gitmsg());
		goto done;
	}
	printf("replayed %u of %zu commits onto %s: %u entries applied, %u already "
	    "there, %u clashes\n", n.commits, nids, onto_name, n.applied, n.same, n.clashes);
	rc = 0;
done:
	store_free(lock);
	free(ids);
	git_tree_free(cur);
	git_tree_free(onto_tree);
	git_commit_free(onto_c);
	git_commit_free(from_c);
	git_commit_free(to_c);
	git_object_free(spec.from);
	git_object_free(spec.to);
	git_revwalk_free(w);
	git_reference_free(nref);
	git_reference_free(ref);
	git_repository_free(g);
	git_libgit2_shutdown();
	return rc;
}

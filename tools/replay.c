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
 * Invariants: entries are put back with their bytes, never re-encoded, so
 * a replayed entry is byte-identical to its original (and checked with the
 * table's codec on the way in). Everything goes through one store
 * transaction: the commits are written as one pack, then BRANCH moves
 * once, by compare-and-swap on the id it had at the start; nothing is
 * moved or written when anything fails. primary is only written when no
 * router holds the store (its lock is taken for the run): a router keeps
 * primary's head in memory and must be the only one to move it while it
 * runs. Another branch is written by a side writer, without the lock.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* The blob at path in commit (NULL: none): 1 and its id, 0 absent, or < 0. */
static int
rl_blob_at(struct store_oid *out, struct store_reader *r, const struct store_oid *commit,
    const char *path)
{
	int e;

	if (commit == NULL)
		return 0;
	if ((e = store_read_file(NULL, NULL, out, r, commit, path)) < 0)
		return e;
	return e == 0;
}

static bool
rl_same(int have_a, const struct store_oid *a, int have_b, const struct store_oid *b)
{
	return have_a == have_b && (!have_a || store_oid_equal(a, b));
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

/* One commit's replay: what its diff callback needs and counts. */
struct rl_one {
	struct store_reader *r;
	struct store_txn *t;
	const struct store_commit *c;
	const struct store_oid *onto, *base, *tip;
	const char	*branch;
	struct rl_counts *n;
	char		*clash;
	size_t		clash_len, nup;
	int		nclash;
};

static int
rl_entry(void *ctx, const char *path, const char *old, size_t olen, const char *new_,
    size_t nlen)
{
	struct rl_one *o = ctx;
	struct store_oid bv, ov, cv, nv;
	char nhex[STORE_OID_HEXSZ + 1];
	bool del = new_ == NULL;
	int hb, ho, hc, hn, e;

	(void)old;
	(void)olen;
	if (!rl_table_path(path))
		return 0;
	if ((hb = rl_blob_at(&bv, o->r, o->base, path)) < 0 ||
	    (ho = rl_blob_at(&ov, o->r, o->onto, path)) < 0 ||
	    (hc = rl_blob_at(&cv, o->r, o->tip, path)) < 0 ||
	    (hn = rl_blob_at(&nv, o->r, &o->c->id, path)) < 0)
		return -1;
	if (rl_same(hc, &cv, hn, &nv)) {
		o->n->same++;
		return 0;
	}
	if (!rl_same(hb, &bv, ho, &ov) && !rl_same(ho, &ov, hn, &nv)) {
		size_t l = strlen(path) + 16;
		char *p = realloc(o->clash, o->clash_len + l);

		if (p == NULL)
			return tool_err(-1, RL_NAME, "out of memory");
		o->clash = p;
		o->clash_len += (size_t)snprintf(o->clash + o->clash_len, l, "Clash: %s\n", path);
		printf("  clash %s: %s changed it since %.12s; kept %s's value\n", path,
		    o->branch, o->base ? store_oid_fmt(nhex, o->base) : "the start", o->branch);
		o->nclash++;
		return 0;
	}
	e = del ? store_txn_remove(o->t, path) : store_txn_put_text(o->t, path, new_, nlen);
	if (e < 0)
		return -1;
	o->nup++;
	return 0;
}

/*
 * Replay one commit onto *tip (the transaction's working tree): per-entry
 * changes against its first parent, clashes judged against the branch as
 * it was at the start (onto) and the merge base of onto and the commit.
 * Moves *tip when it commits.
 */
static int
rl_one(struct store_reader *r, struct store_txn *t, const struct store_commit *c,
    const struct store_oid *onto, struct store_oid *tip, const char *branch,
    struct rl_counts *n)
{
	struct store_sig me;
	struct store_oid base, cid;
	struct rl_one o = { .r = r, .t = t, .c = c, .onto = onto, .tip = tip,
	    .branch = branch, .n = n };
	char subject[256], hex[STORE_OID_HEXSZ + 1], nhex[STORE_OID_HEXSZ + 1];
	int rc = 1, e;

	store_oid_fmt(hex, &c->id);
	rl_subject(subject, sizeof(subject), c->message);
	/* No common history: every entry BRANCH has counts as changed there. */
	if ((e = store_merge_base(&base, r, onto, &c->id)) == 0)
		o.base = &base;
	else if (e != STORE_ENOTFOUND)
		goto storefail;
	if (store_diff(r, c->nparent > 0 ? &c->parent[0] : NULL, &c->id, NULL, rl_entry,
	    &o) != 0)
		goto storefail;
	n->clashes += (unsigned)o.nclash;
	if (o.nup == 0) {
		printf("skipped %.12s %s: nothing to apply\n", hex, subject);
		n->skipped++;
		rc = 0;
		goto done;
	}
	me.name = "gitnet-replay";
	me.email = "gitnet-replay@gitnet";
	me.time = (int64_t)(tool_now_us() / 1000000);
	me.tz = 0;
	{
		/* replay: <subject>, a blank line, then the trailers. */
		size_t cap = strlen(subject) + o.clash_len + 128;
		char *m = malloc(cap);

		if (m == NULL) {
			rc = tool_err(1, RL_NAME, "out of memory");
			goto done;
		}
		snprintf(m, cap, "replay: %s\n\n%sReplayed-From: %s\n", subject,
		    o.clash ? o.clash : "", hex);
		e = store_txn_make_commit(&cid, t, tip, 1, &c->author, &me, m, 0);
		free(m);
		if (e < 0)
			goto storefail;
	}
	printf("applied %.12s -> %.12s replay: %s (%zu entries)\n", hex,
	    store_oid_fmt(nhex, &cid), subject, o.nup);
	n->applied += (unsigned)o.nup;
	n->commits++;
	*tip = cid;
	rc = 0;
	goto done;
storefail:
	rc = tool_err(1, RL_NAME, "%.12s: %s", hex, tool_storemsg());
done:
	free(o.clash);
	return rc;
}

struct rl_walk {
	struct store_oid *ids;
	size_t		n, cap;
	bool		single, oom;
};

static int
rl_collect(void *ctx, const struct store_commit *c)
{
	struct rl_walk *w = ctx;

	if (w->n == w->cap) {
		struct store_oid *v;

		w->cap = w->cap ? w->cap * 2 : 64;
		if ((v = realloc(w->ids, w->cap * sizeof(*v))) == NULL) {
			w->oom = true;
			return tool_err(-1, RL_NAME, "out of memory");
		}
		w->ids = v;
	}
	w->ids[w->n++] = c->id;
	return w->single ? 1 : 0;	/* a single commit: just the first */
}

/* One side of a range ("" is HEAD, as git reads "A.."). */
static int
rl_rev(struct store_oid *out, struct store_reader *r, const char *rev, size_t len,
    const char *range)
{
	char buf[256];
	int e;

	snprintf(buf, sizeof(buf), "%.*s", (int)(len < 255 ? len : 255), len ? rev : "HEAD");
	if ((e = store_resolve(out, r, buf)) == 0)
		return 0;
	if (e == STORE_ENOTFOUND)
		return tool_err(2, RL_NAME, "unknown revision '%s'", range);
	return tool_err(2, RL_NAME, "'%s' does not name %s", range,
	    len == strlen(rev) ? "a commit" : "commits");
}

int
cmd_replay(const char *repo, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "onto",	required_argument, NULL, 'o' },
		{ "help",	no_argument,	   NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *onto_name = NULL, *range, *dots;
	char refname[256];
	struct rl_counts n = { 0 };
	struct rl_walk rw = { 0 };
	struct store *st = NULL;
	struct store_reader *r = NULL;
	struct store_txn *t = NULL;
	struct store_opts so;
	struct store_oid onto, tip, from, to;
	bool have_from = false, primary;
	int c, e, rc = 2;

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
	if ((rc = tool_repo_open(&r, repo, RL_NAME)) != 0)
		goto done;
	rc = 2;
	if (strncmp(onto_name, "refs/", 5) == 0)
		snprintf(refname, sizeof(refname), "%s", onto_name);
	else
		snprintf(refname, sizeof(refname), "refs/heads/%s", onto_name);
	if (store_ref_target(&onto, r, refname) != 0) {
		tool_err(2, RL_NAME, "--onto: no branch '%s'", onto_name);
		goto done;
	}
	if ((dots = strstr(range, "..")) != NULL && dots[2] == '.') {
		tool_err(2, RL_NAME, "'%s': A...B is not supported, give A..B", range);
		goto done;
	}
	if (dots != NULL) {
		if (rl_rev(&from, r, range, (size_t)(dots - range), range) != 0 ||
		    rl_rev(&to, r, dots + 2, strlen(dots + 2), range) != 0)
			goto done;
		have_from = true;
	} else if (rl_rev(&to, r, range, strlen(range), range) != 0) {
		goto done;
	}

	/* The commits: first-parent line of B down to A, oldest first. */
	rc = 1;
	{
		struct store_walk w = { .start = &to, .nstart = 1, .hide = &from,
		    .nhide = have_from ? 1 : 0, .flags = STORE_WALK_FIRST_PARENT };

		rw.single = !have_from;
		if ((e = store_log(r, &w, rl_collect, &rw)) < 0) {
			if (!rw.oom)
				tool_err(1, RL_NAME, "history walk: %s", tool_storemsg());
			goto done;
		}
	}
	if (rw.n == 0) {
		printf("nothing to replay: %s is empty\n", range);
		rc = 0;
		goto done;
	}

	/*
	 * A router holds primary's head in memory: only move it when none
	 * runs. Other branches: a side writer, which takes no lock.
	 */
	primary = strcmp(refname, "refs/heads/primary") == 0;
	store_opts_default(&so);
	so.router_id = "gitnet-replay";
	so.create = false;
	so.side = !primary;
	if ((e = store_open(&st, repo, &so)) < 0) {
		rc = tool_err(e == STORE_ELOCKED ? 1 : 2, RL_NAME, "%s%s", store_strerror(),
		    e == STORE_ELOCKED ? " (replay onto another branch, then "
		    "`gitnet merge` it)" : "");
		goto done;
	}
	store_reader_free(r);
	r = store_reader_of(st);
	if (store_txn_begin(&t, st) < 0 || store_txn_tree(t, &onto) < 0) {
		tool_err(1, RL_NAME, "%s: %s", onto_name, tool_storemsg());
		goto done;
	}
	tip = onto;
	for (size_t i = rw.n; i-- > 0;) {
		struct store_commit *cm;

		if (store_commit_read(&cm, r, &rw.ids[i]) < 0) {
			tool_err(1, RL_NAME, "%s", tool_storemsg());
			goto done;
		}
		c = rl_one(r, t, cm, &onto, &tip, onto_name, &n);
		store_commit_free(cm);
		if (c != 0)
			goto done;
	}
	if (!store_oid_equal(&tip, &onto)) {
		if (store_txn_ref(t, refname, &tip, &onto) < 0 || (e = store_txn_commit(t),
		    t = NULL, e) < 0) {
			tool_err(1, RL_NAME, "%s moved while replaying (%s); nothing was "
			    "changed, run again", onto_name, tool_storemsg());
			goto done;
		}
	}
	printf("replayed %u of %zu commits onto %s: %u entries applied, %u already "
	    "there, %u clashes\n", n.commits, rw.n, onto_name, n.applied, n.same, n.clashes);
	rc = 0;
done:
	store_txn_rollback(t);
	if (st != NULL)
		store_free(st);
	else
		store_reader_free(r);
	free(rw.ids);
	return rc;
}

/* SPDX-License-Identifier: ISC */
/*
 * gitnet gc: history retention. The history of primary older than the
 * window (now - --keep, default 7d) becomes one snapshot commit, and what is
 * newer is rewritten on top of it, so the repository stays bounded however
 * long the router runs.
 *
 *	gitnet gc [--keep DURATION]	(30s, 10min, 2h, 7d; default 7d)
 *
 * The cutoff commit C0 is the newest commit on primary's first-parent line
 * whose committer time is at or before the cutoff; the squashed history is
 * every commit reachable from C0. The snapshot S is a root commit with C0's
 * tree, author and committer, and a message naming what it replaces
 * (`Squashed-Through: <C0>`). Every commit newer than that (reachable from
 * a branch or tag, not from C0) is rewritten parents-first with the same
 * tree, author, committer and message; a parent in the squashed history
 * becomes S. Branches and tags (annotated ones get a new tag object, same
 * tagger and message) that pointed at rewritten commits are moved to the
 * new ones; expire_<unix.usec> branches older than the cutoff are deleted;
 * refs that point into the squashed history otherwise are left as they are
 * (and keep that history alive) and reported. Then the commit-graph file
 * is rewritten (store_graph_write: fast time queries), and, when git is installed,
 * unreachable reflog entries are expired and `git repack -adq` and
 * `git prune` run.
 *
 * Invariants: primary's tree is the same before and after (checked: gc
 * fails before moving any ref otherwise), so every entry alive now is kept,
 * and S holds every entry alive at the cutoff. Everything goes through one
 * store transaction: the new commits and tags are written as one pack,
 * then every ref moves (or is deleted) by compare-and-swap, all of them
 * checked first, so a ref that moved meanwhile fails gc with nothing
 * changed. The store's lock is held throughout: gc refuses to run while a
 * router holds the repository.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#include "tools/cmd.h"
#include "tools/tool.h"

#define GC_NAME		"gc"
#define GC_PRIMARY	"refs/heads/primary"

/* Rewritten commits: old id -> new id, open addressing. */
struct gc_map {
	struct store_oid *k, *v;
	bool		*used;
	size_t		cap, n;
};

static void
gc_usage(FILE *f)
{
	fprintf(f,
	    "usage: gitnet gc [--keep DURATION]\n"
	    "\n"
	    "Squash primary's history older than DURATION (30s, 10min, 2h, 7d; default\n"
	    "7d) into one snapshot commit holding the tables as of the cutoff, rewrite\n"
	    "the newer commits on top of it (same trees and messages; branches and tags\n"
	    "follow), delete expire_ branches older than the cutoff, then run\n"
	    "`git repack -adq` and `git prune` if git is installed. primary's tree is\n"
	    "unchanged. Refuses while a router holds the repository.\n");
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

static size_t
gc_slot(const struct gc_map *m, const struct store_oid *k)
{
	uint64_t h;

	memcpy(&h, k->id, sizeof(h));
	for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1))
		if (!m->used[i] || store_oid_equal(&m->k[i], k))
			return i;
}

static int
gc_map_put(struct gc_map *m, const struct store_oid *k, const struct store_oid *v)
{
	size_t i;

	if ((m->n + 1) * 2 > m->cap) {
		struct gc_map g = { 0 };

		g.cap = m->cap ? m->cap * 2 : 1024;
		g.k = calloc(g.cap, sizeof(*g.k));
		g.v = calloc(g.cap, sizeof(*g.v));
		g.used = calloc(g.cap, sizeof(*g.used));
		if (g.k == NULL || g.v == NULL || g.used == NULL) {
			free(g.k);
			free(g.v);
			free(g.used);
			return -1;
		}
		for (size_t j = 0; j < m->cap; j++)
			if (m->used[j]) {
				i = gc_slot(&g, &m->k[j]);
				g.used[i] = true;
				g.k[i] = m->k[j];
				g.v[i] = m->v[j];
				g.n++;
			}
		free(m->k);
		free(m->v);
		free(m->used);
		*m = g;
	}
	i = gc_slot(m, k);
	if (!m->used[i]) {
		m->used[i] = true;
		m->k[i] = *k;
		m->n++;
	}
	m->v[i] = *v;
	return 0;
}

static const struct store_oid *
gc_map_get(const struct gc_map *m, const struct store_oid *k)
{
	size_t i;

	if (m->cap == 0)
		return NULL;
	i = gc_slot(m, k);
	return m->used[i] ? &m->v[i] : NULL;
}

static void
gc_map_free(struct gc_map *m)
{
	free(m->k);
	free(m->v);
	free(m->used);
}

/* Run git with args in gitdir; its exit status, or -1 when it cannot run. */
static int
gc_git(const char *gitdir, const char *const *args)
{
	const char *argv[16];
	int n = 0, status;
	pid_t pid;

	argv[n++] = "git";
	argv[n++] = "--git-dir";
	argv[n++] = gitdir;
	for (; *args != NULL && n < 15; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	fflush(stdout);
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		execvp("git", (char *const *)argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

struct gc_cut {
	int64_t		cutoff;
	struct store_oid id;
	int64_t		time;
	unsigned	nparent;
	bool		found;
};

static int
gc_cut_fn(void *ctx, const struct store_commit *c)
{
	struct gc_cut *g = ctx;

	if (c->committer.time > g->cutoff)
		return 0;
	g->id = c->id;
	g->time = c->committer.time;
	g->nparent = c->nparent;
	g->found = true;
	return 1;
}

/* C0: the newest first-parent commit of primary at or before cutoff. */
static int
gc_cutoff_commit(struct gc_cut *g, struct store_reader *r, const struct store_oid *head)
{
	struct store_walk w = { .start = head, .nstart = 1,
	    .flags = STORE_WALK_FIRST_PARENT };
	int e = store_log(r, &w, gc_cut_fn, g);

	return e < 0 ? e : 0;
}

static int
gc_count_fn(void *ctx, const struct store_commit *c)
{
	(void)c;
	(*(size_t *)ctx)++;
	return 0;
}

static size_t
gc_count(struct store_reader *r, const struct store_oid *tip)
{
	struct store_walk w = { .start = tip, .nstart = 1 };
	size_t n = 0;

	store_log(r, &w, gc_count_fn, &n);
	return n;
}

struct gc_rw {
	struct store_txn *t;
	struct gc_map	*map;
	const struct store_oid *snap;
	char		failed[STORE_OID_HEXSZ + 1];
};

/* Rewrite commit c on the new parents (see the file comment). */
static int
gc_rewrite(void *ctx, const struct store_commit *c)
{
	struct gc_rw *g = ctx;
	struct store_oid pids[8], nid;
	size_t np = 0;

	for (unsigned i = 0; i < c->nparent && np < 8; i++) {
		const struct store_oid *q = gc_map_get(g->map, &c->parent[i]);
		bool dup = false;

		/* Not rewritten: in the squashed history, which S stands for. */
		if (q == NULL)
			q = g->snap;
		for (size_t j = 0; j < np; j++)
			dup |= store_oid_equal(&pids[j], q);
		if (!dup)
			pids[np++] = *q;
	}
	if (store_txn_tree(g->t, &c->id) < 0 ||
	    store_txn_make_commit(&nid, g->t, pids, np, &c->author, &c->committer,
	    c->message, 0) < 0 ||
	    gc_map_put(g->map, &c->id, &nid) < 0) {
		store_oid_fmt(g->failed, &c->id);
		return -1;
	}
	return 0;
}

struct gc_ref {
	char		*name;
	struct store_oid target;	/* the ref's own target (a tag object or commit) */
	struct store_oid commit;	/* peeled */
};

struct gc_refs {
	struct store_reader *r;
	struct store_txn *t;
	int64_t		cutoff;
	struct gc_ref	*v;
	size_t		n;
	unsigned	deleted;
	bool		failed;
};

/* Refs: expire_ branches older than the cutoff go; the others are noted. */
static int
gc_ref_fn(void *ctx, const char *name, const struct store_oid *commit, bool peeled)
{
	struct gc_refs *g = ctx;
	struct store_oid target;
	unsigned long long sec;
	struct gc_ref *v;

	(void)peeled;
	if (strncmp(name, "refs/heads/", 11) != 0 && strncmp(name, "refs/tags/", 10) != 0)
		return 0;
	if (store_ref_target(&target, g->r, name) != 0)
		return 0;		/* symbolic, or gone meanwhile */
	if (sscanf(name, "refs/heads/expire_%llu", &sec) == 1 && (int64_t)sec < g->cutoff) {
		if (store_txn_ref(g->t, name, NULL, &target) < 0) {
			tool_err(1, GC_NAME, "deleting %s: %s", name, tool_storemsg());
			g->failed = true;
			return 1;
		}
		printf("deleted %s\n", name + 11);
		g->deleted++;
		return 0;
	}
	if (commit == NULL)
		return 0;
	if ((v = realloc(g->v, (g->n + 1) * sizeof(*v))) == NULL ||
	    (v[g->n].name = strdup(name)) == NULL) {
		g->v = v ? v : g->v;
		tool_err(1, GC_NAME, "out of memory");
		g->failed = true;
		return 1;
	}
	g->v = v;
	v[g->n].target = target;
	v[g->n].commit = *commit;
	g->n++;
	return 0;
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
	struct store_txn *t = NULL;
	struct store_opts so;
	struct gc_map map = { 0 };
	struct gc_refs refs = { 0 };
	struct gc_cut cut = { 0 };
	struct store_commit *pc = NULL, *npc = NULL;
	size_t before = 0, after = 0, squashed = 0;
	unsigned kept_old = 0, moved = 0;
	struct store_oid head, snap;
	char gitdir[4096], hex[STORE_OID_HEXSZ + 1], hex2[STORE_OID_HEXSZ + 1], tbuf[64];
	int c, e, rc = 2;
	bool squash;
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
	rc = 1;
	r = store_reader_of(st);
	head = *store_head(st);
	if (store_commit_read(&pc, r, &head) < 0 || store_txn_begin(&t, st) < 0) {
		tool_err(1, GC_NAME, "%s: %s", repo, tool_storemsg());
		goto done;
	}
	snprintf(gitdir, sizeof(gitdir), "%s", repo);
	ct = (time_t)cutoff;
	strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%SZ", gmtime(&ct));
	printf("gc: cutoff %s (keep %s)\n", tbuf, keep_s);
	before = gc_count(r, &head);

	refs.r = r;
	refs.t = t;
	refs.cutoff = cutoff;
	if ((e = store_refs(r, NULL, gc_ref_fn, &refs)) < 0 && !refs.failed)
		tool_err(1, GC_NAME, "refs: %s", tool_storemsg());
	if (e != 0 || refs.failed)
		goto done;

	cut.cutoff = cutoff;
	if (gc_cutoff_commit(&cut, r, &head) < 0) {
		tool_err(1, GC_NAME, "history walk: %s", tool_storemsg());
		goto done;
	}
	squash = cut.found;
	if (squash) {
		struct store_walk w = { .start = &cut.id, .nstart = 1 };

		squashed = 0;
		if (store_log(r, &w, gc_count_fn, &squashed) < 0) {
			tool_err(1, GC_NAME, "%s", tool_storemsg());
			goto done;
		}
		squash = squashed > 1 || cut.nparent > 0;
	}
	if (!squash) {
		printf("nothing to squash: primary has no history before the cutoff\n");
	} else {
		struct store_commit *c0 = NULL;
		struct store_oid *starts = NULL;
		struct store_walk w = { 0 };
		struct gc_rw rw = { .t = t, .map = &map, .snap = &snap };
		char msg[512];
		time_t t0 = (time_t)cut.time;
		const char *const subject = "gc: snapshot of primary";

		strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t0));
		snprintf(msg, sizeof(msg), "%s as of %s\n\nThe tables at %s; %zu older commits "
		    "squashed.\n\nSquashed-Through: %s\n", subject, tbuf, tbuf, squashed,
		    store_oid_fmt(hex, &cut.id));
		if (store_commit_read(&c0, r, &cut.id) < 0 ||
		    store_txn_tree(t, &cut.id) < 0 ||
		    store_txn_make_commit(&snap, t, NULL, 0, &c0->author, &c0->committer,
		    msg, 0) < 0) {
			store_commit_free(c0);
			tool_err(1, GC_NAME, "snapshot: %s", tool_storemsg());
			goto done;
		}
		store_commit_free(c0);
		/* Every commit reachable from the refs and not from C0, parents first. */
		if (refs.n > 0 && (starts = calloc(refs.n, sizeof(*starts))) == NULL) {
			tool_err(1, GC_NAME, "out of memory");
			goto done;
		}
		for (size_t i = 0; i < refs.n; i++)
			starts[i] = refs.v[i].commit;
		w.start = starts;
		w.nstart = refs.n;
		w.hide = &cut.id;
		w.nhide = 1;
		w.flags = STORE_WALK_REVERSE;
		e = store_log(r, &w, gc_rewrite, &rw);
		free(starts);
		if (e != 0) {
			if (rw.failed[0] != '\0')
				tool_err(1, GC_NAME, "rewriting %s: %s", rw.failed, tool_storemsg());
			else
				tool_err(1, GC_NAME, "history walk: %s", tool_storemsg());
			goto done;
		}
		/* C0 is primary itself when nothing is newer: S stands in. */
		{
			const struct store_oid *nh = gc_map_get(&map, &head);

			if (nh == NULL && store_oid_equal(&head, &cut.id))
				nh = &snap;
			if (nh == NULL || store_commit_read(&npc, r, nh) < 0 ||
			    !store_oid_equal(&npc->tree, &pc->tree)) {
				tool_err(1, GC_NAME, "rewritten primary's tree differs; nothing was changed");
				goto done;
			}
		}
		for (size_t i = 0; i < refs.n; i++) {
			const struct store_oid *nc = gc_map_get(&map, &refs.v[i].commit);
			struct store_oid target;

			if (nc == NULL && strcmp(refs.v[i].name, GC_PRIMARY) == 0)
				nc = &snap;
			if (nc == NULL) {
				/* It points into the squashed history: left, and it keeps that. */
				printf("kept %s: it points before the cutoff\n", refs.v[i].name);
				kept_old++;
				continue;
			}
			target = *nc;
			if (!store_oid_equal(&refs.v[i].target, &refs.v[i].commit)) {
				struct store_tag *tag = NULL;

				/* An annotated tag: the same tag, on the new commit. */
				if (store_tag_read(&tag, r, &refs.v[i].target) != 0 ||
				    store_txn_tag(&target, t, nc, tag->name,
				    tag->has_tagger ? &tag->tagger : NULL, tag->message) < 0) {
					store_tag_free(tag);
					tool_err(1, GC_NAME, "%s: %s", refs.v[i].name, tool_storemsg());
					goto done;
				}
				store_tag_free(tag);
			}
			if (store_txn_ref(t, refs.v[i].name, &target, &refs.v[i].target) < 0) {
				tool_err(1, GC_NAME, "moving %s: %s", refs.v[i].name, tool_storemsg());
				goto done;
			}
			moved++;
		}
	}
	/* One durable step: the pack, then every ref by compare-and-swap. */
	e = store_txn_commit(t);
	t = NULL;
	if (e < 0) {
		tool_err(1, GC_NAME, "%s%s", tool_storemsg(), e == STORE_EMODIFIED ?
		    " (nothing was changed, run again)" : "");
		goto done;
	}
	if (squash) {
		const struct store_oid *nh = gc_map_get(&map, &head);

		after = gc_count(r, nh ? nh : &snap);
		printf("squashed %zu commits through %.12s into snapshot %.12s\n", squashed,
		    store_oid_fmt(hex, &cut.id), store_oid_fmt(hex2, &snap));
		printf("rewrote %zu newer commits; moved %u refs\n", map.n, moved);
		printf("primary: %zu -> %zu commits, tree %.12s unchanged\n", before, after,
		    store_oid_fmt(hex, &pc->tree));
	}
	printf("deleted %u expire_ branches older than the cutoff\n", refs.deleted);
	if (kept_old > 0)
		printf("kept %u refs that point before the cutoff (delete them to free it)\n",
		    kept_old);

	/*
	 * The commit-graph of what is kept (store/graph.c): what `gitnet who`
	 * and `gitnet at` walk, one array lookup a commit. Before stock git
	 * repacks: the store reads the packs it knows.
	 */
	if ((e = store_graph_write(st)) < 0) {
		tool_err(1, GC_NAME, "commit-graph: %s", tool_storemsg());
		goto done;
	}

	/* Stock git, when installed, frees what nothing names any more. */
	{
		static const char *const reflog[] = { "reflog", "expire",
		    "--expire-unreachable=now", "--all", NULL };
		static const char *const repack[] = { "repack", "-adq", NULL };
		static const char *const prune[] = { "prune", NULL };

		if ((e = gc_git(gitdir, reflog)) < 0) {
			printf("git not installed: repack skipped\n");
		} else if (e != 0 || (e = gc_git(gitdir, repack)) != 0 ||
		    (e = gc_git(gitdir, prune)) != 0) {
			tool_err(1, GC_NAME, "git repack/prune failed (exit %d)", e);
			goto done;
		} else {
			printf("repacked: git repack -adq, git prune\n");
		}
	}
	rc = 0;
done:
	store_txn_rollback(t);
	for (size_t i = 0; i < refs.n; i++)
		free(refs.v[i].name);
	free(refs.v);
	gc_map_free(&map);
	store_commit_free(npc);
	store_commit_free(pc);
	store_free(st);
	return rc;
}

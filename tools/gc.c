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
 * (and keep that history alive) and reported. Then, when git is installed,
 * unreachable reflog entries are expired and `git repack -adq` and
 * `git prune` run.
 *
 * Invariants: primary's tree is the same before and after (checked: gc
 * fails before moving any ref otherwise), so every entry alive now is kept,
 * and S holds every entry alive at the cutoff. Refs move by
 * compare-and-swap. The store's lock is held throughout: gc refuses to run
 * while a router holds the repository.
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

#include <git2.h>

#include "store/store.h"
#include "tools/cmd.h"
#include "tools/tool.h"

#define GC_NAME		"gc"
#define GC_PRIMARY	"refs/heads/primary"

/* Rewritten commits: old id -> new id, open addressing. */
struct gc_map {
	git_oid		*k, *v;
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
gc_slot(const struct gc_map *m, const git_oid *k)
{
	uint64_t h;

	memcpy(&h, k->id, sizeof(h));
	for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1))
		if (!m->used[i] || git_oid_equal(&m->k[i], k))
			return i;
}

static int
gc_map_put(struct gc_map *m, const git_oid *k, const git_oid *v)
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

static const git_oid *
gc_map_get(const struct gc_map *m, const git_oid *k)
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

/* C0: the newest first-parent commit of primary at or before cutoff. */
static int
gc_cutoff_commit(git_oid *out, git_repository *g, const git_oid *head, int64_t cutoff)
{
	git_revwalk *w = NULL;
	git_oid id;
	int found = 0;

	if (git_revwalk_new(&w, g) < 0 || git_revwalk_push(w, head) < 0)
		goto done;
	git_revwalk_simplify_first_parent(w);
	while (git_revwalk_next(&id, w) == 0) {
		git_commit *c;

		if (git_commit_lookup(&c, g, &id) < 0)
			break;
		if (git_commit_time(c) <= cutoff) {
			git_oid_cpy(out, &id);
			found = 1;
			git_commit_free(c);
			break;
		}
		git_commit_free(c);
	}
done:
	git_revwalk_free(w);
	return found;
}

static size_t
gc_count(git_repository *g, const git_oid *tip)
{
	git_revwalk *w = NULL;
	git_oid id;
	size_t n = 0;

	if (git_revwalk_new(&w, g) == 0 && git_revwalk_push(w, tip) == 0)
		while (git_revwalk_next(&id, w) == 0)
			n++;
	git_revwalk_free(w);
	return n;
}

/* Rewrite commit id on the new parents (see the file comment). */
static int
gc_rewrite(git_repository *g, struct gc_map *m, const git_oid *id, const git_oid *snap)
{
	git_commit *c = NULL, *par[8] = { 0 };
	git_tree *t = NULL;
	git_oid nid, pids[8];
	size_t np = 0;
	int rc = -1;

	if (git_commit_lookup(&c, g, id) < 0 || git_commit_tree(&t, c) < 0)
		goto done;
	for (unsigned i = 0; i < git_commit_parentcount(c) && np < 8; i++) {
		const git_oid *p = git_commit_parent_id(c, i);
		const git_oid *q = gc_map_get(m, p);
		bool dup = false;

		/* Not rewritten: in the squashed history, which S stands for. */
		if (q == NULL)
			q = snap;
		for (size_t j = 0; j < np; j++)
			dup |= git_oid_equal(&pids[j], q);
		if (!dup)
			git_oid_cpy(&pids[np++], q);
	}
	for (size_t j = 0; j < np; j++)
		if (git_commit_lookup(&par[j], g, &pids[j]) < 0)
			goto done;
	if (git_commit_create(&nid, g, NULL, git_commit_author(c), git_commit_committer(c),
	    git_commit_message_encoding(c), git_commit_message_raw(c), t, np,
	    (const git_commit **)par) < 0 ||
	    gc_map_put(m, id, &nid) < 0)
		goto done;
	rc = 0;
done:
	for (size_t j = 0; j < 8; j++)
		git_commit_free(par[j]);
	git_tree_free(t);
	git_commit_free(c);
	return rc;
}

struct gc_ref {
	char		*name;
	git_oid		target;		/* the ref's own target (a tag object or commit) */
	git_oid		commit;		/* peeled */
};

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
	struct store *lock = NULL;
	struct store_opts so;
	struct gc_map map = { 0 };
	struct gc_ref *refs = NULL;
	size_t nrefs = 0, before = 0, after = 0, squashed = 0;
	unsigned deleted = 0, kept_old = 0, moved = 0;
	git_repository *g = NULL;
	git_reference_iterator *it = NULL;
	git_reference *r = NULL;
	git_revwalk *w = NULL;
	git_commit *c0 = NULL, *pc = NULL, *npc = NULL;
	git_tree *c0tree = NULL;
	git_oid head, c0id, snap, id;
	char gitdir[4096], hex[GIT_OID_HEXSZ + 1], hex2[GIT_OID_HEXSZ + 1], tbuf[64];
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
	if ((e = store_open(&lock, repo, &so)) < 0)
		return tool_err(e == STORE_ELOCKED ? 1 : 2, GC_NAME, "%s%s", store_strerror(),
		    e == STORE_ELOCKED ? " (stop the router first)" : "");
	git_libgit2_init();
	rc = 1;
	if (git_repository_open_ext(&g, repo, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0 ||
	    git_reference_name_to_id(&head, g, GC_PRIMARY) < 0 ||
	    git_commit_lookup(&pc, g, &head) < 0) {
		tool_err(1, GC_NAME, "%s: %s", repo, tool_gitmsg());
		goto done;
	}
	snprintf(gitdir, sizeof(gitdir), "%s", git_repository_path(g));
	ct = (time_t)cutoff;
	strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%SZ", gmtime(&ct));
	printf("gc: cutoff %s (keep %s)\n", tbuf, keep_s);
	before = gc_count(g, &head);

	/* Refs: expire_ branches older than the cutoff go; the others are noted. */
	if (git_reference_iterator_new(&it, g) < 0) {
		tool_err(1, GC_NAME, "refs: %s", tool_gitmsg());
		goto done;
	}
	while (git_reference_next(&r, it) == 0) {
		const char *name = git_reference_name(r);
		unsigned long long sec;
		git_object *o = NULL;

		if (git_reference_type(r) != GIT_REFERENCE_DIRECT ||
		    (strncmp(name, "refs/heads/", 11) != 0 && strncmp(name, "refs/tags/", 10) != 0)) {
			git_reference_free(r);
			continue;
		}
		if (sscanf(name, "refs/heads/expire_%llu", &sec) == 1 && (int64_t)sec < cutoff) {
			if (git_reference_delete(r) < 0) {
				tool_err(1, GC_NAME, "deleting %s: %s", name, tool_gitmsg());
				git_reference_free(r);
				goto done;
			}
			printf("deleted %s\n", name + 11);
			deleted++;
			git_reference_free(r);
			continue;
		}
		if (git_reference_peel(&o, r, GIT_OBJECT_COMMIT) == 0) {
			struct gc_ref *v = realloc(refs, (nrefs + 1) * sizeof(*v));

			if (v == NULL || (v[nrefs].name = strdup(name)) == NULL) {
				refs = v ? v : refs;
				git_object_free(o);
				git_reference_free(r);
				tool_err(1, GC_NAME, "out of memory");
				goto done;
			}
			refs = v;
			git_oid_cpy(&refs[nrefs].target, git_reference_target(r));
			git_oid_cpy(&refs[nrefs].commit, git_object_id(o));
			nrefs++;
		}
		git_object_free(o);
		git_reference_free(r);
	}
	r = NULL;

	squash = gc_cutoff_commit(&c0id, g, &head, cutoff);
	if (squash) {
		if (git_commit_lookup(&c0, g, &c0id) < 0 || git_commit_tree(&c0tree, c0) < 0) {
			tool_err(1, GC_NAME, "%s", tool_gitmsg());
			goto done;
		}
		squashed = gc_count(g, &c0id);
		squash = squashed > 1 || git_commit_parentcount(c0) > 0;
	}
	if (!squash) {
		printf("nothing to squash: primary has no history before the cutoff\n");
	} else {
		char msg[512];
		time_t t0 = (time_t)git_commit_time(c0);
		const char *const subject = "gc: snapshot of primary";

		strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t0));
		snprintf(msg, sizeof(msg), "%s as of %s\n\nThe tables at %s; %zu older commits "
		    "squashed.\n\nSquashed-Through: %s\n", subject, tbuf, tbuf, squashed,
		    git_oid_tostr(hex, sizeof(hex), &c0id));
		if (git_commit_create(&snap, g, NULL, git_commit_author(c0),
		    git_commit_committer(c0), NULL, msg, c0tree, 0, NULL) < 0) {
			tool_err(1, GC_NAME, "snapshot: %s", tool_gitmsg());
			goto done;
		}
		/* Every commit reachable from the refs and not from C0, parents first. */
		if (git_revwalk_new(&w, g) < 0 || git_revwalk_hide(w, &c0id) < 0) {
			tool_err(1, GC_NAME, "history walk: %s", tool_gitmsg());
			goto done;
		}
		git_revwalk_sorting(w, GIT_SORT_TOPOLOGICAL | GIT_SORT_REVERSE);
		for (size_t i = 0; i < nrefs; i++)
			if (git_revwalk_push(w, &refs[i].commit) < 0) {
				tool_err(1, GC_NAME, "history walk: %s", tool_gitmsg());
				goto done;
			}
		while ((e = git_revwalk_next(&id, w)) == 0)
			if (gc_rewrite(g, &map, &id, &snap) < 0) {
				tool_err(1, GC_NAME, "rewriting %s: %s", git_oid_tostr(hex, sizeof(hex), &id),
				    tool_gitmsg());
				goto done;
			}
		if (e != GIT_ITEROVER) {
			tool_err(1, GC_NAME, "history walk: %s", tool_gitmsg());
			goto done;
		}
		/* C0 is primary itself when nothing is newer: S stands in. */
		{
			const git_oid *nh = gc_map_get(&map, &head);

			if (nh == NULL && git_oid_equal(&head, &c0id))
				nh = &snap;
			if (nh == NULL || git_commit_lookup(&npc, g, nh) < 0 ||
			    !git_oid_equal(git_commit_tree_id(npc), git_commit_tree_id(pc))) {
				tool_err(1, GC_NAME, "rewritten primary's tree differs; nothing was changed");
				goto done;
			}
		}
		for (size_t i = 0; i < nrefs; i++) {
			const git_oid *nc = gc_map_get(&map, &refs[i].commit);
			git_oid target;
			git_tag *tag = NULL;

			if (nc == NULL && strcmp(refs[i].name, GC_PRIMARY) == 0)
				nc = &snap;
			if (nc == NULL) {
				/* It points into the squashed history: left, and it keeps that. */
				printf("kept %s: it points before the cutoff\n", refs[i].name);
				kept_old++;
				continue;
			}
			git_oid_cpy(&target, nc);
			if (!git_oid_equal(&refs[i].target, &refs[i].commit)) {
				git_object *to = NULL;

				/* An annotated tag: the same tag, on the new commit. */
				if (git_tag_lookup(&tag, g, &refs[i].target) < 0 ||
				    git_object_lookup(&to, g, nc, GIT_OBJECT_COMMIT) < 0 ||
				    git_tag_annotation_create(&target, g, git_tag_name(tag), to,
				    git_tag_tagger(tag), git_tag_message(tag)) < 0) {
					git_object_free(to);
					git_tag_free(tag);
					tool_err(1, GC_NAME, "%s: %s", refs[i].name, tool_gitmsg());
					goto done;
				}
				git_object_free(to);
				git_tag_free(tag);
			}
			if (git_reference_create_matching(&r, g, refs[i].name, &target, 1,
			    &refs[i].target, "gitnet: gc") < 0) {
				tool_err(1, GC_NAME, "moving %s: %s", refs[i].name, tool_gitmsg());
				goto done;
			}
			git_reference_free(r);
			r = NULL;
			moved++;
		}
		after = gc_count(g, gc_map_get(&map, &head) ? gc_map_get(&map, &head) : &snap);
		printf("squashed %zu commits through %.12s into snapshot %.12s\n", squashed,
		    git_oid_tostr(hex, sizeof(hex), &c0id), git_oid_tostr(hex2, sizeof(hex2), &snap));
		printf("rewrote %zu newer commits; moved %u refs\n", map.n, moved);
		printf("primary: %zu -> %zu commits, tree %.12s unchanged\n", before, after,
		    git_oid_tostr(hex, sizeof(hex), git_commit_tree_id(pc)));
	}
	printf("deleted %u expire_ branches older than the cutoff\n", deleted);
	if (kept_old > 0)
		printf("kept %u refs that point before the cutoff (delete them to free it)\n",
		    kept_old);

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
	for (size_t i = 0; i < nrefs; i++)
		free(refs[i].name);
	free(refs);
	gc_map_free(&map);
	git_reference_free(r);
	git_reference_iterator_free(it);
	git_revwalk_free(w);
	git_tree_free(c0tree);
	git_commit_free(c0);
	git_commit_free(npc);
	git_commit_free(pc);
	git_repository_free(g);
	git_libgit2_shutdown();
	store_free(lock);
	return rc;
}

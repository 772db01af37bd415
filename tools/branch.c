/* SPDX-License-Identifier: ISC */
/*
 * gitnet branch [--json]: the cache branches of a state repository with
 * their heads and subjects: primary first, then the expiry branches
 * (expire_<unix.usec>, oldest first), then every other branch (peers,
 * replay-pcap results) by name.
 */
#include <stdio.h>
#include <unistd.h>		/* optind */
#include <stdlib.h>
#include <string.h>

#include "tools/cmd.h"
#include "tools/tool.h"

static const char help[] =
"NAME\n"
"    gitnet branch - list the cache branches\n"
"\n"
"SYNOPSIS\n"
"    gitnet [--repo DIR] branch [--json]\n"
"\n"
"DESCRIPTION\n"
"    Lists every branch, one line each:\n"
"        <kind> <name> <head:12> <subject of the head commit>\n"
"    kind is `primary` (the current tables), `expire` (an expiry tick's\n"
"    branch, expire_<unix.usec>, kept for inspection) or `other` (a peer's\n"
"    tables, a replay). primary comes first, then the expiry branches in\n"
"    name order (which is time order), then the others in name order.\n"
"\n"
"OPTIONS\n"
"    --json    a JSON array of {\"name\",\"kind\",\"head\",\"time\",\"subject\"}\n"
"    --help    this text\n"
"\n"
"EXIT STATUS\n"
"    0 listed; 1 git failed; 2 bad usage or not a gitnet repository.\n"
"\n"
"EXAMPLES\n"
"    gitnet branch\n"
"    gitnet branch --json | jq -r '.[] | select(.kind == \"expire\") | .name'\n";

struct br {
	char	*name;
	int	rank;		/* 0 primary, 1 expire, 2 other */
	struct store_oid head;
};

static int
br_cmp(const void *a, const void *b)
{
	const struct br *x = a, *y = b;

	if (x->rank != y->rank)
		return x->rank - y->rank;
	return strcmp(x->name, y->name);
}

struct br_list {
	struct br	*v;
	size_t		n, cap;
};

static int
br_add(void *arg, const char *ref, const struct store_oid *head, bool peeled)
{
	struct br_list *l = arg;
	const char *name = ref + strlen("refs/heads/");

	(void)peeled;
	if (head == NULL)
		return 0;		/* names no commit: not a branch to list */
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct br *nv = realloc(l->v, cap * sizeof(*nv));

		if (nv == NULL)
			return tool_err(TOOL_EXIT_FAIL, "branch", "out of memory");
		l->v = nv;
		l->cap = cap;
	}
	if ((l->v[l->n].name = strdup(name)) == NULL)
		return tool_err(TOOL_EXIT_FAIL, "branch", "out of memory");
	l->v[l->n].rank = strcmp(name, "primary") == 0 ? 0 :
	    strncmp(name, "expire_", 7) == 0 ? 1 : 2;
	l->v[l->n].head = *head;
	l->n++;
	return 0;
}

int
cmd_branch(const char *repo, int argc, char **argv)
{
	static const char *const kinds[] = { "primary", "expire", "other" };
	struct store_reader *r = NULL;
	struct br_list l = { NULL, 0, 0 };
	bool json = false;
	int ch, rc;

	if ((ch = tool_opts_json(argc, argv, "branch", help, &json)) >= 0)
		return ch;
	if (optind < argc)
		return tool_err(TOOL_EXIT_USAGE, "branch", "unexpected argument '%s' "
		    "(usage: branch [--json])", argv[optind]);
	if ((rc = tool_repo_open(&r, repo, "branch")) != 0)
		return rc;
	if ((rc = store_refs(r, "refs/heads/*", br_add, &l)) != 0) {
		if (rc < 0)
			rc = tool_err(TOOL_EXIT_FAIL, "branch", "%s", tool_storemsg());
		goto done;
	}
	if (l.n > 1)
		qsort(l.v, l.n, sizeof(*l.v), br_cmp);
	if (json)
		fputs("[", stdout);
	for (size_t i = 0; i < l.n; i++) {
		struct store_commit *c = NULL;
		char hex[STORE_OID_HEXSZ + 1], iso[32];
		const char *subj = "";

		if (store_commit_read(&c, r, &l.v[i].head) == 0)
			subj = c->summary;
		store_oid_fmt(hex, &l.v[i].head);
		if (json) {
			fputs(i ? ",\n  {\"name\":" : "\n  {\"name\":", stdout);
			tool_json_str(stdout, l.v[i].name);
			printf(",\"kind\":\"%s\",\"head\":\"%s\",\"time\":\"%s\",\"subject\":",
			    kinds[l.v[i].rank], hex,
			    c ? tool_iso(iso, c->committer.time) : "");
			tool_json_str(stdout, subj);
			fputs("}", stdout);
		} else {
			printf("%-7s %s %.12s %s\n", kinds[l.v[i].rank], l.v[i].name, hex, subj);
		}
		store_commit_free(c);
	}
	if (json)
		fputs(l.n ? "\n]\n" : "]\n", stdout);
done:
	for (size_t i = 0; i < l.n; i++)
		free(l.v[i].name);
	free(l.v);
	store_reader_free(r);
	return rc;
}

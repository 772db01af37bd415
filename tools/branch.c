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
	git_oid	head;
};

static int
br_cmp(const void *a, const void *b)
{
	const struct br *x = a, *y = b;

	if (x->rank != y->rank)
		return x->rank - y->rank;
	return strcmp(x->name, y->name);
}

int
cmd_branch(const char *repo, int argc, char **argv)
{
	static const char *const kinds[] = { "primary", "expire", "other" };
	git_repository *r = NULL;
	git_branch_iterator *it = NULL;
	git_reference *ref;
	git_branch_t type;
	struct br *v = NULL;
	size_t n = 0, cap = 0;
	bool json = false;
	int ch, rc;

	if ((ch = tool_opts_json(argc, argv, "branch", help, &json)) >= 0)
		return ch;
	if (optind < argc)
		return tool_err(TOOL_EXIT_USAGE, "branch", "unexpected argument '%s' "
		    "(usage: branch [--json])", argv[optind]);
	if ((rc = tool_repo_open(&r, repo, "branch")) != 0)
		return rc;
	if (git_branch_iterator_new(&it, r, GIT_BRANCH_LOCAL) < 0) {
		rc = tool_err(TOOL_EXIT_FAIL, "branch", "cannot list branches");
		goto done;
	}
	while (git_branch_next(&ref, &type, it) == 0) {
		const char *name;
		git_reference *res = NULL;

		if (git_reference_resolve(&res, ref) < 0 ||
		    git_branch_name(&name, ref) < 0) {
			git_reference_free(ref);
			continue;
		}
		if (n == cap) {
			struct br *nv;

			cap = cap ? cap * 2 : 16;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL) {
				git_reference_free(res);
				git_reference_free(ref);
				rc = tool_err(TOOL_EXIT_FAIL, "branch", "out of memory");
				goto done;
			}
			v = nv;
		}
		v[n].name = strdup(name);
		v[n].rank = strcmp(name, "primary") == 0 ? 0 :
		    strncmp(name, "expire_", 7) == 0 ? 1 : 2;
		git_oid_cpy(&v[n].head, git_reference_target(res));
		n++;
		git_reference_free(res);
		git_reference_free(ref);
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), br_cmp);
	if (json)
		fputs("[", stdout);
	for (size_t i = 0; i < n; i++) {
		git_commit *c = NULL;
		char hex[GIT_OID_HEXSZ + 1], iso[32];
		const char *subj = "";

		if (git_commit_lookup(&c, r, &v[i].head) == 0)
			subj = git_commit_summary(c);
		git_oid_tostr(hex, sizeof(hex), &v[i].head);
		if (json) {
			fputs(i ? ",\n  {\"name\":" : "\n  {\"name\":", stdout);
			tool_json_str(stdout, v[i].name);
			printf(",\"kind\":\"%s\",\"head\":\"%s\",\"time\":\"%s\",\"subject\":",
			    kinds[v[i].rank], hex,
			    c ? tool_iso(iso, git_commit_time(c)) : "");
			tool_json_str(stdout, subj);
			fputs("}", stdout);
		} else {
			printf("%-7s %s %.12s %s\n", kinds[v[i].rank], v[i].name, hex, subj);
		}
		git_commit_free(c);
	}
	if (json)
		fputs(n ? "\n]\n" : "]\n", stdout);
done:
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
	git_branch_iterator_free(it);
	git_repository_free(r);
	return rc;
}

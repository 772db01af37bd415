/* SPDX-License-Identifier: ISC */
/*
 * gitnet log [REV] [--arp|--nat] [--json] [-- KEY]: the history of the
 * tables, of one table, or of one entry, newest first, each commit with its
 * cause trailers. A commit is listed when it changed what is asked for; a
 * merge only when its result differs from every parent (what the merge
 * itself decided), so a tick's removals show once, at "tick: age out".
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cmd.h"
#include "tools/tool.h"

static const char help[] =
"NAME\n"
"    gitnet log - history of the tables or of one entry\n"
"\n"
"SYNOPSIS\n"
"    gitnet [--repo DIR] log [REV] [--arp|--nat] [-n N] [--json] [-- KEY]\n"
"\n"
"DESCRIPTION\n"
"    Lists the commits reachable from REV (default primary), newest first\n"
"    (topological, then by time), one line each:\n"
"        <id:12> <UTC time> <subject>\n"
"    followed by the commit's Cause: and Conflict: trailers, indented by\n"
"    four spaces. With --arp, --nat or a KEY only the commits that changed\n"
"    that table or entry are listed; a merge is listed only when its result\n"
"    for it differs from every parent.\n"
"\n"
"OPTIONS\n"
"    --arp     only commits that changed the ARP table\n"
"    --nat     only commits that changed the NAT table\n"
"    -n N, --max-count N\n"
"              list at most N commits\n"
"    --json    a JSON array of {\"id\",\"time\",\"unix\",\"parents\",\n"
"              \"subject\",\"causes\",\"conflicts\"}\n"
"    -- KEY    only commits that changed one entry: arp/192.168.1/2,\n"
"              nat/udp/192.168.1/2/5000, or an address (192.168.1.2) for its\n"
"              ARP entry\n"
"    --help    this text\n"
"\n"
"EXIT STATUS\n"
"    0 listed (possibly nothing); 2 bad usage, a malformed KEY, an unknown\n"
"    revision or not a gitnet repository; 1 git failed.\n"
"\n"
"EXAMPLES\n"
"    gitnet log --arp\n"
"    gitnet log -- 192.168.1.1\n"
"    gitnet log expire_1429688374.601896 --json -- nat/tcp/10.0.0/2/51000\n";

struct log_walk {
	struct store_reader *r;
	const char	*key;		/* entry path, or NULL */
	unsigned	tables;
	bool		json, first;
	long		max, shown;
};

static int
log_one(void *arg, const struct store_commit *c)
{
	struct log_walk *l = arg;
	bool keep;

	if (l->max >= 0 && l->shown >= l->max)
		return 1;		/* enough: stop the walk */
	if (l->key != NULL)
		keep = store_touches(l->r, c, l->key);
	else if (l->tables != 0)
		keep = ((l->tables & TOOL_ARP) && store_touches(l->r, c, "arp")) ||
		    ((l->tables & TOOL_NAT) && store_touches(l->r, c, "nat"));
	else
		keep = true;
	if (keep && l->json) {
		fputs(l->first ? "\n  {" : ",\n  {", stdout);
		tool_commit_json(stdout, c);
		fputs("}", stdout);
	} else if (keep) {
		tool_commit_text(stdout, c);
	}
	l->first = l->first && !keep;
	l->shown += keep;
	return 0;
}

int
cmd_log(const char *repo, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "arp", no_argument, NULL, 'a' },
		{ "nat", no_argument, NULL, 'N' },
		{ "json", no_argument, NULL, 'j' },
		{ "max-count", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *rev = NULL, *key = NULL;
	unsigned tables = 0;
	bool json = false;
	struct store_reader *r = NULL;
	struct store_oid id;
	struct store_walk w = { .start = &id, .nstart = 1 };
	struct log_walk l = { .first = true };
	char path[256];
	long max = -1;
	char *end;
	int ch, rc, nargs = argc;

	/* Split at "--" ourselves: getopt would mix REV and KEY up. */
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			nargs = i;
			if (i + 2 != argc)
				return tool_err(TOOL_EXIT_USAGE, "log", "'--' takes one KEY");
			key = argv[i + 1];
			break;
		}
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(nargs, argv, "n:jh", opts, NULL)) != -1) {
		switch (ch) {
		case 'a':
			tables |= TOOL_ARP;
			break;
		case 'N':
			tables |= TOOL_NAT;
			break;
		case 'n':
			max = strtol(optarg, &end, 10);
			if (*end != '\0' || end == optarg || max < 0)
				return tool_err(TOOL_EXIT_USAGE, "log", "bad count '%s'", optarg);
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			fputs(help, stdout);
			return 0;
		default:
			return tool_badopt("log", argv);
		}
	}
	l.tables = tables;
	l.json = json;
	l.max = max;
	if (optind < nargs)
		rev = argv[optind++];
	if (optind < nargs)
		return tool_err(TOOL_EXIT_USAGE, "log", "unexpected argument '%s' "
		    "(usage: log [REV] [--arp|--nat] [--json] [-- KEY])", argv[optind]);
	if (key != NULL && tool_key_path(path, sizeof(path), key, "log") < 0)
		return TOOL_EXIT_USAGE;
	if ((rc = tool_repo_open(&r, repo, "log")) != 0)
		return rc;
	if ((rc = tool_resolve(&id, r, rev, "log")) != 0)
		goto done;
	l.r = r;
	l.key = key != NULL ? path : NULL;
	if (json)
		fputs("[", stdout);
	if (store_log(r, &w, log_one, &l) < 0)
		rc = tool_err(TOOL_EXIT_FAIL, "log", "%s", tool_storemsg());
	if (json)
		fputs(l.first ? "]\n" : "\n]\n", stdout);
done:
	store_reader_free(r);
	return rc;
}

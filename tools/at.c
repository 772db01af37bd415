/* SPDX-License-Identifier: ISC */
/*
 * gitnet at TIME [arp|nat] [--json]: the tables as of a wall-clock time,
 * with store_at_time()'s semantics (the last commit on primary's
 * first-parent line whose committer time is at or before TIME, at git's
 * second granularity), printed as `show` prints them with NAT timeouts
 * counted from TIME itself.
 */
#include <stdio.h>
#include <string.h>

#include "tools/cmd.h"
#include "tools/tool.h"

static const char help[] =
"NAME\n"
"    gitnet at - the tables as of a wall-clock time\n"
"\n"
"SYNOPSIS\n"
"    gitnet [--repo DIR] at TIME [arp|nat] [--json]\n"
"\n"
"DESCRIPTION\n"
"    Finds the last commit on primary's first-parent line (the router's own\n"
"    line: its commits and the merges of its expiry ticks) made at or before\n"
"    TIME, and prints the tables there as `gitnet show` does. Commit times\n"
"    have one-second granularity, as git records them. NAT timeouts are what\n"
"    was left at TIME. The commit used is named on stderr.\n"
"\n"
"    TIME is one of:\n"
"        2026-11-22T10:00:00Z   UTC, optionally with a fraction (.5)\n"
"        @1429688434.6          unix seconds\n"
"        -5min                  relative to now: -30s, -30sec, -5m, -5min,\n"
"                               -2h, -1d\n"
"\n"
"OPTIONS\n"
"    arp, nat  only that table\n"
"    --json    JSON, in the shapes of `gitnet show --json`\n"
"    --help    this text\n"
"\n"
"EXIT STATUS\n"
"    0 printed; 1 no commit that old, or git failed; 2 bad usage, a\n"
"    malformed TIME or not a gitnet repository.\n"
"\n"
"EXAMPLES\n"
"    gitnet at -5min arp\n"
"    gitnet at 2026-11-22T10:00:00Z nat --json\n"
"    gitnet at @1429688434.6\n";

int
cmd_at(const char *repo, int argc, char **argv)
{
	const char *when = NULL;
	unsigned tables = TOOL_BOTH;
	bool json = false, have_table = false;
	struct store_reader *r = NULL;
	struct store_oid id;
	uint64_t t;
	char hex[STORE_OID_HEXSZ + 1];
	int rc;

	/* By hand: "-5min" is a TIME, which getopt would take for options. */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--json") == 0)
			json = true;
		else if (strcmp(a, "--help") == 0) {
			fputs(help, stdout);
			return 0;
		} else if (a[0] == '-' && (a[1] < '0' || a[1] > '9'))
			return tool_err(TOOL_EXIT_USAGE, "at", "unknown option '%s' (see "
			    "gitnet help at)", a);
		else if (when == NULL)
			when = a;
		else if (!have_table && strcmp(a, "arp") == 0)
			tables = TOOL_ARP, have_table = true;
		else if (!have_table && strcmp(a, "nat") == 0)
			tables = TOOL_NAT, have_table = true;
		else
			return tool_err(TOOL_EXIT_USAGE, "at", "unexpected argument '%s' "
			    "(usage: at TIME [arp|nat] [--json])", a);
	}
	if (when == NULL)
		return tool_err(TOOL_EXIT_USAGE, "at", "missing TIME (usage: at TIME "
		    "[arp|nat] [--json])");
	if (tool_time_parse(&t, when, tool_now_us()) < 0)
		return tool_err(TOOL_EXIT_USAGE, "at", "malformed time '%s' (want "
		    "2026-11-22T10:00:00Z, @1429688434.6 or -5min)", when);
	if ((rc = tool_repo_open(&r, repo, "at")) != 0)
		return rc;
	if (store_at_time(&id, r, t) < 0) {
		rc = tool_err(TOOL_EXIT_FAIL, "at", "%s", tool_storemsg());
	} else {
		fprintf(stderr, "gitnet: at: commit %s\n", store_oid_fmt(hex, &id));
		rc = tool_show(r, &id, t, tables, json, NULL, "at");
	}
	store_reader_free(r);
	return rc;
}

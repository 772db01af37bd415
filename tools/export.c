/* SPDX-License-Identifier: ISC */
/*
 * gitnet export --json [REV]: the whole tables at a revision as one JSON
 * document, the commit named in it, entries in the objects of
 * `show --json`, NAT timeouts counted from the commit's time.
 */
#include <stdio.h>
#include <unistd.h>		/* optind */
#include <string.h>

#include "tools/cmd.h"
#include "tools/tool.h"

static const char help[] =
"NAME\n"
"    gitnet export - the whole tables as one JSON document\n"
"\n"
"SYNOPSIS\n"
"    gitnet [--repo DIR] export --json [REV]\n"
"\n"
"DESCRIPTION\n"
"    Writes the tables at REV (default primary) as one JSON object:\n"
"        {\"commit\":\"<id>\",\"time\":\"2026-11-22T10:00:00Z\",\n"
"         \"unix\":1795341600,\"schema\":\"gitnet-store 1\",\n"
"         \"arp\":[...],\"nat\":[...]}\n"
"    with entries in the objects of `gitnet show --json`. JSON is the only\n"
"    format; --json is accepted for symmetry with the other commands.\n"
"\n"
"OPTIONS\n"
"    --json    (default, the only format)\n"
"    --help    this text\n"
"\n"
"EXIT STATUS\n"
"    0 written; 1 an entry does not parse or git failed; 2 bad usage, an\n"
"    unknown revision or not a gitnet repository.\n"
"\n"
"EXAMPLES\n"
"    gitnet export --json > tables.json\n"
"    gitnet export --json primary~100 | jq '.nat | length'\n";

int
cmd_export(const char *repo, int argc, char **argv)
{
	const char *rev = NULL;
	bool json = true;		/* --json is accepted; JSON is all export writes */
	struct store_reader *r = NULL;
	struct store_commit *c = NULL;
	struct store_oid id;
	char hex[STORE_OID_HEXSZ + 1], iso[32], head[256];
	int ch, rc;

	if ((ch = tool_opts_json(argc, argv, "export", help, &json)) >= 0)
		return ch;
	if (optind < argc)
		rev = argv[optind++];
	if (optind < argc)
		return tool_err(TOOL_EXIT_USAGE, "export", "unexpected argument '%s' "
		    "(usage: export --json [REV])", argv[optind]);
	if ((rc = tool_repo_open(&r, repo, "export")) != 0)
		return rc;
	if ((rc = tool_resolve(&id, r, rev, "export")) != 0)
		goto done;
	if (store_commit_read(&c, r, &id) < 0) {
		rc = tool_err(TOOL_EXIT_FAIL, "export", "%s", tool_storemsg());
		goto done;
	}
	snprintf(head, sizeof(head), "\"commit\":\"%s\",\"time\":\"%s\","
	    "\"unix\":%lld,\"schema\":\"%s\",", store_oid_fmt(hex, &id),
	    tool_iso(iso, c->committer.time), (long long)c->committer.time, STORE_SCHEMA);
	rc = tool_show(r, &id, (uint64_t)c->committer.time * 1000000, TOOL_BOTH, true,
	    head, "export");
done:
	store_commit_free(c);
	store_reader_free(r);
	return rc;
}

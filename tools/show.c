/* SPDX-License-Identifier: ISC */
/*
 * gitnet show [REV] [arp|nat] [--json]: the tables at a revision, ARP in
 * the shape of `ip neigh`, NAT in the shape of `conntrack -L` (the store's
 * formatters own both shapes, store/format.c). NAT timeouts count from the commit's own time, so the
 * output of a commit never changes.
 */
#include <stdio.h>
#include <unistd.h>		/* optind */
#include <string.h>

#include "tools/cmd.h"
#include "tools/tool.h"

static const char help[] =
"NAME\n"
"    gitnet show - the ARP and NAT tables at a revision\n"
"\n"
"SYNOPSIS\n"
"    gitnet [--repo DIR] show [REV] [arp|nat] [--json]\n"
"\n"
"DESCRIPTION\n"
"    Prints the tables as they were at REV (default: primary). ARP entries\n"
"    read as `ip neigh` prints them, the lladdr only when it is known (not\n"
"    for INCOMPLETE or FAILED):\n"
"        10.0.0.2 dev inside lladdr 02:50:2a:16:6d:01 REACHABLE\n"
"    NAT mappings read as `conntrack -L` prints them, one line per remote\n"
"    endpoint of a mapping (a mapping with no remote yet shows 0.0.0.0:0):\n"
"        udp      17 29 src=192.168.1.2 dst=8.8.8.8 sport=5000 dport=53 \\\n"
"        src=8.8.8.8 dst=203.0.113.1 sport=53 dport=61001 [ASSURED] mark=0 use=1\n"
"    The timeout is what was left at the commit's own time. A remote that\n"
"    has sent nothing back is [UNREPLIED], one that has [ASSURED]; TCP\n"
"    lines carry conntrack's state name (SYN_SENT, ESTABLISHED, TIME_WAIT,\n"
"    CLOSE ...; NEW or TRANSITORY in repositories written before those).\n"
"    The router's control socket (`arp`, `nat`) prints the same lines:\n"
"    both print with the store's formatters.\n"
"    ARP entries come first, in path order (arp/<a.b.c>/<d>).\n"
"\n"
"OPTIONS\n"
"    REV       a revision as git reads it (primary, expire_..., a commit id,\n"
"              primary~3); default primary\n"
"    arp, nat  only that table\n"
"    --json    JSON instead: with both tables {\"arp\":[...],\"nat\":[...]},\n"
"              with one table its array. ARP objects as `ip -j neigh`:\n"
"              {\"dst\",\"dev\",\"lladdr\",\"state\":[\"REACHABLE\"],\"updated\",\n"
"              \"expires\",\"key\"}; NAT objects: {\"proto\",\"timeout\",\"inside\",\n"
"              \"external\",\"remotes\":[{\"ip\",\"port\",\"state\"}],\"created\",\n"
"              \"expires\",\"key\"}, a remote's state as stored (new, established,\n"
"              syn-sent unreplied, time-wait ...). Times are unix seconds,\n"
"              null for never.\n"
"    --help    this text\n"
"\n"
"EXIT STATUS\n"
"    0 printed; 1 an entry does not parse or git failed; 2 bad usage, an\n"
"    unknown revision or not a gitnet repository.\n"
"\n"
"EXAMPLES\n"
"    gitnet show\n"
"    gitnet --repo /var/lib/gitnet/state.git show primary~10 arp\n"
"    gitnet show expire_1429688374.601896 nat --json | jq '.[].external'\n";

/* Shared by show and at: "arp"/"nat" operands. */
static int
table_arg(unsigned *tables, const char *s)
{
	if (strcmp(s, "arp") == 0)
		*tables = TOOL_ARP;
	else if (strcmp(s, "nat") == 0)
		*tables = TOOL_NAT;
	else
		return -1;
	return 0;
}

int
cmd_show(const char *repo, int argc, char **argv)
{
	const char *rev = NULL;
	unsigned tables = TOOL_BOTH;
	bool json = false, have_table = false;
	struct store_reader *r = NULL;
	struct store_commit *c = NULL;
	struct store_oid id;
	int ch, rc;

	if ((ch = tool_opts_json(argc, argv, "show", help, &json)) >= 0)
		return ch;
	for (; optind < argc; optind++) {
		if (!have_table && table_arg(&tables, argv[optind]) == 0) {
			have_table = true;
		} else if (rev == NULL && !have_table) {
			rev = argv[optind];
		} else {
			return tool_err(TOOL_EXIT_USAGE, "show", "unexpected argument '%s' "
			    "(usage: show [REV] [arp|nat] [--json])", argv[optind]);
		}
	}
	if ((rc = tool_repo_open(&r, repo, "show")) != 0)
		return rc;
	if ((rc = tool_resolve(&id, r, rev, "show")) == 0) {
		if (store_commit_read(&c, r, &id) < 0)
			rc = tool_err(TOOL_EXIT_FAIL, "show", "%s", tool_storemsg());
		else
			rc = tool_show(r, &id, (uint64_t)c->committer.time * 1000000,
			    tables, json, NULL, "show");
	}
	store_commit_free(c);
	store_reader_free(r);
	return rc;
}

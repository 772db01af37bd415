/* SPDX-License-Identifier: ISC */
/*
 * gitnet diff A B [--json]: per-entry differences between the tables of
 * two revisions, in path order: an entry added (`+`), removed (`-`), or
 * changed field by field (`~ key field old -> new`). Subtrees equal on
 * both sides are skipped by git's tree diff, so the cost follows the
 * number of changed entries, not the table size. Both sides of every
 * changed entry are decoded, so a malformed entry is reported, not shown.
 */
#include <stdio.h>
#include <unistd.h>		/* optind */
#include <stdlib.h>
#include <string.h>

#include "tools/cmd.h"
#include "tools/tool.h"

static const char help[] =
"NAME\n"
"    gitnet diff - per-entry differences between two revisions\n"
"\n"
"SYNOPSIS\n"
"    gitnet [--repo DIR] diff A B [--json]\n"
"\n"
"DESCRIPTION\n"
"    Compares the ARP and NAT tables of revisions A and B and prints one\n"
"    line per added or removed entry and per changed field, in path order:\n"
"        + arp/10.0.0/2 expires ... learned-on inside lladdr ... state ...\n"
"        - nat/udp/192.168.1/2/5000 created ... external ... remote ...\n"
"        ~ arp/192.168.1/1 lladdr 02:50:2a:16:6d:01 -> 02:50:2a:16:6d:02\n"
"    A NAT remote is the field `remote ip:port` with its state as value;\n"
"    `-` stands for an absent side. Nothing is printed when the tables are\n"
"    equal.\n"
"\n"
"OPTIONS\n"
"    --json    a JSON array of {\"key\",\"op\":\"add\"|\"remove\"|\"change\",\n"
"              \"changes\":[{\"field\",\"old\",\"new\"}]} (null for absent)\n"
"    --help    this text\n"
"\n"
"EXIT STATUS\n"
"    0 compared (equal or not); 1 an entry does not parse or git failed;\n"
"    2 bad usage, an unknown revision or not a gitnet repository.\n"
"\n"
"EXAMPLES\n"
"    gitnet diff primary~10 primary\n"
"    gitnet diff primary peer --json | jq '.[] | select(.op == \"change\")'\n";

struct dctx {
	bool		json;
	bool		first;		/* first entry */
	bool		ffirst;		/* first field of the entry */
	const char	*path;
};

static void
field_cb(void *ctx, const char *field, const char *old, const char *new_)
{
	struct dctx *d = ctx;

	if (!d->json) {
		printf("~ %s %s %s -> %s\n", d->path, field, old ? old : "-",
		    new_ ? new_ : "-");
		return;
	}
	tool_json_field(stdout, d->ffirst, field, old, new_);
	d->ffirst = false;
}

/* One file that differs: decoded with the codec, then printed. */
static int
diff_one(void *arg, const char *path, const char *bo, size_t lo, const char *bn,
    size_t ln)
{
	struct dctx *d = arg;
	struct store_item eo, en;
	char joined[1024];
	const char *op;

	d->path = path;
	if ((bo != NULL && store_item_decode(&eo, path, bo, lo) < 0) ||
	    (bn != NULL && store_item_decode(&en, path, bn, ln) < 0))
		return tool_err(TOOL_EXIT_FAIL, "diff", "%s", tool_storemsg());
	op = bo == NULL ? "add" : bn == NULL ? "remove" : "change";
	if (d->json) {
		fputs(d->first ? "\n  {\"key\":" : ",\n  {\"key\":", stdout);
		tool_json_str(stdout, path);
		printf(",\"op\":\"%s\",\"changes\":[", op);
		d->ffirst = true;
		tool_fields_diff(bo, lo, bn, ln, field_cb, d);
		fputs("]}", stdout);
	} else if (bo == NULL || bn == NULL) {
		tool_fields_join(joined, sizeof(joined), bo ? bo : bn, bo ? lo : ln);
		printf("%c %s %s\n", bo ? '-' : '+', path, joined);
	} else {
		tool_fields_diff(bo, lo, bn, ln, field_cb, d);
	}
	d->first = false;
	return 0;
}

int
cmd_diff(const char *repo, int argc, char **argv)
{
	static const char *const tops[] = { "arp", "nat" };
	struct dctx d = { false, true, true, NULL };
	struct store_reader *r = NULL;
	struct store_oid a, b;
	int ch, rc;

	if ((ch = tool_opts_json(argc, argv, "diff", help, &d.json)) >= 0)
		return ch;
	if (argc - optind != 2)
		return tool_err(TOOL_EXIT_USAGE, "diff", "usage: diff A B [--json]");
	if ((rc = tool_repo_open(&r, repo, "diff")) != 0)
		return rc;
	if ((rc = tool_resolve(&a, r, argv[optind], "diff")) != 0 ||
	    (rc = tool_resolve(&b, r, argv[optind + 1], "diff")) != 0)
		goto done;
	if (d.json)
		fputs("[", stdout);
	for (size_t i = 0; i < 2 && rc == 0; i++)
		if ((rc = store_diff(r, &a, &b, tops[i], diff_one, &d)) < 0)
			rc = tool_err(TOOL_EXIT_FAIL, "diff", "%s", tool_storemsg());
	if (d.json && rc == 0)
		fputs(d.first ? "]\n" : "\n]\n", stdout);
done:
	store_reader_free(r);
	return rc;
}

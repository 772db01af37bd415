/* SPDX-License-Identifier: ISC */
/*
 * gitnet blame KEY [REV] [--json]: every commit that changed one entry,
 * oldest first, with its cause trailers and what it did to the entry
 * (added with its fields, removed, or field by field old -> new). Built
 * for ARP-spoofing forensics: when did 192.168.1.1 change MAC, and on
 * what evidence. Commits are chosen as `log -- KEY` chooses them; a
 * change is measured against the commit's first parent.
 */
#include <stdio.h>
#include <unistd.h>		/* optind */
#include <stdlib.h>
#include <string.h>

#include "tools/cmd.h"
#include "tools/tool.h"

static const char help[] =
"NAME\n"
"    gitnet blame - every change of one entry, with its cause\n"
"\n"
"SYNOPSIS\n"
"    gitnet [--repo DIR] blame KEY [REV] [--json]\n"
"\n"
"DESCRIPTION\n"
"    Lists the commits reachable from REV (default primary) that changed\n"
"    the entry KEY, oldest first. Each reads\n"
"        <id:12> <UTC time> <subject>\n"
"            Cause: <trailer>\n"
"            > arp: add 192.168.1.1 -> 02:50:2a:16:6d:01\n"
"            + expires ... learned-on ... lladdr ... state ... updated ...\n"
"            ~ lladdr 02:50:2a:16:6d:01 -> 02:50:2a:16:6d:02\n"
"            - removed\n"
"    `>` is the line of a batch commit's body that names the entry, `+`\n"
"    the entry as added, `~` one changed field (a NAT remote is the\n"
"    field `remote ip:port`, its state the value, `-` when absent), `-` a\n"
"    removal; each against the commit's first parent.\n"
"\n"
"    KEY is arp/192.168.1/2, nat/udp/192.168.1/2/5000, or an IPv4\n"
"    address for its ARP entry.\n"
"\n"
"OPTIONS\n"
"    --json    a JSON array of {\"id\",\"time\",\"unix\",\"parents\",\"subject\",\n"
"              \"causes\",\"conflicts\",\"lines\",\"op\":\"add\"|\"change\"|\"remove\",\n"
"              \"changes\":[{\"field\",\"old\",\"new\"}]} (null for absent)\n"
"    --help    this text\n"
"\n"
"EXIT STATUS\n"
"    0 listed (possibly nothing); 2 bad usage, a malformed KEY, an unknown\n"
"    revision or not a gitnet repository; 1 git failed.\n"
"\n"
"EXAMPLES\n"
"    gitnet blame 192.168.1.1\n"
"    gitnet blame nat/tcp/192.168.1/2/51000 --json | jq '.[].causes'\n";

/* The file's text at path in commit id, or NULL when absent. */
static char *
text_at(size_t *len, struct store_reader *r, const struct store_oid *id, const char *path)
{
	char *p = NULL;

	*len = 0;
	if (store_read_file(&p, len, NULL, r, id, path) != 0)
		return NULL;
	return p;
}

/*
 * The change line of a batch body that names this entry: "arp: <verb> IP
 * ..." or "nat: <verb> PROTO IP:PORT ...". want is "arp IP" or "nat PROTO
 * IP:PORT", built from the path by key_words().
 */
static void
key_words(char *buf, size_t cap, const char *path)
{
	char tmp[256], *last;

	snprintf(tmp, sizeof(tmp), "%s", path);
	if (strncmp(tmp, "arp/", 4) == 0) {
		if ((last = strrchr(tmp, '/')) != NULL)
			*last = '.';
		snprintf(buf, cap, "arp %s", tmp + 4);
		return;
	}
	/* nat/proto/a.b.c/d/port -> "nat proto a.b.c.d:port" */
	if ((last = strrchr(tmp, '/')) != NULL)
		*last = ':';
	if ((last = strrchr(tmp, '/')) != NULL)
		*last = '.';
	if ((last = strchr(tmp + 4, '/')) != NULL)
		*last = ' ';
	snprintf(buf, cap, "nat %s", tmp + 4);
}

static bool
line_names(const char *line, size_t len, const char *want)
{
	char l[512], table[8], verb[32], a[64], b[64];
	int n;

	if (len >= sizeof(l))
		return false;
	memcpy(l, line, len);
	l[len] = '\0';
	if (strncmp(want, "arp ", 4) == 0) {
		n = sscanf(l, "%7[a-z]: %31s %63s", table, verb, a);
		return n == 3 && strcmp(table, "arp") == 0 && strcmp(a, want + 4) == 0;
	}
	n = sscanf(l, "%7[a-z]: %31s %63s %63s", table, verb, a, b);
	if (n != 4 || strcmp(table, "nat") != 0)
		return false;
	snprintf(l, sizeof(l), "nat %s %s", a, b);
	return strcmp(l, want) == 0;
}

/* Print the body lines (not the subject) of msg that name the entry. */
static void
body_lines(const char *msg, const char *want, bool json)
{
	const char *p = strchr(msg, '\n'), *nl;
	bool first = true;

	for (p = p ? p + 1 : NULL; p != NULL && *p != '\0'; p = nl ? nl + 1 : NULL) {
		size_t len;

		nl = strchr(p, '\n');
		len = nl ? (size_t)(nl - p) : strlen(p);
		if (!line_names(p, len, want))
			continue;
		if (json) {
			char l[512];

			snprintf(l, sizeof(l), "%.*s", (int)len, p);
			fputs(first ? "" : ",", stdout);
			tool_json_str(stdout, l);
		} else {
			printf("    > %.*s\n", (int)len, p);
		}
		first = false;
	}
}

struct out {
	bool	json;
	bool	first;
};

static void
field_cb(void *ctx, const char *field, const char *old, const char *new_)
{
	struct out *o = ctx;

	if (!o->json) {
		printf("    ~ %s %s -> %s\n", field, old ? old : "-", new_ ? new_ : "-");
		return;
	}
	tool_json_field(stdout, o->first, field, old, new_);
	o->first = false;
}

static void
blame_one(struct store_reader *r, const struct store_commit *c, const char *path,
    bool json, bool first)
{
	size_t olen = 0, nlen = 0;
	char *old = NULL, *new_, joined[1024], want[300];
	const char *op;
	struct out o = { json, true };

	if (c->nparent > 0)
		old = text_at(&olen, r, &c->parent[0], path);
	new_ = text_at(&nlen, r, &c->id, path);
	op = old == NULL ? "add" : new_ == NULL ? "remove" : "change";
	key_words(want, sizeof(want), path);
	if (json) {
		fputs(first ? "\n  {" : ",\n  {", stdout);
		tool_commit_json(stdout, c);
		fputs(",\"lines\":[", stdout);
		body_lines(c->message, want, true);
		printf("],\"op\":\"%s\",\"changes\":[", op);
		tool_fields_diff(old, olen, new_, nlen, field_cb, &o);
		fputs("]}", stdout);
	} else {
		tool_commit_text(stdout, c);
		body_lines(c->message, want, false);
		if (old == NULL && new_ != NULL) {
			tool_fields_join(joined, sizeof(joined), new_, nlen);
			printf("    + %s\n", joined);
		} else if (new_ == NULL) {
			printf("    - removed\n");
		} else {
			tool_fields_diff(old, olen, new_, nlen, field_cb, &o);
		}
	}
	free(old);
	free(new_);
}

struct blame_walk {
	struct store_reader *r;
	const char	*path;
	bool		json;
	size_t		n;
};

static int
blame_commit(void *arg, const struct store_commit *c)
{
	struct blame_walk *b = arg;

	if (store_touches(b->r, c, b->path)) {
		blame_one(b->r, c, b->path, b->json, b->n == 0);
		b->n++;
	}
	return 0;
}

int
cmd_blame(const char *repo, int argc, char **argv)
{
	const char *rev = NULL, *key = NULL;
	bool json = false;
	struct store_reader *r = NULL;
	struct store_oid id;
	/* Oldest first: the walk itself is reversed. */
	struct store_walk w = { .start = &id, .nstart = 1, .flags = STORE_WALK_REVERSE };
	struct blame_walk b = { .path = NULL };
	char path[256];
	int ch, rc;

	if ((ch = tool_opts_json(argc, argv, "blame", help, &json)) >= 0)
		return ch;
	if (optind < argc)
		key = argv[optind++];
	if (optind < argc)
		rev = argv[optind++];
	if (key == NULL || optind < argc)
		return tool_err(TOOL_EXIT_USAGE, "blame", "usage: blame KEY [REV] [--json]");
	if (tool_key_path(path, sizeof(path), key, "blame") < 0)
		return TOOL_EXIT_USAGE;
	if ((rc = tool_repo_open(&r, repo, "blame")) != 0)
		return rc;
	if ((rc = tool_resolve(&id, r, rev, "blame")) != 0)
		goto done;
	b.r = r;
	b.path = path;
	b.json = json;
	if (json)
		fputs("[", stdout);
	if (store_log(r, &w, blame_commit, &b) < 0)
		rc = tool_err(TOOL_EXIT_FAIL, "blame", "%s", tool_storemsg());
	if (json)
		fputs(b.n == 0 ? "]\n" : "\n]\n", stdout);
done:
	store_reader_free(r);
	return rc;
}

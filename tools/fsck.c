/* SPDX-License-Identifier: ISC */
/*
 * gitnet fsck [--tolerance SECONDS]: gitnet-level checks beyond git's own
 * (run `git fsck` for object integrity). On every branch head: the tree
 * holds only meta/, arp/, nat/ and conflicts/, every entry path and file
 * decodes with the store's codec, and the NAT invariant holds (one
 * proto + external ip:port names one inside endpoint). On primary: no
 * entry that expired before the last expiry tick (by more than the
 * tolerance) is still there, since that tick should have removed it.
 * Each finding is one line on stdout, "<branch>: <path>: <problem>";
 * any finding makes the exit status 1.
 */
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cmd.h"
#include "tools/tool.h"

static const char help[] =
"NAME\n"
"    gitnet fsck - check a state repository at the table level\n"
"\n"
"SYNOPSIS\n"
"    gitnet [--repo DIR] fsck [--tolerance SECONDS]\n"
"\n"
"DESCRIPTION\n"
"    Checks what `git fsck` cannot know:\n"
"      - meta/schema is present and reads \"gitnet-store 1\" (otherwise the\n"
"        repository is refused as not a gitnet store, exit 2);\n"
"      - on every branch head, the top level holds only meta/, arp/, nat/\n"
"        and conflicts/, and every entry under arp/ and nat/ has a valid\n"
"        path and a file that decodes (keys, values, sorted lines);\n"
"      - on every branch head, no two NAT mappings share a protocol and\n"
"        external ip:port (the translation would be ambiguous);\n"
"      - on primary, no entry expired before the time of the last expiry\n"
"        tick (named by its \"tick: merge expire_<unix.usec>\" commit on the\n"
"        first-parent line) by more than the tolerance: that tick should\n"
"        have removed it.\n"
"    Each finding is one line on stdout: <branch>: <path>: <problem>. A\n"
"    summary goes to stderr.\n"
"\n"
"OPTIONS\n"
"    --tolerance SECONDS  slack for the expiry check (default 1)\n"
"    --help               this text\n"
"\n"
"EXIT STATUS\n"
"    0 no finding; 1 at least one finding (or git failed); 2 bad usage or\n"
"    not a gitnet repository.\n"
"\n"
"EXAMPLES\n"
"    gitnet fsck && git --git-dir=state.git fsck --strict\n"
"    gitnet --repo /var/lib/gitnet/state.git fsck --tolerance 5\n";

struct ext {
	uint8_t		proto;
	uint32_t	ip;
	uint16_t	port;
	char		path[64];
};

struct fctx {
	const char	*branch;
	bool		expiry;		/* check expiry (primary with a tick) */
	uint64_t	tick_us, tol_us;
	struct ext	*ext;
	size_t		n, cap;
	unsigned	findings, narp, nnat;
};

static int
bad_cb(void *ctx, const char *path, const char *msg)
{
	struct fctx *f = ctx;
	const char *p = strstr(msg, path);

	/* The codec's message repeats "store: <path>: "; keep what follows. */
	if (p != NULL && p[strlen(path)] == ':')
		msg = p + strlen(path) + 2;
	printf("%s: %s: %s\n", f->branch, path, msg);
	f->findings++;
	return 0;
}

static int
entry_cb(void *ctx, const struct store_item *te)
{
	struct fctx *f = ctx;
	uint64_t exp;
	char a[24], b[24];

	if (te->e.table == EV_TABLE_ARP) {
		f->narp++;
		exp = te->e.arp.expires_us;
	} else {
		f->nnat++;
		exp = te->e.nat.expires_us;
		if (f->n == f->cap) {
			struct ext *nv;

			f->cap = f->cap ? f->cap * 2 : 256;
			if ((nv = realloc(f->ext, f->cap * sizeof(*nv))) == NULL)
				return tool_err(TOOL_EXIT_FAIL, "fsck", "out of memory");
			f->ext = nv;
		}
		f->ext[f->n].proto = te->e.nat.proto;
		f->ext[f->n].ip = te->e.nat.ext_ip;
		f->ext[f->n].port = te->e.nat.ext_port;
		snprintf(f->ext[f->n].path, sizeof(f->ext[f->n].path), "%s", te->path);
		f->n++;
	}
	if (f->expiry && exp != 0 && exp + f->tol_us < f->tick_us) {
		printf("%s: %s: expired at %s, still present after the tick at %s\n",
		    f->branch, te->path, store_time_fmt(a, exp),
		    store_time_fmt(b, f->tick_us));
		f->findings++;
	}
	return 0;
}

static int
ext_cmp(const void *x, const void *y)
{
	const struct ext *a = x, *b = y;

	if (a->proto != b->proto)
		return a->proto - b->proto;
	if (a->ip != b->ip)
		return a->ip < b->ip ? -1 : 1;
	if (a->port != b->port)
		return a->port - b->port;
	return strcmp(a->path, b->path);
}

/* The time of the last "tick: merge expire_<t>" on primary's own line. */
struct tick_find {
	uint64_t	t_us;
	bool		found;
};

static int
tick_cb(void *arg, const struct store_commit *c)
{
	struct tick_find *t = arg;
	unsigned long long s, u;
	int n = 0;

	if (sscanf(c->summary, "tick: merge expire_%llu.%6llu%n", &s, &u, &n) == 2 &&
	    n > 0) {
		t->t_us = (uint64_t)s * 1000000 + (uint64_t)u;
		t->found = true;
		return 1;	/* found: stop */
	}
	return 0;
}

static bool
last_tick(uint64_t *t_us, struct store_reader *r, const struct store_oid *head)
{
	struct store_walk w = { .start = head, .nstart = 1,
	    .flags = STORE_WALK_FIRST_PARENT };
	struct tick_find t = { 0, false };

	if (store_log(r, &w, tick_cb, &t) < 0 || !t.found)
		return false;
	*t_us = t.t_us;
	return true;
}

static int
top_cb(void *arg, const char *name, unsigned mode)
{
	static const char *const ok[] = { "meta", "arp", "nat", "conflicts" };
	struct fctx *f = arg;
	bool known = false;

	for (size_t k = 0; k < 4; k++)
		known = known || strcmp(name, ok[k]) == 0;
	if (!known || mode != STORE_MODE_DIR) {
		printf("%s: %s: not part of a gitnet store\n", f->branch, name);
		f->findings++;
	}
	return 0;
}

static void
top_check(struct fctx *f, struct store_reader *r, const struct store_oid *head)
{
	if (store_list(r, head, "", top_cb, f) < 0) {
		printf("%s: cannot read the head commit's tree\n", f->branch);
		f->findings++;
	}
}

static int
check_branch(struct fctx *f, struct store_reader *r, const char *name,
    const struct store_oid *head)
{
	int rc;

	f->branch = name;
	f->n = 0;
	f->expiry = strcmp(name, "primary") == 0 && last_tick(&f->tick_us, r, head);
	top_check(f, r, head);
	if ((rc = tool_load(r, head, TOOL_BOTH, entry_cb, bad_cb, f, "fsck")) != 0)
		return rc;
	if (f->n > 1)
		qsort(f->ext, f->n, sizeof(*f->ext), ext_cmp);
	for (size_t i = 1; i < f->n; i++) {
		const struct ext *a = &f->ext[i - 1], *b = &f->ext[i];
		char ip[16];

		if (a->proto != b->proto || a->ip != b->ip || a->port != b->port)
			continue;
		printf("%s: %s: external %s %s:%u also mapped by %s\n", name, b->path,
		    ip_proto_name(b->proto), ipv4_ntop(b->ip, ip), b->port, a->path);
		f->findings++;
	}
	return 0;
}

struct fsck_walk {
	struct fctx	*f;
	struct store_reader *r;
	unsigned	nbr;
};

static int
branch_cb(void *arg, const char *ref, const struct store_oid *head, bool peeled)
{
	struct fsck_walk *w = arg;

	(void)peeled;
	if (head == NULL) {
		printf("%s: branch does not resolve\n", ref);
		w->f->findings++;
		return 0;
	}
	w->nbr++;
	return check_branch(w->f, w->r, ref + strlen("refs/heads/"), head);
}

int
cmd_fsck(const char *repo, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tolerance", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct fctx f = { 0 };
	struct store_reader *r = NULL;
	struct fsck_walk w = { &f, NULL, 0 };
	double tol = 1;
	char *end;
	int ch, rc;

	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "t:h", opts, NULL)) != -1) {
		switch (ch) {
		case 't':
			tol = strtod(optarg, &end);
			if (*end != '\0' || end == optarg || tol < 0 || tol > 1e9)
				return tool_err(TOOL_EXIT_USAGE, "fsck", "bad tolerance '%s' "
				    "(seconds)", optarg);
			break;
		case 'h':
			fputs(help, stdout);
			return 0;
		default:
			return tool_badopt("fsck", argv);
		}
	}
	if (optind < argc)
		return tool_err(TOOL_EXIT_USAGE, "fsck", "unexpected argument '%s' "
		    "(usage: fsck [--tolerance SECONDS])", argv[optind]);
	f.tol_us = (uint64_t)(tol * 1e6);
	if ((rc = tool_repo_open(&r, repo, "fsck")) != 0)
		return rc;
	w.r = r;
	if ((rc = store_refs(r, "refs/heads/*", branch_cb, &w)) < 0)
		rc = tool_err(TOOL_EXIT_FAIL, "fsck", "%s", tool_storemsg());
	if (rc == 0) {
		fprintf(stderr, "gitnet: fsck: %u branches, %u arp and %u nat entries "
		    "checked, %u finding%s\n", w.nbr, f.narp, f.nnat, f.findings,
		    f.findings == 1 ? "" : "s");
		rc = f.findings ? TOOL_EXIT_FAIL : 0;
	}
	free(f.ext);
	store_reader_free(r);
	return rc;
}

/* SPDX-License-Identifier: ISC */
/*
 * Read-only access to a state repository for the tool: opening it (and
 * refusing what is not a gitnet store), resolving revisions, walking the
 * tables of a commit, and the per-path history helpers log and blame use.
 *
 * Invariants: libgit2 only reads here (no lock, no ref or object writes), so
 * a router may commit to the same repository meanwhile; entries are decoded
 * with the store's own codec (store_entry_decode), so the tool accepts
 * exactly what the store writes. The ARP interface is kept as written in
 * the entry (learned-on): the tool has no interface table.
 */
#include <stdarg.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tools/tool.h"

int
tool_err(int code, const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "gitnet: %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

const char *
tool_gitmsg(void)
{
	const git_error *e = git_error_last();

	return e && e->message ? e->message : "unknown error";
}

int
tool_repo_open(git_repository **out, const char *path, const char *cmd)
{
	git_repository *r = NULL;
	git_reference *ref = NULL;
	git_commit *c = NULL;
	git_tree *t = NULL;
	git_tree_entry *te = NULL;
	git_blob *b = NULL;
	struct stat sb;
	int rc = TOOL_EXIT_USAGE;

	*out = NULL;
	if (stat(path, &sb) < 0)
		return tool_err(TOOL_EXIT_USAGE, cmd, "no repository at '%s'", path);
	if (git_repository_open_ext(&r, path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0)
		return tool_err(TOOL_EXIT_USAGE, cmd, "'%s' is not a git repository",
		    path);
	if (git_reference_lookup(&ref, r, "refs/heads/primary") < 0 ||
	    git_commit_lookup(&c, r, git_reference_target(ref)) < 0 ||
	    git_commit_tree(&t, c) < 0) {
		tool_err(rc, cmd, "'%s' is not a gitnet store (no branch primary)", path);
		goto done;
	}
	if (git_tree_entry_bypath(&te, t, "meta/schema") < 0 ||
	    git_blob_lookup(&b, r, git_tree_entry_id(te)) < 0) {
		tool_err(rc, cmd, "'%s' is not a gitnet store (no meta/schema)", path);
		goto done;
	}
	if ((size_t)git_blob_rawsize(b) != strlen(STORE_SCHEMA) + 1 ||
	    memcmp(git_blob_rawcontent(b), STORE_SCHEMA "\n",
	    strlen(STORE_SCHEMA) + 1) != 0) {
		tool_err(rc, cmd, "'%s': unknown schema (this tool reads '%s')", path,
		    STORE_SCHEMA);
		goto done;
	}
	*out = r;
	r = NULL;
	rc = 0;
done:
	git_blob_free(b);
	git_tree_entry_free(te);
	git_tree_free(t);
	git_commit_free(c);
	git_reference_free(ref);
	git_repository_free(r);
	return rc;
}

int
tool_resolve(git_oid *out, git_repository *r, const char *rev, const char *cmd)
{
	git_object *o = NULL, *p = NULL;

	if (rev == NULL)
		rev = "primary";
	if (git_revparse_single(&o, r, rev) < 0)
		return tool_err(TOOL_EXIT_USAGE, cmd, "unknown revision '%s'", rev);
	if (git_object_peel(&p, o, GIT_OBJECT_COMMIT) < 0) {
		git_object_free(o);
		return tool_err(TOOL_EXIT_USAGE, cmd, "'%s' does not name a commit", rev);
	}
	git_oid_cpy(out, git_object_id(p));
	git_object_free(p);
	git_object_free(o);
	return 0;
}

/* The learned-on value as written, so `dev inside` survives without ifnames. */
static void
dev_of(char dev[32], const char *text, size_t len)
{
	const char *p = text, *end = text + len, *nl;

	dev[0] = '\0';
	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if ((size_t)(nl - p) > 11 && memcmp(p, "learned-on ", 11) == 0) {
			size_t n = (size_t)(nl - p) - 11;

			if (n > 31)
				n = 31;
			memcpy(dev, p + 11, n);
			dev[n] = '\0';
			return;
		}
	}
}

static int
decode(struct tool_entry *te, const char *path, const char *text, size_t len)
{
	te->path = path;
	te->text = text;
	te->len = len;
	if (store_entry_decode(&te->e, path, text, len, NULL, 0) < 0)
		return -1;
	if (te->e.table == EV_TABLE_ARP)
		dev_of(te->dev, text, len);
	else
		te->dev[0] = '\0';
	return 0;
}

int
tool_entry_read(struct tool_entry *te, char **buf, git_repository *r,
    const git_oid *blob, const char *path, const char *cmd)
{
	git_blob *b;
	size_t len;

	*buf = NULL;
	if (git_blob_lookup(&b, r, blob) < 0)
		return tool_err(TOOL_EXIT_FAIL, cmd, "%s: %s", path, tool_gitmsg());
	len = (size_t)git_blob_rawsize(b);
	if ((*buf = malloc(len + 1)) == NULL) {
		git_blob_free(b);
		return tool_err(TOOL_EXIT_FAIL, cmd, "out of memory");
	}
	memcpy(*buf, git_blob_rawcontent(b), len);
	(*buf)[len] = '\0';
	git_blob_free(b);
	if (decode(te, path, *buf, len) < 0)
		return tool_err(TOOL_EXIT_FAIL, cmd, "%s", store_strerror());
	return 0;
}

struct walk {
	git_repository	*r;
	const char	*top;
	tool_entry_fn	fn;
	tool_bad_fn	bad;
	void		*ctx;
	const char	*cmd;
	int		rc;
};

static int
walk_cb(const char *root, const git_tree_entry *e, void *payload)
{
	struct walk *w = payload;
	struct tool_entry te;
	char path[256];
	git_blob *b;
	int rc;

	if (git_tree_entry_type(e) != GIT_OBJECT_BLOB)
		return 0;
	snprintf(path, sizeof(path), "%s/%s%s", w->top, root, git_tree_entry_name(e));
	if (git_blob_lookup(&b, w->r, git_tree_entry_id(e)) < 0) {
		w->rc = tool_err(TOOL_EXIT_FAIL, w->cmd, "%s: %s", path, tool_gitmsg());
		return -1;
	}
	if (decode(&te, path, git_blob_rawcontent(b), (size_t)git_blob_rawsize(b)) < 0) {
		if (w->bad != NULL)
			rc = w->bad(w->ctx, path, store_strerror());
		else
			rc = tool_err(TOOL_EXIT_FAIL, w->cmd, "%s", store_strerror());
	} else {
		rc = w->fn(w->ctx, &te);
	}
	git_blob_free(b);
	if (rc != 0) {
		w->rc = rc;
		return -1;
	}
	return 0;
}

int
tool_load(git_repository *r, const git_oid *commit, unsigned tables,
    tool_entry_fn fn, tool_bad_fn bad, void *ctx, const char *cmd)
{
	static const char *const tops[] = { "arp", "nat" };
	git_commit *c = NULL;
	git_tree *t = NULL;
	struct walk w = { r, NULL, fn, bad, ctx, cmd, 0 };

	if (git_commit_lookup(&c, r, commit) < 0 || git_commit_tree(&t, c) < 0) {
		git_commit_free(c);
		return tool_err(TOOL_EXIT_FAIL, cmd, "%s", tool_gitmsg());
	}
	for (unsigned i = 0; i < 2 && w.rc == 0; i++) {
		git_tree_entry *te = NULL;
		git_tree *sub = NULL;

		if (!(tables & (1u << i)))
			continue;
		if (git_tree_entry_bypath(&te, t, tops[i]) < 0)
			continue;	/* an empty table has no tree */
		if (git_tree_entry_type(te) != GIT_OBJECT_TREE ||
		    git_tree_lookup(&sub, r, git_tree_entry_id(te)) < 0) {
			w.rc = tool_err(TOOL_EXIT_FAIL, cmd, "%s/ is not a tree", tops[i]);
		} else {
			w.top = tops[i];
			if (git_tree_walk(sub, GIT_TREEWALK_PRE, walk_cb, &w) < 0 &&
			    w.rc == 0)
				w.rc = tool_err(TOOL_EXIT_FAIL, cmd, "%s", tool_gitmsg());
		}
		git_tree_free(sub);
		git_tree_entry_free(te);
	}
	git_tree_free(t);
	git_commit_free(c);
	return w.rc;
}

int
tool_key_path(char *buf, size_t cap, const char *key, const char *cmd)
{
	struct store_entry e;
	unsigned a, b, c, d;
	char tail;

	if (strncmp(key, "arp/", 4) == 0 || strncmp(key, "nat/", 4) == 0) {
		/* The codec's strict parser: an invalid path is no key. */
		if (store_entry_decode(&e, key, "", 0, NULL, 0) == STORE_EPARSE &&
		    strstr(store_strerror(), "not an entry path") != NULL)
			return tool_err(-1, cmd, "'%s' is not an entry key", key);
		snprintf(buf, cap, "%s", key);
		return 0;
	}
	if (sscanf(key, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) == 4 &&
	    a < 256 && b < 256 && c < 256 && d < 256) {
		snprintf(buf, cap, "arp/%u.%u.%u/%u", a, b, c, d);
		return 0;
	}
	return tool_err(-1, cmd, "'%s' is not an entry key (arp/a.b.c/d, "
	    "nat/proto/a.b.c/d/port or an IPv4 address)", key);
}

int
tool_path_id(git_oid *out, git_repository *r, const git_commit *c, const char *path)
{
	git_tree *t = NULL;
	git_tree_entry *te = NULL;
	int rc = 1;

	if (git_commit_tree(&t, c) < 0)
		return 1;
	if (git_tree_entry_bypath(&te, t, path) == 0) {
		git_oid_cpy(out, git_tree_entry_id(te));
		rc = 0;
	}
	(void)r;
	git_tree_entry_free(te);
	git_tree_free(t);
	return rc;
}

/*
 * A history walk asks for each commit's path id twice (as a commit, then as
 * its child's parent): a few recent answers, by tree id, halve the tree
 * reads. Process-wide and single-threaded, as the tool is.
 */
#define PATH_CACHE	8

static struct {
	git_oid	tree, id;
	char	path[128];
	int	rc;
	bool	used;
} path_cache[PATH_CACHE];
static unsigned path_cache_next;

static int
path_id_cached(git_oid *out, git_repository *r, const git_commit *c, const char *path)
{
	const git_oid *t = git_commit_tree_id(c);
	unsigned i;
	int rc;

	for (i = 0; i < PATH_CACHE; i++)
		if (path_cache[i].used && git_oid_equal(&path_cache[i].tree, t) &&
		    strcmp(path_cache[i].path, path) == 0) {
			git_oid_cpy(out, &path_cache[i].id);
			return path_cache[i].rc;
		}
	rc = tool_path_id(out, r, c, path);
	if (strlen(path) < sizeof(path_cache[0].path)) {
		i = path_cache_next++ % PATH_CACHE;
		git_oid_cpy(&path_cache[i].tree, t);
		git_oid_cpy(&path_cache[i].id, rc == 0 ? out : t);
		snprintf(path_cache[i].path, sizeof(path_cache[i].path), "%s", path);
		path_cache[i].rc = rc;
		path_cache[i].used = true;
	}
	return rc;
}

static bool
same_at(git_repository *r, const git_commit *a, const git_commit *b, const char *path)
{
	git_oid x, y;
	int ha, hb;

	if (path == NULL)
		return git_oid_equal(git_commit_tree_id(a), git_commit_tree_id(b));
	if (git_oid_equal(git_commit_tree_id(a), git_commit_tree_id(b)))
		return true;
	ha = path_id_cached(&x, r, a, path);
	hb = path_id_cached(&y, r, b, path);
	if (ha != hb)
		return false;
	return ha == 1 || git_oid_equal(&x, &y);
}

bool
tool_touches(git_repository *r, const git_commit *c, const char *path)
{
	unsigned n = git_commit_parentcount(c);
	bool touched = true;
	git_oid id;

	if (n == 0)
		return path == NULL || tool_path_id(&id, r, c, path) == 0;
	for (unsigned i = 0; i < n && touched; i++) {
		git_commit *p;

		if (git_commit_parent(&p, c, i) < 0)
			continue;
		if (same_at(r, c, p, path))
			touched = false;
		git_commit_free(p);
	}
	return touched;
}

/* The i-th field of text: key (with a remote's endpoint) and value. */
struct field {
	char	key[160];
	char	val[160];
};

static size_t
fields_parse(struct field *f, size_t max, const char *text, size_t len)
{
	const char *p = text, *end = text + len, *nl;
	size_t n = 0;

	for (; text != NULL && p < end && n < max; p = nl + 1) {
		char line[160], *sp;
		size_t l;

		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		l = (size_t)(nl - p) < sizeof(line) - 1 ? (size_t)(nl - p) : sizeof(line) - 1;
		memcpy(line, p, l);
		line[l] = '\0';
		if ((sp = strchr(line, ' ')) == NULL)
			continue;
		if (strncmp(line, "remote ", 7) == 0 && (sp = strchr(sp + 1, ' ')) == NULL)
			continue;
		*sp++ = '\0';
		snprintf(f[n].key, sizeof(f[n].key), "%s", line);
		snprintf(f[n].val, sizeof(f[n].val), "%s", sp);
		n++;
	}
	return n;
}

void
tool_fields_diff(const char *a, size_t alen, const char *b, size_t blen,
    tool_field_fn fn, void *ctx)
{
	struct field fa[16], fb[16];
	size_t na = fields_parse(fa, 16, a, alen), nb = fields_parse(fb, 16, b, blen);
	bool seen[16] = { false };

	/* Both sides are sorted key lines: report in a's order, then b's new. */
	for (size_t i = 0; i < na; i++) {
		size_t j;

		for (j = 0; j < nb && strcmp(fa[i].key, fb[j].key) != 0; j++)
			;
		if (j == nb) {
			fn(ctx, fa[i].key, fa[i].val, NULL);
			continue;
		}
		seen[j] = true;
		if (strcmp(fa[i].val, fb[j].val) != 0)
			fn(ctx, fa[i].key, fa[i].val, fb[j].val);
	}
	for (size_t j = 0; j < nb; j++)
		if (!seen[j])
			fn(ctx, fb[j].key, NULL, fb[j].val);
}

void
tool_fields_join(char *buf, size_t cap, const char *text, size_t len)
{
	size_t n = 0;

	if (cap == 0)
		return;
	for (size_t i = 0; i < len && n + 1 < cap; i++) {
		if (text[i] == '\n' && i + 1 == len)
			break;
		buf[n++] = text[i] == '\n' ? ' ' : text[i];
	}
	buf[n] = '\0';
}

void
tool_trailers(const char *msg, void (*fn)(void *ctx, const char *line), void *ctx)
{
	const char *p = msg, *nl;
	char line[512];

	for (; p != NULL && *p != '\0'; p = nl ? nl + 1 : NULL) {
		size_t l;

		nl = strchr(p, '\n');
		l = nl ? (size_t)(nl - p) : strlen(p);
		if (l >= sizeof(line))
			l = sizeof(line) - 1;
		if (strncmp(p, "Cause: ", 7) != 0 && strncmp(p, "Conflict: ", 10) != 0)
			continue;
		memcpy(line, p, l);
		line[l] = '\0';
		fn(ctx, line);
	}
}

uint64_t
tool_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* "sec[.frac]" into microseconds; -1 on anything else. */
static int
secs_parse(uint64_t *us, const char *s)
{
	uint64_t sec = 0, frac = 0, scale = 100000;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (sec > 1000000000000ULL)
			return -1;
		sec = sec * 10 + (uint64_t)(*p - '0');
	}
	if (*p == '.') {
		if (p[1] < '0' || p[1] > '9')
			return -1;
		for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
			if (scale > 0)
				frac += (uint64_t)(*p - '0') * scale;
	}
	if (*p != '\0')
		return -1;
	*us = sec * 1000000 + frac;
	return 0;
}

int
tool_time_parse(uint64_t *us, const char *s, uint64_t now_us)
{
	static const struct { const char *u; uint64_t mul; } units[] = {
		{ "s", 1 }, { "sec", 1 }, { "m", 60 }, { "min", 60 },
		{ "h", 3600 }, { "d", 86400 },
	};
	struct tm tm;
	const char *p;
	char *end;
	uint64_t v, frac = 0;

	if (s[0] == '@')
		return secs_parse(us, s + 1);
	if (s[0] == '-') {
		unsigned long long n;

		if (s[1] < '0' || s[1] > '9')
			return -1;
		n = strtoull(s + 1, &end, 10);
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (strcmp(end, units[i].u) == 0) {
				if (n > now_us / 1000000 / units[i].mul)
					return -1;
				*us = now_us - (uint64_t)n * units[i].mul * 1000000;
				return 0;
			}
		return -1;
	}
	memset(&tm, 0, sizeof(tm));
	if ((p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL)
		return -1;
	if (*p == '.') {
		uint64_t scale = 100000;

		if (p[1] < '0' || p[1] > '9')
			return -1;
		for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
			if (scale > 0)
				frac += (uint64_t)(*p - '0') * scale;
	}
	if (strcmp(p, "Z") != 0 && strcmp(p, "+00:00") != 0)
		return -1;
	{
		time_t t = timegm(&tm);

		if (t < 0)
			return -1;
		v = (uint64_t)t;
	}
	*us = v * 1000000 + frac;
	return 0;
}

int
tool_badopt(const char *cmd, char **argv)
{
	if (optopt != 0 && argv[optind - 1][1] != '-')
		return tool_err(TOOL_EXIT_USAGE, cmd, "unknown option '-%c' or missing "
		    "argument (see gitnet help %s)", optopt, cmd);
	return tool_err(TOOL_EXIT_USAGE, cmd, "unknown option '%s' or missing "
	    "argument (see gitnet help %s)", argv[optind - 1], cmd);
}

int
tool_opts_json(int argc, char **argv, const char *cmd, const char *help, bool *json)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			*json = true;
			break;
		case 'h':
			fputs(help, stdout);
			return 0;
		default:
			return tool_badopt(cmd, argv);
		}
	}
	return -1;
}

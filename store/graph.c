/* SPDX-License-Identifier: ISC */
/*
 * First-parent lines of history, fast: what a time query (gitnet at,
 * gitnet who) walks. A day of a router's history is some 260 k commits
 * on primary's first-parent line (a group commit and a tick merge a
 * second); walking them through libgit2 (a lookup, an inflate and a parse
 * per commit) takes about a second.
 *
 * Two sources, best first:
 *
 *  - the commit-graph file, objects/info/commit-graph, git's own format
 *    (Documentation/gitformat-commit-graph): per commit, sorted by id, its
 *    tree, parents (as positions in the file), generation number and
 *    committer time. Stock `git commit-graph write` and `git gc` write it;
 *    store_graph_write() writes it for the store (version 1, chunks OIDF,
 *    OIDL, CDAT, topological levels as generations; not libgit2 1.5's
 *    writer, whose generation numbers `git commit-graph verify` rejects).
 *    A step along the line is an array lookup. The file is read in place (mmap), checked for its
 *    shape (chunk offsets and sizes, positions in range), not for its
 *    trailing checksum: the facts in it are about commits, which are
 *    named by their hash, so a graph older than the history is still
 *    right for what it covers; commits newer than it are read from the
 *    objects.
 *  - the commit objects themselves, read raw through the store's object
 *    layer (store_odb_get: the writer's pending commits too) and parsed
 *    for their tree, parents and committer time only.
 *
 * History may be cut (retention, a shallow clone): a commit listed in the
 * git directory's `shallow` file, or whose first parent's object is
 * missing, ends the line as a root would. A split graph
 * (objects/info/commit-graphs/) is not read; the objects serve then.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "repo.h"

#define GRAPH_NONE	0x70000000u	/* no parent */
#define GRAPH_EXTRA	0x80000000u	/* second parent: index into EDGE */
#define GRAPH_LAST	0x80000000u	/* EDGE: the last parent of a commit */
#define CDAT_SIZE	(GIT_OID_RAWSZ + 16)

struct cgraph {
	uint8_t		*map;
	size_t		size;
	const uint8_t	*fanout, *oids, *cdat, *edge;
	uint32_t	n, nedge;
};

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t
be64(const uint8_t *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

static void
cgraph_close(struct cgraph *g)
{
	if (g->map != NULL)
		munmap(g->map, g->size);
	memset(g, 0, sizeof(*g));
}

/* Map gitdir/objects/info/commit-graph: 0, or 1 when absent or unusable. */
static int
cgraph_open(struct cgraph *g, const char *gitdir)
{
	char path[4200];
	struct stat sb;
	uint64_t off[64];
	uint32_t id[64];
	unsigned nchunk;
	int fd;

	memset(g, 0, sizeof(*g));
	snprintf(path, sizeof(path), "%sobjects/info/commit-graph", gitdir);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 1;
	if (fstat(fd, &sb) < 0 || sb.st_size < 8 + 12 + GIT_OID_RAWSZ) {
		close(fd);
		return 1;
	}
	g->size = (size_t)sb.st_size;
	g->map = mmap(NULL, g->size, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
	close(fd);
	if (g->map == MAP_FAILED) {
		g->map = NULL;
		return 1;
	}
	/* "CGPH", version 1, hash version 1 (SHA-1), chunks, no base graphs. */
	if (memcmp(g->map, "CGPH", 4) != 0 || g->map[4] != 1 || g->map[5] != 1 ||
	    g->map[7] != 0 || (nchunk = g->map[6]) >= 63 ||
	    8 + (size_t)(nchunk + 1) * 12 > g->size)
		goto bad;
	for (unsigned i = 0; i <= nchunk; i++) {
		id[i] = be32(g->map + 8 + i * 12);
		off[i] = be64(g->map + 8 + i * 12 + 4);
		if (off[i] > g->size - GIT_OID_RAWSZ || (i > 0 && off[i] < off[i - 1]))
			goto bad;
	}
	for (unsigned i = 0; i < nchunk; i++) {
		const uint8_t *p = g->map + off[i];
		uint64_t len = off[i + 1] - off[i];

		switch (id[i]) {
		case 0x4f494446:	/* OIDF */
			if (len != 256 * 4)
				goto bad;
			g->fanout = p;
			break;
		case 0x4f49444c:	/* OIDL */
			g->oids = p;
			break;
		case 0x43444154:	/* CDAT */
			g->cdat = p;
			break;
		case 0x45444745:	/* EDGE */
			g->edge = p;
			g->nedge = (uint32_t)(len / 4);
			break;
		}
	}
	if (g->fanout == NULL || g->oids == NULL || g->cdat == NULL)
		goto bad;
	g->n = be32(g->fanout + 255 * 4);
	for (unsigned i = 0; i < nchunk; i++)
		if ((id[i] == 0x4f49444c && off[i + 1] - off[i] != (uint64_t)g->n *
		    GIT_OID_RAWSZ) || (id[i] == 0x43444154 && off[i + 1] - off[i] !=
		    (uint64_t)g->n * CDAT_SIZE))
			goto bad;
	return 0;
bad:
	cgraph_close(g);
	return 1;
}

static bool
cgraph_find(const struct cgraph *g, const git_oid *id, uint32_t *pos)
{
	uint32_t lo = id->id[0] ? be32(g->fanout + (id->id[0] - 1) * 4) : 0;
	uint32_t hi = be32(g->fanout + id->id[0] * 4);

	if (hi > g->n || lo > hi)
		return false;
	return store_oid_table_find(g->oids, lo, hi, id->id, pos);
}

/*
 * The commit at pos into fp, and its first parent's position (GRAPH_NONE
 * when it has none). false when the file contradicts itself.
 */
static bool
cgraph_entry(const struct cgraph *g, uint32_t pos, struct store_fp *fp, uint32_t *p1,
    const struct store_oid *parent)
{
	const uint8_t *c = g->cdat + (size_t)pos * CDAT_SIZE;
	uint32_t a = be32(c + GIT_OID_RAWSZ), b = be32(c + GIT_OID_RAWSZ + 4);

	memset(fp, 0, sizeof(*fp));
	memcpy(fp->id.id, g->oids + (size_t)pos * GIT_OID_RAWSZ, GIT_OID_RAWSZ);
	memcpy(fp->tree.id, c, GIT_OID_RAWSZ);
	fp->time = (int64_t)((uint64_t)(be32(c + GIT_OID_RAWSZ + 8) & 3) << 32 |
	    be32(c + GIT_OID_RAWSZ + 12));
	*p1 = a;
	if (a == GRAPH_NONE)
		return true;
	if (a >= g->n)
		return false;
	if (parent != NULL)	/* known already: one random read fewer */
		fp->parent = *parent;
	else
		memcpy(fp->parent.id, g->oids + (size_t)a * GIT_OID_RAWSZ, GIT_OID_RAWSZ);
	fp->nparent = 1;
	if (b == GRAPH_NONE)
		return true;
	if (b & GRAPH_EXTRA) {
		/* An octopus: its second and later parents are in EDGE. */
		uint32_t e = b & ~GRAPH_EXTRA, v;

		if (g->edge == NULL || e >= g->nedge)
			return false;
		v = be32(g->edge + (size_t)e * 4);
		b = v & ~GRAPH_LAST;
		for (fp->nparent = 2; !(v & GRAPH_LAST) && ++e < g->nedge; fp->nparent++)
			v = be32(g->edge + (size_t)e * 4);
	} else {
		fp->nparent = 2;
	}
	if (b >= g->n)
		return false;
	memcpy(fp->parent2.id, g->oids + (size_t)b * GIT_OID_RAWSZ, GIT_OID_RAWSZ);
	return true;
}

/* --- the commit objects, raw --- */

static int
hex_oid(struct store_oid *out, const char *p, const char *end)
{
	char hex[STORE_OID_HEXSZ + 1];

	if (end - p < STORE_OID_HEXSZ)
		return -1;
	memcpy(hex, p, STORE_OID_HEXSZ);
	hex[STORE_OID_HEXSZ] = '\0';
	return store_oid_parse(out, hex) < 0 ? -1 : 0;
}

/* Tree, parents and committer time of commit id: 0, GIT_ENOTFOUND, or < 0. */
static int
commit_raw(struct store *st, const git_oid *id, struct store_fp *fp)
{
	git_odb_object *obj = NULL;
	git_object_t type;
	const void *data;
	const char *p, *end, *nl;
	char hex[GIT_OID_HEXSZ + 1];
	size_t len;
	int error;

	memset(fp, 0, sizeof(*fp));
	git_oid_cpy(store_goid_mut(&fp->id), id);
	if ((error = store_odb_get(st->odb, id, &type, &data, &len, &obj)) < 0) {
		if (error == GIT_ENOTFOUND)
			return error;
		return store_gerr(error, "store: commit %s", git_oid_tostr(hex,
		    sizeof(hex), id));
	}
	error = STORE_EPARSE;
	if (type != GIT_OBJECT_COMMIT)
		goto done;
	p = data;
	end = p + len;
	for (; p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL; p = nl + 1) {
		if (nl == p)
			break;			/* the message follows */
		if (nl - p > 5 && memcmp(p, "tree ", 5) == 0) {
			if (hex_oid(&fp->tree, p + 5, nl) < 0)
				goto done;
		} else if (nl - p > 7 && memcmp(p, "parent ", 7) == 0) {
			if (fp->nparent < 2 && hex_oid(fp->nparent ? &fp->parent2 :
			    &fp->parent, p + 7, nl) < 0)
				goto done;
			fp->nparent++;
		} else if (nl - p > 10 && memcmp(p, "committer ", 10) == 0) {
			const char *gt = NULL;

			for (const char *q = p; q < nl; q++)
				if (*q == '>')
					gt = q;
			if (gt == NULL)
				goto done;
			fp->time = strtoll(gt + 1, NULL, 10);
			error = 0;
		}
	}
done:
	git_odb_object_free(obj);
	if (error == STORE_EPARSE)
		return store_err(error, "store: commit %s does not parse",
		    git_oid_tostr(hex, sizeof(hex), id));
	return error;
}

/* --- the shallow file --- */

/* The commits listed in gitdir/shallow, sorted (*n 0 when none). */
static struct store_oid *
shallow_read(const char *gitdir, size_t *n)
{
	char path[4200], line[128];
	struct store_oid *v = NULL;
	size_t cap = 0;
	FILE *f;

	*n = 0;
	snprintf(path, sizeof(path), "%sshallow", gitdir);
	if ((f = fopen(path, "re")) == NULL)
		return NULL;
	while (fgets(line, sizeof(line), f) != NULL) {
		struct store_oid id;

		line[strcspn(line, "\n")] = '\0';
		if (store_oid_parse(&id, line) < 0)
			continue;
		if (*n == cap) {
			struct store_oid *nv = realloc(v, (cap = cap ? 2 * cap : 16) *
			    sizeof(*v));

			if (nv == NULL)
				break;
			v = nv;
		}
		v[(*n)++] = id;
	}
	fclose(f);
	if (*n > 1)
		qsort(v, *n, sizeof(*v), store_oid_qcmp);
	return v;
}

/*
 * The line from graph position pos on, appended to v[0..*len): positions
 * first (a read of each commit's CDAT entry: its time and first parent),
 * then the entries, oldest first, so that each one's first parent is the
 * id just written.
 */
static int
graph_line(struct store_fp **v, size_t *len, size_t *cap, const struct cgraph *g,
    uint32_t pos, int64_t since, const struct store_oid *shallow, size_t nshallow)
{
	uint32_t *pv = NULL, p1;
	size_t pn = 0, pcap = 0;
	int error = 0;

	for (;;) {
		const uint8_t *c;
		int64_t t;

		if (pos >= g->n) {
			error = store_err(STORE_EPARSE, "store: objects/info/commit-graph: "
			    "entry %u out of range", pos);
			goto done;
		}
		if (pn == pcap) {
			uint32_t *np = realloc(pv, (pcap = pcap ? 2 * pcap : 4096) * sizeof(*np));

			if (np == NULL) {
				error = store_err(-1, "store: out of memory");
				goto done;
			}
			pv = np;
		}
		pv[pn++] = pos;
		c = g->cdat + (size_t)pos * CDAT_SIZE;
		t = (int64_t)((uint64_t)(be32(c + GIT_OID_RAWSZ + 8) & 3) << 32 |
		    be32(c + GIT_OID_RAWSZ + 12));
		p1 = be32(c + GIT_OID_RAWSZ);
		if (t < since || p1 == GRAPH_NONE || (nshallow > 0 && bsearch(g->oids +
		    (size_t)pos * GIT_OID_RAWSZ, shallow, nshallow, sizeof(*shallow),
		    store_oid_qcmp) != NULL))
			break;
		pos = p1;
	}
	if (*len + pn > *cap) {
		struct store_fp *nv = realloc(*v, (*len + pn) * sizeof(*nv));

		if (nv == NULL) {
			error = store_err(-1, "store: out of memory");
			goto done;
		}
		*v = nv;
		*cap = *len + pn;
	}
	for (size_t k = pn; k-- > 0;) {
		struct store_fp *fp = &(*v)[*len + k];

		if (!cgraph_entry(g, pv[k], fp, &p1, k + 1 < pn ? &(*v)[*len + k + 1].id :
		    NULL)) {
			error = store_err(STORE_EPARSE, "store: objects/info/commit-graph: "
			    "entry %u out of range", pv[k]);
			goto done;
		}
	}
	*len += pn;
done:
	free(pv);
	return error;
}

/* --- the walk --- */

int
store_first_parents(struct store_fp **out, size_t *n, struct store_reader *r,
    const struct store_oid *start, int64_t since)
{
	struct store *st = r->st;
	const char *gitdir = git_repository_path(st->repo);
	struct cgraph g;
	struct store_oid *shallow, cur;
	struct store_fp *v = NULL;
	size_t nshallow, cap = 0, len = 0;
	bool have_graph;
	uint32_t pos = GRAPH_NONE;
	int error = 0;

	*out = NULL;
	*n = 0;
	shallow = shallow_read(gitdir, &nshallow);
	have_graph = cgraph_open(&g, gitdir) == 0;
	cur = start != NULL ? *start : *store_soid(&st->head);
	for (;;) {
		struct store_fp fp;

		if (len == cap) {
			struct store_fp *nv = realloc(v, (cap = cap ? 2 * cap : 1024) *
			    sizeof(*v));

			if (nv == NULL) {
				error = store_err(-1, "store: out of memory");
				break;
			}
			v = nv;
		}
		if (pos != GRAPH_NONE || (have_graph &&
		    cgraph_find(&g, store_goid(&cur), &pos))) {
			/* The graph has the rest of the line. */
			error = graph_line(&v, &len, &cap, &g, pos, since, shallow, nshallow);
			break;
		} else if ((error = commit_raw(st, store_goid(&cur), &fp)) < 0) {
			if (error == GIT_ENOTFOUND && len > 0)
				error = 0;	/* a parent cut away: the line ends */
			else if (error == GIT_ENOTFOUND)
				error = store_err(STORE_ENOTFOUND, "store: no commit %s",
				    store_oid_fmt((char[STORE_OID_HEXSZ + 1]){ 0 }, &cur));
			break;
		}
		v[len++] = fp;
		if (fp.time < since || fp.nparent == 0 || (nshallow > 0 &&
		    bsearch(&fp.id, shallow, nshallow, sizeof(*shallow), store_oid_qcmp)))
			break;
		cur = fp.parent;
	}
	if (have_graph)
		cgraph_close(&g);
	free(shallow);
	if (error < 0) {
		free(v);
		return error;
	}
	*out = v;
	*n = len;
	return 0;
}

/* --- writing the graph --- */

/* Commits by id: an open-addressing table into the array of commits. */
struct gnode {
	struct store_fp	fp;
	uint32_t	gen;		/* topological level; 0: not yet known */
	uint32_t	pos;		/* in the file */
};

struct gset {
	struct gnode	*v;
	size_t		n, cap;
	uint32_t	*slot;		/* index + 1; 0: empty */
	size_t		nslot;
};

static size_t
gset_home(const struct gset *g, const struct store_oid *id)
{
	uint64_t k;

	memcpy(&k, id->id, sizeof(k));
	return store_key_slot(k, g->nslot);
}

/* The node of id, or -1. */
static long
gset_find(const struct gset *g, const struct store_oid *id)
{
	if (g->nslot == 0)
		return -1;
	for (size_t i = gset_home(g, id);; i = (i + 1) & (g->nslot - 1)) {
		uint32_t s = g->slot[i];

		if (s == 0)
			return -1;
		if (store_oid_equal(&g->v[s - 1].fp.id, id))
			return (long)s - 1;
	}
}

static int
gset_add(struct gset *g, const struct store_fp *fp)
{
	if (g->n == g->cap) {
		struct gnode *v = realloc(g->v, (g->cap = g->cap ? 2 * g->cap : 4096) *
		    sizeof(*v));

		if (v == NULL)
			return -1;
		g->v = v;
	}
	if (2 * (g->n + 1) > g->nslot) {
		size_t ns = g->nslot ? 2 * g->nslot : 8192;
		uint32_t *sl = calloc(ns, sizeof(*sl));

		if (sl == NULL)
			return -1;
		free(g->slot);
		g->slot = sl;
		g->nslot = ns;
		for (size_t k = 0; k < g->n; k++) {
			size_t i = gset_home(g, &g->v[k].fp.id);

			while (g->slot[i] != 0)
				i = (i + 1) & (ns - 1);
			g->slot[i] = (uint32_t)k + 1;
		}
	}
	{
		size_t i = gset_home(g, &fp->id);

		while (g->slot[i] != 0)
			i = (i + 1) & (g->nslot - 1);
		g->slot[i] = (uint32_t)g->n + 1;
	}
	g->v[g->n].fp = *fp;
	g->v[g->n].gen = 0;
	g->v[g->n].pos = 0;
	g->n++;
	return 0;
}

/*
 * Every commit reachable from the starts, read raw: 0, 1 when history is
 * cut (a parent missing, a shallow file, an octopus: no graph then), or
 * an error.
 */
static int
gset_collect(struct gset *g, struct store *st, const struct store_oid *starts,
    size_t nstart)
{
	struct store_oid *stack = NULL;
	size_t sn = 0, scap = 0;
	int error = 0;

	for (size_t k = 0; k < nstart + 0; k++) {
		if (sn == scap) {
			struct store_oid *ns = realloc(stack, (scap = scap ? 2 * scap : 256) *
			    sizeof(*ns));

			if (ns == NULL) {
				error = store_err(-1, "store: out of memory");
				goto done;
			}
			stack = ns;
		}
		stack[sn++] = starts[k];
	}
	while (sn > 0 && error == 0) {
		struct store_oid id = stack[--sn];
		struct store_fp fp;

		if (gset_find(g, &id) >= 0)
			continue;
		if ((error = commit_raw(st, store_goid(&id), &fp)) < 0) {
			if (error == GIT_ENOTFOUND)
				error = 1;
			break;
		}
		if (fp.nparent > 2) {
			error = 1;
			break;
		}
		if (gset_add(g, &fp) < 0) {
			error = store_err(-1, "store: out of memory");
			break;
		}
		if (sn + 2 > scap) {
			struct store_oid *ns = realloc(stack, (scap = scap ? 2 * scap : 256) *
			    sizeof(*ns));

			if (ns == NULL) {
				error = store_err(-1, "store: out of memory");
				break;
			}
			stack = ns;
		}
		if (fp.nparent > 1)
			stack[sn++] = fp.parent2;
		if (fp.nparent > 0)
			stack[sn++] = fp.parent;
	}
done:
	free(stack);
	return error;
}

/* Topological levels (git's generation number v1), without recursion. */
static int
gset_levels(struct gset *g)
{
	uint32_t *stack = malloc((g->n + 1) * 3 * sizeof(*stack));
	size_t sn = 0;

	if (stack == NULL)
		return store_err(-1, "store: out of memory");
	for (size_t k = 0; k < g->n; k++) {
		if (g->v[k].gen != 0)
			continue;
		stack[sn++] = (uint32_t)k;
		while (sn > 0) {
			struct gnode *c = &g->v[stack[sn - 1]];
			uint32_t gen = 1;
			bool ready = true;

			for (unsigned i = 0; i < c->fp.nparent && i < 2; i++) {
				long p = gset_find(g, i ? &c->fp.parent2 : &c->fp.parent);

				if (p < 0)
					continue;	/* cannot happen: collected */
				if (g->v[p].gen == 0) {
					if (sn < (g->n + 1) * 3)
						stack[sn++] = (uint32_t)p;
					ready = false;
				} else if (g->v[p].gen + 1 > gen) {
					gen = g->v[p].gen + 1;
				}
			}
			if (!ready)
				continue;
			c->gen = gen > 0x3fffffff ? 0x3fffffff : gen;
			sn--;
		}
	}
	free(stack);
	return 0;
}

static int
gnode_cmp(const void *a, const void *b)
{
	return memcmp(((const struct gnode *)a)->fp.id.id,
	    ((const struct gnode *)b)->fp.id.id, STORE_OID_RAWSZ);
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void
put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

static int
refs_cb(void *ctx, const char *name, const struct store_oid *commit, bool peeled)
{
	struct sbuf *b = ctx;

	(void)name;
	(void)peeled;
	if (commit != NULL)
		store_sbuf_add(b, (const char *)commit->id, STORE_OID_RAWSZ);
	return 0;
}

/*
 * The file: header, chunk table (OIDF, OIDL, CDAT, terminator), the
 * chunks, and the SHA-1 of all that as its trailer.
 */
static int
graph_encode(struct sbuf *b, struct gset *g)
{
	uint32_t fan[256] = { 0 };
	uint64_t off = 8 + 4 * 12;
	struct sha1_ctx sc;
	uint8_t h[8 + 4 * 12], sum[20];

	qsort(g->v, g->n, sizeof(*g->v), gnode_cmp);
	/* Positions moved: rebuild the slots, then number the nodes. */
	memset(g->slot, 0, g->nslot * sizeof(*g->slot));
	for (size_t k = 0; k < g->n; k++) {
		size_t i = gset_home(g, &g->v[k].fp.id);

		while (g->slot[i] != 0)
			i = (i + 1) & (g->nslot - 1);
		g->slot[i] = (uint32_t)k + 1;
		g->v[k].pos = (uint32_t)k;
		fan[g->v[k].fp.id.id[0]]++;
	}
	memcpy(h, "CGPH", 4);
	h[4] = 1;		/* version */
	h[5] = 1;		/* SHA-1 */
	h[6] = 3;		/* chunks */
	h[7] = 0;		/* base graphs */
	put32(h + 8, 0x4f494446);
	put64(h + 12, off);
	off += 256 * 4;
	put32(h + 20, 0x4f49444c);
	put64(h + 24, off);
	off += (uint64_t)g->n * GIT_OID_RAWSZ;
	put32(h + 32, 0x43444154);
	put64(h + 36, off);
	off += (uint64_t)g->n * CDAT_SIZE;
	put32(h + 44, 0);
	put64(h + 48, off);
	store_sbuf_reserve(b, off + 20);
	store_sbuf_add(b, (const char *)h, sizeof(h));
	for (unsigned i = 0, sum_ = 0; i < 256; i++) {
		uint8_t f[4];

		sum_ += fan[i];
		put32(f, sum_);
		store_sbuf_add(b, (const char *)f, 4);
	}
	for (size_t k = 0; k < g->n; k++)
		store_sbuf_add(b, (const char *)g->v[k].fp.id.id, GIT_OID_RAWSZ);
	for (size_t k = 0; k < g->n; k++) {
		const struct gnode *c = &g->v[k];
		uint8_t d[CDAT_SIZE];
		uint32_t p[2] = { GRAPH_NONE, GRAPH_NONE };
		uint64_t t = c->fp.time < 0 ? 0 : (uint64_t)c->fp.time;

		for (unsigned i = 0; i < c->fp.nparent && i < 2; i++) {
			long q = gset_find(g, i ? &c->fp.parent2 : &c->fp.parent);

			if (q >= 0)
				p[i] = (uint32_t)q;
		}
		memcpy(d, c->fp.tree.id, GIT_OID_RAWSZ);
		put32(d + 20, p[0]);
		put32(d + 24, p[1]);
		put32(d + 28, c->gen << 2 | (uint32_t)(t >> 32 & 3));
		put32(d + 32, (uint32_t)t);
		store_sbuf_add(b, (const char *)d, CDAT_SIZE);
	}
	if (b->oom)
		return store_err(-1, "store: out of memory");
	store_sha1_init(&sc);
	store_sha1_update(&sc, b->p, b->len);
	store_sha1_final(&sc, sum);
	store_sbuf_add(b, (const char *)sum, sizeof(sum));
	return b->oom ? store_err(-1, "store: out of memory") : 0;
}

int
store_graph_write(struct store *st)
{
	struct sbuf refs = { 0 }, file = { 0 };
	struct gset g = { 0 };
	char dir[4200], tmp[4300], path[4300];
	size_t nshallow;
	struct store_oid *shallow;
	bool made = false;
	int fd = -1, error;

	snprintf(dir, sizeof(dir), "%sobjects/info", git_repository_path(st->repo));
	if ((error = store_flush(st)) < 0)
		return error;
	/* git writes no graph for a shallow repository: neither do we. */
	shallow = shallow_read(git_repository_path(st->repo), &nshallow);
	free(shallow);
	if (nshallow > 0)
		return 0;
	store_sbuf_add(&refs, (const char *)st->head.id, STORE_OID_RAWSZ);
	if ((error = store_refs(&st->rd, "refs/heads/*", refs_cb, &refs)) < 0)
		goto done;
	if (refs.oom) {
		error = store_err(-1, "store: out of memory");
		goto done;
	}
	error = gset_collect(&g, st, (const struct store_oid *)(void *)refs.p,
	    refs.len / STORE_OID_RAWSZ);
	if (error != 0) {
		error = error == 1 ? 0 : error;		/* history cut: no graph */
		goto done;
	}
	if (g.n == 0 || (error = gset_levels(&g)) < 0 ||
	    (error = graph_encode(&file, &g)) < 0)
		goto done;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		error = store_err(STORE_EIO, "store: %s: %s", dir, strerror(errno));
		goto done;
	}
	snprintf(tmp, sizeof(tmp), "%s/tmp_graph_XXXXXX", dir);
	snprintf(path, sizeof(path), "%s/commit-graph", dir);
	if ((fd = mkstemp(tmp)) < 0) {
		error = store_err(STORE_EIO, "store: %s: %s", tmp, strerror(errno));
		goto done;
	}
	made = true;
	for (size_t off = 0; off < file.len;) {
		ssize_t w = write(fd, file.p + off, file.len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			error = store_err(STORE_EIO, "store: %s: %s", tmp, strerror(errno));
			goto done;
		}
		off += (size_t)w;
	}
	if ((st->o.fsync && fsync(fd) < 0) || fchmod(fd, 0444) < 0 ||
	    rename(tmp, path) < 0) {
		error = store_err(STORE_EIO, "store: %s: %s", path, strerror(errno));
		goto done;
	}
	made = false;
	close(fd);
	fd = -1;
	if (st->o.fsync)
		error = store_fsync_dir(dir);
done:
	if (fd >= 0)
		close(fd);
	if (made)
		unlink(tmp);
	free(g.v);
	free(g.slot);
	store_sbuf_free(&refs);
	store_sbuf_free(&file);
	return error;
}

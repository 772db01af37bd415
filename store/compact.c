/* SPDX-License-Identifier: ISC */
/*
 * Compaction: the packs the commit path wrote (zlib stored blocks, a tree's
 * delta only against a version in the same flush) become one pack of deltas
 * and deflate, in the background, so that history costs bytes per change
 * rather than bytes per tree written.
 *
 * Generic delta search (git's window of similar-sized objects, libgit2's
 * fixed at 10) misses most of what makes this history small; we know it
 * exactly instead. The commits of the fresh packs are walked parents first,
 * each diffed against its first parent, and every new object is written
 * against its previous version:
 *   - a tree against the tree at the same path in the first parent: the
 *     delta copies the unchanged entries and carries the changed ones (for
 *     a busy host's port tree, an added session costs its entry, a removed
 *     one a copy boundary);
 *   - a blob against its previous version, or the last blob written (a
 *     sibling entry of the same shape), whichever gives the smaller delta;
 *   - a commit against the commit written before it.
 * Chains are bounded (COMPACT_DEPTH) so reads stay cheap; what no commit
 * reaches (a duplicate of an older object, a tag) is written whole. Every
 * object of the fresh packs is in the result, so nothing a ref may name is
 * lost whatever the walk finds; the fresh packs are removed only after the
 * new one is durable (pack.c's job_finish).
 *
 * Runs on the merge job's thread: it reads through an odb of its own (a
 * libgit2 odb on objects/, which the writer's handle never shares), and
 * writes with store_pack_commit like every pack of ours.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "odb_impl.h"

#define COMPACT_DEPTH	250	/* longest delta chain written */
#define GREEDY_MAX	(1u << 20)	/* blob delta search: base x target bytes */
#define BLOB_RECENT	8	/* a new blob tries the last this many as bases */

/* One object of the fresh packs: where it went in the new pack. */
struct cslot {
	git_oid		id;
	uint32_t	off;		/* in the new pack; 0: not written yet */
	uint16_t	depth;
	bool		used;
};

struct cset {
	struct cslot	*v;
	size_t		cap, n;
};

struct compact {
	git_odb		*odb;
	/*
	 * The fresh packs' objects (compaction), or (all: a rewrite for
	 * retention) every object met, added as the walk meets it.
	 */
	struct cset	set;
	bool		all;
	struct sbuf	pack;
	struct pentry	*ent;
	size_t		nent, capent;
	git_oid		blobs[BLOB_RECENT];	/* the last blobs written, a ring */
	unsigned	nblobs;
	git_oid		last_commit;
	bool		have_commit;
	size_t		stat_delta, stat_whole;
};

static struct cslot *
cset_find(const struct cset *s, const git_oid *id)
{
	if (s->cap == 0)
		return NULL;
	for (size_t i = store_oid_hash(id) & (s->cap - 1); s->v[i].used;
	    i = (i + 1) & (s->cap - 1))
		if (git_oid_equal(&s->v[i].id, id))
			return &s->v[i];
	return NULL;
}

static int
cset_add(struct cset *s, const git_oid *id)
{
	size_t i;

	if ((s->n + 1) * 2 > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4096;
		struct cset t = { calloc(cap, sizeof(*t.v)), cap, 0 };

		if (t.v == NULL)
			return store_err(-1, "store: out of memory");
		for (size_t k = 0; k < s->cap; k++)
			if (s->v[k].used)
				cset_add(&t, &s->v[k].id);
		free(s->v);
		*s = t;
	}
	for (i = store_oid_hash(id) & (s->cap - 1); s->v[i].used; i = (i + 1) & (s->cap - 1))
		if (git_oid_equal(&s->v[i].id, id))
			return 0;
	s->v[i].id = *id;
	s->v[i].used = true;
	s->n++;
	return 0;
}

/* The slot of an object to write, or NULL when it is not ours to write. */
static struct cslot *
want(struct compact *c, const git_oid *id)
{
	struct cslot *s = cset_find(&c->set, id);

	if (s == NULL && c->all && cset_add(&c->set, id) == 0)
		s = cset_find(&c->set, id);
	return s;
}

static int
add_id(void *ctx, const git_oid *id)
{
	return cset_add(&((struct compact *)ctx)->set, id);
}

/* Every id in packdir/name.idx into the set. */
static int
add_index(struct compact *c, const char *packdir, const char *name)
{
	char path[4400];

	snprintf(path, sizeof(path), "%s/%s.idx", packdir, name);
	return store_idx_foreach(path, add_id, c);
}

/*
 * Whether pack `name` is one the commit path wrote and nobody compacted:
 * its first entry's zlib stream is the writer's (78 01, stored blocks).
 * Compacted packs, and stock git's, deflate (78 9c, 78 da).
 */
bool
store_pack_fresh(const char *packdir, const char *name)
{
	char path[4400];
	uint8_t b[64];
	size_t n, i = 12;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.pack", packdir, name);
	if ((f = fopen(path, "rb")) == NULL)
		return false;
	n = fread(b, 1, sizeof(b), f);
	fclose(f);
	if (n < 16 || memcmp(b, "PACK", 4) != 0 || store_get32(b + 8) == 0)
		return false;
	while (i < n && (b[i] & 0x80))	/* type and size */
		i++;
	if (i < n && ((b[12] >> 4) & 7) == PACK_OFS_DELTA)
		for (i++; i < n && (b[i] & 0x80); i++)
			;
	else if (((b[12] >> 4) & 7) == PACK_REF_DELTA)
		i += GIT_OID_RAWSZ;
	i++;
	return i + 2 <= n && b[i] == 0x78 && b[i + 1] == 0x01;
}

/* One tree entry: [p, p + len), the name at name (nlen bytes), a tree or not. */
struct tent_raw {
	const uint8_t	*p, *name, *id;
	size_t		len, nlen;
	bool		tree;
};

/* The next entry of tree bytes t[*at..len), or false at the end (or on junk). */
static bool
tree_next(const uint8_t *t, size_t len, size_t *at, struct tent_raw *e)
{
	const uint8_t *sp, *nul;

	if (*at >= len)
		return false;
	e->p = t + *at;
	if ((sp = memchr(e->p, ' ', len - *at)) == NULL ||
	    (nul = memchr(sp, '\0', len - (size_t)(sp - t))) == NULL ||
	    (size_t)(nul - t) + 1 + GIT_OID_RAWSZ > len)
		return false;
	e->tree = sp - e->p == 5 && memcmp(e->p, "40000", 5) == 0;
	e->name = sp + 1;
	e->nlen = (size_t)(nul - e->name);
	e->id = nul + 1;
	e->len = (size_t)(nul + 1 + GIT_OID_RAWSZ - e->p);
	*at += e->len;
	return true;
}

static int
tent_cmp(const struct tent_raw *a, const struct tent_raw *b)
{
	return store_name_cmp((const char *)a->name, a->nlen, a->tree,
	    (const char *)b->name, b->nlen, b->tree);
}

/*
 * A tree against its previous version: both are sorted the same way, so
 * one pass copies each run of entries the base has, byte for byte, and
 * inserts the others.
 */
static void
delta_tree(struct sbuf *d, const uint8_t *b, size_t bl, const uint8_t *t, size_t tl)
{
	struct tent_raw be, te;
	size_t bat = 0, tat = 0, lit = 0, litlen = 0;
	uint32_t coff = 0, clen = 0;
	bool bok, tok;

	store_delta_varint(d, bl);
	store_delta_varint(d, tl);
	bok = tree_next(b, bl, &bat, &be);
	tok = tree_next(t, tl, &tat, &te);
	while (tok) {
		int c = bok ? tent_cmp(&be, &te) : 1;

		if (c < 0) {
			bok = tree_next(b, bl, &bat, &be);
			continue;
		}
		if (c == 0 && be.len == te.len && memcmp(be.p, te.p, te.len) == 0) {
			uint32_t off = (uint32_t)(be.p - b);

			if (litlen > 0) {
				store_delta_insert(d, t + lit, litlen);
				litlen = 0;
			}
			if (clen > 0 && coff + clen == off) {
				clen += (uint32_t)te.len;
			} else {
				if (clen > 0)
					store_delta_copy(d, coff, clen);
				coff = off;
				clen = (uint32_t)te.len;
			}
		} else {
			if (clen > 0) {
				store_delta_copy(d, coff, clen);
				clen = 0;
			}
			if (litlen == 0)
				lit = (size_t)(te.p - t);
			litlen += te.len;
		}
		if (c == 0)
			bok = tree_next(b, bl, &bat, &be);
		tok = tree_next(t, tl, &tat, &te);
	}
	if (clen > 0)
		store_delta_copy(d, coff, clen);
	if (litlen > 0)
		store_delta_insert(d, t + lit, litlen);
	if (tat != tl)		/* not a tree we can read: all of it, literally */
		d->oom = true;
}

/*
 * Any two objects: at each position of the target the longest match in the
 * base (at least 4 bytes, else a literal byte). Quadratic, so for the small
 * objects a table entry is; larger pairs share only their common prefix
 * and suffix.
 */
static void
delta_bytes(struct sbuf *d, const uint8_t *b, size_t bl, const uint8_t *t, size_t tl)
{
	size_t i = 0, lit = 0;

	store_delta_varint(d, bl);
	store_delta_varint(d, tl);
	if ((uint64_t)bl * tl > GREEDY_MAX) {
		size_t pre = 0, suf = 0;

		while (pre < bl && pre < tl && b[pre] == t[pre])
			pre++;
		while (suf < bl - pre && suf < tl - pre && b[bl - 1 - suf] == t[tl - 1 - suf])
			suf++;
		if (pre > 0)
			store_delta_copy(d, 0, (uint32_t)pre);
		store_delta_insert(d, t + pre, tl - pre - suf);
		if (suf > 0)
			store_delta_copy(d, (uint32_t)(bl - suf), (uint32_t)suf);
		return;
	}
	while (i < tl) {
		size_t best = 0, at = 0;

		for (size_t j = 0; j < bl; j++) {
			size_t k = 0;

			while (j + k < bl && i + k < tl && b[j + k] == t[i + k])
				k++;
			if (k > best) {
				best = k;
				at = j;
			}
		}
		if (best >= 4) {
			store_delta_insert(d, t + lit, i - lit);
			store_delta_copy(d, (uint32_t)at, (uint32_t)best);
			i += best;
			lit = i;
		} else {
			i++;
		}
	}
	store_delta_insert(d, t + lit, i - lit);
}

/* Append one entry, deflated: whole (base NULL) or a delta against base. */
static int
put_entry(struct compact *c, struct cslot *s, git_object_t type, const void *data,
    size_t len, const struct cslot *base)
{
	uint8_t h[32];
	size_t n = 0, size = len, start = c->pack.len;
	unsigned t = base != NULL ? PACK_OFS_DELTA : (unsigned)type;
	uLongf zl = compressBound((uLong)len);
	struct pentry *e;

	if (c->pack.len > 0x7fffffff)
		return store_err(-1, "store: compacted pack too large");
	h[n++] = (uint8_t)((size > 15 ? 0x80 : 0) | t << 4 | (size & 15));
	for (size >>= 4; size; size >>= 7)
		h[n++] = (uint8_t)((size > 127 ? 0x80 : 0) | (size & 127));
	if (base != NULL) {
		uint8_t ofs[16];
		size_t back = start - base->off, pos = sizeof(ofs) - 1;

		ofs[pos] = (uint8_t)(back & 127);
		while (back >>= 7)
			ofs[--pos] = (uint8_t)(128 | (--back & 127));
		memcpy(h + n, ofs + pos, sizeof(ofs) - pos);
		n += sizeof(ofs) - pos;
	}
	store_sbuf_add(&c->pack, (const char *)h, n);
	store_sbuf_reserve(&c->pack, zl);
	if (c->pack.oom)
		return store_err(-1, "store: out of memory");
	if (compress2((Bytef *)c->pack.p + c->pack.len, &zl, data, (uLong)len, 9) != Z_OK)
		return store_err(-1, "store: deflate failed");
	c->pack.len += zl;
	if (c->nent == c->capent) {
		size_t cap = c->capent ? c->capent * 2 : 1024;
		struct pentry *v = realloc(c->ent, cap * sizeof(*v));

		if (v == NULL)
			return store_err(-1, "store: out of memory");
		c->ent = v;
		c->capent = cap;
	}
	e = &c->ent[c->nent++];
	e->id = s->id;
	e->off = (uint32_t)start;
	e->crc = store_crc32(0, c->pack.p + start, c->pack.len - start);
	s->off = (uint32_t)start;
	s->depth = base != NULL ? (uint16_t)(base->depth + 1) : 0;
	base != NULL ? c->stat_delta++ : c->stat_whole++;
	return 0;
}

static int
read_obj(git_odb_object **out, struct compact *c, const git_oid *id)
{
	int error = git_odb_read(out, c->odb, id);

	return error < 0 ? store_gerr(error, "store: compact: read %s", git_oid_tostr_s(id)) : 0;
}

/* A usable base: written in this pack, with room left in its chain. */
static const struct cslot *
base_slot(struct compact *c, const git_oid *id)
{
	const struct cslot *b = id != NULL ? cset_find(&c->set, id) : NULL;

	return b != NULL && b->off != 0 && b->depth < COMPACT_DEPTH ? b : NULL;
}

/*
 * Write object s (data) against the smallest delta over the candidate
 * bases, or whole when no delta saves a quarter.
 */
static int
put_best(struct compact *c, struct cslot *s, git_odb_object *o, const git_oid *const *cand,
    unsigned ncand)
{
	const uint8_t *data = git_odb_object_data(o);
	size_t len = git_odb_object_size(o);
	git_object_t type = git_odb_object_type(o);
	struct sbuf best = { 0 };
	const struct cslot *bs = NULL;
	int error = 0;

	for (unsigned i = 0; i < ncand && error == 0; i++) {
		const struct cslot *b = base_slot(c, cand[i]);
		git_odb_object *bo;
		struct sbuf d = { 0 };

		if (b == NULL || b == s || (i > 0 && cand[i - 1] != NULL &&
		    git_oid_equal(cand[i], cand[i - 1])))
			continue;
		if ((error = read_obj(&bo, c, cand[i])) < 0)
			break;
		if (type == GIT_OBJECT_TREE && git_odb_object_type(bo) == GIT_OBJECT_TREE)
			delta_tree(&d, git_odb_object_data(bo), git_odb_object_size(bo), data, len);
		else
			delta_bytes(&d, git_odb_object_data(bo), git_odb_object_size(bo), data, len);
		git_odb_object_free(bo);
		if (!d.oom && (bs == NULL || d.len < best.len)) {
			store_sbuf_free(&best);
			best = d;
			bs = b;
		} else {
			store_sbuf_free(&d);
		}
	}
	if (error == 0) {
		if (bs != NULL && best.len < len - len / 4)
			error = put_entry(c, s, type, best.p, best.len, bs);
		else
			error = put_entry(c, s, type, data, len, NULL);
	}
	store_sbuf_free(&best);
	return error;
}

static int
put_blob(struct compact *c, const git_oid *id, const git_oid *prev)
{
	struct cslot *s = want(c, id);
	const git_oid *cand[1 + BLOB_RECENT] = { prev };
	unsigned n = 1;
	git_odb_object *o;
	int error;

	if (s == NULL || s->off != 0)
		return 0;
	for (unsigned i = 0; i < BLOB_RECENT && i < c->nblobs; i++)
		cand[n++] = &c->blobs[(c->nblobs - 1 - i) % BLOB_RECENT];
	if ((error = read_obj(&o, c, id)) < 0)
		return error;
	error = put_best(c, s, o, cand, n);
	git_odb_object_free(o);
	if (error == 0)
		c->blobs[c->nblobs++ % BLOB_RECENT] = *id;
	return error;
}

/*
 * Tree id (new in the fresh packs) and what it changed, against the trees
 * at the same path in the commit's parents (prev[0..2), NULL where there is
 * none): an entry equal to either parent's is old; a changed one is
 * written against both. A tick's merge thus costs what primary did during
 * the tick (against the expire branch), not the tick again.
 */
static int
put_tree(struct compact *c, const git_oid *id, const git_oid *const prev[2])
{
	struct cslot *s = want(c, id);
	git_odb_object *o = NULL, *p[2] = { NULL, NULL };
	const uint8_t *t, *b[2] = { NULL, NULL };
	size_t tl, bl[2] = { 0, 0 }, tat = 0, bat[2] = { 0, 0 };
	struct tent_raw te, be[2];
	bool bok[2] = { false, false };
	int error;

	if (s == NULL || s->off != 0)
		return 0;
	if ((error = read_obj(&o, c, id)) < 0)
		return error;
	for (int k = 0; k < 2 && error == 0; k++) {
		if (prev[k] == NULL || (k == 1 && prev[0] != NULL && git_oid_equal(prev[0], prev[1])))
			continue;
		if ((error = read_obj(&p[k], c, prev[k])) < 0)
			break;
		if (git_odb_object_type(p[k]) == GIT_OBJECT_TREE) {
			b[k] = git_odb_object_data(p[k]);
			bl[k] = git_odb_object_size(p[k]);
			bok[k] = tree_next(b[k], bl[k], &bat[k], &be[k]);
		}
	}
	t = git_odb_object_data(o);
	tl = git_odb_object_size(o);
	while (error == 0 && tree_next(t, tl, &tat, &te)) {
		git_oid eid, pid[2];
		const git_oid *pp[2] = { NULL, NULL };
		bool same = false;

		memcpy(eid.id, te.id, GIT_OID_RAWSZ);
		for (int k = 0; k < 2; k++) {
			while (bok[k] && tent_cmp(&be[k], &te) < 0)
				bok[k] = tree_next(b[k], bl[k], &bat[k], &be[k]);
			if (bok[k] && tent_cmp(&be[k], &te) == 0 && be[k].tree == te.tree) {
				memcpy(pid[k].id, be[k].id, GIT_OID_RAWSZ);
				pp[k] = &pid[k];
				same |= git_oid_equal(&eid, &pid[k]);
			}
		}
		if (same)
			continue;
		if (te.tree)
			error = put_tree(c, &eid, pp);
		else if (memcmp(te.p, "100644", 6) == 0 || memcmp(te.p, "100755", 6) == 0)
			error = put_blob(c, &eid, pp[0] != NULL ? pp[0] : pp[1]);
		/* symlinks and gitlinks: the sweep writes what is ours of them */
	}
	/* The walk below may have grown the set: find the slot again. */
	if (error == 0 && (s = cset_find(&c->set, id)) != NULL)
		error = put_best(c, s, o, prev, 2);
	git_odb_object_free(p[0]);
	git_odb_object_free(p[1]);
	git_odb_object_free(o);
	return error;
}

/* A commit of the fresh packs, after its parents that are. */
struct ccommit {
	git_oid		id, tree;
	int64_t		time;
	uint32_t	nparents;
	git_oid		*parents;
	uint8_t		state;		/* 0 new, 1 on the stack, 2 written */
	bool		boundary;	/* rewrite: kept, its parents are not */
};

static int
ccommit_time_cmp(const void *a, const void *b)
{
	const struct ccommit *x = a, *y = b;

	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	return git_oid_cmp(&x->id, &y->id);
}

static int
ccommit_id_cmp(const void *a, const void *b)
{
	return git_oid_cmp(&(*(struct ccommit *const *)a)->id, &(*(struct ccommit *const *)b)->id);
}

/* The commit id among byid[0..n) (sorted by id), or NULL. */
static struct ccommit *
ccommit_find(struct ccommit **byid, size_t n, const git_oid *id)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = git_oid_cmp(&byid[mid]->id, id);

		if (c == 0)
			return byid[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* "tree X\nparent Y\n...committer N <E> T Z\n" */
static int
parse_commit(struct ccommit *k, const char *p, size_t len)
{
	const char *end = p + len, *nl;
	git_oid *pv = NULL;
	uint32_t np = 0;

	memset(k, 0, sizeof(*k));
	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL && nl != p) {
		if ((size_t)(nl - p) == 45 && memcmp(p, "tree ", 5) == 0) {
			if (git_oid_fromstrn(&k->tree, p + 5, 40) < 0)
				break;
		} else if ((size_t)(nl - p) == 47 && memcmp(p, "parent ", 7) == 0) {
			git_oid *v = realloc(pv, (np + 1) * sizeof(*v));

			if (v == NULL) {
				free(pv);
				return store_err(-1, "store: out of memory");
			}
			pv = v;
			if (git_oid_fromstrn(&pv[np], p + 7, 40) < 0)
				break;
			np++;
		} else if (nl - p > 10 && memcmp(p, "committer ", 10) == 0) {
			const char *gt = nl;

			while (gt > p && *gt != '>')
				gt--;
			k->time = strtoll(gt + 1, NULL, 10);
		}
		p = nl + 1;
	}
	k->parents = pv;
	k->nparents = np;
	return 0;
}

/* The tree of commit id, wherever it is; false beyond a shallow boundary. */
static bool
commit_tree_of(struct compact *c, const git_oid *id, git_oid *tree)
{
	git_odb_object *po;
	struct ccommit pk;
	bool ok = false;

	if (git_odb_read(&po, c->odb, id) < 0) {
		git_error_clear();
		return false;
	}
	if (git_odb_object_type(po) == GIT_OBJECT_COMMIT &&
	    parse_commit(&pk, git_odb_object_data(po), git_odb_object_size(po)) == 0) {
		*tree = pk.tree;
		free(pk.parents);
		ok = true;
	}
	git_odb_object_free(po);
	return ok;
}

static int
put_commit(struct compact *c, struct ccommit *k)
{
	struct cslot *s;
	git_oid ptree[2];
	const git_oid *pp[2] = { NULL, NULL };
	const git_oid *cand[1] = { c->have_commit ? &c->last_commit : NULL };
	git_odb_object *o;
	int error;

	for (uint32_t i = 0; i < k->nparents && i < 2 && !k->boundary; i++)
		if (commit_tree_of(c, &k->parents[i], &ptree[i]))
			pp[i] = &ptree[i];
	if ((error = put_tree(c, &k->tree, pp)) < 0 ||
	    (s = want(c, &k->id)) == NULL || s->off != 0)
		return error;
	if ((error = read_obj(&o, c, &k->id)) < 0)
		return error;
	error = put_best(c, s, o, cand, 1);
	git_odb_object_free(o);
	if (error == 0) {
		c->last_commit = k->id;
		c->have_commit = true;
	}
	return error;
}

/* Write commits k[0..nk) parents first (among them), oldest first otherwise. */
static int
write_commits(struct compact *c, struct ccommit *k, size_t nk)
{
	struct ccommit **byid;
	int error = 0;

	qsort(k, nk, sizeof(*k), ccommit_time_cmp);
	if ((byid = malloc((nk + 1) * sizeof(*byid))) == NULL)
		return store_err(-1, "store: out of memory");
	for (size_t i = 0; i < nk; i++)
		byid[i] = &k[i];
	qsort(byid, nk, sizeof(*byid), ccommit_id_cmp);
	for (size_t i = 0; i < nk && error == 0; i++) {
		struct ccommit **stack = NULL;
		size_t sp = 0, scap = 0;

		if (k[i].state != 0)
			continue;
		k[i].state = 1;
		if ((stack = malloc((scap = 64) * sizeof(*stack))) == NULL) {
			error = store_err(-1, "store: out of memory");
			break;
		}
		stack[sp++] = &k[i];
		while (sp > 0 && error == 0) {
			struct ccommit *t = stack[sp - 1], *p = NULL;

			for (uint32_t j = 0; j < t->nparents && p == NULL && !t->boundary; j++) {
				struct ccommit *q = ccommit_find(byid, nk, &t->parents[j]);

				if (q != NULL && q->state == 0)
					p = q;
			}
			if (p == NULL) {
				error = put_commit(c, t);
				t->state = 2;
				sp--;
				continue;
			}
			if (sp == scap) {
				struct ccommit **ns = realloc(stack, (scap *= 2) * sizeof(*ns));

				if (ns == NULL) {
					error = store_err(-1, "store: out of memory");
					break;
				}
				stack = ns;
			}
			p->state = 1;
			stack[sp++] = p;
		}
		free(stack);
	}
	free(byid);
	return error;
}

static int
ccommit_push(struct ccommit **k, size_t *nk, size_t *cap)
{
	if (*nk == *cap) {
		struct ccommit *v = realloc(*k, (*cap = *cap ? *cap * 2 : 256) * sizeof(*v));

		if (v == NULL)
			return store_err(-1, "store: out of memory");
		*k = v;
	}
	return 0;
}

static void
compact_free(struct compact *c, struct ccommit *k, size_t nk)
{
	for (size_t i = 0; i < nk; i++)
		free(k[i].parents);
	free(k);
	free(c->ent);
	free(c->set.v);
	store_sbuf_free(&c->pack);
	git_odb_free(c->odb);
}

int
store_compact_build(struct store_odb *o, char (*packs)[128], unsigned npacks,
    char name[46], size_t *nobj)
{
	struct compact c = { 0 };
	struct ccommit *k = NULL;
	size_t nk = 0, capk = 0;
	int error;

	*nobj = 0;
	if ((error = git_odb_open(&c.odb, o->objects)) < 0)
		return store_gerr(error, "store: compact: open %s", o->objects);
	for (unsigned i = 0; i < npacks && error == 0; i++)
		error = add_index(&c, o->packdir, packs[i]);
	/* The commits among them. */
	for (size_t i = 0; i < c.set.cap && error == 0; i++) {
		git_object_t type;
		size_t len;
		git_odb_object *obj;

		if (!c.set.v[i].used)
			continue;
		if ((error = git_odb_read_header(&len, &type, c.odb, &c.set.v[i].id)) < 0) {
			error = store_gerr(error, "store: compact: %s",
			    git_oid_tostr_s(&c.set.v[i].id));
			break;
		}
		if (type != GIT_OBJECT_COMMIT || (error = ccommit_push(&k, &nk, &capk)) < 0)
			continue;
		if ((error = read_obj(&obj, &c, &c.set.v[i].id)) < 0)
			break;
		error = parse_commit(&k[nk], git_odb_object_data(obj), git_odb_object_size(obj));
		git_odb_object_free(obj);
		k[nk].id = c.set.v[i].id;
		nk += error == 0;
	}
	store_pack_header(&c.pack, 0);
	if (error == 0)
		error = write_commits(&c, k, nk);
	/* Whatever no commit reached, whole. */
	for (size_t i = 0; i < c.set.cap && error == 0; i++) {
		git_odb_object *obj;

		if (!c.set.v[i].used || c.set.v[i].off != 0)
			continue;
		if ((error = read_obj(&obj, &c, &c.set.v[i].id)) < 0)
			break;
		error = put_entry(&c, &c.set.v[i], git_odb_object_type(obj),
		    git_odb_object_data(obj), git_odb_object_size(obj), NULL);
		git_odb_object_free(obj);
	}
	if (error == 0) {
		store_put32((uint8_t *)c.pack.p + 8, (uint32_t)c.nent);
		error = store_pack_commit(o, &c.pack, c.ent, c.nent, name);
		*nobj = c.nent;
	}
	compact_free(&c, k, nk);
	return error;
}

static bool
oid_in(const git_oid *v, size_t n, const git_oid *id)
{
	for (size_t i = 0; i < n; i++)
		if (git_oid_equal(&v[i], id))
			return true;
	return false;
}

/* An object written whole, as it is (a tag, a boundary's parent commit). */
static int
put_whole(struct compact *c, const git_oid *id)
{
	struct cslot *s = want(c, id);
	git_odb_object *obj;
	int error;

	if (s == NULL || s->off != 0)
		return 0;
	if ((error = read_obj(&obj, c, id)) < 0)
		return error;
	error = put_entry(c, s, git_odb_object_type(obj), git_odb_object_data(obj),
	    git_odb_object_size(obj), NULL);
	git_odb_object_free(obj);
	return error;
}

/*
 * Retention's rewrite: one pack of everything the tips reach, down to the
 * commits at or before cutoff (seconds), which become the boundary: kept
 * with their whole trees, their parents kept as bare commit objects (so
 * that a walk can read them and stop there; their trees go). Commits in
 * old_bound (an earlier cut's boundary) stay boundaries. Written as
 * compaction writes (deltas against each object's previous version). On
 * success *bounds (malloc'd) holds the new boundary; 1 when no commit is
 * old enough (nothing written).
 */
int
store_rewrite_build(struct store_odb *o, const git_oid *tips, size_t ntips, int64_t cutoff,
    const git_oid *old_bound, size_t nold, char name[46], git_oid **bounds,
    size_t *nbounds, size_t *nobj)
{
	struct compact c = { 0 };
	struct ccommit *k = NULL;
	git_oid *stack = NULL, *bv = NULL;
	size_t nk = 0, capk = 0, sp = 0, scap = 0, nb = 0, capb = 0;
	struct cset seen = { 0 };
	int error;

	*bounds = NULL;
	*nbounds = 0;
	*nobj = 0;
	c.all = true;
	if ((error = git_odb_open(&c.odb, o->objects)) < 0)
		return store_gerr(error, "store: retain: open %s", o->objects);
	store_pack_header(&c.pack, 0);
	/* Tips: annotated tags written whole, then their commits. */
	for (size_t i = 0; i < ntips && error == 0; i++) {
		git_oid id = tips[i];

		for (int hop = 0; hop < 8 && error == 0; hop++) {
			git_odb_object *obj;

			if ((error = read_obj(&obj, &c, &id)) < 0)
				break;
			if (git_odb_object_type(obj) == GIT_OBJECT_TAG) {
				const char *t = git_odb_object_data(obj);

				error = put_whole(&c, &id);
				if (error == 0 && (git_odb_object_size(obj) < 47 ||
				    memcmp(t, "object ", 7) != 0 ||
				    git_oid_fromstrn(&id, t + 7, 40) < 0))
					error = store_err(STORE_EIO, "store: retain: bad tag %s",
					    git_oid_tostr_s(&id));
				git_odb_object_free(obj);
				continue;
			}
			if (git_odb_object_type(obj) == GIT_OBJECT_COMMIT) {
				error = store_oidv_push(&stack, &sp, &scap, &id);
			} else {
				error = put_whole(&c, &id);	/* a ref to a tree or blob */
			}
			git_odb_object_free(obj);
			break;
		}
	}
	/* The kept commits. */
	while (sp > 0 && error == 0) {
		git_oid id = stack[--sp];
		git_odb_object *obj;
		struct ccommit *t;

		if (cset_find(&seen, &id) != NULL)
			continue;
		if ((error = cset_add(&seen, &id)) < 0 || (error = ccommit_push(&k, &nk, &capk)) < 0 ||
		    (error = read_obj(&obj, &c, &id)) < 0)
			break;
		t = &k[nk];
		error = parse_commit(t, git_odb_object_data(obj), git_odb_object_size(obj));
		git_odb_object_free(obj);
		if (error < 0)
			break;
		t->id = id;
		nk++;
		if (t->time <= cutoff || oid_in(old_bound, nold, &id) || t->nparents == 0) {
			if (t->nparents == 0 && t->time > cutoff && !oid_in(old_bound, nold, &id))
				continue;	/* a root inside the window: nothing beyond */
			t->boundary = true;
			error = store_oidv_push(&bv, &nb, &capb, &id);
			continue;
		}
		for (uint32_t j = 0; j < t->nparents && error == 0; j++)
			error = store_oidv_push(&stack, &sp, &scap, &t->parents[j]);
	}
	/* Only a boundary that drops something is worth a rewrite. */
	if (error == 0) {
		bool drops = false;

		for (size_t i = 0; i < nk && !drops; i++)
			drops = k[i].boundary && k[i].nparents > 0 && !oid_in(old_bound, nold, &k[i].id);
		if (!drops)
			error = 1;
	}
	if (error == 0)
		error = write_commits(&c, k, nk);
	/* The boundary's parents, bare: a walk reads them and stops. */
	for (size_t i = 0; i < nk && error == 0; i++)
		for (uint32_t j = 0; k[i].boundary && j < k[i].nparents && error == 0; j++) {
			git_odb_object *obj;

			if (git_odb_read(&obj, c.odb, &k[i].parents[j]) < 0) {
				git_error_clear();	/* gone already: an older stub's parent */
				continue;
			}
			git_odb_object_free(obj);
			error = put_whole(&c, &k[i].parents[j]);
		}
	if (error == 0) {
		store_put32((uint8_t *)c.pack.p + 8, (uint32_t)c.nent);
		error = store_pack_commit(o, &c.pack, c.ent, c.nent, name);
		*nobj = c.nent;
	}
	if (error == 0) {
		*bounds = bv;
		*nbounds = nb;
		bv = NULL;
	}
	free(bv);
	free(stack);
	free(seen.v);
	compact_free(&c, k, nk);
	return error;
}

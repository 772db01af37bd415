/* SPDX-License-Identifier: ISC */
/*
 * Pack maintenance: listing, geometric consolidation of small packs by
 * copying their entries (deltas included: an OFS_DELTA's distance to its
 * base is rewritten for the merged pack), on a thread of its own while
 * commits go on, a full repack through libgit2's packbuilder, and the
 * clean-up of what a crash left behind.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "odb_impl.h"

struct packinfo {
	char		name[128];	/* "pack-<hex>" */
	uint32_t	nobj;
	uint64_t	bytes;		/* of the .pack */
	bool		fresh;		/* the commit path's, not compacted */
};

static bool
is_retired(const struct store_odb *o, const char *name, size_t len)
{
	for (unsigned i = 0; i < o->nretired; i++)
		if (strncmp(o->retired[i].name, name, len) == 0 && o->retired[i].name[len] == '\0')
			return true;
	return false;
}

static int
pack_list(struct store_odb *o, struct packinfo **out, unsigned *n)
{
	DIR *d;
	struct dirent *de;
	struct packinfo *v = NULL;
	unsigned cnt = 0, cap = 0;

	if ((d = opendir(o->packdir)) == NULL)
		return store_err(STORE_EIO, "store: %s: %s", o->packdir, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		char path[4400];
		uint8_t fan[4];
		int fd;

		if (l < 5 || l >= sizeof(v->name) + 4 || strncmp(de->d_name, "pack-", 5) != 0 ||
		    strcmp(de->d_name + l - 4, ".idx") != 0 || is_retired(o, de->d_name, l - 4))
			continue;
		if (cnt == cap) {
			struct packinfo *nv = realloc(v, (cap = cap ? cap * 2 : 16) * sizeof(*v));

			if (nv == NULL) {
				free(v);
				closedir(d);
				return store_err(-1, "store: out of memory");
			}
			v = nv;
		}
		memcpy(v[cnt].name, de->d_name, l - 4);
		v[cnt].name[l - 4] = '\0';
		v[cnt].nobj = 0;
		snprintf(path, sizeof(path), "%s/%s", o->packdir, de->d_name);
		/* Object count: the last fan-out word (index v2 header is 8 bytes). */
		if ((fd = open(path, O_RDONLY)) >= 0) {
			if (pread(fd, fan, 4, 8 + 255 * 4) == 4)
				v[cnt].nobj = (uint32_t)fan[0] << 24 | (uint32_t)fan[1] << 16 |
				    (uint32_t)fan[2] << 8 | fan[3];
			close(fd);
		}
		{
			struct stat sb;

			snprintf(path, sizeof(path), "%s/%s.pack", o->packdir, v[cnt].name);
			v[cnt].bytes = stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
		}
		v[cnt].fresh = store_pack_fresh(o->packdir, v[cnt].name);
		cnt++;
	}
	closedir(d);
	*out = v;
	*n = cnt;
	return 0;
}

unsigned
store_odb_pack_count(struct store_odb *o)
{
	struct packinfo *v;
	unsigned n;

	if (pack_list(o, &v, &n) < 0)
		return 0;
	free(v);
	return n;
}

static int
pinfo_cmp(const void *a, const void *b)
{
	const struct packinfo *x = a, *y = b;

	return x->bytes < y->bytes ? -1 : x->bytes > y->bytes;
}

static int
read_whole(const char *path, struct sbuf *b)
{
	char buf[65536];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return store_err(STORE_EIO, "store: %s: %s", path, strerror(errno));
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		store_sbuf_add(b, buf, (size_t)n);
	close(fd);
	if (n < 0 || b->oom)
		return store_err(STORE_EIO, "store: %s: read failed", path);
	return 0;
}


/*
 * Object ids -> their offset in the pack being merged (open addressing;
 * the zero id marks a free slot). An object in several source packs is
 * copied once, and a delta whose base was such a duplicate is pointed at
 * the copy made first.
 */
struct oidmap {
	struct oidslot {
		git_oid		id;
		uint32_t	off;
	}		*v;
	size_t		cap, n;		/* cap: power of two */
};

static struct oidslot *
oidmap_find(const struct oidmap *m, const git_oid *id)
{
	if (m->cap == 0)
		return NULL;
	for (size_t i = store_oid_hash(id) & (m->cap - 1); !git_oid_is_zero(&m->v[i].id);
	    i = (i + 1) & (m->cap - 1))
		if (git_oid_equal(&m->v[i].id, id))
			return &m->v[i];
	return NULL;
}

/* Map id to off unless mapped: 1 if it was there already, 0 if added, -1 OOM. */
static int
oidmap_add(struct oidmap *m, const git_oid *id, uint32_t off)
{
	size_t i;

	if ((m->n + 1) * 2 > m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 4096;
		struct oidmap t = { calloc(cap, sizeof(*t.v)), cap, 0 };

		if (t.v == NULL)
			return -1;
		for (size_t k = 0; k < m->cap; k++)
			if (!git_oid_is_zero(&m->v[k].id))
				oidmap_add(&t, &m->v[k].id, m->v[k].off);
		free(m->v);
		*m = t;
	}
	for (i = store_oid_hash(id) & (m->cap - 1); !git_oid_is_zero(&m->v[i].id);
	    i = (i + 1) & (m->cap - 1))
		if (git_oid_equal(&m->v[i].id, id))
			return 1;
	git_oid_cpy(&m->v[i].id, id);
	m->v[i].off = off;
	m->n++;
	return 0;
}

/*
 * Entry headers (gitformat-pack.txt). An entry starts with its type (bits
 * 4-6 of the first byte) and inflated size, little-endian base 128; an
 * OFS_DELTA continues with how far back its base starts, a REF_DELTA with
 * the base's id. Then the zlib stream, which a merge copies untouched.
 */
#define SIZE_MAX_BYTES	10	/* a 64-bit size in 4 + 9 * 7 bits */

/* Length of the type-and-size bytes at p[0..len), or 0 if they run past it. */
static size_t
hdr_len(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len && i < SIZE_MAX_BYTES; i++)
		if ((p[i] & 0x80) == 0)
			return i + 1;
	return 0;
}

/*
 * The offset encoding: big-endian base 128 where each continuation also
 * adds 1, so every value has exactly one encoding. *used gets its length;
 * -1 if it runs past len or beyond what a 32-bit index could name.
 */
static int
ofs_decode(uint64_t *rel, size_t *used, const uint8_t *p, size_t len)
{
	uint64_t v;
	size_t i = 0;

	if (len == 0)
		return -1;
	v = p[0] & 0x7f;
	while (p[i] & 0x80) {
		if (++i >= len || v >= (uint64_t)1 << 32)
			return -1;
		v = ((v + 1) << 7) | (p[i] & 0x7f);
	}
	*rel = v;
	*used = i + 1;
	return 0;
}

#define OFS_MAX_BYTES	5	/* a 32-bit offset */

/* Encode rel (< 2^32) into out[]; returns the length, as git writes it. */
static size_t
ofs_encode(uint8_t out[OFS_MAX_BYTES], uint32_t rel)
{
	uint8_t t[OFS_MAX_BYTES];
	size_t pos = sizeof(t) - 1;

	t[pos] = rel & 0x7f;
	while (rel >>= 7)
		t[--pos] = (uint8_t)(0x80 | (--rel & 0x7f));
	memcpy(out, t + pos, sizeof(t) - pos);
	return sizeof(t) - pos;
}

/* One entry of a source pack, in offset order. */
struct srcent {
	git_oid		id;
	uint32_t	crc;		/* from the index */
	uint32_t	off, end;	/* entry bytes: [off, end) */
	uint32_t	base;		/* OFS_DELTA: index of the base entry */
	uint8_t		type;
	uint8_t		hlen;		/* type and size bytes */
	uint8_t		olen;		/* OFS_DELTA: offset bytes */
};

static int
srcent_cmp(const void *a, const void *b)
{
	const struct srcent *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

/* The entry of e[0..n) (by offset) starting at off, or -1. */
static long
srcent_at(const struct srcent *e, size_t n, uint32_t off)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (e[mid].off == off)
			return (long)mid;
		if (e[mid].off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/*
 * Append the objects of pack `name` to out (their entries to v from *nv),
 * in the pack's offset order, skipping those already in seen. Entries are
 * copied as they are, except that an OFS_DELTA gets the distance to its
 * base's copy in out (the base is earlier in its pack, so it was copied,
 * or met as a duplicate of an earlier copy, before the delta) and a CRC
 * of its new bytes. A REF_DELTA names its base by id: it qualifies when
 * the base is in the same pack or already in out. Returns 0 when added, 1
 * when the pack is left alone (64-bit offsets or not ours, an unknown
 * entry type, a REF_DELTA base elsewhere), or a negative error (the merge
 * is abandoned) on a pack that contradicts its index.
 */
static int
raw_append(struct store_odb *o, const char *name, struct sbuf *out,
    struct pentry **v, size_t *nv, size_t *cap, struct oidmap *seen)
{
	struct sbuf idx = { 0 }, pack = { 0 };
	struct srcent *e = NULL;
	const uint8_t *ids, *pk;
	char path[4400];
	uint32_t n;
	int error;

	snprintf(path, sizeof(path), "%s/%s.idx", o->packdir, name);
	if ((error = read_whole(path, &idx)) < 0)
		goto done;
	snprintf(path, sizeof(path), "%s/%s.pack", o->packdir, name);
	if ((error = read_whole(path, &pack)) < 0)
		goto done;
	if (idx.len < 8 + 1024 + 40 || memcmp(idx.p, "\377tOc\0\0\0\2", 8) != 0 ||
	    pack.len < 32 || memcmp(pack.p, "PACK", 4) != 0) {
		error = store_err(STORE_EIO, "store: %s: not a version 2 pack and index", name);
		goto done;
	}
	n = store_get32((uint8_t *)idx.p + 8 + 1020);
	if (idx.len != 8 + 1024 + (size_t)n * 28 + 40 || store_get32((uint8_t *)pack.p + 8) != n ||
	    pack.len - 20 > 0x7fffffff) {
		error = 1;		/* 64-bit offsets, or not ours: leave it */
		goto done;
	}
	if ((e = malloc((n + 1) * sizeof(*e))) == NULL) {
		error = store_err(-1, "store: out of memory");
		goto done;
	}
	ids = (const uint8_t *)idx.p + 8 + 1024;
	pk = (const uint8_t *)pack.p;
	for (uint32_t i = 0; i < n; i++) {
		memcpy(e[i].id.id, ids + (size_t)i * 20, 20);
		e[i].crc = store_get32(ids + (size_t)n * 20 + (size_t)i * 4);
		e[i].off = store_get32(ids + (size_t)n * 24 + (size_t)i * 4);
	}
	qsort(e, n, sizeof(*e), srcent_cmp);
	/* Check every entry before appending any. */
	for (uint32_t i = 0; i < n; i++) {
		size_t end = i + 1 < n ? e[i + 1].off : pack.len - 20, hl, ol;
		uint64_t rel;
		long b;

		if (e[i].off < 12 || end > pack.len - 20 || end <= e[i].off ||
		    (hl = hdr_len(pk + e[i].off, end - e[i].off)) == 0) {
			error = store_err(STORE_EIO, "store: %s: bad offsets", name);
			goto done;
		}
		e[i].end = (uint32_t)end;
		e[i].hlen = (uint8_t)hl;
		e[i].olen = 0;
		e[i].type = (pk[e[i].off] >> 4) & 7;
		switch (e[i].type) {
		case GIT_OBJECT_COMMIT:
		case GIT_OBJECT_TREE:
		case GIT_OBJECT_BLOB:
		case GIT_OBJECT_TAG:
			break;
		case PACK_OFS_DELTA:
			/* The base starts rel bytes back, at an entry before this one. */
			if (ofs_decode(&rel, &ol, pk + e[i].off + hl, end - e[i].off - hl) < 0 ||
			    rel == 0 || rel > e[i].off ||
			    (b = srcent_at(e, i, (uint32_t)(e[i].off - rel))) < 0) {
				error = store_err(STORE_EIO, "store: %s: delta at %u: no base",
				    name, (unsigned)e[i].off);
				goto done;
			}
			e[i].olen = (uint8_t)ol;
			e[i].base = (uint32_t)b;
			/*
			 * Its bytes get rewritten, and no longer the ones the index
			 * vouches for: check those, so damage is not given a fresh CRC.
			 */
			if (store_crc32(0, pk + e[i].off, end - e[i].off) != e[i].crc) {
				error = store_err(STORE_EIO, "store: %s: entry at %u: CRC mismatch",
				    name, (unsigned)e[i].off);
				goto done;
			}
			break;
		case PACK_REF_DELTA:
			if (end - e[i].off < hl + GIT_OID_RAWSZ) {
				error = store_err(STORE_EIO, "store: %s: bad offsets", name);
				goto done;
			}
			{
				git_oid bid;

				memcpy(bid.id, pk + e[i].off + hl, GIT_OID_RAWSZ);
				if (!store_oid_table_find(ids, 0, n, bid.id, NULL) && oidmap_find(seen, &bid) == NULL) {
					error = 1;	/* a thin pack: its base is elsewhere */
					goto done;
				}
			}
			break;
		default:
			error = 1;	/* type 0 or 5: not a pack we understand */
			goto done;
		}
	}
	if (*nv + n > *cap) {
		size_t c = (*nv + n) * 2;
		struct pentry *nvv = realloc(*v, c * sizeof(**v));

		if (nvv == NULL) {
			error = store_err(-1, "store: out of memory");
			goto done;
		}
		*v = nvv;
		*cap = c;
	}
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *src = pk + e[i].off, *rest;
		size_t restlen;
		uint8_t h[SIZE_MAX_BYTES + OFS_MAX_BYTES];
		const struct oidslot *b;
		struct pentry *d;
		int dup;

		if (out->len > 0x7fffffff) {
			error = store_err(-1, "store: merged pack too large");
			goto done;
		}
		if ((dup = oidmap_add(seen, &e[i].id, (uint32_t)out->len)) < 0) {
			error = store_err(-1, "store: out of memory");
			goto done;
		}
		if (dup)
			continue;	/* in an earlier pack too: once is enough */
		d = &(*v)[(*nv)++];
		d->id = e[i].id;
		d->off = (uint32_t)out->len;
		if (e[i].type != PACK_OFS_DELTA) {
			d->crc = e[i].crc;
			store_sbuf_add(out, (const char *)src, e[i].end - e[i].off);
			continue;
		}
		rest = src + e[i].hlen + e[i].olen;
		restlen = e[i].end - e[i].off - e[i].hlen - e[i].olen;
		/* The base, earlier in this pack, was copied or found a duplicate. */
		if ((b = oidmap_find(seen, &e[e[i].base].id)) == NULL) {
			error = store_err(STORE_EIO, "store: %s: delta at %u: no base",
			    name, (unsigned)e[i].off);
			goto done;
		}
		memcpy(h, src, e[i].hlen);
		{
			size_t hl = e[i].hlen + ofs_encode(h + e[i].hlen, d->off - b->off);

			d->crc = store_crc32(store_crc32(0, h, hl), rest, restlen);
			store_sbuf_add(out, (const char *)h, hl);
		}
		store_sbuf_add(out, (const char *)rest, restlen);
	}
	error = 0;
done:
	free(e);
	store_sbuf_free(&idx);
	store_sbuf_free(&pack);
	return error;
}

/*
 * Files stock git keeps beside a pack of its own (a repack of a bare
 * repository writes a bitmap by default), meaningless without it.
 */
static const char *const pack_companions[] = { ".rev", ".bitmap", ".mtimes" };

static void
pack_remove(struct store_odb *o, const char *name)
{
	char path[4400];

	/* The index first: a pack without one is ignored, then cleaned. */
	snprintf(path, sizeof(path), "%s/%s.idx", o->packdir, name);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s.pack", o->packdir, name);
	unlink(path);
	for (size_t i = 0; i < sizeof(pack_companions) / sizeof(*pack_companions); i++) {
		snprintf(path, sizeof(path), "%s/%s%s", o->packdir, name, pack_companions[i]);
		unlink(path);
	}
}

/*
 * A pack a merge replaced leaves the store's list now and the disk after
 * a grace period. git fsck lists the packs once and opens each index
 * later; a pack gone in between is an error to it ("index not opened"),
 * and stock git's repack -d has the same race. The grace gives any such
 * reader of a live repository (an operator's git fsck or git log, a
 * standby's fetch) time to finish. Without memory to remember it, a pack
 * goes at once.
 */
static void
pack_retire(struct store_odb *o, const char *name)
{
	static const char *const exts[] = { ".idx", ".pack", ".rev", ".bitmap", ".mtimes" };
	struct retired *r;

	if (o->nretired == o->retired_cap) {
		unsigned c = o->retired_cap ? o->retired_cap * 2 : 8;
		struct retired *nv = realloc(o->retired, c * sizeof(*nv));

		if (nv == NULL) {
			pack_remove(o, name);
			return;
		}
		o->retired = nv;
		o->retired_cap = c;
	}
	r = &o->retired[o->nretired++];
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->at_us = store_mono_us();
	r->bytes = 0;
	for (size_t i = 0; i < sizeof(exts) / sizeof(*exts); i++) {
		char path[4400];
		struct stat sb;

		snprintf(path, sizeof(path), "%s/%s%s", o->packdir, name, exts[i]);
		if (stat(path, &sb) == 0)
			r->bytes += (uint64_t)sb.st_size;
	}
	o->retired_bytes += r->bytes;
}

static uint64_t
dir_bytes(const char *dir)
{
	DIR *d;
	struct dirent *de;
	uint64_t sum = 0;

	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		struct stat sb;

		if (de->d_name[0] != '.' && fstatat(dirfd(d), de->d_name, &sb, 0) == 0 &&
		    S_ISREG(sb.st_mode))
			sum += (uint64_t)sb.st_size;
	}
	closedir(d);
	return sum;
}

int
store_odb_reap(struct store_odb *o, bool all)
{
	uint64_t now = store_mono_us();
	unsigned k = 0, gone = 0;

	if (o->nretired == 0)
		return 0;
	/* Over the disk bound: a reader's convenience must not cost history. */
	if (!all && o->retire_cap > 0 && dir_bytes(o->packdir) > o->retire_cap)
		all = true;
	for (unsigned i = 0; i < o->nretired; i++) {
		struct retired *r = &o->retired[i];

		if (all || now - r->at_us >= o->retire_grace_us) {
			pack_remove(o, r->name);
			o->retired_bytes -= r->bytes;
			gone++;
		} else {
			o->retired[k++] = *r;
		}
	}
	o->nretired = k;
	return gone > 0;
}

void
store_odb_set_grace(struct store_odb *o, uint64_t grace_us)
{
	o->retire_grace_us = grace_us;
}

void
store_odb_set_retire_cap(struct store_odb *o, uint64_t cap_bytes)
{
	o->retire_cap = cap_bytes;
}

uint64_t
store_odb_retired_bytes(const struct store_odb *o)
{
	return o->retired_bytes;
}

/*
 * Geometric consolidation of the small packs: sorted by size, a pack is
 * kept if it holds more than twice the bytes of all smaller packs together;
 * the rest are merged into one by copying their entries (no recompression,
 * no delta search), so a flush never waits on delta compression and each
 * object is copied O(log n) times. Packs of PACK_BIG bytes or more are not
 * copied again (their number grows with the history, not with the commit
 * rate; store_odb_repack() folds them), nor are packs past the merge's
 * memory bound (store_odb_set_merge_max: the merged pack is built in
 * memory), so with a bound the pack count grows with the history's size
 * over the bound. An object in several packs is copied once, from the
 * smallest pack holding it.
 *
 * Deltas are copied as deltas (raw_append): each object keeps the
 * representation it had in the pack it is copied from, so a chain is as
 * long as it was there, unless its base was a duplicate copied earlier
 * from another pack with a longer chain. Duplicates are rare (the inputs
 * of a merge that a crash left beside it, which are the same bytes), so
 * depth is not tracked here; store_odb_repack() rebuilds chains anyway.
 * Packs with 64-bit offsets, and thin packs, are left as they are.
 */
#define PACK_BIG	((uint64_t)64 << 20)

/*
 * A merge of packs: chosen by the writer, built (read the packs, write the
 * merged one durably) on a thread of its own, finished by the writer
 * (remove the merged packs, reopen the pack backend) at a flush. The
 * build reads only pack files and o's paths and fsync flag, so it runs
 * beside commits and flushes; a crash leaves the merged pack beside its
 * inputs, which the next merge de-duplicates.
 */
struct merge_job {
	struct store_odb *o;
	bool		compact;	/* compact.c's rewrite, not a copy */
	bool		retain;		/* retention's rewrite of every pack */
	git_oid		*tips, *old;	/* retain: the refs, the old boundary */
	size_t		ntips, nold;
	int64_t		cutoff;
	struct packinfo	*p;		/* the packs, smallest first */
	unsigned	cut;		/* p[0..cut) are merged */
	bool		*used;		/* p[i] went into the merged pack */
	char		name[46];	/* the merged pack */
	size_t		merged;
	int		error;
	char		msg[512];
	pthread_t	thread;
	bool		threaded;
	atomic_bool	done;
};

static void
job_free(struct merge_job *j)
{
	if (j == NULL)
		return;
	free(j->tips);
	free(j->old);
	free(j->used);
	free(j->p);
	free(j);
}

/* Fresh packs first (compact: only they), then by size. */
static int
pinfo_fresh_cmp(const void *a, const void *b)
{
	const struct packinfo *x = a, *y = b;

	if (x->fresh != y->fresh)
		return x->fresh ? -1 : 1;
	return pinfo_cmp(a, b);
}

/*
 * Compaction: every fresh pack. NULL when there is none, or, unless
 * forced, when they are younger than due allows (the oldest's mtime).
 */
static int
job_plan_compact(struct merge_job **out, struct store_odb *o)
{
	struct merge_job *j;
	unsigned n, fresh = 0;
	int error;

	*out = NULL;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return store_err(-1, "store: out of memory");
	j->o = o;
	j->compact = true;
	if ((error = pack_list(o, &j->p, &n)) < 0) {
		free(j);
		return error;
	}
	qsort(j->p, n, sizeof(*j->p), pinfo_fresh_cmp);
	while (fresh < n && j->p[fresh].fresh)
		fresh++;
	j->cut = fresh;
	if (fresh == 0 || (j->used = calloc(fresh, sizeof(*j->used))) == NULL) {
		error = fresh == 0 ? 0 : store_err(-1, "store: out of memory");
		job_free(j);
		return error;
	}
	*out = j;
	return 0;
}

/*
 * The geometric choice above, among the packs of one kind (fresh ones are
 * merged with fresh ones only, so compaction still finds them); NULL when
 * fewer than two packs qualify.
 */
void
store_odb_set_merge_max(struct store_odb *o, uint64_t bytes)
{
	o->merge_max = bytes;
}

static int
job_plan(struct merge_job **out, struct store_odb *o, unsigned max)
{
	struct merge_job *j;
	unsigned n, small = 0, nfresh = 0;
	uint64_t below = 0;
	int error;

	*out = NULL;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return store_err(-1, "store: out of memory");
	j->o = o;
	if ((error = pack_list(o, &j->p, &n)) < 0) {
		free(j);
		return error;
	}
	if (n <= max) {
		job_free(j);
		return 0;
	}
	qsort(j->p, n, sizeof(*j->p), pinfo_fresh_cmp);
	while (nfresh < n && j->p[nfresh].fresh)
		nfresh++;
	/* The kind with more packs: fresh ones are p[0..nfresh). */
	if (nfresh < n - nfresh) {
		memmove(j->p, j->p + nfresh, (n - nfresh) * sizeof(*j->p));
		n -= nfresh;
	} else {
		n = nfresh;
	}
	while (small < n && j->p[small].bytes < PACK_BIG)
		small++;
	j->cut = small;
	for (unsigned i = 0; i < small; i++) {
		/* Past twice the smaller ones, or past what memory allows. */
		if ((i >= 2 && j->p[i].bytes > 2 * below) ||
		    (o->merge_max != 0 && below + j->p[i].bytes > o->merge_max)) {
			j->cut = i;
			break;
		}
		below += j->p[i].bytes;
	}
	if (j->cut < 2 || (j->used = calloc(j->cut, sizeof(*j->used))) == NULL) {
		error = j->cut < 2 ? 0 : store_err(-1, "store: out of memory");
		job_free(j);
		return error;
	}
	*out = j;
	return 0;
}

/* Write the merged pack, durably. Touches none of the writer's libgit2 state. */
static void
job_build(struct merge_job *j)
{
	struct pentry *v = NULL;
	struct sbuf out = { 0 };
	struct oidmap seen = { 0 };
	size_t nv = 0, cap = 0;
	int error = 0;

	if (j->retain) {
		git_oid *bounds = NULL;
		size_t nb = 0, nobj;
		char gitdir[4000];
		size_t gl = strlen(j->o->objects);

		error = store_rewrite_build(j->o, j->tips, j->ntips, j->cutoff, j->old, j->nold,
		    j->name, &bounds, &nb, &nobj);
		if (error == 0) {
			/* objects/ is <gitdir>/objects */
			snprintf(gitdir, sizeof(gitdir), "%.*s", (int)(gl > 8 ? gl - 8 : gl),
			    j->o->objects);
			error = store_shallow_write(gitdir, bounds, nb);
		}
		if (error == 0) {
			/*
			 * A commit-graph names commits the cut drops, and git
			 * keeps none for a shallow history: it goes.
			 */
			char path[4200];

			snprintf(path, sizeof(path), "%s/info/commit-graph", j->o->objects);
			unlink(path);
			snprintf(path, sizeof(path), "%s/info/commit-graphs/commit-graph-chain",
			    j->o->objects);
			unlink(path);
		}
		free(bounds);
		if (error == 0)
			for (unsigned i = 0; i < j->cut; i++)
				j->used[i] = strcmp(j->p[i].name, j->name) != 0;
		j->merged = error == 0 ? j->cut : 0;
		if (error == 1)
			error = 0;	/* nothing old enough: nothing written */
		goto done;
	}
	if (j->compact) {
		char (*names)[128] = malloc(j->cut * sizeof(*names));
		size_t nobj;

		if (names == NULL) {
			error = store_err(-1, "store: out of memory");
			goto done;
		}
		for (unsigned i = 0; i < j->cut; i++)
			memcpy(names[i], j->p[i].name, sizeof(names[i]));
		error = store_compact_build(j->o, names, j->cut, j->name, &nobj);
		free(names);
		if (error == 0)
			for (unsigned i = 0; i < j->cut; i++)
				j->used[i] = strcmp(j->p[i].name, j->name) != 0;
		j->merged = error == 0 ? j->cut : 0;
		goto done;
	}
	store_pack_header(&out, 0);
	for (unsigned i = 0; i < j->cut; i++) {
		if ((error = raw_append(j->o, j->p[i].name, &out, &v, &nv, &cap, &seen)) < 0)
			goto done;
		j->used[i] = error == 0;
		j->merged += error == 0;
	}
	error = 0;
	if (j->merged < 2)
		goto done;
	store_put32((uint8_t *)out.p + 8, (uint32_t)nv);
	error = store_pack_commit(j->o, &out, v, nv, j->name);
done:
	if (error < 0)
		snprintf(j->msg, sizeof(j->msg), "%s", store_strerror());
	j->error = error < 0 ? error : 0;
	store_sbuf_free(&out);
	free(seen.v);
	free(v);
}

static void *
job_main(void *arg)
{
	struct merge_job *j = arg;

	job_build(j);
	atomic_store(&j->done, true);
	return NULL;
}

/*
 * The merged pack is durable: the old ones may go. Not one whose name it
 * took: when every object of the others was a duplicate, the merged pack
 * is byte for byte that pack, renamed over it. Then the pack backend,
 * which still holds the deleted packs, starts afresh (rebuild false: the
 * store is closing).
 */
static int
job_finish(struct store_odb *o, struct merge_job *j, bool rebuild)
{
	int error = j->error;

	if (error < 0) {
		/* Reported by the next poll (a pack count does not report). */
		o->merge_error = error;
		snprintf(o->merge_msg, sizeof(o->merge_msg), "%s", j->msg);
		error = 0;
	} else if (j->merged >= 2 || ((j->compact || j->retain) && j->merged >= 1)) {
		if (j->compact)
			j->o->compactions++;
		if (j->retain)
			j->o->retain_done = true;
		for (unsigned i = 0; i < j->cut; i++)
			if (j->used[i] && strcmp(j->p[i].name, j->name) != 0)
				pack_retire(o, j->p[i].name);
		(void)store_odb_reap(o, !rebuild);
		if (rebuild)
			error = store_odb_rebuild(o);
	}
	job_free(j);
	return error < 0 ? error : 1;
}

int
store_odb_merge_settle(struct store_odb *o, bool wait)
{
	struct merge_job *j = o->job;

	/* Retired packs past their grace go, and the pack backend with them. */
	if (o->nretired > 0 && store_odb_pending(o) == 0 && store_odb_reap(o, false) == 1) {
		int error = store_odb_rebuild(o);

		if (error < 0)
			return error;
	}
	if (j == NULL || (!wait && !atomic_load(&j->done)))
		return 0;
	if (j->threaded)
		pthread_join(j->thread, NULL);
	j->threaded = false;
	if (store_odb_pending(o) != 0)
		return 0;	/* the pack backend may only be rebuilt between flushes */
	o->job = NULL;
	return job_finish(o, j, true);
}

int
store_odb_merge_poll(struct store_odb *o, bool wait)
{
	int error = store_odb_merge_settle(o, wait);

	if (error >= 0 && o->merge_error < 0) {
		error = store_err(o->merge_error, "%s", o->merge_msg);
		o->merge_error = 0;
	}
	return error;
}

bool
store_odb_merging(const struct store_odb *o)
{
	return o->job != NULL;
}

int
store_odb_merge_start(struct store_odb *o, unsigned max, bool compact)
{
	struct merge_job *j;
	int error;

	if (o->job != NULL)
		return 0;
	if ((error = compact ? job_plan_compact(&j, o) : job_plan(&j, o, max)) < 0 ||
	    j == NULL)
		return error;
	if (compact) {
		o->fresh_since_us = 0;
		o->fresh_bytes = 0;
	}
	if (pthread_create(&j->thread, NULL, job_main, j) != 0) {
		job_build(j);		/* no thread: do it here */
		atomic_store(&j->done, true);
	} else {
		j->threaded = true;
	}
	o->job = j;
	return 0;
}

void
store_odb_merge_abandon(struct store_odb *o)
{
	struct merge_job *j = o->job;

	if (j == NULL)
		return;
	if (j->threaded)
		pthread_join(j->thread, NULL);
	o->job = NULL;
	(void)job_finish(o, j, false);
	o->merge_error = 0;	/* closing: nobody to tell; nothing was lost */
}

int
store_odb_consolidate(struct store_odb *o, unsigned max)
{
	struct merge_job *j;
	int error;

	if ((error = store_odb_merge_poll(o, true)) < 0)
		return error;
	if (store_odb_pending(o) != 0 || (error = job_plan(&j, o, max)) < 0 || j == NULL)
		return error;
	job_build(j);
	if ((error = job_finish(o, j, true)) < 0)
		return error;
	return store_odb_merge_poll(o, false);	/* reports a failed build */
}

static int
insert_one(void *pb, const git_oid *id)
{
	int error = git_packbuilder_insert(pb, id, NULL);

	return error < 0 ? store_gerr(error, "store: repack %s", git_oid_tostr_s(id)) : 0;
}

/* Call fn on every object id of a version 2 pack index, in index order. */
int
store_idx_foreach(const char *idxpath, int (*fn)(void *ctx, const git_oid *id), void *ctx)
{
	FILE *f = fopen(idxpath, "rb");
	uint8_t head[8 + 1024];
	uint32_t n;
	int error = 0;

	if (f == NULL)
		return store_err(STORE_EIO, "store: %s: %s", idxpath, strerror(errno));
	if (fread(head, 1, sizeof(head), f) != sizeof(head) ||
	    memcmp(head, "\377tOc\0\0\0\2", 8) != 0) {
		fclose(f);
		return store_err(STORE_EIO, "store: %s: not a version 2 pack index", idxpath);
	}
	n = store_get32(head + 8 + 1020);
	for (uint32_t i = 0; i < n && error == 0; i++) {
		git_oid id;

		if (fread(id.id, 1, GIT_OID_RAWSZ, f) != GIT_OID_RAWSZ) {
			error = store_err(STORE_EIO, "store: %s: truncated", idxpath);
			break;
		}
		error = fn(ctx, &id);
	}
	fclose(f);
	return error;
}

/* Every pack into one, with deltas and compression (libgit2's packbuilder). */
int
store_odb_repack(struct store_odb *o)
{
	struct packinfo *p = NULL;
	git_packbuilder *pb = NULL;
	const char *keep;
	unsigned n;
	int error;

	if ((error = store_odb_merge_poll(o, true)) < 0 ||
	    (error = pack_list(o, &p, &n)) < 0)
		return error;
	if (n == 0 || store_odb_pending(o) != 0)
		goto done;
	if ((error = git_packbuilder_new(&pb, o->repo)) < 0) {
		error = store_gerr(error, "store: repack");
		goto done;
	}
	for (unsigned i = 0; i < n && error == 0; i++) {
		char path[4400];

		snprintf(path, sizeof(path), "%s/%s.idx", o->packdir, p[i].name);
		error = store_idx_foreach(path, insert_one, pb);
	}
	if (error == 0 && (error = git_packbuilder_write(pb, o->packdir, 0, NULL, NULL)) < 0)
		error = store_gerr(error, "store: repack write");
	if (error < 0)
		goto done;
	if (o->fsync && (error = store_fsync_dir(o->packdir)) < 0)
		goto done;
	keep = git_packbuilder_name(pb);
	for (unsigned i = 0; i < n; i++)
		if (keep == NULL || strcmp(p[i].name + 5, keep) != 0)
			pack_retire(o, p[i].name);
	(void)store_odb_reap(o, false);
	error = store_odb_rebuild(o);
done:
	git_packbuilder_free(pb);
	free(p);
	return error;
}

/*
 * The store's own temporary pack files (see cleanup_stale in repo.c), and a
 * companion (.rev, .bitmap, .mtimes) whose pack is gone: what a crash in the
 * middle of pack_remove leaves. That one is nobody's in flight: stock git
 * renames a pack into place before its companions, never after.
 */
static bool
orphan_companion(const char *dir, const char *nm)
{
	size_t l = strlen(nm);
	char path[4400];
	struct stat st;

	for (size_t i = 0; i < sizeof(pack_companions) / sizeof(*pack_companions); i++) {
		size_t cl = strlen(pack_companions[i]);

		if (l <= cl || strcmp(nm + l - cl, pack_companions[i]) != 0)
			continue;
		if (snprintf(path, sizeof(path), "%s/%.*s.pack", dir, (int)(l - cl), nm) >=
		    (int)sizeof(path))
			return false;
		return stat(path, &st) < 0 && errno == ENOENT;
	}
	return false;
}

static void
remove_own_temps(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[4400];

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "tmp_gitnet_", 11) != 0 &&
		    strncmp(de->d_name, "pack_git2_", 10) != 0 &&
		    !orphan_companion(dir, de->d_name))
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) <
		    (int)sizeof(path))
			unlink(path);
	}
	closedir(d);
}

int
store_odb_cleanup(const char *objects_dir)
{
	char path[4400];

	snprintf(path, sizeof(path), "%s/pack", objects_dir);
	remove_own_temps(path);
	return 0;
}

uint64_t
store_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

bool
store_odb_compact_due(const struct store_odb *o, unsigned every_s)
{
	if (every_s == 0 || o->fresh_since_us == 0)
		return false;
	return o->fresh_bytes >= ((uint64_t)64 << 20) ||
	    store_mono_us() - o->fresh_since_us >= (uint64_t)every_s * 1000000;
}

uint64_t
store_odb_compactions(const struct store_odb *o)
{
	return o->compactions;
}

int
store_odb_compact(struct store_odb *o)
{
	struct merge_job *j;
	int error;

	if ((error = store_odb_merge_poll(o, true)) < 0)
		return error;
	if (store_odb_pending(o) != 0 || (error = job_plan_compact(&j, o)) < 0 || j == NULL)
		return error;
	o->fresh_since_us = 0;
	o->fresh_bytes = 0;
	job_build(j);
	if ((error = job_finish(o, j, true)) < 0)
		return error;
	return store_odb_merge_poll(o, false);
}

/* At open: fresh packs left from before count from now. */
void
store_odb_scan_fresh(struct store_odb *o)
{
	struct packinfo *p;
	unsigned n;

	if (pack_list(o, &p, &n) < 0)
		return;
	for (unsigned i = 0; i < n; i++)
		if (p[i].fresh) {
			o->fresh_since_us = store_mono_us();
			o->fresh_bytes += p[i].bytes;
		}
	free(p);
}

/*
 * Bytes of every file in objects/pack but the retired packs': what the
 * history costs on disk.
 */
uint64_t
store_odb_bytes(struct store_odb *o)
{
	uint64_t sum = dir_bytes(o->packdir);

	return sum > o->retired_bytes ? sum - o->retired_bytes : 0;
}

static int
retain_begin(struct store_odb *o, const git_oid *tips, size_t ntips, int64_t cutoff,
    const git_oid *old, size_t nold, bool sync)
{
	struct merge_job *j;
	unsigned n;
	int error;

	if (o->job != NULL || store_odb_pending(o) != 0)
		return 0;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return store_err(-1, "store: out of memory");
	j->o = o;
	j->retain = true;
	j->cutoff = cutoff;
	if ((error = pack_list(o, &j->p, &n)) < 0) {
		free(j);
		return error;
	}
	j->cut = n;
	j->tips = malloc((ntips + 1) * sizeof(*j->tips));
	j->old = malloc((nold + 1) * sizeof(*j->old));
	j->used = calloc(n + 1, sizeof(*j->used));
	if (j->tips == NULL || j->old == NULL || j->used == NULL) {
		job_free(j);
		return store_err(-1, "store: out of memory");
	}
	if (ntips > 0)
		memcpy(j->tips, tips, ntips * sizeof(*tips));
	if (nold > 0)
		memcpy(j->old, old, nold * sizeof(*old));
	j->ntips = ntips;
	j->nold = nold;
	/* Trees the writer would reuse from memory may be among what goes. */
	store_odb_cache_drop(o);
	o->fresh_since_us = 0;
	o->fresh_bytes = 0;
	if (sync) {
		job_build(j);
		return job_finish(o, j, true) < 0 ? -1 : store_odb_merge_poll(o, false);
	}
	if (pthread_create(&j->thread, NULL, job_main, j) != 0) {
		job_build(j);
		atomic_store(&j->done, true);
	} else {
		j->threaded = true;
	}
	o->job = j;
	return 0;
}

int
store_odb_retain_start(struct store_odb *o, const git_oid *tips, size_t ntips,
    int64_t cutoff, const git_oid *old, size_t nold)
{
	return retain_begin(o, tips, ntips, cutoff, old, nold, false);
}

int
store_odb_retain_run(struct store_odb *o, const git_oid *tips, size_t ntips,
    int64_t cutoff, const git_oid *old, size_t nold)
{
	int error;

	if ((error = store_odb_merge_poll(o, true)) < 0)
		return error;
	return retain_begin(o, tips, ntips, cutoff, old, nold, true);
}

int
store_odb_retain_poll(struct store_odb *o)
{
	int error = store_odb_merge_poll(o, false);

	if (error < 0)
		return error;
	if (o->retain_done) {
		o->retain_done = false;
		return 1;
	}
	return 0;
}

uint64_t
store_odb_fresh_bytes(const struct store_odb *o)
{
	return o->fresh_bytes;
}

int
store_oidv_push(git_oid **v, size_t *n, size_t *cap, const git_oid *id)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 16;
		git_oid *nv = realloc(*v, c * sizeof(*nv));

		if (nv == NULL)
			return store_err(-1, "store: out of memory");
		*v = nv;
		*cap = c;
	}
	git_oid_cpy(&(*v)[(*n)++], id);
	return 0;
}

/* Replace $GIT_DIR/shallow with v[0..n), durably (n == 0: remove it). */
int
store_shallow_write(const char *gitdir, const git_oid *v, size_t n)
{
	char path[4400], tmp[4400];
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "%s/shallow", gitdir);
	if (n == 0)
		return unlink(path) == 0 || errno == ENOENT ? 0 :
		    store_err(STORE_EIO, "store: %s: %s", path, strerror(errno));
	snprintf(tmp, sizeof(tmp), "%s/shallow.gitnet.XXXXXX", gitdir);
	if ((fd = mkstemp(tmp)) < 0 || (f = fdopen(fd, "w")) == NULL) {
		if (fd >= 0)
			close(fd);
		return store_err(STORE_EIO, "store: %s: %s", tmp, strerror(errno));
	}
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s\n", git_oid_tostr_s(&v[i]));
	if (fflush(f) != 0 || fsync(fd) < 0 || fchmod(fd, 0644) < 0) {
		int e = errno;

		fclose(f);
		unlink(tmp);
		return store_err(STORE_EIO, "store: %s: %s", tmp, strerror(e));
	}
	fclose(f);
	if (rename(tmp, path) < 0) {
		int e = errno;

		unlink(tmp);
		return store_err(STORE_EIO, "store: %s: %s", path, strerror(e));
	}
	return store_fsync_dir(gitdir);
}

/* SPDX-License-Identifier: ISC */
/*
 * The object writer. New objects never become loose files: a recording
 * backend (highest priority) keeps them in memory, and store_odb_flush()
 * writes them as one pack of our own making, durably, before any ref may
 * name them. Invariant: every object a ref names is in a pack whose .pack
 * and .idx were fsynced and renamed into objects/pack, and whose directory
 * entry was fsynced, before the ref moved.
 *
 * Our packs hold objects in zlib *stored* blocks: no compression work on
 * the hot path, still a valid pack for git (see git's
 * Documentation/gitformat-pack.txt: version 2 pack, version 2 index). A
 * tree written again within one flush (the same shard changed by several
 * commits) goes in as an OFS_DELTA against its previous version, which the
 * tree editor describes as runs of copied and new bytes, so the pack grows
 * by the changed entries, not by the tree; chains stay short
 * (STORE_DELTA_DEPTH). A base in an older pack cannot be used: git wants a
 * delta's base in the same pack. store_odb_consolidate() (pack.c) merges
 * small packs by copying their entries, so the pack count stays bounded at
 * the cost of a byte copy; the bytes per change come down further only
 * with store_odb_repack() (libgit2's packbuilder: deltas and deflate),
 * which is for idle time, not the commit path.
 *
 * Trees written by a flush stay in memory as a cache (two generations,
 * bounded by store_opts.cache_mb): the next commits edit the trees at the
 * head, and reading them back through libgit2 (a pack search, inflate,
 * delta resolution) would cost more than the edit.
 *
 * The commit path writes through store_odb_put(): it hashes with our own
 * SHA-1 (SHA-NI when the CPU has it) and records the object directly.
 * git_odb_write would first ask every backend whether the object exists
 * (a stat of a loose path, a utimes() to "freshen", a search of each pack)
 * and libgit2 1.5.1 rescans objects/pack on every lookup that misses. The
 * pack backend is also wrapped without its refresh hook, for the lookups
 * libgit2 still makes; we refresh it ourselves after writing a pack (and
 * rebuild the whole odb after consolidating).
 */
#include <cpuid.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <limits.h>
#include <stdatomic.h>
#include <zlib.h>

#include <git2/sys/odb_backend.h>
#include <git2/sys/repository.h>

#include "odb_impl.h"

/* SHA-1 (FIPS 180-4), for pack and index checksums. */

#define ROL(x, n)	((x) << (n) | (x) >> (32 - (n)))

static void
sha1_block(uint32_t h[5], const uint8_t *p)
{
	uint32_t w[80], a, b, c, d, e, t;

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[i * 4] << 24 | (uint32_t)p[i * 4 + 1] << 16 |
		    (uint32_t)p[i * 4 + 2] << 8 | p[i * 4 + 3];
	for (int i = 16; i < 80; i++)
		w[i] = ROL(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	a = h[0]; b = h[1]; c = h[2]; d = h[3]; e = h[4];
	for (int i = 0; i < 80; i++) {
		uint32_t f, k;

		if (i < 20) {
			f = (b & c) | (~b & d);
			k = 0x5a827999;
		} else if (i < 40) {
			f = b ^ c ^ d;
			k = 0x6ed9eba1;
		} else if (i < 60) {
			f = (b & c) | (b & d) | (c & d);
			k = 0x8f1bbcdc;
		} else {
			f = b ^ c ^ d;
			k = 0xca62c1d6;
		}
		t = ROL(a, 5) + f + e + k + w[i];
		e = d; d = c; c = ROL(b, 30); b = a; a = t;
	}
	h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
}

/*
 * The same compression with the SHA extensions (Intel SHA-NI), picked at
 * run time: pack checksums hash every byte written, so this matters.
 */
__attribute__((target("sha,sse4.1,ssse3")))
static void
sha1_blocks_ni(uint32_t h[5], const uint8_t *p, size_t nblocks)
{
	const __m128i mask = _mm_set_epi64x(0x0001020304050607ULL, 0x08090a0b0c0d0e0fULL);
	__m128i abcd, abcd_save, e0, e0_save, e1, m0, m1, m2, m3;

	abcd = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)h), 0x1b);
	e0 = _mm_set_epi32((int)h[4], 0, 0, 0);
	while (nblocks--) {
		abcd_save = abcd;
		e0_save = e0;
		m0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 0)), mask);
		e0 = _mm_add_epi32(e0, m0);
		e1 = abcd;
		abcd = _mm_sha1rnds4_epu32(abcd, e0, 0);
		m1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16)), mask);
		e1 = _mm_sha1nexte_epu32(e1, m1);
		e0 = abcd;
		abcd = _mm_sha1rnds4_epu32(abcd, e1, 0);
		m0 = _mm_sha1msg1_epu32(m0, m1);
		m2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 32)), mask);
		e0 = _mm_sha1nexte_epu32(e0, m2);
		e1 = abcd;
		abcd = _mm_sha1rnds4_epu32(abcd, e0, 0);
		m1 = _mm_sha1msg1_epu32(m1, m2);
		m0 = _mm_xor_si128(m0, m2);
		m3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 48)), mask);
		e1 = _mm_sha1nexte_epu32(e1, m3);
		e0 = abcd;
		m0 = _mm_sha1msg2_epu32(m0, m3);
		abcd = _mm_sha1rnds4_epu32(abcd, e1, 0);
		m2 = _mm_sha1msg1_epu32(m2, m3);
		m1 = _mm_xor_si128(m1, m3);
#define SHA1_QUAD(ea, eb, ma, mb, mc, md, f)				\
		ea = _mm_sha1nexte_epu32(ea, ma);			\
		eb = abcd;						\
		mb = _mm_sha1msg2_epu32(mb, ma);			\
		abcd = _mm_sha1rnds4_epu32(abcd, ea, f);		\
		md = _mm_sha1msg1_epu32(md, ma);			\
		mc = _mm_xor_si128(mc, ma);
		SHA1_QUAD(e0, e1, m0, m1, m2, m3, 0)	/* 16-19 */
		SHA1_QUAD(e1, e0, m1, m2, m3, m0, 1)	/* 20-23 */
		SHA1_QUAD(e0, e1, m2, m3, m0, m1, 1)	/* 24-27 */
		SHA1_QUAD(e1, e0, m3, m0, m1, m2, 1)	/* 28-31 */
		SHA1_QUAD(e0, e1, m0, m1, m2, m3, 1)	/* 32-35 */
		SHA1_QUAD(e1, e0, m1, m2, m3, m0, 1)	/* 36-39 */
		SHA1_QUAD(e0, e1, m2, m3, m0, m1, 2)	/* 40-43 */
		SHA1_QUAD(e1, e0, m3, m0, m1, m2, 2)	/* 44-47 */
		SHA1_QUAD(e0, e1, m0, m1, m2, m3, 2)	/* 48-51 */
		SHA1_QUAD(e1, e0, m1, m2, m3, m0, 2)	/* 52-55 */
		SHA1_QUAD(e0, e1, m2, m3, m0, m1, 2)	/* 56-59 */
		SHA1_QUAD(e1, e0, m3, m0, m1, m2, 3)	/* 60-63 */
		SHA1_QUAD(e0, e1, m0, m1, m2, m3, 3)	/* 64-67 */
#undef SHA1_QUAD
		/* 68-71 */
		e1 = _mm_sha1nexte_epu32(e1, m1);
		e0 = abcd;
		m2 = _mm_sha1msg2_epu32(m2, m1);
		abcd = _mm_sha1rnds4_epu32(abcd, e1, 3);
		m3 = _mm_xor_si128(m3, m1);
		/* 72-75 */
		e0 = _mm_sha1nexte_epu32(e0, m2);
		e1 = abcd;
		m3 = _mm_sha1msg2_epu32(m3, m2);
		abcd = _mm_sha1rnds4_epu32(abcd, e0, 3);
		/* 76-79 */
		e1 = _mm_sha1nexte_epu32(e1, m3);
		e0 = abcd;
		abcd = _mm_sha1rnds4_epu32(abcd, e1, 3);
		e0 = _mm_sha1nexte_epu32(e0, e0_save);
		abcd = _mm_add_epi32(abcd, abcd_save);
		p += 64;
	}
	_mm_storeu_si128((__m128i *)h, _mm_shuffle_epi32(abcd, 0x1b));
	h[4] = (uint32_t)_mm_extract_epi32(e0, 3);
}

static void
sha1_blocks(uint32_t h[5], const uint8_t *p, size_t nblocks)
{
	static atomic_int ni = -1;	/* the merge thread hashes too */
	int have = atomic_load_explicit(&ni, memory_order_relaxed);

	if (have < 0) {
		unsigned a, b, c, d;

		have = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 29)) &&
		    getenv("STORE_NO_SHANI") == NULL;
		atomic_store_explicit(&ni, have, memory_order_relaxed);
	}
	if (have) {
		sha1_blocks_ni(h, p, nblocks);
		return;
	}
	for (; nblocks; nblocks--, p += 64)
		sha1_block(h, p);
}

void
store_sha1_init(struct sha1_ctx *c)
{
	static const uint32_t iv[5] = {
		0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0
	};

	memcpy(c->h, iv, sizeof(iv));
	c->len = 0;
}

void
store_sha1_update(struct sha1_ctx *c, const void *data, size_t n)
{
	const uint8_t *p = data;
	size_t have = (size_t)(c->len % 64);

	c->len += n;
	if (have) {
		size_t take = 64 - have < n ? 64 - have : n;

		memcpy(c->buf + have, p, take);
		p += take;
		n -= take;
		if (have + take < 64)
			return;
		sha1_blocks(c->h, c->buf, 1);
	}
	sha1_blocks(c->h, p, n / 64);
	p += n / 64 * 64;
	memcpy(c->buf, p, n % 64);
}

void
store_sha1_final(struct sha1_ctx *c, uint8_t out[20])
{
	uint64_t bits = c->len * 8;
	uint8_t pad[72] = { 0x80 };
	size_t have = (size_t)(c->len % 64);
	size_t padlen = have < 56 ? 56 - have : 120 - have;

	for (int i = 0; i < 8; i++)
		pad[padlen + (size_t)i] = (uint8_t)(bits >> (56 - 8 * i));
	store_sha1_update(c, pad, padlen + 8);
	for (int i = 0; i < 5; i++) {
		out[i * 4] = (uint8_t)(c->h[i] >> 24);
		out[i * 4 + 1] = (uint8_t)(c->h[i] >> 16);
		out[i * 4 + 2] = (uint8_t)(c->h[i] >> 8);
		out[i * 4 + 3] = (uint8_t)c->h[i];
	}
}

uint32_t
store_crc32(uint32_t crc, const void *data, size_t n)
{
	const unsigned char *p = data;

	/* zlib's braided CRC-32 is several times our slicing-by-8. */
	for (; n > UINT_MAX; n -= UINT_MAX, p += UINT_MAX)
		crc = (uint32_t)crc32(crc, p, UINT_MAX);
	return (uint32_t)crc32(crc, p, (uInt)n);
}

/*
 * Object tables: the recorder (new objects, in memory, until the next
 * flush) and the cache (trees already durable in a pack, kept for the next
 * commits so they are not read back through libgit2). Both are arrays of
 * objects with an open-addressing index of their ids.
 */

struct recorder {
	git_odb_backend	parent;
	struct objtab	t;
};

size_t
store_oid_hash(const git_oid *id)
{
	size_t h;

	memcpy(&h, id->id, sizeof(h));
	return h;
}

static struct rec_obj *
tab_find(const struct objtab *t, const git_oid *id)
{
	if (t->nslot == 0)
		return NULL;
	for (size_t i = store_oid_hash(id) & (t->nslot - 1);; i = (i + 1) & (t->nslot - 1)) {
		uint32_t s = t->slot[i];

		if (s == 0)
			return NULL;
		if (git_oid_equal(&t->v[s - 1].id, id))
			return &t->v[s - 1];
	}
}

static int
tab_rehash(struct objtab *t, size_t nslot)
{
	uint32_t *slot = calloc(nslot, sizeof(*slot));

	if (slot == NULL)
		return -1;
	for (size_t k = 0; k < t->n; k++) {
		size_t i = store_oid_hash(&t->v[k].id) & (nslot - 1);

		while (slot[i] != 0)
			i = (i + 1) & (nslot - 1);
		slot[i] = (uint32_t)k + 1;
	}
	free(t->slot);
	t->slot = slot;
	t->nslot = nslot;
	return 0;
}

/* Add an object not in t, taking data (malloc'd); NULL when out of memory. */
static struct rec_obj *
tab_add(struct objtab *t, const git_oid *id, git_object_t type, unsigned char *data,
    size_t len)
{
	struct rec_obj *o;
	size_t i;

	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		struct rec_obj *v = realloc(t->v, cap * sizeof(*v));

		if (v == NULL)
			return NULL;
		t->v = v;
		t->cap = cap;
	}
	if ((t->n + 1) * 2 > t->nslot && tab_rehash(t, t->nslot ? t->nslot * 2 : 1024) < 0)
		return NULL;
	o = &t->v[t->n++];
	memset(o, 0, sizeof(*o));
	git_oid_cpy(&o->id, id);
	o->type = type;
	o->len = len;
	o->data = data;
	t->bytes += len;
	for (i = store_oid_hash(id) & (t->nslot - 1); t->slot[i] != 0; i = (i + 1) & (t->nslot - 1))
		;
	t->slot[i] = (uint32_t)t->n;
	return o;
}

static void
tab_clear(struct objtab *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->v[i].data);
		free(t->v[i].delta);
	}
	t->n = 0;
	t->bytes = 0;
	if (t->nslot)
		memset(t->slot, 0, t->nslot * sizeof(*t->slot));
}

static void
tab_free(struct objtab *t)
{
	tab_clear(t);
	free(t->v);
	free(t->slot);
	memset(t, 0, sizeof(*t));
}

static int
rec_write(git_odb_backend *b, const git_oid *id, const void *data, size_t len,
    git_object_t type)
{
	struct recorder *r = (struct recorder *)b;
	unsigned char *copy;

	if (tab_find(&r->t, id) != NULL)
		return 0;
	if ((copy = malloc(len ? len : 1)) == NULL)
		goto oom;
	memcpy(copy, data, len);
	if (tab_add(&r->t, id, type, copy, len) == NULL) {
		free(copy);
		goto oom;
	}
	return 0;
oom:
	git_error_set_oom();
	return -1;
}

static int
rec_read(void **out, size_t *len, git_object_t *type, git_odb_backend *b,
    const git_oid *id)
{
	struct rec_obj *o = tab_find(&((struct recorder *)b)->t, id);

	if (o == NULL)
		return GIT_ENOTFOUND;
	if ((*out = git_odb_backend_data_alloc(b, o->len + 1)) == NULL)
		return -1;
	memcpy(*out, o->data, o->len);
	((char *)*out)[o->len] = '\0';
	*len = o->len;
	*type = o->type;
	return 0;
}

static int
rec_read_header(size_t *len, git_object_t *type, git_odb_backend *b,
    const git_oid *id)
{
	struct rec_obj *o = tab_find(&((struct recorder *)b)->t, id);

	if (o == NULL)
		return GIT_ENOTFOUND;
	*len = o->len;
	*type = o->type;
	return 0;
}

static int
rec_exists(git_odb_backend *b, const git_oid *id)
{
	return tab_find(&((struct recorder *)b)->t, id) != NULL;
}

static void
rec_free(git_odb_backend *b)
{
	struct recorder *r = (struct recorder *)b;

	tab_free(&r->t);
	free(r);
}

/* The pack backend without the rescan-on-miss. */

struct packwrap {
	git_odb_backend	parent;
	git_odb_backend	*inner;
};

#define INNER(b)	(((struct packwrap *)(b))->inner)

static int
pw_read(void **out, size_t *len, git_object_t *type, git_odb_backend *b,
    const git_oid *id)
{
	return INNER(b)->read(out, len, type, INNER(b), id);
}

static int
pw_read_prefix(git_oid *full, void **out, size_t *len, git_object_t *type,
    git_odb_backend *b, const git_oid *id, size_t n)
{
	return INNER(b)->read_prefix(full, out, len, type, INNER(b), id, n);
}

static int
pw_read_header(size_t *len, git_object_t *type, git_odb_backend *b,
    const git_oid *id)
{
	return INNER(b)->read_header(len, type, INNER(b), id);
}

static int
pw_exists(git_odb_backend *b, const git_oid *id)
{
	return INNER(b)->exists(INNER(b), id);
}

static int
pw_exists_prefix(git_oid *full, git_odb_backend *b, const git_oid *id, size_t n)
{
	return INNER(b)->exists_prefix(full, INNER(b), id, n);
}

/*
 * A miss makes libgit2 refresh every backend and look again: packs another
 * handle wrote meanwhile (a standby's fetch, store_fetch) become visible.
 */
static int
pw_refresh(git_odb_backend *b)
{
	return INNER(b)->refresh != NULL ? INNER(b)->refresh(INNER(b)) : 0;
}

static int
pw_foreach(git_odb_backend *b, git_odb_foreach_cb cb, void *payload)
{
	return INNER(b)->foreach(INNER(b), cb, payload);
}

static void
pw_free(git_odb_backend *b)
{
	INNER(b)->free(INNER(b));
	free(b);
}


int
store_odb_rebuild(struct store_odb *o)
{
	git_odb *odb = NULL;
	git_odb_backend *pack = NULL, *loose = NULL;
	struct recorder *r = NULL;
	struct packwrap *pw = NULL;
	int error;

	if ((r = calloc(1, sizeof(*r))) == NULL || (pw = calloc(1, sizeof(*pw))) == NULL) {
		free(r);
		return store_err(-1, "store: out of memory");
	}
	r->parent.version = GIT_ODB_BACKEND_VERSION;
	r->parent.read = rec_read;
	r->parent.read_header = rec_read_header;
	r->parent.write = rec_write;
	r->parent.exists = rec_exists;
	r->parent.free = rec_free;
	if ((error = git_odb_new(&odb)) < 0 ||
	    (error = git_odb_backend_pack(&pack, o->objects)) < 0) {
		free(r);
		free(pw);
		git_odb_free(odb);
		return store_gerr(error, "store: object database");
	}
	pw->inner = pack;
	pw->parent.version = GIT_ODB_BACKEND_VERSION;
	pw->parent.read = pw_read;
	pw->parent.read_prefix = pw_read_prefix;
	pw->parent.read_header = pw_read_header;
	pw->parent.exists = pw_exists;
	pw->parent.exists_prefix = pw_exists_prefix;
	pw->parent.foreach = pw_foreach;
	pw->parent.refresh = pw_refresh;
	pw->parent.free = pw_free;
	/* Priorities: new objects first, then packs, then loose (stock git). */
	if ((error = git_odb_add_backend(odb, &r->parent, 3)) < 0) {
		free(r);
		pw_free(&pw->parent);
		goto fail;
	}
	if ((error = git_odb_add_backend(odb, &pw->parent, 2)) < 0) {
		pw_free(&pw->parent);
		goto fail;
	}
	pack->odb = odb;
	if ((error = git_odb_backend_loose(&loose, o->objects, -1, o->fsync, 0, 0)) < 0 ||
	    (error = git_odb_add_backend(odb, loose, 1)) < 0) {
		if (loose)
			loose->free(loose);
		goto fail;
	}
	git_repository_set_odb(o->repo, odb);
	git_odb_free(odb);	/* the repository holds it */
	o->rec = r;
	o->pw = pw;
	return 0;
fail:
	git_odb_free(odb);
	return store_gerr(error, "store: object database");
}

int
store_odb_open(struct store_odb **out, git_repository *repo, bool fsync,
    size_t cache_bytes)
{
	struct store_odb *o;
	int error;

	if ((o = calloc(1, sizeof(*o))) == NULL)
		return store_err(-1, "store: out of memory");
	o->repo = repo;
	o->fsync = fsync;
	o->cache_budget = cache_bytes;
	snprintf(o->objects, sizeof(o->objects), "%sobjects", git_repository_path(repo));
	snprintf(o->packdir, sizeof(o->packdir), "%s/pack", o->objects);
	if ((error = store_odb_rebuild(o)) < 0) {
		free(o);
		return error;
	}
	store_odb_scan_fresh(o);
	*out = o;
	return 0;
}

void
store_odb_free(struct store_odb *o)
{
	if (o == NULL)
		return;
	store_odb_merge_abandon(o);
	(void)store_odb_reap(o, true);
	free(o->retired);
	/* The backends belong to the repository's odb; the cache is ours. */
	tab_free(&o->cache[0]);
	tab_free(&o->cache[1]);
	free(o);
}

size_t
store_odb_pending(const struct store_odb *o)
{
	return o->rec->t.n;
}

/*
 * The cache: trees written by earlier flushes (or read from packs), by
 * generations. New trees go to the young one; when it holds half the
 * budget, the old generation is dropped and the young one becomes old. A
 * hit in the old generation moves the object to the young one, so the
 * trees at the head of the tables, which every commit reads, stay. Objects
 * are freed only in store_odb_flush(), never while a reader may hold a
 * pointer into one (readers live within one store operation).
 */
static struct rec_obj *
cache_find(struct store_odb *o, const git_oid *id)
{
	struct rec_obj *c = tab_find(&o->cache[0], id), *old;

	if (c != NULL || (old = tab_find(&o->cache[1], id)) == NULL || old->data == NULL)
		return c;
	if ((c = tab_add(&o->cache[0], id, old->type, old->data, old->len)) == NULL)
		return old;		/* no room to move it: still valid where it is */
	o->cache[1].bytes -= old->len;
	old->data = NULL;		/* moved: a tombstone until the generation goes */
	return c;
}

/* Keep a copy of a tree read from a pack, while under budget. */
static void
cache_copy(struct store_odb *o, const git_oid *id, git_object_t type, const void *data,
    size_t len)
{
	unsigned char *copy;

	if (o->cache[0].bytes + len > o->cache_budget / 2 || (copy = malloc(len ? len : 1)) == NULL)
		return;
	memcpy(copy, data, len);
	if (tab_add(&o->cache[0], id, type, copy, len) == NULL)
		free(copy);
}

/* Forget every cached tree (they are all in packs): retention drops packs. */
void
store_odb_cache_drop(struct store_odb *o)
{
	tab_clear(&o->cache[0]);
	tab_clear(&o->cache[1]);
}

/* At flush: drop the old generation if the young one is full. */
static void
cache_age(struct store_odb *o)
{
	if (o->cache[0].bytes < o->cache_budget / 2)
		return;
	tab_clear(&o->cache[1]);
	{
		struct objtab t = o->cache[1];

		o->cache[1] = o->cache[0];
		o->cache[0] = t;
	}
}

static void
hash_object(git_oid *out, git_object_t type, const void *data, size_t len)
{
	struct sha1_ctx sc;
	char hdr[40];
	int hl = snprintf(hdr, sizeof(hdr), "%s %zu", git_object_type2string(type), len);

	store_sha1_init(&sc);
	store_sha1_update(&sc, hdr, (size_t)hl + 1);		/* with its NUL */
	store_sha1_update(&sc, data, len);
	store_sha1_final(&sc, out->id);
}

int
store_odb_put(git_oid *out, struct store_odb *o, git_object_t type, const void *data,
    size_t len)
{
	unsigned char *copy = malloc(len ? len : 1);

	if (copy == NULL)
		return store_err(-1, "store: out of memory");
	memcpy(copy, data, len);
	return store_odb_put_owned(out, o, type, copy, len, NULL, NULL, 0);
}

/* The pending object a delta against base may use, or NULL. */
static struct rec_obj *
delta_base(struct store_odb *o, const git_oid *base)
{
	struct rec_obj *b = base ? tab_find(&o->rec->t, base) : NULL;

	return b != NULL && b->depth < STORE_DELTA_DEPTH ? b : NULL;
}

bool
store_odb_delta_ok(struct store_odb *o, const git_oid *base)
{
	return delta_base(o, base) != NULL;
}

/*
 * git's delta format (gitformat-pack.txt, "Deltified representation"):
 * base size, result size (store_delta_varint), then copy instructions
 * (offset and size in the base, bytes present flagged in the opcode) and
 * inserts of at most 127 literal bytes. Shared with compaction (compact.c).
 */
void
store_delta_varint(struct sbuf *d, size_t v)
{
	uint8_t c[10];
	size_t n = 0;

	do {
		c[n] = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v)
			c[n] |= 0x80;
		n++;
	} while (v);
	store_sbuf_add(d, (const char *)c, n);
}

void
store_delta_copy(struct sbuf *d, uint32_t off, uint32_t len)
{
	while (len > 0) {
		uint32_t n = len > 0xffffff ? 0xffffff : len;
		uint8_t op[8];
		size_t k = 1;

		op[0] = 0x80;
		for (int b = 0; b < 4; b++)
			if ((off >> (b * 8)) & 0xff) {
				op[0] |= (uint8_t)(1 << b);
				op[k++] = (uint8_t)(off >> (b * 8));
			}
		for (int b = 0; b < 3; b++)
			if ((n >> (b * 8)) & 0xff) {
				op[0] |= (uint8_t)(0x10 << b);
				op[k++] = (uint8_t)(n >> (b * 8));
			}
		store_sbuf_add(d, (const char *)op, k);
		off += n;
		len -= n;
	}
}

void
store_delta_insert(struct sbuf *d, const void *p, size_t len)
{
	const char *c = p;

	while (len > 0) {
		uint8_t n = len > 127 ? 127 : (uint8_t)len;

		store_sbuf_add(d, (const char *)&n, 1);
		store_sbuf_add(d, c, n);
		c += n;
		len -= n;
	}
}

/* A delta from the tree editor's runs of copied and new bytes. */
static void
delta_encode(struct sbuf *d, size_t base_len, const unsigned char *data, size_t len,
    const struct store_drun *runs, size_t nruns)
{
	store_delta_varint(d, base_len);
	store_delta_varint(d, len);
	for (size_t i = 0; i < nruns; i++) {
		if (runs[i].copy)
			store_delta_copy(d, runs[i].off, runs[i].len);
		else
			store_delta_insert(d, data + runs[i].off, runs[i].len);
	}
}

int
store_odb_put_owned(git_oid *out, struct store_odb *o, git_object_t type, void *data,
    size_t len, const git_oid *base, const struct store_drun *runs, size_t nruns)
{
	struct rec_obj *b, *r;
	struct sbuf d = { 0 };
	size_t bi = 0;
	uint8_t depth = 0;

	hash_object(out, type, data, len);
	/*
	 * Pending already, or a tree in the cache (durable in a pack): nothing
	 * to do. Otherwise an object already in a pack is written again (new
	 * objects are the rule; asking every pack costs more): git accepts an
	 * object in several packs, and the merge of packs keeps one copy.
	 */
	if (tab_find(&o->rec->t, out) != NULL ||
	    (type == GIT_OBJECT_TREE && cache_find(o, out) != NULL)) {
		free(data);
		return 0;
	}
	if (runs != NULL && (b = delta_base(o, base)) != NULL) {
		/* Where the base is: tab_add() may move the objects. */
		bi = (size_t)(b - o->rec->t.v);
		depth = b->depth + 1;
		delta_encode(&d, b->len, data, len, runs, nruns);
		if (d.oom || d.len >= len / 2)
			store_sbuf_free(&d);	/* no memory, or not worth it: whole */
	}
	if ((r = tab_add(&o->rec->t, out, type, data, len)) == NULL) {
		store_sbuf_free(&d);
		free(data);
		return store_err(-1, "store: out of memory");
	}
	if (d.p != NULL) {
		r->delta = (unsigned char *)d.p;
		r->dlen = d.len;
		r->base = (uint32_t)bi + 1;
		r->depth = depth;
	}
	return 0;
}

int
store_odb_peek(struct store_odb *o, const git_oid *id, git_object_t *type,
    const void **data, size_t *len)
{
	struct rec_obj *r = tab_find(&o->rec->t, id);

	if (r == NULL && (r = cache_find(o, id)) == NULL)
		return GIT_ENOTFOUND;
	*type = r->type;
	*data = r->data;
	*len = r->len;
	return 0;
}

int
store_odb_get(struct store_odb *o, const git_oid *id, git_object_t *type,
    const void **data, size_t *len, git_odb_object **obj)
{
	git_odb *odb;
	int error;

	*obj = NULL;
	if (store_odb_peek(o, id, type, data, len) == 0)
		return 0;
	if ((error = git_repository_odb(&odb, o->repo)) < 0)
		return error;
	error = git_odb_read(obj, odb, id);
	git_odb_free(odb);
	if (error < 0)
		return error;
	*type = git_odb_object_type(*obj);
	if (*type == GIT_OBJECT_TREE) {
		cache_copy(o, id, *type, git_odb_object_data(*obj), git_odb_object_size(*obj));
		if (store_odb_peek(o, id, type, data, len) == 0) {
			git_odb_object_free(*obj);
			*obj = NULL;
			return 0;
		}
	}
	*data = git_odb_object_data(*obj);
	*len = git_odb_object_size(*obj);
	return 0;
}

uint32_t
store_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void
store_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/*
 * One pack entry: type/size header (an OFS_DELTA's followed by the distance
 * back to its base), then the bytes in zlib stored blocks.
 */
static void
pack_entry(struct sbuf *b, unsigned type, const unsigned char *data, size_t len,
    size_t back)
{
	uint8_t h[16], ofs[16], blk[5], tail[4];
	size_t n = 0, size = len, off = 0, pos = sizeof(ofs) - 1;

	h[n++] = (uint8_t)((size > 15 ? 0x80 : 0) | type << 4 | (size & 15));
	for (size >>= 4; size; size >>= 7)
		h[n++] = (uint8_t)((size > 127 ? 0x80 : 0) | (size & 127));
	store_sbuf_add(b, (const char *)h, n);
	if (type == PACK_OFS_DELTA) {
		ofs[pos] = (uint8_t)(back & 127);
		while (back >>= 7)
			ofs[--pos] = (uint8_t)(128 | (--back & 127));
		store_sbuf_add(b, (const char *)ofs + pos, sizeof(ofs) - pos);
	}
	store_sbuf_add(b, "\x78\x01", 2);		/* zlib: deflate, 32 K window */
	do {
		size_t l = len - off > 65535 ? 65535 : len - off;

		blk[0] = off + l == len;	/* BFINAL, BTYPE 00: stored */
		blk[1] = (uint8_t)l;
		blk[2] = (uint8_t)(l >> 8);
		blk[3] = (uint8_t)~l;
		blk[4] = (uint8_t)(~l >> 8);
		store_sbuf_add(b, (const char *)blk, 5);
		store_sbuf_add(b, (const char *)data + off, l);
		off += l;
	} while (off < len);
	store_put32(tail, (uint32_t)adler32(1, data, (uInt)len));
	store_sbuf_add(b, (const char *)tail, 4);
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
write_file(const char *tmpl_dir, char *path, size_t cap, const struct sbuf *b,
    bool do_fsync)
{
	int fd;

	snprintf(path, cap, "%s/tmp_gitnet_XXXXXX", tmpl_dir);
	if ((fd = mkstemp(path)) < 0)
		return store_err(STORE_EIO, "store: %s: %s", path, strerror(errno));
	if (write_all(fd, b->p, b->len) < 0 || (do_fsync && fsync(fd) < 0) ||
	    fchmod(fd, 0444) < 0) {
		int e = errno;

		close(fd);
		unlink(path);
		return store_err(STORE_EIO, "store: %s: %s", path, strerror(e));
	}
	close(fd);
	return 0;
}

int
store_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);

	if (fd < 0 || fsync(fd) < 0) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		return store_err(STORE_EIO, "store: fsync %s: %s", dir, strerror(e));
	}
	close(fd);
	return 0;
}

static int
pentry_cmp(const void *a, const void *b)
{
	const uint8_t *x = ((const struct pentry *)a)->id.id;
	const uint8_t *y = ((const struct pentry *)b)->id.id;
	uint64_t hx, hy;

	/* Ids are random: the first eight bytes, big-endian, nearly always decide. */
	memcpy(&hx, x, 8);
	memcpy(&hy, y, 8);
	hx = __builtin_bswap64(hx);
	hy = __builtin_bswap64(hy);
	if (hx != hy)
		return hx < hy ? -1 : 1;
	return memcmp(x + 8, y + 8, GIT_OID_RAWSZ - 8);
}

void
store_pack_header(struct sbuf *b, uint32_t n)
{
	uint8_t hdr[12];

	memcpy(hdr, "PACK", 4);
	store_put32(hdr + 4, 2);
	store_put32(hdr + 8, n);
	store_sbuf_add(b, (const char *)hdr, 12);
}

/*
 * Finish pack (header and entries already in it; v[0..n) describe them):
 * checksum, index v2, both written to temporary files and fsynced, renamed
 * into objects/pack (.idx last: a pack without its index is ignored and
 * cleaned up at open), directory fsynced. Sorts v.
 */
int
store_pack_commit(struct store_odb *o, struct sbuf *pack, struct pentry *v, size_t n,
    char name[46])
{
	struct sbuf idx = { 0 };
	struct sha1_ctx sc;
	uint8_t psum[20], isum[20], word[4];
	uint32_t fan[256] = { 0 };
	char tmp_pack[4400], tmp_idx[4400], final[4400], hex[41];
	bool existed;
	int error = 0;

	if (pack->oom || pack->len > 0x7fffffff)
		return store_err(-1, "store: pack too large or out of memory");
	store_sha1_init(&sc);
	store_sha1_update(&sc, pack->p, pack->len);
	store_sha1_final(&sc, psum);
	store_sbuf_add(pack, (const char *)psum, 20);

	qsort(v, n, sizeof(*v), pentry_cmp);
	store_sbuf_reserve(&idx, 8 + 1024 + n * 28 + 40);
	store_sbuf_add(&idx, "\377tOc", 4);
	store_put32(word, 2);
	store_sbuf_add(&idx, (const char *)word, 4);
	for (size_t i = 0; i < n; i++)
		fan[v[i].id.id[0]]++;
	for (uint32_t i = 0, acc = 0; i < 256; i++) {
		acc += fan[i];
		store_put32(word, acc);
		store_sbuf_add(&idx, (const char *)word, 4);
	}
	for (size_t i = 0; i < n; i++)
		store_sbuf_add(&idx, (const char *)v[i].id.id, GIT_OID_RAWSZ);
	for (size_t i = 0; i < n; i++) {
		store_put32(word, v[i].crc);
		store_sbuf_add(&idx, (const char *)word, 4);
	}
	for (size_t i = 0; i < n; i++) {
		store_put32(word, v[i].off);
		store_sbuf_add(&idx, (const char *)word, 4);
	}
	store_sbuf_add(&idx, (const char *)psum, 20);
	store_sha1_init(&sc);
	store_sha1_update(&sc, idx.p, idx.len);
	store_sha1_final(&sc, isum);
	store_sbuf_add(&idx, (const char *)isum, 20);
	if (idx.oom || pack->oom) {
		error = store_err(-1, "store: out of memory");
		goto done;
	}
	for (int i = 0; i < 20; i++)
		snprintf(hex + i * 2, 3, "%02x", psum[i]);
	if ((error = write_file(o->packdir, tmp_pack, sizeof(tmp_pack), pack, o->fsync)) < 0)
		goto done;
	if ((error = write_file(o->packdir, tmp_idx, sizeof(tmp_idx), &idx, o->fsync)) < 0) {
		unlink(tmp_pack);
		goto done;
	}
	snprintf(final, sizeof(final), "%s/pack-%s.pack", o->packdir, hex);
	/* The same objects in the same order make the same pack: one may be there. */
	existed = access(final, F_OK) == 0;
	if (rename(tmp_pack, final) < 0) {
		error = store_err(STORE_EIO, "store: rename %s: %s", final, strerror(errno));
		unlink(tmp_pack);
		unlink(tmp_idx);
		goto done;
	}
	snprintf(final, sizeof(final), "%s/pack-%s.idx", o->packdir, hex);
	if (rename(tmp_idx, final) < 0) {
		error = store_err(STORE_EIO, "store: rename %s: %s", final, strerror(errno));
		unlink(tmp_idx);
		/*
		 * Ours and unnamed: take it back rather than leave it to the next
		 * open, so a full disk does not stay full of it across retries.
		 */
		if (!existed) {
			snprintf(final, sizeof(final), "%s/pack-%s.pack", o->packdir, hex);
			unlink(final);
		}
		goto done;
	}
	if (o->fsync)
		error = store_fsync_dir(o->packdir);
	if (name != NULL)
		snprintf(name, 46, "pack-%s", hex);
done:
	store_sbuf_free(&idx);
	return error;
}

/*
 * Mark the pending trees reachable from tree id through pending trees: the
 * versions a flush keeps in the cache. Versions a later commit of the same
 * window replaced are not worth memory.
 */
static void
mark_live(const struct objtab *t, const git_oid *id, bool *keep, unsigned depth)
{
	const struct rec_obj *r = tab_find(t, id);
	const unsigned char *p, *end;

	if (r == NULL || r->type != GIT_OBJECT_TREE || keep[r - t->v] || depth > 32)
		return;
	keep[r - t->v] = true;
	for (p = r->data, end = p + r->len; p < end; ) {
		const unsigned char *nul = memchr(p, '\0', (size_t)(end - p));
		git_oid sub;

		if (nul == NULL || end - nul < 1 + GIT_OID_RAWSZ)
			return;
		if (nul - p > 6 && memcmp(p, "40000 ", 6) == 0) {
			memcpy(sub.id, nul + 1, GIT_OID_RAWSZ);
			mark_live(t, &sub, keep, depth + 1);
		}
		p = nul + 1 + GIT_OID_RAWSZ;
	}
}

int
store_odb_flush(struct store_odb *o, const git_oid *const *live, size_t nlive)
{
	struct objtab *t = &o->rec->t;
	struct sbuf pack = { 0 };
	struct pentry *v;
	bool *keep = NULL;
	int error;

	if (t->n == 0)
		return 0;
	if (t->n > UINT32_MAX / 2)
		return store_err(STORE_EINVAL, "store: too many objects for one pack");
	if ((v = malloc(t->n * sizeof(*v))) == NULL)
		return store_err(-1, "store: out of memory");
	{
		size_t need = 12 + 20;

		for (size_t i = 0; i < t->n; i++)
			need += (t->v[i].delta ? t->v[i].dlen : t->v[i].len) + 40;
		store_sbuf_reserve(&pack, need);
	}
	store_pack_header(&pack, (uint32_t)t->n);
	for (size_t i = 0; i < t->n && !pack.oom; i++) {
		const struct rec_obj *r = &t->v[i];
		size_t start = pack.len;

		/* A delta's base was recorded before it: it is earlier in the pack. */
		if (r->delta != NULL)
			pack_entry(&pack, PACK_OFS_DELTA, r->delta, r->dlen,
			    start - v[r->base - 1].off);
		else
			pack_entry(&pack, (unsigned)r->type, r->data, r->len, 0);
		if (pack.oom)
			break;
		git_oid_cpy(&v[i].id, &r->id);
		v[i].off = (uint32_t)start;
		v[i].crc = store_crc32(0, pack.p + start, pack.len - start);
	}
	if ((error = store_pack_commit(o, &pack, v, t->n, NULL)) < 0)
		goto done;
	if (o->fresh_since_us == 0)
		o->fresh_since_us = store_mono_us();
	o->fresh_bytes += pack.len;
	if ((error = o->pw->inner->refresh(o->pw->inner)) < 0) {
		error = store_gerr(error, "store: loading new pack");
		goto done;
	}
	/* Durable now: the live trees stay as the cache, the rest goes. */
	if (o->cache_budget > 0 && (keep = calloc(t->n, sizeof(*keep))) != NULL)
		for (size_t i = 0; i < nlive; i++)
			mark_live(t, live[i], keep, 0);
	for (size_t i = 0; i < t->n && keep != NULL; i++) {
		struct rec_obj *r = &t->v[i];

		if (keep[i] && tab_find(&o->cache[0], &r->id) == NULL &&
		    tab_add(&o->cache[0], &r->id, r->type, r->data, r->len) != NULL)
			r->data = NULL;
	}
	tab_clear(t);
	cache_age(o);
done:
	store_sbuf_free(&pack);
	free(keep);
	free(v);
	return error;
}

/*
 * The object writer. New objects never become loose files: a recording
 * backend (highest priority) keeps them in memory, and store_odb_flush()
 * writes them as one pack of our own making, durably, before any ref may
 * name them. Invariant: every object a ref names is in a pack whose .pack
 * and .idx were fsynced and renamed into objects/pack, and whose directory
 * entry was fsynced, before the ref moved.
 *
 * Our packs hold whole objects (no deltas) in zlib *stored* blocks: no
 * compression work on the hot path, still a valid pack for git (see git's
 * Documentation/gitformat-pack.txt: version 2 pack, version 2 index).
 * store_odb_consolidate() merges small packs by copying their entries, so
 * the pack count stays bounded at the cost of a byte copy; the bytes per
 * change come down only with store_odb_repack() (libgit2's packbuilder:
 * deltas and deflate), which is for idle time, not the commit path.
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
	static int ni = -1;

	if (ni < 0) {
		unsigned a, b, c, d;

		ni = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 29)) &&
		    getenv("STORE_NO_SHANI") == NULL;
	}
	if (ni) {
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
	static uint32_t t[8][256];
	const uint8_t *p = data;

	if (t[0][1] == 0) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;

			for (int k = 0; k < 8; k++)
				c = c & 1 ? 0xedb88320 ^ (c >> 1) : c >> 1;
			t[0][i] = c;
		}
		for (uint32_t i = 0; i < 256; i++)
			for (int k = 1; k < 8; k++)
				t[k][i] = t[0][t[k - 1][i] & 0xff] ^ (t[k - 1][i] >> 8);
	}
	crc = ~crc;
	for (; n >= 8; n -= 8, p += 8) {	/* slicing by 8 */
		uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 |
		    (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
		crc = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^
		    t[4][lo >> 24] ^ t[3][p[4]] ^ t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]];
	}
	while (n--)
		crc = t[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* The recording backend: new objects, in memory, until the next flush. */

struct rec_obj {
	git_oid		id;
	git_object_t	type;
	size_t		len;
	unsigned char	*data;
};

struct recorder {
	git_odb_backend	parent;
	struct rec_obj	*v;
	size_t		n, cap;
	uint32_t	*slot;		/* index + 1 into v; 0 empty */
	size_t		nslot;		/* power of two */
};

size_t
store_oid_hash(const git_oid *id)
{
	size_t h;

	memcpy(&h, id->id, sizeof(h));
	return h;
}

static struct rec_obj *
rec_find(struct recorder *r, const git_oid *id)
{
	if (r->nslot == 0)
		return NULL;
	for (size_t i = store_oid_hash(id) & (r->nslot - 1);; i = (i + 1) & (r->nslot - 1)) {
		uint32_t s = r->slot[i];

		if (s == 0)
			return NULL;
		if (git_oid_equal(&r->v[s - 1].id, id))
			return &r->v[s - 1];
	}
}

static int
rec_rehash(struct recorder *r, size_t nslot)
{
	uint32_t *slot = calloc(nslot, sizeof(*slot));

	if (slot == NULL)
		return -1;
	for (size_t k = 0; k < r->n; k++) {
		size_t i = store_oid_hash(&r->v[k].id) & (nslot - 1);

		while (slot[i] != 0)
			i = (i + 1) & (nslot - 1);
		slot[i] = (uint32_t)k + 1;
	}
	free(r->slot);
	r->slot = slot;
	r->nslot = nslot;
	return 0;
}

static int
rec_write(git_odb_backend *b, const git_oid *id, const void *data, size_t len,
    git_object_t type)
{
	struct recorder *r = (struct recorder *)b;
	struct rec_obj *o;

	if (rec_find(r, id) != NULL)
		return 0;
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 256;
		struct rec_obj *v = realloc(r->v, cap * sizeof(*v));

		if (v == NULL)
			goto oom;
		r->v = v;
		r->cap = cap;
	}
	if ((r->n + 1) * 2 > r->nslot && rec_rehash(r, r->nslot ? r->nslot * 2 : 1024) < 0)
		goto oom;
	o = &r->v[r->n];
	if ((o->data = malloc(len ? len : 1)) == NULL)
		goto oom;
	memcpy(o->data, data, len);
	git_oid_cpy(&o->id, id);
	o->type = type;
	o->len = len;
	r->n++;
	{
		size_t i = store_oid_hash(id) & (r->nslot - 1);

		while (r->slot[i] != 0)
			i = (i + 1) & (r->nslot - 1);
		r->slot[i] = (uint32_t)r->n;
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
	struct rec_obj *o = rec_find((struct recorder *)b, id);

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
	struct rec_obj *o = rec_find((struct recorder *)b, id);

	if (o == NULL)
		return GIT_ENOTFOUND;
	*len = o->len;
	*type = o->type;
	return 0;
}

static int
rec_exists(git_odb_backend *b, const git_oid *id)
{
	return rec_find((struct recorder *)b, id) != NULL;
}

static void
rec_clear(struct recorder *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->v[i].data);
	r->n = 0;
	if (r->nslot)
		memset(r->slot, 0, r->nslot * sizeof(*r->slot));
}

static void
rec_free(git_odb_backend *b)
{
	struct recorder *r = (struct recorder *)b;

	rec_clear(r);
	free(r->v);
	free(r->slot);
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
store_odb_open(struct store_odb **out, git_repository *repo, bool fsync)
{
	struct store_odb *o;
	int error;

	if ((o = calloc(1, sizeof(*o))) == NULL)
		return store_err(-1, "store: out of memory");
	o->repo = repo;
	o->fsync = fsync;
	snprintf(o->objects, sizeof(o->objects), "%sobjects", git_repository_path(repo));
	snprintf(o->packdir, sizeof(o->packdir), "%s/pack", o->objects);
	if ((error = store_odb_rebuild(o)) < 0) {
		free(o);
		return error;
	}
	*out = o;
	return 0;
}

void
store_odb_free(struct store_odb *o)
{
	free(o);	/* the backends belong to the repository's odb */
}

size_t
store_odb_pending(const struct store_odb *o)
{
	return o->rec->n;
}

int
store_odb_put(git_oid *out, struct store_odb *o, git_object_t type, const void *data,
    size_t len)
{
	struct sha1_ctx sc;
	char hdr[40];
	int hl = snprintf(hdr, sizeof(hdr), "%s %zu", git_object_type2string(type), len);

	store_sha1_init(&sc);
	store_sha1_update(&sc, hdr, (size_t)hl + 1);		/* with its NUL */
	store_sha1_update(&sc, data, len);
	store_sha1_final(&sc, out->id);
	/*
	 * Pending already: nothing to do. An object already in a pack is
	 * written again (new objects are the rule; asking every pack costs
	 * more): git accepts an object in several packs, and the merge of
	 * packs keeps one copy.
	 */
	if (rec_find(o->rec, out) != NULL)
		return 0;
	if (rec_write(&o->rec->parent, out, data, len, type) < 0)
		return store_err(-1, "store: out of memory");
	return 0;
}

int
store_odb_peek(struct store_odb *o, const git_oid *id, git_object_t *type,
    const void **data, size_t *len)
{
	struct rec_obj *r = rec_find(o->rec, id);

	if (r == NULL)
		return GIT_ENOTFOUND;
	*type = r->type;
	*data = r->data;
	*len = r->len;
	return 0;
}

void
store_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* One pack entry: type/size header, then zlib stored blocks. */
static void
pack_entry(struct sbuf *b, const struct rec_obj *o)
{
	uint8_t h[16], blk[5], tail[4];
	size_t n = 0, size = o->len, off = 0;
	uint32_t s1 = 1, s2 = 0;

	h[n++] = (uint8_t)((size > 15 ? 0x80 : 0) | (unsigned)o->type << 4 | (size & 15));
	for (size >>= 4; size; size >>= 7)
		h[n++] = (uint8_t)((size > 127 ? 0x80 : 0) | (size & 127));
	store_sbuf_add(b, (const char *)h, n);
	store_sbuf_add(b, "\x78\x01", 2);		/* zlib: deflate, 32 K window */
	do {
		size_t len = o->len - off > 65535 ? 65535 : o->len - off;

		blk[0] = off + len == o->len;	/* BFINAL, BTYPE 00: stored */
		blk[1] = (uint8_t)len;
		blk[2] = (uint8_t)(len >> 8);
		blk[3] = (uint8_t)~len;
		blk[4] = (uint8_t)(~len >> 8);
		store_sbuf_add(b, (const char *)blk, 5);
		store_sbuf_add(b, (const char *)o->data + off, len);
		off += len;
	} while (off < o->len);
	for (size_t i = 0; i < o->len;) {		/* Adler-32 */
		size_t end = o->len - i > 5552 ? i + 5552 : o->len;	/* no overflow */

		for (; i < end; i++) {
			s1 += o->data[i];
			s2 += s1;
		}
		s1 %= 65521;
		s2 %= 65521;
	}
	store_put32(tail, s2 << 16 | s1);
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
	return git_oid_cmp(&((const struct pentry *)a)->id, &((const struct pentry *)b)->id);
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
	int error = 0;

	if (pack->oom || pack->len > 0x7fffffff)
		return store_err(-1, "store: pack too large or out of memory");
	store_sha1_init(&sc);
	store_sha1_update(&sc, pack->p, pack->len);
	store_sha1_final(&sc, psum);
	store_sbuf_add(pack, (const char *)psum, 20);

	qsort(v, n, sizeof(*v), pentry_cmp);
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

int
store_odb_flush(struct store_odb *o)
{
	struct recorder *r = o->rec;
	struct sbuf pack = { 0 };
	struct pentry *v;
	int error;

	if (r->n == 0)
		return 0;
	if (r->n > UINT32_MAX / 2)
		return store_err(STORE_EINVAL, "store: too many objects for one pack");
	if ((v = malloc(r->n * sizeof(*v))) == NULL)
		return store_err(-1, "store: out of memory");
	store_pack_header(&pack, (uint32_t)r->n);
	for (size_t i = 0; i < r->n && !pack.oom; i++) {
		size_t start = pack.len;

		pack_entry(&pack, &r->v[i]);
		if (pack.oom)
			break;
		git_oid_cpy(&v[i].id, &r->v[i].id);
		v[i].off = (uint32_t)start;
		v[i].crc = store_crc32(0, pack.p + start, pack.len - start);
	}
	if ((error = store_pack_commit(o, &pack, v, r->n, NULL)) < 0)
		goto done;
	if ((error = o->pw->inner->refresh(o->pw->inner)) < 0) {
		error = store_gerr(error, "store: loading new pack");
		goto done;
	}
	rec_clear(r);
done:
	store_sbuf_free(&pack);
	free(v);
	return error;
}

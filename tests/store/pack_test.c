/* SPDX-License-Identifier: ISC */
/*
 * Pack consolidation with delta entries, checked by stock git. Packs are
 * written byte by byte here (whole objects in zlib stored blocks, OFS_DELTA
 * and REF_DELTA entries with hand-made deltas: gitformat-pack.txt) or by
 * git pack-objects; they share objects, and the merge must give one pack
 * that git verify-pack and git fsck --strict accept, holding every object
 * once with its content unchanged, with deltas whose base was a duplicate
 * pointed at the copy that stayed. Thin packs are left alone.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/odb_impl.h"

#define FX_NAME "pack_test"
#include "tests/store/fixture.h"

#define T0	1429688300000000ULL


/* Run a shell command; fail the test with its output unless it exits 0. */
static void
sh_ok(const char *fmt, ...)
{
	char cmd[4096], out[64];
	va_list ap;
	size_t l;

	snprintf(out, sizeof(out), "/tmp/pack_test.out.%d", (int)getpid());
	cmd[0] = '(';
	va_start(ap, fmt);
	vsnprintf(cmd + 1, sizeof(cmd) - 128, fmt, ap);
	va_end(ap);
	l = strlen(cmd);
	snprintf(cmd + l, sizeof(cmd) - l, ") >%s 2>&1", out);
	if (system(cmd) != 0)
		fail_msg("%s:\n%s", cmd, sh("cat %s", out));
	unlink(out);
}

static unsigned
npacks(const struct fx *f)
{
	return (unsigned)atoi(sh("ls %s/*.idx | wc -l", f->packdir));
}

/* The name ("pack-<hex>") of the only pack, or of the newest one. */
static const char *
newest_pack(const struct fx *f)
{
	static char name[64];

	snprintf(name, sizeof(name), "%s",
	    sh("cd %s && ls -t *.idx | head -1 | sed 's/\\.idx$//' | tr -d '\\n'", f->packdir));
	return name;
}

/*
 * A pack written entry by entry, and its index. Whole objects go in zlib
 * stored blocks, as the store's own writer does; deltas are built by hand.
 */
struct tpack {
	uint8_t		*p;
	size_t		len, cap;
	struct {
		git_oid		id;
		uint32_t	off, crc;
	}		e[16];
	unsigned	n;
};

static void
tp_add(struct tpack *t, const void *data, size_t len)
{
	if (len == 0)
		return;
	if (t->len + len > t->cap) {
		t->cap = (t->len + len) * 2;
		assert_non_null(t->p = realloc(t->p, t->cap));
	}
	memcpy(t->p + t->len, data, len);
	t->len += len;
}

static void
tp_begin(struct tpack *t)
{
	memset(t, 0, sizeof(*t));
	tp_add(t, "PACK\0\0\0\2\0\0\0\0", 12);
}

/* Type and inflated size, then the zlib stream of data in stored blocks. */
static void
tp_entry(struct tpack *t, unsigned type, const uint8_t *ofs, size_t olen,
    const void *data, size_t len)
{
	uint8_t h[16], blk[5], tail[4];
	size_t n = 0, size = len, off = 0;
	uint32_t s1 = 1, s2 = 0;

	h[n++] = (uint8_t)((size > 15 ? 0x80 : 0) | type << 4 | (size & 15));
	for (size >>= 4; size; size >>= 7)
		h[n++] = (uint8_t)((size > 127 ? 0x80 : 0) | (size & 127));
	tp_add(t, h, n);
	tp_add(t, ofs, olen);
	tp_add(t, "\x78\x01", 2);
	do {
		size_t l = len - off > 65535 ? 65535 : len - off;

		blk[0] = off + l == len;
		blk[1] = (uint8_t)l;
		blk[2] = (uint8_t)(l >> 8);
		blk[3] = (uint8_t)~l;
		blk[4] = (uint8_t)(~l >> 8);
		tp_add(t, blk, 5);
		tp_add(t, (const uint8_t *)data + off, l);
		off += l;
	} while (off < len);
	for (size_t i = 0; i < len; i++) {
		s1 = (s1 + ((const uint8_t *)data)[i]) % 65521;
		s2 = (s2 + s1) % 65521;
	}
	store_put32(tail, s2 << 16 | s1);
	tp_add(t, tail, 4);
}

/* Record the entry that started at off, for object id; its index in t. */
static unsigned
tp_index(struct tpack *t, size_t off, const git_oid *id)
{
	assert_true(t->n < 16);
	git_oid_cpy(&t->e[t->n].id, id);
	t->e[t->n].off = (uint32_t)off;
	t->e[t->n].crc = store_crc32(0, t->p + off, t->len - off);
	return t->n++;
}

static unsigned
tp_blob(struct tpack *t, const struct sbuf *b)
{
	size_t off = t->len;
	git_oid id;

	assert_int_equal(git_odb_hash(&id, b->p, b->len, GIT_OBJECT_BLOB), 0);
	tp_entry(t, GIT_OBJECT_BLOB, NULL, 0, b->p, b->len);
	return tp_index(t, off, &id);
}

/* A delta turning base into base + add: copy all of base, insert add. */
static size_t
mkdelta(uint8_t *d, size_t base_len, const char *add)
{
	size_t n = 0, alen = strlen(add), out = base_len + alen;

	assert_true(base_len > 0 && base_len < 65536 && alen > 0 && alen < 128);
	for (size_t v = base_len; ; v >>= 7) {	/* source and target sizes */
		d[n++] = (uint8_t)((v > 127 ? 0x80 : 0) | (v & 127));
		if (v <= 127)
			break;
	}
	for (size_t v = out; ; v >>= 7) {
		d[n++] = (uint8_t)((v > 127 ? 0x80 : 0) | (v & 127));
		if (v <= 127)
			break;
	}
	d[n++] = 0x80 | 0x10 | 0x20;		/* copy from offset 0, two size bytes */
	d[n++] = (uint8_t)base_len;
	d[n++] = (uint8_t)(base_len >> 8);
	d[n++] = (uint8_t)alen;			/* insert */
	memcpy(d + n, add, alen);
	return n + alen;
}

/* target = base + add, as an OFS_DELTA against entry base of t. */
static unsigned
tp_ofs(struct tpack *t, unsigned base, const struct sbuf *b, const char *add,
    struct sbuf *target)
{
	uint8_t d[256], o[8], tmp[8];
	size_t off = t->len, dl = mkdelta(d, b->len, add), ol = 0, pos = sizeof(tmp) - 1;
	uint64_t rel = off - t->e[base].off;
	git_oid id;

	tmp[pos] = rel & 127;			/* gitformat-pack.txt offset encoding */
	while (rel >>= 7)
		tmp[--pos] = (uint8_t)(128 | (--rel & 127));
	ol = sizeof(tmp) - pos;
	memcpy(o, tmp + pos, ol);
	memset(target, 0, sizeof(*target));
	store_sbuf_add(target, b->p, b->len);
	store_sbuf_puts(target, add);
	assert_int_equal(git_odb_hash(&id, target->p, target->len, GIT_OBJECT_BLOB), 0);
	tp_entry(t, PACK_OFS_DELTA, o, ol, d, dl);
	return tp_index(t, off, &id);
}

/* target = b + add, as a REF_DELTA naming b by id. */
static unsigned
tp_ref(struct tpack *t, const struct sbuf *b, const char *add, struct sbuf *target)
{
	uint8_t d[256];
	size_t off = t->len, dl = mkdelta(d, b->len, add);
	git_oid bid, id;

	assert_int_equal(git_odb_hash(&bid, b->p, b->len, GIT_OBJECT_BLOB), 0);
	memset(target, 0, sizeof(*target));
	store_sbuf_add(target, b->p, b->len);
	store_sbuf_puts(target, add);
	assert_int_equal(git_odb_hash(&id, target->p, target->len, GIT_OBJECT_BLOB), 0);
	tp_entry(t, PACK_REF_DELTA, bid.id, GIT_OID_RAWSZ, d, dl);
	return tp_index(t, off, &id);
}

static int
tp_cmp(const void *a, const void *b)
{
	return git_oid_cmp(a, b);	/* id is the first member */
}

/* Trailer, index v2, both into dir as pack-<hex>; name gets "pack-<hex>". */
static void
tp_finish(struct tpack *t, const char *dir, char name[64])
{
	struct sha1_ctx sc;
	uint8_t sum[20], w[4];
	uint32_t fan[256] = { 0 }, acc = 0;
	char hex[41], path[256];
	struct tpack x;
	FILE *fp;

	store_put32(t->p + 8, t->n);
	store_sha1_init(&sc);
	store_sha1_update(&sc, t->p, t->len);
	store_sha1_final(&sc, sum);
	tp_add(t, sum, 20);
	for (int i = 0; i < 20; i++)
		snprintf(hex + i * 2, 3, "%02x", sum[i]);
	snprintf(name, 64, "pack-%s", hex);
	snprintf(path, sizeof(path), "%s/%s.pack", dir, name);
	assert_non_null(fp = fopen(path, "wb"));
	assert_int_equal(fwrite(t->p, 1, t->len, fp), t->len);
	fclose(fp);

	qsort(t->e, t->n, sizeof(t->e[0]), tp_cmp);
	memset(&x, 0, sizeof(x));
	tp_add(&x, "\377tOc\0\0\0\2", 8);
	for (unsigned i = 0; i < t->n; i++)
		fan[t->e[i].id.id[0]]++;
	for (int i = 0; i < 256; i++) {
		store_put32(w, acc += fan[i]);
		tp_add(&x, w, 4);
	}
	for (unsigned i = 0; i < t->n; i++)
		tp_add(&x, t->e[i].id.id, 20);
	for (unsigned i = 0; i < t->n; i++) {
		store_put32(w, t->e[i].crc);
		tp_add(&x, w, 4);
	}
	for (unsigned i = 0; i < t->n; i++) {
		store_put32(w, t->e[i].off);
		tp_add(&x, w, 4);
	}
	tp_add(&x, sum, 20);
	store_sha1_init(&sc);
	store_sha1_update(&sc, x.p, x.len);
	store_sha1_final(&sc, sum);
	tp_add(&x, sum, 20);
	snprintf(path, sizeof(path), "%s/%s.idx", dir, name);
	assert_non_null(fp = fopen(path, "wb"));
	assert_int_equal(fwrite(x.p, 1, x.len, fp), x.len);
	fclose(fp);
	free(x.p);
	free(t->p);
	t->p = NULL;
}

/* A blob of n bytes that no other seed gives (and that does not compress). */
static void
filler(struct sbuf *b, unsigned seed, size_t n)
{
	uint32_t x = seed * 2654435761u + 1;

	memset(b, 0, sizeof(*b));
	for (size_t i = 0; i < n; i++) {
		char c;

		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		c = (char)x;
		store_sbuf_add(b, &c, 1);
	}
}

static void
text(struct sbuf *b, const char *what)
{
	memset(b, 0, sizeof(*b));
	for (int i = 0; i < 12; i++)
		store_sbuf_printf(b, "%s line %d of the base text\n", what, i);
}

static const char *
hex_of(const struct sbuf *b)
{
	static char hex[GIT_OID_HEXSZ + 1];
	git_oid id;

	assert_int_equal(git_odb_hash(&id, b->p, b->len, GIT_OBJECT_BLOB), 0);
	return git_oid_tostr(hex, sizeof(hex), &id);
}

/* git cat-file blob id == b, byte for byte. */
static void
assert_blob(const struct fx *f, const struct sbuf *b)
{
	char path[160];
	FILE *fp;
	long n;
	char *got;

	snprintf(path, sizeof(path), "%s/blob", f->dir);
	sh_ok("git --git-dir=%s cat-file blob %s >%s", f->repo, hex_of(b), path);
	assert_non_null(fp = fopen(path, "rb"));
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	assert_int_equal(n, b->len);
	assert_non_null(got = malloc((size_t)n + 1));
	assert_int_equal(fread(got, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	assert_memory_equal(got, b->p, b->len);
	free(got);
}

/* A pack and its index read back, for looking at entries by id. */
struct rpack {
	uint8_t		*idx, *pack;
	size_t		ilen, plen;
	uint32_t	n;
};

static uint8_t *
slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *p;
	long n;

	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	assert_non_null(p = malloc((size_t)n));
	assert_int_equal(fread(p, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	*len = (size_t)n;
	return p;
}

static void
rp_open(struct rpack *r, const struct fx *f, const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s.idx", f->packdir, name);
	r->idx = slurp(path, &r->ilen);
	snprintf(path, sizeof(path), "%s/%s.pack", f->packdir, name);
	r->pack = slurp(path, &r->plen);
	r->n = (uint32_t)r->idx[8 + 1020] << 24 | (uint32_t)r->idx[8 + 1021] << 16 |
	    (uint32_t)r->idx[8 + 1022] << 8 | r->idx[8 + 1023];
	assert_int_equal(r->ilen, 8 + 1024 + (size_t)r->n * 28 + 40);
}

static void
rp_close(struct rpack *r)
{
	free(r->idx);
	free(r->pack);
}

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* How many index entries name the blob b (0 or 1), and its offset. */
static unsigned
rp_find(const struct rpack *r, const struct sbuf *b, uint32_t *off)
{
	unsigned hits = 0;
	git_oid id;

	assert_int_equal(git_odb_hash(&id, b->p, b->len, GIT_OBJECT_BLOB), 0);
	for (uint32_t i = 0; i < r->n; i++)
		if (memcmp(r->idx + 1032 + (size_t)i * 20, id.id, 20) == 0) {
			*off = be32(r->idx + 1032 + (size_t)r->n * 24 + (size_t)i * 4);
			hits++;
		}
	return hits;
}

/* Entry at off: its type; for an OFS_DELTA the base's offset and encoding length. */
static unsigned
rp_entry(const struct rpack *r, uint32_t off, uint32_t *base, size_t *olen)
{
	const uint8_t *p = r->pack + off;
	unsigned type = (p[0] >> 4) & 7;
	size_t i = 0, j;
	uint64_t rel;

	while (p[i] & 0x80)
		i++;
	i++;
	if (type == PACK_OFS_DELTA) {
		j = i;
		rel = p[j] & 127;
		while (p[j] & 0x80) {
			j++;
			rel = ((rel + 1) << 7) | (p[j] & 127);
		}
		*olen = j + 1 - i;
		*base = (uint32_t)(off - rel);
	} else if (type == PACK_REF_DELTA) {
		*base = 0;
		*olen = 20;
	}
	return type;
}

static uint32_t
pack_bytes(const struct fx *f, const char *name)
{
	return (uint32_t)atol(sh("stat -c %%s %s/%s.pack", f->packdir, name));
}

/*
 * Three packs sharing objects, smallest first (so merged in this order):
 *
 *   P1: B0, F1
 *   P2: B0 (again), B1 = OFS(B0), B2 = OFS(B1), B3 = REF(B0), B4 = REF(B5),
 *       B5, F2
 *   P3: F3, B1 (whole, again), B6 = OFS(B1 just before it)
 *
 * The fillers F (random blobs) make the sizes geometric-merge material and
 * push the copies apart: B1's base B0 becomes P1's copy 20 KB back, B6's
 * base becomes P2's B1 (itself a delta) 40 KB back, and both distances
 * need more bytes than they had in their packs.
 */
struct blobs {
	struct sbuf	b[7], fl[3];
	char		p[3][64];
};

static void
blobs_free(struct blobs *bl)
{
	for (int i = 0; i < 7; i++)
		store_sbuf_free(&bl->b[i]);
	for (int i = 0; i < 3; i++)
		store_sbuf_free(&bl->fl[i]);
}

static void
write_delta_packs(const struct fx *f, struct blobs *bl)
{
	struct tpack t;
	unsigned b0, b1;

	text(&bl->b[0], "zero");
	text(&bl->b[5], "five");
	filler(&bl->fl[0], 1, 20000);
	filler(&bl->fl[1], 2, 20000);
	filler(&bl->fl[2], 3, 21000);

	tp_begin(&t);
	tp_blob(&t, &bl->b[0]);
	tp_blob(&t, &bl->fl[0]);
	tp_finish(&t, f->packdir, bl->p[0]);

	tp_begin(&t);
	b0 = tp_blob(&t, &bl->b[0]);
	b1 = tp_ofs(&t, b0, &bl->b[0], "one\n", &bl->b[1]);
	tp_ofs(&t, b1, &bl->b[1], "two\n", &bl->b[2]);
	tp_ref(&t, &bl->b[0], "three\n", &bl->b[3]);
	tp_ref(&t, &bl->b[5], "four\n", &bl->b[4]);	/* its base comes later */
	tp_blob(&t, &bl->b[5]);
	tp_blob(&t, &bl->fl[1]);
	tp_finish(&t, f->packdir, bl->p[1]);

	tp_begin(&t);
	tp_blob(&t, &bl->fl[2]);
	b1 = tp_blob(&t, &bl->b[1]);
	tp_ofs(&t, b1, &bl->b[1], "six\n", &bl->b[6]);
	tp_finish(&t, f->packdir, bl->p[2]);

	/* The inputs are sound, and ordered as described. */
	for (int i = 0; i < 3; i++)
		sh_ok("git verify-pack %s/%s.idx", f->packdir, bl->p[i]);
	assert_true(pack_bytes(f, bl->p[0]) < pack_bytes(f, bl->p[1]));
	assert_true(pack_bytes(f, bl->p[1]) < pack_bytes(f, bl->p[2]));
}

/* Sorted "id type size" of every object, and their count. */
static char *
all_objects(const struct fx *f, unsigned *n)
{
	char *s = strdup(sh("git --git-dir=%s cat-file --batch-all-objects "
	    "--batch-check", f->repo));

	assert_non_null(s);
	*n = 0;
	for (const char *p = s; (p = strchr(p, '\n')) != NULL; p++)
		(*n)++;
	return s;
}

static void
consolidate_ok(struct store *st, unsigned max)
{
	int error;

	assert_int_equal(store_odb_pending(st->odb), 0);
	if ((error = store_odb_consolidate(st->odb, max)) != 0)
		fail_msg("store_odb_consolidate: %d %s", error, store_strerror());
}

static void
store_odb_consolidate__rewrites_ofs_deltas_to_kept_copies(void **state)
{
	struct fx *f = *state;
	struct store_opts o;
	struct store *st;
	struct blobs bl;
	struct rpack r;
	uint32_t off[7], base;
	size_t olen;
	unsigned nobj, nobj2;
	char *before, *after;
	git_blob *blob;
	git_oid id;

	opts(&o);
	o.max_packs = 100;
	st = open_ok(f->repo, &o);
	write_delta_packs(f, &bl);
	assert_int_equal(npacks(f), 4);		/* the store's first commit, P1-P3 */
	before = all_objects(f, &nobj);
	/* Stock git's files beside a pack go with it. */
	sh_ok("touch %s/%s.bitmap %s/%s.rev", f->packdir, bl.p[0], f->packdir, bl.p[1]);

	consolidate_ok(st, 2);
	assert_int_equal(npacks(f), 1);
	assert_int_equal(atoi(sh("ls %s | wc -l", f->packdir)), 2);	/* .idx, .pack */
	sh_ok("git verify-pack -v %s/%s.idx", f->packdir, newest_pack(f));
	assert_fsck(f->repo);
	after = all_objects(f, &nobj2);
	assert_string_equal(after, before);
	for (int i = 0; i < 7; i++)
		assert_blob(f, &bl.b[i]);
	for (int i = 0; i < 3; i++)
		assert_blob(f, &bl.fl[i]);

	/* Every object once; the deltas still deltas, pointing at the kept copies. */
	rp_open(&r, f, newest_pack(f));
	assert_int_equal(r.n, nobj);
	for (int i = 0; i < 7; i++)
		assert_int_equal(rp_find(&r, &bl.b[i], &off[i]), 1);
	assert_int_equal(rp_entry(&r, off[0], &base, &olen), GIT_OBJECT_BLOB);
	assert_int_equal(rp_entry(&r, off[1], &base, &olen), PACK_OFS_DELTA);
	assert_int_equal(base, off[0]);		/* P2's B0 was P1's */
	assert_int_equal(olen, 3);		/* was 2 bytes in P2 */
	assert_int_equal(rp_entry(&r, off[2], &base, &olen), PACK_OFS_DELTA);
	assert_int_equal(base, off[1]);
	assert_int_equal(rp_entry(&r, off[3], &base, &olen), PACK_REF_DELTA);
	assert_int_equal(rp_entry(&r, off[4], &base, &olen), PACK_REF_DELTA);
	assert_true(off[4] < off[5]);		/* a REF_DELTA's base may follow it */
	assert_int_equal(rp_entry(&r, off[6], &base, &olen), PACK_OFS_DELTA);
	assert_int_equal(base, off[1]);		/* P3's B1 was P2's, a delta itself */
	assert_int_equal(olen, 3);		/* was 2 bytes in P3 */
	rp_close(&r);

	/* The store reads the merged pack (its odb was rebuilt). */
	assert_int_equal(git_odb_hash(&id, bl.b[6].p, bl.b[6].len, GIT_OBJECT_BLOB), 0);
	assert_int_equal(git_blob_lookup(&blob, store_repo(st), &id), 0);
	assert_int_equal(git_blob_rawsize(blob), bl.b[6].len);
	assert_memory_equal(git_blob_rawcontent(blob), bl.b[6].p, bl.b[6].len);
	git_blob_free(blob);
	store_free(st);
	/* Such a file whose pack is gone (a crash in between) goes at open. */
	sh_ok("touch %s/pack-%040d.rev", f->packdir, 0);
	st = open_ok(f->repo, &o);
	assert_int_equal(atoi(sh("ls %s | wc -l", f->packdir)), 2);
	store_free(st);
	free(before);
	free(after);
	blobs_free(&bl);
}

/*
 * A crash after the merged pack was written and before its inputs went:
 * merging them all again gives the very same pack (an OFS_DELTA is
 * rewritten the same way each time), renamed over the merged one, which
 * must stay.
 */
static void
store_odb_consolidate__remerge_after_crash_keeps_merged_pack(void **state)
{
	struct fx *f = *state;
	struct store_opts o;
	struct store *st;
	struct blobs bl;
	char merged[64], *before, *after;
	unsigned nobj;

	opts(&o);
	o.max_packs = 100;
	st = open_ok(f->repo, &o);
	write_delta_packs(f, &bl);
	before = all_objects(f, &nobj);
	sh_ok("mkdir -p %s/saved && cp %s/* %s/saved/", f->dir, f->packdir, f->dir);
	consolidate_ok(st, 2);
	assert_int_equal(npacks(f), 1);
	snprintf(merged, sizeof(merged), "%s", newest_pack(f));
	sh_ok("cp -n %s/saved/* %s/", f->dir, f->packdir);
	assert_int_equal(npacks(f), 5);
	consolidate_ok(st, 2);
	assert_int_equal(npacks(f), 1);
	assert_string_equal(newest_pack(f), merged);
	assert_fsck(f->repo);
	after = all_objects(f, &nobj);
	assert_string_equal(after, before);
	for (int i = 0; i < 7; i++)
		assert_blob(f, &bl.b[i]);
	store_free(st);
	free(before);
	free(after);
	blobs_free(&bl);
}

/*
 * A damaged OFS_DELTA (its bytes no longer match the index's CRC) is not
 * given a fresh CRC in a merged pack: the merge stops with STORE_EIO and
 * leaves every pack as it was.
 */
static void
store_odb_consolidate__damaged_delta_is_an_error(void **state)
{
	struct fx *f = *state;
	struct store_opts o;
	struct store *st;
	struct blobs bl;
	struct rpack r;
	char path[256];
	uint32_t off, base;
	size_t olen;
	FILE *fp;
	int c;

	opts(&o);
	o.max_packs = 100;
	st = open_ok(f->repo, &o);
	write_delta_packs(f, &bl);
	rp_open(&r, f, bl.p[1]);
	assert_int_equal(rp_find(&r, &bl.b[2], &off), 1);
	assert_int_equal(rp_entry(&r, off, &base, &olen), PACK_OFS_DELTA);
	rp_close(&r);
	/* A byte of the delta's zlib stream, past its two-byte header. */
	snprintf(path, sizeof(path), "%s/%s.pack", f->packdir, bl.p[1]);
	sh_ok("chmod u+w %s", path);
	assert_non_null(fp = fopen(path, "r+b"));
	fseek(fp, (long)off + 12, SEEK_SET);
	c = fgetc(fp);
	fseek(fp, (long)off + 12, SEEK_SET);
	fputc(c ^ 0x40, fp);
	fclose(fp);

	assert_int_equal(store_odb_consolidate(st->odb, 2), STORE_EIO);
	assert_non_null(strstr(store_strerror(), "CRC mismatch"));
	assert_int_equal(npacks(f), 4);
	/* In the background: a pack count waits for it, the next poll reports it once. */
	assert_int_equal(store_odb_merge_start(st->odb, 2, false), 0);
	assert_true(store_odb_merging(st->odb));
	assert_int_equal(store_pack_count(st), 4);
	assert_false(store_odb_merging(st->odb));
	assert_int_equal(store_odb_merge_poll(st->odb, false), STORE_EIO);
	assert_non_null(strstr(store_strerror(), "CRC mismatch"));
	assert_int_equal(store_odb_merge_poll(st->odb, false), 0);
	assert_int_equal(npacks(f), 4);
	assert_string_equal(sh("ls %s | grep -c -v '^pack-'", f->packdir), "0\n");
	store_free(st);

	assert_non_null(fp = fopen(path, "r+b"));	/* repaired, for fsck */
	fseek(fp, (long)off + 12, SEEK_SET);
	fputc(c, fp);
	fclose(fp);
	assert_fsck(f->repo);
	blobs_free(&bl);
}

/*
 * A thin pack (a REF_DELTA whose base is in no pack being merged: here a
 * loose object) is left as it is, the others merged; a thin pack whose
 * base is in a pack merged before it is merged, and whole again.
 */
static void
store_odb_consolidate__leaves_thin_pack_alone(void **state)
{
	struct fx *f = *state;
	struct store_opts o;
	struct store *st;
	struct sbuf x0, x1, y0, y1, fill0, fill1, fill2;
	struct tpack t;
	char thin[64], thin2[64], p1[64], path[256];
	uint8_t *before;
	size_t blen;

	opts(&o);
	o.max_packs = 100;
	st = open_ok(f->repo, &o);
	text(&x0, "loose");
	text(&y0, "packed");
	filler(&fill0, 6, 500);		/* sizes: thin < p1 < thin2 */
	filler(&fill1, 7, 1000);
	filler(&fill2, 8, 1600);
	sh_ok("printf '%%s' '%.*s' | git --git-dir=%s hash-object -w --stdin",
	    (int)x0.len, x0.p, f->repo);

	tp_begin(&t);
	tp_ref(&t, &x0, "thin\n", &x1);
	tp_blob(&t, &fill0);
	tp_finish(&t, f->packdir, thin);
	tp_begin(&t);
	tp_blob(&t, &y0);
	tp_blob(&t, &fill1);
	tp_finish(&t, f->packdir, p1);
	tp_begin(&t);
	tp_ref(&t, &y0, "thin too\n", &y1);
	tp_blob(&t, &fill2);
	tp_finish(&t, f->packdir, thin2);
	assert_true(pack_bytes(f, thin) < pack_bytes(f, p1));
	assert_true(pack_bytes(f, p1) < pack_bytes(f, thin2));
	snprintf(path, sizeof(path), "%s/%s.pack", f->packdir, thin);
	before = slurp(path, &blen);

	consolidate_ok(st, 2);
	assert_int_equal(npacks(f), 2);
	{
		uint8_t *now;
		size_t nlen;

		now = slurp(path, &nlen);	/* untouched */
		assert_int_equal(nlen, blen);
		assert_memory_equal(now, before, blen);
		free(now);
	}
	assert_string_equal(sh("ls %s/%s.idx %s/%s.idx 2>&1 >/dev/null | wc -l",
	    f->packdir, p1, f->packdir, thin2), "2\n");
	assert_blob(f, &y1);
	sh_ok("git verify-pack %s/$(cd %s && ls *.idx | grep -v %s)", f->packdir,
	    f->packdir, thin);
	/* git cannot read a thin pack either: drop it before the check. */
	sh_ok("rm -f %s/%s.*", f->packdir, thin);
	assert_fsck(f->repo);
	store_free(st);
	free(before);
	store_sbuf_free(&x0);
	store_sbuf_free(&x1);
	store_sbuf_free(&y0);
	store_sbuf_free(&y1);
	store_sbuf_free(&fill0);
	store_sbuf_free(&fill1);
	store_sbuf_free(&fill2);
}

/*
 * One /24 of 64 neighbours (round 0), then rounds that rewrite four of
 * them: each round a new version of the same 64-entry tree, which git
 * deltas well.
 */
static void
history(struct store *st, unsigned first, unsigned rounds)
{
	static const uint8_t mac[6] = { 0x02, 0x50, 0x2a, 0x16, 0x6d, 0x01 };

	for (unsigned r = first; r < first + rounds; r++) {
		uint64_t now = T0 + (uint64_t)r * 1000000;

		for (uint32_t i = 0; i < 64; i++) {
			struct store_change c;

			if (r > 0 && i % 16 != r % 16)
				continue;
			memset(&c, 0, sizeof(c));
			c.op = r == 0 ? EV_ADD : EV_UPDATE;
			c.cause = EV_CAUSE_ARP_REPLY;
			c.now_us = now;
			c.e.table = EV_TABLE_ARP;
			c.e.arp.ip = 0x0a000000 | (i + 1);
			memcpy(c.e.arp.mac, mac, 6);
			c.e.arp.mac[5] = (uint8_t)r;
			c.e.arp.state = ARP_REACHABLE;
			c.e.arp.updated_us = now;
			c.e.arp.expires_us = now + 3600000000ULL;
			assert_int_equal(store_record(st, &c), 0);
		}
		assert_int_equal(store_commit(st, now, NULL), 0);
		assert_int_equal(store_flush(st), 0);
	}
}

/*
 * Stock git's own delta packs, written into the store: git pack-objects
 * with --delta-base-offset (OFS_DELTA) and without (REF_DELTA), over
 * overlapping parts of the history. The next flush that goes over
 * max_packs merges them all; every object stays readable, each once.
 */
static void
store_flush__merges_stock_git_delta_packs(void **state)
{
	struct fx *f = *state;
	struct store_opts o;
	struct store *st;
	struct rpack r;
	unsigned nobj, nsrc, types[8] = { 0 };
	char g[256];

	opts(&o);
	o.max_packs = 100;
	st = open_ok(f->repo, &o);
	history(st, 0, 16);
	store_free(st);

	snprintf(g, sizeof(g), "git --git-dir=%s", f->repo);
	sh_ok("%s cat-file --batch-all-objects --batch-check >%s/before", g, f->dir);
	/* Older half, OFS_DELTA; newer half, REF_DELTA; a middle slice, OFS. */
	sh_ok("mkdir %s/new", f->dir);
	sh_ok("%s rev-list --objects primary~8 | %s pack-objects -q "
	    "--delta-base-offset --window=50 --depth=50 %s/new/pack", g, g, f->dir);
	sh_ok("%s rev-list --objects primary~10..primary | %s pack-objects -q "
	    "--window=50 --depth=50 %s/new/pack", g, g, f->dir);
	sh_ok("%s rev-list --objects primary~4 ^primary~13 | %s pack-objects -q "
	    "--delta-base-offset --window=50 --depth=50 %s/new/pack", g, g, f->dir);
	/* Replace the store's packs by git's: all of primary is in the first two. */
	sh_ok("rm %s/* && mv %s/new/* %s/", f->packdir, f->dir, f->packdir);
	assert_int_equal(npacks(f), 3);
	sh_ok("%s cat-file --batch-all-objects --batch-check >%s/git", g, f->dir);
	sh_ok("cmp %s/before %s/git", f->dir, f->dir);
	assert_fsck(f->repo);
	nobj = (unsigned)atoi(sh("wc -l <%s/before", f->dir));
	nsrc = (unsigned)atoi(sh("for i in %s/*.idx; do git show-index <$i; done | wc -l",
	    f->packdir));
	assert_true(nsrc > nobj);		/* they share objects */
	assert_true(atoi(sh("for i in %s/*.idx; do git verify-pack -v $i; done | "
	    "grep -c 'chain length'", f->packdir)) > 0);

	o.max_packs = 2;
	st = open_ok(f->repo, &o);
	history(st, 16, 1);			/* a fourth pack: over max_packs */
	assert_int_equal(store_pack_count(st), 1);
	store_free(st);
	assert_int_equal(npacks(f), 1);
	sh_ok("git verify-pack -v %s/%s.idx", f->packdir, newest_pack(f));
	assert_fsck(f->repo);
	sh_ok("%s cat-file --batch-all-objects --batch-check >%s/after", g, f->dir);
	assert_string_equal(sh("comm -23 %s/before %s/after | wc -l", f->dir, f->dir), "0\n");
	sh_ok("%s cat-file --batch-all-objects --batch >/dev/null", g);

	/* Still deltas of both kinds, each object once. */
	rp_open(&r, f, newest_pack(f));
	assert_int_equal(r.n, atoi(sh("wc -l <%s/after", f->dir)));
	for (uint32_t i = 0; i < r.n; i++) {
		uint32_t base;
		size_t olen;

		types[rp_entry(&r, be32(r.idx + 1032 + (size_t)r.n * 24 + (size_t)i * 4),
		    &base, &olen)]++;
	}
	assert_true(types[PACK_OFS_DELTA] > 0);
	assert_true(types[PACK_REF_DELTA] > 0);
	rp_close(&r);

	/* The deep repack takes the merged pack with its deltas. */
	st = open_ok(f->repo, &o);
	assert_int_equal(store_repack(st), 0);
	assert_int_equal(store_pack_count(st), 1);
	store_free(st);
	assert_fsck(f->repo);
	sh_ok("%s cat-file --batch-all-objects --batch-check >%s/repacked", g, f->dir);
	sh_ok("cmp %s/after %s/repacked", f->dir, f->dir);
}


static int
count_fn(void *ctx, const struct store_commit *c)
{
	(void)c;
	(*(size_t *)ctx)++;
	return 0;
}

/*
 * Compaction: the commit path's packs (one per flush) become one deflated
 * pack of deltas, every object kept (each once), far smaller; git reads it
 * (verify-pack, fsck --strict) and so does the store.
 */
static void
store_compact__one_pack_of_deltas_every_object_kept(void **state)
{
	struct fx *f = *state;
	struct store_opts o;
	struct store *st;
	char g[256];
	long before, after;

	opts(&o);
	o.max_packs = 1000;
	o.compact_s = 0;		/* only on request */
	st = open_ok(f->repo, &o);
	history(st, 0, 40);
	snprintf(g, sizeof(g), "git --git-dir=%s", f->repo);
	sh_ok("%s cat-file --batch-all-objects --batch-check | sort >%s/before", g, f->dir);
	before = atol(sh("cat %s/*.pack | wc -c", f->packdir));
	assert_true(npacks(f) > 10);
	assert_int_equal(store_compact(st), 0);
	assert_int_equal(store_compactions(st), 1);
	assert_int_equal(npacks(f), 1);
	after = atol(sh("cat %s/*.pack | wc -c", f->packdir));
	assert_true(after * 4 < before);
	sh_ok("%s cat-file --batch-all-objects --batch-check | sort >%s/after", g, f->dir);
	sh_ok("cmp %s/before %s/after", f->dir, f->dir);
	sh_ok("git verify-pack %s/%s.idx", f->packdir, newest_pack(f));
	assert_true(atoi(sh("git verify-pack -v %s/%s.idx | grep -c 'chain length'",
	    f->packdir, newest_pack(f))) > 0);
	assert_fsck(f->repo);
	/* Compacted packs are not compacted again; new commits are. */
	history(st, 40, 3);
	assert_int_equal(store_compact(st), 0);
	assert_int_equal(npacks(f), 2);
	store_free(st);
	st = open_ok(f->repo, &o);	/* and the store reads it back */
	history(st, 43, 1);
	store_free(st);
	assert_fsck(f->repo);
}

static void
arp_round(struct store *st, unsigned r, uint32_t n)
{
	uint64_t now = T0 + (uint64_t)r * 1000000;

	for (uint32_t i = 0; i < n; i++) {
		struct store_change c;

		if (r > 0 && i % 4 != r - 1)
			continue;
		memset(&c, 0, sizeof(c));
		c.op = r == 0 ? EV_ADD : EV_UPDATE;
		c.cause = EV_CAUSE_ARP_REPLY;
		c.now_us = now;
		c.e.table = EV_TABLE_ARP;
		c.e.arp.ip = 0x0a000000 | (i + 1);
		c.e.arp.mac[0] = 0x02;
		c.e.arp.mac[4] = (uint8_t)(i >> 8);
		c.e.arp.mac[5] = (uint8_t)r;
		c.e.arp.state = ARP_REACHABLE;
		c.e.arp.updated_us = now;
		c.e.arp.expires_us = now + 3600000000ULL;
		assert_int_equal(store_record(st, &c), 0);
	}
	assert_int_equal(store_commit(st, now, NULL), 0);
	assert_int_equal(store_flush(st), 0);
}

static int
count_item(void *ctx, const struct store_item *it)
{
	(void)it;
	(*(unsigned *)ctx)++;
	return 0;
}

struct last_round {
	unsigned	n, wrong;
};

static int
check_last_round(void *ctx, const struct store_entry *e)
{
	struct last_round *l = ctx;
	uint32_t i = (e->arp.ip & 0xffffff) - 1;

	l->n++;
	if (e->table != EV_TABLE_ARP || e->arp.mac[5] != i % 4 + 1 ||
	    e->arp.mac[4] != (uint8_t)(i >> 8))
		l->wrong++;
	return 0;
}

/*
 * A table walk longer than WALK_TRIM_BLOBS (4096) gives libgit2's
 * delta-base caches back as it goes (store_trim between two blobs): every
 * entry of a compacted history (blobs in delta chains) still loads, each
 * at its last version, through a restore and through the tool's walk.
 */
static void
store_load__compacted_table_across_trims(void **state)
{
	struct fx *f = *state;
	struct store_opts o;
	struct store *st;
	struct store_reader *r;
	struct last_round l = { 0 };
	unsigned items = 0;

	opts(&o);
	o.max_packs = 1000;
	o.compact_s = 0;
	st = open_ok(f->repo, &o);
	for (unsigned round = 0; round <= 4; round++)
		arp_round(st, round, 10000);
	assert_int_equal(store_compact(st), 0);
	assert_int_equal(npacks(f), 1);
	store_free(st);
	assert_true(atoi(sh("git verify-pack -v %s/%s.idx | grep -c 'chain length'",
	    f->packdir, newest_pack(f))) > 0);

	st = open_ok(f->repo, &o);
	assert_int_equal(store_load(store_reader_of(st), NULL, check_last_round, &l), 0);
	assert_int_equal(l.n, 10000);
	assert_int_equal(l.wrong, 0);
	arp_round(st, 0, 10000);	/* and the store writes on (round 0 again: all change) */
	store_free(st);
	assert_fsck(f->repo);

	assert_int_equal(store_reader_open(&r, f->repo), 0);
	assert_int_equal(store_items(r, NULL, STORE_TABLE_BOTH, count_item, NULL, &items), 0);
	assert_int_equal(items, 10000);
	store_reader_free(r);
}

/*
 * A cut: history before the cutoff goes, the commit at the cutoff is the
 * shallow boundary (whole tree, same id), git log stops there, fsck
 * --strict is clean, the reader's walks stop there too and the store
 * reopens and commits on top.
 */
static void
store_retain_cut__shallow_boundary(void **state)
{
	struct fx *f = *state;
	struct store_opts o;
	struct store *st;
	struct store_reader *r;
	struct store_oid at, head;
	char g[256], bound[64], old_tree[64], bound_tree[64];
	size_t n = 0;
	struct store_walk w = { 0 };

	opts(&o);
	o.compact_s = 0;
	st = open_ok(f->repo, &o);
	history(st, 0, 30);
	snprintf(g, sizeof(g), "git --git-dir=%s", f->repo);
	/* The commit of round 20 (time T0 + 20 s) and an older one's tree. */
	snprintf(bound, sizeof(bound), "%s", sh("%s rev-list -1 --before=%llu primary", g,
	    (unsigned long long)(T0 / 1000000 + 20)));
	bound[40] = '\0';
	snprintf(bound_tree, sizeof(bound_tree), "%s", sh("%s rev-parse %s^{tree}", g, bound));
	snprintf(old_tree, sizeof(old_tree), "%s", sh("%s rev-parse primary~25^{tree}", g));
	assert_int_equal(store_retain_cut(st, (int64_t)(T0 / 1000000 + 20)), 0);
	assert_string_equal(sh("cat %s/shallow", f->repo), strcat(bound, "\n"));
	bound[40] = '\0';
	assert_string_equal(sh("%s rev-parse %s^{tree}", g, bound), bound_tree);
	assert_string_equal(sh("%s rev-list --count primary", g), "10\n");
	assert_string_equal(sh("%s log --format=%%H primary | tail -1", g), strcat(bound, "\n"));
	old_tree[40] = '\0';
	assert_int_not_equal(system(sh("echo %s cat-file -e %s 2>/dev/null", g, old_tree)), 0);
	assert_fsck(f->repo);
	r = store_reader_of(st);
	head = *store_head(st);
	w.start = &head;
	w.nstart = 1;
	assert_int_equal(store_log(r, &w, count_fn, &n), 0);
	assert_int_equal(n, 10);
	assert_int_equal(store_at_time(&at, r, T0 + 5000000), STORE_ENOTFOUND);
	assert_int_equal(store_at_time(&at, r, T0 + 25000000), 0);
	/* Nothing older than the boundary is left to cut. */
	assert_int_equal(store_retain_cut(st, (int64_t)(T0 / 1000000 + 20)), 1);
	store_free(st);
	st = open_ok(f->repo, &o);
	history(st, 30, 2);
	store_free(st);
	assert_string_equal(sh("%s rev-list --count primary", g), "12\n");
	assert_fsck(f->repo);
}

/*
 * A merge's replaced packs stay on disk for the grace (a reader such as git
 * fsck that listed them may still open them), out of the store's list and
 * its byte count; they go after the grace, at once past the size mark, and
 * at close.
 */
static void
store_odb_consolidate__replaced_packs_wait_for_readers(void **state)
{
	struct fx *f = *state;
	struct store_opts o;
	struct store *st;
	struct blobs bl;
	uint64_t bytes;

	opts(&o);
	o.max_packs = 100;
	o.pack_grace_s = 30;
	st = open_ok(f->repo, &o);
	write_delta_packs(f, &bl);
	assert_int_equal(npacks(f), 4);
	consolidate_ok(st, 2);
	/* Still on disk, not the store's: one pack counted, fsck clean. */
	assert_int_equal(npacks(f), 5);
	assert_int_equal(store_pack_count(st), 1);
	assert_true(store_odb_retired_bytes(st->odb) > 0);
	bytes = store_history_bytes(st);
	assert_int_equal(bytes + store_odb_retired_bytes(st->odb),
	    (uint64_t)atoll(sh("cat %s/* | wc -c", f->packdir)));
	assert_fsck(f->repo);
	/* Within the grace a settle keeps them. */
	assert_int_equal(store_odb_merge_poll(st->odb, false), 0);
	assert_int_equal(npacks(f), 5);
	/* Past the grace they go, and the store still reads everything. */
	store_odb_set_grace(st->odb, 0);
	assert_int_equal(store_odb_merge_poll(st->odb, false), 0);
	assert_int_equal(npacks(f), 1);
	assert_int_equal(store_odb_retired_bytes(st->odb), 0);
	for (int i = 0; i < 7; i++)
		assert_blob(f, &bl.b[i]);
	assert_int_equal(store_history_bytes(st), bytes);
	store_free(st);
	blobs_free(&bl);
	assert_fsck(f->repo);
}

/* Over the size mark, and at close, replaced packs go at once. */
static void
store_odb_consolidate__replaced_packs_go_at_the_mark_and_at_close(void **state)
{
	struct fx *f = *state;
	struct store_opts o;
	struct store *st;
	struct blobs bl;

	opts(&o);
	o.max_packs = 100;
	o.pack_grace_s = 3600;
	st = open_ok(f->repo, &o);
	write_delta_packs(f, &bl);
	store_odb_set_retire_cap(st->odb, 1);	/* any pack is over it */
	consolidate_ok(st, 2);
	assert_int_equal(npacks(f), 1);
	assert_int_equal(store_odb_retired_bytes(st->odb), 0);
	store_free(st);
	blobs_free(&bl);

	/* A second round under no cap: retired, then gone at close. */
	st = open_ok(f->repo, &o);
	write_delta_packs(f, &bl);
	consolidate_ok(st, 2);
	assert_true(npacks(f) > 1);
	store_free(st);
	blobs_free(&bl);
	assert_int_equal(npacks(f), 1);
	assert_fsck(f->repo);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(store_odb_consolidate__rewrites_ofs_deltas_to_kept_copies),
		T(store_odb_consolidate__remerge_after_crash_keeps_merged_pack),
		T(store_odb_consolidate__damaged_delta_is_an_error),
		T(store_odb_consolidate__leaves_thin_pack_alone),
		T(store_odb_consolidate__replaced_packs_wait_for_readers),
		T(store_odb_consolidate__replaced_packs_go_at_the_mark_and_at_close),
		T(store_flush__merges_stock_git_delta_packs),
		T(store_compact__one_pack_of_deltas_every_object_kept),
		T(store_load__compacted_table_across_trims),
		T(store_retain_cut__shallow_boundary),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

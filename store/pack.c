/*
 * Pack maintenance: listing, geometric consolidation of small packs by
 * copying their entries, a full repack through libgit2's packbuilder, and
 * the clean-up of what a crash left behind.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "odb_impl.h"

struct packinfo {
	char		name[128];	/* "pack-<hex>" */
	uint32_t	nobj;
	uint64_t	bytes;		/* of the .pack */
};

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
		    strcmp(de->d_name + l - 4, ".idx") != 0)
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

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int
off_cmp(const void *a, const void *b)
{
	const struct pentry *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

/*
 * Append the objects of pack `name` to out (entries in v from *nv), copying
 * entry bytes as they are. Only packs of whole objects qualify (ours): 1
 * when the pack holds deltas or 64-bit offsets (left alone), 0 when added.
 */
/* A set of object ids (open addressing), for de-duplicating a merge. */
struct oidset {
	git_oid		*v;
	size_t		cap, n;
};

/* Add id; 1 if it was there already, 0 if added, -1 out of memory. */
static int
oidset_add(struct oidset *s, const git_oid *id)
{
	size_t i;

	if ((s->n + 1) * 2 > s->cap) {
		struct oidset t = { calloc(s->cap ? s->cap * 2 : 4096, sizeof(git_oid)),
		    s->cap ? s->cap * 2 : 4096, 0 };

		if (t.v == NULL)
			return -1;
		for (size_t k = 0; k < s->cap; k++)
			if (!git_oid_is_zero(&s->v[k]))
				oidset_add(&t, &s->v[k]);
		free(s->v);
		*s = t;
	}
	for (i = store_oid_hash(id) & (s->cap - 1); !git_oid_is_zero(&s->v[i]);
	    i = (i + 1) & (s->cap - 1))
		if (git_oid_equal(&s->v[i], id))
			return 1;
	git_oid_cpy(&s->v[i], id);
	s->n++;
	return 0;
}

static int
raw_append(struct store_odb *o, const char *name, struct sbuf *out,
    struct pentry **v, size_t *nv, size_t *cap, struct oidset *seen)
{
	struct sbuf idx = { 0 }, pack = { 0 };
	struct pentry *e = NULL;
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
	n = get32((uint8_t *)idx.p + 8 + 1020);
	if (idx.len != 8 + 1024 + (size_t)n * 28 + 40 || get32((uint8_t *)pack.p + 8) != n) {
		error = 1;		/* 64-bit offsets, or not ours: leave it */
		goto done;
	}
	if ((e = malloc((n + 1) * sizeof(*e))) == NULL) {
		error = store_err(-1, "store: out of memory");
		goto done;
	}
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *base = (const uint8_t *)idx.p + 8 + 1024;

		memcpy(e[i].id.id, base + (size_t)i * 20, 20);
		e[i].crc = get32(base + (size_t)n * 20 + (size_t)i * 4);
		e[i].off = get32(base + (size_t)n * 24 + (size_t)i * 4);
	}
	qsort(e, n, sizeof(*e), off_cmp);
	for (uint32_t i = 0; i < n; i++) {
		size_t end = i + 1 < n ? e[i + 1].off : pack.len - 20;
		unsigned type = ((uint8_t)pack.p[e[i].off] >> 4) & 7;

		if (e[i].off < 12 || end > pack.len - 20 || end <= e[i].off) {
			error = store_err(STORE_EIO, "store: %s: bad offsets", name);
			goto done;
		}
		if (type < GIT_OBJECT_COMMIT || type > GIT_OBJECT_TAG) {
			error = 1;	/* deltas: a deep pack, left alone */
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
		size_t end = i + 1 < n ? e[i + 1].off : pack.len - 20;
		struct pentry *d;
		int dup = oidset_add(seen, &e[i].id);

		if (dup < 0) {
			error = store_err(-1, "store: out of memory");
			goto done;
		}
		if (dup)
			continue;	/* in an earlier pack too: once is enough */
		d = &(*v)[(*nv)++];
		d->id = e[i].id;
		d->crc = e[i].crc;
		d->off = (uint32_t)out->len;
		store_sbuf_add(out, pack.p + e[i].off, end - e[i].off);
	}
	error = 0;
done:
	free(e);
	store_sbuf_free(&idx);
	store_sbuf_free(&pack);
	return error;
}

static void
pack_remove(struct store_odb *o, const char *name)
{
	char path[4400];

	/* The index first: a pack without one is ignored, then cleaned. */
	snprintf(path, sizeof(path), "%s/%s.idx", o->packdir, name);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s.pack", o->packdir, name);
	unlink(path);
}

/*
 * Geometric consolidation of the small packs: sorted by size, a pack is
 * kept if it holds more than twice the bytes of all smaller packs together;
 * the rest are merged into one by copying their entries (no recompression,
 * no delta search), so a flush never waits on delta compression and each
 * object is copied O(log n) times. Packs of PACK_BIG bytes or more are not
 * copied again (their number grows with the history, not with the commit
 * rate; store_odb_repack() folds them). Packs with deltas (repack, stock
 * git) are left as they are. An object in several packs is copied once.
 */
#define PACK_BIG	((uint64_t)64 << 20)

int
store_odb_consolidate(struct store_odb *o, unsigned max)
{
	struct packinfo *p = NULL;
	struct pentry *v = NULL;
	struct sbuf out = { 0 };
	struct oidset seen = { 0 };
	char name[46];
	bool *used = NULL;
	size_t nv = 0, cap = 0, merged = 0;
	unsigned n, cut, small = 0;
	uint64_t below = 0;
	int error;

	if ((error = pack_list(o, &p, &n)) < 0)
		return error;
	if (n <= max || store_odb_pending(o) != 0)
		goto done;
	qsort(p, n, sizeof(*p), pinfo_cmp);
	while (small < n && p[small].bytes < PACK_BIG)
		small++;
	cut = small;
	for (unsigned i = 0; i < small; i++) {
		if (i >= 2 && p[i].bytes > 2 * below) {
			cut = i;
			break;
		}
		below += p[i].bytes;
	}
	if ((used = calloc(n, sizeof(*used))) == NULL) {
		error = store_err(-1, "store: out of memory");
		goto done;
	}
	store_pack_header(&out, 0);
	for (unsigned i = 0; i < cut; i++) {
		if ((error = raw_append(o, p[i].name, &out, &v, &nv, &cap, &seen)) < 0)
			goto done;
		used[i] = error == 0;
		merged += error == 0;
	}
	error = 0;
	if (merged < 2)
		goto done;
	store_put32((uint8_t *)out.p + 8, (uint32_t)nv);
	if ((error = store_pack_commit(o, &out, v, nv, name)) < 0)
		goto done;
	/*
	 * The merged pack is durable: the old ones may go. Not one whose name
	 * it took: when every object of the others was a duplicate, the merged
	 * pack is byte for byte that pack, renamed over it.
	 */
	for (unsigned i = 0; i < cut; i++)
		if (used[i] && strcmp(p[i].name, name) != 0)
			pack_remove(o, p[i].name);
	/* The pack backend still holds the deleted packs: start afresh. */
	error = store_odb_rebuild(o);
done:
	store_sbuf_free(&out);
	free(seen.v);
	free(used);
	free(v);
	free(p);
	return error;
}

static int
insert_pack_objects(git_packbuilder *pb, const char *idxpath)
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
	n = get32(head + 8 + 1020);
	for (uint32_t i = 0; i < n && error == 0; i++) {
		git_oid id;

		if (fread(id.id, 1, GIT_OID_RAWSZ, f) != GIT_OID_RAWSZ) {
			error = store_err(STORE_EIO, "store: %s: truncated", idxpath);
			break;
		}
		if ((error = git_packbuilder_insert(pb, &id, NULL)) < 0)
			error = store_gerr(error, "store: repack %s", idxpath);
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

	if ((error = pack_list(o, &p, &n)) < 0)
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
		error = insert_pack_objects(pb, path);
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
			pack_remove(o, p[i].name);
	error = store_odb_rebuild(o);
done:
	git_packbuilder_free(pb);
	free(p);
	return error;
}

static void
remove_matching(const char *dir, bool packs)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[4400];

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		const char *nm = de->d_name;
		size_t l = strlen(nm);
		bool stale = strncmp(nm, "tmp_", 4) == 0 || strstr(nm, "_git2_") != NULL;

		if (packs && !stale && l > 5 && strcmp(nm + l - 5, ".pack") == 0) {
			struct stat st;

			/* A pack whose index never arrived holds nothing a ref names. */
			snprintf(path, sizeof(path), "%s/%.*s.idx", dir, (int)(l - 5), nm);
			stale = stat(path, &st) < 0 && errno == ENOENT;
		}
		if (stale) {
			snprintf(path, sizeof(path), "%s/%s", dir, nm);
			unlink(path);
		}
	}
	closedir(d);
}

int
store_odb_cleanup(const char *objects_dir)
{
	char path[4400];
	DIR *d;
	struct dirent *de;

	remove_matching(objects_dir, false);
	snprintf(path, sizeof(path), "%s/pack", objects_dir);
	remove_matching(path, true);
	if ((d = opendir(objects_dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (strlen(de->d_name) == 2 && de->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", objects_dir, de->d_name);
			remove_matching(path, false);
		}
	closedir(d);
	return 0;
}

/* SPDX-License-Identifier: ISC */
/*
 * Private to the object writer (odb.c) and the pack maintenance that
 * shares its formats (pack.c): the writer's state and the pack-writing
 * helpers. Not for the rest of store/.
 */
#ifndef STORE_ODB_IMPL_H
#define STORE_ODB_IMPL_H

#include "objects.h"

struct recorder;
struct packwrap;
struct merge_job;

#define PACK_OFS_DELTA	6	/* pack entry types of gitformat-pack.txt */
#define PACK_REF_DELTA	7

/*
 * An object held in memory: pending in the recorder (with its delta, if
 * stored as one), or in the tree cache.
 */
struct rec_obj {
	git_oid		id;
	git_object_t	type;
	size_t		len;
	unsigned char	*data;
	unsigned char	*delta;		/* recorder: delta against base, or NULL */
	size_t		dlen;
	uint32_t	base;		/* recorder: index + 1 of the base, 0 none */
	uint8_t		depth;		/* recorder: length of its delta chain */
};

struct objtab {
	struct rec_obj	*v;
	size_t		n, cap;
	uint32_t	*slot;		/* index + 1 into v; 0 empty */
	size_t		nslot;		/* power of two */
	size_t		bytes;		/* of the objects' data */
};

struct store_odb {
	git_repository	*repo;
	struct recorder	*rec;
	struct packwrap	*pw;
	char		objects[3900];
	char		packdir[4000];
	bool		fsync;
	struct objtab	cache[2];	/* young, old generation of trees */
	size_t		cache_budget;	/* bytes, both generations */
	uint64_t	merge_max;	/* bytes a consolidation writes: 0, no bound */
	struct merge_job *job;		/* a merge of packs under way (pack.c) */
	int		merge_error;	/* a failed merge, until a poll reports it */
	uint64_t	fresh_since_us;	/* monotonic: first fresh pack since compaction */
	uint64_t	fresh_bytes;	/* fresh pack bytes written since */
	uint64_t	compactions;	/* compactions finished */
	bool		retain_done;	/* a retention cut finished, unreported */
	char		merge_msg[512];
	/*
	 * Packs a merge replaced, still on disk for a grace period: a reader
	 * that listed them (git fsck, git log, a fetch) may still open them.
	 * Gone after the grace, at close, or at once when the repository is
	 * over retire_cap bytes (pack.c's retire and reap).
	 */
	struct retired {
		char		name[128];
		uint64_t	at_us;		/* monotonic */
		uint64_t	bytes;		/* of its files */
	}		*retired;
	unsigned	nretired, retired_cap;
	uint64_t	retired_bytes;
	uint64_t	retire_grace_us;
	uint64_t	retire_cap;	/* bytes under objects/pack (0: no bound) */
};

/* One object of a pack being written: id, CRC-32 of its bytes, offset. */
struct pentry {
	git_oid		id;
	uint32_t	crc;
	uint32_t	off;
};

size_t store_oid_hash(const git_oid *id);
void store_put32(uint8_t *p, uint32_t v);
uint32_t store_get32(const uint8_t *p);
/* fn on every object id of a version 2 pack index (pack.c). */
int store_idx_foreach(const char *idxpath, int (*fn)(void *ctx, const git_oid *id),
    void *ctx);
/* Append id to a growable array *v of *n ids (*cap allocated). */
int store_oidv_push(git_oid **v, size_t *n, size_t *cap, const git_oid *id);
int store_fsync_dir(const char *dir);
/* "PACK", version 2, n objects. */
void store_pack_header(struct sbuf *b, uint32_t n);
/*
 * Finish pack (header and entries in it; v[0..n) describe them): trailer,
 * index, both durable in objects/pack; name gets "pack-<hex>" if not NULL.
 */
int store_pack_commit(struct store_odb *o, struct sbuf *pack, struct pentry *v,
    size_t n, char name[46]);

/* git's delta format, for the commit path and compaction (odb.c). */
void store_delta_varint(struct sbuf *d, size_t v);
void store_delta_copy(struct sbuf *d, uint32_t off, uint32_t len);
void store_delta_insert(struct sbuf *d, const void *p, size_t len);

/* compact.c */
bool store_pack_fresh(const char *packdir, const char *name);
int store_compact_build(struct store_odb *o, char (*packs)[128], unsigned npacks,
    char name[46], size_t *nobj);
uint64_t store_mono_us(void);
void store_odb_scan_fresh(struct store_odb *o);
int store_rewrite_build(struct store_odb *o, const git_oid *tips, size_t ntips, int64_t cutoff,
    const git_oid *old_bound, size_t nold, char name[46], git_oid **bounds,
    size_t *nbounds, size_t *nobj);
void store_odb_cache_drop(struct store_odb *o);

#endif

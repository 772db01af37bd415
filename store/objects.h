/* SPDX-License-Identifier: ISC */
/*
 * Layer 1 of store/, objects: what every layer above builds on (the
 * error message, the growable buffer, object ids), then git's objects and
 * how they are kept -- SHA-1, the object writer (a recorder in front of
 * libgit2's odb, odb.c), packs and their maintenance (pack.c), deltas and
 * compaction (compact.c). Knows nothing of trees' meaning, tables, refs or
 * the writer (struct store).
 *
 * The layers, each with its own header including the one below, and no
 * file including a header above its own:
 *	objects.h	base.c odb.c pack.c compact.c
 *	trees.h		tree.c			(tree edits and views)
 *	schema.h	codec.c format.c meta.c	(tables, codecs, output shapes)
 *	heads.h		heads.c xidx.c		(the writer's state, commits, refs, flush)
 *	writer.h	journal.c tick.c merge.c txn.c
 *	repo.h		repo.c reader.c retain.c graph.c remote.c net.c gitcfg.c
 * odb_impl.h is private to odb.c, pack.c and compact.c. <git2.h> is
 * included here and nowhere outside store/.
 */
#ifndef STORE_OBJECTS_H
#define STORE_OBJECTS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <git2.h>

#include "store.h"

/*
 * store.h speaks struct store_oid; libgit2 speaks git_oid. Both are the 20
 * raw bytes of a SHA-1 and nothing else, so a pointer to one is read as
 * the other at the boundary (checked here, once).
 */
_Static_assert(sizeof(git_oid) == sizeof(struct store_oid), "oid layout");
_Static_assert(STORE_ENOTFOUND == GIT_ENOTFOUND && STORE_EEXISTS == GIT_EEXISTS &&
    STORE_EMODIFIED == GIT_EMODIFIED, "error codes");

static inline const git_oid *
store_goid(const struct store_oid *id)
{
	return (const git_oid *)(const void *)id;
}

static inline git_oid *
store_goid_mut(struct store_oid *id)
{
	return (git_oid *)(void *)id;
}

static inline const struct store_oid *
store_soid(const git_oid *id)
{
	return (const struct store_oid *)(const void *)id;
}

static inline struct store_oid *
store_soid_mut(git_oid *id)
{
	return (struct store_oid *)(void *)id;
}

/* A growable byte buffer; on allocation failure it stops growing (oom). */
struct sbuf {
	char	*p;
	size_t	len, cap;
	bool	oom;
};

void store_sbuf_add(struct sbuf *b, const char *s, size_t n);
/* Room for more bytes without another allocation (sets oom on failure). */
void store_sbuf_reserve(struct sbuf *b, size_t more);
void store_sbuf_puts(struct sbuf *b, const char *s);
void store_sbuf_printf(struct sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void store_sbuf_free(struct sbuf *b);

/* Set the thread's error message; returns code. */
int store_err(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Same, with libgit2's last error message appended. */
int store_gerr(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));


/* Object ids in the raw 20 bytes, for qsort and bsearch. */
int store_oid_qcmp(const void *a, const void *b);
/*
 * Binary search of a table of raw 20-byte ids sorted as git sorts them (a
 * pack index's, a commit-graph's), among entries [lo, hi): whether id is
 * there, and where (*pos, when pos is not NULL).
 */
bool store_oid_table_find(const uint8_t *ids, uint32_t lo, uint32_t hi,
    const uint8_t *id, uint32_t *pos);

/* git's order of tree entries: names compared as if trees ended in '/'. */
int store_name_cmp(const char *a, size_t al, bool at, const char *b, size_t bl, bool bt);

/*
 * The object writer: a git_odb made of a recording backend (new objects,
 * in memory, highest priority), the pack backend (without the rescan of
 * objects/pack on every miss) and the loose backend (objects written by
 * stock git), installed as the repository's object database.
 */
struct store_odb;

int store_odb_open(struct store_odb **out, git_repository *repo, bool fsync,
    size_t cache_bytes);
void store_odb_free(struct store_odb *o);
/*
 * Bound what one consolidation of small packs copies (and so holds in
 * memory while it builds the merged pack) to bytes; 0: no bound, the
 * default. Packs that would take a merge past it are left as they are.
 */
void store_odb_set_merge_max(struct store_odb *o, uint64_t bytes);
/*
 * Hash an object with our SHA-1 and record it unless a pack or the
 * recorder has it: the write path that bypasses libgit2's odb (its
 * existence checks and per-entry formatting cost more than the work).
 */
int store_odb_put(git_oid *out, struct store_odb *o, git_object_t type,
    const void *data, size_t len);
/*
 * How a new object's bytes follow from its base's: runs copied from the
 * base at off, or taken from the new object's own bytes at off.
 */
struct store_drun {
	uint32_t	off, len;
	bool		copy;
};

/*
 * Delta chains in our packs are at most this long: git's default depth is
 * 50; shorter keeps reads of the newest trees (the head, restart) cheap.
 */
#define STORE_DELTA_DEPTH	16

/*
 * store_odb_put() taking data (malloc'd; freed when the object exists).
 * When base is pending in this flush with a short chain, the object goes
 * into the pack as a delta against it, made from runs[0..nruns).
 */
int store_odb_put_owned(git_oid *out, struct store_odb *o, git_object_t type,
    void *data, size_t len, const git_oid *base, const struct store_drun *runs,
    size_t nruns);
/* Whether store_odb_put_owned() would store a delta against base. */
bool store_odb_delta_ok(struct store_odb *o, const git_oid *base);
/*
 * A pending object or a cached tree, without copy or re-hash: valid until
 * the next flush. GIT_ENOTFOUND when it is neither.
 */
int store_odb_peek(struct store_odb *o, const git_oid *id, git_object_t *type,
    const void **data, size_t *len);
/*
 * An object's bytes: pending, cached, or read through libgit2 (a tree is
 * then cached while there is room; otherwise *obj holds the bytes and the
 * caller frees it). Valid until the next flush.
 */
int store_odb_get(struct store_odb *o, const git_oid *id, git_object_t *type,
    const void **data, size_t *len, git_odb_object **obj);
/*
 * (Re)build the repository's odb: recorder, pack backend (which sees the
 * packs present now), loose backend. Drops what the recorder holds.
 */
int store_odb_rebuild(struct store_odb *o);
/* Objects recorded and not yet in a pack. */
size_t store_odb_pending(const struct store_odb *o);
/*
 * Write recorded objects as one pack (durably if fsync) and forget them,
 * but for the trees reachable from the trees live[0..nlive) (the heads the
 * next commits edit), which stay in the cache.
 */
int store_odb_flush(struct store_odb *o, const git_oid *const *live, size_t nlive);
/* Pack files present. */
unsigned store_odb_pack_count(struct store_odb *o);
/* Merge small packs (entries copied) when there are more than max. */
int store_odb_consolidate(struct store_odb *o, unsigned max);
/*
 * The same in the background: start a merge of the small packs on a
 * thread of its own (nothing when one is under way or the packs are few);
 * poll finishes one that is done, or waits for it: 1 when one finished
 * (the pack count changed), 0 when none, or an error. Only between flushes
 * (nothing pending). store_odb_free() waits for a merge and keeps it.
 */
int store_odb_merge_start(struct store_odb *o, unsigned max, bool compact);
/*
 * Compaction (compact.c) is due: fresh packs (the commit path's) older than
 * every_s seconds, or more than 64 MB of them. Counted when done.
 */
bool store_odb_compact_due(const struct store_odb *o, unsigned every_s);
uint64_t store_odb_compactions(const struct store_odb *o);
uint64_t store_odb_bytes(struct store_odb *o);
uint64_t store_odb_fresh_bytes(const struct store_odb *o);
/*
 * Retention's rewrite (compact.c's store_rewrite_build) in the background:
 * every pack now is replaced by one holding what tips reach down to the
 * cutoff; the shallow file names the new boundary. Poll: 1 once it is done.
 */
int store_odb_retain_start(struct store_odb *o, const git_oid *tips, size_t ntips,
    int64_t cutoff, const git_oid *old, size_t nold);
int store_odb_retain_poll(struct store_odb *o);
/* The same, now, on this thread (gitnet gc). */
int store_odb_retain_run(struct store_odb *o, const git_oid *tips, size_t ntips,
    int64_t cutoff, const git_oid *old, size_t nold);
/* Compact every fresh pack now, on this thread (gc, close, tests). */
int store_odb_compact(struct store_odb *o);
int store_odb_merge_poll(struct store_odb *o, bool wait);
/* store_odb_merge_poll() keeping a failure for the next poll to report. */
int store_odb_merge_settle(struct store_odb *o, bool wait);
bool store_odb_merging(const struct store_odb *o);
/* Wait for a merge and finish it without reopening the packs (closing). */
void store_odb_merge_abandon(struct store_odb *o);
/*
 * Packs a merge replaced stay on disk grace_us for readers that listed
 * them (pack.c; none until set); reap removes those past it (all: every
 * one), or every one when objects/pack holds more than cap_bytes (0: no
 * cap). 1 when some went: the caller rebuilds the pack backend, which
 * still maps them. Retired packs are not in store_odb_bytes().
 */
int store_odb_reap(struct store_odb *o, bool all);
void store_odb_set_grace(struct store_odb *o, uint64_t grace_us);
void store_odb_set_retire_cap(struct store_odb *o, uint64_t cap_bytes);
uint64_t store_odb_retired_bytes(const struct store_odb *o);
/* Rewrite every pack as one with deltas and compression (slow). */
int store_odb_repack(struct store_odb *o);
/*
 * Remove the store's own temporary pack files and pack companions whose
 * pack is gone, left by a crash (the caller holds gitnet.lock).
 */
int store_odb_cleanup(const char *objects_dir);

/* SHA-1 of raw bytes (pack checksums), and CRC-32 (pack index). */
struct sha1_ctx {
	uint32_t	h[5];
	uint64_t	len;
	uint8_t		buf[64];
};
void store_sha1_init(struct sha1_ctx *c);
void store_sha1_update(struct sha1_ctx *c, const void *p, size_t n);
void store_sha1_final(struct sha1_ctx *c, uint8_t out[20]);
uint32_t store_crc32(uint32_t crc, const void *p, size_t n);

/* Durably: fsync a directory (after a rename or create in it). */
int store_fsync_dir(const char *dir);
/* Append id to a growable array *v of *n ids (*cap allocated). */
int store_oidv_push(git_oid **v, size_t *n, size_t *cap, const git_oid *id);
/* Replace $GIT_DIR/shallow with v[0..n), durably (n == 0: remove it). */
int store_shallow_write(const char *gitdir, const git_oid *v, size_t n);

#endif

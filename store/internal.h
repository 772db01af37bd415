/* SPDX-License-Identifier: ISC */
/*
 * Store internals shared by the files of store/: the growable buffer, error
 * helpers, the table registry (codec + merge hooks per table), the object
 * writer (odb.c) and the tree editor (tree.c). Not for use outside store/.
 */
#ifndef STORE_INTERNAL_H
#define STORE_INTERNAL_H

#include <stdarg.h>
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

#define STORE_PATH_MAX	64	/* longest entry path, with room to spare */
#define STORE_VALUE_MAX	1024	/* longest encoded entry */

struct store;

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

/*
 * A table registered with the store. Everything the generic journal, tick
 * and merge code knows about a table goes through here.
 */
struct store_table {
	const char	*name;		/* top-level directory and message prefix */
	uint8_t		id;		/* enum ev_table */
	/* A 64-bit key unique in the store (table id in the top byte). */
	uint64_t	(*key)(const struct store_entry *e);
	/* An entry holding just the key fields of key k. */
	void		(*from_key)(struct store_entry *e, uint64_t k);
	uint64_t	(*expires)(const struct store_entry *e);
	/*
	 * Both sides changed one entry (base may be NULL: added on both):
	 * 0 keeps ours, 1 theirs; *clash set when the loser must be recorded.
	 */
	int		(*resolve)(const struct store_entry *base,
			    const struct store_entry *ours,
			    const struct store_entry *theirs, bool *clash);
	/*
	 * Optional: a second key that must stay unique across entries (NAT:
	 * proto + external ip:port); among clashing entries the one with the
	 * lowest rank wins.
	 */
	uint64_t	(*unique)(const struct store_entry *e);
	uint64_t	(*rank)(const struct store_entry *e);
};

const struct store_table *store_table_by_id(uint8_t id);
/* The table owning repository path path ("arp/..."), or NULL. */
const struct store_table *store_table_by_path(const char *path);
extern const struct store_table *const store_tables[];
extern const size_t store_ntables;

/* Parse an entry path into the key fields of e (the rest zeroed): 0 or -1. */
int store_path_parse(struct store_entry *e, const char *path);
/* Decode the blob id at path through the codec. */
int store_read_entry(struct store_entry *e, struct store *st,
    const git_oid *blob, const char *path);

/*
 * Tree edits: set path to a blob (mode GIT_FILEMODE_BLOB) or delete it
 * (mode 0). store_tree_apply() sorts and de-duplicates (the last edit of a
 * path wins) and rewrites only the trees on edited paths, starting from the
 * trees of base (NULL: empty). Empty trees disappear.
 */
struct store_edit {
	char		path[STORE_PATH_MAX];
	unsigned	seq;
	git_filemode_t	mode;
	git_oid		id;
};

struct store_edits {
	struct store_edit *v;
	size_t		n, cap;
};

struct store_edit *store_edits_add(struct store_edits *es, const char *path,
    git_filemode_t mode, const git_oid *id);
void store_edits_free(struct store_edits *es);
int store_tree_apply(git_oid *out, struct store *st, const git_oid *base,
    struct store_edits *es);

/* git's order of tree entries: names compared as if trees ended in '/'. */
int store_name_cmp(const char *a, size_t al, bool at, const char *b, size_t bl, bool bt);

/*
 * A parsed tree, read without libgit2's object layer: a tree pending in the
 * recorder or kept in the tree cache is used in place (no copy, no second
 * hash); others come through git_odb_read and join the cache while it has
 * room.
 * Entry names point into the object and are NUL-terminated there.
 */
struct tent {
	const char	*name;
	size_t		nlen;
	git_filemode_t	mode;
	bool		tree;
	uint32_t	off;		/* where the entry starts in the tree */
	git_oid		id;
};

struct tview {
	git_odb_object	*obj;		/* holds the bytes when not ours */
	const char	*data;		/* the tree object's bytes */
	size_t		len;
	git_oid		id;
	struct tent	*e;
	size_t		n;
};

int store_tview_load(struct tview *tv, struct store *st, const git_oid *id);
/* The entry called name[0..nlen), of either type, or NULL. */
const struct tent *store_tview_find(const struct tview *tv, const char *name, size_t nlen);
void store_tview_free(struct tview *tv);

/*
 * Three-way merge of trees producing leaf edits against ours (applied by
 * the caller); conflict lines go to msg. Returns the number of conflicts.
 */
int store_merge_edits(struct store_edits *out, struct store *st,
    const git_oid *base, const git_oid *ours, const git_oid *theirs,
    struct sbuf *msg);

/*
 * Untrusted input (merge.c). store_check_file(): whether a file may be in
 * a store's tree -- a regular file (mode 100644) at meta/schema holding
 * STORE_SCHEMA, at meta/router, at a table path (canonical, decoding with
 * its codec) or at conflicts/<table path>; no '.', '..' or empty names.
 * STORE_EREFUSED with a message naming the path otherwise.
 * store_merge_check(): every file of tree theirs that differs from base
 * (NULL: every file) passes store_check_file(), and theirs has
 * meta/schema. store_diff_edits(): the leaf edits that turn tree a (NULL:
 * empty) into b.
 */
int store_check_file(const char *path, unsigned mode, const char *text, size_t len);
int store_merge_check(struct store *st, const git_oid *base, const git_oid *theirs);
int store_diff_edits(struct store_edits *out, struct store *st, const git_oid *a,
    const git_oid *b);

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

/*
 * The home slot of a 64-bit entry key in an open-addressing table of cap
 * slots (a power of two): keys share their high bytes (the table, the
 * subnet), so mix them first (the 64-bit finalizer of MurmurHash3).
 */
static inline size_t
store_key_slot(uint64_t key, size_t cap)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdULL;
	key ^= key >> 33;
	return (size_t)key & (cap - 1);
}

/*
 * The expiry index: entry key -> expires (us), for the entries at head,
 * and a min-heap of (expires, key) pushed on every set so that a tick
 * finds what expired in O(expired + log n), not with a walk. Heap items
 * are pruned lazily (journal.c): one whose key is gone or has another
 * expiry is stale and skipped when it surfaces.
 */
struct xheap_item {
	uint64_t	exp, key;
};

struct xidx {
	uint64_t	*key;		/* 0: empty slot (keys have a table byte) */
	uint64_t	*exp;
	size_t		cap, n;		/* cap: power of two */
	struct xheap_item *heap;	/* NULL: built from the index at the next tick */
	size_t		hn, hcap;
};

int store_xidx_set(struct xidx *x, uint64_t key, uint64_t exp);
void store_xidx_del(struct xidx *x, uint64_t key);
void store_xidx_free(struct xidx *x);
/* --- expiry heap and fast tick merge (journal.c, tick.c) --- */
/* Whether key is indexed; its expiry in *exp. */
bool store_xidx_get(const struct xidx *x, uint64_t key, uint64_t *exp);
/*
 * Take the keys whose expiry is at or before now off the heap: *keys
 * (malloc'd, sorted, unique; NULL when none) and *n. They stay in the
 * index; store_xidx_requeue() puts those still indexed back on the heap.
 */
int store_xidx_expired(struct xidx *x, uint64_t now, uint64_t **keys, size_t *n);
void store_xidx_requeue(struct xidx *x, const uint64_t *keys, size_t n);

/* A key primary changed while a tick is pending (tick.c). */
struct tick_touch {
	uint64_t	key;		/* 0: empty slot */
	uint64_t	u;		/* the table's unique key, when present */
	bool		present, has_u;
};
/* --- end --- */

#define STORE_REF_MAX	256

struct store_ref {
	char		name[STORE_REF_MAX + 40];
	git_oid		id;
};

/* A reader is a handle on a store: its own (read-only) or a writer's. */
struct store_reader {
	struct store	*st;
};

/* store_touches()'s few recent path lookups (reader.c). */
#define STORE_PCACHE	8

struct store_pcache {
	git_oid		tree, id;
	char		path[128];
	int		rc;
	bool		used;
};

struct store {
	struct store_reader rd;			/* rd.st == this store */
	bool		readonly;		/* opened by store_reader_open */
	git_repository	*repo;
	struct store_odb *odb;
	struct store_opts o;
	char		*router_id, *router_info, *path;
	int		lockfd;
	/*
	 * The writer's branch (opts.branch): "refs/heads/primary" for the
	 * router; tick_prefix names its expiry branches ("expire_", or
	 * "<branch>_expire_" for any other).
	 */
	char		ref[STORE_REF_MAX], tick_prefix[STORE_REF_MAX];
	git_oid		head, head_tree;	/* the branch, in memory */
	git_oid		durable;		/* the branch on disk */
	bool		have_durable;
	uint64_t	unflushed_us;		/* when head first ran ahead */
	unsigned	npacks;

	struct store_change *j;			/* the journal */
	size_t		jn, jcap;
	uint64_t	jfirst_us;
	uint64_t	jlast_commit_us;	/* the last group commit's now */

	struct xidx	xi;

	bool		tick_pending;
	git_oid		tick_commit, tick_tree, tick_base_tree;
	char		tick_name[STORE_REF_MAX + 24];	/* <tick_prefix><unix.usec> */
	uint64_t	tick_now;
	/*
	 * The pending tick's fast merge (tick.c): what the tick removes, and
	 * the keys primary changed since the fork, noted by every path that
	 * moves head while a tick is pending. tick_fast is cleared when a
	 * note failed; tick_head is head as of the last noted move, so a
	 * move nobody noted shows. Either sends the merge the generic way.
	 */
	uint64_t	*tick_keys;		/* sorted, unique */
	char		(*tick_paths)[STORE_PATH_MAX];
	size_t		tick_n;
	git_oid		tick_head;
	bool		tick_fast;
	struct tick_touch *touch;		/* open addressing, cap a power of 2 */
	size_t		touch_cap, touch_n;
	uint64_t	tick_nfast, tick_nslow;	/* merges made each way */

	struct store_pcache pcache[STORE_PCACHE];
	unsigned	pcache_next;

	struct store_ref *newrefs;		/* created at the next flush */
	size_t		nnewrefs;
	bool		prune_expire;
	bool		txn_open;		/* a store_txn is under way */

	/* retain.c: the shallow boundary, and the boundary's parents (stubs). */
	git_oid		*shallow, *stubs;	/* sorted */
	size_t		nshallow, nstubs;
	int64_t		oldest_s;
	bool		oldest_known;
	uint64_t	retain_next_us;
	struct store_retain_stats rstats;
};

/* retain.c */
int store_shallow_load(struct store *st);
void store_shallow_clear(struct store *st);
bool store_is_boundary(const struct store *st, const git_oid *id);
int store_shallow_hide(const git_oid *id, void *payload);
int store_shallow_write(const char *gitdir, const git_oid *v, size_t n);

/* The underlying repository (the store's own tests reach libgit2 here). */
git_repository *store_repo(struct store *st);

/* Commit tree with parents on top of nothing (the caller moves head). */
int store_commit_tree(git_oid *out, struct store *st, const git_oid *tree,
    const git_oid *const *parents, size_t nparents, const char *msg,
    uint64_t now_us);
/* Keep the expiry index in step with applied (sorted, unique) edits. */
int store_xidx_apply_edits(struct store *st, const struct store_edits *es);
/*
 * One ref update of the durable path (txn.c): set name to new_ (has_new
 * false: delete it) when it names old now (has_old false: only when it
 * does not exist); force: whatever it names. A move of primary also moves
 * the writer's head (its tree, the expiry index, a pending tick's notes).
 */
struct store_refup {
	char		name[STORE_REF_MAX + 40];
	git_oid		new_, old;
	bool		has_new, has_old, force;
};

int store_ref_update(struct store *st, const struct store_refup *u, const char *log);
/* After a flush or a transaction: background pack merges (repo.c). */
int store_packs_maintain(struct store *st);
/* meta/router's text for this writer (repo.c). */
void store_router_text(struct sbuf *b, const struct store *st);
/* A merge commit's message: subject, conflict lines, trailer (tick.c). */
void store_merge_message(struct sbuf *msg, const char *subject, int conflicts,
    const struct sbuf *conf, const char *trailer);
/*
 * Resolve the other side of a merge into ours: theirs (branch: a ref, a
 * short branch name or a revision), its tree, the merge base's tree (none:
 * *have_base false), validated (store_merge_check). 1 when ours already
 * contains it (nothing else set but *theirs).
 */
int store_merge_prepare(struct store *st, const char *branch, const git_oid *ours,
    git_oid *theirs, git_oid *theirs_tree, git_oid *base_tree, bool *have_base);

/* Queue a branch to create at the next flush. */
int store_queue_ref(struct store *st, const char *name, const git_oid *id);
/* Merge commit theirs (fork point base) into head; the core of ticks. */
int store_merge_into_head(struct store *st, const git_oid *theirs_commit,
    const git_oid *theirs_tree, const git_oid *base_tree, const char *subject,
    const char *trailer, uint64_t now_us);
/* --- fast tick merge (tick.c) --- */
/*
 * While a tick is pending, every path that moves head notes each key it
 * changed (e: the entry now at head, NULL: removed), then calls
 * store_tick_moved() with the head it started from.
 */
void store_tick_note(struct store *st, uint64_t key, const struct store_entry *e);
void store_tick_moved(struct store *st, const git_oid *prev);
/* Release the pending tick's bookkeeping (store_free). */
void store_tick_free(struct store *st);
/* --- end --- */

#endif

/* SPDX-License-Identifier: ISC */
/*
 * Layer 4 of store/, heads: the writer's state (struct store, one per open
 * store, laid out here for every layer from this one up), the expiry index
 * of its head (xidx.c), and the one durable path (heads.c): commit objects,
 * compare-and-swap ref updates, the flush. See objects.h for the layers.
 */
#ifndef STORE_HEADS_H
#define STORE_HEADS_H

#include "schema.h"

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
 * are pruned lazily (xidx.c): one whose key is gone or has another
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
/* Whether key is indexed; its expiry in *exp. */
bool store_xidx_get(const struct xidx *x, uint64_t key, uint64_t *exp);
/*
 * Take the keys whose expiry is at or before now off the heap: *keys
 * (malloc'd, sorted, unique; NULL when none) and *n. They stay in the
 * index; store_xidx_requeue() puts those still indexed back on the heap.
 */
int store_xidx_expired(struct xidx *x, uint64_t now, uint64_t **keys, size_t *n);
void store_xidx_requeue(struct xidx *x, const uint64_t *keys, size_t n);

struct tick_touch;				/* writer.h */
struct store_pcache;				/* repo.h */

#define STORE_REF_MAX	256

struct store_ref {
	char		name[STORE_REF_MAX + 40];
	git_oid		id;
};

/*
 * A reader (repo.h) is a handle on a store: its own (read-only) or a
 * writer's, which is kept in the writer's struct store.
 */
struct store_reader {
	struct store	*st;
};

/*
 * One open store, a writer's or a reader's. Laid out here, the lowest layer
 * that needs it, so that every layer from here up reads one struct; each
 * part is changed only by the layer that owns it: this one (the repository,
 * objects, head, durable head, queued refs), the writer (the journal, a
 * pending tick; the expiry index through xidx.c) and the repository layer
 * (the reader's path cache, the shallow boundary).
 */
struct store {
	struct store_reader rd;			/* rd.st == this store */
	bool		readonly;		/* opened by store_reader_open */
	git_repository	*repo;
	struct store_odb *odb;
	struct store_opts o;
	char		*router_id, *router_info, *path;
	int		lockfd;
	/*
	 * A ref update moved primary (heads.c): bring the writer's head, its
	 * expiry index and a pending tick's notes along (writer.h's
	 * store_head_moved, set when the store is made).
	 */
	int		(*head_moved)(struct store *st, const git_oid *to);
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
	/*
	 * The expiry index of a store opened on existing tables is built by
	 * the first full walk of primary through its own reader (the
	 * restore's store_load), so that a restart reads its tables once, not
	 * twice. Until then xi_pending, and whatever touches xi first has it
	 * built (store_xidx_ready: xi_build, repo.c).
	 */
	bool		xi_pending;
	int		(*xi_build)(struct store *st);

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

	struct store_pcache *pcache;		/* reader.c: STORE_PCACHE, or NULL */
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

/* The expiry index, built first if it waits for it (st->xi_pending). */
static inline int
store_xidx_ready(struct store *st)
{
	return st->xi_pending ? st->xi_build(st) : 0;
}

/* Commit tree with parents on top of nothing (the caller moves head). */
int store_commit_tree(git_oid *out, struct store *st, const git_oid *tree,
    const git_oid *const *parents, size_t nparents, const char *msg,
    uint64_t now_us);
/*
 * One ref update of the durable path: set name to new_ (has_new
 * false: delete it) when it names old now (has_old false: only when it
 * does not exist); force: whatever it names. A move of primary also moves
 * the writer's head (st->head_moved).
 */
struct store_refup {
	char		name[STORE_REF_MAX + 40];
	git_oid		new_, old;
	bool		has_new, has_old, force;
};

int store_ref_update(struct store *st, const struct store_refup *u, const char *log);
/* After a flush or a transaction: background pack merges. */
int store_packs_maintain(struct store *st);
/* meta/router's text for this writer (repo.c). */
void store_router_text(struct sbuf *b, const struct store *st);
/* Queue a branch to create at the next flush. */
int store_queue_ref(struct store *st, const char *name, const git_oid *id);
#endif

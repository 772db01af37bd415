/* SPDX-License-Identifier: ISC */
/*
 * The versioned table store: gitnet's ARP and NAT tables as commits in a
 * bare git repository (libgit2), one public header.
 *
 * What a commit holds. Branch `primary` names the current tables. Its tree
 * is the whole state, sharded so that a change rewrites a few small trees:
 *
 *	meta/schema                     "gitnet-store 1"
 *	meta/router                     router id and the router's own lines
 *	arp/<a.b.c>/<d>                 one neighbour
 *	nat/<proto>/<a.b.c>/<d>/<port>  one mapping of inside a.b.c.d:port
 *	conflicts/<table path>          the losing side of a merge clash
 *
 * Each entry is a blob of sorted `key value` lines; times are unix seconds
 * with microseconds. One commit holds one group of changes (the journal
 * since the last commit); its message follows DESIGN.md section 3 (a
 * one-change subject, or a count subject with the list in the body, and
 * `Cause:` trailers). Author and committer are the router id; the committer
 * time is the batch's `now`.
 *
 * Durability rule. store_commit() builds commits in memory: new objects go
 * to a recording object backend, never to loose files. store_flush() writes
 * them as one pack (pack + index to temporary names, fsync, rename, fsync
 * the directory), and only then moves the refs with compare-and-swap on
 * their old ids. A change is durable once the store_flush() after it has
 * returned 0; a crash at any point leaves a repository `git fsck` accepts
 * and a `primary` that names a complete commit. store_poll() is the group
 * commit: it commits and flushes when the window (default 100 ms) has
 * passed or the journal holds batch_max changes. Small packs are merged
 * (entries copied, geometric) when there are more than max_packs;
 * store_repack() compresses with deltas when the router is idle.
 *
 * Ownership. store_open() takes an exclusive flock on `gitnet.lock` in the
 * repository: a second live process gets a clear error. Being the sole
 * owner, it then removes stale `*.lock` files, temporary pack files and
 * pack files without an index left by a crash.
 *
 * Threading rule: one writer thread owns a struct store and calls every
 * function on it; nothing here is safe to call concurrently on the same
 * store. store_open() sets process-wide libgit2 options: fsync of the git
 * directory (opts.fsync), object-cache limits large enough for trees, and
 * strict hash verification of reads (opts.verify_reads). Off by default:
 * re-hashing each cold 8 KiB tree doubles a commit's cost on a large
 * table, and every object in a pack is a zlib stream whose Adler-32 is
 * still checked, so corruption still fails loudly; `git fsck` checks ids.
 *
 * Objects are written by the store itself (its own tree and commit
 * serialization and SHA-1, SHA-NI when available) into packs of whole
 * objects; store_repack() compresses them with deltas when idle.
 *
 * Errors: functions return 0 (or a documented positive value) on success
 * and a negative code on failure, with the message available from
 * store_strerror() on the failing thread.
 */
#ifndef STORE_STORE_H
#define STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <git2.h>

#include "netfn/arp.h"
#include "netfn/event.h"

#define STORE_SCHEMA	"gitnet-store 1"

/* Error codes beyond libgit2's (which are passed through). */
#define STORE_EFOREIGN	(-100)	/* not a gitnet store, or another schema */
#define STORE_ELOCKED	(-101)	/* another live process owns the store */
#define STORE_EPARSE	(-102)	/* an entry file that does not parse */
#define STORE_EINVAL	(-103)	/* bad argument */
#define STORE_EIO	(-104)	/* a system call failed */

struct store_opts {
	const char	*router_id;	/* author/committer name; required */
	const char	*router_info;	/* extra lines for meta/router, or NULL */
	const char *const *ifnames;	/* ifidx -> interface name, or NULL */
	unsigned	n_ifnames;
	unsigned	window_ms;	/* group commit window: 100 */
	unsigned	batch_max;	/* changes that force a commit: 1024 */
	unsigned	keep_expire;	/* expiry branches kept: 8 */
	unsigned	max_packs;	/* consolidate above this: 16 */
	unsigned	body_max;	/* change lines listed in a batch body: 50 */
	unsigned	cache_mb;	/* trees kept in memory for commits: 64 (0: none) */
	bool		fsync;		/* fsync at each flush: true */
	bool		verify_reads;	/* re-hash every object read: false */
	bool		create;		/* create the repository if absent: true */
};

/* Fill o with the defaults above (router_id "gitnet"). */
void store_opts_default(struct store_opts *o);

/* State of a NAT mapping towards one remote endpoint. */
#define STORE_NAT_RSTATES(X)			\
	X(NEW,		"new")			\
	X(ESTABLISHED,	"established")		\
	X(TRANSITORY,	"transitory")		\
	X(CLOSED,	"closed")

enum store_nat_rstate {
#define STORE_NAT_RSTATE_ENUM(sym, name) STORE_NAT_##sym,
	STORE_NAT_RSTATES(STORE_NAT_RSTATE_ENUM)
#undef STORE_NAT_RSTATE_ENUM
	STORE_NAT_RSTATE_MAX
};

#define STORE_NAT_REMOTES	4

struct store_nat_remote {
	uint32_t	ip;
	uint16_t	port;
	uint8_t		state;		/* enum store_nat_rstate */
};

/*
 * One NAT mapping as the store keeps it (the netfn NAT table's own type is
 * converted to this). The key is (proto, in_ip, in_port); the invariant the
 * merge keeps is that (proto, ext_ip, ext_port) names one key.
 */
struct store_nat {
	uint8_t		proto;		/* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP */
	uint32_t	in_ip;
	uint16_t	in_port;	/* ICMP: query id */
	uint32_t	ext_ip;
	uint16_t	ext_port;
	uint8_t		nremote;
	struct store_nat_remote remote[STORE_NAT_REMOTES];
	uint64_t	created_us;
	uint64_t	expires_us;	/* 0: never */
};

/* One table entry: ARP (ip, mac, state, ifidx, updated, expires) or NAT. */
struct store_entry {
	uint8_t		table;		/* enum ev_table */
	union {
		struct arp_entry	arp;
		struct store_nat	nat;
	};
};

/* One change for the journal. For EV_REMOVE only the key fields matter. */
struct store_change {
	uint8_t		op;		/* enum ev_op */
	uint8_t		cause;		/* enum ev_cause */
	uint8_t		old_mac[ETH_ALEN];	/* EV_LLADDR: the MAC replaced */
	uint64_t	now_us;
	struct store_entry e;
};

struct store;

/*
 * Open the store at path, creating it (bare repository, first commit
 * "store: create empty tables" with meta/) if absent and o->create. With
 * o->router_info set, a changed meta/router is committed ("store: router
 * <id> started"); without, the repository is not written. Refuses
 * a repository that is not a gitnet store or has another schema
 * (STORE_EFOREIGN), or that another live process holds (STORE_ELOCKED).
 */
int store_open(struct store **out, const char *path, const struct store_opts *o);

/* Commit and flush what is pending, then release everything. NULL: no-op. */
int store_close(struct store *st);

/* Release without committing or flushing (what a crash would leave). */
void store_free(struct store *st);

/* The message of the last failure on this thread. */
const char *store_strerror(void);

/* The underlying repository (owned by the store; for reading). */
git_repository *store_repo(struct store *st);

/* Append a change to the journal. STORE_EINVAL on an unknown table or op. */
int store_record(struct store *st, const struct store_change *c);

/*
 * Convert a netfn event into a change and record it. NAT session events
 * become changes of their mapping (one entry per inside endpoint): added
 * with a new mapping, removed with its last session, updated otherwise.
 */
int store_record_event(struct store *st, const struct nf_event *ev);

/* Changes recorded and not yet committed. */
size_t store_pending(const struct store *st);

/*
 * Turn the journal into one commit on primary, in memory, with committer
 * time now_us. Returns 0 and the id in out (may be NULL), or 1 when the
 * journal was empty (no commit).
 */
int store_commit(struct store *st, uint64_t now_us, git_oid *out);

/*
 * Make every commit so far durable: write the new objects as one pack,
 * fsync, then move primary (and create pending expire branches) with
 * compare-and-swap. GIT_EMODIFIED if primary moved under us on disk.
 */
int store_flush(struct store *st);

/*
 * Group commit: commit and flush when the window since the oldest pending
 * change has passed or batch_max changes are pending. Returns 1 when it
 * committed, 0 when there was nothing to do yet.
 */
int store_poll(struct store *st, uint64_t now_us);

/* The current head of primary (in memory; durable after store_flush). */
const git_oid *store_head(const struct store *st);

/*
 * Flush, then rewrite every pack as one with deltas and compression
 * (libgit2's packbuilder). Slow: for idle time or maintenance; the commit
 * path only ever copies small packs together.
 */
int store_repack(struct store *st);

/*
 * Number of pack files under objects/pack, once a merge of packs under way
 * in the background (store_flush starts them above max_packs) is done.
 */
unsigned store_pack_count(struct store *st);

/*
 * Expiry tick, first half: branch expire_<unix.usec> from primary's head,
 * remove every entry whose expires <= now_us, commit "tick: age out ...".
 * Returns 0 when a branch was made, 1 when nothing expired (no commit).
 * n_arp and n_nat (may be NULL) receive the counts. A tick already begun
 * is finished first.
 */
int store_tick_begin(struct store *st, uint64_t now_us, unsigned *n_arp,
    unsigned *n_nat);

/*
 * Expiry tick, second half: merge the pending expire branch into primary
 * as "tick: merge expire_<unix.usec>" (two parents). 1 when none pending.
 */
int store_tick_finish(struct store *st, uint64_t now_us);

/* Both halves at once; 1 when nothing expired. */
int store_tick(struct store *st, uint64_t now_us);

/*
 * Merge branch (a ref name such as "refs/heads/x" or a short branch name)
 * into primary with the table-aware merge; commit "merge <branch>" with two
 * parents (in memory; flush to make it durable). Returns the number of
 * conflicts recorded (>= 0) or a negative error.
 */
int store_merge(struct store *st, const char *branch, uint64_t now_us);

/*
 * Git merge driver body for one entry file: merge the blobs in files
 * o_path (ancestor, %O), a_path (ours, %A) and b_path (theirs, %B) for
 * repository path `path` (%P), writing the result to a_path. Returns 0 when
 * merged (a clash resolved by the rules counts as merged), negative on
 * error (unparsable file, unknown path).
 */
int store_merge_driver(const char *o_path, const char *a_path,
    const char *b_path, const char *path);

typedef int (*store_entry_fn)(void *ctx, const struct store_entry *e);

/*
 * Call fn for every entry (ARP then NAT, in path order) of the tables at
 * commit id (NULL: primary's head). A non-zero return from fn stops the
 * walk and is returned. STORE_EPARSE names the entry file that fails.
 */
int store_load(struct store *st, const git_oid *id, store_entry_fn fn, void *ctx);

/*
 * The last commit on primary's first-parent line whose committer time is
 * at or before t_us (second granularity, as git records it).
 * GIT_ENOTFOUND if none.
 */
int store_at_time(git_oid *out, struct store *st, uint64_t t_us);

/* Codecs, exposed for tests and tools. */
int store_entry_path(char *buf, size_t cap, const struct store_entry *e);
/* Encode into buf[0..cap): the length, or STORE_EINVAL if it does not fit. */
int store_entry_encode(char *buf, size_t cap, const struct store_entry *e,
    const char *const *ifnames, unsigned n_ifnames);
int store_entry_decode(struct store_entry *e, const char *path,
    const char *text, size_t len, const char *const *ifnames,
    unsigned n_ifnames);
/* Format a time as "1429688434.645130" (or "never" for 0). */
char *store_time_fmt(char buf[24], uint64_t us);

#endif

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
 * their old ids (store_txn_commit() takes the same path for any ref).
 * A change is durable once the store_flush() after it has returned 0; a crash at any point leaves a repository `git fsck` accepts
 * and a `primary` that names a complete commit. store_poll() is the group
 * commit: it commits and flushes when the window (default 100 ms) has
 * passed and the last group commit is commit_gap_ms (1 s) old, or the
 * journal holds batch_max changes. Small packs are merged (entries
 * copied, geometric) when there are more than max_packs; every compact_s
 * (60 s) a background thread compacts what the commit path wrote
 * (compact.c: deltas against each object's previous version, deflate),
 * and store_retain_poll() bounds history by age and size with shallow
 * cuts (retain.c).
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
 * objects; compaction rewrites them with deltas in the background.
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

#include "netfn/arp.h"
#include "netfn/event.h"
#include "netfn/nat.h"

#define STORE_SCHEMA	"gitnet-store 1"

/*
 * Error codes. The first three keep libgit2's values (the store passes its
 * codes through); the rest are the store's own.
 */
#define STORE_ENOTFOUND	(-3)	/* no such revision, path, ref or commit */
#define STORE_EEXISTS	(-4)	/* a ref that must not exist does */
#define STORE_EMODIFIED	(-15)	/* a ref moved: compare-and-swap failed */
#define STORE_EFOREIGN	(-100)	/* not a gitnet store, or another schema */
#define STORE_ELOCKED	(-101)	/* another live process owns the store */
#define STORE_EPARSE	(-102)	/* an entry file that does not parse */
#define STORE_EINVAL	(-103)	/* bad argument */
#define STORE_EIO	(-104)	/* a system call failed */
#define STORE_EREFUSED	(-105)	/* merge input that is not a valid table */

/* An object id: a SHA-1, 20 raw bytes (the same bytes as libgit2's). */
#define STORE_OID_RAWSZ	20
#define STORE_OID_HEXSZ	40

struct store_oid {
	uint8_t		id[STORE_OID_RAWSZ];
};

bool store_oid_equal(const struct store_oid *a, const struct store_oid *b);
bool store_oid_is_zero(const struct store_oid *a);
/* Lowercase hex, NUL-terminated; returns buf. */
char *store_oid_fmt(char buf[STORE_OID_HEXSZ + 1], const struct store_oid *id);
/* Full 40-digit hex only: 0 or STORE_EINVAL. */
int store_oid_parse(struct store_oid *out, const char *hex);

struct store_opts {
	const char	*router_id;	/* author/committer name; required */
	const char	*router_info;	/* extra lines for meta/router, or NULL */
	const char *const *ifnames;	/* ifidx -> interface name, or NULL */
	unsigned	n_ifnames;
	unsigned	window_ms;	/* group commit window: 100 */
	unsigned	batch_max;	/* changes that force a commit: 1024 */
	unsigned	commit_gap_ms;	/* and between group commits, at least: 1000 */
	unsigned	keep_expire;	/* expiry branches kept: 8 */
	unsigned	max_packs;	/* consolidate above this: 16 */
	/*
	 * Compact the commit path's packs (deltas against each object's
	 * previous version, deflate; compact.c) in the background when the
	 * oldest is this old: 60 s (0: only on request, store_repack).
	 */
	unsigned	compact_s;
	/*
	 * Packs a merge or compaction replaced stay on disk this long, for
	 * readers that listed them (git fsck opens each pack's index after
	 * listing them all): 30 (0: they go at once). Sooner when the history
	 * is over three quarters of its size bound (store_retain).
	 */
	unsigned	pack_grace_s;
	unsigned	body_max;	/* change lines listed in a batch body: 50 */
	unsigned	cache_mb;	/* trees kept in memory for commits: 64 (0: none) */
	/*
	 * The memory the caches are sized from (the router's RAM figure,
	 * src/mem.c): 0 leaves cache_mb and libgit2's own limits as they are.
	 * Otherwise store_mem_budget says what it bounds, and the bounds are
	 * set on open: libgit2's are process-wide, so the last open with a
	 * figure sets them for all (one router per process).
	 */
	uint64_t	mem_bytes;
	bool		fsync;		/* fsync at each flush: true */
	bool		verify_reads;	/* re-hash every object read: false */
	bool		create;		/* create the repository if absent: true */
	/*
	 * A side writer: takes no lock (a router may hold it), cleans nothing
	 * up, creates nothing, never moves primary (its transactions refuse
	 * it, STORE_ELOCKED) and loads no expiry index. For the tool's writes
	 * to other refs while a router runs: its packs and ref updates are
	 * atomic on their own (temporary names, rename, compare-and-swap).
	 */
	bool		side;
	/*
	 * The branch the writer commits to: NULL or "primary" (the router).
	 * Another name (gitnet replay-pcap) gets group commits, ticks (their
	 * branches are named <branch>_expire_<unix.usec>, pruned apart from
	 * primary's) and merges exactly as primary would; the repository must
	 * already be a gitnet store. If the branch does not exist, it starts
	 * at base (a revision, required then) and is created, not forced, at
	 * the first flush. Interim: to be folded into write transactions on
	 * any ref (issue 11).
	 */
	const char	*branch;
	const char	*base;
};

/* Fill o with the defaults above (router_id "gitnet"). */
void store_opts_default(struct store_opts *o);

/*
 * What a store opened with o may keep in memory, bytes, from o->mem_bytes:
 *	cache		trees at the head kept for commits: cache_mb, at most
 *			mem_bytes / 16
 *	lib_cache	libgit2's parsed-object cache (its default 256 MB), at
 *			most mem_bytes / 16
 *	lib_mapped	pack windows libgit2 keeps mapped (its default 8 GB;
 *			they are file pages, in the resident set once read), at
 *			most mem_bytes / 8
 *	lib_window	one such window (its default 1 GB): a quarter of
 *			lib_mapped, a power of two, at least 64 KB
 *	merge		what one consolidation of small packs copies (built
 *			in memory; unbounded by default), mem_bytes / 16
 * With mem_bytes 0: cache from cache_mb and the others 0 (libgit2's
 * defaults, left alone).
 */
struct store_mem {
	uint64_t	cache, lib_cache, lib_mapped, lib_window, merge;
};

void store_mem_budget(struct store_mem *m, const struct store_opts *o);

/*
 * State of a NAT mapping towards one remote endpoint: the one vocabulary
 * for NAT state outside netfn, in stored values, conntrack -L lines and
 * JSON, lossless for what conntrack -L shows. X(symbol, stored word,
 * conntrack word). UDP and ICMP use new (nothing came back) and
 * established; TCP uses conntrack's states, converted from netfn's once
 * (store_nat_remote_of), and a TCP remote that has sent nothing back
 * carries STORE_NAT_UNREPLIED (stored as a trailing " unreplied"). new
 * (for TCP) and transitory are what older repositories hold; they are
 * read, shown, and written back unchanged, never made from netfn states.
 */
#define STORE_NAT_RSTATES(X)					\
	X(NEW,		"new",		"NEW")			\
	X(ESTABLISHED,	"established",	"ESTABLISHED")		\
	X(TRANSITORY,	"transitory",	"TRANSITORY")		\
	X(CLOSED,	"closed",	"CLOSE")		\
	X(NONE,		"none",		"NONE")			\
	X(SYN_SENT,	"syn-sent",	"SYN_SENT")		\
	X(SYN_RECV,	"syn-recv",	"SYN_RECV")		\
	X(FIN_WAIT,	"fin-wait",	"FIN_WAIT")		\
	X(CLOSE_WAIT,	"close-wait",	"CLOSE_WAIT")		\
	X(TIME_WAIT,	"time-wait",	"TIME_WAIT")

enum store_nat_rstate {
#define STORE_NAT_RSTATE_ENUM(sym, word, ct) STORE_NAT_##sym,
	STORE_NAT_RSTATES(STORE_NAT_RSTATE_ENUM)
#undef STORE_NAT_RSTATE_ENUM
	STORE_NAT_RSTATE_MAX
};

/* The stored word ("syn-sent") and conntrack's ("SYN_SENT"); "?" if unknown. */
const char *store_nat_rstate_name(uint8_t state);
const char *store_nat_rstate_conntrack(uint8_t state);

#define STORE_NAT_REMOTES	16	/* = EV_NAT_REMOTES: what an event lists */

/* store_nat_remote.flags */
#define STORE_NAT_UNREPLIED	0x01	/* TCP: nothing came back yet (stored) */
#define STORE_NAT_INBOUND	0x02	/* the remote began it (live only) */

struct store_nat_remote {
	uint32_t	ip;
	uint16_t	port;
	uint8_t		state;		/* enum store_nat_rstate */
	uint8_t		flags;		/* STORE_NAT_UNREPLIED, _INBOUND */
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
	uint8_t		flags;		/* STORE_NAT_STATIC (live only) */
	struct store_nat_remote remote[STORE_NAT_REMOTES];
	uint32_t	unlisted;	/* sessions past the listed remotes */
	uint64_t	created_us;
	uint64_t	expires_us;	/* 0: never */
};

#define STORE_NAT_STATIC	0x01	/* a port forward */

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
 * The reader: a read-only handle on a state repository. It takes no lock
 * and never writes a byte (no lock file, no clean-up, no ref, no object),
 * so it is safe on a live repository that a router is writing and on a
 * copy. Every read of a state repository goes through one: the gitnet
 * tool, restore, a standby. A writer has a reader of its own
 * (store_reader_of), which sees the writer's commits before they are
 * durable; a standalone reader sees what is on disk as of its open (or its
 * last store_reader_refresh).
 */
struct store_reader;

/*
 * Open the repository at path for reading. Refuses what is not a bare git
 * repository, has no branch primary, or another meta/schema
 * (STORE_EFOREIGN, with a message naming the reason), and a missing path
 * (STORE_ENOTFOUND).
 */
int store_reader_open(struct store_reader **out, const char *path);
/* NULL: no-op. Not for the reader of a writer (it goes with the writer). */
void store_reader_free(struct store_reader *r);
/* The writer's own reader, valid as long as the writer. */
struct store_reader *store_reader_of(struct store *st);
/* Pick up packs and refs written since the open (a long-lived reader). */
int store_reader_refresh(struct store_reader *r);

/*
 * Resolve a revision as git does (a branch, a full ref, a hex id or its
 * prefix, rev~N, rev^, ...) to a commit. NULL means primary.
 * STORE_ENOTFOUND for an unknown revision, STORE_EINVAL for one that
 * does not name a commit (message set in both cases).
 */
int store_resolve(struct store_oid *out, struct store_reader *r, const char *rev);

/* Who and when, as a commit records it. */
struct store_sig {
	const char	*name, *email;
	int64_t		time;		/* unix seconds */
	int		tz;		/* minutes east of UTC */
};

/* A commit as read: one allocation, freed by store_commit_free(). */
struct store_commit {
	struct store_oid id, tree;
	struct store_oid *parent;	/* nparent of them */
	unsigned	nparent;
	struct store_sig author, committer;
	const char	*message;	/* whole, as written */
	const char	*summary;	/* first line, without its newline */
};

int store_commit_read(struct store_commit **out, struct store_reader *r,
    const struct store_oid *id);
void store_commit_free(struct store_commit *c);

/*
 * History walks. Commits reachable from start[] and not from hide[], newest
 * first as `git log` orders them (topological, then committer time), or
 * oldest first with STORE_WALK_REVERSE; only first parents with
 * STORE_WALK_FIRST_PARENT. fn gets each commit (valid during the call); a
 * non-zero return stops the walk and is returned.
 */
#define STORE_WALK_FIRST_PARENT	0x1u
#define STORE_WALK_REVERSE	0x2u

struct store_walk {
	const struct store_oid *start;
	size_t		nstart;
	const struct store_oid *hide;
	size_t		nhide;
	unsigned	flags;
};

typedef int (*store_commit_fn)(void *ctx, const struct store_commit *c);
int store_log(struct store_reader *r, const struct store_walk *w,
    store_commit_fn fn, void *ctx);

/* The merge base of two commits: STORE_ENOTFOUND when they share none. */
int store_merge_base(struct store_oid *out, struct store_reader *r,
    const struct store_oid *a, const struct store_oid *b);

/*
 * Refs whose full name matches glob (fnmatch, e.g. "refs/heads/ *" without
 * the space; NULL: every ref), in name order, each with the commit it
 * names (symbolic refs resolved, annotated tags peeled; peeled is false
 * for a ref straight at a commit), or commit NULL for a ref that names no
 * commit (dangling, or a tag of something else). A non-zero return from
 * fn stops it.
 */
typedef int (*store_ref_fn)(void *ctx, const char *name,
    const struct store_oid *commit, bool peeled);
int store_refs(struct store_reader *r, const char *glob, store_ref_fn fn,
    void *ctx);
/* Whether name is a well-formed full ref name, as git checks it. */
bool store_ref_name_valid(const char *name);

/* The commit a ref names (full name); STORE_ENOTFOUND when absent. */
int store_ref_read(struct store_oid *out, struct store_reader *r, const char *name);
/*
 * The object a ref names itself (full name), unpeeled: a commit, or an
 * annotated tag object. 1 for a symbolic ref (out unset), STORE_ENOTFOUND
 * when absent. What a compare-and-swap on the ref compares against.
 */
int store_ref_target(struct store_oid *out, struct store_reader *r, const char *name);

/* An annotated tag object as read: one allocation, store_tag_free(). */
struct store_tag {
	struct store_oid id, target;
	const char	*name;
	struct store_sig tagger;	/* valid when has_tagger */
	bool		has_tagger;
	const char	*message;
};

/* The tag object id: 0, or 1 when id names something else. */
int store_tag_read(struct store_tag **out, struct store_reader *r,
    const struct store_oid *id);
void store_tag_free(struct store_tag *t);

/*
 * The file at path (an entry, meta/..., conflicts/...) in commit's tree:
 * 0 with its bytes in *text (malloc'd, NUL-terminated, caller frees; may
 * be NULL to ask only whether it exists) and *len, and its blob id in
 * *blob (may be NULL); 1 when there is no file at path.
 */
int store_read_file(char **text, size_t *len, struct store_oid *blob,
    struct store_reader *r, const struct store_oid *commit, const char *path);

/*
 * The entries of directory dir ("" for the top) in commit's tree, in git's
 * order, each with its git mode (STORE_MODE_*; anything else is what some
 * other tool wrote). 1 when dir is absent or not a directory.
 */
#define STORE_MODE_DIR		0040000
#define STORE_MODE_FILE		0100644
#define STORE_MODE_EXEC		0100755
#define STORE_MODE_LINK		0120000
#define STORE_MODE_GITLINK	0160000

typedef int (*store_list_fn)(void *ctx, const char *name, unsigned mode);
int store_list(struct store_reader *r, const struct store_oid *commit,
    const char *dir, store_list_fn fn, void *ctx);

/*
 * The object at path (a file or a directory) under tree (a tree id, as
 * store_commit.tree and store_fp.tree give it): 0 with its id in *out and
 * whether it is a directory in *dir (may be NULL), 1 when absent. Equal
 * ids mean equal contents: a walk compares a directory across commits
 * without reading it.
 */
int store_path_oid(struct store_oid *out, bool *dir, struct store_reader *r,
    const struct store_oid *tree, const char *path);

/* Table selection for walks and diffs. */
#define STORE_TABLE_ARP		0x1u
#define STORE_TABLE_NAT		0x2u
#define STORE_TABLE_BOTH	(STORE_TABLE_ARP | STORE_TABLE_NAT)

/* One entry as read from a tree: its path, decoded value and raw text. */
struct store_item {
	const char	*path;		/* "arp/10.0.0/2" */
	struct store_entry e;
	char		dev[32];	/* ARP learned-on as written ("inside") */
	const char	*text;		/* the blob; valid during the callback */
	size_t		len;
};

typedef int (*store_item_fn)(void *ctx, const struct store_item *it);
/* An entry that does not decode; msg names the path and the problem. */
typedef int (*store_bad_fn)(void *ctx, const char *path, const char *msg);

/*
 * Call fn for each entry of the selected tables at commit, in path order.
 * An entry that fails to decode goes to bad and the walk goes on; with bad
 * NULL the walk stops with STORE_EPARSE. A non-zero return from fn or bad
 * stops the walk and is returned.
 */
int store_items(struct store_reader *r, const struct store_oid *commit,
    unsigned tables, store_item_fn fn, store_bad_fn bad, void *ctx);

/* Decode an entry's text at path into it (text kept by the caller). */
int store_item_decode(struct store_item *it, const char *path,
    const char *text, size_t len);

/*
 * The files that differ between the trees of commits a and b (either
 * NULL: an empty tree), in path order, under every top-level directory
 * (meta/, arp/, nat/, conflicts/) or, with prefix, only under it ("arp",
 * "nat/udp"). old or new_ is NULL for a file that is absent on that side.
 * Identical subtrees are skipped, so the cost is O(changes).
 */
typedef int (*store_diff_fn)(void *ctx, const char *path, const char *old,
    size_t olen, const char *new_, size_t nlen);
int store_diff(struct store_reader *r, const struct store_oid *a,
    const struct store_oid *b, const char *prefix, store_diff_fn fn, void *ctx);

/*
 * Whether commit c changed path (a file or a directory; NULL: anything):
 * a root commit changes what it holds, a commit with one parent what
 * differs from it, a merge only what differs from every parent (what the
 * merge itself decided).
 */
bool store_touches(struct store_reader *r, const struct store_commit *c,
    const char *path);

/*
 * Write transactions, on any ref. Objects made in a transaction stay in
 * memory; store_txn_commit() writes them as one pack (fsync), then applies
 * every ref update it holds by compare-and-swap against the old id given,
 * in the order given -- the store's one durable path, which group
 * commits, ticks, merges, gc, replay and replay-pcap all take. Updates
 * to primary also move the writer's head. Nothing is visible on disk
 * before commit; store_txn_rollback() drops everything.
 *
 * A transaction edits one working tree at a time: store_txn_tree() sets it
 * to a commit's tables (or empty ones), puts and removes change it, and
 * store_txn_make_commit() records it as a commit with the parents given.
 * Text put under a table path is checked with the table's codec; paths
 * outside meta/, arp/, nat/ and conflicts/ are refused (STORE_EREFUSED).
 * One transaction at a time per writer, and none while the journal holds
 * changes of primary (commit them first).
 */
struct store_txn;

/*
 * Begin: flushes the writer's own commits first (so a rollback or a crash
 * drops only the transaction's objects); STORE_EINVAL while the journal
 * holds changes or another transaction is open. The working tree starts
 * as primary's head tree. While a transaction is open, store_commit(),
 * store_tick_*() and store_merge() refuse (STORE_EINVAL).
 */
int store_txn_begin(struct store_txn **out, struct store *st);
/* The working tree: commit's tree, or (NULL) empty tables with meta/. */
int store_txn_tree(struct store_txn *t, const struct store_oid *commit);
int store_txn_put(struct store_txn *t, const struct store_entry *e);
int store_txn_put_text(struct store_txn *t, const char *path,
    const char *text, size_t len);
/* 0, or 1 when there was nothing at path. */
int store_txn_remove(struct store_txn *t, const char *path);
/*
 * The working tree as a commit with parents[0..nparent) and message msg;
 * author and committer NULL: the writer's router id at now_us. The tree
 * stays the working tree (later edits build on it).
 */
int store_txn_make_commit(struct store_oid *out, struct store_txn *t,
    const struct store_oid *parents, size_t nparent,
    const struct store_sig *author, const struct store_sig *committer,
    const char *msg, uint64_t now_us);
/*
 * Queue a ref update: set ref (a full name) to new_ (NULL: delete it) if
 * it names old now (NULL: only if it does not exist).
 */
int store_txn_ref(struct store_txn *t, const char *ref,
    const struct store_oid *new_, const struct store_oid *old);
/*
 * An annotated tag object on commit (name as in its refs/tags/ ref,
 * tagger NULL: none), for a ref update of the same transaction.
 */
int store_txn_tag(struct store_oid *out, struct store_txn *t,
    const struct store_oid *commit, const char *name,
    const struct store_sig *tagger, const char *msg);
/*
 * Write durably and move the refs; the transaction is freed either way.
 * Every ref's old id is checked before anything is written: a ref that
 * moved fails it (STORE_EMODIFIED; STORE_EEXISTS for one that must not
 * exist) with nothing written. Updates then apply in order, each atomic.
 */
int store_txn_commit(struct store_txn *t);
void store_txn_rollback(struct store_txn *t);

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

/* The version of the git library the store runs on ("1.5.1"). */
const char *store_lib_version(void);

/* The message of the last failure on this thread. */
const char *store_strerror(void);

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
int store_commit(struct store *st, uint64_t now_us, struct store_oid *out);

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
/* When store_poll will commit what is pending (UINT64_MAX: nothing is). */
uint64_t store_commit_due(const struct store *st);

/* The current head of the writer's branch, primary unless opts.branch says
 * otherwise (in memory; durable after store_flush). */
const struct store_oid *store_head(const struct store *st);

/*
 * Flush, then rewrite every pack as one with deltas and compression
 * (libgit2's packbuilder). Slow: for idle time or maintenance; the commit
 * path only ever copies small packs together.
 */
int store_repack(struct store *st);

/*
 * Count the packs on disk again and merge or compact them as a flush
 * would (in the background). For packs the writer did not make: a
 * standby's fetches (store_fetch, store_ls_fetch) land as a pack each,
 * and a standby's writer, which commits little, must still bound them;
 * its router calls this after fetches (cheap: a directory listing).
 */
int store_packs_check(struct store *st);

/*
 * Flush, then compact the packs the commit path wrote (what the background
 * does every opts.compact_s) on this thread, now.
 */
int store_compact(struct store *st);
/* Compactions finished by this writer, background ones included. */
uint64_t store_compactions(const struct store *st);

/*
 * Give back what reading left cached outside store_mem_budget's bounds:
 * libgit2 keeps a delta-base cache in each open pack (up to 16 MB each, no
 * option bounds it), filled by a full read such as the restore. Closes
 * the pack backend, then opens it again, when no object waits for a flush
 * (else does nothing: 1). From the writer's thread, between operations.
 * An error (out of memory reopening) leaves the store without an object
 * database: only store_free may follow.
 */
int store_trim(struct store *st);
/*
 * History retention (retain.c): what a cut may drop, polled by the writer's
 * owner every tick. A cut runs in the background and leaves a shallow
 * repository: the boundary commits keep their trees; older ones go.
 */
struct store_retain {
	uint64_t	keep_s;		/* keep this much history (0: any age) */
	uint64_t	max_bytes;	/* and no more bytes than this (0: no bound) */
	/*
	 * Archives are configured: an age cut drops only what every archive
	 * holds, archived (the oldest of their last pushed commits; none
	 * yet: has_archived false). A size cut drops anyway, counted.
	 */
	bool		archives, has_archived;
	struct store_oid archived;
};
struct store_retain_stats {
	uint64_t	cuts;			/* cuts finished */
	uint64_t	dropped_unarchived;	/* size cuts past what archives hold */
	uint64_t	oldest_s;		/* the oldest commit time kept */
	uint64_t	last_cutoff_s;		/* the last cut's cutoff */
};
int store_retain_poll(struct store *st, uint64_t now_us, const struct store_retain *r);
void store_retain_stats(struct store *st, struct store_retain_stats *out);
/*
 * A cut now, on this thread (gitnet gc): history before cutoff_s (unix
 * seconds) goes as the background's cuts drop it. 0 when cut, 1 when
 * nothing is that old.
 */
int store_retain_cut(struct store *st, int64_t cutoff_s);
/* The boundary commits of a shallow repository (none: a whole history). */
size_t store_boundary(struct store_reader *r, struct store_oid *out, size_t cap);

/* Bytes of the repository's packs and their indexes. */
uint64_t store_history_bytes(struct store *st);

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
 *
 * Merge input is untrusted: every path of branch's tree is validated
 * (only meta/ files the store understands with the same schema, table
 * paths whose files decode with their codec, conflicts/ records, regular
 * files and trees -- no symlink, no gitlink, no other top-level name);
 * anything else fails with STORE_EREFUSED, a message naming the path, and
 * nothing changed.
 */
int store_merge(struct store *st, const char *branch, uint64_t now_us);
/* The same with the merge commit's subject line msg (NULL: "merge <branch>"). */
int store_merge_as(struct store *st, const char *branch, const char *msg, uint64_t now_us);

/*
 * The same merge (and the same validation) into any branch into (a short
 * or full name; NULL or primary: store_merge() then store_flush()), as
 * one durable transaction: the merge commit "merge <branch>" (two
 * parents, as store_merge makes it, never a fast-forward) is written and
 * into moved by compare-and-swap before it returns. branch may also be a
 * revision. Returns the number of conflicts recorded, or a negative
 * error; 0 and no commit when into already contains branch.
 */
int store_merge_into(struct store *st, const char *branch, const char *into,
    uint64_t now_us);

/*
 * Git merge driver body for one entry file: merge the blobs in files
 * o_path (ancestor, %O), a_path (ours, %A) and b_path (theirs, %B) for
 * repository path `path` (%P), writing the result to a_path. Returns 0 when
 * merged (a clash resolved by the rules counts as merged), negative on
 * error (unparsable file, unknown path).
 */
int store_merge_driver(const char *o_path, const char *a_path,
    const char *b_path, const char *path);

/*
 * Any git repository (a clone of a state repository, bare or not), for
 * setting one up: its git directory (with a trailing '/') and work tree
 * (NULL when bare), malloc'd; search looks upward from path as git does.
 * STORE_ENOTFOUND when there is none. store_git_config_set() writes one
 * key of the repository's own config.
 */
int store_git_locate(char **gitdir, char **workdir, const char *path, bool search);
int store_git_config_set(const char *gitdir, const char *key, const char *value);

typedef int (*store_entry_fn)(void *ctx, const struct store_entry *e);

/*
 * Call fn for every entry (ARP then NAT, in path order) of the tables at
 * commit id (NULL: primary's head; for the writer, its head in memory).
 * Entries are decoded with the writer's interface names (a reader has
 * none: learned-on is then kept as ifidx 0, see store_items() for the
 * name). A non-zero return from fn stops the walk and is returned.
 * STORE_EPARSE names the entry file that fails.
 */
int store_load(struct store_reader *r, const struct store_oid *id,
    store_entry_fn fn, void *ctx);

/* Entries a lenient walk skipped: how many, and the first one's message. */
struct store_skipped {
	uint64_t	n;
	char		first[256];
};

/*
 * store_load, except that an entry file that does not decode (STORE_EPARSE:
 * a bad line, an interface name not in o->ifnames, not a blob) is skipped
 * and counted in *skip (NULL: as store_load) instead of stopping the walk.
 * Errors reading the repository itself still stop it.
 */
int store_load_skipping(struct store_reader *r, const struct store_oid *id,
    store_entry_fn fn, void *ctx, struct store_skipped *skip);

/*
 * The last commit on primary's first-parent line whose committer time is
 * at or before t_us (second granularity, as git records it), walked with
 * store_first_parents() (the commit-graph where there is one; history cut
 * short ends the line). STORE_ENOTFOUND if none.
 */
int store_at_time(struct store_oid *out, struct store_reader *r, uint64_t t_us);

/*
 * One commit of a first-parent line, as store_first_parents() lists it:
 * its id, tree, committer time and first two parents (nparent counts them
 * all; parent and parent2 are set when there are that many).
 */
struct store_fp {
	struct store_oid id, tree, parent, parent2;
	int64_t		time;		/* committer time, unix seconds */
	unsigned	nparent;
};

/*
 * The first-parent line of start (NULL: primary; for a writer, its head in
 * memory), newest first, down to and including the first commit whose
 * committer time is before since (unix seconds; INT64_MIN: down to the
 * root): *out (malloc'd, the caller frees) and *n. The line reads the
 * commit-graph file (objects/info/commit-graph, written by
 * store_graph_write() or stock git) where it covers it, and the commit
 * objects raw elsewhere: about 0.1 us a commit through the graph, 1-2 us
 * without. History cut short -- a commit listed in the git directory's
 * `shallow` file, or whose first parent's object is missing -- ends the
 * line as a root would. STORE_ENOTFOUND when start itself is missing.
 */
int store_first_parents(struct store_fp **out, size_t *n, struct store_reader *r,
    const struct store_oid *start, int64_t since);

/*
 * Write objects/info/commit-graph (git's format, version 1, as `git
 * commit-graph verify` checks it; a temporary file, fsync, rename) for
 * every commit reachable from primary and refs/heads/, after flushing.
 * Nothing is written for a repository whose history is cut (a shallow
 * file, a missing parent), as git does not either. For idle time (it reads every commit: about a second for a
 * day of history); what it speeds up is store_first_parents() (gitnet at,
 * gitnet who) and stock git's own walks. Commits made later are read from
 * their objects until the next write.
 */
int store_graph_write(struct store *st);

/*
 * Live netfn state as store entries, for the control socket; the journal
 * converts events with the same functions. An ARP entry is the store's
 * type already. A NAT session becomes a mapping with that one remote and
 * the session's own created and expires (the live view is per session;
 * history keeps mappings). store_nat_remote_of is the one conversion of
 * netfn's TCP states and NAT_SF_* flags into STORE_NAT_RSTATES;
 * store_nat_remote_to the way back, for a restart (legacy new: SYN_SENT,
 * transitory: TIME_WAIT).
 */
struct nat_session;
void store_entry_from_arp(struct store_entry *e, const struct arp_entry *a);
void store_entry_from_nat(struct store_entry *e, const struct nat_session *s);
struct store_nat_remote store_nat_remote_of(uint8_t proto, uint32_t ip,
    uint16_t port, uint8_t tcp_state, uint8_t nat_flags);
void store_nat_remote_to(uint8_t *tcp_state, uint8_t *nat_flags, uint8_t proto,
    const struct store_nat_remote *r);

/*
 * Output shapes of an entry (store/format.c), one formatter each, shared
 * by the control socket and the gitnet tool. Each writes NUL-terminated
 * text into buf[0..cap) and returns the length the whole text needs, as
 * snprintf does (>= cap: cut short). STORE_FMT_MAX fits any one entry.
 * NAT timeouts count from now_us; nothing reads a clock.
 */
#define STORE_FMT_MAX	1024

/* Something came back from this remote ([ASSURED], "replied":true). */
bool store_nat_replied(const struct store_nat_remote *r);
/* Seconds left at now_us (0 for never, or already past). */
uint64_t store_nat_timeout_s(const struct store_nat *n, uint64_t now_us);
/*
 * `ip neigh`: "10.0.0.2 dev inside lladdr 02:50:2a:16:6d:01 REACHABLE\n";
 * the lladdr only when known (not INCOMPLETE or FAILED).
 */
int store_fmt_neigh(char *buf, size_t cap, const struct arp_entry *a,
    const char *dev);
/*
 * `conntrack -L`: one line per remote of the mapping (0.0.0.0:0 when it
 * has none), each ending in "mark=0 use=1\n":
 * "udp      17 29 src=192.168.1.2 dst=8.8.8.8 sport=5000 dport=53 src=8.8.8.8
 * dst=203.0.113.1 sport=53 dport=61001 [ASSURED] mark=0 use=1\n".
 */
int store_fmt_conntrack(char *buf, size_t cap, const struct store_nat *n,
    uint64_t now_us);
/*
 * One entry as a JSON object (gitnet show --json): ARP as `ip -j neigh`
 * {"dst","dev","lladdr","state":["REACHABLE"],"updated","expires","key"},
 * NAT {"proto","timeout","inside","external","remotes":[{"ip","port",
 * "state"}],"created","expires","key"}; times unix seconds, null for never.
 */
int store_fmt_json(char *buf, size_t cap, const struct store_entry *e,
    const char *dev, uint64_t now_us);
/*
 * The JSON of conntrack line i of a mapping (the control socket's
 * nat-json): {"proto","state" (TCP: conntrack's name, else null),
 * "timeout","inside","external","remote","replied","inbound","static",
 * "created","expires"}.
 */
int store_fmt_conntrack_json(char *buf, size_t cap, const struct store_nat *n,
    unsigned i, uint64_t now_us);
/*
 * A change as its commit-message line: "arp: add 10.0.0.2 ->
 * 02:50:2a:16:6d:01", "nat: map tcp 192.168.1.2:51000 -> 203.0.113.1:61001".
 */
int store_fmt_change(char *buf, size_t cap, const struct store_change *c);
/* An entry in a Conflict: trailer: "arp 10.0.0.2 lladdr ... updated ...". */
int store_fmt_summary(char *buf, size_t cap, const struct store_entry *e);

/*
 * meta/router: how the router that writes the store is set up, so that a
 * replay (gitnet replay-pcap) runs the pipeline exactly as it ran. The
 * router writes it at start (store_opts.router_info, from
 * store_router_encode); a changed one is committed then.
 *
 * Text: `key value` lines in this order (the keys and value syntax of the
 * router's config file, examples/router.conf, where it has them):
 *
 *	id NAME                         the router id (written by the store)
 *	inside DEV A.B.C.D/PLEN         the interfaces (required)
 *	outside DEV A.B.C.D/PLEN
 *	nat on|off
 *	inside.mac MAC, inside.mtu N    as the interface had them at start
 *	outside.mac MAC, outside.mtu N
 *	gateway IP                      default route
 *	route PREFIX/PLEN=IP            repeated, in config order
 *	arp IP=MAC                      permanent neighbours, repeated
 *	forward PROTO:PORT=IP:PORT      port forwards, repeated
 *	nat.pool IP                     repeated
 *	nat.filtering MODE              address-port | address | endpoint
 *	nat.udp_timeout_s N, nat.tcp_established_timeout_s N,
 *	nat.tcp_transitory_timeout_s N, nat.icmp_timeout_s N,
 *	nat.max_sessions N, nat.max_per_host N, nat.port_min N, nat.port_max N
 *	arp.base_reachable_ms N, arp.delay_first_probe_ms N, arp.retrans_ms N,
 *	arp.ucast_probes N, arp.mcast_probes N, arp.gc_stale_ms N,
 *	arp.max_entries N, arp.unres_qlen N, arp.unres_total N
 *	icmp.rate N, icmp.burst N
 *	state.window_ms N, state.tick_ms N   group commit window, expiry tick
 *
 * Older routers wrote only id, inside, outside and nat: a missing key
 * decodes to its default (store_router_default: the router's defaults,
 * no MAC, MTU 0 meaning 1500). The NAT pipeline's seed is not recorded
 * (it is random per start, and a repository reader could predict ports).
 */
#define STORE_ROUTER_LIST	64

struct store_router_iface {
	char		dev[16];
	uint32_t	addr;
	uint8_t		plen;
	bool		set;		/* the interface line was there */
	bool		has_mac;
	uint8_t		mac[ETH_ALEN];
	uint16_t	mtu;		/* 0: unknown (1500) */
};

struct store_router {
	char		id[64];
	struct store_router_iface iface[2];	/* inside (0), outside (1) */
	bool		nat;
	uint32_t	gateway;		/* 0: none */
	struct {
		uint32_t	prefix, gw;
		uint8_t		plen;
	}		routes[STORE_ROUTER_LIST];
	unsigned	nroutes;
	struct {
		uint32_t	ip;
		uint8_t		mac[ETH_ALEN];
	}		arp[STORE_ROUTER_LIST];
	unsigned	narp;
	struct {
		uint8_t		proto;		/* IPPROTO_TCP or IPPROTO_UDP */
		uint16_t	ext_port, int_port;
		uint32_t	int_ip;
	}		forwards[STORE_ROUTER_LIST];
	unsigned	nforwards;
	uint32_t	pool[NAT_MAX_EXT - 1];
	unsigned	npool;
	struct nat_params nat_params;
	struct arp_params arp_params;
	uint32_t	icmp_rate, icmp_burst;
	unsigned	window_ms, tick_ms;
};

/* The router's defaults: NAT on, netfn's ARP and NAT defaults, 1000/50 ICMP,
 * window 100 ms, tick 1000 ms; no interfaces. */
void store_router_default(struct store_router *r);

/* Encode into buf[0..cap) (the id line only when r->id is set): the length,
 * or STORE_EINVAL if it does not fit or a field is out of range. */
int store_router_encode(char *buf, size_t cap, const struct store_router *r);

/*
 * Decode meta/router text over store_router_default(). STORE_EPARSE with
 * "meta/router: line N: ..." naming the first line that does not parse
 * (an unknown key, a bad value, a list too long) or a missing interface.
 */
int store_router_decode(struct store_router *r, const char *text, size_t len);

/*
 * Read meta/router at revision rev of the repository at path, without the
 * store's lock and without writing anything: the commit's id into hex
 * (41 bytes, may be NULL) and its committer time into time_us (may be NULL).
 * GIT_ENOTFOUND for an unknown revision, STORE_EFOREIGN without a
 * meta/router, STORE_EPARSE as store_router_decode.
 */
int store_router_at(struct store_router *r, char hex[41], uint64_t *time_us,
    const char *path, const char *rev);

/*
 * Pushing history to a git remote (store/remote.c): the archive.
 *
 * store_push() pushes local_ref of the repository at gitdir to remote_ref
 * at url (a path, file://, git://, ssh), never forced: the remote must
 * have an ancestor of what is pushed, or nothing. It opens a libgit2
 * handle of its own for the call, so it may run on any thread beside the
 * writer; a shallow repository (a `shallow` file, history cut by
 * retention) pushes as long as the remote has its boundary commits.
 * After a push the remote accepted, track (a full ref name, or NULL) is
 * set to what was pushed, by compare-and-swap through a side writer:
 * git's remote-tracking ref, what the remote was last known to hold.
 *
 * Returns 0 when the remote now holds res->pushed (res->sent: objects
 * went, false when it had them already), 1 without connecting when
 * local_ref still names *skip_if (NULL: always push), or a negative code:
 * STORE_ENOTFOUND without local_ref, STORE_EREFUSED when the remote
 * refused (not a fast-forward, receive-pack said no, or it lacks history
 * dropped here), others for a remote that cannot be reached; the message
 * names the URL and the reason. res->local is set whenever local_ref was
 * read.
 */
struct store_push_result {
	struct store_oid local;		/* what local_ref named */
	int64_t		local_time;	/* its committer time, unix seconds */
	struct store_oid pushed;	/* what the remote holds now (0 and 1) */
	int64_t		pushed_time;
	struct store_oid remote_old;	/* what it held before (zero: nothing) */
	bool		sent;
};

int store_push(struct store_push_result *res, const char *gitdir, const char *url,
    const char *local_ref, const char *remote_ref, const char *track,
    const struct store_oid *skip_if);

/*
 * Name url as remote `name` in the repository's own config, as `git remote
 * add` would, so that stock git shows it (git remote -v, git branch -r,
 * git log name/primary): remote.<name>.url, .fetch
 * +refs/heads/primary:refs/remotes/<name>/primary, .push
 * refs/heads/primary:refs/heads/primary. Returns 0 when it was so already,
 * 1 when written; a URL other than the one before also deletes
 * refs/remotes/<name>/primary (it said what another remote held).
 * store_remote_remove() forgets the remote: its config and that ref; 0,
 * or 1 when there was neither.
 */
int store_remote_set(const char *gitdir, const char *name, const char *url);
/*
 * The same with the refspecs given (remote.<name>.fetch and .push, one
 * each): the sync remote's are +refs/heads/routers/<*>:refs/remotes/sync/<*>
 * and refs/heads/primary:refs/heads/routers/<ID>. Changed refspecs are
 * rewritten (1) even when the URL is the same.
 */
int store_remote_set_specs(const char *gitdir, const char *name, const char *url,
    const char *fetch, const char *push);
int store_remote_remove(const char *gitdir, const char *name);

/*
 * The sync remote (issue 14): several refs in one push, listings, fetches
 * into the state repository, and the heartbeat's beacon. Each call opens
 * libgit2 handles of its own, as store_push() does: any thread, beside
 * the router's open store; refs of the state repository move only through
 * a side writer (compare-and-swap).
 *
 * store_push_refs() pushes v[0..n) in one connection: it lists the
 * remote's refs, then sends one pack and every update. A spec with src
 * NULL deletes dst (dropped when the remote has no dst); one whose dst
 * already names src is dropped too. Unforced specs must be fast-forwards:
 * one that is not is refused here, alone (status STORE_EREFUSED), and the
 * others still go. prune (NULL: none) is a prefix: every ref of the
 * remote under it that no spec names is deleted in the same push (a
 * router's previous heartbeat refs). Creations come before deletions, so
 * a listing sees the new ref before the old goes. After the push each
 * spec that went with a track sets that local ref to src (deletes it for
 * a deletion). Returns 0 when every spec holds, STORE_EREFUSED when one or
 * more were refused (the message names the first; each status says), or
 * another negative code when nothing went (unreachable, no such src);
 * the message names the URL.
 */
struct store_pushspec {
	const char	*src;		/* a local ref (full name); NULL: delete dst */
	const char	*dst;		/* the remote's ref (full name) */
	bool		force;		/* not only a fast-forward */
	const char	*track;		/* local ref set to what went, or NULL */
	/* out */
	int		status;		/* 0, STORE_EREFUSED, or the push's error */
	bool		sent;		/* the remote's ref changed */
	struct store_oid local;		/* what src named */
	struct store_oid old;		/* what the remote had (zero: nothing) */
};

struct store_push_stats {
	uint64_t	bytes;		/* pack bytes sent */
	unsigned	refused;	/* specs refused */
	unsigned	pruned;		/* refs deleted under prune */
	bool		pushed;		/* a push was made (false: nothing to do) */
	bool		listed;		/* the remote's refs were listed (and given to fn) */
};

typedef int (*store_ls_fn)(const char *name, const struct store_oid *id, void *ctx);
int store_push_refs(struct store_push_stats *res, const char *gitdir, const char *url,
    struct store_pushspec *v, size_t n, const char *prune);

/*
 * The same, and the remote's refs as the push found them (its listing,
 * before the updates), under refs/, given to fn(name, id, ctx) when fn is
 * not NULL: a router that beats learns the other routers' beats from its
 * own pushes, without a listing of its own. A non-zero return from fn
 * stops the push before anything is sent, and is returned.
 */
int store_push_refs_ls(struct store_push_stats *res, const char *gitdir, const char *url,
    struct store_pushspec *v, size_t n, const char *prune, store_ls_fn fn, void *ctx);

/*
 * The remote's refs whose names start with prefix (NULL or "": all), one
 * connection, no objects: fn(name, id, ctx) for each, in the remote's
 * order; a non-zero return stops the listing and is returned. 0, or a
 * negative code with a message naming the URL.
 */
int store_ls_remote(const char *url, const char *prefix, store_ls_fn fn, void *ctx);

/*
 * Fetch remote_ref at url into local_ref of the repository at gitdir:
 * the objects (libgit2's indexer: a pack and its index, fsynced when the
 * store fsyncs), then local_ref set to the remote's id by compare-and-swap
 * through a side writer, forced (the peer's retention may rewrite its
 * history). Nothing is downloaded when the object is here already.
 * 0 when local_ref names res->fetched; STORE_ENOTFOUND when the remote has
 * no remote_ref; others for a remote that cannot be reached.
 */
struct store_fetch_result {
	struct store_oid fetched;	/* what remote_ref named, now local_ref */
	struct store_oid old;		/* what local_ref named before (zero: none) */
	bool		updated;	/* local_ref moved */
	uint64_t	objects, bytes;	/* received */
};

int store_fetch(struct store_fetch_result *res, const char *gitdir, const char *url,
    const char *remote_ref, const char *local_ref);
/*
 * A watcher's look: the listing of store_ls_remote (fn for each ref under
 * prefix) and, in the same connection, remote_ref fetched into local_ref
 * as store_fetch does when local_ref does not name it already. A remote
 * without remote_ref (or remote_ref NULL) is no error: res->fetched stays
 * zero. res->updated says whether local_ref moved. Over a path, the
 * listing reads the refs directly and a fetch connects on its own.
 */
int store_ls_fetch(struct store_fetch_result *res, const char *gitdir, const char *url,
    const char *prefix, store_ls_fn fn, void *ctx, const char *remote_ref,
    const char *local_ref);

/*
 * The heartbeat's one object per router: the commit "gitnet alive
 * <router_id>" (the empty tree, no parent, dated 0), constant, so written
 * once and sent to a remote once (later beats carry an empty pack); its
 * id goes into out: what the alive refs name. STORE_BEACON_REF keeps it
 * reachable (git fsck and retention keep what refs reach). A commit, not
 * a blob: libgit2 1.5.1 pushes and fetches refs to commits only (see
 * remote.c). 0, or a negative code (STORE_EINVAL for an id with a space,
 * '<', '>' or a newline, or longer than 64).
 */
#define STORE_BEACON_REF	"refs/gitnet/beacon"
int store_beacon(struct store_oid *out, const char *gitdir, const char *router_id);

/*
 * Keep the git library initialised from store_lib_hold() to
 * store_lib_release(), for threads that call store_push() while no store
 * is open: each call would otherwise set libgit2 up and tear it down, and a
 * thread that ends after the teardown leaves its error state behind.
 */
int store_lib_hold(void);
void store_lib_release(void);

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

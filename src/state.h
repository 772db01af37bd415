/* SPDX-License-Identifier: ISC */
/*
 * The router's state in git: a writer thread that owns the store.
 *
 * The data path never waits on git. It pushes each batch's table events
 * into a bounded single-producer, single-consumer ring (state_push: copies,
 * never blocks, never allocates); the writer thread turns them into store
 * changes, group-commits them (store_poll: a window_ms after a change, at
 * most one commit per commit_gap_ms unless batch_max changes wait; fsynced
 * before primary moves), polls history retention each tick (compaction and
 * cuts run in the store's background), and runs the expiry tick every
 * tick_ms (half past each period of unix time, so a replay ticks at the
 * same instants) on an expire_<unix.usec> branch merged back into primary.
 * In sync mode (gitnet replay-pcap) there is no thread: the event loop
 * calls the writer at its deadlines on a simulated clock.
 *
 * Overflow policy: when the disk is slower than the table changes for long
 * enough to fill the ring, new events are dropped, counted (events_lost)
 * and logged once per burst; the packets themselves are never delayed or
 * dropped, and the tables in memory stay right. The next event for an entry
 * writes its whole state again, so a lost event leaves history short a step
 * until then, never wrong about an entry that changed afterwards.
 *
 * Unsolicited inbound traffic (hlimit.h): the events of half-open sessions,
 * which any host outside makes at will, pass a token bucket per remote and
 * one for all before they enter the ring; what is over is counted
 * (history_events_limited) and not recorded, with the same policy.
 *
 * A failing disk (ENOSPC, EIO): a flush that fails leaves its commits in
 * memory and the writer retries it with backoff (100 ms, doubling, at most
 * 1 s), and meanwhile begins no tick. It keeps draining the ring so that
 * the data path never waits: up to STATE_HELD_MAX changes are kept in the
 * journal for the retry, the events past them are dropped and counted as
 * events_lost. Every failed attempt is counted (history_write_errors); a
 * write is all or nothing (pack to a temporary name, fsync, rename, then
 * the ref by compare-and-swap), and a failed one removes its temporary
 * files. When a retry succeeds, history goes on from where it stopped:
 * the held changes, then new events, and the first tick removes what
 * expired meanwhile.
 *
 * Start: state_open opens (or creates) the repository, and with it the
 * restart contract: state_restore loads primary into the pipeline (ARP
 * entries come back STALE, NAT sessions keep their external ports), and the
 * first tick removes, as a tick commit, what expired while the router was
 * down.
 */
#ifndef SRC_STATE_H
#define SRC_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netfn/event.h"
#include "netfn/pipeline.h"
#include "src/hlimit.h"

/* Changes the writer keeps for a retry while the disk fails. */
#define STATE_HELD_MAX	4096

struct state_opts {
	const char	*dir;		/* the bare repository */
	const char	*router_id;	/* author and committer of every commit */
	const char	*router_info;	/* meta/router lines */
	const char *const *ifnames;	/* ifidx -> interface name */
	unsigned	n_ifnames;
	unsigned	window_ms;	/* group commit window: 100 */
	unsigned	commit_gap_ms;	/* and at least this between group commits: 1000 */
	unsigned	tick_ms;	/* expiry tick: 1000 */
	unsigned	keep_expire;	/* expire_ branches kept: 8 */
	unsigned	ring_events;	/* ring size, a power of two: 65536 */
	unsigned	verbose;	/* >= 1: log "state: durable: head=ID" per flush */
	struct hlimit_params inbound;	/* hlimit_params_default() */
	/*
	 * Replay (gitnet replay-pcap): the branch to write (NULL: primary),
	 * started from base when it does not exist (store_opts), and no
	 * writer thread: the event loop drives the writer on its simulated
	 * clock with state_next_deadline and state_run (sync).
	 */
	const char	*branch, *base;
	bool		sync;
	/*
	 * History retention on primary (never in sync mode): keep this much
	 * (0: any age) and this many bytes of packs (0: no bound;
	 * STATE_HISTORY_AUTO: a quarter of the state filesystem's size).
	 */
	uint64_t	history_keep_s, history_max_bytes;
	unsigned	compact_s;	/* background compaction: 60 (store_opts) */
	uint64_t	mem_bytes;	/* store_opts.mem_bytes: 0, the store's defaults */
};
#define STATE_HISTORY_AUTO	UINT64_MAX

void state_opts_default(struct state_opts *o);

/*
 * A histogram of durations in the Prometheus shape: counts per bucket
 * (observations <= state_hist_le_us[i] and above the bucket before; the
 * last bucket is +Inf), their number and their sum.
 */
#define STATE_HIST_N	18
extern const uint64_t state_hist_le_us[STATE_HIST_N - 1];

struct state_hist {
	uint64_t	bucket[STATE_HIST_N];
	uint64_t	count;
	uint64_t	sum_us;
};

struct state_stats {
	uint64_t	events_in;	/* pushed by the data path */
	uint64_t	events_lost;	/* the ring was full, or the disk failing */
	uint64_t	changes;	/* recorded into the store */
	uint64_t	commits;	/* group commits made durable */
	uint64_t	ticks;		/* expiry ticks that aged something out */
	uint64_t	errors;		/* store operations that failed */
	uint64_t	lag_p50_us;	/* event to durable commit, median */
	uint64_t	lag_p99_us;	/* and 99th percentile */
	uint64_t	restored_arp, restored_nat, restore_skipped;
	uint64_t	made;		/* commits written (group, tick, merge) */
	uint64_t	compactions;	/* background compactions finished */
	uint64_t	history_bytes;	/* packs and indexes, as of the last tick */
	uint64_t	history_cuts;	/* retention cuts finished */
	uint64_t	history_dropped_unarchived;	/* cuts past what archives hold */
	uint64_t	history_oldest_s;	/* the oldest commit kept */
	uint64_t	history_max_bytes;	/* the bound in force (0: none) */
	uint64_t	events_limited;	/* unsolicited inbound, over the limits */
	uint64_t	write_errors;	/* writes (flush, retry) that failed */
	uint64_t	write_failing;	/* 1 while writes fail (a retry is due) */

	uint64_t	changes_arp, changes_nat;	/* changes, per table */
	struct state_hist lag;		/* event to durable commit */
	struct state_hist commit;	/* a group commit, made durable */
	struct state_hist tick_merge;	/* merging an expire_ branch, flushed */
};

struct state;

/*
 * Open the state repository at o->dir (created if absent). The messages say
 * what is wrong with a directory that is not a gitnet store, is locked by
 * another router, or cannot be written.
 */
int state_open(struct state **out, const struct state_opts *o, char *err, size_t errlen);

/*
 * Load primary into nf (before state_start; on the caller's thread).
 * Entries that no longer fit the configuration are skipped and counted.
 */
int state_restore(struct state *s, struct nf *nf, uint64_t now_us, char *err,
    size_t errlen);

struct store_entry;

struct state_restored {
	uint64_t	arp, nat, skipped;
};

/*
 * Put one stored entry back into nf (a restart, or gitnet replay-pcap): an
 * ARP entry comes back STALE; each remote of a NAT mapping comes back as a
 * session that keeps the mapping's external port. What no longer fits the
 * pipeline's configuration is counted as skipped.
 */
void state_restore_entry(struct nf *nf, const struct store_entry *e, uint64_t now_us,
    struct state_restored *n);

struct store_oid;

/*
 * A standby (src/sync.h), before state_start, on the caller's thread:
 * state_restore_rev loads the tables at rev (the peer's fetched primary,
 * refs/remotes/sync/<ID>) into nf, as state_restore does with primary,
 * counting into *n; hex gets the commit (41 bytes, may be NULL).
 * state_merge_now merges rev into primary with the table-aware merge as
 * one durable commit whose subject is subject: the takeover. It returns
 * the conflicts recorded (>= 0), 0 with no commit when primary already
 * holds rev, or -1 with err set.
 */
int state_restore_rev(struct state *s, struct nf *nf, const char *rev, uint64_t now_us,
    struct state_restored *n, char hex[41], char *err, size_t errlen);
int state_merge_now(struct state *s, const char *rev, const char *subject, uint64_t now_us,
    char *err, size_t errlen);
/*
 * nf holds the tables of commit from (hex): bring it to rev's by applying
 * only what differs (store_diff: O(changes)); an entry that changed or went
 * is dropped first (arp_forget, nat_forget), then its new state restored.
 * Counts into *n; hex gets rev's commit. -1 with err: nf may then hold a
 * mix, and the caller loads afresh.
 */
int state_follow(struct state *s, struct nf *nf, const char *from, const char *rev,
    uint64_t now_us, struct state_restored *n, char hex[41], char *err, size_t errlen);
/* store_packs_check, before state_start (a standby's fetched packs). */
int state_packs_check(struct state *s);
/* Whether the history of revision a holds revision b (false: either unknown). */
bool state_contains(struct state *s, const char *a, const char *b);
/*
 * Whether one of the last 64 first-parent commits of rev is a merge with
 * the subject takeover whose second parent (what was taken over) holds
 * since: a takeover of what this router wrote since it became active.
 */
bool state_took_over(struct state *s, const char *rev, const char *takeover,
    const char *since);
/* fn(ctx) on the writer's thread each time primary moved (NULL: none). */
void state_set_head_hook(struct state *s, void (*fn)(void *ctx), void *ctx);

/*
 * Archives (src/archive.c): oldest(ctx, out) says which commit every
 * archive holds (false: none yet). Retention cuts by age no further; a
 * size cut past it is counted (history_dropped_unarchived). Set before
 * state_start; cleared (NULL) before the archive goes away.
 */
void state_set_archive(struct state *s, bool (*oldest)(void *ctx, struct store_oid *out),
    void *ctx);

/* Start the writer thread. */
int state_start(struct state *s);

/* Data path: queue n events for the writer. Never blocks. */
void state_push(struct state *s, const struct nf_event *ev, unsigned n);

/* Stop the writer after it has committed and flushed everything queued. */
void state_close(struct state *s);

/* A copy of the counters; any thread (the writer's lock, never the data path's). */
void state_get_stats(struct state *s, struct state_stats *out);

/*
 * Sync mode (opts.sync), on the loop's thread, with the loop's clock. The
 * writer's next deadline: the group commit of what is pending (its oldest
 * change + window), the merge of a begun tick, or the next tick; events
 * pushed so far are recorded first. UINT64_MAX: none.
 */
uint64_t state_next_deadline(struct state *s);
/* Do what is due at now_us: group commit, tick merge, tick (the writer
 * thread's turn, at a simulated instant). */
void state_run(struct state *s, uint64_t now_us);
/*
 * The input has ended: commit what is pending at its group-commit deadline
 * and merge a begun tick at its time (no new tick), advancing *now_us to
 * the last of them. Nothing is left for state_close to commit.
 */
void state_settle(struct state *s, uint64_t *now_us);
/* The head of the branch written, as 40 hex digits and a NUL. */
void state_head(struct state *s, char hex[41]);

#endif

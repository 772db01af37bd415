/* SPDX-License-Identifier: ISC */
/*
 * The sync: a router and its standby through a git remote that stock git
 * serves (issue 14). No replication protocol of our own: the tables are
 * already commits, so the active router pushes them and the standby
 * fetches them.
 *
 * The remote's layout:
 *	refs/heads/routers/<ID>		router ID's primary, never forced
 *	refs/gitnet/alive/<ID>/<role>/<unix_ms>
 *					ID's heartbeat: role active or standby,
 *					unix_ms the pusher's wall clock at the beat
 *	refs/gitnet/pushed/<ID>/<unix_ms>
 *					the stamp of ID's last head push: unix_ms
 *					its wall clock when the push started
 * A beat is one push that creates the new alive ref and deletes the
 * router's previous ones; every alive ref and stamp of a router names the
 * same constant object (store_beacon: the commit "gitnet alive <ID>" on
 * the empty tree, dated 0, kept locally under refs/gitnet/beacon), so
 * beats add nothing to history but that one root commit (which `git log
 * --all` lists, dated 1970) and, after the first, send an empty pack. A
 * head push carries its stamp (and deletes the previous one) in the same
 * push, so the stamp dates the head; it carries no beat (it could not
 * delete the router's previous alive refs without deleting its stamps,
 * and head pushes may come faster than beats).
 *
 * Liveness is read by change, on the watcher's own monotonic clock: a
 * router is alive while the name of its newest alive ref keeps changing.
 * The two hosts' clocks are never compared for that; the unix_ms in a
 * name is used for the period the standby learns (differences of one
 * clock) and for the lag figure (sync_lag_ms: when the fetch of a new head
 * finished here, minus the stamp seen with that head), which is true only
 * with synchronised clocks (NTP) across the hosts.
 *
 * Three threads, each with its own libgit2 handles (store_push_refs,
 * store_ls_remote, store_fetch), so the data path and the state writer
 * never wait on the remote, and no beat waits on a head push:
 *	beater	beats every beat_ms while active, every standby_beat_ms
 *		while standing by (a standby's liveness times nothing that
 *		must be fast, and its beats are most of an idle remote's
 *		traffic), start to start (at once after one that took
 *		longer); at once on a role change
 *	pusher	while active, pushes refs/heads/primary to routers/<ID> when
 *		it moved since the last push that went: at each sync_kick, at
 *		a role change, and when a whole listing taken after its last
 *		push shows another head there (the remote made anew)
 *	watcher	lists the remote every poll_ms (beat_ms while no peer is
 *		set, and then only when no push listed it meanwhile): every
 *		router's alive refs (sync_other_active), and with a peer, its
 *		head: a new one is fetched into refs/remotes/sync/<PEER> of
 *		the state repository and head_gen goes up by one
 * Each push starts with the remote's listing: it counts as one (the other
 * routers' beats).
 * A failure (remote down, refused) is counted (sync_errors) and retried
 * after a backoff that doubles from the period up to SYNC_RETRY_MAX_MS.
 *
 * The state repository names the remote `sync` (git remote -v), fetch
 * +refs/heads/routers/<*>:refs/remotes/sync/<*> and push
 * refs/heads/primary:refs/heads/routers/<ID>, so `git branch -r` shows
 * sync/<PEER> and stock `git fetch sync` / `git push sync` do what the
 * router does.
 */
#ifndef SRC_SYNC_H
#define SRC_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define SYNC_ID_MAX		64		/* bytes, NUL included */
#define SYNC_URL_MAX		512
#define SYNC_RETRY_MAX_MS	5000u		/* backoff cap */
#define SYNC_LAG_WINDOW		256		/* lags kept for the p99 */
#define SYNC_ROUTERS_MAX	32		/* routers whose beats are tracked */

enum sync_role { SYNC_ACTIVE, SYNC_STANDBY };

struct sync_opts {
	const char	*gitdir;	/* the state repository */
	const char	*url;		/* --sync URL */
	const char	*router_id;	/* --router-id ID */
	const char	*peer;		/* --standby PEER: the router watched (NULL: none) */
	unsigned	beat_ms;	/* heartbeat period, start to start (main passes
					   takeover_after / 3, >= 50) */
	unsigned	poll_ms;	/* the watcher's look at the remote: 50 */
	unsigned	standby_beat_ms; /* the standby's period (main: takeover_after;
					    at least beat_ms) */
	unsigned	verbose;	/* >= 1: log every fetch; >= 2 every push */
};

struct sync;

/*
 * Check the options (an ID is letters, digits, '.', '_', '-'), write the
 * beacon and the `sync` remote's config into the state repository, and
 * read back what refs/remotes/sync/<PEER> holds. Starts nothing. 0, or -1
 * with the reason in err.
 */
int sync_open(struct sync **out, const struct sync_opts *o, char *err, size_t errlen);
/* Start the threads: the first beat goes at once. 0, or -1. */
int sync_start(struct sync *s, enum sync_role role);
/* The role the next beat says (sent at once: a role change is news). */
void sync_set_role(struct sync *s, enum sync_role role);
enum sync_role sync_get_role(struct sync *s);
/* Watch another router (NULL or "": none); what was seen of the last is forgotten. */
void sync_set_peer(struct sync *s, const char *peer);
/* Primary moved: push now (with a beat), when the role is active. */
void sync_kick(struct sync *s);
/*
 * Stop the threads. One still inside a remote operation is given
 * SYNC_CLOSE_WAIT_MS, then left to finish on its own (it frees what it
 * uses): a dead remote never holds up a shutdown. NULL is a no-op.
 */
#define SYNC_CLOSE_WAIT_MS	1000
void sync_close(struct sync *s);

/* What the watcher last saw of the peer (any thread; a mutex, copied out). */
struct sync_peer {
	bool		seen;		/* an alive ref of the peer was ever seen */
	bool		active;		/* its role in the last alive ref */
	/*
	 * Since its alive ref last changed (own clock). First sight counts
	 * as a change (a standby that starts gives its peer the whole
	 * takeover time); before it, since the peer was set.
	 */
	uint64_t	silent_ms;
	bool		have_head;	/* fetched: head is in the local repository */
	struct store_oid head;		/* refs/remotes/sync/<PEER> = the peer's primary */
	uint64_t	head_gen;	/* +1 each time head changes */
	/* additions */
	char		id[SYNC_ID_MAX];	/* the peer ("": none) */
	uint64_t	beat_unix_ms;	/* unix_ms in its last alive ref (its clock) */
	/*
	 * Since the last listing that succeeded (own clock; the watcher's or
	 * a push's, timed when its refs came): a
	 * silent peer behind a remote that does not answer either may be
	 * alive; UINT64_MAX before the first.
	 */
	uint64_t	remote_silent_ms;
	/*
	 * The silence the remote itself vouches for: from the peer's last
	 * change to the last listing that answered (0 when none answered
	 * since). A remote that goes down freezes it, where silent_ms goes
	 * on growing: a takeover decided on this one never follows an
	 * outage of the remote rather than of the peer.
	 */
	uint64_t	listed_silent_ms;
};
void sync_peer_get(struct sync *s, struct sync_peer *out);
/*
 * Any OTHER router whose alive ref says active and changed within
 * window_ms (the watched peer first when it is one; id may be NULL).
 * First sight is no change here: a router killed long ago leaves its last
 * alive ref on the remote, so a router counts once its ref has changed
 * while this one watched (see sync_wait_listed).
 */
bool sync_other_active(struct sync *s, char id[SYNC_ID_MAX], uint64_t window_ms);
/*
 * Addition: wait (at most timeout_ms) until the watcher's first listing
 * that succeeded, then until every router seen beats again or window_ms
 * has passed since that listing: liveness is change, so one listing says
 * who beats, not who is alive. True once the listing came. For a router
 * that starts without --standby: sync_start(s, SYNC_STANDBY), this, then
 * sync_other_active() decides whether it may become active.
 */
bool sync_wait_listed(struct sync *s, unsigned timeout_ms, unsigned window_ms);

struct sync_stats {
	uint64_t pushes, push_errors;	/* head pushes */
	uint64_t beats, beat_errors;
	uint64_t fetches, sync_errors;	/* fetches done; every failed remote operation */
	uint64_t lag_ms, lag_p99_ms;	/* standby: last and p99 of recent */
	uint64_t bytes_sent, bytes_fetched;
	uint64_t retry_ms;		/* backoff now (0: healthy) */
	/* additions */
	uint64_t listings;		/* the watcher's looks at the remote that succeeded */
	uint64_t objects_fetched;
	uint64_t push_ms, look_ms;	/* the last head push's and look's (+ fetch) duration */
	uint64_t beat_push_ms;		/* the last beat's */
};
void sync_get_stats(struct sync *s, struct sync_stats *out);

#endif

/* SPDX-License-Identifier: ISC */
/*
 * The router's side of a standby fed by git (issue 14; the transport is
 * src/sync.c). Two or more routers share one git remote: the active one
 * pushes primary to refs/heads/routers/<ID> after each commit and beats a
 * heartbeat ref; a standby fetches the active router's branch as it moves
 * and keeps its tables loaded in memory from each fetch, so that a takeover
 * is a merge commit and an announcement, not a cold start.
 *
 * A standby forwards nothing and answers for no address: its loop takes
 * frames off the rings and drops them, sends nothing, runs no pipeline
 * timer and starts no state writer (its primary stays where it was).
 *
 * Takeover (the peer's heartbeat silent for --takeover-after ms, or the
 * control command `takeover`):
 *  1. the fetched commit the warm tables came from is merged into primary
 *     with the store's table-aware merge, one durable merge commit
 *     "takeover: <ID> takes over from <PEER>" by this router: the history
 *     shows both routers' lines joining;
 *  2. if primary had changes of its own (a router that was active once,
 *     came back and stood by), the tables are loaded again from the merge;
 *     else the warm ones are exactly the merge's;
 *  3. the writer starts, permanent neighbours go in, and gratuitous ARP
 *     goes out for the inside and outside addresses and the NAT pool;
 *  4. the heartbeat says active and the pusher pushes routers/<ID>.
 * Every session keeps its external address and port: established TCP and
 * UDP flows carry on through the new router.
 *
 * A router started with --sync and without --standby first looks at the
 * remote for up to --takeover-after ms, and 2 s at least (HA_UNLEARNED_MS;
 * the look ends as soon as every router listed has beaten): if another
 * router is active there (its heartbeat moving), it stands by for it
 * rather than answer for the same addresses (with --preempt it takes over
 * as soon as it has loaded that router's state).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "src/router.h"
#include "src/sync.h"

/*
 * The silence that means the peer is gone: --takeover-after, or twice the
 * longest of its recent beat periods (a push to the remote may take longer
 * than the period asked: the cadence is what it achieves). Until two
 * periods are seen, HA_UNLEARNED_MS at least: a standby that just started
 * does not know the peer's cadence yet, nor does a router that starts and
 * looks whether another one is active (router_ha_open).
 */
#define HA_UNLEARNED_MS	2000

static void __attribute__((format(printf, 1, 2)))
halog(const char *fmt, ...)
{
	va_list ap;

	fputs("gitnet-router: sync: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Wake the pusher when primary moved (the state writer's thread). */
static void
head_moved(void *ctx)
{
	sync_kick(ctx);
}

/*
 * Bring the tables to commit rev (the peer's fetched state, or primary after
 * a takeover's merge). The pipeline holds the tables of warm_hex (set when
 * the router stood by: its own primary, restored at open): only what
 * differs between the two commits is applied, O(changes), so a standby
 * follows a busy peer at the cost of its changes, not of its tables. If
 * that fails, a fresh pipeline is loaded whole (logged); the old one stays
 * if even that fails.
 */
static int
warm_load(struct router *r, const char *rev)
{
	struct state_restored n = { 0 };
	uint64_t t0 = router_now_us();
	char err[512], got[41];
	bool whole = r->warm_hex[0] == '\0';

	if (!whole && state_follow(r->state, r->nf, r->warm_hex, rev, router_time(r), &n, got,
	    err, sizeof(err)) < 0) {
		halog("standby: %s; loading %s whole", err, rev);
		whole = true;
	}
	if (whole) {
		struct nf *old = r->nf;

		r->nf = NULL;
		memset(&n, 0, sizeof(n));
		if (router_pipeline_open(r, err, sizeof(err)) < 0 ||
		    state_restore_rev(r->state, r->nf, rev, router_time(r), &n, got, err,
		    sizeof(err)) < 0) {
			halog("standby: cannot load %s: %s", rev, err);
			nf_free(r->nf);
			r->nf = old;
			return -1;
		}
		nf_free(old);
	}
	snprintf(r->warm_hex, sizeof(r->warm_hex), "%s", got);
	r->warm_loads++;
	if (r->cfg.verbose > 0 || r->warm_loads == 1 || whole)
		halog("standby: %s %s of %s: arp=%llu nat_sessions=%llu skipped=%llu ms=%llu",
		    whole ? "loaded" : "followed to", got, r->peer, (unsigned long long)n.arp,
		    (unsigned long long)n.nat, (unsigned long long)n.skipped,
		    (unsigned long long)(router_now_us() - t0 + 500) / 1000);
	return 0;
}

static void
stand_by(struct router *r, const char *peer)
{
	/* The pipeline holds primary's tables (restored at open): the base. */
	state_head(r->state, r->warm_hex);
	r->warm_loads = 0;
	r->peer_beat_ms = 0;
	r->peer_nperiod = 0;
	r->remote_ok_from_us = 0;
	/* Until the peer beats, it may be backing off from a remote that was down. */
	r->remote_outage = true;
	r->beats_after_outage = 0;
	r->peer_idle_from_us = 0;
	r->standby = true;
	snprintf(r->peer, sizeof(r->peer), "%s", peer);
	r->peer_gen = 0;
	sync_set_peer(r->sync, r->peer);
	sync_set_role(r->sync, SYNC_STANDBY);
}

int
router_ha_open(struct router *r, char *err, size_t errlen)
{
	struct sync_opts o = { 0 };
	unsigned beat = r->cfg.takeover_after_ms / 3, look;
	char other[SYNC_ID_MAX];

	if (r->cfg.sync_url[0] == '\0' || r->state == NULL)
		return 0;
	o.gitdir = r->cfg.state_dir;
	o.url = r->cfg.sync_url;
	o.router_id = r->cfg.router_id;
	o.peer = r->cfg.standby[0] != '\0' ? r->cfg.standby : NULL;
	o.beat_ms = beat < 50 ? 50 : beat;
	o.poll_ms = o.beat_ms < 50 ? o.beat_ms : 50;
	o.standby_beat_ms = r->cfg.takeover_after_ms;
	o.verbose = (unsigned)r->cfg.verbose;
	if (sync_open(&r->sync, &o, err, errlen) < 0)
		return -1;
	if (o.peer != NULL) {
		if (sync_start(r->sync, SYNC_STANDBY) < 0)
			goto nostart;
		stand_by(r, o.peer);
		halog("standby: of %s at %s, takeover after %u ms of silence", r->peer,
		    r->cfg.sync_url, r->cfg.takeover_after_ms);
		return 0;
	}
	/*
	 * Is another router active there? Look before answering for anything,
	 * for as long as a standby that just started gives a peer whose cadence
	 * it does not know: an active router whose pushes are slow beats less
	 * often than --takeover-after / 3 asks, and one missed here would find
	 * two routers answering for the same addresses.
	 */
	if (sync_start(r->sync, SYNC_STANDBY) < 0)
		goto nostart;
	look = r->cfg.takeover_after_ms > HA_UNLEARNED_MS ? r->cfg.takeover_after_ms :
	    HA_UNLEARNED_MS;
	if (!sync_wait_listed(r->sync, r->cfg.takeover_after_ms + 1000 + look, look))
		halog("the remote did not answer within %u ms: active without knowing "
		    "whether another router is", r->cfg.takeover_after_ms + 1000 + look);
	if (sync_other_active(r->sync, other, look)) {
		stand_by(r, other);
		halog("router %s is active at %s: standing by for it%s", other,
		    r->cfg.sync_url, r->cfg.preempt ? " (preempt: until loaded)" : "");
		return 0;
	}
	sync_set_role(r->sync, SYNC_ACTIVE);
	state_set_head_hook(r->state, head_moved, r->sync);
	state_head(r->state, r->active_hex);
	halog("active as %s at %s", r->cfg.router_id, r->cfg.sync_url);
	return 0;
nostart:
	snprintf(err, errlen, "sync: cannot start its threads");
	sync_close(r->sync);
	r->sync = NULL;
	return -1;
}

void
router_ha_close(struct router *r)
{
	if (r->state != NULL)
		state_set_head_hook(r->state, NULL, NULL);
	sync_close(r->sync);
	r->sync = NULL;
}

int
router_takeover(struct router *r, const char *why, char *msg, size_t len)
{
	static uint8_t arena[2048];
	struct nf_frame tx[64];
	struct nf_out out = { .tx = tx, .tx_cap = 64, .arena = arena,
	    .arena_cap = sizeof(arena) };
	uint64_t t0 = router_now_us();
	struct state_restored n;
	char subject[200], err[512];
	int conflicts = 0;
	bool fetched = r->warm_loads > 0;

	if (r->sync == NULL || !r->standby) {
		snprintf(msg, len, "takeover: %s", r->sync == NULL ?
		    "no --sync: this router has no peer" : "already active");
		return -1;
	}
	if (fetched) {
		snprintf(subject, sizeof(subject), "takeover: %s takes over from %s",
		    r->cfg.router_id, r->peer);
		if ((conflicts = state_merge_now(r->state, r->warm_hex, subject,
		    router_time(r), err, sizeof(err))) < 0)
			halog("takeover: %s (forwarding with %s's tables anyway)", err,
			    r->peer);
		else if (state_follow(r->state, r->nf, r->warm_hex, "refs/heads/primary",
		    router_time(r), &n, r->warm_hex, err, sizeof(err)) < 0) {
			/* What primary's own line changed (nothing, mostly) is applied. */
			halog("takeover: %s; loading primary whole", err);
			r->warm_hex[0] = '\0';
			if (warm_load(r, "refs/heads/primary") < 0)
				halog("takeover: forwarding with %s's tables", r->peer);
		}
	}
	r->standby = false;
	state_head(r->state, r->active_hex);	/* the writer is not running yet */
	if (router_static(r, &out) < 0)
		halog("takeover: a permanent neighbour did not go in");
	router_flush(r, &out);
	state_set_head_hook(r->state, head_moved, r->sync);
	if (state_start(r->state) < 0) {
		snprintf(msg, len, "takeover: cannot start the state writer");
		return -1;
	}
	sync_set_role(r->sync, SYNC_ACTIVE);
	sync_set_peer(r->sync, NULL);
	sync_kick(r->sync);
	r->takeovers++;
	router_announce(r);
	snprintf(msg, len, "takeover: %s active after merging %s %s (%s; %d conflicts; "
	    "%.1f ms)", r->cfg.router_id, r->peer, fetched ? r->warm_hex : "(nothing fetched)", why, conflicts, (double)(router_now_us() - t0) / 1000);
	halog("%s", msg);
	r->peer[0] = '\0';
	r->ha_next_us = router_now_us() + (uint64_t)r->cfg.takeover_after_ms * 1000;
	return 0;
}

/*
 * Active, and another router is active too: a returning router with
 * --preempt that took over from this one, or two routers that could not
 * see each other (a split network). Watch it: once its fetched primary
 * holds what this router last published, it took over from it, and this
 * router steps down to be its standby (router_main reloads as one). Two
 * histories apart (a split): the router whose ID sorts last steps down;
 * its own history is merged into the survivor's state at its next takeover,
 * and the table-aware merge settles clashes (losers under conflicts/).
 */
static void
active_turn(struct router *r)
{
	struct sync_peer p;
	char other[SYNC_ID_MAX], hex[STORE_OID_HEXSZ + 1];

	if (r->peer[0] == '\0') {
		if (sync_other_active(r->sync, other, r->cfg.takeover_after_ms)) {
			snprintf(r->peer, sizeof(r->peer), "%s", other);
			r->peer_gen = 0;
			sync_set_peer(r->sync, r->peer);
			halog("router %s is active too: fetching its state", r->peer);
		}
		return;
	}
	sync_peer_get(r->sync, &p);
	if (p.seen && (!p.active || p.silent_ms >= r->cfg.takeover_after_ms)) {
		halog("router %s is no longer active", r->peer);
		sync_set_peer(r->sync, NULL);
		r->peer[0] = '\0';
		return;
	}
	if (!p.have_head || p.head_gen == r->peer_gen)
		return;
	r->peer_gen = p.head_gen;
	store_oid_fmt(hex, &p.head);
	{
		char mine[96];

		/*
		 * What this router published since it became active (sync.c keeps
		 * it as the tracking ref; an older one says nothing: whoever
		 * took over from this router's last life holds that), or its
		 * primary now.
		 */
		char subject[200];

		snprintf(mine, sizeof(mine), "refs/remotes/sync/%s", r->cfg.router_id);
		snprintf(subject, sizeof(subject), "takeover: %s takes over from %s", r->peer,
		    r->cfg.router_id);
		if (state_contains(r->state, hex, "refs/heads/primary") ||
		    (state_contains(r->state, mine, r->active_hex) &&
		    state_contains(r->state, hex, mine)) ||
		    state_took_over(r->state, hex, subject, r->active_hex)) {
			halog("router %s took over from this router (its %s holds ours): "
			    "stepping down to stand by for it", r->peer, hex);
			r->step_down = true;
		} else if (strcmp(r->cfg.router_id, r->peer) > 0) {
			halog("router %s is active with a history apart from ours (a split "
			    "network?): %s sorts first and stays; stepping down", r->peer,
			    r->peer);
			r->step_down = true;
		} else {
			halog("router %s is active with a history apart from ours (a split "
			    "network?): this router sorts first and stays active", r->peer);
		}
	}
}


static uint64_t
silence_needed(const struct router *r)
{
	uint64_t beat = 0;
	unsigned n = r->peer_nperiod < HA_PERIODS ? r->peer_nperiod : HA_PERIODS;

	if (n < 2)
		return r->cfg.takeover_after_ms > HA_UNLEARNED_MS ? r->cfg.takeover_after_ms :
		    HA_UNLEARNED_MS;

	for (unsigned i = 0; i < n; i++)
		beat = r->peer_period[i] > beat ? r->peer_period[i] : beat;
	return beat * 2 > r->cfg.takeover_after_ms ? beat * 2 : r->cfg.takeover_after_ms;
}

void
router_ha_turn(struct router *r, uint64_t now)
{
	struct sync_peer p;
	char hex[STORE_OID_HEXSZ + 1], msg[512];

	if (r->sync == NULL || now < r->ha_next_us)
		return;
	if (!r->standby) {
		r->ha_next_us = now + 50000;
		active_turn(r);
		return;
	}
	r->ha_next_us = now + 5000;
	sync_peer_get(r->sync, &p);
	/*
	 * The peer's heartbeat period, from the times its beats carry (its
	 * clock, differences only), the last HA_PERIODS of them: a peer whose
	 * pushes take longer than --takeover-after allows is given twice the
	 * longest (silence_needed), not taken over between two beats.
	 */
	if (p.seen && p.beat_unix_ms != r->peer_beat_ms) {
		if (r->peer_beat_ms != 0 && p.beat_unix_ms > r->peer_beat_ms &&
		    p.beat_unix_ms - r->peer_beat_ms < 60000) {
			r->peer_period[r->peer_nperiod++ % HA_PERIODS] =
			    p.beat_unix_ms - r->peer_beat_ms;
		}
		r->peer_beat_ms = p.beat_unix_ms;
		/*
		 * It beats: the outage is over once it has beaten twice (a
		 * single beat may be followed by its backoff again while the
		 * remote comes back unevenly).
		 */
		if (r->remote_outage && ++r->beats_after_outage >= 2)
			r->remote_outage = false;
	}
	if (p.have_head && p.head_gen != r->peer_gen) {
		r->peer_gen = p.head_gen;
		warm_load(r, store_oid_fmt(hex, &p.head));
		/* Each fetch lands as a pack; the writer that bounds them is idle. */
		if (state_packs_check(r->state) < 0)
			halog("standby: packs: %s", store_strerror());
	}
	/*
	 * A silent peer behind a silent remote may be alive: neither can tell,
	 * so nothing is done until the remote has answered for a whole
	 * takeover time (a peer alive meanwhile beats again within it).
	 */
	{
		uint64_t down_ms = r->cfg.takeover_after_ms / 2 > 200 ?
		    r->cfg.takeover_after_ms / 2 : 200;

		if (p.remote_silent_ms > down_ms) {
			/* Down after it answered: the peer's pushes back off too. */
			if (r->remote_ok_from_us != 0) {
				r->remote_outage = true;
				r->beats_after_outage = 0;
			}
			r->remote_ok_from_us = 0;
		} else if (r->remote_ok_from_us == 0) {
			r->remote_ok_from_us = now;
		}
	}
	/*
	 * After an outage of the remote the peer retries with a backoff of up
	 * to SYNC_RETRY_MAX_MS: it is given that long to beat again once the
	 * remote answers (a beat seen ends the wait).
	 */
	{
		uint64_t need = silence_needed(r);
		bool remote_ok = r->remote_ok_from_us != 0 && now - r->remote_ok_from_us >=
		    (need + (r->remote_outage ? SYNC_RETRY_MAX_MS : 0)) * 1000;
		char why[96];

		/* The peer itself standing by (both stepped down at once): since when. */
		if (!p.seen || p.active)
			r->peer_idle_from_us = 0;
		else if (r->peer_idle_from_us == 0)
			r->peer_idle_from_us = now;
		/* Silent as the remote last showed it, not merely unheard. */
		if (p.seen && p.active && p.listed_silent_ms >= need && remote_ok) {
			snprintf(why, sizeof(why), "%s silent for %llu ms, %llu needed", r->peer,
			    (unsigned long long)p.listed_silent_ms, (unsigned long long)need);
			router_takeover(r, why, msg, sizeof(msg));
			return;
		}
		/*
		 * Nobody active: the peer stands by too, and no other router
		 * beats as active. Both may take over at once; the two active
		 * routers then settle it (active_turn: the ID that sorts last
		 * steps down).
		 */
		if (r->peer_idle_from_us != 0 && remote_ok &&
		    now - r->peer_idle_from_us >= need * 1000 &&
		    !sync_other_active(r->sync, NULL, need)) {
			router_takeover(r, "no router is active", msg, sizeof(msg));
			return;
		}
	}
	if (r->cfg.preempt && r->cfg.standby[0] == '\0' && r->warm_loads > 0) {
		router_takeover(r, "preempt", msg, sizeof(msg));
	}
}

void
router_report_sync(const struct router *r, int fd)
{
	struct sync_stats s = { 0 };
	struct sync_peer p = { 0 };

	if (r->sync == NULL)
		return;
	sync_get_stats(r->sync, &s);
	sync_peer_get(r->sync, &p);
	dprintf(fd, "sync_role %s\nsync_pushes %llu\nsync_push_errors %llu\n"
	    "sync_beats %llu\nsync_fetches %llu\nsync_errors %llu\nsync_lag_ms %llu\n"
	    "sync_lag_p99_ms %llu\nsync_bytes_sent %llu\nsync_bytes_fetched %llu\n"
	    "sync_takeovers %llu\nsync_peer_silent_ms %llu\nsync_warm_loads %llu\n",
	    r->standby ? "standby" : "active", (unsigned long long)s.pushes,
	    (unsigned long long)s.push_errors, (unsigned long long)s.beats,
	    (unsigned long long)s.fetches, (unsigned long long)s.sync_errors,
	    (unsigned long long)s.lag_ms, (unsigned long long)s.lag_p99_ms,
	    (unsigned long long)s.bytes_sent, (unsigned long long)s.bytes_fetched,
	    (unsigned long long)r->takeovers,
	    (unsigned long long)(r->standby && p.seen ? p.silent_ms : 0),
	    (unsigned long long)r->warm_loads);
}

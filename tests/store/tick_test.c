/* SPDX-License-Identifier: ISC */
/*
 * Expiry ticks: the fast tick merge (store/tick.c) against the generic
 * three-way merge, and the expiry heap (store/journal.c) against a walk of
 * the index.
 *
 * The reference for a tick's merge is computed in the same store, on the
 * same inputs, just before store_tick_finish(): store_merge_edits() of the
 * fork tree, head and the tick's tree, applied to head by
 * store_tree_apply() (what store_merge_into_head() commits). Same process,
 * same objects, nothing replayed: any difference is the fast path's. The
 * tests read the store's internals (store/internal.h) for that, for the
 * merge counters and for the index and heap.
 *
 * Every repository a test writes passes `git fsck --strict`.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/internal.h"

#define FX_NAME "tick_test"
#include "tests/store/fixture.h"

#define T0	1429688300000000ULL	/* 2015-04-22, the seed history's day */
#define SEC	1000000ULL


/* A commit, or none when the changes left the tree as it was. */
static void
commit_ok(struct store *st, uint64_t now)
{
	int error = store_commit(st, now, NULL);

	if (error < 0)
		fail_msg("store_commit: %d %s", error, store_strerror());
}

static void
record_ok(struct store *st, uint8_t op, const struct store_entry *e, uint64_t now)
{
	struct store_change c;

	memset(&c, 0, sizeof(c));
	c.op = op;
	c.now_us = now;
	c.e = *e;
	if (store_record(st, &c) != 0)
		fail_msg("store_record: %s", store_strerror());
}

/*
 * The tables of the randomized test: ARP neighbours in three /24s, NAT
 * mappings of both protocols in four, every mapping on its own external
 * port (no clash unless a test makes one). Slot s < NARP is ARP neighbour
 * s, the others NAT mapping s - NARP.
 */
#define NARP	48
#define NNAT	96
#define NSLOT	(NARP + NNAT)

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static struct store_entry
arp_ent(unsigned i, uint64_t now, uint64_t expires, unsigned variant)
{
	struct store_entry e;

	memset(&e, 0, sizeof(e));
	e.table = EV_TABLE_ARP;
	e.arp.ip = 0x0a000000 | (i % 3) << 8 | (i / 3 + 2);	/* 10.0.{0,1,2}.x */
	e.arp.mac[0] = 0x02;
	e.arp.mac[4] = (uint8_t)i;
	e.arp.mac[5] = (uint8_t)variant;
	e.arp.state = variant % 2 ? ARP_STALE : ARP_REACHABLE;
	e.arp.ifidx = (uint8_t)(variant / 2 % 2);
	e.arp.updated_us = now;
	e.arp.expires_us = expires;
	return e;
}

static struct store_entry
nat_ent(unsigned i, uint64_t now, uint64_t expires, unsigned variant)
{
	struct store_entry e;

	memset(&e, 0, sizeof(e));
	e.table = EV_TABLE_NAT;
	e.nat.proto = i % 2 ? IPPROTO_UDP : IPPROTO_TCP;
	e.nat.in_ip = 0xc0a80000 | (i % 4) << 8 | (i / 4 % 6 + 2);
	e.nat.in_port = (uint16_t)(1000 + i);
	e.nat.ext_ip = 0xcb007101;
	e.nat.ext_port = (uint16_t)(20000 + i);
	e.nat.nremote = (uint8_t)(variant % 3);
	for (unsigned r = 0; r < e.nat.nremote; r++) {
		e.nat.remote[r].ip = 0xc6336400 | (variant + r) % 200;
		e.nat.remote[r].port = (uint16_t)(443 + r);
		e.nat.remote[r].state = STORE_NAT_ESTABLISHED;
	}
	e.nat.created_us = T0;
	e.nat.expires_us = expires;
	(void)now;
	return e;
}

static struct store_entry
slot_ent(unsigned s, uint64_t now, uint64_t expires, unsigned variant)
{
	return s < NARP ? arp_ent(s, now, expires, variant) :
	    nat_ent(s - NARP, now, expires, variant);
}

static unsigned
slot_of(const struct store_entry *e)
{
	if (e->table == EV_TABLE_ARP)
		return (e->arp.ip >> 8 & 0xff) + 3 * ((e->arp.ip & 0xff) - 2);
	return NARP + e->nat.in_port - 1000u;
}

static uint64_t
key_of(const struct store_entry *e)
{
	return store_table_by_id(e->table)->key(e);
}

static uint64_t
exp_of(const struct store_entry *e)
{
	return store_table_by_id(e->table)->expires(e);
}

/* What primary holds, slot by slot. */
struct model {
	bool		have[NSLOT];
	struct store_entry e[NSLOT];
};

static int
model_add(void *ctx, const struct store_entry *e)
{
	struct model *m = ctx;
	unsigned s = slot_of(e);

	assert_true(s < NSLOT);
	m->have[s] = true;
	m->e[s] = *e;
	return 0;
}

static void
model_load(struct store *st, struct model *m)
{
	memset(m, 0, sizeof(*m));
	assert_int_equal(store_load(store_reader_of(st), NULL, model_add, m), 0);
}

static void
change(struct store *st, struct model *m, uint8_t op, const struct store_entry *e,
    uint64_t now)
{
	unsigned s = slot_of(e);

	record_ok(st, op, e, now);
	m->have[s] = op != EV_REMOVE;
	if (op != EV_REMOVE)
		m->e[s] = *e;
}

/* One random change at now: adds, refreshes, identical updates, removals. */
static void
random_change(struct store *st, struct model *m, uint64_t now)
{
	unsigned s = (unsigned)(rnd() % NSLOT), v = (unsigned)(rnd() % 8);
	/* A quarter already expired, the rest within 30 s. */
	uint64_t exp = now - 10 * SEC + rnd() % 40 * SEC;
	struct store_entry e;

	if (!m->have[s]) {
		e = slot_ent(s, now, exp, v);
		change(st, m, rnd() % 8 == 0 ? EV_REMOVE : EV_ADD, &e, now);
		return;
	}
	switch (rnd() % 5) {
	case 0:
		change(st, m, EV_REMOVE, &m->e[s], now);
		break;
	case 1:
		e = m->e[s];			/* the same bytes again */
		change(st, m, EV_UPDATE, &e, now);
		break;
	case 2:
		e = m->e[s];			/* another value, same expiry */
		e = slot_ent(s, now, exp_of(&e), v);
		change(st, m, EV_UPDATE, &e, now);
		break;
	default:
		e = slot_ent(s, now, exp, v);
		change(st, m, EV_UPDATE, &e, now);
		break;
	}
}

static int
u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The keys a walk of the index finds expired at now, sorted. */
static size_t
naive_expired(const struct xidx *x, uint64_t now, uint64_t *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < x->cap; i++)
		if (x->key[i] != 0 && x->exp[i] <= now) {
			assert_true(n < max);
			out[n++] = x->key[i];
		}
	qsort(out, n, sizeof(*out), u64_cmp);
	return n;
}

/* The generic merge of the pending tick: the tree it would commit. */
static int
generic_tree(git_oid *out, struct store *st)
{
	struct store_edits es = { 0 };
	struct sbuf msg = { 0 };
	int conflicts;

	conflicts = store_merge_edits(&es, st, &st->tick_base_tree, &st->head_tree,
	    &st->tick_tree, &msg);
	if (conflicts < 0)
		fail_msg("store_merge_edits: %s", store_strerror());
	assert_int_equal(store_tree_apply(out, st->odb, &st->head_tree, &es), 0);
	store_edits_free(&es);
	store_sbuf_free(&msg);
	return conflicts;
}

static void
assert_oid_equal(const git_oid *a, const git_oid *b)
{
	char ha[GIT_OID_HEXSZ + 1], hb[GIT_OID_HEXSZ + 1];

	if (!git_oid_equal(a, b))
		fail_msg("tree %s, want %s", git_oid_tostr(ha, sizeof(ha), a),
		    git_oid_tostr(hb, sizeof(hb), b));
}

/* The index is what head holds, and every indexed expiry is on the heap. */
static void
assert_index(struct store *st, const struct model *m)
{
	const struct xidx *x = &st->xi;
	struct xheap_item *h;
	size_t n = 0;

	for (unsigned s = 0; s < NSLOT; s++) {
		uint64_t exp;

		if (!m->have[s] || exp_of(&m->e[s]) == 0)
			continue;
		n++;
		assert_true(store_xidx_get(x, key_of(&m->e[s]), &exp));
		assert_int_equal(exp, exp_of(&m->e[s]));
	}
	assert_int_equal(x->n, n);
	if (x->heap == NULL)
		return;			/* rebuilt from the index at the next tick */
	assert_true(x->hn <= x->hcap);
	h = malloc((x->hn + 1) * sizeof(*h));
	memcpy(h, x->heap, x->hn * sizeof(*h));
	for (size_t i = 1; i < x->hn; i++)	/* and it is a heap */
		assert_true(h[(i - 1) / 2].exp <= h[i].exp);
	for (size_t i = 0; i < x->cap; i++) {
		bool found = false;

		if (x->key[i] == 0)
			continue;
		for (size_t k = 0; k < x->hn && !found; k++)
			found = h[k].key == x->key[i] && h[k].exp == x->exp[i];
		if (!found)
			fail_msg("key %llx (expires %llu) not on the heap",
			    (unsigned long long)x->key[i], (unsigned long long)x->exp[i]);
	}
	free(h);
}

/* The head commit is the tick's merge: two parents, the generic message. */
static void
assert_merge_commit(struct store *st, const git_oid *prev, const git_oid *tick,
    uint64_t tick_now)
{
	git_commit *c;
	char want[128], t[24];

	assert_int_equal(git_commit_lookup(&c, store_repo(st), store_goid(store_head(st))), 0);
	assert_int_equal(git_commit_parentcount(c), 2);
	assert_true(git_oid_equal(git_commit_parent_id(c, 0), prev));
	assert_true(git_oid_equal(git_commit_parent_id(c, 1), tick));
	snprintf(want, sizeof(want), "tick: merge expire_%s\n\nTick-Time: %s\n",
	    store_time_fmt(t, tick_now), t);
	assert_string_equal(git_commit_message(c), want);
	git_commit_free(c);
}

/*
 * Many rounds: random ARP and NAT changes; a tick (its keys checked
 * against a walk of the index); more changes on primary, many of them to
 * what the tick removed (refreshes, the fork's bytes again, removals,
 * re-adds of the fork's entry, new values with the old expiry); then the
 * merge, which must take the fast way and give the generic merge's tree.
 */
static void
store_tick_finish__fast_merge_equals_generic(void **state)
{
	struct fx *f = *state;
	struct store_opts o;
	struct store *st;
	struct model m, fork;
	uint64_t naive[NSLOT];
	unsigned ticks = 0, kept = 0, touched_removed = 0, untouched_removed = 0;

	rng = 0x2545f4914f6cdd1dULL;
	opts(&o);
	st = open_ok(f->repo, &o);
	model_load(st, &m);
	for (unsigned round = 0; round < 160; round++) {
		uint64_t t = T0 + round * 10 * SEC, tt = t + SEC;
		bool touched[NSLOT] = { false };
		git_oid want, prev, tick;
		unsigned na, nn;
		size_t nn_naive;
		int r;

		for (unsigned k = 5 + (unsigned)(rnd() % 20); k > 0; k--)
			random_change(st, &m, t);
		commit_ok(st, t);
		if (round % 3 == 0)
			assert_int_equal(store_flush(st), 0);	/* the fork from a pack */
		nn_naive = naive_expired(&st->xi, tt, naive, NSLOT);
		fork = m;
		r = store_tick_begin(st, tt, &na, &nn);
		if (nn_naive == 0) {
			assert_int_equal(r, 1);
			continue;
		}
		assert_int_equal(r, 0);
		assert_int_equal(st->tick_n, nn_naive);
		assert_memory_equal(st->tick_keys, naive, nn_naive * sizeof(*naive));
		assert_int_equal(na + nn, nn_naive);
		git_oid_cpy(&tick, &st->tick_commit);

		/* Primary goes on, in one to three commits. */
		for (unsigned c = 1 + (unsigned)(rnd() % 3); c > 0; c--) {
			uint64_t now = tt + c * 100000;

			for (unsigned k = (unsigned)(rnd() % 10); k > 0; k--) {
				unsigned s, v = (unsigned)(rnd() % 8);
				struct store_entry e;
				uint64_t key;

				if (rnd() % 3 == 0) {
					random_change(st, &m, now);
					continue;
				}
				/* One of the tick's keys. */
				key = st->tick_keys[rnd() % st->tick_n];
				for (s = 0; s < NSLOT; s++)
					if (fork.have[s] && key_of(&fork.e[s]) == key)
						break;
				assert_true(s < NSLOT);
				touched[s] = true;
				switch (rnd() % 6) {
				case 0:		/* refreshed */
					e = slot_ent(s, now, now + 60 * SEC, v);
					change(st, &m, EV_UPDATE, &e, now);
					break;
				case 1:		/* the fork's bytes again */
					change(st, &m, EV_UPDATE, &fork.e[s], now);
					break;
				case 2:		/* removed */
					change(st, &m, EV_REMOVE, &fork.e[s], now);
					break;
				case 3:		/* re-added as it was, or removed first */
					change(st, &m, m.have[s] ? EV_REMOVE : EV_ADD,
					    &fork.e[s], now);
					break;
				case 4:		/* another value, still expired */
					e = slot_ent(s, now, exp_of(&fork.e[s]), v + 1);
					change(st, &m, EV_UPDATE, &e, now);
					break;
				default:	/* refreshed, then the fork's bytes */
					e = slot_ent(s, now, now + 60 * SEC, v);
					change(st, &m, EV_UPDATE, &e, now);
					commit_ok(st, now);
					change(st, &m, EV_UPDATE, &fork.e[s], now);
					break;
				}
			}
			commit_ok(st, now);
		}

		generic_tree(&want, st);
		git_oid_cpy(&prev, store_goid(store_head(st)));
		assert_int_equal(store_tick_finish(st, tt + SEC), 0);
		assert_int_equal(st->tick_nfast, ++ticks);
		assert_int_equal(st->tick_nslow, 0);
		assert_oid_equal(&st->head_tree, &want);
		assert_merge_commit(st, &prev, &tick, tt);
		model_load(st, &m);
		assert_index(st, &m);
		for (unsigned s = 0; s < NSLOT; s++) {
			if (!fork.have[s] || exp_of(&fork.e[s]) > tt)
				continue;		/* not the tick's */
			if (m.have[s])
				kept++;
			else if (touched[s])
				touched_removed++;
			else
				untouched_removed++;
		}
	}
	/* Every rule was exercised. */
	assert_true(ticks > 100);
	assert_true(kept > 20);
	assert_true(touched_removed > 20);
	assert_true(untouched_removed > 100);
	assert_int_equal(store_close(st), 0);
	assert_fsck(f->repo);
}

static const char *
show(struct fx *f, const char *path)
{
	return sh("git --git-dir=%s show primary:%s", f->repo, path);
}

static const char *
text(struct store_entry e)
{
	static char buf[512];
	int n = store_entry_encode(buf, sizeof(buf) - 1, &e, ifnames, 2);

	assert_true(n > 0);
	buf[n] = '\0';
	return buf;
}

/*
 * A branch merged into primary while a tick is pending (it refreshes one
 * of the tick's neighbours, adds one, unmaps a mapping): the merge's keys
 * are noted like a commit's, the tick's merge still goes the fast way and
 * gives the generic tree, with the branch's refresh surviving.
 */
static void
store_merge__while_tick_pending(void **state)
{
	struct fx *f = *state;
	struct store_opts o;
	struct store *st;
	struct store_entry e;
	struct their v[3];
	git_oid base, want;
	unsigned na, nn;

	opts(&o);
	st = open_ok(f->repo, &o);
	for (unsigned i = 0; i < 5; i++) {
		e = arp_ent(i, T0, T0 + 10 * SEC, 0);
		record_ok(st, EV_ADD, &e, T0);
	}
	for (unsigned i = 0; i < 3; i++) {
		e = nat_ent(i, T0, T0 + 3600 * SEC, 0);
		record_ok(st, EV_ADD, &e, T0);
	}
	commit_ok(st, T0);
	assert_int_equal(store_flush(st), 0);
	git_oid_cpy(&base, store_goid(store_head(st)));
	memset(v, 0, sizeof(v));
	v[0].e = arp_ent(0, T0 + 15 * SEC, T0 + 300 * SEC, 1);	/* refresh */
	v[1].e = arp_ent(5, T0 + 15 * SEC, T0 + 300 * SEC, 0);	/* new */
	v[2].e = nat_ent(1, T0, T0 + 3600 * SEC, 0);		/* unmapped */
	v[2].remove = true;
	fx_branch(st, "refs/heads/other", &base, v, 3, T0 + 15 * SEC, ifnames, 2);

	assert_int_equal(store_tick_begin(st, T0 + 20 * SEC, &na, &nn), 0);
	assert_int_equal(na, 5);
	assert_int_equal(nn, 0);
	e = arp_ent(1, T0 + 20 * SEC, T0 + 400 * SEC, 2);		/* refresh */
	record_ok(st, EV_UPDATE, &e, T0 + 20 * SEC);
	commit_ok(st, T0 + 20 * SEC);
	assert_int_equal(store_merge(st, "other", T0 + 21 * SEC), 0);
	e = arp_ent(2, T0, T0 + 10 * SEC, 0);
	record_ok(st, EV_REMOVE, &e, T0 + 22 * SEC);
	commit_ok(st, T0 + 22 * SEC);

	generic_tree(&want, st);
	assert_int_equal(store_tick_finish(st, T0 + 23 * SEC), 0);
	assert_int_equal(st->tick_nfast, 1);
	assert_int_equal(st->tick_nslow, 0);
	assert_oid_equal(&st->head_tree, &want);
	assert_int_equal(store_close(st), 0);
	assert_string_equal(sh("git --git-dir=%s ls-tree -r --name-only primary | "
	    "grep -v ^meta/", f->repo),
	    "arp/10.0.0/2\narp/10.0.1/2\narp/10.0.2/3\n"
	    "nat/tcp/192.168.0/2/1000\nnat/tcp/192.168.2/2/1002\n");
	assert_string_equal(show(f, "arp/10.0.0/2"), text(v[0].e));
	assert_string_equal(show(f, "arp/10.0.2/3"), text(v[1].e));
	assert_string_equal(show(f, "arp/10.0.1/2"), text(e = arp_ent(1,
	    T0 + 20 * SEC, T0 + 400 * SEC, 2)));
	assert_fsck(f->repo);
}

/*
 * Two mappings changed on primary onto one external port while a NAT tick
 * is pending: the generic merge records that clash, so the tick's merge
 * takes the generic way, conflict and all. A port reused after an unmap
 * is no clash.
 */
static void
store_tick_finish__unique_clash_goes_generic(void **state)
{
	struct fx *f = *state;
	struct store_opts o;
	struct store *st;
	struct store_entry e;
	git_oid want;
	unsigned na, nn;

	opts(&o);
	st = open_ok(f->repo, &o);
	e = nat_ent(0, T0, T0 + 10 * SEC, 0);
	record_ok(st, EV_ADD, &e, T0);
	for (unsigned i = 2; i <= 4; i += 2) {		/* tcp, as 0 */
		e = nat_ent(i, T0, T0 + 3600 * SEC, 0);
		record_ok(st, EV_ADD, &e, T0);
	}
	commit_ok(st, T0);
	assert_int_equal(store_tick_begin(st, T0 + 20 * SEC, &na, &nn), 0);
	assert_int_equal(nn, 1);
	for (unsigned i = 2; i <= 4; i += 2) {
		e = nat_ent(i, T0, T0 + 3600 * SEC, 1);
		e.nat.ext_port = 30000;
		e.nat.created_us = T0 + i;		/* 2 is older: it stays */
		record_ok(st, EV_UPDATE, &e, T0 + 21 * SEC);
	}
	commit_ok(st, T0 + 21 * SEC);
	assert_int_equal(generic_tree(&want, st), 1);
	assert_int_equal(store_tick_finish(st, T0 + 22 * SEC), 0);
	assert_oid_equal(&st->head_tree, &want);
	assert_int_equal(st->tick_nfast, 0);
	assert_int_equal(st->tick_nslow, 1);
	assert_int_equal(store_flush(st), 0);
	assert_string_equal(sh("git --git-dir=%s ls-tree -r --name-only primary | "
	    "grep -v ^meta/", f->repo),
	    "conflicts/nat/tcp/192.168.0/3/1004\nnat/tcp/192.168.2/2/1002\n");

	/*
	 * A port unmapped and mapped again to another endpoint meanwhile is
	 * no clash (the removal is noted as one): fast.
	 */
	e = nat_ent(6, T0, T0 + 30 * SEC, 0);
	record_ok(st, EV_ADD, &e, T0 + 23 * SEC);
	commit_ok(st, T0 + 23 * SEC);
	assert_int_equal(store_tick_begin(st, T0 + 40 * SEC, &na, &nn), 0);
	assert_int_equal(nn, 1);
	e = nat_ent(2, T0, T0 + 3600 * SEC, 1);
	e.nat.ext_port = 30000;
	record_ok(st, EV_REMOVE, &e, T0 + 41 * SEC);
	e = nat_ent(8, T0 + 41 * SEC, T0 + 3600 * SEC, 1);
	e.nat.ext_port = 30000;
	record_ok(st, EV_ADD, &e, T0 + 41 * SEC);
	commit_ok(st, T0 + 41 * SEC);
	assert_int_equal(generic_tree(&want, st), 0);
	assert_int_equal(store_tick_finish(st, T0 + 42 * SEC), 0);
	assert_oid_equal(&st->head_tree, &want);
	assert_int_equal(st->tick_nfast, 1);
	assert_int_equal(st->tick_nslow, 1);
	assert_int_equal(store_close(st), 0);
	assert_string_equal(sh("git --git-dir=%s ls-tree -r --name-only primary | "
	    "grep -v ^meta/", f->repo),
	    "conflicts/nat/tcp/192.168.0/3/1004\nnat/tcp/192.168.0/4/1008\n");
	assert_fsck(f->repo);
}

/*
 * Move head to a commit of entry e (and a new meta/router) the way repo.c's
 * bookkeeping commits do: nothing noted, the index not told.
 */
static void
unnoted_commit(struct store *st, const struct store_entry *e, uint64_t now)
{
	struct store_edits es = { 0 };
	const git_oid *parents[1] = { &st->head };
	char path[64], info[32];
	git_oid blob, tree, id;
	int n;

	n = snprintf(info, sizeof(info), "id r1\nat %llu\n", (unsigned long long)now);
	assert_int_equal(store_odb_put(&blob, st->odb, GIT_OBJECT_BLOB, info, (size_t)n), 0);
	assert_non_null(store_edits_add(&es, "meta/router", GIT_FILEMODE_BLOB, &blob));
	store_entry_path(path, sizeof(path), e);
	assert_int_equal(store_odb_put(&blob, st->odb, GIT_OBJECT_BLOB, text(*e),
	    strlen(text(*e))), 0);
	assert_non_null(store_edits_add(&es, path, GIT_FILEMODE_BLOB, &blob));
	assert_int_equal(store_tree_apply(&tree, st->odb, &st->head_tree, &es), 0);
	assert_int_equal(store_commit_tree(&id, st, &tree, parents, 1, "meta\n", now), 0);
	git_oid_cpy(&st->head, &id);
	git_oid_cpy(&st->head_tree, &tree);
	store_edits_free(&es);
}

/* Begin a tick that must take what a walk of the index finds: how many. */
static size_t
begin_ok(struct store *st, uint64_t now)
{
	uint64_t naive[NSLOT];
	size_t n = naive_expired(&st->xi, now, naive, NSLOT);

	assert_int_equal(store_tick_begin(st, now, NULL, NULL), n == 0 ? 1 : 0);
	if (n > 0) {
		assert_int_equal(st->tick_n, n);
		assert_memory_equal(st->tick_keys, naive, n * sizeof(*naive));
	}
	return n;
}

/*
 * Head moved while a tick was pending by a way that notes nothing (as
 * repo.c's bookkeeping commits do, which only run at open): the merge
 * must not trust the notes (the fast way would remove the entry changed
 * there) and goes the generic way, whether the gap is last (head is not
 * the noted head) or a noted commit follows it (that commit's parent is
 * not). The entries changed there keep their expiry, so the index stays
 * right, and the tick's keys they kept are due at the next tick (the
 * heap has them back, as a walk of the index finds them).
 */
static void
store_tick_finish__unnoted_head_move_goes_generic(void **state)
{
	struct fx *f = *state;
	struct store_opts o;
	struct store *st;
	struct store_entry e;
	git_oid want;

	opts(&o);
	st = open_ok(f->repo, &o);
	for (unsigned i = 0; i < 6; i++) {
		e = arp_ent(i, T0, i < 3 ? T0 + 10 * SEC : T0 + 30 * SEC, 0);
		record_ok(st, EV_ADD, &e, T0);
	}
	commit_ok(st, T0);

	/* The gap last. */
	assert_int_equal(begin_ok(st, T0 + 20 * SEC), 3);
	e = arp_ent(0, T0 + 20 * SEC, T0 + 90 * SEC, 3);
	record_ok(st, EV_UPDATE, &e, T0 + 20 * SEC);
	commit_ok(st, T0 + 20 * SEC);
	e = arp_ent(1, T0 + 21 * SEC, T0 + 10 * SEC, 4);
	unnoted_commit(st, &e, T0 + 21 * SEC);
	generic_tree(&want, st);
	assert_int_equal(store_tick_finish(st, T0 + 22 * SEC), 0);
	assert_oid_equal(&st->head_tree, &want);
	assert_int_equal(st->tick_nfast, 0);
	assert_int_equal(st->tick_nslow, 1);
	assert_int_equal(store_flush(st), 0);
	assert_string_equal(sh("git --git-dir=%s ls-tree -r --name-only primary:arp",
	    f->repo), "10.0.0/2\n10.0.0/3\n10.0.1/2\n10.0.1/3\n10.0.2/3\n");

	/* A noted commit after the gap. */
	assert_int_equal(begin_ok(st, T0 + 40 * SEC), 4);	/* 10.0.1.2 again */
	e = arp_ent(4, T0 + 41 * SEC, T0 + 30 * SEC, 4);
	unnoted_commit(st, &e, T0 + 41 * SEC);
	e = arp_ent(5, T0 + 42 * SEC, T0 + 90 * SEC, 5);
	record_ok(st, EV_UPDATE, &e, T0 + 42 * SEC);
	commit_ok(st, T0 + 42 * SEC);
	generic_tree(&want, st);
	assert_int_equal(store_tick_finish(st, T0 + 43 * SEC), 0);
	assert_oid_equal(&st->head_tree, &want);
	assert_int_equal(st->tick_nfast, 0);
	assert_int_equal(st->tick_nslow, 2);

	/* And the next tick, with nothing unnoted, is fast again. */
	assert_int_equal(begin_ok(st, T0 + 50 * SEC), 1);	/* 10.0.1.3 */
	assert_int_equal(store_tick_finish(st, T0 + 51 * SEC), 0);
	assert_int_equal(st->tick_nfast, 1);
	assert_int_equal(begin_ok(st, T0 + 60 * SEC), 0);
	assert_int_equal(store_close(st), 0);
	assert_string_equal(sh("git --git-dir=%s ls-tree -r --name-only primary:arp",
	    f->repo), "10.0.0/2\n10.0.2/3\n");
	assert_fsck(f->repo);
}

/*
 * Through the store: a key refreshed later is not aged out at its old
 * time; one removed is not aged out; a tick's entries are not aged out a
 * second time; one that primary changed but left expired is, by the next
 * tick.
 */
static void
store_tick_begin__heap_follows_refresh_and_removal(void **state)
{
	struct fx *f = *state;
	struct store_opts o;
	struct store *st;
	struct store_entry e;
	unsigned na, nn;

	opts(&o);
	st = open_ok(f->repo, &o);
	for (unsigned i = 0; i < 4; i++) {
		e = arp_ent(i, T0, T0 + 10 * SEC, 0);
		record_ok(st, EV_ADD, &e, T0);
	}
	commit_ok(st, T0);
	assert_int_equal(store_tick_begin(st, T0 + 5 * SEC, &na, &nn), 1);
	e = arp_ent(0, T0 + 6 * SEC, T0 + 100 * SEC, 0);	/* refreshed */
	record_ok(st, EV_UPDATE, &e, T0 + 6 * SEC);
	e = arp_ent(1, T0, T0 + 10 * SEC, 0);			/* removed */
	record_ok(st, EV_REMOVE, &e, T0 + 6 * SEC);
	commit_ok(st, T0 + 6 * SEC);
	assert_int_equal(store_tick_begin(st, T0 + 20 * SEC, &na, &nn), 0);
	assert_int_equal(na, 2);				/* 10.0.2.2, 10.0.0.3 */
	assert_int_equal(st->tick_keys[0], key_of(&(struct store_entry){
	    .table = EV_TABLE_ARP, .arp.ip = 0x0a000003 }));
	assert_int_equal(st->tick_keys[1], key_of(&(struct store_entry){
	    .table = EV_TABLE_ARP, .arp.ip = 0x0a000202 }));
	/* 10.0.0.3 gets another MAC meanwhile, expiry unchanged: ours stands. */
	e = arp_ent(3, T0 + 21 * SEC, T0 + 10 * SEC, 7);
	record_ok(st, EV_UPDATE, &e, T0 + 21 * SEC);
	commit_ok(st, T0 + 21 * SEC);
	assert_int_equal(store_tick_finish(st, T0 + 22 * SEC), 0);
	assert_int_equal(st->xi.n, 2);
	/* The next tick takes 10.0.0.3 (still expired), not 10.0.2.2 again. */
	assert_int_equal(store_tick_begin(st, T0 + 30 * SEC, &na, &nn), 0);
	assert_int_equal(na, 1);
	assert_int_equal(st->tick_keys[0], key_of(&e));
	assert_int_equal(store_tick_finish(st, T0 + 31 * SEC), 0);
	assert_int_equal(store_tick_begin(st, T0 + 40 * SEC, &na, &nn), 1);
	assert_int_equal(store_tick_begin(st, T0 + 100 * SEC, &na, &nn), 0);
	assert_int_equal(na, 1);
	assert_int_equal(store_tick_finish(st, T0 + 101 * SEC), 0);
	assert_int_equal(st->xi.n, 0);
	assert_int_equal(store_close(st), 0);
	assert_string_equal(sh("git --git-dir=%s ls-tree -r --name-only primary | "
	    "grep -v ^meta/ | wc -l", f->repo), "0\n");
	assert_fsck(f->repo);
}

static int
count_loaded(void *ctx, const struct store_entry *e)
{
	(void)e;
	(*(unsigned *)ctx)++;
	return 0;
}

/*
 * A reopened store builds its expiry index from primary's tables once: by
 * the restore's walk (store_load of primary through its own reader), or,
 * with no such walk, by whatever needs the index first (a tick, a
 * commit). Either way the next tick expires what it must, and a commit
 * before the build neither loses nor resurrects an expiry.
 */
static void
store_open__expiry_index_built_by_the_first_walk(void **state)
{
	struct fx *f = *state;
	struct store_opts o;
	struct store *st;
	struct store_entry e;
	unsigned na, nn, loaded = 0;

	opts(&o);
	st = open_ok(f->repo, &o);
	for (unsigned i = 0; i < 6; i++) {
		e = arp_ent(i, T0, T0 + (i < 3 ? 10 : 100) * SEC, 0);
		record_ok(st, EV_ADD, &e, T0);
	}
	commit_ok(st, T0);
	assert_int_equal(store_close(st), 0);

	/* The restore's walk builds it; a second walk does not. */
	st = open_ok(f->repo, &o);
	assert_true(st->xi_pending);
	assert_int_equal(st->xi.n, 0);
	assert_int_equal(store_load(store_reader_of(st), NULL, count_loaded, &loaded), 0);
	assert_int_equal(loaded, 6);
	assert_false(st->xi_pending);
	assert_int_equal(st->xi.n, 6);
	assert_int_equal(store_tick_begin(st, T0 + 20 * SEC, &na, &nn), 0);
	assert_int_equal(na, 3);
	assert_int_equal(store_tick_finish(st, T0 + 21 * SEC), 0);
	assert_int_equal(store_close(st), 0);

	/* No walk: the first commit builds it, then applies its own change. */
	st = open_ok(f->repo, &o);
	assert_true(st->xi_pending);
	e = arp_ent(3, T0 + 30 * SEC, T0 + 40 * SEC, 0);	/* sooner than 100 s */
	record_ok(st, EV_UPDATE, &e, T0 + 30 * SEC);
	e = arp_ent(4, T0, T0 + 100 * SEC, 0);
	record_ok(st, EV_REMOVE, &e, T0 + 30 * SEC);
	commit_ok(st, T0 + 30 * SEC);
	assert_false(st->xi_pending);
	assert_int_equal(st->xi.n, 2);
	assert_int_equal(store_tick_begin(st, T0 + 50 * SEC, &na, &nn), 0);
	assert_int_equal(na, 1);
	assert_int_equal(st->tick_keys[0], key_of(&(struct store_entry){
	    .table = EV_TABLE_ARP, .arp.ip = arp_ent(3, T0, 0, 0).arp.ip }));
	assert_int_equal(store_tick_finish(st, T0 + 51 * SEC), 0);
	assert_int_equal(store_close(st), 0);

	/* No walk, no commit: the tick builds it. */
	st = open_ok(f->repo, &o);
	assert_true(st->xi_pending);
	assert_int_equal(store_tick_begin(st, T0 + 200 * SEC, &na, &nn), 0);
	assert_int_equal(na, 1);
	assert_int_equal(store_tick_finish(st, T0 + 201 * SEC), 0);
	assert_int_equal(store_close(st), 0);
	assert_string_equal(sh("git --git-dir=%s ls-tree -r --name-only primary | "
	    "grep -v ^meta/ | wc -l", f->repo), "0\n");
	assert_fsck(f->repo);
}

/* The index alone: order, duplicates, removals, refreshes. */
static void
store_xidx_expired__sorted_unique_live(void **state)
{
	struct xidx x = { 0 };
	uint64_t *keys;
	size_t n;

	(void)state;
	assert_int_equal(store_xidx_set(&x, 0x0100000000000009ULL, 30), 0);
	assert_int_equal(store_xidx_set(&x, 0x0100000000000005ULL, 10), 0);
	assert_int_equal(store_xidx_set(&x, 0x0200000000000001ULL, 20), 0);
	assert_int_equal(store_xidx_set(&x, 0x0100000000000007ULL, 40), 0);
	assert_null(x.heap);			/* not built until asked */
	assert_int_equal(store_xidx_expired(&x, 5, &keys, &n), 0);
	assert_int_equal(n, 0);
	assert_null(keys);
	assert_non_null(x.heap);
	assert_int_equal(x.hn, 4);
	/* Set again unchanged (twice on the heap), refreshed, removed. */
	assert_int_equal(store_xidx_set(&x, 0x0100000000000005ULL, 10), 0);
	assert_int_equal(store_xidx_set(&x, 0x0100000000000009ULL, 100), 0);
	store_xidx_del(&x, 0x0100000000000007ULL);
	assert_int_equal(store_xidx_set(&x, 0x0100000000000003ULL, 35), 0);
	assert_int_equal(store_xidx_expired(&x, 50, &keys, &n), 0);
	assert_int_equal(n, 3);			/* sorted, once each */
	assert_int_equal(keys[0], 0x0100000000000003ULL);
	assert_int_equal(keys[1], 0x0100000000000005ULL);
	assert_int_equal(keys[2], 0x0200000000000001ULL);
	/* Taken off the heap until requeued: not found twice. */
	free(keys);
	assert_int_equal(store_xidx_expired(&x, 50, &keys, &n), 0);
	assert_int_equal(n, 0);
	/* Requeued: due again; removed first: not. */
	store_xidx_del(&x, 0x0100000000000005ULL);
	store_xidx_requeue(&x, (const uint64_t[]){ 0x0100000000000003ULL,
	    0x0100000000000005ULL }, 2);
	assert_int_equal(store_xidx_expired(&x, 50, &keys, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(keys[0], 0x0100000000000003ULL);
	free(keys);
	assert_int_equal(store_xidx_expired(&x, 99, &keys, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_xidx_expired(&x, 100, &keys, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(keys[0], 0x0100000000000009ULL);
	free(keys);
	store_xidx_free(&x);
	assert_null(x.heap);
}

/* Refreshing the same few keys forever: the heap stays bounded. */
static void
store_xidx_set__refreshes_keep_heap_bounded(void **state)
{
	struct xidx x = { 0 };
	uint64_t *keys;
	size_t n, most = 0, drops = 0;
	bool had = false;

	(void)state;
	for (uint64_t k = 1; k <= 10; k++)
		assert_int_equal(store_xidx_set(&x, 1ULL << 56 | k, 1000), 0);
	assert_int_equal(store_xidx_expired(&x, 0, &keys, &n), 0);
	for (uint64_t i = 0; i < 200000; i++) {
		assert_int_equal(store_xidx_set(&x, 1ULL << 56 | (i % 10 + 1), 2000 + i), 0);
		if (x.hcap > most)
			most = x.hcap;
		drops += had && x.heap == NULL;
		had = x.heap != NULL;
		if (x.heap == NULL)	/* a tick would rebuild it */
			assert_int_equal(store_xidx_expired(&x, 0, &keys, &n), 0);
	}
	assert_true(most <= (3 * 10 + 1024) * 5 / 4 + 1);
	assert_true(drops > 100);
	assert_int_equal(x.n, 10);
	/* Only the last expiry of each key counts. */
	assert_int_equal(store_xidx_expired(&x, 2000 + 199989, &keys, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_xidx_expired(&x, 2000 + 199999, &keys, &n), 0);
	assert_int_equal(n, 10);
	free(keys);
	store_xidx_free(&x);
}

/*
 * Differential: random sets, refreshes and removals over 3000 keys; at
 * every step of the clock the heap gives what a walk of the index gives.
 * The taken keys are then removed (merged away), refreshed, or left as
 * they are and requeued (primary changed them, still expired).
 */
static void
store_xidx_expired__matches_index_walk(void **state)
{
	struct xidx x = { 0 };
	uint64_t *naive = malloc(3000 * sizeof(*naive)), *keys, now = 1000;
	size_t n, total = 0;

	(void)state;
	rng = 0x853c49e6748fea9bULL;
	for (unsigned step = 0; step < 400; step++) {
		size_t nn;

		for (unsigned k = 0; k < 100; k++) {
			uint64_t key = (rnd() % 2 + 1) << 56 | rnd() % 3000;

			if (rnd() % 5 == 0)
				store_xidx_del(&x, key);
			else
				assert_int_equal(store_xidx_set(&x, key, now + rnd() % 500), 0);
		}
		now += 10;
		nn = naive_expired(&x, now, naive, 3000);
		assert_int_equal(store_xidx_expired(&x, now, &keys, &n), 0);
		assert_int_equal(n, nn);
		if (n > 0)
			assert_memory_equal(keys, naive, n * sizeof(*keys));
		total += n;
		for (size_t i = 0; i < n; i++) {
			switch (rnd() % 3) {
			case 0:
				store_xidx_del(&x, keys[i]);
				break;
			case 1:
				assert_int_equal(store_xidx_set(&x, keys[i], now + 1 + rnd() % 50), 0);
				break;
			default:
				break;
			}
		}
		store_xidx_requeue(&x, keys, n);
		free(keys);
	}
	assert_true(total > 5000);
	free(naive);
	store_xidx_free(&x);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(store_tick_finish__fast_merge_equals_generic),
		T(store_merge__while_tick_pending),
		T(store_tick_finish__unique_clash_goes_generic),
		T(store_tick_finish__unnoted_head_move_goes_generic),
		T(store_tick_begin__heap_follows_refresh_and_removal),
		T(store_open__expiry_index_built_by_the_first_walk),
		cmocka_unit_test(store_xidx_expired__sorted_unique_live),
		cmocka_unit_test(store_xidx_set__refreshes_keep_heap_bounded),
		cmocka_unit_test(store_xidx_expired__matches_index_walk),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

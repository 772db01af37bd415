/* SPDX-License-Identifier: ISC */
/*
 * The journal and group commit: changes recorded by the writer thread are
 * turned into one commit on primary (in memory) by store_commit(), and
 * made durable by store_flush() (see store.h for the durability rule).
 *
 * Messages (DESIGN.md section 3): one change reads
 *	arp: add 10.0.0.2 -> 02:50:2a:16:6d:01
 *
 *	Cause: arp reply from 02:50:2a:16:6d:01 on inside
 * and a batch reads
 *	nat: 120 changes (87 add, 30 update, 3 remove)
 *
 *	nat: map tcp 192.168.1.2:51000 -> 203.0.113.1:61001
 *	...  (at most body_max lines, then "... and N more")
 *
 *	Cause: traffic to a stale neighbour (30)
 * The expiry index the tick reads is in xidx.c (heads.h).
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netfn/nat.h"

#include "writer.h"

static const char *const cause_names[] = {
#define NAME(sym, name) name,
	EV_CAUSES(NAME)
#undef NAME
};

int
store_xidx_entry(struct store *st, const struct store_entry *e, bool removed)
{
	const struct store_table *t = store_table_by_id(e->table);
	uint64_t exp = removed ? 0 : t->expires(e);

	if (exp == 0) {
		store_xidx_del(&st->xi, t->key(e));
		return 0;
	}
	return store_xidx_set(&st->xi, t->key(e), exp);
}

static int
xidx_change(struct store *st, const struct store_entry *e, bool removed)
{
	int error = store_xidx_ready(st);

	return error < 0 ? error : store_xidx_entry(st, e, removed);
}

int
store_xidx_apply_edits(struct store *st, const struct store_edits *es)
{
	struct store_entry e;
	int error;

	if ((error = store_xidx_ready(st)) < 0)
		return error;
	for (size_t i = 0; i < es->n; i++) {
		const struct store_edit *ed = &es->v[i];
		const struct store_table *t = store_table_by_path(ed->path);

		if (t == NULL)
			continue;
		if (ed->mode == 0) {
			struct store_entry k;

			if (store_path_parse(&k, ed->path) < 0)
				continue;
			store_tick_note(st, t->key(&k), NULL);
			store_xidx_del(&st->xi, t->key(&k));
			continue;
		}
		if ((error = store_read_entry(&e, st->odb, &ed->id, ed->path)) < 0)
			return error;
		store_tick_note(st, t->key(&e), &e);
		if ((error = xidx_change(st, &e, false)) < 0)
			return error;
	}
	return 0;
}

int
store_record(struct store *st, const struct store_change *c)
{
	char buf[STORE_VALUE_MAX];

	if (store_table_by_id(c->e.table) == NULL || c->op >= EV_OP_MAX ||
	    c->cause >= EV_CAUSE_MAX)
		return store_err(STORE_EINVAL, "store: change: table %u op %u cause %u",
		    c->e.table, c->op, c->cause);
	/* Refuse now what could not be committed later (and would block it). */
	if (store_entry_path(buf, sizeof(buf), &c->e) < 0 ||
	    (c->op != EV_REMOVE && store_entry_encode(buf, sizeof(buf), &c->e,
	    st->o.ifnames, st->o.n_ifnames) < 0))
		return STORE_EINVAL;
	if (st->jn == st->jcap) {
		size_t cap = st->jcap ? st->jcap * 2 : 256;
		struct store_change *j = realloc(st->j, cap * sizeof(*j));

		if (j == NULL)
			return store_err(-1, "store: out of memory");
		st->j = j;
		st->jcap = cap;
	}
	if (st->jn == 0)
		st->jfirst_us = c->now_us;
	st->j[st->jn++] = *c;
	return 0;
}

/*
 * netfn's TCP states map one to one onto conntrack's words; UDP and ICMP
 * have only "did anything come back". The one place netfn's NAT state
 * becomes the store's.
 */
struct store_nat_remote
store_nat_remote_of(uint8_t proto, uint32_t ip, uint16_t port, uint8_t tcp_state,
    uint8_t nat_flags)
{
	static const uint8_t tcp[NAT_TCP_MAX] = {
		[NAT_TCP_NONE] = STORE_NAT_NONE,
		[NAT_TCP_SYN_OUT] = STORE_NAT_SYN_SENT,
		[NAT_TCP_SYN_IN] = STORE_NAT_SYN_RECV,
		[NAT_TCP_ESTABLISHED] = STORE_NAT_ESTABLISHED,
		[NAT_TCP_FIN_OUT] = STORE_NAT_FIN_WAIT,
		[NAT_TCP_FIN_IN] = STORE_NAT_CLOSE_WAIT,
		[NAT_TCP_TIME_WAIT] = STORE_NAT_TIME_WAIT,
		[NAT_TCP_RST] = STORE_NAT_CLOSED,
	};
	struct store_nat_remote r = { .ip = ip, .port = port };
	bool replied = nat_flags & NAT_SF_REPLIED;

	if (nat_flags & NAT_SF_INBOUND)
		r.flags |= STORE_NAT_INBOUND;
	if (proto != IPPROTO_TCP) {
		r.state = replied ? STORE_NAT_ESTABLISHED : STORE_NAT_NEW;
		return r;
	}
	r.state = tcp_state < NAT_TCP_MAX ? tcp[tcp_state] : STORE_NAT_NONE;
	if (!replied)
		r.flags |= STORE_NAT_UNREPLIED;
	return r;
}

void
store_nat_remote_to(uint8_t *tcp_state, uint8_t *nat_flags, uint8_t proto,
    const struct store_nat_remote *r)
{
	static const uint8_t tcp[STORE_NAT_RSTATE_MAX] = {
		[STORE_NAT_NEW] = NAT_TCP_SYN_OUT,
		[STORE_NAT_ESTABLISHED] = NAT_TCP_ESTABLISHED,
		[STORE_NAT_TRANSITORY] = NAT_TCP_TIME_WAIT,
		[STORE_NAT_CLOSED] = NAT_TCP_RST,
		[STORE_NAT_NONE] = NAT_TCP_NONE,
		[STORE_NAT_SYN_SENT] = NAT_TCP_SYN_OUT,
		[STORE_NAT_SYN_RECV] = NAT_TCP_SYN_IN,
		[STORE_NAT_FIN_WAIT] = NAT_TCP_FIN_OUT,
		[STORE_NAT_CLOSE_WAIT] = NAT_TCP_FIN_IN,
		[STORE_NAT_TIME_WAIT] = NAT_TCP_TIME_WAIT,
	};

	*tcp_state = proto == IPPROTO_TCP && r->state < STORE_NAT_RSTATE_MAX ?
	    tcp[r->state] : NAT_TCP_NONE;
	*nat_flags = (store_nat_replied(r) ? NAT_SF_REPLIED : 0) |
	    (r->flags & STORE_NAT_INBOUND ? NAT_SF_INBOUND : 0);
}

void
store_entry_from_arp(struct store_entry *e, const struct arp_entry *a)
{
	memset(e, 0, sizeof(*e));
	e->table = EV_TABLE_ARP;
	e->arp = *a;
}

void
store_entry_from_nat(struct store_entry *e, const struct nat_session *s)
{
	struct store_nat *m = &e->nat;

	memset(e, 0, sizeof(*e));
	e->table = EV_TABLE_NAT;
	m->proto = s->proto;
	m->in_ip = s->int_ip;
	m->in_port = s->int_port;
	m->ext_ip = s->ext_ip;
	m->ext_port = s->ext_port;
	m->flags = s->flags & NAT_SF_STATIC ? STORE_NAT_STATIC : 0;
	m->nremote = 1;
	m->remote[0] = store_nat_remote_of(s->proto, s->rem_ip, s->rem_port, s->state,
	    s->flags);
	m->created_us = s->created_us;
	m->expires_us = s->expires_us;
}

/*
 * netfn reports NAT sessions; the store keeps one entry per mapping (the
 * inside endpoint), from the mapping state the event carries after the
 * change: a session added to a new mapping adds it, the last session going
 * removes it, anything else updates it.
 */
static void
nat_from_event(struct store_change *c, const struct nf_event *ev)
{
	const struct ev_nat *n = &ev->nat;
	struct store_nat *m = &c->e.nat;

	if (ev->op == EV_REMOVE)
		c->op = n->mapping_gone ? EV_REMOVE : EV_UPDATE;
	else if (ev->op == EV_ADD)
		c->op = n->mapping_new ? EV_ADD : EV_UPDATE;
	else
		c->op = EV_UPDATE;
	m->proto = n->proto;
	m->in_ip = n->int_ip;
	m->in_port = n->int_port;
	m->ext_ip = n->ext_ip;
	m->ext_port = n->ext_port;
	m->nremote = n->nremote < STORE_NAT_REMOTES ? n->nremote : STORE_NAT_REMOTES;
	/* History keeps what conntrack -L shows; who began it is live only. */
	for (unsigned i = 0; i < m->nremote && i < EV_NAT_REMOTES; i++) {
		m->remote[i] = store_nat_remote_of(n->proto, n->remote[i].ip,
		    n->remote[i].port, n->remote[i].state, n->remote[i].flags);
		m->remote[i].flags &= STORE_NAT_UNREPLIED;
	}
	m->unlisted = n->nsessions > m->nremote ? n->nsessions - m->nremote : 0;
	m->created_us = n->map_created_us;
	m->expires_us = n->map_expires_us;
}

int
store_record_event(struct store *st, const struct nf_event *ev)
{
	struct store_change c;

	memset(&c, 0, sizeof(c));
	c.op = ev->op;
	c.cause = ev->cause;
	c.now_us = ev->now_us;
	c.e.table = ev->table;
	if (ev->table == EV_TABLE_NAT) {
		nat_from_event(&c, ev);
		return store_record(st, &c);
	}
	if (ev->table != EV_TABLE_ARP)
		return store_err(STORE_EINVAL, "store: event for table %u not supported",
		    ev->table);
	c.e.arp.ip = ev->arp.ip;
	memcpy(c.e.arp.mac, ev->arp.mac, ETH_ALEN);
	memcpy(c.old_mac, ev->arp.old_mac, ETH_ALEN);
	c.e.arp.state = ev->arp.state;
	c.e.arp.ifidx = ev->arp.ifidx;
	c.e.arp.updated_us = ev->arp.updated_us;
	c.e.arp.expires_us = ev->arp.expires_us;
	return store_record(st, &c);
}

size_t
store_pending(const struct store *st)
{
	return st->jn;
}

static void
change_line(struct sbuf *b, const struct store_change *c)
{
	char line[STORE_FMT_MAX];

	store_fmt_change(line, sizeof(line), c);
	store_sbuf_puts(b, line);
}

static void
cause_line(struct sbuf *b, const struct store *st, const struct store_change *c)
{
	store_sbuf_printf(b, "Cause: %s", cause_names[c->cause]);
	if (c->e.table == EV_TABLE_ARP &&
	    (c->cause == EV_CAUSE_ARP_REPLY || c->cause == EV_CAUSE_ARP_REQUEST)) {
		char m[18];

		store_sbuf_printf(b, " from %s", mac_ntop(c->e.arp.mac, m));
		if (st->o.ifnames && c->e.arp.ifidx < st->o.n_ifnames &&
		    st->o.ifnames[c->e.arp.ifidx])
			store_sbuf_printf(b, " on %s", st->o.ifnames[c->e.arp.ifidx]);
		else
			store_sbuf_printf(b, " on if%u", c->e.arp.ifidx);
	}
	store_sbuf_puts(b, "\n");
}

static void
batch_message(struct sbuf *b, const struct store *st)
{
	unsigned nadd = 0, nupd = 0, nrem = 0, causes[EV_CAUSE_MAX] = { 0 };
	const char *scope = NULL;

	for (size_t i = 0; i < st->jn; i++) {
		const struct store_change *c = &st->j[i];
		const char *name = store_table_by_id(c->e.table)->name;

		if (scope == NULL || strcmp(scope, name) == 0)
			scope = name;
		else
			scope = "tables";
		nadd += c->op == EV_ADD;
		nupd += c->op == EV_UPDATE || c->op == EV_LLADDR;
		nrem += c->op == EV_REMOVE;
		causes[c->cause]++;
	}
	store_sbuf_printf(b, "%s: %zu changes (%u add, %u update, %u remove)\n\n", scope,
	    st->jn, nadd, nupd, nrem);
	for (size_t i = 0; i < st->jn && i < st->o.body_max; i++) {
		change_line(b, &st->j[i]);
		store_sbuf_puts(b, "\n");
	}
	if (st->jn > st->o.body_max)
		store_sbuf_printf(b, "... and %zu more\n", st->jn - st->o.body_max);
	if (causes[EV_CAUSE_NONE] == st->jn)
		return;
	store_sbuf_puts(b, "\n");
	for (unsigned k = 1; k < EV_CAUSE_MAX; k++)
		if (causes[k])
			store_sbuf_printf(b, "Cause: %s (%u)\n", cause_names[k], causes[k]);
}

int
store_commit(struct store *st, uint64_t now_us, struct store_oid *out)
{
	struct store_edits es = { 0 };
	struct sbuf msg = { 0 };
	char path[STORE_PATH_MAX], val[STORE_VALUE_MAX];
	const git_oid *parents[1] = { &st->head };
	git_oid tree, id, prev;
	int error = 0, n;

	if (st->jn == 0)
		return 1;
	if (st->txn_open)
		return store_err(STORE_EINVAL, "store: commit: a transaction is under way");
	for (size_t i = 0; i < st->jn && error == 0; i++) {
		const struct store_change *c = &st->j[i];
		git_oid blob;

		if ((n = store_entry_path(path, sizeof(path), &c->e)) < 0) {
			error = n;
			break;
		}
		if (c->op == EV_REMOVE) {
			if (store_edits_add(&es, path, 0, NULL) == NULL)
				error = -1;
			continue;
		}
		if ((n = store_entry_encode(val, sizeof(val), &c->e, st->o.ifnames,
		    st->o.n_ifnames)) < 0) {
			error = n;
			break;
		}
		if ((error = store_odb_put(&blob, st->odb, GIT_OBJECT_BLOB, val, (size_t)n)) < 0)
			break;
		if (store_edits_add(&es, path, GIT_FILEMODE_BLOB, &blob) == NULL)
			error = -1;
	}
	if (error < 0 || (error = store_tree_apply(&tree, st->odb, &st->head_tree, &es)) < 0)
		goto done;
	if (git_oid_equal(&tree, &st->head_tree)) {
		error = 1;		/* removals of what was not there */
		goto done;
	}
	if (st->jn == 1) {
		change_line(&msg, &st->j[0]);
		store_sbuf_puts(&msg, "\n");
		if (st->j[0].cause != EV_CAUSE_NONE) {
			store_sbuf_puts(&msg, "\n");
			cause_line(&msg, st, &st->j[0]);
		}
	} else {
		batch_message(&msg, st);
	}
	if (msg.oom) {
		error = store_err(-1, "store: out of memory");
		goto done;
	}
	if ((error = store_commit_tree(&id, st, &tree, parents, 1, msg.p, now_us)) < 0)
		goto done;
	if (git_oid_equal(&st->head, &st->durable))
		st->unflushed_us = now_us;
	git_oid_cpy(&prev, &st->head);
	git_oid_cpy(&st->head, &id);
	git_oid_cpy(&st->head_tree, &tree);
	if (out != NULL)
		git_oid_cpy(store_goid_mut(out), &id);
	/* What a pending tick's merge must know (the last change of a key wins). */
	for (size_t i = 0; i < st->jn && st->tick_pending; i++) {
		const struct store_change *c = &st->j[i];

		store_tick_note(st, store_table_by_id(c->e.table)->key(&c->e),
		    c->op == EV_REMOVE ? NULL : &c->e);
	}
	store_tick_moved(st, &prev);
	for (size_t i = 0; i < st->jn && error == 0; i++)
		error = xidx_change(st, &st->j[i].e, st->j[i].op == EV_REMOVE);
done:
	if (error >= 0)
		st->jn = 0;	/* committed, or nothing to commit */
	store_edits_free(&es);
	store_sbuf_free(&msg);
	return error;
}

int
store_poll(struct store *st, uint64_t now_us)
{
	uint64_t win = (uint64_t)st->o.window_ms * 1000;
	bool unflushed = !git_oid_equal(&st->head, &st->durable) || st->nnewrefs > 0;
	int error;

	/*
	 * A change waits the window; then, unless batch_max changes wait, it
	 * waits until commit_gap_ms since the last group commit. A lone change
	 * commits a window after it; a steady stream, in one commit per gap:
	 * a commit and its trees cost the same for one change or a thousand.
	 */
	if (st->jn >= st->o.batch_max || (st->jn > 0 && now_us - st->jfirst_us >= win &&
	    now_us - st->jlast_commit_us >= (uint64_t)st->o.commit_gap_ms * 1000)) {
		st->jlast_commit_us = now_us;
		if ((error = store_commit(st, now_us, NULL)) < 0 ||
		    (error = store_flush(st)) < 0)
			return error;
		return 1;
	}
	if (unflushed && st->jn == 0 && now_us - st->unflushed_us >= win) {
		if ((error = store_flush(st)) < 0)
			return error;
		return 1;
	}
	return 0;
}

uint64_t
store_commit_due(const struct store *st)
{
	uint64_t t, gap;

	if (st->jn == 0)
		return UINT64_MAX;
	if (st->jn >= st->o.batch_max)
		return st->jfirst_us;
	t = st->jfirst_us + (uint64_t)st->o.window_ms * 1000;
	gap = st->jlast_commit_us + (uint64_t)st->o.commit_gap_ms * 1000;
	return gap > t ? gap : t;
}

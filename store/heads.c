/* SPDX-License-Identifier: ISC */
/*
 * Layer 4 of store/, heads: the one durable path every write takes. A
 * commit object written by the store (store_commit_tree), a ref moved by
 * compare-and-swap (store_ref_update), and the flush that makes the
 * writer's head durable: its objects as one fsynced pack first, then the
 * branches queued by ticks, then primary (see store.h for the rule). Also
 * the pack maintenance a flush starts and the expiry branches it prunes.
 * A move of primary that the writer did not make (a transaction) is
 * handed to the writer layer through st->head_moved.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heads.h"

/*
 * Write the commit object ourselves (see store_odb_put): author and
 * committer are the router id (checked at open: no '<', '>' or newline),
 * at now_us in UTC.
 */
int
store_commit_tree(git_oid *out, struct store *st, const git_oid *tree,
    const git_oid *const *parents, size_t nparents, const char *msg, uint64_t now_us)
{
	struct sbuf b = { 0 };
	char hex[GIT_OID_HEXSZ + 1], sig[256];
	int error;

	snprintf(sig, sizeof(sig), "%s <%s@gitnet> %llu +0000", st->router_id,
	    st->router_id, (unsigned long long)(now_us / 1000000));
	store_sbuf_printf(&b, "tree %s\n", git_oid_tostr(hex, sizeof(hex), tree));
	for (size_t i = 0; i < nparents; i++)
		store_sbuf_printf(&b, "parent %s\n", git_oid_tostr(hex, sizeof(hex), parents[i]));
	store_sbuf_printf(&b, "author %s\ncommitter %s\n\n%s", sig, sig, msg);
	if (b.oom)
		error = store_err(-1, "store: out of memory");
	else
		error = store_odb_put(out, st->odb, GIT_OBJECT_COMMIT, b.p, b.len);
	store_sbuf_free(&b);
	return error;
}

int
store_ref_update(struct store *st, const struct store_refup *u, const char *log)
{
	git_reference *ref = NULL;
	bool primary = strcmp(u->name, st->ref) == 0;
	int error;

	if (u->has_new && u->force)
		error = git_reference_create(&ref, st->repo, u->name, &u->new_, 1, log);
	else if (u->has_new && u->has_old)
		error = git_reference_create_matching(&ref, st->repo, u->name, &u->new_, 1,
		    &u->old, log);
	else if (u->has_new)
		error = git_reference_create(&ref, st->repo, u->name, &u->new_, 0, log);
	else if ((error = git_reference_lookup(&ref, st->repo, u->name)) == 0) {
		/* libgit2 deletes only if the ref still holds what was looked up. */
		if (u->has_old && (git_reference_type(ref) != GIT_REFERENCE_DIRECT ||
		    !git_oid_equal(git_reference_target(ref), &u->old)))
			error = GIT_EMODIFIED;
		else
			error = git_reference_delete(ref);
	}
	git_reference_free(ref);
	if (error == GIT_ENOTFOUND && u->has_old)
		error = GIT_EMODIFIED;		/* gone: it moved */
	if (error < 0) {
		if (primary)
			return store_gerr(error, "store: %s: moving primary", st->path);
		return store_gerr(error, "store: %s %s", u->has_new ? "moving" : "deleting",
		    u->name);
	}
	/* Primary moved: the writer layer brings its head along (txn.c). */
	return primary && u->has_new ? st->head_moved(st, &u->new_) : 0;
}

struct xref {
	char		name[STORE_REF_MAX + 40];
	uint64_t	t;
};

static int
xref_cmp(const void *a, const void *b)
{
	const struct xref *x = a, *y = b;

	return x->t < y->t ? -1 : x->t > y->t;
}

/* Keep the newest keep_expire expire_<unix.usec> branches. */
static int
prune_expire(struct store *st)
{
	git_reference_iterator *it;
	git_reference *r;
	struct xref *v = NULL;
	size_t n = 0, cap = 0;
	int error;

	char glob[STORE_REF_MAX + 16];
	size_t plen;

	snprintf(glob, sizeof(glob), "refs/heads/%s*", st->tick_prefix);
	plen = strlen(glob) - 1;
	if ((error = git_reference_iterator_glob_new(&it, st->repo, glob)) < 0)
		return store_gerr(error, "store: listing expiry branches");
	while (git_reference_next(&r, it) == 0) {
		const char *nm = git_reference_name(r);
		unsigned long long s = 0, us = 0;

		if (n == cap) {
			struct xref *nv = realloc(v, (cap = cap ? cap * 2 : 16) * sizeof(*v));

			if (nv == NULL) {
				git_reference_free(r);
				break;
			}
			v = nv;
		}
		if (strlen(nm) < sizeof(v->name) && strlen(nm) > plen &&
		    sscanf(nm + plen, "%llu.%llu", &s, &us) == 2) {
			snprintf(v[n].name, sizeof(v->name), "%s", nm);
			v[n++].t = s * 1000000 + us;
		}
		git_reference_free(r);
	}
	git_reference_iterator_free(it);
	if (n > st->o.keep_expire) {
		qsort(v, n, sizeof(*v), xref_cmp);
		for (size_t i = 0; i + st->o.keep_expire < n; i++)
			if (git_reference_lookup(&r, st->repo, v[i].name) == 0) {
				git_reference_delete(r);
				git_reference_free(r);
			}
	}
	free(v);
	return 0;
}

/*
 * The flush: the objects as one pack, then the refs through
 * store_ref_update(), the one durable path transactions take too.
 */
int
store_flush(struct store *st)
{
	struct store_refup u;
	int error;

	if (git_oid_equal(&st->head, &st->durable) && st->nnewrefs == 0)
		return 0;
	if (store_odb_pending(st->odb) > 0) {
		/* The trees the next commits edit: primary's, and a pending tick's. */
		const git_oid *live[2] = { &st->head_tree, &st->tick_tree };

		if ((error = store_odb_flush(st->odb, live, st->tick_pending ? 2 : 1)) < 0)
			return error;
		st->npacks++;
	}
	/* Objects are durable: now the refs may name them. */
	memset(&u, 0, sizeof(u));
	u.has_new = true;
	for (size_t i = 0; i < st->nnewrefs; i++) {
		snprintf(u.name, sizeof(u.name), "%s", st->newrefs[i].name);
		git_oid_cpy(&u.new_, &st->newrefs[i].id);
		u.force = true;
		if ((error = store_ref_update(st, &u, "gitnet: tick")) < 0)
			return error;
		st->prune_expire = true;
	}
	st->nnewrefs = 0;
	if (!git_oid_equal(&st->head, &st->durable) || !st->have_durable) {
		snprintf(u.name, sizeof(u.name), "%s", st->ref);
		git_oid_cpy(&u.new_, &st->head);
		u.force = false;
		u.has_old = st->have_durable;
		git_oid_cpy(&u.old, &st->durable);
		if ((error = store_ref_update(st, &u, st->have_durable ? "gitnet: commit" :
		    "gitnet: create")) < 0)
			return error;
	}
	if (st->prune_expire) {
		st->prune_expire = false;
		if ((error = prune_expire(st)) < 0)
			return error;
	}
	return store_packs_maintain(st);
}

int
store_packs_maintain(struct store *st)
{
	int error;

	/*
	 * Packs are merged in the background; a flush waits for a merge only
	 * when the packs made meanwhile reach twice the bound.
	 */
	if ((error = store_odb_merge_poll(st->odb, st->npacks >= 2 * st->o.max_packs)) < 0)
		return error;
	if (error == 1)
		st->npacks = store_odb_pack_count(st->odb);
	if (!store_odb_merging(st->odb) && store_odb_compact_due(st->odb, st->o.compact_s)) {
		if ((error = store_odb_merge_start(st->odb, st->o.max_packs, true)) < 0)
			return error;
	} else if (st->npacks > st->o.max_packs &&
	    (error = store_odb_merge_start(st->odb, st->o.max_packs, false)) < 0) {
		return error;
	}
	return 0;
}

int
store_queue_ref(struct store *st, const char *name, const git_oid *id)
{
	struct store_ref *v = realloc(st->newrefs, (st->nnewrefs + 1) * sizeof(*v));

	if (v == NULL)
		return store_err(-1, "store: out of memory");
	st->newrefs = v;
	snprintf(v[st->nnewrefs].name, sizeof(v->name), "%s", name);
	git_oid_cpy(&v[st->nnewrefs].id, id);
	st->nnewrefs++;
	return 0;
}

void
store_router_text(struct sbuf *b, const struct store *st)
{
	store_sbuf_printf(b, "id %s\n", st->router_id);
	if (st->router_info != NULL && st->router_info[0] != '\0') {
		store_sbuf_puts(b, st->router_info);
		if (st->router_info[strlen(st->router_info) - 1] != '\n')
			store_sbuf_puts(b, "\n");
	}
}

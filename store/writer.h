/* SPDX-License-Identifier: ISC */
/*
 * Layer 5 of store/, the writer: the journal and group commit (journal.c),
 * ticks and their merges (tick.c), the table-aware three-way merge of
 * trees (merge.c) and transactions on any ref (txn.c), all on top of the
 * durable path of heads.h. See objects.h for the layers.
 */
#ifndef STORE_WRITER_H
#define STORE_WRITER_H

#include "heads.h"

/* A key primary changed while a tick is pending (tick.c). */
struct tick_touch {
	uint64_t	key;		/* 0: empty slot */
	uint64_t	u;		/* the table's unique key, when present */
	bool		present, has_u;
};

/*
 * Keep the expiry index in step with applied (sorted, unique) edits, noting
 * each key for a pending tick (journal.c).
 */
int store_xidx_apply_edits(struct store *st, const struct store_edits *es);
/*
 * Enter e's expiry in the index (or take its key out: removed, or no
 * expiry); -1 out of memory. As it is: the caller has the index built or
 * is building it (store_xidx_ready).
 */
int store_xidx_entry(struct store *st, const struct store_entry *e, bool removed);
/* st->head_moved: primary now names id (txn.c). */
int store_head_moved(struct store *st, const git_oid *id);

/*
 * Three-way merge of trees producing leaf edits against ours (applied by
 * the caller); conflict lines go to msg. Returns the number of conflicts.
 */
int store_merge_edits(struct store_edits *out, struct store *st,
    const git_oid *base, const git_oid *ours, const git_oid *theirs,
    struct sbuf *msg);

/*
 * store_merge_check(): every file of tree theirs that differs from base
 * (NULL: every file) passes store_check_file() (schema.h), and theirs has
 * meta/schema. store_diff_edits(): the leaf edits that turn tree a (NULL:
 * empty) into b.
 */
int store_merge_check(struct store *st, const git_oid *base, const git_oid *theirs);
int store_diff_edits(struct store_edits *out, struct store *st, const git_oid *a,
    const git_oid *b);

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

/* Merge commit theirs (fork point base) into head; the core of ticks. */
int store_merge_into_head(struct store *st, const git_oid *theirs_commit,
    const git_oid *theirs_tree, const git_oid *base_tree, const char *subject,
    const char *trailer, uint64_t now_us);
/*
 * While a tick is pending, every path that moves head notes each key it
 * changed (e: the entry now at head, NULL: removed), then calls
 * store_tick_moved() with the head it started from.
 */
void store_tick_note(struct store *st, uint64_t key, const struct store_entry *e);
void store_tick_moved(struct store *st, const git_oid *prev);
/* Release the pending tick's bookkeeping (store_free). */
void store_tick_free(struct store *st);

#endif

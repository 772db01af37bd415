/* SPDX-License-Identifier: ISC */
/*
 * Layer 2 of store/, trees (tree.c): edits applied to a tree, rewriting only
 * the trees on edited paths, and parsed views of a tree read through the
 * object writer. Paths are just names here; what lives at them is the
 * schema's business (schema.h). See objects.h for the layers.
 */
#ifndef STORE_TREES_H
#define STORE_TREES_H

#include "objects.h"

#define STORE_PATH_MAX	64	/* longest entry path, with room to spare */

/*
 * Tree edits: set path to a blob (mode GIT_FILEMODE_BLOB) or delete it
 * (mode 0). store_tree_apply() sorts and de-duplicates (the last edit of a
 * path wins) and rewrites only the trees on edited paths, starting from the
 * trees of base (NULL: empty). Empty trees disappear.
 */
struct store_edit {
	char		path[STORE_PATH_MAX];
	unsigned	seq;
	git_filemode_t	mode;
	git_oid		id;
};

struct store_edits {
	struct store_edit *v;
	size_t		n, cap;
};

struct store_edit *store_edits_add(struct store_edits *es, const char *path,
    git_filemode_t mode, const git_oid *id);
void store_edits_free(struct store_edits *es);
int store_tree_apply(git_oid *out, struct store_odb *odb, const git_oid *base,
    struct store_edits *es);

/*
 * A parsed tree, read without libgit2's object layer: a tree pending in the
 * recorder or kept in the tree cache is used in place (no copy, no second
 * hash); others come through git_odb_read and join the cache while it has
 * room.
 * Entry names point into the object and are NUL-terminated there.
 */
struct tent {
	const char	*name;
	size_t		nlen;
	git_filemode_t	mode;
	bool		tree;
	uint32_t	off;		/* where the entry starts in the tree */
	git_oid		id;
};

struct tview {
	git_odb_object	*obj;		/* holds the bytes when not ours */
	const char	*data;		/* the tree object's bytes */
	size_t		len;
	git_oid		id;
	struct tent	*e;
	size_t		n;
};

int store_tview_load(struct tview *tv, struct store_odb *odb, const git_oid *id);
/* The entry called name[0..nlen), of either type, or NULL. */
const struct tent *store_tview_find(const struct tview *tv, const char *name, size_t nlen);
void store_tview_free(struct tview *tv);

#endif

/* SPDX-License-Identifier: ISC */
/*
 * Layer 6 of store/, the repository: opening and closing a store
 * (repo.c), the reader (reader.c), the commit-graph (graph.c), retention's
 * shallow boundary (retain.c), pushes to remotes (remote.c) over the
 * store's own socket stream (net.c) and git config
 * for the merge driver (gitcfg.c). What store.h exports is implemented
 * here or below. See objects.h for the layers.
 */
#ifndef STORE_REPO_H
#define STORE_REPO_H

#include "writer.h"

/* store_touches()'s few recent path lookups (reader.c). */
#define STORE_PCACHE	8

struct store_pcache {
	git_oid		tree, id;
	char		path[128];
	int		rc;
	bool		used;
};

/* net.c: git_libgit2_init() with the store's socket stream registered. */
int net_lib_init(void);

/* retain.c */
int store_shallow_load(struct store *st);
void store_shallow_clear(struct store *st);
bool store_is_boundary(const struct store *st, const git_oid *id);
int store_shallow_hide(const git_oid *id, void *payload);
int store_shallow_write(const char *gitdir, const git_oid *v, size_t n);

/* The underlying repository (the store's own tests reach libgit2 here). */
git_repository *store_repo(struct store *st);

#endif

/* SPDX-License-Identifier: ISC */
/*
 * Layer 3 of store/, the schema: the tables (the registry of codecs and
 * merge hooks, codec.c), what may be in a store's tree at all
 * (store_check_file), meta/ (meta.c) and the output shapes of an entry
 * (format.c, declared in store.h). See objects.h for the layers.
 */
#ifndef STORE_SCHEMA_H
#define STORE_SCHEMA_H

#include "trees.h"

#define STORE_VALUE_MAX	1024	/* longest encoded entry */

/*
 * A table registered with the store. Everything the generic journal, tick
 * and merge code knows about a table goes through here.
 */
struct store_table {
	const char	*name;		/* top-level directory and message prefix */
	uint8_t		id;		/* enum ev_table */
	/* A 64-bit key unique in the store (table id in the top byte). */
	uint64_t	(*key)(const struct store_entry *e);
	/* An entry holding just the key fields of key k. */
	void		(*from_key)(struct store_entry *e, uint64_t k);
	uint64_t	(*expires)(const struct store_entry *e);
	/*
	 * Both sides changed one entry (base may be NULL: added on both):
	 * 0 keeps ours, 1 theirs; *clash set when the loser must be recorded.
	 */
	int		(*resolve)(const struct store_entry *base,
			    const struct store_entry *ours,
			    const struct store_entry *theirs, bool *clash);
	/*
	 * Optional: a second key that must stay unique across entries (NAT:
	 * proto + external ip:port); among clashing entries the one with the
	 * lowest rank wins.
	 */
	uint64_t	(*unique)(const struct store_entry *e);
	uint64_t	(*rank)(const struct store_entry *e);
};

const struct store_table *store_table_by_id(uint8_t id);
/* The table owning repository path path ("arp/..."), or NULL. */
const struct store_table *store_table_by_path(const char *path);
extern const struct store_table *const store_tables[];
extern const size_t store_ntables;

/* Parse an entry path into the key fields of e (the rest zeroed): 0 or -1. */
int store_path_parse(struct store_entry *e, const char *path);
/* Decode the blob id at path through the codec. */
int store_read_entry(struct store_entry *e, struct store_odb *odb,
    const git_oid *blob, const char *path);

/*
 * Untrusted input: whether a file may be in a store's tree -- a regular
 * file (mode 100644) at meta/schema holding STORE_SCHEMA, at meta/router,
 * at a table path (canonical, decoding with its codec) or at
 * conflicts/<table path>; no '.', '..' or empty names. STORE_EREFUSED with
 * a message naming the path otherwise.
 */
int store_check_file(const char *path, unsigned mode, const char *text, size_t len);

#endif

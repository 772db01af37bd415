/* SPDX-License-Identifier: ISC */
/*
 * Shared helpers of the gitnet tool's commands (tools/repo.c,
 * tools/print.c): opening a state repository with the store's reader and
 * reporting what it refuses, field-level entry comparison, and the output
 * shapes (`ip neigh`, `conntrack -L`, JSON) that show, at and export
 * share. The tool is parsing and printing only: every read and write of
 * a repository goes through store/ (store.h), never through libgit2.
 *
 * Invariants: the reader takes no lock and writes nothing, so every read
 * command is safe while a router commits to the repository.
 * Errors are reported once, on stderr, as "gitnet: <cmd>: <what>", by the
 * function that found them; callers only map the return to an exit code
 * (TOOL_EXIT_* below, as tools/cmd.h specifies).
 */
#ifndef TOOLS_TOOL_H
#define TOOLS_TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "store/store.h"

#define TOOL_EXIT_OK	0
#define TOOL_EXIT_FAIL	1	/* a finding, or an operation that failed */
#define TOOL_EXIT_USAGE	2	/* bad usage or bad input */

/* Table selection for walks and output. */
#define TOOL_ARP	STORE_TABLE_ARP
#define TOOL_NAT	STORE_TABLE_NAT
#define TOOL_BOTH	STORE_TABLE_BOTH


/*
 * Report the option getopt refused (argv[optind - 1]) as
 * "gitnet: <cmd>: unknown option '...'"; returns TOOL_EXIT_USAGE.
 */
int tool_badopt(const char *cmd, char **argv);

/*
 * Parse the options most commands take, --json and --help (getopt from
 * scratch). Returns -1 to go on, with optind at the first operand and *json
 * set; or the exit code: 0 after printing help, TOOL_EXIT_USAGE after a bad
 * option (tool_badopt's message).
 */
int tool_opts_json(int argc, char **argv, const char *cmd, const char *help,
    bool *json);

/* The store's last message on this thread, without its "store: " prefix. */
const char *tool_storemsg(void);

/* Print "gitnet: <cmd>: <fmt...>" on stderr; returns code. */
int tool_err(int code, const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Open path with the store's reader (no lock, no writes) and check it is a
 * gitnet store: branch primary exists and its meta/schema reads
 * STORE_SCHEMA. Prints the reason and returns TOOL_EXIT_USAGE (missing,
 * not a repository, not gitnet) or TOOL_EXIT_FAIL (a read error).
 */
int tool_repo_open(struct store_reader **out, const char *path, const char *cmd);

/* Resolve rev (NULL: primary) to a commit id; unknown -> TOOL_EXIT_USAGE. */
int tool_resolve(struct store_oid *out, struct store_reader *r, const char *rev,
    const char *cmd);

/*
 * Call fn for each entry of the selected tables at commit, in path order.
 * A decode failure goes to bad (then the walk goes on) or, with bad NULL,
 * is printed and ends the walk with TOOL_EXIT_FAIL. A non-zero return from
 * fn or bad ends the walk and is returned.
 */
int tool_load(struct store_reader *r, const struct store_oid *commit,
    unsigned tables, store_item_fn fn, store_bad_fn bad, void *ctx,
    const char *cmd);

/*
 * Read and decode the entry at path in commit into te (text kept in *buf,
 * caller frees): 0, 1 when absent, or TOOL_EXIT_FAIL (printed).
 */
int tool_entry_read(struct store_item *te, char **buf, struct store_reader *r,
    const struct store_oid *commit, const char *path, const char *cmd);

/*
 * Turn a user key into a tree path: "arp/..." and "nat/..." are checked and
 * kept, "a.b.c.d" means its ARP entry. -1 (message printed) if not a key.
 */
int tool_key_path(char *buf, size_t cap, const char *key, const char *cmd);

/*
 * Field-level differences between two entry texts (either may be NULL:
 * added or removed). Fields are the `key value` lines; a NAT remote line
 * is the field "remote ip:port" with its state as value. fn gets NULL for
 * an absent side.
 */
typedef void (*tool_field_fn)(void *ctx, const char *field, const char *old,
    const char *new_);
void tool_fields_diff(const char *a, size_t alen, const char *b, size_t blen,
    tool_field_fn fn, void *ctx);

/* An entry text's lines joined by spaces ("expires ... lladdr ..."). */
void tool_fields_join(char *buf, size_t cap, const char *text, size_t len);

/* Output helpers (tools/print.c). */
char *tool_iso(char buf[32], int64_t t);	/* "2026-11-22T10:00:00Z" */
void tool_json_str(FILE *f, const char *s);	/* a quoted JSON string */
/* {"field":..,"old":..,"new":..}, preceded by a comma unless first; NULL is null. */
void tool_json_field(FILE *f, bool first, const char *field, const char *old,
    const char *new_);
void tool_json_time(FILE *f, uint64_t us);	/* 1429688434.645130 or null */

/* Trailer lines of a message ("Cause: ...", "Conflict: ...") via fn. */
void tool_trailers(const char *msg, void (*fn)(void *ctx, const char *line),
    void *ctx);

/*
 * Print the tables at commit: ARP as `ip neigh`, NAT as `conntrack -L`
 * (timeouts counted from now_us), or as JSON: one table's array, or with
 * both {<head>"arp":[...],"nat":[...]} (head: more members, or NULL). For
 * show, at and export.
 */
int tool_show(struct store_reader *r, const struct store_oid *commit, uint64_t now_us,
    unsigned tables, bool json, const char *head, const char *cmd);

/* The JSON object of one entry (store_fmt_json; ip -j neigh / conntrack-like). */
void tool_entry_json(FILE *f, const struct store_item *te, uint64_t now_us);

/*
 * One commit: as text "<id:12> <iso time> <subject>" then its trailers
 * indented by four; as JSON the members "id", "time", "unix", "parents",
 * "subject", "causes", "conflicts" (no braces, for the caller to extend).
 */
void tool_commit_text(FILE *f, const struct store_commit *c);
void tool_commit_json(FILE *f, const struct store_commit *c);
/* The first 12 hex digits of an id (buf: 13 bytes). */
char *tool_short_id(char buf[13], const struct store_oid *id);

/* Parse a TIME argument of `at` into unix microseconds; -1 if malformed. */
int tool_time_parse(uint64_t *us, const char *s, uint64_t now_us);

/* Wall clock in unix microseconds. */
uint64_t tool_now_us(void);

#endif

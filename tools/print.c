/* SPDX-License-Identifier: ISC */
/*
 * Output for show, at and export, and small JSON helpers. The shapes of
 * an entry (`ip neigh`, `conntrack -L` one line per remote endpoint, the
 * JSON objects) are the store's formatters (store/format.c), the same the
 * router's control socket prints with (src/ctl.c); this file only walks
 * the tables and writes them to stdout.
 *
 * Invariant: output depends only on the commit and the `now` passed in
 * (NAT timeouts count from it), never on the wall clock, so it is exact
 * and testable.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tools/tool.h"

char *
tool_iso(char buf[32], int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

void
tool_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch == '\n')
			fputs("\\n", f);
		else if (ch == '\t')
			fputs("\\t", f);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

void
tool_json_time(FILE *f, uint64_t us)
{
	if (us == 0)
		fputs("null", f);
	else
		fprintf(f, "%llu.%06llu", (unsigned long long)(us / 1000000),
		    (unsigned long long)(us % 1000000));
}

void
tool_entry_json(FILE *f, const struct store_item *te, uint64_t now)
{
	char buf[STORE_FMT_MAX];

	store_fmt_json(buf, sizeof(buf), &te->e, te->dev, now);
	fputs(buf, f);
}

struct show {
	uint64_t	now;
	bool		json;
	bool		first;
};

static int
show_cb(void *ctx, const struct store_item *te)
{
	struct show *s = ctx;

	char buf[STORE_FMT_MAX];

	if (s->json) {
		fputs(s->first ? "\n  " : ",\n  ", stdout);
		tool_entry_json(stdout, te, s->now);
	} else {
		if (te->e.table == EV_TABLE_ARP)
			store_fmt_neigh(buf, sizeof(buf), &te->e.arp, te->dev);
		else
			store_fmt_conntrack(buf, sizeof(buf), &te->e.nat, s->now);
		fputs(buf, stdout);
	}
	s->first = false;
	return 0;
}

int
tool_show(struct store_reader *r, const struct store_oid *commit, uint64_t now_us,
    unsigned tables, bool json, const char *head, const char *cmd)
{
	struct show s = { now_us, json, true };
	int rc = 0;

	if (!json)
		return tool_load(r, commit, tables, show_cb, NULL, &s, cmd);
	/* JSON: one array per table asked, or an object of both. */
	if (tables == TOOL_BOTH)
		printf("{%s\"arp\":[", head ? head : "");
	else
		fputs("[", stdout);
	if (tables & TOOL_ARP)
		rc = tool_load(r, commit, TOOL_ARP, show_cb, NULL, &s, cmd);
	if (rc == 0 && tables == TOOL_BOTH) {
		fputs(s.first ? "],\"nat\":[" : "\n],\"nat\":[", stdout);
		s.first = true;
	}
	if (rc == 0 && (tables & TOOL_NAT))
		rc = tool_load(r, commit, TOOL_NAT, show_cb, NULL, &s, cmd);
	if (rc != 0)
		return rc;
	fputs(s.first ? "]" : "\n]", stdout);
	fputs(tables == TOOL_BOTH ? "}\n" : "\n", stdout);
	return 0;
}

static void
trailer_text(void *ctx, const char *line)
{
	fprintf(ctx, "    %s\n", line);
}

char *
tool_short_id(char buf[13], const struct store_oid *id)
{
	char hex[STORE_OID_HEXSZ + 1];

	memcpy(buf, store_oid_fmt(hex, id), 12);
	buf[12] = '\0';
	return buf;
}

void
tool_commit_text(FILE *f, const struct store_commit *c)
{
	char id[13], iso[32];

	fprintf(f, "%s %s %s\n", tool_short_id(id, &c->id),
	    tool_iso(iso, c->committer.time), c->summary);
	tool_trailers(c->message, trailer_text, f);
}

struct jtrail {
	FILE		*f;
	const char	*prefix;
	bool		first;
};

static void
trailer_json(void *ctx, const char *line)
{
	struct jtrail *j = ctx;
	size_t n = strlen(j->prefix);

	if (strncmp(line, j->prefix, n) != 0)
		return;
	fputs(j->first ? "" : ",", j->f);
	tool_json_str(j->f, line + n);
	j->first = false;
}

void
tool_commit_json(FILE *f, const struct store_commit *c)
{
	char hex[STORE_OID_HEXSZ + 1], iso[32];
	struct jtrail j = { f, "Cause: ", true };

	fprintf(f, "\"id\":\"%s\",\"time\":\"%s\",\"unix\":%lld,\"parents\":[",
	    store_oid_fmt(hex, &c->id), tool_iso(iso, c->committer.time),
	    (long long)c->committer.time);
	for (unsigned i = 0; i < c->nparent; i++)
		fprintf(f, "%s\"%s\"", i ? "," : "", store_oid_fmt(hex, &c->parent[i]));
	fputs("],\"subject\":", f);
	tool_json_str(f, c->summary);
	fputs(",\"causes\":[", f);
	tool_trailers(c->message, trailer_json, &j);
	fputs("],\"conflicts\":[", f);
	j.prefix = "Conflict: ";
	j.first = true;
	tool_trailers(c->message, trailer_json, &j);
	fputs("]", f);
}

void
tool_json_field(FILE *f, bool first, const char *field, const char *old,
    const char *new_)
{
	fputs(first ? "{\"field\":" : ",{\"field\":", f);
	tool_json_str(f, field);
	fputs(",\"old\":", f);
	if (old)
		tool_json_str(f, old);
	else
		fputs("null", f);
	fputs(",\"new\":", f);
	if (new_)
		tool_json_str(f, new_);
	else
		fputs("null", f);
	fputc('}', f);
}

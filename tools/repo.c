/* SPDX-License-Identifier: ISC */
/*
 * The tool's side of reading a state repository: the store's reader
 * (store_reader_open: no lock, no writes) with its refusals printed as the
 * tool's errors, user keys and times parsed, and field-level comparison of
 * entry texts for diff and blame.
 *
 * Invariants: a router may commit to the same repository meanwhile;
 * entries are decoded with the store's own codec, so the tool accepts
 * exactly what the store writes. The ARP interface is kept as written in
 * the entry (learned-on): the tool has no interface table.
 */
#include <stdarg.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tools/tool.h"

int
tool_err(int code, const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "gitnet: %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

const char *
tool_storemsg(void)
{
	const char *m = store_strerror();

	return strncmp(m, "store: ", 7) == 0 ? m + 7 : m;
}

int
tool_repo_open(struct store_reader **out, const char *path, const char *cmd)
{
	int error = store_reader_open(out, path);

	if (error == 0)
		return 0;
	/* The store's message names the path and the reason. */
	tool_err(error == STORE_ENOTFOUND || error == STORE_EFOREIGN ? TOOL_EXIT_USAGE :
	    TOOL_EXIT_FAIL, cmd, "%s", tool_storemsg());
	return error == STORE_ENOTFOUND || error == STORE_EFOREIGN ? TOOL_EXIT_USAGE :
	    TOOL_EXIT_FAIL;
}

int
tool_resolve(struct store_oid *out, struct store_reader *r, const char *rev,
    const char *cmd)
{
	if (store_resolve(out, r, rev) < 0)
		return tool_err(TOOL_EXIT_USAGE, cmd, "%s", tool_storemsg());
	return 0;
}

int
tool_entry_read(struct store_item *te, char **buf, struct store_reader *r,
    const struct store_oid *commit, const char *path, const char *cmd)
{
	size_t len;
	int rc;

	*buf = NULL;
	if ((rc = store_read_file(buf, &len, NULL, r, commit, path)) < 0)
		return tool_err(TOOL_EXIT_FAIL, cmd, "%s", tool_storemsg());
	if (rc == 1)
		return 1;
	if (store_item_decode(te, path, *buf, len) < 0)
		return tool_err(TOOL_EXIT_FAIL, cmd, "%s", tool_storemsg());
	return 0;
}

int
tool_load(struct store_reader *r, const struct store_oid *commit, unsigned tables,
    store_item_fn fn, store_bad_fn bad, void *ctx, const char *cmd)
{
	int rc = store_items(r, commit, tables, fn, bad, ctx);

	/* A failure of the store's is negative; fn's and bad's own codes pass. */
	if (rc < 0)
		return tool_err(TOOL_EXIT_FAIL, cmd, "%s", tool_storemsg());
	return rc;
}

int
tool_key_path(char *buf, size_t cap, const char *key, const char *cmd)
{
	struct store_entry e;
	uint32_t ip;

	if (strncmp(key, "arp/", 4) == 0 || strncmp(key, "nat/", 4) == 0) {
		/* The codec's strict parser: an invalid path is no key. */
		if (store_entry_decode(&e, key, "", 0, NULL, 0) == STORE_EPARSE &&
		    strstr(store_strerror(), "not an entry path") != NULL)
			return tool_err(-1, cmd, "'%s' is not an entry key", key);
		snprintf(buf, cap, "%s", key);
		return 0;
	}
	if (ipv4_pton(key, &ip) == 0) {
		snprintf(buf, cap, "arp/%u.%u.%u/%u", ip >> 24, (ip >> 16) & 0xff,
		    (ip >> 8) & 0xff, ip & 0xff);
		return 0;
	}
	return tool_err(-1, cmd, "'%s' is not an entry key (arp/a.b.c/d, "
	    "nat/proto/a.b.c/d/port or an IPv4 address)", key);
}

/* The i-th field of text: key (with a remote's endpoint) and value. */
struct field {
	char	key[160];
	char	val[160];
};

static size_t
fields_parse(struct field *f, size_t max, const char *text, size_t len)
{
	const char *p = text, *end = text + len, *nl;
	size_t n = 0;

	for (; text != NULL && p < end && n < max; p = nl + 1) {
		char line[160], *sp;
		size_t l;

		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		l = (size_t)(nl - p) < sizeof(line) - 1 ? (size_t)(nl - p) : sizeof(line) - 1;
		memcpy(line, p, l);
		line[l] = '\0';
		if ((sp = strchr(line, ' ')) == NULL)
			continue;
		if (strncmp(line, "remote ", 7) == 0 && (sp = strchr(sp + 1, ' ')) == NULL)
			continue;
		*sp++ = '\0';
		snprintf(f[n].key, sizeof(f[n].key), "%s", line);
		snprintf(f[n].val, sizeof(f[n].val), "%s", sp);
		n++;
	}
	return n;
}

void
tool_fields_diff(const char *a, size_t alen, const char *b, size_t blen,
    tool_field_fn fn, void *ctx)
{
	struct field fa[16], fb[16];
	size_t na = fields_parse(fa, 16, a, alen), nb = fields_parse(fb, 16, b, blen);
	bool seen[16] = { false };

	/* Both sides are sorted key lines: report in a's order, then b's new. */
	for (size_t i = 0; i < na; i++) {
		size_t j;

		for (j = 0; j < nb && strcmp(fa[i].key, fb[j].key) != 0; j++)
			;
		if (j == nb) {
			fn(ctx, fa[i].key, fa[i].val, NULL);
			continue;
		}
		seen[j] = true;
		if (strcmp(fa[i].val, fb[j].val) != 0)
			fn(ctx, fa[i].key, fa[i].val, fb[j].val);
	}
	for (size_t j = 0; j < nb; j++)
		if (!seen[j])
			fn(ctx, fb[j].key, NULL, fb[j].val);
}

void
tool_fields_join(char *buf, size_t cap, const char *text, size_t len)
{
	size_t n = 0;

	if (cap == 0)
		return;
	for (size_t i = 0; i < len && n + 1 < cap; i++) {
		if (text[i] == '\n' && i + 1 == len)
			break;
		buf[n++] = text[i] == '\n' ? ' ' : text[i];
	}
	buf[n] = '\0';
}

void
tool_trailers(const char *msg, void (*fn)(void *ctx, const char *line), void *ctx)
{
	const char *p = msg, *nl;
	char line[512];

	for (; p != NULL && *p != '\0'; p = nl ? nl + 1 : NULL) {
		size_t l;

		nl = strchr(p, '\n');
		l = nl ? (size_t)(nl - p) : strlen(p);
		if (l >= sizeof(line))
			l = sizeof(line) - 1;
		if (strncmp(p, "Cause: ", 7) != 0 && strncmp(p, "Conflict: ", 10) != 0)
			continue;
		memcpy(line, p, l);
		line[l] = '\0';
		fn(ctx, line);
	}
}

uint64_t
tool_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* "sec[.frac]" into microseconds; -1 on anything else. */
static int
secs_parse(uint64_t *us, const char *s)
{
	uint64_t sec = 0, frac = 0, scale = 100000;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (sec > 1000000000000ULL)
			return -1;
		sec = sec * 10 + (uint64_t)(*p - '0');
	}
	if (*p == '.') {
		if (p[1] < '0' || p[1] > '9')
			return -1;
		for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
			if (scale > 0)
				frac += (uint64_t)(*p - '0') * scale;
	}
	if (*p != '\0')
		return -1;
	*us = sec * 1000000 + frac;
	return 0;
}

int
tool_time_parse(uint64_t *us, const char *s, uint64_t now_us)
{
	static const struct { const char *u; uint64_t mul; } units[] = {
		{ "s", 1 }, { "sec", 1 }, { "m", 60 }, { "min", 60 },
		{ "h", 3600 }, { "d", 86400 },
	};
	struct tm tm;
	const char *p;
	char *end;
	uint64_t v, frac = 0;

	if (s[0] == '@')
		return secs_parse(us, s + 1);
	if (s[0] == '-') {
		unsigned long long n;

		if (s[1] < '0' || s[1] > '9')
			return -1;
		n = strtoull(s + 1, &end, 10);
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (strcmp(end, units[i].u) == 0) {
				if (n > now_us / 1000000 / units[i].mul)
					return -1;
				*us = now_us - (uint64_t)n * units[i].mul * 1000000;
				return 0;
			}
		return -1;
	}
	memset(&tm, 0, sizeof(tm));
	if ((p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL)
		return -1;
	if (*p == '.') {
		uint64_t scale = 100000;

		if (p[1] < '0' || p[1] > '9')
			return -1;
		for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
			if (scale > 0)
				frac += (uint64_t)(*p - '0') * scale;
	}
	if (strcmp(p, "Z") != 0 && strcmp(p, "+00:00") != 0)
		return -1;
	{
		time_t t = timegm(&tm);

		if (t < 0)
			return -1;
		v = (uint64_t)t;
	}
	*us = v * 1000000 + frac;
	return 0;
}

int
tool_badopt(const char *cmd, char **argv)
{
	if (optopt != 0 && argv[optind - 1][1] != '-')
		return tool_err(TOOL_EXIT_USAGE, cmd, "unknown option '-%c' or missing "
		    "argument (see gitnet help %s)", optopt, cmd);
	return tool_err(TOOL_EXIT_USAGE, cmd, "unknown option '%s' or missing "
	    "argument (see gitnet help %s)", argv[optind - 1], cmd);
}

int
tool_opts_json(int argc, char **argv, const char *cmd, const char *help, bool *json)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			*json = true;
			break;
		case 'h':
			fputs(help, stdout);
			return 0;
		default:
			return tool_badopt(cmd, argv);
		}
	}
	return -1;
}

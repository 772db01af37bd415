/* SPDX-License-Identifier: ISC */
/*
 * gitnet who: the audit query CGNAT operators are asked (RFC 6302, RFC
 * 7422): which inside endpoint held an external ip:port at a time, and
 * which external endpoints an inside host used, each session with its
 * start, its end and the commits that show them.
 *
 * NAT entries are keyed by inside endpoint (nat/<proto>/<a.b.c>/<d>/
 * <port>, DESIGN.md section 3), so the external endpoint is found by
 * scanning the mappings live at the commit of TIME (a few thousand at 200
 * new flows/s). A session is one mapping of one inside endpoint with one
 * `created`: it is present, with that created, on a contiguous stretch of
 * primary's first-parent line, from the commit that added it up to the
 * one before the commit that removed it, so both ends are found by binary
 * search on that line (store_first_parents: the commit-graph where there
 * is one), a dozen or two file reads each. A removal reaches primary by a
 * tick merge; the tick commit (the merge's second parent, "tick: age out
 * ...") is named as the one that removed it, and the merge as where
 * primary took it.
 *
 * --inside walks the line across the window and reads the host's own
 * directory (nat/<proto>/<a.b.c>/<d>) only at the commits where its id
 * changed.
 *
 * Times are as `gitnet at` reads them (tool_time_parse) and the commit of
 * a time is the one `gitnet at` shows: the last on primary's first-parent
 * line made at or before it. History cut short by retention ends the line
 * as a root would; a session older than what is kept has no add commit.
 */
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "netfn/wire.h"
#include "tools/cmd.h"
#include "tools/tool.h"

static const char help[] =
"NAME\n"
"    gitnet who - which inside endpoint held an external endpoint, when\n"
"\n"
"SYNOPSIS\n"
"    gitnet [--repo DIR] who IP:PORT --at TIME [--proto tcp|udp|icmp] [--json]\n"
"    gitnet [--repo DIR] who --inside IP [--from TIME] [--to TIME]\n"
"                            [--proto tcp|udp|icmp] [--json]\n"
"\n"
"DESCRIPTION\n"
"    The audit query of RFC 6302 and RFC 7422. The first form finds the NAT\n"
"    mapping that held external IP:PORT (for ICMP, PORT is the query id) at\n"
"    TIME, in the tables of the commit `gitnet at TIME` shows (the last on\n"
"    primary's first-parent line made at or before TIME), and prints its\n"
"    session, one field a line:\n"
"        session  udp 203.0.113.1:61001\n"
"        inside   192.168.1.2:5000\n"
"        key      nat/udp/192.168.1/2/5000\n"
"        start    2026-11-22T10:00:20.000000Z   (its created)\n"
"        end      2026-11-22T10:00:40Z          (when it was removed, or\n"
"                                                \"active\")\n"
"        expires  2026-11-22T10:00:50.000000Z   (as last written)\n"
"        added    <commit> <UTC time> <subject>\n"
"        removed  <commit> <UTC time> <subject>  (or \"-\" while active)\n"
"        merged   <commit> <UTC time> <subject>  (the tick merge that took\n"
"                                                the removal into primary)\n"
"    A session is one mapping of one inside endpoint with one created time:\n"
"    added by the commit where it first appears, removed by the commit\n"
"    where it is gone or replaced (for an expiry, the tick's \"age out\"\n"
"    commit). Without --proto every protocol is searched; each match is one\n"
"    block, blocks separated by a blank line.\n"
"\n"
"    The second form lists every session of inside host IP that was live at\n"
"    some moment between --from and --to (default: all kept history up to\n"
"    primary), oldest start first, in the same blocks.\n"
"\n"
"    A session that began before the oldest kept commit (history dropped by\n"
"    retention) shows added \"-\". TIME is what `gitnet at` takes:\n"
"        2026-11-22T10:00:00Z   UTC, optionally with a fraction (.5)\n"
"        @1429688434.6          unix seconds\n"
"        -5min                  relative to now: -30s, -5m, -2h, -1d ...\n"
"\n"
"OPTIONS\n"
"    --at TIME       the moment asked about (first form; required)\n"
"    --proto P       only tcp, udp or icmp\n"
"    --inside IP     the inside host (second form)\n"
"    --from TIME     the window's start (second form)\n"
"    --to TIME       the window's end (second form)\n"
"    --json          a JSON array of sessions: {\"proto\",\"external\",\n"
"                    \"inside\",\"key\",\"start\",\"end\",\"expires\",\"active\",\n"
"                    \"added\",\"removed\",\"merged\"}; times unix seconds,\n"
"                    end null while active; commits as `gitnet log --json`\n"
"                    ({\"id\",\"time\",\"unix\",\"parents\",\"subject\",\"causes\",\n"
"                    \"conflicts\"}) or null\n"
"    --help          this text\n"
"\n"
"EXIT STATUS\n"
"    0 found (for --inside: listed, possibly nothing); 1 no session held\n"
"    IP:PORT at TIME (\"no session\" on stderr; with --json the array is\n"
"    empty), no commit that old, or git failed; 2 bad usage, a malformed\n"
"    endpoint or TIME, or not a gitnet repository.\n"
"\n"
"EXAMPLES\n"
"    gitnet who 203.0.113.1:61001 --proto udp --at 2026-11-22T10:00:25Z\n"
"    gitnet who 203.0.113.1:61001 --at @1795341625 --json\n"
"    gitnet who --inside 192.168.1.2 --from -1h --json | jq '.[].external'\n";

static const struct {
	const char	*name;
	uint8_t		proto;
} protos[] = {
	{ "tcp", IPPROTO_TCP }, { "udp", IPPROTO_UDP }, { "icmp", IPPROTO_ICMP },
};

#define NPROTO	(sizeof(protos) / sizeof(protos[0]))

static const char *
proto_name(uint8_t p)
{
	for (size_t i = 0; i < NPROTO; i++)
		if (protos[i].proto == p)
			return protos[i].name;
	return "?";
}

/*
 * Primary's first-parent line as store_first_parents() gives it, newest
 * first; indexed oldest first through L(): L(l, 0) is the oldest commit
 * read, L(l, n - 1) the head. Reaching further back appends at the end of
 * v (no copy of what was read), which moves every oldest-first index up
 * by as much.
 */
struct line {
	struct store_fp	*v;
	size_t		n;
};

#define L(l, i)	(&(l)->v[(l)->n - 1 - (i)])

/* The line from primary down to the first commit before since. */
static int
line_load(struct line *l, struct store_reader *r, int64_t since)
{
	if (store_first_parents(&l->v, &l->n, r, NULL, since) < 0)
		return tool_err(TOOL_EXIT_FAIL, "who", "%s", tool_storemsg());
	return 0;
}

/* Reach further back, down to the first commit before since: how many
 * commits were put in front (indexes move by that much), or -1. */
static long
line_extend(struct line *l, struct store_reader *r, int64_t since)
{
	struct store_fp *more, *v;
	size_t n;

	if (l->n == 0 || L(l, 0)->time < since || L(l, 0)->nparent == 0)
		return 0;
	if (store_first_parents(&more, &n, r, &L(l, 0)->id, since) < 0)
		return tool_err(-1, "who", "%s", tool_storemsg());
	if (n <= 1) {
		free(more);
		return 0;
	}
	/* more[0] is the oldest we had: append more[1..n), older still. */
	if ((v = realloc(l->v, (l->n + n - 1) * sizeof(*v))) == NULL) {
		free(more);
		return tool_err(-1, "who", "out of memory");
	}
	memcpy(v + l->n, more + 1, (n - 1) * sizeof(*v));
	free(more);
	l->v = v;
	l->n += n - 1;
	return (long)(n - 1);
}

/* One session: a mapping of one inside endpoint with one created. */
struct session {
	char		key[64];
	struct store_nat nat;		/* as last seen */
	bool		active;		/* still at primary's head */
	bool		has_add, has_remove, has_merge;
	struct store_oid add, remove, merge;
	int64_t		end;		/* the remover's time */
};

/* The mapping at key in commit id: 1 present (into *nat), 0 absent, -1 error. */
static int
nat_at(struct store_nat *nat, struct store_reader *r, const struct store_oid *id,
    const char *key)
{
	struct store_item it;
	char *text = NULL;
	size_t len;
	int rc;

	if ((rc = store_read_file(&text, &len, NULL, r, id, key)) < 0)
		return tool_err(-1, "who", "%s", tool_storemsg());
	if (rc == 1)
		return 0;
	rc = store_item_decode(&it, key, text, len);
	free(text);
	if (rc < 0 || it.e.table != EV_TABLE_NAT)
		return tool_err(-1, "who", "%s", tool_storemsg());
	*nat = it.e.nat;
	return 1;
}

/* Whether commit id holds session s: 1, 0, or -1 on error. */
static int
holds(struct store_reader *r, const struct store_oid *id, const struct session *s,
    struct store_nat *now)
{
	struct store_nat n;
	int rc = nat_at(&n, r, id, s->key);

	if (rc <= 0)
		return rc;
	if (n.created_us != s->nat.created_us || n.ext_ip != s->nat.ext_ip ||
	    n.ext_port != s->nat.ext_port)
		return 0;
	if (now != NULL)
		*now = n;
	return 1;
}

/*
 * The session s, held at L(l, *t), to both its ends: the first commit of
 * the stretch holding it (the add) and the first after it that does not
 * (the removal; for a tick merge, the tick commit behind it).
 */
static int
session_ends(struct session *s, struct line *l, size_t *t, struct store_reader *r)
{
	size_t lo, hi;
	long moved;
	int rc;

	/* The add: the line must reach before the second of created. */
	if ((moved = line_extend(l, r, (int64_t)(s->nat.created_us / 1000000))) < 0)
		return -1;
	*t += (size_t)moved;
	lo = 0;
	hi = *t;		/* holds at hi; find the first that does */
	if ((rc = holds(r, &L(l, 0)->id, s, NULL)) < 0)
		return -1;
	if (rc == 1) {
		s->has_add = false;	/* older than the kept history */
	} else {
		while (hi - lo > 1) {
			size_t mid = lo + (hi - lo) / 2;

			if ((rc = holds(r, &L(l, mid)->id, s, NULL)) < 0)
				return -1;
			if (rc == 1)
				hi = mid;
			else
				lo = mid;
		}
		s->has_add = true;
		s->add = L(l, hi)->id;
	}
	/*
	 * The removal: after *t, up to the head (l->n: never removed). Gallop
	 * from *t first: sessions end soon after, where the trees are warm.
	 */
	lo = *t;
	for (size_t step = 1;; step *= 2) {
		struct store_nat n;

		hi = lo + step < l->n ? lo + step : l->n;
		if (hi == l->n)
			break;
		if ((rc = holds(r, &L(l, hi)->id, s, &n)) < 0)
			return -1;
		if (rc == 0)
			break;
		lo = hi;
		s->nat = n;
	}
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		struct store_nat n;

		if ((rc = holds(r, &L(l, mid)->id, s, &n)) < 0)
			return -1;
		if (rc == 1) {
			lo = mid;
			s->nat = n;		/* the latest version seen */
		} else {
			hi = mid;
		}
	}
	if (hi == l->n) {
		s->active = true;
		return 0;
	}
	s->has_remove = true;
	s->remove = L(l, hi)->id;
	s->end = L(l, hi)->time;
	if (L(l, hi)->nparent >= 2) {
		struct store_commit *c;

		/* A merge: did its second side (a tick) remove it? */
		if ((rc = holds(r, &L(l, hi)->parent2, s, NULL)) < 0)
			return -1;
		if (rc == 0 && store_commit_read(&c, r, &L(l, hi)->parent2) == 0) {
			s->has_merge = true;
			s->merge = L(l, hi)->id;
			s->remove = L(l, hi)->parent2;
			s->end = c->committer.time;
			store_commit_free(c);
		}
	}
	return 0;
}

static char *
iso_us(char buf[40], uint64_t us)
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;
	char base[32];

	gmtime_r(&t, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, 40, "%s.%06uZ", base, (unsigned)(us % 1000000));
	return buf;
}

static void
endpoint(char *buf, size_t cap, uint32_t ip, uint16_t port)
{
	snprintf(buf, cap, "%u.%u.%u.%u:%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255,
	    ip & 255, port);
}

static void
commit_line(struct store_reader *r, const char *what, bool has,
    const struct store_oid *id)
{
	struct store_commit *c;
	char hex[STORE_OID_HEXSZ + 1], iso[32];

	if (!has) {
		printf("%-8s -\n", what);
		return;
	}
	if (store_commit_read(&c, r, id) < 0) {
		printf("%-8s %s\n", what, store_oid_fmt(hex, id));
		return;
	}
	printf("%-8s %s %s %s\n", what, store_oid_fmt(hex, id),
	    tool_iso(iso, c->committer.time), c->summary);
	store_commit_free(c);
}

static void
commit_json(struct store_reader *r, const char *what, bool has,
    const struct store_oid *id)
{
	struct store_commit *c;
	char hex[STORE_OID_HEXSZ + 1];

	printf(",\"%s\":", what);
	if (!has) {
		fputs("null", stdout);
	} else if (store_commit_read(&c, r, id) < 0) {
		printf("{\"id\":\"%s\"}", store_oid_fmt(hex, id));
	} else {
		fputc('{', stdout);
		tool_commit_json(stdout, c);
		fputc('}', stdout);
		store_commit_free(c);
	}
}

static void
session_print(struct store_reader *r, const struct session *s, bool json, bool first)
{
	char ext[32], in[32], iso[40];
	const struct store_nat *n = &s->nat;

	endpoint(ext, sizeof(ext), n->ext_ip, n->ext_port);
	endpoint(in, sizeof(in), n->in_ip, n->in_port);
	if (json) {
		fputs(first ? "\n  {" : ",\n  {", stdout);
		printf("\"proto\":\"%s\",\"external\":\"%s\",\"inside\":\"%s\",\"key\":",
		    proto_name(n->proto), ext, in);
		tool_json_str(stdout, s->key);
		fputs(",\"start\":", stdout);
		tool_json_time(stdout, n->created_us);
		if (s->has_remove)
			printf(",\"end\":%lld", (long long)s->end);
		else
			fputs(",\"end\":null", stdout);
		fputs(",\"expires\":", stdout);
		tool_json_time(stdout, n->expires_us);
		printf(",\"active\":%s", s->active ? "true" : "false");
		commit_json(r, "added", s->has_add, &s->add);
		commit_json(r, "removed", s->has_remove, &s->remove);
		commit_json(r, "merged", s->has_merge, &s->merge);
		fputc('}', stdout);
		return;
	}
	if (!first)
		fputc('\n', stdout);
	printf("session  %s %s\n", proto_name(n->proto), ext);
	printf("inside   %s\n", in);
	printf("key      %s\n", s->key);
	printf("start    %s\n", iso_us(iso, n->created_us));
	if (s->has_remove)
		printf("end      %s\n", tool_iso(iso, s->end));
	else
		printf("end      active\n");
	printf("expires  %s\n", n->expires_us ? iso_us(iso, n->expires_us) : "never");
	commit_line(r, "added", s->has_add, &s->add);
	commit_line(r, "removed", s->has_remove, &s->remove);
	if (s->has_merge)
		commit_line(r, "merged", true, &s->merge);
}

/* --- who IP:PORT --at TIME --- */

struct scan {
	uint32_t	ip;
	uint16_t	port;
	unsigned	protos;		/* bit i: protos[i] */
	struct session	found[NPROTO * 4];
	size_t		n;
};

static int
scan_one(void *ctx, const struct store_item *it)
{
	struct scan *s = ctx;
	const struct store_nat *n = &it->e.nat;

	if (n->ext_ip != s->ip || n->ext_port != s->port)
		return 0;
	for (size_t i = 0; i < NPROTO; i++)
		if (protos[i].proto == n->proto && (s->protos & 1u << i) &&
		    s->n < sizeof(s->found) / sizeof(s->found[0])) {
			struct session *f = &s->found[s->n++];

			memset(f, 0, sizeof(*f));
			snprintf(f->key, sizeof(f->key), "%s", it->path);
			f->nat = *n;
		}
	return 0;
}

static int
who_at(struct store_reader *r, uint32_t ip, uint16_t port, unsigned pmask,
    uint64_t at, const char *at_arg, bool json)
{
	struct line l = { NULL, 0 };
	struct scan *s;
	char hex[STORE_OID_HEXSZ + 1], ext[32], iso[40];
	size_t t = 0;
	int rc;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return tool_err(TOOL_EXIT_FAIL, "who", "out of memory");
	s->ip = ip;
	s->port = port;
	s->protos = pmask;
	if ((rc = line_load(&l, r, (int64_t)(at / 1000000) + 1)) != 0)
		goto done;
	if (l.n == 0 || L(&l, 0)->time > (int64_t)(at / 1000000)) {
		rc = tool_err(TOOL_EXIT_FAIL, "who", "no commit on primary at or before "
		    "%s (the oldest kept is %s)", at_arg, l.n ? tool_iso(iso,
		    L(&l, 0)->time) : "none");
		goto done;
	}
	/* L(&l, 0) is the commit of TIME. */
	if ((rc = tool_load(r, &L(&l, 0)->id, TOOL_NAT, scan_one, NULL, s, "who")) != 0)
		goto done;
	if (s->n == 0) {
		endpoint(ext, sizeof(ext), ip, port);
		if (json)
			fputs("[]\n", stdout);
		rc = tool_err(TOOL_EXIT_FAIL, "who", "no session held %s%s%s at %s "
		    "(commit %s)", pmask == 7 ? "" : protos[__builtin_ctz(pmask)].name,
		    pmask == 7 ? "" : " ", ext, iso_us(iso, at), store_oid_fmt(hex,
		    &L(&l, 0)->id));
		goto done;
	}
	for (size_t i = 0; i < s->n; i++) {
		size_t ti = t;

		if (session_ends(&s->found[i], &l, &ti, r) < 0) {
			rc = TOOL_EXIT_FAIL;
			goto done;
		}
		/* Later sessions index from the same commit, moved by the extension. */
		t = ti;
	}
	if (json)
		fputs("[", stdout);
	for (size_t i = 0; i < s->n; i++)
		session_print(r, &s->found[i], json, i == 0);
	if (json)
		fputs("\n]\n", stdout);
	rc = 0;
done:
	free(l.v);
	free(s);
	return rc;
}

/* --- who --inside IP --- */

struct sessions {
	struct session	*v;
	size_t		n, cap;
	/* diff context */
	struct store_reader *r;
	struct line	*l;
	size_t		i;		/* the commit being read */
};

static struct session *
session_new(struct sessions *ss)
{
	if (ss->n == ss->cap) {
		struct session *v = realloc(ss->v, (ss->cap = ss->cap ? 2 * ss->cap : 64) *
		    sizeof(*v));

		if (v == NULL)
			return NULL;
		ss->v = v;
	}
	memset(&ss->v[ss->n], 0, sizeof(ss->v[0]));
	return &ss->v[ss->n++];
}

/* The open session at key (the last one opened there), or NULL. */
static struct session *
session_open(struct sessions *ss, const char *key)
{
	for (size_t i = ss->n; i-- > 0;)
		if (strcmp(ss->v[i].key, key) == 0)
			return ss->v[i].has_remove || ss->v[i].active ? NULL : &ss->v[i];
	return NULL;
}

/* Close s at commit l[i]: removed there, or by the tick behind a merge. */
static void
session_close(struct sessions *ss, struct session *s)
{
	const struct store_fp *c = L(ss->l, ss->i);
	struct store_commit *t;

	s->has_remove = true;
	s->remove = c->id;
	s->end = c->time;
	if (c->nparent >= 2 && holds(ss->r, &c->parent2, s, NULL) == 0 &&
	    store_commit_read(&t, ss->r, &c->parent2) == 0) {
		s->has_merge = true;
		s->merge = c->id;
		s->remove = c->parent2;
		s->end = t->committer.time;
		store_commit_free(t);
	}
}

static int
inside_diff(void *ctx, const char *path, const char *old, size_t olen,
    const char *new_, size_t nlen)
{
	struct sessions *ss = ctx;
	struct store_item it;
	struct session *s = session_open(ss, path);

	(void)old;
	(void)olen;
	if (new_ != NULL && store_item_decode(&it, path, new_, nlen) < 0)
		return tool_err(TOOL_EXIT_FAIL, "who", "%s", tool_storemsg());
	if (s != NULL && (new_ == NULL || it.e.nat.created_us != s->nat.created_us ||
	    it.e.nat.ext_ip != s->nat.ext_ip || it.e.nat.ext_port != s->nat.ext_port)) {
		session_close(ss, s);	/* gone, or another session now */
		s = NULL;
	}
	if (new_ == NULL)
		return 0;
	if (s != NULL) {		/* the same session, refreshed */
		s->nat = it.e.nat;
		return 0;
	}
	if ((s = session_new(ss)) == NULL)
		return tool_err(TOOL_EXIT_FAIL, "who", "out of memory");
	snprintf(s->key, sizeof(s->key), "%s", path);
	s->nat = it.e.nat;
	s->has_add = true;
	s->add = L(ss->l, ss->i)->id;
	return 0;
}

static int
start_cmp(const void *a, const void *b)
{
	const struct session *x = a, *y = b;

	if (x->nat.created_us != y->nat.created_us)
		return x->nat.created_us < y->nat.created_us ? -1 : 1;
	return strcmp(x->key, y->key);
}

static int
who_inside(struct store_reader *r, uint32_t ip, unsigned pmask, bool has_from,
    uint64_t from, bool has_to, uint64_t to, bool json)
{
	struct line l = { NULL, 0 };
	struct sessions ss = { .r = r, .l = &l };
	char dirs[NPROTO][64];
	struct store_oid prev[NPROTO] = { { { 0 } } };
	bool had[NPROTO] = { false };
	size_t t1 = 0, t2;
	int rc;

	for (size_t p = 0; p < NPROTO; p++)
		snprintf(dirs[p], sizeof(dirs[p]), "nat/%s/%u.%u.%u/%u", protos[p].name,
		    ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
	if ((rc = line_load(&l, r, has_from ? (int64_t)(from / 1000000) + 1 :
	    INT64_MIN)) != 0)
		goto done;
	if (l.n == 0)
		goto print;
	t2 = l.n - 1;
	if (has_to) {
		while (t2 > 0 && L(&l, t2)->time > (int64_t)(to / 1000000))
			t2--;
		if (L(&l, t2)->time > (int64_t)(to / 1000000))
			goto print;	/* the window ends before the history */
	}
	/*
	 * At the first commit every mapping of the host opens a session; at
	 * each later one where the host's directory changed, the files that
	 * differ from the commit before open, refresh or close sessions.
	 */
	for (ss.i = t1; ss.i <= t2; ss.i++) {
		for (size_t p = 0; p < NPROTO; p++) {
			struct store_oid id;
			bool present;

			if (!(pmask & 1u << p))
				continue;
			if ((rc = store_path_oid(&id, NULL, r, &L(&l, ss.i)->tree, dirs[p])) < 0) {
				rc = tool_err(TOOL_EXIT_FAIL, "who", "%s", tool_storemsg());
				goto done;
			}
			present = rc == 0;
			if (present == had[p] && (!present || store_oid_equal(&id, &prev[p])))
				continue;	/* unchanged */
			if ((rc = store_diff(r, ss.i == t1 ? NULL : &L(&l, ss.i - 1)->id,
			    &L(&l, ss.i)->id, dirs[p], inside_diff, &ss)) != 0) {
				if (rc < 0)
					rc = tool_err(TOOL_EXIT_FAIL, "who", "%s", tool_storemsg());
				goto done;
			}
			had[p] = present;
			prev[p] = id;
		}
		if (ss.i == t1)
			for (size_t k = 0; k < ss.n; k++)
				ss.v[k].has_add = false;	/* may be older: searched below */
	}
	/*
	 * Sessions open at either end of the window: find both their ends on
	 * the whole line (held at t1 when open there, else at t2).
	 */
	for (size_t k = 0; k < ss.n; k++) {
		struct session *s = &ss.v[k];
		size_t t = s->has_add ? t2 : t1, n0 = l.n;

		if (s->has_add && s->has_remove)
			continue;
		s->has_add = s->has_remove = s->has_merge = s->active = false;
		if (session_ends(s, &l, &t, r) < 0) {
			rc = TOOL_EXIT_FAIL;
			goto done;
		}
		t1 += l.n - n0;		/* the line may have grown in front */
		t2 += l.n - n0;
	}
print:
	if (ss.n > 1)
		qsort(ss.v, ss.n, sizeof(ss.v[0]), start_cmp);
	if (json)
		fputs("[", stdout);
	for (size_t k = 0; k < ss.n; k++)
		session_print(r, &ss.v[k], json, k == 0);
	if (json)
		fputs(ss.n ? "\n]\n" : "]\n", stdout);
	rc = 0;
done:
	free(ss.v);
	free(l.v);
	return rc;
}

/* --- arguments --- */

static int
usage_err(const char *fmt, const char *arg)
{
	fprintf(stderr, "gitnet: who: ");
	fprintf(stderr, fmt, arg);
	fputs(" (usage: who IP:PORT --at TIME [--proto P] [--json] | who --inside IP "
	    "[--from TIME] [--to TIME] [--json])\n", stderr);
	return TOOL_EXIT_USAGE;
}

/* "IP:PORT" into ip and port: 0, or -1. */
static int
endpoint_parse(uint32_t *ip, uint16_t *port, const char *s)
{
	char buf[64], *colon, *end;
	unsigned long p;

	if (strlen(s) >= sizeof(buf))
		return -1;
	snprintf(buf, sizeof(buf), "%s", s);
	if ((colon = strrchr(buf, ':')) == NULL)
		return -1;
	*colon = '\0';
	if (ipv4_pton(buf, ip) != 0 || colon[1] < '0' || colon[1] > '9')
		return -1;
	p = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || p > 65535)
		return -1;
	*port = (uint16_t)p;
	return 0;
}

int
cmd_who(const char *repo, int argc, char **argv)
{
	const char *ep = NULL, *at = NULL, *proto = NULL, *inside = NULL;
	const char *from = NULL, *to = NULL;
	bool json = false;
	struct store_reader *r = NULL;
	uint64_t t_at = 0, t_from = 0, t_to = 0, now = tool_now_us();
	uint32_t ip = 0;
	uint16_t port = 0;
	unsigned pmask = (1u << NPROTO) - 1;
	int rc;

	/* By hand: "-5min" is a TIME, which getopt would take for options. */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], **val = NULL, *eq;
		static const struct { const char *name; int which; } valopts[] = {
			{ "--at", 0 }, { "--proto", 1 }, { "--inside", 2 }, { "--from", 3 },
			{ "--to", 4 },
		};

		if (strcmp(a, "--json") == 0) {
			json = true;
			continue;
		}
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(help, stdout);
			return 0;
		}
		for (size_t k = 0; k < sizeof(valopts) / sizeof(valopts[0]); k++) {
			size_t n = strlen(valopts[k].name);
			const char **slots[] = { &at, &proto, &inside, &from, &to };

			if (strncmp(a, valopts[k].name, n) != 0 || (a[n] != '\0' && a[n] != '='))
				continue;
			val = slots[valopts[k].which];
			if (*val != NULL)
				return usage_err("'%s' given twice", valopts[k].name);
			if (a[n] == '=') {
				eq = a + n + 1;
			} else if (i + 1 < argc) {
				eq = argv[++i];
			} else {
				return usage_err("'%s' needs a value", a);
			}
			*val = eq;
			break;
		}
		if (val != NULL)
			continue;
		if (a[0] == '-')
			return tool_err(TOOL_EXIT_USAGE, "who", "unknown option '%s' (see "
			    "gitnet help who)", a);
		if (ep != NULL)
			return usage_err("unexpected argument '%s'", a);
		ep = a;
	}
	if (proto != NULL) {
		pmask = 0;
		for (size_t k = 0; k < NPROTO; k++)
			if (strcmp(proto, protos[k].name) == 0)
				pmask = 1u << k;
		if (pmask == 0)
			return tool_err(TOOL_EXIT_USAGE, "who", "unknown protocol '%s' (want "
			    "tcp, udp or icmp)", proto);
	}
	if (inside != NULL) {
		if (ep != NULL || at != NULL)
			return usage_err("%s", "--inside takes no IP:PORT and no --at");
		if (ipv4_pton(inside, &ip) != 0)
			return tool_err(TOOL_EXIT_USAGE, "who", "'%s' is not an IPv4 address",
			    inside);
	} else {
		if (from != NULL || to != NULL)
			return usage_err("%s", "--from and --to go with --inside");
		if (ep == NULL)
			return usage_err("%s", "missing IP:PORT");
		if (endpoint_parse(&ip, &port, ep) < 0)
			return tool_err(TOOL_EXIT_USAGE, "who", "'%s' is not an IPv4 "
			    "endpoint IP:PORT", ep);
		if (at == NULL)
			return usage_err("%s", "missing --at TIME");
	}
	{
		const char *args[] = { at, from, to };
		uint64_t *outs[] = { &t_at, &t_from, &t_to };

		for (size_t k = 0; k < 3; k++)
			if (args[k] != NULL && tool_time_parse(outs[k], args[k], now) < 0)
				return tool_err(TOOL_EXIT_USAGE, "who", "malformed time '%s' "
				    "(want 2026-11-22T10:00:00Z, @1429688434.6 or -5min)", args[k]);
	}
	if (from != NULL && to != NULL && t_from > t_to)
		return tool_err(TOOL_EXIT_USAGE, "who", "--from is after --to");
	if ((rc = tool_repo_open(&r, repo, "who")) != 0)
		return rc;
	if (inside != NULL)
		rc = who_inside(r, ip, pmask, from != NULL, t_from, to != NULL, t_to, json);
	else
		rc = who_at(r, ip, port, pmask, t_at, at, json);
	store_reader_free(r);
	return rc;
}

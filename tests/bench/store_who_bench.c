/* SPDX-License-Identifier: ISC */
/*
 * The audit query over a day of history (issue 12, DESIGN.md section 6):
 *
 *	BENCH who_query_ms_1day <ms> ms		median wall time of
 *		`gitnet who EXT:PORT --proto P --at T` (the whole command:
 *		process start, reader open, the query) over 20 random sessions
 *		spread across the day, each answer checked against the truth
 *	BENCH who_tool_floor_ms <ms> ms	`gitnet branch` on the same
 *		repository: what any command costs (process, libgit2, reader)
 *	BENCH who_query_ms_1day_no_commit_graph <ms> ms	the same without
 *		objects/info/commit-graph (median of the first 5 queries)
 *	BENCH who_1day_repo_bytes <n> B		the repository for that day
 *		(objects/, as the store's own group commits left it)
 *	BENCH who_1day_flows <n> flows, who_1day_commits <n> commits
 *	BENCH who_1day_generate_s <s> s		how long writing the day took
 *
 * The day is written directly with the store's writer, in the router's own
 * commit shape: 200 new flows a second (17.28 M a day) recorded into the
 * journal and group-committed on primary every --window-ms (default
 * 1000: one commit a second of 200 adds; the router's default window of
 * 100 ms makes ten commits of 20), and an expiry tick every second
 * (store_tick: a commit on expire_<t> removing what expired, merged into
 * primary). Committer times follow the simulated clock. The objects are
 * flushed as a pack every 10 simulated seconds (the router flushes every
 * window; this only changes how many small packs get merged), without
 * fsync. No repack: repository bytes are before any compaction.
 *
 * Flows: 1000 inside hosts in 100.64.0.0/22, each using its own source
 * ports in turn (32768-60999); 95 % UDP living 10 s (the issue's
 * workload: --udp-timeout 10), 5 % TCP living 120 s. External endpoints
 * come from a pool of 4 addresses, ports 1024-65535 allocated in turn, so
 * each external endpoint is reused by about 67 sessions a day: the query
 * must tell them apart by time. About 3,100 mappings are live at any time.
 *
 * On this 2-core machine, shared, writing the day took 65 minutes (7.5 GB,
 * 259 k commits; most of it the store merging its packs) and the queries
 * a few seconds: `make bench` runs it in full, --quick for an hour.
 *
 * --quick writes one hour instead (720 k flows) and prints the same names
 * with "(quick: 1 hour)" after the unit. --hours N writes N hours.
 * --reuse DIR queries a repository an earlier --keep DIR run wrote (the
 * same flows: the generator is deterministic), rewriting its graph.
 * The repository lives in /tmp/store_who_bench.* and is removed at the
 * end (--keep DIR: write it there and keep it). GITNET=PATH picks the tool
 * (default build/gitnet).
 */
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"

#define T0		1795305600000000ULL	/* 2026-11-22T00:00:00Z */
#define RATE		200			/* new flows a second */
#define HOSTS		1000
#define POOL		4
#define NQUERY		20
#define NQUERY_SLOW	5

/* The truth about one session, kept for checking answers. */
struct flow {
	uint32_t	in_ip, ext_ip;
	uint16_t	in_port, ext_port;
	uint8_t		proto;
	uint64_t	created, expires;
};

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint32_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

static double
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *what)
{
	fprintf(stderr, "store_who_bench: %s: %s\n", what, store_strerror());
	exit(1);
}

static int
dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
ip_fmt(char *buf, size_t cap, uint32_t ip)
{
	snprintf(buf, cap, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255,
	    ip & 255);
}

/* Write the history: seconds simulated seconds; returns the flows made. */
static struct flow *
generate(const char *path, unsigned seconds, unsigned window_ms, size_t *nflows,
    unsigned long *ncommits)
{
	struct store_opts o;
	struct store *st;
	struct flow *fl;
	uint16_t host_port[HOSTS];
	uint32_t ext_next = 0;
	size_t n = 0;
	unsigned slots = 1000 / window_ms;

	store_opts_default(&o);
	o.router_id = "bench";
	o.fsync = false;
	o.batch_max = 1u << 30;
	st = NULL;
	if (path != NULL && store_open(&st, path, &o) != 0)
		die(path);
	if ((fl = malloc((size_t)seconds * RATE * sizeof(*fl))) == NULL)
		die("malloc");
	for (unsigned h = 0; h < HOSTS; h++)
		host_port[h] = (uint16_t)(32768 + rnd() % 28232);
	*ncommits = 0;
	for (unsigned s = 0; s < seconds; s++) {
		uint64_t sec = T0 + (uint64_t)s * 1000000;

		for (unsigned k = 0; k < RATE; k++) {
			struct store_change c;
			struct flow *f = &fl[n++];
			unsigned h = rnd() % HOSTS, slot = k * slots / RATE;

			f->proto = rnd() % 20 == 0 ? IPPROTO_TCP : IPPROTO_UDP;
			f->in_ip = 0x64400000 | (h / 250) << 8 | (h % 250 + 2);
			f->in_port = host_port[h];
			host_port[h] = host_port[h] >= 60999 ? 32768 : host_port[h] + 1;
			f->ext_ip = 0xcb007101 + ext_next / 64512 % POOL;
			f->ext_port = (uint16_t)(1024 + ext_next % 64512);
			ext_next++;
			/* Created within its commit's window, before the commit. */
			f->created = sec + (uint64_t)slot * window_ms * 1000 +
			    (uint64_t)(k % (RATE / slots)) * window_ms * 1000 /
			    (RATE / slots);
			f->expires = f->created + (f->proto == IPPROTO_UDP ? 10 : 120) *
			    1000000ULL;
			memset(&c, 0, sizeof(c));
			c.op = EV_ADD;
			c.cause = EV_CAUSE_NAT_OUTBOUND;
			c.now_us = f->created;
			c.e.table = EV_TABLE_NAT;
			c.e.nat.proto = f->proto;
			c.e.nat.in_ip = f->in_ip;
			c.e.nat.in_port = f->in_port;
			c.e.nat.ext_ip = f->ext_ip;
			c.e.nat.ext_port = f->ext_port;
			c.e.nat.nremote = 1;
			c.e.nat.remote[0] = (struct store_nat_remote){ 0xc6336400 | rnd() % 250,
			    f->proto == IPPROTO_UDP ? 53 : 443, STORE_NAT_ESTABLISHED, 0 };
			c.e.nat.created_us = f->created;
			c.e.nat.expires_us = f->expires;
			if (st == NULL)
				continue;	/* --reuse: the truth only */
			if (store_record(st, &c) != 0)
				die("record");
			if (k + 1 == RATE || (k + 1) * slots / RATE != slot) {
				/* the window closes: one group commit */
				if (store_commit(st, sec + (uint64_t)(slot + 1) * window_ms *
				    1000 - 1, NULL) < 0)
					die("commit");
				(*ncommits)++;
			}
		}
		if (st == NULL)
			continue;
		/* The expiry tick at the end of the second: branch, merge. */
		switch (store_tick(st, sec + 999999)) {
		case 0:
			*ncommits += 2;
			break;
		case 1:
			break;
		default:
			die("tick");
		}
		if (s % 10 == 9 && store_flush(st) != 0)
			die("flush");
		if (s % 3600 == 3599)
			fprintf(stderr, "store_who_bench: %u h written\n", (s + 1) / 3600);
	}
	if (st != NULL && store_close(st) != 0)
		die("close");
	*nflows = n;
	return fl;
}

static uint64_t
du(const char *path)
{
	char cmd[400], out[64] = "";
	FILE *p;

	snprintf(cmd, sizeof(cmd), "du -sb %s/objects | cut -f1", path);
	if ((p = popen(cmd, "r")) == NULL || fgets(out, sizeof(out), p) == NULL)
		die("du");
	pclose(p);
	return strtoull(out, NULL, 10);
}

/* Run the tool on one session; check its inside endpoint. Wall ms or -1. */
static double
query(const char *tool, const char *repo, const struct flow *f, uint64_t at)
{
	char ext[64], in[64], want[80], cmd[1024], line[512];
	bool found = false;
	double t0, ms;
	FILE *p;

	ip_fmt(ext, sizeof(ext), f->ext_ip);
	ip_fmt(in, sizeof(in), f->in_ip);
	snprintf(want, sizeof(want), "inside   %s:%u\n", in, f->in_port);
	snprintf(cmd, sizeof(cmd), "%s --repo %s who %s:%u --proto %s --at @%llu.%06llu",
	    tool, repo, ext, f->ext_port, f->proto == IPPROTO_UDP ? "udp" : "tcp",
	    (unsigned long long)(at / 1000000), (unsigned long long)(at % 1000000));
	t0 = mono();
	if ((p = popen(cmd, "r")) == NULL)
		die("popen");
	while (fgets(line, sizeof(line), p) != NULL)
		if (strcmp(line, want) == 0)
			found = true;
	if (pclose(p) != 0 || !found) {
		fprintf(stderr, "store_who_bench: wrong answer (want '%.*s'): %s\n",
		    (int)strlen(want) - 1, want, cmd);
		return -1;
	}
	ms = (mono() - t0) * 1e3;
	return ms;
}

static double
median(double *v, unsigned n)
{
	qsort(v, n, sizeof(v[0]), dbl_cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* nq sessions from anywhere in the day, asked about mid-life. */
static int
queries(const char *tool, const char *repo, const struct flow *fl, size_t nflows,
    double *ms, unsigned nq, const uint64_t *seed)
{
	int rc = 0;

	rng = *seed;
	for (unsigned q = 0; q < nq; q++) {
		const struct flow *f = &fl[(size_t)rnd() * 65536 % nflows];
		uint64_t at = f->created + (f->expires - f->created) / 2;

		if ((ms[q] = query(tool, repo, f, at)) < 0) {
			rc = 1;
			ms[q] = 1e9;
		}
	}
	return rc;
}

/* Commits on primary's first-parent line: what a query may walk. */
static size_t
line_length(const char *path)
{
	struct store_reader *r;
	struct store_fp *v;
	size_t n;

	if (store_reader_open(&r, path) != 0 ||
	    store_first_parents(&v, &n, r, NULL, INT64_MIN) != 0)
		die(path);
	free(v);
	store_reader_free(r);
	return n;
}

/* What the store's idle compaction does for the query: the commit-graph. */
static void
graph_write(const char *path)
{
	struct store_opts o;
	struct store *st;

	store_opts_default(&o);
	o.router_id = "bench";
	o.fsync = false;
	o.create = false;
	if (store_open(&st, path, &o) != 0)
		die(path);
	if (store_graph_write(st) != 0)
		die("commit-graph");
	if (store_close(st) != 0)
		die("close");
}

int
main(int argc, char **argv)
{
	const char *tool = getenv("GITNET") ? getenv("GITNET") : "build/gitnet";
	const char *keep = NULL, *note = "";
	bool reuse = false;
	unsigned hours = 24, window_ms = 1000, seconds = 0;
	char dir[256], path[300];
	unsigned long ncommits;
	struct flow *fl;
	size_t nflows;
	double t0, gen_s, graph_s, ms[NQUERY], ms0[NQUERY_SLOW];
	char graph[400];
	double floor_ms[NQUERY];
	uint64_t rng0;
	int rc = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0)
			hours = 1;
		else if (strcmp(argv[i], "--hours") == 0 && i + 1 < argc)
			hours = (unsigned)atoi(argv[++i]);
		else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
			seconds = (unsigned)atoi(argv[++i]);
		else if (strcmp(argv[i], "--window-ms") == 0 && i + 1 < argc)
			window_ms = (unsigned)atoi(argv[++i]);
		else if (strcmp(argv[i], "--keep") == 0 && i + 1 < argc)
			keep = argv[++i];
		else if (strcmp(argv[i], "--reuse") == 0 && i + 1 < argc)
			keep = argv[++i], reuse = true;
		else {
			fprintf(stderr, "usage: store_who_bench [--quick] [--hours N] "
			    "[--window-ms MS] [--keep DIR]\n");
			return 2;
		}
	}
	if (hours == 0 || window_ms == 0 || window_ms > 1000 || 1000 % window_ms != 0 ||
	    RATE % (1000 / window_ms) != 0) {
		fprintf(stderr, "store_who_bench: --window-ms must divide 1000 (and 200 "
		    "flows)\n");
		return 2;
	}
	if (access(tool, X_OK) != 0) {
		fprintf(stderr, "store_who_bench: %s not built\n", tool);
		return 1;
	}
	if (keep != NULL) {
		snprintf(path, sizeof(path), "%s", keep);
	} else {
		snprintf(dir, sizeof(dir), "/tmp/store_who_bench.XXXXXX");
		if (mkdtemp(dir) == NULL)
			die("mkdtemp");
		snprintf(path, sizeof(path), "%s/state.git", dir);
	}
	if (seconds != 0) {
		static char buf[64];

		snprintf(buf, sizeof(buf), " (only %u seconds)", seconds);
		note = buf;
	} else if (hours != 24) {
		static char buf[64];

		snprintf(buf, sizeof(buf), " (%s: %u hour%s)", hours == 1 ? "quick" : "only",
		    hours, hours == 1 ? "" : "s");
		note = buf;
	}
	t0 = mono();
	fl = generate(reuse ? NULL : path, seconds ? seconds : hours * 3600, window_ms,
	    &nflows, &ncommits);
	gen_s = mono() - t0;
	rng0 = rng;
	/*
	 * The same queries without (the first NQUERY_SLOW: each walks the
	 * commit objects, seconds over a day), then with the commit-graph.
	 */
	snprintf(graph, sizeof(graph), "%s/objects/info/commit-graph", path);
	unlink(graph);
	rc |= queries(tool, path, fl, nflows, ms0, NQUERY_SLOW, &rng0);
	t0 = mono();
	graph_write(path);
	graph_s = mono() - t0;
	rc |= queries(tool, path, fl, nflows, ms, NQUERY, &rng0);
	for (unsigned q = 0; q < NQUERY; q++) {
		/* Any command's floor: process, libgit2, reader open, the refs. */
		char cmd[700];

		snprintf(cmd, sizeof(cmd), "%s --repo %s branch >/dev/null", tool, path);
		t0 = mono();
		if (system(cmd) != 0)
			die("gitnet branch");
		floor_ms[q] = (mono() - t0) * 1e3;
	}
	printf("BENCH who_query_ms_1day %.1f ms%s\n", median(ms, NQUERY), note);
	printf("BENCH who_tool_floor_ms %.1f ms%s\n", median(floor_ms, NQUERY), note);
	printf("BENCH who_query_ms_1day_no_commit_graph %.1f ms%s\n", median(ms0, NQUERY_SLOW), note);
	printf("BENCH who_1day_repo_bytes %llu B%s\n", (unsigned long long)du(path), note);
	printf("BENCH who_1day_flows %zu flows%s\n", nflows, note);
	if (!reuse)
		printf("BENCH who_1day_commits %lu commits%s\n", ncommits, note);
	printf("BENCH who_1day_first_parent_commits %zu commits%s\n", line_length(path),
	    note);
	if (!reuse)
		printf("BENCH who_1day_generate_s %.0f s%s\n", gen_s, note);
	printf("BENCH who_1day_commit_graph_s %.1f s%s\n", graph_s, note);
	fprintf(stderr, "store_who_bench: query ms min %.1f median %.1f max %.1f "
	    "(without the graph: %.1f %.1f %.1f), window %u ms\n", ms[0], median(ms, NQUERY),
	    ms[NQUERY - 1], ms0[0], median(ms0, NQUERY_SLOW), ms0[NQUERY_SLOW - 1], window_ms);
	free(fl);
	if (keep == NULL) {
		char cmd[400];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			rc = 1;
	}
	return rc;
}

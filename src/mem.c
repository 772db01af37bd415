/* SPDX-License-Identifier: ISC */
/*
 * Memory: the RAM figure and what the router sizes from it (mem.h has the
 * policy and its figures).
 *
 * The cgroup is looked up as systemd and container runtimes leave it: the
 * router's own path from /proc/self/cgroup ("0::/path" for v2, "N:memory:
 * /path" for v1, or a list of controllers holding memory), under the usual
 * mount points (/sys/fs/cgroup, /sys/fs/cgroup/unified for v2;
 * /sys/fs/cgroup/memory for v1), then each ancestor up to the mount's root:
 * a limit on a parent binds the router as much as one on its own group. In
 * a cgroup namespace the path is "/" and the root's file is the
 * container's. A file that is missing or unreadable is no limit.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>

#include "netfn/event.h"
#include "src/mem.h"

#define MIB			(1024ull * 1024)
#define MEM_NAT_MIN		1024u
#define MEM_RING_MAX		65536u		/* state_opts_default's */
#define MEM_RING_MIN		1024u
#define MEM_FRAME		2048u		/* io_packet's default slot */
#define MEM_RX_MAX		4096u		/* io_packet's defaults */
#define MEM_TX_MAX		2048u
#define MEM_RX_MIN		256u
#define MEM_TX_MIN		128u

const char *
mem_source_name(enum mem_source s)
{
	switch (s) {
	case MEM_FLAG:		return "flag";
	case MEM_SYSTEM:	return "system";
	case MEM_CGROUP:	return "cgroup";
	}
	return "?";
}

void
mem_plan(struct mem_plan *p, const struct router_config *c, uint64_t ram,
    enum mem_source source)
{
	struct nat_params q = c->nat_params;
	unsigned n_ext = 1 + c->n_nat_pool;
	uint64_t ring = ram / 64 / sizeof(struct nf_event), pk = ram / 32 / MEM_FRAME;

	memset(p, 0, sizeof(*p));
	p->ram = ram;
	p->source = source;
	p->nat_auto = !c->nat_max_sessions_set;
	p->nat_sessions = q.max_sessions;
	if (p->nat_auto)
		p->nat_sessions = nat_sessions_fit(&q, n_ext, (size_t)(ram / 3),
		    MEM_NAT_MIN < q.max_sessions ? MEM_NAT_MIN : q.max_sessions,
		    q.max_sessions);
	q.max_sessions = p->nat_sessions;
	p->nat_bytes = c->nat ? nat_bytes_for(&q, n_ext) : 0;

	/* The largest power of two that fits, within MIN..MAX. */
	p->ring_events = MEM_RING_MIN;
	while (p->ring_events < MEM_RING_MAX && p->ring_events * 2ull <= ring)
		p->ring_events *= 2;

	/* Two thirds of the slots to receive, as the defaults have. */
	p->rx_frames = pk * 2 / 3 < MEM_RX_MAX ? (unsigned)(pk * 2 / 3) : MEM_RX_MAX;
	p->tx_frames = pk / 3 < MEM_TX_MAX ? (unsigned)(pk / 3) : MEM_TX_MAX;
	if (p->rx_frames < MEM_RX_MIN)
		p->rx_frames = MEM_RX_MIN;
	if (p->tx_frames < MEM_TX_MIN)
		p->tx_frames = MEM_TX_MIN;
}

uint64_t
mem_parse_limit(const char *text)
{
	unsigned long long v;
	char *end;

	while (*text == ' ' || *text == '\t')
		text++;
	if (text[0] < '0' || text[0] > '9')
		return UINT64_MAX;		/* "max", or nothing we know */
	v = strtoull(text, &end, 10);
	if (*end != '\0' && *end != '\n')
		return UINT64_MAX;
	/* v1 writes "no limit" as LONG_MAX rounded down to a page. */
	if (v >= (1ull << 62))
		return UINT64_MAX;
	return (uint64_t)v;
}

/* The first line of root/path, or "" when it cannot be read. */
static void
read_line(char *buf, size_t cap, const char *root, const char *path)
{
	char full[4096];
	FILE *f;

	buf[0] = '\0';
	if ((size_t)snprintf(full, sizeof(full), "%s%s", root, path) >= sizeof(full) ||
	    (f = fopen(full, "re")) == NULL)
		return;
	if (fgets(buf, (int)cap, f) == NULL)
		buf[0] = '\0';
	fclose(f);
}

/*
 * The lowest limit in file name of dir/cg and each of its ancestors up to
 * dir itself (cg starts with '/').
 */
static uint64_t
limit_up(const char *root, const char *dir, const char *cg, const char *name)
{
	char path[4096], line[64];
	uint64_t best = UINT64_MAX, v;
	size_t n;

	if ((size_t)snprintf(path, sizeof(path), "%s%s", dir, cg) >= sizeof(path))
		return best;
	for (;;) {
		n = strlen(path);
		while (n > strlen(dir) && path[n - 1] == '/')
			path[--n] = '\0';
		snprintf(path + n, sizeof(path) - n, "/%s", name);
		read_line(line, sizeof(line), root, path);
		if ((v = mem_parse_limit(line)) < best)
			best = v;
		path[n] = '\0';
		if (n <= strlen(dir))
			break;
		while (n > strlen(dir) && path[n - 1] != '/')
			path[--n] = '\0';
	}
	return best;
}

/* Whether the comma-separated controller list s[0..n) names memory. */
static bool
has_memory(const char *s, size_t n)
{
	const char *end = s + n;

	while (s < end) {
		const char *comma = memchr(s, ',', (size_t)(end - s));
		size_t k = (size_t)((comma ? comma : end) - s);

		if (k == 6 && memcmp(s, "memory", 6) == 0)
			return true;
		s += k + 1;
	}
	return false;
}

static uint64_t
cgroup_limit(const char *root)
{
	char full[4096], line[4096];
	uint64_t best = UINT64_MAX, v;
	FILE *f;

	if ((size_t)snprintf(full, sizeof(full), "%s/proc/self/cgroup", root) >= sizeof(full) ||
	    (f = fopen(full, "re")) == NULL)
		return best;
	/* "ID:CONTROLLERS:PATH" per hierarchy; v2's is "0::PATH". */
	while (fgets(line, sizeof(line), f) != NULL) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL, *nl;

		if (c2 == NULL || c2[1] != '/')
			continue;
		if ((nl = strchr(c2, '\n')) != NULL)
			*nl = '\0';
		if (c2 == c1 + 1 && strncmp(line, "0:", 2) == 0) {
			v = limit_up(root, "/sys/fs/cgroup", c2 + 1, "memory.max");
			best = v < best ? v : best;
			v = limit_up(root, "/sys/fs/cgroup/unified", c2 + 1, "memory.max");
			best = v < best ? v : best;
		} else if (has_memory(c1 + 1, (size_t)(c2 - c1 - 1))) {
			v = limit_up(root, "/sys/fs/cgroup/memory", c2 + 1,
			    "memory.limit_in_bytes");
			best = v < best ? v : best;
		}
	}
	fclose(f);
	return best;
}

uint64_t
mem_detect(const char *root, uint64_t sys_bytes, enum mem_source *source)
{
	struct sysinfo si;
	uint64_t cg;

	if (sys_bytes == 0 && sysinfo(&si) == 0)
		sys_bytes = (uint64_t)si.totalram * (si.mem_unit ? si.mem_unit : 1);
	if (sys_bytes == 0)
		sys_bytes = 1024 * MIB;		/* unknowable: assume a modest host */
	*source = MEM_SYSTEM;
	if ((cg = cgroup_limit(root)) < sys_bytes) {
		*source = MEM_CGROUP;
		return cg;
	}
	return sys_bytes;
}

/*
 * gitnet replay-pcap: run the netfn pipeline offline on a capture, with the
 * tables as they were at a revision and the capture's own timestamps as the
 * clock; write the frames the router would have sent to a pcap, and the
 * table changes as commits on a new branch starting at that revision.
 *
 *	gitnet replay-pcap FILE --at REV [-o OUT.pcap] [--branch NAME]
 *	    [--side inside|outside] [--inside-mac MAC] [--outside-mac MAC]
 *	    [--seed N] [--window MS]
 *
 * Conventions (a pcap carries no interface, the repository no MAC):
 *  - The capture is of one link, the inside one unless --side outside.
 *    Frames whose source MAC is the router's own on that link are what the
 *    router sent in the original run: they are skipped, counted, not fed.
 *  - Interface names, addresses and NAT come from REV's meta/router
 *    (`inside DEV A.B.C.D/PLEN`, `outside ...`, `nat on|off`), as the router
 *    wrote them at start. Routes, pool and port forwards are not recorded
 *    there; next hops off the connected subnets are unreachable here.
 *  - MACs: --inside-mac/--outside-mac, else the captured side's MAC is
 *    taken from the capture (the sender of an ARP packet from the router's
 *    address, or the destination of the first frame from the subnet to an
 *    address off it), and the other side gets 02:00:00:00:00:01/02.
 *  - The other link is not in the capture, so its next hops resolve only
 *    from the ARP entries restored from REV.
 *
 * Invariants: deterministic -- the pipeline's seed is fixed (--seed,
 * default 1), frames go in one at a time in file order, timers run at their
 * deadlines, commits are made every --window ms (default 100, the router's
 * group commit window) of capture time with committer time from the
 * capture and author "gitnet-replay", so two runs write byte-identical
 * output and identical commit ids. The repository must not be held by a
 * router: its lock is taken (store_open) for the whole run. Commits go
 * through the store on a scratch repository (a temporary directory whose
 * objects directory is a symlink to the repository's) whose primary starts
 * at REV: the store's packs land in the repository's own object directory,
 * the scratch refs are thrown away, and only the branch is created in the
 * repository, once every object it names is durable.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <git2.h>

#include "netfn/csum.h"
#include "netfn/pipeline.h"
#include "netfn/wire.h"
#include "src/state.h"
#include "store/store.h"
#include "tools/cmd.h"
#include "tools/tool.h"

#define RP_NAME		"replay-pcap"
#define PCAP_HDR	24
#define PCAP_REC	16
#define PCAP_SNAP_MAX	262144
#define RP_TX_CAP	1024
#define RP_EV_CAP	8192
#define RP_ARENA	(1u << 20)

/* One record of the capture, pointing into the file's bytes. */
struct rp_rec {
	uint64_t	ts_us;
	const uint8_t	*data;
	uint32_t	len;
};

struct rp_cap {
	uint8_t		*buf;
	size_t		size;
	struct rp_rec	*rec;
	size_t		n;
};

/* meta/router, as the router wrote it at start. */
struct rp_router {
	char		dev[2][16];
	uint32_t	addr[2];
	uint8_t		plen[2];
	bool		have[2];
	bool		nat;
};

struct rp_run {
	struct nf	*nf;
	struct store	*st;
	FILE		*out;
	struct nf_out	o;
	uint8_t		mac[2][ETH_ALEN];
	uint64_t	ntx[2], nev, ev_err, commits;
	uint64_t	first_pending;
	uint64_t	window_us;
	uint64_t	last_commit_us;
};

static void
rp_usage(FILE *f)
{
	fprintf(f,
	    "usage: gitnet replay-pcap FILE --at REV [-o OUT.pcap] [--branch NAME]\n"
	    "           [--side inside|outside] [--inside-mac MAC] [--outside-mac MAC]\n"
	    "           [--seed N] [--window MS]\n"
	    "\n"
	    "Run the router's pipeline offline on FILE (pcap, Ethernet) with the tables\n"
	    "as they were at REV and the capture's timestamps as the clock. Frames the\n"
	    "router would have sent go to OUT.pcap; table changes become commits on a\n"
	    "new branch NAME (default replay_<unix.usec>) starting at REV.\n"
	    "\n"
	    "  --side S        the link FILE was captured on (default inside); frames\n"
	    "                  the router itself sent on it are skipped\n"
	    "  --inside-mac M  the router's inside MAC (default: from the capture)\n"
	    "  --outside-mac M the router's outside MAC (default: from the capture)\n"
	    "  --seed N        the pipeline's random seed (default 1)\n"
	    "  --window MS     group commit window in capture time (default 100)\n"
	    "\n"
	    "Interfaces and NAT are read from REV's meta/router. The repository must\n"
	    "not be held by a running router. Exit 2 on bad usage or a corrupt pcap.\n");
}

static int
rp_parse_mac(uint8_t mac[ETH_ALEN], const char *s)
{
	unsigned v[ETH_ALEN];
	char tail;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4],
	    &v[5], &tail) != 6)
		return -1;
	for (int i = 0; i < ETH_ALEN; i++)
		mac[i] = (uint8_t)v[i];
	return 0;
}

static uint32_t
rp_get32(const uint8_t *p, bool swap)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return swap ? __builtin_bswap32(v) : v;
}

static unsigned
rp_get16(const uint8_t *p, bool swap)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return swap ? __builtin_bswap16(v) : v;
}

/*
 * Read and check a whole pcap. Every failure is exit 2 with the byte offset
 * where the file stops making sense.
 */
static int
rp_cap_read(struct rp_cap *c, const char *path)
{
	FILE *f;
	uint32_t magic, linktype;
	bool swap, nsec;
	size_t at, cap = 0;
	long sz;

	if ((f = fopen(path, "rb")) == NULL)
		return tool_err(2, RP_NAME, "%s: %s", path, strerror(errno));
	if (fseek(f, 0, SEEK_END) < 0 || (sz = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0) {
		fclose(f);
		return tool_err(2, RP_NAME, "%s: not a seekable file", path);
	}
	c->size = (size_t)sz;
	if ((c->buf = malloc(c->size ? c->size : 1)) == NULL ||
	    fread(c->buf, 1, c->size, f) != c->size) {
		fclose(f);
		return tool_err(2, RP_NAME, "%s: cannot read: %s", path, strerror(errno));
	}
	fclose(f);
	if (c->size < PCAP_HDR)
		return tool_err(2, RP_NAME, "%s: truncated pcap header at byte offset %zu (%zu of %d bytes)",
		    path, c->size, c->size, PCAP_HDR);
	memcpy(&magic, c->buf, 4);
	switch (magic) {
	case 0xa1b2c3d4: swap = false; nsec = false; break;
	case 0xd4c3b2a1: swap = true; nsec = false; break;
	case 0xa1b23c4d: swap = false; nsec = true; break;
	case 0x4d3cb2a1: swap = true; nsec = true; break;
	default:
		return tool_err(2, RP_NAME, "%s: bad pcap magic 0x%08x at byte offset 0 (pcapng is not "
		    "supported)", path, magic);
	}
	if (rp_get16(c->buf + 4, swap) != 2)
		return tool_err(2, RP_NAME, "%s: pcap version %u.%u at byte offset 4, want 2.4", path,
		    rp_get16(c->buf + 4, swap), rp_get16(c->buf + 6, swap));
	/* The top bits may carry FCS information (pcap-linktype); not Ethernet's. */
	linktype = rp_get32(c->buf + 20, swap) & 0x0fffffff;
	if (linktype != 1)
		return tool_err(2, RP_NAME, "%s: link type %u at byte offset 20, want 1 (Ethernet)",
		    path, linktype);
	for (at = PCAP_HDR; at < c->size;) {
		uint32_t sec, frac, incl;

		if (c->size - at < PCAP_REC)
			return tool_err(2, RP_NAME, "%s: truncated record header at byte offset %zu "
			    "(record %zu)", path, at, c->n + 1);
		sec = rp_get32(c->buf + at, swap);
		frac = rp_get32(c->buf + at + 4, swap);
		incl = rp_get32(c->buf + at + 8, swap);
		if (frac >= (nsec ? 1000000000u : 1000000u))
			return tool_err(2, RP_NAME, "%s: bad timestamp fraction %u at byte offset %zu "
			    "(record %zu)", path, frac, at + 4, c->n + 1);
		if (incl > PCAP_SNAP_MAX)
			return tool_err(2, RP_NAME, "%s: record length %u at byte offset %zu is "
			    "implausible (record %zu)", path, incl, at + 8, c->n + 1);
		if (c->size - at - PCAP_REC < incl)
			return tool_err(2, RP_NAME, "%s: truncated record data at byte offset %zu "
			    "(record %zu: %u bytes announced, %zu present)", path,
			    at + PCAP_REC, c->n + 1, incl, c->size - at - PCAP_REC);
		if (c->n == cap) {
			struct rp_rec *v;

			cap = cap ? cap * 2 : 1024;
			if ((v = realloc(c->rec, cap * sizeof(*v))) == NULL)
				return tool_err(1, RP_NAME, "out of memory");
			c->rec = v;
		}
		c->rec[c->n++] = (struct rp_rec){
			.ts_us = (uint64_t)sec * 1000000 + (nsec ? frac / 1000 : frac),
			.data = c->buf + at + PCAP_REC,
			.len = incl,
		};
		at += PCAP_REC + incl;
	}
	return 0;
}

static void
rp_cap_free(struct rp_cap *c)
{
	free(c->rec);
	free(c->buf);
}

/* "A.B.C.D/PLEN" */
static int
rp_parse_prefix(uint32_t *addr, uint8_t *plen, const char *s)
{
	unsigned a, b, c, d, p;
	char tail;

	if (sscanf(s, "%u.%u.%u.%u/%u%c", &a, &b, &c, &d, &p, &tail) != 5 ||
	    a > 255 || b > 255 || c > 255 || d > 255 || p > 32)
		return -1;
	*addr = a << 24 | b << 16 | c << 8 | d;
	*plen = (uint8_t)p;
	return 0;
}

/* Parse meta/router's text (see src/main.c router_state_open). */
static int
rp_router_parse(struct rp_router *r, const char *text, size_t len)
{
	char line[256];
	size_t i = 0;

	memset(r, 0, sizeof(*r));
	while (i < len) {
		size_t j = i;
		char w[16], dev[64], pfx[64];
		int side;

		while (j < len && text[j] != '\n')
			j++;
		snprintf(line, sizeof(line), "%.*s", (int)(j - i), text + i);
		i = j + 1;
		if (sscanf(line, "%15s", w) != 1)
			continue;
		if (strcmp(w, "nat") == 0) {
			r->nat = strcmp(line, "nat on") == 0;
			continue;
		}
		side = strcmp(w, "inside") == 0 ? 0 : strcmp(w, "outside") == 0 ? 1 : -1;
		if (side < 0)
			continue;
		if (sscanf(line, "%*s %63s %63s", dev, pfx) != 2 || strlen(dev) >= 16 ||
		    rp_parse_prefix(&r->addr[side], &r->plen[side], pfx) < 0)
			return -1;
		memcpy(r->dev[side], dev, strlen(dev) + 1);	/* < 16: checked */
		r->have[side] = true;
	}
	return r->have[0] && r->have[1] ? 0 : -1;
}

static bool
rp_in_subnet(uint32_t a, uint32_t net, uint8_t plen)
{
	uint32_t m = plen ? ~0u << (32 - plen) : 0;

	return (a & m) == (net & m);
}

/*
 * The router's MAC on the captured link: the sender of an ARP packet from
 * its address, or the destination of a frame from the subnet to an address
 * off it (which only the router forwards). 0 when found.
 */
static int
rp_mac_from_capture(uint8_t mac[ETH_ALEN], const struct rp_cap *c, uint32_t addr,
    uint8_t plen)
{
	for (size_t i = 0; i < c->n; i++) {
		const uint8_t *f = c->rec[i].data;
		uint32_t len = c->rec[i].len;
		uint16_t type;

		if (len < 14)
			continue;
		type = (uint16_t)(f[12] << 8 | f[13]);
		if (type == 0x0806 && len >= 42) {
			uint32_t spa = (uint32_t)f[28] << 24 | f[29] << 16 | f[30] << 8 | f[31];

			if (spa == addr) {
				memcpy(mac, f + 6, ETH_ALEN);
				return 0;
			}
		} else if (type == 0x0800 && len >= 34 && (f[0] & 1) == 0) {
			uint32_t src = (uint32_t)f[26] << 24 | f[27] << 16 | f[28] << 8 | f[29];
			uint32_t dst = (uint32_t)f[30] << 24 | f[31] << 16 | f[32] << 8 | f[33];

			if (rp_in_subnet(src, addr, plen) && !rp_in_subnet(dst, addr, plen) &&
			    src != addr) {
				memcpy(mac, f, ETH_ALEN);
				return 0;
			}
		}
	}
	return -1;
}

struct rp_restore {
	struct nf	*nf;
	uint64_t	now;
	unsigned	arp, nat, skipped;
};

/* One stored entry back into the pipeline, as state_restore does. */
static int
rp_restore_one(void *arg, const struct store_entry *e)
{
	struct rp_restore *r = arg;
	struct state_restored n = { 0 };

	/* Exactly what a restarting router does (src/state.c). */
	state_restore_entry(r->nf, e, r->now, &n);
	r->arp += n.arp;
	r->nat += n.nat;
	r->skipped += n.skipped;
	return 0;
}

static void
rp_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* Output: little-endian microsecond pcap, whatever the host, for identical bytes. */
static int
rp_pcap_header(FILE *f)
{
	uint8_t h[PCAP_HDR] = { 0 };

	rp_put32(h, 0xa1b2c3d4);
	h[4] = 2;
	h[6] = 4;
	rp_put32(h + 16, 65535);
	rp_put32(h + 20, 1);
	return fwrite(h, 1, sizeof(h), f) == sizeof(h) ? 0 : -1;
}

static int
rp_pcap_write(FILE *f, uint64_t ts_us, const uint8_t *d, uint16_t len)
{
	uint8_t h[PCAP_REC];

	rp_put32(h, (uint32_t)(ts_us / 1000000));
	rp_put32(h + 4, (uint32_t)(ts_us % 1000000));
	rp_put32(h + 8, len);
	rp_put32(h + 12, len);
	return fwrite(h, 1, sizeof(h), f) == sizeof(h) && fwrite(d, 1, len, f) == len ? 0 : -1;
}

/* Send what the last pipeline call produced: frames to the pcap, events to the store. */
static void
rp_drain(struct rp_run *r, uint64_t now)
{
	for (unsigned i = 0; i < r->o.ntx; i++) {
		const struct nf_frame *t = &r->o.tx[i];

		r->ntx[t->ifidx ? 1 : 0]++;
		if (r->out != NULL)
			rp_pcap_write(r->out, now, t->data, t->len);
	}
	for (unsigned i = 0; i < r->o.nev; i++) {
		if (store_pending(r->st) == 0)
			r->first_pending = r->o.ev[i].now_us;
		if (store_record_event(r->st, &r->o.ev[i]) < 0)
			r->ev_err++;
		r->nev++;
	}
	nf_out_reset(&r->o);
}

/*
 * The group commit of the router's writer, in capture time: what is pending
 * is committed once the window since its first change has passed (at that
 * instant, as the writer's poll would), or at the end (force).
 */
static int
rp_commit_due(struct rp_run *r, uint64_t now, bool force)
{
	uint64_t t;
	int e;

	if (store_pending(r->st) == 0)
		return 0;
	if (!force && now - r->first_pending < r->window_us)
		return 0;
	t = r->first_pending + r->window_us;
	if (t < r->last_commit_us)
		t = r->last_commit_us;
	if ((e = store_commit(r->st, t, NULL)) < 0)
		return tool_err(1, RP_NAME, "commit: %s", store_strerror());
	r->last_commit_us = t;
	r->commits += e == 0;
	return 0;
}

/* Timers due by t, each run at its own deadline. */
/*
 * A capture taken on a host's own interface (tcpdump on the sender's veth)
 * holds its TCP and UDP segments as the stack handed them to the device,
 * with CHECKSUM_PARTIAL: the checksum field carries only the pseudo-header
 * sum. The live router learns that from TP_STATUS_CSUMNOTREADY and
 * completes the sum; a pcap lost the flag, so recognise the shape (a wrong
 * checksum that is exactly the folded pseudo-header sum) and say so, or NAT,
 * which verifies checksums, would drop what the router once passed.
 */
static bool
rp_csum_partial(const uint8_t *f, size_t len)
{
	const uint8_t *ip = f + ETH_HLEN, *l4;
	size_t ihl, tot, off;
	uint32_t src, dst;
	uint16_t want;

	if (len < ETH_HLEN + IPV4_MIN_HLEN || load_be16(f + 12) != ETHERTYPE_IPV4 ||
	    ip[0] >> 4 != 4)
		return false;
	ihl = (size_t)(ip[0] & 0x0f) * 4;
	tot = load_be16(ip + 2);
	if (ihl < IPV4_MIN_HLEN || tot < ihl || ETH_HLEN + tot > len ||
	    (load_be16(ip + 6) & 0x3fff) != 0)
		return false;
	off = ip[9] == IPPROTO_TCP_ ? 16 : ip[9] == IPPROTO_UDP_ ? 6 : 0;
	if (off == 0 || tot - ihl < off + 2)
		return false;
	l4 = ip + ihl;
	src = load_be32(ip + 12);
	dst = load_be32(ip + 16);
	if (pkt_l4_csum_ok(ip[9], src, dst, l4, tot - ihl))
		return false;
	want = (uint16_t)~csum_fold(csum_pseudo(src, dst, ip[9], (uint16_t)(tot - ihl)));
	return load_be16(l4 + off) == want;
}

static int
rp_timers(struct rp_run *r, uint64_t *clock, uint64_t t)
{
	for (int i = 0; i < 100000; i++) {
		uint64_t dl = nf_next_deadline(r->nf), at;

		if (dl > t)
			break;
		at = dl > *clock ? dl : *clock;
		if (rp_commit_due(r, at, false) < 0)
			return -1;
		nf_tick(r->nf, at, &r->o);
		rp_drain(r, at);
		*clock = at;
		/* A deadline may be early (see arp_next_deadline): never spin on it. */
		if (nf_next_deadline(r->nf) <= at) {
			if (at < t) {
				nf_tick(r->nf, t, &r->o);
				rp_drain(r, t);
				*clock = t;
			}
			break;
		}
	}
	return 0;
}

static int
rp_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);		/* a symlink is removed, never followed */
	return 0;
}

/*
 * The scratch repository: bare, primary at rev, objects shared with the
 * repository at gitdir (a symlink), so the store's packs land there.
 */
static int
rp_scratch_make(char *dir, size_t cap, const char *gitdir, const git_oid *rev)
{
	git_repository *s = NULL;
	git_reference *ref = NULL;
	char objs[PATH_MAX + 16], path[PATH_MAX + 32], *real;
	const char *tmp = getenv("TMPDIR");
	int e;

	snprintf(dir, cap, "%s/gitnet-replay.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL)
		return tool_err(1, RP_NAME, "%s: %s", dir, strerror(errno));
	snprintf(objs, sizeof(objs), "%sobjects", gitdir);	/* gitdir ends in / */
	if ((real = realpath(objs, NULL)) == NULL)
		return tool_err(1, RP_NAME, "%s: %s", objs, strerror(errno));
	if ((e = git_repository_init(&s, dir, 1)) < 0) {
		free(real);
		return tool_err(1, RP_NAME, "scratch repository %s: %s", dir, tool_gitmsg());
	}
	git_repository_free(s);
	s = NULL;
	snprintf(path, sizeof(path), "%s/objects", dir);
	nftw(path, rp_rm_one, 16, FTW_DEPTH | FTW_PHYS);
	e = symlink(real, path);
	free(real);
	if (e < 0)
		return tool_err(1, RP_NAME, "%s: %s", path, strerror(errno));
	if (git_repository_open_ext(&s, dir, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0 ||
	    git_reference_create(&ref, s, "refs/heads/primary", rev, 1, "replay") < 0 ||
	    git_repository_set_head(s, "refs/heads/primary") < 0) {
		tool_err(1, RP_NAME, "scratch repository %s: %s", dir, tool_gitmsg());
		git_repository_free(s);
		return 1;
	}
	git_reference_free(ref);
	git_repository_free(s);
	return 0;
}

static void
rp_summary(const struct rp_run *r, const char *file, const char *rev_hex,
    const char *branch, const git_oid *head, uint64_t fed[2], uint64_t skipped,
    uint64_t big, const struct rp_restore *rs)
{
	const struct nf_stats *s = nf_stats(r->nf);
	char hex[GIT_OID_HEXSZ + 1];
	bool any = false;

	printf("replay-pcap: %s at %.12s\n", file, rev_hex);
	printf("restored: %u arp, %u nat sessions, %u skipped\n", rs->arp, rs->nat,
	    rs->skipped);
	printf("frames in: %llu (inside %llu, outside %llu), not fed: %llu sent by the "
	    "router, %llu oversize\n", (unsigned long long)(fed[0] + fed[1]),
	    (unsigned long long)fed[0], (unsigned long long)fed[1],
	    (unsigned long long)skipped, (unsigned long long)big);
	printf("frames out: %llu (inside %llu, outside %llu)\n",
	    (unsigned long long)(r->ntx[0] + r->ntx[1]), (unsigned long long)r->ntx[0],
	    (unsigned long long)r->ntx[1]);
	printf("forwarded: %llu, local: %llu, arp: %llu, icmp sent: %llu\n",
	    (unsigned long long)s->forwarded, (unsigned long long)s->local,
	    (unsigned long long)s->arp_in, (unsigned long long)s->icmp_sent);
	printf("drops:");
	for (int i = 1; i < DROP_MAX; i++)
		if (s->drop[i] != 0) {
			printf("%s %s %llu", any ? "," : "", drop_name((enum drop)i),
			    (unsigned long long)s->drop[i]);
			any = true;
		}
	printf("%s\n", any ? "" : " none");
	printf("events: %llu (%llu not recorded)\n", (unsigned long long)r->nev,
	    (unsigned long long)r->ev_err);
	printf("commits: %llu on %s (%s)\n", (unsigned long long)r->commits, branch,
	    git_oid_tostr(hex, sizeof(hex), head));
}

int
cmd_replay_pcap(const char *repo, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "at",		 required_argument, NULL, 'a' },
		{ "output",	 required_argument, NULL, 'o' },
		{ "branch",	 required_argument, NULL, 'b' },
		{ "side",	 required_argument, NULL, 's' },
		{ "inside-mac",	 required_argument, NULL, 'I' },
		{ "outside-mac", required_argument, NULL, 'O' },
		{ "seed",	 required_argument, NULL, 'S' },
		{ "window",	 required_argument, NULL, 'w' },
		{ "help",	 no_argument,	    NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *at = NULL, *outpath = NULL, *file;
	char branch[128] = "", refname[160], scratch[PATH_MAX] = "";
	char gitdir[PATH_MAX], rev_hex[GIT_OID_HEXSZ + 1];
	const char *ifnames[2];
	bool have_mac[2] = { false, false };
	uint64_t seed = 1, window_ms = 100, fed[2] = { 0, 0 }, skipped = 0, big = 0;
	uint64_t clock = 0;
	int side = 0, c, rc = 1, valid = 0;
	struct rp_cap cap = { 0 };
	struct rp_router rt;
	struct rp_run r = { 0 };
	struct rp_restore rs = { 0 };
	struct store *real = NULL;
	struct store_opts so;
	struct nf_config cfg;
	git_repository *g = NULL;
	git_object *obj = NULL;
	git_commit *commit = NULL;
	git_tree *tree = NULL;
	git_tree_entry *te = NULL;
	git_blob *blob = NULL;
	git_reference *ref = NULL;
	git_oid rev, head;
	uint8_t *frame = NULL;
	char *endp;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'a':
			at = optarg;
			break;
		case 'o':
			outpath = optarg;
			break;
		case 'b':
			snprintf(branch, sizeof(branch), "%s", optarg);
			break;
		case 's':
			if (strcmp(optarg, "inside") == 0)
				side = 0;
			else if (strcmp(optarg, "outside") == 0)
				side = 1;
			else
				return tool_err(2, RP_NAME, "--side: '%s' is neither inside nor outside",
				    optarg);
			break;
		case 'I':
		case 'O':
			if (rp_parse_mac(r.mac[c == 'O'], optarg) < 0)
				return tool_err(2, RP_NAME, "--%s-mac: '%s' is not a MAC address",
				    c == 'O' ? "outside" : "inside", optarg);
			have_mac[c == 'O'] = true;
			break;
		case 'S':
			errno = 0;
			seed = strtoull(optarg, &endp, 0);
			if (errno != 0 || *endp != '\0' || endp == optarg)
				return tool_err(2, RP_NAME, "--seed: '%s' is not a number", optarg);
			break;
		case 'w':
			errno = 0;
			window_ms = strtoull(optarg, &endp, 10);
			if (errno != 0 || *endp != '\0' || endp == optarg || window_ms > 3600000)
				return tool_err(2, RP_NAME, "--window: '%s' is not a number of ms", optarg);
			break;
		case 'h':
			rp_usage(stdout);
			return 0;
		default:
			return tool_badopt(RP_NAME, argv);
		}
	}
	if (optind + 1 != argc || at == NULL) {
		rp_usage(stderr);
		return 2;
	}
	file = argv[optind];
	if (branch[0] == '\0') {
		struct timeval tv;

		gettimeofday(&tv, NULL);
		snprintf(branch, sizeof(branch), "replay_%lld.%06ld", (long long)tv.tv_sec,
		    (long)tv.tv_usec);
	}
	snprintf(refname, sizeof(refname), "refs/heads/%s", branch);
	if (git_reference_name_is_valid(&valid, refname) < 0 || !valid ||
	    strcmp(branch, "primary") == 0)
		return tool_err(2, RP_NAME, "--branch: '%s' is not a valid new branch name", branch);
	if ((rc = rp_cap_read(&cap, file)) != 0)
		goto done;
	rc = 2;
	git_libgit2_init();
	if ((rc = tool_repo_open(&g, repo, RP_NAME)) != 0)
		goto done;
	rc = 2;
	snprintf(gitdir, sizeof(gitdir), "%s", git_repository_path(g));
	if (git_revparse_single(&obj, g, at) < 0 ||
	    git_object_peel((git_object **)&commit, obj, GIT_OBJECT_COMMIT) < 0) {
		tool_err(2, RP_NAME, "unknown revision '%s'", at);
		goto done;
	}
	git_oid_cpy(&rev, git_commit_id(commit));
	git_oid_tostr(rev_hex, sizeof(rev_hex), &rev);
	if (git_commit_tree(&tree, commit) < 0 ||
	    git_tree_entry_bypath(&te, tree, "meta/router") < 0 ||
	    git_blob_lookup(&blob, g, git_tree_entry_id(te)) < 0 ||
	    rp_router_parse(&rt, git_blob_rawcontent(blob), (size_t)git_blob_rawsize(blob)) < 0) {
		tool_err(2, RP_NAME, "%s: no router interfaces in meta/router (inside/outside lines)", at);
		goto done;
	}
	if (git_reference_lookup(&ref, g, refname) == 0) {
		tool_err(2, RP_NAME, "branch '%s' already exists", branch);
		goto done;
	}
	for (int i = 0; i < 2; i++) {
		if (have_mac[i])
			continue;
		if (i == side && rp_mac_from_capture(r.mac[i], &cap, rt.addr[i], rt.plen[i]) == 0)
			continue;
		if (i == side) {
			tool_err(2, RP_NAME, "%s: cannot tell the router's %s MAC from the capture; give "
			    "--%s-mac", file, i ? "outside" : "inside", i ? "outside" : "inside");
			goto done;
		}
		/* Not on the captured link: only in what the router sends there. */
		memcpy(r.mac[i], (const uint8_t[ETH_ALEN]){ 0x02, 0, 0, 0, 0, (uint8_t)(i + 1) },
		    ETH_ALEN);
	}

	/* The repository's lock, for the whole run: no router may write it meanwhile. */
	ifnames[0] = rt.dev[0];
	ifnames[1] = rt.dev[1];
	store_opts_default(&so);
	so.router_id = "gitnet-replay";
	so.ifnames = ifnames;
	so.n_ifnames = 2;
	so.create = false;
	if ((c = store_open(&real, repo, &so)) < 0) {
		rc = c == STORE_ELOCKED ? 1 : 2;
		tool_err(rc, RP_NAME, "%s%s", store_strerror(),
		    c == STORE_ELOCKED ? " (stop the router first)" : "");
		goto done;
	}

	rc = 1;
	nf_config_default(&cfg);
	cfg.n_iface = 2;
	for (int i = 0; i < 2; i++) {
		snprintf(cfg.iface[i].name, sizeof(cfg.iface[i].name), "%s", rt.dev[i]);
		memcpy(cfg.iface[i].mac, r.mac[i], ETH_ALEN);
		cfg.iface[i].addr = rt.addr[i];
		cfg.iface[i].plen = rt.plen[i];
	}
	cfg.nat = rt.nat;
	cfg.outside = 1;
	/* The router's defaults: its NAT options are not in meta/router. */
	nat_params_default(&cfg.nat_params);
	cfg.seed = seed;
	if ((r.nf = nf_new(&cfg)) == NULL) {
		tool_err(1, RP_NAME, "cannot create the pipeline for meta/router's interfaces");
		goto done;
	}
	clock = cap.n > 0 ? cap.rec[0].ts_us : (uint64_t)git_commit_time(commit) * 1000000;
	rs.nf = r.nf;
	rs.now = clock;
	if (store_load(real, &rev, rp_restore_one, &rs) < 0) {
		tool_err(1, RP_NAME, "loading %s: %s", at, store_strerror());
		goto done;
	}

	if (rp_scratch_make(scratch, sizeof(scratch), gitdir, &rev) != 0)
		goto done;
	so.fsync = true;
	if (store_open(&r.st, scratch, &so) < 0) {
		tool_err(1, RP_NAME, "scratch store: %s", store_strerror());
		goto done;
	}
	if (outpath != NULL && ((r.out = fopen(outpath, "wb")) == NULL ||
	    rp_pcap_header(r.out) < 0)) {
		tool_err(1, RP_NAME, "%s: %s", outpath, strerror(errno));
		goto done;
	}
	r.window_us = window_ms * 1000;
	r.o.tx = calloc(RP_TX_CAP, sizeof(*r.o.tx));
	r.o.tx_cap = RP_TX_CAP;
	r.o.arena = malloc(RP_ARENA);
	r.o.arena_cap = RP_ARENA;
	r.o.ev = calloc(RP_EV_CAP, sizeof(*r.o.ev));
	r.o.ev_cap = RP_EV_CAP;
	if ((frame = malloc(65536)) == NULL || r.o.tx == NULL || r.o.arena == NULL ||
	    r.o.ev == NULL) {
		tool_err(1, RP_NAME, "out of memory");
		goto done;
	}

	for (size_t i = 0; i < cap.n; i++) {
		const struct rp_rec *rec = &cap.rec[i];
		/* A capture's clock may step back a little; ours never does. */
		uint64_t t = rec->ts_us > clock ? rec->ts_us : clock;
		struct nf_frame f;

		if (rec->len >= 12 && memcmp(rec->data + 6, r.mac[side], ETH_ALEN) == 0) {
			skipped++;	/* the router's own output in the original run */
			continue;
		}
		if (rec->len > 65535) {
			big++;
			continue;
		}
		if (rp_timers(&r, &clock, t) < 0 || rp_commit_due(&r, t, false) < 0)
			goto done;
		clock = t;
		memcpy(frame, rec->data, rec->len);
		f = (struct nf_frame){ frame, (uint16_t)rec->len, (uint8_t)side,
		    rp_csum_partial(frame, rec->len) ? NF_F_CSUM_PARTIAL : 0 };
		fed[side]++;
		nf_input(r.nf, &f, 1, t, &r.o);
		rp_drain(&r, t);
	}
	if (rp_commit_due(&r, clock, true) < 0)
		goto done;
	if (store_flush(r.st) < 0) {
		tool_err(1, RP_NAME, "flush: %s", store_strerror());
		goto done;
	}
	git_oid_cpy(&head, store_head(r.st));
	if (r.out != NULL && fflush(r.out) != 0) {
		tool_err(1, RP_NAME, "%s: %s", outpath, strerror(errno));
		goto done;
	}

	/* Every object is in a pack of the repository now: name the branch. */
	git_reference_free(ref);
	ref = NULL;
	git_repository_free(g);
	if (git_repository_open_ext(&g, repo, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0 ||
	    git_reference_create(&ref, g, refname, &head, 0, "gitnet: replay-pcap") < 0) {
		tool_err(1, RP_NAME, "creating branch %s: %s", branch, tool_gitmsg());
		goto done;
	}
	rp_summary(&r, file, rev_hex, branch, &head, fed, skipped, big, &rs);
	rc = 0;
done:
	if (r.out != NULL && fclose(r.out) != 0 && rc == 0)
		rc = tool_err(1, RP_NAME, "%s: %s", outpath, strerror(errno));
	store_free(r.st);
	store_free(real);
	if (scratch[0] != '\0')
		nftw(scratch, rp_rm_one, 16, FTW_DEPTH | FTW_PHYS);
	nf_free(r.nf);
	free(r.o.tx);
	free(r.o.arena);
	free(r.o.ev);
	free(frame);
	git_reference_free(ref);
	git_blob_free(blob);
	git_tree_entry_free(te);
	git_tree_free(tree);
	git_commit_free(commit);
	git_object_free(obj);
	git_repository_free(g);
	rp_cap_free(&cap);
	git_libgit2_shutdown();
	return rc;
}

/* SPDX-License-Identifier: ISC */
/*
 * NAT44 tables and translation (contract and behaviour: nat.h).
 *
 * Storage, all from nat_new:
 *	maps[max_sessions]	mappings; free ones chained through hnext,
 *				those from map_hwm up never used
 *	map_bkt[2^k]		inside key (proto, int_ip, int_port) -> chain
 *				(a bucket holds its first slot + 1: 0 is empty)
 *	owner[ext][proto]	65536 x u32 each: external port -> mapping + 1
 *	sess[max_sessions]	sessions; free ones chained through next_in,
 *				those from sess_hwm up never used
 *	in_bkt[2^k]		(proto, int_ip, int_port, rem_ip, rem_port) -> chain
 *	out_bkt[2^k]		(proto, ext, ext_port, rem_ip, rem_port) -> chain
 *	hosts[2^h]		open addressing, inside ip -> session count
 *	frags[frag_max]		direct-mapped fragment translations
 *
 * Times inside the tables are u32 seconds since t0, the first `now` seen:
 * timeouts have one-second resolution. An expiry of 0 means never.
 *
 * Invariants: a mapping is in map_bkt and owner[][] iff in use; its sessions
 * are exactly those on its list (nsess of them); a non-static mapping with
 * no session is freed at once; hosts[ip] equals the sessions of ip's
 * mappings.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "csum.h"
#include "nat.h"
#include "rng.h"

#define NIL		UINT32_MAX
#define US		1000000ULL
#define MF_STATIC	0x01
#define MAP_WALK	64	/* sessions an event looks at for its mapping */
#define PORT_TRIES	1024	/* candidates a port search looks at, per parity */
#define NAT_RST_WINDOW	65535u	/* receive window a RST must fall in */

/* Session flags of our own, above the NAT_SF_* that are shown. */
#define SF_SHOWN	(NAT_SF_REPLIED | NAT_SF_INBOUND | NAT_SF_HALF)
#define SF_SEQ_IN	0x10	/* nxt[0] known: a segment from inside seen */
#define SF_SEQ_OUT	0x20	/* nxt[1] known: a segment from the remote seen */
#define SF_SYNACK	0x40	/* half-open TCP: the inside answered the SYN */

enum { P_TCP, P_UDP, P_ICMP, P_MAX };

/* What a translation needs from the transport header. */
struct l4key {
	int		pidx;
	uint16_t	sport, dport;	/* ICMP query: both the identifier */
	uint8_t		tcpfl;
	unsigned	sport_off, dport_off;
	/* TCP: the sequence space the segment covers, and its ack */
	uint32_t	seq, end, ack;
};

struct nat_map {
	uint32_t	int_ip;
	uint16_t	int_port, ext_port;
	uint8_t		pidx, ext_idx, flags, used;
	uint32_t	nsess;
	uint32_t	sess_head;	/* this mapping's sessions */
	uint32_t	hnext;		/* bucket chain, or free list */
	uint32_t	created;
	uint32_t	expires;	/* latest expiry reported in an event */
};

/*
 * A restored mapping's sessions that history counted but did not list
 * (past EV_NAT_REMOTES): left of them may still be picked up from unknown
 * remotes until until (nat_restore_unlisted). Rare, so kept beside the
 * mappings, sorted by map index, rather than in each.
 */
struct nat_unl {
	uint32_t	map, left, until;
};

/*
 * A session carries its whole translation, so the packet path finds it with
 * one hash lookup (by inside or by outside 5-tuple) and never touches the
 * mapping; the mapping matters when sessions are made and removed.
 */
struct nat_sess {
	uint32_t	int_ip, rem_ip;
	uint16_t	int_port, rem_port;
	uint16_t	ext_port;
	uint8_t		ext_idx, pidx;
	uint8_t		state, flags;	/* flags: NAT_SF_* and SF_* below */
	uint32_t	nxt[2];		/* TCP: next sequence number of each side */
	uint32_t	expires;
	uint32_t	reported;	/* expires as last told in an event */
	uint32_t	created;
	uint32_t	map;		/* NIL when free */
	uint32_t	next_in;	/* inside-tuple chain, or free list */
	uint32_t	next_out;	/* outside-tuple chain */
	uint32_t	mprev, mnext;	/* the mapping's list */
};

struct nat_host {
	uint32_t	ip;
	uint32_t	count;		/* 0: empty slot */
};

/* A half-open session in the FIFO of them (stale once promoted or gone). */
struct nat_half {
	uint32_t	sess;
	uint32_t	created;
};

struct nat_frag {
	uint32_t	src, dst;
	uint16_t	id;
	uint8_t		proto, out;	/* out: translated towards the outside */
	uint32_t	addr;		/* the replacement address */
	uint32_t	expires;
};

struct nat {
	struct nat_params p;
	uint32_t	ext[NAT_MAX_EXT];
	unsigned	n_ext;
	uint32_t	ext_lo, ext_hi;	/* smallest and largest of ext[] */
	uint64_t	t0;
	bool		t0_set;
	struct rng	rng;		/* RFC 6056 algorithm 3: key and counter */

	struct nat_map	*maps;
	uint32_t	map_free, nmaps;
	uint32_t	map_hwm;	/* slots from here up were never used */
	uint32_t	*map_bkt, map_mask;
	uint32_t	*owner[NAT_MAX_EXT][P_MAX];
	uint32_t	nowned[NAT_MAX_EXT][P_MAX][3];	/* ports taken, per class */

	struct nat_sess	*sess;
	uint32_t	sess_free, nsess;
	uint32_t	*in_bkt, *out_bkt, sess_mask;
	uint32_t	sweep;		/* next session nat_tick looks at */
	uint32_t	sess_hwm;	/* slots from here up were never used */

	struct nat_host	*hosts;
	uint32_t	host_mask;

	struct nat_half	*half;		/* ring of max_half_open, oldest at tail */
	uint32_t	half_tail, half_len;	/* entries, stale ones included */
	uint32_t	nhalf;		/* live half-open sessions */

	struct nat_frag	*frags;

	struct nat_unl	*unl;		/* sorted by map; left 0: unused */
	uint32_t	nunl, unl_cap;

	struct nat_stats st;
	size_t		bytes;
};

static const char *const tcp_names[] = {
#define NAT_TCP_NAME(sym, name) name,
	NAT_TCP_STATES(NAT_TCP_NAME)
#undef NAT_TCP_NAME
};

const char *
nat_tcp_state_name(enum nat_tcp_state s)
{
	return (unsigned)s < NAT_TCP_MAX ? tcp_names[s] : "?";
}

void
nat_params_default(struct nat_params *p)
{
	*p = (struct nat_params){
		.max_sessions = 1u << 20,
		.max_per_host = 16384,
		.udp_timeout_s = 300,
		.tcp_est_timeout_s = 7440,
		.tcp_trans_timeout_s = 240,
		.icmp_timeout_s = 60,
		.port_min = 1024,
		.port_max = 65535,
		.filtering = NAT_FILTER_ADDRESS_PORT,
		.frag_max = 1024,
		.frag_timeout_s = 5,
		.sweep_per_tick = 4096,
		.tcp_syn_recv_timeout_s = 60,
		.udp_unreplied_timeout_s = 30,
		.max_half_open = 16384,
	};
}

static uint32_t
mix(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ULL;
	k ^= k >> 33;
	return (uint32_t)k;
}

static uint32_t
map_hash(const struct nat *nat, uint8_t pidx, uint32_t ip, uint16_t port)
{
	return mix((uint64_t)ip << 32 | (uint32_t)port << 8 | pidx) & nat->map_mask;
}

/* Session tuple hash: one side's endpoint (ip or external index, port) and the remote. */
static uint32_t
tuple_hash(const struct nat *nat, int pidx, uint32_t ip, uint16_t port, uint32_t rip,
    uint16_t rport)
{
	uint64_t a = (uint64_t)ip << 32 | (uint32_t)port << 16 | rport;

	return mix(a ^ ((uint64_t)rip * 0x9e3779b97f4a7c15ULL) ^ (uint64_t)pidx << 60) &
	    nat->sess_mask;
}

static int
pidx_of(uint8_t proto)
{
	switch (proto) {
	case IPPROTO_TCP_:
		return P_TCP;
	case IPPROTO_UDP_:
		return P_UDP;
	case IPPROTO_ICMP_:
		return P_ICMP;
	default:
		return -1;
	}
}

static const uint8_t proto_of[P_MAX] = { IPPROTO_TCP_, IPPROTO_UDP_, IPPROTO_ICMP_ };

static uint32_t
pow2_at_least(uint64_t n)
{
	uint32_t v = 16;

	while (v < n && v < (1u << 31))
		v <<= 1;
	return v;
}

/*
 * What nat_new allocates for p with n_ext addresses, all from the same
 * arithmetic, so that nat_bytes_for tells a caller sizing the table from its
 * memory exactly what nat_bytes will then report.
 */
struct nat_sizes {
	uint32_t	nb;		/* buckets of each session and mapping index */
	uint32_t	nhosts;		/* slots of hosts[], 0: no per-host limit */
	uint32_t	nhalf;		/* max_half_open, its default applied */
};

static void
nat_sizes(struct nat_sizes *z, const struct nat_params *p)
{
	/* Twice the buckets of sessions: chains of one, mostly (load <= 0.5). */
	z->nb = pow2_at_least(2ULL * p->max_sessions);
	z->nhosts = p->max_per_host == 0 ? 0 :
	    pow2_at_least(2ULL * (p->max_sessions < (1u << 20) ? p->max_sessions : (1u << 20)));
	z->nhalf = p->max_half_open != 0 ? p->max_half_open : 16384;
}

size_t
nat_bytes_for(const struct nat_params *p, unsigned n_ext)
{
	struct nat_sizes z;

	nat_sizes(&z, p);
	return sizeof(struct nat) +
	    (size_t)p->max_sessions * (sizeof(struct nat_map) + sizeof(struct nat_sess)) +
	    (size_t)z.nb * 3 * sizeof(uint32_t) +
	    (size_t)p->frag_max * sizeof(struct nat_frag) +
	    (size_t)z.nhalf * sizeof(struct nat_half) +
	    (size_t)z.nhosts * sizeof(struct nat_host) +
	    (size_t)n_ext * P_MAX * 65536 * sizeof(uint32_t);
}

uint32_t
nat_sessions_fit(const struct nat_params *p, unsigned n_ext, size_t budget,
    uint32_t lo, uint32_t hi)
{
	struct nat_params q = *p;

	/* nat_bytes_for grows with max_sessions: bisect for the last that fits. */
	q.max_sessions = hi;
	if (nat_bytes_for(&q, n_ext) <= budget)
		return hi;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo + 1) / 2;

		q.max_sessions = mid;
		if (nat_bytes_for(&q, n_ext) <= budget)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

static void *
nat_calloc(struct nat *nat, size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (p != NULL)
		nat->bytes += n * size;
	return p;
}

struct nat *
nat_new(const struct nat_params *p, const uint32_t *ext, unsigned n_ext, uint64_t seed)
{
	struct nat *nat;
	struct nat_sizes z;
	uint32_t nb;

	if (p == NULL || ext == NULL || n_ext == 0 || n_ext > NAT_MAX_EXT ||
	    p->max_sessions == 0 || p->max_sessions > (1u << 26) ||
	    p->port_min == 0 || p->port_min > p->port_max ||
	    p->filtering > NAT_FILTER_ENDPOINT || p->frag_max == 0 ||
	    p->udp_timeout_s == 0 || p->tcp_est_timeout_s == 0 ||
	    p->tcp_trans_timeout_s == 0 || p->icmp_timeout_s == 0)
		return NULL;
	if ((nat = calloc(1, sizeof(*nat))) == NULL)
		return NULL;
	nat->bytes = sizeof(*nat);
	nat->p = *p;
	if (nat->p.sweep_per_tick == 0)
		nat->p.sweep_per_tick = 1;
	memcpy(nat->ext, ext, n_ext * sizeof(*ext));
	nat->n_ext = n_ext;
	nat->ext_lo = nat->ext_hi = ext[0];
	for (unsigned i = 1; i < n_ext; i++) {
		nat->ext_lo = ext[i] < nat->ext_lo ? ext[i] : nat->ext_lo;
		nat->ext_hi = ext[i] > nat->ext_hi ? ext[i] : nat->ext_hi;
	}
	if (nat->p.tcp_syn_recv_timeout_s == 0)
		nat->p.tcp_syn_recv_timeout_s = 60;
	if (nat->p.udp_unreplied_timeout_s == 0)
		nat->p.udp_unreplied_timeout_s = 30;
	if (nat->p.max_half_open == 0)
		nat->p.max_half_open = 16384;
	if (p->key[0] != 0 || p->key[1] != 0)
		rng_init(&nat->rng, p->key[0], p->key[1]);
	else
		rng_init(&nat->rng, seed ? seed : 0x9e3779b97f4a7c15ULL, 0);

	nat_sizes(&z, &nat->p);
	nb = z.nb;
	nat->map_mask = nat->sess_mask = nb - 1;
	nat->maps = nat_calloc(nat, p->max_sessions, sizeof(*nat->maps));
	nat->sess = nat_calloc(nat, p->max_sessions, sizeof(*nat->sess));
	nat->map_bkt = nat_calloc(nat, nb, sizeof(uint32_t));
	nat->in_bkt = nat_calloc(nat, nb, sizeof(uint32_t));
	nat->out_bkt = nat_calloc(nat, nb, sizeof(uint32_t));
	nat->frags = nat_calloc(nat, p->frag_max, sizeof(*nat->frags));
	nat->half = nat_calloc(nat, nat->p.max_half_open, sizeof(*nat->half));
	if (p->max_per_host > 0) {
		nat->host_mask = z.nhosts - 1;
		nat->hosts = nat_calloc(nat, nat->host_mask + 1ULL, sizeof(*nat->hosts));
	}
	if (nat->maps == NULL || nat->sess == NULL || nat->map_bkt == NULL ||
	    nat->in_bkt == NULL || nat->out_bkt == NULL || nat->frags == NULL ||
	    nat->half == NULL ||
	    (p->max_per_host > 0 && nat->hosts == NULL))
		goto fail;
	for (unsigned e = 0; e < n_ext; e++)
		for (int k = 0; k < P_MAX; k++)
			if ((nat->owner[e][k] = nat_calloc(nat, 65536, sizeof(uint32_t))) == NULL)
				goto fail;
	/*
	 * No slot is touched until it is first used (past the high-water
	 * marks), so a table sized for a million sessions costs pages only
	 * for those it holds: chaining every slot here made the router's
	 * whole table resident at start (93 MB by default) and, under QEMU
	 * TCG, took a guest's boot 0.1 s per 100 k slots.
	 */
	nat->map_free = nat->sess_free = NIL;
	return nat;
fail:
	nat_free(nat);
	return NULL;
}

void
nat_free(struct nat *nat)
{
	if (nat == NULL)
		return;
	for (unsigned e = 0; e < NAT_MAX_EXT; e++)
		for (int k = 0; k < P_MAX; k++)
			free(nat->owner[e][k]);
	free(nat->maps);
	free(nat->sess);
	free(nat->map_bkt);
	free(nat->in_bkt);
	free(nat->out_bkt);
	free(nat->hosts);
	free(nat->frags);
	free(nat->half);
	free(nat->unl);
	free(nat);
}

static int
ext_index(const struct nat *nat, uint32_t addr)
{
	if (addr < nat->ext_lo || addr > nat->ext_hi)
		return -1;		/* the common case, in two compares */
	for (unsigned i = 0; i < nat->n_ext; i++)
		if (nat->ext[i] == addr)
			return (int)i;
	return -1;
}

bool
nat_is_external(const struct nat *nat, uint32_t addr)
{
	return ext_index(nat, addr) >= 0;
}

/*
 * Seconds since t0. t0 is fixed by the first call, 2^30 s (34 years) before
 * it, so times restored from before the start are representable; u32
 * seconds then last another 100 years. t0 is a whole unix second: expiries
 * fall on whole seconds whenever the router started, so a replay of a
 * capture (which starts at its first frame) stores the same ones, and the
 * store's ticks (half past, src/state.c) stay clear of them.
 */
#define T0_BACK_S	(1ULL << 30)

static uint32_t
tsec(struct nat *nat, uint64_t now)
{
	if (!nat->t0_set) {
		nat->t0 = now > T0_BACK_S * US ? (now / US - T0_BACK_S) * US : 0;
		nat->t0_set = true;
	}
	return now <= nat->t0 ? 0 : (uint32_t)((now - nat->t0) / US);
}

/* now in seconds since t0, rounded up, given sec = tsec(now): no division. */
static uint32_t
sec_up(const struct nat *nat, uint64_t now, uint32_t sec)
{
	return now > nat->t0 + (uint64_t)sec * US ? sec + 1 : sec;
}

static uint64_t
t_us(const struct nat *nat, uint32_t s)
{
	return nat->t0 + (uint64_t)s * US;
}

/* ---- inside hosts ---------------------------------------------------- */

static struct nat_host *
host_slot(struct nat *nat, uint32_t ip)
{
	uint32_t i = mix(ip) & nat->host_mask;

	while (nat->hosts[i].count != 0 && nat->hosts[i].ip != ip)
		i = (i + 1) & nat->host_mask;
	return &nat->hosts[i];
}

static void
host_dec(struct nat *nat, uint32_t ip)
{
	struct nat_host *h;
	uint32_t i, j;

	if (nat->hosts == NULL)
		return;
	h = host_slot(nat, ip);
	if (h->count == 0 || --h->count > 0)
		return;
	/* Emptied: close the gap, as in the ARP cache (no tombstones). */
	i = (uint32_t)(h - nat->hosts);
	for (j = (i + 1) & nat->host_mask; nat->hosts[j].count != 0;
	    j = (j + 1) & nat->host_mask) {
		uint32_t home = mix(nat->hosts[j].ip) & nat->host_mask;

		if (((j - home) & nat->host_mask) >= ((j - i) & nat->host_mask)) {
			nat->hosts[i] = nat->hosts[j];
			i = j;
		}
	}
	nat->hosts[i].count = 0;
}

/*
 * Bucket heads hold their first slot's index + 1, so that an empty bucket
 * is 0 and the bucket arrays stay calloc's untouched zero pages until used
 * (filling them with NIL wrote 12 MB for a 512 k-session table at start).
 * NIL + 1 wraps to 0: the conversion is one add either way.
 */
static inline uint32_t
head_slot(uint32_t head)
{
	return head - 1;
}

static inline uint32_t
slot_head(uint32_t slot)
{
	return slot + 1;
}

/* ---- mappings -------------------------------------------------------- */

static struct nat_map *
map_find(const struct nat *nat, int pidx, uint32_t ip, uint16_t port)
{
	for (uint32_t i = head_slot(nat->map_bkt[map_hash(nat, (uint8_t)pidx, ip, port)]);
	    i != NIL; i = nat->maps[i].hnext) {
		struct nat_map *m = &nat->maps[i];

		if (m->int_ip == ip && m->int_port == port && m->pidx == pidx)
			return m;
	}
	return NULL;
}

static struct nat_map *
map_by_ext(const struct nat *nat, int ext_idx, int pidx, uint16_t port)
{
	uint32_t v = nat->owner[ext_idx][pidx][port];

	return v == 0 ? NULL : &nat->maps[v - 1];
}

/*
 * The port class of p, for the count of taken ports: 0 below 1024 (RFC 4787
 * REQ-3), 1 the configured range, 2 neither (a forward outside the range).
 */
static int
port_class(const struct nat *nat, uint16_t p)
{
	if (p < 1024)
		return 0;
	return p >= nat->p.port_min && p <= nat->p.port_max ? 1 : 2;
}

/*
 * An external port for inside port want: want itself when free (port
 * preservation), else RFC 6056 algorithm 3: the search starts at an offset
 * that a keyed hash (SipHash) of the inside endpoint gives, plus a counter
 * that moves on with every candidate, so an outsider who sees ports learns
 * neither the key nor the next port. Same parity first (RFC 4787 REQ-3's
 * parity recommendation), then any. The search is bounded (PORT_TRIES per
 * pass) and a full class is known from a count without looking: a new flow
 * costs O(1) even when every port is taken. 0 when none was found.
 */
static uint16_t
port_alloc(struct nat *nat, int ext_idx, int pidx, uint32_t ip, uint16_t want)
{
	const uint32_t *own = nat->owner[ext_idx][pidx];
	uint32_t lo, hi, n, off, tries;
	int cls = want < 1024 ? 0 : 1;

	/* ICMP identifiers follow the port classes too: an operator who
	 * narrows the range to share an address means it for every protocol. */
	if (cls == 0) {
		lo = 1;
		hi = 1023;
	} else {
		lo = nat->p.port_min;
		hi = nat->p.port_max;
	}
	if (want >= lo && want <= hi && own[want] == 0) {
		nat->st.ports_preserved++;
		return want;
	}
	n = hi - lo + 1;
	if (nat->nowned[ext_idx][pidx][cls] >= n)
		return 0;
	off = (uint32_t)rng_hash(nat->rng.k0, nat->rng.k1,
	    (uint64_t)ip << 32 | (uint32_t)want << 8 | (uint32_t)pidx << 4 |
	    (uint32_t)ext_idx);
	tries = n < PORT_TRIES ? n : PORT_TRIES;
	/* Pass 0 takes only want's parity, pass 1 anything. */
	for (int pass = 0; pass < 2; pass++) {
		for (uint32_t k = 0; k < tries; k++) {
			uint32_t p = lo + (uint32_t)((off + nat->rng.ctr++) % n);

			if (pass == 0 && (p & 1) != (want & 1u)) {
				p = p == hi ? lo : p + 1;
				if ((p & 1) != (want & 1u))
					continue;	/* wrapped onto the wrong parity */
			}
			if (own[p] == 0) {
				nat->st.ports_random++;
				return (uint16_t)p;
			}
		}
	}
	return 0;
}

static struct nat_map *
map_create(struct nat *nat, int pidx, uint32_t ip, uint16_t port, int ext_idx,
    uint16_t ext_port, uint32_t sec, enum drop *why)
{
	struct nat_map *m;
	uint32_t idx, b;

	if ((nat->map_free == NIL && nat->map_hwm >= nat->p.max_sessions) ||
	    nat->nmaps >= nat->p.max_sessions) {
		*why = DROP_NAT_TABLE_FULL;
		return NULL;
	}
	if (ext_idx < 0)	/* paired pooling: one external address per host */
		ext_idx = (int)(mix(ip) % nat->n_ext);
	if (ext_port == 0 && (ext_port = port_alloc(nat, ext_idx, pidx, ip, port)) == 0) {
		*why = DROP_NAT_PORTS;
		return NULL;
	}
	if (nat->owner[ext_idx][pidx][ext_port] != 0) {
		*why = DROP_NAT_PORTS;
		return NULL;
	}
	if (nat->map_free != NIL) {
		idx = nat->map_free;
		nat->map_free = nat->maps[idx].hnext;
	} else {
		idx = nat->map_hwm++;
	}
	m = &nat->maps[idx];
	*m = (struct nat_map){
		.int_ip = ip, .int_port = port, .ext_port = ext_port,
		.pidx = (uint8_t)pidx, .ext_idx = (uint8_t)ext_idx, .used = 1,
		.sess_head = NIL, .created = sec,
	};
	b = map_hash(nat, (uint8_t)pidx, ip, port);
	m->hnext = head_slot(nat->map_bkt[b]);
	nat->map_bkt[b] = slot_head(idx);
	nat->owner[ext_idx][pidx][ext_port] = idx + 1;
	nat->nowned[ext_idx][pidx][port_class(nat, ext_port)]++;
	nat->nmaps++;
	nat->st.mappings_created++;
	return m;
}

/* Mapping m's unlisted sessions (nat_restore_unlisted), or NULL. */
static struct nat_unl *
unl_find(const struct nat *nat, const struct nat_map *m)
{
	uint32_t mi = (uint32_t)(m - nat->maps), lo = 0, hi = nat->nunl;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (nat->unl[mid].map < mi)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < nat->nunl && nat->unl[lo].map == mi ? &nat->unl[lo] : NULL;
}

/* The unlisted sessions mapping m may still pick up at sec. */
static uint32_t
map_unlisted(const struct nat *nat, const struct nat_map *m, uint32_t sec)
{
	const struct nat_unl *u;

	if (nat->nunl == 0 || (u = unl_find(nat, m)) == NULL)
		return 0;
	return sec < u->until ? u->left : 0;
}

static void
map_delete(struct nat *nat, struct nat_map *m)
{
	uint32_t idx = (uint32_t)(m - nat->maps);
	uint32_t *head = &nat->map_bkt[map_hash(nat, m->pidx, m->int_ip, m->int_port)];

	if (head_slot(*head) == idx) {
		*head = slot_head(m->hnext);
	} else {
		uint32_t *pp = &nat->maps[head_slot(*head)].hnext;

		while (*pp != idx)
			pp = &nat->maps[*pp].hnext;
		*pp = m->hnext;
	}
	nat->owner[m->ext_idx][m->pidx][m->ext_port] = 0;
	nat->nowned[m->ext_idx][m->pidx][port_class(nat, m->ext_port)]--;
	m->used = 0;
	if (nat->nunl > 0) {		/* the slot's next mapping is another */
		struct nat_unl *u = unl_find(nat, m);

		if (u != NULL)
			u->left = 0;
	}
	m->hnext = nat->map_free;
	nat->map_free = idx;
	nat->nmaps--;
	nat->st.mappings_removed++;
}

/* ---- sessions -------------------------------------------------------- */

/* The session of inside endpoint (ip, port) with remote (rip, rport). */
static struct nat_sess *
find_in(const struct nat *nat, int pidx, uint32_t ip, uint16_t port, uint32_t rip,
    uint16_t rport)
{
	for (uint32_t i = head_slot(nat->in_bkt[tuple_hash(nat, pidx, ip, port, rip, rport)]);
	    i != NIL; i = nat->sess[i].next_in) {
		struct nat_sess *s = &nat->sess[i];

		if (s->int_ip == ip && s->rem_ip == rip && s->int_port == port &&
		    s->rem_port == rport && s->pidx == pidx)
			return s;
	}
	return NULL;
}

/* The session of external endpoint (ext index, port) with remote (rip, rport). */
static struct nat_sess *
find_out(const struct nat *nat, int pidx, int ext_idx, uint16_t port, uint32_t rip,
    uint16_t rport)
{
	for (uint32_t i = head_slot(nat->out_bkt[tuple_hash(nat, pidx, (uint32_t)ext_idx, port,
	    rip, rport)]); i != NIL; i = nat->sess[i].next_out) {
		struct nat_sess *s = &nat->sess[i];

		if (s->ext_port == port && s->rem_ip == rip && s->rem_port == rport &&
		    s->ext_idx == ext_idx && s->pidx == pidx)
			return s;
	}
	return NULL;
}

static bool
expired(const struct nat_sess *s, uint32_t sec)
{
	return s->expires != 0 && sec >= s->expires;
}

static uint32_t
timeout_of(const struct nat *nat, int pidx, uint8_t state, uint8_t flags)
{
	if (flags & NAT_SF_HALF)	/* Linux: SYN_RECV 60 s, UDP unreplied 30 s */
		return pidx == P_TCP ? nat->p.tcp_syn_recv_timeout_s :
		    nat->p.udp_unreplied_timeout_s;
	if (pidx == P_UDP)
		return nat->p.udp_timeout_s;
	if (pidx == P_ICMP)
		return nat->p.icmp_timeout_s;
	switch (state) {
	case NAT_TCP_ESTABLISHED:
	case NAT_TCP_FIN_OUT:
	case NAT_TCP_FIN_IN:
		return nat->p.tcp_est_timeout_s;
	default:
		return nat->p.tcp_trans_timeout_s;
	}
}

static void
emit(struct nat *nat, const struct nat_sess *s, struct nat_map *m, enum ev_op op,
    enum ev_cause cause, bool map_new, bool map_gone, uint64_t now,
    struct nf_out *out)
{
	struct nf_event ev = {
		.table = EV_TABLE_NAT, .op = (uint8_t)op, .cause = (uint8_t)cause,
		.now_us = now,
	};

	if (out == NULL)
		return;
	ev.nat.proto = proto_of[s->pidx];
	ev.nat.state = s->state;
	ev.nat.flags = (s->flags & SF_SHOWN) | (m->flags & MF_STATIC ? NAT_SF_STATIC : 0);
	ev.nat.mapping_new = map_new;
	ev.nat.mapping_gone = map_gone;
	ev.nat.int_ip = s->int_ip;
	ev.nat.int_port = s->int_port;
	ev.nat.ext_ip = nat->ext[s->ext_idx];
	ev.nat.ext_port = s->ext_port;
	ev.nat.rem_ip = s->rem_ip;
	ev.nat.rem_port = s->rem_port;
	ev.nat.created_us = t_us(nat, s->created);
	ev.nat.expires_us = s->expires ? t_us(nat, s->expires) : 0;

	/*
	 * The mapping as it will be after this change (events are rare: this
	 * walk is off the per-packet path). Its expiry is its sessions' latest,
	 * exact when the walk sees them all; past MAP_WALK sessions it can only
	 * grow, which errs on the side of keeping the entry.
	 */
	uint32_t latest = 0, seen = 0;

	/* History also counts the unlisted sessions a restart may pick up. */
	ev.nat.nsessions = (op == EV_REMOVE ? m->nsess - 1 : m->nsess) +
	    map_unlisted(nat, m, tsec(nat, now));
	for (uint32_t i = m->sess_head; i != NIL && seen < MAP_WALK; i = nat->sess[i].mnext) {
		const struct nat_sess *o = &nat->sess[i];

		if (op == EV_REMOVE && o == s)
			continue;
		seen++;
		if (o->expires > latest)
			latest = o->expires;
		if (ev.nat.nremote < EV_NAT_REMOTES)
			ev.nat.remote[ev.nat.nremote++] = (struct ev_nat_remote){
				.ip = o->rem_ip, .port = o->rem_port, .state = o->state,
				.flags = o->flags & SF_SHOWN,
			};
	}
	if (seen == ev.nat.nsessions && seen > 0)
		m->expires = latest;
	else if (latest > m->expires)
		m->expires = latest;
	/* (the last session gone: the mapping's last reported expiry stays) */
	ev.nat.map_created_us = t_us(nat, m->created);
	ev.nat.map_expires_us = m->flags & MF_STATIC && m->nsess <= (op == EV_REMOVE) ? 0 :
	    m->expires ? t_us(nat, m->expires) : 0;
	nf_out_event(out, &ev);
}

static void sess_delete(struct nat *, struct nat_sess *, enum ev_cause, uint64_t,
    struct nf_out *);

/* Is ring entry e still the half-open session it was queued for? */
static bool
half_live(const struct nat *nat, const struct nat_half *e)
{
	const struct nat_sess *s = &nat->sess[e->sess];

	return s->map != NIL && (s->flags & NAT_SF_HALF) && s->created == e->created;
}

/*
 * Make room for one more half-open session: while the ring is full, or the
 * live ones are at max_half_open, the oldest entry goes; a live one is
 * evicted (Linux conntrack's early drop of unassured entries), so a flood
 * of spoofed SYNs cannot keep the next real client out. Each pass removes
 * an entry: bounded.
 */
static void
half_make_room(struct nat *nat, uint64_t now, struct nf_out *out)
{
	uint32_t cap = nat->p.max_half_open;

	while (nat->half_len > 0 && (nat->half_len >= cap || nat->nhalf >= cap)) {
		struct nat_half e = nat->half[nat->half_tail];

		nat->half_tail = nat->half_tail + 1 == cap ? 0 : nat->half_tail + 1;
		nat->half_len--;
		if (half_live(nat, &e)) {
			sess_delete(nat, &nat->sess[e.sess], EV_CAUSE_TABLE_FULL, now, out);
			nat->st.half_open_evicted++;
		}
	}
}

/*
 * A new session of mapping m with remote (rip, rport). A half-open one
 * (NAT_SF_HALF: the remote started it) does not count against the inside
 * host's limit -- that is for what the host opens itself -- but against the
 * half-open limit, until the inside answers (sess_promote).
 */
static struct nat_sess *
sess_create(struct nat *nat, struct nat_map *m, uint32_t rip, uint16_t rport,
    uint32_t sec, uint8_t flags, enum drop *why, uint64_t now, struct nf_out *out)
{
	uint32_t mi = (uint32_t)(m - nat->maps), idx, b;
	struct nat_host *h = NULL;
	struct nat_sess *s;
	bool half = flags & NAT_SF_HALF;

	if (half) {
		half_make_room(nat, now, out);
		if (!m->used) {		/* its last session was the one evicted */
			*why = DROP_NAT_HALF_OPEN;
			return NULL;
		}
	}
	if (nat->sess_free == NIL && nat->sess_hwm >= nat->p.max_sessions) {
		*why = DROP_NAT_TABLE_FULL;
		return NULL;
	}
	if (nat->hosts != NULL && !half) {
		h = host_slot(nat, m->int_ip);
		if (h->count >= nat->p.max_per_host) {
			*why = DROP_NAT_HOST_LIMIT;
			return NULL;
		}
	}
	if (nat->sess_free != NIL) {
		idx = nat->sess_free;
		nat->sess_free = nat->sess[idx].next_in;
	} else {
		idx = nat->sess_hwm++;
	}
	s = &nat->sess[idx];
	*s = (struct nat_sess){
		.int_ip = m->int_ip, .rem_ip = rip, .int_port = m->int_port,
		.rem_port = rport, .ext_port = m->ext_port, .ext_idx = m->ext_idx,
		.pidx = m->pidx, .flags = flags, .created = sec, .map = mi,
		.mprev = NIL, .mnext = m->sess_head,
	};
	b = tuple_hash(nat, m->pidx, m->int_ip, m->int_port, rip, rport);
	s->next_in = head_slot(nat->in_bkt[b]);
	nat->in_bkt[b] = slot_head(idx);
	b = tuple_hash(nat, m->pidx, m->ext_idx, m->ext_port, rip, rport);
	s->next_out = head_slot(nat->out_bkt[b]);
	nat->out_bkt[b] = slot_head(idx);
	if (m->sess_head != NIL)
		nat->sess[m->sess_head].mprev = idx;
	m->sess_head = idx;
	m->nsess++;
	nat->nsess++;
	if (h != NULL) {
		h->ip = m->int_ip;
		h->count++;
	}
	if (half) {
		uint32_t cap = nat->p.max_half_open, at = nat->half_tail + nat->half_len;

		nat->half[at >= cap ? at - cap : at] = (struct nat_half){ idx, sec };
		nat->half_len++;
		nat->nhalf++;
	}
	nat->st.sessions_created++;
	return s;
}

/*
 * The inside answered a half-open session: from now on it is one the host
 * keeps, and counts against its limit like one it opened (a host at its
 * limit goes past it by the sessions it answers: refusing the answer would
 * only break a connection the host chose to accept).
 */
static void
sess_promote(struct nat *nat, struct nat_sess *s)
{
	s->flags &= (uint8_t)~(NAT_SF_HALF | SF_SYNACK);
	nat->nhalf--;
	if (nat->hosts != NULL) {
		struct nat_host *h = host_slot(nat, s->int_ip);

		h->ip = s->int_ip;
		h->count++;
	}
	nat->st.half_open_promoted++;
}

/* The link of session slot i in the inside chains, or (out) the outside ones. */
static uint32_t *
sess_link(struct nat *nat, uint32_t i, bool out)
{
	return out ? &nat->sess[i].next_out : &nat->sess[i].next_in;
}

/* Take session idx off the chain that bucket head starts. */
static void
sess_unlink(struct nat *nat, uint32_t *head, uint32_t idx, bool out)
{
	uint32_t next = *sess_link(nat, idx, out), *pp;

	if (head_slot(*head) == idx) {
		*head = slot_head(next);
		return;
	}
	for (pp = sess_link(nat, head_slot(*head), out); *pp != idx; pp = sess_link(nat, *pp, out))
		;
	*pp = next;
}

/* Remove a session; its mapping goes too when it was the last (not static). */
static void
sess_delete(struct nat *nat, struct nat_sess *s, enum ev_cause cause, uint64_t now,
    struct nf_out *out)
{
	uint32_t idx = (uint32_t)(s - nat->sess);
	struct nat_map *m = &nat->maps[s->map];
	bool gone = m->nsess == 1 && !(m->flags & MF_STATIC);

	emit(nat, s, m, EV_REMOVE, cause, false, gone, now, out);
	sess_unlink(nat, &nat->in_bkt[tuple_hash(nat, s->pidx, s->int_ip, s->int_port,
	    s->rem_ip, s->rem_port)], idx, false);
	sess_unlink(nat, &nat->out_bkt[tuple_hash(nat, s->pidx, s->ext_idx, s->ext_port,
	    s->rem_ip, s->rem_port)], idx, true);
	if (s->mprev != NIL)
		nat->sess[s->mprev].mnext = s->mnext;
	else
		m->sess_head = s->mnext;
	if (s->mnext != NIL)
		nat->sess[s->mnext].mprev = s->mprev;
	m->nsess--;
	nat->nsess--;
	if (s->flags & NAT_SF_HALF)
		nat->nhalf--;
	else
		host_dec(nat, m->int_ip);
	s->map = NIL;
	s->next_in = nat->sess_free;
	nat->sess_free = idx;
	if (cause == EV_CAUSE_NAT_TIMEOUT)
		nat->st.sessions_expired++;
	else
		nat->st.sessions_removed++;
	if (gone)
		map_delete(nat, m);
}

/*
 * RFC 7857 2.2, tightened as fd.io VPP does: both SYNs establish, one FIN
 * half-closes, both FINs or a RST start the transitory timer. out: the
 * segment goes inside -> outside. A session the remote opened (half-open)
 * is established only by the handshake's last ACK from the remote after the
 * inside's SYN-ACK (conntrack's SYN_RECV -> ESTABLISHED): a SYN and a
 * SYN-ACK alone buy no two hours. A RST is not final (RFC 7857 2.2): a later
 * segment without SYN, FIN or RST brings the session back to ESTABLISHED.
 */
static uint8_t
tcp_next(uint8_t st, uint8_t fl, bool out, uint8_t flags)
{
	bool half = flags & NAT_SF_HALF;

	if (fl & TCP_RST)
		return NAT_TCP_RST;
	if (fl & TCP_SYN) {
		switch (st) {
		case NAT_TCP_SYN_OUT:
			return out ? st : NAT_TCP_ESTABLISHED;
		case NAT_TCP_SYN_IN:
			return out && !half ? NAT_TCP_ESTABLISHED : st;
		case NAT_TCP_NONE:
		case NAT_TCP_TIME_WAIT:
		case NAT_TCP_RST:
			return out ? NAT_TCP_SYN_OUT : NAT_TCP_SYN_IN;
		default:
			return st;
		}
	}
	if (fl & TCP_FIN) {
		switch (st) {
		case NAT_TCP_NONE:	/* picked up closing: from inside only */
			return out ? NAT_TCP_FIN_OUT : st;
		case NAT_TCP_ESTABLISHED:
			return out ? NAT_TCP_FIN_OUT : NAT_TCP_FIN_IN;
		case NAT_TCP_FIN_OUT:
			return out ? st : NAT_TCP_TIME_WAIT;
		case NAT_TCP_FIN_IN:
			return out ? NAT_TCP_TIME_WAIT : st;
		default:
			return st;
		}
	}
	/*
	 * A segment without SYN on a session we never saw open: picked up
	 * when it comes from inside (a flow that outlived our state). From
	 * outside it stays NONE, on the half-open timer, until the inside
	 * answers: a stray ACK must not buy two hours of table space.
	 */
	if (st == NAT_TCP_NONE && out)
		return NAT_TCP_ESTABLISHED;
	if (st == NAT_TCP_SYN_IN && !out && (flags & SF_SYNACK))
		return NAT_TCP_ESTABLISHED;	/* the handshake's last ACK */
	if (st == NAT_TCP_RST && (out || !half))
		return NAT_TCP_ESTABLISHED;
	return st;
}

/*
 * Sequence tracking, side 0 the inside host and side 1 the remote: nxt[d]
 * is the sequence number after the last segment d sent that the router saw
 * (SYN and FIN count one).
 *
 * A RST is taken only in the receiver's window (RFC 5961 3.2 as a
 * middlebox, conntrack's rule): RCV.NXT <= SEG.SEQ < RCV.NXT + RCV.WND,
 * RCV.NXT being nxt of the sender and RCV.WND taken as 65535, the largest
 * window a receiver can offer unscaled (the router keeps no windows, 8
 * bytes a session it cannot spare; a blind attacker still needs 2^16 tries
 * per guessed port, and exact match would refuse a sender's RST after its
 * segments were lost before the router). From a side the router has not seen send anything, a RST must
 * acknowledge exactly what the other side sent (RFC 793's reset for a
 * segment, a refused SYN). A session known from neither side (picked up, or
 * restored) takes any RST.
 */
static bool
tcp_rst_ok(const struct nat_sess *s, const struct l4key *k, int snd)
{
	static const uint8_t known[2] = { SF_SEQ_IN, SF_SEQ_OUT };
	int rcv = !snd;

	if (!(s->flags & known[snd])) {
		if (!(s->flags & known[rcv]))
			return true;
		return (k->tcpfl & TCP_ACK) && k->ack == s->nxt[rcv];
	}
	return k->seq - s->nxt[snd] < NAT_RST_WINDOW;
}

/*
 * Learn from a segment of side snd (was: the state before it). A SYN that
 * opens (or reopens) the session sets the side's sequence space; any other
 * segment moves nxt on only when it starts within the window past it, so a
 * blind spoofed segment cannot drag nxt to where its next RST would fit.
 */
static void
tcp_track(struct nat_sess *s, const struct l4key *k, int snd, uint8_t was)
{
	static const uint8_t known[2] = { SF_SEQ_IN, SF_SEQ_OUT };
	bool opens = (k->tcpfl & TCP_SYN) && (was == NAT_TCP_NONE ||
	    was == NAT_TCP_SYN_OUT || was == NAT_TCP_SYN_IN ||
	    was == NAT_TCP_TIME_WAIT || was == NAT_TCP_RST);

	if (k->tcpfl & TCP_RST)
		return;
	if (opens || !(s->flags & known[snd])) {
		s->nxt[snd] = k->end;
		s->flags |= known[snd];
	} else if ((int32_t)(k->seq - s->nxt[snd]) <= (int32_t)NAT_RST_WINDOW &&
	    (int32_t)(k->end - s->nxt[snd]) > 0) {
		s->nxt[snd] = k->end;
	}
}

/* The inside answered a half-open session's remote? (then it is promoted) */
static bool
half_answered(const struct nat_sess *s, bool out_dir)
{
	if (s->pidx != P_TCP)
		return out_dir;
	return s->state == NAT_TCP_ESTABLISHED || s->state == NAT_TCP_FIN_OUT ||
	    s->state == NAT_TCP_FIN_IN || s->state == NAT_TCP_TIME_WAIT;
}

/*
 * Note activity on a session: state, expiry, and the events they deserve.
 * DROP_NAT_RST_WINDOW, changing nothing, for a RST outside the window.
 */
static enum drop
sess_touch(struct nat *nat, struct nat_sess *s, const struct l4key *k, bool out_dir,
    uint32_t sec_up, uint64_t now, struct nf_out *ev_out, bool fresh)
{
	uint8_t was = s->state, was_flags = s->flags;
	uint32_t life;

	if (s->pidx == P_TCP) {
		int snd = out_dir ? 0 : 1;

		if ((k->tcpfl & TCP_RST) && !fresh && !tcp_rst_ok(s, k, snd))
			return DROP_NAT_RST_WINDOW;
		s->state = tcp_next(s->state, k->tcpfl, out_dir, s->flags);
		tcp_track(s, k, snd, was);
		if (was == NAT_TCP_NONE && (s->state == NAT_TCP_ESTABLISHED ||
		    s->state == NAT_TCP_FIN_OUT))
			nat->st.tcp_pickups++;
		if ((s->flags & NAT_SF_HALF) && out_dir && (k->tcpfl & TCP_SYN) &&
		    s->state == NAT_TCP_SYN_IN)
			s->flags |= SF_SYNACK;
	}
	if ((s->flags & NAT_SF_HALF) && half_answered(s, out_dir))
		sess_promote(nat, s);
	if (!out_dir)
		s->flags |= NAT_SF_REPLIED;
	life = timeout_of(nat, s->pidx, s->state, s->flags);
	/* From the exact time rounded up: a timeout is a minimum (RFC 4787
	 * REQ-5), never cut short by the one-second resolution. */
	s->expires = sec_up + life;
	if (s->expires == 0)
		s->expires = 1;
	if (fresh) {
		s->reported = s->expires;
		return DROP_NONE;
	}
	if (s->state != was) {
		s->reported = s->expires;
		emit(nat, s, &nat->maps[s->map], EV_UPDATE, EV_CAUSE_NAT_TCP, false, false,
		    now, ev_out);
	} else if ((s->flags ^ was_flags) & NAT_SF_REPLIED) {
		/* UDP and ICMP have no states: their first reply is the news. */
		s->reported = s->expires;
		emit(nat, s, &nat->maps[s->map], EV_UPDATE, EV_CAUSE_NAT_REPLY, false,
		    false, now, ev_out);
	} else if (s->expires - s->reported >= (life >= 4 ? life / 2 + 1 : 1)) {
		/*
		 * Lazy refresh: history need not hear of every packet, but the
		 * stored expiry must stay ahead of the store's tick (about a
		 * second behind), or a live entry is aged out of history. Past
		 * half the lifetime does that, down to 4 s; below, every second.
		 */
		s->reported = s->expires;
		emit(nat, s, &nat->maps[s->map], EV_UPDATE, EV_CAUSE_NAT_REFRESH, false,
		    false, now, ev_out);
	}
	return DROP_NONE;
}

/*
 * Must this datagram's transport checksum be checked before it goes on? When
 * it can change state: it opens a session, answers a half-open one, is a
 * first reply, or a TCP segment anywhere but in plain ESTABLISHED data.
 * Established data is left alone (a per-byte cost on every packet): the
 * incremental update (RFC 1624) keeps a wrong checksum wrong, so the end
 * host still drops the datagram, and all it can move is the expiry.
 */
static bool
csum_needed(const struct nat_sess *s, const struct l4key *k, bool out_dir)
{
	if (s == NULL || (s->flags & NAT_SF_HALF))
		return true;
	if (k->pidx == P_TCP)
		return (k->tcpfl & (TCP_SYN | TCP_FIN | TCP_RST)) ||
		    s->state != NAT_TCP_ESTABLISHED;
	return !out_dir && !(s->flags & NAT_SF_REPLIED);
}

/*
 * The L4 checksum hook of the NAT path: TCP, UDP (0: none) and ICMP, over the
 * whole datagram. The pipeline completes offloaded partial checksums
 * (NF_F_CSUM_PARTIAL, CHECKSUM_PARTIAL from a local sender) before NAT
 * sees a frame, so a partial one is never taken for a bad one here; a GSO
 * super-frame stays partial (h->csum_partial: the field holds the
 * pseudo-header sum, for the segmenting kernel or NIC to finish), so there
 * is no checksum to check yet. A fragment holds part of its segment only:
 * not checkable, passed.
 */
static bool
l4_csum_ok(const uint8_t *ip, const struct ipv4 *h)
{
	if (ipv4_is_fragment(h) || h->csum_partial)
		return true;
	return pkt_l4_csum_ok(h->proto, h->src, h->dst, ip + h->hlen,
	    (size_t)(h->tot_len - h->hlen));
}

/* Set the IPv4 address at ip + off (12 source, 16 destination), patching the
 * header checksum (RFC 1624). */
static void
set_addr(uint8_t *ip, unsigned off, uint32_t addr)
{
	store_be16(ip + 10, csum_update32(load_be16(ip + 10), load_be32(ip + off), addr));
	store_be32(ip + off, addr);
}

/* ---- fragments ------------------------------------------------------- */

static struct nat_frag *
frag_slot(struct nat *nat, uint32_t src, uint32_t dst, uint16_t id, uint8_t proto)
{
	return &nat->frags[mix((uint64_t)src << 32 ^ dst ^ (uint64_t)id << 8 ^ proto) %
	    nat->p.frag_max];
}

static void
frag_note(struct nat *nat, const struct ipv4 *orig, bool out, uint32_t addr, uint32_t sec)
{
	struct nat_frag *f = frag_slot(nat, orig->src, orig->dst, orig->id, orig->proto);

	*f = (struct nat_frag){
		.src = orig->src, .dst = orig->dst, .id = orig->id, .proto = orig->proto,
		.out = out, .addr = addr, .expires = sec + nat->p.frag_timeout_s,
	};
}

/* A later fragment: the address its first fragment was given, if known. */
static enum drop
frag_follow(struct nat *nat, uint8_t *ip, struct ipv4 *h, bool out, uint32_t sec)
{
	struct nat_frag *f = frag_slot(nat, h->src, h->dst, h->id, h->proto);

	if (f->expires == 0 || sec >= f->expires || f->out != out || f->src != h->src ||
	    f->dst != h->dst || f->id != h->id || f->proto != h->proto)
		return DROP_NAT_FRAG;
	set_addr(ip, out ? 12 : 16, f->addr);
	if (out)
		h->src = f->addr;
	else
		h->dst = f->addr;
	nat->st.frags_translated++;
	return DROP_NONE;
}

/* ---- rewriting ------------------------------------------------------- */

/*
 * Replace the address at ip+aoff (12: source, 16: destination) and the port
 * or identifier of the transport header at l4 (poff: its offset), patching
 * the IP header checksum and the transport checksum (at l4 + coff; UDP's 0
 * means none; ICMP's covers no pseudo-header).
 */
static void
rewrite(uint8_t *ip, unsigned aoff, uint32_t addr, uint8_t *l4, unsigned poff,
    uint16_t port, int pidx, bool partial)
{
	uint32_t old_addr = load_be32(ip + aoff);
	uint16_t old_port = load_be16(l4 + poff);

	set_addr(ip, aoff, addr);
	if (partial && pidx != P_ICMP) {
		/*
		 * A GSO super-frame's field holds the pseudo-header sum, not
		 * complemented: only the address is in it (the port is summed
		 * with the rest of the segment when it is finished), as Linux
		 * NAT does for CHECKSUM_PARTIAL (inet_proto_csum_replace4).
		 */
		unsigned coff = pidx == P_TCP ? 16 : 6;

		store_be16(l4 + coff, (uint16_t)~csum_update32(
		    (uint16_t)~load_be16(l4 + coff), old_addr, addr));
	} else if (pidx == P_TCP) {
		uint16_t c = csum_update32(load_be16(l4 + 16), old_addr, addr);

		store_be16(l4 + 16, csum_update16(c, old_port, port));
	} else if (pidx == P_UDP) {
		uint16_t c = load_be16(l4 + 6);

		if (c != 0) {
			c = csum_update16(csum_update32(c, old_addr, addr), old_port, port);
			store_be16(l4 + 6, c == 0 ? 0xffff : c);	/* 0 means none */
		}
	} else {
		store_be16(l4 + 2, csum_update16(load_be16(l4 + 2), old_port, port));
	}
	store_be16(l4 + poff, port);
}

/* Transport key of a first fragment or whole datagram; DROP_NONE or why not. */
static enum drop
l4_key(struct l4key *k, const uint8_t *l4, size_t len, uint8_t proto, bool *icmp_err)
{
	*icmp_err = false;
	k->pidx = pidx_of(proto);
	switch (k->pidx) {
	case P_TCP:
		/* The whole fixed header: no tiny-fragment games (RFC 1858). */
		if (len < TCP_MIN_HLEN)
			return DROP_L4_SHORT;
		k->tcpfl = l4[13];
		k->seq = load_be32(l4 + 4);
		k->ack = load_be32(l4 + 8);
		/* (a first fragment covers less than its segment: nxt lags) */
		k->end = k->seq + !!(k->tcpfl & TCP_SYN) + !!(k->tcpfl & TCP_FIN) +
		    ((size_t)(l4[12] >> 4) * 4 <= len ?
		    (uint32_t)(len - (size_t)(l4[12] >> 4) * 4) : 0);
		break;
	case P_UDP:
		if (len < UDP_HLEN)
			return DROP_L4_SHORT;
		k->tcpfl = 0;
		break;
	case P_ICMP:
		if (len < ICMP_HLEN)
			return DROP_L4_SHORT;
		if (icmp_is_error(l4[0])) {
			*icmp_err = true;
			return DROP_NONE;
		}
		if (l4[0] != ICMP_ECHO && l4[0] != ICMP_ECHOREPLY)
			return DROP_NAT_PROTO;
		k->sport = k->dport = load_be16(l4 + 4);
		k->sport_off = k->dport_off = 4;
		k->tcpfl = 0;
		return DROP_NONE;
	default:
		return DROP_NAT_PROTO;
	}
	k->sport = load_be16(l4);
	k->dport = load_be16(l4 + 2);
	k->sport_off = 0;
	k->dport_off = 2;
	return DROP_NONE;
}

/*
 * The header quoted in an ICMP error: enough of it to find the session.
 * Returns the inner header length, or 0 if the quote is unusable.
 */
static size_t
inner_header(const uint8_t *in, size_t len, struct ipv4 *ih, struct l4key *k)
{
	size_t ihl;

	if (len < IPV4_MIN_HLEN || in[0] >> 4 != 4)
		return 0;
	ihl = (size_t)(in[0] & 0x0f) * 4;
	if (ihl < IPV4_MIN_HLEN || ihl + 8 > len)	/* RFC 792: 8 bytes are quoted */
		return 0;
	ih->hlen = (uint16_t)ihl;
	ih->proto = in[9];
	ih->frag = load_be16(in + 6);
	ih->src = load_be32(in + 12);
	ih->dst = load_be32(in + 16);
	if (ipv4_is_later_fragment(ih))
		return 0;
	k->pidx = pidx_of(ih->proto);
	if (k->pidx < 0)
		return 0;
	if (k->pidx == P_ICMP) {
		if (in[ihl] != ICMP_ECHO && in[ihl] != ICMP_ECHOREPLY)
			return 0;
		k->sport = k->dport = load_be16(in + ihl + 4);
		k->sport_off = k->dport_off = 4;
	} else {
		k->sport = load_be16(in + ihl);
		k->dport = load_be16(in + ihl + 2);
		k->sport_off = 0;
		k->dport_off = 2;
	}
	return ihl;
}

/*
 * Rewrite the quoted datagram's address at aoff and port, patching its header
 * checksum and, when quoted whole enough, its transport checksum; the ICMP
 * checksum of the error is recomputed by the caller.
 */
static void
rewrite_inner(uint8_t *in, size_t len, size_t ihl, unsigned aoff, uint32_t addr,
    const struct l4key *k, bool src_side, uint16_t port)
{
	uint8_t *l4 = in + ihl;
	size_t l4len = len - ihl;
	uint32_t old_addr = load_be32(in + aoff);
	unsigned poff = src_side ? k->sport_off : k->dport_off;
	uint16_t old_port = load_be16(l4 + poff);

	set_addr(in, aoff, addr);
	if (k->pidx == P_TCP && l4len >= 18) {
		uint16_t c = csum_update32(load_be16(l4 + 16), old_addr, addr);

		store_be16(l4 + 16, csum_update16(c, old_port, port));
	} else if (k->pidx == P_UDP && load_be16(l4 + 6) != 0) {
		uint16_t c = csum_update16(csum_update32(load_be16(l4 + 6), old_addr, addr),
		    old_port, port);

		store_be16(l4 + 6, c == 0 ? 0xffff : c);
	} else if (k->pidx == P_ICMP) {
		store_be16(l4 + 2, csum_update16(load_be16(l4 + 2), old_port, port));
	}
	store_be16(l4 + poff, port);
}

static void
icmp_recompute(uint8_t *icmp, size_t len)
{
	store_be16(icmp + 2, 0);
	store_be16(icmp + 2, csum_fold(csum_add(0, icmp, len)));
}

/* An ICMP error from inside about a datagram that came in through the NAT. */
static enum drop
icmp_error_in2out(struct nat *nat, uint8_t *ip, struct ipv4 *h, uint32_t sec)
{
	uint8_t *icmp = ip + h->hlen, *in = icmp + ICMP_HLEN;
	size_t len = h->tot_len - h->hlen, ilen = len - ICMP_HLEN, ihl;
	struct ipv4 ih;
	struct l4key k;
	struct nat_sess *s;
	uint32_t ext;

	if (ipv4_is_fragment(h) || (ihl = inner_header(in, ilen, &ih, &k)) == 0)
		return DROP_NAT_ICMP_NO_SESSION;
	if (!l4_csum_ok(ip, h))		/* recomputed below: never launder */
		return DROP_L4_BAD_CSUM;
	/* The quoted datagram went remote -> inside endpoint. */
	if ((s = find_in(nat, k.pidx, ih.dst, k.dport, ih.src,
	    k.pidx == P_ICMP ? 0 : k.sport)) == NULL || expired(s, sec))
		return DROP_NAT_ICMP_NO_SESSION;
	ext = nat->ext[s->ext_idx];
	rewrite_inner(in, ilen, ihl, 16, ext, &k, false, s->ext_port);
	set_addr(ip, 12, ext);
	h->src = ext;
	icmp_recompute(icmp, len);
	nat->st.icmp_errors_translated++;
	return DROP_NONE;
}

/* An ICMP error from outside about a datagram we translated on its way out. */
static enum drop
icmp_error_out2in(struct nat *nat, uint8_t *ip, struct ipv4 *h, uint32_t sec)
{
	uint8_t *icmp = ip + h->hlen, *in = icmp + ICMP_HLEN;
	size_t len = h->tot_len - h->hlen, ilen = len - ICMP_HLEN, ihl;
	struct ipv4 ih;
	struct l4key k;
	struct nat_sess *s;
	int e;

	if (ipv4_is_fragment(h) || (ihl = inner_header(in, ilen, &ih, &k)) == 0)
		return DROP_NAT_ICMP_NO_SESSION;
	if (!l4_csum_ok(ip, h))		/* recomputed below: never launder */
		return DROP_L4_BAD_CSUM;
	/* The quoted datagram went external endpoint -> remote. */
	if ((e = ext_index(nat, ih.src)) < 0 || ih.src != h->dst ||
	    (s = find_out(nat, k.pidx, e, k.sport, ih.dst,
	    k.pidx == P_ICMP ? 0 : k.dport)) == NULL || expired(s, sec))
		return DROP_NAT_ICMP_NO_SESSION;
	rewrite_inner(in, ilen, ihl, 12, s->int_ip, &k, true, s->int_port);
	set_addr(ip, 16, s->int_ip);
	h->dst = s->int_ip;
	icmp_recompute(icmp, len);
	nat->st.icmp_errors_translated++;
	return DROP_NONE;
}

/* ---- translation ----------------------------------------------------- */

enum drop
nat_in2out(struct nat *nat, uint8_t *ip, struct ipv4 *h, uint64_t now,
    struct nf_out *out)
{
	uint32_t sec = tsec(nat, now);
	uint8_t *l4 = ip + h->hlen;
	struct ipv4 orig = *h;
	struct nat_map *m;
	struct nat_sess *s;
	struct l4key k;
	enum drop why;
	bool err, map_new = false;
	uint16_t rport;

	if (ipv4_is_later_fragment(h))
		return frag_follow(nat, ip, h, true, sec);
	if ((why = l4_key(&k, l4, h->tot_len - h->hlen, h->proto, &err)) != DROP_NONE)
		return why;
	if (err)
		return icmp_error_in2out(nat, ip, h, sec);
	if (k.pidx == P_ICMP && l4[0] != ICMP_ECHO)
		return DROP_NAT_PROTO;		/* an echo reply from inside: to whom? */
	rport = k.pidx == P_ICMP ? 0 : k.dport;
	s = find_in(nat, k.pidx, h->src, k.sport, h->dst, rport);
	if (s != NULL && expired(s, sec)) {
		sess_delete(nat, s, EV_CAUSE_NAT_TIMEOUT, now, out);
		s = NULL;
	}
	if (csum_needed(s, &k, true) && !l4_csum_ok(ip, h))
		return DROP_L4_BAD_CSUM;
	if (s != NULL) {
		if ((why = sess_touch(nat, s, &k, true, sec_up(nat, now, sec), now, out,
		    false)) != DROP_NONE)
			return why;
	} else {
		/* A SYN-ACK answers a SYN we never saw (conntrack: invalid). */
		if ((k.tcpfl & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK))
			return DROP_NAT_TCP_INVALID;
		/* A new session, on the endpoint's mapping (EIM) or a new one. */
		if ((m = map_find(nat, k.pidx, h->src, k.sport)) == NULL) {
			if ((m = map_create(nat, k.pidx, h->src, k.sport, -1, 0, sec,
			    &why)) == NULL)
				return why;
			map_new = true;
		}
		if ((s = sess_create(nat, m, h->dst, rport, sec, 0, &why, now, out)) == NULL) {
			if (m->nsess == 0 && !(m->flags & MF_STATIC))
				map_delete(nat, m);
			return why;
		}
		sess_touch(nat, s, &k, true, sec_up(nat, now, sec), now, out, true);
		emit(nat, s, m, EV_ADD, EV_CAUSE_NAT_OUTBOUND, map_new, false, now, out);
	}
	rewrite(ip, 12, nat->ext[s->ext_idx], l4, k.sport_off, s->ext_port, k.pidx,
	    h->csum_partial);
	h->src = nat->ext[s->ext_idx];
	if (ipv4_is_fragment(h))
		frag_note(nat, &orig, true, h->src, sec);
	nat->st.in2out++;
	return DROP_NONE;
}

/* May an unknown remote reach mapping m? (RFC 4787 REQ-8) */
static bool
admit(const struct nat *nat, const struct nat_map *m, uint32_t rip, uint32_t sec)
{
	if (m->flags & MF_STATIC || nat->p.filtering == NAT_FILTER_ENDPOINT)
		return true;
	if (nat->p.filtering == NAT_FILTER_ADDRESS)
		for (uint32_t i = m->sess_head; i != NIL; i = nat->sess[i].mnext)
			if (nat->sess[i].rem_ip == rip && !expired(&nat->sess[i], sec))
				return true;
	return false;
}

/*
 * May a remote that filtering refuses reach m as one of the sessions a
 * restart did not list? Until the stored expiry, as many as history
 * counted; as conntrack picks up a TCP flow mid-stream after its table was
 * lost (nf_conntrack_tcp_loose), never on a SYN or RST, which begin or end
 * a flow rather than continue one.
 */
static bool
pickup_ok(const struct nat *nat, const struct nat_map *m, const struct l4key *k,
    uint32_t sec)
{
	if (map_unlisted(nat, m, sec) == 0)
		return false;
	return k->pidx != P_TCP || (k->tcpfl & (TCP_SYN | TCP_RST)) == 0;
}

enum drop
nat_out2in(struct nat *nat, uint8_t *ip, struct ipv4 *h, uint64_t now,
    struct nf_out *out)
{
	uint32_t sec = tsec(nat, now);
	uint8_t *l4 = ip + h->hlen;
	struct ipv4 orig = *h;
	struct nat_map *m = NULL;
	struct nat_sess *s;
	struct l4key k;
	enum drop why;
	bool err;
	int e;
	uint16_t rport;

	if ((e = ext_index(nat, h->dst)) < 0)
		return DROP_NAT_NO_MAPPING;
	if (ipv4_is_later_fragment(h))
		return frag_follow(nat, ip, h, false, sec);
	if ((why = l4_key(&k, l4, h->tot_len - h->hlen, h->proto, &err)) != DROP_NONE)
		return why == DROP_NAT_PROTO ? DROP_NAT_NO_MAPPING : why;
	if (err)
		return icmp_error_out2in(nat, ip, h, sec);
	if (k.pidx == P_ICMP && l4[0] != ICMP_ECHOREPLY)
		return DROP_NAT_NO_MAPPING;	/* a ping for the router itself */
	rport = k.pidx == P_ICMP ? 0 : k.sport;
	s = find_out(nat, k.pidx, e, k.dport, h->src, rport);
	if (s != NULL && expired(s, sec)) {
		sess_delete(nat, s, EV_CAUSE_NAT_TIMEOUT, now, out);
		s = NULL;
	}
	if (s == NULL && (m = map_by_ext(nat, e, k.pidx, k.dport)) == NULL)
		return DROP_NAT_NO_MAPPING;
	if (csum_needed(s, &k, false) && !l4_csum_ok(ip, h))
		return DROP_L4_BAD_CSUM;
	if (s != NULL) {
		if ((why = sess_touch(nat, s, &k, false, sec_up(nat, now, sec), now, out,
		    false)) != DROP_NONE)
			return why;
	} else {
		/* Refused by filtering unless one of the flows a restart did not
		 * list (pickup_ok): that one comes back established. */
		bool pickup = !admit(nat, m, h->src, sec);

		if (pickup && !pickup_ok(nat, m, &k, sec))
			return DROP_NAT_FILTERED;
		if ((k.tcpfl & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK))
			return DROP_NAT_TCP_INVALID;
		/* Else half-open until the inside answers (nat.h). */
		if ((s = sess_create(nat, m, h->src, rport, sec, pickup ? NAT_SF_REPLIED :
		    NAT_SF_INBOUND | NAT_SF_HALF, &why, now, out)) == NULL)
			return why;
		if (pickup) {
			unl_find(nat, m)->left--;
			if (s->pidx == P_TCP)
				s->state = NAT_TCP_ESTABLISHED;
			nat->st.restore_pickups++;
		}
		sess_touch(nat, s, &k, false, sec_up(nat, now, sec), now, out, true);
		emit(nat, s, m, EV_ADD, EV_CAUSE_NAT_INBOUND, false, false, now, out);
	}
	rewrite(ip, 16, s->int_ip, l4, k.dport_off, s->int_port, k.pidx,
	    h->csum_partial);
	h->dst = s->int_ip;
	if (ipv4_is_fragment(h))
		frag_note(nat, &orig, false, h->dst, sec);
	nat->st.out2in++;
	return DROP_NONE;
}

bool
nat_out2in_admits(const struct nat *nat, const uint8_t *ip, const struct ipv4 *h,
    uint64_t now)
{
	const uint8_t *l4 = ip + h->hlen;
	const struct nat_sess *s;
	const struct nat_map *m;
	struct l4key k;
	bool err;
	int e;
	uint32_t sec;

	if ((e = ext_index(nat, h->dst)) < 0)
		return false;
	if (ipv4_is_later_fragment(h))
		return true;		/* follows its first fragment */
	if (l4_key(&k, l4, h->tot_len - h->hlen, h->proto, &err) != DROP_NONE)
		return false;
	if (err)
		return true;		/* (no error is sent about an error) */
	if (k.pidx == P_ICMP && l4[0] != ICMP_ECHOREPLY)
		return false;
	sec = now <= nat->t0 ? 0 : (uint32_t)((now - nat->t0) / US);
	s = find_out(nat, k.pidx, e, k.dport, h->src, k.pidx == P_ICMP ? 0 : k.sport);
	if (s != NULL && !expired(s, sec))
		return true;
	return (m = map_by_ext(nat, e, k.pidx, k.dport)) != NULL &&
	    (admit(nat, m, h->src, sec) || pickup_ok(nat, m, &k, sec));
}

int
nat_forward_add(struct nat *nat, uint8_t proto, uint16_t ext_port, uint32_t int_ip,
    uint16_t int_port, uint64_t now, struct nf_out *out)
{
	int pidx = pidx_of(proto);
	uint32_t sec = tsec(nat, now);
	struct nat_map *m;
	enum drop why;

	(void)out;	/* a forward has no session yet: nothing to report */
	if (pidx < 0 || pidx == P_ICMP || ext_port == 0 || int_port == 0 || int_ip == 0)
		return -EINVAL;
	if (nat->owner[0][pidx][ext_port] != 0 || map_find(nat, pidx, int_ip, int_port))
		return -EEXIST;
	if ((m = map_create(nat, pidx, int_ip, int_port, 0, ext_port, sec, &why)) == NULL)
		return -ENOSPC;
	m->flags |= MF_STATIC;
	return 0;
}

/* The bucket a frame's session would hang off, or NULL when it has none. */
static const uint32_t *
frame_bucket(const struct nat *nat, const struct nf_frame *f, bool outside)
{
	const uint8_t *ip = f->data + ETH_HLEN;
	size_t ihl;
	int pidx, e;
	uint16_t sport, dport;
	uint32_t src, dst;

	if (f->len < ETH_HLEN + IPV4_MIN_HLEN + 8 || load_be16(f->data + 12) != ETHERTYPE_IPV4)
		return NULL;
	ihl = (size_t)(ip[0] & 0x0f) * 4;
	if (ihl < IPV4_MIN_HLEN || ETH_HLEN + ihl + 8 > f->len ||
	    (pidx = pidx_of(ip[9])) < 0)
		return NULL;
	src = load_be32(ip + 12);
	dst = load_be32(ip + 16);
	if (pidx == P_ICMP) {
		sport = dport = load_be16(ip + ihl + 4);
	} else {
		sport = load_be16(ip + ihl);
		dport = load_be16(ip + ihl + 2);
	}
	if (!outside)
		return &nat->in_bkt[tuple_hash(nat, pidx, src, sport, dst,
		    pidx == P_ICMP ? 0 : dport)];
	if ((e = ext_index(nat, dst)) < 0)
		return NULL;
	return &nat->out_bkt[tuple_hash(nat, pidx, (uint32_t)e, dport, src,
	    pidx == P_ICMP ? 0 : sport)];
}

const uint32_t *
nat_prefetch_bucket(const struct nat *nat, const struct nf_frame *f, uint8_t outside_ifidx)
{
	const uint32_t *b = frame_bucket(nat, f, f->ifidx == outside_ifidx);

	if (b != NULL)
		__builtin_prefetch(b);
	return b;
}

void
nat_prefetch_session(const struct nat *nat, const uint32_t *b)
{
	if (b != NULL && head_slot(*b) != NIL)
		__builtin_prefetch(&nat->sess[head_slot(*b)]);
}

void
nat_prefetch(const struct nat *nat, const struct nf_frame *f, unsigned n,
    uint8_t outside_ifidx)
{
	const uint32_t *bkt[64];

	if (n > 64)
		n = 64;
	/* Two stages, each over the whole batch so the misses overlap. */
	for (unsigned i = 0; i < n; i++)
		bkt[i] = nat_prefetch_bucket(nat, &f[i], outside_ifidx);
	for (unsigned i = 0; i < n; i++)
		nat_prefetch_session(nat, bkt[i]);
}

void
nat_tick(struct nat *nat, uint64_t now, struct nf_out *out)
{
	uint32_t sec = tsec(nat, now);

	/* Free slots are reused first (a LIFO free list), so the live ones sit
	 * below the high-water mark and a pass over them is short. */
	for (uint32_t n = 0; n < nat->p.sweep_per_tick && nat->nsess > 0; n++) {
		struct nat_sess *s;

		if (nat->sweep >= nat->sess_hwm)
			nat->sweep = 0;
		s = &nat->sess[nat->sweep++];
		if (s->map != NIL && expired(s, sec))
			sess_delete(nat, s, EV_CAUSE_NAT_TIMEOUT, now, out);
	}
}

int
nat_restore(struct nat *nat, const struct nat_session *r, uint64_t now)
{
	int pidx = pidx_of(r->proto), e = ext_index(nat, r->ext_ip);
	uint32_t sec = tsec(nat, now);
	struct nat_map *m, *owner;
	struct nat_sess *s;
	enum drop why;

	if (pidx < 0 || e < 0 || r->ext_port == 0 || r->state >= NAT_TCP_MAX)
		return -EINVAL;
	owner = map_by_ext(nat, e, pidx, r->ext_port);
	m = map_find(nat, pidx, r->int_ip, r->int_port);
	if (owner != NULL && owner != m)
		return -EEXIST;
	if (m != NULL && (m->ext_idx != e || m->ext_port != r->ext_port))
		return -EEXIST;
	if (m == NULL && (m = map_create(nat, pidx, r->int_ip, r->int_port, e,
	    r->ext_port, sec, &why)) == NULL)
		return -ENOSPC;
	if (r->flags & NAT_SF_STATIC)
		m->flags |= MF_STATIC;
	if ((s = find_in(nat, pidx, r->int_ip, r->int_port, r->rem_ip, r->rem_port)) == NULL &&
	    (s = sess_create(nat, m, r->rem_ip, r->rem_port, sec,
	    r->flags & (NAT_SF_REPLIED | NAT_SF_INBOUND), &why, now, NULL)) == NULL) {
		if (m->nsess == 0 && !(m->flags & MF_STATIC))
			map_delete(nat, m);
		return -ENOSPC;
	}
	s->state = r->state;
	/* Stored times are absolute; ours count from t0 (an expired one goes
	 * at the next lookup or sweep, as a timeout event). */
	s->expires = r->expires_us == 0 ? 0 : r->expires_us <= nat->t0 ? 1 :
	    (uint32_t)((r->expires_us - nat->t0 + US - 1) / US);
	s->reported = s->expires;
	s->created = r->created_us <= nat->t0 ? 0 : (uint32_t)((r->created_us - nat->t0) / US);
	if (s->expires > m->expires)
		m->expires = s->expires;	/* what history holds for the mapping */
	return 0;
}

int
nat_forget(struct nat *nat, uint8_t proto, uint32_t int_ip, uint16_t int_port)
{
	int pidx = pidx_of(proto);
	struct nat_map *m;

	if (pidx < 0 || (m = map_find(nat, pidx, int_ip, int_port)) == NULL)
		return -ENOENT;
	/* The last session of a dynamic mapping takes the mapping with it. */
	while (m->sess_head != NIL) {
		bool last = m->nsess == 1 && !(m->flags & MF_STATIC);

		sess_delete(nat, &nat->sess[m->sess_head], EV_CAUSE_RESTORE, 0, NULL);
		if (last)
			return 0;
	}
	if (!(m->flags & MF_STATIC))
		map_delete(nat, m);
	return 0;
}

int
nat_restore_unlisted(struct nat *nat, uint8_t proto, uint32_t int_ip, uint16_t int_port,
    uint32_t n, uint64_t expires_us, uint64_t now)
{
	int pidx = pidx_of(proto);
	struct nat_map *m;
	struct nat_unl *u;

	if (pidx < 0)
		return -EINVAL;
	if ((m = map_find(nat, pidx, int_ip, int_port)) == NULL)
		return -ENOENT;
	if (m->flags & MF_STATIC || expires_us <= now || n == 0)
		return 0;	/* a forward admits anyone; past: nothing to take back */
	if ((u = unl_find(nat, m)) == NULL) {
		uint32_t mi = (uint32_t)(m - nat->maps), at;

		if (nat->nunl == nat->unl_cap) {
			uint32_t cap = nat->unl_cap ? nat->unl_cap * 2 : 16;
			struct nat_unl *v = realloc(nat->unl, cap * sizeof(*v));

			if (v == NULL)
				return -ENOMEM;
			nat->unl = v;
			nat->unl_cap = cap;
		}
		/* Restores come in path order, mostly not map order: a memmove
		 * each, fine for the few mappings that outgrow EV_NAT_REMOTES. */
		for (at = nat->nunl; at > 0 && nat->unl[at - 1].map > mi; at--)
			;
		memmove(&nat->unl[at + 1], &nat->unl[at],
		    (nat->nunl - at) * sizeof(*nat->unl));
		nat->nunl++;
		u = &nat->unl[at];
		u->map = mi;
	}
	u->left = n;
	u->until = (uint32_t)((expires_us - nat->t0 + US - 1) / US);
	return 0;
}

static void
copy_out(const struct nat *nat, const struct nat_sess *s, struct nat_session *o)
{
	const struct nat_map *m = &nat->maps[s->map];

	*o = (struct nat_session){
		.proto = proto_of[s->pidx], .state = s->state,
		.flags = (s->flags & SF_SHOWN) | (m->flags & MF_STATIC ? NAT_SF_STATIC : 0),
		.int_ip = s->int_ip, .int_port = s->int_port,
		.ext_ip = nat->ext[s->ext_idx], .ext_port = s->ext_port,
		.rem_ip = s->rem_ip, .rem_port = s->rem_port,
		.created_us = t_us(nat, s->created),
		.expires_us = s->expires ? t_us(nat, s->expires) : 0,
	};
}

size_t
nat_dump(const struct nat *nat, struct nat_session *out, size_t max, uint32_t *cursor)
{
	size_t n = 0;
	uint32_t i = *cursor;

	for (; i < nat->sess_hwm && n < max; i++)
		if (nat->sess[i].map != NIL)
			copy_out(nat, &nat->sess[i], &out[n++]);
	*cursor = i >= nat->sess_hwm ? 0 : i;
	return n;
}

size_t
nat_count(const struct nat *nat)
{
	return nat->nsess;
}

size_t
nat_bytes(const struct nat *nat)
{
	return nat->bytes;
}

const struct nat_stats *
nat_stats(const struct nat *nat)
{
	return &nat->st;
}

/* SPDX-License-Identifier: ISC */
/*
 * Table codecs and the table registry: how an ARP neighbour or a NAT
 * mapping becomes a path and a blob of sorted `key value` lines, and back;
 * the per-table merge hooks; and the small helpers (buffer, errors) the
 * rest of store/ shares.
 *
 * Paths (human-readable, sharded so a change rewrites small trees):
 *	arp/<a.b.c>/<d>
 *	nat/<tcp|udp|icmp>/<a.b.c>/<d>/<port>
 * Decimal numbers are canonical (no leading zeros), so one entry has
 * exactly one path. Values (keys sorted, one per line, `\n` after each):
 *	arp: expires, learned-on, lladdr, state, updated
 *	nat: created, expires, external, remote (0..16 lines, sorted as
 *	text), unlisted (only when the mapping had more sessions than an
 *	entry lists: how many more)
 * A remote line is `remote IP:PORT STATE`, STATE a word of
 * STORE_NAT_RSTATES (new or established for UDP and ICMP, conntrack's
 * states for TCP) and, for a TCP remote that never answered, a trailing
 * ` unreplied`. Times are "sec.usec" with six digits, or "never" for 0.
 * The decoder is strict: an unknown or missing key is an error naming the
 * path and line. IPv4, MAC and protocol text come from netfn (wire.h);
 * the output shapes of an entry (ip neigh, conntrack, JSON, commit
 * messages) live in store/format.c.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"

char *
store_time_fmt(char buf[24], uint64_t us)
{
	if (us == 0)
		snprintf(buf, 24, "never");
	else
		snprintf(buf, 24, "%llu.%06llu", (unsigned long long)(us / 1000000),
		    (unsigned long long)(us % 1000000));
	return buf;
}

/* "sec.usec" with exactly six digits, or "never". */
static int
time_parse(uint64_t *us, const char *s)
{
	uint64_t sec = 0, frac = 0;
	const char *p = s;

	if (strcmp(s, "never") == 0) {
		*us = 0;
		return 0;
	}
	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (sec > UINT64_MAX / 10000000)	/* leaves room for * 1e6 */
			return -1;
		sec = sec * 10 + (uint64_t)(*p - '0');
	}
	if (*p++ != '.')
		return -1;
	for (int i = 0; i < 6; i++, p++) {
		if (*p < '0' || *p > '9')
			return -1;
		frac = frac * 10 + (uint64_t)(*p - '0');
	}
	if (*p != '\0' || (sec == 0 && frac == 0))
		return -1;
	*us = sec * 1000000 + frac;
	return 0;
}

/* A canonical decimal in [0, max]: no sign, no leading zero. Returns the end. */
static const char *
dec_parse(uint32_t *v, const char *s, uint32_t max)
{
	uint64_t x = 0;
	const char *p = s;

	if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] >= '0' && p[1] <= '9'))
		return NULL;
	for (; *p >= '0' && *p <= '9'; p++) {
		x = x * 10 + (uint64_t)(*p - '0');
		if (x > max)
			return NULL;
	}
	*v = (uint32_t)x;
	return p;
}

/* n dotted octets "a.b.c" into the top bytes of *ip. */
static const char *
octets_parse(uint32_t *ip, const char *s, int n)
{
	uint32_t v, x = 0;

	for (int i = 0; i < n; i++) {
		if (i > 0 && *s++ != '.')
			return NULL;
		if ((s = dec_parse(&v, s, 255)) == NULL)
			return NULL;
		x = x << 8 | v;
	}
	*ip = x;
	return s;
}

/* Lowercase only: one MAC has one spelling in a stored value. */
static int
mac_parse(uint8_t m[ETH_ALEN], const char *s)
{
	uint8_t t[ETH_ALEN];
	char back[18];

	if (mac_pton(s, t) < 0 || strcmp(mac_ntop(t, back), s) != 0)
		return -1;
	memcpy(m, t, ETH_ALEN);
	return 0;
}

/* "ip:port" */
static int
endpoint_parse(uint32_t *ip, uint16_t *port, const char *s)
{
	const char *colon = strchr(s, ':');
	char a[16];
	uint32_t p;

	if (colon == NULL || (size_t)(colon - s) >= sizeof(a))
		return -1;
	memcpy(a, s, (size_t)(colon - s));
	a[colon - s] = '\0';
	if (ipv4_pton(a, ip) < 0 || (s = dec_parse(&p, colon + 1, 65535)) == NULL ||
	    *s != '\0')
		return -1;
	*port = (uint16_t)p;
	return 0;
}

static const char *const arp_states[] = {
#define NAME(sym, name) name,
	ARP_STATES(NAME)
#undef NAME
};

static const char *const nat_rstates[] = {
#define NAME(sym, word, ct) word,
	STORE_NAT_RSTATES(NAME)
#undef NAME
};

static const char *const nat_rstates_ct[] = {
#define NAME(sym, word, ct) ct,
	STORE_NAT_RSTATES(NAME)
#undef NAME
};

const char *
store_nat_rstate_name(uint8_t state)
{
	return state < STORE_NAT_RSTATE_MAX ? nat_rstates[state] : "?";
}

const char *
store_nat_rstate_conntrack(uint8_t state)
{
	return state < STORE_NAT_RSTATE_MAX ? nat_rstates_ct[state] : "?";
}

/*
 * Which states a protocol's remote may be in, and whether it may carry
 * STORE_NAT_UNREPLIED: UDP and ICMP say it with new; TCP's own words
 * (legacy new and transitory too) for TCP.
 */
static bool
rstate_valid(uint8_t proto, uint8_t state, uint8_t flags)
{
	if (state >= STORE_NAT_RSTATE_MAX || (flags & ~STORE_NAT_UNREPLIED &
	    ~STORE_NAT_INBOUND) != 0)
		return false;
	if (proto != IPPROTO_TCP)
		return (state == STORE_NAT_NEW || state == STORE_NAT_ESTABLISHED) &&
		    !(flags & STORE_NAT_UNREPLIED);
	return !(flags & STORE_NAT_UNREPLIED) ||
	    (state != STORE_NAT_NEW && state != STORE_NAT_TRANSITORY);
}

/* Decimal v at p; returns the end. */
static char *
put_dec(char *p, unsigned v)
{
	char t[10];
	int n = 0;

	do {
		t[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (n > 0)
		*p++ = t[--n];
	return p;
}

/* "a.b.c/d" of ip at p (paths are built for every change: no printf). */
static char *
put_ip_path(char *p, uint32_t ip)
{
	p = put_dec(p, ip >> 24);
	*p++ = '.';
	p = put_dec(p, (ip >> 16) & 0xff);
	*p++ = '.';
	p = put_dec(p, (ip >> 8) & 0xff);
	*p++ = '/';
	return put_dec(p, ip & 0xff);
}

int
store_entry_path(char *buf, size_t cap, const struct store_entry *e)
{
	char t[64], *p = t;
	const char *proto;
	size_t n;

	switch (e->table) {
	case EV_TABLE_ARP:
		memcpy(p, "arp/", 4);
		p = put_ip_path(p + 4, e->arp.ip);
		break;
	case EV_TABLE_NAT:
		if ((proto = ip_proto_name(e->nat.proto)) == NULL)
			return store_err(STORE_EINVAL, "store: nat: protocol %u not stored",
			    e->nat.proto);
		memcpy(p, "nat/", 4);
		n = strlen(proto);	/* "icmp" at most */
		memcpy(p + 4, proto, n);
		p[4 + n] = '/';
		p = put_ip_path(p + 5 + n, e->nat.in_ip);
		*p++ = '/';
		p = put_dec(p, e->nat.in_port);
		break;
	default:
		return store_err(STORE_EINVAL, "store: unknown table %u", e->table);
	}
	n = (size_t)(p - t);
	if (n >= cap)
		return store_err(STORE_EINVAL, "store: path buffer too small");
	memcpy(buf, t, n);
	buf[n] = '\0';
	return (int)n;
}

int
store_path_parse(struct store_entry *e, const char *path)
{
	const char *p, *slash;
	uint32_t hi, lo, port;

	memset(e, 0, sizeof(*e));
	if (strncmp(path, "arp/", 4) == 0) {
		e->table = EV_TABLE_ARP;
		if ((p = octets_parse(&hi, path + 4, 3)) == NULL || *p++ != '/' ||
		    (p = dec_parse(&lo, p, 255)) == NULL || *p != '\0')
			return -1;
		e->arp.ip = hi << 8 | lo;
		return 0;
	}
	if (strncmp(path, "nat/", 4) == 0) {
		e->table = EV_TABLE_NAT;
		p = path + 4;
		if ((slash = strchr(p, '/')) == NULL ||
		    ip_proto_parse(&e->nat.proto, p, (size_t)(slash - p)) < 0)
			return -1;
		p = slash + 1;
		if ((p = octets_parse(&hi, p, 3)) == NULL || *p++ != '/' ||
		    (p = dec_parse(&lo, p, 255)) == NULL || *p++ != '/' ||
		    (p = dec_parse(&port, p, 65535)) == NULL || *p != '\0')
			return -1;
		e->nat.in_ip = hi << 8 | lo;
		e->nat.in_port = (uint16_t)port;
		return 0;
	}
	return -1;
}

static int
line_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A bounded writer for the encoder: printf costs more than the rest. */
struct wbuf {
	char	*p;
	size_t	cap, len;
	bool	over;
};

static void
w_add(struct wbuf *w, const char *s, size_t n)
{
	if (w->over || w->len + n >= w->cap) {
		w->over = true;
		return;
	}
	memcpy(w->p + w->len, s, n);
	w->len += n;
	w->p[w->len] = '\0';
}

static void
w_str(struct wbuf *w, const char *s)
{
	w_add(w, s, strlen(s));
}

static void
w_dec(struct wbuf *w, uint64_t v, int width)
{
	char t[24];
	int n = 0;

	do {
		t[sizeof(t) - 1 - n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0 || n < width);
	w_add(w, t + sizeof(t) - n, (size_t)n);
}

static void
w_time(struct wbuf *w, uint64_t us)
{
	if (us == 0) {
		w_str(w, "never");
		return;
	}
	w_dec(w, us / 1000000, 0);
	w_add(w, ".", 1);
	w_dec(w, us % 1000000, 6);
}

static void
w_ip(struct wbuf *w, uint32_t ip)
{
	char t[16];

	w_str(w, ipv4_ntop(ip, t));
}

static void
w_mac(struct wbuf *w, const uint8_t m[ETH_ALEN])
{
	char t[18];

	w_add(w, mac_ntop(m, t), 17);
}

int
store_entry_encode(char *buf, size_t cap, const struct store_entry *e,
    const char *const *ifnames, unsigned n_ifnames)
{
	struct wbuf w = { buf, cap, 0, cap == 0 };
	char rl[STORE_NAT_REMOTES][64];
	char *sorted[STORE_NAT_REMOTES];

	if (cap > 0)
		buf[0] = '\0';
	switch (e->table) {
	case EV_TABLE_ARP:
		if (e->arp.state >= ARP_STATE_MAX)
			return store_err(STORE_EINVAL, "store: arp: bad state %u", e->arp.state);
		w_str(&w, "expires ");
		w_time(&w, e->arp.expires_us);
		w_str(&w, "\nlearned-on ");
		if (ifnames != NULL && e->arp.ifidx < n_ifnames && ifnames[e->arp.ifidx]) {
			w_str(&w, ifnames[e->arp.ifidx]);
		} else {
			w_str(&w, "if");
			w_dec(&w, e->arp.ifidx, 0);
		}
		w_str(&w, "\nlladdr ");
		w_mac(&w, e->arp.mac);
		w_str(&w, "\nstate ");
		w_str(&w, arp_states[e->arp.state]);
		w_str(&w, "\nupdated ");
		w_time(&w, e->arp.updated_us);
		w_str(&w, "\n");
		break;
	case EV_TABLE_NAT:
		if (e->nat.nremote > STORE_NAT_REMOTES)
			return store_err(STORE_EINVAL, "store: nat: %u remotes", e->nat.nremote);
		w_str(&w, "created ");
		w_time(&w, e->nat.created_us);
		w_str(&w, "\nexpires ");
		w_time(&w, e->nat.expires_us);
		w_str(&w, "\nexternal ");
		w_ip(&w, e->nat.ext_ip);
		w_str(&w, ":");
		w_dec(&w, e->nat.ext_port, 0);
		w_str(&w, "\n");
		/* "sorted key value lines": the remote lines sort as text too. */
		for (unsigned i = 0; i < e->nat.nremote; i++) {
			const struct store_nat_remote *r = &e->nat.remote[i];
			struct wbuf l = { rl[i], sizeof(rl[i]), 0, false };

			if (!rstate_valid(e->nat.proto, r->state, r->flags))
				return store_err(STORE_EINVAL, "store: nat: bad remote state %u "
				    "flags %#x", r->state, r->flags);
			w_str(&l, "remote ");
			w_ip(&l, r->ip);
			w_str(&l, ":");
			w_dec(&l, r->port, 0);
			w_str(&l, " ");
			w_str(&l, nat_rstates[r->state]);
			if (r->flags & STORE_NAT_UNREPLIED)
				w_str(&l, " unreplied");
			w_str(&l, "\n");
			sorted[i] = rl[i];
		}
		qsort(sorted, e->nat.nremote, sizeof(sorted[0]), line_cmp);
		for (unsigned i = 0; i < e->nat.nremote; i++)
			w_str(&w, sorted[i]);
		if (e->nat.unlisted > 0) {
			w_str(&w, "unlisted ");
			w_dec(&w, e->nat.unlisted, 0);
			w_str(&w, "\n");
		}
		break;
	default:
		return store_err(STORE_EINVAL, "store: unknown table %u", e->table);
	}
	if (w.over)
		return store_err(STORE_EINVAL, "store: value buffer too small");
	return (int)w.len;
}

static int
ifname_parse(uint8_t *ifidx, const char *s, const char *const *ifnames, unsigned n)
{
	uint32_t v;
	const char *p;

	for (unsigned i = 0; ifnames != NULL && i < n && i < 256; i++)
		if (ifnames[i] != NULL && strcmp(ifnames[i], s) == 0) {
			*ifidx = (uint8_t)i;
			return 0;
		}
	if (strncmp(s, "if", 2) != 0 || (p = dec_parse(&v, s + 2, 255)) == NULL ||
	    *p != '\0') {
		/* Without a name table (merge, tools) a name is kept as unknown. */
		if (ifnames != NULL || *s == '\0')
			return -1;
		v = 255;
	}
	*ifidx = (uint8_t)v;
	return 0;
}

int
store_entry_decode(struct store_entry *e, const char *path, const char *text,
    size_t len, const char *const *ifnames, unsigned n_ifnames)
{
	enum { K_CREATED = 1, K_EXPIRES = 2, K_EXTERNAL = 4, K_LEARNED = 8,
	    K_LLADDR = 16, K_STATE = 32, K_UPDATED = 64, K_UNLISTED = 128 };
	unsigned seen = 0, need, bit, lineno = 0;
	char line[160];
	const char *p = text, *end = text + len, *nl;

	if (store_path_parse(e, path) < 0)
		return store_err(STORE_EPARSE, "store: %s: not an entry path", path);
	need = e->table == EV_TABLE_ARP ?
	    (K_EXPIRES | K_LEARNED | K_LLADDR | K_STATE | K_UPDATED) :
	    (K_CREATED | K_EXPIRES | K_EXTERNAL);
	for (; p < end; p = nl + 1) {
		char *val;
		int bad = 0;

		lineno++;
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			return store_err(STORE_EPARSE, "store: %s: line %u: no newline",
			    path, lineno);
		if ((size_t)(nl - p) >= sizeof(line) || memchr(p, '\0', (size_t)(nl - p)))
			return store_err(STORE_EPARSE, "store: %s: line %u: too long",
			    path, lineno);
		memcpy(line, p, (size_t)(nl - p));
		line[nl - p] = '\0';
		if ((val = strchr(line, ' ')) == NULL)
			return store_err(STORE_EPARSE, "store: %s: line %u: no value",
			    path, lineno);
		*val++ = '\0';
		bit = 0;
		if (strcmp(line, "expires") == 0) {
			bit = K_EXPIRES;
			bad = time_parse(e->table == EV_TABLE_ARP ? &e->arp.expires_us :
			    &e->nat.expires_us, val);
		} else if (e->table == EV_TABLE_ARP && strcmp(line, "learned-on") == 0) {
			bit = K_LEARNED;
			bad = ifname_parse(&e->arp.ifidx, val, ifnames, n_ifnames);
		} else if (e->table == EV_TABLE_ARP && strcmp(line, "lladdr") == 0) {
			bit = K_LLADDR;
			bad = mac_parse(e->arp.mac, val);
		} else if (e->table == EV_TABLE_ARP && strcmp(line, "state") == 0) {
			bit = K_STATE;
			bad = -1;
			for (unsigned s = 0; s < ARP_STATE_MAX; s++)
				if (strcmp(val, arp_states[s]) == 0) {
					e->arp.state = (uint8_t)s;
					bad = 0;
				}
		} else if (e->table == EV_TABLE_ARP && strcmp(line, "updated") == 0) {
			bit = K_UPDATED;
			bad = time_parse(&e->arp.updated_us, val);
		} else if (e->table == EV_TABLE_NAT && strcmp(line, "created") == 0) {
			bit = K_CREATED;
			bad = time_parse(&e->nat.created_us, val);
		} else if (e->table == EV_TABLE_NAT && strcmp(line, "external") == 0) {
			bit = K_EXTERNAL;
			bad = endpoint_parse(&e->nat.ext_ip, &e->nat.ext_port, val);
		} else if (e->table == EV_TABLE_NAT && strcmp(line, "remote") == 0) {
			struct store_nat_remote *r = &e->nat.remote[e->nat.nremote];
			char *st = strchr(val, ' ');

			if (e->nat.nremote >= STORE_NAT_REMOTES)
				return store_err(STORE_EPARSE, "store: %s: line %u: more than %d remotes",
				    path, lineno, STORE_NAT_REMOTES);
			bad = -1;
			if (st != NULL) {
				char *fl = strchr(++st, ' ');

				st[-1] = '\0';
				r->flags = 0;
				if (fl != NULL && strcmp(fl, " unreplied") == 0) {
					*fl = '\0';
					r->flags = STORE_NAT_UNREPLIED;
				}
				for (unsigned s = 0; s < STORE_NAT_RSTATE_MAX; s++)
					if (strcmp(st, nat_rstates[s]) == 0 &&
					    rstate_valid(e->nat.proto, (uint8_t)s, r->flags)) {
						r->state = (uint8_t)s;
						bad = 0;
					}
			}
			if (bad == 0)
				bad = endpoint_parse(&r->ip, &r->port, val);
			if (bad == 0)
				e->nat.nremote++;
		} else if (e->table == EV_TABLE_NAT && strcmp(line, "unlisted") == 0) {
			const char *end_ = dec_parse(&e->nat.unlisted, val, UINT32_MAX);

			bit = K_UNLISTED;
			bad = end_ == NULL || *end_ != '\0' || e->nat.unlisted == 0;
		} else {
			return store_err(STORE_EPARSE, "store: %s: line %u: unknown key '%s'",
			    path, lineno, line);
		}
		if (bad)
			return store_err(STORE_EPARSE, "store: %s: line %u: bad %s '%s'",
			    path, lineno, line, val);
		if (seen & bit)
			return store_err(STORE_EPARSE, "store: %s: line %u: %s given twice",
			    path, lineno, line);
		seen |= bit;
	}
	if ((seen & need) != need)
		return store_err(STORE_EPARSE, "store: %s: missing keys", path);
	return 0;
}

int
store_read_entry(struct store_entry *e, struct store_odb *odb, const git_oid *id,
    const char *path)
{
	git_odb_object *obj = NULL;
	git_object_t type;
	const void *data;
	size_t len;
	int error;

	if ((error = store_odb_get(odb, id, &type, &data, &len, &obj)) < 0) {
		char hex[GIT_OID_HEXSZ + 1];

		return store_gerr(error, "store: %s: blob %s", path,
		    git_oid_tostr(hex, sizeof(hex), id));
	}
	if (type != GIT_OBJECT_BLOB)
		error = store_err(STORE_EPARSE, "store: %s: not a blob", path);
	else
		error = store_entry_decode(e, path, data, len, NULL, 0);
	git_odb_object_free(obj);
	return error;
}

/* ARP table hooks. */

static uint64_t
arp_key(const struct store_entry *e)
{
	return (uint64_t)EV_TABLE_ARP << 56 | e->arp.ip;
}

static void
arp_from_key(struct store_entry *e, uint64_t k)
{
	memset(e, 0, sizeof(*e));
	e->table = EV_TABLE_ARP;
	e->arp.ip = (uint32_t)k;
}

static uint64_t
arp_expires(const struct store_entry *e)
{
	return e->arp.expires_us;
}

/* Order two ARP entries independently of which side holds them. */
static int
arp_cmp(const struct arp_entry *a, const struct arp_entry *b)
{
	int c;

	if (a->updated_us != b->updated_us)
		return a->updated_us > b->updated_us ? -1 : 1;	/* newer first */
	if ((c = memcmp(a->mac, b->mac, ETH_ALEN)) != 0)
		return c;
	if (a->expires_us != b->expires_us)
		return a->expires_us > b->expires_us ? -1 : 1;
	if (a->state != b->state)
		return a->state < b->state ? -1 : 1;
	return a->ifidx < b->ifidx ? -1 : a->ifidx > b->ifidx;
}

/* DESIGN 3: the newer `updated` wins; a MAC disagreement is a clash. */
static int
arp_table_resolve(const struct store_entry *base, const struct store_entry *ours,
    const struct store_entry *theirs, bool *clash)
{
	(void)base;
	*clash = memcmp(ours->arp.mac, theirs->arp.mac, ETH_ALEN) != 0;
	return arp_cmp(&ours->arp, &theirs->arp) <= 0 ? 0 : 1;
}

/* NAT table hooks. */

static uint64_t
nat_key(const struct store_entry *e)
{
	return (uint64_t)EV_TABLE_NAT << 56 | (uint64_t)e->nat.proto << 48 |
	    (uint64_t)e->nat.in_ip << 16 | e->nat.in_port;
}

static void
nat_from_key(struct store_entry *e, uint64_t k)
{
	memset(e, 0, sizeof(*e));
	e->table = EV_TABLE_NAT;
	e->nat.proto = (uint8_t)(k >> 48);
	e->nat.in_ip = (uint32_t)(k >> 16);
	e->nat.in_port = (uint16_t)k;
}

static uint64_t
nat_expires(const struct store_entry *e)
{
	return e->nat.expires_us;
}

/*
 * Same inside endpoint changed on both sides: with one external endpoint
 * the later expiry (a refresh) wins; with two, the older mapping wins
 * (established connections keep their port) and the other is a clash.
 */
static int
nat_table_resolve(const struct store_entry *base, const struct store_entry *ours,
    const struct store_entry *theirs, bool *clash)
{
	const struct store_nat *o = &ours->nat, *t = &theirs->nat;

	(void)base;
	*clash = o->ext_ip != t->ext_ip || o->ext_port != t->ext_port;
	if (*clash) {
		if (o->created_us != t->created_us)
			return o->created_us < t->created_us ? 0 : 1;
		if (o->ext_ip != t->ext_ip)
			return o->ext_ip < t->ext_ip ? 0 : 1;
		return o->ext_port < t->ext_port ? 0 : 1;
	}
	if (o->expires_us != t->expires_us)
		return o->expires_us >= t->expires_us ? 0 : 1;
	if (o->nremote != t->nremote)
		return o->nremote > t->nremote ? 0 : 1;
	if (o->unlisted != t->unlisted)
		return o->unlisted > t->unlisted ? 0 : 1;
	return memcmp(o->remote, t->remote, sizeof(o->remote)) <= 0 ? 0 : 1;
}

static uint64_t
nat_unique(const struct store_entry *e)
{
	return (uint64_t)e->nat.proto << 48 | (uint64_t)e->nat.ext_ip << 16 |
	    e->nat.ext_port;
}

static uint64_t
nat_rank(const struct store_entry *e)
{
	return e->nat.created_us;
}

static const struct store_table arp_table = {
	.name = "arp", .id = EV_TABLE_ARP, .key = arp_key, .from_key = arp_from_key,
	.expires = arp_expires, .resolve = arp_table_resolve,
};

static const struct store_table nat_table = {
	.name = "nat", .id = EV_TABLE_NAT, .key = nat_key, .from_key = nat_from_key,
	.expires = nat_expires, .resolve = nat_table_resolve, .unique = nat_unique,
	.rank = nat_rank,
};

const struct store_table *const store_tables[] = { &arp_table, &nat_table };
const size_t store_ntables = sizeof(store_tables) / sizeof(store_tables[0]);

const struct store_table *
store_table_by_id(uint8_t id)
{
	for (size_t i = 0; i < store_ntables; i++)
		if (store_tables[i]->id == id)
			return store_tables[i];
	return NULL;
}

const struct store_table *
store_table_by_path(const char *path)
{
	for (size_t i = 0; i < store_ntables; i++) {
		size_t n = strlen(store_tables[i]->name);

		if (strncmp(path, store_tables[i]->name, n) == 0 && path[n] == '/')
			return store_tables[i];
	}
	return NULL;
}

/*
 * Whether the file at path with mode and bytes text[0..len) may be in a
 * store's tree: see store_check_file() in schema.h.
 */
int
store_check_file(const char *path, unsigned mode, const char *text, size_t len)
{
	char canon[STORE_PATH_MAX], why[256];
	const char *p = path, *entry;
	const struct store_table *tab;
	struct store_entry e;

	for (const char *c = path; ; ) {
		const char *slash = strchr(c, '/');
		size_t n = slash ? (size_t)(slash - c) : strlen(c);

		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return store_err(STORE_EREFUSED, "store: %s: '.', '..' or an empty "
			    "name in a path", path);
		if (slash == NULL)
			break;
		c = slash + 1;
	}
	if (mode != GIT_FILEMODE_BLOB)
		return store_err(STORE_EREFUSED, "store: %s: mode %06o is not a regular "
		    "file (100644)%s", path, mode, mode == GIT_FILEMODE_LINK ? ": a symlink" :
		    mode == GIT_FILEMODE_COMMIT ? ": a gitlink" :
		    mode == GIT_FILEMODE_BLOB_EXECUTABLE ? ": an executable" : "");
	if (strcmp(path, "meta/schema") == 0) {
		size_t n = len;

		if (len == strlen(STORE_SCHEMA) + 1 &&
		    memcmp(text, STORE_SCHEMA "\n", len) == 0)
			return 0;
		while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
			n--;
		return store_err(STORE_EREFUSED, "store: meta/schema: '%.*s' is not this "
		    "store's schema '%s'", n > 60 ? 60 : (int)n, text, STORE_SCHEMA);
	}
	if (strcmp(path, "meta/router") == 0) {
		/* "id <router id>\n" then the router's own lines; text only. */
		if (len < 4 || len > 65536 || memcmp(text, "id ", 3) != 0 ||
		    text[len - 1] != '\n' || memchr(text, '\0', len) != NULL)
			return store_err(STORE_EREFUSED, "store: meta/router: not an "
			    "'id <router>' text");
		return 0;
	}
	if (strncmp(path, "meta/", 5) == 0)
		return store_err(STORE_EREFUSED, "store: %s: not a meta/ file this store "
		    "knows (meta/schema, meta/router)", path);
	entry = strncmp(p, "conflicts/", 10) == 0 ? p + 10 : p;
	if ((tab = store_table_by_path(entry)) == NULL)
		return store_err(STORE_EREFUSED, "store: %s: not a table path (only meta/, "
		    "arp/, nat/ and conflicts/ are)", path);
	if (store_entry_decode(&e, entry, text, len, NULL, 0) < 0) {
		snprintf(why, sizeof(why), "%s", store_strerror());
		return store_err(STORE_EREFUSED, "store: %s: does not decode (%s)", path, why);
	}
	if (store_entry_path(canon, sizeof(canon), &e) < 0 || strcmp(canon, entry) != 0)
		return store_err(STORE_EREFUSED, "store: %s: not the canonical path of its "
		    "entry (%s)", path, canon);
	return 0;
}

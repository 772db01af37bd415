/* SPDX-License-Identifier: ISC */
/*
 * The meta/router codec (format and contract in store.h): the router's
 * setup as `key value` lines in one fixed order, so a changed setting shows
 * as a one-line diff and `git show primary:meta/router` reads like the
 * config file it came from.
 *
 * Decoding is strict about what it reads (an unknown key or a bad value is
 * an error naming the line: the repository may come from anywhere) and
 * lenient about what is missing (older routers wrote four keys).
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"

static const char *const filter_names[] = {
	[NAT_FILTER_ADDRESS_PORT] = "address-port",
	[NAT_FILTER_ADDRESS] = "address",
	[NAT_FILTER_ENDPOINT] = "endpoint",
};

/* Scalars, in the order they are written; each a uint32 or uint16 field. */
struct meta_num {
	const char	*key;
	size_t		off;
	uint8_t		size;		/* 2 or 4 */
	uint32_t	min, max;
};

#define NUM32(k, f, lo, hi) { k, offsetof(struct store_router, f), 4, lo, hi }
#define NUM16(k, f, lo, hi) { k, offsetof(struct store_router, f), 2, lo, hi }

static const struct meta_num nums[] = {
	NUM32("nat.udp_timeout_s", nat_params.udp_timeout_s, 1, 604800),
	NUM32("nat.tcp_established_timeout_s", nat_params.tcp_est_timeout_s, 1, 604800),
	NUM32("nat.tcp_transitory_timeout_s", nat_params.tcp_trans_timeout_s, 1, 604800),
	NUM32("nat.icmp_timeout_s", nat_params.icmp_timeout_s, 1, 604800),
	NUM32("nat.max_sessions", nat_params.max_sessions, 1, 1u << 28),
	NUM32("nat.max_per_host", nat_params.max_per_host, 0, 1u << 28),
	NUM16("nat.port_min", nat_params.port_min, 1, 65535),
	NUM16("nat.port_max", nat_params.port_max, 1, 65535),
	NUM32("arp.base_reachable_ms", arp_params.base_reachable_ms, 1, 3600000),
	NUM32("arp.delay_first_probe_ms", arp_params.delay_first_probe_ms, 1, 3600000),
	NUM32("arp.retrans_ms", arp_params.retrans_ms, 1, 3600000),
	NUM16("arp.ucast_probes", arp_params.ucast_probes, 0, 255),
	NUM16("arp.mcast_probes", arp_params.mcast_probes, 0, 255),
	NUM32("arp.gc_stale_ms", arp_params.gc_stale_ms, 1, 86400000),
	NUM32("arp.max_entries", arp_params.max_entries, 1, 1u << 24),
	NUM16("arp.unres_qlen", arp_params.unres_qlen, 0, 65535),
	NUM16("arp.unres_total", arp_params.unres_total, 0, 65535),
	NUM32("icmp.rate", icmp_rate, 0, 1000000),
	NUM32("icmp.burst", icmp_burst, 0, 1000000),
	NUM32("state.window_ms", window_ms, 1, 3600000),
	NUM32("state.tick_ms", tick_ms, 1, 3600000),
};

void
store_router_default(struct store_router *r)
{
	memset(r, 0, sizeof(*r));
	r->nat = true;
	nat_params_default(&r->nat_params);
	arp_params_default(&r->arp_params);
	r->icmp_rate = 1000;
	r->icmp_burst = 50;
	r->window_ms = 100;
	r->tick_ms = 1000;
}

static uint32_t
num_get(const struct store_router *r, const struct meta_num *n)
{
	const char *p = (const char *)r + n->off;
	uint16_t v16;
	uint32_t v32;

	if (n->size == 2) {
		memcpy(&v16, p, 2);
		return v16;
	}
	memcpy(&v32, p, 4);
	return v32;
}

static void
num_set(struct store_router *r, const struct meta_num *n, uint32_t v)
{
	char *p = (char *)r + n->off;
	uint16_t v16 = (uint16_t)v;

	if (n->size == 2)
		memcpy(p, &v16, 2);
	else
		memcpy(p, &v, 4);
}

static char *
ip_text(char buf[16], uint32_t a)
{
	snprintf(buf, 16, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
	return buf;
}

static char *
mac_text(char buf[18], const uint8_t *m)
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
	return buf;
}

static const char *
proto_text(uint8_t p)
{
	return p == IPPROTO_TCP ? "tcp" : p == IPPROTO_UDP ? "udp" : NULL;
}

int
store_router_encode(char *buf, size_t cap, const struct store_router *r)
{
	static const char *const side[2] = { "inside", "outside" };
	struct sbuf b = { 0 };
	char a[16], g[16], m[18];
	int n;

	if (r->id[0] != '\0') {
		if (strpbrk(r->id, " \t\n") != NULL)
			return store_err(STORE_EINVAL, "meta/router: id '%s' has a blank", r->id);
		store_sbuf_printf(&b, "id %s\n", r->id);
	}
	for (int i = 0; i < 2; i++) {
		const struct store_router_iface *f = &r->iface[i];

		if (!f->set || f->dev[0] == '\0' || strpbrk(f->dev, " \t\n") != NULL ||
		    f->plen > 32) {
			store_sbuf_free(&b);
			return store_err(STORE_EINVAL, "meta/router: no valid %s interface", side[i]);
		}
		store_sbuf_printf(&b, "%s %.15s %s/%u\n", side[i], f->dev, ip_text(a, f->addr),
		    f->plen);
	}
	store_sbuf_printf(&b, "nat %s\n", r->nat ? "on" : "off");
	for (int i = 0; i < 2; i++) {
		if (r->iface[i].has_mac)
			store_sbuf_printf(&b, "%s.mac %s\n", side[i], mac_text(m, r->iface[i].mac));
		if (r->iface[i].mtu != 0)
			store_sbuf_printf(&b, "%s.mtu %u\n", side[i], r->iface[i].mtu);
	}
	if (r->gateway != 0)
		store_sbuf_printf(&b, "gateway %s\n", ip_text(a, r->gateway));
	for (unsigned i = 0; i < r->nroutes && i < STORE_ROUTER_LIST; i++)
		store_sbuf_printf(&b, "route %s/%u=%s\n", ip_text(a, r->routes[i].prefix),
		    r->routes[i].plen, ip_text(g, r->routes[i].gw));
	for (unsigned i = 0; i < r->narp && i < STORE_ROUTER_LIST; i++)
		store_sbuf_printf(&b, "arp %s=%s\n", ip_text(a, r->arp[i].ip),
		    mac_text(m, r->arp[i].mac));
	for (unsigned i = 0; i < r->nforwards && i < STORE_ROUTER_LIST; i++) {
		const char *p = proto_text(r->forwards[i].proto);

		if (p == NULL) {
			store_sbuf_free(&b);
			return store_err(STORE_EINVAL, "meta/router: forward of protocol %u",
			    r->forwards[i].proto);
		}
		store_sbuf_printf(&b, "forward %s:%u=%s:%u\n", p, r->forwards[i].ext_port,
		    ip_text(a, r->forwards[i].int_ip), r->forwards[i].int_port);
	}
	for (unsigned i = 0; i < r->npool && i < NAT_MAX_EXT - 1; i++)
		store_sbuf_printf(&b, "nat.pool %s\n", ip_text(a, r->pool[i]));
	if (r->nat_params.filtering > NAT_FILTER_ENDPOINT) {
		store_sbuf_free(&b);
		return store_err(STORE_EINVAL, "meta/router: filtering mode %u",
		    r->nat_params.filtering);
	}
	store_sbuf_printf(&b, "nat.filtering %s\n", filter_names[r->nat_params.filtering]);
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
		store_sbuf_printf(&b, "%s %u\n", nums[i].key, num_get(r, &nums[i]));
	if (b.oom || b.len >= cap) {
		store_sbuf_free(&b);
		return store_err(STORE_EINVAL, "meta/router: does not fit in %zu bytes", cap);
	}
	memcpy(buf, b.p, b.len);
	buf[b.len] = '\0';
	n = (int)b.len;
	store_sbuf_free(&b);
	return n;
}

/* "A.B.C.D", exactly; 0 or -1. */
static int
ip_parse(uint32_t *out, const char *s, const char **end)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++) {
		unsigned x = 0, nd = 0;

		while (*s >= '0' && *s <= '9' && nd < 4) {
			x = x * 10 + (unsigned)(*s++ - '0');
			nd++;
		}
		if (nd == 0 || nd > 3 || x > 255)
			return -1;
		v = v << 8 | x;
		if (i < 3 && *s++ != '.')
			return -1;
	}
	*out = v;
	if (end != NULL)
		*end = s;
	else if (*s != '\0')
		return -1;
	return 0;
}

static int
u32_parse(uint32_t *out, const char *s, const char **end, uint32_t max)
{
	unsigned long long v = 0;
	unsigned nd = 0;

	while (*s >= '0' && *s <= '9' && nd < 11) {
		v = v * 10 + (unsigned)(*s++ - '0');
		nd++;
	}
	if (nd == 0 || v > max)
		return -1;
	*out = (uint32_t)v;
	if (end != NULL)
		*end = s;
	else if (*s != '\0')
		return -1;
	return 0;
}

static int
mac_parse(uint8_t mac[ETH_ALEN], const char *s)
{
	unsigned v[ETH_ALEN];
	char tail;

	if (strlen(s) != 17 || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2],
	    &v[3], &v[4], &v[5], &tail) != 6)
		return -1;
	for (int i = 0; i < ETH_ALEN; i++)
		mac[i] = (uint8_t)v[i];
	return 0;
}

/* "A.B.C.D/PLEN" then c (or the end when c is 0). */
static int
prefix_parse(uint32_t *a, uint8_t *plen, const char *s, char c, const char **end)
{
	uint32_t p;

	if (ip_parse(a, s, &s) < 0 || *s++ != '/' || u32_parse(&p, s, &s, 32) < 0)
		return -1;
	*plen = (uint8_t)p;
	if (c == 0)
		return *s == '\0' ? 0 : -1;
	if (*s++ != c)
		return -1;
	*end = s;
	return 0;
}

/* One line's key and value; returns NULL when understood, else the reason. */
static const char *
decode_line(struct store_router *r, const char *key, const char *val)
{
	const char *p;
	uint32_t x, y;

	if (strcmp(key, "id") == 0) {
		if (strlen(val) >= sizeof(r->id))
			return "id too long";
		memcpy(r->id, val, strlen(val) + 1);
		return NULL;
	}
	for (int i = 0; i < 2; i++) {
		static const char *const side[2] = { "inside", "outside" };
		struct store_router_iface *f = &r->iface[i];
		size_t sl = strlen(side[i]);

		if (strcmp(key, side[i]) == 0) {
			const char *sp = strchr(val, ' ');

			if (sp == NULL || (size_t)(sp - val) >= sizeof(f->dev) || sp == val)
				return "want DEV A.B.C.D/PLEN";
			if (prefix_parse(&f->addr, &f->plen, sp + 1, 0, NULL) < 0)
				return "want DEV A.B.C.D/PLEN";
			memcpy(f->dev, val, (size_t)(sp - val));
			f->dev[sp - val] = '\0';
			f->set = true;
			return NULL;
		}
		if (strncmp(key, side[i], sl) != 0 || key[sl] != '.')
			continue;
		if (strcmp(key + sl, ".mac") == 0) {
			if (mac_parse(f->mac, val) < 0)
				return "not a MAC address";
			f->has_mac = true;
			return NULL;
		}
		if (strcmp(key + sl, ".mtu") == 0) {
			if (u32_parse(&x, val, NULL, 65535) < 0 || x < 68)
				return "not an MTU (68..65535)";
			f->mtu = (uint16_t)x;
			return NULL;
		}
		return "unknown key";
	}
	if (strcmp(key, "nat") == 0) {
		if (strcmp(val, "on") != 0 && strcmp(val, "off") != 0)
			return "want on or off";
		r->nat = strcmp(val, "on") == 0;
		return NULL;
	}
	if (strcmp(key, "gateway") == 0)
		return ip_parse(&r->gateway, val, NULL) < 0 ? "not an IPv4 address" : NULL;
	if (strcmp(key, "route") == 0) {
		if (r->nroutes == STORE_ROUTER_LIST)
			return "too many routes";
		if (prefix_parse(&r->routes[r->nroutes].prefix, &r->routes[r->nroutes].plen, val,
		    '=', &p) < 0 || ip_parse(&r->routes[r->nroutes].gw, p, NULL) < 0)
			return "want PREFIX/PLEN=IP";
		r->nroutes++;
		return NULL;
	}
	if (strcmp(key, "arp") == 0) {
		if (r->narp == STORE_ROUTER_LIST)
			return "too many arp entries";
		if (ip_parse(&r->arp[r->narp].ip, val, &p) < 0 || *p++ != '=' ||
		    mac_parse(r->arp[r->narp].mac, p) < 0)
			return "want IP=MAC";
		r->narp++;
		return NULL;
	}
	if (strcmp(key, "forward") == 0) {
		uint8_t proto = strncmp(val, "tcp:", 4) == 0 ? IPPROTO_TCP :
		    strncmp(val, "udp:", 4) == 0 ? IPPROTO_UDP : 0;

		if (r->nforwards == STORE_ROUTER_LIST)
			return "too many forwards";
		if (proto == 0 || u32_parse(&x, val + 4, &p, 65535) < 0 || x == 0 || *p++ != '=' ||
		    ip_parse(&r->forwards[r->nforwards].int_ip, p, &p) < 0 || *p++ != ':' ||
		    u32_parse(&y, p, NULL, 65535) < 0 || y == 0)
			return "want tcp|udp:PORT=IP:PORT";
		r->forwards[r->nforwards].proto = proto;
		r->forwards[r->nforwards].ext_port = (uint16_t)x;
		r->forwards[r->nforwards].int_port = (uint16_t)y;
		r->nforwards++;
		return NULL;
	}
	if (strcmp(key, "nat.pool") == 0) {
		if (r->npool == NAT_MAX_EXT - 1)
			return "too many pool addresses";
		if (ip_parse(&r->pool[r->npool], val, NULL) < 0)
			return "not an IPv4 address";
		r->npool++;
		return NULL;
	}
	if (strcmp(key, "nat.filtering") == 0) {
		for (unsigned i = 0; i < sizeof(filter_names) / sizeof(filter_names[0]); i++)
			if (strcmp(val, filter_names[i]) == 0) {
				r->nat_params.filtering = (uint8_t)i;
				return NULL;
			}
		return "want address-port, address or endpoint";
	}
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		if (strcmp(key, nums[i].key) != 0)
			continue;
		if (u32_parse(&x, val, NULL, nums[i].max) < 0 || x < nums[i].min)
			return "not a number in range";
		num_set(r, &nums[i], x);
		return NULL;
	}
	return "unknown key";
}

int
store_router_decode(struct store_router *r, const char *text, size_t len)
{
	char line[256];
	size_t i = 0;
	unsigned no = 0;

	store_router_default(r);
	while (i < len) {
		size_t j = i;
		char *sp;
		const char *why;

		while (j < len && text[j] != '\n')
			j++;
		no++;
		if (j - i >= sizeof(line))
			return store_err(STORE_EPARSE, "meta/router: line %u: too long", no);
		if (memchr(text + i, '\0', j - i) != NULL)
			return store_err(STORE_EPARSE, "meta/router: line %u: a NUL byte", no);
		memcpy(line, text + i, j - i);
		line[j - i] = '\0';
		i = j + 1;
		if (line[0] == '\0')
			continue;
		if ((sp = strchr(line, ' ')) == NULL || sp == line || sp[1] == '\0')
			return store_err(STORE_EPARSE, "meta/router: line %u: '%.60s' is not "
			    "`key value`", no, line);
		*sp = '\0';
		if ((why = decode_line(r, line, sp + 1)) != NULL)
			return store_err(STORE_EPARSE, "meta/router: line %u: %.40s '%.60s': %s",
			    no, line, sp + 1, why);
	}
	if (!r->iface[0].set || !r->iface[1].set)
		return store_err(STORE_EPARSE, "meta/router: no %s interface line",
		    r->iface[0].set ? "outside" : "inside");
	if (r->nat_params.port_min > r->nat_params.port_max)
		return store_err(STORE_EPARSE, "meta/router: nat.port_min %u above nat.port_max %u",
		    r->nat_params.port_min, r->nat_params.port_max);
	return 0;
}

int
store_router_at(struct store_router *r, char hex[41], uint64_t *time_us,
    const char *path, const char *rev)
{
	git_repository *g = NULL;
	git_object *obj = NULL;
	git_commit *c = NULL;
	git_tree *t = NULL;
	git_tree_entry *te = NULL;
	git_blob *b = NULL;
	int error;

	if (git_libgit2_init() < 0)
		return store_gerr(-1, "store: libgit2");
	if ((error = git_repository_open_ext(&g, path, GIT_REPOSITORY_OPEN_NO_SEARCH,
	    NULL)) < 0) {
		error = store_err(STORE_EFOREIGN, "store: %s: not a git repository", path);
		goto done;
	}
	if (git_revparse_single(&obj, g, rev) < 0 ||
	    git_object_peel((git_object **)&c, obj, GIT_OBJECT_COMMIT) < 0) {
		error = store_err(GIT_ENOTFOUND, "unknown revision '%s'", rev);
		goto done;
	}
	if ((error = git_commit_tree(&t, c)) < 0) {
		error = store_gerr(error, "store: %s: tree", rev);
		goto done;
	}
	if (git_tree_entry_bypath(&te, t, "meta/router") < 0 ||
	    git_tree_entry_type(te) != GIT_OBJECT_BLOB ||
	    git_tree_entry_filemode(te) != GIT_FILEMODE_BLOB) {
		error = store_err(STORE_EFOREIGN, "%s: no meta/router file", rev);
		goto done;
	}
	if ((error = git_blob_lookup(&b, g, git_tree_entry_id(te))) < 0) {
		error = store_gerr(error, "%s: meta/router", rev);
		goto done;
	}
	if ((error = store_router_decode(r, git_blob_rawcontent(b),
	    (size_t)git_blob_rawsize(b))) < 0) {
		char why[300];

		snprintf(why, sizeof(why), "%s", store_strerror());
		error = store_err(error, "%s: %s", rev, why);
		goto done;
	}
	if (hex != NULL)
		git_oid_tostr(hex, 41, git_commit_id(c));
	if (time_us != NULL)
		*time_us = (uint64_t)git_commit_time(c) * 1000000;
done:
	git_blob_free(b);
	git_tree_entry_free(te);
	git_tree_free(t);
	git_commit_free(c);
	git_object_free(obj);
	git_repository_free(g);
	git_libgit2_shutdown();
	return error;
}

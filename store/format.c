/* SPDX-License-Identifier: ISC */
/*
 * The output shapes of a table entry, one formatter each: an ARP entry as
 * `ip neigh` prints one, a NAT mapping as `conntrack -L` lines, both as
 * JSON, and a change as its commit-message line. The router's control
 * socket (src/ctl.c, from live sessions it converts with
 * store_entry_from_nat) and the gitnet tool (tools/print.c, from commits)
 * print through these and nothing else, so the two cannot drift apart.
 *
 * Every formatter writes a NUL-terminated text into buf[0..cap) and
 * returns the length the whole text needs, as snprintf does: a caller
 * with a fixed buffer (STORE_FMT_MAX is enough for any one entry) or a
 * socket's output buffer can tell a cut-short text. Nothing here reads a
 * clock: NAT timeouts count from the now_us passed in, so a commit prints
 * the same way every time. IPv4, MAC and protocol text come from netfn.
 *
 * Decisions about the shapes:
 *  - `ip neigh` names the lladdr only when it is known: not for
 *    INCOMPLETE (still resolving) or FAILED (gave up), as iproute2 prints
 *    them (`10.0.0.9 dev inside FAILED`). The JSON keeps the member.
 *  - A NAT mapping is one `conntrack -L` line per remote endpoint; a
 *    mapping without one (a port forward no one used) shows 0.0.0.0:0.
 *    The timeout is the mapping's expiry less now, in whole seconds, 0
 *    for never. [UNREPLIED] marks a remote that has sent nothing back,
 *    [ASSURED] (TCP and UDP) one that has; TCP lines carry conntrack's
 *    state name.
 */
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "schema.h"

/* A bounded writer that counts what it could not write, as snprintf. */
struct fbuf {
	char	*p;
	size_t	cap, len;
};

static void __attribute__((format(printf, 2, 3)))
f_printf(struct fbuf *f, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(f->len < f->cap ? f->p + f->len : NULL,
	    f->len < f->cap ? f->cap - f->len : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		f->len += (size_t)n;
}

static int
f_done(const struct fbuf *f)
{
	if (f->cap > 0 && f->len >= f->cap)
		f->p[f->cap - 1] = '\0';
	return (int)f->len;
}

/* A JSON string: quotes, backslashes and control characters escaped. */
static void
f_json_str(struct fbuf *f, const char *s)
{
	f_printf(f, "\"");
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			f_printf(f, "\\%c", ch);
		else if (ch == '\n')
			f_printf(f, "\\n");
		else if (ch == '\t')
			f_printf(f, "\\t");
		else if (ch < 0x20)
			f_printf(f, "\\u%04x", ch);
		else
			f_printf(f, "%c", ch);
	}
	f_printf(f, "\"");
}

/* Unix seconds with six decimals, or null for 0 (never). */
static void
f_json_time(struct fbuf *f, uint64_t us)
{
	if (us == 0)
		f_printf(f, "null");
	else
		f_printf(f, "%llu.%06llu", (unsigned long long)(us / 1000000),
		    (unsigned long long)(us % 1000000));
}

static const char *
proto_text(uint8_t proto)
{
	const char *p = ip_proto_name(proto);

	return p != NULL ? p : "?";
}

static const char *
arp_state_text(uint8_t s)
{
	return s < ARP_STATE_MAX ? arp_state_name((enum arp_state)s) : "?";
}

/* The remote a mapping without any shows: 0.0.0.0:0, nothing came back. */
static const struct store_nat_remote no_remote = { 0, 0, STORE_NAT_NEW, 0 };

static const struct store_nat_remote *
remote_at(const struct store_nat *n, unsigned i)
{
	return i < n->nremote && i < STORE_NAT_REMOTES ? &n->remote[i] : &no_remote;
}

bool
store_nat_replied(const struct store_nat_remote *r)
{
	return r->state != STORE_NAT_NEW && !(r->flags & STORE_NAT_UNREPLIED);
}

uint64_t
store_nat_timeout_s(const struct store_nat *n, uint64_t now_us)
{
	if (n->expires_us == 0 || n->expires_us <= now_us)
		return 0;
	return (n->expires_us - now_us) / 1000000;
}

int
store_fmt_neigh(char *buf, size_t cap, const struct arp_entry *a, const char *dev)
{
	struct fbuf f = { buf, cap, 0 };
	char ip[16], mac[18];

	ipv4_ntop(a->ip, ip);
	if (a->state == ARP_INCOMPLETE || a->state == ARP_FAILED)
		f_printf(&f, "%s dev %s %s\n", ip, dev, arp_state_text(a->state));
	else
		f_printf(&f, "%s dev %s lladdr %s %s\n", ip, dev, mac_ntop(a->mac, mac),
		    arp_state_text(a->state));
	return f_done(&f);
}

/* One conntrack -L line: the mapping towards remote r. */
static void
conntrack_line(struct fbuf *f, const struct store_nat *n,
    const struct store_nat_remote *r, uint64_t now_us)
{
	char ii[16], ei[16], ri[16];
	bool replied = store_nat_replied(r);

	ipv4_ntop(n->in_ip, ii);
	ipv4_ntop(n->ext_ip, ei);
	ipv4_ntop(r->ip, ri);
	f_printf(f, "%-8s %u %llu ", proto_text(n->proto), n->proto,
	    (unsigned long long)store_nat_timeout_s(n, now_us));
	if (n->proto == IPPROTO_TCP)
		f_printf(f, "%s ", store_nat_rstate_conntrack(r->state));
	if (n->proto == IPPROTO_ICMP)
		f_printf(f, "src=%s dst=%s type=8 code=0 id=%u %s"
		    "src=%s dst=%s type=0 code=0 id=%u ", ii, ri, n->in_port,
		    replied ? "" : "[UNREPLIED] ", ri, ei, n->ext_port);
	else
		f_printf(f, "src=%s dst=%s sport=%u dport=%u %s"
		    "src=%s dst=%s sport=%u dport=%u %s", ii, ri, n->in_port, r->port,
		    replied ? "" : "[UNREPLIED] ", ri, ei, r->port, n->ext_port,
		    replied ? "[ASSURED] " : "");
	f_printf(f, "mark=0 use=1\n");
}

int
store_fmt_conntrack(char *buf, size_t cap, const struct store_nat *n, uint64_t now_us)
{
	struct fbuf f = { buf, cap, 0 };
	unsigned cnt = n->nremote ? n->nremote : 1;

	if (cap > 0)
		buf[0] = '\0';
	for (unsigned i = 0; i < cnt && i < STORE_NAT_REMOTES; i++)
		conntrack_line(&f, n, remote_at(n, i), now_us);
	return f_done(&f);
}

int
store_fmt_json(char *buf, size_t cap, const struct store_entry *e, const char *dev,
    uint64_t now_us)
{
	struct fbuf f = { buf, cap, 0 };
	char a[16], m[18], key[STORE_PATH_MAX];

	if (store_entry_path(key, sizeof(key), e) < 0)
		key[0] = '\0';
	if (e->table == EV_TABLE_ARP) {
		f_printf(&f, "{\"dst\":\"%s\",\"dev\":", ipv4_ntop(e->arp.ip, a));
		f_json_str(&f, dev);
		f_printf(&f, ",\"lladdr\":\"%s\",\"state\":[\"%s\"],\"updated\":",
		    mac_ntop(e->arp.mac, m), arp_state_text(e->arp.state));
		f_json_time(&f, e->arp.updated_us);
		f_printf(&f, ",\"expires\":");
		f_json_time(&f, e->arp.expires_us);
	} else {
		const struct store_nat *n = &e->nat;

		f_printf(&f, "{\"proto\":\"%s\",\"timeout\":%llu,\"inside\":{\"ip\":\"%s\","
		    "\"port\":%u},", proto_text(n->proto),
		    (unsigned long long)store_nat_timeout_s(n, now_us),
		    ipv4_ntop(n->in_ip, a), n->in_port);
		f_printf(&f, "\"external\":{\"ip\":\"%s\",\"port\":%u},\"remotes\":[",
		    ipv4_ntop(n->ext_ip, a), n->ext_port);
		for (unsigned i = 0; i < n->nremote && i < STORE_NAT_REMOTES; i++) {
			const struct store_nat_remote *r = &n->remote[i];

			/* The state as stored: the value `gitnet diff` shows. */
			f_printf(&f, "%s{\"ip\":\"%s\",\"port\":%u,\"state\":\"%s%s\"}",
			    i ? "," : "", ipv4_ntop(r->ip, a), r->port,
			    store_nat_rstate_name(r->state),
			    r->flags & STORE_NAT_UNREPLIED ? " unreplied" : "");
		}
		f_printf(&f, "],");
		if (n->unlisted > 0)	/* sessions past the listed remotes */
			f_printf(&f, "\"unlisted\":%u,", n->unlisted);
		f_printf(&f, "\"created\":");
		f_json_time(&f, n->created_us);
		f_printf(&f, ",\"expires\":");
		f_json_time(&f, n->expires_us);
	}
	f_printf(&f, ",\"key\":");
	f_json_str(&f, key);
	f_printf(&f, "}");
	return f_done(&f);
}

int
store_fmt_conntrack_json(char *buf, size_t cap, const struct store_nat *n, unsigned i,
    uint64_t now_us)
{
	struct fbuf f = { buf, cap, 0 };
	const struct store_nat_remote *r = remote_at(n, i);
	char ii[16], ei[16], ri[16];
	bool tcp = n->proto == IPPROTO_TCP;

	f_printf(&f, "{\"proto\":\"%s\",\"state\":%s%s%s,\"timeout\":%llu,"
	    "\"inside\":{\"ip\":\"%s\",\"port\":%u},"
	    "\"external\":{\"ip\":\"%s\",\"port\":%u},"
	    "\"remote\":{\"ip\":\"%s\",\"port\":%u},"
	    "\"replied\":%s,\"inbound\":%s,\"static\":%s,"
	    "\"created\":%llu.%06llu,\"expires\":%llu.%06llu}",
	    proto_text(n->proto), tcp ? "\"" : "",
	    tcp ? store_nat_rstate_conntrack(r->state) : "null", tcp ? "\"" : "",
	    (unsigned long long)store_nat_timeout_s(n, now_us),
	    ipv4_ntop(n->in_ip, ii), n->in_port, ipv4_ntop(n->ext_ip, ei), n->ext_port,
	    ipv4_ntop(r->ip, ri), r->port,
	    store_nat_replied(r) ? "true" : "false",
	    r->flags & STORE_NAT_INBOUND ? "true" : "false",
	    n->flags & STORE_NAT_STATIC ? "true" : "false",
	    (unsigned long long)(n->created_us / 1000000),
	    (unsigned long long)(n->created_us % 1000000),
	    (unsigned long long)(n->expires_us / 1000000),
	    (unsigned long long)(n->expires_us % 1000000));
	return f_done(&f);
}

/* "tcp 192.168.1.2:51000 -> 203.0.113.1:61001" (no external yet: no arrow) */
static void
nat_mapping(struct fbuf *f, const struct store_nat *n)
{
	char a[16];

	f_printf(f, "%s %s:%u", proto_text(n->proto), ipv4_ntop(n->in_ip, a), n->in_port);
	if (n->ext_ip != 0 || n->ext_port != 0)
		f_printf(f, " -> %s:%u", ipv4_ntop(n->ext_ip, a), n->ext_port);
}

int
store_fmt_change(char *buf, size_t cap, const struct store_change *c)
{
	static const char *const nat_verb[EV_OP_MAX] = {
		[EV_ADD] = "map", [EV_UPDATE] = "update", [EV_REMOVE] = "unmap",
		[EV_LLADDR] = "update",
	};
	struct fbuf f = { buf, cap, 0 };
	char a[16], m[18], o[18];

	if (cap > 0)
		buf[0] = '\0';
	if (c->e.table == EV_TABLE_NAT) {
		f_printf(&f, "nat: %s ", c->op < EV_OP_MAX ? nat_verb[c->op] : "?");
		nat_mapping(&f, &c->e.nat);
		return f_done(&f);
	}
	if (c->e.table != EV_TABLE_ARP) {
		f_printf(&f, "table %u: %s", c->e.table, ev_op_name((enum ev_op)c->op));
		return f_done(&f);
	}
	ipv4_ntop(c->e.arp.ip, a);
	mac_ntop(c->e.arp.mac, m);
	switch (c->op) {
	case EV_ADD:
		f_printf(&f, "arp: add %s -> %s", a, m);
		break;
	case EV_UPDATE:
		f_printf(&f, "arp: update %s -> %s %s", a, m, arp_state_text(c->e.arp.state));
		break;
	case EV_REMOVE:
		f_printf(&f, "arp: remove %s", a);
		break;
	case EV_LLADDR:
		f_printf(&f, "arp: lladdr-change %s %s -> %s", a, mac_ntop(c->old_mac, o), m);
		break;
	default:
		f_printf(&f, "arp: ? %s", a);
		break;
	}
	return f_done(&f);
}

int
store_fmt_summary(char *buf, size_t cap, const struct store_entry *e)
{
	struct fbuf f = { buf, cap, 0 };
	char a[16], m[18], t[24];

	if (cap > 0)
		buf[0] = '\0';
	if (e->table == EV_TABLE_ARP) {
		f_printf(&f, "arp %s lladdr %s updated %s", ipv4_ntop(e->arp.ip, a),
		    mac_ntop(e->arp.mac, m), store_time_fmt(t, e->arp.updated_us));
	} else {
		f_printf(&f, "nat ");
		nat_mapping(&f, &e->nat);
		f_printf(&f, " created %s", store_time_fmt(t, e->nat.created_us));
	}
	return f_done(&f);
}

/* SPDX-License-Identifier: ISC */
/*
 * Output shapes shared by show, at and export: ARP entries as `ip neigh`
 * prints them (`10.0.0.2 dev inside lladdr 02:50:2a:16:6d:01 REACHABLE`,
 * and `ip -j neigh`-like JSON with the state as an array), NAT mappings as
 * `conntrack -L` lines (one per remote endpoint, the line shape of the
 * router's control socket, src/ctl.c), and small JSON helpers.
 *
 * Invariant: output depends only on the commit and the `now` passed in
 * (NAT timeouts count from it), never on the wall clock, so it is exact
 * and testable.
 */
#include <netinet/in.h>
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
tool_ip(char buf[16], uint32_t ip)
{
	snprintf(buf, 16, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff,
	    (ip >> 8) & 0xff, ip & 0xff);
}

static const char *
proto_str(uint8_t p)
{
	return p == IPPROTO_TCP ? "tcp" : p == IPPROTO_UDP ? "udp" : "icmp";
}

static const char *const rstate_upper[] = {
	"NEW", "ESTABLISHED", "TRANSITORY", "CLOSED",
};

static const char *const rstate_lower[] = {
#define NAME(sym, name) name,
	STORE_NAT_RSTATES(NAME)
#undef NAME
};

static void
mac_str(char buf[18], const uint8_t m[6])
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3],
	    m[4], m[5]);
}

static uint64_t
left_s(uint64_t expires, uint64_t now)
{
	return expires == 0 ? 0 : expires > now ? (expires - now) / 1000000 : 0;
}

static void
arp_line(FILE *f, const struct tool_entry *te)
{
	char ip[16], mac[18];

	tool_ip(ip, te->e.arp.ip);
	mac_str(mac, te->e.arp.mac);
	fprintf(f, "%s dev %s lladdr %s %s\n", ip, te->dev, mac,
	    arp_state_name((enum arp_state)te->e.arp.state));
}

/* One conntrack -L line per remote; a mapping without one shows 0.0.0.0:0. */
static void
nat_lines(FILE *f, const struct tool_entry *te, uint64_t now)
{
	const struct store_nat *n = &te->e.nat;
	struct store_nat_remote none = { 0, 0, STORE_NAT_NEW };
	char ii[16], ei[16], ri[16];
	unsigned cnt = n->nremote ? n->nremote : 1;

	tool_ip(ii, n->in_ip);
	tool_ip(ei, n->ext_ip);
	for (unsigned i = 0; i < cnt; i++) {
		const struct store_nat_remote *r = n->nremote ? &n->remote[i] : &none;
		bool replied = r->state != STORE_NAT_NEW;

		tool_ip(ri, r->ip);
		fprintf(f, "%-8s %u %llu ", proto_str(n->proto), n->proto,
		    (unsigned long long)left_s(n->expires_us, now));
		if (n->proto == IPPROTO_TCP)
			fprintf(f, "%s ", rstate_upper[r->state]);
		if (n->proto == IPPROTO_ICMP)
			fprintf(f, "src=%s dst=%s type=8 code=0 id=%u %s"
			    "src=%s dst=%s type=0 code=0 id=%u ", ii, ri, n->in_port,
			    replied ? "" : "[UNREPLIED] ", ri, ei, n->ext_port);
		else
			fprintf(f, "src=%s dst=%s sport=%u dport=%u %s"
			    "src=%s dst=%s sport=%u dport=%u %s", ii, ri, n->in_port,
			    r->port, replied ? "" : "[UNREPLIED] ", ri, ei, r->port,
			    n->ext_port, replied ? "[ASSURED] " : "");
		fprintf(f, "mark=0 use=1\n");
	}
}

void
tool_entry_json(FILE *f, const struct tool_entry *te, uint64_t now)
{
	char a[16], b[18];

	if (te->e.table == EV_TABLE_ARP) {
		tool_ip(a, te->e.arp.ip);
		mac_str(b, te->e.arp.mac);
		fprintf(f, "{\"dst\":\"%s\",\"dev\":", a);
		tool_json_str(f, te->dev);
		fprintf(f, ",\"lladdr\":\"%s\",\"state\":[\"%s\"],\"updated\":", b,
		    arp_state_name((enum arp_state)te->e.arp.state));
		tool_json_time(f, te->e.arp.updated_us);
		fputs(",\"expires\":", f);
		tool_json_time(f, te->e.arp.expires_us);
		fputs(",\"key\":", f);
		tool_json_str(f, te->path);
		fputc('}', f);
		return;
	}
	{
		const struct store_nat *n = &te->e.nat;

		tool_ip(a, n->in_ip);
		fprintf(f, "{\"proto\":\"%s\",\"timeout\":%llu,\"inside\":{\"ip\":\"%s\","
		    "\"port\":%u},", proto_str(n->proto),
		    (unsigned long long)left_s(n->expires_us, now), a, n->in_port);
		tool_ip(a, n->ext_ip);
		fprintf(f, "\"external\":{\"ip\":\"%s\",\"port\":%u},\"remotes\":[", a,
		    n->ext_port);
		for (unsigned i = 0; i < n->nremote; i++) {
			tool_ip(a, n->remote[i].ip);
			fprintf(f, "%s{\"ip\":\"%s\",\"port\":%u,\"state\":\"%s\"}",
			    i ? "," : "", a, n->remote[i].port,
			    rstate_lower[n->remote[i].state]);
		}
		fputs("],\"created\":", f);
		tool_json_time(f, n->created_us);
		fputs(",\"expires\":", f);
		tool_json_time(f, n->expires_us);
		fputs(",\"key\":", f);
		tool_json_str(f, te->path);
		fputc('}', f);
	}
}

struct show {
	uint64_t	now;
	bool		json;
	bool		first;
};

static int
show_cb(void *ctx, const struct tool_entry *te)
{
	struct show *s = ctx;

	if (s->json) {
		fputs(s->first ? "\n  " : ",\n  ", stdout);
		tool_entry_json(stdout, te, s->now);
	} else if (te->e.table == EV_TABLE_ARP) {
		arp_line(stdout, te);
	} else {
		nat_lines(stdout, te, s->now);
	}
	s->first = false;
	return 0;
}

int
tool_show(git_repository *r, const git_oid *commit, uint64_t now_us,
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

void
tool_commit_text(FILE *f, const git_commit *c)
{
	char hex[GIT_OID_HEXSZ + 1], iso[32];

	git_oid_tostr(hex, sizeof(hex), git_commit_id(c));
	fprintf(f, "%.12s %s %s\n", hex, tool_iso(iso, git_commit_time(c)),
	    git_commit_summary((git_commit *)c));
	tool_trailers(git_commit_message(c), trailer_text, f);
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
tool_commit_json(FILE *f, const git_commit *c)
{
	char hex[GIT_OID_HEXSZ + 1], iso[32];
	struct jtrail j = { f, "Cause: ", true };

	git_oid_tostr(hex, sizeof(hex), git_commit_id(c));
	fprintf(f, "\"id\":\"%s\",\"time\":\"%s\",\"unix\":%lld,\"parents\":[", hex,
	    tool_iso(iso, git_commit_time(c)), (long long)git_commit_time(c));
	for (unsigned i = 0; i < git_commit_parentcount(c); i++) {
		git_oid_tostr(hex, sizeof(hex), git_commit_parent_id(c, i));
		fprintf(f, "%s\"%s\"", i ? "," : "", hex);
	}
	fputs("],\"subject\":", f);
	tool_json_str(f, git_commit_summary((git_commit *)c));
	fputs(",\"causes\":[", f);
	tool_trailers(git_commit_message(c), trailer_json, &j);
	fputs("],\"conflicts\":[", f);
	j.prefix = "Conflict: ";
	j.first = true;
	tool_trailers(git_commit_message(c), trailer_json, &j);
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

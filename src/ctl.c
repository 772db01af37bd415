/* SPDX-License-Identifier: ISC */
/*
 * The control socket and the reports it serves.
 *
 * One command per connection, answered in plain text and closed, so that
 * `socat - UNIX-CONNECT:PATH <<< stats` is a complete client. The socket is
 * served from the event loop between batches; a client gets 100 ms to send
 * its command, so a stuck client costs the data path at most that once.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "netfn/wire.h"
#include "router.h"

void
router_report_stats(const struct router *r, int fd)
{
	const struct nf_stats *s = nf_stats(r->nf);
	const struct arp_stats *a = arp_stats(nf_arp(r->nf));

	dprintf(fd, "rx %llu\nrx_bytes %llu\nforwarded %llu\nlocal %llu\n"
	    "arp_in %llu\nicmp_sent %llu\nicmp_ratelimited %llu\n"
	    "csum_completed %llu\n",
	    (unsigned long long)s->rx, (unsigned long long)s->rx_bytes,
	    (unsigned long long)s->forwarded, (unsigned long long)s->local,
	    (unsigned long long)s->arp_in, (unsigned long long)s->icmp_sent,
	    (unsigned long long)s->icmp_ratelimited,
	    (unsigned long long)s->csum_completed);
	for (int i = 1; i < DROP_MAX; i++)
		dprintf(fd, "drop_%s %llu\n", drop_name((enum drop)i),
		    (unsigned long long)s->drop[i]);
	dprintf(fd, "arp_requests_sent %llu\narp_replies_sent %llu\n"
	    "arp_announces_sent %llu\narp_requests_in %llu\narp_replies_in %llu\n"
	    "arp_resolved %llu\narp_failed %llu\narp_evicted %llu\n"
	    "arp_lladdr_changes %llu\narp_lladdr_refused %llu\n"
	    "arp_queue_drops %llu\narp_queue_released %llu\narp_entries %zu\n",
	    (unsigned long long)a->requests_sent, (unsigned long long)a->replies_sent,
	    (unsigned long long)a->announces_sent, (unsigned long long)a->requests_in,
	    (unsigned long long)a->replies_in, (unsigned long long)a->resolved,
	    (unsigned long long)a->failed, (unsigned long long)a->evicted,
	    (unsigned long long)a->lladdr_changes, (unsigned long long)a->lladdr_refused,
	    (unsigned long long)a->queue_drops, (unsigned long long)a->released,
	    arp_count(nf_arp(r->nf)));
	if (nf_nat(r->nf) != NULL) {
		const struct nat_stats *n = nat_stats(nf_nat(r->nf));

		dprintf(fd, "nat_sessions %zu\nnat_in2out %llu\nnat_out2in %llu\n"
		    "nat_hairpinned %llu\nnat_sessions_created %llu\n"
		    "nat_sessions_expired %llu\nnat_mappings_created %llu\n"
		    "nat_mappings_removed %llu\nnat_ports_preserved %llu\n"
		    "nat_ports_random %llu\nnat_icmp_errors_translated %llu\n"
		    "nat_frags_translated %llu\nnat_tcp_pickups %llu\n",
		    nat_count(nf_nat(r->nf)), (unsigned long long)n->in2out,
		    (unsigned long long)n->out2in, (unsigned long long)s->hairpinned,
		    (unsigned long long)n->sessions_created,
		    (unsigned long long)n->sessions_expired,
		    (unsigned long long)n->mappings_created,
		    (unsigned long long)n->mappings_removed,
		    (unsigned long long)n->ports_preserved,
		    (unsigned long long)n->ports_random,
		    (unsigned long long)n->icmp_errors_translated,
		    (unsigned long long)n->frags_translated,
		    (unsigned long long)n->tcp_pickups);
	}
	if (r->state != NULL) {
		struct state_stats st;

		state_get_stats(r->state, &st);
		dprintf(fd, "state_events %llu\nstate_events_lost %llu\n"
		    "state_changes %llu\nstate_commits %llu\nstate_ticks %llu\n"
		    "state_errors %llu\nstate_lag_p50_us %llu\nstate_lag_p99_us %llu\n"
		    "state_restored_arp %llu\nstate_restored_nat %llu\n"
		    "state_restore_skipped %llu\n",
		    (unsigned long long)st.events_in, (unsigned long long)st.events_lost,
		    (unsigned long long)st.changes, (unsigned long long)st.commits,
		    (unsigned long long)st.ticks, (unsigned long long)st.errors,
		    (unsigned long long)st.lag_p50_us, (unsigned long long)st.lag_p99_us,
		    (unsigned long long)st.restored_arp, (unsigned long long)st.restored_nat,
		    (unsigned long long)st.restore_skipped);
	}
	dprintf(fd, "out_tx_lost %llu\nout_events_lost %llu\nevents %llu\n",
	    (unsigned long long)r->tx_lost, (unsigned long long)r->ev_lost,
	    (unsigned long long)r->sink.total);
	for (int i = 0; i < ROUTER_NIF; i++) {
		const struct io_stats *t = &r->io[i]->stats;
		const char *n = r->io[i]->name;

		dprintf(fd, "if_%s_rx_frames %llu\nif_%s_rx_bytes %llu\n"
		    "if_%s_tx_frames %llu\nif_%s_tx_bytes %llu\n"
		    "if_%s_rx_truncated %llu\nif_%s_rx_kernel_drops %llu\n"
		    "if_%s_tx_ring_full %llu\nif_%s_tx_errors %llu\n",
		    n, (unsigned long long)t->rx_frames, n, (unsigned long long)t->rx_bytes,
		    n, (unsigned long long)t->tx_frames, n, (unsigned long long)t->tx_bytes,
		    n, (unsigned long long)t->rx_truncated,
		    n, (unsigned long long)t->rx_kernel_drops,
		    n, (unsigned long long)t->tx_ring_full, n, (unsigned long long)t->tx_errors);
	}
}

void
router_report_arp(struct router *r, int fd)
{
	struct arp_entry e[256];
	size_t n = arp_dump(nf_arp(r->nf), e, sizeof(e) / sizeof(e[0]));

	for (size_t i = 0; i < n; i++) {
		char ip[16], mac[18];
		const char *dev = r->ifnames[e[i].ifidx];

		ipv4_ntop(e[i].ip, ip);
		if (e[i].state == ARP_INCOMPLETE || e[i].state == ARP_FAILED)
			dprintf(fd, "%s dev %s %s\n", ip, dev, arp_state_name(e[i].state));
		else
			dprintf(fd, "%s dev %s lladdr %s %s\n", ip, dev,
			    mac_ntop(e[i].mac, mac), arp_state_name(e[i].state));
	}
}

static const char *
proto_name(uint8_t proto)
{
	return proto == IPPROTO_TCP_ ? "tcp" : proto == IPPROTO_UDP_ ? "udp" : "icmp";
}

/*
 * One session as conntrack -L prints one: original tuple (inside endpoint to
 * remote), reply tuple (remote to external endpoint), [UNREPLIED]/[ASSURED].
 */
static void
nat_line(int fd, const struct nat_session *s, uint64_t now)
{
	char ii[16], ei[16], ri[16];
	uint64_t left = s->expires_us == 0 ? 0 :
	    s->expires_us > now ? (s->expires_us - now) / 1000000 : 0;

	ipv4_ntop(s->int_ip, ii);
	ipv4_ntop(s->ext_ip, ei);
	ipv4_ntop(s->rem_ip, ri);
	dprintf(fd, "%-8s %u %llu ", proto_name(s->proto), s->proto,
	    (unsigned long long)left);
	if (s->proto == IPPROTO_TCP_)
		dprintf(fd, "%s ", nat_tcp_state_name(s->state));
	if (s->proto == IPPROTO_ICMP_)
		dprintf(fd, "src=%s dst=%s type=8 code=0 id=%u %s"
		    "src=%s dst=%s type=0 code=0 id=%u ", ii, ri, s->int_port,
		    s->flags & NAT_SF_REPLIED ? "" : "[UNREPLIED] ", ri, ei, s->ext_port);
	else
		dprintf(fd, "src=%s dst=%s sport=%u dport=%u %s"
		    "src=%s dst=%s sport=%u dport=%u %s", ii, ri, s->int_port, s->rem_port,
		    s->flags & NAT_SF_REPLIED ? "" : "[UNREPLIED] ", ri, ei, s->rem_port,
		    s->ext_port, s->flags & NAT_SF_REPLIED ? "[ASSURED] " : "");
	dprintf(fd, "mark=0 use=1\n");
}

static void
nat_json(int fd, const struct nat_session *s, uint64_t now, bool first)
{
	char ii[16], ei[16], ri[16];
	uint64_t left = s->expires_us == 0 ? 0 :
	    s->expires_us > now ? (s->expires_us - now) / 1000000 : 0;

	dprintf(fd, "%s{\"proto\":\"%s\",\"state\":%s%s%s,\"timeout\":%llu,"
	    "\"inside\":{\"ip\":\"%s\",\"port\":%u},"
	    "\"external\":{\"ip\":\"%s\",\"port\":%u},"
	    "\"remote\":{\"ip\":\"%s\",\"port\":%u},"
	    "\"replied\":%s,\"inbound\":%s,\"static\":%s,"
	    "\"created\":%llu.%06llu,\"expires\":%llu.%06llu}",
	    first ? "" : ",\n", proto_name(s->proto),
	    s->proto == IPPROTO_TCP_ ? "\"" : "",
	    s->proto == IPPROTO_TCP_ ? nat_tcp_state_name(s->state) : "null",
	    s->proto == IPPROTO_TCP_ ? "\"" : "", (unsigned long long)left,
	    ipv4_ntop(s->int_ip, ii), s->int_port, ipv4_ntop(s->ext_ip, ei), s->ext_port,
	    ipv4_ntop(s->rem_ip, ri), s->rem_port,
	    s->flags & NAT_SF_REPLIED ? "true" : "false",
	    s->flags & NAT_SF_INBOUND ? "true" : "false",
	    s->flags & NAT_SF_STATIC ? "true" : "false",
	    (unsigned long long)(s->created_us / 1000000),
	    (unsigned long long)(s->created_us % 1000000),
	    (unsigned long long)(s->expires_us / 1000000),
	    (unsigned long long)(s->expires_us % 1000000));
}

void
router_report_nat(struct router *r, int fd, bool json)
{
	struct nat *nat = nf_nat(r->nf);
	struct nat_session s[256];
	uint64_t now = router_now_us();
	uint32_t cursor = 0;
	bool first = true;
	size_t n;

	if (json)
		dprintf(fd, "[");
	if (nat != NULL) {
		do {
			n = nat_dump(nat, s, sizeof(s) / sizeof(s[0]), &cursor);
			for (size_t i = 0; i < n; i++) {
				/* expired but not yet swept: already gone */
				if (s[i].expires_us != 0 && s[i].expires_us <= now)
					continue;
				if (json)
					nat_json(fd, &s[i], now, first);
				else
					nat_line(fd, &s[i], now);
				first = false;
			}
		} while (cursor != 0);
	}
	if (json)
		dprintf(fd, "]\n");
}

void
router_report_routes(const struct router *r, int fd)
{
	struct route rt[CONFIG_MAX_ROUTES + ROUTER_NIF + 1];
	size_t n = route_list(nf_routes(r->nf), rt, sizeof(rt) / sizeof(rt[0]));

	for (size_t i = 0; i < n; i++) {
		char p[16], g[16], dst[24];

		if (rt[i].plen == 0)
			snprintf(dst, sizeof(dst), "default");
		else
			snprintf(dst, sizeof(dst), "%s/%u", ipv4_ntop(rt[i].prefix, p),
			    rt[i].plen);
		if (rt[i].gw != 0)
			dprintf(fd, "%s via %s dev %s\n", dst, ipv4_ntop(rt[i].gw, g),
			    r->ifnames[rt[i].ifidx]);
		else
			dprintf(fd, "%s dev %s scope link\n", dst, r->ifnames[rt[i].ifidx]);
	}
}

int
ctl_open(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "control: %s: path too long", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0) {
		snprintf(err, errlen, "control: socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		snprintf(err, errlen, "control: %s: another router is listening there", path);
		close(fd);
		return -1;
	}
	unlink(path);			/* left by a router that died */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 8) < 0) {
		snprintf(err, errlen, "control: %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	chmod(path, 0600);
	return fd;
}

void
ctl_serve(struct router *r)
{
	char cmd[128];
	struct pollfd p;
	ssize_t n;
	size_t got = 0;
	int fd;

	if ((fd = accept4(r->ctl_fd, NULL, NULL, SOCK_CLOEXEC)) < 0)
		return;
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	while (got < sizeof(cmd) - 1 && poll(&p, 1, 100) == 1) {
		if ((n = read(fd, cmd + got, sizeof(cmd) - 1 - got)) <= 0)
			break;
		got += (size_t)n;
		if (memchr(cmd, '\n', got) != NULL)
			break;
	}
	cmd[got] = '\0';
	cmd[strcspn(cmd, "\r\n")] = '\0';
	if (strcmp(cmd, "stats") == 0)
		router_report_stats(r, fd);
	else if (strcmp(cmd, "arp") == 0)
		router_report_arp(r, fd);
	else if (strcmp(cmd, "nat") == 0)
		router_report_nat(r, fd, false);
	else if (strcmp(cmd, "nat-json") == 0)
		router_report_nat(r, fd, true);
	else if (strcmp(cmd, "routes") == 0)
		router_report_routes(r, fd);
	else if (strcmp(cmd, "help") == 0 || cmd[0] == '\0')
		dprintf(fd, "commands: stats arp nat nat-json routes help\n");
	else
		dprintf(fd, "error: unknown command '%s' (try help)\n", cmd);
	close(fd);
}

void
ctl_close(int fd, const char *path)
{
	if (fd < 0)
		return;
	close(fd);
	unlink(path);
}

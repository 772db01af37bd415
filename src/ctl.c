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
	else if (strcmp(cmd, "routes") == 0)
		router_report_routes(r, fd);
	else if (strcmp(cmd, "help") == 0 || cmd[0] == '\0')
		dprintf(fd, "commands: stats arp routes help\n");
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

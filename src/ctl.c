/* SPDX-License-Identifier: ISC */
/*
 * The control socket and the reports it serves.
 *
 * One command per connection, answered in plain text and closed, so that
 * `socat - UNIX-CONNECT:PATH <<< stats` is a complete client.
 *
 * The socket never blocks the data path. It is served from the event loop
 * between batches, and every client socket is non-blocking: a command is
 * read as its bytes arrive (ctl_parse.c), the answer is written into the
 * client's own buffer (a memfd) and sent as the socket takes it. Memory per
 * client is bounded: the NAT table, the one report that grows with the
 * traffic, is produced a chunk of sessions at a time, the next only once the
 * client has read the last below CTL_OUT_LOW (so it is not a snapshot: a
 * session may change between chunks, as with conntrack -L). A client that
 * sends no command within CTL_IDLE_US, or leaves a full buffer unread for
 * CTL_STALL_US, is dropped; beyond CTL_CLIENTS at once, a new connection
 * is told so and closed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "netfn/wire.h"
#include "ctl.h"
#include "router.h"
#include "src/archive.h"
#include "store/store.h"

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
	dprintf(fd, "gso_in %llu\n", (unsigned long long)s->gso_in);
	dprintf(fd, "memory_bytes %llu\n", (unsigned long long)r->mem.ram);
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
		/* Inbound sessions the inside has not answered (issue 17). */
		dprintf(fd, "nat_half_open_evicted %llu\nnat_half_open_promoted %llu\n",
		    (unsigned long long)n->half_open_evicted,
		    (unsigned long long)n->half_open_promoted);
		dprintf(fd, "nat_restore_pickups %llu\n",
		    (unsigned long long)n->restore_pickups);
		/* What the table was sized to (mem.h): configured or from memory. */
		dprintf(fd, "nat_max_sessions %u\n", r->cfg.nat_params.max_sessions);
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
		/* Issue 12: outside traffic and a failing disk. */
		dprintf(fd, "history_events_limited %llu\nhistory_write_errors %llu\n"
		    "history_write_failing %llu\n",
		    (unsigned long long)st.events_limited,
		    (unsigned long long)st.write_errors,
		    (unsigned long long)st.write_failing);
	}
	if (r->state != NULL) {
		struct state_stats st;

		state_get_stats(r->state, &st);
		dprintf(fd, "history_compactions %llu\nhistory_bytes %llu\n"
		    "history_max_bytes %llu\nhistory_cuts %llu\n"
		    "history_dropped_unarchived %llu\nhistory_oldest_s %llu\n",
		    (unsigned long long)st.compactions, (unsigned long long)st.history_bytes,
		    (unsigned long long)st.history_max_bytes, (unsigned long long)st.history_cuts,
		    (unsigned long long)st.history_dropped_unarchived,
		    (unsigned long long)st.history_oldest_s);
	}
	{
		/* The archive (zero without one); per remote: lag, failures in a
		 * row, and the commit it holds (none before its first push). */
		struct archive_stats as;
		struct archive_url_stats u;
		char hex[STORE_OID_HEXSZ + 1];

		archive_get_stats(r->archive, &as);
		dprintf(fd, "history_pushes %llu\nhistory_push_errors %llu\n",
		    (unsigned long long)as.pushes, (unsigned long long)as.errors);
		for (unsigned i = 0; archive_get_url(r->archive, i, &u); i++)
			dprintf(fd, "history_push%u_lag_s %llu\nhistory_push%u_failures %llu\n"
			    "history_push%u_commit %s\n", i, (unsigned long long)u.lag_s,
			    i, (unsigned long long)u.failures, i,
			    u.have ? store_oid_fmt(hex, &u.pushed) : "none");
	}
	router_report_sync(r, fd);
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
		dprintf(fd, "if_%s_rx_gso %llu\nif_%s_rx_big %llu\n"
		    "if_%s_rx_queue_full %llu\n"
		    "if_%s_tx_gso %llu\nif_%s_tx_segmented %llu\n",
		    n, (unsigned long long)t->rx_gso, n, (unsigned long long)t->rx_big,
		    n, (unsigned long long)t->rx_queue_full,
		    n, (unsigned long long)t->tx_gso,
		    n, (unsigned long long)t->tx_segmented);
	}
}

/*
 * The ARP and NAT reports convert live entries to store entries and print
 * them with the store's formatters (store/format.c), the ones `gitnet show`
 * prints history with: the two cannot drift apart.
 */
void
router_report_arp(struct router *r, int fd)
{
	/* Every entry the cache can hold (max_entries, 1024 by default). */
	size_t cap = r->cfg.arp.max_entries ? r->cfg.arp.max_entries : arp_count(nf_arp(r->nf));
	struct arp_entry *e = calloc(cap ? cap : 1, sizeof(*e));
	char line[STORE_FMT_MAX];
	struct store_entry se;
	size_t n;

	if (e == NULL) {
		dprintf(fd, "error: out of memory\n");
		return;
	}
	n = arp_dump(nf_arp(r->nf), e, cap);
	for (size_t i = 0; i < n; i++) {
		store_entry_from_arp(&se, &e[i]);
		store_fmt_neigh(line, sizeof(line), &se.arp, r->ifnames[e[i].ifidx]);
		dprintf(fd, "%s", line);
	}
	free(e);
}

/*
 * One chunk of the NAT report: the sessions of one nat_dump call from
 * *cursor on, as conntrack -L lists them, one line (or JSON object) each:
 * every session is a store entry with its one remote, its own timeout.
 * Returns false after the last (and the closing "]" of JSON).
 */
static bool
report_nat_chunk(struct router *r, int fd, bool json, uint32_t *cursor, bool *first)
{
	struct nat *nat = nf_nat(r->nf);
	struct nat_session s[256];
	char line[STORE_FMT_MAX];
	struct store_entry se;
	uint64_t now = router_now_us();
	size_t n;

	if (nat != NULL) {
		n = nat_dump(nat, s, sizeof(s) / sizeof(s[0]), cursor);
		for (size_t i = 0; i < n; i++) {
			/* expired but not yet swept: already gone */
			if (s[i].expires_us != 0 && s[i].expires_us <= now)
				continue;
			store_entry_from_nat(&se, &s[i]);
			if (json)
				store_fmt_conntrack_json(line, sizeof(line), &se.nat, 0, now);
			else
				store_fmt_conntrack(line, sizeof(line), &se.nat, now);
			dprintf(fd, "%s%s", json && !*first ? ",\n" : "", line);
			*first = false;
		}
		if (*cursor != 0)
			return true;
	}
	if (json)
		dprintf(fd, "]\n");
	return false;
}

void
router_report_nat(struct router *r, int fd, bool json)
{
	uint32_t cursor = 0;
	bool first = true;

	if (json)
		dprintf(fd, "[");
	while (report_nat_chunk(r, fd, json, &cursor, &first))
		;
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

#define CTL_CLIENTS	32
#define CTL_OUT_LOW	(64 * 1024)		/* make more of a report below this */
#define CTL_IDLE_US	(5ULL * 1000000)	/* to send the command line */
#define CTL_STALL_US	(10ULL * 1000000)	/* to read some of a full buffer */

struct ctl_client {
	int		fd;		/* -1: slot free */
	int		mfd;		/* the answer so far (memfd), -1 until the command */
	struct ctl_line	line;
	off_t		sent, made;	/* bytes of mfd sent, written */
	bool		more;		/* a NAT report not yet complete */
	bool		json, first;
	uint32_t	cursor;
	uint64_t	since;		/* accepted, or last byte sent */
};

struct ctl {
	int		lfd;		/* listening socket */
	int		ep;		/* lfd and the clients: what the loop polls */
	char		path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct ctl_client c[CTL_CLIENTS];
};

int
ctl_open(struct router *r, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct epoll_event ev = { .events = EPOLLIN };
	const char *path = r->cfg.control;
	struct ctl *c;
	struct stat sb;
	int fd = -1;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "control: %s: path too long", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	/* Only a socket is ours to replace: a typo must not delete a file. */
	if (lstat(path, &sb) == 0 && !S_ISSOCK(sb.st_mode)) {
		snprintf(err, errlen, "control: %s exists and is not a socket; not "
		    "replacing it (give another --control path)", path);
		return -1;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(err, errlen, "control: out of memory");
		return -1;
	}
	c->lfd = c->ep = -1;
	for (int i = 0; i < CTL_CLIENTS; i++)
		c->c[i].fd = c->c[i].mfd = -1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0) {
		snprintf(err, errlen, "control: socket: %s", strerror(errno));
		goto fail;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		snprintf(err, errlen, "control: %s: another router is listening there", path);
		goto fail;
	}
	if (unlink(path) < 0 && errno != ENOENT) {	/* left by a router that died */
		snprintf(err, errlen, "control: %s: %s", path, strerror(errno));
		goto fail;
	}
	/*
	 * The mode is set between bind and listen: until listen, a connect is
	 * refused, so no client ever reaches a socket with the umask's mode
	 * (and umask, being per process, would race the guest's other work).
	 */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0600) < 0 ||
	    listen(fd, 16) < 0) {
		snprintf(err, errlen, "control: %s: %s", path, strerror(errno));
		unlink(path);
		goto fail;
	}
	if ((c->ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		snprintf(err, errlen, "control: epoll: %s", strerror(errno));
		unlink(path);
		goto fail;
	}
	ev.data.fd = fd;
	epoll_ctl(c->ep, EPOLL_CTL_ADD, fd, &ev);
	c->lfd = fd;
	snprintf(c->path, sizeof(c->path), "%s", path);
	r->ctl = c;
	r->ctl_fd = c->ep;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	if (c->ep >= 0)
		close(c->ep);
	free(c);
	return -1;
}

static void
client_drop(struct ctl *c, struct ctl_client *k)
{
	epoll_ctl(c->ep, EPOLL_CTL_DEL, k->fd, NULL);
	close(k->fd);
	if (k->mfd >= 0)
		close(k->mfd);
	memset(k, 0, sizeof(*k));
	k->fd = k->mfd = -1;
}

/* Append the next part of the answer to k->mfd. */
static void
client_make(struct router *r, struct ctl_client *k)
{
	if (k->more)
		k->more = report_nat_chunk(r, k->mfd, k->json, &k->cursor, &k->first);
	k->made = lseek(k->mfd, 0, SEEK_CUR);
}

/* The command is known: start the answer and switch to writing. */
static void
client_answer(struct router *r, struct ctl *c, struct ctl_client *k, enum ctl_cmd cmd)
{
	struct epoll_event ev = { .events = EPOLLOUT, .data.fd = k->fd };

	if ((k->mfd = memfd_create("gitnet-ctl", MFD_CLOEXEC)) < 0) {
		client_drop(c, k);
		return;
	}
	switch (cmd) {
	case CTL_STATS:
		router_report_stats(r, k->mfd);
		break;
	case CTL_ARP:
		router_report_arp(r, k->mfd);
		break;
	case CTL_NAT:
	case CTL_NAT_JSON:
		k->json = cmd == CTL_NAT_JSON;
		k->first = k->more = true;
		if (k->json)
			dprintf(k->mfd, "[");
		break;
	case CTL_ROUTES:
		router_report_routes(r, k->mfd);
		break;
	case CTL_ANNOUNCE:
		if (r->standby)
			dprintf(k->mfd, "announce: a standby owns no address (takeover first)\n");
		else
			dprintf(k->mfd, "announced: %u gratuitous ARP\n", router_announce(r));
		break;
	case CTL_TAKEOVER: {
		char msg[512];

		router_takeover(r, "the takeover command", msg, sizeof(msg));
		dprintf(k->mfd, "%s\n", msg);
		break;
	}
	case CTL_HELP:
		dprintf(k->mfd, "commands: stats arp nat nat-json routes announce takeover help\n");
		break;
	case CTL_TOO_LONG:
		dprintf(k->mfd, "error: command line longer than %d bytes\n", CTL_LINE_MAX);
		break;
	default:
		dprintf(k->mfd, "error: unknown command '%s' (try help)\n",
		    ctl_line_text(&k->line));
		break;
	}
	client_make(r, k);
	k->since = router_now_us();
	epoll_ctl(c->ep, EPOLL_CTL_MOD, k->fd, &ev);
}

static void
client_read(struct router *r, struct ctl *c, struct ctl_client *k)
{
	uint8_t buf[256];
	enum ctl_cmd cmd = CTL_NONE;
	ssize_t n;
	size_t used;

	while (cmd == CTL_NONE) {
		if ((n = read(k->fd, buf, sizeof(buf))) < 0) {
			if (errno != EAGAIN && errno != EINTR)
				client_drop(c, k);
			return;
		}
		cmd = n == 0 ? ctl_line_end(&k->line) :
		    ctl_line_feed(&k->line, buf, (size_t)n, &used);
	}
	client_answer(r, c, k, cmd);
}

static void
client_write(struct router *r, struct ctl *c, struct ctl_client *k)
{
	for (;;) {
		if (k->sent == k->made) {
			if (!k->more) {
				client_drop(c, k);	/* all sent: EOF tells the client */
				return;
			}
			/* Drained: reuse the buffer from its start. */
			if (ftruncate(k->mfd, 0) < 0 || lseek(k->mfd, 0, SEEK_SET) < 0) {
				client_drop(c, k);
				return;
			}
			k->sent = 0;
			while (k->more && lseek(k->mfd, 0, SEEK_CUR) < CTL_OUT_LOW)
				client_make(r, k);
			k->made = lseek(k->mfd, 0, SEEK_CUR);
			continue;
		}
		ssize_t n = sendfile(k->fd, k->mfd, &k->sent, (size_t)(k->made - k->sent));

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				client_drop(c, k);
			return;
		}
		if (n > 0)
			k->since = router_now_us();
	}
}

static void
ctl_accept(struct ctl *c)
{
	int fd;

	while ((fd = accept4(c->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
		struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
		struct ctl_client *k = NULL;

		for (int i = 0; i < CTL_CLIENTS && k == NULL; i++)
			if (c->c[i].fd < 0)
				k = &c->c[i];
		if (k == NULL) {
			/* One try, never a wait: a full socket buffer loses the note. */
			static const char busy[] = "error: busy (too many control clients)\n";

			if (write(fd, busy, sizeof(busy) - 1) < 0)
				(void)0;
			close(fd);
			continue;
		}
		if (epoll_ctl(c->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			continue;
		}
		k->fd = fd;
		k->since = router_now_us();
	}
}

void
ctl_serve(struct router *r)
{
	struct ctl *c = r->ctl;
	struct epoll_event ready[CTL_CLIENTS + 1];
	uint64_t now;
	int n;

	if (c == NULL)
		return;
	n = epoll_wait(c->ep, ready, CTL_CLIENTS + 1, 0);
	for (int i = 0; i < n; i++) {
		int fd = ready[i].data.fd;

		if (fd == c->lfd) {
			ctl_accept(c);
			continue;
		}
		for (int j = 0; j < CTL_CLIENTS; j++) {
			struct ctl_client *k = &c->c[j];

			if (k->fd != fd)
				continue;
			if (k->mfd < 0)
				client_read(r, c, k);
			else
				client_write(r, c, k);
			break;
		}
	}
	now = router_now_us();
	for (int j = 0; j < CTL_CLIENTS; j++) {
		struct ctl_client *k = &c->c[j];

		if (k->fd >= 0 && now - k->since >= (k->mfd < 0 ? CTL_IDLE_US : CTL_STALL_US))
			client_drop(c, k);
	}
}

void
ctl_close(struct router *r)
{
	struct ctl *c = r->ctl;

	r->ctl = NULL;
	r->ctl_fd = -1;
	if (c == NULL)
		return;
	for (int j = 0; j < CTL_CLIENTS; j++)
		if (c->c[j].fd >= 0)
			client_drop(c, &c->c[j]);
	close(c->ep);
	close(c->lfd);
	unlink(c->path);
	free(c);
}

/* SPDX-License-Identifier: ISC */
/*
 * connrate: new-TCP-connections-per-second load for the end-to-end NAT
 * benchmark (tests/bench/nat_e2e.sh).
 *
 *	connrate -l -a ADDR [-p PORT] [-P NPORTS] [-t SECONDS]
 *	connrate -a ADDR -s SRCIP [-p PORT] [-P NPORTS] [-n INFLIGHT]
 *	    [-t SECONDS] [-k FIRST]
 *
 * -l: the listener. Listens on ADDR ports PORT .. PORT+NPORTS-1 and accepts
 * and closes whatever arrives, for SECONDS (default: until a signal). It
 * never reads: the client resets every connection after its handshake.
 *
 * Otherwise the client: keeps INFLIGHT (default 256) non-blocking connects
 * open towards ADDR for SECONDS (default 3). A connect that completes is
 * counted and closed at once with SO_LINGER {1, 0}, so it leaves with a RST
 * and no TIME_WAIT: four packets cross the router per connection (SYN,
 * SYN-ACK, ACK, RST). A connect that has not completed after 1 s (a SYN
 * lost; TCP would retry for minutes) is abandoned and counted as a timeout.
 * Prints `connected N` on stdout and the rate and failures on stderr.
 *
 * Every connection is a new 5-tuple, so every one creates a session in a
 * NAT on the way rather than finding an old one: connection k (counted from
 * FIRST, default 0) is bound to source port 1024 + k % 64512 and goes to
 * port PORT + (k / 64512) % NPORTS. Choosing the source port ourselves,
 * rather than leaving it to the kernel's ephemeral range, is what makes
 * that hold; a port still in use (it cannot be, with INFLIGHT far below
 * 64512, but the kernel decides) is skipped and counted.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SPORT_BASE	1024
#define NSPORTS		(65536 - SPORT_BASE)
#define MAX_INFLIGHT	4096
#define MAX_LPORTS	256
#define CONN_TIMEOUT_NS	1000000000ULL	/* give up on a SYN after 1 s */

struct slot {
	int		fd;
	uint64_t	started;
};

struct counts {
	unsigned long long	ok, refused, timeout, bind_fail, other;
};

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void
usage(void)
{
	fprintf(stderr, "usage: connrate -l -a ADDR [-p PORT] [-P NPORTS] [-t SECONDS]\n"
	    "       connrate -a ADDR -s SRCIP [-p PORT] [-P NPORTS] [-n INFLIGHT] "
	    "[-t SECONDS] [-k FIRST]\n");
	exit(2);
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Accept and close on every listening port until stop or the deadline. */
static int
run_listener(struct in_addr addr, unsigned port, unsigned nports, double seconds)
{
	struct epoll_event ev, evs[64];
	unsigned long long accepted = 0;
	uint64_t deadline;
	int ep, one = 1;

	if ((ep = epoll_create1(0)) == -1) {
		perror("connrate: epoll_create1");
		return 1;
	}
	for (unsigned i = 0; i < nports; i++) {
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr = addr,
		    .sin_port = htons((uint16_t)(port + i)) };
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

		if (fd == -1 ||
		    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
		    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
		    listen(fd, 4096) == -1) {
			fprintf(stderr, "connrate: listen on port %u: %s\n", port + i,
			    strerror(errno));
			return 1;
		}
		ev = (struct epoll_event){ .events = EPOLLIN, .data.fd = fd };
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1) {
			perror("connrate: epoll_ctl");
			return 1;
		}
	}
	/* The script waits for this line before it starts a client. */
	printf("listening\n");
	fflush(stdout);
	deadline = seconds > 0 ? now_ns() + (uint64_t)(seconds * 1e9) : 0;
	while (!stop && (deadline == 0 || now_ns() < deadline)) {
		int n = epoll_wait(ep, evs, 64, 100);

		for (int i = 0; i < n; i++) {
			int c;

			while ((c = accept4(evs[i].data.fd, NULL, NULL, 0)) != -1) {
				close(c);
				accepted++;
			}
		}
	}
	fprintf(stderr, "connrate: accepted %llu\n", accepted);
	return 0;
}

/* Start connection *k in slot s; 0, or -1 when the socket layer refuses. */
static int
conn_open(struct slot *s, int ep, uint32_t idx, struct in_addr src,
    struct in_addr dst, unsigned port, unsigned nports, uint64_t *k,
    struct counts *c)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	struct epoll_event ev;

	/* A few tries: a port the kernel still holds is skipped, not fatal. */
	for (int tries = 0; tries < 16; tries++) {
		uint64_t n = (*k)++;
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr = src,
		    .sin_port = htons((uint16_t)(SPORT_BASE + n % NSPORTS)) };
		struct sockaddr_in da = { .sin_family = AF_INET, .sin_addr = dst,
		    .sin_port = htons((uint16_t)(port + (n / NSPORTS) % nports)) };
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

		if (fd == -1) {
			perror("connrate: socket");
			return -1;
		}
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
			c->bind_fail++;
			close(fd);
			continue;
		}
		if (connect(fd, (struct sockaddr *)&da, sizeof(da)) == -1 &&
		    errno != EINPROGRESS) {
			c->other++;
			close(fd);
			continue;
		}
		ev = (struct epoll_event){ .events = EPOLLOUT, .data.u32 = idx };
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1) {
			perror("connrate: epoll_ctl");
			close(fd);
			return -1;
		}
		s->fd = fd;
		s->started = now_ns();
		return 0;
	}
	fprintf(stderr, "connrate: 16 source ports in a row would not bind\n");
	return -1;
}

static int
run_client(struct in_addr src, struct in_addr dst, unsigned port, unsigned nports,
    unsigned inflight, double seconds, uint64_t k)
{
	static struct slot slots[MAX_INFLIGHT];
	struct epoll_event evs[256];
	struct counts c = { 0 };
	uint64_t t0, t1, deadline, next_scan;
	int ep;

	if ((ep = epoll_create1(0)) == -1) {
		perror("connrate: epoll_create1");
		return 1;
	}
	t0 = now_ns();
	deadline = t0 + (uint64_t)(seconds * 1e9);
	next_scan = t0 + 100000000u;
	for (unsigned i = 0; i < inflight; i++)
		if (conn_open(&slots[i], ep, i, src, dst, port, nports, &k, &c) == -1)
			return 1;
	while (!stop) {
		uint64_t now;
		int n = epoll_wait(ep, evs, 256, 10);

		for (int i = 0; i < n; i++) {
			struct slot *s = &slots[evs[i].data.u32];
			socklen_t len = sizeof(int);
			int err = 0;

			getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len);
			if (err == 0)
				c.ok++;
			else if (err == ECONNREFUSED)
				c.refused++;
			else
				c.other++;
			close(s->fd);	/* RST: SO_LINGER 0 */
			s->fd = -1;
		}
		now = now_ns();
		if (now >= deadline)
			break;
		/* Abandon connects whose SYN (or SYN-ACK) was lost. */
		if (now >= next_scan) {
			for (unsigned i = 0; i < inflight; i++) {
				if (slots[i].fd != -1 &&
				    now - slots[i].started > CONN_TIMEOUT_NS) {
					close(slots[i].fd);
					slots[i].fd = -1;
					c.timeout++;
				}
			}
			next_scan = now + 100000000u;
		}
		/* Refill every slot a completion or a timeout emptied. */
		for (unsigned i = 0; i < inflight; i++)
			if (slots[i].fd == -1 && conn_open(&slots[i], ep, i, src, dst,
			    port, nports, &k, &c) == -1)
				return 1;
	}
	t1 = now_ns();
	for (unsigned i = 0; i < inflight; i++)
		if (slots[i].fd != -1)
			close(slots[i].fd);
	printf("connected %llu\n", c.ok);
	fprintf(stderr, "connrate: %llu connections in %.2f s (%.0f/s); refused %llu, "
	    "timed out %llu, bind failed %llu, other errors %llu\n", c.ok,
	    (double)(t1 - t0) / 1e9, (double)c.ok / ((double)(t1 - t0) / 1e9),
	    c.refused, c.timeout, c.bind_fail, c.other);
	return 0;
}

int
main(int argc, char **argv)
{
	struct in_addr addr = { 0 }, src = { 0 };
	unsigned port = 20000, nports = 16, inflight = 256;
	double seconds = 0;
	uint64_t first = 0;
	int listener = 0, have_addr = 0, have_src = 0, ch;
	struct sigaction sa = { .sa_handler = on_signal };

	while ((ch = getopt(argc, argv, "la:s:p:P:n:t:k:h")) != -1) {
		switch (ch) {
		case 'l': listener = 1; break;
		case 'a': have_addr = inet_pton(AF_INET, optarg, &addr) == 1; break;
		case 's': have_src = inet_pton(AF_INET, optarg, &src) == 1; break;
		case 'p': port = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'P': nports = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'n': inflight = (unsigned)strtoul(optarg, NULL, 10); break;
		case 't': seconds = strtod(optarg, NULL); break;
		case 'k': first = strtoull(optarg, NULL, 10); break;
		default: usage();
		}
	}
	if (!have_addr || (!listener && !have_src) || port == 0 || nports == 0 ||
	    nports > MAX_LPORTS || port + nports > 65536 || inflight == 0 ||
	    inflight > MAX_INFLIGHT || seconds < 0)
		usage();
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (listener)
		return run_listener(addr, port, nports, seconds);
	return run_client(src, addr, port, nports, inflight, seconds > 0 ? seconds : 3,
	    first);
}

/* SPDX-License-Identifier: ISC */
/*
 * flowgen: a steady rate of new UDP flows, for the history-size benchmark
 * (tests/bench/history.sh, issue 12).
 *
 *	flowgen -a DST -s SRCIP [-p PORT] [-r FLOWS_PER_S] [-t SECONDS]
 *	    [-n DATAGRAMS] [-k FIRST]
 *
 * Opens RATE (default 200) new UDP flows a second towards DST:PORT (default
 * port 9) for SECONDS (default 60): flow k is a socket bound to SRCIP and
 * source port 1024 + k % 64512 (counted from FIRST, default 0) that sends
 * DATAGRAMS (default 3) 32-byte datagrams back to back and is closed. The
 * source port is chosen here, not by the kernel's ephemeral allocator, so
 * every flow is a new 5-tuple and makes a new session in a NAT on the way
 * (64512 flows before a port comes round again: over 5 minutes at 200/s).
 * Nothing is answered: the flows are one-way, as the server drops them.
 *
 * Pacing: flow k is due at start + k / RATE on the monotonic clock and the
 * generator sleeps to that absolute time (clock_nanosleep), so a late wakeup
 * does not drift the rate: the flows behind are sent at once. Flows that
 * left more than 10 ms after their due time are counted as late.
 *
 * Prints `flows N` on stdout (flows whose every datagram the socket layer
 * took) and the achieved rate, errors and lateness on stderr.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SPORT_BASE	1024
#define NSPORTS		(65536 - SPORT_BASE)
#define PAYLOAD		32
#define LATE_NS		10000000ULL	/* 10 ms behind its due time */

struct counts {
	unsigned long long	flows, datagrams, bind_fail, send_fail, late;
	uint64_t		max_lag_ns;
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
	fprintf(stderr, "usage: flowgen -a DST -s SRCIP [-p PORT] [-r FLOWS_PER_S] "
	    "[-t SECONDS] [-n DATAGRAMS] [-k FIRST]\n");
	exit(2);
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
sleep_until(uint64_t t)
{
	struct timespec ts = { .tv_sec = (time_t)(t / 1000000000u),
	    .tv_nsec = (long)(t % 1000000000u) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR &&
	    !stop)
		;
}

/*
 * One flow from source port sport: bind, send n datagrams, close. 0 when
 * every datagram went out; -1 (counted) when the port would not bind or a
 * send failed.
 */
static int
flow_send(struct in_addr src, uint16_t sport, const struct sockaddr_in *da,
    unsigned n, uint64_t k, struct counts *c)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr = src,
	    .sin_port = htons(sport) };
	char buf[PAYLOAD];
	int fd, ok = 1;

	if ((fd = socket(AF_INET, SOCK_DGRAM, 0)) == -1) {
		perror("flowgen: socket");
		exit(1);
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		c->bind_fail++;
		close(fd);
		return -1;
	}
	for (unsigned i = 0; i < n; i++) {
		int len = snprintf(buf, sizeof(buf), "flowgen flow %llu dgram %u",
		    (unsigned long long)k, i);

		memset(buf + len, '.', sizeof(buf) - (size_t)len);
		if (sendto(fd, buf, sizeof(buf), 0, (const struct sockaddr *)da,
		    sizeof(*da)) != (ssize_t)sizeof(buf)) {
			c->send_fail++;
			ok = 0;
			break;
		}
		c->datagrams++;
	}
	close(fd);
	return ok ? 0 : -1;
}

int
main(int argc, char **argv)
{
	struct in_addr dst = { 0 }, src = { 0 };
	struct sockaddr_in da;
	struct counts c = { 0 };
	struct sigaction sig = { .sa_handler = on_signal };
	unsigned port = 9, rate = 200, ndgram = 3;
	double seconds = 60;
	uint64_t first = 0, k, t0, t1, step, total;
	int have_dst = 0, have_src = 0, ch;

	while ((ch = getopt(argc, argv, "a:s:p:r:t:n:k:h")) != -1) {
		switch (ch) {
		case 'a': have_dst = inet_pton(AF_INET, optarg, &dst) == 1; break;
		case 's': have_src = inet_pton(AF_INET, optarg, &src) == 1; break;
		case 'p': port = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'r': rate = (unsigned)strtoul(optarg, NULL, 10); break;
		case 't': seconds = strtod(optarg, NULL); break;
		case 'n': ndgram = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'k': first = strtoull(optarg, NULL, 10); break;
		default: usage();
		}
	}
	if (!have_dst || !have_src || port == 0 || port > 65535 || rate == 0 ||
	    rate > 1000000 || seconds <= 0 || ndgram == 0 || ndgram > 1000)
		usage();
	sigaction(SIGINT, &sig, NULL);
	sigaction(SIGTERM, &sig, NULL);
	da = (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr = dst,
	    .sin_port = htons((uint16_t)port) };

	step = 1000000000u / rate;
	total = (uint64_t)(seconds * rate);
	t0 = now_ns();
	for (k = 0; k < total && !stop; k++) {
		uint64_t due = t0 + k * step, now = now_ns(), n = first + k;

		if (now < due) {
			sleep_until(due);
			now = now_ns();
		}
		if (now - due > c.max_lag_ns)
			c.max_lag_ns = now - due;
		if (now - due > LATE_NS)
			c.late++;
		if (flow_send(src, (uint16_t)(SPORT_BASE + n % NSPORTS), &da, ndgram,
		    n, &c) == 0)
			c.flows++;
	}
	t1 = now_ns();
	printf("flows %llu\n", c.flows);
	fprintf(stderr, "flowgen: %llu flows (%llu datagrams) in %.2f s = %.1f flows/s "
	    "(target %u); bind failed %llu, send failed %llu, late > 10 ms %llu, "
	    "max lag %.1f ms\n", c.flows, c.datagrams, (double)(t1 - t0) / 1e9,
	    (double)c.flows / ((double)(t1 - t0) / 1e9), rate, c.bind_fail, c.send_fail,
	    c.late, (double)c.max_lag_ns / 1e6);
	return c.flows > 0 ? 0 : 1;
}

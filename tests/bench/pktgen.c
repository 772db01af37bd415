/* SPDX-License-Identifier: ISC */
/*
 * pktgen: a 64-byte UDP frame generator for the end-to-end benchmark.
 *
 *	pktgen -i DEV -d DSTMAC -s SRCIP -D DSTIP [-f FLOWS] [-t SECONDS]
 *
 * Sends minimum-size Ethernet frames (60 bytes handed to the device, 64 on a
 * real wire with the FCS) from DEV's own MAC to DSTMAC, as fast as the
 * device takes them, for SECONDS (default 5), then prints `sent N` on stdout
 * and a rate line on stderr. The UDP source port walks over FLOWS values
 * (1024, 1025, ...; default 1), so a router sees FLOWS distinct 5-tuples;
 * destination port 9 (discard).
 *
 * It owns one AF_PACKET socket with a TPACKET_V2 TX ring and
 * PACKET_QDISC_BYPASS: frames go from the ring straight to the driver, the
 * same path a packet-socket router sends on, with no qdisc in between to
 * queue or drop. Every frame is prebuilt per flow with correct IPv4 and UDP
 * checksums; sending only copies 60 bytes into a slot and flips its status.
 *
 * Counting: a slot we filled is counted as sent when the kernel hands it back
 * as TP_STATUS_AVAILABLE (it reached the device's xmit; veth may still drop
 * it at the peer's backlog, which is why the benchmark counts what arrives).
 * Frames the kernel rejects come back TP_STATUS_WRONG_FORMAT and are counted
 * as errors. At the end we wait (bounded) for every slot to come back.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FRAME_LEN	60	/* 14 Ethernet + 20 IPv4 + 8 UDP + 18 payload */
#define SLOT_SIZE	128	/* ring slot: 32-byte tpacket2 header + frame */
#define SLOT_DATA	(TPACKET_ALIGN(sizeof(struct tpacket2_hdr)))
#define RING_BLOCK	4096
#define RING_SLOTS	4096	/* 32 slots per 4 KiB block, 128 blocks */
#define BATCH		256	/* slots filled per send() kick */
#define SPORT_BASE	1024
#define MAX_FLOWS	(65536 - SPORT_BASE)

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
	fprintf(stderr, "usage: pktgen -i DEV -d DSTMAC -s SRCIP -D DSTIP "
	    "[-f FLOWS] [-t SECONDS]\n");
	exit(2);
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int
parse_mac(uint8_t mac[6], const char *s)
{
	unsigned v[6];
	char tail;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &v[0], &v[1], &v[2], &v[3],
	    &v[4], &v[5], &tail) != 6)
		return -1;
	for (int i = 0; i < 6; i++) {
		if (v[i] > 0xff)
			return -1;
		mac[i] = (uint8_t)v[i];
	}
	return 0;
}

/* One's-complement sum of buf[0..len), folded by the caller. */
static uint32_t
sum16(uint32_t sum, const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(buf[i] << 8 | buf[i + 1]);
	if (len & 1)
		sum += (uint32_t)buf[len - 1] << 8;
	return sum;
}

static uint16_t
fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* The frame of one flow: complete, checksums included. */
static void
build_frame(uint8_t f[FRAME_LEN], const uint8_t dst[6], const uint8_t src[6],
    struct in_addr sip, struct in_addr dip, uint16_t sport)
{
	uint8_t *ip = f + 14, *udp = ip + 20, pseudo[12];
	uint32_t sum;

	memset(f, 0, FRAME_LEN);
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	put16(f + 12, 0x0800);

	ip[0] = 0x45;
	put16(ip + 2, FRAME_LEN - 14);
	put16(ip + 4, sport);			/* id: anything; vary it */
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, &sip, 4);		/* network order already */
	memcpy(ip + 16, &dip, 4);
	put16(ip + 10, fold(sum16(0, ip, 20)));

	put16(udp, sport);
	put16(udp + 2, 9);
	put16(udp + 4, FRAME_LEN - 14 - 20);
	memset(udp + 8, 0x5a, FRAME_LEN - 14 - 20 - 8);
	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = 17;
	put16(pseudo + 10, FRAME_LEN - 14 - 20);
	sum = sum16(sum16(0, pseudo, sizeof(pseudo)), udp, FRAME_LEN - 14 - 20);
	sum = fold(sum);
	put16(udp + 6, sum == 0 ? 0xffff : (uint16_t)sum);	/* RFC 768 */
}

static int
open_ring(const char *dev, uint8_t mac[6], uint8_t **ring)
{
	struct tpacket_req req = {
		.tp_block_size = RING_BLOCK,
		.tp_block_nr = RING_SLOTS * SLOT_SIZE / RING_BLOCK,
		.tp_frame_size = SLOT_SIZE,
		.tp_frame_nr = RING_SLOTS,
	};
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	struct ifreq ifr;
	int fd, v;

	/* Protocol 0: a send-only socket; nothing received is queued to us. */
	if ((fd = socket(AF_PACKET, SOCK_RAW, 0)) < 0) {
		perror("pktgen: socket");
		return -1;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
		fprintf(stderr, "pktgen: %s: %s\n", dev, strerror(errno));
		goto fail;
	}
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	v = TPACKET_V2;
	if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)) < 0) {
		perror("pktgen: PACKET_VERSION");
		goto fail;
	}
	v = 1;
	if (setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &v, sizeof(v)) < 0) {
		perror("pktgen: PACKET_QDISC_BYPASS");
		goto fail;
	}
	if (setsockopt(fd, SOL_PACKET, PACKET_TX_RING, &req, sizeof(req)) < 0) {
		perror("pktgen: PACKET_TX_RING");
		goto fail;
	}
	*ring = mmap(NULL, (size_t)req.tp_block_size * req.tp_block_nr,
	    PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (*ring == MAP_FAILED) {
		perror("pktgen: mmap");
		goto fail;
	}
	sll.sll_ifindex = (int)if_nametoindex(dev);
	if (sll.sll_ifindex == 0 ||
	    bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		fprintf(stderr, "pktgen: bind %s: %s\n", dev, strerror(errno));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

static struct tpacket2_hdr *
slot(uint8_t *ring, unsigned i)
{
	return (struct tpacket2_hdr *)(void *)(ring + (size_t)i * SLOT_SIZE);
}

/*
 * Ask the kernel to send every filled slot. Blocking: on veth the transmit
 * is synchronous, so when this returns the slots are back.
 */
static void
kick(int fd)
{
	if (send(fd, NULL, 0, 0) < 0 && errno != ENOBUFS && errno != EAGAIN &&
	    errno != EINTR) {
		perror("pktgen: send");
		stop = 1;
	}
}

int
main(int argc, char **argv)
{
	const char *dev = NULL, *dmac = NULL, *sip_s = NULL, *dip_s = NULL;
	uint8_t dst[6], src[6], *ring, *frames;
	struct in_addr sip, dip;
	unsigned long flows = 1;
	double seconds = 5;
	uint64_t sent = 0, errors = 0, filled = 0, t0, t1, deadline;
	unsigned idx = 0, flow = 0, batch = 0;
	int c, fd;

	while ((c = getopt(argc, argv, "i:d:s:D:f:t:h")) != -1) {
		switch (c) {
		case 'i': dev = optarg; break;
		case 'd': dmac = optarg; break;
		case 's': sip_s = optarg; break;
		case 'D': dip_s = optarg; break;
		case 'f': flows = strtoul(optarg, NULL, 10); break;
		case 't': seconds = strtod(optarg, NULL); break;
		default: usage();
		}
	}
	if (optind != argc || !dev || !dmac || !sip_s || !dip_s)
		usage();
	if (parse_mac(dst, dmac) < 0 || inet_pton(AF_INET, sip_s, &sip) != 1 ||
	    inet_pton(AF_INET, dip_s, &dip) != 1 || flows < 1 ||
	    flows > MAX_FLOWS || !(seconds > 0 && seconds <= 3600)) {
		fprintf(stderr, "pktgen: bad argument (MAC, IPv4 address, "
		    "1 <= FLOWS <= %d, 0 < SECONDS <= 3600)\n", MAX_FLOWS);
		return 2;
	}
	if ((fd = open_ring(dev, src, &ring)) < 0)
		return 1;
	if ((frames = malloc(flows * FRAME_LEN)) == NULL) {
		perror("pktgen: malloc");
		return 1;
	}
	for (unsigned long i = 0; i < flows; i++)
		build_frame(frames + i * FRAME_LEN, dst, src, sip, dip,
		    (uint16_t)(SPORT_BASE + i));

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	t0 = now_ns();
	deadline = t0 + (uint64_t)(seconds * 1e9);

	while (!stop) {
		struct tpacket2_hdr *h = slot(ring, idx);
		uint32_t st = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);

		if (st & (TP_STATUS_SEND_REQUEST | TP_STATUS_SENDING)) {
			/* Ring full: everything ahead of us is queued. */
			kick(fd);
			batch = 0;
			st = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);
			if (st & (TP_STATUS_SEND_REQUEST | TP_STATUS_SENDING)) {
				struct pollfd p = { .fd = fd, .events = POLLOUT };
				poll(&p, 1, 10);
				if (now_ns() >= deadline)
					break;
				continue;
			}
		}
		if (filled >= RING_SLOTS) {	/* second lap: the slot was used */
			if (st & TP_STATUS_WRONG_FORMAT)
				errors++;
			else
				sent++;
		}
		memcpy((uint8_t *)h + SLOT_DATA, frames + (size_t)flow * FRAME_LEN,
		    FRAME_LEN);
		h->tp_len = FRAME_LEN;
		__atomic_store_n(&h->tp_status, TP_STATUS_SEND_REQUEST,
		    __ATOMIC_RELEASE);
		filled++;
		if (++flow == flows)
			flow = 0;
		if (++idx == RING_SLOTS)
			idx = 0;
		if (++batch == BATCH) {
			kick(fd);
			batch = 0;
			if (now_ns() >= deadline)
				break;
		}
	}

	/* Drain: send what is queued and wait (at most 1 s) for every slot. */
	kick(fd);
	t1 = now_ns();
	for (unsigned i = 0; i < RING_SLOTS && i < filled; i++) {
		struct tpacket2_hdr *h = slot(ring, i);
		uint64_t give_up = now_ns() + 1000000000u;
		uint32_t st;

		while ((st = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE)) &
		    (TP_STATUS_SEND_REQUEST | TP_STATUS_SENDING) &&
		    now_ns() < give_up) {
			kick(fd);
			usleep(1000);
		}
		if (st & TP_STATUS_WRONG_FORMAT)
			errors++;
		else if (!(st & (TP_STATUS_SEND_REQUEST | TP_STATUS_SENDING)))
			sent++;
	}

	printf("sent %llu\n", (unsigned long long)sent);
	fprintf(stderr, "pktgen: dev=%s flows=%lu seconds=%.2f sent=%llu "
	    "errors=%llu kpps=%.1f\n", dev, flows, (double)(t1 - t0) / 1e9,
	    (unsigned long long)sent, (unsigned long long)errors,
	    (double)sent / ((double)(t1 - t0) / 1e9) / 1e3);
	free(frames);
	munmap(ring, (size_t)RING_SLOTS * SLOT_SIZE);
	close(fd);
	return errors ? 1 : 0;
}

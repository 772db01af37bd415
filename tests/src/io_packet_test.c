/* SPDX-License-Identifier: ISC */
/*
 * The AF_PACKET backend against the real kernel.
 *
 * The group setup moves the process into a network namespace of its own
 * (unshare(CLONE_NEWNET)), so the veth pairs it creates there (gnA/gnB and
 * gnC/gnD, through `ip`, which inherits the namespace) are invisible to the
 * host and disappear when the test exits. IPv6 is disabled on them before
 * they come up, so the kernel sends no router solicitations or neighbour
 * discovery that a test could mistake for its own frames; receive helpers
 * also filter by ethertype or source MAC. Without root or namespaces every
 * test is skipped with the reason.
 *
 * MACs are set to fixed values so the frames below are literal bytes. The
 * reference for MAC and MTU is `ip -o link` (netlink), not /sys/class/net:
 * sysfs shows the namespace of whoever mounted it, not ours.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <linux/ethtool.h>
#include <linux/if_packet.h>
#include <linux/sockios.h>

#include "netfn/gso.h"
#include "src/io.h"

#define MAC_A	0x02, 0x00, 0x00, 0x00, 0x00, 0x0a
#define MAC_B	0x02, 0x00, 0x00, 0x00, 0x00, 0x0b
#define MTU_A	1400		/* not the default, so a constant can't pass */
#define IFIDX_A	3
#define IFIDX_B	7
#define ETHERTYPE_TEST	0x88b5	/* IEEE 802 local experimental */
#define MAXF	128

static const uint8_t mac_a[ETH_ALEN] = { MAC_A };
static const uint8_t mac_b[ETH_ALEN] = { MAC_B };

/* A to B, local experimental ethertype, 64 bytes. */
static const uint8_t frame_a2b[64] = {
	MAC_B, MAC_A, 0x88, 0xb5,
	'g', 'i', 't', 'n', 'e', 't', ' ', 'i', 'o', '_', 'p', 'a', 'c', 'k',
	'e', 't', 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09,
	0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
	0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0xfe, 0xff,
};

/* A to B with an 802.1Q tag (VID 5, PCP 3), carrying IPv4 bytes. */
static const uint8_t frame_vlan[64] = {
	MAC_B, MAC_A, 0x81, 0x00, 0x60, 0x05, 0x08, 0x00,
	0x45, 0x00, 0x00, 0x2e, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00,
	0x0a, 0x63, 0x00, 0x01, 0x0a, 0x63, 0x00, 0x02,
	0x9c, 0x40, 0x9c, 0x41, 0x00, 0x1a, 0x00, 0x00,
	'v', 'l', 'a', 'n', ' ', 't', 'a', 'g', 'g', 'e', 'd', ' ', 'f', 'r',
	'a', 'm', 'e', '!',
};

/* The ones' complement sum of a 20-byte IPv4 header: 0xffff when right. */
static unsigned
ipv4_hdr_sum(const uint8_t *h)
{
	uint32_t sum = 0;

	for (int i = 0; i < 20; i += 2)
		sum += load_be16(h + i);
	while (sum > 0xffff)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

/*
 * What the kernel sends for sendto("gitnet csum") from 10.99.0.1:40000 to
 * 10.99.0.2:40001 on a veth with tx checksum offload: IPv4 DF, TTL 64, and a
 * UDP checksum field holding only the folded pseudo-header sum, left for the
 * NIC (CHECKSUM_PARTIAL): 0a63+0001 + 0a63+0002 + 0011 + 0013 = 0x14ed. The
 * IP id is the kernel's choice (id 0 and its header checksum are shown; the
 * test compares around them).
 */
static const uint8_t frame_udp_partial[53] = {
	MAC_B, MAC_A, 0x08, 0x00,
	0x45, 0x00, 0x00, 0x27, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xbc, 0x5b,
	0x0a, 0x63, 0x00, 0x01, 0x0a, 0x63, 0x00, 0x02,
	0x9c, 0x40, 0x9c, 0x41, 0x00, 0x13, 0x14, 0xed,
	'g', 'i', 't', 'n', 'e', 't', ' ', 'c', 's', 'u', 'm',
};

struct rxcopy {
	uint8_t		data[2048];
	uint16_t	len;
	uint8_t		ifidx, flags;
	struct nf_gso	gso;
};

static int netns_ok;
static char netns_why[640];
static struct io *io_a, *io_b;
static struct rxcopy rx[MAXF];

#define NEED_NETNS() do {						\
	if (!netns_ok) {						\
		print_message("io_packet_test: skipped: %s\n", netns_why); \
		skip();							\
	}								\
} while (0)

static int
sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	if (rc != 0)
		snprintf(netns_why, sizeof(netns_why), "'%s' failed (%d)", cmd,
		    rc);
	return rc;
}

/* Write a sysctl; a missing file (no IPv6 in this kernel) is fine. */
static void
sysctl_set(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);

	if (fd < 0)
		return;
	if (write(fd, val, strlen(val)) < 0)
		fprintf(stderr, "io_packet_test: %s: %s\n", path, strerror(errno));
	close(fd);
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Does frame f match: ethertype (0: any) and source MAC (NULL: any)? */
static int
frame_matches(const uint8_t *d, uint16_t len, uint16_t type,
    const uint8_t *src)
{
	if (len < ETH_HLEN)
		return 0;
	if (type != 0 && load_be16(d + 12) != type)
		return 0;
	if (src != NULL && memcmp(d + ETH_ALEN, src, ETH_ALEN) != 0)
		return 0;
	return 1;
}

/*
 * Copy matching frames received on io into rx[] until want arrived or
 * timeout_ms passed, polling the fd in between. Returns how many.
 */
static unsigned
rx_collect(struct io *io, uint16_t type, const uint8_t *src, unsigned want,
    int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	struct nf_frame f[64];
	unsigned got = 0;

	for (;;) {
		unsigned n = io_rx_burst(io, f, 64);

		for (unsigned i = 0; i < n; i++) {
			if (!frame_matches(f[i].data, f[i].len, type, src) ||
			    got == MAXF)
				continue;
			assert_true(f[i].len <= sizeof(rx[got].data));
			memcpy(rx[got].data, f[i].data, f[i].len);
			rx[got].len = f[i].len;
			rx[got].ifidx = f[i].ifidx;
			rx[got].flags = f[i].flags;
			rx[got].gso = f[i].gso;
			got++;
		}
		io_rx_release(io);
		if (got >= want)
			return got;
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return got;
		struct pollfd pfd = { .fd = io->fd, .events = POLLIN };
		(void)poll(&pfd, 1, (int)left);
	}
}

static void
drain(struct io *io)
{
	struct nf_frame f[64];

	while (io_rx_burst(io, f, 64) > 0)
		io_rx_release(io);
	io_rx_release(io);
}

/* MAC, MTU and flags of dev as `ip -o link` (netlink) reports them. */
static int
ip_link(const char *dev, uint8_t mac[ETH_ALEN], unsigned *mtu, int *up)
{
	char cmd[128], line[1024], *p;
	unsigned m[ETH_ALEN];
	FILE *fp;
	int ok = 0;

	snprintf(cmd, sizeof(cmd), "ip -o link show dev %s", dev);
	if ((fp = popen(cmd, "r")) == NULL)
		return -1;
	if (fgets(line, sizeof(line), fp) != NULL &&
	    (p = strstr(line, " mtu ")) != NULL && sscanf(p, " mtu %u", mtu) == 1 &&
	    (p = strstr(line, "link/ether ")) != NULL &&
	    sscanf(p, "link/ether %x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3],
	    &m[4], &m[5]) == 6) {
		for (int i = 0; i < ETH_ALEN; i++)
			mac[i] = (uint8_t)m[i];
		/* The administrative flag, inside <...>. */
		*up = strstr(line, ",UP") != NULL || strstr(line, "<UP") != NULL;
		ok = 1;
	}
	pclose(fp);
	return ok ? 0 : -1;
}

static int
group_setup(void **state)
{
	char err[256];

	(void)state;
	if (geteuid() != 0) {
		snprintf(netns_why, sizeof(netns_why), "needs root for a network "
		    "namespace and AF_PACKET");
		return 0;
	}
	if (unshare(CLONE_NEWNET) < 0) {
		snprintf(netns_why, sizeof(netns_why), "unshare(CLONE_NEWNET): %s",
		    strerror(errno));
		return 0;
	}
	sysctl_set("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	if (sh("ip link add gnA type veth peer name gnB") != 0 ||
	    sh("ip link add gnC type veth peer name gnD") != 0)
		return 0;
	sysctl_set("/proc/sys/net/ipv6/conf/gnA/disable_ipv6", "1");
	sysctl_set("/proc/sys/net/ipv6/conf/gnB/disable_ipv6", "1");
	sysctl_set("/proc/sys/net/ipv6/conf/gnC/disable_ipv6", "1");
	sysctl_set("/proc/sys/net/ipv6/conf/gnD/disable_ipv6", "1");
	/* gnB comes up here; gnA is left down for io_packet_open to raise. */
	if (sh("ip link set gnA address 02:00:00:00:00:0a mtu %d", MTU_A) != 0 ||
	    sh("ip link set gnB address 02:00:00:00:00:0b up") != 0 ||
	    sh("ip link set gnD up") != 0 ||
	    sh("ip addr add 10.99.0.1/24 dev gnA") != 0 ||
	    sh("ip neigh replace 10.99.0.2 lladdr 02:00:00:00:00:0b nud permanent dev gnA") != 0)
		return 0;
	if (io_packet_open(&io_a, "gnA", IFIDX_A, NULL, err, sizeof(err)) < 0 ||
	    io_packet_open(&io_b, "gnB", IFIDX_B, NULL, err, sizeof(err)) < 0) {
		snprintf(netns_why, sizeof(netns_why), "open: %s", err);
		return -1;	/* the backend is broken: fail, don't skip */
	}
	netns_ok = 1;
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	io_close(io_a);
	io_close(io_b);
	return 0;
}

/* The MAC and MTU the backend reports are the interface's, as ip shows them. */
static void
io_packet_open__reports_mac_and_mtu_of_the_interface(void **state)
{
	uint8_t mac[ETH_ALEN];
	unsigned mtu;
	int up;

	(void)state;
	NEED_NETNS();
	assert_int_equal(ip_link("gnA", mac, &mtu, &up), 0);
	assert_memory_equal(mac, mac_a, ETH_ALEN);
	assert_int_equal(mtu, MTU_A);
	assert_memory_equal(io_a->mac, mac, ETH_ALEN);
	assert_int_equal(io_a->mtu, mtu);
	assert_string_equal(io_a->name, "gnA");
	assert_int_equal(io_a->ifidx, IFIDX_A);
	assert_true(io_a->fd >= 0);

	assert_int_equal(ip_link("gnB", mac, &mtu, &up), 0);
	assert_memory_equal(io_b->mac, mac_b, ETH_ALEN);
	assert_memory_equal(io_b->mac, mac, ETH_ALEN);
	assert_int_equal(io_b->mtu, 1500);
	assert_int_equal(io_b->mtu, mtu);
}

/* Get (set < 0) or set GRO on dev through the ethtool ioctl: 0/1 or -1. */
static int
gro(const char *dev, int set)
{
	struct ethtool_value ev = { .cmd = set < 0 ? ETHTOOL_GGRO : ETHTOOL_SGRO,
	    .data = set < 0 ? 0 : (uint32_t)set };
	struct ifreq ifr;
	int s, rc;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
	ifr.ifr_data = (char *)&ev;
	if ((s = socket(AF_INET, SOCK_DGRAM, 0)) < 0)
		return -1;
	rc = ioctl(s, SIOCETHTOOL, &ifr);
	close(s);
	return rc < 0 ? -1 : (int)ev.data;
}

/*
 * gnA was down when the group setup opened it; gnC is down, with GRO turned
 * on, until opened: then it is up, GRO left on (its super-frames come with
 * their virtio-net header); opened without the header, GRO goes off.
 */
static void
io_packet_open__brings_the_interface_up_gro_off_only_without_vnet_hdr(void **state)
{
	struct io_params novnet = { .no_vnet_hdr = true };
	uint8_t mac[ETH_ALEN];
	unsigned mtu;
	int up, v;
	socklen_t len = sizeof(v);
	struct io *io = NULL;
	char err[128];

	(void)state;
	NEED_NETNS();
	assert_int_equal(ip_link("gnA", mac, &mtu, &up), 0);
	assert_true(up);
	assert_int_equal(ip_link("gnC", mac, &mtu, &up), 0);
	assert_false(up);
	assert_int_equal(gro("gnC", 1), 1);
	assert_int_equal(gro("gnC", -1), 1);
	assert_int_equal(io_packet_open(&io, "gnC", 0, NULL, err, sizeof(err)), 0);
	assert_int_equal(ip_link("gnC", mac, &mtu, &up), 0);
	assert_true(up);
	assert_int_equal(gro("gnC", -1), 1);
	assert_int_equal(getsockopt(io->fd, SOL_PACKET, PACKET_VNET_HDR, &v,
	    &len), 0);
	assert_int_equal(v, 1);
	io_close(io);
	assert_int_equal(io_packet_open(&io, "gnC", 0, &novnet, err,
	    sizeof(err)), 0);
	assert_int_equal(gro("gnC", -1), 0);
	len = sizeof(v);
	assert_int_equal(getsockopt(io->fd, SOL_PACKET, PACKET_VNET_HDR, &v,
	    &len), 0);
	assert_int_equal(v, 0);
	io_close(io);
}

/* The socket options the contract names, as the kernel reports them. */
static void
io_packet_open__socket_is_v2_ignoring_outgoing_bypassing_qdisc(void **state)
{
	int v;
	socklen_t len;

	(void)state;
	NEED_NETNS();
	len = sizeof(v);
	assert_int_equal(getsockopt(io_a->fd, SOL_PACKET, PACKET_VERSION, &v,
	    &len), 0);
	assert_int_equal(v, TPACKET_V2);
	len = sizeof(v);
	assert_int_equal(getsockopt(io_a->fd, SOL_PACKET, 23 /* IGNORE_OUTGOING */,
	    &v, &len), 0);
	assert_int_equal(v, 1);
	len = sizeof(v);
	assert_int_equal(getsockopt(io_a->fd, SOL_PACKET, PACKET_QDISC_BYPASS,
	    &v, &len), 0);
	assert_int_equal(v, 1);
}

static void
io_packet_open__unknown_device_is_named_in_the_error(void **state)
{
	struct io *io = (struct io *)&io;	/* must be overwritten */
	char err[128] = "";

	(void)state;
	NEED_NETNS();
	assert_int_equal(io_packet_open(&io, "gnNope", 0, NULL, err, sizeof(err)),
	    -ENODEV);
	assert_null(io);
	assert_string_equal(err, "packet: gnNope: no such interface");
}

static void
io_packet_open__rejects_a_frame_size_that_is_not_a_power_of_two(void **state)
{
	struct io_params p = { .frame_size = 1500 };
	struct io *io = NULL;
	char err[128] = "";

	(void)state;
	NEED_NETNS();
	assert_int_equal(io_packet_open(&io, "gnC", 0, &p, err, sizeof(err)),
	    -EINVAL);
	assert_null(io);
	assert_string_equal(err, "packet: gnC: frame size 1500 is not a power "
	    "of two from 256 to 65536");
}

static void
io_packet_tx_burst__frame_arrives_byte_identical(void **state)
{
	struct nf_frame f = { (uint8_t *)frame_a2b, sizeof(frame_a2b), 0, 0 };
	struct io_stats sa, sb;

	(void)state;
	NEED_NETNS();
	drain(io_b);
	sa = io_a->stats;
	sb = io_b->stats;
	assert_int_equal(io_tx_burst(io_a, &f, 1), 1);
	assert_int_equal(rx_collect(io_b, ETHERTYPE_TEST, mac_a, 1, 2000), 1);
	assert_int_equal(rx[0].len, 64);
	assert_memory_equal(rx[0].data, frame_a2b, 64);
	assert_int_equal(rx[0].ifidx, IFIDX_B);
	assert_int_equal(rx[0].flags, 0);
	assert_int_equal(io_a->stats.tx_frames - sa.tx_frames, 1);
	assert_int_equal(io_a->stats.tx_bytes - sa.tx_bytes, 64);
	assert_int_equal(io_a->stats.tx_errors - sa.tx_errors, 0);
	assert_int_equal(io_b->stats.rx_frames - sb.rx_frames, 1);
	assert_int_equal(io_b->stats.rx_bytes - sb.rx_bytes, 64);
}

/* 100 frames of lengths 60..159, sequence numbered, in one burst. */
static void
io_packet_tx_burst__burst_of_100_arrives_complete_and_in_order(void **state)
{
	static uint8_t buf[100][256];
	struct nf_frame f[100];
	uint64_t bytes = 0;

	(void)state;
	NEED_NETNS();
	drain(io_b);
	for (unsigned i = 0; i < 100; i++) {
		memcpy(buf[i], frame_a2b, ETH_HLEN);
		for (unsigned j = ETH_HLEN; j < sizeof(buf[i]); j++)
			buf[i][j] = (uint8_t)(i + j);
		store_be16(buf[i] + ETH_HLEN, (uint16_t)i);
		f[i] = (struct nf_frame){ buf[i], (uint16_t)(60 + i), 0, 0 };
		bytes += 60 + i;
	}
	uint64_t tx0 = io_a->stats.tx_bytes;
	assert_int_equal(io_tx_burst(io_a, f, 100), 100);
	assert_int_equal(io_a->stats.tx_bytes - tx0, bytes);
	assert_int_equal(rx_collect(io_b, ETHERTYPE_TEST, mac_a, 100, 3000), 100);
	for (unsigned i = 0; i < 100; i++) {
		assert_int_equal(load_be16(rx[i].data + ETH_HLEN), i);
		assert_int_equal(rx[i].len, 60 + i);
		assert_memory_equal(rx[i].data, buf[i], 60 + i);
	}
	/* And nothing more. */
	assert_int_equal(rx_collect(io_b, ETHERTYPE_TEST, mac_a, 1, 100), 0);
}

/*
 * Neither frames the router sends on A nor frames the kernel sends out of A
 * come back in on A (PACKET_IGNORE_OUTGOING); both do reach B.
 */
static void
io_packet_rx_burst__outgoing_frames_are_not_received(void **state)
{
	struct nf_frame f = { (uint8_t *)frame_a2b, sizeof(frame_a2b), 0, 0 };
	struct sockaddr_in src = { .sin_family = AF_INET,
	    .sin_port = htons(40010) };
	struct sockaddr_in dst = { .sin_family = AF_INET,
	    .sin_port = htons(40011) };
	int s;

	(void)state;
	NEED_NETNS();
	drain(io_a);
	drain(io_b);
	for (int i = 0; i < 10; i++)
		assert_int_equal(io_tx_burst(io_a, &f, 1), 1);
	assert_int_equal(rx_collect(io_b, ETHERTYPE_TEST, mac_a, 10, 2000), 10);

	src.sin_addr.s_addr = htonl(0x0a630001);
	dst.sin_addr.s_addr = htonl(0x0a630002);
	assert_true((s = socket(AF_INET, SOCK_DGRAM, 0)) >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&src, sizeof(src)), 0);
	assert_int_equal(sendto(s, "x", 1, 0, (struct sockaddr *)&dst,
	    sizeof(dst)), 1);
	close(s);
	assert_int_equal(rx_collect(io_b, ETHERTYPE_IPV4, mac_a, 1, 2000), 1);

	assert_int_equal(rx_collect(io_a, 0, mac_a, 1, 200), 0);
}

/*
 * A datagram from the kernel's own UDP stack leaves gnA with
 * CHECKSUM_PARTIAL (veth offers tx checksum offload), veth hands the skb to
 * gnB as it is, and the ring marks it TP_STATUS_CSUMNOTREADY: the checksum
 * field holds the pseudo-header sum, not the checksum.
 */
static void
io_packet_rx_burst__kernel_partial_checksum_is_flagged(void **state)
{
	struct sockaddr_in src = { .sin_family = AF_INET,
	    .sin_port = htons(40000) };
	struct sockaddr_in dst = { .sin_family = AF_INET,
	    .sin_port = htons(40001) };
	int s;

	(void)state;
	NEED_NETNS();
	drain(io_b);
	src.sin_addr.s_addr = htonl(0x0a630001);
	dst.sin_addr.s_addr = htonl(0x0a630002);
	assert_true((s = socket(AF_INET, SOCK_DGRAM, 0)) >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&src, sizeof(src)), 0);
	assert_int_equal(sendto(s, "gitnet csum", 11, 0, (struct sockaddr *)&dst,
	    sizeof(dst)), 11);
	close(s);
	assert_int_equal(rx_collect(io_b, ETHERTYPE_IPV4, mac_a, 1, 2000), 1);
	assert_int_equal(rx[0].len, sizeof(frame_udp_partial));
	/* All but the IP id (the kernel picks it) and the header checksum
	 * that covers it, which must still be right. */
	assert_memory_equal(rx[0].data, frame_udp_partial, 18);
	assert_memory_equal(rx[0].data + 20, frame_udp_partial + 20, 4);
	assert_memory_equal(rx[0].data + 26, frame_udp_partial + 26,
	    sizeof(frame_udp_partial) - 26);
	assert_int_equal(ipv4_hdr_sum(rx[0].data + ETH_HLEN), 0xffff);
	/* With the virtio-net header: where the checksum starts and lies,
	 * and the field holds the pseudo-header sum (Linux's partial form). */
	assert_int_equal(rx[0].flags, NF_F_NEEDS_CSUM);
	assert_int_equal(rx[0].gso.type, NF_GSO_NONE);
	assert_int_equal(rx[0].gso.csum_start, ETH_HLEN + 20);
	assert_int_equal(rx[0].gso.csum_offset, 6);
	assert_int_equal(load_be16(rx[0].data + ETH_HLEN + 20 + 6),
	    gso_pseudo_partial(0x0a630001, 0x0a630002, IPPROTO_UDP_, 19));
}

/*
 * The kernel strips an 802.1Q tag before packet sockets see the frame; the
 * backend puts it back, so B sees exactly what A sent.
 */
static void
io_packet_rx_burst__vlan_tag_is_put_back(void **state)
{
	struct nf_frame f = { (uint8_t *)frame_vlan, sizeof(frame_vlan), 0, 0 };

	(void)state;
	NEED_NETNS();
	drain(io_b);
	assert_int_equal(io_tx_burst(io_a, &f, 1), 1);
	assert_int_equal(rx_collect(io_b, ETHERTYPE_VLAN, mac_a, 1, 2000), 1);
	assert_int_equal(rx[0].len, sizeof(frame_vlan));
	assert_memory_equal(rx[0].data, frame_vlan, sizeof(frame_vlan));
}

/*
 * With 256-byte slots a 300-byte frame does not fit: it arrives whole all
 * the same, through the socket's queue (rx_big), in its place before the
 * frame after it. Sent from the small ring, it leaves by the big frames'
 * socket. With a receive buffer too small to queue them all, the rest are
 * counted in rx_queue_full, and what follows still arrives.
 */
static void
io_packet_rx_burst__frame_larger_than_a_slot_arrives_whole(void **state)
{
	struct io_params small = { .rx_frames = 10, .tx_frames = 4,
	    .frame_size = 256 };
	struct io_params tiny = { .rx_frames = 64, .tx_frames = 4,
	    .frame_size = 256, .rcvbuf = 1 };
	static uint8_t big[300];
	struct nf_frame f[2], many[17];
	struct io *c = NULL, *d = NULL;
	char err[128];

	(void)state;
	NEED_NETNS();
	assert_int_equal(io_packet_open(&c, "gnC", 1, NULL, err, sizeof(err)), 0);
	assert_int_equal(io_packet_open(&d, "gnD", 2, &small, err, sizeof(err)), 0);
	memcpy(big, frame_a2b, ETH_HLEN);
	memset(big + ETH_HLEN, 0xa5, sizeof(big) - ETH_HLEN);
	f[0] = (struct nf_frame){ big, sizeof(big), 0, 0 };
	f[1] = (struct nf_frame){ (uint8_t *)frame_a2b, sizeof(frame_a2b), 0, 0 };
	assert_int_equal(io_tx_burst(c, f, 2), 2);
	assert_int_equal(rx_collect(d, ETHERTYPE_TEST, mac_a, 2, 2000), 2);
	assert_int_equal(rx[0].len, sizeof(big));
	assert_memory_equal(rx[0].data, big, sizeof(big));
	assert_int_equal(rx[1].len, sizeof(frame_a2b));
	assert_memory_equal(rx[1].data, frame_a2b, sizeof(frame_a2b));
	assert_int_equal(d->stats.rx_truncated, 0);
	assert_int_equal(d->stats.rx_big, 1);
	assert_int_equal(d->stats.rx_frames, 2);

	/* From the small ring, by the second socket, in order. */
	drain(c);
	assert_int_equal(io_tx_burst(d, f, 2), 2);
	assert_int_equal(d->stats.tx_errors, 0);
	assert_int_equal(rx_collect(c, ETHERTYPE_TEST, mac_a, 2, 2000), 2);
	assert_int_equal(rx[0].len, sizeof(big));
	assert_int_equal(rx[1].len, sizeof(frame_a2b));
	io_close(d);

	/* 16 big frames at once into the smallest receive buffer. */
	assert_int_equal(io_packet_open(&d, "gnD", 2, &tiny, err, sizeof(err)), 0);
	for (int i = 0; i < 16; i++)
		many[i] = f[0];
	many[16] = f[1];
	assert_int_equal(io_tx_burst(c, many, 17), 17);
	(void)rx_collect(d, ETHERTYPE_TEST, mac_a, 17, 500);
	assert_int_equal(d->stats.rx_big + d->stats.rx_queue_full, 16);
	assert_true(d->stats.rx_queue_full >= 1);
	assert_int_equal(d->stats.rx_truncated, 0);
	assert_int_equal(d->stats.rx_frames, d->stats.rx_big + 1);
	io_close(c);
	io_close(d);
}

/*
 * A TCP super-frame sent whole from C (with its virtio-net header) over a
 * gnC without TSO or GSO: the kernel segments it in software, and D reads
 * the kernel's segments. gso_segment must produce the same bytes: sequence
 * numbers, IP ids, flags (CWR on the first only, PSH and FIN on the last),
 * checksums.
 */
static void
io_packet_tx_burst__tcp_super_frame_cut_as_the_kernel_cuts_it(void **state)
{
	static uint8_t super[ETH_HLEN + 20 + 32 + 5000], seg[2048];
	const uint32_t src = 0x0a630001, dst = 0x0a630002;
	uint8_t *ip = super + ETH_HLEN, *t = ip + 20;
	struct io *c = NULL, *d = NULL;
	struct nf_frame f;
	uint32_t l4len = 32 + 5000, sum = 0;
	char err[128];
	unsigned got, n;

	(void)state;
	NEED_NETNS();
	memcpy(super, (const uint8_t[]){ MAC_B, MAC_A, 0x08, 0x00 }, ETH_HLEN);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	store_be16(ip + 2, (uint16_t)(20 + l4len));
	store_be16(ip + 4, 0xfffe);
	store_be16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = IPPROTO_TCP_;
	store_be32(ip + 12, src);
	store_be32(ip + 16, dst);
	store_be16(ip + 10, (uint16_t)~ipv4_hdr_sum(ip));
	store_be16(t, 40010);
	store_be16(t + 2, 80);
	store_be32(t + 4, 0xfffff000);
	store_be32(t + 8, 0x01020304);
	t[12] = 8 << 4;
	t[13] = 0x80 | TCP_ACK | TCP_PSH | TCP_FIN;	/* CWR */
	store_be16(t + 14, 501);
	store_be16(t + 18, 0);
	memcpy(t + 20, (const uint8_t[]){ 1, 1, 8, 10, 0x11, 0x22, 0x33, 0x44,
	    0x55, 0x66, 0x77, 0x88 }, 12);
	for (uint32_t i = 0; i < 5000; i++)
		t[32 + i] = (uint8_t)(i * 11 + i / 256);
	store_be16(t + 16, gso_pseudo_partial(src, dst, IPPROTO_TCP_,
	    (uint16_t)l4len));
	f = (struct nf_frame){ super, sizeof(super), 0, NF_F_NEEDS_CSUM, {
	    .type = NF_GSO_TCPV4 | NF_GSO_ECN, .size = 1200,
	    .hdr_len = ETH_HLEN + 20 + 32, .csum_start = ETH_HLEN + 20,
	    .csum_offset = 16 } };
	n = gso_nsegs(super, sizeof(super), &f.gso);
	assert_int_equal(n, 5);
	assert_int_equal(sh("ethtool -K gnC tso off gso off >/dev/null"), 0);
	assert_int_equal(io_packet_open(&c, "gnC", 1, NULL, err, sizeof(err)), 0);
	assert_int_equal(io_packet_open(&d, "gnD", 2, NULL, err, sizeof(err)), 0);
	assert_int_equal(io_tx_burst(c, &f, 1), 1);
	assert_int_equal(c->stats.tx_gso, 1);
	got = rx_collect(d, ETHERTYPE_IPV4, mac_a, n, 2000);
	(void)sh("ethtool -K gnC tso on gso on >/dev/null");
	assert_int_equal(got, n);
	for (unsigned k = 0; k < n; k++) {
		uint32_t l = gso_segment(super, sizeof(super), &f.gso, k, seg,
		    sizeof(seg));

		if (rx[k].flags & NF_F_NEEDS_CSUM)
			gso_csum_complete(rx[k].data, rx[k].len, &rx[k].gso,
			    IPPROTO_TCP_);
		assert_int_equal(l, rx[k].len);
		assert_memory_equal(seg, rx[k].data, l);
		sum += l;
	}
	assert_int_equal(sum, 5000 + n * (ETH_HLEN + 20 + 32));
	io_close(c);
	io_close(d);
}

/*
 * A UDP_SEGMENT send: gnA keeps it one GSO super-frame, which B reads with
 * its offload state (UDP_L4, the segment size, NEEDS_CSUM). Then the same
 * send with GSO off on gnA, so the kernel segments it: gso_segment cuts B's
 * super-frame into the very bytes the kernel put on the wire (IP ids aside:
 * each send takes its own).
 */
static void
io_packet_rx_burst__udp_gso_super_frame_and_its_segments(void **state)
{
	struct sockaddr_in src = { .sin_family = AF_INET,
	    .sin_port = htons(40002) };
	struct sockaddr_in dst = { .sin_family = AF_INET,
	    .sin_port = htons(40003) };
	static uint8_t payload[4 * 1000 + 123], super[8192], seg[2048];
	struct nf_frame f[64];
	struct nf_gso g = { 0 };
	uint32_t slen = 0;
	int s, gsz = 1000;
	unsigned n, got = 0;
	int64_t deadline;

	(void)state;
	NEED_NETNS();
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7 + 3);
	drain(io_b);
	src.sin_addr.s_addr = htonl(0x0a630001);
	dst.sin_addr.s_addr = htonl(0x0a630002);
	assert_true((s = socket(AF_INET, SOCK_DGRAM, 0)) >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&src, sizeof(src)), 0);
	if (setsockopt(s, IPPROTO_UDP, 103 /* UDP_SEGMENT */, &gsz,
	    sizeof(gsz)) != 0) {
		close(s);
		print_message("io_packet_test: no UDP_SEGMENT: skipped\n");
		skip();
	}
	assert_int_equal(sendto(s, payload, sizeof(payload), 0,
	    (struct sockaddr *)&dst, sizeof(dst)), (ssize_t)sizeof(payload));
	deadline = now_ms() + 2000;
	while (slen == 0 && now_ms() < deadline) {
		n = io_rx_burst(io_b, f, 64);
		for (unsigned i = 0; i < n; i++)
			if (frame_matches(f[i].data, f[i].len, ETHERTYPE_IPV4,
			    mac_a) && slen == 0) {
				assert_true(f[i].len <= sizeof(super));
				memcpy(super, f[i].data, f[i].len);
				slen = f[i].len;
				g = f[i].gso;
				assert_int_equal(f[i].flags, NF_F_NEEDS_CSUM);
			}
		io_rx_release(io_b);
	}
	assert_int_equal(slen, ETH_HLEN + 20 + 8 + sizeof(payload));
	assert_int_equal(g.type, NF_GSO_UDP_L4);
	assert_int_equal(g.size, 1000);
	assert_int_equal(g.csum_start, ETH_HLEN + 20);
	assert_int_equal(g.csum_offset, 6);
	assert_int_equal(gso_nsegs(super, slen, &g), 5);

	/* The kernel's own segmentation of the same send. */
	assert_int_equal(sh("ethtool -K gnA tx-udp-segmentation off gso off >/dev/null"), 0);
	assert_int_equal(sendto(s, payload, sizeof(payload), 0,
	    (struct sockaddr *)&dst, sizeof(dst)), (ssize_t)sizeof(payload));
	close(s);
	got = rx_collect(io_b, ETHERTYPE_IPV4, mac_a, 5, 2000);
	assert_int_equal(sh("ethtool -K gnA tx-udp-segmentation on gso on >/dev/null"), 0);
	assert_int_equal(got, 5);
	for (unsigned k = 0; k < 5; k++) {
		uint32_t l = gso_segment(super, slen, &g, k, seg, sizeof(seg));
		uint16_t id = load_be16(rx[k].data + ETH_HLEN + 4);

		assert_int_equal(l, rx[k].len);
		/* The kernel left the checksum partial on the wire too
		 * (checksum offload on gnA): finish it as a NIC would. */
		if (rx[k].flags & NF_F_NEEDS_CSUM)
			gso_csum_complete(rx[k].data, rx[k].len, &rx[k].gso,
			    IPPROTO_UDP_);
		/* Ours counts from the super-frame's id, the kernel's from
		 * its own send: rebase ours, then patch the header checksum
		 * the same way. */
		store_be16(seg + ETH_HLEN + 4, id);
		store_be16(seg + ETH_HLEN + 10, 0);
		store_be16(seg + ETH_HLEN + 10, (uint16_t)~ipv4_hdr_sum(seg + ETH_HLEN));
		assert_memory_equal(seg, rx[k].data, l);
	}
}


/*
 * 100 frames into a 16-slot ring nobody reads: 16 land, the kernel drops 84.
 * The next frame to land carries TP_STATUS_LOSING, and reading it brings the
 * kernel's drop count into rx_kernel_drops.
 */
static void
io_packet_rx_burst__ring_overrun_is_counted_from_kernel_stats(void **state)
{
	struct io_params small = { .rx_frames = 16 };
	struct nf_frame f[100];
	struct io *c = NULL, *d = NULL;
	char err[128];

	(void)state;
	NEED_NETNS();
	assert_int_equal(io_packet_open(&c, "gnC", 1, NULL, err, sizeof(err)), 0);
	assert_int_equal(io_packet_open(&d, "gnD", 2, &small, err, sizeof(err)), 0);
	for (int i = 0; i < 100; i++)
		f[i] = (struct nf_frame){ (uint8_t *)frame_a2b,
		    sizeof(frame_a2b), 0, 0 };
	assert_int_equal(io_tx_burst(c, f, 100), 100);
	usleep(200 * 1000);	/* let the softirq finish filling the ring */
	assert_int_equal(rx_collect(d, ETHERTYPE_TEST, mac_a, 100, 100), 16);
	assert_int_equal(d->stats.rx_kernel_drops, 0);

	assert_int_equal(io_tx_burst(c, f, 1), 1);
	assert_int_equal(rx_collect(d, ETHERTYPE_TEST, mac_a, 1, 2000), 1);
	assert_int_equal(d->stats.rx_frames, 17);
	assert_int_equal(d->stats.rx_kernel_drops, 84);
	io_close(c);
	io_close(d);
}

/*
 * The kernel refuses a frame shorter than an Ethernet header and one longer
 * than MTU + header, unless it is 802.1Q-tagged, which may be 4 bytes longer.
 * Refused frames are tx_errors; the good frames among them go.
 */
static void
io_packet_tx_burst__frames_the_kernel_refuses_are_errors(void **state)
{
	static uint8_t big[MTU_A + ETH_HLEN + 1];
	static uint8_t tagged[MTU_A + ETH_HLEN + 4 + 1];
	struct nf_frame f[5];
	struct io_stats sa;

	(void)state;
	NEED_NETNS();
	drain(io_b);
	sa = io_a->stats;
	memcpy(big, frame_a2b, sizeof(frame_a2b));
	memcpy(tagged, frame_vlan, sizeof(frame_vlan));
	f[0] = (struct nf_frame){ big, MTU_A + ETH_HLEN + 1, 0, 0 };
	f[1] = (struct nf_frame){ (uint8_t *)frame_a2b, sizeof(frame_a2b), 0, 0 };
	f[2] = (struct nf_frame){ (uint8_t *)frame_a2b, ETH_HLEN - 1, 0, 0 };
	f[3] = (struct nf_frame){ tagged, MTU_A + ETH_HLEN + 4 + 1, 0, 0 };
	f[4] = (struct nf_frame){ big, MTU_A + ETH_HLEN, 0, 0 };
	assert_int_equal(io_tx_burst(io_a, f, 5), 2);
	assert_int_equal(io_a->stats.tx_errors - sa.tx_errors, 3);
	assert_int_equal(io_a->stats.tx_frames - sa.tx_frames, 2);
	assert_int_equal(io_a->stats.tx_bytes - sa.tx_bytes,
	    sizeof(frame_a2b) + MTU_A + ETH_HLEN);
	assert_int_equal(rx_collect(io_b, ETHERTYPE_TEST, mac_a, 3, 300), 2);
	assert_int_equal(rx[0].len, sizeof(frame_a2b));
	assert_int_equal(rx[1].len, MTU_A + ETH_HLEN);
	assert_memory_equal(rx[1].data, big, MTU_A + ETH_HLEN);

	/* A tagged frame may use the 4 bytes of its tag. */
	f[3].len = MTU_A + ETH_HLEN + 4;
	assert_int_equal(io_tx_burst(io_a, &f[3], 1), 1);
	assert_int_equal(rx_collect(io_b, ETHERTYPE_VLAN, mac_a, 1, 2000), 1);
	assert_int_equal(rx[0].len, MTU_A + ETH_HLEN + 4);
	assert_memory_equal(rx[0].data, tagged, MTU_A + ETH_HLEN + 4);
}

/* A two-slot send ring takes two frames of a burst of ten; eight are
 * counted in tx_ring_full and the two arrive. */
static void
io_packet_tx_burst__full_ring_drops_the_rest_of_the_burst(void **state)
{
	struct io_params tiny = { .tx_frames = 2 };
	struct nf_frame f[10];
	struct io *c = NULL;
	char err[128];

	(void)state;
	NEED_NETNS();
	assert_int_equal(io_packet_open(&c, "gnC", 1, &tiny, err, sizeof(err)), 0);
	struct io_params dflt = { 0 };
	struct io *d = NULL;
	assert_int_equal(io_packet_open(&d, "gnD", 2, &dflt, err, sizeof(err)), 0);
	for (int i = 0; i < 10; i++)
		f[i] = (struct nf_frame){ (uint8_t *)frame_a2b,
		    sizeof(frame_a2b), 0, 0 };
	assert_int_equal(io_tx_burst(c, f, 10), 2);
	assert_int_equal(c->stats.tx_ring_full, 8);
	assert_int_equal(c->stats.tx_frames, 2);
	assert_int_equal(rx_collect(d, ETHERTYPE_TEST, mac_a, 10, 300), 2);
	io_close(c);
	io_close(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(io_packet_open__reports_mac_and_mtu_of_the_interface),
		cmocka_unit_test(io_packet_open__brings_the_interface_up_gro_off_only_without_vnet_hdr),
		cmocka_unit_test(io_packet_open__socket_is_v2_ignoring_outgoing_bypassing_qdisc),
		cmocka_unit_test(io_packet_open__unknown_device_is_named_in_the_error),
		cmocka_unit_test(io_packet_open__rejects_a_frame_size_that_is_not_a_power_of_two),
		cmocka_unit_test(io_packet_tx_burst__frame_arrives_byte_identical),
		cmocka_unit_test(io_packet_tx_burst__burst_of_100_arrives_complete_and_in_order),
		cmocka_unit_test(io_packet_rx_burst__outgoing_frames_are_not_received),
		cmocka_unit_test(io_packet_rx_burst__kernel_partial_checksum_is_flagged),
		cmocka_unit_test(io_packet_rx_burst__vlan_tag_is_put_back),
		cmocka_unit_test(io_packet_rx_burst__frame_larger_than_a_slot_arrives_whole),
		cmocka_unit_test(io_packet_rx_burst__udp_gso_super_frame_and_its_segments),
		cmocka_unit_test(io_packet_tx_burst__tcp_super_frame_cut_as_the_kernel_cuts_it),
		cmocka_unit_test(io_packet_rx_burst__ring_overrun_is_counted_from_kernel_stats),
		cmocka_unit_test(io_packet_tx_burst__frames_the_kernel_refuses_are_errors),
		cmocka_unit_test(io_packet_tx_burst__full_ring_drops_the_rest_of_the_burst),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

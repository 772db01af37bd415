/* SPDX-License-Identifier: ISC */
/*
 * Tests of src/config.c: the config file parser, the flags over it and the
 * checks on the result.
 *
 * Every error case asserts the whole message, file name and line included,
 * so a message that loses its place or its key fails here. Config files are
 * written with mkstemp under /tmp and removed by each test; --help and
 * --version output is captured through a temporary file in place of stdout.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/config.h"
#include "src/version.h"

#define ERRLEN	2048

/* A config file with the given bytes (len: NUL bytes allowed); path out. */
static void
tmp_write(char path[64], const char *text, size_t len)
{
	int fd;

	snprintf(path, 64, "/tmp/config_test.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

static void
tmp_file(char path[64], const char *text)
{
	tmp_write(path, text, strlen(text));
}

/* Load text as a file over the defaults; returns what config_load_file did. */
static int
load_text(struct router_config *c, const char *text, char path[64], char *err)
{
	int rc;

	tmp_file(path, text);
	config_defaults(c);
	err[0] = '\0';
	rc = config_load_file(c, path, err, ERRLEN);
	unlink(path);
	return rc;
}

/* Run config_parse_args over the defaults with a NULL-terminated argv. */
static int
run_args(struct router_config *c, char **argv, char *err)
{
	int argc = 0;

	while (argv[argc] != NULL)
		argc++;
	config_defaults(c);
	err[0] = '\0';
	return config_parse_args(c, argc, argv, err, ERRLEN);
}

#define ARGS(...)	((char *[]){ "gitnet-router", __VA_ARGS__, NULL })
#define IN_OUT		"--inside", "veth-in=192.168.1.1/24", \
			"--outside", "veth-out=203.0.113.1/24"

static uint32_t
ip(const char *s)
{
	uint32_t a = 0;

	assert_int_equal(ipv4_pton(s, &a), 0);
	return a;
}

static const char full_conf[] =
    "# a full configuration\n"
    "inside veth-in=192.168.1.1/24\n"
    "outside veth-out=203.0.113.1/24\n"
    "gateway 203.0.113.254\n"
    "route 10.20.0.0/16=192.168.1.254\n"
    "route 198.51.100.0/24=203.0.113.253\n"
    "arp 192.168.1.10=02:00:00:00:00:0a\n"
    "arp 203.0.113.254=02:AA:bb:cc:dd:ee\n"
    "state /srv/gitnet/state.git\n"
    "control /run/gn.sock\n"
    "arp.base_reachable_ms 15000\n"
    "arp.delay_first_probe_ms 0\n"
    "arp.retrans_ms 250\n"
    "arp.ucast_probes 5\n"
    "arp.mcast_probes 65535\n"
    "arp.gc_stale_ms 86400000\n"
    "arp.max_entries 100000\n"
    "arp.unres_qlen 16\n"
    "arp.unres_total 1024\n"
    "icmp.rate 4294967295\n"
    "icmp.burst 7\n";

static void
config_defaults__documented_values(void **state)
{
	struct router_config c;

	(void)state;
	memset(&c, 0xa5, sizeof(c));
	config_defaults(&c);
	assert_string_equal(c.state_dir, "/var/lib/gitnet/state.git");
	assert_string_equal(c.control, "/run/gitnet-router.sock");
	assert_string_equal(c.config_file, "");
	assert_int_equal(c.icmp_rate, 1000);
	assert_int_equal(c.icmp_burst, 50);
	assert_int_equal(c.history_inbound.rate, 2);
	assert_int_equal(c.history_inbound.burst, 10);
	assert_int_equal(c.history_inbound.total_rate, 20);
	assert_int_equal(c.history_inbound.total_burst, 200);
	assert_false(c.inside.set);
	assert_false(c.outside.set);
	assert_int_equal(c.gateway, 0);
	assert_int_equal(c.nroutes, 0);
	assert_int_equal(c.nstatic_arp, 0);
	assert_false(c.stats_on_exit);
	assert_int_equal(c.verbose, 0);
	assert_int_equal(c.arp.base_reachable_ms, 30000);
	assert_int_equal(c.arp.delay_first_probe_ms, 5000);
	assert_int_equal(c.arp.retrans_ms, 1000);
	assert_int_equal(c.arp.gc_stale_ms, 60000);
	assert_int_equal(c.arp.max_entries, 1024);
	assert_int_equal(c.arp.ucast_probes, 3);
	assert_int_equal(c.arp.mcast_probes, 3);
	assert_int_equal(c.arp.unres_qlen, 8);
	assert_int_equal(c.arp.unres_total, 256);
	assert_int_equal(c.arp.frame_max, 2048);
	assert_true(c.nat);
	assert_int_equal(c.n_nat_pool, 0);
	assert_int_equal(c.nforwards, 0);
	assert_int_equal(c.nat_params.udp_timeout_s, 300);
	assert_int_equal(c.nat_params.tcp_est_timeout_s, 7440);
	assert_int_equal(c.nat_params.tcp_trans_timeout_s, 240);
	assert_int_equal(c.nat_params.icmp_timeout_s, 60);
	assert_int_equal(c.nat_params.filtering, NAT_FILTER_ADDRESS_PORT);
	assert_int_equal(c.nat_params.max_sessions, 1048576);
	assert_int_equal(c.nat_params.max_per_host, 16384);
	assert_int_equal(c.nat_params.port_min, 1024);
	assert_int_equal(c.nat_params.port_max, 65535);
	assert_int_equal(c.nat_params.frag_max, 1024);		/* no key */
}

static void
config_load_file__full_file_exact_values(void **state)
{
	static const uint8_t mac0[6] = { 0x02, 0, 0, 0, 0, 0x0a };
	static const uint8_t mac1[6] = { 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee };
	struct router_config c;
	char path[64], err[ERRLEN];

	(void)state;
	assert_int_equal(load_text(&c, full_conf, path, err), 0);
	assert_string_equal(err, "");
	assert_true(c.inside.set);
	assert_string_equal(c.inside.dev, "veth-in");
	assert_int_equal(c.inside.addr, 0xc0a80101);
	assert_int_equal(c.inside.plen, 24);
	assert_true(c.outside.set);
	assert_string_equal(c.outside.dev, "veth-out");
	assert_int_equal(c.outside.addr, 0xcb007101);
	assert_int_equal(c.outside.plen, 24);
	assert_int_equal(c.gateway, 0xcb0071fe);
	assert_int_equal(c.nroutes, 2);
	assert_int_equal(c.routes[0].prefix, 0x0a140000);
	assert_int_equal(c.routes[0].plen, 16);
	assert_int_equal(c.routes[0].gw, 0xc0a801fe);
	assert_int_equal(c.routes[1].prefix, 0xc6336400);
	assert_int_equal(c.routes[1].plen, 24);
	assert_int_equal(c.routes[1].gw, 0xcb0071fd);
	assert_int_equal(c.nstatic_arp, 2);
	assert_int_equal(c.static_arp[0].ip, 0xc0a8010a);
	assert_memory_equal(c.static_arp[0].mac, mac0, 6);
	assert_int_equal(c.static_arp[1].ip, 0xcb0071fe);
	assert_memory_equal(c.static_arp[1].mac, mac1, 6);
	assert_string_equal(c.state_dir, "/srv/gitnet/state.git");
	assert_string_equal(c.control, "/run/gn.sock");
	assert_string_equal(c.config_file, path);
	assert_int_equal(c.arp.base_reachable_ms, 15000);
	assert_int_equal(c.arp.delay_first_probe_ms, 0);
	assert_int_equal(c.arp.retrans_ms, 250);
	assert_int_equal(c.arp.ucast_probes, 5);
	assert_int_equal(c.arp.mcast_probes, 65535);
	assert_int_equal(c.arp.gc_stale_ms, 86400000);
	assert_int_equal(c.arp.max_entries, 100000);
	assert_int_equal(c.arp.unres_qlen, 16);
	assert_int_equal(c.arp.unres_total, 1024);
	assert_int_equal(c.arp.frame_max, 2048);	/* no key: default kept */
	assert_int_equal(c.icmp_rate, 4294967295u);
	assert_int_equal(c.icmp_burst, 7);
	assert_false(c.stats_on_exit);
	assert_int_equal(c.verbose, 0);
}

static const char nat_conf[] =
    "inside veth-in=192.168.1.1/24\n"
    "outside veth-out=203.0.113.1/24\n"
    "nat on\n"
    "nat.pool 203.0.113.2\n"
    "nat.pool 198.51.100.7\n"
    "nat.filtering endpoint\n"
    "nat.udp_timeout_s 30\n"
    "nat.tcp_established_timeout_s 604800\n"
    "nat.tcp_transitory_timeout_s 1\n"
    "nat.icmp_timeout_s 9\n"
    "nat.max_sessions 67108864\n"
    "nat.max_per_host 0\n"
    "nat.port_min 40000\n"
    "nat.port_max 40001\n"
    "forward tcp:8080=192.168.1.10:80\n"
    "forward UDP:53=192.168.1.254:5353\n"
    "forward udp:65535=192.168.1.10:1\n";

/* Every NAT key, through the whole check (config_parse_args). */
static void
config_parse_args__nat_file_exact_values(void **state)
{
	struct router_config c;
	char path[64], err[ERRLEN];

	(void)state;
	tmp_file(path, nat_conf);
	assert_int_equal(run_args(&c, ARGS("--config", path), err), 0);
	unlink(path);
	assert_string_equal(err, "");
	assert_true(c.nat);
	assert_int_equal(c.n_nat_pool, 2);
	assert_int_equal(c.nat_pool[0], 0xcb007102);
	assert_int_equal(c.nat_pool[1], 0xc6336407);
	assert_int_equal(c.nat_params.filtering, NAT_FILTER_ENDPOINT);
	assert_int_equal(c.nat_params.udp_timeout_s, 30);
	assert_int_equal(c.nat_params.tcp_est_timeout_s, 604800);
	assert_int_equal(c.nat_params.tcp_trans_timeout_s, 1);
	assert_int_equal(c.nat_params.icmp_timeout_s, 9);
	assert_int_equal(c.nat_params.max_sessions, 67108864);
	assert_int_equal(c.nat_params.max_per_host, 0);
	assert_int_equal(c.nat_params.port_min, 40000);
	assert_int_equal(c.nat_params.port_max, 40001);
	assert_int_equal(c.nat_params.frag_max, 1024);		/* no key: default */
	assert_int_equal(c.nat_params.frag_timeout_s, 5);
	assert_int_equal(c.nat_params.sweep_per_tick, 4096);
	assert_int_equal(c.nforwards, 3);
	assert_int_equal(c.forwards[0].proto, 6);
	assert_int_equal(c.forwards[0].ext_port, 8080);
	assert_int_equal(c.forwards[0].int_ip, 0xc0a8010a);
	assert_int_equal(c.forwards[0].int_port, 80);
	assert_int_equal(c.forwards[1].proto, 17);
	assert_int_equal(c.forwards[1].ext_port, 53);
	assert_int_equal(c.forwards[1].int_ip, 0xc0a801fe);
	assert_int_equal(c.forwards[1].int_port, 5353);
	assert_int_equal(c.forwards[2].proto, 17);
	assert_int_equal(c.forwards[2].ext_port, 65535);
	assert_int_equal(c.forwards[2].int_ip, 0xc0a8010a);
	assert_int_equal(c.forwards[2].int_port, 1);
}

/* The other two filtering modes and `nat off` (a file without pool and
 * forwards may turn NAT off). */
static void
config_load_file__nat_off_and_filter_modes(void **state)
{
	struct router_config c;
	char path[64], err[ERRLEN];

	(void)state;
	assert_int_equal(load_text(&c, "nat.filtering address\n", path, err), 0);
	assert_int_equal(c.nat_params.filtering, NAT_FILTER_ADDRESS);
	assert_true(c.nat);
	assert_int_equal(load_text(&c, "nat.filtering address-port\nnat off\n",
	    path, err), 0);
	assert_int_equal(c.nat_params.filtering, NAT_FILTER_ADDRESS_PORT);
	assert_false(c.nat);
}

static void
config_load_file__comments_and_whitespace(void **state)
{
	struct router_config c;
	char path[64], err[ERRLEN];

	(void)state;
	assert_int_equal(load_text(&c,
	    "\n"
	    "   \t\n"
	    "# whole-line comment\n"
	    "   # indented comment with inside eth9=1.1.1.1/8\n"
	    "\tinside \t veth-in=192.168.1.1/24   # trailing comment\n"
	    "outside veth-out=203.0.113.1/24\t#tab then comment\r\n"
	    "  gateway    203.0.113.254  \n"
	    "icmp.burst 9", path, err), 0);
	assert_string_equal(c.inside.dev, "veth-in");
	assert_int_equal(c.inside.addr, 0xc0a80101);
	assert_string_equal(c.outside.dev, "veth-out");
	assert_int_equal(c.gateway, 0xcb0071fe);
	assert_int_equal(c.icmp_burst, 9);		/* last line, no newline */
	assert_int_equal(c.nroutes, 0);
}

/* A '#' glued to a value is part of it, not a comment. */
static void
config_load_file__hash_inside_token_is_not_comment(void **state)
{
	struct router_config c;
	char path[64], err[ERRLEN], want[ERRLEN];

	(void)state;
	assert_int_equal(load_text(&c, "gateway 203.0.113.254#x\n", path, err), -1);
	snprintf(want, sizeof(want),
	    "%s:1: gateway: '203.0.113.254#x' is not an IPv4 address", path);
	assert_string_equal(err, want);
}

struct bad_case {
	const char	*text;
	const char	*msg;	/* after "PATH:" */
};

static const struct bad_case bad_cases[] = {
	{ "foo bar\n", "1: unknown key 'foo'" },
	{ "Inside veth-in=192.168.1.1/24\n", "1: unknown key 'Inside'" },
	{ "\n# c\ninside\n", "3: inside: missing value" },
	{ "inside   # comment only\n", "1: inside: missing value" },
	{ "gateway 1.2.3.4 5.6.7.8\n",
	    "1: gateway: unexpected '5.6.7.8' after the value '1.2.3.4'" },
	{ "inside eth0\n", "1: inside: 'eth0' lacks =ADDR/PLEN" },
	{ "outside eth0=10.0.0.1\n", "1: outside: '10.0.0.1' lacks /PLEN" },
	{ "inside eth0=10.0.0.256/8\n",
	    "1: inside: address '10.0.0.256' is not an IPv4 address" },
	{ "inside eth0=10.0.0.1/33\n",
	    "1: inside: prefix length '33' is out of range 1..32" },
	{ "inside eth0=10.0.0.1/0\n",
	    "1: inside: prefix length '0' is out of range 1..32" },
	{ "inside eth0=10.0.0.1/x\n", "1: inside: prefix length 'x' is not a number" },
	{ "inside =10.0.0.1/8\n",
	    "1: inside: '=10.0.0.1/8' has no device name before '='" },
	{ "inside abcdefghijklmnop=10.0.0.1/8\n",
	    "1: inside: device name 'abcdefghijklmnop' is longer than 15 characters" },
	{ "inside a/b=10.0.0.1/8\n", "1: inside: device name 'a/b' is not valid" },
	{ "inside eth0=192.168.1.0/24\n",
	    "1: inside: address 192.168.1.0 is the network address of 192.168.1.0/24" },
	{ "outside eth0=192.168.1.255/24\n",
	    "1: outside: address 192.168.1.255 is the broadcast address of 192.168.1.0/24" },
	{ "inside eth0=224.0.0.1/24\n",
	    "1: inside: address 224.0.0.1 is not a unicast address" },
	{ "gateway 10.0.0.300\n", "1: gateway: '10.0.0.300' is not an IPv4 address" },
	{ "gateway 255.255.255.255\n",
	    "1: gateway: 255.255.255.255 is not a unicast address" },
	{ "route 10.0.0.0/8=10.0.0.300\n",
	    "1: route: gateway '10.0.0.300' is not an IPv4 address" },
	{ "route 10.0.0.0/8\n", "1: route: '10.0.0.0/8' lacks =GATEWAY" },
	{ "route 10.1.0.0/8=192.168.1.2\n",
	    "1: route: prefix 10.1.0.0/8 has host bits set (did you mean 10.0.0.0/8?)" },
	{ "route 10.0.0.0/40=192.168.1.2\n",
	    "1: route: prefix length '40' is out of range 0..32" },
	{ "route 10.0.0.0/8=192.168.1.2\nroute 10.0.0.0/8=192.168.1.3\n",
	    "2: route: 10.0.0.0/8 is already routed via 192.168.1.2" },
	{ "arp 192.168.1.2\n", "1: arp: '192.168.1.2' lacks =MAC" },
	{ "arp 192.168.1.2=02:00:00:00:00\n",
	    "1: arp: MAC '02:00:00:00:00' is not a MAC address (aa:bb:cc:dd:ee:ff)" },
	{ "arp 192.168.1.2=01:00:5e:00:00:01\n",
	    "1: arp: MAC 01:00:5e:00:00:01 is not a unicast MAC" },
	{ "arp 192.168.1.2=00:00:00:00:00:00\n",
	    "1: arp: MAC 00:00:00:00:00:00 is not a unicast MAC" },
	{ "arp 192.168.1.2=02:00:00:00:00:01\narp 192.168.1.2=02:00:00:00:00:02\n",
	    "2: arp: 192.168.1.2 already has a static entry" },
	{ "state /a\n\nstate /b\n", "3: state: already set on line 1" },
	{ "control /run/"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.sock\n",	/* 113 bytes */
	    "1: control: path '/run/"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.sock' is longer than 107 bytes" },
	{ "arp.retrans_ms 0\n", "1: arp.retrans_ms: '0' is out of range 1..86400000" },
	{ "arp.max_entries 0\n", "1: arp.max_entries: '0' is out of range 1..16777216" },
	{ "arp.base_reachable_ms 86400001\n",
	    "1: arp.base_reachable_ms: '86400001' is out of range 1..86400000" },
	{ "arp.ucast_probes 65536\n",
	    "1: arp.ucast_probes: '65536' is out of range 1..65535" },
	{ "arp.unres_total 99999999999999999999999\n",
	    "1: arp.unres_total: '99999999999999999999999' is out of range 1..65535" },
	{ "arp.unres_qlen 8k\n", "1: arp.unres_qlen: '8k' is not a decimal number" },
	{ "arp.mcast_probes -1\n", "1: arp.mcast_probes: '-1' is not a decimal number" },
	{ "icmp.rate 4294967296\n", "1: icmp.rate: '4294967296' is out of range 1..4294967295" },
	{ "icmp.burst 0x10\n", "1: icmp.burst: '0x10' is not a decimal number" },
	{ "nat yes\n", "1: nat: 'yes' is not on or off" },
	{ "nat on\nnat off\n", "2: nat: already set on line 1" },
	{ "nat.pool 203.0.113.300\n",
	    "1: nat.pool: '203.0.113.300' is not an IPv4 address" },
	{ "nat.pool 127.0.0.1\n", "1: nat.pool: 127.0.0.1 is not a unicast address" },
	{ "nat.pool 0.1.2.3\n", "1: nat.pool: 0.1.2.3 is not a unicast address" },
	{ "nat.pool 224.0.0.5\n", "1: nat.pool: 224.0.0.5 is not a unicast address" },
	{ "nat.pool 250.0.0.5\n", "1: nat.pool: 250.0.0.5 is not a unicast address" },
	{ "nat.pool 203.0.113.2\nnat.pool 203.0.113.2\n",
	    "2: nat.pool: 203.0.113.2 is already in the pool" },
	{ "nat.pool 10.0.0.1\nnat.pool 10.0.0.2\nnat.pool 10.0.0.3\n"
	    "nat.pool 10.0.0.4\nnat.pool 10.0.0.5\nnat.pool 10.0.0.6\n"
	    "nat.pool 10.0.0.7\nnat.pool 10.0.0.8\nnat.pool 10.0.0.9\n"
	    "nat.pool 10.0.0.10\nnat.pool 10.0.0.11\nnat.pool 10.0.0.12\n"
	    "nat.pool 10.0.0.13\nnat.pool 10.0.0.14\nnat.pool 10.0.0.15\n"
	    "nat.pool 10.0.0.16\n",
	    "16: nat.pool: more than 15 pool addresses" },
	{ "nat.filtering full-cone\n",
	    "1: nat.filtering: 'full-cone' is not address-port, address or endpoint" },
	{ "nat.filtering Address\n",
	    "1: nat.filtering: 'Address' is not address-port, address or endpoint" },
	{ "nat.udp_timeout_s 0\n", "1: nat.udp_timeout_s: '0' is out of range 1..604800" },
	{ "nat.tcp_established_timeout_s 604801\n",
	    "1: nat.tcp_established_timeout_s: '604801' is out of range 1..604800" },
	{ "nat.tcp_transitory_timeout_s 0\n",
	    "1: nat.tcp_transitory_timeout_s: '0' is out of range 1..604800" },
	{ "nat.icmp_timeout_s 1m\n", "1: nat.icmp_timeout_s: '1m' is not a decimal number" },
	{ "nat.max_sessions 0\n", "1: nat.max_sessions: '0' is out of range 1..67108864" },
	{ "nat.max_sessions 67108865\n",
	    "1: nat.max_sessions: '67108865' is out of range 1..67108864" },
	{ "nat.max_per_host 67108865\n",
	    "1: nat.max_per_host: '67108865' is out of range 0..67108864" },
	{ "nat.port_min 1023\n", "1: nat.port_min: '1023' is out of range 1024..65535" },
	{ "nat.port_max 65536\n", "1: nat.port_max: '65536' is out of range 1024..65535" },
	{ "nat.port_min 2000\nnat.port_min 3000\n",
	    "2: nat.port_min: already set on line 1" },
	{ "forward tcp:80\n", "1: forward: 'tcp:80' lacks =IP:PORT" },
	{ "forward 80=192.168.1.10:80\n",
	    "1: forward: '80=192.168.1.10:80' lacks PROTO: before the port" },
	{ "forward sctp:80=192.168.1.10:80\n",
	    "1: forward: protocol 'sctp' is not tcp or udp" },
	{ "forward icmp:80=192.168.1.10:80\n",
	    "1: forward: protocol 'icmp' is not tcp or udp" },
	{ "forward :80=192.168.1.10:80\n", "1: forward: protocol '' is not tcp or udp" },
	{ "forward tcp:=192.168.1.10:80\n",
	    "1: forward: external port '' is not a number" },
	{ "forward tcp:http=192.168.1.10:80\n",
	    "1: forward: external port 'http' is not a number" },
	{ "forward tcp:0=192.168.1.10:80\n",
	    "1: forward: external port '0' is out of range 1..65535" },
	{ "forward tcp:65536=192.168.1.10:80\n",
	    "1: forward: external port '65536' is out of range 1..65535" },
	{ "forward tcp:80=192.168.1.10\n",
	    "1: forward: 'tcp:80=192.168.1.10' lacks :PORT after the address" },
	{ "forward tcp:80=192.168.1.300:80\n",
	    "1: forward: address '192.168.1.300' is not an IPv4 address" },
	{ "forward tcp:80=:80\n", "1: forward: address '' is not an IPv4 address" },
	{ "forward tcp:80=192.168.1.10:80:81\n",
	    "1: forward: address '192.168.1.10:80' is not an IPv4 address" },
	{ "forward tcp:80=239.1.1.1:80\n",
	    "1: forward: address 239.1.1.1 is not a unicast address" },
	{ "forward tcp:80=192.168.1.10:\n",
	    "1: forward: internal port '' is not a number" },
	{ "forward tcp:80=192.168.1.10:-1\n",
	    "1: forward: internal port '-1' is not a number" },
	{ "forward tcp:80=192.168.1.10:0\n",
	    "1: forward: internal port '0' is out of range 1..65535" },
	{ "forward tcp:80=192.168.1.10:70000\n",
	    "1: forward: internal port '70000' is out of range 1..65535" },
	{ "forward tcp:80=192.168.1.10:80\nforward udp:80=192.168.1.11:80\n"
	    "forward tcp:80=192.168.1.12:8080\n",
	    "3: forward: tcp port 80 is already forwarded to 192.168.1.10:80" },
	{ "forward udp:53=192.168.1.10:53\nforward udp:5353=192.168.1.10:53\n",
	    "2: forward: udp 192.168.1.10:53 is already forwarded from port 53" },
	{ "forward tcp:80=192.168.1.10:80 extra\n",
	    "1: forward: unexpected 'extra' after the value 'tcp:80=192.168.1.10:80'" },
};

static void
config_load_file__each_error_names_file_line_key_value(void **state)
{
	struct router_config c;
	char path[64], err[ERRLEN], want[ERRLEN];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		int rc = load_text(&c, bad_cases[i].text, path, err);

		snprintf(want, sizeof(want), "%s:%s", path, bad_cases[i].msg);
		if (rc != -1 || strcmp(err, want) != 0)
			fail_msg("case %zu: rc %d\n got: %s\nwant: %s", i, rc, err, want);
	}
}

/* 1023 bytes is the longest line; 1024 is an error, not two lines. */
static void
config_load_file__long_line_is_an_error(void **state)
{
	struct router_config c;
	char path[64], err[ERRLEN], want[ERRLEN];
	char text[2200];
	size_t n;

	(void)state;
	/* "icmp.burst 9" padded with blanks to exactly 1023 bytes: accepted. */
	n = (size_t)snprintf(text, sizeof(text), "# one\nicmp.burst 9");
	memset(text + n, ' ', 1023 - 12);
	n += 1023 - 12;
	memcpy(text + n, "\n", 2);
	assert_int_equal(load_text(&c, text, path, err), 0);
	assert_int_equal(c.icmp_burst, 9);

	/* One byte more, and the tail a valid setting of its own. */
	n = (size_t)snprintf(text, sizeof(text), "# one\nicmp.burst 9");
	memset(text + n, ' ', 1024 - 12 - 11);
	n += 1024 - 12 - 11;
	memcpy(text + n, "icmp.rate 5\n", 13);
	assert_int_equal(load_text(&c, text, path, err), -1);
	snprintf(want, sizeof(want), "%s:2: line is longer than 1023 bytes", path);
	assert_string_equal(err, want);
	assert_int_equal(c.icmp_rate, 1000);
}

static void
config_load_file__nul_byte_is_an_error(void **state)
{
	struct router_config c;
	char path[64], err[ERRLEN], want[ERRLEN];

	(void)state;
	tmp_write(path, "icmp.rate 5\nicmp.burst 9\0 1\n", 27);
	config_defaults(&c);
	assert_int_equal(config_load_file(&c, path, err, sizeof(err)), -1);
	unlink(path);
	snprintf(want, sizeof(want), "%s:2: line contains a NUL byte", path);
	assert_string_equal(err, want);
}

static void
config_load_file__unreadable_names_file(void **state)
{
	struct router_config c;
	char err[ERRLEN];

	(void)state;
	config_defaults(&c);
	assert_int_equal(config_load_file(&c, "/tmp/config_test.does-not-exist",
	    err, sizeof(err)), -1);
	assert_string_equal(err, "/tmp/config_test.does-not-exist: No such file or directory");
	assert_int_equal(config_load_file(&c, "/tmp", err, sizeof(err)), -1);
	assert_string_equal(err, "/tmp: Is a directory");
	assert_string_equal(c.config_file, "");
}

/* /31 and /32 have no network or broadcast address (RFC 3021). */
static void
config_load_file__point_to_point_prefixes(void **state)
{
	struct router_config c;
	char path[64], err[ERRLEN];

	(void)state;
	assert_int_equal(load_text(&c,
	    "inside a=10.0.0.0/31\noutside b=10.0.0.3/31\n", path, err), 0);
	assert_int_equal(c.inside.addr, 0x0a000000);
	assert_int_equal(c.inside.plen, 31);
	assert_int_equal(c.outside.addr, 0x0a000003);
	assert_int_equal(c.outside.plen, 31);
	assert_int_equal(load_text(&c, "inside a=10.0.0.255/32\n", path, err), 0);
	assert_int_equal(c.inside.addr, 0x0a0000ff);
	assert_int_equal(c.inside.plen, 32);
}

static void
config_parse_args__flags_only(void **state)
{
	struct router_config c;
	char err[ERRLEN];

	(void)state;
	assert_int_equal(run_args(&c, ARGS(IN_OUT, "--gateway", "203.0.113.254",
	    "--route", "10.0.0.0/8=192.168.1.254", "--route=172.16.0.0/12=192.168.1.253",
	    "--arp", "192.168.1.7=02:00:00:00:00:07", "--state", "/tmp/st.git",
	    "--control", "/tmp/c.sock", "--stats", "-vv", "--verbose"), err), 0);
	assert_string_equal(err, "");
	assert_string_equal(c.inside.dev, "veth-in");
	assert_string_equal(c.outside.dev, "veth-out");
	assert_int_equal(c.outside.addr, 0xcb007101);
	assert_int_equal(c.gateway, 0xcb0071fe);
	assert_int_equal(c.nroutes, 2);
	assert_int_equal(c.routes[0].prefix, 0x0a000000);
	assert_int_equal(c.routes[0].plen, 8);
	assert_int_equal(c.routes[0].gw, 0xc0a801fe);
	assert_int_equal(c.routes[1].prefix, 0xac100000);
	assert_int_equal(c.routes[1].plen, 12);
	assert_int_equal(c.nstatic_arp, 1);
	assert_int_equal(c.static_arp[0].ip, 0xc0a80107);
	assert_string_equal(c.state_dir, "/tmp/st.git");
	assert_string_equal(c.control, "/tmp/c.sock");
	assert_string_equal(c.config_file, "");
	assert_true(c.stats_on_exit);
	assert_int_equal(c.verbose, 3);
	assert_int_equal(c.arp.retrans_ms, 1000);
}

/* Scalars replace; any --route replaces all of the file's routes, and the
 * file's static ARP entries stay when no --arp is given; --config is loaded
 * first although it comes last. */
static void
config_parse_args__flags_override_file(void **state)
{
	struct router_config c;
	char path[64], err[ERRLEN];

	(void)state;
	tmp_file(path, full_conf);
	assert_int_equal(run_args(&c, ARGS("--gateway", "192.168.1.200",
	    "--route", "10.99.0.0/16=203.0.113.2", "--state", "/tmp/x.git",
	    "--outside", "wan0=203.0.113.5/24", "--config", path), err), 0);
	assert_string_equal(err, "");
	assert_string_equal(c.config_file, path);
	assert_string_equal(c.inside.dev, "veth-in");		/* from the file */
	assert_string_equal(c.outside.dev, "wan0");		/* flag */
	assert_int_equal(c.outside.addr, 0xcb007105);
	assert_int_equal(c.gateway, 0xc0a801c8);
	assert_int_equal(c.nroutes, 1);
	assert_int_equal(c.routes[0].prefix, 0x0a630000);
	assert_int_equal(c.routes[0].plen, 16);
	assert_int_equal(c.routes[0].gw, 0xcb007102);
	assert_int_equal(c.nstatic_arp, 2);
	assert_int_equal(c.static_arp[1].ip, 0xcb0071fe);
	assert_string_equal(c.state_dir, "/tmp/x.git");
	assert_string_equal(c.control, "/run/gn.sock");		/* from the file */
	assert_int_equal(c.arp.retrans_ms, 250);		/* from the file */

	/* --arp replaces the file's entries, routes stay. */
	assert_int_equal(run_args(&c, ARGS("--config", path,
	    "--arp", "192.168.1.10=02:00:00:00:00:99"), err), 0);
	unlink(path);
	assert_int_equal(c.nroutes, 2);
	assert_int_equal(c.nstatic_arp, 1);
	assert_int_equal(c.static_arp[0].ip, 0xc0a8010a);
	assert_int_equal(c.static_arp[0].mac[5], 0x99);
}

static void
config_parse_args__file_error_passes_through(void **state)
{
	struct router_config c;
	char path[64], err[ERRLEN], want[ERRLEN];

	(void)state;
	tmp_file(path, "inside veth-in=192.168.1.1/24\n\narp.retrans_ms 0\n");
	assert_int_equal(run_args(&c, ARGS(IN_OUT, "--config", path), err), -1);
	unlink(path);
	snprintf(want, sizeof(want),
	    "%s:3: arp.retrans_ms: '0' is out of range 1..86400000", path);
	assert_string_equal(err, want);
}

/* Capture what fn printed to stdout into buf. */
static int
run_captured(struct router_config *c, char **argv, char *err, char *buf, size_t len)
{
	char path[64];
	int saved, fd, rc;
	ssize_t n;

	tmp_file(path, "");
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	fd = open(path, O_RDWR);
	assert_true(saved >= 0 && fd >= 0);
	dup2(fd, STDOUT_FILENO);
	rc = run_args(c, argv, err);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	n = pread(fd, buf, len - 1, 0);
	assert_true(n >= 0);
	buf[n] = '\0';
	close(fd);
	unlink(path);
	return rc;
}

static void
config_parse_args__help_and_version_return_1(void **state)
{
	static const char *flags[] = {
		"--inside DEV=ADDR/PLEN", "--outside DEV=ADDR/PLEN", "--gateway IP",
		"--route PREFIX/PLEN=IP", "--arp IP=MAC", "--config FILE",
		"--state DIR", "--control PATH", "--stats", "-v, --verbose",
		"-h, --help", "--version", "examples/router.conf", "README",
		"--history-inbound-rate N", "--history-inbound-burst N",
		"--history-inbound-total-rate N", "--history-inbound-total-burst N",
		"--no-nat", "--nat-pool IP", "--nat-filtering MODE",
		"--forward PROTO:PORT=IP:PORT", "--nat-max-sessions N", "--memory SIZE",
		"--nat-max-per-host N", "--udp-timeout S", "--tcp-timeout S",
		"--tcp-transitory-timeout S", "--icmp-timeout S",
		"nat.tcp_established_timeout_s", "nat.port_min",
		"committed to a git", "'none'",
	};
	struct router_config c;
	char err[ERRLEN], out[8192], want[64];
	size_t i;

	(void)state;
	/* --help wins even with nothing else valid on the line after it. */
	assert_int_equal(run_captured(&c, ARGS("--help", "--bogus"), err, out,
	    sizeof(out)), 1);
	assert_string_equal(out, config_usage);
	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (strstr(config_usage, flags[i]) == NULL)
			fail_msg("--help lacks '%s'", flags[i]);
	if (strstr(config_usage, "NAT and the git-versioned state arrive") != NULL)
		fail_msg("--help still says NAT is to come");
	assert_int_equal(run_captured(&c, ARGS("-h"), err, out, sizeof(out)), 1);
	assert_string_equal(out, config_usage);
	assert_int_equal(run_captured(&c, ARGS(IN_OUT, "--version"), err, out,
	    sizeof(out)), 1);
	snprintf(want, sizeof(want), "gitnet-router %s\n", gitnet_version);
	assert_string_equal(out, want);
	assert_non_null(strchr(gitnet_version, '.'));
}

struct args_case {
	char		*argv[16];
	const char	*msg;
};

static struct args_case args_cases[] = {
	{ { "gitnet-router", "--outside", "veth-out=203.0.113.1/24", NULL },
	    "--inside is required (or 'inside' in the config file)" },
	{ { "gitnet-router", "--inside", "veth-in=192.168.1.1/24", NULL },
	    "--outside is required (or 'outside' in the config file)" },
	{ { "gitnet-router", "--inside", "eth0", NULL },
	    "--inside: 'eth0' lacks =ADDR/PLEN" },
	{ { "gitnet-router", IN_OUT, "--inside", NULL },
	    "--inside: missing value DEV=ADDR/PLEN" },
	{ { "gitnet-router", "--foo", IN_OUT, NULL }, "unknown option '--foo' (see --help)" },
	{ { "gitnet-router", IN_OUT, "--foo=bar", NULL },
	    "unknown option '--foo' (see --help)" },
	{ { "gitnet-router", "-x", NULL }, "unknown option '-x' (see --help)" },
	{ { "gitnet-router", "--stats", "-xv", NULL }, "unknown option '-x' (see --help)" },
	{ { "gitnet-router", "--help=1", NULL }, "--help: takes no value (got '--help=1')" },
	{ { "gitnet-router", "--st", "x", NULL }, "ambiguous option '--st' (see --help)" },
	{ { "gitnet-router", "--stats=1", NULL }, "--stats: takes no value (got '--stats=1')" },
	{ { "gitnet-router", IN_OUT, "extra", NULL },
	    "unexpected argument 'extra' (see --help)" },
	{ { "gitnet-router", IN_OUT, "--", "extra", NULL },
	    "unexpected argument 'extra' (see --help)" },
	{ { "gitnet-router", "--config", "/a", "--config", "/b", NULL },
	    "--config: given twice ('/a' and '/b')" },
	{ { "gitnet-router", IN_OUT, "--state", "", NULL }, "--state: path is empty" },
	{ { "gitnet-router", "--inside", "lan=10.1.2.3/8",
	    "--outside", "wan=10.200.0.1/16", NULL },
	    "inside 10.1.2.3/8 and outside 10.200.0.1/16 are overlapping subnets" },
	{ { "gitnet-router", "--inside", "eth0=10.1.2.3/8",
	    "--outside", "eth0=11.0.0.1/8", NULL },
	    "inside and outside are both device 'eth0'" },
	{ { "gitnet-router", IN_OUT, "--gateway", "198.51.100.1", NULL },
	    "gateway 198.51.100.1 is not on the inside (192.168.1.0/24) "
	    "or outside (203.0.113.0/24) subnet" },
	{ { "gitnet-router", IN_OUT, "--gateway", "203.0.113.1", NULL },
	    "gateway 203.0.113.1 is this router's own outside address" },
	{ { "gitnet-router", IN_OUT, "--gateway", "203.0.113.255", NULL },
	    "gateway 203.0.113.255 is the broadcast address of 203.0.113.0/24" },
	{ { "gitnet-router", IN_OUT, "--route", "10.0.0.0/8=10.0.0.1", NULL },
	    "route 10.0.0.0/8: gateway 10.0.0.1 is not on the inside (192.168.1.0/24) "
	    "or outside (203.0.113.0/24) subnet" },
	{ { "gitnet-router", IN_OUT, "--route", "192.168.1.0/24=203.0.113.9", NULL },
	    "route 192.168.1.0/24: is a connected subnet already" },
	{ { "gitnet-router", IN_OUT, "--gateway", "203.0.113.254",
	    "--route", "0.0.0.0/0=203.0.113.9", NULL },
	    "route 0.0.0.0/0 and gateway 203.0.113.254 are both default routes" },
	{ { "gitnet-router", IN_OUT, "--arp", "10.0.0.5=02:00:00:00:00:01", NULL },
	    "arp 10.0.0.5: address 10.0.0.5 is not on the inside (192.168.1.0/24) "
	    "or outside (203.0.113.0/24) subnet" },
	{ { "gitnet-router", IN_OUT, "--arp", "192.168.1.1=02:00:00:00:00:01", NULL },
	    "arp 192.168.1.1: address 192.168.1.1 is this router's own inside address" },
	/* NAT flags: their own names in the message. */
	{ { "gitnet-router", IN_OUT, "--forward", "tcp:80=1.2.3.4", NULL },
	    "--forward: 'tcp:80=1.2.3.4' lacks :PORT after the address" },
	{ { "gitnet-router", IN_OUT, "--forward", NULL },
	    "--forward: missing value PROTO:PORT=IP:PORT" },
	{ { "gitnet-router", IN_OUT, "--forward", "tcp:80=192.168.1.10:80",
	    "--forward", "tcp:80=192.168.1.11:80", NULL },
	    "--forward: tcp port 80 is already forwarded to 192.168.1.10:80" },
	{ { "gitnet-router", IN_OUT, "--nat-pool", "1.2.3", NULL },
	    "--nat-pool: '1.2.3' is not an IPv4 address" },
	{ { "gitnet-router", IN_OUT, "--nat-pool", NULL },
	    "--nat-pool: missing value IP" },
	{ { "gitnet-router", IN_OUT, "--nat-filtering", "cone", NULL },
	    "--nat-filtering: 'cone' is not address-port, address or endpoint" },
	{ { "gitnet-router", IN_OUT, "--nat-max-sessions", "0", NULL },
	    "--nat-max-sessions: '0' is out of range 1..67108864" },
	{ { "gitnet-router", IN_OUT, "--nat-max-per-host", "-1", NULL },
	    "--nat-max-per-host: '-1' is not a decimal number" },
	{ { "gitnet-router", IN_OUT, "--udp-timeout", "0", NULL },
	    "--udp-timeout: '0' is out of range 1..604800" },
	{ { "gitnet-router", IN_OUT, "--tcp-timeout", "604801", NULL },
	    "--tcp-timeout: '604801' is out of range 1..604800" },
	{ { "gitnet-router", IN_OUT, "--tcp-transitory-timeout", "x", NULL },
	    "--tcp-transitory-timeout: 'x' is not a decimal number" },
	{ { "gitnet-router", IN_OUT, "--icmp-timeout", NULL },
	    "--icmp-timeout: missing value S" },
	{ { "gitnet-router", IN_OUT, "--no-nat=1", NULL },
	    "--no-nat: takes no value (got '--no-nat=1')" },
	{ { "gitnet-router", "--tcp-t", "5", NULL },
	    "ambiguous option '--tcp-t' (see --help)" },
	{ { "gitnet-router", "--nat", "5", NULL },
	    "ambiguous option '--nat' (see --help)" },
	/* Whole-configuration NAT checks. */
	{ { "gitnet-router", IN_OUT, "--no-nat", "--forward", "tcp:80=192.168.1.10:80",
	    NULL }, "forward needs NAT (remove --no-nat or 'nat off')" },
	{ { "gitnet-router", IN_OUT, "--nat-pool", "203.0.113.2", "--no-nat", NULL },
	    "nat.pool needs NAT (remove --no-nat or 'nat off')" },
	{ { "gitnet-router", IN_OUT, "--nat-pool", "203.0.113.1", NULL },
	    "nat pool address 203.0.113.1 is this router's own outside address" },
	{ { "gitnet-router", IN_OUT, "--nat-pool", "192.168.1.1", NULL },
	    "nat pool address 192.168.1.1 is this router's own inside address" },
	{ { "gitnet-router", IN_OUT, "--nat-pool", "192.168.1.77", NULL },
	    "nat pool address 192.168.1.77 is on the inside subnet 192.168.1.0/24" },
	{ { "gitnet-router", IN_OUT, "--nat-pool", "203.0.113.255", NULL },
	    "nat pool address 203.0.113.255 is the broadcast address of 203.0.113.0/24" },
	{ { "gitnet-router", IN_OUT, "--nat-pool", "203.0.113.0", NULL },
	    "nat pool address 203.0.113.0 is the network address of 203.0.113.0/24" },
	{ { "gitnet-router", IN_OUT, "--gateway", "203.0.113.254",
	    "--nat-pool", "203.0.113.254", NULL },
	    "nat pool address 203.0.113.254 is the gateway" },
	{ { "gitnet-router", IN_OUT, "--route", "10.0.0.0/8=203.0.113.9",
	    "--nat-pool", "203.0.113.9", NULL },
	    "nat pool address 203.0.113.9 is the gateway of route 10.0.0.0/8" },
	{ { "gitnet-router", IN_OUT, "--forward", "tcp:80=10.0.0.5:80", NULL },
	    "forward tcp:80: address 10.0.0.5 is not on the inside subnet 192.168.1.0/24" },
	{ { "gitnet-router", IN_OUT, "--forward", "udp:53=203.0.113.7:53", NULL },
	    "forward udp:53: address 203.0.113.7 is not on the inside subnet 192.168.1.0/24" },
	{ { "gitnet-router", IN_OUT, "--forward", "tcp:22=192.168.1.1:22", NULL },
	    "forward tcp:22: address 192.168.1.1 is this router's own inside address" },
	{ { "gitnet-router", IN_OUT, "--forward", "tcp:22=192.168.1.255:22", NULL },
	    "forward tcp:22: address 192.168.1.255 is the broadcast address of "
	    "192.168.1.0/24" },
	{ { "gitnet-router", IN_OUT, "--forward", "tcp:22=192.168.1.0:22", NULL },
	    "forward tcp:22: address 192.168.1.0 is the network address of "
	    "192.168.1.0/24" },
};

static void
config_parse_args__each_error_message(void **state)
{
	struct router_config c;
	char err[ERRLEN];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(args_cases) / sizeof(args_cases[0]); i++) {
		int rc = run_args(&c, args_cases[i].argv, err);

		if (rc != -1 || strcmp(err, args_cases[i].msg) != 0)
			fail_msg("case %zu: rc %d\n got: %s\nwant: %s", i, rc, err,
			    args_cases[i].msg);
	}
}

/* Any --nat-pool or --forward replaces the file's whole list of that kind;
 * NAT scalar flags replace the file's values, the rest of the file stays. */
static void
config_parse_args__nat_flags_override_file(void **state)
{
	struct router_config c;
	char path[64], err[ERRLEN];

	(void)state;
	tmp_file(path, nat_conf);
	assert_int_equal(run_args(&c, ARGS("--nat-pool", "198.51.100.9",
	    "--forward", "udp:5000=192.168.1.20:5001", "--config", path,
	    "--forward=tcp:443=192.168.1.21:8443", "--nat-filtering", "address",
	    "--nat-max-sessions", "1000", "--nat-max-per-host", "0",
	    "--udp-timeout", "121", "--tcp-timeout", "7441",
	    "--tcp-transitory-timeout", "241", "--icmp-timeout", "61"), err), 0);
	assert_string_equal(err, "");
	assert_true(c.nat);
	assert_int_equal(c.n_nat_pool, 1);
	assert_int_equal(c.nat_pool[0], ip("198.51.100.9"));
	assert_int_equal(c.nforwards, 2);
	assert_int_equal(c.forwards[0].proto, 17);
	assert_int_equal(c.forwards[0].ext_port, 5000);
	assert_int_equal(c.forwards[0].int_ip, ip("192.168.1.20"));
	assert_int_equal(c.forwards[0].int_port, 5001);
	assert_int_equal(c.forwards[1].proto, 6);
	assert_int_equal(c.forwards[1].ext_port, 443);
	assert_int_equal(c.forwards[1].int_ip, ip("192.168.1.21"));
	assert_int_equal(c.forwards[1].int_port, 8443);
	assert_int_equal(c.nat_params.filtering, NAT_FILTER_ADDRESS);
	assert_int_equal(c.nat_params.max_sessions, 1000);
	assert_int_equal(c.nat_params.max_per_host, 0);
	assert_int_equal(c.nat_params.udp_timeout_s, 121);
	assert_int_equal(c.nat_params.tcp_est_timeout_s, 7441);
	assert_int_equal(c.nat_params.tcp_trans_timeout_s, 241);
	assert_int_equal(c.nat_params.icmp_timeout_s, 61);
	assert_int_equal(c.nat_params.port_min, 40000);		/* from the file */
	assert_int_equal(c.nat_params.port_max, 40001);

	/* Only --forward: the file's pool stays, its forwards go. */
	assert_int_equal(run_args(&c, ARGS("--config", path,
	    "--forward", "tcp:8080=192.168.1.10:81"), err), 0);
	assert_int_equal(c.n_nat_pool, 2);
	assert_int_equal(c.nat_pool[1], ip("198.51.100.7"));
	assert_int_equal(c.nforwards, 1);
	assert_int_equal(c.forwards[0].int_port, 81);
	assert_int_equal(c.nat_params.filtering, NAT_FILTER_ENDPOINT);

	/* --no-nat over a file with forwards and a pool is an error. */
	assert_int_equal(run_args(&c, ARGS("--config", path, "--no-nat"), err), -1);
	assert_string_equal(err, "forward needs NAT (remove --no-nat or 'nat off')");
	unlink(path);
}

/* `nat off` in a file, with and without forwards; --no-nat alone. */
static void
config_parse_args__nat_off(void **state)
{
	struct router_config c;
	char path[64], err[ERRLEN];

	(void)state;
	assert_int_equal(run_args(&c, ARGS(IN_OUT, "--no-nat"), err), 0);
	assert_false(c.nat);
	tmp_file(path, "nat off\nforward tcp:80=192.168.1.10:80\n");
	assert_int_equal(run_args(&c, ARGS(IN_OUT, "--config", path), err), -1);
	assert_string_equal(err, "forward needs NAT (remove --no-nat or 'nat off')");
	unlink(path);
	tmp_file(path, "nat off\nnat.port_min 2000\nnat.port_max 3000\n");
	assert_int_equal(run_args(&c, ARGS(IN_OUT, "--config", path), err), 0);
	unlink(path);
	assert_false(c.nat);
	assert_int_equal(c.nat_params.port_min, 2000);
}

/* nat.port_min > nat.port_max is found once the whole file is read, in either
 * order of the two lines; equal is a one-port range. */
static void
config_parse_args__nat_port_range(void **state)
{
	struct router_config c;
	char path[64], err[ERRLEN];

	(void)state;
	tmp_file(path, "nat.port_max 30000\nnat.port_min 30001\n");
	assert_int_equal(run_args(&c, ARGS(IN_OUT, "--config", path), err), -1);
	unlink(path);
	assert_string_equal(err, "nat.port_min 30001 is above nat.port_max 30000");
	tmp_file(path, "nat.port_min 40000\n");	/* max stays 65535 */
	assert_int_equal(run_args(&c, ARGS(IN_OUT, "--config", path), err), 0);
	unlink(path);
	tmp_file(path, "nat.port_max 1500\n");		/* min stays 1024 */
	assert_int_equal(run_args(&c, ARGS(IN_OUT, "--config", path), err), 0);
	unlink(path);
	assert_int_equal(c.nat_params.port_max, 1500);
	tmp_file(path, "nat.port_min 1500\nnat.port_max 1500\n");
	assert_int_equal(run_args(&c, ARGS(IN_OUT, "--config", path), err), 0);
	unlink(path);
}

/* 64 forwards fit, the 65th is refused; 15 pool addresses fit. */
static void
config_parse_args__nat_list_limits(void **state)
{
	struct router_config c;
	char text[8192], path[64], err[ERRLEN], want[ERRLEN];
	size_t n = 0;
	int i;

	(void)state;
	for (i = 1; i <= 64; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
		    "forward tcp:%d=192.168.1.%d:80\n", 1000 + i, i + 1);
	for (i = 2; i <= 16; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
		    "nat.pool 203.0.113.%d\n", i);
	tmp_file(path, text);
	assert_int_equal(run_args(&c, ARGS(IN_OUT, "--config", path), err), 0);
	unlink(path);
	assert_int_equal(c.nforwards, 64);
	assert_int_equal(c.forwards[63].ext_port, 1064);
	assert_int_equal(c.forwards[63].int_ip, ip("192.168.1.65"));
	assert_int_equal(c.n_nat_pool, 15);
	assert_int_equal(c.nat_pool[14], ip("203.0.113.16"));
	snprintf(text + n, sizeof(text) - n, "forward udp:1=192.168.1.2:1\n");
	assert_int_equal(load_text(&c, text, path, err), -1);
	snprintf(want, sizeof(want), "%s:80: forward: more than 64 forwards", path);
	assert_string_equal(err, want);
}

/* A --forward longer than any file line is refused, not copied. */
static void
config_parse_args__long_forward_flag(void **state)
{
	struct router_config c;
	char err[ERRLEN], arg[2100];

	(void)state;
	memset(arg, '9', sizeof(arg) - 1);
	memcpy(arg, "tcp:", 4);
	arg[sizeof(arg) - 1] = '\0';
	assert_int_equal(run_args(&c, ARGS(IN_OUT, "--forward", arg), err), -1);
	assert_string_equal(err, "--forward: 'tcp:9999999999999999999999999999...' "
	    "is longer than 1023 bytes");
}

/* getopt state is reset: the same argv parses the same way twice, also
 * after an error left getopt in the middle of argv. */
static void
config_parse_args__callable_again(void **state)
{
	struct router_config c;
	char err[ERRLEN];
	int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		assert_int_equal(run_args(&c, ARGS("-vx"), err), -1);
		assert_string_equal(err, "unknown option '-x' (see --help)");
		assert_int_equal(run_args(&c, ARGS("-vv", IN_OUT, "-v"), err), 0);
		assert_int_equal(c.verbose, 3);
		assert_int_equal(c.inside.addr, ip("192.168.1.1"));
	}
}

/* A flag given twice: the last one wins (unlike a key twice in a file). */
static void
config_parse_args__last_scalar_flag_wins(void **state)
{
	struct router_config c;
	char err[ERRLEN];

	(void)state;
	assert_int_equal(run_args(&c, ARGS(IN_OUT, "--gateway", "203.0.113.9",
	    "--inside=lan0=10.0.0.1/8", "--gateway", "10.0.0.9"), err), 0);
	assert_string_equal(c.inside.dev, "lan0");
	assert_int_equal(c.gateway, ip("10.0.0.9"));
}

/* The history limits: file keys, flags over them, 0 rates, bad values. */
static void
config_parse_args__history_inbound(void **state)
{
	struct router_config c;
	char err[ERRLEN], path[64];

	(void)state;
	assert_int_equal(load_text(&c, "history.inbound_rate 7\nhistory.inbound_burst 30\n"
	    "history.inbound_total_rate 0\nhistory.inbound_total_burst 5000\n", path, err), 0);
	assert_int_equal(c.history_inbound.rate, 7);
	assert_int_equal(c.history_inbound.burst, 30);
	assert_int_equal(c.history_inbound.total_rate, 0);
	assert_int_equal(c.history_inbound.total_burst, 5000);
	assert_int_equal(run_args(&c, ARGS(IN_OUT, "--history-inbound-rate", "0",
	    "--history-inbound-burst", "1", "--history-inbound-total-rate", "100",
	    "--history-inbound-total-burst", "1000000"), err), 0);
	assert_int_equal(c.history_inbound.rate, 0);
	assert_int_equal(c.history_inbound.burst, 1);
	assert_int_equal(c.history_inbound.total_rate, 100);
	assert_int_equal(c.history_inbound.total_burst, 1000000);
	assert_int_equal(run_args(&c, ARGS(IN_OUT, "--history-inbound-burst", "0"), err), -1);
	assert_non_null(strstr(err, "--history-inbound-burst: "));
	assert_non_null(strstr(err, "'0'"));
	assert_int_equal(run_args(&c, ARGS(IN_OUT, "--history-inbound-total-rate",
	    "1000001"), err), -1);
	assert_non_null(strstr(err, "'1000001'"));
	assert_int_equal(run_args(&c, ARGS(IN_OUT, "--history-inbound-rate"), err), -1);
	assert_string_equal(err, "--history-inbound-rate: missing value N");
}

/* The shipped example is a valid configuration (run from the tree's top). */
static void
config_parse_args__example_file_is_valid(void **state)
{
	struct router_config c;
	char err[ERRLEN];

	(void)state;
	if (access("examples/router.conf", R_OK) != 0)
		skip();
	assert_int_equal(run_args(&c, ARGS("--config", "examples/router.conf"), err), 0);
	assert_string_equal(c.inside.dev, "veth-in");
	assert_int_equal(c.inside.addr, ip("192.168.1.1"));
	assert_string_equal(c.outside.dev, "veth-out");
	assert_int_equal(c.outside.addr, ip("203.0.113.1"));
	assert_int_equal(c.gateway, ip("203.0.113.254"));
	assert_int_equal(c.nroutes, 1);
	assert_true(c.nat);
	assert_int_equal(c.n_nat_pool, 0);
	assert_int_equal(c.nforwards, 0);
	assert_int_equal(c.nat_params.udp_timeout_s, 300);
}

/* --metrics and the metrics key: ADDR:PORT, [ADDR6]:PORT, checked. */
static void
config_parse_args__metrics_listen_address(void **state)
{
	struct router_config c;
	char err[ERRLEN], host[64];
	uint16_t port;

	(void)state;
	assert_int_equal(run_args(&c, ARGS(IN_OUT), err), 0);
	assert_string_equal(c.metrics, "");
	assert_int_equal(run_args(&c, ARGS(IN_OUT, "--metrics", "127.0.0.1:9750"), err), 0);
	assert_string_equal(c.metrics, "127.0.0.1:9750");
	assert_int_equal(config_split_listen(c.metrics, host, &port), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 9750);
	assert_int_equal(run_args(&c, ARGS(IN_OUT, "--metrics", "[::1]:80"), err), 0);
	assert_int_equal(config_split_listen(c.metrics, host, &port), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 80);
	assert_int_equal(run_args(&c, ARGS(IN_OUT, "--metrics", "127.0.0.1"), err), -1);
	assert_string_equal(err, "--metrics: '127.0.0.1' is not ADDR:PORT (port 1..65535; "
	    "[ADDR]:PORT for IPv6)");
	assert_int_equal(run_args(&c, ARGS(IN_OUT, "--metrics", "127.0.0.1:0"), err), -1);
	assert_int_equal(run_args(&c, ARGS(IN_OUT, "--metrics", "127.0.0.1:65536"), err), -1);
	assert_int_equal(run_args(&c, ARGS(IN_OUT, "--metrics", "[::1:80"), err), -1);
	assert_int_equal(run_args(&c, ARGS(IN_OUT, "--metrics", "300.0.0.1:80"), err), -1);
	assert_string_equal(err, "--metrics: '300.0.0.1' is not an IPv4 address");
	assert_int_equal(run_args(&c, ARGS(IN_OUT, "--metrics", "[1.2.3.4]:80"), err), -1);
	assert_string_equal(err, "--metrics: '1.2.3.4' is not an IPv6 address");
}

/*
 * history.push: absolute paths and git URLs (file, git, ssh, scp-like),
 * repeatable, in order; the flag replaces the file's list; refused: a
 * relative path, http(s), blanks, a duplicate, a ninth, no state.
 */
static void
config_parse_args__history_push(void **state)
{
	struct router_config c;
	char err[ERRLEN], path[64];

	(void)state;
	assert_int_equal(run_args(&c, ARGS(IN_OUT), err), 0);
	assert_int_equal(c.nhistory_push, 0);
	assert_int_equal(c.history_push_interval_s, 5);
	assert_int_equal(run_args(&c, ARGS(IN_OUT, "--history-push", "/srv/a.git",
	    "--history-push", "git://10.0.0.9/a.git", "--history-push", "file:///srv/b.git",
	    "--history-push", "backup@host:gitnet/a.git", "--history-push",
	    "ssh://host:2222/a.git", "--history-push-interval", "30"), err), 0);
	assert_int_equal(c.nhistory_push, 5);
	assert_string_equal(c.history_push[0], "/srv/a.git");
	assert_string_equal(c.history_push[1], "git://10.0.0.9/a.git");
	assert_string_equal(c.history_push[3], "backup@host:gitnet/a.git");
	assert_int_equal(c.history_push_interval_s, 30);

	tmp_file(path, "inside veth-in=192.168.1.1/24\noutside veth-out=203.0.113.1/24\n"
	    "history.push /srv/a.git\nhistory.push git://h/b.git\n"
	    "history.push_interval_s 2\n");
	assert_int_equal(run_args(&c, ARGS("--config", path), err), 0);
	assert_int_equal(c.nhistory_push, 2);
	assert_int_equal(c.history_push_interval_s, 2);
	assert_int_equal(run_args(&c, ARGS("--config", path, "--history-push", "/x.git"), err), 0);
	assert_int_equal(c.nhistory_push, 1);
	assert_string_equal(c.history_push[0], "/x.git");
	unlink(path);

	assert_int_equal(run_args(&c, ARGS(IN_OUT, "--history-push", "a.git"), err), -1);
	assert_string_equal(err, "--history-push: 'a.git' is not an absolute path or a git URL");
	assert_int_equal(run_args(&c, ARGS(IN_OUT, "--history-push", "https://h/a.git"), err), -1);
	assert_string_equal(err, "--history-push: URL 'https://h/a.git': only file://, git:// "
	    "and ssh:// are pushed to (http(s) needs credentials)");
	assert_int_equal(run_args(&c, ARGS(IN_OUT, "--history-push", "git://"), err), -1);
	assert_int_equal(run_args(&c, ARGS(IN_OUT, "--history-push", "/a b"), err), -1);
	assert_string_equal(err, "--history-push: URL '/a b' has a blank or control character");
	assert_int_equal(run_args(&c, ARGS(IN_OUT, "--history-push", "/a.git",
	    "--history-push", "/a.git"), err), -1);
	assert_string_equal(err, "--history-push: '/a.git' is already a history.push URL");
	assert_int_equal(run_args(&c, ARGS(IN_OUT, "--history-push", "/1", "--history-push",
	    "/2", "--history-push", "/3", "--history-push", "/4", "--history-push", "/5",
	    "--history-push", "/6", "--history-push", "/7", "--history-push", "/8",
	    "--history-push", "/9"), err), -1);
	assert_string_equal(err, "--history-push: more than 8 history.push URLs");
	assert_int_equal(run_args(&c, ARGS(IN_OUT, "--state", "none", "--history-push",
	    "/a.git"), err), -1);
	assert_string_equal(err, "history.push needs a state repository (state is 'none')");
	assert_int_equal(run_args(&c, ARGS(IN_OUT, "--history-push-interval", "0"), err), -1);
	assert_string_equal(err, "--history-push-interval: '0' is out of range 1..86400");
}

/*
 * A standby fed by git: sync, router_id, standby, takeover_after, preempt
 * from flags and the file; refused: a standby or preempt without sync, sync
 * without router_id or state, an ID that cannot name a branch, a router
 * standing by for itself, a bad URL, takeover_after out of range.
 */
static void
config_parse_args__sync(void **state)
{
	struct router_config c;
	char err[ERRLEN], path[64];

	(void)state;
	assert_int_equal(run_args(&c, ARGS(IN_OUT), err), 0);
	assert_string_equal(c.sync_url, "");
	assert_int_equal(c.takeover_after_ms, 1000);
	assert_false(c.preempt);
	assert_int_equal(run_args(&c, ARGS(IN_OUT, "--sync", "git://10.0.0.9/ha.git",
	    "--router-id", "r2", "--standby", "r1", "--takeover-after", "300"), err), 0);
	assert_string_equal(c.sync_url, "git://10.0.0.9/ha.git");
	assert_string_equal(c.router_id, "r2");
	assert_string_equal(c.standby, "r1");
	assert_int_equal(c.takeover_after_ms, 300);
	assert_int_equal(run_args(&c, ARGS(IN_OUT, "--sync", "/srv/ha.git", "--router-id",
	    "edge-1.a_b", "--preempt"), err), 0);
	assert_true(c.preempt);

	tmp_file(path, "inside veth-in=192.168.1.1/24\noutside veth-out=203.0.113.1/24\n"
	    "sync /srv/ha.git\nrouter_id r1\nstandby r2\ntakeover_after 500\npreempt on\n");
	assert_int_equal(run_args(&c, ARGS("--config", path), err), 0);
	assert_string_equal(c.sync_url, "/srv/ha.git");
	assert_string_equal(c.router_id, "r1");
	assert_string_equal(c.standby, "r2");
	assert_int_equal(c.takeover_after_ms, 500);
	assert_true(c.preempt);
	unlink(path);

	assert_int_equal(run_args(&c, ARGS(IN_OUT, "--standby", "r1"), err), -1);
	assert_string_equal(err, "standby needs sync URL (the remote router r1 pushes to)");
	assert_int_equal(run_args(&c, ARGS(IN_OUT, "--preempt"), err), -1);
	assert_string_equal(err, "preempt needs sync URL");
	assert_int_equal(run_args(&c, ARGS(IN_OUT, "--sync", "/srv/ha.git"), err), -1);
	assert_string_equal(err, "sync needs router_id: the name this router has on the remote");
	assert_int_equal(run_args(&c, ARGS(IN_OUT, "--state", "none", "--sync", "/srv/ha.git",
	    "--router-id", "r1"), err), -1);
	assert_string_equal(err, "sync needs a state repository (state is 'none')");
	assert_int_equal(run_args(&c, ARGS(IN_OUT, "--sync", "/srv/ha.git", "--router-id",
	    "r/1"), err), -1);
	assert_string_equal(err, "router_id 'r/1': use letters, digits, '.', '_' and '-' "
	    "(it names the branch routers/<ID>)");
	assert_int_equal(run_args(&c, ARGS(IN_OUT, "--sync", "/srv/ha.git", "--router-id",
	    "a..b"), err), -1);
	assert_int_equal(run_args(&c, ARGS(IN_OUT, "--sync", "/srv/ha.git", "--router-id",
	    "r1.lock"), err), -1);
	assert_int_equal(run_args(&c, ARGS(IN_OUT, "--sync", "/srv/ha.git", "--router-id",
	    "r1", "--standby", "r1"), err), -1);
	assert_string_equal(err, "standby r1: that is this router's own ID");
	assert_int_equal(run_args(&c, ARGS(IN_OUT, "--sync", "ha.git", "--router-id", "r1"),
	    err), -1);
	assert_string_equal(err, "sync: 'ha.git' is not an absolute path or a git URL");
	assert_int_equal(run_args(&c, ARGS(IN_OUT, "--takeover-after", "10"), err), -1);
	assert_string_equal(err, "--takeover-after: '10' is out of range 50..3600000");
}

/* Under systemd's RuntimeDirectory= the control socket lives there. */
static void
config_defaults__control_in_runtime_directory(void **state)
{
	struct router_config c;

	(void)state;
	setenv("RUNTIME_DIRECTORY", "/run/gitnet", 1);
	config_defaults(&c);
	assert_string_equal(c.control, "/run/gitnet/router.sock");
	setenv("RUNTIME_DIRECTORY", "relative", 1);
	config_defaults(&c);
	assert_string_equal(c.control, "/run/gitnet-router.sock");
	unsetenv("RUNTIME_DIRECTORY");
	config_defaults(&c);
	assert_string_equal(c.control, "/run/gitnet-router.sock");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(config_parse_args__metrics_listen_address),
		cmocka_unit_test(config_parse_args__history_push),
		cmocka_unit_test(config_parse_args__sync),
		cmocka_unit_test(config_defaults__control_in_runtime_directory),
		cmocka_unit_test(config_defaults__documented_values),
		cmocka_unit_test(config_load_file__full_file_exact_values),
		cmocka_unit_test(config_parse_args__nat_file_exact_values),
		cmocka_unit_test(config_load_file__nat_off_and_filter_modes),
		cmocka_unit_test(config_load_file__comments_and_whitespace),
		cmocka_unit_test(config_load_file__hash_inside_token_is_not_comment),
		cmocka_unit_test(config_load_file__each_error_names_file_line_key_value),
		cmocka_unit_test(config_load_file__long_line_is_an_error),
		cmocka_unit_test(config_load_file__nul_byte_is_an_error),
		cmocka_unit_test(config_load_file__unreadable_names_file),
		cmocka_unit_test(config_load_file__point_to_point_prefixes),
		cmocka_unit_test(config_parse_args__flags_only),
		cmocka_unit_test(config_parse_args__flags_override_file),
		cmocka_unit_test(config_parse_args__file_error_passes_through),
		cmocka_unit_test(config_parse_args__help_and_version_return_1),
		cmocka_unit_test(config_parse_args__each_error_message),
		cmocka_unit_test(config_parse_args__nat_flags_override_file),
		cmocka_unit_test(config_parse_args__nat_off),
		cmocka_unit_test(config_parse_args__nat_port_range),
		cmocka_unit_test(config_parse_args__nat_list_limits),
		cmocka_unit_test(config_parse_args__long_forward_flag),
		cmocka_unit_test(config_parse_args__callable_again),
		cmocka_unit_test(config_parse_args__last_scalar_flag_wins),
		cmocka_unit_test(config_parse_args__history_inbound),
		cmocka_unit_test(config_parse_args__example_file_is_valid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: ISC */
/*
 * The output shapes of an entry (store/format.c): exact `ip neigh` and
 * `conntrack -L` lines, JSON objects and commit-message lines for known
 * entries; timeouts from the now passed in; texts cut short reported as
 * snprintf does; and the NAT state vocabulary: every netfn TCP state and
 * reply flag survives the trip through the store (conversion, stored
 * text, back) and prints with the name netfn gives it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "netfn/nat.h"
#include "store/store.h"

#define T0	1429688400000000ULL	/* created */
#define EXP	1429688430000000ULL	/* expires */

static struct arp_entry
arp_sample(uint8_t state, uint8_t ifidx)
{
	struct arp_entry a;

	memset(&a, 0, sizeof(a));
	a.ip = 0x0a000002;			/* 10.0.0.2 */
	memcpy(a.mac, "\x02\x50\x2a\x16\x6d\x01", 6);
	a.state = state;
	a.ifidx = ifidx;
	a.updated_us = 1429688404645130ULL;
	a.expires_us = 1429688434645130ULL;
	return a;
}

/* udp 192.168.1.2:5000 -> 203.0.113.1:61001, 8.8.8.8:53 answered, 9.9.9.9:53 not */
static struct store_nat
udp_sample(void)
{
	struct store_nat n;

	memset(&n, 0, sizeof(n));
	n.proto = IPPROTO_UDP;
	n.in_ip = 0xc0a80102;
	n.in_port = 5000;
	n.ext_ip = 0xcb007101;
	n.ext_port = 61001;
	n.nremote = 2;
	n.remote[0] = (struct store_nat_remote){ 0x08080808, 53, STORE_NAT_ESTABLISHED, 0 };
	n.remote[1] = (struct store_nat_remote){ 0x09090909, 53, STORE_NAT_NEW, 0 };
	n.created_us = T0;
	n.expires_us = EXP;
	return n;
}

static void
format_neigh__lladdr_only_when_known(void **state)
{
	struct arp_entry a = arp_sample(ARP_REACHABLE, 0);
	char b[STORE_FMT_MAX];

	(void)state;
	assert_int_equal(store_fmt_neigh(b, sizeof(b), &a, "inside"), 55);
	assert_string_equal(b, "10.0.0.2 dev inside lladdr 02:50:2a:16:6d:01 REACHABLE\n");
	a.state = ARP_PERMANENT;
	store_fmt_neigh(b, sizeof(b), &a, "outside");
	assert_string_equal(b, "10.0.0.2 dev outside lladdr 02:50:2a:16:6d:01 PERMANENT\n");
	a.state = ARP_STALE;
	store_fmt_neigh(b, sizeof(b), &a, "inside");
	assert_string_equal(b, "10.0.0.2 dev inside lladdr 02:50:2a:16:6d:01 STALE\n");
	/* iproute2 prints no lladdr while resolving or after giving up */
	a.state = ARP_INCOMPLETE;
	store_fmt_neigh(b, sizeof(b), &a, "inside");
	assert_string_equal(b, "10.0.0.2 dev inside INCOMPLETE\n");
	a.state = ARP_FAILED;
	store_fmt_neigh(b, sizeof(b), &a, "inside");
	assert_string_equal(b, "10.0.0.2 dev inside FAILED\n");
}

static void
format_conntrack__udp_line_per_remote(void **state)
{
	struct store_nat n = udp_sample();
	char b[STORE_FMT_MAX];
	const char *want =
	    "udp      17 29 src=192.168.1.2 dst=8.8.8.8 sport=5000 dport=53 "
	    "src=8.8.8.8 dst=203.0.113.1 sport=53 dport=61001 [ASSURED] mark=0 use=1\n"
	    "udp      17 29 src=192.168.1.2 dst=9.9.9.9 sport=5000 dport=53 [UNREPLIED] "
	    "src=9.9.9.9 dst=203.0.113.1 sport=53 dport=61001 mark=0 use=1\n";

	(void)state;
	/* 29.5 s left: whole seconds, rounded down as conntrack does */
	assert_int_equal(store_fmt_conntrack(b, sizeof(b), &n, EXP - 29500000), (int)strlen(want));
	assert_string_equal(b, want);
}

static void
format_conntrack__tcp_states_and_flags(void **state)
{
	struct store_nat n = udp_sample();
	char b[STORE_FMT_MAX];

	(void)state;
	n.proto = IPPROTO_TCP;
	n.in_port = 51000;
	n.remote[0] = (struct store_nat_remote){ 0xc6336409, 443, STORE_NAT_SYN_SENT,
	    STORE_NAT_UNREPLIED };
	n.remote[1] = (struct store_nat_remote){ 0xc633640a, 80, STORE_NAT_TIME_WAIT, 0 };
	store_fmt_conntrack(b, sizeof(b), &n, EXP - 120000000);
	assert_string_equal(b,
	    "tcp      6 120 SYN_SENT src=192.168.1.2 dst=198.51.100.9 sport=51000 dport=443 "
	    "[UNREPLIED] src=198.51.100.9 dst=203.0.113.1 sport=443 dport=61001 mark=0 use=1\n"
	    "tcp      6 120 TIME_WAIT src=192.168.1.2 dst=198.51.100.10 sport=51000 dport=80 "
	    "src=198.51.100.10 dst=203.0.113.1 sport=80 dport=61001 [ASSURED] mark=0 use=1\n");
	/* A legacy "new" remote is unreplied whatever its flags say. */
	n.nremote = 1;
	n.remote[0] = (struct store_nat_remote){ 0xc6336409, 443, STORE_NAT_NEW, 0 };
	store_fmt_conntrack(b, sizeof(b), &n, EXP);
	assert_string_equal(b,
	    "tcp      6 0 NEW src=192.168.1.2 dst=198.51.100.9 sport=51000 dport=443 "
	    "[UNREPLIED] src=198.51.100.9 dst=203.0.113.1 sport=443 dport=61001 mark=0 use=1\n");
}

static void
format_conntrack__icmp_and_no_remote(void **state)
{
	struct store_nat n = udp_sample();
	char b[STORE_FMT_MAX];

	(void)state;
	n.proto = IPPROTO_ICMP;
	n.in_port = 4660;
	n.ext_port = 4660;
	n.nremote = 1;
	n.remote[0] = (struct store_nat_remote){ 0xcb007102, 0, STORE_NAT_ESTABLISHED, 0 };
	store_fmt_conntrack(b, sizeof(b), &n, EXP - 59000000);
	assert_string_equal(b,
	    "icmp     1 59 src=192.168.1.2 dst=203.0.113.2 type=8 code=0 id=4660 "
	    "src=203.0.113.2 dst=203.0.113.1 type=0 code=0 id=4660 mark=0 use=1\n");
	/* A forward nobody used: no remote, never expires. */
	n = udp_sample();
	n.nremote = 0;
	n.expires_us = 0;
	store_fmt_conntrack(b, sizeof(b), &n, EXP);
	assert_string_equal(b,
	    "udp      17 0 src=192.168.1.2 dst=0.0.0.0 sport=5000 dport=0 [UNREPLIED] "
	    "src=0.0.0.0 dst=203.0.113.1 sport=0 dport=61001 mark=0 use=1\n");
	/* Past its expiry: 0, never a wrapped count. */
	n = udp_sample();
	n.nremote = 1;
	store_fmt_conntrack(b, sizeof(b), &n, EXP + 5000000);
	assert_memory_equal(b, "udp      17 0 ", 14);
}

static void
format_conntrack__cut_short_like_snprintf(void **state)
{
	struct store_nat n = udp_sample();
	char full[STORE_FMT_MAX], b[40];
	int len;

	(void)state;
	len = store_fmt_conntrack(full, sizeof(full), &n, EXP);
	assert_int_equal(store_fmt_conntrack(b, sizeof(b), &n, EXP), len);
	assert_int_equal(strlen(b), sizeof(b) - 1);
	assert_memory_equal(b, full, sizeof(b) - 1);
	assert_int_equal(store_fmt_conntrack(NULL, 0, &n, EXP), len);
}

static void
format_json__arp_and_nat_objects(void **state)
{
	struct store_entry e;
	char b[STORE_FMT_MAX];

	(void)state;
	memset(&e, 0, sizeof(e));
	e.table = EV_TABLE_ARP;
	e.arp = arp_sample(ARP_REACHABLE, 0);
	store_fmt_json(b, sizeof(b), &e, "in\"side", 0);
	assert_string_equal(b, "{\"dst\":\"10.0.0.2\",\"dev\":\"in\\\"side\","
	    "\"lladdr\":\"02:50:2a:16:6d:01\",\"state\":[\"REACHABLE\"],"
	    "\"updated\":1429688404.645130,\"expires\":1429688434.645130,"
	    "\"key\":\"arp/10.0.0/2\"}");
	e.arp.expires_us = 0;
	store_fmt_json(b, sizeof(b), &e, "inside", 0);
	assert_non_null(strstr(b, "\"expires\":null,"));

	memset(&e, 0, sizeof(e));
	e.table = EV_TABLE_NAT;
	e.nat = udp_sample();
	store_fmt_json(b, sizeof(b), &e, NULL, EXP - 9000000);
	assert_string_equal(b, "{\"proto\":\"udp\",\"timeout\":9,"
	    "\"inside\":{\"ip\":\"192.168.1.2\",\"port\":5000},"
	    "\"external\":{\"ip\":\"203.0.113.1\",\"port\":61001},"
	    "\"remotes\":[{\"ip\":\"8.8.8.8\",\"port\":53,\"state\":\"established\"},"
	    "{\"ip\":\"9.9.9.9\",\"port\":53,\"state\":\"new\"}],"
	    "\"created\":1429688400.000000,\"expires\":1429688430.000000,"
	    "\"key\":\"nat/udp/192.168.1/2/5000\"}");
	/* TCP: the state as stored, the value gitnet diff shows */
	e.nat.proto = IPPROTO_TCP;
	e.nat.nremote = 1;
	e.nat.remote[0] = (struct store_nat_remote){ 0x08080808, 53, STORE_NAT_SYN_SENT,
	    STORE_NAT_UNREPLIED };
	store_fmt_json(b, sizeof(b), &e, NULL, EXP);
	assert_non_null(strstr(b, "\"remotes\":[{\"ip\":\"8.8.8.8\",\"port\":53,"
	    "\"state\":\"syn-sent unreplied\"}]"));
	assert_non_null(strstr(b, "\"key\":\"nat/tcp/192.168.1/2/5000\"}"));
}

/* A live session, converted as the control socket converts it. */
static void
format_conntrack_json__live_session(void **state)
{
	struct nat_session s = {
		.proto = IPPROTO_TCP, .state = NAT_TCP_ESTABLISHED,
		.flags = NAT_SF_REPLIED | NAT_SF_INBOUND | NAT_SF_STATIC,
		.int_ip = 0xc0a80102, .int_port = 80, .ext_ip = 0xcb007101,
		.ext_port = 8080, .rem_ip = 0xcb007102, .rem_port = 40000,
		.created_us = T0 + 1, .expires_us = EXP,
	};
	struct store_entry e;
	char b[STORE_FMT_MAX];

	(void)state;
	store_entry_from_nat(&e, &s);
	assert_int_equal(e.table, EV_TABLE_NAT);
	assert_int_equal(e.nat.nremote, 1);
	store_fmt_conntrack_json(b, sizeof(b), &e.nat, 0, EXP - 7439000000ULL);
	assert_string_equal(b, "{\"proto\":\"tcp\",\"state\":\"ESTABLISHED\","
	    "\"timeout\":7439,\"inside\":{\"ip\":\"192.168.1.2\",\"port\":80},"
	    "\"external\":{\"ip\":\"203.0.113.1\",\"port\":8080},"
	    "\"remote\":{\"ip\":\"203.0.113.2\",\"port\":40000},"
	    "\"replied\":true,\"inbound\":true,\"static\":true,"
	    "\"created\":1429688400.000001,\"expires\":1429688430.000000}");
	store_fmt_conntrack(b, sizeof(b), &e.nat, EXP - 7439000000ULL);
	assert_string_equal(b,
	    "tcp      6 7439 ESTABLISHED src=192.168.1.2 dst=203.0.113.2 sport=80 dport=40000 "
	    "src=203.0.113.2 dst=203.0.113.1 sport=40000 dport=8080 [ASSURED] mark=0 use=1\n");

	s.proto = IPPROTO_UDP;
	s.state = 0;
	s.flags = 0;
	store_entry_from_nat(&e, &s);
	store_fmt_conntrack_json(b, sizeof(b), &e.nat, 0, EXP);
	assert_string_equal(b, "{\"proto\":\"udp\",\"state\":null,"
	    "\"timeout\":0,\"inside\":{\"ip\":\"192.168.1.2\",\"port\":80},"
	    "\"external\":{\"ip\":\"203.0.113.1\",\"port\":8080},"
	    "\"remote\":{\"ip\":\"203.0.113.2\",\"port\":40000},"
	    "\"replied\":false,\"inbound\":false,\"static\":false,"
	    "\"created\":1429688400.000001,\"expires\":1429688430.000000}");
}

static void
format_change__commit_message_lines(void **state)
{
	struct store_change c;
	char b[STORE_FMT_MAX];

	(void)state;
	memset(&c, 0, sizeof(c));
	c.e.table = EV_TABLE_ARP;
	c.e.arp = arp_sample(ARP_STALE, 0);
	c.op = EV_ADD;
	store_fmt_change(b, sizeof(b), &c);
	assert_string_equal(b, "arp: add 10.0.0.2 -> 02:50:2a:16:6d:01");
	c.op = EV_UPDATE;
	store_fmt_change(b, sizeof(b), &c);
	assert_string_equal(b, "arp: update 10.0.0.2 -> 02:50:2a:16:6d:01 STALE");
	c.op = EV_REMOVE;
	store_fmt_change(b, sizeof(b), &c);
	assert_string_equal(b, "arp: remove 10.0.0.2");
	c.op = EV_LLADDR;
	memcpy(c.old_mac, "\x02\x50\x2a\x16\x6d\xff", 6);
	store_fmt_change(b, sizeof(b), &c);
	assert_string_equal(b, "arp: lladdr-change 10.0.0.2 02:50:2a:16:6d:ff -> "
	    "02:50:2a:16:6d:01");
	store_fmt_summary(b, sizeof(b), &c.e);
	assert_string_equal(b, "arp 10.0.0.2 lladdr 02:50:2a:16:6d:01 updated "
	    "1429688404.645130");

	memset(&c, 0, sizeof(c));
	c.e.table = EV_TABLE_NAT;
	c.e.nat = udp_sample();
	c.e.nat.proto = IPPROTO_TCP;
	c.e.nat.in_port = 51000;
	c.op = EV_ADD;
	store_fmt_change(b, sizeof(b), &c);
	assert_string_equal(b, "nat: map tcp 192.168.1.2:51000 -> 203.0.113.1:61001");
	c.op = EV_UPDATE;
	store_fmt_change(b, sizeof(b), &c);
	assert_string_equal(b, "nat: update tcp 192.168.1.2:51000 -> 203.0.113.1:61001");
	store_fmt_summary(b, sizeof(b), &c.e);
	assert_string_equal(b, "nat tcp 192.168.1.2:51000 -> 203.0.113.1:61001 "
	    "created 1429688400.000000");
	/* A removal knows only the key (a tick's line): no arrow. */
	c.op = EV_REMOVE;
	c.e.nat.ext_ip = 0;
	c.e.nat.ext_port = 0;
	c.e.nat.proto = IPPROTO_ICMP;
	store_fmt_change(b, sizeof(b), &c);
	assert_string_equal(b, "nat: unmap icmp 192.168.1.2:51000");
}

/*
 * Lossless: every netfn TCP state, replied or not, inbound or not, comes
 * back from the store's vocabulary and its stored text as it went in, and
 * a conntrack line names it as netfn does.
 */
static void
format_vocabulary__netfn_states_round_trip(void **state)
{
	static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP };

	(void)state;
	for (size_t p = 0; p < sizeof(protos); p++)
	for (uint8_t st = 0; st < (protos[p] == IPPROTO_TCP ? NAT_TCP_MAX : 1); st++)
	for (uint8_t fl = 0; fl < 4; fl++) {	/* NAT_SF_REPLIED | NAT_SF_INBOUND */
		struct nat_session s = {
			.proto = protos[p], .state = st, .flags = fl,
			.int_ip = 0xc0a80102, .int_port = 5000, .ext_ip = 0xcb007101,
			.ext_port = 5000, .rem_ip = 0x08080808, .rem_port = 53,
			.created_us = T0, .expires_us = EXP,
		};
		struct store_entry e, d;
		uint8_t back_st, back_fl;
		char path[64], val[512], line[STORE_FMT_MAX];
		int n;

		store_entry_from_nat(&e, &s);
		store_nat_remote_to(&back_st, &back_fl, s.proto, &e.nat.remote[0]);
		assert_int_equal(back_st, st);
		assert_int_equal(back_fl, fl);
		/* Through the stored text: the reply survives, who began it does not. */
		assert_true(store_entry_path(path, sizeof(path), &e) > 0);
		assert_true((n = store_entry_encode(val, sizeof(val), &e, NULL, 0)) > 0);
		assert_int_equal(store_entry_decode(&d, path, val, (size_t)n, NULL, 0), 0);
		store_nat_remote_to(&back_st, &back_fl, s.proto, &d.nat.remote[0]);
		assert_int_equal(back_st, st);
		assert_int_equal(back_fl, fl & NAT_SF_REPLIED);
		assert_int_equal(store_nat_replied(&d.nat.remote[0]), !!(fl & NAT_SF_REPLIED));
		if (s.proto == IPPROTO_TCP) {
			store_fmt_conntrack(line, sizeof(line), &d.nat, EXP);
			assert_memory_equal(line + 13, nat_tcp_state_name(st),
			    strlen(nat_tcp_state_name(st)));
		}
		store_fmt_conntrack(line, sizeof(line), &d.nat, EXP);
		assert_int_equal(strstr(line, "[UNREPLIED]") != NULL, !(fl & NAT_SF_REPLIED));
	}
}

static void
format_codec__unreplied_token_strict(void **state)
{
	struct store_entry e;
	const char *head = "created 1429688400.000000\nexpires 1429688430.000000\n"
	    "external 203.0.113.1:61001\n";
	char t[256];

	(void)state;
	snprintf(t, sizeof(t), "%sremote 8.8.8.8:53 syn-sent unreplied\n", head);
	assert_int_equal(store_entry_decode(&e, "nat/tcp/192.168.1/2/5000", t, strlen(t),
	    NULL, 0), 0);
	assert_int_equal(e.nat.remote[0].state, STORE_NAT_SYN_SENT);
	assert_int_equal(e.nat.remote[0].flags, STORE_NAT_UNREPLIED);
	/* UDP says it with "new"; TCP's legacy new has no reply to lack */
	assert_int_equal(store_entry_decode(&e, "nat/udp/192.168.1/2/5000", t, strlen(t),
	    NULL, 0), STORE_EPARSE);
	snprintf(t, sizeof(t), "%sremote 8.8.8.8:53 established unreplied\n", head);
	assert_int_equal(store_entry_decode(&e, "nat/udp/192.168.1/2/5000", t, strlen(t),
	    NULL, 0), STORE_EPARSE);
	snprintf(t, sizeof(t), "%sremote 8.8.8.8:53 new unreplied\n", head);
	assert_int_equal(store_entry_decode(&e, "nat/tcp/192.168.1/2/5000", t, strlen(t),
	    NULL, 0), STORE_EPARSE);
	snprintf(t, sizeof(t), "%sremote 8.8.8.8:53 time-wait  unreplied\n", head);
	assert_int_equal(store_entry_decode(&e, "nat/tcp/192.168.1/2/5000", t, strlen(t),
	    NULL, 0), STORE_EPARSE);
	snprintf(t, sizeof(t), "%sremote 8.8.8.8:53 time-wait\n", head);
	assert_int_equal(store_entry_decode(&e, "nat/tcp/192.168.1/2/5000", t, strlen(t),
	    NULL, 0), 0);
	assert_int_equal(store_entry_decode(&e, "nat/icmp/192.168.1/2/5000", t, strlen(t),
	    NULL, 0), STORE_EPARSE);
	/* An address with a leading zero is not the canonical text */
	snprintf(t, sizeof(t), "%sremote 8.8.8.08:53 new\n", head);
	assert_int_equal(store_entry_decode(&e, "nat/udp/192.168.1/2/5000", t, strlen(t),
	    NULL, 0), STORE_EPARSE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(format_neigh__lladdr_only_when_known),
		cmocka_unit_test(format_conntrack__udp_line_per_remote),
		cmocka_unit_test(format_conntrack__tcp_states_and_flags),
		cmocka_unit_test(format_conntrack__icmp_and_no_remote),
		cmocka_unit_test(format_conntrack__cut_short_like_snprintf),
		cmocka_unit_test(format_json__arp_and_nat_objects),
		cmocka_unit_test(format_conntrack_json__live_session),
		cmocka_unit_test(format_change__commit_message_lines),
		cmocka_unit_test(format_vocabulary__netfn_states_round_trip),
		cmocka_unit_test(format_codec__unreplied_token_strict),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

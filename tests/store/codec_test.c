/* SPDX-License-Identifier: ISC */
/*
 * Table codecs: exact paths and texts for known entries, round trips, and
 * every kind of malformed entry file rejected with a message naming it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <string.h>

#include "store/store.h"

static const char *const ifnames[] = { "inside", "outside" };

static struct store_entry
arp_sample(void)
{
	struct store_entry e;

	memset(&e, 0, sizeof(e));
	e.table = EV_TABLE_ARP;
	e.arp.ip = 0x0a000002;			/* 10.0.0.2 */
	memcpy(e.arp.mac, "\x02\x50\x2a\x16\x6d\x01", 6);
	e.arp.state = ARP_REACHABLE;
	e.arp.ifidx = 0;
	e.arp.updated_us = 1429688404645130ULL;
	e.arp.expires_us = 1429688434645130ULL;
	return e;
}

static struct store_entry
nat_sample(void)
{
	struct store_entry e;

	memset(&e, 0, sizeof(e));
	e.table = EV_TABLE_NAT;
	e.nat.proto = IPPROTO_TCP;
	e.nat.in_ip = 0xc0a80102;		/* 192.168.1.2 */
	e.nat.in_port = 51000;
	e.nat.ext_ip = 0xcb007101;		/* 203.0.113.1 */
	e.nat.ext_port = 61001;
	e.nat.nremote = 2;
	e.nat.remote[0] = (struct store_nat_remote){ 0xc6336409, 443, STORE_NAT_ESTABLISHED };
	e.nat.remote[1] = (struct store_nat_remote){ 0xc633640a, 80, STORE_NAT_NEW };
	e.nat.created_us = 1429688400000001ULL;
	e.nat.expires_us = 1429696000000000ULL;
	return e;
}

static void
codec_path__arp_and_nat_layout(void **state)
{
	struct store_entry a = arp_sample(), n = nat_sample();
	char p[64];

	(void)state;
	assert_int_equal(store_entry_path(p, sizeof(p), &a), 12);
	assert_string_equal(p, "arp/10.0.0/2");
	assert_int_equal(store_entry_path(p, sizeof(p), &n), 25);
	assert_string_equal(p, "nat/tcp/192.168.1/2/51000");
	n.nat.proto = IPPROTO_ICMP;
	n.nat.in_port = 7;
	store_entry_path(p, sizeof(p), &n);
	assert_string_equal(p, "nat/icmp/192.168.1/2/7");
	n.nat.proto = 47;			/* GRE: no layout */
	assert_int_equal(store_entry_path(p, sizeof(p), &n), STORE_EINVAL);
	assert_int_equal(store_entry_path(p, 8, &a), STORE_EINVAL);
}

static void
codec_encode__arp_exact_text(void **state)
{
	struct store_entry e = arp_sample();
	char buf[512];
	int n;

	(void)state;
	n = store_entry_encode(buf, sizeof(buf), &e, ifnames, 2);
	assert_string_equal(buf,
	    "expires 1429688434.645130\n"
	    "learned-on inside\n"
	    "lladdr 02:50:2a:16:6d:01\n"
	    "state REACHABLE\n"
	    "updated 1429688404.645130\n");
	assert_int_equal(n, (int)strlen(buf));
	e.arp.expires_us = 0;
	e.arp.ifidx = 5;
	e.arp.state = ARP_PERMANENT;
	store_entry_encode(buf, sizeof(buf), &e, ifnames, 2);
	assert_string_equal(buf,
	    "expires never\n"
	    "learned-on if5\n"
	    "lladdr 02:50:2a:16:6d:01\n"
	    "state PERMANENT\n"
	    "updated 1429688404.645130\n");
}

static void
codec_encode__nat_exact_text_remotes_sorted(void **state)
{
	struct store_entry e = nat_sample();
	char buf[512];

	(void)state;
	store_entry_encode(buf, sizeof(buf), &e, NULL, 0);
	/* 198.51.100.10 sorts before 198.51.100.9 as text. */
	assert_string_equal(buf,
	    "created 1429688400.000001\n"
	    "expires 1429696000.000000\n"
	    "external 203.0.113.1:61001\n"
	    "remote 198.51.100.10:80 new\n"
	    "remote 198.51.100.9:443 established\n");
}

/*
 * Issue 17 item 10: a mapping's blob lists as many remotes as an event names
 * (STORE_NAT_REMOTES, 16), and the longest such entry still fits the store's
 * value buffer (1024 bytes, STORE_VALUE_MAX in store/schema.h) and decodes back whole.
 */
static void
codec_decode__nat_round_trips_every_remote(void **state)
{
	struct store_entry e = nat_sample(), out;
	char buf[1024], p[128];
	int len;

	(void)state;
	e.nat.ext_ip = 0xffffff01;
	e.nat.ext_port = 65535;
	e.nat.expires_us = 4102444800999999ULL;
	e.nat.created_us = 4102444800999999ULL;
	e.nat.nremote = STORE_NAT_REMOTES;
	assert_true(STORE_NAT_REMOTES >= 16);
	for (unsigned i = 0; i < STORE_NAT_REMOTES; i++)
		/* widest text first: 255.255.255.1xx:65535 "established" */
		e.nat.remote[i] = (struct store_nat_remote){ 0xffffff64 + i, 65535,
		    STORE_NAT_ESTABLISHED };
	/* ... and how many sessions it had past them, at the widest. */
	e.nat.unlisted = UINT32_MAX;
	len = store_entry_encode(buf, sizeof(buf), &e, NULL, 0);
	assert_true(len > 16 * 40);
	assert_non_null(strstr(buf, "established\nunlisted 4294967295\n"));
	store_entry_path(p, sizeof(p), &e);
	assert_int_equal(store_entry_decode(&out, p, buf, (size_t)len, NULL, 0), 0);
	assert_int_equal(out.nat.nremote, STORE_NAT_REMOTES);
	assert_int_equal(out.nat.unlisted, UINT32_MAX);
	for (unsigned i = 0; i < STORE_NAT_REMOTES; i++)
		assert_memory_equal(&out.nat.remote[i], &e.nat.remote[i],
		    sizeof(e.nat.remote[i]));
	/* None past them: no line, as before the key existed. */
	e.nat.unlisted = 0;
	len = store_entry_encode(buf, sizeof(buf), &e, NULL, 0);
	assert_null(strstr(buf, "unlisted"));
	assert_int_equal(store_entry_decode(&out, p, buf, (size_t)len, NULL, 0), 0);
	assert_int_equal(out.nat.unlisted, 0);
}

static void
codec_decode__round_trips(void **state)
{
	struct store_entry a = arp_sample(), n = nat_sample(), out;
	char buf[512], p[64];
	int len;

	(void)state;
	for (int s = 0; s < ARP_STATE_MAX; s++) {
		a.arp.state = (uint8_t)s;
		a.arp.ifidx = (uint8_t)(s % 3);
		len = store_entry_encode(buf, sizeof(buf), &a, ifnames, 2);
		store_entry_path(p, sizeof(p), &a);
		assert_int_equal(store_entry_decode(&out, p, buf, (size_t)len, ifnames, 2), 0);
		assert_memory_equal(&out.arp, &a.arp, sizeof(a.arp));
	}
	/* Remotes in text order, so the decoded entry re-encodes identically. */
	n.nat.remote[0] = (struct store_nat_remote){ 0xc633640a, 80, STORE_NAT_NEW };
	n.nat.remote[1] = (struct store_nat_remote){ 0xc6336409, 443, STORE_NAT_ESTABLISHED };
	for (unsigned r = 0; r <= 2; r++) {
		n.nat.nremote = (uint8_t)r;
		memset(&out, 0x5a, sizeof(out));
		len = store_entry_encode(buf, sizeof(buf), &n, NULL, 0);
		store_entry_path(p, sizeof(p), &n);
		assert_int_equal(store_entry_decode(&out, p, buf, (size_t)len, NULL, 0), 0);
		assert_int_equal(out.table, EV_TABLE_NAT);
		assert_int_equal(out.nat.proto, IPPROTO_TCP);
		assert_int_equal(out.nat.in_ip, 0xc0a80102);
		assert_int_equal(out.nat.in_port, 51000);
		assert_int_equal(out.nat.ext_ip, 0xcb007101);
		assert_int_equal(out.nat.ext_port, 61001);
		assert_int_equal(out.nat.nremote, r);
		for (unsigned i = 0; i < r; i++)
			assert_memory_equal(&out.nat.remote[i], &n.nat.remote[i],
			    sizeof(n.nat.remote[i]));
		assert_true(out.nat.created_us == n.nat.created_us);
		assert_true(out.nat.expires_us == n.nat.expires_us);
	}
}

static void
codec_decode__unknown_interface_without_names(void **state)
{
	struct store_entry a = arp_sample(), out;
	char buf[512];
	int len;

	(void)state;
	len = store_entry_encode(buf, sizeof(buf), &a, ifnames, 2);
	/* Merge and tools decode without the name table: kept as unknown. */
	assert_int_equal(store_entry_decode(&out, "arp/10.0.0/2", buf, (size_t)len, NULL, 0), 0);
	assert_int_equal(out.arp.ifidx, 255);
	/* With a table that lacks the name: an error. */
	assert_int_equal(store_entry_decode(&out, "arp/10.0.0/2", buf, (size_t)len,
	    ifnames + 1, 1), STORE_EPARSE);
}

static void
codec_decode__rejects_bad_paths(void **state)
{
	static const char *const bad[] = {
		"arp/10.0.0", "arp/10.0.0/256", "arp/10.0.0/02", "arp/10.0/2",
		"arp/10.0.0.1/2", "arp/10.0.0/2/3", "arp/10.0.0/-1", "arp//2",
		"nat/sctp/192.168.1/2/5", "nat/tcp/192.168.1/2/65536",
		"nat/tcp/192.168.1/2", "meta/schema", "", "arpx/10.0.0/2",
	};
	const char *text = "expires never\nlearned-on if0\nlladdr 02:50:2a:16:6d:01\n"
	    "state STALE\nupdated 1.000000\n";
	struct store_entry out;

	(void)state;
	assert_int_equal(store_entry_decode(&out, "arp/10.0.0/2", text, strlen(text),
	    NULL, 0), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(store_entry_decode(&out, bad[i], text, strlen(text), NULL, 0),
		    STORE_EPARSE);
		assert_non_null(strstr(store_strerror(), "not an entry path"));
	}
}

static void
codec_decode__rejects_bad_values_naming_path_and_line(void **state)
{
	static const struct {
		const char *text, *msg;
	} bad[] = {
		{ "expires never\nlearned-on if0\nlladdr 02:50:2a:16:6d:01\nstate STALE\n",
		  "arp/10.0.0/2: missing keys" },
		{ "expires never\nlearned-on if0\nlladdr 02:50:2a:16:6d:01\nstate STALE\n"
		  "updated 1.000000", "arp/10.0.0/2: line 5: no newline" },
		{ "expires soon\n", "arp/10.0.0/2: line 1: bad expires 'soon'" },
		{ "expires 1.00000\n", "line 1: bad expires" },
		{ "expires 1.0000000\n", "line 1: bad expires" },
		{ "lladdr 02:50:2a:16:6d\n", "line 1: bad lladdr" },
		{ "lladdr 02:50:2A:16:6d:01\n", "line 1: bad lladdr" },
		{ "state WEIRD\n", "line 1: bad state 'WEIRD'" },
		{ "colour blue\n", "line 1: unknown key 'colour'" },
		{ "external 1.2.3.4:5\n", "line 1: unknown key 'external'" },
		{ "expires never\nexpires never\n", "line 2: expires given twice" },
		{ "novalue\n", "line 1: no value" },
	};
	struct store_entry out;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(store_entry_decode(&out, "arp/10.0.0/2", bad[i].text,
		    strlen(bad[i].text), NULL, 0), STORE_EPARSE);
		if (strstr(store_strerror(), bad[i].msg) == NULL)
			fail_msg("case %zu: '%s' lacks '%s'", i, store_strerror(), bad[i].msg);
	}
}

static void
codec_decode__nat_rejects_bad_values(void **state)
{
	static const char *const bad[] = {
		"created 1.000000\nexpires never\nexternal 203.0.113.1\n",
		"created 1.000000\nexpires never\nexternal 203.0.113.1:65536\n",
		"created 1.000000\nexpires never\nexternal 203.0.113.256:1\n",
		"created 1.000000\nexpires never\nexternal 203.0.113.1:1\nremote 1.2.3.4:5\n",
		"created 1.000000\nexpires never\nexternal 203.0.113.1:1\nremote 1.2.3.4:5 open\n",
		"created 1.000000\nexpires never\nexternal 203.0.113.1:1\n"
		"remote 1.2.3.4:5 new\nremote 1.2.3.4:6 new\nremote 1.2.3.4:7 new\nremote 1.2.3.4:8 new\nremote 1.2.3.4:9 new\nremote 1.2.3.4:10 new\nremote 1.2.3.4:11 new\nremote 1.2.3.4:12 new\nremote 1.2.3.4:13 new\nremote 1.2.3.4:14 new\nremote 1.2.3.4:15 new\nremote 1.2.3.4:16 new\nremote 1.2.3.4:17 new\nremote 1.2.3.4:18 new\nremote 1.2.3.4:19 new\nremote 1.2.3.4:20 new\nremote 1.2.3.4:21 new\n",
		"created 1.000000\nexpires never\n",
		"created 0.000000\nexpires never\nexternal 203.0.113.1:1\n",
		/* unlisted: a canonical count above 0, once */
		"created 1.000000\nexpires never\nexternal 203.0.113.1:1\nunlisted 0\n",
		"created 1.000000\nexpires never\nexternal 203.0.113.1:1\nunlisted 07\n",
		"created 1.000000\nexpires never\nexternal 203.0.113.1:1\nunlisted 4294967296\n",
		"created 1.000000\nexpires never\nexternal 203.0.113.1:1\nunlisted 3x\n",
		"created 1.000000\nexpires never\nexternal 203.0.113.1:1\nunlisted 3\nunlisted 3\n",
	};
	struct store_entry out;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (store_entry_decode(&out, "nat/udp/10.1.2/3/4", bad[i], strlen(bad[i]),
		    NULL, 0) != STORE_EPARSE)
			fail_msg("case %zu accepted", i);
	{
		const char *ok = "created 1.000000\nexpires never\nexternal 203.0.113.1:1\n";

		assert_int_equal(store_entry_decode(&out, "nat/udp/10.1.2/3/4", ok,
		    strlen(ok), NULL, 0), 0);
	}
	assert_int_equal(out.nat.proto, IPPROTO_UDP);
	assert_int_equal(out.nat.in_ip, 0x0a010203);
	assert_int_equal(out.nat.in_port, 4);
}

static void
codec_time_fmt__six_digits_and_never(void **state)
{
	char b[24];

	(void)state;
	assert_string_equal(store_time_fmt(b, 1429688434645130ULL), "1429688434.645130");
	assert_string_equal(store_time_fmt(b, 1000001), "1.000001");
	assert_string_equal(store_time_fmt(b, 0), "never");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(codec_path__arp_and_nat_layout),
		cmocka_unit_test(codec_encode__arp_exact_text),
		cmocka_unit_test(codec_encode__nat_exact_text_remotes_sorted),
		cmocka_unit_test(codec_decode__round_trips),
		cmocka_unit_test(codec_decode__nat_round_trips_every_remote),
		cmocka_unit_test(codec_decode__unknown_interface_without_names),
		cmocka_unit_test(codec_decode__rejects_bad_paths),
		cmocka_unit_test(codec_decode__rejects_bad_values_naming_path_and_line),
		cmocka_unit_test(codec_decode__nat_rejects_bad_values),
		cmocka_unit_test(codec_time_fmt__six_digits_and_never),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: ISC */
/*
 * meta/router codec and the writer's branch option: a full setup round
 * trips through the exact text; the four lines older routers wrote decode
 * with defaults for the rest; garbage is refused naming the line; a store
 * opened on another branch from a base commits and ticks there only, and
 * meta/router is read back at a revision without the lock.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <string.h>

#define FX_NAME "gitnet-meta"
#include "fixture.h"

static void
sample(struct store_router *r)
{
	store_router_default(r);
	snprintf(r->id, sizeof(r->id), "rtr1");
	r->iface[0] = (struct store_router_iface){ .dev = "veth-in", .addr = 0xc0a80101,
	    .plen = 24, .set = true, .has_mac = true, .mac = { 2, 0, 0, 0, 0, 1 }, .mtu = 1500 };
	r->iface[1] = (struct store_router_iface){ .dev = "veth-out", .addr = 0xcb007101,
	    .plen = 24, .set = true, .has_mac = true, .mac = { 2, 0, 0, 0, 0, 2 }, .mtu = 9000 };
	r->nat = true;
	r->gateway = 0xcb0071fe;
	r->nroutes = 1;
	r->routes[0].prefix = 0x0a000000;
	r->routes[0].plen = 8;
	r->routes[0].gw = 0xc0a801fe;
	r->narp = 1;
	r->arp[0].ip = 0xc0a80102;
	memcpy(r->arp[0].mac, "\x02\x50\x2a\x16\x6d\x01", 6);
	r->nforwards = 2;
	r->forwards[0].proto = IPPROTO_TCP;
	r->forwards[0].ext_port = 8080;
	r->forwards[0].int_ip = 0xc0a80102;
	r->forwards[0].int_port = 80;
	r->forwards[1].proto = IPPROTO_UDP;
	r->forwards[1].ext_port = 5353;
	r->forwards[1].int_ip = 0xc0a80103;
	r->forwards[1].int_port = 53;
	r->npool = 1;
	r->pool[0] = 0xcb007102;
	r->nat_params.filtering = NAT_FILTER_ENDPOINT;
	r->nat_params.udp_timeout_s = 2;
	r->nat_params.icmp_timeout_s = 3;
	r->nat_params.max_per_host = 0;
	r->arp_params.base_reachable_ms = 10000;
	r->icmp_rate = 0;
	r->window_ms = 50;
	r->tick_ms = 250;
}

static const char sample_text[] =
	"id rtr1\n"
	"inside veth-in 192.168.1.1/24\n"
	"outside veth-out 203.0.113.1/24\n"
	"nat on\n"
	"inside.mac 02:00:00:00:00:01\n"
	"inside.mtu 1500\n"
	"outside.mac 02:00:00:00:00:02\n"
	"outside.mtu 9000\n"
	"gateway 203.0.113.254\n"
	"route 10.0.0.0/8=192.168.1.254\n"
	"arp 192.168.1.2=02:50:2a:16:6d:01\n"
	"forward tcp:8080=192.168.1.2:80\n"
	"forward udp:5353=192.168.1.3:53\n"
	"nat.pool 203.0.113.2\n"
	"nat.filtering endpoint\n"
	"nat.udp_timeout_s 2\n"
	"nat.tcp_established_timeout_s 7440\n"
	"nat.tcp_transitory_timeout_s 240\n"
	"nat.icmp_timeout_s 3\n"
	"nat.max_sessions 1048576\n"
	"nat.max_per_host 0\n"
	"nat.port_min 1024\n"
	"nat.port_max 65535\n"
	"arp.base_reachable_ms 10000\n"
	"arp.delay_first_probe_ms 5000\n"
	"arp.retrans_ms 1000\n"
	"arp.ucast_probes 3\n"
	"arp.mcast_probes 3\n"
	"arp.gc_stale_ms 60000\n"
	"arp.max_entries 1024\n"
	"arp.unres_qlen 8\n"
	"arp.unres_total 256\n"
	"icmp.rate 0\n"
	"icmp.burst 50\n"
	"state.window_ms 50\n"
	"state.tick_ms 250\n";

static void
meta_router_encode__exact_text(void **state)
{
	struct store_router r;
	char buf[4096];
	int n;

	(void)state;
	sample(&r);
	n = store_router_encode(buf, sizeof(buf), &r);
	assert_int_equal(n, (int)strlen(sample_text));
	assert_string_equal(buf, sample_text);
	/* Does not fit: refused, not cut. */
	assert_int_equal(store_router_encode(buf, 100, &r), STORE_EINVAL);
}

static void
meta_router_decode__round_trips(void **state)
{
	struct store_router r, d;
	char buf[4096], again[4096];
	int n;

	(void)state;
	sample(&r);
	n = store_router_encode(buf, sizeof(buf), &r);
	assert_true(n > 0);
	assert_int_equal(store_router_decode(&d, buf, (size_t)n), 0);
	assert_string_equal(d.id, "rtr1");
	assert_string_equal(d.iface[0].dev, "veth-in");
	assert_int_equal(d.iface[1].addr, 0xcb007101);
	assert_int_equal(d.iface[1].mtu, 9000);
	assert_memory_equal(d.iface[0].mac, r.iface[0].mac, 6);
	assert_int_equal(d.gateway, 0xcb0071fe);
	assert_int_equal(d.nroutes, 1);
	assert_int_equal(d.routes[0].gw, 0xc0a801fe);
	assert_int_equal(d.nforwards, 2);
	assert_int_equal(d.forwards[1].proto, IPPROTO_UDP);
	assert_int_equal(d.forwards[1].int_port, 53);
	assert_int_equal(d.nat_params.filtering, NAT_FILTER_ENDPOINT);
	assert_int_equal(d.nat_params.udp_timeout_s, 2);
	assert_int_equal(d.window_ms, 50);
	assert_int_equal(d.tick_ms, 250);
	assert_int_equal(store_router_encode(again, sizeof(again), &d), n);
	assert_string_equal(again, buf);
	/* Without an id the store writes its own line first. */
	d.id[0] = '\0';
	n = store_router_encode(again, sizeof(again), &d);
	assert_string_equal(again, buf + strlen("id rtr1\n"));
}

static void
meta_router_decode__old_format_gets_defaults(void **state)
{
	static const char old[] = "id host1\n"
	    "inside veth-r0 192.168.1.1/24\n"
	    "outside veth-r1 203.0.113.1/24\n"
	    "nat off\n";
	struct store_router d, def;

	(void)state;
	store_router_default(&def);
	assert_int_equal(store_router_decode(&d, old, strlen(old)), 0);
	assert_string_equal(d.id, "host1");
	assert_string_equal(d.iface[0].dev, "veth-r0");
	assert_int_equal(d.iface[0].plen, 24);
	assert_false(d.iface[0].has_mac);
	assert_int_equal(d.iface[0].mtu, 0);
	assert_false(d.nat);
	assert_int_equal(d.nforwards, 0);
	assert_int_equal(d.gateway, 0);
	assert_memory_equal(&d.nat_params, &def.nat_params, sizeof(def.nat_params));
	assert_memory_equal(&d.arp_params, &def.arp_params, sizeof(def.arp_params));
	assert_int_equal(d.window_ms, 100);
	assert_int_equal(d.tick_ms, 1000);
}

static void
meta_router_decode__rejects_garbage_naming_the_line(void **state)
{
	static const struct {
		const char *text, *msg;
	} bad[] = {
		{ "inside veth0 192.168.1.1/24\noutside veth1 10.0.0.1/33\n",
		    "meta/router: line 2: outside 'veth1 10.0.0.1/33': want DEV A.B.C.D/PLEN" },
		{ "inside veth0 192.168.1.1/24\n", "meta/router: no outside interface line" },
		{ "outside veth1 10.0.0.1/8\n", "meta/router: no inside interface line" },
		{ "inside veth0 192.168.1.1/24\noutside veth1 10.0.0.1/8\nnat maybe\n",
		    "meta/router: line 3: nat 'maybe': want on or off" },
		{ "inside veth0 192.168.1.1/24\nbogus 1\n",
		    "meta/router: line 2: bogus '1': unknown key" },
		{ "inside veth0 192.168.1.1/24\njunk\n",
		    "meta/router: line 2: 'junk' is not `key value`" },
		{ "inside veth0 192.168.1.1/24\nnat.udp_timeout_s 0\n",
		    "meta/router: line 2: nat.udp_timeout_s '0': not a number in range" },
		{ "inside veth0 192.168.1.1/24\nnat.udp_timeout_s 12x\n",
		    "meta/router: line 2: nat.udp_timeout_s '12x': not a number in range" },
		{ "inside veth0 192.168.1.1/24\nforward sctp:1=1.2.3.4:5\n",
		    "meta/router: line 2: forward 'sctp:1=1.2.3.4:5': want tcp|udp:PORT=IP:PORT" },
		{ "inside veth0 192.168.1.1/24\narp 1.2.3.4=02:00:00:00:00\n",
		    "meta/router: line 2: arp '1.2.3.4=02:00:00:00:00': want IP=MAC" },
		{ "inside veth0 192.168.1.1/24\ninside.mac zz:00:00:00:00:00\n",
		    "meta/router: line 2: inside.mac 'zz:00:00:00:00:00': not a MAC address" },
		{ "inside veth0 192.168.1.1/24\ngateway 10.0.0.256\n",
		    "meta/router: line 2: gateway '10.0.0.256': not an IPv4 address" },
		{ "inside veth0 192.168.1.1/24\noutside veth1 10.0.0.1/8\n"
		    "nat.port_min 2000\nnat.port_max 1500\n",
		    "meta/router: nat.port_min 2000 above nat.port_max 1500" },
	};
	struct store_router d;
	char nul[] = "inside veth0 192.168.1.1/24\nid a\0b\n";

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(store_router_decode(&d, bad[i].text, strlen(bad[i].text)),
		    STORE_EPARSE);
		assert_string_equal(store_strerror(), bad[i].msg);
	}
	assert_int_equal(store_router_decode(&d, nul, sizeof(nul) - 1), STORE_EPARSE);
	assert_string_equal(store_strerror(), "meta/router: line 2: a NUL byte");
}

static struct store_entry
arp_entry(uint32_t ip, uint64_t expires)
{
	struct store_entry e;

	memset(&e, 0, sizeof(e));
	e.table = EV_TABLE_ARP;
	e.arp.ip = ip;
	memcpy(e.arp.mac, "\x02\x50\x2a\x16\x6d\x01", 6);
	e.arp.state = ARP_REACHABLE;
	e.arp.updated_us = 1000000;
	e.arp.expires_us = expires;
	return e;
}

/*
 * The writer on branch "replay" from primary's first commit: commits and
 * ticks land there (tick branches replay_expire_*), primary and its tick
 * branches stay; meta/router reads back at a revision, lock or not.
 */
static void
store_open__branch_from_base(void **state)
{
	struct fx *f = *state;
	struct store_opts o;
	struct store *st, *other = NULL;
	struct store_change c = { .op = EV_ADD, .now_us = 2000000 };
	struct store_router r;
	char info[4096], first[41], hex[41];
	uint64_t t;
	const char *out;

	sample(&r);
	r.id[0] = '\0';
	assert_true(store_router_encode(info, sizeof(info), &r) > 0);
	opts(&o);
	o.router_info = info;
	st = open_ok(f->repo, &o);
	c.e = arp_entry(0x0a000002, 3000000);
	assert_int_equal(store_record(st, &c), 0);
	assert_int_equal(store_commit(st, 2000000, NULL), 0);
	assert_int_equal(store_close(st), 0);
	snprintf(first, sizeof(first), "%s", sh("git --git-dir=%s rev-list --reverse primary | "
	    "head -n 1 | tr -d '\\n'", f->repo));
	/* Read without the lock while a writer holds it. */
	st = open_ok(f->repo, &o);
	assert_int_equal(store_router_at(&r, hex, &t, f->repo, "primary"), 0);
	assert_string_equal(r.id, "r1");
	assert_int_equal(r.tick_ms, 250);
	assert_int_equal(store_router_at(&r, hex, &t, f->repo, "nosuch"), GIT_ENOTFOUND);
	assert_string_equal(store_strerror(), "unknown revision 'nosuch'");
	/* A second writer on another branch: still refused while locked. */
	opts(&o);
	o.router_info = NULL;
	o.branch = "replay";
	o.base = first;
	assert_int_equal(store_open(&other, f->repo, &o), STORE_ELOCKED);
	store_free(st);

	o.branch = "no such/..";
	assert_int_equal(store_open(&other, f->repo, &o), STORE_EINVAL);
	o.branch = "replay";
	o.base = NULL;
	assert_int_equal(store_open(&other, f->repo, &o), GIT_ENOTFOUND);
	o.base = first;
	st = open_ok(f->repo, &o);
	assert_string_equal(sh("git --git-dir=%s rev-parse -q --verify replay || echo none",
	    f->repo), "none\n");
	c.now_us = 5000000;
	c.e = arp_entry(0x0a000003, 6000000);
	assert_int_equal(store_record(st, &c), 0);
	assert_int_equal(store_commit(st, 5000000, NULL), 0);
	assert_int_equal(store_tick(st, 7000000), 0);	/* ages 10.0.0.3 out */
	assert_int_equal(store_close(st), 0);
	out = sh("git --git-dir=%s log --format=%%s replay", f->repo);
	assert_string_equal(out, "tick: merge replay_expire_7.000000\n"
	    "tick: age out 1 arp entry\n"
	    "arp: add 10.0.0.3 -> 02:50:2a:16:6d:01\n"
	    "store: create empty tables\n");
	assert_string_equal(sh("git --git-dir=%s for-each-ref --format='%%(refname:short)' "
	    "refs/heads/", f->repo), "primary\nreplay\nreplay_expire_7.000000\n");
	assert_string_equal(sh("git --git-dir=%s log --format=%%s -1 primary", f->repo),
	    "arp: add 10.0.0.2 -> 02:50:2a:16:6d:01\n");
	/* Opened again: the branch exists, the base is not needed. */
	o.base = NULL;
	st = open_ok(f->repo, &o);
	assert_int_equal(store_close(st), 0);
	assert_fsck(f->repo);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(meta_router_encode__exact_text),
		cmocka_unit_test(meta_router_decode__round_trips),
		cmocka_unit_test(meta_router_decode__old_format_gets_defaults),
		cmocka_unit_test(meta_router_decode__rejects_garbage_naming_the_line),
		cmocka_unit_test_setup_teardown(store_open__branch_from_base, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

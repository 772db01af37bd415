/* SPDX-License-Identifier: ISC */
/*
 * The table-aware merge, rule by rule, with the exact resulting entries:
 * one-sided add/remove, modify/delete (a refresh beats an expiry), ARP
 * newer-wins and MAC clash, NAT refresh, NAT clash on one inside endpoint
 * and on one external port; then the same merge through stock `git merge`
 * with the store's merge driver, which must give the same tree.
 *
 * Ours is built on primary through the store; theirs is built beside it
 * with git_tree_create_updated from the common base and merged with
 * store_merge(). The binary doubles as the merge driver (--merge-driver).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"

#define FX_OWN_FIXTURE
#include "tests/store/fixture.h"

#define T0	1429688300000000ULL
#define S(x)	(T0 + (uint64_t)(x) * 1000000)

static const uint8_t mac1[6] = { 0x02, 0x50, 0x2a, 0x16, 0x6d, 0x01 };
static const uint8_t mac2[6] = { 0x02, 0x50, 0x2a, 0x16, 0x6d, 0x02 };

struct fx {
	char		dir[64];
	char		repo[96];
	struct store	*st;
	git_oid		base;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct store_opts o;

	if (fx_mkdir(f->dir, sizeof(f->dir), f->repo, sizeof(f->repo), "merge_test") < 0)
		return -1;
	store_opts_default(&o);
	o.router_id = "r1";
	o.fsync = false;
	if (store_open(&f->st, f->repo, &o) != 0)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	int error;

	store_free(f->st);
	error = fx_rmdir(f->dir);
	free(f);
	return error;
}

static struct store_entry
arp(uint32_t ip, const uint8_t mac[6], uint64_t updated, uint64_t expires)
{
	struct store_entry e;

	memset(&e, 0, sizeof(e));
	e.table = EV_TABLE_ARP;
	e.arp.ip = ip;
	memcpy(e.arp.mac, mac, 6);
	e.arp.state = ARP_REACHABLE;
	e.arp.updated_us = updated;
	e.arp.expires_us = expires;
	return e;
}

static struct store_entry
nat(uint32_t in_ip, uint16_t in_port, uint16_t ext_port, uint64_t created,
    uint64_t expires)
{
	struct store_entry e;

	memset(&e, 0, sizeof(e));
	e.table = EV_TABLE_NAT;
	e.nat.proto = IPPROTO_TCP;
	e.nat.in_ip = in_ip;
	e.nat.in_port = in_port;
	e.nat.ext_ip = 0xcb007101;
	e.nat.ext_port = ext_port;
	e.nat.created_us = created;
	e.nat.expires_us = expires;
	return e;
}

/* Ours: record on primary and commit. */
static void
ours(struct fx *f, uint8_t op, struct store_entry e, uint64_t now)
{
	struct store_change c;

	memset(&c, 0, sizeof(c));
	c.op = op;
	c.now_us = now;
	c.e = e;
	assert_int_equal(store_record(f->st, &c), 0);
	if (store_commit(f->st, now, NULL) != 0)
		fail_msg("commit: %s", store_strerror());
}

static void
base_done(struct fx *f)
{
	assert_int_equal(store_flush(f->st), 0);
	git_oid_cpy(&f->base, store_goid(store_head(f->st)));
}

/* Theirs: v[0..n) set or removed on top of base, as branch "theirs". */
static void
theirs(struct fx *f, const struct their *v, size_t n, uint64_t now)
{
	fx_branch(f->st, "refs/heads/theirs", &f->base, v, n, now, NULL, 0);
}

static int
merge(struct fx *f, uint64_t now)
{
	int n = store_merge(f->st, "theirs", now);

	if (n < 0)
		fail_msg("store_merge: %s", store_strerror());
	assert_int_equal(store_flush(f->st), 0);
	return n;
}

static const char *
tree_of(struct fx *f)
{
	return sh("git --git-dir=%s ls-tree -r --name-only primary | grep -v ^meta/",
	    f->repo);
}

static const char *
show(struct fx *f, const char *path)
{
	return sh("git --git-dir=%s show primary:%s", f->repo, path);
}

static const char *
text(struct store_entry e)
{
	static char buf[512];

	store_entry_encode(buf, sizeof(buf), &e, NULL, 0);
	return buf;
}

static void
merge__one_sided_adds_and_removes(void **state)
{
	struct fx *f = *state;
	struct their t[2];

	ours(f, EV_ADD, arp(0x0a000001, mac1, S(1), S(100)), S(1));
	ours(f, EV_ADD, arp(0x0a000002, mac1, S(1), S(100)), S(1));
	ours(f, EV_ADD, arp(0x0a000003, mac1, S(1), S(100)), S(1));
	base_done(f);
	ours(f, EV_ADD, arp(0x0a000104, mac1, S(2), S(100)), S(2));	/* ours adds */
	ours(f, EV_REMOVE, arp(0x0a000001, mac1, 0, 0), S(2));		/* ours removes */
	t[0] = (struct their){ arp(0x0a000205, mac2, S(3), S(100)), false };
	t[1] = (struct their){ arp(0x0a000002, mac1, 0, 0), true };
	theirs(f, t, 2, S(3));
	assert_int_equal(merge(f, S(4)), 0);
	assert_string_equal(tree_of(f), "arp/10.0.0/3\narp/10.0.1/4\narp/10.0.2/5\n");
	assert_string_equal(show(f, "arp/10.0.2/5"), text(t[0].e));
	assert_string_equal(sh("git --git-dir=%s log -1 --format=%%B primary", f->repo),
	    "merge theirs\n\n");
	assert_string_equal(sh("git --git-dir=%s rev-list --parents -n1 primary | wc -w",
	    f->repo), "3\n");
	assert_fsck(f->repo);
}

static void
merge__refresh_beats_removal_on_either_side(void **state)
{
	struct fx *f = *state;
	struct their t[2];
	struct store_entry a = arp(0x0a000001, mac1, S(1), S(10));
	struct store_entry b = arp(0x0a000002, mac1, S(1), S(10));
	struct store_entry a2 = arp(0x0a000001, mac1, S(5), S(35));
	struct store_entry b2 = arp(0x0a000002, mac1, S(6), S(36));

	ours(f, EV_ADD, a, S(1));
	ours(f, EV_ADD, b, S(1));
	ours(f, EV_ADD, arp(0x0a000003, mac1, S(1), S(10)), S(1));
	base_done(f);
	ours(f, EV_UPDATE, a2, S(5));				/* ours refreshes a */
	ours(f, EV_REMOVE, b, S(5));				/* ours expires b */
	ours(f, EV_REMOVE, arp(0x0a000003, mac1, 0, 0), S(5));	/* both remove 3 */
	t[0] = (struct their){ a, true };			/* theirs expires a */
	t[1] = (struct their){ b2, false };			/* theirs refreshes b */
	theirs(f, t, 2, S(6));
	{
		struct their t3[3] = { t[0], t[1], { arp(0x0a000003, mac1, 0, 0), true } };

		theirs(f, t3, 3, S(6));
	}
	assert_int_equal(merge(f, S(7)), 0);
	assert_string_equal(tree_of(f), "arp/10.0.0/1\narp/10.0.0/2\n");
	assert_string_equal(show(f, "arp/10.0.0/1"), text(a2));
	assert_string_equal(show(f, "arp/10.0.0/2"), text(b2));
	assert_fsck(f->repo);
}

static void
merge__arp_newer_updated_wins_same_mac(void **state)
{
	struct fx *f = *state;
	struct their t[2];
	struct store_entry o1 = arp(0x0a000001, mac1, S(9), S(39));	/* ours newer */
	struct store_entry t1 = arp(0x0a000001, mac1, S(8), S(38));
	struct store_entry o2 = arp(0x0a000002, mac1, S(5), S(35));
	struct store_entry t2 = arp(0x0a000002, mac1, S(6), S(36));	/* theirs newer */

	ours(f, EV_ADD, arp(0x0a000001, mac1, S(1), S(10)), S(1));
	ours(f, EV_ADD, arp(0x0a000002, mac1, S(1), S(10)), S(1));
	base_done(f);
	ours(f, EV_UPDATE, o1, S(9));
	ours(f, EV_UPDATE, o2, S(9));
	t[0] = (struct their){ t1, false };
	t[1] = (struct their){ t2, false };
	theirs(f, t, 2, S(9));
	assert_int_equal(merge(f, S(10)), 0);
	assert_string_equal(tree_of(f), "arp/10.0.0/1\narp/10.0.0/2\n");
	assert_string_equal(show(f, "arp/10.0.0/1"), text(o1));
	assert_string_equal(show(f, "arp/10.0.0/2"), text(t2));
	assert_fsck(f->repo);
}

static void
merge__arp_mac_clash_recorded(void **state)
{
	struct fx *f = *state;
	struct their t[1];
	struct store_entry o = arp(0x0a000005, mac1, S(5), S(35));
	struct store_entry th = arp(0x0a000005, mac2, S(6), S(36));	/* newer, other MAC */

	ours(f, EV_ADD, arp(0x0a000005, mac1, S(1), S(10)), S(1));
	base_done(f);
	ours(f, EV_UPDATE, o, S(5));
	t[0] = (struct their){ th, false };
	theirs(f, t, 1, S(6));
	assert_int_equal(merge(f, S(7)), 1);
	assert_string_equal(tree_of(f), "arp/10.0.0/5\nconflicts/arp/10.0.0/5\n");
	assert_string_equal(show(f, "arp/10.0.0/5"), text(th));
	assert_string_equal(show(f, "conflicts/arp/10.0.0/5"), text(o));
	assert_string_equal(sh("git --git-dir=%s log -1 --format=%%B primary", f->repo),
	    "merge theirs\n\n"
	    "Conflict: arp 10.0.0.5 lladdr 02:50:2a:16:6d:01 updated 1429688305.000000 "
	    "(kept arp 10.0.0.5 lladdr 02:50:2a:16:6d:02 updated 1429688306.000000)\n\n");
	assert_fsck(f->repo);
}

static void
merge__arp_added_on_both_sides(void **state)
{
	struct fx *f = *state;
	struct their t[1];
	struct store_entry o = arp(0x0a000007, mac2, S(5), S(35));	/* newer */
	struct store_entry th = arp(0x0a000007, mac1, S(4), S(34));

	base_done(f);
	ours(f, EV_ADD, o, S(5));
	t[0] = (struct their){ th, false };
	theirs(f, t, 1, S(6));
	assert_int_equal(merge(f, S(7)), 1);
	assert_string_equal(show(f, "arp/10.0.0/7"), text(o));
	assert_string_equal(show(f, "conflicts/arp/10.0.0/7"), text(th));
}

static void
merge__nat_refresh_and_clash_on_one_endpoint(void **state)
{
	struct fx *f = *state;
	struct their t[2];
	/* 192.168.1.2:51000 refreshed on both: the later expiry wins. */
	struct store_entry r_o = nat(0xc0a80102, 51000, 61001, S(1), S(400));
	struct store_entry r_t = nat(0xc0a80102, 51000, 61001, S(1), S(500));
	/* 192.168.1.3:4000 added on both with different external ports. */
	struct store_entry c_o = nat(0xc0a80103, 4000, 62000, S(3), S(300));	/* newer */
	struct store_entry c_t = nat(0xc0a80103, 4000, 62001, S(2), S(300));	/* older */

	ours(f, EV_ADD, nat(0xc0a80102, 51000, 61001, S(1), S(100)), S(1));
	base_done(f);
	ours(f, EV_UPDATE, r_o, S(3));
	ours(f, EV_ADD, c_o, S(3));
	t[0] = (struct their){ r_t, false };
	t[1] = (struct their){ c_t, false };
	theirs(f, t, 2, S(4));
	assert_int_equal(merge(f, S(5)), 1);
	assert_string_equal(tree_of(f), "conflicts/nat/tcp/192.168.1/3/4000\n"
	    "nat/tcp/192.168.1/2/51000\nnat/tcp/192.168.1/3/4000\n");
	assert_string_equal(show(f, "nat/tcp/192.168.1/2/51000"), text(r_t));
	assert_string_equal(show(f, "nat/tcp/192.168.1/3/4000"), text(c_t));
	assert_string_equal(show(f, "conflicts/nat/tcp/192.168.1/3/4000"), text(c_o));
	assert_fsck(f->repo);
}

static void
merge__nat_one_external_port_one_inside_endpoint(void **state)
{
	struct fx *f = *state;
	struct their t[1];
	/* Both sides gave 203.0.113.1:61001 away, to different endpoints. */
	struct store_entry a = nat(0xc0a80102, 51000, 61001, S(3), S(300));	/* ours, newer */
	struct store_entry b = nat(0xc0a80109, 40000, 61001, S(2), S(300));	/* theirs, older */
	struct store_entry keep = nat(0xc0a80104, 1000, 61002, S(2), S(300));

	ours(f, EV_ADD, keep, S(1));
	base_done(f);
	ours(f, EV_ADD, a, S(3));
	t[0] = (struct their){ b, false };
	theirs(f, t, 1, S(4));
	assert_int_equal(merge(f, S(5)), 1);
	assert_string_equal(tree_of(f), "conflicts/nat/tcp/192.168.1/2/51000\n"
	    "nat/tcp/192.168.1/4/1000\nnat/tcp/192.168.1/9/40000\n");
	assert_string_equal(show(f, "nat/tcp/192.168.1/9/40000"), text(b));
	assert_string_equal(show(f, "conflicts/nat/tcp/192.168.1/2/51000"), text(a));
	assert_string_equal(sh("git --git-dir=%s log -1 --format=%%b primary", f->repo),
	    "Conflict: nat tcp 192.168.1.2:51000 -> 203.0.113.1:61001 created "
	    "1429688303.000000 (kept nat tcp 192.168.1.9:40000 -> 203.0.113.1:61001 "
	    "created 1429688302.000000)\n\n");
	assert_fsck(f->repo);
}

static void
merge__nat_theirs_newer_mapping_loses(void **state)
{
	struct fx *f = *state;
	struct their t[1];
	struct store_entry a = nat(0xc0a80102, 51000, 61001, S(2), S(300));	/* ours, older */
	struct store_entry b = nat(0xc0a80109, 40000, 61001, S(3), S(300));	/* theirs */

	base_done(f);
	ours(f, EV_ADD, a, S(3));
	t[0] = (struct their){ b, false };
	theirs(f, t, 1, S(4));
	assert_int_equal(merge(f, S(5)), 1);
	assert_string_equal(tree_of(f), "conflicts/nat/tcp/192.168.1/9/40000\n"
	    "nat/tcp/192.168.1/2/51000\n");
	assert_string_equal(show(f, "nat/tcp/192.168.1/2/51000"), text(a));
}

static void
merge__already_merged_is_a_no_op(void **state)
{
	struct fx *f = *state;
	git_oid before;

	ours(f, EV_ADD, arp(0x0a000001, mac1, S(1), S(10)), S(1));
	base_done(f);
	theirs(f, NULL, 0, S(2));
	assert_int_equal(merge(f, S(3)), 0);
	git_oid_cpy(&before, store_goid(store_head(f->st)));
	assert_int_equal(merge(f, S(4)), 0);		/* theirs is an ancestor now */
	assert_true(git_oid_equal(&before, store_goid(store_head(f->st))));
}

static char self[4096];

/*
 * The same merge by stock git: a clone whose attributes route arp/ and nat/
 * through this binary as the merge driver. Rules a per-file driver sees
 * (both sides changed one file) must agree; one-sided changes are git's own.
 */
static void
merge_driver__stock_git_merge_gives_same_tree(void **state)
{
	struct fx *f = *state;
	struct their t[4];
	char git_tree[64];

	ours(f, EV_ADD, arp(0x0a000001, mac1, S(1), S(10)), S(1));
	ours(f, EV_ADD, arp(0x0a000002, mac1, S(1), S(10)), S(1));
	ours(f, EV_ADD, arp(0x0a000003, mac1, S(1), S(10)), S(1));
	ours(f, EV_ADD, nat(0xc0a80102, 51000, 61001, S(1), S(100)), S(1));
	base_done(f);
	ours(f, EV_UPDATE, arp(0x0a000001, mac1, S(9), S(39)), S(9));	/* ours newer */
	ours(f, EV_UPDATE, arp(0x0a000002, mac1, S(5), S(35)), S(9));
	ours(f, EV_UPDATE, nat(0xc0a80102, 51000, 61001, S(1), S(400)), S(9));
	ours(f, EV_ADD, arp(0x0a000009, mac1, S(9), S(39)), S(9));
	t[0] = (struct their){ arp(0x0a000001, mac1, S(8), S(38)), false };
	t[1] = (struct their){ arp(0x0a000002, mac1, S(6), S(36)), false };	/* newer */
	t[2] = (struct their){ arp(0x0a000003, mac1, 0, 0), true };
	t[3] = (struct their){ nat(0xc0a80102, 51000, 61001, S(1), S(500)), false };
	theirs(f, t, 4, S(9));
	assert_int_equal(store_flush(f->st), 0);

	sh("cd %s && git clone -q -b primary state.git work 2>&1 && cd work && "
	    "git config user.name t && git config user.email t@t && "
	    "git config merge.gitnet.driver '%s --merge-driver %%O %%A %%B %%P' && "
	    "printf 'arp/** merge=gitnet\\nnat/** merge=gitnet\\n' > .git/info/attributes && "
	    "git merge -q --no-edit origin/theirs >../merge.out 2>&1", f->dir, self);
	snprintf(git_tree, sizeof(git_tree), "%s",
	    sh("git -C %s/work rev-parse HEAD^{tree}", f->dir));
	assert_int_equal(merge(f, S(10)), 0);
	assert_string_equal(sh("git --git-dir=%s rev-parse primary^{tree}", f->repo), git_tree);
	assert_string_equal(sh("git -C %s/work rev-list --parents -n1 HEAD | wc -w", f->dir),
	    "3\n");
	assert_string_equal(tree_of(f), "arp/10.0.0/1\narp/10.0.0/2\narp/10.0.0/9\n"
	    "nat/tcp/192.168.1/2/51000\n");
}

static void
merge_driver__rejects_unparsable_input(void **state)
{
	struct fx *f = *state;
	char o[128], a[128], b[128];

	snprintf(o, sizeof(o), "%s/o", f->dir);
	snprintf(a, sizeof(a), "%s/a", f->dir);
	snprintf(b, sizeof(b), "%s/b", f->dir);
	sh("printf 'expires never\\n' > %s; printf 'colour red\\n' > %s; "
	    "printf 'colour blue\\n' > %s", o, a, b);
	assert_int_equal(store_merge_driver(o, a, b, "arp/10.0.0/1"), STORE_EPARSE);
	assert_non_null(strstr(store_strerror(), "arp/10.0.0/1: line 1: unknown key 'colour'"));
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(merge__one_sided_adds_and_removes),
		T(merge__refresh_beats_removal_on_either_side),
		T(merge__arp_newer_updated_wins_same_mac),
		T(merge__arp_mac_clash_recorded),
		T(merge__arp_added_on_both_sides),
		T(merge__nat_refresh_and_clash_on_one_endpoint),
		T(merge__nat_one_external_port_one_inside_endpoint),
		T(merge__nat_theirs_newer_mapping_loses),
		T(merge__already_merged_is_a_no_op),
		T(merge_driver__stock_git_merge_gives_same_tree),
		T(merge_driver__rejects_unparsable_input),
#undef T
	};
	ssize_t n;

	if (argc == 6 && strcmp(argv[1], "--merge-driver") == 0) {
		int error = store_merge_driver(argv[2], argv[3], argv[4], argv[5]);

		if (error < 0)
			fprintf(stderr, "%s\n", store_strerror());
		return error < 0 ? 1 : 0;
	}
	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) < 0)
		return 1;
	self[n] = '\0';
	return cmocka_run_group_tests(tests, NULL, NULL);
}

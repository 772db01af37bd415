/* SPDX-License-Identifier: ISC */
/*
 * Tests of src/mem.c: what the router sizes from its memory, and where the
 * memory figure comes from.
 *
 * The plan is checked against the documented shares (mem.h): a big host
 * keeps every default (the benchmarks and tests assume 1 M sessions), a
 * 64 MB guest gets a NAT table of at least 100 k sessions inside a third of
 * it, a configured --nat-max-sessions wins whatever the memory. Detection
 * runs over a fake root (proc/self/cgroup and sys/fs/cgroup files under a
 * temporary directory), for cgroup v2, v1 and no limit.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netfn/event.h"
#include "src/config.h"
#include "src/mem.h"
#include "store/store.h"

#define MB	(1024ull * 1024)

static char **
args(char **v)
{
	return v;
}

#define ARGS(...)	args((char *[]){ "gitnet-router", "--inside", "a=192.168.1.1/24", \
	"--outside", "b=203.0.113.1/24", __VA_ARGS__, NULL })

static void
parse(struct router_config *c, char **argv)
{
	char err[512] = "";
	int argc = 0;

	while (argv[argc] != NULL)
		argc++;
	config_defaults(c);
	if (config_parse_args(c, argc, argv, err, sizeof(err)) != 0)
		fail_msg("config: %s", err);
}

/* 24 GB (this kind of host): every default, as before the plan existed. */
static void
mem_plan__big_host_keeps_every_default(void **state)
{
	struct router_config c;
	struct mem_plan p;
	struct nat_params q;

	(void)state;
	parse(&c, ARGS("--stats"));
	assert_false(c.nat_max_sessions_set);
	mem_plan(&p, &c, 24 * 1024 * MB, MEM_SYSTEM);
	assert_int_equal(p.nat_sessions, 1048576);
	assert_true(p.nat_auto);
	assert_int_equal(p.ring_events, 65536);
	assert_int_equal(p.rx_frames, 4096);
	assert_int_equal(p.tx_frames, 2048);
	nat_params_default(&q);
	assert_int_equal(p.nat_bytes, nat_bytes_for(&q, 1));
}

/* 64 MB: at least 100 k sessions, in a third of it; the rest scaled down. */
static void
mem_plan__64m_guest_fits_100k_sessions(void **state)
{
	struct router_config c;
	struct mem_plan p;
	struct nat_params q;

	(void)state;
	parse(&c, ARGS("--memory", "64M"));
	assert_int_equal(c.memory, 64 * MB);
	mem_plan(&p, &c, c.memory, MEM_FLAG);
	assert_true(p.nat_auto);
	assert_true(p.nat_sessions >= 100000);
	assert_true(p.nat_bytes <= 64 * MB / 3);
	/* The largest that fits: one more would not. */
	q = c.nat_params;
	q.max_sessions = p.nat_sessions + 1;
	assert_true(nat_bytes_for(&q, 1) > 64 * MB / 3);
	assert_true(p.ring_events * sizeof(struct nf_event) <= 64 * MB / 64);
	assert_true(p.ring_events * 2 * sizeof(struct nf_event) > 64 * MB / 64);
	assert_int_equal((p.rx_frames + p.tx_frames) * 2048ull <= 64 * MB / 32, 1);
	assert_true(p.rx_frames >= 2 * p.tx_frames - 1);
}

/* 256 MB, the guest's default size: between the two. */
static void
mem_plan__256m_between(void **state)
{
	struct router_config c;
	struct mem_plan p;

	(void)state;
	parse(&c, ARGS("--memory", "256M"));
	mem_plan(&p, &c, c.memory, MEM_FLAG);
	assert_true(p.nat_sessions > 400000 && p.nat_sessions < 1048576);
	assert_true(p.nat_bytes <= 256 * MB / 3);
	assert_true(p.ring_events >= 8192 && p.ring_events < 65536);
}

/* A configured size wins, bigger or smaller than the plan's. */
static void
mem_plan__configured_nat_size_wins(void **state)
{
	struct router_config c;
	struct mem_plan p;

	(void)state;
	parse(&c, ARGS("--memory", "64M", "--nat-max-sessions", "500000"));
	assert_true(c.nat_max_sessions_set);
	mem_plan(&p, &c, c.memory, MEM_FLAG);
	assert_false(p.nat_auto);
	assert_int_equal(p.nat_sessions, 500000);
	parse(&c, ARGS("--nat-max-sessions", "2000"));
	mem_plan(&p, &c, 24 * 1024 * MB, MEM_SYSTEM);
	assert_int_equal(p.nat_sessions, 2000);
}

/* The smallest memory accepted still gives working minimums. */
static void
mem_plan__floor(void **state)
{
	struct router_config c;
	struct mem_plan p;
	char err[512];

	(void)state;
	parse(&c, ARGS("--memory", "16M"));
	mem_plan(&p, &c, c.memory, MEM_FLAG);
	assert_true(p.nat_sessions >= 1024);
	assert_int_equal(p.ring_events, 1024);
	assert_true(p.rx_frames >= 256 && p.tx_frames >= 128);
	config_defaults(&c);
	assert_int_equal(config_parse_args(&c, 7, ARGS("--memory", "15M"), err,
	    sizeof(err)), -1);
	assert_string_equal(err, "--memory: '15M' is too small");
}

static void
mem_parse_limit__forms(void **state)
{
	(void)state;
	assert_int_equal(mem_parse_limit("max\n"), UINT64_MAX);
	assert_int_equal(mem_parse_limit(""), UINT64_MAX);
	assert_int_equal(mem_parse_limit("67108864\n"), 67108864);
	assert_int_equal(mem_parse_limit("9223372036854771712\n"), UINT64_MAX);
	assert_int_equal(mem_parse_limit("12x\n"), UINT64_MAX);
}

/* A fake root: files made under a temporary directory. */
static void
put(const char *root, const char *path, const char *text)
{
	char full[512], cmd[600];
	FILE *f;

	snprintf(full, sizeof(full), "%s%s", root, path);
	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", full);
	assert_int_equal(system(cmd), 0);
	assert_non_null(f = fopen(full, "w"));
	fputs(text, f);
	fclose(f);
}

static void
mem_detect__cgroups(void **state)
{
	char root[] = "/tmp/mem_test.XXXXXX", cmd[64];
	enum mem_source src;

	(void)state;
	assert_non_null(mkdtemp(root));
	/* No files at all: the system's figure. */
	assert_int_equal(mem_detect(root, 512 * MB, &src), 512 * MB);
	assert_int_equal(src, MEM_SYSTEM);

	/* v2: the group's own limit, under the system's. */
	put(root, "/proc/self/cgroup", "0::/a/b\n");
	put(root, "/sys/fs/cgroup/a/b/memory.max", "max\n");
	put(root, "/sys/fs/cgroup/a/memory.max", "100663296\n");	/* 96 MB: the parent's */
	assert_int_equal(mem_detect(root, 512 * MB, &src), 96 * MB);
	assert_int_equal(src, MEM_CGROUP);
	/* Above the system's memory: the system's. */
	assert_int_equal(mem_detect(root, 64 * MB, &src), 64 * MB);
	assert_int_equal(src, MEM_SYSTEM);

	/* v1: the memory hierarchy's line, among others. */
	put(root, "/proc/self/cgroup", "5:devices:/x\n4:cpu,memory:/x/y\n1:name=systemd:/\n");
	put(root, "/sys/fs/cgroup/memory/x/y/memory.limit_in_bytes", "67108864\n");
	put(root, "/sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n");
	assert_int_equal(mem_detect(root, 512 * MB, &src), 64 * MB);
	assert_int_equal(src, MEM_CGROUP);
	/* v1 unlimited everywhere. */
	put(root, "/sys/fs/cgroup/memory/x/y/memory.limit_in_bytes", "9223372036854771712\n");
	assert_int_equal(mem_detect(root, 512 * MB, &src), 512 * MB);
	assert_int_equal(src, MEM_SYSTEM);

	/* The real system: some figure, never 0. */
	assert_true(mem_detect("", 0, &src) > 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	assert_int_equal(system(cmd), 0);
}

/* The store's share (store_mem_budget), and its defaults without a figure. */
static void
store_mem_budget__shares(void **state)
{
	struct store_opts o;
	struct store_mem m;

	(void)state;
	store_opts_default(&o);
	store_mem_budget(&m, &o);
	assert_int_equal(m.cache, 64 * MB);
	assert_int_equal(m.lib_cache, 0);
	assert_int_equal(m.lib_mapped, 0);
	o.mem_bytes = 64 * MB;
	store_mem_budget(&m, &o);
	assert_int_equal(m.cache, 4 * MB);
	assert_int_equal(m.lib_cache, 4 * MB);
	assert_int_equal(m.lib_mapped, 8 * MB);
	assert_int_equal(m.lib_window, 2 * MB);
	assert_int_equal(m.merge, 4 * MB);
	o.mem_bytes = 24 * 1024 * MB;
	store_mem_budget(&m, &o);
	assert_int_equal(m.cache, 64 * MB);
	assert_int_equal(m.lib_cache, 256 * MB);
	assert_int_equal(m.lib_mapped, 3 * 1024 * MB);
	assert_int_equal(m.lib_window, 512 * MB);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(mem_plan__big_host_keeps_every_default),
		cmocka_unit_test(mem_plan__64m_guest_fits_100k_sessions),
		cmocka_unit_test(mem_plan__256m_between),
		cmocka_unit_test(mem_plan__configured_nat_size_wins),
		cmocka_unit_test(mem_plan__floor),
		cmocka_unit_test(mem_parse_limit__forms),
		cmocka_unit_test(mem_detect__cgroups),
		cmocka_unit_test(store_mem_budget__shares),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: ISC */
/*
 * The state writer on a failing disk (issue 12), on a simulated clock (sync
 * mode, as gitnet replay-pcap drives it) with the store's write and fsync
 * wrapped at link time (-Wl,--wrap, this binary only) to fail with ENOSPC or
 * EIO. Exact schedules and counters: the retries come 100, 200, 400, 800 ms
 * and then 1 s apart; no tick is begun meanwhile; STATE_HELD_MAX changes
 * are kept for the retry and the rest counted as lost; every failed attempt
 * is counted; with the fault gone the next retry writes everything kept,
 * the repository passes `git fsck --strict` and holds exactly the kept
 * entries, and the writer carries on as before.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netfn/arp.h"
#include "src/state.h"

#define T0	1429688400200000ULL	/* off the tick grid (x.5 s) */
#define MS	1000ULL

static enum { F_NONE, F_ENOSPC, F_FSYNC_EIO } fault;
static unsigned faults_hit;

ssize_t __real_write(int fd, const void *buf, size_t n);
ssize_t __wrap_write(int fd, const void *buf, size_t n);
int __real_fsync(int fd);
int __wrap_fsync(int fd);

ssize_t
__wrap_write(int fd, const void *buf, size_t n)
{
	if (fault == F_ENOSPC && fd > 2) {
		faults_hit++;
		errno = ENOSPC;
		return -1;
	}
	return __real_write(fd, buf, n);
}

int
__wrap_fsync(int fd)
{
	if (fault == F_FSYNC_EIO) {
		faults_hit++;
		errno = EIO;
		return -1;
	}
	return __real_fsync(fd);
}

static const char *const ifnames[] = { "inside", "outside" };

struct fx {
	char		dir[64], repo[96];
	struct state	*s;
};

static int
setup(void **state)
{
	static struct fx f;
	struct state_opts o;
	char err[256];

	snprintf(f.dir, sizeof(f.dir), "/tmp/state_fault_test.XXXXXX");
	if (mkdtemp(f.dir) == NULL)
		return -1;
	snprintf(f.repo, sizeof(f.repo), "%s/state.git", f.dir);
	state_opts_default(&o);
	o.dir = f.repo;
	o.router_id = "r1";
	o.router_info = "interfaces inside outside";
	o.ifnames = ifnames;
	o.n_ifnames = 2;
	o.sync = true;
	o.commit_gap_ms = 0;	/* the schedule below counts windows only */
	fault = F_NONE;
	faults_hit = 0;
	if (state_open(&f.s, &o, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	*state = &f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	fault = F_NONE;
	state_close(f->s);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* n ARP adds of 10.1.0.0 + first.., at now. */
static void
push_arp(struct state *s, uint32_t first, unsigned n, uint64_t now)
{
	struct nf_event ev;

	for (unsigned i = 0; i < n; i++) {
		memset(&ev, 0, sizeof(ev));
		ev.table = EV_TABLE_ARP;
		ev.op = EV_ADD;
		ev.cause = EV_CAUSE_ARP_REPLY;
		ev.now_us = now;
		ev.arp.ip = 0x0a010000 + first + i;
		ev.arp.mac[0] = 2;
		ev.arp.mac[4] = (uint8_t)((first + i) >> 8);
		ev.arp.mac[5] = (uint8_t)(first + i);
		ev.arp.state = ARP_PERMANENT;
		ev.arp.updated_us = now;
		state_push(s, &ev, 1);
	}
}

static struct state_stats
stats(struct state *s)
{
	struct state_stats st;

	state_get_stats(s, &st);
	return st;
}

/* Run the writer at its next deadline; that deadline. */
static uint64_t
step(struct state *s)
{
	uint64_t t = state_next_deadline(s);

	assert_int_not_equal(t, UINT64_MAX);
	state_run(s, t);
	return t;
}

static unsigned
arp_entries(const char *repo)
{
	char cmd[256];
	unsigned n = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "git --git-dir=%s ls-tree -r --name-only primary arp "
	    "| wc -l", repo);
	assert_non_null(p = popen(cmd, "r"));
	assert_int_equal(fscanf(p, "%u", &n), 1);
	pclose(p);
	return n;
}

static void
assert_fsck(const char *repo)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "git --git-dir=%s fsck --strict --no-progress "
	    "--no-dangling >/dev/null 2>&1", repo);
	assert_int_equal(system(cmd), 0);
}

static void
assert_no_temps(const char *repo)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "ls %s/objects/pack | grep -q tmp_gitnet_", repo);
	assert_int_not_equal(system(cmd), 0);
}

static void
failing_disk(struct fx *f, int kind)
{
	struct state *s = f->s;
	struct state_stats st;
	uint64_t t, prev;
	static const uint64_t gap[] = { 100, 200, 400, 800, 1000, 1000, 1000 };

	state_run(s, T0);			/* the first tick */
	push_arp(s, 1, 1, T0 + 10 * MS);
	assert_int_equal(step(s), T0 + 110 * MS);	/* the group commit */
	st = stats(s);
	assert_int_equal(st.commits, 1);
	assert_int_equal(st.write_errors, 0);
	assert_int_equal(arp_entries(f->repo), 1);

	fault = kind;
	push_arp(s, 2, 1, T0 + 150 * MS);
	prev = step(s);
	assert_int_equal(prev, T0 + 250 * MS);
	st = stats(s);
	assert_true(faults_hit > 0);
	assert_int_equal(st.write_errors, 1);
	assert_int_equal(st.write_failing, 1);
	/* Backoff, and no tick at x.5 s meanwhile (ticks would be 250 ms apart). */
	for (unsigned i = 0; i < sizeof(gap) / sizeof(gap[0]); i++) {
		t = step(s);
		assert_int_equal(t - prev, gap[i] * MS);
		prev = t;
		assert_int_equal(stats(s).write_errors, i + 2);
	}
	assert_int_equal(stats(s).ticks, 0);
	assert_no_temps(f->repo);

	/* More than can be kept: STATE_HELD_MAX stay, the rest are lost. */
	push_arp(s, 100, STATE_HELD_MAX + 123, prev + 1 * MS);
	(void)state_next_deadline(s);		/* drains the ring */
	st = stats(s);
	assert_int_equal(st.events_lost, 123);
	assert_int_equal(st.changes, 2 + STATE_HELD_MAX);
	assert_int_equal(arp_entries(f->repo), 1);	/* still the last good one */

	/* The disk is back: the next retry writes everything kept. */
	fault = F_NONE;
	t = step(s);
	assert_int_equal(t - prev, 1000 * MS);
	st = stats(s);
	assert_int_equal(st.write_failing, 0);
	assert_int_equal(st.write_errors, 1 + sizeof(gap) / sizeof(gap[0]));
	assert_int_equal(arp_entries(f->repo), 2 + STATE_HELD_MAX);
	assert_fsck(f->repo);
	assert_no_temps(f->repo);

	/* And it carries on: group commits and ticks as before. */
	push_arp(s, 9000, 1, t + 10 * MS);
	for (int i = 0; i < 8; i++)
		(void)step(s);
	st = stats(s);
	assert_int_equal(st.write_errors, 1 + sizeof(gap) / sizeof(gap[0]));
	assert_int_equal(st.events_lost, 123);
	assert_int_equal(arp_entries(f->repo), 3 + STATE_HELD_MAX);
	assert_fsck(f->repo);
}

static void
state_run__enospc_backs_off_holds_and_resumes(void **state)
{
	failing_disk(*state, F_ENOSPC);
}

static void
state_run__fsync_eio_backs_off_holds_and_resumes(void **state)
{
	failing_disk(*state, F_FSYNC_EIO);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(state_run__enospc_backs_off_holds_and_resumes,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(state_run__fsync_eio_backs_off_holds_and_resumes,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

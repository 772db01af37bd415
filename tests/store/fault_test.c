/*
 * Fault injection into the store's own system calls: write and fsync are
 * wrapped at link time (-Wl,--wrap, this binary only; libgit2's own calls
 * are not affected) so a test can make the next ones fail: a short write,
 * ENOSPC, EIO on fsync. Each must give an error (or, for a short write, be
 * completed), never a crash, and leave a repository that stock git fsck
 * accepts, that opens again once the fault is gone, and whose primary is
 * the last commit that was flushed before the fault.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#define FX_OWN_FIXTURE
#include "tests/store/fixture.h"

#define T0	1429688400000000ULL

/* What the next wrapped calls do. */
static enum { F_NONE, F_SHORT, F_ENOSPC, F_FSYNC_EIO } fault;
static unsigned faults_hit;

ssize_t __real_write(int fd, const void *buf, size_t n);
ssize_t __wrap_write(int fd, const void *buf, size_t n);
int __real_fsync(int fd);
int __wrap_fsync(int fd);

ssize_t
__wrap_write(int fd, const void *buf, size_t n)
{
	if (fault == F_SHORT && n > 1 && fd > 2) {
		faults_hit++;
		return __real_write(fd, buf, n / 2);	/* a legal short write */
	}
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

struct fx {
	char	dir[64], repo[96];
};

static int
setup(void **state)
{
	static struct fx f;

	if (fx_mkdir(f.dir, sizeof(f.dir), f.repo, sizeof(f.repo), "fault_test") < 0)
		return -1;
	*state = &f;
	fault = F_NONE;
	faults_hit = 0;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	fault = F_NONE;
	return fx_rmdir(f->dir);
}

static void
add(struct store *st, uint32_t ip, uint64_t now)
{
	struct store_change c;

	memset(&c, 0, sizeof(c));
	c.op = EV_ADD;
	c.cause = EV_CAUSE_ARP_REPLY;
	c.now_us = now;
	c.e.table = EV_TABLE_ARP;
	c.e.arp.ip = ip;
	c.e.arp.mac[0] = 2;
	c.e.arp.mac[5] = (uint8_t)ip;
	c.e.arp.state = ARP_REACHABLE;
	c.e.arp.updated_us = now;
	assert_int_equal(store_record(st, &c), 0);
}

static int
count_entry(void *ctx, const struct store_entry *e)
{
	(void)e;
	(*(unsigned *)ctx)++;
	return 0;
}

/*
 * One good flush, then a commit flushed under the fault; then, fault gone:
 * fsck clean, primary is the good commit (or the new one, if the store
 * completed the write), and it loads.
 */
static void
run_fault(struct fx *f, int kind, bool may_succeed)
{
	struct store_opts o;
	struct store *st;
	git_oid good, now_id;
	char hex[41], want[41];
	unsigned n = 0;
	int e;

	opts(&o);
	o.fsync = true;
	st = open_ok(f->repo, &o);
	add(st, 0x0a000002, T0);
	assert_int_equal(store_commit(st, T0, &good), 0);
	assert_int_equal(store_flush(st), 0);
	add(st, 0x0a000003, T0 + 1000000);
	assert_int_equal(store_commit(st, T0 + 1000000, &now_id), 0);
	fault = kind;
	e = store_flush(st);
	fault = F_NONE;
	assert_true(faults_hit > 0);
	if (!may_succeed) {
		assert_true(e < 0);
		assert_non_null(strstr(store_strerror(), kind == F_FSYNC_EIO ?
		    "Input/output error" : "No space left"));
	}
	store_free(st);
	assert_fsck(f->repo);
	st = open_ok(f->repo, &o);
	git_oid_tostr(hex, sizeof(hex), store_head(st));
	git_oid_tostr(want, sizeof(want), e == 0 ? &now_id : &good);
	assert_string_equal(hex, want);
	assert_int_equal(store_load(st, NULL, count_entry, &n), 0);
	assert_int_equal(n, e == 0 ? 2 : 1);
	/* And it commits again. */
	add(st, 0x0a000004, T0 + 2000000);
	assert_int_equal(store_commit(st, T0 + 2000000, NULL), 0);
	assert_int_equal(store_flush(st), 0);
	assert_int_equal(store_close(st), 0);
	assert_fsck(f->repo);
}

static void
store_flush__short_writes_are_completed_or_refused(void **state)
{
	run_fault(*state, F_SHORT, true);
}

static void
store_flush__enospc_is_an_error_repo_at_last_good(void **state)
{
	run_fault(*state, F_ENOSPC, false);
}

static void
store_flush__fsync_eio_is_an_error_repo_at_last_good(void **state)
{
	run_fault(*state, F_FSYNC_EIO, false);
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(store_flush__short_writes_are_completed_or_refused),
		T(store_flush__enospc_is_an_error_repo_at_last_good),
		T(store_flush__fsync_eio_is_an_error_repo_at_last_good),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

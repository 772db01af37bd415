/* SPDX-License-Identifier: ISC */
/*
 * Fault injection into the store's own system calls: write and fsync are
 * wrapped at link time (-Wl,--wrap, this binary only; libgit2's own calls
 * are not affected) so a test can make the next ones fail: a short write,
 * ENOSPC, EIO on fsync. Each must give an error (or, for a short write, be
 * completed), never a crash, and leave a repository that stock git fsck
 * accepts, that opens again once the fault is gone, and whose primary is
 * the last commit that was flushed before the fault.
 *
 * And a torn write the file system did not protect: the newest pack, or its
 * index, cut at every byte boundary of its last object. Opening gives an
 * error (never a crash, never a wrong table), and the last good commit,
 * which lives in the older pack, still reads in full.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
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
	assert_int_equal(store_commit(st, T0, store_soid_mut(&good)), 0);
	assert_int_equal(store_flush(st), 0);
	add(st, 0x0a000003, T0 + 1000000);
	assert_int_equal(store_commit(st, T0 + 1000000, store_soid_mut(&now_id)), 0);
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
	git_oid_tostr(hex, sizeof(hex), store_goid(store_head(st)));
	git_oid_tostr(want, sizeof(want), e == 0 ? &now_id : &good);
	assert_string_equal(hex, want);
	assert_int_equal(store_load(store_reader_of(st), NULL, count_entry, &n), 0);
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

static uint8_t *
slurp(const char *path, size_t *len)
{
	struct stat sb;
	uint8_t *b;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &sb), 0);
	b = malloc((size_t)sb.st_size + 1);
	assert_non_null(b);
	assert_int_equal(read(fd, b, (size_t)sb.st_size), sb.st_size);
	close(fd);
	*len = (size_t)sb.st_size;
	return b;
}

static void
spill(const char *path, const uint8_t *b, size_t len)
{
	int fd;

	chmod(path, 0644);
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, b, len), (ssize_t)len);
	close(fd);
}

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Every blob and tree under commit id reads back (libgit2, no store). */
static int
read_all(git_repository *r, const git_tree *t)
{
	for (size_t i = 0; i < git_tree_entrycount(t); i++) {
		const git_tree_entry *e = git_tree_entry_byindex(t, i);
		git_object *o;
		int error;

		if ((error = git_tree_entry_to_object(&o, r, e)) < 0)
			return error;
		if (git_object_type(o) == GIT_OBJECT_TREE)
			error = read_all(r, (const git_tree *)o);
		git_object_free(o);
		if (error < 0)
			return error;
	}
	return 0;
}

static void
good_commit_reads(const char *repo, const git_oid *good)
{
	git_repository *r;
	git_commit *c;
	git_tree *t;

	assert_int_equal(git_repository_open(&r, repo), 0);
	assert_int_equal(git_commit_lookup(&c, r, good), 0);
	assert_int_equal(git_commit_tree(&t, c), 0);
	assert_int_equal(read_all(r, t), 0);
	git_tree_free(t);
	git_commit_free(c);
	git_repository_free(r);
}

/* Cut path (a copy of orig[0..len)) to each length in [from, len). */
static unsigned
cut_each(const char *repo, const char *path, const uint8_t *orig, size_t len, size_t from,
    const git_oid *good)
{
	struct store_opts o;
	unsigned refused = 0;

	opts(&o);
	o.router_info = NULL;		/* open to read: write nothing */
	for (size_t l = from; l < len; l++) {
		struct store *st = NULL;
		unsigned n = 0;

		spill(path, orig, l);
		if (store_open(&st, repo, &o) < 0) {
			assert_true(strlen(store_strerror()) > 0);
			refused++;
		} else if (store_load(store_reader_of(st), NULL, count_entry, &n) < 0) {
			refused++;
		} else {
			/* Opened and loaded: then it is the whole table. */
			assert_int_equal(n, 2);
		}
		store_free(st);
		good_commit_reads(repo, good);
	}
	spill(path, orig, len);
	return refused;
}

static void
store_open__torn_last_pack_or_index_is_an_error(void **state)
{
	struct fx *f = *state;
	struct store_opts o;
	struct store *st;
	git_oid good;
	char pack[256], idx[256], dir[160];
	uint8_t *p, *x;
	size_t plen, xlen, last = 0;
	uint32_t nobj;
	unsigned refused;
	DIR *d;
	struct dirent *de;
	time_t newest = 0;

	/* Held for the whole test: each open below is then cheap. */
	git_libgit2_init();
	opts(&o);
	o.max_packs = 64;
	st = open_ok(f->repo, &o);
	add(st, 0x0a000002, T0);
	assert_int_equal(store_commit(st, T0, store_soid_mut(&good)), 0);
	assert_int_equal(store_flush(st), 0);
	add(st, 0x0a000003, T0 + 1000000);
	assert_int_equal(store_commit(st, T0 + 1000000, NULL), 0);
	assert_int_equal(store_close(st), 0);

	/* The newest pack: the one that holds the last commit. */
	snprintf(dir, sizeof(dir), "%s/objects/pack", f->repo);
	assert_non_null(d = opendir(dir));
	while ((de = readdir(d)) != NULL) {
		struct stat sb;
		size_t l = strlen(de->d_name);

		if (l < 5 || strcmp(de->d_name + l - 5, ".pack") != 0)
			continue;
		snprintf(pack, sizeof(pack), "%s/%s", dir, de->d_name);
		assert_int_equal(stat(pack, &sb), 0);
		if (sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec > newest) {
			newest = sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
			snprintf(idx, sizeof(idx), "%s/%.*s.idx", dir, (int)(l - 5), de->d_name);
		}
	}
	closedir(d);
	snprintf(pack, sizeof(pack), "%.*s.pack", (int)(strlen(idx) - 4), idx);
	p = slurp(pack, &plen);
	x = slurp(idx, &xlen);
	/* Index v2: header 8, fan-out 256x4 (the last is the count), ids, crcs, offsets. */
	assert_int_equal(be32(x), 0xff744f63);
	nobj = be32(x + 8 + 255 * 4);
	assert_true(nobj > 0);
	for (uint32_t i = 0; i < nobj; i++) {
		uint32_t off = be32(x + 8 + 1024 + (size_t)nobj * 24 + (size_t)i * 4);

		if (off > last)
			last = off;
	}
	/* The pack cut inside its last object and its trailer. */
	refused = cut_each(f->repo, pack, p, plen, last, &good);
	print_message("pack: %zu cuts, %u refused\n", plen - last, refused);
	assert_int_equal(refused, plen - last);
	/*
	 * The index cut anywhere from its last object's id on (its crc, offset
	 * and the trailer follow in their tables): a cut keeps nothing after it.
	 */
	{
		size_t from = 8 + 1024 + (size_t)(nobj - 1) * 20;

		refused = cut_each(f->repo, idx, x, xlen, from, &good);
		print_message("index: %zu cuts, %u refused\n", xlen - from, refused);
		assert_int_equal(refused, xlen - from);
	}
	free(p);
	free(x);
	git_libgit2_shutdown();
	assert_fsck(f->repo);
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(store_flush__short_writes_are_completed_or_refused),
		T(store_flush__enospc_is_an_error_repo_at_last_good),
		T(store_flush__fsync_eio_is_an_error_repo_at_last_good),
		T(store_open__torn_last_pack_or_index_is_an_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

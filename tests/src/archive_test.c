/* SPDX-License-Identifier: ISC */
/*
 * The archive's pushers (src/archive.c), against real repositories.
 *
 * A pusher fills a path archive and says so (archive_pushed); a URL that
 * never works is counted with growing gaps and keeps archive_pushed_oldest
 * false; a restart reads what each archive holds back from the tracking
 * refs before any push; a remote that accepts the connection and never
 * answers does not hold up archive_close for more than a few seconds.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "src/archive.h"
#include "store/store.h"

#define T0	1429688300000000ULL
#define SEC	1000000ULL

struct fx {
	char	dir[64];
	char	repo[96];
	char	arch[96];
	char	missing[96];
};

static uint64_t
ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
run(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* A state repository with n commits, and its head. */
static void
make_store(const char *repo, unsigned n, struct store_oid *head)
{
	struct store_opts o;
	struct store *st;

	store_opts_default(&o);
	o.router_id = "r1";
	o.fsync = false;
	assert_int_equal(store_open(&st, repo, &o), 0);
	for (unsigned i = 0; i < n; i++) {
		struct store_change c;

		memset(&c, 0, sizeof(c));
		c.op = EV_ADD;
		c.now_us = T0 + i * SEC;
		c.e.table = EV_TABLE_ARP;
		c.e.arp.ip = 0x0a000002 + i;
		c.e.arp.mac[0] = 2;
		c.e.arp.state = 2;
		c.e.arp.updated_us = c.now_us;
		c.e.arp.expires_us = c.now_us + 3600 * SEC;
		assert_int_equal(store_record(st, &c), 0);
		assert_int_equal(store_commit(st, c.now_us, NULL), 0);
		assert_int_equal(store_flush(st), 0);
	}
	*head = *store_head(st);
	assert_int_equal(store_close(st), 0);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/archive_test.XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->repo, sizeof(f->repo), "%s/state.git", f->dir);
	snprintf(f->arch, sizeof(f->arch), "%s/arch.git", f->dir);
	snprintf(f->missing, sizeof(f->missing), "%s/nothing/here.git", f->dir);
	if (run("git init -q --bare %s", f->arch) != 0)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	int error = run("rm -rf %s", f->dir);

	free(f);
	return error == 0 ? 0 : -1;
}

/* Wait up to ms for archive i to hold want. */
static bool
wait_pushed(struct archive *a, unsigned i, const struct store_oid *want, unsigned ms)
{
	uint64_t until = ms_now() + ms;
	struct store_oid got;

	do {
		if (archive_pushed(a, i, &got) && store_oid_equal(&got, want))
			return true;
		usleep(20000);
	} while (ms_now() < until);
	return false;
}

static void
archive_pushes_and_counts(void **state)
{
	struct fx *f = *state;
	struct archive_opts o = { 0 };
	struct archive_url_stats u;
	struct archive_stats as;
	struct archive *a = NULL;
	struct store_oid head, got;
	char err[256];

	make_store(f->repo, 3, &head);
	o.gitdir = f->repo;
	o.urls[0] = f->arch;
	o.urls[1] = f->missing;
	o.n = 2;
	o.interval_ms = 100;
	assert_int_equal(archive_open(&a, &o, err, sizeof(err)), 0);
	assert_int_equal(archive_count(a), 2);
	assert_false(archive_pushed(a, 0, &got));
	assert_int_equal(archive_start(a), 0);
	assert_true(wait_pushed(a, 0, &head, 5000));
	/* URL 1 never works: no oldest; its failures come at 0.1, 0.2, 0.4 s... */
	usleep(1600 * 1000);
	assert_false(archive_pushed(a, 1, &got));
	assert_false(archive_pushed_oldest(a, &got));
	assert_true(archive_get_url(a, 1, &u));
	assert_true(u.failures >= 3 && u.failures <= 6);
	assert_int_equal(u.errors, u.failures);
	assert_true(u.retry_ms >= 800);
	assert_true(archive_get_url(a, 0, &u));
	assert_int_equal(u.failures, 0);
	assert_int_equal(u.lag_s, 0);
	assert_string_equal(u.name, "archive0");
	archive_get_stats(a, &as);
	assert_int_equal(as.pushes, 1);		/* nothing new since: no push */
	assert_true(as.errors >= 3);
	assert_false(archive_get_url(a, 2, &u));
	archive_close(a);
	assert_int_equal(run("test \"$(git --git-dir=%s rev-parse primary)\" = "
	    "\"$(git --git-dir=%s rev-parse refs/remotes/archive0/primary)\"", f->arch,
	    f->repo), 0);

	/* A restart with the working URL alone: what it holds is known at once. */
	o.n = 1;
	assert_int_equal(archive_open(&a, &o, err, sizeof(err)), 0);
	assert_true(archive_pushed(a, 0, &got));
	assert_true(store_oid_equal(&got, &head));
	assert_true(archive_pushed_oldest(a, &got));
	assert_true(store_oid_equal(&got, &head));
	archive_close(a);		/* never started */
	/* archive1 is forgotten with its config. */
	assert_int_not_equal(run("git --git-dir=%s config remote.archive1.url >/dev/null",
	    f->repo), 0);
	/* No archive: NULL, and every function takes it. */
	o.n = 0;
	assert_int_equal(archive_open(&a, &o, err, sizeof(err)), 0);
	assert_null(a);
	assert_false(archive_pushed_oldest(a, &got));
	assert_int_equal(archive_start(a), 0);
	archive_close(a);
}

/* A remote that takes the connection and never answers. */
static void
archive_close_does_not_wait_on_a_stuck_remote(void **state)
{
	struct fx *f = *state;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);
	struct archive_opts o = { 0 };
	struct archive *a = NULL;
	struct store_oid head;
	char err[256], url[96];
	uint64_t t0;
	int s;

	make_store(f->repo, 1, &head);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((s = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(s, 4), 0);	/* the kernel accepts; nobody reads */
	assert_int_equal(getsockname(s, (struct sockaddr *)&sin, &sl), 0);
	snprintf(url, sizeof(url), "git://127.0.0.1:%u/x.git", ntohs(sin.sin_port));
	o.gitdir = f->repo;
	o.urls[0] = url;
	o.n = 1;
	o.interval_ms = 100;
	assert_int_equal(archive_open(&a, &o, err, sizeof(err)), 0);
	assert_int_equal(archive_start(a), 0);
	usleep(300 * 1000);		/* the push is waiting for an answer */
	t0 = ms_now();
	archive_close(a);
	assert_true(ms_now() - t0 < 4500);
	close(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(archive_pushes_and_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(archive_close_does_not_wait_on_a_stuck_remote,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

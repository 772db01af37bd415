/* SPDX-License-Identifier: ISC */
/*
 * Crash safety: a child process commits under load (group commits, expiry
 * ticks, pack consolidation, fsync on) and reports on a pipe the highest
 * sequence number whose store_flush() returned; the parent kills it with
 * SIGKILL at a random moment, two dozen times. After each kill: stock
 * `git fsck --strict` is clean, the store opens (stale locks and partial
 * packs cleaned), primary loads, and every acknowledged change is there.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"

#define T0		1429688300000000ULL
#define KILLS		24
#define ACK_IP(seq)	(0x0a000000u + (uint32_t)(seq))	/* 10.x.y.z, never expire */
#define TMP_IP(seq)	(0xac100000u + (uint32_t)(seq))	/* 172.16.x.y, expire */

static void
opts(struct store_opts *o)
{
	store_opts_default(o);
	o->router_id = "crash";
	o->fsync = true;
	o->max_packs = 4;
	o->keep_expire = 3;
}

static void
child_fail(const char *what)
{
	fprintf(stderr, "crash child: %s: %s\n", what, store_strerror());
	_exit(2);
}

/* Commit forever from seq on; ack each durable high-water mark. */
static void
child(const char *repo, uint64_t seq, int ackfd, unsigned seed)
{
	struct store_opts o;
	struct store *st;
	uint64_t batch = 0;

	opts(&o);
	srand(seed);
	if (store_open(&st, repo, &o) != 0)
		child_fail("open");
	for (;;) {
		int n = 1 + rand() % 20;
		uint64_t now = T0 + seq * 1000;

		for (int i = 0; i < n; i++, seq++) {
			struct store_change c;

			memset(&c, 0, sizeof(c));
			c.op = EV_ADD;
			c.cause = EV_CAUSE_ARP_REPLY;
			c.now_us = now;
			c.e.table = EV_TABLE_ARP;
			c.e.arp.ip = ACK_IP(seq);
			c.e.arp.mac[0] = 2;
			c.e.arp.mac[5] = (uint8_t)seq;
			c.e.arp.state = ARP_REACHABLE;
			c.e.arp.updated_us = now;
			if (store_record(st, &c) != 0)
				child_fail("record");
			if (i == 0) {		/* and one that a tick will age out */
				c.e.arp.ip = TMP_IP(seq);
				c.e.arp.expires_us = now + 500;
				if (store_record(st, &c) != 0)
					child_fail("record");
			}
		}
		if (store_commit(st, now, NULL) < 0)
			child_fail("commit");
		if (++batch % 7 == 0 && store_tick(st, now + 1000) < 0)
			child_fail("tick");
		if (store_flush(st) != 0)
			child_fail("flush");
		/* Everything below seq is durable now. */
		if (write(ackfd, &seq, sizeof(seq)) != sizeof(seq))
			_exit(3);
	}
}

struct seen {
	uint8_t		*bit;
	uint64_t	max;
};

static int
mark(void *ctx, const struct store_entry *e)
{
	struct seen *s = ctx;
	uint64_t seq;

	if ((e->arp.ip & 0xff000000) != 0x0a000000)
		return 0;
	seq = e->arp.ip - 0x0a000000u;
	if (seq < (1u << 20))
		s->bit[seq] = 1;
	if (seq > s->max)
		s->max = seq;
	return 0;
}

static void
crash__acked_changes_survive_sigkill(void **state)
{
	char dir[] = "/tmp/crash_test.XXXXXX", repo[64], cmd[256];
	struct seen s = { calloc(1u << 20, 1), 0 };
	uint64_t acked = 0, next = 1;
	struct store_opts o;
	struct store *st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(repo, sizeof(repo), "%s/state.git", dir);
	opts(&o);
	assert_int_equal(store_open(&st, repo, &o), 0);
	store_free(st);
	srand((unsigned)time(NULL));
	for (int k = 0; k < KILLS; k++) {
		int p[2], status;
		pid_t pid;
		uint64_t v;

		assert_int_equal(pipe(p), 0);
		if ((pid = fork()) == 0) {
			int fd;

			close(p[0]);
			snprintf(cmd, sizeof(cmd), "%s/child.err", dir);
			if ((fd = open(cmd, O_WRONLY | O_CREAT | O_TRUNC, 0644)) >= 0)
				dup2(fd, 2);
			child(repo, next, p[1], (unsigned)rand());
		}
		close(p[1]);
		/* Let it open (with cleanup) and commit for a random while. */
		usleep(20000 + (useconds_t)(rand() % 80000));
		kill(pid, SIGKILL);
		while (read(p[0], &v, sizeof(v)) == sizeof(v))
			if (v - 1 > acked)
				acked = v - 1;
		close(p[0]);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (!WIFSIGNALED(status)) {
			snprintf(cmd, sizeof(cmd), "cat %s/child.err", dir);
			(void)system(cmd);
			fail_msg("kill %d: the writer exited by itself (status %d)", k, status);
		}

		snprintf(cmd, sizeof(cmd), "git --git-dir=%s fsck --strict --no-progress "
		    ">%s/fsck.out 2>&1", repo, dir);
		if (system(cmd) != 0) {
			snprintf(cmd, sizeof(cmd), "cat %s/fsck.out; ls -la %s/objects/pack",
			    dir, repo);
			(void)system(cmd);
			fail_msg("kill %d: git fsck failed", k);
		}
		if (store_open(&st, repo, &o) != 0)
			fail_msg("kill %d: reopen: %s", k, store_strerror());
		memset(s.bit, 0, 1u << 20);
		s.max = 0;
		if (store_load(store_reader_of(st), NULL, mark, &s) != 0)
			fail_msg("kill %d: load: %s", k, store_strerror());
		store_free(st);
		for (uint64_t q = 1; q <= acked; q++)
			if (!s.bit[q])
				fail_msg("kill %d: acknowledged change %llu lost (acked %llu)", k,
				    (unsigned long long)q, (unsigned long long)acked);
		next = s.max + 1;
	}
	print_message("acked %llu\n", (unsigned long long)acked);
	assert_true(acked > 100);
	free(s.bit);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(crash__acked_changes_survive_sigkill),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

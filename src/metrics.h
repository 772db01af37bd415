/* SPDX-License-Identifier: ISC */
/*
 * Prometheus metrics: an HTTP endpoint (--metrics ADDR:PORT, config key
 * `metrics`) serving every counter and gauge of the router, and histograms
 * of the state writer, in the text exposition format 0.0.4 at /metrics.
 *
 * The endpoint runs in a thread of its own; the data path's share of a
 * scrape is metrics_wanted() once per loop turn and, when a scrape waits, one
 * metrics_publish(). metrics.c says why and how.
 */
#ifndef SRC_METRICS_H
#define SRC_METRICS_H

#include <stdbool.h>
#include <stddef.h>

struct router;
struct metrics;

/*
 * Listen on r->cfg.metrics (a kernel TCP socket in the calling thread's
 * network namespace) and start the server thread. r's interfaces, pipeline
 * and state must be open; they must stay so until metrics_close. 0, or -1
 * with "metrics: ADDR:PORT: reason" in err.
 */
int metrics_open(struct metrics **out, struct router *r, char *err, size_t errlen);

/* An eventfd that becomes readable when a scrape waits: add it to epoll. */
int metrics_kick_fd(const struct metrics *m);

/* Data path: does a scrape wait for fresh counters? One relaxed load. */
bool metrics_wanted(const struct metrics *m);

/* Data path: copy r's counters for the server, without waiting. */
void metrics_publish(struct metrics *m, const struct router *r);

/* Stop the thread, close the sockets. NULL is a no-op. */
void metrics_close(struct metrics *m);

#endif

/* SPDX-License-Identifier: ISC */
/*
 * History limits for unsolicited inbound traffic (issue 12: "outside
 * traffic cannot fill the disk").
 *
 * A remote host on the Internet makes table changes at will: every datagram
 * or SYN from a new (possibly spoofed) source to a port forward, or to a
 * mapping that address or endpoint filtering opens, creates a half-open
 * session, and each session's add, refresh and removal is a history event.
 * Those events, and only those (hlimit_unsolicited: the session is still
 * half-open, NAT_SF_HALF, so the inside has not answered), pass two token
 * buckets before the state writer records them: one per remote address
 * (hashed into a fixed table of slots, so its memory is bounded whatever
 * the number of sources; remotes that share a slot share its bucket, which
 * errs on the side of limiting) and one for all remotes together. An event
 * over either limit is counted (history_events_limited) and not recorded.
 * The packet was forwarded all the same and the table in memory is right;
 * history is short of that step until the entry's next recorded event,
 * which writes its whole state (the overflow policy in state.h). A session
 * the inside answers is no longer half-open: its promotion and everything
 * after it are recorded as for any other flow.
 *
 * Pure: time comes in as an argument (the event's own now_us), the only
 * state is the struct, so a replay of the same packets (gitnet replay-pcap)
 * limits the same events. The hash seed is the caller's; it need not be
 * secret: a spoofer who aims at one remote's slot could as well empty the
 * total bucket, which is everyone's.
 */
#ifndef SRC_HLIMIT_H
#define SRC_HLIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "netfn/event.h"

/* Events per second and bursts; a rate of 0 turns that bucket off. */
struct hlimit_params {
	uint32_t	rate, burst;		/* per remote address: 2/s, 10 */
	uint32_t	total_rate, total_burst;	/* all remotes: 20/s, 200 */
};

/*
 * Defaults. A change of a port forward's entry costs about 800 bytes of
 * repository before compaction (tests/netns/test_history_limits.sh): 20
 * events a second sustained is at most 1.4 GB a day before compaction,
 * where an unlimited flood of 1000 datagrams a second made 68 GB. A remote
 * the inside answers is not held to these at all, so they need only cover
 * scans and unanswered probes; one remote gets a tenth of the total, so a
 * single scanner cannot take it all.
 */
#define HLIMIT_RATE		2
#define HLIMIT_BURST		10
#define HLIMIT_TOTAL_RATE	20
#define HLIMIT_TOTAL_BURST	200
#define HLIMIT_SLOTS		4096	/* per-remote buckets, a power of two */

void hlimit_params_default(struct hlimit_params *p);

struct hlimit;

/* NULL when out of memory. */
struct hlimit *hlimit_new(const struct hlimit_params *p, uint64_t seed);
void hlimit_free(struct hlimit *l);

/* Whether ev is one the limits apply to (see the file comment). */
bool hlimit_unsolicited(const struct nf_event *ev);

/*
 * Take a token for one event from remote at now_us from both buckets:
 * true when there was one in each (the event may be recorded), false when
 * either was empty (nothing taken). Times that go backwards refill nothing.
 */
bool hlimit_take(struct hlimit *l, uint32_t remote, uint64_t now_us);

#endif

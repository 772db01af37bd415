/* SPDX-License-Identifier: ISC */
/*
 * ARP cache with the Linux neighbour model.
 *
 * States (Linux NUD_*): INCOMPLETE (asked, no answer yet; packets queue),
 * REACHABLE (confirmed within reachable_time), STALE (usable, unconfirmed),
 * DELAY (stale and used: wait delay_first_probe for a confirmation), PROBE
 * (unicast requests every retrans), FAILED (no answer), PERMANENT (configured).
 *
 *	resolve:  none -> INCOMPLETE (broadcast request, queue the packet)
 *	          STALE -> DELAY;  FAILED -> INCOMPLETE
 *	reply:    INCOMPLETE/PROBE/DELAY/STALE/REACHABLE -> REACHABLE
 *	request for us from a neighbour we do not know: -> STALE (no round trip)
 *	timers:   REACHABLE -> STALE after reachable_time (random 0.5..1.5 x base)
 *	          DELAY -> PROBE after delay_first_probe
 *	          PROBE, INCOMPLETE -> FAILED after ucast/mcast_probes requests
 *	          STALE unused for gc_stale -> removed; FAILED -> removed
 *
 * Security rules: a reply for an address we did not ask about never creates
 * or overwrites an entry (ARP_UNSOLICITED). A MAC that differs from a valid
 * entry's is only taken from a reply while we are probing that entry (PROBE,
 * after our unicast request went unanswered by the old MAC), and then as an
 * EV_LLADDR event of its own naming the old and new MAC; a request carrying
 * a new MAC is refused (lladdr_refused), since anyone may send one. In
 * INCOMPLETE nothing is known yet, and a reply or request from the address
 * resolves it. Senders outside the interface's subnet are ignored.
 *
 * Events: the cache reports entries that have a link-layer address. An entry
 * appears (EV_ADD) when it first gets a MAC, changes state or MAC (EV_UPDATE,
 * EV_LLADDR), and disappears (EV_REMOVE) when it fails, is collected or is
 * evicted. INCOMPLETE entries and FAILED ones that never had a MAC are
 * internal: an address scan must not write history.
 *
 * Packets waiting for resolution are copied into a pool sized at creation:
 * at most unres_qlen per entry and unres_total in all; beyond that the new
 * packet is refused (Linux drops the oldest instead; under a flood the two
 * differ only in which packets of the burst survive, and refusing the new
 * one needs no copy). When the entry resolves they are sent in order; when it
 * fails they are handed to the fail callback (ICMP host unreachable).
 *
 * No clock, no globals, no allocation after arp_new: `now` is passed in.
 */
#ifndef NETFN_ARP_H
#define NETFN_ARP_H

#include <stddef.h>
#include <stdint.h>

#include "out.h"
#include "wire.h"

#define ARP_STATES(X)				\
	X(INCOMPLETE,	"INCOMPLETE")		\
	X(REACHABLE,	"REACHABLE")		\
	X(STALE,	"STALE")		\
	X(DELAY,	"DELAY")		\
	X(PROBE,	"PROBE")		\
	X(FAILED,	"FAILED")		\
	X(PERMANENT,	"PERMANENT")

enum arp_state {
#define ARP_STATE_ENUM(sym, name) ARP_##sym,
	ARP_STATES(ARP_STATE_ENUM)
#undef ARP_STATE_ENUM
	ARP_STATE_MAX
};

const char *arp_state_name(enum arp_state s);

struct arp_params {
	uint32_t	base_reachable_ms;	/* 30000 */
	uint32_t	delay_first_probe_ms;	/* 5000 */
	uint32_t	retrans_ms;		/* 1000 */
	uint32_t	gc_stale_ms;		/* 60000 */
	uint32_t	max_entries;		/* 1024 (Linux gc_thresh3) */
	uint16_t	ucast_probes;		/* 3 */
	uint16_t	mcast_probes;		/* 3 */
	uint16_t	unres_qlen;		/* 8 packets per entry */
	uint16_t	unres_total;		/* 256 packets in all */
	uint16_t	frame_max;		/* 2048: largest frame queued */
};

void arp_params_default(struct arp_params *p);

/* One interface as the cache sees it: where to ask, and which address is ours. */
struct arp_iface {
	uint8_t		mac[ETH_ALEN];
	uint32_t	addr;
	uint8_t		plen;
	uint8_t		n_alias;
	uint32_t	alias[16];	/* more addresses we answer for (NAT pool) */
};

/* A copy of one entry, for dumps. */
struct arp_entry {
	uint32_t	ip;
	uint8_t		mac[ETH_ALEN];
	uint8_t		state;		/* enum arp_state */
	uint8_t		ifidx;
	uint64_t	updated_us;	/* last confirmation */
	uint64_t	used_us;	/* last use for sending */
	uint64_t	expires_us;	/* 0: never */
	uint16_t	queued;		/* packets waiting */
};

/* Counters of the cache itself; drops of packets are the pipeline's. */
struct arp_stats {
	uint64_t	requests_sent, replies_sent, announces_sent;
	uint64_t	requests_in, replies_in;
	uint64_t	resolved, failed, evicted;
	uint64_t	lladdr_changes, lladdr_refused;
	uint64_t	queue_drops;
	uint64_t	released;	/* queued frames sent once resolved */
};

struct arp_cache;

/* Called with each queued frame of an entry that failed (ICMP unreachable). */
typedef void (*arp_fail_fn)(void *ctx, uint8_t ifidx, const uint8_t *frame,
    size_t len, uint64_t now_us, struct nf_out *out);

/*
 * A cache for n interfaces (ifs[ifidx]), randomised by seed. NULL on bad
 * parameters (zero sizes, n == 0) or out of memory.
 */
struct arp_cache *arp_new(const struct arp_params *p, const struct arp_iface *ifs,
    unsigned n, uint64_t seed);
void arp_free(struct arp_cache *c);

/*
 * Handle a received ARP packet on ifidx (a parsed body and the frame's
 * Ethernet source). Answers requests for our address (reply appended to out),
 * learns and confirms per the rules above, releases queued frames. Returns
 * DROP_NONE when the packet was used, else why it was ignored.
 */
enum drop arp_input(struct arp_cache *c, uint8_t ifidx, const uint8_t eth_src[ETH_ALEN],
    const struct arp *a, uint64_t now_us, struct nf_out *out);

/*
 * Find the MAC for next hop ip on ifidx, to send frame[0..len) (an Ethernet
 * frame whose source MAC is set, destination to be filled). Returns
 * DROP_NONE and copies the MAC to mac when the entry is usable; otherwise
 * copies the frame into the entry's queue, starts resolution if needed and
 * returns ARP_QUEUE_FULL (not queued), or -- having queued it -- DROP_MAX as
 * "held": the caller neither sends nor counts it.
 */
enum drop arp_resolve(struct arp_cache *c, uint8_t ifidx, uint32_t ip,
    uint8_t mac[ETH_ALEN], const uint8_t *frame, size_t len, uint64_t now_us,
    struct nf_out *out);

/* Run the timers due at now_us: state changes, probes, failures, collection. */
void arp_tick(struct arp_cache *c, uint64_t now_us, struct nf_out *out,
    arp_fail_fn fail, void *ctx);

/*
 * When to call arp_tick next (UINT64_MAX: nothing pending). Never later than
 * the earliest due timer; it may be earlier (a confirmation pushes a timer
 * back without a table walk), and a tick then finds nothing due.
 */
uint64_t arp_next_deadline(const struct arp_cache *c);

/* Send a gratuitous ARP request for our address on ifidx (on start). */
void arp_announce(struct arp_cache *c, uint8_t ifidx, struct nf_out *out);
/* The same for another address we answer for on ifidx (a NAT pool's). */
void arp_announce_ip(struct arp_cache *c, uint8_t ifidx, uint32_t ip, struct nf_out *out);

/*
 * Add a PERMANENT entry (configured): EV_ADD, or EV_UPDATE / EV_LLADDR over a
 * learned one; frames waiting on an INCOMPLETE entry are sent. 0, -EINVAL
 * (ifidx, off-subnet or multicast MAC), -ENOSPC (full).
 */
int arp_add_static(struct arp_cache *c, uint8_t ifidx, uint32_t ip,
    const uint8_t mac[ETH_ALEN], uint64_t now_us, struct nf_out *out);

/*
 * Put back an entry from stored state (restart): valid states only; it comes
 * back STALE (it must be confirmed again) unless PERMANENT. No event.
 */
int arp_restore(struct arp_cache *c, const struct arp_entry *e);
/*
 * Drop the entry (ifidx, ip) as stored state says it is gone (a standby
 * following its peer's history): 0, or -ENOENT. A PERMANENT entry stays
 * (-EPERM): it comes from the configuration. No event.
 */
int arp_forget(struct arp_cache *c, uint8_t ifidx, uint32_t ip);

/* Copy up to max entries (in no particular order); returns how many. */
size_t arp_dump(const struct arp_cache *c, struct arp_entry *out, size_t max);
/* Look one entry up by (ifidx, ip): 0 and a copy, or -1. */
int arp_get(const struct arp_cache *c, uint8_t ifidx, uint32_t ip, struct arp_entry *out);
size_t arp_count(const struct arp_cache *c);
const struct arp_stats *arp_stats(const struct arp_cache *c);

#endif

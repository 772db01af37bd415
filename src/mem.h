/* SPDX-License-Identifier: ISC */
/*
 * Memory: how much the router may use, and what it sizes from that.
 *
 * The router preallocates its tables (netfn touches every byte in nat_new,
 * so the NAT table is resident from the start) and bounds what grows (the
 * state writer's ring, the packet rings, the store's caches and libgit2's
 * mapped packs). On a big host the defaults are what they always were: a
 * 1 M-session NAT table and so on. In a small guest those would not fit
 * (a 1 M-session table alone is 144 MB), so by default each is the smaller
 * of its default and a share of one RAM figure:
 *
 *	RAM	--memory SIZE (config `memory`) if given; else the system's
 *		memory (sysinfo(2), MemTotal), or the memory cgroup's limit if
 *		lower (cgroup v2 memory.max, v1 memory.limit_in_bytes, of the
 *		router's cgroup and every ancestor)
 *	NAT	nat.max_sessions: 1048576, or as many as fit in RAM / 3
 *		(nat_sessions_fit), at least 1024; a configured value wins
 *	ring	the state writer's event ring: 65536 events, or RAM / 64
 *		(a power of two, at least 1024)
 *	packet	AF_PACKET rings per interface: 4096 + 2048 slots of 2 KB
 *		(12 MB), or RAM / 32 split two to one, at least 256 + 128
 *	store	store_opts.mem_bytes = RAM: tree cache <= RAM / 16 (64 MB),
 *		libgit2's object cache <= RAM / 16 (256 MB), mapped packs
 *		<= RAM / 8 (8 GB) (store_mem_budget)
 *
 * So 64 MB gives 131072 sessions in a 17.4 MB table, 4096 events (0.9 MB),
 * 2 MB of rings per interface and 4 + 4 + 8 MB for the store; 256 MB gives
 * 524288 sessions (67 MB) and 16384 events; the NAT table and the packet
 * rings are at their defaults from 512 MB, the event ring from 1 GB, the
 * tree cache from 1 GB, libgit2's cache from 4 GB. The ARP cache (1024
 * neighbours), the half-open ring (16384) and the fragment table stay at
 * their defaults: together under 1 MB. (An event is 216 bytes.)
 *
 * mem_plan is pure (unit-tested); mem_detect reads the system.
 */
#ifndef SRC_MEM_H
#define SRC_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

enum mem_source {
	MEM_FLAG,		/* --memory / memory */
	MEM_SYSTEM,		/* sysinfo: the machine's (or guest's) RAM */
	MEM_CGROUP,		/* the memory cgroup's limit, below the RAM */
};

struct mem_plan {
	uint64_t	ram;		/* bytes everything is sized from */
	enum mem_source	source;
	uint32_t	nat_sessions;	/* nat.max_sessions to use */
	bool		nat_auto;	/* sized from ram, not configured */
	size_t		nat_bytes;	/* the NAT table's size (nat_bytes_for) */
	unsigned	ring_events;	/* state_opts.ring_events */
	unsigned	rx_frames, tx_frames;	/* io_params, per interface */
};

/*
 * The plan for configuration c (its memory, nat_params, pool) on a machine
 * of ram bytes from source. Pure.
 */
void mem_plan(struct mem_plan *p, const struct router_config *c, uint64_t ram,
    enum mem_source source);

/*
 * The RAM figure: the machine's memory (sysinfo) or its memory cgroup's
 * limit, whichever is lower. root prefixes every path read ("" for the real
 * system; tests give a directory with proc/self/cgroup and sys/fs/cgroup
 * under it), and sys_bytes, if not 0, stands for sysinfo's figure. Never
 * fails: without cgroup files the system figure stands.
 */
uint64_t mem_detect(const char *root, uint64_t sys_bytes, enum mem_source *source);

/*
 * A cgroup memory limit file's text ("max\n", "536870912\n"): its bytes, or
 * UINT64_MAX for no limit (also for v1's near-2^63 "unlimited" and for text
 * that is not a number).
 */
uint64_t mem_parse_limit(const char *text);

/* "flag", "system", "cgroup". */
const char *mem_source_name(enum mem_source s);

#endif

/* SPDX-License-Identifier: ISC */
/*
 * Table change events: what netfn tells the outside world about its tables.
 *
 * Every change to an ARP entry or a NAT session is returned as an event in
 * the pipeline's output; the router's state writer hands it to the store
 * (store_record_event), which turns it into a change of the entry it
 * names and commits it with the group. An
 * event is a value: it holds everything needed to write the entry's new state
 * and the commit's cause line, and points into nothing.
 */
#ifndef NETFN_EVENT_H
#define NETFN_EVENT_H

#include <stdint.h>

#include "wire.h"

enum ev_table {
	EV_TABLE_ARP = 1,
	EV_TABLE_NAT = 2,
};

#define EV_OPS(X)				\
	X(ADD,		"add")			\
	X(UPDATE,	"update")		\
	X(REMOVE,	"remove")		\
	X(LLADDR,	"lladdr-change")

enum ev_op {
#define EV_OP_ENUM(sym, name) EV_##sym,
	EV_OPS(EV_OP_ENUM)
#undef EV_OP_ENUM
	EV_OP_MAX
};

/* Why an entry changed; the name is what a commit's Cause: trailer says. */
#define EV_CAUSES(X)						\
	X(NONE,		"unknown")					\
	X(ARP_REPLY,	"arp reply")					\
	X(ARP_REQUEST,	"arp request")					\
	X(STATIC,	"configured")					\
	X(REACHABLE_TIMEOUT, "reachable time elapsed")			\
	X(TRAFFIC,	"traffic to a stale neighbour")			\
	X(DELAY_TIMEOUT, "delay elapsed, probing")			\
	X(PROBE_FAILED,	"no reply to probes")				\
	X(GC,		"unused, garbage collected")			\
	X(TABLE_FULL,	"table full, oldest evicted")			\
	X(RESTORE,	"restart")					\
	X(NAT_OUTBOUND,	"new flow from inside")				\
	X(NAT_INBOUND,	"new flow from outside")			\
	X(NAT_FORWARD,	"port forward configured")			\
	X(NAT_TCP,	"tcp state change")				\
	X(NAT_REPLY,	"first reply from the remote")			\
	X(NAT_REFRESH,	"activity")					\
	X(NAT_TIMEOUT,	"idle timeout")

enum ev_cause {
#define EV_CAUSE_ENUM(sym, name) EV_CAUSE_##sym,
	EV_CAUSES(EV_CAUSE_ENUM)
#undef EV_CAUSE_ENUM
	EV_CAUSE_MAX
};

struct ev_arp {
	uint32_t	ip;
	uint8_t		mac[ETH_ALEN];
	uint8_t		old_mac[ETH_ALEN];	/* EV_LLADDR: the MAC it replaced */
	uint8_t		state;			/* enum arp_state */
	uint8_t		ifidx;			/* interface it was learned on */
	uint64_t	updated_us;		/* last confirmation */
	uint64_t	expires_us;		/* removed then unless refreshed; 0 never */
};

/*
 * A NAT session: its mapping (inside endpoint -> external endpoint) and
 * remote. EV_ADD when the session is created (mapping_new says whether its
 * mapping was too), EV_UPDATE for a TCP state change or, lazily, activity that
 * pushed the expiry past half its lifetime since the last event; EV_REMOVE
 * when it expires (mapping_gone: it was the mapping's last session).
 */
/*
 * Remotes an event lists for its mapping, so history (and a restart) knows
 * them: 16 covers nearly every mapping; for one with more, nsessions says
 * how many more there are, and a restart takes that many back as their
 * remotes send (nat_restore_unlisted; issue 17: a restart once dropped
 * traffic from a mapping's 5th remote).
 */
#define EV_NAT_REMOTES	16

struct ev_nat_remote {
	uint32_t	ip;
	uint16_t	port;
	uint8_t		state;		/* enum nat_tcp_state (TCP), else 0 */
	uint8_t		flags;		/* NAT_SF_* of that session */
};

struct ev_nat {
	uint8_t		proto;
	uint8_t		state;		/* enum nat_tcp_state */
	uint8_t		flags;		/* NAT_SF_* */
	uint8_t		mapping_new, mapping_gone;
	uint32_t	int_ip, ext_ip, rem_ip;
	uint16_t	int_port, ext_port, rem_port;
	uint64_t	created_us;
	uint64_t	expires_us;	/* 0: never */
	/*
	 * The mapping after the change, for a store that keeps one entry per
	 * mapping: its sessions (nsessions, with those a restart may still
	 * take back), the first EV_NAT_REMOTES of them, when it was made,
	 * and the latest expiry it has reported (never below the true one;
	 * 0: never, a port forward).
	 */
	uint32_t	nsessions;
	uint8_t		nremote;
	struct ev_nat_remote remote[EV_NAT_REMOTES];
	uint64_t	map_created_us;
	uint64_t	map_expires_us;
};

struct nf_event {
	uint8_t		table;		/* enum ev_table */
	uint8_t		op;		/* enum ev_op */
	uint8_t		cause;		/* enum ev_cause */
	uint64_t	now_us;		/* when it happened */
	union {
		struct ev_arp	arp;
		struct ev_nat	nat;
	};
};

const char *ev_op_name(enum ev_op op);
const char *ev_cause_name(enum ev_cause cause);

#endif

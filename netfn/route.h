/* SPDX-License-Identifier: ISC */
/*
 * IPv4 routing table with longest-prefix match.
 *
 * Routes are (prefix/plen -> next hop gw, interface). gw == 0 marks a
 * connected route: the destination itself is the next hop. The pipeline adds
 * a connected route per interface address, then the default gateway
 * (0.0.0.0/0) and static routes.
 *
 * The table is a control-plane object changed rarely (route_add/route_remove
 * may allocate and rebuild the lookup structure) and read on every packet
 * (route_lookup allocates nothing, touches a bounded number of cache lines
 * and keeps no state, so one table may be read from several threads while
 * nobody writes it).
 */
#ifndef NETFN_ROUTE_H
#define NETFN_ROUTE_H

#include <stddef.h>
#include <stdint.h>

struct rtable;

struct route {
	uint32_t	prefix;		/* host order, host bits zero */
	uint8_t		plen;		/* 0..32 */
	uint8_t		ifidx;		/* interface index in the pipeline */
	uint32_t	gw;		/* 0: connected */
};

/* A new empty table, or NULL when out of memory. */
struct rtable *route_new(void);
/* Free a table; NULL is a no-op. */
void route_free(struct rtable *rt);

/*
 * Add or replace the route for prefix/plen. Host bits in prefix are an error
 * (-EINVAL), as is plen > 32; -ENOMEM when out of memory. Returns 0.
 * Replacing an existing prefix/plen overwrites its gw and ifidx.
 */
int route_add(struct rtable *rt, const struct route *r);

/* Remove the route for exactly prefix/plen: 0, or -ENOENT. */
int route_remove(struct rtable *rt, uint32_t prefix, uint8_t plen);

/*
 * Longest-prefix match for dst: copy the matching route to *out and return 0,
 * or return -1 when no route matches.
 */
int route_lookup(const struct rtable *rt, uint32_t dst, struct route *out);

/* Number of routes; and copy up to max of them, ordered by prefix then plen,
 * into out (returns the number copied). */
size_t route_count(const struct rtable *rt);
size_t route_list(const struct rtable *rt, struct route *out, size_t max);

#endif

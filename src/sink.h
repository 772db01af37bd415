/* SPDX-License-Identifier: ISC */
/*
 * Where table events go once netfn has returned them.
 *
 * The event loop hands each batch's events to one sink, off the packet path
 * (after the batch's frames are sent). The router's sink (router_main.c)
 * passes them to the state writer's ring (src/state.h), which journals them
 * for the store's group commit, and logs them with -v. A sink must not
 * block: it copies what it needs and returns.
 */
#ifndef SRC_SINK_H
#define SRC_SINK_H

#include "netfn/event.h"

struct sink {
	void	(*events)(struct sink *s, const struct nf_event *ev, unsigned n);
	void	*ctx;
	uint64_t total;		/* events received */
};

/*
 * Format one event as a line in the shape of the commit subjects the store
 * writes ("arp: add 192.168.1.2 -> 02:50:2a:16:6d:01 on veth0 (arp reply)");
 * ifnames[ifidx] names interfaces. Returns buf.
 */
char *sink_format(char *buf, size_t len, const struct nf_event *ev,
    const char *const *ifnames);

#endif

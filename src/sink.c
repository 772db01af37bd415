/* SPDX-License-Identifier: ISC */
/*
 * The `-v` log's line for one table event (the router's log sink); the
 * store journals the same events and writes its own commit lines.
 */
#include <stdio.h>

#include "netfn/arp.h"
#include "netfn/nat.h"
#include "sink.h"

char *
sink_format(char *buf, size_t len, const struct nf_event *ev,
    const char *const *ifnames)
{
	char ip[16], mac[18], old[18];
	const char *dev;

	if (ev->table == EV_TABLE_NAT) {
		const struct ev_nat *n = &ev->nat;
		char ii[16], ei[16], ri[16];
		const char *p = ip_proto_name(n->proto);

		snprintf(buf, len, "nat: %s %s %s:%u -> %s:%u to %s:%u%s%s (%s)",
		    ev->op == EV_ADD && n->mapping_new ? "map" : ev_op_name(ev->op),
		    p != NULL ? p : "?",
		    ipv4_ntop(n->int_ip, ii), n->int_port, ipv4_ntop(n->ext_ip, ei),
		    n->ext_port, ipv4_ntop(n->rem_ip, ri), n->rem_port,
		    n->proto == IPPROTO_TCP_ ? " " : "",
		    n->proto == IPPROTO_TCP_ ? nat_tcp_state_name(n->state) : "",
		    ev_cause_name(ev->cause));
		return buf;
	}
	if (ev->table != EV_TABLE_ARP) {
		snprintf(buf, len, "table %u: %s", ev->table, ev_op_name(ev->op));
		return buf;
	}
	dev = ifnames != NULL ? ifnames[ev->arp.ifidx] : "?";
	ipv4_ntop(ev->arp.ip, ip);
	mac_ntop(ev->arp.mac, mac);
	switch (ev->op) {
	case EV_LLADDR:
		snprintf(buf, len, "arp: change %s %s -> %s on %s (%s)", ip,
		    mac_ntop(ev->arp.old_mac, old), mac, dev,
		    ev_cause_name(ev->cause));
		break;
	case EV_REMOVE:
		snprintf(buf, len, "arp: remove %s on %s (%s)", ip, dev,
		    ev_cause_name(ev->cause));
		break;
	default:
		snprintf(buf, len, "arp: %s %s -> %s %s on %s (%s)", ev_op_name(ev->op),
		    ip, mac, arp_state_name(ev->arp.state), dev,
		    ev_cause_name(ev->cause));
		break;
	}
	return buf;
}

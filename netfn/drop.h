/* SPDX-License-Identifier: ISC */
/*
 * Drop reasons of the packet path: one X-macro list, from which the enum and
 * the name table are generated, so a counter, its name in `--stats` and its
 * line in the control socket's dump can never disagree.
 *
 * A parser or pipeline step returns DROP_NONE to let a frame go on, or the
 * reason it stopped; the pipeline adds one to nf_stats.drop[reason].
 */
#ifndef NETFN_DROP_H
#define NETFN_DROP_H

#define NF_DROP_REASONS(X)						\
	X(NONE,		"none",		"not dropped")				\
	X(SHORT,	"short",	"frame shorter than its headers")	\
	X(OVERSIZE,	"oversize",	"frame larger than the router handles")	\
	X(GSO_BAD,	"gso_bad",	"offload header inconsistent with the frame") \
	X(NOT_FOR_US,	"not_for_us",	"destination MAC is not the router's")	\
	X(VLAN,		"vlan",		"802.1Q/802.1ad tagged frame (not VLAN-aware)") \
	X(ETHERTYPE,	"ethertype",	"ethertype is neither IPv4 nor ARP")	\
	X(ARP_BAD,	"arp_bad",	"malformed or unsupported ARP")		\
	X(ARP_NOT_OURS,	"arp_not_ours",	"ARP request for an address that is not ours") \
	X(ARP_OFFNET,	"arp_offnet",	"ARP sender outside the interface's subnet") \
	X(ARP_UNSOLICITED, "arp_unsolicited", "ARP reply we did not ask for (ignored)") \
	X(ARP_QUEUE_FULL, "arp_queue_full", "too many packets waiting for ARP resolution") \
	X(ARP_FAILED,	"arp_failed",	"next hop did not answer ARP")		\
	X(BAD_VERSION,	"bad_version",	"IP version is not 4")			\
	X(BAD_HLEN,	"bad_hlen",	"IPv4 header length below 20 or past the frame") \
	X(BAD_LEN,	"bad_len",	"IPv4 total length inconsistent with the frame") \
	X(BAD_CSUM,	"bad_csum",	"IPv4 header checksum is wrong")		\
	X(MARTIAN_SRC,	"martian_src",	"source address may not appear on the wire") \
	X(MARTIAN_DST,	"martian_dst",	"destination is broadcast, multicast or reserved") \
	X(TTL_EXCEEDED,	"ttl_exceeded",	"TTL expired in transit")		\
	X(NO_ROUTE,	"no_route",	"no route to the destination")		\
	X(TOO_BIG,	"too_big",	"larger than the egress MTU")		\
	X(L4_SHORT,	"l4_short",	"transport header truncated")		\
	X(L4_BAD_CSUM,	"l4_bad_csum",	"transport checksum is wrong")		\
	X(TCP_BAD_OPT,	"tcp_bad_opt",	"malformed TCP option")			\
	X(LOCAL,	"local",	"addressed to the router, no service for it") \
	X(OUT_FULL,	"out_full",	"output batch full")			\
	X(NAT_NO_MAPPING, "nat_no_mapping", "inbound packet matches no NAT mapping") \
	X(NAT_FILTERED,	"nat_filtered",	"inbound packet refused by NAT filtering") \
	X(NAT_UNSOLICITED, "nat_unsolicited", "inbound packet for an inside address, not through NAT") \
	X(NAT_TABLE_FULL, "nat_table_full", "NAT session table full")		\
	X(NAT_HOST_LIMIT, "nat_host_limit", "inside host at its NAT session limit") \
	X(NAT_PORTS,	"nat_ports",	"no free external port")		\
	X(NAT_PROTO,	"nat_proto",	"protocol NAT cannot translate")	\
	X(NAT_FRAG,	"nat_frag",	"later fragment of a datagram NAT has not seen") \
	X(NAT_ICMP_NO_SESSION, "nat_icmp_no_session", "ICMP error about no NAT session") \
	X(NAT_HALF_OPEN, "nat_half_open", "inside host at its limit of half-open inbound sessions") \
	X(NAT_TCP_INVALID, "nat_tcp_invalid", "TCP segment that may not open a NAT session") \
	X(NAT_RST_WINDOW, "nat_rst_window", "TCP RST outside the receiver's window") \
	X(SPOOFED_SRC,	"spoofed_src",	"source not reachable back through the interface it came in on")

enum drop {
#define NF_DROP_ENUM(sym, name, text) DROP_##sym,
	NF_DROP_REASONS(NF_DROP_ENUM)
#undef NF_DROP_ENUM
	DROP_MAX
};

/* Short snake_case name of a reason, for counters ("bad_csum"). */
const char *drop_name(enum drop why);
/* One-line human description of a reason. */
const char *drop_text(enum drop why);

#endif

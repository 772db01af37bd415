/* SPDX-License-Identifier: ISC */
/*
 * NAT44: network address and port translation for TCP, UDP and ICMP, after
 * RFC 4787 (UDP), RFC 5382 (TCP), RFC 5508 (ICMP), RFC 7857 and RFC 6056.
 *
 * Model. A *mapping* binds an inside endpoint (proto, int_ip, int_port) to an
 * external one (ext_ip, ext_port): endpoint-independent mapping (RFC 4787
 * REQ-1), the same for every remote. A *session* is a mapping plus one remote
 * endpoint (rem_ip, rem_port) and carries the TCP state and the expiry. A
 * mapping lives while it has sessions, or forever if it is a port forward.
 * For ICMP query messages the echo identifier plays the port and the remote
 * port is 0.
 *
 * Indexes, all fixed-size and allocated by nat_new:
 *  - mappings by inside key: chained hash, u32 bucket heads;
 *  - mappings by external key: per external address and protocol a 64 Ki
 *    array port -> mapping, which is also the port allocator, so one
 *    external port can never belong to two mappings of one protocol;
 *  - sessions by (mapping, rem_ip, rem_port): chained hash, and a per-mapping
 *    list for address-dependent filtering;
 *  - sessions per inside host, for the per-host limit.
 * Under 136 bytes per session, every index included: a session is 60
 * bytes (8 of them the TCP sequence tracking that RST checking needs) plus
 * two hash buckets at load <= 0.5 (16), the per-host table (16 at worst),
 * and its share of its mapping (32 bytes and a bucket) and of the port
 * tables (nat_bytes; tests/bench/nat_bench measures it).
 *
 * Filtering (RFC 4787 REQ-8) decides which inbound packets a mapping admits:
 * only from remotes it has a session with, address and port
 * (NAT_FILTER_ADDRESS_PORT, the default), from any port of a remote address it
 * has a session with (NAT_FILTER_ADDRESS), or from anyone
 * (NAT_FILTER_ENDPOINT); the latter two create a session for the newcomer.
 *
 * Ports: the inside port is kept when it is free (port preservation), else
 * the search starts at a keyed hash of the inside endpoint plus a counter
 * (RFC 6056 algorithm 3; the key is nat_params.key), same parity first, at
 * most PORT_TRIES candidates a pass, and a full class is known from a count
 * without searching; ports below 1024 map below 1024 (RFC 4787 REQ-3),
 * others to [port_min, port_max]; ICMP identifiers likewise. An inside host always gets the same external
 * address (paired pooling, REQ-2). A full range is a counted drop, never a
 * reused port.
 *
 * TCP (RFC 7857 2.2, with fd.io VPP's tightening): SYN from one side
 * (SYN_OUT/SYN_IN, transitory timeout), SYN from the other (ESTABLISHED,
 * established timeout), a FIN (FIN_OUT/FIN_IN, established timeout), FINs
 * from both (TIME_WAIT, transitory), RST (RST, transitory). A TCP segment
 * from inside without a session that is not a SYN is picked up (as Linux
 * conntrack does by default) so flows survive a router restart: as
 * ESTABLISHED, FIN_OUT if it carries a FIN, RST if a RST. A SYN-ACK never
 * opens a session (DROP_NAT_TCP_INVALID). A RST is taken only in the
 * receiver's window (RFC 5961 3.2; the next sequence number of each side is
 * tracked), else DROP_NAT_RST_WINDOW; CLOSE is left again by any later
 * segment without SYN, FIN or RST (RFC 7857 2.2).
 *
 * Half-open (NAT_SF_HALF, Linux conntrack's SYN_RECV and "unreplied"): a
 * session the remote creates through a forward or EIF/ADF filtering, until
 * the inside answers -- for TCP, until the handshake's last ACK from the
 * remote after the inside's SYN-ACK; for UDP and ICMP, a datagram from
 * inside. Its timeout is tcp_syn_recv_timeout_s / udp_unreplied_timeout_s,
 * it does not count against max_per_host, and at most max_half_open exist:
 * beyond, the oldest is removed (cause TABLE_FULL).
 *
 * Checksums: a datagram that may change state (opens or answers a session,
 * a TCP flag, a first reply) and every ICMP error has its L4 checksum
 * verified first (DROP_L4_BAD_CSUM); the caller must have completed partial
 * (offloaded) checksums.
 *
 * Expiry is lazy (a lookup that finds an expired session treats it as absent
 * and removes it) and swept by nat_tick a bounded number of sessions per call.
 *
 * Fragments: a first fragment is translated like any datagram and remembered
 * (src, dst, id, proto) for a few seconds, later fragments of it follow the
 * same translation; a later fragment that arrives before its first one, or of
 * a datagram never seen, is dropped (DROP_NAT_FRAG).
 *
 * Every session change is returned as an event (EV_TABLE_NAT) with its cause:
 * created (NAT_OUTBOUND, NAT_INBOUND), a TCP state change (NAT_TCP), the first
 * reply from the remote (NAT_REPLY; for UDP and ICMP the only state there
 * is), activity that moved the expiry past half its lifetime since the last
 * event (NAT_REFRESH), expiry (NAT_TIMEOUT).
 * No clock, no globals, no allocation after nat_new.
 */
#ifndef NETFN_NAT_H
#define NETFN_NAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "out.h"
#include "wire.h"

#define NAT_MAX_EXT	16	/* external addresses: outside + pool */

enum nat_filter {
	NAT_FILTER_ADDRESS_PORT,	/* RFC 4787 "address and port-dependent" */
	NAT_FILTER_ADDRESS,		/* "address-dependent" */
	NAT_FILTER_ENDPOINT,		/* "endpoint-independent" */
};

#define NAT_TCP_STATES(X)			\
	X(NONE,		"NONE")			\
	X(SYN_OUT,	"SYN_SENT")		\
	X(SYN_IN,	"SYN_RECV")		\
	X(ESTABLISHED,	"ESTABLISHED")		\
	X(FIN_OUT,	"FIN_WAIT")		\
	X(FIN_IN,	"CLOSE_WAIT")		\
	X(TIME_WAIT,	"TIME_WAIT")		\
	X(RST,		"CLOSE")

enum nat_tcp_state {
#define NAT_TCP_ENUM(sym, name) NAT_TCP_##sym,
	NAT_TCP_STATES(NAT_TCP_ENUM)
#undef NAT_TCP_ENUM
	NAT_TCP_MAX
};

/* conntrack's name for a TCP state ("ESTABLISHED", "TIME_WAIT" ...). */
const char *nat_tcp_state_name(enum nat_tcp_state s);

struct nat_params {
	uint32_t	max_sessions;		/* 1048576 */
	uint32_t	max_per_host;		/* sessions per inside host: 16384 */
	uint32_t	udp_timeout_s;		/* 300 (RFC 4787 REQ-5: >= 120) */
	uint32_t	tcp_est_timeout_s;	/* 7440 (RFC 5382 REQ-5) */
	uint32_t	tcp_trans_timeout_s;	/* 240 */
	uint32_t	icmp_timeout_s;		/* 60 (RFC 5508 REQ-1) */
	uint16_t	port_min, port_max;	/* 1024..65535 */
	uint8_t		filtering;		/* enum nat_filter */
	uint16_t	frag_max;		/* fragment translations kept: 1024 */
	uint32_t	frag_timeout_s;		/* 5 */
	uint32_t	sweep_per_tick;		/* sessions nat_tick examines: 4096 */
	/* Inbound-created sessions are half-open until the inside answers
	 * (Linux conntrack's SYN_RECV and UDP "unreplied"): own timeouts, own
	 * per-host limit (0 in any of these: the default). */
	uint32_t	tcp_syn_recv_timeout_s;	/* 60 */
	uint32_t	udp_unreplied_timeout_s; /* 30 (UDP and ICMP) */
	uint32_t	max_half_open;		/* per inside host: 1024 */
	uint64_t	key[2];			/* port choice secret; 0: from seed */
};

void nat_params_default(struct nat_params *p);

/* One session, copied out for dumps and the store. */
struct nat_session {
	uint8_t		proto;		/* IPPROTO_TCP_, _UDP_, _ICMP_ */
	uint8_t		state;		/* enum nat_tcp_state (TCP), else 0 */
	uint8_t		flags;		/* NAT_SF_* */
	uint32_t	int_ip;
	uint16_t	int_port;	/* ICMP: the inside echo identifier */
	uint32_t	ext_ip;
	uint16_t	ext_port;
	uint32_t	rem_ip;
	uint16_t	rem_port;	/* ICMP: 0 */
	uint64_t	created_us;
	uint64_t	expires_us;	/* 0: never (port forward without traffic) */
};

#define NAT_SF_REPLIED	0x01	/* something came back from the remote */
#define NAT_SF_INBOUND	0x02	/* the remote started it (forward, EIF/ADF) */
#define NAT_SF_STATIC	0x04	/* its mapping is a port forward */
#define NAT_SF_HALF	0x08	/* inbound, the inside has not answered yet */

struct nat_stats {
	uint64_t	in2out, out2in, hairpin;
	uint64_t	sessions_created, sessions_expired, sessions_removed;
	uint64_t	mappings_created, mappings_removed;
	uint64_t	ports_preserved, ports_random;
	uint64_t	icmp_errors_translated;
	uint64_t	frags_translated;
	uint64_t	tcp_pickups;		/* sessions begun mid-stream */
	uint64_t	half_open_evicted;	/* oldest half-open made room */
	uint64_t	half_open_promoted;	/* the inside answered */
	uint64_t	restore_pickups;	/* unlisted restored sessions taken back */
};

struct nat;

/*
 * A NAT translating to ext[0..n_ext) (ext[0] is the outside interface's
 * address), randomised by seed. NULL on bad parameters or out of memory.
 */
struct nat *nat_new(const struct nat_params *p, const uint32_t *ext, unsigned n_ext,
    uint64_t seed);
void nat_free(struct nat *nat);

/* One of the external addresses? */
bool nat_is_external(const struct nat *nat, uint32_t addr);

/*
 * Translate the IPv4 datagram ip[0..h->tot_len) leaving for the outside:
 * source address and port become the mapping's, every checksum is patched
 * (RFC 1624), *h is updated. Creates the mapping and session if needed.
 * Returns DROP_NONE, or why it cannot (DROP_NAT_*): the caller drops it.
 */
enum drop nat_in2out(struct nat *nat, uint8_t *ip, struct ipv4 *h, uint64_t now_us,
    struct nf_out *out);

/*
 * Translate a datagram that arrived on the outside for an external address:
 * destination becomes the inside endpoint, subject to filtering. Returns
 * DROP_NONE, DROP_NAT_NO_MAPPING when no mapping owns the destination (the
 * caller may deliver it locally, e.g. a ping to the router), or another
 * DROP_NAT_* reason.
 */
enum drop nat_out2in(struct nat *nat, uint8_t *ip, struct ipv4 *h, uint64_t now_us,
    struct nf_out *out);

/*
 * Would nat_out2in translate this datagram (a live session, or a mapping
 * whose filtering admits its source)? Changes nothing; for the pipeline's
 * checks that must come before translation (an expired TTL).
 */
bool nat_out2in_admits(const struct nat *nat, const uint8_t *ip, const struct ipv4 *h,
    uint64_t now_us);

/*
 * A static port forward: proto ext_port on ext[0] -> int_ip:int_port, never
 * expiring; inbound packets are admitted from anyone. 0, -EINVAL (proto, port
 * 0), -EEXIST (the external port is taken), -ENOSPC.
 */
int nat_forward_add(struct nat *nat, uint8_t proto, uint16_t ext_port,
    uint32_t int_ip, uint16_t int_port, uint64_t now_us, struct nf_out *out);

/*
 * Warm the cache for a batch about to be translated: for each IPv4 frame
 * (Ethernet header first) prefetch the hash bucket of its session, then the
 * session itself, so the lookups that follow hit. Frames arriving on
 * outside_ifidx are looked up by their outside tuple, others by their inside
 * tuple. A hint only: reads nothing it does not bounds-check, changes nothing.
 */
void nat_prefetch(const struct nat *nat, const struct nf_frame *f, unsigned n,
    uint8_t outside_ifidx);

/*
 * The same in two steps, for a caller that pipelines: nat_prefetch_bucket
 * prefetches a frame's bucket and returns it (NULL when the frame has none);
 * nat_prefetch_session, given it some frames later, prefetches the session
 * the bucket names.
 */
const uint32_t *nat_prefetch_bucket(const struct nat *nat, const struct nf_frame *f,
    uint8_t outside_ifidx);
void nat_prefetch_session(const struct nat *nat, const uint32_t *bucket);

/* Expire idle sessions: examines at most sweep_per_tick sessions a call. */
void nat_tick(struct nat *nat, uint64_t now_us, struct nf_out *out);

/*
 * Put back a session from stored state (restart), keeping its external port.
 * 0, -EEXIST (the port now belongs to another inside endpoint), -ENOSPC,
 * -EINVAL. No event.
 */
int nat_restore(struct nat *nat, const struct nat_session *s, uint64_t now_us);

/*
 * Drop the mapping of inside endpoint (proto, int_ip, int_port) and every
 * session it has, as stored state says they are gone (a standby following
 * its peer's history, before the mapping's new state is restored): 0, or
 * -ENOENT. A port forward's mapping keeps itself, its sessions go. No event.
 */
int nat_forget(struct nat *nat, uint8_t proto, uint32_t int_ip, uint16_t int_port);

/*
 * After nat_restore() of a mapping's listed sessions: history counted n
 * more that it did not list (an event lists EV_NAT_REMOTES). Until
 * expires_us (the mapping's stored expiry) inbound traffic from up to n
 * remotes that filtering would refuse is taken back as established
 * sessions (restore_pickups), never a TCP SYN or RST. 0, -ENOENT (no such
 * mapping), -EINVAL. No event.
 */
int nat_restore_unlisted(struct nat *nat, uint8_t proto, uint32_t int_ip,
    uint16_t int_port, uint32_t n, uint64_t expires_us, uint64_t now_us);

/*
 * Copy sessions out, from *cursor on (start at 0), at most max; *cursor is
 * advanced and reads 0 again after the last. Returns the number copied.
 */
size_t nat_dump(const struct nat *nat, struct nat_session *out, size_t max,
    uint32_t *cursor);
size_t nat_count(const struct nat *nat);
/* Bytes the tables occupy, all indexes included (for the memory bench). */
size_t nat_bytes(const struct nat *nat);
/*
 * What nat_new(p, ext, n_ext, ...) would allocate: nat_bytes of the result,
 * to the byte. Every byte is touched by nat_new (free lists, empty buckets),
 * so it is also what the tables add to the resident set from the start.
 */
size_t nat_bytes_for(const struct nat_params *p, unsigned n_ext);
/*
 * The largest max_sessions in lo..hi whose tables (p otherwise) take at most
 * budget bytes; lo when even lo does not fit.
 */
uint32_t nat_sessions_fit(const struct nat_params *p, unsigned n_ext, size_t budget,
    uint32_t lo, uint32_t hi);
const struct nat_stats *nat_stats(const struct nat *nat);

#endif

/* SPDX-License-Identifier: ISC */
/*
 * The guest's configuration: keys from the kernel command line, xenstore and
 * the last good configuration saved on the state disk, checked, and turned
 * into the router's command line.
 *
 * The keys are the router's flag names (src/config.h), so one document
 * serves every source: gitnet.KEY=VALUE words on the kernel command line
 * (part of the domain's config: they survive every restart), keys under the
 * relative xenstore path data/gitnet/ (the domain's home, whatever its domid:
 * it follows the guest across save/restore and migration), and the same
 * words in a file on the state disk. The sources are layers (see
 * guest_cfg_overlay): xenstore over the command line, and the saved file
 * under both, used only when neither gives an inside.
 *
 *	inside, outside		NIC=ADDR/PLEN (required); NIC is one of
 *				  DEV			a kernel name: eth0 is the
 *							first NIC (the default form)
 *				  mac:XX:XX:XX:XX:XX:XX	the NIC with that MAC
 *				  vif:N			Xen's vif N (its sysfs
 *							device/nodename is
 *							device/vif/N)
 *	gateway			IP
 *	nat			on | off
 *	nat-filtering		address-port | address | endpoint	(live)
 *	udp-timeout, tcp-timeout, tcp-transitory-timeout, icmp-timeout	(live)
 *	nat-max-sessions, nat-max-per-host	N
 *	memory			N (K, M, G): what the router sizes its tables and
 *				caches from (default: the guest's RAM, or its cgroup's)
 *	history-inbound-rate, history-inbound-burst,
 *	history-inbound-total-rate, history-inbound-total-burst	N
 *	history-keep, history-compact	DURATION
 *	history-max-bytes	N (K, M, G)
 *	verbose			0..3						(live)
 *	forward/<n>		PROTO:PORT=IP:PORT				(live)
 *	route/<n>		PREFIX/PLEN=IP
 *	arp/<n>			IP=MAC
 *	nat-pool/<n>		IP
 *	history-push/<n>	URL: push history there (git://, ssh, file://, path)
 *	history-push-interval	S: at most one push per S seconds (5)
 *	state-device		auto (default: vdb, else xvdb, else no
 *				history) | DEV (vdb, xvda, xvdb1) | serial:ID
 *				(virtio-blk) | none; a DEV or serial that is
 *				not there stops the boot
 *
 * List keys are a directory of entries in xenstore (forward/1, forward/2,
 * ordered by number) and a repeated word on the command line
 * (gitnet.forward=... gitnet.forward=...). "Live" keys are applied while
 * the guest runs; the others take effect at the next boot and a change to
 * them is only logged. A guest_cfg holds copies of the strings, never
 * pointers into libxenstore's buffers.
 */
#ifndef GUEST_XS_H
#define GUEST_XS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GUEST_KEY_MAX	48
#define GUEST_VAL_MAX	128
#define GUEST_MAX_KV	160
#define GUEST_ARGV_MAX	(2 * GUEST_MAX_KV + 16)

struct xs_handle;

#define GUEST_SRC_MAX	96

/*
 * An inside or outside value, NIC=ADDR/PLEN, split. The router only knows
 * kernel names: init resolves a mac: or vif: selector to one (guest/init.c,
 * nics_up) and hands the names to guest_cfg_argv in a guest_ifnames.
 */
enum guest_nic_by { GUEST_NIC_DEV, GUEST_NIC_MAC, GUEST_NIC_VIF };

struct guest_nic {
	enum guest_nic_by by;
	char		dev[16];	/* GUEST_NIC_DEV: the name as given */
	uint8_t		mac[6];		/* GUEST_NIC_MAC */
	unsigned	vif;		/* GUEST_NIC_VIF */
	char		addr[GUEST_VAL_MAX];	/* "ADDR/PLEN" (checked by the router) */
};

/* The kernel names of the inside and outside NICs; "" while unknown. */
struct guest_ifnames {
	char	inside[16];
	char	outside[16];
};

struct guest_kv {
	char	key[GUEST_KEY_MAX];	/* "inside", "forward/1" */
	char	val[GUEST_VAL_MAX];
	char	from[GUEST_SRC_MAX];	/* its source's label, for messages */
};

struct guest_cfg {
	char		source[GUEST_SRC_MAX];	/* "xenstore data/gitnet/" */
	struct guest_kv	kv[GUEST_MAX_KV];
	unsigned	n;
};

/* The router's argv, with its own copies of the strings. */
struct guest_argv {
	int	argc;
	char	*argv[GUEST_ARGV_MAX + 1];	/* NULL-terminated */
	char	buf[GUEST_MAX_KV * (GUEST_VAL_MAX + 32) + 1024];
	size_t	used;
};

/*
 * Empty configuration from source: a label that, followed by a key name,
 * says where the key was ("kernel command line gitnet.", "xenstore
 * data/gitnet/"). Each key keeps the label it was set under.
 */
void guest_cfg_init(struct guest_cfg *c, const char *source);

/*
 * Add or replace key (a documented key; list keys as "forward/<n>"). Returns
 * 0, or -1 with "SOURCEKEY: reason" in err for an unknown key, an empty,
 * overlong or unprintable value, or too many keys.
 */
int guest_cfg_set(struct guest_cfg *c, const char *key, const char *val,
    char *err, size_t errlen);

/* The value of key, or NULL. */
const char *guest_cfg_get(const struct guest_cfg *c, const char *key);

/*
 * Take every gitnet.KEY=VALUE word of a kernel command line; other words are
 * the kernel's and are skipped. List keys may repeat. Returns 0 or -1 (err).
 */
int guest_cfg_from_cmdline(struct guest_cfg *c, const char *cmdline,
    char *err, size_t errlen);

/*
 * Connect to xenstore (libxenstore: $XENSTORED_PATH, the socket, or
 * /dev/xen/xenbus) and name this domain's subtree: base gets the relative
 * path "data/gitnet", which xenstored resolves against the connection's
 * home, /local/domain/<domid>/ (an absolute path would name the old domid
 * after `xl restore` or a migration). The relative key domid is read as a
 * check that the connection is a domain's; domid gets it (may be NULL).
 * Returns NULL with the reason in err when there is no xenstore or no domid.
 */
struct xs_handle *guest_xs_open(char *base, size_t baselen, char *domid,
    size_t domidlen, char *err, size_t errlen);

/*
 * Read the subtree at base into c (after guest_cfg_init), in one xenstore
 * transaction retried on EAGAIN, so a dom0 writing several keys in a
 * transaction is seen all or nothing. A missing subtree reads as empty.
 * Returns 0 or -1 (err names the key).
 */
int guest_cfg_from_xenstore(struct guest_cfg *c, struct xs_handle *h,
    const char *base, char *err, size_t errlen);

/*
 * Split an inside/outside value into n. Returns 0, or -1 with the reason in
 * why ("'mac:52:54:00' is not mac:XX:XX:XX:XX:XX:XX"; no key: the caller
 * names it). The DEV form is passed on as is: the router checks the name.
 */
int guest_nic_parse(struct guest_nic *n, const char *val, char *why,
    size_t whylen);

/* n's selector for messages: "eth0", "mac 52:54:00:00:00:10", "vif 1". */
void guest_nic_str(const struct guest_nic *n, char *buf, size_t len);

/*
 * Check c and build the router's command line: prog, the flags for every
 * key, then --state state_dir and --control control. Each key is checked
 * in turn against the keys before it with the router's own parser, so the
 * message names the key that broke the configuration. ifn (may be NULL)
 * holds the kernel names init found for inside and outside; a mac: or vif:
 * NIC without one is checked with a stand-in name (gitnet-in, gitnet-out),
 * so the argv is then for checking only. Returns 0 or -1 with
 * "SOURCEKEY: reason" in err.
 */
int guest_cfg_argv(const struct guest_cfg *c, const struct guest_ifnames *ifn,
    const char *prog, const char *state_dir, const char *control,
    struct guest_argv *out, char *err, size_t errlen);

/*
 * Lay top over dst: each of top's keys replaces dst's; a list top gives at
 * all (any forward/<n>) replaces dst's whole list, so the entries of two
 * sources never mix. Keys keep their sources' labels; dst->source is kept.
 * Returns 0, or -1 (err) when the result would hold too many keys.
 */
int guest_cfg_overlay(struct guest_cfg *dst, const struct guest_cfg *top,
    char *err, size_t errlen);

/*
 * Save c to path as kernel command line words (gitnet.KEY=VALUE, one a line,
 * lists in order; lines starting with # are comments), atomically: path.tmp
 * is written, fsynced and renamed over path, then the directory is fsynced,
 * so path holds the old or the new configuration whatever happens. Mode
 * 0600 (history-push URLs may name accounts). A file that holds these words
 * already is left alone. Returns 1 (written), 0 (unchanged) or -1 (err).
 */
int guest_cfg_save(const struct guest_cfg *c, const char *path, char *err,
    size_t errlen);

/*
 * Load what guest_cfg_save wrote into c, labelled "PATH: gitnet.". Returns
 * 1, 0 when there is no such file, or -1 (err) when it cannot be read or
 * holds a word the command line would refuse.
 */
int guest_cfg_load(struct guest_cfg *c, const char *path, char *err,
    size_t errlen);

/* Whether a change to key can be applied while the guest runs. */
bool guest_key_live(const char *key);

/*
 * Call fn for every key whose value differs between old and new (a missing
 * key passes NULL; fn may be NULL). Returns how many differ.
 */
unsigned guest_cfg_diff(const struct guest_cfg *old, const struct guest_cfg *new_,
    void (*fn)(void *ctx, const char *key, const char *was, const char *now),
    void *ctx);

#endif

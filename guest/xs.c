/* SPDX-License-Identifier: ISC */
/*
 * The guest's configuration: the key table, the sources (the kernel command
 * line, xenstore, the file the last good configuration is saved in), how
 * they are laid over each other, the check and the router's argv.
 *
 * Invariants: a guest_cfg only holds documented keys with printable,
 * non-empty values shorter than GUEST_VAL_MAX; list keys are "NAME/<n>"
 * with n decimal. Checking is done by the router's own parser
 * (config_parse_args), never by a second copy of its rules, so the guest
 * accepts exactly what the router accepts. The guest's own forms are
 * checked here: an inside/outside NIC given by MAC or vif index (the router
 * gets the kernel name init resolved it to, see guest_nic_parse) and the
 * state-device name.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xenstore.h>

#include "guest/xs.h"
#include "src/config.h"

enum guest_kind {
	GK_SCALAR,	/* --flag VALUE */
	GK_LIST,	/* --flag VALUE per entry */
	GK_NAT,		/* on | off: --no-nat */
	GK_PREEMPT,	/* on | off: --preempt */
	GK_VERBOSE,	/* 0..3: -v repeated */
	GK_IFACE,	/* NIC=ADDR/PLEN: --flag DEV=ADDR/PLEN (guest_nic_parse) */
	GK_GUEST,	/* the guest's own, not the router's */
	GK_DISK,	/* the guest's own: a block device name (state-device) */
};

struct guest_key {
	const char	*name;
	enum guest_kind	 kind;
	bool		 live;
};

/*
 * Inside and outside first: every other key is checked against them. The
 * order here is the order of the router's argv.
 */
static const struct guest_key guest_keys[] = {
	{ "inside",			GK_IFACE,	false },
	{ "outside",			GK_IFACE,	false },
	{ "gateway",			GK_SCALAR,	false },
	{ "route",			GK_LIST,	false },
	{ "arp",			GK_LIST,	false },
	{ "nat",			GK_NAT,		false },
	{ "nat-pool",			GK_LIST,	false },
	{ "nat-max-sessions",		GK_SCALAR,	false },
	{ "nat-max-per-host",		GK_SCALAR,	false },
	{ "memory",			GK_SCALAR,	false },
	{ "nat-filtering",		GK_SCALAR,	true },
	{ "udp-timeout",		GK_SCALAR,	true },
	{ "tcp-timeout",		GK_SCALAR,	true },
	{ "tcp-transitory-timeout",	GK_SCALAR,	true },
	{ "icmp-timeout",		GK_SCALAR,	true },
	{ "forward",			GK_LIST,	true },
	{ "history-inbound-rate",	GK_SCALAR,	false },
	{ "history-inbound-burst",	GK_SCALAR,	false },
	{ "history-inbound-total-rate",	GK_SCALAR,	false },
	{ "history-inbound-total-burst", GK_SCALAR,	false },
	{ "history-keep",		GK_SCALAR,	false },
	{ "history-max-bytes",		GK_SCALAR,	false },
	{ "history-compact",		GK_SCALAR,	false },
	{ "verbose",			GK_VERBOSE,	true },
	{ "history-push",		GK_LIST,	false },
	{ "history-push-interval",	GK_SCALAR,	false },
	{ "sync",			GK_SCALAR,	false },
	{ "router-id",			GK_SCALAR,	false },
	{ "standby",			GK_SCALAR,	false },
	{ "takeover-after",		GK_SCALAR,	false },
	{ "preempt",			GK_PREEMPT,	false },
	{ "state-device",		GK_DISK,	false },
};
#define GUEST_NKEYS	(sizeof(guest_keys) / sizeof(guest_keys[0]))

static int __attribute__((format(printf, 3, 4)))
guest_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* The table entry for "forward/3" or "inside"; NULL if undocumented. */
static const struct guest_key *
guest_key_find(const char *key)
{
	const char *slash = strchr(key, '/');
	size_t n = slash != NULL ? (size_t)(slash - key) : strlen(key);

	for (size_t i = 0; i < GUEST_NKEYS; i++) {
		const struct guest_key *k = &guest_keys[i];

		if (strlen(k->name) != n || strncmp(k->name, key, n) != 0)
			continue;
		if ((k->kind == GK_LIST) != (slash != NULL))
			return NULL;
		if (slash != NULL) {
			/* forward/<n>: n decimal, 1..6 digits. */
			const char *p = slash + 1;
			size_t d = strspn(p, "0123456789");

			if (d == 0 || d > 6 || p[d] != '\0')
				return NULL;
		}
		return k;
	}
	return NULL;
}

bool
guest_key_live(const char *key)
{
	const struct guest_key *k = guest_key_find(key);

	return k != NULL && k->live;
}

void
guest_cfg_init(struct guest_cfg *c, const char *source)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->source, sizeof(c->source), "%s", source);
}

const char *
guest_cfg_get(const struct guest_cfg *c, const char *key)
{
	for (unsigned i = 0; i < c->n; i++)
		if (strcmp(c->kv[i].key, key) == 0)
			return c->kv[i].val;
	return NULL;
}

int
guest_cfg_set(struct guest_cfg *c, const char *key, const char *val,
    char *err, size_t errlen)
{
	const struct guest_key *k = guest_key_find(key);
	size_t vl = strlen(val);
	unsigned i;

	if (k == NULL || strlen(key) >= GUEST_KEY_MAX)
		return guest_fail(err, errlen, "%s%s: unknown key (see README, "
		    "\"The guest\")", c->source, key);
	if (vl == 0)
		return guest_fail(err, errlen, "%s%s: empty value", c->source, key);
	if (vl >= GUEST_VAL_MAX)
		return guest_fail(err, errlen, "%s%s: value longer than %d bytes",
		    c->source, key, GUEST_VAL_MAX - 1);
	/* Values go on a command line and into log lines: no blanks or controls. */
	for (const char *p = val; *p != '\0'; p++)
		if (!isgraph((unsigned char)*p))
			return guest_fail(err, errlen, "%s%s: value '%s' has a blank or "
			    "control character", c->source, key, val);
	for (i = 0; i < c->n; i++)
		if (strcmp(c->kv[i].key, key) == 0)
			break;
	if (i == c->n) {
		if (c->n == GUEST_MAX_KV)
			return guest_fail(err, errlen, "%s%s: more than %d keys",
			    c->source, key, GUEST_MAX_KV);
		c->n++;
		snprintf(c->kv[i].key, sizeof(c->kv[i].key), "%s", key);
	}
	snprintf(c->kv[i].val, sizeof(c->kv[i].val), "%s", val);
	memcpy(c->kv[i].from, c->source, sizeof(c->kv[i].from));
	return 0;
}

int
guest_cfg_from_cmdline(struct guest_cfg *c, const char *cmdline,
    char *err, size_t errlen)
{
	unsigned nlist[GUEST_NKEYS] = { 0 };
	const char *p = cmdline;

	while (*p != '\0') {
		char word[GUEST_KEY_MAX + GUEST_VAL_MAX + 16], key[GUEST_KEY_MAX + 16];
		const struct guest_key *k;
		size_t n;
		char *eq;

		p += strspn(p, " \t\n");
		n = strcspn(p, " \t\n");
		if (n == 0)
			break;
		if (strncmp(p, "gitnet.", 7) != 0) {
			p += n;
			continue;
		}
		if (n >= sizeof(word))
			return guest_fail(err, errlen, "%s%.*s...: word too long",
			    c->source, 24, p + 7);
		memcpy(word, p + 7, n - 7);
		word[n - 7] = '\0';
		p += n;
		if ((eq = strchr(word, '=')) == NULL)
			return guest_fail(err, errlen, "%s%s: no '=VALUE'", c->source,
			    word);
		*eq = '\0';
		if (strchr(word, '/') != NULL || strlen(word) >= GUEST_KEY_MAX)
			return guest_fail(err, errlen, "%s%s: unknown key", c->source,
			    word);
		snprintf(key, sizeof(key), "%s", word);
		for (k = guest_keys; k < guest_keys + GUEST_NKEYS; k++)
			if (strcmp(k->name, word) == 0)
				break;
		/* A repeated list word is the next entry: forward/0, forward/1. */
		if (k < guest_keys + GUEST_NKEYS && k->kind == GK_LIST)
			snprintf(key, sizeof(key), "%s/%u", word, nlist[k - guest_keys]++);
		if (guest_cfg_set(c, key, eq + 1, err, errlen) < 0)
			return -1;
	}
	return 0;
}

struct xs_handle *
guest_xs_open(char *base, size_t baselen, char *domidbuf, size_t domidlen,
    char *err, size_t errlen)
{
	struct xs_handle *h;
	unsigned len;
	char *domid;

	if ((h = xs_open(0)) == NULL) {
		guest_fail(err, errlen, "xenstore: cannot connect (%s)",
		    strerror(errno));
		return NULL;
	}
	/* Relative paths resolve under /local/domain/<our domid>. */
	if ((domid = xs_read(h, XBT_NULL, "domid", &len)) == NULL) {
		guest_fail(err, errlen, "xenstore: cannot read our domid (%s)",
		    strerror(errno));
		xs_close(h);
		return NULL;
	}
	if (len == 0 || strspn(domid, "0123456789") != len) {
		guest_fail(err, errlen, "xenstore: domid '%s' is not a number", domid);
		free(domid);
		xs_close(h);
		return NULL;
	}
	/*
	 * Relative, never /local/domain/<domid>/...: the domid changes on
	 * `xl restore` and migration, and the home moves with it.
	 */
	snprintf(base, baselen, "data/gitnet");
	if (domidbuf != NULL)
		snprintf(domidbuf, domidlen, "%s", domid);
	free(domid);
	return h;
}

static int
guest_cmp_entry(const void *a, const void *b)
{
	const char *x = *(const char * const *)a, *y = *(const char * const *)b;
	size_t lx = strlen(x), ly = strlen(y);

	/* Numeric order for decimal names of any length: shorter is smaller. */
	return lx != ly ? (lx < ly ? -1 : 1) : strcmp(x, y);
}

/* Read base/key into c: 0, -1 (err set), or -2 when the transaction must be retried. */
static int
guest_xs_read1(struct guest_cfg *c, struct xs_handle *h, xs_transaction_t t,
    const char *base, const char *key, char *err, size_t errlen)
{
	char path[256];
	unsigned len;
	char *v;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", base, key);
	if ((v = xs_read(h, t, path, &len)) == NULL) {
		if (errno == EAGAIN)
			return -2;
		return guest_fail(err, errlen, "%s%s: cannot read (%s)", c->source,
		    key, strerror(errno));
	}
	if (strlen(v) != len) {
		free(v);
		return guest_fail(err, errlen, "%s%s: value has a NUL byte",
		    c->source, key);
	}
	rc = guest_cfg_set(c, key, v, err, errlen);
	free(v);
	return rc;
}

/* One attempt in transaction t: -2 on EAGAIN (try again), -1 on error. */
static int
guest_xs_read_tree(struct guest_cfg *c, struct xs_handle *h, xs_transaction_t t,
    const char *base, char *err, size_t errlen)
{
	char **names, **sub, key[GUEST_KEY_MAX + 16], dir[256];
	unsigned n, m;
	int rc = 0;

	if ((names = xs_directory(h, t, base, &n)) == NULL) {
		if (errno == ENOENT)
			return 0;
		if (errno == EAGAIN)
			return -2;
		return guest_fail(err, errlen, "xenstore: %s: cannot list (%s)", base,
		    strerror(errno));
	}
	qsort(names, n, sizeof(names[0]), guest_cmp_entry);
	for (unsigned i = 0; i < n && rc == 0; i++) {
		const struct guest_key *k;
		char probe[GUEST_KEY_MAX + 8];

		snprintf(probe, sizeof(probe), "%s/1", names[i]);
		k = guest_key_find(probe);
		if (k == NULL || k->kind != GK_LIST) {
			rc = guest_xs_read1(c, h, t, base, names[i], err, errlen);
			continue;
		}
		snprintf(dir, sizeof(dir), "%s/%s", base, names[i]);
		if ((sub = xs_directory(h, t, dir, &m)) == NULL) {
			rc = errno == EAGAIN ? -2 : guest_fail(err, errlen,
			    "%s%s: cannot list (%s)", c->source, names[i], strerror(errno));
			continue;
		}
		qsort(sub, m, sizeof(sub[0]), guest_cmp_entry);
		for (unsigned j = 0; j < m && rc == 0; j++) {
			snprintf(key, sizeof(key), "%s/%s", names[i], sub[j]);
			rc = guest_xs_read1(c, h, t, base, key, err, errlen);
		}
		free(sub);
	}
	free(names);
	return rc;
}

int
guest_cfg_from_xenstore(struct guest_cfg *c, struct xs_handle *h,
    const char *base, char *err, size_t errlen)
{
	char source[96];

	snprintf(source, sizeof(source), "xenstore %s/", base);
	for (int attempt = 0; attempt < 20; attempt++) {
		xs_transaction_t t;
		int rc;

		guest_cfg_init(c, source);
		if ((t = xs_transaction_start(h)) == XBT_NULL)
			return guest_fail(err, errlen, "xenstore: transaction: %s",
			    strerror(errno));
		rc = guest_xs_read_tree(c, h, t, base, err, errlen);
		/* Read-only: commit only to learn whether the reads were consistent. */
		if (!xs_transaction_end(h, t, rc != 0)) {
			if (errno == EAGAIN)
				continue;
			if (rc == 0)
				return guest_fail(err, errlen, "xenstore: transaction end: %s",
				    strerror(errno));
		}
		if (rc != -2)
			return rc;
	}
	return guest_fail(err, errlen, "xenstore: %s keeps changing under us "
	    "(20 transactions in a row failed with EAGAIN)", base);
}

static int
guest_hex(int c)
{
	return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

int
guest_nic_parse(struct guest_nic *n, const char *val, char *why, size_t whylen)
{
	const char *eq = strchr(val, '=');
	size_t sl;

	memset(n, 0, sizeof(*n));
	if (eq == NULL)
		return guest_fail(why, whylen, "'%s' lacks =ADDR/PLEN (NIC=ADDR/PLEN; "
		    "NIC: eth0, mac:XX:XX:XX:XX:XX:XX or vif:N)", val);
	sl = (size_t)(eq - val);
	snprintf(n->addr, sizeof(n->addr), "%s", eq + 1);
	if (strncmp(val, "mac:", 4) == 0) {
		const char *p = val + 4;

		n->by = GUEST_NIC_MAC;
		for (int i = 0; i < 6 && sl == 4 + 17; i++, p += 3) {
			if (!isxdigit((unsigned char)p[0]) ||
			    !isxdigit((unsigned char)p[1]) || (i < 5 && p[2] != ':'))
				break;
			n->mac[i] = (uint8_t)(guest_hex(p[0]) << 4 | guest_hex(p[1]));
			if (i == 5)
				return 0;
		}
		return guest_fail(why, whylen, "'%.*s' is not mac:XX:XX:XX:XX:XX:XX "
		    "(six pairs of hex digits)", (int)sl, val);
	}
	if (strncmp(val, "vif:", 4) == 0) {
		size_t d = strspn(val + 4, "0123456789");

		n->by = GUEST_NIC_VIF;
		if (d == 0 || d > 5 || 4 + d != sl)
			return guest_fail(why, whylen, "'%.*s' is not vif:N (N: Xen's "
			    "vif index, 0 for the domain's first vif)", (int)sl, val);
		n->vif = (unsigned)strtoul(val + 4, NULL, 10);
		return 0;
	}
	/* Linux refuses ':' in a device name: this is a misspelt selector. */
	if (memchr(val, ':', sl) != NULL)
		return guest_fail(why, whylen, "'%.*s': unknown NIC selector (mac:MAC, "
		    "vif:N, or a device name such as eth0)", (int)sl, val);
	n->by = GUEST_NIC_DEV;
	if (sl >= sizeof(n->dev))
		return guest_fail(why, whylen, "'%.*s' is not a device name (at most "
		    "%zu characters)", (int)sl, val, sizeof(n->dev) - 1);
	memcpy(n->dev, val, sl);
	return 0;
}

void
guest_nic_str(const struct guest_nic *n, char *buf, size_t len)
{
	const uint8_t *m = n->mac;

	switch (n->by) {
	case GUEST_NIC_MAC:
		snprintf(buf, len, "mac %02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1],
		    m[2], m[3], m[4], m[5]);
		break;
	case GUEST_NIC_VIF:
		snprintf(buf, len, "vif %u", n->vif);
		break;
	case GUEST_NIC_DEV:
		snprintf(buf, len, "%s", n->dev);
		break;
	}
}

/*
 * A state-device value: auto, none, a block device's name as /sys/class/block
 * lists it (vdb, xvda, xvdb1, nvme0n1), optionally as /dev/NAME, or
 * serial:ID (a virtio-blk disk's serial, at most 20 bytes: QEMU's
 * -device virtio-blk-pci,serial=ID).
 */
static bool
guest_disk_ok(const char *val)
{
	if (strcmp(val, "auto") == 0 || strcmp(val, "none") == 0)
		return true;
	if (strncmp(val, "serial:", 7) == 0)
		return strlen(val + 7) >= 1 && strlen(val + 7) <= 20 &&
		    strspn(val + 7, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789._-") == strlen(val + 7);
	if (strncmp(val, "/dev/", 5) == 0)
		val += 5;
	if (!islower((unsigned char)val[0]) || strlen(val) > 31)
		return false;
	return strspn(val, "abcdefghijklmnopqrstuvwxyz0123456789") == strlen(val);
}

/* Copy s into out's buffer and append it to its argv. */
static int
guest_argv_push(struct guest_argv *out, const char *s)
{
	size_t n = strlen(s) + 1;

	if (out->argc >= GUEST_ARGV_MAX || out->used + n > sizeof(out->buf))
		return -1;
	memcpy(out->buf + out->used, s, n);
	out->argv[out->argc++] = out->buf + out->used;
	out->argv[out->argc] = NULL;
	out->used += n;
	return 0;
}

/*
 * Append the flags for one key. An inside or outside NIC selected by mac: or
 * vif: becomes the kernel name in ifn, or a stand-in while there is none.
 */
static int
guest_argv_key(struct guest_argv *out, const struct guest_key *k,
    const char *val, const struct guest_ifnames *ifn, char *why, size_t whylen)
{
	char flag[GUEST_KEY_MAX + 4], dv[16 + GUEST_VAL_MAX + 2];
	struct guest_nic nic;
	bool in;

	switch (k->kind) {
	case GK_GUEST:
		return 0;
	case GK_DISK:
		if (guest_disk_ok(val))
			return 0;
		snprintf(why, whylen, "'%s' is not auto, none, a block device name "
		    "(vdb, xvda, xvdb1) or serial:ID", val);
		return -2;
	case GK_IFACE:
		if (guest_nic_parse(&nic, val, why, whylen) < 0)
			return -2;
		in = strcmp(k->name, "inside") == 0;
		if (nic.by != GUEST_NIC_DEV) {
			const char *name = ifn == NULL ? "" : in ? ifn->inside :
			    ifn->outside;

			snprintf(nic.dev, sizeof(nic.dev), "%s", name[0] != '\0' ? name :
			    in ? "gitnet-in" : "gitnet-out");
		}
		snprintf(flag, sizeof(flag), "--%s", k->name);
		snprintf(dv, sizeof(dv), "%s=%s", nic.dev, nic.addr);
		if (guest_argv_push(out, flag) < 0 || guest_argv_push(out, dv) < 0)
			return -1;
		return 0;
	case GK_NAT:
		if (strcmp(val, "on") == 0)
			return 0;
		if (strcmp(val, "off") == 0)
			return guest_argv_push(out, "--no-nat");
		snprintf(why, whylen, "'%s' is neither on nor off", val);
		return -2;
	case GK_PREEMPT:
		if (strcmp(val, "off") == 0)
			return 0;
		if (strcmp(val, "on") == 0)
			return guest_argv_push(out, "--preempt");
		snprintf(why, whylen, "'%s' is neither on nor off", val);
		return -2;
	case GK_VERBOSE:
		if (strlen(val) != 1 || val[0] < '0' || val[0] > '3') {
			snprintf(why, whylen, "'%s' is not 0, 1, 2 or 3", val);
			return -2;
		}
		for (int i = 0; i < val[0] - '0'; i++)
			if (guest_argv_push(out, "-v") < 0)
				return -1;
		return 0;
	case GK_SCALAR:
	case GK_LIST:
		snprintf(flag, sizeof(flag), "--%s", k->name);
		if (guest_argv_push(out, flag) < 0 || guest_argv_push(out, val) < 0)
			return -1;
		return 0;
	}
	return 0;
}

/*
 * Run the router's parser over out's argv plus stand-ins for what is not
 * there yet: a placeholder outside while only inside is checked.
 */
static int
guest_argv_check(const struct guest_argv *out, bool need_outside, char *why,
    size_t whylen)
{
	static struct router_config rc;		/* large; one at a time */
	char *argv[GUEST_ARGV_MAX + 4];
	int argc = 0;

	for (int i = 0; i < out->argc; i++)
		argv[argc++] = out->argv[i];
	if (need_outside) {
		/*
		 * A documentation prefix (RFC 5737) for the outside while only
		 * inside is checked; the other one if inside lies in the first.
		 */
		const char *in = out->argv[out->argc - 1];

		argv[argc++] = (char *)"--outside";
		argv[argc++] = strstr(in, "=198.51.100.") != NULL ?
		    (char *)"gitnet-probe0=203.0.113.253/30" :
		    (char *)"gitnet-probe0=198.51.100.253/30";
	}
	argv[argc] = NULL;
	config_defaults(&rc);
	return config_parse_args(&rc, argc, argv, why, whylen) == 0 ? 0 : -1;
}

int
guest_cfg_argv(const struct guest_cfg *c, const struct guest_ifnames *ifn,
    const char *prog, const char *state_dir, const char *control,
    struct guest_argv *out, char *err, size_t errlen)
{
	struct guest_nic nin, nout;
	char why[256], sel[48];

	memset(out, 0, sizeof(*out));
	if (guest_argv_push(out, prog) < 0)
		return guest_fail(err, errlen, "argv overflow");
	if (guest_cfg_get(c, "inside") == NULL)
		return guest_fail(err, errlen, "%sinside: missing (required: DEV=ADDR/PLEN, "
		    "e.g. eth0=192.168.1.1/24)", c->source);
	if (guest_cfg_get(c, "outside") == NULL)
		return guest_fail(err, errlen, "%soutside: missing (required: DEV=ADDR/PLEN, "
		    "e.g. eth1=203.0.113.2/24)", c->source);
	/* One NIC selected twice: caught here, before init looks for it. */
	if (guest_nic_parse(&nin, guest_cfg_get(c, "inside"), why, sizeof(why)) == 0 &&
	    guest_nic_parse(&nout, guest_cfg_get(c, "outside"), why,
	    sizeof(why)) == 0 && nin.by != GUEST_NIC_DEV && nin.by == nout.by &&
	    (nin.by == GUEST_NIC_MAC ? memcmp(nin.mac, nout.mac, 6) == 0 :
	    nin.vif == nout.vif)) {
		guest_nic_str(&nout, sel, sizeof(sel));
		return guest_fail(err, errlen, "%soutside: %s is the inside's NIC too",
		    c->source, sel);
	}
	/* Key by key in table order, each checked against those before it. */
	for (size_t i = 0; i < GUEST_NKEYS; i++) {
		const struct guest_key *k = &guest_keys[i];

		for (unsigned j = 0; j < c->n; j++) {
			const char *key = c->kv[j].key;
			size_t nl = strlen(k->name);
			int rc;

			if (strncmp(key, k->name, nl) != 0 ||
			    (key[nl] != '\0' && key[nl] != '/') ||
			    guest_key_find(key) != k)
				continue;
			rc = guest_argv_key(out, k, c->kv[j].val, ifn, why,
			    sizeof(why));
			if (rc == -1)
				return guest_fail(err, errlen, "argv overflow");
			if (rc == -2)
				return guest_fail(err, errlen, "%s%s: %s", c->kv[j].from,
				    key, why);
			if (k->kind != GK_GUEST && k->kind != GK_DISK &&
			    guest_argv_check(out, strcmp(k->name, "inside") == 0, why,
			    sizeof(why)) < 0)
				return guest_fail(err, errlen, "%s%s: %s", c->kv[j].from,
				    key, why);
		}
	}
	if (guest_argv_push(out, "--state") < 0 || guest_argv_push(out, state_dir) < 0 ||
	    guest_argv_push(out, "--control") < 0 || guest_argv_push(out, control) < 0)
		return guest_fail(err, errlen, "argv overflow");
	if (guest_argv_check(out, false, why, sizeof(why)) < 0)
		return guest_fail(err, errlen, "%s: %s", c->source, why);
	return 0;
}

unsigned
guest_cfg_diff(const struct guest_cfg *old, const struct guest_cfg *new_,
    void (*fn)(void *ctx, const char *key, const char *was, const char *now),
    void *ctx)
{
	unsigned n = 0;

	for (unsigned i = 0; i < old->n; i++) {
		const char *now = guest_cfg_get(new_, old->kv[i].key);

		if (now == NULL || strcmp(now, old->kv[i].val) != 0) {
			if (fn != NULL)
				fn(ctx, old->kv[i].key, old->kv[i].val, now);
			n++;
		}
	}
	for (unsigned i = 0; i < new_->n; i++)
		if (guest_cfg_get(old, new_->kv[i].key) == NULL) {
			if (fn != NULL)
				fn(ctx, new_->kv[i].key, NULL, new_->kv[i].val);
			n++;
		}
	return n;
}

/* Whether c holds an entry of the list named by key's first n bytes. */
static bool
guest_cfg_has_list(const struct guest_cfg *c, const char *key, size_t n)
{
	for (unsigned i = 0; i < c->n; i++)
		if (strncmp(c->kv[i].key, key, n) == 0 && c->kv[i].key[n] == '/')
			return true;
	return false;
}

int
guest_cfg_overlay(struct guest_cfg *dst, const struct guest_cfg *top,
    char *err, size_t errlen)
{
	unsigned n = 0;

	for (unsigned i = 0; i < dst->n; i++) {
		const char *key = dst->kv[i].key, *slash = strchr(key, '/');
		bool covered = slash != NULL ?
		    guest_cfg_has_list(top, key, (size_t)(slash - key)) :
		    guest_cfg_get(top, key) != NULL;

		if (covered)
			continue;
		if (n != i)
			dst->kv[n] = dst->kv[i];
		n++;
	}
	dst->n = n;
	for (unsigned i = 0; i < top->n; i++) {
		if (dst->n == GUEST_MAX_KV)
			return guest_fail(err, errlen, "%s%s: more than %d keys",
			    top->kv[i].from, top->kv[i].key, GUEST_MAX_KV);
		dst->kv[dst->n++] = top->kv[i];
	}
	return 0;
}

/* write(2) all of buf, or -1. */
static int
guest_write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

int
guest_cfg_save(const struct guest_cfg *c, const char *path, char *err,
    size_t errlen)
{
	static char buf[GUEST_MAX_KV * (GUEST_KEY_MAX + GUEST_VAL_MAX + 16) + 256];
	static char old[sizeof(buf) + 1];
	char tmp[300], dir[300], *slash;
	size_t used;
	int fd, dfd;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return guest_fail(err, errlen, "%s: path too long", path);
	used = (size_t)snprintf(buf, sizeof(buf),
	    "# gitnet-init: the last configuration the router started with, as\n"
	    "# kernel command line words; read when neither the command line nor\n"
	    "# xenstore gives an inside.\n");
	/* Lists in kv order: guest_cfg_from_cmdline numbers repeated words in turn. */
	for (unsigned i = 0; i < c->n; i++) {
		const char *slash_ = strchr(c->kv[i].key, '/');
		int klen = slash_ != NULL ? (int)(slash_ - c->kv[i].key) :
		    (int)strlen(c->kv[i].key);

		used += (size_t)snprintf(buf + used, sizeof(buf) - used,
		    "gitnet.%.*s=%s\n", klen, c->kv[i].key, c->kv[i].val);
	}
	/* Unchanged: no write (a boot with the same configuration costs none). */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		ssize_t r = read(fd, old, sizeof(old));

		close(fd);
		if (r >= 0 && (size_t)r == used && memcmp(old, buf, used) == 0)
			return 0;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		return guest_fail(err, errlen, "%s: %s", tmp, strerror(errno));
	if (guest_write_all(fd, buf, used) < 0 || fsync(fd) < 0) {
		int why = errno;

		close(fd);
		unlink(tmp);
		return guest_fail(err, errlen, "%s: %s", tmp, strerror(why));
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		int why = errno;

		unlink(tmp);
		return guest_fail(err, errlen, "rename %s to %s: %s", tmp, path,
		    strerror(why));
	}
	/* The rename is durable once the directory is. */
	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return guest_fail(err, errlen, "%s: %s", dir, strerror(errno));
	if (fsync(dfd) < 0) {
		int why = errno;

		close(dfd);
		return guest_fail(err, errlen, "fsync %s: %s", dir, strerror(why));
	}
	close(dfd);
	return 1;
}

int
guest_cfg_load(struct guest_cfg *c, const char *path, char *err,
    size_t errlen)
{
	static char buf[GUEST_MAX_KV * (GUEST_KEY_MAX + GUEST_VAL_MAX + 16) + 256];
	char label[GUEST_SRC_MAX];
	size_t used = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return guest_fail(err, errlen, "%s: %s", path, strerror(errno));
	}
	while ((r = read(fd, buf + used, sizeof(buf) - 1 - used)) > 0)
		used += (size_t)r;
	close(fd);
	if (r < 0)
		return guest_fail(err, errlen, "%s: %s", path, strerror(errno));
	if (used == sizeof(buf) - 1)
		return guest_fail(err, errlen, "%s: longer than %zu bytes", path,
		    sizeof(buf) - 2);
	buf[used] = '\0';
	if (strlen(buf) != used)
		return guest_fail(err, errlen, "%s: has a NUL byte", path);
	/* Comments out: a word in one may look like gitnet.KEY=VALUE. */
	for (char *p = buf; *p != '\0'; p += strcspn(p, "\n"), p += *p == '\n') {
		if (*p == '#')
			memset(p, ' ', strcspn(p, "\n"));
	}
	snprintf(label, sizeof(label), "%s: gitnet.", path);
	guest_cfg_init(c, label);
	if (guest_cfg_from_cmdline(c, buf, err, errlen) < 0)
		return -1;
	return 1;
}

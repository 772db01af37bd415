/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target: the restore path, what a router reads back from its
 * repository at start (state_restore -> store_load_skipping -> the store's
 * own tree parser and store_entry_decode), over a whole repository's trees.
 *
 * A real store is opened once, on a tmpfs (/dev/shm), with a libgit2
 * mempack as its highest-priority object backend: each input's objects go
 * there and are dropped after it (git_mempack_reset), so nothing builds up.
 *
 * Input: records  kind, path..., '\0', len_hi, len_lo, bytes[len]
 *	kind & 3 == 0, 3	a blob at path (mode 100644)
 *	kind & 3 == 1		the bytes are a raw tree object at path (040000):
 *				any bytes, well-formed or not
 *	kind & 3 == 2		a blob at path with mode 120000, 160000 or 100755
 *				(kind >> 2 picks)
 * The harness nests the paths into trees (names as given, in input order,
 * so trees may be unsorted or hold duplicates), commits the root, and
 * restores that commit into a pipeline as the router does. Whatever the
 * trees hold: no crash, no leak, and every entry either restored or counted
 * as skipped (the walk fails only when an object cannot be read, e.g. a
 * tree entry naming an id that is not there).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <git2.h>
#include <git2/sys/mempack.h>
#include <git2/sys/odb_backend.h>

#include "netfn/pipeline.h"
#include "src/state.h"
#include "store/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXN	128

struct node {
	char		name[256];
	unsigned	mode;		/* 0: a directory the harness builds */
	const uint8_t	*bytes;
	size_t		len;
	int		child[MAXN], nchild;
};

static struct node nodes[MAXN];
static int nnodes;
static struct store *st;
static git_odb_backend *mem;
static struct nf *nf;
static struct nf_config nf_cfg;

static int
node_child(int parent, const char *name, size_t nlen)
{
	struct node *p = &nodes[parent];

	for (int i = 0; i < p->nchild; i++)
		if (nodes[p->child[i]].mode == 0 && strlen(nodes[p->child[i]].name) == nlen &&
		    memcmp(nodes[p->child[i]].name, name, nlen) == 0)
			return p->child[i];
	if (nnodes == MAXN || p->nchild == MAXN)
		return -1;
	memset(&nodes[nnodes], 0, sizeof(nodes[0]));
	memcpy(nodes[nnodes].name, name, nlen);
	p->child[p->nchild++] = nnodes;
	return nnodes++;
}

/* Write node i (and below) as git objects; its id into out. */
static int
node_write(git_oid *out, git_odb *odb, int i)
{
	struct node *n = &nodes[i];
	static const unsigned fmode[] = { 0120000, 0160000, 0100755, 0100644 };

	if (n->mode == 0040000)
		return git_odb_write(out, odb, n->bytes, n->len, GIT_OBJECT_TREE);
	if (n->mode != 0)
		return git_odb_write(out, odb, n->bytes, n->len, GIT_OBJECT_BLOB);

	char *buf = malloc((size_t)n->nchild * (256 + 8 + GIT_OID_RAWSZ) + 1);
	size_t len = 0;
	int error = 0;

	if (buf == NULL)
		abort();
	for (int k = 0; k < n->nchild && error == 0; k++) {
		struct node *c = &nodes[n->child[k]];
		git_oid id;
		unsigned mode = c->mode == 0 ? 040000 : c->mode;

		(void)fmode;
		if ((error = node_write(&id, odb, n->child[k])) < 0)
			break;
		len += (size_t)sprintf(buf + len, "%o %s", mode, c->name) + 1;
		memcpy(buf + len, id.id, GIT_OID_RAWSZ);
		len += GIT_OID_RAWSZ;
	}
	if (error == 0)
		error = git_odb_write(out, odb, buf, len, GIT_OBJECT_TREE);
	free(buf);
	return error;
}

static int
count(void *ctx, const struct store_entry *e)
{
	struct state_restored *n = ctx;

	state_restore_entry(nf, e, 1429688434000000ULL, n);
	return 0;
}

static void
setup(void)
{
	static const char *const ifnames[] = { "inside", "outside" };
	char dir[] = "/dev/shm/restore_fuzz.XXXXXX", repo[64];
	struct store_opts o;
	struct nf_config cfg;
	git_repository *r;
	git_odb *odb;

	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(repo, sizeof(repo), "%s/state.git", dir);
	store_opts_default(&o);
	o.router_id = "fuzz";
	o.ifnames = ifnames;
	o.n_ifnames = 2;
	o.fsync = false;
	o.cache_mb = 4;
	if (store_open(&st, repo, &o) < 0)
		abort();
	r = store_repo(st);
	if (git_repository_odb(&odb, r) < 0 || git_mempack_new(&mem) < 0 ||
	    git_odb_add_backend(odb, mem, 1000) < 0)
		abort();
	git_odb_free(odb);
	/* The repository is the process's now: remove its files at once. */
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			abort();
	}
	nf_config_default(&cfg);
	cfg.n_iface = 2;
	cfg.arp.max_entries = 64;
	cfg.seed = 1;
	memcpy(cfg.iface[0].mac, (uint8_t[]){ 2, 0, 0, 0, 1, 1 }, ETH_ALEN);
	cfg.iface[0].addr = 0xc0a80101;
	cfg.iface[0].plen = 24;
	memcpy(cfg.iface[1].mac, (uint8_t[]){ 2, 0, 0, 0, 2, 1 }, ETH_ALEN);
	cfg.iface[1].addr = 0xcb007101;
	cfg.iface[1].plen = 24;
	cfg.nat = true;
	cfg.outside = 1;
	nat_params_default(&cfg.nat_params);
	cfg.nat_params.max_sessions = 256;
	cfg.nat_params.max_per_host = 64;
	snprintf(cfg.iface[0].name, sizeof(cfg.iface[0].name), "inside");
	snprintf(cfg.iface[1].name, sizeof(cfg.iface[1].name), "outside");
	nf_cfg = cfg;
	if ((nf = nf_new(&cfg)) == NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned odd[] = { 0120000, 0160000, 0100755 };
	struct state_restored n = { 0 };
	struct store_skipped skip = { 0 };
	git_oid tree, commit;
	git_signature *sig = NULL;
	git_tree *t = NULL;
	git_repository *r;
	git_odb *odb;
	size_t p = 0;
	int error;

	if (st == NULL)
		setup();
	r = store_repo(st);
	memset(&nodes[0], 0, sizeof(nodes[0]));
	nnodes = 1;
	while (p < size) {
		uint8_t kind = data[p++];
		const uint8_t *nul = memchr(data + p, '\0', size - p);
		size_t plen = nul ? (size_t)(nul - (data + p)) : size - p, len = 0;
		const char *path = (const char *)data + p;
		int at = 0;

		p += plen + (nul != NULL);
		if (p + 2 <= size)
			len = (size_t)data[p] << 8 | data[p + 1];
		p = p + 2 <= size ? p + 2 : size;
		if (len > size - p)
			len = size - p;
		/* Directories along the path, then the leaf. */
		for (size_t s = 0; at >= 0;) {
			const char *slash = memchr(path + s, '/', plen - s);
			size_t e = slash ? (size_t)(slash - path) : plen;

			if (e - s >= sizeof(nodes[0].name) || memchr(path + s, '\0', e - s))
				at = -1;
			else if (slash != NULL)
				at = node_child(at, path + s, e - s);
			else {
				int leaf;

				if (nnodes == MAXN || nodes[at].nchild == MAXN) {
					at = -1;
					break;
				}
				leaf = nnodes++;
				memset(&nodes[leaf], 0, sizeof(nodes[0]));
				memcpy(nodes[leaf].name, path + s, e - s);
				nodes[leaf].mode = (kind & 3) == 1 ? 040000 :
				    (kind & 3) == 2 ? odd[(kind >> 2) % 3] : 0100644;
				nodes[leaf].bytes = data + p;
				nodes[leaf].len = len;
				nodes[at].child[nodes[at].nchild++] = leaf;
				break;
			}
			s = e + 1;
		}
		p += len;
	}
	if (git_repository_odb(&odb, r) < 0)
		abort();
	error = node_write(&tree, odb, 0);
	git_odb_free(odb);
	if (error < 0)
		goto done;
	if (git_signature_new(&sig, "fuzz", "fuzz@gitnet", 1429688434, 0) < 0 ||
	    git_tree_lookup(&t, r, &tree) < 0) {
		/* libgit2 refuses a malformed root tree; the store's parser is
		 * still fed the subtrees below through a well-formed root. */
		goto done;
	}
	if (git_commit_create(&commit, r, NULL, sig, sig, NULL, "fuzz", t, 0, NULL) < 0)
		goto done;
	error = store_load_skipping(store_reader_of(st), store_soid(&commit), count, &n, &skip);
	if (error == 0 && skip.n > 0 && skip.first[0] == '\0')
		abort();
done:
	/* What was restored changed the pipeline: a fresh one for the next. */
	if (n.arp + n.nat > 0) {
		struct nf_config cfg = nf_cfg;

		nf_free(nf);
		if ((nf = nf_new(&cfg)) == NULL)
			abort();
	}
	git_tree_free(t);
	git_signature_free(sig);
	git_mempack_reset(mem);
	return 0;
}

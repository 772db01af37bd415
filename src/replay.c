/* SPDX-License-Identifier: ISC */
/*
 * gitnet replay-pcap's engine: the router itself, set up as REV's
 * meta/router says the live router was, on pcap interfaces and the
 * capture's clock (contract in router.h).
 *
 * Everything the live router does happens here through the same code: the
 * pipeline built by router_pipeline_open, the tables restored by
 * router_state_open as a restart restores them, the port forwards and
 * permanent neighbours of router_static, the event loop's turn, the state
 * writer's group commit and expiry ticks (expire_ branches merged back)
 * -- only the clock is simulated and the writer runs on the loop's thread.
 * The history goes to a new branch through the store's durable path, with
 * the repository's lock held for the whole run.
 *
 * What a capture cannot say, and the conventions taken for it:
 *  - The capture is of one link (opts.side). A capture of the other link
 *    taken at the same time (opts.other, same clock) feeds that one;
 *    without it, next hops there resolve only from restored ARP entries
 *    and nothing comes back from there.
 *  - MACs: given, else meta/router's (routers record them since issue 11),
 *    else for the captured side the capture's (io_pcap_find_mac), and
 *    02:00:00:00:00:01/02 for the other.
 *  - The pipeline's seed (random per live start, not recorded): opts.seed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"
#include "store/store.h"

/* meta/router into the router's configuration. */
static void
config_from_meta(struct router_config *c, const struct store_router *m)
{
	struct config_iface *cif[ROUTER_NIF] = { &c->inside, &c->outside };

	config_defaults(c);
	for (int i = 0; i < ROUTER_NIF; i++) {
		snprintf(cif[i]->dev, sizeof(cif[i]->dev), "%s", m->iface[i].dev);
		cif[i]->addr = m->iface[i].addr;
		cif[i]->plen = m->iface[i].plen;
		cif[i]->set = true;
	}
	c->nat = m->nat;
	c->gateway = m->gateway;
	for (unsigned i = 0; i < m->nroutes && i < CONFIG_MAX_ROUTES; i++) {
		c->routes[i].prefix = m->routes[i].prefix;
		c->routes[i].plen = m->routes[i].plen;
		c->routes[i].gw = m->routes[i].gw;
		c->nroutes++;
	}
	for (unsigned i = 0; i < m->narp && i < CONFIG_MAX_STATIC_ARP; i++) {
		c->static_arp[i].ip = m->arp[i].ip;
		memcpy(c->static_arp[i].mac, m->arp[i].mac, ETH_ALEN);
		c->nstatic_arp++;
	}
	for (unsigned i = 0; i < m->nforwards && i < CONFIG_MAX_FORWARDS; i++) {
		c->forwards[i].proto = m->forwards[i].proto;
		c->forwards[i].ext_port = m->forwards[i].ext_port;
		c->forwards[i].int_ip = m->forwards[i].int_ip;
		c->forwards[i].int_port = m->forwards[i].int_port;
		c->nforwards++;
	}
	for (unsigned i = 0; i < m->npool && i < CONFIG_MAX_POOL; i++)
		c->nat_pool[c->n_nat_pool++] = m->pool[i];
	c->nat_params = m->nat_params;
	c->arp = m->arp_params;
	c->icmp_rate = m->icmp_rate;
	c->icmp_burst = m->icmp_burst;
}

int
router_replay(const struct router_replay_opts *o, struct router_replay_report *rep,
    char *err, size_t errlen)
{
	static struct router r;
	static const char *const side[ROUTER_NIF] = { "inside", "outside" };
	struct store_router meta;
	struct pcap_file cap = { 0 }, other = { 0 };
	struct pcap_out *out = NULL;
	struct state_stats st;
	char ref[200], why[512];
	uint64_t rev_time = 0;
	int rc = 2, e;

	memset(&r, 0, sizeof(r));
	memset(rep, 0, sizeof(*rep));
	r.ctl_fd = -1;
	if ((e = store_router_at(&meta, rep->at_hex, &rev_time, o->repo, o->at)) < 0) {
		snprintf(err, errlen, "%s", store_strerror());
		/* Not our repository at all: as the other commands say it. */
		rc = e == STORE_EFOREIGN || e == STORE_ENOTFOUND || e == STORE_EPARSE ? 2 : 1;
		return rc;
	}
	/* A new branch only: the store would carry on an existing one. */
	snprintf(ref, sizeof(ref), "refs/heads/%s", o->branch);
	{
		struct store_router tmp;

		if (store_router_at(&tmp, NULL, NULL, o->repo, ref) != STORE_ENOTFOUND) {
			snprintf(err, errlen, "branch '%s' already exists", o->branch);
			return 2;
		}
	}
	if ((e = io_pcap_load(&cap, o->capture, err, errlen)) < 0 ||
	    (o->other != NULL && (e = io_pcap_load(&other, o->other, err, errlen)) < 0)) {
		io_pcap_unload(&cap);
		return e == -2 ? 1 : 2;
	}

	config_from_meta(&r.cfg, &meta);
	snprintf(r.cfg.state_dir, sizeof(r.cfg.state_dir), "%s", o->repo);
	r.simulated = true;
	r.sim_us = cap.n > 0 ? cap.rec[0].ts_us : rev_time;
	if (other.n > 0 && (cap.n == 0 || other.rec[0].ts_us < r.sim_us))
		r.sim_us = other.rec[0].ts_us;
	r.seed = o->seed;
	r.window_ms = o->window_ms ? o->window_ms : meta.window_ms;
	r.tick_ms = meta.tick_ms;
	r.state_branch = o->branch;
	r.state_base = rep->at_hex;

	if (o->output != NULL && io_pcap_out_open(&out, o->output, err, errlen) < 0) {
		rc = 1;
		goto done;
	}
	for (int i = 0; i < ROUTER_NIF; i++) {
		struct io_pcap_params p = {
			.name = meta.iface[i].dev,
			.mtu = meta.iface[i].mtu,
			.in = i == o->side ? &cap : o->other != NULL ? &other : NULL,
			.out = out,
			.clock_us = &r.sim_us,
		};

		if (o->have_mac[i])
			memcpy(p.mac, o->mac[i], ETH_ALEN);
		else if (meta.iface[i].has_mac)
			memcpy(p.mac, meta.iface[i].mac, ETH_ALEN);
		else if (p.in != NULL) {
			if (io_pcap_find_mac(p.mac, p.in, meta.iface[i].addr,
			    meta.iface[i].plen) < 0) {
				snprintf(err, errlen, "%s: cannot tell the router's %s MAC from the "
				    "capture; give --%s-mac", i == o->side ? o->capture : o->other,
				    side[i], side[i]);
				goto done;
			}
		} else {
			/* Not on the captured link: only in what the router sends there. */
			memcpy(p.mac, (const uint8_t[ETH_ALEN]){ 0x02, 0, 0, 0, 0, (uint8_t)(i + 1) },
			    ETH_ALEN);
		}
		if (io_pcap_open(&r.io[i], (uint8_t)i, &p, err, errlen) < 0) {
			rc = 1;
			goto done;
		}
	}
	rc = 1;
	if (router_pipeline_open(&r, err, errlen) < 0)
		goto done;
	/* The repository's lock, for the whole run: no router may write meanwhile. */
	if (router_state_open(&r, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "%s%s", why, strstr(why, "locked by another") ?
		    " (stop the router first)" : "");
		goto done;
	}
	if (router_run_simulated(&r) < 0) {
		snprintf(err, errlen, "the router's static setup (forwards, permanent "
		    "neighbours) does not fit the pipeline");
		goto done;
	}
	state_get_stats(r.state, &st);
	state_head(r.state, rep->head_hex);
	rep->restored_arp = st.restored_arp;
	rep->restored_nat = st.restored_nat;
	rep->restored_skipped = st.restore_skipped;
	rep->events = r.sink.total;
	rep->not_recorded = st.events_lost + st.errors;
	rep->commits = st.made;
	rep->ticks = st.ticks;
	for (int i = 0; i < ROUTER_NIF; i++) {
		uint64_t own, big;

		rep->fed[i] = r.io[i]->stats.rx_frames;
		rep->sent[i] = r.io[i]->stats.tx_frames;
		io_pcap_skipped(r.io[i], &own, &big);
		rep->own += own;
		rep->oversize += big;
	}
	rep->nf = *nf_stats(r.nf);
	/* state_close flushes: the branch is created once its objects are durable. */
	if (st.errors != 0) {
		snprintf(err, errlen, "%llu store operations failed (see above)",
		    (unsigned long long)st.errors);
		goto done;
	}
	rc = 0;
done:
	router_close(&r);
	r.state = NULL;
	if (io_pcap_out_close(out, why, sizeof(why)) < 0 && rc == 0) {
		snprintf(err, errlen, "%s", why);
		rc = 1;
	}
	io_pcap_unload(&cap);
	io_pcap_unload(&other);
	return rc;
}

/* SPDX-License-Identifier: ISC */
/*
 * gitnet replay-pcap: run the router offline on a capture -- its own event
 * loop, pipeline, timers, group commit and expiry ticks (src/replay.c) --
 * with the setup and tables recorded at a revision and the capture's
 * timestamps as the clock; write the frames the router would have sent to
 * a pcap, and its history to a new branch starting at that revision, as
 * the live router would have written it (group commits every --window ms
 * of capture time, expire_ branches merged back by ticks).
 *
 *	gitnet replay-pcap FILE --at REV [-o OUT.pcap] [--branch NAME]
 *	    [--side inside|outside] [--inside-mac MAC] [--outside-mac MAC]
 *	    [--seed N] [--window MS] [--other-capture FILE2]
 *
 * This file parses the command line and prints the summary; the conventions
 * for what a capture cannot say (the other link, MACs, the seed) are
 * src/replay.c's. Deterministic: two runs give byte-identical output and
 * identical commit ids.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>


#include "src/router.h"
#include "tools/cmd.h"
#include "tools/tool.h"

#define RP_NAME		"replay-pcap"

static void
rp_usage(FILE *f)
{
	fprintf(f,
	    "usage: gitnet replay-pcap FILE --at REV [-o OUT.pcap] [--branch NAME]\n"
	    "           [--side inside|outside] [--inside-mac MAC] [--outside-mac MAC]\n"
	    "           [--seed N] [--window MS] [--other-capture FILE2]\n"
	    "\n"
	    "Run the router offline on FILE (pcap, Ethernet): its own event loop, timers,\n"
	    "group commit and expiry ticks, with the setup (interfaces, NAT, pool,\n"
	    "filtering, routes, port forwards, permanent neighbours, timeouts, limits)\n"
	    "recorded in REV's meta/router, the tables as they were at REV, and the\n"
	    "capture's timestamps as the clock. Frames the router would have sent go to\n"
	    "OUT.pcap; its history goes to a new branch NAME (default\n"
	    "replay_<unix.usec>) starting at REV, as the live router writes it: group\n"
	    "commits, and ticks as <NAME>_expire_<unix.usec> branches merged back. The\n"
	    "run ends with the capture: what is pending then is committed at its\n"
	    "deadline.\n"
	    "\n"
	    "  --side S        the link FILE was captured on (default inside); frames\n"
	    "                  the router itself sent on it are skipped\n"
	    "  --inside-mac M  the router's inside MAC (default: meta/router's, else\n"
	    "                  from the capture)\n"
	    "  --outside-mac M the router's outside MAC (likewise)\n"
	    "  --seed N        the pipeline's random seed (default 1; the live router's\n"
	    "                  is not recorded)\n"
	    "  --window MS     group commit window (default: meta/router's, 100)\n"
	    "  --other-capture FILE2\n"
	    "                  a capture of the other link taken at the same time, fed\n"
	    "                  to that interface (default: nothing arrives there)\n"
	    "\n"
	    "Two runs give byte-identical output and the same commit ids. The repository\n"
	    "must not be held by a running router (its lock is taken for the run).\n"
	    "Exit 2 on bad usage, an unknown revision, an unreadable meta/router, an\n"
	    "existing branch or a corrupt pcap; 1 on other failures.\n");
}

static int
rp_parse_mac(uint8_t mac[ETH_ALEN], const char *s)
{
	unsigned v[ETH_ALEN];
	char tail;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4],
	    &v[5], &tail) != 6)
		return -1;
	for (int i = 0; i < ETH_ALEN; i++)
		mac[i] = (uint8_t)v[i];
	return 0;
}

static void
rp_summary(const struct router_replay_report *p, const char *file, const char *branch)
{
	const struct nf_stats *s = &p->nf;
	bool any = false;

	printf("replay-pcap: %s at %.12s\n", file, p->at_hex);
	printf("restored: %llu arp, %llu nat sessions, %llu skipped\n",
	    (unsigned long long)p->restored_arp, (unsigned long long)p->restored_nat,
	    (unsigned long long)p->restored_skipped);
	printf("frames in: %llu (inside %llu, outside %llu), not fed: %llu sent by the "
	    "router, %llu oversize\n", (unsigned long long)(p->fed[0] + p->fed[1]),
	    (unsigned long long)p->fed[0], (unsigned long long)p->fed[1],
	    (unsigned long long)p->own, (unsigned long long)p->oversize);
	printf("frames out: %llu (inside %llu, outside %llu)\n",
	    (unsigned long long)(p->sent[0] + p->sent[1]), (unsigned long long)p->sent[0],
	    (unsigned long long)p->sent[1]);
	printf("forwarded: %llu, local: %llu, arp: %llu, icmp sent: %llu\n",
	    (unsigned long long)s->forwarded, (unsigned long long)s->local,
	    (unsigned long long)s->arp_in, (unsigned long long)s->icmp_sent);
	printf("drops:");
	for (int i = 1; i < DROP_MAX; i++)
		if (s->drop[i] != 0) {
			printf("%s %s %llu", any ? "," : "", drop_name((enum drop)i),
			    (unsigned long long)s->drop[i]);
			any = true;
		}
	printf("%s\n", any ? "" : " none");
	printf("events: %llu (%llu not recorded)\n", (unsigned long long)p->events,
	    (unsigned long long)p->not_recorded);
	printf("commits: %llu on %s (%s)\n", (unsigned long long)p->commits, branch,
	    p->head_hex);
}

int
cmd_replay_pcap(const char *repo, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "at",		 required_argument, NULL, 'a' },
		{ "output",	 required_argument, NULL, 'o' },
		{ "branch",	 required_argument, NULL, 'b' },
		{ "side",	 required_argument, NULL, 's' },
		{ "inside-mac",	 required_argument, NULL, 'I' },
		{ "outside-mac", required_argument, NULL, 'O' },
		{ "seed",	 required_argument, NULL, 'S' },
		{ "window",	 required_argument, NULL, 'w' },
		{ "other-capture", required_argument, NULL, 'c' },
		{ "help",	 no_argument,	    NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct router_replay_opts o = { .seed = 1 };
	struct router_replay_report rep;
	char branch[128] = "", refname[160], err[1024];
	uint64_t window_ms = 0;
	int c, rc;
	char *endp;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'a':
			o.at = optarg;
			break;
		case 'o':
			o.output = optarg;
			break;
		case 'b':
			snprintf(branch, sizeof(branch), "%s", optarg);
			break;
		case 's':
			if (strcmp(optarg, "inside") == 0)
				o.side = 0;
			else if (strcmp(optarg, "outside") == 0)
				o.side = 1;
			else
				return tool_err(2, RP_NAME, "--side: '%s' is neither inside nor outside",
				    optarg);
			break;
		case 'I':
		case 'O':
			if (rp_parse_mac(o.mac[c == 'O'], optarg) < 0)
				return tool_err(2, RP_NAME, "--%s-mac: '%s' is not a MAC address",
				    c == 'O' ? "outside" : "inside", optarg);
			o.have_mac[c == 'O'] = true;
			break;
		case 'S':
			errno = 0;
			o.seed = strtoull(optarg, &endp, 0);
			if (errno != 0 || *endp != '\0' || endp == optarg)
				return tool_err(2, RP_NAME, "--seed: '%s' is not a number", optarg);
			break;
		case 'w':
			errno = 0;
			window_ms = strtoull(optarg, &endp, 10);
			if (errno != 0 || *endp != '\0' || endp == optarg || window_ms > 3600000)
				return tool_err(2, RP_NAME, "--window: '%s' is not a number of ms", optarg);
			/* 0 (commit each change at once) is the shortest window the writer has. */
			o.window_ms = window_ms ? (unsigned)window_ms : 1;
			break;
		case 'c':
			o.other = optarg;
			break;
		case 'h':
			rp_usage(stdout);
			return 0;
		default:
			return tool_badopt(RP_NAME, argv);
		}
	}
	if (optind + 1 != argc || o.at == NULL) {
		rp_usage(stderr);
		return 2;
	}
	o.capture = argv[optind];
	o.repo = repo;
	if (branch[0] == '\0') {
		struct timeval tv;

		gettimeofday(&tv, NULL);
		snprintf(branch, sizeof(branch), "replay_%lld.%06ld", (long long)tv.tv_sec,
		    (long)tv.tv_usec);
	}
	snprintf(refname, sizeof(refname), "refs/heads/%s", branch);
	if (!store_ref_name_valid(refname) || strcmp(branch, "primary") == 0)
		return tool_err(2, RP_NAME, "--branch: '%s' is not a valid new branch name", branch);
	o.branch = branch;
	if ((rc = router_replay(&o, &rep, err, sizeof(err))) != 0)
		return tool_err(rc, RP_NAME, "%s", err);
	rp_summary(&rep, o.capture, branch);
	return 0;
}

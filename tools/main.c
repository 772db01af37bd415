/* SPDX-License-Identifier: ISC */
/*
 * The gitnet tool's entry point: global options, the command table and
 * dispatch (tools/cmd.h is the contract every command follows).
 *
 *	gitnet [--repo DIR] COMMAND [ARGS...]
 *	gitnet help [COMMAND] | --help | --version
 *
 * Invariants: the repository path is decided here once (--repo, then
 * $GITNET_REPO, then ./state.git) and handed to the command; libgit2 is
 * initialised once around the command; an unknown command or option exits
 * 2 with one line on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "store/store.h"
#include "tools/cmd.h"

/* GITNET_VERSION: set by the Makefile from debian/changelog (src/version.h). */
#ifndef GITNET_VERSION
#error "GITNET_VERSION is set by the Makefile"
#endif

static const struct cmd cmds[] = {
	{ "log",	"history of the tables or of one key", cmd_log },
	{ "show",	"the tables at a revision (ip neigh / conntrack -L)", cmd_show },
	{ "at",		"the tables as of a wall-clock time", cmd_at },
	{ "diff",	"per-entry differences between two revisions", cmd_diff },
	{ "blame",	"every commit that touched one entry, with its cause", cmd_blame },
	{ "who",	"which inside endpoint held an external ip:port, when",
	    cmd_who },
	{ "branch",	"list cache branches and their heads", cmd_branch },
	{ "merge",	"table-aware merge of a branch into primary", cmd_merge },
	{ "replay",	"re-apply a range of table changes onto a branch", cmd_replay },
	{ "replay-pcap", "run the pipeline offline on a capture at a revision",
	    cmd_replay_pcap },
	{ "fsck",	"gitnet-level consistency checks", cmd_fsck },
	{ "gc",		"history retention: cut old history (shallow), compact", cmd_gc },
	{ "export",	"the whole tables as one JSON document", cmd_export },
	{ "merge-driver", "git merge driver entry point (%O %A %B %P)",
	    cmd_merge_driver },
	{ "install-driver", "configure a clone so git merge uses gitnet",
	    cmd_install_driver },
};

#define NCMDS	(sizeof(cmds) / sizeof(cmds[0]))

static const struct cmd *
cmd_find(const char *name)
{
	for (size_t i = 0; i < NCMDS; i++)
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
	return NULL;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: gitnet [--repo DIR] COMMAND [ARGS...]\n"
	    "       gitnet help [COMMAND]\n"
	    "       gitnet --version\n"
	    "\n"
	    "Read, replay and merge the history of gitnet's ARP and NAT tables,\n"
	    "kept as commits in a state repository (DESIGN.md section 3). Reads\n"
	    "never block a router running on the same repository.\n"
	    "\n"
	    "The repository is --repo DIR, else $GITNET_REPO, else ./state.git.\n"
	    "\n"
	    "Commands:\n");
	for (size_t i = 0; i < NCMDS; i++)
		fprintf(f, "  %-15s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f,
	    "\n"
	    "Run `gitnet help COMMAND` or `gitnet COMMAND --help` for a command's\n"
	    "synopsis, options, exit status and examples.\n"
	    "\n"
	    "Exit status: 0 on success, 1 on a finding or a failed operation, 2 on\n"
	    "bad usage or bad input.\n");
}

static int
run(const struct cmd *c, const char *repo, int argc, char **argv)
{
	return c->run(repo, argc, argv);
}

int
main(int argc, char **argv)
{
	const char *repo = getenv("GITNET_REPO");
	const struct cmd *c;
	int i = 1;

	if (repo == NULL || *repo == '\0')
		repo = "./state.git";
	while (i < argc && argv[i][0] == '-') {
		if (strcmp(argv[i], "--repo") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "gitnet: --repo needs a directory\n");
				return 2;
			}
			repo = argv[i + 1];
			i += 2;
		} else if (strncmp(argv[i], "--repo=", 7) == 0) {
			repo = argv[i] + 7;
			i++;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("gitnet %s (store schema \"%s\", libgit2 %s)\n", GITNET_VERSION,
			    STORE_SCHEMA, store_lib_version());
			return 0;
		} else {
			fprintf(stderr, "gitnet: unknown option '%s' (see gitnet --help)\n",
			    argv[i]);
			return 2;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[i], "help") == 0) {
		char *hargv[3];

		if (i + 1 >= argc) {
			usage(stdout);
			return 0;
		}
		if ((c = cmd_find(argv[i + 1])) == NULL) {
			fprintf(stderr, "gitnet: help: unknown command '%s'\n", argv[i + 1]);
			return 2;
		}
		hargv[0] = argv[i + 1];
		hargv[1] = (char *)"--help";
		hargv[2] = NULL;
		return run(c, repo, 2, hargv);
	}
	if ((c = cmd_find(argv[i])) == NULL) {
		fprintf(stderr, "gitnet: unknown command '%s' (see gitnet --help)\n",
		    argv[i]);
		return 2;
	}
	return run(c, repo, argc - i, argv + i);
}

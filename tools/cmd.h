/* SPDX-License-Identifier: ISC */
/*
 * The gitnet tool: one binary, one file per subcommand (tools/<name>.c),
 * dispatched by tools/main.c.
 *
 *	gitnet [--repo DIR] COMMAND [ARGS...]
 *
 * --repo defaults to $GITNET_REPO, then ./state.git. Every command parses its
 * own arguments (getopt_long from optind = 0), has --help, prints results on
 * stdout, and exits 0 on success, 1 on a finding (fsck) or a failed
 * operation, 2 on bad usage or input, with one line on stderr naming what is
 * wrong ("gitnet: show: unknown revision 'nope'").
 *
 * Reads never block a router writing the same repository: they open it
 * read-only through libgit2 (store_open is for the writer, it takes the
 * lock). Writes to primary go through the store's compare-and-swap.
 */
#ifndef TOOLS_CMD_H
#define TOOLS_CMD_H

struct cmd {
	const char	*name;
	const char	*summary;	/* one line for `gitnet help` */
	int		(*run)(const char *repo, int argc, char **argv);
};

/* Each subcommand file defines one of these; main.c lists them. */
int cmd_log(const char *repo, int argc, char **argv);
int cmd_show(const char *repo, int argc, char **argv);
int cmd_at(const char *repo, int argc, char **argv);
int cmd_diff(const char *repo, int argc, char **argv);
int cmd_blame(const char *repo, int argc, char **argv);
int cmd_branch(const char *repo, int argc, char **argv);
int cmd_merge(const char *repo, int argc, char **argv);
int cmd_replay(const char *repo, int argc, char **argv);
int cmd_replay_pcap(const char *repo, int argc, char **argv);
int cmd_fsck(const char *repo, int argc, char **argv);
int cmd_gc(const char *repo, int argc, char **argv);
int cmd_export(const char *repo, int argc, char **argv);
int cmd_who(const char *repo, int argc, char **argv);
int cmd_merge_driver(const char *repo, int argc, char **argv);
int cmd_install_driver(const char *repo, int argc, char **argv);

#endif

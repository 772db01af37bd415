/* SPDX-License-Identifier: ISC */
/*
 * The git merge driver: `gitnet merge-driver %O %A %B %P` merges one entry
 * file with store_merge_driver() (the store's per-entry rules), and
 * `gitnet install-driver` configures a clone so stock `git merge` calls
 * it for arp/ and nat/ (attributes plus merge.gitnet.* config).
 *
 * Invariant: the driver never needs the repository (git hands it three
 * temporary files and the path), so it works in any clone and under any
 * git that runs merge drivers; the result replaces %A, as git expects.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools/cmd.h"
#include "tools/tool.h"

static const char help_driver[] =
"NAME\n"
"    gitnet merge-driver - git merge driver for gitnet entry files\n"
"\n"
"SYNOPSIS\n"
"    gitnet merge-driver ANCESTOR OURS THEIRS PATH\n"
"    (configured as: gitnet merge-driver %O %A %B %P)\n"
"\n"
"DESCRIPTION\n"
"    Called by git for an entry file (arp/..., nat/...) both sides of a merge\n"
"    changed. Merges the three versions with the store's per-entry rules\n"
"    (DESIGN.md section 3: ARP keeps the newer `updated`, NAT the older\n"
"    mapping; a side that did not change loses to one that did) and writes\n"
"    the result to OURS. An empty ANCESTOR means both sides added the entry.\n"
"    `gitnet install-driver` sets this up; there is no need to call it by\n"
"    hand.\n"
"\n"
"OPTIONS\n"
"    --help    this text\n"
"\n"
"EXIT STATUS\n"
"    0 merged (a clash resolved by the rules counts as merged); 1 a file\n"
"    does not parse or cannot be read or written (git then reports a\n"
"    conflict); 2 bad usage.\n"
"\n"
"EXAMPLES\n"
"    gitnet merge-driver base.txt ours.txt theirs.txt arp/10.0.0/2\n";

static const char help_install[] =
"NAME\n"
"    gitnet install-driver - make stock git merge use gitnet's merge\n"
"\n"
"SYNOPSIS\n"
"    gitnet [--repo DIR] install-driver\n"
"\n"
"DESCRIPTION\n"
"    Configures the repository DIR (a clone of a state repository, bare\n"
"    or not; when --repo is not given and ./state.git is absent, the\n"
"    repository containing the current directory) so that `git merge` of\n"
"    two cache branches merges entry files with gitnet's rules:\n"
"      - adds `arp/** merge=gitnet` and `nat/** merge=gitnet` to\n"
"        .gitattributes in the work tree (info/attributes when bare),\n"
"        unless present;\n"
"      - sets merge.gitnet.name and merge.gitnet.driver to\n"
"        \"<this binary's absolute path> merge-driver %O %A %B %P\" in the\n"
"        repository's own config.\n"
"    Running it again changes nothing. The driver applies the same\n"
"    per-entry rule as `gitnet merge`; conflict records (conflicts/), the\n"
"    cross-entry NAT check and the refusal of files a store may not hold\n"
"    are made only by `gitnet merge`: a git merge driver sees one file at\n"
"    a time.\n"
"\n"
"OPTIONS\n"
"    --help    this text\n"
"\n"
"EXIT STATUS\n"
"    0 configured; 1 a file or the config cannot be written; 2 no\n"
"    repository.\n"
"\n"
"EXAMPLES\n"
"    git clone -b primary /var/lib/gitnet/state.git cache && cd cache\n"
"    gitnet install-driver && git merge origin/peer\n";

int
cmd_merge_driver(const char *repo, int argc, char **argv)
{
	(void)repo;
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(help_driver, stdout);
		return 0;
	}
	if (argc != 5)
		return tool_err(TOOL_EXIT_USAGE, "merge-driver", "usage: merge-driver "
		    "ANCESTOR OURS THEIRS PATH (%%O %%A %%B %%P)");
	if (store_merge_driver(argv[1], argv[2], argv[3], argv[4]) < 0)
		return tool_err(TOOL_EXIT_FAIL, "merge-driver", "%s", store_strerror());
	return 0;
}

/* Append line to the file at path unless a line equal to it is there. */
static int
attr_add(const char *path, const char *line)
{
	char buf[512];
	FILE *f;
	bool have = false, nl_end = true;

	if ((f = fopen(path, "r")) != NULL) {
		while (fgets(buf, sizeof(buf), f) != NULL) {
			size_t n = strlen(buf);

			nl_end = n > 0 && buf[n - 1] == '\n';
			if (nl_end)
				buf[n - 1] = '\0';
			have = have || strcmp(buf, line) == 0;
		}
		fclose(f);
	}
	if (have)
		return 0;
	if ((f = fopen(path, "a")) == NULL)
		return -1;
	fprintf(f, "%s%s\n", nl_end ? "" : "\n", line);
	return fclose(f) == 0 ? 0 : -1;
}

int
cmd_install_driver(const char *repo, int argc, char **argv)
{
	char exe[PATH_MAX], attrs[PATH_MAX + 32], cmdline[PATH_MAX + 64];
	char *gitdir = NULL, *workdir = NULL;
	ssize_t n;
	int rc = TOOL_EXIT_FAIL;

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(help_install, stdout);
		return 0;
	}
	if (argc != 1)
		return tool_err(TOOL_EXIT_USAGE, "install-driver", "unexpected argument "
		    "'%s' (usage: install-driver)", argv[1]);
	if (store_git_locate(&gitdir, &workdir, repo, false) < 0 &&
	    (access(repo, F_OK) == 0 || strcmp(repo, "./state.git") != 0 ||
	    store_git_locate(&gitdir, &workdir, ".", true) < 0))
		return tool_err(TOOL_EXIT_USAGE, "install-driver", "'%s' is not a git "
		    "repository", repo);
	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) < 0) {
		tool_err(rc, "install-driver", "cannot find this binary's path");
		goto done;
	}
	exe[n] = '\0';
	if (workdir == NULL)
		snprintf(attrs, sizeof(attrs), "%sinfo", gitdir);
	else
		snprintf(attrs, sizeof(attrs), "%s", workdir);
	if (workdir == NULL && access(attrs, F_OK) != 0 && mkdir(attrs, 0755) < 0) {
		tool_err(rc, "install-driver", "cannot create %s", attrs);
		goto done;
	}
	strcat(attrs, workdir == NULL ? "/attributes" : ".gitattributes");
	if (attr_add(attrs, "arp/** merge=gitnet") < 0 ||
	    attr_add(attrs, "nat/** merge=gitnet") < 0) {
		tool_err(rc, "install-driver", "cannot write %s", attrs);
		goto done;
	}
	snprintf(cmdline, sizeof(cmdline), "%s merge-driver %%O %%A %%B %%P", exe);
	if (store_git_config_set(gitdir, "merge.gitnet.name", "gitnet table-aware merge") < 0 ||
	    store_git_config_set(gitdir, "merge.gitnet.driver", cmdline) < 0) {
		tool_err(rc, "install-driver", "cannot write the config: %s", tool_storemsg());
		goto done;
	}
	printf("installed: %s, merge.gitnet.driver = %s\n", attrs, cmdline);
	rc = 0;
done:
	free(gitdir);
	free(workdir);
	return rc;
}

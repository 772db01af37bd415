/* SPDX-License-Identifier: ISC */
/*
 * Plain git repositories, for the tool's set-up of clones (gitnet
 * install-driver): where a repository's git directory and work tree are,
 * and one key of its own config written. Not a state repository: nothing
 * here checks meta/schema or takes the store's lock.
 */
#include <stdlib.h>
#include <string.h>

#include "repo.h"

int
store_git_locate(char **gitdir, char **workdir, const char *path, bool search)
{
	git_repository *r = NULL;
	const char *w;
	int error;

	*gitdir = *workdir = NULL;
	if (git_libgit2_init() < 0)
		return store_gerr(-1, "store: libgit2");
	error = git_repository_open_ext(&r, path, search ? 0 : GIT_REPOSITORY_OPEN_NO_SEARCH,
	    NULL);
	if (error < 0) {
		error = store_err(STORE_ENOTFOUND, "'%s' is not a git repository", path);
		goto done;
	}
	w = git_repository_is_bare(r) ? NULL : git_repository_workdir(r);
	if ((*gitdir = strdup(git_repository_path(r))) == NULL ||
	    (w != NULL && (*workdir = strdup(w)) == NULL)) {
		free(*gitdir);
		*gitdir = NULL;
		error = store_err(-1, "store: out of memory");
	}
done:
	git_repository_free(r);
	git_libgit2_shutdown();
	return error;
}

int
store_git_config_set(const char *gitdir, const char *key, const char *value)
{
	git_repository *r = NULL;
	git_config *all = NULL, *cfg = NULL;
	int error;

	if (git_libgit2_init() < 0)
		return store_gerr(-1, "store: libgit2");
	if ((error = git_repository_open_ext(&r, gitdir, GIT_REPOSITORY_OPEN_NO_SEARCH,
	    NULL)) < 0 ||
	    (error = git_repository_config(&all, r)) < 0 ||
	    (error = git_config_open_level(&cfg, all, GIT_CONFIG_LEVEL_LOCAL)) < 0 ||
	    (error = git_config_set_string(cfg, key, value)) < 0)
		error = store_gerr(error, "store: %s: setting %s", gitdir, key);
	git_config_free(cfg);
	git_config_free(all);
	git_repository_free(r);
	git_libgit2_shutdown();
	return error;
}

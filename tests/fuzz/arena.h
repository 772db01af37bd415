/* SPDX-License-Identifier: ISC */
/*
 * Forced into netfn's sources for pipeline_fuzz only (-include): their
 * allocations go to the harness's snapshot arena (pipeline_fuzz.c), so a
 * pipeline built once can be put back to its first state for each input
 * by remapping the arena copy-on-write. Included first, so <stdlib.h> is
 * declared before the names are taken over.
 */
#ifndef TESTS_FUZZ_ARENA_H
#define TESTS_FUZZ_ARENA_H

#include <stdlib.h>

void *fz_malloc(size_t n);
void *fz_calloc(size_t n, size_t size);
void *fz_realloc(void *p, size_t n);
void fz_free(void *p);

#define malloc(n)	fz_malloc(n)
#define calloc(n, s)	fz_calloc(n, s)
#define realloc(p, n)	fz_realloc(p, n)
#define free(p)		fz_free(p)

#endif

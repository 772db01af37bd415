/* SPDX-License-Identifier: ISC */
/*
 * Every layer of store/ at once (objects.h lists them), for white-box
 * tests that reach the store's internals. store/ itself includes its own
 * layer's header, never this one.
 */
#ifndef STORE_INTERNAL_H
#define STORE_INTERNAL_H

#include "repo.h"

#endif

/* SPDX-License-Identifier: ISC */
/* The version string (contract in version.h). */
#include "src/version.h"

#ifndef GITNET_VERSION
#error "GITNET_VERSION is set by the Makefile from debian/changelog"
#endif

const char gitnet_version[] = GITNET_VERSION;

/* SPDX-License-Identifier: ISC */
/*
 * The version of gitnet, from one place: the first line of debian/changelog,
 * which the Makefile reads and passes to src/version.c as GITNET_VERSION.
 * gitnet-router --version, the router's start line, its metrics
 * (gitnet_build_info) and gitnet --version all print it.
 */
#ifndef SRC_VERSION_H
#define SRC_VERSION_H

extern const char gitnet_version[];

#endif

/* SPDX-License-Identifier: ISC */
/* gitnet-router: the host program; all of it is router_main (router_main.c). */
#include "router.h"

int
main(int argc, char **argv)
{
	return router_main(argc, argv);
}

/* SPDX-License-Identifier: ISC */
/*
 * The router's clock: microseconds since the epoch, from CLOCK_MONOTONIC
 * anchored to the wall clock once at start, so timers never jump with a
 * clock step while the times written to history remain unix times.
 */
#include <time.h>

#include "router.h"

static uint64_t base_real_us, base_mono_us;

static uint64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

void
router_clock_init(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	base_real_us = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
	base_mono_us = mono_us();
}

uint64_t
router_now_us(void)
{
	if (base_real_us == 0)
		router_clock_init();
	return base_real_us + (mono_us() - base_mono_us);
}

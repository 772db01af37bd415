#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Memory (issue 16): the router sizes its tables and caches from its memory
# figure (src/mem.h). With --memory 64M (as a 64 MB guest would detect) the
# NAT table is smaller than the 1 M-session default yet holds at least 100 k
# sessions, the `router: memory:` line and `stats` agree on it, the router
# forwards, and its resident set stays well inside 64 MB; the config file's
# `memory` key does the same; an explicit --nat-max-sessions wins over the
# memory; on a host with a gigabyte or more the default stays 1048576 (the
# benchmarks assume it).
set -u
. "$(dirname "$0")/lib.sh"

gn_require router socat ping awk
gn_init
gn_topology

MB=1048576
rss_kb() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$GN_ROUTER_PID/status"; }
# The value of key $1 on the router's memory line.
memline() { grep -m1 'router: memory:' "$GN_ROUTER_LOG" | tr ' ' '\n' | awk -F= -v k="$1" '$1 == k { print $2 }'; }
pings() { in_cli ping -c 2 -i 0.2 -W 2 "$SRV_IP"; }

# --- --memory 64M: sized from it --------------------------------------------
: >"$GN_ROUTER_LOG"
gn_router_start --memory 64M || gn_die "router did not start"
n64=$(stat_get nat_max_sessions)
check "--memory 64M: the memory line names it" \
    expect_eq "$(memline ram_mb)/$(memline source)/$(memline nat_sized)" "64.0/flag/memory"
check "--memory 64M: stats memory_bytes" expect_eq "$(stat_get memory_bytes)" $((64 * MB))
check "--memory 64M: nat_max_sessions in stats is the logged one" \
    expect_eq "$n64" "$(memline nat_max_sessions)"
check "--memory 64M: at least 100 k sessions" expect_ge "$n64" 100000
check "--memory 64M: fewer than the 1 M default" expect_ge $((1048575 - n64)) 0
check "--memory 64M: the NAT table in a third of it" \
    awk -v t="$(memline nat_table_mb)" 'BEGIN { print t; exit !(t > 0 && t <= 64 / 3) }'
check "--memory 64M: the event ring is 1/64 of it (4096 events)" \
    expect_eq "$(memline state_ring_events)" 4096
check "--memory 64M: store caches 4 MB, mapped packs 8 MB" \
    expect_eq "$(memline store_cache_mb)/$(memline git_cache_mb)/$(memline git_mapped_mb)" \
    "4.0/4.0/8.0"
check "--memory 64M: forwards" pings
sleep 1
rss=$(rss_kb)
check "--memory 64M: resident set under 40 MB idle (${rss} kB)" expect_ge $((40 * 1024 - rss)) 0
gn_router_stop

# --- the config file's key ---------------------------------------------------
printf 'memory 64M\n' >"$GN_RUN/mem.conf"
: >"$GN_ROUTER_LOG"
gn_router_start --config "$GN_RUN/mem.conf" || gn_die "router did not start"
check "config 'memory 64M': the same table" expect_eq "$(stat_get nat_max_sessions)" "$n64"
gn_router_stop

# --- an explicit size wins ---------------------------------------------------
: >"$GN_ROUTER_LOG"
gn_router_start --memory 64M --nat-max-sessions 500000 || gn_die "router did not start"
check "--nat-max-sessions 500000 wins over --memory 64M" \
    expect_eq "$(stat_get nat_max_sessions)/$(memline nat_sized)" "500000/config"
check "and forwards" pings
gn_router_stop

: >"$GN_ROUTER_LOG"
gn_router_start --nat-max-sessions 4096 || gn_die "router did not start"
check "--nat-max-sessions 4096 on the host's memory" \
    expect_eq "$(stat_get nat_max_sessions)/$(memline nat_sized)" "4096/config"
gn_router_stop

# --- the host's own memory ---------------------------------------------------
: >"$GN_ROUTER_LOG"
gn_router_start || gn_die "router did not start"
ram=$(stat_get memory_bytes)
check "default: sized from the system or its cgroup" \
    expect_one_of "$(memline source)" system cgroup
if [ "${ram:-0}" -ge $((1024 * MB)) ]; then
	check "default on a host with $((ram / MB)) MB: 1048576 sessions" \
	    expect_eq "$(stat_get nat_max_sessions)" 1048576
else
	gn_log "skip: the host has $((ram / MB)) MB: the default is what fits"
fi
gn_router_stop

gn_summary

#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Prometheus metrics (--metrics ADDR:PORT): the endpoint answers in the text
# exposition format 0.0.4, which Debian's `promtool check metrics` accepts;
# every counter of the control socket's `stats` is there with the same value
# (labels for interface, drop reason and table); the histograms count the
# commits the state writer made; a real Prometheus server scrapes the router
# and answers a query for gitnet_forwarded_total with the router's count;
# stuck and hostile clients neither stop other scrapes nor slow the data
# path; bad requests get 400/404/405.
set -u
. "$(dirname "$0")/lib.sh"

gn_require router curl promtool prometheus socat "$GN_PY"
gn_init
gn_topology

MPORT=9750	# the router's own namespace: nothing else listens there
PPORT=9090
URL=http://127.0.0.1:$MPORT/metrics
scrape() { in_rtr curl -sS --max-time 5 "$@"; }

check "the router starts with --metrics 127.0.0.1:$MPORT" \
    gn_router_start --metrics "127.0.0.1:$MPORT" || { gn_summary; exit 1; }
check "it logs its version and the endpoint" sh -c "
	grep -q '^router: version: gitnet-router $("$GN_ROUTER" --version | cut -d' ' -f2)\$' '$GN_ROUTER_LOG' &&
	grep -q '^metrics: listening: addr=127.0.0.1:$MPORT path=/metrics\$' '$GN_ROUTER_LOG'"
check "traffic through it: 20 pings" in_cli ping -c 20 -i 0.05 -W 2 "$SRV_IP"
sleep 0.5	# a group commit window, so the writer's histograms have counts

scrape -D "$GN_RUN/headers" -o "$GN_RUN/scrape" "$URL"
check "Content-Type is text/plain; version=0.0.4" \
    expect_grep "$GN_RUN/headers" '^Content-Type: text/plain; version=0\.0\.4'
check "promtool check metrics accepts the scrape" sh -c "promtool check metrics <'$GN_RUN/scrape'"

# Every stats counter has its metric, with the value it had a moment before
# (the loop is idle now: nothing moves between the two reads but the clock).
ctl stats >"$GN_RUN/stats"
scrape -o "$GN_RUN/scrape2" "$URL"
cat >"$GN_RUN/map.py" <<'PY'
import re, sys
stats = dict(l.split() for l in open(sys.argv[1]) if l.strip())
metrics = {}
for l in open(sys.argv[2]):
    if l.startswith("#") or not l.strip():
        continue
    name, value = l.rsplit(" ", 1)
    metrics[name] = float(value)
ifs = set(re.findall(r'interface="([^"]+)"', open(sys.argv[2]).read()))
special = {
    "rx": "gitnet_rx_frames_total",
    "arp_entries": 'gitnet_table_entries{table="arp"}',
    "nat_sessions": 'gitnet_table_entries{table="nat"}',
    "nat_max_sessions": 'gitnet_table_capacity{table="nat"}',
    "memory_bytes": "gitnet_memory_bytes",
    "state_restored_arp": 'gitnet_state_restored_entries{table="arp"}',
    "state_restored_nat": 'gitnet_state_restored_entries{table="nat"}',
    "state_restore_skipped": "gitnet_state_restore_skipped_entries",
    "state_lag_p50_us": "gitnet_state_commit_lag_p50_seconds",
    "state_lag_p99_us": "gitnet_state_commit_lag_p99_seconds",
    "history_bytes": "gitnet_history_bytes",
    "history_max_bytes": "gitnet_history_max_bytes",
    "history_oldest_s": "gitnet_history_oldest_seconds",
    "history_write_failing": "gitnet_history_write_failing",
}
# Gauges a background compaction may move between the two reads.
moving = {"history_bytes"}
bad = 0
for k, v in stats.items():
    v = float(v)
    if k in special:
        m = special[k]
    elif k.startswith("drop_"):
        m = 'gitnet_dropped_total{reason="%s"}' % k[5:]
    elif k.startswith("if_"):
        dev = next((d for d in ifs if k.startswith("if_%s_" % d)), None)
        m = 'gitnet_interface_%s_total{interface="%s"}' % (k[len(dev) + 4:], dev) if dev else "?"
    elif k == "state_changes":
        m = None
        got = metrics.get('gitnet_state_changes_total{table="arp"}', -1) + \
            metrics.get('gitnet_state_changes_total{table="nat"}', -1)
    else:
        m = "gitnet_%s_total" % k
    if m is not None:
        got = metrics.get(m)
    if k.endswith("_us"):
        v /= 1e6
    ok = got is not None and (abs(got - v) < 1e-6 if not k.endswith("_us") and
                              k not in moving else True)
    if not ok:
        print("stats %s %s: metric %s is %s" % (k, v, m, got))
        bad += 1
print("%d stats counters, %d metrics samples, %d mismatches" % (len(stats), len(metrics), bad))
sys.exit(bad != 0)
PY
check "every stats counter is a metric with the same value" \
    "$GN_PY" "$GN_RUN/map.py" "$GN_RUN/stats" "$GN_RUN/scrape2"
# The first request waits for ARP: it counts as arp_queue_released.
check "gitnet_forwarded_total counts the pings (40 frames with the ARP-queued one)" \
    expect_ge "$(awk '$1 == "gitnet_forwarded_total" || $1 == "gitnet_arp_queue_released_total" { s += $2 } END { print s }' "$GN_RUN/scrape2")" 40
check "labels: interface, reason and table" sh -c "
	grep -q '^gitnet_interface_tx_frames_total{interface=\"$RTR_IN_DEV\"} [1-9]' '$GN_RUN/scrape2' &&
	grep -q '^gitnet_dropped_total{reason=\"bad_csum\"} 0' '$GN_RUN/scrape2' &&
	grep -q '^gitnet_table_entries{table=\"nat\"} [1-9]' '$GN_RUN/scrape2'"
hist_count() { awk -v n="gitnet_$1_count" '$1 == n { print $2 }' "$GN_RUN/scrape2"; }
check "histogram: commit lag has an observation per change" \
    expect_ge "$(hist_count state_commit_lag_seconds)" 1
check "histogram: commit duration has one per commit" \
    expect_eq "$(hist_count state_commit_duration_seconds)" \
    "$(awk '$1 == "gitnet_state_commits_total" { print $2 }' "$GN_RUN/scrape2")"
check "histogram: tick merge is there" \
    expect_grep "$GN_RUN/scrape2" '^gitnet_state_tick_merge_duration_seconds_bucket\{le="\+Inf"\} [0-9]+$'

# A real Prometheus in the router's namespace scrapes it every second.
mkdir -p "$GN_RUN/prom"
cat >"$GN_RUN/prom/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: gitnet
    static_configs:
      - targets: ['127.0.0.1:$MPORT']
YML
gn_bg "$RTR" prometheus prometheus --config.file="$GN_RUN/prom/prometheus.yml" \
    --storage.tsdb.path="$GN_RUN/prom/data" --web.listen-address="127.0.0.1:$PPORT"
query() {
	in_rtr curl -sS --max-time 3 "http://127.0.0.1:$PPORT/api/v1/query" \
	    --data-urlencode "query=$1" | "$GN_PY" -c '
import json, sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else "")'
}
prom_has() { [ -n "$(query "$1")" ]; }
check "prometheus comes up" gn_wait 30 in_rtr curl -sf "http://127.0.0.1:$PPORT/-/ready"
check "prometheus scrapes the router (up == 1)" gn_wait 20 prom_has 'up{job="gitnet"} == 1'
want=$(stat_get forwarded)
check "prometheus answers gitnet_forwarded_total with the router's count" \
    gn_wait 10 prom_has "gitnet_forwarded_total == $want"
check "and the commit lag histogram's quantile" \
    gn_wait 10 prom_has 'histogram_quantile(0.5, gitnet_state_commit_lag_seconds_bucket) > 0'
gn_log "prometheus: gitnet_forwarded_total=$(query gitnet_forwarded_total) (stats: $want)"

# Clients that never finish their request: they hold slots, not the loop.
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18; do
	gn_bg "$RTR" "stuck$i" socat -T 30 - "TCP:127.0.0.1:$MPORT" </dev/zero >/dev/null
done
gn_bg "$RTR" stuck-slow sh -c "exec sleep 30 | socat - TCP:127.0.0.1:$MPORT"
sleep 0.3
check "with 19 stuck clients, pings through the router lose nothing" \
    sh -c "ip netns exec '$CLI' ping -c 50 -i 0.02 -W 1 '$SRV_IP' | grep -q ' 0% packet loss'"
check "and a scrape is answered once a slot frees (client timeout 5 s)" \
    gn_wait 10 in_rtr curl -sf --max-time 8 -o /dev/null "$URL"
code() { in_rtr curl -s --max-time 8 -o /dev/null -w '%{http_code}' "$@"; }
check "GET / points to /metrics" expect_eq "$(code "http://127.0.0.1:$MPORT/")" 200
check "an unknown path is 404" expect_eq "$(code "http://127.0.0.1:$MPORT/nope")" 404
check "POST is 405" expect_eq "$(code -X POST "$URL")" 405
check "HEAD has the headers and no body" sh -c \
    "ip netns exec '$RTR' curl -sS -I --max-time 5 '$URL' | grep -q 'Content-Length: [1-9]'"
check "garbage is 400" sh -c "printf 'hello\r\n\r\n' | ip netns exec '$RTR' socat -t 3 - TCP:127.0.0.1:$MPORT | grep -q '^HTTP/1.1 400'"
check "the router is still running" gn_router_alive
gn_router_stop
check "it stopped cleanly" expect_eq "$GN_ROUTER_RC" 0

check "a bad --metrics address is refused" sh -c \
    "'$GN_ROUTER' --inside a=10.0.0.1/24 --outside b=10.1.0.1/24 --metrics 127.0.0.1 2>&1 | grep -q 'metrics: .127.0.0.1. is not ADDR:PORT'"
gn_summary

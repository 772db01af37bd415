#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
#
# The gitnet tool on large state repositories, built with `git fast-import`
# (a stream written by the python below, so no router run is needed):
#   BENCH tool_show_1m_s      gitnet show of a 1 M-entry table (500 k ARP,
#                             500 k NAT) to /dev/null
#   BENCH tool_at_1m_s        gitnet at TIME on the same repository
#   BENCH tool_export_1m_s    gitnet export --json of it
#   BENCH tool_log_key_100k_s gitnet log -- KEY over 100 k commits (a key
#                             touched by one commit in 1000)
# with stock git as the peer in the same run:
#   RATIO tool_show_vs_git_cat_file   show time / `git ls-tree -r` time
#   RATIO tool_log_key_vs_git_log    log -- KEY time / `git log -- PATH` time
# --quick: 100 k entries and 10 k commits (names keep their 1m/100k suffix
# only in full runs; quick runs print _quick names).
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
G=${GITNET:-$ROOT/build/gitnet}
N=1000000 C=100000 SFX_N=1m SFX_C=100k
if [ "${1:-}" = --quick ]; then
	N=100000 C=10000 SFX_N=quick SFX_C=quick
fi
[ -x "$G" ] || { echo "tool_bench: no $G: run make" >&2; exit 1; }
W=$(mktemp -d /tmp/gitnet-toolbench.XXXXXX)
trap 'rm -rf "$W"' EXIT

# secs CMD...: wall seconds of CMD, stdout discarded; fails if CMD fails.
secs() {
	local t0 t1
	t0=$(date +%s.%N)
	"$@" >/dev/null || return 1
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}

# The stream: one commit with N entries at T0, one more changing one entry
# at T0 + 10 (so `at T0 + 5` has to walk past primary's head).
python3 - "$N" >"$W/big.fi" <<'PY'
import sys
n = int(sys.argv[1]); t0 = 1795341600
w = sys.stdout.write
def blob(path, text):
    b = text.encode()
    w("M 100644 inline %s\ndata %d\n%s\n" % (path, len(b), text))
def head(t, msg):
    w("commit refs/heads/primary\ncommitter r1 <r1> %d +0000\ndata %d\n%s\n" % (t, len(msg), msg))
head(t0, "store: create empty tables")
blob("meta/schema", "gitnet-store 1\n")
blob("meta/router", "id r1\n")
for i in range(n // 2):
    ip = "10.%d.%d" % (i >> 16, (i >> 8) & 255)
    blob("arp/%s/%d" % (ip, i & 255),
         "expires 1795341900.000000\nlearned-on inside\nlladdr 02:00:%02x:%02x:%02x:%02x\n"
         "state REACHABLE\nupdated 1795341600.%06d\n" % (i >> 24, (i >> 16) & 255, (i >> 8) & 255, i & 255, i % 1000000))
for i in range(n - n // 2):
    e = i // 64000
    blob("nat/udp/172.%d.%d/%d/5000" % (16 + (i >> 16), (i >> 8) & 255, i & 255),
         "created 1795341600.000000\nexpires 1795341900.000000\nexternal 198.18.%d.%d:%d\n"
         "remote 8.8.8.8:53 established\n" % (e >> 8, e & 255, 1024 + i % 64000))
w("\n")
w("commit refs/heads/primary\ncommitter r1 <r1> %d +0000\ndata 4\nmore\n" % (t0 + 10))
blob("arp/10.0.0/1", "expires never\nlearned-on inside\nlladdr 02:00:00:00:00:02\nstate PERMANENT\nupdated 1795341610.000000\n")
w("\n")
PY
if ! { git init -q --bare "$W/big.git" &&
    git --git-dir="$W/big.git" fast-import --quiet <"$W/big.fi"; }; then
	echo "tool_bench: fast-import of the big table failed" >&2
	exit 1
fi
rm -f "$W/big.fi"

# The history: C commits over a 1000-entry table, commit k rewriting entry
# k % 1000, so arp/10.0.0/7 changes once in 1000 commits.
python3 - "$C" >"$W/log.fi" <<'PY'
import sys
c = int(sys.argv[1]); t0 = 1795341600
w = sys.stdout.write
def blob(path, text):
    b = text.encode()
    w("M 100644 inline %s\ndata %d\n%s\n" % (path, len(b), text))
for k in range(c):
    msg = "arp: update %d" % k
    w("commit refs/heads/primary\ncommitter r1 <r1> %d +0000\ndata %d\n%s\n" % (t0 + k, len(msg), msg))
    if k == 0:
        blob("meta/schema", "gitnet-store 1\n")
    i = k % 1000
    blob("arp/10.0.%d/%d" % (i >> 8, i & 255),
         "expires never\nlearned-on inside\nlladdr 02:00:00:00:%02x:%02x\nstate REACHABLE\nupdated %d.000000\n"
         % (k >> 8 & 255, k & 255, t0 + k))
    w("\n")
PY
if ! { git init -q --bare "$W/log.git" &&
    git --git-dir="$W/log.git" fast-import --quiet <"$W/log.fi"; }; then
	echo "tool_bench: fast-import of the history failed" >&2
	exit 1
fi
rm -f "$W/log.fi"

# Check the results once, so a wrong answer cannot look fast.
lines=$("$G" --repo "$W/big.git" show | wc -l)
[ "$lines" = "$N" ] || { echo "tool_bench: show printed $lines lines, want $N" >&2; exit 1; }
hits=$("$G" --repo "$W/log.git" log -- 10.0.0.7 | wc -l)
[ "$hits" = $((C / 1000)) ] || { echo "tool_bench: log -- KEY found $hits, want $((C / 1000))" >&2; exit 1; }

SHOW=$(secs "$G" --repo "$W/big.git" show) || exit 1
AT=$(secs "$G" --repo "$W/big.git" at @1795341605 2>/dev/null) || exit 1
EXPORT=$(secs "$G" --repo "$W/big.git" export --json) || exit 1
# The peer reads every entry too: ls-tree piped into cat-file --batch.
gitshow() {
	git --git-dir="$W/big.git" ls-tree -r primary | awk '{ print $3 }' |
	    git --git-dir="$W/big.git" cat-file --batch
}
LSTREE=$(secs gitshow) || exit 1
LOG=$(secs "$G" --repo "$W/log.git" log -- 10.0.0.7) || exit 1
GITLOG=$(secs git --git-dir="$W/log.git" log --format=%h primary -- arp/10.0.0/7) || exit 1

echo "BENCH tool_show_${SFX_N}_s $SHOW s"
echo "BENCH tool_at_${SFX_N}_s $AT s"
echo "BENCH tool_export_${SFX_N}_s $EXPORT s"
echo "BENCH tool_log_key_${SFX_C}_s $LOG s"
awk -v a="$SHOW" -v b="$LSTREE" 'BEGIN { printf "RATIO tool_show_vs_git_cat_file %.2f\n", a / (b > 0 ? b : 0.001) }'
awk -v a="$LOG" -v b="$GITLOG" 'BEGIN { printf "RATIO tool_log_key_vs_git_log %.2f\n", a / (b > 0 ? b : 0.001) }'

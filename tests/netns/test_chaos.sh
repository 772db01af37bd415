#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
#
# Chaos: SIGKILL the router at random moments, CHAOS_KILLS times (default
# 50), while traffic flows and the state writer commits, restarting it each
# time. After every kill:
#  - stock `git fsck --strict` is clean;
#  - the last commit the router reported durable before the kill (with -v it
#    logs "state: durable: head=ID" once each flush has returned) is primary
#    or an ancestor of it: nothing it promised is lost;
# and throughout, one TCP connection from cli to srv, held open across every
# kill and restart, keeps echoing its lines in order.
#
#	cli 192.168.1.2 -- rtr (gitnet-router -v --state $GN_RUN/state) -- srv 203.0.113.2
#
# Traffic: new UDP flows from cli (a new source port every 20 ms: NAT
# sessions, so group commits), ticks aging them out (--udp-timeout 2), and
# the TCP echo. Runtime about 90 s.

# shellcheck disable=SC2086,SC2016
set -u -o pipefail
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"

gn_require router git socat python3 ss
gn_init
cd "$GN_RUN" || exit 1
gn_topology
gn_udptool

KILLS=${CHAOS_KILLS:-50}
STATE=$GN_RUN/state
G=(git --git-dir="$STATE")

cat >"$GN_RUN/chaos.py" <<'PY'
import os, select, socket, sys, time

def churn(dst, secs, ms):
    end = time.time() + secs
    while time.time() < end:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", 0))
        try:
            s.sendto(b"churn", dst)
        except OSError:
            pass
        s.close()
        time.sleep(ms / 1000)

def echo(dst, secs, ms):
    s = socket.create_connection(dst, timeout=5)
    s.setblocking(False)
    sent = echoed = 0
    buf, err = b"", "NONE"
    end = nxt = time.time()
    end += secs
    try:
        while time.time() < end and not os.path.exists(sys.argv[5]):
            if time.time() >= nxt:
                s.sendall(b"line %d\n" % sent)
                sent += 1
                nxt += ms / 1000
            r, _, _ = select.select([s], [], [], max(0, min(nxt, end) - time.time()))
            if not r:
                continue
            data = s.recv(65536)
            if not data:
                err = "EOF"
                break
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if line != b"line %d" % echoed:
                    raise ValueError("echo %r, want line %d" % (line, echoed))
                echoed += 1
                print("echoed", echoed, flush=True)
        # Let the tail arrive.
        s.setblocking(True)
        s.settimeout(15)
        while echoed < sent:
            data = s.recv(65536)
            if not data:
                err = "EOF"
                break
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if line != b"line %d" % echoed:
                    raise ValueError("echo %r, want line %d" % (line, echoed))
                echoed += 1
    except Exception as e:
        err = repr(e).replace(" ", "_")
    print("done sent %d echoed %d error %s" % (sent, echoed, err), flush=True)

mode, a = sys.argv[1], sys.argv[2:]
h, p = a[0].rsplit(":", 1)
(churn if mode == "churn" else echo)((h, int(p)), float(a[1]), float(a[2]))
# echo: argv[5] is a file whose existence ends the run (then the tail).
PY

# An echo server in srv, a UDP sink for the churn.
gn_bg "$SRV" echo socat TCP-LISTEN:7000,reuseaddr,fork SYSTEM:cat
gn_bg "$SRV" sink $GN_UDPTOOL quiet "$SRV_IP:9000" 600
gn_wait_listen 5 "$SRV" 7000 || gn_die "no echo server"

from=$(wc -l <"$GN_ROUTER_LOG" 2>/dev/null || echo 0)
gn_router_start -v --udp-timeout 2 || gn_die "router did not start"
# The echo runs for the whole test; its duration is an upper bound.
gn_bg "$CLI" tcp "$GN_PY" "$GN_RUN/chaos.py" echo "$SRV_IP:7000" 600 100 "$GN_RUN/stop"
TCP=$GN_LAST_PID
gn_wait 5 grep -q echoed "$GN_RUN/tcp.log" || gn_die "the TCP echo did not start"
gn_bg "$CLI" churn "$GN_PY" "$GN_RUN/chaos.py" churn "$SRV_IP:9000" 600 20
CHURN=$GN_LAST_PID

fsck_bad=0 lost=0 promised=0 restarts_failed=0
for k in $(seq 1 "$KILLS"); do
	# A random moment: 150 ms to 1 s into this run.
	sleep "0.$(printf '%03d' $((150 + RANDOM % 850)))"
	kill -KILL "$GN_ROUTER_PID" 2>/dev/null
	wait "$GN_ROUTER_PID" 2>/dev/null
	GN_ROUTER_PID=
	head=$(tail -n +"$((from + 1))" "$GN_ROUTER_LOG" |
	    awk '/^state: durable: head=/ { h = substr($3, 6) } END { print h }')
	if ! "${G[@]}" fsck --strict --no-progress >"$GN_RUN/fsck.$k" 2>&1; then
		fsck_bad=$((fsck_bad + 1))
		echo "# kill $k: git fsck failed:"; sed 's/^/#   /' "$GN_RUN/fsck.$k"
	fi
	if [ -n "$head" ]; then
		promised=$((promised + 1))
		if ! "${G[@]}" merge-base --is-ancestor "$head" primary 2>/dev/null; then
			lost=$((lost + 1))
			echo "# kill $k: durable $head is not on primary ($("${G[@]}" rev-parse primary))"
		fi
	fi
	from=$(wc -l <"$GN_ROUTER_LOG")
	if ! gn_router_start -v --udp-timeout 2; then
		restarts_failed=$((restarts_failed + 1))
		gn_router_start -v --udp-timeout 2 || gn_die "kill $k: the router does not restart"
	fi
done
sleep 1
check "$KILLS kills: git fsck --strict clean after each" expect_eq "$fsck_bad" 0
check "every commit reported durable before a kill is on primary" expect_eq "$lost" 0
check "the router reported durable commits before most kills" \
    expect_ge "$promised" $((KILLS * 3 / 4))
check "every restart came up" expect_eq "$restarts_failed" 0
check "state_restored_nat after the last restart" expect_ge "$(stat_get state_restored_nat)" 1
gn_kill "$CHURN"
# End the echo: it finishes its tail (bounded) and reports.
touch "$GN_RUN/stop"
gn_wait 20 gn_gone "$TCP"
gn_log "$(tail -n 1 "$GN_RUN/tcp.log")"
check "the long-lived TCP connection was never broken" \
    expect_grep "$GN_RUN/tcp.log" "^done sent ([0-9]+) echoed \\1 error NONE$"
check "and it echoed through the last restart" \
    expect_ge "$(grep -c echoed "$GN_RUN/tcp.log")" 100
gn_router_stop
check "a final clean stop" expect_eq "$GN_ROUTER_RC" 0
check "git fsck --strict after the stop" "${G[@]}" fsck --strict --no-progress
gn_summary

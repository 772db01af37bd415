#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
#
# gitnet-router's git-versioned state (--state), end to end, read back with
# stock git only: after real traffic (ping, curl, a UDP exchange) primary
# holds the ARP and NAT entries the clients caused, with their MACs and the
# external ports the server saw, under commit messages that name them; an
# expiry tick shows as an expire_<unix.usec> branch merged back into primary;
# a tick racing with a stream of new flows loses none of them; a long-lived
# TCP connection survives kill -TERM and kill -KILL of the router followed by
# a restart, on the same external port; ten SIGKILLs at random moments under
# traffic leave a repository git fsck accepts, with every durable entry still
# there or removed by a commit; what expired while the router was down goes
# at the first tick after a restart; bad state directories (foreign, other
# schema, plain, a file, in use, read-only) are refused at start with a
# one-line reason, without touching what is in them; and a full filesystem
# is a counted, logged degradation that forwarding never notices and the
# store recovers from.
#
#	cli 192.168.1.2 -- rtr (gitnet-router --state $GN_RUN/state) -- srv 203.0.113.2
#
# The router runs with --udp-timeout 2 and --icmp-timeout 2 throughout, so
# ticks have something to age out every second.
#
# Runtime is about 45 s; every wait is bounded (see lib.sh). GN_ROUTER=PATH
# runs another build; GN_KEEP=1 keeps the run directory (and the repository).

# $GN_UDPTOOL (lib.sh) is a command and its script, split on purpose; the
# sh -c scripts take their arguments as "$1"..., expanded by that sh.
# shellcheck disable=SC2086,SC2016
set -u -o pipefail
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"

gn_require router git socat curl ethtool python3 ss unshare nsenter
gn_init
cd "$GN_RUN" || exit 1
gn_topology
gn_udptool

STATE=$GN_RUN/state
G=(git --git-dir="$STATE")
TIMEOUTS=(--udp-timeout 2 --icmp-timeout 2)

# $GN_RUN/statetool.py: traffic for these tests (every mode bounded).
#   churn DST:PORT SECS MS    a new UDP socket (new source port) every MS ms,
#                             one datagram each; prints each source port
#   keep LPORT DST:PORT SECS MS  one UDP flow from LPORT, a datagram every MS ms
#   echo LPORT DST:PORT SECS MS  TCP from LPORT: a numbered line every MS ms,
#                             each echo checked in order; prints "echoed N" per
#                             echo and ends with "done sent S echoed E
#                             maxgap_ms M error NONE|<why>"
#   http IP:PORT DIR SECS     an HTTP server for DIR; logs "IP:PORT <request>"
#                             with each client's address and port
cat >"$GN_RUN/statetool.py" <<'PY'
import select, socket, sys, time

def ep(s):
    h, p = s.rsplit(":", 1)
    return (h, int(p))

def churn(dst, secs, ms):
    socks, end = [], time.time() + secs
    while time.time() < end:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", 0))
        s.sendto(b"churn", dst)
        print(s.getsockname()[1], flush=True)
        socks.append(s)
        time.sleep(ms / 1000)
        for s in socks:		# drain the answers, so nothing queues
            try:
                s.recv(2048, socket.MSG_DONTWAIT)
            except OSError:
                pass

def keep(lport, dst, secs, ms):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", lport))
    end = time.time() + secs
    while time.time() < end:
        s.sendto(b"keep", dst)
        time.sleep(ms / 1000)
        try:
            while True:
                s.recv(2048, socket.MSG_DONTWAIT)
        except OSError:
            pass

def http(addr, directory, secs):
    import functools, http.server
    class H(http.server.SimpleHTTPRequestHandler):
        def log_message(self, fmt, *args):
            print("%s:%d %s" % (self.client_address[0], self.client_address[1],
                fmt % args), flush=True)
    srv = http.server.HTTPServer(addr, functools.partial(H, directory=directory))
    srv.timeout = 0.2
    end = time.time() + secs
    while time.time() < end:
        srv.handle_request()

def echo(lport, dst, secs, ms):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", lport))
    s.settimeout(3)
    sent = echoed = 0
    err = "NONE"
    buf = b""
    last = time.time()
    maxgap = 0.0
    try:
        s.connect(dst)
        s.setblocking(False)
        end = time.time() + secs
        nxt = time.time()
        while time.time() < end:
            now = time.time()
            if now >= nxt:
                s.sendall(b"line %d\n" % sent)
                sent += 1
                nxt += ms / 1000
            r, _, _ = select.select([s], [], [], max(0, min(nxt, end) - time.time()))
            if not r:
                continue
            data = s.recv(65536)
            if not data:
                err = "EOF from the server"
                break
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if line != b"line %d" % echoed:
                    raise ValueError("echo %r, want 'line %d'" % (line, echoed))
                echoed += 1
                t = time.time()
                maxgap = max(maxgap, t - last)
                last = t
                print("echoed", echoed, flush=True)
    except Exception as e:
        err = "%s: %s" % (type(e).__name__, e)
    print("done sent %d echoed %d maxgap_ms %d error %s"
        % (sent, echoed, maxgap * 1000, err), flush=True)

mode, a = sys.argv[1], sys.argv[2:]
if mode == "churn":
    churn(ep(a[0]), float(a[1]), float(a[2]))
elif mode == "keep":
    keep(int(a[0]), ep(a[1]), float(a[2]), float(a[3]))
elif mode == "http":
    http(ep(a[0]), a[1], float(a[2]))
elif mode == "echo":
    echo(int(a[0]), ep(a[1]), float(a[2]), float(a[3]))
else:
    sys.exit("statetool: unknown mode " + mode)
PY
TOOL=("$GN_PY" "$GN_RUN/statetool.py")

# The value of key $2 in entry $1 on primary ("" when there is none).
entry_get()
{
	"${G[@]}" show "primary:$1" 2>/dev/null | awk -v k="$2" '$1 == k { print $2; exit }'
}

# Every path on primary, one a line, into file $1.
primary_paths() { "${G[@]}" ls-tree -r --name-only primary >"$1"; }

# The external port srv sees on its established connection to port $1.
srv_peer_port()
{
	in_srv ss -Htn state established "( sport = :$1 )" |
	    grep -Eo "$RTR_OUT_IP:[0-9]+" | head -n 1 | cut -d: -f2
}

# Succeeds while the router's log holds at least $1 "state: loaded" lines.
loaded_count_ge() { [ "$(grep -c 'state: loaded' "$GN_ROUTER_LOG")" -ge "$1" ]; }

# fsck --strict exits 0 and reports nothing but dangling objects (which a
# group commit's superseded blobs legitimately are).
fsck_clean()
{
	local out rc

	out=$("${G[@]}" fsck --strict 2>&1)
	rc=$?
	echo "$out" | grep -v '^dangling ' | head -n 20
	echo "fsck exit $rc"
	[ "$rc" -eq 0 ] && ! echo "$out" | grep -v '^dangling ' | grep -q .
}

# --- 1. after real traffic, primary holds what the clients caused ----------

gn_router_start "${TIMEOUTS[@]}" || gn_die "router did not start"
check "the router logs that it loaded (created) its state" \
    gn_wait 3 loaded_count_ge 1

in_cli ping -c 3 -i 0.2 -W 2 "$SRV_IP" >"$GN_RUN/ping.out" 2>&1
check "ping cli -> srv through the router" \
    expect_grep "$GN_RUN/ping.out" " 3 received, 0% packet loss"

mkdir -p "$GN_RUN/www"
echo "hello through gitnet" >"$GN_RUN/www/index.txt"
gn_bg "$SRV" http "${TOOL[@]}" http "$SRV_IP:8080" "$GN_RUN/www" 150
gn_wait_listen 5 "$SRV" 8080 || gn_log "http server in srv not listening"
# A fixed inside port, so the NAT entry's path is known in advance.
TCP_LPORT=41000
in_cli curl -sS --max-time 5 --local-port "$TCP_LPORT" -o "$GN_RUN/index.got" \
    "http://$SRV_IP:8080/index.txt" >"$GN_RUN/curl.out" 2>&1
check "curl cli -> srv through the router" \
    expect_eq "$(cat "$GN_RUN/index.got" 2>/dev/null)" "hello through gitnet"
TCP_EXT=$(grep -Eo "^$RTR_OUT_IP:[0-9]+ .*GET /index.txt" "$GN_RUN/http.log" |
    head -n 1 | cut -d' ' -f1 | cut -d: -f2)
gn_log "srv saw the HTTP client as $RTR_OUT_IP:${TCP_EXT:-?}"

gn_bg "$SRV" udpsrv $GN_UDPTOOL serve "$SRV_IP:5000" 150
gn_wait_listen 5 "$SRV" 5000 udp || gn_log "udp server in srv not listening"
UDP_LPORT=40000
in_cli $GN_UDPTOOL ask "$UDP_LPORT" "$SRV_IP:5000" >"$GN_RUN/udp.out" 2>&1
UDP_EXT=$(grep -Eo "seen $RTR_OUT_IP:[0-9]+" "$GN_RUN/udp.out" | cut -d: -f2)
check "UDP exchange cli -> srv through the router" expect_ge "${UDP_EXT:-0}" 1

# Past the group commit window (100 ms), with margin.
sleep 0.5
ctl nat >"$GN_RUN/nat.1"
TCP_EXT_NAT=$(grep -Eo "sport=8080 dport=[0-9]+" "$GN_RUN/nat.1" | head -n 1 | cut -d= -f3)
check "the router's nat dump agrees with srv on curl's external port" \
    expect_eq "${TCP_EXT_NAT:-none}" "${TCP_EXT:-unknown}"

check "git show primary:arp/192.168.1/2 has cli's MAC ($CLI_MAC)" \
    expect_eq "$(entry_get arp/192.168.1/2 lladdr)" "$CLI_MAC"
check "git show primary:arp/203.0.113/2 has srv's MAC ($SRV_MAC)" \
    expect_eq "$(entry_get arp/203.0.113/2 lladdr)" "$SRV_MAC"
check "arp/192.168.1/2 was learned on the inside interface" \
    expect_eq "$(entry_get arp/192.168.1/2 learned-on)" "$RTR_IN_DEV"
primary_paths "$GN_RUN/paths.1"
check "git ls-tree -r primary has nat/tcp/192.168.1/2/$TCP_LPORT" \
    expect_grep "$GN_RUN/paths.1" "^nat/tcp/192\.168\.1/2/$TCP_LPORT$"
check "its external is $RTR_OUT_IP:<the port srv saw>" \
    expect_eq "$(entry_get "nat/tcp/192.168.1/2/$TCP_LPORT" external)" \
    "$RTR_OUT_IP:${TCP_EXT:-unknown}"
check "nat/udp/192.168.1/2/$UDP_LPORT's external is what srv's UDP server saw" \
    expect_eq "$(entry_get "nat/udp/192.168.1/2/$UDP_LPORT" external)" \
    "$RTR_OUT_IP:${UDP_EXT:-unknown}"
check "the tcp entry lists srv:8080 as its remote" \
    sh -c "git --git-dir='$STATE' show 'primary:nat/tcp/192.168.1/2/$TCP_LPORT' |
        grep -E '^remote $SRV_IP:8080 [a-z-]+( unreplied)?$'"
check "meta/schema on primary is 'gitnet-store 1'" \
    expect_eq "$("${G[@]}" show primary:meta/schema 2>&1)" "gitnet-store 1"

"${G[@]}" log --format=%B primary >"$GN_RUN/log.body"
"${G[@]}" log --format=%s primary >"$GN_RUN/log.subj"
check "git log names 'arp: add 192.168.1.2 -> $CLI_MAC'" \
    expect_grep "$GN_RUN/log.body" "^arp: add 192\.168\.1\.2 -> $CLI_MAC$"
check "git log names 'arp: add 203.0.113.2 -> $SRV_MAC'" \
    expect_grep "$GN_RUN/log.body" "^arp: add 203\.0\.113\.2 -> $SRV_MAC$"
check "git log names 'nat: map tcp 192.168.1.2:$TCP_LPORT -> $RTR_OUT_IP:$TCP_EXT'" \
    expect_grep "$GN_RUN/log.body" \
    "^nat: map tcp 192\.168\.1\.2:$TCP_LPORT -> $RTR_OUT_IP:${TCP_EXT:-unknown}$"
check "git log names 'nat: map udp 192.168.1.2:$UDP_LPORT -> $RTR_OUT_IP:$UDP_EXT'" \
    expect_grep "$GN_RUN/log.body" \
    "^nat: map udp 192\.168\.1\.2:$UDP_LPORT -> $RTR_OUT_IP:${UDP_EXT:-unknown}$"
check "every subject is one change, a counted batch, a tick or the creation" \
    sh -c "! grep -Ev '^((arp|nat): [a-z]+ .+|(arp|nat|tables): [0-9]+ changes \([0-9]+ add, [0-9]+ update, [0-9]+ remove\)|tick: .+|store: create empty tables)$' '$GN_RUN/log.subj'"
check "commit messages carry Cause: trailers (new flow from inside, arp ...)" \
    sh -c "grep -q '^Cause: new flow from inside' '$GN_RUN/log.body' &&
        grep -q '^Cause: arp ' '$GN_RUN/log.body'"
check "git fsck --strict is clean" fsck_clean

# --- 2. a tick ages the UDP flow out on an expire_ branch, merged back ------

# The UDP flow (2 s timeout) is idle: within a few ticks it must be gone.
udp_gone() { ! "${G[@]}" cat-file -e "primary:nat/udp/192.168.1/2/$UDP_LPORT"; }
check "the idle UDP entry leaves primary within 6 s (--udp-timeout 2)" \
    gn_wait 6 udp_gone
"${G[@]}" log --graph --oneline --all >"$GN_RUN/graph.2"
sed 's/^/#   /' "$GN_RUN/graph.2" | head -n 20
check "git log --graph --all shows a 'tick: age out ...' commit" \
    expect_grep "$GN_RUN/graph.2" "tick: age out [0-9]+ (arp|nat)"
check "and a 'tick: merge expire_<unix.usec>' commit" \
    expect_grep "$GN_RUN/graph.2" "tick: merge expire_[0-9]+\.[0-9]{6}$"
"${G[@]}" log --merges --format='%P %s' primary >"$GN_RUN/merges.2"
check "each merge on primary has two parents" \
    sh -c "test -s '$GN_RUN/merges.2' && awk 'NF < 4 || length(\$2) != 40 { exit 1 }' '$GN_RUN/merges.2'"
# The commit that removed the entry, as git finds it: the merge is TREESAME
# to its expire_ side for that path, so git log follows that side.
rm_subj=$("${G[@]}" log -1 --format=%s primary -- "nat/udp/192.168.1/2/$UDP_LPORT")
check "the UDP entry was removed by 'tick: age out' (git log -- path)" \
    expect_grep <(echo "$rm_subj") "^tick: age out "
first_merge=$(head -n 1 "$GN_RUN/merges.2")
br=${first_merge##*merge }
check "the merged branch $br exists and its tip is the merge's second parent" \
    expect_eq "$("${G[@]}" rev-parse -q --verify "refs/heads/$br" 2>&1)" \
    "$(echo "$first_merge" | awk '{ print $2 }')"
check "the expire_ branch's tip says 'tick: age out ...'" \
    expect_grep <("${G[@]}" log -1 --format=%s "refs/heads/$br" 2>&1) "^tick: age out "
check "the tick counter moved (state_ticks >= 1)" expect_ge "$(stat_get state_ticks)" 1

# --- 3. ticks racing with a stream of new flows lose nothing ----------------

stats_snapshot "$GN_RUN/st.3a"
gn_bg "$CLI" churn "${TOOL[@]}" churn "$SRV_IP:5000" 4.5 50
churn_pid=$GN_LAST_PID
KEEP_LPORT=45000
gn_bg "$CLI" keep "${TOOL[@]}" keep "$KEEP_LPORT" "$SRV_IP:5000" 4.5 100
keep_pid=$GN_LAST_PID
wait "$churn_pid" "$keep_pid" 2>/dev/null
# The router's view a moment after the churn (the ticks counted below are
# those that aged its first flows out); primary's as soon as the last group
# commit (at most commit_gap_ms, 1 s, after the previous one) holds the
# newest flows, which is before their 2 s timeout can age them out.
sleep 0.3
ctl nat >"$GN_RUN/nat.3"
stats_snapshot "$GN_RUN/st.3b"
nflows=$(wc -l <"$GN_RUN/churn.log")
tail -n 8 "$GN_RUN/churn.log" >"$GN_RUN/live.3"
newest_on_primary()
{
	local p
	primary_paths "$GN_RUN/paths.3"
	while read -r p; do
		grep -qx "nat/udp/192.168.1/2/$p" "$GN_RUN/paths.3" || return 1
	done <"$GN_RUN/live.3"
}
gn_wait 3 newest_on_primary || gn_log "primary lacks some of the newest flows after 3 s"
gn_log "churn opened $nflows flows; $(stat_delta state_ticks "$GN_RUN/st.3a" "$GN_RUN/st.3b") ticks meanwhile"
check "the churn made new flows (>= 60 in 4.5 s)" expect_ge "$nflows" 60
check "ticks ran during the churn (state_ticks grew by >= 2)" \
    expect_ge "$(stat_delta state_ticks "$GN_RUN/st.3a" "$GN_RUN/st.3b")" 2
# The dump's timeouts are whole seconds, and the router sweeps expired
# sessions out lazily, so "live" is decided by age: the last 8 flows were
# opened at most ~0.75 s before the dump, and with a 2 s timeout counted
# in whole seconds (at least 1 s left once made) no tick can have aged them
# out yet. Each must be in the dump and on primary.
missing_live()
{
	local p n=0 miss=0

	while read -r p; do
		n=$((n + 1))
		grep -q "^udp .* src=$CLI_IP dst=$SRV_IP sport=$p dport=5000 " "$GN_RUN/nat.3" ||
		    { echo "flow 192.168.1.2:$p not in the nat dump"; miss=$((miss + 1)); }
		grep -qx "nat/udp/192.168.1/2/$p" "$GN_RUN/paths.3" ||
		    { echo "live flow 192.168.1.2:$p not on primary"; miss=$((miss + 1)); }
	done <"$GN_RUN/live.3"
	echo "$n newest flows checked, $miss missing"
	[ "$n" -eq 8 ] && [ "$miss" -eq 0 ]
}
check "the newest flows are live in the nat dump and each has its entry on primary" \
    missing_live
# Every tick merge on primary, against its merge base: what primary's side
# added or changed since the branch point is in the merge (a tick removes
# only what it saw, as of its base). Logs how many merges had commits on
# primary's side at all (the writer may merge before committing more).
merge_invariants()
{
	local m p1 p2 b raced=0 n=0 bad=0

	while read -r m p1 p2; do
		n=$((n + 1))
		b=$("${G[@]}" merge-base "$p1" "$p2") || { echo "$m: no merge base"; bad=1; continue; }
		[ "$b" = "$p1" ] || raced=$((raced + 1))
		# path + blob lines on primary's side that the base does not have
		comm -13 <("${G[@]}" ls-tree -r "$b" | sort) <("${G[@]}" ls-tree -r "$p1" | sort) |
		    cut -f2 >"$GN_RUN/mi.side"
		"${G[@]}" ls-tree -r --name-only "$m" | sort >"$GN_RUN/mi.merged"
		if comm -23 <(sort -u "$GN_RUN/mi.side") "$GN_RUN/mi.merged" | grep .; then
			echo "^ added or refreshed on primary after $b, lost by merge $m"
			bad=1
		fi
	done < <("${G[@]}" log --merges --format='%H %P' primary)
	echo "$n merges checked; $raced had commits on primary after their branch point"
	[ "$n" -ge 2 ] && [ "$bad" -eq 0 ]
}
check "every tick merge keeps what primary added or refreshed after the branch point" \
    merge_invariants
gn_log "$(grep 'merges checked' "$GN_RUN/check.$GN_NCHECK.log")"
check "the long-lived flow (a datagram every 100 ms) is on primary" \
    expect_grep "$GN_RUN/paths.3" "^nat/udp/192\.168\.1/2/$KEEP_LPORT$"
check "and no tick ever removed it (lazy refresh kept its stored expiry ahead)" \
    expect_no_grep <("${G[@]}" log --format=%s primary -- "nat/udp/192.168.1/2/$KEEP_LPORT") "^tick: "
check "no events lost, no store errors (state_events_lost, state_errors)" \
    expect_eq "$(stat_get state_events_lost) $(stat_get state_errors)" "0 0"
check "git fsck --strict is clean after the churn" fsck_clean

# --- 4. a long-lived TCP connection survives TERM and KILL + restart -------

gn_bg "$SRV" echosrv socat "TCP-LISTEN:7000,bind=$SRV_IP,reuseaddr,fork" PIPE
gn_wait_listen 5 "$SRV" 7000 || gn_log "echo server in srv not listening"
ECHO_LPORT=42000
gn_bg "$CLI" echo "${TOOL[@]}" echo "$ECHO_LPORT" "$SRV_IP:7000" 16 100
echo_pid=$GN_LAST_PID
echoed() { awk '/^echoed/ { n = $2 } END { print n + 0 }' "$GN_RUN/echo.log"; }
echoed_ge() { [ "$(echoed)" -ge "$1" ]; }
gn_wait 5 echoed_ge 10 || gn_log "the echo client got fewer than 10 echoes"
ext0=$(srv_peer_port 7000)
gn_log "srv sees the echo client as $RTR_OUT_IP:${ext0:-?}"
sleep 0.3
check "the echo session is on primary with the port srv sees" \
    expect_eq "$(entry_get "nat/tcp/192.168.1/2/$ECHO_LPORT" external)" "$RTR_OUT_IP:${ext0:-unknown}"

for sig in TERM KILL; do
	n0=$(echoed)
	loaded0=$(grep -c 'state: loaded' "$GN_ROUTER_LOG")
	# (bash would report the KILLed job on stderr: expected here)
	{ gn_router_stop "$sig"; } 2>/dev/null
	gn_log "router stopped by SIG$sig (exit $GN_ROUTER_RC) at echo $n0"
	gn_router_start "${TIMEOUTS[@]}" || gn_die "router did not restart after SIG$sig"
	check "after SIG$sig the restarted router loaded its state" \
	    gn_wait 3 loaded_count_ge $((loaded0 + 1))
	check "after SIG$sig: state_restored_nat > 0" \
	    expect_ge "$(stat_get state_restored_nat)" 1
	check "after SIG$sig + restart, echoes resume (10 more within 5 s)" \
	    gn_wait 5 echoed_ge $((n0 + 10))
	check "after SIG$sig + restart, srv sees the same external port ${ext0:-?}" \
	    expect_eq "$(srv_peer_port 7000)" "${ext0:-unknown}"
	check "after SIG$sig + restart, the nat dump has the session on port ${ext0:-?}" \
	    expect_grep <(ctl nat) "^tcp .* ESTABLISHED src=$CLI_IP dst=$SRV_IP sport=$ECHO_LPORT dport=7000 src=$SRV_IP dst=$RTR_OUT_IP sport=7000 dport=${ext0:-unknown} "
done
wait "$echo_pid" 2>/dev/null
summary=$(grep '^done' "$GN_RUN/echo.log")
gn_log "echo client: ${summary:-no summary}"
check "the echo client saw no reset, EOF or wrong echo in 16 s" \
    expect_grep <(echo "$summary") " error NONE$"
check "the echo client got nearly every echo (>= 130 of ~160)" \
    expect_ge "$(echoed)" 130

# --- 5. SIGKILL at random moments under traffic ----------------------------

gn_bg "$CLI" flood ping -f -w 40 "$SRV_IP"
flood_pid=$GN_LAST_PID
gn_bg "$CLI" churn5 "${TOOL[@]}" churn "$SRV_IP:5000" 40 50
churn5_pid=$GN_LAST_PID
kills_ok=0
for i in $(seq 1 10); do
	ms=$((200 + RANDOM % 1300))
	sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
	# What is on primary now is durable (the ref moves after the fsync).
	snap=$("${G[@]}" rev-parse primary)
	"${G[@]}" ls-tree -r --name-only "$snap" >"$GN_RUN/snap.$i"
	kill -KILL "$GN_ROUTER_PID"
	wait "$GN_ROUTER_PID" 2>/dev/null
	GN_ROUTER_PID=
	bad=$GN_RUN/kill.$i.bad
	: >"$bad"
	fsck_clean >"$GN_RUN/fsck.$i" 2>&1 || { echo "fsck:"; cat "$GN_RUN/fsck.$i"; } >>"$bad"
	"${G[@]}" rev-parse -q --verify 'primary^{commit}' >/dev/null ||
	    echo "primary names no commit" >>"$bad"
	"${G[@]}" merge-base --is-ancestor "$snap" primary ||
	    echo "primary ($("${G[@]}" rev-parse primary)) does not descend from $snap" >>"$bad"
	primary_paths "$GN_RUN/after.$i"
	while read -r p; do
		grep -qxF "$p" "$GN_RUN/after.$i" && continue
		[ -n "$("${G[@]}" log --format=%h "$snap..primary" -- "$p")" ] ||
		    echo "$p vanished without a commit" >>"$bad"
	done <"$GN_RUN/snap.$i"
	before=$("${G[@]}" rev-parse primary)
	loaded0=$(grep -c 'state: loaded' "$GN_ROUTER_LOG")
	if ! gn_router_start "${TIMEOUTS[@]}"; then
		echo "the router did not restart" >>"$bad"
	elif ! gn_wait 3 loaded_count_ge $((loaded0 + 1)); then
		echo "no 'state: loaded' after the restart" >>"$bad"
	fi
	gn_wait 2 "${G[@]}" merge-base --is-ancestor "$before" primary ||
	    echo "after the restart primary does not descend from $before" >>"$bad"
	gn_log "kill $i after ${ms} ms: $(wc -l <"$GN_RUN/snap.$i") paths on primary; $(wc -l <"$bad") problems"
	if [ -s "$bad" ]; then
		sed 's/^/#   /' "$bad" | head -n 10
	else
		kills_ok=$((kills_ok + 1))
	fi
	gn_router_alive || break
done
check "10 SIGKILLs under traffic: fsck clean, primary a commit descending from the last durable one, nothing vanished, restart loads" \
    expect_eq "$kills_ok" 10
gn_kill "$flood_pid"
gn_kill "$churn5_pid"
sleep 0.3
check "the router still forwards after the last restart" \
    in_cli ping -c 2 -i 0.2 -W 2 "$SRV_IP"
check "no store errors since the last restart (state_errors)" \
    expect_eq "$(stat_get state_errors)" 0
gn_router_stop TERM
check "the router exits 0 on SIGTERM" expect_eq "$GN_ROUTER_RC" 0

# What expires while the router is down goes at its first tick after the
# restart. The churn's last flows (2 s timeout) expire during a 2.5 s stop.
# Prints how many NAT entries on primary expired before unix time $1.
expired_before()
{
	"${G[@]}" ls-tree -r --name-only primary | grep '^nat/' | sed 's/^/primary:/' |
	    "${G[@]}" cat-file --batch | awk -v t="$1" '$1 == "expires" && $2 + 0 < t + 0 { n++ }
		END { print n + 0 }'
}
sleep 2.5
stale=$(expired_before "$(date +%s.%N)")
gn_log "$stale NAT entries on primary expired while the router was down"
before=$("${G[@]}" rev-parse primary)
gn_router_start "${TIMEOUTS[@]}" || gn_die "router did not restart after the pause"
t_start=$(date +%s.%N)
no_stale() { [ "$(expired_before "$t_start")" -eq 0 ]; }
check "after a restart, the $stale entries that expired while down leave primary within 3 s" \
    sh -c "[ '$stale' -ge 1 ] && exit 0; echo 'nothing expired while down: the test did not test'; exit 1"
check "  (no entry on primary is past its expiry 3 s after the restart)" gn_wait 3 no_stale
check "  removed as a tick: 'tick: merge expire_...' follows the restart" \
    expect_grep <("${G[@]}" log --format=%s "$before..primary") "^tick: merge expire_"
gn_router_stop TERM
check "git fsck --strict is clean after the clean stop" fsck_clean

# --- 6. bad state directories: refused at start, left as they were --------

# Run the router against state dir $1 (rest: a command prefix, e.g. unshare),
# bounded; its output into $GN_RUN/bad.out, its exit status into BAD_RC.
bad_start()
{
	local dir=$1
	shift
	timeout 10 "$@" ip netns exec "$RTR" "$GN_ROUTER" \
	    --inside "$RTR_IN_DEV=$RTR_IN_IP/24" --outside "$RTR_OUT_DEV=$RTR_OUT_IP/24" \
	    --state "$dir" --control "$GN_RUN/bad.sock" "${TIMEOUTS[@]}" \
	    >"$GN_RUN/bad.out" 2>&1
	BAD_RC=$?
	# A router that did start is stopped here (its socket is the sign).
	[ -S "$GN_RUN/bad.sock" ] && rm -f "$GN_RUN/bad.sock"
}

# The refused start exited non-zero (not by timeout), with exactly one line
# that names directory $1 and matches reason $2.
refused()
{
	cat "$GN_RUN/bad.out"
	echo "exit status $BAD_RC"
	[ "$BAD_RC" -ne 0 ] && [ "$BAD_RC" -ne 124 ] &&
	    [ "$(wc -l <"$GN_RUN/bad.out")" -eq 1 ] &&
	    grep -F -- "$1" "$GN_RUN/bad.out" | grep -Eqi -- "$2"
}

# A listing of every file under $1 with its hash: equal listings, same bytes.
tree_sum() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }

# A bare git repository with a commit on main, and a git lock file left by
# a git command at work (a ref update in progress).
FOREIGN=$GN_RUN/foreign.git
git init -q --bare "$FOREIGN"
fblob=$(echo "not gitnet" | git --git-dir="$FOREIGN" hash-object -w --stdin)
ftree=$(printf '100644 blob %s\tREADME\n' "$fblob" | git --git-dir="$FOREIGN" mktree)
fcommit=$(GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@t GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@t \
    git --git-dir="$FOREIGN" commit-tree -m "someone else's history" "$ftree")
git --git-dir="$FOREIGN" update-ref refs/heads/main "$fcommit"
echo "$fcommit" >"$FOREIGN/refs/heads/main.lock"
(cd "$FOREIGN" && find . -type f | grep -v '\.lock$' | sort | xargs sha256sum) >"$GN_RUN/foreign.before"
bad_start "$FOREIGN"
check "a non-gitnet bare repository is refused with one line naming it" \
    refused "$FOREIGN" "not a gitnet store"
check "its history is untouched (refs/heads/main still $fcommit)" \
    expect_eq "$(git --git-dir="$FOREIGN" rev-parse main 2>&1)" "$fcommit"
check "its files (refs, objects, config) are byte for byte as they were" \
    diff "$GN_RUN/foreign.before" <(cd "$FOREIGN" && find . -type f | grep -v '\.lock$' | sort | xargs sha256sum)
check "git's own lock file in it (a ref update in progress) is left alone" \
    test -f "$FOREIGN/refs/heads/main.lock"

# The same with a branch named primary but no meta/schema.
git --git-dir="$FOREIGN" update-ref refs/heads/primary "$fcommit"
rm -f "$FOREIGN/refs/heads/main.lock"
bad_start "$FOREIGN"
check "a bare repository with a primary but no meta/schema is refused" \
    refused "$FOREIGN" "not a gitnet store"
check "its primary is untouched" \
    expect_eq "$(git --git-dir="$FOREIGN" rev-parse primary 2>&1)" "$fcommit"

# A gitnet-shaped repository of another schema version.
OTHER=$GN_RUN/other.git
git init -q --bare "$OTHER"
sblob=$(echo "gitnet-store 99" | git --git-dir="$OTHER" hash-object -w --stdin)
mtree=$(printf '100644 blob %s\tschema\n' "$sblob" | git --git-dir="$OTHER" mktree)
otree=$(printf '040000 tree %s\tmeta\n' "$mtree" | git --git-dir="$OTHER" mktree)
ocommit=$(GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@t GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@t \
    git --git-dir="$OTHER" commit-tree -m "a future schema" "$otree")
git --git-dir="$OTHER" update-ref refs/heads/primary "$ocommit"
bad_start "$OTHER"
check "a store of schema 'gitnet-store 99' is refused, naming the schema" \
    refused "$OTHER" "schema"
check "its primary is untouched" \
    expect_eq "$(git --git-dir="$OTHER" rev-parse primary 2>&1)" "$ocommit"

# An ordinary directory with files in it.
PLAIN=$GN_RUN/plain
mkdir -p "$PLAIN/sub" && echo data >"$PLAIN/notes.txt" && echo more >"$PLAIN/sub/f"
tree_sum "$PLAIN" >"$GN_RUN/plain.before"
bad_start "$PLAIN"
check "an ordinary directory with files is refused with one line naming it" \
    refused "$PLAIN" "not a git repository|not a gitnet"
check "its files are as they were, and nothing was added" \
    diff "$GN_RUN/plain.before" <(tree_sum "$PLAIN")

# A file where the directory should be.
AFILE=$GN_RUN/afile
echo "just a file" >"$AFILE"
bad_start "$AFILE"
check "a regular file as --state is refused with one line naming it" \
    refused "$AFILE" "not a (git )?(repository|directory)|not a gitnet"
check "the file is unchanged" expect_eq "$(cat "$AFILE")" "just a file"

# The real store, while a router owns it: the second router is refused.
gn_router_start "${TIMEOUTS[@]}" || gn_die "router did not start for the lock test"
head0=$("${G[@]}" rev-parse primary)
bad_start "$STATE"
check "a second router on a store in use is refused (locked, with the owner's pid)" \
    refused "$STATE" "locked.*$GN_ROUTER_PID"
check "and the first router is still running" gn_router_alive
gn_router_stop TERM

# Read-only: the real store copied onto a read-only tmpfs, and a store to be
# created there. The mount lives in a private mount namespace (unshare -m)
# for the router's run only, so nothing outlives it.
head0=$("${G[@]}" rev-parse primary)
RO=$GN_RUN/ro
mkdir -p "$RO"
ro_run()
{
	# $1: "copy" to put the store there first; the rest is bad_start's.
	local what=$1 dir=$2
	bad_start "$dir" unshare -m sh -c '
	    mount --make-rprivate / &&
	    mount -t tmpfs tmpfs "$1" &&
	    { [ "$2" != copy ] || cp -a "$3" "$1/state.git"; } &&
	    mount -o remount,ro "$1" &&
	    shift 3 && exec "$@"' sh "$RO" "$what" "$STATE"
}
ro_run copy "$RO/state.git"
check "a gitnet store on a read-only filesystem is refused with one line naming it" \
    refused "$RO/state.git" "read-only|permission|cannot|EROFS"
ro_run new "$RO/new.git"
check "a new store on a read-only filesystem is refused with one line naming it" \
    refused "$RO/new.git" "read-only|permission|cannot|EROFS"
check "the real store's primary never moved during the refused starts" \
    expect_eq "$("${G[@]}" rev-parse primary)" "$head0"

# A full filesystem: the store copied onto a small tmpfs that is then filled
# up. The router must either refuse to start with a clear message, or run
# with a counted, logged degradation (state_errors) while it keeps
# forwarding every packet.
FULL_CTL=$GN_RUN/full.sock
unshare -m sh -c '
    mount --make-rprivate / &&
    mount -t tmpfs -o size=4m tmpfs "$1" &&
    cp -a "$2" "$1/state.git" &&
    { dd if=/dev/zero of="$1/fill" bs=4k >/dev/null 2>&1; true; } &&
    shift 2 && exec "$@"' sh "$RO" "$STATE" \
    ip netns exec "$RTR" "$GN_ROUTER" \
    --inside "$RTR_IN_DEV=$RTR_IN_IP/24" --outside "$RTR_OUT_DEV=$RTR_OUT_IP/24" \
    --state "$RO/state.git" --control "$FULL_CTL" "${TIMEOUTS[@]}" \
    >"$GN_RUN/full.log" 2>&1 &
full_pid=$!
GN_BG_PIDS+=("$full_pid")
full_up() { [ -S "$FULL_CTL" ] || gn_gone "$full_pid"; }
gn_wait 10 full_up
full_stat()
{
	printf 'stats\n' | timeout 5 socat -t 3 - "UNIX-CONNECT:$FULL_CTL" |
	    awk -v k="$1" '$1 == k { print $2 }'
}
if gn_gone "$full_pid"; then
	wait "$full_pid"
	BAD_RC=$?
	cp "$GN_RUN/full.log" "$GN_RUN/bad.out"
	check "a store on a full filesystem is refused at start with one line naming it" \
	    refused "$RO/state.git" "no space|full"
else
	in_cli ping -c 5 -i 0.2 -W 2 "$SRV_IP" >"$GN_RUN/full.ping" 2>&1
	for p in 46001 46002 46003 46004; do
		in_cli $GN_UDPTOOL ask "$p" "$SRV_IP:5000" >/dev/null 2>&1
	done
	sleep 0.5
	check "on a full filesystem the router keeps forwarding (ping, no loss)" \
	    expect_grep "$GN_RUN/full.ping" " 5 received, 0% packet loss"
	check "on a full filesystem the store's failures are counted (state_errors >= 1)" \
	    expect_ge "$(full_stat state_errors)" 1
	check "and logged, naming the cause (No space left on device), not once per batch" \
	    sh -c "grep -i 'no space left' '$GN_RUN/full.log' && [ \$(grep -ci 'no space left' '$GN_RUN/full.log') -le 5 ]"
	# Space again (the tmpfs is in the router's mount namespace: nsenter):
	# the store catches up, with the changes made while it was full.
	in_full() { nsenter -t "$full_pid" -m "$@"; }
	full_flows()
	{
		local p
		for p in 46001 46002 46003 46004; do
			in_full git --git-dir="$RO/state.git" cat-file -e \
			    "primary:nat/udp/192.168.1/2/$p" || { echo "$p missing"; return 1; }
		done
	}
	c0=$(full_stat state_commits)
	in_full rm -f "$RO/fill"
	more_commits() { [ "$(full_stat state_commits)" -gt "${c0:-0}" ]; }
	check "with space again the store commits again (state_commits grows within 3 s)" \
	    gn_wait 3 more_commits
	# The commit counted above reaches the ref on disk a moment later (under
	# load, after the check above had already passed): wait for it.
	check "and primary then holds the flows made while the disk was full" \
	    gn_wait 5 full_flows
	check "and git fsck --strict is clean on it" \
	    in_full git --git-dir="$RO/state.git" fsck --strict --no-dangling
	kill -TERM "$full_pid"
	gn_wait 5 gn_gone "$full_pid" || kill -KILL "$full_pid"
	wait "$full_pid" 2>/dev/null
	gn_log "the router on a full filesystem exited with $? on SIGTERM"
fi
gn_log "full filesystem: $(grep -v 'router: \(started\|stopping\)' "$GN_RUN/full.log" | head -n 3 | tr '\n' '|')"

# The real store still opens, and keeps its history.
gn_router_start "${TIMEOUTS[@]}" || gn_die "router did not start on the real store at the end"
sleep 0.3
check "the real store opens again; primary descends from $head0" \
    "${G[@]}" merge-base --is-ancestor "$head0" primary
gn_router_stop TERM
check "git fsck --strict is clean at the end" fsck_clean

gn_summary

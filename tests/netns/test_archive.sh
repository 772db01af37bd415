#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
#
# The archive (--history-push), end to end against stock git: a router
# under UDP churn pushes its history to three remotes at once -- a real
# `git daemon --enable=receive-pack` on 127.0.0.1 in the router's namespace
# (git://), a plain path and a file:// URL -- each of which ends up holding
# primary whole (git log, git fsck --strict, gitnet --repo ... show); the
# state repository names them as git remotes with remote-tracking refs
# (git branch -r); with the daemon killed, forwarding goes on without a
# lost ping, the failures are counted (stats and metrics) and retried with
# a backoff that doubles, while the other two archives keep up; with the
# daemon back, the git:// archive catches up; after a restart the tracking
# refs say what each archive holds, and an archive no longer configured is
# forgotten (its tracking ref would pin history); an ssh:// archive (sshd
# in the router's namespace) is refused while its host key is unknown and
# filled once it is known; with the state repository cut by hand as
# retention cuts it (shallow at the archived commit, older objects repacked
# away), the router goes on and both archives take the new commits, whole
# and fsck-clean.
#
#	cli 192.168.1.2 -- rtr (gitnet-router, git daemon on 127.0.0.1) -- srv 203.0.113.2
#
# Runtime is about 45 s; every wait is bounded. GN_KEEP=1 keeps the run
# directory.
set -u -o pipefail
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"

gn_require router git socat curl "$GN_PY"
gn_init
cd "$GN_RUN" || exit 1
gn_topology
gn_udptool

GITNET=${GITNET:-$GN_ROOT/build/gitnet}
STATE=$GN_RUN/state
DPORT=9418		# the router's own namespace: nothing else listens there
MPORT=9750
ARCH=$GN_RUN/arch	# the daemon's base path
A0=$ARCH/a0.git
A1=$GN_RUN/a1.git
A2=$GN_RUN/a2.git
U0=git://127.0.0.1:$DPORT/a0.git
U1=$A1
U2=file://$A2
DAEMON_PID=

for a in "$A0" "$A1" "$A2"; do
	git init -q --bare "$a" || gn_die "git init $a"
done

daemon_start()
{
	# --reuseaddr: the port of the daemon killed before is free at once.
	gn_bg "$RTR" daemon git daemon --reuseaddr --listen=127.0.0.1 --port="$DPORT" \
	    --base-path="$ARCH" --export-all --enable=receive-pack --informative-errors
	DAEMON_PID=$GN_LAST_PID
	gn_wait 5 in_rtr git ls-remote "git://127.0.0.1:$DPORT/a0.git"
}

daemon_stop()
{
	gn_kill "$DAEMON_PID"
	DAEMON_PID=
}

# UDP churn: a new source port every 20 ms for $1 seconds (new NAT mappings,
# so group commits), to srv's echo server.
churn()
{
	in_cli "$GN_PY" - "$SRV_IP:7000" "$1" <<'PY'
import socket, sys, time
h, p = sys.argv[1].rsplit(":", 1)
end = time.time() + float(sys.argv[2])
socks = []
while time.time() < end:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b"churn", (h, int(p)))
    socks.append(s)
    if len(socks) > 200:
        socks.pop(0).close()
    time.sleep(0.02)
PY
}

head_of() { git --git-dir="$1" rev-parse -q --verify "${2:-primary}" 2>/dev/null; }
# Archive $1 holds the state's primary (and the tracking ref $2 says so).
caught_up()
{
	local h
	h=$(head_of "$STATE") || return 1
	[ "$(head_of "$1")" = "$h" ] && [ "$(head_of "$STATE" "refs/remotes/$2/primary")" = "$h" ]
}
all_caught_up() { caught_up "$A0" archive0 && caught_up "$A1" archive1 && caught_up "$A2" archive2; }
# Archive $1 holds the state's history up to its head, commit for commit
# (primary itself may have moved on meanwhile: ticks go on).
whole()
{
	local h
	h=$(head_of "$1") || return 1
	expect_eq "$(git --git-dir="$1" rev-list primary | sort | md5sum)" \
	    "$(git --git-dir="$STATE" rev-list "$h" | sort | md5sum)"
}
# stats' history_push0_commit is what archive 0 holds.
stat_is_a0() { [ "$(stat_get history_push0_commit)" = "$(head_of "$A0")" ]; }
scrape() { in_rtr curl -sS --max-time 5 "http://127.0.0.1:$MPORT/metrics"; }
metric() { scrape | awk -v k="$1" '$1 == k { print $2 }'; }

gn_bg "$SRV" srv "$GN_UDPTOOL" serve "0.0.0.0:7000" 120
daemon_start || gn_die "git daemon did not start"

check "the router starts with three --history-push URLs (git://, path, file://)" \
    gn_router_start --udp-timeout 2 --history-push "$U0" --history-push "$U1" \
    --history-push "$U2" --history-push-interval 1 --metrics "127.0.0.1:$MPORT" ||
    { gn_summary; exit 1; }
check "it logs each archive" sh -c "grep -c '^archive: pushing: remote=archive[0-2] url=' \
    '$GN_ROUTER_LOG' | grep -qx 3"

# 1. History arrives in every archive.
churn 4
check "every archive holds primary within 10 s of the churn's end" gn_wait 10 all_caught_up
for a in "$A0" "$A1" "$A2"; do
	n=$(basename "$a")
	check "$n: git log shows the router's commits" sh -c \
	    "[ \$(git --git-dir='$a' log --oneline primary | wc -l) -ge 5 ]"
	check "$n: git fsck --strict is clean" git --git-dir="$a" fsck --strict --no-progress
	check "$n: gitnet --repo reads it" sh -c "'$GITNET' --repo '$a' show primary >'$GN_RUN/$n.show' &&
	    grep -q '$CLI_IP' '$GN_RUN/$n.show'"
done
check "the archive has the whole history, commit for commit" whole "$A0"
check "stock git names the archives as remotes of the state repository" expect_eq \
    "$(git --git-dir="$STATE" branch -r | tr -d ' ' | paste -sd,)" \
    "archive0/primary,archive1/primary,archive2/primary"
check "... with their URLs" sh -c "git --git-dir='$STATE' remote -v | grep -q '^archive0	$U0 (push)'"
check "stats count the pushes" expect_ge "$(stat_get history_pushes)" 3
check "history_push_errors is 0" expect_eq "$(stat_get history_push_errors)" 0
check "history_push0_commit is what the archive holds" gn_wait 5 stat_is_a0
# Pushes go on (ticks): the metric lies between two reads of the stats.
p1=$(stat_get history_pushes)
pm=$(metric gitnet_history_pushes_total)
p2=$(stat_get history_pushes)
check "history_pushes is a metric with the stats value" sh -c \
    "echo '$p1 <= $pm <= $p2'; [ '$p1' -le '$pm' ] && [ '$pm' -le '$p2' ]"

# 2. The git daemon goes away: forwarding goes on, failures are counted and
# retried with backoff, the other archives keep up.
daemon_stop
stats_snapshot "$GN_RUN/s1"
gn_bg "$CLI" ping ping -c 80 -i 0.1 -W 1 "$SRV_IP"
PING_PID=$GN_LAST_PID
churn 8
wait "$PING_PID"
stats_snapshot "$GN_RUN/s2"
check "forwarding goes on: no ping lost while the archive is down" \
    expect_grep "$GN_RUN/ping.log" ' 0% packet loss'
errs=$(stat_delta history_push_errors "$GN_RUN/s1" "$GN_RUN/s2")
# Attempts at 0, 1, 3, 7 s (interval 1 s, doubling): 3 or 4 in 8 s, not 8.
check "the failures are counted, with backoff (2..5 in 8 s at a 1 s interval)" \
    sh -c "echo errors=$errs; [ $errs -ge 2 ] && [ $errs -le 5 ]"
check "history_push0_failures counts them in a row" expect_ge "$(stat_get history_push0_failures)" 2
check "the lag of the git:// archive grows" expect_ge "$(stat_get history_push0_lag_s)" 3
check "the failure is logged with its reason and the retry" expect_grep "$GN_ROUTER_LOG" \
    '^archive: push failed: remote=archive0 .*127\.0\.0\.1.*retrying in 1 s'
check "gitnet_history_push_errors_total follows" expect_ge \
    "$(metric gitnet_history_push_errors_total)" "$errs"
check "gitnet_history_push_failures{remote=archive0} is the stats value" expect_eq \
    "$(metric "gitnet_history_push_failures{remote=\"archive0\",url=\"$U0\"}")" \
    "$(stat_get history_push0_failures)"
check "the path and file:// archives keep up meanwhile" gn_wait 5 sh -c \
    "[ \"\$(git --git-dir='$A1' rev-parse primary)\" = \"\$(git --git-dir='$STATE' rev-parse primary)\" ] &&
     [ \"\$(git --git-dir='$A2' rev-parse primary)\" = \"\$(git --git-dir='$STATE' rev-parse primary)\" ]"
check "the router is still up" gn_router_alive

# 3. The daemon is back: the git:// archive catches up at its next retry.
daemon_start || gn_die "git daemon did not restart"
churn 1
check "the git:// archive catches up (next retry within 20 s)" gn_wait 20 all_caught_up
check "the recovery is logged" expect_grep "$GN_ROUTER_LOG" \
    '^archive: push ok again: remote=archive0 url=git://'
check "history_push0_failures is back to 0" expect_eq "$(stat_get history_push0_failures)" 0
check "a0: git fsck --strict is clean after the catch-up" \
    git --git-dir="$A0" fsck --strict --no-progress
check "a0: the whole history, commit for commit" whole "$A0"

# 4. Restart with two archives: the tracking refs are read back, and the
# third is forgotten. archive0's daemon stays down over the restart: the
# stop's last commit is not pushed yet, and a push made before stats are
# read would move history_push0_commit past what was read back.
gn_router_stop
tracked=$(head_of "$STATE" refs/remotes/archive0/primary)
daemon_stop
check "the router restarts with the first two archives" \
    gn_router_start --udp-timeout 2 --history-push "$U0" --history-push "$U1" \
    --history-push-interval 1
check "history_push0_commit is what the tracking ref said" expect_eq \
    "$(stat_get history_push0_commit)" "$tracked"
daemon_start || gn_die "git daemon did not restart"
check "archive2 is forgotten: no tracking ref, no remote" sh -c "
	! git --git-dir='$STATE' rev-parse -q --verify refs/remotes/archive2/primary &&
	! git --git-dir='$STATE' remote | grep -q archive2 &&
	grep -q '^archive: forgot remote archive2' '$GN_ROUTER_LOG'"
churn 2
check "the archives take the new commits" gn_wait 10 sh -c \
    "[ \"\$(git --git-dir='$A0' rev-parse primary)\" = \"\$(git --git-dir='$STATE' rev-parse primary)\" ]"

# 4b. ssh (when sshd is installed): a third archive over ssh://, first with
# the host key unknown (refused by libgit2 against ~/.ssh/known_hosts,
# counted, retried), then known: the archive is filled from the start.
if [ -x /usr/sbin/sshd ]; then
	gn_router_stop
	SSHD=$GN_RUN/sshd
	SSHHOME=$GN_RUN/home
	A3=$GN_RUN/a3.git
	U3=ssh://root@127.0.0.1:2222$A3
	mkdir -p "$SSHD" "$SSHHOME/.ssh" /run/sshd
	git init -q --bare "$A3"
	ssh-keygen -q -t ed25519 -N '' -f "$SSHD/host_ed25519" &&
	    ssh-keygen -q -t ed25519 -N '' -f "$SSHHOME/.ssh/id_ed25519" &&
	    cp "$SSHHOME/.ssh/id_ed25519.pub" "$SSHD/authorized_keys" ||
	    gn_die "ssh-keygen"
	cat >"$SSHD/config" <<-EOF
	Port 2222
	ListenAddress 127.0.0.1
	HostKey $SSHD/host_ed25519
	AuthorizedKeysFile $SSHD/authorized_keys
	StrictModes no
	PasswordAuthentication no
	KbdInteractiveAuthentication no
	UsePAM no
	PermitRootLogin prohibit-password
	PidFile $SSHD/pid
	EOF
	gn_bg "$RTR" sshd /usr/sbin/sshd -D -e -f "$SSHD/config"
	gn_wait 5 in_rtr bash -c "exec 3<>/dev/tcp/127.0.0.1/2222" ||
	    gn_log "sshd did not come up: $(cat "$GN_RUN/sshd.log")"
	GN_ROUTER_PREFIX="env -u SSH_AUTH_SOCK HOME=$SSHHOME"
	check "the router restarts with a third archive over ssh" \
	    gn_router_start --udp-timeout 2 --history-push "$U0" --history-push "$U1" \
	    --history-push "$U3" --history-push-interval 1
	GN_ROUTER_PREFIX=
	churn 1
	check "an unknown host key is refused, counted and logged" gn_wait 5 grep -q \
	    '^archive: push failed: remote=archive2 .*unknown remote ssh hostkey' "$GN_ROUTER_LOG"
	check "nothing reached the ssh archive" expect_eq "$(head_of "$A3")" ""
	echo "[127.0.0.1]:2222 $(cat "$SSHD/host_ed25519.pub")" >"$SSHHOME/.ssh/known_hosts"
	churn 1
	check "with the host key known, the ssh archive is filled (next retry)" gn_wait 15 sh -c \
	    "[ -n \"\$(git --git-dir='$A3' rev-parse -q --verify primary)\" ] &&
	     [ \"\$(git --git-dir='$A3' rev-parse primary)\" = \"\$(git --git-dir='$STATE' rev-parse refs/remotes/archive2/primary)\" ]"
	check "ssh archive: the whole history, fsck-clean" sh -c \
	    "git --git-dir='$A3' fsck --strict --no-progress && [ \$(git --git-dir='$A3' rev-list --max-parents=0 primary | wc -l) = 1 ]"
	check "ssh archive: commit for commit" whole "$A3"
	check "the recovery is logged" expect_grep "$GN_ROUTER_LOG" \
	    '^archive: push ok again: remote=archive2 url=ssh://'
else
	gn_log "skipped: ssh archive (no /usr/sbin/sshd; apt-get install openssh-server)"
fi

# 5. History cut by hand as retention cuts it: the boundary is what every
# archive holds ($GIT_DIR/shallow), everything behind it repacked away. The
# router goes on on the shallow repository and the pushes stay incremental.
gn_router_stop
check "the router stopped cleanly" expect_eq "$GN_ROUTER_RC" 0
# The oldest of what the archives hold (archive_pushed_oldest's answer).
boundary=$(git --git-dir="$STATE" merge-base --octopus \
    $(git --git-dir="$STATE" for-each-ref --format='%(refname)' 'refs/remotes/archive*/primary'))
cut()
{
	cd "$STATE" &&
	    echo "$boundary" >shallow &&
	    git --git-dir=. for-each-ref --format='%(refname)' refs/heads/ |
	    grep -v '^refs/heads/primary$' | xargs -r -n1 git --git-dir=. update-ref -d &&
	    git --git-dir=. repack -adq && git --git-dir=. prune --expire=now &&
	    ! git --git-dir=. cat-file -e "$boundary^" 2>/dev/null &&
	    git --git-dir=. fsck --strict --no-progress
}
check "the state repository is cut at the archived commit, fsck-clean" cut
cd "$GN_RUN" || exit 1
check "the router starts on the shallow repository" \
    gn_router_start --udp-timeout 2 --history-push "$U0" --history-push "$U1" \
    --history-push-interval 1
churn 2
check "both archives take the new commits from the shallow repository" gn_wait 10 sh -c \
    "h=\$(git --git-dir='$STATE' rev-parse primary) &&
     [ \"\$(git --git-dir='$A0' rev-parse primary)\" = \"\$h\" ] &&
     [ \"\$(git --git-dir='$A1' rev-parse primary)\" = \"\$h\" ]"
check "no push failed" expect_eq "$(stat_get history_push_errors)" 0
check "a0 is whole and fsck-clean: every commit back to the first" sh -c "
	git --git-dir='$A0' fsck --strict --no-progress &&
	[ \$(git --git-dir='$A0' rev-list --max-parents=0 primary | wc -l) = 1 ] &&
	git --git-dir='$A0' merge-base --is-ancestor '$tracked' primary"
gn_router_stop
check "the router stopped cleanly" expect_eq "$GN_ROUTER_RC" 0
check "the shallow state repository is fsck-clean" \
    git --git-dir="$STATE" fsck --strict --no-progress
gn_summary

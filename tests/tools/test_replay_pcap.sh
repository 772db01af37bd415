#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
#
# gitnet replay-pcap (and replay) against a repository the real router wrote:
# the router runs in the netns topology with --state while tcpdump captures
# the inside link (cli's veth-c); then, with the router stopped, the capture
# is replayed offline at the repository's first commit.
#
#	cli 192.168.1.2 -- rtr (gitnet-router --state) -- srv 203.0.113.2
#
# Checked: the replay's branch holds the same NAT mappings, with the same
# external ports, as primary; two runs give byte-identical output pcaps and
# the same commit ids, and so does the capture rewritten as a big-endian
# nanosecond pcap; replayed at primary (the server's ARP entry known),
# the output capture carries the datagrams translated to primary's external
# ports; the repository's lock is honoured while the router runs; corrupt
# captures (truncated header, bad magic, truncated record, wrong link type)
# exit 2 with one line naming the byte offset; `replay` re-applies a range
# of primary onto a branch at the first commit (every entry, trailers) and
# onto a replay branch (clashes reported, its values kept); git fsck stays
# clean.
#
# GN_TOOL=PATH runs another gitnet build. About 15 s.

set -u -o pipefail
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/../netns/lib.sh"

GN_TOOL=${GN_TOOL:-$GN_ROOT/build/gitnet}
gn_require router git tcpdump python3
[ -x "$GN_TOOL" ] || gn_die "no gitnet tool at $GN_TOOL (make)"
gn_init
cd "$GN_RUN" || exit 1
gn_topology
gn_udptool

STATE=$GN_RUN/state
G=(git --git-dir="$STATE")
T=("$GN_TOOL" --repo "$STATE")

# The inside link, from the client's side, for the whole run.
gn_bg "$CLI" tcpdump tcpdump -i "$CLI_DEV" -U -n -w "$GN_RUN/cap.pcap"
TCPDUMP_PID=$GN_LAST_PID
gn_wait 5 grep -q listening "$GN_RUN/tcpdump.log" || gn_die "tcpdump did not start"

gn_bg "$SRV" serve "$GN_UDPTOOL" serve "$SRV_IP:5300" "$SRV_IP:5301" 20
gn_router_start || gn_die "router did not start"
in_cli ping -c 2 -i 0.2 -W 1 "$SRV_IP" >/dev/null
in_cli "$GN_UDPTOOL" ask 40001 "$SRV_IP:5300" "$SRV_IP:5301" >"$GN_RUN/ask1.log"
in_cli "$GN_UDPTOOL" ask 40002 "$SRV_IP:5300" >"$GN_RUN/ask2.log"
in_cli "$GN_UDPTOOL" ask 40003 "$SRV_IP:5301" >"$GN_RUN/ask3.log"
sleep 0.5

# While the router holds the repository, replay-pcap must refuse.
locked()
{
	local rc
	"${T[@]}" replay-pcap "$GN_RUN/cap.pcap" --at primary --branch locked \
	    >"$GN_RUN/locked.out" 2>"$GN_RUN/locked.err"
	rc=$?
	cat "$GN_RUN/locked.err"
	[ "$rc" = 1 ] && [ "$(wc -l <"$GN_RUN/locked.err")" = 1 ] &&
	    grep -q "locked by another live process" "$GN_RUN/locked.err" &&
	    ! "${G[@]}" rev-parse -q --verify refs/heads/locked
}
check "replay-pcap refuses while the router holds the lock" locked

gn_router_stop
kill -INT "$TCPDUMP_PID" 2>/dev/null
gn_wait 5 gn_gone "$TCPDUMP_PID"

FIRST=$("${G[@]}" rev-list --reverse primary | head -n 1)

# "proto in_ip:port ext_port" per NAT entry of a revision.
nat_of()
{
	local rev=$1 path
	"${G[@]}" ls-tree -r --name-only "$rev" nat/ | while read -r path; do
		printf '%s %s\n' "$path" \
		    "$("${G[@]}" cat-file -p "$rev:$path" | awk '$1 == "external" { print $2 }')"
	done
}

check "the router recorded UDP and ICMP mappings" \
    expect_ge "$(nat_of primary | grep -c '^nat/udp/')" 3

run1() { "${T[@]}" replay-pcap "$GN_RUN/cap.pcap" --at "$FIRST" -o "$GN_RUN/out1.pcap" \
    --branch r1 >"$GN_RUN/r1.out" 2>&1; }
run2() { "${T[@]}" replay-pcap "$GN_RUN/cap.pcap" --at "$FIRST" -o "$GN_RUN/out2.pcap" \
    --branch r2 >"$GN_RUN/r2.out" 2>&1; }
check "replay-pcap at the first commit runs" run1
check "a second run succeeds" run2
sed 's/^/# /' "$GN_RUN/r1.out"
check "two runs write byte-identical output pcaps" cmp "$GN_RUN/out1.pcap" "$GN_RUN/out2.pcap"
check "two runs make the same commits" \
    expect_eq "$("${G[@]}" rev-parse r1)" "$("${G[@]}" rev-parse r2)"
check "the replay branch starts at the first commit" \
    "${G[@]}" merge-base --is-ancestor "$FIRST" r1
check "the replay made commits" expect_ge "$("${G[@]}" rev-list --count "$FIRST"..r1)" 1

nat_of primary | grep -v '^nat/icmp/' >"$GN_RUN/nat.primary"
nat_of r1 | grep -v '^nat/icmp/' >"$GN_RUN/nat.r1"
same_nat() { diff -u "$GN_RUN/nat.primary" "$GN_RUN/nat.r1"; }
check "the replay reproduces primary's UDP mappings and external ports" same_nat
icmp_same()
{
	expect_eq "$(nat_of r1 | grep -c '^nat/icmp/')" "$(nat_of primary | grep -c '^nat/icmp/')"
}
check "and as many ICMP mappings" icmp_same

# The same capture as a big-endian nanosecond pcap (magic 0xa1b23c4d written
# big-endian): the same replay, byte for byte.
"$GN_PY" - "$GN_RUN/cap.pcap" "$GN_RUN/ns.pcap" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read()
e = "<" if b[:4] == b"\xd4\xc3\xb2\xa1" else ">"
out = [struct.pack(">IHHiIII", 0xa1b23c4d, *struct.unpack(e + "HHiIII", b[4:24]))]
at = 24
while at < len(b):
    s, us, incl, orig = struct.unpack(e + "IIII", b[at:at + 16])
    out.append(struct.pack(">IIII", s, us * 1000 + 999, incl, orig))
    out.append(b[at + 16:at + 16 + incl])
    at += 16 + incl
open(sys.argv[2], "wb").write(b"".join(out))
PY
run_ns() { "${T[@]}" replay-pcap "$GN_RUN/ns.pcap" --at "$FIRST" -o "$GN_RUN/out_ns.pcap" \
    --branch rns >"$GN_RUN/rns.out" 2>&1; }
check "a big-endian nanosecond pcap replays" run_ns
check "to the same output and commits" \
    eval 'cmp "$GN_RUN/out1.pcap" "$GN_RUN/out_ns.pcap" &&
    expect_eq "$("${G[@]}" rev-parse rns)" "$("${G[@]}" rev-parse r1)"'

# At primary the server's MAC is known: translated datagrams go out.
run3() { "${T[@]}" replay-pcap "$GN_RUN/cap.pcap" --at primary -o "$GN_RUN/out3.pcap" \
    --branch r3 >"$GN_RUN/r3.out" 2>&1; }
check "replay-pcap at primary runs" run3
out_ports()
{
	local want got
	want=$(awk '{ sub(/.*:/, "", $2); print $2 }' "$GN_RUN/nat.primary" | sort -u | tr '\n' ' ')
	got=$(tcpdump -r "$GN_RUN/out3.pcap" -nn udp 2>/dev/null |
	    sed -nE 's/.* 203\.0\.113\.1\.([0-9]+) > 203\.0\.113\.2\.530[01]:.*/\1/p' |
	    sort -u | tr '\n' ' ')
	expect_eq "$got" "$want"
}
check "the output capture carries primary's external ports" out_ports

# Corrupt captures: exit 2, one line naming the byte offset.
corrupt()
{
	local name=$1 want=$2 rc
	"${T[@]}" replay-pcap "$GN_RUN/$name" --at "$FIRST" --branch "bad_$name" \
	    >/dev/null 2>"$GN_RUN/$name.err"
	rc=$?
	cat "$GN_RUN/$name.err"
	[ "$rc" = 2 ] && [ "$(wc -l <"$GN_RUN/$name.err")" = 1 ] &&
	    grep -q -- "$want" "$GN_RUN/$name.err" &&
	    ! "${G[@]}" rev-parse -q --verify "refs/heads/bad_$name"
}
head -c 10 "$GN_RUN/cap.pcap" >"$GN_RUN/short.pcap"
{ printf '\x0a\x0d\x0d\x0a'; tail -c +5 "$GN_RUN/cap.pcap"; } >"$GN_RUN/magic.pcap"
head -c 70 "$GN_RUN/cap.pcap" >"$GN_RUN/cut.pcap"
{ head -c 20 "$GN_RUN/cap.pcap"; printf '\x71\x00\x00\x00'; tail -c +25 "$GN_RUN/cap.pcap"; } \
    >"$GN_RUN/sll.pcap"
check "truncated header: exit 2 at byte offset 10" \
    corrupt short.pcap "truncated pcap header at byte offset 10"
check "bad magic: exit 2 at byte offset 0" corrupt magic.pcap "bad pcap magic 0x0a0d0d0a at byte offset 0"
check "truncated record: exit 2 at byte offset 40" \
    corrupt cut.pcap "truncated record data at byte offset 40"
check "link type 113: exit 2 at byte offset 20" corrupt sll.pcap "link type 113 at byte offset 20"
unknown()
{
	local err
	err=$("${T[@]}" replay-pcap "$GN_RUN/cap.pcap" --at nope 2>&1 >/dev/null)
	expect_eq "$err" "gitnet: replay-pcap: unknown revision 'nope'"
}
check "unknown revision: one line" unknown

# replay onto a branch with no changes of its own: everything applies, and
# the tables end up as primary's, entry for entry.
tables() { "${G[@]}" ls-tree -r "$1" arp/ nat/; }
replay_clean()
{
	"${G[@]}" branch clean "$FIRST" || return 1
	"${T[@]}" replay "$FIRST..primary" --onto clean >"$GN_RUN/replay1.out" 2>&1
	cat "$GN_RUN/replay1.out"
	grep -q ' 0 clashes$' "$GN_RUN/replay1.out" &&
	    [ "$(tables clean)" = "$(tables primary)" ] &&
	    [ "$("${G[@]}" rev-list --count "$FIRST"..clean)" -ge 1 ] &&
	    "${G[@]}" log -1 --format=%B clean |
	    grep -qx "Replayed-From: $("${G[@]}" rev-parse primary)" &&
	    "${G[@]}" log -1 --format=%s clean |
	    grep -qx "replay: $("${G[@]}" log -1 --format=%s primary)"
}
check "replay A..B onto an unchanged branch applies every entry, with trailers" replay_clean

# replay onto r2, whose replay-pcap commits set the same entries otherwise
# (other times): clashes, reported, and r2's values kept.
replay_clash()
{
	local before
	before=$("${G[@]}" ls-tree -r r2 nat/udp/)
	"${T[@]}" replay "$FIRST..primary" --onto r2 >"$GN_RUN/replay2.out" 2>&1 || return 1
	cat "$GN_RUN/replay2.out"
	grep -q '^  clash nat/udp/192.168.1/2/40001: ' "$GN_RUN/replay2.out" &&
	    grep -Eq ' [1-9][0-9]* clashes$' "$GN_RUN/replay2.out" &&
	    [ "$("${G[@]}" ls-tree -r r2 nat/udp/)" = "$before" ]
}
check "replay onto a branch that changed the entries reports clashes, keeps its values" \
    replay_clash
bad_range()
{
	local err
	err=$("${T[@]}" replay "nope..primary" --onto clean 2>&1 >/dev/null)
	expect_eq "$err" "gitnet: replay: unknown revision 'nope..primary'"
}
check "replay: unknown revision, one line" bad_range
check "git fsck --strict is clean" "${G[@]}" fsck --strict --no-progress

gn_summary

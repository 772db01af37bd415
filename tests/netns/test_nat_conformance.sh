#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
#
# gitnet-router's NAT behaviour classified by tools nobody here wrote, then
# compared with Linux nftables masquerade on the same topology:
# - coturn's turnutils_natdiscovery (RFC 5780 tests) against turnserver on
#   srv's two addresses: endpoint-independent mapping, and the filtering the
#   router was told to do (address-port, address, endpoint);
# - the RFC 3489 client `stun` against `stund`: port-restricted cone,
#   restricted cone, full cone for the same three modes;
# - the same UDP, TCP and ICMP flows through gitnet and through the kernel
#   (nft masquerade), their translations compared where the RFCs leave no
#   freedom (external address, endpoint-independent mapping, no port shared by
#   two inside endpoints, the conntrack -L line of a flow), and what the
#   kernel does differently by design printed as `# note:` lines.
#
#	cli 192.168.1.2, cli2 192.168.1.3 -- lan bridge -- rtr -- srv 203.0.113.2
#	and 203.0.113.3
#
# Debian packages beyond the other netns tests: coturn, stun-client,
# stun-server, conntrack. Runtime about 25 s, every wait bounded (lib.sh).

# shellcheck disable=SC2016,SC2119 # jq programs in single quotes; gn_router_stop takes an optional signal
set -u -o pipefail
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"

# The tools' Debian packages, named when one is missing.
missing=
for t in turnserver:coturn turnutils_natdiscovery:coturn stun:stun-client \
    stund:stun-server conntrack:conntrack nft:nftables; do
	command -v "${t%%:*}" >/dev/null 2>&1 || missing="$missing ${t#*:}"
done
[ -z "$missing" ] ||
    gn_die "missing Debian package(s):$(echo "$missing" | tr ' ' '\n' | sort -u | tr '\n' ' ')(apt-get install them, or make deps)"
gn_require router socat jq tcpdump ethtool
gn_init
cd "$GN_RUN" || exit 1
gn_topology_lan
gn_udptool

# natdiscovery TAG: turnserver in srv on both addresses (no auth, no CLI, no
# TLS, log to stdout, its database and pid file in the run directory), then
# `turnutils_natdiscovery -m -f` from cli; the report in $GN_RUN/nd.TAG.
natdiscovery()
{
	local tag=$1 tpid

	gn_bg "$SRV" "turn.$tag" timeout 40 turnserver -n --no-cli --no-tls --no-dtls \
	    -z -L "$SRV_IP" -L "$SRV_IP2" -m 1 --log-file stdout --simple-log \
	    --userdb "$GN_RUN/turndb" --pidfile "$GN_RUN/turn.pid" \
	    --no-software-attribute
	tpid=$GN_LAST_PID
	gn_wait 10 sh -c "ip netns exec '$SRV' ss -Huln | grep -q '$SRV_IP2:3479'" ||
	    gn_log "turnserver not listening on $SRV_IP2:3479 after 10 s"
	in_cli timeout 30 turnutils_natdiscovery -m -f "$SRV_IP" >"$GN_RUN/nd.$tag" 2>&1
	gn_kill "$tpid"
}

# The mapping and filtering natdiscovery reported ("Endpoint Independent" ...).
nd_mapping() { sed -n 's/^NAT with \(.*\) Mapping!$/\1/p' "$GN_RUN/nd.$1" | head -n 1; }
nd_filtering() { sed -n 's/^NAT with \(.*\) Filtering!$/\1/p' "$GN_RUN/nd.$1" | head -n 1; }

# stunclass TAG: stund in srv on both addresses, `stun` from cli; the
# classification line ("Primary: ...") in STUN_CLASS.
stunclass()
{
	local tag=$1 spid

	gn_bg "$SRV" "stund.$tag" timeout 40 stund -h "$SRV_IP" -a "$SRV_IP2"
	spid=$GN_LAST_PID
	gn_wait 10 sh -c "ip netns exec '$SRV' ss -Huln | grep -q '$SRV_IP2:3479'" ||
	    gn_log "stund not listening on $SRV_IP2:3479 after 10 s"
	in_cli timeout 30 stun "$SRV_IP" >"$GN_RUN/stun.$tag" 2>&1
	gn_kill "$spid"
	STUN_CLASS=$(sed -n 's/^Primary: \(.*\)$/\1/p' "$GN_RUN/stun.$tag" | sed 's/[[:space:]]*$//')
}

# classify TAG WANT_FILTERING WANT_STUN CONE: run both tools against the
# router as it is and check what they report.
classify()
{
	local tag=$1 want_f=$2 want_s=$3 cone=$4

	natdiscovery "$tag"
	check "natdiscovery ($tag): endpoint-independent mapping" \
	    expect_eq "$(nd_mapping "$tag")" "Endpoint Independent"
	check "natdiscovery ($tag): $want_f filtering" \
	    expect_eq "$(nd_filtering "$tag")" "$want_f"
	stunclass "$tag"
	check "stun ($tag): $cone ($want_s)" \
	    expect_eq "$STUN_CLASS" "$want_s"
}

# translations TAG: the same flows through whatever NATs rtr now; what srv
# saw in $GN_RUN/tr.TAG.* files.
translations()
{
	local tag=$1 spid tpid cpid

	gn_bg "$SRV" "usrv.$tag" "$GN_UDPTOOL" serve "$SRV_IP:5000" "$SRV_IP:5002" \
	    "$SRV_IP2:5000" 10
	spid=$GN_LAST_PID
	gn_bg "$SRV" "tsrv.$tag" "$GN_UDPTOOL" tserve "$SRV_IP:8081" 10
	tpid=$GN_LAST_PID
	gn_wait_listen 5 "$SRV" 5000 udp
	gn_wait_listen 5 "$SRV" 8081 tcp
	# UDP: one inside socket, three remotes (two ports of one address, and
	# the other address); then cli2 from the same port to the first remote.
	in_cli "$GN_UDPTOOL" ask 41000 "$SRV_IP:5000" "$SRV_IP:5002" "$SRV_IP2:5000" \
	    >"$GN_RUN/tr.$tag.udp" 2>&1
	in_cli2 "$GN_UDPTOOL" ask 41000 "$SRV_IP:5000" >"$GN_RUN/tr.$tag.udp2" 2>&1
	# TCP from a fixed port.
	in_cli "$GN_UDPTOOL" task 41100 "$SRV_IP:8081" >"$GN_RUN/tr.$tag.tcp" 2>&1
	# ICMP echo with identifier 4242, as srv sees it.
	gn_bg "$SRV" "icmp.$tag" timeout 5 tcpdump -i "$SRV_DEV" -n -l -p -c 1 \
	    "icmp[icmptype] = icmp-echo"
	cpid=$GN_LAST_PID
	gn_wait 5 grep -q "listening on" "$GN_RUN/icmp.$tag.log"
	in_cli ping -c 1 -W 2 -e 4242 "$SRV_IP" >"$GN_RUN/tr.$tag.ping" 2>&1
	wait "$cpid" 2>/dev/null
	gn_kill "$spid"
	gn_kill "$tpid"
}

# What srv saw of one flow: field 3 of "DST seen IP:PORT" for remote $2.
seen() { awk -v d="$2" '$1 == d && $2 == "seen" { print $3; exit }' "$GN_RUN/tr.$1.$3"; }
# The echo request srv captured: "SRC id N".
echo_seen()
{
	sed -n 's/.* IP \([0-9.]*\) > .*ICMP echo request, id \([0-9]*\),.*/\1 id \2/p' \
	    "$GN_RUN/icmp.$1.log" | head -n 1
}
# A conntrack-shaped line with its timeout, state flags and padding
# normalised: "udp 17 T src=... mark=0 use=1".
ct_norm()
{
	sed -E 's/ +/ /g; s/^(tcp|udp|icmp) ([0-9]+) [0-9]+ /\1 \2 T /;
	    s/ \[(UNREPLIED|ASSURED)\]//g'
}

# --- gitnet-router, the three filtering modes ------------------------------
# A state directory per mode: the router restores its NAT table from there.

gn_router_start || gn_die "router did not start"
classify gitnet-apdf "Address and Port Dependent" \
    "Independent Mapping, Port Dependent Filter, preserves ports, will hairpin" \
    "port-restricted cone"
translations gitnet
ctl nat >"$GN_RUN/nat.gitnet"
gn_router_stop

gn_router_start --state "$GN_RUN/state.adf" --nat-filtering address || gn_die "router did not start (address)"
classify gitnet-adf "Address Dependent" \
    "Independent Mapping, Address Dependent Filter, preserves ports, will hairpin" \
    "restricted cone"
gn_router_stop

gn_router_start --state "$GN_RUN/state.eif" --nat-filtering endpoint || gn_die "router did not start (endpoint)"
classify gitnet-eif "Endpoint Independent" \
    "Independent Mapping, Independent Filter, preserves ports, will hairpin" \
    "full cone"
gn_router_stop

# --- the kernel: nftables masquerade in rtr ---------------------------------

gn_kernel_nat || gn_die "nft masquerade in rtr failed"
in_rtr conntrack -F >/dev/null 2>&1
natdiscovery kernel
stunclass kernel
echo "# note: kernel masquerade per natdiscovery: $(nd_mapping kernel) mapping, $(nd_filtering kernel) filtering"
echo "# note: kernel masquerade per stun: $STUN_CLASS"
in_rtr conntrack -F >/dev/null 2>&1
translations kernel
in_rtr conntrack -L >"$GN_RUN/nat.kernel" 2>/dev/null
gn_kernel_nat_off

# --- the translations, side by side -----------------------------------------

for t in gitnet kernel; do
	gn_log "$t: udp $(tr '\n' ';' <"$GN_RUN/tr.$t.udp") cli2 $(tr '\n' ';' <"$GN_RUN/tr.$t.udp2")"
	gn_log "$t: tcp $(cat "$GN_RUN/tr.$t.tcp"); icmp $(echo_seen "$t")"
done
g1=$(seen gitnet "$SRV_IP:5000" udp) k1=$(seen kernel "$SRV_IP:5000" udp)
g2=$(seen gitnet "$SRV_IP:5002" udp) k2=$(seen kernel "$SRV_IP:5002" udp)
g3=$(seen gitnet "$SRV_IP2:5000" udp) k3=$(seen kernel "$SRV_IP2:5000" udp)
gc=$(seen gitnet "$SRV_IP:5000" udp2) kc=$(seen kernel "$SRV_IP:5000" udp2)
gt=$(seen gitnet "$SRV_IP:8081" tcp) kt=$(seen kernel "$SRV_IP:8081" tcp)

check "udp: srv sees the external address 203.0.113.1 through both (gitnet $g1, kernel $k1)" \
    expect_eq "${g1%:*} ${k1%:*}" "$RTR_OUT_IP $RTR_OUT_IP"
check "tcp: srv sees the external address 203.0.113.1 through both (gitnet $gt, kernel $kt)" \
    expect_eq "${gt%:*} ${kt%:*}" "$RTR_OUT_IP $RTR_OUT_IP"
check "icmp: srv sees echo requests from 203.0.113.1 through both" \
    expect_eq "$(echo_seen gitnet | cut -d' ' -f1) $(echo_seen kernel | cut -d' ' -f1)" \
    "$RTR_OUT_IP $RTR_OUT_IP"
check "udp: gitnet preserves the free port 41000 (port preservation)" \
    expect_eq "$g1" "$RTR_OUT_IP:41000"
if [ "$k1" = "$RTR_OUT_IP:41000" ]; then
	check "udp: the kernel preserves the free port 41000 too" expect_eq "$k1" "$g1"
else
	echo "# note: the kernel did not preserve port 41000 (got $k1)"
fi
check "tcp: gitnet preserves the free port 41100 (port preservation)" \
    expect_eq "$gt" "$RTR_OUT_IP:41100"
if [ "$kt" = "$RTR_OUT_IP:41100" ]; then
	check "tcp: the kernel preserves the free port 41100 too" expect_eq "$kt" "$gt"
else
	echo "# note: the kernel did not preserve port 41100 (got $kt)"
fi
check "udp: gitnet maps endpoint-independently: one external endpoint for 3 remotes (RFC 4787 REQ-1)" \
    expect_eq "$g1 $g2 $g3" "$g1 $g1 $g1"
if [ "$k1 $k2 $k3" = "$k1 $k1 $k1" ]; then
	check "udp: the kernel kept one external endpoint for the 3 remotes too" \
	    expect_eq "$k1 $k2 $k3" "$g1 $g2 $g3"
else
	echo "# note: the kernel used $k1 $k2 $k3 for the 3 remotes (not EIM)"
fi
check "udp: cli2 from the same port gets another external port through gitnet ($gc)" \
    expect_eq "$([ -n "$gc" ] && [ "$gc" != "$g1" ] && [ "${gc%:*}" = "$RTR_OUT_IP" ] && echo distinct)" distinct
check "udp: and through the kernel ($kc): no port overloading in either (RFC 4787 REQ-3)" \
    expect_eq "$([ -n "$kc" ] && [ "$kc" != "$k1" ] && [ "${kc%:*}" = "$RTR_OUT_IP" ] && echo distinct)" distinct
check "udp: gitnet's replacement port keeps the parity of 41000 (RFC 4787 REQ-4)" \
    expect_eq "$(( ${gc##*:} % 2 ))" 0
[ -n "$kc" ] && [ $(( ${kc##*:} % 2 )) -ne 0 ] &&
    echo "# note: the kernel's replacement port ${kc##*:} does not keep parity (it need not)"
ge=$(echo_seen gitnet | cut -d' ' -f3) ke=$(echo_seen kernel | cut -d' ' -f3)
if [ "$ke" = 4242 ]; then
	check "icmp: echo id 4242 kept by both when free (gitnet $ge, kernel $ke)" \
	    expect_eq "$ge" "$ke"
else
	echo "# note: icmp echo id: gitnet $ge, kernel $ke"
fi

# The conntrack line of each flow: identical once timeouts and the
# [UNREPLIED]/[ASSURED] flags (kept differently by design) are set aside.
for flow in "udp|sport=41000 dport=5000 " "tcp|sport=41100 dport=8081 " \
    "icmp|type=8 code=0 id=4242 "; do
	gl=$(grep -E -- "^${flow%%|*} .* ${flow#*|}" "$GN_RUN/nat.gitnet" |
	    grep -F "src=$CLI_IP " | ct_norm | sort)
	kl=$(grep -E -- "^${flow%%|*} .* ${flow#*|}" "$GN_RUN/nat.kernel" |
	    grep -F "src=$CLI_IP " | ct_norm | sort)
	check "nat line = conntrack -L line for ${flow%%|*} ${flow#*|}(timeout, flags aside)" \
	    sh -c 'echo "gitnet: $1"; echo "kernel: $2"; [ -n "$1" ] && [ "$1" = "$2" ]' - "$gl" "$kl"
done
gn_log "gitnet: $(grep -F 'sport=41100' "$GN_RUN/nat.gitnet")"
gn_log "kernel: $(grep -F 'sport=41100' "$GN_RUN/nat.kernel")"

gn_summary

#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# The Debian package and make install, as an operator meets them: `make deb`
# builds gitnet_VERSION_ARCH.deb (dpkg-buildpackage -us -uc -b), lintian
# finds no error in it, `apt-get install ./gitnet_*.deb` installs it on this
# machine, the installed binaries print the changelog's version and their
# help, the manual pages hold every flag the help text lists, the unit passes
# `systemd-analyze verify` with a sandbox exposure systemd rates OK, is not
# enabled, bash completion completes, and the installed router forwards a
# ping with no capability but CAP_NET_RAW and CAP_NET_ADMIN (the unit's
# bounding set). Then make install with PREFIX and DESTDIR. The package is
# purged at the end unless it was installed before the test.
set -u
. "$(dirname "$0")/../netns/lib.sh"

gn_require dpkg-buildpackage lintian apt-get help2man systemd-analyze setpriv man ping
gn_init
cd "$GN_ROOT" || exit 1

VERSION=$(sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' debian/changelog)
ARCH=$(dpkg --print-architecture)
DEB=$GN_RUN/b/deb/gitnet_${VERSION}_$ARCH.deb
was_installed=$(dpkg-query -W -f='${Status}' gitnet 2>/dev/null | grep -c 'ok installed')
apt_opts=(-y -q -o DPkg::Lock::Timeout=300)

purge_if_ours()
{
	[ "$was_installed" = 0 ] && dpkg-query -W gitnet >/dev/null 2>&1 &&
	    DEBIAN_FRONTEND=noninteractive apt-get purge "${apt_opts[@]}" gitnet >/dev/null 2>&1
	gn_cleanup
}
trap purge_if_ours EXIT

build()
{
	make -s deb B="$GN_RUN/b" >"$GN_RUN/deb-build.log" 2>&1 || { tail -30 "$GN_RUN/deb-build.log"; return 1; }
	ls "$GN_RUN/b/deb"
	[ -f "$DEB" ]
}
t0=$(date +%s)
check "make deb builds gitnet_${VERSION}_$ARCH.deb" build || { gn_summary; exit 1; }
gn_log "package built in $(( $(date +%s) - t0 )) s"
check "the package's version is debian/changelog's" \
    expect_eq "$(dpkg-deb -f "$DEB" Package) $(dpkg-deb -f "$DEB" Version)" "gitnet $VERSION"
check "the source tree is left clean (no debian/ build output)" \
    expect_eq "$(git status --porcelain --ignored debian | tr '\n' ' ')" ""
check "lintian --fail-on error passes" lintian --fail-on error "$DEB"

install_deb()
{
	DEBIAN_FRONTEND=noninteractive apt-get install "${apt_opts[@]}" --reinstall "$DEB"
}
check "apt-get install ./gitnet_*.deb" install_deb || { gn_summary; exit 1; }

files=(/usr/sbin/gitnet-router /usr/bin/gitnet /etc/gitnet/router.conf
    /lib/systemd/system/gitnet-router.service
    /usr/share/man/man8/gitnet-router.8.gz /usr/share/man/man1/gitnet.1.gz
    /usr/share/bash-completion/completions/gitnet
    /usr/share/bash-completion/completions/gitnet-router
    /usr/share/doc/gitnet/copyright)
has_files()
{
	local f
	for f in "${files[@]}"; do
		dpkg -S "$f" >/dev/null || { echo "$f is not the package's"; return 1; }
		[ -e "$f" ] || { echo "$f missing"; return 1; }
	done
}
check "the package installed its files" has_files
check "/etc/gitnet/router.conf is a conffile, the example config" \
    sh -c "dpkg-query -W -f='\${Conffiles}' gitnet | grep -q ' /etc/gitnet/router.conf ' &&
	cmp /etc/gitnet/router.conf examples/router.conf"
check "gitnet-router --version prints the changelog's version" \
    expect_eq "$(/usr/sbin/gitnet-router --version)" "gitnet-router $VERSION"
check "gitnet --version prints it too" \
    expect_eq "$(/usr/bin/gitnet --version | awk '{ print $1, $2 }')" "gitnet $VERSION"
check "gitnet-router --help exits 0" sh -c '/usr/sbin/gitnet-router --help | grep -q -- --metrics'
check "gitnet --help lists the commands" sh -c '/usr/bin/gitnet --help | grep -q "^  log "'
check "the installed gitnet reads a repository" sh -c \
    "/usr/sbin/gitnet-router --version >/dev/null && /usr/bin/gitnet --repo /nonexistent log; [ \$? = 2 ]"

# Every flag of the help text is in the page: the page comes from it.
page_has_flags()
{
	local bin=$1 page=$2 f text
	text=$(MANWIDTH=200 man -l "$page" 2>/dev/null) || return 1
	for f in $("$bin" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
		grep -q -- "$f" <<<"$text" || { echo "$page lacks $f"; return 1; }
	done
	echo "$(wc -l <<<"$text") lines"
}
check "gitnet-router(8) holds every flag of --help" \
    page_has_flags /usr/sbin/gitnet-router /usr/share/man/man8/gitnet-router.8.gz
check "gitnet(1) holds every command's --help" sh -c \
    "MANWIDTH=200 man -l /usr/share/man/man1/gitnet.1.gz | grep -q 'gitnet \[--repo DIR\] log' &&
	man -w gitnet-router >/dev/null && man -w gitnet >/dev/null"

unit=/lib/systemd/system/gitnet-router.service
check "systemd-analyze verify passes on the unit" sh -c \
    "systemd-analyze verify $unit 2>&1 | tee /dev/stderr | grep -q gitnet && exit 1; systemd-analyze verify $unit"
exposure()
{
	local line
	line=$(systemd-analyze security --offline=true "$unit" 2>&1 | grep 'Overall exposure')
	echo "$line"
	# systemd rates <= 3.9 as OK (and below as SAFE)
	awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^[0-9.]+$/) v = $i } END { exit !(v <= 3.9) }' <<<"$line"
}
check "the unit's sandbox exposure is OK (systemd-analyze security)" exposure
check "the unit has the sandbox the issue names" sh -c "grep -qx 'CapabilityBoundingSet=CAP_NET_RAW CAP_NET_ADMIN' $unit &&
	grep -qx 'ProtectSystem=strict' $unit && grep -qx 'StateDirectory=gitnet' $unit &&
	grep -qx 'ProtectHome=yes' $unit && grep -qx 'NoNewPrivileges=yes' $unit &&
	grep -qx 'PrivateTmp=yes' $unit && grep -qx 'Restart=on-failure' $unit &&
	grep -q '^ExecStart=/usr/sbin/gitnet-router --config /etc/gitnet/router.conf' $unit &&
	grep -q '^ExecReload=/bin/kill -HUP' $unit"
check "the unit is not enabled by the install" \
    expect_one_of "$(systemctl is-enabled gitnet-router.service 2>/dev/null)" disabled

complete_words()
{
	bash -c 'source /usr/share/bash-completion/bash_completion
		source /usr/share/bash-completion/completions/$1; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
		$(complete -p "$1" | sed "s/.*-F \([^ ]*\) .*/\1/") "$1" "${@: -1}" "${@: -2:1}"
		printf "%s\n" "${COMPREPLY[@]}"' _ "$@"
}
check "bash completion: gitnet sh<TAB> gives show" \
    expect_eq "$(complete_words gitnet gitnet sh)" "show"
check "bash completion: gitnet log --j<TAB> gives --json" \
    expect_eq "$(complete_words gitnet gitnet log --j)" "--json"
check "bash completion: gitnet-router --met<TAB> gives --metrics" \
    expect_eq "$(complete_words gitnet-router gitnet-router --met)" "--metrics"

# The installed router, with the unit's capability set and nothing else.
gn_topology
GN_ROUTER=/usr/sbin/gitnet-router
GN_ROUTER_PREFIX="setpriv --inh-caps=-all --bounding-set=-all,+net_raw,+net_admin --no-new-privs"
check "the installed router starts with only CAP_NET_RAW and CAP_NET_ADMIN" gn_router_start
check "its capabilities are those two" sh -c \
    "grep CapEff /proc/$GN_ROUTER_PID/status | grep -qx 'CapEff:[[:space:]]*0000000000003000'"
check "and it forwards a ping" in_cli ping -c 2 -W 2 "$SRV_IP"
gn_router_stop

# make install by hand: PREFIX and DESTDIR, and an existing config stays.
dest=$GN_RUN/dest
mkdir -p "$dest/etc/gitnet" && echo '# mine' >"$dest/etc/gitnet/router.conf"
check "make install PREFIX=/opt/gitnet DESTDIR=..." \
    make -s install PREFIX=/opt/gitnet DESTDIR="$dest"
check "it installs under the prefix" sh -c "cd '$dest' && ls opt/gitnet/sbin/gitnet-router opt/gitnet/bin/gitnet \
	opt/gitnet/share/man/man8/gitnet-router.8 opt/gitnet/share/man/man1/gitnet.1 \
	opt/gitnet/share/bash-completion/completions/gitnet opt/gitnet/lib/systemd/system/gitnet-router.service"
check "its unit runs the prefix's binary" \
    grep -qx 'ExecStart=/opt/gitnet/sbin/gitnet-router --config /etc/gitnet/router.conf' \
    "$dest/opt/gitnet/lib/systemd/system/gitnet-router.service"
check "it leaves an existing /etc/gitnet/router.conf alone" \
    expect_eq "$(cat "$dest/etc/gitnet/router.conf")" "# mine"

gn_summary

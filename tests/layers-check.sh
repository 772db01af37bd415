#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# store/ is layers without circles (store/objects.h lists them): each file
# belongs to one layer, includes its own layer's header and nothing above,
# and -- read from the built objects with nm -- calls nothing defined in a
# layer above its own. <git2.h> is included under store/ only, and store.h
# exports no libgit2 type.
#
#   tests/layers-check.sh        (after make: reads build/libstore.a)
#
# Prints `N passed, N failed` last, as the netns tests do (make test runs it).
set -u
cd "$(dirname "$0")/.." || exit 2
LIB=${LIB:-build/libstore.a}

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok - $1"; }
notok() { failed=$((failed + 1)); echo "not ok - $1"; }

# The table in objects.h's comment: "<tab>header<tab>file.c file.c ...".
declare -A layer_of hdr_layer
n=0
while read -r hdr files; do
	n=$((n + 1))
	hdr_layer[$hdr]=$n
	for f in $files; do
		layer_of[${f%.c}]=$n
	done
done < <(sed -n '/^ \* The layers,/,/^ \* odb_impl.h/p' store/objects.h |
	awk -F'\t+' '/^ \*\t[a-z]+\.h\t/ { print $2, $3 }')
if [ "$n" -eq 6 ]; then
	ok "objects.h lists 6 layers"
else
	notok "objects.h lists $n layers, not 6: its table cannot be read"
fi

# Every source file has a layer; it includes only headers of its layer or
# below (its own layer's header, odb_impl.h inside layer 1, store.h, netfn).
for c in store/*.c; do
	b=$(basename "$c" .c)
	l=${layer_of[$b]:-}
	if [ -z "$l" ]; then
		notok "$c is in no layer of objects.h's table"
		continue
	fi
	bad=
	while read -r inc; do
		case $inc in
		store.h | netfn/*) continue ;;
		odb_impl.h) [ "$l" -eq 1 ] || bad="$bad $inc" ;;
		*) hl=${hdr_layer[$inc]:-99}; [ "$hl" -le "$l" ] || bad="$bad $inc" ;;
		esac
	done < <(sed -n 's/^#include "\(.*\)"/\1/p' "$c")
	if [ -z "$bad" ]; then
		ok "$c (layer $l) includes nothing above it"
	else
		notok "$c (layer $l) includes a header above its layer:$bad"
	fi
done

# Each layer's header includes the one below it, and nothing else of store/.
prev=
for h in $(for k in "${!hdr_layer[@]}"; do echo "${hdr_layer[$k]} $k"; done | sort -n |
    awk '{ print $2 }'); do
	incs=$(sed -n 's/^#include "\(.*\)"/\1/p' "store/$h" | tr '\n' ' ')
	want=${prev:-store.h}
	if [ "$incs" = "$want " ]; then
		ok "store/$h includes $want only"
	else
		notok "store/$h includes '$incs', not '$want' alone"
	fi
	prev=$h
done

# Calls: no object refers to a symbol defined in a layer above its own.
if [ -f "$LIB" ]; then
	defs=$(nm -A -g --defined-only "$LIB" 2>/dev/null |
	    awk '$2 ~ /^[TDBR]$/ { split($1, a, ":"); sub(/\.o$/, "", a[2]); print $3, a[2] }')
	up=$(nm -A -u "$LIB" 2>/dev/null | awk '{ split($1, a, ":"); sub(/\.o$/, "", a[2]);
	    print $NF, a[2] }' | sort | join - <(echo "$defs" | sort) |
	    while read -r sym user owner; do
		[ "${layer_of[$owner]:-0}" -gt "${layer_of[$user]:-0}" ] &&
		    echo "$user -> $owner ($sym)"
	    done)
	if [ -z "$up" ]; then
		ok "$LIB: no call goes up a layer"
	else
		notok "$LIB: calls up a layer: $(echo "$up" | tr '\n' ';')"
	fi
else
	notok "no $LIB: run make first"
fi

# libgit2 stays inside store/.
outside=$(grep -rln '#include <git2' src tools netfn guest 2>/dev/null)
if [ -z "$outside" ]; then
	ok "<git2.h> is included under store/ only"
else
	notok "<git2.h> is included outside store/: $outside"
fi
if sed 's|/\*.*\*/||; /^ *\*/d; /^\/\*/d' store/store.h | grep -qE '\bgit_[a-z_]+\b|<git2'; then
	notok "store.h names a libgit2 type"
else
	ok "store.h exports no libgit2 type"
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]

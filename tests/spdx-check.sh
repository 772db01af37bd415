#!/usr/bin/env bash
# Every source file names its licence with an SPDX line (LICENSE: ISC):
#   C (.c, .h)                 /* SPDX-License-Identifier: ISC */   line 1
#   shell, python, Makefile,   # SPDX-License-Identifier: ISC       line 1,
#   debian/rules, the unit,                                          or 2 after
#   bash completion                                                  a #! line
# Source files are the git-tracked files of those kinds (shebang scripts
# without an extension included); configs, docs and data are not.
#
#   tests/spdx-check.sh          check: list the files without it, exit 1
#   tests/spdx-check.sh --fix    add the line where it is missing (idempotent)
#
# Prints `N passed, N failed` last, as the netns tests do (make test runs it).
set -u
cd "$(dirname "$0")/.." || exit 2
fix=${1:-}
tag='SPDX-License-Identifier: ISC'

kind()	# kind FILE: c, hash or nothing
{
	case $1 in
	*.c | *.h) echo c ;;
	*.sh | *.py | *.bash | Makefile | */Makefile | debian/rules) echo hash ;;
	dist/bash-completion/* | *.service.in) echo hash ;;
	*.*) ;;
	*) head -c 2 "$1" 2>/dev/null | grep -q '^#!' && echo hash ;;
	esac
}

passed=0 failed=0
while IFS= read -r -d '' f; do
	[ -f "$f" ] || continue		# deleted in the work tree
	k=$(kind "$f")
	[ -n "$k" ] || continue
	if head -n 3 "$f" | grep -q "$tag"; then
		passed=$((passed + 1))
		continue
	fi
	if [ "$fix" = --fix ]; then
		if [ ! -s "$f" ] && [ "$k" = c ]; then
			echo "/* $tag */" >"$f"
		elif [ ! -s "$f" ]; then
			echo "# $tag" >"$f"
		elif [ "$k" = c ]; then
			sed -i "1i /* $tag */" "$f"
		elif head -n 1 "$f" | grep -q '^#!'; then
			sed -i "1a # $tag" "$f"
		else
			sed -i "1i # $tag" "$f"
		fi
		echo "added: $f"
		passed=$((passed + 1))
	else
		echo "not ok - $f has no '$tag' line in its first three"
		failed=$((failed + 1))
	fi
done < <(git ls-files -z)
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]

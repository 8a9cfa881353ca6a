#!/usr/bin/env bash
# The user-visible text must stand on its own: README.md, docs/ and every
# subcommand's --help may not send the reader to material outside the
# repository (the developers' ../shared/ notes), and a file that speaks of
# "seed 000" or "seed 004" (the two design documents the model follows) must
# point to docs/background.md, which says what they are.
#   check-self-contained.sh SOURCE_DIR TDXMMU_BINARY
set -u
src=$1 bin=$2
fail=0

if grep -rn -- '\.\./shared\|/work/shared' "$src/README.md" "$src/docs"; then
	echo "check-self-contained: the lines above point outside the repository" >&2
	fail=1
fi
for f in "$src/README.md" "$src"/docs/*.md; do
	[ "$(basename "$f")" = background.md ] && continue
	if grep -qi 'seed 00[04]' "$f" && ! grep -q 'background\.md' "$f"; then
		echo "check-self-contained: $f names a seed without pointing to docs/background.md" >&2
		fail=1
	fi
done
for cmd in $("$bin" --help | sed -n 's/^  \([a-z-]*\) .*/\1/p'); do
	help=$("$bin" "$cmd" --help 2>&1)
	if grep -ni -- 'shared/\|seed 00[04]\|seeds' <<<"$help"; then
		echo "check-self-contained: 'tdxmmu $cmd --help' leans on text the user does not have (above)" >&2
		fail=1
	fi
done
exit $fail

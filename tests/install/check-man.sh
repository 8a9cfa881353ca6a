#!/usr/bin/env bash
# The man pages' sources against what they describe, so that neither drifts:
#   docs/man/tdxmmu.1.scd has a section for every command `tdxmmu --help`
#   lists and names every option each `tdxmmu CMD --help` lists;
#   docs/man/tdxmmu-scenario.5.scd has every command of the language's
#   tables, every option key, SEAMCALL, status, S-EPT state and outcome of
#   docs/scenario-language.md.
# Reads the .scd sources, so it runs with or without scdoc.
set -euo pipefail
bin=$1 src=$2
bad=0
missing() { echo "check-man: $1 does not mention: $2" >&2; bad=1; }
# The scdoc text without its markup: *bold*, _underline_ (an escaped \_ is
# a character), ++ line breaks.
plain() { sed -E 's/\\_/\x01/g; s/[*_]//g; s/\x01/_/g; s/\\(.)/\1/g; s/\+\+$//' "$1"; }

page1=$src/docs/man/tdxmmu.1.scd
text1=$(plain "$page1")
cmds=$("$bin" --help | awk '/^commands:/ { on = 1; next } on && /^ *$/ { exit } on { print $1 }')
[ -n "$cmds" ] || { echo "check-man: no commands in 'tdxmmu --help'" >&2; exit 1; }
for c in $cmds; do
	grep -qx "## $c" "$page1" || missing tdxmmu.1 "a section '## $c'"
	for o in $("$bin" "$c" --help | sed -nE 's/^[[:space:]]+(--[a-z][a-z0-9-]*).*/\1/p'); do
		grep -qE -- "(^|[^a-z-])$o([^a-z-]|$)" <<<"$text1" || missing tdxmmu.1 "$c $o"
	done
done

page5=$src/docs/man/tdxmmu-scenario.5.scd
doc=$src/docs/scenario-language.md
text5=$(plain "$page5" | tr -s ' \t\n' ' ')
# Each table row's command, up to its first optional part.
while IFS= read -r row; do
	grep -qF -- "$row" <<<"$text5" || missing tdxmmu-scenario.5 "$row"
done < <(grep -oE '^\| `[^`]*`' "$doc" | sed -E 's/^\| `//; s/`$//; s/\\\|/|/g; s/ \[.*//; s/ \.\.\.$//')
for w in $(grep -oE '`[a-z-]+=' "$doc" | tr -d '`' | sort -u) \
	 $(grep -v 'did you mean' "$doc" | grep -oE 'TDH\.[A-Z.]*[A-Z]|TDX_[A-Z_]*[A-Z]' | sort -u) \
	 FREE MAPPED PENDING BLOCKED PENDING_BLOCKED NL_MAPPED NL_BLOCKED REMOVED \
	 $(grep -oE '^- `[a-z]+`:' "$doc" | tr -d '`:-' | sort -u); do
	grep -qE -- "(^|[^A-Za-z_.-])$w" <<<"$text5" || missing tdxmmu-scenario.5 "$w"
done
exit $bad

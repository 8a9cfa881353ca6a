#!/usr/bin/env bash
# check-completion.sh COMPLETION BINDIR: the bash completion script, sourced
# as bash-completion would, answers for the tdxmmu in BINDIR: subcommands,
# options, option values (--mmu=, --mutant= from --list-mutants), bench's
# workloads and *.tds files.
set -uo pipefail
comp=$1 bindir=$2
PATH=$bindir:$PATH
# shellcheck source=/dev/null
source "$comp" || { echo "check-completion: cannot source $comp" >&2; exit 1; }
complete -p tdxmmu >/dev/null || { echo "check-completion: no 'complete' for tdxmmu" >&2; exit 1; }
COMP_WORDBREAKS=$' \t\n"\'><=;|&(:'
bad=0

# What the completion offers for the line typed so far (cursor at its end),
# sorted, space-separated.
answer()
{
	COMP_LINE=$1
	COMP_POINT=${#1}
	_tdxmmu tdxmmu 2>/dev/null
	printf '%s\n' "${COMPREPLY[@]}" | sort | paste -sd ' ' -
}
expect()
{
	local got
	got=$(answer "$1")
	if [ "$got" != "$2" ]; then
		echo "check-completion: '$1<TAB>' gives '$got', expected '$2'" >&2
		bad=1
	fi
}

cmds=$(tdxmmu --help | awk '/^commands:/ { on = 1; next } on && /^ *$/ { exit } on { print $1 }' | sort | paste -sd ' ' -)
for c in run explore bench version; do
	case " $cmds " in *" $c "*) ;; *) echo "check-completion: 'tdxmmu --help' lists '$cmds'" >&2; exit 1 ;; esac
done
expect "tdxmmu " "$cmds"
expect "tdxmmu ex" "explore"
expect "tdxmmu --he" "--help"
expect "tdxmmu run --q" "--quiet"
expect "tdxmmu explore --mu" "--mutant="
expect "tdxmmu explore --list" "--list-mutants"
# bash splits "--mutant=no-f" at '=': the answers are what follows it.
expect "tdxmmu explore --mutant=no-f" "no-freeze"
expect "tdxmmu explore --mutant=" "$(tdxmmu explore --list-mutants | awk '{ print $1 }' | sort | paste -sd ' ' -)"
expect "tdxmmu explore --cpu=a" "any auto"
expect "tdxmmu explore --mutant no-f" "no-freeze"
expect "tdxmmu bench --alias " "private shared"
expect "tdxmmu bench --mmu=" "legacy tdp"
expect "tdxmmu bench " "compare convert fault populate zap"
expect "tdxmmu bench --vcpus=2 f" "fault"
expect "tdxmmu bench fault " ""
expect "tdxmmu bench --vcpus 2 --cost TD.EXIT=5 z" "zap"
expect "tdxmmu version " ""

# Files: *.tds and directories for run and explore; *.json after --merge
# and bench compare;
# any file after --cost-file.
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir" || exit 1
mkdir sub && touch a.tds b.txt c.json
expect "tdxmmu run " "a.tds sub"
expect "tdxmmu explore --preemptions=1 " "a.tds sub"
expect "tdxmmu explore --merge " "c.json sub"
expect "tdxmmu bench --cost-file " "a.tds b.txt c.json sub"
expect "tdxmmu bench --cost " ""
expect "tdxmmu bench compare " "c.json sub"
expect "tdxmmu bench compare c.json " "c.json sub"
exit $bad

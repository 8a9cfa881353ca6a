#!/usr/bin/env bash
# check-install-deps.sh SCRIPT: install-deps.sh where there is no apt-get or
# dpkg. A PATH of its own holds only the commands the script uses and those
# it looks for, so the script takes its no-apt path: with everything there it
# says so and exits 0; with a pkg-config module or a command missing it
# installs nothing, names each missing one with its Debian package, and
# exits 1; without scdoc (optional) it says the man pages will be skipped and
# goes on.
set -uo pipefail
script=$1
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
fail() { echo "check-install-deps: $*" >&2; exit 1; }
for c in bash cat sed grep awk id cc make cmake ninja pkg-config valgrind scdoc dot; do
	p=$(command -v "$c") || { echo "check-install-deps: no $c on this machine: not checked"; exit 0; }
	ln -s "$p" "$bin/$c"
done
run() { env -i HOME="$HOME" PATH="$bin" "$@" "$bin/bash" "$script" 2>&1; }

out=$(run) || fail "everything present, yet it failed:"$'\n'"$out"
grep -q "no apt-get/dpkg here; found what the build needs" <<<"$out" || fail "no summary: $out"
grep -q "liburcu-memb" <<<"$out" || fail "the summary does not name the pkg-config modules: $out"

# No pkg-config modules at all: every library is named, with its package.
out=$(run PKG_CONFIG_LIBDIR=/nonexistent PKG_CONFIG_PATH=) && fail "modules missing, yet it succeeded: $out"
for m in "cmocka .*libcmocka-dev" "liburcu-memb .*liburcu-dev" "jansson .*libjansson-dev" "nettle .*nettle-dev"; do
	grep -q "pkg-config module *$m" <<<"$out" || fail "does not name $m: $out"
done
grep -q "command *cmake" <<<"$out" && fail "names cmake, which is there: $out"

# A command missing; scdoc missing is only a note.
rm "$bin/valgrind" "$bin/scdoc"
out=$(run) && fail "valgrind missing, yet it succeeded: $out"
grep -q "command *valgrind .*(Debian package valgrind)" <<<"$out" || fail "does not name valgrind: $out"
grep -q "no scdoc command.*man pages will not be built" <<<"$out" || fail "says nothing about scdoc: $out"
ln -s "$(command -v valgrind)" "$bin/valgrind"
out=$(run) || fail "only scdoc missing, yet it failed: $out"
echo "install-deps.sh without apt: ok"

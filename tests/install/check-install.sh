#!/usr/bin/env bash
# check-install.sh BUILD SRC [MAN]: installs the build tree into a temporary
# prefix with `cmake --install`, then checks what a user of that prefix gets:
#   - bin/tdxmmu starts with no LD_LIBRARY_PATH (its RUNPATH is
#     $ORIGIN-relative) and uses the prefix's library;
#   - a program builds against the prefix with pkg-config alone, and with
#     CMake's find_package(tdxmmu CONFIG) + tdxmmu::tdxmmu, and both run;
#   - the man pages are installed and render (MAN=ON: the build had scdoc);
#   - the bash completion is installed, parses and answers.
set -euo pipefail
build=$1 src=$2 man=${3:-ON}
here=$(cd "$(dirname "$0")" && pwd)
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
fail() { echo "check-install: $*" >&2; exit 1; }
cmake --install "$build" --prefix "$prefix" >/dev/null
unset LD_LIBRARY_PATH

# The program, by itself.
bin=$prefix/bin/tdxmmu
# (Whole outputs, then grep: `cmd | grep -q` under pipefail fails when grep
# stops reading early.)
rpath=$(readelf -d "$bin" | grep -E '\((RUNPATH|RPATH)\)' || true)
grep -qF '$ORIGIN/' <<<"$rpath" ||
	fail "$bin has no \$ORIGIN-relative RUNPATH: ${rpath:-none}"
libs=$(ldd "$bin")
grep -q "libtdxmmu.so.* => $prefix/" <<<"$libs" ||
	fail "$bin does not load the prefix's libtdxmmu: $libs"
out=$("$bin" version) || fail "$bin version failed: $out"
[[ $out == "tdxmmu "[0-9]* ]] || fail "$bin version printed '$out'"
version=${out#tdxmmu }
echo "installed: $out"

# pkg-config alone. (The .pc gives no RUNPATH, so the consumer needs the
# library path.)
pc=$(dirname "$(find "$prefix" -name tdxmmu.pc -print -quit)")
export PKG_CONFIG_PATH=$pc
cc -std=c17 -Wall -Werror "$src" $(pkg-config --cflags --libs tdxmmu) -o "$prefix/consumer"
libdir=$(pkg-config --variable=libdir tdxmmu)
LD_LIBRARY_PATH=$libdir "$prefix/consumer" || fail "the pkg-config consumer failed"

# The CMake package: find_package(tdxmmu <this version> CONFIG) from the
# prefix, the imported target, nothing else.
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
cmake -S "$here/cmake-consumer" -B "$prefix/cmake-consumer" "${gen[@]}" \
	-DCMAKE_PREFIX_PATH="$prefix" -DTDXMMU_VERSION="$version" >"$prefix/cmake.log" 2>&1 ||
	{ cat "$prefix/cmake.log" >&2; fail "the CMake consumer does not configure"; }
grep -q "tdxmmu_DIR=$prefix/" "$prefix/cmake.log" ||
	{ cat "$prefix/cmake.log" >&2; fail "find_package(tdxmmu) found a package outside the prefix"; }
cmake --build "$prefix/cmake-consumer" >"$prefix/build.log" 2>&1 ||
	{ cat "$prefix/build.log" >&2; fail "the CMake consumer does not build"; }
"$prefix/cmake-consumer/consumer" || fail "the CMake consumer failed"
# A version the package does not satisfy is refused (0.x: another minor).
IFS=. read -r major minor _ <<<"$version"
if cmake -S "$here/cmake-consumer" -B "$prefix/cmake-consumer-bad" \
	-DCMAKE_PREFIX_PATH="$prefix" -DTDXMMU_VERSION="$major.$((minor + 1))" >/dev/null 2>&1; then
	fail "find_package(tdxmmu $major.$((minor + 1))) accepted version $version"
fi

# The man pages.
if [ "$man" = ON ]; then
	for page in man1/tdxmmu.1 man5/tdxmmu-scenario.5; do
		f=$prefix/share/man/$page
		name=$(basename "$page")
		[ -s "$f" ] || fail "$f is not installed or empty"
		grep -qE "^\.TH \"?${name%.*}\"? \"?${name##*.}\"?" "$f" ||
			fail "$f is not a troff man page for ${name%.*}(${name##*.})"
		if command -v man >/dev/null; then
			# man-db's own lint: groff's warnings go to standard error.
			warn=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 \
				-l -Tutf8 -Z "$f" 2>&1 >/dev/null) || fail "man -l $f failed: $warn"
			[ -z "$warn" ] || fail "man -l $f warns: $warn"
			text=$(MANWIDTH=80 man -l "$f" 2>/dev/null | sed 's/.\x08//g')
			grep -q "^NAME" <<<"$text" || fail "man -l $f renders no NAME section"
		fi
	done
	echo "man pages: installed$(command -v man >/dev/null && echo ', render without warnings')"
else
	echo "man pages: not built (no scdoc when the build was configured), not checked"
fi

# The bash completion.
comp=$prefix/share/bash-completion/completions/tdxmmu
[ -s "$comp" ] || fail "$comp is not installed"
bash -n "$comp" || fail "bash -n $comp failed"
bash "$here/check-completion.sh" "$comp" "$prefix/bin" || fail "the completion does not answer"
echo "completion: installed, answers"

#!/usr/bin/env bash
# Installs the Debian 12 packages tdxmmu needs to build and test, only the
# missing ones, so `make demo` and `make test` work on a fresh machine.
#
# Without apt and dpkg (another distribution, a container without them) it
# installs nothing: it checks for the commands and pkg-config modules the
# packages provide, names what is missing (with the Debian package names, to
# translate to the local ones) and goes on when everything is there.
set -euo pipefail

# One line per package: the Debian package, then what it provides that the
# build uses (cmd:NAME, a command; pc:NAME, a pkg-config module; h:PATH, a
# header the C compiler must find, e.g. h:sys/sdt.h), then why.
PKGS=(
	"gcc            cmd:cc            the compiler"
	"make           cmd:make          the README's front end (Makefile)"
	"cmake          cmd:cmake         the build (3.22 or later)"
	"ninja-build    cmd:ninja         the build"
	"pkg-config     cmd:pkg-config    finds the libraries below"
	"libcmocka-dev  pc:cmocka         unit tests"
	"liburcu-dev    pc:liburcu-memb   RCU-deferred freeing of page-table pages"
	"libjansson-dev pc:jansson        JSON output"
	"nettle-dev     pc:nettle         SHA-384 for the TD measurement (MRTD)"
	"libgraphviz-dev pc:libgvc        tdxmmu show --format=svg: Graphviz's layout library"
	"graphviz       cmd:dot           a test checks that show's DOT is what Graphviz's own program accepts"
	"systemtap-sdt-dev h:sys/sdt.h    a USDT probe per trace event (docs/tracing.md); the build leaves the probes out without it"
	"valgrind       cmd:valgrind      make test's memcheck pass"
	"scdoc          cmd:scdoc         the man pages (docs/man/*.scd); the build skips them without it"
)
# Extras for one make target each.
case "${1:-}" in
--bench) PKGS+=("gnuplot-nox    cmd:gnuplot       make bench's plots") ;;
--coverage) PKGS+=("gcovr          cmd:gcovr         make coverage's line and branch report") ;;
# make fuzz: libFuzzer is clang's, and its runtime (with ASan's and UBSan's)
# is in libclang-rt-dev, which clang only recommends.
--fuzz) PKGS+=("clang          cmd:clang         make fuzz's compiler (libFuzzer)"
	       "libclang-rt-dev h:sanitizer/common_interface_defs.h  libFuzzer's and the sanitizers' runtime") ;;
esac

if command -v dpkg-query >/dev/null && command -v apt-get >/dev/null; then
	missing=()
	for line in "${PKGS[@]}"; do
		read -r p _ <<<"$line"
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && exit 0

	SUDO=""
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null || { echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
		SUDO=sudo
	fi
	echo "install-deps: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -qq
	$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
	exit 0
fi
# `make fuzz` only: libFuzzer is clang's, and its runtime (with ASan's and
# UBSan's) is in libclang-rt-dev, which clang only recommends.
if [ "${1:-}" = "--fuzz" ]; then
	PKGS+=(clang libclang-rt-dev)
fi

# No apt: check what the packages provide.
have_pc=1
command -v pkg-config >/dev/null || have_pc=0
missing=()
needed=()
for line in "${PKGS[@]}"; do
	read -r p what why <<<"$line"
	needed+=("${what#*:}")
	case $what in
	cmd:*) command -v "${what#cmd:}" >/dev/null && continue ;;
	pc:*) [ $have_pc = 1 ] && pkg-config --exists "${what#pc:}" && continue ;;
	h:*) printf '#include <%s>\n' "${what#h:}" | cc -E -x c - >/dev/null 2>&1 && continue ;;
	*) continue ;;
	esac
	# scdoc is optional: the build says it skips the man pages.
	if [ "$p" = scdoc ]; then
		echo "install-deps: note: no scdoc command (Debian: scdoc): the man pages will not be built" >&2
		continue
	fi
	case $what in
	pc:*) kind="pkg-config module" ;;
	h:*) kind="C header" ;;
	*) kind="command" ;;
	esac
	missing+=("$(printf '  %-17s %-14s (Debian package %s): %s' "$kind" "${what#*:}" "$p" "$why")")
done
if [ ${#missing[@]} -ne 0 ]; then
	{
		echo "install-deps: no apt-get/dpkg here, so nothing is installed; missing:"
		printf '%s\n' "${missing[@]}"
		echo "Install them with the system's package manager, then run make again."
	} >&2
	exit 1
fi
echo "install-deps: no apt-get/dpkg here; found what the build needs (${needed[*]})" >&2
exit 0

#!/usr/bin/env bash
# Installs the Debian 12 packages tdxmmu needs to build and test, only the
# missing ones, so `make demo` and `make test` work on a fresh machine.
set -euo pipefail

PKGS=(
	gcc make cmake ninja-build pkg-config
	libcmocka-dev   # unit tests
	liburcu-dev     # RCU-deferred freeing of page-table pages
	libjansson-dev  # JSON output
	nettle-dev      # SHA-384 for the TD measurement (MRTD)
	valgrind
)
# `make bench` only: the plots.
if [ "${1:-}" = "--bench" ]; then
	PKGS+=(gnuplot-nox)
fi
# `make fuzz` only: libFuzzer is clang's, and its runtime (with ASan's and
# UBSan's) is in libclang-rt-dev, which clang only recommends.
if [ "${1:-}" = "--fuzz" ]; then
	PKGS+=(clang libclang-rt-dev)
fi

missing=()
for p in "${PKGS[@]}"; do
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

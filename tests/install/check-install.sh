#!/usr/bin/env bash
# Installs the build tree into a temporary prefix with `cmake --install`, then
# builds a program against it with pkg-config alone and runs it: the public
# header, the shared library and tdxmmu.pc must be enough.
set -euo pipefail
build=$1 src=$2
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
pc=$(dirname "$(find "$prefix" -name tdxmmu.pc | head -n1)")
export PKG_CONFIG_PATH=$pc
cc -std=c17 -Wall -Werror "$src" $(pkg-config --cflags --libs tdxmmu) -o "$prefix/consumer"
libdir=$(pkg-config --variable=libdir tdxmmu)
LD_LIBRARY_PATH=$libdir "$prefix/consumer"

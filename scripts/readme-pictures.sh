#!/bin/sh
# Regenerates the README's pictures (docs/img/conversion-*.svg): the three
# page tables of examples/conversion.tds around its first MapGPA, drawn by
# `tdxmmu show`. Run after a change to show's drawing or to the example.
#   scripts/readme-pictures.sh [BUILD_DIR]
set -eu
T=${1:-build}/tdxmmu
# Before line 18 (vcpu 0 mapgpa shared:0x100000 ...): the two pages private.
"$T" show --at=18 --range=0x100000,8K --format=svg examples/conversion.tds > docs/img/conversion-before.svg
# Before line 23: converted, and the guest has written the shared alias.
"$T" show --at=23 --range=0x100000,8K --format=svg examples/conversion.tds > docs/img/conversion-after.svg

#!/usr/bin/env bash
# `tdxmmu show --format=dot` is what Graphviz's own `dot` accepts (the CLI's
# SVG goes through the library; this checks the text against the program).
# Skipped (77) where Graphviz's `dot` is not installed.
set -euo pipefail
tdxmmu=$1
file=$2
command -v dot >/dev/null || { echo "skipped: Graphviz's dot is not installed"; exit 77; }
"$tdxmmu" show --format=dot "$file" | dot -Tsvg >/dev/null
"$tdxmmu" show --format=dot --at=9 "$file" | dot -Tsvg | grep -q '</svg>'
echo "dot accepts tdxmmu show's DOT"

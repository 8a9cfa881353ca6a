#!/usr/bin/env bash
# Writes the seed inputs of fuzz_ops into tests/fuzz/corpus/ops/ (or $1):
# each exercises a few operation kinds, for every MMU x accept mode. The
# byte format is fuzz_ops.c's (README.md here describes it); these helpers
# spell it. Rerun after changing the format.
set -euo pipefail
out=${1:-$(dirname "$0")/corpus/ops}
mkdir -p "$out"

buf=""
b()   { for v in "$@"; do buf+=$(printf '\\x%02x' $((v & 0xff))); done; }
u16() { b $(($1 & 0xff)) $(($1 >> 8)); }
u64() { local v=$1; for _ in 1 2 3 4 5 6 7 8; do b $((v & 0xff)); v=$((v >> 8)); done; }
# Header: config bits (1 legacy, 2 explicit accept, 4 upstream MapGPA,
# 8 SEPT_VE_DISABLE, 16 gpaw 52), the TD's seed, the number of build-time
# pages (each then given by addpage PAGE FILL).
header() { buf=""; b "$1" "$2" "$3"; }
addpage() { u16 "$1"; b "$2"; }
# Operations. F is the flags byte: bit 0 vCPU, bit 1 alias (1 shared) or
# MapGPA's direction (1 to shared), the rest per operation (fuzz_ops.c).
# COUNT: 0..0xbf -> 1 + COUNT % 16 pages, >= 0xc0 -> the aligned 2M.
read_()  { b 0; b "$1"; u16 "$2"; }                 # F PAGE
write_() { b 1; b "$1"; u16 "$2"; u64 "$3"; }       # F PAGE VALUE
fill()   { b 2; b "$1"; u16 "$2"; b "$3" "$4"; }    # F PAGE COUNT BYTE
verify() { b 3; b "$1"; u16 "$2"; b "$3" "$4"; }    # F PAGE COUNT BYTE
mapgpa() { b 4; b "$1"; u16 "$2"; b "$3"; }         # F PAGE COUNT
accept() { b 5; b "$1"; u16 "$2"; }                 # F(bit1 2M) PAGE
hread()  { b 6; b "$1"; u16 "$2"; }                 # F(bit0 shared) PAGE
hwrite() { b 7; b "$1"; u16 "$2"; u64 "$3"; }       # F PAGE VALUE
inval()  { b 8; b "$1"; u16 "$2"; b "$3"; }         # F PAGE COUNT
zap()    { b 9; b "$1"; u16 "$2"; b "$3"; }         # F(bits 1+: alias) PAGE COUNT
slot()   { b 10; b "$1"; }                          # slot id
seamcall() { b 11; b "$1"; u16 "$2"; b "$3" "$4"; } # F(level, alias, page) PAGE LEAF FILL
busy()   { b 12; b "$1"; }                          # F(% 5: ppm index)
enomem() { b 13; b "$1"; }                          # F(% 5 ppm, >> 4 site)
injoff() { b 14; }
enterleave() { b 15; b "$1"; }
touch()  { b 16; b "$1"; u16 "$2"; b "$3"; }        # F(bit 2 write) PAGE COUNT
emit() { printf "$buf" > "$out/$1"; }

leaf() { # leaf number by name, from the model's table order (tdx_status.h)
	sed -n 's/.*X(TDH_[A-Z_]*, *\([0-9]*\), *"'"$1"'").*/\1/p' \
		"$(dirname "$0")/../../src/tdx/tdx_status.h"
}
AUG=$(leaf TDH.MEM.PAGE.AUG); REMOVE=$(leaf TDH.MEM.PAGE.REMOVE)
BLOCK=$(leaf TDH.MEM.RANGE.BLOCK); TRACK=$(leaf TDH.MEM.TRACK)
RECLAIM=$(leaf TDH.PHYMEM.PAGE.RECLAIM); VPENTER=$(leaf TDH.VP.ENTER)

for cfg in 0 1 2 3; do
	name=$( ((cfg & 1)) && echo legacy || echo tdp)-$( ((cfg & 2)) && echo explicit || echo auto)

	# Private data: written, read back, filled, verified; the host sees 0.
	header $cfg 1 1; addpage 3 0x11
	read_ 0 3; write_ 0 5 0x1234; read_ 1 5; hread 0 5; hread 1 3
	fill 0 16 3 0x05; verify 1 16 3 0x05; verify 5 16 3 0
	write_ 4 17 0x99; verify 4 16 3 0x05; hread 0 17
	emit "$name-private"

	# Conversions both ways; shared data; the wrong alias blocks.
	header $((cfg | 4)) 2 0
	write_ 0 40 7; mapgpa 2 40 0; read_ 0 40; write_ 2 40 0x55
	hread 0 40; read_ 2 40; mapgpa 0 40 0; read_ 0 40; hread 0 40
	fill 2 600 0xc0 0x33; mapgpa 2 512 0xc0; fill 2 600 0 0x33
	verify 2 600 0 0x33; hread 0 600; mapgpa 0 512 0xc0; read_ 0 600
	emit "$name-convert"

	# Explicit accept at 4K and 2M; accept of an accepted page.
	header $cfg 3 0
	accept 0 10; read_ 0 10; write_ 0 10 1; accept 0 10; read_ 0 10
	accept 2 512; read_ 0 513; accept 6 1024; touch 0 1024 0x05
	touch 4 1030 0x03; read_ 0 1030
	emit "$name-accept"

	# The host: writes (poison when private), reads, zaps of each alias,
	# invalidations.
	header $cfg 4 0
	write_ 0 20 3; hwrite 0 20 0x77; read_ 0 20; write_ 2 21 3
	hwrite 1 21 0x78; hread 1 21; zap 0 20 2; zap 2 21 1; zap 4 22 0xc0
	read_ 0 20; inval 0 20 4; inval 1 0 0xc0; read_ 0 20; hread 0 20
	emit "$name-host"

	# Memslot 1 deleted (MMIO), added again; MMIO beyond it.
	header $cfg 5 0
	write_ 0 1100 9; slot 1; read_ 0 1100; slot 1; read_ 0 1100
	write_ 0 1800 1; slot 0; slot 0; read_ 0 3
	emit "$name-memslot"

	# Raw SEAMCALLs behind KVM's back.
	header $cfg 6 0
	seamcall 8 30 "$AUG" 0; seamcall 0 31 "$BLOCK" 0; read_ 0 31
	seamcall 0 31 "$TRACK" 0; seamcall 0 31 "$REMOVE" 0
	seamcall 16 0 "$RECLAIM" 0; u16 31; hread 0 31
	emit "$name-seamcall"

	# Injected BUSY and ENOMEM while faulting and converting.
	header $cfg 7 0
	busy 2; enomem 0x01; fill 0 0 0xc0 0x01; mapgpa 2 0 0x10
	enomem 0x04; read_ 0 700; busy 0x84; b "$AUG"; read_ 0 701
	injoff; read_ 0 702; enomem 0x24; write_ 0 703 1; injoff
	emit "$name-inject"

	# A vCPU held in the TD while the host zaps and the other vCPU runs.
	header $cfg 8 0
	write_ 0 50 1; enterleave 1; zap 0 50 0; read_ 0 50; read_ 1 50
	enterleave 1; read_ 1 50
	emit "$name-enter"

	# Every TDH.VP.ENTER BUSY (100 % on that leaf): guest actions end
	# `blocked` at once, enter is refused, a held vCPU a zap kicks out
	# stays out until it leaves; after inject off all runs again.
	header $cfg 11 0
	write_ 0 80 1; enterleave 1; busy 0x81; b "$VPENTER"; read_ 0 80
	write_ 0 81 2; mapgpa 2 82 0; zap 0 80 0; enterleave 1; enterleave 0
	injoff; read_ 0 80; read_ 0 81; enterleave 1; enterleave 1
	emit "$name-busy100-vp-enter"
done
# The other MapGPA mode and the 52-bit GPA width.
header $((4 | 16)) 9 1; addpage 7 0x22
read_ 0 7; mapgpa 2 7 0; write_ 2 7 5; hread 1 7; mapgpa 0 0 0xc0; read_ 0 7
emit tdp-gpaw52-upstream
header $((8 | 2)) 10 0
read_ 0 60; accept 0 60; read_ 0 60
emit tdp-sept-ve-disable

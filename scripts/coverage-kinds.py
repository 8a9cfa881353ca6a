#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Counts the lines and branch outcomes of src/ that `make coverage` left
not taken, by kind (docs/reliability.md, "What is still not reached, by
kind"). Approximate by design: the kind of a line is guessed from its text
and the next three lines (a scheduling or trace macro, a KVM_BUG_ON-like
check, the checker's violation report, an allocation failure, the
exploration's failure paths), not from what the branch means.

Usage (after `make coverage`, from the top of the tree; gcovr is the one
`make coverage` uses, so Python is there):
    gcovr --root . --object-directory build-cov --filter 'src/' \\
        --exclude-unreachable-branches --exclude-throw-branches \\
        --json build-cov/coverage-full.json
    scripts/coverage-kinds.py build-cov/coverage-full.json
"""
import collections
import json
import re
import sys

MACRO = re.compile(r'SCHED_POINT|SCHED_WAIT|KVM_SPTE_POINT|KVM_LEGACY_SPTE_POINT|'
                   r'KVM_TRACE|TDX_RETRY_BUSY|TDX_RETRY_WAIT|legacy_read_spte|'
                   r'ITER_READ_POINT|KVM_SPTE_NOTE|for_each_tdp_pte|'
                   r'kvm_tdp_mmu_read_spte|HELD\(|trace_on|TDX_TRACE|'
                   r'kvm_trace_emit|TRACE_PROBE')
BUG = re.compile(r'kvm_vm_bugged|cpu_bug|host_bug|abort\(|lockdep_fail|'
                 r'model_broken|audit_fail|kvm_is_bugged|vm_dead')
VIOLATION = re.compile(r'violation\(')
ALLOC = re.compile(r'ENOMEM|oom|malloc|calloc|realloc|aligned_alloc|MAP_FAILED|'
                   r'open_memstream|out of memory')
EXPLORE = re.compile(r'sched_abandoned|S\.abandoned|pthread_create|affinity|nondet')


def kind(path, text, near):
    if MACRO.search(text):
        return 'macro'
    if path.startswith('src/explore/') or path.endswith('parallel.c') or EXPLORE.search(near):
        return 'explore'
    if BUG.search(near):
        return 'bug'
    if path == 'src/api/check.c' and VIOLATION.search(near):
        return 'checker'
    if ALLOC.search(near):
        return 'alloc'
    return 'other'


def main():
    data = json.load(open(sys.argv[1]))
    branches, lines = collections.Counter(), collections.Counter()
    other = collections.Counter()
    for f in data['files']:
        src = open(f['file']).read().split('\n')
        for ln in f['lines']:
            if ln.get('gcovr/noncode'):
                continue
            n = sum(1 for b in ln['branches'] if b['count'] == 0)
            if not n and ln['count']:
                continue
            i = ln['line_number'] - 1
            k = kind(f['file'], src[i], '\n'.join(src[i:i + 4]))
            branches[k] += n
            lines[k] += ln['count'] == 0
            if k == 'other':
                other[f['file']] += n
    print('branch outcomes not taken:', sum(branches.values()), dict(branches))
    print('lines not run:', sum(lines.values()), dict(lines))
    print('"other" by file:', ', '.join('%s %d' % (p, n) for p, n in other.most_common(8)))


if __name__ == '__main__':
    main()

#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Counts the lines and branch outcomes of src/ that `make coverage` left
not taken, by kind (docs/reliability.md, "What is still not reached, by
kind"). Approximate by design: the kind of a line is guessed from its text
and the next three lines (a scheduling or trace macro, a KVM_BUG_ON-like
check, the checker's violation report, an allocation failure, the
exploration's failure paths; then, from the line alone, an atomic update
another thread can race, a try-lock's contention, one operand of a
compound condition, a switch case, a defensive check), not from what the
branch means.

Usage (`make coverage` runs it; from the top of the tree):
    gcovr --root . --object-directory build-cov --filter 'src/' \\
        --exclude-unreachable-branches --exclude-throw-branches \\
        --json build-cov/coverage-full.json
    scripts/coverage-kinds.py build-cov/coverage-full.json [--list FILE]

--list FILE writes every line of src/ not run or with a branch outcome
not taken, by kind, each kind's reason first (docs/reliability.md says
more of each), one a line: file:line, "not run" or outcomes not taken of
all, the source.
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
# Sub-kinds of what is left, from the line itself.
CAS = re.compile(r'compare_exchange|cmpxchg|fetch_or|fetch_and|fetch_add|fetch_sub')
CONTENTION = re.compile(r'BUSY|LOCK_OK|try_lock|trylock|try_shared|try_excl|HOST_PRIORITY|SHAREX_')
DEFENSIVE = re.compile(r'return -E[A-Z]+|api_fail|null_arg|-EINVAL|TDXMMU_EINVAL|'
                       r'TDX_OPERAND_INVALID|return NULL|return false;|return -1;')
SWITCH = re.compile(r'^\s*(case |default:)|\? ')


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
    if CAS.search(text):
        return 'race'
    if CONTENTION.search(text):
        return 'contention'
    if ('&&' in text or '||' in text) and not text.strip().startswith('return'):
        return 'operand'
    if SWITCH.search(text):
        return 'case'
    if DEFENSIVE.search(near):
        return 'defensive'
    return 'other'


REASON = {
    'macro': 'inside a schedule-point, trace or retry macro: the site is reached, '
             'not in every combination of exploring / tracing / tree',
    'explore': "the exploration's failure paths (no memory, no thread, CPU affinity)",
    'bug': "a KVM_BUG_ON-like self-check of the model's own state, or the model's "
           'abort, that no module answer reaches with the guards on',
    'checker': 'a check rule only a broken model trips',
    'alloc': "after a failed allocation of the model's own metadata",
    'race': 'an atomic update that fails or sees another value only when another '
            'thread wrote in between: explored races reach it at some sites, not all',
    'contention': 'a try-lock or lock word that answers BUSY only while another caller '
                  'holds the lock: reached where a race of two callers is explored',
    'operand': 'an operand of a compound condition (&&, ||) not seen both ways: '
               'mostly one that an earlier operand decides in every state the tests '
               'reach (a defensive NULL test after a checked one, a loop bound and '
               'an error flag), not always',
    'case': 'a switch case or conditional arm no caller produces',
    'defensive': 'a defensive check of an argument or state that the callers already '
                 'ensure (kept: the model must not trust its callers)',
    'other': 'an error path or state not reached (docs/reliability.md, "What is still '
             'not reached")',
}


def main():
    data = json.load(open(sys.argv[1]))
    listing = None
    if len(sys.argv) > 3 and sys.argv[2] == '--list':
        listing = open(sys.argv[3], 'w')
    entries = collections.defaultdict(list)
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
            if i >= len(src):  # the source changed since the run
                src += [''] * (i + 1 - len(src))
            k = kind(f['file'], src[i], '\n'.join(src[i:i + 4]))
            branches[k] += n
            lines[k] += ln['count'] == 0
            what = ('not run' if ln['count'] == 0 else
                    '%d/%d' % (n, len(ln['branches'])))
            entries[k].append('%s:%d  %s  %s' % (f['file'], ln['line_number'], what,
                                                  src[i].strip()))
            if k == 'other':
                other[f['file']] += n
    if listing:
        listing.write('# Lines of src/ not run, or with branch outcomes not taken (n/m: n of\n'
                      '# the line\'s m outcomes), by kind, each kind\'s reason first; written\n'
                      '# by scripts/coverage-kinds.py from `make coverage`. Kinds are guessed\n'
                      '# from the source text (the script says how): approximate.\n')
        for k in sorted(entries, key=lambda k: -branches[k]):
            listing.write('\n## %s: %d branch outcomes, %d lines not run\n# %s\n' % (
                k, branches[k], lines[k], REASON[k]))
            listing.write('\n'.join(entries[k]) + '\n')
    print('branch outcomes not taken:', sum(branches.values()), dict(branches))
    print('lines not run:', sum(lines.values()), dict(lines))
    print('"other" by file:', ', '.join('%s %d' % (p, n) for p, n in other.most_common(8)))


if __name__ == '__main__':
    main()

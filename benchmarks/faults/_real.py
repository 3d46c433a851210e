"""Issue 24's set of real programs: every ported program, and the third kept untouched.

The programs were ported by source (``_ported_<source>.py``, each with its ``.md`` table of
links, fault, fix, ground truth and what the port changed; README.md gathers them) before any
doctor change for issue 24 and without looking at doctor's checks. Each buggy program's
``_fixed`` twin applies the source's fix and nothing else.

The untouched third is chosen here by a rule written before the set was first scored: the
buggy programs in order of the SHA-256 of their key, the first third (rounded up), each with
its fixed twin. It is scored once, at the end of the work on issue 24
(``heldout_9_real_untouched.py``); the rest (``heldout_8_real_programs.py``) is what that work
may look at.
"""

from __future__ import annotations

import hashlib
import math

from . import (
    _ported_deepfd,
    _ported_deeplocalize,
    _ported_forums,
    _ported_neuralint,
    _ported_tfbugs,
)
from ._common import Program

SOURCES = (_ported_deepfd, _ported_deeplocalize, _ported_forums, _ported_neuralint,
           _ported_tfbugs)
FIXED = "_fixed"
# Ported twice from one source by two helpers: StackOverflow 52800582 is in the DeepLocalize
# benchmark and was also found as a NeuraLint-era thread; the benchmark's port is kept.
DUPLICATES = ("neuralint_so52800582",)


def _all() -> tuple[dict[str, Program], dict[str, Program]]:
    faults: dict[str, Program] = {}
    clean: dict[str, Program] = {}
    for source in SOURCES:
        faults.update({k: p for k, p in source.FAULTS.items() if k not in DUPLICATES})
        clean.update({k: p for k, p in source.CLEAN.items() if k[:-len(FIXED)] not in DUPLICATES})
    assert set(clean) == {key + FIXED for key in faults}, "every buggy program has its fix"
    return faults, clean


def untouched_keys(faults: dict[str, Program]) -> set[str]:
    """The buggy programs of the untouched third (their fixed twins go with them)."""
    order = sorted(faults, key=lambda key: hashlib.sha256(key.encode()).hexdigest())
    return set(order[:math.ceil(len(order) / 3)])


def part(untouched: bool) -> tuple[dict[str, Program], dict[str, Program]]:
    """(FAULTS, CLEAN) of the untouched third, or of the rest."""
    faults, clean = _all()
    kept = untouched_keys(faults)
    chosen = {k: p for k, p in faults.items() if (k in kept) == untouched}
    return chosen, {k + FIXED: clean[k + FIXED] for k in chosen}

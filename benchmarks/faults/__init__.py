"""The doctor's fault sets, found here rather than listed by the scripts that run them.

One module per set, named by its place in the order the sets were written and what it holds;
each module's docstring says when it was written and against what. Every set has ``FAULTS``
and ``CLEAN`` dicts of programs; the helpers the held-out sets share live in ``_common.py``.

``SETS`` maps each set's short name (the ``--set`` value of ``doctor_faults.py``, the name
benchmarks/RESULTS.md's history uses) to its module, in the order the sets were written:

=========== ================================= ==============================================
``--set``   module                            what
=========== ================================= ==============================================
zoo         ``seen_zoo.py``                   one planted fault per finding code, plus clean
                                              controls: the set doctor's checks were written
                                              and tuned against (seen)
holdout     ``heldout_1_forum_style.py``      forum-style programs, written before the
                                              issue-12 checks, never tuned on
holdout2    ``heldout_2_cnns_attention.py``   after set 1's first score: CNNs, a transformer
holdout3    ``heldout_3_short_budgets.py``    after sets 1-2's scores: short-budget LRs,
                                              saturation in one layer
holdout4    ``heldout_4_slow_lr_init.py``     after set 3's score: too-low LRs, slow inits
holdout5    ``heldout_5_keras_defaults.py``   while set 4 was scored: Keras habits, defaults
holdout6    ``heldout_6_squashed_logits.py``  after set 5's score: squashed logits, inits
holdout7    ``heldout_7_after_matmul_fix.py`` after set 6's score and its fix (3dfa14c)
holdout8    ``heldout_8_real_programs.py``    issue 24: real programs ported from bug
                                              benchmarks and forums, buggy and fixed (two
                                              thirds; ``_real.py`` assembles them)
holdout9    ``heldout_9_real_untouched.py``   issue 24: the third of those kept untouched
                                              until the end (not in the default sets)
=========== ================================= ==============================================

A new held-out set is a new ``heldout_<n>_<what>.py`` module here; it is found by its number
(short name ``holdout<n>``, set 1 being plain ``holdout``).
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from types import ModuleType

SEEN = "zoo"  # the set doctor's checks and thresholds were tuned on


def _discover() -> dict[str, ModuleType]:
    held_out: dict[int, ModuleType] = {}
    for info in pkgutil.iter_modules(__path__):
        match = re.fullmatch(r"heldout_(\d+)_\w+", info.name)
        if match:
            held_out[int(match[1])] = importlib.import_module(f"{__name__}.{info.name}")
    sets = {SEEN: importlib.import_module(f"{__name__}.seen_zoo")}
    for number in sorted(held_out):
        sets["holdout" if number == 1 else f"holdout{number}"] = held_out[number]
    return sets


SETS: dict[str, ModuleType] = _discover()
HELD_OUT: dict[str, ModuleType] = {name: m for name, m in SETS.items() if name != SEEN}
# scored by default: every set but one kept untouched (``UNTOUCHED = True``) until named
DEFAULT: list[str] = [name for name, m in SETS.items() if not getattr(m, "UNTOUCHED", False)]

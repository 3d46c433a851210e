"""Real faulty programs (issue 24), the third kept untouched until the end of that work.

Chosen by ``_real.py``'s rule, written before the set was first scored. Not in
``doctor_faults.py``'s default sets: score it only by name (``--set holdout9``), once the
issue-24 changes are done, and report it apart from ``heldout_8_real_programs.py``.
"""

from ._real import part

UNTOUCHED = True
FAULTS, CLEAN = part(untouched=True)

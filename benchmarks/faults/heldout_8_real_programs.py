"""Real faulty programs ported from bug benchmarks and forum threads (issue 24), two thirds.

Written 2026-12-05 from DeepFD, DeepLocalize/DeepDiagnosis, TensorFlow-Program-Bugs, NeuraLint
and PyTorch forum threads (``_real.py``; sources, fixes and ground truth in README.md), before
any doctor change for issue 24 and without looking at doctor's checks. Each faulty program
names the families its source's fix belongs to; its ``_fixed`` twin is a correct program. This
is the part doctor's issue-24 work may look at; ``heldout_9_real_untouched.py`` is kept apart.
"""

from ._real import part

FAULTS, CLEAN = part(untouched=False)

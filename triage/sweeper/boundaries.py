"""The divergence boundary of every combination of the settings that move it, measured once per
sweep with lr-find's engine and shared by every worker.

A trial's learning rate is a back-off below the boundary of its updater, batch size and init
(the documents: find where training diverges, back off 3-10x). Each combination's boundary is
measured the first time a trial needs it, by short probes (lr-find's ``NanBoundary``), each
probe a trial of a companion study beside the sweep's (``<study>:boundaries``): a worker that
needs the same combination, or a rerun after a crash, reads the probes back instead of training
them again. A combination whose neighbour (the same updater at another batch size or init) is
known starts from the neighbour's boundary, scaled by the square root of the batch ratio, and
brackets by factors of 2 instead of lr-find's blind 1e-3 and factors of 10. The boundary found
is also kept on the sweep's study, so later trials read it without a search.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import optuna
from optuna.trial import TrialState

from triage.lr_finder.strategies import Context, DivergesEverywhere, NanBoundary
from triage.lr_finder.trials import StudyProbeRunner
from triage.probe import ProbeResult, ProbeSettings
from triage.task import PreparedTask
from triage.training import Training

KEY_FIELDS = ("optimizer", "nesterov", "momentum", "batch_size", "init")
PREFIX = "boundary:"  # the sweep study's user attribute holding one combination's boundary
ADAPTIVE = ("adam", "adamw", "rmsprop", "adagrad")
NEIGHBOUR_EXPAND = 2.0


@dataclass(frozen=True)
class Measured:
    """One combination's boundary.

    Attributes:
        max_finite_lr: the highest LR that survived the divergence window; None when every LR
            down to lr-find's floor diverged.
        divergence_lr: the lowest LR above it that diverged (None: none did up to the ceiling).
        source: ``lr-find`` (its config's boundary) or ``measured`` (by this sweep).
    """

    max_finite_lr: float | None
    divergence_lr: float | None
    source: str = "measured"


def combo_key(values: dict[str, Any]) -> str:
    """One combination of the settings that move the boundary (``KEY_FIELDS``), as text."""
    return json.dumps({name: values[name] for name in KEY_FIELDS}, sort_keys=True)


class Boundaries:
    """Looks up, or measures, the boundary of a trial's combination.

    Args:
        study: the sweep's study (where found boundaries are kept).
        probes: the companion study the boundary probes are trials of.
        prepared: the task.
        window: the divergence window in steps (lr-find's, for this task).
        seed, device, precision, world_size: every probe's.
    """

    def __init__(self, study: optuna.Study, probes: optuna.Study, prepared: PreparedTask,
                 window: int, *, seed: int, device: str, precision: str,
                 world_size: int = 1) -> None:
        self.study, self.probes, self.prepared, self.window = study, probes, prepared, window
        self.seed, self.device, self.precision = seed, device, precision
        self.world_size = world_size
        self.trained = 0  # steps this worker's probes trained (read-back probes cost nothing)

    def remember(self, values: dict[str, Any], measured: Measured) -> None:
        """Keep a boundary measured elsewhere (lr-find's) for ``values``' combination."""
        self.study.set_user_attr(PREFIX + combo_key(values), asdict(measured))

    def known(self) -> dict[str, Measured]:
        """Every boundary the study holds, by combination key."""
        return {key[len(PREFIX):]: Measured(**value) for key, value
                in self.study.user_attrs.items() if key.startswith(PREFIX)}

    def get(self, values: dict[str, Any]) -> Measured:
        """The boundary of one combination (``KEY_FIELDS``), measured now if nobody has."""
        key = combo_key(values)
        known = self.known()
        if key in known:
            return known[key]
        base = Training(**{name: values[name] for name in KEY_FIELDS}, precision=self.precision,
                        world_size=self.world_size)
        guess = neighbour_guess(values, known)
        search = (NanBoundary(self.window, reserve=0.0) if guess is None else
                  NanBoundary(self.window, reserve=0.0, start=guess, expand=NEIGHBOUR_EXPAND))
        context = Context(self.prepared, base, self._run, max_steps=10**12,
                          run={"seed": self.seed, "device": self.device})
        try:
            found = search.run(context)
            measured = Measured(found.max_finite_lr, found.divergence_lr)
        except DivergesEverywhere:
            measured = Measured(None, None)
        self.remember(values, measured)
        return measured

    def _run(self, settings: Sequence[ProbeSettings], phase: str,
             spare: Sequence[ProbeSettings] = ()) -> list[ProbeResult]:
        # Read the probes again before each one: another worker may have run it meanwhile.
        def count(_phase: str, result: ProbeResult, reused: bool) -> None:
            self.trained += 0 if reused else result.steps

        return StudyProbeRunner(self.probes, self.prepared, count)(settings, phase)


def neighbour_guess(values: dict[str, Any], known: dict[str, Measured]) -> float | None:
    """Where a combination's boundary probably lies, from the boundaries already known: the
    same updater and init at the nearest batch size (scaled by the square root of the batch
    ratio), else the same updater at any init, else another updater (adaptive updaters'
    boundaries sit about 10x below SGD's); None when nothing is known."""
    def updater(v: dict[str, Any]) -> tuple[Any, ...]:
        return v["optimizer"], v["nesterov"], v["momentum"]

    found = [(json.loads(key), m.max_finite_lr) for key, m in known.items()
             if m.max_finite_lr is not None]
    ranked = sorted(found, key=lambda item: (
        updater(item[0]) != updater(values), item[0]["init"] != values["init"],
        abs(math.log(item[0]["batch_size"] / values["batch_size"]))))
    if not ranked:
        return None
    other, lr = ranked[0]
    lr *= math.sqrt(values["batch_size"] / other["batch_size"])
    adaptive = (values["optimizer"] in ADAPTIVE, other["optimizer"] in ADAPTIVE)
    if adaptive == (True, False):
        lr /= 10
    elif adaptive == (False, True):
        lr *= 10
    return lr


def boundary_study(name: str) -> str:
    """The companion study that holds a sweep's boundary probes."""
    return f"{name}:boundaries"


def probe_steps(probes: optuna.Study) -> int:
    """Training steps the boundary probes took (each probe counted once)."""
    return sum(int(t.user_attrs["probe"]["steps"]) for t in probes.get_trials(
        deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL))
        if "probe" in t.user_attrs)

"""Exact outputs to compare before and after a refactor: probes bit for bit, doctor's findings.

A refactor of the engine must not change a number. This dumps, as JSON, every probe's losses,
instruments and divergence on 41 cases (the bundled examples with SGD, a diverging SGD, Adam,
clipping with a schedule, bf16, LBFGS's closure, dropout with he init, epoch callbacks, fused
probes), lr-find's LR on two examples, and ``diagnose``'s findings (``budget=None``, so no probe
depends on timing) on a sample of every fault set. Run it on both commits and compare:

    python benchmarks/golden.py before.json        # on the old commit (PYTHONPATH=old checkout)
    python benchmarks/golden.py after.json
    python benchmarks/golden.py --compare before.json after.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import optuna
import torch

import triage
from triage.builders import StepSchedule
from triage.examples import EXAMPLES
from triage.probe import ProbeCallback, ProbeResult, ProbeSettings, run_probe
from triage.probe.fused import run_fused

EXAMPLE_NAMES = ("digits_mlp", "digits_cnn", "digits_lstm", "diabetes_mlp")


def _dump(r: ProbeResult) -> dict[str, Any]:
    return {"steps": r.steps, "losses": [repr(x) for x in r.losses], "val": repr(r.val_loss),
            "acc": repr(r.val_accuracy), "div": [r.divergence_step, r.divergence_reason],
            "grad": {k: repr(v) for k, v in r.grad_norm.items()},
            "ratio": {k: repr(v) for k, v in r.update_ratio.items()},
            "dead": repr(r.dead_relu_fraction), "epochs": [repr(x) for x in r.epoch_val_losses],
            "early": r.stopped_early, "oom": r.oom}


class _StopAtThree(ProbeCallback):
    def on_epoch_end(self, epoch: int, val_loss: float | None) -> bool:
        return epoch >= 3


def probes() -> dict[str, Any]:
    cpu = {"device": "cpu"}
    cases = {
        "sgd": ProbeSettings(lr=0.05, steps=60, **cpu),
        "sgd_diverging": ProbeSettings(lr=30.0, steps=60, **cpu),
        "adam": ProbeSettings(lr=3e-3, optimizer="adam", steps=60, **cpu),
        "clip_schedule": ProbeSettings(lr=0.05, epochs=3, grad_clip_norm=1.0, **cpu,
                                       schedule=StepSchedule(after_epochs=2, every_epochs=1)),
        "bf16": ProbeSettings(lr=0.05, steps=40, precision="bf16", **cpu),
        "lbfgs": ProbeSettings(lr=0.5, optimizer="LBFGS", steps=10, **cpu),
        "dropout_he": ProbeSettings(lr=0.05, steps=40, init="he", dropout=0.2, **cpu),
    }
    out: dict[str, Any] = {}
    for name in EXAMPLE_NAMES:
        prepared = EXAMPLES[name]().prepare(0)
        for key, settings in cases.items():
            out[f"{name}/{key}"] = _dump(run_probe(prepared, settings))
        out[f"{name}/callback"] = _dump(run_probe(prepared, ProbeSettings(lr=0.05, epochs=6,
                                                                          **cpu), [_StopAtThree()]))
        for optimizer, lrs in (("sgd", (1e-3, 0.1, 50.0)), ("adam", (1e-4, 1e-2, 5.0))):
            try:
                fused = run_fused(prepared, [ProbeSettings(lr=lr, optimizer=optimizer, steps=50,
                                                           **cpu) for lr in lrs])
                out[f"{name}/fused_{optimizer}"] = [_dump(r) for r in fused]
            except Exception as exc:  # a model vmap cannot run: the same either side
                out[f"{name}/fused_{optimizer}"] = type(exc).__name__
    for name, optimizer in (("digits_mlp", "sgd"), ("diabetes_mlp", "adam")):
        config = triage.lr_find(EXAMPLES[name](), triage.LRFindSettings(
            optimizer=optimizer, seed=0, parallel=1, device="cpu"))
        out[f"lr_find/{name}/{optimizer}"] = repr(config.optimizer.lr)
    return out


def findings(per_set: int) -> dict[str, Any]:
    """The first ``per_set`` faulty programs and as many correct ones (at least one) of every
    fault set."""
    sys.path.insert(0, str(Path(__file__).parent))
    try:
        from faults import SETS
    except ImportError:  # a checkout from before benchmarks/faults/ (2026-12-05)
        import importlib

        SETS = {name: importlib.import_module(name) for name in
                ("zoo", "holdout", *(f"holdout{n}" for n in range(2, 8)))}

    out: dict[str, Any] = {}
    for set_name, module in SETS.items():
        if getattr(module, "UNTOUCHED", False):  # scored once, by name, at the end
            continue
        programs = {**module.FAULTS, **module.CLEAN}
        for name in [*list(module.FAULTS)[:per_set], *list(module.CLEAN)[:max(1, per_set)]]:
            program = programs[name]
            try:
                diagnosis = triage.diagnose(program.task(), program.settings(0, "cpu"),
                                            budget=None)
            except Exception as exc:  # doctor failed on it: that is its output
                out[f"{set_name}/{name}"] = [["CRASH", type(exc).__name__, None, str(exc)]]
                continue
            out[f"{set_name}/{name}"] = [[f.code, str(f.severity), getattr(f, "caused_by", None),
                                          f.message] for f in diagnosis.findings]
            print(f"  {set_name}/{name}", flush=True)
    return out


def compare(before: dict[str, Any], after: dict[str, Any]) -> int:
    before, after = _flat(before), _flat(after)
    differ = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    for key in differ:
        print(f"differs: {key}")
    print(f"{len(before.keys() & after.keys()) - len(differ)} identical, {len(differ)} differ")
    return 1 if differ else 0


def _flat(document: dict[str, Any]) -> dict[str, Any]:
    return {f"{section}/{key}": value for section, entries in document.items()
            for key, value in entries.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?")
    parser.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"))
    parser.add_argument("--per-set", type=int, default=4,
                        help="faulty (and correct) programs per fault set; 1000: all")
    parser.add_argument("--no-doctor", action="store_true")
    parser.add_argument("--no-probes", action="store_true",
                        help="doctor's findings only (a doctor change leaves the probes alone)")
    args = parser.parse_args()
    if args.compare:
        before, after = (json.loads(Path(p).read_text()) for p in args.compare)
        raise SystemExit(compare(before, after))
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    out = {"probes": {} if args.no_probes else probes(),
           "doctor": {} if args.no_doctor else findings(args.per_set)}
    Path(args.out).write_text(json.dumps(out, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()

"""Doctor on seeded faults and clean controls: recall and error-level false positives.

Every case of ``zoo.py`` (beside this script) runs under each seed (the seed changes the
model's init, the data order and the hold-out). A fault counts as found when its expected code
is among the findings (any severity) and as *named* when a warning- or error-level finding
points at the planted fault's family (learning rate, activation, loss, data, init, ...), which
is how real faulty programs are scored. A clean control fails when it gets any error-level
finding.
Also printed: doctor's wall time per case (target on a bundled example: under two minutes on
2 CPU cores).

    python benchmarks/doctor_faults.py [--seeds 0,1,2] [--threads 2] [--device cuda]

Targets: recall >= 95%, no error-level finding on a clean control.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings
from datetime import date

import torch

from triage.doctor import CODES, Diagnosis, Severity, doctor
from triage.doctor.train_checks import (
    dead_fraction,
    gradient_ratio,
    spike_ratio,
    weight_update_ratio,
)
from triage.probe.result import loss_drop

import zoo


def margins(diagnosis: Diagnosis, seen: dict[str, list[float]]) -> None:
    """What a clean program measures against each training threshold."""
    run = diagnosis.evidence.trained()
    if run is None:
        return
    seen["loss drop"].append(loss_drop(run.result.losses)[2])
    seen["dead ReLU share"].append(dead_fraction(diagnosis.evidence) or 0.0)
    gradients = gradient_ratio(diagnosis.evidence)
    if gradients is not None:
        seen["first/last grad norm"].append(gradients)
    seen["gradient spike"].append(spike_ratio(run.instruments.norms, run.result.losses))
    ratio = weight_update_ratio(run)
    if ratio is not None:
        seen["update ratio"].append(ratio)


def _device_name(device: str) -> str:
    return torch.cuda.get_device_name(0) if device.startswith("cuda") else "cpu"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")  # the planted faults warn (broadcasting); that is the point
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"doctor_faults  {date.today()}  {platform.processor() or platform.machine()}  "
          f"{os.cpu_count()} CPUs  torch {torch.__version__}  {args.threads} thread(s)  "
          f"seeds {seeds}  device {_device_name(args.device)}")
    print(f"{'case':<32}{'expected':<28}{'found':>7}{'named':>7}{'errors':>8}{'max s':>7}"
          "  findings (seed 0)")
    found = named = total = false_errors = controls = 0
    slowest = 0.0
    seen: dict[str, list[float]] = {k: [] for k in ("loss drop", "dead ReLU share",
                                                    "first/last grad norm", "gradient spike",
                                                    "update ratio")}
    for name, case in {**zoo.FAULTS, **zoo.CLEAN}.items():
        hits = names = errors = 0
        seconds, first = 0.0, ""
        for seed in seeds:
            started = time.perf_counter()
            diagnosis = doctor(case.task(), case.settings(seed, args.device))
            seconds = max(seconds, time.perf_counter() - started)
            codes = [f.code for f in diagnosis.findings]
            if seed == seeds[0]:
                first = " ".join(f"{f.code}:{str(f.severity)[0]}" for f in diagnosis.findings)
            errors += bool(diagnosis.errors)
            if not case.expected:
                margins(diagnosis, seen)
            if case.expected:
                hits += case.expected in codes
                family = case.family or CODES[case.expected].family
                names += any(f.family == family and f.severity >= Severity.WARNING
                             for f in diagnosis.findings)
        slowest = max(slowest, seconds)
        if case.expected:
            found, named, total = found + hits, named + names, total + len(seeds)
            cells = f"{hits}/{len(seeds)}", f"{names}/{len(seeds)}", "-"
        else:
            false_errors, controls = false_errors + errors, controls + len(seeds)
            cells = "-", "-", f"{errors}/{len(seeds)}"
        print(f"{name:<32}{case.expected or '(clean)':<28}{cells[0]:>7}{cells[1]:>7}"
              f"{cells[2]:>8}{seconds:>7.1f}  {first}")
    print(f"\nrecall {found}/{total} = {found / total:.1%} (target >= 95%); family named "
          f"by a warning/error {named}/{total} = {named / total:.1%}; error-level findings on "
          f"clean controls {false_errors}/{controls} (target 0); slowest case {slowest:.1f} s")
    print("clean controls against the training thresholds: " + "; ".join(
        f"{name} {min(values):.3g}..{max(values):.3g}" for name, values in seen.items()))


if __name__ == "__main__":
    main()

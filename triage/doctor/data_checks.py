"""Data checks (``data.*`` codes): non-finite values, scale of inputs and targets, dead
features, split drift; and the data notes doctor's driver adds (a clamped batch, skipped
checks, what a table's preprocessing fixed).

Thresholds follow the documents: inputs should lie "in the range of -1 to 1, 0 to 1 or
distributed normally with mean 0 and standard deviation 1. This does not have to be exact"
(DL4J troubleshooting), so only a clear miss (a typical feature's RMS beyond 3, or below 0.03)
is flagged, and an error only at 10x beyond that; "use the exact same normalization method for
both the training data and testing data" (same page) for the split check.
"""

from __future__ import annotations

import torch

from triage.doctor.base import Check, Evidence, Note
from triage.doctor.findings import (
    DEBUGGING,
    NOT_WORKING,
    SYMPTOMS,
    TROUBLESHOOTING,
    UNSTABLE,
    Code,
    Finding,
    Severity,
)

LARGE, SMALL = 3.0, 0.03  # feature RMS outside [SMALL, LARGE]: not "approximately" unit scale
SEVERE = 10.0  # 10x beyond the band: an error (raw 0-255 pixels have an RMS near 100)
MIXED = 100.0  # one feature's RMS this many times the median: mixed scales
CONSTANT = 1e-6  # relative std below which a feature is constant
SHIFT = 1.0  # median |train mean - val mean| in train stds: normalised differently
SPREAD = 3.0  # median std ratio outside [1/3, 3]


def columns(X: torch.Tensor) -> torch.Tensor:
    """Features as columns (samples x features), rows with non-finite values dropped."""
    flat = X.reshape(len(X), -1).float()
    return flat[torch.isfinite(flat).all(dim=1)]


def rms(X: torch.Tensor) -> torch.Tensor:
    return X.pow(2).mean(dim=0).sqrt()


def varying(cols: torch.Tensor) -> torch.Tensor:
    """Mask of the columns that are not constant (std above ``CONSTANT``, relative to size)."""
    return cols.std(dim=0) > CONSTANT * (1 + cols.mean(dim=0).abs())


class NonFinite(Check):
    stage = "data"
    codes = (Code("data.non_finite", "data", TROUBLESHOOTING, "NaN/inf in inputs or targets",
                  "error", "NaN/inf in X or y of either split", cause_order=20),)

    def check(self, ev: Evidence) -> list[Finding]:
        counts = {f"{split}.{role}": n for split, data in (("train", ev.splits.train),
                                                           ("val", ev.splits.val)) if data
                  for role, n in data.non_finite().items() if n}
        if not counts:
            return []
        where = ", ".join(f"{k} ({v})" for k, v in counts.items())
        return [Finding("data.non_finite", Severity.ERROR,
                        f"NaN/inf values in {where}; every loss they touch is NaN",
                        {"counts": counts, "train_rows_dropped_for_probes": ev.splits.dropped},
                        "impute or drop the non-finite values before training (and check for "
                        "divisions by a zero std in your normalisation)")]


class InputScale(Check):
    stage = "data"
    codes = (Code("data.unnormalized_inputs", "data", TROUBLESHOOTING,
                  "inputs far from unit scale", "warning (error 10x beyond)",
                  f"typical feature RMS outside [{SMALL:g}, {LARGE:g}], or one feature "
                  f"{MIXED:g}x the typical one",
                  SYMPTOMS | UNSTABLE | {"model.saturated_units", "train.dead_units",
                                         "train.vanishing_gradients"}, cause_order=100,
                  tried_by="inputs"),)

    def check(self, ev: Evidence) -> list[Finding]:
        X = ev.splits.train.X
        if not X.is_floating_point():  # integer inputs are token or category ids
            return []
        cols = columns(X)
        if len(cols) < 2:
            return []
        live = varying(cols)
        if not live.any():
            return []
        scale = rms(cols)[live]
        typical, top = float(scale.median()), float(scale.max())
        evidence = {"median_feature_rms": typical, "max_feature_rms": top,
                    "min": float(cols.min()), "max": float(cols.max()),
                    "features": int(live.sum())}
        fix = ("standardise the inputs (subtract the training mean, divide by the training "
               "std, per feature or per image channel) or scale them into [0, 1], e.g. x/255")
        if typical > LARGE or typical < SMALL:
            severe = typical > LARGE * SEVERE or typical < SMALL / SEVERE
            word = "large" if typical > LARGE else "small"
            return [Finding("data.unnormalized_inputs",
                            Severity.ERROR if severe else Severity.WARNING,
                            f"inputs are far from unit scale: a typical feature's RMS is "
                            f"{typical:.3g} ({word}; values span {evidence['min']:.3g}.."
                            f"{evidence['max']:.3g})", evidence, fix)]
        if top > MIXED * typical:
            worst = int(torch.nonzero(live)[int(scale.argmax())])
            evidence["worst_feature"] = worst
            return [Finding("data.unnormalized_inputs", Severity.WARNING,
                            f"inputs mix scales: feature {worst} has RMS {top:.3g}, "
                            f"{top / typical:.0f}x the typical feature's {typical:.3g}",
                            evidence, fix)]
        return []


class ConstantFeature(Check):
    stage = "data"
    codes = (Code("data.constant_feature", "data", NOT_WORKING, "zero-variance input features",
                  "info (warning if most)", "features with zero variance", cause_order=130),)

    def check(self, ev: Evidence) -> list[Finding]:
        cols = columns(ev.splits.train.X)
        if len(cols) < 2:
            return []
        constant = torch.nonzero(~varying(cols)).flatten().tolist()
        if not constant:
            return []
        share = len(constant) / cols.shape[1]
        # Constant border pixels are normal in images; they only hurt when a per-feature
        # normalisation divides by their zero std, so a minority of them is information.
        severity = Severity.WARNING if share > 0.5 else Severity.INFO
        return [Finding("data.constant_feature", severity,
                        f"{len(constant)} of {cols.shape[1]} input features are constant "
                        f"({share:.0%}); per-feature normalisation divides them by zero",
                        {"constant_features": constant[:20], "count": len(constant),
                         "share": share},
                        "drop the constant features, or add a small epsilon to the std when "
                        "normalising")]


class TargetScale(Check):
    stage = "data"
    codes = (Code("data.unscaled_targets", "data", NOT_WORKING,
                  "regression targets far from unit scale", "warning (error 10x beyond)",
                  f"regression target RMS outside [{SMALL:g}, {LARGE:g}]",
                  SYMPTOMS | UNSTABLE | {"train.dead_units"}, cause_order=110,
                  tried_by="targets"),)

    def check(self, ev: Evidence) -> list[Finding]:
        if not ev.regression:
            return []
        cols = columns(ev.splits.train.y)
        if len(cols) < 2:
            return []
        scale = float(rms(cols).median())
        if SMALL <= scale <= LARGE:
            return []
        severe = scale > LARGE * SEVERE or scale < SMALL / SEVERE
        return [Finding("data.unscaled_targets", Severity.ERROR if severe else Severity.WARNING,
                        f"regression targets are far from unit scale (RMS {scale:.3g}); an "
                        "untrained network outputs values near -1..1",
                        {"target_rms": scale, "min": float(cols.min()),
                         "max": float(cols.max()), "mean": float(cols.mean())},
                        "standardise the targets with the training mean and std (and invert "
                        "that on the predictions)")]


class SplitMismatch(Check):
    stage = "data"
    codes = (Code("data.split_mismatch", "data", TROUBLESHOOTING,
                  "train and validation normalised differently", "warning / error",
                  f"validation means > {SHIFT:g} training std away, or stds {SPREAD:g}x apart",
                  cause_order=120),)

    def check(self, ev: Evidence) -> list[Finding]:
        if ev.splits.val is None:
            return []
        findings = []
        pairs = [("inputs", ev.splits.train.X, ev.splits.val.X)]
        if ev.regression:
            pairs.append(("targets", ev.splits.train.y, ev.splits.val.y))
        for role, train, val in pairs:
            evidence = _drift(train, val)
            if evidence is None:
                continue
            shift, ratio = evidence["median_mean_shift"], evidence["median_std_ratio"]
            if shift > SHIFT or not 1 / SPREAD <= ratio <= SPREAD:
                severe = shift > SHIFT * SEVERE or not 1 / SPREAD**2 <= ratio <= SPREAD**2
                findings.append(Finding(
                    "data.split_mismatch", Severity.ERROR if severe else Severity.WARNING,
                    f"validation {role} are on a different scale from training {role}: means "
                    f"differ by {shift:.3g} training stds, stds by a factor {ratio:.3g}",
                    {"role": role, **evidence},
                    "normalise the validation (and test) data with the statistics of the "
                    "training data, the same way"))
        return findings


def _drift(train: torch.Tensor, val: torch.Tensor) -> dict[str, float] | None:
    if not (train.is_floating_point() and val.is_floating_point()) or \
            train.shape[1:] != val.shape[1:]:
        return None
    a, b = columns(train), columns(val)
    if len(a) < 2 or len(b) < 2:
        return None
    live = varying(a)
    if not live.any():
        return None
    std = a.std(dim=0)
    shift = ((a.mean(dim=0) - b.mean(dim=0)).abs() / std)[live]
    ratio = (b.std(dim=0) / std)[live]
    return {"median_mean_shift": float(shift.median()), "median_std_ratio": float(ratio.median())}


class BatchClamped(Note):
    """A batch size larger than the training set: the probes use the whole set."""

    codes = (Code("data.batch_clamped", "batch_size", TROUBLESHOOTING,
                  "batch size larger than the dataset", "info",
                  "batch size larger than the training set"),)


def batch_clamp(batch_size: int, samples: int, workers: int = 1) -> Finding:
    """The note for a batch size (per worker, of ``workers``) larger than the training
    samples the probes have."""
    fits = max(1, samples // workers)
    each = f" x {workers} workers" if workers > 1 else ""
    return Finding("data.batch_clamped", Severity.INFO,
                   f"batch size {batch_size}{each} exceeds the {samples} training samples; "
                   f"probes use {fits}{' per worker' if each else ''}",
                   {"batch_size": batch_size, "samples": samples, "workers": workers},
                   f"set batch_size to at most {fits} (as it is, each epoch is one step)",
                   changes={"batch_size": fits})


class DataNotChecked(Note):
    """Items doctor cannot read as (x, y) tensors: the data stage is skipped."""

    codes = (Code("data.not_checked", "data", DEBUGGING,
                  "data checks skipped: the items are not (x, y) tensors", "info",
                  "the items are not `(x, y)` tensors: the data checks are skipped (the "
                  "training checks still run)"),)


class FixedByPreprocessing(Note):
    """The data findings of a table's raw columns that its preprocessing removed."""

    codes = (Code("data.fixed_by_preprocessing", "data", TROUBLESHOOTING,
                  "what a table's preprocessing fixed", "info",
                  "on a table, which problems of the raw numeric columns the preprocessing "
                  "removed"),)

    @staticmethod
    def finding(gone: dict[str, str]) -> Finding:
        """The note naming ``gone``, code -> message of the raw columns' findings."""
        return Finding("data.fixed_by_preprocessing", Severity.INFO,
                       f"preprocessing fixed what the raw numeric columns show: "
                       f"{', '.join(gone)}", {"fixed": gone},
                       "nothing to fix: keep the preprocessing (the config's data: section "
                       "records it); --no-preprocess shows the raw data's findings")

"""Cause first: findings that another finding explains are shown under it, as consequences.

A user reads the first line, so the first line must be the cause. The rule:

1. A finding is a *consequence* of another when that other is a warning or an error and its
   fault is known to produce this symptom (``EXPLAINS``: unnormalised inputs make training
   diverge; a network that cannot memorise 10 examples also shows a flat loss at the user's LR;
   dead ReLUs cut the gradient ...). A finding can only be explained by a cause earlier in
   ``ORDER`` (faults in the data and the model before what training shows), so no two findings
   explain each other; of several causes the earliest in ``ORDER`` is named.
2. Causes (findings explained by none) are ranked by the most severe of themselves and their
   consequences, then by ``ORDER``; each is followed by its consequences. So a warning that
   explains an error (inputs of mixed scale, which make the configured LR diverge) comes
   before unrelated warnings, and the error stays an error for the exit code.
"""

from __future__ import annotations

from triage.doctor.findings import CODES, Finding, Severity

# The symptoms most faults produce: the loss does not fall (or falls slowly), the net cannot
# memorise 10 examples, the updates are far from 1e-3 of the weights.
_SYMPTOMS = frozenset({"train.not_learning", "train.cannot_overfit_small", "train.update_ratio",
                       "train.lr_too_low"})
_UNSTABLE = frozenset({"train.diverges_early", "train.exploding_gradients"})

EXPLAINS: dict[str, frozenset[str]] = {
    "model.output_shape": _SYMPTOMS,
    "model.loss_target_mismatch": _SYMPTOMS | _UNSTABLE | {"model.output_activation"},
    "model.constant_output": _SYMPTOMS | {"model.output_activation", "train.dead_units",
                                          "train.vanishing_gradients"},
    "model.output_activation": _SYMPTOMS | _UNSTABLE | {"train.dead_units"},
    "model.no_nonlinearity": _SYMPTOMS | _UNSTABLE,
    "data.unnormalized_inputs": _SYMPTOMS | _UNSTABLE | {"model.saturated_units",
                                                         "train.dead_units",
                                                         "train.vanishing_gradients"},
    "data.unscaled_targets": _SYMPTOMS | _UNSTABLE | {"train.dead_units"},
    "model.bad_init": _SYMPTOMS | _UNSTABLE | {"model.saturated_units", "train.dead_units",
                                               "train.vanishing_gradients"},
    "model.saturated_units": _SYMPTOMS | _UNSTABLE | {"train.vanishing_gradients"},
    "model.long_sequence": _UNSTABLE | {"train.vanishing_gradients", "train.not_learning"},
    "train.dead_units": _SYMPTOMS | {"train.vanishing_gradients"},
    "train.vanishing_gradients": _SYMPTOMS,
    "train.cannot_overfit_small": frozenset({"train.not_learning", "train.lr_too_low",
                                             "train.update_ratio"}),
    "train.diverges_early": frozenset({"train.exploding_gradients", "train.update_ratio"}),
    "train.not_learning": frozenset({"train.update_ratio"}),
    "train.lr_too_low": frozenset({"train.update_ratio"}),
}

# Most fundamental first: what stops a program, then the data and the model as written, then
# what training shows. Codes not listed come after, in the order the checks ran.
ORDER = ("model.forward_error", "data.non_finite", "train.nan_at_any_lr", "train.out_of_memory",
         "model.output_shape", "model.loss_target_mismatch", "model.constant_output",
         "model.output_activation", "model.no_nonlinearity", "data.unnormalized_inputs",
         "data.unscaled_targets", "data.split_mismatch", "data.constant_feature",
         "model.bad_init", "model.saturated_units", "model.long_sequence", "train.dead_units",
         "train.vanishing_gradients", "train.cannot_overfit_small", "train.diverges_early",
         "train.lr_too_low", "train.not_learning", "train.exploding_gradients",
         "train.update_ratio")
assert set(ORDER) <= set(CODES) and set(EXPLAINS) <= set(ORDER)
_PLACE = {code: i for i, code in enumerate(ORDER)}


def rank(findings: list[Finding]) -> list[Finding]:
    """Causes first (see the module's rule), each followed by every finding it explains,
    directly or through another consequence; sets each consequence's ``caused_by`` to the
    code of the finding that explains it directly."""
    place = {id(f): (_PLACE.get(f.code, len(ORDER)), i) for i, f in enumerate(findings)}
    causes = sorted((f for f in findings if f.severity >= Severity.WARNING and f.code in EXPLAINS),
                    key=lambda f: place[id(f)])
    direct: dict[int, Finding] = {}
    for finding in findings:
        cause = next((c for c in causes if place[id(c)] < place[id(finding)]
                      and finding.code in EXPLAINS[c.code]), None)
        finding.caused_by = cause.code if cause is not None else None
        if cause is not None:
            direct[id(finding)] = cause

    def root(f: Finding) -> Finding:
        while id(f) in direct:  # terminates: a cause always comes earlier in ORDER
            f = direct[id(f)]
        return f

    under: dict[int, list[Finding]] = {}
    for finding in findings:
        if id(finding) in direct:
            under.setdefault(id(root(finding)), []).append(finding)

    def loudest(f: Finding) -> int:
        return max([int(f.severity)] + [int(c.severity) for c in under.get(id(f), [])])

    ranked = []
    for finding in sorted((f for f in findings if id(f) not in direct),
                          key=lambda f: (-loudest(f), place[id(f)])):
        ranked.append(finding)
        ranked += sorted(under.get(id(finding), []), key=lambda f: place[id(f)])
    return ranked

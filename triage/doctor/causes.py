"""Cause first: findings that another finding explains are shown under it, as consequences.

A user reads the first line, so the first line must be the cause. The rule:

1. A finding is a *consequence* of another when that other is a warning or an error and its
   fault is known to produce this symptom (``EXPLAINS``: unnormalised inputs make training
   diverge; a network that cannot memorise 10 examples also shows a flat loss at the user's LR;
   dead ReLUs cut the gradient ...; each code declares what it explains, ``Code.explains``). A
   finding can only be explained by a cause earlier in ``ORDER`` (``Code.cause_order``:
   faults in the data and the model before what training shows), so no two findings explain
   each other; of several causes the earliest in ``ORDER`` is named.
2. Causes (findings explained by none) are ranked by the most severe of themselves and their
   consequences, then by ``ORDER``; each is followed by its consequences. So a warning that
   explains an error (inputs of mixed scale, which make the configured LR diverge) comes
   before unrelated warnings, and the error stays an error for the exit code.
3. Where fixes were tried (``verify``), a cause is what its fix repairs: a finding whose own
   fix reached a lower validation loss than its would-be cause's fix is no consequence of it,
   and causes of equal severity whose fixes were measured to help are ordered by the
   validation loss their fix reached, lowest first, among the places rule 2 gives them (a
   cause no probe can try, such as a wrong output activation, keeps its place). Two fixes
   whose losses differ by less than ``SAME_PLACE`` of the loss training started from reached
   the same place: rule 2 decides between them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from triage.doctor.findings import CODES, Finding, Severity

SAME_PLACE = 0.02  # fixes whose losses differ by less than this share of the start tie


def explains() -> dict[str, frozenset[str]]:
    """Cause code -> the codes it explains, from the codes' declarations (``Code.explains``)."""
    return {code: facts.explains for code, facts in CODES.items() if facts.explains}


def order() -> tuple[str, ...]:
    """The codes that have a place among causes, most fundamental first (what stops a program,
    then the data and the model as written, then what training shows), by ``Code.cause_order``.
    Codes not listed come after, in the order the checks ran."""
    ordered = sorted((facts.cause_order, code) for code, facts in CODES.items()
                     if facts.cause_order is not None)
    places = [place for place, _ in ordered]
    if len(set(places)) != len(places):
        raise ValueError(f"two codes share a cause_order: {ordered}")
    result = tuple(code for _, code in ordered)
    unplaced = set(explains()) - set(result)
    if unplaced:
        raise ValueError(f"codes that explain others need a cause_order: {sorted(unplaced)}")
    return result


def __getattr__(name: str) -> Any:
    """``EXPLAINS`` and ``ORDER``, derived from the codes declared now."""
    if name == "EXPLAINS":
        return explains()
    if name == "ORDER":
        return order()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def rank(findings: list[Finding]) -> list[Finding]:
    """Causes first (see the module's rule), each followed by every finding it explains,
    directly or through another consequence; sets each consequence's ``caused_by`` to the
    code of the finding that explains it directly."""
    ordered, explained = order(), explains()
    positions = {code: i for i, code in enumerate(ordered)}
    place = {id(f): (positions.get(f.code, len(ordered)), i) for i, f in enumerate(findings)}
    causes = sorted((f for f in findings if f.severity >= Severity.WARNING and f.code in explained),
                    key=lambda f: place[id(f)])
    direct: dict[int, Finding] = {}
    for finding in findings:
        cause = next((c for c in causes if place[id(c)] < place[id(finding)]
                      and finding.code in explained[c.code]
                      and not _repairs_more(finding, c)), None)
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

    tops = sorted((f for f in findings if id(f) not in direct),
                  key=lambda f: (-loudest(f), place[id(f)]))
    ranked = []
    for finding in _by_repair(tops, loudest):
        ranked.append(finding)
        ranked += sorted(under.get(id(finding), []), key=lambda f: place[id(f)])
    return ranked


def _by_repair(causes: list[Finding], loudest: Callable[[Finding], int]) -> list[Finding]:
    """``causes`` with, within each severity, the places of those whose fix was measured to
    help given to them in the order of the loss their fix reached (lowest first; fixes that
    reached the same place keep the order they had); the others keep their places."""
    result = list(causes)
    for severity in {loudest(f) for f in causes}:
        slots = [i for i, f in enumerate(causes)
                 if loudest(f) == severity and _repaired(f) is not None]
        ordered: list[Finding] = []
        for finding in (causes[i] for i in slots):  # an insertion sort: ties do not move
            at = len(ordered)
            while at > 0 and _repairs_more(finding, ordered[at - 1]):
                at -= 1
            ordered.insert(at, finding)
        for i, finding in zip(slots, ordered, strict=True):
            result[i] = finding
    return result


def _repaired(finding: Finding) -> float | None:
    """The validation loss (user's units) the finding's fix reached when tried and it helped."""
    tried = finding.verified or {}
    return tried.get("after_loss") if tried.get("helped") else None


def _repairs_more(finding: Finding, cause: Finding) -> bool:
    """Both fixes were tried and helped, and ``finding``'s reached a loss lower by more than
    ``SAME_PLACE`` of the loss training started from, the user's first step's (at init, so no
    LR has moved it yet; closer, both reached the same place)."""
    mine, theirs = _repaired(finding), _repaired(cause)
    if mine is None or theirs is None:
        return False
    start = (finding.verified or {}).get("first_loss")
    grain = SAME_PLACE * abs(start) if start is not None and math.isfinite(start) else 0.0
    return mine < theirs - grain

"""Studies shared by commands and workers: opened or created so that a rerun resumes, and
joined by many workers with one creator whose identity the others check."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import optuna
from optuna.storages import BaseStorage

from triage.errors import StorageError, first_line
from triage.storage import make_storage, redact


def open_study(storage: str | None, name: str) -> optuna.Study:
    """Create the study, or load it when it exists, so that a rerun resumes."""
    backend = make_storage(storage)
    try:
        return optuna.create_study(storage=backend, study_name=name, direction="minimize",
                                   load_if_exists=True)
    except Exception as exc:
        raise StorageError(f"cannot open study {name!r} in {redact(storage)!r}: "
                           f"{first_line(exc)}") from exc


READY = "triage"  # study user attribute: the identity of the command that created the study
# Every setting that changes a trial's result: a rerun that differs in one is refused.
_CHECKED = ("command", "task", "space", "sampler", "pruner", "precision", "seed", "epochs",
            "data", "lr_center", "lr_updater", "world_size")
_BEFORE = {"world_size": 1}  # what a study recorded before the key existed meant


def join_study(
    storage: BaseStorage | None,
    name: str,
    identity: dict[str, Any],
    sampler: optuna.samplers.BaseSampler,
    pruner: optuna.pruners.BasePruner,
    on_create: Callable[[optuna.Study], None] | None = None,
    storage_url: str | None = None,
    wait: float = 30.0,
) -> optuna.Study:
    """Create the study, or join it when it exists: the way many workers share one study.

    Exactly one worker creates it (the storage refuses a second creation), runs ``on_create``
    (queueing first trials) and then records ``identity``; the others wait up to ``wait``
    seconds for that record and check that it matches theirs, so that a study is never
    continued by a different command, task or search space.

    Raises:
        StorageError: the study belongs to another command, or was never finished being set up.
    """
    where = f"study {name!r} in {storage_url or 'memory'}"
    try:
        study = optuna.create_study(storage=storage, study_name=name, sampler=sampler,
                                    pruner=pruner, direction="minimize")
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(study_name=name, storage=storage, sampler=sampler,
                                  pruner=pruner)
    except Exception as exc:
        raise StorageError(f"cannot create {where}: {first_line(exc)}") from exc
    else:
        if on_create is not None:
            on_create(study)
        study.set_user_attr(READY, identity)
        return study
    if study.directions != [optuna.study.StudyDirection.MINIMIZE]:
        raise StorageError(f"{where} maximises or has several objectives; it was not made by "
                           "triage: choose another --study")
    deadline = time.monotonic() + wait
    while READY not in study.user_attrs:
        ran = study.get_trials(deepcopy=False, states=tuple(
            s for s in optuna.trial.TrialState if s != optuna.trial.TrialState.WAITING))
        if ran or time.monotonic() > deadline:  # (queued first trials are the creator's)
            raise StorageError(f"{where} was not created by 'triage sweep' (or its creator "
                               "stopped while setting it up); choose another --study")
        time.sleep(0.2)
    found = study.user_attrs[READY]
    for key in _CHECKED:
        had = found.get(key, _BEFORE.get(key))
        if had != identity.get(key, _BEFORE.get(key)):
            raise StorageError(
                f"{where} was created with {key}={had!r}, not {identity.get(key)!r}; "
                f"rerun with the study's settings (task {found.get('task')!r}, space "
                f"{found.get('space')!r}, sampler {found.get('sampler')!r}) or choose another "
                "--study")
    if found.get("space_doc") != identity.get("space_doc"):
        raise StorageError(f"{where} was created with a different version of space "
                           f"{found.get('space')!r}; restore that file or choose another --study")
    return study

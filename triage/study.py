"""Optuna glue: storage URLs, studies, and probes recorded as trials.

Every probe is one trial: its settings and evidence live in the trial's user attributes, so a
run interrupted at any point is resumed from its storage by running the same command again.
Completed probes are read back instead of being trained again.
"""

from __future__ import annotations

import json
import logging
import re
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import BaseStorage, RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.storages.journal import JournalFileBackend, JournalRedisBackend
from optuna.trial import TrialState

from triage.errors import StorageError, first_line
from triage.journal import HeartbeatJournalStorage
from triage.probe import ProbeResult, ProbeSettings, run_probe
from triage.task import PreparedTask

_RDB_SCHEMES = ("sqlite", "postgresql", "postgres", "mysql", "mariadb", "oracle", "mssql")


def make_storage(
    url: str | None,
    heartbeat_interval: int | None = None,
    grace_period: int | None = None,
    max_retry: int | None = None,
) -> BaseStorage | None:
    """A storage for ``url``: None (in memory), an RDB URL, ``redis://…``, or a journal file
    (``journal:///path/file.log`` or a plain path; Optuna's file journal, safe on NFS).

    Args:
        url: where the study lives.
        heartbeat_interval: seconds between heartbeats of running trials (RDB and journal
            storages), so that a killed worker's trial is failed once its heartbeat is older
            than ``grace_period`` (default twice the interval) instead of staying RUNNING.
            Only ``Study.optimize`` sends heartbeats; lr-find asks and tells its own trials and
            simply reruns a probe a crash left RUNNING.
        grace_period: see ``heartbeat_interval``.
        max_retry: with heartbeats, a stale trial is queued again (same parameters) up to this
            many times; 0 never retries.
    """
    if url is None:
        return None
    scheme = url.split(":", 1)[0].split("+", 1)[0].lower() if "://" in url else ""
    beat: dict[str, Any] = {}
    with warnings.catch_warnings():  # Optuna marks journal backends and retries experimental
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if heartbeat_interval is not None:
            beat = {"heartbeat_interval": heartbeat_interval, "grace_period": grace_period,
                    "heartbeat_stale_trial_callback": None if max_retry == 0 else
                    RetryHeartbeatStaleTrialCallback(max_retry)}
        try:
            if scheme in _RDB_SCHEMES:
                return RDBStorage(url, **beat)
            if scheme in ("redis", "rediss"):
                backend = JournalRedisBackend(url)
                backend._redis.ping()  # fail now, with the URL in the message, not mid-sweep
                return HeartbeatJournalStorage(backend, **beat)
            if scheme == "journal":  # journal:///abs/path.log or journal://rel/path.log
                url = url.split("://", 1)[1]
                scheme = ""
            if scheme:
                raise StorageError(
                    f"unknown storage scheme {scheme!r} in {url!r}; use sqlite:///file.db, "
                    "postgresql://…, mysql+pymysql://…, redis://…, journal:///file.log or a path"
                )
            path = Path(url)
            if not path.parent.is_dir():
                raise StorageError(f"folder {str(path.parent)!r} for journal {url!r} does not "
                                   "exist; create it or choose another path")
            return HeartbeatJournalStorage(JournalFileBackend(str(path)), **beat)
        except StorageError:
            raise
        except ImportError as exc:
            raise StorageError(
                f"no driver for storage {url!r} ({exc}); pip install 'triage[cluster]' (psycopg, "
                "pymysql, redis) and use postgresql://, mysql+pymysql:// or redis:// URLs"
            ) from exc
        except Exception as exc:
            raise StorageError(
                f"cannot open storage {url!r}: {first_line(exc)}; check the URL, the driver and "
                "that the server is running"
            ) from exc


def redact(url: str | None) -> str | None:
    """The storage URL without its password, safe to write into a config file."""
    return None if url is None else re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def open_study(storage: str | None, name: str) -> optuna.Study:
    """Create the study, or load it when it exists, so that a rerun resumes."""
    backend = make_storage(storage)
    try:
        return optuna.create_study(storage=backend, study_name=name, direction="minimize",
                                   load_if_exists=True)
    except Exception as exc:
        raise StorageError(f"cannot open study {name!r} in {storage!r}: {exc}") from exc


def quiet_optuna(level: int = logging.WARNING) -> None:
    """Silence Optuna's per-trial lines below ``level`` (the CLI shows its own progress; a sweep
    shows failed trials itself and passes ``logging.ERROR``)."""
    optuna.logging.set_verbosity(level)


def _key(settings: ProbeSettings) -> str:
    return json.dumps(settings.to_dict(), sort_keys=True)


class StudyProbeRunner:
    """Runs probes as trials of one study, reusing any already recorded there.

    Diverged and out-of-memory probes are recorded as FAIL with their evidence attached, so a
    sampler never sees a NaN objective; training errors are recorded as FAIL and re-raised.
    """

    def __init__(
        self,
        study: optuna.Study,
        prepared: PreparedTask,
        on_result: Callable[[str, ProbeResult, bool], None] | None = None,
    ) -> None:
        self.study = study
        self.prepared = prepared
        self.on_result = on_result
        self._done: dict[str, ProbeResult] = {}
        for trial in study.get_trials(deepcopy=False):
            finished = trial.state in (TrialState.COMPLETE, TrialState.FAIL)
            if finished and "probe" in trial.user_attrs:
                result = ProbeResult.from_dict(trial.user_attrs["probe"])
                self._done[_key(result.settings)] = result

    def __call__(self, settings: Sequence[ProbeSettings], phase: str) -> list[ProbeResult]:
        return [self._one(item, phase) for item in settings]

    def _one(self, settings: ProbeSettings, phase: str) -> ProbeResult:
        key = _key(settings)
        reused = key in self._done
        if not reused:
            self._done[key] = self._train(settings, phase)
        result = self._done[key]
        if self.on_result is not None:
            self.on_result(phase, result, reused)
        return result

    def _train(self, settings: ProbeSettings, phase: str) -> ProbeResult:
        trial = self.study.ask()
        trial.suggest_float("lr", settings.lr, settings.lr, log=True)
        trial.set_user_attr("phase", phase)
        trial.set_user_attr("settings", settings.to_dict())
        try:
            result = run_probe(self.prepared, settings)
        except BaseException:
            self.study.tell(trial, state=TrialState.FAIL)
            raise
        attrs: dict[str, Any] = {"probe": result.to_dict(), "diverged": result.diverged,
                                 "oom": result.oom}
        for name, value in attrs.items():
            trial.set_user_attr(name, value)
        if result.ok:
            self.study.tell(trial, result.objective)
        else:
            self.study.tell(trial, state=TrialState.FAIL)
        return result


READY = "triage"  # study user attribute: the identity of the command that created the study
_CHECKED = ("command", "task", "space", "sampler", "lr_center", "lr_updater")


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
        if found.get(key) != identity.get(key):
            raise StorageError(
                f"{where} was created with {key}={found.get(key)!r}, not {identity.get(key)!r}; "
                f"rerun with the study's settings (task {found.get('task')!r}, space "
                f"{found.get('space')!r}, sampler {found.get('sampler')!r}) or choose another "
                "--study")
    if found.get("space_doc") != identity.get("space_doc"):
        raise StorageError(f"{where} was created with a different version of space "
                           f"{found.get('space')!r}; restore that file or choose another --study")
    return study

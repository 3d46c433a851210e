"""Optuna glue: storage URLs, studies, and probes recorded as trials.

Every probe is one trial: its settings and evidence live in the trial's user attributes, so a
run interrupted at any point is resumed from its storage by running the same command again.
Completed probes are read back instead of being trained again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend, JournalRedisBackend
from optuna.trial import TrialState

from triage.errors import StorageError, first_line
from triage.probe import ProbeResult, ProbeSettings, run_probe
from triage.task import PreparedTask

_RDB_SCHEMES = ("sqlite", "postgresql", "postgres", "mysql", "mariadb", "oracle", "mssql")


def make_storage(url: str | None, heartbeat_interval: int | None = None) -> BaseStorage | None:
    """A storage for ``url``: None (in memory), an RDB URL, ``redis://…``, or a journal file
    (``journal:///path/file.log`` or a plain path; Optuna's file journal, safe on NFS).

    Args:
        url: where the study lives.
        heartbeat_interval: for RDB storages used with ``Study.optimize``: seconds between
            heartbeats, so a killed worker's trials are failed instead of staying RUNNING.
            (lr-find asks and tells its own trials and does not need it: a probe left RUNNING
            by a crash is simply run again on resume.)
    """
    if url is None:
        return None
    scheme = url.split(":", 1)[0].split("+", 1)[0].lower() if "://" in url else ""
    try:
        if scheme in _RDB_SCHEMES:
            return RDBStorage(url, heartbeat_interval=heartbeat_interval)
        if scheme in ("redis", "rediss"):
            return JournalStorage(JournalRedisBackend(url))
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
            raise StorageError(f"folder {str(path.parent)!r} for journal {url!r} does not exist; "
                               "create it or choose another path")
        return JournalStorage(JournalFileBackend(str(path)))
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


def open_study(storage: str | None, name: str) -> optuna.Study:
    """Create the study, or load it when it exists, so that a rerun resumes."""
    backend = make_storage(storage)
    try:
        return optuna.create_study(storage=backend, study_name=name, direction="minimize",
                                   load_if_exists=True)
    except Exception as exc:
        raise StorageError(f"cannot open study {name!r} in {storage!r}: {exc}") from exc


def quiet_optuna() -> None:
    """Silence Optuna's per-trial INFO lines (the CLI shows its own progress)."""
    optuna.logging.set_verbosity(logging.WARNING)


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

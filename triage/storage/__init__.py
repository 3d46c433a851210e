"""Where studies live: Optuna storage URLs opened as storages (heartbeats and retries included),
passwords kept out of outputs, and Optuna's own logging quietened for the CLI.

Commands never open a storage themselves; they ask ``make_storage`` and the study helpers in
``triage.storage.studies``.
"""

from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import BaseStorage, RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.storages.journal import JournalFileBackend, JournalRedisBackend

from triage.errors import StorageError, first_line
from triage.optuna_private import ping_redis
from triage.storage.journal import HeartbeatJournalStorage

__all__ = ["HeartbeatJournalStorage", "make_storage", "quiet_optuna", "redact"]

RDB_SCHEMES = ("sqlite", "postgresql", "postgres", "mysql", "mariadb", "oracle", "mssql")


def scheme_of(url: str) -> str:
    """A storage URL's scheme without its driver (``mysql+pymysql://`` -> ``mysql``); "" for a
    plain path."""
    return url.split(":", 1)[0].split("+", 1)[0].lower() if "://" in url else ""


def local_file(url: str) -> Path | None:
    """The file a journal path or an SQLite URL names (None for a server's URL)."""
    scheme = scheme_of(url)
    if scheme == "":
        return Path(url)
    if scheme in ("journal", "sqlite"):
        path = url.split("://", 1)[1]
        return Path(path[1:] if scheme == "sqlite" and path.startswith("/") else path)
    return None


def opening_error(url: str, exc: Exception) -> StorageError:
    """The one line for a storage that could not be opened: a missing driver, or anything else
    the driver or server said."""
    if isinstance(exc, ImportError):
        return StorageError(
            f"no driver for storage {url!r} ({exc}); pip install 'triage[cluster]' (psycopg, "
            "pymysql, redis) and use postgresql://, mysql+pymysql:// or redis:// URLs")
    return StorageError(f"cannot open storage {url!r}: {first_line(exc)}; check the URL, the "
                        "driver and that the server is running")


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
    scheme = scheme_of(url)
    beat: dict[str, Any] = {}
    with warnings.catch_warnings():  # Optuna marks journal backends and retries experimental
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if heartbeat_interval is not None:
            beat = {"heartbeat_interval": heartbeat_interval, "grace_period": grace_period,
                    "heartbeat_stale_trial_callback": None if max_retry == 0 else
                    RetryHeartbeatStaleTrialCallback(max_retry)}
        try:
            if scheme in RDB_SCHEMES:
                return RDBStorage(url, **beat)
            if scheme == "grpc":  # triage storage-proxy, in front of a database
                from triage.storage.proxy import connect

                return connect(url, **beat)
            if scheme in ("redis", "rediss"):
                backend = JournalRedisBackend(url)
                ping_redis(backend)  # fail now, with the URL in the message, not mid-sweep
                return HeartbeatJournalStorage(backend, **beat)
            if scheme == "journal":  # journal:///abs/path.log or journal://rel/path.log
                url = url.split("://", 1)[1]
                scheme = ""
            if scheme:
                raise StorageError(
                    f"unknown storage scheme {scheme!r} in {url!r}; use sqlite:///file.db, "
                    "postgresql://…, mysql+pymysql://…, redis://…, grpc://host:port (triage "
                    "storage-proxy), journal:///file.log or a path"
                )
            path = Path(url)
            if not path.parent.is_dir():
                raise StorageError(f"folder {str(path.parent)!r} for journal {url!r} does not "
                                   "exist; create it or choose another path")
            return HeartbeatJournalStorage(JournalFileBackend(str(path)), **beat)
        except StorageError:
            raise
        except Exception as exc:
            raise opening_error(url, exc) from exc


def redact(url: str | None) -> str | None:
    """The storage URL without its password, safe to write into a config file."""
    return None if url is None else re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def quiet_optuna(level: int = logging.WARNING) -> None:
    """Silence Optuna's per-trial lines below ``level`` (the CLI shows its own progress; a sweep
    shows failed trials itself and passes ``logging.ERROR``)."""
    optuna.logging.set_verbosity(level)

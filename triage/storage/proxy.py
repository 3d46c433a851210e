"""Many workers on one study through Optuna's gRPC storage proxy.

An RDB storage costs every worker tens of round trips per trial; Optuna's proxy
(``run_grpc_proxy_server``) holds one cached connection to the database and serves the workers
over gRPC, and its client (``GrpcStorageProxy``) caches finished trials. ``triage
storage-proxy --storage postgresql://...`` runs the server; workers pass ``--storage
grpc://host:port``. Optuna's client has no heartbeat, so ``HeartbeatGrpcProxy`` adds triage's
(see ``triage.storage.heartbeat``): a killed worker's trial is failed and retried as with the
RDB and journal storages.
"""

from __future__ import annotations

import contextlib
import re
from typing import TYPE_CHECKING

from triage.errors import StorageError
from triage.optuna_private import HeartbeatGrpcProxyBase
from triage.storage.heartbeat import AttrHeartbeat, StaleCallback

if TYPE_CHECKING:
    from optuna.storages import BaseStorage

DEFAULT_PORT = 13000
CONNECT_SECONDS = 10.0


class HeartbeatGrpcProxy(AttrHeartbeat, HeartbeatGrpcProxyBase):
    """A gRPC proxy client whose running trials send heartbeats (see ``AttrHeartbeat``).

    Args:
        host, port: where ``triage storage-proxy`` listens.
        heartbeat_interval, grace_period, heartbeat_stale_trial_callback: see
            ``AttrHeartbeat.setup_heartbeat``.
    """

    def __init__(
        self,
        host: str,
        port: int,
        heartbeat_interval: int | None = None,
        grace_period: int | None = None,
        heartbeat_stale_trial_callback: StaleCallback | None = None,
    ) -> None:
        super().__init__(host=host, port=port)
        self.setup_heartbeat(heartbeat_interval, grace_period, heartbeat_stale_trial_callback)

    def record_heartbeat(self, trial_id: int) -> None:
        import grpc

        # A beat runs in Optuna's heartbeat thread: a lost proxy is reported once, by the
        # worker's own next call, not as a thread's traceback.
        with contextlib.suppress(grpc.RpcError):
            super().record_heartbeat(trial_id)


def parse_grpc_url(url: str) -> tuple[str, int]:
    """``grpc://host:port`` (port default 13000) as (host, port).

    Raises:
        StorageError: not such a URL.
    """
    match = re.fullmatch(r"grpc://([^:/]+)(?::(\d+))?/?", url)
    if match is None:
        raise StorageError(f"bad proxy URL {url!r}; use grpc://host:port, where "
                           "`triage storage-proxy` listens")
    return match.group(1), int(match.group(2) or DEFAULT_PORT)


def connect(url: str, **beat: object) -> HeartbeatGrpcProxy:
    """A client for the proxy at ``url``, once the proxy answers.

    Raises:
        StorageError: no proxy answers within ``CONNECT_SECONDS``.
    """
    host, port = parse_grpc_url(url)
    proxy = HeartbeatGrpcProxy(host, port, **beat)  # type: ignore[arg-type]
    try:
        proxy.wait_server_ready(timeout=CONNECT_SECONDS)
    except ConnectionError as exc:
        proxy.close()
        raise StorageError(f"no storage proxy answers at {url} after {CONNECT_SECONDS:g} s; "
                           "start it with `triage storage-proxy --storage <database URL> "
                           f"--port {port}` on {host}") from exc
    return proxy


def proxied_storage(url: str) -> BaseStorage:
    """The database storage the proxy serves (Optuna's cached RDB storage).

    Raises:
        StorageError: not an RDB URL, or the database cannot be opened.
    """
    import optuna

    from triage.storage import RDB_SCHEMES, opening_error, scheme_of

    if scheme_of(url) not in RDB_SCHEMES:
        raise StorageError(f"the storage proxy serves a database (postgresql://, "
                           f"mysql+pymysql://, sqlite:///), not {url!r}: Optuna's gRPC proxy "
                           "does not support journal storages; give workers the journal directly")
    try:
        return optuna.storages.get_storage(url)
    except Exception as exc:
        raise opening_error(url, exc) from exc


def serve(url: str, host: str, port: int) -> None:
    """Run the proxy for the database at ``url`` until interrupted (blocks); it logs
    warnings and errors only, not a line per trial."""
    import logging
    import warnings

    import optuna

    storage = proxied_storage(url)
    with warnings.catch_warnings():  # Optuna marks the proxy experimental
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        logging.getLogger("optuna.storages._grpc.servicer").setLevel(logging.WARNING)
        optuna.storages.run_grpc_proxy_server(storage, host=host, port=port)

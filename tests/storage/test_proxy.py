import socket

import optuna
import pytest
import yaml
from click.testing import CliRunner

from triage.cli import cli
from triage.errors import StorageError
from triage.storage import make_storage
from triage.storage.proxy import HeartbeatGrpcProxy, parse_grpc_url

import tasks
from servers import free_port, start_proxy


@pytest.mark.parametrize(("url", "expected"), [
    ("grpc://node7:14000", ("node7", 14000)),
    ("grpc://10.0.0.2", ("10.0.0.2", 13000)),
    ("grpc://localhost:13001/", ("localhost", 13001)),
])
def test_parses_proxy_urls(url, expected):
    assert parse_grpc_url(url) == expected


@pytest.mark.parametrize("url", ["grpc://", "grpc://host:port", "grpc://a:1/b"])
def test_bad_proxy_urls_say_the_form(url):
    with pytest.raises(StorageError, match="use grpc://host:port"):
        make_storage(url)


def test_no_proxy_listening_is_one_line_naming_the_command(monkeypatch):
    monkeypatch.setattr("triage.storage.proxy.CONNECT_SECONDS", 0.5)
    port = free_port()
    with pytest.raises(StorageError, match=f"start it with `triage storage-proxy .* --port {port}"):
        make_storage(f"grpc://127.0.0.1:{port}")


@pytest.mark.parametrize(("storage", "message"), [
    ("studies.log", "does not support journal storages"),
    ("redis://127.0.0.1:6379", "does not support journal storages"),
    ("postgresql://nobody@127.0.0.1:1/none", "cannot open storage"),
])
def test_the_proxy_refuses_what_it_cannot_serve_in_one_line(storage, message):
    result = CliRunner().invoke(cli, ["storage-proxy", "--storage", storage, "--port",
                                      str(free_port())])
    assert result.exit_code == 2
    assert message in result.output.strip().splitlines()[-1] and "Traceback" not in result.output


def test_studies_and_reports_work_through_the_proxy(tmp_path):
    proxy, url = start_proxy(f"sqlite:///{tmp_path}/s.db")
    try:
        storage = make_storage(url, heartbeat_interval=1)
        assert isinstance(storage, HeartbeatGrpcProxy) and storage.get_heartbeat_interval() == 1
        study = optuna.create_study(storage=storage, study_name="through")
        study.optimize(lambda t: (t.suggest_float("x", -1, 1)) ** 2, n_trials=4)
        again = optuna.load_study(study_name="through", storage=make_storage(url))
        assert [t.value for t in again.trials] == [t.value for t in study.trials]
    finally:
        proxy.kill()
        proxy.wait()


def test_sweep_and_report_through_the_proxy(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    proxy, url = start_proxy(f"sqlite:///{tmp_path}/s.db")
    try:
        runner = CliRunner()
        swept = runner.invoke(cli, ["sweep", f"{tasks.__file__}:blobs", "--trials", "3",
                                    "--no-plot", "--storage", url])
        assert swept.exit_code == 0, swept.output
        again = runner.invoke(cli, ["report", "--storage", url, "--out", "again.yaml",
                                    "--no-plot"])
        assert again.exit_code == 0, again.output
        assert yaml.safe_load((tmp_path / "again.yaml").read_text()) == \
            yaml.safe_load((tmp_path / "triage-sweep.yaml").read_text())
    finally:
        proxy.kill()
        proxy.wait()


def _outward_address():
    """This machine's address on its default route, or None (loopback only)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))  # no packet is sent
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


def test_the_proxy_listens_on_loopback_unless_told(tmp_path):
    outward = _outward_address()
    if outward is None:
        pytest.skip("this machine has no address but loopback")
    proxy, url = start_proxy(f"sqlite:///{tmp_path}/s.db", host=None)  # the default
    try:
        port = int(url.rsplit(":", 1)[1])
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        with pytest.raises(OSError):
            socket.create_connection((outward, port), timeout=2).close()
    finally:
        proxy.kill()
        proxy.wait()

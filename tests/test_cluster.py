"""Many workers on one study, a worker killed mid-trial and restarted: PostgreSQL, MySQL, Redis
journal, journal file, and PostgreSQL through the gRPC storage proxy. Workers are real
`triage sweep` processes."""

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from triage.storage import make_storage
from triage.sweeper import SweepSettings, sweep
from triage.sweeper.space_file import parse_space

import tasks
from servers import server_url, start_proxy

TASK = f"{Path(tasks.__file__).resolve()}:slow_blobs"
SPACE = {"version": 1, "params": {"lr": 0.1, "optimizer": {"choices": ["sgd_nesterov"]},
                                  "batch_size": {"choices": [16, 32]},
                                  "init": {"choices": ["xavier", "he", "lecun"]}}}
POINTS = 6
BUDGET = 20  # trainings: the six points (81 steps) and a final stage fit in its 180 steps


def _search(trials):
    return [t for t in trials if t.user_attrs.get("stage") != "final"]


def _finals(trials):
    return [t for t in trials if t.user_attrs.get("stage") == "final"]


@pytest.fixture(scope="module")
def uninterrupted():
    """The same sweep in one process, in memory: what every cluster run must reproduce."""
    return sweep(tasks.slow_blobs(), parse_space(SPACE, "grid6"),
                 SweepSettings(trials=POINTS, budget=BUDGET, sampler="grid", pruner="none",
                               device="cpu"), storage=None)


@pytest.fixture
def proxies():
    """Storage proxies started by a test, stopped after it."""
    started = []
    yield started
    for proxy in started:
        proxy.kill()
        proxy.wait()


def _storage(kind, tmp_path, proxies=None):
    if kind.startswith("journal"):
        return f"journal:///{tmp_path}/studies.log"
    if kind == "grpc":  # workers reach PostgreSQL through triage storage-proxy
        proxy, url = start_proxy(server_url("postgresql"))
        proxies.append(proxy)
        return url
    return server_url(kind)


def _worker(url, study, tmp_path, index, *extra):
    space = tmp_path / "grid6.yaml"
    if not space.exists():
        space.write_text(yaml.safe_dump(SPACE))
    command = [sys.executable, "-m", "triage.cli", "sweep", TASK, "--space", str(space),
               "--sampler", "grid", "--pruner", "none", "--trials", str(POINTS), "--budget",
               str(BUDGET), "--storage",
               url, "--study", study, "--heartbeat", "1", "--device", "cpu", "--no-plot",
               "--out", str(tmp_path / f"best{index}.yaml"), *extra]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            text=True)


# A guard against a hung test only: every wait below ends on an event (a study created, a
# trial started, a worker exited), never on a time that load could exceed.
HANG = 600


def _until(condition, workers, what):
    """Poll ``condition()`` until it returns something truthy and return that; a worker
    that exits first fails the test with its error output."""
    deadline = time.monotonic() + HANG
    while True:
        found = condition()
        if found:
            return found
        for worker in workers:
            if worker.poll() is not None:
                _, err = worker.communicate()
                raise AssertionError(f"a worker exited ({worker.returncode}) before {what}: "
                                     f"{err[-3000:]}")
        assert time.monotonic() < deadline, f"hung: no {what} in {HANG} s"
        time.sleep(0.05)


def _gone(pid):
    """The process has exited: no such process, or a zombie not yet reaped (once the parent
    that started it has exited, the machine's init reaps it when it gets to it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def _study(url, name, workers):
    """The study, once a worker has created it."""

    def load():
        with contextlib.suppress(KeyError):
            return optuna.load_study(study_name=name, storage=make_storage(url))
        return None

    return _until(load, workers, "the study was created")


def _running_trial_of(study, worker):
    """The number of the trial ``worker`` runs, once it runs one."""

    def running():
        for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if trial.user_attrs.get("worker", "").endswith(f":{worker.pid}"):
                return str(trial.number)  # (trial 0 is falsy)
        return None

    return int(_until(running, [worker], "it ran a trial"))


# journal-lock: the killed worker held the journal file's lock, so every other worker's writes
# (heartbeats too) wait 30 s for Optuna to break it; no live trial may be taken for stale then.
@pytest.mark.parametrize("kind", ["postgresql", "mysql", "redis", "journal", "journal-lock",
                                  "grpc"])
def test_workers_share_a_study_and_a_killed_workers_trial_is_retried(kind, tmp_path,
                                                                     uninterrupted, proxies):
    url = _storage(kind, tmp_path, proxies)
    name = f"cluster-{uuid.uuid4().hex[:8]}"
    workers = [_worker(url, name, tmp_path, i) for i in range(3)]
    try:
        study = _study(url, name, workers)
        killed = _running_trial_of(study, workers[0])
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait()
        if kind == "journal-lock":
            log = url.split("://", 1)[1]
            with contextlib.suppress(FileExistsError):  # it may really have died holding it
                os.symlink(log, log + ".lock")
        workers.append(_worker(url, name, tmp_path, 3))  # restart it
        outputs = [w.communicate(timeout=HANG) for w in workers[1:]]
        for worker, (_, err) in zip(workers[1:], outputs, strict=True):
            assert worker.returncode == 0, err
        trials = study.get_trials(deepcopy=False)
        complete = [t for t in trials if t.state == TrialState.COMPLETE]
        failed = [t for t in trials if t.state == TrialState.FAIL]
        # besides the killed trial, only grid surplus (two workers asking at the same moment
        # at the very end) may fail; it is left out of every count and table
        assert [t.number for t in failed if not t.user_attrs.get("surplus")] == [killed], [
            (t.number, t.user_attrs, t.system_attrs) for t in failed]
        assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
        search = _search(complete)
        assert len(search) == POINTS  # every grid point once: nothing lost, none repeated
        assert len({tuple(sorted(t.params.items())) for t in search}) == POINTS
        finals = _finals(complete)  # the final stage, queued once whoever got there first
        assert len(finals) == uninterrupted.table["stage"].str.startswith("final").sum()
        assert len({t.system_attrs["fixed_params"]["final"] for t in finals}) == len(finals)
        retried = [t for t in complete if t.system_attrs.get("retry_history") == [killed]]
        # the retry runs the killed trial's grid point (it may have died mid-way through
        # recording its parameters, so compare the queued point itself)
        assert len(retried) == 1
        point = study.trials[killed].system_attrs["fixed_params"]
        assert retried[0].params == point
        best = yaml.safe_load((tmp_path / "best1.yaml").read_text())
        expected = uninterrupted.best.to_dict()
        for key in ("optimizer", "batch_size", "init", "schedule"):
            assert best[key] == expected[key]
        for key in ("val_loss", "score"):  # a retry trains on its original's seed
            assert best["sweep"][key] == pytest.approx(expected["sweep"][key])
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
        if not kind.startswith("journal"):
            with contextlib.suppress(Exception):
                optuna.delete_study(study_name=name, storage=make_storage(url))


def test_a_worker_that_loses_the_proxy_stops_in_one_line_and_rejoins_a_new_one(tmp_path,
                                                                               proxies):
    database = f"sqlite:///{tmp_path}/studies.db"
    proxy, url = start_proxy(database)
    proxies.append(proxy)
    worker = _worker(url, "lost", tmp_path, 0)
    study = _study(database, "lost", [worker])
    _running_trial_of(study, worker)
    proxy.kill()
    proxy.wait()
    _, err = worker.communicate(timeout=HANG)
    assert worker.returncode == 3, err
    assert err.strip().splitlines()[-1].startswith("error: lost the storage proxy")
    assert "Traceback" not in err
    again, url = start_proxy(database, port=int(url.rsplit(":", 1)[1]))
    proxies.append(again)
    rerun = _worker(url, "lost", tmp_path, 1)
    _, err = rerun.communicate(timeout=HANG)
    assert rerun.returncode == 0, err
    complete = _search(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    assert len({tuple(sorted(t.params.items())) for t in complete}) == len(complete) == POINTS


def test_ctrl_c_leaves_a_resumable_study_and_says_how(tmp_path, uninterrupted):
    url = f"{tmp_path}/studies.log"
    worker = _worker(url, "interrupted", tmp_path, 0)
    study = _study(url, "interrupted", [worker])
    stopped = _running_trial_of(study, worker)
    worker.send_signal(signal.SIGINT)
    _, err = worker.communicate(timeout=HANG)
    assert worker.returncode == 130
    assert "rerun the same command to resume" in err and "Traceback" not in err
    waiting = study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
    assert study.trials[stopped].params in [t.params for t in waiting]
    rerun = _worker(url, "interrupted", tmp_path, 1)
    _, err = rerun.communicate(timeout=HANG)
    assert rerun.returncode == 0, err
    complete = _search(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    assert len({tuple(sorted(t.params.items())) for t in complete}) == len(complete) == POINTS
    best = yaml.safe_load((tmp_path / "best1.yaml").read_text())
    assert best["batch_size"] == uninterrupted.best.batch_size
    assert best["sweep"]["score"] == pytest.approx(uninterrupted.best.sweep["score"])


def test_ctrl_c_stops_every_local_worker_and_queues_their_trials_again(tmp_path, uninterrupted):
    url = f"{tmp_path}/studies.log"
    parent = _worker(url, "local", tmp_path, 0, "--workers", "2")
    try:
        study = _study(url, "local", [parent])

        def both_running():
            running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
            pids = {int(t.user_attrs.get("worker", ":0").rsplit(":", 1)[1]) for t in running}
            return pids if len(pids) == 2 else None

        pids = _until(both_running, [parent], "both workers ran a trial at once")
        parent.send_signal(signal.SIGINT)  # the parent alone, as a scheduler's signal would
        _, err = parent.communicate(timeout=HANG)
        assert parent.returncode == 130, err
        assert "rerun the same command to resume" in err and "Traceback" not in err
        child = (pids - {parent.pid}).pop()
        assert _gone(child)  # the spawned worker is gone too
        assert not study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        waiting = study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
        assert len(waiting) >= 2  # both interrupted trials queued again
        rerun = _worker(url, "local", tmp_path, 1, "--workers", "2")
        _, err = rerun.communicate(timeout=HANG)
        assert rerun.returncode == 0, err
        complete = _search(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
        assert len({tuple(sorted(t.params.items())) for t in complete}) == len(complete) == POINTS
    finally:
        if parent.poll() is None:
            parent.kill()

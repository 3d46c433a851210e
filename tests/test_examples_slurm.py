"""The SLURM array-job script runs as written: two array tasks against one journal storage,
with `srun` replaced by a shim that runs its command (there is no SLURM here)."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import optuna
import yaml
from optuna.trial import TrialState

from triage.storage import make_storage

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "examples" / "slurm" / "sweep.sbatch"


def test_array_tasks_share_one_study(tmp_path):
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "srun").write_text('#!/bin/sh\nexec "$@"\n')
    (shim / "srun").chmod(0o755)
    storage = f"journal:///{tmp_path}/studies.log"
    base = {**os.environ, "PATH": f"{shim}:{os.environ['PATH']}", "TRIAGE_STORAGE": storage,
            "TASK": f"{ROOT}/tests/tasks.py:blobs", "TRIALS": "4", "BUDGET": "60",
            "OUT_DIR": str(tmp_path),
            "SLURM_LOCALID": "0"}
    workers = [subprocess.Popen(["bash", str(SCRIPT)], cwd=tmp_path, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env={**base, "SLURM_ARRAY_TASK_ID": str(i)}) for i in range(2)]
    for worker in workers:
        _, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err
    configs = [yaml.safe_load((tmp_path / f"best-{i}.yaml").read_text()) for i in range(2)]
    assert configs[0] == configs[1]  # both report the same study's best trial
    assert configs[0]["sweep"]["budget"]["trainings"] == 60
    study = optuna.load_study(study_name="triage-sweep-blobs-default",
                              storage=make_storage(storage))
    stages = [t.user_attrs.get("stage", "search") for t in study.get_trials(
        states=(TrialState.COMPLETE, TrialState.PRUNED)) if not t.user_attrs.get("surplus")]
    assert stages.count("search") == 4 and "final" in stages


def test_missing_storage_is_refused_with_advice(tmp_path):
    result = subprocess.run(["bash", str(SCRIPT)], cwd=tmp_path, capture_output=True, text=True,
                            env={k: v for k, v in os.environ.items() if k != "TRIAGE_STORAGE"})
    assert result.returncode != 0 and "set TRIAGE_STORAGE" in result.stderr


DDP = ROOT / "examples" / "slurm" / "ddp.sbatch"


def test_the_ddp_job_plans_and_sweeps_across_its_ranks(tmp_path):
    """One node, 2 processes on the CPU (gloo), `srun` and `scontrol` replaced by shims: the
    lr-find of the script, then a sweep from its config whose trials are DDP jobs."""
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "srun").write_text('#!/bin/sh\nexec "$@"\n')
    (shim / "scontrol").write_text('#!/bin/sh\necho localhost\n')
    for tool in ("srun", "scontrol"):
        (shim / tool).chmod(0o755)
    with socket.socket() as free:  # the rendezvous port (a real job uses a fixed one)
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    env = {**os.environ, "PATH": f"{shim}:{Path(sys.executable).parent}:{os.environ['PATH']}",
           "TASK": f"{ROOT}/tests/tasks.py:blobs", "BATCH": "8", "GPUS_PER_NODE": "2",
           "SLURM_NNODES": "1", "SLURM_JOB_NODELIST": "localhost", "SLURM_JOB_ID": "7",
           "PORT": str(port), "GLOO_SOCKET_IFNAME": "lo"}
    planned = subprocess.run(["bash", str(DDP)], cwd=tmp_path, capture_output=True, text=True,
                             env=env, timeout=600)
    assert planned.returncode == 0, planned.stderr
    config = yaml.safe_load((tmp_path / "results" / "lr-find.yaml").read_text())
    assert config["world_size"] == 2 and config["effective_batch_size"] == 16
    assert "DDP job across its 2 processes" in " ".join(planned.stderr.split())
    swept = subprocess.run(["bash", str(DDP)], cwd=tmp_path, capture_output=True, text=True,
                           env={**env, "MODE": "sweep", "BUDGET": "20",
                                "FROM": "results/lr-find.yaml"}, timeout=600)
    assert swept.returncode == 0, swept.stderr
    best = yaml.safe_load((tmp_path / "results" / "sweep-0.yaml").read_text())
    assert best["world_size"] == 2 and best["sweep"]["trials"]["complete"] >= 1
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == [
        "lr-find.yaml", "sweep-0.yaml", "triage-ddp.log"]

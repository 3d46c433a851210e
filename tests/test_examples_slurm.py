"""The SLURM array-job script runs as written: two array tasks against one journal storage,
with `srun` replaced by a shim that runs its command (there is no SLURM here)."""

import os
import subprocess
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

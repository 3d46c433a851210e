import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from click.testing import CliRunner
from torch import nn

from triage import load_config
from triage.cli import cli

import tasks

TASKS = Path(__file__).parent / "tasks.py"
FAST = ["--max-steps", "600"]


def test_help_does_not_import_torch_or_optuna():
    code = ("import sys; from click.testing import CliRunner; from triage.cli import cli; "
            "r = CliRunner().invoke(cli, ['--help']); assert r.exit_code == 0, r.output; "
            "r = [CliRunner().invoke(cli, [c, '--help']) for c in ('lr-find', 'sweep', 'report')]; "
            "assert all(x.exit_code == 0 for x in r), r; "
            "heavy = [m for m in ('torch', 'optuna', 'numpy', 'pandas', 'matplotlib', 'rich') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_lr_find_writes_config_plot_and_summary(run, tmp_path):
    result = run("lr-find", f"{TASKS}:blobs", *FAST)
    assert result.exit_code == 0, result.output
    config = load_config(tmp_path / "triage.yaml")
    assert config.task == "blobs" and config.version == 1
    assert (tmp_path / "triage.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "recommended LR" in result.output
    assert "at once in worker processes" in result.stderr or "one at a time" in result.stderr
    doc = yaml.safe_load((tmp_path / "triage.yaml").read_text())
    assert set(doc) == {"version", "task", "optimizer", "batch_size", "init", "schedule",
                        "grad_clip_norm", "dropout", "precision", "world_size",
                        "effective_batch_size", "warmup_epochs", "lr_find"}
    assert set(doc["optimizer"]) == {"name", "lr", "momentum", "nesterov", "weight_decay"}
    assert {"max_stable_lr", "divergence_lr", "backoff", "rule", "probes"} <= set(doc["lr_find"])
    probe = doc["lr_find"]["probes"][0]
    assert {"lr", "steps", "diverged", "divergence_step", "losses"} <= set(probe)


def test_json_prints_only_the_document_on_stdout(tmp_path):
    result = CliRunner().invoke(cli, ["lr-find", f"{TASKS}:blobs", "--json", "--no-plot",
                                      "--out", str(tmp_path / "c.yaml"), *FAST])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc == yaml.safe_load((tmp_path / "c.yaml").read_text())
    assert "recommended LR" in result.stderr
    assert not (tmp_path / "c.png").exists()


def test_options_reach_the_config(run, tmp_path):
    result = run("lr-find", f"{TASKS}:blobs", "--optimizer", "adam", "--batch-size", "16",
                 "--init", "xavier", "--seed", "2", "--plot", "p.png", "--out", "o.yaml", *FAST)
    assert result.exit_code == 0, result.output
    config = load_config(tmp_path / "o.yaml")
    assert (config.optimizer.name, config.batch_size, config.init) == ("adam", 16, "xavier")
    assert config.lr_find.seed == 2
    assert (tmp_path / "p.png").exists()


def test_the_users_own_updater_is_kept(run, tmp_path):
    result = run("lr-find", f"{TASKS}:lbfgs_regression", "--batch-size", "96", "--no-plot",
                 *FAST)
    assert result.exit_code == 0, result.output
    assert "task (the Task's own optimizer)" in result.stdout
    config = load_config(tmp_path / "triage.yaml")
    assert (config.optimizer.name, config.optimizer.momentum) == ("task", 0.0)
    assert type(config.make_optimizer(nn.Linear(2, 1).parameters(), factory=tasks.lbfgs())
                ) is torch.optim.LBFGS
    result = run("lr-find", f"{TASKS}:blobs", "--optimizer", "nadam", "--no-plot", *FAST)
    assert result.exit_code == 0, result.output
    assert load_config(tmp_path / "triage.yaml").optimizer.name == "NAdam"


def test_storage_resume_from_the_cli(run, tmp_path):
    args = ["lr-find", f"{TASKS}:blobs", "--storage", f"sqlite:///{tmp_path / 's.db'}",
            "--no-plot", *FAST]
    first = run(*args)
    second = run(*args)
    assert first.exit_code == second.exit_code == 0
    assert "(from storage)" in second.output and "(from storage)" not in first.output


def test_default_task_is_the_bundled_example(run):
    result = run("lr-find", "--no-plot", "--max-steps", "400", "--steps", "20")
    assert result.exit_code == 0, result.output
    assert "bundled example 'digits_mlp'" in result.stderr


BAD = [
    (["no_such_module_xyz:task"], "cannot import module"),
    ([f"{TASKS}:missing"], "has no attribute 'missing'"),
    ([f"{TASKS}:not_a_task"], "not a triage.Task"),
    ([f"{TASKS}:raises"], "raised RuntimeError"),
    ([f"{TASKS}:always_nan"], "not the learning rate"),
    ([f"{TASKS}:blobs", "--optimizer", "lamb"], "unknown optimizer 'lamb'; use sgd, adam"),
    ([f"{TASKS}:blobs", "--optimizer", "task"], "optimizer 'task' is the Task's own, and this"),
    ([f"{TASKS}:blobs", "--init", "glorot"], "unknown init 'glorot'"),
    ([f"{TASKS}:blobs", "--batch-size", "0"], "batch_size must be a positive integer"),
    ([f"{TASKS}:blobs", "--batch-size", "-8"], "batch_size must be a positive integer"),
    ([f"{TASKS}:blobs", "--batch-size", "500"], "larger than the 96 training samples"),
    ([f"{TASKS}:blobs", "--batch-size", "x"], "'x' is not a valid integer"),
    ([f"{TASKS}:blobs", "--out", "missing/dir/c.yaml"], "does not exist"),
    ([f"{TASKS}:blobs", "--storage", "ftp://x"], "unknown storage scheme"),
    ([f"{TASKS}:blobs", "--device", "tpu"], "unknown device 'tpu'"),
    ([f"{TASKS}:blobs", "--parallel", "0"], "--parallel must be auto or a positive integer"),
    ([f"{TASKS}:blobs", "--parallel", "many"], "--parallel must be auto or a positive integer"),
]


@pytest.mark.parametrize(("args", "message"), BAD)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(run, tmp_path, args, message):
    result = run("lr-find", *args)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") and message in lines[-1]
    assert "Traceback" not in result.output
    assert not (tmp_path / "triage.yaml").exists() and not (tmp_path / "triage.png").exists()


@pytest.mark.parametrize(("factory", "message"), [
    ("empty", "data is empty"),
    ("mismatched", "X has 10 samples but y has 9"),
    ("nan_data", "contains 1 NaN/inf values"),
    ("wrong_output", "does not fit loss"),
    ("bad_factory", "the model factory raised"),
    ("no_loss", "the step (str) carries no loss"),
    ("not_scalar", "must return a scalar; it returned shape (8, 2)"),
    ("no_gradient", "has no gradient"),
    ("ragged", "cannot be batched"),
])
def test_bad_task_contents(run, tmp_path, factory, message):
    (tmp_path / "bad.py").write_text(
        "import numpy as np\nfrom torch import nn\nfrom triage import Task\n"
        "X = np.ones((10, 4), dtype=np.float32); y = np.zeros(10, dtype=np.int64)\n"
        "def empty(): return Task(model=lambda: nn.Linear(4, 2), train=(X[:0], y[:0]))\n"
        "def mismatched(): return Task(model=lambda: nn.Linear(4, 2), train=(X, y[:9]))\n"
        "Xn = X.copy(); Xn[3, 2] = np.nan\n"
        "def nan_data(): return Task(model=lambda: nn.Linear(4, 2), train=(Xn, y))\n"
        "def wrong_output(): return Task(model=lambda: nn.Linear(4, 2), train=(X, y), "
        "loss='bce_with_logits')\n"
        "def bad_factory(): return Task(model=lambda: nn.Linear(4, 2, bad=1), train=(X, y))\n"
        "def _task(step): return Task(model=lambda: nn.Linear(4, 2), train=(X, y), step=step)\n"
        "def no_loss(): return _task(lambda m, b: 'done')\n"
        "def not_scalar(): return _task(lambda m, b: m(b[0]))\n"
        "def no_gradient(): return _task(lambda m, b: m(b[0]).sum().detach())\n"
        "import torch\n"
        "def ragged(): return Task(model=lambda: nn.Linear(4, 2), step=lambda m, b: m(b).sum(),"
        " train=[torch.ones(4), torch.ones(3)] * 5)\n")
    result = run("lr-find", f"bad.py:{factory}")
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "triage.yaml").exists()


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(Exception, match="cannot import module"):
        CliRunner().invoke(cli, ["lr-find", "no_such_module_xyz:t", "--debug"],
                           catch_exceptions=False)


def test_console_script_exit_code(tmp_path):
    out = subprocess.run([sys.executable, "-m", "triage.cli", "lr-find", "--optimizer", "x"],
                         capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 2 and out.stderr.startswith("error: unknown optimizer")


def test_interrupt_exits_130_and_writes_nothing(run, tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("triage.lr_finder.lr_find", interrupted)
    result = run("lr-find", f"{TASKS}:blobs")
    assert result.exit_code == 130
    assert "interrupted: nothing was written" in result.stderr
    assert not (tmp_path / "triage.yaml").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["--steps", "0"], "steps must be a positive integer"),
    (["--max-steps", "100"], "must allow at least the three-LR probe"),
])
def test_step_options_are_validated(run, args, message):
    result = run("lr-find", f"{TASKS}:blobs", *args)
    assert result.exit_code == 2 and message in result.stderr


@pytest.mark.parametrize(("parallel", "says"), [("1", "probes one at a time, one CPU thread"),
                                                ("2", "2 probes at once in worker processes")])
def test_lr_find_says_how_probes_run(run, parallel, says):
    result = run("lr-find", f"{TASKS}:blobs", "--no-plot", "--device", "cpu", "--parallel",
                 parallel, *FAST)
    assert result.exit_code == 0, result.output
    assert says in result.stderr

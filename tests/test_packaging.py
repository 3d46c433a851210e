"""A regular (non-editable) install carries everything the commands read at run time."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).parent.parent
SPACES = {f"triage/search_spaces/{name}.yaml" for name in ("default", "cnn", "rnn")}


def test_a_built_wheel_ships_the_spaces_and_runs_a_sweep_from_elsewhere(tmp_path):
    source = tmp_path / "source"  # a copy: building in the checkout would leave build/ there
    shutil.copytree(ROOT / "triage", source / "triage",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path / "dist"), str(source)], check=True,
                   capture_output=True)
    wheel = next((tmp_path / "dist").glob("triage-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert names >= SPACES
    assert not any("zoo" in name for name in names)  # the fault zoo stays with the benchmarks

    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run = (f"import sys; sys.path.insert(0, {str(site)!r}); import triage; "
           f"assert triage.__file__.startswith({str(site)!r}), triage.__file__; "
           "from triage.cli import main; sys.argv = ['triage', 'sweep', '--space', 'default', "
           "'--trials', '2', '--storage', ':memory:', '--device', 'cpu', '--no-plot']; main()")
    out = subprocess.run([sys.executable, "-c", run], cwd=elsewhere, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert (elsewhere / "triage-sweep.yaml").is_file()

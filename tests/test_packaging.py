"""Every install carries what the commands read at run time: a regular (non-editable) install
from a wheel, and an editable one. The search spaces have one source, the top-level
search_spaces/ folder, installed as the package triage.search_spaces (pyproject's package-dir)."""

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPACES = {f"triage/search_spaces/{name}.yaml" for name in ("default", "cnn", "rnn")}


def _source_copy(tmp_path: Path) -> Path:
    """What a build reads, copied: building in the checkout would leave build/ there."""
    source = tmp_path / "source"
    for folder in ("triage", "search_spaces"):
        shutil.copytree(ROOT / folder, source / folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    return source


def test_a_built_wheel_ships_the_spaces_and_runs_a_sweep_from_elsewhere(tmp_path):
    source = _source_copy(tmp_path)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path / "dist"), str(source)], check=True,
                   capture_output=True)
    wheel = next((tmp_path / "dist").glob("triage-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert names >= SPACES
    assert not any(name.startswith("search_spaces/") for name in names)  # inside triage/ only
    assert not any("zoo" in name for name in names)  # the fault zoo stays with the benchmarks
    # pyproject lists the packages (package-dir cannot be combined with packages.find)
    packages = {init.relative_to(ROOT).as_posix()
                for init in (ROOT / "triage").rglob("__init__.py")}
    assert names >= packages, f"add to pyproject's packages: {sorted(packages - names)}"

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


# Run with -S, so that this environment's own editable install of triage (a finder that a .pth
# file installs) stays out; its other paths (the dependencies) are kept, bar any holding triage.
_EDITABLE = """
import json, site, sys
from pathlib import Path
sys.path.extend(json.loads(sys.argv[1]))
sys.path.insert(0, sys.argv[2])  # before a finder module of the same name elsewhere on the path
site.addsitedir(sys.argv[2])  # runs the editable wheel's .pth, as an install would
source = Path(sys.argv[3])
import triage
assert Path(triage.__file__) == source / "triage" / "__init__.py", triage.__file__
from importlib import resources
from triage.sweeper.space_file import bundled_spaces, load_space
assert Path(str(resources.files("triage.search_spaces"))) == source / "search_spaces"
assert load_space("default").params
mine = (source / "search_spaces" / "cnn.yaml").read_text().replace("version: 1",
                                                                   "version: 1  # edited")
(source / "search_spaces" / "mine.yaml").write_text(mine)  # seen without a reinstall
assert bundled_spaces() == ["cnn", "default", "mine", "rnn"], bundled_spaces()
assert load_space("mine").name == "mine"
"""


def test_an_editable_install_reads_the_top_level_spaces_folder(tmp_path):
    source = _source_copy(tmp_path)
    dist = tmp_path / "dist"
    dist.mkdir()
    build = ("import sys; from setuptools import build_meta; "
             "print(build_meta.build_editable(sys.argv[1]))")
    out = subprocess.run([sys.executable, "-c", build, str(dist)], cwd=source,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    site = tmp_path / "site"
    zipfile.ZipFile(dist / out.stdout.split()[-1]).extractall(site)

    paths = [p for p in sys.path if p and not (Path(p) / "triage").exists()]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = subprocess.run([sys.executable, "-S", "-c", _EDITABLE, json.dumps(paths), str(site),
                          str(source)], cwd=elsewhere, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]


def test_this_checkout_s_editable_install_reads_its_spaces_folder():
    import importlib.metadata
    import importlib.util

    # (a checkout's triage.egg-info, found first from the checkout, has no direct_url.json)
    installs = [json.loads(dist.read_text("direct_url.json") or "{}")
                for dist in importlib.metadata.distributions(name="triage")]
    if not any(url.get("dir_info", {}).get("editable") and url.get("url") == ROOT.as_uri()
               for url in installs):
        pytest.skip("triage is not an editable install of this checkout")
    spec = importlib.util.find_spec("triage.search_spaces")
    assert spec is not None, "an install from before search_spaces/ moved: pip install -e ."
    assert Path(spec.origin).parent == ROOT / "search_spaces"

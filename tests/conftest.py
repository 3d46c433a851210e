import pytest
from click.testing import CliRunner

import tasks


@pytest.fixture
def blobs():
    return tasks.blobs()


@pytest.fixture
def linreg():
    return tasks.linear_regression()


@pytest.fixture
def run(tmp_path, monkeypatch):
    """Invoke the CLI in a fresh working directory (exceptions propagate)."""
    from triage.cli import cli

    monkeypatch.chdir(tmp_path)

    def invoke(*args):
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return invoke

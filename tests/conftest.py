import math

import pytest
from click.testing import CliRunner

import tasks


@pytest.fixture(autouse=True)
def _unhurried_doctor(request, monkeypatch):
    """Doctor sizes its probes by the time left of its budget, so on a loaded machine the same
    test would run shorter probes and could find other things: tests see unlimited time left
    (probes keep their step counts; the examples cap still applies) unless marked
    ``real_budget``, as the tests of the budget itself are."""
    if request.node.get_closest_marker("real_budget") is None:
        from triage.doctor.budget import Budget

        monkeypatch.setattr(Budget, "left", lambda self: math.inf)


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


@pytest.fixture
def interrupt_probe(monkeypatch):
    """``install(module, n)``: ``module.run_probe`` raises KeyboardInterrupt in its ``n``-th
    call (as a Ctrl-C or a killed worker would stop it); returns the list of the settings it
    was called with, the interrupted call's included."""

    def install(module, n):
        real, calls = module.run_probe, []

        def interrupted(prepared, settings, callbacks=()):
            calls.append(settings)
            if len(calls) == n:
                raise KeyboardInterrupt
            return real(prepared, settings, callbacks)

        monkeypatch.setattr(module, "run_probe", interrupted)
        return calls

    return install

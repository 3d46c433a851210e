"""Ctrl-C is never lost: one swallowed by a finaliser is raised again at the next check."""

import signal

import pytest

from triage import interrupt


@pytest.fixture
def default_sigint():
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_ctrl_c_lost_in_a_finaliser_is_raised_again(default_sigint):
    class Finalised:
        def __del__(self):
            signal.raise_signal(signal.SIGINT)  # its KeyboardInterrupt is printed and dropped

    with interrupt.recorded():
        assert signal.getsignal(signal.SIGINT) is interrupt.handler
        interrupt.check()  # nothing pending yet
        Finalised()
        with pytest.raises(KeyboardInterrupt):
            interrupt.check()
    interrupt.check()  # cleared on leaving
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_an_ignored_sigint_stays_ignored():
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # a background job's
    try:
        with interrupt.recorded():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_the_training_loop_raises_a_lost_ctrl_c(default_sigint, blobs, monkeypatch):
    from triage import ProbeSettings, run_probes

    with interrupt.recorded():
        monkeypatch.setattr(interrupt, "_pending", True)
        with pytest.raises(KeyboardInterrupt):
            run_probes(blobs, [ProbeSettings(lr=0.1, steps=5, device="cpu")])


def test_a_ctrl_c_during_a_journal_write_is_raised_once_the_write_is_done(default_sigint,
                                                                         tmp_path, monkeypatch):
    """Optuna releases the journal file's lock in two steps (rename, unlink); an interrupt
    right after the unlink made its clean-up unlink again and raise FileNotFoundError instead
    of the interrupt (a traceback and exit code 1 instead of 130)."""
    import os

    import optuna
    from optuna.storages.journal import JournalFileBackend

    from triage.storage import HeartbeatJournalStorage

    storage = HeartbeatJournalStorage(JournalFileBackend(str(tmp_path / "j.log")))
    study = optuna.create_study(storage=storage)
    real, hits = os.unlink, []

    def interrupted_after(path, *args, **kwargs):
        real(path, *args, **kwargs)
        if str(path).endswith(".rename") and not hits:
            hits.append(path)
            signal.raise_signal(signal.SIGINT)  # lands inside Optuna's lock release

    with interrupt.recorded():
        monkeypatch.setattr(os, "unlink", interrupted_after)
        with pytest.raises(KeyboardInterrupt):
            study.set_user_attr("key", "value")
        monkeypatch.setattr(os, "unlink", real)
    assert hits and optuna.load_study(study_name=study.study_name,
                                      storage=storage).user_attrs == {"key": "value"}


def test_the_clean_up_after_a_ctrl_c_writes_without_raising_it_again(default_sigint):
    with interrupt.recorded():
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
        with interrupt.deferred():  # queuing the interrupted trial again, say
            pass
        with pytest.raises(KeyboardInterrupt):
            interrupt.check()  # the loops still see it


def test_an_error_torch_raises_while_a_ctrl_c_is_pending_is_the_interrupt(monkeypatch):
    """A Ctrl-C that surfaces as a library's own error mid-step is not a failed probe."""
    import torch

    from triage import ProbeSettings
    from triage.errors import ProbeError
    from triage.probe import run_probe

    import tasks

    class Breaks(torch.nn.Module):
        broken = False  # set once the task is prepared (its checks run the model too)

        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(4, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if Breaks.broken:
                raise RuntimeError("the step broke")
            return self.layer(x)

    task = tasks.blobs()
    task.model = Breaks
    settings, prepared = ProbeSettings(lr=0.1, steps=3, device="cpu"), task.prepare()
    Breaks.broken = True
    with pytest.raises(ProbeError, match="RuntimeError"):  # no Ctrl-C: a real failure
        run_probe(prepared, settings)
    monkeypatch.setattr(interrupt, "_pending", True)
    with pytest.raises(KeyboardInterrupt):
        run_probe(prepared, settings)

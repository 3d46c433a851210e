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

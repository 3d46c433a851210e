"""Ctrl-C that cannot be lost.

Python raises KeyboardInterrupt wherever the main thread is when SIGINT arrives. Inside a
finaliser (a ``__del__``, a weakref callback, a garbage-collection run) it is printed as
"Exception ignored" and dropped, so the run would go on and end as if never interrupted. The
command line therefore installs ``handler``, which also records the interrupt, and the long
loops (each training step, each sweep trial) call ``check``, which raises it again if it was
lost. Library callers who never install the handler see Python's own behaviour.

A few blocks must not be cut in half: a write to Optuna's journal file takes a lock file and
releases it in two steps, and an interrupt between them makes Optuna's own clean-up fail with
``FileNotFoundError`` instead of the interrupt. Inside ``deferred()`` the handler only records
the interrupt, which is raised as the block ends.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

_pending = False
_deferring = 0  # blocks of the main thread inside deferred()
_held = False  # an interrupt arrived inside them


def handler(signum: int, frame: FrameType | None) -> None:
    """SIGINT handler: remember the interrupt, then raise it as Python's own handler does
    (unless the main thread is inside ``deferred()``, whose end raises it)."""
    global _pending, _held
    _pending = True
    if _deferring:
        _held = True
    else:
        raise KeyboardInterrupt


@contextmanager
def deferred() -> Iterator[None]:
    """Hold an interrupt that arrives inside the block until the block ends (main thread only:
    signals are handled there). An interrupt from before the block is not raised again here:
    the clean-up after an interrupt writes through such blocks too."""
    global _deferring, _held
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
    if not _deferring and _held:
        _held = False
        raise KeyboardInterrupt


def pending() -> bool:
    """Whether a Ctrl-C was received (an error raised since may be its doing)."""
    return _pending


def check() -> None:
    """Raise KeyboardInterrupt if one was received and lost on the way (no-op otherwise)."""
    if _pending:
        raise KeyboardInterrupt


@contextmanager
def recorded() -> Iterator[None]:
    """Install ``handler`` for the block, unless SIGINT is ignored (a background job) or
    handled by someone else; the previous handler and state come back afterwards."""
    global _pending, _held
    previous = signal.getsignal(signal.SIGINT)
    install = previous is signal.default_int_handler
    if install:
        signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        if install:
            signal.signal(signal.SIGINT, previous)
        _pending = _held = False

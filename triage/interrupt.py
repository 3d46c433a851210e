"""Ctrl-C that cannot be lost.

Python raises KeyboardInterrupt wherever the main thread is when SIGINT arrives. Inside a
finaliser (a ``__del__``, a weakref callback, a garbage-collection run) it is printed as
"Exception ignored" and dropped, so the run would go on and end as if never interrupted. The
command line therefore installs ``handler``, which also records the interrupt, and the long
loops (each training step, each sweep trial) call ``check``, which raises it again if it was
lost. Library callers who never install the handler see Python's own behaviour.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

_pending = False


def handler(signum: int, frame: FrameType | None) -> None:
    """SIGINT handler: remember the interrupt, then raise it as Python's own handler does."""
    global _pending
    _pending = True
    raise KeyboardInterrupt


def check() -> None:
    """Raise KeyboardInterrupt if one was received and lost on the way (no-op otherwise)."""
    if _pending:
        raise KeyboardInterrupt


@contextmanager
def recorded() -> Iterator[None]:
    """Install ``handler`` for the block, unless SIGINT is ignored (a background job) or
    handled by someone else; the previous handler and state come back afterwards."""
    global _pending
    previous = signal.getsignal(signal.SIGINT)
    install = previous is signal.default_int_handler
    if install:
        signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        if install:
            signal.signal(signal.SIGINT, previous)
        _pending = False

"""``python -m triage``: what torchrun runs (``torchrun --nproc-per-node N -m triage ...``)."""

import os
import sys

from triage.cli import cli
from triage.torchrun import launched


def run() -> None:
    """The CLI; under torchrun, the process ends without the interpreter's finalisation once
    the command is done (the process group already left, the streams flushed): gloo's worker
    threads can still hold work whose tensors Python then frees mid-teardown, and the process
    aborts ('terminate called without an active exception', pytorch/pytorch#179291) after a
    command that succeeded."""
    try:
        cli(prog_name="triage")
        code = 0
    except SystemExit as exc:
        if launched() <= 1:
            raise
        code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
    if launched() > 1:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    run()

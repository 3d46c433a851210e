"""``python -m triage``: what torchrun runs (``torchrun --nproc-per-node N -m triage ...``)."""

from triage.cli import cli

if __name__ == "__main__":
    cli(prog_name="triage")

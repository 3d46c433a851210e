"""``triage train``: the full budget with a config (see ``run.py``)."""

from triage.trainer.run import Epoch, TrainResult, TrainSettings, check_config, train

__all__ = ["Epoch", "TrainResult", "TrainSettings", "check_config", "train"]

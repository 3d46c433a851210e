"""The one exception hierarchy: every error triage raises on purpose derives from TriageError.

Messages are one line that names the problem and the fix; the CLI prints them as they are.
"""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type name when it has none)."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


class TriageError(Exception):
    """Base class for every error triage raises on purpose."""


class TaskError(TriageError):
    """The user's task (model factory, data or loss) cannot be used as given."""


class SettingsError(TriageError):
    """A hyperparameter or option value is invalid."""


class ConfigError(TriageError):
    """A config file is missing, malformed or of an unknown version."""


class ProbeError(TriageError):
    """A probe could not run for a reason that is not the learning rate."""


class StorageError(TriageError):
    """An Optuna storage URL or study cannot be opened."""


class OutputError(TriageError):
    """An output file cannot be written."""


class RankLost(TriageError):
    """Another rank of a torchrun job stopped (or torchrun stopped this one) mid-command."""


class DataParallelError(TriageError):
    """A data-parallel probe failed on rank 0 of a torchrun job: the job cannot go on."""

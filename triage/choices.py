"""Names users may choose from; kept free of heavy imports so the CLI can show them cheaply."""

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "adagrad")
INITS = ("default", "xavier", "he", "lecun")
DEVICES_HELP = "auto, cpu, cuda or cuda:N"
SAMPLERS = ("tpe", "random", "grid")
PRUNERS = ("median", "hyperband", "none")
SWEEP_STORAGE = "triage-studies.log"  # the default sweep storage: a journal file, NFS-safe
# The LR each updater is customarily started at: doctor's default when --lr is not given.
CUSTOMARY_LR = {"sgd": 0.01, "adam": 1e-3, "adamw": 1e-3, "rmsprop": 1e-3, "adagrad": 1e-2}

"""Names users may choose from; kept free of heavy imports so the CLI can show them cheaply."""

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "adagrad")
INITS = ("default", "xavier", "he", "lecun")
DEVICES_HELP = "auto, cpu, cuda or cuda:N"
SAMPLERS = ("tpe", "random", "grid")
PRUNERS = ("median", "hyperband", "none")
SWEEP_STORAGE = "triage-studies.log"  # the default sweep storage: a journal file, NFS-safe

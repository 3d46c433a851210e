import uuid

import optuna
import pytest
from optuna.storages import JournalStorage, RDBStorage
from optuna.trial import TrialState

from triage import ProbeSettings
from triage.errors import StorageError
from triage.lr_finder.trials import StudyProbeRunner
from triage.storage import make_storage
from triage.storage.studies import join_study, open_study

from servers import server_url


def test_in_memory_by_default():
    assert make_storage(None) is None
    assert open_study(None, "x").study_name == "x"


def test_sqlite_and_journal_file(tmp_path):
    assert isinstance(make_storage(f"sqlite:///{tmp_path / 'a.db'}"), RDBStorage)
    assert isinstance(make_storage(str(tmp_path / "a.log")), JournalStorage)
    journal = make_storage(f"journal://{tmp_path / 'b.log'}")
    assert isinstance(journal, JournalStorage)
    optuna.create_study(storage=journal, study_name="j")
    assert (tmp_path / "b.log").stat().st_size > 0


@pytest.mark.parametrize(("url", "message"), [
    ("ftp://host/x", "unknown storage scheme 'ftp'"),
    ("/no/such/folder/journal.log", "does not exist"),
    ("postgresql://postgres@127.0.0.1:1/nope", "cannot open storage"),
])
def test_bad_storage_urls(url, message):
    with pytest.raises(StorageError, match=message):
        make_storage(url)


def test_probes_are_trials_and_failures_are_recorded(tmp_path, blobs):
    study = open_study(f"sqlite:///{tmp_path / 's.db'}", "probes")
    runner = StudyProbeRunner(study, blobs.prepare())
    ok, bad = runner([ProbeSettings(lr=0.1, steps=10), ProbeSettings(lr=1e6, steps=10)], "test")
    trials = study.get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.FAIL]
    assert trials[0].value == pytest.approx(ok.objective)
    assert trials[0].params == {"lr": pytest.approx(0.1)}
    assert trials[1].user_attrs["diverged"] is True
    assert trials[1].user_attrs["phase"] == "test"
    assert not bad.ok


def test_recorded_probes_are_reused(tmp_path, blobs):
    url = f"sqlite:///{tmp_path / 's.db'}"
    settings = [ProbeSettings(lr=0.1, steps=10), ProbeSettings(lr=0.01, steps=10)]
    first = StudyProbeRunner(open_study(url, "r"), blobs.prepare())(settings, "p")
    seen = []
    again = StudyProbeRunner(open_study(url, "r"), blobs.prepare(),
                             on_result=lambda phase, r, reused: seen.append(reused))
    assert again(settings, "p") == first
    assert seen == [True, True]
    assert len(optuna.load_study(study_name="r", storage=url).trials) == 2


@pytest.mark.parametrize("kind", ["postgresql", "mysql", "redis"])
def test_cluster_storages(kind, blobs):
    url = server_url(kind)
    name = f"triage-test-{uuid.uuid4().hex[:8]}"
    runner = StudyProbeRunner(open_study(url, name), blobs.prepare())
    result = runner([ProbeSettings(lr=0.1, steps=5)], "p")[0]
    reloaded = StudyProbeRunner(open_study(url, name), blobs.prepare())
    assert reloaded([ProbeSettings(lr=0.1, steps=5)], "p")[0] == result
    optuna.delete_study(study_name=name, storage=make_storage(url))


@pytest.mark.parametrize("key", ["precision", "seed", "epochs", "data", "sampler", "lr_center"])
def test_a_study_is_joined_only_with_the_settings_that_made_it(tmp_path, key):
    url = f"sqlite:///{tmp_path / 's.db'}"
    identity = {"command": "sweep", "task": "t", "space": "default", "sampler": "tpe",
                "pruner": "none", "precision": "32", "seed": 0, "epochs": 10, "data": None,
                "lr_center": None, "lr_updater": None}
    sampler, pruner = optuna.samplers.RandomSampler(), optuna.pruners.NopPruner()
    join_study(make_storage(url), "s", identity, sampler, pruner)
    join_study(make_storage(url), "s", dict(identity), sampler, pruner)  # the same: joined
    changed = {**identity, key: {"precision": "bf16", "data": {"target": "y"}}.get(key, 1)}
    with pytest.raises(StorageError, match=f"created with {key}="):
        join_study(make_storage(url), "s", changed, sampler, pruner)

import json
import math

import pytest

from triage.doctor.findings import CODES, FAMILIES, Finding, Severity


def test_every_code_names_a_family_and_a_source():
    for code, facts in CODES.items():
        assert code.split(".")[0] in ("data", "model", "train")
        assert facts.family in FAMILIES and facts.source and facts.title


def test_unknown_code_or_family_is_refused():
    with pytest.raises(ValueError, match="unknown finding code"):
        Finding("train.typo", Severity.ERROR, "m", {}, "f")
    with pytest.raises(ValueError, match="unknown family"):
        Finding("train.not_learning", Severity.ERROR, "m", {}, "f", family="vibes")


def test_family_defaults_to_the_codes_and_can_be_overridden():
    assert Finding("train.not_learning", Severity.ERROR, "m", {}, "f").family == "learning_rate"
    assert Finding("train.not_learning", Severity.ERROR, "m", {}, "f", family="loss").family \
        == "loss"


def test_to_dict_is_json_safe():
    finding = Finding("train.update_ratio", Severity.WARNING, "m",
                      {"ratio": 1.234567e-7, "nan": math.nan, "nested": {"x": [math.inf, 2]}},
                      "f", changes={"lr": 0.1})
    doc = json.loads(json.dumps(finding.to_dict(), allow_nan=False))
    assert doc["severity"] == "warning" and doc["evidence"]["ratio"] == 1.235e-07
    assert doc["evidence"]["nan"] == "nan" and doc["evidence"]["nested"]["x"] == ["inf", 2]
    assert {"code", "severity", "message", "evidence", "fix"} <= set(doc)


def test_a_check_must_name_its_stage():
    from triage.doctor import Check

    with pytest.raises(TypeError, match="stage must be one of data, model, train, got None"):
        class Unstaged(Check):
            def check(self, evidence):
                return []

    class Staged(Check, register=False):
        stage = "model"

        def check(self, evidence):
            return []

    assert Staged().check(None) == []

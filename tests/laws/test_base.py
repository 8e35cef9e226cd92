import math
from dataclasses import dataclass

import pandas as pd
import pytest

from lmech.errors import ConfigError, InputError, UnknownLawError
from lmech.laws import registry
from lmech.laws.base import (
    Check,
    CheckResult,
    Criterion,
    Evaluation,
    Prediction,
    Verdict,
    apply_overrides,
)
from lmech.laws.spec import LawSpec, param


@dataclass(frozen=True)
class _Spec(LawSpec):
    n: int = param(3, ge=1)
    rate: float = param(0.5, gt=0)
    flag: bool = False
    sizes: tuple[int, ...] = param((1, 2), ge=1, min_len=1)
    name: str = param("a", choices=("a", "b"))
    opt: float | None = param(None, gt=0)


def test_overrides_parse_to_field_types():
    s = apply_overrides(
        _Spec(),
        {"n": "7", "rate": "1e-3", "flag": "true", "sizes": "4,5,6", "name": "b", "opt": "2"},
    )
    assert s == _Spec(n=7, rate=1e-3, flag=True, sizes=(4, 5, 6), name="b", opt=2.0)
    assert apply_overrides(_Spec(opt=1.0), {"opt": "none"}).opt is None


@pytest.mark.parametrize(
    "key,value",
    [("n", "1.5"), ("rate", "abc"), ("flag", "maybe"), ("sizes", "1,x"), ("n", "0"), ("name", "c")],
)
def test_bad_override_values_are_config_errors(key, value):
    with pytest.raises(ConfigError, match=key):
        apply_overrides(_Spec(), {key: value})


def _criterion():
    return Criterion(
        Check("err", "<=", 0.05, why="two standard errors"),
        Check("margin", ">=", 2.0, why="positive evidence"),
    )


def test_criterion_passes_only_when_every_check_holds():
    c = _criterion()
    assert c.text == "err <= 0.05 and margin >= 2"
    assert c.verdict(Evaluation({"err": 0.01, "margin": 3.0})).status == "passed"
    v = c.verdict(Evaluation({"err": 0.01, "margin": 1.0}, "d"))
    assert v.status == "failed" and [r.passed for r in v.checks] == [True, False]
    assert v.detail == "d" and v.metric == "err" and v.tolerance == 0.05
    # the boundary value passes (<= and >= are inclusive)
    assert c.verdict(Evaluation({"err": 0.05, "margin": 2.0})).passed


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_values_fail(bad):
    v = _criterion().verdict(Evaluation({"err": bad, "margin": 3.0}))
    assert v.status == "failed" and not v.checks[0].passed


def test_missing_statistic_is_an_input_error():
    with pytest.raises(InputError, match="margin"):
        _criterion().verdict(Evaluation({"err": 0.0}))
    with pytest.raises(InputError, match="Evaluation"):
        _criterion().verdict({"err": 0.0, "margin": 3.0})


def test_check_and_criterion_validation():
    with pytest.raises(ConfigError, match="why"):
        Check("err", "<=", 0.1, why=" ")
    with pytest.raises(ConfigError, match="op"):
        Check("err", "<", 0.1, why="x")
    with pytest.raises(ConfigError, match="distinct"):
        Criterion(Check("a", "<=", 1, why="x"), Check("a", ">=", 0, why="x"))
    with pytest.raises(ConfigError):
        Criterion()


def test_verdict_round_trip_and_consistency():
    v = _criterion().verdict(Evaluation({"err": math.nan, "margin": 3.0}, "x"))
    back = Verdict.from_dict(v.to_dict())
    assert back.status == v.status and back.detail == "x"
    assert math.isnan(back.value) and back.checks[1] == v.checks[1]
    assert back.consistent()
    forged = Verdict("passed", (CheckResult("err", "<=", 0.05, 0.5, False),))
    assert not forged.consistent()
    lying = Verdict("passed", (CheckResult("err", "<=", 0.05, 0.2, True),))  # 0.2 > 0.05
    assert not lying.consistent() and "does not hold" in lying.problem()
    # a verdict.json written before criteria existed still reads
    old = Verdict.from_dict(
        {
            "metric": "m",
            "value": 0.5,
            "tolerance": 1.0,
            "status": "passed",
            "higher_is_better": True,
        }
    )
    assert old.status == "passed" and old.checks[0].op == ">=" and not old.checks[0].passed


def test_skipped_smoke_and_error_labels():
    c = _criterion()
    s = c.skipped("no data")
    assert s.status == "skipped" and s.detail == "no data" and not s.passed
    assert all(math.isnan(r.value) for r in s.checks)
    smoke = c.verdict(Evaluation({"err": 1.0, "margin": 0.0})).as_smoke()
    assert smoke.status == "smoke" and "not a verdict" in smoke.label
    assert c.errored("boom").status == "error"
    expected = Criterion(Check("r", ">=", 1, why="ordering"), expected_failure=True)
    assert expected.verdict(Evaluation({"r": 2.0})).label == "passed (expected failure)"


def test_prediction_perturbs_only_selected_rows():
    pred = pd.DataFrame({"d": ["a", "b"], "y": [1.0, 2.0]})
    up = Prediction("y", relative=0.5, where={"d": "b"}).perturbed(pred, +1)
    assert up["y"].tolist() == [1.0, 3.0] and pred["y"].tolist() == [1.0, 2.0]
    down = Prediction("y", absolute=0.25).perturbed(pred, -1)
    assert down["y"].tolist() == [0.75, 1.75]
    with pytest.raises(InputError, match="no theory rows"):
        Prediction("y", relative=0.5, where={"d": "z"}).perturbed(pred, 1)
    with pytest.raises(InputError, match="prediction column"):
        Prediction("z", relative=0.5).perturbed(pred, 1)
    with pytest.raises(ConfigError):
        Prediction("y", relative=0.5, absolute=0.1)


def test_unknown_law_suggests_close_names():
    with pytest.raises(UnknownLawError) as info:
        registry.get("eigenlearning-synthetik")
    msg = str(info.value)
    assert "eigenlearning-synthetic" in msg and "\n" not in msg


def test_registry_finds_laws_in_family_packages():
    families = registry.families()
    assert "eigenlearning" in families
    law = registry.get("eigenlearning-synthetic")
    assert law.spec.__module__ == "lmech.laws.eigenlearning.synthetic"
    assert registry.names() == list(dict.fromkeys(registry.names()))  # unique names


def test_spec_validation_errors_are_config_errors():
    law = registry.get("eigenlearning-synthetic")
    with pytest.raises(ConfigError, match="ridges"):
        apply_overrides(law.preset("quick"), {"ridges": "-1"})

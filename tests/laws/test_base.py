import math
from dataclasses import dataclass

import pytest

from lmech.errors import ConfigError, UnknownLawError
from lmech.laws import registry
from lmech.laws.base import Verdict, apply_overrides


@dataclass(frozen=True)
class _Spec:
    n: int = 3
    rate: float = 0.5
    flag: bool = False
    sizes: tuple[int, ...] = (1, 2)
    name: str = "a"
    opt: float | None = None


def test_overrides_parse_to_field_types():
    s = apply_overrides(
        _Spec(),
        {"n": "7", "rate": "1e-3", "flag": "true", "sizes": "4,5,6", "name": "b", "opt": "2"},
    )
    assert s == _Spec(n=7, rate=1e-3, flag=True, sizes=(4, 5, 6), name="b", opt=2.0)
    assert apply_overrides(_Spec(opt=1.0), {"opt": "none"}).opt is None


@pytest.mark.parametrize(
    "key,value", [("n", "1.5"), ("rate", "abc"), ("flag", "maybe"), ("sizes", "1,x")]
)
def test_bad_override_values_are_config_errors(key, value):
    with pytest.raises(ConfigError, match=key):
        apply_overrides(_Spec(), {key: value})


def test_verdict_from_metric_and_nan_fails():
    assert Verdict.from_metric("m", 0.01, 0.05).passed
    assert not Verdict.from_metric("m", 0.06, 0.05).passed
    assert Verdict.from_metric("m", 0.9, 0.8, higher_is_better=True).passed
    nan = Verdict.from_metric("m", math.nan, 0.05)
    assert not nan.passed and nan.status == "failed"
    skipped = Verdict.skipped("m", 0.05, "no data")
    assert skipped.status == "skipped" and not skipped.passed
    assert Verdict.from_dict(skipped.to_dict()).status == "skipped"


def test_unknown_law_suggests_close_names():
    with pytest.raises(UnknownLawError) as info:
        registry.get("eigenlearning-synthetik")
    msg = str(info.value)
    assert "eigenlearning-synthetic" in msg and "\n" not in msg


def test_spec_validation_errors_are_config_errors():
    law = registry.get("eigenlearning-synthetic")
    with pytest.raises(ConfigError, match="ridges"):
        apply_overrides(law.preset("quick"), {"ridges": "-1"})

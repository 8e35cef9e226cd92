"""The common battery: every registered law passes these before its own tests."""

import dataclasses
import math

import pandas as pd
import pytest
from matplotlib.figure import Figure

from lmech.errors import ConfigError, DataUnavailableError
from lmech.laws import registry
from lmech.laws.base import PRESETS, Verdict, apply_overrides, spec_hash

LAWS = registry.names()


@pytest.fixture(params=LAWS)
def law(request):
    return registry.get(request.param)


def test_presets_are_frozen_specs(law):
    for name in PRESETS:
        spec = law.preset(name)
        assert isinstance(spec, law.spec)
        assert dataclasses.is_dataclass(spec)
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(spec, dataclasses.fields(spec)[0].name, None)


def test_docstring_names_source_claim_and_command(law):
    assert "Source:" in law.doc and "Claim:" in law.doc
    assert f"lmech check {law.name}" in law.doc
    assert law.tolerance > 0 and law.metric


def test_spec_hash_is_stable_and_seed_sensitive(law):
    spec = law.preset("quick")
    assert spec_hash(spec, 0) == spec_hash(law.preset("quick"), 0)
    assert spec_hash(spec, 0) != spec_hash(spec, 1)


def test_unknown_override_lists_valid_keys(law):
    spec = law.preset("quick")
    with pytest.raises(ConfigError) as info:
        apply_overrides(spec, {"no_such_key": "1"})
    for field in dataclasses.fields(spec):
        assert field.name in str(info.value)


def _check_table(df, columns):
    assert isinstance(df, pd.DataFrame) and len(df) > 0
    missing = set(columns) - set(df.columns)
    assert not missing, f"missing columns {missing}"
    numeric = df.select_dtypes("number")
    assert numeric.notna().all().all(), "tables must not contain NaN"


def _run(law, preset):
    """theory + experiment; a law whose data are missing is skipped with its message."""
    spec = law.preset(preset)
    try:
        return law.theory(spec), law.experiment(spec, 0, "cpu")
    except DataUnavailableError as err:
        pytest.skip(f"{law.name}: data unavailable: {err}")


def test_smoke_preset_exercises_every_path(law):
    pred, meas = _run(law, "smoke")
    _check_table(pred, law.theory_columns)
    _check_table(meas, law.experiment_columns)
    verdict = law.compare(pred, meas)
    assert isinstance(verdict, Verdict) and verdict.metric == law.metric
    assert verdict.tolerance == law.tolerance
    assert verdict.higher_is_better == law.higher_is_better  # the catalog shows the same test
    assert isinstance(law.figure(pred, meas), Figure)


def test_theory_is_deterministic(law):
    spec = law.preset("smoke")
    first, _ = _run(law, "smoke")
    pd.testing.assert_frame_equal(first, law.theory(spec))


def test_experiment_is_seeded(law):
    spec = law.preset("smoke")
    _run(law, "smoke")
    a, b = law.experiment(spec, 3, "cpu"), law.experiment(spec, 3, "cpu")
    pd.testing.assert_frame_equal(a, b)
    c = law.experiment(spec, 4, "cpu")
    assert not a.equals(c)


def test_quick_preset_passes(law):
    pred, meas = _run(law, "quick")
    _check_table(pred, law.theory_columns)
    _check_table(meas, law.experiment_columns)
    verdict = law.compare(pred, meas)
    assert math.isfinite(verdict.value)
    assert verdict.passed, (
        f"{law.name}: {verdict.metric}={verdict.value:.4g} > {verdict.tolerance}; {verdict.detail}"
    )

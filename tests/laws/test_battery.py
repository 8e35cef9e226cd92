"""The common battery: every registered law passes these before its own tests.

The quick preset of each law is run once per session (theory + experiment) and shared by
the verdict test and the perturbed-prediction test.
"""

import dataclasses
import inspect
import math
import re

import pandas as pd
import pytest
from matplotlib.figure import Figure

from lmech.errors import ConfigError, DataUnavailableError
from lmech.laws import registry
from lmech.laws.base import PRESETS, Evaluation, Verdict, apply_overrides, spec_hash
from lmech.laws.spec import LawSpec, constraint_of, violations

LAWS = registry.names()
_QUICK: dict[str, tuple[pd.DataFrame, pd.DataFrame]] = {}


@pytest.fixture(params=LAWS)
def law(request):
    return registry.get(request.param)


def _run(law, preset, seed=0):
    """theory + experiment; a law whose data are missing is skipped with its message."""
    spec = law.preset(preset)
    try:
        return law.theory(spec), law.experiment(spec, seed, "cpu")
    except DataUnavailableError as err:
        pytest.skip(f"{law.name}: data unavailable: {err}")


def _quick(law):
    if law.name not in _QUICK:
        _QUICK[law.name] = _run(law, "quick")
    return _QUICK[law.name]


def _check_table(df, columns):
    assert isinstance(df, pd.DataFrame) and len(df) > 0
    missing = set(columns) - set(df.columns)
    assert not missing, f"missing columns {missing}"
    numeric = df.select_dtypes("number")
    assert numeric.notna().all().all(), "tables must not contain NaN"


def test_presets_are_frozen_law_specs(law):
    for name in PRESETS:
        spec = law.preset(name)
        assert isinstance(spec, law.spec) and isinstance(spec, LawSpec)
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(spec, dataclasses.fields(spec)[0].name, None)


def test_docstring_names_source_claim_and_command(law):
    assert "Source:" in law.doc and "Claim:" in law.doc
    assert f"lmech check {law.name}" in law.doc
    # reasons are physics or statistics, never a ticket or a file outside the repository
    assert not re.search(r"\bissue\s*#?\d", law.doc, re.I), "docstrings never cite issues"
    assert "shared/reference" not in law.doc


def test_criterion_is_declared_with_reasons(law):
    assert law.criterion.checks
    for check in law.criterion.checks:
        assert check.op in ("<=", ">=") and math.isfinite(check.bound)
        assert len(check.why.strip()) >= 10, f"{check.statistic}: say why the bound is what it is"
    assert law.text == law.criterion.text


def test_law_never_builds_a_verdict_by_hand(law):
    module = inspect.getmodule(law.evaluate)
    for fn in (law.theory, law.experiment, law.evaluate, law.figure):
        mod = inspect.getmodule(fn)
        if mod is not None and mod.__name__.startswith("lmech.laws."):
            assert "Verdict" not in vars(mod), f"{mod.__name__} imports Verdict; declare checks"
    assert module is not None


def test_spec_hash_is_stable_and_seed_sensitive(law):
    spec = law.preset("quick")
    assert spec_hash(spec, 0) == spec_hash(law.preset("quick"), 0)
    assert spec_hash(spec, 0) != spec_hash(spec, 1)


def test_declared_memory_of_the_presets_fits_a_small_machine(law):
    # `lmech check` refuses a spec whose declared need exceeds the memory limit: every
    # law declares it, and the smoke and quick presets must run on a 2-core, 8 GiB laptop
    # (the estimate errs high; tests/hostile/test_memory_declared.py measures it)
    for name in ("smoke", "quick"):
        need = law.preset(name).memory_bytes()
        assert need is not None, f"{law.name} does not declare memory_bytes() ({name})"
        assert 0 < need <= 4 * 2**30, (name, need)
    paper = law.preset("paper").memory_bytes()
    assert paper is not None and paper > 0


def test_unknown_override_lists_valid_keys(law):
    spec = law.preset("quick")
    with pytest.raises(ConfigError) as info:
        apply_overrides(spec, {"no_such_key": "1"})
    for field in dataclasses.fields(spec):
        assert field.name in str(info.value)


def test_every_numeric_field_declares_its_constraints(law):
    spec = law.preset("quick")
    free = []
    for field in dataclasses.fields(spec):
        value = getattr(spec, field.name)
        if isinstance(value, bool) or value is None:
            continue
        if not constraint_of(field).declared:
            free.append(field.name)
    assert not free, f"{law.name}: fields without constraints: {free}"


def test_spec_constraints_refuse_out_of_range_values(law):
    spec = law.preset("quick")
    cases = list(violations(spec))
    assert cases, f"{law.name}: no constraint to test"
    for name, bad in cases:
        with pytest.raises(ConfigError) as info:
            dataclasses.replace(spec, **{name: bad})
        assert name in str(info.value), f"{name}={bad!r}: the message must name the field"


def test_smoke_preset_exercises_every_path(law):
    pred, meas = _run(law, "smoke")
    _check_table(pred, law.theory_columns)
    _check_table(meas, law.experiment_columns)
    evaluation = law.evaluate(pred, meas)
    assert isinstance(evaluation, Evaluation)
    verdict = law.verdict(pred, meas)
    assert isinstance(verdict, Verdict)
    assert [c.statistic for c in verdict.checks] == list(law.criterion.statistics)
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
    pred, meas = _quick(law)
    _check_table(pred, law.theory_columns)
    _check_table(meas, law.experiment_columns)
    verdict = law.verdict(pred, meas)
    assert all(math.isfinite(c.value) for c in verdict.checks)
    assert verdict.passed, f"{law.name}: {verdict.checks}; {verdict.detail}"


@pytest.mark.parametrize("sign", [+1, -1])
def test_perturbed_prediction_fails(law, sign):
    """A prediction moved beyond the tolerance must fail the verdict (every law can fail)."""
    pred, meas = _quick(law)
    wrong = law.prediction.perturbed(pred, sign)
    assert not wrong[law.prediction.column].equals(pred[law.prediction.column])
    verdict = law.verdict(wrong, meas)
    assert verdict.status == "failed", (
        f"{law.name}: {law.prediction} with sign {sign:+d} still passes: {verdict.checks}"
    )

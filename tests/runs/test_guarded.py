"""A numerical failure inside one law's point errors that point; it does not abort the
check or sweep, while a usage error (ConfigError, InputError) still stops it."""

import pytest

from lmech.errors import ConfigError, ConvergenceError
from lmech.laws import registry
from lmech.runs.execute import _guarded


def _raise(err):
    def run():
        raise err

    return run


def test_a_convergence_failure_errors_the_point_and_names_it():
    law = registry.get("li2-energy-maxima")
    result = _guarded(law, _raise(ConvergenceError("the fit did not converge (decrement 1e-3)")))
    assert result.verdict.status == "error" and result.path is None
    assert "ConvergenceError: the fit did not converge" in result.verdict.detail


def test_a_usage_error_still_stops_the_run():
    law = registry.get("li2-energy-maxima")
    with pytest.raises(ConfigError, match="bad width"):
        _guarded(law, _raise(ConfigError("bad width")))

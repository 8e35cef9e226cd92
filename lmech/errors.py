"""One exception hierarchy for lmech.

Every error a user can cause derives from :class:`LmechError`. Messages say what was
expected, what came, and how to fix it, in one line; the CLI prints that line without a
traceback and exits with status 2.
"""

from __future__ import annotations

__all__ = [
    "LmechError",
    "InputError",
    "ConfigError",
    "UnknownLawError",
    "StoreError",
    "DataUnavailableError",
    "DeviceError",
    "ConvergenceError",
]


class LmechError(Exception):
    """Base class of every error lmech raises on purpose."""

    exit_code: int = 2


class InputError(LmechError, ValueError):
    """An argument or array has the wrong shape, dtype, range or value."""


class ConfigError(LmechError, ValueError):
    """A law spec, preset or ``--set`` override is invalid (unknown key, bad type)."""


class UnknownLawError(ConfigError):
    """A law name that is not in the registry."""


class StoreError(LmechError, OSError):
    """The run store cannot be written or read (unwritable ``--out``, missing files)."""


class DataUnavailableError(LmechError):
    """A data set is not on this machine; the message says how to get it.

    A law whose data is missing is reported as *skipped*, never as passed.
    """


class DeviceError(LmechError):
    """The requested device (e.g. ``cuda``) is not available."""


class ConvergenceError(LmechError, ArithmeticError):
    """A numerical solver did not converge; the message names the solver and the input."""

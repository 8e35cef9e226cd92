r"""Identifiability diagnostics shared by the fits: what the data can and cannot pin down.

After a fit, three things can make a parameter's number meaningless even though the
optimizer returned one:

* **a dead term**: a term of the log-sum-exp model contributes less than
  :data:`TERM_MIN_SHARE` of the fitted loss at every run (its prefactor went to 0 or its
  exponent to infinity), so its parameters sit at a bound and nothing in the data fixes
  them;
* **a flat direction**: the gradient of the predictions with respect to the parameters
  (the Jacobian J, in standardized coordinates) has a singular value below
  :data:`JAC_RTOL` times the largest, so moving along that direction leaves every
  prediction unchanged to float precision; the parameters with a component above 0.1 in
  that direction are not identified;
* **a parameter pinned at its start**: the winning start never moved it.

Bootstrap intervals get two more checks: resamples that could not identify the law on
their own (too few distinct points) are dropped, and an interval of zero width from a
fit that does not reproduce the data exactly is a sign the refits never moved that
parameter. A parameter that fails is reported with its estimate, NaN interval bounds and
the reason; a fit-wide problem is a warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lmech.fit.bootstrap import percentile_interval

__all__ = [
    "IdentifiabilityWarning",
    "JAC_RTOL",
    "TERM_MIN_SHARE",
    "EXACT_RESIDUAL",
    "MIN_USABLE_FRACTION",
    "Notes",
    "weak_directions",
    "present_counts",
    "check_intervals",
    "parameter_records",
]

JAC_RTOL = 1e-6
TERM_MIN_SHARE = 1e-6
EXACT_RESIDUAL = 1e-9  # max |log residual| below this: the law reproduces the data exactly
MIN_USABLE_FRACTION = 0.5  # of bootstrap resamples, else intervals are not reported


class IdentifiabilityWarning(UserWarning):
    """Numbers a low-level fit returned that the data do not pin down (the message says
    which and why); the high-level fits put these in their ``warnings`` instead."""


@dataclass
class Notes:
    """Fit-wide warnings and per-parameter reasons for an unidentified interval."""

    warnings: list[str] = field(default_factory=list)
    unidentified: dict[str, str] = field(default_factory=dict)

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def unidentify(self, names, reason: str) -> None:
        """Mark ``names`` as not identified (first reason kept) and warn once."""
        new = [n for n in names if n not in self.unidentified]
        for n in new:
            self.unidentified[n] = reason
        if new:
            self.warn(f"{', '.join(new)} not identified: {reason}")


def weak_directions(grad: np.ndarray) -> list[tuple[float, np.ndarray]]:
    """(relative singular value, indices of the coordinates involved) of every direction
    of ``grad`` (n, P) flatter than :data:`JAC_RTOL`."""
    if not np.isfinite(grad).all():
        return [(0.0, np.arange(grad.shape[1]))]
    # full (P, P) right factor; the (n, n) left one only when n < P (it is never used, and
    # at n = 10^5 rows it would be 75 GB)
    full = grad.shape[0] < grad.shape[1]
    _, s, vt = np.linalg.svd(grad / np.sqrt(max(len(grad), 1)), full_matrices=full)
    s = np.concatenate([s, np.zeros(grad.shape[1] - len(s))])  # fewer rows than columns
    top = s[0] if len(s) and s[0] > 0 else 1.0
    out = []
    for j in range(grad.shape[1]):
        if s[j] <= JAC_RTOL * top:
            out.append((float(s[j] / top), np.flatnonzero(np.abs(vt[j]) > 0.1)))
    return out


def present_counts(counts: np.ndarray, labels: np.ndarray, budget: int = 4_000_000) -> np.ndarray:
    """(B,) number of distinct labels with a positive count in each resample row of
    ``counts`` (B, n); ``labels`` (n,) are integers >= 0. Memory: ``budget`` values."""
    b, n = counts.shape
    out = np.zeros(b, dtype=np.int64)
    if n == 0:
        return out
    step = max(1, budget // n)
    for lo in range(0, b, step):
        tagged = np.where(counts[lo : lo + step] > 0, labels[None, :], -1)
        tagged.sort(axis=1)
        new = np.diff(tagged, axis=1, prepend=-1) != 0
        out[lo : lo + step] = (new & (tagged >= 0)).sum(axis=1)
    return out


def check_intervals(
    samples: np.ndarray,
    names: tuple[str, ...],
    estimate: np.ndarray,
    level: float,
    notes: Notes,
    *,
    exact: bool,
    dropped: int,
    why_dropped: str,
    why_nonfinite: str = "diverged (non-finite parameters)",
) -> None:
    """Warn about or unidentify intervals from bootstrap ``samples`` (B, P), NaN rows being
    resamples that were dropped (``dropped`` of them for ``why_dropped``) or diverged."""
    b = len(samples)
    if b == 0:
        return
    finite = np.isfinite(samples)
    usable = int(finite.all(axis=1).sum())
    diverged = b - dropped - usable
    if dropped:
        notes.warn(
            f"{dropped} of {b} bootstrap resamples left out: {why_dropped}; the intervals "
            f"rest on the other {b - dropped}"
        )
    if diverged > 0:
        notes.warn(f"{diverged} of {b} bootstrap refits {why_nonfinite}; left out")
    if usable < max(2, MIN_USABLE_FRACTION * b):
        notes.unidentify(
            [n for n in names],
            f"only {usable} of {b} bootstrap resamples gave a usable refit "
            f"(need at least {MIN_USABLE_FRACTION:.0%}); add distinct runs",
        )
        return
    with np.errstate(invalid="ignore"):
        lo, hi = percentile_interval(samples, level)
    if exact:
        notes.warn(
            f"the law reproduces every run to {EXACT_RESIDUAL:g} in log loss (noiseless "
            "data): the bootstrap intervals show no sampling noise because the data have "
            "none; they are not error bars for noisy measurements"
        )
        return
    for j, name in enumerate(names):
        scale = max(abs(float(estimate[j])), 1e-300)
        if np.isfinite(lo[j]) and hi[j] - lo[j] <= 1e-12 * scale:
            notes.unidentify(
                [name],
                f"all {usable} usable bootstrap refits returned the same value "
                f"({float(lo[j]):.6g}) although the fit does not reproduce the data "
                "exactly: the refits never moved it",
            )


def parameter_records(tab) -> dict[str, dict[str, float | str | None]]:
    """A fit's ``table()`` as {parameter: {estimate, ci_low, ci_high, note}} for JSON:
    non-finite numbers and empty notes become None."""

    def clean(x: float) -> float | None:
        return float(x) if np.isfinite(x) else None

    return {
        r.parameter: {
            "estimate": clean(r.estimate),
            "ci_low": clean(r.ci_low),
            "ci_high": clean(r.ci_high),
            "note": r.note or None,
        }
        for r in tab.itertuples(index=False)
    }

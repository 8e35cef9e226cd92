"""Schedule comparison: expected SGD loss curves from the exact recursion.

:func:`schedule_comparison` draws, for one spectrum and teacher, the expected excess
risk against steps of several (schedule, batch, averaging) choices, all computed by
:func:`lmech.theory.sgd.predict_loss` (no simulation), with the final values in the
legend. Example::

    from lmech.figures.sgd import schedule_comparison
    from lmech.theory import sgd
    lam = sgd.power_law_spectrum(1000, 1.5)
    c0 = sgd.power_law_target(1000, 1.5, 3.0)
    T = 4000
    fig = schedule_comparison(lam, c0, 0.01, {
        "cosine": (sgd.cosine_schedule(0.5, T), 1, "last"),
        "constant + EMA": (sgd.constant_schedule(0.5, T), 1, ("ema", 0.999)),
        "t^-1/2 + averaging": (sgd.inverse_power_schedule(0.5, T, 0.5, t0=100), 1, "uniform"),
    })
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from lmech.errors import InputError
from lmech.theory.sgd import predict_loss

__all__ = ["schedule_comparison"]


def schedule_comparison(lam, c0, noise_variance, choices: dict, *, ax=None, title=None):
    """Excess risk vs step for ``choices`` = {label: (schedule, batch, averaging)}.

    Returns the matplotlib Figure; each curve's final excess risk is in its label.
    """
    if not choices:
        raise InputError("choices must name at least one (schedule, batch, averaging)")
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for label, item in choices.items():
        if len(item) != 3:
            raise InputError(
                f"choice {label!r} must be (schedule, batch, averaging); got {item!r:.60}"
            )
        sched, batch, avg = item
        cur = predict_loss(lam, c0, noise_variance, sched, batch=batch, averaging=avg)
        curve = (cur.loss if cur.averaged is None else cur.averaged) - 0.5 * noise_variance
        steps = np.arange(1, curve.shape[-1])
        ax.plot(steps, curve[1:], label=f"{label}: {curve[-1]:.3g}")
    ax.set(xscale="log", yscale="log", xlabel="step", ylabel="expected excess risk")
    ax.set_title(title or "SGD schedules (exact recursion)")
    ax.legend(fontsize=8)
    if fig is not None:
        fig.tight_layout()
    return ax.figure

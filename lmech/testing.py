"""Assertions for users' own test suites: "my model is muP" as a pytest test.

Example::

    from lmech.testing import assert_mup

    def test_my_model_is_mup():
        assert_mup(make_model, widths=(64, 128, 256, 512), data=(x, y),
                   optimizer=lambda m: lmech.nn.mup.optimizer(m, "adam", lr=1e-2))

:func:`assert_mup` runs :func:`lmech.experiment.coord.coord_check_model` and fails,
naming the layers, when any recorded module's activation-update size grows or shrinks
with width: the fitted log-log slope of rms(h_t - h_0) against width must be within
``tol`` of 0 at every step (TP-V Sec. 4, "coordinate check"). The default ``tol`` = 0.15
follows the finite-width slopes measured on MLPs and small Transformers (muP: |slope|
<= 0.1; SP with Adam: >= 0.3 on hidden layers).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd
import torch

from lmech.experiment.coord import coord_check_model, coord_verdict

__all__ = ["assert_mup"]


def assert_mup(
    model_fn: Callable[[int, int], torch.nn.Module],
    widths: Sequence[int],
    data: tuple[torch.Tensor, torch.Tensor],
    *,
    optimizer: Callable[[torch.nn.Module], torch.optim.Optimizer],
    steps: int = 3,
    seeds: Sequence[int] = (0, 1),
    tol: float = 0.15,
    modules: Sequence[str] | None = None,
    loss_fn=None,
) -> pd.DataFrame:
    """Fail (AssertionError naming each bad layer and its slopes) unless every slope is ~0.

    Returns the per-layer verdict table (:func:`lmech.experiment.coord.coord_verdict`).
    """
    table = coord_check_model(
        model_fn, widths, data, optimizer=optimizer, steps=steps, seeds=seeds,
        loss_fn=loss_fn, modules=modules,
    )  # fmt: skip
    verdict = coord_verdict(table, 0.0, tol)
    bad = verdict[~verdict["ok"]]
    if len(bad):
        lines = "\n".join(
            f"  {r.layer}: slopes {r.slopes} (|slope| <= {tol} needed)" for r in bad.itertuples()
        )
        raise AssertionError(
            f"not muP: {len(bad)} of {len(verdict)} layers change their activation-update size "
            f"with width (log-log slope over widths {list(widths)}, steps 1..{steps}):\n{lines}"
        )
    return verdict

"""The power-law random-feature model shared by the ``rf-*`` laws (Bordelon et al. 2024)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from lmech.errors import ConfigError
from lmech.laws.spec import LawSpec, param
from lmech.seeding import torch_generator
from lmech.theory.scaling import power_law_model


@dataclass(frozen=True)
class ModelSpec(LawSpec):
    """lambda_k = k^-b, beta_k^2 = k^-a on M modes; the laws add their grids."""

    num_features: int = param(6000, ge=2, doc="M: modes of the teacher's feature space")
    target_exponent: float = param(2.0, gt=1, doc="a in beta_k^2 = k^-a (a > 1: finite power)")
    spectrum_exponent: float = param(1.5, gt=0, doc="b in lambda_k = k^-b")

    def model(self) -> tuple[np.ndarray, np.ndarray]:
        """(lambda_k, beta_k) (the target vector, not its square)."""
        lam, beta2 = power_law_model(
            self.num_features, self.target_exponent, self.spectrum_exponent
        )
        return lam, np.sqrt(beta2)

    def below_modes(self, **grids: tuple[int, ...]) -> None:
        """ConfigError unless every width or sample count is < M (a finite-rank student)."""
        for name, values in grids.items():
            if max(values) >= self.num_features:
                raise ConfigError(
                    f"{name} must stay below num_features = {self.num_features} (the student "
                    f"sees fewer features or samples than the teacher has modes); got "
                    f"max {max(values)}: lower {name} or raise num_features"
                )


def draw_mean(
    draw: Callable[[torch.Generator], np.ndarray],
    seed: int,
    key: str,
    trials: int,
    advance: Callable[[int], None],
) -> np.ndarray:
    """Mean of ``draw(gen)`` over ``trials`` independent CPU streams (seed, key, trial)."""
    total = 0.0
    for trial in range(trials):
        total = total + draw(torch_generator(seed, key, trial))
        advance(1)
    return np.asarray(total) / trials


__all__ = ["ModelSpec", "draw_mean"]

"""Dynamical mean field theory (DMFT) of wide networks in the mean-field / muP limit.

- :func:`dmft_predict`: one call from (X, y, activation, gamma_0) to the prediction;
- :func:`dmft_two_layer`: the two-layer particle solver (loss, f(t), NTK K(t), alignment);
- :func:`dmft_deep`: the Monte-Carlo fixed point for L hidden layers (kernels Phi^l, G^l,
  response functions A^l, B^l), reducing to the two-layer solver at L = 1 and to NTK
  descent at gamma_0 = 0;
- :func:`lazy_kernel_flow`: the gamma_0 -> 0 limit, kernel gradient flow or descent;
- :func:`dmft_deep_linear`: linear networks in the proportional limit N = nu D, any depth
  (residual or not), muP or NTK, population gradient, one-pass SGD or repeated data: the
  exact Marchenko-Pastur closure at one hidden layer with fresh isotropic data, otherwise
  the linear-Gaussian DMFT of :mod:`lmech.theory.dmft.deep_linear_dmft`;
- :func:`lazy_prediction_variance`: the leading 1/N variance of the predictions across
  initializations in the lazy limit (:mod:`lmech.theory.dmft.finite_width`);
- :func:`rich_prediction_variance`: the leading 1/N variance of the final predictions
  and NTK observables at any gamma_0 (influence function of one initial neuron).

References: Bordelon & Pehlevan, "Self-consistent dynamical field theory of kernel
evolution in wide neural networks", NeurIPS 2022; Bordelon & Pehlevan, "Dynamics of
finite width kernel and prediction fluctuations in mean field neural networks",
NeurIPS 2023; Bordelon & Pehlevan, "Deep linear network training dynamics from random
initialization", ICML 2025.
"""

from lmech.theory.dmft.api import dmft_predict
from lmech.theory.dmft.deep import DeepResult, deep_ntk, dmft_deep
from lmech.theory.dmft.deep_linear import (
    DeepLinearResult,
    dmft_deep_linear,
    lazy_linear_loss,
    marchenko_pastur_quadrature,
)
from lmech.theory.dmft.deep_linear_dmft import DeepLinearDMFTResult, solve_deep_linear_dmft
from lmech.theory.dmft.finite_width import (
    KERNEL_OBSERVABLES,
    LazyVariance,
    RichVariance,
    lazy_prediction_variance,
    rich_prediction_variance,
)
from lmech.theory.dmft.two_layer import (
    TwoLayerResult,
    dmft_two_layer,
    kernel_alignment,
    lazy_kernel_flow,
)

__all__ = [
    "KERNEL_OBSERVABLES",
    "RichVariance",
    "rich_prediction_variance",
    "DeepLinearDMFTResult",
    "DeepLinearResult",
    "DeepResult",
    "deep_ntk",
    "dmft_deep",
    "LazyVariance",
    "TwoLayerResult",
    "dmft_deep_linear",
    "dmft_predict",
    "dmft_two_layer",
    "kernel_alignment",
    "lazy_kernel_flow",
    "lazy_linear_loss",
    "lazy_prediction_variance",
    "marchenko_pastur_quadrature",
    "solve_deep_linear_dmft",
]

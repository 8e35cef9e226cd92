"""Representation geometry: intrinsic dimension, spectrum dimensions, CKA and CCA.

Estimators take numpy arrays or torch tensors (any device) and compute in float64:

- intrinsic dimension (:mod:`.intrinsic`): :class:`TwoNN`, :class:`LevinaBickel` (MLE),
  :class:`LocalID`, and :class:`ParticipationRatio` (:mod:`.spectral`);
- spectrum dimensions (:mod:`.spectral`): :func:`participation_ratio`,
  :func:`effective_rank`, :func:`stable_rank`, :func:`spectral_entropy`,
  :func:`spectrum_statistics`;
- similarity (:mod:`.similarity`): :func:`linear_cka`, :func:`kernel_cka`,
  :func:`rbf_cka`, :func:`hsic`, :class:`MinibatchCKA`, :func:`cca`, :func:`svcca`,
  :func:`pwcca`, :func:`procrustes_distance`;
- streaming accumulators (:mod:`.streaming`): :class:`Moments`, :class:`StreamingCKA`.
"""

from lmech.measure.geometry.intrinsic import LevinaBickel, LocalID, TwoNN
from lmech.measure.geometry.similarity import (
    MinibatchCKA,
    cca,
    hsic,
    kernel_cka,
    linear_cka,
    procrustes_distance,
    pwcca,
    rbf_cka,
    rbf_gram,
    svcca,
)
from lmech.measure.geometry.spectral import (
    ParticipationRatio,
    covariance_eigenvalues,
    effective_rank,
    participation_ratio,
    spectral_entropy,
    spectrum_statistics,
    stable_rank,
)
from lmech.measure.geometry.streaming import Moments, StreamingCKA

__all__ = [
    "TwoNN",
    "LevinaBickel",
    "LocalID",
    "ParticipationRatio",
    "covariance_eigenvalues",
    "participation_ratio",
    "effective_rank",
    "stable_rank",
    "spectral_entropy",
    "spectrum_statistics",
    "linear_cka",
    "hsic",
    "kernel_cka",
    "rbf_gram",
    "rbf_cka",
    "MinibatchCKA",
    "cca",
    "svcca",
    "pwcca",
    "procrustes_distance",
    "Moments",
    "StreamingCKA",
]

r"""Train E networks of one architecture as one vmapped program.

The E members (e.g. seeds x learning rates, or seeds x training fractions) share a
module *template*; their parameters are stacked to (E, ...) and every step runs

.. math::

    g_e = \nabla_{\theta_e} \sum_{i} w_{e,i}\, \ell\big(f(x_{e,i}; \theta_e), y_{e,i}\big),
    \qquad \theta_e \leftarrow \text{update}(\theta_e, g_e;\ \eta_e \cdot \text{lr}_p)

with ``torch.func.functional_call`` + ``torch.func.vmap`` over the member axis, where
w_{e,i} = mask_{e,i} / sum_i mask_{e,i} (the mean loss over member e's own training
subset or minibatch), eta_e the member's learning rate and lr_p the parameter's factor
from its parameterization (:func:`lmech.nn.param.lr_factors`). Updates are those of
``torch.optim.SGD`` (momentum, coupled weight decay), ``torch.optim.Adam`` (coupled
weight decay) and ``torch.optim.AdamW`` (decoupled), written functionally on the stacked
tensors, so member e follows the same trajectory as the network trained alone (the tests
check this to float64 round-off).

At logged steps observers record, per member: ``loss`` and ``accuracy`` on the training
set (and on ``test`` data if given), ``feature_change`` ||h_t - h_0||_F / ||h_0||_F per
named layer on a probe batch, ``ntk_change`` ||K_t - K_0||_F / ||K_0||_F of the
lr-weighted empirical NTK K = sum_p lr_p J_p J_p^T (the kernel of the training dynamics,
traced over outputs) on the probe batch, and ``spectra``, the singular values of every
effective weight matrix multiplier * W. The result is one tidy table.

Modules: :mod:`~lmech.experiment.ensemble.members` (the stacked :class:`Ensemble`),
:mod:`~lmech.experiment.ensemble.loop` (:func:`train`, minibatches),
:mod:`~lmech.experiment.ensemble.optim` (the functional SGD / Adam / AdamW step, learning
rates, weight decay, lr factors) and :mod:`~lmech.experiment.ensemble.observers` (loss,
accuracy, feature and kernel change, spectra).

References:
    Horace He, "Model ensembling" (torch.func tutorial): stacking parameters and
    ``vmap(functional_call)``; Kingma & Ba 2015 (Adam), Loshchilov & Hutter 2019 (AdamW).
"""

from lmech.experiment.ensemble.loop import EnsembleRun, member_batches, train
from lmech.experiment.ensemble.members import Ensemble
from lmech.experiment.ensemble.observers import LOSSES, OBSERVERS
from lmech.experiment.ensemble.optim import check_learning_rates

__all__ = [
    "Ensemble",
    "EnsembleRun",
    "train",
    "LOSSES",
    "OBSERVERS",
    "check_learning_rates",
    "member_batches",
]

"""Figures of the transfer family for users' own runs: coordinate checks and lr-transfer studies.

- :func:`coord_figure`: rms(h_t - h_0) against width, one curve per module, one panel
  per step, from a :func:`lmech.experiment.coord.coord_check_model` table (TP-V Fig. 5);
- :func:`transfer_figure`: the seed-mean final loss against the learning rate per size,
  with the located optima, from :func:`lmech.experiment.transfer.transfer_study` and
  :func:`lmech.experiment.transfer.optimal_lrs` (TP-V Fig. 1).
"""

from lmech.experiment.coord import coord_figure
from lmech.experiment.transfer import transfer_figure

__all__ = ["coord_figure", "transfer_figure"]

"""Measurements of trained networks and representations.

- :mod:`lmech.measure.fourier`: Fourier measurements of networks on group tasks;
- :mod:`lmech.measure.geometry`: representation geometry (intrinsic dimension, effective
  rank, CKA, CCA), imported on use (``from lmech.measure.geometry import TwoNN``).
"""

"""Representation geometry: intrinsic dimension, effective rank and CKA, against ground truth."""

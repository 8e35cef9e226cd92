"""Eigenlearning laws: kernel ridge regression test error from the kernel's eigensystem
(Simon et al. 2023; Bordelon, Canatar, Pehlevan 2020)."""

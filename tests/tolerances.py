"""One tolerance table for numeric comparisons (a test that loosens one says why)."""

RTOL = {"float64": 1e-10, "float32": 1e-5}
ATOL = {"float64": 1e-12, "float32": 1e-6}

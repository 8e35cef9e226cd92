"""lmech: a workbench for learning mechanics.

Every theory in lmech is a runnable, falsifiable prediction, checked against a real
training run of the system it describes (``lmech check``).
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__", "predict_learning_curve"]


def __getattr__(name: str):
    # lazy: `import lmech` stays light; lmech.predict_learning_curve loads the HEA pipeline
    if name == "predict_learning_curve":
        from lmech.predict import predict_learning_curve

        return predict_learning_curve
    raise AttributeError(f"module 'lmech' has no attribute {name!r}")

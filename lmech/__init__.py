"""lmech: a workbench for learning mechanics.

Every theory in lmech is a runnable, falsifiable prediction, checked against a real
training run of the system it describes (``lmech check``).
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]

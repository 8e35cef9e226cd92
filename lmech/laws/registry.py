"""The law catalog: find laws by name and tag.

Law modules are listed here by name and imported on first use, so ``lmech laws`` and
``lmech --help`` stay fast.
"""

from __future__ import annotations

import difflib
import importlib

from lmech.errors import UnknownLawError
from lmech.laws.base import Law

__all__ = ["MODULES", "all_laws", "catalog_markdown", "get", "names"]

# law name -> module under lmech.laws (one module per law)
MODULES: dict[str, str] = {
    "eigenlearning-synthetic": "eigenlearning_synthetic",
    "eigenlearning-digits": "eigenlearning_digits",
    "ntk-width-convergence": "ntk_width_convergence",
    "nngp-monte-carlo": "nngp_monte_carlo",
    "ntk-gradient-flow": "ntk_gradient_flow",
    "eigenlearning-fashion-mnist": "eigenlearning_fashion_mnist",
    "hea-eigenvalues-gaussian": "hea_eigenvalues_gaussian",
    "hea-learning-curve-gaussian": "hea_learning_curve_gaussian",
    "hea-learning-curve-fashion-mnist": "hea_learning_curve_fashion_mnist",
    "hea-fails-on-mnist": "hea_fails_on_mnist",
    "li2-energy-maxima": "li2_energy_maxima",
    "grokking-modular-addition": "grokking_modular_addition",
    "li2-top-down": "li2_top_down",
    "li2-boundary": "li2_boundary",
    "coord-check": "coord_check",
    "lr-transfer-width": "lr_transfer_width",
    "lazy-vs-rich": "lazy_vs_rich",
    "lr-transfer-depth": "lr_transfer_depth",
    "chinchilla-recovery": "chinchilla_recovery",
    "rf-scaling-exponents": "rf_scaling_exponents",
    "rf-compute-optimal": "rf_compute_optimal",
}

_cache: dict[str, Law] = {}


def get(name: str) -> Law:
    """The registered law called ``name``; UnknownLawError lists close and valid names."""
    if name not in MODULES:
        close = difflib.get_close_matches(name, MODULES, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UnknownLawError(
            f"unknown law {name!r}{hint} Known laws: {', '.join(MODULES)} (see `lmech laws`)"
        )
    if name not in _cache:
        module = importlib.import_module(f"lmech.laws.{MODULES[name]}")
        law = module.LAW
        if law.name != name:  # pragma: no cover - catalog consistency
            raise UnknownLawError(f"module {MODULES[name]} registers {law.name!r}, not {name!r}")
        _cache[name] = law
    return _cache[name]


def names(tag: str | None = None) -> list[str]:
    """Law names in catalog order, optionally only those tagged ``tag``."""
    if tag is None:
        return list(MODULES)
    return [n for n in MODULES if tag in get(n).tags]


def all_laws(tag: str | None = None) -> list[Law]:
    return [get(n) for n in names(tag)]


def catalog_markdown() -> str:
    """The law catalog as a Markdown table (README.md embeds it; a test keeps them equal)."""
    lines = [
        "| law | claim | metric (tolerance) | source | tags |",
        "| --- | --- | --- | --- | --- |",
    ]
    for law in all_laws():
        lines.append(
            f"| `{law.name}` | {law.claim.replace('|', '/')} | {law.criterion} | "
            f"{law.source} | {', '.join(law.tags)} |"
        )
    return "\n".join(lines)

"""The law catalog: one module per law, found through :mod:`lmech.laws.registry`."""

from lmech.laws.base import Law, Verdict
from lmech.laws.registry import all_laws, catalog_markdown, get, names

__all__ = ["Law", "Verdict", "all_laws", "catalog_markdown", "get", "names"]

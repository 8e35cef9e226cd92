"""The law catalog: every ``Law`` declared in a family package under :mod:`lmech.laws`.

A family is a subpackage (``lmech.laws.eigenlearning``, ``lmech.laws.ntk``, ...); every
public module in it is imported and each :class:`lmech.laws.base.Law` object at its top
level is registered. There is no hand-kept list: a new law is a new ``Law(...)`` in a
family module. Catalog order: families in :data:`FAMILY_ORDER` first (the order the
theory builds up in), then any other family alphabetically; within a family, modules
alphabetically and laws in the order their module declares them.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from functools import cache
from pathlib import Path

import lmech.laws as _laws_pkg
from lmech.errors import UnknownLawError
from lmech.laws.base import Law

__all__ = ["FAMILY_ORDER", "all_laws", "catalog_markdown", "families", "get", "names"]

# the order the catalog reads in; a family not listed here follows, alphabetically
FAMILY_ORDER = ("eigenlearning", "ntk", "hea", "grokking", "transfer", "scaling")


def families() -> list[str]:
    """Family package names in catalog order."""
    found = [m.name for m in pkgutil.iter_modules(_laws_pkg.__path__) if m.ispkg]
    found = [f for f in found if not f.startswith("_")]
    ordered = [f for f in FAMILY_ORDER if f in found]
    return ordered + sorted(f for f in found if f not in FAMILY_ORDER)


@cache
def _catalog() -> dict[str, Law]:
    laws: dict[str, Law] = {}
    for family in families():
        pkg = importlib.import_module(f"lmech.laws.{family}")
        modules = sorted(m.name for m in pkgutil.iter_modules(pkg.__path__))
        for mod_name in modules:
            if mod_name.startswith("_"):
                continue
            module = importlib.import_module(f"lmech.laws.{family}.{mod_name}")
            for value in vars(module).values():
                if not isinstance(value, Law):
                    continue
                other = laws.get(value.name)
                if other is not None and other is not value:
                    raise UnknownLawError(
                        f"two laws are named {value.name!r} (one in lmech.laws.{family}."
                        f"{mod_name}); law names must be unique"
                    )
                laws[value.name] = value
    return laws


def _declared_in(name: str) -> Law | None:
    """The law called ``name`` from the one module whose source names it, or None.

    Looking one law up this way imports one family instead of the whole catalog (about
    3 CPU-s of imports for 68 laws), so ``lmech run`` and ``lmech sweep`` start sooner.
    Only a module whose text holds the quoted name is imported, and only a ``Law`` of
    that name in it is returned; anything else (a name built at run time, an unknown
    name) falls back to the full catalog, which also checks that names are unique."""
    quoted = (f'"{name}"', f"'{name}'")
    for family in families():
        folder = Path(_laws_pkg.__path__[0]) / family
        for path in sorted(folder.glob("[!_]*.py")):
            try:
                text = path.read_text(encoding="utf-8")
            except OSError:
                continue
            if not any(q in text for q in quoted):
                continue
            module = importlib.import_module(f"lmech.laws.{family}.{path.stem}")
            for value in vars(module).values():
                if isinstance(value, Law) and value.name == name:
                    return value
    return None


def _catalog_built() -> bool:
    """Whether the full catalog is at hand (built, or replaced by a caller's own)."""
    info = getattr(_catalog, "cache_info", None)
    return info is None or info().currsize > 0


def get(name: str) -> Law:
    """The registered law called ``name``; UnknownLawError lists close and valid names."""
    if not _catalog_built() and (law := _declared_in(name)) is not None:
        return law
    catalog = _catalog()
    if name not in catalog:
        close = difflib.get_close_matches(name, catalog, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UnknownLawError(
            f"unknown law {name!r}{hint} Known laws: {', '.join(catalog)} (see `lmech laws`)"
        )
    return catalog[name]


def names(tag: str | None = None) -> list[str]:
    """Law names in catalog order, optionally only those tagged ``tag``."""
    return [n for n, law in _catalog().items() if tag is None or tag in law.tags]


def all_laws(tag: str | None = None) -> list[Law]:
    return [get(n) for n in names(tag)]


def catalog_markdown() -> str:
    """The law catalog as a Markdown table (README.md embeds it; a test keeps them equal)."""
    lines = [
        "| law | claim | pass criterion | source | tags |",
        "| --- | --- | --- | --- | --- |",
    ]
    for law in all_laws():
        lines.append(
            f"| `{law.name}` | {law.claim.replace('|', '/')} | {law.text} | "
            f"{law.source} | {', '.join(law.tags)} |"
        )
    return "\n".join(lines)

"""Looking one law up imports its own family only, and finds the same law the catalog does."""

import subprocess
import sys

import pytest

from lmech.errors import UnknownLawError


def _lookup(name: str) -> str:
    code = (
        "import sys; from lmech.laws import registry; "
        f"law = registry.get({name!r}); "
        "fams = sorted({m.split('.')[2] for m in sys.modules "
        "if m.startswith('lmech.laws.') and m.count('.') >= 3}); "
        "print(law.name, ','.join(fams), law is registry.get(law.name), "
        "registry._catalog()[law.name] is law)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


@pytest.mark.parametrize(
    ("name", "family"),
    [("grokking-modular-addition", "grokking"), ("qwem-closed-form", "embeddings")],
)
def test_one_lookup_imports_one_family_and_is_the_catalogs_law(name, family):
    got, families, same, in_catalog = _lookup(name)
    # before the catalog is built only the law's family was imported
    assert got == name and families == family
    assert same == "True" and in_catalog == "True"


def test_an_unknown_name_still_gets_the_catalogs_error():
    from lmech.laws import registry

    with pytest.raises(UnknownLawError, match="did you mean grokking-modular-addition"):
        registry.get("grokking-modular-additon")


def test_a_catalog_replaced_by_a_caller_is_the_one_looked_up(monkeypatch):
    from lmech.laws import registry

    law = registry.get("qwem-closed-form")
    fake = {"my-law": law}
    monkeypatch.setattr(registry, "_catalog", lambda: fake)
    assert registry.get("my-law") is law
    with pytest.raises(UnknownLawError):
        registry.get("grokking-modular-addition")  # not in the replaced catalog

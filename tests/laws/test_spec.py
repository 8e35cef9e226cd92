import dataclasses
from dataclasses import dataclass

import pytest

from lmech.errors import ConfigError
from lmech.laws.spec import LawSpec, param, violations


@dataclass(frozen=True)
class _Spec(LawSpec):
    width: int = param(8, ge=1)
    lr: float = param(1e-3, gt=0, le=1)
    sizes: tuple[int, ...] = param((10, 20), ge=1, min_len=2, distinct=True, increasing=True)
    kind: str = param("relu", choices=("relu", "tanh"))
    pair: tuple[float, float] = param((0.5, 1.5), gt=0)
    flag: bool = False

    def validate(self) -> None:
        if self.width > max(self.sizes):
            raise ConfigError(f"width must be <= max(sizes) {max(self.sizes)}; got {self.width}")


def test_coercion_to_declared_types():
    s = _Spec(lr=1, sizes=[10, 30], pair=[1, 2])
    assert isinstance(s.lr, float) and s.sizes == (10, 30) and s.pair == (1.0, 2.0)
    assert type(s.pair[0]) is float


@pytest.mark.parametrize(
    "changes,needle",
    [
        ({"width": 0}, "width must be >= 1"),
        ({"width": True}, "width must be an integer"),
        ({"width": 2.5}, "width must be an integer"),
        ({"lr": 0.0}, "lr must be > 0"),
        ({"lr": 2.0}, "lr must be <= 1"),
        ({"lr": float("nan")}, "lr must be a number"),
        ({"lr": float("inf")}, "lr must be finite"),
        ({"sizes": (10,)}, "at least 2"),
        ({"sizes": (10, 10)}, "distinct"),
        ({"sizes": (20, 10)}, "increasing"),
        ({"sizes": (0, 10)}, "every entry of sizes must be >= 1"),
        ({"kind": "gelu"}, "one of"),
        ({"pair": (1.0,)}, "pair must have 2 entries"),
        ({"flag": 1}, "flag must be true or false"),
        ({"width": 100}, "width must be <= max(sizes)"),
    ],
)
def test_constraints_raise_config_errors(changes, needle):
    with pytest.raises(ConfigError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        _Spec(**changes)


def test_violations_are_all_refused_and_cover_every_constraint():
    spec = _Spec()
    cases = list(violations(spec))
    fields = {name for name, _ in cases}
    assert fields == {"width", "lr", "sizes", "kind", "pair"}
    for name, bad in cases:
        with pytest.raises(ConfigError, match=name):
            dataclasses.replace(spec, **{name: bad})


def test_defaults_must_be_immutable():
    with pytest.raises(TypeError):
        param([1, 2], ge=0)

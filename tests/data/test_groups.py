"""Finite groups: tables, irreps (homomorphism, unitarity, Schur), Plancherel, splits."""

import numpy as np
import pytest

from lmech.data.groups import cyclic, dihedral, get_group, product, symmetric, train_test_split
from lmech.errors import InputError

GROUPS = ["Z2", "Z7", "Z12", "Z2xZ3", "Z2xZ2xZ3", "D3", "D4", "D5", "S3", "S4"]


@pytest.fixture(params=GROUPS)
def group(request):
    return get_group(request.param)


def test_table_is_a_group(group):
    M, T = group.order, group.table
    assert sorted(T[0]) == list(range(M)) and all(sorted(row) == list(range(M)) for row in T)
    e = group.identity
    assert (T[e] == np.arange(M)).all() and (T[:, e] == np.arange(M)).all()
    inv = group.inverse
    assert (T[np.arange(M), inv] == e).all()
    # associativity on all triples
    assert (
        T[T[:, :, None], np.arange(M)[None, None, :]]
        == T[np.arange(M)[:, None, None], T[None, :, :]]
    ).all()


def test_irreps_are_unitary_homomorphisms(group):
    T = group.table
    for r in group.irreps:
        R = r.matrices
        lhs = R[T]  # rho(a * b), (M, M, d, d)
        rhs = np.einsum("aij,bjk->abik", R, R)
        np.testing.assert_allclose(lhs, rhs, atol=1e-12)
        eye = np.eye(r.dim)
        np.testing.assert_allclose(
            np.einsum("gji,gjk->gik", R.conj(), R), np.broadcast_to(eye, R.shape), atol=1e-12
        )


def test_schur_orthogonality_and_completeness(group):
    M = group.order
    assert sum(r.dim**2 for r in group.irreps) == M
    for i, ri in enumerate(group.irreps):
        for j, rj in enumerate(group.irreps):
            # sum_g rho_i(g)_ab conj(rho_j(g)_cd) = M / d_i delta_ij delta_ac delta_bd
            S = np.einsum("gab,gcd->abcd", ri.matrices, rj.matrices.conj())
            if i == j:
                d = ri.dim
                expect = np.einsum("ac,bd->abcd", np.eye(d), np.eye(d)) * M / d
                np.testing.assert_allclose(S, expect, atol=1e-10)
            else:
                np.testing.assert_allclose(S, 0.0, atol=1e-10)


def test_plancherel_power_sums_to_norm(group):
    rng = np.random.default_rng(0)
    f = rng.standard_normal((5, group.order))
    P = group.power(f)
    np.testing.assert_allclose(P.sum(-1), (f**2).sum(-1), rtol=1e-12)
    assert (P >= -1e-12).all()
    # a single irrep's matrix entry lives entirely in its real class
    for k, cls in enumerate(group.real_classes):
        r = group.irreps[cls[0]]
        g = r.matrices[:, 0, 0].real
        if np.abs(g).sum() > 1e-9:
            assert group.power(g)[k] == pytest.approx((g**2).sum(), rel=1e-10)


def test_cyclic_classes_are_frequencies():
    g = cyclic(7)
    assert g.class_names[:2] == ["k=0", "k=1/k=6"]
    assert len(g.real_classes) == 4 and list(g.class_dims) == [1, 1, 1, 1]
    a = np.arange(7)
    P = g.power(np.cos(2 * np.pi * 3 * a / 7 + 0.4))
    assert np.argmax(P) == 3 and P[3] == pytest.approx(3.5, rel=1e-12)
    assert len(cyclic(8).real_classes) == 5  # k = 0, 1/7, 2/6, 3/5, 4


def test_products_dihedral_symmetric_orders():
    assert product(cyclic(2), cyclic(3)).order == 6
    assert dihedral(5).order == 10 and not dihedral(5).abelian
    assert symmetric(4).order == 24 and sorted(r.dim for r in symmetric(4).irreps) == [
        1,
        1,
        2,
        3,
        3,
    ]
    assert get_group("s3").order == 6 and get_group("Z2xZ3").abelian
    a, b, c = cyclic(5).pairs()
    assert len(a) == 25 and (c == (a + b) % 5).all()


def test_bad_input():
    with pytest.raises(InputError, match=">= 2"):
        cyclic(1)
    with pytest.raises(InputError, match="unknown group"):
        get_group("Q8")
    with pytest.raises(InputError, match="n = 3 and 4"):
        symmetric(5)
    with pytest.raises(InputError, match=r"\(0, 1\)"):
        train_test_split(cyclic(5), 1.0, 0)
    with pytest.raises(InputError, match=r"\(0, 1\)"):
        train_test_split(cyclic(5), 0.0, 0)


def test_split_is_seeded_and_disjoint():
    g = cyclic(11)
    tr, te = train_test_split(g, 0.3, seed=4)
    assert len(tr) == round(0.3 * 121) and len(np.intersect1d(tr, te)) == 0
    assert len(tr) + len(te) == 121
    tr2, _ = train_test_split(g, 0.3, seed=4)
    assert (tr == tr2).all()
    assert not (train_test_split(g, 0.3, seed=5)[0] == tr).all()

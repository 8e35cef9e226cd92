"""Chunked sweeps of the learning-rate transfer laws: the same tables as one ensemble, a
declared peak within the budget, and the chunk arithmetic against its closed form.

Chunked and unchunked tables agree to float32 round-off, not bitwise: every member
starts from its own seed and sees the same minibatches, but the batched matrix products
of a chunk of k members may take another kernel than those of all members (measured:
at most 3.5e-7 relative, about 3 float32 ulps, after 6 steps; chunks of 4 of 6 members
were bitwise equal). The quick presets run as one chunk, so their tables are unchanged.
"""

import numpy as np
import pandas as pd
import pytest

from lmech.laws.transfer import lr_transfer as lt
from lmech.laws.transfer import mup_transformer_lr as mt
from lmech.laws.transfer._common import chunks, members_per_chunk

GIB = 2**30


def _budget_for(spec, k: int) -> float:
    """memory_budget_gib that holds exactly k members of the largest size."""
    fixed, per = spec.member_bytes()
    return (fixed + k * per + per // 2) / GIB


def _same_table(part: pd.DataFrame, whole: pd.DataFrame) -> None:
    # everything but the loss exactly; the loss to a few float32 ulps (1 ulp = 1.2e-7)
    pd.testing.assert_frame_equal(part.drop(columns="loss"), whole.drop(columns="loss"))
    np.testing.assert_allclose(part["loss"], whole["loss"], rtol=2e-6, atol=0)


def _with_chunk(spec, k: int):
    out = type(spec)(**{**spec.__dict__, "memory_budget_gib": _budget_for(spec, k)})
    assert out.chunk_size() == k
    return out


def test_chunk_arithmetic_matches_its_closed_form(monkeypatch):
    # explicit budget: floor((budget - fixed) / per), capped by the number of members
    assert members_per_chunk(2**20, 3 * 2**20, 1000, 0.5) == (512 - 1) // 3 == 170
    assert members_per_chunk(2**20, 3 * 2**20, 7, 0.5) == 7
    # automatic: half of LMECH_MEMORY_LIMIT_GB
    monkeypatch.setenv("LMECH_MEMORY_LIMIT_GB", "2")
    assert members_per_chunk(2**20, 3 * 2**20, 1000, 0.0) == (1024 - 1) // 3
    # automatic never goes below one member (the runner refuses it if it does not fit)
    assert members_per_chunk(2**20, 5 * GIB, 1000, 0.0) == 1
    assert [list(r) for r in chunks(7, 3)] == [[0, 1, 2], [3, 4, 5], [6]]


def test_width_sweep_in_chunks_gives_the_same_table():
    spec = lt.WidthSpec(
        widths=(16, 48), base_width=16, num_train=64, batch_size=16, steps=6, seeds=2,
        log2_lr_min=-4, log2_lr_max=-2,
    )  # fmt: skip
    whole = lt.LAW_WIDTH.experiment(spec, 3, "cpu")
    assert spec.chunk_size() == spec.members() == 6
    for k in (1, 4):  # 4: chunks of 4 and 2, not a divisor of the 6 members
        part = lt.LAW_WIDTH.experiment(_with_chunk(spec, k), 3, "cpu")
        _same_table(part, whole)


def test_depth_sweep_in_chunks_gives_the_same_table():
    spec = lt.DepthSpec(
        width=16, base_width=16, depths=(1, 3), num_train=64, batch_size=16, steps=6,
        seeds=2, log2_lr_min=-4, log2_lr_max=-3,
    )  # fmt: skip
    whole = lt.LAW_DEPTH.experiment(spec, 1, "cpu")
    part = lt.LAW_DEPTH.experiment(_with_chunk(spec, 3), 1, "cpu")
    _same_table(part, whole)


def test_gpt_sweep_in_chunks_gives_the_same_table():
    spec = mt.Spec(
        widths=(8, 16), base_width=8, n_head=2, steps=4, seeds=2, log2_lr_min=-6,
        log2_lr_max=-4, eval_sequences=8,
    )  # fmt: skip
    whole = mt.LAW.experiment(spec, 2, "cpu")
    assert spec.chunk_size() == 6
    for k in (1, 4):
        part = mt.LAW.experiment(_with_chunk(spec, k), 2, "cpu")
        _same_table(part, whole)


@pytest.mark.parametrize("law", [lt.LAW_WIDTH, lt.LAW_DEPTH, mt.LAW], ids=lambda law: law.name)
def test_paper_presets_declare_at_most_their_budget(law, monkeypatch):
    paper = law.preset("paper")
    fixed, per = paper.member_bytes()
    assert fixed + paper.members() * per > 24 * GIB  # all at once would not fit this machine
    # automatic budget on a 16 GiB limit: 8 GiB, or one member where one needs more
    monkeypatch.setenv("LMECH_MEMORY_LIMIT_GB", "16")
    k = paper.chunk_size()
    assert k == max(1, min(paper.members(), (8 * GIB - fixed) // per))
    assert paper.memory_bytes() <= max(8 * GIB, fixed + per)
    # an explicit budget is honoured for every size
    spec = type(paper)(**{**paper.__dict__, "memory_budget_gib": 12.0})
    assert spec.memory_bytes() <= 12 * GIB
    sizes = spec.sizes() if hasattr(spec, "sizes") else spec.widths
    for s in sizes:
        f, p = spec.member_bytes(s)
        assert f + spec.chunk_size(s) * p <= 12 * GIB
        assert spec.chunk_size(s) == min(spec.members(), (12 * GIB - f) // p)

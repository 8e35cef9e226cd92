"""Bad memory budgets of the chunked transfer sweeps: a clear lmech.errors error, no work."""

import re

import pytest
import torch

from lmech.cli import main
from lmech.errors import ConfigError, InputError
from lmech.experiment.transfer import adam_lr_sweep
from lmech.laws import registry
from lmech.laws.transfer._common import chunks

LAWS = ("lr-transfer-width", "lr-transfer-depth", "mup-transformer-lr-transfer")


@pytest.mark.parametrize("name", LAWS)
def test_a_budget_below_one_member_is_a_config_error_naming_the_need(name):
    law = registry.get(name)
    paper = law.preset("paper")
    fixed, per = paper.member_bytes()
    with pytest.raises(ConfigError) as info:
        type(paper)(**{**paper.__dict__, "memory_budget_gib": 0.01})
    msg = str(info.value)
    assert "memory_budget_gib=0.01" in msg and "cannot hold one member" in msg
    # the message says how far to raise it: the one-member need, rounded up to 1/1000 GiB
    need = float(re.search(r"at least ([\d.]+)", msg).group(1))
    assert 0 <= need - (fixed + per) / 2**30 < 1e-3
    ok = type(paper)(**{**paper.__dict__, "memory_budget_gib": need})
    assert ok.chunk_size() == 1 and ok.memory_bytes() <= need * 2**30


def _one_error_line(capsys):
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    return lines[0]


def test_cli_refuses_a_too_small_budget_in_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = main(
        ["run", "lr-transfer-width", "--preset", "paper", "--device", "cpu",
         "--set", "memory_budget_gib=0.5"]
    )  # fmt: skip
    assert code == 2
    line = _one_error_line(capsys)
    assert "cannot hold one member" in line and "memory_budget_gib" in line
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_cli_refuses_an_automatic_budget_when_one_member_exceeds_the_limit(
    tmp_path, capsys, monkeypatch
):
    # the paper GPT's widest member needs ~5.4 GiB; a 2 GiB limit cannot hold it
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LMECH_MEMORY_LIMIT_GB", "2")
    code = main(["run", "mup-transformer-lr-transfer", "--preset", "paper", "--device", "cpu"])
    assert code == 2
    line = _one_error_line(capsys)
    assert "mup-transformer-lr-transfer at this spec needs" in line
    assert "above the limit of 2.0 GiB (LMECH_MEMORY_LIMIT_GB=2)" in line
    assert list(tmp_path.iterdir()) == []


def test_negative_budget_is_refused():
    with pytest.raises(ConfigError, match="memory_budget_gib"):
        registry.get("lr-transfer-width").spec(memory_budget_gib=-1.0)


@pytest.mark.parametrize("bad", [0, -2, True, 1.5])
def test_adam_lr_sweep_refuses_a_bad_chunk(bad):
    m = torch.nn.Linear(2, 1)
    batch = (torch.zeros(3, 2), torch.zeros(3, 1))
    with pytest.raises(InputError, match="max_members must be a positive integer"):
        adam_lr_sweep(
            [m], [1e-3], [batch], batch, loss_fn=torch.nn.functional.mse_loss, max_members=bad
        )


def test_chunks_refuse_an_empty_chunk():
    with pytest.raises(InputError, match="at least one member"):
        chunks(5, 0)

r"""A small GPT-like language model: embeddings, pre-LN blocks (attention + MLP), readout.

:class:`GPT` (Radford et al. 2019, GPT-2 Sec. 2.3: pre-LN blocks) with

- token and position embeddings ``tok`` (V, d) and ``pos`` (T, d);
- ``n_layer`` blocks ``blocks.i`` with two residual branches, ``blocks.i.attn`` (LayerNorm
  then causal self-attention) and ``blocks.i.mlp`` (LayerNorm, d -> ``ffn_mult`` d, GELU,
  back to d); x <- x + c branch(x) with c the branch's ``lmech_branch_multiplier`` when
  :func:`lmech.nn.mup.parameterize` set one (1 otherwise);
- attention with separate ``q``, ``k``, ``v``, ``out`` linears (``attention="separate"``)
  or ``nn.MultiheadAttention`` (``attention="torch"``); the logits are q.k x
  ``attn_scale``, a buffer initialized to 1/sqrt(d_head) (muP sets sqrt(d_base)/d_head);
- a final LayerNorm ``ln_f`` and a readout ``readout`` (d -> V).

Every layer keeps PyTorch's default initialization (the standard parameterization at
any width), so that :func:`lmech.nn.mup.parameterize` with ``init="mup"`` turns it into
muP exactly as ``mup.set_base_shapes`` does. Widths: ``d_model`` and ``n_head`` with
``head_dim = d_model / n_head``; to grow the head dimension keep ``n_head`` fixed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from lmech.errors import InputError

__all__ = ["GPTConfig", "GPT"]


@dataclass(frozen=True)
class GPTConfig:
    vocab: int = 32
    seq_len: int = 16
    d_model: int = 64
    n_layer: int = 2
    n_head: int = 4
    ffn_mult: int = 4
    attention: str = "separate"
    bias: bool = False

    def __post_init__(self) -> None:
        for f in ("vocab", "seq_len", "d_model", "n_layer", "n_head", "ffn_mult"):
            v = getattr(self, f)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise InputError(f"GPTConfig.{f} must be a positive integer; got {v!r}")
        if self.d_model % self.n_head:
            raise InputError(
                f"d_model {self.d_model} is not a multiple of n_head {self.n_head}; "
                "choose d_model = n_head x head_dim"
            )
        if self.attention not in ("separate", "torch"):
            raise InputError(f"attention must be 'separate' or 'torch'; got {self.attention!r}")

    def with_width(self, d_model: int, n_head: int | None = None) -> GPTConfig:
        from dataclasses import replace

        return replace(self, d_model=d_model, n_head=n_head or self.n_head)

    def with_depth(self, n_layer: int) -> GPTConfig:
        from dataclasses import replace

        return replace(self, n_layer=n_layer)


class Attention(nn.Module):
    """Causal self-attention with separate q/k/v/out linears and the logit scale ``attn_scale``."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        d = cfg.d_model
        self.n_head, self.head_dim = cfg.n_head, d // cfg.n_head
        self.q, self.k, self.v = (nn.Linear(d, d, bias=cfg.bias) for _ in range(3))
        self.out = nn.Linear(d, d, bias=cfg.bias)
        self.register_buffer("attn_scale", torch.tensor(1.0 / math.sqrt(self.head_dim)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, d = x.shape
        q, k, v = (
            f(x).view(B, T, self.n_head, self.head_dim).transpose(1, 2)
            for f in (self.q, self.k, self.v)
        )
        logits = (q @ k.transpose(-1, -2)) * self.attn_scale.to(q.dtype)
        mask = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
        att = logits.masked_fill(~mask, float("-inf")).softmax(-1)
        return self.out((att @ v).transpose(1, 2).reshape(B, T, d))


class TorchAttention(nn.Module):
    """Causal self-attention through ``nn.MultiheadAttention`` (submodule ``mha``)."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.mha = nn.MultiheadAttention(cfg.d_model, cfg.n_head, bias=cfg.bias, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T = x.shape[1]
        mask = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)
        return self.mha(x, x, x, attn_mask=mask, need_weights=False)[0]


class AttnBranch(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.ln = nn.LayerNorm(cfg.d_model)
        self.self_attn = Attention(cfg) if cfg.attention == "separate" else TorchAttention(cfg)

    def forward(self, x):
        return self.self_attn(self.ln(x))


class MLPBranch(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        d = cfg.d_model
        self.ln = nn.LayerNorm(d)
        self.fc = nn.Linear(d, cfg.ffn_mult * d, bias=cfg.bias)
        self.act = nn.GELU()
        self.proj = nn.Linear(cfg.ffn_mult * d, d, bias=cfg.bias)

    def forward(self, x):
        return self.proj(self.act(self.fc(self.ln(x))))


class Block(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.attn = AttnBranch(cfg)
        self.mlp = MLPBranch(cfg)

    def forward(self, x):
        x = x + self.attn(x)
        return x + self.mlp(x)


class GPT(nn.Module):
    """The model of :class:`GPTConfig`; ``forward(idx)`` maps (B, T) token ids to (B, T, V) logits."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        if not isinstance(cfg, GPTConfig):
            raise InputError(f"GPT needs a GPTConfig; got {type(cfg).__name__}")
        self.cfg = cfg
        self.tok = nn.Embedding(cfg.vocab, cfg.d_model)
        self.pos = nn.Embedding(cfg.seq_len, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.readout = nn.Linear(cfg.d_model, cfg.vocab, bias=cfg.bias)

    @staticmethod
    def branches() -> list[str]:
        """fnmatch patterns of the residual branches, for ``parameterize(branches=...)``."""
        return ["blocks.*.attn", "blocks.*.mlp"]

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        B, T = idx.shape
        if T > self.cfg.seq_len:
            raise InputError(f"sequence length {T} > seq_len {self.cfg.seq_len} of the model")
        x = self.tok(idx) + self.pos(torch.arange(T, device=idx.device))
        for blk in self.blocks:
            x = blk(x)
        return self.readout(self.ln_f(x))

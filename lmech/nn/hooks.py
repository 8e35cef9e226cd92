"""Per-layer activations of any torch model, streamed in batches.

- :func:`activations`: a generator of ``{layer name: (batch, features) tensor}``, one
  per input batch, from forward hooks on the named modules (``model.named_modules()``
  names, e.g. ``"1"`` or ``"encoder.layer.3"``); only the requested modules are hooked
  and the hooks are removed afterwards, whatever happens.
- :func:`collect`: the activations stacked into float64 numpy arrays (n, p), with the
  memory checked before each batch is appended.
- :func:`layer_moments`: one :class:`~lmech.measure.geometry.Moments` per layer (mean,
  covariance, spectrum) in one pass, so that n x p never sits in memory.
- :func:`layer_cka`: the (L, L) linear-CKA matrix between layers in one pass, from one
  :class:`~lmech.measure.geometry.StreamingCKA` per pair.

Batches are tensors of inputs, or tuples/lists whose first entry is the input (a
``DataLoader`` of ``(x, y)`` pairs works as is). Activations are flattened to
``(batch, -1)``; a module returning a tuple contributes its first entry.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import torch

from lmech._memory import check_allocation
from lmech.errors import InputError
from lmech.measure.geometry import Moments, StreamingCKA

__all__ = ["activations", "collect", "layer_moments", "layer_cka"]


def _modules(model: torch.nn.Module, layers: Sequence[str]) -> dict[str, torch.nn.Module]:
    if isinstance(layers, str):
        layers = [layers]
    named = dict(model.named_modules())
    missing = [name for name in layers if name not in named]
    if missing or not layers:
        shown = ", ".join(repr(k) for k in list(named)[1:21])
        raise InputError(
            f"layers must name modules of the model; {missing or 'none'} "
            f"{'are' if missing else 'were given'}; modules: {shown}"
            f"{' ...' if len(named) > 21 else ''}"
        )
    if len(set(layers)) != len(layers):
        raise InputError(f"layers must be distinct; got {list(layers)}")
    return {name: named[name] for name in layers}


def _inputs(batch):
    if isinstance(batch, (tuple, list)):
        if not batch:
            raise InputError("a batch tuple must hold the inputs first; got an empty one")
        batch = batch[0]
    if not isinstance(batch, torch.Tensor):
        batch = torch.as_tensor(np.asarray(batch))
    return batch


def activations(
    model: torch.nn.Module,
    batches: Iterable,
    layers: Sequence[str],
    *,
    device=None,
) -> Iterator[dict[str, torch.Tensor]]:
    """Yield ``{layer: (b, p) activations}`` for each batch, under ``torch.no_grad()``.

    Args:
        model: any ``torch.nn.Module`` (put in eval mode by the caller if it matters).
        batches: an iterable of input tensors or ``(x, ...)`` tuples.
        layers: names from ``model.named_modules()``.
        device: where the inputs go (default: the device of the model's first
            parameter, else CPU).

    Raises:
        InputError: unknown layer names, or a batch whose activations change width.
    """
    mods = _modules(model, layers)
    if device is None:
        first = next(model.parameters(), None)
        device = first.device if first is not None else torch.device("cpu")
    store: dict[str, torch.Tensor] = {}

    def hook(name):
        def fn(_module, _inp, out):
            if isinstance(out, (tuple, list)):
                out = out[0]
            store[name] = out.detach().reshape(out.shape[0], -1)

        return fn

    handles = [m.register_forward_hook(hook(name)) for name, m in mods.items()]
    try:
        widths: dict[str, int] = {}
        for batch in batches:
            x = _inputs(batch).to(device)
            store.clear()
            with torch.no_grad():
                model(x)
            out = {}
            for name in mods:
                if name not in store:
                    raise InputError(f"layer {name!r} was not called in the forward pass")
                a = store[name]
                if widths.setdefault(name, a.shape[1]) != a.shape[1]:
                    raise InputError(
                        f"layer {name!r} gave {a.shape[1]} features in a batch after "
                        f"{widths[name]}; inputs must share one shape"
                    )
                out[name] = a
            yield out
    finally:
        for h in handles:
            h.remove()


def collect(model, batches, layers, *, device=None) -> dict[str, np.ndarray]:
    """The activations of ``layers`` over all batches, stacked: ``{layer: (n, p) float64}``."""
    parts: dict[str, list[np.ndarray]] = {}
    total = 0
    for acts in activations(model, batches, layers, device=device):
        total += sum(8 * a.numel() for a in acts.values())
        check_allocation(
            2 * total,
            "the stacked float64 activations",
            "use layer_moments/layer_cka (streamed) or fewer inputs",
        )
        for name, a in acts.items():
            parts.setdefault(name, []).append(a.to(torch.float64).cpu().numpy())
    if not parts:
        raise InputError("batches was empty: no activations to collect")
    return {name: np.concatenate(v) for name, v in parts.items()}


def layer_moments(model, batches, layers, *, device=None) -> dict[str, Moments]:
    """One streamed :class:`Moments` per layer (covariance, spectrum) over all batches."""
    out: dict[str, Moments] = {}
    for acts in activations(model, batches, layers, device=device):
        for name, a in acts.items():
            out.setdefault(name, Moments(device=a.device)).update(a)
    if not out:
        raise InputError("batches was empty: no activations to accumulate")
    return out


def layer_cka(model, batches, layers, *, debiased: bool = False, device=None) -> np.ndarray:
    """(L, L) linear CKA between every pair of ``layers`` over all batches, in one pass."""
    names = list([layers] if isinstance(layers, str) else layers)
    accs: dict[tuple[int, int], StreamingCKA] = {}
    for acts in activations(model, batches, names, device=device):
        for i in range(len(names)):
            for j in range(i + 1, len(names)):
                a, b = acts[names[i]], acts[names[j]]
                accs.setdefault((i, j), StreamingCKA(device=a.device)).update(a, b)
    if not accs and len(names) > 1:
        raise InputError("batches was empty: no activations to compare")
    M = np.eye(len(names))
    for (i, j), acc in accs.items():
        M[i, j] = M[j, i] = acc.cka(debiased=debiased)
    return M

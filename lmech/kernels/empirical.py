r"""Empirical neural tangent kernel of any ``torch.nn.Module`` (torch.func, CPU or CUDA).

For a model :math:`f(\cdot;\theta): \mathbb{R}^{d_\text{in}} \to \mathbb{R}^k` the
empirical NTK at the current parameters is

.. math::

    \hat\Theta_{ab}(x, x') = \sum_{p} \frac{\partial f_a(x)}{\partial \theta_p}
                                      \frac{\partial f_b(x')}{\partial \theta_p}
                         = \big[J(x)\, J(x')^\top\big]_{ab},

with :math:`J(x) \in \mathbb{R}^{k \times P}` the Jacobian of the outputs with respect to
the selected parameters. :func:`empirical_ntk` returns it for two sets of inputs;
:class:`EmpiricalNTK` wraps it as a kernel with ``block(X, Z)`` so it plugs into
:func:`lmech.kernels.base.gram` and the KRR engine.

Two methods (Novak et al. 2022, Sec. 3):

* ``"jacobian"`` (Jacobian contraction): per-sample Jacobians by ``vmap(jacrev(f))`` on
  a row block and a column block, then :math:`J(X) J(Z)^\top` summed over parameter
  tensors. Cost about (n + m) k backward passes plus n m k^2 P (full) or n m k P
  (trace, diagonal) multiply-adds; memory two Jacobian blocks, 2 c k P numbers for
  ``chunk_size`` c.
* ``"ntvp"`` (NTK-vector products): the rows :math:`J(z_j)^\top e_b` of a column block
  (the VJPs of the standard basis, i.e. ``vmap(jacrev)`` on that block) are pushed
  through the row block by forward mode, :math:`J(x_i)\,[J(z_j)^\top e_b]` = ``jvp``.
  No row-side Jacobian is formed and no k^2 P contraction is done; cost about n m k
  forward-mode passes. Column blocks are shrunk so their Jacobian rows stay under
  :data:`JACOBIAN_BUDGET_BYTES`, which bounds the P-dependent memory for any P.

``method="auto"`` picks ``"jacobian"`` while its two Jacobian blocks fit in
:data:`JACOBIAN_BUDGET_BYTES` (the fast path for small and medium models) and ``"ntvp"``
beyond (large parameter counts).

References:
    Jacot, Gabriel, Hongler, "Neural Tangent Kernel: Convergence and Generalization in
    Neural Networks", NeurIPS 2018, Sec. 3 (definition of the NTK).
    Novak, Sohl-Dickstein, Schoenholz, "Fast Finite Width Neural Tangent Kernel",
    ICML 2022, Sec. 3.1 (Jacobian contraction) and 3.2 (NTK-vector products).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call, jacrev, jvp, vmap
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.dropout import _DropoutNd

from lmech._memory import check_allocation
from lmech._validate import as_positive_int
from lmech.errors import InputError

__all__ = ["empirical_ntk", "EmpiricalNTK", "JACOBIAN_BUDGET_BYTES"]

MODES = ("full", "trace", "diagonal")
METHODS = ("auto", "jacobian", "ntvp")

#: Bytes of Jacobian blocks that ``method="auto"`` allows before switching to ``"ntvp"``;
#: also the cap on the column-block Jacobian rows held by ``"ntvp"``.
JACOBIAN_BUDGET_BYTES = 2**30

_Params = dict[str, torch.Tensor]


@dataclass(frozen=True)
class _Setup:
    """What the computation needs once inputs are checked (internal; trusted)."""

    f: Callable[[_Params, torch.Tensor], torch.Tensor]  # (params, one sample) -> (k,)
    params: _Params  # selected (differentiated) parameters, detached
    k: int  # number of outputs per sample
    n_params: int  # P
    itemsize: int


def _select_parameters(model: nn.Module, names: Iterable[str] | None) -> _Params:
    named = dict(model.named_parameters())
    if names is None:
        chosen = {n: p for n, p in named.items() if p.requires_grad}
        if not chosen:
            raise InputError(
                f"{type(model).__name__} has no parameters with requires_grad=True; "
                "unfreeze some or name them with params="
            )
        return chosen
    names = [names] if isinstance(names, str) else list(names)
    if not names or not all(isinstance(n, str) for n in names):
        raise InputError(f"params must be a non-empty list of parameter names; got {names!r}")
    chosen = {}
    for name in names:
        # an exact parameter name, or a module prefix ("0" selects "0.weight", "0.bias")
        hits = {n: p for n, p in named.items() if n == name or n.startswith(name + ".")}
        if not hits:
            some = ", ".join(list(named)[:6]) + (", ..." if len(named) > 6 else "")
            raise InputError(f"params: no parameter or module named {name!r}; have {some}")
        chosen.update(hits)
    return chosen


def _check_per_sample(model: nn.Module) -> None:
    for name, module in model.named_modules():
        if module.training and isinstance(module, _BatchNorm | _DropoutNd):
            raise InputError(
                f"module {name or type(model).__name__!r} ({type(module).__name__}) is in "
                "training mode, so f(x) is not a function of x alone; call model.eval() first"
            )


def _as_inputs(X, name: str, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    if not isinstance(X, torch.Tensor):
        raise InputError(f"{name} must be a torch.Tensor (n, ...); got {type(X).__name__}")
    if X.ndim < 1 or X.shape[0] == 0:
        raise InputError(f"{name} must have a non-empty leading batch axis; got {tuple(X.shape)}")
    if X.is_floating_point():
        if not bool(torch.isfinite(X).all()):
            raise InputError(f"{name} must be finite; got NaN/inf entries")
        return X.to(device=device, dtype=dtype)
    return X.to(device=device)  # integer inputs (token ids) keep their dtype


def _setup(
    model: nn.Module, X, Z, params: Iterable[str] | None
) -> tuple[_Setup, torch.Tensor, torch.Tensor | None]:
    if not isinstance(model, nn.Module):
        raise InputError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    chosen = _select_parameters(model, params)
    dtypes = {p.dtype for p in chosen.values()}
    if len(dtypes) != 1 or not next(iter(dtypes)).is_floating_point:
        raise InputError(
            f"selected parameters must share one float dtype; got {sorted(map(str, dtypes))}"
        )
    dtype, device = dtypes.pop(), next(iter(chosen.values())).device
    _check_per_sample(model)
    X = _as_inputs(X, "X", device, dtype)
    if Z is not None:
        Z = _as_inputs(Z, "Z", device, dtype)
        if Z.shape[1:] != X.shape[1:]:
            raise InputError(
                f"Z samples must have shape {tuple(X.shape[1:])} like X's; got {tuple(Z.shape[1:])}"
            )

    diff = {n: p.detach() for n, p in chosen.items()}
    # parameters not selected and buffers (e.g. batchnorm running stats) enter as constants
    frozen = {n: p.detach() for n, p in model.named_parameters() if n not in diff}
    frozen.update({n: b.detach() for n, b in model.named_buffers()})

    def f(p: _Params, x: torch.Tensor) -> torch.Tensor:
        # one sample x -> batch of one -> flat outputs (k,)
        return functional_call(model, (p, frozen), (x.unsqueeze(0),)).reshape(-1)

    try:  # probe: one sample, under vmap, as the computation will run it
        with torch.no_grad():
            out = vmap(f, in_dims=(None, 0))(diff, X[:1])
    except (RuntimeError, TypeError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputError(
            f"model failed on one sample of X (sample shape {tuple(X.shape[1:])}): {first}"
        ) from err
    if not out.is_floating_point():
        raise InputError(f"model outputs must be floating point; got {out.dtype}")
    n_params = sum(p.numel() for p in diff.values())
    return _Setup(f, diff, out.shape[1], n_params, diff[next(iter(diff))].element_size()), X, Z


def _jacobian(s: _Setup, X: torch.Tensor) -> list[torch.Tensor]:
    """Per-sample Jacobians, one (b, k, P_t) tensor per selected parameter tensor t."""
    jac = vmap(jacrev(s.f), in_dims=(None, 0))(s.params, X)  # name -> (b, k, *shape)
    return [j.reshape(X.shape[0], s.k, -1) for j in jac.values()]


def _contract(JX: list[torch.Tensor], JZ: list[torch.Tensor], mode: str) -> torch.Tensor:
    """sum_t J_t(X) J_t(Z)^T, reduced over outputs as ``mode`` says."""
    out = None
    for a, b in zip(JX, JZ, strict=True):
        if mode == "trace":  # (n, k P_t) @ (k P_t, m) -> (n, m): sum_a sum_p
            blk = a.flatten(1) @ b.flatten(1).T
        elif mode == "diagonal":  # (k, n, P_t) @ (k, P_t, m) -> (k, n, m) -> (n, m, k)
            blk = (a.transpose(0, 1) @ b.permute(1, 2, 0)).permute(1, 2, 0)
        else:  # (n k, P_t) @ (P_t, m k) -> (n, k, m, k) -> (n, m, k, k)
            n, k, _ = a.shape
            blk = (a.reshape(n * k, -1) @ b.reshape(b.shape[0] * k, -1).T).reshape(n, k, -1, k)
            blk = blk.permute(0, 2, 1, 3)
        out = blk if out is None else out + blk
    return out


def _ntvp(s: _Setup, X: torch.Tensor, JZ: list[torch.Tensor], mode: str) -> torch.Tensor:
    """Theta(X, Z) block by NTK-vector products J(X) [J(Z)^T e_b] (forward mode over X)."""
    m = JZ[0].shape[0]
    shapes = [p.shape for p in s.params.values()]
    # tangents: one parameter-shaped vector J(z_j)^T e_b per (j, b); (m k, *shape) each
    tangents = {
        name: j.reshape(m * s.k, *shape)
        for name, j, shape in zip(s.params, JZ, shapes, strict=True)
    }

    def push(t: _Params) -> torch.Tensor:  # (n, k): J(x_i) t for every row x_i
        return vmap(lambda x: jvp(lambda p: s.f(p, x), (s.params,), (t,))[1])(X)

    th = vmap(push)(tangents).reshape(m, s.k, X.shape[0], s.k)  # (j, b, i, a)
    th = th.permute(2, 0, 3, 1)  # (n, m, k_a, k_b)
    if mode == "trace":
        return th.diagonal(dim1=2, dim2=3).sum(-1)
    if mode == "diagonal":
        return th.diagonal(dim1=2, dim2=3)
    return th


def _transpose(blk: torch.Tensor, mode: str) -> torch.Tensor:
    # Theta_ab(x, x') = Theta_ba(x', x)
    return blk.permute(1, 0, 3, 2) if mode == "full" else blk.transpose(0, 1)


def _fill_ntvp(
    out: torch.Tensor,
    s: _Setup,
    X: torch.Tensor,
    Z: torch.Tensor,
    c: int,
    red: str,
    symmetric: bool,
) -> None:
    # column blocks small enough that their Jacobian rows (cz k P numbers) fit in the budget
    cz = max(1, min(c, JACOBIAN_BUDGET_BYTES // max(1, s.k * s.n_params * s.itemsize)))
    n, m = X.shape[0], Z.shape[0]
    for j in range(0, m, cz):
        JZ = _jacobian(s, Z[j : j + cz])
        # symmetric: only row blocks reaching the upper triangle of this column block
        for i in range(0, min(n, j + cz) if symmetric else n, c):
            blk = _ntvp(s, X[i : i + c], JZ, red)
            out[i : i + c, j : j + cz] = blk
            if symmetric:
                out[j : j + cz, i : i + c] = _transpose(blk, red)


def empirical_ntk(
    model: nn.Module,
    X: torch.Tensor,
    Z: torch.Tensor | None = None,
    *,
    mode: str = "full",
    method: str = "auto",
    params: Iterable[str] | None = None,
    chunk_size: int = 128,
) -> torch.Tensor:
    r"""The empirical NTK :math:`\hat\Theta(X, Z)` of ``model`` at its current parameters.

    .. math::

        \hat\Theta_{ab}(x_i, z_j) = \sum_{p \in S}
            \frac{\partial f_a(x_i)}{\partial \theta_p}\,
            \frac{\partial f_b(z_j)}{\partial \theta_p}

    with :math:`f` = ``model`` applied to one sample at a time (outputs flattened to
    length k), :math:`x_i` = ``X[i]``, :math:`z_j` = ``Z[j]`` and S the parameters
    chosen by ``params``.

    Args:
        model: any module mapping a batch (b, ...) to outputs (b,) or (b, ...). Every
            sample's output must depend on that sample only (see Warning).
        X: (n, ...) inputs, one sample per leading index. Floating inputs are cast to
            the parameters' dtype and moved to their device; integer inputs (token ids)
            are only moved.
        Z: (m, ...) inputs with X's sample shape; None means Z = X, in which case only
            the upper block triangle is computed and the result is exactly symmetric.
        mode: for k > 1 outputs, ``"full"`` gives (n, m, k, k) with entry [i, j, a, b]
            above; ``"trace"`` gives (n, m) = sum_a Theta_aa (a sum, not a mean: divide
            by k for the per-output average); ``"diagonal"`` gives (n, m, k) = Theta_aa.
            For k = 1 (outputs (b,) or (b, 1)) every mode returns (n, m).
        method: ``"jacobian"`` (Jacobian contraction), ``"ntvp"`` (NTK-vector products)
            or ``"auto"``; see the module docstring for costs. Results agree to
            round-off.
        params: parameter names or module prefixes (``"0"`` selects ``"0.weight"`` and
            ``"0.bias"``) spanning S, chosen whether or not they require grad; None
            means every parameter with ``requires_grad=True``. Other parameters and all
            buffers enter as constants.
        chunk_size: samples per row/column block; memory for intermediates is
            O(chunk_size k P) plus one output block, never O(n k P). ``"ntvp"`` also
            holds forward-mode activations for chunk_size^2 k (sample, tangent) pairs;
            lower chunk_size if that runs out of memory.

    Returns:
        A tensor on the parameters' device in their dtype, shaped as ``mode`` says.

    Raises:
        InputError: unknown mode/method, bad ``chunk_size``, no parameters to
            differentiate, unknown parameter names, inputs of the wrong kind or sample
            shape (the model is probed on one sample), a batchnorm or dropout module in
            training mode.

    References:
        Jacot, Gabriel, Hongler, NeurIPS 2018, Sec. 3; Novak, Sohl-Dickstein,
        Schoenholz, "Fast Finite Width Neural Tangent Kernel", ICML 2022, Sec. 3.

    Warning:
        The model is evaluated on each sample alone (a batch of one, under ``vmap``), so
        the NTK is that of the per-sample function. Put the model in ``eval()`` mode:
        batchnorm then uses its running statistics (as constants) and dropout is off;
        modules in training mode are rejected. Other randomness inside ``forward``
        fails the probe. Every layer must support forward-mode AD for ``"ntvp"``.
        Accumulation is in the model's dtype; use a float64 model for 1e-10 accuracy.
    """
    if mode not in MODES:
        raise InputError(f"mode must be one of {MODES}; got {mode!r}")
    if method not in METHODS:
        raise InputError(f"method must be one of {METHODS}; got {method!r}")
    c = as_positive_int(chunk_size, "chunk_size")
    s, X, Z = _setup(model, X, Z, params)
    symmetric = Z is None
    Z = X if Z is None else Z
    n, m, k = X.shape[0], Z.shape[0], s.k
    red = "trace" if k == 1 else mode  # k = 1: all modes are the (n, m) kernel
    jac_bytes = c * k * s.n_params * s.itemsize  # one Jacobian block
    if method == "auto":
        method = "jacobian" if 2 * jac_bytes <= JACOBIAN_BUDGET_BYTES else "ntvp"

    tail = {"full": (k, k), "trace": (), "diagonal": (k,)}[red]
    dtype = next(iter(s.params.values())).dtype
    entries = n * m
    for t in tail:
        entries *= t
    # the output (twice when symmetrized) plus the Jacobian blocks the method holds
    check_allocation(
        s.itemsize * entries * (2 if symmetric else 1)
        + min(2 * jac_bytes, 2 * JACOBIAN_BUDGET_BYTES),
        f"the empirical NTK of shape {(n, m, *tail)} ({s.n_params} parameters, {k} outputs)",
        "use fewer samples, mode='trace', or a smaller chunk_size",
        device=X.device,
    )
    out = torch.empty(n, m, *tail, dtype=dtype, device=X.device)

    if method == "jacobian":
        # keep column Jacobians when all of them fit in the budget, else recompute them
        keep = m * k * s.n_params * s.itemsize <= JACOBIAN_BUDGET_BYTES
        cache: dict[int, list[torch.Tensor]] = {}

        def col_jac(j: int) -> list[torch.Tensor]:
            if j in cache:
                return cache[j]
            J = _jacobian(s, Z[j : j + c])
            if keep:
                cache[j] = J
            return J

        for i in range(0, n, c):
            JX = col_jac(i) if symmetric else _jacobian(s, X[i : i + c])
            for j in range(i if symmetric else 0, m, c):
                blk = _contract(JX, JX if symmetric and j == i else col_jac(j), red)
                out[i : i + c, j : j + c] = blk
                if symmetric and j > i:
                    out[j : j + c, i : i + c] = _transpose(blk, red)
    else:
        with warnings.catch_warnings():
            # torch's first forward-mode call imports decompositions via torch.jit.script,
            # which warns DeprecationWarning in torch 2.9+; torch-internal and harmless
            warnings.filterwarnings(
                "ignore", "`torch.jit.script` is deprecated", DeprecationWarning
            )
            _fill_ntvp(out, s, X, Z, c, red, symmetric)

    if symmetric:  # equal up to round-off already; make it exact
        out = 0.5 * (out + _transpose(out, red))
    return out


@dataclass(frozen=True, eq=False)
class EmpiricalNTK:
    r"""The empirical NTK of ``model`` as a kernel with ``block(X, Z)`` (trace over outputs).

    .. math:: k(x, x') = \sum_{a=1}^{k} \hat\Theta_{aa}(x, x')

    which is the scalar NTK when the model has one output. Plugs into
    :func:`lmech.kernels.base.gram` and the KRR engine; the kernel is that of the
    parameters *at call time* (train the model and the kernel moves with it).

    Args:
        model: the module (put it in ``eval()`` mode; see :func:`empirical_ntk`).
        params: parameter names or module prefixes spanning the sum; None means every
            parameter that requires grad.
        method, chunk_size: as in :func:`empirical_ntk`.
        input_shape: per-sample shape the model expects, e.g. (1, 8, 8) for a CNN;
            ``gram`` passes 2-D (n, d) rows, which are reshaped to (n, *input_shape).
            None passes rows unchanged.

    Warning:
        ``block`` returns the model's dtype and device; ``gram`` copies it into an array
        of X's dtype, so a float32 model gives float32-accurate entries even in a
        float64 Gram matrix.
    """

    model: nn.Module
    params: tuple[str, ...] | None = None
    method: str = "auto"
    chunk_size: int = 128
    input_shape: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.model, nn.Module):
            raise InputError(f"model must be a torch.nn.Module; got {type(self.model).__name__}")
        if self.method not in METHODS:
            raise InputError(f"method must be one of {METHODS}; got {self.method!r}")
        as_positive_int(self.chunk_size, "chunk_size")
        if self.params is not None:
            names = (self.params,) if isinstance(self.params, str) else tuple(self.params)
            object.__setattr__(self, "params", names)
        if self.input_shape is not None:
            shape = tuple(self.input_shape)
            if not all(isinstance(d, int) and d > 0 for d in shape):
                raise InputError(f"input_shape must be positive integers; got {self.input_shape!r}")
            object.__setattr__(self, "input_shape", shape)

    def _rows(self, X: torch.Tensor) -> torch.Tensor:
        if self.input_shape is None or not isinstance(X, torch.Tensor):
            return X
        size = 1
        for d in self.input_shape:
            size *= d
        if X.ndim != 2 or X.shape[1] != size:
            raise InputError(
                f"rows must be 2-D with {size} columns to reshape to {self.input_shape}; "
                f"got shape {tuple(X.shape)}"
            )
        return X.reshape(X.shape[0], *self.input_shape)

    def block(self, X: torch.Tensor, Z: torch.Tensor) -> torch.Tensor:
        """The (n, m) block sum_a Theta_aa(X_i, Z_j)."""
        return empirical_ntk(
            self.model,
            self._rows(X),
            self._rows(Z),
            mode="trace",
            method=self.method,
            params=self.params,
            chunk_size=self.chunk_size,
        )

    def __call__(self, X: torch.Tensor, Z: torch.Tensor | None = None) -> torch.Tensor:
        """Theta(X, Z) in trace mode; Z = None gives the exactly symmetric Theta(X, X)."""
        return empirical_ntk(
            self.model,
            self._rows(X),
            None if Z is None else self._rows(Z),
            mode="trace",
            method=self.method,
            params=self.params,
            chunk_size=self.chunk_size,
        )

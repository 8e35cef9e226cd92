r"""The exact law of :math:`\sum_i x_i y_i` for Gaussian inputs and a linear target, in O(n + d).

Three simulators need :math:`X^\top y` for n i.i.d. :math:`x_i \sim N(0, I_d)` (in whitened
coordinates) with :math:`y_i = v^\top x_i + \sigma\eta_i`: the minibatch gradient of
one-pass SGD on a linear model, the context statistics of in-context linear regression,
and the attention model's context moments. Drawing the n x d tokens costs O(n d); the
sum has the same law when drawn from its sufficient pieces. Split each token along
:math:`u = v/|v|`: :math:`x_i = \zeta_i u + x_i^\perp` with :math:`\zeta_i \sim N(0, 1)`
independent of :math:`x_i^\perp \sim N(0, I - u u^\top)`, so :math:`y_i = |v|\zeta_i +
\sigma\eta_i` and, given :math:`(\zeta, \eta)`,
:math:`\sum_i y_i x_i^\perp \sim N(0, |y|^2 (I - u u^\top))`. Hence

.. math:: X^\top y \overset{d}{=} u \sum_i \zeta_i y_i + |y|\,(I - u u^\top)\,\xi,
          \qquad \xi \sim N(0, I_d),

jointly with :math:`|y|^2 = \sum_i y_i^2` (a zero v uses :math:`u = e_1`, where the
identity holds with :math:`\zeta` independent of y). This is the standard
Gaussian-projection argument (e.g. Muirhead, *Aspects of Multivariate Statistical
Theory*, 1982, Sec. 3.2); each caller's docstring states the scaling it applies.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["aligned_cross_moments"]


def aligned_cross_moments(
    v: torch.Tensor, n: int, noise_std, normal: Callable[[tuple], torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""(:math:`\sum_i x_i y_i`, :math:`|y|^2`) drawn from their exact joint law.

    Args:
        v: (..., d) the target direction (whitened coordinates), one per batch entry.
        n: the number of samples summed over.
        noise_std: sigma, a float or a tensor broadcastable to (..., 1); its sign is free
            (eta is symmetric) and is kept so a caller's draws stay what they were.
        normal: ``normal(shape)`` returns standard normals of that shape (the caller picks
            the generator, device and precision). Called three times, in this order:
            zeta (..., n), eta (..., n), xi (..., d).

    Returns:
        ``(xy, s2)``: xy (..., d) and s2 = |y|^2 (..., 1).
    """
    norm = v.norm(dim=-1, keepdim=True)
    u = torch.where(norm > 0, v / norm.clamp_min(1e-300), torch.zeros_like(v))
    u[..., 0] = torch.where(norm[..., 0] > 0, u[..., 0], torch.ones_like(u[..., 0]))
    lead = tuple(v.shape[:-1])
    zeta = normal((*lead, n))
    y = norm * zeta + normal((*lead, n)) * noise_std
    s_zy = (zeta * y).sum(-1, keepdim=True)
    s2 = (y * y).sum(-1, keepdim=True)
    xi = normal(tuple(v.shape))
    perp = xi - u * (u * xi).sum(-1, keepdim=True)
    return u * s_zy + s2.sqrt() * perp, s2

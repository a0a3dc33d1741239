"""Training losses, written once for every domain: masked area-weighted reconstruction and the
spatial Laplacian smoothness penalty."""

from __future__ import annotations

import torch

from faconv.domains.base import Domain

__all__ = ["laplacian_penalty", "reconstruction_loss"]


def _weights(x: torch.Tensor, domain: Domain) -> torch.Tensor:
    """Area weights broadcast to ``(1, ..., *P, 1)`` for a ``(..., *P, C)`` tensor."""
    w = domain.point_weights(x.device, x.dtype)
    return w.view(*([1] * (x.dim() - w.dim() - 1)), *w.shape, 1)


def reconstruction_loss(
    recon: torch.Tensor, target: torch.Tensor, domain: Domain, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Area-weighted mean squared error over valid values.

    .. math:: L = \\frac{\\sum w_p m (\\hat x - x)^2}{\\sum w_p m}

    ``w_p`` are the domain's area weights (cos latitude, node areas) and ``m`` the mask (1 where
    the target holds data); masked points (SST over land) contribute nothing.

    Shapes:
        - recon, target, mask: ``(..., *P, C)``; output: scalar.
    """
    w = _weights(recon, domain)
    if mask is not None:
        w = w * mask.to(recon.dtype)
    return (w * (recon - target) ** 2).sum() / w.expand_as(recon).sum().clamp_min(1e-12)


def laplacian_penalty(field: torch.Tensor, domain: Domain) -> torch.Tensor:
    """Spatial smoothness: area-weighted mean of the squared discrete Laplacian (the grid's
    5-point stencil or the graph Laplacian, see ``domain.laplacian``).

    Shapes:
        - field: ``(B, T, *P, C)`` or ``(B, *P, C)``; output: scalar.
    """
    p = len(domain.point_shape)
    flat = field.reshape(-1, *field.shape[-p - 1 :])
    lap = domain.laplacian(flat)
    w = _weights(lap, domain)
    return (w * lap**2).sum() / (flat.shape[0] * flat.shape[-1])

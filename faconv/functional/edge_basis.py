"""Fixed basis functions of an edge vector: Gaussian radial bumps × angular harmonics."""

from __future__ import annotations

import math

import torch

__all__ = ["edge_basis", "edge_basis_size", "stencil_r_max"]


def edge_basis_size(num_radial: int, max_harmonic: int) -> int:
    return num_radial * (2 * max_harmonic + 1)


def edge_basis(vec: torch.Tensor, num_radial: int, max_harmonic: int, r_max: float) -> torch.Tensor:
    """Evaluate ``ψ_m(v)`` for edge vectors ``v`` given in units of the scale's edge length.

    .. math::
        ψ_{k,m}(v) = \\exp\\!\\left(-\\left(\\frac{|v| - μ_k}{σ}\\right)^2\\right)\\,a_m(\\theta),
        \\qquad a \\in \\{1, \\cos\\theta, \\sin\\theta, \\dots, \\cos M\\theta, \\sin M\\theta\\}

    with centres ``μ_k`` evenly spaced on ``[1, r_max]`` and ``σ`` their spacing (0.5 for a
    single centre). The angle is measured counter-clockwise from east.

    Shapes:
        - vec: ``(E, 2)`` (east, north); output: ``(E, num_radial * (2 * max_harmonic + 1))``.
    """
    r = vec.norm(dim=1, keepdim=True)
    theta = torch.atan2(vec[:, 1], vec[:, 0]).unsqueeze(1)
    if num_radial == 1:
        mu, sigma = torch.ones(1, dtype=vec.dtype), 0.5
    else:
        mu = torch.linspace(1.0, r_max, num_radial, dtype=vec.dtype)
        sigma = (r_max - 1.0) / (num_radial - 1)
    radial = torch.exp(-(((r - mu) / sigma) ** 2))  # (E, R)
    m = torch.arange(1, max_harmonic + 1, dtype=vec.dtype)
    angular = torch.cat([torch.ones_like(theta), torch.cos(m * theta), torch.sin(m * theta)], 1)
    return (radial.unsqueeze(2) * angular.unsqueeze(1)).flatten(1)


# sqrt(2) * (k // 2) is the corner of a k x k stencil; used as the default r_max
def stencil_r_max(kernel_size: int) -> float:
    return max(math.sqrt(2) * (kernel_size // 2), 1.0 + 1e-6)

"""Fixed seasonal positional encoding from the day of year."""

from __future__ import annotations

import math

import torch

from faconv.checks import check_int
from faconv.errors import ConfigError

__all__ = ["seasonal_encoding"]


def seasonal_encoding(day_of_year: torch.Tensor, dim: int, period: float = 365.25) -> torch.Tensor:
    """Annual harmonics of the day of year (fixed, not learned).

    .. math::
        \\varphi = 2\\pi\\,\\mathrm{doy} / P, \\qquad
        \\mathrm{PE}(\\mathrm{doy}) = [\\sin\\varphi, \\cos\\varphi, \\sin 2\\varphi, \\cos 2\\varphi,
        \\dots, \\sin K\\varphi, \\cos K\\varphi], \\quad K = \\mathrm{dim} / 2

    Periodic in the year (day 1 and day 366.25 coincide), so 31 December sits next to 1 January;
    harmonic ``k`` resolves seasons of length ``P / k``.

    Shapes:
        - day_of_year: ``(...)`` (integer or fractional days); output: ``(..., dim)``.
    """
    if check_int(dim, "dim", "seasonal_encoding", minimum=2) % 2:
        raise ConfigError(f"seasonal_encoding: dim must be an even integer >= 2, got {dim!r}")
    phi = 2 * math.pi * day_of_year.to(torch.float64) / period
    k = torch.arange(1, dim // 2 + 1, dtype=torch.float64, device=phi.device)
    ang = phi.unsqueeze(-1) * k
    return torch.stack([ang.sin(), ang.cos()], -1).flatten(-2)

"""A location-aware head: the hidden state pooled onto coarse regions, then projected."""

from __future__ import annotations

import torch
from torch import nn

from faconv.checks import check_positive_int
from faconv.domains.base import Domain
from faconv.functional.regions import region_mean
from faconv.heads.base import HEADS, Head

__all__ = ["RegionalHead"]


@HEADS.register("regional")
class RegionalHead(Head):
    """Per-timestep embedding that keeps *where* things happen.

    .. math::
        u_t(p) = W_c H_t(p),\\qquad
        r_t(m) = \\frac{\\sum_{p \\in m} a_p\\, u_t(p)}{\\sum_{p \\in m} a_p},\\qquad
        z_t = W_z\\, \\mathrm{vec}(r_t) + b

    A pointwise projection to ``channels`` features, their area-weighted mean over each of
    ``regions`` coarse regions of the domain (blocks of a grid, farthest-point cells of a mesh:
    :meth:`faconv.Domain.regions`), and a linear map of the flattened ``regions × channels``
    map to the embedding. Highs and lows in different places give different embeddings, which
    global pooling cannot promise. The same code runs on grids and meshes.

    Args:
        in_channels (int): ``C_hid``.
        out_dim (int): ``D``, embedding width. Default: ``32``.
        regions (int): number of regions (a grid tiles them as ``rows × cols`` blocks). Default:
            ``64``: regimes are large-scale, but their highs, lows and the winds around them
            need more than a handful of regions to be told apart.
        channels (int): features per point before pooling. Default: ``8``.

    Shapes:
        - h: ``(B, T, *P, C_hid)``; output: ``(B, T, D)``.

    Config:
        ``{"type": "regional", "out_dim": 32, "regions": 64, "channels": 8}``
    """

    def __init__(
        self, in_channels: int, out_dim: int = 32, regions: int = 64, channels: int = 8
    ) -> None:
        super().__init__()
        owner = self.owner
        self.in_channels = check_positive_int(in_channels, "in_channels", owner)
        self.out_dim = check_positive_int(out_dim, "out_dim", owner)
        self.regions = check_positive_int(regions, "regions", owner)
        self.channels = check_positive_int(channels, "channels", owner)
        self.point = nn.Linear(in_channels, channels)
        self.proj = nn.Linear(regions * channels, out_dim)

    def forward(self, h: torch.Tensor, domain: Domain) -> torch.Tensor:
        B, T = h.shape[:2]
        u = self.point(h).reshape(B * T, domain.num_points, self.channels)
        w = domain.point_weights(h.device, h.dtype).reshape(-1)
        r = region_mean(u, domain.regions(self.regions), w)  # (B*T, M, channels)
        return self.proj(r.reshape(B, T, -1))

"""A bottleneck decoder: the field is rebuilt from the per-step embedding alone."""

from __future__ import annotations

import torch
from torch import nn

from faconv.checks import check_positive_int
from faconv.decoders.base import DECODERS, Decoder
from faconv.domains.base import Domain
from faconv.functional.regions import region_to_points

__all__ = ["RegionalDecoder"]


@DECODERS.register("regional")
class RegionalDecoder(Decoder):
    """Reconstruction that has to pass through the embedding.

    .. math::
        r_t = W_r z_t + b_r \\in \\mathbb{R}^{M \\times c},\\qquad
        \\hat x_t(p) = \\mathrm{MLP}\\Big(\\sum_m w_{pm}\\, r_t(m)\\Big)

    The embedding is mapped to ``channels`` features on each of ``regions`` coarse regions,
    interpolated smoothly to the points (:meth:`faconv.Domain.regions`) and turned into the
    variables by a pointwise MLP. Nothing but ``z_t`` reaches the output, so a good
    reconstruction proves that the embedding describes the large-scale field of its step: the
    embedding cannot be a calendar or a summary that ignores where the highs and lows are.
    Detail finer than the regions is not reconstructed (it is weather noise for regimes).

    Args:
        in_channels (int): ``C_hid`` (unused: this decoder never reads the hidden state).
        embedding_dim (int): ``D``.
        out_channels (int): ``C_out``.
        regions (int): coarse regions. Default: ``36``.
        channels (int): features per region. Default: ``16``.
        hidden (int): width of the pointwise MLP. Default: ``32``.

    Shapes:
        - z: ``(B, T, D)``; h: ignored; output: ``(B, T, *P, C_out)``.

    Config:
        ``{"type": "regional", "regions": 36, "channels": 16}``
    """

    reads_hidden = False

    def __init__(
        self,
        in_channels: int,
        embedding_dim: int,
        out_channels: int,
        regions: int = 36,
        channels: int = 16,
        hidden: int = 32,
    ) -> None:
        super().__init__(in_channels, embedding_dim, out_channels)
        owner = self.owner
        self.regions = check_positive_int(regions, "regions", owner)
        self.channels = check_positive_int(channels, "channels", owner)
        self.hidden = check_positive_int(hidden, "hidden", owner)
        self.coarse = nn.Linear(embedding_dim, regions * channels)
        self.mlp = nn.Sequential(
            nn.Linear(channels, hidden), nn.GELU(), nn.Linear(hidden, out_channels)
        )

    def forward(self, z: torch.Tensor, h: torch.Tensor, domain: Domain) -> torch.Tensor:
        B, T = z.shape[:2]
        r = self.coarse(z).view(B * T, self.regions, self.channels)
        fine = region_to_points(r, domain.regions(self.regions))  # (B*T, N, channels)
        return self.mlp(fine).view(B, T, *domain.point_shape, self.out_channels)

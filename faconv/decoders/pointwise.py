"""The paper-literal decoder: a pointwise MLP of the local hidden state and the embedding."""

from __future__ import annotations

import torch
from torch import nn

from faconv.checks import check_positive_int
from faconv.decoders.base import DECODERS, Decoder
from faconv.domains.base import Domain

__all__ = ["PointwiseDecoder"]


@DECODERS.register("pointwise")
class PointwiseDecoder(Decoder):
    """Reconstruction from the local hidden state and the step's embedding, point by point.

    .. math:: \\hat x_t(p) = \\mathrm{MLP}([H_t(p), z_t])

    The hidden state already describes the field, so the reconstruction can succeed while the
    embedding carries little of it: kept for the paper-literal composition and ablations. Use
    :class:`~faconv.decoders.RegionalDecoder` to make the embedding carry the state.

    Args:
        in_channels (int): ``C_hid``.
        embedding_dim (int): ``D``.
        out_channels (int): ``C_out``.
        hidden (int): MLP width. Default: ``64``.

    Shapes:
        - z: ``(B, T, D)``; h: ``(B, T, *P, C_hid)``; output: ``(B, T, *P, C_out)``.

    Config:
        ``{"type": "pointwise", "hidden": 64}``
    """

    reads_hidden = True

    def __init__(
        self, in_channels: int, embedding_dim: int, out_channels: int, hidden: int = 64
    ) -> None:
        super().__init__(in_channels, embedding_dim, out_channels)
        owner = self.owner
        self.hidden = check_positive_int(hidden, "hidden", owner)
        self.mlp = nn.Sequential(
            nn.Linear(in_channels + embedding_dim, hidden),
            nn.GELU(),
            nn.Linear(hidden, out_channels),
        )

    def forward(self, z: torch.Tensor, h: torch.Tensor, domain: Domain) -> torch.Tensor:
        zb = z.view(*z.shape[:2], *([1] * (h.dim() - 3)), z.shape[-1]).expand(*h.shape[:-1], -1)
        return self.mlp(torch.cat([h, zb], -1))

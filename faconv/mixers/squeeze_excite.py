"""Squeeze-and-excitation with an area-weighted squeeze, written once for every domain."""

from __future__ import annotations

import torch
from torch import nn

from faconv.activations import get_activation
from faconv.checks import check_number, check_positive_int
from faconv.domains.base import Domain
from faconv.mixers.base import MIXERS, SpatialMixer

__all__ = ["SqueezeExcite"]


@MIXERS.register("squeeze_excite", aliases=("se",))
class SqueezeExcite(SpatialMixer):
    """Squeeze-and-excitation channel recalibration (Hu et al., 2018).

    Used after the spatial mixer of the FAConvLSTM cell (arXiv 2601.10914). The squeeze is the
    domain's area-weighted mean (``cos(lat)`` weights on a lat-lon grid, node areas on a mesh),
    so it is the same operator on every geometry.

    .. math::
        s = \\sigma(W_2\\,\\delta(W_1\\,\\mathrm{pool}(x) + b_1) + b_2),\\qquad y = x \\odot s

    Args:
        channels (int): ``C``.
        rd_ratio (float): reduction ratio; the hidden width is ``max(min_channels,
            round(C / rd_ratio))``. Default: ``4``.
        min_channels (int): lower bound of the hidden width. Default: ``1``.
        activation (str): ``δ``, a name from :data:`faconv.activations.ACTIVATIONS`.
            Default: ``"relu"``.

    Shapes:
        - input: ``(B, *P, C)``.
        - output: ``(B, *P, C)``.

    Config:
        ``{"type": "squeeze_excite", "rd_ratio": 4}``
    """

    domains = frozenset({"grid", "graph"})

    def __init__(
        self,
        channels: int,
        rd_ratio: float = 4,
        min_channels: int = 1,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        owner = self.owner
        self.channels = check_positive_int(channels, "channels", owner)
        self.rd_ratio = check_number(rd_ratio, "rd_ratio", owner, above=0.0)
        self.min_channels = check_positive_int(min_channels, "min_channels", owner)
        self.activation = activation
        self._act = get_activation(activation, owner)
        hidden = max(min_channels, round(channels / rd_ratio))
        self.fc1 = nn.Linear(channels, hidden)
        self.fc2 = nn.Linear(hidden, channels)

    def forward(self, x: torch.Tensor, domain: Domain) -> torch.Tensor:
        s = domain.pool(x)  # (B, C)
        s = torch.sigmoid(self.fc2(self._act(self.fc1(s))))
        return x * s.view(s.shape[0], *([1] * (x.dim() - 2)), s.shape[1])

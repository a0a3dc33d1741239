"""``GlobalAttention``: long-range spatial attention blocks, and the ``ATTENTION`` registry."""

from __future__ import annotations

from abc import abstractmethod

import torch

from faconv.checks import check_positive_int
from faconv.component import SpatialComponent
from faconv.domains.base import Domain
from faconv.registry import Registry

__all__ = ["ATTENTION", "GlobalAttention", "resolve_heads"]


class GlobalAttention(SpatialComponent):
    """Long-range spatial attention ``(B, *P, C) -> (B, *P, C)`` returning an *update*.

    Contract: built with ``channels``; returns the residual update ``u`` only -- the cell adds
    it as ``h + γ ⊙ u`` with its own learnable gate ``γ``. ``domains`` names the domain kinds
    it supports; no mixing across the batch; equivariant to the domain's symmetries.
    """

    @abstractmethod
    def forward(self, x: torch.Tensor, domain: Domain) -> torch.Tensor: ...


ATTENTION = Registry("attention", GlobalAttention)


def resolve_heads(
    channels: int, num_heads: int, head_dim: int | None, owner: str
) -> tuple[int, int, int]:
    """Validated ``(channels, num_heads, head_dim)``; ``head_dim`` defaults to
    ``max(1, channels // num_heads)`` (the heads' total width may then differ from
    ``channels``: the output projection maps it back)."""
    channels = check_positive_int(channels, "channels", owner)
    num_heads = check_positive_int(num_heads, "num_heads", owner)
    if head_dim is None:
        head_dim = max(1, channels // num_heads)
    return channels, num_heads, check_positive_int(head_dim, "head_dim", owner)

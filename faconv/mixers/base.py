"""``SpatialMixer``: the base of spatial mixing components, and the ``MIXERS`` registry."""

from __future__ import annotations

from abc import abstractmethod

import torch

from faconv.component import SpatialComponent
from faconv.domains.base import Domain
from faconv.registry import Registry

__all__ = ["MIXERS", "SpatialMixer"]


class SpatialMixer(SpatialComponent):
    """Channel-preserving spatial operator ``(B, *P, C) -> (B, *P, C)``.

    Contract: built with ``channels`` (the parent's wiring); ``domains`` names the domain kinds
    it supports; it never mixes across the batch and is equivariant to the domain's symmetries
    (longitude roll on periodic grids, node relabelling on graphs).
    """

    @abstractmethod
    def forward(self, x: torch.Tensor, domain: Domain) -> torch.Tensor: ...


MIXERS = Registry("mixer", SpatialMixer)

"""``SpatialMixer``: the base of spatial mixing components, and the ``MIXERS`` registry."""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar

import torch

from faconv.component import Component
from faconv.domains.base import Domain, domain_kind_pre_hook
from faconv.registry import Registry

__all__ = ["MIXERS", "SpatialMixer"]


class SpatialMixer(Component):
    """Channel-preserving spatial operator ``(B, *P, C) -> (B, *P, C)``.

    Contract: built with ``channels`` (the parent's wiring); ``domains`` names the domain kinds
    it supports; it never mixes across the batch and is equivariant to the domain's symmetries
    (longitude roll on periodic grids, node relabelling on graphs).
    """

    domains: ClassVar[frozenset[str]] = frozenset()

    def __init__(self) -> None:
        super().__init__()
        self.register_forward_pre_hook(domain_kind_pre_hook)

    @abstractmethod
    def forward(self, x: torch.Tensor, domain: Domain) -> torch.Tensor: ...


MIXERS = Registry("mixer", SpatialMixer)

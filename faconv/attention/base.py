"""``GlobalAttention``: long-range spatial attention blocks, and the ``ATTENTION`` registry."""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar

import torch

from faconv.component import Component
from faconv.domains.base import Domain, domain_kind_pre_hook
from faconv.registry import Registry

__all__ = ["ATTENTION", "GlobalAttention"]


class GlobalAttention(Component):
    """Long-range spatial attention ``(B, *P, C) -> (B, *P, C)`` returning an *update*.

    Contract: built with ``channels``; returns the residual update ``u`` only -- the cell adds
    it as ``h + γ ⊙ u`` with its own learnable gate ``γ``. ``domains`` names the domain kinds
    it supports; no mixing across the batch; equivariant to the domain's symmetries.
    """

    domains: ClassVar[frozenset[str]] = frozenset()

    def __init__(self) -> None:
        super().__init__()
        self.register_forward_pre_hook(domain_kind_pre_hook)

    @abstractmethod
    def forward(self, x: torch.Tensor, domain: Domain) -> torch.Tensor: ...


ATTENTION = Registry("attention", GlobalAttention)

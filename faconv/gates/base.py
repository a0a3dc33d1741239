"""``Gate``: pointwise recurrent gating ``(s, c_prev) -> (h, c)``, and the ``GATES`` registry."""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar

import torch

from faconv.component import Component
from faconv.registry import Registry

__all__ = ["GATES", "Gate"]


class Gate(Component):
    """Pointwise gate: maps the mixed bottleneck ``s`` and the previous cell state to ``(h, c)``.

    Contract: built with ``in_channels`` and ``hidden_channels`` (the parent's wiring); it
    never sees the domain, so one gate serves every geometry.
    """

    num_chunks: ClassVar[int]

    @abstractmethod
    def forward(
        self, s: torch.Tensor, c_prev: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]: ...


GATES = Registry("gate", Gate)

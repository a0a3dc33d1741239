"""The head registry: hidden-state sequences to one embedding per timestep."""

from __future__ import annotations

from faconv.component import Component
from faconv.registry import Registry

__all__ = ["HEADS", "Head"]


class Head(Component):
    """Base of heads: ``(B, T, *P, C_hid)`` hidden states -> ``(B, T, D)`` embeddings.

    A head takes ``in_channels`` (wired by the model) and exposes ``out_dim`` (``D``).
    """

    out_dim: int


HEADS = Registry("head", Head)

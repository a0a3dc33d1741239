"""Heads: hidden-state sequences to per-timestep embeddings."""

from faconv.heads.base import HEADS, Head
from faconv.heads.regional import RegionalHead
from faconv.heads.subspace import SubspaceHead

__all__ = ["HEADS", "Head", "RegionalHead", "SubspaceHead"]

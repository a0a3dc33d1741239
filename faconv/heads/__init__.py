"""Heads: hidden-state sequences to per-timestep embeddings."""

from faconv.heads.subspace import HEADS, Head, SubspaceHead

__all__ = ["HEADS", "Head", "SubspaceHead"]

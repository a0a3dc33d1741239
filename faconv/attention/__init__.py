"""Global attention blocks: long-range spatial updates, one per file, in ``ATTENTION``."""

from faconv.attention.axial import AxialAttention
from faconv.attention.base import ATTENTION, GlobalAttention
from faconv.attention.graph_sparse import SparseGraphAttention

__all__ = ["ATTENTION", "AxialAttention", "GlobalAttention", "SparseGraphAttention"]

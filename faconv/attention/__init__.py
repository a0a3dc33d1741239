"""Global attention blocks: long-range spatial updates, one per file, in ``ATTENTION``."""

from faconv.attention.axial import AxialAttention
from faconv.attention.base import ATTENTION, GlobalAttention

__all__ = ["ATTENTION", "AxialAttention", "GlobalAttention"]

"""Gates: pointwise ``(s, c_prev) -> (h, c)`` updates shared by every geometry, in ``GATES``."""

from faconv.gates.base import GATES, Gate
from faconv.gates.lstm import LSTMGate

__all__ = ["GATES", "Gate", "LSTMGate"]

"""Pure functions shared by components (padding, the LSTM update, its fused form, attention)."""

from faconv.functional.attention import dot_product_attention
from faconv.functional.fused_lstm import fused_gate_lstm
from faconv.functional.lstm import lstm_update
from faconv.functional.padding import pad_grid, same_padding, wrap_pad_width

__all__ = [
    "dot_product_attention",
    "fused_gate_lstm",
    "lstm_update",
    "pad_grid",
    "same_padding",
    "wrap_pad_width",
]

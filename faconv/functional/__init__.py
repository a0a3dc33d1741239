"""Pure functions shared by components (padding, the LSTM update)."""

from faconv.functional.lstm import lstm_update
from faconv.functional.padding import pad_grid, same_padding, wrap_pad_width

__all__ = ["lstm_update", "pad_grid", "same_padding", "wrap_pad_width"]

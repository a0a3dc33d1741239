"""Recurrent cells: one step on any domain, composed from registered parts, in ``CELLS``."""

from faconv.cells.base import CELLS, Cell
from faconv.cells.convlstm import ConvLSTMCell
from faconv.cells.fa_convlstm import FAConvLSTMCell

__all__ = ["CELLS", "Cell", "ConvLSTMCell", "FAConvLSTMCell"]

"""Sequence layers: any cell unrolled over time, plus the Keras-style 2-D front ends."""

from faconv.layers.convlstm2d import ConvLSTM2D
from faconv.layers.fa_convlstm2d import FAConvLSTM2D
from faconv.layers.recurrent import LAYERS, Recurrent

__all__ = ["LAYERS", "ConvLSTM2D", "FAConvLSTM2D", "Recurrent"]

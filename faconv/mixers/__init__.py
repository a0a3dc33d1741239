"""Spatial mixers: ``(B, *P, C) -> (B, *P, C)`` operators, one per file, in ``MIXERS``."""

from faconv.mixers.base import MIXERS, SpatialMixer
from faconv.mixers.dilated_dw import MultiScaleDilatedDWMixer
from faconv.mixers.graph_dw import GraphDWMixer
from faconv.mixers.squeeze_excite import SqueezeExcite

__all__ = ["MIXERS", "GraphDWMixer", "MultiScaleDilatedDWMixer", "SpatialMixer", "SqueezeExcite"]

"""faconv: factorized-attention ConvLSTM layers for Earth data, on grids and meshes.

Importing faconv fills every registry (mixers, gates, attention, cells, layers).
"""

from faconv import attention, cells, gates, layers, mixers, regrid
from faconv.attention import ATTENTION, AxialAttention, GlobalAttention, SparseGraphAttention
from faconv.cells import CELLS, Cell, ConvLSTMCell, FAConvLSTMCell
from faconv.component import Component
from faconv.domains import Domain, GraphDomain, GridDomain, IcosahedralMesh, icosahedral_mesh
from faconv.errors import ConfigError, DataError, DomainError, FAConvError, InputError
from faconv.gates import GATES, Gate, LSTMGate
from faconv.layers import LAYERS, ConvLSTM2D, FAConvLSTM2D, Recurrent
from faconv.mixers import (
    MIXERS,
    GraphDWMixer,
    MultiScaleDilatedDWMixer,
    SpatialMixer,
    SqueezeExcite,
)
from faconv.registry import Registry, build, list_components, register, registries
from faconv.typing import State
from faconv.version import __version__

__all__ = [
    "ATTENTION",
    "CELLS",
    "GATES",
    "LAYERS",
    "MIXERS",
    "AxialAttention",
    "Cell",
    "Component",
    "ConfigError",
    "ConvLSTM2D",
    "ConvLSTMCell",
    "DataError",
    "Domain",
    "DomainError",
    "FAConvError",
    "FAConvLSTM2D",
    "FAConvLSTMCell",
    "Gate",
    "GlobalAttention",
    "GraphDWMixer",
    "GraphDomain",
    "GridDomain",
    "IcosahedralMesh",
    "InputError",
    "LSTMGate",
    "MultiScaleDilatedDWMixer",
    "Recurrent",
    "Registry",
    "SparseGraphAttention",
    "SpatialMixer",
    "SqueezeExcite",
    "State",
    "__version__",
    "attention",
    "build",
    "cells",
    "gates",
    "icosahedral_mesh",
    "layers",
    "list_components",
    "mixers",
    "register",
    "registries",
    "regrid",
]

"""faconv: factorized-attention ConvLSTM layers for Earth data, on grids and meshes.

Importing faconv fills every registry (mixers, gates, attention, cells, layers, heads,
temporal mixers, decoders, models).
"""

from faconv import (
    attention,
    cells,
    decoders,
    gates,
    heads,
    layers,
    losses,
    mixers,
    models,
    regrid,
    temporal,
)
from faconv.attention import ATTENTION, AxialAttention, GlobalAttention, SparseGraphAttention
from faconv.cells import CELLS, Cell, ConvLSTMCell, FAConvLSTMCell
from faconv.component import Component
from faconv.decoders import DECODERS, BasisDecoder, Decoder, PointwiseDecoder, RegionalDecoder
from faconv.domains import Domain, GraphDomain, GridDomain, IcosahedralMesh, icosahedral_mesh
from faconv.errors import ConfigError, DataError, DomainError, FAConvError, InputError
from faconv.gates import GATES, Gate, LSTMGate
from faconv.heads import HEADS, Head, RegionalHead, SubspaceHead
from faconv.layers import LAYERS, ConvLSTM2D, FAConvLSTM2D, Recurrent
from faconv.mixers import (
    MIXERS,
    GraphDWMixer,
    MultiScaleDilatedDWMixer,
    SpatialMixer,
    SqueezeExcite,
)
from faconv.models import MODELS, RepresentationModel
from faconv.registry import Registry, build, list_components, register, registries
from faconv.temporal import TEMPORAL, SeasonalTemporalAttention, seasonal_encoding
from faconv.typing import State
from faconv.version import __version__

__all__ = [
    "ATTENTION",
    "CELLS",
    "DECODERS",
    "GATES",
    "HEADS",
    "LAYERS",
    "MIXERS",
    "MODELS",
    "TEMPORAL",
    "AxialAttention",
    "BasisDecoder",
    "Cell",
    "Component",
    "ConfigError",
    "ConvLSTM2D",
    "ConvLSTMCell",
    "DataError",
    "Decoder",
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
    "Head",
    "IcosahedralMesh",
    "InputError",
    "LSTMGate",
    "MultiScaleDilatedDWMixer",
    "PointwiseDecoder",
    "Recurrent",
    "RegimeEstimator",
    "RegionalDecoder",
    "RegionalHead",
    "Registry",
    "RepresentationModel",
    "SeasonalTemporalAttention",
    "SparseGraphAttention",
    "SpatialMixer",
    "SqueezeExcite",
    "State",
    "SubspaceHead",
    "__version__",
    "attention",
    "build",
    "cells",
    "decoders",
    "gates",
    "heads",
    "icosahedral_mesh",
    "layers",
    "list_components",
    "losses",
    "mixers",
    "models",
    "register",
    "registries",
    "regrid",
    "seasonal_encoding",
    "temporal",
]


#: Submodules imported on first attribute access (``faconv.data``; ``faconv.pipeline``).
_LAZY_MODULES = ("data", "pipeline")


def __getattr__(name: str):
    # The regime estimator pulls in the training pipeline and scikit-learn: imported on use.
    if name == "RegimeEstimator":
        from faconv.pipeline.estimator import RegimeEstimator

        return RegimeEstimator
    if name in _LAZY_MODULES:
        import importlib

        return importlib.import_module(f"faconv.{name}")
    raise AttributeError(f"module 'faconv' has no attribute {name!r}")

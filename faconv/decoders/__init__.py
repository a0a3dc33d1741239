"""Decoders of the representation model: embeddings (and hidden states) back to fields."""

from faconv.decoders.base import DECODERS, Decoder
from faconv.decoders.basis import BasisDecoder
from faconv.decoders.pointwise import PointwiseDecoder
from faconv.decoders.regional import RegionalDecoder

__all__ = ["DECODERS", "BasisDecoder", "Decoder", "PointwiseDecoder", "RegionalDecoder"]

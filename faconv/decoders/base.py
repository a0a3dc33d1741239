"""The decoder registry: from per-step embeddings (and possibly hidden states) to fields."""

from __future__ import annotations

from abc import abstractmethod

import torch

from faconv.checks import check_positive_int
from faconv.component import Component
from faconv.domains.base import Domain
from faconv.registry import Registry

__all__ = ["DECODERS", "Decoder"]


class Decoder(Component):
    """Base of decoders of the representation model.

    A decoder takes ``in_channels`` (``C_hid``, the encoder's width), ``embedding_dim`` (``D``)
    and ``out_channels`` (the reconstructed variables), all wired by the model, and maps
    ``forward(z, h, domain)`` to a reconstruction. ``reads_hidden`` says whether the output may
    depend on ``h`` directly (then the reconstruction can bypass the embedding).

    Shapes:
        - z: ``(B, T, D)``; h: ``(B, T, *P, C_hid)``; output: ``(B, T, *P, C_out)``.
    """

    reads_hidden: bool = True

    def __init__(self, in_channels: int, embedding_dim: int, out_channels: int) -> None:
        super().__init__()
        owner = self.owner
        self.in_channels = check_positive_int(in_channels, "in_channels", owner)
        self.embedding_dim = check_positive_int(embedding_dim, "embedding_dim", owner)
        self.out_channels = check_positive_int(out_channels, "out_channels", owner)

    @abstractmethod
    def forward(self, z: torch.Tensor, h: torch.Tensor, domain: Domain) -> torch.Tensor: ...


DECODERS = Registry("decoder", Decoder)

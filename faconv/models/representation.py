"""The representation model: recurrent encoder → head → seasonal temporal attention → decoder
reconstructing the input fields."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from faconv.cells.base import CELLS
from faconv.checks import check_number, check_positive_int
from faconv.component import Component
from faconv.decoders.base import DECODERS
from faconv.domains.base import Domain
from faconv.errors import ConfigError, InputError
from faconv.heads.base import HEADS
from faconv.layers.recurrent import check_checkpoint_steps, unroll
from faconv.registry import Registry
from faconv.temporal.attention import TEMPORAL

__all__ = ["MODELS", "Model", "RepresentationModel"]


class Model(Component):
    """Base of complete models."""


MODELS = Registry("model", Model)

DEFAULT_ENCODER = ({"type": "fa_convlstm", "hidden_channels": 32},)


@MODELS.register("representation")
class RepresentationModel(Model):
    """Spatiotemporal representation learner of FAConvLSTM (arXiv 2601.10914), any geometry.

    .. math::
        H^{(l)} = \\mathrm{RNN}_l(H^{(l-1)}),\\quad z_t = \\mathrm{head}(H_t^{(L)}),\\quad
        z'_{1..T} = \\mathrm{temporal}(z_{1..T}, \\mathrm{doy}),\\quad
        \\hat x_t = \\mathrm{decoder}(z'_t\\,[, H_t^{(L)}])

    The encoder stacks any registered cells (FAConvLSTM, ConvLSTM, graph compositions); each
    layer's ``in_channels`` is wired from the previous one. Both embeddings are returned: the
    refined ``z'_t`` (what KMeans and the mixture cluster, the paper's) and the head's per-step
    ``z_t`` (what the clusterers that model persistence read; with
    ``head_reconstruction_weight > 0`` it is trained to reconstruct the field on its own too).

    **Defaults for weather regimes.** The ``regional`` head pools the hidden state onto coarse
    regions, so the embedding keeps where highs and lows are; the ``basis`` decoder rebuilds
    the field from ``z'_t`` alone as a combination of orthonormal (area-weighted) patterns, so
    the reconstruction loss forces the embedding to describe the field and distances between
    embeddings are distances between the fields they stand for (KMeans on them weighs the
    state as EOF analysis does); the temporal attention sees the seasonal encoding in its
    queries and keys only, so no calendar is added to the embedding. The paper-literal composition (global mean/std
    ``subspace`` head, ``pointwise`` decoder reading ``[H_t, z'_t]``, encoding in the values
    too) is ``head="subspace", decoder="pointwise", temporal={"type": "seasonal_attention",
    "encoding": "qkv"}``; it reconstructs well but its embedding need not carry the field.

    Args:
        in_channels (int): ``C_in`` of the input (variables, plus mask channels if used).
        out_channels (int, optional): reconstructed variables. Default: ``in_channels``.
        encoder (sequence of cell specs): each needs ``hidden_channels``; ``in_channels`` is
            wired. Default: one ``fa_convlstm`` with 32 channels.
        head (spec): built with ``in_channels`` = last hidden width. Default: ``"regional"``.
        temporal (spec or None): built with ``dim`` = head width. Default:
            ``"seasonal_attention"``.
        decoder (spec): built with ``in_channels``, ``embedding_dim`` and ``out_channels``.
            Default: ``"basis"``.
        checkpoint_steps (int, optional): activation checkpointing of the encoder over chunks
            of this many steps when training: peak memory for long windows (a 365-day year)
            drops, at about one extra encoder forward. Default: ``None`` (off).
        head_reconstruction_weight (float): weight of a second reconstruction loss, from the
            head's per-step embedding ``z_t`` through the same decoder (``head_reconstruction``
            in the output). It makes ``z_t`` itself describe the day's field, not only the
            refined ``z'_t`` that the attention mixes across the window: ``z_t`` is what the
            clusterers that model persistence read (``cluster.embedding: auto``). ``0`` turns
            it off (the paper-literal composition). Default: ``1.0``.

    Shapes:
        - x: ``(B, T, *P, C_in)``; day_of_year: ``(B, T)``.
        - output: dict with ``reconstruction (B, T, *P, C_out)``, ``embedding (B, T, D)``
          (refined), ``head_embedding (B, T, D)``, ``hidden (B, T, *P, C_hid)``, and with
          ``head_reconstruction_weight > 0`` ``head_reconstruction (B, T, *P, C_out)``.

    Config:
        ``{"type": "representation", "in_channels": 8, "encoder": [{"type": "fa_convlstm",
        "hidden_channels": 32}], "head": {"type": "regional", "regions": 16}}``
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int | None = None,
        encoder: Sequence[Any] = DEFAULT_ENCODER,
        head: Any = "regional",
        temporal: Any = "seasonal_attention",
        decoder: Any = "basis",
        checkpoint_steps: int | None = None,
        head_reconstruction_weight: float = 1.0,
    ) -> None:
        super().__init__()
        owner = self.owner
        self.in_channels = check_positive_int(in_channels, "in_channels", owner)
        self.out_channels = check_positive_int(out_channels or in_channels, "out_channels", owner)
        if isinstance(encoder, (str, dict)) or not isinstance(encoder, Sequence) or not encoder:
            raise ConfigError(f"{owner}: encoder must be a non-empty list of cell specs")
        cells, width = [], in_channels
        for spec in encoder:
            cell = CELLS.build(spec, in_channels=width)
            cells.append(cell)
            width = cell.hidden_channels
        self.encoder = nn.ModuleList(cells)
        self.head = HEADS.build(head, in_channels=width)
        dim = self.head.out_dim
        self.temporal = None if temporal is None else TEMPORAL.build(temporal, dim=dim)
        self.decoder = DECODERS.build(
            decoder, in_channels=width, embedding_dim=dim, out_channels=self.out_channels
        )
        self.checkpoint_steps = check_checkpoint_steps(checkpoint_steps, owner)
        self.head_reconstruction_weight = check_number(
            head_reconstruction_weight, "head_reconstruction_weight", owner, minimum=0.0
        )

    @property
    def embedding_dim(self) -> int:
        return self.head.out_dim

    def forward(self, x: torch.Tensor, domain: Domain, day_of_year: torch.Tensor) -> dict:
        self.encoder[0].check_input(x, domain, leading=2, name="model input")
        if tuple(day_of_year.shape) != tuple(x.shape[:2]):
            raise InputError(
                f"day_of_year has shape {tuple(day_of_year.shape)}; expected (B, T) = {tuple(x.shape[:2])}"
            )
        h = x
        for cell in self.encoder:
            state = cell.initial_state(h.shape[0], domain, device=h.device, dtype=h.dtype)
            outputs, _ = unroll(cell, h, domain, state, checkpoint_steps=self.checkpoint_steps)
            h = torch.stack(outputs, 1)
        z0 = self.head(h, domain)
        z = z0 if self.temporal is None else self.temporal(z0, day_of_year)
        out = {
            "reconstruction": self.decoder(z, h, domain),
            "embedding": z,
            "head_embedding": z0,
            "hidden": h,
        }
        if self.head_reconstruction_weight > 0 and z is not z0:
            out["head_reconstruction"] = self.decoder(z0, h, domain)
        return out

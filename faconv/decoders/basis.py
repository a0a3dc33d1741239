"""A linear decoder on an orthonormal spatial basis: learned principal components."""

from __future__ import annotations

import torch
from torch import nn

from faconv.checks import check_positive_int
from faconv.decoders.base import DECODERS, Decoder
from faconv.domains.base import Domain
from faconv.functional.regions import region_mean, region_to_points

__all__ = ["BasisDecoder"]


@DECODERS.register("basis")
class BasisDecoder(Decoder):
    """The field as a combination of orthonormal patterns weighted by the embedding.

    .. math::
        \\hat x_t(p) = b(p) + \\sum_m w_{pm}\\, a_m^{-1/2} (Q z_t)_m,\\qquad Q^\\top Q = I

    ``Q`` maps the embedding to ``regions × C_out`` coarse values with orthonormal columns,
    and ``a_m`` are the regions' area fractions, so the ``D`` patterns are orthonormal in the
    area-weighted inner product: **distances between embeddings are area-weighted distances
    between the fields they decode to** (an isometry, up to the smooth interpolation ``w`` to
    the points). Trained to reconstruct, the patterns span the leading modes of the
    large-scale anomalies and each embedding coordinate is a learned principal component;
    clustering the embeddings unscaled then weighs the large-scale state as the classical EOF
    analysis does, while the encoder (recurrent, with attention) computes the coordinates.
    ``b(p)`` is a learned mean field (on the regions). Nothing but ``z_t`` reaches the output.

    Args:
        in_channels (int): ``C_hid`` (unused: this decoder never reads the hidden state).
        embedding_dim (int): ``D`` (at most ``regions × C_out``).
        out_channels (int): ``C_out``.
        regions (int): coarse regions of the patterns. Default: ``144`` (coarser patterns lose
            the structure that tells similar regimes apart).

    Shapes:
        - z: ``(B, T, D)``; h: ignored; output: ``(B, T, *P, C_out)``.

    Config:
        ``{"type": "basis", "regions": 144}``
    """

    reads_hidden = False

    def __init__(
        self, in_channels: int, embedding_dim: int, out_channels: int, regions: int = 144
    ) -> None:
        super().__init__(in_channels, embedding_dim, out_channels)
        owner = self.owner
        self.regions = check_positive_int(regions, "regions", owner)
        if embedding_dim > regions * out_channels:
            from faconv.errors import ConfigError

            raise ConfigError(
                f"{owner}: embedding_dim={embedding_dim} exceeds the {regions} x {out_channels} "
                "coarse values it can span; use more regions or a smaller embedding"
            )
        # orthonormal columns through a differentiable QR of a free matrix (signs fixed so the
        # map is continuous); torch's orthogonal parametrisation is avoided on purpose: with
        # AdamW on torch 2.13 it collapsed the weight to zero after one step
        self.raw_patterns = nn.Parameter(torch.empty(regions * out_channels, embedding_dim))
        nn.init.orthogonal_(self.raw_patterns)
        self.mean = nn.Parameter(torch.zeros(regions, out_channels))

    def basis(self) -> torch.Tensor:
        """The ``(regions × C_out, D)`` matrix ``Q`` with orthonormal columns."""
        q, r = torch.linalg.qr(self.raw_patterns)
        return q * torch.sign(torch.diagonal(r)).where(torch.diagonal(r) != 0, 1.0)

    def coarse(self, z: torch.Tensor, domain: Domain) -> torch.Tensor:
        """The decoded field on the regions, before interpolation to the points.

        Shapes:
            - z: ``(..., D)``; output: ``(..., regions, C_out)``.
        """
        w = domain.point_weights(z.device, z.dtype).reshape(1, -1, 1)
        area = _areas(domain.regions(self.regions), w)
        coarse = (z @ self.basis().T).view(*z.shape[:-1], self.regions, self.out_channels)
        return coarse / area.sqrt() + self.mean

    def project(self, x: torch.Tensor, domain: Domain) -> torch.Tensor:
        """Coordinates of fields in the basis: the area-weighted region means of ``x`` (minus
        the mean field), projected on the patterns. ``forward(project(x))`` is the best
        approximation of ``x``'s regional means in the basis (a least-squares projection).

        Shapes:
            - x: ``(B, T, *P, C_out)``; output: ``(B, T, D)``.
        """
        B, T = x.shape[:2]
        regions = domain.regions(self.regions)
        w = domain.point_weights(x.device, x.dtype).reshape(1, -1, 1)
        area = _areas(regions, w)
        r = region_mean(x.reshape(B * T, -1, self.out_channels), regions, w[0, :, 0])
        coarse = (r - self.mean) * area.sqrt()
        return (coarse.reshape(B, T, -1) @ self.basis()).view(B, T, self.embedding_dim)

    def forward(self, z: torch.Tensor, h: torch.Tensor, domain: Domain) -> torch.Tensor:
        B, T = z.shape[:2]
        coarse = self.coarse(z, domain).reshape(B * T, self.regions, self.out_channels)
        out = region_to_points(coarse, domain.regions(self.regions))
        return out.view(B, T, *domain.point_shape, self.out_channels)


def _areas(regions, w: torch.Tensor) -> torch.Tensor:
    """Area fraction of every region, ``(M, 1)``."""
    a = w.new_zeros(regions.num_regions, 1)
    return a.index_add_(0, regions.assignment.to(w.device), w[0])

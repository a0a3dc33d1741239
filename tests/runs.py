"""The small run that the training, CLI and process tests share: a tiny FAConvLSTM model
(8 channels, subspace head, 2-head seasonal attention) on a few weeks of generated 8 x 8 data,
4-day windows. Each test states only what it changes."""

from __future__ import annotations

import copy

SMALL_MODEL = {
    "encoder": [{"type": "fa_convlstm", "hidden_channels": 8}],
    "head": {"type": "subspace", "subspace_dim": 4},
    "temporal": {"type": "seasonal_attention", "num_heads": 2},
}
SMALL_DATA = {"height": 8, "width": 8, "regimes": 3, "steps_per_day": 1}


def small_run(days: int, train: dict, clusters: int | None = 3, **generated) -> dict:
    """A run config (the JSON a user writes): ``days`` of generated data (other generator
    settings override :data:`SMALL_DATA`), the ``train`` settings over 4-day windows, and
    ``clusters`` KMeans clusters (``None``: no cluster section)."""
    cfg = {
        "data": {"generated": {"days": days, **SMALL_DATA, **generated}},
        "model": copy.deepcopy(SMALL_MODEL),
        "train": {"window": 4, "stride": 4, **train},
    }
    if clusters is not None:
        cfg["cluster"] = {"k": clusters}
    return cfg

"""Embed every timestep, cluster the embeddings and score them; every number says what it was
computed on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import xarray as xr
from sklearn.cluster import KMeans
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_score,
)

from faconv._io import atomic_write
from faconv.data.windows import window_starts
from faconv.errors import DataError

__all__ = ["cluster_and_score", "embed", "write_embeddings"]


@torch.no_grad()
def embed(model, data, window: int, batch_size: int = 8) -> np.ndarray:
    """One embedding per timestep (the model's refined per-step embedding), from windows of
    ``window`` steps covering the whole sequence (a step in two windows takes the mean).

    Shapes:
        - output: ``(T, D)`` float64.
    """
    model.eval()
    device = next(model.parameters()).device
    starts = window_starts(data.num_steps, window, window)
    total = np.zeros((data.num_steps, model.embedding_dim))
    count = np.zeros((data.num_steps, 1))
    for i in range(0, len(starts), batch_size):
        chunk = starts[i : i + batch_size]
        x = torch.stack([data.inputs[s : s + window] for s in chunk]).to(device)
        doy = torch.stack([data.day_of_year[s : s + window] for s in chunk]).to(device)
        z = model(x, data.domain, doy)["embedding"].double().cpu().numpy()
        for j, s in enumerate(chunk):
            total[s : s + window] += z[j]
            count[s : s + window] += 1
    return total / count


def cluster_and_score(
    embeddings: np.ndarray,
    k: int = 7,
    seed: int = 0,
    n_init: int = 10,
    planted: np.ndarray | None = None,
    inputs: np.ndarray | None = None,
) -> tuple[np.ndarray, dict[str, float]]:
    """KMeans on standardised embeddings, then internal scores (and external ones when known).

    Keys name what each number was computed on:
    ``silhouette[embeddings,euclidean]``, ``davies_bouldin[embeddings]``,
    ``calinski_harabasz[embeddings]``; with ``planted`` labels ``ari[planted regimes]``; with
    ``inputs`` (``(T, ...)`` normalised fields) the authors' lab variant
    ``silhouette[min-max inputs,cosine]``: the same cluster labels scored on the MinMax-scaled
    flattened inputs with the cosine metric.
    """
    emb = np.asarray(embeddings, dtype=np.float64)
    if emb.ndim != 2 or not np.isfinite(emb).all():
        raise DataError("embeddings must be a finite (T, D) array")
    if not 2 <= k < emb.shape[0]:
        raise DataError(f"k={k} clusters need 2 <= k < number of samples ({emb.shape[0]})")
    z = (emb - emb.mean(0)) / (emb.std(0) + 1e-12)
    labels = KMeans(k, n_init=n_init, random_state=seed).fit_predict(z)
    scores = {
        "silhouette[embeddings,euclidean]": float(silhouette_score(z, labels)),
        "davies_bouldin[embeddings]": float(davies_bouldin_score(z, labels)),
        "calinski_harabasz[embeddings]": float(calinski_harabasz_score(z, labels)),
    }
    if planted is not None:
        scores["ari[planted regimes]"] = float(adjusted_rand_score(planted, labels))
    if inputs is not None:
        flat = np.asarray(inputs, dtype=np.float64).reshape(len(labels), -1)
        lo, hi = flat.min(0), flat.max(0)
        scaled = (flat - lo) / np.where(hi > lo, hi - lo, 1.0)
        scores["silhouette[min-max inputs,cosine]"] = float(
            silhouette_score(scaled, labels, metric="cosine")
        )
    return labels, scores


def write_embeddings(path: str | Path, embeddings: np.ndarray, time: np.ndarray,
                     labels: np.ndarray | None = None, attrs: dict | None = None,
                     planted: np.ndarray | None = None) -> Path:  # fmt: skip
    """Embeddings (with cluster labels and planted regimes when given) as NetCDF with the time
    coordinate, written atomically."""
    ds = xr.Dataset(
        {"embedding": (("time", "dim"), np.asarray(embeddings, dtype=np.float32))},
        coords={"time": time, "dim": np.arange(embeddings.shape[1])},
        attrs={k: str(v) for k, v in (attrs or {}).items()},
    )
    if labels is not None:
        ds["cluster"] = ("time", np.asarray(labels, dtype=np.int32))
    if planted is not None:
        ds["planted_regime"] = ("time", np.asarray(planted, dtype=np.int32))
    return atomic_write(path, ds.to_netcdf)

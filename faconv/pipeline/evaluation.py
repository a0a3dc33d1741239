"""Embed every timestep, cluster, and score against the classical methods of the field; every
number says what it was computed on."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import xarray as xr
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_score,
)

from faconv._io import atomic_write
from faconv.checks import check_choice, check_int
from faconv.data.store import window_batches
from faconv.data.windows import time_breaks, time_segments, window_starts
from faconv.errors import ConfigError, DataError
from faconv.pipeline.clustering import CLUSTERERS, make_clusterer, resolve_method

__all__ = [
    "ARI",
    "CALINSKI_HARABASZ",
    "DAVIES_BOULDIN",
    "EXPLAINED_VARIANCE",
    "SILHOUETTE",
    "SILHOUETTE_LAB",
    "baselines",
    "cluster_and_score",
    "embed",
    "embed_outputs",
    "eof_features",
    "field_features",
    "oracle_labels",
    "write_embeddings",
]

# Score names, in one place; each says what it was computed on.
ARI = "ari[planted regimes]"  #: adjusted Rand index against the planted regimes
SILHOUETTE = "silhouette[clustered features]"  #: on what each method clustered
DAVIES_BOULDIN = "davies_bouldin[clustered features]"
CALINSKI_HARABASZ = "calinski_harabasz[clustered features]"
#: share of the area-weighted anomaly variance that the regime composites explain (common to
#: every method, physical: how much of the weather the regimes describe)
EXPLAINED_VARIANCE = "explained_variance[anomalies]"
#: the authors' lab variant: the same labels, cosine silhouette on min-max scaled inputs
SILHOUETTE_LAB = "silhouette[min-max inputs,cosine]"


@torch.no_grad()
def embed_outputs(
    model,
    data,
    window: int,
    outputs: Sequence[str] = ("embedding", "head_embedding"),
    batch_size: int = 8,
    stride: int | None = None,
) -> dict[str, np.ndarray]:
    """Per-step embeddings, one array per model output in ``outputs`` (``"embedding"``: the
    refined embedding, after the temporal attention; ``"head_embedding"``: the head's, before
    it), in one pass: each step's is the mean over the windows of ``window`` steps, started
    every ``stride`` steps, that contain the step.

    ``stride=None`` (the default) is the window: disjoint windows, each step embedded once,
    as in training. A smaller stride embeds each step at several positions of the window and
    averages them, so a day's embedding no longer depends on where a window boundary fell
    (the recurrent state starts from zero at each window's first step), at ``window /
    stride`` times the cost. ``stride=1`` was measured against the default on the stored
    checkpoints of the README's regime runs: within the seed-to-seed spread (docs/regimes.md),
    hence not the default.

    Shapes:
        - output: ``{name: (T, D)}`` float64.
    """
    stride = window if stride is None else check_int(stride, "stride", "embed", minimum=1)
    if stride > window:
        raise ConfigError(
            f"embed: stride {stride} is longer than the window ({window} steps): some steps "
            "would not be embedded; use a stride of at most the window"
        )
    outputs = tuple(outputs)
    for name in outputs:
        check_choice(name, ("embedding", "head_embedding"), "output", "embed")
    model.eval()
    device = next(model.parameters()).device
    # windows stay within runs of consecutive steps; a run shorter than the window (a gap in
    # time soon after it began) is embedded as one shorter window
    by_length: dict[int, list[int]] = {}
    for a, b in time_segments(data.num_steps, time_breaks(data.time)):
        n = min(window, b - a)
        by_length.setdefault(n, []).extend(window_starts(b - a, n, min(stride, n), start=a))
    total = {name: np.zeros((data.num_steps, model.embedding_dim)) for name in outputs}
    count = np.zeros((data.num_steps, 1))
    for n, starts in by_length.items():
        groups = [starts[i : i + batch_size] for i in range(0, len(starts), batch_size)]
        for chunk, (x, _, _, doy) in zip(groups, window_batches(data, groups, n)):
            result = model(x.to(device), data.domain, doy.to(device))
            for name in outputs:
                z = result[name].double().cpu().numpy()
                for j, s in enumerate(chunk):
                    total[name][s : s + n] += z[j]
            for s in chunk:
                count[s : s + n] += 1
    return {name: t / count for name, t in total.items()}


def embed(
    model,
    data,
    window: int,
    batch_size: int = 8,
    stride: int | None = None,
    output: str = "embedding",
) -> np.ndarray:
    """One embedding per timestep: :func:`embed_outputs` of one model output (default the
    refined per-step embedding; ``"head_embedding"``: the head's, what the clusterers that
    model persistence read, see :func:`faconv.pipeline.clustering.embedding_output`).

    Shapes:
        - output: ``(T, D)`` float64.
    """
    return embed_outputs(model, data, window, (output,), batch_size, stride)[output]


def field_features(fields, weights=None, mask=None) -> np.ndarray:
    """Fields ``(T, *P, C)`` flattened to ``(T, prod(P) * C)`` with each point scaled by
    ``sqrt(area weight)``, so Euclidean distances are area-weighted; masked values are 0."""
    f = np.asarray(fields, dtype=np.float64)
    if mask is not None:
        f = f * np.asarray(mask, dtype=np.float64)
    if weights is not None:
        w = np.asarray(weights, dtype=np.float64)
        f = f * np.sqrt(w / w.mean())[..., None]
    return f.reshape(f.shape[0], -1)


def eof_features(fields, n: int = 10, weights=None, mask=None) -> np.ndarray:
    """Principal components of the leading ``n`` EOFs of area-weighted anomalies (about the
    time mean), unscaled: KMeans on them is the classical EOF-truncated regime method."""
    x = field_features(fields, weights, mask)
    x = x - x.mean(0)
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    n = min(n, len(s))
    return u[:, :n] * s[:n]


def _standardize(x: np.ndarray) -> np.ndarray:
    return (x - x.mean(0)) / (x.std(0) + 1e-12)


def cluster_and_score(
    features: np.ndarray,
    k: int = 7,
    seed: int = 0,
    n_init: int = 10,
    planted: np.ndarray | None = None,
    inputs: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    standardize: bool = False,
    labels: np.ndarray | None = None,
    method: str = "kmeans",
    breaks: np.ndarray | None = None,
    restarts: int = 1,
) -> tuple[np.ndarray, dict[str, float]]:
    """Cluster ``features`` (``(T, F)``) with ``method`` (a key of
    :data:`~faconv.pipeline.clustering.CLUSTERERS`; ``"auto"`` is resolved by the caller,
    who knows the time step: :func:`~faconv.pipeline.clustering.resolve_method`), then the
    scores. ``breaks`` ``(T - 1,)`` marks gaps in time (:func:`faconv.data.time_breaks`) for
    the clusterers that model persistence; ``restarts``: their whole searches
    (:func:`~faconv.pipeline.clustering.make_clusterer`).

    Features are clustered as they are: the default ``basis`` decoder makes distances between
    embeddings area-weighted distances between the fields they decode to, the geometry EOF +
    KMeans uses too. ``standardize=True`` rescales every dimension to unit variance first (for
    embeddings whose coordinates have arbitrary scales; it equalises weak and strong modes).

    Scores: :data:`SILHOUETTE`, :data:`DAVIES_BOULDIN`, :data:`CALINSKI_HARABASZ` on the
    clustered features; with ``planted`` labels :data:`ARI`; with ``inputs`` (``(T, *P, C)``
    normalised anomaly fields, area ``weights`` of shape ``P``) :data:`EXPLAINED_VARIANCE`
    and :data:`SILHOUETTE_LAB`. Given ``labels``, they are scored instead of clustering.
    """
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or not np.isfinite(x).all():
        raise DataError("features to cluster must be a finite (T, D) array")
    if not 2 <= k < x.shape[0]:
        raise DataError(f"k={k} clusters need 2 <= k < number of samples ({x.shape[0]})")
    z = _standardize(x) if standardize else x
    if labels is None:
        check_choice(method, CLUSTERERS, "method", "cluster_and_score")
        labels = make_clusterer(method, k, seed, n_init, restarts).fit_predict(z, breaks)
    labels = np.asarray(labels)
    several = len(set(labels.tolist())) > 1
    scores = {
        SILHOUETTE: float(silhouette_score(z, labels)) if several else float("nan"),
        DAVIES_BOULDIN: float(davies_bouldin_score(z, labels)) if several else float("nan"),
        CALINSKI_HARABASZ: float(calinski_harabasz_score(z, labels)) if several else float("nan"),
    }
    if planted is not None:
        scores[ARI] = float(adjusted_rand_score(planted, labels))
    if inputs is not None:
        f = field_features(inputs, weights)
        anom = f - f.mean(0)
        comp = np.zeros_like(anom)
        for c in set(labels.tolist()):
            comp[labels == c] = anom[labels == c].mean(0)
        scores[EXPLAINED_VARIANCE] = float((comp**2).sum() / max((anom**2).sum(), 1e-300))
        flat = np.asarray(inputs, dtype=np.float64).reshape(len(labels), -1)
        lo, hi = flat.min(0), flat.max(0)
        scaled = (flat - lo) / np.where(hi > lo, hi - lo, 1.0)
        scores[SILHOUETTE_LAB] = (
            float(silhouette_score(scaled, labels, metric="cosine")) if several else float("nan")
        )
    return labels, scores


def oracle_labels(data) -> np.ndarray:
    """Each step classified by its nearest planted pattern (area-weighted distance between the
    step's anomaly and the pattern, both about their means): what knowing the true regimes
    gives day by day. Needs generated data (``data.patterns``)."""
    if data.patterns is None or data.labels is None:
        raise DataError("the oracle needs planted regimes and their patterns (generated data)")
    w = data.domain.point_weights(dtype=torch.float64).numpy()
    x = field_features(data.target.numpy(), w, data.mask.numpy())
    p = field_features(data.patterns, w)
    freq = np.bincount(data.labels, minlength=len(p)) / len(data.labels)
    p = p - freq @ p  # the anomalies are about the mean, which holds the mean regime
    x = x - x.mean(0)
    d = (x**2).sum(1)[:, None] - 2 * x @ p.T + (p**2).sum(1)[None]
    return d.argmin(1)


def baselines(
    data,
    k: int = 7,
    seed: int = 0,
    n_init: int = 10,
    n_eofs: int = 10,
    method: str = "kmeans",
    restarts: int = 1,
) -> dict:
    """The classical methods on the same normalised anomalies: ``"EOF + KMeans"`` (KMeans on
    the leading ``n_eofs`` principal components of the area-weighted anomalies), ``"raw
    KMeans"`` (KMeans on the area-weighted fields) and, with planted regimes and patterns, the
    ``"oracle"`` (:func:`oracle_labels`). With another clustering ``method`` the EOF baseline
    is also clustered that way (``"EOF (n) + AR-HMM"``), so the learned features and the classical
    ones are compared under the same clusterer (``"auto"`` is resolved with the data's time
    step; ``restarts`` as for the learned features). Returns ``{name: (labels, scores)}``."""
    method = resolve_method(method, data.time)
    w = data.domain.point_weights(dtype=torch.float64).numpy()
    fields, mask = data.target.numpy(), data.mask.numpy()
    common = {
        "k": k,
        "seed": seed,
        "n_init": n_init,
        "planted": data.labels,
        "inputs": fields,
        "weights": w,
        "breaks": time_breaks(data.time),
        "restarts": restarts,
    }
    raw = field_features(fields, w, mask)
    pcs = eof_features(fields, n_eofs, w, mask)
    out = {
        f"EOF ({n_eofs}) + KMeans": cluster_and_score(pcs, **common),
        "raw KMeans": cluster_and_score(raw, **common),
    }
    if method != "kmeans":
        out[f"EOF ({n_eofs}) + {CLUSTERERS[method].label}"] = cluster_and_score(
            pcs, **common, method=method
        )
    if data.patterns is not None and data.labels is not None:
        out["oracle"] = cluster_and_score(raw, **common, labels=oracle_labels(data))
    return out


def write_embeddings(
    path: str | Path,
    embeddings: np.ndarray,
    time: np.ndarray,
    labels: np.ndarray | None = None,
    attrs: dict | None = None,
    planted: np.ndarray | None = None,
    head: np.ndarray | None = None,
    clustered: str | None = None,
) -> Path:
    """Embeddings (with cluster labels and planted regimes when given) as NetCDF with the time
    coordinate, written atomically: ``embedding`` (the refined embedding), ``head_embedding``
    (the head's, when given) and the attribute ``clustered_embedding`` naming the variable the
    labels came from (when given)."""
    from faconv.provenance import provenance

    emb_attrs = {"long_name": "learned embedding of each step", "units": "1"}
    ds = xr.Dataset(
        {"embedding": (("time", "dim"), np.asarray(embeddings, dtype=np.float32), emb_attrs)},
        coords={"time": time, "dim": np.arange(embeddings.shape[1])},
        attrs={**provenance(), **{k: v for k, v in (attrs or {}).items() if v is not None}},
    )
    ds["embedding"].attrs["long_name"] = (
        "learned embedding of each step (refined by the temporal attention)"
    )
    if head is not None:
        ds["head_embedding"] = (
            ("time", "dim"),
            np.asarray(head, dtype=np.float32),
            {"long_name": "learned embedding of each step (the head's, per step)", "units": "1"},
        )
    if clustered is not None:
        ds.attrs["clustered_embedding"] = clustered
    ds["time"].attrs.update(standard_name="time", long_name="time")
    ds["dim"].attrs.update(long_name="embedding dimension", units="1")
    if labels is not None:
        ds["cluster"] = (
            "time",
            np.asarray(labels, dtype=np.int32),
            {"long_name": "cluster (regime) of each step", "units": "1"},
        )
    if planted is not None:
        ds["planted_regime"] = (
            "time",
            np.asarray(planted, dtype=np.int32),
            {"long_name": "planted regime of the generated data (ground truth)", "units": "1"},
        )
    return atomic_write(path, ds.to_netcdf)

"""Empirical orthogonal functions of area-weighted anomalies, and how regime composites project
onto them (the physical-interpretation check of the clusters)."""

from __future__ import annotations

import numpy as np

__all__ = ["composite_eof_correlation", "eofs"]


def _area(weights: np.ndarray | None, shape) -> np.ndarray:
    w = np.ones(shape) if weights is None else np.broadcast_to(np.asarray(weights, float), shape)
    return w / w.mean()


def eofs(fields: np.ndarray, n: int = 4, weights: np.ndarray | None = None):
    """Leading ``n`` EOFs of ``fields (T, *P, C)`` (all variables jointly, each already
    normalised), from anomalies about the time mean weighted by ``sqrt(area)``.

    Returns ``(patterns (n, *P, C), pcs (T, n), explained_variance_ratio (n,))``; patterns are
    unit-norm in the area-weighted inner product.
    """
    f = np.asarray(fields, dtype=np.float64)
    T = f.shape[0]
    anom = f - f.mean(0)
    w = _area(weights, f.shape[1:-1])[..., None] * np.ones(f.shape[1:])
    X = (anom * np.sqrt(w)).reshape(T, -1)
    u, s, vt = np.linalg.svd(X, full_matrices=False)
    n = min(n, len(s))
    patterns = (vt[:n] / np.sqrt(w.reshape(1, -1))).reshape(n, *f.shape[1:])
    return patterns, u[:, :n] * s[:n], (s[:n] ** 2) / (s**2).sum()


def composite_eof_correlation(fields, labels, patterns, weights=None) -> tuple[list, np.ndarray]:
    """Area-weighted pattern correlation of each regime's composite anomaly with each EOF.

    Returns ``(regimes, corr (K, n))``.
    """
    f = np.asarray(fields, dtype=np.float64)
    labels = np.asarray(labels)
    anom = f - f.mean(0)
    w = (_area(weights, f.shape[1:-1])[..., None] * np.ones(f.shape[1:])).reshape(-1)
    regimes = sorted(set(labels.tolist()))
    corr = np.zeros((len(regimes), len(patterns)))

    def wcorr(a, b):
        a, b = a - (w * a).sum() / w.sum(), b - (w * b).sum() / w.sum()
        return float((w * a * b).sum() / np.sqrt((w * a * a).sum() * (w * b * b).sum() + 1e-300))

    for i, k in enumerate(regimes):
        comp = anom[labels == k].mean(0).reshape(-1)
        for j, p in enumerate(patterns):
            corr[i, j] = wcorr(comp, p.reshape(-1))
    return regimes, corr

"""How embeddings become regimes: the clusterers behind ``cluster.method``.

Each clusterer is fitted on ``(T, D)`` features, assigns any ``(N, D)`` features to a regime
(so a fitted :class:`~faconv.pipeline.estimator.RegimeEstimator` can label new data), and
saves its fitted state as tensors. Registered in :data:`CLUSTERERS` by name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from faconv.errors import DataError

if TYPE_CHECKING:  # torch and scikit-learn load when used: the CLI lists the names cheaply
    import torch

__all__ = ["CLUSTERERS", "Clusterer", "KMeansClusterer", "TiedGaussianClusterer"]


class Clusterer:
    """Base: ``k`` regimes, ``seed`` and ``n_init`` restarts of the KMeans start.

    Subclasses set ``name`` and ``state_keys`` and implement :meth:`fit` and :meth:`predict`.
    """

    name: str = ""
    label: str = ""  #: how tables and file attributes name the method
    state_keys: tuple[str, ...] = ()

    def __init__(self, k: int, seed: int = 0, n_init: int = 10) -> None:
        self.k, self.seed, self.n_init = int(k), int(seed), int(n_init)

    def fit(self, z: np.ndarray) -> Clusterer:
        raise NotImplementedError

    def predict(self, z: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def fit_predict(self, z: np.ndarray) -> np.ndarray:
        return self.fit(z).predict(z)

    @property
    def centers(self) -> np.ndarray:
        """The regime centres in feature space, ``(k, D)``."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, torch.Tensor]:
        import torch

        return {key: torch.from_numpy(np.asarray(getattr(self, key))) for key in self.state_keys}

    @classmethod
    def from_state(cls, k: int, state: dict[str, torch.Tensor]) -> Clusterer:
        missing = [key for key in cls.state_keys if key not in state]
        if missing:
            from faconv.pipeline.training.checkpoint import CheckpointError

            raise CheckpointError(f"clusterer {cls.name!r}: the saved state lacks {missing}")
        out = cls(k)
        for key in cls.state_keys:
            setattr(out, key, state[key].double().numpy())
        return out

    def _features(self, z: np.ndarray, dim: int | None = None) -> np.ndarray:
        x = np.asarray(z, dtype=np.float64)
        if x.ndim != 2 or not np.isfinite(x).all():
            raise DataError("features to cluster must be a finite (T, D) array")
        if dim is not None and x.shape[1] != dim:
            raise DataError(
                f"clusterer {self.name!r} was fitted on {dim}-d features, got {x.shape[1]}-d"
            )
        return x


class KMeansClusterer(Clusterer):
    """KMeans (the paper's method): each step goes to the nearest centre (isotropic noise)."""

    name = "kmeans"
    label = "KMeans"
    state_keys = ("cluster_centers",)

    def fit(self, z: np.ndarray) -> KMeansClusterer:
        from sklearn.cluster import KMeans

        km = KMeans(self.k, n_init=self.n_init, random_state=self.seed).fit(self._features(z))
        self.cluster_centers = km.cluster_centers_
        return self

    def predict(self, z: np.ndarray) -> np.ndarray:
        x = self._features(z, self.cluster_centers.shape[1])
        d = ((x[:, None, :] - self.cluster_centers[None]) ** 2).sum(-1)
        return d.argmin(1).astype(np.int64)

    @property
    def centers(self) -> np.ndarray:
        return self.cluster_centers


class TiedGaussianClusterer(Clusterer):
    """A Gaussian mixture whose regimes share one full covariance, started from KMeans.

    The model "regime mean + the same weather noise in every regime": assignments are linear
    discriminants in the noise's own metric, where KMeans assumes isotropic noise (with
    correlated, anisotropic weather noise KMeans drifts away from the regime means). The
    shared covariance has ``D (D + 1) / 2`` entries; with few samples the features are first
    projected onto their leading ``max(1, T // 8)`` principal components (at least 8 samples
    per dimension), a rotation that changes nothing when ``T >= 8 D``.
    """

    name = "gmm"
    label = "GMM"
    state_keys = ("mean", "basis", "means", "precision", "log_weights")

    def fit(self, z: np.ndarray) -> TiedGaussianClusterer:
        from sklearn.cluster import KMeans
        from sklearn.mixture import GaussianMixture

        x = self._features(z)
        self.mean = x.mean(0)
        dims = min(x.shape[1], max(1, x.shape[0] // 8))
        self.basis = np.linalg.svd(x - self.mean, full_matrices=False)[2][:dims].T
        y = (x - self.mean) @ self.basis
        start = KMeans(self.k, n_init=self.n_init, random_state=self.seed).fit(y)
        # regularise relative to the features' scale (sklearn's reg_covar is absolute)
        reg = 1e-6 * max(float(y.var(0).mean()), 1e-300)
        gmm = GaussianMixture(
            self.k,
            covariance_type="tied",
            means_init=start.cluster_centers_,
            reg_covar=reg,
            random_state=self.seed,
        ).fit(y)
        self.means = gmm.means_
        self.precision = np.linalg.inv(gmm.covariances_)
        self.log_weights = np.log(np.maximum(gmm.weights_, 1e-300))
        return self

    def predict(self, z: np.ndarray) -> np.ndarray:
        y = (self._features(z, self.mean.shape[0]) - self.mean) @ self.basis
        pm = self.means @ self.precision  # (k, d)
        # the quadratic term y' P y is common to every regime and drops out
        score = y @ pm.T - 0.5 * (pm * self.means).sum(1) + self.log_weights
        return score.argmax(1).astype(np.int64)

    @property
    def centers(self) -> np.ndarray:
        return self.mean + self.means @ self.basis.T


#: ``cluster.method`` -> clusterer class: ``"kmeans"`` (the paper's) and ``"gmm"`` (the
#: default: tied-covariance Gaussian mixture). Add an entry to register another.
CLUSTERERS: dict[str, type[Clusterer]] = {
    cls.name: cls for cls in (KMeansClusterer, TiedGaussianClusterer)
}

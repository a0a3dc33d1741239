"""How embeddings become regimes: the clusterers behind ``cluster.method``.

Each clusterer is fitted on ``(T, D)`` features, assigns any ``(N, D)`` features to a regime
(so a fitted :class:`~faconv.pipeline.estimator.RegimeEstimator` can label new data), and
saves its fitted state as tensors. Registered in :data:`CLUSTERERS` by name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from faconv.errors import ConfigError, DataError

if TYPE_CHECKING:  # torch and scikit-learn load when used: the CLI lists the names cheaply
    import torch

__all__ = [
    "CLUSTERERS",
    "EMBEDDINGS",
    "METHODS",
    "AutoregressiveHMMClusterer",
    "Clusterer",
    "HiddenMarkovClusterer",
    "KMeansClusterer",
    "TiedGaussianClusterer",
    "embedding_output",
    "make_clusterer",
    "persistence_warning",
    "persistent_steps",
    "resolve_method",
    "step_days",
    "steps_alone_note",
]


class Clusterer:
    """Base: ``k`` regimes, ``seed`` and ``n_init`` restarts of the KMeans start.

    Subclasses set ``name`` and ``state_keys`` and implement :meth:`fit` and :meth:`predict`.
    """

    name: str = ""
    label: str = ""  #: how tables and file attributes name the method
    state_keys: tuple[str, ...] = ()
    #: whether rows are read as one time series in order (else each row is assigned alone);
    #: such a clusterer models time itself and reads the per-step ("head") embedding
    sequential: bool = False
    #: whether the constructor takes ``restarts`` (whole searches, the likeliest kept)
    restartable: bool = False

    def __init__(self, k: int, seed: int = 0, n_init: int = 10) -> None:
        self.k, self.seed, self.n_init = int(k), int(seed), int(n_init)

    def fit(self, z: np.ndarray, breaks: np.ndarray | None = None) -> Clusterer:
        """Fit on ``z`` ``(T, D)``; ``breaks`` ``(T - 1,)`` marks gaps in time (row ``i + 1``
        does not follow row ``i``, :func:`faconv.data.time_breaks`), read by the
        :attr:`sequential` clusterers (each run of consecutive rows is then a series of its
        own) and ignored by the others."""
        raise NotImplementedError

    def predict(self, z: np.ndarray, breaks: np.ndarray | None = None) -> np.ndarray:
        raise NotImplementedError

    def fit_predict(self, z: np.ndarray, breaks: np.ndarray | None = None) -> np.ndarray:
        return self.fit(z, breaks).predict(z, breaks)

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

    @staticmethod
    def _breaks(breaks: np.ndarray | None, n: int) -> np.ndarray:
        """``(n - 1,)`` bool gaps in time (all ``False`` without ``breaks``)."""
        if breaks is None:
            return np.zeros(max(n - 1, 0), dtype=bool)
        b = np.asarray(breaks, dtype=bool)
        if b.shape != (max(n - 1, 0),):
            raise DataError(f"breaks must have shape ({n - 1},) for {n} rows, got {b.shape}")
        return b

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

    def fit(self, z: np.ndarray, breaks: np.ndarray | None = None) -> KMeansClusterer:
        from sklearn.cluster import KMeans

        km = KMeans(self.k, n_init=self.n_init, random_state=self.seed).fit(self._features(z))
        self.cluster_centers = km.cluster_centers_
        return self

    def predict(self, z: np.ndarray, breaks: np.ndarray | None = None) -> np.ndarray:
        x = self._features(z, self.cluster_centers.shape[1])
        d = ((x[:, None, :] - self.cluster_centers[None]) ** 2).sum(-1)
        return d.argmin(1).astype(np.int64)

    @property
    def centers(self) -> np.ndarray:
        return self.cluster_centers


class TiedGaussianClusterer(Clusterer):
    """A Gaussian mixture whose regimes share one full covariance, found by consensus.

    The model "regime mean + the same weather noise in every regime": assignments are linear
    discriminants in the noise's own metric, where KMeans assumes isotropic noise (with
    correlated, anisotropic weather noise KMeans drifts away from the regime means). The
    shared covariance has ``D (D + 1) / 2`` entries; with few samples the features are first
    projected onto their leading ``max(1, T // 8)`` principal components (at least 8 samples
    per dimension), a rotation that changes nothing when ``T >= 8 D``.

    EM stops in local optima, and with weather noise the best of several likelihoods is often
    not the regimes. So ``ensemble`` mixtures are fitted from different KMeans starts, how
    often each pair of steps shares a regime across them (their soft co-association) is
    clustered spectrally, and a final mixture starts from those consensus clusters. The
    co-association matrix is never formed: its spectral embedding comes from the stacked,
    degree-normalised responsibilities, linear in ``T``. ``ensemble=1`` is one mixture from
    KMeans's best start.
    """

    name = "gmm"
    label = "GMM"
    state_keys = ("mean", "basis", "means", "precision", "log_weights")

    def __init__(self, k: int, seed: int = 0, n_init: int = 10, ensemble: int = 30) -> None:
        super().__init__(k, seed, n_init)
        self.ensemble = int(ensemble)

    def fit(self, z: np.ndarray, breaks: np.ndarray | None = None) -> TiedGaussianClusterer:
        y = self._prepare(z)
        return self._set(self._search(y)[0])

    def _prepare(self, z: np.ndarray) -> np.ndarray:
        """Centre and project the features (sets ``mean`` and ``basis``)."""
        x = self._features(z)
        if x.shape[0] < self.k:
            raise DataError(f"cannot find {self.k} regimes in {x.shape[0]} steps")
        self.mean = x.mean(0)
        dims = min(x.shape[1], max(1, x.shape[0] // 8))
        self.basis = np.linalg.svd(x - self.mean, full_matrices=False)[2][:dims].T
        return (x - self.mean) @ self.basis

    def _search(self, y: np.ndarray, seed: int | None = None) -> list:
        """Fitted mixtures, the chosen one first: the consensus-started mixture, then the
        ensemble's own fits from the likeliest down (``seed``: default the clusterer's)."""
        from sklearn.cluster import KMeans

        seed = self.seed if seed is None else seed
        if self.ensemble <= 1:
            start = KMeans(self.k, n_init=self.n_init, random_state=seed).fit(y)
            return [self._em(y, start.cluster_centers_, seed)]
        seeds = np.random.default_rng(seed).integers(2**31 - 1, size=self.ensemble)
        fits = [
            self._em(y, KMeans(self.k, n_init=1, random_state=int(s)).fit(y).cluster_centers_, seed)
            for s in seeds
        ]
        fits.sort(key=lambda g: -g.score(y))
        q = np.concatenate([g.predict_proba(y) for g in fits], 1)
        consensus = self._consensus(q, seed)
        if np.bincount(consensus, minlength=self.k).min() == 0:  # degenerate: keep the likeliest
            return fits
        starts = np.stack([y[consensus == c].mean(0) for c in range(self.k)])
        return [self._em(y, starts, seed), *fits]

    def _consensus(self, q: np.ndarray, seed: int | None = None) -> np.ndarray:
        """Spectral clustering of the co-association ``q q'`` from ``q`` itself, ``(T, R k)``."""
        from sklearn.cluster import KMeans

        m = q / np.sqrt(np.maximum(q @ q.sum(0), 1e-300))[:, None]
        # leading left singular vectors of m from its small (R k, R k) Gram matrix: a
        # symmetric eigenproblem (LAPACK's divide-and-conquer SVD can fail to converge here)
        lam, v = np.linalg.eigh(m.T @ m)
        top = np.argsort(lam)[::-1][: self.k]
        u = m @ (v[:, top] / np.sqrt(np.maximum(lam[top], 1e-300)))
        u /= np.maximum(np.linalg.norm(u, axis=1, keepdims=True), 1e-300)
        seed = self.seed if seed is None else seed
        return KMeans(self.k, n_init=self.n_init, random_state=seed).fit_predict(u)

    def _em(self, y: np.ndarray, means: np.ndarray, seed: int | None = None):
        from sklearn.mixture import GaussianMixture

        # regularise relative to the features' scale (sklearn's reg_covar is absolute)
        reg = 1e-6 * max(float(y.var(0).mean()), 1e-300)
        return GaussianMixture(
            self.k,
            covariance_type="tied",
            means_init=means,
            reg_covar=reg,
            max_iter=500,
            random_state=self.seed if seed is None else seed,
        ).fit(y)

    def _set(self, gmm) -> TiedGaussianClusterer:
        self.means = gmm.means_
        self.precision = np.linalg.inv(gmm.covariances_)
        self.log_weights = np.log(np.maximum(gmm.weights_, 1e-300))
        return self

    def predict(self, z: np.ndarray, breaks: np.ndarray | None = None) -> np.ndarray:
        y = (self._features(z, self.mean.shape[0]) - self.mean) @ self.basis
        pm = self.means @ self.precision  # (k, d)
        # the quadratic term y' P y is common to every regime and drops out
        score = y @ pm.T - 0.5 * (pm * self.means).sum(1) + self.log_weights
        return score.argmax(1).astype(np.int64)

    @property
    def centers(self) -> np.ndarray:
        return self.mean + self.means @ self.basis.T


class HiddenMarkovClusterer(TiedGaussianClusterer):
    """The tied-covariance mixture plus regime persistence: a Gaussian hidden Markov model.

    Weather regimes last days: the regime of step ``t`` follows that of ``t - 1`` through a
    ``(k, k)`` transition matrix, and each step's features are Gaussian around its regime's
    mean with one shared covariance. Fitted by Baum-Welch EM (scaled forward-backward) from
    the consensus mixture of :class:`TiedGaussianClusterer` and the transitions of its
    labels; with ``starts > 1`` also from the likeliest mixtures of its ensemble, keeping the
    model of highest likelihood (measured on the planted settings of docs/regimes.md: better on some,
    worse on others, so one start by default). Assigned by Viterbi decoding: the single
    likeliest regime sequence. The rows given to :meth:`fit` and :meth:`predict` are one time
    series in order; with ``breaks`` (gaps in time), each run of consecutive rows starts
    afresh from the start probabilities, and no transition is counted across a gap.
    """

    name = "hmm"
    label = "HMM"
    sequential = True
    restartable = True
    state_keys = TiedGaussianClusterer.state_keys + ("log_start", "log_transition")
    max_iter: int = 200
    tol: float = 1e-7

    def __init__(
        self,
        k: int,
        seed: int = 0,
        n_init: int = 10,
        ensemble: int = 30,
        starts: int = 1,
        restarts: int = 1,
    ) -> None:
        super().__init__(k, seed, n_init, ensemble)
        self.starts, self.restarts = int(starts), int(restarts)

    def fit(self, z: np.ndarray, breaks: np.ndarray | None = None) -> HiddenMarkovClusterer:
        y = self._prepare(z)
        b = self._breaks(breaks, len(y))
        fits = []
        for seed in self._restart_seeds():
            fits += [self._em_from(y, g, b) for g in self._search(y, seed)[: max(1, self.starts)]]
        best = max(fits, key=lambda f: f[0])
        self.log_likelihood = float(best[0])  # of the kept model (up to a constant)
        self._set_model(*best[1])
        return self

    def _restart_seeds(self) -> list[int]:
        """The clusterer's seed, then one derived seed per further restart (a whole new search:
        ensemble, consensus and starts)."""
        more = np.random.default_rng([self.seed, 1]).integers(2**31 - 1, size=self.restarts - 1)
        return [self.seed, *map(int, more)]

    def _em_from(self, y: np.ndarray, mixture, breaks=None) -> tuple[float, tuple]:
        """The model fitted from one mixture of the search: ``(log-likelihood, parameters)``."""
        return self._baum_welch(y, mixture, breaks)

    def _set_model(self, means, cov, weight, start, trans) -> None:
        self.means, self.precision = means, np.linalg.inv(cov)
        self.log_weights = np.log(np.maximum(weight / weight.sum(), 1e-300))
        self.log_start = np.log(np.maximum(start, 1e-300))
        self.log_transition = np.log(np.maximum(trans, 1e-300))

    def _baum_welch(self, y: np.ndarray, mixture, breaks=None) -> tuple[float, tuple]:
        """EM from a fitted mixture: ``(log-likelihood, (means, cov, weights, start, trans))``."""
        breaks = self._breaks(breaks, len(y))
        means, cov = mixture.means_, mixture.covariances_
        labels = mixture.predict(y)
        firsts = _run_starts(breaks)
        counts = np.ones((self.k, self.k))  # transitions of the mixture's labels, smoothed
        np.add.at(counts, (labels[:-1][~breaks], labels[1:][~breaks]), 1.0)
        trans = counts / counts.sum(1, keepdims=True)
        start = weight = mixture.weights_
        reg = 1e-6 * max(float(y.var(0).mean()), 1e-300) * np.eye(y.shape[1])
        previous = -np.inf
        for _ in range(self.max_iter):
            log_b = self._log_emission(y, means, np.linalg.inv(cov))
            gamma, pair, loglik = _forward_backward(log_b, start, trans, breaks)
            # the Gaussian normaliser the emissions leave out (its 2 pi part is constant)
            loglik -= 0.5 * len(y) * np.linalg.slogdet(cov)[1]
            if loglik - previous < self.tol * abs(loglik):
                break
            previous = loglik
            weight = gamma.sum(0)
            start = gamma[firsts].mean(0)
            trans = pair / np.maximum(pair.sum(1, keepdims=True), 1e-300)
            means = (gamma.T @ y) / np.maximum(weight, 1e-300)[:, None]
            cov = (y.T @ y - (means.T * weight) @ means) / y.shape[0] + reg
        return loglik, (means, cov, weight, start, trans)

    @staticmethod
    def _log_emission(y: np.ndarray, means: np.ndarray, precision: np.ndarray) -> np.ndarray:
        d = y[:, None, :] - means[None]  # (T, k, d); the normalising constant is shared
        return -0.5 * np.einsum("tkd,de,tke->tk", d, precision, d)

    def predict(self, z: np.ndarray, breaks: np.ndarray | None = None) -> np.ndarray:
        y = (self._features(z, self.mean.shape[0]) - self.mean) @ self.basis
        log_b = self._log_emission(y, self.means, self.precision)
        b = self._breaks(breaks, len(y))
        return _viterbi(log_b[0], log_b[1:, None, :], self.log_start, self.log_transition, b)


class AutoregressiveHMMClusterer(HiddenMarkovClusterer):
    """Persistent regimes under *red* weather noise: a Markov-switching mean with AR(1) errors.

    Weather noise is red: a day's departure from its regime's mean carries over to the next
    (Hasselmann's null model of climate variability). The hidden Markov model of
    :class:`HiddenMarkovClusterer` takes days as independent given their regimes, so a run of
    days with the same noise reads to it as evidence of a regime of their own. Here (the
    regime-switching model of Hamilton, 1989, with a shared covariance)

        y_t = mu[s_t] + e_t,    e_t = rho e_(t-1) + eta_t,    eta_t ~ N(0, Sigma),

    with the regime ``s_t`` a Markov chain: a step's likelihood depends on the regimes of
    ``t - 1`` and ``t``, and forward-backward runs on those pairs (``k^2`` terms a step). The
    first step (and the first after each gap in time, ``breaks``) is taken as
    ``N(mu[s_0], Sigma)``. ``rho`` (one scalar for every feature, so
    the model stays affine-equivariant and has one parameter more than the HMM) is estimated
    with the means, covariance and transitions by EM (exact conditional maximisations, so the
    likelihood never decreases) and kept within ``[-0.95, 0.95]``; with ``rho = 0`` the model
    is the HMM. EM starts from the HMMs fitted from the consensus mixture and the ``starts - 1``
    likeliest mixtures of the ensemble, and the likeliest model is kept (``starts=6`` by
    default: unlike the HMM's, the AR model's likelihood ranked the planted regimes' solutions
    first often enough to help; measured in docs/regimes.md). Assigned by Viterbi decoding over the
    same pair likelihoods.
    """

    name = "arhmm"
    label = "AR-HMM"
    state_keys = HiddenMarkovClusterer.state_keys + ("rho",)
    max_rho: float = 0.95

    def __init__(
        self,
        k: int,
        seed: int = 0,
        n_init: int = 10,
        ensemble: int = 30,
        starts: int = 6,
        restarts: int = 1,
    ) -> None:
        super().__init__(k, seed, n_init, ensemble, starts, restarts)

    def _em_from(self, y: np.ndarray, mixture, breaks=None) -> tuple[float, tuple]:
        """EM of the model started from the HMM fitted from ``mixture`` (``rho = 0``):
        ``(log-likelihood, (means, cov, weights, start, trans, rho))``."""
        breaks = self._breaks(breaks, len(y))
        means, cov, _, start, trans = self._baum_welch(y, mixture, breaks)[1]
        firsts, keep = _run_starts(breaks), (~breaks).astype(np.float64)[:, None, None]
        y0 = y[firsts]  # the first step of every run: no AR term
        k, (n, d) = self.k, y.shape
        reg = 1e-6 * max(float(y.var(0).mean()), 1e-300) * np.eye(d)
        rho, previous = 0.0, -np.inf
        for _ in range(self.max_iter):
            precision = np.linalg.inv(cov)
            log_first, log_pair = self._log_emissions(y, means, precision, rho, breaks)
            gamma, xi, loglik = _forward_backward_pairs(log_first, log_pair, start, trans, breaks)
            loglik -= 0.5 * n * np.linalg.slogdet(cov)[1]
            if loglik - previous < self.tol * abs(loglik):
                break
            previous = loglik
            xi = xi * keep  # a step after a gap has no predecessor
            g0 = gamma[firsts]
            start, pair = g0.mean(0), xi.sum(0)
            trans = pair / np.maximum(pair.sum(1, keepdims=True), 1e-300)
            into, out_of = xi.sum(1), xi.sum(2)  # (T - 1, k): the regime at t, at t - 1
            # means given rho: least squares of y_t - rho y_(t-1) on mu_j - rho mu_i (the
            # coefficients are scalars, so the shared covariance drops out), plus first steps
            gram = np.diag(into.sum(0) + g0.sum(0)) + rho**2 * np.diag(out_of.sum(0))
            gram -= rho * (pair + pair.T)
            rhs = (into - rho * out_of).T @ (y[1:] - rho * y[:-1]) + g0.T @ y0
            means = np.linalg.solve(gram + 1e-12 * np.trace(gram) * np.eye(k), rhs)
            # rho given the means, in the noise's own metric
            now, before = y[1:, None, :] - means, y[:-1, None, :] - means  # (T - 1, k, d)
            p_before = before @ precision
            back = np.matmul(xi.transpose(0, 2, 1), p_before)  # (T - 1, j, d)
            rho = (back * now).sum() / max(
                float((out_of[..., None] * p_before * before).sum()), 1e-300
            )
            rho = float(np.clip(rho, -self.max_rho, self.max_rho))
            # the innovations' covariance
            flat_now, flat_before = now.reshape(-1, d), before.reshape(-1, d)
            cross = flat_now.T @ np.matmul(xi.transpose(0, 2, 1), before).reshape(-1, d)
            cov = (flat_now * into.reshape(-1, 1)).T @ flat_now - rho * (cross + cross.T)
            cov += rho**2 * (flat_before * out_of.reshape(-1, 1)).T @ flat_before
            first = y0[:, None, :] - means  # (runs, k, d)
            cov = (cov + np.einsum("rk,rkd,rke->de", g0, first, first)) / n + reg
        return loglik, (means, cov, gamma.sum(0), start, trans, rho)

    def _set_model(self, means, cov, weight, start, trans, rho) -> None:
        super()._set_model(means, cov, weight, start, trans)
        self.rho = np.asarray(rho)

    @staticmethod
    def _log_emissions(
        y: np.ndarray,
        means: np.ndarray,
        precision: np.ndarray,
        rho: float,
        breaks: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The first step's log-likelihoods ``(k,)`` and step ``t``'s given regimes ``i`` at
        ``t - 1`` and ``j`` at ``t``, ``(T - 1, k, k)`` (normalising constants left out); a
        step after a gap (``breaks``) is a first step again, the same for every ``i``."""
        root = np.linalg.cholesky(precision)  # whitened: precision = root root'
        w, m = y @ root, means @ root
        now, before = w[1:, None, :] - m, w[:-1, None, :] - m  # (T - 1, k, d)
        sq_now, sq_before = (now * now).sum(-1), (before * before).sum(-1)
        cross = np.matmul(before, now.transpose(0, 2, 1))  # (T - 1, i, j)
        log_pair = -0.5 * (sq_now[:, None, :] - 2 * rho * cross + rho**2 * sq_before[:, :, None])
        if breaks is not None and breaks.any():
            log_pair[breaks] = -0.5 * sq_now[breaks][:, None, :]
        return -0.5 * ((w[0] - m) ** 2).sum(-1), log_pair

    def predict(self, z: np.ndarray, breaks: np.ndarray | None = None) -> np.ndarray:
        y = (self._features(z, self.mean.shape[0]) - self.mean) @ self.basis
        b = self._breaks(breaks, len(y))
        log_first, log_pair = self._log_emissions(y, self.means, self.precision, float(self.rho), b)
        return _viterbi(log_first, log_pair, self.log_start, self.log_transition, b)


def _run_starts(breaks: np.ndarray) -> np.ndarray:
    """Indices of the first step of every run of consecutive steps: 0 and each after a gap."""
    return np.r_[0, np.flatnonzero(breaks) + 1]


def _forward_backward(
    log_b: np.ndarray, start: np.ndarray, trans: np.ndarray, breaks: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, float]:
    """Scaled forward-backward: state posteriors ``(T, k)``, pair posteriors summed over the
    steps that follow their predecessor ``(k, k)`` and the log-likelihood, from log emissions
    ``(T, k)``."""
    pairs = np.broadcast_to(log_b[1:, None, :], (len(log_b) - 1, *trans.shape))
    gamma, xi, loglik = _forward_backward_pairs(log_b[0], pairs, start, trans, breaks)
    return gamma, (xi if breaks is None else xi[~breaks]).sum(0), loglik


def _forward_backward_pairs(
    log_first: np.ndarray,
    log_pair: np.ndarray,
    start: np.ndarray,
    trans: np.ndarray,
    breaks: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Scaled forward-backward with emissions on the transitions: ``log_first`` ``(k,)`` is
    the first step's, ``log_pair[t - 1, i, j]`` step ``t``'s given regimes ``i`` then ``j``,
    ``(T - 1, k, k)``; at a gap (``breaks[t - 1]``) the regime of step ``t`` is drawn from
    ``start`` instead of the transitions. Returns the state posteriors ``(T, k)``, the pair
    posteriors ``(T - 1, k, k)`` and the log-likelihood."""
    n, k = len(log_pair) + 1, len(start)
    first_shift = log_first.max()
    shift = log_pair.reshape(n - 1, -1).max(1) if n > 1 else np.zeros(0)
    step = trans[None] * np.exp(log_pair - shift[:, None, None])  # (T - 1, from, to)
    if breaks is not None and breaks.any():
        step[breaks] = start * np.exp(log_pair[breaks] - shift[breaks, None, None])
    alpha, scale = np.empty((n, k)), np.empty(n)
    a = start * np.exp(log_first - first_shift)
    for t in range(n):
        if t:
            a = alpha[t - 1] @ step[t - 1]
        scale[t] = max(a.sum(), 1e-300)
        alpha[t] = a / scale[t]
    beta = np.ones((n, k))
    for t in range(n - 2, -1, -1):
        beta[t] = step[t] @ beta[t + 1] / scale[t + 1]
    gamma = alpha * beta
    gamma /= gamma.sum(1, keepdims=True)
    xi = alpha[:-1, :, None] * step * (beta[1:] / scale[1:, None])[:, None, :]
    return gamma, xi, float(np.log(scale).sum() + first_shift + shift.sum())


def _viterbi(
    log_first: np.ndarray,
    log_pair: np.ndarray,
    log_start: np.ndarray,
    log_trans: np.ndarray,
    breaks: np.ndarray | None = None,
) -> np.ndarray:
    """The likeliest regime sequence ``(T,)`` given emissions as in
    :func:`_forward_backward_pairs` (``log_pair`` may broadcast); after a gap (``breaks``)
    the regime is drawn from the start probabilities."""
    n = len(log_pair) + 1
    score = log_start + log_first
    back = np.empty((n, len(log_start)), dtype=np.int64)
    for t in range(1, n):
        move = log_start[None, :] if breaks is not None and breaks[t - 1] else log_trans
        step = score[:, None] + move + log_pair[t - 1]  # (from, to)
        back[t] = step.argmax(0)
        score = step.max(0)
    path = np.empty(n, dtype=np.int64)
    path[-1] = score.argmax()
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


#: ``cluster.method`` -> clusterer class: ``"kmeans"`` (the paper's), ``"gmm"`` (tied-covariance
#: Gaussian mixture), ``"hmm"`` (the mixture with persistent regimes) and ``"arhmm"`` (the
#: default: persistent regimes under red noise). Add an entry to register another.
CLUSTERERS: dict[str, type[Clusterer]] = {
    cls.name: cls
    for cls in (
        KMeansClusterer,
        TiedGaussianClusterer,
        HiddenMarkovClusterer,
        AutoregressiveHMMClusterer,
    )
}


def make_clusterer(
    method: str, k: int, seed: int = 0, n_init: int = 10, restarts: int = 1
) -> Clusterer:
    """The clusterer ``CLUSTERERS[method]`` with ``k``, ``seed``, ``n_init`` and, for those
    that search by EM from several starts (``hmm``, ``arhmm``: :attr:`Clusterer.restartable`),
    ``restarts`` whole searches with the likeliest model kept; the others have their own
    restarts (KMeans's ``n_init``, the mixture's ensemble) and ignore it."""
    cls = CLUSTERERS[method]
    if cls.restartable:
        return cls(k, seed, n_init, restarts=restarts)
    return cls(k, seed, n_init)


#: ``cluster.embedding`` -> the model output that is clustered: ``"refined"`` (after the
#: seasonal temporal attention, the paper's), ``"head"`` (the head's per-step embedding, before
#: it); ``"auto"`` picks by the clusterer, see :func:`embedding_output`.
EMBEDDINGS: dict[str, str] = {"refined": "embedding", "head": "head_embedding"}


def embedding_output(method: str, choice: str = "auto", time=None) -> str:
    """Which embedding ``method`` clusters: ``"refined"`` or ``"head"`` (``method="auto"`` is
    first resolved with the steps ``time``, :func:`resolve_method`).

    ``"auto"``: ``"head"`` for a clusterer that models the regimes' persistence
    (:attr:`Clusterer.sequential`: ``hmm``, ``arhmm``), ``"refined"`` otherwise. The temporal
    attention mixes the days of a window, across regime transitions; a clusterer with its
    own time model would count that context twice and read the smeared transitions as
    noise, while KMeans and the mixture, which see each day alone, gain from it. Measured on
    the planted settings of the README (FA + AR-HMM 0.86 → 0.90 on the built-in data, 0.60 → 0.70
    at noise 1.2; KMeans 0.78 → 0.71 on the head's embedding).
    """
    if choice == "auto":
        return "head" if CLUSTERERS[resolve_method(method, time)].sequential else "refined"
    if choice not in EMBEDDINGS:
        raise ConfigError(
            f"embedding must be 'auto' or one of {sorted(EMBEDDINGS)}, got {choice!r}"
        )
    return choice


#: steps further apart than this (days) are not the days of persistent regimes
PERSISTENT_STEP_DAYS = 31.0

#: what ``cluster.method: auto`` resolves to (:func:`resolve_method`): a persistence model for
#: steps at most :data:`PERSISTENT_STEP_DAYS` apart, KMeans for independent (seasonal) steps
AUTO_METHODS: dict[str, str] = {"persistent": "arhmm", "independent": "kmeans"}

#: every valid ``cluster.method``: ``"auto"`` and the keys of :data:`CLUSTERERS`
METHODS: tuple[str, ...] = ("auto", *CLUSTERERS)


def step_days(time) -> float | None:
    """The median spacing of ``time`` in days (numpy datetimes or cftime dates), or ``None``
    when it cannot be told (fewer than two steps, or no dates)."""
    from faconv.data.windows import step_seconds

    step = None if time is None else step_seconds(time)
    if step is None or step.size == 0:
        return None
    return float(np.median(step)) / 86400.0


def resolve_method(method: str, time=None) -> str:
    """The clusterer that ``cluster.method`` names, for data with steps ``time``.

    ``"auto"`` (the default) reads the time step: ``"arhmm"`` (regimes that persist from one
    step to the next, under red weather noise) when steps are at most a month apart, as
    daily or pentad data are (also when the spacing cannot be told), and ``"kmeans"`` when
    they are further apart: successive seasonal or annual means are not persistent regimes,
    and a persistence model then segments the record in time (measured on the real winter
    means of the README: ENSO composites |r| 0.89 with the AR-HMM against 0.99 with KMeans).
    Any other name is checked against :data:`CLUSTERERS` and returned."""
    from faconv.checks import check_choice

    check_choice(method, METHODS, "method", "cluster")
    if method != "auto":
        return method
    step = step_days(time)
    if step is not None and step > PERSISTENT_STEP_DAYS:
        return AUTO_METHODS["independent"]
    return AUTO_METHODS["persistent"]


def persistent_steps(time) -> bool:
    """Whether ``time``'s steps are close enough for regimes to persist from one to the next
    (where ``"auto"`` picks a persistence model, :func:`resolve_method`)."""
    return CLUSTERERS[resolve_method("auto", time)].sequential


def steps_alone_note(method: str, persistent: bool) -> str | None:
    """What a clusterer that sees each step alone (KMeans, the mixture) costs on ``persistent``
    data (steps at most a month apart, :func:`persistent_steps`), else ``None``."""
    if not persistent or CLUSTERERS[method].sequential:
        return None
    return (
        f"{CLUSTERERS[method].label} sees each step alone, but regimes persist from one step "
        "to the next on data this frequent: measured on generated regimes, learned embeddings "
        "clustered this way at best match EOF + KMeans, and the gain comes with a persistence "
        "model (cluster.method 'auto' or 'arhmm'; README, 'Regimes: evidence')."
    )


def persistence_warning(method: str, time) -> str | None:
    """A note when ``method`` models day-to-day persistence but ``time``'s steps are more than
    a month apart (seasonal or annual means), else ``None``. ``"auto"`` never warns: it
    picks KMeans there (:func:`resolve_method`).

    Successive winter means are not persistent regimes: a persistence model then segments
    the record in time (measured on the real seasonal means of the README: the AR-HMM's
    composites align worse with the leading EOF than the mixture's or KMeans's).
    """
    if method == "auto" or not CLUSTERERS[method].sequential:
        return None
    step = step_days(time)
    if step is None or step <= PERSISTENT_STEP_DAYS:
        return None
    return (
        f"cluster.method {method!r} models regimes that persist from one step to the next, "
        f"but these steps are {step:.0f} days apart (seasonal or annual means?); "
        "'auto', 'gmm' or 'kmeans' treat the steps as independent"
    )

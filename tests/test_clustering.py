"""The clusterers behind ``cluster.method``: references, assignment of new data, saved state."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture

from faconv.pipeline.clustering import CLUSTERERS, TiedGaussianClusterer
from faconv.pipeline.training.checkpoint import CheckpointError


def _regimes(seed: int, n: int = 600, d: int = 6, k: int = 4, spread: float = 4.0):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n)
    return rng.normal(size=(k, d))[truth] * spread + rng.normal(size=(n, d)), truth


def test_kmeans_is_sklearn_kmeans_and_gmm_is_the_tied_sklearn_mixture():
    z, _ = _regimes(0)
    km = KMeans(4, n_init=10, random_state=3).fit(z)
    np.testing.assert_array_equal(CLUSTERERS["kmeans"](4, 3, 10).fit_predict(z), km.labels_)
    # enough samples: the projection is a rotation and the mixture is sklearn's tied mixture
    gmm = GaussianMixture(4, covariance_type="tied", means_init=km.cluster_centers_, random_state=3)
    ours = CLUSTERERS["gmm"](4, 3, 10).fit(z)
    assert ours.basis.shape == (6, 6)
    ref = gmm.fit(z)
    assert adjusted_rand_score(ref.predict(z), ours.predict(z)) == 1.0
    np.testing.assert_allclose(np.sort(ours.centers, 0), np.sort(ref.means_, 0), atol=1e-6)


@pytest.mark.parametrize("method", sorted(CLUSTERERS))
def test_state_round_trip_and_per_sample_assignment(method):
    z, truth = _regimes(1)
    fitted = CLUSTERERS[method](4, 0, 4).fit(z)
    labels = fitted.predict(z)
    assert adjusted_rand_score(truth, labels) > 0.95
    back = CLUSTERERS[method].from_state(4, fitted.state_dict())
    np.testing.assert_array_equal(back.predict(z), labels)
    # each sample is assigned on its own: a subset gets the same labels, in any order
    idx = np.random.default_rng(0).permutation(len(z))[:50]
    np.testing.assert_array_equal(fitted.predict(z[idx]), labels[idx])
    assert back.centers.shape == (4, 6)
    with pytest.raises(CheckpointError, match="lacks"):
        CLUSTERERS[method].from_state(4, {})
    from faconv.errors import DataError

    with pytest.raises(DataError, match="fitted on 6-d features, got 5-d"):
        fitted.predict(z[:, :5])


def test_gmm_projects_few_samples_onto_their_leading_components():
    # 40 samples of 32-d features: a shared 32 x 32 covariance is not estimable; the mixture
    # works on the leading 40 // 8 = 5 components, where the regimes live
    z, truth = _regimes(2, n=40, d=32, k=2, spread=3.0)
    fitted = TiedGaussianClusterer(2, 0, 10).fit(z)
    assert fitted.basis.shape == (32, 5)
    assert adjusted_rand_score(truth, fitted.predict(z)) > 0.9


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_gmm_is_invariant_to_rotating_and_shifting_the_features(seed):
    # the tied mixture is affine-equivariant, and so is its KMeans start under rotations
    z, _ = _regimes(seed % 7, n=300)
    q = np.linalg.qr(np.random.default_rng(seed).normal(size=(6, 6)))[0]
    a = TiedGaussianClusterer(4, 0, 4).fit_predict(z)
    b = TiedGaussianClusterer(4, 0, 4).fit_predict(z @ q + 5.0)
    assert adjusted_rand_score(a, b) == 1.0


def test_bad_features_are_refused():
    from faconv.errors import DataError

    for method in CLUSTERERS:
        with pytest.raises(DataError, match="finite"):
            CLUSTERERS[method](2).fit(np.array([[0.0, np.nan], [1.0, 2.0], [3.0, 4.0]]))

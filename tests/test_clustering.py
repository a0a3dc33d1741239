"""The clusterers behind ``cluster.method``: references, assignment of new data, saved state."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture

from faconv.errors import ConfigError, DataError
from faconv.pipeline.clustering import (
    CLUSTERERS,
    METHODS,
    AutoregressiveHMMClusterer,
    HiddenMarkovClusterer,
    TiedGaussianClusterer,
    _forward_backward,
    _forward_backward_pairs,
    embedding_output,
    persistence_warning,
    persistent_steps,
    resolve_method,
    step_days,
    steps_alone_note,
)
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
    ref = gmm.fit(z)
    for ensemble in (1, 30):  # one start, or the consensus of 30 (one optimum here)
        ours = TiedGaussianClusterer(4, 3, 10, ensemble=ensemble).fit(z)
        assert ours.basis.shape == (6, 6)
        assert adjusted_rand_score(ref.predict(z), ours.predict(z)) == 1.0
        np.testing.assert_allclose(np.sort(ours.centers, 0), np.sort(ref.means_, 0), atol=1e-5)


def test_consensus_is_the_partition_most_runs_agree_on():
    # 9 runs: 6 give the true partition (regimes relabelled at random), 3 merge and split
    # regimes differently; the spectral consensus of their co-association is the truth
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 4, 200)
    runs = [rng.permutation(4)[truth] for _ in range(6)]
    runs += [np.where(truth == 0, 1, rng.integers(0, 4, 200)) for _ in range(3)]
    q = np.concatenate([np.eye(4)[r] for r in runs], 1)
    found = TiedGaussianClusterer(4, 0, 10)._consensus(q)
    assert adjusted_rand_score(truth, found) == 1.0


@pytest.mark.parametrize("method", sorted(CLUSTERERS))
def test_state_round_trip_and_per_sample_assignment(method):
    z, truth = _regimes(1)
    fitted = CLUSTERERS[method](4, 0, 4).fit(z)
    labels = fitted.predict(z)
    assert adjusted_rand_score(truth, labels) > 0.95
    back = CLUSTERERS[method].from_state(4, fitted.state_dict())
    np.testing.assert_array_equal(back.predict(z), labels)
    if not fitted.sequential:  # each sample is assigned on its own: any subset, any order
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
    a = TiedGaussianClusterer(4, 0, 4, ensemble=5).fit_predict(z)
    b = TiedGaussianClusterer(4, 0, 4, ensemble=5).fit_predict(z @ q + 5.0)
    assert adjusted_rand_score(a, b) == 1.0


def test_bad_features_are_refused():
    from faconv.errors import DataError

    for method in CLUSTERERS:
        with pytest.raises(DataError, match="finite"):
            CLUSTERERS[method](2).fit(np.array([[0.0, np.nan], [1.0, 2.0], [3.0, 4.0]]))


def _markov_regimes(seed: int, n: int = 800, stay: float = 0.93, spread: float = 0.9):
    """Persistent regimes (a Markov chain) whose means overlap under correlated noise."""
    rng = np.random.default_rng(seed)
    k, d = 4, 6
    truth = np.empty(n, dtype=np.int64)
    truth[0] = 0
    for t in range(1, n):
        truth[t] = truth[t - 1] if rng.random() < stay else rng.integers(0, k)
    mix = rng.normal(size=(d, d)) * 0.5
    z = rng.normal(size=(k, d))[truth] * spread + rng.normal(size=(n, d)) @ mix.T
    return z, truth


def test_forward_backward_and_viterbi_match_enumerating_every_sequence():
    rng = np.random.default_rng(0)
    n, k = 5, 3
    log_b = rng.normal(size=(n, k)) * 2.0
    start = rng.dirichlet(np.ones(k))
    trans = rng.dirichlet(np.ones(k), size=k)
    paths = np.array(list(itertools.product(range(k), repeat=n)))
    logp = np.log(start[paths[:, 0]]) + log_b[np.arange(n), paths].sum(1)
    logp += np.log(trans[paths[:, :-1], paths[:, 1:]]).sum(1)
    p = np.exp(logp - logp.max())
    gamma, pair, loglik = _forward_backward(log_b, start, trans)
    np.testing.assert_allclose(loglik, logp.max() + np.log(p.sum()), rtol=1e-10)
    p /= p.sum()
    want = np.stack([np.bincount(paths[:, t], weights=p, minlength=k) for t in range(n)])
    np.testing.assert_allclose(gamma, want, atol=1e-10)
    want_pair = np.zeros((k, k))
    for t in range(n - 1):
        np.add.at(want_pair, (paths[:, t], paths[:, t + 1]), p)
    np.testing.assert_allclose(pair, want_pair, atol=1e-10)
    # Viterbi: the single likeliest sequence, through a fitted model's state
    hmm = HiddenMarkovClusterer(k)
    hmm.mean, hmm.basis = np.zeros(1), np.ones((1, 1))
    hmm.means, hmm.precision = np.zeros((k, 1)), np.ones((1, 1))
    hmm.log_start, hmm.log_transition = np.log(start), np.log(trans)
    hmm._log_emission = lambda y, means, precision: log_b  # the emissions above
    np.testing.assert_array_equal(hmm.predict(np.zeros((n, 1))), paths[logp.argmax()])


def test_hmm_uses_persistence_where_the_mixture_cannot_separate_the_regimes():
    z, truth = _markov_regimes(2)
    mixture = adjusted_rand_score(truth, TiedGaussianClusterer(4, 0).fit_predict(z))
    hmm = HiddenMarkovClusterer(4, 0).fit(z)
    found = hmm.predict(z)
    assert adjusted_rand_score(truth, found) > 0.95 > mixture + 0.1
    # the fitted transitions are the chain's: staying probability 0.93 + 0.07 / 4
    stay = np.exp(np.diag(hmm.log_transition))
    np.testing.assert_allclose(stay, 0.93 + 0.07 / 4, atol=0.04)


def test_hmm_without_persistence_is_the_mixture():
    # independent days: the fitted transitions are the regime frequencies, every row alike,
    # and Viterbi decoding assigns as the mixture does
    z, _ = _regimes(4, n=600)
    hmm = HiddenMarkovClusterer(4, 0).fit(z)
    rows = np.exp(hmm.log_transition)  # ~150 transitions a row: sampling error ~0.035
    np.testing.assert_allclose(rows, np.exp(hmm.log_weights)[None].repeat(4, 0), atol=0.1)
    gmm = TiedGaussianClusterer(4, 0).fit_predict(z)
    assert adjusted_rand_score(gmm, hmm.predict(z)) > 0.98


def test_hmm_with_several_starts_keeps_the_likeliest_model():
    z, _ = _markov_regimes(0, n=400)
    fitted = HiddenMarkovClusterer(4, 0, ensemble=8, starts=3).fit(z)
    probe = HiddenMarkovClusterer(4, 0, ensemble=8)
    y = probe._prepare(z)
    fits = [probe._baum_welch(y, g) for g in probe._search(y)[:3]]
    best = max(fits, key=lambda f: f[0])[1]
    np.testing.assert_allclose(fitted.means, best[0])
    # one start is the consensus mixture's model
    single = HiddenMarkovClusterer(4, 0, ensemble=8).fit(z)
    np.testing.assert_allclose(single.means, fits[0][1][0])


@pytest.mark.parametrize("cls", [HiddenMarkovClusterer, AutoregressiveHMMClusterer])
def test_restarts_keep_the_likeliest_model_of_several_whole_searches(cls):
    z, _ = _markov_regimes(1, n=300)
    one = cls(4, 3, ensemble=6, starts=2).fit(z)
    three = cls(4, 3, ensemble=6, starts=2, restarts=3).fit(z)
    # the first search is the single one's, so the likelihood can only rise
    assert three.log_likelihood >= one.log_likelihood - 1e-9
    probe = cls(4, 3, ensemble=6, starts=2, restarts=3)
    seeds = probe._restart_seeds()
    assert seeds[0] == 3 and len(set(seeds)) == 3
    y = probe._prepare(z)
    fits = [probe._em_from(y, g) for s in seeds for g in probe._search(y, s)[:2]]
    best = max(fits, key=lambda f: f[0])
    np.testing.assert_allclose(three.log_likelihood, best[0])
    np.testing.assert_allclose(three.means, best[1][0])


def test_make_clusterer_passes_restarts_to_the_searches_that_take_them():
    """``cluster.restarts`` reaches the persistence models; KMeans (``n_init``) and the mixture
    (its ensemble) have restarts of their own and ignore it. The config key is checked."""
    from faconv.pipeline.clustering import CLUSTERERS, make_clusterer
    from faconv.pipeline.training import RunConfig

    for name, cls in CLUSTERERS.items():
        c = make_clusterer(name, 4, 2, 5, restarts=3)
        assert type(c) is cls and (c.k, c.seed, c.n_init) == (4, 2, 5)
        assert getattr(c, "restarts", 1) == (3 if name in ("hmm", "arhmm") else 1)
    z, _ = _markov_regimes(1, n=300)
    np.testing.assert_array_equal(
        make_clusterer("arhmm", 4, 3, restarts=2).fit_predict(z),
        AutoregressiveHMMClusterer(4, 3, restarts=2).fit_predict(z),
    )
    assert RunConfig.from_dict({"cluster": {"restarts": 3}}).cluster.restarts == 3
    with pytest.raises(ConfigError, match="restarts must be an integer >= 1"):
        RunConfig.from_dict({"cluster": {"restarts": 0}})


def _red_regimes(
    seed: int, n: int = 900, rho: float = 0.8, stay: float = 0.95, spread: float = 0.35
):
    """Persistent regimes under red (AR(1)) noise: runs of similar noise look like regimes."""
    rng = np.random.default_rng(seed)
    k, d = 4, 6
    truth = np.empty(n, dtype=np.int64)
    truth[0] = 0
    for t in range(1, n):
        truth[t] = truth[t - 1] if rng.random() < stay else rng.integers(0, k)
    mix = rng.normal(size=(d, d)) * 0.5
    noise = np.empty((n, d))
    noise[0] = rng.normal(size=d)
    for t in range(1, n):
        noise[t] = rho * noise[t - 1] + np.sqrt(1 - rho**2) * rng.normal(size=d)
    return rng.normal(size=(k, d))[truth] * spread + noise @ mix.T, truth


def test_autoregressive_hmm_likelihood_and_viterbi_match_enumerating_every_sequence():
    # the model's likelihood, from the Gaussian densities of every regime sequence by hand
    from scipy.stats import multivariate_normal

    rng = np.random.default_rng(1)
    n, k, d, rho = 5, 3, 2, 0.6
    y, means = rng.normal(size=(n, d)), rng.normal(size=(k, d))
    a = rng.normal(size=(d, d))
    cov = a @ a.T + np.eye(d)
    start, trans = rng.dirichlet(np.ones(k)), rng.dirichlet(np.ones(k), size=k)
    paths = np.array(list(itertools.product(range(k), repeat=n)))
    logp = np.empty(len(paths))
    for row, s in enumerate(paths):
        e = y - means[s]  # the noise along this path; its innovations are Gaussian
        logp[row] = np.log(start[s[0]]) + multivariate_normal.logpdf(e[0], cov=cov)
        for t in range(1, n):
            logp[row] += np.log(trans[s[t - 1], s[t]])
            logp[row] += multivariate_normal.logpdf(e[t] - rho * e[t - 1], cov=cov)
    log_first, log_pair = AutoregressiveHMMClusterer._log_emissions(
        y, means, np.linalg.inv(cov), rho
    )
    gamma, xi, loglik = _forward_backward_pairs(log_first, log_pair, start, trans)
    constant = -0.5 * n * (d * np.log(2 * np.pi) + np.linalg.slogdet(cov)[1])
    total = logp.max() + np.log(np.exp(logp - logp.max()).sum())
    np.testing.assert_allclose(loglik + constant, total, rtol=1e-10)
    p = np.exp(logp - total)
    want = np.stack([np.bincount(paths[:, t], weights=p, minlength=k) for t in range(n)])
    np.testing.assert_allclose(gamma, want, atol=1e-10)
    for t in range(n - 1):
        want_pair = np.zeros((k, k))
        np.add.at(want_pair, (paths[:, t], paths[:, t + 1]), p)
        np.testing.assert_allclose(xi[t], want_pair, atol=1e-10)
    # Viterbi through a fitted model's state
    model = AutoregressiveHMMClusterer(k)
    model.mean, model.basis = np.zeros(d), np.eye(d)
    model.means, model.precision, model.rho = means, np.linalg.inv(cov), np.asarray(rho)
    model.log_start, model.log_transition = np.log(start), np.log(trans)
    np.testing.assert_array_equal(model.predict(y), paths[logp.argmax()])


@pytest.mark.parametrize("rho", [0.0, 0.6])
def test_a_gap_in_time_restarts_the_chain_and_the_noise(rho):
    # by hand: after a gap the regime is drawn from the start probabilities and the noise
    # starts afresh (no AR term), as at the first step
    from scipy.stats import multivariate_normal

    rng = np.random.default_rng(2)
    n, k, d = 6, 3, 2
    breaks = np.array([False, False, True, False, False])  # step 3 does not follow step 2
    y, means = rng.normal(size=(n, d)), rng.normal(size=(k, d))
    a = rng.normal(size=(d, d))
    cov = a @ a.T + np.eye(d)
    start, trans = rng.dirichlet(np.ones(k)), rng.dirichlet(np.ones(k), size=k)
    paths = np.array(list(itertools.product(range(k), repeat=n)))
    logp = np.empty(len(paths))
    for row, s in enumerate(paths):
        e = y - means[s]
        logp[row] = np.log(start[s[0]]) + multivariate_normal.logpdf(e[0], cov=cov)
        for t in range(1, n):
            if breaks[t - 1]:
                logp[row] += np.log(start[s[t]]) + multivariate_normal.logpdf(e[t], cov=cov)
            else:
                logp[row] += np.log(trans[s[t - 1], s[t]])
                logp[row] += multivariate_normal.logpdf(e[t] - rho * e[t - 1], cov=cov)
    log_first, log_pair = AutoregressiveHMMClusterer._log_emissions(
        y, means, np.linalg.inv(cov), rho, breaks
    )
    gamma, _, loglik = _forward_backward_pairs(log_first, log_pair, start, trans, breaks)
    constant = -0.5 * n * (d * np.log(2 * np.pi) + np.linalg.slogdet(cov)[1])
    total = logp.max() + np.log(np.exp(logp - logp.max()).sum())
    np.testing.assert_allclose(loglik + constant, total, rtol=1e-10)
    p = np.exp(logp - total)
    want = np.stack([np.bincount(paths[:, t], weights=p, minlength=k) for t in range(n)])
    np.testing.assert_allclose(gamma, want, atol=1e-10)
    # the two runs are independent given the parameters: the likelihood is their sum
    lf2, lp2 = AutoregressiveHMMClusterer._log_emissions(y[3:], means, np.linalg.inv(cov), rho)
    parts = _forward_backward_pairs(log_first, log_pair[:2], start, trans)[2]
    np.testing.assert_allclose(loglik, parts + _forward_backward_pairs(lf2, lp2, start, trans)[2])
    model = AutoregressiveHMMClusterer(k)
    model.mean, model.basis = np.zeros(d), np.eye(d)
    model.means, model.precision, model.rho = means, np.linalg.inv(cov), np.asarray(rho)
    model.log_start, model.log_transition = np.log(start), np.log(trans)
    np.testing.assert_array_equal(model.predict(y, breaks), paths[logp.argmax()])
    with pytest.raises(DataError, match=r"breaks must have shape \(5,\)"):
        model.predict(y, breaks[:3])


@pytest.mark.parametrize("method", ["hmm", "arhmm"])
def test_fits_with_gaps(method):
    z, truth = _red_regimes(0)
    fit = {"ensemble": 8, **({"starts": 2} if method == "arhmm" else {})}
    plain = CLUSTERERS[method](4, 0, **fit).fit(z)
    none = CLUSTERERS[method](4, 0, **fit).fit(z, np.zeros(len(z) - 1, dtype=bool))
    for key in plain.state_keys:  # no gap is the same as no breaks
        np.testing.assert_array_equal(getattr(plain, key), getattr(none, key))
    # many gaps (runs of 25 steps, as if a season a year): the regimes are found as well as
    # without them, and EM with the gaps never lowers the likelihood it starts from
    breaks = (np.arange(1, len(z)) % 25) == 0
    model = CLUSTERERS[method](4, 0, **fit).fit(z, breaks)
    found = adjusted_rand_score(truth, model.predict(z, breaks))
    assert found > adjusted_rand_score(truth, plain.predict(z)) - 0.1
    y = model._prepare(z)
    mixture = model._search(y)[0]
    assert model._em_from(y, mixture, breaks)[0] >= model._baum_welch(y, mixture, breaks)[0] - 1e-6


def test_autoregressive_hmm_finds_red_noise_regimes_and_its_memory():
    z, truth = _red_regimes(0)
    hmm = adjusted_rand_score(truth, HiddenMarkovClusterer(4, 0, ensemble=8).fit_predict(z))
    model = AutoregressiveHMMClusterer(4, 0, ensemble=8, starts=2).fit(z)
    found = adjusted_rand_score(truth, model.predict(z))
    assert found > 0.7 and found > hmm + 0.15, (found, hmm)  # 0.74 and 0.54 when written
    assert abs(float(model.rho) - 0.8) < 0.05
    # EM from the HMM (rho = 0, where the two models agree) never lowers the likelihood
    y = model._prepare(z)
    mixture = model._search(y)[0]
    assert model._em_from(y, mixture)[0] >= model._baum_welch(y, mixture)[0]


def test_autoregressive_hmm_on_white_noise_is_the_hmm():
    z, _ = _markov_regimes(2)
    model = AutoregressiveHMMClusterer(4, 0, ensemble=8, starts=2).fit(z)
    assert abs(float(model.rho)) < 0.08
    hmm = HiddenMarkovClusterer(4, 0, ensemble=8).fit_predict(z)
    assert adjusted_rand_score(hmm, model.predict(z)) > 0.98


def test_the_clusterers_that_model_time_read_the_head_embedding():
    for name, cls in CLUSTERERS.items():
        assert embedding_output(name) == ("head" if cls.sequential else "refined"), name
        assert embedding_output(name, "refined") == "refined"
        assert embedding_output(name, "head") == "head"
    assert CLUSTERERS["arhmm"].sequential and not CLUSTERERS["kmeans"].sequential
    with pytest.raises(ConfigError, match=r"one of \['head', 'refined'\]"):
        embedding_output("arhmm", "both")


def test_persistence_models_warn_on_steps_months_apart():
    import cftime
    import pandas as pd

    days = pd.date_range("2021-01-01", periods=40, freq="D").values
    winters = pd.date_range("1950-01-15", periods=40, freq="365D").values
    assert persistence_warning("arhmm", days) is None
    assert persistence_warning("kmeans", winters) is None  # no persistence assumed
    note = persistence_warning("hmm", winters)
    assert "365 days apart" in note and "'gmm' or 'kmeans'" in note
    noleap = [cftime.DatetimeNoLeap(1950 + i, 1, 15) for i in range(5)]
    assert "365 days apart" in persistence_warning("arhmm", np.array(noleap))
    assert persistence_warning("arhmm", days[:1]) is None
    assert persistence_warning("auto", winters) is None  # auto picks KMeans there
    # the other way round: a clusterer that sees each day alone, on daily data
    assert persistent_steps(days) and not persistent_steps(winters)
    assert "KMeans sees each step alone" in steps_alone_note("kmeans", persistent_steps(days))
    assert steps_alone_note("gmm", True) is not None
    assert steps_alone_note("kmeans", persistent_steps(winters)) is None
    assert steps_alone_note("arhmm", True) is None


def test_auto_picks_the_clusterer_from_the_time_step():
    import cftime
    import pandas as pd

    days = pd.date_range("2021-01-01", periods=40, freq="D").values
    pentads = pd.date_range("2021-01-01", periods=40, freq="5D").values
    monthly = pd.date_range("2021-01-01", periods=40, freq="MS").values
    winters = pd.date_range("1950-01-15", periods=40, freq="365D").values
    noleap = np.array([cftime.DatetimeNoLeap(1950 + i, 1, 15) for i in range(5)])
    assert step_days(days) == 1.0 and step_days(noleap) == 365.0
    assert step_days(days[:1]) is None and step_days(np.arange(5)) is None
    for time, expected in [(days, "arhmm"), (pentads, "arhmm"), (monthly, "arhmm"),
                           (winters, "kmeans"), (noleap, "kmeans"), (None, "arhmm")]:  # fmt: skip
        assert resolve_method("auto", time) == expected
    for name in CLUSTERERS:  # an explicit choice is kept whatever the step
        assert resolve_method(name, winters) == name
    # the embedding follows the resolved clusterer
    assert embedding_output("auto", "auto", days) == "head"
    assert embedding_output("auto", "auto", winters) == "refined"
    assert METHODS[0] == "auto" and set(METHODS[1:]) == set(CLUSTERERS)
    with pytest.raises(ConfigError, match="valid values: 'auto', 'kmeans'"):
        resolve_method("dbscan", days)

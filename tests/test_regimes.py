"""Regime diagnostics, the classical baselines and the oracle, and the regression guard of the
main job: learned embeddings beat EOF + KMeans on a small planted set."""

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr
from sklearn.metrics import adjusted_rand_score

from faconv.pipeline.clustering import CLUSTERERS
from faconv.pipeline.evaluation import (
    ARI,
    EXPLAINED_VARIANCE,
    baselines,
    cluster_and_score,
    embed,
    embed_outputs,
)
from faconv.pipeline.regimes import composites, provenance, regime_statistics
from faconv.pipeline.results import RunResult, format_table, summarize, verdict
from faconv.pipeline.training import DataConfig, RunConfig, TrainConfig, prepare_data, train_model
from tests.runs import SMALL_MODEL


def test_statistics_of_a_hand_made_sequence():
    labels = np.array([0, 0, 0, 1, 1, 0, 0, 2, 2, 2, 2, 2])
    time = pd.date_range("2021-01-30", periods=12)  # 30 Jan .. 10 Feb
    s = regime_statistics(labels, time, 3)
    np.testing.assert_allclose(s["frequency"], [5 / 12, 2 / 12, 5 / 12])
    np.testing.assert_allclose(s["persistence_days"], [2.5, 2.0, 5.0])  # runs 3+2, 2, 5
    np.testing.assert_allclose(s["transitions"][0], [3 / 5, 1 / 5, 1 / 5])  # 0->0 x3, 0->1, 0->2
    np.testing.assert_allclose(s["transitions"][1], [1 / 2, 1 / 2, 0.0])
    assert s["frequency_by_month"][0, 0] == 1.0  # 30, 31 Jan: regime 0
    assert np.isnan(s["frequency_by_month"][0, 5])  # no June in the sequence
    np.testing.assert_allclose(s["frequency_by_season"][:, 0], s["frequency"])  # all DJF
    # a gap in time ends a run and is not a transition
    gap = pd.DatetimeIndex([*time[:6], *(time[6:] + pd.Timedelta(days=30))])
    s2 = regime_statistics(labels, gap, 3)
    np.testing.assert_allclose(s2["persistence_days"][0], 5 / 3)  # runs 3, 1, 1
    assert s2["transitions"][0].sum() == pytest.approx(1.0)


def test_composites_and_provenance():
    fields = np.arange(24, dtype=float).reshape(6, 2, 2)[..., None]
    comp = composites(fields, np.array([0, 0, 1, 1, 1, 0]), 3)
    assert comp.shape == (3, 2, 2, 1) and np.isnan(comp[2]).all()
    np.testing.assert_allclose(comp[0, 0, 0, 0], (0 + 4 + 20) / 3)
    attrs = provenance({"a": 1}, "somewhere")
    assert attrs["faconv_config"] == '{"a": 1}' and attrs["source"] == "somewhere"
    assert "faconv_version" in attrs and attrs["date_created"].endswith("+00:00")
    assert attrs["faconv_cpu_kernels"] in ("native", "eager") and attrs["torch_version"]


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    gen = {"days": 240, "height": 12, "width": 16, "regimes": 4, "noise": 1.0, "seed": 0}
    return prepare_data(DataConfig(generated=gen), tmp_path_factory.mktemp("planted"))


def test_oracle_and_classical_baselines(planted):
    found = baselines(planted, 4)
    assert set(found) == {"EOF (10) + KMeans", "raw KMeans", "oracle"}
    for labels, scores in found.values():
        assert labels.shape == (240,) and 0 < scores[EXPLAINED_VARIANCE] < 1
    # the oracle knows the patterns: it beats the unsupervised methods on noisy data
    oracle = found["oracle"][1][ARI]
    assert oracle > found["EOF (10) + KMeans"][1][ARI] and oracle > found["raw KMeans"][1][ARI]


def test_the_oracle_is_near_perfect_without_weather_noise(tmp_path):
    gen = {"days": 60, "height": 8, "width": 8, "regimes": 3, "noise": 0.0}
    clean = prepare_data(DataConfig(generated=gen), tmp_path)
    # not 1: the travelling wave, point noise and weak-amplitude days remain
    assert baselines(clean, 3)["oracle"][1][ARI] > 0.75


def test_learned_embeddings_beat_eof_kmeans_on_a_small_planted_set(planted, tmp_path):
    # the regression guard of the main job (deterministic on CPU; about 20 s)
    model = {"encoder": [{"type": "fa_convlstm", "hidden_channels": 16}]}
    cfg = TrainConfig(epochs=30, batch_size=8, window=8, stride=8, seed=0)
    trained = train_model(model, planted, cfg, tmp_path, progress=False)
    emb = embed(trained["model"], planted, 8)
    _, learned = cluster_and_score(emb, 4, 0, 10, planted.labels)
    eof = baselines(planted, 4)["EOF (10) + KMeans"][1]
    assert learned[ARI] > eof[ARI] + 0.02, (learned[ARI], eof[ARI])
    # the default clusterer (the AR-HMM, on the head's per-step embedding): well above the EOF
    # features given the same clusterer (0.87 / 0.50 when written; EOF + KMeans 0.51)
    default = RunConfig.from_dict({}).cluster.resolved(planted.time)  # auto: daily -> arhmm
    assert default.method == "arhmm"
    head = embed(trained["model"], planted, 8, output=default.embedding_output())
    default = default.method
    _, learned = cluster_and_score(head, 4, 0, 10, planted.labels, method=default)
    same = baselines(planted, 4, method=default)
    eof_same = same[f"EOF (10) + {CLUSTERERS[default].label}"][1]
    assert learned[ARI] > eof_same[ARI] + 0.05, (learned[ARI], eof_same[ARI])


def test_results_table_and_verdict():
    def run(method, ari, seed):
        return RunResult(method, seed, np.zeros(3), {ARI: ari, EXPLAINED_VARIANCE: 0.3})

    runs = {
        "FAConvLSTM": [run("FAConvLSTM", 0.8, 0), run("FAConvLSTM", 0.7, 1)],
        "ConvLSTM": [run("ConvLSTM", 0.6, 0), run("ConvLSTM", 0.6, 1)],
        "EOF (10) + KMeans": [run("EOF", 0.6, 0), run("EOF", 0.6, 1)],
        "oracle": [run("oracle", 0.8, 0), run("oracle", 0.8, 1)],
    }
    summary = summarize(runs)
    assert summary["FAConvLSTM"][ARI] == {"mean": 0.75, "std": pytest.approx(0.05)}
    lines = verdict(summary)
    assert lines[0].startswith("BEATS the classical method") and "+0.150" in lines[0]
    assert any("Reaches 90% of the oracle" in line for line in lines)
    assert any("FAConvLSTM >= ConvLSTM" in line for line in lines)
    table = format_table(summary, 2)
    assert "| FAConvLSTM | 0.750±0.050 |" in table and "| oracle |" in table
    worse = summarize({**runs, "FAConvLSTM": [run("FAConvLSTM", 0.62, 0)]})
    assert verdict(worse)[0].startswith("DOES NOT BEAT")
    # both near ARI 1: +0.05 cannot be reached, and a perfect score is not called a failure
    easy = {**runs, "EOF (10) + KMeans": [run("EOF", 0.969, 0)]}
    line = verdict(summarize({**easy, "FAConvLSTM": [run("FAConvLSTM", 1.0, 0)]}))[0]
    assert line.startswith("MATCHES AT THE CEILING") and "does not separate" in line
    below = summarize({**easy, "FAConvLSTM": [run("FAConvLSTM", 0.96, 0)]})
    assert verdict(below)[0].startswith("DOES NOT BEAT")

    # without planted regimes: explained variance, which KMeans maximises, gives no verdict
    # when lower, and says so when at or above
    def unlabelled(ev_learned, ev_eof):
        return summarize(
            {
                "FAConvLSTM": [RunResult("FAConvLSTM", 0, np.zeros(3), {EXPLAINED_VARIANCE: ev_learned})],
                "EOF (10) + KMeans": [RunResult("EOF", 0, np.zeros(3), {EXPLAINED_VARIANCE: ev_eof})],
            }
        )  # fmt: skip

    (low,) = verdict(unlabelled(0.13, 0.30))
    assert low.startswith("No planted regimes to score against, so no verdict")
    assert "0.130 vs EOF (10) + KMeans 0.300 (-0.170)" in low and "BEAT" not in low
    (high,) = verdict(unlabelled(0.31, 0.30))
    assert "at or above the classical method on its own objective" in high

    # a clusterer that sees each day alone on daily data: the verdict says what that costs
    def cost_line(method, persistent):
        return [
            ln
            for ln in verdict(summary, method=method, persistent=persistent)
            if "sees each step alone" in ln
        ]

    assert cost_line("kmeans", True) and "'auto' or 'arhmm'" in cost_line("kmeans", True)[0]
    assert not cost_line("kmeans", False)  # seasonal means: KMeans is the right choice
    assert not cost_line("arhmm", True)


def test_regimes_netcdf_has_coordinates_and_cf_attributes(planted, tmp_path):
    from faconv.pipeline.regimes import regime_dataset, write_netcdf

    labels = np.arange(240) % 4
    ds = regime_dataset(planted, labels, 4, "test")
    path = write_netcdf(ds, tmp_path / "r.nc", **provenance({"k": 4}, planted.source))
    with xr.open_dataset(path) as back:
        assert back["t2m_composite"].dims == ("regime", "latitude", "longitude")
        assert back["t2m_composite"].attrs["units"] == "K"
        assert back["latitude"].attrs["units"] == "degrees_north"
        assert back["persistence"].attrs["units"] == "days"
        assert back["regime_label"].dims == ("time",) and "faconv_version" in back.attrs
        assert back["frequency_by_month"].shape == (4, 12)
        assert back["explained_variance"].dims == ("variable",)
        assert list(back["variable"].values) == planted.variables


def test_explained_variance_by_variable_and_the_note_on_a_dominant_variable():
    from faconv.pipeline.regimes import explained_variance_by_variable, variable_notes

    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 50)
    pattern = rng.standard_normal((4, 3, 5))
    a = pattern[labels] + 0.5 * rng.standard_normal((200, 3, 5))  # organised by the regimes
    b = rng.standard_normal((200, 3, 5))  # not
    fields, w = np.stack([a, b], -1), rng.uniform(0.5, 1.5, (3, 5))
    share = explained_variance_by_variable(fields, labels, w)
    # by hand: between-regime over total area-weighted variance, per variable
    for c in range(2):
        x = fields[..., c] - fields[..., c].mean(0)
        comp = np.stack([x[labels == r].mean(0) for r in range(4)])[labels]
        np.testing.assert_allclose(share[c], (w * comp**2).sum() / (w * x**2).sum())
    assert share[0] > 0.7 and share[1] < 0.05
    # one regime explains nothing; one cluster per step explains everything
    np.testing.assert_allclose(explained_variance_by_variable(fields, np.zeros(200), w), 0.0)
    np.testing.assert_allclose(explained_variance_by_variable(fields, np.arange(200), w), 1.0)
    # masked values are left out: the same share as the valid values alone
    mask = np.ones_like(fields, dtype=bool)
    mask[:, 0, 0, 1] = False
    masked = np.where(mask, fields, 1e6)
    sub_masked = explained_variance_by_variable(masked, labels, w, mask)[1]
    full_rest = explained_variance_by_variable(
        np.where(mask, fields, 0.0)[..., 1:], labels, w * mask[0, ..., 1]
    )
    np.testing.assert_allclose(sub_masked, full_rest[0])
    # the note names a variable that dominates the clusters, and stays silent otherwise
    notes = variable_notes(["msl", "sst", "t2m"], np.array([0.10, 0.55, 0.07]))
    assert len(notes) == 1 and "organised mostly by sst (55%" in notes[0]
    assert variable_notes(["msl", "sst", "t2m"], np.array([0.44, 0.22, 0.20])) == []
    assert variable_notes(["msl"], np.array([0.3])) == []
    # with decorrelation times: a slow dominant variable gets the advice to leave it out, a
    # weather-fast one is named as the regimes' carrier
    share = np.array([0.10, 0.55, 0.07])
    slow = variable_notes(["msl", "sst", "t2m"], share, np.array([2.0, 27.0, 3.0]))
    assert len(slow) == 1 and "decorrelate in 27.0 steps against a median of 2.5" in slow[0]
    assert 'train.variable_weights {"sst": 0}' in slow[0]
    fast = variable_notes(["msl", "sst", "t2m"], share, np.array([2.0, 2.5, 3.0]))
    assert len(fast) == 1 and "less than 5x slower" in fast[0]
    assert "carries the regimes here" in fast[0]
    assert 'alone in the loss (train.variable_weights {"msl": 0, "t2m": 0}' in fast[0]
    assert "(--variables sst)" in fast[0]
    (fast_out,) = variable_notes(["msl", "sst", "t2m"], share, np.array([2.0, 2.5, 3.0]), ["t2m"])
    assert 'variable_weights {"msl": 0}:' in fast_out  # t2m is out of the loss already
    (alone,) = variable_notes(["msl", "sst"], np.array([0.1, 0.55]), np.array([2.0, 2.5]), ["msl"])
    assert alone.endswith("carries the regimes here")  # nothing else left in the loss
    drift = variable_notes(["msl", "sst", "t2m"], share, np.array([2.0, np.inf, 3.0]))
    assert (
        "never decorrelate against a median of 2.5" in drift[0]
    )  # a pure drift never decorrelates
    (kept_in,) = variable_notes(["msl", "sst", "t2m"], share, np.array([2.0, 27.0, 3.0]), ["sst"])
    assert "out of the loss already" in kept_in and "(--variables)" in kept_in
    assert "variable_weights {" not in kept_in  # already done: only the inputs are left
    unknown = variable_notes(["msl", "sst", "t2m"], share, np.array([np.nan, np.nan, np.nan]))
    assert unknown == variable_notes(["msl", "sst", "t2m"], share)  # asks the user to look


def test_tied_gmm_recovers_regimes_under_shared_anisotropic_noise_where_kmeans_does_not():
    # five regime means in 10-d under one correlated, anisotropic noise shared by all regimes
    # (the regime model): KMeans' isotropic distance cuts along the noise, the tied-covariance
    # mixture (the noise's own metric) recovers the regimes
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 5, 1000)
    means = rng.normal(size=(5, 10)) * 1.5
    mix = rng.normal(size=(10, 10)) @ np.diag(np.linspace(0.3, 2.5, 10))
    z = means[truth] + rng.normal(size=(1000, 10)) @ mix.T * 0.6
    km, _ = cluster_and_score(z, 5, seed=0, planted=truth)
    _, scores = cluster_and_score(z, 5, seed=0, planted=truth, method="gmm")
    assert adjusted_rand_score(truth, km) < 0.2 and scores[ARI] > 0.95


def test_cluster_method_is_validated_and_adds_the_same_clusterer_baseline(planted):
    from faconv.errors import ConfigError
    from faconv.pipeline.training import RunConfig

    with pytest.raises(ConfigError, match="valid values: 'auto', 'kmeans', 'gmm', 'hmm', 'arhmm'"):
        RunConfig.from_dict({"cluster": {"method": "dbscan"}})
    assert RunConfig.from_dict({"cluster": {"method": "gmm"}}).cluster.method == "gmm"
    found = baselines(planted, k=3, n_eofs=4, method="gmm")
    assert set(found) == {"EOF (4) + KMeans", "EOF (4) + GMM", "raw KMeans", "oracle"}
    assert set(baselines(planted, k=3, n_eofs=4)) == {"EOF (4) + KMeans", "raw KMeans", "oracle"}
    from faconv.pipeline.estimator import RegimeEstimator

    assert RegimeEstimator.from_config({"cluster": {"method": "kmeans"}}).method == "kmeans"
    assert RunConfig.from_dict({}).cluster.method == "auto"  # the default
    assert set(baselines(planted, k=3, n_eofs=4, method="auto")) == set(found) - {
        "EOF (4) + GMM"
    } | {"EOF (4) + AR-HMM"}  # auto: daily steps, the AR-HMM
    with pytest.raises(ConfigError, match="cluster_and_score: invalid method='auto'"):
        cluster_and_score(np.zeros((9, 2)), 2, method="auto")  # callers resolve auto


def test_embedding_windows_stay_within_runs_of_consecutive_days(planted):
    # two gaps in time (after steps 49 and 51): the windows stop at them, and the two-day
    # run between them is embedded as one window of two days
    from dataclasses import replace

    from faconv.data.store import window_batches
    from faconv.registry import build

    torch.manual_seed(0)
    model = build(
        {"type": "representation", "in_channels": planted.in_channels, **SMALL_MODEL}, kind="model"
    ).eval()
    time = planted.time.copy()
    time[50:] += np.timedelta64(30, "D")
    time[52:] += np.timedelta64(30, "D")
    gappy = replace(planted, time=time)
    got = embed(model, gappy, 4)

    def window(start, n):
        with torch.no_grad():
            ((x, _, _, doy),) = list(window_batches(planted, [[start]], n))
            return model(x, planted.domain, doy)["embedding"][0].double().numpy()

    np.testing.assert_allclose(got[48:50], window(46, 4)[2:], rtol=1e-5, atol=1e-6)  # ends at 50
    np.testing.assert_allclose(got[50:52], window(50, 2), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[52:56], window(52, 4), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(got[:44], embed(model, planted, 4)[:44])  # before: unchanged


def test_embed_averages_every_window_that_contains_a_step(planted):
    from faconv.data.store import window_batches
    from faconv.errors import ConfigError
    from faconv.registry import build

    torch.manual_seed(0)
    model = build(
        {"type": "representation", "in_channels": planted.in_channels, **SMALL_MODEL}, kind="model"
    ).eval()
    part, w = planted, 4
    T = part.num_steps
    # by hand: every window of w steps, each step the mean of the windows that hold it
    total, count = np.zeros((T, model.embedding_dim)), np.zeros((T, 1))
    with torch.no_grad():
        for s in range(T - w + 1):
            ((x, _, _, doy),) = list(window_batches(part, [[s]], w))
            total[s : s + w] += model(x, part.domain, doy)["embedding"][0].double().numpy()
            count[s : s + w] += 1
    np.testing.assert_allclose(embed(model, part, w, stride=1), total / count, rtol=1e-5, atol=1e-6)
    # the default, stride = window: disjoint windows (each step embedded once)
    disjoint = embed(model, part, w)
    np.testing.assert_array_equal(disjoint, embed(model, part, w, stride=w))
    with torch.no_grad():
        ((x, _, _, doy),) = list(window_batches(part, [[0]], w))
        first = model(x, part.domain, doy)["embedding"][0].double().numpy()
    np.testing.assert_allclose(disjoint[:w], first, rtol=1e-5, atol=1e-6)
    # the head's embedding, in the same pass: the model's head_embedding output, averaged alike
    both = embed_outputs(model, part, w, stride=2)
    np.testing.assert_array_equal(both["embedding"], embed(model, part, w, stride=2))
    head = embed(model, part, w, output="head_embedding")
    with torch.no_grad():
        z0 = model(x, part.domain, doy)["head_embedding"][0].double().numpy()
    np.testing.assert_allclose(head[:w], z0, rtol=1e-5, atol=1e-6)
    assert np.abs(head - disjoint).max() > 1e-3
    with pytest.raises(ConfigError, match="invalid output='hidden'"):
        embed(model, part, w, output="hidden")
    with pytest.raises(ConfigError, match="stride 5 is longer than the window"):
        embed(model, part, w, stride=5)
    with pytest.raises(ConfigError, match="embed_stride 9 is longer than train.window"):
        RunConfig.from_dict({"train": {"window": 8}, "cluster": {"embed_stride": 9}})


def test_compare_verdict_notes_a_variable_that_organises_the_clusters(tmp_path):
    """A slow drift of its own in one variable (F's sst) can organise the clusters; compare's
    verdict then says so, on the anomalies the models saw."""
    from faconv.pipeline.commands import _verdict_notes

    rng = np.random.default_rng(0)
    t = pd.date_range("2001-01-01", periods=120, freq="D")
    drift = np.cumsum(rng.standard_normal(120))
    shape = (120, 4, 6)
    ds = xr.Dataset(
        {
            "msl": (("time", "latitude", "longitude"), rng.standard_normal(shape)),
            "sst": (("time", "latitude", "longitude"), drift[:, None, None] + 0.1 * rng.standard_normal(shape)),
        },
        coords={"time": t, "latitude": [60.0, 55.0, 50.0, 45.0], "longitude": np.arange(6.0) * 5},
    )  # fmt: skip
    data = prepare_data(DataConfig(climatology_harmonics=0), tmp_path, dataset=ds)
    by_drift = (data.target.numpy()[..., 1].mean((1, 2)) > 0).astype(int)
    (note,) = _verdict_notes(data, by_drift)
    assert (
        note.startswith("Note: the clusters are organised mostly by sst") and "first seed" in note
    )
    assert "persistent variability of its own" in note  # measured slow: the advice to leave it out
    assert 'train.variable_weights {"sst": 0}' in note
    assert _verdict_notes(data, rng.integers(0, 2, 120)) == []
    # white-noise msl organising the clusters is named as the weather variable, with the
    # advice to compare a run trained on it alone
    by_msl = (data.target.numpy()[..., 0].mean((1, 2)) > 0).astype(int)
    (note,) = _verdict_notes(data, by_msl)
    assert "organised mostly by msl" in note and "so msl is the variable that carries" in note
    assert 'msl alone in the loss (train.variable_weights {"sst": 0}: all stay inputs)' in note
    assert note.endswith("(--variables msl) (FAConvLSTM, first seed).")


def test_calendar_recurrence_tells_regimes_from_clusters_that_follow_the_calendar():
    """The issue's failure (clusters that are blocks of weeks repeating every year) scores ~1
    and is noted; planted Markov regimes score near 0 (at most 0.28 over 48 generated sets);
    one year cannot tell and gives None; a model calendar (noleap cftime) works alike."""
    from faconv.data import era5_like
    from faconv.pipeline.regimes import CALENDAR_LIMIT, calendar_notes, calendar_recurrence

    ds = era5_like(days=1095, height=4, width=5, seed=4)
    time = ds["time"].values
    weeks = (pd.DatetimeIndex(time).day_of_year.to_numpy() // 52) % 7
    calendar = calendar_recurrence(weeks, time)
    assert calendar > 0.95
    (note,) = calendar_notes(calendar)
    assert note.startswith("the clusters recur on the same calendar dates every year")
    planted = calendar_recurrence(ds["regime"].values, time)
    assert abs(planted) < CALENDAR_LIMIT / 2 and calendar_notes(planted) == []
    shuffled = np.random.default_rng(0).permutation(weeks)
    assert abs(calendar_recurrence(shuffled, time)) < 0.05
    assert calendar_recurrence(weeks[:365], time[:365]) is None and calendar_notes(None) == []
    assert regime_statistics(weeks, time, 7)["calendar_recurrence"] == pytest.approx(calendar)
    cftime = pytest.importorskip("cftime")
    noleap = np.array(
        [cftime.DatetimeNoLeap(2001, 1, 1) + pd.Timedelta(days=i) for i in range(730)]
    )
    blocks = (np.arange(730) % 365) // 60
    assert calendar_recurrence(blocks, noleap) == pytest.approx(1.0)


def test_compare_verdict_gives_the_calendar_check_with_two_years(tmp_path):
    """With two years the verdict reports how much the clusters recur on the same dates (and
    the planted regimes' figure); clusters that are the calendar get the note."""
    from faconv.pipeline.commands import _verdict_notes

    cfg = DataConfig(generated={"days": 730, "height": 6, "width": 8, "seed": 2})
    data = prepare_data(cfg, tmp_path)
    weeks = (pd.DatetimeIndex(data.time).day_of_year.to_numpy() // 52) % 7
    first, note = _verdict_notes(data, weeks)[:2]
    assert first.startswith("Calendar check: FAConvLSTM's clusters (first seed) recur")
    assert "ARI of 1.00 between years; the planted regimes" in first
    assert note.startswith("Note: the clusters recur on the same calendar dates every year")
    lines = _verdict_notes(data, data.labels)
    assert lines[0].startswith("Calendar check") and not any("calendar dates" in x for x in lines)


def test_regime_calendar_figure(tmp_path):
    """One row per year, written from two years on (numpy or cftime dates), nothing for one."""
    from faconv.pipeline.plots import plot_regime_calendar

    t = pd.date_range("2001-01-01", periods=800, freq="D").to_numpy()
    labels = np.random.default_rng(0).integers(0, 4, 800)
    png = plot_regime_calendar(t, labels, tmp_path / "c.png", planted=labels[::-1]).read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    assert plot_regime_calendar(t[:365], labels[:365], tmp_path / "one.png") is None
    assert not (tmp_path / "one.png").exists()
    cftime = pytest.importorskip("cftime")
    days = np.array([cftime.Datetime360Day(2001, 1, 1) + pd.Timedelta(days=i) for i in range(720)])
    assert plot_regime_calendar(days, labels[:720], tmp_path / "360.png").exists()


def test_cluster_notes_know_what_training_left_out_of_the_loss(planted):
    import json

    import xarray as xr

    from faconv.pipeline.commands import _out_of_loss

    variables = list(planted.variables)
    trained = RunConfig(train=TrainConfig(variable_weights={variables[0]: 0.0}))
    given = RunConfig()  # the config handed to `cluster --maps`: equal weights
    ds = xr.Dataset(attrs={"faconv_config": json.dumps(trained.to_dict())})
    assert _out_of_loss(ds, planted, given) == [variables[0]]  # the embeddings' own config
    assert _out_of_loss(xr.Dataset(), planted, trained) == [variables[0]]  # else the given one
    garbled = xr.Dataset(attrs={"faconv_config": "{not json"})
    assert _out_of_loss(garbled, planted, given) == []

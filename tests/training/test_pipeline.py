"""Training, checkpoints, resume, evaluation and the pipeline commands."""

import json
import os
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr

from faconv import ConfigError, DataError
from faconv.pipeline.cli import main
from faconv.pipeline.evaluation import cluster_and_score
from faconv.pipeline.training import (
    CheckpointError,
    DataConfig,
    RunConfig,
    TrainConfig,
    load_checkpoint,
    load_run_config,
    prepare_data,
    save_checkpoint,
    train_model,
)
from tests.runs import SMALL_DATA, small_run

RUN = small_run(36, {"epochs": 1, "batch_size": 4}, seed=0)
GEN, MODEL = RUN["data"]["generated"], RUN["model"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return prepare_data(DataConfig(generated=GEN), tmp_path_factory.mktemp("data"))


class Crash(RuntimeError):
    pass


def test_resume_after_a_crash_gives_the_uninterrupted_weights(data, tmp_path, monkeypatch):
    cfg = TrainConfig(epochs=3, batch_size=2, window=4, stride=4, checkpoint_every=2)
    full = train_model(MODEL, data, cfg, tmp_path / "full", progress=False)

    calls = {"n": 0}
    real_step = torch.optim.AdamW.step

    def crashing_step(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == 7:  # dies mid-epoch, after the checkpoint at step 6
            raise Crash("killed")
        return real_step(self, *a, **k)

    monkeypatch.setattr(torch.optim.AdamW, "step", crashing_step)
    with pytest.raises(Crash):
        train_model(MODEL, data, cfg, tmp_path / "run", progress=False)
    monkeypatch.setattr(torch.optim.AdamW, "step", real_step)
    ckpt = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert int(ckpt["step"]) == 6
    resumed = train_model(MODEL, data, cfg, tmp_path / "run", resume=True, progress=False)
    for (k, a), b in zip(
        full["model"].state_dict().items(), resumed["model"].state_dict().values()
    ):
        assert torch.equal(a, b), k
    assert resumed["history"] == {**full["history"], "seconds": resumed["history"]["seconds"]}
    assert not list((tmp_path / "run").glob("*.tmp"))


def test_resume_refuses_another_config_or_other_variables(data, tmp_path):
    cfg = TrainConfig(epochs=1, batch_size=4, window=4, stride=4)
    train_model(MODEL, data, cfg, tmp_path, progress=False)
    other = {**MODEL, "encoder": [{"type": "fa_convlstm", "hidden_channels": 12}]}
    with pytest.raises(
        CheckpointError, match=r"encoder\[0\]\.hidden_channels: checkpoint has 8, new config has 12"
    ):
        train_model(other, data, cfg, tmp_path, resume=True, progress=False)


def test_checkpoints_are_loaded_safely(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    bad = tmp_path / "evil.pt"
    with open(bad, "wb") as f:
        pickle.dump({"model_config": "{}", "model": Evil()}, f, protocol=2)
    with pytest.raises(CheckpointError, match="refused without running anything") as err:
        load_checkpoint(bad)
    assert not marker.exists()
    assert "weights_only" not in str(err.value)  # never advise the unsafe switch
    good = save_checkpoint(
        tmp_path / "ok.pt",
        {
            "model_config": "{}",
            "normalizer": "{}",
            "train_config": "{}",
            "model": {"w": torch.ones(2)},
        },
    )
    good.write_bytes(good.read_bytes()[:40])  # truncated
    with pytest.raises(CheckpointError, match="corrupted or truncated"):
        load_checkpoint(good)
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")


def test_cluster_scores_are_labelled_and_lab_variant_is_supported():
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(3, 5)) * 5
    planted = np.repeat(np.arange(3), 20)
    emb = centers[planted] + rng.normal(size=(60, 5))
    inputs = emb[:, :, None] * np.ones((1, 1, 4))
    _labels, scores = cluster_and_score(emb, 3, planted=planted, inputs=inputs)
    assert set(scores) == {"silhouette[clustered features]", "davies_bouldin[clustered features]",
                           "calinski_harabasz[clustered features]", "ari[planted regimes]",
                           "explained_variance[anomalies]",
                           "silhouette[min-max inputs,cosine]"}  # fmt: skip
    assert scores["ari[planted regimes]"] == pytest.approx(1.0)
    # the composites of perfect clusters explain the between-cluster share of the variance
    between = ((centers[planted] - centers[planted].mean(0)) ** 2).sum()
    total = ((emb - emb.mean(0)) ** 2).sum()
    assert scores["explained_variance[anomalies]"] == pytest.approx(between / total, rel=0.05)
    with pytest.raises(DataError, match="k=1"):
        cluster_and_score(emb, 1)


def test_run_config_errors(tmp_path):
    p = tmp_path / "c.json"
    p.write_text(json.dumps({"train": {"epocs": 3}}))
    with pytest.raises(
        ConfigError,
        match=r"unknown key\(s\) \['epocs'\] in the 'train' section. Did you mean 'epochs'",
    ):
        load_run_config(p)
    p.write_text(json.dumps({"trian": {}}))
    with pytest.raises(ConfigError, match="unknown section.*Did you mean 'train'"):
        load_run_config(p)
    y = tmp_path / "c.yaml"
    y.write_text("train: {epochs: [unclosed")
    with pytest.raises(ConfigError, match="cannot parse"):
        load_run_config(y)
    y.write_text("!!python/object/apply:os.system ['echo hi']")
    with pytest.raises(ConfigError, match="cannot parse"):
        load_run_config(y)
    assert RunConfig.from_dict({}).train.epochs == 40
    with pytest.raises(ConfigError, match=r"embedding='attention'; valid values: 'auto'"):
        RunConfig.from_dict({"cluster": {"embedding": "attention"}})
    # which embedding each method clusters under the default "auto", and when chosen
    pick = {m: RunConfig.from_dict({"cluster": {"method": m}}).cluster.embedding_output()
            for m in ("arhmm", "hmm", "gmm", "kmeans")}  # fmt: skip
    assert pick == {"arhmm": "head_embedding", "hmm": "head_embedding", "gmm": "embedding",
                    "kmeans": "embedding"}  # fmt: skip
    forced = RunConfig.from_dict({"cluster": {"method": "kmeans", "embedding": "head"}})
    assert forced.cluster.embedding_output() == "head_embedding"


def test_cli_train_embed_cluster_compare(tmp_path, capsys):
    cfg = RUN
    (tmp_path / "run.json").write_text(json.dumps(cfg))
    run = ["--config", str(tmp_path / "run.json")]
    assert main(["train", *run, "--out", str(tmp_path / "t"), "--no-progress"]) == 0
    for f in ("checkpoint.pt", "history.json", "normalizer.json", "config.json"):
        assert (tmp_path / "t" / f).exists(), f
    assert main(["embed", "--checkpoint", str(tmp_path / "t" / "checkpoint.pt"), *run,
                 "--out", str(tmp_path / "e")]) == 0  # fmt: skip
    emb = xr.open_dataset(tmp_path / "e" / "embeddings.nc")
    assert emb["embedding"].shape == (36, 16) and "planted_regime" in emb
    assert str(emb["time"].values[0])[:10] == "2021-01-01"
    emb.close()
    assert main(["cluster", "--embeddings", str(tmp_path / "e" / "embeddings.nc"), "--k", "3",
                 "--out", str(tmp_path / "c"), "--maps", *run]) == 0  # fmt: skip
    metrics = json.loads((tmp_path / "c" / "metrics.json").read_text())
    for fig in ("timeline.png", "projection.png", "composites.png"):
        png = (tmp_path / "c" / fig).read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000, fig
        assert fig in (tmp_path / "c" / "report.md").read_text()
    assert (tmp_path / "t" / "training_curves.png").exists()
    assert "ari[planted regimes]" in metrics["scores"] and sum(metrics["cluster_sizes"]) == 36
    # the tied-covariance mixture, recorded in the output's clustering attribute
    emb_file = str(tmp_path / "e" / "embeddings.nc")
    assert main(["cluster", "--embeddings", emb_file, "--k", "3", "--method", "gmm",
                 "--out", str(tmp_path / "g")]) == 0  # fmt: skip
    with xr.open_dataset(tmp_path / "g" / "clusters.nc") as ds:
        assert json.loads(ds.attrs["clustering"])["method"] == "gmm"
        assert ds.attrs["clustered_embedding"] == "embedding"  # auto: refined for the mixture
    # more whole searches of the AR-HMM (--restarts): the same labels as the clusterer's own
    assert main(["cluster", "--embeddings", emb_file, "--k", "3", "--restarts", "2",
                 "--out", str(tmp_path / "r")]) == 0  # fmt: skip
    with xr.open_dataset(tmp_path / "r" / "clusters.nc") as ds:
        assert json.loads(ds.attrs["clustering"])["restarts"] == 2
        from faconv.data import time_breaks
        from faconv.pipeline.clustering import AutoregressiveHMMClusterer

        expected = AutoregressiveHMMClusterer(3, 0, restarts=2).fit_predict(
            ds["head_embedding"].values, time_breaks(ds["time"].values)
        )
        np.testing.assert_array_equal(ds["cluster"].values, expected)
    # both embeddings are written; the AR-HMM (the default) reads the head's per-step one
    assert metrics["embedding"] == "head"
    with xr.open_dataset(tmp_path / "c" / "clusters.nc") as ds:
        assert ds.attrs["clustered_embedding"] == "head_embedding"
        assert ds["head_embedding"].shape == ds["embedding"].shape == (36, 16)
        assert not np.allclose(ds["head_embedding"].values, ds["embedding"].values)
    # a file from before the head's embedding was written: auto falls back to the refined one,
    # asking for the head's is a clear error
    old = tmp_path / "old.nc"
    with xr.open_dataset(emb_file) as ds:
        ds.drop_vars("head_embedding").load().to_netcdf(old)
    assert (
        main(["cluster", "--embeddings", str(old), "--k", "3", "--out", str(tmp_path / "o")]) == 0
    )
    assert json.loads((tmp_path / "o" / "metrics.json").read_text())["embedding"] == "refined"
    capsys.readouterr()
    assert main(["cluster", "--embeddings", str(old), "--k", "3", "--embedding", "head",
                 "--out", str(tmp_path / "o2")]) == 2  # fmt: skip
    assert "no 'head_embedding'" in capsys.readouterr().err
    # steps a year apart (seasonal means): auto clusters the refined embedding with KMeans
    # and does not warn; an explicit AR-HMM warns
    yearly = tmp_path / "yearly.nc"
    with xr.open_dataset(emb_file) as ds:
        years = pd.date_range("1950-01-15", periods=ds.sizes["time"], freq="365D")
        ds.load().assign_coords(time=years).to_netcdf(yearly)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert main(["cluster", "--embeddings", str(yearly), "--k", "3",
                     "--out", str(tmp_path / "y")]) == 0  # fmt: skip
    picked = json.loads((tmp_path / "y" / "metrics.json").read_text())
    assert (picked["method"], picked["embedding"]) == ("kmeans", "refined")
    assert "kmeans on the refined embedding" in capsys.readouterr().out
    with warnings.catch_warnings():  # shown, not the test suite's error: the CLI's own line
        warnings.filterwarnings("always", module="faconv")
        main(["cluster", "--embeddings", str(yearly), "--k", "3", "--method", "arhmm",
              "--out", str(tmp_path / "y2")])  # fmt: skip
    assert (
        "faconv cluster: warning: " in (err := capsys.readouterr().err) and "365 days apart" in err
    )
    assert (
        main(["compare", *run, "--seeds", "2", "--out", str(tmp_path / "cmp"), "--no-progress"])
        == 0
    )
    table = (tmp_path / "cmp" / "compare.md").read_text()
    assert "FAConvLSTM" in table and "ConvLSTM" in table and "±" in table
    compared = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert compared["summary"]["FAConvLSTM"]["parameters"]["std"] == 0.0
    # daily steps: auto ran the AR-HMM, and the config and the verdict say so
    assert compared["config"]["cluster"]["method"] == "arhmm"
    assert "AR-HMM (cluster.method 'arhmm', chosen by 'auto'" in compared["verdict"][-1]
    capsys.readouterr()
    # errors: one line, exit code 2, no traceback and no partial output
    assert main(["embed", "--checkpoint", str(tmp_path / "t" / "checkpoint.pt"), *run,
                 "--variables", "t2m", "msl", "--out", str(tmp_path / "bad")]) == 2  # fmt: skip
    assert "lacks variables" in capsys.readouterr().err
    assert not (tmp_path / "bad" / "embeddings.nc").exists()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["train", *run, "--out", str(blocker / "sub"), "--no-progress"]) == 2
    assert "cannot write to the output directory" in capsys.readouterr().err


def test_divergence_is_a_clear_error(data, tmp_path, monkeypatch):
    from faconv.errors import NumericalError
    from faconv.pipeline.training import trainer

    monkeypatch.setattr(trainer, "reconstruction_loss", lambda *a, **k: torch.tensor(float("nan")))
    with pytest.raises(NumericalError, match="non-finite training loss at step 0"):
        train_model(MODEL, data, TrainConfig(epochs=1, batch_size=4, window=4, stride=4), tmp_path,
                    progress=False)  # fmt: skip


def test_winter_months_only_with_gaps_in_time(tmp_path, monkeypatch):
    # DJF of two winters: the climatology is fitted on every day up to the last training step,
    # the planted labels follow the kept days, and the estimator runs across the gaps
    from faconv.data import Normalizer, time_breaks
    from faconv.pipeline.estimator import RegimeEstimator

    gen = {**SMALL_DATA, "days": 485, "start": "2020-11-01"}  # to 28 Feb 2022
    cfg = DataConfig(generated=gen, months=[12, 1, 2])
    periods, fit = [], Normalizer.fit

    def recording_fit(self, ds, *args, time=None, **kwargs):
        periods.append(time)
        return fit(self, ds, *args, time=time, **kwargs)

    monkeypatch.setattr(Normalizer, "fit", recording_fit)
    data = prepare_data(cfg, tmp_path)
    months = pd.DatetimeIndex(data.time).month
    assert set(months) == {12, 1, 2} and data.num_steps == 2 * (31 + 31 + 28)
    assert time_breaks(data.time).sum() == 1  # the gap from March to November
    full = prepare_data(DataConfig(generated=gen), tmp_path)
    keep = np.isin(pd.DatetimeIndex(full.time).month, [12, 1, 2])
    np.testing.assert_array_equal(data.labels, full.labels[keep])
    last_train = data.time[data.num_steps - round(data.num_steps * 0.2) - 1]
    assert periods[0] == slice(None, last_train)  # every day up to it, the summer included
    est = RegimeEstimator(
        k=3, model=MODEL, train={"epochs": 1, "window": 4, "stride": 4}, data={"generated": gen,
        "months": [12, 1, 2]}, progress=False, work_dir=str(tmp_path / "est"),
    )  # fmt: skip
    labels = est.fit_predict(None)
    assert labels.sizes["time"] == data.num_steps and est.method_ == "arhmm"
    with pytest.raises(ConfigError, match=r"months must be distinct month numbers 1..12"):
        DataConfig(months=[1, 13]).validate()
    with pytest.raises(DataError, match=r"no step in the months \[7\]"):
        prepare_data(DataConfig(generated={**gen, "days": 60}, months=[7]), tmp_path)


@pytest.mark.parametrize("calendar", ["noleap", "360_day"])
def test_cli_on_a_model_calendar(tmp_path, calendar, capsys):
    # climate-model output (cftime dates): train, embed and cluster with maps; the outputs keep
    # the calendar, and the seasonal day and months follow it
    pytest.importorskip("cftime")
    from faconv.data.calendar import time_fields
    from faconv.data.synthetic import era5_like

    ds = era5_like(days=60, **{k: v for k, v in SMALL_DATA.items() if k != "steps_per_day"})
    ds = ds[["t2m", "msl", "u10"]]
    time = xr.date_range("2001-12-01", periods=60, freq="D", calendar=calendar, use_cftime=True)
    ds.assign_coords(time=time).to_netcdf(tmp_path / "model.nc")
    run = ["--data", str(tmp_path / "model.nc"), "--epochs", "1", "--window", "4"]
    assert main(["train", *run, "--out", str(tmp_path / "t"), "--no-progress"]) == 0
    assert main(["embed", "--checkpoint", str(tmp_path / "t" / "checkpoint.pt"), *run[:2],
                 "--out", str(tmp_path / "e")]) == 0  # fmt: skip
    with xr.open_dataset(tmp_path / "e" / "embeddings.nc") as emb:
        assert emb["time"].encoding["calendar"] == calendar and emb.sizes["time"] == 60
    assert main(["cluster", "--embeddings", str(tmp_path / "e" / "embeddings.nc"), "--k", "3",
                 "--out", str(tmp_path / "c"), "--maps", *run[:2]]) == 0  # fmt: skip
    with xr.open_dataset(tmp_path / "c" / "regimes.nc") as reg:
        assert reg["time"].encoding["calendar"] == calendar
        months = time_fields(reg["time"].values)["month"]
        share = reg["frequency_by_month"].values
        assert np.isnan(share[:, [m - 1 for m in range(3, 12)]]).all()  # no step in Mar-Nov
        np.testing.assert_allclose(share[:, np.unique(months) - 1].sum(0), 1.0)
    # as many steps of other days: the composites would be of the wrong days
    later = xr.date_range("2002-12-01", periods=60, freq="D", calendar=calendar, use_cftime=True)
    ds.assign_coords(time=later).to_netcdf(tmp_path / "later.nc")
    capsys.readouterr()
    assert main(["cluster", "--embeddings", str(tmp_path / "e" / "embeddings.nc"), "--k", "3",
                 "--out", str(tmp_path / "c2"), "--maps", "--data", str(tmp_path / "later.nc")]) == 2  # fmt: skip
    assert "times differ from the embeddings' (60 of 60; first at step 0" in capsys.readouterr().err
    data = prepare_data(DataConfig(path=str(tmp_path / "model.nc")), tmp_path)
    # 1 and 31 December and 1 January of a noleap year: days 335, 365, 1; of a 360-day year
    # (1 and 30 December are its days 331 and 360): the same fractions of a 365.25-day year
    idx = {"noleap": [0, 30, 31], "360_day": [0, 29, 30]}[calendar]
    expected = {"noleap": [335, 365, 1], "360_day": [336, 365, 1]}[calendar]
    assert data.day_of_year[idx].tolist() == expected


def test_a_training_period_too_short_for_the_statistics_is_named(tmp_path):
    # one step: every anomaly would be 0 and read as a constant variable; name the period
    gen = {**SMALL_DATA, "days": 1}
    with pytest.raises(DataError, match=r"training period has 1 step\(s\) \(1 in all, "
                       r"val_fraction 0.2\), too few .* climatology of 3 terms"):  # fmt: skip
        prepare_data(DataConfig(generated=gen), tmp_path)
    cfg = DataConfig(generated={**gen, "days": 4}, climatology_harmonics=2)  # 5 terms
    with pytest.raises(DataError, match="at least 6 training steps"):
        prepare_data(cfg, tmp_path)
    data = prepare_data(DataConfig(generated={**gen, "days": 6}), tmp_path)  # 5 training steps
    assert data.num_steps == 6


def test_no_validation_period_is_reported_as_none_not_nan(tmp_path, capsys):
    run = small_run(24, {"epochs": 2, "batch_size": 4, "val_fraction": 0.0}, seed=0)
    (tmp_path / "run.json").write_text(json.dumps(run))
    assert main(["train", "--config", str(tmp_path / "run.json"), "--out", str(tmp_path / "o"),
                 "--no-progress"]) == 0  # fmt: skip
    assert "validation loss none (val_fraction 0)" in capsys.readouterr().out
    history = json.loads((tmp_path / "o" / "history.json").read_text())
    assert history["val"] == [None, None] and all(np.isfinite(history["train"]))
    assert (tmp_path / "o" / "training_curves.png").stat().st_size > 0

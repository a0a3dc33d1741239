"""The xarray-in, xarray-out regime estimator and the provenance of every NetCDF output."""

import json

import numpy as np
import pytest
import sklearn
import xarray as xr

import faconv
import faconv.data
from faconv import ConfigError, DataError
from faconv.pipeline.cli import main
from faconv.pipeline.training import DataConfig, prepare_data

MODEL = {
    "encoder": [{"type": "fa_convlstm", "hidden_channels": 8}],
    "head": {"type": "regional", "regions": 12},
    "decoder": {"type": "basis", "regions": 48},
}
GEN = {"days": 60, "height": 12, "width": 16, "regimes": 3, "seed": 0}


@pytest.fixture(scope="module")
def ds():
    return faconv.data.era5_like(**GEN).drop_vars(["regime", "lsm"])


@pytest.fixture(scope="module")
def fitted(ds, tmp_path_factory):
    est = faconv.RegimeEstimator(
        k=3,
        model=MODEL,
        train={"epochs": 2, "window": 8},
        work_dir=str(tmp_path_factory.mktemp("w")),
    )
    return est.fit(ds)


def test_notebook_workflow(ds, fitted, tmp_path):
    labels = fitted.predict(ds)
    assert labels.dims == ("time",) and labels.sizes["time"] == GEN["days"]
    np.testing.assert_array_equal(labels["time"].values, ds["time"].values)
    assert set(np.unique(labels.values)) <= {0, 1, 2}
    np.testing.assert_array_equal(labels.values, fitted.labels_.values)  # same data, same labels
    emb = fitted.transform(ds)
    assert emb.dims == ("time", "dim") and emb.shape[0] == GEN["days"]
    reg = fitted.regimes(ds)
    assert reg["msl_composite"].dims == ("regime", "latitude", "longitude")
    assert reg["msl_composite"].attrs["units"] == "Pa"
    assert json.loads(reg.attrs["faconv_config"])["cluster"]["k"] == 3
    # the composites are the mean anomaly of each regime's days
    anom = fitted.normalizer_.climatology.transform(faconv.data.standardize(ds))["msl"]
    r0 = anom.isel(time=np.flatnonzero(labels.values == labels.values[0])).mean("time")
    np.testing.assert_allclose(reg["msl_composite"].sel(regime=labels.values[0]), r0, rtol=1e-4)
    # save / load through the safe checkpoint format
    fitted.save(tmp_path / "est.pt")
    back = faconv.RegimeEstimator.load(tmp_path / "est.pt")
    np.testing.assert_array_equal(back.predict(ds).values, labels.values)
    np.testing.assert_allclose(back.transform(ds).values, emb.values, rtol=1e-5, atol=1e-6)


def test_scikit_learn_conventions(fitted):
    params = fitted.get_params()
    assert params["k"] == 3 and params["model"] == MODEL
    clone = sklearn.clone(fitted)
    assert clone.get_params() == params and not hasattr(clone, "model_")
    with pytest.raises(ConfigError, match="not fitted"):
        clone.predict(xr.Dataset())
    # a data path is what fit() / transform() read when no dataset is given (the CLI's way)
    assert faconv.RegimeEstimator(data={"path": "x.nc"}).run_config().data.path == "x.nc"
    with pytest.raises(ConfigError, match="epochz"):
        faconv.RegimeEstimator(train={"epochz": 3}).run_config()


def test_from_the_cli_run_config(tmp_path):
    cfg = tmp_path / "run.json"
    cfg.write_text(
        json.dumps(
            {
                "model": MODEL,
                "train": {"epochs": 3, "seed": 4},
                "cluster": {"k": 5, "restarts": 3},
            }
        )
    )
    est = faconv.RegimeEstimator.from_config(cfg, n_init=2)
    assert (est.k, est.seed, est.n_init, est.train["epochs"]) == (5, 4, 2, 3)
    assert est.restarts == 3 and est.run_config().cluster.restarts == 3
    assert est.run_config().model == MODEL


def test_mesh_composites_are_on_nodes(tmp_path):
    glob = faconv.data.era5_like(
        days=24, height=10, width=20, regimes=2, lat_range=[-90, 90], lon_range=[-180, 180]
    ).drop_vars(["regime", "lsm"])
    cell = {"type": "fa_convlstm", "hidden_channels": 4, "mixer": {"type": "graph_dw", "scales": [0, 1]},
            "attention": {"type": "graph_sparse", "scales": [1]}}  # fmt: skip
    est = faconv.RegimeEstimator(
        k=2, data={"mesh_level": 2}, train={"epochs": 1, "window": 4},
        model={"encoder": [cell], "head": {"type": "regional", "regions": 16},
               "decoder": {"type": "basis", "regions": 40}},
        work_dir=str(tmp_path),
    )  # fmt: skip
    reg = est.fit(glob).regimes(glob)
    comp = reg["t2m_composite"]
    assert comp.dims == ("regime", "node") and comp.sizes["node"] == 162
    assert comp["latitude"].attrs["units"] == "degrees_north"


def test_an_in_memory_dataset_equals_the_same_data_from_a_file(ds, tmp_path):
    path = tmp_path / "f.nc"
    faconv.data.write_convention(ds, path, "cds_new")
    a = prepare_data(DataConfig(path=str(path)), tmp_path)
    b = prepare_data(DataConfig(), tmp_path, dataset=xr.open_dataset(path))
    c = prepare_data(DataConfig(), tmp_path, dataset=ds)
    for other in (b, c):
        np.testing.assert_allclose(other.inputs.numpy(), a.inputs.numpy(), atol=1e-5)
        np.testing.assert_array_equal(other.time, a.time)


def _check_cf(path, variables):
    with xr.open_dataset(path) as out:
        for key in ("faconv_version", "date_created", "history", "Conventions"):
            assert key in out.attrs, (path.name, key)
        for v in variables:
            assert "long_name" in out[v].attrs and "units" in out[v].attrs, (path.name, v)
        return dict(out.attrs)


def test_every_netcdf_output_carries_its_provenance(tmp_path, capsys):
    cfg = tmp_path / "run.json"
    cfg.write_text(json.dumps({"data": {"generated": GEN}, "model": MODEL,
                               "train": {"epochs": 1, "window": 8}, "cluster": {"k": 3}}))  # fmt: skip
    assert main(["train", "--config", str(cfg), "--out", str(tmp_path / "t"), "--no-progress"]) == 0
    ck = tmp_path / "t" / "checkpoint.pt"
    assert (
        main(["embed", "--checkpoint", str(ck), "--config", str(cfg), "--out", str(tmp_path / "e")])
        == 0
    )
    emb = tmp_path / "e" / "embeddings.nc"
    assert main(["cluster", "--embeddings", str(emb), "--k", "3", "--maps", "--config", str(cfg),
                 "--out", str(tmp_path / "c")]) == 0  # fmt: skip
    attrs = _check_cf(emb, ["embedding", "planted_regime"])
    run = json.loads(attrs["faconv_config"])
    assert run["train"]["epochs"] == 1 and run["model"]["head"]["type"] == "regional"
    assert "generated ERA5-like" in attrs["source"]
    attrs = _check_cf(tmp_path / "c" / "clusters.nc", ["embedding", "cluster"])
    assert json.loads(attrs["clustering"])["k"] == 3 and "faconv_config" in attrs
    _check_cf(tmp_path / "c" / "regimes.nc", ["regime_label", "msl_composite", "frequency"])
    generated = sorted((tmp_path / "t").glob("era5_like-*.nc"))
    for path in generated:  # the generated data and its ground truth
        attrs = _check_cf(path, [])
        assert json.loads(attrs["faconv_config"])["generator"]["days"] == GEN["days"]
    _check_cf(tmp_path / "t" / "normalizer.climatology.nc", [])


def test_the_clusterer_is_saved_and_an_older_kmeans_file_still_loads(ds, fitted, tmp_path):
    import torch

    from faconv.pipeline.training import load_checkpoint, save_checkpoint

    # the default: "auto", which picks the AR-HMM for daily steps
    assert fitted.method == "auto" and fitted.method_ == fitted.clusterer_.name == "arhmm"
    assert fitted.labels_.attrs["long_name"].endswith("FAConvLSTM embeddings + AR-HMM)")
    ckpt = load_checkpoint(fitted.save(tmp_path / "est.pt"))
    assert {"cluster.means", "cluster.precision", "cluster.log_transition", "cluster.rho"} <= set(
        ckpt
    )
    # files saved before cluster.method held KMeans centres and no method
    params = json.loads(ckpt["estimator"])
    del params["method"]
    del params["embedding"]  # nor cluster.embedding
    old = {k: v for k, v in ckpt.items() if not k.startswith("cluster")}
    centres = torch.from_numpy(fitted.cluster_centers_)
    save_checkpoint(
        tmp_path / "old.pt", {**old, "estimator": json.dumps(params), "cluster_centers": centres}
    )
    back = faconv.RegimeEstimator.load(tmp_path / "old.pt")
    assert back.method == back.method_ == "kmeans"
    assert faconv.RegimeEstimator.load(tmp_path / "est.pt").method_ == "arhmm"  # as fitted
    # and clustered the refined embedding: files saved before cluster.embedding keep it
    assert fitted.embedding == "auto" and back.embedding == "refined"
    assert "(head)" in fitted.transform(ds).attrs["long_name"]
    np.testing.assert_allclose(
        faconv.RegimeEstimator.load(tmp_path / "est.pt").transform(ds).values,
        fitted.transform(ds).values,
    )
    emb = back.transform(ds).values
    nearest = ((emb[:, None] - fitted.cluster_centers_[None]) ** 2).sum(-1).argmin(1)
    np.testing.assert_array_equal(back.predict(ds).values, nearest)
    with pytest.raises(ConfigError, match="valid values"):
        faconv.RegimeEstimator(method="dbscan")._clusterer()


def test_a_model_without_regimes_cannot_predict_or_be_saved(fitted, tmp_path):
    est = sklearn.clone(fitted)
    est.model_ = fitted.model_  # what from_checkpoint gives: a model, no clusterer yet
    with pytest.raises(ConfigError, match="no regimes yet"):
        est.save(tmp_path / "e.pt")
    with pytest.raises(ConfigError, match="no regimes yet"):
        est._assign(np.zeros((2, 3)))


def test_a_named_data_array_is_one_variable(tmp_path):
    da = faconv.data.era5_like(**GEN)["msl"]
    data = prepare_data(DataConfig(), tmp_path, dataset=da)
    assert data.variables == ["msl"]
    ref = prepare_data(DataConfig(), tmp_path, dataset=da.to_dataset())
    np.testing.assert_array_equal(data.target.numpy(), ref.target.numpy())
    with pytest.raises(faconv.DataError, match="DataArray without a name"):
        prepare_data(DataConfig(), tmp_path, dataset=da.rename(None))
    with pytest.raises(faconv.DataError, match="expected an xarray.Dataset .* got ndarray"):
        prepare_data(DataConfig(), tmp_path, dataset=da.values)


def test_data_at_another_time_step_are_refused(ds, fitted, tmp_path):
    """A model trained on daily steps does not describe 5-day or monthly steps; the check
    survives save / load and a training checkpoint (what `faconv embed` reads)."""
    assert fitted.step_days_ == 1.0
    every5 = ds.isel(time=slice(0, None, 5))
    with pytest.raises(DataError, match="steps of 5 days, the model was trained on steps of 1 day"):
        fitted.transform(every5)
    back = faconv.RegimeEstimator.load(fitted.save(tmp_path / "est.pt"))
    with pytest.raises(DataError, match="steps of 5 days"):
        back.predict(every5)
    ckpt = faconv.RegimeEstimator.from_checkpoint(fitted.checkpoint_)
    with pytest.raises(DataError, match="steps of 5 days"):
        ckpt.transform(every5)
    assert ckpt.transform(ds.isel(time=slice(1, None, 1))).sizes["time"] == GEN["days"] - 1

"""Issue 14: no silent wrong result, no raw traceback, no lost or mixed-up run.

Every case below was found by an outside probe; each is now a clear error (one line, exit 2
from the CLI, no partial files) or correct behaviour.
"""

import errno
import json
import os
import stat
import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import faconv
from faconv import ConfigError, DataError, InputError
from faconv.data import Normalizer, open_era5
from faconv.pipeline.cli import main
from faconv.pipeline.training import (
    CheckpointError,
    DataConfig,
    RunConfig,
    TrainConfig,
    load_checkpoint,
    prepare_data,
    train_model,
)
from faconv.pipeline.training.lock import LOCK, RunLock, RunLockedError

GEN = {"days": 30, "height": 6, "width": 8, "regimes": 2, "seed": 0, "steps_per_day": 1}
MODEL = {"encoder": [{"type": "fa_convlstm", "hidden_channels": 4}]}
FAST = {"epochs": 1, "batch_size": 4, "window": 4, "stride": 4}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return prepare_data(DataConfig(generated=GEN), tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("trained")
    train_model(MODEL, data, TrainConfig(**FAST), out, progress=False)
    return out


def _cli(capsys, *argv):
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err.strip()
    return code, err


def _write_config(path, **sections):
    base = {"data": {"generated": GEN}, "model": MODEL, "train": dict(FAST)}
    for name, values in sections.items():
        base[name] = {**base.get(name, {}), **values}
    path.write_text(json.dumps(base))
    return path


# -- 1, 5, 8: run configs are checked by type and range before any data is touched -------------
BAD_CONFIGS = [
    ("train", {"clip_norm": -1}, "clip_norm"),
    ("train", {"batch_size": -1}, "batch_size"),
    ("train", {"batch_size": 0}, "batch_size"),
    ("train", {"epochs": 1.5}, "epochs"),
    ("train", {"epochs": 0}, "epochs"),
    ("train", {"amp": "no"}, "amp"),
    ("train", {"lr": "fast"}, "lr"),
    ("train", {"laplacian_weight": -0.1}, "laplacian_weight"),
    ("train", {"device": "cuda:7"}, "device"),
    ("data", {"variables": ["t2m", "t2m"]}, "variables"),
    ("data", {"variables": []}, "variables"),
    ("data", {"box": [1, 2, 3]}, "box"),
    ("data", {"generated": {"dayz": 3}}, "dayz"),
    ("model", {"in_channels": 3}, "in_channels"),
]


@pytest.mark.parametrize(("section", "values", "named"), BAD_CONFIGS)
def test_bad_run_configs_are_refused_naming_the_key(section, values, named):
    raw = {"data": {"generated": GEN}, "model": dict(MODEL), "train": dict(FAST)}
    raw[section] = {**raw[section], **values}
    with pytest.raises(ConfigError, match=named):
        RunConfig.from_dict(raw)


def test_cli_config_errors_are_one_line_and_leave_no_output(tmp_path, capsys):
    cfg = _write_config(tmp_path / "run.json", train={"batch_size": 0})
    out = tmp_path / "out"
    code, err = _cli(capsys, "train", "--config", cfg, "--out", out, "--no-progress")
    assert code == 2 and "batch_size" in err and "Traceback" not in err
    assert len(err.splitlines()) == 1
    assert not out.exists()  # nothing written, not even an empty folder


def test_compare_refuses_impossible_k_before_training(tmp_path, capsys):
    cfg = _write_config(tmp_path / "run.json")
    out = tmp_path / "cmp"
    code, err = _cli(capsys, "compare", "--config", cfg, "--k", 100, "--seeds", 1, "--out", out)
    assert code == 2 and "cluster.k" in err
    assert not out.exists()


def test_cluster_on_a_file_that_is_not_embeddings_says_what_it_takes(tmp_path, capsys):
    """A checkpoint given for --embeddings: one line naming the file and what is expected,
    not xarray's list of IO backends."""
    wrong = tmp_path / "checkpoint.pt"
    wrong.write_bytes(b"PK\x03\x04 not a NetCDF file")
    code, err = _cli(capsys, "cluster", "--embeddings", wrong, "--out", tmp_path / "c")
    assert code == 2 and "Traceback" not in err and len(err.splitlines()) == 1
    assert "checkpoint.pt" in err and "embeddings.nc (NetCDF) that `faconv embed` writes" in err


# -- 2, 3, 9: stored data --------------------------------------------------------------------
def _era5(tmp_path):
    ds = faconv.data.era5_like(days=6, height=4, width=5, regimes=2, variables=("t2m", "msl"))
    return ds.drop_vars(["regime", "lsm"])


def test_a_deleted_zarr_chunk_is_refused_not_masked(tmp_path):
    path = tmp_path / "s.zarr"
    _era5(tmp_path).chunk({"time": 1}).to_zarr(path, consolidated=False)
    chunk = sorted(f for f in (path / "t2m").rglob("*") if f.is_file() and "zarr" not in f.name)
    chunk = [f for f in chunk if not f.name.startswith(".z")][2]
    chunk.unlink()
    with pytest.raises(DataError, match=r"lacks chunks on disk for t2m \(1 of 6\)"):
        open_era5(path)
    ds = open_era5(path, allow_missing_chunks=True)  # stated intent: they are missing data
    assert int(ds["t2m"].isnull().any(("latitude", "longitude")).sum()) == 1


def test_nat_in_time_is_refused(tmp_path):
    ds = _era5(tmp_path)
    t = ds["time"].values.copy()
    t[3] = np.datetime64("NaT")
    ds.assign_coords(time=t).to_netcdf(tmp_path / "f.nc")
    with pytest.raises(DataError, match="NaT|missing time"):
        open_era5(tmp_path / "f.nc")


def test_inf_and_spikes_are_named_as_such(tmp_path):
    ds = _era5(tmp_path).load()
    bad = ds.copy(deep=True)
    bad["t2m"][0, 0, 0] = np.inf
    with pytest.raises(DataError, match="1 infinite value"):
        Normalizer().fit(bad)
    bad = ds.copy(deep=True)
    bad["t2m"][0, 0, 0] = 1e30
    with pytest.raises(DataError, match="extreme values"):
        Normalizer().fit(bad)


def test_the_same_file_twice_is_named(tmp_path):
    _era5(tmp_path).to_netcdf(tmp_path / "f.nc")
    with pytest.raises(DataError, match="twice"):
        open_era5([tmp_path / "f.nc", tmp_path / "f.nc"])


def test_a_missing_time_chunk_is_not_called_a_duplicate(tmp_path):
    path = tmp_path / "s.zarr"
    _era5(tmp_path).to_zarr(path, consolidated=False, encoding={"time": {"chunks": (2,)}})
    files = sorted(f for f in (path / "time").rglob("*") if f.is_file() and "zarr" not in f.name)
    files = [f for f in files if not f.name.startswith(".z")]
    files[1].unlink()
    with pytest.raises(DataError, match=r"lacks chunks on disk for time \(1 of 3\)") as err:
        open_era5(path)
    assert "duplicat" not in str(err.value)


# -- 4: NaN weights, states and days -----------------------------------------------------------
def test_nan_weights_are_refused_by_embed(trained, tmp_path, capsys):
    ck = torch.load(trained / "checkpoint.pt", weights_only=True)
    first = next(k for k, v in ck["model"].items() if v.is_floating_point())
    ck["model"][first] = ck["model"][first] * float("nan")
    torch.save(ck, tmp_path / "nan.pt")
    cfg = _write_config(tmp_path / "run.json")
    out = tmp_path / "emb"
    code, err = _cli(
        capsys, "embed", "--checkpoint", tmp_path / "nan.pt", "--config", cfg, "--out", out
    )
    assert code == 2 and "non-finite weights" in err
    assert not out.exists()


def test_nan_initial_state_and_day_of_year_are_refused():
    layer = faconv.FAConvLSTM2D(3, filters=4, return_sequences=True)
    x = torch.randn(1, 2, 5, 6, 3)
    h = torch.zeros(1, 5, 6, 4)
    with pytest.raises(InputError, match="state.h contains 1 NaN"):
        layer(x, initial_state=(h.index_put_((torch.tensor(0),) * 4, torch.tensor(np.nan)), h))
    model = faconv.build(
        {"type": "representation", "in_channels": 3, "out_channels": 3, **MODEL,
         "head": {"type": "regional", "regions": 4}, "decoder": {"type": "basis", "regions": 12}},
        kind="model",
    )  # fmt: skip
    dom = faconv.GridDomain(5, 6)
    with pytest.raises(InputError, match="day_of_year contains 1 NaN"):
        model(x, dom, torch.tensor([[1.0, float("nan")]]))
    with pytest.raises(InputError, match="not a day of the year"):
        model(x, dom, torch.tensor([[1.0, -9.2e18]]))


# -- 6: resume refuses every setting that changes the result -------------------------------------
@pytest.mark.parametrize(
    ("change", "named"),
    [({"lr": 1e-2}, "train.lr"), ({"batch_size": 2}, "train.batch_size"),
     ({"seed": 5}, "train.seed"), ({"window": 3}, "train.window")],
)  # fmt: skip
def test_resume_with_other_settings_is_refused(data, trained, tmp_path, change, named):
    import shutil

    out = tmp_path / "r"
    shutil.copytree(trained, out)
    with pytest.raises(CheckpointError, match=named.replace(".", r"\.")):
        train_model(MODEL, data, TrainConfig(**{**FAST, **change}), out, resume=True)


def test_resume_with_other_data_is_refused(trained, tmp_path):
    import shutil

    other = prepare_data(DataConfig(generated={**GEN, "seed": 3}), tmp_path / "d")
    out = tmp_path / "r"
    shutil.copytree(trained, out)
    with pytest.raises(CheckpointError, match="data normalizer"):
        train_model(MODEL, other, TrainConfig(**FAST), out, resume=True)


def test_resume_may_train_longer_and_change_free_settings(data, trained, tmp_path):
    import shutil

    out = tmp_path / "r"
    shutil.copytree(trained, out)
    cfg = TrainConfig(**{**FAST, "epochs": 2, "checkpoint_every": 3})
    res = train_model(MODEL, data, cfg, out, resume=True, progress=False)
    assert len(res["history"]["train"]) == 2


# -- 7: one run per output directory ----------------------------------------------------------
def test_a_live_run_locks_its_directory_and_a_stale_lock_is_taken_over(data, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        import socket

        (out / LOCK).write_text(
            json.dumps({"pid": sleeper.pid, "host": socket.gethostname(), "started": 0})
        )
        (out / "checkpoint.pt.abc.tmp").write_text("in flight")
        with pytest.raises(RunLockedError, match=f"pid {sleeper.pid}"):
            train_model(MODEL, data, TrainConfig(**FAST), out, progress=False)
        assert (out / "checkpoint.pt.abc.tmp").exists()  # the live run's file is untouched
    finally:
        sleeper.kill()
        sleeper.wait()
    # the process is gone: its lock is stale and a resume takes it over
    train_model(MODEL, data, TrainConfig(**FAST), out, resume=True, progress=False)
    assert not (out / LOCK).exists() and not (out / "checkpoint.pt.abc.tmp").exists()


def test_two_locks_in_one_directory_cannot_both_be_held(tmp_path):
    with RunLock(tmp_path):
        other = RunLock(tmp_path)
        other._take_over_if_stale = lambda: (_ for _ in ()).throw(RunLockedError("held"))
        with pytest.raises(RunLockedError):
            other.__enter__()


# -- 8, 9: checkpoints and their messages ------------------------------------------------------
def test_a_full_disk_is_named_and_the_previous_checkpoint_kept(data, trained, monkeypatch):
    before = (trained / "checkpoint.pt").read_bytes()

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(CheckpointError, match="no space left.*previous checkpoint is kept"):
        faconv.pipeline.training.save_checkpoint(trained / "checkpoint.pt", {"model_config": "{}"})
    assert (trained / "checkpoint.pt").read_bytes() == before


def test_divergence_does_not_claim_a_checkpoint_that_does_not_exist(data, tmp_path):
    cfg = TrainConfig(**{**FAST, "lr": 10.0, "clip_norm": 0.0})
    model = {"encoder": [{"type": "fa_convlstm", "hidden_channels": 4}]}
    from faconv.data.store import InMemorySequence

    # a target so large that the squared error overflows: the loss is inf at the first step
    bad = InMemorySequence(data.inputs, data.target.clone() * 1e30, data.mask)
    poisoned = type(data)(**{**data.__dict__, "sequence": bad})
    with pytest.raises(faconv.errors.NumericalError, match="no checkpoint was written yet"):
        train_model(model, poisoned, cfg, tmp_path / "d", progress=False)


def test_interrupt_is_one_line_with_exit_2(tmp_path, capsys, monkeypatch):
    import faconv.pipeline.commands

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(faconv.pipeline.commands, "run_train", interrupted)
    cfg = _write_config(tmp_path / "run.json")
    code, err = _cli(capsys, "train", "--config", cfg, "--out", tmp_path / "o")
    assert code == 2 and err == "faconv train: interrupted"
    assert not (tmp_path / "o").exists()


def test_outputs_get_the_usual_file_mode(data, tmp_path, capsys):
    cfg = _write_config(tmp_path / "run.json")
    out = tmp_path / "t"
    code, _ = _cli(capsys, "train", "--config", cfg, "--out", out, "--no-progress")
    assert code == 0
    mask = os.umask(0)
    os.umask(mask)
    want = 0o666 & ~mask
    for name in ("checkpoint.pt", "config.json", "history.json", "normalizer.json"):
        assert stat.S_IMODE((out / name).stat().st_mode) == want, name


def test_non_tty_progress_is_one_line_per_epoch(data, tmp_path, capsys):
    train_model(MODEL, data, TrainConfig(**{**FAST, "epochs": 2}), tmp_path / "p")
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("epoch ")]
    assert len(lines) == 2 and "\r" not in err


# -- hypothesis: mutated run configs and checkpoint contents --------------------------------
_JUNK = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=True), st.text(max_size=4),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(section=st.sampled_from(["data", "train", "cluster"]), key=st.data(), value=_JUNK)
def test_fuzzed_run_configs_validate_or_raise_config_error(section, key, value):
    from dataclasses import fields

    cls = {
        "data": DataConfig,
        "train": TrainConfig,
        "cluster": faconv.pipeline.training.ClusterConfig,
    }
    name = key.draw(st.sampled_from([f.name for f in fields(cls[section])]))
    raw = {"data": {"generated": GEN}, section: {name: value}}
    try:
        cfg = RunConfig.from_dict(raw)
    except ConfigError as exc:
        assert name in str(exc) or section in str(exc)
        return
    cfg.validate()  # an accepted value is a valid one


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    entry=st.sampled_from(
        ["model_config", "model", "normalizer", "train_config", "optimizer", "epoch", "batch",
         "step", "history", "rng_state", "data_fingerprint"]
    ),
    action=st.sampled_from(["remove", "retype", "reshape", "garble"]),
)  # fmt: skip
def test_fuzzed_checkpoint_contents_are_refused_clearly(data, trained, tmp_path, entry, action):
    import shutil

    out = tmp_path / f"{entry}-{action}"
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(trained, out)
    ck = torch.load(out / "checkpoint.pt", weights_only=True)
    value = ck.get(entry)
    if action == "remove":
        ck.pop(entry, None)
    elif action == "retype":
        ck[entry] = 3.5 if isinstance(value, str) else "x"
    elif action == "reshape" and isinstance(value, dict) and entry == "model":
        k = next(iter(value))
        ck[entry] = {**value, k: torch.zeros(2, 2, 2)}
    elif action == "reshape" and isinstance(value, torch.Tensor):
        ck[entry] = value[:3]
    elif isinstance(value, str):
        ck[entry] = value[: len(value) // 2]  # truncated JSON
    elif isinstance(value, int):
        ck[entry] = -value - 1
    torch.save(ck, out / "checkpoint.pt")
    try:
        train_model(MODEL, data, TrainConfig(**FAST), out, resume=True, progress=False)
    except CheckpointError as exc:
        assert str(exc)
        return
    # accepted: the change was harmless (an optional entry) and the run ended properly
    assert load_checkpoint(out / "checkpoint.pt", for_training=True)["epoch"] == 1


# -- 11: the Keras-style layers ---------------------------------------------------------------
@pytest.mark.parametrize("cls", [faconv.FAConvLSTM2D, faconv.ConvLSTM2D])
def test_layers_dtypes_batch_zero_and_positional_domain(cls):
    kw = {} if cls is faconv.FAConvLSTM2D else {"kernel_size": 3, "padding": "same"}
    layer = cls(3, filters=4, return_sequences=True, **kw)
    x = torch.randn(2, 3, 5, 6, 3)
    for dtype in (torch.float16, torch.bfloat16, torch.float64):
        with pytest.raises(InputError, match="dtype"):
            layer(x.to(dtype))
    ref = layer(x)
    y64 = cls(3, filters=4, return_sequences=True, **kw).double()
    y64.load_state_dict({k: v.double() for k, v in layer.state_dict().items()})
    torch.testing.assert_close(y64(x.double()).float(), ref, atol=1e-5, rtol=1e-4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        yb = layer(x.bfloat16())
    assert torch.isfinite(yb).all() and (yb.float() - ref).abs().max() < 0.1
    empty = layer(x[:0])
    assert empty.shape == (0, *ref.shape[1:])
    dom = faconv.GridDomain(5, 6)
    torch.testing.assert_close(layer(x, dom), ref)
    with pytest.raises(InputError, match="initial_state"):
        layer(x, (torch.zeros(2, 5, 6, 4), torch.zeros(2, 5, 6, 4)))


def test_variable_weights_scale_each_variable_in_the_loss():
    """A weight of 0 leaves a variable out of the loss exactly, equal weights change nothing,
    and names outside the data are refused with the valid ones listed."""
    from types import SimpleNamespace

    from faconv import GridDomain
    from faconv.losses import reconstruction_loss
    from faconv.pipeline.training.config import TrainConfig
    from faconv.pipeline.training.trainer import _loss
    from faconv.pipeline.training.weights import variable_weights

    gen = torch.Generator().manual_seed(0)
    y, recon = torch.randn(2, 3, 4, 5, 3, generator=gen), torch.randn(2, 3, 4, 5, 3, generator=gen)
    m = (torch.rand(2, 3, 4, 5, 3, generator=gen) > 0.2).float()
    domain = GridDomain.from_coords([50.0, 45.0, 40.0, 35.0], [0.0, 5.0, 10.0, 15.0, 20.0])
    data = SimpleNamespace(domain=domain)
    model = lambda x, d, doy: {"reconstruction": recon}  # noqa: E731
    cfg = TrainConfig()
    names = ["msl", "sst", "t2m"]

    def loss(weights):
        w = variable_weights(names, weights)
        mask = m if w is None else m * w
        return _loss(model, (None, y, mask, None), data, cfg, torch.device("cpu"))

    keep = [0, 2]
    alone = reconstruction_loss(recon[..., keep], y[..., keep], domain, m[..., keep])
    torch.testing.assert_close(loss({"sst": 0.0}), alone)
    torch.testing.assert_close(loss({"msl": 3.0, "sst": 3.0, "t2m": 3.0}), loss(None))
    assert not torch.isclose(loss({"sst": 2.0}), loss(None))
    with pytest.raises(ConfigError, match=r"names \['wind'\], not among .*\['msl', 'sst', 't2m'\]"):
        variable_weights(names, {"wind": 1.0})
    with pytest.raises(ConfigError, match="every variable weight 0"):
        variable_weights(names, {v: 0.0 for v in names})


def _ar1_data(phis, steps=400, seed=0, step="D"):
    """A Prepared-like object whose variables are AR(1) anomalies with coefficients ``phis``."""
    from types import SimpleNamespace

    import pandas as pd

    from faconv import GridDomain
    from faconv.data.store import InMemorySequence

    rng = np.random.default_rng(seed)
    y = np.zeros((steps, 3, 4, len(phis)))
    for t in range(1, steps):
        y[t] = np.asarray(phis) * y[t - 1] + rng.standard_normal(y.shape[1:])
    target = torch.tensor(y, dtype=torch.float32)
    mask = torch.ones_like(target)
    mask[:, 0, 0, -1] = 0  # a masked point (land) is left out
    return SimpleNamespace(
        sequence=InMemorySequence(target, target, mask),
        domain=GridDomain.from_coords([50.0, 45.0, 40.0], [0.0, 5.0, 10.0, 15.0]),
        variables=[f"v{i}" for i in range(len(phis))],
        time=pd.date_range("2001-01-01", periods=steps, freq=step).to_numpy(),
    )


def test_decorrelation_steps_of_ar1_anomalies():
    """-1 / ln(phi) for AR(1) anomalies, from pairs inside the windows only."""
    from faconv.pipeline.training.weights import decorrelation_steps

    phis = [0.3, 0.6, 0.95]
    data = _ar1_data(phis, steps=2000)
    tau = decorrelation_steps(data, list(range(0, 1992, 8)), 8)
    np.testing.assert_allclose(tau, [-1 / np.log(p) for p in phis], rtol=0.15)


def test_decorrelation_steps_of_in_memory_fields_matches_the_windows_and_skips_gaps():
    """The in-memory variant over whole runs equals the windowed one when the windows tile the
    record and step on each other's edges (stride = length - 1); a break in time removes
    exactly the pair across it."""
    from faconv.pipeline.training.weights import (
        decorrelation_steps,
        decorrelation_steps_of,
        weather_decorrelation,
    )

    data = _ar1_data([0.3, 0.6, 0.95], steps=401)
    y, _, m = data.sequence.read(0, 401)
    w = data.domain.point_weights(dtype=torch.float64).numpy()
    whole = decorrelation_steps_of(y.numpy(), m.numpy(), w)
    np.testing.assert_allclose(whole, decorrelation_steps(data, list(range(0, 400, 8)), 9))
    y, m = y.numpy()[:400], m.numpy()[:400]
    breaks = np.zeros(399, dtype=bool)
    breaks[199] = True  # step 200 does not follow step 199
    cut = decorrelation_steps_of(y, m, w, breaks)
    np.testing.assert_allclose(cut, decorrelation_steps(data, [0, 200], 200))
    assert not np.allclose(cut, decorrelation_steps_of(y, m, w))
    # over the record's own time: daily steps measured, seasonal ones not (None)
    t = data.time[:400]
    np.testing.assert_allclose(weather_decorrelation(y, m, w, t), decorrelation_steps_of(y, m, w))
    seasonal = _ar1_data([0.3, 0.6, 0.95], steps=400, step="90D").time
    assert weather_decorrelation(y, m, w, seasonal) is None


def test_auto_variable_weights_leave_a_slow_variable_out_of_the_loss():
    """``auto``: a variable ~20x slower than the others gets weight 0 with a warning naming
    it; similar variables, one variable or seasonal steps keep equal weights (None)."""
    from faconv.pipeline.training.weights import resolve_variable_weights

    starts = list(range(0, 392, 8))
    with pytest.warns(UserWarning, match=r"anomalies of \['v2'\] decorrelate"):
        w = resolve_variable_weights(_ar1_data([0.5, 0.6, 0.98]), "auto", starts, 8)
    assert w.tolist() == [1.0, 1.0, 0.0]
    assert resolve_variable_weights(_ar1_data([0.5, 0.6, 0.7]), "auto", starts, 8) is None
    assert resolve_variable_weights(_ar1_data([0.98]), "auto", starts, 8) is None
    seasonal = _ar1_data([0.5, 0.6, 0.98], step="90D")
    assert resolve_variable_weights(seasonal, "auto", starts, 8) is None
    assert resolve_variable_weights(seasonal, None, starts, 8) is None
    explicit = resolve_variable_weights(seasonal, {"v0": 2.0}, starts, 8)
    assert explicit.tolist() == [2.0, 1.0, 1.0]


def test_checkpoints_from_before_variable_weights_still_resume():
    """A checkpoint without the key was trained with equal weights: it resumes when this run's
    weights resolve to equal, and is refused (naming the key) when they do not."""
    from dataclasses import asdict

    from faconv.pipeline.training.config import TrainConfig
    from faconv.pipeline.training.trainer import _resume_mismatch

    cfg = TrainConfig()
    old = {k: v for k, v in asdict(cfg).items() if k != "variable_weights"}
    ckpt = {"train_config": json.dumps(old)}
    assert _resume_mismatch(ckpt, cfg, {}, equal_weights=True) == []
    (diff,) = _resume_mismatch(ckpt, cfg, {}, equal_weights=False)
    assert diff.startswith("train.variable_weights: checkpoint None, now 'auto'")


def test_compare_verdict_names_a_variable_left_out_of_the_loss():
    from faconv.pipeline.commands import _loss_weights, _weights_lines
    from faconv.pipeline.training import RunConfig

    def lines(d, cfg):
        return _weights_lines(d, cfg, *_loss_weights(d, cfg))

    data = _ar1_data([0.5, 0.6, 0.98])
    data.num_steps = 400
    assert _loss_weights(data, RunConfig())[0] == {"v0": 1.0, "v1": 1.0, "v2": 0.0}
    (line,) = lines(data, RunConfig())
    assert line.startswith("Loss weights (train.variable_weights 'auto'): v2 left out of the loss")
    similar = _ar1_data([0.5, 0.6, 0.7])
    similar.num_steps = 400
    assert _loss_weights(similar, RunConfig())[0] is None and lines(similar, RunConfig()) == []
    equal = RunConfig.from_dict({"train": {"variable_weights": None}})
    assert lines(data, equal) == []
    explicit = RunConfig.from_dict({"train": {"variable_weights": {"v0": 0.0}}})
    assert _loss_weights(data, explicit)[0] == {"v0": 0.0, "v1": 1.0, "v2": 1.0}
    assert lines(data, explicit) == []  # the user's own choice: no line

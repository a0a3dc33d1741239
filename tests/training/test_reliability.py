"""Reliability: checkpoints survive crashes at any point, versions are checked, training is
bitwise deterministic across processes, and the numerics stay healthy over long sequences."""

import json
import subprocess
import sys

import pytest
import torch

import faconv
from faconv import _io
from faconv.pipeline.training import CheckpointError, load_checkpoint, save_checkpoint
from tests.runs import small_run

#: The entries ``embed`` needs (load_checkpoint refuses a checkpoint without them).
_MINIMAL = {"model_config": "{}", "normalizer": "{}", "train_config": "{}"}


def test_a_crash_during_a_checkpoint_write_keeps_the_previous_one(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, {**_MINIMAL, "model": {"w": torch.ones(3)}, "step": 1})

    def dying_replace(src, dst):
        raise OSError("killed between write and rename")

    monkeypatch.setattr(_io.os, "replace", dying_replace)  # dies between write and rename
    with pytest.raises(CheckpointError, match="killed.*previous checkpoint is kept"):
        save_checkpoint(path, {**_MINIMAL, "model": {"w": torch.zeros(3)}, "step": 2})
    monkeypatch.undo()
    ck = load_checkpoint(path)
    assert ck["step"] == 1 and torch.equal(ck["model"]["w"], torch.ones(3))
    assert list(tmp_path.iterdir()) == [path]  # the temporary file was removed


def test_checkpoint_format_and_version_are_recorded_and_checked(tmp_path):
    path = save_checkpoint(tmp_path / "c.pt", {**_MINIMAL, "model": {}})
    ck = load_checkpoint(path)
    assert ck["faconv_version"] == faconv.__version__ and ck["checkpoint_format"] == 2
    ck["checkpoint_format"] = 99
    ck["faconv_version"] = "9.9.9"
    torch.save(ck, path)
    with pytest.raises(
        CheckpointError, match=r"format 99 \(written by faconv 9\.9\.9\).*reads format 2"
    ):
        load_checkpoint(path)


def test_configs_cannot_name_code():
    for spec in ({"type": "os.system", "command": "echo hi"}, {"type": "builtins.eval"},
                 {"type": "__import__"}):  # fmt: skip
        with pytest.raises(faconv.ConfigError, match="unknown component type"):
            faconv.build(spec)


PIPELINE = """
import json, sys
from faconv.pipeline.commands import run_cluster, run_embed, run_train
from faconv.pipeline.training import RunConfig
cfg = RunConfig.from_dict(json.load(open(sys.argv[1])))
run_train(cfg, "t", progress=False)
run_embed("t/checkpoint.pt", cfg, "e")
run_cluster("e/embeddings.nc", 3, "c")
"""


def test_same_seed_same_bits_across_processes(tmp_path):
    cfg = small_run(30, {"epochs": 2, "batch_size": 2})
    (tmp_path / "run.json").write_text(json.dumps(cfg))
    outs = []
    for name in ("a", "b"):  # two separate processes
        d = tmp_path / name
        d.mkdir()
        r = subprocess.run([sys.executable, "-c", PIPELINE, str(tmp_path / "run.json")],
                           capture_output=True, text=True, timeout=300, cwd=d)  # fmt: skip
        assert r.returncode == 0, r.stderr
        outs.append(d)
    a, b = (load_checkpoint(d / "t" / "checkpoint.pt") for d in outs)
    assert json.loads(a["history"])["train"] == json.loads(b["history"])["train"]
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    import xarray as xr

    ea, eb = (xr.open_dataset(d / "c" / "clusters.nc").load() for d in outs)
    assert (ea["embedding"].values == eb["embedding"].values).all()
    assert (ea["cluster"].values == eb["cluster"].values).all()


def test_gradients_finite_over_a_year_of_daily_steps_fp32_and_bf16():
    torch.manual_seed(0)
    from faconv.data import era5_like

    ds = era5_like(days=365, height=8, width=8, regimes=4, variables=("t2m", "msl", "u10", "v10"))
    x = torch.tensor(
        ds[["t2m", "msl", "u10", "v10"]]
        .to_array("v")
        .transpose("time", "latitude", "longitude", "v")
        .values
    )
    x = ((x - x.mean((0, 1, 2))) / x.std((0, 1, 2)))[None]  # (1, 365, 8, 8, 4)
    for dtype in (None, torch.bfloat16):
        layer = faconv.FAConvLSTM2D(4, 16, return_sequences=True)
        with torch.autocast("cpu", dtype=dtype or torch.float32, enabled=dtype is not None):
            loss = layer(x).float().square().mean()
        loss.backward()
        grads = [p.grad for p in layer.parameters()]
        assert all(g is not None and torch.isfinite(g).all() for g in grads), dtype
        assert max(g.abs().max().item() for g in grads) < 1e3


def test_state_stays_bounded_over_ten_thousand_stateful_steps():
    torch.manual_seed(0)
    from faconv.data import era5_like

    ds = era5_like(days=400, height=6, width=6, regimes=4, variables=("t2m", "u10"))
    x = torch.tensor(
        ds[["t2m", "u10"]].to_array("v").transpose("time", "latitude", "longitude", "v").values
    )
    x = ((x - x.mean((0, 1, 2))) / x.std((0, 1, 2)))[None]
    layer = faconv.FAConvLSTM2D(2, 8, stateful=True, return_state=True, attn_every=4).eval()
    peak_h = peak_c = 0.0
    with torch.no_grad():
        for i in range(25):  # 25 x 400 = 10,000 steps
            _, h, c = layer(x)
            assert torch.isfinite(h).all() and torch.isfinite(c).all(), i
            peak_h, peak_c = max(peak_h, h.abs().max().item()), max(peak_c, c.abs().max().item())
    assert layer._time == 10_000
    assert peak_h < 10 and peak_c < 100, (peak_h, peak_c)

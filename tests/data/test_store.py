"""Out-of-core windows (data.in_memory: false) equal the in-memory path: the windows, one epoch
of training (also with DataLoader workers) and the embeddings."""

import numpy as np
import pytest
import torch

from faconv.data import write_era5_like
from faconv.errors import DataError
from faconv.pipeline.evaluation import embed
from faconv.pipeline.training import DataConfig, TrainConfig, prepare_data, train_model

GEN = {"days": 40, "height": 6, "width": 8, "regimes": 2, "seed": 3}
MODEL = {"encoder": [{"type": "fa_convlstm", "hidden_channels": 4}]}
FAST = {"epochs": 1, "batch_size": 3, "window": 4, "stride": 3, "lr_schedule": "constant"}


def _both(tmp_path, convention="zarr_wb2", **extra):
    suffix = ".zarr" if convention.startswith("zarr") else ".nc"
    gen = {**GEN, **extra.pop("gen", {})}
    path = write_era5_like(tmp_path / f"era5{suffix}", convention, **gen)
    cfg = {"path": str(path), **extra}
    eager = prepare_data(DataConfig(**cfg), tmp_path)
    lazy = prepare_data(DataConfig(**cfg, in_memory=False), tmp_path)
    return eager, lazy


def _windows_equal(eager, lazy, length=5):
    assert (lazy.num_steps, lazy.in_channels, lazy.point_shape) == (
        eager.num_steps,
        eager.in_channels,
        eager.point_shape,
    )
    starts = list(range(0, eager.num_steps - length + 1, 3))
    a, b = eager.window_reader(starts, length), lazy.window_reader(starts, length)
    for i in range(len(starts)):
        for x, y in zip(a[i], b[i]):
            torch.testing.assert_close(y, x, rtol=0, atol=0)


@pytest.mark.parametrize("convention", ["zarr_wb2", "cds_new"])
def test_store_windows_equal_in_memory_windows(tmp_path, convention):
    eager, lazy = _both(tmp_path, convention)
    assert eager.in_memory and not lazy.in_memory
    assert lazy.normalizer.to_dict() == eager.normalizer.to_dict()
    assert eager.in_channels == len(eager.variables) + 1  # sst has NaN over land: a mask channel
    _windows_equal(eager, lazy)


def test_store_windows_on_a_mesh(tmp_path):
    glob = {"gen": {"height": 8, "width": 16, "lat_range": [-90, 90], "lon_range": [-180, 180]}}
    eager, lazy = _both(tmp_path, mesh_level=1, **glob)
    assert eager.point_shape == (eager.domain.num_points,)
    _windows_equal(eager, lazy)


def test_training_and_embedding_out_of_core_equal_in_memory(tmp_path):
    eager, lazy = _both(tmp_path)
    runs = {}
    for name, data, workers in (("eager", eager, 0), ("lazy", lazy, 0), ("workers", lazy, 2)):
        torch.manual_seed(0)
        cfg = TrainConfig(**FAST, num_workers=workers)
        runs[name] = train_model(MODEL, data, cfg, tmp_path / name, progress=False)
    ref = runs["eager"]
    for name in ("lazy", "workers"):
        assert runs[name]["history"]["train"] == ref["history"]["train"]
        assert runs[name]["history"]["val"] == ref["history"]["val"]
        for k, v in ref["model"].state_dict().items():
            torch.testing.assert_close(runs[name]["model"].state_dict()[k], v, rtol=0, atol=0)
    np.testing.assert_array_equal(embed(ref["model"], lazy, 4), embed(ref["model"], eager, 4))


def test_whole_fields_are_refused_out_of_core_with_the_setting_named(tmp_path):
    _, lazy = _both(tmp_path)
    with pytest.raises(DataError, match="in_memory: true"):
        _ = lazy.target


def test_data_too_large_for_memory_names_the_out_of_core_setting(tmp_path, monkeypatch):
    from faconv.data import Normalizer

    def too_large(self, ds, *args, **kwargs):
        raise MemoryError

    path = write_era5_like(tmp_path / "era5.zarr", "zarr_wb2", **GEN)
    monkeypatch.setattr(Normalizer, "transform", too_large)
    with pytest.raises(DataError, match="does not fit in memory: set data.in_memory: false"):
        prepare_data(DataConfig(path=str(path)), tmp_path)
    monkeypatch.setattr(Normalizer, "fit", too_large)
    with pytest.raises(DataError, match="out of memory while fitting.*data.in_memory: false"):
        prepare_data(DataConfig(path=str(path)), tmp_path)

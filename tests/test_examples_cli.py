import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from faconv.pipeline.cli import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "script, args",
    [
        ("grid_convlstm.py", ["--height", "8", "--width", "16", "--steps", "3"]),
        ("custom_cell_from_config.py", []),
        ("icosahedral_mesh.py", ["--level", "2", "--days", "3", "--pipeline-epochs", "1"]),
        ("era5_grid.py", ["--days", "40", "--epochs", "1", "--k", "3"]),
        ("regimes_notebook.py", ["--days", "40", "--epochs", "1", "--k", "3"]),
    ],
)
def test_example_runs(script, args, tmp_path):
    out = (
        ["--out", str(tmp_path / "out")]
        if script in ("era5_grid.py", "icosahedral_mesh.py")
        else []
    )
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script), *args, *out],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr


def test_demo_quick_writes_metrics(tmp_path, capsys):
    assert main(["demo", "--quick", "--no-progress", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "FAConvLSTM" in printed and "ConvLSTM" in printed and "ARI" in printed
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert list(tmp_path.glob("era5_like-*.nc"))  # the default data went through a real file
    assert (tmp_path / "report.md").exists() and (tmp_path / "compare.md").exists()
    report = (tmp_path / "report.md").read_text()
    for link in ("FAConvLSTM-seed0/composites.png", "ConvLSTM-seed0/timeline.png",
                 "FAConvLSTM-seed0/training_curves.png", "ConvLSTM-seed0/projection.png"):  # fmt: skip
        assert link in report and (tmp_path / link).stat().st_size > 5000, link
    assert (tmp_path / "FAConvLSTM-seed0" / "embeddings.nc").exists()
    s = metrics["summary"]
    for model in ("FAConvLSTM", "ConvLSTM"):
        assert all(math.isfinite(v["mean"]) for v in s[model].values())
        assert -1 <= s[model]["silhouette[clustered features]"]["mean"] <= 1
        assert 0 <= s[model]["explained_variance[anomalies]"]["mean"] <= 1
    assert (
        s["FAConvLSTM"]["encoder_parameters"]["mean"] < s["ConvLSTM"]["encoder_parameters"]["mean"]
    )
    # the classical methods are in the same table, and the verdict is printed
    for method in ("EOF (10) + KMeans", "raw KMeans", "oracle"):
        assert "ari[planted regimes]" in s[method] and method in printed
    assert any("classical method" in line for line in metrics["verdict"])
    assert "classical method" in printed
    assert (tmp_path / "FAConvLSTM-seed0" / "regimes.nc").exists()
    assert (tmp_path / "FAConvLSTM-seed0" / "regime_statistics.png").stat().st_size > 5000


def test_demo_is_reproducible(tmp_path):
    from faconv.pipeline.demo import DemoConfig, run_demo

    cfg = DemoConfig(days=24, height=8, width=8, regimes=3, clusters=3, epochs=1, filters=8,
                     bottleneck=2, window=4, steps_per_day=1)  # fmt: skip
    a = run_demo(cfg, tmp_path / "a", progress=False)
    b = run_demo(cfg, tmp_path / "b", progress=False)
    for model in ("FAConvLSTM", "ConvLSTM"):
        ra, rb = a["runs"][model][0], b["runs"][model][0]
        assert {k: v for k, v in ra.items() if k != "train_seconds"} == {
            k: v for k, v in rb.items() if k != "train_seconds"
        }

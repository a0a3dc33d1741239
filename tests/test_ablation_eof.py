"""EOF analysis against known patterns, and the ablate command end to end."""

import csv
import json

import numpy as np
import pytest

from faconv.pipeline.ablation import ablation_variants
from faconv.pipeline.cli import main
from faconv.pipeline.eof import composite_eof_correlation, eofs
from tests.runs import small_run


def test_eofs_recover_planted_patterns_and_regimes_project_on_them():
    rng = np.random.default_rng(0)
    H, W, T = 10, 12, 400
    yy, xx = np.meshgrid(np.linspace(-1, 1, H), np.linspace(-1, 1, W), indexing="ij")
    p1, p2 = np.exp(-(xx**2 + yy**2) * 3), np.sin(np.pi * xx) * np.cos(np.pi * yy / 2)
    p1, p2 = p1 / np.linalg.norm(p1), p2 / np.linalg.norm(p2 - (p2 * p1).sum() * p1)
    labels = rng.integers(0, 2, T)
    pc1 = np.where(labels == 0, 3.0, -3.0) + rng.normal(0, 0.3, T)  # the regimes live on pattern 1
    pc2 = rng.normal(0, 1.0, T)
    fields = (pc1[:, None, None] * p1 + pc2[:, None, None] * p2)[..., None] * 10
    fields += rng.normal(0, 0.01, fields.shape)
    patterns, pcs, evr = eofs(fields, 3)
    assert abs(np.corrcoef(patterns[0].ravel(), p1.ravel())[0, 1]) > 0.99
    assert abs(np.corrcoef(pcs[:, 0], pc1)[0, 1]) > 0.99  # the principal component follows pc1
    assert evr[0] > evr[1] > evr[2] and evr[:2].sum() > 0.99
    regimes, corr = composite_eof_correlation(fields, labels, patterns)
    assert regimes == [0, 1]
    assert (
        abs(corr[0, 0]) > 0.99
        and abs(corr[1, 0]) > 0.99
        and np.sign(corr[0, 0]) != np.sign(corr[1, 0])
    )
    assert abs(corr[0, 1]) < 0.2
    # area weights: with a weight on each row the decomposition still recovers pattern 1
    w = np.cos(np.deg2rad(np.linspace(-60, 60, H)))[:, None] * np.ones((1, W))
    pw, _, _ = eofs(fields, 1, w)
    assert abs(np.corrcoef(pw[0].ravel(), p1.ravel())[0, 1]) > 0.98


def test_variants_cover_the_issue():
    v = ablation_variants({"encoder": [{"type": "fa_convlstm", "hidden_channels": 32}]})
    assert list(v) == ["FAConvLSTM (base)", "C_b = F/2", "C_b = F/4", "C_b = F/8", "K = 1",
                       "K = 4", "K = 8", "K = 16", "no SE", "no peepholes", "single kernel",
                       "no attention", "paper-literal head/decoder", "ConvLSTM"]  # fmt: skip
    cell = lambda name: v[name]["encoder"][0]  # noqa: E731
    assert cell("C_b = F/8")["bottleneck_channels"] == 4 and cell("K = 16")["attn_every"] == 16
    assert cell("no SE")["mixer"]["se"] is None and cell("no peepholes")["gate"]["peephole"] is None
    assert (
        cell("single kernel")["mixer"]["dilations"] == [1]
        and cell("no attention")["attention"] is None
    )
    assert cell("ConvLSTM") == {"type": "convlstm", "hidden_channels": 32}
    paper = v["paper-literal head/decoder"]
    assert paper["head"]["type"] == "subspace" and paper["decoder"]["type"] == "pointwise"
    assert paper["temporal"]["encoding"] == "qkv" and cell("paper-literal head/decoder") == cell(
        "FAConvLSTM (base)"
    )
    with pytest.raises(Exception, match="FAConvLSTM first encoder cell"):
        ablation_variants({"encoder": [{"type": "convlstm", "hidden_channels": 8}]})


def test_ablate_command_writes_tables_plot_and_interpretation(tmp_path, capsys, monkeypatch):
    from faconv.pipeline import ablation

    notes = []  # the verdict's notes (loss weights, calendar, variables), as compare's

    def recorded(data, cfg, labels):
        notes.extend(real(data, cfg, labels) + ["Note: the base model's notes."])
        return notes

    real = ablation.verdict_notes
    monkeypatch.setattr(ablation, "verdict_notes", recorded)
    cfg = small_run(32, {"epochs": 1, "batch_size": 4}, height=6, width=6)
    (tmp_path / "c.json").write_text(json.dumps(cfg))
    assert main(["ablate", "--config", str(tmp_path / "c.json"), "--seeds", "2", "--out", str(tmp_path / "a"),
                 "--no-progress"]) == 0  # fmt: skip
    out = tmp_path / "a"
    result = json.loads((out / "ablation.json").read_text())
    # 14 model variants and the classical methods beside them (EOF clustered both ways: the
    # default clusterer is the tied mixture)
    assert len(result["summary"]) == 14 + 4 and result["seeds"] == 2
    assert {"EOF (10) + KMeans", "EOF (10) + AR-HMM", "raw KMeans", "oracle"} <= set(
        result["summary"]
    )
    assert any("clustered with AR-HMM" in line for line in result["verdict"])
    assert result["verdict"][-len(notes) :] == notes
    base = result["summary"]["FAConvLSTM (base)"]
    for key in ("silhouette[clustered features]", "ari[planted regimes]", "macs_per_window",
                "explained_variance[anomalies]", "encoder_parameters", "train_seconds"):  # fmt: skip
        assert key in base
    assert (
        base["encoder_parameters"]["mean"]
        < result["summary"]["ConvLSTM"]["encoder_parameters"]["mean"]
    )
    assert (
        result["summary"]["no attention"]["macs_per_window"]["mean"]
        < base["macs_per_window"]["mean"]
    )
    assert any("classical method" in line for line in result["verdict"])
    with open(out / "ablation.csv") as f:
        assert len(list(csv.reader(f))) == 14 + 4 + 1
    md = (out / "ablation.md").read_text()
    assert "| C_b = F/8 |" in md and "±" in md and all(line in md for line in result["verdict"])
    assert (out / "ablation.png").stat().st_size > 5000 and (out / "interpretation.png").exists()
    assert np.array(result["interpretation"]["correlation"]).shape[1] == 4
    assert "EOF1" in (out / "interpretation.md").read_text()


def test_paper_config_is_valid():
    from pathlib import Path

    from faconv.pipeline.training import load_run_config

    cfg = load_run_config(Path(__file__).parents[1] / "examples" / "configs" / "paper_era5.yaml")
    assert cfg.data.variables == ["sp", "sst", "u10", "v10", "sshf", "slhf", "t2m"]
    assert cfg.data.box == [33, 43, -33, -23] and cfg.cluster.k == 7
    assert cfg.model["encoder"][0]["bottleneck_channels"] == 16

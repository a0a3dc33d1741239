"""Regime skill of the learned representation against the classical method, on generated data
with planted regimes (several settings, several seeds) and on real reanalysis fields.

For every generated setting it runs ``faconv compare`` with the default model (FAConvLSTM, and
ConvLSTM of the same width) beside EOF + KMeans, raw-field KMeans and the oracle (each day's
nearest planted pattern), and prints one row per setting with the issue's three criteria:

* FAConvLSTM ARI >= EOF + KMeans ARI + 0.05,
* FAConvLSTM ARI >= 0.9 x the oracle's ARI,
* FAConvLSTM ARI >= ConvLSTM ARI.

``--real`` adds real reanalysis that the ``eofs`` package ships (NCEP/NCAR winter-mean 500 hPa
heights over the North Atlantic, 1948-2012, and Pacific winter SST anomalies, 1963-2012;
``pip install eofs``; nothing is downloaded at run time): train + embed with the default model,
two clusters of the embeddings (``--method``; ``auto`` picks KMeans for these seasonal
means), and the correlation of the difference of the
two cluster composites with the leading EOF of the area-weighted anomalies (target |r| >= 0.9).

    python benchmarks/bench_regimes.py --seeds 3 --real        # about 40 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import copy
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from faconv.pipeline.clustering import CLUSTERERS, EMBEDDINGS, embedding_output, resolve_method
from faconv.pipeline.commands import run_compare
from faconv.pipeline.evaluation import ARI, embed, field_features
from faconv.pipeline.training import RunConfig, prepare_data, train_model

GRAPH_CELL = {
    "mixer": {"type": "graph_dw", "scales": [0, 1, 2]},
    "attention": {"type": "graph_sparse", "scales": [1, 2]},
}

#: name -> (generated-data settings, data-section extras, encoder-cell extras)
SETTINGS = {
    "built-in (demo data)": ({"steps_per_day": 4}, {}, {}),
    "generator seed 1": ({"seed": 1}, {}, {}),
    "generator seed 2": ({"seed": 2}, {}, {}),
    "higher noise (1.2)": ({"noise": 1.2}, {}, {}),
    "two years": ({"days": 730}, {}, {}),
    "larger region (32x48)": (
        {"height": 32, "width": 48, "lat_range": [28, 68], "lon_range": [-50, 20]},
        {},
        {},
    ),
    "global mesh (level 3)": (
        {"height": 32, "width": 64, "lat_range": [-90, 90], "lon_range": [-180, 180]},
        {"mesh_level": 3},
        GRAPH_CELL,
    ),
}

QUICK = {"days": 48, "height": 12, "width": 16, "regimes": 3}


def run_setting(name, seeds, epochs, out, quick, method="auto"):
    gen, data_extra, cell_extra = copy.deepcopy(SETTINGS[name])
    if quick:
        gen.update(QUICK)
    cell = {"type": "fa_convlstm", "hidden_channels": 8 if quick else 32, **cell_extra}
    cfg = RunConfig.from_dict(
        {
            "data": {"generated": gen, **data_extra},
            "model": {"encoder": [cell]},
            "train": {"epochs": epochs},
            "cluster": {"k": gen.get("regimes", 7), "method": method},
        }
    )
    result = run_compare(cfg, seeds, out, progress=False)
    return result["summary"]


def real_check(name, var, seeds, epochs, work, method="auto"):
    """Two-cluster composites of the embeddings against the leading EOF of real fields."""
    from eofs.examples import example_data_path
    from sklearn.cluster import KMeans

    from faconv.pipeline.training import DataConfig, TrainConfig

    data = prepare_data(DataConfig(path=example_data_path(name)), work)
    method = resolve_method(method, data.time)  # auto: KMeans for these seasonal means
    w = data.domain.point_weights(dtype=torch.float64).numpy()
    x = field_features(data.target.numpy(), w, data.mask.numpy())
    x = x - x.mean(0)
    eof1 = np.linalg.svd(x, full_matrices=False)[2][0]

    def corr(labels):
        d = x[labels == 0].mean(0) - x[labels == 1].mean(0)
        d, e = d - d.mean(), eof1 - eof1.mean()
        return abs(float(d @ e / np.linalg.norm(d) / np.linalg.norm(e)))

    raw = corr(KMeans(2, n_init=10, random_state=0).fit_predict(x))
    rs = []
    for seed in range(seeds):
        cfg = TrainConfig(epochs=epochs, seed=seed)
        model = train_model({}, data, cfg, Path(work) / f"{var}-{seed}", progress=False)["model"]
        emb = embed(model, data, cfg.window, output=EMBEDDINGS[embedding_output(method)])
        rs.append(corr(CLUSTERERS[method](2, seed, 10).fit_predict(emb)))
    return data, rs, raw, method


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--settings", default=",".join(SETTINGS), help="comma-separated setting names")
    p.add_argument("--seeds", type=int, default=3, help="training and KMeans seeds per setting")
    p.add_argument("--epochs", type=int, default=40, help="training epochs (the default)")
    p.add_argument("--real", action="store_true", help="also the real-reanalysis check (eofs)")
    p.add_argument(
        "--method",
        default="auto",
        help="cluster.method of the learned embeddings (auto, arhmm, hmm, gmm, kmeans)",
    )
    p.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test of the script")
    p.add_argument("--out", default=None, help="keep the runs here (default: a temporary folder)")
    args = p.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    out = Path(args.out or tempfile.mkdtemp(prefix="faconv-regimes-"))
    names = [n.strip() for n in args.settings.split(",") if n.strip()]
    print(
        f"# regime skill, {args.seeds} seed(s), {args.epochs} epochs, default model, learned "
        f"embeddings clustered with {args.method}; runs in {out}"
    )
    header = (
        "| setting | FAConvLSTM | ConvLSTM | EOF+KMeans | raw KMeans | oracle | "
        "FA-EOF (>=+0.05) | FA/oracle (>=0.90) | FA>=ConvLSTM |"
    )
    print(header + "\n|---|" + "---:|" * 8)
    rows = {}
    for name in names:
        t0 = time.perf_counter()
        slug = "".join(c for c in name if c.isalnum() or c in "-_")
        s = run_setting(name, args.seeds, args.epochs, out / slug, args.quick, args.method)
        eof_name = next(m for m in s if m.startswith("EOF") and m.endswith("KMeans"))
        fa, cv, eof, raw, orc = (
            s[m][ARI] for m in ("FAConvLSTM", "ConvLSTM", eof_name, "raw KMeans", "oracle")
        )
        gap, share = fa["mean"] - eof["mean"], fa["mean"] / max(orc["mean"], 1e-9)
        cells = [f"{v['mean']:.3f}±{v['std']:.3f}" for v in (fa, cv, eof, raw, orc)]
        marks = [
            f"{gap:+.3f} {'yes' if gap >= 0.05 else 'NO'}",
            f"{share:.2f} {'yes' if share >= 0.9 else 'NO'}",
            "yes" if fa["mean"] >= cv["mean"] else "NO",
        ]
        print(
            f"| {name} | " + " | ".join(cells + marks) + f" |  ({time.perf_counter() - t0:.0f} s)"
        )
        rows[name] = {k: v for k, v in s.items()}
    if args.real:
        print(
            f"\n| real data | samples | clusterer ({args.method}) | two clusters of the "
            "embeddings: abs(r) with EOF1 | raw fields (KMeans) | >= 0.9 |"
        )
        print("|---|---:|---|---:|---:|---|")
        for label, fname, var in (
            ("NCEP/NCAR DJF Z500, N Atlantic (NAO)", "hgt_djf.nc", "z"),
            ("NCEP/NCAR NDJFM SST anomalies, Pacific (ENSO)", "sst_ndjfm_anom.nc", "sst"),
        ):
            data, rs, raw, how = real_check(
                fname, var, args.seeds, args.epochs, out / "real", args.method
            )
            ok = "yes" if min(rs) >= 0.9 else "NO"
            print(
                f"| {label} | {data.num_steps} | {how} | {np.mean(rs):.3f} (min {min(rs):.3f}) | "
                f"{raw:.3f} | {ok} |"
            )
    (out / "summary.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()

"""Re-cluster the runs of ``bench_regimes.py --out DIR`` with every registered clusterer.

For every setting folder in DIR: the ARI against the planted regimes of the stored FAConvLSTM
and ConvLSTM embeddings clustered with each of ``CLUSTERERS`` (KMeans, the tied-covariance
Gaussian mixture, the hidden Markov model, the AR(1)-noise model; ``--methods`` picks some),
beside the classical EOF features clustered the same ways, one row per setting (mean over
the seeds found). Each clusterer reads the embedding ``cluster.embedding: auto`` gives it (the
head's per-step embedding for the HMMs, the refined one for KMeans and the mixture; the
refined one for runs stored before the head's was written); ``--embedding`` forces one. No training: 3-5 minutes per setting on 2 CPU cores with every clusterer.

    python benchmarks/bench_regimes.py --seeds 3 --out runs/regimes
    python benchmarks/recluster_regimes.py runs/regimes
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np
import xarray as xr

from faconv.pipeline.clustering import CLUSTERERS, EMBEDDINGS, embedding_output
from faconv.pipeline.evaluation import ARI, baselines, cluster_and_score
from faconv.pipeline.training import RunConfig, prepare_data


def learned(folder: Path, method: str, k: int, how: str, embedding: str = "auto") -> float:
    aris = []
    key = EMBEDDINGS[embedding_output(how, embedding)]
    for seed, path in enumerate(sorted(folder.glob(f"{method}-seed*/embeddings.nc"))):
        with xr.open_dataset(path) as ds:
            z = ds[key if key in ds else "embedding"].values
            planted = ds["planted_regime"].values
        aris.append(cluster_and_score(z, k, seed, planted=planted, method=how)[1][ARI])
    return float(np.mean(aris)) if aris else float("nan")


def classical(data, cfg: RunConfig, seeds: int, n_eofs: int, methods) -> dict[str, float]:
    found: dict[str, float] = {}
    for how in methods:
        runs = [
            baselines(data, cfg.cluster.k, s, cfg.cluster.n_init, n_eofs, how) for s in range(seeds)
        ]
        found.update({name: float(np.mean([r[name][1][ARI] for r in runs])) for name in runs[0]})
    return found


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("out", help="the --out folder of bench_regimes.py")
    p.add_argument("--eofs", default="10,20", help="numbers of EOFs for the classical rows")
    p.add_argument(
        "--methods",
        default=",".join(CLUSTERERS),
        help=f"clusterers to run, comma-separated (default: all, {','.join(CLUSTERERS)})",
    )
    p.add_argument(
        "--embedding",
        choices=("auto", *EMBEDDINGS),
        default="auto",
        help="which learned embedding each clusterer reads (default: auto, as cluster.embedding)",
    )
    args = p.parse_args()
    warnings.filterwarnings("ignore", category=RuntimeWarning)
    eofs = [int(n) for n in args.eofs.split(",")]
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in CLUSTERERS]
    if unknown or not methods:
        p.error(f"unknown --methods {unknown}; valid: {', '.join(CLUSTERERS)}")
    labels = [CLUSTERERS[m].label for m in methods]
    cols = [f"{m}+{how}" for m in ("FA", "ConvLSTM") for how in labels]
    cols += [f"EOF({n})+{how}" for n in eofs for how in labels] + ["oracle"]
    print("| setting | " + " | ".join(cols) + " |\n|---|" + "---:|" * len(cols))
    for folder in sorted(p for p in Path(args.out).iterdir() if (p / "compare.json").exists()):
        result = json.loads((folder / "compare.json").read_text())
        cfg = RunConfig.from_dict(result["config"])
        k, seeds = cfg.cluster.k, result["seeds"]
        row = [
            learned(folder, m, k, how, args.embedding)
            for m in ("FAConvLSTM", "ConvLSTM")
            for how in methods
        ]
        data = prepare_data(cfg.data, folder, val_fraction=cfg.train.val_fraction)
        found = {}
        for n in eofs:
            found.update(classical(data, cfg, seeds, n, methods))
        row += [found[f"EOF ({n}) + {how}"] for n in eofs for how in labels]
        row.append(found.get("oracle", float("nan")))
        print(f"| {folder.name} | " + " | ".join(f"{v:.3f}" for v in row) + " |", flush=True)


if __name__ == "__main__":
    main()

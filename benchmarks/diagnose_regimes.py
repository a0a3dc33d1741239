"""Where regime skill is lost: in the features, or in the unsupervised search for the regimes.

For every setting folder of ``bench_regimes.py --out DIR`` and every set of features (the
stored FAConvLSTM and ConvLSTM embeddings of each seed, and the EOF (10) features of the same
data), with the planted regimes known:

* ``probe``: 5-fold cross-validated accuracy of a logistic regression from the features to
  the planted regime (supervised: what the features hold);
* ``separability``: the sum of the ``K - 1`` discriminant eigenvalues, between- over
  within-regime covariance (how far apart the regimes are in the features' own noise metric);
* ``true start``: ARI of a tied-covariance Gaussian mixture started from the *true* regime
  means (the unsupervised model given the answer as its start);
* ``likeliest of N``: ARI of the likeliest of ``N`` tied mixtures started from KMeans (what
  maximum likelihood picks), beside how often the true start is the likelier;
* ``default``: ARI of the default clusterer (``cluster.method``).

The learned features are the embedding each run clustered (``clustered_embedding`` of its
``embeddings.nc``: the head's per-step embedding under the default ``arhmm``).

Equal probes and separability but different ``default`` ARIs mean the search, not the
features, makes the difference. No training: about a minute per setting on 2 CPU cores.

    python benchmarks/bench_regimes.py --seeds 3 --out runs/regimes
    python benchmarks/diagnose_regimes.py runs/regimes
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np
import torch
import xarray as xr
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from faconv.pipeline.clustering import CLUSTERERS
from faconv.pipeline.evaluation import eof_features
from faconv.pipeline.training import RunConfig, prepare_data

COLUMNS = ["probe", "separability", "true start", "likeliest of N", "true likelier", "default"]


def _mixture(z: np.ndarray, k: int, seed: int, means: np.ndarray | None = None):
    kw = {"means_init": means} if means is not None else {"init_params": "kmeans"}
    reg = 1e-6 * max(float(z.var(0).mean()), 1e-300)
    return GaussianMixture(
        k, covariance_type="tied", reg_covar=reg, max_iter=300, random_state=seed, **kw
    ).fit(z)


def diagnose(z: np.ndarray, planted: np.ndarray, method: str, starts: int, seed: int) -> list:
    """The :data:`COLUMNS` for one set of features ``(T, D)``."""
    z = z - z.mean(0)
    regimes = np.unique(planted)
    k, lab = len(regimes), np.searchsorted(regimes, planted)
    folds = min(5, int(np.bincount(lab).min()))
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    acc = cross_val_score(probe, z, lab, cv=folds).mean() if folds >= 2 else float("nan")
    means = np.stack([z[lab == r].mean(0) for r in range(k)])
    within = z - means[lab]
    sw = within.T @ within / len(z) + 1e-9 * np.eye(z.shape[1]) * z.var(0).mean()
    sb = (means.T * np.bincount(lab)) @ means / len(z)
    eig = np.sort(np.linalg.eigvals(np.linalg.solve(sw, sb)).real)[::-1][: k - 1]
    true = _mixture(z, k, seed, means)
    fits = [_mixture(z, k, seed * 1000 + s) for s in range(starts)]
    best = max(fits, key=lambda g: g.score(z))
    default = CLUSTERERS[method](k, seed).fit_predict(z)
    return [
        acc,
        float(eig.sum()),
        adjusted_rand_score(lab, true.predict(z)),
        adjusted_rand_score(lab, best.predict(z)),
        float(true.score(z) >= best.score(z)),
        adjusted_rand_score(lab, default),
    ]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("out", help="the --out folder of bench_regimes.py")
    p.add_argument("--starts", type=int, default=60, help="mixtures for 'likeliest of N'")
    p.add_argument("--eofs", type=int, default=10, help="EOFs of the classical features")
    args = p.parse_args()
    warnings.filterwarnings("ignore", category=RuntimeWarning)
    warnings.filterwarnings("ignore", message=".*converge.*")
    print(f"N = {args.starts}; mean over the seeds found; 'true likelier': share of seeds")
    print(
        "| setting | features | " + " | ".join(COLUMNS) + " |\n|---|---|" + "---:|" * len(COLUMNS)
    )
    for folder in sorted(p for p in Path(args.out).iterdir() if (p / "compare.json").exists()):
        result = json.loads((folder / "compare.json").read_text())
        cfg = RunConfig.from_dict(result["config"])
        method, rows = cfg.cluster.method, {}
        for name in ("FAConvLSTM", "ConvLSTM"):
            for seed, path in enumerate(sorted(folder.glob(f"{name}-seed*/embeddings.nc"))):
                with xr.open_dataset(path) as ds:
                    # the embedding the run clustered (the head's for the HMMs since it exists)
                    z = ds[ds.attrs.get("clustered_embedding", "embedding")].values
                    planted = ds["planted_regime"].values
                rows.setdefault(name, []).append(diagnose(z, planted, method, args.starts, seed))
        data = prepare_data(cfg.data, folder, val_fraction=cfg.train.val_fraction)
        w = data.domain.point_weights(dtype=torch.float64).numpy()
        eof = eof_features(data.target.numpy(), args.eofs, w, data.mask.numpy())
        rows[f"EOF ({args.eofs})"] = [
            diagnose(eof, data.labels, method, args.starts, s) for s in range(result["seeds"])
        ]
        for name, values in rows.items():
            m = np.nanmean(np.asarray(values, dtype=float), 0)
            cells = [f"{v:.3f}" if i != 1 else f"{v:.2f}" for i, v in enumerate(m)]
            print(f"| {folder.name} | {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()

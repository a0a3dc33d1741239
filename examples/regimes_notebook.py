"""Weather regimes the way a notebook user works: an xr.Dataset in, xarray objects out.

    python examples/regimes_notebook.py                 # generated data, ~2 minutes on 2 cores
    python examples/regimes_notebook.py --days 60 --epochs 2

Uses the built-in generated ERA5-like data (planted regimes, so the adjusted Rand index can be
printed); with your own data, pass any ``xr.Dataset`` with ``time, latitude, longitude``.
"""

from __future__ import annotations

import argparse

from sklearn.metrics import adjusted_rand_score

import faconv
import faconv.data


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--days", type=int, default=240)
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--k", type=int, default=4)
    p.add_argument("--save", default="regimes.pt")
    args = p.parse_args()

    ds = faconv.data.era5_like(days=args.days, height=12, width=16, regimes=args.k, seed=0)
    truth = ds["regime"].values
    ds = ds.drop_vars(["regime", "lsm"])  # a plain dataset of fields, as from open_era5

    est = faconv.RegimeEstimator(k=args.k, train={"epochs": args.epochs})
    labels = est.fit_predict(ds)  # DataArray (time,)
    print(labels)
    print(f"ARI against the planted regimes: {adjusted_rand_score(truth, labels.values):.3f}")
    reg = est.regimes(ds)  # composites on (regime, latitude, longitude), statistics
    print(reg["msl_composite"])
    print("mean persistence (days):", reg["persistence"].values.round(1))
    est.save(args.save)
    again = faconv.RegimeEstimator.load(args.save)
    assert (again.predict(ds) == labels).all()
    print(f"saved and reloaded {args.save}")


if __name__ == "__main__":
    main()

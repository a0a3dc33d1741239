"""The whole pipeline on a lat-lon grid: train FAConvLSTM, embed every day, cluster into
regimes, write metrics, figures and a report.

    python examples/era5_grid.py                         # built-in generated ERA5-like data
    python examples/era5_grid.py era5_2021.nc            # your CDS NetCDF file(s) or Zarr store
    python examples/era5_grid.py "era5_*.nc" --box 33 43 -33 -23 --epochs 20 --k 7

Real data: any ERA5 NetCDF from the Copernicus CDS (old `time` or new `valid_time` files) or a
Zarr store (ARCO-ERA5, WeatherBench2); see the README's "Real ERA5" section.
"""

import argparse

from faconv.pipeline.commands import run_cluster, run_embed, run_train
from faconv.pipeline.training import RunConfig

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
p.add_argument("data", nargs="*", help="ERA5 files / globs / Zarr store (default: generated)")
p.add_argument("--variables", nargs="+", default=None)
p.add_argument("--box", nargs=4, type=float, metavar=("S", "N", "W", "E"), default=None)
p.add_argument("--days", type=int, default=120, help="generated data only")
p.add_argument("--epochs", type=int, default=3)
p.add_argument("--k", type=int, default=7)
p.add_argument("--out", default="faconv-out/era5_grid")
args = p.parse_args()

cfg = RunConfig.from_dict({
    "data": {"path": (args.data if len(args.data) > 1 else args.data[0]) if args.data else None,
             "variables": args.variables, "box": args.box,
             "generated": {"days": args.days, "height": 16, "width": 16, "regimes": args.k,
                           "steps_per_day": 4}},
    "model": {"encoder": [{"type": "fa_convlstm", "hidden_channels": 32, "attn_every": 4}]},
    "train": {"epochs": args.epochs, "batch_size": 8, "window": 8, "stride": 8},
    "cluster": {"k": args.k},
})  # fmt: skip
trained = run_train(cfg, f"{args.out}/train")
emb = run_embed(f"{args.out}/train/checkpoint.pt", cfg, f"{args.out}/embed")
result = run_cluster(emb, args.k, f"{args.out}/cluster", maps_from=cfg)
for key, value in result["scores"].items():
    print(f"{key:<36}{value:>10.4f}")
print(f"report: {args.out}/cluster/report.md")

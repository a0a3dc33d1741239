"""Training on a store larger than memory: throughput under an enforced memory limit.

Writes a daily ERA5-like Zarr store (7 variables, NaN SST over land) several times larger
than a memory limit, then runs ``faconv train`` for one epoch in a child process whose address
space is capped with ``RLIMIT_AS`` (a resource limit: exceeding it fails the process), with
``data.in_memory: false`` (windows read from the store when needed, statistics and climatology
fitted by dask reductions over the training period), once without and once with DataLoader
workers (the child runs with ``MALLOC_ARENA_MAX=2``: the limit is on address space, which
glibc's per-thread arenas would otherwise reserve by the 64 MiB). For comparison it runs the in-memory path on a store that fits (the same grid, fewer
days) and shows that the in-memory path on the large store is refused under the limit. It
prints windows per second of the epoch (training and validation windows) for each run.

    python benchmarks/bench_out_of_core.py                      # 6 GiB store, 2 GiB limit
    python benchmarks/bench_out_of_core.py --store-gib 1 --limit-gib 1.5   # a quick check

Windows are subsampled in time (``--stride``) so that an epoch takes minutes on a CPU: the
point is that memory does not grow with the store, not the epoch of a 30-year record.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

sys.path.insert(0, str(Path(__file__).parent))
from _common import header

VARIABLES = ("msl", "sp", "t2m", "u10", "v10", "sst", "tcwv")


def write_store(path: Path, days: int, height: int, width: int, chunk: int = 64) -> int:
    """Append ``days`` daily fields chunk by chunk (never more than one chunk in memory):
    an annual cycle, travelling waves and noise per variable; SST NaN over a land mask."""
    rng = np.random.default_rng(0)
    lat = np.linspace(70, 20, height)
    lon = np.linspace(-60, 30, width, endpoint=False)
    yy, xx = np.meshgrid(np.deg2rad(lat), np.deg2rad(lon), indexing="ij")
    land = (np.sin(3 * xx) + np.cos(4 * yy)) > 1.2
    time0 = pd.Timestamp("1990-01-01")
    for lo in range(0, days, chunk):
        n = min(chunk, days - lo)
        t = np.arange(lo, lo + n)[:, None, None]
        season = np.cos(2 * np.pi * t / 365.25)
        data = {}
        for k, v in enumerate(VARIABLES):
            wave = np.sin(2 * xx[None] - 0.3 * t + k) * np.cos(3 * yy[None] + 0.1 * t)
            a = 10 * season + 5 * wave + rng.standard_normal((n, height, width))
            if v == "sst":
                a = np.where(land[None], np.nan, a)
            data[v] = (("time", "latitude", "longitude"), a.astype(np.float32))
        ds = xr.Dataset(
            data,
            coords={
                "time": pd.date_range(time0 + pd.Timedelta(days=lo), periods=n, freq="D"),
                "latitude": lat,
                "longitude": lon,
            },
        )
        chunks = {"time": chunk, "latitude": height, "longitude": width}
        ds = ds.chunk(chunks)
        if lo == 0:
            ds.to_zarr(path, mode="w", consolidated=True)
        else:
            ds.to_zarr(path, append_dim="time", consolidated=True)
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


# RLIMIT_AS caps address space, not resident memory: glibc's per-thread malloc arenas (64 MiB
# of address space each, for every thread of zarr, dask and torch) would exhaust it with little
# memory in use; two arenas is the usual setting for memory-capped services.
CHILD_ENV = {**os.environ, "MALLOC_ARENA_MAX": "2", "PYTHONWARNINGS": "ignore"}

CHILD = """
import resource, sys, json, time
limit = int(sys.argv[1])
if limit:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from faconv.pipeline.training import RunConfig, prepare_data, train_model
cfg = RunConfig.from_dict(json.loads(sys.argv[2]))
t0 = time.perf_counter()
data = prepare_data(cfg.data, sys.argv[3], val_fraction=cfg.train.val_fraction)
t1 = time.perf_counter()
res = train_model(cfg.model, data, cfg.train, sys.argv[3], progress=False)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
vm_peak = int(status.get("VmPeak", "0 kB").split()[0]) * 1024
print(json.dumps({"prepare_s": t1 - t0, "epoch_s": res["history"]["seconds"][0],
                  "peak_rss": peak, "vm_peak": vm_peak, "steps": data.num_steps}))
"""


def run_child(store: Path, in_memory: bool, workers: int, limit: int, args, work: Path):
    from faconv.data.windows import split_windows

    cfg = {
        "data": {"path": str(store), "in_memory": in_memory},
        "model": {"encoder": [{"type": "fa_convlstm", "hidden_channels": args.filters}]},
        "train": {
            "epochs": 1,
            "batch_size": args.batch,
            "window": args.window,
            "stride": args.stride,
            "num_workers": workers,
        },
    }
    out = Path(tempfile.mkdtemp(dir=work))
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(limit), json.dumps(cfg), str(out)],
        capture_output=True,
        text=True,
        env=CHILD_ENV,
    )
    wall = time.perf_counter() - t0
    shutil.rmtree(out, ignore_errors=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return {"error": last[:160], "wall_s": wall}
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    train, val = split_windows(r["steps"], args.window, args.stride, 0.2)
    r["windows"] = len(train) + len(val)
    r["windows_per_s"] = r["windows"] / r["epoch_s"]
    r["wall_s"] = wall
    return r


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--store-gib", type=float, default=6.0, help="size of the large store")
    p.add_argument("--limit-gib", type=float, default=2.0, help="RLIMIT_AS of the training")
    p.add_argument("--height", type=int, default=64)
    p.add_argument("--width", type=int, default=128)
    p.add_argument("--window", type=int, default=8)
    p.add_argument("--stride", type=int, default=0, help="window stride (0: ~120 windows)")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--filters", type=int, default=8)
    p.add_argument("--workers", type=int, default=2, help="DataLoader workers of the 3rd run")
    p.add_argument("--work", default=None, help="folder for the stores (default: a temp dir)")
    p.add_argument("--reuse", action="store_true", help="keep stores of the right size in --work")
    p.add_argument("--rows", default="1,2,3,4", help="which runs of the table (1-based)")
    args = p.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="faconv-ooc-"))
    work.mkdir(parents=True, exist_ok=True)
    per_day = len(VARIABLES) * 4 * args.height * args.width
    big_days = int(args.store_gib * 2**30 / per_day)
    small_days = max(4 * args.window, big_days // 8)
    limit = int(args.limit_gib * 2**30)
    print(
        header(
            f"out-of-core training, grid {args.height}x{args.width}, 7 variables, "
            f"RLIMIT_AS {args.limit_gib:g} GiB, FAConvLSTM {args.filters} filters, "
            f"batch {args.batch}, window {args.window}"
        )
    )
    stores = {}
    for name, days in (("large", big_days), ("fits", small_days)):
        t0 = time.perf_counter()
        path = work / f"{name}.zarr"
        if args.reuse and path.exists() and xr.open_zarr(path).sizes["time"] == days:
            size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
        else:
            size = write_store(path, days, args.height, args.width)
        stores[name] = (work / f"{name}.zarr", days, size)
        print(
            f"# the {name} store: {days} days, {size / 2**30:.2f} GiB on disk "
            f"({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )
    rows = [
        ("in memory, store that fits", "fits", True, 0, 0),
        ("out of core, large store", "large", False, 0, limit),
        (f"out of core, large store, {args.workers} workers", "large", False, args.workers, limit),
        ("in memory, large store", "large", True, 0, limit),
    ]
    cols = (
        f"{'run':<44}{'store GiB':>10}{'limit GiB':>10}{'windows':>8}{'prepare s':>10}"
        f"{'epoch s':>9}{'windows/s':>10}{'peak RSS GiB':>13}{'peak VM GiB':>12}"
    )
    print(cols)
    print("-" * len(cols))
    wanted = {int(i) - 1 for i in args.rows.split(",")}
    for label, which, in_memory, workers, lim in (r for i, r in enumerate(rows) if i in wanted):
        path, days, size = stores[which]
        args_run = argparse.Namespace(**vars(args))
        if not args.stride:  # about 120 windows per epoch on either store
            args_run.stride = max(args.window, days // 120)
        r = run_child(path, in_memory, workers, lim, args_run, work)
        lim_s = f"{lim / 2**30:.1f}" if lim else "none"
        if "error" in r:
            print(f"{label:<44}{size / 2**30:>10.2f}{lim_s:>10}  refused: {r['error']}")
            continue
        print(
            f"{label:<44}{size / 2**30:>10.2f}{lim_s:>10}{r['windows']:>8}{r['prepare_s']:>10.1f}"
            f"{r['epoch_s']:>9.1f}{r['windows_per_s']:>10.2f}{r['peak_rss'] / 2**30:>13.2f}"
            f"{r['vm_peak'] / 2**30:>12.2f}",
            flush=True,
        )
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

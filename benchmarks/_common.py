"""Shared helpers of the benchmark scripts: timing, the allocator setting, the header line."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import torch

import faconv

# glibc returns freed blocks above its mmap threshold (at most 32 MiB, adaptive) to the OS and
# page-faults them back on the next allocation. Eager PyTorch on CPU allocates fresh
# activations every step, so both layers pay this on every step. Fixing the thresholds keeps
# freed memory in the heap, like the caching allocators (jemalloc, tcmalloc) that PyTorch's CPU
# performance guide recommends. It changes no numbers, only where memory comes from.
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(1 << 30), "MALLOC_TRIM_THRESHOLD_": str(1 << 30)}


def allocator_setting() -> str:
    tuned = all(os.environ.get(k) == v for k, v in MALLOC_ENV.items())
    return "glibc thresholds fixed (MALLOC_*_THRESHOLD_=1 GiB)" if tuned else "glibc default"


def reexec_with_allocator(malloc: str) -> None:
    """Re-run this script with the glibc thresholds set (they are read at process start)."""
    if malloc != "tuned" or sys.platform != "linux" or allocator_setting() != "glibc default":
        return
    env = {**os.environ, **MALLOC_ENV}
    raise SystemExit(subprocess.call([sys.executable, *sys.argv], env=env))


def median_time(fn: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    """Median wall time of ``fn`` over ``repeats`` runs after ``warmup`` runs (seconds)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def interleaved_medians(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median wall time of each function, the functions run in turn within every repeat (so a
    change of machine load hits all of them alike), after one warm-up run each (seconds)."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            fn()
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in times.items()}


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    cap = torch.backends.cpu.get_cpu_capability()
    return f"{cpu} ({cap}), {torch.get_num_threads()} threads"


def gate_kernel() -> str:
    """Which fused-gate path the FAConvLSTM rows run on CPU (``FACONV_NATIVE``)."""
    from faconv.functional import native

    return "gate: C kernel" if native.available() else "gate: eager (C kernel not in use)"


def header(extra: str) -> str:
    return (
        f"faconv {faconv.__version__}, torch {torch.__version__}, {machine()}, "
        f"{allocator_setting()}, {gate_kernel()}; {extra}"
    )


def fit_exponent(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of log(y) against log(x): ``y ∝ x^slope``."""
    import math

    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    num = sum((a - mx) * (b - my) for a, b in zip(lx, ly))
    den = sum((a - mx) ** 2 for a in lx)
    return num / den

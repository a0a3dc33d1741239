"""The benchmark scripts run end to end (tiny sizes) and print their tables; a broken script
should fail here, not when someone wants the numbers."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CASES = {
    "bench_grid.py": ["--grids", "8x8", "--batch", "1", "--steps", "2", "--repeats", "1",
                      "--bandwidth-mib", "8", "--save-gates"],
    "bench_mesh.py": ["--levels", "2", "--batch", "1", "--steps", "2", "--repeats", "1",
                      "--backward"],
    "bench_memory.py": ["--steps", "2,4", "--size", "8", "--batch", "1", "--chunk", "2"],
    "bench_scaling.py": ["--steps", "2,4", "--grids", "8x8,8x16", "--levels", "2,3",
                         "--repeats", "1", "--backward"],
    "bench_regimes.py": ["--quick", "--seeds", "1", "--epochs", "1",
                         "--settings", "built-in (demo data),global mesh (level 3)"],
    "bench_independent.py": ["--seeds", "1", "--epochs", "1", "--days", "120", "--variables",
                             "msl", "sst"],
}  # fmt: skip

EXPECT = {
    "bench_grid.py": [
        "fastest/FA",
        "plain ConvLSTM",
        "plain/ConvLSTM2D",
        "roofline",
        "fastest/FA save",
    ],
    "bench_mesh.py": ["mesh L2", "mesh/grid per point"],
    "bench_memory.py": ["peak MiB", "ckpt 2 MiB"],
    "bench_scaling.py": ["exponent", "mesh"],
    "bench_regimes.py": ["FA-EOF (>=+0.05)", "| global mesh (level 3) |"],
    "bench_independent.py": ["| EOF (10) + KMeans |", "EOF (20) + AR-HMM ARI", "/ oracle"],
}


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(CASES))
def test_benchmark_script_runs(script):
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *CASES[script]],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    for text in EXPECT[script]:
        assert text in out.stdout, out.stdout
    if script not in (
        "bench_regimes.py",
        "bench_independent.py",
    ):  # the speed benchmarks state their allocator settings
        assert "glibc thresholds fixed" in out.stdout or "glibc default" in out.stdout


@pytest.mark.slow
def test_recluster_script_reads_a_bench_regimes_folder(tmp_path):
    run = [sys.executable, str(ROOT / "benchmarks" / "bench_regimes.py"), "--quick", "--seeds",
           "1", "--epochs", "1", "--settings", "built-in (demo data)", "--out", str(tmp_path)]  # fmt: skip
    assert (
        subprocess.run(run, capture_output=True, text=True, timeout=300, cwd=ROOT).returncode == 0
    )
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "recluster_regimes.py"), str(tmp_path),
         "--eofs", "4", "--methods", "kmeans,arhmm"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert "FA+KMeans" in out.stdout and "FA+AR-HMM" in out.stdout and "FA+GMM" not in out.stdout
    assert "EOF(4)+AR-HMM" in out.stdout and "| built-indemodata |" in out.stdout
    row = next(line for line in out.stdout.splitlines() if line.startswith("| built-in"))
    values = [float(v) for v in row.strip("| ").split(" | ")[1:]]
    assert len(values) == 3 * 2 + 1 and all(-1.0 <= v <= 1.0 for v in values)  # ARIs
    # the diagnosis of the same runs: probe accuracy, separability, ARIs, a share
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "diagnose_regimes.py"), str(tmp_path),
         "--starts", "3", "--eofs", "4"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    rows = [line for line in out.stdout.splitlines() if line.startswith("| built-in")]
    assert [r.split(" | ")[1] for r in rows] == ["FAConvLSTM", "ConvLSTM", "EOF (4)"], rows
    for r in rows:
        probe, separability, *aris = (float(v) for v in r.strip("| ").split(" | ")[2:])
        assert 0.0 <= probe <= 1.0 and separability > 0.0
        assert len(aris) == 4 and all(-1.0 <= v <= 1.0 for v in aris)

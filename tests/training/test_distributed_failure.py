"""When one torchrun worker dies, the run stops with a clear error within a bounded time
instead of hanging, and the checkpoint on disk stays intact."""

import json
import subprocess
import sys
import time

import pytest
import torch.distributed as dist

from faconv.pipeline.training import load_checkpoint
from tests.runs import small_run

pytestmark = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()), reason="needs torch.distributed + gloo"
)

# rank 1 dies abruptly (os._exit, no cleanup) at its 5th optimiser step
WORKER = """
import os, sys, torch
import torch.distributed as dist
from faconv.pipeline.cli import main
real_step = torch.optim.AdamW.step
calls = {"n": 0}
def step(self, *a, **k):
    calls["n"] += 1
    if int(os.environ["RANK"]) == 1 and calls["n"] == 5:
        os._exit(17)
    return real_step(self, *a, **k)
torch.optim.AdamW.step = step
sys.exit(main(sys.argv[1:]))
"""

RUN = small_run(40, {"epochs": 4, "batch_size": 2, "checkpoint_every": 2}, clusters=None)


def test_a_dying_worker_stops_the_run_quickly_and_keeps_checkpoints(tmp_path):
    (tmp_path / "run.json").write_text(json.dumps(RUN))
    (tmp_path / "worker.py").write_text(WORKER)
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         str(tmp_path / "worker.py"), "train", "--config", str(tmp_path / "run.json"),
         "--out", str(tmp_path / "out"), "--no-progress"],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    elapsed = time.monotonic() - t0
    assert proc.returncode != 0
    assert elapsed < 120, f"took {elapsed:.0f} s to stop"
    assert (
        "exitcode  : 17" in proc.stderr
        or "exit code 17" in proc.stderr.lower()
        or "17" in proc.stderr
    )
    ck = load_checkpoint(tmp_path / "out" / "checkpoint.pt")  # intact and loadable
    assert 0 < int(ck["step"]) < 5

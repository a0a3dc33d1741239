"""Training survives SIGKILL at random moments (also during checkpoint writes): every
checkpoint on disk stays loadable, and the resumed run ends with exactly the weights of an
uninterrupted run with the same seed (CPU)."""

import json
import random
import signal
import subprocess
import sys
import time

import pytest
import torch

from faconv.pipeline.training import load_checkpoint
from tests.runs import small_run

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")

# a checkpoint after every step: kills land inside checkpoint writes as well
CFG = small_run(40, {"epochs": 10, "batch_size": 1, "checkpoint_every": 1}, clusters=None)


def _train(cfg_path, out, resume):
    args = [sys.executable, "-m", "faconv.pipeline.cli", "train", "--config", str(cfg_path), "--out",
            str(out), "--no-progress"] + (["--resume"] if resume else [])  # fmt: skip
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_sigkill_at_random_moments_then_resume(tmp_path):
    cfg = tmp_path / "run.json"
    cfg.write_text(json.dumps(CFG))
    ref = _train(cfg, tmp_path / "ref", resume=False)
    assert ref.wait(timeout=300) == 0, ref.stderr.read()
    reference = load_checkpoint(tmp_path / "ref" / "checkpoint.pt")

    rng = random.Random(1234)
    total = int(reference["step"])
    out, steps = tmp_path / "run", [0]
    for _ in range(4):
        proc = _train(cfg, out, resume=True)
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:  # wait for real progress
            path = out / "checkpoint.pt"
            if path.exists() and int(load_checkpoint(path)["step"]) > steps[-1]:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "training finished before it could be interrupted"
        time.sleep(rng.uniform(0.0, 0.4))  # a random moment: mid-step or mid-checkpoint-write
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        steps.append(int(load_checkpoint(out / "checkpoint.pt")["step"]))  # never corrupt
    assert steps == sorted(steps) and steps[-1] < total, steps  # progress, then interrupted
    print("checkpoint step after each kill:", steps[1:], "of", total)
    final = _train(cfg, out, resume=True)
    assert final.wait(timeout=300) == 0, final.stderr.read()
    result = load_checkpoint(out / "checkpoint.pt")
    assert int(result["step"]) == int(reference["step"])
    for k in reference["model"]:
        assert torch.equal(result["model"][k], reference["model"][k]), k
    assert json.loads(result["history"])["train"] == json.loads(reference["history"])["train"]
    assert not list(out.glob("checkpoint.pt*.tmp"))  # stale checkpoint temporaries are cleared

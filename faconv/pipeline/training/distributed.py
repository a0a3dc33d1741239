"""Data-parallel helpers: rank and world size, barriers, collectives that fail clearly, and
the global loss normalisation that makes torchrun equal single-process training."""

from __future__ import annotations

import contextlib
from pathlib import Path

import torch

from faconv.errors import DistributedError

__all__ = ["barrier", "collective_guard", "global_norms", "rank_and_size", "zero_loss"]


def rank_and_size() -> tuple[int, int]:
    """(rank, world size) when running under torch.distributed (torchrun), else (0, 1)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def barrier(size: int) -> None:
    if size > 1:
        import torch.distributed as dist

        with collective_guard(None, None):
            dist.barrier()


@contextlib.contextmanager
def collective_guard(step: int | None, out: Path | None, active: bool = True):
    """Turn a failed collective (a worker died, a timeout) into one clear error."""
    if not active:
        yield
        return
    try:
        yield
    except RuntimeError as exc:
        where = "" if step is None else f" at step {step}"
        ckpt = ""
        if out is not None:
            ckpt = (
                f"; the last checkpoint in {out} is intact: rerun with --resume"
                if (out / "checkpoint.pt").exists()
                else "; no checkpoint was written yet"
            )
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise DistributedError(
            f"data-parallel training stopped{where}: a collective operation failed ({first}); "
            f"another worker probably died or timed out{ckpt}"
        ) from exc


def global_norms(data, batch, count: int, size: int, device):
    """(world size, total loss weight, number of windows) of the whole global batch: each rank
    adds the area-and-mask weight of its own shard (``batch``, ``None`` when empty) and one
    all-reduce sums them, so no rank reads another's windows."""
    w = data.domain.point_weights(device, torch.float64)
    local = torch.zeros((), dtype=torch.float64, device=device)
    if batch is not None:
        m = batch[2].to(device, torch.float64)
        local = (w.view(*w.shape, 1) * m).sum()
    torch.distributed.all_reduce(local)
    return size, float(local), count


def zero_loss(net) -> torch.Tensor:
    """A rank with an empty shard still joins the gradient all-reduce (with zero gradient)."""
    return sum(p.sum() * 0.0 for p in net.parameters())

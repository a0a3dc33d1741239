"""Training: seeded, AdamW with clipping, mask-aware loss, atomic checkpoints, exact resume."""

from __future__ import annotations

import contextlib
import json
import math
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from faconv.data.windows import split_windows
from faconv.errors import DataError, DistributedError, NumericalError
from faconv.losses import laplacian_penalty, reconstruction_loss
from faconv.registry import build
from faconv.training.checkpoint import (
    CheckpointError,
    config_json,
    load_checkpoint,
    normalizer_from_checkpoint,
    normalizer_payload,
    save_checkpoint,
)
from faconv.training.config import TrainConfig
from faconv.training.data import Prepared

__all__ = ["model_config_for", "train_model"]

CHECKPOINT = "checkpoint.pt"


def model_config_for(model_section: dict, data: Prepared) -> dict:
    """The full ``RepresentationModel`` config: the user's section with the data's wiring.

    Besides the channel counts, a head or decoder that keeps its *default* number of regions
    gets at most one region per point of the data's domain (small test grids); a number the
    user set is left alone, and is refused by the domain if it does not fit.
    """
    cfg = {"type": "representation", **model_section}
    cfg["in_channels"] = data.inputs.shape[-1]
    cfg["out_channels"] = len(data.variables)
    full = build(cfg, kind="model").to_config()  # validates and fills every default
    n = data.domain.num_points
    for part in ("head", "decoder"):
        given = model_section.get(part)
        user_set = isinstance(given, dict) and "regions" in given
        if not user_set and full[part].get("regions", 0) > n:
            full[part]["regions"] = n
    return build(full, kind="model").to_config()


def learning_rate(cfg: TrainConfig, step: int, total: int) -> float:
    """The learning rate of optimiser step ``step`` (0-based) of ``total``: constant, or a
    cosine decay from ``lr`` to ``lr / 100`` after a warm-up of 5 % of the steps."""
    if cfg.lr_schedule == "constant":
        return cfg.lr
    warm = max(1, round(0.05 * total))
    if step < warm:
        return cfg.lr * (step + 1) / warm
    progress = min(1.0, (step - warm) / max(1, total - warm))
    return cfg.lr * (0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * progress)))


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _batch(data: Prepared, starts: list[int], length: int, device):
    sl = [slice(s, s + length) for s in starts]
    x = torch.stack([data.inputs[s] for s in sl]).to(device)
    y = torch.stack([data.target[s] for s in sl]).to(device)
    m = torch.stack([data.mask[s] for s in sl]).to(device)
    doy = torch.stack([data.day_of_year[s] for s in sl]).to(device)
    return x, y, m, doy


def _loss(model, batch, data: Prepared, cfg: TrainConfig, device, world=None) -> torch.Tensor:
    """Mask-aware area-weighted loss of a (shard of a) batch.

    In data-parallel training (``world = (size, global_weight, global_count)``) each rank's
    sums are divided by the *global* normalisers and scaled by the world size, so that DDP's
    gradient average equals the single-process gradient of the whole global batch.
    """
    x, y, m, doy = batch
    amp = cfg.amp and device.type == "cuda"
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
        recon = model(x, data.domain, doy)["reconstruction"].float()
    if world is None:
        loss = reconstruction_loss(recon, y, data.domain, m)
        if cfg.laplacian_weight:
            loss = loss + cfg.laplacian_weight * laplacian_penalty(recon, data.domain)
        return loss
    size, weight, count = world
    w = data.domain.point_weights(recon.device, recon.dtype)
    w = w.view(*([1] * (recon.dim() - w.dim() - 1)), *w.shape, 1) * m
    loss = size * (w * (recon - y) ** 2).sum() / weight
    if cfg.laplacian_weight:
        share = recon.shape[0] / count
        loss = loss + size * share * cfg.laplacian_weight * laplacian_penalty(recon, data.domain)
    return loss


def _dist() -> tuple[int, int]:
    """(rank, world size) when running under torch.distributed (torchrun), else (0, 1)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def train_model(
    model_section: dict,
    data: Prepared,
    cfg: TrainConfig,
    out_dir: str | Path,
    resume: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Train a ``RepresentationModel`` on ``data``; checkpoints go to ``out_dir/checkpoint.pt``.

    The shuffling order of epoch ``e`` depends only on ``(seed, e)`` and the checkpoint records
    the position inside the epoch, the optimiser state and the RNG state, so a run killed and
    resumed with ``resume=True`` ends with exactly the weights of an uninterrupted run (CPU).

    Raises:
        CheckpointError: ``resume`` with a checkpoint from another model config or other
            variables, or a corrupted checkpoint.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rank, size = _dist()
    if rank == 0:  # temporary files of a writer that was killed mid-write
        for stale in out.glob(f"{CHECKPOINT}.*.tmp"):
            stale.unlink(missing_ok=True)
    device = _device(cfg.device)
    if size > 1 and device.type == "cuda":
        device = torch.device("cuda", rank % torch.cuda.device_count())
    model_cfg = model_config_for(model_section, data)
    if cfg.deterministic:  # CPU runs are deterministic anyway; this pins GPU kernels too
        import os

        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
    torch.manual_seed(cfg.seed)
    model = build(model_cfg, kind="model").to(device)
    net = model
    if size > 1:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    train_w, val_w = split_windows(data.num_steps, cfg.window, cfg.stride, cfg.val_fraction)
    if not train_w:
        raise DataError("no training window fits; use a shorter window or more data")
    n_batches = math.ceil(len(train_w) / cfg.batch_size)
    epoch, batch_i, step, history = 0, 0, 0, {"train": [], "val": [], "seconds": []}
    epoch_losses: list[float] = []  # losses of the current epoch (checkpointed too)
    if resume and (out / CHECKPOINT).exists():
        ckpt = load_checkpoint(out / CHECKPOINT, expect_config=model_cfg)
        saved_vars = normalizer_from_checkpoint(ckpt, out / CHECKPOINT).variables
        if saved_vars != data.variables:
            raise CheckpointError(
                f"the checkpoint was trained on variables {saved_vars}, the data has {data.variables}"
            )
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        torch.set_rng_state(ckpt["rng_state"])
        epoch, batch_i, step = int(ckpt["epoch"]), int(ckpt["batch"]), int(ckpt["step"])
        history = json.loads(ckpt["history"])
        epoch_losses = history.pop("current_epoch_losses", [])

    def checkpoint():
        if rank != 0:  # one writer; the others wait so nobody races ahead of a checkpoint
            _barrier(size)
            return
        save_checkpoint(out / CHECKPOINT, {
            "model_config": config_json(model_cfg), "model": model.state_dict(),
            "optimizer": opt.state_dict(), **normalizer_payload(data.normalizer),
            "train_config": json.dumps(asdict(cfg)), "epoch": epoch, "batch": batch_i,
            "step": step, "history": json.dumps({**history, "current_epoch_losses": epoch_losses}),
            "rng_state": torch.get_rng_state(),
        })  # fmt: skip
        _barrier(size)

    bar = tqdm(total=cfg.epochs * n_batches, initial=epoch * n_batches + batch_i,
               desc="train", disable=not progress or rank != 0)  # fmt: skip
    t_epoch = time.perf_counter()
    while epoch < cfg.epochs:
        order = torch.randperm(
            len(train_w), generator=torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
        ).tolist()
        model.train()
        while batch_i < n_batches:
            lo, hi = batch_i * cfg.batch_size, (batch_i + 1) * cfg.batch_size
            starts = [train_w[i] for i in order[lo:hi]]
            if size > 1:  # every rank takes an interleaved shard of the same global batch
                world = _global_norms(data, starts, cfg.window, size, device)
                mine = starts[rank::size]
                shard = _batch(data, mine, cfg.window, device) if mine else None
                loss = _loss(net, shard, data, cfg, device, world) if mine else _zero_loss(net)
                report = loss.detach().clone()
                with _collective_guard(step, out):
                    torch.distributed.all_reduce(report)
                report = report / size
            else:
                loss = _loss(net, _batch(data, starts, cfg.window, device), data, cfg, device)
                report = loss.detach()
            if not torch.isfinite(report):
                raise NumericalError(
                    f"non-finite training loss at step {step}: the run diverged; lower the "
                    "learning rate or keep gradient clipping on (the last checkpoint is intact)"
                )
            opt.zero_grad(set_to_none=True)
            with _collective_guard(step, out, active=size > 1):  # DDP all-reduces gradients here
                loss.backward()
            if cfg.clip_norm:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_norm)
            for group in opt.param_groups:  # a function of the step alone: resume-exact
                group["lr"] = learning_rate(cfg, step, cfg.epochs * n_batches)
            opt.step()
            epoch_losses.append(report.item())
            batch_i, step = batch_i + 1, step + 1
            bar.update()
            bar.set_postfix(train=f"{np.mean(epoch_losses):.4f}",
                            val=f"{history['val'][-1]:.4f}" if history["val"] else "-")  # fmt: skip
            if cfg.checkpoint_every and step % cfg.checkpoint_every == 0 and batch_i < n_batches:
                checkpoint()
        model.eval()
        with torch.no_grad():
            vals = [
                _loss(model, _batch(data, [s], cfg.window, device), data, cfg, device).item()
                for s in val_w
            ]
        history["train"].append(float(np.mean(epoch_losses)))
        history["val"].append(float(np.mean(vals)) if vals else float("nan"))
        history["seconds"].append(time.perf_counter() - t_epoch)
        t_epoch, epoch, batch_i, epoch_losses = time.perf_counter(), epoch + 1, 0, []
        checkpoint()
    bar.close()
    if rank == 0:
        (out / "history.json").write_text(json.dumps(history, indent=2))
    return {"model": model.cpu(), "model_config": model_cfg, "history": history,
            "checkpoint": str(out / CHECKPOINT), "parameters": sum(p.numel() for p in model.parameters()),
            "encoder_parameters": sum(p.numel() for p in model.encoder.parameters())}  # fmt: skip


def _barrier(size: int) -> None:
    if size > 1:
        import torch.distributed as dist

        with _collective_guard(None, None):
            dist.barrier()


@contextlib.contextmanager
def _collective_guard(step: int | None, out: Path | None, active: bool = True):
    """Turn a failed collective (a worker died, a timeout) into one clear error."""
    if not active:
        yield
        return
    try:
        yield
    except RuntimeError as exc:
        where = "" if step is None else f" at step {step}"
        ckpt = (
            "" if out is None else f"; the last checkpoint in {out} is intact: rerun with --resume"
        )
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise DistributedError(
            f"data-parallel training stopped{where}: a collective operation failed ({first}); "
            f"another worker probably died or timed out{ckpt}"
        ) from exc


def _global_norms(data: Prepared, starts: list[int], length: int, size: int, device):
    """(world size, total loss weight, number of windows) of the whole global batch."""
    w = data.domain.point_weights(device, torch.float32)
    total = 0.0
    for s in starts:
        m = data.mask[s : s + length].to(device)
        total += float((w.view(*w.shape, 1) * m).sum())
    return size, total, len(starts)


def _zero_loss(net) -> torch.Tensor:
    """A rank with an empty shard still joins the gradient all-reduce (with zero gradient)."""
    return sum(p.sum() * 0.0 for p in net.parameters())

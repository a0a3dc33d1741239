"""Training: seeded, AdamW with clipping, mask-aware loss, atomic checkpoints, exact resume."""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from faconv._io import atomic_write_text
from faconv.data.store import window_batches
from faconv.data.windows import split_windows
from faconv.errors import DataError, NumericalError
from faconv.losses import laplacian_penalty, reconstruction_loss
from faconv.registry import build
from faconv.training.checkpoint import (
    CheckpointError,
    config_json,
    load_checkpoint,
    load_weights,
    normalizer_payload,
    save_checkpoint,
)
from faconv.training.config import RESUME_FREE, TrainConfig
from faconv.training.data import Prepared
from faconv.training.distributed import (
    barrier,
    collective_guard,
    global_norms,
    rank_and_size,
    zero_loss,
)
from faconv.training.lock import RunLock
from faconv.training.progress import Progress

__all__ = ["data_fingerprint", "model_config_for", "train_model"]

CHECKPOINT = "checkpoint.pt"


def model_config_for(model_section: dict, data: Prepared) -> dict:
    """The full ``RepresentationModel`` config: the user's section with the data's wiring.

    Besides the channel counts, a head or decoder that keeps its *default* number of regions
    gets at most one region per point of the data's domain (small test grids); a number the
    user set is left alone, and is refused by the domain if it does not fit.
    """
    cfg = {"type": "representation", **model_section}
    cfg["in_channels"] = data.in_channels
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


def _to(batch, device) -> tuple[torch.Tensor, ...]:
    return tuple(t.to(device) for t in batch)


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


def data_fingerprint(data: Prepared) -> dict[str, Any]:
    """What a resumed run must find unchanged in its data: variables, number of steps, the
    point layout, the time span and the normalisation statistics (the fitted climatology
    included). The source path is left out: moved files are the same data."""
    # Statistics are compared to about 4-5 significant digits: the same
    # data refitted elsewhere may differ in the last bits; other data does not come that close.
    norm = json.dumps(_rounded(data.normalizer.to_dict()), sort_keys=True)
    if data.normalizer.climatology is not None:
        _, coef = data.normalizer.climatology.to_state()
        mant, expo = np.frexp(np.asarray(coef, dtype=np.float64))
        norm += hashlib.sha256(np.round(mant, 4).tobytes() + expo.tobytes()).hexdigest()
    return {
        "variables": list(data.variables),
        "steps": int(data.num_steps),
        "points": [int(n) for n in data.point_shape],
        "input_channels": int(data.in_channels),
        "time": [str(data.time[0]), str(data.time[-1])] if len(data.time) else [],
        "normalizer": hashlib.sha256(norm.encode()).hexdigest()[:16],
    }


def _rounded(obj: Any) -> Any:
    if isinstance(obj, float):
        return float(f"{obj:.5g}")
    if isinstance(obj, dict):
        return {k: _rounded(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_rounded(v) for v in obj]
    return obj


def _resume_mismatch(ckpt: dict, cfg: TrainConfig, fingerprint: dict) -> list[str]:
    """Every training setting or data property that differs from the checkpoint's run."""
    saved = json.loads(ckpt["train_config"])
    now = asdict(cfg)
    diff = []
    for key in sorted(set(saved) | set(now)):
        if key in RESUME_FREE or saved.get(key) == now.get(key):
            continue
        if key == "epochs" and cfg.lr_schedule == "constant" and now[key] > saved.get(key, 0):
            continue  # more epochs of a constant schedule: training simply goes on
        diff.append(f"train.{key}: checkpoint {saved.get(key)!r}, now {now.get(key)!r}")
    if not isinstance(ckpt.get("data_fingerprint"), str):
        return diff  # an older checkpoint: only the model config and settings can be checked
    try:
        old = dict(json.loads(ckpt["data_fingerprint"]))
    except (ValueError, TypeError):
        return [*diff, "data: the checkpoint's data fingerprint is malformed"]
    for key in sorted(set(old) | set(fingerprint)):
        if old.get(key) != fingerprint.get(key):
            what = (
                "statistics"
                if key == "normalizer"
                else f"{old.get(key)!r} -> {fingerprint.get(key)!r}"
            )
            diff.append(f"data {key}: {what}")
    return diff


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
    A resumed run must have the same model config, training settings (all but
    ``checkpoint_every`` and ``device``; ``epochs`` may grow under a constant learning rate)
    and data (variables, steps, points, time span, normalisation statistics).

    While it runs, ``out_dir`` is locked: a second run on the same directory is refused; the
    lock of a killed run is taken over.

    Raises:
        CheckpointError: ``resume`` with a checkpoint from another model config, other training
            settings or other data (every difference is named), or a corrupted checkpoint.
        RunLockedError: another live run writes to ``out_dir``.
        NumericalError: the loss became NaN or Inf.
    """
    cfg.validate()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rank, size = rank_and_size()
    with RunLock(out, enabled=rank == 0):
        if rank == 0:  # temporary files of a writer that was killed mid-write
            for stale in out.glob(f"{CHECKPOINT}.*.tmp"):
                stale.unlink(missing_ok=True)
        return _train(model_section, data, cfg, out, resume, progress, rank, size)


def _train(model_section, data, cfg, out, resume, progress, rank, size) -> dict[str, Any]:
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
    fingerprint = data_fingerprint(data)
    epoch, batch_i, step, history = 0, 0, 0, {"train": [], "val": [], "seconds": []}
    epoch_losses: list[float] = []  # losses of the current epoch (checkpointed too)
    if resume and (out / CHECKPOINT).exists():
        path = out / CHECKPOINT
        ckpt = load_checkpoint(path, expect_config=model_cfg, for_training=True)
        diff = _resume_mismatch(ckpt, cfg, fingerprint)
        if diff:
            raise CheckpointError(
                f"cannot resume {path}: the run differs from the checkpoint's "
                f"({'; '.join(diff)}); use the same settings or another --out"
            )
        load_weights(model, ckpt["model"], path)
        try:
            opt.load_state_dict(ckpt["optimizer"])
            torch.set_rng_state(ckpt["rng_state"])
            history = json.loads(ckpt["history"])
            epoch_losses = [float(v) for v in history.pop("current_epoch_losses", [])]
            assert all(isinstance(history[k], list) for k in ("train", "val", "seconds"))
        except (ValueError, KeyError, TypeError, RuntimeError, AssertionError) as exc:
            raise CheckpointError(
                f"{path}: the optimiser, RNG or history entries are malformed ({exc}); "
                "it cannot be resumed"
            ) from exc
        epoch, batch_i, step = int(ckpt["epoch"]), int(ckpt["batch"]), int(ckpt["step"])
        if batch_i > n_batches or epoch > cfg.epochs:
            raise CheckpointError(
                f"{path}: its position (epoch {epoch}, batch {batch_i}) does not fit this run"
            )

    def checkpoint():
        if rank == 0:  # one writer; the others wait so nobody races ahead of a checkpoint
            save_checkpoint(
                out / CHECKPOINT,
                {
                    "model_config": config_json(model_cfg),
                    "model": model.state_dict(),
                    "optimizer": opt.state_dict(),
                    **normalizer_payload(data.normalizer),
                    "train_config": json.dumps(asdict(cfg)),
                    "data_fingerprint": json.dumps(fingerprint),
                    "epoch": epoch,
                    "batch": batch_i,
                    "step": step,
                    "history": json.dumps({**history, "current_epoch_losses": epoch_losses}),
                    "rng_state": torch.get_rng_state(),
                },
            )
        barrier(size)

    bar = Progress(
        cfg.epochs, n_batches, done=epoch * n_batches + batch_i, enabled=progress and rank == 0
    )
    t_epoch = time.perf_counter()
    while epoch < cfg.epochs:
        order = torch.randperm(
            len(train_w), generator=torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
        ).tolist()
        first = batch_i
        starts = [
            [train_w[i] for i in order[b * cfg.batch_size : (b + 1) * cfg.batch_size]]
            for b in range(first, n_batches)
        ]
        # every rank reads only its interleaved shard of each global batch
        loader = window_batches(data, [s[rank::size] for s in starts], cfg.window, cfg.num_workers)
        model.train()
        while batch_i < n_batches:
            batch, count = next(loader), len(starts[batch_i - first])
            if size > 1:
                with collective_guard(step, out):
                    world = global_norms(data, batch, count, size, device)
                shard = None if batch is None else _to(batch, device)
                loss = (
                    zero_loss(net) if shard is None else _loss(net, shard, data, cfg, device, world)
                )
                report = loss.detach().clone()
                with collective_guard(step, out):
                    torch.distributed.all_reduce(report)
                report = report / size
            else:
                loss = _loss(net, _to(batch, device), data, cfg, device)
                report = loss.detach()
            if not torch.isfinite(report):
                kept = (
                    f"the last checkpoint ({out / CHECKPOINT}) is from before the divergence"
                    if (out / CHECKPOINT).exists()
                    else "no checkpoint was written yet"
                )
                raise NumericalError(
                    f"non-finite training loss at step {step}: the run diverged; lower the "
                    f"learning rate or keep gradient clipping on ({kept})"
                )
            opt.zero_grad(set_to_none=True)
            with collective_guard(step, out, active=size > 1):  # DDP all-reduces gradients here
                loss.backward()
            if cfg.clip_norm:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_norm)
            for group in opt.param_groups:  # a function of the step alone: resume-exact
                group["lr"] = learning_rate(cfg, step, cfg.epochs * n_batches)
            opt.step()
            epoch_losses.append(report.item())
            batch_i, step = batch_i + 1, step + 1
            bar.step(float(np.mean(epoch_losses)), history["val"][-1] if history["val"] else None)
            if cfg.checkpoint_every and step % cfg.checkpoint_every == 0 and batch_i < n_batches:
                checkpoint()
        model.eval()
        with torch.no_grad():
            vals = [
                _loss(model, _to(b, device), data, cfg, device).item()
                for b in window_batches(data, [[s] for s in val_w], cfg.window, cfg.num_workers)
            ]
        history["train"].append(float(np.mean(epoch_losses)))
        history["val"].append(float(np.mean(vals)) if vals else float("nan"))
        history["seconds"].append(time.perf_counter() - t_epoch)
        bar.epoch(epoch + 1, history["train"][-1], history["val"][-1])
        t_epoch, epoch, batch_i, epoch_losses = time.perf_counter(), epoch + 1, 0, []
        checkpoint()
    bar.close()
    if rank == 0:
        atomic_write_text(out / "history.json", json.dumps(history, indent=2))
    return {
        "model": model.cpu(),
        "model_config": model_cfg,
        "history": history,
        "checkpoint": str(out / CHECKPOINT),
        "parameters": sum(p.numel() for p in model.parameters()),
        "encoder_parameters": sum(p.numel() for p in model.encoder.parameters()),
    }

"""Training: seeded, AdamW with clipping, mask-aware loss, atomic checkpoints, exact resume."""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from faconv._io import atomic_write_text
from faconv.data.store import window_batches
from faconv.data.windows import split_windows, time_breaks
from faconv.errors import DataError, NumericalError
from faconv.losses import laplacian_penalty, reconstruction_loss
from faconv.pipeline.training.checkpoint import (
    CheckpointError,
    config_json,
    load_checkpoint,
    load_weights,
    normalizer_payload,
    save_checkpoint,
)
from faconv.pipeline.training.config import RESUME_FREE, TrainConfig
from faconv.pipeline.training.data import Prepared
from faconv.pipeline.training.distributed import (
    barrier,
    collective_guard,
    global_norms,
    rank_and_size,
    zero_loss,
)
from faconv.pipeline.training.lock import RunLock
from faconv.pipeline.training.progress import Progress
from faconv.pipeline.training.weights import resolve_variable_weights
from faconv.registry import build

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
        out = model(x, data.domain, doy)
    recon = out["reconstruction"].float()
    # the model's second reconstruction, from the head's per-step embedding (weighted)
    head = out.get("head_reconstruction")
    head_weight = getattr(getattr(model, "module", model), "head_reconstruction_weight", 0.0)
    if world is None:
        loss = reconstruction_loss(recon, y, data.domain, m)
        if head is not None:
            loss = loss + head_weight * reconstruction_loss(head.float(), y, data.domain, m)
        if cfg.laplacian_weight:
            loss = loss + cfg.laplacian_weight * laplacian_penalty(recon, data.domain)
        return loss
    size, weight, count = world
    w = data.domain.point_weights(recon.device, recon.dtype)
    w = w.view(*([1] * (recon.dim() - w.dim() - 1)), *w.shape, 1) * m
    loss = size * (w * (recon - y) ** 2).sum() / weight
    if head is not None:
        loss = loss + size * head_weight * (w * (head.float() - y) ** 2).sum() / weight
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
    stats = data.normalizer.to_dict()
    stats.pop("units", None)  # kept since 2026-11-24: checkpoints from before must still resume
    norm = json.dumps(_rounded(stats), sort_keys=True)
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
        "step_days": _step_days(data.time),
        "normalizer": hashlib.sha256(norm.encode()).hexdigest()[:16],
    }


def _step_days(time) -> float | None:
    from faconv.pipeline.clustering import step_days

    step = step_days(time)
    return None if step is None else round(step, 6)


def _rounded(obj: Any) -> Any:
    if isinstance(obj, float):
        return float(f"{obj:.5g}")
    if isinstance(obj, dict):
        return {k: _rounded(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_rounded(v) for v in obj]
    return obj


def _resume_mismatch(
    ckpt: dict, cfg: TrainConfig, fingerprint: dict, equal_weights: bool = True
) -> list[str]:
    """Every training setting or data property that differs from the checkpoint's run
    (``equal_weights``: this run's variable weights resolved to all equal, as every run's
    were before ``train.variable_weights`` existed)."""
    saved = json.loads(ckpt["train_config"])
    now = asdict(cfg)
    diff = []
    for key in sorted(set(saved) | set(now)):
        if key in RESUME_FREE or saved.get(key) == now.get(key):
            continue
        if key == "variable_weights" and key not in saved and equal_weights:
            continue  # an older checkpoint, trained with equal weights, as this run is
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
        if key == "step_days" and key not in old:  # older checkpoints lack it
            continue
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


@dataclass
class _Position:
    """Where a run stands: what a checkpoint records besides the weights and the optimiser."""

    epoch: int = 0
    batch: int = 0  # batches done in the current epoch
    step: int = 0  # optimiser steps done in all
    history: dict = field(default_factory=lambda: {"train": [], "val": [], "seconds": []})
    epoch_losses: list = field(default_factory=list)  # the current epoch's batch losses


class _Run:
    """One training run: the model, optimiser and data of :func:`train_model` and the steps
    it is made of (resume, train step, validation, checkpoint)."""

    def __init__(self, model_section, data: Prepared, cfg: TrainConfig, out: Path, rank, size):
        self.data, self.cfg, self.out, self.rank, self.size = data, cfg, out, rank, size
        device = _device(cfg.device)
        if size > 1 and device.type == "cuda":
            device = torch.device("cuda", rank % torch.cuda.device_count())
        self.device = device
        self.model_cfg = model_config_for(model_section, data)
        if cfg.deterministic:  # CPU runs are deterministic anyway; this pins GPU kernels too
            import os

            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.use_deterministic_algorithms(True)
        torch.manual_seed(cfg.seed)
        self.model = build(self.model_cfg, kind="model").to(device)
        self.net = self.model
        if size > 1:
            from torch.nn.parallel import DistributedDataParallel

            self.net = DistributedDataParallel(
                self.model, device_ids=[device.index] if device.type == "cuda" else None
            )
        self.opt = torch.optim.AdamW(
            self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay
        )
        self.train_w, self.val_w = split_windows(  # no window spans a gap in time
            data.num_steps, cfg.window, cfg.stride, cfg.val_fraction, time_breaks(data.time)
        )
        if not self.train_w:
            raise DataError("no training window fits; use a shorter window or more data")
        self.n_batches = math.ceil(len(self.train_w) / cfg.batch_size)
        self.fingerprint = data_fingerprint(data)
        self.variable_w = resolve_variable_weights(
            data, cfg.variable_weights, self.train_w, cfg.window
        )
        self.pos = _Position()

    def weighted(self, batch):
        """``batch`` with its loss mask scaled by ``train.variable_weights`` (``None``: as is)."""
        if batch is None or self.variable_w is None:
            return batch
        x, y, m, doy = batch
        return x, y, m * self.variable_w.to(m.dtype), doy

    @property
    def path(self) -> Path:
        return self.out / CHECKPOINT

    def resume(self) -> None:
        """Continue from the checkpoint in ``out``: refused, naming every difference, when
        the settings or the data changed."""
        path, cfg = self.path, self.cfg
        ckpt = load_checkpoint(path, expect_config=self.model_cfg, for_training=True)
        diff = _resume_mismatch(ckpt, cfg, self.fingerprint, self.variable_w is None)
        if diff:
            raise CheckpointError(
                f"cannot resume {path}: the run differs from the checkpoint's "
                f"({'; '.join(diff)}); use the same settings or another --out"
            )
        load_weights(self.model, ckpt["model"], path)
        try:
            self.opt.load_state_dict(ckpt["optimizer"])
            torch.set_rng_state(ckpt["rng_state"])
            history = json.loads(ckpt["history"])
            losses = [float(v) for v in history.pop("current_epoch_losses", [])]
            assert all(isinstance(history[k], list) for k in ("train", "val", "seconds"))
        except (ValueError, KeyError, TypeError, RuntimeError, AssertionError) as exc:
            raise CheckpointError(
                f"{path}: the optimiser, RNG or history entries are malformed ({exc}); "
                "it cannot be resumed"
            ) from exc
        pos = _Position(int(ckpt["epoch"]), int(ckpt["batch"]), int(ckpt["step"]), history, losses)
        if pos.batch > self.n_batches or pos.epoch > cfg.epochs:
            raise CheckpointError(
                f"{path}: its position (epoch {pos.epoch}, batch {pos.batch}) does not fit this run"
            )
        self.pos = pos

    def checkpoint(self) -> None:
        pos = self.pos
        if self.rank == 0:  # one writer; the others wait so nobody races ahead of a checkpoint
            save_checkpoint(
                self.path,
                {
                    "model_config": config_json(self.model_cfg),
                    "model": self.model.state_dict(),
                    "optimizer": self.opt.state_dict(),
                    **normalizer_payload(self.data.normalizer),
                    "train_config": json.dumps(asdict(self.cfg)),
                    "data_fingerprint": json.dumps(self.fingerprint),
                    "epoch": pos.epoch,
                    "batch": pos.batch,
                    "step": pos.step,
                    "history": json.dumps(
                        {**pos.history, "current_epoch_losses": pos.epoch_losses}
                    ),
                    "rng_state": torch.get_rng_state(),
                },
            )
        barrier(self.size)

    def epoch_batches(self):
        """The remaining global batches of the current epoch (a seeded order: resume-exact),
        and this rank's shards of them, read as they come up."""
        cfg, pos = self.cfg, self.pos
        order = torch.randperm(
            len(self.train_w),
            generator=torch.Generator().manual_seed(cfg.seed * 100_003 + pos.epoch),
        ).tolist()
        starts = [
            [self.train_w[i] for i in order[b * cfg.batch_size : (b + 1) * cfg.batch_size]]
            for b in range(pos.batch, self.n_batches)
        ]
        # every rank reads only its interleaved shard of each global batch
        shards = [s[self.rank :: self.size] for s in starts]
        return starts, window_batches(self.data, shards, cfg.window, cfg.num_workers)

    def train_step(self, batch, count: int) -> float:
        """One optimiser step on this rank's shard (``None``: empty) of a global batch of
        ``count`` windows; returns the global batch's loss."""
        cfg, data, device, step, out = self.cfg, self.data, self.device, self.pos.step, self.out
        batch = self.weighted(batch)
        if self.size > 1:
            with collective_guard(step, out):
                world = global_norms(data, batch, count, self.size, device)
            if batch is None:
                loss = zero_loss(self.net)
            else:
                loss = _loss(self.net, _to(batch, device), data, cfg, device, world)
            report = loss.detach().clone()
            with collective_guard(step, out):
                torch.distributed.all_reduce(report)
            report = report / self.size
        else:
            loss = _loss(self.net, _to(batch, device), data, cfg, device)
            report = loss.detach()
        if not torch.isfinite(report):
            kept = (
                f"the last checkpoint ({self.path}) is from before the divergence"
                if self.path.exists()
                else "no checkpoint was written yet"
            )
            raise NumericalError(
                f"non-finite training loss at step {step}: the run diverged; lower the "
                f"learning rate or keep gradient clipping on ({kept})"
            )
        self.opt.zero_grad(set_to_none=True)
        with collective_guard(step, out, active=self.size > 1):  # DDP all-reduces gradients
            loss.backward()
        if cfg.clip_norm:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.clip_norm)
        for group in self.opt.param_groups:  # a function of the step alone: resume-exact
            group["lr"] = learning_rate(cfg, step, cfg.epochs * self.n_batches)
        self.opt.step()
        return report.item()

    @torch.no_grad()
    def validate(self) -> float | None:
        """The mean validation loss, ``None`` without a validation period (``val_fraction 0``)."""
        self.model.eval()
        cfg = self.cfg
        batches = window_batches(self.data, [[s] for s in self.val_w], cfg.window, cfg.num_workers)
        vals = [
            _loss(
                self.model, _to(self.weighted(b), self.device), self.data, cfg, self.device
            ).item()
            for b in batches
        ]
        return float(np.mean(vals)) if vals else None


def _train(model_section, data, cfg, out, resume, progress, rank, size) -> dict[str, Any]:
    run = _Run(model_section, data, cfg, out, rank, size)
    if resume and run.path.exists():
        run.resume()
    pos, n_batches = run.pos, run.n_batches
    bar = Progress(
        cfg.epochs,
        n_batches,
        done=pos.epoch * n_batches + pos.batch,
        enabled=progress and rank == 0,
    )
    t_epoch = time.perf_counter()
    while pos.epoch < cfg.epochs:
        first = pos.batch
        starts, batches = run.epoch_batches()
        run.model.train()
        while pos.batch < n_batches:
            batch, count = next(batches), len(starts[pos.batch - first])
            pos.epoch_losses.append(run.train_step(batch, count))
            pos.batch, pos.step = pos.batch + 1, pos.step + 1
            last_val = pos.history["val"][-1] if pos.history["val"] else None
            bar.step(float(np.mean(pos.epoch_losses)), last_val)
            every = cfg.checkpoint_every
            if every and pos.step % every == 0 and pos.batch < n_batches:  # epoch ends save anyway
                run.checkpoint()
        pos.history["train"].append(float(np.mean(pos.epoch_losses)))
        pos.history["val"].append(run.validate())
        pos.history["seconds"].append(time.perf_counter() - t_epoch)
        bar.epoch(pos.epoch + 1, pos.history["train"][-1], pos.history["val"][-1])
        t_epoch = time.perf_counter()
        pos.epoch, pos.batch, pos.epoch_losses = pos.epoch + 1, 0, []
        run.checkpoint()
    bar.close()
    if rank == 0:
        atomic_write_text(out / "history.json", json.dumps(pos.history, indent=2))
    model = run.model
    return {
        "model": model.cpu(),
        "model_config": run.model_cfg,
        "history": pos.history,
        "checkpoint": str(run.path),
        "parameters": sum(p.numel() for p in model.parameters()),
        "encoder_parameters": sum(p.numel() for p in model.encoder.parameters()),
    }

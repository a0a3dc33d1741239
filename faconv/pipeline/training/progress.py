"""Progress that suits where it goes: a live bar on a terminal, one line per epoch in a log."""

from __future__ import annotations

import sys
import time

from tqdm.auto import tqdm

__all__ = ["Progress"]


class Progress:
    """Training progress: a tqdm bar when ``stream`` is a terminal; otherwise one plain line
    per epoch (``epoch 3/40: train 0.1234 val 0.2345 (12.3 s)``), so log files do not fill
    with carriage-return updates.

    Args:
        total_epochs, batches_per_epoch: the run's size.
        done: optimiser steps already taken (a resumed run).
        enabled: off for non-zero ranks and ``--no-progress``.
        stream: where to write. Default: standard error.
    """

    def __init__(
        self,
        total_epochs: int,
        batches_per_epoch: int,
        done: int = 0,
        enabled: bool = True,
        stream=None,
        desc: str = "train",
    ) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.total_epochs = total_epochs
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.bar = None
        self.t0 = time.perf_counter()
        if enabled and self.tty:
            self.bar = tqdm(
                total=total_epochs * batches_per_epoch, initial=done, desc=desc, file=self.stream
            )

    def step(self, train: float, val: float | None) -> None:
        if self.bar is not None:
            self.bar.update()
            self.bar.set_postfix(train=f"{train:.4f}", val="-" if val is None else f"{val:.4f}")

    def epoch(self, epoch: int, train: float, val: float | None) -> None:
        if self.enabled and self.bar is None:
            took = time.perf_counter() - self.t0
            self.stream.write(
                f"epoch {epoch}/{self.total_epochs}: train {train:.4f} "
                f"val {'-' if val is None else f'{val:.4f}'} ({took:.1f} s)\n"
            )
            self.stream.flush()
            self.t0 = time.perf_counter()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

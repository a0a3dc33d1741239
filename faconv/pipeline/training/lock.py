"""One run per output directory: a lock file that a live run holds and a killed run leaves
stale (then the next run takes it over)."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from faconv.errors import FAConvError

__all__ = ["LOCK", "RunLock", "RunLockedError"]

LOCK = ".faconv.lock"


class RunLockedError(FAConvError, RuntimeError):
    """Another live run writes to the same output directory."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    return True


class RunLock:
    """Hold ``out/.faconv.lock`` (pid, host, start time) while a run writes to ``out``.

    Created with ``O_CREAT | O_EXCL``, so two runs cannot both take it. A lock whose process no
    longer runs on this host (a killed run) is stale and is taken over; a lock from another
    host cannot be checked and is respected.

    Raises:
        RunLockedError: a live run holds the lock (its pid and start time are named).
    """

    def __init__(self, out: str | Path, enabled: bool = True) -> None:
        self.path = Path(out) / LOCK
        self.enabled = enabled
        self.held = False

    def __enter__(self) -> RunLock:
        if not self.enabled:
            return self
        me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                self._take_over_if_stale()
                continue
            with os.fdopen(fd, "w") as f:
                json.dump(me, f)
            self.held = True
            return self
        raise RunLockedError(f"cannot take the run lock {self.path}")

    def _take_over_if_stale(self) -> None:
        try:
            owner = json.loads(self.path.read_text())
            pid, host = int(owner["pid"]), str(owner["host"])
        except (OSError, ValueError, KeyError, TypeError):
            owner, pid, host = {}, -1, socket.gethostname()  # unreadable: a half-written lock
        if host != socket.gethostname():
            raise RunLockedError(
                f"{self.path.parent} is in use by a faconv run on host {host} (pid {pid}); if "
                f"that run is gone, delete {self.path}"
            )
        if pid > 0 and _alive(pid) and pid != os.getpid():
            started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(owner.get("started", 0)))
            raise RunLockedError(
                f"another faconv run (pid {pid}, started {started}) is writing to "
                f"{self.path.parent}; wait for it to finish or use another --out"
            )
        self.path.unlink(missing_ok=True)  # stale: its run was killed

    def __exit__(self, *exc) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False

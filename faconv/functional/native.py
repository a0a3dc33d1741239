"""faconv's compiled CPU kernels (``csrc/*.c``), built on first use.

* ``fused_gate.c``: the fused 1×1-gate + LSTM step, faconv's hot loop. In eager PyTorch it
  runs as ~17 passes forward and ~25 backward over each tile of points, each a separate
  operator call that threads poorly at these sizes. The kernel does one pass per point: the
  ``C_b → 4·C_hid`` projection with the pre-activations in registers, the five sigmoids of a
  vectorised ``exp``, the cell update, and in the backward the input, weight, bias and
  peephole gradients, over torch's OpenMP threads.
* ``depthwise_grad.c``: the weight gradient of the dilated depthwise convolution, one pass
  over the output gradient's rows instead of a multiply-and-reduce per kernel tap.

They are built once per machine with the system C compiler (``$CC``, else the one Python was
built with, else ``cc``; ``-O3 -march=native -fopenmp``, no fast-math), in about a second,
into ``$FACONV_CACHE_DIR`` (default ``$XDG_CACHE_HOME/faconv`` or ``~/.cache/faconv``), keyed
by the sources, the flags, the compiler and the CPU, and used for float32 CPU tensors;
everything else (float64, GPUs, autocast) runs the eager path. Both give the same numbers to
float round-off (tested). Weight gradients are summed per thread and the partials added in
thread order, so a run is deterministic for a given thread count.

``FACONV_NATIVE`` chooses: unset or ``auto`` uses the kernels when they build and falls back
to the eager path silently otherwise (see :func:`status`); ``0`` never uses them; ``1``
requires them (a failed build raises :class:`NativeBuildError` with the compiler's message).
:func:`set_enabled` overrides the variable from Python. Under ``auto`` they are not used when
torch runs on an OpenMP runtime other than GNU's (Intel's or LLVM's), since the kernels link
libgomp and two thread pools would compete for the cores.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import sysconfig
import threading
from collections.abc import Iterator
from pathlib import Path

import torch

from faconv.errors import ConfigError, FAConvError

__all__ = ["NativeBuildError", "available", "disabled", "library", "set_enabled", "status"]

CSRC = Path(__file__).parent / "csrc"
SOURCES = tuple(sorted(CSRC.glob("*.c")))
FLAGS = ("-O3", "-march=native", "-fno-math-errno", "-fno-trapping-math", "-fopenmp")
ENV = "FACONV_NATIVE"
_MODES = ("auto", "0", "1")

_lock = threading.Lock()
_lib: ctypes.CDLL | None = None
_error: str | None = None
_tried = False
_override: bool | None = None
_foreign: list[str | None] = []  # the foreign OpenMP runtime, once looked up


class NativeBuildError(FAConvError, RuntimeError):
    """The C kernel could not be built or loaded while ``FACONV_NATIVE=1`` requires it."""


def _mode() -> str:
    if _override is not None:
        return "1" if _override else "0"
    mode = os.environ.get(ENV, "auto").strip().lower() or "auto"
    if mode not in _MODES:
        raise ConfigError(f"{ENV} must be one of {list(_MODES)}, got {mode!r}")
    return mode


def _compiler() -> str:
    """``$CC`` as given, else the compiler Python was built with when it exists, else ``cc``."""
    if os.environ.get("CC"):
        return os.environ["CC"].split()[0]
    cc = (sysconfig.get_config_var("CC") or "").split(" ")[0]
    return cc if cc and shutil.which(cc) else "cc"


def _cache_dir() -> Path:
    root = os.environ.get("FACONV_CACHE_DIR")
    if root:
        return Path(root)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "faconv"


def _cpu_signature() -> str:
    """What ``-march=native`` depends on: the CPU's flags (Linux) or its name."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return line
    return platform.machine() + platform.processor()


def _build(cc: str) -> Path:
    version = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=30)
    texts = [p.read_text() for p in (*SOURCES, *sorted(CSRC.glob("*.h")))]
    key = hashlib.sha256(
        "\0".join([*texts, " ".join(FLAGS), cc, version.stdout, _cpu_signature()]).encode()
    ).hexdigest()[:16]
    out = _cache_dir() / f"faconv_native-{key}.so"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    cmd = [cc, *FLAGS, "-fPIC", "-shared", *map(str, SOURCES), "-o", str(tmp)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"`{' '.join(cmd)}` failed:\n{done.stderr.strip()}")
    os.replace(tmp, out)  # atomic: a concurrent process sees no half-written library
    return out


def _foreign_openmp() -> str | None:
    """The OpenMP runtime torch loaded when it is not GNU's (the kernel links libgomp; two
    runtimes would each spin a thread pool on the same cores); ``None`` otherwise."""
    with contextlib.suppress(OSError):
        maps = Path("/proc/self/maps").read_text()
        if "libgomp" not in maps:
            for name in ("libiomp5", "libomp"):
                if name in maps:
                    return name
    return None


def _load() -> ctypes.CDLL:
    cc = _compiler()
    lib = ctypes.CDLL(str(_build(cc)))
    i64, p, i32 = ctypes.c_int64, ctypes.c_void_p, ctypes.c_int
    lib.faconv_gate_forward.argtypes = [i64] * 3 + [p] * 9 + [i32]
    lib.faconv_gate_forward.restype = None
    lib.faconv_gate_backward.argtypes = [i64] * 3 + [p] * 15 + [i32]
    lib.faconv_gate_backward.restype = None
    lib.faconv_depthwise_weight_grad.argtypes = [i64] * 9 + [p] * 3 + [i32]
    lib.faconv_depthwise_weight_grad.restype = None
    return lib


def library() -> ctypes.CDLL | None:
    """The loaded kernels' library, built on the first call; ``None`` when disabled, when
    it does not build, or beside a foreign OpenMP runtime (the last two under ``auto``).

    Raises:
        NativeBuildError: the build or load failed and ``FACONV_NATIVE=1`` requires it.
        ConfigError: ``FACONV_NATIVE`` has a value other than ``auto``, ``0`` or ``1``.
    """
    global _lib, _error, _tried
    mode = _mode()
    if mode == "0":
        return None
    if not _foreign:
        _foreign.append(_foreign_openmp())
    if mode == "auto" and _foreign[0] is not None:
        return None  # two OpenMP thread pools would fight over the cores (status() says so)
    if not _tried:
        with _lock:
            if not _tried:
                try:
                    _lib = _load()
                except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
                    _error = f"{type(exc).__name__}: {exc}"
                _tried = True
    if _lib is None and mode == "1":
        raise NativeBuildError(
            f"{ENV}=1 requires the compiled kernels, which did not build: {_error}. "
            f"Install a C compiler with OpenMP (gcc), set CC, or unset {ENV} to use the "
            "eager path"
        )
    return _lib


def available() -> bool:
    """Whether the C kernels run (for float32 CPU tensors)."""
    return library() is not None


def status() -> str:
    """One line: whether the kernel is in use, and why not."""
    mode = _mode()
    if mode == "0":
        return f"faconv native kernels: disabled ({ENV}=0 or set_enabled(False))"
    lib = library()
    if lib is not None:
        return f"faconv native kernels: in use ({lib._name})"
    if mode == "auto" and _foreign and _foreign[0] is not None:
        return (
            f"faconv native kernels: not used, torch runs on {_foreign[0]}, not GNU OpenMP "
            f"(the kernels would start a second thread pool on the same cores; {ENV}=1 "
            "uses them anyway)"
        )
    return f"faconv native kernels: not built, the eager path runs ({_error})"


def set_enabled(enabled: bool | None) -> None:
    """Force the kernel on (``True``: as ``FACONV_NATIVE=1``) or off (``False``), or
    ``None`` to follow the environment variable again."""
    global _override
    _override = None if enabled is None else bool(enabled)


@contextlib.contextmanager
def disabled() -> Iterator[None]:
    """Run the eager path inside the block (for comparisons and tests; process-wide, not
    per thread)."""
    global _override
    before = _override
    _override = False
    try:
        yield
    finally:
        _override = before


def _reset() -> None:
    """Forget the build result (tests)."""
    global _lib, _error, _tried
    with _lock:
        _lib, _error, _tried = None, None, False
        _foreign.clear()


def threads() -> int:
    """The kernel's OpenMP threads: torch's intra-op thread count."""
    return max(1, torch.get_num_threads())

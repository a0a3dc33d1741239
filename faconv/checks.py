"""Value checks shared by components, configs and the data layer: one clear error that names
the owner, the argument, what was expected and what was given.

Every check returns the (normalised) value, so it reads as an assignment:
``self.k = check_int(k, "k", owner, minimum=1)``. Booleans are never accepted as numbers
(``True`` is an ``int`` in Python, never a number of epochs).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from faconv.errors import ConfigError

__all__ = [
    "check_bool",
    "check_choice",
    "check_int",
    "check_int_list",
    "check_number",
    "check_positive_int",
    "check_str_list",
]


def _fail(error: type[Exception], owner: str, name: str, expected: str, value: Any):
    return error(f"{owner}: {name} must be {expected}, got {value!r}")


def check_int(
    value: Any,
    name: str,
    owner: str,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    error: type[Exception] = ConfigError,
) -> int:
    """An integer (not a bool, not a float such as ``1.5`` or ``2.0``) within the bounds."""
    bounds = _bounds(minimum, maximum)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(error, owner, name, f"an integer{bounds}", value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise _fail(error, owner, name, f"an integer{bounds}", value)
    return value


def check_positive_int(value: Any, name: str, owner: str, minimum: int = 1) -> int:
    return check_int(value, name, owner, minimum=minimum)


def check_int_list(
    value: Any,
    name: str,
    owner: str,
    *,
    minimum: int | None = None,
    error: type[Exception] = ConfigError,
) -> tuple[int, ...]:
    """A non-empty list of integers, each within the bounds, as a tuple (a single integer or a
    string is refused: it is not a list)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
        raise _fail(error, owner, name, "a list of at least one integer", value)
    return tuple(
        check_int(v, f"each of {name}", owner, minimum=minimum, error=error) for v in value
    )


def check_number(
    value: Any,
    name: str,
    owner: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    above: float | None = None,
    below: float | None = None,
    error: type[Exception] = ConfigError,
) -> float:
    """A finite real number (int or float, not a bool or a string) within the bounds;
    ``minimum``/``maximum`` are inclusive, ``above``/``below`` exclusive."""
    parts = []
    if minimum is not None:
        parts.append(f">= {minimum}")
    if above is not None:
        parts.append(f"> {above}")
    if maximum is not None:
        parts.append(f"<= {maximum}")
    if below is not None:
        parts.append(f"< {below}")
    expected = "a finite number" + (f" {' and '.join(parts)}" if parts else "")
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = (
            (minimum is None or value >= minimum)
            and (maximum is None or value <= maximum)
            and (above is None or value > above)
            and (below is None or value < below)
        )
    if not ok:
        raise _fail(error, owner, name, expected, value)
    return float(value)


def check_bool(value: Any, name: str, owner: str, error: type[Exception] = ConfigError) -> bool:
    """``True`` or ``False`` only: ``"no"``, ``0`` and ``None`` are refused, not guessed."""
    if not isinstance(value, bool):
        raise _fail(error, owner, name, "true or false", value)
    return value


def check_choice(
    value: Any,
    choices: Mapping[Any, Any] | Sequence[Any],
    name: str,
    owner: str,
    error: type[Exception] = ConfigError,
) -> Any:
    """One of ``choices``; the error lists the valid values."""
    try:
        ok = value in choices
    except TypeError:  # unhashable values against a mapping
        ok = False
    if not ok:
        valid = ", ".join(repr(c) for c in choices)
        raise error(f"{owner}: invalid {name}={value!r}; valid values: {valid}")
    return value


def check_str_list(
    value: Any,
    name: str,
    owner: str,
    *,
    distinct: bool = True,
    error: type[Exception] = ConfigError,
) -> list[str]:
    """A non-empty list of strings (a single string is refused: it is not a list of names)."""
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        raise _fail(error, owner, name, "a non-empty list of names", value)
    if not all(isinstance(v, str) and v for v in value):
        raise _fail(error, owner, name, "a list of non-empty strings", value)
    if distinct and len(set(value)) != len(value):
        twice = sorted({v for v in value if list(value).count(v) > 1})
        raise error(f"{owner}: {name} lists {twice} more than once")
    return list(value)


def _bounds(minimum, maximum) -> str:
    if minimum is not None and maximum is not None:
        return f" in [{minimum}, {maximum}]"
    if minimum is not None:
        return f" >= {minimum}"
    if maximum is not None:
        return f" <= {maximum}"
    return ""

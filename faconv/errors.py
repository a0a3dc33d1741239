"""Exception types raised by faconv.

Every error a user can trigger on purpose (a bad config, a bad tensor, a domain that does not fit)
is one of the types below, so callers can catch faconv's errors without catching torch's.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DataError",
    "DistributedError",
    "DomainError",
    "FAConvError",
    "InputError",
]


class FAConvError(Exception):
    """Base class of every error faconv raises on purpose."""


class ConfigError(FAConvError, ValueError, TypeError):
    """A component spec or config is invalid: unknown type or key, bad value, conflicting wiring.

    It subclasses both ``ValueError`` and ``TypeError`` so code written against either still
    catches it.
    """


class InputError(FAConvError, ValueError):
    """A tensor handed to a layer is invalid: wrong rank, shape, channel count, dtype, NaN or Inf."""


class DomainError(InputError):
    """A domain does not fit the tensor or the component (wrong point shape, wrong kind)."""


class DataError(FAConvError, ValueError):
    """A data file or dataset cannot be used as given: missing variables or dimensions, an empty
    crop, an all-NaN variable, unordered or duplicated times, files whose grids disagree."""


class DistributedError(FAConvError, RuntimeError):
    """Data-parallel training lost a worker (a collective operation failed)."""


class NumericalError(FAConvError, FloatingPointError):
    """Training produced a non-finite loss (diverged)."""

"""Time axes in any CF calendar: numpy datetimes (the standard calendar) or cftime dates, as
xarray decodes climate-model output (``noleap``/``365_day``, ``all_leap``/``366_day``,
``360_day``, ``julian``, or standard dates beyond numpy's range).

Everything that reads dates (the climatology's harmonics, the seasonal encoding, gaps in time,
months and seasons, plots) goes through these helpers, so a model calendar is handled the same
way as ERA5's."""

from __future__ import annotations

import numpy as np
import pandas as pd

from faconv.errors import DataError

__all__ = [
    "STANDARD_YEAR_DAYS",
    "calendar_name",
    "decimal_year",
    "elapsed_seconds",
    "is_cftime",
    "seasonal_day_of_year",
    "time_fields",
    "year_days",
]

#: the mean year of the standard calendar, in days, as the harmonics and the encoding use it
STANDARD_YEAR_DAYS = 365.25

#: year length of the CF calendars whose years all have the same number of days
_FIXED_YEARS = {"noleap": 365, "365_day": 365, "all_leap": 366, "366_day": 366, "360_day": 360}


def _cftime_class():
    try:
        import cftime
    except ImportError:  # without cftime, xarray cannot have decoded such dates either
        return None
    return cftime.datetime


def is_cftime(time) -> bool:
    """Whether ``time`` holds cftime dates (an object array), not numpy datetimes."""
    t = np.asarray(time)
    base = _cftime_class()
    return t.dtype == object and t.size > 0 and base is not None and isinstance(t.flat[0], base)


def calendar_name(time) -> str:
    """The CF calendar of ``time``: ``"standard"`` for numpy datetimes, else the cftime dates'
    own (``"noleap"``, ``"360_day"``, ...).

    Raises:
        DataError: values that are not dates, or cftime dates of more than one calendar.
    """
    t = np.asarray(time)
    if np.issubdtype(t.dtype, np.datetime64):
        return "standard"
    base = _cftime_class()
    if t.dtype != object or base is None or not all(isinstance(v, base) for v in t.flat):
        kinds = sorted({type(v).__name__ for v in t.flat[:100]}) if t.dtype == object else [t.dtype]
        raise DataError(
            f"the time coordinate holds {', '.join(map(str, kinds))} values, not dates (its "
            "units attribute may be missing or unreadable)"
        )
    names = {v.calendar or "standard" for v in t.flat}
    if len(names) > 1:
        raise DataError(f"the time coordinate mixes calendars {sorted(names)}")
    return names.pop() if names else "standard"


def year_days(time) -> float:
    """Days in a year of ``time``'s calendar: 365, 366 or 360 for the fixed-length calendars,
    :data:`STANDARD_YEAR_DAYS` for the standard, Gregorian and Julian ones."""
    return float(_FIXED_YEARS.get(calendar_name(time), STANDARD_YEAR_DAYS))


def elapsed_seconds(time) -> np.ndarray:
    """Seconds from the first step, ``(T,)`` float64, in ``time``'s own calendar (a 360-day
    year has 360 days, 30 February exists)."""
    t = np.asarray(time)
    calendar_name(t)  # values that are not dates raise here
    if t.size == 0:
        return np.zeros(0)
    if np.issubdtype(t.dtype, np.datetime64):
        return (t - t[0]).astype("timedelta64[ms]").astype(np.float64) / 1e3
    t0 = t.flat[0]
    return np.array([(v - t0).total_seconds() for v in t.ravel()], dtype=np.float64)


def time_fields(time) -> dict[str, np.ndarray]:
    """``year``, ``day_of_year`` (1-based), ``month`` (1-12) and ``hour`` (fractional, 0-24)
    of every step, int64 / int64 / int64 / float64 arrays of shape ``(T,)``, in ``time``'s own
    calendar."""
    t = np.asarray(time)
    calendar_name(t)
    if np.issubdtype(t.dtype, np.datetime64):
        idx = pd.DatetimeIndex(t.ravel())
        hour = idx.hour.to_numpy(np.float64) + idx.minute.to_numpy(np.float64) / 60.0
        return {
            "year": idx.year.to_numpy(np.int64),
            "day_of_year": idx.day_of_year.to_numpy(np.int64),
            "month": idx.month.to_numpy(np.int64),
            "hour": hour,
        }
    flat = t.ravel()
    return {
        "year": np.array([v.year for v in flat], dtype=np.int64),
        "day_of_year": np.array([v.dayofyr for v in flat], dtype=np.int64),
        "month": np.array([v.month for v in flat], dtype=np.int64),
        "hour": np.array([v.hour + v.minute / 60.0 for v in flat], dtype=np.float64),
    }


def seasonal_day_of_year(time) -> np.ndarray:
    """1-based day of year for the seasonal positional encoding (period
    :data:`STANDARD_YEAR_DAYS`), ``(T,)`` int64: the calendar's own day in the standard
    calendars and ``noleap``; in a 360- or 366-day calendar the same fraction of the year,
    rounded to a day (day 180 of a 360-day year, half the year, is day 183)."""
    fields = time_fields(time)
    doy, days = fields["day_of_year"], year_days(time)
    if days in (STANDARD_YEAR_DAYS, 365.0):
        return doy
    return np.rint(1.0 + (doy - 1) * STANDARD_YEAR_DAYS / days).astype(np.int64)


def decimal_year(time) -> np.ndarray:
    """``year + (day_of_year - 1 + hour / 24) / year_days``, ``(T,)`` float64: a plottable
    axis in any calendar (matplotlib reads numpy datetimes only)."""
    t = np.asarray(time)
    fields, days = time_fields(t), year_days(t)
    if np.issubdtype(t.dtype, np.datetime64):
        year = pd.DatetimeIndex(t.ravel()).year.to_numpy(np.float64)
        leap = pd.DatetimeIndex(t.ravel()).is_leap_year
        days = np.where(leap, 366.0, 365.0)
    else:
        year = np.array([v.year for v in t.ravel()], dtype=np.float64)
    return year + (fields["day_of_year"] - 1 + fields["hour"] / 24.0) / days

"""Units strings compared by meaning, not spelling: ``"m s**-1"``, ``"m/s"`` and ``"m s-1"``
are one unit; ``"K"`` and ``"degC"`` are two.

Only what the data's ``units`` attributes say is compared (no conversion): a model fitted on
winds in m/s must not be fed km/h, which the statistics alone cannot always tell apart.
"""

from __future__ import annotations

import re

__all__ = ["canonical_units", "same_units"]

#: spellings of one unit -> its symbol
_ALIASES = {
    "kelvin": "k",
    "kelvins": "k",
    "celsius": "degc",
    "fahrenheit": "degf",
    "gpm": "m",  # geopotential metres: geopotential height
    "metre": "m",
    "metres": "m",
    "meter": "m",
    "meters": "m",
    "second": "s",
    "seconds": "s",
    "sec": "s",
    "pascal": "pa",
    "pascals": "pa",
    "hectopascal": "hpa",
    "hectopascals": "hpa",
    "mb": "hpa",
    "mbar": "hpa",
    "millibar": "hpa",
    "millibars": "hpa",
    "kilogram": "kg",
    "kilograms": "kg",
    "hour": "h",
    "hours": "h",
    "hr": "h",
    "day": "d",
    "days": "d",
    "percent": "%",
    "dimensionless": "1",
    "fraction": "1",
    "(0-1)": "1",
    "0-1": "1",
}
_TEMPERATURE = re.compile(r"(?:°|deg(?:ree)?s?)[\s_]*(c|k|f)(?:elsius|elvin|ahrenheit)?\b")
_FACTOR = re.compile(r"^([^\d\-+]*[a-z%)])?([-+]?\d+)?$")


def canonical_units(units: str) -> tuple[tuple[str, int], ...]:
    """``units`` as a sorted tuple of ``(symbol, power)``; dimensionless is ``()``.

    Example:
        >>> canonical_units("m s**-1") == canonical_units("m/s") == canonical_units("metres per second")
        True
        >>> canonical_units("degrees_C") == canonical_units("K")
        False
    """
    text = units.strip().lower().replace("**", "").replace("^", "")
    text = re.sub(r"\(\s*0\s*-\s*1\s*\)", "(0-1)", text)
    text = _TEMPERATURE.sub(lambda m: "k" if m.group(1) == "k" else "deg" + m.group(1), text)
    text = re.sub(r"\bper\b", "/", text)
    powers: dict[str, int] = {}
    sign = 1
    for part in re.split(r"(/)", text):
        if part == "/":
            sign = -1
            continue
        for factor in re.split(r"[\s.*·]+", part):
            if not factor:
                continue
            factor = _ALIASES.get(factor, factor)
            m = _FACTOR.match(factor)
            name, power = (m.group(1), int(m.group(2) or 1)) if m and m.group(1) else (factor, 1)
            name = _ALIASES.get(name, name)
            if name == "1":
                continue
            powers[name] = powers.get(name, 0) + sign * power
        sign = 1 if part != "/" else sign
    return tuple(sorted((k, p) for k, p in powers.items() if p))


def same_units(a: str, b: str) -> bool:
    """Whether two ``units`` strings name the same unit (:func:`canonical_units`)."""
    return canonical_units(a) == canonical_units(b)

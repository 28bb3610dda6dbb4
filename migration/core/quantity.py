"""Kubernetes resource.Quantity parsing, exact (Fraction based) and bounded against hostile exponents."""

from __future__ import annotations

import math
import re
from fractions import Fraction

from .errors import InputError

_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E))?$")
_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_MAX_EXPONENT = 40  # far beyond any real quantity; keeps 10**exp cheap
_MAX_CHARS = 64
MIB = 1 << 20
GIB = 1 << 30


def parse_quantity(value: object, path: str = "") -> Fraction:
    """Parse ``value`` (str | int | float) as a Quantity; raise InputError with ``path`` when malformed."""
    if isinstance(value, bool):
        raise InputError(f"expected quantity, got {str(value).lower()}", path)
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InputError(f"expected quantity, got {value}", path)
        return Fraction(value)
    if not isinstance(value, str):
        raise InputError(f"expected quantity, got {type(value).__name__}", path)
    text = value.strip()
    match = _QUANTITY.match(text) if len(text) <= _MAX_CHARS else None
    if match is None:
        raise InputError(f'invalid quantity "{value[:_MAX_CHARS]}"', path)
    number, exponent, suffix = match.groups()
    base = Fraction(number)
    if exponent:
        exp = int(exponent[1:])
        if abs(exp) > _MAX_EXPONENT:
            raise InputError(f'quantity exponent out of range in "{value}"', path)
        return base * Fraction(10) ** exp
    if suffix in _BINARY:
        return base * (1024 ** _BINARY[suffix])
    return base * Fraction(10) ** _DECIMAL[suffix or ""]


def is_quantity(value: object) -> bool:
    try:
        parse_quantity(value)
    except InputError:
        return False
    return True


def ceil_div(value: Fraction, unit: int) -> int:
    """Smallest integer n with n * unit >= value (value >= 0)."""
    return math.ceil(value / unit)


def to_mib(value: Fraction) -> int:
    """Bytes to MiB, rounded up so the guest never loses memory (1024M = 976.5625 MiB -> 977)."""
    return ceil_div(value, MIB)


def to_gib(value: Fraction) -> int:
    return ceil_div(value, GIB)


def cpu_count(value: Fraction) -> int:
    """A CPU quantity (``500m``, ``2``) as whole vCPUs, rounded up like KubeVirt does."""
    return max(1, math.ceil(value))

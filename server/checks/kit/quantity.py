"""Kubernetes resource quantities (``250m``, ``1.5Gi``, ``2k``, ``1e3``) as exact numbers.

Used by every check that adds up or compares requests, limits, node capacity, quota and
metrics-server usage. The grammar is the API's (``k8s.io/apimachinery`` ``resource.Quantity``)::

    quantity  ::= sign? number suffix
    number    ::= digits | digits "." digits? | "." digits
    suffix    ::= "" | binarySI | decimalSI | ("e" | "E") sign? digits
    binarySI  ::= Ki | Mi | Gi | Ti | Pi | Ei                      (powers of 1024)
    decimalSI ::= n | u | m | k | M | G | T | P | E                (powers of 1000)

``E`` alone is exa (``2E`` = 2 * 10**18) while ``2E3`` is an exponent. As the API server
does, a non-zero value is rounded up (away from zero) to nano precision, so ``0.1n`` counts
as ``1n``. Values whose magnitude exceeds 2**63 - 1 and exponents outside the 32-bit range
are refused rather than approximated; so are whitespace, units the API does not know
(``1KiB``, ``1mi``), booleans, NaN and infinities. :func:`format_amount` turns values back
into the short forms people read (``250m``, ``1.5Gi``).
"""

from __future__ import annotations

import functools
import math
import re
from decimal import ROUND_HALF_EVEN, ROUND_UP, Context, Decimal, InvalidOperation

from assay.server.checks.kit.params import ParamError

_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_PATTERN = re.compile(
    r"(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?:(?P<binary>[KMGTPE]i)|(?P<exponent>[eE][+-]?[0-9]+)|(?P<decimal>[numkMGTPE]))?"
)
_UNITS_DESCENDING = tuple(
    (suffix, Decimal(2**power)) for suffix, power in sorted(_BINARY.items(), key=lambda i: -i[1])
)
_INT32 = 2**31
MAX_MAGNITUDE = Decimal(2**63 - 1)
"""The largest magnitude accepted: what the API stores as a whole-unit integer."""
NANO = Decimal("1e-9")
_EXACT = Context(prec=120)
"""Wide enough for every accepted value at nano precision, so parsing never rounds."""
_SHOWN = 40


class QuantityError(ValueError):
    """Not a Kubernetes quantity (the message says why, quoting at most 40 characters)."""


def shown(value: object) -> str:
    """``value`` quoted for a message, cut to a readable length."""
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def parse_quantity(value: str | int | float) -> Decimal:
    """The quantity's value in base units (cores for CPU, bytes for memory).

    ``"100m"`` -> 0.1, ``"1Gi"`` -> 1073741824, ``"1e3"`` -> 1000, ``"2E"`` -> 2 * 10**18.
    Numbers from YAML (``cpu: 0.5``) are quantities too. Raises :class:`QuantityError`.
    """
    if isinstance(value, bool):
        raise QuantityError(f"{shown(value)} is not a quantity (a boolean)")
    if isinstance(value, int):
        return _bounded(Decimal(value), value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise QuantityError(f"{shown(value)} is not a quantity (not a finite number)")
        return _bounded(_round_nano(Decimal(repr(value))), value)
    if not isinstance(value, str):
        raise QuantityError(f"{shown(value)} is not a quantity (a {type(value).__name__})")
    return _parse_text(value)


@functools.lru_cache(maxsize=4096)
def _parse_text(value: str) -> Decimal:
    """A quantity string's value; cached, as clusters repeat the same few (``100m``, ``128Mi``)
    in every pod. Decimals are immutable, so sharing them is safe."""
    match = _PATTERN.fullmatch(value)
    if match is None:
        raise QuantityError(f"{shown(value)} is not a quantity{_hint(value)}")
    number = Decimal(match["number"])
    if match["binary"]:
        amount = _EXACT.multiply(number, Decimal(2 ** _BINARY[match["binary"]]))
    else:
        if match["exponent"]:
            digits = match["exponent"][1:]
            if len(digits.lstrip("+-").lstrip("0")) > 10 or abs(int(digits)) >= _INT32:
                raise QuantityError(f"{shown(value)} has an exponent out of range")
            exponent = int(digits)
        else:
            exponent = _DECIMAL[match["decimal"]] if match["decimal"] else 0
        amount = _scaled(number, exponent, value)
    return _bounded(_round_nano(amount), value)


def quantity_or_none(value: object) -> Decimal | None:
    """:func:`parse_quantity`, or ``None`` for an absent or malformed value."""
    if not isinstance(value, str | int | float):
        return None
    try:
        return parse_quantity(value)
    except QuantityError:
        return None


def _scaled(number: Decimal, exponent: int, raw: str) -> Decimal:
    """``number * 10**exponent`` without building astronomically long numbers."""
    if number.is_zero():
        return Decimal(0)
    magnitude = number.adjusted() + exponent  # power of ten of the leading digit
    if magnitude > 19:  # at least 10**20 > 2**63 - 1
        raise QuantityError(f"{shown(raw)} is out of range (above {MAX_MAGNITUDE})")
    if magnitude < -12:  # far below a nano: rounds up to one
        return NANO.copy_sign(number)
    return number.scaleb(exponent, _EXACT)


def _round_nano(amount: Decimal) -> Decimal:
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= -9:
        return amount
    return amount.quantize(NANO, rounding=ROUND_UP, context=_EXACT)


def _bounded(amount: Decimal, raw: object) -> Decimal:
    if abs(amount) > MAX_MAGNITUDE:
        raise QuantityError(f"{shown(raw)} is out of range (above {MAX_MAGNITUDE})")
    return amount + 0  # a plain Decimal with no negative zero


def _hint(value: str) -> str:
    """A reason for the commonest mistakes, or nothing."""
    if value != value.strip():
        return " (leading or trailing spaces)"
    if not value:
        return " (empty)"
    unit = re.fullmatch(r"[+-]?[0-9.]+\s*([A-Za-z]+)", value)
    if unit is not None:
        return f" (unknown unit {unit[1]!r}; use m, k, M, G, Ki, Mi, Gi, ...)"
    return ""


def format_cpu(cores: Decimal) -> str:
    """Cores as people write them: ``250m`` below one core, ``1.5`` above."""
    if not cores:
        return "0"
    if abs(cores) < 1:
        millis = cores * 1000
        if millis and abs(millis) < 1:
            return f"{_plain(millis, 6)}m"
        return f"{_plain(millis, 0)}m"
    return _plain(cores, 2)


def format_bytes(amount: Decimal) -> str:
    """Bytes in the largest binary unit that keeps a leading digit: ``512Mi``, ``1.5Gi``."""
    magnitude = abs(amount)
    for suffix, unit in _UNITS_DESCENDING:
        if magnitude >= unit:
            return f"{_plain(amount / unit, 1)}{suffix}"
    return _plain(amount, 0)


def format_amount(resource: str, amount: Decimal) -> str:
    """``amount`` of ``resource`` for a message: CPU in cores, memory and storage in bytes."""
    if resource == "cpu":
        return format_cpu(amount)
    if resource in ("memory", "ephemeral-storage", "storage") or resource.endswith(".storage"):
        return format_bytes(amount)
    return _plain(amount, 3)


def _plain(value: Decimal, places: int) -> str:
    """``value`` with at most ``places`` decimals, trailing zeros dropped, never in
    scientific notation."""
    quantum = Decimal(1).scaleb(-places)
    try:
        rounded = value.quantize(quantum, rounding=ROUND_HALF_EVEN, context=_EXACT)
    except InvalidOperation:
        rounded = value
    text = f"{rounded:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def quantity_param(name: str, value: str) -> Decimal:
    """A check parameter given as a quantity string (``"128Mi"``), or a ``ParamError``
    naming it, so a policy file with a bad value is refused at load time."""
    try:
        amount = parse_quantity(value)
    except QuantityError as exc:
        raise ParamError(name, str(exc)) from None
    if amount < 0:
        raise ParamError(name, f"{shown(value)} is negative")
    return amount

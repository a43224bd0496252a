"""Kubernetes quantity parsing and formatting: a table of valid and invalid quantities."""

from __future__ import annotations

from decimal import Decimal

import pytest

from assay.server.checks.kit.quantity import (
    QuantityError,
    format_amount,
    format_bytes,
    format_cpu,
    parse_quantity,
    quantity_or_none,
)

VALID: list[tuple[str, str]] = [
    ("0", "0"),
    ("-0", "0"),
    ("1", "1"),
    ("+1", "1"),
    ("-1", "-1"),
    ("100m", "0.1"),
    ("250m", "0.25"),
    ("0.5", "0.5"),
    (".5", "0.5"),
    ("1.", "1"),
    ("007", "7"),
    ("100n", "0.0000001"),
    ("5u", "0.000005"),
    ("1k", "1000"),
    ("2k", "2000"),
    ("3M", "3000000"),
    ("1G", "1000000000"),
    ("1T", "1e12"),
    ("1P", "1e15"),
    ("1E", "1e18"),
    ("2E", "2e18"),
    ("1Ki", "1024"),
    ("1.5Ki", "1536"),
    ("500Mi", str(500 * 2**20)),
    ("128Mi", str(128 * 2**20)),
    ("1Gi", str(2**30)),
    ("1.5Gi", str(3 * 2**29)),
    ("2Ti", str(2 * 2**40)),
    ("1Pi", str(2**50)),
    ("1Ei", str(2**60)),
    ("0.5Ki", "512"),
    ("1e3", "1000"),
    ("1E3", "1000"),
    ("1e+3", "1000"),
    ("12e-3", "0.012"),
    ("1.5e2", "150"),
    ("1e-9", "0.000000001"),
    ("1e0", "1"),
    ("1e09", "1000000000"),
    ("9223372036854775807", "9223372036854775807"),
    # the API server rounds non-zero values up to nano precision, away from zero
    ("0.1n", "0.000000001"),
    ("1e-20", "0.000000001"),
    ("-1e-20", "-0.000000001"),
    ("1.0000000001", "1.000000001"),
    ("1e-99999", "0.000000001"),
    ("0e999999", "0"),
    # metrics-server's usual forms
    ("12345678n", "0.012345678"),
    ("2345Ki", str(2345 * 1024)),
]

INVALID: list[object] = [
    "",
    " ",
    " 64Mi ",
    "64Mi\n",
    "Mi",
    "m",
    "+",
    ".",
    "1mi",
    "1KiB",
    "1Kb",
    "1K",
    "1 core",
    "1cores",
    "one",
    "1.2.3",
    "1e",
    "1e+",
    "1e1.5",
    "1eKi",
    "1Kie3",
    "--1",
    "+-1",
    "1_000",
    "0x10",
    "1,5",
    "NaN",
    "Infinity",
    "inf",
    "\uff11",  # a full-width digit: not ASCII
    "1\x00",
    "1e20",
    "1e99999999999",
    "1e" + "9" * 5000,
    "9223372036854775808",
    "8Ei",
    "10E",
    "9" * 5000,
    True,
    False,
    float("nan"),
    float("inf"),
    1e300,
    2**64,
]


@pytest.mark.parametrize(("text", "value"), VALID, ids=[t for t, _ in VALID])
def test_valid_quantities(text: str, value: str) -> None:
    assert parse_quantity(text) == Decimal(value)
    assert quantity_or_none(text) == Decimal(value)


@pytest.mark.parametrize("bad", INVALID, ids=lambda v: repr(v)[:30])
def test_invalid_quantities_are_reported_not_crashed_on(bad: object) -> None:
    with pytest.raises(QuantityError) as raised:
        parse_quantity(bad)  # type: ignore[arg-type]
    assert quantity_or_none(bad) is None
    assert len(str(raised.value)) < 200, "messages quote a bounded part of the value"


def test_numbers_from_yaml_are_quantities() -> None:
    assert parse_quantity(2) == 2
    assert parse_quantity(0.5) == Decimal("0.5")
    assert parse_quantity(0.1) == Decimal("0.1")
    assert parse_quantity(1e-12) == Decimal("1e-9")


def test_other_types_are_not_quantities() -> None:
    values: tuple[object, ...] = (None, [], {}, b"1")
    for value in values:
        assert quantity_or_none(value) is None
    with pytest.raises(QuantityError, match="list"):
        parse_quantity([])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (" 1", "spaces"),
        ("", "empty"),
        ("1 core", "unknown unit 'core'"),
        ("2KiB", "unknown unit 'KiB'"),
        ("1e99999999999", "exponent out of range"),
        ("1e25", "out of range"),
    ],
)
def test_messages_say_why(text: str, reason: str) -> None:
    with pytest.raises(QuantityError, match=reason):
        parse_quantity(text)


def test_arithmetic_on_parsed_values_is_exact() -> None:
    total = sum((parse_quantity(q) for q in ("100m", "200m", "0.7")), Decimal(0))
    assert total == 1
    assert parse_quantity("1Gi") / parse_quantity("512Mi") == 2
    assert parse_quantity("1e3") == parse_quantity("1k")
    assert parse_quantity("1000m") == parse_quantity("1")


@pytest.mark.parametrize(
    ("resource", "text", "shown"),
    [
        ("cpu", "250m", "250m"),
        ("cpu", "12345678n", "12m"),
        ("cpu", "500n", "0.0005m"),
        ("cpu", "0", "0"),
        ("cpu", "1", "1"),
        ("cpu", "1500m", "1.5"),
        ("cpu", "3920m", "3.92"),
        ("memory", "512Mi", "512Mi"),
        ("memory", "1536Mi", "1.5Gi"),
        ("memory", "1e3", "1000"),
        ("memory", "2345Ki", "2.3Mi"),
        ("memory", "64Gi", "64Gi"),
        ("ephemeral-storage", "1Ti", "1Ti"),
        ("pods", "110", "110"),
        ("requests.nvidia.com/gpu", "2", "2"),
    ],
)
def test_format_amount(resource: str, text: str, shown: str) -> None:
    assert format_amount(resource, parse_quantity(text)) == shown


def test_format_never_uses_scientific_notation() -> None:
    assert format_cpu(Decimal("1E+3")) == "1000"
    assert format_bytes(Decimal("1E+2")) == "100"

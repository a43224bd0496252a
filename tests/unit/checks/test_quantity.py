"""Kubernetes quantity parsing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from assay.server.checks.kit.quantity import QuantityError, parse_quantity, quantity_or_none


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", "1"),
        ("250m", "0.25"),
        ("0.5", "0.5"),
        (".5", "0.5"),
        ("100n", "0.0000001"),
        ("5u", "0.000005"),
        ("2k", "2000"),
        ("3M", "3000000"),
        ("1G", "1000000000"),
        ("1T", "1e12"),
        ("1P", "1e15"),
        ("1E", "1e18"),
        ("1Ki", "1024"),
        ("128Mi", str(128 * 2**20)),
        ("1.5Gi", str(3 * 2**29)),
        ("2Ti", str(2 * 2**40)),
        ("1Pi", str(2**50)),
        ("1Ei", str(2**60)),
        ("1e3", "1000"),
        ("1E3", "1000"),
        ("12e-3", "0.012"),
        ("+1", "1"),
        (" 64Mi ", str(64 * 2**20)),
    ],
)
def test_parse_quantity(text: str, value: str) -> None:
    assert parse_quantity(text) == Decimal(value)


def test_numbers_from_yaml_are_quantities() -> None:
    assert parse_quantity(2) == 2
    assert parse_quantity(0.5) == Decimal("0.5")


@pytest.mark.parametrize("bad", ["", "Mi", "1mi", "1KiB", "one", "1.2.3", "1e", "--1", True])
def test_malformed_quantities_are_rejected(bad: object) -> None:
    with pytest.raises(QuantityError):
        parse_quantity(bad)  # type: ignore[arg-type]
    assert quantity_or_none(bad) is None


def test_absent_quantity_is_none() -> None:
    assert quantity_or_none(None) is None

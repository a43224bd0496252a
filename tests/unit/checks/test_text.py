"""Quoting outside values in result messages (kit.text.shown)."""

from __future__ import annotations

from assay.server.checks.kit.text import shown


def test_strings_are_quoted_with_control_characters_escaped() -> None:
    assert shown("nginx:latest") == "'nginx:latest'"
    assert shown("a\x00b\nc") == "'a\\x00b\\nc'"


def test_long_values_are_cut_to_the_limit() -> None:
    text = shown("x" * 10_000, 20)
    assert len(text) == 20 and text.endswith("...")
    assert shown(12345) == "12345"

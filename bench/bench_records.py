"""Micro-benchmark: what building one 15-field record costs, by how the record is made.

Usage::

    .venv/bin/python bench/bench_records.py [--number 200000] [--json]

Each variant has :class:`~assay.server.core.types.AssessmentResult`'s fields and defaults;
the figure is the best of 7 timings of ``number`` positional constructions, in µs per record:

- ``frozen_dataclass``: ``@dataclass(frozen=True, slots=True)`` as generated (an
  ``object.__setattr__`` call per field);
- ``slot_set_init``: the same class with an ``__init__`` calling each slot descriptor's
  bound ``__set__``;
- ``fast_record``: the frozen dataclass under :func:`~assay.server.core.records.fast_record`
  (what the server uses), and ``result``: ``AssessmentResult`` itself, which should match it;
- ``open_dataclass`` and ``namedtuple``: the floor, neither of which is a frozen record
  (the first is mutable, the second equals any tuple of the same values).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import timeit
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from assay.server.core.records import fast_record
from assay.server.core.types import (
    AssessmentResult,
    ObjectRef,
    Pillar,
    ResultId,
    RunId,
    Severity,
    Status,
)

FIELDS = dataclasses.fields(AssessmentResult)


def _variant(*, frozen: bool) -> type[Any]:
    namespace: dict[str, Any] = {"__annotations__": {f.name: f.type for f in FIELDS}}
    namespace |= {f.name: f.default for f in FIELDS if f.default is not dataclasses.MISSING}
    made: type[Any] = dataclasses.dataclass(frozen=frozen, slots=True)(
        type("Variant", (), namespace)
    )
    return made


def _slot_set_init() -> type[Any]:
    cls = _variant(frozen=True)
    setters = {f"_set_{f.name}": getattr(cls, f.name).__set__ for f in FIELDS}
    params = ", ".join(
        f.name if f.default is dataclasses.MISSING else f"{f.name}=_default_{f.name}"
        for f in FIELDS
    )
    defaults = {f"_default_{f.name}": f.default for f in FIELDS}
    body = "".join(f"    _set_{f.name}(self, {f.name})\n" for f in FIELDS)
    namespace: dict[str, Any] = {**setters, **defaults}
    exec(f"def __init__(self, {params}):\n{body}", namespace)
    cls.__init__ = namespace["__init__"]
    return cls


ResultTuple = NamedTuple(  # type: ignore[misc]  # built from the fields, as a benchmark
    "ResultTuple", [(f.name, Any) for f in FIELDS]
)


def variants() -> dict[str, Callable[..., Any]]:
    return {
        "frozen_dataclass": _variant(frozen=True),
        "slot_set_init": _slot_set_init(),
        "fast_record": fast_record(_variant(frozen=True)),
        "result": AssessmentResult,
        "open_dataclass": _variant(frozen=False),
        "namedtuple": ResultTuple,
    }


def measure(number: int) -> dict[str, float]:
    args = (
        ResultId("asm_20261127_000000_sec001_000001"),
        RunId("run_20261127T000000_000000_00000000"),
        Pillar.SECURITY,
        "SEC-001",
        "Privileged containers",
        Status.PASSING,
        Severity.HIGH,
        ObjectRef("Deployment", "web", "shop"),
        "app",
        "not privileged",
        "Drop privileged.",
        datetime(2026, 11, 27, tzinfo=UTC),
        12,
        False,
        None,
    )
    figures = {}
    for name, make in variants().items():
        best = min(timeit.repeat(functools.partial(make, *args), number=number, repeat=7))
        figures[name] = round(best / number * 1e6, 3)
    return figures


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=200_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    figures = measure(args.number)
    for name, us in figures.items():
        print(f"{name:18s} {us:6.3f} µs")
    if args.json:
        print(json.dumps({"us_per_record": figures}))


if __name__ == "__main__":
    main()

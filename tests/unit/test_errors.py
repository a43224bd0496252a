"""Domain errors survive pickling (the results writer process sends them back) with their
type, message and fields, whatever their ``__init__`` takes."""

from __future__ import annotations

import pickle

import pytest

from assay.server.core.errors import (
    AssayError,
    FieldViolation,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    Unavailable,
)


@pytest.mark.parametrize(
    "error",
    [
        InvalidArgument([FieldViolation("limit", "too big"), FieldViolation("name", "empty")]),
        NotFound("run", "run-1", message="gone"),
        ResourceExhausted("upload too large", retry_after_s=2.5),
        Unavailable("storage unavailable: database is locked"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_a_domain_error_pickles_with_its_fields(error: AssayError) -> None:
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is type(error)
    assert str(again) == str(error) and again.args == error.args
    assert vars(again) == vars(error)

"""Hostile requests at the gRPC edge, on SQLite and PostgreSQL: every RPC, every string.

The RPCs and their string fields come from the descriptors (tests/faults/rpcs.py), so a new
RPC or field is covered without touching this file. Whatever is sent, the answer is a
status that tells the truth: INVALID_ARGUMENT naming the field for a NUL or malformed
bytes, never UNKNOWN or INTERNAL, never a message that echoes a huge value.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import grpc
import pytest
from sqlalchemy import URL, text

from assay.client.api import AssayClient
from assay.server.core.errors import InvalidArgument, Unavailable
from assay.server.storage.engine import create_engine_from_url, storage_errors
from assay.v1 import assessment_pb2 as apb
from tests.faults.rpcs import (
    ASSAY_METHODS,
    METHODS,
    Answer,
    Method,
    call,
    string_paths,
    with_string,
)
from tests.integration.api.server_fixtures import ServerThread

NEVER = {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL, grpc.StatusCode.RESOURCE_EXHAUSTED}


@pytest.fixture
def channel(assay_server: ServerThread) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(assay_server.target) as opened:
        yield opened


def _field_named(answer: Answer, path: str) -> bool:
    """The violation names the field: ``labels{}`` is ``labels[...]``, ``x[]`` is ``x[0]``."""
    stem = path.replace("{}", "[").replace("[]", "[0]")
    return any(field.startswith(stem) for field, _ in answer.violations)


def test_nul_in_any_string_field_of_any_rpc_is_invalid_argument_naming_it(
    channel: grpc.Channel,
) -> None:
    checked = 0
    for method in METHODS:
        for path in string_paths(method.request_descriptor):
            request = with_string(method.request_type, path, "run\x00; DROP TABLE runs")
            answer = call(channel, method, request.SerializeToString())
            assert answer.code is grpc.StatusCode.INVALID_ARGUMENT, (method, path, answer)
            assert _field_named(answer, path), (method, path, answer.violations)
            assert "NUL" in answer.message
            checked += 1
    assert checked > 40  # every string of every request, nested ones included


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"\x0a\xff\xff\xff\x0f", id="truncated-length"),
        pytest.param(b"\x0a\x02\xff\xfe", id="invalid-utf8"),
        pytest.param(b"\xff" * 64, id="garbage"),
        pytest.param(b"\x08", id="truncated-varint"),
    ],
)
def test_malformed_bytes_on_every_rpc_are_invalid_argument(
    channel: grpc.Channel, body: bytes
) -> None:
    for method in METHODS:
        answer = call(channel, method, body)
        if answer.code is grpc.StatusCode.OK:  # bytes that happen to parse (unknown fields)
            continue
        assert answer.code not in NEVER, (method, answer)
        if method.request_descriptor.fields_by_number.get(1) is not None or body[0] == 0xFF:
            assert answer.code is grpc.StatusCode.INVALID_ARGUMENT, (method, answer)
            assert "not a valid" in answer.message


def test_a_3000_character_value_in_any_field_gets_a_short_answer(channel: grpc.Channel) -> None:
    long = "r" * 3000
    for method in ASSAY_METHODS:
        for path in string_paths(method.request_descriptor):
            request = with_string(method.request_type, path, long)
            answer = call(channel, method, request.SerializeToString())
            assert answer.code not in NEVER, (method, path, answer.code, answer.message[:200])
            assert len(answer.message) <= 1000, (method, path)
            assert long not in answer.message
            assert answer.trailer_bytes < 4096, (method, path)


@pytest.mark.parametrize(
    ("method_name", "path"),
    [
        ("GetRun", "run_id"),
        ("CancelRun", "run_id"),
        ("WatchRun", "run_id"),
        ("GetAssessment", "id"),
        ("ListAssessments", "query.run_id"),
        ("ListAssessments", "query.cluster_id"),
        ("GetHistory", "cluster_id"),
        ("Get", "name"),
        ("Get", "namespace"),
        ("ListAuditEvents", "execution_name"),
    ],
)
def test_long_ids_and_names_are_invalid_argument_at_the_edge(
    channel: grpc.Channel, method_name: str, path: str
) -> None:
    method = _method(method_name)
    for length in (254, 3000, 10_000):
        request = with_string(method.request_type, path, "a" * length)
        answer = call(channel, method, request.SerializeToString())
        assert answer.code is grpc.StatusCode.INVALID_ARGUMENT, (method, path, answer)
        assert _field_named(answer, path)
        assert len(answer.message) < 300


def test_an_oversized_string_is_refused_before_any_servicer_reads_it(
    channel: grpc.Channel,
) -> None:
    method = _method("StartRun")
    request = with_string(method.request_type, "check_id", "c" * (64 * 1024 + 1))
    answer = call(channel, method, request.SerializeToString())
    assert answer.code is grpc.StatusCode.INVALID_ARGUMENT
    assert answer.violations == (("check_id", "is longer than 65536 characters"),)


def _method(name: str) -> Method:
    return next(m for m in ASSAY_METHODS if m.descriptor.name == name)


# -- storage errors, mapped once ---------------------------------------------------------------


def _engine_error(url: str, sql: str, *, timeout_s: float = 30) -> Exception:
    engine = create_engine_from_url(url, statement_timeout_s=timeout_s)
    try:
        with (
            pytest.raises((InvalidArgument, Unavailable)) as caught,
            storage_errors(),
            engine.connect() as connection,
        ):
            connection.execute(text(sql), {"value": "a\x00b"})
        return caught.value
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_nul_reaching_postgresql_is_invalid_argument_without_sql(
    postgres_test_database: URL,
) -> None:
    url = postgres_test_database.render_as_string(hide_password=False)
    error = _engine_error(url, "SELECT CAST(:value AS text) AS secret_column")
    assert isinstance(error, InvalidArgument)
    assert "NUL" in str(error)
    for leaked in ("SELECT", "secret_column", "127.0.0.1", "5432", "postgres"):
        assert leaked not in str(error).replace("PostgreSQL", "")


@pytest.mark.postgres
def test_a_statement_past_the_timeout_is_unavailable_without_sql(
    postgres_test_database: URL,
) -> None:
    url = postgres_test_database.render_as_string(hide_password=False)
    error = _engine_error(url, "SELECT pg_sleep(5) AS secret_column", timeout_s=0.2)
    assert isinstance(error, Unavailable)
    assert str(error) == "database unavailable: it did not answer in time"


# -- hostile objects in a run ------------------------------------------------------------------


def _pod(name: str, *containers: tuple[str, str]) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {"containers": [{"name": c, "image": image} for c, image in containers]},
    }


HOSTILE_PODS = "\n---\n".join(
    json.dumps(item)
    for item in [
        _pod("nul\u0000name", ("app", "x")),
        _pod("n" * 300, ("app", "x")),
        _pod("hostile-fields", ("c" * 300, "img:latest" + "i" * 5000), ("o" * 64, "nginx")),
        _pod("fine", ("app", "nginx:1.27")),
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "nul-data", "namespace": "shop"},
            "data": {"key": "a\u0000b"},
        },
    ]
)


@pytest.mark.timeout(120)
def test_hostile_objects_never_fail_a_run_nor_show_sql(client: AssayClient) -> None:
    """A NUL or an over-long string in any field of an object that reaches the results
    (name, container, image in a message): diagnostics or stored results, the run goes on,
    on PostgreSQL as on SQLite."""
    run = client.start_manifest_run(apb.StartRunRequest(), [("pods.yaml", [HOSTILE_PODS.encode()])])
    for event in client.watch_run(run.run_id):
        del event
    finished = client.get_run(run.run_id)
    assert finished.state in (apb.RUN_PHASE_COMPLETED, apb.RUN_PHASE_PARTIAL), finished.error
    text = f"{finished.error} {list(finished.diagnostics)}"
    for leaked in ("INSERT", "COPY", "SELECT", "psycopg", "Traceback"):
        assert leaked not in text
    assert sum("NUL" in d for d in finished.diagnostics) == 2  # skipped, and said so
    assert any("n" * 60 in d for d in finished.diagnostics)  # the long name: shortened
    names = {
        r.object.name
        for r in client.list_assessments(
            apb.ListAssessmentsRequest(query=apb.AssessmentQuery(run_id=run.run_id))
        ).results
    }
    assert {"hostile-fields", "fine"} <= names
